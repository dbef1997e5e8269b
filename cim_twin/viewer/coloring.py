"""What the buildings are coloured by: semantic surfaces, the worst severity of their findings, an
indicator's value, or an attribute. Pure numpy; tested without GL.

``--color-by`` takes ``semantic`` (default), ``severity``, an indicator code found in the run, or an
attribute name (thematic or generic, or a derived quantity such as ``height_m`` or ``year_built``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import ConfigError
from ..model import IndicatorSpec, Severity
from ..scene import CityObject, SurfaceType
from .colors import (
    NAN_COLOR,
    NO_FINDING_COLOR,
    NO_FINDING_LABEL,
    SEMANTIC_COLORS,
    SEMANTIC_LABELS,
    SEVERITY_COLORS,
    SEVERITY_LABELS,
    categorical_colors,
    label,
    map_values,
    semantic_colors,
    severity_colors,
)
from .problems import ProblemSet
from .scene_mesh import LayerMesh, SceneMeshes

__all__ = ["DERIVED_ATTRIBUTES", "Coloring", "ObjectFindings", "resolve_coloring"]

#: Quantities every object has, computed from its geometry when not stated.
DERIVED_ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "height_m": ("高度", "height", "m"),
    "year_built": ("建成年代", "year built", ""),
    "storeys": ("层数", "storeys", ""),
    "footprint_area_m2": ("占地面积", "footprint area", "m²"),
    "floor_area_m2": ("建筑面积", "floor area", "m²"),
    "volume_m3": ("体积", "volume", "m³"),
    "function": ("功能", "function", ""),
    "usage": ("用途", "usage", ""),
    "kind": ("类型", "kind", ""),
}


class ObjectFindings:
    """Which findings concern which displayed object, as flat pair arrays built once.

    Parameters
    ----------
    meshes:
        The displayed scene.
    problems:
        The run's findings.
    """

    def __init__(self, meshes: SceneMeshes, problems: ProblemSet) -> None:
        finding_rows: list[int] = []
        object_rows: list[int] = []
        for i, f in enumerate(problems.findings):
            for row in meshes.rows_of(f.object_ids):
                finding_rows.append(i)
                object_rows.append(row)
        self.finding = np.array(finding_rows, dtype=np.int64)
        self.object = np.array(object_rows, dtype=np.int64)
        self.n_objects = len(meshes.objects)
        self.problems = problems

    def worst_rank(self, mask: np.ndarray) -> np.ndarray:
        """Per object: highest severity rank among its findings in ``mask`` (``-1``: none)."""
        out = np.full(self.n_objects, -1, dtype=np.int64)
        keep = mask[self.finding] if len(self.finding) else np.zeros(0, dtype=bool)
        np.maximum.at(out, self.object[keep], self.problems.rank[self.finding[keep]])
        return out

    def indicator_value(self, code: str, mask: np.ndarray) -> np.ndarray:
        """Per object: the value of its worst finding of indicator ``code`` in ``mask`` (NaN: none)."""
        out = np.full(self.n_objects, np.nan)
        if not len(self.finding):
            return out
        keep = mask[self.finding] & (self.problems.indicator[self.finding] == code)
        fi, oi = self.finding[keep], self.object[keep]
        # Worst last, so the fancy assignment keeps the worst finding's value per object.
        order = np.lexsort((self.problems.score[fi], self.problems.rank[fi]))
        out[oi[order]] = self.problems.value[fi[order]]
        return out

    def findings_of(self, row: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows of the findings that concern object ``row`` (in ``mask``), worst first."""
        sel = self.finding[self.object == row]
        if mask is not None:
            sel = sel[mask[sel]]
        if not len(sel):
            return sel
        only = np.zeros(len(self.problems), dtype=bool)
        only[sel] = True
        return self.problems.worst_first(only)


@dataclass
class Coloring:
    """The colouring of the displayed objects.

    Attributes
    ----------
    mode:
        ``semantic``, ``severity``, ``indicator`` or ``attribute``.
    title:
        Bilingual title of the legend or scalar bar.
    object_rgb:
        ``(n_objects, 3)`` uint8 for categorical modes (severity, text attributes).
    object_values:
        ``(n_objects,)`` float for continuous modes (indicator values, numeric attributes).
    clim, cmap, reverse:
        Colour range, map name (see :data:`~cim_twin.viewer.colors.COLORMAPS`), flipped or not.
    legend:
        ``(label, rgb)`` rows for categorical modes.
    """

    mode: Literal["semantic", "severity", "indicator", "attribute"]
    title: tuple[str, str]
    object_rgb: np.ndarray | None = None
    object_values: np.ndarray | None = None
    clim: tuple[float, float] = (0.0, 1.0)
    cmap: str = "ylorrd"
    reverse: bool = False
    unit: str = ""
    legend: list[tuple[tuple[str, str] | str, tuple[int, int, int]]] = field(default_factory=list)

    @property
    def continuous(self) -> bool:
        return self.object_values is not None

    def cell_rgb(self, layer: LayerMesh) -> np.ndarray:
        """``(m, 3)`` uint8 per triangle of a layer (continuous modes: through the colour map)."""
        if self.mode == "semantic":
            return semantic_colors(layer.shown_semantic())
        if self.object_rgb is not None:
            return self.object_rgb[layer.object_index]
        return map_values(self.cell_values(layer), self.clim, self.cmap, reverse=self.reverse)

    def cell_values(self, layer: LayerMesh) -> np.ndarray:
        """``(m,)`` float per triangle in continuous modes."""
        if self.object_values is None:
            raise ValueError(f"{self.mode} colouring has no values")
        return self.object_values[layer.object_index]

    def legend_rows(self, bilingual: bool = True) -> list[tuple[str, tuple[int, int, int]]]:
        return [(label(t, bilingual) if isinstance(t, tuple) else t, rgb) for t, rgb in self.legend]


def _semantic(meshes: SceneMeshes) -> Coloring:
    present = sorted({int(s) for lm in meshes.layers for s in np.unique(lm.shown_semantic())})
    rows: list[tuple[tuple[str, str] | str, tuple[int, int, int]]] = [
        (SEMANTIC_LABELS[SurfaceType(s)], SEMANTIC_COLORS[SurfaceType(s)])
        for s in present
        if s in SurfaceType._value2member_map_
    ]
    inferred = any(lm.inferred_share > 0 for lm in meshes.layers)
    title = ("表面类型（按法向）", "surface type (by normal)") if inferred else ("表面类型", "surface type")
    return Coloring(mode="semantic", title=title, legend=rows)


def _severity(links: ObjectFindings, mask: np.ndarray) -> Coloring:
    worst = links.worst_rank(mask)
    rows: list[tuple[tuple[str, str] | str, tuple[int, int, int]]] = [
        (SEVERITY_LABELS[s], SEVERITY_COLORS[s]) for s in reversed(list(Severity))
    ]
    rows.append((NO_FINDING_LABEL, NO_FINDING_COLOR))
    return Coloring(mode="severity", title=("问题等级", "severity"), object_rgb=severity_colors(worst), legend=rows)


def _clim(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi if hi > lo else lo + 1.0)


def _higher_is_better(code: str, problems: ProblemSet, spec: IndicatorSpec | None, rows: np.ndarray) -> bool:
    """Whether higher values of the findings ``rows`` are better: from the findings themselves when
    they state thresholds (values below their threshold mean a minimum was missed), else from the
    indicator's spec (stored with the run, or registered by an installed plugin)."""
    diff = problems.value[rows] - problems.threshold[rows]
    diff = diff[np.isfinite(diff) & (diff != 0)]
    if len(diff):
        return float(np.median(diff)) < 0
    if spec is not None:
        return spec.direction.value == "higher_is_better"
    try:
        from ..indicators.host import get_host

        indicator = get_host().indicators.get(code)
    except Exception:  # a broken plugin must not stop the viewer; fall back to the findings
        indicator = None
    if indicator is not None:
        return str(getattr(indicator.spec.direction, "value", indicator.spec.direction)) == "higher_is_better"
    return False


def object_attribute(obj: CityObject, name: str) -> object:
    """An attribute of an object for colouring: a derived quantity, a thematic or a generic one."""
    if name == "kind":
        return obj.kind
    if name in DERIVED_ATTRIBUTES:
        return getattr(obj, name)
    value = obj.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _attribute(meshes: SceneMeshes, name: str) -> Coloring:
    raw = [object_attribute(obj, name) for obj in meshes.objects]
    zh, en, unit = DERIVED_ATTRIBUTES.get(name, (name, name, ""))
    title = (zh, en) if zh != en else (name, name)
    numbers = []
    numeric = True
    for v in raw:
        if v is None:
            numbers.append(np.nan)
            continue
        value = getattr(v, "value", v)  # Measure
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            numeric = False
            break
        numbers.append(float(value))
        unit = unit or (getattr(v, "uom", None) or "")
    if numeric:
        values = np.array(numbers, dtype=np.float64)
        return Coloring(mode="attribute", title=title, object_values=values, clim=_clim(values),
                        cmap="viridis", unit=unit)
    cats = categorical_colors([None if v is None else str(v) for v in raw])
    rows: list[tuple[tuple[str, str] | str, tuple[int, int, int]]] = list(cats.entries())
    return Coloring(mode="attribute", title=title, object_rgb=cats.rgb(), legend=rows)


def resolve_coloring(
    color_by: str | None,
    meshes: SceneMeshes,
    links: ObjectFindings,
    mask: np.ndarray,
    attribute_names: list[str] | None = None,
    specs: dict[str, IndicatorSpec] | None = None,
) -> Coloring:
    """The colouring ``--color-by`` asks for, for the findings in ``mask`` (the year's).

    Raises
    ------
    ConfigError
        naming the choices when ``color_by`` is neither a mode, an indicator of the run nor an
        attribute of the scene.
    """
    key = (color_by or "semantic").strip()
    if key in ("semantic", "surface", "surfaces"):
        return _semantic(meshes)
    if key == "severity":
        return _severity(links, mask)
    problems = links.problems
    if key in problems.indicators:
        values = links.indicator_value(key, mask)
        spec = (specs or {}).get(key)
        # Scale, unit and direction from the findings that colour objects (of every year, so that
        # the colours keep their meaning along the year slider). An indicator may also report
        # whole units in another quantity (a coverage ratio beside per-building distances): those
        # findings are drawn as glyphs, not coloured, and must not stretch the scale.
        of_key = problems.indicator[links.finding] == key if len(links.finding) else np.zeros(0, dtype=bool)
        rows = np.unique(links.finding[of_key])
        if not len(rows):
            rows = np.flatnonzero(problems.of_indicator(key))
        reverse = _higher_is_better(key, problems, spec, rows)
        units = {problems.findings[i].unit for i in rows} - {None}
        unit = units.pop() if len(units) == 1 else ""
        title = (spec.name_zh, f"{spec.name_en} ({key})") if spec else (key, key)
        return Coloring(mode="indicator", title=title, object_values=values, clim=_clim(problems.value[rows]),
                        cmap="ylorrd", reverse=reverse, unit=unit or "",
                        legend=[(NO_FINDING_LABEL, NAN_COLOR)])
    names = set(attribute_names or []) | set(DERIVED_ATTRIBUTES)
    if key in names:
        return _attribute(meshes, key)
    choices = ["semantic", "severity", *problems.indicators, *sorted(DERIVED_ATTRIBUTES)]
    extra = sorted(set(attribute_names or []))
    raise ConfigError(
        f"--color-by {key!r} is neither an indicator of the run nor an attribute of the scene",
        hint="choose one of " + ", ".join(choices + extra[:20]) + (" ..." if len(extra) > 20 else ""),
    )
