"""Human validation of the automated SVO result: automated vs people, and people vs each other.

Pure module (numpy, pandas and ``stats.agreement``; no Django). It takes three tidy tables:

- automated: one row per trial, columns ``trial_id, category, angle`` (the automated result);
- judgments: one row per human judgment, columns ``trial_id, rater, category, angle, is_gold,
  gold_category, flagged, excluded, audit`` (``audit``: item number -> display position read, or None);
- responses: one row per item response of an audited trial, columns ``trial_id, item, presented_order,
  extracted_option``.

Raters marked excluded are always left out; raters flagged on gold items are left out unless
``include_flagged``. Gold tasks only measure raters (gold accuracy); every other statistic uses the
non-gold judgments. Every figure is an ``Estimate`` with n and a 95% CI, or "not enough data (n = ...)".

The report's typed, per-value section is ``stats.human_validation``; this dict form serves the agreement
calculator of the API. Among raters, ``icc_among_raters`` holds the ICC forms only when the design is fully
crossed, else Krippendorff's alpha (interval) (``agreement.reliability_by_design``).

Sources: the statistics are those of ``stats.agreement``; Bland, J. M. & Altman, D. G.
(1986), Statistical methods for assessing agreement between two methods of clinical measurement, The Lancet
327(8476), 307-310, and (1999) Measuring agreement in method comparison studies, Statistical Methods in
Medical Research 8(2), 135-160 (the standard errors of the bias and of the limits of agreement).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as t_distribution

from stats import agreement
from stats.agreement import ORDERED_CATEGORIES, Estimate, KappaWeights

AUTOMATED_COLUMNS = ("trial_id", "category", "angle")
JUDGMENT_COLUMNS = (
    "trial_id",
    "rater",
    "category",
    "angle",
    "is_gold",
    "gold_category",
    "flagged",
    "excluded",
    "audit",
)
RESPONSE_COLUMNS = ("trial_id", "item", "presented_order", "extracted_option")
AUTOMATED_RATER = "automated"
NO_OPTION = "none"


def _require(frame: Any, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lack the columns {missing}; expected {list(columns)}")
    return frame


def _blank_to_none(series: pd.Series) -> pd.Series:
    text = series.astype(object)
    return text.where(text.notna() & (text != ""), None)


def kept_judgments(judgments: pd.DataFrame, *, include_flagged: bool) -> tuple[pd.DataFrame, dict[str, int]]:
    """The judgments the statistics use, and how many raters and judgments were left out and why."""
    frame = _require(judgments, JUDGMENT_COLUMNS, "judgments")
    excluded = frame["excluded"].fillna(False).astype(bool)
    flagged = frame["flagged"].fillna(False).astype(bool) & ~excluded
    drop = excluded | (flagged if not include_flagged else False)
    counts = {
        "excluded_raters": int(frame.loc[excluded, "rater"].nunique()),
        "flagged_raters": int(frame.loc[flagged, "rater"].nunique()),
        "flagged_raters_left_out": 0 if include_flagged else int(frame.loc[flagged, "rater"].nunique()),
        "judgments_left_out": int(drop.sum()),
    }
    kept = frame.loc[~drop].copy()
    kept["category"] = _blank_to_none(kept["category"])
    kept["angle"] = pd.to_numeric(kept["angle"], errors="coerce").astype(np.float64)
    return kept, counts


def _majorities(rated: pd.DataFrame) -> tuple[pd.Series, int]:
    """The raters' majority category per trial; trials whose top categories tie are left out (counted)."""
    labelled = rated.dropna(subset=["category"])
    if labelled.empty:
        return pd.Series(dtype=object), 0
    tallies = labelled.groupby(["trial_id", "category"], sort=True).size().rename("count").reset_index()
    tallies["top"] = tallies.groupby("trial_id")["count"].transform("max")
    leaders = tallies[tallies["count"] == tallies["top"]]
    unique = leaders.groupby("trial_id")["category"].agg(["first", "size"])
    return unique.loc[unique["size"] == 1, "first"], int((unique["size"] > 1).sum())


def _with_note(estimate: Estimate, note: str) -> Estimate:
    if not note:
        return estimate
    joined = "; ".join(part for part in (estimate.note, note) if part)
    return Estimate(estimate.value, estimate.ci_low, estimate.ci_high, estimate.n, estimate.method, joined)


def _is_crossed(rated: pd.DataFrame) -> bool:
    """True when every rater rated every trial (a fully crossed design: the two-way ICC forms apply)."""
    raters, trials = rated["rater"].nunique(), rated["trial_id"].nunique()
    return bool(raters >= 2 and len(rated.drop_duplicates(["trial_id", "rater"])) == raters * trials)


def _icc_forms(frame: pd.DataFrame, forms: tuple[str, ...], note: str = "") -> dict[str, Estimate]:
    estimates = agreement.icc(frame, targets="trial_id", raters="rater", ratings="angle")
    return {form: _with_note(estimates[form], note) for form in forms}


def bland_altman(automated: np.ndarray, human: np.ndarray) -> dict[str, Any]:
    """Bias (mean of automated - human) and the 95% limits of agreement bias +/- 1.96 SD, each with a 95% CI
    (Bland & Altman 1986; standard errors sqrt(s^2/n) and sqrt(3 s^2/n), Bland & Altman 1999, section 2.2)."""
    differences = np.asarray(automated, dtype=np.float64) - np.asarray(human, dtype=np.float64)
    n = int(differences.size)
    method = "Bland-Altman (1986); 95% CI: t interval (Bland & Altman 1999)"
    if n < 3:
        missing = Estimate(None, None, None, n, method, f"not enough data (n = {n})")
        return {"bias": missing.to_dict(), "lower_limit": missing.to_dict(), "upper_limit": missing.to_dict()}
    bias = float(differences.mean())
    sd = float(differences.std(ddof=1))
    quantile = float(t_distribution.ppf(0.975, n - 1))
    bias_half = quantile * sd / math.sqrt(n)
    limit_half = quantile * math.sqrt(3 * sd * sd / n)
    limits = (bias - 1.959963984540054 * sd, bias + 1.959963984540054 * sd)
    return {
        "bias": Estimate(bias, bias - bias_half, bias + bias_half, n, method).to_dict(),
        "lower_limit": Estimate(
            limits[0], limits[0] - limit_half, limits[0] + limit_half, n, method
        ).to_dict(),
        "upper_limit": Estimate(
            limits[1], limits[1] - limit_half, limits[1] + limit_half, n, method
        ).to_dict(),
        "sd": sd,
    }


def extraction_audit(
    rated: pd.DataFrame, responses: pd.DataFrame, *, seed: int, n_boot: int
) -> dict[str, Estimate]:
    """The option the service extracted vs the option raters read off the same answer.

    Raters answer with a display position (A = 1st option shown), mapped through the trial's presented
    order to the canonical option. "No option" (the extractor found none, or the rater chose 'unclear')
    is one more category, so the two agree when both found none. One pair per rater, item and trial.
    """
    _require(responses, RESPONSE_COLUMNS, "responses")
    orders = {
        (trial, int(item)): (order, _option_label(option))
        for trial, item, order, option in zip(
            responses["trial_id"],
            responses["item"],
            responses["presented_order"],
            responses["extracted_option"],
            strict=True,
        )
    }
    extracted: list[str] = []
    read: list[str] = []
    unmatched = 0
    for trial, audit in zip(rated["trial_id"], rated["audit"], strict=True):
        for item, position in (audit or {}).items():
            found = orders.get((trial, int(item)))
            if found is None or (position is not None and not 1 <= int(position) <= len(found[0])):
                unmatched += 1
                continue
            order, option = found
            extracted.append(option)
            read.append(NO_OPTION if position is None else str(int(order[int(position) - 1])))
    note = f"left out {unmatched} audited items without a matching response" if unmatched else ""
    labels = [str(option) for option in range(1, 10)] + [NO_OPTION]
    return {
        "kappa": _with_note(
            agreement.cohen_kappa(extracted, read, labels=labels, seed=seed, n_boot=n_boot), note
        ),
        "accuracy": _with_note(agreement.accuracy(extracted, read), note),
    }


def _option_label(option: Any) -> str:
    """An extracted option as a category: its number, or "none" when nothing was extracted (None/NaN)."""
    return NO_OPTION if option is None or option != option else str(int(option))


NO_ORIENTATION = "no orientation (unclear)"
"""A gold answer that names no orientation: never the gold category."""


def gold_accuracy(judgments: pd.DataFrame) -> list[dict[str, Any]]:
    """Per rater (all raters, flagged or not), the share of gold items labelled with the gold category.

    An answer that names no orientation (``unclear``) on a gold item counts as a miss, as in the screening rule
    that flags raters (``annotation.gold_labels``): gold items are chosen because their orientation is clear."""
    gold = judgments[judgments["is_gold"].fillna(False).astype(bool)]
    rows = []
    for rater, mine in gold.groupby("rater", sort=True):
        answers = mine["category"].fillna("").replace("", NO_ORIENTATION)
        estimate = agreement.accuracy(list(answers), list(_blank_to_none(mine["gold_category"])))
        rows.append(
            {
                "rater": str(rater),
                "flagged": bool(mine["flagged"].fillna(False).astype(bool).iloc[0]),
                "excluded": bool(mine["excluded"].fillna(False).astype(bool).iloc[0]),
                **estimate.to_dict(),
            }
        )
    return rows


def _values_by_trial(frame: pd.DataFrame, column: str) -> list[np.ndarray]:
    """The non-missing values of ``column`` for each trial (one rating per rater and trial), trials sorted."""
    present = frame.dropna(subset=[column]).drop_duplicates(["rater", "trial_id"])
    codes, _ = pd.factorize(present["trial_id"], sort=True)
    order = np.argsort(codes, kind="stable")
    values = present[column].to_numpy()[order]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(values, bounds) if len(values) else []


def human_validation(
    automated: pd.DataFrame,
    judgments: pd.DataFrame,
    responses: pd.DataFrame,
    *,
    include_flagged: bool = False,
    seed: int = 0,
    n_boot: int = 1000,
    labels: Sequence[str] = ORDERED_CATEGORIES,
    ordered: bool = True,
) -> dict[str, Any]:
    """Every human-validation statistic of one set of judgments, JSON-ready (estimates as dicts).

    ``labels`` are the categories in order; with ``ordered=False`` (categories without an order) the
    linear-weighted kappas are left out.
    """
    auto = _require(automated, AUTOMATED_COLUMNS, "automated results").drop_duplicates("trial_id")
    auto = auto.set_index("trial_id")
    kept, left_out = kept_judgments(judgments, include_flagged=include_flagged)
    rated = kept[~kept["is_gold"].fillna(False).astype(bool)]
    labels = list(labels)
    weightings: tuple[tuple[str, KappaWeights | None], ...] = (("", None), ("weighted_", "linear"))
    if not ordered:
        weightings = (("", None),)
    auto_category = _blank_to_none(auto["category"])
    auto_angle = pd.to_numeric(auto["angle"], errors="coerce").astype(np.float64)
    result: dict[str, Any] = {
        "n_judgments": len(rated),
        "n_raters": int(rated["rater"].nunique()),
        "n_transcripts": int(rated["trial_id"].nunique()),
        "include_flagged": include_flagged,
        **left_out,
    }

    # automated category vs the raters' majority, and vs each rater
    majority, ties = _majorities(rated)
    majority = majority[auto_category.reindex(majority.index).notna().to_numpy()]
    automated_of_majority = list(auto_category.reindex(majority.index))
    tie_note = f"left out {ties} transcript{'s' if ties != 1 else ''} whose raters tie" if ties else ""
    for prefix, weights in weightings:
        estimate = agreement.cohen_kappa(
            automated_of_majority, list(majority), labels=labels, weights=weights, seed=seed, n_boot=n_boot
        )
        result[f"{prefix}kappa_vs_majority"] = _with_note(estimate, tie_note).to_dict()
    result["accuracy_vs_majority"] = _with_note(
        agreement.accuracy(automated_of_majority, list(majority)), tie_note
    ).to_dict()
    labelled = rated.dropna(subset=["category"])
    compared = labelled[auto_category.reindex(labelled["trial_id"]).notna().to_numpy()]
    for prefix, weights in weightings:
        result[f"mean_{prefix}kappa_vs_raters"] = agreement.mean_kappa_vs_raters(
            list(auto_category.reindex(compared["trial_id"])),
            list(compared["category"]),
            list(compared["rater"]),
            list(compared["trial_id"]),
            labels=labels,
            weights=weights,
            seed=seed,
            n_boot=n_boot,
        ).to_dict()
    counts = pd.crosstab(
        pd.Categorical(automated_of_majority, categories=labels),
        pd.Categorical(list(majority), categories=labels),
        dropna=False,
    )
    result["confusion_matrix"] = {
        "labels": labels,
        "rows_automated_columns_majority": counts.reindex(index=labels, columns=labels, fill_value=0)
        .to_numpy()
        .astype(int)
        .tolist(),
    }

    # automated angle vs people's angle estimates
    angles = rated.dropna(subset=["angle"])[["trial_id", "rater", "angle"]]
    paired = angles[auto_angle.reindex(angles["trial_id"]).notna().to_numpy()]
    crossed = _is_crossed(angles)
    result["crossed_design"] = crossed
    human_mean = paired.groupby("trial_id")["angle"].mean()
    versus_mean = pd.concat(
        [
            pd.DataFrame(
                {"trial_id": human_mean.index, "rater": "human mean", "angle": human_mean.to_numpy()}
            ),
            pd.DataFrame(
                {
                    "trial_id": human_mean.index,
                    "rater": AUTOMATED_RATER,
                    "angle": auto_angle.reindex(human_mean.index).to_numpy(),
                }
            ),
        ]
    )
    result["icc_automated_vs_human_mean"] = {
        form: estimate.to_dict()
        for form, estimate in _icc_forms(versus_mean, ("ICC(A,1)", "ICC(C,1)")).items()
    }
    automated_points = auto_angle.reindex(human_mean.index).to_numpy()
    result["bland_altman"] = {
        **bland_altman(automated_points, human_mean.to_numpy()),
        "automated": [float(x) for x in automated_points],
        "human_mean": [float(x) for x in human_mean.to_numpy()],
    }

    # people vs each other
    categories = [list(unit) for unit in _values_by_trial(labelled, "category")]
    angle_units = [unit.astype(np.float64) for unit in _values_by_trial(angles, "angle")]
    result["fleiss_kappa"] = agreement.fleiss_kappa(categories, seed=seed, n_boot=n_boot).to_dict()
    result["alpha_categories"] = agreement.krippendorff_alpha_of_units(
        categories, level="nominal", seed=seed, n_boot=n_boot
    ).to_dict()
    result["alpha_angles"] = agreement.krippendorff_alpha_of_units(
        [unit.tolist() for unit in angle_units], level="interval", seed=seed, n_boot=n_boot
    ).to_dict()
    result["icc_among_raters"] = {
        form: e.to_dict() for form, e in _icc_among_raters(angles, seed=seed, n_boot=n_boot).items()
    }

    audited = rated[rated["audit"].map(bool).astype(bool)]
    result["extraction_audit"] = {
        name: estimate.to_dict()
        for name, estimate in extraction_audit(audited, responses, seed=seed, n_boot=n_boot).items()
    }
    result["gold_accuracy"] = gold_accuracy(judgments)
    return result


def _icc_among_raters(angles: pd.DataFrame, *, seed: int, n_boot: int) -> dict[str, Estimate]:
    """The six ICC forms when every rater rated every transcript (fully crossed); otherwise Krippendorff's
    alpha (interval), which needs no rater identity: no ICC over invented rater slots
    (``agreement.reliability_by_design``)."""
    rows = zip(angles["trial_id"], angles["rater"], angles["angle"], strict=True)
    return dict(agreement.reliability_by_design(rows, seed=seed, n_boot=n_boot).estimates)
