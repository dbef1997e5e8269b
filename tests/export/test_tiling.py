"""Tiling: caps per tile, every building exactly once in the leaves, coarse blocks, errors."""

from __future__ import annotations

import numpy as np

from cim_twin.export.buildings import TilingOptions, prepare_buildings
from cim_twin.export.tiling import make_block

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
