"""SYNTHETIC demo data: invented DeSO-like areas, NOT official statistics.

Every number this module produces is drawn from a seeded random model. The areas, their
codes and their counts do not exist; only the 290 municipality codes and names (read from
`data/municipalities.csv`) are real. The data lets the screening run end to end without
any licensed or downloaded input.

How the data is generated (all vectorised in numpy, deterministic for a given seed):

1. Municipalities get a heavy-tailed size weight (Zipf law over a random ranking that
   favours the county seats and former cities, whose codes end in 80-99) and a random
   municipal effect.
2. Areas are allocated to municipalities in proportion to the weights (largest remainder,
   at least one area each when `n_areas >= 290`). Each area gets a DeSO letter: A (rural),
   B (small town) or C (urban); C dominates in large municipalities.
3. Population per area is log-normal around 1,650 (mostly 700-2,700) with a few large
   areas and a handful of very small ones (< 200 residents).
4. A latent disadvantage factor per area (municipal effect + area noise + occasional
   "pockets", likelier in urban areas of large municipalities) drives all four rates
   through logistic models, so the rates are correlated.
5. Denominators are nested binomial draws (population >= 16-64 >= 20-64 >= 25-64,
   eligible voters <= population); numerators are binomial draws of their denominators.
6. The intercept of each rate model is solved for (safeguarded Newton) so that the expected
   national rate from counts equals the published 2018 national average.
7. About 0.6 % of areas have one criterion's numerator (sometimes also its denominator)
   suppressed to NULL, as Statistics Sweden suppresses small counts.

Area codes have the DeSO form `^\\d{4}[ABC]\\d{4}$`. A 4-digit serial allows 9,999 areas
per municipality and letter (reached from about 99,000 areas); above that,
`strict_deso_codes=False` widens the serial for the whole data set (e.g. `0180C0001234`
at 10,000,000 areas) instead of raising `ValueError`. `year` only fills the column: the
rates are always calibrated to the 2018 averages.

Regenerate the committed file with `python -m areascreen.synthetic`.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from areascreen.contract import COUNT_COLUMNS, INDICATORS, INPUT_COLUMNS
from areascreen.paths import DEFAULT_INPUT, MUNICIPALITIES_CSV

DEFAULT_SEED = 20180615
DEFAULT_AREAS = 6000
DEFAULT_YEAR = 2018

PUBLISHED_NATIONAL_RATES_2018: dict[str, float] = {
    "employment_rate": 77.9,
    "long_term_unemployment_rate": 4.3,
    "low_education_rate": 14.2,
    "voter_turnout": 85.8,
}
"""Published 2018 national averages (per cent) that the synthetic counts are calibrated to."""

THRESHOLDS_2018: dict[str, tuple[str, float]] = {
    "employment_rate": ("<", 60.0),
    "long_term_unemployment_rate": (">", 10.0),
    "low_education_rate": (">", 28.0),
    "voter_turnout": ("<", 75.0),
}
"""The 2018 rule, used here only to summarise the synthetic data."""

LETTERS = b"ABC"
SUPPRESSED_SHARE = 0.006
_SERIAL_DIGITS = 4
_NAME_PREFIX = b"Synthetic area "
_ZIPF_EXPONENT = 0.8
_MAX_DISADVANTAGE = 4.0

# Rate models: logit(rate) = intercept + slope * disadvantage + letter offset + noise.
_RATE_SLOPES = {
    "employment_rate": -0.62,
    "long_term_unemployment_rate": 0.70,
    "low_education_rate": 0.62,
    "voter_turnout": -0.58,
}
_RATE_NOISE = {
    "employment_rate": 0.22,
    "long_term_unemployment_rate": 0.30,
    "low_education_rate": 0.22,
    "voter_turnout": 0.18,
}
_LETTER_OFFSETS = {  # (A, B, C)
    "employment_rate": (0.15, 0.05, 0.0),
    "long_term_unemployment_rate": (-0.10, 0.0, 0.0),
    "low_education_rate": (0.30, 0.20, 0.0),
    "voter_turnout": (0.05, 0.0, 0.0),
}


def _logit(p: float | np.ndarray) -> float | np.ndarray:
    return np.log(p) - np.log1p(-p)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def load_municipality_codes(path: Path = MUNICIPALITIES_CSV) -> np.ndarray:
    """The sorted 4-digit municipality codes of `data/municipalities.csv`."""
    with path.open(encoding="utf-8", newline="") as handle:
        codes = sorted(row["municipality_code"] for row in csv.DictReader(handle))
    return np.array(codes, dtype="S4")


def allocate_areas(weights: np.ndarray, n_areas: int) -> np.ndarray:
    """Split `n_areas` in proportion to `weights` (largest remainder), >= 1 each if possible."""
    if n_areas < 0:
        raise ValueError(f"n_areas must be >= 0, got {n_areas}")
    base = np.ones(len(weights), dtype=np.int64) if n_areas >= len(weights) else 0
    rest = n_areas - int(np.sum(base))
    quotas = rest * weights / weights.sum()
    counts = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[: rest - int(counts.sum())]] += 1
    return counts + base


def _municipality_traits(codes: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Size weight, relative log size and random effect of each municipality."""
    suffix = codes.astype(np.int64) % 100
    score = rng.normal(0.0, 0.8, len(codes))
    score += np.where(suffix == 80, 1.8, np.where(suffix > 80, 0.8, 0.0))
    rank = np.empty(len(codes))
    rank[np.argsort(-score, kind="stable")] = np.arange(1, len(codes) + 1)
    weight = rank**-_ZIPF_EXPONENT * np.exp(rng.normal(0.0, 0.3, len(codes)))
    return {
        "weight": weight,
        "log_size": np.log(weight / np.median(weight)),
        "effect": rng.normal(0.0, 1.0, len(codes)),
    }


def _letter_counts(sizes: np.ndarray, log_size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Areas per municipality and letter (A, B, C), urban C likelier in large municipalities."""
    p_c = _expit(0.1 + 1.3 * log_size)
    p_b = (1.0 - p_c) * 0.36
    pvals = np.column_stack([1.0 - p_c - p_b, p_b, p_c])
    return rng.multinomial(sizes, pvals)


def _serials(group_counts: np.ndarray) -> np.ndarray:
    """1-based running number within each group, for rows laid out group by group."""
    starts = np.repeat(np.cumsum(group_counts) - group_counts, group_counts)
    return np.arange(int(group_counts.sum()), dtype=np.int64) - starts + 1


def _ascii_digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of `values` as an (n, width) uint8 ASCII array."""
    chars = np.empty((values.size, width), dtype=np.uint8)
    rest = values.astype(np.uint32)
    for position in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, np.uint32(10))
        chars[:, position] = digit + ord("0")
    return chars


def _string_column(chars: np.ndarray) -> pd.Series:
    """A pandas `str` column from an (n, width) uint8 array of fixed-width ASCII rows."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars))
    )
    return array.to_pandas()


def _area_identifiers(
    codes: np.ndarray, letter_counts: np.ndarray, strict_deso_codes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Municipality index and (n, 5 + serial width) ASCII area codes, in sorted order."""
    flat = letter_counts.ravel()
    group = np.repeat(np.arange(flat.size), flat)
    serial = _serials(flat)
    largest = int(serial.max()) if serial.size else 0
    width = _SERIAL_DIGITS
    if largest >= 10**_SERIAL_DIGITS:
        if strict_deso_codes:
            raise ValueError(
                f"{largest:,} areas in one municipality and letter exceed the 4-digit DeSO "
                "serial (9,999); pass strict_deso_codes=False to widen the serial"
            )
        width = len(str(largest))
    municipality = group // 3
    code_chars = np.frombuffer(codes.tobytes(), dtype=np.uint8).reshape(-1, 4)
    letters = np.frombuffer(LETTERS, dtype=np.uint8)
    chars = np.concatenate(
        [code_chars[municipality], letters[group % 3][:, None], _ascii_digits(serial, width)],
        axis=1,
    )
    return municipality, chars


def _population(n: int, rng: np.random.Generator) -> np.ndarray:
    """Residents per area: mostly 700-2,700, a few large and a handful of tiny areas."""
    population = np.exp(rng.normal(np.log(1650.0), 0.24, n))
    kind = rng.random(n)
    large = kind < 0.01
    tiny = kind > 1.0 - 0.0015
    population[large] = rng.uniform(2700.0, 4800.0, int(large.sum()))
    population[tiny] = rng.uniform(40.0, 200.0, int(tiny.sum()))
    return np.rint(population).astype(np.int64)


def _disadvantage(
    traits: dict[str, np.ndarray],
    municipality: np.ndarray,
    letter: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Latent disadvantage per area; pockets cluster in urban areas of large municipalities."""
    n = municipality.size
    log_size = traits["log_size"][municipality]
    effect = traits["effect"][municipality]
    urban = letter == 2
    z = 0.35 * effect + 0.15 * log_size * urban + rng.normal(0.0, 0.55, n)
    p_pocket = _expit(-7.3 + 0.7 * log_size + 1.5 * urban + 0.6 * effect)
    pocket = rng.random(n) < p_pocket
    z += pocket * rng.gamma(6.0, 0.4, n)
    return np.minimum(z, _MAX_DISADVANTAGE)


def _denominators(
    population: np.ndarray, z: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Nested age groups and eligible voters, consistent with the population."""
    n = population.size

    def share(centre: float, slope: float, noise: float) -> np.ndarray:
        return _expit(_logit(centre) + slope * z + rng.normal(0.0, noise, n))

    p16 = rng.binomial(population, share(0.63, 0.10, 0.15))
    p20 = rng.binomial(p16, share(0.925, 0.0, 0.20))
    p25 = rng.binomial(p20, share(0.885, -0.10, 0.20))
    voters = rng.binomial(population, share(0.755, -0.30, 0.15))
    return {
        "population_16_64": p16,
        "population_20_64": p20,
        "population_25_64": p25,
        "eligible_voters": voters,
    }


def calibrate_intercept(
    linear: np.ndarray, weights: np.ndarray, target: float, tolerance: float = 1e-12
) -> float:
    """Intercept a with sum(w * expit(a + linear)) / sum(w) == target.

    Safeguarded Newton iteration: each step shrinks a bracket [low, high] around the root, and
    a Newton step that leaves the bracket is replaced by bisection, so it always converges.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target rate must be strictly between 0 and 1, got {target}")
    total = float(weights.sum())
    low, high = -40.0, 40.0
    intercept = float(_logit(target)) - float(weights @ linear) / total
    with np.errstate(over="ignore"):
        decay = np.exp(-linear)  # expit(a + x) == 1 / (1 + exp(-a) * exp(-x))
    for _ in range(200):
        p = 1.0 / (1.0 + np.exp(-intercept) * decay)
        gap = float(weights @ p) / total - target
        if abs(gap) < tolerance:
            break
        if gap < 0.0:
            low = intercept
        else:
            high = intercept
        slope = float(weights @ (p * (1.0 - p))) / total
        step = intercept - gap / slope if slope > 0.0 else low - 1.0
        intercept = step if low < step < high else 0.5 * (low + high)
    return intercept


def _suppression(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which areas lose a criterion, which criterion, and whether the denominator goes too."""
    hit = rng.random(n) < SUPPRESSED_SHARE
    criterion = rng.integers(0, len(INDICATORS), n)
    with_denominator = rng.random(n) < 0.3
    return hit, criterion, with_denominator


def _counts(
    population: np.ndarray,
    z: np.ndarray,
    letter: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, pd.arrays.IntegerArray]:
    """All count columns; numerators calibrated to the published national rates."""
    n = population.size
    denominators = _denominators(population, z, rng)
    hit, criterion, with_denominator = _suppression(n, rng)
    columns: dict[str, pd.arrays.IntegerArray] = {}
    for k, (name, indicator) in enumerate(INDICATORS.items()):
        denominator = denominators[indicator.denominator]
        offsets = np.asarray(_LETTER_OFFSETS[name])[letter]
        linear = _RATE_SLOPES[name] * z + offsets + rng.normal(0.0, _RATE_NOISE[name], n)
        suppressed = hit & (criterion == k)
        weights = np.where(suppressed, 0.0, denominator)
        target = PUBLISHED_NATIONAL_RATES_2018[name] / 100.0
        intercept = calibrate_intercept(linear, weights, target)
        numerator = rng.binomial(denominator, _expit(intercept + linear))
        columns[indicator.numerator] = pd.arrays.IntegerArray(numerator, suppressed)
        columns[indicator.denominator] = pd.arrays.IntegerArray(
            denominator, suppressed & with_denominator
        )
    return columns


def generate_synthetic_areas(
    n_areas: int = DEFAULT_AREAS,
    year: int = DEFAULT_YEAR,
    seed: int = DEFAULT_SEED,
    *,
    strict_deso_codes: bool = True,
) -> pd.DataFrame:
    """SYNTHETIC DeSO-like areas with the columns of `contract.INPUT_COLUMNS`, sorted by code.

    Raises `ValueError` when `n_areas < 1`, or when `strict_deso_codes` is true and one
    municipality and letter would need more than 9,999 serials (from about 99,000 areas).
    """
    if n_areas < 1:
        raise ValueError(f"n_areas must be at least 1, got {n_areas}")
    municipality_rng, area_rng = np.random.default_rng(seed).spawn(2)
    codes = load_municipality_codes()
    traits = _municipality_traits(codes, municipality_rng)
    sizes = allocate_areas(traits["weight"], n_areas)
    letter_counts = _letter_counts(sizes, traits["log_size"], area_rng)
    municipality, code_chars = _area_identifiers(codes, letter_counts, strict_deso_codes)
    letter = np.repeat(np.tile(np.arange(3), len(codes)), letter_counts.ravel())
    population = _population(n_areas, area_rng)
    z = _disadvantage(traits, municipality, letter, area_rng)
    counts = _counts(population, z, letter, area_rng)
    prefix = np.broadcast_to(
        np.frombuffer(_NAME_PREFIX, dtype=np.uint8), (n_areas, len(_NAME_PREFIX))
    )
    municipality_chars = code_chars[:, :4]
    frame = pd.DataFrame(
        {
            "area_code": _string_column(code_chars),
            "area_name": _string_column(np.concatenate([prefix, code_chars], axis=1)),
            "municipality_code": _string_column(municipality_chars),
            "year": np.full(n_areas, year, dtype=np.int64),
            "population": population,
            **counts,
        },
        copy=False,
    )
    return frame.loc[:, list(INPUT_COLUMNS)]


def write_parquet(frame: pd.DataFrame, path: Path, compression_level: int | None = None) -> None:
    """Write byte-reproducibly: zstd, no index, no timestamps, rows already sorted by code.

    The zstd level defaults to 19 (smallest file) up to 1,000,000 rows and 3 above, where
    level 19 would take minutes.
    """
    if compression_level is None:
        compression_level = 19 if len(frame) <= 1_000_000 else 3
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = pa.schema(
        [
            field.with_type(pa.string()) if pa.types.is_large_string(field.type) else field
            for field in table.schema
        ],
        metadata=table.schema.metadata,
    )
    table = table.cast(schema)
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=compression_level,
        sorting_columns=[pq.SortingColumn(0)],
    )


def national_rates(frame: pd.DataFrame) -> dict[str, float]:
    """Per-cent rates from summed counts over areas where numerator and denominator exist."""
    rates = {}
    for name, indicator in INDICATORS.items():
        both = frame[[indicator.numerator, indicator.denominator]].dropna()
        rates[name] = 100.0 * both[indicator.numerator].sum() / both[indicator.denominator].sum()
    return rates


def area_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-cent rates per area (NaN where a count is suppressed or the denominator is 0)."""
    rates = {}
    for name, indicator in INDICATORS.items():
        numerator = frame[indicator.numerator].astype("float64")
        denominator = frame[indicator.denominator].astype("float64").replace(0.0, np.nan)
        rates[name] = 100.0 * numerator / denominator
    return pd.DataFrame(rates, index=frame.index)


def threshold_crossings(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame: does each area cross each 2018 threshold."""
    rates = area_rates(frame)
    crossed = {}
    for name, (operator, limit) in THRESHOLDS_2018.items():
        crossed[name] = rates[name] < limit if operator == "<" else rates[name] > limit
    return pd.DataFrame(crossed, index=frame.index)


def summary(frame: pd.DataFrame) -> str:
    """Human-readable figures for the README: national rates and threshold crossings."""
    crossed = threshold_crossings(frame)
    all_four = crossed.all(axis=1)
    lines = [f"areas: {len(frame):,}; municipalities: {frame['municipality_code'].nunique()}"]
    for name, rate in national_rates(frame).items():
        published = PUBLISHED_NATIONAL_RATES_2018[name]
        lines.append(f"{name}: {rate:.2f} % (published {published} %)")
    for name in THRESHOLDS_2018:
        lines.append(f"crossing {name}: {int(crossed[name].sum()):,} areas")
    municipalities = frame.loc[all_four, "municipality_code"].nunique()
    lines.append(
        f"crossing all four: {int(all_four.sum()):,} areas in {municipalities} municipalities"
    )
    suppressed = frame[list(COUNT_COLUMNS)].isna().any(axis=1).sum()
    lines.append(f"areas with a suppressed count: {int(suppressed):,}")
    small = int((frame["population"] < 200).sum())
    lines.append(f"areas with fewer than 200 residents: {small}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: write the synthetic Parquet file and print its summary."""
    parser = argparse.ArgumentParser(description="Write SYNTHETIC DeSO-like demo data.")
    parser.add_argument("--out", type=Path, default=DEFAULT_INPUT, help="Parquet path")
    parser.add_argument("--areas", type=int, default=DEFAULT_AREAS, help="number of areas")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--year", type=int, default=DEFAULT_YEAR, help="value of `year`")
    parser.add_argument(
        "--wide-codes",
        action="store_true",
        help="widen the 4-digit serial when one municipality and letter needs more codes",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    frame = generate_synthetic_areas(
        args.areas, args.year, args.seed, strict_deso_codes=not args.wide_codes
    )
    write_parquet(frame, args.out)
    elapsed = time.perf_counter() - started
    print(summary(frame))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
