"""The study report's ``humans`` section from participants in the database, on the study page and in
report.json; its cache follows new submissions."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from annotation import participant_services as services
from annotation.models import Participant, SvoLink, SvoResponseSet
from evaluation import svo
from stats import reports
from stats.report_model import to_json
from tests.stats.builders import build_study

T_975_DF2 = 4.302652729911275
PATTERNS = {"a": [1, 9, 9, 1, 5, 9], "b": [1, 9, 9, 1, 1, 1], "c": [5, 5, 5, 5, 5, 9]}


def submit(participant: Participant, pattern: list[int], wave: int = 1) -> SvoResponseSet:
    submission = services.Submission(options=dict(enumerate(pattern, start=1)))
    return services.svo_responses_submit(participant=participant, wave=wave, submission=submission)


@pytest.fixture
def study_with_people(db: None, user: Any) -> Any:
    simulated = build_study(
        "people", models=("ref-faithful",), values=("prosocial",), trials_per_run=4, owner=user
    )
    link = services.svo_link_create(study=simulated.study, induce="prosocial", retest_after_hours=1)
    for pid, pattern in PATTERNS.items():
        participant, _ = services.participant_join(link=link, participant_id=pid)
        submit(participant, pattern)
    return simulated.study, link


def test_report_human_vr_matches_a_hand_computation(study_with_people: Any) -> None:
    study, _ = study_with_people

    section = to_json(reports.build_report(study, n_boot=100))["humans"]

    vr = [svo.value_rationality("prosocial", pattern) for pattern in PATTERNS.values()]
    mean = sum(vr) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in vr) / 2)
    (row,) = section["induction"]
    human = row["humans"]["value_rationality"]
    assert row["value"] == "prosocial"
    assert human["value"] == pytest.approx(mean)
    assert human["ci_low"] == pytest.approx(mean - T_975_DF2 * sd / math.sqrt(3))
    assert human["ci_high"] == pytest.approx(mean + T_975_DF2 * sd / math.sqrt(3))
    hits = sum(svo.score_primary(p).category == "prosocial" for p in PATTERNS.values())
    assert row["humans"]["hit_rate"]["value"] == pytest.approx(hits / 3)
    assert [(m["model"], m["strategy"]) for m in row["models"]] == [
        ("ref-faithful", "goal"),
        ("ref-faithful", "plain"),
    ]
    for model in row["models"]:
        assert model["vr_difference"]["value"] == pytest.approx(model["value_rationality"]["value"] - mean)
    assert section["n_participants"] == 3
    assert section["random_responder"]["patterns"] == 9**6


def test_report_retest_and_cache_follow_new_submissions(study_with_people: Any) -> None:
    study, link = study_with_people
    before = to_json(reports.cached_report(study))["humans"]
    assert before["retest"]["humans"]["ICC(A,1)"]["n"] == 0

    SvoResponseSet.objects.filter(participant__link=link).update(
        submitted_at=SvoResponseSet.objects.get(participant__participant_id="a").submitted_at
        - timedelta(hours=2)
    )
    for participant in link.participants.all():
        pattern = PATTERNS[participant.participant_id]
        submit(participant, pattern[::-1], wave=2)

    after = to_json(reports.cached_report(study))["humans"]
    assert after["n_wave_2"] == 3
    assert after["retest"]["humans"]["ICC(A,1)"]["n"] == 3
    assert after["retest"]["humans"]["category_agreement"]["n"] == 3
    assert [m["who"] for m in after["retest"]["models"]] == ["ref-faithful"]


def test_study_page_and_report_json_show_people_and_models(
    client: Client, user: Any, study_with_people: Any
) -> None:
    study, _ = study_with_people
    client.force_login(user)

    page = client.get(f"/studies/{study.pk}/").content.decode()
    body = client.get(f"/studies/{study.pk}/report.json").json()

    assert 'id="people-and-models"' in page
    assert 'id="humans-induction"' in page
    assert "uniformly random responder" in page
    assert body["humans"]["n_response_sets"] == 3


def test_a_study_without_participants_says_how_to_invite_them(client: Client, user: Any, db: None) -> None:
    study = build_study(
        "nobody", models=("ref-faithful",), values=("prosocial",), trials_per_run=2, owner=user
    ).study
    client.force_login(user)

    page = client.get(f"/studies/{study.pk}/").content.decode()

    assert "Nobody has taken the slider yet" in page
    assert SvoLink.objects.count() == 0
