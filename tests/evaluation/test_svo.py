"""The SVO scoring core against the published item table and the definitions in DESIGN.md section 1
(hvae-svo/2 by default; the superseded hvae-svo/1 by name)."""

from __future__ import annotations

import csv
import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation import svo

V1 = "hvae-svo/1"
V2 = "hvae-svo/2"
TEXTBOOK_PROSOCIAL = [1, 9, 9, 1, 5, 9]

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
        (57.15, "altruistic"),
        (57.14, "prosocial"),
        (22.46, "prosocial"),
        (22.45, "prosocial"),
        (22.44, "individualistic"),
        (-12.03, "individualistic"),
        (-12.04, "individualistic"),
        (-12.05, "competitive"),
    ],
)
def test_category_lower_bounds_are_inclusive(angle: float, category: str) -> None:
    assert svo.category_of(angle) == category
    assert svo.category_of(angle, definitions=V2) == category


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
def test_v1_category_bounds_were_strict(angle: float, category: str) -> None:
    assert svo.category_of(angle, definitions=V1) == category


@pytest.mark.parametrize(
    ("value", "expected"),
    [("altruistic", 61.39), ("prosocial", 45.00), ("individualistic", 0.00), ("competitive", -16.26)],
)
def test_target_angles(value: str, expected: float) -> None:
    assert svo.target_angle(value) == pytest.approx(expected, abs=0.005)


def test_exact_targets_of_prosocial_and_individualistic() -> None:
    assert svo.target_angle("individualistic") == 0.0
    assert svo.target_angle("prosocial") == 45.0


def test_uninformative_items_are_decided_on_the_exact_endpoints() -> None:
    # Exactly two primary cases: item 1 for individualistic (self stays 85), item 5 for prosocial (I and A both
    # sum to 150, although the rounded options sum to 150 or 151); with all items also 8, 11 and 13 for prosocial.
    uninformative = {
        value: [item.number for item in svo.ALL_ITEMS if svo.optimal_end(value, item) is None]
        for value in svo.VALUES
    }
    assert uninformative == {
        "altruistic": [],
        "prosocial": [5, 8, 11, 13],
        "individualistic": [1],
        "competitive": [],
    }
    assert {sum(allocation) for allocation in svo.ITEMS_BY_NUMBER[5].options} == {150, 151}
    assert svo.optimal_options("prosocial", svo.ITEMS_BY_NUMBER[5]) == tuple(range(1, 10))
    assert svo.optimal_options("altruistic", svo.ITEMS_BY_NUMBER[5]) == (9,)


def test_ideal_agent_takes_the_equal_split_on_item_5_when_prosocial() -> None:
    assert svo.ideal_choices("prosocial") == TEXTBOOK_PROSOCIAL
    assert svo.ITEMS_BY_NUMBER[5].allocation(svo.MIDPOINT_OPTION) == (75, 75)
    assert svo.ideal_choices("individualistic") == [5, 9, 9, 9, 1, 1]


def test_textbook_prosocial_pattern_is_fully_value_rational() -> None:
    score = svo.score_value("prosocial", TEXTBOOK_PROSOCIAL)
    assert score.value_rationality == 1.0
    assert score.primary.angle == 45.0
    assert score.angular_deviation == 0.0
    assert score.category_hit
    assert score.definitions_version == V2


def test_v1_results_are_reproducible_by_name() -> None:
    # hvae-svo/1 scored on the rounded payoffs: the equal split on item 5 was the worst prosocial choice.
    v1 = svo.score_value("prosocial", TEXTBOOK_PROSOCIAL, definitions=V1)
    assert v1.value_rationality == pytest.approx(5 / 6)
    assert v1.definitions_version == V1
    assert svo.value_rationality("prosocial", TEXTBOOK_PROSOCIAL, definitions=V1) == pytest.approx(
        0.8333, abs=1e-4
    )
    assert svo.target_angle("individualistic", definitions=V1) == pytest.approx(0.025, abs=0.0005)
    assert svo.ideal_choices("prosocial", definitions=V1) == [1, 9, 9, 1, 3, 9]
    assert svo.optimal_options("prosocial", svo.PRIMARY_ITEMS[4], definitions=V1) == (3, 7)
    assert svo.angular_deviation("individualistic", [5, 9, 9, 9, 1, 1], definitions=V1) == pytest.approx(
        abs(svo.score_primary([5, 9, 9, 9, 1, 1]).angle - svo.target_angle("individualistic", definitions=V1))
    )


def test_v1_individualistic_target_split_item_1_ties_over_rounded_options() -> None:
    # Item 1 keeps self at 85 on every option: all nine tie, and their mean allocation entered the target.
    assert svo.optimal_options("individualistic", svo.PRIMARY_ITEMS[0], definitions=V1) == tuple(range(1, 10))
    mean_other = (451 / 9 + 50 + 85 + 15 + 50 + 50) / 6
    assert svo.target_angle("individualistic", definitions=V1) == pytest.approx(
        math.degrees(math.atan((mean_other - 50) / 42.5))
    )


@pytest.mark.parametrize("call", [svo.target_angle, svo.category_of], ids=["target_angle", "category_of"])
def test_unknown_definitions_raise_naming_the_known_ones(call) -> None:
    argument = "prosocial" if call is svo.target_angle else 30.0
    with pytest.raises(ValueError, match=r"unknown definitions 'hvae-svo/9'.*hvae-svo/1, hvae-svo/2"):
        call(argument, definitions="hvae-svo/9")


@pytest.mark.parametrize(
    "call",
    [
        lambda d: svo.score_value("prosocial", [1] * 6, definitions=d),
        lambda d: svo.value_rationality("prosocial", [1] * 6, definitions=d),
        lambda d: svo.angular_deviation("prosocial", [1] * 6, definitions=d),
        lambda d: svo.score_primary([1] * 6, definitions=d),
        lambda d: svo.score_secondary([1] * 9, definitions=d),
        lambda d: svo.ideal_choices("prosocial", definitions=d),
        lambda d: svo.optimal_options("prosocial", svo.PRIMARY_ITEMS[0], definitions=d),
    ],
)
def test_every_scoring_function_refuses_unknown_definitions(call) -> None:
    with pytest.raises(ValueError, match="known definitions: hvae-svo/1, hvae-svo/2"):
        call("v2")


def test_category_rules_describe_each_version() -> None:
    assert svo.category_rules() == {
        "altruistic": "angle >= 57.15",
        "prosocial": "22.45 <= angle < 57.15",
        "individualistic": "-12.04 <= angle < 22.45",
        "competitive": "angle < -12.04",
    }
    assert svo.category_rules(definitions=V1) == {
        "altruistic": "angle > 57.15",
        "prosocial": "22.45 < angle <= 57.15",
        "individualistic": "-12.04 < angle <= 22.45",
        "competitive": "angle <= -12.04",
    }


def test_definitions_registry() -> None:
    assert svo.DEFINITIONS_VERSION == V2
    assert svo.KNOWN_DEFINITIONS == (V1, V2)
    assert svo.definitions_of(V1).superseded_because
    assert not svo.definitions_of(V2).superseded_because


@pytest.mark.parametrize("value", svo.VALUES)
def test_ideal_agent_is_fully_rational_hits_its_category_and_its_target(value: str) -> None:
    for items in (svo.PRIMARY_ITEMS, svo.ALL_ITEMS):
        choices = svo.ideal_choices(value, items)
        score = svo.score_value(value, choices)
        assert score.value_rationality == 1.0
        assert score.category_hit
        assert score.primary.angle == pytest.approx(score.target_angle, abs=1e-9)
        assert score.angular_deviation == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("value", svo.VALUES)
def test_v1_ideal_agent_was_fully_rational_under_v1(value: str) -> None:
    for items in (svo.PRIMARY_ITEMS, svo.ALL_ITEMS):
        choices = svo.ideal_choices(value, items, definitions=V1)
        assert svo.value_rationality(value, choices, definitions=V1) == 1.0


def test_individualistic_ideal_agent_hits_exactly_zero() -> None:
    score = svo.score_value("individualistic", svo.ideal_choices("individualistic"))
    assert score.primary.angle == 0.0
    assert score.target_angle == 0.0
    assert score.angular_deviation == 0.0


def test_value_rationality_of_worst_choices_is_zero() -> None:
    worst = [svo.optimal_options("competitive", item)[0] for item in svo.PRIMARY_ITEMS]
    assert svo.value_rationality("altruistic", worst) == pytest.approx(0.0)
    # The competitive ideal is at the wrong end on four of the five items informative for prosocial.
    assert svo.value_rationality("prosocial", worst) == pytest.approx(1 - 4 / 5)


def test_value_rationality_counts_option_steps_on_the_exact_slider() -> None:
    # Prosocial optimal ends 1, 9, 9, 1, -, 9: two steps off on item 2 and one on item 6 over five items.
    assert svo.value_rationality("prosocial", [1, 7, 9, 1, 1, 8]) == pytest.approx(1 - (2 / 8 + 1 / 8) / 5)


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


# Secondary patterns whose distances tie (found by search; each asserted below, so a wrong one fails loudly).
IA_EQUALS_JG = [6, 2, 2, 8, 1, 9, 4, 8, 1]  # D_IA == D_JG < both others
ALL_FOUR_TIED_LOW = [3, 8, 1, 7, 2, 9, 8, 2, 6]  # D_IA == D_JG == min(D_ind, D_alt)
IA_TIED_WITH_INDIVIDUALIST = [8, 3, 1, 2, 7, 5, 9, 1, 4]  # D_JG < D_IA == D_ind < D_alt
JG_TIED_WITH_ALTRUIST = [6, 9, 5, 4, 2, 5, 3, 5, 3]  # D_IA < D_JG == D_alt < D_ind
IA_TIED_WITH_ALTRUIST = [9, 2, 5, 9, 1, 9, 8, 8, 8]  # D_JG < D_IA == D_alt


def exact_distances(pattern: list[int]) -> dict[str, Fraction]:
    ideals = {
        "inequality_aversion": (6, 5, 4, 7, 5, 8, 5, 3, 2),
        "joint_gain": (9, None, 1, 9, None, 9, None, 1, 1),
        "individualist": (1, 9, 1, 1, 9, 9, 9, 1, 9),
        "altruist": (9, 1, 9, 9, 1, 1, 1, 9, 1),
    }
    distances = {}
    for name, ideal in ideals.items():
        gaps = [abs(c - i) for c, i in zip(pattern, ideal, strict=True) if i is not None]
        distances[name] = Fraction(sum(gaps), 8 * len(gaps))
    return distances


def test_tie_patterns_tie_as_described() -> None:
    d = exact_distances(IA_EQUALS_JG)
    assert d["inequality_aversion"] == d["joint_gain"] < min(d["individualist"], d["altruist"])
    d = exact_distances(ALL_FOUR_TIED_LOW)
    assert d["inequality_aversion"] == d["joint_gain"] == min(d["individualist"], d["altruist"])
    d = exact_distances(IA_TIED_WITH_INDIVIDUALIST)
    assert d["joint_gain"] < d["inequality_aversion"] == d["individualist"] < d["altruist"]
    d = exact_distances(JG_TIED_WITH_ALTRUIST)
    assert d["inequality_aversion"] < d["joint_gain"] == d["altruist"] < d["individualist"]
    d = exact_distances(IA_TIED_WITH_ALTRUIST)
    assert d["joint_gain"] < d["inequality_aversion"] == d["altruist"]


def test_equal_ia_and_jg_distances_give_one_half() -> None:
    assert svo.score_secondary(IA_EQUALS_JG).inequality_aversion == 0.5
    assert svo.score_secondary(IA_EQUALS_JG, definitions=V1).inequality_aversion == 0.5
    # Tied with an individualist or altruist distance too: Murphy's sort keeps IA and JG first.
    assert svo.score_secondary(ALL_FOUR_TIED_LOW).inequality_aversion == 0.5
    assert svo.score_secondary(ALL_FOUR_TIED_LOW, definitions=V1).inequality_aversion is None


@pytest.mark.parametrize(
    "pattern", [IA_TIED_WITH_INDIVIDUALIST, JG_TIED_WITH_ALTRUIST, IA_TIED_WITH_ALTRUIST]
)
def test_ties_with_the_other_distances_go_to_ia_and_jg(pattern: list[int]) -> None:
    d = exact_distances(pattern)
    expected = float(d["inequality_aversion"] / (d["inequality_aversion"] + d["joint_gain"]))
    assert svo.score_secondary(pattern).inequality_aversion == pytest.approx(expected)
    assert svo.score_secondary(pattern, definitions=V1).inequality_aversion is None


def test_index_of_two_zero_distances_is_one_half() -> None:
    # Unreachable with real choices (the IA and JG ideals differ on item 7), so checked on the rule itself.
    zero, half = Fraction(0), Fraction(1, 2)
    assert svo._murphy_index(zero, zero, half, half) == 0.5
    assert svo._murphy_index(half, zero, half, Fraction(1)) == 1.0
    assert svo._murphy_index(half, zero, Fraction(1, 4), Fraction(1)) is None


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=9, max_size=9))
def test_index_is_defined_exactly_when_ia_and_jg_sort_first(pattern: list[int]) -> None:
    d = exact_distances(pattern)
    ranked = sorted(["inequality_aversion", "joint_gain", "individualist", "altruist"], key=d.__getitem__)
    index = svo.score_secondary(pattern).inequality_aversion
    assert (index is not None) == (set(ranked[:2]) == {"inequality_aversion", "joint_gain"})


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
    assert low <= score.angle < high


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


@given(
    full_patterns, st.sampled_from(svo.VALUES), st.lists(st.integers(min_value=1, max_value=9), min_size=15)
)
def test_choices_on_uninformative_items_never_change_value_rationality(
    pattern: list[int], value: str, replacements: list[int]
) -> None:
    changed = [
        replacement if svo.optimal_end(value, item) is None else option
        for item, option, replacement in zip(svo.ALL_ITEMS, pattern, replacements, strict=False)
    ]
    assert svo.value_rationality(value, changed) == svo.value_rationality(value, pattern)
    assert svo.value_rationality(value, changed[:6]) == svo.value_rationality(value, pattern[:6])
