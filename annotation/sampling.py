"""Which transcripts human raters see: a seeded, stratified sample plus gold items (pure, no Django).

Strata are (model, value, strategy, automated category), so that every cell of the design and every automated
verdict is represented in proportion to its size (proportional allocation with largest remainders, at least
one per stratum while the sample is large enough; Cochran 1977, Sampling Techniques, section 5.5). Gold items
are transcripts of reference agents whose orientation is known by construction (the faithful agent hit the
induced value), used to screen raters. The same candidates, size, gold count and seed always give the same
sample.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

Stratum = tuple[str, str, str, str]


@dataclass(frozen=True)
class Candidate:
    trial_id: int
    model: str
    value: str
    strategy: str
    category: str
    gold_category: str | None = None

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
    """The requested sample cannot be drawn from the available transcripts."""


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


def sample_batch(candidates: Sequence[Candidate], *, size: int, gold: int = 0, seed: int = 0) -> BatchSample:
    """Draw ``size`` transcripts stratified by design cell and automated category, plus ``gold`` gold items."""
    if size <= 0:
        raise SamplingError("the sample size must be at least 1")
    if gold < 0:
        raise SamplingError("the number of gold items cannot be negative")
    rng = random.Random(seed)
    gold_pool = sorted((c for c in candidates if c.gold_category), key=lambda c: c.trial_id)
    if gold > len(gold_pool):
        raise SamplingError(
            f"asked for {gold} gold items but only {len(gold_pool)} reference transcripts qualify"
        )
    gold_ids = tuple(sorted(c.trial_id for c in rng.sample(gold_pool, gold)))
    taken = set(gold_ids)
    by_stratum: dict[Stratum, list[Candidate]] = defaultdict(list)
    for candidate in sorted(candidates, key=lambda c: c.trial_id):
        if candidate.trial_id not in taken:
            by_stratum[candidate.stratum].append(candidate)
    counts = allocate({k: len(v) for k, v in by_stratum.items()}, size)
    chosen: list[int] = []
    for stratum in sorted(counts):
        chosen += [c.trial_id for c in rng.sample(by_stratum[stratum], counts[stratum])]
    return BatchSample(trial_ids=tuple(sorted(chosen)), gold_ids=gold_ids, strata=counts)
