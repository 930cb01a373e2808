"""The position-bias analysis against ground truth: the reference agents' position-biased profile, run over real
HTTP in fixed and reversed order, must be recovered by the report within its confidence interval."""

from __future__ import annotations

import pytest

from evaluation import runner, services, svo
from evaluation.models import EvaluationRun, Trial
from evaluation.reference_llm import agents
from stats import reports
from stats.report_model import to_json

pytestmark = pytest.mark.django_db(transaction=True)


def test_report_recovers_the_position_biased_agents_probability(study, reference_endpoint) -> None:
    runs = [
        services.evaluation_run_create(
            study=study,
            endpoint=reference_endpoint,
            design=services.RunDesign(
                model="ref-position-biased", value=value, n_trials=12, option_order=order, seed=11
            ),
        )[0]
        for value in svo.VALUES
        for order in ("fixed", "reversed")
    ]
    runner.execute_runs([run.pk for run in runs])
    assert not Trial.objects.exclude(status=Trial.Status.SCORED).exists()
    assert set(EvaluationRun.objects.values_list("status", flat=True)) == {EvaluationRun.Status.COMPLETED}

    section = to_json(reports.build_report(study, n_boot=200))["sensitivity"]["position_bias"]
    (model,) = section["by_model"]
    first = model["position_pick_first"]
    assert first["n"] == 2 * 4 * 12 * len(svo.PRIMARY_ITEMS)
    assert first["ci_low"] <= agents.POSITION_BIAS_PROBABILITY <= first["ci_high"]
    assert first["p_value"] < 1e-6
    # Nothing is blamed on the last position: the agent never picks by it.
    assert model["position_pick_last"]["ci_low"] <= 0.05
    assert len(section["groups"]) == len(svo.VALUES)
    assert all(group["orders"] == ["fixed", "reversed"] for group in section["groups"])
