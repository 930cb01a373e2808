"""python manage.py plan_validation: the number of transcripts for a CI half-width; exit code 2 on bad input."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> str:
    out = StringIO()
    call_command("plan_validation", *args, stdout=out)
    return out.getvalue()


def test_icc_plan_prints_bonetts_n_and_a_table() -> None:
    text = run("--statistic", "icc", "--expected", "0.8", "--half-width", "0.1", "--raters", "2")
    assert "n = 51 transcripts" in text
    assert "analytic: Bonett (2002)" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["0.8", "0.1", "51", "<-"] in lines
    assert ["0.8", "0.05", "201"] in lines


def test_kappa_plan_as_json() -> None:
    plan = json.loads(
        run("--statistic", "kappa", "--expected", "0.6", "--half-width", "0.1", "--raters", "2", "--json")
    )
    assert plan["n"] == 144
    assert plan["method"] == "analytic"
    assert plan["prevalence"] == [0.25] * 4
    assert plan["seed"] is None
    assert {"expected": 0.6, "half_width": 0.1, "n": 144} in plan["table"]


def test_simulated_plan_reports_its_settings() -> None:
    args = ["--statistic", "ac1", "--expected", "0.7", "--half-width", "0.15", "--raters", "3"]
    args += ["--prevalence", "0.1,0.6,0.2,0.1", "--simulations", "200", "--seed", "11", "--json"]
    plan = json.loads(run(*args))
    assert plan["method"] == "simulation"
    assert (plan["seed"], plan["simulations"], plan["categories"]) == (11, 200, 4)
    assert plan["achieved_half_width"] <= 0.15
    assert plan == json.loads(run(*args))


def test_prevalence_sets_the_number_of_categories() -> None:
    plan = json.loads(
        run(
            "--statistic",
            "kappa",
            "--expected",
            "0.5",
            "--half-width",
            "0.1",
            "--raters",
            "2",
            "--prevalence",
            "0.3,0.7",
            "--json",
        )
    )
    assert plan["categories"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--expected", "1"], "strictly between -1 and 1"),
        (["--expected", "-3"], "must be at least -1"),
        (["--half-width", "0"], "half-width"),
        (["--half-width", "-0.1"], "must be at least 0"),
        (["--raters", "1"], "must be between 2"),
        (["--prevalence", "0.5,0.4,0.05,0.01"], "sum to 1"),
        (["--prevalence", "0.5,0.5", "--categories", "4"], "gives 2 shares but --categories is 4"),
        (["--prevalence", "0.5,abc"], "must be a number"),
        (["--statistic", "tau"], "invalid choice"),
        (["--simulations", "5"], "must be between 100"),
        (["--method", "analytic", "--statistic", "alpha", "--raters", "3"], "no analytic formula"),
    ],
)
def test_bad_input_exits_2_with_a_message(extra: list[str], message: str) -> None:
    base = {"--statistic": "kappa", "--expected": "0.6", "--half-width": "0.1", "--raters": "2"}
    args: list[str] = []
    for key, value in base.items():
        if key not in extra:
            args += [key, value]
    with pytest.raises(CommandError, match=message) as raised:
        run(*args, *extra)
    assert raised.value.returncode == 2
