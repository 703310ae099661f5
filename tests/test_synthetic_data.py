"""The committed synthetic data set: reproducible, consistent and calibrated."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from areascreen.contract import COUNT_COLUMNS, INDICATORS, INPUT_COLUMNS
from areascreen.paths import DEFAULT_INPUT, MUNICIPALITIES_CSV
from areascreen.synthetic import (
    allocate_areas,
    calibrate_intercept,
    generate_synthetic_areas,
    write_parquet,
)

DESO_CODE = r"^\d{4}[ABC]\d{4}$"
PUBLISHED = {
    "employment_rate": 77.9,
    "long_term_unemployment_rate": 4.3,
    "low_education_rate": 14.2,
    "voter_turnout": 85.8,
}
# The 2018 rule: (crossed when the rate is below the limit?, limit in per cent).
RULE_2018 = {
    "employment_rate": (True, 60.0),
    "long_term_unemployment_rate": (False, 10.0),
    "low_education_rate": (False, 28.0),
    "voter_turnout": (True, 75.0),
}


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    return pd.read_parquet(DEFAULT_INPUT)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return generate_synthetic_areas()


@pytest.fixture(scope="module")
def larger() -> pd.DataFrame:
    return generate_synthetic_areas(20_000)


@pytest.fixture(scope="module")
def municipality_codes() -> list[str]:
    with MUNICIPALITIES_CSV.open(encoding="utf-8", newline="") as handle:
        return [row["municipality_code"] for row in csv.DictReader(handle)]


def _national_rates(frame: pd.DataFrame) -> dict[str, float]:
    rates = {}
    for name, indicator in INDICATORS.items():
        both = frame[[indicator.numerator, indicator.denominator]].dropna()
        rates[name] = 100 * both[indicator.numerator].sum() / both[indicator.denominator].sum()
    return rates


def _crossings(frame: pd.DataFrame) -> pd.DataFrame:
    crossed = {}
    for name, (below, limit) in RULE_2018.items():
        indicator = INDICATORS[name]
        rate = 100 * frame[indicator.numerator] / frame[indicator.denominator]
        crossed[name] = (rate < limit if below else rate > limit).fillna(False).astype(bool)
    return pd.DataFrame(crossed)


def _assert_consistent(frame: pd.DataFrame, municipality_codes: list[str]) -> None:
    assert tuple(frame.columns) == INPUT_COLUMNS
    assert frame["area_code"].is_unique
    assert frame["area_code"].str.fullmatch(DESO_CODE).all()
    assert frame["area_code"].is_monotonic_increasing
    assert (frame["area_code"].str[:4] == frame["municipality_code"]).all()
    assert frame["area_name"].str.startswith("Synthetic area ").all()
    assert sorted(frame["municipality_code"].unique()) == municipality_codes
    assert (frame["year"] == 2018).all()
    for column in COUNT_COLUMNS:
        assert pd.api.types.is_integer_dtype(frame[column]), column
        assert (frame[column].dropna() >= 0).all(), column
    assert frame["population"].notna().all()
    chain = ["population", "population_16_64", "population_20_64", "population_25_64"]
    for bigger, smaller in itertools.pairwise(chain):
        assert (frame[bigger] >= frame[smaller]).fillna(True).all(), (bigger, smaller)
    assert (frame["population"] >= frame["eligible_voters"]).fillna(True).all()
    for indicator in INDICATORS.values():
        ok = frame[indicator.numerator] <= frame[indicator.denominator]
        assert ok.fillna(True).all(), indicator.name


def _assert_calibrated(frame: pd.DataFrame) -> None:
    for name, rate in _national_rates(frame).items():
        assert abs(rate - PUBLISHED[name]) < 0.5, (name, rate)


def test_committed_file_equals_fresh_generation(
    committed: pd.DataFrame, fresh: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(committed, fresh)


def test_regeneration_is_byte_identical(fresh: pd.DataFrame, tmp_path: Path) -> None:
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    write_parquet(fresh, first)
    write_parquet(generate_synthetic_areas(), second)
    assert first.read_bytes() == second.read_bytes()
    metadata = pq.read_metadata(DEFAULT_INPUT)
    pandas_metadata = json.loads(metadata.metadata[b"pandas"])
    writers = (metadata.created_by, pandas_metadata["pandas_version"])
    if writers != (f"parquet-cpp-arrow version {pa.__version__}", pd.__version__):
        pytest.skip(f"committed file written by {writers}; bytes depend on those versions")
    assert first.read_bytes() == DEFAULT_INPUT.read_bytes()


def test_committed_file_is_small_and_sorted() -> None:
    assert DEFAULT_INPUT.stat().st_size < 1_000_000
    metadata = pq.read_metadata(DEFAULT_INPUT)
    assert metadata.num_rows == 6000
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_committed_file_is_consistent(
    committed: pd.DataFrame, municipality_codes: list[str]
) -> None:
    _assert_consistent(committed, municipality_codes)


def test_national_averages_match_published(committed: pd.DataFrame) -> None:
    _assert_calibrated(committed)


def test_areas_per_municipality_are_heavy_tailed(committed: pd.DataFrame) -> None:
    sizes = committed.groupby("municipality_code").size()
    assert sizes.min() >= 2
    assert 5 <= sizes.median() <= 15
    assert (sizes >= 200).sum() >= 2
    letters = committed["area_code"].str[4]
    assert 0.6 <= (letters == "C").mean() <= 0.85
    big = sizes.index[sizes >= sizes.quantile(0.9)]
    urban_big = (letters[committed["municipality_code"].isin(big)] == "C").mean()
    urban_small = (letters[~committed["municipality_code"].isin(big)] == "C").mean()
    assert urban_big > urban_small + 0.2


def test_population_is_deso_like(committed: pd.DataFrame) -> None:
    population = committed["population"]
    assert population.between(700, 2700).mean() > 0.9
    assert 1 <= (population < 200).sum() <= 30


def test_suppression_share(committed: pd.DataFrame) -> None:
    suppressed = committed[list(COUNT_COLUMNS)].isna().any(axis=1).mean()
    assert 0.003 <= suppressed <= 0.01
    numerators = [indicator.numerator for indicator in INDICATORS.values()]
    assert committed[numerators].isna().sum(axis=1).max() == 1


def test_some_areas_cross_all_four_thresholds(committed: pd.DataFrame) -> None:
    crossed = _crossings(committed)
    all_four = crossed.all(axis=1)
    assert 50 <= all_four.sum() <= 150
    assert 15 <= committed.loc[all_four, "municipality_code"].nunique() <= 45
    # correlated rates: crossing one threshold makes crossing the others much likelier
    assert all_four.sum() > 0.3 * crossed["employment_rate"].sum()


def test_other_size_is_calibrated_and_consistent(
    larger: pd.DataFrame, committed: pd.DataFrame, municipality_codes: list[str]
) -> None:
    assert len(larger) == 20_000
    _assert_consistent(larger, municipality_codes)
    _assert_calibrated(larger)
    ratio = (
        larger.groupby("municipality_code").size() / committed.groupby("municipality_code").size()
    )
    assert ratio.median() == pytest.approx(20_000 / 6000, rel=0.15)


def test_seed_changes_data(fresh: pd.DataFrame) -> None:
    other = generate_synthetic_areas(seed=1)
    assert not other["population"].equals(fresh["population"])
    _assert_calibrated(other)


def test_strict_codes_raise_and_wide_codes_stay_unique() -> None:
    with pytest.raises(ValueError, match="strict_deso_codes=False"):
        generate_synthetic_areas(200_000)
    wide = generate_synthetic_areas(200_000, strict_deso_codes=False)
    assert wide["area_code"].is_unique
    assert wide["area_code"].str.fullmatch(r"^\d{4}[ABC]\d{5}$").all()
    _assert_calibrated(wide)


def test_invalid_size_raises() -> None:
    with pytest.raises(ValueError):
        generate_synthetic_areas(0)


def test_allocation_is_proportional_with_one_each() -> None:
    weights = np.array([50.0, 20.0, 5.0, 1.0, 0.1])
    counts = allocate_areas(weights, 1000)
    assert counts.sum() == 1000
    assert (counts >= 1).all()
    quotas = (1000 - len(weights)) * weights / weights.sum()
    assert (np.abs(counts - 1 - quotas) < 1).all()
    assert allocate_areas(weights, 3).sum() == 3


def test_calibrate_intercept_hits_target() -> None:
    rng = np.random.default_rng(0)
    linear = rng.normal(0.0, 1.5, 1000)
    weights = rng.integers(100, 2000, 1000).astype(float)
    intercept = calibrate_intercept(linear, weights, 0.043)
    rate = weights @ (1 / (1 + np.exp(-(intercept + linear)))) / weights.sum()
    assert rate == pytest.approx(0.043, abs=1e-9)
    assert calibrate_intercept(np.zeros(3), np.ones(3), 0.5) == pytest.approx(0.0, abs=1e-9)
