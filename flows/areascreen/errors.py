"""The errors areascreen raises: each one says what is wrong in words a statistician can act on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class AreascreenError(Exception):
    """Base class of every error areascreen raises on purpose."""


class InputError(AreascreenError):
    """An input file cannot be read as a table of area statistics; the message names the file."""


class RulesetError(AreascreenError):
    """A ruleset file is missing, malformed or inconsistent."""


class ValidationFailed(AreascreenError):
    """A data-quality gate failed: one message line per failed critical expectation.

    `notes` carries what was learned while reading the input (e.g. the encoding detected);
    they are kept apart from the message, which lists failures only.
    """

    def __init__(
        self,
        failures: Sequence[str],
        docs_index: Path | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.failures: tuple[str, ...] = tuple(failures)
        self.docs_index = docs_index
        self.notes: tuple[str, ...] = tuple(notes)
        super().__init__(self._render())

    def _render(self) -> str:
        """The readable multi-line message: every failure, then where the Data Docs are."""
        lines = list(self.failures)
        if self.docs_index is not None:
            lines.append(f"Data Docs: {self.docs_index}")
        return "\n".join(lines)

    def moved(self, old_folder: Path, new_folder: Path) -> ValidationFailed:
        """The same failure, its Data Docs path following the folder they were moved with."""
        docs = self.docs_index
        if docs is not None and docs.is_relative_to(old_folder):
            docs = new_folder / docs.relative_to(old_folder)
        return ValidationFailed(self.failures, docs, self.notes)
