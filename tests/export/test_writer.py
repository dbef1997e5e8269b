"""The export folder: layout, manifest, determinism, safe writes, georeferencing and the audit."""

from __future__ import annotations

import errno
import filecmp
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from cim_twin.errors import ConfigError, ExportError
from cim_twin.export import writer as writer_module
from cim_twin.export.audit import read_leaf_features
from cim_twin.export.buildings import TilingOptions
from cim_twin.export.gltf import decode_glb, read_accessor, read_property_table
from cim_twin.export.writer import ExportOptions, export_folder

from .scenes import LAT0, LON0, box_scene

ROOT = Path(__file__).resolve().parents[2]


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_layout_and_manifest_schema(box_export: Path) -> None:
    files = _tree(box_export)
    for name in ("layers.json", "audit.json", "buildings/tileset.json", "buildings/style.json",
                 "buildings-1.0/tileset.json", "problems/tileset.json", "problems/style.json",
                 "problems-1.0/tileset.json", "problems.geojson", "problems.czml", "problem_list.csv"):
        assert name in files
    assert any(f.startswith("buildings/tiles/") and f.endswith(".glb") for f in files)
    assert any(f.startswith("buildings-1.0/tiles/") and f.endswith(".b3dm") for f in files)
    assert any(f.startswith("problems-1.0/tiles/") and f.endswith(".pnts") for f in files)
    manifest = json.loads((box_export / "layers.json").read_text("utf-8"))
    schema = json.loads((ROOT / "schemas" / "layers.schema.json").read_text("utf-8"))
    jsonschema.validate(manifest, schema)
    by_id = {layer["id"]: layer for layer in manifest["layers"]}
    b = by_id["buildings"]
    assert b["format_version"] == "1.1" and b["feature_count"] == 24 and b["run_id"] == "2025-test"
    assert b["extent_wgs84"][0] == pytest.approx(LON0, abs=1e-4) and b["extent_wgs84"][1] == pytest.approx(LAT0, abs=1e-4)
    assert b["title"] == {"zh": "建筑(3D Tiles 1.1)", "en": "Buildings (3D Tiles 1.1)"}
    assert [e["value"] for e in b["legend"][:5]] == ["info", "low", "medium", "high", "critical"]
    assert by_id["problems"]["time_range"]["start"].startswith("2025-01-01")
    for layer in manifest["layers"]:
        assert (box_export / layer["path"]).is_file()
    assert manifest["georeference"]["tiles_crs"] == "EPSG:4978"
    assert "geoid" in manifest["georeference"]["heights"]
    assert manifest["audit"]["passed"] is True
    assert manifest["audit"]["max_position_error_m"] < 0.01
    ts = json.loads((box_export / "buildings" / "tileset.json").read_text())
    assert ts["asset"]["version"] == "1.1"
    for name in ("buildings", "buildings-1.0", "problems", "problems-1.0"):
        root = json.loads((box_export / name / "tileset.json").read_text())["root"]
        assert root["refine"] in ("ADD", "REPLACE")  # required on the root
    assert ts["asset"]["extras"]["cim_twin"]["vertical_datum"]


def test_building_properties_in_leaf_tiles(box_export: Path, boxes, box_run) -> None:
    decoded = read_leaf_features(box_export / "buildings" / "tileset.json")
    assert sorted(decoded) == sorted(b.id for b in boxes.buildings())
    _, p = decoded["BLDG_0003"]
    assert p["address_street"] == "滨江中路" and p["census_households"] == 13
    assert p["action"] == "renovate" and p["action_zh"] == "改造" and p["action_reason"] == "建成年代早于1990年"
    expected = [f for f in box_run.findings if "BLDG_0003" in f.object_ids]
    assert p["problem_count"] == len(expected) == 2
    worst = max(expected, key=lambda f: f.severity.rank)
    assert p["worst_severity"] == worst.severity.value and p["severity_rank"] == worst.severity.rank
    assert p["indicator_X_TALL"] == pytest.approx(boxes["BLDG_0003"].height_m)
    _, q = decoded["BLDG_0001"]
    assert q["problem_count"] == 0 and q["worst_severity"] == "" and q["indicator_X_TALL"] == -1e300
    assert q["part_ids"] == "BLDG_0001_part"
    # the 1.0 batch table carries the same properties
    decoded10 = read_leaf_features(box_export / "buildings-1.0" / "tileset.json")
    _, p10 = decoded10["BLDG_0003"]
    assert p10["address_street"] == "滨江中路" and p10["worst_severity"] == p["worst_severity"]
    assert decoded10["BLDG_0001"][1]["indicator_X_TALL"] is None


def test_positions_y_up_and_on_the_globe(box_export: Path, boxes) -> None:
    """Decoding a leaf by the spec (y-up -> z-up, tile transforms) puts the house where it is."""
    decoded = read_leaf_features(box_export / "buildings" / "tileset.json")
    ecef, _ = decoded["BLDG_0005"]
    src = boxes["BLDG_0005"].mesh().vertices[:8]
    expected = boxes.crs.to_ecef(src[:, 0], src[:, 1], src[:, 2])
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(ecef).query(expected)
    assert dist.max() < 0.001
    # and y is up in the glb itself: the vertical extent of a leaf is on the y axis
    ts = json.loads((box_export / "buildings" / "tileset.json").read_text())
    leaf = ts["root"]["children"][0]
    while leaf.get("children"):
        leaf = leaf["children"][0]
    gltf, binary = decode_glb((box_export / "buildings" / leaf["content"]["uri"]).read_bytes())
    prim = gltf["meshes"][0]["primitives"][0]
    pos = read_accessor(gltf, binary, prim["attributes"]["POSITION"])
    table = read_property_table(gltf, binary)
    fids = read_accessor(gltf, binary, prim["attributes"]["_FEATURE_ID_0"]).astype(int)
    first = pos[fids == 0]
    height = boxes[table["id"][0]].bounds[1][2] - boxes[table["id"][0]].bounds[0][2]
    assert np.ptp(first[:, 1]) == pytest.approx(height, abs=0.01)
    assert np.abs(pos).max() < 200  # relative to the tile centre: float32 keeps sub-mm precision


def test_geojson_and_czml(box_export: Path, box_run) -> None:
    gj = json.loads((box_export / "problems.geojson").read_text("utf-8"))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(box_run.findings)
    assert "crs" not in gj
    f0 = gj["features"][0]
    finding = next(f for f in box_run.findings if f.id == f0["id"])
    assert f0["geometry"]["coordinates"][:2] == pytest.approx([finding.lon, finding.lat], abs=1e-7)
    assert f0["properties"]["observed_at_epoch"] == finding.observed_at.timestamp()
    cz = json.loads((box_export / "problems.czml").read_text("utf-8"))
    assert cz[0]["id"] == "document" and cz[0]["clock"]["interval"] == "2025-01-01T00:00:00Z/2026-01-01T00:00:00Z"
    packet = next(p for p in cz[1:] if p["id"] == finding.id)
    assert packet["availability"] == "2025-01-01T00:00:00Z/2026-01-01T00:00:00Z"
    assert packet["point"]["color"]["rgba"][3] == 255
    csv = (box_export / "problem_list.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf") and "问题编号".encode() in csv


def test_geojson_cgcs2000(tmp_path: Path, boxes, box_run) -> None:
    out = tmp_path / "o"
    export_folder(boxes, out, run=box_run, options=ExportOptions(geojson_crs="EPSG:4490", audit=False))
    gj = json.loads((out / "problems.geojson").read_text("utf-8"))
    assert gj["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4490"
    manifest = json.loads((out / "layers.json").read_text("utf-8"))
    assert {layer["id"]: layer for layer in manifest["layers"]}["problems-geojson"]["crs"] == "EPSG:4490"


def test_byte_identical_output(tmp_path: Path, box_run) -> None:
    opts = ExportOptions(tiles_version="both", color_by="X-TALL", tiling=TilingOptions(max_features=5))
    export_folder(box_scene(24), tmp_path / "a", run=box_run, options=opts)
    export_folder(box_scene(24), tmp_path / "b", run=box_run, options=opts)
    files = _tree(tmp_path / "a")
    assert files == _tree(tmp_path / "b")
    _match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert not mismatch and not errors


def test_refuses_to_overwrite_then_replaces(tmp_path: Path, boxes) -> None:
    out = tmp_path / "out"
    export_folder(boxes, out, options=ExportOptions(audit=False))
    marker = out / "stale.txt"
    marker.write_text("old")
    with pytest.raises(ExportError, match="exists"):
        export_folder(boxes, out, options=ExportOptions(audit=False))
    assert marker.exists()
    export_folder(boxes, out, options=ExportOptions(audit=False, overwrite=True))
    assert not marker.exists() and (out / "layers.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folders left


def test_disk_full_leaves_nothing(tmp_path: Path, boxes, box_run, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = writer_module._write_file

    def failing(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(writer_module, "_write_file", failing)
    with pytest.raises(ExportError, match="disk is full") as info:
        export_folder(boxes, tmp_path / "out", run=box_run)
    assert "hint" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_existing_export_survives_a_failed_overwrite(tmp_path: Path, boxes, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    export_folder(boxes, out, options=ExportOptions(audit=False))
    before = _tree(out)

    def broken(path: Path, data: bytes) -> None:
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(writer_module, "_write_file", broken)
    with pytest.raises(ExportError, match="cannot write"):
        export_folder(boxes, out, options=ExportOptions(audit=False, overwrite=True))
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_unknown_color_by_names_the_choices(tmp_path: Path, boxes, box_run) -> None:
    with pytest.raises(ConfigError, match="X-TALL"):
        export_folder(boxes, tmp_path / "o", run=box_run, options=ExportOptions(color_by="NOPE"))
    assert not (tmp_path / "o").exists()


def test_color_by_attribute_and_style(tmp_path: Path, boxes) -> None:
    out = tmp_path / "o"
    export_folder(boxes, out, options=ExportOptions(color_by="function", audit=False))
    style = json.loads((out / "buildings" / "style.json").read_text())
    conditions = style["color"]["conditions"]
    assert conditions[-1][0] == "true" and conditions[0][0].startswith("${function} === '")
    decoded = read_leaf_features(out / "buildings" / "tileset.json")
    assert len(decoded) == len(boxes.buildings())


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_problem_points_split_into_tiles_sit_at_their_findings(tmp_path: Path, boxes, box_run, version: str) -> None:
    import struct

    from cim_twin.crs import transformer
    from cim_twin.export.georef import gltf_to_enu
    from cim_twin.export.points import prepare_problems, write_problem_tiles

    layer = prepare_problems(box_run.findings, boxes.crs, None)

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    stats = write_problem_tiles(layer, tmp_path, version, {}, write, max_points=5)
    assert stats["tiles"] >= -(-len(box_run.findings) // 5)
    ts = json.loads((tmp_path / "tileset.json").read_text())
    root = np.array(ts["root"]["transform"]).reshape(4, 4).T
    found = {}
    for child in ts["root"]["children"]:
        world = root @ np.array(child["transform"]).reshape(4, 4).T
        data = (tmp_path / child["content"]["uri"]).read_bytes()
        if version == "1.1":
            gltf, binary = decode_glb(data)
            prim = gltf["meshes"][0]["primitives"][0]
            assert prim["mode"] == 0
            local = gltf_to_enu(read_accessor(gltf, binary, prim["attributes"]["POSITION"]).astype(float))
            ids = read_property_table(gltf, binary)["id"]
        else:
            _, _, _, ftj, ftb, btj, _ = struct.unpack_from("<4sIIIIII", data)
            header = json.loads(data[28 : 28 + ftj])
            body = data[28 + ftj : 28 + ftj + ftb]
            local = np.frombuffer(body, np.float32, header["POINTS_LENGTH"] * 3).reshape(-1, 3).astype(float)
            ids = json.loads(data[28 + ftj + ftb : 28 + ftj + ftb + btj])["id"]
        ecef = local @ world[:3, :3].T + world[:3, 3]
        lon, lat, h = transformer("EPSG:4978", "EPSG:4979").transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
        for i, fid in enumerate(ids):
            found[fid] = (lon[i], lat[i], h[i])
    assert sorted(found) == sorted(f.id for f in box_run.findings)
    for f in box_run.findings:
        lon, lat, h = found[f.id]
        assert lon == pytest.approx(f.lon, abs=1e-8) and lat == pytest.approx(f.lat, abs=1e-8)
        assert h == pytest.approx(f.height, abs=0.005)


def test_disk_full_in_a_tile_worker_leaves_nothing(tmp_path: Path, boxes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiles written by forked workers: a failing write there still ends as one clear error and an
    empty parent folder."""
    real = writer_module._write_file

    def failing(path: Path, data: bytes) -> None:
        if path.name.startswith("r2") and path.suffix == ".glb":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(writer_module, "_write_file", failing)
    opts = ExportOptions(processes=2, audit=False, tiling=TilingOptions(max_features=2, coarse_max_features=4))
    with pytest.raises(ExportError, match="disk is full"):
        export_folder(boxes, tmp_path / "out", options=opts)
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_export_are_removed(tmp_path: Path, boxes) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f".out.tmp-{int(dead.stdout)}"
    (stale / "buildings").mkdir(parents=True)
    export_folder(boxes, tmp_path / "out", options=ExportOptions(audit=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_audit_faults_and_missing_reader_are_stated(tmp_path: Path, boxes, monkeypatch: pytest.MonkeyPatch) -> None:
    """An audit that cannot run never passes silently: a missing 3D Tiles reader and a fault in the
    audit's own decoder are both named in the audit's warnings, and the export is still written."""
    from types import SimpleNamespace

    from cim_twin.export import audit as audit_module

    monkeypatch.setattr("cim_twin.indicators.host.get_host", lambda: SimpleNamespace(readers={}))
    doc = export_folder(boxes, tmp_path / "a")
    reader = doc["audit"]["tilesets"]["buildings"]["reader_round_trip"]
    assert reader["status"] == "not run" and "reader" in reader["reason"]
    assert doc["audit"]["warnings"] and doc["audit"]["passed"]  # the own decoder's check still ran

    def broken(*_args, **_kwargs):
        raise ValueError("not a glb 2.0")

    monkeypatch.setattr(audit_module, "decode_glb", broken)
    doc = export_folder(boxes, tmp_path / "b")
    assert (tmp_path / "b" / "buildings" / "tileset.json").is_file()
    assert doc["audit"]["passed"] is False and doc["audit"]["status"] == "failed"
    assert any("not a glb 2.0" in w for w in doc["audit"]["warnings"])
