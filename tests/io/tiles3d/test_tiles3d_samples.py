"""The 3D Tiles reader on the real public samples (3d-tiles-samples, 3d-tiles-tools,
3d-tiles-validator, PLATEAU): feature counts, property values and positions.

Expected positions come from the samples themselves, not from the reader: the Cesium generator
writes each building's centre (``Longitude``/``Latitude`` in radians) and ``Height`` into the
batch table, and the tileset regions bound the PLATEAU models.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cim_twin.io import find_reader, read_scene
from cim_twin.io.tiles3d import read_tileset, tileset_info

TOOLS = "3d-tiles-tools/specs/data"
MIGRATION = f"{TOOLS}/migration/input"
SAMPLES = "3d-tiles-samples"
VALIDATOR = "3d-tiles-validator/specs/data"


def lonlat_of(scene, obj) -> tuple[float, float, float]:
    """lon/lat of an object's box centre and ellipsoidal height of its base."""
    lo, hi = obj.bounds
    c = (lo + hi) / 2
    lon, lat, h = scene.crs.to_wgs84(float(c[0]), float(c[1]), float(lo[2]))
    return float(lon), float(lat), float(h)


def test_registered_reader_takes_folder_and_file(shared_data: Path) -> None:
    folder = shared_data / MIGRATION / "Batched/BatchedWithBatchTable"
    assert find_reader(folder).name == "3dtiles"
    assert find_reader(folder / "tileset.json").name == "3dtiles"
    assert len(read_scene(folder)) == 10


@pytest.mark.parametrize(
    "sample",
    ["BatchedWithBatchTable", "BatchedWithBatchTableBinary", "BatchedWithTransformBox", "BatchedWithTransformRegion",
     "BatchedWithTransformSphere", "BatchedDeprecated1", "BatchedDeprecated2", "BatchedTextured"],
)
def test_batched_buildings_sit_where_their_batch_table_says(shared_data: Path, sample: str) -> None:
    scene = read_tileset(shared_data / MIGRATION / "Batched" / sample)
    assert scene.counts() == {"Feature": 10}
    assert scene.crs is not None and scene.crs.name.startswith("ENU(40.04")
    for obj in scene.roots:
        lon, lat, h = lonlat_of(scene, obj)
        # Box centre vs the generator's building centre: within a metre or two.
        assert abs(lon - np.degrees(obj.attributes["Longitude"])) * 85_000 < 2.0
        assert abs(lat - np.degrees(obj.attributes["Latitude"])) * 111_000 < 2.0
        assert abs(h) < 0.05  # buildings stand on the ellipsoid
        assert obj.height_m == pytest.approx(obj.attributes["Height"], abs=0.01)
        assert -75.62 < lon < -75.60 and 40.03 < lat < 40.05
        # Watertight boxes: a volume, equal to footprint times height.
        assert obj.volume_m3 == pytest.approx(obj.footprint_area_m2 * obj.height_m, rel=0.01)


def test_json_and_binary_batch_tables_agree(shared_data: Path) -> None:
    as_json = read_tileset(shared_data / MIGRATION / "Batched/BatchedWithBatchTable")
    as_binary = read_tileset(shared_data / MIGRATION / "Batched/BatchedWithBatchTableBinary")
    for a, b in zip(as_json.roots, as_binary.roots, strict=True):
        assert a.attributes["id"] == b.attributes["id"]
        assert a.attributes["Height"] == pytest.approx(b.attributes["Height"], rel=1e-6)  # binary is float32
        assert np.allclose(a.bounds[0], b.bounds[0], atol=1e-3)
    first = as_json.roots[0].attributes
    assert first["info"] == {"name": "building0", "year": 0}
    assert first["rooms"] == ["room0_a", "room0_b", "room0_c"]


def test_rtc_center_is_applied(shared_data: Path) -> None:
    plain = read_tileset(shared_data / MIGRATION / "Batched/BatchedWithTransformBox")
    rtc = read_tileset(shared_data / MIGRATION / "Batched/BatchedWithRtcCenter")
    # That sample's RTC_CENTER is [0.1, 0.2, 0.3] in the ENU tile frame.
    shift = rtc.roots[0].bounds[0] - plain.roots[0].bounds[0]
    assert shift == pytest.approx([0.1, 0.2, 0.3], abs=1e-3)


def test_unbatched_b3dm_gives_one_object_per_mesh(shared_data: Path) -> None:
    scene = read_tileset(shared_data / MIGRATION / "Batched/BatchedNoBatchIds")
    assert [o.id for o in scene.roots] == ["batchedNoBatchIds.b3dm#mesh0"]
    assert scene.roots[0].mesh().n_triangles > 100


def test_gltf1_and_gltf2_versions_of_the_same_tileset_agree(shared_data: Path) -> None:
    old = read_tileset(shared_data / TOOLS / "TilesetOfTilesets")  # glTF 1.0 inside b3dm
    new = read_tileset(shared_data / VALIDATOR / "Samples/TilesetOfTilesets")  # glTF 2.0
    assert old.counts() == new.counts() == {"Feature": 50}
    assert np.allclose(old.extent()[0][:2], new.extent()[0][:2], atol=0.5)
    assert np.allclose(old.extent()[1][:2], new.extent()[1][:2], atol=0.5)


def test_tileset_of_tilesets_counts_externals(shared_data: Path) -> None:
    info = tileset_info(shared_data / TOOLS / "TilesetOfTilesets")
    assert info["counts"] == {"Feature": 50}
    assert info["contents"] == {"b3dm": 5, "tileset": 2}
    assert info["tiles"]["external_tilesets"] == 2
    lon0, lat0, _, lon1, lat1, _ = info["extent_wgs84"]
    assert -75.62 < lon0 < lon1 < -75.60 and 40.03 < lat0 < lat1 < 40.05


@pytest.mark.parametrize(
    ("sample", "tolerance_m"),
    # Plain POSITION is float32 ECEF in that sample: 0.25 m rounding; quantized positions 3 mm.
    [("InstancedWithBatchTable", 0.3), ("InstancedQuantized", 0.01), ("InstancedWithTransform", 0.01)],
)
def test_instances_stand_upright_at_the_same_places(shared_data: Path, sample: str, tolerance_m: float) -> None:
    reference = read_tileset(shared_data / MIGRATION / "Instanced/InstancedRTC")
    scene = read_tileset(shared_data / MIGRATION / "Instanced" / sample)
    assert scene.counts() == {"Feature": 25}
    for a, b in zip(reference.roots, scene.roots, strict=True):
        size = b.bounds[1] - b.bounds[0]
        assert size == pytest.approx([20, 20, 20], abs=0.05)  # east-north-up boxes, axis aligned
        assert np.allclose((a.bounds[0] + a.bounds[1]) / 2, (b.bounds[0] + b.bounds[1]) / 2, atol=tolerance_m)
        assert b.attributes.get("Height", 20) == 20


def test_instance_orientation_and_scale(shared_data: Path) -> None:
    oriented = read_tileset(shared_data / MIGRATION / "Instanced/InstancedOrientation")
    oct_encoded = read_tileset(shared_data / MIGRATION / "Instanced/InstancedOct32POrientation")
    for a, b in zip(oriented.roots, oct_encoded.roots, strict=True):
        assert np.allclose(a.bounds[0], b.bounds[0], atol=0.1)
    # Rotated boxes are no longer axis aligned: their boxes grow beyond 20 m.
    assert max((o.bounds[1] - o.bounds[0]).max() for o in oriented.roots) > 21
    scaled = read_tileset(shared_data / MIGRATION / "InstancedAxes/InstancedAxesScaled")
    simple = read_tileset(shared_data / MIGRATION / "InstancedAxes/InstancedAxesSimple")
    assert len(scaled) == len(simple) == 8
    assert any(not np.allclose(a.bounds[1] - a.bounds[0], b.bounds[1] - b.bounds[0], atol=1e-3)
               for a, b in zip(scaled.roots, simple.roots, strict=True))


def test_composite_holds_batched_and_instanced(shared_data: Path) -> None:
    info = tileset_info(shared_data / MIGRATION / "Composite/Composite")
    assert info["counts"] == {"Feature": 35}
    assert info["contents"] == {"cmpt": 1}
    nested = tileset_info(shared_data / MIGRATION / "Composite/CompositeOfComposite")
    assert nested["counts"] == {"Feature": 35}


@pytest.mark.parametrize("sample", ["PointCloudRGB", "PointCloudQuantized", "PointCloudDraco", "PointCloudNormalsOctEncoded", "PointCloudBatched"])
def test_point_clouds(shared_data: Path, sample: str) -> None:
    scene = read_tileset(shared_data / MIGRATION / "PointCloud" / sample)
    assert scene.counts() == {"PointCloud": 1}
    cloud = scene.roots[0]
    mesh = cloud.geometry[2]
    assert mesh.vertices.shape == (1000, 3) and mesh.n_triangles == 0
    assert cloud.attributes["point_count"] == 1000
    lon, lat, _ = lonlat_of(scene, cloud)
    assert abs(lon + 75.6121) < 0.001 and abs(lat - 40.0425) < 0.001
    # Every point lies in the tileset's bounding sphere (ECEF centre, radius 5 m).
    sphere = json.loads((shared_data / MIGRATION / "PointCloud" / sample / "tileset.json").read_text())["root"]["boundingVolume"]["sphere"]
    ecef = scene.crs.to_ecef(mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2])
    distance = np.linalg.norm(ecef - np.array(sphere[:3]), axis=1)
    assert distance.max() <= sphere[3] + 0.01
    assert distance.max() > sphere[3] * 0.8  # and fills it, so no scale was lost


def test_discrete_lod_keeps_the_finest_level_that_loads(shared_data: Path) -> None:
    path = shared_data / SAMPLES / "1.0/TilesetWithDiscreteLOD"
    finest = read_tileset(path)
    # dragon_high.b3dm is missing from the sample: a warning, and the medium dragon stands in.
    assert any("dragon_high.b3dm" in str(w) for w in finest.warnings)
    assert len(finest) == 1 and finest.roots[0].id == "dragon_medium.b3dm#mesh0"
    coarse = read_tileset(path, max_depth=0)
    assert coarse.roots[0].id == "dragon_low.b3dm#mesh0"
    assert coarse.roots[0].mesh().n_triangles < finest.roots[0].mesh().n_triangles


def test_tree_billboards(shared_data: Path) -> None:
    info = tileset_info(shared_data / SAMPLES / "1.0/TilesetWithTreeBillboards")
    assert info["counts"] == {"Feature": 25}
    assert info["tiles"]["replaced_contents"] == 1
    lon0, lat0, _, lon1, lat1, _ = info["extent_wgs84"]
    assert -75.62 < lon0 < lon1 < -75.60 and 40.03 < lat0 < lat1 < 40.05


@pytest.mark.parametrize(
    ("sample", "tiles", "features", "subtrees"),
    [("SparseImplicitQuadtree", 63, 32, 9), ("SparseImplicitOctree", 58, 31, 13)],
)
def test_sparse_implicit_tilesets(shared_data: Path, sample: str, tiles: int, features: int, subtrees: int) -> None:
    path = shared_data / SAMPLES / "1.1" / sample
    info = tileset_info(path)
    contents = len(list((path / "content").glob("*.glb")))
    assert info["counts"] == {"Feature": features} and features == contents
    assert info["tiles"]["total"] == tiles and info["tiles"]["subtrees"] == subtrees
    assert info["crs"].startswith("local")  # unit-cube sample, not georeferenced
    lo, hi = np.array(info["extent"][:3]), np.array(info["extent"][3:])
    assert (lo >= -1e-6).all() and (hi <= 1 + 1e-6).all()
    # ADD refinement: stopping at depth 4 keeps the contents of levels 0-4 (level in the file name).
    shallow = tileset_info(path, max_depth=4)
    expected = sum(1 for f in (path / "content").glob("*.glb") if int(f.name.split("_")[1]) <= 4)
    assert shallow["tiles"]["max_depth"] == 4
    assert shallow["counts"].get("Feature", 0) == expected < features


def test_implicit_b3dm_with_missing_content(shared_data: Path) -> None:
    info = tileset_info(shared_data / VALIDATOR / "Samples/ImplicitTileMetadata/tileset_1.1.json")
    assert info["counts"] == {"Feature": 40} and info["contents"] == {"b3dm": 4}
    assert any("content/1/1/0.b3dm" in w for w in info["warnings"])


def test_multiple_contents(shared_data: Path) -> None:
    scene = read_tileset(shared_data / SAMPLES / "1.1/MultipleContents")
    assert scene.counts() == {"Feature": 1, "PointCloud": 1}
    lo, hi = scene.extent()
    # The box volume is x 0..1, y -1..0: the glTF y-up content was turned z-up.
    assert lo[:2] == pytest.approx([0, -1], abs=1e-6) and hi[:2] == pytest.approx([1, 0], abs=1e-6)


def test_structural_metadata_complex_types(shared_data: Path) -> None:
    scene = read_tileset(shared_data / SAMPLES / "glTF/EXT_structural_metadata/ComplexTypes")
    rows = [o.attributes for o in scene.roots]
    assert len(rows) == 4
    assert rows[1]["example_variable_length_ARRAY_normalized_UINT8"] == pytest.approx([0, 128 / 255, 1])
    assert rows[2]["example_fixed_length_ARRAY_BOOLEAN"] == [False, False, True, True, False, False, True, True, False, False]
    assert rows[3]["example_variable_length_ARRAY_STRING"] == ["One", "Two", "Theee", "Four"]
    assert rows[2]["example_fixed_length_ARRAY_ENUM"] == ["ExampleEnumValueC", "ExampleEnumValueA"]
    assert rows[0]["tiles:class"] == "exampleMetadataClass"
    lo, hi = scene.extent()
    assert lo[2] == pytest.approx(0, abs=1e-6) and hi[2] == pytest.approx(1, abs=1e-6)  # y-up -> z-up


def test_structural_metadata_scalars_and_vectors(shared_data: Path) -> None:
    classes = read_tileset(shared_data / SAMPLES / "glTF/EXT_structural_metadata/MultipleClasses")
    assert [o.attributes["example_INT64"] for o in classes.roots] == [1234567, 2345678, 3456789, 4567890]
    vectors = read_tileset(shared_data / SAMPLES / "glTF/EXT_structural_metadata/FeatureIdAttributeAndPropertyTable")
    assert vectors.roots[3].attributes["example_VEC3_FLOAT32"] == pytest.approx([3.0, 3.1, 3.2])


def test_plateau_mesh_features(shared_data: Path) -> None:
    path = shared_data / "plateau-gis-converter/demo/cesium/examples/ext_mesh_features"
    info = tileset_info(path)
    assert info["counts"] == {"Feature": 1664}
    region = json.loads((path / "tileset.json").read_text())["root"]["boundingVolume"]["region"]
    w, s, e, n, lo_h, hi_h = region
    lon0, lat0, h0, lon1, lat1, h1 = info["extent_wgs84"]
    assert np.degrees(w) - 1e-5 <= lon0 < lon1 <= np.degrees(e) + 1e-5
    assert np.degrees(s) - 1e-5 <= lat0 < lat1 <= np.degrees(n) + 1e-5
    assert lo_h - 0.1 <= h0 < h1 <= hi_h + 0.1


def test_plateau_structural_metadata(shared_data: Path) -> None:
    scene = read_tileset(shared_data / "plateau-gis-converter/demo/cesium/examples/ext_structural_metadata")
    assert scene.counts() == {"Feature": 28}
    classes = {o.attributes.get("class") for o in scene.roots}
    assert "草花" in classes and "高木（樹高3m以上）" in classes
    heights = [o.attributes["averageHeight"] for o in scene.roots if "averageHeight" in o.attributes]
    assert heights and all(isinstance(h, float) for h in heights)


def test_gzipped_tileset_and_content(shared_data: Path) -> None:
    info = tileset_info(shared_data / VALIDATOR / "Samples/TilesetGzipped")
    assert info["counts"] == {"Feature": 50} and info["warnings"] == []


def test_projected_crs(shared_data: Path) -> None:
    from pyproj import Transformer

    path = shared_data / MIGRATION / "Batched/BatchedWithBatchTable"
    enu = read_tileset(path)
    utm = read_tileset(path, crs="EPSG:32618")
    assert utm.crs is not None and utm.crs.name == "EPSG:32618"
    for a, b in zip(enu.roots, utm.roots, strict=True):
        lon, lat, _ = enu.crs.to_wgs84(*(float(v) for v in a.bounds[0]))
        x, y = Transformer.from_crs("EPSG:4326", "EPSG:32618", always_xy=True).transform(float(lon), float(lat))
        # Box corners are not the same point once rotated by grid convergence: compare loosely.
        assert abs(b.bounds[0][0] - x) < 1.0 and abs(b.bounds[0][1] - y) < 1.0
        assert b.height_m == pytest.approx(a.height_m, abs=0.01)


def test_gpu_instances_with_instance_features(shared_data: Path) -> None:
    scene = read_tileset(shared_data / SAMPLES / "glTF/GpuInstancesMetadata")
    assert scene.counts() == {"Feature": 10}
    names = {o.attributes["example_STRING"] for o in scene.roots}
    assert {"nine", "eight", "seven"} <= names and len(names) == 10
    # Each instance is placed by its own translation: ten distinct places.
    centres = {tuple(np.round((o.bounds[0] + o.bounds[1]) / 2, 3)) for o in scene.roots}
    assert len(centres) == 10


def test_feature_id_texture_is_named_in_a_warning(shared_data: Path) -> None:
    scene = read_tileset(shared_data / SAMPLES / "glTF/EXT_mesh_features/FeatureIdTexture")
    assert len(scene) == 1
    assert any("texture" in str(w) for w in scene.warnings)


def test_batch_table_hierarchy_reference_example(shared_data: Path) -> None:
    from cim_twin.io.tiles3d.containers import BatchTable

    hierarchy = json.loads((shared_data / "py3dtiles/tests/fixtures/batch_table_hierarchy_reference_sample.json").read_text())
    hierarchy.pop("_comment")
    table = BatchTable.parse({"extensions": {"3DTILES_batch_table_hierarchy": hierarchy}}, memoryview(b""), 6, "t.b3dm")
    # Wall 0 -> building unit29 -> owner "resident" (parents as the specification's example draws them).
    assert table.feature(0) == {"color": "white", "name": "unit29", "address": "100 Main St", "type": "resident", "id": 1250}
    assert table.hierarchy_class == ["Wall"] * 6
    # Wall 1 has three parents: the first one that has a property wins.
    assert table.feature(1)["color"] == "red" and table.feature(1)["name"] == "unit29"
