"""Street height-to-width ratio, green view and sidewalk width on hand-computed cases."""

from __future__ import annotations

import pytest
import shapely
from cim_twin_plugins._spatial import building_table
from cim_twin_plugins.streets import StreetHeightWidth, cross_sections
from cim_twin_plugins.streetview import GreenView, SidewalkWidth, excess_green_share

from cim_twin.errors import FormatError


def _street_case(tiny, **kw):
    roads = tiny.layer("roads", "roads", [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(0, 200), (100, 200)]),
                                          shapely.LineString([(0, 400), (100, 400)])],
                       id=["R1", "R2", "R3"], name=["中山路", "老街", "新区大道"])
    blocks = tiny.units("blocks", "block", {"D01-B01": (-50, -50, 150, 500)})
    buildings = [
        tiny.box("N1", 0, 5, w=100, d=10, h=20), tiny.box("S1", 0, -15, w=100, d=10, h=10),      # W 10, H 15: 1.5
        tiny.box("N2", 0, 203, w=100, d=10, h=30), tiny.box("S2", 0, 187, w=100, d=10, h=30),    # W 6, H 30: 5
        tiny.box("N3", 0, 430, w=100, d=10, h=6), tiny.box("S3", 0, 360, w=100, d=10, h=6),      # W 60, H 6: 0.1
    ]
    return tiny.context(buildings, [roads, blocks], **kw)


def test_cross_sections_by_hand(tiny):
    ctx = _street_case(tiny)
    sec = cross_sections(ctx.layer("roads").geometries, building_table(ctx), spacing_m=20.0, reach_m=60.0)
    assert len(sec.road) == 15  # 5 sections a road, at 10, 30, 50, 70, 90 m
    assert sec.xy[:5, 0].tolist() == pytest.approx([10, 30, 50, 70, 90])
    assert sec.width_m[:5] == pytest.approx([10.0] * 5) and sec.hw[:5] == pytest.approx([1.5] * 5)
    assert sec.left_m[0] == pytest.approx(5.0) and sec.right_m[0] == pytest.approx(5.0)
    assert sec.hw[5:10] == pytest.approx([5.0] * 5) and sec.hw[10:] == pytest.approx([0.1] * 5)
    # out of reach on one side: the side stays open and the section does not count
    sec = cross_sections(ctx.layer("roads").geometries, building_table(ctx), spacing_m=20.0, reach_m=20.0)
    assert sec.valid.sum() == 10


def test_street_hw_band_problems_and_block_share(tiny):
    problems, measures = tiny.run(StreetHeightWidth(), _street_case(tiny))
    m = measures[("block", "D01-B01")]
    assert m.value == pytest.approx(5 / 15) and m.details["mean_hw"] == pytest.approx((1.5 + 5 + 0.1) / 3)
    by_road = {p.evidence["road_id"]: p for p in problems}
    assert set(by_road) == {"R2", "R3"}
    assert by_road["R2"].severity.value == "high" and by_road["R2"].value == pytest.approx(5.0)
    assert by_road["R2"].evidence["worst_section"]["width_m"] == pytest.approx(6.0)
    assert set(by_road["R2"].object_ids) == {"R2", "N2", "S2"} and "老街" in by_road["R2"].message_zh
    assert by_road["R3"].severity.value == "low" and by_road["R3"].threshold == 0.25
    # a planner who accepts deep canyons up to 6
    problems, _ = tiny.run(StreetHeightWidth(), _street_case(tiny, thresholds={"L-STREET-HW": {"high": 6, "low": 0.05}}))
    assert problems == []


def test_excess_green_on_generated_photos(test_data):
    assert excess_green_share(test_data / "streetview_half_green.png") == pytest.approx(0.5)
    assert excess_green_share(test_data / "streetview_quarter_green.png") == pytest.approx(0.25)
    with pytest.raises(FormatError, match="cannot read street-view photo"):
        excess_green_share(test_data / "no-such-photo.png")


def _view_case(tiny, test_data, **kw):
    roads = tiny.layer("roads", "roads", [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(0, 100), (100, 100)]),
                                          shapely.LineString([(0, 300), (100, 300)])],
                       id=["R1", "R2", "R3"], name=["绿荫路", "光秃路", "小巷"], sidewalk_width_m=[3.0, 1.5, 0.0],
                       **{"class": ["secondary", "branch", "alley"]})
    samples = tiny.layer(
        "streetview", "streetview", tiny.points((20, 2), (60, 2), (80, -2), (50, 102), (70, 98), (50, 301)),
        id=["S1", "S2", "S3", "S4", "S5", "S6"], road_id=["R1", "R1", "R1", None, None, "R3"],
        green=[0.3, 0.4, None, 0.1, 0.05, 0.0], photo=[None, None, str(test_data / "streetview_half_green.png"), None, None, None],
        sidewalk=[0.2, 0.2, 0.2, 0.1, 0.1, 0.0], road=[0.3, 0.3, 0.3, 0.4, 0.4, 0.5],
    )
    blocks = tiny.units("blocks", "block", {"D01-B01": (-50, -50, 150, 400)})
    return tiny.context([tiny.box("a", 0, 10)], [roads, samples, blocks], **kw)


def test_green_view_per_road_with_photo_fallback(tiny, test_data):
    problems, measures = tiny.run(GreenView(), _view_case(tiny, test_data))
    assert measures[("block", "D01-B01")].value == pytest.approx((0.3 + 0.4 + 0.5 + 0.1 + 0.05 + 0.0) / 6)
    by_road = {p.evidence["road_id"]: p for p in problems}
    assert set(by_road) == {"R2", "R3"}
    assert by_road["R2"].value == pytest.approx(0.075) and by_road["R2"].severity.value == "medium"
    assert by_road["R2"].evidence["samples"] == 2 and by_road["R2"].evidence["sample_ids"] == ["S4", "S5"]
    problems, _ = tiny.run(GreenView(), _view_case(tiny, test_data, thresholds={"L-GREEN-VIEW": {"default": 0.05}}))
    assert {p.evidence["road_id"] for p in problems} == {"R3"}


def test_sidewalk_relative_width_and_mapped_width(tiny, test_data):
    problems, _ = tiny.run(SidewalkWidth(), _view_case(tiny, test_data))
    by_road = {p.evidence["road_id"]: p for p in problems}
    assert set(by_road) == {"R2"}  # R1 0.4 is fine, R3 is an alley
    r2 = by_road["R2"]
    assert r2.value == pytest.approx(0.2) and r2.evidence["sidewalk_width_m"] == 1.5
    assert "narrower than 2 m" in r2.message_en and r2.severity.value == "medium"


def test_ray_entry_by_hand():
    import numpy as np
    from cim_twin_plugins.streets import _ray_entry

    tri = np.array([[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]] * 4)
    p0 = np.array([[-5.0, 2.0], [1.0, 1.0], [20.0, 20.0], [12.0, 4.0]])
    d = np.array([[20.0, 0.0], [5.0, 0.0], [1.0, 0.0], [-10.0, 0.0]])
    t = _ray_entry(p0, d, tri)
    # enters at x = 0 (a quarter along); starts inside; misses; enters the hypotenuse x + y = 10 at x = 6
    assert t[0] == pytest.approx(0.25) and t[1] == 0.0 and np.isinf(t[2]) and t[3] == pytest.approx(0.6)
