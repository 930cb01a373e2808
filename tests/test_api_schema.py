"""The OpenAPI schema is complete and valid, and every API endpoint needs a login."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver


def test_schema_validates_without_warnings(tmp_path) -> None:
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path), stderr=StringIO())
    schema = yaml.safe_load(path.read_text())
    assert {"/api/v1/svo/score", "/api/v1/runs", "/api/v1/stats/agreement"} <= set(schema["paths"])


def api_paths() -> list[str]:
    resolver = get_resolver()
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))

    walk(resolver.url_patterns, "/")
    return [
        p.replace("<int:pk>", "1")
        for p in found
        if p.startswith("/api/v1/") and not p.startswith(("/api/v1/schema", "/api/v1/docs", "/api/v1/redoc"))
    ]


@pytest.mark.parametrize("path", api_paths())
def test_anonymous_requests_are_refused(anonymous_client, db, path: str) -> None:
    for method in ("get", "post"):
        response = getattr(anonymous_client, method)(path)
        assert response.status_code in {401, 403, 405}, (method, path, response.status_code)
    assert anonymous_client.get(path).status_code in {401, 403} or anonymous_client.post(
        path
    ).status_code in {
        401,
        403,
    }


def test_health_is_public(anonymous_client, db) -> None:
    response = anonymous_client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
