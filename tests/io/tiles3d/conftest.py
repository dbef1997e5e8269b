"""Small synthetic tilesets for the rules real samples do not exercise (feature identity across
REPLACE levels and tiles, unsafe URIs, broken binaries). Tiles are written with py3dtiles, an
implementation independent of the reader under test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# ENU -> ECEF at lon 118.17, lat 26.64 (Nanping): tiles are placed there with a tile transform.
LON0, LAT0 = 118.17, 26.64


def enu_to_ecef_matrix(lon: float = LON0, lat: float = LAT0) -> np.ndarray:
    from pyproj import Transformer

    x, y, z = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon, lat, 0.0)
    lo, la = np.radians(lon), np.radians(lat)
    east = [-np.sin(lo), np.cos(lo), 0.0]
    north = [-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)]
    up = [np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = east, north, up, [x, y, z]
    return m


def box_mesh(x0: float, y0: float, size: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed box (z-up), outward triangles."""
    v = np.array(
        [[x0, y0, 0], [x0 + size, y0, 0], [x0 + size, y0 + size, 0], [x0, y0 + size, 0],
         [x0, y0, height], [x0 + size, y0, height], [x0 + size, y0 + size, height], [x0, y0 + size, height]],
        dtype=np.float64,
    )
    t = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                  [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]], dtype=np.uint32)
    return v, t


def write_b3dm(path: Path, boxes: list[tuple[str, float, float, float, float]], extra: dict[str, list[Any]] | None = None) -> None:
    """A b3dm with one batched feature per box ``(gml_id, x0, y0, size, height)`` (z-up input,
    written y-up as glTF wants)."""
    from py3dtiles.tileset.content import B3dm
    from py3dtiles.tileset.content.b3dm_feature_table import B3dmFeatureTable
    from py3dtiles.tileset.content.batch_table import BatchTable

    vs, ts, ids = [], [], []
    for i, (_, x0, y0, size, height) in enumerate(boxes):
        v, t = box_mesh(x0, y0, size, height)
        ts.append(t + 8 * i)
        vs.append(v)
        ids.append(np.full(8, i, np.uint32))
    zup = np.concatenate(vs)
    yup = np.column_stack([zup[:, 0], zup[:, 2], -zup[:, 1]]).astype(np.float32)
    bt = BatchTable()
    bt.add_property_as_json("gml_id", [b[0] for b in boxes])
    bt.add_property_as_json("height", [float(b[4]) for b in boxes])
    for name, values in (extra or {}).items():
        bt.add_property_as_json(name, values)
    ft = B3dmFeatureTable()
    ft.set_batch_length(len(boxes))
    b3dm = B3dm.from_numpy_arrays(yup, np.concatenate(ts), batch_table=bt, feature_table=ft, batchids=np.concatenate(ids))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b3dm.to_array().tobytes())


def write_tileset(path: Path, root: dict[str, Any], *, transform: bool = True) -> Path:
    """A tileset.json; the root gets the ENU->ECEF transform at Nanping unless ``transform`` is False."""
    if transform and "transform" not in root:
        root = {"transform": enu_to_ecef_matrix().T.reshape(-1).tolist(), **root}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"asset": {"version": "1.0"}, "geometricError": 100, "root": root}))
    return path


BOX = {"box": [50, 50, 25, 60, 0, 0, 0, 60, 0, 0, 0, 30]}


@pytest.fixture
def tiles() -> dict[str, Callable[..., Any]]:
    return {"b3dm": write_b3dm, "tileset": write_tileset, "box": lambda: dict(BOX), "enu": enu_to_ecef_matrix}
