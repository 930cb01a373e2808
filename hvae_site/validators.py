"""Bounds every input of the service shares, at the API, the command line and the webhook alike.

Integers must fit the database's columns (ids and seeds: signed 64-bit; counts: PostgreSQL's 32-bit integer),
floats must be finite, strings within their column's length and free of NUL characters (PostgreSQL cannot
store them). The plain ``check_*`` functions raise ``ValueError`` with a message a researcher understands; the
serializer fields and the ``arg_*`` argparse types below are built on them, so each rule is written once.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1  # PositiveIntegerField on PostgreSQL
LEAD_TIME_MAX_SECONDS = 1e7  # Label Studio's lead_time: about 116 days is already absurd for one annotation
NAME_LENGTH = 200  # names of studies, endpoints and models (CharField(max_length=200))
URL_LENGTH = 500  # ModelEndpoint.base_url
ENV_NAME_LENGTH = 100  # ModelEndpoint.api_key_env
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- Plain checks ---------------------------------------------------------------------------------------


def check_int(value: Any, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """An integer (not a bool) within ``[minimum, maximum]``, by default within signed 64 bits."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    if not minimum <= value <= maximum:
        raise ValueError(f"must be between {minimum} and {maximum}")
    return value


def check_id(value: Any) -> int:
    """A database id: 1 .. 2**63 - 1."""
    return check_int(value, minimum=1, maximum=INT64_MAX)


def check_finite(value: Any, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """A finite number (NaN and infinities refused) within the optional bounds, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    try:
        number = float(value)
    except OverflowError as exc:
        raise ValueError("must be a finite number") from exc
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    if minimum is not None and number < minimum:
        raise ValueError(f"must be at least {minimum:g}")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be at most {maximum:g}")
    return number


def check_lead_time(value: Any) -> float:
    """Seconds a rater spent on an annotation: finite, within [0, 1e7]."""
    return check_finite(value, minimum=0.0, maximum=LEAD_TIME_MAX_SECONDS)


def check_text(value: Any, *, max_length: int | None = None, allow_blank: bool = True) -> str:
    """A string without NUL characters, within ``max_length`` characters, non-blank unless allowed."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    if not allow_blank and not value.strip():
        raise ValueError("must not be blank")
    return value


def check_http_url(value: Any, *, max_length: int = URL_LENGTH) -> str:
    """An absolute http(s) URL with a host (where it may lead is decided at connection time)."""
    text = check_text(value, max_length=max_length, allow_blank=False).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError("must be a valid http(s) URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in text):
        raise ValueError("must be a valid http(s) URL")
    if port is not None and not 0 < port < 65536:
        raise ValueError("must be a valid http(s) URL")
    return text


def check_env_name(value: Any) -> str:
    """The name of an environment variable (letters, digits, underscores); whether it may be read is
    ``hvae_site.outbound``'s decision."""
    text = check_text(value, max_length=ENV_NAME_LENGTH)
    if text and not _ENV_NAME.fullmatch(text):
        raise ValueError("must be an environment variable name (letters, digits and underscores)")
    return text


# --- Serializer fields ------------------------------------------------------------------------------------


def _check_positive(value: Any) -> float:
    number = check_finite(value)
    if number <= 0:
        raise ValueError("must be positive")
    return number


def _drf(check: Callable[[Any], Any]) -> Callable[[Any], None]:
    def validate(value: Any) -> None:
        try:
            check(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"Value {exc}.") from exc

    return validate


def Int64Field(**kwargs: Any) -> serializers.IntegerField:  # noqa: N802 (a field factory reads as a class)
    """An integer within signed 64 bits (seeds, ids)."""
    kwargs.setdefault("min_value", INT64_MIN)
    kwargs.setdefault("max_value", INT64_MAX)
    return serializers.IntegerField(**kwargs)


def SeedField(**kwargs: Any) -> serializers.IntegerField:  # noqa: N802
    """A random seed: any signed 64-bit integer."""
    kwargs.setdefault("default", 0)
    return Int64Field(**kwargs)


def CountField(*, maximum: int, minimum: int = 1, **kwargs: Any) -> serializers.IntegerField:  # noqa: N802
    """A count (trials, tasks, raters, concurrency): at least ``minimum`` (1), at most ``maximum``."""
    return serializers.IntegerField(min_value=minimum, max_value=min(maximum, INT32_MAX), **kwargs)


def SecondsField(*, maximum: float, **kwargs: Any) -> serializers.FloatField:  # noqa: N802
    """A duration in seconds: positive and finite, at most ``maximum``."""
    # Validators go in the constructor's arguments: a serializer deep-copies its fields from those.
    kwargs["validators"] = [*kwargs.get("validators", []), _drf(_check_positive)]
    return serializers.FloatField(max_value=maximum, **kwargs)


def TextField(*, max_length: int, **kwargs: Any) -> serializers.CharField:  # noqa: N802
    """Text within its column's length (DRF's CharField already refuses NUL characters)."""
    return serializers.CharField(max_length=max_length, **kwargs)


def HttpUrlField(**kwargs: Any) -> serializers.CharField:  # noqa: N802
    """An absolute http(s) URL within ``ModelEndpoint.base_url``'s length."""
    kwargs.setdefault("max_length", URL_LENGTH)
    kwargs["validators"] = [*kwargs.get("validators", []), _drf(check_http_url)]
    return serializers.CharField(**kwargs)


def EnvNameField(**kwargs: Any) -> serializers.CharField:  # noqa: N802
    """The name of an environment variable, blank allowed."""
    kwargs.setdefault("max_length", ENV_NAME_LENGTH)
    kwargs.setdefault("allow_blank", True)
    kwargs["validators"] = [*kwargs.get("validators", []), _drf(check_env_name)]
    return serializers.CharField(**kwargs)


# --- Command-line argument types (argparse ``type=``: a bad value exits 2 with the message) ----------------


def _arg(check: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            return check(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{raw!r:.80} {exc}") from exc

    return parse


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise ValueError("must be a whole number") from exc


def _parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError as exc:
        raise ValueError("must be a number") from exc


def arg_int(*, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> Callable[[str], Any]:
    """An integer argument within bounds (by default signed 64 bits, e.g. ``--seed``)."""
    return _arg(lambda raw: check_int(_parse_int(raw), minimum=minimum, maximum=maximum))


def arg_float(*, minimum: float | None = None, maximum: float | None = None) -> Callable[[str], Any]:
    """A finite number argument within bounds (e.g. ``--temperature``)."""
    return _arg(lambda raw: check_finite(_parse_float(raw), minimum=minimum, maximum=maximum))


def arg_text(*, max_length: int = NAME_LENGTH, allow_blank: bool = False) -> Callable[[str], Any]:
    """A text argument (a name): non-blank, no NUL, within the column's length; returned stripped."""
    return _arg(lambda raw: check_text(raw, max_length=max_length, allow_blank=allow_blank).strip())


def arg_names(*, max_length: int = NAME_LENGTH) -> Callable[[str], Any]:
    """A comma-separated list of names (e.g. ``--models``), each within the column's length; returned as given."""

    def check(raw: str) -> str:
        check_text(raw, allow_blank=False)
        for part in raw.split(","):
            check_text(part.strip(), max_length=max_length)
        return raw

    return _arg(check)


arg_http_url = _arg(check_http_url)
arg_env_name = _arg(check_env_name)
