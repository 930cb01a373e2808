"""Cells that are safe to open in a spreadsheet: every CSV the service writes goes through ``csv_safe_cell``."""

from __future__ import annotations

from typing import Any, Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a carriage return)
    gets a leading single quote, as OWASP recommends against CSV injection; numbers and other cells are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
