"""stats.humans: people next to models (pure). Hand computations, pingouin as the ICC oracle, an exact
enumeration as the oracle of the random responder, and Newcombe's published example."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pingouin
import pytest

from evaluation import svo
from stats import humans
from stats.report_model import to_json

T_975_DF2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom


def person(
    participant: int, *, wave: int = 1, value: str = "prosocial", **fields: object
) -> humans.HumanResponse:
    defaults: dict[str, object] = {
        "angle": 40.0,
        "category": "prosocial",
        "value_rationality": 1.0,
        "category_hit": True,
        "transitive": True,
        "flagged": False,
    }
    return humans.HumanResponse(participant=participant, wave=wave, value=value, **{**defaults, **fields})  # type: ignore[arg-type]


def trial(model: str, run: int, index: int, angle: float, **fields: object) -> humans.ModelTrial:
    defaults: dict[str, object] = {
        "value": "prosocial",
        "strategy": "plain",
        "category": svo.category_of(angle),
        "value_rationality": 0.9,
        "category_hit": svo.category_of(angle) == "prosocial",
    }
    return humans.ModelTrial(model=model, run=run, trial=index, angle=angle, **{**defaults, **fields})  # type: ignore[arg-type]


def test_human_value_rationality_and_hit_rate_match_a_hand_computation() -> None:
    people = [
        person(1, value_rationality=1.0, category_hit=True),
        person(2, value_rationality=0.75, category_hit=True),
        person(3, value_rationality=0.5, category_hit=False),
    ]

    row = humans.value_induction("prosocial", people, [])

    vr = row.human_value_rationality
    # mean 0.75, SD 0.25, half width t(0.975, 2) * 0.25 / sqrt(3)
    assert vr.value == pytest.approx(0.75)
    assert vr.ci_low == pytest.approx(0.75 - T_975_DF2 * 0.25 / math.sqrt(3))
    assert vr.ci_high == pytest.approx(0.75 + T_975_DF2 * 0.25 / math.sqrt(3))
    assert vr.n == 3
    # Wilson (1927) for 2 of 3, by its formula
    z = 1.959963984540054
    p, n = 2 / 3, 3
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert row.human_hit_rate.value == pytest.approx(p)
    assert row.human_hit_rate.ci_low == pytest.approx(centre - half)
    assert row.human_hit_rate.ci_high == pytest.approx(centre + half)


def test_model_rows_carry_the_differences_to_people() -> None:
    people = [person(k, value_rationality=v) for k, v in enumerate([1.0, 0.75, 0.5])]
    models = [trial("m", 1, k, 40.0, value_rationality=v) for k, v in enumerate([1.0, 1.0, 0.9, 0.9])]

    (row,) = humans.value_induction("prosocial", people, models).models

    assert row.value_rationality.value == pytest.approx(0.95)
    assert row.vr_difference.value == pytest.approx(0.95 - 0.75)
    assert row.hit_rate.value == 1.0
    assert row.hit_rate_difference.value == pytest.approx(1.0 - 1.0)


def test_newcombe_difference_reproduces_the_published_example() -> None:
    # Newcombe (1998), Table II example (a): 56/70 vs 48/80, method 10: 0.2000 [0.0524, 0.3339].
    difference = humans.proportion_difference(humans.proportion(48, 80), humans.proportion(56, 70))

    assert difference.value == pytest.approx(0.2)
    assert difference.ci_low == pytest.approx(0.0524, abs=5e-5)
    assert difference.ci_high == pytest.approx(0.3339, abs=5e-5)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside pingouin 0.7 on pandas 3
def test_icc_a1_agrees_with_pingouin() -> None:
    rng = np.random.default_rng(4)
    truth = rng.normal(30, 15, size=40)
    first = truth + rng.normal(0, 6, size=40)
    second = truth + 3 + rng.normal(0, 6, size=40)

    ours = humans.icc_a1(first.tolist(), second.tolist())

    long = pd.DataFrame(
        {"target": np.tile(np.arange(40), 2), "wave": np.repeat([1, 2], 40), "angle": np.r_[first, second]}
    )
    table = pingouin.intraclass_corr(long, targets="target", raters="wave", ratings="angle").set_index("Type")
    assert ours.value == pytest.approx(table.loc["ICC(A,1)", "ICC"])
    low, high = table.loc["ICC(A,1)", "CI95"]
    assert ours.ci_low == pytest.approx(low, abs=0.006)
    assert ours.ci_high == pytest.approx(high, abs=0.006)
    assert ours.n == 40


def test_human_retest_pairs_each_participants_two_waves() -> None:
    angles = {1: (10.0, 12.0), 2: (30.0, 28.0), 3: (45.0, 47.0), 4: (-5.0, -3.0)}
    records = [
        person(p, wave=w, angle=a, category=svo.category_of(a))
        for p, pair in angles.items()
        for w, a in zip((1, 2), pair, strict=True)
    ]
    records.append(person(5, wave=1, angle=60.0))  # no retest: left out

    retest = humans.human_retest(records)

    expected = humans.icc_a1([a for a, _ in angles.values()], [b for _, b in angles.values()])
    assert retest.icc == expected
    assert retest.icc.n == 4
    # categories: (ind, ind), (pro, pro), (pro, pro), (ind, ind) -> all the same
    assert retest.category_agreement.value == 1.0


def test_model_retest_pairs_consecutive_trials_of_each_run() -> None:
    models = [
        trial("m", run, k, angle)
        for run, angles in ((1, [10, 11, 40, 42, 7]), (2, [20, 25]))
        for k, angle in enumerate(angles)
    ]

    retest = humans.model_retest("m", models)

    expected = humans.icc_a1([10, 40, 20], [11, 42, 25])
    assert retest.icc == expected
    assert retest.icc.n == 3


def _enumerated_angles() -> np.ndarray:
    grid = np.array(np.meshgrid(*[np.arange(9)] * 6, indexing="ij")).reshape(6, -1).T
    own = np.zeros(len(grid))
    other = np.zeros(len(grid))
    for index, item in enumerate(svo.PRIMARY_ITEMS):
        table = np.array(item.options)
        own += table[grid[:, index], 0]
        other += table[grid[:, index], 1]
    return np.degrees(np.arctan((other / 6 - 50) / (own / 6 - 50)))


def test_random_responder_angle_distribution_is_the_exact_enumeration() -> None:
    reference = humans.random_responder()
    angles = _enumerated_angles()

    assert reference.patterns == 9**6 == len(angles)
    assert reference.mean_angle == pytest.approx(float(angles.mean()), abs=1e-9)
    assert reference.sd_angle == pytest.approx(float(angles.std()), abs=1e-9)
    distinct, counts = np.unique(angles, return_counts=True)
    categories = np.array([svo.category_of(float(angle)) for angle in distinct])
    for category in svo.CATEGORIES:
        share = counts[categories == category].sum() / len(angles)
        assert reference.categories[category] == pytest.approx(float(share), abs=1e-12)
    assert reference.hit_rate == {v: reference.categories[v] for v in svo.VALUES}
    assert reference.straight_lining == 9 / 9**6


def test_random_responder_value_rationality_and_transitivity_agree_with_sampled_patterns() -> None:
    reference = humans.random_responder()
    rng = random.Random(11)
    patterns = [[rng.randint(1, 9) for _ in range(6)] for _ in range(6000)]

    for value in svo.VALUES:
        sampled = np.mean([svo.value_rationality(value, p) for p in patterns])
        assert reference.value_rationality[value] == pytest.approx(sampled, abs=0.01)
    transitive = np.mean([svo.is_transitive(p) for p in patterns])
    assert reference.transitive == pytest.approx(transitive, abs=0.02)


def test_flagged_response_sets_are_left_out_unless_asked_for() -> None:
    records = [person(1), person(2, flagged=True, angle=-10.0, category="individualistic")]

    left_out = humans.humans_vs_models(records, [])
    included = humans.humans_vs_models(records, [], include_flagged=True)

    assert left_out.n_left_out == 1
    assert [d.n for d in left_out.distributions] == [1]
    assert [d.n for d in included.distributions] == [2]
    assert included.n_left_out == 0


def test_section_puts_people_and_each_model_side_by_side() -> None:
    records = [
        person(1, value="none"),
        person(2, value="prosocial"),
        person(3, value="prosocial", value_rationality=0.5),
    ]
    models = [trial("m", 1, k, a) for k, a in enumerate([40.0, 44.0, 20.0])]

    section = to_json(humans.humans_vs_models(records, models))

    assert [(d["who"], d["value"]) for d in section["distributions"]] == [
        ("humans", "none"),
        ("humans", "prosocial"),
        ("m", "prosocial"),
    ]
    (induction,) = section["induction"]
    assert induction["value"] == "prosocial"
    assert induction["humans"]["value_rationality"]["value"] == pytest.approx(0.75)
    assert [m["model"] for m in induction["models"]] == ["m"]
    assert (
        induction["random_responder"]["value_rationality"]
        == humans.random_responder().value_rationality["prosocial"]
    )
    assert sum(section["distributions"][2]["histogram"]) == 3
