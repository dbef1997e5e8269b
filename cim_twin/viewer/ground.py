"""Context lines on the ground: the project's roads and spatial-unit boundaries.

A city model alone shows houses floating in nothing; a planner looking for the worst streets needs
the streets, and the community or block a problem falls in. Roads and unit boundaries of the
project's layers are drawn as thin lines at the ground level of the model, one merged line set per
layer (never an actor per road). Pure numpy and shapely; :meth:`GroundLines.to_polydata` is the
only VTK-facing part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..indicators.api import AuxLayer

__all__ = ["GROUND_KINDS", "GroundLines", "build_ground_lines", "ground_lines"]

#: Layer kinds drawn as ground lines.
GROUND_KINDS = ("roads", "units")

#: Colour (RGB) and line width (px) per kind and unit level: roads dark, districts the boldest
#: boundary, communities the finest.
_STYLE: dict[tuple[str, str | None], tuple[tuple[int, int, int], float]] = {
    ("roads", None): ((72, 72, 78), 2.0),
    ("units", "district"): ((38, 84, 160), 3.0),
    ("units", "block"): ((64, 118, 190), 2.0),
    ("units", "community"): ((110, 150, 205), 1.5),
    ("units", None): ((110, 150, 205), 1.5),
}
_LEVEL_LABELS: dict[str | None, tuple[str, str]] = {
    "district": ("区界", "district boundaries"),
    "block": ("街区界", "block boundaries"),
    "community": ("社区界", "community boundaries"),
    "building": ("单元界", "unit boundaries"),
    None: ("单元界", "unit boundaries"),
}
#: Lines float this far above the lowest building base, so that ground faces do not hide them.
_LIFT_M = 0.3


@dataclass
class GroundLines:
    """One layer's lines, merged, in the display frame.

    Attributes
    ----------
    key:
        Toggle key (``ground/roads``, ``ground/communities``).
    label:
        Chinese and English name for the legend and the toggle.
    rgb, width:
        Line colour and width in pixels.
    points:
        ``(n, 3)`` float32 vertices.
    lines:
        VTK line connectivity: for each polyline its vertex count, then its vertex indices.
    n_lines:
        Number of polylines.
    """

    key: str
    label: tuple[str, str]
    rgb: tuple[int, int, int]
    width: float
    points: np.ndarray
    lines: np.ndarray
    n_lines: int

    def __len__(self) -> int:
        return self.n_lines

    def to_polydata(self) -> Any:
        import pyvista as pv

        return pv.PolyData(self.points, lines=self.lines)


def _polylines(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and polyline index of every line of some geometries (polygons: their rings)."""
    import shapely

    geoms = geometries[~shapely.is_missing(geometries)]
    if not len(geoms):
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    parts = shapely.get_parts(geoms)
    polygonal = shapely.get_type_id(parts) == 3
    lines = np.concatenate([parts[~polygonal], shapely.get_parts(shapely.boundary(parts[polygonal]))])
    lines = lines[shapely.get_type_id(lines) == 1]  # linestrings (points and empty parts have no line)
    coords, index = shapely.get_coordinates(lines, return_index=True)
    return coords, index


def ground_lines(layer: AuxLayer, origin: np.ndarray, ground_z: float) -> GroundLines | None:
    """The lines of a roads or units layer at ``ground_z`` (display frame), None when it has none.

    Parameters
    ----------
    layer:
        A layer of kind ``roads`` or ``units`` in the scene CRS.
    origin:
        The display origin subtracted from scene coordinates.
    ground_z:
        Height of the lines in the display frame.
    """
    if layer.kind not in GROUND_KINDS or not layer.has_geometry:
        return None
    coords, index = _polylines(layer.geometries)
    if not len(coords):
        return None
    # Polylines with fewer than two vertices draw nothing; VTK wants [count, i0, i1, ...] per line.
    counts = np.bincount(index)
    keep_line = counts >= 2
    keep = keep_line[index]
    coords, index = coords[keep], index[keep]
    counts = counts[keep_line]
    if not len(counts):
        return None
    points = np.empty((len(coords), 3), dtype=np.float64)
    points[:, :2] = coords - origin[:2]
    points[:, 2] = ground_z
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    connectivity = np.empty(len(coords) + len(counts), dtype=np.int64)
    header = starts + np.arange(len(counts))  # where each line's count goes
    connectivity[header] = counts
    body = np.ones(len(connectivity), dtype=bool)
    body[header] = False
    connectivity[body] = np.arange(len(coords))
    level = layer.level if layer.kind == "units" else None
    rgb, width = _STYLE.get((layer.kind, level), _STYLE[(layer.kind, None)])
    label = ("道路", "roads") if layer.kind == "roads" else _LEVEL_LABELS.get(level, _LEVEL_LABELS[None])
    return GroundLines(f"ground/{layer.name}", label, rgb, width, points.astype(np.float32), connectivity,
                       len(counts))


def build_ground_lines(layers: Iterable[AuxLayer], origin: np.ndarray, base_z: float) -> list[GroundLines]:
    """Ground lines of every roads and units layer, coarsest units first (drawn under the finer)."""
    order = {"district": 0, "block": 1, "community": 2, "building": 3}
    chosen = sorted((la for la in layers if la.kind in GROUND_KINDS),
                    key=lambda la: (la.kind != "roads", order.get(la.level or "", 4)))
    out = []
    for layer in chosen:
        lines = ground_lines(layer, origin, base_z + _LIFT_M)
        if lines is not None:
            out.append(lines)
    return out
