"""Gold items and task order with a real Label Studio: raters, each signed in as their own Label Studio account,
ask Label Studio for their next task (``GET /api/projects/{id}/next``, what its labeling stream calls) and submit
an annotation, up to their quota. Every rater meets the batch's gold count within the quota, Label Studio serves
the service's import order (not blocks of one model and value), and the sync brings every judgment back."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import httpx
import pytest

from annotation import labeling, sampling, services
from annotation.labelstudio import LabelStudioClient
from annotation.models import AnnotationBatch, AnnotationTask, HumanJudgment, Rater
from evaluation.models import Study
from tests.annotation.factories import make_study, make_trials
from tests.integration.labelstudio_server import LabelStudioServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUOTA = 8
GOLD_PER_RATER = 2
OVERLAP = 3
SIZE = 24
GOLD = 6  # the fewest that guarantee 2 gold items in every run of 8 tasks among 24 others
RATERS = (
    "careful-1",
    "careful-2",
    "careful-3",
    "careful-4",
    "careless",
    "unsure",
    *(f"careful-{n}" for n in range(5, 9)),
)


@pytest.fixture
def configured(label_studio: LabelStudioServer, settings: Any) -> LabelStudioServer:
    settings.LABEL_STUDIO_URL = label_studio.url
    settings.LABEL_STUDIO_API_KEY = label_studio.api_key
    settings.LABEL_STUDIO_WEBHOOK_SECRET = ""  # judgments come back through the sync here
    return label_studio


@pytest.fixture
def study() -> Study:
    """Three models under two values, five trials per (model, value); reference agents: a faithful one under
    the four values (gold by construction) and a random one (never gold, never sampled)."""
    study = make_study()
    for model in ("gpt-a", "gpt-b", "gpt-c"):
        for value in ("prosocial", "competitive"):
            make_trials(study, model=model, value=value, n=5, reference=False)
    for value in ("altruistic", "prosocial", "individualistic", "competitive"):
        make_trials(study, model="ref-faithful", value=value, n=3)
    make_trials(study, model="ref-random", value="prosocial", n=4, category="individualistic")
    return study


def blind_result(category: str) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "orientation",
            "to_name": "dialogue",
            "type": "choices",
            "value": {"choices": [category]},
        },
        {"from_name": "confidence", "to_name": "dialogue", "type": "rating", "value": {"rating": 4}},
    ]


def answer(participant: str, task: AnnotationTask) -> str:
    """What each simulated rater answers: the careful ones know gold items, the careless one gets them wrong,
    the unsure one says unclear."""
    if not task.is_gold:
        return "prosocial"
    if participant == "careless":
        return "competitive" if task.gold_category != "competitive" else "altruistic"
    if participant == "unsure":
        return labeling.UNCLEAR
    return task.gold_category


def longest_run(labels: list[tuple[str, str]]) -> int:
    best = run = 0
    for index, label in enumerate(labels):
        run = run + 1 if index and labels[index - 1] == label else 1
        best = max(best, run)
    return best


def test_every_rater_meets_the_gold_count_in_the_served_order_and_sync_brings_every_judgment(
    configured: LabelStudioServer, study: Study
) -> None:
    result = services.annotation_batch_push(
        study=study,
        size=SIZE,
        overlap=OVERLAP,
        seed=11,
        gold=GOLD,
        tasks_per_rater=QUOTA,
        gold_per_rater=GOLD_PER_RATER,
    )
    batch = result.batch
    assert batch.label_studio_project_id is not None
    tasks = list(batch.tasks.select_related("trial__run").order_by("position"))
    by_ls_id = {task.label_studio_task_id: task for task in tasks}
    assert len(tasks) == SIZE + GOLD
    assert None not in by_ls_id
    # Reference transcripts entered only as gold, labelled by construction (the faithful agent's induced value).
    for task in tasks:
        run = task.trial.run
        assert (run.model.startswith("ref-")) == task.is_gold
        if task.is_gold:
            assert (task.gold_source, task.gold_category) == ("constructed", run.value)

    # Label Studio's side: one project-wide annotation, tasks carry their own overlap, sequential sampling.
    headers = {"Authorization": f"Token {configured.api_key}"}
    project = httpx.get(
        f"{configured.url}/api/projects/{batch.label_studio_project_id}/", headers=headers, timeout=30
    ).json()
    assert (project["maximum_annotations"], project["sampling"]) == (1, "Sequential sampling")
    assert project["show_overlap_first"] is False
    listed = httpx.get(
        f"{configured.url}/api/tasks/",
        params={"project": batch.label_studio_project_id, "page_size": 100},
        headers=headers,
        timeout=30,
    ).json()["tasks"]
    assert {t["id"]: t["overlap"] for t in listed} == {
        t.label_studio_task_id: services.GOLD_TASK_OVERLAP if t.is_gold else OVERLAP for t in tasks
    }
    # Label Studio numbers tasks in the order they were imported: the service's order.
    assert [t.label_studio_task_id for t in tasks] == sorted(t.label_studio_task_id or 0 for t in tasks)

    # Not in blocks of one model and value: a block would be a run of 4 (the sample takes 4 per stratum).
    strata = [(t.trial.run.model, t.trial.run.value) for t in tasks if not t.is_gold]
    assert strata != sorted(strata)
    assert longest_run(strata) <= 2
    assert sum(1 for a, b in itertools.pairwise(strata) if a != b) >= 16  # blocks: 5 changes

    raters: dict[str, tuple[Rater, str]] = {}
    with LabelStudioClient(configured.url, configured.api_key) as ls:
        for participant in RATERS:
            rater = services.rater_provision(
                rater=services.rater_consent(
                    rater=services.rater_join(batch=batch, participant_id=participant)
                )
            )
            account = ls.ensure_user(
                email=rater.email, username=f"stream-{rater.pk}", password=rater.label_studio_password
            )
            assert account.id == rater.label_studio_user_id
            assert account.token
            raters[participant] = (rater, account.token)

    served: dict[str, list[AnnotationTask]] = {p: [] for p in RATERS}
    done_by: dict[int, set[str]] = {t.pk: set() for t in tasks}
    submitted = 0
    with httpx.Client(base_url=configured.url, timeout=30) as http:
        # Raters take turns, one task each, so their streams overlap the way concurrent raters' do.
        for _ in range(QUOTA):
            for participant in RATERS:
                token = raters[participant][1]
                response = http.get(
                    f"/api/projects/{batch.label_studio_project_id}/next",
                    headers={"Authorization": f"Token {token}"},
                )
                assert response.status_code == 200, response.text
                task = by_ls_id[int(response.json()["id"])]
                # The service's order: the first task by position this rater has not done and that is not full.
                expected = next(
                    t
                    for t in tasks
                    if participant not in done_by[t.pk] and (t.is_gold or len(done_by[t.pk]) < OVERLAP)
                )
                assert task == expected, (participant, task.position, expected.position)
                created = http.post(
                    f"/api/tasks/{task.label_studio_task_id}/annotations/",
                    json={"result": blind_result(answer(participant, task)), "lead_time": 3.0},
                    headers={"Authorization": f"Token {token}"},
                )
                assert created.status_code == 201, created.text
                served[participant].append(task)
                done_by[task.pk].add(participant)
                submitted += 1

    for participant, stream in served.items():
        assert len(stream) == len({t.pk for t in stream}) == QUOTA
        assert sum(t.is_gold for t in stream) >= GOLD_PER_RATER, participant
    assert max(len(done_by[t.pk]) for t in tasks if not t.is_gold) <= OVERLAP
    # Streams overlapped (tasks shared by up to 3 raters) and the later raters' windows lay past two quotas.
    assert Counter(len(s) for s in done_by.values())[OVERLAP] >= 10
    assert max(t.position or 0 for stream in served.values() for t in stream) >= 2 * QUOTA
    # The guarantee holds whatever windows the streams took: every run of QUOTA places holds 2 gold items.
    assert (
        sampling.gold_in_every_run([t.pk for t in tasks], {t.pk for t in tasks if t.is_gold}, quota=QUOTA)
        >= 2
    )
    assert batch.sampling_spec["order"]["fewest_gold_in_any_quota_run"] >= GOLD_PER_RATER

    synced = services.annotation_sync(study=study)
    assert (synced.annotations, synced.created) == (submitted, submitted)
    judgments = HumanJudgment.objects.filter(task__batch=batch)
    assert judgments.count() == submitted
    assert not judgments.filter(rater=None).exists()
    for participant, (rater, _) in raters.items():
        mine = judgments.filter(rater=rater)
        assert sorted(mine.values_list("task_id", flat=True)) == sorted(t.pk for t in served[participant])
        rater.refresh_from_db()
        # The batch's rule: flagged below 0.5 accuracy after 2 gold answers; unclear on gold is a miss.
        assert rater.flagged == (participant in ("careless", "unsure")), participant
    assert AnnotationBatch.objects.get(pk=batch.pk).last_synced_at is not None
