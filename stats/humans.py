"""People and models on the same SVO task: distributions, value induction, test-retest, and the random
responder as a reference (pure: numpy, pandas, scipy and the SVO core; no Django).

Inputs are plain records: one ``HumanResponse`` per wave a participant submitted, one ``ModelTrial`` per scored
trial. Every figure is an ``Estimate`` (value, 95% CI, n, method).

Sources
-------
- Murphy, R. O., Ackermann, K. A. & Handgraaf, M. J. J. (2011). Measuring social value orientation. Judgment
  and Decision Making 6(8), 771-781 (angle, categories, transitivity: through ``evaluation.svo``).
- McGraw, K. O. & Wong, S. P. (1996). Forming inferences about some intraclass correlation coefficients.
  Psychological Methods 1(1), 30-46 (ICC(A,1): two-way random effects, absolute agreement, single measure).
- Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. JASA 22(158),
  209-212 (score interval of a proportion).
- Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions: comparison
  of eleven methods. Statistics in Medicine 17(8), 873-890 (method 10, the hybrid score interval).
- Welch, B. L. (1947). Biometrika 34(1/2), 28-35 (difference of two means, via ``stats.comparison``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import product
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from evaluation import svo
from stats import comparison
from stats.agreement import Estimate, accuracy, icc

NO_INDUCTION = "none"
ARMS = (NO_INDUCTION, *svo.VALUES)
ANGLE_EDGES = tuple(float(edge) for edge in np.arange(-20.0, 65.0 + 1e-9, 5.0))
WILSON_METHOD = "proportion; 95% CI: Wilson (1927) score interval (scipy binomtest)"
NEWCOMBE_METHOD = "difference of proportions (model - humans); 95% CI: Newcombe (1998) hybrid score interval"


class HumanResponse(NamedTuple):
    """One wave of one participant, as scored by ``evaluation.svo`` when it was submitted."""

    participant: int
    wave: int
    value: str  # the induced value, or "none"
    angle: float
    category: str
    value_rationality: float | None  # for the induced value; None without induction
    category_hit: bool | None
    transitive: bool
    flagged: bool  # straight-lined or implausibly fast


class ModelTrial(NamedTuple):
    """One scored trial of a model (one fresh conversation)."""

    model: str
    value: str
    strategy: str
    run: int
    trial: int
    angle: float
    category: str | None
    value_rationality: float | None
    category_hit: bool | None
    reference_agent: bool = False


Models: TypeAlias = pd.DataFrame | Sequence[ModelTrial]
"""Model trials as records, or as a frame with ``ModelTrial``'s fields as columns (what a report passes: studies
have 100,000s of trials)."""


def models_frame(models: Models) -> pd.DataFrame:
    if isinstance(models, pd.DataFrame):
        return models
    return pd.DataFrame(list(models), columns=list(ModelTrial._fields))


# --- Small estimators -----------------------------------------------------------------------------------------


def proportion(successes: int, n: int) -> Estimate:
    """A proportion with the Wilson score 95% interval (scipy's binomtest)."""
    if n < 1:
        return Estimate(None, None, None, n, WILSON_METHOD, f"not enough data (n = {n})")
    interval = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Estimate(successes / n, float(interval.low), float(interval.high), n, WILSON_METHOD)


def proportion_difference(first: Estimate, second: Estimate) -> Estimate:
    """``second - first`` for two independent Wilson proportions, with Newcombe's hybrid score interval."""
    n = first.n + second.n
    p1, l1, u1 = first.value, first.ci_low, first.ci_high
    p2, l2, u2 = second.value, second.ci_low, second.ci_high
    if p1 is None or l1 is None or u1 is None or p2 is None or l2 is None or u2 is None:
        return Estimate(None, None, None, n, NEWCOMBE_METHOD, "not enough data in one of the groups")
    difference = p2 - p1
    low = difference - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = difference + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return Estimate(difference, max(-1.0, low), min(1.0, high), n, NEWCOMBE_METHOD)


def icc_a1(first: Sequence[float], second: Sequence[float]) -> Estimate:
    """ICC(A,1) of paired measurements (two administrations as the two raters), McGraw & Wong (1996)."""
    n = len(first)
    long = pd.DataFrame(
        {
            "target": np.tile(np.arange(n), 2),
            "wave": np.repeat([1, 2], n),
            "angle": np.concatenate(
                [np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)]
            ),
        }
    )
    return icc(long, targets="target", raters="wave", ratings="angle")["ICC(A,1)"]


# --- The uniformly random responder -------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomResponder:
    """What a responder choosing each of the nine stops of every primary item with equal chance would score,
    computed exactly over all 9^6 = 531,441 answer patterns (not simulated)."""

    patterns: int
    mean_angle: float
    sd_angle: float
    categories: dict[str, float]
    value_rationality: dict[str, float]
    hit_rate: dict[str, float]
    transitive: float
    straight_lining: float
    method: str = "exact enumeration of all 9^6 primary-item patterns, each equally likely"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _payoff_sums() -> Counter[tuple[int, int]]:
    """How many patterns give each (sum of own payoffs, sum of the other's payoffs) over the primary items."""
    sums: Counter[tuple[int, int]] = Counter({(0, 0): 1})
    for item in svo.PRIMARY_ITEMS:
        step: Counter[tuple[int, int]] = Counter()
        for (own, other), count in sums.items():
            for option in range(1, svo.OPTIONS_PER_ITEM + 1):
                s, o = item.allocation(option)
                step[(own + s, other + o)] += count
        sums = step
    return sums


def _expected_value_rationality(value: str) -> float:
    """E[VR_v] under uniform choices. VR is one minus the mean of per-item regrets, so its expectation is one
    minus the sum over items of each item's mean loss, read off ``svo.value_rationality`` by varying one item
    while the others stay value-optimal (uninformative items never lose anything)."""
    ideal = svo.ideal_choices(value)
    expected_loss = 0.0
    for index in range(len(ideal)):
        losses = []
        for option in range(1, svo.OPTIONS_PER_ITEM + 1):
            choices = list(ideal)
            choices[index] = option
            losses.append(1.0 - svo.value_rationality(value, choices))
        expected_loss += sum(losses) / len(losses)
    return 1.0 - expected_loss


def _nearer_endpoint(item: svo.Item, option: int) -> int:
    """-1: nearer the first endpoint's archetype, 1: nearer the last, 0: equidistant (Murphy's preference)."""
    s, o = item.allocation(option)
    (fs, fo), (ls, lo) = item.first, item.last
    to_first = (s - fs) ** 2 + (o - fo) ** 2
    to_last = (s - ls) ** 2 + (o - lo) ** 2
    return (to_first > to_last) - (to_first < to_last)


def _transitive_share() -> float:
    """P(transitive): options of an item that prefer the same endpoint are interchangeable for transitivity, so
    one representative of each preference class per item is checked with ``svo.is_transitive``, weighted by the
    class sizes (at most 3^6 checks instead of 9^6)."""
    classes = []
    for item in svo.PRIMARY_ITEMS:
        members: dict[int, list[int]] = {}
        for option in range(1, svo.OPTIONS_PER_ITEM + 1):
            members.setdefault(_nearer_endpoint(item, option), []).append(option)
        classes.append([(options[0], len(options)) for options in members.values()])
    transitive = 0
    for combination in product(*classes):
        if svo.is_transitive([option for option, _ in combination]):
            transitive += math.prod(size for _, size in combination)
    return float(transitive / svo.OPTIONS_PER_ITEM ** len(svo.PRIMARY_ITEMS))


@cache
def random_responder() -> RandomResponder:
    """The reference line: computed once per process (it depends only on the SVO definitions)."""
    n_items = len(svo.PRIMARY_ITEMS)
    total = svo.OPTIONS_PER_ITEM**n_items
    angles, weights = [], []
    categories: Counter[str] = Counter()
    for (own, other), count in _payoff_sums().items():
        angle = svo.angle_of(own / n_items, other / n_items)
        angles.append(angle)
        weights.append(count)
        categories[svo.category_of(angle)] += count
    angle_array, weight_array = np.array(angles), np.array(weights, dtype=np.float64) / total
    mean = float(np.sum(angle_array * weight_array))
    shares: dict[str, float] = {category: categories[category] / total for category in svo.CATEGORIES}
    return RandomResponder(
        patterns=total,
        mean_angle=mean,
        sd_angle=float(math.sqrt(np.sum(weight_array * (angle_array - mean) ** 2))),
        categories=shares,
        value_rationality={value: _expected_value_rationality(value) for value in svo.VALUES},
        hit_rate={value: shares[value] for value in svo.VALUES},
        transitive=_transitive_share(),
        straight_lining=svo.OPTIONS_PER_ITEM / total,
    )


# --- Distributions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """Angles and categories of one group: people under one induction arm, or one model cell."""

    who: str  # "humans" or the model's name
    value: str  # induction arm / induced value
    strategy: str  # "" for people
    n: int
    angle: Estimate
    sd_angle: float | None
    categories: dict[str, int]
    histogram: tuple[int, ...]
    reference_agent: bool = False
    category_shares: dict[str, float | None] = field(init=False)
    """Each category's count over n (None when n is 0)."""

    def __post_init__(self) -> None:
        shares = {c: (k / self.n if self.n else None) for c, k in self.categories.items()}
        object.__setattr__(self, "category_shares", shares)


def distribution(
    who: str, value: str, angles: Sequence[float], categories: Iterable[str | None], **extra: Any
) -> Distribution:
    counts = Counter(category for category in categories if isinstance(category, str) and category)
    data = np.asarray(angles, dtype=np.float64)
    clipped = np.clip(data, ANGLE_EDGES[0], ANGLE_EDGES[-1])
    histogram, _ = np.histogram(clipped, bins=np.asarray(ANGLE_EDGES))
    return Distribution(
        who=who,
        value=value,
        strategy=extra.pop("strategy", ""),
        n=int(data.size),
        angle=comparison.mean_estimate(data.tolist()),
        sd_angle=float(data.std(ddof=1)) if data.size > 1 else None,
        categories={category: int(counts.get(category, 0)) for category in svo.CATEGORIES},
        histogram=tuple(int(k) for k in histogram),
        **extra,
    )


# --- Value induction: people against each model -------------------------------------------------------------


@dataclass(frozen=True)
class ModelInduction:
    model: str
    strategy: str
    reference_agent: bool
    value_rationality: Estimate
    hit_rate: Estimate
    vr_difference: Estimate  # model - humans
    hit_rate_difference: Estimate  # model - humans


@dataclass(frozen=True)
class InductionRates:
    """People's value rationality and category hit rate under one induced value."""

    value_rationality: Estimate
    hit_rate: Estimate


@dataclass(frozen=True)
class RandomRates:
    """The uniformly random responder's expected value rationality and hit rate for one value."""

    value_rationality: float
    hit_rate: float


@dataclass(frozen=True)
class ValueInduction:
    value: str
    humans: InductionRates
    random_responder: RandomRates
    models: tuple[ModelInduction, ...] = field(default_factory=tuple)

    @property
    def human_value_rationality(self) -> Estimate:
        return self.humans.value_rationality

    @property
    def human_hit_rate(self) -> Estimate:
        return self.humans.hit_rate


def value_induction(value: str, humans: Sequence[HumanResponse], models: Models) -> ValueInduction:
    """People induced with ``value`` next to every model (and prompting strategy) induced with it."""
    people = [h for h in humans if h.value == value]
    human_vr = [h.value_rationality for h in people if h.value_rationality is not None]
    human_hits = [h.category_hit for h in people if h.category_hit is not None]
    human_rate = proportion(sum(human_hits), len(human_hits))
    reference = random_responder()
    frame = models_frame(models)
    rows = []
    for (model, strategy), trials in frame[frame["value"] == value].groupby(["model", "strategy"], sort=True):
        vr = pd.to_numeric(trials["value_rationality"], errors="coerce").dropna().tolist()
        hits = trials["category_hit"].dropna().astype(bool)
        rate = proportion(int(hits.sum()), len(hits))
        rows.append(
            ModelInduction(
                model=str(model),
                strategy=str(strategy),
                reference_agent=bool(trials["reference_agent"].any()),
                value_rationality=comparison.mean_estimate(vr),
                hit_rate=rate,
                vr_difference=comparison.mean_difference(human_vr, vr),
                hit_rate_difference=proportion_difference(human_rate, rate),
            )
        )
    return ValueInduction(
        value=value,
        humans=InductionRates(comparison.mean_estimate(human_vr), human_rate),
        random_responder=RandomRates(reference.value_rationality[value], reference.hit_rate[value]),
        models=tuple(rows),
    )


# --- Test-retest ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retest:
    """Agreement between two administrations: ICC(A,1) of the angle and the share with the same category."""

    who: str
    icc: Estimate = field(metadata={"json_name": "ICC(A,1)"})
    category_agreement: Estimate
    design: str


@dataclass(frozen=True)
class Retests:
    humans: Retest
    models: tuple[Retest, ...]


@dataclass(frozen=True)
class HumansSection:
    """The report's ``humans`` section: people who took the slider next to the study's models."""

    n_participants: int
    n_response_sets: int
    n_wave_1: int
    n_wave_2: int
    n_flagged: int
    n_left_out: int
    include_flagged: bool
    n_intransitive: int
    transitive: Estimate
    angle_edges: tuple[float, ...]
    distributions: tuple[Distribution, ...]
    induction: tuple[ValueInduction, ...]
    retest: Retests
    random_responder: RandomResponder
    methods: dict[str, str]


def human_retest(humans: Sequence[HumanResponse]) -> Retest:
    """Each participant with both waves is one target measured twice (wave 1 and 2 as the two raters)."""
    waves: dict[int, dict[int, HumanResponse]] = {}
    for h in humans:
        waves.setdefault(h.participant, {})[h.wave] = h
    pairs = [(w[1], w[2]) for _, w in sorted(waves.items()) if 1 in w and 2 in w]
    return Retest(
        who="humans",
        icc=icc_a1([a.angle for a, _ in pairs], [b.angle for _, b in pairs]),
        category_agreement=accuracy([a.category for a, _ in pairs], [b.category for _, b in pairs]),
        design="each participant answers the same items twice, the retest interval apart",
    )


def model_retest(model: str, models: Models) -> Retest:
    """The matching design for a model: consecutive repeated trials of one configuration (trials 1 and 2, 3 and
    4, ... of each run) are one respondent measured twice; pairs from all its configurations are pooled."""
    frame = models_frame(models)
    keys = ["value", "strategy", "run"]
    mine = frame[frame["model"] == model].sort_values([*keys, "trial"], kind="stable")
    index = mine.groupby(keys, sort=False).cumcount()
    mine = mine.assign(pair=index // 2, side=index % 2)
    pairs = mine[mine["side"] == 0].merge(mine[mine["side"] == 1], on=[*keys, "pair"], suffixes=("_1", "_2"))
    return Retest(
        who=model,
        icc=icc_a1(pairs["angle_1"].tolist(), pairs["angle_2"].tolist()),
        category_agreement=accuracy(pairs["category_1"].tolist(), pairs["category_2"].tolist()),
        design="consecutive repeated trials of one configuration as one respondent measured twice",
    )


# --- The whole section ----------------------------------------------------------------------------------------


def humans_vs_models(
    humans: Sequence[HumanResponse], models: Models, *, include_flagged: bool = False
) -> HumansSection:
    """The report's ``humans`` section."""
    kept = [h for h in humans if include_flagged or not h.flagged]
    first = [h for h in kept if h.wave == 1]
    distributions = [
        distribution("humans", arm, [h.angle for h in group], [h.category for h in group])
        for arm in ARMS
        if (group := [h for h in first if h.value == arm])
    ]
    frame = models_frame(models)
    distributions += [
        distribution(
            str(model),
            str(value),
            trials["angle"].tolist(),
            trials["category"].tolist(),
            strategy=str(strategy),
            reference_agent=bool(trials["reference_agent"].any()),
        )
        for (model, value, strategy), trials in frame.groupby(["model", "value", "strategy"], sort=True)
    ]
    induced = sorted({h.value for h in first} - {NO_INDUCTION}, key=svo.VALUES.index)
    flagged = [h for h in humans if h.flagged]
    return HumansSection(
        n_participants=len({h.participant for h in humans}),
        n_response_sets=len(humans),
        n_wave_1=sum(1 for h in humans if h.wave == 1),
        n_wave_2=sum(1 for h in humans if h.wave == 2),
        n_flagged=len(flagged),
        n_left_out=0 if include_flagged else len(flagged),
        include_flagged=include_flagged,
        n_intransitive=sum(1 for h in first if not h.transitive),
        transitive=proportion(sum(1 for h in first if h.transitive), len(first)),
        angle_edges=ANGLE_EDGES,
        distributions=tuple(distributions),
        induction=tuple(value_induction(value, first, frame) for value in induced),
        retest=Retests(
            humans=human_retest(kept),
            models=tuple(model_retest(str(model), frame) for model in sorted(frame["model"].unique())),
        ),
        random_responder=random_responder(),
        methods={
            "flags": "straight-lining: every item answered with the same option; implausibly fast: median time "
            "per item below the threshold stored with the flag (2 s); flagged response sets are left out "
            "unless include_flagged",
            "value_rationality": "mean with a Student t 95% CI; differences model - humans with Welch's interval",
            "hit_rate": WILSON_METHOD + "; differences: " + NEWCOMBE_METHOD,
            "retest": "ICC(A,1), McGraw & Wong (1996), two-way random effects, absolute agreement, single "
            "measure; category agreement with a Wilson interval",
        },
    )
