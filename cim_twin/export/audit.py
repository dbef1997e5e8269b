"""The conversion audit: what went in, what came out, and how exactly it came back.

After the tiles are written, the audit reads the tileset back from disk on its own path (tileset
JSON, tile transforms composed root to leaf, glb or b3dm decoded, glTF y-up turned back to z-up)
and compares, for a sample of buildings, every source vertex (taken to ECEF with pyproj) with the
nearest decoded vertex of the same feature (found by its ``id`` property). The same comparison runs
through the project's 3D Tiles reader (``reader_round_trip``: its status, and why when it did not
run). It also checks that every exported building is found in the leaf tiles, and that the sampled
buildings' properties read back equal what was written.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..scene import Scene
from ..serialization import atomic_write_bytes, dumps, loads
from .b3dm import split_b3dm
from .buildings import BuildingLayer
from .georef import gltf_to_enu
from .gltf import decode_glb, read_accessor, read_property_table

__all__ = ["audit_buildings", "audit_tileset", "guarded", "read_leaf_features", "reader_round_trip"]

TARGET_ERROR_M = 0.01
#: The reader round trip reads the leaf tiles of the sampled buildings up to this many features.
READER_AUDIT_MAX_FEATURES = 10_000


def guarded(tileset: str, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one tileset's audit; an exception in the audit itself becomes a failed report with its
    reason (the export is written and stays usable; the failure is listed in the audit's warnings)."""
    try:
        return check()
    except Exception as exc:  # a fault of the audit must not lose the export it checks
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {"tileset": tileset, "passed": False, "error": reason, "max_position_error_m": None,
                "reader_max_position_error_m": None,
                "reader_round_trip": {"status": "not run", "reason": f"the audit failed: {reason}"}}


def _matrix(values: list[float] | None) -> np.ndarray:
    return np.eye(4) if values is None else np.array(values, dtype=np.float64).reshape(4, 4).T


def leaf_tiles(tileset: dict[str, Any]) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Every leaf tile with content and its world matrix (tile transforms composed root to leaf)."""
    out: list[tuple[dict[str, Any], np.ndarray]] = []

    def visit(tile: dict[str, Any], parent: np.ndarray) -> None:
        world = parent @ _matrix(tile.get("transform"))
        children = tile.get("children") or []
        if not children and (tile.get("content") or {}).get("uri"):
            out.append((tile, world))
        for child in children:
            visit(child, world)

    visit(tileset["root"], np.eye(4))
    return out


def read_leaf_features(tileset_path: Path, keep: set[str] | None = None,
                       seen: dict[str, str] | None = None) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Decode the leaf tiles of a tileset: building id -> (ECEF vertices, properties), for the ids
    in ``keep`` (all when None); every id found is entered in ``seen`` with its tile's content URI."""
    tileset = loads(tileset_path.read_bytes())
    base = tileset_path.parent
    out: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    for tile, world in leaf_tiles(tileset):
        uri = tile["content"]["uri"]
        data = (base / uri).read_bytes()
        batch: dict[str, Any] | None = None
        if data[:4] == b"b3dm":
            _, batch, glb = split_b3dm(data)
            gltf, binary = decode_glb(glb)
            id_attribute = "_BATCHID"
        else:
            gltf, binary = decode_glb(data)
            id_attribute = "_FEATURE_ID_0"
        prim = gltf["meshes"][0]["primitives"][0]
        fids = read_accessor(gltf, binary, prim["attributes"][id_attribute]).astype(np.int64)
        ids = batch["id"] if batch is not None else read_property_table(gltf, binary, only={"id"})["id"]
        if seen is not None:
            seen.update((str(i), uri) for i in ids)
        wanted = [f for f in range(len(ids)) if keep is None or str(ids[f]) in keep]
        if not wanted:
            continue
        if batch is None:  # 1.1: decode only the wanted features' rows
            table = read_property_table(gltf, binary, rows=wanted)
            rows_of = {fid: {k: v[j] for k, v in table.items()} for j, fid in enumerate(wanted)}
        else:
            rows_of = {fid: {k: v[fid] for k, v in batch.items()} for fid in wanted}
        pos = gltf_to_enu(read_accessor(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64))
        ecef = pos @ world[:3, :3].T + world[:3, 3]
        for fid in wanted:
            out[str(ids[fid])] = (ecef[fids == fid], rows_of[fid])
    return out


def _to_ecef(crs: Any, xyz: np.ndarray) -> np.ndarray:
    return np.asarray(crs.to_ecef(xyz[:, 0], xyz[:, 1], xyz[:, 2]), dtype=np.float64)


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


def audit_buildings(scene: Scene, layer: BuildingLayer, tileset_path: Path, *, sample: int = 200,
                    crs: Any = None) -> dict[str, Any]:
    """Audit one written building tileset against its scene (see the module docstring); ``crs`` is
    the scene CRS as the export placed it (default ``scene.crs``)."""
    ids = [row["id"] for row in layer.table.rows]
    picked = sorted(range(len(ids)), key=lambda i: sample_order(ids[i]))[:sample]
    samples = []
    for i in picked:
        mesh = scene[ids[i]].mesh()
        samples.append((ids[i], mesh.vertices[np.unique(mesh.triangles)], layer.table.rows[i]))
    return audit_tileset(crs if crs is not None else scene.crs, tileset_path, samples, ids, input_objects=layer.input_objects,
                         skipped=layer.skipped, source_names=layer.source_attribute_names,
                         columns=layer.table.columns)


def audit_tileset(crs: Any, tileset_path: Path, samples: list[tuple[str, np.ndarray, dict[str, Any]]],
                  ids: list[str], *, input_objects: int, skipped: dict[str, int], source_names: set[str],
                  columns: list[Any]) -> dict[str, Any]:
    """Compare sampled buildings (id, source vertices in ``crs``, written row) with what the tileset
    holds; check every id is in a leaf tile and no attribute was lost.

    Positions are compared in ECEF (metres), so the audit works for every georeferenced scene CRS,
    local east-north-up frames included.
    """
    from .features import PropertyTable

    seen: dict[str, str] = {}
    decoded = read_leaf_features(tileset_path, keep={s[0] for s in samples}, seen=seen)
    counts = [len(v) for _, v, _ in samples]
    source_ecef = dict(zip([s[0] for s in samples], np.split(_to_ecef(crs, np.concatenate([v for _, v, _ in samples]))
                                                             if samples else np.zeros((0, 3)),
                                                             np.cumsum(counts)[:-1]), strict=True))
    version_11 = not tileset_path.parent.name.endswith("1.0")
    errors = []
    attr_mismatch: list[str] = []
    for bid, _src, row in samples:
        if bid not in decoded:
            continue
        ecef, props = decoded[bid]
        errors.append(_max_nearest(source_ecef[bid], ecef))
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
    reader = reader_round_trip(tileset_path, source_ecef, seen)
    report["reader_round_trip"] = reader
    report["reader_max_position_error_m"] = reader.get("max_position_error_m")
    reader_ok = reader["status"] == "ok" and reader["max_position_error_m"] < TARGET_ERROR_M
    report["passed"] = bool(
        not missing and not attr_mismatch and not report["attributes_lost"] and errors
        and max(errors) < TARGET_ERROR_M and (reader_ok or reader["status"] == "not run")
    )
    return report


def reader_round_trip(tileset_path: Path, source_ecef: dict[str, np.ndarray], tile_of: dict[str, str]) -> dict[str, Any]:
    """Read the sampled buildings back through the project's 3D Tiles reader and return
    ``{"status": "ok" | "not run" | "failed", "max_position_error_m", "sampled_features", "tiles",
    "reason"}``.

    Only the leaf tiles holding sampled buildings are read (at most :data:`READER_AUDIT_MAX_FEATURES`
    features), through a small flat tileset written beside the real one and removed afterwards, so
    the check costs the same for a city of any size. "not run" means the reader is not installed;
    "failed" that it raised or lost a sampled building, which fails the audit.
    """
    try:
        from ..indicators.host import get_host

        reader = get_host().readers.get("3dtiles")
    except Exception as exc:  # a broken plugin host must not hide the rest of the audit
        return {"status": "not run", "reason": f"plugin host: {exc}"}
    if reader is None:
        return {"status": "not run", "reason": "no 3D Tiles reader (3dtiles) is installed"}
    tileset = loads(tileset_path.read_bytes())
    per_tile: dict[str, int] = {}
    for uri in tile_of.values():
        per_tile[uri] = per_tile.get(uri, 0) + 1
    wanted_tiles: list[str] = []
    total = 0
    for bid in sorted(source_ecef, key=sample_order):
        tile = tile_of.get(bid)
        if tile is None or tile in wanted_tiles:
            continue
        if wanted_tiles and total + per_tile[tile] > READER_AUDIT_MAX_FEATURES:
            continue
        wanted_tiles.append(tile)
        total += per_tile[tile]
    if not wanted_tiles:
        return {"status": "failed", "reason": "no sampled building is in a leaf tile"}
    subset = tileset_path.parent / f".audit-{os.getpid()}.json"
    try:
        atomic_write_bytes(subset, dumps(_flat_subset(tileset, set(wanted_tiles))))
        back = reader.read(subset)
    except Exception as exc:  # the reader's own failure is the audit's finding, not a crash
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    finally:
        subset.unlink(missing_ok=True)
    worst = 0.0
    checked = 0
    lost = []
    wanted = set(wanted_tiles)
    for bid, src in source_ecef.items():
        if tile_of.get(bid) not in wanted:
            continue
        obj = back.get(bid)
        if obj is None or not obj.has_geometry:
            lost.append(bid)
            continue
        vertices = obj.mesh().vertices
        worst = max(worst, _max_nearest(src, _to_ecef(back.crs, vertices)))
        checked += 1
    report: dict[str, Any] = {"status": "ok" if not lost else "failed", "max_position_error_m": worst,
                              "sampled_features": checked, "tiles": len(wanted_tiles)}
    if lost:
        report["reason"] = f"the reader did not return {len(lost)} sampled buildings, e.g. {lost[0]}"
    return report


def _flat_subset(tileset: dict[str, Any], uris: set[str]) -> dict[str, Any]:
    """A tileset of the given leaf tiles only, each under the root with its composed transform."""
    root = tileset["root"]
    root_world = _matrix(root.get("transform"))
    inverse = np.linalg.inv(root_world)
    children = []
    for tile, world in leaf_tiles(tileset):
        if tile["content"]["uri"] in uris:
            children.append({"boundingVolume": tile["boundingVolume"], "geometricError": 0.0,
                             "transform": [float(x) for x in (inverse @ world).T.reshape(-1)],
                             "content": {"uri": tile["content"]["uri"]}})
    return {"asset": tileset["asset"], "geometricError": tileset["geometricError"],
            "root": {"boundingVolume": root["boundingVolume"], "geometricError": root["geometricError"],
                     "refine": "ADD", "transform": _matrix(root.get("transform")).T.reshape(-1).tolist(),
                     "children": children}}
