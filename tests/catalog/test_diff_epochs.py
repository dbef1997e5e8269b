"""Run diffs (key and position matching, direction-aware worsening) and the map update."""

from __future__ import annotations

import numpy as np
import shapely

from cim_twin.catalog import Catalog
from cim_twin.catalog.diff import diff_findings, diff_runs
from cim_twin.catalog.epochs import BuildingState, compare_epochs

from .conftest import scene_of


def test_diff_classes_2023_to_2024(three_years: Catalog) -> None:
    d = diff_runs(three_years, "2023", "2024")
    assert d.counts() == {"new": 1, "persisting": 3, "resolved": 4, "worsened": 1, "improved": 1, "matched_by_position": 1}
    rows = {cls: d.rows(cls) for cls in ("new", "persisting", "resolved", "worsened", "improved")}
    assert [r["indicator"] for r in rows["new"]] == ["T-WATERLOG"]
    assert {r["key"] for r in rows["resolved"]} == {"T-OLD-HOUSING:b01", "T-OLD-HOUSING:b02", "T-OLD-HOUSING:b03", "T-DANGER:b03"}
    assert [(r["key"], r["severity_a"], r["severity_b"]) for r in rows["worsened"]] == [("T-OLD-HOUSING:b05", "medium", "high")]
    assert [(r["indicator"], r["value_a"], r["value_b"]) for r in rows["improved"]] == [("T-PARK-COVER", 0.6, 0.7)]
    by_position = [r for r in rows["persisting"] if r["matched_by"] == "position"]
    assert [r["key"] for r in by_position] == ["T-OLD-HOUSING:b06n"]
    assert d.by_indicator()["T-OLD-HOUSING"] == {"new": 0, "persisting": 2, "resolved": 3, "worsened": 1, "improved": 0}
    assert d.by_unit()["D01-B01-C01"] == {"new": 0, "persisting": 2, "resolved": 4, "worsened": 1, "improved": 0}
    assert d.by_unit()["D01-B02-C02"]["new"] == 1
    park = d.measurements["T-PARK-COVER"]
    assert park["improved"] == 2 and park["worsened"] == 0
    assert d.measurements["T-OLD-HOUSING"]["improved"] == 1  # a count going down is better
    assert d.measurements["T-WATERLOG"]["worsened"] == 1
    data = d.to_dict(limit=1)
    assert len(data["findings"]["resolved"]) == 1 and data["counts"]["resolved"] == 4


def test_position_matching_can_be_turned_off(three_years: Catalog) -> None:
    d = diff_runs(three_years, "run-2023", "run-2024", radius_m=0)
    c = d.counts()
    assert (c["new"], c["resolved"], c["persisting"], c["matched_by_position"]) == (2, 5, 2, 0)


def test_diff_2024_to_2025_resolves_almost_everything(three_years: Catalog) -> None:
    c = diff_runs(three_years, "2024", "latest").counts()
    assert c == {"new": 0, "persisting": 1, "resolved": 5, "worsened": 0, "improved": 0, "matched_by_position": 0}


def test_position_matching_is_one_to_one_closest_first(three_years: Catalog) -> None:
    a = three_years.finding_arrays("2023")
    b = three_years.finding_arrays("2024")
    # b06n is 25 m from b03's old-housing point and 0 m from b06's: b06 gets it, b03 is resolved
    d = diff_findings(a, b, radius_m=100)
    pairs = {(a.key[i], b.key[j]) for i, j in zip(d.pair_a, d.pair_b, strict=True)}
    assert ("T-OLD-HOUSING:b06", "T-OLD-HOUSING:b06n") in pairs
    assert all(ka.split(":")[0] == kb.split(":")[0] for ka, kb in pairs)  # never across indicators
    assert len({j for _, j in pairs}) == len(pairs)


def test_direction_inferred_from_threshold_when_spec_unknown(three_years: Catalog) -> None:
    a = three_years.finding_arrays("2023")
    b = three_years.finding_arrays("2024")
    d = diff_findings(a, b, directions={})  # park value 0.6 < threshold 0.8: higher is better
    park = [r for r in d.rows("improved") if r["indicator"] == "T-PARK-COVER"]
    assert len(park) == 1


def test_map_update_between_epochs() -> None:
    update = compare_epochs(scene_of(2023), scene_of(2025), label_a="2023", label_b="2025")
    assert update.added == ["b10"]
    assert update.removed == ["b03"]
    changes = {(c["id"], c["id_b"], c["change"]) for c in update.changed}
    assert changes == {("b01", "b01", "height"), ("b06", "b06n", "id_changed")}
    assert update.unchanged == 6
    b01 = next(c for c in update.changed if c["id"] == "b01")
    assert (b01["height_a"], b01["height_b"]) == (12.0, 18.0)
    assert update.counts()["changed_id_changed"] == 1


def test_rebuilt_and_footprint_changes() -> None:
    box = shapely.box
    a = [BuildingState("old", box(0, 0, 20, 20), 9.0), BuildingState("same", box(100, 0, 110, 10), 6.0),
         BuildingState("gone", box(300, 0, 310, 10), 6.0)]
    b = [BuildingState("tower", box(0, 0, 20, 25), 60.0), BuildingState("same", box(100, 0, 116, 10), 6.0),
         BuildingState("new", box(500, 0, 510, 10), None)]
    update = compare_epochs(a, b)
    changes = {(c["id"], c["id_b"], c["change"]) for c in update.changed}
    assert changes == {("old", "tower", "rebuilt"), ("same", "same", "footprint")}
    assert update.removed == ["gone"] and update.added == ["new"]
    assert np.isclose(next(c["iou"] for c in update.changed if c["id"] == "old"), 0.8)
