"""Tests of the example plugin, on buildings made by hand (no city model file needed)."""

from __future__ import annotations

import pytest
from cim_twin_tall.plugin import TallBuildings

from cim_twin.testing import box_building, evaluate, make_context, make_scene, units_layer


def test_only_buildings_over_10_m_are_problems() -> None:
    scene = make_scene([
        box_building("low", 0, 0, height=9.5),
        box_building("edge", 20, 0, height=10.0),   # exactly 10 m is not "over"
        box_building("tall", 40, 0, height=24.0),
    ])
    findings, measurements = evaluate(TallBuildings(), make_context(scene, period=2025))
    assert [f.object_ids for f in findings] == [("tall",)]
    tall = findings[0]
    assert tall.value == pytest.approx(24.0) and tall.threshold == 10.0
    assert tall.severity.value == "low" and tall.indicator == "X-TALL"
    assert tall.z == pytest.approx(24.0)                      # pinned on the roof
    assert tall.period == "2025" and tall.valid_from.year == 2025
    assert 116.9 < tall.lon < 117.1 and 26.9 < tall.lat < 27.1  # placed on the globe
    assert measurements == []


def test_same_building_same_id_next_year() -> None:
    scene = make_scene([box_building("tall", 0, 0, height=30)])
    first, _ = evaluate(TallBuildings(), make_context(scene, period=2025))
    again, _ = evaluate(TallBuildings(), make_context(scene, period=2025))
    next_year, _ = evaluate(TallBuildings(), make_context(scene, period=2026))
    assert first[0].id == again[0].id
    assert first[0].key == next_year[0].key and first[0].id != next_year[0].id


def test_findings_carry_their_community() -> None:
    scene = make_scene([box_building("tall", 5, 5, height=30)])
    units = units_layer("community", {"C01": (0, 0, 100, 100), "C02": (100, 0, 200, 100)})
    findings, _ = evaluate(TallBuildings(), make_context(scene, layers=[units]))
    assert findings[0].unit_id == "C01"
