"""The SVO scoring core against the published item table and the definitions in DESIGN.md section 1."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation import svo

PUBLISHED_TABLE = Path(__file__).resolve().parents[3] / "shared" / "svo_items.csv"
ARCHETYPE_PATTERNS = {
    # Always the option nearest each archetype's allocation: the archetype's own endpoint where it has one.
    "altruistic": [1, 9, 1, 1, 9, 9],
    "prosocial": [1, 9, 9, 1, 5, 9],
    "individualistic": [5, 9, 9, 9, 1, 1],
    "competitive": [9, 1, 9, 9, 1, 1],
}
choice_patterns = st.lists(st.integers(min_value=1, max_value=9), min_size=6, max_size=6)
full_patterns = st.lists(st.integers(min_value=1, max_value=9), min_size=15, max_size=15)


def published_rows() -> list[dict[str, str]]:
    with PUBLISHED_TABLE.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_published_table_has_135_options() -> None:
    assert len(published_rows()) == 135


@pytest.mark.parametrize("row", published_rows(), ids=lambda r: f"item{r['item']}-option{r['option']}")
def test_every_option_equals_the_published_table(row: dict[str, str]) -> None:
    item = svo.ITEMS_BY_NUMBER[int(row["item"])]
    assert item.kind == row["kind"]
    assert item.allocation(int(row["option"])) == (int(row["self"]), int(row["other"]))


def test_rounding_is_half_up_not_bankers() -> None:
    assert svo.PRIMARY_ITEMS[0].allocation(7) == (85, 33)


def test_items_are_numbered_1_to_15() -> None:
    assert [i.number for i in svo.PRIMARY_ITEMS] == [1, 2, 3, 4, 5, 6]
    assert [i.number for i in svo.SECONDARY_ITEMS] == list(range(7, 16))


@pytest.mark.parametrize(("category", "pattern"), ARCHETYPE_PATTERNS.items())
def test_archetype_patterns_fall_in_their_category(category: str, pattern: list[int]) -> None:
    score = svo.score_primary(pattern)
    assert score.category == category
    assert score.transitive


def test_reachable_extremes() -> None:
    most_altruistic = svo.score_primary([1, 9, 1, 1, 9, 9])
    most_competitive = svo.score_primary([9, 1, 9, 9, 1, 1])
    assert most_altruistic.angle == pytest.approx(61.39, abs=0.005)
    assert most_competitive.angle == pytest.approx(-16.26, abs=0.005)
    assert most_altruistic.mean_self == pytest.approx(70.0)
    assert most_altruistic.mean_other == pytest.approx(86.6667, abs=1e-4)


def test_choices_can_be_allocations() -> None:
    pairs = [svo.PRIMARY_ITEMS[i].allocation(o) for i, o in enumerate([1, 9, 9, 1, 5, 9])]
    assert svo.score_primary(pairs) == svo.score_primary([1, 9, 9, 1, 5, 9])


@pytest.mark.parametrize(
    ("angle", "category"),
    [
        (57.16, "altruistic"),
        (57.15, "prosocial"),
        (22.46, "prosocial"),
        (22.45, "individualistic"),
        (-12.03, "individualistic"),
        (-12.04, "competitive"),
    ],
)
def test_category_boundaries(angle: float, category: str) -> None:
    assert svo.category_of(angle) == category


@pytest.mark.parametrize(
    ("value", "expected"),
    [("altruistic", 61.39), ("prosocial", 45.00), ("individualistic", 0.025), ("competitive", -16.26)],
)
def test_target_angles(value: str, expected: float) -> None:
    assert svo.target_angle(value) == pytest.approx(expected, abs=0.005)


def test_individualistic_target_splits_item_1_ties_evenly() -> None:
    # Item 1 keeps self at 85 on every option: all nine tie, and their mean allocation enters the target.
    assert svo.optimal_options("individualistic", svo.PRIMARY_ITEMS[0]) == tuple(range(1, 10))
    mean_other = (451 / 9 + 50 + 85 + 15 + 50 + 50) / 6
    assert svo.target_angle("individualistic") == pytest.approx(
        math.degrees(math.atan((mean_other - 50) / 42.5))
    )


def test_prosocial_target_uses_rounded_table_ties() -> None:
    # Item 5: options 3 and 7 reach 151 points in the rounded table; the target takes their mean.
    assert svo.optimal_options("prosocial", svo.PRIMARY_ITEMS[4]) == (3, 7)


@pytest.mark.parametrize("value", svo.VALUES)
def test_ideal_agent_is_fully_rational_and_hits_its_category(value: str) -> None:
    for items in (svo.PRIMARY_ITEMS, svo.ALL_ITEMS):
        choices = svo.ideal_choices(value, items)
        assert svo.value_rationality(value, choices) == 1.0
        assert svo.score_value(value, choices).category_hit


def test_value_rationality_of_worst_choices_is_zero() -> None:
    worst = [svo.optimal_options("competitive", item)[0] for item in svo.PRIMARY_ITEMS]
    assert svo.value_rationality("prosocial", [1, 9, 9, 1, 3, 9]) == 1.0
    assert svo.value_rationality("altruistic", worst) == pytest.approx(0.0)


def test_value_rationality_skips_constant_item_for_individualistic() -> None:
    # Item 1 cannot separate individualistic choices; any option there leaves VR unchanged.
    base = svo.ideal_choices("individualistic")
    for option in range(1, 10):
        assert svo.value_rationality("individualistic", [option, *base[1:]]) == 1.0


def test_angular_deviation() -> None:
    assert svo.angular_deviation("competitive", [9, 1, 9, 9, 1, 1]) == pytest.approx(0.0)
    assert svo.angular_deviation("altruistic", [9, 1, 9, 9, 1, 1]) == pytest.approx(61.39 + 16.26, abs=0.01)


def test_intransitive_pattern_is_detected() -> None:
    # P over C (item 1), C over I (item 2), I over P (item 6) closes a cycle.
    assert not svo.score_primary([1, 1, 9, 1, 1, 1]).transitive


def test_midpoint_is_a_tie_not_a_preference() -> None:
    # Item 1 option 5 (85, 50) is exactly between P (85, 85) and C (85, 15).
    assert svo.PRIMARY_ITEMS[0].allocation(5) == (85, 50)
    assert svo.is_transitive([5, 5, 5, 5, 5, 5])


def test_inequality_aversion_index() -> None:
    averse = svo.score_secondary([6, 5, 4, 7, 5, 8, 5, 3, 2])
    assert averse.inequality_aversion == pytest.approx(0.0)
    joint = svo.score_secondary([9, 5, 1, 9, 5, 9, 5, 1, 1])
    assert joint.inequality_aversion is not None
    assert joint.inequality_aversion > 0.5
    individualist = svo.score_secondary([1, 9, 1, 1, 9, 9, 9, 1, 9])
    assert individualist.inequality_aversion is None
    assert individualist.distances["individualist"] == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: svo.score_primary([1, 2, 3]), "expected 6 choices"),
        (lambda: svo.score_primary([1, 2, 3, 4, 5, 10]), "item 6"),
        (lambda: svo.score_primary([1, 2, 3, 4, 0, 1]), "item 5"),
        (lambda: svo.score_primary([(85, 85), (1, 1), 1, 1, 1, 1]), "item 2"),
        (lambda: svo.score_secondary([1] * 8), "expected 9 choices"),
        (lambda: svo.value_rationality("selfless", [1] * 6), "unknown value"),
        (lambda: svo.value_rationality("prosocial", [1] * 7), "6 choices"),
        (lambda: svo.score_primary([True, 1, 1, 1, 1, 1]), "item 1"),
    ],
)
def test_invalid_input_raises_value_error_naming_the_problem(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@given(choice_patterns)
def test_angle_stays_in_reachable_range(pattern: list[int]) -> None:
    angle = svo.score_primary(pattern).angle
    assert -16.2603 <= angle <= 61.3896


@given(choice_patterns)
def test_category_agrees_with_thresholds(pattern: list[int]) -> None:
    score = svo.score_primary(pattern)
    bounds = {
        "altruistic": (57.15, math.inf),
        "prosocial": (22.45, 57.15),
        "individualistic": (-12.04, 22.45),
        "competitive": (-math.inf, -12.04),
    }
    low, high = bounds[score.category]
    assert low < score.angle <= high or (score.category == "competitive" and score.angle <= -12.04)


@given(full_patterns, st.sampled_from(svo.VALUES))
def test_value_rationality_in_unit_interval(pattern: list[int], value: str) -> None:
    assert 0.0 <= svo.value_rationality(value, pattern) <= 1.0
    assert 0.0 <= svo.value_rationality(value, pattern[:6]) <= 1.0


@given(choice_patterns, st.sampled_from(svo.VALUES))
def test_only_optimal_choices_reach_rationality_one(pattern: list[int], value: str) -> None:
    optimal = all(
        option in svo.optimal_options(value, item) or len(svo.optimal_options(value, item)) == 9
        for item, option in zip(svo.PRIMARY_ITEMS, pattern, strict=True)
    )
    assert (svo.value_rationality(value, pattern) == 1.0) == optimal
