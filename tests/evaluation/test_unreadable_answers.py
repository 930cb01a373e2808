"""Unreadable answers: asked once more, read by the extractor, or failed, as the run's ``on_unreadable`` says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from evaluation import prompts, runner, services, svo
from evaluation.models import EvaluationRun, ItemResponse, LLMCall, Trial
from evaluation.reference_llm.server import ServerConfig, start_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def unreadable_server() -> Iterator[str]:
    """Reference agents that word every decision so that no deterministic parser reads it."""
    with start_in_thread(ServerConfig(host="127.0.0.1", port=0, unreadable_rate=1.0)) as server:
        yield server.base_url


@pytest.fixture
def unreadable_endpoint(db, unreadable_server: str):
    return services.endpoint_get_or_create(base_url=unreadable_server, max_concurrency=8)


def make_run(study, endpoint, *, value: str = "prosocial", n_trials: int = 2, **design: Any) -> EvaluationRun:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=endpoint,
        design=services.RunDesign(model="ref-faithful", value=value, n_trials=n_trials, **design),
    )
    runner.execute_runs([run.pk])
    run.refresh_from_db()
    return run


def truth(run: EvaluationRun) -> dict[tuple[int | None, int | None], int]:
    """(trial, item) -> the option the agent really chose, from its first answer's headers."""
    return {
        (c.trial_id, c.item): int(c.response_headers["x-reference-option"])
        for c in LLMCall.objects.filter(run=run, purpose="item", http_status=200)
    }


def test_unreadable_answer_is_asked_again_scored_and_counted(study, unreadable_endpoint) -> None:
    run = make_run(study, unreadable_endpoint)
    trials = list(run.trials.all())
    assert all(t.status == Trial.Status.SCORED for t in trials), [t.failure_reason for t in trials]
    assert all(t.value_rationality == pytest.approx(1.0) for t in trials)
    responses = list(ItemResponse.objects.filter(trial__run=run))
    assert len(responses) == 2 * 6
    assert all(r.reasked and r.extraction_method == "parser" for r in responses)
    assert all(r.extraction_detail.startswith("re-asked") for r in responses)
    chosen = truth(run)
    assert {(r.trial_id, r.item): r.extracted_option for r in responses} == chosen
    reasks = LLMCall.objects.filter(run=run, purpose="reask")
    assert reasks.count() == len(responses)
    assert {c.response_headers["x-reference-kind"] for c in reasks} == {"restatement"}
    for trial in trials:  # the clarification is its own turn in the conversation
        asked = [m for m in trial.transcript if m["content"] == prompts.TEMPLATES["reask"]]
        assert len(asked) == 6
        assert all(m["role"] == "user" for m in asked)


def test_reask_on_paper_tries_the_extractor_first(study, unreadable_endpoint) -> None:
    run = make_run(study, unreadable_endpoint, prompt_variant="paper", extractor_model="ref-extractor")
    responses = list(ItemResponse.objects.filter(trial__run=run))
    assert run.trials.filter(status=Trial.Status.SCORED).count() == 2
    assert all(r.extraction_method == "llm" and not r.reasked for r in responses)
    assert not LLMCall.objects.filter(run=run, purpose="reask").exists()
    assert {(r.trial_id, r.item): r.extracted_option for r in responses} == truth(run)


def test_reask_on_paper_without_extractor_uses_the_papers_request(study, unreadable_endpoint) -> None:
    run = make_run(study, unreadable_endpoint, prompt_variant="paper", strategy="goal")
    assert run.trials.filter(status=Trial.Status.SCORED).count() == 2
    reasks = list(LLMCall.objects.filter(run=run, purpose="reask"))
    assert len(reasks) == 12
    assert all(c.request_messages[-1]["content"] == prompts.TEMPLATES["paper.reask"] for c in reasks)
    assert all(c.response_text in prompts.option_labels("letters") for c in reasks), "one word, as asked"
    assert ItemResponse.objects.filter(trial__run=run, reasked=True).count() == 12


def test_extract_mode_never_asks_again(study, unreadable_endpoint) -> None:
    run = make_run(study, unreadable_endpoint, on_unreadable="extract", extractor_model="ref-extractor")
    assert run.trials.filter(status=Trial.Status.SCORED).count() == 2
    assert not LLMCall.objects.filter(run=run, purpose="reask").exists()
    assert set(ItemResponse.objects.filter(trial__run=run).values_list("extraction_method", flat=True)) == {
        "llm"
    }


@pytest.mark.parametrize("mode", ["fail", "extract"])
def test_without_recovery_the_trial_fails_with_its_reason(study, unreadable_endpoint, mode) -> None:
    run = make_run(study, unreadable_endpoint, on_unreadable=mode)
    trials = list(run.trials.all())
    assert all(t.status == Trial.Status.FAILED for t in trials)
    assert all(
        "no option could be extracted for item(s) 1, 2, 3, 4, 5, 6" in t.failure_reason for t in trials
    )
    assert run.status == EvaluationRun.Status.COMPLETED
    assert not LLMCall.objects.filter(run=run, purpose__in=["reask", "extraction"]).exists()
    assert set(ItemResponse.objects.filter(trial__run=run).values_list("extraction_method", flat=True)) == {
        "unparseable"
    }


def test_readable_answers_cost_nothing_more(study, reference_endpoint) -> None:
    run = make_run(study, reference_endpoint, value="competitive", n_trials=4)
    reasked = ItemResponse.objects.filter(trial__run=run, reasked=True).count()
    assert LLMCall.objects.filter(run=run, purpose="reask").count() == reasked
    parsed_first = ItemResponse.objects.filter(
        trial__run=run, reasked=False, extraction_method="parser"
    ).count()
    assert parsed_first + reasked == 4 * 6
    assert LLMCall.objects.filter(run=run).count() == 4 * (1 + 6) + reasked


@pytest.mark.parametrize("strategy", ["plain", "goal"])
def test_faithful_agent_with_no_extractor_scores_every_trial(study, reference_endpoint, strategy) -> None:
    """A new user's first run (no extractor): the parser-hard answers are asked about again, none is lost."""
    runs = []
    for value in svo.VALUES:
        run, _ = services.evaluation_run_create(
            study=study,
            endpoint=reference_endpoint,
            design=services.RunDesign(model="ref-faithful", value=value, strategy=strategy, n_trials=8),
        )
        runs.append(run)
    runner.execute_runs([r.pk for r in runs])
    trials = Trial.objects.filter(run__in=runs)
    assert trials.count() == 32
    assert trials.filter(status=Trial.Status.SCORED).count() == 32, list(
        trials.exclude(status=Trial.Status.SCORED).values_list("failure_reason", flat=True)
    )
