"""POST /api/v1/svo/score: scoring choices over the API, and clear 400s for bad input."""

from __future__ import annotations

import pytest

from evaluation import svo

URL = "/api/v1/svo/score"


def test_scores_primary_choices(api_client) -> None:
    response = api_client.post(URL, {"primary": [1, 9, 1, 1, 9, 9]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["angle"] == pytest.approx(61.39, abs=0.005)
    assert body["category"] == "altruistic"
    assert body["transitive"] is True
    assert body["definitions_version"] == svo.DEFINITIONS_VERSION
    assert "value_rationality" not in body


def test_scores_value_and_secondary(api_client) -> None:
    choices = svo.ideal_choices("prosocial", svo.ALL_ITEMS)
    response = api_client.post(
        URL, {"primary": choices[:6], "secondary": choices[6:], "value": "prosocial"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["value_rationality"] == 1.0
    assert body["category_hit"] is True
    assert body["target_angle"] == pytest.approx(45.0)
    assert set(body["secondary_distances"]) == {
        "inequality_aversion",
        "joint_gain",
        "individualist",
        "altruist",
    }


def test_scores_under_the_named_definitions_and_says_which(api_client) -> None:
    textbook = {"primary": [1, 9, 9, 1, 5, 9], "value": "prosocial"}
    current = api_client.post(URL, textbook, format="json").json()
    assert current["definitions_version"] == "hvae-svo/2"
    assert current["value_rationality"] == 1.0
    v1 = api_client.post(URL, {**textbook, "definitions": "hvae-svo/1"}, format="json").json()
    assert v1["definitions_version"] == "hvae-svo/1"
    assert v1["value_rationality"] == pytest.approx(5 / 6)
    assert v1["angle"] == current["angle"] == 45.0


def test_accepts_allocation_pairs(api_client) -> None:
    pairs = [list(item.allocation(1)) for item in svo.PRIMARY_ITEMS]
    response = api_client.post(URL, {"primary": pairs}, format="json")
    assert response.status_code == 200
    assert response.json()["mean_self"] == pytest.approx(svo.score_primary([1] * 6).mean_self)


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({}, "primary", "required"),
        ({"primary": [1, 2, 3]}, "primary", "Expected 6 choices"),
        ({"primary": [1, 2, 3, 4, 5, 10]}, "primary", "item 6"),
        ({"primary": [1, 2, 3, 4, 5, [1, 1]]}, "primary", "item 6"),
        ({"primary": "abcdef"}, "primary", "list"),
        ({"primary": [1, 2, 3, 4, 5, "x"]}, "primary", "option number"),
        ({"primary": [1] * 6, "secondary": [1] * 3}, "secondary", "Expected 9 choices"),
        ({"primary": [1] * 6, "value": "saintly"}, "value", "not a valid choice"),
        ({"primary": [1] * 6, "definitions": "hvae-svo/9"}, "definitions", "not a valid choice"),
    ],
)
def test_bad_input_gets_400_with_field_errors(api_client, payload, field, fragment) -> None:
    response = api_client.post(URL, payload, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors
    assert fragment in str(errors[field])


def test_malformed_json_is_400(api_client) -> None:
    response = api_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_anonymous_requests_are_refused(anonymous_client) -> None:
    response = anonymous_client.post(URL, {"primary": [1] * 6}, format="json")
    assert response.status_code in (401, 403)


def test_health_is_public(anonymous_client, db) -> None:
    response = anonymous_client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_schema_lists_the_score_endpoint(api_client) -> None:
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/svo/score" in response.json()["paths"]
