"""Helpers for testing indicator plugins: small hand-made scenes, layers and contexts.

A plugin's tests should not need a city model file: build the few buildings the case needs, with
the numbers you can check by hand, and run the indicator on them.

>>> from cim_twin.testing import box_building, make_scene, make_context, evaluate
>>> scene = make_scene([box_building("b1", 0, 0, height=12), box_building("b2", 30, 0, height=6)])
>>> ctx = make_context(scene, period=2025)
>>> [b.id for b in ctx.buildings() if b.height_m > 10]
['b1']

``evaluate(indicator, ctx)`` runs an indicator the way the runner does (results checked, a copy
of the context per run) and returns ``(findings, measurements)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .crs import parse_srs_name
from .indicators.api import AuxLayer, CheckContext, Indicator
from .model import Measurement, Period, ProblemPoint
from .scene import CityObject, Measure, Mesh, Scene

__all__ = ["box_building", "evaluate", "make_context", "make_layer", "make_scene", "units_layer"]

#: Default CRS of the helpers: CGCS2000 / 3-degree Gauss-Kruger CM 117E (Nanping, Fujian).
DEFAULT_CRS = "EPSG:4548"
#: Default origin of the helpers' local coordinates in that CRS (about 117.0E 27.0N).
DEFAULT_ORIGIN = (500000.0, 2988000.0)

_BOX_TRIANGLES = np.array(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
     [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]], np.int32
)
# semantics per triangle: ground (3), roof (1), walls (2), as the SurfaceType codes
_BOX_SEMANTICS = np.array([3, 3, 1, 1] + [2] * 8, np.uint8)


def box_building(
    id: str,
    x: float,
    y: float,
    *,
    width: float = 10.0,
    depth: float = 10.0,
    height: float = 10.0,
    ground: float = 0.0,
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    lod: int = 1,
    function: str | None = None,
    year_built: int | None = None,
    storeys: int | None = None,
    measured_height: bool = False,
    **generic: Any,
) -> CityObject:
    """A box-shaped building with its corner at ``origin + (x, y)``.

    Parameters
    ----------
    id, x, y:
        Building id and the offset (m) of its south-west corner from ``origin``.
    width, depth, height, ground:
        Size (m) and ground elevation.
    function, year_built, storeys:
        ``bldg:function`` code (``"1000"`` is residential), year of construction, storeys.
    measured_height:
        Also state ``measuredHeight`` (as most CityGML does).
    generic:
        Generic attributes (e.g. ``community_id="D01-B01-C01"``).
    """
    x0, y0 = origin[0] + x, origin[1] + y
    corners = np.array(
        [[0, 0, 0], [width, 0, 0], [width, depth, 0], [0, depth, 0],
         [0, 0, height], [width, 0, height], [width, depth, height], [0, depth, height]], np.float64
    )
    vertices = corners + np.array([x0, y0, ground])
    mesh = Mesh(vertices, _BOX_TRIANGLES.copy(), _BOX_SEMANTICS.copy(), solid_closed=True)
    attributes: dict[str, Any] = {}
    if function is not None:
        attributes["function"] = function
    if year_built is not None:
        attributes["yearOfConstruction"] = year_built
    if storeys is not None:
        attributes["storeysAboveGround"] = storeys
    if measured_height:
        attributes["measuredHeight"] = Measure(height, "m")
    return CityObject(id, "Building", attributes=attributes, generic_attributes=dict(generic),
                      geometry={lod: mesh})


def make_scene(objects: Iterable[CityObject], crs: str | None = DEFAULT_CRS) -> Scene:
    """A scene in ``crs`` holding ``objects``."""
    scene = Scene(parse_srs_name(crs) if crs else None)
    for obj in objects:
        scene.add(obj)
    return scene


def make_layer(layer_name: str, kind: str, geometries: Sequence[Any], /, *, level: str | None = None,
               **columns: Sequence[Any]) -> AuxLayer:
    """An :class:`AuxLayer` from shapely geometries (scene CRS) and columns given as lists."""
    from .io.layers import _column

    geoms = np.empty(len(geometries), dtype=object)
    geoms[:] = list(geometries)
    return AuxLayer(name=layer_name, kind=kind, geometries=geoms,
                    columns={k: _column(list(v)) for k, v in columns.items()}, level=level)


def units_layer(level: str, boxes: dict[str, tuple[float, float, float, float]], *,
                origin: tuple[float, float] = DEFAULT_ORIGIN, name: str | None = None) -> AuxLayer:
    """Rectangular spatial units: ``{"C01": (x0, y0, x1, y1), ...}`` offsets from ``origin``."""
    import shapely

    ids = list(boxes)
    polys = [shapely.box(origin[0] + b[0], origin[1] + b[1], origin[0] + b[2], origin[1] + b[3])
             for b in boxes.values()]
    layer = make_layer(name or f"{level}s", "units", polys, level=level, id=ids, name=ids)
    layer.columns["level"] = np.array([level] * len(ids), dtype=object)
    return layer


def make_context(scene: Scene, *, period: int = 2025, layers: Iterable[AuxLayer] = (),
                 thresholds: dict[str, dict[str, float]] | None = None,
                 options: dict[str, dict[str, Any]] | None = None, tz: Any = None) -> CheckContext:
    """A :class:`CheckContext` as the runner builds it, for one year."""
    return CheckContext(scene, period=Period.year(period, tz), layers={lay.name: lay for lay in layers},
                        thresholds=thresholds, options=options, run_id="test", profile="test")


def evaluate(indicator: Indicator, ctx: CheckContext) -> tuple[list[ProblemPoint], list[Measurement]]:
    """Run ``indicator`` on ``ctx`` in this process (exceptions propagate, for pytest to show) and
    return its findings with their places filled, and its measurements."""
    from .indicators.runner import _fresh_context, place_findings

    mine = _fresh_context(ctx)
    findings = list(indicator.evaluate(mine) or ())
    for item in findings:
        if not isinstance(item, ProblemPoint):
            raise TypeError(f"evaluate() yielded {type(item).__name__}, not a ProblemPoint")
    return place_findings(findings, ctx), mine.measurements
