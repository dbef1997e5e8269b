"""``EXT_structural_metadata`` property tables decoded into typed Python values.

A property table stores one column per property in glTF buffer views: numbers and vectors as
packed components, booleans as a bitstream, strings through byte offsets, enums as integers that
the schema names, and arrays either of fixed length or through array offsets. This module turns a
table into one list per property (row = feature id) with strings as ``str``, enums as their names,
vectors and arrays as lists, ``normalized``/``offset``/``scale`` applied and ``noData`` as absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import FormatError
from .gltf import GltfAsset

__all__ = ["PropertyTable", "read_property_tables"]

_DTYPES: dict[str, np.dtype[Any]] = {
    "INT8": np.dtype("<i1"),
    "UINT8": np.dtype("<u1"),
    "INT16": np.dtype("<i2"),
    "UINT16": np.dtype("<u2"),
    "INT32": np.dtype("<i4"),
    "UINT32": np.dtype("<u4"),
    "INT64": np.dtype("<i8"),
    "UINT64": np.dtype("<u8"),
    "FLOAT32": np.dtype("<f4"),
    "FLOAT64": np.dtype("<f8"),
}
_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16, "STRING": 1, "BOOLEAN": 1, "ENUM": 1}


class PropertyTable:
    """One decoded property table: ``class_name``, ``count`` rows, ``columns`` by property name."""

    __slots__ = ("class_name", "columns", "count", "name")

    def __init__(self, class_name: str, count: int, columns: dict[str, list[Any]], name: str | None) -> None:
        self.class_name = class_name
        self.count = count
        self.columns = columns
        self.name = name

    def row(self, index: int) -> dict[str, Any]:
        """The properties of feature ``index`` (absent and noData values left out)."""
        if not 0 <= index < self.count:
            return {}
        return {k: v[index] for k, v in self.columns.items() if v[index] is not None}


def read_property_tables(asset: GltfAsset, load_schema: Any = None) -> list[PropertyTable]:
    """Decode every property table of ``EXT_structural_metadata`` (empty list when absent).

    ``load_schema(uri) -> dict`` fetches an external ``schemaUri`` (safely, relative to the
    content); without it such a schema is an error.

    Raises
    ------
    FormatError
        naming the table and property when a column is inconsistent with its class.
    """
    ext = (asset.json.get("extensions") or {}).get("EXT_structural_metadata")
    if not ext:
        return []
    schema = ext.get("schema")
    if schema is None and "schemaUri" in ext:
        if load_schema is None:
            raise FormatError("EXT_structural_metadata schemaUri cannot be resolved here", path=asset.label)
        schema = load_schema(ext["schemaUri"])
    if not isinstance(schema, dict):
        raise FormatError("EXT_structural_metadata has no schema", path=asset.label)
    classes = schema.get("classes") or {}
    enums = schema.get("enums") or {}
    tables = []
    for t_index, table in enumerate(ext.get("propertyTables") or []):
        class_name = table.get("class")
        cls = classes.get(class_name)
        if cls is None:
            raise FormatError(f"property table {t_index} names unknown class {class_name!r}", path=asset.label)
        count = int(table.get("count", 0))
        columns: dict[str, list[Any]] = {}
        for name, prop in (table.get("properties") or {}).items():
            definition = (cls.get("properties") or {}).get(name)
            if definition is None:
                raise FormatError(f"property table {t_index}: property {name!r} is not in class {class_name!r}", path=asset.label)
            try:
                columns[name] = _column(asset, prop, definition, enums, count)
            except FormatError:
                raise
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                raise FormatError(
                    f"property table {t_index} ({class_name}): property {name!r} does not decode: {exc}",
                    path=asset.label,
                ) from exc
        tables.append(PropertyTable(str(class_name), count, columns, table.get("name")))
    return tables


def _column(asset: GltfAsset, prop: dict[str, Any], definition: dict[str, Any], enums: dict[str, Any], count: int) -> list[Any]:
    ptype = definition.get("type", "SCALAR")
    is_array = bool(definition.get("array"))
    fixed: Any = definition.get("count")
    components = _COMPONENTS.get(ptype)
    if components is None:
        raise FormatError(f"unknown property type {ptype!r}", path=asset.label)
    values_view = asset.buffer_view(int(prop["values"]))

    # How many elements each row has, and where each row starts (in elements).
    if is_array and fixed is None:
        offset_dtype = _DTYPES[prop.get("arrayOffsetType", "UINT32")]
        offsets = np.frombuffer(asset.buffer_view(int(prop["arrayOffsets"])), dtype=offset_dtype, count=count + 1).astype(np.int64)
        starts, lengths = offsets[:-1], np.diff(offsets)
    else:
        per_row = int(fixed) if is_array else 1
        starts = np.arange(count, dtype=np.int64) * per_row
        lengths = np.full(count, per_row, dtype=np.int64)
    total = int((starts + lengths).max()) if count else 0

    if ptype == "STRING":
        offset_dtype = _DTYPES[prop.get("stringOffsetType", "UINT32")]
        soff = np.frombuffer(asset.buffer_view(int(prop["stringOffsets"])), dtype=offset_dtype, count=total + 1).astype(np.int64)
        raw = bytes(values_view)
        if total and soff[-1] > len(raw):
            raise FormatError("string offsets run past the string data", path=asset.label)
        elements: list[Any] = [raw[soff[i] : soff[i + 1]].decode("utf-8", errors="replace") for i in range(total)]
    elif ptype == "BOOLEAN":
        bits = np.unpackbits(np.frombuffer(values_view, dtype=np.uint8), bitorder="little")
        if total > len(bits):
            raise FormatError("boolean bitstream is shorter than the table", path=asset.label)
        elements = [bool(b) for b in bits[:total]]
    elif ptype == "ENUM":
        enum = enums.get(str(definition.get("enumType")))
        if enum is None:
            raise FormatError(f"unknown enumType {definition.get('enumType')!r}", path=asset.label)
        dtype = _DTYPES[enum.get("valueType", "UINT16")]
        ints = _numbers(values_view, dtype, total, asset.label)
        names = {int(v["value"]): str(v["name"]) for v in enum.get("values") or []}
        elements = [names.get(int(i), int(i)) for i in ints]
    else:
        component = _DTYPES.get(definition.get("componentType", ""))
        if component is None:
            raise FormatError(f"unknown componentType {definition.get('componentType')!r}", path=asset.label)
        dtype = component
        nums = _numbers(values_view, dtype, total * components, asset.label)
        if definition.get("normalized") and dtype.kind in "iu":
            info = np.iinfo(dtype)
            arr: np.ndarray = np.maximum(nums.astype(np.float64) / float(info.max), -1.0)
        else:
            arr = nums
        offset = prop.get("offset", definition.get("offset"))
        scale = prop.get("scale", definition.get("scale"))
        if offset is not None or scale is not None:
            arr = arr.astype(np.float64)
            if scale is not None:
                arr = arr.reshape(-1, components) * np.asarray(scale, dtype=np.float64).reshape(-1)[:components]
            if offset is not None:
                arr = arr.reshape(-1, components) + np.asarray(offset, dtype=np.float64).reshape(-1)[:components]
            arr = arr.reshape(-1)
        grouped = arr.reshape(total, components) if components > 1 else arr
        elements = grouped.tolist()

    no_data = definition.get("noData")
    default = definition.get("default")
    column: list[Any] = []
    for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        value: Any = elements[start : start + length] if is_array else elements[start]
        if no_data is not None and value == no_data:
            value = default
        column.append(value)
    return column


def _numbers(view: memoryview, dtype: np.dtype[Any], n: int, label: str) -> np.ndarray:
    if n * dtype.itemsize > len(view):
        raise FormatError(f"property values need {n * dtype.itemsize} bytes, the buffer view has {len(view)}", path=label)
    return np.frombuffer(view, dtype=dtype, count=n)
