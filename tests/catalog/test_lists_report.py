"""Problem and task lists (XLSX, CSV) and the run report (HTML, Markdown, SVG charts)."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

from openpyxl import load_workbook

from cim_twin.catalog import Catalog
from cim_twin.catalog.lists import problem_rows, write_lists
from cim_twin.catalog.projects import evaluate_projects, generate_projects, set_project_status
from cim_twin.catalog.report import build_report, write_report
from cim_twin.catalog.units import UnitDirectory

from .conftest import scene_of, write_year


def _loop(catalog: Catalog) -> Catalog:
    write_year(catalog, 2023)
    generate_projects(catalog, "2023", scene=scene_of(2023))
    set_project_status(catalog, "P2023-D01-B01-01", "in_progress")
    write_year(catalog, 2024)
    evaluate_projects(catalog, "2024")
    set_project_status(catalog, "P2023-D01-B01-01", "done")
    write_year(catalog, 2025)
    evaluate_projects(catalog, "2025")
    return catalog


def test_problem_and_task_lists(catalog: Catalog, tmp_path: Path) -> None:
    _loop(catalog)
    units = UnitDirectory(names={"D01": "延平区", "D01-B01": "老城街区", "D01-B01-C01": "水南社区"},
                          counties={"D01": "延平区"})
    files = write_lists(catalog, "2023", tmp_path, units=units)
    names = sorted(f.name for f in files)
    assert names == sorted(["problem_list.xlsx", "task_list.xlsx", "problem_list.csv", "task_list.csv",
                            "building_actions.csv", "problem_list_D01.xlsx", "task_list_D01.xlsx",
                            "problem_list_D01.csv", "task_list_D01.csv", "building_actions_D01.csv"])
    wb = load_workbook(tmp_path / "problem_list.xlsx")
    assert wb.sheetnames == ["汇总", "生态宜居", "安全韧性", "整洁有序"]
    ws = wb["安全韧性"]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["序号", "问题编号", "指标代码", "指标名称", "类别", "严重程度"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    assert len(rows) == 7 and rows[0]["严重程度"] == "严重" and rows[0]["指标名称"] == "危房"
    assert rows[0]["街区"] == "老城街区" and rows[0]["社区"] == "水南社区" and rows[0]["区县"] == "延平区"
    assert {r["状态"] for r in rows} == {"已核验"}  # fixed by the project and still gone a year later
    summary = {r[0].value: r[1].value for r in wb["汇总"].iter_rows(min_row=2)}
    assert summary == {"生态宜居": 1, "安全韧性": 7, "整洁有序": 1, "合计": 9}

    tasks = load_workbook(tmp_path / "task_list.xlsx")
    assert tasks.sheetnames[-1] == "留改拆"
    acts = tasks["留改拆"]
    head = [c.value for c in acts[1]]
    table = [dict(zip(head, (c.value for c in r), strict=True)) for r in acts.iter_rows(min_row=2)]
    by_building = {r["建筑编号"]: r for r in table}
    assert by_building["b03"]["留改拆"] == "拆" and by_building["b02"]["留改拆"] == "留"
    assert by_building["b01"]["留改拆"] == "改" and "年" in by_building["b01"]["理由"]
    assert [r["留改拆"] for r in table][:2] == ["拆", "拆"]  # demolitions first
    project_sheet = tasks["安全韧性"]
    ph = [c.value for c in project_sheet[1]]
    first = dict(zip(ph, (c.value for c in project_sheet[2]), strict=True))
    assert first["项目编号"] == "P2023-D01-B01-01" and first["状态"] == "已完成" and first["拆"] == 2

    raw = (tmp_path / "problem_list.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    reader = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(reader) == 9 and reader[0]["问题编号"] and reader[0]["经度"].startswith("117.")


def test_lists_by_county_and_problem_rows_order(three_years: Catalog, tmp_path: Path) -> None:
    units = UnitDirectory(counties={"D01-B01": "延平区", "D01-B02": "建阳区"})
    files = write_lists(three_years, "2024", tmp_path, by="county", units=units, formats=("csv",))
    assert {f.name for f in files} >= {"problem_list_延平区.csv", "problem_list_建阳区.csv"}
    south = list(csv.DictReader((tmp_path / "problem_list_建阳区.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert {r["指标代码"] for r in south} == {"T-PARK-COVER", "T-TOILET", "T-WATERLOG"}
    assert [r["序号"] for r in south] == ["1", "2", "3"]
    severities = [r["severity"] for r in problem_rows(three_years, "2024")]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)


def test_report_html_markdown_and_charts(catalog: Catalog, tmp_path: Path) -> None:
    _loop(catalog)
    data = build_report(catalog, "2025")
    ind = {i["code"]: i for i in data["indicators"]}
    assert ind["T-PARK-COVER"]["value"] == 0.95 and ind["T-PARK-COVER"]["basis"] == "D01"
    assert ind["T-PARK-COVER"]["units_passed"] == 2 and ind["T-PARK-COVER"]["threshold"] == 0.8
    assert [(p, round(v, 9)) for p, v in data["trends"]["T-PARK-COVER"]] == [("2023", 0.7), ("2024", 0.8), ("2025", 0.95)]
    assert data["finding_counts"] == [("2023", 9.0), ("2024", 6.0), ("2025", 1.0)]
    assert data["change"]["counts"]["resolved"] == 5
    ty = data["three_year"]
    assert ty["periods"] == ["2023", "2024", "2025"] and ty["findings"] == [9, 6, 1]
    rows = {r["code"]: r for r in ty["indicators"]}
    assert rows["T-PARK-COVER"]["trend"] == "improved" and rows["T-TOILET"]["trend"] == "unchanged"
    assert ty["findings_verified"] == 7 and ty["projects_done"] == 1
    assert build_report(catalog, "2024")["three_year"] is None  # only two annual runs by then

    files = write_report(catalog, "2025", tmp_path / "report.html")
    html_text = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for text in (html_text, md):
        assert "三年评估" in text and "指标与阈值" in text and "突出问题" in text and "较上次体检变化" in text
        assert "P2023-D01-B01-01" in text
    assert html_text.count("<svg") >= 4
    charts = [f for f in files if f.suffix == ".svg"]
    assert {c.name for c in charts} >= {"findings.svg", "categories.svg", "map.svg", "trend_T-PARK-COVER.svg"}
    problem_map = ET.fromstring((tmp_path / "report_charts" / "map.svg").read_text(encoding="utf-8"))
    assert len([e for e in problem_map.iter() if e.tag.endswith("circle")]) == 1  # the one finding of 2025
    assert len([e for e in problem_map.iter() if e.tag.endswith("polygon")]) == 3  # project areas of 2023
    for chart in charts:
        root = ET.fromstring(chart.read_text(encoding="utf-8"))
        assert root.tag.endswith("svg")
    assert "(report_charts/trend_T-PARK-COVER.svg)" in md
    park = ET.fromstring((tmp_path / "report_charts" / "trend_T-PARK-COVER.svg").read_text(encoding="utf-8"))
    assert len([e for e in park.iter() if e.tag.endswith("circle")]) == 3


def test_report_with_map_update(three_years: Catalog) -> None:
    from cim_twin.catalog.epochs import compare_epochs
    from cim_twin.catalog.report import render_markdown

    update = compare_epochs(scene_of(2024), scene_of(2025), label_a="2024", label_b="2025").to_dict()
    md = render_markdown(build_report(three_years, "2025", map_update=update))
    assert "地图更新 Map update 2024 → 2025" in md
    assert "| 1 | 0 | 0 | 8 |" in md


def test_workbooks_do_not_depend_on_the_clock(tmp_path: Path) -> None:
    import zipfile

    from cim_twin.catalog.lists import write_xlsx

    sheet = [("问题", [("编号", "id"), ("描述", "text")], [{"id": "F1", "text": "公园缺口"}])]
    first = write_xlsx(tmp_path / "a.xlsx", sheet, stamp="2024-06-30T08:00:00Z").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert core.count("2024-06-30T08:00:00Z") == 2  # created and modified: the stamp, not now
    assert write_xlsx(tmp_path / "b.xlsx", sheet, stamp="2024-06-30T08:00:00Z").read_bytes() == first
    wb = load_workbook(tmp_path / "a.xlsx")
    assert wb.properties.created.year == 2024 and wb["问题"]["B2"].value == "公园缺口"
