"""Repeated-trial consistency of automated SVO results: within a cell, and between runs of one design.

Pure module (numpy, pandas, scipy; no Django). The input is one row per scored trial with the columns
``model, value, strategy, trial, angle, category, value_rationality`` and optionally ``design``; a cell is one
(model, value, strategy, design) configuration and its trials are exchangeable repeated measurements of it.

Consistency is a property of one cell: the spread of its repeated trials (SD of the angle, the modal
category's share, the chance that two of its trials agree on the category). No coefficient is computed
across cells: an ICC over cells would mostly measure how far apart the induced values put the cells, not
how well a cell reproduces itself. The test-retest comparison pairs the same cells of two runs of an
identical design.

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
- Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
  378-382 (a subject's pairwise agreement, P_i).
- Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. Journal of the
  American Statistical Association 22(158), 209-212.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import chi2

from stats.agreement import Estimate, accuracy, icc, wilson_interval

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
    (McGraw & Wong 1996). ``pearson_r``: Pearson's
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


# ---------------------------------------------------------------------------------------------------------
# the report's consistency section, typed

_SD_METHOD = "sample SD (ddof = 1); 95% CI: chi-square interval (assumes normally distributed angles)"
_SHARE_METHOD = "share of the cell's categorised trials in its modal category; 95% CI: Wilson (1927)"
_PAIRWISE_METHOD = (
    "chance that two of the cell's trials give the same category, sum n_k (n_k - 1) / (n (n - 1)) "
    "(Fleiss 1971, P_i); 95% CI: percentile bootstrap over trials ({n_boot} resamples, seed {seed})"
)


@dataclass(frozen=True)
class CellConsistency:
    """How much one cell's repeated trials agree (one design: ``design`` names it, never pooled)."""

    model: str
    value: str
    strategy: str
    design: Mapping[str, Any]
    design_label: str
    n: int
    mean_angle: float | None
    sd_angle: Estimate
    modal_category: str | None
    modal_share: Estimate
    category_agreement: Estimate
    vr_mean: float | None
    vr_sd: float | None


@dataclass(frozen=True)
class Consistency:
    """Per-cell consistency and the test-retest agreement of identical designs run twice.

    ``test_retest`` holds ``ICC(A,1)``, ``pearson_r`` and ``category_agreement`` over the
    ``test_retest_cells`` configurations run more than once (see ``test_retest``). No coefficient across
    cells is reported (``note`` says why)."""

    cells: tuple[CellConsistency, ...]
    test_retest: Mapping[str, Estimate]
    test_retest_cells: int
    note: str


CONSISTENCY_NOTE = (
    "consistency is reported within each cell (one model, value, strategy and design); no coefficient is "
    "computed across cells, whose spread would mostly reflect the distance between induced values"
)


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def sd_estimate(angles: FloatArray) -> Estimate:
    """The sample SD of a cell's angles with the chi-square 95% interval
    [sqrt((n-1) s^2 / chi2_.975), sqrt((n-1) s^2 / chi2_.025)], df = n - 1."""
    n = int(angles.size)
    if n < 2:
        return Estimate(None, None, None, n, _SD_METHOD, f"not enough data (n = {n})")
    sd = float(angles.std(ddof=1))
    scaled = (n - 1) * sd * sd
    low = math.sqrt(scaled / float(chi2.ppf(0.975, n - 1)))
    high = math.sqrt(scaled / float(chi2.ppf(0.025, n - 1)))
    return Estimate(sd, low, high, n, _SD_METHOD)


def modal_share(categories: list[str]) -> tuple[str | None, Estimate]:
    """The modal category (None on a tie) and the share of the categorised trials in it, Wilson CI."""
    n = len(categories)
    if n == 0:
        return None, Estimate(None, None, None, 0, _SHARE_METHOD, "not enough data (n = 0)")
    counts = pd.Series(categories).value_counts()
    top = int(counts.iloc[0])
    tied = int((counts == top).sum()) > 1
    low, high = wilson_interval(top, n)
    note = f"{_count(int((counts == top).sum()), 'category')} tie for the mode" if tied else ""
    return (None if tied else str(counts.index[0])), Estimate(top / n, low, high, n, _SHARE_METHOD, note)


def pairwise_agreement(categories: list[str], *, seed: int, n_boot: int) -> Estimate:
    """The chance that two distinct trials of the cell give the same category, with a percentile bootstrap
    CI over trials (resampled category counts are multinomial with the observed shares)."""
    n = len(categories)
    method = _PAIRWISE_METHOD.format(n_boot=n_boot, seed=seed)
    if n < 2:
        return Estimate(None, None, None, n, method, f"not enough data (n = {n})")
    counts = pd.Series(categories).value_counts().to_numpy(dtype=np.float64)
    value = float((counts * (counts - 1)).sum() / (n * (n - 1)))
    if counts.size == 1:
        return Estimate(value, value, value, n, method, "every trial gave the same category")
    rng = np.random.default_rng(seed)
    resampled = rng.multinomial(n, counts / n, size=n_boot).astype(np.float64)
    replicates = (resampled * (resampled - 1)).sum(axis=1) / (n * (n - 1))
    low, high = np.percentile(replicates, [2.5, 97.5])
    return Estimate(value, float(low), float(high), n, method)


def consistency_section(
    trials: pd.DataFrame, designs: Mapping[str, Mapping[str, Any]], *, seed: int = 0, n_boot: int = 1000
) -> Consistency:
    """Per cell of one design: SD of the angle, modal category share and pairwise category agreement across
    its repeated trials; test-retest between the first two runs (``run_id``) of each configuration run more
    than once with an identical design. ``trials`` has TRIAL_COLUMNS, ``design`` (a label) and ``run_id``;
    ``designs`` maps each design label to its fields."""
    frame = _checked_trials(trials)
    frame["run_id"] = trials["run_id"].to_numpy()
    cells = []
    for key, cell in frame.groupby(CELL_COLUMNS, sort=True):
        model, value, strategy, label = (str(part) for part in key)
        angles = cell["angle"].dropna().to_numpy(dtype=np.float64)
        categories = [str(c) for c in cell["category"].dropna()]
        mode, share = modal_share(categories)
        rationality = cell["value_rationality"].dropna()
        cells.append(
            CellConsistency(
                model=model,
                value=value,
                strategy=strategy,
                design=dict(designs.get(label, {})),
                design_label=label,
                n=len(cell),
                mean_angle=_number(angles.mean()) if angles.size else None,
                sd_angle=sd_estimate(angles),
                modal_category=mode,
                modal_share=share,
                category_agreement=pairwise_agreement(categories, seed=seed, n_boot=n_boot),
                vr_mean=_number(rationality.mean()) if len(rationality) else None,
                vr_sd=_number(rationality.std()) if len(rationality) > 1 else None,
            )
        )
    runs = frame.groupby(CELL_COLUMNS, sort=True)["run_id"].unique()
    repeated = runs[runs.map(len) >= 2]
    # each configuration's own first and second run, paired by (cell, run): never another cell's run
    keyed = pd.MultiIndex.from_frame(frame[[*CELL_COLUMNS, "run_id"]].astype(str))
    first = {(*(str(part) for part in cell), str(sorted(ids)[0])) for cell, ids in repeated.items()}
    second = {(*(str(part) for part in cell), str(sorted(ids)[1])) for cell, ids in repeated.items()}
    retest = test_retest(frame[keyed.isin(list(first))], frame[keyed.isin(list(second))])
    return Consistency(tuple(cells), retest, len(repeated), CONSISTENCY_NOTE)


def consistency_rows(section: Consistency) -> list[dict[str, Any]]:
    """Every estimate of the consistency section as a flat row: section ("consistency cell" or
    "test-retest"), arm (""), value, exclusion (""), statistic, estimate, ci_low, ci_high, n, note, and the
    cell's model, strategy and design label."""

    def row(scope: str, value: str, statistic: str, estimate: Estimate, **cell: str) -> dict[str, Any]:
        return {
            "section": scope,
            "arm": "",
            "value": value,
            "exclusion": "",
            "statistic": statistic,
            "estimate": estimate.value,
            "ci_low": estimate.ci_low,
            "ci_high": estimate.ci_high,
            "n": estimate.n,
            "note": estimate.note,
            "model": cell.get("model", ""),
            "strategy": cell.get("strategy", ""),
            "design": cell.get("design", ""),
        }

    rows = []
    for cell in section.cells:
        where = {"model": cell.model, "strategy": cell.strategy, "design": cell.design_label}
        rows.append(row("consistency cell", cell.value, "sd_angle", cell.sd_angle, **where))
        rows.append(row("consistency cell", cell.value, "modal_share", cell.modal_share, **where))
        rows.append(
            row("consistency cell", cell.value, "category_agreement", cell.category_agreement, **where)
        )
    for name, estimate in section.test_retest.items():
        rows.append(row("test-retest", "", name, estimate))
    return rows
