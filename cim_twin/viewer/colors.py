"""Colours of the viewer: semantic surfaces, severities and continuous colour maps.

Pure numpy, no VTK: every colour a render shows is computed here, so colouring is tested without a
GL context and the scalar bar's lookup table is built from the same stops as the cell colours.
Labels are bilingual (Chinese first, as the check's documents are written, then English).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..model import Severity
from ..scene import SurfaceType

__all__ = [
    "COLORMAPS",
    "NAN_COLOR",
    "NO_FINDING_COLOR",
    "SEMANTIC_COLORS",
    "SEMANTIC_LABELS",
    "SEVERITY_COLORS",
    "SEVERITY_LABELS",
    "CategoryLegend",
    "categorical_colors",
    "colormap_table",
    "label",
    "map_values",
    "semantic_colors",
    "severity_colors",
]

RGB = tuple[int, int, int]

#: Surface colours a planner reads at a glance: a pale "white model" (白模) -- slate roofs, pale
#: walls, dark ground, glass blue -- so that the warm severity colours of the problem points are
#: the only strong colours in the picture.
SEMANTIC_COLORS: dict[SurfaceType, RGB] = {
    SurfaceType.UNKNOWN: (196, 196, 196),
    SurfaceType.ROOF: (140, 152, 172),
    SurfaceType.WALL: (236, 231, 220),
    SurfaceType.GROUND: (105, 105, 105),
    SurfaceType.CLOSURE: (214, 214, 230),
    SurfaceType.OUTER_CEILING: (226, 214, 196),
    SurfaceType.OUTER_FLOOR: (160, 150, 140),
    SurfaceType.WINDOW: (110, 165, 215),
    SurfaceType.DOOR: (140, 98, 57),
    SurfaceType.INTERIOR_WALL: (245, 240, 230),
    SurfaceType.CEILING: (235, 235, 235),
    SurfaceType.FLOOR: (170, 160, 150),
    SurfaceType.TERRAIN: (170, 186, 134),
    SurfaceType.WATER_SURFACE: (86, 146, 206),
    SurfaceType.WATER_GROUND: (60, 96, 140),
    SurfaceType.TRAFFIC_AREA: (150, 150, 155),
    SurfaceType.AUXILIARY_TRAFFIC_AREA: (185, 180, 170),
    SurfaceType.VEGETATION: (96, 160, 84),
    SurfaceType.LAND_USE: (214, 206, 168),
    SurfaceType.FURNITURE: (120, 110, 100),
    SurfaceType.GENERIC: (180, 180, 190),
}

SEMANTIC_LABELS: dict[SurfaceType, tuple[str, str]] = {
    SurfaceType.UNKNOWN: ("未分类面", "unclassified"),
    SurfaceType.ROOF: ("屋顶", "roof"),
    SurfaceType.WALL: ("墙面", "wall"),
    SurfaceType.GROUND: ("地面", "ground"),
    SurfaceType.CLOSURE: ("封闭面", "closure"),
    SurfaceType.OUTER_CEILING: ("外挑顶面", "outer ceiling"),
    SurfaceType.OUTER_FLOOR: ("外挑底面", "outer floor"),
    SurfaceType.WINDOW: ("窗", "window"),
    SurfaceType.DOOR: ("门", "door"),
    SurfaceType.INTERIOR_WALL: ("内墙", "interior wall"),
    SurfaceType.CEILING: ("天花", "ceiling"),
    SurfaceType.FLOOR: ("楼板", "floor"),
    SurfaceType.TERRAIN: ("地形", "terrain"),
    SurfaceType.WATER_SURFACE: ("水面", "water surface"),
    SurfaceType.WATER_GROUND: ("水底", "water bed"),
    SurfaceType.TRAFFIC_AREA: ("车行道", "traffic area"),
    SurfaceType.AUXILIARY_TRAFFIC_AREA: ("辅道", "auxiliary traffic area"),
    SurfaceType.VEGETATION: ("植被", "vegetation"),
    SurfaceType.LAND_USE: ("用地", "land use"),
    SurfaceType.FURNITURE: ("城市家具", "city furniture"),
    SurfaceType.GENERIC: ("其他", "generic"),
}

#: Severity colours: cool for information, through yellow and orange, to red and dark crimson.
SEVERITY_COLORS: dict[Severity, RGB] = {
    Severity.INFO: (66, 133, 204),
    Severity.LOW: (240, 200, 40),
    Severity.MEDIUM: (245, 135, 30),
    Severity.HIGH: (214, 48, 39),
    Severity.CRITICAL: (120, 16, 60),
}
SEVERITY_LABELS: dict[Severity, tuple[str, str]] = {s: (s.label_zh, s.value) for s in Severity}
#: Objects without a finding when colouring by severity, and cells without a value.
NO_FINDING_COLOR: RGB = (222, 222, 218)
NO_FINDING_LABEL: tuple[str, str] = ("无问题", "no finding")
NAN_COLOR: RGB = (200, 200, 200)
NAN_LABEL: tuple[str, str] = ("无数据", "no value")

#: Colour map stops (evenly spaced). ``ylorrd`` runs from good (pale) to bad (dark red) and is the
#: map of indicator values; ``viridis`` is for plain attributes, where no direction is implied.
COLORMAPS: dict[str, tuple[RGB, ...]] = {
    "ylorrd": (
        (255, 255, 204), (255, 237, 160), (254, 217, 118), (254, 178, 76), (253, 141, 60),
        (252, 78, 42), (227, 26, 28), (189, 0, 38), (128, 0, 38),
    ),
    "viridis": (
        (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ),
}
#: Colours of the categories of a text attribute (ColorBrewer "Set2" and "Dark2" joined).
CATEGORY_PALETTE: tuple[RGB, ...] = (
    (102, 194, 165), (252, 141, 98), (141, 160, 203), (231, 138, 195), (166, 216, 84),
    (255, 217, 47), (229, 196, 148), (27, 158, 119), (217, 95, 2), (117, 112, 179),
    (231, 41, 138), (102, 166, 30),
)
OTHER_LABEL: tuple[str, str] = ("其他", "other")


def label(pair: tuple[str, str], bilingual: bool = True) -> str:
    """``"屋顶 roof"`` when ``bilingual``, else the English half (one of them when both are equal)."""
    return f"{pair[0]} {pair[1]}" if bilingual and pair[0] != pair[1] else pair[1]


def semantic_colors(semantics: np.ndarray) -> np.ndarray:
    """``(m, 3)`` uint8 RGB for an array of :class:`SurfaceType` values (unknown values grey)."""
    table = np.tile(np.array(SEMANTIC_COLORS[SurfaceType.UNKNOWN], np.uint8), (256, 1))
    for kind, rgb in SEMANTIC_COLORS.items():
        table[int(kind)] = rgb
    return table[np.asarray(semantics, dtype=np.uint8)]


def severity_colors(rank: np.ndarray) -> np.ndarray:
    """``(n, 3)`` uint8 RGB for severity ranks (``Severity.rank``; ``-1``: no finding)."""
    table = np.array([NO_FINDING_COLOR] + [SEVERITY_COLORS[s] for s in Severity], np.uint8)
    return table[np.asarray(rank, dtype=np.int64) + 1]


def colormap_table(name: str, n: int = 256) -> np.ndarray:
    """``(n, 3)`` uint8 RGB table interpolated linearly between the stops of a colour map.

    Raises
    ------
    KeyError
        for an unknown map name.
    """
    stops = np.asarray(COLORMAPS[name], dtype=np.float64)
    at = np.linspace(0.0, 1.0, len(stops))
    x = np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(x, at, stops[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


def map_values(
    values: np.ndarray,
    clim: tuple[float, float],
    name: str = "ylorrd",
    n: int = 256,
    reverse: bool = False,
) -> np.ndarray:
    """``(k, 3)`` uint8 RGB of ``values`` through a colour map, as VTK's lookup table maps them
    (clamped to ``clim``, ``n`` bins; NaN gets :data:`NAN_COLOR`).

    ``reverse`` flips the map, for indicators where a higher value is better.
    """
    table = colormap_table(name, n)
    if reverse:
        table = table[::-1]
    values = np.asarray(values, dtype=np.float64)
    lo, hi = float(clim[0]), float(clim[1])
    span = hi - lo if hi > lo else 1.0
    with np.errstate(invalid="ignore"):
        t = np.clip((values - lo) / span, 0.0, 1.0)
    idx = np.minimum((np.nan_to_num(t) * n).astype(np.int64), n - 1)
    out = table[idx]
    out[np.isnan(values)] = NAN_COLOR
    return out


@dataclass(frozen=True)
class CategoryLegend:
    """Colours of the categories of a text attribute: the most frequent get their own colour, the
    rest share "other"."""

    categories: tuple[str, ...]
    colors: tuple[RGB, ...]
    codes: np.ndarray  # per value: index into categories; len(categories) = other; -1 = missing

    def rgb(self) -> np.ndarray:
        """``(n, 3)`` uint8 RGB per value."""
        table = np.array([NAN_COLOR, *self.colors, (160, 160, 160)], np.uint8)
        return table[self.codes + 1]

    def entries(self, bilingual: bool = True) -> list[tuple[str, RGB]]:
        """Legend rows ``(label, rgb)`` for the categories present."""
        rows = list(zip(self.categories, self.colors, strict=True))
        if (self.codes == len(self.categories)).any():
            rows.append((label(OTHER_LABEL, bilingual), (160, 160, 160)))
        if (self.codes < 0).any():
            rows.append((label(NAN_LABEL, bilingual), NAN_COLOR))
        return rows


def categorical_colors(values: Sequence[str | None], max_categories: int = len(CATEGORY_PALETTE)) -> CategoryLegend:
    """Colour text values by category, the most frequent first (ties by name, so the result is
    deterministic)."""
    present = [v for v in values if v is not None]
    counts: dict[str, int] = {}
    for v in present:
        counts[v] = counts.get(v, 0) + 1
    ranked = sorted(counts, key=lambda v: (-counts[v], v))[:max_categories]
    index = {v: i for i, v in enumerate(ranked)}
    codes = np.array(
        [-1 if v is None else index.get(v, len(ranked)) for v in values], dtype=np.int64
    )
    return CategoryLegend(tuple(ranked), tuple(CATEGORY_PALETTE[: len(ranked)]), codes)
