"""Spatial tiling of buildings into a tile tree, with coarse LOD1-block levels.

The tree is a quadtree over the buildings' centres (each split at the medians, so tiles hold similar
numbers of buildings whatever the density). A node becomes a leaf when it holds at most
``max_features`` buildings and ``max_triangles`` triangles (a single building over the triangle cap
gets a leaf of its own). Leaves carry the full geometry (the highest LOD, building parts joined to
their building) and have a geometric error of 0.

Interior nodes carry *coarse* content: LOD1 blocks (the convex hull of the building's footprint,
extruded from its lowest to its highest point) of the largest buildings below them, up to
``coarse_max_features``; a building with no more triangles than its block is shown as itself (a
block would be heavier and less true). Refinement is REPLACE: a client shows a node's blocks until
the view needs more, then replaces them by the children. The node's geometricError is the larger of

* the block error of the buildings it shows as blocks (how far the block departs from the real
  shape: the height span of the roof, at least 0.5 m), and
* eight times the size of the largest building it leaves out,

and at least 1.5 times its children's error. With the default maximumScreenSpaceError of 16 px a
left-out building is at most 2 px tall on screen when its node is shown, so nothing visibly vanishes
when zooming out, while a whole city stays within the caps at the top of the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from ..scene.semantics import SurfaceType
from .gltf import MeshContent

__all__ = ["Blocks", "ExportFeature", "FeatureSummary", "TileNode", "block_triangle_counts", "block_triangles", "build_tree", "content_for",
           "lod1_blocks", "make_block", "mesh_content", "shown_as_itself"]

MIN_BLOCK_ERROR_M = 0.5
#: Footprint hull corners closer than this to the hull's simplified outline are dropped (m).
BLOCK_SIMPLIFY_M = 0.01
OMITTED_SIZE_FACTOR = 8.0
PARENT_ERROR_FACTOR = 1.5


@dataclass
class ExportFeature:
    """One building ready for tiling: geometry in the export frame (ENU metres, z up)."""

    row: int
    vertices: np.ndarray
    triangles: np.ndarray
    block_vertices: np.ndarray
    block_triangles: np.ndarray
    color: np.ndarray
    size_m: float
    block_error_m: float

    @property
    def lo(self) -> np.ndarray:
        return self.vertices.min(axis=0)

    @property
    def hi(self) -> np.ndarray:
        return self.vertices.max(axis=0)

    @property
    def n_triangles(self) -> int:
        return len(self.triangles)

    @property
    def centre(self) -> np.ndarray:
        return (self.lo + self.hi) / 2.0


@dataclass
class Blocks:
    """The LOD1 blocks of consecutive features: each block's vertices are its footprint ring at the
    bottom, then the same ring at the top (``counts[i]`` vertices, twice the ring), one block after
    the other; ``errors`` holds each block's error (m)."""

    vertices: np.ndarray
    counts: np.ndarray
    errors: np.ndarray

    def split(self) -> list[np.ndarray]:
        return np.split(self.vertices, np.cumsum(self.counts)[:-1])

    def triangles(self, i: int) -> np.ndarray:
        return block_triangles(int(self.counts[i]) // 2)

    @property
    def triangle_counts(self) -> np.ndarray:
        return block_triangle_counts(self.counts)


def lod1_blocks(vertices: np.ndarray, counts: np.ndarray, triangles: np.ndarray, tri_counts: np.ndarray,
                semantics: np.ndarray | None) -> Blocks:
    """The LOD1 blocks of consecutive features in one go (numpy and one GEOS call, nothing per feature).

    ``vertices`` (ENU, z up) and ``triangles`` (indices into each feature's own vertices) are the
    features' arrays one after the other, ``counts``/``tri_counts`` their lengths, ``semantics``
    the surface type of every triangle. A block is the convex hull of the feature's xy points
    (counter-clockwise; a small box when the hull has no area) extruded from its lowest to its
    highest point (at least 0.1 m); its error is the height span of the roof, at least 0.5 m.
    """
    import shapely

    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    first = np.cumsum(counts) - counts
    xy = vertices[:, :2]
    owner = np.repeat(np.arange(n), counts)
    # each distinct xy once per feature (walls share their corners with roof and ground: GEOS makes
    # a point object of every input point, the main cost here)
    order = np.lexsort((xy[:, 1], xy[:, 0], owner))
    cur, prev = order[1:], order[:-1]
    repeated = np.append(False, (owner[cur] == owner[prev]) & (xy[cur, 0] == xy[prev, 0]) & (xy[cur, 1] == xy[prev, 1]))
    distinct = np.sort(order[~repeated])
    hulls = shapely.convex_hull(shapely.multipoints(xy[distinct], indices=owner[distinct]))
    coords, index = shapely.get_coordinates(hulls, return_index=True)
    starts = np.searchsorted(index, np.arange(n))
    ring_len = np.append(starts[1:], len(index)) - starts - 1  # polygons repeat their first point
    # twice the signed area of every hull (shoelace over each closed ring)
    nxt = np.append(coords[1:], coords[:1], axis=0)
    cross = coords[:, 0] * nxt[:, 1] - nxt[:, 0] * coords[:, 1]
    cross[np.append(index[1:] != index[:-1], True)] = 0.0  # no term from one ring's end to the next's start
    area2 = np.bincount(index, weights=cross, minlength=n)
    ok = (shapely.get_type_id(hulls) == 3) & (ring_len >= 3) & (np.abs(area2) >= 2e-6)
    k = np.where(ok, ring_len, 4)  # points of each footprint ring
    ring_owner = np.repeat(np.arange(n), k)  # feature of each ring point
    j = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)  # position in the ring
    ring = np.empty((len(j), 2))
    if ok.any():
        src = np.where(area2[ring_owner] < 0, starts[ring_owner] + k[ring_owner] - 1 - j, starts[ring_owner] + j)
        ring[:] = coords[np.where(ok[ring_owner], src, 0)] if len(coords) else 0.0
    if ok.any():
        ring, k = _drop_straight_corners(ring, k, ok, BLOCK_SIMPLIFY_M)
        ring_owner = np.repeat(np.arange(n), k)
        j = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    if not ok.all():
        # no area (a point, a line, a vertical wall only): a box around the points, 5 cm at least
        lo, hi = np.minimum.reduceat(xy, first, axis=0), np.maximum.reduceat(xy, first, axis=0)
        pad = np.where(hi - lo < 0.05, 0.05, 0.0)
        lo, hi = lo - pad, hi + pad
        box = ~ok[ring_owner]
        b, jb = ring_owner[box], j[box]
        ring[box, 0] = np.where((jb == 1) | (jb == 2), hi[b, 0], lo[b, 0])
        ring[box, 1] = np.where(jb >= 2, hi[b, 1], lo[b, 1])
    z = vertices[:, 2]
    zmin = np.minimum.reduceat(z, first)
    ztop = np.maximum(np.maximum.reduceat(z, first), zmin + 0.1)
    bottom = np.repeat(2 * (np.cumsum(k) - k), k) + j
    top = bottom + np.repeat(k, k)
    out = np.empty((2 * len(j), 3))
    out[bottom, :2] = ring
    out[top, :2] = ring
    out[bottom, 2] = zmin[ring_owner]
    out[top, 2] = ztop[ring_owner]
    errors = np.full(n, MIN_BLOCK_ERROR_M)
    if semantics is not None and len(semantics):
        roof = np.asarray(semantics) == int(SurfaceType.ROOF)
        if roof.any():
            tri_counts = np.asarray(tri_counts, dtype=np.int64)
            corners = (np.asarray(triangles)[roof] + np.repeat(first, tri_counts)[roof][:, None]).ravel()
            feature = np.repeat(np.repeat(np.arange(n), tri_counts)[roof], 3)  # in feature order
            cut = np.flatnonzero(np.append(True, feature[1:] != feature[:-1]))
            rz = z[corners]
            span = np.maximum.reduceat(rz, cut) - np.minimum.reduceat(rz, cut)
            errors[feature[cut]] = np.maximum(span, MIN_BLOCK_ERROR_M)
    return Blocks(out, 2 * k, errors)


def _drop_straight_corners(ring: np.ndarray, k: np.ndarray, ok: np.ndarray, tolerance: float
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Rings (one after the other, ``k`` points each) without the corners that lie within
    ``tolerance`` of the line between their neighbours (a rectangle's edge bent by reprojection, a
    gable's ridge end on the footprint edge): they add triangles, not shape. Only rings marked ``ok``
    are touched; each keeps at least 3 corners; neighbouring corners go in successive passes (each
    measured against the neighbours it has then; a block errs by half a metre at least anyway)."""
    for _ in range(8):
        n_rings = len(k)
        owner = np.repeat(np.arange(n_rings), k)
        first = np.repeat(np.cumsum(k) - k, k)
        index = np.arange(len(ring))
        at = index - first
        prev = np.where(at == 0, first + np.repeat(k, k) - 1, index - 1)
        nxt = np.where(at == np.repeat(k, k) - 1, first, index + 1)
        chord = ring[nxt] - ring[prev]
        offset = ring - ring[prev]
        length = np.hypot(chord[:, 0], chord[:, 1])
        distance = np.abs(chord[:, 0] * offset[:, 1] - chord[:, 1] * offset[:, 0]) / np.maximum(length, 1e-12)
        straight = (distance < tolerance) & ok[owner] & (np.repeat(k, k) > 3)
        # never two neighbours at once: every other corner of a run of straight ones
        run_start = np.maximum.accumulate(np.where(~straight, index + 1, np.where(at == 0, index, 0)))
        drop = straight & ((index - run_start) % 2 == 0)
        ring_last = np.cumsum(k) - 1
        drop[ring_last - k + 1] &= ~drop[ring_last]  # the first and the last corner are neighbours too
        left = k - np.bincount(owner[drop], minlength=n_rings)
        drop &= left[owner] >= 3
        if not drop.any():
            break
        ring = ring[~drop]
        k = k - np.bincount(owner[drop], minlength=n_rings)
    return ring, k


def make_block(vertices: np.ndarray, triangles: np.ndarray,
               semantics: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
    """The LOD1 block of one mesh (see :func:`lod1_blocks`): vertices, triangles, block error."""
    blocks = lod1_blocks(vertices, np.array([len(vertices)]), triangles, np.array([len(triangles)]), semantics)
    return blocks.vertices, blocks.triangles(0), float(blocks.errors[0])


def block_triangle_counts(vertex_counts: np.ndarray) -> np.ndarray:
    """Triangles of blocks of ``vertex_counts`` vertices (2k for a ring of k points; see
    :func:`block_triangles`: two per side, k - 2 per cap, 4k - 4 in all)."""
    return 2 * np.asarray(vertex_counts) - 4


@lru_cache(maxsize=256)
def block_triangles(k: int) -> np.ndarray:
    """Triangles of an extruded convex ring of ``k`` points: bottom fan (facing down), top fan
    (facing up) and two triangles per side."""
    i = np.arange(1, k - 1, dtype=np.int32)
    fan = np.column_stack([np.zeros(k - 2, np.int32), i, i + 1])
    j = np.arange(k, dtype=np.int32)
    nxt = (j + 1) % k
    tris = np.vstack([fan[:, [0, 2, 1]], fan + k, np.column_stack([j, nxt, nxt + k]),
                      np.column_stack([j, nxt + k, j + k])]).astype(np.int32)
    tris.setflags(write=False)
    return tris


@dataclass
class TileNode:
    """A tile: its address (``r`` + child digits), the rows it shows, children and error."""

    address: str
    content: list[int]
    children: list[TileNode]
    coarse: bool
    geometric_error: float = 0.0
    lo: np.ndarray = field(default_factory=lambda: np.zeros(3))
    hi: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def walk(self) -> list[TileNode]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out

    @property
    def centre(self) -> np.ndarray:
        return (self.lo + self.hi) / 2.0


@dataclass
class FeatureSummary:
    """What the tree needs of every feature, as arrays in feature order."""

    lo: np.ndarray
    hi: np.ndarray
    triangles: np.ndarray
    sizes: np.ndarray
    block_errors: np.ndarray
    block_triangles: np.ndarray

    @classmethod
    def of(cls, features: list[ExportFeature]) -> FeatureSummary:
        return cls(
            lo=np.array([f.lo for f in features]).reshape(-1, 3),
            hi=np.array([f.hi for f in features]).reshape(-1, 3),
            triangles=np.array([f.n_triangles for f in features], dtype=np.int64),
            sizes=np.array([f.size_m for f in features], dtype=np.float64),
            block_errors=np.array([f.block_error_m for f in features], dtype=np.float64),
            block_triangles=np.array([len(f.block_triangles) for f in features], dtype=np.int64),
        )

    @classmethod
    def concatenate(cls, parts: list[FeatureSummary]) -> FeatureSummary:
        """The summaries of consecutive feature lists as one."""
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts])
                      for name in ("lo", "hi", "triangles", "sizes", "block_errors", "block_triangles")})


def build_tree(features: list[ExportFeature] | FeatureSummary, *, max_features: int = 2000,
               max_triangles: int = 200_000, coarse_max_features: int = 4000) -> TileNode:
    """The tile tree over ``features`` (see the module docstring)."""
    summary = features if isinstance(features, FeatureSummary) else FeatureSummary.of(features)
    if not len(summary.sizes):
        raise ValueError("no features to tile")
    lo_all, hi_all = summary.lo, summary.hi
    centres = ((lo_all + hi_all) / 2.0)[:, :2]
    tris = summary.triangles
    sizes = summary.sizes
    as_itself = shown_as_itself(tris, summary.block_triangles)
    coarse_err = np.where(as_itself, 0.0, summary.block_errors)
    coarse_tris = np.where(as_itself, tris, summary.block_triangles)

    def split(idx: np.ndarray) -> list[np.ndarray]:
        parts: list[np.ndarray] = []
        xs = centres[idx, 0]
        order = idx[np.argsort(xs, kind="stable")]
        halves = np.array_split(order, 2)
        for half in halves:
            ys = centres[half, 1]
            order_y = half[np.argsort(ys, kind="stable")]
            parts.extend(p for p in np.array_split(order_y, 2) if len(p))
        return parts

    def node(idx: np.ndarray, address: str) -> TileNode:
        idx = np.sort(idx)
        lo, hi = lo_all[idx].min(axis=0), hi_all[idx].max(axis=0)
        if len(idx) == 1 or (len(idx) <= max_features and tris[idx].sum() <= max_triangles):
            return TileNode(address, [int(i) for i in idx], [], False, 0.0, lo, hi)
        children = [node(part, address + str(k)) for k, part in enumerate(split(idx))]
        # coarse content: the largest buildings (blocks, or themselves), within the caps
        order = idx[np.lexsort((idx, -sizes[idx]))]
        cum = np.cumsum(coarse_tris[order])
        take = min(int(coarse_max_features), int(np.searchsorted(cum, max_triangles, side="right")))
        take = max(take, 1)
        shown, omitted = order[:take], order[take:]
        error = float(coarse_err[shown].max())
        if len(omitted):
            error = max(error, OMITTED_SIZE_FACTOR * float(sizes[omitted].max()))
        child_error = max(c.geometric_error for c in children)
        error = max(error, PARENT_ERROR_FACTOR * child_error, MIN_BLOCK_ERROR_M)
        return TileNode(address, sorted(int(i) for i in shown), children, True, error, lo, hi)

    return node(np.arange(len(summary.sizes)), "r")


def shown_as_itself(triangles: ArrayLike, block_triangles: ArrayLike) -> np.ndarray:
    """Which buildings coarse tiles show as themselves: those with no more triangles than their
    block."""
    return np.asarray(triangles) <= np.asarray(block_triangles)


def content_for(features: list[ExportFeature], rows: list[int], coarse: bool, centre: np.ndarray) -> tuple[MeshContent, list[int]]:
    """Flat-shaded triangle content of the given features, positions relative to ``centre`` in
    glTF axes. Returns the content and the table rows in feature-id order."""
    parts = [(features[i].block_vertices, features[i].block_triangles)
             if coarse and not shown_as_itself(len(features[i].triangles), len(features[i].block_triangles))
             else (features[i].vertices, features[i].triangles) for i in rows]
    n_verts = np.array([len(v) for v, _ in parts], dtype=np.int64)
    n_tris = np.array([len(t) for _, t in parts], dtype=np.int64)
    colors = np.array([features[i].color for i in rows], dtype=np.uint8).reshape(-1, 4)
    content = mesh_content(np.concatenate([v for v, _ in parts]), n_verts, np.concatenate([t for _, t in parts]),
                           n_tris, colors, centre)
    return content, rows


def mesh_content(vertices: np.ndarray, n_verts: np.ndarray, triangles: np.ndarray, n_tris: np.ndarray,
                 colors: np.ndarray, centre: np.ndarray) -> MeshContent:
    """Flat-shaded triangle content of consecutive features (numpy only, whatever their number).

    ``vertices`` (ENU) and ``triangles`` (indices into each feature's own vertices) are the features'
    arrays one after the other, ``n_verts``/``n_tris`` their lengths, ``colors`` one RGBA per
    feature; positions become relative to ``centre`` in glTF axes.
    """
    from .georef import enu_to_gltf

    verts = vertices - centre
    first_vertex = np.cumsum(n_verts) - n_verts
    tris = triangles.astype(np.int64) + np.repeat(first_vertex, n_tris)[:, None]
    local = np.repeat(np.arange(len(n_verts)), n_tris)  # feature of every triangle
    tri = verts[tris]
    a, b = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    n = np.empty_like(a)  # the cross product, written out (np.cross is slower on (n, 3) arrays)
    n[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    n[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    n[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    length = np.sqrt(np.einsum("ij,ij->i", n, n))
    keep = length > 1e-6  # twice the area: slivers under half a square millimetre are invisible
    tris, local, n = tris[keep], local[keep], n[keep] / length[keep, None]
    nrm_tri = enu_to_gltf(n).astype(np.float32)
    # weld the corners of triangles that share a source vertex and (nearly) a normal: the corners of
    # one flat face become one glTF vertex; vertices of different features never share an index
    corner_vertex = tris.ravel()
    qn = np.round((nrm_tri + 1.0) * 1000.0).astype(np.int64)  # 0..2000 per axis: 11 bits
    normal_key = np.repeat((qn[:, 0] << 22) | (qn[:, 1] << 11) | qn[:, 2], 3)
    key = (corner_vertex << 33) | normal_key
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    # keep first-seen order so output is stable and cache-friendly
    order = np.argsort(first, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    sel = first[order]
    indices = remap[inverse.ravel()].astype(np.uint32)
    pos32 = enu_to_gltf(verts[corner_vertex[sel]]).astype(np.float32)
    corner_triangle = sel // 3
    return MeshContent(
        positions=pos32,
        normals=nrm_tri[corner_triangle],
        colors=colors[local[corner_triangle]],
        feature_ids=local[corner_triangle].astype(np.float32),
        indices=indices,
        mode=4,
    )
