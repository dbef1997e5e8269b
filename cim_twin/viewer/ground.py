"""Context lines on the ground: the project's roads and spatial-unit boundaries.

A city model alone shows houses floating in nothing; a planner looking for the worst streets needs
the streets, and the community or block a problem falls in. Roads and unit boundaries of the
project's layers are drawn as thin lines at the ground level of the model, one merged line set per
layer (never an actor per road). Each line knows its feature, so a road that findings name (a
narrow sidewalk, a street canyon) is drawn in the colour of its worst finding, can be picked, and is
outlined when the camera flies to such a finding. Pure numpy and shapely;
:meth:`GroundLines.to_polydata` is the only VTK-facing part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
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
    header:
        ``(n_lines,)`` position in ``lines`` of each polyline's vertex count.
    feature:
        ``(n_lines,)`` row in the layer of each polyline (a multi-part feature has several).
    layer:
        The layer itself, for the ids and attributes of picked lines.
    """

    key: str
    label: tuple[str, str]
    rgb: tuple[int, int, int]
    width: float
    points: np.ndarray
    lines: np.ndarray
    n_lines: int
    header: np.ndarray
    feature: np.ndarray
    layer: AuxLayer

    def __len__(self) -> int:
        return self.n_lines

    @cached_property
    def feature_ids(self) -> list[str | None]:
        """The id of each polyline's feature (None without an ``id`` column)."""
        ids = self.layer.columns.get("id")
        if ids is None:
            return [None] * self.n_lines
        return [None if ids[row] is None else str(ids[row]) for row in self.feature]

    def lines_of(self, ids: set[str]) -> np.ndarray:
        """Polylines whose feature id is in ``ids``."""
        return np.array([i for i, fid in enumerate(self.feature_ids) if fid in ids], dtype=np.int64)

    def polyline_points(self, line: int) -> np.ndarray:
        """The ``(k, 3)`` vertices of polyline ``line``."""
        at = int(self.header[line])
        return self.points[self.lines[at + 1:at + 1 + int(self.lines[at])]]

    def describe(self, line: int, bilingual: bool = True) -> str:
        """Panel text of a picked line: what it is, its id and attributes."""
        from .colors import label
        from .describe import MAX_ATTRIBUTE_LINES, format_value

        row = int(self.feature[line])
        columns = {k: v[row] for k, v in self.layer.columns.items() if k != "id"}
        fid = self.feature_ids[line]
        lines = [f"{label(self.label, bilingual)} {fid or f'#{row}'}"]
        shown = [(k, v) for k, v in columns.items() if v is not None and v == v][:MAX_ATTRIBUTE_LINES]
        lines += [f"  {k}: {format_value(v)}" for k, v in shown]
        return "\n".join(lines)

    def to_polydata(self) -> Any:
        import pyvista as pv

        return pv.PolyData(self.points, lines=self.lines)


def _polylines(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates and polyline index of every line of some geometries (polygons: their rings),
    and the geometry row of each polyline."""
    import shapely

    rows = np.flatnonzero(~shapely.is_missing(geometries))
    if not len(rows):
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    parts, part_row = shapely.get_parts(geometries[rows], return_index=True)
    part_row = rows[part_row]
    polygonal = shapely.get_type_id(parts) == 3
    rings, ring_part = shapely.get_parts(shapely.boundary(parts[polygonal]), return_index=True)
    lines = np.concatenate([parts[~polygonal], rings])
    line_row = np.concatenate([part_row[~polygonal], part_row[polygonal][ring_part]])
    keep = shapely.get_type_id(lines) == 1  # linestrings (points and empty parts have no line)
    coords, index = shapely.get_coordinates(lines[keep], return_index=True)
    return coords, index, line_row[keep]


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
    coords, index, line_row = _polylines(layer.geometries)
    if not len(coords):
        return None
    # Polylines with fewer than two vertices draw nothing; VTK wants [count, i0, i1, ...] per line.
    counts = np.bincount(index, minlength=len(line_row))
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
                       n_lines=len(counts), header=header, feature=line_row[keep_line], layer=layer)


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
