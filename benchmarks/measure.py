"""Run one command in a fresh process and measure its wall time and peak resident set.

The peak resident set is the child's own `ru_maxrss`, read with `os.wait4` when it ends, so
each measurement covers exactly one process. A watchdog thread reads the child's current
resident set from /proc and kills it when it passes a memory cap or a time limit, so a
contender that would exhaust the machine is stopped and reported instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import REPOSITORY_ROOT

POLL_SECONDS = 0.05
OK = "ok"
ERROR = "error"
MEMORY_CAP = "memory cap"
TIME_LIMIT = "time limit"


@dataclass(frozen=True)
class Limits:
    """When a measured process is stopped: resident set in bytes, wall time in seconds."""

    memory_bytes: int
    seconds: float


@dataclass
class Measurement:
    """How one process ended, how long it ran and its peak resident set."""

    status: str
    wall_seconds: float
    peak_rss_bytes: int
    cpu_seconds: float = 0.0
    payload: dict[str, Any] = field(default_factory=dict)
    log: Path | None = None

    @property
    def ok(self) -> bool:
        """Whether the process finished normally."""
        return self.status == OK

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's output, for error messages."""
        if self.log is None or not self.log.is_file():
            return ""
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (0 when unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def resident_bytes(pid: int) -> int:
    """A process's current resident set in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class Watchdog(threading.Thread):
    """Kills a process that passes its limits; remembers which limit it passed."""

    def __init__(self, pid: int, limits: Limits) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.limits = limits
        self.stopped = threading.Event()
        self.verdict: str | None = None

    def run(self) -> None:
        """Poll until stopped or until a limit is passed."""
        deadline = time.monotonic() + self.limits.seconds
        while not self.stopped.wait(POLL_SECONDS):
            if resident_bytes(self.pid) > self.limits.memory_bytes:
                self._kill(MEMORY_CAP)
            elif time.monotonic() > deadline:
                self._kill(TIME_LIMIT)

    def _kill(self, verdict: str) -> None:
        """Kill the watched process once."""
        self.verdict = verdict
        self.stopped.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def worker_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured process: this one's, with the repository importable."""
    env = dict(os.environ)
    paths = [str(REPOSITORY_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.update(extra or {})
    return env


def run_measured(
    argv: Sequence[str], *, limits: Limits, cwd: Path, log: Path, payload: Path | None = None
) -> Measurement:
    """Run `argv` to its end (or until stopped) and measure it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=worker_environment(), stdout=output, stderr=output
        )
        watchdog = Watchdog(process.pid, limits)
        watchdog.start()
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - started
        watchdog.stopped.set()
        watchdog.join()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    verdict = watchdog.verdict or (OK if process.returncode == 0 else ERROR)
    data: dict[str, Any] = {}
    if verdict == OK and payload is not None and payload.is_file():
        data = json.loads(payload.read_text(encoding="utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(verdict, wall, usage.ru_maxrss * 1024, cpu, data, log)


def run_worker(task: Sequence[str], *, limits: Limits, folder: Path, name: str) -> Measurement:
    """Run `python -m benchmarks.worker TASK...` in a fresh process, its files in `folder`."""
    payload = folder / f"{name}.json"
    progress = payload.with_suffix(".progress.json")
    payload.unlink(missing_ok=True)
    progress.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.worker", "--payload", str(payload), *task]
    measurement = run_measured(
        argv, limits=limits, cwd=folder, log=folder / f"{name}.log", payload=payload
    )
    if not measurement.ok and progress.is_file():
        measurement.payload = json.loads(progress.read_text(encoding="utf-8"))
    return measurement
