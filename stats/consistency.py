"""Repeated-trial consistency of automated SVO results: within a cell, across cells, and between runs.

Pure module (numpy, pandas, scipy; no Django). The input is one row per scored trial with the columns
``model, value, strategy, trial, angle, category, value_rationality`` and optionally ``design``; a cell is one
(model, value, strategy, design) configuration and its trials are exchangeable repeated measurements of it.

Sources
-------
- Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater reliability.
  Psychological Bulletin 86(2), 420-428.
- McGraw, K. O. & Wong, S. P. (1996). Forming inferences about some intraclass correlation coefficients.
  Psychological Methods 1(1), 30-46.
- Donner, A. (1986). A review of inference procedures for the intraclass correlation coefficient in the
  one-way random effects model. International Statistical Review 54(1), 67-82.
- Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. University of Pennsylvania,
  Departmental Papers 43.
- Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced from a small sample.
  Metron 1, 3-32 (the z transformation behind the interval for Pearson's r).
- de Matos Fernandes, C. A., Bakker, D. M. & Dijkstra, J. (2022). Assessing the test-retest reliability of the
  social value orientation slider measure. Judgment and Decision Making 17(1), 31-49.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stats.agreement import Estimate, accuracy, icc, icc_one_way, krippendorff_alpha_of_units

HUMAN_TEST_RETEST_ICC = 0.78
"""Test-retest ICC of the SVO Slider Measure angle in people: N = 495 adults measured in six monthly waves
(de Matos Fernandes, Bakker & Dijkstra 2022, Judgment and Decision Making 17(1), 31-49). The human norm an
LLM's run-to-run consistency is read against."""

TRIAL_COLUMNS = ("model", "value", "strategy", "trial", "angle", "category", "value_rationality")
DESIGN_COLUMN = "design"
"""Optional column: a label of the run's design (variant, order, labels, temperature, items, definitions).
Trials of different designs are different cells, never pooled; without the column every trial has design ""."""
CELL_COLUMNS = ["model", "value", "strategy", DESIGN_COLUMN]
CELL_SUMMARY_COLUMNS = [
    *CELL_COLUMNS,
    "n",
    "mean_angle",
    "sd_angle",
    "modal_category",
    "modal_share",
    "vr_mean",
    "vr_sd",
]
_Z = 1.959963984540054  # standard normal quantile 0.975
FloatArray = npt.NDArray[np.float64]


def _checked_trials(df: Any, what: str = "trials") -> pd.DataFrame:
    """The trials with numeric angle and value rationality; ValueError naming what is wrong otherwise."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a DataFrame, got {type(df).__name__}")
    missing = [column for column in TRIAL_COLUMNS if column not in df.columns]
    if missing:
        raise ValueError(f"{what} lack the columns {missing}; expected {list(TRIAL_COLUMNS)}")
    frame = df[list(TRIAL_COLUMNS)].copy()
    design = df[DESIGN_COLUMN] if DESIGN_COLUMN in df.columns else pd.Series("", index=df.index)
    frame[DESIGN_COLUMN] = design.astype(object).where(design.notna(), "").astype(str)
    for column in ("angle", "value_rationality"):
        numeric = pd.to_numeric(frame[column], errors="coerce")
        wrong = frame.loc[numeric.isna() & frame[column].notna(), column]
        if len(wrong):
            raise ValueError(f"{what}: {column!r} must be numeric, got {list(wrong.unique()[:3])!r}")
        frame[column] = numeric.astype(np.float64)
    for column in CELL_COLUMNS:
        if frame[column].isna().any():
            raise ValueError(f"{what}: {_count(int(frame[column].isna().sum()), 'row')} without a {column!r}")
    return frame


def _cell_modes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the modal category (None on a tie) and the share of categorised trials in the top count."""
    labelled = frame.dropna(subset=["category"])
    tallies = labelled.groupby([*CELL_COLUMNS, "category"], sort=True).size().rename("count").reset_index()
    by_cell = tallies.groupby(CELL_COLUMNS, sort=True)["count"]
    tallies["top"] = by_cell.transform("max")
    tallies["total"] = by_cell.transform("sum")
    leaders = tallies[tallies["count"] == tallies["top"]].groupby(CELL_COLUMNS, sort=True)
    modes = leaders.agg(
        leaders=("category", "size"),
        category=("category", "first"),
        top=("top", "first"),
        total=("total", "first"),
    )
    single = modes["leaders"] == 1
    return pd.DataFrame(
        {
            "modal_category": pd.Series(
                [
                    category if unique else None
                    for category, unique in zip(modes["category"], single, strict=True)
                ],
                index=modes.index,
                dtype=object,
            ),
            "modal_share": modes["top"] / modes["total"],
        }
    )


def cell_consistency(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, value, strategy) cell: how much its repeated trials agree.

    Columns: n (trials), mean_angle and sd_angle (sample SD, ddof = 1; NaN with one angle), modal_category
    (the most frequent category, None when two categories tie), modal_share (share of the trials with a
    category that fall in the most frequent one), vr_mean and vr_sd (value rationality). Missing angles or
    rationalities are skipped in their own statistics.
    """
    frame = _checked_trials(df)
    if frame.empty:
        return pd.DataFrame(columns=CELL_SUMMARY_COLUMNS)
    summary = frame.groupby(CELL_COLUMNS, sort=True).agg(
        n=("angle", "size"),
        mean_angle=("angle", "mean"),
        sd_angle=("angle", "std"),
        vr_mean=("value_rationality", "mean"),
        vr_sd=("value_rationality", "std"),
    )
    summary = summary.join(_cell_modes(frame))
    summary["modal_category"] = (
        summary["modal_category"].astype(object).where(summary["modal_category"].notna(), None)
    )
    return summary.reset_index()[CELL_SUMMARY_COLUMNS]


def _values_by_cell(frame: pd.DataFrame, column: str) -> list[list[Any]]:
    """The non-missing values of ``column`` for each cell, cells in sorted order."""
    cell = frame.groupby(CELL_COLUMNS, sort=True).ngroup().to_numpy()
    n_cells = int(cell.max()) + 1 if cell.size else 0
    present = frame[column].notna().to_numpy()
    codes = cell[present]
    order = np.argsort(codes, kind="stable")
    values = frame[column].to_numpy(dtype=object)[present][order]
    bounds = np.searchsorted(codes[order], np.arange(n_cells + 1))
    return [list(values[bounds[i] : bounds[i + 1]]) for i in range(n_cells)]


def across_cells(df: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> dict[str, Estimate]:
    """How consistently repeated trials reproduce their cell, across all cells.

    ``ICC(1,1)`` and ``ICC(1,k)``: one-way ICC of the angle with cells as targets and trials as exchangeable
    measurements (Shrout & Fleiss 1979, case 1). Cells may have different numbers of trials; all trials are
    used through the unbalanced one-way ANOVA estimator with k0 (Donner 1986; see
    ``agreement.icc_one_way``), exact F-based CI when balanced and approximate otherwise.
    ``alpha_category``: Krippendorff's alpha, nominal, of the categories with cells as units and trials as
    the coders, with a percentile bootstrap over cells (``seed``, ``n_boot``).
    """
    frame = _checked_trials(df)
    angles = [np.asarray(cell, dtype=np.float64) for cell in _values_by_cell(frame, "angle")]
    result = dict(icc_one_way(angles))
    missing_angles = int(frame["angle"].isna().sum())
    if missing_angles:
        note = f"ignored {_count(missing_angles, 'trial')} without an angle"
        result = {name: _with_note(estimate, note) for name, estimate in result.items()}
    result["alpha_category"] = krippendorff_alpha_of_units(
        _values_by_cell(frame, "category"), level="nominal", seed=seed, n_boot=n_boot
    )
    return result


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _with_note(estimate: Estimate, note: str) -> Estimate:
    return Estimate(
        estimate.value,
        estimate.ci_low,
        estimate.ci_high,
        estimate.n,
        estimate.method,
        _join(estimate.note, note),
    )


def _pearson(first: FloatArray, second: FloatArray) -> Estimate:
    """Pearson's r with the Fisher (1921) z interval tanh(atanh(r) +/- 1.96 / sqrt(n - 3))."""
    n = int(first.size)
    method = "Pearson's r of cell mean angles; 95% CI: Fisher z transformation"
    if n < 4:
        return Estimate(None, None, None, n, method, f"not enough data (n = {n})")
    first_centred, second_centred = first - first.mean(), second - second.mean()
    spread = math.sqrt(float((first_centred**2).sum()) * float((second_centred**2).sum()))
    if spread == 0:
        return Estimate(None, None, None, n, method, f"undefined: a run's cell means do not vary (n = {n})")
    r = max(-1.0, min(1.0, float((first_centred * second_centred).sum()) / spread))
    if abs(r) == 1:
        return Estimate(r, r, r, n, method)
    z, half_width = math.atanh(r), _Z / math.sqrt(n - 3)
    return Estimate(r, math.tanh(z - half_width), math.tanh(z + half_width), n, method)


def test_retest(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, Estimate]:
    """Agreement between two runs of the same configuration, matched cell by cell.

    Each run is reduced to one mean angle and one modal category per cell; only cells present in both runs
    count (n). ``ICC(A,1)``: two-way absolute-agreement ICC of the cell mean angles with the runs as raters
    (McGraw & Wong 1996), comparable with the human norm ``HUMAN_TEST_RETEST_ICC``. ``pearson_r``: Pearson's
    r with a Fisher-z 95% CI. ``category_agreement``: share of cells whose modal category is the same in
    both runs, with a Wilson CI; cells whose mode is tied in either run are left out (the note says how
    many).
    """
    runs = []
    for what, run in (("first run", first), ("second run", second)):
        frame = _checked_trials(run, what)
        summary = cell_consistency(frame).set_index(CELL_COLUMNS)
        runs.append(summary[["mean_angle", "modal_category"]])
    matched = pd.merge(
        runs[0], runs[1], how="inner", left_index=True, right_index=True, suffixes=("_first", "_second")
    )
    unmatched = len(runs[0]) + len(runs[1]) - 2 * len(matched)
    note = f"left out {_count(unmatched, 'cell')} present in only one run" if unmatched else ""
    angled = matched.dropna(subset=["mean_angle_first", "mean_angle_second"])
    long = pd.DataFrame(
        {
            "cell": np.tile(np.arange(len(angled)), 2),
            "run": np.repeat(["first", "second"], len(angled)),
            "angle": np.concatenate([angled["mean_angle_first"], angled["mean_angle_second"]]),
        }
    )
    agreement_icc = icc(long, targets="cell", raters="run", ratings="angle")["ICC(A,1)"]
    pearson = _pearson(
        angled["mean_angle_first"].to_numpy(dtype=np.float64),
        angled["mean_angle_second"].to_numpy(dtype=np.float64),
    )
    modes = [
        (a, b)
        for a, b in zip(matched["modal_category_first"], matched["modal_category_second"], strict=True)
        if not (pd.isna(a) or pd.isna(b))
    ]
    shared = accuracy([a for a, _ in modes], [b for _, b in modes])
    unresolved = len(matched) - len(modes)
    categories = Estimate(
        shared.value,
        shared.ci_low,
        shared.ci_high,
        shared.n,
        "share of cells with the same modal category; 95% CI: Wilson (1927) score interval",
        _join(
            shared.note,
            f"left out {_count(unresolved, 'cell')} without a single modal category in both runs (tie)"
            if unresolved
            else "",
        ),
    )
    result = {"ICC(A,1)": agreement_icc, "pearson_r": pearson, "category_agreement": categories}
    return {name: _with_note(estimate, note) if note else estimate for name, estimate in result.items()}
