"""The scene as a few merged meshes: one per layer and LOD, never one per building.

Every triangle carries cell data (the index of its city object, its semantic surface type), so one
draw call shows 100k buildings and a picked cell leads back to its object. Vertices are moved by a
scene origin before they become float32, so projected coordinates of millions of metres keep
centimetre precision on the GPU.

Pure numpy here; :meth:`LayerMesh.to_polydata` is the only step that imports pyvista.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..scene import CityObject, Scene, SurfaceType

if TYPE_CHECKING:
    import pyvista as pv

__all__ = ["LAYER_LABELS", "LayerMesh", "SceneMeshes", "build_scene_meshes", "layer_of", "round_origin", "scene_origin"]

#: City object kinds grouped into the layers a planner toggles.
_LAYER_BY_KIND: dict[str, str] = {
    "Building": "buildings",
    "BuildingPart": "buildings",
    "BuildingInstallation": "buildings",
    "Road": "transport",
    "Railway": "transport",
    "Track": "transport",
    "Square": "transport",
    "Waterway": "transport",
    "TransportationComplex": "transport",
    "LandUse": "landuse",
    "WaterBody": "water",
    "SolitaryVegetationObject": "vegetation",
    "PlantCover": "vegetation",
    "ReliefFeature": "terrain",
    "TINRelief": "terrain",
    "Bridge": "structures",
    "BridgePart": "structures",
    "Tunnel": "structures",
    "TunnelPart": "structures",
    "CityFurniture": "furniture",
}
#: Bilingual layer names, in drawing and legend order.
LAYER_LABELS: dict[str, tuple[str, str]] = {
    "buildings": ("建筑", "buildings"),
    "structures": ("桥隧", "bridges and tunnels"),
    "transport": ("交通", "transport"),
    "water": ("水系", "water"),
    "vegetation": ("植被", "vegetation"),
    "landuse": ("用地", "land use"),
    "terrain": ("地形", "terrain"),
    "furniture": ("城市家具", "city furniture"),
    "other": ("其他", "other objects"),
}


def layer_of(kind: str) -> str:
    """The layer name of a city object kind (``"other"`` for kinds without a layer of their own)."""
    return _LAYER_BY_KIND.get(kind, "other")


@dataclass(eq=False)
class LayerMesh:
    """The merged triangles of one layer at one LOD.

    Attributes
    ----------
    layer, lod:
        Layer name (see :data:`LAYER_LABELS`) and the LOD of its geometry.
    points:
        ``(n, 3)`` float32, scene coordinates minus :attr:`SceneMeshes.origin`.
    faces:
        ``(m, 3)`` int32 vertex indices.
    object_index:
        ``(m,)`` int32 per triangle: row in :attr:`SceneMeshes.objects`.
    semantic:
        ``(m,)`` uint8 per triangle: :class:`~cim_twin.scene.SurfaceType`.
    """

    layer: str
    lod: int
    points: np.ndarray
    faces: np.ndarray
    object_index: np.ndarray
    semantic: np.ndarray
    _shown_semantic: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def key(self) -> str:
        """``"buildings/lod2"``: the name of the actor and of the layer toggle."""
        return f"{self.layer}/lod{self.lod}"

    @property
    def n_triangles(self) -> int:
        return len(self.faces)

    @property
    def nbytes(self) -> int:
        return self.points.nbytes + self.faces.nbytes + self.object_index.nbytes + self.semantic.nbytes

    def objects_of_cells(self, cell_ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Object rows of the given triangles (``-1`` for ids outside the mesh)."""
        ids = np.asarray(cell_ids, dtype=np.int64)
        out = np.full(len(ids), -1, dtype=np.int64)
        ok = (ids >= 0) & (ids < len(self.object_index))
        out[ok] = self.object_index[ids[ok]]
        return out

    @property
    def inferred_share(self) -> float:
        """Share of triangles without a semantic type (whose display type comes from the normal)."""
        return float((self.semantic == 0).mean()) if len(self.semantic) else 0.0

    def shown_semantic(self) -> np.ndarray:
        """Semantic types for display: as stored, and for untyped triangles (3D Tiles, LOD1 without
        boundary surfaces) roof, wall or ground from the direction of the normal, so that a model
        without semantics still reads as buildings."""
        if self._shown_semantic is None:
            shown = self.semantic.copy()
            untyped = np.flatnonzero(shown == 0)
            if len(untyped):
                c = self.points[self.faces[untyped]].astype(np.float64)
                normal = np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0])
                length = np.linalg.norm(normal, axis=1)
                nz = np.divide(normal[:, 2], length, out=np.zeros_like(length), where=length > 0)
                kind = np.full(len(untyped), int(SurfaceType.WALL), dtype=np.uint8)
                kind[nz > 0.3] = int(SurfaceType.ROOF)
                kind[nz < -0.7] = int(SurfaceType.GROUND)
                shown[untyped] = kind
            self._shown_semantic = shown
        return self._shown_semantic

    def roof_cells(self) -> np.ndarray:
        """Ids of the triangles shown as roofs (stored or inferred from the normal)."""
        return np.flatnonzero(self.shown_semantic() == SurfaceType.ROOF)

    def cells_of_objects(self, rows: Sequence[int]) -> np.ndarray:
        """Triangle ids of the given object rows (binary search: rows are stored in order)."""
        if not len(rows) or not len(self.object_index):
            return np.zeros(0, dtype=np.int64)
        wanted = np.asarray(sorted(set(rows)), dtype=np.int64)
        starts = np.searchsorted(self.object_index, wanted, side="left")
        ends = np.searchsorted(self.object_index, wanted, side="right")
        return np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])

    def to_polydata(self) -> pv.PolyData:
        """The layer as a :class:`pyvista.PolyData` with cell arrays ``object_index`` and
        ``semantic`` (one VTK object for the whole layer)."""
        import pyvista as pv

        poly = pv.PolyData.from_regular_faces(self.points, self.faces)
        poly.cell_data["object_index"] = self.object_index
        poly.cell_data["semantic"] = self.semantic
        return poly


@dataclass(eq=False)
class SceneMeshes:
    """A scene merged for display.

    Attributes
    ----------
    origin:
        ``(3,)`` float64 subtracted from every scene coordinate (also from problem positions).
    objects:
        The top-level objects shown, in row order of ``object_index``.
    layers:
        The merged meshes, in drawing order.
    """

    origin: np.ndarray
    objects: list[CityObject]
    layers: list[LayerMesh]
    _row_by_id: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for row, obj in enumerate(self.objects):
            for node in obj.walk():
                self._row_by_id.setdefault(node.id, row)

    def row_of(self, object_id: str) -> int | None:
        """Row of the top-level object that is or contains ``object_id`` (a part, a surface owner)."""
        return self._row_by_id.get(object_id)

    def rows_of(self, object_ids: Iterable[str]) -> list[int]:
        """Rows of the objects named, unknown ids left out, each row once, in first-seen order."""
        rows: list[int] = []
        for oid in object_ids:
            row = self._row_by_id.get(oid)
            if row is not None and row not in rows:
                rows.append(row)
        return rows

    def layer(self, key: str) -> LayerMesh:
        for lm in self.layers:
            if lm.key == key:
                return lm
        raise KeyError(key)

    def to_local(self, xyz: np.ndarray) -> np.ndarray:
        """Scene coordinates ``(k, 3)`` to the float32 display frame."""
        return (np.asarray(xyz, dtype=np.float64).reshape(-1, 3) - self.origin).astype(np.float32)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(min, max)`` of all layers in the display frame (zeros when empty)."""
        pts = [lm.points for lm in self.layers if len(lm.points)]
        if not pts:
            return np.zeros(3), np.zeros(3)
        return (
            np.min([p.min(axis=0) for p in pts], axis=0).astype(np.float64),
            np.max([p.max(axis=0) for p in pts], axis=0).astype(np.float64),
        )

    @property
    def n_triangles(self) -> int:
        return sum(lm.n_triangles for lm in self.layers)

    @property
    def nbytes(self) -> int:
        return sum(lm.nbytes for lm in self.layers)


def _chosen_lod(obj: CityObject, lod: int | None) -> int | None:
    """The LOD to draw an object at: ``lod`` when it has it, else the nearest lower, else the
    nearest higher; its highest when ``lod`` is None."""
    lods = obj.lods
    return _nearest_lod(lods, lod) if lods else None


def _nearest_lod(lods: list[int], lod: int | None) -> int:
    if lod is None:
        return lods[-1]
    if lod in lods:
        return lod
    lower = [x for x in lods if x < lod]
    return lower[-1] if lower else lods[0]


def scene_origin(scene: Scene) -> np.ndarray:
    """A round origin at the scene's centre in xy and its lowest point in z (whole metres, so that
    display coordinates stay readable)."""
    extent = scene.extent()
    if extent is None:
        return np.zeros(3)
    return round_origin(*extent)


def round_origin(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whole metres at the centre of ``lo``..``hi`` in xy and at the bottom in z."""
    centre = (lo + hi) / 2.0
    return np.array([np.floor(centre[0]), np.floor(centre[1]), np.floor(lo[2])], dtype=np.float64)


def build_scene_meshes(
    scene: Scene,
    lod: int | None = None,
    origin: np.ndarray | None = None,
    objects: Iterable[CityObject] | None = None,
) -> SceneMeshes:
    """Merge a scene's objects into one mesh per layer and LOD.

    Parameters
    ----------
    scene:
        The scene.
    lod:
        Draw each object at this LOD (or the nearest it has); None: at its highest.
    origin:
        Display origin; default :func:`scene_origin`.
    objects:
        Top-level objects to include (default: all roots with geometry).

    Returns
    -------
    SceneMeshes
        Layers sorted by :data:`LAYER_LABELS` order, then LOD.
    """
    roots = list(scene.roots if objects is None else objects)
    shown: list[CityObject] = []
    groups: dict[tuple[str, int], list[tuple[int, Any]]] = {}
    for obj in roots:
        if not obj.children:
            # Fast path for the common childless building: no tree walk, no cached concatenation.
            if not obj.geometry:
                continue
            chosen = _nearest_lod(sorted(obj.geometry), lod)
            mesh = obj.geometry[chosen]
        else:
            best = _chosen_lod(obj, lod)
            if best is None:
                continue
            chosen = best
            mesh = obj.mesh(chosen)
        if not mesh.n_triangles:
            continue
        row = len(shown)
        shown.append(obj)
        groups.setdefault((layer_of(obj.kind), chosen), []).append((row, mesh))

    order = list(LAYER_LABELS)
    keys = sorted(groups, key=lambda k: (order.index(k[0]), k[1]))
    # One float64 concatenation per layer; the origin comes from these arrays (vectorised) rather
    # than from every object's bounds.
    vertices = {k: np.concatenate([m.vertices for _, m in groups[k]]) for k in keys}
    if origin is None:
        if vertices:
            lo = np.min([v.min(axis=0) for v in vertices.values()], axis=0)
            hi = np.max([v.max(axis=0) for v in vertices.values()], axis=0)
            origin = round_origin(lo, hi)
        else:
            origin = np.zeros(3)
    origin = np.asarray(origin, dtype=np.float64)
    layers = [_merge(layer, layer_lod, groups[(layer, layer_lod)], vertices[(layer, layer_lod)], origin)
              for layer, layer_lod in keys]
    return SceneMeshes(origin=origin, objects=shown, layers=layers)


def _merge(layer: str, lod: int, items: list[tuple[int, Any]], vertices: np.ndarray, origin: np.ndarray) -> LayerMesh:
    """One concatenation per array: vertex offsets are added with one repeat, not per object."""
    rows = np.array([row for row, _ in items], dtype=np.int32)
    meshes = [m for _, m in items]
    n_vertices = np.array([len(m.vertices) for m in meshes], dtype=np.int64)
    n_triangles = np.array([len(m.triangles) for m in meshes], dtype=np.int64)
    vertex_offsets = np.concatenate([[0], np.cumsum(n_vertices)[:-1]])
    points = (vertices - origin).astype(np.float32)
    faces = np.concatenate([m.triangles for m in meshes]).astype(np.int64)
    faces += np.repeat(vertex_offsets, n_triangles)[:, None]
    return LayerMesh(
        layer=layer,
        lod=lod,
        points=points,
        faces=faces.astype(np.int32),
        object_index=np.repeat(rows, n_triangles),
        semantic=np.concatenate([m.semantics for m in meshes]).astype(np.uint8),
    )
