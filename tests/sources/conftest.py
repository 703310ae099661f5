"""Fixtures for the PxWeb source tests: a loopback API server, recorded responses, a sources file.

Every test here runs behind a guard that fails any connection to a host other than the loopback
interface, so no test can reach the internet.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from areascreen.sources.config import PxWebSource

HERE = Path(__file__).resolve().parent
RESPONSES = HERE / "responses"
FILES = HERE / "files"
API_PREFIX = "/api/v2"
DESO = ("0114A0010", "0114A0020", "0114C1170", "1280B2030", "1280C1010", "1280C1020")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class ExternalConnectionError(AssertionError):
    """A test tried to reach a host other than the loopback interface."""


def _is_loopback(host: object) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost."""
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test on any connection or name lookup for a non-loopback host."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ExternalConnectionError(f"test tried to connect to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise ExternalConnectionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """Bind the test API server to 127.0.0.1 on a free port."""
    return ("127.0.0.1", 0)


def education_source(**changes: object) -> PxWebSource:
    """The education source of the test sources file."""
    source = PxWebSource(
        name="education",
        table_id="TAB5956",
        selection={"UtbildningsNiva": ("21", "3+4", "5", "6", "US"), "ContentsCode": ("000005MO",)},
        vintage="DeSO2018",
        region="DeSO",
        region_variable=None,
        codelists={},
        description="",
        confirmed=False,
    )
    return dataclasses.replace(source, **changes)


def response_bytes(name: str) -> bytes:
    """A recorded response fixture, as bytes."""
    return (RESPONSES / name).read_bytes()


def response_json(name: str) -> dict[str, Any]:
    """A recorded response fixture, parsed."""
    return json.loads(response_bytes(name))


def selection(codelists: dict[str, str] | None = None, **variables: Any) -> dict[str, Any]:
    """A PxWeb v2 data request body; variables in the given (table) order."""
    items = []
    for var, values in variables.items():
        item: dict[str, Any] = {"variableCode": var, "valueCodes": list(values)}
        if codelists and var in codelists:
            item["codelist"] = codelists[var]
        items.append(item)
    return {"selection": items}


POPULATION_BODY = selection(
    Region=DESO, Alder=["totalt"], Kon=["1+2"], ContentsCode=["000007Y7"], Tid=["2018"]
)
EMPLOYMENT_BODIES = [
    selection(
        Region=regions,
        Sysselsattning=["FÖRV", "total"],
        Kon=["1+2"],
        ContentsCode=["00000569"],
        Tid=["2018"],
    )
    for regions in (DESO[:5], DESO[5:])
]
EDUCATION_BODIES = [
    selection(
        {"Region": "vs_DeSO2018"},
        Region=DESO[i : i + 2],
        UtbildningsNiva=["21", "3+4", "5", "6", "US"],
        ContentsCode=["000005MO"],
        Tid=["2018"],
    )
    for i in (0, 2, 4)
]


class FakeApi:
    """Registers recorded responses on the loopback server the way the PxWeb API v2 serves them."""

    def __init__(self, server: HTTPServer) -> None:
        """Wrap a pytest-httpserver instance."""
        self.server = server
        self.base_url = server.url_for(API_PREFIX)

    def config(self, **changes: Any) -> dict[str, Any]:
        """Serve `GET /config` as PxWebApi 2.0 does, with some limits changed."""
        config = {**response_json("config.json"), **changes}
        self.server.expect_request(f"{API_PREFIX}/config", method="GET").respond_with_json(config)
        return config

    def metadata(self, table_id: str, fixture: str) -> None:
        """Serve a table's metadata."""
        self.server.expect_request(
            f"{API_PREFIX}/tables/{table_id}/metadata", method="GET", query_string={"lang": "sv"}
        ).respond_with_data(response_bytes(fixture), content_type="application/json")

    def data(self, table_id: str, body: dict[str, Any], fixture: str) -> None:
        """Serve one data chunk for exactly this selection body."""
        self.server.expect_request(
            f"{API_PREFIX}/tables/{table_id}/data",
            method="POST",
            query_string={"lang": "sv", "outputFormat": "json-stat2"},
            json=body,
        ).respond_with_data(response_bytes(fixture), content_type="application/json")

    def standard_year(self, *, population: str = "TAB6574_data.json") -> None:
        """The three tables of the test sources file, in their normal recorded state.

        The server's cell limit is 10, so the tables come in the chunks of the bodies above.
        """
        self.config(maxDataCells=10)
        self.metadata("TAB6574", "TAB6574_metadata.json")
        self.data("TAB6574", POPULATION_BODY, population)
        self.metadata("TAB683", "TAB683_metadata.json")
        for n, body in enumerate(EMPLOYMENT_BODIES, start=1):
            self.data("TAB683", body, f"TAB683_data_chunk{n}.json")
        self.metadata("TAB5956", "TAB5956_metadata.json")
        for n, body in enumerate(EDUCATION_BODIES, start=1):
            self.data("TAB5956", body, f"TAB5956_data_chunk{n}.json")

    def posts(self, table_id: str) -> list[dict[str, Any]]:
        """Bodies of the data requests the server received for a table, in order."""
        return [
            json.loads(request.data)
            for request, _ in self.server.log
            if request.method == "POST" and f"/tables/{table_id}/" in request.path
        ]


@pytest.fixture
def api(httpserver: HTTPServer) -> Iterator[FakeApi]:
    """The loopback PxWeb API."""
    yield FakeApi(httpserver)
    httpserver.clear()


SOURCES_TOML = """\
year = 2018
area_level = "DeSO"
area_vintage = "DeSO2018"
on_suppressed = "{on_suppressed}"
names_from = "population"

[api]
base_url = "{base_url}"
language = "sv"
max_cells = {max_cells}
max_calls = 30
window_seconds = 10
max_retries = 2
backoff_base_seconds = 0.001
timeout_seconds = 5

[sources.population]
table_id = "TAB6574"
selection = {{ Alder = ["totalt"], Kon = ["1+2"], ContentsCode = ["000007Y7"], Tid = ["2018"] }}

[sources.employment]
table_id = "TAB683"
selection = {{ Sysselsattning = ["FÖRV", "total"], Kon = ["1+2"], ContentsCode = ["00000569"] }}

[sources.education]
table_id = "TAB5956"
selection = {{ UtbildningsNiva = ["21", "3+4", "5", "6", "US"], ContentsCode = ["000005MO"] }}

[sources.long_term_unemployment]
kind = "file"
path = "{files}/long_term_unemployment_2018.csv"
columns = {{ area_code = "deso", year = "ar", long_term_unemployed = "langtidsarbetslosa", \
population_16_64 = "befolkning_16_64" }}

[sources.voter_turnout]
kind = "file"
path = "{files}/voter_turnout_2018.csv"
columns = {{ area_code = "deso", voters = "rostande", eligible_voters = "rostberattigade" }}

[population]
source = "population"
cells = {{ Alder = ["totalt"] }}

[indicators.employment_rate]
numerator = {{ source = "employment", cells = {{ Sysselsattning = ["FÖRV"] }} }}
denominator = {{ source = "employment", cells = {{ Sysselsattning = ["total"] }} }}

[indicators.long_term_unemployment_rate]
numerator = {{ source = "long_term_unemployment" }}
denominator = {{ source = "long_term_unemployment" }}

[indicators.low_education_rate]
numerator = {{ source = "education", cells = {{ UtbildningsNiva = ["21"] }} }}
denominator = {{ source = "education", cells = {{ UtbildningsNiva = ["21", "3+4", "5", "6", "US"] }} }}

[indicators.voter_turnout]
numerator = {{ source = "voter_turnout" }}
denominator = {{ source = "voter_turnout" }}
"""


@pytest.fixture
def write_sources(tmp_path: Path) -> Callable[..., Path]:
    """Write a sources file for 2018 pointing at a base URL; returns its path."""

    def write(
        base_url: str = "http://127.0.0.1:9/api/v2",
        *,
        on_suppressed: str = "null",
        files: Path = FILES,
        name: str = "2018.toml",
        max_cells: int = 10,
    ) -> Path:
        path = tmp_path / name
        text = SOURCES_TOML.format(
            base_url=base_url, on_suppressed=on_suppressed, files=files, max_cells=max_cells
        )
        path.write_text(text, encoding="utf-8")
        return path

    return write
