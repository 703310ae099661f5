"""Deterministic benchmark inputs: synthetic areas written to Parquet.

The screening file of n areas is `generate_synthetic_areas(n)`; above about 99,000 areas its
codes have a widened serial (`strict_deso_codes=False`), which the input gate rejects as not
DeSO codes. The validation file therefore stays a file the gate accepts: up to
`STRICT_AREAS` rows it is the screening file itself; above, it is a history of the same
number of rows, `years` years of one set of at most `STRICT_AREAS` areas with codes of the
DeSO form (validated with `allow_multiple_years=True`), years 2000 onwards so that up to
about 10 million rows stay within the gate's year range. Beyond the first 5,984 areas those
codes are not in the DeSO 2018 code list, so the gate is timed with the division's form
checked and its code list left out (`contenders.validation_ruleset`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

STRICT_AREAS = 99_010  # the most areas whose synthetic codes all fit the DeSO form (checked)
FIRST_HISTORY_YEAR = 2000
COMPRESSION_LEVEL = 3


@dataclass(frozen=True)
class ValidationLayout:
    """How a validation file of `rows` rows is laid out: `years` years of `areas` areas."""

    rows: int
    areas: int
    years: int

    @property
    def multiple_years(self) -> bool:
        """Whether the file holds more than one year."""
        return self.years > 1


def validation_layout(rows: int) -> ValidationLayout:
    """The smallest number of years whose areas per year all get valid DeSO codes."""
    years = max(1, math.ceil(rows / STRICT_AREAS))
    return ValidationLayout(rows=rows, areas=math.ceil(rows / years), years=years)


def screening_file(n_areas: int, path: Path) -> Path:
    """Write the screening input of `n_areas` synthetic areas (year 2018) to `path`."""
    from areascreen.synthetic import generate_synthetic_areas, write_parquet

    frame = generate_synthetic_areas(n_areas, strict_deso_codes=False)
    write_parquet(frame, path, compression_level=COMPRESSION_LEVEL)
    return path


def validation_file(rows: int, path: Path) -> ValidationLayout:
    """Write an input of `rows` rows that passes the input gate; return its layout."""
    from areascreen.synthetic import generate_synthetic_areas

    layout = validation_layout(rows)
    base = pa.Table.from_pandas(generate_synthetic_areas(layout.areas), preserve_index=False)
    base = base.cast(_plain_strings(base.schema))
    year_index = base.schema.get_field_index("year")
    years = [
        base.set_column(year_index, "year", pa.array(np.full(layout.areas, year, np.int64)))
        for year in range(FIRST_HISTORY_YEAR, FIRST_HISTORY_YEAR + layout.years)
    ]
    table = pa.concat_tables(years).slice(0, rows) if layout.multiple_years else base
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=COMPRESSION_LEVEL)
    return layout


def _plain_strings(schema: pa.Schema) -> pa.Schema:
    """The schema with large strings as strings, as `areascreen.synthetic.write_parquet` writes."""
    fields = [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)
