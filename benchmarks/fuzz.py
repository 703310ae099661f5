"""Fuzz the input readers: valid files in CSV, Parquet and xlsx, mutated, read one by one.

`python -m benchmarks.fuzz --cases 10000` builds small valid files from the first 50 rows of
`data/synthetic/synthetic_areas_2018.parquet`, writes them in a random style (separator,
quoting, byte-order mark, line endings, column order, encoding, integer widths, ...) and,
for most cases, damages them (bytes flipped, cut or inserted, cells replaced with hostile
values, columns dropped or renamed, workbook parts broken). Each case is read with
`read_area_statistics` and counted as

- accepted: read; a case whose changes should not matter must give the clean frame exactly
  (else it is counted as differed),
- rejected: refused with the project's own error,
- crashed: any other exception,
- hung: not done within the per-case time limit.

The same generator drives the property-based test in `tests/test_fuzz_readers.py`.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from areascreen import contract
from areascreen.errors import AreascreenError
from areascreen.load import read_area_statistics
from benchmarks import REPOSITORY_ROOT

SYNTHETIC = REPOSITORY_ROOT / "data" / "synthetic" / "synthetic_areas_2018.parquet"
BASE_ROWS = 50
FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")
SWEDISH: dict[str, str] = {
    "area_code": "Regionkod",
    "area_name": "Namn",
    "municipality_code": "Kommun",
    "year": "År",
    "population": "Folkmängd",
    "employed": "Förvärvsarbetande",
    "population_20_64": "Befolkning 20-64 år",
    "long_term_unemployed": "Långtidsarbetslösa",
    "population_16_64": "Befolkning 16-64 år",
    "low_educated": "Förgymnasialt utbildade",
    "population_25_64": "Befolkning 25-64 år",
    "voters": "Röstande",
    "eligible_voters": "Röstberättigade",
}
HOSTILE_CELLS: tuple[str, ...] = (
    "\u0664\u0665\u0660",
    "\uff11\uff12",
    "1234567890123456",
    "99999999999999999999999",
    "-5",
    "1e5",
    "12,5",
    "0x1F",
    "\x1b[31m1\x1b[0m",
    '=HYPERLINK("x")',
    "<script>alert(1)</script>",
    "\u202e0180",
    '"',
    '"unclosed',
    "a\nb",
    "\r",
    "\x00",
    "..",
    "",
    " 12 ",
    "nan",
    "inf",
    "\ufeff12",
    "x" * 70_000,
)


@dataclass(frozen=True)
class Case:
    """One generated input: its bytes, format, what was done to it, and whether that matters."""

    seed: int
    file_format: str
    data: bytes
    changes: tuple[str, ...]
    neutral: bool
    options: dict[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        """Seed, format and changes, e.g. `seed 17 (csv: sep ',', flip bytes)`."""
        return f"seed {self.seed} ({self.file_format}: {', '.join(self.changes) or 'clean'})"


@lru_cache(maxsize=1)
def base_frame() -> pd.DataFrame:
    """The first rows of the synthetic data, in contract order."""
    frame = pd.read_parquet(SYNTHETIC).head(BASE_ROWS).reset_index(drop=True)
    return frame.loc[:, list(contract.INPUT_COLUMNS)]


@lru_cache(maxsize=1)
def clean_frame() -> pd.DataFrame:
    """What the reader gives for the clean CSV: the frame every neutral case must equal."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clean.csv"
        path.write_bytes(csv_bytes(base_frame(), random.Random(0), neutral_style=False)[0])
        return read_area_statistics(path).frame


# --- writing valid files in a random style ----------------------------------------------------


def _cell(value: object) -> str:
    """A frame value as CSV text; missing counts as Statistics Sweden's `..`."""
    return ".." if pd.isna(value) else str(value)


def csv_bytes(
    frame: pd.DataFrame, rng: random.Random, *, neutral_style: bool = True
) -> tuple[bytes, list[str]]:
    """The frame as CSV in a random style that must not change what is read."""
    changes: list[str] = []
    order = list(frame.columns)
    sep, quoting, ending, encoding = ";", csv.QUOTE_MINIMAL, "\n", "utf-8"
    if neutral_style:
        if rng.random() < 0.4:
            rng.shuffle(order)
            changes.append("column order")
        sep = rng.choice([";", ";", ",", "\t"])
        quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])
        ending = rng.choice(["\n", "\r\n", "\r"])
        encoding = rng.choice(["utf-8", "utf-8-sig", "cp1252"])
        changes += [f"sep {sep!r}", f"quoting {quoting}", f"ending {ending!r}", encoding]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, quoting=quoting, lineterminator=ending)
    writer.writerow([SWEDISH[c] for c in order])
    for row in frame.loc[:, order].itertuples(index=False):
        writer.writerow([_cell(v) for v in row])
    text = buffer.getvalue()
    if neutral_style and rng.random() < 0.2:
        text = f"sep={sep}{ending}{text}"
        changes.append("sep= line")
    if neutral_style and rng.random() < 0.2:
        text = f" \t{ending}{text}"
        changes.append("blank first line")
    return text.encode(encoding), changes


def parquet_bytes(frame: pd.DataFrame, rng: random.Random) -> tuple[bytes, list[str]]:
    """The frame as Parquet with random column order and integer and text types."""
    changes: list[str] = []
    order = list(frame.columns)
    if rng.random() < 0.4:
        rng.shuffle(order)
        changes.append("column order")
    integer = rng.choice([pa.int64(), pa.int32(), pa.uint32(), pa.uint64()])
    text = rng.choice([pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())])
    changes += [f"integers {integer}", f"text {text}"]
    arrays = []
    for name in order:
        values = frame[name]
        if name in ("area_code", "area_name", "municipality_code"):
            arrays.append(pa.array(values.astype(object).tolist(), pa.string()).cast(text))
        else:
            data = [None if pd.isna(v) else int(v) for v in values]
            arrays.append(pa.array(data, integer))
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays, names=order), buffer)
    return buffer.getvalue(), changes


def xlsx_bytes(frame: pd.DataFrame, rng: random.Random) -> tuple[bytes, list[str]]:
    """The frame as an .xlsx sheet, with random column order and a wrong or no <dimension>."""
    from openpyxl import Workbook

    changes: list[str] = []
    order = list(frame.columns)
    if rng.random() < 0.4:
        rng.shuffle(order)
        changes.append("column order")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    sheet.append([SWEDISH[c] for c in order])
    for row in frame.loc[:, order].itertuples(index=False):
        sheet.append([None if pd.isna(v) else (v if isinstance(v, str) else int(v)) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = edit_parts(buffer.getvalue(), "")
    dimension = rng.choice(["as written", "understated", "none"])
    if dimension != "as written":
        replacement = b'<dimension ref="A1:B3"/>' if dimension == "understated" else b""
        data = edit_parts(
            data, r"xl/worksheets/sheet\d+\.xml", lambda xml: _DIMENSION.sub(replacement, xml)
        )
        changes.append(f"dimension {dimension}")
    return data, changes


_DIMENSION = re.compile(rb"<dimension [^>]*/>")


_FIXED_TIME = (2018, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def edit_parts(
    data: bytes, pattern: str, edit: Callable[[bytes], bytes] = lambda part: part
) -> bytes:
    """A workbook with the parts whose names match `pattern` passed through `edit`.

    Entry times and document timestamps are fixed, so one seed always gives the same bytes.
    """
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as old,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for item in old.infolist():
            part = old.read(item.filename)
            if item.filename == "docProps/core.xml":
                part = _STAMP.sub(b"2018-01-01T00:00:00Z", part)
            if re.fullmatch(pattern, item.filename):
                part = edit(part)
            info = zipfile.ZipInfo(item.filename, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            new.writestr(info, part)
    return buffer.getvalue()


# --- damage -----------------------------------------------------------------------------------


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """Some bytes replaced by random ones."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    """The file cut at a random point."""
    return data[: rng.randrange(len(data))]


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    """Random bytes inserted at a random point."""
    at = rng.randrange(len(data) + 1)
    chunk = rng.choice([b"\x00", b"\r", b'"', b"\xff\xfe", b"\x96", b"\x81", rng.randbytes(16)])
    return data[:at] + chunk + data[at:]


def delete_range(data: bytes, rng: random.Random) -> bytes:
    """A random stretch of bytes removed."""
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 64) :]


def duplicate_range(data: bytes, rng: random.Random) -> bytes:
    """A random stretch of bytes repeated."""
    start = rng.randrange(len(data))
    return data[: start + 64] + data[start : start + 64] + data[start + 64 :]


BYTE_DAMAGE: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    flip_bytes,
    truncate,
    insert_bytes,
    delete_range,
    duplicate_range,
)


def hostile_frame(frame: pd.DataFrame, rng: random.Random) -> tuple[pd.DataFrame, list[str]]:
    """The frame with hostile cells, a column dropped, renamed or duplicated, or rows cut."""
    frame = frame.astype(object).copy()
    kind = rng.choice(["cells", "cells", "drop column", "rename column", "no rows", "many cells"])
    if kind in ("cells", "many cells"):
        for _ in range(rng.randint(1, 3) if kind == "cells" else 40):
            column = rng.choice(list(frame.columns))
            frame.loc[rng.randrange(len(frame)), column] = rng.choice(HOSTILE_CELLS)
    elif kind == "drop column":
        frame = frame.drop(columns=rng.choice(list(frame.columns)))
    elif kind == "rename column":
        frame = frame.rename(columns={rng.choice(list(frame.columns)): "area_name"})
    else:
        frame = frame.head(0)
    return frame, [kind]


def _csv_from_frame(frame: pd.DataFrame, rng: random.Random) -> tuple[bytes, list[str]]:
    """A damaged frame as CSV; unknown column names are written as they are."""
    header = {c: SWEDISH.get(c, c) for c in frame.columns}
    renamed = frame.rename(columns=header)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=rng.choice([";", ","]), lineterminator="\n")
    writer.writerow(list(renamed.columns))
    for row in renamed.itertuples(index=False):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8", "surrogatepass"), []


def break_workbook(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One workbook part truncated, filled with garbage or removed."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    target = rng.choice(names)
    how = rng.choice(["truncate", "garbage", "remove", "flip"])

    def edit(part: bytes) -> bytes:
        if how == "truncate":
            return part[: rng.randrange(len(part) + 1)]
        if how == "garbage":
            return rng.randbytes(rng.randint(0, 64))
        if how == "flip":
            return flip_bytes(part, rng) if part else part
        return part

    if how == "remove":
        buffer = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(data)) as old,
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new,
        ):
            for item in old.infolist():
                if item.filename != target:
                    new.writestr(item, old.read(item.filename))
        return buffer.getvalue(), f"remove {target}"
    return edit_parts(data, re.escape(target), edit), f"{how} {target}"


# --- the generator ------------------------------------------------------------------------------


def make_case(seed: int, *, neutral: bool | None = None, file_format: str | None = None) -> Case:
    """The case a seed gives: a valid file in a random style, damaged unless it stays neutral."""
    rng = random.Random(seed)
    file_format = file_format or rng.choice(FORMATS)
    neutral = rng.random() < 0.3 if neutral is None else neutral
    frame = base_frame()
    changes: list[str] = []
    if not neutral and rng.random() < 0.35:
        frame, changes = hostile_frame(frame, rng)
        writer = {"csv": _csv_from_frame, "parquet": _parquet_any, "xlsx": _xlsx_any}
        data, more = writer[file_format](frame, rng)
        return Case(seed, file_format, data, tuple(changes + more), neutral=False)
    writers = {"csv": csv_bytes, "parquet": parquet_bytes, "xlsx": xlsx_bytes}
    data, changes = writers[file_format](frame, rng)
    if neutral:
        return Case(seed, file_format, data, tuple(changes), neutral=True)
    if file_format == "xlsx" and rng.random() < 0.6:
        data, how = break_workbook(data, rng)
        return Case(seed, file_format, data, (*changes, how), neutral=False)
    damage = rng.choice(BYTE_DAMAGE)
    return Case(seed, file_format, damage(data, rng), (*changes, damage.__name__), neutral=False)


def _parquet_any(frame: pd.DataFrame, rng: random.Random) -> tuple[bytes, list[str]]:
    """A damaged frame as Parquet, each column stored as whatever its values allow."""
    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    arrays = [pa.array([None if pd.isna(v) else str(v) for v in c], pa.string()) for c in columns]
    if rng.random() < 0.5:
        arrays = [_typed(c) for c in columns]
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays, names=[str(c) for c in frame.columns]), buffer)
    return buffer.getvalue(), []


def _typed(values: pd.Series) -> pa.Array:
    """A column as integers when every value is one, else as text."""
    try:
        return pa.array([None if pd.isna(v) else int(v) for v in values], pa.int64())
    except (TypeError, ValueError, OverflowError):
        return pa.array([None if pd.isna(v) else str(v) for v in values], pa.string())


def _xlsx_any(frame: pd.DataFrame, rng: random.Random) -> tuple[bytes, list[str]]:
    """A damaged frame as an .xlsx sheet; text XML cannot hold is left out."""
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([SWEDISH.get(str(c), str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False):
        values = [None if pd.isna(v) else v for v in row]
        try:
            sheet.append(values)
        except IllegalCharacterError:
            sheet.append([v if not isinstance(v, str) or v.isprintable() else None for v in values])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return edit_parts(buffer.getvalue(), ""), []


# --- running cases ----------------------------------------------------------------------------

ACCEPTED, REJECTED, CRASHED, HUNG, DIFFERED = "accepted", "rejected", "crashed", "hung", "differed"


class CaseTimeout(Exception):
    """A case ran past its time limit."""


@dataclass(frozen=True)
class Outcome:
    """How one case ended, how long it took, and what went wrong if anything."""

    verdict: str
    seconds: float
    detail: str = ""


def read_case(case: Case, folder: Path) -> pd.DataFrame:
    """Write the case to a file and read it; raises what the reader raises."""
    path = folder / f"input.{case.file_format}"
    path.write_bytes(case.data)
    return read_area_statistics(path, **case.options).frame


def judge(case: Case, folder: Path) -> Outcome:
    """Read one case and say how it ended (without a time limit)."""
    started = time.perf_counter()
    try:
        frame = read_case(case, folder)
    except AreascreenError:
        return Outcome(REJECTED, time.perf_counter() - started)
    except CaseTimeout:
        raise
    except Exception as exc:
        return Outcome(CRASHED, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    if case.neutral and not frame.equals(clean_frame()):
        return Outcome(DIFFERED, seconds, "the frame differs from the clean one")
    return Outcome(ACCEPTED, seconds)


def judge_with_limit(case: Case, folder: Path, limit: float) -> Outcome:
    """Read one case, counting it as hung when it runs past `limit` seconds."""

    def expire(signum: int, frame: object) -> None:
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return judge(case, folder)
    except CaseTimeout:
        return Outcome(HUNG, limit, f"over {limit:g} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=1000, help="how many cases (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--time-limit", type=float, default=10.0, help="seconds per case before it counts as hung"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases and print the counts; exit status 1 when any crashed, hung or differed."""
    args = parse_args(argv)
    counts = dict.fromkeys((ACCEPTED, REJECTED, CRASHED, HUNG, DIFFERED), 0)
    slowest: tuple[float, str] = (0.0, "")
    failures: list[str] = []
    clean_frame()
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seed, args.seed + args.cases):
            case = make_case(seed)
            outcome = judge_with_limit(case, Path(folder), args.time_limit)
            counts[outcome.verdict] += 1
            slowest = max(slowest, (outcome.seconds, case.describe()))
            if outcome.verdict in (CRASHED, HUNG, DIFFERED):
                failures.append(f"{outcome.verdict}: {case.describe()}: {outcome.detail[:300]}")
    print(f"cases     {args.cases}")
    for verdict, count in counts.items():
        print(f"{verdict:<9} {count}")
    print(f"slowest   {slowest[0]:.3f} s, {slowest[1]}")
    for line in failures[:50]:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
