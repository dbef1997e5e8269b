"""Reading a 3D tileset into a :class:`~cim_twin.scene.Scene`, and the ``cim-twin info`` report.

Tiles are streamed: each content is decoded, its features converted from ECEF into the scene CRS
and kept; the decoded tile itself is dropped before the next one is read, so memory grows with the
features kept, not with the tiles visited.

Scene CRS
    By default a local east-north-up frame (``+proj=topocentric`` as a pyproj CRS) with its origin
    on the WGS84 ellipsoid below the centre of the root bounding volume: x east, y north, z up in
    metres, z near the ellipsoidal height. ``crs="EPSG:n"`` puts the scene in a projected CRS
    instead (heights stay ellipsoidal). A tileset whose root lies nowhere near the earth's surface
    (unit-cube samples, engineering models, projected coordinates written straight into the tiles)
    is not georeferenced: its own z-up frame is kept as a local CRS, or taken to be in ``crs`` when
    one is given.

Feature identity
    A feature is one object however many tiles hold it. Its identity is the first string-valued
    property among ``gml_id``, ``gml:id``, ``gmlId``, ``gmlid``, ``id``, ``ID``, ``Id``,
    ``uuid``, ``guid``, ``globalId``, ``feature_id`` (or the property named by
    ``identity_property``); numeric ids such as the 0-based ``id`` column many batch tables carry
    count only within their content. Without an identity the feature is scoped to its content URI
    and key (batch id, feature id, mesh or instance). When the same identity comes from several
    tiles, a tile below another that holds it replaces the coarser copy (finest level wins), and
    tiles that are not above one another are joined (a feature split across tiles). ``max_depth``
    stops the walk higher, so a coarser level is kept instead.

Surfaces and solids
    3D Tiles states neither surface types nor solids. Bottom faces become ``GROUND`` and a feature
    whose triangles close a shell is marked as a solid, so footprints and volumes work as they do
    on CityGML (:func:`analyse_surfaces`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ...crs import SceneCRS, parse_srs_name, topocentric_crs, transformer
from ...errors import CimTwinError, CRSError, FormatError, LoadWarning
from ...gc_control import gc_paused
from ...scene import CityObject, Mesh, Scene, SceneSource, SurfaceType
from .content import ContentFeature, DecodeContext, decode_content
from .source import PACKAGE_SUFFIX, TilesetSource
from .tileset import TilesetWalker

__all__ = ["read_tileset", "sniff_tileset", "tileset_info"]

#: 3D Tiles has no LOD notion of its own: feature meshes are stored at this LOD.
TILES_LOD = 2
IDENTITY_PROPERTIES = ("gml_id", "gml:id", "gmlId", "gmlid", "id", "ID", "Id", "uuid", "guid", "globalId", "feature_id")
#: Below this distance from the earth's centre (m) a tileset is taken as not georeferenced.
_MIN_GEOREFERENCED_RADIUS_M = 6_000_000.0


def tileset_file(path: Path) -> Path:
    """The tileset JSON of ``path`` (a file, or a folder holding ``tileset.json``), or the ``.3tz``
    package itself."""
    if path.is_dir():
        candidate = path / "tileset.json"
        if not candidate.is_file():
            raise FormatError("folder holds no tileset.json", path=path, hint="give the tileset JSON file itself")
        return candidate
    return path


def sniff_tileset(path: Path) -> bool:
    """Whether ``path`` is a tileset folder, a tileset JSON (reads at most 64 KiB) or a ``.3tz``
    package."""
    if path.suffix.lower() == PACKAGE_SUFFIX:
        # Claimed by its name: a broken package is then reported as one, not as an unknown file.
        return path.is_file()
    try:
        file = path / "tileset.json" if path.is_dir() else path
        if not file.is_file():
            return False
        with file.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 65536)
        except zlib.error:
            return False
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{") or b'"CityJSON"' in head:
        return False
    return b'"asset"' in head or (b'"root"' in head and b'"geometricError"' in head)


class _Piece(NamedTuple):
    """What one tile gave of a feature: the tile's path, the box ``(6,)`` (min xyz, max xyz; NaN
    when empty) and, when geometry is kept, vertices and triangles in the scene CRS."""

    path: tuple[int, ...]
    box: np.ndarray
    vertices: np.ndarray | None
    triangles: np.ndarray | None


@dataclass(slots=True)
class _Entry:
    """A feature kept so far, as the pieces the tiles gave of it."""

    object_id: str
    kind: str
    properties: dict[str, Any]
    pieces: list[_Piece] = field(default_factory=list)

    def box(self) -> tuple[np.ndarray, np.ndarray] | None:
        boxes = [p.box for p in self.pieces if not np.isnan(p.box[0])]
        if not boxes:
            return None
        stacked = np.asarray(boxes)
        return stacked[:, :3].min(axis=0), stacked[:, 3:].max(axis=0)


def _is_ancestor(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Tile ``a`` lies above tile ``b`` on the way from the root."""
    return len(a) < len(b) and b[: len(a)] == a


class _Collector:
    """Features by identity, applying the finest-level and split-feature rules.

    A piece from a tile below one that already gave the feature replaces that coarser piece; a
    piece from a tile above is dropped; pieces from unrelated tiles (or the same tile) are joined.
    """

    def __init__(self, *, keep_geometry: bool, identity_property: str | None) -> None:
        self.keep_geometry = keep_geometry
        self.identity_properties = (identity_property,) if identity_property else IDENTITY_PROPERTIES
        self.entries: dict[tuple[str, ...], _Entry] = {}
        self.property_names: set[str] = set()

    def identity(self, feature: ContentFeature, content: str) -> tuple[tuple[str, ...], str]:
        for name in self.identity_properties:
            value = feature.properties.get(name)
            if isinstance(value, str) and value.strip():
                return ("id", value), value
        object_id = content if feature.key == "points" and feature.kind == "PointCloud" else f"{content}#{feature.key}"
        return ("local", content, feature.key), object_id

    def add(self, feature: ContentFeature, vertices: np.ndarray, tile_path: tuple[int, ...], content: str,
            box: np.ndarray | None = None) -> None:
        key, object_id = self.identity(feature, content)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry(object_id, feature.kind, dict(feature.properties))
        else:
            if any(_is_ancestor(tile_path, p.path) for p in entry.pieces):
                return  # a finer tile below this one already gave the feature
            kept = [p for p in entry.pieces if not _is_ancestor(p.path, tile_path)]
            if len(kept) < len(entry.pieces):
                entry.pieces = kept
                if not kept:  # every piece so far was coarser: the finer copy takes over
                    entry.kind, entry.properties = feature.kind, dict(feature.properties)
            for name, value in feature.properties.items():
                entry.properties.setdefault(name, value)
        if not self.keep_geometry:
            # info only needs names and boxes: keep the names once, not a dict per feature
            self.property_names.update(feature.properties)
            entry.properties = {}
        if box is None:
            box = np.concatenate([vertices.min(axis=0), vertices.max(axis=0)]) if len(vertices) else np.full(6, np.nan)
        if self.keep_geometry:
            entry.pieces.append(_Piece(tile_path, box, vertices, feature.triangles))
        else:
            entry.pieces.append(_Piece(tile_path, box, None, None))


def _metric_crs(crs: str) -> SceneCRS:
    target = parse_srs_name(crs)
    if target.crs is None or target.is_geographic or target.crs.is_geocentric:
        raise CRSError(f"the scene CRS must be projected and metric, not {target.name}", hint="give a projected CRS, e.g. --crs EPSG:4548")
    return target


class _TilesetRead:
    """One pass over a tileset, shared by :func:`read_tileset` and :func:`tileset_info`."""

    def __init__(self, path: Path, *, crs: str | None, max_depth: int | None, allow_remote: bool,
                 keep_geometry: bool, identity_property: str | None) -> None:
        self.path = tileset_file(Path(path))
        if max_depth is not None and max_depth < 0:
            raise CimTwinError("max_depth must be 0 or more", hint="--max-depth 0 reads the root tile only")
        self.warnings: list[LoadWarning] = []
        self.source = TilesetSource(self.path, allow_remote=allow_remote)
        self.walker = TilesetWalker(self.source, max_depth=max_depth, warn=self._warn)
        self.collector = _Collector(keep_geometry=keep_geometry, identity_property=identity_property)
        self.crs, self._to_scene = self._scene_crs(crs)

    def _warn(self, place: str, message: str) -> None:
        self.warnings.append(LoadWarning(message, path=place))

    def _scene_crs(self, crs: str | None) -> tuple[SceneCRS, Any]:
        center = self.walker.root_center_ecef()
        georeferenced = center is not None and float(np.linalg.norm(center)) > _MIN_GEOREFERENCED_RADIUS_M
        if not georeferenced:
            if crs:
                # Coordinates that cannot be ECEF: some producers write projected coordinates
                # (e.g. CGCS2000 Gauss-Kruger) straight into the tiles. --crs states which.
                stated = _metric_crs(crs)
                self._warn(self.source.root.label, f"tileset is not georeferenced; its coordinates are taken as {stated.name} (--crs)")
                return stated, lambda v: v
            local = SceneCRS(name="local (tileset frame, not georeferenced)", horizontal_epsg=None, srs_name="local")
            self._warn(self.source.root.label, "tileset is not georeferenced; coordinates kept in its own z-up frame")
            return local, lambda v: v
        assert center is not None
        if crs:
            target = _metric_crs(crs)
            t = transformer("EPSG:4978", target.horizontal_key)

            def to_projected(v: np.ndarray) -> np.ndarray:
                x, y, z = t.transform(v[:, 0], v[:, 1], v[:, 2])
                return np.column_stack([x, y, z])

            return target, to_projected
        lon, lat, _ = transformer("EPSG:4978", "EPSG:4979").transform(float(center[0]), float(center[1]), float(center[2]))
        enu = topocentric_crs(float(lon), float(lat), 0.0)
        origin, rotation = enu_frame(float(lon), float(lat))
        return enu, lambda v: (v - origin) @ rotation.T

    def run(self, progress: bool | None = None) -> None:
        from ...progress import progress as progress_bar

        bar = progress_bar(desc="tiles", unit="tile", enabled=progress)
        try:
            walk = self.walker.walk()
            try:
                task = next(walk)
                while True:
                    ctx = DecodeContext(self.source, task.transform, task.up_axis, self._warn)
                    try:
                        kind, features = decode_content(task.data, task.location, ctx)
                    except CimTwinError as exc:
                        self._warn(exc.path or task.location.label, f"content skipped: {exc.message}" + (f" -- hint: {exc.hint}" if exc.hint else ""))
                        kind, features = "broken", []
                    except (ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError) as exc:
                        # Inconsistent binaries can still trip numpy; name the tile, keep the rest.
                        self._warn(task.location.label, f"content skipped: inconsistent data ({type(exc).__name__}: {exc})")
                        kind, features = "broken", []
                    self.walker.stats.contents[kind] += 1
                    self._keep(features, task.tile_path, task.location.label)
                    task.features = len(features)
                    task.data = b""
                    bar.update(1)
                    task = walk.send(None)
            except StopIteration:
                pass
        finally:
            bar.close()

    def _keep(self, features: list[ContentFeature], tile_path: tuple[int, ...], content: str) -> None:
        if not features:
            return
        sizes = [len(f.vertices) for f in features]
        stacked = np.concatenate([f.vertices for f in features]) if sum(sizes) else np.zeros((0, 3))
        converted = self._to_scene(stacked) if len(stacked) else stacked
        starts = np.cumsum([0, *sizes[:-1]])
        nonempty = [i for i, n in enumerate(sizes) if n]
        # Per-feature boxes (min xyz, max xyz) in one reduction over the whole content.
        boxes = (np.hstack([np.minimum.reduceat(converted, starts[nonempty], axis=0),
                            np.maximum.reduceat(converted, starts[nonempty], axis=0)]) if nonempty else None)
        box_of = {i: k for k, i in enumerate(nonempty)}
        for i, (f, n) in enumerate(zip(features, sizes, strict=True)):
            k = box_of.get(i)
            pos = int(starts[i])
            box = None if k is None or boxes is None else boxes[k]
            self.collector.add(f, converted[pos : pos + n], tile_path, content, box)

    def source_info(self) -> SceneSource:
        size = self.path.stat().st_size if self.path.is_file() else None
        return SceneSource(path=str(self.path), format="3dtiles", version=self.walker.version, size_bytes=size,
                           extra={"tilesetVersion": self.walker.asset.get("tilesetVersion")})


def read_tileset(
    path: str | Path,
    *,
    crs: str | None = None,
    max_depth: int | None = None,
    allow_remote: bool = False,
    identity_property: str | None = None,
    progress: bool | None = None,
    **_: Any,
) -> Scene:
    """Read a 3D Tiles 1.0/1.1 tileset into a scene.

    Parameters
    ----------
    path:
        ``tileset.json`` (any name) or the folder holding ``tileset.json``.
    crs:
        Target CRS (``"EPSG:4548"``); default a local east-north-up frame at the tileset.
    max_depth:
        Deepest tile depth read (root = 0).
    allow_remote:
        Fetch ``http(s)`` content URIs (refused otherwise).
    identity_property:
        Property that identifies a feature across tiles (default: see the module docstring).

    Returns
    -------
    Scene
        One :class:`CityObject` per feature (kinds ``Feature``, ``Building``, ``PointCloud``),
        problems with single tiles in ``scene.warnings``.

    Raises
    ------
    FormatError
        when the top tileset JSON cannot be read (broken tiles below it are warnings).
    UnsafeInputError
        when the top tileset itself points outside its folder in a way that stops the walk.
    CRSError
        for a geographic or unknown ``crs``.
    """
    with gc_paused():
        return _read(Path(path), crs=crs, max_depth=max_depth, allow_remote=allow_remote,
                     identity_property=identity_property, progress=progress)


def _read(path: Path, *, crs: str | None, max_depth: int | None, allow_remote: bool,
          identity_property: str | None, progress: bool | None) -> Scene:
    run = _TilesetRead(path, crs=crs, max_depth=max_depth, allow_remote=allow_remote,
                       keep_geometry=True, identity_property=identity_property)
    run.run(progress)
    scene = Scene(run.crs, source_crs=parse_srs_name("EPSG:4978") if not run.crs.is_local else run.crs,
                  sources=[run.source_info()])
    scene.warnings.extend(run.warnings)
    entries = list(run.collector.entries.values())
    for first in range(0, len(entries), _ANALYSIS_BATCH):
        batch = entries[first:first + _ANALYSIS_BATCH]
        meshes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i, entry in enumerate(batch):
            parts = [(p.vertices, p.triangles) for p in entry.pieces if p.vertices is not None and len(p.vertices)]
            if parts:
                offsets = np.cumsum([0, *(len(v) for v, _ in parts[:-1])])
                vertices = np.concatenate([v for v, _ in parts])
                triangles = np.concatenate([t + o for (_, t), o in zip(parts, offsets, strict=True)]).astype(np.int32)
                meshes[i] = (vertices, triangles)
        semantics, closed = analyse_surfaces(list(meshes.values()))
        analysed = {i: (sem, bool(shut)) for i, sem, shut in zip(meshes, semantics, closed, strict=True)}
        for i, entry in enumerate(batch):
            geometry = {}
            if i in meshes:
                (vertices, triangles), (sem, shut) = meshes[i], analysed[i]
                geometry[TILES_LOD] = Mesh(vertices=vertices, triangles=triangles, semantics=sem, solid_closed=shut)
            scene.add(CityObject(entry.object_id, entry.kind, attributes=entry.properties, geometry=geometry))
            entry.pieces = []
    return scene


def tileset_info(
    path: str | Path,
    *,
    crs: str | None = None,
    max_depth: int | None = None,
    allow_remote: bool = False,
    identity_property: str | None = None,
    progress: bool | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The ``cim-twin info`` report of a tileset, computed streaming (feature boxes only).

    Keys: ``format`` ("3dtiles"), ``version``, ``tileset_version``, ``crs``, ``tiles`` (total,
    with_content, implicit, external_tilesets, subtrees, max_depth, replaced_contents),
    ``contents`` (by kind: b3dm, glb, tileset, broken, ...), ``counts`` (features by kind),
    ``properties`` (property names), ``lods``, ``extent`` (scene CRS), ``extent_wgs84``,
    ``warnings``.
    """
    run = _TilesetRead(Path(path), crs=crs, max_depth=max_depth, allow_remote=allow_remote,
                       keep_geometry=False, identity_property=identity_property)
    with gc_paused():
        run.run(progress)
    stats = run.walker.stats
    counts: dict[str, int] = {}
    names: set[str] = set(run.collector.property_names)
    los, his = [], []
    for entry in run.collector.entries.values():
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
        names.update(entry.properties)
        box = entry.box()
        if box is not None:
            los.append(box[0])
            his.append(box[1])
    extent = extent_wgs84 = None
    if los:
        lo, hi = np.min(los, axis=0), np.max(his, axis=0)
        extent = [*map(float, lo), *map(float, hi)]
        if not run.crs.is_local:
            lo_a, hi_a = np.array(los), np.array(his)
            xs = np.concatenate([lo_a[:, 0], hi_a[:, 0], lo_a[:, 0], hi_a[:, 0]])
            ys = np.concatenate([lo_a[:, 1], lo_a[:, 1], hi_a[:, 1], hi_a[:, 1]])
            zs = np.concatenate([lo_a[:, 2], lo_a[:, 2], hi_a[:, 2], hi_a[:, 2]])
            lon, lat, h = run.crs.to_wgs84(xs, ys, zs)
            extent_wgs84 = [float(lon.min()), float(lat.min()), float(h.min()), float(lon.max()), float(lat.max()), float(h.max())]
    return {
        "format": "3dtiles",
        "version": run.walker.version,
        "tileset_version": run.walker.asset.get("tilesetVersion"),
        "crs": run.crs.name,
        "tiles": {
            "total": stats.tiles,
            "with_content": stats.tiles_with_content,
            "implicit": stats.implicit_tiles,
            "external_tilesets": stats.external_tilesets,
            "subtrees": stats.subtrees,
            "max_depth": stats.max_depth,
            "replaced_contents": stats.replaced_contents,
        },
        "contents": dict(sorted(stats.contents.items())),
        "counts": dict(sorted(counts.items())),
        "properties": sorted(names),
        "lods": [TILES_LOD] if any(k != "PointCloud" for k in counts) else [],
        "extent": extent,
        "extent_wgs84": extent_wgs84,
        "warnings": [str(w) for w in run.warnings],
    }


#: A bottom face within this height of the feature's lowest point counts as ground (m).
GROUND_TOLERANCE_M = 0.05


def ground_semantics(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Per-triangle surface types of one feature (see :func:`analyse_surfaces`)."""
    return analyse_surfaces([(vertices, triangles)])[0][0]


def is_closed_shell(vertices: np.ndarray, triangles: np.ndarray, tolerance_m: float = 1e-3) -> bool:
    """Whether one feature's triangles close a volume (see :func:`analyse_surfaces`)."""
    return bool(analyse_surfaces([(vertices, triangles)], tolerance_m)[1][0])


#: Features analysed together: vectorised over many small meshes, with bounded scratch memory.
_ANALYSIS_BATCH = 4096


def analyse_surfaces(
    meshes: list[tuple[np.ndarray, np.ndarray]], tolerance_m: float = 1e-3
) -> tuple[list[np.ndarray], np.ndarray]:
    """Ground faces and closedness of feature meshes, vectorised over the features.

    3D Tiles carries no surface semantics and does not say whether a feature is a solid:

    - **ground**: downward faces at a feature's lowest level are ``GROUND`` (the rest
      ``UNKNOWN``), so footprints, footprint areas and ground heights come from them, as they do
      for CityGML ground surfaces;
    - **closed**: after welding vertices that coincide within ``tolerance_m`` (glTF splits them per
      normal or UV), every edge is shared by exactly two triangles running it in opposite
      directions. ``volume_m3`` then works on watertight features (building boxes, most LOD2
      exports) and stays None on open ones (a photogrammetry shell, a roof without walls), as it
      does for CityGML surfaces outside a Solid.

    Parameters
    ----------
    meshes:
        ``(vertices (n, 3) float64, triangles (m, 3) int)`` per feature, each with vertices.

    Returns
    -------
    tuple
        Per feature its ``(m,)`` uint8 surface types, and a bool array: closed or not.
    """
    semantics: list[np.ndarray] = []
    closed = np.zeros(len(meshes), dtype=bool)
    for first in range(0, len(meshes), _ANALYSIS_BATCH):
        batch = meshes[first:first + _ANALYSIS_BATCH]
        sem, shut = _analyse_batch(batch, tolerance_m)
        semantics.extend(sem)
        closed[first:first + len(batch)] = shut
    return semantics, closed


def _analyse_batch(meshes: list[tuple[np.ndarray, np.ndarray]], tolerance_m: float) -> tuple[list[np.ndarray], np.ndarray]:
    k = len(meshes)
    if not k:
        return [], np.zeros(0, dtype=bool)
    n_verts = np.array([len(v) for v, _ in meshes], dtype=np.int64)
    n_tris = np.array([len(t) for _, t in meshes], dtype=np.int64)
    v_start = np.r_[0, np.cumsum(n_verts)[:-1]]
    t_start = np.r_[0, np.cumsum(n_tris)[:-1]]
    vertices = np.concatenate([v for v, _ in meshes]).astype(np.float64, copy=False)
    obj_of_tri = np.repeat(np.arange(k), n_tris)
    triangles = np.concatenate([t for _, t in meshes]).astype(np.int64) + np.repeat(v_start, n_tris)[:, None]
    obj_of_vert = np.repeat(np.arange(k), n_verts)

    # Ground: downward faces (normal within 8 degrees of straight down) at the feature's lowest level.
    c = vertices[triangles]
    u, w = c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]
    nx = u[:, 1] * w[:, 2] - u[:, 2] * w[:, 1]
    ny = u[:, 2] * w[:, 0] - u[:, 0] * w[:, 2]
    nz = u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]
    length = np.sqrt(nx * nx + ny * ny + nz * nz)
    down = (length > 0) & (nz < -0.99 * length)
    lowest = np.minimum.reduceat(vertices[:, 2], v_start)
    low = c[:, :, 2].max(axis=1) <= lowest[obj_of_tri] + GROUND_TOLERANCE_M
    sem = np.where(down & low, np.uint8(SurfaceType.GROUND), np.uint8(SurfaceType.UNKNOWN)).astype(np.uint8)
    semantics = np.split(sem, t_start[1:])

    # Weld: integer cells per feature (relative to its own corner), one int64 key a vertex (21
    # bits an axis: 2 km at 1 mm), ranked within the feature by one sort of (feature, key).
    corner = np.minimum.reduceat(vertices, v_start, axis=0)
    cells = np.floor((vertices - corner[obj_of_vert]) / tolerance_m + 0.5).astype(np.int64)
    too_big = np.zeros(k, dtype=bool)
    np.logical_or.at(too_big, obj_of_vert, (cells >= 1 << 21).any(axis=1))
    cells = np.minimum(cells, (1 << 21) - 1)
    keys = (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]
    order = np.lexsort((keys, obj_of_vert))
    new_group = np.r_[True, (np.diff(keys[order]) != 0) | (np.diff(obj_of_vert[order]) != 0)]
    welded = np.empty(len(keys), dtype=np.int64)
    welded[order] = np.cumsum(new_group) - 1
    n_welded = int(welded.max()) + 1 if len(welded) else 1

    # Edges of non-degenerate triangles: each directed edge once, and its reverse present.
    tri = welded[triangles]
    good = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 2] != tri[:, 0])
    closed = np.bincount(obj_of_tri[good], minlength=k) >= 4
    tri, edge_obj = tri[good], np.repeat(obj_of_tri[good], 3)
    start, end = tri.reshape(-1), tri[:, [1, 2, 0]].reshape(-1)
    code = start * n_welded + end
    by_code = np.argsort(code, kind="stable")
    sorted_code = code[by_code]
    repeated = np.flatnonzero(sorted_code[1:] == sorted_code[:-1])
    closed[edge_obj[by_code[repeated]]] = False  # an edge run twice the same way: flipped faces, a fin
    reverse = end * n_welded + start
    where = np.searchsorted(sorted_code, reverse).clip(max=max(len(sorted_code) - 1, 0))
    if len(sorted_code):
        closed[edge_obj[sorted_code[where] != reverse]] = False  # an open edge
    # Features wider than the key allows: one at a time, welded on their 3-D cells.
    for i in np.flatnonzero(too_big):
        closed[i] = _closed_wide(meshes[i][0], meshes[i][1], tolerance_m)
    return semantics, closed


def _closed_wide(vertices: np.ndarray, triangles: np.ndarray, tolerance_m: float) -> bool:
    """The closedness test for one feature more than 2 km across (rare: welded on 3-D cells)."""
    cells = np.floor((vertices - vertices.min(axis=0)) / tolerance_m + 0.5).astype(np.int64)
    _, welded = np.unique(cells, axis=0, return_inverse=True)
    tri = welded.reshape(-1)[triangles].astype(np.int64)
    tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 2] != tri[:, 0])]
    if len(tri) < 4:
        return False
    start, end = tri.reshape(-1), tri[:, [1, 2, 0]].reshape(-1)
    n = int(tri.max()) + 1
    directed = np.sort(start * n + end)
    if (directed[1:] == directed[:-1]).any():
        return False
    reverse = end * n + start
    where = np.searchsorted(directed, reverse).clip(max=len(directed) - 1)
    return bool((directed[where] == reverse).all())


def enu_frame(lon_deg: float, lat_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """ECEF origin (on the ellipsoid) and the 3x3 rotation ECEF -> east-north-up at a point."""
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    n = a / np.sqrt(1 - e2 * sl * sl)
    origin = np.array([n * cl * co, n * cl * so, n * (1 - e2) * sl])
    rotation = np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])
    return origin, rotation
