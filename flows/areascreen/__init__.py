"""areascreen: screen small statistical areas and publish the municipalities eligible for a grant.

From a notebook: `areascreen.screen(data, ruleset)` screens a DataFrame, Arrow table or file
under a ruleset (object, dict or path) and returns the result tables without publishing.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["__version__", "screen"]


def __getattr__(name: str) -> Any:
    """`screen` is imported on first use, so `import areascreen` stays light."""
    if name == "screen":
        from areascreen.screening import screen

        return screen
    raise AttributeError(f"module 'areascreen' has no attribute {name!r}")
