"""``cim-twin export`` end to end on real and generated data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cim_twin.cli.main import main

FZK = "3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD2-KIT-IAI-KHH-V2.gml"


def _layers(folder: Path) -> dict[str, dict]:
    return {layer["id"]: layer for layer in json.loads((folder / "layers.json").read_text("utf-8"))["layers"]}


def test_export_citygml_file_refuse_then_overwrite(shared_data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "fzk"
    assert main(["export", str(shared_data / FZK), "--out", str(out), "--tiles-version", "both"]) == 0
    text = capsys.readouterr().out
    assert "exported 1 of 1 buildings" in text and "passed" in text
    layers = _layers(out)
    assert set(layers) == {"buildings", "buildings-1.0"}
    assert layers["buildings"]["extent_wgs84"][0] == pytest.approx(8.4, abs=0.1)  # Karlsruhe
    assert main(["export", str(shared_data / FZK), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--overwrite" in err
    assert main(["export", str(shared_data / FZK), "--out", str(out), "--overwrite", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [layer["id"] for layer in doc["layers"]] == ["buildings"]
    assert not (out / "buildings-1.0").exists()  # replaced as a whole


def test_broken_input_writes_nothing(shared_data: Path, tmp_path: Path, capsys) -> None:
    src = (shared_data / FZK).read_bytes()
    broken = tmp_path / "broken.gml"
    broken.write_bytes(src[: len(src) // 2])
    code = main(["export", str(broken), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "broken.gml" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.gml"]


def test_tileset_as_source(shared_data: Path, tmp_path: Path) -> None:
    """An exported tileset read back through the 3D Tiles reader exports again, same buildings."""
    first = tmp_path / "a"
    assert main(["export", str(shared_data / FZK), "--out", str(first)]) == 0
    second = tmp_path / "b"
    assert main(["export", str(first / "buildings" / "tileset.json"), "--out", str(second), "--crs", "EPSG:25832"]) == 0
    a, b = _layers(first)["buildings"], _layers(second)["buildings"]
    assert b["feature_count"] == a["feature_count"] == 1
    # the project's own 3D Tiles reader finds nothing to warn about in our tileset
    audit = json.loads((second / "layers.json").read_text("utf-8"))["audit"]
    assert audit["source_warnings"] == 0, audit["source_warning_examples"]
    assert b["extent_wgs84"] == pytest.approx(a["extent_wgs84"], abs=1e-6)


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    """A generated district checked once, with projects (and so 留改拆 actions) in its catalog."""
    folder = tmp_path_factory.mktemp("district") / "d"
    assert main(["generate", str(folder), "--buildings", "80", "--years", "2024", "--quiet"]) == 0
    import contextlib
    import io
    import os

    cwd = os.getcwd()
    os.chdir(folder)
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            code = main(["check", "twin.toml"])
        assert code in (0, 1), said.getvalue()[-2000:]
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            code = main(["projects", "generate", "latest"])
        assert code == 0, said.getvalue()[-2000:]
    finally:
        os.chdir(cwd)
    return folder


def test_project_with_catalog_run(district: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cim"
    assert main(["export", str(district), "--out", str(out), "--run", "latest", "--color-by", "severity",
                 "--geojson-crs", "EPSG:4490", "--tiles-version", "both"]) == 0
    capsys.readouterr()
    layers = _layers(out)
    for key in ("buildings", "buildings-1.0", "problems", "problems-1.0", "problems-geojson", "problems-czml",
                "problem-list-xlsx", "task-list-xlsx"):
        assert key in layers, sorted(layers)
    b = layers["buildings"]
    assert b["feature_count"] == 80 and b["run_id"]
    names = {p["name"] for p in b["properties"]}
    assert {"action", "action_zh", "worst_severity", "problem_count", "address.street"} <= names
    assert any(n.startswith("indicator.") for n in names)
    manifest = json.loads((out / "layers.json").read_text("utf-8"))
    assert manifest["audit"]["passed"] and manifest["source"]["crs"] == "EPSG:4548"
    assert manifest["audit"]["reader_max_position_error_m"] < 0.01 and manifest["audit"]["warnings"] == []
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "layers.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(manifest)
    from cim_twin.export.audit import read_leaf_features

    props = [p for _, p in read_leaf_features(out / "buildings" / "tileset.json").values()]
    assert {p["action"] for p in props} - {""}  # some buildings carry a 留改拆 action


def test_lists_of_a_catalog_run_are_byte_identical_whenever_exported(district: Path, tmp_path: Path, capsys) -> None:
    outs = []
    for name in ("a", "b"):
        outs.append(tmp_path / name)
        assert main(["export", str(district), "--out", str(outs[-1]), "--run", "latest", "--no-audit"]) == 0
        time.sleep(1.1)  # a workbook stamped with the clock would differ now
    capsys.readouterr()
    lists = sorted(p.name for p in outs[0].iterdir() if p.suffix in (".xlsx", ".csv"))
    assert any(n.endswith(".xlsx") for n in lists)
    for name in lists:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_project_streams_its_source(district: Path, tmp_path: Path) -> None:
    """--stream on with a project: its one CityGML source streams, with the catalog run, and gives
    the same tiles as the in-memory export."""
    a, b = tmp_path / "stream", tmp_path / "mem"
    for out, mode in ((a, "on"), (b, "off")):
        assert main(["export", str(district), "--out", str(out), "--run", "latest", "--stream", mode,
                     "--max-features", "20"]) == 0
    tiles = sorted(p.name for p in (a / "buildings" / "tiles").iterdir())
    assert len(tiles) > 3
    for name in tiles:
        assert (a / "buildings" / "tiles" / name).read_bytes() == (b / "buildings" / "tiles" / name).read_bytes()
    assert (a / "layers.json").read_bytes() == (b / "layers.json").read_bytes()


def test_third_party_tileset(shared_data: Path, tmp_path: Path) -> None:
    """A tileset from elsewhere (CesiumGS sample, ENU scene CRS from the 3D Tiles reader) exports and
    its audit passes."""
    out = tmp_path / "o"
    src = shared_data / "3d-tiles-samples/1.0/TilesetWithDiscreteLOD/tileset.json"
    assert main(["export", str(src), "--out", str(out), "--tiles-version", "both"]) == 0
    manifest = json.loads((out / "layers.json").read_text("utf-8"))
    assert manifest["audit"]["passed"] and manifest["audit"]["max_position_error_m"] < 0.001
    # the scene CRS is a local ENU frame: the reader round trip still runs (compared in ECEF)
    for report in manifest["audit"]["tilesets"].values():
        assert report["reader_round_trip"]["status"] == "ok", report["reader_round_trip"]
        assert report["reader_max_position_error_m"] < 0.001


def test_run_folder_and_unknown_color(district: Path, tmp_path: Path, capsys) -> None:
    run_dir = next((district / "export" / "runs").iterdir())
    out = tmp_path / "cim"
    assert main(["export", str(district / "twin.toml"), "--out", str(out), "--run", str(run_dir)]) == 0
    layers = _layers(out)
    assert layers["problems"]["run_id"] == run_dir.name
    assert (out / "problem_list.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    code = main(["export", str(district), "--out", str(tmp_path / "x"), "--run", str(run_dir), "--color-by", "NOPE"])
    err = capsys.readouterr().err
    assert code == 2 and "NOPE" in err and not (tmp_path / "x").exists()


def test_source_without_crs_asks_for_one(shared_data: Path, tmp_path: Path, capsys) -> None:
    src = shared_data / "citygml4j/citygml4j-samples/datasets/LOD2_Building_with_Placeholder_v200.gml"
    assert main(["export", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--crs" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_no_audit_is_stated(district: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cim"
    assert main(["export", str(district), "--out", str(out), "--no-audit"]) == 0
    assert "audit: not run" in capsys.readouterr().out
    manifest = json.loads((out / "layers.json").read_text("utf-8"))
    audit = manifest["audit"]
    assert audit["status"] == "not run" and audit["passed"] is None and audit["warnings"]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "layers.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(manifest)


def test_geoid_height_raises_everything_alike(district: Path, tmp_path: Path) -> None:
    """--geoid-height N lifts buildings and problems by N on both paths (same tiles), the audit
    still passes, and layers.json says what heights mean."""
    plain, stream, mem = tmp_path / "plain", tmp_path / "stream", tmp_path / "mem"
    assert main(["export", str(district), "--out", str(plain), "--run", "latest"]) == 0
    for out, mode in ((stream, "on"), (mem, "off")):
        assert main(["export", str(district), "--out", str(out), "--run", "latest", "--stream", mode,
                     "--geoid-height", "12.5"]) == 0
    for name in sorted(p.name for p in (stream / "buildings" / "tiles").iterdir()):
        assert (stream / "buildings" / "tiles" / name).read_bytes() == (mem / "buildings" / "tiles" / name).read_bytes()
    before, after = _layers(plain), _layers(mem)
    for key in ("buildings", "problems"):
        assert after[key]["extent_wgs84"][2] == pytest.approx(before[key]["extent_wgs84"][2] + 12.5, abs=1e-3)
        assert after[key]["extent_wgs84"][0] == pytest.approx(before[key]["extent_wgs84"][0], abs=1e-9)
    manifest = json.loads((mem / "layers.json").read_text("utf-8"))
    assert "12.5" in manifest["georeference"]["heights"] and manifest["audit"]["passed"]


def test_tileset_source_keeps_its_own_id_property(shared_data: Path, tmp_path: Path, capsys) -> None:
    """A tileset whose features carry their own ``id`` property: the exported ``id`` stays the
    building id, the source value is kept as ``attribute.id``, and the audit runs and passes."""
    import json

    from cim_twin.io import read_scene

    source = shared_data / "3d-tiles-validator/specs/data/Samples/TilesetOfTilesets"
    scene = read_scene(source)
    assert all(isinstance(b.get("id"), int) for b in scene.buildings())  # the sample's batch table id
    out = tmp_path / "tt"
    assert main(["export", str(source), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "audit failed" not in err
    manifest = json.loads((out / "layers.json").read_text(encoding="utf-8"))
    layer = next(layer for layer in manifest["layers"] if layer["kind"] == "buildings")
    names = {p["name"]: p for p in layer["properties"]}
    assert names["id"]["type"] == "STRING" and names["id"]["group"] == "derived"
    assert names["attribute.id"]["group"] == "attribute"
    audit = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert audit["tilesets"]["buildings"]["passed"] is True
