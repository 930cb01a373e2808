"""Sensitivity analyses of automated SVO results: position bias and prompt sensitivity (pure: numpy, scipy).

Position bias
-------------
When options are shown in another order (reversed or random), a model that chooses by content picks the same
canonical options whatever the display; a model that chooses by position does not. Three views:

- the choice distribution by displayed position next to the distribution by canonical option, per order;
- a test of order dependence: Pearson's chi-square test of independence on the table order condition x
  chosen canonical option, with Cramér's V as its effect size (Cramér, H. (1946). Mathematical Methods of
  Statistics, Princeton, section 21.9). It treats a trial's items as independent observations;
- the *position-pick probability* pi: the probability that a choice is made by display position (the option
  shown at a given position) rather than by content. Each choice is modelled as a two-component mixture,
  ``P(option j) = pi * [j is shown at the position] + (1 - pi) * c_s(j)``, where ``c_s`` is a free content
  distribution per stratum (one per item and condition of the same model, so content preferences may differ
  freely between items and values). pi is estimated by maximum likelihood, the content distributions
  profiled out by EM (Dempster, Laird & Rubin (1977). Maximum likelihood from incomplete data via the EM
  algorithm. JRSS B 39(1), 1-38); its 95% CI is the profile-likelihood interval (Venzon, D. J. & Moolgavkar,
  S. H. (1988). A method for computing profile-likelihood-based confidence intervals. Applied Statistics
  37(1), 87-94), and the test of pi = 0 the likelihood-ratio test on the boundary of the parameter space,
  referred to an equal mixture of chi-square(0) and chi-square(1) (Self, S. G. & Liang, K.-Y. (1987).
  Asymptotic properties of maximum likelihood estimators and likelihood ratio tests under nonstandard
  conditions. JASA 82(398), 605-610). pi is identified only in strata where the option shown at the
  position varies (e.g. fixed and reversed runs of the same design); with a single order it is not.
- the fixed-vs-reversed difference in mean angle and value rationality, with Welch's (1947) t interval.

Prompt sensitivity
------------------
For one (model, value, strategy) run under several prompt variants: every pairwise difference of mean angle
and mean value rationality with Welch's 95% interval and p-value, the p-values Holm-adjusted across the family
(Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal of Statistics
6(2), 65-70), next to Bonferroni-adjusted (simultaneous) intervals; and the share of angle variance explained
by the prompt variant next to the share explained by the induced value, each as one-way eta squared
``SS_between / SS_total`` (Cohen, J. (1973). Eta-squared and partial eta-squared in fixed factor ANOVA
designs. Educational and Psychological Measurement 33(1), 107-112).

Welch, B. L. (1947). The generalization of 'Student's' problem when several different population variances
are involved. Biometrika 34(1/2), 28-35.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import chi2, chi2_contingency, ttest_ind

N_OPTIONS = 9
LEVEL = 0.95
_CHI2_CUT = float(chi2.ppf(LEVEL, 1))
_EM_TOLERANCE = 1e-10
_EM_MAX_ITERATIONS = 5000
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------------------------------------
# position bias


@dataclass(frozen=True)
class Choice:
    """One item decision: the canonical options in display order (label 1 first), the chosen canonical option,
    and the stratum whose content preference it shares (e.g. value, strategy and item)."""

    stratum: Hashable
    presented_order: tuple[int, ...]
    option: int


@dataclass(frozen=True)
class ChoiceDistribution:
    """How often each displayed position (1 = shown first) and each canonical option was chosen."""

    n: int
    by_position: tuple[int, ...]
    by_option: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "by_position": list(self.by_position), "by_option": list(self.by_option)}


def choice_distribution(choices: Sequence[Choice]) -> ChoiceDistribution:
    by_position = [0] * N_OPTIONS
    by_option = [0] * N_OPTIONS
    for choice in choices:
        by_position[choice.presented_order.index(choice.option)] += 1
        by_option[choice.option - 1] += 1
    return ChoiceDistribution(len(choices), tuple(by_position), tuple(by_option))


@dataclass(frozen=True)
class IndependenceTest:
    """Pearson's chi-square test of independence with Cramér's V."""

    statistic: float | None
    df: int
    p_value: float | None
    cramers_v: float | None
    n: int
    method: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "cramers_v": self.cramers_v,
            "n": self.n,
            "method": self.method,
            "note": self.note,
        }


INDEPENDENCE_METHOD = (
    "Pearson chi-square test of independence, order condition x chosen option; effect size Cramér's V "
    "(Cramér 1946); a trial's items counted as independent"
)


def order_dependence(options_by_condition: Mapping[str, Sequence[int]]) -> IndependenceTest:
    """Whether the chosen canonical options depend on the order condition (fixed, reversed, random)."""
    conditions = [name for name, options in options_by_condition.items() if len(options)]
    table = np.array(
        [
            np.bincount(np.asarray(options_by_condition[c], dtype=np.int64) - 1, minlength=N_OPTIONS)
            for c in conditions
        ],
        dtype=np.float64,
    ).reshape(len(conditions), N_OPTIONS)
    table = table[:, table.sum(axis=0) > 0]
    n = int(table.sum())
    if table.shape[0] < 2:
        return IndependenceTest(None, 0, None, None, n, INDEPENDENCE_METHOD, "needs two order conditions")
    if table.shape[1] < 2:
        return IndependenceTest(
            0.0, 0, 1.0, 0.0, n, INDEPENDENCE_METHOD, "every choice was the same option in every condition"
        )
    statistic, p_value, df, _ = chi2_contingency(table, correction=False)
    v = math.sqrt(float(statistic) / (n * (min(table.shape) - 1)))
    return IndependenceTest(_finite(statistic), int(df), _finite(p_value), _finite(v), n, INDEPENDENCE_METHOD)


@dataclass(frozen=True)
class PositionPick:
    """The estimated probability of choosing the option shown at ``position`` regardless of content."""

    position: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_informative: int
    lr_statistic: float | None
    p_value: float | None
    method: str
    note: str = ""

    @property
    def probability(self) -> float | None:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PICK_METHOD = (
    "maximum likelihood of the mixture pi * [option shown at the position] + (1 - pi) * content(stratum), "
    "content profiled out by EM (Dempster, Laird & Rubin 1977); 95% CI: profile likelihood (Venzon & "
    "Moolgavkar 1988); p: likelihood-ratio test of pi = 0 against 0.5 chi2(0) + 0.5 chi2(1) (Self & Liang 1987)"
)


class _Mixture:
    """The mixture likelihood of one set of choices, with the content distributions profiled out."""

    def __init__(self, strata: IntArray, options: IntArray, hits: npt.NDArray[np.bool_]) -> None:
        self.strata, self.options, self.hits = strata, options, hits
        self.n_strata = int(strata.max()) + 1
        self.cells = strata * N_OPTIONS + options
        self.size = self.n_strata * N_OPTIONS

    def _content(self, weights: FloatArray) -> FloatArray:
        mass = np.bincount(self.cells, weights=weights, minlength=self.size).reshape(self.n_strata, N_OPTIONS)
        totals = mass.sum(axis=1, keepdims=True)
        content: FloatArray = np.divide(mass, totals, out=np.zeros_like(mass), where=totals > 0)
        return content

    def profile(self, pi: float) -> float:
        """The log-likelihood at ``pi``, maximised over the content distributions (EM)."""
        content = self._content(np.ones(self.options.size))
        previous = -math.inf
        for _ in range(_EM_MAX_ITERATIONS):
            by_content = (1 - pi) * content[self.strata, self.options]
            by_position = pi * self.hits
            total = by_content + by_position
            with np.errstate(divide="ignore"):
                log_likelihood = float(np.log(total).sum())
            if log_likelihood - previous < _EM_TOLERANCE:
                return log_likelihood
            previous = log_likelihood
            share_content = np.divide(by_content, total, out=np.zeros_like(total), where=total > 0)
            content = self._content(share_content)
        return previous


def position_pick_probability(choices: Sequence[Choice], *, position: int = 1) -> PositionPick:
    """Estimate pi, the probability of choosing the option shown at display ``position`` (1 = first) rather
    than by content, with its profile-likelihood 95% CI and the likelihood-ratio test of pi = 0.

    Choices with the same ``stratum`` share one free content distribution; pi is common to all. Only strata
    in which the option shown at ``position`` varies carry information about pi (``n_informative``).
    """
    n = len(choices)
    if not 1 <= position <= N_OPTIONS:
        raise ValueError(f"position must be between 1 and {N_OPTIONS}, got {position}")
    stratum_codes: dict[Hashable, int] = {}
    strata = np.array(
        [stratum_codes.setdefault(c.stratum, len(stratum_codes)) for c in choices], dtype=np.int64
    )
    options = np.array([c.option - 1 for c in choices], dtype=np.int64)
    shown = np.array([c.presented_order[position - 1] - 1 for c in choices], dtype=np.int64)
    varying = {code for code in range(len(stratum_codes)) if np.unique(shown[strata == code]).size > 1}
    n_informative = int(sum(1 for code in strata.tolist() if code in varying))
    if n_informative == 0:
        note = (
            "not identified: in every stratum the same option is shown at this position (run another order)"
            if n
            else "not enough data (n = 0)"
        )
        return PositionPick(position, None, None, None, n, 0, None, None, PICK_METHOD, note)
    mixture = _Mixture(strata, options, options == shown)
    upper_limit = 1.0 - 1e-9
    found = minimize_scalar(
        lambda pi: -mixture.profile(pi), bounds=(0.0, upper_limit), method="bounded", options={"xatol": 1e-7}
    )
    pi_hat = float(found.x)
    best = -float(found.fun)
    at_zero = mixture.profile(0.0)
    if at_zero > best:
        pi_hat, best = 0.0, at_zero
    statistic = max(0.0, 2 * (best - at_zero))
    p_value = 1.0 if statistic == 0 else 0.5 * float(chi2.sf(statistic, 1))

    def excess(pi: float) -> float:
        return 2 * (best - mixture.profile(pi)) - _CHI2_CUT

    low = 0.0 if excess(0.0) <= 0 else float(brentq(excess, 0.0, pi_hat, xtol=1e-7))
    high = upper_limit if excess(upper_limit) <= 0 else float(brentq(excess, pi_hat, upper_limit, xtol=1e-7))
    note = f"{n - n_informative} of {n} choices in strata with a single order" if n_informative < n else ""
    return PositionPick(
        position, pi_hat, low, min(1.0, high), n, n_informative, statistic, p_value, PICK_METHOD, note
    )


# ---------------------------------------------------------------------------------------------------------
# differences of means, Holm, eta squared


@dataclass(frozen=True)
class Difference:
    """Mean of ``second`` minus mean of ``first`` with Welch's 95% interval and p-value; ``p_holm`` and the
    adjusted interval are filled in when the difference is part of a family (``holm_family``)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_first: int
    n_second: int
    method: str
    note: str = ""
    p_holm: float | None = None
    ci_low_adjusted: float | None = None
    ci_high_adjusted: float | None = None
    family_size: int | None = None
    n: int = field(init=False)
    """n_first + n_second."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", self.n_first + self.n_second)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


WELCH_METHOD = "difference of means (second - first); 95% CI and p: Welch (1947) t test"


def _clean(values: Sequence[float | None]) -> FloatArray:
    return np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)


def welch_difference(
    first: Sequence[float | None], second: Sequence[float | None], *, level: float = LEVEL
) -> Difference:
    """``mean(second) - mean(first)`` with Welch's interval at ``level`` (scipy's ``ttest_ind``)."""
    a, b = _clean(first), _clean(second)
    if a.size < 2 or b.size < 2:
        note = f"not enough data (n = {a.size} and {b.size})"
        return Difference(None, None, None, None, int(a.size), int(b.size), WELCH_METHOD, note)
    difference = float(b.mean() - a.mean())
    if float(a.var(ddof=1)) == 0 and float(b.var(ddof=1)) == 0:
        p_value = 1.0 if difference == 0 else 0.0
        return Difference(
            difference,
            difference,
            difference,
            p_value,
            int(a.size),
            int(b.size),
            WELCH_METHOD,
            "no spread in either sample",
        )
    result = ttest_ind(b, a, equal_var=False)
    interval = result.confidence_interval(level)
    return Difference(
        difference,
        _finite(interval.low),
        _finite(interval.high),
        _finite(result.pvalue),
        int(a.size),
        int(b.size),
        WELCH_METHOD,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's (1979) step-down adjusted p-values, in the input order: the i-th smallest p is multiplied by
    (m - i + 1), made monotone by a running maximum, and capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def holm_family(
    pairs: Sequence[tuple[Sequence[float | None], Sequence[float | None]]],
) -> list[Difference]:
    """Welch differences for a family of comparisons, each with its Holm-adjusted p-value and a
    Bonferroni-adjusted interval (level 1 - 0.05 / m, simultaneous over the m comparisons of the family)."""
    differences = [welch_difference(first, second) for first, second in pairs]
    tested = [i for i, d in enumerate(differences) if d.p_value is not None]
    m = len(tested)
    if not m:
        return differences
    adjusted = dict(zip(tested, holm([differences[i].p_value or 0.0 for i in tested]), strict=True))
    level = 1 - (1 - LEVEL) / m
    result = []
    for i, (first, second) in enumerate(pairs):
        difference = differences[i]
        if i not in adjusted:
            result.append(difference)
            continue
        wide = welch_difference(first, second, level=level)
        result.append(
            Difference(
                difference.value,
                difference.ci_low,
                difference.ci_high,
                difference.p_value,
                difference.n_first,
                difference.n_second,
                difference.method
                + f"; p Holm (1979)-adjusted and CI Bonferroni-adjusted over a family of {m}",
                difference.note,
                adjusted[i],
                wide.ci_low,
                wide.ci_high,
                m,
            )
        )
    return result


@dataclass(frozen=True)
class EtaSquared:
    value: float | None
    n: int
    groups: int
    method: str = "one-way eta squared SS_between / SS_total (Cohen 1973)"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "n": self.n,
            "groups": self.groups,
            "method": self.method,
            "note": self.note,
        }


def eta_squared(values: Sequence[float | None], groups: Sequence[Hashable]) -> EtaSquared:
    """The share of the variance of ``values`` explained by ``groups`` (missing values skipped)."""
    kept = [(float(v), g) for v, g in zip(values, groups, strict=True) if v is not None and math.isfinite(v)]
    n = len(kept)
    labels = {g for _, g in kept}
    if n < 2 or len(labels) < 2:
        return EtaSquared(None, n, len(labels), note=f"needs two groups and two values (n = {n})")
    data = np.array([v for v, _ in kept], dtype=np.float64)
    grand = float(data.mean())
    total = float(((data - grand) ** 2).sum())
    if total == 0:
        return EtaSquared(None, n, len(labels), note="undefined: no variance")
    between = 0.0
    for label in labels:
        members = np.array([v for v, g in kept if g == label], dtype=np.float64)
        between += members.size * (float(members.mean()) - grand) ** 2
    return EtaSquared(between / total, n, len(labels))
