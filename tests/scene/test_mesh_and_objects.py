"""Scene graph core: derived quantities on a hand-made box, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from cim_twin.scene import CityObject, Measure, Mesh, Scene, SurfaceType


def box(x0: float, y0: float, dx: float, dy: float, h: float, z0: float = 0.0) -> Mesh:
    v = np.array(
        [[0, 0, 0], [dx, 0, 0], [dx, dy, 0], [0, dy, 0], [0, 0, h], [dx, 0, h], [dx, dy, h], [0, dy, h]], float
    ) + np.array([x0, y0, z0])
    t = np.array(
        [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
         [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]], np.int32
    )
    s = np.array([3, 3, 1, 1] + [2] * 8, np.uint8)
    return Mesh(v, t, s, solid_closed=True)


def test_box_quantities() -> None:
    b = CityObject("b1", "Building", geometry={1: box(500000, 2950000, 10, 5, 3)})
    assert b.footprint_area_m2 == pytest.approx(50.0)
    assert b.footprint.area == pytest.approx(50.0)
    assert b.volume_m3 == pytest.approx(150.0)
    assert b.height_m == pytest.approx(3.0)
    assert b.ground_z == 0.0 and b.roof_z == 3.0
    assert b.storeys == 1
    assert np.allclose(b.roof_centre, [500005, 2950002.5, 3])
    assert b.mesh().of_type(SurfaceType.ROOF).n_triangles == 2


def test_measured_height_wins_and_parts_join() -> None:
    part = CityObject("p1", "BuildingPart", geometry={2: box(10, 0, 4, 4, 9)})
    b = CityObject("b1", "Building", geometry={2: box(0, 0, 10, 10, 6)}, children=[part],
                   attributes={"measuredHeight": Measure(6.5, "m"), "storeysAboveGround": 2})
    assert b.height_m == 6.5
    assert b.storeys == 2
    assert b.footprint_area_m2 == pytest.approx(116.0)
    assert b.volume_m3 == pytest.approx(600 + 144)
    scene = Scene()
    scene.add(b)
    assert scene.counts() == {"Building": 1, "BuildingPart": 1}
    assert scene.lods() == [2]


def test_duplicate_ids_are_kept_with_a_warning() -> None:
    scene = Scene()
    scene.add(CityObject("a", "Building", geometry={1: box(0, 0, 1, 1, 1)}))
    scene.add(CityObject("a", "Building", geometry={1: box(5, 5, 1, 1, 1)}))
    assert len(scene) == 2 and "a~2" in scene
    assert len(scene.warnings) == 1


def test_spatial_index() -> None:
    scene = Scene()
    for i in range(10):
        scene.add(CityObject(f"b{i}", "Building", geometry={1: box(i * 20, 0, 10, 10, 5)}))
    assert [o.id for o in scene.index.query_bbox(15, 0, 45, 5)] == ["b1", "b2"]
    assert scene.index.nearest(61, 4)[0].id == "b3"
