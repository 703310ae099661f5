"""The screening implementations must agree on the result; anything else is an error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from benchmarks.contenders import ScreeningSummary

MAX_SHOWN = 5


class Disagreement(AssertionError):
    """Two screening implementations produced different results."""


def load_summary(path: Path) -> ScreeningSummary:
    """A summary written by a worker."""
    return ScreeningSummary.from_json(json.loads(path.read_text(encoding="utf-8")))


def differences(reference: ScreeningSummary, other: ScreeningSummary) -> list[str]:
    """What differs between two summaries, in words (empty when they agree)."""
    found = []
    ours, theirs = set(reference.selected_codes), set(other.selected_codes)
    if ours != theirs:
        missing = sorted(ours - theirs)[:MAX_SHOWN]
        extra = sorted(theirs - ours)[:MAX_SHOWN]
        found.append(
            f"selected areas: {len(ours)} vs {len(theirs)}; "
            f"only in the first: {missing}, only in the second: {extra}"
        )
    if reference.eligible != other.eligible:
        first, second = set(reference.eligible), set(other.eligible)
        found.append(
            "eligible municipalities (code, selected areas, population in them): "
            f"only in the first: {sorted(first - second)[:MAX_SHOWN]}, "
            f"only in the second: {sorted(second - first)[:MAX_SHOWN]}"
        )
    return found


def check_agreement(summaries: Mapping[str, ScreeningSummary], label: str) -> None:
    """Raise Disagreement unless every summary equals the first one."""
    if len(summaries) < 2:
        return
    (first, reference), *others = summaries.items()
    problems = [
        f"{label}: {first} and {name} disagree on {difference}"
        for name, summary in others
        for difference in differences(reference, summary)
    ]
    if problems:
        raise Disagreement("\n".join(problems))
