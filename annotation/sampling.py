"""Which transcripts human raters see, and in what order: a seeded, stratified sample, gold items, and the
import order Label Studio serves (pure, no Django).

Strata are (model, value, strategy, automated category), so that every cell of the design and every automated
verdict is represented in proportion to its size (proportional allocation with largest remainders, at least
one per stratum while the sample is large enough; Cochran 1977, Sampling Techniques, section 5.5).

Gold items screen raters. Their label never comes from the metric being validated: it is either set by a
researcher, or constructed from a reference agent whose disposition is known by construction
(``constructed_gold``). Reference-agent transcripts enter a sample only as gold, unless the batch includes
reference transcripts on purpose (demos). The same candidates, size, gold count and seed always give the same
sample, and the same order.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

Stratum = tuple[str, str, str, str]

FAITHFUL_AGENT = "ref-faithful"
STUBBORN_AGENT = "ref-stubborn"
STUBBORN_ORIENTATION = "individualistic"


def constructed_gold(*, model: str, value: str, temperature: float | None, is_reference: bool) -> str | None:
    """The orientation a reference agent pursues by construction, or None when its disposition does not fix one.

    See evaluation/reference_llm/agents.py. ``ref-faithful`` takes the best end of every slider for the induced
    value at every temperature: its orientation is the run's induced value, whatever the metric scored.
    ``ref-stubborn`` acts individualistically whatever it is told; only at temperature 0 does it take the best
    end every time (above 0 it samples options by regret), so only then is its transcript a clear gold item.
    Not gold: ``ref-prosocial-drift`` (its direction is a blend that can sit on a category boundary),
    ``ref-position-biased`` (a mixture of the first displayed option and the value), ``ref-random`` (none),
    ``ref-extractor`` (it does not decide), and every model that is not a reference agent.
    """
    if not is_reference:
        return None
    if model == FAITHFUL_AGENT:
        return value
    if model == STUBBORN_AGENT and temperature == 0:
        return STUBBORN_ORIENTATION
    return None


@dataclass(frozen=True)
class Candidate:
    trial_id: int
    model: str
    value: str
    strategy: str
    category: str
    gold_category: str | None = None
    is_reference: bool = False

    @property
    def stratum(self) -> Stratum:
        return (self.model, self.value, self.strategy, self.category)


@dataclass(frozen=True)
class BatchSample:
    trial_ids: tuple[int, ...]
    gold_ids: tuple[int, ...]
    strata: dict[Stratum, int]

    @property
    def all_ids(self) -> tuple[int, ...]:
        return self.trial_ids + self.gold_ids


class SamplingError(ValueError):
    """The requested sample cannot be drawn from the available transcripts; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str = "size") -> None:
        super().__init__(message)
        self.field = field


def allocate(sizes: dict[Stratum, int], total: int) -> dict[Stratum, int]:
    """Proportional allocation of ``total`` over strata of the given sizes (largest remainder method)."""
    population = sum(sizes.values())
    if total > population:
        raise SamplingError(f"asked for {total} transcripts but only {population} are available")
    keys = sorted(sizes)
    if total >= len(keys):
        shares = {k: 1 + (total - len(keys)) * (sizes[k] - 1) / max(1, population - len(keys)) for k in keys}
    else:
        shares = {k: total * sizes[k] / population for k in keys}
    counts = {k: min(sizes[k], int(shares[k])) for k in keys}
    remainders = sorted(keys, key=lambda k: (-(shares[k] - int(shares[k])), k))
    while sum(counts.values()) < total:
        progressed = False
        for k in remainders:
            if sum(counts.values()) == total:
                break
            if counts[k] < sizes[k]:
                counts[k] += 1
                progressed = True
        if not progressed:
            break
    return {k: v for k, v in counts.items() if v}


def sample_batch(
    candidates: Sequence[Candidate],
    *,
    size: int,
    gold: int = 0,
    seed: int = 0,
    include_reference: bool = False,
) -> BatchSample:
    """Draw ``size`` transcripts stratified by design cell and automated category, plus ``gold`` gold items
    (candidates with a ``gold_category``). Reference-agent transcripts are drawn only as gold, unless
    ``include_reference``."""
    if size <= 0:
        raise SamplingError("the sample size must be at least 1")
    if gold < 0:
        raise SamplingError("the number of gold items cannot be negative", field="gold")
    rng = random.Random(seed)
    gold_pool = sorted((c for c in candidates if c.gold_category), key=lambda c: c.trial_id)
    if gold > len(gold_pool):
        raise SamplingError(
            f"asked for {gold} gold items but only {len(gold_pool)} transcripts have a gold label"
        )
    gold_ids = tuple(sorted(c.trial_id for c in rng.sample(gold_pool, gold)))
    taken = set(gold_ids)
    by_stratum: dict[Stratum, list[Candidate]] = defaultdict(list)
    for candidate in sorted(candidates, key=lambda c: c.trial_id):
        if candidate.trial_id in taken or (candidate.is_reference and not include_reference):
            continue
        by_stratum[candidate.stratum].append(candidate)
    try:
        counts = allocate({k: len(v) for k, v in by_stratum.items()}, size)
    except SamplingError as exc:
        if include_reference:
            raise
        raise SamplingError(
            f"{exc} (reference-agent transcripts enter only as gold)", field=exc.field
        ) from exc
    chosen: list[int] = []
    for stratum in sorted(counts):
        chosen += [c.trial_id for c in rng.sample(by_stratum[stratum], counts[stratum])]
    return BatchSample(trial_ids=tuple(sorted(chosen)), gold_ids=gold_ids, strata=counts)


# --- the import order -----------------------------------------------------------------------------------------
#
# Label Studio serves each rater the first task, in import order, that the rater has not done and that is not
# full (see annotation/services.py, ``_push_to_label_studio``). Gold tasks never fill up, so a rater's stream
# always reaches every gold task before any task imported after it. Hence the guarantee: if every run of
# ``quota`` consecutive positions of the import order holds at least ``per_rater`` gold tasks, every rater meets
# at least ``per_rater`` gold tasks among their first ``quota`` tasks, whoever else labels what meanwhile (proof
# in ``interleave``).


def gold_needed(*, items: int, quota: int, per_rater: int) -> int:
    """The fewest gold tasks that let ``items`` ordinary tasks be ordered so that every run of ``quota``
    consecutive tasks holds ``per_rater`` gold ones (0 when ``per_rater`` is 0).

    With ``w = quota - per_rater`` ordinary tasks allowed per run, G gold tasks suffice exactly when
    ``items <= w * ceil((G + 1) / per_rater)`` (see ``interleave``)."""
    if per_rater <= 0:
        return 0
    room = quota - per_rater
    if room <= 0:
        return per_rater if items == 0 else -1  # -1: no number of gold tasks is enough
    return max(per_rater, per_rater * (math.ceil(items / room) - 1))


def interleave(
    ordinary: Sequence[int], gold: Sequence[int], *, quota: int, per_rater: int, seed: int
) -> list[int]:
    """The import order: ordinary tasks shuffled (so never in blocks of one model and value) and gold tasks at
    random places, such that every run of ``quota`` consecutive places holds at least ``per_rater`` gold tasks.

    Let n_j be the number of ordinary tasks before the j-th gold one (n_j = 0 for j <= 0, n_j = S, the number
    of ordinary tasks, for j > G). A run of ``quota`` places holds ``per_rater`` = g gold tasks exactly when
    n_{j+g} - n_j <= quota - g = w for every j from 1 - g to G (the first and the last run included). The n_j are
    drawn one by one, uniformly between the bounds that keep the rest feasible: at least n_{j-1} and at least
    S - w * ceil((G + 1 - j) / g) (so the tasks left can still be spread), at most n_{j-g} + w and at most S.
    Those bounds never cross when S <= w * ceil((G + 1) / g) (``gold_needed``), by induction on j.
    """
    rng = random.Random(f"order:{seed}")
    rest = list(ordinary)
    rng.shuffle(rest)
    golds = list(gold)
    rng.shuffle(golds)
    total, count = len(rest), len(golds)
    if per_rater <= 0 or count == 0:
        before = sorted(rng.randint(0, total) for _ in golds)
    else:
        needed = gold_needed(items=total, quota=quota, per_rater=per_rater)
        if needed < 0 or count < needed:
            raise SamplingError(
                f"{total} items need at least {needed} gold items for {per_rater} gold per rater within a quota of "
                f"{quota}, got {count}"
                if needed >= 0
                else f"a quota of {quota} leaves no room for ordinary items beside {per_rater} gold ones",
                field="gold",
            )
        room = quota - per_rater
        before = []
        for j in range(1, count + 1):
            previous = before[j - 2] if j >= 2 else 0
            chain = before[j - per_rater - 1] if j > per_rater else 0
            low = max(previous, total - room * math.ceil((count + 1 - j) / per_rater))
            high = min(total, chain + room)
            if low > high:  # cannot happen when count >= needed (see the docstring); kept as a loud guard
                raise SamplingError(f"no order places gold item {j} (bounds {low}..{high})", field="gold")
            before.append(rng.randint(low, high))
    order: list[int] = []
    position = 0
    for index, ordinary_before in enumerate(before):
        order += rest[position:ordinary_before]
        position = ordinary_before
        order.append(golds[index])
    return order + rest[position:]


def gold_in_every_run(order: Sequence[int], gold: set[int], *, quota: int) -> int:
    """The fewest gold tasks in any run of ``quota`` consecutive places (the whole order when it is shorter)."""
    flags = [1 if task in gold else 0 for task in order]
    if len(flags) <= quota:
        return sum(flags)
    inside = sum(flags[:quota])
    least = inside
    for end in range(quota, len(flags)):
        inside += flags[end] - flags[end - quota]
        least = min(least, inside)
    return least
