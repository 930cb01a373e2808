"""Starting the service's own commands in other processes against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url_for_subprocess() -> str:
    """The URL of the test database this session created, for a service started in another process."""
    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    user = cfg["USER"] or ""
    host = cfg["HOST"] or "127.0.0.1"
    port = cfg["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{cfg['NAME']}"


def manage(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``manage.py`` in another process against the test database."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hvae_site.settings",
        "DJANGO_SECRET_KEY": "subprocess-test-key",
        "DATABASE_URL": database_url_for_subprocess(),
        "HVAE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.0/8,::1,localhost",  # the tests' servers listen on loopback
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
