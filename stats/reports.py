"""The study report: automated results, consistency, human validation and methods, as one JSON-ready dict.

Every figure carries its n and 95% CI (an ``Estimate`` as a dict); too little data reads "not enough data
(n = ...)". The report and its figures are cached per study under a key that changes with any new trial
result, judgment, rater flag or run, so the study page is served from the cached computation.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pandas as pd
from django.core.cache import cache

from evaluation import prompts, svo
from evaluation.models import Study
from stats import comparison, consistency, human_selectors, plots, validation
from stats import selectors as stats_selectors

REPORT_VERSION = "hvae-report/2"
CACHE_SECONDS = 24 * 3600
DEFAULT_SEED = 0
DEFAULT_N_BOOT = 1000
SCORED = "scored"
FAILED = "failed"
CELL = ["model", "value", "strategy"]
ANGLE_BIN_DEGREES = 2.5
EXTRACTION_METHODS = ("parser", "llm", "unparseable")


def _number(value: Any) -> float | None:
    """A plain float, or None for missing and non-finite values (JSON has no NaN)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python numbers, NaN and missing as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _scored(trials: pd.DataFrame) -> pd.DataFrame:
    scored = trials[trials["status"] == SCORED].copy()
    for column in ("angle", "value_rationality", "angular_deviation", "target_angle"):
        scored[column] = pd.to_numeric(scored[column], errors="coerce").astype(np.float64)
    scored["category"] = scored["category"].astype(object).where(scored["category"] != "", None)
    return scored


# ---------------------------------------------------------------------------------------------------------
# automated results


def _cell_row(key: tuple[str, str, str], cell: pd.DataFrame, methods: dict[str, int]) -> dict[str, Any]:
    scored = cell[cell["status"] == SCORED]
    angles = pd.to_numeric(scored["angle"], errors="coerce").dropna()
    categories = scored["category"].value_counts()
    deviation = pd.to_numeric(scored["angular_deviation"], errors="coerce").dropna()
    return {
        "model": key[0],
        "value": key[1],
        "strategy": key[2],
        "reference_agent": bool(cell["reference_agent"].any()),
        "n_trials": len(cell),
        "n_scored": len(scored),
        "n_failed": int((cell["status"] == FAILED).sum()),
        "angle": comparison.mean_estimate(angles.tolist()).to_dict(),
        "mean_angle": _number(angles.mean()) if len(angles) else None,
        "sd_angle": _number(angles.std(ddof=1)) if len(angles) > 1 else None,
        "target_angle": svo.target_angle(key[1]) if key[1] in svo.VALUES else None,
        "mean_angular_deviation": _number(deviation.mean()) if len(deviation) else None,
        "categories": {category: int(categories.get(category, 0)) for category in svo.CATEGORIES},
        "value_rationality": comparison.mean_estimate(
            pd.to_numeric(scored["value_rationality"], errors="coerce").tolist()
        ).to_dict(),
        "hit_rate": comparison.proportion(
            [None if x is None else bool(x) for x in scored["category_hit"]]
        ).to_dict(),
        "transitive_rate": comparison.proportion(
            [None if x is None else bool(x) for x in scored["transitive"]]
        ).to_dict(),
        "extraction": {method: int(methods.get(method, 0)) for method in EXTRACTION_METHODS},
    }


def automated_section(trials: pd.DataFrame, extraction: pd.DataFrame) -> dict[str, Any]:
    """Per (model, value, strategy) cell: counts, angle, categories, value rationality, hit and transitivity
    rates; goal vs plain; the value-rationality heatmap and the angle distribution on the SVO ring."""
    methods: dict[tuple[str, str, str], dict[str, int]] = {}
    for model, value, strategy, method, n in extraction.itertuples(index=False):
        methods.setdefault((model, value, strategy), {})[method] = int(n)
    cells = [_cell_row(key, cell, methods.get(key, {})) for key, cell in trials.groupby(CELL, sort=True)]
    scored = _scored(trials)
    goal_vs_plain = []
    for (model, value), pair in scored.groupby(["model", "value"], sort=True):
        by_strategy = {s: c["value_rationality"].tolist() for s, c in pair.groupby("strategy")}
        if "goal" in by_strategy and "plain" in by_strategy:
            difference = comparison.mean_difference(by_strategy["plain"], by_strategy["goal"])
            goal_vs_plain.append(
                {
                    "model": model,
                    "value": value,
                    "vr_plain": comparison.mean_estimate(by_strategy["plain"]).to_dict(),
                    "vr_goal": comparison.mean_estimate(by_strategy["goal"]).to_dict(),
                    "difference": difference.to_dict(),
                }
            )
    rows = sorted({(c["model"], c["strategy"]) for c in cells})
    values = [v for v in svo.VALUES if any(c["value"] == v for c in cells)]
    vr = {(c["model"], c["strategy"], c["value"]): c["value_rationality"]["value"] for c in cells}
    heatmap = {
        "rows": [f"{model} · {strategy}" for model, strategy in rows],
        "columns": values,
        "cells": [[vr.get((model, strategy, value)) for value in values] for model, strategy in rows],
    }
    edges = np.arange(-45.0, 90.0 + ANGLE_BIN_DEGREES, ANGLE_BIN_DEGREES)
    histogram = {
        str(value): np.histogram(group["angle"].dropna().clip(-45, 90), bins=edges)[0].astype(int).tolist()
        for value, group in scored.groupby("value", sort=True)
    }
    return {
        "cells": cells,
        "goal_vs_plain": goal_vs_plain,
        "heatmap": heatmap,
        "angle_histogram": {"edges": edges.tolist(), "counts_by_value": histogram},
        "n_trials": len(trials),
        "n_scored": len(scored),
    }


# ---------------------------------------------------------------------------------------------------------
# consistency


def consistency_section(trials: pd.DataFrame, *, seed: int, n_boot: int) -> dict[str, Any]:
    """Repeated-trial consistency per cell and across cells; test-retest between the first two runs of each
    configuration that was run more than once; the human test-retest norm for comparison."""
    scored = _scored(trials)
    frame = scored[[*consistency.TRIAL_COLUMNS, "run_id"]]
    cells = consistency.cell_consistency(frame)
    across = consistency.across_cells(frame, seed=seed, n_boot=n_boot)
    runs = frame.groupby(CELL, sort=True)["run_id"].unique()
    repeated = runs[runs.map(len) >= 2]
    first_ids = {sorted(ids)[0] for ids in repeated}
    second_ids = {sorted(ids)[1] for ids in repeated}
    retest = consistency.test_retest(
        frame[frame["run_id"].isin(first_ids)], frame[frame["run_id"].isin(second_ids)]
    )
    return {
        "cells": [
            {key: _plain(value) for key, value in row.items()} for row in cells.to_dict(orient="records")
        ],
        "across_cells": {name: e.to_dict() for name, e in across.items()},
        "test_retest": {name: e.to_dict() for name, e in retest.items()},
        "test_retest_cells": len(repeated),
        "human_norm_icc": consistency.HUMAN_TEST_RETEST_ICC,
        "human_norm_source": (
            "de Matos Fernandes, Bakker & Dijkstra (2022), Judgment and Decision Making 17(1): "
            "test-retest ICC of the SVO Slider Measure angle over six monthly waves"
        ),
    }


# ---------------------------------------------------------------------------------------------------------
# human validation


def human_section(
    study: Study, trials: pd.DataFrame, *, include_flagged: bool, seed: int, n_boot: int
) -> dict[str, Any]:
    """Human validation for the whole study and, when it has several batches, for each batch."""
    judgments = stats_selectors.judgments_frame(study=study)
    audited = judgments.loc[judgments["audit"].map(bool).astype(bool), "trial_id"].unique().tolist()
    responses = stats_selectors.audited_responses_frame(trial_ids=audited)
    automated = _scored(trials)[["trial_id", "category", "angle"]]

    def compute(subset: pd.DataFrame) -> dict[str, Any]:
        return validation.human_validation(
            automated, subset, responses, include_flagged=include_flagged, seed=seed, n_boot=n_boot
        )

    section = compute(judgments)
    batch_ids = sorted(judgments["batch_id"].unique().tolist())
    section["batches"] = (
        [{"batch": int(b), **compute(judgments[judgments["batch_id"] == b])} for b in batch_ids]
        if len(batch_ids) > 1
        else []
    )
    return section


# ---------------------------------------------------------------------------------------------------------
# methods and the whole report


def methods_section(study: Study) -> dict[str, Any]:
    record = stats_selectors.methods_record(study=study)
    return {
        "definitions_version": svo.DEFINITIONS_VERSION,
        "definitions_versions_of_runs": sorted({run["definitions_version"] for run in record["runs"]}),
        "report_version": REPORT_VERSION,
        "items": "primary items 1-6 give the angle and category; secondary items 7-15, when administered, "
        "the inequality-aversion index (Murphy, Ackermann & Handgraaf 2011)",
        "category_bounds": {
            "altruistic": f"angle > {svo.ALTRUISTIC_ABOVE}",
            "prosocial": f"{svo.PROSOCIAL_ABOVE} < angle <= {svo.ALTRUISTIC_ABOVE}",
            "individualistic": f"{svo.INDIVIDUALISTIC_ABOVE} < angle <= {svo.PROSOCIAL_ABOVE}",
            "competitive": f"angle <= {svo.INDIVIDUALISTIC_ABOVE}",
        },
        "target_angles": {value: svo.target_angle(value) for value in svo.VALUES},
        "value_definitions": dict(prompts.VALUE_DEFINITIONS),
        **record,
    }


def build_report(
    study: Study, *, include_flagged: bool = False, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> dict[str, Any]:
    """The full report of a study, computed now (see ``cached_report`` for the cached one)."""
    trials = stats_selectors.trials_frame(study=study)
    extraction = stats_selectors.extraction_counts(study=study)
    return {
        "study": {"id": study.pk, "name": study.name, "description": study.description},
        "settings": {"include_flagged": include_flagged, "seed": seed, "n_boot": n_boot},
        "automated": automated_section(trials, extraction),
        "consistency": consistency_section(trials, seed=seed, n_boot=n_boot),
        "human": human_section(study, trials, include_flagged=include_flagged, seed=seed, n_boot=n_boot),
        "methods": methods_section(study),
        "humans": human_selectors.humans_section(study, trials, include_flagged=include_flagged),
    }


def _cache_key(study: Study, include_flagged: bool, seed: int, n_boot: int) -> str:
    state = f"{REPORT_VERSION}|{seed}|{n_boot}|{stats_selectors.report_state(study=study)}"
    state += human_selectors.humans_state(study=study)
    digest = hashlib.sha256(state.encode()).hexdigest()[:24]
    return f"hvae:report:{study.pk}:{int(include_flagged)}:{digest}"


def cached_report_and_figures(
    study: Study, *, include_flagged: bool = False, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> tuple[dict[str, Any], dict[str, str]]:
    """The report and its SVG figures from the cache while nothing in the study changed; else computed."""
    key = _cache_key(study, include_flagged, seed, n_boot)
    cached = cache.get(key)
    if cached is None:
        report = build_report(study, include_flagged=include_flagged, seed=seed, n_boot=n_boot)
        cached = (report, plots.report_figures(report))
        cache.set(key, cached, CACHE_SECONDS)
    return cached  # type: ignore[no-any-return]


def cached_report(study: Study, *, include_flagged: bool = False) -> dict[str, Any]:
    return cached_report_and_figures(study, include_flagged=include_flagged)[0]


# ---------------------------------------------------------------------------------------------------------
# tables for CSV


def _flat(prefix: str, estimate: dict[str, Any]) -> dict[str, Any]:
    return {
        prefix: estimate["value"],
        f"{prefix}_ci_low": estimate["ci_low"],
        f"{prefix}_ci_high": estimate["ci_high"],
        f"{prefix}_n": estimate["n"],
        f"{prefix}_note": estimate["note"],
    }


def _estimate_rows(section: str, estimates: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, estimate in estimates.items():
        if isinstance(estimate, dict) and "method" in estimate:
            rows.append({"section": section, "statistic": name, **estimate})
        elif isinstance(estimate, dict):
            rows += _estimate_rows(f"{section} {name}", estimate)
    return rows


TABLE_NAMES = (
    "automated",
    "goal_vs_plain",
    "consistency_cells",
    "consistency",
    "agreement",
    "confusion_matrix",
    "gold_accuracy",
    "runs",
)
"""The report's tables, each downloadable as CSV (``report_tables`` builds them)."""

HUMAN_STATISTICS = (
    "kappa_vs_majority",
    "weighted_kappa_vs_majority",
    "accuracy_vs_majority",
    "mean_kappa_vs_raters",
    "mean_weighted_kappa_vs_raters",
    "icc_automated_as_rater",
    "icc_automated_vs_human_mean",
    "fleiss_kappa",
    "alpha_categories",
    "alpha_angles",
    "icc_among_raters",
    "extraction_audit",
)


def _agreement_rows(human: dict[str, Any], scope: str) -> list[dict[str, Any]]:
    estimates = {name: human[name] for name in HUMAN_STATISTICS}
    estimates["bland_altman"] = {k: human["bland_altman"][k] for k in ("bias", "lower_limit", "upper_limit")}
    return [{"scope": scope, **row} for row in _estimate_rows("human", estimates)]


def report_tables(report: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of the report as a DataFrame, for CSV download (the same numbers as the page and JSON)."""
    automated = []
    for cell in report["automated"]["cells"]:
        row = {key: cell[key] for key in (*CELL, "reference_agent", "n_trials", "n_scored", "n_failed")}
        row.update({key: cell[key] for key in ("sd_angle", "target_angle", "mean_angular_deviation")})
        row.update({f"n_{category}": count for category, count in cell["categories"].items()})
        for name in ("angle", "value_rationality", "hit_rate", "transitive_rate"):
            row.update(_flat(name, cell[name]))
        row.update({f"extraction_{method}": n for method, n in cell["extraction"].items()})
        automated.append(row)
    goal_vs_plain = [
        {
            "model": row["model"],
            "value": row["value"],
            **_flat("vr_plain", row["vr_plain"]),
            **_flat("vr_goal", row["vr_goal"]),
            **_flat("difference", row["difference"]),
        }
        for row in report["automated"]["goal_vs_plain"]
    ]
    human = report["human"]
    agreement_rows = _agreement_rows(human, "study")
    for batch in human["batches"]:
        agreement_rows += _agreement_rows(batch, f"batch {batch['batch']}")
    labels = human["confusion_matrix"]["labels"]
    confusion = pd.DataFrame(
        human["confusion_matrix"]["rows_automated_columns_majority"], index=labels, columns=labels
    )
    consistency_rows = _estimate_rows("across cells", report["consistency"]["across_cells"]) + _estimate_rows(
        "test-retest", report["consistency"]["test_retest"]
    )
    return {
        "automated": pd.DataFrame(automated),
        "goal_vs_plain": pd.DataFrame(goal_vs_plain),
        "consistency_cells": pd.DataFrame(report["consistency"]["cells"]),
        "consistency": pd.DataFrame(consistency_rows),
        "agreement": pd.DataFrame(agreement_rows),
        "confusion_matrix": confusion.rename_axis("automated \\ majority").reset_index(),
        "gold_accuracy": pd.DataFrame(human["gold_accuracy"]),
        "runs": pd.DataFrame(report["methods"]["runs"]),
    }
