"""Numbers as people read them in the summary and the report."""

from __future__ import annotations

import math
import re


def number(value: float | None, decimals: int = 1) -> str:
    """A number with a space between thousands; a dash when missing; no '-0.0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    shown = f"{value:,.{decimals}f}".replace(",", " ")
    return shown[1:] if re.fullmatch(r"-0\.?0*", shown) else shown


def integer(value: int | None) -> str:
    """A whole number with a space between thousands; a dash when missing."""
    return "–" if value is None else f"{value:,}".replace(",", " ")
