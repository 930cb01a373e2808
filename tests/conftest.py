from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from evaluation import services
from evaluation.models import ModelEndpoint, Study
from evaluation.reference_llm.server import ServerConfig, start_in_thread


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: cached reports never leak from one test's data to another's."""
    cache.clear()
    yield
    cache.clear()


def make_researcher(username: str, **fields: Any) -> Any:
    """A researcher (in the ``researchers`` group), as ``manage.py create_researcher`` makes one."""
    user = get_user_model().objects.create_user(username=username, password="a-long-test-password", **fields)
    user.groups.add(services.researchers_group())
    return user


@pytest.fixture
def user(db):
    """The default signed-in user of the tests: a researcher who owns the ``study`` fixture."""
    return make_researcher("researcher")


@pytest.fixture
def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture(scope="session")
def reference_server() -> Iterator[str]:
    """The reference agents over real HTTP on loopback, for the whole session."""
    server = start_in_thread(ServerConfig(host="127.0.0.1", port=0))
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def study(db, user) -> Study:
    return services.study_get_or_create(name="test study", owner=user)


@pytest.fixture
def reference_endpoint(db, user, reference_server: str) -> ModelEndpoint:
    return services.endpoint_get_or_create(base_url=reference_server, max_concurrency=16, owner=user)
