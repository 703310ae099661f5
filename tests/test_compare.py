"""`areascreen compare`: the hand-worked fixture under "all 4" and "at least 3 of 4", the default
data through the command, the refusals, and rulesets on another area division.

On the fixture (tests/fixture_areas.py), "all 4" selects 0127C1010, 0127C1020, 0180C1010 and
1280C1020, so Botkyrka (0127), Stockholm (0180) and Malmö (1280) are eligible. "At least 3 of 4"
also selects 0180C1020 (1,900 residents), 1880C1010 (2,200) and 1880C1020 (2,000), so Örebro
(1880) becomes eligible with 2 areas and 4,200 residents: eligible under exactly one ruleset.
Stockholm then has 2 selected areas with 2,100 + 1,900 = 4,000 residents.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from areascreen import compare, paths
from areascreen.compare import ComparisonError, compare_rulesets, register
from areascreen.errors import AreascreenError, RulesetError
from areascreen.screening import screen
from areascreen.synthetic import synthetic_note
from tests.fixture_areas import fixture_frame, fixture_ruleset

ALL_FOUR = "fixture-all-four"
THREE = "fixture-three-of-four"
RULESET_NAME = 'name = "segregation-grant-2018"'


@pytest.fixture(autouse=True)
def _quiet_analytics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _ruleset(folder: Path, name: str, **replacements: str) -> Path:
    """The fixture's 2018 ruleset under a name of its own, with text replaced."""
    path = fixture_ruleset(folder / name, **{RULESET_NAME: f'name = "{name}"'}, **replacements)
    return path


def _fixture_input(folder: Path, **names: str) -> Path:
    """The fixture as Parquet; `names` gives some areas another name."""
    frame = fixture_frame()
    for code, name in names.items():
        frame.loc[frame["area_code"] == code, "area_name"] = name
    path = folder / "fixture_areas.parquet"
    frame.to_parquet(path, index=False)
    return path


def _rows(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def _pair(tmp_path: Path) -> list[Path]:
    return [
        _ruleset(tmp_path, ALL_FOUR),
        _ruleset(
            tmp_path,
            THREE,
            **{
                'criteria_required = "all"': "criteria_required = 3",
                'description = "Areas': 'description = "Three of four: areas',
            },
        ),
    ]


def test_all_four_against_three_of_four_on_the_fixture(tmp_path: Path) -> None:
    source = _fixture_input(tmp_path, **{"1880C1020": "=HYPERLINK(1)"})
    out = tmp_path / "comparison"
    result = compare_rulesets(2018, _pair(tmp_path), source, out, validate=False)

    assert [c.label for c in result.rulesets] == [ALL_FOUR, THREE]
    assert sorted(result.rulesets[0].eligible_codes) == ["0127", "0180", "1280"]
    assert sorted(result.rulesets[1].eligible_codes) == ["0127", "0180", "1280", "1880"]
    assert sorted(p.name for p in result.files) == sorted(compare.FILES)

    rows = _rows(out / "comparison.csv", "municipality_code")
    orebro = rows["1880"]
    assert orebro["municipality_name"] == "Örebro"
    assert (orebro[f"eligible__{ALL_FOUR}"], orebro[f"eligible__{THREE}"]) == ("no", "yes")
    assert orebro[f"selected_areas__{ALL_FOUR}"] == "0"
    assert orebro[f"selected_areas__{THREE}"] == "2"
    assert orebro[f"population_in_selected_areas__{THREE}"] == "4200"
    assert orebro["eligible_under"] == "1"
    stockholm = rows["0180"]
    assert stockholm[f"population_in_selected_areas__{ALL_FOUR}"] == "2100"
    assert stockholm[f"population_in_selected_areas__{THREE}"] == "4000"
    assert rows["2380"][f"eligible__{THREE}"] == "no"

    others = len(rows) - 4
    assert result.count("eligible_under_all") == 3
    assert result.count("eligible_under_some") == 1
    assert result.count("eligible_under_exactly_one") == 1
    assert result.count("eligible_under_none") == others
    assert result.count("both", ALL_FOUR, THREE) == 3
    assert result.count("only_a", ALL_FOUR, THREE) == 0
    assert result.count("only_b", ALL_FOUR, THREE) == 1
    assert result.count("neither", ALL_FOUR, THREE) == others
    agreement = list(csv.DictReader((out / "agreement.csv").open(encoding="utf-8")))
    only_b = [r for r in agreement if r["outcome"] == "only_b"]
    assert only_b == [
        {"scope": "pair", "ruleset_a": ALL_FOUR, "ruleset_b": THREE, "outcome": "only_b",
         "municipalities": "1"}
    ]  # fmt: skip

    areas = _rows(out / "comparison_areas.csv", "area_code")
    assert len(areas) == 15
    assert areas["1880C1010"][f"selected__{ALL_FOUR}"] == "false"
    assert areas["1880C1010"][f"selection_status__{ALL_FOUR}"] == "undetermined_suppressed"
    assert areas["1880C1010"][f"selected__{THREE}"] == "true"
    assert areas["0180C1010"]["selected_under"] == "2"
    assert areas["1280C1030"][f"selection_status__{THREE}"] == "below_minimum_population"
    assert areas["1880C1020"]["area_name"] == "'=HYPERLINK(1)"
    parquet = pq.read_table(out / "comparison_areas.parquet")
    assert parquet.num_rows == 15
    assert parquet.column(f"selected__{THREE}").to_pylist().count(True) == 7


def test_page_shows_rulesets_and_counts_and_loads_nothing(tmp_path: Path) -> None:
    source = _fixture_input(tmp_path)
    result = compare_rulesets(2018, _pair(tmp_path), source, tmp_path / "out", validate=False)
    page = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")

    assert "default-src 'none'" in page and "Content-Security-Policy" in page
    for forbidden in ("<script", "src=", "href=", "url(", "@import", "<link"):
        assert forbidden not in page
    assert page.count("<svg") >= 2
    assert "SYNTHETIC" not in page
    assert "all 4 criteria crossed" in page
    assert "at least 3 of 4 criteria crossed" in page
    assert "Three of four: areas with socioeconomic challenges" in page
    for criterion in result.rulesets[0].ruleset.criteria:
        assert criterion.describe() in page
    assert "<td>Örebro</td>" in page
    # Only municipalities eligible under some ruleset are listed; Östersund is under none.
    assert "Östersund" not in page


def test_markup_in_a_ruleset_is_escaped(tmp_path: Path) -> None:
    source = _fixture_input(tmp_path)
    marked = _ruleset(
        tmp_path,
        "marked",
        **{'description = "Areas': 'description = "<script>alert(1)</script> Areas'},
    )
    rulesets = [marked, _ruleset(tmp_path, ALL_FOUR)]
    compare_rulesets(2018, rulesets, source, tmp_path / "out", validate=False)
    page = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Areas" in page


def test_command_on_the_default_data_with_the_input_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one run with the input gate on: the shipped 2018 ruleset against "3 of 4"."""
    three = (tmp_path / "three.toml").resolve()
    text = paths.ruleset_path(2018).read_text(encoding="utf-8")
    text = text.replace('criteria_required = "all"', "criteria_required = 3")
    three.write_text(text.replace(RULESET_NAME, 'name = "three-of-four-2018"'), encoding="utf-8")
    parser = argparse.ArgumentParser(prog="areascreen")
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "out"
    args = parser.parse_args(
        ["compare", "--year", "2018", "--ruleset", str(paths.ruleset_path(2018)),
         "--ruleset", str(three), "--out", str(out)]
    )  # fmt: skip
    assert args.handler(args) == 0

    printed = capsys.readouterr().out
    alone = screen(paths.DEFAULT_INPUT, paths.ruleset_path(2018), validate=False)
    eligible = alone["eligible_municipalities"].num_rows
    assert eligible == 26  # data/synthetic/README.md: the 2018 rule selects 26 municipalities
    assert f"segregation-grant-2018: {eligible} eligible municipalities, 89 selected areas" in (
        printed
    )
    assert f"Written: {out.resolve() / 'comparison.html'}" in printed
    rows = _rows(out / "comparison.csv", "municipality_code")
    assert len(rows) == alone["municipality_results"].num_rows
    # Made from the synthetic default data: every table says so on every row.
    for name in ("comparison.csv", "comparison_areas.csv", "agreement.csv"):
        with (out / name).open(encoding="utf-8", newline="") as handle:
            notes = {row["data_note"] for row in csv.DictReader(handle)}
        assert notes == {synthetic_note(paths.DEFAULT_INPUT)}
    assert synthetic_note(out / "comparison_areas.parquet") == synthetic_note(paths.DEFAULT_INPUT)
    from_comparison = {c for c, r in rows.items() if r["eligible__segregation-grant-2018"] == "yes"}
    assert from_comparison == set(alone["eligible_municipalities"]["municipality_code"].to_pylist())
    looser = {c for c, r in rows.items() if r["eligible__three-of-four-2018"] == "yes"}
    assert from_comparison < looser
    page = (out / "comparison.html").read_text(encoding="utf-8")
    assert 'class="synthetic"' in page and "not official statistics" in page


def test_another_division_is_compared_by_municipality_only(tmp_path: Path) -> None:
    source = _fixture_input(tmp_path)
    other = _ruleset(tmp_path, "deso-2025", **{'division = "deso2018"': 'division = "deso2025"'})
    same_name = fixture_ruleset(tmp_path / "plain")
    rulesets = [_ruleset(tmp_path, ALL_FOUR), other, same_name]
    result = compare_rulesets(2018, rulesets, source, tmp_path / "out", validate=False)

    labels = [c.label for c in result.rulesets]
    assert labels == [ALL_FOUR, "deso-2025", "segregation-grant-2018"]
    assert result.area_labels == (ALL_FOUR, "segregation-grant-2018")
    assert "selected__deso-2025" not in result.areas.column_names
    assert "eligible__deso-2025" in result.municipalities.column_names
    assert any("deso-2025" in n and "municipality level only" in n for n in result.notes)
    page = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")
    assert "compared at municipality level only" in page
    assert result.count("eligible_under_all") == 3


def test_labels_stay_unique_when_names_repeat(tmp_path: Path) -> None:
    first = fixture_ruleset(tmp_path / "a")
    second = fixture_ruleset(
        tmp_path / "b", **{'criteria_required = "all"': "criteria_required = 3"}
    )
    source = _fixture_input(tmp_path)
    result = compare_rulesets(2018, [first, second], source, tmp_path / "out", validate=False)
    assert [c.label for c in result.rulesets] == [
        "segregation-grant-2018",
        "segregation-grant-2018-2",
    ]
    assert result.count("only_b", "segregation-grant-2018", "segregation-grant-2018-2") == 1


def test_input_is_read_once_per_set_of_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[str, ...]] = []
    real = compare.read_input

    def counting(path, ruleset, **options):  # type: ignore[no-untyped-def]
        reads.append(ruleset.input_columns.all)
        return real(path, ruleset, **options)

    monkeypatch.setattr(compare, "read_input", counting)
    text = fixture_ruleset(tmp_path / "t").read_text(encoding="utf-8")
    blocks = text.split("[[criteria]]")
    turnout = tmp_path / "turnout.toml"
    turnout.write_text(
        blocks[0].replace(RULESET_NAME, 'name = "turnout-only"') + "[[criteria]]" + blocks[4],
        encoding="utf-8",
    )
    source = _fixture_input(tmp_path)
    rulesets = [*_pair(tmp_path), turnout]
    result = compare_rulesets(2018, rulesets, source, tmp_path / "out", validate=False)
    assert len(reads) == 2
    assert "employed" not in reads[1] and "voters" in reads[1]
    # Turnout below 75 %: 0180C1010, 0180C1020, 1880C1010, 1880C1020, 0127C1010, 0127C1020,
    # 0127C1030 and 1280C1020 (74.9 %); 1280C1030 is below the minimum population.
    assert sorted(result.rulesets[2].eligible_codes) == ["0127", "0180", "1280", "1880"]


def _publication(tmp_path: Path) -> Path:
    folder = tmp_path / "reports" / "2018"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"year": 2018}), encoding="utf-8")
    return folder


@pytest.mark.parametrize("where", ["publication", "inside", "reports"])
def test_a_publication_is_never_written_into(tmp_path: Path, where: str) -> None:
    publication = _publication(tmp_path)
    out = {
        "publication": publication,
        "inside": publication / "comparison",
        "reports": publication.parent,
    }[where]
    before = sorted(p.name for p in publication.parent.rglob("*"))
    with pytest.raises(ComparisonError, match="publication") as caught:
        compare_rulesets(2018, _pair(tmp_path), _fixture_input(tmp_path), out, validate=False)
    assert str(out) in str(caught.value)
    assert sorted(p.name for p in publication.parent.rglob("*")) == before


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.write_text("x", encoding="utf-8")
    with pytest.raises(ComparisonError, match="taken: --out must be a folder"):
        compare_rulesets(2018, _pair(tmp_path), _fixture_input(tmp_path), out, validate=False)


def test_wrong_rulesets_are_refused_with_the_file_named(tmp_path: Path) -> None:
    pair = _pair(tmp_path)
    source = _fixture_input(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ComparisonError, match="at least two rulesets"):
        compare_rulesets(2018, pair[:1], source, out, validate=False)
    with pytest.raises(ComparisonError, match="given twice"):
        compare_rulesets(2018, [pair[0], pair[0]], source, out, validate=False)
    later = fixture_ruleset(tmp_path / "later", year=2019)
    with pytest.raises(RulesetError, match="the ruleset is for 2019, but 2018 is screened") as e:
        compare_rulesets(2018, [pair[0], later], source, out, validate=False)
    assert str(later) in str(e.value)
    missing = tmp_path / "missing.toml"
    with pytest.raises(AreascreenError, match=r"missing\.toml"):
        compare_rulesets(2018, [pair[0], missing], source, out, validate=False)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = [", encoding="utf-8")
    with pytest.raises(AreascreenError, match=r"broken\.toml"):
        compare_rulesets(2018, [pair[0], broken], source, out, validate=False)
    assert not out.exists()


def test_a_missing_input_is_named(tmp_path: Path) -> None:
    absent = tmp_path / "absent.parquet"
    with pytest.raises(AreascreenError, match=r"absent\.parquet"):
        compare_rulesets(2018, _pair(tmp_path), absent, tmp_path / "out", validate=False)


def test_page_states_each_municipality_rule(tmp_path: Path) -> None:
    delmos = paths.RULESET_DIR / "2018-delmos-style.toml"
    if not delmos.is_file():
        pytest.skip("the Delmos-style ruleset is not shipped")
    rulesets = [_ruleset(tmp_path, ALL_FOUR), delmos]
    result = compare_rulesets(
        2018, rulesets, _fixture_input(tmp_path), tmp_path / "out", validate=False
    )
    page = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")
    rule = result.rulesets[1].ruleset.municipality
    assert rule.share_standard_deviations == 1.5
    assert "at least 1.5 standard deviations above the municipalities&#39; mean" in page
    assert result.rulesets[1].ruleset.description in page
