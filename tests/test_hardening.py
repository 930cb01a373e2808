"""The security review's findings (issue 10): secrets, server-side request forgery, limits, bad input, CSV
injection and deployment. Each test fails on the code before the fix."""

from __future__ import annotations

import csv
import io
import os
import secrets
import subprocess
import sys
from io import StringIO
from typing import Any

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from evaluation import services
from evaluation.models import EvaluationRun, ModelEndpoint, Study, Trial
from hvae_site import outbound
from hvae_site.spreadsheet import csv_safe_cell
from stats.views import table_csv
from tests.processes import ROOT, manage
from tests.stats.builders import build_study
from tests.test_outbound import CountingServer

KEY_REFUSED = f"api_key_env: {outbound.KEY_ENV_REFUSED}"


@pytest.fixture
def counting_server() -> Any:
    server = CountingServer()
    yield server
    server.close()


def run_payload(study: Study, endpoint: ModelEndpoint, **overrides: Any) -> dict[str, Any]:
    return {
        "study": study.pk,
        "endpoint": endpoint.pk,
        "model": "ref-faithful",
        "value": "prosocial",
        "n_trials": 2,
        **overrides,
    }


def run_cli(*args: str) -> str:
    out = StringIO()
    call_command("run_evaluation", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- 1. Secrets stay in ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["DJANGO_SECRET_KEY", "LABEL_STUDIO_WEBHOOK_SECRET", "DATABASE_URL", "HVAE_LLM_KEY_UNSET", "PATH"]
)
def test_an_endpoint_cannot_name_a_service_secret_or_an_unset_variable(
    api_client: Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "the-signing-key")
    monkeypatch.setenv("LABEL_STUDIO_WEBHOOK_SECRET", "the-webhook-secret")
    monkeypatch.delenv("HVAE_LLM_KEY_UNSET", raising=False)
    response = api_client.post(
        "/api/v1/endpoints",
        {"name": "attacker", "base_url": "https://attacker.test/v1", "api_key_env": name},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"api_key_env": [outbound.KEY_ENV_REFUSED]}
    assert not ModelEndpoint.objects.exists()


def test_an_old_endpoint_naming_a_secret_never_sends_it(
    api_client: Any,
    user: Any,
    study: Study,
    counting_server: CountingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "the-signing-key")
    endpoint = ModelEndpoint.objects.create(
        name="old", base_url=counting_server.url, api_key_env="DJANGO_SECRET_KEY", owner=user
    )
    response = api_client.post("/api/v1/runs", run_payload(study, endpoint), format="json")
    assert response.status_code == 400
    assert response.json() == {"endpoint": [KEY_REFUSED]}
    assert counting_server.connections == 0
    assert not EvaluationRun.objects.exists()


def test_cli_refuses_a_secret_as_key_variable_and_saves_nothing(
    db: None, counting_server: CountingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "the-signing-key")
    with pytest.raises(CommandError) as error:
        run_cli(
            "--study",
            "s",
            "--endpoint-url",
            counting_server.url,
            "--models",
            "m",
            "--api-key-env",
            "DJANGO_SECRET_KEY",
        )
    assert error.value.returncode == 2
    assert outbound.KEY_ENV_REFUSED in str(error.value)
    assert "DJANGO_SECRET_KEY" not in str(error.value)
    assert counting_server.authorizations == []
    assert not ModelEndpoint.objects.exists()
    assert not Study.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_key_variable_saves_nothing_and_the_url_stays_usable(
    reference_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HVAE_LLM_KEY_MISSING", raising=False)
    base = ["--study", "keys", "--endpoint-url", reference_server, "--models", "ref-faithful"]
    with pytest.raises(CommandError) as error:
        run_cli(*base, "--api-key-env", "HVAE_LLM_KEY_MISSING")
    assert error.value.returncode == 2
    assert not ModelEndpoint.objects.exists()
    run_cli(*base, "--values", "prosocial", "--trials", "1")
    assert Trial.objects.filter(status=Trial.Status.SCORED).count() == 1


# --- 3. Server-side request forgery ------------------------------------------------------------------------------


def test_an_endpoint_on_an_internal_address_is_refused_like_an_unreachable_one(
    api_client: Any, user: Any, study: Study, counting_server: CountingServer, settings: Any
) -> None:
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.2"]
    internal = ModelEndpoint.objects.create(name="internal", base_url=counting_server.url, owner=user)
    with socket_closed_port() as port:
        unreachable = ModelEndpoint.objects.create(
            name="gone", base_url=f"http://127.0.0.2:{port}/v1", owner=user
        )
        answers = [
            api_client.post("/api/v1/runs", run_payload(study, endpoint), format="json")
            for endpoint in (internal, unreachable)
        ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json()["endpoint"][0].replace(counting_server.url, "URL") == answers[1].json()[
        "endpoint"
    ][0].replace(unreachable.base_url, "URL")
    assert counting_server.connections == 0
    assert not EvaluationRun.objects.exists()


class socket_closed_port:  # noqa: N801 (a context manager used like a function)
    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("url", ["ftp://llm.test/v1", "file:///etc/passwd", "http://[::1/v1", "gopher://x"])
def test_endpoint_urls_must_be_http(api_client: Any, url: str) -> None:
    response = api_client.post("/api/v1/endpoints", {"name": "e", "base_url": url}, format="json")
    assert response.status_code == 400
    assert "base_url" in response.json()
    assert not ModelEndpoint.objects.exists()


# --- 5. Limits -----------------------------------------------------------------------------------------------


def test_runs_above_the_per_run_limit_are_refused(
    api_client: Any, study: Study, reference_endpoint: Any
) -> None:
    response = api_client.post(
        "/api/v1/runs", run_payload(study, reference_endpoint, n_trials=1001), format="json"
    )
    assert response.status_code == 400
    assert "n_trials" in response.json()
    assert not EvaluationRun.objects.exists()


def test_without_a_broker_the_web_process_refuses_large_runs(
    api_client: Any, study: Study, reference_endpoint: Any, settings: Any
) -> None:
    settings.CELERY_BROKER_URL = ""
    response = api_client.post(
        "/api/v1/runs", run_payload(study, reference_endpoint, n_trials=51), format="json"
    )
    assert response.status_code == 400
    message = response.json()["n_trials"][0]
    assert "run_evaluation" in message
    assert "CELERY_BROKER_URL" in message
    assert not EvaluationRun.objects.exists()


def test_a_study_has_a_trial_quota(db: None, study: Study, reference_endpoint: Any, settings: Any) -> None:
    settings.HVAE_MAX_TRIALS_PER_STUDY = 5
    design = services.RunDesign(model="ref-faithful", value="prosocial", n_trials=3)
    services.evaluation_run_create(study=study, endpoint=reference_endpoint, design=design)
    from hvae_site.api import DomainError

    with pytest.raises(DomainError, match="quota of 5"):
        services.evaluation_run_create(
            study=study,
            endpoint=reference_endpoint,
            design=services.RunDesign(model="m", value="prosocial", n_trials=3),
        )
    assert Trial.objects.count() == 3


def test_the_cli_refuses_runs_above_the_per_run_limit(db: None, reference_server: str) -> None:
    with pytest.raises(CommandError, match="HVAE_MAX_TRIALS_PER_RUN") as error:
        run_cli(
            "--study",
            "big",
            "--endpoint-url",
            reference_server,
            "--models",
            "ref-faithful",
            "--trials",
            "5000",
        )
    assert error.value.returncode == 2
    assert not EvaluationRun.objects.exists()


def throttled(settings: Any, scope: str, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scope: rate},
    }


def test_run_creation_is_throttled_and_listing_is_not(api_client: Any, settings: Any) -> None:
    throttled(settings, "run-create", "2/hour")
    codes = [api_client.post("/api/v1/runs", {}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert api_client.get("/api/v1/runs").status_code == 200


def test_the_statistics_calculator_is_throttled(api_client: Any, settings: Any) -> None:
    throttled(settings, "stats-calculator", "1/hour")
    body = {"ratings": [{"unit": "u", "rater": "r", "label": "a"}], "n_boot": 100}
    first = api_client.post("/api/v1/stats/agreement", body, format="json")
    second = api_client.post("/api/v1/stats/agreement", body, format="json")
    assert first.status_code == 200
    assert second.status_code == 429


# --- 7. Bad input: 400 or exit code 2, never a 500 or a traceback ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"seed": 10**20}, "seed"), ({"seed": -(2**63) - 1}, "seed"), ({"n_trials": 10**20}, "n_trials")],
)
def test_run_numbers_beyond_64_bits_are_400(
    api_client: Any, study: Study, reference_endpoint: Any, overrides: dict[str, Any], field: str
) -> None:
    response = api_client.post(
        "/api/v1/runs", run_payload(study, reference_endpoint, **overrides), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not EvaluationRun.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"seed": 10**20}, "seed"),
        ({"tasks_per_rater": 10**20}, "tasks_per_rater"),
        ({"tasks_per_rater": 0}, "tasks_per_rater"),
        ({"size": 10**20}, "size"),
        ({"overlap": 10**10}, "overlap"),
    ],
)
def test_batch_numbers_out_of_bounds_are_400(
    api_client: Any, study: Study, overrides: dict[str, Any], field: str
) -> None:
    response = api_client.post("/api/v1/batches", {"study": study.pk, "size": 3, **overrides}, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 10**20}, "max_concurrency"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": "nan"}, "timeout_seconds"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"name": "n" * 201}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"base_url": "https://llm.test/" + "v" * 500}, "base_url"),
        ({"api_key_env": "NOT-A-NAME"}, "api_key_env"),
    ],
)
def test_endpoint_settings_out_of_bounds_are_400(
    api_client: Any, overrides: dict[str, Any], field: str
) -> None:
    body = {"name": "e", "base_url": "https://llm.test/v1", **overrides}
    response = api_client.post("/api/v1/endpoints", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ModelEndpoint.objects.exists()


def test_a_duplicate_endpoint_name_is_400(api_client: Any) -> None:
    body = {"name": "e", "base_url": "https://llm.test/v1"}
    assert api_client.post("/api/v1/endpoints", body, format="json").status_code == 201
    again = api_client.post("/api/v1/endpoints", body, format="json")
    assert again.status_code == 400
    assert "name" in again.json()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "1e23"], "--seed"),
        (["--seed", str(10**23)], "--seed"),
        (["--temperature", "nan"], "--temperature"),
        (["--top-p", "inf"], "--top-p"),
        (["--max-tokens", str(10**12)], "--max-tokens"),
        (["--concurrency", "0"], "--concurrency"),
        (["--models", "m" * 201], "--models"),
        (["--api-key-env", "A-B"], "--api-key-env"),
    ],
)
def test_cli_bad_numbers_and_names_exit_2_with_a_message(
    db: None, reference_server: str, args: list[str], message: str
) -> None:
    base = ["--study", "cli", "--endpoint-url", reference_server, "--models", "ref-faithful"]
    with pytest.raises(CommandError, match=message) as error:
        run_cli(*base, *args)
    assert error.value.returncode == 2
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    ("study", "url"),
    [(" ", None), ("s" * 201, None), ("a\x00b", None), ("ok", "http://[::1/v1"), ("ok", "ftp://x/v1")],
)
def test_cli_bad_study_or_url_exits_2_with_a_message(
    db: None, reference_server: str, study: str, url: str
) -> None:
    with pytest.raises(CommandError) as error:
        run_cli("--study", study, "--endpoint-url", url or reference_server, "--models", "ref-faithful")
    assert error.value.returncode == 2
    assert not Study.objects.exists()
    assert not ModelEndpoint.objects.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--seed", "1e23"],
        ["--seed", str(10**23)],
        ["--study", " "],
        ["--endpoint-url", "http://[::1/v1"],
        ["--study", "s" * 300],
    ],
)
def test_cli_process_never_prints_a_traceback(
    transactional_db: None, reference_server: str, args: list[str]
) -> None:
    options = {"--study": "x", "--endpoint-url": reference_server, "--models": "ref-faithful"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        options[flag] = value
    process = manage("run_evaluation", *[part for pair in options.items() for part in pair])
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    assert stderr.strip()


def test_annotation_commands_bound_their_arguments(db: None, study: Study) -> None:
    for command, args in [
        ("annotation_push", ["--study", study.name, "--size", "3", "--seed", str(10**20)]),
        ("annotation_push", ["--study", study.name, "--size", "3", "--quota", "0"]),
        ("annotation_push", ["--study", study.name, "--size", str(10**20)]),
        ("annotation_sync", ["--study", "a\x00b"]),
        ("study_report", ["--study", " ", "--out", "x.html"]),
    ]:
        with pytest.raises(CommandError) as error:
            call_command(command, *args, stdout=StringIO(), stderr=StringIO())
        assert error.value.returncode == 2, (command, args)


# --- 6/8. Exports ---------------------------------------------------------------------------------------------------


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    frame = pd.DataFrame(
        {
            "model": ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "\tx", "plain"],
            "angle": [-12.5, 1.0, 2.0, 3.0, 4.0, 6.0],
            "comment": [None, "ok", "=1", "a=b", "", "-"],
        }
    )
    rows = list(csv.reader(io.StringIO(table_csv(frame))))
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "'\tx",
        "plain",
    ]
    assert rows[1][1] == "-12.5"
    assert [r[2] for r in rows[1:]] == ["", "ok", "'=1", "a=b", "", "'-"]
    assert csv_safe_cell("\rx") == "'\rx"
    assert csv_safe_cell(-12.5) == -12.5


def test_downloaded_csv_neutralises_model_names_and_keeps_numbers(user: Any) -> None:
    built = build_study(
        "csv injection", models=("=cmd|' /C calc'!A0", "ref-random"), values=("competitive",), owner=user
    )
    client = Client()
    client.force_login(user)
    response = client.get(f"/studies/{built.study.pk}/data/trials.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    models = {row["model"] for row in rows}
    assert "'=cmd|' /C calc'!A0" in models
    assert not any(model.startswith("=") for model in models)
    angles = [float(row["angle"]) for row in rows if row["angle"]]
    assert any(angle < 0 for angle in angles)
    as_json = client.get(f"/studies/{built.study.pk}/data/trials.json").json()
    assert "=cmd|' /C calc'!A0" in {row["model"] for row in as_json}


# --- 9. Deployment ------------------------------------------------------------------------------------------------


PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "hvae.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://hvae.example.org",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SESSION_COOKIE_SECURE": "true",
    "DJANGO_CSRF_COOKIE_SECURE": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
}


def check_deploy(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HVAE_"))}
    env = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "hvae_site.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        **extra,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_without_warnings() -> None:
    result = check_deploy(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_default_settings_warn_in_check_deploy() -> None:
    result = check_deploy({})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_schema_and_docs_need_authentication(anonymous_client: Any, api_client: Any, path: str) -> None:
    assert anonymous_client.get(path).status_code in {401, 403}
    assert api_client.get(path).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_old_endpoint_with_no_request_slot_still_completes_its_run(reference_server: str) -> None:
    from evaluation import runner

    endpoint = ModelEndpoint.objects.create(
        name="old", base_url=reference_server, max_concurrency=0, timeout_seconds=-5
    )
    study = services.study_get_or_create(name="old endpoint")
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=endpoint,
        design=services.RunDesign(model="ref-faithful", value="prosocial", n_trials=2),
    )
    runner.execute_runs([run.pk])
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.COMPLETED
    assert Trial.objects.filter(run=run, status=Trial.Status.SCORED).count() == 2
