"""Project folders: `init`, finding the project, settings, and a wheel usable from any folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from areascreen import paths
from areascreen.cli import main
from areascreen.project import ProjectError, init_project, load_project
from tests.conftest import REPOSITORY_ROOT


@pytest.fixture(autouse=True)
def no_project_in_use():
    """Each test finds its project itself; none leaks into the next."""
    paths.forget_project()
    yield
    paths.forget_project()


def test_init_writes_the_project_layout(tmp_path: Path, capsys):
    assert main(["init", str(tmp_path / "office"), "--lang", "sv"]) == 0
    root = tmp_path / "office"
    for folder in ("rulesets", "sources", "incoming", "deliveries", "reports", "data"):
        assert (root / folder).is_dir(), folder
    shipped = sorted(p.name for p in paths.RULESET_DIR.glob("*.toml"))
    assert sorted(p.name for p in (root / "rulesets").glob("*.toml")) == shipped
    assert "2018.toml" in shipped
    config = tomllib.loads((root / "areascreen.toml").read_text(encoding="utf-8"))
    assert config["run"] == {"language": "sv", "csv_style": "standard"}
    assert config["paths"]["reports"] == "reports"
    ignored = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/deliveries/*" in ignored and "/reports/dry-runs/" in ignored
    sources = (root / "sources" / "2018.toml").read_text(encoding="utf-8")
    assert 'path = "../deliveries/long_term_unemployment_2018.csv"' in sources
    assert '"files/' not in sources
    assert "Project created in" in capsys.readouterr().out


def test_a_copied_ruleset_reads_its_default_input_from_the_project(tmp_path: Path):
    from areascreen.ruleset import load_ruleset

    init_project(tmp_path / "office")
    copy = load_ruleset(tmp_path / "office" / "rulesets" / "2018-election-districts-turnout.toml")
    assert copy.default_input == (tmp_path / "office" / "data" / "riksdag2018_districts.parquet")
    shipped = load_ruleset(paths.RULESET_DIR / "2018-election-districts-turnout.toml")
    assert copy.default_input.read_bytes() == shipped.default_input.read_bytes()


def test_init_never_overwrites_a_file(tmp_path: Path, capsys):
    root = tmp_path / "office"
    root.mkdir()
    (root / "README.md").write_text("ours\n", encoding="utf-8")
    assert main(["init", str(root)]) == 1
    error = capsys.readouterr().err
    assert "README.md" in error and "nothing was written" in error
    assert (root / "README.md").read_text(encoding="utf-8") == "ours\n"
    assert not (root / "areascreen.toml").exists()


def test_the_project_is_found_from_a_subfolder(tmp_path: Path, monkeypatch):
    init_project(tmp_path / "office")
    monkeypatch.chdir(tmp_path / "office" / "incoming")
    project = paths.current_project()
    assert project is not None and project.root == (tmp_path / "office").resolve()
    assert paths.reports_dir() == (tmp_path / "office" / "reports").resolve()
    assert paths.incoming_input() == str(
        (tmp_path / "office" / "incoming" / "area_statistics_{year}.parquet").resolve()
    )


def test_without_a_project_publications_go_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.PROJECT_ENVIRONMENT_VARIABLE, raising=False)
    assert paths.current_project() is None
    assert paths.reports_dir() == tmp_path / "reports"
    assert tmp_path / "reports" == paths.DEFAULT_REPORTS_DIR
    assert paths.ruleset_path(2018) == paths.RULESET_DIR / "2018.toml"


def test_a_project_ruleset_comes_before_the_shipped_one(tmp_path: Path, monkeypatch):
    init_project(tmp_path / "office")
    monkeypatch.chdir(tmp_path / "office")
    own = (tmp_path / "office" / "rulesets" / "2018-relative.toml").resolve()
    assert paths.find_ruleset("2018-relative").resolve() == own
    assert paths.ruleset_path(2018).resolve() == own.with_name("2018.toml")
    (tmp_path / "office" / "rulesets" / "2018-relative.toml").unlink()
    assert paths.find_ruleset("2018-relative") == paths.RULESET_DIR / "2018-relative.toml"
    assert paths.find_ruleset("no-such-ruleset") is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[paths]\nreport = 'out'\n", "unknown key paths.report (allowed: deliveries, incoming"),
        ("[run]\nlanguage = 'de'\n", "run.language = 'de'; choose one of en, sv"),
        ("[run]\ncsv_style = 'excel'\n", "choose one of standard, swedish"),
        ("[output]\nx = 'y'\n", "unknown entry 'output'"),
        ("[paths]\nreports = 3\n", "paths.reports must be a non-empty string"),
        ("[schedule]\ninput = 'areas_{month}.csv'\n", "may hold only the placeholder {year}"),
        ("[paths\n", "cannot read the project config"),
    ],
)
def test_a_bad_config_is_named_with_its_problem(tmp_path: Path, capsys, config, message):
    (tmp_path / "areascreen.toml").write_text(config, encoding="utf-8")
    with pytest.raises(ProjectError) as raised:
        load_project(tmp_path)
    assert message in str(raised.value) and "areascreen.toml" in str(raised.value)
    assert main(["--project", str(tmp_path), "validate", "x.csv"]) == 1
    assert message in capsys.readouterr().err


def test_project_must_name_a_project(tmp_path: Path, capsys):
    assert main(["--project", str(tmp_path), "allocate"]) == 1
    error = capsys.readouterr().err
    assert "not an areascreen project" in error and "areascreen init" in error


def test_paths_of_the_config_are_relative_to_the_project(tmp_path: Path):
    root = tmp_path / "office"
    root.mkdir()
    (root / "areascreen.toml").write_text(
        "[paths]\nreports = '../published'\n[run]\nlanguage = 'sv'\n", encoding="utf-8"
    )
    project = load_project(root)
    assert project.reports == (tmp_path / "published").resolve()
    assert project.incoming == (root / "incoming").resolve()
    assert project.language == "sv"


def test_run_publishes_into_the_project_in_its_language(tmp_path: Path, monkeypatch, capsys):
    init_project(tmp_path / "office", language="sv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    command = ["-q", "--project", str(tmp_path / "office"), "run", "--engine", "plain"]
    assert main(command) == 0
    published = tmp_path / "office" / "reports" / "2018"
    assert (published / "manifest.json").is_file()
    assert f"Published: {published.resolve()}/" in capsys.readouterr().out
    assert 'lang="sv"' in (published / "report.html").read_text(encoding="utf-8")
    assert list(elsewhere.iterdir()) == []


def test_help_says_where_publications_go_without_a_project(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "without a project, ./reports of the working directory" in text


# --- The wheel, installed into a fresh virtual environment ------------------------------------

COPIED_IGNORES = shutil.ignore_patterns(
    ".git", ".venv", "venv", "reports", "build", "dist", "__pycache__", ".*cache*", ".hypothesis",
    ".prefect", "*.egg-info",
)  # fmt: skip
DELIVERY = Path("data") / "sources" / "files" / "delivery_2018.csv"


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of the working tree, with a planted register delivery that must stay out."""
    tree = tmp_path / "tree"
    shutil.copytree(REPOSITORY_ROOT, tree, ignore=COPIED_IGNORES)
    (tree / DELIVERY).parent.mkdir(parents=True, exist_ok=True)
    (tree / DELIVERY).write_text("deso,persons\n0114A0010,12\n", encoding="utf-8")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
    )
    (wheel,) = wheels.glob("areascreen-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv holding only the wheel; the dependencies are read from this venv's site."""
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(target)}))
    # A plain path line: the dependencies, without this checkout's editable areascreen.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install",
         "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
    )  # fmt: skip
    return target


def tree_state(folder: Path) -> dict[str, str]:
    """Every file under a folder with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_an_installed_wheel_works_from_any_folder_and_writes_only_to_the_project(tmp_path):
    wheel = build_wheel(tmp_path)
    packed = zipfile.ZipFile(wheel).namelist()
    assert "areascreen/_resources/data/rulesets/2018.toml" in packed
    assert not [name for name in packed if "sources/files" in name], "a delivery was packed"
    environment = fresh_venv(tmp_path, wheel)
    before = tree_state(environment)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}
    env.pop(paths.PROJECT_ENVIRONMENT_VARIABLE, None)
    areascreen = str(environment / "bin" / "areascreen")

    def run(*args: str, cwd: Path) -> str:
        done = subprocess.run(
            [areascreen, "-q", *args], cwd=cwd, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    work = tmp_path / "work"
    work.mkdir()
    run("init", "office", cwd=work)
    office = work / "office"
    shutil.copyfile(
        REPOSITORY_ROOT / "data" / "synthetic" / "synthetic_areas_2018.parquet",
        office / "incoming" / "area_statistics_2018.parquet",
    )
    printed = run("run", "--engine", "plain", cwd=office / "incoming")
    manifest = json.loads((office / "reports" / "2018" / "manifest.json").read_text())
    assert manifest["ruleset"]["path"] == str((office / "rulesets" / "2018.toml").resolve())
    assert "_resources" in manifest["input"]["path"]  # the packaged demo data, read only
    assert "eligible municipalities for 2018" in printed

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run("--project", str(office), "compare", "--year", "2018", "--ruleset", "2018",
        "--ruleset", "2018-relative", "--out", "comparison", cwd=elsewhere)  # fmt: skip
    assert (elsewhere / "comparison" / "comparison.html").is_file()
    checked = run("--project", str(office), "validate",
                  str(office / "incoming" / "area_statistics_2018.parquet"), cwd=elsewhere)  # fmt: skip
    assert "area_statistics_2018.parquet" in checked and "critical expectations passed" in checked
    assert sorted(p.name for p in elsewhere.iterdir()) == ["comparison"]
    assert tree_state(environment) == before, "something was written inside the venv"
