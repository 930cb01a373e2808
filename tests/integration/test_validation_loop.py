"""The whole human-validation loop against a real Label Studio: a blind batch with overlap 3 and an informed batch
are pushed, raters signed in as their own Label Studio accounts take their stream (``/api/projects/{id}/next``)
and answer, the sync brings every judgment back, and the report gives, per induced value and pooled, with and
without the gold screen, kappa, AC1, PABAK, accuracy (blind) and Lin's concordance (informed) with CIs."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from annotation import labeling, services
from annotation.labelstudio import LabelStudioClient
from annotation.models import AnnotationBatch, AnnotationTask, HumanJudgment
from evaluation.models import Study, Trial
from stats import reports
from tests.annotation.factories import make_study, make_trials
from tests.integration.labelstudio_server import LabelStudioServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VALUES = ("altruistic", "prosocial", "individualistic", "competitive")
SIZE = 32
GOLD = 4
OVERLAP = 3
QUOTA = 14
RATERS = 11  # 11 x 14 serves cover 32 x 3 judgments even if every rater meets all 4 gold items
CATEGORY_ANGLE = {"altruistic": 65.0, "prosocial": 35.0, "individualistic": 0.0, "competitive": -20.0}


@pytest.fixture
def configured(label_studio: LabelStudioServer, settings: Any) -> LabelStudioServer:
    settings.LABEL_STUDIO_URL = label_studio.url
    settings.LABEL_STUDIO_API_KEY = label_studio.api_key
    settings.LABEL_STUDIO_WEBHOOK_SECRET = ""  # judgments come back through the sync
    return label_studio


@pytest.fixture
def study() -> Study:
    """Two models under the four values; within each value most trials hit and some land elsewhere, so every
    value has more than one automated category. Faithful reference transcripts are the gold."""
    study = make_study()
    others = {value: [v for v in VALUES if v != value] for value in VALUES}
    for model in ("gpt-a", "gpt-b"):
        for value in VALUES:
            make_trials(study, model=model, value=value, n=4, reference=False)
            make_trials(study, model=model, value=value, n=2, reference=False, category=others[value][0])
    for value in VALUES:
        make_trials(study, model="ref-faithful", value=value, n=2)
    rng = random.Random(3)
    for trial in Trial.objects.filter(run__study=study):
        Trial.objects.filter(pk=trial.pk).update(angle=CATEGORY_ANGLE[trial.category] + rng.gauss(0, 4))
    return study


def result(arm: str, category: str, angle: float) -> list[dict[str, Any]]:
    regions: list[dict[str, Any]] = [
        {
            "from_name": labeling.ORIENTATION,
            "to_name": labeling.DIALOGUE,
            "type": "choices",
            "value": {"choices": [category]},
        },
        {
            "from_name": labeling.CONFIDENCE,
            "to_name": labeling.DIALOGUE,
            "type": "rating",
            "value": {"rating": 4},
        },
    ]
    if arm == labeling.INFORMED:
        regions.append(
            {
                "from_name": labeling.ANGLE,
                "to_name": labeling.DIALOGUE,
                "type": "number",
                "value": {"number": round(angle, 1)},
            }
        )
    return regions


def judge(rng: random.Random, task: AnnotationTask) -> tuple[str, float]:
    """A rater who mostly sees what the transcript shows (the gold answer on gold items), sometimes not."""
    truth = task.gold_category if task.is_gold else task.trial.category
    category = truth if rng.random() < 0.8 else rng.choice([v for v in VALUES if v != truth])
    return category, float(task.trial.angle or 0.0) + rng.gauss(0, 6)


def rate_through_label_studio(batch: AnnotationBatch, url: str, api_key: str) -> int:
    """Raters join, consent, get their Label Studio account and take their stream to the quota (or until
    Label Studio has nothing left for them); returns the number of annotations submitted."""
    tasks = {t.label_studio_task_id: t for t in batch.tasks.select_related("trial")}
    tokens = []
    with LabelStudioClient(url, api_key) as ls:
        for index in range(RATERS):
            rater = services.rater_provision(
                rater=services.rater_consent(
                    rater=services.rater_join(batch=batch, participant_id=f"{batch.arm}-rater-{index}")
                )
            )
            account = ls.ensure_user(
                email=rater.email, username=f"loop-{rater.pk}", password=rater.label_studio_password
            )
            assert account.token
            tokens.append(account.token)
    submitted = 0
    rng = random.Random(batch.pk)
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(QUOTA):
            for token in tokens:
                headers = {"Authorization": f"Token {token}"}
                response = http.get(f"/api/projects/{batch.label_studio_project_id}/next", headers=headers)
                if response.status_code == 404:  # nothing left for this rater
                    continue
                assert response.status_code == 200, response.text
                task = tasks[int(response.json()["id"])]
                category, angle = judge(rng, task)
                created = http.post(
                    f"/api/tasks/{task.label_studio_task_id}/annotations/",
                    json={"result": result(batch.arm, category, angle), "lead_time": 4.0},
                    headers=headers,
                )
                assert created.status_code == 201, created.text
                submitted += 1
    return submitted


def test_blind_and_informed_batches_go_round_the_loop_into_per_value_statistics(
    configured: LabelStudioServer, study: Study
) -> None:
    submitted = {}
    # the blind batch promises one gold item per rater (served in the service's order, tasks carry their own
    # overlap); the informed batch promises none (project-wide overlap, Label Studio's own serving)
    for arm, gold_per_rater in ((labeling.BLIND, 1), (labeling.INFORMED, 0)):
        batch = services.annotation_batch_push(
            study=study,
            size=SIZE,
            arm=arm,
            overlap=OVERLAP,
            seed=7,
            gold=GOLD,
            tasks_per_rater=QUOTA,
            gold_per_rater=gold_per_rater,
        ).batch
        assert batch.overlap == OVERLAP
        project = httpx.get(
            f"{configured.url}/api/projects/{batch.label_studio_project_id}/",
            headers={"Authorization": f"Token {configured.api_key}"},
            timeout=30,
        ).json()
        assert project["maximum_annotations"] == (1 if gold_per_rater else OVERLAP)
        assert project["sampling"] == "Sequential sampling"
        assert batch.tasks.filter(is_gold=False).count() == SIZE
        submitted[arm] = rate_through_label_studio(batch, configured.url, configured.api_key)

    synced = services.annotation_sync(study=study)
    assert synced is not None
    for arm, count in submitted.items():
        assert HumanJudgment.objects.filter(task__batch__arm=arm).count() == count
    # every non-gold transcript of the blind batch has its three judgments
    blind = AnnotationBatch.objects.get(study=study, arm=labeling.BLIND)
    for task in blind.tasks.filter(is_gold=False):
        assert task.judgments.count() == OVERLAP, task.pk

    human = reports.build_report(study, n_boot=200).human
    assert human.arm == labeling.BLIND
    (informed,) = human.other_arms
    assert informed.arm == labeling.INFORMED
    for variant in (human.all_raters, human.gold_screened):
        columns = {column.value: column for column in variant.values}
        assert set(columns) == set(VALUES)
        for column in (variant.pooled, *columns.values()):
            agreement = column.vs_majority
            for estimate in (agreement.kappa, agreement.gwet_ac1, agreement.pabak, agreement.accuracy):
                assert estimate.value is not None, (column.value, estimate)
                low, high = estimate.ci_low, estimate.ci_high
                assert low is not None
                assert high is not None
                assert low <= estimate.value <= high
                assert 0 < estimate.n <= SIZE
        assert variant.pooled.inter_rater.available
        assert variant.pooled.inter_rater.categories.value is not None  # Krippendorff's alpha: not crossed
    for column in (informed.gold_screened.pooled, *informed.gold_screened.values):
        ccc = column.angles.lin_ccc
        assert ccc.value is not None
        assert ccc.ci_low is not None
        assert ccc.ci_high is not None
        assert ccc.ci_low <= ccc.value <= ccc.ci_high
    # raters see the angle of the trial they judge, so agreement on angles is high across the pooled values
    pooled_ccc = informed.gold_screened.pooled.angles.lin_ccc.value
    assert pooled_ccc is not None
    assert pooled_ccc > 0.8
