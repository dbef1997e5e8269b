"""glb and b3dm writing: structure, alignment, property tables read back."""

from __future__ import annotations

import struct

import numpy as np

from cim_twin.export.b3dm import b3dm_bytes, batch_table_json, split_b3dm
from cim_twin.export.features import PropertyTable, derive_columns
from cim_twin.export.gltf import (
    MeshContent,
    decode_glb,
    mesh_glb,
    metadata_schema,
    read_accessor,
    read_property_table,
)


def _table() -> PropertyTable:
    rows = [
        {"id": "a", "name": "", "height": 3.5, "storeys": 2, "flag": True, "note": "楼"},
        {"id": "b", "name": "", "height": 7.0, "flag": False},
        {"id": "c", "name": "", "height": 1.0, "storeys": 1, "flag": True, "note": "x"},
    ]
    return PropertyTable(derive_columns(rows), rows)


def _content(n_features: int = 3) -> MeshContent:
    tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    pos = np.concatenate([tri + np.array([i * 2, 0, 0]) for i in range(n_features)]).astype(np.float32)
    return MeshContent(positions=pos, normals=np.tile([0, 0, 1], (len(pos), 1)).astype(np.float32),
                       colors=np.full((len(pos), 4), 200, np.uint8),
                       feature_ids=np.repeat(np.arange(n_features), 3).astype(np.float32),
                       indices=np.arange(len(pos), dtype=np.uint32))


def test_glb_header_chunks_and_alignment() -> None:
    table = _table()
    schema = metadata_schema(table.columns, "building", "Building", "s")
    data = mesh_glb(_content(), feature_count=3, table=table, rows=[0, 1, 2], schema=schema)
    magic, version, length = struct.unpack_from("<III", data)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    assert len(data) % 4 == 0
    gltf, binary = decode_glb(data)
    assert all(bv["byteOffset"] % 8 == 0 for bv in gltf["bufferViews"])
    assert all(bv["byteLength"] > 0 for bv in gltf["bufferViews"])
    prim = gltf["meshes"][0]["primitives"][0]
    assert prim["extensions"]["EXT_mesh_features"]["featureIds"] == [{"featureCount": 3, "attribute": 0, "propertyTable": 0}]
    assert sorted(gltf["extensionsUsed"]) == ["EXT_mesh_features", "EXT_structural_metadata"]
    fids = read_accessor(gltf, binary, prim["attributes"]["_FEATURE_ID_0"])
    assert fids.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    pos_acc = gltf["accessors"][prim["attributes"]["POSITION"]]
    assert pos_acc["min"] == [0.0, 0.0, 0.0] and pos_acc["max"] == [5.0, 1.0, 0.0]


def test_property_table_round_trip_with_missing_values_and_text() -> None:
    table = _table()
    schema = metadata_schema(table.columns, "building", "Building", "s")
    props = schema["classes"]["building"]["properties"]
    assert props["storeys"]["componentType"] == "INT32" and props["storeys"]["noData"] == -2147483648
    assert props["height"]["componentType"] == "FLOAT64" and "noData" not in props["height"]
    assert props["flag"]["type"] == "BOOLEAN"
    data = mesh_glb(_content(), feature_count=3, table=table, rows=[2, 0, 1], schema=schema)
    gltf, binary = decode_glb(data)
    back = read_property_table(gltf, binary)
    assert back["id"] == ["c", "a", "b"]
    assert back["height"] == [1.0, 3.5, 7.0]
    assert back["storeys"] == [1, 2, -2147483648]
    assert back["flag"] == [True, True, False]
    assert back["note"] == ["x", "楼", ""]
    assert back["name"] == ["", "", ""]


def test_b3dm_layout_and_batch_table() -> None:
    table = _table()
    glb = mesh_glb(_content(), feature_count=3, tiles_version="1.0")
    gltf, _ = decode_glb(glb)
    assert "_BATCHID" in gltf["meshes"][0]["primitives"][0]["attributes"]
    assert "extensionsUsed" not in gltf
    data = b3dm_bytes(glb, 3, batch_table_json(table, [0, 1, 2]))
    magic, version, length, ftj, _ftb, btj, _btb = struct.unpack_from("<4sIIIIII", data)
    assert (magic, version, length) == (b"b3dm", 1, len(data))
    assert (28 + ftj) % 8 == 0 and (28 + ftj + btj) % 8 == 0
    feature, batch, inner = split_b3dm(data)
    assert feature == {"BATCH_LENGTH": 3}
    assert batch["storeys"] == [2, None, 1]
    assert batch["note"] == ["楼", None, "x"]
    assert inner == glb
