"""The typed report's edge forms: ``to_json`` gives plain JSON, and a cached report survives pickling."""

from __future__ import annotations

import enum
import io
import json
import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from rich.console import Console

from evaluation import selectors as evaluation_selectors
from evaluation import summary
from evaluation.management.commands.run_evaluation import json_row, summary_table
from stats import reports
from stats.agreement.estimate import Estimate
from stats.report_model import Report, to_json
from stats.sensitivity import Difference


class Arm(enum.Enum):
    BLIND = "blind"


@dataclass(frozen=True)
class Section:
    arm: Arm
    estimate: Estimate
    by_form: dict[str, Estimate]
    counts: tuple[np.int64, ...]
    share: np.float64
    missing: float


def test_to_json_flattens_dataclasses_mappings_numpy_enums_and_non_finite_numbers():
    estimate = Estimate(0.5, 0.25, 0.75, 10, "mean")
    section = Section(
        Arm.BLIND, estimate, {"ICC(1,1)": estimate}, (np.int64(3), np.int64(4)), np.float64(0.2), float("nan")
    )
    assert to_json(section) == {
        "arm": "blind",
        "estimate": estimate.to_dict(),
        "by_form": {"ICC(1,1)": estimate.to_dict()},
        "counts": [3, 4],
        "share": 0.2,
        "missing": None,
    }
    text = json.dumps(to_json(section), allow_nan=False)
    assert type(json.loads(text)["counts"][0]) is int


def test_to_json_refuses_what_has_no_json_form():
    with pytest.raises(TypeError, match="object"):
        to_json({"x": object()})


def test_a_difference_carries_its_total_n_as_a_field():
    difference = Difference(1.0, 0.5, 1.5, 0.01, 4, 6, "welch")
    assert difference.n == 10
    assert to_json(difference)["n"] == 10 == difference.to_dict()["n"]


def test_the_typed_report_pickles_for_the_cache(validated_study):
    report = reports.build_report(validated_study.study, n_boot=100)
    assert isinstance(report, Report)
    restored = pickle.loads(pickle.dumps(report))  # noqa: S301 -- bytes this test just made
    assert restored == report
    assert to_json(restored) == to_json(report)
    cell = report.automated.cells[0]
    assert (
        cell.value_rationality.value == to_json(report)["automated"]["cells"][0]["value_rationality"]["value"]
    )


def test_the_cli_table_and_the_report_cells_are_one_summary_with_one_ci_method(validated_study):
    report = reports.build_report(validated_study.study, n_boot=100)
    cli = evaluation_selectors.study_summaries(study=validated_study.study)
    assert len(cli) == len(report.automated.cells) == 16
    for summary_row, cell in zip(cli, report.automated.cells, strict=True):
        page = {key: value for key, value in to_json(cell).items() if key != "reference_agent"}
        assert json_row(summary_row) == page
        assert cell.angle.method == cell.value_rationality.method == summary.MEAN_METHOD
        assert cell.hit_rate.method == cell.transitive_rate.method == summary.SHARE_METHOD
    rendered = io.StringIO()
    Console(file=rendered, width=400).print(summary_table(cli))
    first = report.automated.cells[0].value_rationality
    assert f"{first.value:.3f} [{first.ci_low:.2f}, {first.ci_high:.2f}]" in rendered.getvalue()
