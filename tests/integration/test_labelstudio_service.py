"""The service with a real Label Studio: pushes, raters as distinct Label Studio users, webhooks delivered to
the live test server, and the catch-up sync after a restart. Nothing here is simulated but the raters' clicks,
which are made through Label Studio's own API with each rater's own token."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from annotation import services
from annotation.labelstudio import LabelStudioClient
from annotation.models import AnnotationBatch, HumanJudgment, Rater
from evaluation.models import Study
from tests.annotation.factories import make_design_study
from tests.conftest import make_researcher
from tests.integration.labelstudio_server import LabelStudioServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def configured(label_studio: LabelStudioServer, settings: Any) -> LabelStudioServer:
    settings.LABEL_STUDIO_URL = label_studio.url
    settings.LABEL_STUDIO_API_KEY = label_studio.api_key
    settings.LABEL_STUDIO_WEBHOOK_SECRET = label_studio.webhook_secret
    return label_studio


@pytest.fixture
def listening(configured: LabelStudioServer, live_server: Any, settings: Any) -> str:
    """Our service is up on the live test server, and Label Studio's webhooks point at it."""
    settings.HVAE_PUBLIC_URL = live_server.url
    return str(live_server.url)


@pytest.fixture
def study() -> Study:
    return make_design_study()


def ls_get(server: LabelStudioServer, path: str, **params: Any) -> Any:
    headers = {"Authorization": f"Token {server.api_key}"}
    response = httpx.get(server.url + path, params=params, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()


def ls_task_count(server: LabelStudioServer, project_id: int) -> int:
    return int(ls_get(server, "/api/tasks/", project=project_id, page_size=1)["total"])


def result(category: str, angle: float, confidence: int, comment: str = "") -> list[dict[str, Any]]:
    regions: list[dict[str, Any]] = [
        {
            "from_name": "orientation",
            "to_name": "dialogue",
            "type": "choices",
            "value": {"choices": [category]},
        },
        {"from_name": "angle", "to_name": "dialogue", "type": "number", "value": {"number": angle}},
        {"from_name": "confidence", "to_name": "dialogue", "type": "rating", "value": {"rating": confidence}},
    ]
    if comment:
        regions.append(
            {"from_name": "comment", "to_name": "dialogue", "type": "textarea", "value": {"text": [comment]}}
        )
    return regions


def rater_with_token(
    batch: AnnotationBatch, participant: str, server: LabelStudioServer
) -> tuple[Rater, str]:
    """A rater recruited as the pages do it (join, consent, provisioning), and their own Label Studio token."""
    rater = services.rater_consent(rater=services.rater_join(batch=batch, participant_id=participant))
    rater = services.rater_provision(rater=rater)
    with LabelStudioClient(server.url, server.api_key) as ls:
        account = ls.ensure_user(
            email=rater.email, username=f"check-{rater.pk}", password=rater.label_studio_password
        )
    assert account.id == rater.label_studio_user_id
    assert account.token
    return rater, account.token


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def test_push_twice_reuses_the_batch_and_adds_no_task(
    configured: LabelStudioServer, study: Study, capsys: Any
) -> None:
    def push(study_ref: str, seed: int, *options: str) -> str:
        design = [
            "--size",
            "6",
            "--overlap",
            "2",
            "--seed",
            str(seed),
            "--gold",
            "2",
            "--gold-per-rater",
            "1",
        ]
        call_command("annotation_push", "--study", study_ref, *design, *options)
        return str(capsys.readouterr().out)

    first = push(study.name, 5, "--arm", "informed", "--show-prediction", "--extraction-audit")
    second = push(study.name, 5, "--arm", "informed")
    push(str(study.pk), 5, "--arm", "informed")
    api = APIClient()
    owner = make_researcher("researcher")
    Study.objects.filter(pk=study.pk).update(owner=owner)
    api.force_authenticate(owner)
    design = {
        "study": study.pk,
        "arm": "informed",
        "size": 6,
        "overlap": 2,
        "seed": 5,
        "gold": 2,
        "gold_per_rater": 1,
    }
    through_api = api.post("/api/v1/batches", design, format="json")

    batch = AnnotationBatch.objects.get()
    assert batch.label_studio_project_id is not None
    assert "created" in first
    assert "8 task(s) imported, 0 already there" in first
    assert "reused" in second
    assert "0 task(s) imported, 8 already there" in second
    assert through_api.status_code == 200  # reused, not created
    assert through_api.json()["id"] == batch.pk
    assert ls_task_count(configured, batch.label_studio_project_id) == 8
    assert batch.tasks.exclude(label_studio_task_id=None).count() == 8
    project = ls_get(configured, f"/api/projects/{batch.label_studio_project_id}/")
    # A batch that promises gold per rater: each task carries the batch's overlap (gold tasks more, so every rater
    # can get them); the project keeps 1 so that Label Studio serves the import order (services.SERVING_SETTINGS).
    assert project["maximum_annotations"] == 1
    overlaps = {
        t["id"]: t["overlap"]
        for t in ls_get(configured, "/api/tasks/", project=batch.label_studio_project_id, page_size=100)[
            "tasks"
        ]
    }
    assert sorted(overlaps.values()) == [2] * 6 + [services.GOLD_TASK_OVERLAP] * 2
    assert '<Choices name="orientation"' in project["label_config"]
    assert '<Choices name="item_6"' in project["label_config"]  # extraction audit
    task = ls_get(configured, "/api/tasks/", project=batch.label_studio_project_id, page_size=1)["tasks"][0]
    assert (
        task["total_predictions"] == 1
    )  # the automated category, shown only because this batch asked for it
    assert task["data"]["choices"].startswith("item 1: option 5")

    push(study.name, 6)
    assert AnnotationBatch.objects.count() == 2
    other = AnnotationBatch.objects.exclude(pk=batch.pk).get()
    assert other.label_studio_project_id != batch.label_studio_project_id

    # The same design in another arm is another batch; Label Studio accepts the blind and value-shown configs.
    push(study.name, 5, "--extraction-audit")
    push(study.name, 5, "--arm", "value-shown")
    assert AnnotationBatch.objects.count() == 4
    for arm, fields in (
        ("blind", {"hvae_key", "dialogue"}),
        ("value-shown", {"hvae_key", "dialogue", "value"}),
    ):
        pushed = AnnotationBatch.objects.get(arm=arm, seed=5)
        assert pushed.label_studio_project_id is not None
        config = ls_get(configured, f"/api/projects/{pushed.label_studio_project_id}/")["label_config"]
        assert '<Choice value="unclear"/>' in config
        assert "angle" not in config
        assert "$choices" not in config
        assert ("served_value" in config) == (arm == "value-shown")
        shown = ls_get(configured, "/api/tasks/", project=pushed.label_studio_project_id, page_size=100)[
            "tasks"
        ]
        assert len(shown) == 8
        for shown_task in shown:
            assert set(shown_task["data"]) == fields
            assert shown_task["total_predictions"] == 0


def test_a_push_of_several_import_chunks_stores_each_tasks_own_label_studio_id(
    configured: LabelStudioServer, study: Study
) -> None:
    with LabelStudioClient(configured.url, configured.api_key, import_chunk=4, page_size=3) as ls:
        # 2.5 chunks; the study's transcripts include reference agents', which only a demo batch samples
        options: services.BatchOptions = {"seed": 7, "include_reference": True}
        pushed = services.annotation_batch_push(study=study, size=10, client=ls, **options)
        again = services.annotation_batch_push(study=study, size=10, client=ls, **options)

    assert (pushed.tasks_created, pushed.tasks_existing) == (10, 0)
    assert (again.tasks_created, again.tasks_existing) == (0, 10)
    project_id = pushed.batch.label_studio_project_id
    assert project_id is not None
    listed = ls_get(configured, "/api/tasks/", project=project_id, page_size=100)["tasks"]
    stored = dict(pushed.batch.tasks.values_list("key", "label_studio_task_id"))
    assert {task["data"]["hvae_key"]: task["id"] for task in listed} == stored
    assert len(set(stored.values())) == 10


def test_push_while_label_studio_is_down_then_again_when_up(
    configured: LabelStudioServer, study: Study, settings: Any
) -> None:
    settings.LABEL_STUDIO_URL = closed_url()
    with pytest.raises(Exception, match="is not reachable"):
        services.annotation_batch_push(study=study, size=4, seed=2)
    settings.LABEL_STUDIO_URL = configured.url

    again = services.annotation_batch_push(study=study, size=4, seed=2)
    once_more = services.annotation_batch_push(study=study, size=4, seed=2)

    assert not again.batch_created
    assert (again.tasks_created, again.tasks_existing) == (4, 0)
    assert (once_more.tasks_created, once_more.tasks_existing) == (0, 4)
    assert again.batch.label_studio_project_id is not None
    assert ls_task_count(configured, again.batch.label_studio_project_id) == 4
    tasks = ls_get(configured, "/api/tasks/", project=again.batch.label_studio_project_id, page_size=10)[
        "tasks"
    ]
    assert [t["total_predictions"] for t in tasks] == [0, 0, 0, 0]  # no anchoring by default
    texts = [m["text"] for m in tasks[0]["data"]["dialogue"]]
    assert texts[0].startswith("Act as that person. Decision 1")  # nor by the induced value's name
    assert not any("social value orientation" in t for t in texts)


def test_webhooks_bring_two_raters_judgments_to_the_live_service(
    listening: str, label_studio: LabelStudioServer, study: Study
) -> None:
    server = services.label_studio_client()
    pushed = services.annotation_batch_push(study=study, size=3, overlap=2, seed=1, tasks_per_rater=3)
    batch = pushed.batch
    alice, alice_token = rater_with_token(batch, "alice", label_studio)
    bob, bob_token = rater_with_token(batch, "bob", label_studio)
    again = services.rater_provision(rater=Rater.objects.get(pk=alice.pk))
    assert again.label_studio_user_id == alice.label_studio_user_id  # no second account
    tasks = list(batch.tasks.order_by("id"))
    assert all(t.label_studio_task_id for t in tasks)

    a1 = server.create_annotation(
        tasks[0].label_studio_task_id or 0,
        result("prosocial", 44.5, 4, "<b>fair</b>"),
        as_user_token=alice_token,
        lead_time=31.0,
    )
    b1 = server.create_annotation(
        tasks[0].label_studio_task_id or 0,
        result("competitive", -14, 2),
        as_user_token=bob_token,
        lead_time=9.0,
    )
    wait_for(lambda: HumanJudgment.objects.count() == 2, "two judgments delivered by webhook")

    first = HumanJudgment.objects.get(label_studio_annotation_id=a1)
    assert (first.rater, first.task, first.trial_id) == (alice, tasks[0], tasks[0].trial_id)
    assert (first.category, first.angle_estimate, first.confidence, first.comment) == (
        "prosocial",
        44.5,
        4,
        "<b>fair</b>",
    )
    assert first.lead_time == 31.0
    second = HumanJudgment.objects.get(label_studio_annotation_id=b1)
    assert (second.rater, second.category) == (bob, "competitive")

    headers = {"Authorization": f"Token {bob_token}"}
    patched = httpx.patch(
        f"{server.url}/api/annotations/{b1}/",
        json={"result": result("individualistic", 2, 3)},
        headers=headers,
    )
    assert patched.status_code == 200
    wait_for(
        lambda: HumanJudgment.objects.get(label_studio_annotation_id=b1).category == "individualistic",
        "the ANNOTATION_UPDATED webhook",
    )
    deleted = httpx.delete(
        f"{server.url}/api/annotations/{a1}/", headers={"Authorization": f"Token {alice_token}"}
    )
    assert deleted.status_code == 204
    wait_for(
        lambda: HumanJudgment.objects.get(label_studio_annotation_id=a1).deleted,
        "the ANNOTATIONS_DELETED webhook",
    )
    assert HumanJudgment.objects.count() == 2  # marked, not erased
    server.close()


def test_a_webhook_with_a_wrong_secret_is_refused_and_sync_recovers_it(
    listening: str, label_studio: LabelStudioServer, study: Study, caplog: pytest.LogCaptureFixture
) -> None:
    pushed = services.annotation_batch_push(study=study, size=2, seed=3)
    batch = pushed.batch
    rater, token = rater_with_token(batch, "carol", label_studio)
    with services.label_studio_client() as ls:
        assert batch.label_studio_project_id is not None
        ls.register_webhook(
            batch.label_studio_project_id,
            services.webhook_url(),
            secret="not-the-secret",
            header=services.WEBHOOK_HEADER,
        )
        task = batch.tasks.order_by("id").first()
        assert task is not None
        assert task.label_studio_task_id is not None
        with caplog.at_level(logging.WARNING, logger="annotation.views"):
            annotation_id = ls.create_annotation(
                task.label_studio_task_id, result("altruistic", 60, 5), as_user_token=token
            )
            wait_for(
                lambda: any("wrong secret" in r.getMessage() for r in caplog.records),
                "the refused webhook delivery",
            )
    assert not HumanJudgment.objects.exists()

    call_command("annotation_sync", "--study", study.name)
    judgment = HumanJudgment.objects.get()
    assert (judgment.label_studio_annotation_id, judgment.rater, judgment.category) == (
        annotation_id,
        rater,
        "altruistic",
    )


def test_sync_after_a_restart_recovers_what_was_made_while_the_service_was_not_listening(
    configured: LabelStudioServer, study: Study, settings: Any, capsys: Any
) -> None:
    settings.HVAE_PUBLIC_URL = closed_url()  # webhooks go nowhere: our service is down
    batch = services.annotation_batch_push(study=study, size=3, overlap=2, seed=4).batch
    dora, dora_token = rater_with_token(batch, "PROLIFIC-dora", configured)
    erik, erik_token = rater_with_token(batch, "PROLIFIC-erik", configured)
    tasks = [t.label_studio_task_id or 0 for t in batch.tasks.order_by("id")]
    made = {}
    with services.label_studio_client() as ls:
        made["dora-0"] = ls.create_annotation(
            tasks[0], result("prosocial", 45, 5), as_user_token=dora_token, lead_time=20
        )
        made["dora-1"] = ls.create_annotation(
            tasks[1], result("individualistic", 0, 3), as_user_token=dora_token
        )
        made["erik-0"] = ls.create_annotation(tasks[0], result("prosocial", 50, 4), as_user_token=erik_token)
    time.sleep(1)
    assert not HumanJudgment.objects.exists()

    configured.stop()
    configured.start()
    assert configured.start_seconds[-1] < 60, f"restart took {configured.start_seconds[-1]:.1f}s"
    call_command("annotation_sync", "--study", study.name)
    assert "3 annotation(s) in Label Studio, 3 new judgment(s), 0 marked deleted" in capsys.readouterr().out

    judgments = {j.label_studio_annotation_id: j for j in HumanJudgment.objects.all()}
    assert set(judgments) == set(made.values())
    assert judgments[made["dora-0"]].rater == dora
    assert judgments[made["dora-0"]].lead_time == 20
    assert judgments[made["erik-0"]].rater == erik
    assert judgments[made["dora-1"]].category == "individualistic"

    headers = {"Authorization": f"Token {dora_token}"}
    assert (
        httpx.delete(f"{configured.url}/api/annotations/{made['dora-1']}/", headers=headers).status_code
        == 204
    )
    call_command("annotation_sync", "--study", str(study.pk))
    assert "2 annotation(s) in Label Studio, 0 new judgment(s), 1 marked deleted" in capsys.readouterr().out
    assert HumanJudgment.objects.get(label_studio_annotation_id=made["dora-1"]).deleted
    assert HumanJudgment.objects.count() == 3
    batch.refresh_from_db()
    assert batch.last_synced_at is not None
