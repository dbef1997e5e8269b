"""The conversion audit: what went in, what came out, and how exactly it came back.

After the tiles are written, the audit reads the tileset back from disk on its own path (tileset
JSON, tile transforms composed root to leaf, glb or b3dm decoded, glTF y-up turned back to z-up,
ECEF back to the scene CRS with pyproj) and compares, for a sample of buildings, every source vertex
with the nearest decoded vertex of the same feature (found by its ``id`` property). When the project's
3D Tiles reader is installed, the same comparison runs through it as well
(``reader_max_position_error_m``). It also checks that every exported building is found in the leaf
tiles, and that the sampled buildings' properties read back equal what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..crs import transformer
from ..scene import Scene
from ..serialization import loads
from .b3dm import split_b3dm
from .buildings import BuildingLayer
from .georef import gltf_to_enu
from .gltf import decode_glb, read_accessor, read_property_table

__all__ = ["audit_buildings", "read_leaf_features"]

TARGET_ERROR_M = 0.01


def _matrix(values: list[float] | None) -> np.ndarray:
    return np.eye(4) if values is None else np.array(values, dtype=np.float64).reshape(4, 4).T


def read_leaf_features(tileset_path: Path) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Decode the leaf tiles of a tileset: building id -> (ECEF vertices, properties)."""
    tileset = loads(tileset_path.read_bytes())
    base = tileset_path.parent
    out: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}

    def visit(tile: dict[str, Any], parent: np.ndarray) -> None:
        world = parent @ _matrix(tile.get("transform"))
        children = tile.get("children") or []
        uri = (tile.get("content") or {}).get("uri")
        if uri and not children:
            data = (base / uri).read_bytes()
            if data[:4] == b"b3dm":
                _, batch, glb = split_b3dm(data)
                gltf, binary = decode_glb(glb)
                prim = gltf["meshes"][0]["primitives"][0]
                fids = read_accessor(gltf, binary, prim["attributes"]["_BATCHID"]).astype(np.int64)
                props = batch
            else:
                gltf, binary = decode_glb(data)
                prim = gltf["meshes"][0]["primitives"][0]
                fids = read_accessor(gltf, binary, prim["attributes"]["_FEATURE_ID_0"]).astype(np.int64)
                props = read_property_table(gltf, binary)
            pos = gltf_to_enu(read_accessor(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64))
            ecef = pos @ world[:3, :3].T + world[:3, 3]
            ids = props["id"]
            for fid in np.unique(fids):
                row = {k: v[int(fid)] for k, v in props.items()}
                out[str(ids[int(fid)])] = (ecef[fids == fid], row)
        for child in children:
            visit(child, world)

    visit(tileset["root"], np.eye(4))
    return out


def _ecef_to_scene(scene: Scene, ecef: np.ndarray) -> np.ndarray:
    lon, lat, h = transformer("EPSG:4978", "EPSG:4979").transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    x, y = transformer("EPSG:4326", scene.crs.horizontal_key).transform(lon, lat)
    return np.column_stack([x, y, h])


def _max_nearest(source: np.ndarray, decoded: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(decoded).query(source, k=1)
    return float(np.max(dist))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def audit_buildings(scene: Scene, layer: BuildingLayer, tileset_path: Path, *, sample: int = 200,
                    seed: int = 0) -> dict[str, Any]:
    """Audit one written building tileset against its scene (see the module docstring)."""
    decoded = read_leaf_features(tileset_path)
    ids = [row["id"] for row in layer.table.rows]
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(ids), size=min(sample, len(ids)), replace=False).tolist())
    errors = []
    attr_mismatch: list[str] = []
    version_11 = not tileset_path.parent.name.endswith("1.0")
    for i in picked:
        bid = ids[i]
        if bid not in decoded:
            continue
        ecef, props = decoded[bid]
        mesh = scene[bid].mesh()
        src = mesh.vertices[np.unique(mesh.triangles)]  # vertices no triangle uses are not exported
        errors.append(_max_nearest(src, _ecef_to_scene(scene, ecef)))
        row = layer.table.rows[i]
        for col in layer.table.columns:
            want = layer.table.values(col, [i])[0] if version_11 else layer.table.json_values(col, [i])[0]
            if isinstance(want, np.generic):
                want = want.item()
            if not _same(want, props.get(col.id)):
                attr_mismatch.append(f"{bid}:{col.name}")
        del row
    missing = [bid for bid in ids if bid not in decoded]
    report: dict[str, Any] = {
        "tileset": tileset_path.parent.name + "/" + tileset_path.name,
        "input_objects": layer.input_objects,
        "exported_features": len(ids),
        "features_in_leaf_tiles": len(ids) - len(missing),
        "missing_features": missing[:20],
        "skipped": layer.skipped,
        "attributes_in_source": len(layer.source_attribute_names),
        "attributes_kept": sum(1 for c in layer.table.columns if c.name in layer.source_attribute_names),
        "attributes_lost": sorted(layer.source_attribute_names - {c.name for c in layer.table.columns}),
        "properties_exported": len(layer.table.columns),
        "sampled_features": len(errors),
        "attribute_mismatches": attr_mismatch[:20],
        "max_position_error_m": max(errors) if errors else None,
        "mean_position_error_m": float(np.mean(errors)) if errors else None,
        "target_error_m": TARGET_ERROR_M,
    }
    report["reader_max_position_error_m"] = _reader_round_trip(scene, tileset_path, [ids[i] for i in picked])
    report["passed"] = bool(
        not missing and not attr_mismatch and not report["attributes_lost"] and errors
        and max(errors) < TARGET_ERROR_M
        and (report["reader_max_position_error_m"] is None or report["reader_max_position_error_m"] < TARGET_ERROR_M)
    )
    return report


def _reader_round_trip(scene: Scene, tileset_path: Path, ids: list[str]) -> float | None:
    """Max error through the project's 3D Tiles reader, None when no such reader is installed."""
    try:
        from ..indicators.host import get_host

        reader = get_host().readers.get("3dtiles")
    except Exception:
        return None
    if reader is None:
        return None
    try:
        back = reader.read(tileset_path, crs=scene.crs.name)
    except Exception:  # the reader's own problem must not hide the export's audit
        return None
    worst = 0.0
    for bid in ids:
        obj = back.get(bid)
        if obj is None or not obj.has_geometry:
            continue
        mesh = scene[bid].mesh()
        worst = max(worst, _max_nearest(mesh.vertices[np.unique(mesh.triangles)], obj.mesh().vertices))
    return worst
