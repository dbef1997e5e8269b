"""Triangulated geometry of one city object at one LOD, as numpy arrays.

A :class:`Mesh` never holds per-vertex Python objects: vertices are one ``(n, 3)`` float64 array in
the scene CRS, triangles one ``(m, 3)`` int32 array, and every per-triangle property (semantic
surface type, which boundary surface it belongs to, texture) is one array of length ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .semantics import SurfaceType

__all__ = ["Mesh", "SurfaceTable"]


@dataclass(slots=True, eq=False)
class SurfaceTable:
    """The boundary surfaces (and openings) a mesh's triangles belong to.

    Row ``i`` describes surface ``i``: its gml:id, its :class:`SurfaceType`, and for openings
    (windows, doors) the row of the wall or roof that holds them (``-1`` otherwise). ``attributes``
    keeps the few attributes surfaces carry (names, ADE values), empty dicts when none.
    """

    ids: list[str] = field(default_factory=list)
    types: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    parent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    attributes: list[dict[str, object]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def concat(cls, tables: Sequence[SurfaceTable]) -> tuple[SurfaceTable, list[int]]:
        """Join tables; returns the joined table and the row offset of each input."""
        offsets, total = [], 0
        for t in tables:
            offsets.append(total)
            total += len(t)
        parents = [np.where(t.parent >= 0, t.parent + off, -1) for t, off in zip(tables, offsets, strict=True)]
        return (
            cls(
                ids=[i for t in tables for i in t.ids],
                types=np.concatenate([t.types for t in tables]) if tables else np.zeros(0, np.uint8),
                parent=np.concatenate(parents).astype(np.int32) if tables else np.zeros(0, np.int32),
                attributes=[a for t in tables for a in t.attributes],
            ),
            offsets,
        )


@dataclass(slots=True, eq=False)
class Mesh:
    """Triangles of one object at one LOD.

    Attributes
    ----------
    vertices:
        ``(n, 3)`` float64, scene CRS (x east, y north, z up).
    triangles:
        ``(m, 3)`` int32 indices into ``vertices``, counter-clockwise seen from outside where the
        source orientation was consistent.
    semantics:
        ``(m,)`` uint8 :class:`SurfaceType` per triangle.
    surface_index:
        ``(m,)`` int32 row in ``surfaces`` per triangle (``-1``: not part of a boundary surface).
    surfaces:
        The boundary surfaces and openings (see :class:`SurfaceTable`).
    solid_closed:
        True when the triangles come from a gml:Solid shell, so a volume is meaningful.
    solid_triangles:
        When set, only the first ``solid_triangles`` triangles form that closed shell (the rest
        belong to the same LOD but not to the Solid, e.g. roof overhangs or installations).
    uv, texture_index, material_index:
        Appearance kept for export: ``(n, 2)`` float32 texture coordinates, and per triangle an
        index into the scene's ``textures`` / ``materials`` lists (``-1``: none).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    semantics: np.ndarray
    surface_index: np.ndarray | None = None
    surfaces: SurfaceTable | None = None
    solid_closed: bool = False
    uv: np.ndarray | None = None
    texture_index: np.ndarray | None = None
    material_index: np.ndarray | None = None
    solid_triangles: int | None = None

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> Mesh:
        return cls(
            vertices=np.zeros((0, 3), dtype=np.float64),
            triangles=np.zeros((0, 3), dtype=np.int32),
            semantics=np.zeros(0, dtype=np.uint8),
        )

    @classmethod
    def concat(cls, meshes: Sequence[Mesh]) -> Mesh:
        """Join meshes into one (indices and surface rows shifted; appearance kept where present)."""
        meshes = [m for m in meshes if len(m.triangles)]
        if not meshes:
            return cls.empty()
        if len(meshes) == 1:
            return meshes[0]
        vertex_offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
        triangles = np.concatenate(
            [m.triangles + off for m, off in zip(meshes, vertex_offsets, strict=True)]
        ).astype(np.int32)
        tables = [m.surfaces or SurfaceTable() for m in meshes]
        surfaces, row_offsets = SurfaceTable.concat(tables)
        surface_index = np.concatenate(
            [
                np.where(m.surface_index >= 0, m.surface_index + off, -1)
                if m.surface_index is not None
                else np.full(len(m.triangles), -1, np.int32)
                for m, off in zip(meshes, row_offsets, strict=True)
            ]
        ).astype(np.int32)

        def per_triangle(name: str, fill: int) -> np.ndarray | None:
            if all(getattr(m, name) is None for m in meshes):
                return None
            return np.concatenate(
                [
                    getattr(m, name) if getattr(m, name) is not None else np.full(len(m.triangles), fill)
                    for m in meshes
                ]
            ).astype(np.int32)

        uv = None
        if any(m.uv is not None for m in meshes):
            uv = np.concatenate(
                [m.uv if m.uv is not None else np.zeros((len(m.vertices), 2), np.float32) for m in meshes]
            ).astype(np.float32)
        return cls(
            vertices=np.concatenate([m.vertices for m in meshes]),
            triangles=triangles,
            semantics=np.concatenate([m.semantics for m in meshes]).astype(np.uint8),
            surface_index=surface_index,
            surfaces=surfaces,
            solid_closed=all(m.solid_closed and m.solid_triangles is None for m in meshes),
            uv=uv,
            texture_index=per_triangle("texture_index", -1),
            material_index=per_triangle("material_index", -1),
        )

    # --- measures (vectorised over triangles) ----------------------------------------------------
    @property
    def n_triangles(self) -> int:
        return len(self.triangles)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(min_xyz, max_xyz)``; NaN arrays for an empty mesh."""
        if len(self.vertices) == 0:
            nan = np.full(3, np.nan)
            return nan, nan.copy()
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def corners(self) -> np.ndarray:
        """``(m, 3, 3)`` triangle corner coordinates."""
        return self.vertices[self.triangles]

    def triangle_areas(self) -> np.ndarray:
        """3D area of each triangle (m²)."""
        c = self.corners()
        return 0.5 * np.linalg.norm(np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]), axis=1)

    def projected_areas(self) -> np.ndarray:
        """Signed area of each triangle projected on the xy plane (positive when counter-clockwise
        seen from above)."""
        c = self.corners()
        a, b, d = c[:, 0, :2], c[:, 1, :2], c[:, 2, :2]
        return 0.5 * ((b[:, 0] - a[:, 0]) * (d[:, 1] - a[:, 1]) - (d[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))

    def signed_volume(self) -> float:
        """Signed volume enclosed by the triangles (divergence theorem about the mesh centre, which
        keeps the sum well-conditioned for large projected coordinates)."""
        if not len(self.triangles):
            return 0.0
        tris = self.triangles if self.solid_triangles is None else self.triangles[: self.solid_triangles]
        c = self.vertices[tris] - self.vertices.mean(axis=0)
        return float(np.einsum("ij,ij->i", c[:, 0], np.cross(c[:, 1], c[:, 2])).sum() / 6.0)

    def select(self, mask: np.ndarray) -> Mesh:
        """A mesh of the triangles where ``mask`` is true (vertices shared, not compacted)."""
        return Mesh(
            vertices=self.vertices,
            triangles=self.triangles[mask],
            semantics=self.semantics[mask],
            surface_index=self.surface_index[mask] if self.surface_index is not None else None,
            surfaces=self.surfaces,
            solid_closed=False,
            uv=self.uv,
            texture_index=self.texture_index[mask] if self.texture_index is not None else None,
            material_index=self.material_index[mask] if self.material_index is not None else None,
        )

    def of_type(self, *types: SurfaceType) -> Mesh:
        """The triangles of the given semantic surface types."""
        return self.select(np.isin(self.semantics, np.array([int(t) for t in types], dtype=np.uint8)))

    @property
    def nbytes(self) -> int:
        total = self.vertices.nbytes + self.triangles.nbytes + self.semantics.nbytes
        for arr in (self.surface_index, self.uv, self.texture_index, self.material_index):
            if arr is not None:
                total += arr.nbytes
        return total
