"""Colouring buildings (``--color-by``): vertex colours, a 3D Tiles style JSON and a legend.

``--color-by severity`` colours by the worst severity of a building's findings; ``--color-by CODE``
by the building's value in that indicator's findings (five equal-interval classes, light yellow to
dark red); ``--color-by ATTR`` by any exported property (numbers in five classes, text by its ten most
frequent values). Buildings without a value are grey.

The style JSON reproduces the vertex colours with 3D Tiles style expressions over the same property
ids, so a platform can restyle or filter. CesiumJS multiplies a style colour with the vertex colour
by default; apply the style with ``tileset.colorBlendMode = Cesium.Cesium3DTileColorBlendMode.REPLACE``
to see exactly the style's colours.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..model import SEVERITY_ZH
from .features import FLOAT_NO_DATA, INT_NO_DATA, PropertyTable

__all__ = ["SEVERITY_COLORS", "Coloring", "color_buildings", "hex_color"]

NEUTRAL = (217, 217, 210, 255)
NO_VALUE = (160, 160, 160, 255)
SEVERITY_COLORS: dict[str, tuple[int, int, int, int]] = {
    "info": (66, 146, 198, 255),
    "low": (254, 217, 118, 255),
    "medium": (253, 141, 60, 255),
    "high": (227, 26, 28, 255),
    "critical": (128, 0, 38, 255),
}
RAMP = [(255, 255, 178, 255), (254, 204, 92, 255), (253, 141, 60, 255), (240, 59, 32, 255), (189, 0, 38, 255)]
CATEGORICAL = [
    (31, 119, 180, 255), (255, 127, 14, 255), (44, 160, 44, 255), (214, 39, 40, 255), (148, 103, 189, 255),
    (140, 86, 75, 255), (227, 119, 194, 255), (127, 127, 127, 255), (188, 189, 34, 255), (23, 190, 207, 255),
]


def hex_color(rgba: tuple[int, ...]) -> str:
    """``#rrggbb`` of an RGBA tuple."""
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])


def _css(rgba: tuple[int, ...]) -> str:
    return f"color('{hex_color(rgba)}')"


@dataclass
class Coloring:
    """Per-row RGBA colours, the style JSON and the legend (label, colour, bounds)."""

    colors: np.ndarray
    style: dict[str, Any]
    legend: list[dict[str, Any]] = field(default_factory=list)
    color_by: str | None = None


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def color_buildings(table: PropertyTable, color_by: str | None) -> Coloring:
    """Colours for every row of ``table`` by ``color_by`` (see the module docstring).

    Raises
    ------
    ConfigError
        when ``color_by`` names neither ``severity``, an indicator of the run nor a property.
    """
    n = len(table)
    if not color_by:
        colors = np.tile(np.array(NEUTRAL, np.uint8), (n, 1))
        return Coloring(colors, {"color": _css(NEUTRAL)}, [{"label_en": "building", "label_zh": "建筑",
                                                           "color": hex_color(NEUTRAL)}])
    if color_by == "severity":
        col = table.column("worst_severity")
        if col is None:
            raise ConfigError("--color-by severity needs a run", hint="give --run RUN")
        values = table.values(col)
        colors = np.array([SEVERITY_COLORS.get(v, NO_VALUE) for v in values], dtype=np.uint8).reshape(n, 4)
        conditions: list[list[str]] = [[f"${{{col.id}}} === {_quote(s)}", _css(c)] for s, c in SEVERITY_COLORS.items()]
        conditions.append(["true", _css(NO_VALUE)])
        legend: list[dict[str, Any]] = [{"label_en": s, "label_zh": SEVERITY_ZH[s], "value": s, "color": hex_color(c)}
                  for s, c in SEVERITY_COLORS.items()]
        legend.append({"label_en": "no problem", "label_zh": "无问题", "value": "", "color": hex_color(NO_VALUE)})
        return Coloring(colors, {"color": {"conditions": conditions}}, legend, color_by)
    col = table.column(f"indicator.{color_by}") or table.column(color_by)
    if col is None:
        known = [c.name[len("indicator."):] for c in table.columns if c.name.startswith("indicator.")]
        raise ConfigError(
            f"--color-by {color_by!r} is neither 'severity', an indicator of the run nor a building property",
            hint="indicators of the run: " + (", ".join(known) or "none (no --run given)")
            + "; properties: " + ", ".join(c.name for c in table.columns[:15]),
        )
    if col.type == "SCALAR":
        vals = table.values(col).astype(np.float64)
        missing = (vals == FLOAT_NO_DATA) | (vals == INT_NO_DATA) if col.no_data is not None else np.zeros(n, bool)
        good = vals[~missing]
        colors = np.tile(np.array(NO_VALUE, np.uint8), (n, 1))
        legend = []
        conditions = []
        if len(good):
            lo, hi = float(good.min()), float(good.max())
            edges = np.linspace(lo, hi, len(RAMP) + 1)
            cls = np.clip(np.searchsorted(edges, vals, side="right") - 1, 0, len(RAMP) - 1)
            ramp = np.array(RAMP, np.uint8)
            colors[~missing] = ramp[cls[~missing]]
            for k in range(len(RAMP) - 1, -1, -1):
                conditions.append([f"${{{col.id}}} >= {float(edges[k])!r}" if k else
                                   f"${{{col.id}}} >= {lo!r}", _css(RAMP[k])])
            for k in range(len(RAMP)):
                legend.append({"label_en": f"{edges[k]:.4g} - {edges[k + 1]:.4g}",
                               "label_zh": f"{edges[k]:.4g} - {edges[k + 1]:.4g}",
                               "min": float(edges[k]), "max": float(edges[k + 1]), "color": hex_color(RAMP[k])})
        conditions.append(["true", _css(NO_VALUE)])
        legend.append({"label_en": "no value", "label_zh": "无数据", "color": hex_color(NO_VALUE)})
        return Coloring(colors, {"color": {"conditions": conditions}}, legend, color_by)
    texts = [str(v) for v in table.values(col)]
    frequent = [v for v, _ in sorted(Counter(t for t in texts if t).items(), key=lambda kv: (-kv[1], kv[0]))]
    frequent = frequent[: len(CATEGORICAL)]
    palette = {v: CATEGORICAL[i] for i, v in enumerate(frequent)}
    colors = np.array([palette.get(t, NO_VALUE) for t in texts], dtype=np.uint8).reshape(n, 4)
    if col.type == "BOOLEAN":
        conditions = [[f"${{{col.id}}} === {v}", _css(c)] for v, c in palette.items()]
    else:
        conditions = [[f"${{{col.id}}} === {_quote(v)}", _css(c)] for v, c in palette.items()]
    conditions.append(["true", _css(NO_VALUE)])
    legend = [{"label_en": v, "label_zh": v, "value": v, "color": hex_color(c)} for v, c in palette.items()]
    legend.append({"label_en": "other / no value", "label_zh": "其他/无数据", "color": hex_color(NO_VALUE)})
    return Coloring(colors, {"color": {"conditions": conditions}}, legend, color_by)
