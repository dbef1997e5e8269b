"""Builders of tiny in-memory scenes and layers for hand-computed indicator cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import shapely

from cim_twin.crs import parse_srs_name
from cim_twin.indicators.api import AuxLayer, CheckContext
from cim_twin.model import Period
from cim_twin.scene import CityObject, Mesh, Scene, SurfaceType

# one box: 2 ground, 2 roof, 8 wall triangles
_BOX_TRIANGLES = np.array(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]],
    dtype=np.int32,
)
_BOX_SEMANTICS = np.array([SurfaceType.GROUND] * 2 + [SurfaceType.ROOF] * 2 + [SurfaceType.WALL] * 8, dtype=np.uint8)


def box(
    id: str, x: float, y: float, w: float = 10.0, d: float = 10.0, h: float = 9.0, *, z: float = 0.0,
    function: str = "1000", year: int | None = 2000, storeys: int | None = None, **generic: Any,
) -> CityObject:
    """A box building with its south-west corner at (x, y), ``w`` east, ``d`` north, ``h`` high."""
    v = np.array(
        [[x, y, z], [x + w, y, z], [x + w, y + d, z], [x, y + d, z],
         [x, y, z + h], [x + w, y, z + h], [x + w, y + d, z + h], [x, y + d, z + h]], dtype=np.float64)
    attrs: dict[str, Any] = {"function": function, "measuredHeight": float(h)}
    if year is not None:
        attrs["yearOfConstruction"] = year
    if storeys is not None:
        attrs["storeysAboveGround"] = storeys
    mesh = Mesh(vertices=v, triangles=_BOX_TRIANGLES.copy(), semantics=_BOX_SEMANTICS.copy(), solid_closed=True)
    return CityObject(id, "Building", attributes=attrs, generic_attributes=dict(generic), geometry={1: mesh})


def scene_of(buildings: Sequence[CityObject]) -> Scene:
    scene = Scene(parse_srs_name("EPSG:4548"))
    for b in buildings:
        scene.add(b)
    return scene


def layer(layer_name: str, kind: str, geometries: Sequence[Any], /, level: str | None = None, **columns: Sequence[Any]) -> AuxLayer:
    cols = {k: np.asarray(v, dtype=object if any(isinstance(x, str) or x is None for x in v) else None) for k, v in columns.items()}
    return AuxLayer(name=layer_name, kind=kind, geometries=np.asarray(list(geometries), dtype=object), columns=cols, level=level)


def points(*xy: tuple[float, float]) -> list[Any]:
    return [shapely.Point(x, y) for x, y in xy]


def square_units(name: str, level: str, boxes: dict[str, tuple[float, float, float, float]], /, **columns: Sequence[Any]) -> AuxLayer:
    ids = list(boxes)
    return layer(name, "units", [shapely.box(*b) for b in boxes.values()], level=level, id=ids, **columns)


def context(buildings: Sequence[CityObject], layers: Sequence[AuxLayer] = (), *, year: int = 2025,
            thresholds: dict[str, dict[str, float]] | None = None, options: dict[str, dict[str, Any]] | None = None) -> CheckContext:
    return CheckContext(scene_of(buildings), period=Period.year(year), layers={lay.name: lay for lay in layers},
                        thresholds=thresholds, options=options)


def run(indicator: Any, ctx: CheckContext) -> tuple[list[Any], dict[tuple[str, str], Any]]:
    """Evaluate; returns (problems, measurements by (level, unit_id))."""
    problems = list(indicator.evaluate(ctx))
    measures = {(m.level, m.unit_id): m for m in ctx.measurements if m.indicator == indicator.spec.code}
    return problems, measures


@pytest.fixture
def tiny() -> Any:
    """The builders above, as one object for tests."""
    import types

    return types.SimpleNamespace(box=box, layer=layer, points=points, units=square_units, context=context, run=run)
