"""Template filters of the report: an estimate reads 'value [low, high] (n = N)' or says why it is missing."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from django import template

from stats.report_model import to_json

register = template.Library()


def _fields(value: Any) -> Any:
    """A typed report object (an Estimate, a Design...) as its JSON form; anything else as it is."""
    return to_json(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@register.filter
def estimate(value: Any, digits: int = 3) -> str:
    """An estimate dict as text; its note when there is no value ("not enough data (n = ...)")."""
    value = _fields(value)
    if not isinstance(value, dict):
        return "–"
    n = value.get("n", 0)
    if not _finite(value.get("value")):
        return str(value.get("note") or f"not enough data (n = {n})")
    text = f"{value['value']:.{digits}f}"
    if _finite(value.get("ci_low")) and _finite(value.get("ci_high")):
        text += f" [{value['ci_low']:.{digits}f}, {value['ci_high']:.{digits}f}]"
    else:
        text += " [CI undefined]"
    return f"{text} (n = {n})"


@register.filter
def ci(value: Any, digits: int = 3) -> str:
    """An estimate dict as 'value [low, high]' without its n (for tables that show n in a column of its
    own); its note when there is no value."""
    if not isinstance(value, dict):
        return "–"
    if not _finite(value.get("value")):
        return str(value.get("note") or f"not enough data (n = {value.get('n', 0)})")
    text = f"{value['value']:.{digits}f}"
    if _finite(value.get("ci_low")) and _finite(value.get("ci_high")):
        return f"{text} [{value['ci_low']:.{digits}f}, {value['ci_high']:.{digits}f}]"
    return f"{text} [CI undefined]"


@register.filter
def number(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if _finite(value) else "–"


@register.filter
def get(mapping: Any, key: str) -> Any:
    mapping = _fields(mapping)
    return mapping.get(key) if isinstance(mapping, Mapping) else None


@register.filter
def json_text(value: Any) -> str:
    """A JSON value as compact text (escaped by the template like any other text)."""
    return json.dumps(value, sort_keys=True, default=str)


@register.filter
def how(value: Any) -> str:
    """How an estimate was made, and what was left out or assumed (its method, and its note when the
    estimate column does not already show it in place of a value)."""
    value = _fields(value)
    if not isinstance(value, dict):
        return ""
    note = str(value.get("note") or "") if _finite(value.get("value")) else ""
    parts = [str(value.get("method") or ""), note]
    return "; ".join(part for part in parts if part)


@register.filter
def design(value: Any) -> str:
    """A cell's design as one line: variant · order · labels · temperature · items · definitions (the keys
    present, in that order; a missing temperature means none was sent)."""
    value = _fields(value)
    if not isinstance(value, dict):
        return "–"
    return design_of(value, list(DESIGN_KEYS))


DESIGN_KEYS = ("variant", "order", "labels", "temperature", "items", "definitions")


@register.filter
def design_of(value: Any, keys: Any) -> str:
    """A design as one line of only the given keys (in the usual order), e.g. those that differ between the
    rows of a table whose shared settings are said once above it."""
    if not isinstance(value, dict):
        return "–"
    wanted = set(keys) if isinstance(keys, list | tuple | set) else set(DESIGN_KEYS)
    parts = []
    for key in DESIGN_KEYS:
        if key not in value or key not in wanted:
            continue
        item = value[key]
        if key == "temperature":
            parts.append("T default" if item is None else f"T {item:g}" if _finite(item) else f"T {item}")
        else:
            parts.append(str(item))
    return " · ".join(parts)


@register.filter
def pvalue(value: Any) -> str:
    if not _finite(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def counts(value: Any) -> str:
    """A list of counts as 'a b c ...'."""
    return " ".join(str(x) for x in value) if isinstance(value, list | tuple) else "–"
