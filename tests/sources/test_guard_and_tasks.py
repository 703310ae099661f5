"""The loopback guard of this test folder, and the Prefect wrappers' settings."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import httpx
import pytest

from .conftest import ExternalConnectionError


def test_connections_beyond_loopback_fail_the_test() -> None:
    with pytest.raises(ExternalConnectionError, match=r"192\.0\.2\.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with pytest.raises(ExternalConnectionError, match=r"statistikdatabasen\.scb\.se"):
        httpx.get("https://statistikdatabasen.scb.se/api/v2/config", timeout=0.1)
    with socket.socket() as sock, pytest.raises(ExternalConnectionError):
        sock.connect(("10.1.2.3", 443))


def _state(error: Exception | None) -> SimpleNamespace:
    """A stand-in for a Prefect state whose result raises `error`."""

    def result() -> None:
        if error is not None:
            raise error

    return SimpleNamespace(result=result)


def test_source_task_retries_only_transient_api_failures() -> None:
    from prefect.cache_policies import NO_CACHE

    from areascreen.sources.config import ConfigError
    from areascreen.sources.pxweb import PxWebTransientError
    from areascreen.sources.tasks import fetch_source_task, fetch_statistics

    assert fetch_source_task.retries == 2
    assert fetch_source_task.retry_delay_seconds == [30, 60]
    assert fetch_source_task.cache_policy is NO_CACHE
    transient = fetch_source_task.retry_condition_fn
    assert transient(None, None, _state(PxWebTransientError("503")))
    assert not transient(None, None, _state(ConfigError("bad key")))
    assert not transient(None, None, _state(None))
    assert fetch_statistics.name == "fetch-statistics"
