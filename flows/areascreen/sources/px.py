"""A small reader of PC-Axis (`.px`) files, as in Statistics Sweden's bulk downloads.

A PX file is a list of `KEYWORD[lang]("subkey")=value;` entries followed by `DATA=...;`. The
variables are `STUB` then `HEADING`, each with `VALUES` (labels) and `CODES`; `VARIABLECODE`
gives a variable's code as the API names it (`Region`, `Tid`, `ContentsCode`). The cells are in
row-major order, the last variable fastest, so the result is the same `Dataset` a JSON-stat2
response gives. Cells may be numbers or quoted symbols: `"-"` is a true zero, a run of dots is a
cell without a figure. The text is in the file's `CODEPAGE` (Windows-1252 when absent) or UTF-8
with a byte-order mark. Language variants (`VALUES[en]`) are ignored.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from .jsonstat import Dataset, Dimension, _as_number

KEY = re.compile(r"^(?P<name>[A-Z0-9-]+)(?:\[(?P<lang>[^\]]+)\])?(?:\((?P<sub>.*)\))?$", re.S)
QUOTED = re.compile(r'"([^"]*)"')
DATA_TOKEN = re.compile(r'"[^"]*"|[^\s,;"]+')
DEFAULT_CODEPAGE = "windows-1252"


class PxError(ValueError):
    """A PX file cannot be read; the message names the file and the problem."""


def read_px(path: Path) -> tuple[Dataset, bytes]:
    """A PX file, or the one PX file inside a zip, as a Dataset; also the bytes read."""
    path = Path(path)
    raw = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(raw)):
        raw = _px_in_zip(path, raw)
    return parse_px(raw, context=str(path)), raw


def _px_in_zip(path: Path, raw: bytes) -> bytes:
    """The bytes of the single `.px` member of a bulk-download zip."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = [n for n in archive.namelist() if n.lower().endswith(".px")]
        if len(members) != 1:
            raise PxError(f"{path}: expected one .px file in the zip, found {members or 'none'}")
        return archive.read(members[0])


def decode(raw: bytes) -> str:
    """Text of a PX file in its declared code page."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    match = re.search(rb'CODEPAGE\s*=\s*"([^"]+)"', raw[:4000])
    codepage = match.group(1).decode("ascii", "replace") if match else DEFAULT_CODEPAGE
    try:
        return raw.decode(codepage)
    except (LookupError, UnicodeDecodeError):
        return raw.decode(DEFAULT_CODEPAGE, errors="replace")


def _entries(text: str, context: str) -> tuple[dict[tuple[str, str], str], str]:
    """Keyword entries (name, sub-key) -> raw value, and the raw DATA part."""
    entries: dict[tuple[str, str], str] = {}
    start, quoted = 0, False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            key, value = _split_entry(text[start:index], context)
            start = index + 1
            if key is None:
                continue
            if key[0] == "DATA":
                return entries, value
            entries.setdefault(key, value)
    raise PxError(f"{context}: no DATA= section (is this a PC-Axis file?)")


def _split_entry(entry: str, context: str) -> tuple[tuple[str, str] | None, str]:
    """`NAME[lang]("sub")=value` -> ((NAME, sub), value); language variants give None."""
    entry = entry.strip()
    if not entry:
        return None, ""
    if entry.upper().startswith("DATA"):
        name, _, value = entry.partition("=")
        if name.strip().upper() == "DATA":
            return ("DATA", ""), value
    key_text, sep, value = _partition_outside_quotes(entry)
    match = KEY.match(key_text.strip())
    if not sep or match is None:
        raise PxError(f"{context}: cannot read the entry {entry[:60]!r}")
    if match["lang"]:
        return None, ""
    sub = QUOTED.findall(match["sub"] or "")
    return (match["name"], ",".join(sub)), value.strip()


def _partition_outside_quotes(entry: str) -> tuple[str, str, str]:
    """Split at the first `=` that is not inside quotes."""
    quoted = False
    for index, char in enumerate(entry):
        if char == '"':
            quoted = not quoted
        elif char == "=" and not quoted:
            return entry[:index], "=", entry[index + 1 :]
    return entry, "", ""


def _strings(value: str) -> list[str]:
    """The quoted strings of a value; strings on consecutive lines without a comma join up."""
    parts: list[str] = []
    pending = False
    for token in re.finditer(r'"([^"]*)"|(,)', value):
        if token.group(2):
            pending = False
            continue
        if pending and parts:
            parts[-1] += token.group(1)
        else:
            parts.append(token.group(1))
        pending = True
    return parts


def _text(entries: Mapping[tuple[str, str], str], name: str, sub: str = "") -> str | None:
    """A single-string keyword, if present."""
    value = entries.get((name, sub))
    if value is None:
        return None
    strings = _strings(value)
    return "".join(strings) if strings else value.strip()


def _updated(text: str | None) -> str | None:
    """`LAST-UPDATED` (`YYYYMMDD HH:MM`) as ISO 8601 UTC, or the text as given."""
    if not text:
        return None
    for pattern in ("%Y%m%d %H:%M", "%Y%m%d %H:%M:%S", "%Y%m%d"):
        try:
            return datetime.strptime(text.strip(), pattern).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return text.strip()


def parse_px(raw: bytes, *, context: str) -> Dataset:
    """PX bytes as a Dataset with values and status, dimensions in STUB then HEADING order."""
    entries, data = _entries(decode(raw), context)
    names = [*_strings(entries.get(("STUB", ""), "")), *_strings(entries.get(("HEADING", ""), ""))]
    if not names:
        raise PxError(f"{context}: no STUB or HEADING variables")
    dimensions: dict[str, Dimension] = {}
    roles: dict[str, tuple[str, ...]] = {}
    for name in names:
        code = _text(entries, "VARIABLECODE", name) or name
        labels = _strings(entries.get(("VALUES", name), ""))
        codes = _strings(entries.get(("CODES", name), "")) or labels
        if not labels or len(codes) != len(labels):
            raise PxError(
                f"{context}: variable {name!r} has {len(codes)} codes and {len(labels)} values"
            )
        dimensions[code] = Dimension(
            code, name, tuple(codes), dict(zip(codes, labels, strict=True))
        )
        if ("TIMEVAL", name) in entries:
            roles["time"] = (code,)
    if "time" not in roles and "Tid" in dimensions:
        roles["time"] = ("Tid",)
    contents = _text(entries, "CONTVARIABLE")
    if contents:
        roles["metric"] = (_text(entries, "VARIABLECODE", contents) or contents,)
    ids = tuple(dimensions)
    sizes = tuple(len(dimensions[i].codes) for i in ids)
    values, status = _data(data, math.prod(sizes), context)
    return Dataset(
        label=_text(entries, "TITLE") or _text(entries, "CONTENTS") or "",
        updated=_updated(_text(entries, "LAST-UPDATED")),
        ids=ids,
        sizes=sizes,
        dimensions=dimensions,
        roles=roles,
        table_id=_text(entries, "TABLEID") or _text(entries, "MATRIX"),
        values=values,
        status=status,
    )


def _data(data: str, cells: int, context: str) -> tuple[tuple[float | None, ...], dict[int, str]]:
    """Cells of the DATA section: numbers, or quoted symbols kept as status."""
    tokens = DATA_TOKEN.findall(data)
    if len(tokens) != cells:
        raise PxError(f"{context}: DATA has {len(tokens)} cells but the variables give {cells}")
    values: list[float | None] = []
    status: dict[int, str] = {}
    for index, token in enumerate(tokens):
        text = token.strip('"').strip()
        number = _as_number(text)
        if number is None:
            status[index] = text
            if not re.fullmatch(r"\.+|-", text):
                raise PxError(f"{context}: DATA cell {index + 1} is {token!r}, not a number")
        values.append(number)
    return tuple(values), status
