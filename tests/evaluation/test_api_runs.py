"""Studies, endpoints, runs and trials over the REST API."""

from __future__ import annotations

import time

import pytest

from evaluation import services
from evaluation.models import EvaluationRun, LLMCall, ModelEndpoint, Trial


def run_payload(study_, endpoint, **overrides):
    return {
        "study": study_.pk,
        "endpoint": endpoint.pk,
        "model": "ref-faithful",
        "value": "prosocial",
        "n_trials": 2,
        **overrides,
    }


def test_create_and_list_studies(api_client) -> None:
    created = api_client.post("/api/v1/studies", {"name": "api study"}, format="json")
    assert created.status_code == 201
    listed = api_client.get("/api/v1/studies")
    assert [s["name"] for s in listed.json()["results"]] == ["api study"]


def test_endpoint_keeps_the_variable_name_never_a_key(api_client, monkeypatch) -> None:
    monkeypatch.setenv("HVAE_LLM_KEY_PROVIDER", "sk-provider-secret")
    response = api_client.post(
        "/api/v1/endpoints",
        {"name": "provider", "base_url": "https://llm.invalid/v1", "api_key_env": "HVAE_LLM_KEY_PROVIDER"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["api_key_env"] == "HVAE_LLM_KEY_PROVIDER"
    assert "sk-provider-secret" not in response.content.decode()
    assert "api_key" not in response.json()


@pytest.mark.django_db(transaction=True)
def test_create_starts_the_run_and_it_completes(api_client, study, reference_endpoint) -> None:
    response = api_client.post("/api/v1/runs", run_payload(study, reference_endpoint), format="json")
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while EvaluationRun.objects.get(pk=run_id).status != EvaluationRun.Status.COMPLETED:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    detail = api_client.get(f"/api/v1/runs/{run_id}").json()
    assert detail["progress"]["scored"] == 2
    trials = api_client.get("/api/v1/trials", {"run": run_id}).json()["results"]
    assert len(trials) == 2
    trial = api_client.get(f"/api/v1/trials/{trials[0]['id']}").json()
    assert len(trial["responses"]) == 6
    assert trial["transcript"][0]["role"] == "system"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"value": "selfless"}, "value"),
        ({"n_trials": 0}, "n_trials"),
        ({"strategy": "clever"}, "strategy"),
        ({"model": "no-such-model"}, "model"),
        ({"temperature": 5}, "temperature"),
        ({"temperature": "warm"}, "temperature"),
        ({"study": 999999}, "study"),
        ({"on_unreadable": "guess"}, "on_unreadable"),
        ({"prompt_variant": "paper", "item_set": "all"}, "item_set"),
        ({"prompt_variant": "paper", "option_labels": "numbers"}, "option_labels"),
        ({"prompt_variant": "folklore"}, "prompt_variant"),
    ],
)
def test_bad_run_requests_get_400_and_no_call(
    api_client, study, reference_endpoint, overrides, field
) -> None:
    response = api_client.post(
        "/api/v1/runs", run_payload(study, reference_endpoint, **overrides), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not EvaluationRun.objects.exists()
    assert not LLMCall.objects.exists()


def test_missing_key_variable_is_400(api_client, user, study, reference_server, monkeypatch) -> None:
    monkeypatch.delenv("HVAE_LLM_KEY_NO_SUCH", raising=False)
    # Saved while the variable was set (saving refuses an unset one): the run is refused when it is not.
    endpoint = ModelEndpoint.objects.create(
        name="keyed", base_url=reference_server, api_key_env="HVAE_LLM_KEY_NO_SUCH", owner=user
    )
    response = api_client.post("/api/v1/runs", run_payload(study, endpoint), format="json")
    assert response.status_code == 400
    assert response.json()["endpoint"] == ["api_key_env: not an allowed key variable, or not set"]


def test_unreachable_endpoint_is_400(api_client, user, study) -> None:
    endpoint = services.endpoint_get_or_create(base_url="http://127.0.0.1:9/v1", owner=user)
    response = api_client.post("/api/v1/runs", run_payload(study, endpoint), format="json")
    assert response.status_code == 400
    assert "not reachable" in response.json()["endpoint"][0]


def test_cancel(api_client, study, reference_endpoint) -> None:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=reference_endpoint,
        design=services.RunDesign(model="ref-faithful", value="altruistic"),
    )
    services.evaluation_run_mark_started(run_ids=[run.pk])
    response = api_client.post(f"/api/v1/runs/{run.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = api_client.post(f"/api/v1/runs/{run.pk}/cancel")
    assert again.status_code == 400
    assert Trial.objects.filter(run=run, status=Trial.Status.PENDING).count() == run.n_trials


@pytest.mark.parametrize("url", ["/api/v1/studies", "/api/v1/runs", "/api/v1/trials", "/api/v1/endpoints"])
def test_anonymous_is_refused(anonymous_client, db, url) -> None:
    assert anonymous_client.get(url).status_code in (401, 403)


def test_schema_documents_the_evaluation_endpoints(api_client) -> None:
    paths = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert {"/api/v1/runs", "/api/v1/runs/{id}/cancel", "/api/v1/trials/{id}", "/api/v1/studies"} <= set(
        paths
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("overrides", "temperature"),
    [
        ({}, 1.0),
        ({"prompt_variant": "paper"}, None),
        ({"prompt_variant": "paper", "temperature": 0.3}, 0.3),
        ({"temperature": None}, None),
        ({"temperature": 0}, 0.0),
    ],
)
def test_temperature_defaults_by_variant(
    api_client, study, reference_endpoint, overrides, temperature
) -> None:
    response = api_client.post(
        "/api/v1/runs", run_payload(study, reference_endpoint, **overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["temperature"] == temperature
    assert body["on_unreadable"] == "reask"
    provenance = body["provenance"]
    assert set(provenance) == {"service_version", "packages", "definitions"}
    assert set(provenance["packages"]) == {"openai", "numpy", "scipy", "Django"}
    assert provenance["definitions"] == body["definitions_version"]
    assert provenance["service_version"]
    wait_until_completed(body["id"])


def wait_until_completed(run_id: int) -> None:
    """The run started in the background: let it finish inside the test that started it."""
    deadline = time.monotonic() + 60
    while EvaluationRun.objects.get(pk=run_id).status != EvaluationRun.Status.COMPLETED:
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_on_unreadable_is_accepted_and_reported(api_client, study, reference_endpoint) -> None:
    response = api_client.post(
        "/api/v1/runs", run_payload(study, reference_endpoint, on_unreadable="fail"), format="json"
    )
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]
    wait_until_completed(run_id)
    trial = api_client.get("/api/v1/trials", {"run": run_id}).json()["results"][0]
    detail = api_client.get(f"/api/v1/trials/{trial['id']}").json()
    assert all(r["reasked"] is False for r in detail["responses"])
