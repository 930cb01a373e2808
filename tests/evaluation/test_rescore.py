"""Rescoring a study's stored trials under named definitions: from the stored choices, no model asked."""

from __future__ import annotations

import dataclasses
import socket
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from evaluation import rescoring, services, svo
from evaluation.models import EvaluationRun, ItemResponse, LLMCall, ModelEndpoint, Study, Trial
from hvae_site.api import DomainError
from stats import selectors as stats_selectors
from tests.processes import manage

V1 = "hvae-svo/1"
V2 = "hvae-svo/2"
TEXTBOOK_PROSOCIAL = [1, 9, 9, 1, 5, 9]
INDIVIDUALIST_MIDDLE = [5, 9, 9, 9, 1, 1]  # the v2 ideal: angle exactly 0, v1 target 0.025
ALTRUIST = [1, 9, 1, 1, 9, 9]  # scores alike under both versions

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_endpoint(db) -> ModelEndpoint:
    # Port 9 (discard) is closed on loopback: any request would fail.
    return ModelEndpoint.objects.create(name="closed", base_url="http://127.0.0.1:9/v1", is_reference=True)


def make_run(study: Study, endpoint: ModelEndpoint, value: str, **design) -> EvaluationRun:
    return EvaluationRun.objects.create(
        study=study,
        endpoint=endpoint,
        model=design.pop("model", "ref-faithful"),
        value=value,
        n_trials=2,
        status=EvaluationRun.Status.COMPLETED,
        definitions_version=V1,
        **design,
    )


def add_trial(run: EvaluationRun, choices: list[int], *, definitions: str = V1) -> Trial:
    """A scored trial as the pipeline stored it under ``definitions`` (stored v1 numbers by default)."""
    score = svo.score_value(run.value, choices, definitions=definitions)
    trial = Trial.objects.create(
        run=run,
        index=run.trials.count(),
        status=Trial.Status.SCORED,
        **rescoring.score_fields(score),
    )
    items = svo.ALL_ITEMS if len(choices) == len(svo.ALL_ITEMS) else svo.PRIMARY_ITEMS
    ItemResponse.objects.bulk_create(
        ItemResponse(
            trial=trial,
            item=item.number,
            presented_order=list(range(1, 10)),
            raw_text=f"Option {option}.",
            extracted_option=option,
            extraction_method=ItemResponse.Method.PARSER,
            payoff_self=item.allocation(option)[0],
            payoff_other=item.allocation(option)[1],
        )
        for item, option in zip(items, choices, strict=True)
    )
    return trial


@pytest.fixture
def v1_study(closed_endpoint) -> Study:
    """Runs scored under hvae-svo/1: prosocial (VR changes), individualistic (target changes), altruistic
    (nothing changes), and a failed trial (no scores to recompute)."""
    study = Study.objects.create(name="scored under v1")
    prosocial = make_run(study, closed_endpoint, "prosocial")
    add_trial(prosocial, TEXTBOOK_PROSOCIAL)
    add_trial(prosocial, TEXTBOOK_PROSOCIAL + svo.ideal_choices("prosocial", svo.SECONDARY_ITEMS))
    individualistic = make_run(study, closed_endpoint, "individualistic")
    add_trial(individualistic, INDIVIDUALIST_MIDDLE)
    altruistic = make_run(study, closed_endpoint, "altruistic")
    add_trial(altruistic, ALTRUIST)
    Trial.objects.create(run=altruistic, index=1, status=Trial.Status.FAILED, failure_reason="no option")
    return study


def stored(trial: Trial) -> dict[str, Any]:
    trial.refresh_from_db()
    return {name: getattr(trial, name) for name in rescoring.SCORE_FIELDS}


def expected(trial: Trial, definitions: str) -> dict[str, Any]:
    choices = [r.extracted_option or 0 for r in trial.responses.order_by("item")]
    return rescoring.score_fields(svo.score_value(trial.run.value, choices, definitions=definitions))


def test_rescore_turns_stored_v1_scores_into_v2(v1_study) -> None:
    before = {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study, status="scored")}
    result = rescoring.study_rescore(study=v1_study, definitions=V2)
    assert dataclasses.astuple(result) == (V2, 4, 3, 2, 3)
    for trial in Trial.objects.filter(run__study=v1_study, status="scored").select_related("run"):
        assert stored(trial) == expected(trial, V2)
        if trial.run.value == "altruistic":
            assert stored(trial) == before[trial.pk]
    prosocial = Trial.objects.filter(run__study=v1_study, run__value="prosocial").order_by("index")
    assert before[prosocial[0].pk]["value_rationality"] == pytest.approx(5 / 6)
    assert before[prosocial[1].pk]["value_rationality"] < 1.0
    assert [t.value_rationality for t in prosocial] == [1.0, 1.0]
    individualistic = Trial.objects.get(run__study=v1_study, run__value="individualistic")
    assert before[individualistic.pk]["target_angle"] == pytest.approx(0.025, abs=0.0005)
    assert (individualistic.target_angle, individualistic.angular_deviation) == (0.0, 0.0)
    assert set(
        EvaluationRun.objects.filter(study=v1_study).values_list("definitions_version", flat=True)
    ) == {V2}
    failed = Trial.objects.get(run__study=v1_study, status="failed")
    assert failed.value_rationality is None


def test_rescore_is_idempotent(v1_study) -> None:
    rescoring.study_rescore(study=v1_study, definitions=V2)
    after_first = {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study)}
    again = rescoring.study_rescore(study=v1_study, definitions=V2)
    assert (again.trials_seen, again.trials_changed, again.cells_changed, again.runs_updated) == (4, 0, 0, 0)
    assert {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study)} == after_first


def test_rescore_under_v1_reproduces_the_old_numbers_exactly(v1_study) -> None:
    original = {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study)}
    rescoring.study_rescore(study=v1_study, definitions=V2)
    back = rescoring.study_rescore(study=v1_study, definitions=V1)
    assert (back.trials_changed, back.runs_updated) == (3, 3)
    assert {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study)} == original


def test_rescore_asks_no_model(v1_study, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("rescoring opened a network connection")

    # The database driver (libpq) does not use Python sockets; any HTTP client would.
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    calls_before = LLMCall.objects.count()
    call_command("rescore", study=v1_study.name, stdout=StringIO())
    assert LLMCall.objects.count() == calls_before == 0
    assert Trial.objects.get(run__study=v1_study, run__value="prosocial", index=0).value_rationality == 1.0


def test_cells_count_designs_not_runs(closed_endpoint) -> None:
    study = Study.objects.create(name="designs")
    for order in ("fixed", "fixed", "reversed"):
        add_trial(make_run(study, closed_endpoint, "prosocial", option_order=order), TEXTBOOK_PROSOCIAL)
    add_trial(make_run(study, closed_endpoint, "prosocial", model="other-model"), TEXTBOOK_PROSOCIAL)
    result = rescoring.study_rescore(study=study, definitions=V2)
    assert (result.trials_changed, result.cells_changed, result.runs_updated) == (4, 3, 4)


def test_command_prints_what_changed(v1_study) -> None:
    out = StringIO()
    call_command("rescore", "--study", str(v1_study.pk), "--definitions", V2, stdout=out)
    assert "3 of 4 trials changed, in 2 report cell(s); 3 run(s) now record hvae-svo/2" in out.getvalue()
    out = StringIO()
    call_command("rescore", "--study", v1_study.name, stdout=out)
    assert "0 of 4 trials changed, in 0 report cell(s); 0 run(s)" in out.getvalue()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"study": "no such study"}, "no study named or numbered 'no such study'"),
        ({"study": "scored under v1", "definitions": "hvae-svo/9"}, "unknown definitions 'hvae-svo/9'"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(v1_study, options, message) -> None:
    before = {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study)}
    with pytest.raises(CommandError, match=message) as error:
        call_command("rescore", stdout=StringIO(), **options)
    assert error.value.returncode == 2
    assert {t.pk: stored(t) for t in Trial.objects.filter(run__study=v1_study)} == before


def test_a_running_run_is_refused_and_nothing_saved(v1_study) -> None:
    run = EvaluationRun.objects.filter(study=v1_study).first()
    assert run is not None
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.RUNNING)
    with pytest.raises(CommandError, match="running; rescore once") as error:
        call_command("rescore", study=v1_study.name, stdout=StringIO())
    assert error.value.returncode == 2
    assert set(
        EvaluationRun.objects.filter(study=v1_study).values_list("definitions_version", flat=True)
    ) == {V1}


def test_scored_trial_without_its_choices_is_refused_atomically(v1_study) -> None:
    trial = Trial.objects.filter(run__study=v1_study, run__value="prosocial").first()
    assert trial is not None
    trial.responses.filter(item=3).delete()
    with pytest.raises(DomainError, match="stored choices cannot be scored"):
        rescoring.study_rescore(study=v1_study, definitions=V2)
    assert set(
        EvaluationRun.objects.filter(study=v1_study).values_list("definitions_version", flat=True)
    ) == {V1}
    assert Trial.objects.get(run__study=v1_study, run__value="prosocial", index=0).value_rationality == 5 / 6


def test_service_refuses_unknown_definitions(v1_study) -> None:
    with pytest.raises(DomainError, match="known definitions: hvae-svo/1, hvae-svo/2"):
        rescoring.study_rescore(study=v1_study, definitions="v2")


def test_rescoring_changes_the_report_cache_key(v1_study) -> None:
    before = stats_selectors.report_state(study=v1_study)
    rescoring.study_rescore(study=v1_study, definitions=V2)
    assert stats_selectors.report_state(study=v1_study) != before


def test_new_trials_are_scored_under_their_runs_definitions(v1_study, closed_endpoint) -> None:
    for definitions, rationality in ((V1, 5 / 6), (V2, 1.0)):
        run = make_run(v1_study, closed_endpoint, "prosocial")
        EvaluationRun.objects.filter(pk=run.pk).update(definitions_version=definitions)
        trial = Trial.objects.create(run=run, index=0, status=Trial.Status.RUNNING, claim_token="token")
        outcome = services.TrialOutcome(
            transcript=[],
            items=[
                services.ItemOutcome(item.number, list(range(1, 10)), f"{o}", o, "parser", "")
                for item, o in zip(svo.PRIMARY_ITEMS, TEXTBOOK_PROSOCIAL, strict=True)
            ],
        )
        assert services.trial_record_result(
            trial=Trial.objects.select_related("run").get(pk=trial.pk), token="token", outcome=outcome
        )
        trial.refresh_from_db()
        assert trial.value_rationality == pytest.approx(rationality)


def test_new_runs_use_the_current_definitions(closed_endpoint) -> None:
    run = EvaluationRun.objects.create(
        study=Study.objects.create(name="new"),
        endpoint=closed_endpoint,
        model="m",
        value="prosocial",
        n_trials=1,
    )
    assert run.definitions_version == svo.DEFINITIONS_VERSION == V2


@pytest.mark.django_db(transaction=True)
def test_process_exit_code_is_2_for_an_unknown_study() -> None:
    process = manage("rescore", "--study", "nowhere")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "no study named or numbered 'nowhere'" in stderr
    assert "Traceback" not in stderr
