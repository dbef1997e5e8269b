"""The buildings layer: scene buildings -> features with properties -> tile tree -> tileset files.

One feature per top-level building; its parts' geometry joins it (highest LOD of each part).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..scene import Scene
from .b3dm import b3dm_bytes, batch_table_json
from .features import (
    BuildingRunInfo,
    PropertyTable,
    derive_columns,
    flatten_object,
    run_properties,
)
from .georef import LocalFrame, box_volume, column_major, translation
from .gltf import MeshContent, mesh_glb, metadata_schema
from .style import Coloring, color_buildings
from .tiling import Blocks, ExportFeature, TileNode, build_tree, content_for, lod1_blocks

__all__ = ["BuildingLayer", "TilingOptions", "prepare_buildings", "tileset_json", "write_building_tiles"]

SCHEMA_ID = "cim_twin_buildings"
CLASS_ID = "building"


@dataclass(frozen=True)
class TilingOptions:
    """Caps of the tile tree: buildings and triangles per leaf, buildings per coarse (LOD1 block) tile."""

    max_features: int = 2000
    max_triangles: int = 200_000
    coarse_max_features: int = 4000


@dataclass
class BuildingLayer:
    """Prepared buildings: property table, features in the export frame, the tile tree."""

    table: PropertyTable
    features: list[ExportFeature]
    frame: LocalFrame
    tree: TileNode
    coloring: Coloring
    input_objects: int
    skipped: dict[str, int] = field(default_factory=dict)
    source_attribute_names: set[str] = field(default_factory=set)
    extent_wgs84: list[float] | None = None


def _buildings(scene: Scene) -> list[Any]:
    roots = scene.buildings()
    return roots if roots else list(scene.roots)


def frame_for(crs: Any, first_vertices: np.ndarray) -> LocalFrame:
    """The export frame: ENU at the lowest point of the first building (the same rule for the
    in-memory and the streaming path, so both give the same bytes)."""
    low = first_vertices[int(np.argmin(first_vertices[:, 2]))]
    return LocalFrame.for_scene_point(crs, float(low[0]), float(low[1]), float(low[2]))


#: Properties every exported building has; a source attribute of the same name (a tileset feature's
#: own ``id``, say) is kept as ``attribute.<name>`` instead of replacing them.
DERIVED_PROPERTIES = ("id", "kind", "height_m", "part_ids")


def building_row(obj: Any, run_info: BuildingRunInfo | None, codes: list[str] | None, with_actions: bool,
                 units: dict[str, str], groups: dict[str, str]) -> dict[str, Any]:
    """The flattened properties of one building (``units`` and ``groups`` collect per name)."""
    flat = flatten_object(obj, units)
    for key in DERIVED_PROPERTIES:
        if key in flat:
            flat[f"attribute.{key}"] = flat.pop(key)
            if key in units:
                units[f"attribute.{key}"] = units.pop(key)
    for key in flat if not flat.keys() <= groups.keys() else ():  # usually all named before
        if key not in groups:
            head = key.split(".")[0]
            if key.startswith("address."):
                groups[key] = "address"
            elif key in obj.generic_attributes or head in obj.generic_attributes or key.startswith("generic."):
                groups[key] = "generic"
            else:
                groups[key] = "attribute"
    row: dict[str, Any] = {"id": obj.id, "kind": obj.kind}
    height = obj.height_m
    row["height_m"] = None if height is None else round(float(height), 3)
    parts = [c.id for c in obj.children if c.kind.endswith("Part")]
    if parts:
        row["part_ids"] = "; ".join(parts)
    row.update(flat)
    if codes is not None:
        run = run_properties(run_info, codes, with_actions)
        row.update(run)
        for key in run:
            groups[key] = "catalog" if key.startswith("action") else "run"
    for key in DERIVED_PROPERTIES:
        groups[key] = "derived"
    units.setdefault("height_m", "m")
    return row


def source_attribute_names(groups: dict[str, str]) -> set[str]:
    """The flattened names that come from the source (attributes, address, generic attributes);
    ``groups`` names only keys some building's row holds."""
    return {name for name, group in groups.items() if group in ("attribute", "address", "generic")}


def feature_geometries(enu: np.ndarray, counts: np.ndarray, meshes: list[Any]
                       ) -> tuple[Blocks, np.ndarray, np.ndarray, np.ndarray]:
    """The LOD1 blocks of buildings in the frame (``enu``: their vertices one after the other,
    ``counts`` each), their bounds (``lo``, ``hi``, ``(n, 3)``) and sizes (m: the larger of
    footprint diagonal and height span), all for the whole batch at once."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    lo = np.minimum.reduceat(enu, starts, axis=0)
    hi = np.maximum.reduceat(enu, starts, axis=0)
    extent = hi - lo
    sizes = np.maximum(np.hypot(extent[:, 0], extent[:, 1]), extent[:, 2])
    tri_counts = np.array([len(m.triangles) for m in meshes], dtype=np.int64)
    blocks = lod1_blocks(enu, counts, np.concatenate([m.triangles for m in meshes]), tri_counts,
                         np.concatenate([m.semantics for m in meshes]))
    return blocks, lo, hi, sizes


def color_column(color_by: str | None, columns: list[Any]) -> Any:
    """The column ``--color-by`` reads (None without colouring or when it names nothing)."""
    if not color_by:
        return None
    names = ["worst_severity"] if color_by == "severity" else [f"indicator.{color_by}", color_by]
    for name in names:
        for col in columns:
            if col.name == name or col.id == name:
                return col
    return None


def prepare_buildings(scene: Scene, *, run: Any = None, color_by: str | None = None,
                      tiling: TilingOptions = TilingOptions(), frame: LocalFrame | None = None,
                      crs: Any = None) -> BuildingLayer:
    """Flatten properties, place geometry in the export frame and build the tile tree; ``crs`` is
    the scene CRS as placed on the globe (default ``scene.crs``; see :func:`.georef.placed_crs`).

    Raises
    ------
    ExportError
        when no building has geometry.
    CRSError
        when the scene's CRS is local (cannot be placed on the globe).
    """
    from ..errors import ExportError

    objects = _buildings(scene)
    with_geometry = []
    skipped: dict[str, int] = {}
    if len(objects) < len(scene.roots):  # buildings only: the audit says what else the source held
        for obj in scene.roots:
            if obj.kind != "Building":
                key = f"not a building ({obj.kind})"  # as the streaming path says it
                skipped[key] = skipped.get(key, 0) + 1
    for obj in objects:
        mesh = obj.mesh()
        if mesh.n_triangles == 0:
            skipped["without geometry"] = skipped.get("without geometry", 0) + 1
            continue
        with_geometry.append((obj, mesh))
    if not with_geometry:
        raise ExportError("no building with geometry to export",
                          path=scene.sources[0].path if scene.sources else None,
                          hint="check the source holds buildings with LOD1-4 geometry")
    crs = scene.crs if crs is None else crs
    if crs is None:
        from ..errors import CRSError

        raise CRSError("the scene has no CRS, so it cannot be placed on the globe",
                       hint="give the CRS with --crs EPSG:n")
    if frame is None:
        frame = frame_for(crs, with_geometry[0][1].vertices)
    # one pyproj call for all vertices
    counts = [len(m.vertices) for _, m in with_geometry]
    enu_all = frame.scene_to_enu(crs, np.concatenate([m.vertices for _, m in with_geometry]))
    enu_parts = np.split(enu_all, np.cumsum(counts)[:-1])

    units: dict[str, str] = {}
    groups: dict[str, str] = {}
    from .run import findings_by_object, run_info_for

    codes = run.indicator_codes if run is not None else None
    with_actions = bool(run.actions) if run is not None else False
    index = findings_by_object(run) if run is not None else {}
    rows = []
    for obj, _mesh in with_geometry:
        info = run_info_for(obj, run, index) if run is not None else None
        row = building_row(obj, info, codes, with_actions, units, groups)
        rows.append(row)
    columns = derive_columns(rows, units, groups, first=("id", "kind", "height_m"))
    table = PropertyTable(columns, rows)
    coloring = color_buildings(table, color_by)

    features = []
    blocks, _lo, _hi, sizes = feature_geometries(enu_all, np.array(counts), [m for _, m in with_geometry])
    for row_index, ((_obj, mesh), enu, bv, berr, size) in enumerate(
            zip(with_geometry, enu_parts, blocks.split(), blocks.errors.tolist(), sizes.tolist(), strict=True)):
        features.append(ExportFeature(row_index, enu, mesh.triangles.astype(np.int32), bv, blocks.triangles(row_index),
                                      coloring.colors[row_index], size, berr))
    tree = build_tree(features, max_features=tiling.max_features, max_triangles=tiling.max_triangles,
                      coarse_max_features=tiling.coarse_max_features)
    lo = np.min([f.lo for f in features], axis=0)
    hi = np.max([f.hi for f in features], axis=0)
    return BuildingLayer(table, features, frame, tree, coloring, len(objects), skipped, source_attribute_names(groups),
                         extent_of(frame, lo, hi))


def extent_of(frame: LocalFrame, lo: np.ndarray, hi: np.ndarray) -> list[float]:
    """WGS84 extent ``[min_lon, min_lat, min_h, max_lon, max_lat, max_h]`` of an ENU box."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    lon, lat, h = frame.enu_to_lonlat(corners)
    return [float(lon.min()), float(lat.min()), float(h.min()), float(lon.max()), float(lat.max()), float(h.max())]




def tile_path(node: TileNode, version: str) -> str:
    """The content URI of a tile, relative to its tileset.json."""
    return f"tiles/{node.address}.{'glb' if version == '1.1' else 'b3dm'}"


def tileset_json(tree: TileNode, frame: LocalFrame, version: str, extras: dict[str, Any]) -> dict[str, Any]:
    """tileset.json of a tile tree: the root carries ENU->ECEF times its own centre offset, every
    other tile the offset of its centre from its parent's."""

    def tile(node: TileNode, parent_centre: np.ndarray | None) -> dict[str, Any]:
        centre = node.centre
        if parent_centre is None:
            transform = frame.enu_to_ecef_matrix() @ translation(centre)
        else:
            transform = translation(centre - parent_centre)
        out: dict[str, Any] = {
            "boundingVolume": {"box": box_volume(np.maximum((node.hi - node.lo) / 2.0, 0.01))},
            "geometricError": float(node.geometric_error),
            "transform": column_major(transform),
            "content": {"uri": tile_path(node, version)},
        }
        if node.children or parent_centre is None:  # the root must state it (3D Tiles spec)
            out["refine"] = "REPLACE"
        if node.children:
            out["children"] = [tile(c, centre) for c in node.children]
        return out

    root = tile(tree, None)
    size = float(np.linalg.norm(tree.hi - tree.lo))
    return {
        "asset": {"version": version, "generator": f"cim-twin {__version__}", "extras": extras},
        "geometricError": max(size, 2.0 * tree.geometric_error, 1.0),
        "root": root,
    }


def tile_bytes(layer: BuildingLayer, node: TileNode, version: str, schema: dict[str, Any]) -> bytes:
    """The content bytes of one tile (glb for 1.1, b3dm for 1.0)."""
    content, rows = content_for(layer.features, node.content, node.coarse, node.centre)
    return encode_tile(content, layer.table, [layer.features[i].row for i in rows], (version,), schema)[0]


def encode_tile(content: MeshContent, table: PropertyTable, rows: Sequence[int],
                versions: tuple[str, ...] | list[str], schema: dict[str, Any]) -> list[bytes]:
    """The bytes of one tile's ``content`` with the properties of ``rows`` of ``table``, per version
    (glb for 1.1, b3dm for 1.0)."""
    count = len(rows)
    out = []
    for version in versions:
        glb = mesh_glb(content, feature_count=count, table=table, rows=rows, schema=schema,
                       class_id=CLASS_ID, tiles_version=version, generator=f"cim-twin {__version__}")
        out.append(glb if version == "1.1" else b3dm_bytes(glb, count, batch_table_json(table, rows)))
    return out


_TILE_JOB: tuple[Any, ...] | None = None


def _write_one_tile(index: int) -> int:
    assert _TILE_JOB is not None
    layer, nodes, version, schema, out_dir, write = _TILE_JOB
    data = tile_bytes(layer, nodes[index], version, schema)
    write(out_dir / tile_path(nodes[index], version), data)
    return len(data)


def write_building_tiles(layer: BuildingLayer, out_dir: Path, version: str, extras: dict[str, Any],
                         write: Callable[[Path, bytes], None], on_tile: Callable[[], None] | None = None,
                         processes: int = 1) -> dict[str, Any]:
    """Write ``tileset.json`` and every tile of ``layer`` under ``out_dir`` through ``write``, the
    tiles in ``processes`` forked worker processes when there are enough of them.

    Returns counts for the manifest (tiles, bytes, features).
    """
    global _TILE_JOB
    schema = metadata_schema(layer.table.columns, CLASS_ID, "Building", SCHEMA_ID)
    nodes = layer.tree.walk()
    total = 0
    if processes > 1 and len(nodes) >= 4 * processes:
        import multiprocessing

        from ..gc_control import frozen_for_fork

        _TILE_JOB = (layer, nodes, version, schema, out_dir, write)
        try:
            # the workers inherit the scene; frozen, their collections never touch (and copy) it
            with frozen_for_fork(), multiprocessing.get_context("fork").Pool(processes) as pool:
                for size in pool.imap_unordered(_write_one_tile, range(len(nodes))):
                    total += size
                    if on_tile is not None:
                        on_tile()
        finally:
            _TILE_JOB = None
    else:
        for node in nodes:
            data = tile_bytes(layer, node, version, schema)
            write(out_dir / tile_path(node, version), data)
            total += len(data)
            if on_tile is not None:
                on_tile()
    from ..serialization import dumps_pretty

    ts = dumps_pretty(tileset_json(layer.tree, layer.frame, version, extras))
    write(out_dir / "tileset.json", ts)
    return {"tiles": len(nodes), "bytes": total + len(ts), "depth": max(len(n.address) for n in nodes) - 1}
