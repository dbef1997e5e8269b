"""Triangulation of planar polygons with holes, batched per object.

The polygons of one object (one LOD) come in as one flat vertex array plus ring and polygon offsets;
plane fitting (Newell normals), projection to 2D, convexity tests and index offsets are vectorised
over all polygons at once. Convex single-ring polygons (nearly every wall and roof of an LOD1/LOD2
building) are fanned without leaving numpy; only polygons with holes or concave outlines go through
earcut, one call each. Triangles are turned to face the way the source ring did (the polygon's
Newell normal), so solids keep their outward orientation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PolygonBatch", "Triangulation", "triangulate"]

#: Polygons whose Newell normal is shorter than this (twice the area, m²) count as degenerate.
MIN_DOUBLE_AREA = 1e-10


@dataclass(slots=True)
class PolygonBatch:
    """Polygons of one object as flat arrays.

    Attributes
    ----------
    vertices:
        ``(n, 3)`` float64, every ring's vertices one after the other, without the closing point.
    ring_start:
        ``(r,)`` int64 index of each ring's first vertex (rings of a polygon are consecutive,
        exterior first).
    poly_ring_start:
        ``(p,)`` int64 index of each polygon's first ring in ``ring_start``.
    """

    vertices: np.ndarray
    ring_start: np.ndarray
    poly_ring_start: np.ndarray

    @property
    def n_polygons(self) -> int:
        return len(self.poly_ring_start)

    @classmethod
    def from_rings(cls, polygons: list[list[np.ndarray]], *, drop_closing: bool = True) -> PolygonBatch:
        """Build a batch from polygons given as lists of ``(k, 3)`` ring arrays. With
        ``drop_closing`` a last point equal to the first (GML's closing point) is removed from
        every ring, vectorised over the batch."""
        rings = [ring for poly in polygons for ring in poly]
        counts = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
        per_poly = np.fromiter((len(p) for p in polygons), dtype=np.int64, count=len(polygons))
        vertices = np.concatenate(rings) if rings else np.zeros((0, 3), dtype=np.float64)
        vertices = np.ascontiguousarray(vertices, dtype=np.float64)
        if drop_closing and len(rings):
            ends = np.cumsum(counts)
            starts = ends - counts
            closed = (counts >= 2) & (vertices[starts] == vertices[ends - 1]).all(axis=1)
            if closed.any():
                keep = np.ones(len(vertices), dtype=bool)
                keep[ends[closed] - 1] = False
                vertices = vertices[keep]
                counts = counts - closed
        ring_start = np.zeros(len(rings), dtype=np.int64)
        if len(rings) > 1:
            np.cumsum(counts[:-1], out=ring_start[1:])
        poly_ring_start = np.zeros(len(polygons), dtype=np.int64)
        if len(polygons) > 1:
            np.cumsum(per_poly[:-1], out=poly_ring_start[1:])
        return cls(vertices, ring_start, poly_ring_start)


@dataclass(slots=True)
class Triangulation:
    """Result of :func:`triangulate`.

    Attributes
    ----------
    triangles:
        ``(m, 3)`` int32 indices into the batch's ``vertices``.
    polygon:
        ``(m,)`` int32 index of the polygon each triangle came from.
    degenerate:
        Indices of polygons that gave no triangle (fewer than three distinct points, no area, or
        self-overlapping beyond repair).
    normals:
        ``(p, 3)`` unit Newell normal of each polygon (zeros for degenerate ones).
    """

    triangles: np.ndarray
    polygon: np.ndarray
    degenerate: np.ndarray
    normals: np.ndarray


def _newell_normals(v: np.ndarray, nxt: np.ndarray, seg_start: np.ndarray, n_seg: int) -> np.ndarray:
    """Newell normal (not normalised; length = twice the area) of each segment of vertices, where
    ``nxt`` gives each vertex's successor in its ring. Coordinates are centred per call so large
    projected coordinates keep their precision."""
    if not len(v):
        return np.zeros((n_seg, 3))
    c = v - v.mean(axis=0)
    a, b = c, c[nxt]
    terms = np.empty_like(c)
    terms[:, 0] = (a[:, 1] - b[:, 1]) * (a[:, 2] + b[:, 2])
    terms[:, 1] = (a[:, 2] - b[:, 2]) * (a[:, 0] + b[:, 0])
    terms[:, 2] = (a[:, 0] - b[:, 0]) * (a[:, 1] + b[:, 1])
    return np.add.reduceat(terms, seg_start, axis=0)


def triangulate(batch: PolygonBatch) -> Triangulation:
    """Triangulate every polygon of ``batch`` (see the module docstring).

    Returns
    -------
    Triangulation
        triangles with the polygon each came from, and the degenerate polygons.
    """
    import mapbox_earcut

    v = batch.vertices
    n_v = len(v)
    n_p = batch.n_polygons
    if n_p == 0 or n_v == 0:
        return Triangulation(np.zeros((0, 3), np.int32), np.zeros(0, np.int32), np.arange(n_p), np.zeros((n_p, 3)))
    ring_start = batch.ring_start
    n_r = len(ring_start)
    ring_end = np.append(ring_start[1:], n_v)
    ring_len = ring_end - ring_start
    poly_ring_start = batch.poly_ring_start
    poly_ring_end = np.append(poly_ring_start[1:], n_r)
    n_rings = poly_ring_end - poly_ring_start

    # successor of each vertex within its ring
    nxt = np.arange(1, n_v + 1, dtype=np.int64)
    nxt[ring_end - 1] = ring_start

    # Newell normal of each exterior ring = polygon normal (holes only lower the area)
    ext_start = ring_start[poly_ring_start]
    ext_len = ring_len[poly_ring_start]
    ring_normals = _newell_normals(v, nxt, ring_start, n_r)
    normals = ring_normals[poly_ring_start]
    length = np.linalg.norm(normals, axis=1)
    ok = (length > MIN_DOUBLE_AREA) & (ext_len >= 3)
    unit = np.zeros_like(normals)
    unit[ok] = normals[ok] / length[ok, None]

    # projection: drop the axis of the largest normal component; keep the 2D winding CCW for a
    # normal pointing along the kept axis' positive direction
    drop = np.argmax(np.abs(unit), axis=1)
    keep_a = np.array([1, 2, 0])[drop]
    keep_b = np.array([2, 0, 1])[drop]

    tri_parts: list[np.ndarray] = []
    poly_parts: list[np.ndarray] = []

    # --- fast path: single-ring convex polygons, fanned in numpy ---------------------------------
    single = ok & (n_rings == 1)
    vert_poly = np.repeat(np.arange(n_p), _vertex_counts(poly_ring_start, poly_ring_end, ring_start, ring_end))
    pa, pb = keep_a[vert_poly], keep_b[vert_poly]
    x2 = v[np.arange(n_v), pa]
    y2 = v[np.arange(n_v), pb]
    prv = np.empty(n_v, dtype=np.int64)
    prv[nxt] = np.arange(n_v)
    # cross product at each vertex (edge in, edge out), sign relative to the ring's winding
    ex_in, ey_in = x2 - x2[prv], y2 - y2[prv]
    ex_out, ey_out = x2[nxt] - x2, y2[nxt] - y2
    cross = ex_in * ey_out - ey_in * ex_out
    scale = np.maximum((np.abs(ex_in) + np.abs(ey_in)) * (np.abs(ex_out) + np.abs(ey_out)), 1e-300)
    sign_poly = np.sign(normals[np.arange(n_p), drop])
    rel = cross * sign_poly[vert_poly] / scale
    # a vertex is "bad" for fanning when it turns the wrong way (reflex); collinear is fine
    bad = rel < -1e-9
    bad_per_poly = np.add.reduceat(bad.astype(np.int64), ring_start[poly_ring_start]) if n_v else np.zeros(n_p)
    # reduceat over polygon starts also counts holes' vertices, harmless: single-ring only here
    fan = single & (bad_per_poly == 0)
    if fan.any():
        idx = np.flatnonzero(fan)
        counts = ext_len[idx] - 2
        total = int(counts.sum())
        if total:
            owner = np.repeat(idx, counts)
            first = np.repeat(ext_start[idx], counts)
            # k = 1..count for each polygon
            k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts) + 1
            tris = np.column_stack([first, first + k, first + k + 1])
            tri_parts.append(tris)
            poly_parts.append(owner)

    # --- earcut for the rest ---------------------------------------------------------------------
    rest = np.flatnonzero(ok & ~fan)
    for p in rest:
        r0, r1 = int(poly_ring_start[p]), int(poly_ring_end[p])
        v0, v1 = int(ring_start[r0]), int(ring_end[r1 - 1])
        pts = np.column_stack([x2[v0:v1] - x2[v0], y2[v0:v1] - y2[v0]])
        ends = (ring_end[r0:r1] - v0).astype(np.uint32)
        try:
            local = np.asarray(mapbox_earcut.triangulate_float64(pts, ends), dtype=np.int64)
        except (ValueError, TypeError):  # pragma: no cover - earcut refuses malformed input
            continue
        if len(local):
            tri_parts.append(local.reshape(-1, 3) + v0)
            poly_parts.append(np.full(len(local) // 3, p, dtype=np.int64))

    if tri_parts:
        tris = np.concatenate(tri_parts)
        owner = np.concatenate(poly_parts)
    else:
        tris = np.zeros((0, 3), np.int64)
        owner = np.zeros(0, np.int64)

    if len(tris):
        # drop slivers, then orient every triangle like its polygon's normal
        c = v[tris] - v[tris[:, 0]][:, None, :]
        tn = np.cross(c[:, 1], c[:, 2])
        tlen = np.linalg.norm(tn, axis=1)
        keep = tlen > MIN_DOUBLE_AREA * 1e-2
        tris, owner, tn = tris[keep], owner[keep], tn[keep]
        flip = np.einsum("ij,ij->i", tn, unit[owner]) < 0
        tris[flip] = tris[flip][:, [0, 2, 1]]

    produced = np.zeros(n_p, dtype=bool)
    produced[owner] = True
    degenerate = np.flatnonzero(~produced)
    order = np.argsort(owner, kind="stable")
    return Triangulation(
        triangles=tris[order].astype(np.int32),
        polygon=owner[order].astype(np.int32),
        degenerate=degenerate,
        normals=unit,
    )


def _vertex_counts(poly_ring_start: np.ndarray, poly_ring_end: np.ndarray, ring_start: np.ndarray,
                   ring_end: np.ndarray) -> np.ndarray:
    """Number of vertices of each polygon (all its rings)."""
    first = ring_start[poly_ring_start]
    last = ring_end[poly_ring_end - 1]
    return last - first
