"""The per-cell summary shared by the CLI and the report: cells keep designs apart, failures are counted, and
value rationality is given over scored trials and intention-to-treat, with the report's interval methods."""

from __future__ import annotations

import math

import pytest
from scipy.stats import t as t_distribution

from evaluation.summary import (
    DESIGN_KEYS,
    CellKey,
    Design,
    ItemCounts,
    TrialRow,
    mean_interval,
    share_interval,
    summarise,
)
from stats import comparison

DIALOGUE = Design("dialogue", "fixed", "letters", 1.0, "primary", "hvae-svo/2")


def _row(
    design: Design, status: str = "scored", vr: float | None = 0.9, angle: float | None = 40.0
) -> TrialRow:
    key = CellKey("m", "prosocial", "plain", design)
    return TrialRow(key, status, angle, "prosocial" if status == "scored" else "", vr, True, True, 5.0, 45.0)


def test_runs_differing_only_in_temperature_are_summarised_apart():
    rows = [
        _row(DIALOGUE),
        _row(DIALOGUE),
        _row(DIALOGUE.replace(temperature=None)),
        _row(DIALOGUE.replace(temperature=0.0)),
    ]
    summaries = summarise(rows)
    assert [s.design.temperature for s in summaries] == [None, 0.0, 1.0]
    assert [s.n_trials for s in summaries] == [1, 1, 2]
    assert all(tuple(s.to_dict()["design"]) == DESIGN_KEYS for s in summaries)


def test_intention_to_treat_counts_a_failed_trial_at_zero():
    rows = [_row(DIALOGUE, vr=0.8), _row(DIALOGUE, vr=1.0), _row(DIALOGUE, "failed", vr=None, angle=None)]
    items = {rows[0].key: ItemCounts({"parser": 10, "llm": 1, "unparseable": 1}, reasked=2)}
    (cell,) = summarise(rows, items)
    assert cell.value_rationality.value == pytest.approx(0.9)
    assert cell.value_rationality_itt.value == pytest.approx(0.6)
    assert cell.value_rationality_itt.value is not None
    assert cell.value_rationality.value is not None
    assert cell.value_rationality_itt.value < cell.value_rationality.value
    assert cell.value_rationality_itt.n == 3
    assert cell.failures == {
        "reasked_items": 2,
        "extractor_read_items": 1,
        "failed_items": 1,
        "failed_trials": 1,
    }
    assert cell.n_scored == 2
    assert cell.n_failed == 1


def test_intervals_are_the_reports_student_t_and_wilson():
    values = [0.2, 0.5, 0.9, 0.4]
    interval = mean_interval(values)
    half = t_distribution.ppf(0.975, 3) * math_sd(values) / 2
    assert interval.ci_low == pytest.approx(sum(values) / 4 - half)
    assert interval.to_dict() == pytest.approx(comparison.mean_estimate(values).to_dict())
    flags = [True, True, False, None]
    assert share_interval(flags).to_dict() == pytest.approx(comparison.proportion(flags).to_dict())
    assert mean_interval([1.0]).value is None


def math_sd(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
