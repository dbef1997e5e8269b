"""The closed loop over three years: findings -> projects -> evaluation -> verified; 留改拆 rules;
statuses edited from the CLI functions and by re-importing an edited XLSX/CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import shapely

from cim_twin.catalog import Catalog
from cim_twin.catalog.actions import BuildingFacts, facts_from_object, recommend, rules_from_config
from cim_twin.catalog.lists import export_projects, import_projects
from cim_twin.catalog.projects import (
    evaluate_projects,
    generate_projects,
    list_projects,
    measure_for,
    set_project_status,
)
from cim_twin.errors import ConfigError

from .conftest import SPECS, finding, run_of, scene_of, write_year


def _statuses(cat: Catalog, run: str) -> dict[str, str]:
    return dict(cat.conn.execute("SELECT key, status FROM findings WHERE run_id = ?", (run,)))


def test_generate_groups_nearby_findings_by_block(catalog: Catalog) -> None:
    write_year(catalog, 2023)
    projects = generate_projects(catalog, "2023")
    by_id = {p.id: p for p in projects}
    # one block and one category make a group: park and toilet gap are two projects of block B02
    assert set(by_id) == {"P2023-D01-B01-01", "P2023-D01-B02-01", "P2023-D01-B02-02"}
    b01, b02 = by_id["P2023-D01-B01-01"], by_id["P2023-D01-B02-01"]
    assert b01.findings_count == 7 and b02.findings_count == 1
    toilet = by_id["P2023-D01-B02-02"]
    assert (toilet.category, toilet.measure_zh, toilet.findings_count) == ("整洁有序", "公共厕所建设", 1)
    assert b01.category == "安全韧性" and b01.measure_zh == "老旧小区改造"
    assert [m["zh"] for m in b01.measures] == ["老旧小区改造", "危房治理与结构加固"]
    assert b02.category == "生态宜居" and b02.measure_zh == "口袋公园与绿地建设"
    assert projects[0].id == "P2023-D01-B01-01"  # highest priority first
    # footprint covers every finding of the project and is one polygon
    for p in projects:
        assert p.footprint.geom_type == "Polygon"
        arrays = catalog.finding_arrays("2023")
        mine = [i for i, f in enumerate(arrays.id) if f in p.finding_ids]
        assert shapely.contains_xy(p.footprint, arrays.x[mine], arrays.y[mine]).all()
    # without the model, 留改拆 comes from the findings' evidence
    actions = {a.building_id: a.action for a in b01.actions}
    assert actions == {"b01": "renovate", "b02": "retain", "b03": "demolish", "b04": "renovate", "b05": "renovate",
                       "b06": "renovate"}
    assert set(_statuses(catalog, "run-2023").values()) == {"planned"}
    # regenerating replaces the candidates instead of adding more
    again = generate_projects(catalog, "2023")
    assert {p.id for p in again} == set(by_id) and len(list_projects(catalog)) == 3


def test_generate_with_the_scene_covers_every_building_in_the_area(catalog: Catalog) -> None:
    write_year(catalog, 2023)
    projects = generate_projects(catalog, "2023", scene=scene_of(2023))
    b01 = next(p for p in projects if p.id == "P2023-D01-B01-01")
    actions = {a.building_id: a for a in b01.actions}
    assert set(actions) == {"b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08"}
    assert actions["b08"].action == "demolish" and "illegal" in actions["b08"].reason_en
    assert actions["b07"].action == "retain" and actions["b07"].rule == "default"
    assert actions["b02"].action == "retain" and actions["b02"].reason_zh.startswith("受保护")
    assert actions["b03"].action == "demolish" and actions["b03"].facts["danger_level"] == "D"
    stored = catalog.conn.execute(
        "SELECT action, action_zh, reason_zh FROM building_actions WHERE building_id = 'b03'").fetchone()
    assert stored[:2] == ("demolish", "拆") and "D级危房" in stored[2]


def test_three_year_loop(catalog: Catalog) -> None:
    write_year(catalog, 2023)
    generate_projects(catalog, "2023")
    set_project_status(catalog, "P2023-D01-B01-01", "approved")
    set_project_status(catalog, "P2023-D01-B01-01", "实施中", owner="区住建局")
    assert _statuses(catalog, "run-2023")["T-OLD-HOUSING:b01"] == "in_progress"
    assert _statuses(catalog, "run-2023")["T-PARK-COVER:D01-B02-C01"] == "planned"

    write_year(catalog, 2024)
    evaluations = {e.project_id: e for e in evaluate_projects(catalog, "2024")}
    b01 = evaluations["P2023-D01-B01-01"]
    assert (b01.findings_total, b01.resolved, b01.persisting, b01.verified) == (7, 4, 3, 0)
    assert b01.effect["T-OLD-HOUSING"]["findings_before"] == 6
    assert b01.effect["T-OLD-HOUSING"]["findings_after_in_area"] == 3
    assert b01.effect["T-OLD-HOUSING"]["units"]["D01-B01"]["trend"] == "improved"
    b02 = evaluations["P2023-D01-B02-01"]
    assert (b02.resolved, b02.persisting) == (0, 1)
    assert b02.effect["T-PARK-COVER"]["units"]["D01-B02-C01"]["change"] == pytest.approx(0.1)
    old = _statuses(catalog, "run-2023")
    assert old["T-OLD-HOUSING:b01"] == old["T-DANGER:b03"] == "resolved"
    assert old["T-OLD-HOUSING:b04"] == "in_progress"
    new = _statuses(catalog, "run-2024")
    # the persisting findings of 2024 (b06 under its new id too) are carried by the project
    assert new["T-OLD-HOUSING:b04"] == new["T-OLD-HOUSING:b06n"] == "in_progress"
    assert new["T-WATERLOG:W17"] == "open"
    assert evaluate_projects(catalog, "2024")[0].to_dict() == b01.to_dict()  # idempotent

    later = generate_projects(catalog, "2024")  # only the new waterlogging point is left open
    assert [(p.id, p.findings_count, p.measure_zh) for p in later] == [("P2024-D01-B02-01", 1, "排水防涝设施改造")]

    set_project_status(catalog, "P2023-D01-B01-01", "done")
    write_year(catalog, 2025)
    evaluations = {e.project_id: e for e in evaluate_projects(catalog, "2025")}
    b01 = evaluations["P2023-D01-B01-01"]
    assert (b01.verified, b01.resolved, b01.persisting) == (7, 0, 0)
    assert (evaluations["P2023-D01-B02-01"].resolved, evaluations["P2023-D01-B02-01"].persisting) == (1, 0)
    assert evaluations["P2023-D01-B02-02"].persisting == 1  # the toilet gap is still there
    water = evaluations["P2024-D01-B02-01"]
    assert water.resolved == 1 and water.share_resolved == 1.0
    old = _statuses(catalog, "run-2023")
    assert old["T-OLD-HOUSING:b01"] == "verified" and old["T-OLD-HOUSING:b05"] == "verified"
    assert old["T-PARK-COVER:D01-B02-C01"] == "resolved" and old["T-TOILET:D01-B02"] == "planned"
    assert catalog.check_integrity() == []


def test_status_round_trip_through_xlsx_and_csv(catalog: Catalog, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    write_year(catalog, 2023)
    generate_projects(catalog, "2023")
    xlsx = export_projects(catalog, tmp_path / "projects.xlsx")
    wb = load_workbook(xlsx)
    ws = wb["项目库"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["项目编号", "项目名称", "状态", "负责单位", "备注"]
    # the status column offers its values as a drop-down over every project row
    listed = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert listed["C2:C4"] == '"候选,已批准,实施中,已完成,已取消"'
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "P2023-D01-B02-01":
            row[2].value = "已批准"
            row[3].value = "市园林局"
    wb.save(xlsx)
    assert import_projects(catalog, xlsx) == {"changed": ["P2023-D01-B02-01"], "unchanged": 2}
    p = next(p for p in list_projects(catalog) if p.id == "P2023-D01-B02-01")
    assert (p.status, p.owner) == ("approved", "市园林局")

    path = export_projects(catalog, tmp_path / "projects.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    for row in rows[1:]:
        if row[0] == "P2023-D01-B01-01":
            row[2] = "实施中"
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8-sig")
    assert import_projects(catalog, path)["changed"] == ["P2023-D01-B01-01"]
    assert _statuses(catalog, "run-2023")["T-DANGER:b03"] == "in_progress"

    rows[1][2] = "someday"
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8-sig")
    with pytest.raises(ConfigError, match=r"projects.csv:2: unknown project status 'someday'"):
        import_projects(catalog, path)
    rows[1][2], rows[1][0] = "候选", "P-NOPE"
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8-sig")
    with pytest.raises(ConfigError, match="unknown project 'P-NOPE'"):
        import_projects(catalog, path)


def test_cancelled_project_frees_its_findings(catalog: Catalog) -> None:
    write_year(catalog, 2023)
    generate_projects(catalog, "2023")
    set_project_status(catalog, "P2023-D01-B02-01", "cancelled")
    st = dict(catalog.conn.execute("SELECT key, project_id FROM findings WHERE run_id = 'run-2023'"))
    assert st["T-PARK-COVER:D01-B02-C01"] is None
    assert _statuses(catalog, "run-2023")["T-PARK-COVER:D01-B02-C01"] == "open"


def test_measure_table() -> None:
    spec = {s.code: s for s in SPECS}
    assert measure_for("N-PUBLIC-TOILET")[0] == "公共厕所建设"
    assert measure_for("L-ELDERLY-CARE-COVER")[0] == "社区养老服务站建设"
    assert measure_for("T-WATERLOG", spec["T-WATERLOG"])[0] == "排水防涝设施改造"
    assert measure_for("X-FIRE-ACCESS")[0] == "消防通道与设施整治"
    assert measure_for("X-UNKNOWN", spec["T-PARK-COVER"].model_copy(update={"code": "X"}))[0] == "口袋公园与绿地建设"
    assert measure_for("T-TOILET", None, {"T-TOILET": {"zh": "智慧公厕", "en": "smart toilet"}}) == ("智慧公厕", "smart toilet")


def test_action_rules_configurable() -> None:
    scene = scene_of(2023)
    facts = facts_from_object(scene["b05"], ["T-OLD-HOUSING"], ["high"])
    assert facts.attributes["danger_level"] == "C" and facts.max_severity == "high"
    assert recommend(facts).action == "renovate"
    rules = rules_from_config({"rules": [
        {"name": "c_is_bad", "action": "demolish", "when": ["danger_level in C,D"], "reason_zh": "C/D级危房"},
        {"name": "severe", "action": "renovate", "when": "severity >= high"},
    ]})
    assert recommend(facts, rules).action == "demolish"
    assert recommend(BuildingFacts("x", {}, ["A"], "critical"), rules).rule == "severe"
    assert recommend(BuildingFacts("y", {}, [], None), rules).rule == "default"  # catch-all kept
    with pytest.raises(ConfigError, match="unknown action"):
        rules_from_config({"rules": [{"action": "paint"}]})


def test_docs_example_settings_work(tmp_path: Path) -> None:
    """The [actions] and [projects] example of docs/catalog.md loads and does what it says."""
    import re
    import tomllib

    from cim_twin.catalog.locate import locate

    docs = (Path(__file__).resolve().parents[2] / "docs" / "catalog.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[actions\].*?)```", docs, flags=re.S)
    assert block is not None
    settings = tomllib.loads(block.group(1))
    rules = rules_from_config(settings["actions"])
    assert [r.name for r in rules] == ["protected", "unsafe", "old", "default"]
    assert recommend(BuildingFacts("x", {"danger_level": "C"}), rules).action == "demolish"
    assert measure_for("N-PUBLIC-TOILET", None, settings["projects"]["measures"])[0] == "智慧公厕建设"
    (tmp_path / "twin.toml").write_text('[project]\nname = "x"\n' + block.group(1), encoding="utf-8")
    ctx = locate(project=tmp_path)
    assert ctx.catalog_path == (tmp_path / "catalog.gpkg").resolve()
    assert ctx.section("projects")["radius_m"] == 80


def test_a_wide_cluster_is_split_by_community(catalog: Catalog) -> None:
    # A chain of park findings 60 m apart across two communities of one block: one contiguous
    # cluster 570 m wide, too wide for one project.
    chain = [finding("T-PARK-COVER", f"p{k}", 2023, 60.0 * k, 0.0, unit_id=f"D01-B01-C0{1 if k < 5 else 2}")
             for k in range(10)]  # fmt: skip
    catalog.write_run(run_of(2023), chain, [])
    one = generate_projects(catalog, "2023", max_extent_m=1000.0)
    assert [p.findings_count for p in one] == [10] and one[0].unit_id == "D01-B01"
    split = generate_projects(catalog, "2023", max_extent_m=300.0, unit_names={"D01-B01": "中山街区", "D01-B01-C02": "府前社区"})
    assert sorted(p.findings_count for p in split) == [5, 5]
    assert {p.unit_id for p in split} == {"D01-B01-C01", "D01-B01-C02"}
    assert any(p.name.startswith("中山街区府前社区 ") for p in split)
    assert len(list_projects(catalog)) == 2  # the wide candidate was replaced


def test_service_findings_alone_do_not_call_for_renovation() -> None:
    from cim_twin.catalog.actions import concerns_building, facts_from_evidence

    park, old = SPECS[2], SPECS[0]
    assert not concerns_building(park) and concerns_building(old) and concerns_building(None)
    # a new house short of a park within reach: the area lacks a park, the house stays
    facts = facts_from_evidence("h1", [{"year_built": 2015}], ["T-PARK-COVER"], ["high"], [False])
    kept = recommend(facts)
    assert kept.action == "retain" and kept.facts["findings"] == ["T-PARK-COVER"] and kept.facts["own_findings"] == []
    assert facts.value("all_findings") == 1 and facts.value("findings") == 0 and facts.max_severity is None
    own = recommend(facts_from_evidence("h2", [{"year_built": 2015}], ["T-OLD-HOUSING"], ["medium"], [True]))
    assert own.action == "renovate" and "findings >= 1" in own.reason_en


def test_buildings_stored_with_the_run_stand_in_for_the_model(catalog: Catalog) -> None:
    from cim_twin.catalog.buildings import BuildingTable, building_rows
    from cim_twin.catalog.epochs import compare_epochs

    from .conftest import YEARS

    for year in (2023, 2024):
        run, findings, measurements = YEARS[year]()
        catalog.write_run(run, findings, measurements, specs=SPECS, buildings=building_rows(scene_of(year)))
    rows = catalog.run_buildings("2023")
    assert [r[0] for r in rows] == [f"b0{k}" for k in range(1, 10)]
    stored = BuildingTable.from_rows(rows)
    assert stored.footprint("b01").equals(scene_of(2023)["b01"].footprint)
    # the same projects and 留改拆 as with the model itself
    from_model = {p.id: {a.building_id: (a.action, a.reason_en) for a in p.actions}
                  for p in generate_projects(catalog, "2023", scene=scene_of(2023))}  # fmt: skip
    from_store = {p.id: {a.building_id: (a.action, a.reason_en) for a in p.actions}
                  for p in generate_projects(catalog, "2023", buildings=stored)}  # fmt: skip
    assert from_store == from_model and from_store["P2023-D01-B01-01"]["b08"][0] == "demolish"
    # and the same map update
    by_model = compare_epochs(scene_of(2023), scene_of(2024)).counts()
    by_store = compare_epochs(stored.states(), BuildingTable.from_rows(catalog.run_buildings("2024")).states()).counts()
    assert by_store == by_model and by_store["removed"] + by_store.get("changed", 0) > 0
    catalog.delete_run("2023")
    assert catalog.run_buildings("2024") and not catalog.conn.execute(
        "SELECT count(*) FROM run_buildings WHERE run_id = 'run-2023'").fetchone()[0]


def test_evaluation_reads_each_runs_measurements_once(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    write_year(catalog, 2023)
    generate_projects(catalog, "2023")
    write_year(catalog, 2024)
    calls: list[str] = []
    original = Catalog.measurements

    def counted(self: Catalog, run_id: str) -> object:
        calls.append(run_id)
        return original(self, run_id)

    monkeypatch.setattr(Catalog, "measurements", counted)
    assert len(evaluate_projects(catalog, "2024")) == 3
    # once for the new run, once for the projects' origin run, not once per project
    assert sorted(calls) == ["run-2023", "run-2024"]


def test_a_project_without_a_dominant_measure_is_named_after_its_category(catalog: Catalog) -> None:
    mixed = [finding("T-OLD-HOUSING", "h1", 2023, 0, 0), finding("T-DANGER", "h2", 2023, 20, 0)]
    catalog.write_run(run_of(2023), mixed, [], specs=SPECS)
    (project,) = generate_projects(catalog, "2023", unit_names={"D01-B01": "中山街区"})
    assert project.name.endswith(" 安全隐患整治项目")
    assert [m["zh"] for m in project.measures] == ["老旧小区改造", "危房治理与结构加固"]
