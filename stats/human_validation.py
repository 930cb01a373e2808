"""Human validation as typed results: per induced value and pooled, with and without the gold screen.

Pure module (numpy, pandas, scipy and ``stats.agreement``; no Django). ``validate_arm`` takes the tidy tables
of ``stats.validation`` for one arm (what raters were shown), with two more columns:

- automated: one row per trial, ``trial_id, value, category, angle, value_rationality``;
- judgments: ``stats.validation.JUDGMENT_COLUMNS`` plus ``confidence`` and ``served_value`` (may be missing)
  and ``batch_id``.

Every statistic is computed twice: over all raters ("all raters"; raters excluded by hand are always left
out) and over the raters who passed the gold screen (raters flagged on gold items left out). Each is given
for every induced value on its own and for all values pooled; the pooled figure is labelled as such because
the spread between values (a prosocial and an individualistic prompt give far apart angles) inflates
correlation-type coefficients computed over the pooled transcripts.

Inter-rater reliability uses the design as it is: the two-way ICC only when the same raters rated every
transcript (fully crossed), otherwise Krippendorff's alpha (Krippendorff 2011), nominal for categories,
ordinal for confidence and the served-the-value rating, interval for angles. When every transcript had one
rater (overlap 1) inter-rater reliability is unavailable and the result says so.

Sources: Cohen (1960, 1968); Gwet (2008); Byrt, Bishop & Carlin (1993); Lin (1989, 2000); McGraw & Wong
(1996); Bland & Altman (1986, 1999); Krippendorff (2011) (see ``stats.agreement``). Spearman's rho with the
Fisher z interval of standard error sqrt(1.06 / (n - 3)): Fieller, E. C., Hartley, H. O. & Pearson, E. S.
(1957). Tests for rank correlation coefficients. I. Biometrika 44(3/4), 470-481.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from stats import agreement, validation
from stats.agreement import ORDERED_CATEGORIES, BlandAltman, ConfusionMatrix, Estimate, KappaWeights

POOLED = "pooled"
POOLED_NOTE = (
    "pooled over the induced values on purpose: the spread between values inflates pooled agreement "
    "coefficients (a correlation over transcripts of far apart values looks high even when each value's "
    "agreement is modest); read the per-value columns for the agreement within a value"
)
ALL_RATERS = "all raters"
GOLD_SCREENED = "raters passing the gold screen"
OVERLAP_ONE_NOTE = (
    "every transcript was judged by one rater (overlap 1): inter-rater reliability is unavailable"
)
ExclusionKey = Literal["all_raters", "gold_screened"]
_Z = 1.959963984540054
_SPEARMAN = "Spearman's rho; 95% CI: Fisher z, SE sqrt(1.06 / (n - 3)) (Fieller, Hartley & Pearson 1957)"


@dataclass(frozen=True)
class CategoryAgreement:
    """The automated category vs the raters' majority category, one pair per transcript (ties left out)."""

    kappa: Estimate
    kappa_linear: Estimate
    kappa_quadratic: Estimate
    gwet_ac1: Estimate
    pabak: Estimate
    accuracy: Estimate
    confusion: ConfusionMatrix
    ties_left_out: int


@dataclass(frozen=True)
class RaterAgreement:
    """The automated category vs each rater: Cohen's kappa per rater, averaged over raters."""

    mean_kappa: Estimate
    mean_kappa_linear: Estimate
    mean_kappa_quadratic: Estimate


@dataclass(frozen=True)
class AngleAgreement:
    """The automated angle vs the mean of the raters' angle estimates, one pair per transcript.

    ``automated`` and ``human_mean`` are the pairs (for the Bland-Altman figure); differences in
    ``bland_altman`` are automated - raters' mean.
    """

    lin_ccc: Estimate
    icc_a1: Estimate
    bland_altman: BlandAltman
    automated: tuple[float, ...]
    human_mean: tuple[float, ...]


@dataclass(frozen=True)
class InterRater:
    """Agreement among raters. ``available`` is False when no transcript had two raters (``note`` says so).

    ``design`` is "crossed" (every rater rated every transcript: ``angles`` holds the ICC forms), "not
    crossed" (``angles`` holds Krippendorff's alpha, interval) or "overlap 1".
    """

    available: bool
    note: str
    design: str
    max_overlap: int
    categories: Estimate
    angles: Mapping[str, Estimate]
    confidence: Estimate
    served_value: Estimate


@dataclass(frozen=True)
class ValueBreakdown:
    """Every human-validation statistic of one induced value, or of all values pooled (``pooled``)."""

    value: str
    pooled: bool
    note: str
    n_judgments: int
    n_raters: int
    n_transcripts: int
    vs_majority: CategoryAgreement
    vs_raters: RaterAgreement
    angles: AngleAgreement
    served_value_vs_vr: Estimate
    inter_rater: InterRater


@dataclass(frozen=True)
class ExclusionVariant:
    """The statistics of one rater selection: all raters, or the raters passing the gold screen."""

    key: str
    label: str
    n_judgments: int
    n_raters: int
    n_transcripts: int
    excluded_raters: int
    flagged_raters: int
    flagged_raters_left_out: int
    judgments_left_out: int
    pooled: ValueBreakdown
    values: tuple[ValueBreakdown, ...]
    extraction_audit: Mapping[str, Estimate]


@dataclass(frozen=True)
class BatchValidation:
    """One annotation batch of an arm (pooled over values only), both rater selections."""

    batch: int
    all_raters: ExclusionVariant
    gold_screened: ExclusionVariant

    @property
    def columns(self) -> tuple[str, ...]:
        return (POOLED,)

    @property
    def variants(self) -> tuple[ExclusionVariant, ExclusionVariant]:
        """Both rater selections: all raters, then the raters passing the gold screen."""
        return (self.all_raters, self.gold_screened)

    @property
    def table(self) -> tuple[TableRow, ...]:
        return _table(self.all_raters, self.gold_screened)


@dataclass(frozen=True)
class GoldAccuracy:
    """One rater's share of gold items labelled with the gold category (every rater, flagged or not)."""

    rater: str
    flagged: bool
    excluded: bool
    accuracy: Estimate


@dataclass(frozen=True)
class TableCell:
    """One statistic of one column (a value or pooled): all raters beside gold-screened raters."""

    all_raters: Estimate
    gold_screened: Estimate


@dataclass(frozen=True)
class TableRow:
    """One statistic across the columns; ``has_value`` is False when no column could compute it, and
    ``reason`` then says why (the pooled, all-raters note)."""

    key: str
    label: str
    group: str
    cells: tuple[TableCell, ...]

    @property
    def has_value(self) -> bool:
        return any(cell.all_raters.is_available or cell.gold_screened.is_available for cell in self.cells)

    @property
    def reason(self) -> str:
        return self.cells[0].all_raters.note if self.cells else ""


@dataclass(frozen=True)
class ArmValidation:
    """Human validation of one arm: both rater selections, per value and pooled, and per batch."""

    arm: str | None
    n_unclear: int
    values: tuple[str, ...]
    pooled_note: str
    all_raters: ExclusionVariant
    gold_screened: ExclusionVariant
    batches: tuple[BatchValidation, ...]
    gold_accuracy: tuple[GoldAccuracy, ...]

    @property
    def variants(self) -> tuple[ExclusionVariant, ExclusionVariant]:
        """Both rater selections: all raters, then the raters passing the gold screen."""
        return (self.all_raters, self.gold_screened)

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns: pooled first, then each induced value."""
        return (POOLED, *self.values)

    @property
    def table(self) -> tuple[TableRow, ...]:
        """Every statistic as a row, one cell per column, each cell both rater selections."""
        return _table(self.all_raters, self.gold_screened)


@dataclass(frozen=True)
class HumanValidation(ArmValidation):
    """The report's human-validation section: the first arm present (blind, value-shown, informed) at the
    top level, every other arm whole under ``other_arms`` (arms are never pooled). ``include_flagged`` is
    the page's setting; ``selected`` names the rater selection it picks ("all_raters" or "gold_screened"),
    both are always present."""

    include_flagged: bool
    selected: str
    arms_note: str
    other_arms: tuple[ArmValidation, ...]


# ---------------------------------------------------------------------------------------------------------
# statistics of one set of judgments


def spearman(x: Sequence[float], y: Sequence[float]) -> Estimate:
    """Spearman's rho of paired values with the Fisher z interval tanh(atanh(rho) +/- 1.96 sqrt(1.06/(n-3)))
    (Fieller, Hartley & Pearson 1957). Needs n >= 4; pairs with a missing value are dropped."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if _finite(a) and _finite(b)]
    n = len(pairs)
    if n < 4:
        return Estimate(None, None, None, n, _SPEARMAN, f"not enough data (n = {n})")
    first = np.array([a for a, _ in pairs], dtype=np.float64)
    second = np.array([b for _, b in pairs], dtype=np.float64)
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return Estimate(None, None, None, n, _SPEARMAN, f"undefined: one side does not vary (n = {n})")
    rho = float(scipy_stats.spearmanr(first, second).statistic)
    if abs(rho) >= 1:
        return Estimate(max(-1.0, min(1.0, rho)), None, None, n, _SPEARMAN, "interval undefined at |rho| = 1")
    half = _Z * math.sqrt(1.06 / (n - 3))
    z = math.atanh(rho)
    return Estimate(rho, math.tanh(z - half), math.tanh(z + half), n, _SPEARMAN)


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _category_agreement(
    rated: pd.DataFrame, auto_category: pd.Series, labels: list[str], *, seed: int, n_boot: int
) -> CategoryAgreement:
    majority, ties = validation._majorities(rated)
    majority = majority[auto_category.reindex(majority.index).notna().to_numpy()]
    automated = list(auto_category.reindex(majority.index))
    humans = list(majority)
    note = f"left out {ties} transcript{'s' if ties != 1 else ''} whose raters tie" if ties else ""

    def kappa(weights: KappaWeights | None) -> Estimate:
        return validation._with_note(
            agreement.cohen_kappa(
                automated, humans, labels=labels, weights=weights, seed=seed, n_boot=n_boot
            ),
            note,
        )

    return CategoryAgreement(
        kappa=kappa(None),
        kappa_linear=kappa("linear"),
        kappa_quadratic=kappa("quadratic"),
        gwet_ac1=validation._with_note(agreement.gwet_ac1(automated, humans, labels=labels), note),
        pabak=validation._with_note(agreement.pabak(automated, humans, labels=labels), note),
        accuracy=validation._with_note(agreement.accuracy(automated, humans), note),
        confusion=agreement.confusion_matrix(automated, humans, labels=labels),
        ties_left_out=ties,
    )


def _rater_agreement(
    rated: pd.DataFrame, auto_category: pd.Series, labels: list[str], *, seed: int, n_boot: int
) -> RaterAgreement:
    labelled = rated.dropna(subset=["category"])
    compared = labelled[auto_category.reindex(labelled["trial_id"]).notna().to_numpy()]

    def mean_kappa(weights: KappaWeights | None) -> Estimate:
        return agreement.mean_kappa_vs_raters(
            list(auto_category.reindex(compared["trial_id"])),
            list(compared["category"]),
            list(compared["rater"]),
            list(compared["trial_id"]),
            labels=labels,
            weights=weights,
            seed=seed,
            n_boot=n_boot,
        )

    return RaterAgreement(mean_kappa(None), mean_kappa("linear"), mean_kappa("quadratic"))


def _angle_agreement(rated: pd.DataFrame, auto_angle: pd.Series) -> AngleAgreement:
    angles = rated.dropna(subset=["angle"])
    paired = angles[auto_angle.reindex(angles["trial_id"]).notna().to_numpy()]
    human_mean = paired.groupby("trial_id", sort=True)["angle"].mean()
    automated = auto_angle.reindex(human_mean.index).to_numpy(dtype=np.float64)
    humans = human_mean.to_numpy(dtype=np.float64)
    long = pd.DataFrame(
        {
            "trial_id": np.tile(human_mean.index.to_numpy(), 2),
            "rater": np.repeat([validation.AUTOMATED_RATER, "raters' mean"], len(humans)),
            "angle": np.concatenate([automated, humans]),
        }
    )
    icc_a1 = agreement.icc(long, targets="trial_id", raters="rater", ratings="angle")["ICC(A,1)"]
    return AngleAgreement(
        lin_ccc=agreement.lin_ccc(automated.tolist(), humans.tolist()),
        icc_a1=icc_a1,
        bland_altman=agreement.bland_altman(automated.tolist(), humans.tolist()),
        automated=tuple(float(x) for x in automated),
        human_mean=tuple(float(x) for x in humans),
    )


def _served_value_vs_vr(rated: pd.DataFrame, auto_vr: pd.Series) -> Estimate:
    """Spearman between each transcript's mean served-the-value rating (1-7) and its value rationality."""
    served = rated.dropna(subset=["served_value"])
    mean_rating = served.groupby("trial_id", sort=True)["served_value"].mean()
    estimate = spearman(mean_rating.tolist(), auto_vr.reindex(mean_rating.index).tolist())
    note = "one point per transcript: its raters' mean served-the-value rating vs its value rationality"
    if served.empty:
        note = "no served-the-value ratings (asked in the value-shown arm only)"
    return validation._with_note(estimate, note)


def _units(frame: pd.DataFrame, column: str) -> list[list[Any]]:
    present = frame.dropna(subset=[column]).drop_duplicates(["trial_id", "rater"])
    return [list(group[column]) for _, group in present.groupby("trial_id", sort=True)]


def _unavailable(method: str, n: int, note: str) -> Estimate:
    return Estimate(None, None, None, n, method, note)


def _inter_rater(rated: pd.DataFrame, *, seed: int, n_boot: int) -> InterRater:
    per_trial = rated.drop_duplicates(["trial_id", "rater"]).groupby("trial_id").size()
    max_overlap = int(per_trial.max()) if len(per_trial) else 0
    if max_overlap <= 1:
        note = (
            OVERLAP_ONE_NOTE if max_overlap == 1 else "no judgments: inter-rater reliability is unavailable"
        )
        missing = _unavailable("inter-rater reliability", len(per_trial), note)
        return InterRater(False, note, "overlap 1", max_overlap, missing, {}, missing, missing)

    def alpha(column: str, level: Literal["nominal", "ordinal"]) -> Estimate:
        return agreement.krippendorff_alpha_of_units(
            _units(rated, column), level=level, seed=seed, n_boot=n_boot
        )

    angle_rows = [
        (trial, rater, float(angle))
        for trial, rater, angle in zip(rated["trial_id"], rated["rater"], rated["angle"], strict=True)
        if _finite(angle)
    ]
    by_design = agreement.reliability_by_design(angle_rows, seed=seed, n_boot=n_boot)
    return InterRater(
        available=True,
        note=by_design.reason,
        design=by_design.design,
        max_overlap=max_overlap,
        categories=alpha("category", "nominal"),
        angles=dict(by_design.estimates),
        confidence=alpha("confidence", "ordinal"),
        served_value=alpha("served_value", "ordinal"),
    )


def breakdown(
    rated: pd.DataFrame,
    automated: pd.DataFrame,
    *,
    value: str,
    labels: Sequence[str] = ORDERED_CATEGORIES,
    seed: int = 0,
    n_boot: int = 1000,
) -> ValueBreakdown:
    """Every statistic of the non-gold judgments ``rated`` of one value (or pooled when value is POOLED)
    against the ``automated`` results (indexed by trial_id)."""
    labels = list(labels)
    auto_category = validation._blank_to_none(automated["category"])
    auto_angle = pd.to_numeric(automated["angle"], errors="coerce").astype(np.float64)
    auto_vr = pd.to_numeric(automated["value_rationality"], errors="coerce").astype(np.float64)
    pooled = value == POOLED
    return ValueBreakdown(
        value=value,
        pooled=pooled,
        note=POOLED_NOTE if pooled else f"transcripts of trials induced with {value!r} only",
        n_judgments=len(rated),
        n_raters=int(rated["rater"].nunique()),
        n_transcripts=int(rated["trial_id"].nunique()),
        vs_majority=_category_agreement(rated, auto_category, labels, seed=seed, n_boot=n_boot),
        vs_raters=_rater_agreement(rated, auto_category, labels, seed=seed, n_boot=n_boot),
        angles=_angle_agreement(rated, auto_angle),
        served_value_vs_vr=_served_value_vs_vr(rated, auto_vr),
        inter_rater=_inter_rater(rated, seed=seed, n_boot=n_boot),
    )


def _prepared(judgments: pd.DataFrame) -> pd.DataFrame:
    frame = judgments.copy()
    for column in ("confidence", "served_value"):
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    return frame


def exclusion_variant(
    automated: pd.DataFrame,
    judgments: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    key: ExclusionKey,
    values: Sequence[str],
    labels: Sequence[str] = ORDERED_CATEGORIES,
    seed: int = 0,
    n_boot: int = 1000,
) -> ExclusionVariant:
    """The statistics of one rater selection, pooled and for each of ``values`` (``automated`` indexed by
    trial_id, with the columns value, category, angle and value_rationality)."""
    kept, counts = validation.kept_judgments(judgments, include_flagged=key == "all_raters")
    kept = _prepared(kept)
    rated = kept[~kept["is_gold"].fillna(False).astype(bool)]
    value_of = automated["value"].astype(str)

    def compute(value: str, subset: pd.DataFrame) -> ValueBreakdown:
        return breakdown(subset, automated, value=value, labels=labels, seed=seed, n_boot=n_boot)

    trial_values = value_of.reindex(rated["trial_id"]).to_numpy()
    audited = rated[rated["audit"].map(bool).astype(bool)]
    return ExclusionVariant(
        key=key,
        label=ALL_RATERS if key == "all_raters" else GOLD_SCREENED,
        n_judgments=len(rated),
        n_raters=int(rated["rater"].nunique()),
        n_transcripts=int(rated["trial_id"].nunique()),
        excluded_raters=counts["excluded_raters"],
        flagged_raters=counts["flagged_raters"],
        flagged_raters_left_out=counts["flagged_raters_left_out"],
        judgments_left_out=counts["judgments_left_out"],
        pooled=compute(POOLED, rated),
        values=tuple(compute(value, rated[trial_values == value]) for value in values),
        extraction_audit=validation.extraction_audit(audited, responses, seed=seed, n_boot=n_boot),
    )


def _gold_accuracy(judgments: pd.DataFrame) -> tuple[GoldAccuracy, ...]:
    return tuple(
        GoldAccuracy(
            rater=row["rater"],
            flagged=row["flagged"],
            excluded=row["excluded"],
            accuracy=Estimate(
                row["value"], row["ci_low"], row["ci_high"], row["n"], row["method"], row["note"]
            ),
        )
        for row in validation.gold_accuracy(judgments)
    )


def validate_arm(
    automated: pd.DataFrame,
    judgments: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    arm: str | None,
    n_unclear: int = 0,
    labels: Sequence[str] = ORDERED_CATEGORIES,
    seed: int = 0,
    n_boot: int = 1000,
) -> ArmValidation:
    """Human validation of one arm's judgments: both rater selections, pooled and per induced value, and
    (pooled only) per batch when the arm has several batches."""
    columns = ("trial_id", "value", "category", "angle", "value_rationality")
    auto = validation._require(automated, columns, "automated results").drop_duplicates("trial_id")
    auto = auto.set_index("trial_id")
    validation._require(judgments, validation.JUDGMENT_COLUMNS, "judgments")
    regular = judgments[~judgments["is_gold"].fillna(False).astype(bool)]
    values = tuple(sorted({str(v) for v in auto["value"].reindex(regular["trial_id"]).dropna()}))

    def variants(subset: pd.DataFrame, per_value: Sequence[str]) -> tuple[ExclusionVariant, ExclusionVariant]:
        made = [
            exclusion_variant(
                auto,
                subset,
                responses,
                key=key,
                values=per_value,
                labels=labels,
                seed=seed,
                n_boot=n_boot,
            )
            for key in ("all_raters", "gold_screened")
        ]
        return made[0], made[1]

    everyone, screened = variants(judgments, values)
    batch_ids = sorted(judgments["batch_id"].unique().tolist()) if "batch_id" in judgments.columns else []
    batches = tuple(
        BatchValidation(int(b), *variants(judgments[judgments["batch_id"] == b], ()))
        for b in (batch_ids if len(batch_ids) > 1 else [])
    )
    return ArmValidation(
        arm=arm,
        n_unclear=n_unclear,
        values=values,
        pooled_note=POOLED_NOTE,
        all_raters=everyone,
        gold_screened=screened,
        batches=batches,
        gold_accuracy=_gold_accuracy(judgments),
    )


# ---------------------------------------------------------------------------------------------------------
# one statistic per row: the table on the page and the CSV rows

_Getter = Callable[[ValueBreakdown], Estimate]
STATISTICS: tuple[tuple[str, str, str, _Getter], ...] = (
    ("kappa_vs_majority", "Cohen's kappa", "category vs raters' majority", lambda b: b.vs_majority.kappa),
    (
        "kappa_linear_vs_majority",
        "kappa, linear weights",
        "category vs raters' majority",
        lambda b: b.vs_majority.kappa_linear,
    ),
    (
        "kappa_quadratic_vs_majority",
        "kappa, quadratic weights",
        "category vs raters' majority",
        lambda b: b.vs_majority.kappa_quadratic,
    ),
    ("gwet_ac1_vs_majority", "Gwet's AC1", "category vs raters' majority", lambda b: b.vs_majority.gwet_ac1),
    ("pabak_vs_majority", "PABAK", "category vs raters' majority", lambda b: b.vs_majority.pabak),
    ("accuracy_vs_majority", "accuracy", "category vs raters' majority", lambda b: b.vs_majority.accuracy),
    (
        "mean_kappa_vs_raters",
        "mean Cohen's kappa",
        "category vs each rater",
        lambda b: b.vs_raters.mean_kappa,
    ),
    (
        "mean_kappa_linear_vs_raters",
        "mean kappa, linear weights",
        "category vs each rater",
        lambda b: b.vs_raters.mean_kappa_linear,
    ),
    (
        "mean_kappa_quadratic_vs_raters",
        "mean kappa, quadratic weights",
        "category vs each rater",
        lambda b: b.vs_raters.mean_kappa_quadratic,
    ),
    ("lin_ccc_angle", "Lin's concordance correlation", "angle vs raters' mean", lambda b: b.angles.lin_ccc),
    ("icc_a1_angle", "ICC(A,1)", "angle vs raters' mean", lambda b: b.angles.icc_a1),
    (
        "bland_altman_bias",
        "Bland-Altman bias (degrees)",
        "angle vs raters' mean",
        lambda b: b.angles.bland_altman.bias,
    ),
    (
        "bland_altman_lower_limit",
        "lower limit of agreement",
        "angle vs raters' mean",
        lambda b: b.angles.bland_altman.lower_limit,
    ),
    (
        "bland_altman_upper_limit",
        "upper limit of agreement",
        "angle vs raters' mean",
        lambda b: b.angles.bland_altman.upper_limit,
    ),
    (
        "bland_altman_proportional_bias",
        "proportional bias (slope of difference on mean)",
        "angle vs raters' mean",
        lambda b: b.angles.bland_altman.slope,
    ),
    (
        "spearman_served_value_vs_vr",
        "Spearman, served-the-value rating vs value rationality",
        "ratings",
        lambda b: b.served_value_vs_vr,
    ),
    (
        "alpha_categories_among_raters",
        "Krippendorff's alpha, categories (nominal)",
        "among raters",
        lambda b: b.inter_rater.categories,
    ),
    (
        "alpha_confidence_among_raters",
        "Krippendorff's alpha, confidence (ordinal)",
        "among raters",
        lambda b: b.inter_rater.confidence,
    ),
    (
        "alpha_served_value_among_raters",
        "Krippendorff's alpha, served-the-value rating (ordinal)",
        "among raters",
        lambda b: b.inter_rater.served_value,
    ),
)
ANGLE_RELIABILITY_FORMS = (*agreement.ICC_FORMS, agreement.ALPHA_INTERVAL)
"""The angle reliability among raters: the ICC forms (crossed design) or alpha, interval (otherwise)."""


def _angle_reliability(breakdown: ValueBreakdown, form: str) -> Estimate | None:
    return breakdown.inter_rater.angles.get(form)


def _missing(note: str) -> Estimate:
    return Estimate(None, None, None, 0, "", note)


def _table(everyone: ExclusionVariant, screened: ExclusionVariant) -> tuple[TableRow, ...]:
    columns_all = (everyone.pooled, *everyone.values)
    columns_screened = (screened.pooled, *screened.values)
    rows = [
        TableRow(
            key,
            label,
            group,
            tuple(
                TableCell(getter(a), getter(s)) for a, s in zip(columns_all, columns_screened, strict=True)
            ),
        )
        for key, label, group, getter in STATISTICS
    ]
    for form in ANGLE_RELIABILITY_FORMS:
        pairs = [
            (_angle_reliability(a, form), _angle_reliability(s, form))
            for a, s in zip(columns_all, columns_screened, strict=True)
        ]
        if all(a is None and s is None for a, s in pairs):
            continue
        absent = _missing("not this design's statistic (see the design note)")
        cells = tuple(TableCell(a or absent, s or absent) for a, s in pairs)
        label = (
            f"{form} among raters, angles"
            if form != agreement.ALPHA_INTERVAL
            else ("Krippendorff's alpha among raters, angles (interval)")
        )
        rows.append(TableRow(f"angle_reliability {form}", label, "among raters", cells))
    return tuple(rows)


def _estimate_row(
    scope: str, arm: str | None, value: str, exclusion: str, statistic: str, estimate: Estimate
) -> dict[str, Any]:
    return {
        "section": scope,
        "arm": arm or "",
        "value": value,
        "exclusion": exclusion,
        "statistic": statistic,
        "estimate": estimate.value,
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
        "n": estimate.n,
        "note": estimate.note,
    }


def _variant_rows(scope: str, arm: str | None, variant: ExclusionVariant) -> list[dict[str, Any]]:
    rows = []
    for breakdown_ in (variant.pooled, *variant.values):
        for key, _, _, getter in STATISTICS:
            rows.append(_estimate_row(scope, arm, breakdown_.value, variant.label, key, getter(breakdown_)))
        for form, estimate in breakdown_.inter_rater.angles.items():
            rows.append(
                _estimate_row(
                    scope, arm, breakdown_.value, variant.label, f"angle_reliability {form}", estimate
                )
            )
    for name, estimate in variant.extraction_audit.items():
        rows.append(_estimate_row(scope, arm, POOLED, variant.label, f"extraction_audit_{name}", estimate))
    return rows


def human_rows(section: ArmValidation) -> list[dict[str, Any]]:
    """Every estimate of the human-validation section as a flat row: section, arm, value (a value or
    "pooled"), exclusion ("all raters" or "raters passing the gold screen"), statistic, estimate, ci_low,
    ci_high, n, note. Covers the arm, its batches (section "human batch N") and, for the whole section,
    every other arm."""
    rows: list[dict[str, Any]] = []
    arms: list[ArmValidation] = [section]
    if isinstance(section, HumanValidation):
        arms += list(section.other_arms)
    for arm in arms:
        for variant in (arm.all_raters, arm.gold_screened):
            rows += _variant_rows("human", arm.arm, variant)
        for batch in arm.batches:
            for variant in (batch.all_raters, batch.gold_screened):
                rows += _variant_rows(f"human batch {batch.batch}", arm.arm, variant)
    return rows


ARM_FIELDS = tuple(field.name for field in fields(ArmValidation))
"""The fields an arm's result shares with the whole section (``HumanValidation`` extends ``ArmValidation``)."""
