"""Tenancy: researchers see their own and shared studies only; viewers read, editors write; endpoints are their
creator's unless shared; users outside the researchers group get nothing from the API."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation import services as annotation_services
from evaluation import access
from evaluation.models import EvaluationRun, ModelEndpoint, Study, StudyMember, Trial
from tests.annotation.factories import make_design_study, make_endpoint
from tests.conftest import make_researcher


@pytest.fixture
def owned(user: User) -> Study:
    """A study with trials, owned by the default test user."""
    study = make_design_study("owned study")
    study.owner = user
    study.save(update_fields=["owner"])
    return study


@pytest.fixture
def other(db: None) -> User:
    researcher: User = make_researcher("other")
    return researcher


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_of(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def open_run(study: Study) -> EvaluationRun:
    return EvaluationRun.objects.create(
        study=study,
        endpoint=make_endpoint(),
        model="ref-faithful",
        value="prosocial",
        n_trials=1,
        status=EvaluationRun.Status.RUNNING,
    )


def test_a_researcher_cannot_list_read_export_or_cancel_another_researchers_study(
    owned: Study, other: User
) -> None:
    run = open_run(owned)
    trial = Trial.objects.filter(run__study=owned).first()
    assert trial is not None
    api = api_of(other)
    assert api.get("/api/v1/studies").json()["count"] == 0
    assert api.get("/api/v1/runs").json()["count"] == 0
    assert api.get("/api/v1/trials").json()["count"] == 0
    assert api.get(f"/api/v1/trials?run__study={owned.pk}").status_code == 400  # as for no such study
    for path in (
        f"/api/v1/studies/{owned.pk}",
        f"/api/v1/studies/{owned.pk}/report",
        f"/api/v1/runs/{run.pk}",
        f"/api/v1/trials/{trial.pk}",
    ):
        assert api.get(path).status_code == 404, path
    assert api.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 404
    browser = client_of(other)
    assert owned.name not in browser.get("/").content.decode()
    for path in (
        f"/studies/{owned.pk}/",
        f"/studies/{owned.pk}/report.json",
        f"/studies/{owned.pk}/tables/automated.csv",
        f"/studies/{owned.pk}/data/trials.csv",
        f"/studies/{owned.pk}/data/judgments.json",
        f"/runs/{run.pk}/",
        f"/runs/{run.pk}/progress",
        f"/trials/{trial.pk}/",
    ):
        assert browser.get(path).status_code == 404, path
    assert browser.post(f"/runs/{run.pk}/cancel").status_code == 404
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING


def test_a_viewer_reads_but_cannot_write(
    owned: Study, other: User, reference_endpoint: ModelEndpoint
) -> None:
    StudyMember.objects.create(study=owned, user=other, role=StudyMember.Role.VIEWER)
    run = open_run(owned)
    api = api_of(other)
    assert api.get(f"/api/v1/studies/{owned.pk}").status_code == 200
    assert api.get(f"/api/v1/studies/{owned.pk}/report").status_code == 200
    assert api.get("/api/v1/runs").json()["count"] == owned.runs.count()
    assert client_of(other).get(f"/studies/{owned.pk}/data/trials.csv").status_code == 200

    assert "Cancel run" not in client_of(other).get(f"/runs/{run.pk}/").content.decode()
    assert "Cancel run" in client_of(owned.owner).get(f"/runs/{run.pk}/").content.decode()  # type: ignore[arg-type]
    assert api.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 403
    assert client_of(other).post(f"/runs/{run.pk}/cancel").status_code == 403
    reference_endpoint.shared = True
    reference_endpoint.save(update_fields=["shared"])
    payload = {
        "study": owned.pk,
        "endpoint": reference_endpoint.pk,
        "model": "ref-faithful",
        "value": "prosocial",
    }
    response = api.post("/api/v1/runs", {**payload, "n_trials": 1}, format="json")
    assert response.status_code == 403
    assert "editor" in response.json()["detail"]
    assert api.post("/api/v1/batches", {"study": owned.pk, "size": 3}, format="json").status_code == 403
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING
    assert owned.runs.count() == 5  # the design study's four runs and the open one; nothing was created

    StudyMember.objects.filter(study=owned, user=other).update(role=StudyMember.Role.EDITOR)
    assert api.post(f"/api/v1/runs/{run.pk}/cancel").json()["status"] == "cancelled"


def test_studies_without_an_owner_are_visible_to_superusers_only(user: User, db: None) -> None:
    orphan = make_design_study("no owner")
    assert not access.studies_visible_to(user).filter(pk=orphan.pk).exists()
    root = User.objects.create_superuser("root", "root@lab.invalid", "a-long-test-password")
    assert access.studies_visible_to(root).filter(pk=orphan.pk).exists()
    assert api_of(user).get(f"/api/v1/studies/{orphan.pk}").status_code == 404


def test_creating_a_study_makes_you_its_owner_and_another_researchers_name_is_refused(
    api_client: APIClient, user: User, other: User
) -> None:
    response = api_client.post("/api/v1/studies", {"name": "mine"}, format="json")
    assert response.status_code == 201
    assert Study.objects.get(name="mine").owner == user
    refused = api_of(other).post("/api/v1/studies", {"name": "mine"}, format="json")
    assert refused.status_code == 400
    assert "name" in refused.json()
    assert Study.objects.get(name="mine").owner == user


def api_v1_paths() -> list[str]:
    """Every /api/v1/ route, path arguments filled with 1."""

    def walk(patterns: list[Any], prefix: str) -> list[str]:
        found = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))
        return found

    routes = [route for route in walk(get_resolver().url_patterns, "/") if route.startswith("/api/v1/")]
    return [route.replace("<int:pk>", "1") for route in routes]


@pytest.mark.parametrize("kind", ["plain", "staff"])
def test_a_non_researcher_with_a_token_gets_403_on_every_api_path(owned: Study, kind: str) -> None:
    outsider = User.objects.create_user("token-holder", is_staff=kind == "staff")
    token = Token.objects.create(user=outsider)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    paths = api_v1_paths()
    assert len(paths) >= 17
    for path in paths:
        assert client.get(path).status_code in (403, 405), path
        assert client.post(path, {}, format="json").status_code == 403, path
    assert client.get("/api/v1/studies").status_code == 403
    assert Study.objects.count() == 1


def test_endpoints_of_another_user_are_invisible_and_unusable(
    api_client: APIClient, user: User, other: User, study: Study
) -> None:
    theirs = ModelEndpoint.objects.create(name="theirs", base_url="http://127.0.0.1:9/theirs/v1", owner=other)
    shared = ModelEndpoint.objects.create(
        name="shared", base_url="http://127.0.0.1:9/shared/v1", owner=other, shared=True
    )
    mine = api_client.post(
        "/api/v1/endpoints", {"name": "mine", "base_url": "http://127.0.0.1:9/mine/v1"}, format="json"
    )
    assert mine.status_code == 201
    assert ModelEndpoint.objects.get(name="mine").owner == user
    listed = {row["name"] for row in api_client.get("/api/v1/endpoints").json()["results"]}
    assert listed == {"mine", "shared"}
    assert set(access.endpoints_usable_by(other).values_list("name", flat=True)) == {"theirs", "shared"}

    payload = {"study": study.pk, "model": "ref-faithful", "value": "prosocial", "n_trials": 1}
    response = api_client.post("/api/v1/runs", {**payload, "endpoint": theirs.pk}, format="json")
    assert response.status_code == 400
    assert "endpoint" in response.json()
    response = api_client.post(
        "/api/v1/runs",
        {**payload, "endpoint": shared.pk, "extractor_model": "x", "extractor_endpoint": theirs.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "extractor_endpoint" in response.json()
    assert not EvaluationRun.objects.exists()


def test_study_for_answers_404_when_invisible_and_403_when_read_only(owned: Study, other: User) -> None:
    with pytest.raises(access.StudyNotFound):
        access.study_for(other, owned.pk)
    with pytest.raises(access.StudyNotFound):
        access.study_for(other, owned.name)
    StudyMember.objects.create(study=owned, user=other, role=StudyMember.Role.VIEWER)
    assert access.study_for(other, owned.name) == owned
    assert access.study_for(other, str(owned.pk)) == owned
    with pytest.raises(access.StudyReadOnly):
        access.study_for(other, owned.pk, write=True)
    assert access.study_for(owned.owner, owned.pk, write=True) == owned  # type: ignore[arg-type]


def test_an_inactive_researcher_sees_nothing(owned: Study, user: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not access.is_researcher(User.objects.get(pk=user.pk))
    assert not access.studies_visible_to(User.objects.get(pk=user.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_run_evaluation_gives_the_study_it_creates_the_owner_named(reference_server: str) -> None:
    owner = make_researcher("cli-owner")
    args = ["--endpoint-url", reference_server, "--models", "ref-faithful", "--values", "prosocial"]
    call_command(
        "run_evaluation",
        "--study",
        "owned by cli",
        "--owner",
        "cli-owner",
        "--trials",
        "1",
        *args,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    study = Study.objects.get(name="owned by cli")
    assert study.owner == owner
    assert ModelEndpoint.objects.get(base_url=reference_server.rstrip("/")).owner == owner
    call_command(
        "run_evaluation", "--study", "nobody's", "--trials", "1", *args, stdout=StringIO(), stderr=StringIO()
    )
    assert Study.objects.get(name="nobody's").owner is None

    User.objects.create_user("not-a-researcher")
    for name in ("no-such-user", "not-a-researcher"):
        with pytest.raises(CommandError, match="not a researcher") as error:
            call_command("run_evaluation", "--study", "refused", "--owner", name, *args, stdout=StringIO())
        assert error.value.returncode == 2
    assert not Study.objects.filter(name="refused").exists()


@pytest.mark.parametrize(
    ("path", "related"),
    [
        ("/api/v1/runs?study={study}", "study"),
        ("/api/v1/trials?run__study={study}", "study"),
        ("/api/v1/trials?run={run}", "run"),
        ("/api/v1/batches?study={study}", "study"),
    ],
)
def test_filtering_by_another_researchers_object_answers_like_a_missing_one(
    owned: Study, other: User, path: str, related: str
) -> None:
    run = owned.runs.first()
    assert run is not None
    api = api_of(other)
    theirs = api.get(path.format(study=owned.pk, run=run.pk))
    missing = api.get(path.format(study=999_999, run=999_999))
    assert theirs.status_code == missing.status_code == 400
    assert list(theirs.json()) == list(missing.json())
    mine = api_of(owned.owner).get(path.format(study=owned.pk, run=run.pk))  # type: ignore[arg-type]
    assert mine.status_code == 200


def test_no_api_page_names_a_study_or_endpoint_the_user_may_not_see(owned: Study, other: User) -> None:
    """The browsable API renders forms and filters; none may offer another researcher's objects as choices."""
    secret = make_design_study("a study other may not see")
    annotation_services.annotation_batch_get_or_create(study=secret, size=2)
    hidden_endpoint = ModelEndpoint.objects.create(
        name="an endpoint other may not use", base_url="http://x.invalid"
    )
    browser = client_of(other)
    for path in api_v1_paths():
        if "<" in path or path.endswith(("schema/", "docs/", "redoc/")):
            continue
        body = browser.get(path, HTTP_ACCEPT="text/html").content.decode()
        assert secret.name not in body, path
        assert owned.name not in body, path
        assert hidden_endpoint.name not in body, path
        assert "endpoint-" not in body, path  # the design studies' endpoints
