"""The benchmark keeps working: it runs at 10,000 areas, the pipeline and both yardsticks agree,
the mixed-ruleset pipeline runs, the tables come out.

No timing is asserted: the figures depend on the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.__main__ import main, parse_sizes
from benchmarks.agreement import Disagreement, check_agreement
from benchmarks.contenders import ScreeningSummary
from benchmarks.datasets import validation_layout
from benchmarks.report import BEGIN, END, assemble

SUMMARY = ScreeningSummary(
    selected_codes=["0180C1010", "0180C1011"],
    eligible=[("0180", 2, 3100)],
)


@pytest.mark.slow
def test_benchmark_runs_at_ten_thousand_areas(tmp_path: Path, capsys) -> None:
    out = tmp_path / "benchmarks.md"
    status = main(
        [
            "--sizes",
            "10000",
            "--skip-cli",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "results agree: pipeline, duckdb, pandas" in printed.err
    text = out.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "| 10,000 |" in text
    assert "agree (pipeline, duckdb, pandas)" in text
    assert "| validation ≥ 1,000,000 rows/s |" in text
    assert "| --- |" in printed.out
    assert "pipeline_mixed:" in printed.err
    assert "Pipeline on a ruleset of three threshold kinds" in text


def test_a_disagreement_fails_loudly() -> None:
    other = ScreeningSummary(
        selected_codes=["0180C1010"],
        eligible=[("0180", 1, 1500)],
    )
    check_agreement({"pipeline": SUMMARY, "duckdb": SUMMARY}, "test")
    with pytest.raises(Disagreement, match="0180C1011"):
        check_agreement({"pipeline": SUMMARY, "pandas": other}, "test")


def test_rewriting_keeps_the_hand_written_parts() -> None:
    first = assemble(None, "figures 1")
    edited = first.replace("# Benchmarks", "# Benchmarks\n\nAn introduction.") + "\nAnalysis.\n"
    second = assemble(edited, "figures 2")
    assert "An introduction." in second and "Analysis." in second
    assert "figures 2" in second and "figures 1" not in second


def test_sizes_and_validation_layout() -> None:
    assert parse_sizes("10k,1M,10_000") == [10_000, 1_000_000]
    assert validation_layout(10_000).years == 1
    layout = validation_layout(10_000_000)
    assert layout.years * layout.areas >= 10_000_000
    assert layout.years <= 101 and layout.areas <= 99_010


def test_the_end_to_end_target_is_the_run_over_an_import_only_process() -> None:
    from benchmarks.endtoend import EndToEnd, import_only_command
    from benchmarks.measure import OK, Measurement
    from benchmarks.report import end_to_end_table
    from benchmarks.results import _end_to_end_target

    def cold(*walls: float) -> list[Measurement]:
        return [Measurement(OK, wall, 200_000_000) for wall in walls]

    within = EndToEnd(runs=cold(5.9, 6.0, 9.0), imports=cold(4.0, 4.1, 3.9))
    target = _end_to_end_target(within)
    assert target.met is True
    assert target.measured.startswith("1.50× (6.00 s against 4.00 s")
    beyond = EndToEnd(runs=cold(6.1), imports=cold(4.0))
    assert _end_to_end_target(beyond).met is False
    assert _end_to_end_target(EndToEnd(runs=cold(6.0))).met is None
    text = end_to_end_table(within)
    assert "| imports only | 3 | 3.90 | 4.00 | 4.10 |" in text
    assert "1.50× the import-only process" in text
    assert "great_expectations" in import_only_command()[-1]
