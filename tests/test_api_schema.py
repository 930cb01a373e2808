"""The OpenAPI schema is complete and valid, and every API endpoint needs a login."""

from __future__ import annotations

import dataclasses
from io import StringIO
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from stats import report_model
from stats.agreement.estimate import Estimate
from stats.humans import HumansSection, Retest


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


def openapi_schema(tmp_path) -> dict[str, Any]:
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(path), stderr=StringIO())
    return dict(yaml.safe_load(path.read_text()))


def test_the_study_report_response_is_the_report_dataclass_with_its_fields(tmp_path) -> None:
    schema = openapi_schema(tmp_path)
    response = schema["paths"]["/api/v1/studies/{id}/report"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Report"}
    components = schema["components"]["schemas"]
    for cls in (
        report_model.Report,
        report_model.CellResult,
        report_model.Automated,
        report_model.Sensitivity,
        report_model.PositionBiasGroup,
        report_model.Methods,
        HumansSection,
        Retest,
        Estimate,
    ):
        names = [report_model.json_name(field) for field in dataclasses.fields(cls)]
        assert list(components[cls.__name__]["properties"]) == names, cls
        assert sorted(components[cls.__name__]["required"]) == sorted(names), cls
    cell = components["CellResult"]["properties"]
    assert cell["value_rationality"] == {"$ref": "#/components/schemas/Estimate"}
    assert cell["design"] == {"$ref": "#/components/schemas/Design"}
    assert cell["categories"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert cell["mean_angle"] == {"type": "number", "format": "double", "nullable": True}
    automated = components["Automated"]["properties"]
    assert automated["cells"] == {"type": "array", "items": {"$ref": "#/components/schemas/CellResult"}}
    assert components["Report"]["properties"]["sensitivity"] == {"$ref": "#/components/schemas/Sensitivity"}
    assert components["Retest"]["properties"]["ICC(A,1)"] == {"$ref": "#/components/schemas/Estimate"}


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` as a null alternative, refs into ``$defs``."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if "$ref" in converted:
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def report_validator(tmp_path) -> jsonschema.Draft202012Validator:
    """A validator of report JSON against the Report component of the served OpenAPI schema."""
    components = openapi_schema(tmp_path)["components"]["schemas"]
    schema = {"$ref": "#/$defs/Report", "$defs": _json_schema(components)}
    return jsonschema.Draft202012Validator(schema)
