"""Batched triangulation: areas, holes, concave outlines, orientation, degenerate polygons."""

from __future__ import annotations

import numpy as np
import pytest

from cim_twin.scene.triangulate import PolygonBatch, triangulate


def area_by_polygon(batch: PolygonBatch, tri) -> np.ndarray:
    c = batch.vertices[tri.triangles]
    areas = 0.5 * np.linalg.norm(np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]), axis=1)
    return np.bincount(tri.polygon, weights=areas, minlength=batch.n_polygons)


def ring(*pts: tuple[float, float, float]) -> np.ndarray:
    return np.array(pts, dtype=np.float64)


def test_square_with_hole_concave_l_and_vertical_wall() -> None:
    x0, y0 = 618000.0, 2950000.0  # projected coordinates, as in a real scene
    square = ring((x0, y0, 5), (x0 + 20, y0, 5), (x0 + 20, y0 + 20, 5), (x0, y0 + 20, 5))
    hole = ring((x0 + 5, y0 + 5, 5), (x0 + 5, y0 + 15, 5), (x0 + 15, y0 + 15, 5), (x0 + 15, y0 + 5, 5))
    l_shape = ring((0, 0, 0), (10, 0, 0), (10, 4, 0), (4, 4, 0), (4, 10, 0), (0, 10, 0))
    wall = ring((0, 0, 0), (8, 0, 0), (8, 0, 3), (4, 0, 5), (0, 0, 3))  # gable wall, vertical
    batch = PolygonBatch.from_rings([[square, hole], [l_shape], [wall]])
    tri = triangulate(batch)
    assert len(tri.degenerate) == 0
    np.testing.assert_allclose(area_by_polygon(batch, tri), [400 - 100, 100 - 36, 24 + 8], rtol=1e-9)
    # no triangle of the holed square lies inside the hole
    c = batch.vertices[tri.triangles[tri.polygon == 0]].mean(axis=1)
    inside = (c[:, 0] > x0 + 5) & (c[:, 0] < x0 + 15) & (c[:, 1] > y0 + 5) & (c[:, 1] < y0 + 15)
    assert not inside.any()


@pytest.mark.parametrize("reverse", [False, True])
def test_triangles_keep_the_ring_orientation(reverse: bool) -> None:
    pts = ring((0, 0, 0), (10, 0, 0), (10, 10, 0), (6, 10, 0), (6, 4, 0), (0, 4, 0))  # concave
    if reverse:
        pts = pts[::-1]
    batch = PolygonBatch.from_rings([[pts]])
    tri = triangulate(batch)
    c = batch.vertices[tri.triangles]
    normals = np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0])
    expected = -1 if reverse else 1
    assert np.all(np.sign(normals[:, 2]) == expected)


def test_closing_points_are_dropped_and_degenerates_reported() -> None:
    closed = ring((0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 0, 0))
    line = ring((0, 0, 0), (1, 1, 1), (2, 2, 2), (0, 0, 0))  # collinear: no area
    repeated = ring((5, 5, 5), (5, 5, 5), (5, 5, 5))
    batch = PolygonBatch.from_rings([[closed], [line], [repeated]])
    assert len(batch.vertices) == 3 + 3 + 2  # a last point equal to the first is removed
    tri = triangulate(batch)
    assert tri.degenerate.tolist() == [1, 2]
    assert tri.polygon.tolist() == [0]


def test_many_polygons_in_one_batch_match_one_by_one() -> None:
    rng = np.random.default_rng(7)
    polygons = []
    for _ in range(200):
        n = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(2, 10, n)
        pts = np.column_stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(n)])
        tilt = rng.normal(size=3)
        q, _ = np.linalg.qr(np.column_stack([tilt, rng.normal(size=3), rng.normal(size=3)]))
        polygons.append([pts @ q.T + rng.uniform(-1e5, 1e5, 3)])
    batch = PolygonBatch.from_rings(polygons)
    together = area_by_polygon(batch, triangulate(batch))
    alone = [area_by_polygon(b, triangulate(b))[0] for b in (PolygonBatch.from_rings([p]) for p in polygons)]
    np.testing.assert_allclose(together, alone, rtol=1e-9)
    assert np.all(together > 0)
