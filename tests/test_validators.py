"""The shared input bounds: plain checks (also used by the webhook's typed record), serializer fields and
command-line argument types."""

from __future__ import annotations

import argparse
import math

import pytest

from hvae_site import validators


@pytest.mark.parametrize("value", [1, 2**63 - 1, 12345])
def test_ids_within_64_bits_pass(value: int) -> None:
    assert validators.check_id(value) == value


@pytest.mark.parametrize("value", [0, -1, 2**63, 10**20, True, 1.0, "1", None])
def test_ids_outside_1_to_2_63_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        validators.check_id(value)


@pytest.mark.parametrize("value", [0, 0.0, 12.5, 1e7])
def test_lead_times_within_bounds_pass(value: float) -> None:
    assert validators.check_lead_time(value) == float(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.5, 1e7 + 1, 10**400, "3", None, False])
def test_lead_times_not_finite_or_out_of_bounds_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        validators.check_lead_time(value)


def test_text_refuses_nul_length_and_blank() -> None:
    assert validators.check_text("fine", max_length=4) == "fine"
    with pytest.raises(ValueError, match="NUL"):
        validators.check_text("a\x00b")
    with pytest.raises(ValueError, match="at most 4"):
        validators.check_text("12345", max_length=4)
    with pytest.raises(ValueError, match="blank"):
        validators.check_text("  ", allow_blank=False)
    with pytest.raises(ValueError, match="text"):
        validators.check_text(5)


@pytest.mark.parametrize("url", ["http://llm.test/v1", "https://1.2.3.4:8443/v1", "http://[::1]:8000/v1"])
def test_http_urls_pass(url: str) -> None:
    assert validators.check_http_url(url) == url


@pytest.mark.parametrize(
    "url", ["ftp://x/v1", "http://[::1/v1", "http:///v1", "http://h:99999/v1", "http://a b/v1", "", "x" * 501]
)
def test_malformed_or_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="must"):
        validators.check_http_url(url)


def test_argument_types_raise_argparse_errors_with_the_value() -> None:
    seed = validators.arg_int()
    assert seed("42") == 42
    for raw in ("1e23", str(10**23), "", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed(raw)
    temperature = validators.arg_float(minimum=0.0, maximum=2.0)
    assert temperature("0.7") == 0.7
    for raw in ("nan", "inf", "3", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            temperature(raw)
    name = validators.arg_text()
    assert name("  a study ") == "a study"
    for raw in (" ", "a\x00", "n" * 201):
        with pytest.raises(argparse.ArgumentTypeError):
            name(raw)
    models = validators.arg_names()
    assert models("a,b") == "a,b"
    with pytest.raises(argparse.ArgumentTypeError):
        models("ok," + "m" * 201)


def test_serializer_fields_bound_counts_seeds_and_seconds() -> None:
    from rest_framework import serializers

    class Input(serializers.Serializer[dict[str, object]]):
        seed = validators.SeedField()
        count = validators.CountField(maximum=10)
        seconds = validators.SecondsField(maximum=60.0)
        url = validators.HttpUrlField()
        env = validators.EnvNameField(required=False)

    ok = Input(data={"seed": -(2**63), "count": 10, "seconds": 0.5, "url": "https://x.test/v1", "env": "A_B"})
    assert ok.is_valid(), ok.errors
    bad = Input(data={"seed": 2**63, "count": 0, "seconds": 0, "url": "ftp://x.test", "env": "A-B"})
    assert not bad.is_valid()
    assert set(bad.errors) == {"seed", "count", "seconds", "url", "env"}
    negative = Input(data={"seed": 0, "count": 11, "seconds": -1, "url": "http://x.test"})
    assert not negative.is_valid()
    assert set(negative.errors) == {"count", "seconds"}
