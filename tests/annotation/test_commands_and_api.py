"""annotation_push / annotation_sync and the batch API: bad input is a clear message and exit code 2 (CLI) or
a 400 with field errors (API), never a traceback."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotation.models import AnnotationBatch, AnnotationTask
from evaluation.models import Study


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def label_studio_down(settings: Any) -> str:
    settings.LABEL_STUDIO_URL = closed_url()
    settings.LABEL_STUDIO_API_KEY = "some-key"
    return str(settings.LABEL_STUDIO_URL)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "no-such-study", "--size", "3"], "no study named or numbered 'no-such-study'"),
        (["--size", "0"], "--size must be at least 1"),
        (["--size", "3", "--overlap", "0"], "overlap must be at least 1"),
        (["--size", "3", "--gold", "-1"], "gold must be at least 0"),
        (["--size", "500"], r"only 8 are available \(reference-agent transcripts enter only as gold\)"),
        (["--size", "500", "--include-reference"], "only 16 are available"),
        (["--size", "3", "--gold", "9"], "only 8 transcripts have a gold label"),
        (["--size", "3", "--gold", "1", "--gold-per-rater", "2"], "--gold: Every rater is to meet 2 gold"),
        (
            ["--size", "3", "--gold", "2", "--gold-per-rater", "3", "--quota", "2"],
            "cannot exceed a rater's quota",
        ),
        (
            ["--size", "8", "--gold", "2", "--gold-per-rater", "1", "--quota", "3"],
            "need at least 3 gold items",
        ),
        (["--size", "3", "--gold-fail-threshold", "1.5"], "--gold-fail-threshold"),
    ],
)
def test_push_with_bad_input_exits_2_with_a_message(
    study: Study, label_studio_down: str, args: list[str], message: str
) -> None:
    if "--study" not in args:
        args = ["--study", study.name, *args]
    with pytest.raises(CommandError, match=message) as error:
        call_command("annotation_push", *args)
    assert error.value.returncode == 2
    assert not AnnotationTask.objects.exists()


def test_push_without_label_studio_configured_says_what_to_set(study: Study, settings: Any) -> None:
    settings.LABEL_STUDIO_URL = ""
    with pytest.raises(CommandError, match="set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY") as error:
        call_command("annotation_push", "--study", str(study.pk), "--size", "3")
    assert error.value.returncode == 2
    assert not AnnotationBatch.objects.exists()


def test_push_while_label_studio_is_down_keeps_the_batch_for_a_rerun(
    study: Study, label_studio_down: str
) -> None:
    for _ in range(2):
        with pytest.raises(
            CommandError, match=f"Label Studio at {label_studio_down} is not reachable"
        ) as error:
            call_command(
                "annotation_push", "--study", study.name, "--size", "4", "--seed", "3", "--gold", "1"
            )
        assert "run the same push again" in str(error.value)

    batch = AnnotationBatch.objects.get()
    assert batch.label_studio_project_id is None
    assert batch.tasks.count() == 5
    assert batch.tasks.filter(is_gold=True).count() == 1


def test_sync_of_an_unknown_study_or_with_label_studio_down_exits_2(
    study: Study, label_studio_down: str
) -> None:
    with pytest.raises(CommandError, match="no study named") as error:
        call_command("annotation_sync", "--study", "nope")
    assert error.value.returncode == 2
    AnnotationBatch.objects.create(study=study, size=1, label_studio_project_id=5)
    with pytest.raises(CommandError, match="is not reachable") as error:
        call_command("annotation_sync", "--study", study.name)
    assert error.value.returncode == 2


def test_api_push_validates_its_input(api_client: APIClient, study: Study, label_studio_down: str) -> None:
    response = api_client.post("/api/v1/batches", {"study": study.pk, "size": 0, "overlap": 0}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"size", "overlap"}

    response = api_client.post("/api/v1/batches", {"study": study.pk, "size": 999}, format="json")
    assert response.status_code == 400
    assert "only 8 are available" in response.json()["size"][0]

    design = {"study": study.pk, "size": 8, "gold": 2, "gold_per_rater": 1, "tasks_per_rater": 3}
    response = api_client.post("/api/v1/batches", design, format="json")
    assert response.status_code == 400
    assert "need at least 3 gold items" in response.json()["gold"][0]
    response = api_client.post("/api/v1/batches", {**design, "gold_per_rater": 4}, format="json")
    assert response.status_code == 400
    assert "cannot exceed a rater's quota (3)" in response.json()["gold_per_rater"][0]
    response = api_client.post("/api/v1/batches", {**design, "gold_fail_threshold": 2}, format="json")
    assert set(response.json()) == {"gold_fail_threshold"}
    assert not AnnotationBatch.objects.exists()

    response = api_client.post("/api/v1/batches", {"study": study.pk, "size": 3}, format="json")
    assert response.status_code == 400
    assert "is not reachable" in response.json()["detail"]


def test_api_lists_batches_with_invite_links_and_needs_a_login(
    api_client: APIClient, anonymous_client: APIClient, study: Study, label_studio_down: str
) -> None:
    api_client.post("/api/v1/batches", {"study": study.pk, "size": 3}, format="json")

    body = api_client.get(f"/api/v1/batches?study={study.pk}").json()
    assert body["count"] == 1
    assert "/r/join/" in body["results"][0]["invite_url"]
    assert anonymous_client.get("/api/v1/batches").status_code in (401, 403)
    assert api_client.get("/api/v1/raters").json()["count"] == 0
    assert api_client.get("/api/v1/judgments").json()["count"] == 0
