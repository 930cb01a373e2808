"""Agreement and reliability statistics for categorical labels and numeric ratings, each with a 95% CI.

Pure module: numpy, pandas and scipy only, no Django. Every function returns an ``Estimate`` (value, 95% CI,
n, method, note); with too little data the value is ``None`` and the note reads "not enough data (n = N)",
never NaN. Malformed input raises ``ValueError`` with a message a researcher can act on.

Sources
-------
- Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and Psychological
  Measurement 20(1), 37-46.
- Cohen, J. (1968). Weighted kappa. Psychological Bulletin 70(4), 213-220.
- Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Large sample standard errors of kappa and weighted kappa.
  Psychological Bulletin 72(5), 323-327.
- Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
  378-382.
- Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.). Advanced Analytics. (Fleiss' kappa when
  subjects have different numbers of ratings.)
- Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for Communication,
  University of Pennsylvania, Departmental Papers 43.
- Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater reliability.
  Psychological Bulletin 86(2), 420-428.
- McGraw, K. O. & Wong, S. P. (1996). Forming inferences about some intraclass correlation coefficients.
  Psychological Methods 1(1), 30-46 (Tables 4 and 7 for the estimators and their F-based intervals).
- Donner, A. (1986). A review of inference procedures for the intraclass correlation coefficient in the
  one-way random effects model. International Statistical Review 54(1), 67-82.
- Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. Journal of the
  American Statistical Association 22(158), 209-212.
- Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall, ch. 13 (percentile
  intervals).

Bootstrap intervals resample the items (subjects, units) with replacement, never individual ratings, and are
computed for all resamples at once with array operations.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.stats import f as f_distribution

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Label = TypeVar("Label", bound=Hashable)

ORDERED_CATEGORIES = ("competitive", "individualistic", "prosocial", "altruistic")
"""SVO categories from least to most other-regarding (Murphy, Ackermann & Handgraaf 2011)."""

KappaWeights = Literal["linear", "quadratic"]
MeasurementLevel = Literal["nominal", "ordinal", "interval", "ratio"]
ICC_FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")

CONFIDENCE_LEVEL = 0.95
_Z = 1.959963984540054  # standard normal quantile 0.975
_UPPER_QUANTILE = 1 - (1 - CONFIDENCE_LEVEL) / 2
MIN_BOOTSTRAP_RESAMPLES = 100
# Resample chunks are sized so that one chunk's index matrix holds about this many entries: large enough to
# vectorise, small enough to stay in cache (10,000 items x 1,000 resamples in one block is 3x slower).
_BOOTSTRAP_BLOCK_ENTRIES = 1 << 20
# Mean squares below this fraction of the overall variance are floating-point residue of an exact zero.
_RELATIVE_ZERO = 1e-12


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95% confidence interval, the number of items it rests on, and how it was made.

    ``value`` is ``None`` when the statistic cannot be computed (too little data, or undefined on these data);
    ``note`` then says why. Bounds may be ``None`` while the value is available when an interval is
    undefined (the note says so). No field is ever NaN or infinite.
    """

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("value", "ci_low", "ci_high"):
            number = getattr(self, name)
            if number is not None and not math.isfinite(number):
                raise ValueError(f"Estimate.{name} must be finite or None, got {number!r}")
        if self.n < 0:
            raise ValueError(f"Estimate.n must be non-negative, got {self.n}")

    @property
    def is_available(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "method": self.method,
            "note": self.note,
        }


# ---------------------------------------------------------------------------------------------------------
# shared helpers


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _not_enough_data(n: int, method: str, *notes: str) -> Estimate:
    return Estimate(None, None, None, n, method, _join(f"not enough data (n = {n})", *notes))


def _undefined(n: int, method: str, reason: str, *notes: str) -> Estimate:
    return Estimate(None, None, None, n, method, _join(f"undefined: {reason} (n = {n})", *notes))


def _finite_or_none(number: float | None) -> float | None:
    if number is None:
        return None
    number = float(number)
    return number if math.isfinite(number) else None


def _make_estimate(
    value: float,
    interval: tuple[float | None, float | None],
    n: int,
    method: str,
    *notes: str,
) -> Estimate:
    low, high = (_finite_or_none(bound) for bound in interval)
    extra = ""
    if (low is None) != (high is None) or (low is None and interval != (None, None)):
        extra = "one or both confidence bounds are unbounded or undefined on these data"
    return Estimate(float(value), low, high, n, method, _join(*notes, extra))


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_bootstrap(seed: int, n_boot: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer):
        raise ValueError(f"n_boot must be an integer, got {n_boot!r}")
    if n_boot < MIN_BOOTSTRAP_RESAMPLES:
        raise ValueError(
            f"n_boot must be at least {MIN_BOOTSTRAP_RESAMPLES} for a 95% interval, got {n_boot}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")


def _bootstrap_replicates(
    statistic: Callable[[FloatArray], FloatArray], n_items: int, *, seed: int, n_boot: int
) -> FloatArray:
    """The statistic on ``n_boot`` resamples of the items, drawn with replacement (Efron & Tibshirani 1993).

    ``statistic`` takes a (resamples x items) matrix of how often each item was drawn and returns one value
    per resample, so every statistic here is evaluated for a whole block of resamples with array operations.
    """
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BOOTSTRAP_BLOCK_ENTRIES // max(n_items, 1)))
    replicates = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        drawn = rng.integers(0, n_items, size=(size, n_items))
        drawn += (np.arange(size, dtype=np.int64) * n_items)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=size * n_items).reshape(size, n_items)
        replicates[start : start + size] = statistic(counts.astype(np.float64))
    return replicates


def _percentile_interval(replicates: FloatArray) -> tuple[tuple[float | None, float | None], str]:
    """The 2.5th and 97.5th percentiles of the defined bootstrap replicates (Efron & Tibshirani 1993, 13.3)."""
    defined = replicates[np.isfinite(replicates)]
    undefined = replicates.size - defined.size
    note = ""
    if undefined:
        note = (
            f"{undefined} of {replicates.size} bootstrap resamples had no defined value "
            "(e.g. a single category) and were left out"
        )
    if defined.size < replicates.size / 2:
        return (None, None), _join(note, "too few defined resamples for a confidence interval")
    low, high = np.percentile(defined, [100 * (1 - CONFIDENCE_LEVEL) / 2, 100 * _UPPER_QUANTILE])
    return (float(low), float(high)), note


def _bootstrap_method(unit: str, seed: int, n_boot: int) -> str:
    return f"95% CI: percentile bootstrap over {unit} ({n_boot} resamples, seed {seed})"


def _rows(table: Any, what: str) -> list[list[Any]]:
    """A list-of-lists, 2-D array or DataFrame as a list of row lists."""
    if isinstance(table, pd.DataFrame):
        return [list(row) for row in table.astype(object).to_numpy()]
    if isinstance(table, np.ndarray):
        if table.ndim != 2:
            raise ValueError(f"{what} must be two-dimensional, got an array of shape {table.shape}")
        return [list(row) for row in table.tolist()]
    if isinstance(table, str | bytes) or not isinstance(table, Iterable):
        raise ValueError(f"{what} must be a list of lists or a DataFrame, got {type(table).__name__}")
    rows = []
    for position, row in enumerate(table):
        if isinstance(row, str | bytes) or not isinstance(row, Iterable):
            raise ValueError(f"{what}: row {position} must be a list of values, got {row!r}")
        rows.append(list(row))
    return rows


# ---------------------------------------------------------------------------------------------------------
# labels: majority, accuracy, Cohen's kappa


def majority_label(labels: Iterable[Label | None]) -> Label | None:
    """The most frequent non-missing label; ``None`` if there is none or two labels share the top count."""
    counts = Counter(label for label in labels if not _is_missing(label))
    top = counts.most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def _complete_pairs(a: Iterable[Any], b: Iterable[Any]) -> tuple[list[Any], list[Any], str]:
    first, second = list(a), list(b)
    if len(first) != len(second):
        raise ValueError(
            f"the two label lists must pair up one to one, got {len(first)} and {len(second)} labels"
        )
    kept = [(x, y) for x, y in zip(first, second, strict=True) if not (_is_missing(x) or _is_missing(y))]
    dropped = len(first) - len(kept)
    note = f"dropped {_plural(dropped, 'pair')} with a missing label" if dropped else ""
    return [x for x, _ in kept], [y for _, y in kept], note


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson (1927) 95% score interval for a binomial proportion of ``successes`` out of ``n`` (n >= 1)."""
    share = successes / n
    z2 = _Z * _Z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half_width = _Z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def accuracy(a: Iterable[Any], b: Iterable[Any]) -> Estimate:
    """Share of pairs with equal labels, with the Wilson (1927) score interval.

    Used for automated category vs the raters' majority and for gold-item accuracy. Pairs where either label
    is missing are dropped (the note says how many).
    """
    first, second, note = _complete_pairs(a, b)
    n = len(first)
    method = "proportion agreement; 95% CI: Wilson (1927) score interval"
    if n < 1:
        return _not_enough_data(n, method, note)
    successes = sum(1 for x, y in zip(first, second, strict=True) if x == y)
    return _make_estimate(successes / n, wilson_interval(successes, n), n, method, note)


def _category_order(values: Sequence[Any], labels: Sequence[Any] | None, *, ordered: bool) -> list[Any]:
    observed = list(dict.fromkeys(values))
    if labels is not None:
        order = list(labels)
        if len(set(order)) != len(order):
            duplicated = sorted({str(x) for x in order if order.count(x) > 1})
            raise ValueError(f"labels must not repeat a category, repeated: {duplicated}")
        unknown = [x for x in observed if x not in set(order)]
        if unknown:
            raise ValueError(
                f"labels {sorted(map(str, unknown))} are not in the given category order {order}"
            )
        return order
    if ordered:
        if not all(_is_number(x) for x in observed):
            raise ValueError(
                "weighted kappa needs the category order: pass labels=... from lowest to highest "
                "(e.g. ORDERED_CATEGORIES) unless the labels are numbers"
            )
        return sorted(observed)
    try:
        return sorted(observed)
    except TypeError:
        return sorted(observed, key=lambda x: (type(x).__name__, str(x)))


def _agreement_weights(n_categories: int, weights: KappaWeights | None) -> FloatArray:
    """Cohen (1968) agreement weights: 1 on the diagonal, falling linearly or quadratically with distance."""
    if weights is None or n_categories < 2:
        return np.eye(n_categories, dtype=np.float64)
    positions = np.arange(n_categories, dtype=np.float64)
    distance = np.abs(positions[:, None] - positions[None, :]) / (n_categories - 1)
    return 1 - (distance if weights == "linear" else distance**2)


def _kappa_of_tables(tables: FloatArray, agreement_weights: FloatArray) -> FloatArray:
    """Weighted kappa of a stack of K x K joint-proportion tables (Cohen 1968, eq. 4); NaN where undefined."""
    rows = tables.sum(axis=2)
    columns = tables.sum(axis=1)
    observed = np.einsum("bij,ij->b", tables, agreement_weights)
    expected = np.einsum("bi,ij,bj->b", rows, agreement_weights, columns)
    headroom = 1 - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.asarray((observed - expected) / headroom, dtype=np.float64)
    kappa[headroom <= _RELATIVE_ZERO] = np.nan
    return kappa


def _kappa_standard_error(
    proportions: FloatArray, agreement_weights: FloatArray, kappa: float, n: int
) -> float:
    """Large-sample (non-null) standard error of (weighted) kappa, Fleiss, Cohen & Everitt (1969).

    var = [sum_ij p_ij (w_ij - (wbar_i. + wbar_.j)(1 - k))^2 - (k - p_e (1 - k))^2] / (n (1 - p_e)^2),
    with wbar_i. = sum_j w_ij p_.j and wbar_.j = sum_i w_ij p_i.; identity weights give unweighted kappa.
    """
    rows = proportions.sum(axis=1)
    columns = proportions.sum(axis=0)
    expected = float(rows @ agreement_weights @ columns)
    row_weight = agreement_weights @ columns
    column_weight = rows @ agreement_weights
    spread = (agreement_weights - (row_weight[:, None] + column_weight[None, :]) * (1 - kappa)) ** 2
    variance = (float((proportions * spread).sum()) - (kappa - expected * (1 - kappa)) ** 2) / (
        n * (1 - expected) ** 2
    )
    return math.sqrt(max(variance, 0.0))


def cohen_kappa(
    a: Iterable[Any],
    b: Iterable[Any],
    *,
    labels: Sequence[Any] | None = None,
    weights: KappaWeights | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> Estimate:
    """Cohen's kappa between two label lists paired item by item (Cohen 1960; weighted: Cohen 1968).

    ``labels`` fixes the category order (needed for weighted kappa on text labels, e.g.
    ``ORDERED_CATEGORIES``); every observed label must be in it. ``weights`` is None, "linear" or
    "quadratic" (agreement weights 1 - |i-j|/(K-1) or 1 - (i-j)^2/(K-1)^2, K = number of labels). Pairs with
    a missing label are dropped.

    95% CI: unweighted, kappa +/- 1.96 SE with the large-sample SE of Fleiss, Cohen & Everitt (1969),
    clipped to [-1, 1]; weighted, a percentile bootstrap over items. Resampling n items with replacement
    draws the K x K table of counts from a multinomial with the observed cell proportions, which is how the
    resamples are generated (one array for all of them).
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    _check_bootstrap(seed, n_boot)
    first, second, note = _complete_pairs(a, b)
    categories = _category_order(first + second, labels, ordered=weights is not None)
    n = len(first)
    kind = "unweighted" if weights is None else f"{weights} weights"
    if weights is None:
        method = f"Cohen's kappa ({kind}); 95% CI: asymptotic SE of Fleiss, Cohen & Everitt (1969)"
    else:
        method = f"Cohen's kappa ({kind}, Cohen 1968); {_bootstrap_method('items', seed, n_boot)}"
    if n < 2:
        return _not_enough_data(n, method, note)
    position = {category: index for index, category in enumerate(categories)}
    size = len(categories)
    cells = np.array([position[x] * size + position[y] for x, y in zip(first, second, strict=True)])
    counts = np.bincount(cells, minlength=size * size).astype(np.float64).reshape(size, size)
    agreement_weights = _agreement_weights(size, weights)
    kappa = float(_kappa_of_tables((counts / n)[None], agreement_weights)[0])
    if not math.isfinite(kappa):
        return _undefined(n, method, "all labels fall in one category, so chance agreement is 1", note)
    if weights is None:
        error = _kappa_standard_error(counts / n, agreement_weights, kappa, n)
        interval: tuple[float | None, float | None] = (
            max(-1.0, kappa - _Z * error),
            min(1.0, kappa + _Z * error),
        )
        return _make_estimate(kappa, interval, n, method, note)
    rng = np.random.default_rng(seed)
    resampled = rng.multinomial(n, (counts / n).ravel(), size=n_boot).astype(np.float64) / n
    # kappa lies in [-1, 1]; replicates outside only by rounding (e.g. -1.0000000000000004)
    replicates = np.clip(_kappa_of_tables(resampled.reshape(n_boot, size, size), agreement_weights), -1, 1)
    interval, bootstrap_note = _percentile_interval(replicates)
    return _make_estimate(kappa, interval, n, method, note, bootstrap_note)


def mean_kappa_vs_raters(
    reference: Sequence[Any],
    rated: Sequence[Any],
    raters: Sequence[Hashable],
    items: Sequence[Hashable],
    *,
    labels: Sequence[Any] | None = None,
    weights: KappaWeights | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> Estimate:
    """Mean over raters of Cohen's kappa between a reference labelling (e.g. the automated category) and
    each rater's labels, one row per rating: ``reference[i]`` is the reference label of ``items[i]`` and
    ``rated[i]`` the label ``raters[i]`` gave it.

    Each rater's kappa uses only the items that rater labelled (Cohen 1960; weighted: Cohen 1968); raters
    with fewer than two labelled items or an undefined kappa (one category only) are left out of the mean.
    n is the number of items. 95% CI: percentile bootstrap over items (an item drawn twice counts twice for
    every rater who labelled it), all raters' tables of all resamples computed at once.
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    _check_bootstrap(seed, n_boot)
    columns = [list(reference), list(rated), list(raters), list(items)]
    if len({len(column) for column in columns}) != 1:
        raise ValueError(
            "reference, rated, raters and items must have one entry per rating, got lengths "
            f"{[len(column) for column in columns]}"
        )
    rows = [row for row in zip(*columns, strict=True) if not (_is_missing(row[0]) or _is_missing(row[1]))]
    dropped = len(columns[0]) - len(rows)
    note = f"dropped {_plural(dropped, 'rating')} with a missing label" if dropped else ""
    kind = "unweighted" if weights is None else f"{weights} weights"
    method = (
        f"mean over raters of Cohen's kappa ({kind}) vs the reference; "
        f"{_bootstrap_method('items', seed, n_boot)}"
    )
    categories = _category_order(
        [row[0] for row in rows] + [row[1] for row in rows], labels, ordered=weights is not None
    )
    item_code = {item: code for code, item in enumerate(dict.fromkeys(row[3] for row in rows))}
    rater_code = {rater: code for code, rater in enumerate(dict.fromkeys(row[2] for row in rows))}
    n_items, n_raters, size = len(item_code), len(rater_code), len(categories)
    if n_items < 2 or n_raters < 1:
        return _not_enough_data(n_items, method, note)
    position = {category: index for index, category in enumerate(categories)}
    cell = np.array(
        [rater_code[r] * size * size + position[a] * size + position[b] for a, b, r, _ in rows],
        dtype=np.int64,
    )
    item_of = np.array([item_code[row[3]] for row in rows], dtype=np.int64)
    # items x (rater, reference category, rater's category): how often each item adds to each rater's table
    incidence = sparse.csr_matrix(
        (np.ones(len(rows)), (item_of, cell)), shape=(n_items, n_raters * size * size)
    )
    agreement_weights = _agreement_weights(size, weights)

    def statistic(draws: FloatArray) -> FloatArray:
        tables = np.asarray(incidence.T.dot(draws.T).T, dtype=np.float64)
        tables = tables.reshape(draws.shape[0] * n_raters, size, size)
        totals = tables.sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            kappas = _kappa_of_tables(tables / totals[:, None, None], agreement_weights)
        kappas[totals < 2] = np.nan
        kappas = np.clip(kappas, -1, 1).reshape(draws.shape[0], n_raters)  # outside only by rounding
        defined = np.isfinite(kappas)
        count = defined.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(defined, kappas, 0.0).sum(axis=1) / count
        return np.asarray(np.where(count > 0, mean, np.nan), dtype=np.float64)

    point = np.asarray(incidence.sum(axis=0), dtype=np.float64).reshape(n_raters, size, size)
    totals = point.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_rater = _kappa_of_tables(point / totals[:, None, None], agreement_weights)
    per_rater[totals < 2] = np.nan
    usable = int(np.isfinite(per_rater).sum())
    raters_note = f"mean of {_plural(usable, 'rater')}' kappas" if usable != 1 else "kappa of 1 rater"
    left_out = n_raters - usable
    if left_out:
        raters_note += f"; left out {_plural(left_out, 'rater')} with under 2 items or an undefined kappa"
    if usable == 0:
        return _not_enough_data(n_items, method, note, raters_note)
    value = float(np.nanmean(per_rater))
    interval, bootstrap_note = _percentile_interval(
        _bootstrap_replicates(statistic, n_items, seed=seed, n_boot=n_boot)
    )
    return _make_estimate(value, interval, n_items, method, note, raters_note, bootstrap_note)


# ---------------------------------------------------------------------------------------------------------
# Fleiss' kappa


def fleiss_kappa(table: Any, *, seed: int = 0, n_boot: int = 1000) -> Estimate:
    """Fleiss' kappa for many raters (Fleiss 1971), subjects x raters of labels, ``None``/NaN = missing.

    Subjects may have different numbers of ratings; subjects with fewer than two are dropped. With r_i
    ratings of subject i and r_ik of them in category k (Gwet 2014, Fleiss' kappa with missing ratings):
    P_i = sum_k r_ik (r_ik - 1) / (r_i (r_i - 1)), P_a = mean_i P_i, pi_k = mean_i r_ik / r_i,
    P_e = sum_k pi_k^2, kappa = (P_a - P_e) / (1 - P_e). With the same number of ratings for every subject
    this is exactly Fleiss (1971), eqs. 2-6. The raters rating one subject need not be those rating another,
    so rows may also be ragged lists. 95% CI: percentile bootstrap over subjects.
    """
    _check_bootstrap(seed, n_boot)
    method = f"Fleiss' kappa (Fleiss 1971; varying ratings per subject per Gwet 2014); {_bootstrap_method('subjects', seed, n_boot)}"
    rows = _rows(table, "the Fleiss table (subjects x raters)")
    ratings = [[label for label in row if not _is_missing(label)] for row in rows]
    kept = [labels for labels in ratings if len(labels) >= 2]
    dropped = len(ratings) - len(kept)
    note = f"dropped {_plural(dropped, 'subject')} with fewer than 2 ratings" if dropped else ""
    n = len(kept)
    if n < 2:
        return _not_enough_data(n, method, note)
    categories = {
        label: code for code, label in enumerate(dict.fromkeys(x for labels in kept for x in labels))
    }
    size = len(categories)
    subject_of = np.repeat(np.arange(n), [len(labels) for labels in kept])
    category_of = np.array([categories[x] for labels in kept for x in labels])
    counts = (
        np.bincount(subject_of * size + category_of, minlength=n * size).reshape(n, size).astype(np.float64)
    )
    raters = counts.sum(axis=1)
    subject_agreement = (counts * (counts - 1)).sum(axis=1) / (raters * (raters - 1))
    category_shares = counts / raters[:, None]

    def statistic(draws: FloatArray) -> FloatArray:
        observed = draws @ subject_agreement / n
        shares = draws @ category_shares / n
        expected = (shares**2).sum(axis=1)
        headroom = 1 - expected
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = np.asarray((observed - expected) / headroom, dtype=np.float64)
        kappa[headroom <= _RELATIVE_ZERO] = np.nan
        return kappa

    kappa = float(statistic(np.ones((1, n)))[0])
    if not math.isfinite(kappa):
        return _undefined(n, method, "every rating is in the same category", note)
    interval, bootstrap_note = _percentile_interval(
        _bootstrap_replicates(statistic, n, seed=seed, n_boot=n_boot)
    )
    return _make_estimate(kappa, interval, n, method, note, bootstrap_note)


# ---------------------------------------------------------------------------------------------------------
# Krippendorff's alpha


@dataclass(frozen=True)
class _PairableValues:
    """Reliability data reduced to units with at least two values (Krippendorff 2011, section C)."""

    unit_sizes: FloatArray  # m_u, values in unit u
    unit_of: IntArray  # unit of each pairable value
    code_of: IntArray  # index of each pairable value into ``values``
    values: FloatArray  # distinct values, ascending (nominal: arbitrary codes)
    counts: Any  # sparse (units x distinct values) matrix of n_uv


def _pairable_values(
    units: Sequence[Sequence[Any]], level: MeasurementLevel, labels: Sequence[Any] | None
) -> _PairableValues:
    kept = [list(unit) for unit in units if len(unit) >= 2]
    flat = [value for unit in kept for value in unit]
    if level == "nominal":
        codes = {value: code for code, value in enumerate(dict.fromkeys(flat))}
        numeric = np.array([codes[value] for value in flat], dtype=np.float64)
    elif level == "ordinal" and labels is not None:
        rank = {label: position for position, label in enumerate(labels)}
        unknown = sorted({str(value) for value in flat if value not in rank})
        if unknown:
            raise ValueError(f"values {unknown} are not in the given order labels={list(labels)}")
        numeric = np.array([rank[value] for value in flat], dtype=np.float64)
    else:
        wrong = [value for value in flat if not _is_number(value)]
        if wrong:
            raise ValueError(
                f"level {level!r} needs numeric ratings, got {wrong[:3]!r}"
                + (" (for ordered categories pass labels=... in order)" if level == "ordinal" else "")
            )
        numeric = np.array(flat, dtype=np.float64)
        if not np.isfinite(numeric).all():
            raise ValueError("ratings must be finite numbers")
        if level == "ratio" and (numeric < 0).any():
            raise ValueError("the ratio level needs non-negative ratings (it measures distance from zero)")
    values, code_of = np.unique(numeric, return_inverse=True)
    sizes = np.array([len(unit) for unit in kept], dtype=np.int64)
    unit_of = np.repeat(np.arange(len(kept), dtype=np.int64), sizes)
    counts = sparse.csr_matrix(
        (np.ones(len(flat)), (unit_of, code_of.astype(np.int64))), shape=(len(kept), len(values))
    )
    return _PairableValues(sizes.astype(np.float64), unit_of, code_of.astype(np.int64), values, counts)


def _squared_difference_disagreement(scores: FloatArray, data: _PairableValues) -> FloatArray:
    """Per unit, sum over ordered pairs of its values of (s_i - s_j)^2 / (m_u - 1) = 2 m_u SS_u / (m_u - 1)."""
    per_value = scores[data.code_of]
    sizes = data.unit_sizes
    means = np.bincount(data.unit_of, weights=per_value, minlength=sizes.size) / sizes
    sum_squares = np.bincount(
        data.unit_of, weights=(per_value - means[data.unit_of]) ** 2, minlength=sizes.size
    )
    return np.asarray(2 * sizes * sum_squares / (sizes - 1), dtype=np.float64)


def _squared_difference_expected(
    value_counts: FloatArray, scores: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """sum_c sum_k n_c n_k (s_c - s_k)^2 = 2 (n sum n_c s_c^2 - (sum n_c s_c)^2) per resample row.

    Also returns 2 n sum n_c s_c^2, the size of the terms, to tell a zero from cancellation residue.
    """
    total = value_counts.sum(axis=1)
    first = (value_counts * scores).sum(axis=1)
    magnitude = 2 * total * (value_counts * scores**2).sum(axis=1)
    return np.asarray(magnitude - 2 * first**2, dtype=np.float64), np.asarray(magnitude, dtype=np.float64)


def _ratio_unit_disagreement(data: _PairableValues) -> FloatArray:
    """Per unit, sum over ordered pairs of its values of ((c - k) / (c + k))^2 / (m_u - 1)."""
    sizes = data.unit_sizes.astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    partners = sizes[data.unit_of]  # pairable values are stored unit by unit
    first = np.repeat(np.arange(data.unit_of.size), partners)
    within = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
    second = starts[data.unit_of[first]] + within
    value = data.values[data.code_of]
    total = value[first] + value[second]
    distances = ((value[first] - value[second]) / np.where(total == 0, 1.0, total)) ** 2
    per_unit = np.bincount(data.unit_of[first], weights=distances, minlength=sizes.size)
    return np.asarray(per_unit / (data.unit_sizes - 1), dtype=np.float64)


def _ratio_expected(value_counts: FloatArray, values: FloatArray) -> FloatArray:
    """sum_c sum_k n_c n_k ((c - k) / (c + k))^2 per resample row, in blocks of distinct values."""
    expected = np.zeros(value_counts.shape[0], dtype=np.float64)
    block = max(1, _BOOTSTRAP_BLOCK_ENTRIES // max(values.size, 1))
    for start in range(0, values.size, block):
        other = values[start : start + block]
        total = values[:, None] + other[None, :]
        distances = ((values[:, None] - other[None, :]) / np.where(total == 0, 1.0, total)) ** 2
        expected += ((value_counts @ distances) * value_counts[:, start : start + block]).sum(axis=1)
    return expected


def _alpha_statistic(data: _PairableValues, level: MeasurementLevel) -> Callable[[FloatArray], FloatArray]:
    """alpha = 1 - (n - 1) sum_ck o_ck d_ck / sum_ck n_c n_k d_ck for a (resamples x units) draw matrix.

    Krippendorff (2011), section C: the coincidences o_ck are a sum of per-unit contributions, so the
    observed disagreement of a resample is the draw-weighted sum of per-unit disagreements. Nominal:
    d = [c != k]. Interval: d = (c - k)^2, whose expected term needs only per-unit sums of values and squares.
    Ratio: d = ((c - k) / (c + k))^2. Ordinal: d = (M_k - M_c)^2 with M_g = (n_1 + ... + n_g) - n_g / 2,
    which is Krippendorff's (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2; it depends on the resample's value
    frequencies, so it is recomputed for each resample.
    """
    sizes = data.unit_sizes
    counts = (
        data.counts.toarray()
        if data.counts.shape[0] * data.counts.shape[1] <= _BOOTSTRAP_BLOCK_ENTRIES
        else data.counts
    )

    def value_counts_of(draws: FloatArray) -> FloatArray:
        return np.asarray(draws @ counts, dtype=np.float64)

    if level == "interval":
        centred = (data.values - data.values.mean())[data.code_of]
        unit_features = np.column_stack(
            [
                sizes,
                np.bincount(data.unit_of, weights=centred, minlength=sizes.size),
                np.bincount(data.unit_of, weights=centred**2, minlength=sizes.size),
                _squared_difference_disagreement(data.values - data.values.mean(), data),
            ]
        )

        def interval_statistic(draws: FloatArray) -> FloatArray:
            total, first, second, observed = (draws @ unit_features).T
            magnitude = 2 * total * second
            return _alpha_from_sums(total, observed, magnitude - 2 * first**2, magnitude)

        return interval_statistic

    if level == "ordinal":

        def ordinal_statistic(draws: FloatArray) -> FloatArray:
            value_counts = value_counts_of(draws)
            midranks = np.cumsum(value_counts, axis=1) - value_counts / 2
            spread = (value_counts_of(draws * (2 * sizes / (sizes - 1))) * midranks**2).sum(axis=1)
            unit_sums = np.asarray(counts @ midranks.T, dtype=np.float64)
            observed = spread - np.einsum("bu,ub->b", draws * (2 / (sizes - 1)), unit_sums**2)
            expected, magnitude = _squared_difference_expected(value_counts, midranks)
            return _alpha_from_sums(value_counts.sum(axis=1), observed, expected, magnitude)

        return ordinal_statistic

    if level == "nominal":
        same = np.asarray(data.counts.multiply(data.counts).sum(axis=1), dtype=np.float64).ravel()
        unit_disagreement = (sizes**2 - same) / (sizes - 1)
    else:
        unit_disagreement = _ratio_unit_disagreement(data)

    def coincidence_statistic(draws: FloatArray) -> FloatArray:
        value_counts = value_counts_of(draws)
        total = value_counts.sum(axis=1)
        if level == "nominal":
            expected = total**2 - (value_counts**2).sum(axis=1)
        else:
            expected = _ratio_expected(value_counts, data.values)
        return _alpha_from_sums(total, draws @ unit_disagreement, expected, total**2)

    return coincidence_statistic


def _alpha_from_sums(
    total: FloatArray, observed: FloatArray, expected: FloatArray, magnitude: FloatArray
) -> FloatArray:
    """alpha = 1 - (n - 1) observed / expected; NaN where the expected disagreement is zero (no variation)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.asarray(1 - (total - 1) * observed / expected, dtype=np.float64)
    alpha[expected <= _RELATIVE_ZERO * magnitude] = np.nan
    return alpha


def _ordinal_point_alpha(data: _PairableValues) -> float:
    """Ordinal alpha with exactly computed per-unit terms (the interval formula on the midrank scores M_g)."""
    value_counts = np.bincount(data.code_of, minlength=data.values.size).astype(np.float64)
    midranks = np.cumsum(value_counts) - value_counts / 2
    observed = float(_squared_difference_disagreement(midranks, data).sum())
    expected, magnitude = (
        float(x[0]) for x in _squared_difference_expected(value_counts[None], midranks[None])
    )
    total = float(value_counts.sum())
    if expected <= _RELATIVE_ZERO * magnitude:
        return math.nan
    return 1 - (total - 1) * observed / expected


def krippendorff_alpha(
    data: Any,
    *,
    level: MeasurementLevel,
    labels: Sequence[Any] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> Estimate:
    """Krippendorff's alpha (Krippendorff 2011) of reliability data: raters x units, ``None``/NaN = missing.

    ``level`` is 'nominal', 'ordinal', 'interval' or 'ratio'. Ordinal data must be numbers, or labels whose
    order ``labels`` gives (e.g. ``ORDERED_CATEGORIES``). Units with fewer than two values are not pairable
    and are left out, as in Krippendorff (2011). 95% CI: percentile bootstrap over (pairable) units; n is
    the number of pairable units.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be 'nominal', 'ordinal', 'interval' or 'ratio', got {level!r}")
    if labels is not None and level != "ordinal":
        raise ValueError("labels= gives the order of ordinal categories; it only applies to level='ordinal'")
    _check_bootstrap(seed, n_boot)
    rows = _rows(data, "reliability data (raters x units)")
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise ValueError(
            f"reliability data must be raters x units with one entry per unit (None if missing); "
            f"rows have {sorted(lengths)} entries"
        )
    n_units = lengths.pop() if lengths else 0
    units = [[row[unit] for row in rows if not _is_missing(row[unit])] for unit in range(n_units)]
    return krippendorff_alpha_of_units(units, level=level, labels=labels, seed=seed, n_boot=n_boot)


def krippendorff_alpha_of_units(
    units: Sequence[Sequence[Any]],
    *,
    level: MeasurementLevel,
    labels: Sequence[Any] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> Estimate:
    """Krippendorff's alpha from the values each unit received, missing values already left out.

    Alpha depends only on which values each unit got, not on who gave them (Krippendorff 2011, section C:
    the coincidence matrix sums over units), so this equals ``krippendorff_alpha`` of the raters x units
    table and avoids building it when raters are many and sparse.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be 'nominal', 'ordinal', 'interval' or 'ratio', got {level!r}")
    if labels is not None and level != "ordinal":
        raise ValueError("labels= gives the order of ordinal categories; it only applies to level='ordinal'")
    _check_bootstrap(seed, n_boot)
    method = f"Krippendorff's alpha, {level} (Krippendorff 2011); {_bootstrap_method('units', seed, n_boot)}"
    data = _pairable_values(units, level, labels)
    n = data.unit_sizes.size
    unpaired = len(units) - n
    note = _join(
        f"{int(data.unit_sizes.sum())} pairable values",
        f"left out {_plural(unpaired, 'unit')} with fewer than 2 values" if unpaired else "",
    )
    if n < 2:
        return _not_enough_data(n, method, note)
    statistic = _alpha_statistic(data, level)
    alpha = _ordinal_point_alpha(data) if level == "ordinal" else float(statistic(np.ones((1, n)))[0])
    if not math.isfinite(alpha):
        return _undefined(
            n, method, "every pairable value is the same, so there is no variation to agree on", note
        )
    interval, bootstrap_note = _percentile_interval(
        _bootstrap_replicates(statistic, n, seed=seed, n_boot=n_boot)
    )
    return _make_estimate(alpha, interval, n, method, note, bootstrap_note)


# ---------------------------------------------------------------------------------------------------------
# intraclass correlations


@dataclass(frozen=True)
class _IccForm:
    value: float | None
    interval: tuple[float | None, float | None]
    reason: str = ""


def _f_quantile(df_numerator: float, df_denominator: float) -> float:
    return float(f_distribution.ppf(_UPPER_QUANTILE, df_numerator, df_denominator))


def _single_from_f(f_ratio: float, k: float) -> float:
    return 1.0 if math.isinf(f_ratio) else (f_ratio - 1) / (f_ratio + k - 1)


def _average_from_f(f_ratio: float) -> float | None:
    if math.isinf(f_ratio):
        return 1.0
    return None if f_ratio <= 0 else 1 - 1 / f_ratio


def _f_ratio_icc(
    ms_between: float, ms_within: float, k: float, df_between: float, df_within: float
) -> tuple[_IccForm, _IccForm]:
    """Single and average-measure ICC from one F ratio with its F-based 95% interval.

    ICC = (MS_b - MS_w) / (MS_b + (k - 1) MS_w) and (MS_b - MS_w) / MS_b; F_L = F / F_.975(df_b, df_w),
    F_U = F * F_.975(df_w, df_b); bounds (F - 1) / (F + k - 1) and 1 - 1/F (Shrout & Fleiss 1979, eqs. 6-7;
    McGraw & Wong 1996, Table 7, cases 1 and 3).
    """
    if ms_between == 0 and ms_within == 0:
        reason = "no variance in ratings"
        return _IccForm(None, (None, None), reason), _IccForm(None, (None, None), reason)
    f_ratio = math.inf if ms_within == 0 else ms_between / ms_within
    f_low = f_ratio / _f_quantile(df_between, df_within)
    f_high = f_ratio * _f_quantile(df_within, df_between)
    single_value = (ms_between - ms_within) / (ms_between + (k - 1) * ms_within)
    single = _IccForm(single_value, (_single_from_f(f_low, k), _single_from_f(f_high, k)))
    if ms_between == 0:
        average = _IccForm(None, (None, None), "no variance between targets")
    else:
        average = _IccForm(
            (ms_between - ms_within) / ms_between, (_average_from_f(f_low), _average_from_f(f_high))
        )
    return single, average


def _absolute_agreement_icc(msr: float, msc: float, mse: float, n: int, k: int) -> tuple[_IccForm, _IccForm]:
    """ICC(A,1) and ICC(A,k) with the McGraw & Wong (1996, Table 7, case 2A) interval.

    rho = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n); Satterthwaite df
    v = (a MSC + b MSE)^2 / ((a MSC)^2 / (k - 1) + (b MSE)^2 / ((n - 1)(k - 1))), a = k rho / (n (1 - rho)),
    b = 1 + k rho (n - 1) / (n (1 - rho)); L = n (MSR - F* MSE) / (F* (k MSC + (kn - k - n) MSE) + n MSR),
    U = n (F** MSR - MSE) / (k MSC + (kn - k - n) MSE + n F** MSR), F* = F_.975(n - 1, v),
    F** = F_.975(v, n - 1). ICC(A,k) and its bounds are the Spearman-Brown step-up of ICC(A,1)'s.
    """
    single_denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if single_denominator <= 0:
        reason = "no variance in ratings"
        return _IccForm(None, (None, None), reason), _IccForm(None, (None, None), reason)
    rho = (msr - mse) / single_denominator
    if rho >= 1:
        low, high = 1.0, 1.0
    else:
        a = k * rho / (n * (1 - rho))
        b = 1 + k * rho * (n - 1) / (n * (1 - rho))
        df = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
        lower_quantile = _f_quantile(n - 1, df)
        upper_quantile = _f_quantile(df, n - 1)
        spread = k * msc + (k * n - k - n) * mse
        low = n * (msr - lower_quantile * mse) / (lower_quantile * spread + n * msr)
        high = n * (upper_quantile * msr - mse) / (spread + n * upper_quantile * msr)
    single = _IccForm(rho, (low, high))

    def step_up(r: float) -> float | None:
        denominator = 1 + (k - 1) * r
        return k * r / denominator if denominator > 0 else None

    average_denominator = msr + (msc - mse) / n
    if average_denominator <= 0:
        average = _IccForm(
            None, (None, None), "between-target variance is below chance level (McGraw & Wong 1996)"
        )
    else:
        average = _IccForm((msr - mse) / average_denominator, (step_up(low), step_up(high)))
    return single, average


def _snap_to_zero(mean_square: float, scale: float) -> float:
    return 0.0 if mean_square <= _RELATIVE_ZERO * scale else mean_square


def _icc_of_matrix(ratings: FloatArray, *notes: str) -> dict[str, Estimate]:
    """All six ICC forms of a complete targets x raters matrix from the two-way ANOVA mean squares."""
    n, k = ratings.shape
    methods = {
        "ICC(1,1)": "ICC(1,1): one-way random effects, single rating (Shrout & Fleiss 1979 ICC(1,1))",
        "ICC(A,1)": "ICC(A,1): two-way random effects, absolute agreement, single rating (Shrout & Fleiss ICC(2,1))",
        "ICC(C,1)": "ICC(C,1): two-way mixed effects, consistency, single rating (Shrout & Fleiss ICC(3,1))",
        "ICC(1,k)": f"ICC(1,k): one-way random effects, mean of k = {k} ratings (Shrout & Fleiss ICC(1,k))",
        "ICC(A,k)": f"ICC(A,k): two-way random effects, absolute agreement, mean of k = {k} ratings (Shrout & Fleiss ICC(2,k))",
        "ICC(C,k)": f"ICC(C,k): two-way mixed effects, consistency, mean of k = {k} ratings (Shrout & Fleiss ICC(3,k))",
    }
    methods = {form: f"{text}; McGraw & Wong (1996); 95% CI: F-based" for form, text in methods.items()}
    if n < 2 or k < 2:
        return {
            form: _not_enough_data(n, methods[form], *notes, f"{_plural(k, 'rater')}") for form in ICC_FORMS
        }
    grand = ratings.mean()
    target_means = ratings.mean(axis=1)
    rater_means = ratings.mean(axis=0)
    ss_targets = k * float(((target_means - grand) ** 2).sum())
    ss_raters = n * float(((rater_means - grand) ** 2).sum())
    residuals = ratings - target_means[:, None] - rater_means[None, :] + grand
    ss_error = float((residuals**2).sum())
    scale = float(((ratings - grand) ** 2).sum()) / (n * k - 1)
    if scale == 0:
        return {form: _undefined(n, methods[form], "every rating is the same", *notes) for form in ICC_FORMS}
    msr = _snap_to_zero(ss_targets / (n - 1), scale)
    msc = _snap_to_zero(ss_raters / (k - 1), scale)
    mse = _snap_to_zero(ss_error / ((n - 1) * (k - 1)), scale)
    msw = _snap_to_zero((ss_raters + ss_error) / (n * (k - 1)), scale)
    one_way = _f_ratio_icc(msr, msw, k, n - 1, n * (k - 1))
    consistency = _f_ratio_icc(msr, mse, k, n - 1, (n - 1) * (k - 1))
    agreement = _absolute_agreement_icc(msr, msc, mse, n, k)
    forms = {
        "ICC(1,1)": one_way[0],
        "ICC(A,1)": agreement[0],
        "ICC(C,1)": consistency[0],
        "ICC(1,k)": one_way[1],
        "ICC(A,k)": agreement[1],
        "ICC(C,k)": consistency[1],
    }
    return {form: _icc_estimate(forms[form], n, methods[form], *notes) for form in ICC_FORMS}


def _icc_estimate(form: _IccForm, n: int, method: str, *notes: str) -> Estimate:
    if form.value is None:
        return _undefined(n, method, form.reason, *notes)
    return _make_estimate(form.value, form.interval, n, method, *notes)


def icc(data: pd.DataFrame, *, targets: str, raters: str, ratings: str) -> dict[str, Estimate]:
    """The six intraclass correlations of long-format ratings, keyed by McGraw & Wong (1996) names.

    ICC(1,1)/ICC(1,k) = Shrout & Fleiss ICC(1,1)/ICC(1,k) (one-way); ICC(A,1)/ICC(A,k) = ICC(2,1)/ICC(2,k)
    (two-way random, absolute agreement); ICC(C,1)/ICC(C,k) = ICC(3,1)/ICC(3,k) (two-way mixed,
    consistency). Computed from the two-way ANOVA mean squares (Shrout & Fleiss 1979, Table 1) with F-based
    95% intervals (McGraw & Wong 1996, Table 7).

    A target rated more than once by the same rater has those ratings averaged (the note gives the count).
    The ANOVA needs every rater to rate every target: targets missing any rater's rating are dropped
    (complete cases; the note gives the count). Rows without a rating count as missing.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"icc needs a long-format DataFrame, got {type(data).__name__}")
    missing_columns = [column for column in (targets, raters, ratings) if column not in data.columns]
    if missing_columns:
        raise ValueError(f"columns {missing_columns} are not in the data (columns: {list(data.columns)})")
    frame = data[[targets, raters, ratings]]
    for column in (targets, raters):
        if frame[column].isna().any():
            raise ValueError(
                f"{_plural(int(frame[column].isna().sum()), 'row')} without a {column!r} identifier"
            )
    numeric = pd.to_numeric(frame[ratings], errors="coerce")
    not_numeric = frame.loc[numeric.isna() & frame[ratings].notna(), ratings]
    if len(not_numeric):
        raise ValueError(f"ratings must be numbers; {ratings!r} holds {list(not_numeric.unique()[:3])!r}")
    frame = frame.assign(**{ratings: numeric.astype(np.float64)})
    notes = []
    unrated = int(frame[ratings].isna().sum())
    if unrated:
        notes.append(f"ignored {_plural(unrated, 'row')} without a rating")
        frame = frame.dropna(subset=[ratings])
    cells = frame.groupby([targets, raters], sort=True, observed=True)[ratings].agg(["mean", "size"])
    duplicates = int((cells["size"] - 1).sum())
    if duplicates:
        pairs = int((cells["size"] > 1).sum())
        notes.append(
            f"averaged {_plural(duplicates, 'duplicate rating')} "
            f"({_plural(pairs, 'target-rater pair')} rated more than once)"
        )
    wide = cells["mean"].unstack(raters)
    incomplete = wide.isna().any(axis=1)
    if incomplete.any():
        notes.append(
            f"dropped {_plural(int(incomplete.sum()), 'target')} of {len(wide)} lacking a rating from at "
            f"least one of the {wide.shape[1]} raters (complete cases)"
        )
    matrix = wide[~incomplete].to_numpy(dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        matrix = np.zeros((0, wide.shape[1]), dtype=np.float64)
    return _icc_of_matrix(matrix, *notes)


def icc_one_way(groups: Sequence[Sequence[float] | FloatArray]) -> dict[str, Estimate]:
    """One-way ICC(1,1) and ICC(1,k) for groups of exchangeable measurements of unequal size.

    Unbalanced one-way ANOVA (Donner 1986): MS_b and MS_w from all measurements, and the group size
    k0 = (N - sum n_i^2 / N) / (g - 1) in place of k, so ICC(1,1) = (MS_b - MS_w) / (MS_b + (k0 - 1) MS_w)
    and ICC(1,k) = (MS_b - MS_w) / MS_b, the reliability of a mean of about k0 measurements. The 95% interval
    is the F-based one of the balanced case with k0 for k: exact when groups are balanced (then both equal
    ``icc``'s ICC(1,1) and ICC(1,k)), approximate otherwise. Missing values are ignored; groups with no
    value are left out. Groups may be float arrays (NaN = missing).
    """
    arrays = []
    for position, group in enumerate(groups):
        if isinstance(group, np.ndarray) and group.dtype.kind == "f":
            values: Any = group[~np.isnan(group)]
        else:
            values = [value for value in group if not _is_missing(value)]
            wrong = [value for value in values if not _is_number(value)]
            if wrong:
                raise ValueError(f"group {position} holds non-numeric values {wrong[:3]!r}")
        if len(values):
            arrays.append(np.asarray(values, dtype=np.float64))
    sizes = np.array([array.size for array in arrays], dtype=np.float64)
    n_groups, total = len(arrays), float(sizes.sum())
    k0 = (total - float((sizes**2).sum()) / total) / (n_groups - 1) if n_groups >= 2 else 0.0
    balanced = bool(n_groups and (sizes == sizes[0]).all())
    if not n_groups:
        design = ""
    elif balanced:
        design = f"balanced: {int(sizes[0])} measurements per group"
    else:
        design = (
            f"unbalanced: {int(sizes.min())} to {int(sizes.max())} measurements per group, all used via the "
            f"unbalanced one-way ANOVA with k0 = {k0:.2f} (Donner 1986); CI approximate"
        )
    methods = {
        "ICC(1,1)": "ICC(1,1): one-way random effects, single measurement (Shrout & Fleiss 1979); 95% CI: F-based",
        "ICC(1,k)": "ICC(1,k): one-way random effects, mean of k0 measurements (Shrout & Fleiss 1979); 95% CI: F-based",
    }
    if n_groups < 2 or total - n_groups < 1:
        note = f"{_plural(n_groups, 'group')} with {int(total)} measurements; needs 2 groups and a repeated measurement"
        return {form: _not_enough_data(n_groups, method, note) for form, method in methods.items()}
    grand = float(np.concatenate(arrays).mean())
    means = np.array([array.mean() for array in arrays])
    ss_between = float((sizes * (means - grand) ** 2).sum())
    ss_within = float(sum(((array - array.mean()) ** 2).sum() for array in arrays))
    scale = (ss_between + ss_within) / (total - 1)
    if scale == 0:
        return {
            form: _undefined(n_groups, method, "every measurement is the same")
            for form, method in methods.items()
        }
    ms_between = _snap_to_zero(ss_between / (n_groups - 1), scale)
    ms_within = _snap_to_zero(ss_within / (total - n_groups), scale)
    single, average = _f_ratio_icc(ms_between, ms_within, k0, n_groups - 1, total - n_groups)
    return {
        "ICC(1,1)": _icc_estimate(single, n_groups, methods["ICC(1,1)"], design),
        "ICC(1,k)": _icc_estimate(average, n_groups, methods["ICC(1,k)"], design),
    }
