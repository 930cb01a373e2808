from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.sampling import Candidate, SamplingError, allocate, sample_batch


def population() -> list[Candidate]:
    candidates = []
    trial_id = 0
    for model, size in (("m1", 30), ("m2", 10)):
        for value in ("prosocial", "competitive"):
            for category in ("prosocial", "individualistic"):
                for _ in range(size // 2):
                    trial_id += 1
                    gold = category if model == "m1" and category == value else None
                    candidates.append(Candidate(trial_id, model, value, "plain", category, gold))
    return candidates


def test_same_seed_gives_the_same_sample_and_another_seed_another() -> None:
    first = sample_batch(population(), size=20, gold=4, seed=3)
    again = sample_batch(list(reversed(population())), size=20, gold=4, seed=3)
    other = sample_batch(population(), size=20, gold=4, seed=4)

    assert first == again
    assert first.all_ids != other.all_ids


def test_sample_is_stratified_in_proportion_with_every_stratum_present() -> None:
    candidates = population()
    sample = sample_batch(candidates, size=16, seed=0)

    by_id = {c.trial_id: c for c in candidates}
    drawn = Counter(by_id[i].stratum for i in sample.trial_ids)
    assert len(sample.trial_ids) == len(set(sample.trial_ids)) == 16
    assert set(drawn) == {c.stratum for c in candidates}  # all 8 strata
    assert dict(drawn) == sample.strata
    # m1 strata hold 15 each, m2 strata 5 each: m1 gets the larger share.
    assert sum(n for s, n in drawn.items() if s[0] == "m1") > sum(n for s, n in drawn.items() if s[0] == "m2")


def test_gold_items_come_only_from_known_orientation_transcripts_and_not_twice() -> None:
    candidates = population()
    sample = sample_batch(candidates, size=10, gold=5, seed=9)

    by_id = {c.trial_id: c for c in candidates}
    assert len(sample.gold_ids) == 5
    assert all(by_id[i].gold_category for i in sample.gold_ids)
    assert not set(sample.gold_ids) & set(sample.trial_ids)
    assert len(sample.all_ids) == 15


@pytest.mark.parametrize(
    ("size", "gold", "message"),
    [
        (0, 0, "at least 1"),
        (5, -1, "cannot be negative"),
        (500, 0, "only 80 are available"),
        (5, 100, "only 15 transcripts have a gold label"),
    ],
)
def test_impossible_samples_are_refused_with_a_reason(size: int, gold: int, message: str) -> None:
    with pytest.raises(SamplingError, match=message):
        sample_batch(population(), size=size, gold=gold)


@given(
    sizes=st.dictionaries(
        st.tuples(st.sampled_from("abcdef"), st.just("v"), st.just("s"), st.just("c")),
        st.integers(min_value=1, max_value=40),
        min_size=1,
        max_size=6,
    ),
    data=st.data(),
)
def test_allocation_hits_the_total_and_never_exceeds_a_stratum(sizes: dict, data: st.DataObject) -> None:
    total = data.draw(st.integers(min_value=1, max_value=sum(sizes.values())))
    counts = allocate(sizes, total)

    assert sum(counts.values()) == total
    assert all(0 < counts[k] <= sizes[k] for k in counts)
    if total >= len(sizes):
        assert set(counts) == set(sizes)
