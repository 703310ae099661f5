"""A description of the machine and software the benchmark ran on."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

LIBRARIES: tuple[str, ...] = (
    "pandas",
    "pyarrow",
    "duckdb",
    "great-expectations",
    "prefect",
    "numpy",
)


def _first_field(path: str, key: str) -> str | None:
    """The value of the first `key: value` line of a /proc file, if any."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    return _first_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"


def memory_gib() -> float:
    """Total memory in GiB from /proc/meminfo."""
    total = _first_field("/proc/meminfo", "MemTotal")
    return int(total.split()[0]) / 2**20 if total else 0.0


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that matter for the figures."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe() -> dict[str, str]:
    """Machine, operating system and software, as labelled values."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    facts = {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{memory_gib():.1f} GiB",
        "system": platform.platform(),
        "Python": sys.version.split()[0],
        "load average at start (1, 5, 15 min)": ", ".join(f"{x:.2f}" for x in load),
    }
    facts.update(library_versions())
    return facts
