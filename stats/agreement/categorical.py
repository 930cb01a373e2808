"""Agreement on categorical labels: majority label, accuracy with the Wilson interval, Cohen's kappa
(unweighted and weighted), the mean kappa of raters against a reference, and Fleiss' kappa.

Pure module: numpy and scipy only, no Django. Sources are listed in ``stats.agreement``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from scipy.stats import binomtest

from stats.agreement.estimate import (
    _RELATIVE_ZERO,
    _Z,
    Estimate,
    FloatArray,
    KappaWeights,
    Label,
    _bootstrap_method,
    _bootstrap_replicates,
    _check_bootstrap,
    _is_missing,
    _is_number,
    _make_estimate,
    _not_enough_data,
    _percentile_interval,
    _plural,
    _rows,
    _undefined,
)

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
    """Wilson (1927) 95% score interval for a binomial proportion of ``successes`` out of ``n`` (n >= 1), as
    scipy computes it (``binomtest(...).proportion_ci(method="wilson")``)."""
    interval = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return max(0.0, float(interval.low)), min(1.0, float(interval.high))


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
