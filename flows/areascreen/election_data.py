"""The embedded real dataset: the Election Authority's 2018 Riksdag results per election district.

`python -m areascreen.election_data FILE` rebuilds `data/election_districts/riksdag2018_districts
.parquet` from the Election Authority's published per-district results file (the xlsx with the
sheet `R antal`): one row per election district and per collection district, with the district
code, name, municipality, year, voters and eligible voters. These are public official figures;
collection districts (0 eligible voters) hold late votes and count in the national turnout only
(see data/divisions/election_districts.toml).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from areascreen.paths import DATA_DIR

ELECTION_DATASET = DATA_DIR / "election_districts" / "riksdag2018_districts.parquet"
SOURCE_NOTE = (
    "Real official figures: the Election Authority's (Valmyndigheten) results of the 2018 "
    "Riksdag election per election district, sheet 'R antal'"
)
COLUMNS = ("area_code", "area_name", "municipality_code", "year", "voters", "eligible_voters")


def build_dataset(results_file: Path, out: Path = ELECTION_DATASET) -> Path:
    """Write the districts and collection districts of a results file as Parquet, sorted by code."""
    from areascreen.sources.election import read_election_districts

    result = read_election_districts(results_file)
    frame = pd.concat([result.districts, result.national_only], ignore_index=True)
    frame = frame.loc[:, list(COLUMNS)].sort_values("area_code").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {
            b"areascreen.source": SOURCE_NOTE.encode(),
            b"areascreen.source_file": b"2018_R_per_valdistrikt.xlsx",
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd", compression_level=19, write_statistics=False)
    return out


def main() -> None:
    """Rebuild the embedded dataset from a results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results_file", type=Path, help="the Election Authority's per-district xlsx"
    )
    parser.add_argument("--out", type=Path, default=ELECTION_DATASET)
    args = parser.parse_args()
    print(build_dataset(args.results_file, args.out))


if __name__ == "__main__":
    main()
