"""Public-space vitality from heat maps and reported problems on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from cim_twin_plugins.reports import ReportedProblems
from cim_twin_plugins.vitality import PublicSpaceVitality, heat_grid


def _heatmap(tiny):
    """10 × 10 cells of 100 m; 10 people a cell by day, none at night; a cold park cell (2), a
    hot square cell (40, 20 at night) and a crowded cell far from both (50 at 18:00)."""
    xs, ys, hours, dens = [], [], [], []
    for i in range(10):
        for j in range(10):
            x, y = 50 + 100 * i, 50 + 100 * j
            for h in range(24):
                day = 8 <= h <= 18
                v = 10.0 if day else 0.0
                if (x, y) == (50, 50):
                    v = 2.0 if day else 0.0
                if (x, y) == (950, 950):
                    v = 40.0 if day else 20.0
                if (x, y) == (550, 550) and h == 18:
                    v = 50.0
                xs.append(x)
                ys.append(y)
                hours.append(h)
                dens.append(v)
    return tiny.layer("heatmap", "heatmap", tiny.points(*zip(xs, ys, strict=True)), x=xs, y=ys, hour=hours, density=dens, cell_m=[100] * len(xs))


def test_heat_grid_pivot(tiny):
    grid = heat_grid(_heatmap(tiny))
    assert grid.density.shape == (100, 24) and grid.cell_m == 100 and grid.per_ha == 1.0
    assert grid.mean(tuple(range(8, 19))).max() == pytest.approx(40)


def test_public_space_vitality(tiny):
    parks = tiny.layer("parks", "parks", [shapely.box(0, 0, 100, 100), shapely.box(900, 900, 1000, 1000)], id=["P1", "P2"],
                       name=["冷清公园", "热闹广场"], kind=["park", "square"])
    blocks = tiny.units("blocks", "block", {"D01-B01": (0, 0, 1000, 1000)})
    problems, measures = tiny.run(PublicSpaceVitality(), tiny.context([tiny.box("a", 500, 500)], [_heatmap(tiny), parks, blocks]))
    m = measures[("block", "D01-B01")]
    assert m.value == pytest.approx(0.5) and m.details["reference_density_per_ha"] == pytest.approx(10.0)
    by_key = {p.key.split("|")[1]: p for p in problems}
    assert set(by_key) == {"space:P1", "space:P2", "crowd:6:6"}
    assert by_key["space:P1"].value == pytest.approx(0.2) and by_key["space:P1"].severity.value == "medium"
    assert "冷点" in by_key["space:P1"].message_zh
    assert by_key["space:P2"].value == pytest.approx(4.0) and by_key["space:P2"].evidence["night_day_ratio"] == pytest.approx(0.5)
    crowd = by_key["crowd:6:6"]
    assert crowd.evidence["peak_hour"] == 18 and crowd.evidence["nearest_public_space_m"] == pytest.approx(np.hypot(350, 350), abs=0.1)
    # with a 500 m reach the square serves the crowded cell
    ctx = tiny.context([tiny.box("a", 500, 500)], [_heatmap(tiny), parks, blocks], thresholds={"L-PUBLIC-VITALITY": {"reach_m": 500}})
    assert "crowd:6:6" not in {p.key.split("|")[1] for p in tiny.run(PublicSpaceVitality(), ctx)[0]}


def test_reported_problems_land_on_objects(tiny):
    survey = tiny.layer("survey", "reports", tiny.points((105, 5), (900, 900)), id=["S-1", "S-2"],
                        time=["2025-03-01T10:00:00+08:00", "2024-12-31T09:00:00+08:00"], category=["危房", "环境卫生"],
                        text=["墙体开裂", "垃圾堆放"], source=["survey", "survey"], photo=["photos/s1.jpg", None])
    public = tiny.layer("public", "reports", tiny.points((400, 2)), id=["P-1"], time=["2025-05-05T18:30:00"],
                        category=["停车"], text=["占道停车严重"], source=["public"])
    roads = tiny.layer("roads", "roads", [shapely.LineString([(0, 0), (1000, 0)])], id=["R1"])
    units = tiny.units("communities", "community", {"C1": (-50, -50, 1000, 1000)})
    ctx = tiny.context([tiny.box("A", 100, 0), tiny.box("B", 800, 800)], [survey, public, roads, units])
    problems, measures = tiny.run(ReportedProblems(), ctx)
    assert measures[("community", "C1")].value == 2
    assert measures[("community", "C1")].details["by_source"] == {"survey": 1, "public_report": 1}
    by_id = {p.evidence["report_id"]: p for p in problems}
    assert set(by_id) == {"S-1", "P-1"}  # S-2 is from the previous year
    s1 = by_id["S-1"]
    assert s1.source == "survey" and s1.severity.value == "high" and s1.object_ids == ("A", "R1")
    assert s1.observed_at.isoformat() == "2025-03-01T10:00:00+08:00" and s1.message_zh == "入户体检：危房：墙体开裂"
    assert s1.evidence["photo"] == "photos/s1.jpg" and s1.unit_id == "C1"
    p1 = by_id["P-1"]
    assert p1.source == "public_report" and p1.severity.value == "medium" and p1.object_ids == ("R1",)
    assert p1.observed_at.utcoffset() is not None


def test_reports_from_a_csv_with_lon_lat(tiny, tmp_path):
    """A public-report export as CSV (lon/lat in WGS84, local times) through the project's layer loader."""
    from cim_twin.crs import parse_srs_name, transformer
    from cim_twin.io.layers import load_layer
    from cim_twin.project import LayerConfig

    scene_crs = parse_srs_name("EPSG:4548")
    lon, lat = transformer("EPSG:4548", "EPSG:4326").transform(617005.0, 2948005.0)
    (tmp_path / "public.csv").write_text(
        "id,lon,lat,time,category,text,source\n"
        f"R1,{lon:.8f},{lat:.8f},2025-07-01 09:30,积水,路口积水严重,public\n"
        f"R2,{lon:.8f},{lat:.8f},2023-07-01 09:30,噪音,施工噪音,public\n",
        encoding="utf-8",
    )
    reports = load_layer("public", LayerConfig(path="public.csv", kind="reports"), tmp_path / "public.csv", scene_crs)
    units = tiny.units("communities", "community", {"C1": (616900, 2947900, 617100, 2948100)})
    ctx = tiny.context([tiny.box("A", 617000, 2948000)], [reports, units])
    problems, measures = tiny.run(ReportedProblems(), ctx)
    assert [p.evidence["report_id"] for p in problems] == ["R1"]
    p = problems[0]
    assert p.severity.value == "high" and p.object_ids == ("A",) and p.unit_id == "C1"
    assert p.x == pytest.approx(617005.0, abs=0.01) and p.y == pytest.approx(2948005.0, abs=0.01)
    assert measures[("community", "C1")].value == 1
