"""Numbers and tables as people read them in the summary, the change report and the report."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence


def number(value: float | None, decimals: int = 1) -> str:
    """A number with a space between thousands; a dash when missing; no '-0.0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    shown = f"{value:,.{decimals}f}".replace(",", " ")
    return shown[1:] if re.fullmatch(r"-0\.?0*", shown) else shown


def integer(value: int | None) -> str:
    """A whole number with a space between thousands; a dash when missing."""
    return "–" if value is None else f"{value:,}".replace(",", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; text cells have their pipes escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(cell).replace("|", "\\|") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
