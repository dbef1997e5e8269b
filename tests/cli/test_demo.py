"""``cim-twin demo`` leaves a complete project folder in which the other commands work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cim_twin.cli.main import main


@pytest.mark.slow
def test_demo_runs_the_whole_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--buildings", "150"])
    printed = capsys.readouterr().out
    assert code == 0, printed

    # the project folder a new user finds
    for name in ("twin.toml", "catalog.gpkg", "city_2023.gml", "city_2025.gml", "report.html", "report.md", "demo.log"):
        assert (out / name).is_file(), name
    assert list((out / "lists").glob("problem_list*.xlsx")) and list((out / "lists").glob("task_list*.csv"))
    manifest = json.loads((out / "export" / "cim" / "layers.json").read_text(encoding="utf-8"))
    versions = {(layer["kind"], layer.get("format_version")) for layer in manifest["layers"]}
    assert ("buildings", "1.1") in versions and ("buildings", "1.0") in versions
    assert any(kind == "problems" for kind, _ in versions)
    shots = sorted(p.name for p in (out / "screenshots").glob("*.png"))
    assert shots == ["old-housing.png", "overview.png", "worst-problem.png"]
    assert all((out / "screenshots" / s).stat().st_size > 10_000 for s in shots)

    # the summary says what was found and where to look
    assert "findings per year" in printed and "2023:" in printed and "2025:" in printed
    assert "layers.json" in printed and "report.html" in printed

    # three runs in the catalog, and the next commands a user tries work in that folder
    env = {**os.environ, "CIM_TWIN_NO_PROGRESS": "1"}
    runs = subprocess.run([sys.executable, "-m", "cim_twin", "runs", "--json"], cwd=out, env=env,
                          capture_output=True, text=True, check=True)
    periods = sorted(r["period"] for r in json.loads(runs.stdout))
    assert periods == ["2023", "2024", "2025"]
    diff = subprocess.run([sys.executable, "-m", "cim_twin", "diff", "2023", "2025", "--json"], cwd=out, env=env,
                          capture_output=True, text=True)
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["counts"]["resolved"] > 0


def test_demo_refuses_a_folder_that_is_not_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a cim-twin example project" in err and "Traceback" not in err
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_demo_never_touches_a_users_own_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder with a twin.toml the generator did not write is someone's project: the demo refuses
    before removing anything of it."""
    (tmp_path / "twin.toml").write_text('[project]\nname = "my city"\n', encoding="utf-8")
    (tmp_path / "catalog.gpkg").write_bytes(b"my runs")
    (tmp_path / "export").mkdir()
    assert main(["demo", "--out", str(tmp_path), "--buildings", "20", "--no-screenshots"]) == 2
    err = capsys.readouterr().err
    assert "did not write" in err and "Traceback" not in err
    assert (tmp_path / "catalog.gpkg").read_bytes() == b"my runs"
    assert (tmp_path / "export").is_dir()
    assert (tmp_path / "twin.toml").read_text(encoding="utf-8").startswith("[project]")
