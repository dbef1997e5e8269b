"""The 3D Tiles 1.0 binary containers: b3dm, i3dm, pnts and cmpt.

Each container is a 28- or 32-byte header, a feature table (JSON + binary), a batch table (JSON +
binary) and, for b3dm/i3dm, an embedded glTF. This module splits a container into those parts,
checking every length against the bytes actually there, and reads feature-table and batch-table
properties into numpy arrays.

py3dtiles 12 reads b3dm and pnts only (no i3dm, cmpt, legacy b3dm headers or JSON batch tables,
and its quantized-pnts header parsing drops the volume offset), so the container layer is small
hand-written code here; the tiles it cannot read are common in the wild.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import FormatError
from .source import parse_json

__all__ = [
    "BatchTable",
    "Container",
    "FeatureTable",
    "split_composite",
    "split_container",
]

COMPONENT_DTYPES: dict[str, np.dtype[Any]] = {
    "BYTE": np.dtype("<i1"),
    "UNSIGNED_BYTE": np.dtype("<u1"),
    "SHORT": np.dtype("<i2"),
    "UNSIGNED_SHORT": np.dtype("<u2"),
    "INT": np.dtype("<i4"),
    "UNSIGNED_INT": np.dtype("<u4"),
    "FLOAT": np.dtype("<f4"),
    "DOUBLE": np.dtype("<f8"),
}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
_HEADER_BYTES = {b"b3dm": 28, b"pnts": 28, b"i3dm": 32}
# Legacy b3dm headers are told apart by what follows the byteLength: JSON text ('{"' read as a
# little-endian uint32 is at least 0x22000000), never a plausible length.
_LEGACY_JSON_THRESHOLD = 570425344


@dataclass(slots=True)
class FeatureTable:
    """A feature table: global values and per-feature arrays addressed into its binary body."""

    json: dict[str, Any]
    binary: memoryview
    length: int
    label: str

    def get(self, name: str, default: Any = None) -> Any:
        return self.json.get(name, default)

    def array(self, name: str, default_component: str, components: int) -> np.ndarray | None:
        """A per-feature property as ``(length, components)`` (or ``(length,)``), None when absent.

        Raises
        ------
        FormatError
            when the property points past the binary body.
        """
        ref = self.json.get(name)
        if ref is None:
            return None
        if isinstance(ref, list):  # values given inline in the JSON
            arr = np.asarray(ref, dtype=np.float64)
            return arr.reshape(-1, components) if components > 1 else arr
        if not isinstance(ref, dict) or "byteOffset" not in ref:
            raise FormatError(f"feature table property {name} has no byteOffset", path=self.label)
        dtype = COMPONENT_DTYPES.get(ref.get("componentType", default_component))
        if dtype is None:
            raise FormatError(f"feature table property {name} has unknown componentType {ref.get('componentType')!r}", path=self.label)
        return read_binary(self.binary, int(ref["byteOffset"]), dtype, components, self.length, f"feature table {name}", self.label)

    def vector(self, name: str) -> np.ndarray | None:
        """A global vector such as ``RTC_CENTER`` (inline list or a binary reference)."""
        ref = self.json.get(name)
        if ref is None:
            return None
        if isinstance(ref, list):
            return np.asarray(ref, dtype=np.float64)
        if isinstance(ref, dict) and "byteOffset" in ref:
            return read_binary(self.binary, int(ref["byteOffset"]), np.dtype("<f4"), 3, 1, name, self.label)[0].astype(np.float64)
        raise FormatError(f"feature table value {name} is neither a list nor a binary reference", path=self.label)


@dataclass(slots=True)
class BatchTable:
    """A batch table: properties per batch id, as lists of Python values.

    JSON properties come as given; binary properties are decoded with their component type
    (scalars as numbers, vectors as lists). ``3DTILES_batch_table_hierarchy`` is resolved so that
    each feature sees its class's properties and those of its ancestors.
    """

    properties: dict[str, list[Any]] = field(default_factory=dict)
    hierarchy_class: list[str | None] | None = None
    length: int = 0

    def feature(self, batch_id: int) -> dict[str, Any]:
        """The properties of one feature (absent values left out)."""
        out: dict[str, Any] = {}
        for name, values in self.properties.items():
            if 0 <= batch_id < len(values):
                value = values[batch_id]
                if value is not None:
                    out[name] = value
        return out

    @classmethod
    def parse(cls, json_part: dict[str, Any], binary: memoryview, length: int, label: str) -> BatchTable:
        """Decode a batch table (JSON + binary body) for ``length`` features.

        Raises
        ------
        FormatError
            for binary properties pointing past the body or of unknown type.
        """
        table = cls(length=length)
        for name, value in json_part.items():
            if name in ("extensions", "extras"):
                continue
            if isinstance(value, list):
                table.properties[name] = list(value)
            elif isinstance(value, dict) and "byteOffset" in value:
                dtype = COMPONENT_DTYPES.get(value.get("componentType", ""))
                size = TYPE_SIZES.get(value.get("type", ""))
                if dtype is None or size is None:
                    raise FormatError(
                        f"batch table property {name!r} has unknown componentType/type "
                        f"{value.get('componentType')!r}/{value.get('type')!r}",
                        path=label,
                    )
                arr = read_binary(binary, int(value["byteOffset"]), dtype, size, length, f"batch table property {name!r}", label)
                table.properties[name] = arr.tolist()
            else:
                raise FormatError(f"batch table property {name!r} is neither an array nor a binary reference", path=label)
        hierarchy = (json_part.get("extensions") or {}).get("3DTILES_batch_table_hierarchy")
        if hierarchy is None:
            hierarchy = json_part.get("HIERARCHY")  # the pre-extension spelling
        if isinstance(hierarchy, dict):
            table._apply_hierarchy(hierarchy, binary, length, label)
        return table

    def _apply_hierarchy(self, h: dict[str, Any], binary: memoryview, length: int, label: str) -> None:
        classes = h.get("classes") or []
        instances_length = int(h.get("instancesLength", 0))

        def ids(key: str, count: int, default: str) -> np.ndarray | None:
            ref = h.get(key)
            if ref is None:
                return None
            if isinstance(ref, list):
                return np.asarray(ref, dtype=np.int64)
            dtype = COMPONENT_DTYPES.get(ref.get("componentType", default), np.dtype("<u2"))
            return read_binary(binary, int(ref["byteOffset"]), dtype, 1, count, f"hierarchy {key}", label).astype(np.int64)

        class_ids = ids("classIds", instances_length, "UNSIGNED_SHORT")
        if class_ids is None or len(class_ids) != instances_length:
            raise FormatError("3DTILES_batch_table_hierarchy: classIds missing or of wrong length", path=label)
        parent_counts = ids("parentCounts", instances_length, "UNSIGNED_SHORT")
        if parent_counts is None:
            parent_counts = np.ones(instances_length, np.int64)
        parent_ids = ids("parentIds", int(parent_counts.sum()), "UNSIGNED_SHORT")
        starts = np.concatenate([[0], np.cumsum(parent_counts)[:-1]]) if instances_length else np.zeros(0, np.int64)

        # Index of each instance within its class (instances of a class are listed in order).
        index_in_class = np.zeros(instances_length, np.int64)
        counters: dict[int, int] = {}
        for i, cid in enumerate(class_ids.tolist()):
            index_in_class[i] = counters.get(cid, 0)
            counters[cid] = index_in_class[i] + 1
        decoded: list[dict[str, list[Any]]] = []
        for cls_def in classes:
            n = int(cls_def.get("length", 0))
            props: dict[str, list[Any]] = {}
            for name, value in (cls_def.get("instances") or {}).items():
                if isinstance(value, list):
                    props[name] = list(value)
                elif isinstance(value, dict) and "byteOffset" in value:
                    dtype = COMPONENT_DTYPES.get(value.get("componentType", ""))
                    size = TYPE_SIZES.get(value.get("type", "SCALAR"))
                    if dtype is None or size is None:
                        raise FormatError(f"hierarchy class property {name!r} has unknown type", path=label)
                    props[name] = read_binary(binary, int(value["byteOffset"]), dtype, size, n, name, label).tolist()
            decoded.append(props)

        def instance_props(inst: int, seen: set[int]) -> dict[str, Any]:
            if inst in seen or not 0 <= inst < instances_length:
                return {}
            seen.add(inst)
            cid = int(class_ids[inst])
            out: dict[str, Any] = {}
            if 0 <= cid < len(decoded):
                for name, values in decoded[cid].items():
                    k = int(index_in_class[inst])
                    if k < len(values):
                        out[name] = values[k]
            if parent_ids is not None:
                for j in range(int(parent_counts[inst])):
                    parent = int(parent_ids[int(starts[inst]) + j])
                    if parent != inst:
                        for name, value in instance_props(parent, seen).items():
                            out.setdefault(name, value)
            return out

        names = sorted({n for d in decoded for n in d})
        for name in names:
            self.properties.setdefault(name, [None] * length)
        self.hierarchy_class = [None] * length
        for batch_id in range(min(length, instances_length)):
            cid = int(class_ids[batch_id])
            self.hierarchy_class[batch_id] = str(classes[cid].get("name", cid)) if 0 <= cid < len(classes) else None
            for name, value in instance_props(batch_id, set()).items():
                if self.properties[name][batch_id] is None:
                    self.properties[name][batch_id] = value


@dataclass(slots=True)
class Container:
    """A split b3dm/i3dm/pnts: its magic, feature table, batch table and the bytes after them."""

    magic: str
    feature_table: FeatureTable
    batch_json: dict[str, Any]
    batch_binary: memoryview
    payload: memoryview
    gltf_format: int | None = None
    warnings: list[str] = field(default_factory=list)

    def batch_table(self, length: int) -> BatchTable:
        return BatchTable.parse(self.batch_json, self.batch_binary, length, self.feature_table.label)


def read_binary(
    binary: memoryview, offset: int, dtype: np.dtype[Any], components: int, count: int, what: str, label: str
) -> np.ndarray:
    """``count`` elements of ``components`` values each, from ``binary`` at ``offset``.

    Raises
    ------
    FormatError
        when the range is negative or runs past the end of ``binary``.
    """
    need = dtype.itemsize * components * count
    if offset < 0 or count < 0 or offset + need > len(binary):
        raise FormatError(
            f"{what}: {need} bytes at offset {offset} run past the binary body ({len(binary)} bytes)",
            path=label,
            hint="the tile is truncated or its tables are inconsistent",
        )
    arr = np.frombuffer(binary, dtype=dtype, count=components * count, offset=offset)
    return arr.reshape(count, components) if components > 1 else arr


def _json_part(raw: memoryview, what: str, label: str) -> dict[str, Any]:
    if len(raw) == 0:
        return {}
    text = bytes(raw).rstrip(b" \x00")
    if not text:
        return {}
    value = parse_json(text, label)
    if not isinstance(value, dict):
        raise FormatError(f"{what} JSON is not an object", path=label)
    return value


def split_container(data: bytes | memoryview, label: str) -> Container:
    """Split a b3dm, i3dm or pnts into its parts.

    Raises
    ------
    FormatError
        for a wrong magic, an unsupported version, a byteLength that disagrees with the bytes
        present, section lengths that overrun the tile, or table JSON that does not parse.
    """
    view = memoryview(data)
    magic = bytes(view[:4])
    header_bytes = _HEADER_BYTES.get(magic)
    if header_bytes is None:
        raise FormatError(f"wrong magic {magic!r} (expected b3dm, i3dm or pnts)", path=label)
    if len(view) < header_bytes:
        raise FormatError(f"truncated: {len(view)} bytes, shorter than the {header_bytes}-byte header", path=label)
    version, byte_length = struct.unpack_from("<II", view, 4)
    if version != 1:
        raise FormatError(f"unsupported {magic.decode()} version {version} (only 1 exists)", path=label)
    warnings: list[str] = []
    if byte_length > len(view):
        raise FormatError(
            f"truncated: header byteLength {byte_length} but only {len(view)} bytes present",
            path=label,
            hint="the file was cut short (incomplete download or copy)",
        )
    if byte_length < len(view):
        trailing = bytes(view[byte_length:])
        if trailing.strip(b"\x00 "):
            raise FormatError(
                f"header byteLength {byte_length} disagrees with the file size {len(view)}",
                path=label,
            )
        warnings.append(f"{len(view) - byte_length} padding bytes after the tile's byteLength")
    view = view[:byte_length]
    gltf_format = None
    ft_json_len, ft_bin_len, bt_json_len, bt_bin_len = struct.unpack_from("<IIII", view, 12)
    if magic == b"b3dm" and bt_json_len >= _LEGACY_JSON_THRESHOLD:
        # Legacy header 1: [batchLength, batchTableByteLength] (20 bytes).
        batch_length, bt_json_len = struct.unpack_from("<II", view, 12)
        header_bytes, ft_json_len, ft_bin_len, bt_bin_len = 20, 0, 0, 0
        ft_json: dict[str, Any] = {"BATCH_LENGTH": batch_length}
        warnings.append("legacy b3dm header (pre-1.0 layout); read anyway")
    elif magic == b"b3dm" and bt_bin_len >= _LEGACY_JSON_THRESHOLD:
        # Legacy header 2: [batchTableJsonByteLength, batchTableBinaryByteLength, batchLength] (24 bytes).
        bt_json_len, bt_bin_len, batch_length = struct.unpack_from("<III", view, 12)
        header_bytes, ft_json_len, ft_bin_len = 24, 0, 0
        ft_json = {"BATCH_LENGTH": batch_length}
        warnings.append("legacy b3dm header (pre-1.0 layout); read anyway")
    else:
        ft_json = {}
        if magic == b"i3dm":
            gltf_format = struct.unpack_from("<I", view, 28)[0]
    pos = header_bytes
    ends = []
    for size in (ft_json_len, ft_bin_len, bt_json_len, bt_bin_len):
        pos += size
        ends.append(pos)
    if pos > byte_length:
        raise FormatError(
            f"feature/batch table lengths ({ft_json_len}+{ft_bin_len}+{bt_json_len}+{bt_bin_len} bytes) "
            f"run past the tile's {byte_length} bytes",
            path=label,
            hint="the tile is truncated or its header is corrupt",
        )
    if header_bytes in (28, 32) and (ends[0] % 8 or ends[2] % 8 or ends[3] % 8):
        warnings.append("feature/batch table sections are not 8-byte aligned (3D Tiles 1.0 requires it); read anyway")
    start = header_bytes
    ft_json.update(_json_part(view[start : ends[0]], "feature table", label))
    ft_binary = view[ends[0] : ends[1]]
    bt_json = _json_part(view[ends[1] : ends[2]], "batch table", label)
    bt_binary = view[ends[2] : ends[3]]
    payload = view[ends[3] :]
    length_key = {"b3dm": "BATCH_LENGTH", "i3dm": "INSTANCES_LENGTH", "pnts": "POINTS_LENGTH"}[magic.decode()]
    length = ft_json.get(length_key)
    if length is None and magic != b"b3dm":
        raise FormatError(f"feature table has no {length_key}", path=label)
    if length is not None and (not isinstance(length, int) or length < 0):
        raise FormatError(f"feature table {length_key} is not a non-negative integer: {length!r}", path=label)
    return Container(
        magic=magic.decode(),
        feature_table=FeatureTable(ft_json, ft_binary, int(length or 0), label),
        batch_json=bt_json,
        batch_binary=bt_binary,
        payload=payload,
        gltf_format=gltf_format,
        warnings=warnings,
    )


def split_composite(data: bytes | memoryview, label: str) -> list[memoryview]:
    """The inner tiles of a cmpt (each still with its own header).

    Raises
    ------
    FormatError
        for a wrong magic or version, or inner tiles overrunning the composite.
    """
    view = memoryview(data)
    if len(view) < 16 or bytes(view[:4]) != b"cmpt":
        raise FormatError(f"wrong magic {bytes(view[:4])!r} (expected cmpt)", path=label)
    version, byte_length, tiles_length = struct.unpack_from("<III", view, 4)
    if version != 1:
        raise FormatError(f"unsupported cmpt version {version}", path=label)
    if byte_length > len(view):
        raise FormatError(f"truncated: header byteLength {byte_length} but only {len(view)} bytes present", path=label)
    pos, inner = 16, []
    for i in range(tiles_length):
        if pos + 12 > byte_length:
            raise FormatError(f"inner tile {i} of {tiles_length} starts past the composite's end", path=label)
        size = struct.unpack_from("<I", view, pos + 8)[0]
        if size < 12 or pos + size > byte_length:
            raise FormatError(f"inner tile {i} (byteLength {size}) overruns the composite", path=label)
        inner.append(view[pos : pos + size])
        pos += size
    return inner
