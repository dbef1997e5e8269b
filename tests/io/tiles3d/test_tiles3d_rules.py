"""Feature identity across tiles and levels, URI safety, broken input, and ``cim-twin info``."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cim_twin.errors import CimTwinError, CRSError, FormatError
from cim_twin.io.tiles3d import read_tileset, tileset_info

VALIDATOR = "3d-tiles-validator/specs/data"


# --- feature identity ------------------------------------------------------------------------------
def test_replace_levels_keep_the_finest_copy(tmp_path: Path, tiles) -> None:
    tiles["b3dm"](tmp_path / "coarse.b3dm", [("b1", 0, 0, 40, 10), ("b2", 50, 0, 40, 10)])
    tiles["b3dm"](tmp_path / "fine/a.b3dm", [("b1", 0, 0, 40, 12)])
    tiles["b3dm"](tmp_path / "fine/b.b3dm", [("b2", 50, 0, 40, 14), ("b3", 0, 50, 20, 6)])
    children = [{"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": f"fine/{n}.b3dm"}} for n in "ab"]
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 10,
                                                        "refine": "REPLACE", "content": {"uri": "coarse.b3dm"}, "children": children})
    scene = read_tileset(path)
    assert sorted(o.id for o in scene.roots) == ["b1", "b2", "b3"]
    assert scene["b1"].height_m == pytest.approx(12, abs=1e-3)  # the fine copy
    assert scene["b2"].attributes["height"] == 14
    coarse = read_tileset(path, max_depth=0)
    assert sorted(o.id for o in coarse.roots) == ["b1", "b2"]
    assert coarse["b1"].height_m == pytest.approx(10, abs=1e-3)
    info = tileset_info(path)
    assert info["counts"] == {"Feature": 3} and info["tiles"]["replaced_contents"] == 1


def test_repeated_feature_in_add_tiles_appears_once(tmp_path: Path, tiles) -> None:
    # Coarse LOD in the parent, finer in the child, ADD refinement: same gml_id, deepest wins.
    tiles["b3dm"](tmp_path / "parent.b3dm", [("b1", 0, 0, 40, 10)])
    tiles["b3dm"](tmp_path / "child.b3dm", [("b1", 0, 0, 40, 11), ("b9", 60, 60, 10, 3)])
    child = {"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": "child.b3dm"}}
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 10,
                                                        "refine": "ADD", "content": {"uri": "parent.b3dm"}, "children": [child]})
    scene = read_tileset(path)
    assert scene.counts() == {"Feature": 2}
    assert scene["b1"].height_m == pytest.approx(11, abs=1e-3)


def test_feature_split_across_tiles_is_joined(tmp_path: Path, tiles) -> None:
    # One building cut at a tile border: two halves with the same gml_id at the same depth.
    tiles["b3dm"](tmp_path / "w.b3dm", [("long", 0, 0, 20, 8)])
    tiles["b3dm"](tmp_path / "e.b3dm", [("long", 20, 0, 20, 8)])
    children = [{"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": f"{n}.b3dm"}} for n in "we"]
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 10,
                                                        "refine": "ADD", "children": children})
    scene = read_tileset(path)
    assert len(scene) == 1
    building = scene["long"]
    assert building.bounds[1][0] - building.bounds[0][0] == pytest.approx(40, abs=1e-3)
    assert building.mesh().n_triangles == 24
    assert building.footprint_area_m2 == pytest.approx(800, rel=1e-3)


def test_numeric_ids_stay_local_to_their_content(tmp_path: Path, tiles) -> None:
    # Batch tables often carry a 0-based numeric "id": not an identity across tiles.
    for name, x in (("a", 0), ("b", 50)):
        tiles["b3dm"](tmp_path / f"{name}.b3dm", [(f"{name}1", x, 0, 10, 5)], extra={"id": [0]})
    children = [{"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": f"{n}.b3dm"}} for n in "ab"]
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 10,
                                                        "refine": "ADD", "children": children})
    scene = read_tileset(path, identity_property="id")
    assert len(scene) == 2
    assert sorted(o.id for o in scene.roots) == ["a.b3dm#0", "b.b3dm#0"]


def test_positions_of_synthetic_tiles(tmp_path: Path, tiles) -> None:
    from pyproj import Transformer

    tiles["b3dm"](tmp_path / "t.b3dm", [("b1", 100, 200, 10, 30)])
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                        "refine": "ADD", "content": {"uri": "t.b3dm"}})
    scene = read_tileset(path, crs="EPSG:32650")
    # Expected: ENU (100, 200, 0) at lon 118.17 lat 26.64 -> ECEF -> UTM 50N, by pyproj alone.
    ecef = tiles["enu"]() @ np.array([100.0, 200.0, 0.0, 1.0])
    x, y, _ = Transformer.from_crs("EPSG:4978", "EPSG:32650", always_xy=True).transform(*ecef[:3])
    lo = scene["b1"].bounds[0]
    assert lo[0] == pytest.approx(x, abs=0.5) and lo[1] == pytest.approx(y, abs=0.5)
    assert scene["b1"].height_m == pytest.approx(30, abs=0.01)


# --- URI safety -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "expected"),
    [("../outside.b3dm", "outside the tileset folder"), ("/etc/passwd", "absolute path"),
     ("http://example.com/t.b3dm", "remote URI"), ("file:///etc/passwd", "scheme 'file'"),
     ("sub/../../outside.b3dm", "outside the tileset folder")],
)
def test_unsafe_uris_are_refused(tmp_path: Path, tiles, uri: str, expected: str) -> None:
    tiles["b3dm"](tmp_path / "outside.b3dm", [("evil", 0, 0, 10, 10)])
    tiles["b3dm"](tmp_path / "set/ok.b3dm", [("good", 0, 0, 10, 10)])
    children = [{"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": u}} for u in ("ok.b3dm", uri)]
    path = tiles["tileset"](tmp_path / "set/tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 1,
                                                            "refine": "ADD", "children": children})
    scene = read_tileset(path)
    assert [o.id for o in scene.roots] == ["good"]
    assert any(expected in str(w) for w in scene.warnings), [str(w) for w in scene.warnings]


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path, tiles) -> None:
    tiles["b3dm"](tmp_path / "outside.b3dm", [("evil", 0, 0, 10, 10)])
    (tmp_path / "set").mkdir()
    (tmp_path / "set/link.b3dm").symlink_to(tmp_path / "outside.b3dm")
    path = tiles["tileset"](tmp_path / "set/tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 1,
                                                            "refine": "ADD", "content": {"uri": "link.b3dm"}})
    scene = read_tileset(path)
    assert len(scene) == 0 and "outside the tileset folder" in str(scene.warnings[0])


# --- broken input -----------------------------------------------------------------------------------
def _two_tile_set(tmp_path: Path, tiles, broken: bytes) -> Path:
    tiles["b3dm"](tmp_path / "good.b3dm", [("good", 0, 0, 10, 10)])
    (tmp_path / "bad.b3dm").write_bytes(broken)
    children = [{"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": u}} for u in ("good.b3dm", "bad.b3dm")]
    return tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 1,
                                                        "refine": "ADD", "children": children})


def _b3dm_bytes(tmp_path: Path, tiles) -> bytes:
    tiles["b3dm"](tmp_path / "src.b3dm", [("x", 0, 0, 10, 10), ("y", 20, 0, 10, 10)])
    return (tmp_path / "src.b3dm").read_bytes()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: b"b3dx" + d[4:], "wrong magic"),
        (lambda d: d[:4] + (7).to_bytes(4, "little") + d[8:], "version 7"),
        (lambda d: d[:8] + (len(d) + 64).to_bytes(4, "little") + d[12:], "truncated"),
        (lambda d: d[:28] + b"x" + d[29:], "JSON does not parse"),
        (lambda d: d[:12] + (10**6).to_bytes(4, "little") + d[16:], "run past"),
        (lambda d: d + b"garbage!", "disagrees with the file size"),
    ],
)
def test_one_broken_tile_is_a_warning_naming_it(tmp_path: Path, tiles, damage, expected: str) -> None:
    path = _two_tile_set(tmp_path, tiles, damage(_b3dm_bytes(tmp_path, tiles)))
    scene = read_tileset(path)
    assert [o.id for o in scene.roots] == ["good"]
    messages = [str(w) for w in scene.warnings]
    assert any(m.startswith("bad.b3dm") and expected in m for m in messages), messages


def test_glb_with_broken_accessor(tmp_path: Path, tiles) -> None:
    data = bytearray(_b3dm_bytes(tmp_path, tiles))
    # Shrink the GLB's BIN chunk declaration: accessors now run past their buffer.
    glb = data.index(b"glTF")
    json_len = int.from_bytes(data[glb + 12 : glb + 16], "little")
    bin_header = glb + 20 + json_len
    data[bin_header : bin_header + 4] = (16).to_bytes(4, "little")
    path = _two_tile_set(tmp_path, tiles, bytes(data))
    scene = read_tileset(path)
    assert [o.id for o in scene.roots] == ["good"]
    assert any("bad.b3dm" in str(w) for w in scene.warnings)


def test_gzip_and_bom(tmp_path: Path, tiles) -> None:
    tiles["b3dm"](tmp_path / "t.b3dm", [("b1", 0, 0, 10, 10)])
    (tmp_path / "t.b3dm").write_bytes(gzip.compress((tmp_path / "t.b3dm").read_bytes()))
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                        "refine": "ADD", "content": {"uri": "t.b3dm"}})
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + path.read_bytes()))
    scene = read_tileset(tmp_path)
    assert [o.id for o in scene.roots] == ["b1"] and not scene.warnings


def test_top_tileset_errors_are_clean(tmp_path: Path) -> None:
    (tmp_path / "tileset.json").write_text('{"asset": {"version": "1.0"}, "root": ')
    with pytest.raises(FormatError, match="JSON does not parse"):
        read_tileset(tmp_path / "tileset.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match=r"no tileset\.json"):
        read_tileset(tmp_path / "empty")


def test_crs_must_be_projected(shared_data: Path) -> None:
    path = shared_data / "3d-tiles-tools/specs/data/migration/input/Batched/BatchedWithBatchTable"
    with pytest.raises(CRSError, match="projected"):
        read_tileset(path, crs="EPSG:4326")
    with pytest.raises(CRSError, match="projected"):
        read_tileset(shared_data / "3d-tiles-samples/1.1/MultipleContents", crs="EPSG:4490")


def test_projected_coordinates_written_into_tiles(tmp_path: Path, tiles) -> None:
    # Some producers skip ECEF and write CGCS2000 Gauss-Kruger coordinates into the tiles.
    tiles["b3dm"](tmp_path / "t.b3dm", [("b1", 0, 0, 10, 30)])
    shift = np.eye(4)
    shift[:3, 3] = [500_000.0, 2_950_000.0, 100.0]  # Gauss-Kruger metres: nowhere near ECEF
    root = {"transform": shift.T.reshape(-1).tolist(), "boundingVolume": tiles["box"](), "geometricError": 0,
            "refine": "ADD", "content": {"uri": "t.b3dm"}}
    path = tiles["tileset"](tmp_path / "tileset.json", root)
    local = read_tileset(path)
    assert local.crs is not None and local.crs.is_local
    stated = read_tileset(path, crs="EPSG:4547")
    assert stated.crs is not None and stated.crs.name == "EPSG:4547"
    assert stated["b1"].bounds[0] == pytest.approx([500_000.0, 2_950_000.0, 100.0], abs=1e-6)
    lon, lat, _ = stated.crs.to_wgs84(500_000.0, 2_950_000.0, 0.0)
    assert abs(float(lon) - 114.0) < 1e-6 and 26 < float(lat) < 27  # EPSG:4547: central meridian 114E
    assert any("EPSG:4547" in str(w) for w in stated.warnings)


def test_meshopt_is_named(tmp_path: Path, tiles) -> None:
    from cim_twin.io.tiles3d.content import DecodeContext, decode_content
    from cim_twin.io.tiles3d.source import TilesetSource

    doc = {"asset": {"version": "2.0"}, "extensionsUsed": ["EXT_meshopt_compression"],
           "extensionsRequired": ["EXT_meshopt_compression"], "meshes": [], "nodes": []}
    (tmp_path / "tileset.json").write_text("{}")
    source = TilesetSource(tmp_path / "tileset.json")
    loc = source.resolve("m.gltf", source.root)
    with pytest.raises(FormatError, match="EXT_meshopt_compression"):
        decode_content(json.dumps(doc).encode(), loc, DecodeContext(source, np.eye(4)))


# --- the validator's cases ----------------------------------------------------------------------
def _validator_tilesets(shared: Path) -> list[Path]:
    folder = shared / VALIDATOR / "tilesets"
    return sorted(folder.glob("*.json"))


def test_every_validator_case_loads_or_fails_cleanly(shared_data: Path) -> None:
    cases = _validator_tilesets(shared_data)
    assert len(cases) > 100
    failed = loaded = 0
    for path in cases:
        try:
            info = tileset_info(path)
        except CimTwinError as exc:
            text = str(exc)
            assert "\n" not in text and path.name in text, text
            failed += 1
        else:
            assert info["format"] == "3dtiles"
            loaded += 1
    assert failed >= 15 and loaded >= 80


@pytest.mark.parametrize(
    ("name", "expected"),
    [("invalidJson.json", "JSON does not parse"), ("assetVersionMissing.json", "asset.version"),
     ("tileTransformNotAffine.json", "not an affine transform"), ("boundingVolumeBoxInvalidArrayLength.json", "12 numbers")],
)
def test_validator_errors_name_the_problem(shared_data: Path, name: str, expected: str) -> None:
    with pytest.raises(CimTwinError, match=expected):
        read_tileset(shared_data / VALIDATOR / "tilesets" / name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("validTilesetWithInvalidB3dm.json", "version 2"), ("validTilesetWithValidB3dmWithInvalidGlb.json", "truncated glTF"),
     ("tilesetWithCycleA.json", "cycle")],
)
def test_validator_broken_content_is_a_warning(shared_data: Path, name: str, expected: str) -> None:
    info = tileset_info(shared_data / VALIDATOR / "tilesets" / name)
    assert any(expected in w for w in info["warnings"]), info["warnings"]


def test_broken_subtree_is_a_warning(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "3d-tiles-samples/1.1/SparseImplicitQuadtree"
    dst = tmp_path / "q"
    shutil.copytree(src, dst)
    (dst / "subtrees/3.0.5.subtree").write_bytes((dst / "subtrees/3.0.5.subtree").read_bytes()[:30])
    info = tileset_info(dst)
    assert 0 < info["counts"]["Feature"] < 32
    assert any("3.0.5.subtree" in w and "truncated" in w for w in info["warnings"])


# --- cim-twin info -------------------------------------------------------------------------------
def test_cli_info_json(shared_data: Path) -> None:
    path = shared_data / "3d-tiles-tools/specs/data/migration/input/Composite/Composite"
    out = subprocess.run([sys.executable, "-m", "cim_twin", "info", str(path), "--json"], capture_output=True, check=True)
    report = json.loads(out.stdout)
    for key in ("format", "version", "tiles", "contents", "counts", "properties", "extent_wgs84", "warnings"):
        assert key in report
    assert report["format"] == "3dtiles" and report["version"] == "1.0"
    assert report["counts"] == {"Feature": 35} and report["contents"] == {"cmpt": 1}


def test_cli_error_is_one_line(shared_data: Path) -> None:
    path = shared_data / VALIDATOR / "tilesets/tileTransformNotAffine.json"
    out = subprocess.run([sys.executable, "-m", "cim_twin", "info", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "tileTransformNotAffine.json" in lines[0] and "Traceback" not in out.stderr


def test_remote_content_only_with_allow_remote(tmp_path: Path, tiles) -> None:
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    tiles["b3dm"](served / "far.b3dm", [("remote1", 0, 0, 10, 10)])
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/far.b3dm"
        path = tiles["tileset"](tmp_path / "set/tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                                "refine": "ADD", "content": {"uri": url}})
        refused = read_tileset(path)
        assert len(refused) == 0 and "--allow-remote" in str(refused.warnings[0])
        fetched = read_tileset(path, allow_remote=True)
        assert [o.id for o in fetched.roots] == ["remote1"]
    finally:
        server.shutdown()
        server.server_close()


def test_draco_compressed_glb(tmp_path: Path, tiles) -> None:
    trimesh = pytest.importorskip("trimesh")
    box = trimesh.creation.box(extents=[10, 20, 30])
    (tmp_path / "draco.glb").write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(box), extension_draco=True))
    assert b"KHR_draco_mesh_compression" in (tmp_path / "draco.glb").read_bytes()
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                        "refine": "ADD", "content": {"uri": "draco.glb"}})
    scene = read_tileset(path)
    mesh = scene.roots[0].mesh()
    # glTF y-up extents (10, 20, 30) become east 10, north 30, up 20.
    assert mesh.vertices.max(axis=0) - mesh.vertices.min(axis=0) == pytest.approx([10, 30, 20], abs=1e-3)
    assert mesh.n_triangles == 12 and scene.roots[0].volume_m3 == pytest.approx(6000, rel=1e-6)


def test_meshopt_buffer_views_are_named(tmp_path: Path) -> None:
    from cim_twin.io.tiles3d.content import DecodeContext, decode_content
    from cim_twin.io.tiles3d.source import TilesetSource

    doc = {"asset": {"version": "2.0"}, "extensionsUsed": ["EXT_meshopt_compression"],
           "buffers": [{"byteLength": 96, "extensions": {"EXT_meshopt_compression": {"fallback": True}}},
                       {"byteLength": 40, "uri": "data:application/octet-stream;base64," + "A" * 56}],
           "bufferViews": [{"buffer": 0, "byteLength": 96, "extensions": {"EXT_meshopt_compression": {
               "buffer": 1, "byteLength": 40, "byteStride": 12, "count": 8, "mode": "ATTRIBUTES"}}}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": 8, "type": "VEC3"}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 0}]}], "nodes": [{"mesh": 0}]}
    (tmp_path / "tileset.json").write_text("{}")
    source = TilesetSource(tmp_path / "tileset.json")
    with pytest.raises(FormatError, match="EXT_meshopt_compression"):
        decode_content(json.dumps(doc).encode(), source.resolve("m.gltf", source.root), DecodeContext(source, np.eye(4)))


def test_bottom_faces_become_ground(tmp_path: Path, tiles) -> None:
    from cim_twin.scene import SurfaceType

    tiles["b3dm"](tmp_path / "t.b3dm", [("b1", 0, 0, 10, 30)])
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                        "refine": "ADD", "content": {"uri": "t.b3dm"}})
    building = read_tileset(path)["b1"]
    mesh = building.mesh()
    assert int((mesh.semantics == SurfaceType.GROUND).sum()) == 2  # the box's two bottom triangles
    assert building.footprint_area_m2 == pytest.approx(100, rel=1e-4)
    assert building.ground_z == pytest.approx(0, abs=0.01)


def test_watertight_features_have_volumes(tmp_path: Path, tiles) -> None:
    tiles["b3dm"](tmp_path / "t.b3dm", [("b1", 0, 0, 10, 30), ("b2", 20, 0, 8, 5)])
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                        "refine": "ADD", "content": {"uri": "t.b3dm"}})
    scene = read_tileset(path)
    assert scene["b1"].volume_m3 == pytest.approx(3000, rel=1e-4)
    assert scene["b2"].volume_m3 == pytest.approx(320, rel=1e-4)


def test_closed_shell_test_welds_split_vertices_and_rejects_open_or_flipped_meshes() -> None:
    import trimesh

    from cim_twin.io.tiles3d.reader import is_closed_shell

    box = trimesh.creation.box(extents=[10, 10, 3])
    v, t = np.asarray(box.vertices, dtype=np.float64), np.asarray(box.faces, dtype=np.int64)
    assert is_closed_shell(v, t)
    # glTF style: three vertices of its own per triangle (per-face normals), same positions.
    assert is_closed_shell(v[t.reshape(-1)], np.arange(36).reshape(12, 3))
    assert not is_closed_shell(v, t[:-1])  # a missing wall triangle
    flipped = t.copy()
    flipped[0] = flipped[0, ::-1]
    assert not is_closed_shell(v, flipped)
    assert not is_closed_shell(v, np.concatenate([t, t[:1]]))  # a doubled triangle (a fin)
    far = v + np.array([5000.0, 0.0, 0.0]) * (np.arange(8) % 2)[:, None]  # wider than the 1-D key allows
    assert is_closed_shell(far, t)


def test_split_feature_in_leaves_of_different_depths_is_joined(tmp_path: Path, tiles) -> None:
    # An unbalanced tree: one half of a building in a leaf at depth 1, the other at depth 2.
    # Neither tile lies above the other, so both halves belong to the one building.
    tiles["b3dm"](tmp_path / "w.b3dm", [("long", 0, 0, 20, 8)])
    tiles["b3dm"](tmp_path / "e.b3dm", [("long", 20, 0, 20, 8)])
    deep = {"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": "e.b3dm"}}
    east = {"boundingVolume": tiles["box"](), "geometricError": 1, "children": [deep]}
    west = {"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": "w.b3dm"}}
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 10,
                                                        "refine": "REPLACE", "children": [west, east]})
    building = read_tileset(path)["long"]
    assert building.bounds[1][0] - building.bounds[0][0] == pytest.approx(40, abs=1e-3)
    info = tileset_info(path)
    assert info["counts"] == {"Feature": 1}
    assert info["extent"][3] - info["extent"][0] == pytest.approx(40, abs=1e-3)


def _gltf_with(positions: np.ndarray, dtype: str, *, normalized: bool, node: dict, mode: int = 4,
               indices: list[int] | None = None) -> bytes:
    import base64

    raw = positions.astype(dtype).tobytes()
    raw += b"\0" * (-len(raw) % 4)
    index_bytes = np.asarray(indices or [], np.uint16).tobytes()
    blob = raw + index_bytes
    component = {"int16": 5122, "uint16": 5123, "float32": 5126}[dtype]
    doc = {
        "asset": {"version": "2.0"}, "extensionsUsed": ["KHR_mesh_quantization"],
        "extensionsRequired": ["KHR_mesh_quantization"],
        "buffers": [{"byteLength": len(blob), "uri": "data:application/octet-stream;base64," + base64.b64encode(blob).decode()}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(raw)}],
        "accessors": [{"bufferView": 0, "componentType": component, "normalized": normalized, "count": len(positions), "type": "VEC3"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": mode}]}],
        "nodes": [{"mesh": 0, **node}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    if indices:
        doc["bufferViews"].append({"buffer": 0, "byteOffset": len(raw), "byteLength": len(index_bytes)})
        doc["accessors"].append({"bufferView": 1, "componentType": 5123, "count": len(indices), "type": "SCALAR"})
        doc["meshes"][0]["primitives"][0]["indices"] = 1
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("dtype", "normalized", "divisor"), [("int16", True, 32767.0), ("uint16", False, 1.0)])
def test_quantized_positions_and_node_transform(tmp_path: Path, tiles, dtype: str, normalized: bool, divisor: float) -> None:
    q = np.array([[0, 0, 0], [1000, 0, 0], [1000, 0, -2000], [0, 3000, 0]])
    if dtype == "uint16":
        q = np.abs(q)
    scale, offset = [0.5, 2.0, 0.25], [10.0, 1.0, -5.0]
    # Triangle strip over 4 vertices: two triangles.
    (tmp_path / "q.gltf").write_bytes(_gltf_with(q, dtype, normalized=normalized, node={"scale": scale, "translation": offset}, mode=5))
    path = tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 0,
                                                        "refine": "ADD", "content": {"uri": "q.gltf"}}, transform=False)
    scene = read_tileset(path)
    mesh = scene.roots[0].mesh()
    gltf = q / divisor * scale + offset  # dequantize, then the node's scale and translation
    expected = np.column_stack([gltf[:, 0], -gltf[:, 2], gltf[:, 1]])  # y-up -> z-up
    assert np.allclose(mesh.vertices, expected, atol=1e-9)
    assert mesh.n_triangles == 2


def test_validator_subtree_cases_load_or_fail_cleanly(shared_data: Path) -> None:
    from cim_twin.io.tiles3d.source import TilesetSource
    from cim_twin.io.tiles3d.tileset import _Subtree

    folder = shared_data / VALIDATOR / "subtrees"
    source = TilesetSource(folder / "validSubtree.json")
    outcomes = {}
    for path in sorted([*folder.glob("*.subtree"), *folder.glob("*.json")]):
        try:  # the validator's cases use a quadtree with 3 subtree levels
            _Subtree.load(source, source.resolve(path.name, source.root), 4, 3, 1)
            outcomes[path.name] = "ok"
        except FormatError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)
            outcomes[path.name] = "error"
    assert outcomes["binarySubtreeValid.subtree"] == outcomes["validSubtree.json"] == "ok"
    for name in ("binarySubtreeInvalidMagic.subtree", "binarySubtreeInvalidVersion.subtree", "binarySubtreeJsonInvalid.subtree",
                 "binarySubtreeComputedLengthInvalid.subtree", "subtreeTileAvailabilityMissing.json",
                 "subtreeTileAvailabilityBitstreamLengthTooSmall.json"):
        assert outcomes[name] == "error", name


def test_a_url_as_source_is_a_clear_error() -> None:
    from cim_twin.io import read_scene

    with pytest.raises(FormatError, match="local files, not URLs") as info:
        read_scene("https://example.com/city/tileset.json")
    assert "--allow-remote" in (info.value.hint or "")


# --- 3D Tiles packages (3TZ) -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["validTilesetPackage.3tz", "validTilesetPackageZipped.3tz"])
def test_3tz_packages_read_like_folders(shared_data: Path, name: str) -> None:
    from cim_twin.io import find_reader, read_scene

    package = shared_data / VALIDATOR / "tilesets/packages" / name
    assert find_reader(package).name == "3dtiles"
    scene = read_scene(package)
    assert scene.counts() == {"Feature": 1}
    lo, hi = scene.roots[0].bounds
    assert np.allclose(lo, [0, 0, 0], atol=1e-6) and np.allclose(hi, [1, 0, 1], atol=1e-6)  # the glTF triangle, z-up
    assert tileset_info(package)["contents"] == {"gltf": 1}


def test_3tz_package_errors_and_escapes(tmp_path: Path, shared_data: Path, tiles) -> None:
    import zipfile

    with pytest.raises(FormatError, match="not a 3D Tiles package"):
        read_tileset(shared_data / VALIDATOR / "tilesets/tiles/3tz/invalid.3tz")
    tiles["b3dm"](tmp_path / "t.b3dm", [("b1", 0, 0, 10, 30)])
    (tmp_path / "secret.b3dm").write_bytes((tmp_path / "t.b3dm").read_bytes())
    children = [{"boundingVolume": tiles["box"](), "geometricError": 0, "content": {"uri": uri}}
                for uri in ("tiles/t.b3dm", "../secret.b3dm", "tiles/missing.b3dm")]
    tiles["tileset"](tmp_path / "tileset.json", {"boundingVolume": tiles["box"](), "geometricError": 10,
                                                 "refine": "ADD", "children": children})
    package = tmp_path / "city.3tz"
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "tileset.json", "tileset.json")
        archive.write(tmp_path / "t.b3dm", "tiles/t.b3dm")
    scene = read_tileset(package)
    assert [o.id for o in scene.roots] == ["b1"] and scene["b1"].volume_m3 == pytest.approx(3000, rel=1e-4)
    warnings = " | ".join(str(w) for w in scene.warnings)
    assert "points outside the tileset folder" in warnings and "not found in the package" in warnings
    with zipfile.ZipFile(tmp_path / "empty.3tz", "w") as archive:
        archive.writestr("other.json", "{}")
    with pytest.raises(FormatError, match=r"no tileset\.json"):
        read_tileset(tmp_path / "empty.3tz")
