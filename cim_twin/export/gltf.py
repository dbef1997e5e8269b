"""Binary glTF 2.0 (glb) writing, with EXT_mesh_features and EXT_structural_metadata.

A content tile is one glb with one mesh of one primitive: flat-shaded triangles (or POINTS for the
problem layer) with ``POSITION`` (float32, metres from the tile centre, y-up), ``NORMAL``, ``COLOR_0``
(unsigned byte, normalised RGBA), and a feature id per vertex (``_FEATURE_ID_0`` for 3D Tiles 1.1,
``_BATCHID`` for 1.0 b3dm). Feature ids are floats: glTF forbids 32-bit integer vertex attributes and
every attribute element must be 4-byte aligned. Every buffer view starts on an 8-byte boundary, as
EXT_structural_metadata requires. Output bytes depend only on the input (no timestamps).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..serialization import dumps, loads
from .features import PropertyColumn, PropertyTable

__all__ = ["GlbBuilder", "MeshContent", "decode_glb", "encode_property_table", "mesh_glb"]

_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_GLB_MAGIC, _JSON_CHUNK, _BIN_CHUNK = 0x46546C67, 0x4E4F534A, 0x004E4942


class GlbBuilder:
    """Collects buffer views and accessors into one binary buffer, then writes the glb."""

    def __init__(self) -> None:
        self.bin = bytearray()
        self.buffer_views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, data: bytes, *, target: int | None = None, stride: int | None = None) -> int:
        """Append ``data`` as a buffer view (8-byte aligned); returns its index."""
        if not data:
            data = b"\0"  # a buffer view may not be empty (e.g. a text column where every value is "")
        pad = (-len(self.bin)) % 8
        self.bin.extend(b"\0" * pad)
        bv: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target is not None:
            bv["target"] = target
        if stride is not None:
            bv["byteStride"] = stride
        self.bin.extend(data)
        self.buffer_views.append(bv)
        return len(self.buffer_views) - 1

    def accessor(self, array: np.ndarray, component_type: int, type_: str, *, target: int | None = None,
                 normalized: bool = False, min_max: bool = False) -> int:
        """Append ``array`` as an accessor over a new buffer view; returns its index."""
        array = np.ascontiguousarray(array)
        view = self.view(array.tobytes(), target=target)
        acc: dict[str, Any] = {
            "bufferView": view,
            "componentType": component_type,
            "count": int(array.shape[0]),
            "type": type_,
        }
        if normalized:
            acc["normalized"] = True
        if min_max and len(array):
            flat = array.reshape(len(array), -1)
            acc["min"] = [_num(v) for v in flat.min(axis=0)]
            acc["max"] = [_num(v) for v in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def glb(self, gltf: dict[str, Any]) -> bytes:
        """The glb bytes of ``gltf`` (buffers, bufferViews and accessors filled in here)."""
        pad = (-len(self.bin)) % 4
        self.bin.extend(b"\0" * pad)
        gltf = dict(gltf)
        if self.bin:
            gltf["buffers"] = [{"byteLength": len(self.bin)}]
            gltf["bufferViews"] = self.buffer_views
        if self.accessors:
            gltf["accessors"] = self.accessors
        json_bytes = dumps(gltf)
        json_bytes += b" " * ((-len(json_bytes)) % 4)
        total = 12 + 8 + len(json_bytes) + (8 + len(self.bin) if self.bin else 0)
        out = bytearray(struct.pack("<III", _GLB_MAGIC, 2, total))
        out += struct.pack("<II", len(json_bytes), _JSON_CHUNK) + json_bytes
        if self.bin:
            out += struct.pack("<II", len(self.bin), _BIN_CHUNK) + self.bin
        return bytes(out)


def _num(v: Any) -> float | int:
    return int(v) if isinstance(v, np.integer) else float(v)


def encode_property_table(builder: GlbBuilder, table: PropertyTable, rows: Sequence[int], class_id: str,
                          name: str) -> dict[str, Any]:
    """One EXT_structural_metadata property table over ``rows`` of ``table``."""
    properties: dict[str, Any] = {}
    for col in table.columns:
        values = table.values(col, rows)
        if col.type == "STRING":
            joined = "".join(values)
            offsets = np.zeros(len(values) + 1, dtype=np.uint32)
            np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
            if not joined.isascii():  # character offsets -> UTF-8 byte offsets, without a call per value
                code_points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
                utf8_bytes = 1 + (code_points >= 0x80) + (code_points >= 0x800) + (code_points >= 0x10000)
                offsets = np.concatenate([[0], np.cumsum(utf8_bytes)])[offsets].astype(np.uint32)
            properties[col.id] = {
                "values": builder.view(joined.encode("utf-8")),
                "stringOffsets": builder.view(offsets.tobytes()),
                "stringOffsetType": "UINT32",
            }
        elif col.type == "BOOLEAN":
            properties[col.id] = {"values": builder.view(np.packbits(values, bitorder="little").tobytes())}
        else:
            properties[col.id] = {"values": builder.view(np.ascontiguousarray(values).tobytes())}
    return {"class": class_id, "count": len(rows), "name": name, "properties": properties}


def metadata_schema(columns: Sequence[PropertyColumn], class_id: str, class_name: str, schema_id: str) -> dict[str, Any]:
    """The EXT_structural_metadata schema of one class whose properties are ``columns``."""
    return {
        "id": schema_id,
        "classes": {class_id: {"name": class_name, "properties": {c.id: c.schema() for c in columns}}},
    }


@dataclass
class MeshContent:
    """Geometry of one content tile, already in tile-local glTF axes.

    ``positions`` (n, 3) float32, ``normals`` (n, 3) float32 or None, ``colors`` (n, 4) uint8,
    ``feature_ids`` (n,) per vertex, ``indices`` (m*3,) uint32 or None, ``mode`` 4 triangles or 0
    points.
    """

    positions: np.ndarray
    normals: np.ndarray | None
    colors: np.ndarray
    feature_ids: np.ndarray
    indices: np.ndarray | None
    mode: int = 4


def mesh_glb(content: MeshContent, *, feature_count: int, table: PropertyTable | None = None,
             rows: Sequence[int] = (), schema: dict[str, Any] | None = None, class_id: str = "building",
             tiles_version: str = "1.1", generator: str = "cim-twin") -> bytes:
    """The glb of one content tile.

    With ``tiles_version="1.1"`` the feature ids are ``_FEATURE_ID_0`` of EXT_mesh_features and
    ``table`` is written as an EXT_structural_metadata property table of ``schema``; with ``"1.0"``
    they are ``_BATCHID`` (the b3dm wrapper carries the batch table).
    """
    b = GlbBuilder()
    attributes: dict[str, int] = {
        "POSITION": b.accessor(content.positions.astype(np.float32), _FLOAT, "VEC3", target=_ARRAY_BUFFER,
                               min_max=True),
    }
    if content.normals is not None:
        attributes["NORMAL"] = b.accessor(content.normals.astype(np.float32), _FLOAT, "VEC3", target=_ARRAY_BUFFER)
    attributes["COLOR_0"] = b.accessor(content.colors.astype(np.uint8), _UBYTE, "VEC4", target=_ARRAY_BUFFER,
                                       normalized=True)
    fid_name = "_FEATURE_ID_0" if tiles_version == "1.1" else "_BATCHID"
    attributes[fid_name] = b.accessor(content.feature_ids.astype(np.float32), _FLOAT, "SCALAR",
                                      target=_ARRAY_BUFFER)
    primitive: dict[str, Any] = {"attributes": attributes, "mode": content.mode, "material": 0}
    if content.indices is not None:
        idx = content.indices
        if len(content.positions) < 65535:
            primitive["indices"] = b.accessor(idx.astype(np.uint16), _USHORT, "SCALAR", target=_ELEMENT_ARRAY_BUFFER)
        else:
            primitive["indices"] = b.accessor(idx.astype(np.uint32), _UINT, "SCALAR", target=_ELEMENT_ARRAY_BUFFER)
    extensions_used: list[str] = []
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": generator},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "materials": [
            {
                "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0,
                                         "roughnessFactor": 1.0},
                # CityGML rings are not reliably oriented: show both sides rather than holes
                "doubleSided": True,
            }
        ],
    }
    if tiles_version == "1.1":
        fid: dict[str, Any] = {"featureCount": int(feature_count), "attribute": 0}
        if table is not None and schema is not None:
            fid["propertyTable"] = 0
            gltf["extensions"] = {
                "EXT_structural_metadata": {
                    "schema": schema,
                    "propertyTables": [encode_property_table(b, table, rows, class_id, class_id)],
                }
            }
            extensions_used.append("EXT_structural_metadata")
        primitive["extensions"] = {"EXT_mesh_features": {"featureIds": [fid]}}
        extensions_used.append("EXT_mesh_features")
    gltf["meshes"] = [{"primitives": [primitive]}]
    if extensions_used:
        gltf["extensionsUsed"] = sorted(extensions_used)
    return b.glb(gltf)


# --- reading back (audit and tests) -------------------------------------------------------------
_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def decode_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a glb into its JSON and binary chunk."""
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != _GLB_MAGIC or version != 2:
        raise ValueError("not a glb 2.0")
    json_len, _json_type = struct.unpack_from("<II", data, 12)
    gltf = loads(bytes(data[20 : 20 + json_len]))
    binary = b""
    off = 20 + json_len
    if off + 8 <= length:
        bin_len, _ = struct.unpack_from("<II", data, off)
        binary = bytes(data[off + 8 : off + 8 + bin_len])
    return gltf, binary


def read_accessor(gltf: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    """The values of accessor ``index`` as a numpy array (``(count, width)`` for vectors)."""
    acc = gltf["accessors"][index]
    bv = gltf["bufferViews"][acc["bufferView"]]
    dtype = _DTYPES[acc["componentType"]]
    width = _WIDTH[acc["type"]]
    start = bv.get("byteOffset", 0) + acc.get("byteOffset", 0)
    arr = np.frombuffer(binary, dtype=dtype, count=acc["count"] * width, offset=start)
    return arr.reshape(acc["count"], width) if width > 1 else arr


def read_property_table(gltf: dict[str, Any], binary: bytes, table_index: int = 0, *,
                        only: set[str] | None = None, rows: list[int] | None = None) -> dict[str, list[Any]]:
    """An EXT_structural_metadata property table as ``{property id: values}`` (the properties in
    ``only`` and the ``rows`` given, all by default)."""
    ext = gltf["extensions"]["EXT_structural_metadata"]
    table = ext["propertyTables"][table_index]
    props = ext["schema"]["classes"][table["class"]]["properties"]
    count = table["count"]
    out: dict[str, list[Any]] = {}

    def view(i: int) -> bytes:
        bv = gltf["bufferViews"][i]
        return binary[bv["byteOffset"] : bv["byteOffset"] + bv["byteLength"]]

    wanted = list(range(count)) if rows is None else rows
    for pid, spec in table["properties"].items():
        if only is not None and pid not in only:
            continue
        kind = props[pid]["type"]
        raw = view(spec["values"])
        if kind == "STRING":
            offs = np.frombuffer(view(spec["stringOffsets"]), dtype=np.uint32)
            out[pid] = [raw[offs[i] : offs[i + 1]].decode("utf-8") for i in wanted]
        elif kind == "BOOLEAN":
            bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:count]
            out[pid] = [bool(bits[i]) for i in wanted]
        else:
            dtype = np.int32 if props[pid].get("componentType") == "INT32" else np.float64
            out[pid] = np.frombuffer(raw, dtype=dtype, count=count)[wanted].tolist()
    return out
