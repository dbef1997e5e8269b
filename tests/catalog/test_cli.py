"""The catalog commands: runs, show, diff, projects, lists, report; catalog found through twin.toml
in the current folder, --project or --catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cim_twin.catalog import Catalog
from cim_twin.cli.main import main

from .conftest import write_year


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "twin.toml").write_text(
        '[project]\nname = "示例城区"\ncatalog = "data/runs.gpkg"\noutput = "out"\n', encoding="utf-8"
    )
    with Catalog.open(tmp_path / "data" / "runs.gpkg") as cat:
        for year in (2023, 2024, 2025):
            write_year(cat, year)
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_runs_show_diff_through_the_project_file(project_dir: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(project_dir)
    runs = _json(capsys, ["runs", "--json"])
    assert [r["id"] for r in runs] == ["run-2023", "run-2024", "run-2025"]
    assert runs[0]["findings"] == 9
    shown = _json(capsys, ["show", "2024", "--json"])
    assert shown["run"]["id"] == "run-2024" and shown["findings"] == 6
    assert shown["by_indicator"]["T-OLD-HOUSING"] == {"medium": 2, "high": 1}
    diff = _json(capsys, ["diff", "2023", "2024", "--json"])
    assert diff["counts"]["resolved"] == 4 and diff["counts"]["new"] == 1
    assert diff["by_indicator"]["T-WATERLOG"]["new"] == 1 and diff["map_update"] is None
    assert main(["diff", "2023", "2024"]) == 0
    text = capsys.readouterr().out
    assert "run-2023 -> run-2024" in text and "T-OLD-HOUSING" in text


def test_project_commands_and_lists(project_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = ["--project", str(project_dir)]
    generated = _json(capsys, ["projects", "generate", "2023", "--json", *p])
    ids = [x["project_id"] for x in generated["projects"]]
    assert ids[0] == "P2023-D01-B01-01" and len(ids) == 3
    assert _json(capsys, ["projects", "set-status", "P2023-D01-B01-01", "approved", "--owner", "住建局", "--json", *p]) == {
        "changed": ["P2023-D01-B01-01"]}
    listed = _json(capsys, ["projects", "list", "--status", "approved", "--json", *p])
    assert [x["project_id"] for x in listed] == ["P2023-D01-B01-01"] and listed[0]["owner"] == "住建局"
    exported = tmp_path / "edit.csv"
    assert main(["projects", "export", str(exported), *p]) == 0
    capsys.readouterr()
    lines = exported.read_text(encoding="utf-8-sig").splitlines()
    lines = [ln.replace(",候选,", ",已完成,") if ln.startswith("P2023-D01-B02-01") else ln for ln in lines]
    exported.write_text("\n".join(lines), encoding="utf-8-sig")
    assert _json(capsys, ["projects", "import", str(exported), "--json", *p])["changed"] == ["P2023-D01-B02-01"]
    evaluated = _json(capsys, ["projects", "evaluate", "2024", "--json", *p])
    assert {e["project_id"]: e["resolved"] + e["verified"] for e in evaluated}["P2023-D01-B01-01"] == 4
    files = _json(capsys, ["lists", "2024", "--out", str(tmp_path / "lists"), "--json", *p])["files"]
    assert any(f.endswith("problem_list_D01.xlsx") for f in files)
    assert main(["report", "2025", *p]) == 0
    out = capsys.readouterr().out.split()
    assert out[0].endswith("out/report_2025.html") and Path(out[0]).is_file() and Path(out[1]).is_file()


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert "no twin.toml" in err and "--catalog" in err and "Traceback" not in err
    assert main(["runs", "--catalog", str(tmp_path / "none.gpkg")]) == 2
    assert "catalog not found" in capsys.readouterr().err
    with Catalog.open(tmp_path / "c.gpkg") as cat:
        write_year(cat, 2023)
    assert main(["show", "1999", "--catalog", str(tmp_path / "c.gpkg")]) == 2
    assert "no run '1999'" in capsys.readouterr().err
    assert main(["projects", "set-status", "P-X", "done", "--catalog", str(tmp_path / "c.gpkg")]) == 2
    assert "no project 'P-X'" in capsys.readouterr().err


@pytest.mark.slow
def test_end_to_end_through_check(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """generate three epochs -> check each -> runs, diff with map update, projects, report."""
    city = tmp_path / "city"
    if main(["generate", str(city), "--buildings", "60", "--years", "2023,2024,2025", "--quiet"]) != 0:
        pytest.skip("the example generator is not available")
    capsys.readouterr()
    monkeypatch.chdir(city)
    for year in ("2023", "2024", "2025"):
        assert main(["check", "twin.toml", "--period", year, "--json"]) in (0, 1)
        capsys.readouterr()
    runs = _json(capsys, ["runs", "--json"])
    assert [r["period"] for r in runs] == ["2023", "2024", "2025"] and all(r["findings"] > 0 for r in runs)
    with Catalog.open(city / "catalog.gpkg", readonly=True) as cat:
        assert cat.check_integrity() == []
        assert len(cat.findings("2025")) == runs[2]["findings"]
    diff = _json(capsys, ["diff", "2023", "2024", "--json"])
    total_a = diff["counts"]["persisting"] + diff["counts"]["worsened"] + diff["counts"]["improved"] + diff["counts"]["resolved"]
    assert total_a == runs[0]["findings"]
    assert diff["map_update"] is not None and diff["map_update"]["epoch_b"] == "2024"
    generated = _json(capsys, ["projects", "generate", "2023", "--json"])
    assert generated["scene"] is True and generated["projects"]
    with Catalog.open(city / "catalog.gpkg", readonly=True) as cat:
        # a building in the areas of several projects gets one and the same action
        assert cat.conn.execute("SELECT count(*) FROM (SELECT building_id FROM building_actions "
                                "GROUP BY building_id HAVING count(DISTINCT action) > 1)").fetchone()[0] == 0
        assert cat.conn.execute("SELECT count(DISTINCT action) FROM building_actions").fetchone()[0] >= 2
    assert main(["projects", "evaluate", "2024"]) == 0
    assert main(["report", "latest"]) == 0
    assert (city / "export" / "report_2025.html").is_file()


def test_catalog_option_wins_over_a_broken_project_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    (tmp_path / "twin.toml").write_text("[project\nname = ", encoding="utf-8")
    with Catalog.open(tmp_path / "c.gpkg") as cat:
        write_year(cat, 2023)
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 2
    assert "twin.toml" in capsys.readouterr().err
    assert [r["id"] for r in _json(capsys, ["runs", "--json", "--catalog", "c.gpkg"])] == ["run-2023"]


def test_delete_a_run(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = ["--project", str(project_dir)]
    assert main(["runs", "--delete", "2024", *p]) == 2
    assert "without --yes" in capsys.readouterr().err
    runs = _json(capsys, ["runs", "--delete", "2024", "--yes", "--json", *p])
    assert [r["id"] for r in runs] == ["run-2023", "run-2025"]
    with Catalog.open(project_dir / "data" / "runs.gpkg", readonly=True) as cat:
        assert cat.check_integrity() == []
        assert cat.conn.execute("SELECT count(*) FROM findings WHERE run_id = 'run-2024'").fetchone()[0] == 0


def test_a_misspelled_projects_setting_is_named(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = project_dir / "twin.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[projects]\nradius = 80\n", encoding="utf-8")
    assert main(["projects", "generate", "2023", "--project", str(project_dir)]) == 2
    err = capsys.readouterr().err
    assert "[projects] radius: unknown key" in err and "radius_m" in err and "Traceback" not in err
