"""How many transcripts a human validation needs for a confidence interval of a chosen half-width.

Pure module: numpy and scipy only, no Django. ``plan_sample_size`` gives the number of rated targets
(transcripts) for which the two-sided CI of an agreement statistic is expected to have the requested
half-width; ``plan_table`` the same around it. Analytic where a published large-sample formula exists,
simulation otherwise.

Formulas
--------
- ICC (Bonett 2002): n = 8 z^2 (1 - rho)^2 (1 + (k - 1) rho)^2 / (k (k - 1) w^2) + 1, rounded up,
  with w the full width of the interval (twice the half-width), k raters and z the normal quantile. It comes
  from Fisher's large-sample variance of the ICC in the one-way random-effects model. Bonett notes that for
  k = 2 and rho >= 0.7 the formula falls slightly short and suggests adding 5 rho; the plan reports that
  correction in its note rather than folding it in.
- Cohen's kappa, two raters (Fleiss, Cohen & Everitt 1969, eq. 13): the large-sample variance of kappa under
  a joint table with given marginals, var = [sum_i p_ii (1 - (p_i. + p_.i)(1 - k))^2
  + (1 - k)^2 sum_{i != j} p_ij (p_.i + p_j.)^2 - (k - p_e (1 - k))^2] / (n (1 - p_e)^2), solved for n:
  n = z^2 var_1 / h^2 (var_1 the variance at n = 1, h the half-width). The joint table is the one in which
  both raters share the marginals ``prevalence`` and agree beyond chance by kappa:
  p_ij = (1 - kappa) p_i p_j + kappa p_i [i = j].
- Everything else (kappa with more than two raters as Fleiss' kappa, Gwet's AC1, Krippendorff's alpha
  (nominal)) by simulation: each target has a true category drawn with the given prevalence; each rater
  reports it with probability a (the rater's accuracy) and otherwise a category drawn at random with the same
  prevalence. Under this model the joint table of any two raters is exactly the one above with
  kappa = a^2, so the population kappa (Cohen and Fleiss) and alpha equal a^2, and the population AC1 is
  (p_o - e) / (1 - e) with p_o = a^2 + (1 - a^2) sum p_c^2 and e = sum p_c (1 - p_c) / (q - 1) (Gwet 2008,
  eq. 7 for the chance agreement of AC1): a is solved analytically from the expected value. For each
  candidate n, ``simulations`` data sets are drawn and the statistic computed on each; the half-width is
  half the distance between the (1 - c)/2 and (1 + c)/2 quantiles of those estimates (the spread an
  exact CI would have). n is searched by doubling then bisection until that half-width is at most the
  target.

Sources
-------
- Bonett, D. G. (2002). Sample size requirements for estimating intraclass correlations with desired
  precision. Statistics in Medicine 21(9), 1331-1335.
- Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Large sample standard errors of kappa and weighted kappa.
  Psychological Bulletin 72(5), 323-327.
- Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
  378-382.
- Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence of high agreement.
  British Journal of Mathematical and Statistical Psychology 61(1), 29-48.
- Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for Communication,
  Departmental Papers 43.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Statistic = Literal["kappa", "ac1", "icc", "alpha"]
Method = Literal["auto", "analytic", "simulation"]
STATISTICS: tuple[Statistic, ...] = ("kappa", "ac1", "icc", "alpha")

DEFAULT_CONFIDENCE = 0.95
DEFAULT_SIMULATIONS = 1000
DEFAULT_SEED = 0
MIN_SIMULATIONS = 100
MAX_TARGETS = 50_000
"""The largest sample the simulation search considers; a plan needing more is reported as such."""
_SIMULATION_BLOCK_ENTRIES = 1 << 22  # ratings held in memory at once while simulating
_MAX_UNDEFINED_SHARE = 0.05  # more undefined estimates than this: n is too small for the statistic


class PlanningError(ValueError):
    """The requested plan cannot be made (inputs out of range, or a sample beyond ``MAX_TARGETS``)."""


@dataclass(frozen=True)
class PlanRequest:
    """What a plan is asked for: the statistic, its expected value, the target CI half-width, the design."""

    statistic: Statistic
    expected: float
    half_width: float
    raters: int
    prevalence: tuple[float, ...]
    confidence: float = DEFAULT_CONFIDENCE
    seed: int = DEFAULT_SEED
    simulations: int = DEFAULT_SIMULATIONS
    method: Method = "auto"

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise PlanningError(f"statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}")
        if not -1 < self.expected < 1:
            raise PlanningError(
                f"the expected value must lie strictly between -1 and 1, got {self.expected:g}"
            )
        if not 0 < self.half_width < 1:
            raise PlanningError(f"the half-width must lie strictly between 0 and 1, got {self.half_width:g}")
        if self.raters < 2:
            raise PlanningError(f"agreement needs at least 2 raters, got {self.raters}")
        if not 0 < self.confidence < 1:
            raise PlanningError(
                f"the confidence level must lie strictly between 0 and 1, got {self.confidence:g}"
            )
        if self.simulations < MIN_SIMULATIONS:
            raise PlanningError(f"simulations must be at least {MIN_SIMULATIONS}, got {self.simulations}")
        if self.method not in ("auto", "analytic", "simulation"):
            raise PlanningError(f"method must be auto, analytic or simulation, got {self.method!r}")
        if self.statistic != "icc":
            check_prevalence(self.prevalence)

    @property
    def categories(self) -> int:
        return len(self.prevalence)


@dataclass(frozen=True)
class SampleSizePlan:
    """The number of targets for the requested half-width, and how it was found."""

    request: PlanRequest
    n: int
    method: Literal["analytic", "simulation"]
    formula: str
    achieved_half_width: float
    """The half-width expected at ``n``: from the formula, or the simulated spread at ``n``."""
    rater_accuracy: float | None = None
    """Simulation only: the probability that a rater reports a target's true category."""
    note: str = ""


@dataclass(frozen=True)
class PlanTableRow:
    expected: float
    half_width: float
    n: int


def check_prevalence(prevalence: Sequence[float]) -> tuple[float, ...]:
    """Category shares: at least two, each strictly between 0 and 1, summing to 1 (within 1e-6)."""
    shares = tuple(float(p) for p in prevalence)
    if len(shares) < 2:
        raise PlanningError(f"a prevalence needs at least 2 categories, got {len(shares)}")
    if any(not math.isfinite(p) or not 0 < p < 1 for p in shares):
        raise PlanningError("each category's prevalence must lie strictly between 0 and 1")
    if abs(sum(shares) - 1) > 1e-6:
        raise PlanningError(f"the prevalences must sum to 1, they sum to {sum(shares):g}")
    return shares


def uniform_prevalence(categories: int) -> tuple[float, ...]:
    if categories < 2:
        raise PlanningError(f"at least 2 categories are needed, got {categories}")
    return tuple(1 / categories for _ in range(categories))


def _z(confidence: float) -> float:
    return float(norm.ppf(1 - (1 - confidence) / 2))


# ---------------------------------------------------------------------------------------------------------
# analytic formulas


def icc_sample_size_unrounded(
    expected: float, half_width: float, raters: int, confidence: float = DEFAULT_CONFIDENCE
) -> float:
    """Bonett (2002): n = 8 z^2 (1 - rho)^2 (1 + (k - 1) rho)^2 / (k (k - 1) w^2) + 1, w = 2 h, not rounded."""
    rho, k, width = expected, raters, 2 * half_width
    return 8 * _z(confidence) ** 2 * (1 - rho) ** 2 * (1 + (k - 1) * rho) ** 2 / (k * (k - 1) * width**2) + 1


def icc_sample_size(
    expected: float, half_width: float, raters: int, confidence: float = DEFAULT_CONFIDENCE
) -> int:
    """Bonett's (2002) n, rounded up to whole targets."""
    return math.ceil(icc_sample_size_unrounded(expected, half_width, raters, confidence) - 1e-9)


def icc_half_width(expected: float, n: int, raters: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Bonett's formula solved for the half-width at ``n`` targets."""
    rho, k = expected, raters
    return (
        math.sqrt(
            8 * _z(confidence) ** 2 * (1 - rho) ** 2 * (1 + (k - 1) * rho) ** 2 / (k * (k - 1) * (n - 1))
        )
        / 2
    )


def kappa_joint_table(kappa: float, prevalence: Sequence[float]) -> FloatArray:
    """Two raters sharing the marginals ``prevalence`` with kappa ``kappa``: p_ij = (1 - k) p_i p_j + k p_i [i=j]."""
    p = np.asarray(check_prevalence(prevalence), dtype=np.float64)
    table = (1 - kappa) * np.outer(p, p) + kappa * np.diag(p)
    if (table < 0).any():
        floor = max(-pi / (1 - pi) for pi in p)
        raise PlanningError(
            f"no two raters with these prevalences can have kappa {kappa:g}: the lowest possible is {floor:.3f}"
        )
    return table


def kappa_unit_variance(kappa: float, prevalence: Sequence[float]) -> float:
    """Fleiss, Cohen & Everitt (1969) large-sample variance of Cohen's kappa for one target (n = 1)."""
    table = kappa_joint_table(kappa, prevalence)
    rows, columns = table.sum(axis=1), table.sum(axis=0)
    chance = float(rows @ columns)
    # (1 - (p_i. + p_.i)(1 - k))^2 on the diagonal, (1 - k)^2 (p_.i + p_j.)^2 off it: one expression.
    spread = (np.eye(len(rows)) - (columns[:, None] + rows[None, :]) * (1 - kappa)) ** 2
    variance = float((table * spread).sum()) - (kappa - chance * (1 - kappa)) ** 2
    return max(variance, 0.0) / (1 - chance) ** 2


def kappa_sample_size(
    expected: float, half_width: float, prevalence: Sequence[float], confidence: float = DEFAULT_CONFIDENCE
) -> int:
    """n = z^2 var_1 / h^2, var_1 from ``kappa_unit_variance`` (Fleiss, Cohen & Everitt 1969), rounded up."""
    n = _z(confidence) ** 2 * kappa_unit_variance(expected, prevalence) / half_width**2
    return max(2, math.ceil(n - 1e-9))


def kappa_half_width(
    expected: float, n: int, prevalence: Sequence[float], confidence: float = DEFAULT_CONFIDENCE
) -> float:
    return _z(confidence) * math.sqrt(kappa_unit_variance(expected, prevalence) / n)


# ---------------------------------------------------------------------------------------------------------
# simulation: the rater model and vectorised point estimates over many replicates


def ac1_chance_agreement(prevalence: Sequence[float]) -> float:
    """Gwet's (2008) chance agreement of AC1: sum_c pi_c (1 - pi_c) / (q - 1)."""
    p = np.asarray(prevalence, dtype=np.float64)
    return float((p * (1 - p)).sum() / (len(p) - 1))


def rater_accuracy(statistic: Statistic, expected: float, prevalence: Sequence[float]) -> float:
    """The accuracy a for which the population value of ``statistic`` equals ``expected`` (see module doc)."""
    if statistic in ("kappa", "alpha"):
        squared = expected
    elif statistic == "ac1":
        p = np.asarray(prevalence, dtype=np.float64)
        matching, chance = float((p**2).sum()), ac1_chance_agreement(prevalence)
        squared = (expected * (1 - chance) + chance - matching) / (1 - matching)
    else:
        raise PlanningError(f"the rater model simulates categorical statistics, not {statistic}")
    if not 0 <= squared <= 1:
        lowest = (float((np.asarray(prevalence) ** 2).sum()) - ac1_chance_agreement(prevalence)) / (
            1 - ac1_chance_agreement(prevalence)
        )
        floor = 0.0 if statistic != "ac1" else lowest
        raise PlanningError(
            f"the simulated raters agree at least by chance: {statistic} below {floor:.3f} cannot be simulated "
            f"with these prevalences (got {expected:g})"
        )
    return math.sqrt(squared)


def simulate_ratings(
    rng: np.random.Generator,
    replicates: int,
    n: int,
    raters: int,
    prevalence: Sequence[float],
    accuracy: float,
) -> IntArray:
    """Ratings (replicates x targets x raters) of category indices under the rater model of the module doc."""
    p = np.asarray(prevalence, dtype=np.float64)
    truth = rng.choice(len(p), size=(replicates, n, 1), p=p)
    guesses = rng.choice(len(p), size=(replicates, n, raters), p=p)
    accurate = rng.random((replicates, n, raters)) < accuracy
    return np.where(accurate, truth, guesses).astype(np.int64)


def _category_counts(ratings: IntArray, categories: int) -> FloatArray:
    """How many raters put each target in each category: replicates x targets x categories."""
    one_hot = ratings[..., None] == np.arange(categories)
    return one_hot.sum(axis=2).astype(np.float64)  # type: ignore[no-any-return]


def _observed_agreement(counts: FloatArray, raters: int) -> FloatArray:
    """Share of agreeing rater pairs, averaged over targets (Fleiss 1971, eq. 2-3)."""
    per_target = ((counts * (counts - 1)).sum(axis=2)) / (raters * (raters - 1))
    return per_target.mean(axis=1)  # type: ignore[no-any-return]


def cohen_kappa_many(ratings: IntArray, categories: int) -> FloatArray:
    """Cohen's (1960) kappa of the two raters of each replicate; NaN where chance agreement is 1."""
    first = ratings[..., 0, None] == np.arange(categories)
    second = ratings[..., 1, None] == np.arange(categories)
    observed = (ratings[..., 0] == ratings[..., 1]).mean(axis=1)
    chance = (first.mean(axis=1) * second.mean(axis=1)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (observed - chance) / (1 - chance)  # type: ignore[no-any-return]


def fleiss_kappa_many(ratings: IntArray, categories: int) -> FloatArray:
    """Fleiss' (1971) kappa of each replicate: (P_a - P_e) / (1 - P_e), P_e = sum_c pi_c^2."""
    raters = ratings.shape[2]
    counts = _category_counts(ratings, categories)
    shares = counts.sum(axis=1) / (counts.shape[1] * raters)
    chance = (shares**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_observed_agreement(counts, raters) - chance) / (1 - chance)  # type: ignore[no-any-return]


def gwet_ac1_many(ratings: IntArray, categories: int) -> FloatArray:
    """Gwet's (2008) AC1 of each replicate, every rater rating every target: chance = sum pi(1-pi)/(q-1)."""
    raters = ratings.shape[2]
    counts = _category_counts(ratings, categories)
    shares = counts.sum(axis=1) / (counts.shape[1] * raters)
    chance = (shares * (1 - shares)).sum(axis=1) / (categories - 1)
    return (_observed_agreement(counts, raters) - chance) / (1 - chance)  # type: ignore[no-any-return]


def krippendorff_alpha_nominal_many(ratings: IntArray, categories: int) -> FloatArray:
    """Krippendorff's (2011) nominal alpha of each replicate with no missing ratings.

    From the coincidence matrix: alpha = 1 - (N - 1) (N - sum_c o_cc) / (N^2 - sum_c n_c^2), where N is the
    number of pairable values, o_cc = sum_u n_uc (n_uc - 1) / (m - 1) and n_c = sum_u n_uc.
    """
    raters = ratings.shape[2]
    counts = _category_counts(ratings, categories)
    total = counts.shape[1] * raters
    matches = (counts * (counts - 1)).sum(axis=(1, 2)) / (raters - 1)
    marginals = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - (total - 1) * (total - matches) / (total**2 - (marginals**2).sum(axis=1))  # type: ignore[no-any-return]


def icc_one_way_many(ratings: FloatArray) -> FloatArray:
    """ICC(1,1) of each replicate (Shrout & Fleiss 1979): (MSB - MSW) / (MSB + (k - 1) MSW)."""
    _, n, k = ratings.shape
    target_means = ratings.mean(axis=2)
    grand = target_means.mean(axis=1)
    between = k * ((target_means - grand[:, None]) ** 2).sum(axis=1) / (n - 1)
    within = ((ratings - target_means[..., None]) ** 2).sum(axis=(1, 2)) / (n * (k - 1))
    return (between - within) / (between + (k - 1) * within)  # type: ignore[no-any-return]


def _simulated_estimates(request: PlanRequest, n: int, accuracy: float) -> FloatArray:
    rng = np.random.default_rng([request.seed, n])
    block = max(1, _SIMULATION_BLOCK_ENTRIES // (n * request.raters))
    estimates: list[FloatArray] = []
    for start in range(0, request.simulations, block):
        size = min(block, request.simulations - start)
        if request.statistic == "icc":
            rho = request.expected
            targets = rng.normal(0.0, math.sqrt(max(rho, 0.0)), size=(size, n, 1))
            noise = rng.normal(0.0, math.sqrt(1 - max(rho, 0.0)), size=(size, n, request.raters))
            estimates.append(icc_one_way_many(targets + noise))
            continue
        ratings = simulate_ratings(rng, size, n, request.raters, request.prevalence, accuracy)
        if request.statistic == "ac1":
            estimates.append(gwet_ac1_many(ratings, request.categories))
        elif request.statistic == "alpha":
            estimates.append(krippendorff_alpha_nominal_many(ratings, request.categories))
        elif request.raters == 2:
            estimates.append(cohen_kappa_many(ratings, request.categories))
        else:
            estimates.append(fleiss_kappa_many(ratings, request.categories))
    return np.concatenate(estimates)


def simulated_half_width(request: PlanRequest, n: int) -> float:
    """Half the central ``confidence`` range of the statistic over ``simulations`` data sets of n targets.

    ``inf`` when more than 5% of the simulated estimates are undefined (every rating in one category).
    """
    accuracy = (
        0.0
        if request.statistic == "icc"
        else rater_accuracy(request.statistic, request.expected, request.prevalence)
    )
    estimates = _simulated_estimates(request, n, accuracy)
    defined = estimates[np.isfinite(estimates)]
    if defined.size < (1 - _MAX_UNDEFINED_SHARE) * estimates.size:
        return math.inf
    tail = (1 - request.confidence) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    return float(high - low) / 2


def simulated_sample_size(request: PlanRequest) -> tuple[int, float]:
    """The smallest n (doubling, then bisection) whose simulated half-width is at most the target."""
    low, high = 2, 8
    width = simulated_half_width(request, high)
    while width > request.half_width:
        if high >= MAX_TARGETS:
            raise PlanningError(
                f"more than {MAX_TARGETS} targets would be needed for a half-width of {request.half_width:g}"
            )
        low, high = high, min(2 * high, MAX_TARGETS)
        width = simulated_half_width(request, high)
    while high - low > 1:
        middle = (low + high) // 2
        middle_width = simulated_half_width(request, middle)
        if middle_width <= request.half_width:
            high, width = middle, middle_width
        else:
            low = middle
    return high, width


# ---------------------------------------------------------------------------------------------------------
# the plan


def _bonett_small_k_note(request: PlanRequest) -> str:
    if request.raters != 2 or request.expected < 0.7:
        return ""
    exact = icc_sample_size_unrounded(request.expected, request.half_width, 2, request.confidence)
    corrected = math.ceil(exact + 5 * request.expected - 1e-9)
    return (
        "with 2 raters and an ICC of 0.7 or more the formula runs slightly short; Bonett (2002) suggests "
        f"adding 5 x rho: n = {corrected}"
    )


def _analytic_available(request: PlanRequest) -> bool:
    return request.statistic == "icc" or (request.statistic == "kappa" and request.raters == 2)


def plan_sample_size(request: PlanRequest) -> SampleSizePlan:
    """The number of targets for ``request``: analytic where a formula exists (unless simulation is asked)."""
    analytic = _analytic_available(request)
    if request.method == "analytic" and not analytic:
        raise PlanningError(
            f"no analytic formula for {request.statistic} with {request.raters} raters here; use simulation"
        )
    if request.method == "simulation" and request.statistic == "icc" and request.expected < 0:
        raise PlanningError("the ICC simulation needs an expected value of at least 0")
    if analytic and request.method != "simulation":
        if request.statistic == "icc":
            n = icc_sample_size(request.expected, request.half_width, request.raters, request.confidence)
            return SampleSizePlan(
                request,
                n,
                "analytic",
                "Bonett (2002): n = 8 z^2 (1-rho)^2 (1+(k-1)rho)^2 / (k (k-1) w^2) + 1, w = 2 x half-width",
                icc_half_width(request.expected, n, request.raters, request.confidence),
                note=_bonett_small_k_note(request),
            )
        n = kappa_sample_size(request.expected, request.half_width, request.prevalence, request.confidence)
        return SampleSizePlan(
            request,
            n,
            "analytic",
            "Fleiss, Cohen & Everitt (1969) large-sample variance of kappa: n = z^2 var_1 / half-width^2",
            kappa_half_width(request.expected, n, request.prevalence, request.confidence),
        )
    accuracy = None
    if request.statistic != "icc":
        accuracy = rater_accuracy(request.statistic, request.expected, request.prevalence)
    n, width = simulated_sample_size(request)
    estimator = {
        "icc": "ICC(1,1) of one-way normal data",
        "ac1": "Gwet's AC1",
        "alpha": "Krippendorff's alpha (nominal)",
        "kappa": "Cohen's kappa" if request.raters == 2 else "Fleiss' kappa",
    }[request.statistic]
    return SampleSizePlan(
        request,
        n,
        "simulation",
        f"{estimator} over {request.simulations} simulated data sets (seed {request.seed}); half-width = half "
        f"the central {request.confidence:.0%} range of the estimates",
        width,
        accuracy,
    )


def _with(request: PlanRequest, *, expected: float, half_width: float) -> PlanRequest:
    return PlanRequest(
        request.statistic,
        expected,
        half_width,
        request.raters,
        request.prevalence,
        request.confidence,
        request.seed,
        request.simulations,
        request.method,
    )


def plan_table(request: PlanRequest) -> tuple[PlanTableRow, ...]:
    """n around the request: half-widths W/2, 3W/4, W, 3W/2, 2W at the expected value, and the expected
    value -0.1 and +0.1 at W (rows that cannot be planned, e.g. beyond ``MAX_TARGETS``, are left out)."""
    cells = [
        (request.expected, round(request.half_width * factor, 10)) for factor in (0.5, 0.75, 1.0, 1.5, 2.0)
    ]
    cells += [(round(request.expected + step, 10), request.half_width) for step in (-0.1, 0.1)]
    rows = []
    for expected, half_width in cells:
        try:
            plan = plan_sample_size(_with(request, expected=expected, half_width=half_width))
        except PlanningError:
            continue
        rows.append(PlanTableRow(expected, half_width, plan.n))
    return tuple(sorted(rows, key=lambda row: (row.expected, row.half_width)))
