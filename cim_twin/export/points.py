"""The problem layer as 3D Tiles: every finding one point (glTF POINTS) with its metadata.

3D Tiles 1.1: glb with ``mode`` 0 (POINTS), ``_FEATURE_ID_0`` (EXT_mesh_features, one feature per
finding) and an EXT_structural_metadata property table of class ``problem``. 3D Tiles 1.0: a Point
Cloud (pnts) tile with ``POSITION``, ``RGBA`` and ``BATCH_ID`` and a batch table with the same
properties. Points are coloured by severity; ``style.json`` beside the tileset sets their size and
colour. Findings are split into tiles of at most ``max_points`` by a median split along x and y.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..model import ProblemPoint
from ..serialization import dumps, dumps_pretty
from .features import PropertyTable, derive_columns
from .georef import LocalFrame, box_volume, column_major, enu_to_gltf, translation
from .gltf import MeshContent, mesh_glb, metadata_schema
from .style import NO_VALUE, SEVERITY_COLORS, SEVERITY_ZH, _css, _quote, hex_color

__all__ = ["ProblemLayer", "finding_rows", "prepare_problems", "problem_style", "write_problem_tiles"]

SCHEMA_ID = "cim_twin_problems"
CLASS_ID = "problem"


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else float(value.timestamp())


def finding_rows(findings: list[ProblemPoint]) -> list[dict[str, Any]]:
    """One flat row per finding (the properties of the problem layer and problems.geojson)."""
    rows = []
    for f in findings:
        rows.append({
            "id": f.id,
            "indicator": f.indicator,
            "severity": f.severity.value,
            "severity_zh": SEVERITY_ZH[f.severity.value],
            "severity_rank": f.severity.rank,
            "score": float(f.score),
            "value": f.value,
            "threshold": f.threshold,
            "unit": f.unit or "",
            "status": f.status.value,
            "period": f.period,
            "observed_at": f.observed_at.isoformat(),
            "observed_at_epoch": _epoch(f.observed_at),
            "valid_from": f.valid_from.isoformat(),
            "valid_from_epoch": _epoch(f.valid_from),
            "valid_to": f.valid_to.isoformat() if f.valid_to else "",
            "valid_to_epoch": _epoch(f.valid_to),
            "object_ids": "; ".join(f.object_ids),
            "unit_id": f.unit_id or "",
            "message_zh": f.message_zh,
            "message_en": f.message_en,
            "source": f.source,
            "key": f.key,
        })
    return rows


@dataclass
class ProblemLayer:
    """The findings ready for tiling: properties, positions (ENU of ``frame`` and WGS84), colours."""

    table: PropertyTable
    enu: np.ndarray
    lonlat: np.ndarray
    colors: np.ndarray
    frame: LocalFrame
    findings: list[ProblemPoint]


def finding_positions(findings: list[ProblemPoint], scene_crs: Any) -> np.ndarray:
    """``(n, 3)`` lon, lat, ellipsoidal height of every finding (from its own lon/lat when it has
    them, else from x/y/z in the scene CRS)."""
    out = np.zeros((len(findings), 3))
    need = [i for i, f in enumerate(findings) if f.lon is None or f.lat is None]
    raise_by = getattr(scene_crs, "geoid_height_m", 0.0)  # the run's heights are the source's
    for i, f in enumerate(findings):
        if f.lon is not None and f.lat is not None:
            out[i] = (f.lon, f.lat, (f.height if f.height is not None else f.z) + raise_by)
    if need:
        if scene_crs is None:
            from ..errors import ExportError

            raise ExportError("findings without lon/lat and no scene CRS to place them",
                              object_id=findings[need[0]].id, hint="export with the scene the run was made on")
        xyz = np.array([[findings[i].x, findings[i].y, findings[i].z] for i in need])
        lon, lat, h = scene_crs.to_wgs84(xyz[:, 0], xyz[:, 1], xyz[:, 2])
        out[need] = np.column_stack([lon, lat, h])
    return out


def prepare_problems(findings: list[ProblemPoint], scene_crs: Any, frame: LocalFrame | None) -> ProblemLayer:
    """The problem layer of ``findings`` (sorted by id) in ``frame`` (default: one at their centre)."""
    findings = sorted(findings, key=lambda f: f.id)
    rows = finding_rows(findings)
    columns = derive_columns(rows, {"value": "", "threshold": ""}, {}, first=("id", "indicator", "severity"))
    table = PropertyTable(columns, rows)
    lonlat = finding_positions(findings, scene_crs)
    if frame is None:
        centre = (lonlat.min(axis=0) + lonlat.max(axis=0)) / 2
        frame = LocalFrame.at_lonlat(float(centre[0]), float(centre[1]), float(lonlat[:, 2].min()))
    enu = frame.lonlat_to_enu(lonlat[:, 0], lonlat[:, 1], lonlat[:, 2])
    colors = np.array([SEVERITY_COLORS.get(f.severity.value, NO_VALUE) for f in findings], np.uint8).reshape(-1, 4)
    return ProblemLayer(table, enu, lonlat, colors, frame, findings)


def problem_style() -> dict[str, Any]:
    """style.json of the problem layer: severity colours, 10 px points."""
    conditions = [[f"${{severity}} === {_quote(s)}", _css(c)] for s, c in SEVERITY_COLORS.items()]
    conditions.append(["true", _css(NO_VALUE)])
    return {"color": {"conditions": conditions}, "pointSize": 10}


def problem_legend() -> list[dict[str, Any]]:
    """The severity legend of the problem layers in layers.json."""
    return [{"label_en": s, "label_zh": SEVERITY_ZH[s], "value": s, "color": hex_color(c)}
            for s, c in SEVERITY_COLORS.items()]


def _chunks(enu: np.ndarray, idx: np.ndarray, max_points: int) -> list[np.ndarray]:
    if len(idx) <= max_points:
        return [idx]
    axis = int(np.argmax(enu[idx, :2].max(axis=0) - enu[idx, :2].min(axis=0)))
    order = idx[np.argsort(enu[idx, axis], kind="stable")]
    a, b = np.array_split(order, 2)
    return _chunks(enu, a, max_points) + _chunks(enu, b, max_points)


def _pnts(rel_enu: np.ndarray, colors: np.ndarray, batch: dict[str, Any]) -> bytes:
    n = len(rel_enu)
    positions = rel_enu.astype(np.float32).tobytes()  # pnts is z-up: no glTF axis swap
    rgba = np.ascontiguousarray(colors, dtype=np.uint8).tobytes()
    pad = (-len(rgba)) % 4
    batch_ids = np.arange(n, dtype=np.uint32).tobytes()
    body = positions + rgba + b"\0" * pad + batch_ids
    header = {"POINTS_LENGTH": n, "POSITION": {"byteOffset": 0}, "RGBA": {"byteOffset": len(positions)},
              "BATCH_ID": {"byteOffset": len(positions) + len(rgba) + pad, "componentType": "UNSIGNED_INT"},
              "BATCH_LENGTH": n}
    fj = dumps(header)
    fj += b" " * ((-(28 + len(fj))) % 8)
    body += b"\0" * ((-len(body)) % 8)
    bj = dumps(batch)
    bj += b" " * ((-(28 + len(fj) + len(body) + len(bj))) % 8)
    total = 28 + len(fj) + len(body) + len(bj)
    return struct.pack("<4sIIIIII", b"pnts", 1, total, len(fj), len(body), len(bj), 0) + fj + body + bj


def write_problem_tiles(layer: ProblemLayer, out_dir: Path, version: str, extras: dict[str, Any],
                        write: Callable[[Path, bytes], None], *, max_points: int = 50_000) -> dict[str, Any]:
    """Write the problem tileset (tileset.json, tiles, style.json) under ``out_dir``."""
    schema = metadata_schema(layer.table.columns, CLASS_ID, "Problem", SCHEMA_ID)
    chunks = _chunks(layer.enu, np.arange(len(layer.enu)), max_points)
    frame_m = layer.frame.enu_to_ecef_matrix()
    tiles = []
    lo_all, hi_all = layer.enu.min(axis=0) - 1.0, layer.enu.max(axis=0) + 1.0
    root_centre = (lo_all + hi_all) / 2
    total = 0
    for k, idx in enumerate(chunks):
        lo, hi = layer.enu[idx].min(axis=0) - 1.0, layer.enu[idx].max(axis=0) + 1.0
        centre = (lo + hi) / 2
        rel = layer.enu[idx] - centre
        rows = [int(i) for i in idx]
        if version == "1.1":
            content = MeshContent(positions=enu_to_gltf(rel).astype(np.float32), normals=None,
                                  colors=layer.colors[idx], feature_ids=np.arange(len(idx), dtype=np.float32),
                                  indices=None, mode=0)
            data = mesh_glb(content, feature_count=len(idx), table=layer.table, rows=rows, schema=schema,
                            class_id=CLASS_ID, tiles_version="1.1", generator=f"cim-twin {__version__}")
            uri = f"tiles/p{k}.glb"
        else:
            batch = {c.id: layer.table.json_values(c, rows) for c in layer.table.columns}
            data = _pnts(rel, layer.colors[idx], batch)
            uri = f"tiles/p{k}.pnts"
        write(out_dir / uri, data)
        total += len(data)
        tiles.append({
            "boundingVolume": {"box": box_volume((hi - lo) / 2)},
            "geometricError": 0.0,
            "transform": column_major(translation(centre - root_centre)),
            "content": {"uri": uri},
        })
    size = float(np.linalg.norm(hi_all - lo_all))
    rt = translation(root_centre)
    root: dict[str, Any] = {
        "boundingVolume": {"box": box_volume((hi_all - lo_all) / 2)},
        "transform": column_major(frame_m @ rt),
    }
    if len(tiles) == 1:
        only = tiles[0]
        root["geometricError"] = 0.0
        root["refine"] = "ADD"  # the root must state it (3D Tiles spec)
        root["content"] = only["content"]
        root["boundingVolume"] = only["boundingVolume"]
        root["transform"] = column_major(frame_m @ rt @ np.array(only["transform"]).reshape(4, 4).T)
    else:
        # points are cheap and a finding must not vanish when zooming out: a large error makes every
        # client refine the empty root at any distance, so all point tiles in view load
        root["geometricError"] = max(size * 100.0, 10_000.0)
        root["refine"] = "ADD"
        root["children"] = tiles
    tileset = {"asset": {"version": version, "generator": f"cim-twin {__version__}", "extras": extras},
               "geometricError": max(size * 200.0, 20_000.0), "root": root}
    ts = dumps_pretty(tileset)
    write(out_dir / "tileset.json", ts)
    style = dumps_pretty(problem_style())
    write(out_dir / "style.json", style)
    return {"tiles": len(tiles), "bytes": total + len(ts) + len(style)}
