"""Fire coverage, new tall residential buildings, old housing, nursing beds, waterlogging and
road density on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from cim_twin_plugins.nanping import NursingBeds, OldHousing
from cim_twin_plugins.national import FireStation5Min, NewResidentialOver80m, RoadNetworkDensity, Waterlogging


def _fire_case(tiny, **kw):
    roads = tiny.layer("roads", "roads", [shapely.LineString([(0, 0), (3000, 0)]), shapely.LineString([(0, 0), (0, 3000)])],
                       id=["R1", "R2"], name=["东西路", "南北路"], **{"class": ["primary", "secondary"]})
    poi = tiny.layer("poi", "poi", tiny.points((0, -10)), id=["F1"], type=["fire_station"])
    districts = tiny.units("districts", "district", {"D01": (-100, -100, 3000, 3000)})
    buildings = [
        tiny.box("A", 1500, 10, storeys=3),               # 10 + 1500 + 15.8 m along the roads
        tiny.box("B", 1990, 10, storeys=3),               # 10 + 2000 + 15.8 m: just out
        tiny.box("C", 1400, 1400, h=40, storeys=13),      # high-rise home far from any road
        tiny.box("D", 100, 100, storeys=3),
        tiny.box("E", 10, 1900, storeys=3),               # along the north road: 1925.8 m by road, 2681 m straight × 1.4
    ]
    return tiny.context(buildings, [roads, poi, districts], **kw)


def test_fire_coverage_along_the_roads(tiny):
    problems, measures = tiny.run(FireStation5Min(), _fire_case(tiny))
    m = measures[("district", "D01")]
    assert m.value == pytest.approx((300 + 300 + 300) / 2500) and m.details["reach_m"] == pytest.approx(2000)
    by_obj = {p.object_ids[0]: p for p in problems}
    assert set(by_obj) == {"B", "C"}
    assert by_obj["B"].evidence["distance_m"] == pytest.approx(10 + 2000 + math.hypot(5, 15), abs=0.1)
    assert by_obj["B"].evidence["method"] == "network" and by_obj["B"].evidence["nearest_station_id"] == "F1"
    assert by_obj["B"].severity.value == "medium"
    assert by_obj["C"].severity.value == "high" and "high-rise" in by_obj["C"].message_en.lower() and "高层住宅" in by_obj["C"].message_zh


def test_fire_coverage_straight_line_with_detour_factor(tiny):
    problems, _ = tiny.run(FireStation5Min(), _fire_case(tiny, options={"N-FIRE-5MIN": {"straight_line": True}}))
    by_obj = {p.object_ids[0]: p for p in problems}
    assert set(by_obj) == {"A", "B", "C", "E"}  # A: 1,505 m × 1.4 = 2,107 m > 2,000 m
    assert by_obj["E"].evidence["distance_m"] == pytest.approx(math.hypot(15, 1915) * 1.4, abs=0.1)
    assert by_obj["E"].evidence["method"] == "straight line × 1.4"
    # a faster engine (42 km/h: 2,800 m in 4 minutes) reaches all: the farthest, B, at 1,995 m × 1.4 = 2,793 m
    problems, _ = tiny.run(FireStation5Min(), _fire_case(tiny, options={"N-FIRE-5MIN": {"straight_line": True}},
                                                          thresholds={"N-FIRE-5MIN": {"speed_kmh": 42}}))
    assert problems == []


def test_new_residential_over_80m(tiny):
    districts = tiny.units("districts", "district", {"D01": (-100, -100, 1000, 1000)})
    buildings = [
        tiny.box("R1", 0, 0, h=85, year=2022),
        tiny.box("R2", 50, 0, h=85, year=2015),
        tiny.box("R3", 100, 0, h=79, year=2023),
        tiny.box("O1", 150, 0, h=100, year=2023, function="1120"),
        tiny.box("R4", 200, 0, h=90, year=2026),  # after the 2025 period
        tiny.box("R5", 250, 0, h=82, year=2025),  # the check year's own breach
    ]
    problems, measures = tiny.run(NewResidentialOver80m(), tiny.context(buildings, [districts]))
    m = measures[("district", "D01")]
    assert m.value == 2 and m.passed is False and m.details["built_in_period"] == 1
    by_id = {p.object_ids[0]: p for p in problems}
    assert sorted(by_id) == ["R1", "R5"]
    assert by_id["R5"].severity.value == "critical" and by_id["R1"].severity.value == "high"
    assert by_id["R1"].z == pytest.approx(85.0)  # pinned on the roof
    assert "5.0 m over the 80 m" in by_id["R1"].message_en
    _, measures = tiny.run(NewResidentialOver80m(), tiny.context(buildings, [districts], thresholds={"N-NEW-RES-80M": {"since_year": 2010}}))
    assert measures[("district", "D01")].value == 3


def test_old_housing_list_and_share(tiny):
    units = tiny.units("communities", "community", {"C1": (-100, -100, 1000, 1000)})
    buildings = [
        tiny.box("old1", 0, 0, year=1985, storeys=2, danger_level="C"),
        tiny.box("old2", 50, 0, year=1970, storeys=2, structure="砖木"),
        tiny.box("new", 100, 0, year=2005, storeys=6),
        tiny.box("office", 150, 0, year=1960, storeys=2, function="1120"),
    ]
    problems, measures = tiny.run(OldHousing(), tiny.context(buildings, [units]))
    m = measures[("community", "C1")]
    assert m.value == pytest.approx(0.4) and m.numerator == 400 and m.denominator == 1000 and m.passed is False
    sev = {p.object_ids[0]: p.severity.value for p in problems}
    assert sev == {"old1": "high", "old2": "medium"}
    ctx = tiny.context(buildings, [units], options={"L-OLD-HOUSING": {"before_year": 1980}})
    problems, measures = tiny.run(OldHousing(), ctx)
    assert [p.object_ids for p in problems] == [("old2",)] and measures[("community", "C1")].value == pytest.approx(0.2)


def test_nursing_beds_per_county(tiny):
    districts = tiny.units("districts", "district", {"D01": (0, 0, 100, 100), "D02": (100, 0, 200, 100), "D03": (200, 0, 300, 100)},
                           county=["建阳区", "建阳区", "延平区"])
    buildings = [tiny.box("a", 10, 10), tiny.box("b", 110, 10), tiny.box("c", 210, 10)]
    pop = tiny.layer("population", "population", [None] * 3, building_id=["a", "b", "c"], residents=[3000, 1500, 1000],
                     elderly=[1000, 500, 400])
    poi = tiny.layer("poi", "poi", tiny.points((50, 50), (250, 50)), id=["H1", "H2"], type=["nursing_home", "nursing_home"],
                     beds=[50, 12], nursing_beds=[20, 10])
    problems, measures = tiny.run(NursingBeds(), tiny.context(buildings, [districts, pop, poi]))
    jy = measures[("district", "建阳区")]
    assert jy.value == pytest.approx(20 / 1500 * 1000) and jy.details["nursing_share"] == pytest.approx(0.4)
    assert measures[("district", "延平区")].value == pytest.approx(25.0) and measures[("district", "延平区")].passed is True
    keys = {p.key.split("|")[1]: p for p in problems}
    assert set(keys) == {"county:建阳区", "county-share:建阳区"}
    assert keys["county:建阳区"].evidence["beds_needed"] == 13 and keys["county:建阳区"].severity.value == "medium"


def test_waterlogging_sites_recur_across_years(tiny):
    pts = tiny.points((0, 0), (30, 0), (50, 50), (1000, 1000), (2000, 0), (2010, 0), (3000, 0))
    incidents = tiny.layer("waterlogging", "incidents", pts, id=["W1", "W2", "W3", "W4", "W5", "W6", "W7"],
                           date=["2023-06-01", "2024-07-01", "2025-06-10", "2025-05-01", "2023-06-02", "2024-06-20", "2025-08-01"],
                           depth_cm=[20, 25, 30, 20, 35, 30, 10], duration_h=[2, 3, 4, 1, 5, 5, 0.5])
    districts = tiny.units("districts", "district", {"D01": (-100, -100, 3500, 1500)})
    roads = tiny.layer("roads", "roads", [shapely.LineString([(-100, -20), (3500, -20)])], id=["R1"], name=["滨江路"])
    buildings = [tiny.box("near", 10, 10), tiny.box("far", 500, 500)]
    problems, measures = tiny.run(Waterlogging(), tiny.context(buildings, [incidents, districts, roads]))
    assert measures[("district", "D01")].value == 2  # site W1-W3 and site W4; W5-W6 fixed, W7 too shallow
    by_key = {p.key.split("|")[1]: p for p in problems}
    assert set(by_key) == {"site:W1", "site:W4"}
    a = by_key["site:W1"]
    assert a.severity.value == "high" and a.evidence["years"] == [2023, 2024, 2025] and a.evidence["recurring"]
    assert a.object_ids == ("near",) and a.evidence["road_id"] == "R1" and "滨江路" in a.message_zh
    assert a.observed_at.date().isoformat() == "2025-06-10"
    assert by_key["site:W4"].severity.value == "medium"
    # a year later with no new incident nothing is open
    problems, measures = tiny.run(Waterlogging(), tiny.context(buildings, [incidents, districts, roads], year=2026))
    assert problems == [] and measures[("district", "D01")].value == 0


def test_road_density(tiny):
    roads = tiny.layer("roads", "roads", [shapely.LineString([(-500, 500), (1500, 500)]), shapely.LineString([(250, 0), (250, 1000)])],
                       id=["R1", "R2"])
    districts = tiny.units("districts", "district", {"D01": (0, 0, 1000, 1000)})
    blocks = tiny.units("blocks", "block", {"D01-B01": (0, 0, 500, 1000), "D01-B02": (500, 0, 1000, 1000)})
    problems, measures = tiny.run(RoadNetworkDensity(), tiny.context([tiny.box("a", 10, 10)], [roads, districts, blocks]))
    # R1 leaves the district on both sides: its first 30 m outside count half (15 m each side)
    assert measures[("district", "D01")].value == pytest.approx(2.03)
    assert measures[("block", "D01-B01")].value == pytest.approx(1.515 / 0.5)
    assert measures[("block", "D01-B02")].value == pytest.approx(0.515 / 0.5)
    # the district (2.03 of 8: high) and both blocks below the target (3.03 and 1.03 of 8: high, but a
    # block's finding is at most medium)
    found = {p.unit_id: p.severity.value for p in problems}
    assert found == {"D01": "high", "D01-B01": "medium", "D01-B02": "medium"}
    assert all(p.evidence["level"] == ("district" if p.unit_id == "D01" else "block") for p in problems)
    _, measures = tiny.run(RoadNetworkDensity(), tiny.context([tiny.box("a", 10, 10)], [roads, districts],
                                                               thresholds={"N-ROAD-DENSITY": {"default": 1.5}}))
    assert measures[("district", "D01")].passed is True


def test_road_density_shares_the_road_between_two_units(tiny):
    # two 1 km × 0.5 km districts 40 m apart, a road in the gap and one inside D01
    roads = tiny.layer("roads", "roads", [shapely.LineString([(0, 520), (1000, 520)]), shapely.LineString([(0, 250), (1000, 250)])],
                       id=["gap", "inner"])
    districts = tiny.units("districts", "district", {"D01": (0, 0, 1000, 500), "D02": (0, 540, 1000, 1040)})
    _, measures = tiny.run(RoadNetworkDensity(), tiny.context([tiny.box("a", 10, 10)], [roads, districts]))
    assert measures[("district", "D01")].value == pytest.approx((1.0 + 0.5) / 0.5)
    assert measures[("district", "D02")].value == pytest.approx(0.5 / 0.5)
    assert measures[("district", "D01")].numerator == pytest.approx(1.5)


def test_road_graph_joins_an_alley_that_stops_short(tiny):
    """An alley drawn to 10 m short of the main road still leads somewhere: its dead end is joined
    to the road, so a house on it is reached along the alley (not left unreachable)."""
    from cim_twin_plugins._spatial import build_road_network

    main = shapely.LineString([(0, 0), (1000, 0)])
    alley = shapely.LineString([(500, 10), (500, 300)])
    net = build_road_network(np.array([main, alley], dtype=object))
    d = net.distances_from(np.array([[0.0, 0.0]]), limit=5000)
    far_end = np.argmin(np.hypot(net.nodes[:, 0] - 500, net.nodes[:, 1] - 300))
    assert d[far_end] == pytest.approx(500 + 10 + 290, abs=0.5)
    # without the join (snap 0) the alley is cut off
    cut = build_road_network(np.array([main, alley], dtype=object), snap_m=0)
    d = cut.distances_from(np.array([[0.0, 0.0]]), limit=5000)
    assert not np.isfinite(d[far_end])


def test_fire_without_roads_uses_the_detour_factor(tiny):
    poi = tiny.layer("poi", "poi", tiny.points((0, 0)), id=["F1"], type=["fire_station"])
    districts = tiny.units("districts", "district", {"D01": (-100, -100, 3000, 3000)})
    ctx = tiny.context([tiny.box("A", 1000, 0), tiny.box("B", 1500, 0)], [poi, districts])
    problems, measures = tiny.run(FireStation5Min(), ctx)
    assert [p.object_ids for p in problems] == [("B",)]  # 1,005 m × 1.4 = 1,407 m in, 1,505 m × 1.4 = 2,107 m out
    assert problems[0].evidence["method"] == "straight line × 1.4" and problems[0].unit == "m"
    assert measures[("district", "D01")].value == pytest.approx(0.5)


def test_fire_without_any_station_is_skipped_not_all_red(tiny):
    from cim_twin.indicators.api import MissingDataError

    poi = tiny.layer("poi", "poi", tiny.points((0, 0)), id=["K1"], type=["kindergarten"])
    ctx = tiny.context([tiny.box("A", 1000, 0)], [poi])
    with pytest.raises(MissingDataError, match="no fire station"):
        list(FireStation5Min().evaluate(ctx))
