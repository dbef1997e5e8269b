"""3D Tiles 1.0 Batched 3D Model (b3dm) content: a glb with ``_BATCHID`` plus a batch table.

Layout (little-endian): 28-byte header ``b3dm``, version 1, byte length, feature table JSON length,
feature table binary length (0), batch table JSON length, batch table binary length (0); then the
feature table JSON ``{"BATCH_LENGTH": n}``, the batch table JSON (one array per property, ``null``
where a building lacks the value) and the glb. Each JSON part is padded with spaces so that the next
part starts on an 8-byte boundary, as the spec requires.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ..serialization import dumps, loads
from .features import PropertyTable

__all__ = ["b3dm_bytes", "batch_table_json", "split_b3dm"]

_HEADER = 28


def _padded(data: bytes, start: int) -> bytes:
    return data + b" " * ((-(start + len(data))) % 8)


def batch_table_json(table: PropertyTable, rows: Sequence[int]) -> dict[str, Any]:
    """The batch table of ``rows``: property id -> list of values."""
    return {col.id: table.json_values(col, rows) for col in table.columns}


def b3dm_bytes(glb: bytes, batch_length: int, batch_table: dict[str, Any] | None) -> bytes:
    """Wrap a glb (with ``_BATCHID``) and its batch table into b3dm bytes."""
    feature_json = _padded(dumps({"BATCH_LENGTH": int(batch_length)}), _HEADER)
    batch_json = _padded(dumps(batch_table), _HEADER + len(feature_json)) if batch_table else b""
    total = _HEADER + len(feature_json) + len(batch_json) + len(glb)
    header = struct.pack("<4sIIIIII", b"b3dm", 1, total, len(feature_json), 0, len(batch_json), 0)
    return header + feature_json + batch_json + glb


def split_b3dm(data: bytes) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Feature table JSON, batch table JSON and the glb of b3dm bytes."""
    magic, version, length, ftj, ftb, btj, btb = struct.unpack_from("<4sIIIIII", data, 0)
    if magic != b"b3dm" or version != 1:
        raise ValueError("not a b3dm 1")
    off = _HEADER
    feature = loads(data[off : off + ftj]) if ftj else {}
    off += ftj + ftb
    batch = loads(data[off : off + btj]) if btj else {}
    off += btj + btb
    return feature, batch, bytes(data[off:length])
