"""What an indicator plugin works with: :class:`Indicator`, :class:`CheckContext`, :class:`AuxLayer`.

An indicator is a class with a ``spec`` (:class:`~cim_twin.model.IndicatorSpec`) and an
``evaluate(ctx)`` generator that yields :class:`~cim_twin.model.ProblemPoint` objects made with
:meth:`CheckContext.problem`, and records per-unit values with :meth:`CheckContext.measure`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

import numpy as np

from ..errors import ConfigError
from ..model import IndicatorSpec, Measurement, Period, ProblemPoint, Severity, problem_id

if TYPE_CHECKING:
    from ..scene import CityObject, Scene

__all__ = [
    "RESIDENTIAL_FUNCTION_CODES",
    "AuxLayer",
    "CheckContext",
    "Indicator",
    "MissingDataError",
    "is_residential",
]


class MissingDataError(ConfigError):
    """An indicator needs a layer the project does not have: the runner records the indicator as
    ``skipped`` with this message instead of failing it."""

#: CityGML 2.0 BuildingFunctionType codes (SIG3D code list) that are dwellings.
RESIDENTIAL_FUNCTION_CODES = frozenset(
    {"1000", "1010", "1020", "1030", "1040", "1050", "1060", "1070", "1080", "1090", "1100", "1110"}
)
_RESIDENTIAL_WORDS = ("residential", "dwelling", "住宅", "居住", "wohn")


def is_residential(obj: CityObject) -> bool:
    """True when the building's function or usage says it is a dwelling (code list or words)."""
    for value in (obj.function, obj.usage, obj.get("class")):
        if value is None:
            continue
        text = str(value).strip().lower()
        if text in RESIDENTIAL_FUNCTION_CODES or text.split("_")[-1] in RESIDENTIAL_FUNCTION_CODES:
            return True
        if any(word in text for word in _RESIDENTIAL_WORDS):
            return True
    return False


def _as_aware(when: Any) -> datetime:
    """Lifespan dates may be dates or naive datetimes; compare them as UTC datetimes."""
    from datetime import date

    if isinstance(when, datetime):
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if isinstance(when, date):
        return datetime(when.year, when.month, when.day, tzinfo=UTC)
    return when


class Indicator:
    """Base class of indicators. Subclasses set ``spec`` and implement :meth:`evaluate`."""

    spec: ClassVar[IndicatorSpec]
    #: Set by the host to the name of the plugin that registered the indicator.
    plugin_name: str = ""

    def prepare(self, ctx: CheckContext) -> None:
        """Optional: compute, once and before any indicator runs, what several indicators share
        (e.g. a table of all buildings). Called by the runner in its own process, so every
        indicator's isolated child process inherits the result; keep such caches keyed by
        ``ctx.scene`` (each indicator gets a shallow copy of the context) and keep it quick. An
        exception here fails this indicator only (``MissingDataError`` skips it). The default does
        nothing."""

    def evaluate(self, ctx: CheckContext) -> Iterable[ProblemPoint]:
        """Yield the problems found; call ``ctx.measure`` for per-unit values."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Indicator {self.spec.code}>"


@dataclass
class AuxLayer:
    """An auxiliary layer (POIs, roads, parks, units, samples...): shapely geometries in scene CRS
    plus columns as numpy arrays, one row per feature.

    ``kind`` says what it is (``poi``, ``roads``, ``parks``, ``units``, ``streetview``, ``heatmap``,
    ``incidents``, ``population``, ``reports``); ``level`` is set for spatial units.
    """

    name: str
    kind: str
    geometries: np.ndarray  # object array of shapely geometries
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    path: str | None = None
    level: str | None = None
    #: The CRS the file was in before it was moved into the scene CRS (for reports).
    source_crs: str | None = None
    _tree: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.geometries)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    @property
    def has_geometry(self) -> bool:
        """False for table-only layers (e.g. residents per building)."""
        import shapely

        return bool(len(self)) and not bool(shapely.is_missing(self.geometries).all())

    def datetimes(self, name: str, tz: Any = None) -> np.ndarray:
        """A column of ISO 8601 dates or times as ``datetime64[s]`` in UTC (NaT where empty).

        Values without an offset are taken in ``tz`` (a ``ZoneInfo``; default UTC), so that a
        report written at 08:00 Beijing time lands at 00:00 UTC.
        """
        from datetime import date, datetime

        zone = tz or UTC
        out = np.full(len(self), np.datetime64("NaT"), dtype="datetime64[s]")
        for i, value in enumerate(self.column(name)):
            if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
                continue
            try:
                if isinstance(value, datetime):
                    when = value
                elif isinstance(value, date):
                    when = datetime(value.year, value.month, value.day)
                else:
                    when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            except ValueError as exc:
                raise ConfigError(f"layer {self.name!r} column {name!r} row {i}: not an ISO date/time: {value!r}",
                                  path=self.path) from exc
            if when.tzinfo is None:
                when = when.replace(tzinfo=zone)
            out[i] = np.datetime64(when.astimezone(UTC).replace(tzinfo=None), "s")
        return out

    def column(self, name: str, default: Any = ...) -> np.ndarray:
        """A column by name; a missing column is a clear error naming the layer and file."""
        if name in self.columns:
            return self.columns[name]
        if default is not ...:
            return np.full(len(self), default, dtype=object)
        raise ConfigError(
            f"layer {self.name!r} has no column {name!r} (columns: {', '.join(sorted(self.columns)) or 'none'})",
            path=self.path,
            hint="see docs/indicators.md for the columns each layer needs",
        )

    def require(self, *names: str) -> None:
        for name in names:
            self.column(name)

    def where(self, mask: np.ndarray) -> AuxLayer:
        """The rows where ``mask`` is true, as a new layer."""
        return AuxLayer(
            name=self.name,
            kind=self.kind,
            geometries=self.geometries[mask],
            columns={k: v[mask] for k, v in self.columns.items()},
            path=self.path,
            level=self.level,
            source_crs=self.source_crs,
        )

    @property
    def tree(self) -> Any:
        """shapely STRtree over the geometries (built on first use)."""
        if self._tree is None:
            import shapely

            self._tree = shapely.STRtree(self.geometries)
        return self._tree

    def xy(self) -> np.ndarray:
        """``(n, 2)`` representative points, one row per feature: the points themselves, a point
        inside each line or polygon; NaN for features without geometry."""
        import shapely

        out = np.full((len(self), 2), np.nan)
        if not len(self):
            return out
        present = ~shapely.is_missing(self.geometries) & ~shapely.is_empty(self.geometries)
        if present.any():
            pts = shapely.point_on_surface(self.geometries[present])
            out[present] = shapely.get_coordinates(pts)[:, :2]
        return out

    def rows(self) -> Iterator[dict[str, Any]]:
        """Rows as dicts (geometry under ``"geometry"``); for small layers and reports."""
        for i in range(len(self)):
            row = {k: v[i] for k, v in self.columns.items()}
            row["geometry"] = self.geometries[i]
            yield row


class CheckContext:
    """What an indicator sees during a run: the scene, the layers, the units, the period and the
    thresholds of the active profile; and the means to record problems and measurements."""

    def __init__(
        self,
        scene: Scene,
        *,
        period: Period,
        layers: dict[str, AuxLayer] | None = None,
        thresholds: dict[str, dict[str, float]] | None = None,
        options: dict[str, dict[str, Any]] | None = None,
        run_id: str = "",
        profile: str = "default",
        observed_at: datetime | None = None,
    ) -> None:
        self.scene = scene
        self.period = period
        self.layers: dict[str, AuxLayer] = layers or {}
        self.thresholds = thresholds or {}
        self.options = options or {}
        self.run_id = run_id
        self.profile = profile
        # A past period is observed at its last second (its end is exclusive), the current one now.
        now = datetime.now(UTC)
        self.observed_at = observed_at or min(now, period.end - timedelta(seconds=1))
        self.measurements: list[Measurement] = []
        #: Notes of the indicators for the run report (``ctx.warn``), as ``(code, message)``.
        self.warnings: list[tuple[str, str]] = []
        self._unit_cache: dict[str, tuple[AuxLayer, np.ndarray]] = {}
        self._buildings: list[CityObject] | None = None
        self._residential: list[bool] | None = None

    def warn(self, indicator: Indicator | str, message: str) -> None:
        """Note something the run report should mention (data gaps, assumptions made)."""
        code = indicator if isinstance(indicator, str) else indicator.spec.code
        self.warnings.append((code, message))

    @property
    def unit_levels(self) -> list[str]:
        """Levels that have a units layer, finest first (community, block, district)."""
        present = {lay.level for lay in self.layers.values() if lay.kind == "units"}
        return [lvl for lvl in ("community", "block", "district") if lvl in present]

    # --- the model ---------------------------------------------------------------------------------
    def buildings(self, *, residential: bool | None = None) -> list[CityObject]:
        """Top-level buildings alive in the run's period (not demolished before it, not built after
        it, by their lifespan); ``residential=True`` keeps dwellings,
        ``False`` the others. The list is a fresh copy; the objects are the scene's."""
        if self._buildings is None:
            alive = []
            for b in self.scene.buildings():
                end, begin = b.lifespan.termination_date, b.lifespan.creation_date
                if end is not None and _as_aware(end) <= self.period.start:
                    continue  # demolished before the period
                if begin is not None and _as_aware(begin) >= self.period.end:
                    continue  # built after it
                alive.append(b)
            self._buildings = alive
        if residential is None:
            return list(self._buildings)
        if self._residential is None:  # classified once per run, shared by every indicator
            self._residential = [is_residential(b) for b in self._buildings]
        return [b for b, flag in zip(self._buildings, self._residential, strict=True) if flag == residential]

    # --- layers ------------------------------------------------------------------------------------
    def has_layer(self, name_or_kind: str) -> bool:
        return any(n == name_or_kind or lay.kind == name_or_kind for n, lay in self.layers.items())

    def layer(self, name_or_kind: str, *, columns: Sequence[str] = ()) -> AuxLayer:
        """A layer by name (or the first of that kind), with ``columns`` checked."""
        layer = self.layers.get(name_or_kind) or next(
            (lay for lay in self.layers.values() if lay.kind == name_or_kind), None
        )
        if layer is None:
            raise MissingDataError(
                f"the project has no layer {name_or_kind!r}",
                hint=f"add it under [layers.{name_or_kind}] in twin.toml (see docs/project-file.md)",
            )
        layer.require(*columns)
        return layer

    def layers_of(self, kind: str) -> list[AuxLayer]:
        """Every layer of a kind (``ctx.layer(kind)`` gives the first)."""
        return [lay for lay in self.layers.values() if lay.kind == kind]

    @overload
    def units(self, level: str) -> AuxLayer | None: ...
    @overload
    def units(self, level: str, *, required: Literal[True]) -> AuxLayer: ...
    @overload
    def units(self, level: str, *, required: bool) -> AuxLayer | None: ...

    def units(self, level: str, *, required: bool = False) -> AuxLayer | None:
        """The spatial units of a level (``community``, ``block``, ``district``): None when the
        project has none, or with ``required=True`` a :class:`MissingDataError` (the indicator is
        then recorded as skipped)."""
        for lay in self.layers.values():
            if lay.kind == "units" and lay.level == level:
                return lay
        if required:
            raise MissingDataError(
                f"the project has no {level} units",
                hint=f'add a layer with kind = "units" and level = "{level}" in twin.toml (see docs/project-file.md)',
            )
        return None

    def unit_ids_at(self, xy: np.ndarray, level: str) -> np.ndarray:
        """For each point of ``xy`` (n, 2), the id of the unit of ``level`` containing it (None
        outside every unit). One vectorised STRtree query for all points."""
        import shapely

        units = self.units(level)
        out = np.full(len(xy), None, dtype=object)
        if units is None or not len(xy):
            return out
        ids = units.column("id")
        pts = shapely.points(np.asarray(xy)[:, :2])
        # "intersects", not "within": a point on the border of two units belongs to the first of
        # them instead of to none
        point_idx, unit_idx = units.tree.query(pts, predicate="intersects")
        # first match per point, by unit order (units should not overlap)
        order = np.lexsort((unit_idx, point_idx))
        point_idx, unit_idx = point_idx[order], unit_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        out[point_idx[first]] = ids[unit_idx[first]]
        return out

    def nearest_unit_ids(self, xy: np.ndarray, level: str, max_distance_m: float) -> tuple[np.ndarray, np.ndarray]:
        """For each point of ``xy`` (n, 2), the id of the nearest unit of ``level`` within
        ``max_distance_m`` and the distance to it (None and NaN beyond it, or without such units).
        One vectorised STRtree query; for points that :meth:`unit_ids_at` leaves outside every
        unit, e.g. findings on a street between two blocks."""
        import shapely

        ids_out = np.full(len(xy), None, dtype=object)
        dist_out = np.full(len(xy), np.nan)
        units = self.units(level)
        if units is None or not len(xy):
            return ids_out, dist_out
        ids = units.column("id")
        pts = shapely.points(np.asarray(xy)[:, :2])
        (point_idx, unit_idx), dist = units.tree.query_nearest(pts, max_distance=max_distance_m, return_distance=True,
                                                               all_matches=False)  # fmt: skip
        ids_out[point_idx] = ids[unit_idx]
        dist_out[point_idx] = dist
        return ids_out, dist_out

    def unit_of(self, obj_or_xy: CityObject | Sequence[float], level: str = "community") -> str | None:
        """The id of the unit of ``level`` containing an object (its footprint centre) or a point."""
        if hasattr(obj_or_xy, "centroid"):
            c = obj_or_xy.centroid
            if c is None:
                return None
            xy = np.array([c[:2]])
        else:
            xy = np.array([list(obj_or_xy)[:2]], dtype=np.float64)
        return self.unit_ids_at(xy, level)[0]

    def ground_z_at(self, x: float, y: float, *, within_m: float = 500.0) -> float:
        """Ground elevation near a point: the median ground height of the (up to) three nearest
        objects within ``within_m``, else 0. Where ``ctx.problem`` puts a point given in 2D."""
        near = self.scene.index.nearest(x, y, k=3, max_distance=within_m)
        heights = [z for z in (o.ground_z for o in near) if z is not None and np.isfinite(z)]
        return float(np.median(heights)) if heights else 0.0

    # --- thresholds --------------------------------------------------------------------------------
    def threshold(self, indicator: Indicator | str, name: str = "default", default: float | None = None) -> float:
        """A threshold: the profile's override, else the spec's, else ``default``."""
        code = indicator if isinstance(indicator, str) else indicator.spec.code
        override = self.thresholds.get(code, {})
        if name in override:
            return float(override[name])
        if not isinstance(indicator, str):
            spec_threshold = indicator.spec.thresholds.get(name)
            if spec_threshold is not None and spec_threshold.value is not None:
                return float(spec_threshold.value)
        if default is None:
            raise ConfigError(f"indicator {code!r} has no threshold {name!r}", hint=f"set [profile.thresholds.{code}] {name} = ...")
        return float(default)

    def option(self, indicator: Indicator | str, name: str, default: Any = None) -> Any:
        """A non-numeric setting of the profile for this indicator (e.g. a list of codes)."""
        code = indicator if isinstance(indicator, str) else indicator.spec.code
        return self.options.get(code, {}).get(name, default)

    # --- results -----------------------------------------------------------------------------------
    def problem(
        self,
        indicator: Indicator,
        obj: CityObject | None = None,
        *,
        value: float | None = None,
        threshold: float | None = None,
        severity: Severity | str = Severity.MEDIUM,
        score: float | None = None,
        message_en: str = "",
        message_zh: str = "",
        position: Sequence[float] | None = None,
        object_ids: Sequence[str] | None = None,
        unit_id: str | None = None,
        subject: str | None = None,
        observed_at: datetime | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        source: str = "model",
        evidence: dict[str, Any] | None = None,
        unit_level: str = "community",
    ) -> ProblemPoint:
        """A problem point for ``indicator``.

        Placed at the object's roof centre unless ``position`` (scene x, y[, z]; without z, on the
        ground of the nearest buildings) is given; stamped
        with the run's period unless ``observed_at`` / ``valid_from`` / ``valid_to`` are given.
        ``subject`` (default: the object id, else the given ``unit_id``, else the position to 0.1 m)
        makes the id deterministic across runs. The spatial unit, when not given, and lon/lat/height
        are filled by the runner for all findings at once (one index query, one transform).
        """
        sev = Severity(severity)
        if position is None:
            if obj is None or obj.roof_centre is None:
                raise ValueError("ctx.problem needs an object with geometry or an explicit position")
            pos = obj.roof_centre
        else:
            xy = [float(v) for v in position]
            if len(xy) == 2:  # on the ground, not at z = 0 (which may be far below the terrain)
                xy.append(self.ground_z_at(xy[0], xy[1]))
            pos = np.asarray(xy[:3], dtype=np.float64)
        ids = tuple(object_ids) if object_ids is not None else ((obj.id,) if obj is not None else ())
        if unit_id is None and unit_level != "community":
            unit_id = self.unit_of((float(pos[0]), float(pos[1])), unit_level)
        code = indicator.spec.code
        subj = subject or (obj.id if obj is not None else None) or unit_id or f"{pos[0]:.1f},{pos[1]:.1f}"
        return ProblemPoint(
            id=problem_id(code, subj, self.period.label),
            key=f"{code}|{subj}",
            indicator=code,
            severity=sev,
            score=sev.score if score is None else float(np.clip(score, 0.0, 1.0)),
            value=None if value is None else float(value),
            threshold=None if threshold is None else float(threshold),
            unit=indicator.spec.unit,
            x=float(pos[0]),
            y=float(pos[1]),
            z=float(pos[2]),
            object_ids=ids,
            unit_id=unit_id,
            period=self.period.label,
            observed_at=observed_at or self.observed_at,
            valid_from=valid_from or self.period.start,
            valid_to=valid_to if valid_to is not None else self.period.end,
            message_en=message_en,
            message_zh=message_zh,
            source=source,
            evidence=evidence or {},
        )

    def measure(
        self,
        indicator: Indicator,
        unit_id: str,
        value: float | None,
        *,
        level: str | None = None,
        numerator: float | None = None,
        denominator: float | None = None,
        threshold: float | None = None,
        passed: bool | None = None,
        details: dict[str, Any] | None = None,
    ) -> Measurement:
        """Record the indicator's value for one spatial unit (and return it)."""
        spec = indicator.spec
        if passed is None and threshold is not None and value is not None:
            if spec.direction.value == "higher_is_better":
                passed = value >= threshold
            elif spec.direction.value == "lower_is_better":
                passed = value <= threshold
        m = Measurement(
            indicator=spec.code,
            unit_id=unit_id,
            level=level or spec.level,  # type: ignore[arg-type]
            period=self.period.label,
            value=None if value is None or not np.isfinite(value) else float(value),
            unit=spec.unit,
            numerator=numerator,
            denominator=denominator,
            threshold=threshold,
            passed=passed,
            details=details or {},
        )
        self.measurements.append(m)
        return m
