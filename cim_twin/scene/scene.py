"""The Scene: one CRS, city objects in a tree, warnings, and a spatial index."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from ..crs import SceneCRS
from ..errors import LoadWarning
from .objects import CityObject

__all__ = ["Material", "Scene", "SceneSource", "SpatialIndex", "Texture"]


@dataclass(frozen=True, slots=True)
class Texture:
    """A texture image referenced by the source (URI relative to the source file)."""

    uri: str
    mime_type: str | None = None
    wrap_mode: str | None = None


@dataclass(frozen=True, slots=True)
class Material:
    """An X3D material (colours as RGB floats 0..1)."""

    diffuse: tuple[float, float, float] = (0.8, 0.8, 0.8)
    transparency: float = 0.0
    emissive: tuple[float, float, float] | None = None
    specular: tuple[float, float, float] | None = None
    shininess: float | None = None
    ambient_intensity: float | None = None


@dataclass(slots=True)
class SceneSource:
    """Where a scene came from."""

    path: str
    format: str  # "citygml" | "3dtiles" | ...
    version: str | None = None
    size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SpatialIndex:
    """Bounding-box and nearest-neighbour queries over objects, in scene xy.

    Built once from the objects' xy bounding boxes (shapely STRtree) and footprint centres
    (scipy cKDTree); queries are vectorised and return objects, not indices.
    """

    def __init__(self, objects: Iterable[CityObject]) -> None:
        import shapely
        from scipy.spatial import cKDTree

        self.objects: list[CityObject] = [o for o in objects if o.has_geometry]
        if self.objects:
            lo = np.array([o.bounds[0][:2] for o in self.objects])
            hi = np.array([o.bounds[1][:2] for o in self.objects])
        else:
            lo = hi = np.zeros((0, 2))
        self._boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]) if len(lo) else np.array([])
        self._tree = shapely.STRtree(self._boxes)
        self._centres = (lo + hi) / 2.0
        self._kd = cKDTree(self._centres) if len(self._centres) else None

    def __len__(self) -> int:
        return len(self.objects)

    def query_bbox(self, min_x: float, min_y: float, max_x: float, max_y: float) -> list[CityObject]:
        """Objects whose xy bounding box intersects the given box."""
        import shapely

        hits = self._tree.query(shapely.box(min_x, min_y, max_x, max_y))
        return [self.objects[i] for i in sorted(hits)]

    def query_geometry(self, geom: Any, predicate: str | None = "intersects") -> list[CityObject]:
        """Objects whose bounding box satisfies ``predicate`` against a shapely geometry."""
        hits = self._tree.query(geom, predicate=predicate)
        return [self.objects[i] for i in sorted(hits)]

    def nearest(self, x: float, y: float, k: int = 1, max_distance: float = np.inf) -> list[CityObject]:
        """Up to ``k`` objects whose bounding-box centre is nearest to (x, y)."""
        if self._kd is None:
            return []
        k = min(k, len(self.objects))
        dist, idx = self._kd.query([x, y], k=k, distance_upper_bound=max_distance)
        idx = np.atleast_1d(idx)
        dist = np.atleast_1d(dist)
        return [self.objects[i] for i, d in zip(idx, dist, strict=True) if np.isfinite(d)]

    @property
    def centres(self) -> np.ndarray:
        """``(n, 2)`` bounding-box centres, in the order of :attr:`objects`."""
        return self._centres


class Scene:
    """A city model in one CRS.

    Parameters
    ----------
    crs:
        The scene CRS. Coordinates are x east, y north, z up in it. Always metric or a local
        engineering CRS: readers move geographic input into a metric CRS and keep the original in
        ``source_crs``.
    source_crs:
        The CRS the source declared (defaults to ``crs``).
    """

    def __init__(
        self,
        crs: SceneCRS | None = None,
        *,
        source_crs: SceneCRS | None = None,
        sources: list[SceneSource] | None = None,
        epoch: date | None = None,
    ) -> None:
        self.crs = crs
        self.source_crs = source_crs or crs
        self.sources: list[SceneSource] = sources or []
        #: The date the model represents (e.g. the survey year), when known.
        self.epoch = epoch
        self.roots: list[CityObject] = []
        self._by_id: dict[str, CityObject] = {}
        self.warnings: list[LoadWarning] = []
        self.textures: list[Texture] = []
        self.materials: list[Material] = []
        self._index: SpatialIndex | None = None

    def __repr__(self) -> str:
        crs = self.crs.name if self.crs else None
        return f"<Scene crs={crs} objects={len(self.roots)} ({len(self._by_id)} with parts)>"

    def __len__(self) -> int:
        return len(self.roots)

    def __contains__(self, object_id: str) -> bool:
        return object_id in self._by_id

    def __getitem__(self, object_id: str) -> CityObject:
        return self._by_id[object_id]

    def get(self, object_id: str) -> CityObject | None:
        return self._by_id.get(object_id)

    # --- building the scene ----------------------------------------------------------------------
    def add(self, obj: CityObject) -> CityObject:
        """Add a top-level object with its descendants. A duplicate id gets a ``~2`` suffix and a
        warning, so neither object is lost."""
        for node in obj.walk():
            if node.id in self._by_id:
                new_id = _unique_id(node.id, self._by_id)
                self.warn(
                    f"duplicate id {node.id!r}; kept as {new_id!r}",
                    object_id=node.id,
                    line=node.source_line,
                )
                node.id = new_id
            self._by_id[node.id] = node
        self.roots.append(obj)
        self._index = None
        return obj

    def remove(self, object_id: str) -> None:
        obj = self._by_id[object_id]
        for node in obj.walk():
            del self._by_id[node.id]
        if obj.parent is None:
            self.roots.remove(obj)
        else:
            obj.parent.children.remove(obj)
            obj.parent.invalidate()
        self._index = None

    def warn(self, message: str, *, path: str | None = None, line: int | None = None,
             object_id: str | None = None, hint: str | None = None) -> None:
        if path is None and self.sources:
            path = self.sources[-1].path
        self.warnings.append(LoadWarning(message, path=path, line=line, object_id=object_id, hint=hint))

    # --- queries ---------------------------------------------------------------------------------
    def iter_objects(self, kind: str | Iterable[str] | None = None, *, recursive: bool = False) -> Iterator[CityObject]:
        """Top-level objects (or all nodes with ``recursive``), optionally of some kinds."""
        kinds = {kind} if isinstance(kind, str) else (set(kind) if kind is not None else None)
        source = self._by_id.values() if recursive else self.roots
        for obj in source:
            if kinds is None or obj.kind in kinds:
                yield obj

    def buildings(self) -> list[CityObject]:
        """Top-level buildings (with their parts as children)."""
        return [o for o in self.roots if o.kind == "Building"]

    def counts(self) -> dict[str, int]:
        """Number of objects by kind, parts included (e.g. ``{"Building": 47, "BuildingPart": 71}``)."""
        return dict(sorted(Counter(o.kind for o in self._by_id.values()).items()))

    def lods(self) -> list[int]:
        return sorted({lod for o in self._by_id.values() for lod in o.geometry})

    def attribute_names(self) -> list[str]:
        names: set[str] = set()
        for o in self._by_id.values():
            names.update(o.attributes)
            names.update(o.generic_attributes)
        return sorted(names)

    def extent(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(min_xyz, max_xyz)`` in the scene CRS, None when nothing has geometry."""
        boxes = [o.bounds for o in self.roots if o.has_geometry]
        if not boxes:
            return None
        return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)

    def extent_wgs84(self) -> list[float] | None:
        """``[min_lon, min_lat, min_h, max_lon, max_lat, max_h]`` or None (no geometry or a local
        CRS). The transform covers every object's box corners, so curved grid lines are honoured."""
        if self.crs is None or self.crs.is_local:
            return None
        boxes = [o.bounds for o in self.roots if o.has_geometry]
        if not boxes:
            return None
        lo = np.array([b[0] for b in boxes])
        hi = np.array([b[1] for b in boxes])
        xs = np.concatenate([lo[:, 0], hi[:, 0], lo[:, 0], hi[:, 0]])
        ys = np.concatenate([lo[:, 1], lo[:, 1], hi[:, 1], hi[:, 1]])
        zs = np.concatenate([lo[:, 2], lo[:, 2], hi[:, 2], hi[:, 2]])
        lon, lat, h = self.crs.to_wgs84(xs, ys, zs)
        return [float(lon.min()), float(lat.min()), float(h.min()), float(lon.max()), float(lat.max()), float(h.max())]

    @property
    def index(self) -> SpatialIndex:
        """Spatial index over the top-level objects (built on first use, reset by :meth:`add`)."""
        if self._index is None:
            self._index = SpatialIndex(self.roots)
        return self._index

    @property
    def nbytes(self) -> int:
        return sum(o.nbytes for o in self.roots)


def _unique_id(base: str, taken: dict[str, Any]) -> str:
    n = 2
    while f"{base}~{n}" in taken:
        n += 1
    return f"{base}~{n}"
