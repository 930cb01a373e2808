from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from evaluation import services
from evaluation.models import ModelEndpoint, Study
from evaluation.reference_llm.server import ServerConfig, start_in_thread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def reference_server() -> Iterator[str]:
    """The reference agents over real HTTP on loopback, for the whole session."""
    server = start_in_thread(ServerConfig(host="127.0.0.1", port=0))
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def study(db) -> Study:
    return services.study_get_or_create(name="test study")


@pytest.fixture
def reference_endpoint(db, reference_server: str) -> ModelEndpoint:
    return services.endpoint_get_or_create(base_url=reference_server, max_concurrency=16)


def database_url_for_subprocess() -> str:
    """The URL of the test database this session created, for a service started in another process."""
    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    user = cfg["USER"] or ""
    host = cfg["HOST"] or "127.0.0.1"
    port = cfg["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{cfg['NAME']}"


def manage(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen[str]:
    """Start ``manage.py`` in another process against the test database."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hvae_site.settings",
        "DJANGO_SECRET_KEY": "subprocess-test-key",
        "DATABASE_URL": database_url_for_subprocess(),
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )
