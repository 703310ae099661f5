"""Shared test set-up: no telemetry, a private Prefect home, and the hand-made fixture areas."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["GX_ANALYTICS_ENABLED"] = "False"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="areascreen-prefect-home-"))
# Compiled templates are kept in a folder of the test run, not in the user's cache.
os.environ.setdefault(
    "AREASCREEN_TEMPLATE_CACHE", tempfile.mkdtemp(prefix="areascreen-template-cache-")
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPOSITORY_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The shared reference folder beside the checkout; tests using it skip when it is absent."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"shared reference data not present at {SHARED_REFERENCE}")
    return SHARED_REFERENCE
