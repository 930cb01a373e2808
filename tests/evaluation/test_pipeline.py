"""The whole pipeline against the reference agents over real HTTP: client, protocol, extraction, scoring."""

from __future__ import annotations

import pytest

from evaluation import prompts, runner, services, svo
from evaluation.models import EvaluationRun, ItemResponse, LLMCall, Trial
from evaluation.reference_llm.server import ServerConfig, start_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def make_runs(
    study, endpoint, *, model: str, strategies=("plain",), n_trials=5, **design
) -> list[EvaluationRun]:
    runs = []
    for value in svo.VALUES:
        for strategy in strategies:
            run, created = services.evaluation_run_create(
                study=study,
                endpoint=endpoint,
                design=services.RunDesign(
                    model=model, value=value, strategy=strategy, n_trials=n_trials, **design
                ),
            )
            assert created
            runs.append(run)
    return runs


def true_choices(trial: Trial) -> dict[int, tuple[int, tuple[int, int]]]:
    """The option and allocation the reference agent really chose per item, from its response headers."""
    calls = LLMCall.objects.filter(trial=trial, purpose="item", http_status=200).exclude(response_headers={})
    truth = {}
    for call in calls:
        assert call.item is not None
        own, other = call.response_headers["x-reference-allocation"].split(",")
        truth[call.item] = (int(call.response_headers["x-reference-option"]), (int(own), int(other)))
    return truth


def test_faithful_agent_is_value_rational_and_hits_every_value(study, reference_endpoint) -> None:
    runs = make_runs(
        study,
        reference_endpoint,
        model="ref-faithful",
        strategies=("plain", "goal"),
        extractor_model="ref-extractor",
    )
    runner.execute_runs([r.pk for r in runs])
    for run in runs:
        run.refresh_from_db()
        assert run.status == EvaluationRun.Status.COMPLETED
        trials = list(run.trials.all())
        assert all(t.status == Trial.Status.SCORED for t in trials), [t.failure_reason for t in trials]
        assert all(t.category_hit for t in trials), run.value
        rationality = [t.value_rationality for t in trials if t.value_rationality is not None]
        assert len(rationality) == len(trials)
        assert sum(rationality) / len(trials) >= 0.95
        assert run.prompt_tokens > 0
        assert run.completion_tokens > 0


def test_extraction_matches_the_agents_true_choice(study, reference_endpoint) -> None:
    runs = make_runs(
        study,
        reference_endpoint,
        model="ref-random",
        n_trials=15,
        option_order="random",
        item_set="all",
        extractor_model="ref-extractor",
    )
    runner.execute_runs([r.pk for r in runs])
    compared = agreed = 0
    for trial in Trial.objects.filter(run__in=runs):
        truth = true_choices(trial)
        for response in trial.responses.all():
            assert response.item in truth
            compared += 1
            if response.extracted_option is not None:
                # Never silently wrong: an extracted option is the true one, with the true payoffs.
                option, allocation = truth[response.item]
                assert response.extracted_option == option, response.raw_text
                assert (response.payoff_self, response.payoff_other) == allocation
                agreed += 1
    assert compared == 4 * 15 * 15
    assert agreed / compared >= 0.99


def test_random_order_maps_labels_back_to_canonical_options(study, reference_endpoint) -> None:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=reference_endpoint,
        design=services.RunDesign(
            model="ref-faithful", value="competitive", n_trials=3, option_order="reversed"
        ),
    )
    runner.execute_runs([run.pk])
    for trial in run.trials.all():
        assert trial.status == Trial.Status.SCORED
        assert trial.angle == pytest.approx(-16.26, abs=0.01)
        first = trial.responses.get(item=1)
        assert first.presented_order == list(range(9, 0, -1))


def test_every_prompt_and_parameter_is_kept(study, reference_endpoint) -> None:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=reference_endpoint,
        design=services.RunDesign(
            model="ref-faithful", value="prosocial", strategy="goal", n_trials=1, seed=7
        ),
    )
    runner.execute_runs([run.pk])
    trial = run.trials.get()
    calls = list(LLMCall.objects.filter(trial=trial).order_by("id"))
    assert [c.purpose for c in calls] == ["value_description", "goal"] + ["item"] * 6
    assert all(c.returned_model == "ref-faithful" and c.system_fingerprint for c in calls)
    assert calls[0].params["seed"] == trial.seed
    assert calls[0].params["temperature"] == 1.0  # the dialogue variant's default
    assert len(trial.transcript) == 1 + 2 * 8
    assert set(run.prompt_versions) >= {"system", "value_description", "value_adoption", "goal", "item"}
    assert ItemResponse.objects.filter(trial=trial).count() == 6


def test_fault_injection_ends_with_every_trial_scored_or_failed_with_reason(study) -> None:
    faults = ServerConfig(
        host="127.0.0.1",
        port=0,
        rate_500=0.10,
        rate_429=0.05,
        retry_after=0.05,
        rate_timeout=0.02,
        hang_seconds=3.0,
        rate_malformed=0.03,
        fault_seed=3,
    )
    with start_in_thread(faults) as server:
        endpoint = services.endpoint_get_or_create(base_url=server.base_url, max_concurrency=16)
        endpoint.timeout_seconds = 1.0
        endpoint.save()
        runs = make_runs(study, endpoint, model="ref-faithful", n_trials=5, extractor_model="ref-extractor")
        runner.execute_runs([r.pk for r in runs])
    trials = Trial.objects.filter(run__in=runs)
    assert trials.count() == 20
    assert set(trials.values_list("status", flat=True)) <= {Trial.Status.SCORED, Trial.Status.FAILED}
    assert all(t.failure_reason for t in trials.filter(status=Trial.Status.FAILED))
    errors = LLMCall.objects.filter(run__in=runs).exclude(error="")
    assert errors.filter(http_status=500).exists()
    assert errors.filter(http_status=429).exists()
    assert errors.filter(error__startswith="timeout").exists()
    assert errors.filter(error__startswith="malformed").exists()
    assert trials.filter(status=Trial.Status.SCORED).count() >= 18
    for run in runs:
        run.refresh_from_db()
        assert run.status == EvaluationRun.Status.COMPLETED


def test_refusing_endpoint_gives_failed_items_not_crashes(study, reference_endpoint) -> None:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=reference_endpoint,
        design=services.RunDesign(model="ref-faithful", value="altruistic", n_trials=1),
    )
    services.evaluation_run_mark_started(run_ids=[run.pk])
    trial = services.trial_claim(run_ids=[run.pk], token="t")
    assert trial is not None
    outcome = services.TrialOutcome(
        transcript=[],
        items=[
            services.ItemOutcome(n, list(range(1, 10)), "I cannot choose.", None, "unparseable", "refusal")
            for n in range(1, 7)
        ],
    )
    assert services.trial_record_result(trial=trial, token="t", outcome=outcome)
    trial.refresh_from_db()
    assert trial.status == Trial.Status.FAILED
    assert "no option could be extracted" in trial.failure_reason
    assert trial.responses.count() == 6
    # A second write with the same (now spent) claim stores nothing.
    assert not services.trial_record_result(trial=trial, token="t", outcome=outcome)


def test_rerunning_the_same_design_reuses_the_run(study, reference_endpoint) -> None:
    design = services.RunDesign(model="ref-faithful", value="altruistic", n_trials=2)
    first, created = services.evaluation_run_create(study=study, endpoint=reference_endpoint, design=design)
    again, created_again = services.evaluation_run_create(
        study=study, endpoint=reference_endpoint, design=design
    )
    assert created
    assert not created_again
    assert first.pk == again.pk
    assert Trial.objects.filter(run=first).count() == 2


@pytest.mark.parametrize("variant", ["system", "paraphrase"])
def test_prompt_variants_are_a_factor_with_their_own_templates(study, reference_endpoint, variant) -> None:
    runs = make_runs(
        study,
        reference_endpoint,
        model="ref-faithful",
        strategies=("goal",),
        n_trials=2,
        prompt_variant=variant,
        extractor_model="ref-extractor",
    )
    runner.execute_runs([r.pk for r in runs])
    for run in runs:
        trials = list(run.trials.all())
        assert all(t.status == Trial.Status.SCORED and t.category_hit for t in trials), run.value
        sent = " ".join(m["content"] for m in trials[0].transcript if m["role"] != "assistant")
        for name in run.prompt_versions:
            assert name.startswith(f"{variant}.") or f"{variant}.{name}" not in prompts.TEMPLATES
        if variant == "paraphrase":
            assert "paraphrase.item" in run.prompt_versions
            assert "Choice 1/6. The options are:" in sent
        else:
            assert "system_value" in run.prompt_versions
            assert trials[0].transcript[0]["content"].count(run.value) == 1
