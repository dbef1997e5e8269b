"""A real client: CesiumJS in headless Chromium loads every exported tileset, all tiles load, and
picked features carry the right id, properties and position."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from .cesium_harness import run_cesium_checks

pytestmark = pytest.mark.e2e

PICK_IDS = ("BLDG_0000", "BLDG_0003", "BLDG_0010")


def _expected(scene, ids) -> list[dict]:
    """Where to pick: the footprint centre at roof height (WGS84, ellipsoidal height)."""
    out = []
    for bid in ids:
        c = scene[bid].roof_centre
        lon, lat, h = scene.crs.to_wgs84(np.array([c[0]] * 2), np.array([c[1]] * 2), np.array([c[2]] * 2))
        out.append({"id": bid, "lon": float(lon[0]), "lat": float(lat[0]), "height": float(h[0])})
    return out


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dx = math.radians(lon2 - lon1) * 6378137 * math.cos(math.radians(lat1))
    dy = math.radians(lat2 - lat1) * 6378137
    return math.hypot(dx, dy)


def _assert_loaded(res: dict) -> None:
    assert res["loaded"], res["errors"]
    assert res["allTilesLoaded"], res
    assert res["tilesFailed"] == 0 and not res["errors"], res["errors"]
    assert res["tilesLoaded"] > 0


def _assert_building_picks(res: dict, expected: list[dict], scene) -> None:
    for want, got in zip(expected, res["picks"], strict=True):
        assert got["picked"], got
        props = got["properties"]
        assert props["id"] == want["id"]
        lon, lat, h = got["position"]
        assert _metres(lon, lat, want["lon"], want["lat"]) < 0.5, (got["position"], want)
        assert abs(h - want["height"]) < 0.3, (got["position"], want)


@pytest.fixture(scope="module")
def box_client(cesium_ready: None, box_export: Path, boxes, box_run) -> dict:
    finding = sorted(box_run.findings, key=lambda f: f.id)[0]
    expected = _expected(boxes, PICK_IDS)
    checks = [
        {"tileset": "buildings/tileset.json", "features": expected},
        {"tileset": "buildings-1.0/tileset.json", "features": expected},
        {"tileset": "problems/tileset.json", "points": True,
         "features": [{"id": finding.id, "lon": finding.lon, "lat": finding.lat, "height": finding.height}]},
        {"tileset": "problems-1.0/tileset.json", "points": True,
         "features": [{"id": finding.id, "lon": finding.lon, "lat": finding.lat, "height": finding.height}]},
    ]
    report = run_cesium_checks(box_export, checks)
    assert not report["errors"], report["errors"]
    return {"report": report, "expected": expected, "finding": finding}


@pytest.mark.parametrize("index", [0, 1], ids=["3dtiles-1.1", "3dtiles-1.0"])
def test_buildings_load_pick_and_sit_where_they_are(box_client: dict, box_export: Path, boxes, index: int) -> None:
    res = box_client["report"]["checks"][index]
    _assert_loaded(res)
    assert res["assetVersion"] == ("1.1", "1.0")[index]
    assert res["overview"]["featuresSelected"] > 0
    # zoomed far out nothing vanishes: the coarse LOD1-block tiles still draw buildings
    assert res["farLoaded"] and res["far"]["featuresSelected"] > 0, res["far"]
    manifest = json.loads((box_export / "layers.json").read_text("utf-8"))
    folder = ("buildings", "buildings-1.0")[index]
    ext = next(layer for layer in manifest["layers"] if layer["id"] == folder)["extent_wgs84"]
    assert ext[0] <= res["centre"][0] <= ext[3] and ext[1] <= res["centre"][1] <= ext[4]
    _assert_building_picks(res, box_client["expected"], boxes)
    for got in res["picks"]:
        props = got["properties"]
        assert props["address_street"] == "滨江中路"
        assert props["function"] == boxes[props["id"]].attributes["function"]
        assert "worst_severity" in props and "problem_count" in props


@pytest.mark.parametrize("index", [2, 3], ids=["glb-points", "pnts"])
def test_problem_points_load_and_pick(box_client: dict, box_run, index: int) -> None:
    res = box_client["report"]["checks"][index]
    _assert_loaded(res)
    assert res["overview"]["featuresSelected"] > 0 or res["overview"]["pointsSelected"] > 0
    pick = res["picks"][0]
    assert pick["picked"], pick
    finding = box_client["finding"]
    # several findings share a roof centre; the one picked must be one of them, with its metadata
    same_place = {f.id: f for f in box_run.findings if f.object_ids == finding.object_ids}
    props = pick["properties"]
    assert props["id"] in same_place
    f = same_place[props["id"]]
    assert props["indicator"] == f.indicator and props["severity"] == f.severity.value
    assert props["observed_at_epoch"] == f.observed_at.timestamp()


def test_real_citygml_loads(cesium_ready: None, real_exports: dict[str, Path], shared_data: Path) -> None:
    from cim_twin.io import read_scene

    fzk = read_scene(shared_data / "3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD2-KIT-IAI-KHH-V2.gml")
    expected = _expected(fzk, [fzk.buildings()[0].id])
    base = real_exports["fzk"].parent
    assert real_exports["potsdam"].parent == base
    report = run_cesium_checks(base, [
        {"tileset": "fzk/buildings/tileset.json", "features": expected},
        {"tileset": "fzk/buildings-1.0/tileset.json", "features": expected},
        {"tileset": "potsdam/buildings/tileset.json"},
    ])
    for res in report["checks"][:2]:
        _assert_loaded(res)
        _assert_building_picks(res, expected, fzk)
    potsdam = report["checks"][2]
    _assert_loaded(potsdam)
    assert potsdam["overview"]["featuresSelected"] > 0
