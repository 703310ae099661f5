"""Write the bad-input corpus next to this file, deterministically, from one small valid table.

Run `python tests/bad_inputs/make_cases.py` after changing it; the files it writes are committed.
`cases.toml` beside it lists every file with the outcome and the message it must produce.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = [HERE]

SWEDISH_HEADER = [
    "Regionkod",
    "Namn",
    "Kommun",
    "År",
    "Folkmängd",
    "Förvärvsarbetande",
    "Befolkning 20-64 år",
    "Långtidsarbetslösa",
    "Befolkning 16-64 år",
    "Förgymnasialt utbildade",
    "Befolkning 25-64 år",
    "Röstande",
    "Röstberättigade",
]
ENGLISH_HEADER = [
    "area_code",
    "area_name",
    "municipality_code",
    "year",
    "population",
    "employed",
    "population_20_64",
    "long_term_unemployed",
    "population_16_64",
    "low_educated",
    "population_25_64",
    "voters",
    "eligible_voters",
]

# Real DeSO 2018 codes of Stockholm, Malmö and Örebro; names are their RegSO areas.
# Counts are invented but consistent: numerator <= denominator <= population.
# fmt: off
BASE_ROWS: list[list[object]] = [
    ["0180C4050", "Abrahamsberg", "0180", 2018, 1843, 912, 1104, 21, 1240, 88, 1010, 1190, 1402],
    ["0180C4190", "Abrahamsberg", "0180", 2018, 2210, 1135, 1320, 18, 1468, 95, 1215, 1452, 1655],
    ["0180C6340", "Akalla", "0180", 2018, 1987, 802, 1150, 96, 1302, 301, 1049, 801, 1330],
    ["0180C6410", "Akalla", "0180", 2018, 1654, 640, 968, 88, 1096, 270, 880, 652, 1105],
    ["1280C1230", "Almvik norr-Lindängen norr", "1280", 2018, 2041, 706, 1130, 120, 1290, 344, 1022, 760, 1298],
    ["1280C1260", "Almvik norr-Lindängen norr", "1280", 2018, 1765, 690, 982, 84, 1110, 270, 895, 702, 1151],
    ["1280C1170", "Almvik syd-Lindängen syd", "1280", 2018, 1902, 812, 1046, 64, 1188, 210, 960, 888, 1270],
    ["1880C1040", "Adolfsberg", "1880", 2018, 1538, 868, 902, 9, 1012, 60, 830, 1060, 1178],
    ["1880C1060", "Adolfsberg", "1880", 2018, 1710, 951, 1003, 12, 1130, 71, 921, 1150, 1290],
    ["1880C1100", "Almby-Ormesta", "1880", 2018, 1826, 917, 1066, 35, 1197, 143, 977, 1043, 1361],
]
# fmt: on
ROWS = len(BASE_ROWS)
COLUMN = {name: i for i, name in enumerate(ENGLISH_HEADER)}


def rows() -> list[list[str]]:
    """A fresh copy of the base rows as text."""
    return [[str(v) for v in row] for row in BASE_ROWS]


def csv_text(header: list[str], body: list[list[str]], sep: str = ";") -> str:
    """CSV text with `\n` line ends and a final line end."""
    return "".join(sep.join(r) + "\n" for r in [header, *body])


def write_text(name: str, text: str, encoding: str = "utf-8") -> None:
    """Write one text file of the corpus."""
    (OUT[0] / name).write_bytes(text.encode(encoding))


def english_frame() -> pd.DataFrame:
    """The base rows as a typed frame with the contract's English names."""
    frame = pd.DataFrame(BASE_ROWS, columns=ENGLISH_HEADER)
    for name in ("area_code", "area_name", "municipality_code"):
        frame[name] = frame[name].astype("str")
    return frame


def edited(change: Callable[[list[list[str]]], None]) -> list[list[str]]:
    """Base rows with one change applied."""
    body = rows()
    change(body)
    return body


def setter(row: int, column: str, value: str) -> Callable[[list[list[str]]], None]:
    """A change that sets one cell."""

    def change(body: list[list[str]]) -> None:
        body[row][COLUMN[column]] = value

    return change


def write_valid() -> None:
    """The valid base in every format and encoding."""
    write_text("valid_scb.csv", csv_text(SWEDISH_HEADER, rows()))
    write_text("valid_latin1.csv", csv_text(SWEDISH_HEADER, rows()), encoding="latin-1")
    write_text("valid_bom.csv", "\ufeff" + csv_text(SWEDISH_HEADER, rows()))
    write_text("valid_english_comma.csv", csv_text(ENGLISH_HEADER, rows(), sep=","))
    write_text("valid_tab.tsv", csv_text(SWEDISH_HEADER, rows(), sep="\t"))
    english_frame().to_parquet(OUT[0] / "valid.parquet", index=False)
    write_xlsx("valid.xlsx", {"Data": english_frame()})
    extra = [[*r, "kontrollerad"] for r in rows()]
    write_text("extra_column.csv", csv_text([*SWEDISH_HEADER, "Kommentar"], extra))


def write_xlsx(name: str, sheets: dict[str, pd.DataFrame]) -> None:
    """An .xlsx workbook with fixed metadata, so that rewriting it changes nothing."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, frame in sheets.items():
        sheet = workbook.create_sheet(title)
        sheet.append(list(frame.columns))
        for values in frame.itertuples(index=False):
            sheet.append([v.item() if hasattr(v, "item") else v for v in values])
    buffer = io.BytesIO()
    workbook.save(buffer)
    (OUT[0] / name).write_bytes(_fixed_zip(buffer.getvalue()))


def _fixed_zip(data: bytes) -> bytes:
    """The same zip archive with fixed entry times, so the bytes do not depend on the clock."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, (2019, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(
                    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2019-01-01T00:00:00Z", content
                )
            target.writestr(info, content)
    return out.getvalue()


def write_structural() -> None:
    """Files the reader must refuse."""
    body = rows()
    write_text("empty.csv", "")
    write_text("header_only.csv", csv_text(SWEDISH_HEADER, []))
    truncated = csv_text(SWEDISH_HEADER, body)
    write_text("truncated_last_line.csv", truncated[: truncated.rindex(";1043;")])
    write_text("missing_column.csv", csv_text(SWEDISH_HEADER[:-2], [r[:-2] for r in body]))
    write_text("wrong_delimiter.csv", csv_text(SWEDISH_HEADER, body, sep="|"))
    doubled = [[*r[:3], r[2], *r[3:]] for r in body]
    write_text(
        "two_columns_one_meaning.csv",
        csv_text([*SWEDISH_HEADER[:3], "Kommunkod", *SWEDISH_HEADER[3:]], doubled),
    )
    decimals = [[*r[:4], r[4] + ",0", *r[5:]] for r in body]
    write_text("decimal_comma_in_comma_file.csv", csv_text(ENGLISH_HEADER, decimals, sep=","))
    write_text("decimal_comma_declared_dot.csv", csv_text(SWEDISH_HEADER, decimals))
    write_text("utf16.csv", "\ufeff" + csv_text(SWEDISH_HEADER, body), encoding="utf-16-le")
    write_not_tables()
    write_xlsx(
        "second_sheet.xlsx",
        {
            "Om tabellen": pd.DataFrame({"Källa": ["SCB, registerdata för integration 2018"]}),
            "Data": english_frame(),
        },
    )


def write_not_tables() -> None:
    """Files that are no table at all."""
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256))
    (OUT[0] / "not_a_table.png").write_bytes(png)
    write_text(
        "page.html",
        "<!DOCTYPE html>\n<html><body><table><tr><td>0180C4050</td></tr></table></body></html>\n",
    )
    write_text("data.json", '[{"area_code": "0180C4050", "population": 1843}]\n')
    ole2 = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
    (OUT[0] / "old_excel.xls").write_bytes(ole2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("readme.txt", (2019, 1, 1, 0, 0, 0)), "not a workbook\n")
    (OUT[0] / "archive.zip").write_bytes(buffer.getvalue())


def write_content() -> None:
    """Files that read but must fail validation."""
    cases: dict[str, Callable[[list[list[str]]], None]] = {
        "negative_count.csv": setter(2, "long_term_unemployed", "-4"),
        "rate_over_100.csv": setter(7, "voters", "1290"),
        "unknown_municipality.csv": _unknown_municipality,
        "municipality_mismatch.csv": setter(4, "municipality_code", "0180"),
        "mixed_deso_regso.csv": setter(9, "area_code", "1880R002"),
        "two_years.csv": setter(9, "year", "2019"),
        "text_in_count.csv": _text_in_counts,
        "whitespace_codes.csv": _whitespace_codes,
        "lowercase_codes.csv": _lowercase_codes,
        "population_zero.csv": _population_zero,
        "population_below_denominator.csv": setter(5, "population", "980"),
        "missing_area_code.csv": setter(3, "area_code", ""),
        "suppressed_column.csv": _suppress_voters,
        "numerator_gt_denominator.csv": _employed_over_population,
        "duplicate_area.csv": lambda b: b.append(list(b[1])),
    }
    for name, change in cases.items():
        write_text(name, csv_text(SWEDISH_HEADER, edited(change)))


def _text_in_counts(body: list[list[str]]) -> None:
    body[1][COLUMN["employed"]] = "12,5"
    body[6][COLUMN["low_educated"]] = "abc"


def _unknown_municipality(body: list[list[str]]) -> None:
    body[9][COLUMN["area_code"]] = "1899C1100"
    body[9][COLUMN["municipality_code"]] = "1899"


def _whitespace_codes(body: list[list[str]]) -> None:
    body[0][COLUMN["area_code"]] = " 0180C4050"
    body[8][COLUMN["area_code"]] = "1880C1060 "


def _lowercase_codes(body: list[list[str]]) -> None:
    for row in body[:2]:
        row[COLUMN["area_code"]] = row[COLUMN["area_code"]].lower()


def _population_zero(body: list[list[str]]) -> None:
    for column in ENGLISH_HEADER[4:]:
        body[3][COLUMN[column]] = "0"


def _suppress_voters(body: list[list[str]]) -> None:
    for row in body:
        row[COLUMN["voters"]] = ".."


def _employed_over_population(body: list[list[str]]) -> None:
    for row in body[:3]:
        row[COLUMN["employed"]] = str(int(row[COLUMN["population_20_64"]]) + 5)


def write_hostile() -> None:
    """Files that once were misread: each must read as the valid base or be named."""
    text = csv_text(SWEDISH_HEADER, rows())
    write_text("cr_line_endings.csv", text.replace("\n", "\r"))
    write_text("sep_line.csv", "sep=;\r\n" + text.replace("\n", "\r\n"))
    write_text("blank_first_line.csv", "   \n" + text)
    dashed = text.replace("norr-Lindängen", "norr\u2013Lindängen")
    write_text("windows_1252.csv", dashed, encoding="cp1252")
    digits = csv_text(SWEDISH_HEADER, edited(setter(2, "employed", "\u0668\u0660\u0662")))
    write_text("arabic_indic_digits.csv", digits)
    write_text("nul_after_8_kib.csv", text + "0180C9999;" + "x" * 9000 + "\x00;\n")
    write_text("secret_first_line.csv", "API_TOKEN=0123456789abcdef\nrest of a file\n")
    write_xlsx("understated_dimension.xlsx", {"Data": english_frame()})
    path = OUT[0] / "understated_dimension.xlsx"
    path.write_bytes(_with_dimension(path.read_bytes(), b"A1:C5"))


def _with_dimension(data: bytes, ref: bytes) -> bytes:
    """The workbook with its sheet's <dimension> set to `ref`, entry times kept fixed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                content = re.sub(
                    rb'<dimension ref="[^"]*"', b'<dimension ref="' + ref + b'"', content
                )
            target.writestr(item, content)
    return out.getvalue()


def main(out: Path = HERE) -> None:
    """Write every file of the corpus into `out` (this folder unless told)."""
    OUT[0] = out
    write_valid()
    write_structural()
    write_content()
    write_hostile()


if __name__ == "__main__":
    main()
