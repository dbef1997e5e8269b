"""Tiling: caps per tile, every building exactly once in the leaves, coarse blocks, errors."""

from __future__ import annotations

import numpy as np

from cim_twin.export.buildings import TilingOptions, prepare_buildings
from cim_twin.export.tiling import (
    _drop_straight_corners,
    content_for,
    lod1_blocks,
    make_block,
    shown_as_itself,
)
from cim_twin.scene.semantics import SurfaceType

from .scenes import box_scene, house_mesh


def test_tree_caps_leaves_and_geometric_errors() -> None:
    scene = box_scene(40)
    layer = prepare_buildings(scene, tiling=TilingOptions(max_features=6, max_triangles=120, coarse_max_features=10))
    nodes = layer.tree.walk()
    leaves = [n for n in nodes if not n.children]
    seen = sorted(i for n in leaves for i in n.content)
    assert seen == list(range(40))  # every building exactly once at full detail
    for leaf in leaves:
        assert leaf.geometric_error == 0.0 and not leaf.coarse
        tris = sum(layer.features[i].n_triangles for i in leaf.content)
        assert len(leaf.content) <= 6 and (tris <= 120 or len(leaf.content) == 1)
    for node in nodes:
        if node.children:
            assert node.coarse and 1 <= len(node.content) <= 10
            assert node.geometric_error > max(c.geometric_error for c in node.children)
            for c in node.children:  # children inside the parent's volume
                assert np.all(c.lo >= node.lo - 1e-9) and np.all(c.hi <= node.hi + 1e-9)
    # the root shows the largest buildings first
    sizes = np.array([f.size_m for f in layer.features])
    root = layer.tree
    shown_min = sizes[root.content].min()
    omitted = np.setdiff1d(np.arange(40), root.content)
    assert len(omitted) == 0 or sizes[omitted].max() <= shown_min + 1e-9


def test_block_is_an_extruded_hull_with_roof_error() -> None:
    m = house_mesh(0, 0, 100, 10, 8, 6, ridge=3)
    verts, tris, err = make_block(m.vertices, m.triangles, m.semantics)
    assert verts[:, 2].min() == 100 and verts[:, 2].max() == 109
    assert err == 3.0  # roof from eaves (106) to ridge (109)
    # closed: every edge used twice
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert set(counts.tolist()) == {2}
    # volume of the block = hull area x height
    c = verts[tris]
    vol = np.einsum("ij,ij->i", c[:, 0], np.cross(c[:, 1], c[:, 2])).sum() / 6
    assert abs(abs(vol) - 10 * 8 * 9) < 1e-6


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2)


def test_blocks_of_a_batch_match_one_by_one_and_handle_degenerate_footprints() -> None:
    houses = [house_mesh(0, 0, 100, 10, 8, 6, ridge=3), house_mesh(50, 20, 90, 4, 12, 3)]
    # a vertical wall only (its hull is a line) and a single repeated point: boxes of at least 10 cm
    wall = np.array([[5.0, 5.0, 0.0], [9.0, 5.0, 0.0], [9.0, 5.0, 4.0], [5.0, 5.0, 4.0]])
    point = np.array([[1.0, 2.0, 3.0]] * 3)
    meshes = [(h.vertices, h.triangles, h.semantics) for h in houses] + [
        (wall, np.array([[0, 1, 2], [0, 2, 3]], np.int32), np.full(2, int(SurfaceType.WALL), np.uint8)),
        (point, np.array([[0, 1, 2]], np.int32), np.full(1, int(SurfaceType.ROOF), np.uint8)),
    ]
    blocks = lod1_blocks(np.concatenate([v for v, _, _ in meshes]), np.array([len(v) for v, _, _ in meshes]),
                         np.concatenate([t for _, t, _ in meshes]), np.array([len(t) for _, t, _ in meshes]),
                         np.concatenate([s for _, _, s in meshes]))
    assert blocks.errors.tolist() == [3.0, 0.5, 0.5, 0.5]
    assert blocks.triangle_counts.tolist() == [len(blocks.triangles(i)) for i in range(4)]
    for (v, t, s), bv, err in zip(meshes, blocks.split(), blocks.errors, strict=True):
        one_v, one_t, one_err = make_block(v, t, s)
        assert len(one_t) == 4 * (len(one_v) // 2) - 4
        assert np.array_equal(one_v, bv) and one_err == err
        k = len(bv) // 2
        assert _signed_area(bv[:k, :2]) > 0  # counter-clockwise seen from above
        assert np.array_equal(bv[:k, :2], bv[k:, :2])
        assert bv[:k, 2].max() == v[:, 2].min() and bv[k:, 2].min() >= v[:, 2].min() + 0.1
    wall_ring = blocks.split()[2][:4, :2]
    assert wall_ring[:, 0].min() == 5.0 and wall_ring[:, 0].max() == 9.0
    assert np.isclose(wall_ring[:, 1].max() - wall_ring[:, 1].min(), 0.1)  # padded 5 cm each side
    point_ring = blocks.split()[3][:4, :2]
    assert np.allclose(point_ring.max(axis=0) - point_ring.min(axis=0), 0.1)


def test_coarse_tiles_show_a_building_as_itself_when_its_block_is_no_lighter() -> None:
    # even houses are boxes (12 triangles, as many as their block), odd ones gabled (16 > 12)
    layer = prepare_buildings(box_scene(40), tiling=TilingOptions(max_features=6, coarse_max_features=10))
    root = layer.tree
    assert root.coarse
    content, rows = content_for(layer.features, root.content, True, root.centre)
    itself = [shown_as_itself(len(layer.features[i].triangles), len(layer.features[i].block_triangles)) for i in rows]
    assert any(itself) and not all(itself)
    for i, own in zip(rows, itself, strict=True):
        assert bool(own) == (len(layer.features[i].triangles) <= 12)
    # the tile holds exactly the chosen geometry of every shown building
    expected = sum(len(layer.features[i].triangles) if own else len(layer.features[i].block_triangles)
                   for i, own in zip(rows, itself, strict=True))
    assert len(content.indices) // 3 == expected


def test_block_footprints_lose_corners_on_straight_edges_only() -> None:
    from shapely import LineString, Point, Polygon

    square = np.array([[0, 0], [5, 0.004], [10, 0], [10, 10], [5, 10.3], [0, 10]], dtype=float)  # one bend of 4 mm
    t = np.linspace(0, np.pi / 2, 400)
    arc = np.column_stack([100 * np.cos(t), 100 * np.sin(t)])  # 400 points on a 100 m quarter circle
    arc = np.vstack([[0.0, 0.0], arc])
    sliver = np.array([[0, 0], [10, 0], [10, 0.005], [0, 0.005]])  # every corner near a neighbour line
    rings = [square, arc, sliver]
    ring, k = _drop_straight_corners(np.vstack(rings), np.array([len(r) for r in rings]), np.ones(3, bool), 0.01)
    out = np.split(ring, np.cumsum(k)[:-1])
    assert k[0] == 5 and not any(np.allclose(p, [5, 0.004]) for p in out[0])  # the 4 mm bend goes, 30 cm stays
    assert k[2] >= 3
    for original, kept in zip(rings, out, strict=True):
        outline = LineString(np.vstack([kept, kept[:1]]))
        assert max(outline.distance(Point(p)) for p in original) < 0.0101
        assert Polygon(kept).is_valid
    assert k[1] < 200  # the arc is thinned where its chords stay within 1 cm
