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

import zlib
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

__all__ = ["audit_buildings", "audit_tileset", "read_leaf_features"]

TARGET_ERROR_M = 0.01
#: Above this many buildings the reader round trip is skipped (it would hold the whole city).
READER_AUDIT_MAX_FEATURES = 20_000


def _matrix(values: list[float] | None) -> np.ndarray:
    return np.eye(4) if values is None else np.array(values, dtype=np.float64).reshape(4, 4).T


def read_leaf_features(tileset_path: Path, keep: set[str] | None = None,
                       seen: set[str] | None = None) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Decode the leaf tiles of a tileset: building id -> (ECEF vertices, properties), for the ids
    in ``keep`` (all when None); every id found is added to ``seen``."""
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
                props = None
            ids = batch["id"] if props is not None else read_property_table(gltf, binary, only={"id"})["id"]
            if seen is not None:
                seen.update(str(i) for i in ids)
            wanted = [f for f in range(len(ids)) if keep is None or str(ids[f]) in keep]
            if wanted:
                if props is None:  # 1.1: decode only the wanted features' rows
                    table = read_property_table(gltf, binary, rows=wanted)
                    rows_of = {fid: {k: v[j] for k, v in table.items()} for j, fid in enumerate(wanted)}
                else:
                    rows_of = {fid: {k: v[fid] for k, v in props.items()} for fid in wanted}
                pos = gltf_to_enu(read_accessor(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64))
                ecef = pos @ world[:3, :3].T + world[:3, 3]
                for fid in wanted:
                    out[str(ids[fid])] = (ecef[fids == fid], rows_of[fid])
        for child in children:
            visit(child, world)

    visit(tileset["root"], np.eye(4))
    return out


def _ecef_to_scene(crs: Any, ecef: np.ndarray) -> np.ndarray:
    lon, lat, h = transformer("EPSG:4978", "EPSG:4979").transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    # three coordinates: a topocentric (ENU) scene CRS changes the height too; a projected one keeps it
    x, y, z = transformer("EPSG:4326", crs.horizontal_key).transform(lon, lat, h)
    return np.column_stack([x, y, z])


def _max_nearest(source: np.ndarray, decoded: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(decoded).query(source, k=1)
    return float(np.max(dist))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def sample_order(building_id: str) -> tuple[int, str]:
    """Sampling key: the audit samples the buildings with the smallest keys (a hash of the id), so
    the in-memory and the streaming path sample the same buildings."""
    return zlib.crc32(building_id.encode()), building_id


def audit_buildings(scene: Scene, layer: BuildingLayer, tileset_path: Path, *, sample: int = 200) -> dict[str, Any]:
    """Audit one written building tileset against its scene (see the module docstring)."""
    ids = [row["id"] for row in layer.table.rows]
    picked = sorted(range(len(ids)), key=lambda i: sample_order(ids[i]))[:sample]
    samples = []
    for i in picked:
        mesh = scene[ids[i]].mesh()
        samples.append((ids[i], mesh.vertices[np.unique(mesh.triangles)], layer.table.rows[i]))
    return audit_tileset(scene.crs, tileset_path, samples, ids, input_objects=layer.input_objects,
                         skipped=layer.skipped, source_names=layer.source_attribute_names,
                         columns=layer.table.columns)


def audit_tileset(crs: Any, tileset_path: Path, samples: list[tuple[str, np.ndarray, dict[str, Any]]],
                  ids: list[str], *, input_objects: int, skipped: dict[str, int], source_names: set[str],
                  columns: list[Any]) -> dict[str, Any]:
    """Compare sampled buildings (id, source vertices in ``crs``, written row) with what the tileset
    holds; check every id is in a leaf tile and no attribute was lost."""
    from .features import PropertyTable

    seen: set[str] = set()
    decoded = read_leaf_features(tileset_path, keep={s[0] for s in samples}, seen=seen)
    version_11 = not tileset_path.parent.name.endswith("1.0")
    errors = []
    attr_mismatch: list[str] = []
    for bid, src, row in samples:
        if bid not in decoded:
            continue
        ecef, props = decoded[bid]
        errors.append(_max_nearest(src, _ecef_to_scene(crs, ecef)))
        table = PropertyTable(columns, [row])
        for col in columns:
            want = table.values(col, [0])[0] if version_11 else table.json_values(col, [0])[0]
            if isinstance(want, np.generic):
                want = want.item()
            if not _same(want, props.get(col.id)):
                attr_mismatch.append(f"{bid}:{col.name}")
    missing = [bid for bid in ids if bid not in seen]
    names = {c.name for c in columns}
    report: dict[str, Any] = {
        "tileset": tileset_path.parent.name + "/" + tileset_path.name,
        "input_objects": input_objects,
        "exported_features": len(ids),
        "features_in_leaf_tiles": len(ids) - len(missing),
        "missing_features": missing[:20],
        "skipped": skipped,
        "attributes_in_source": len(source_names),
        "attributes_kept": len(source_names & names),
        "attributes_lost": sorted(source_names - names),
        "properties_exported": len(columns),
        "sampled_features": len(errors),
        "attribute_mismatches": attr_mismatch[:20],
        "max_position_error_m": max(errors) if errors else None,
        "mean_position_error_m": float(np.mean(errors)) if errors else None,
        "target_error_m": TARGET_ERROR_M,
    }
    reader_error = None
    if len(ids) <= READER_AUDIT_MAX_FEATURES:
        reader_error = _reader_round_trip(crs, tileset_path, {s[0]: s[1] for s in samples})
    report["reader_max_position_error_m"] = reader_error
    report["passed"] = bool(
        not missing and not attr_mismatch and not report["attributes_lost"] and errors
        and max(errors) < TARGET_ERROR_M and (reader_error is None or reader_error < TARGET_ERROR_M)
    )
    return report


def _reader_round_trip(crs: Any, tileset_path: Path, sources: dict[str, np.ndarray]) -> float | None:
    """Max error through the project's 3D Tiles reader, None when no such reader is installed."""
    try:
        from ..indicators.host import get_host

        reader = get_host().readers.get("3dtiles")
    except Exception:
        return None
    if reader is None:
        return None
    try:
        back = reader.read(tileset_path, crs=crs.name)
    except Exception:  # the reader's own problem must not hide the export's audit
        return None
    worst = 0.0
    for bid, src in sources.items():
        obj = back.get(bid)
        if obj is None or not obj.has_geometry:
            continue
        worst = max(worst, _max_nearest(src, obj.mesh().vertices))
    return worst
