"""Reported problems (群众反映与入户体检问题): field survey records of community grid workers
(上门体检) and public reports (公众参与) become findings on the same map as the measured ones.

Every layer of kind ``reports`` is read (columns: ``id``, ``time``, ``category``, ``text``,
``source`` = survey | public, optional ``photo``). A record of the check period becomes one
problem at its place, attached to the nearest building (within 50 m) and road, and to its
community, with ``source`` saying who reported it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, tzinfo

import numpy as np

from cim_twin.indicators.api import AuxLayer, CheckContext, Indicator
from cim_twin.indicators.hookspecs import hookimpl
from cim_twin.model import Direction, IndicatorSpec, ProblemPoint, Threshold

from ._spatial import (
    BuildingTable,
    SharedTableIndicator,
    building_table,
    nearest_geometry,
    nearest_within,
    strings,
    unit_ids,
)

__all__ = ["ReportedProblems", "parse_time"]

#: Words in a report's category that make it a safety matter (high severity).
SAFETY_WORDS = ("危房", "房屋安全", "消防", "燃气", "内涝", "积水", "坍塌", "安全", "safety", "fire", "gas", "flood", "collapse")
SOURCE_OF = {"survey": "survey", "入户": "survey", "上门": "survey", "grid": "survey",
             "public": "public_report", "公众": "public_report", "12345": "public_report"}
SOURCE_ZH = {"survey": "入户体检", "public_report": "公众反映"}


def parse_time(value: object, tz: object) -> datetime | None:
    """A report time as an aware datetime (naive times are in the project time zone)."""
    if isinstance(value, datetime):
        out = value
    elif isinstance(value, date):
        out = datetime.combine(value, time(12))
    elif isinstance(value, str) and value.strip():
        try:
            out = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return out if out.tzinfo is not None else out.replace(tzinfo=tz)  # type: ignore[arg-type]


class ReportedProblems(SharedTableIndicator):
    spec = IndicatorSpec(
        code="L-REPORTED",
        name_zh="群众反映与入户体检问题",
        name_en="Reported problems (field survey and public reports)",
        category="整洁有序",
        level="community",
        unit="reports",
        direction=Direction.COUNT,
        thresholds={
            "attach_m": Threshold(value=50.0, unit="m", source="local choice: a report is about a building within 50 m"),
        },
        data_needed=("reports: time, category, text, source (survey|public), photo", "communities"),
        cycle="continuous",
        description_en="Each survey record or public report of the period is a finding at its place, attached to the "
        "nearest building and road and to its community; per community the number of reports.",
        description_zh="本期每条入户体检记录和公众反映问题落图，关联最近的建筑、道路和所在社区；按社区统计数量。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        layers = [lay for lay in ctx.layers.values() if lay.kind == "reports"]
        if not layers:
            ctx.layer("reports")
        table = building_table(ctx)
        roads = ctx.layer("roads") if ctx.has_layer("roads") else None
        attach = ctx.threshold(self, "attach_m")
        severity_of: dict[str, str] = dict(ctx.option(self, "severity", {}))
        include_earlier = bool(ctx.option(self, "include_earlier", False))
        tz = ctx.period.start.tzinfo
        per_unit: dict[str, dict[str, int]] = {}
        found: list[ProblemPoint] = []
        for layer in layers:
            found.extend(self._layer(ctx, layer, table, roads, attach, severity_of, include_earlier, tz, per_unit))
        for unit in unit_ids(ctx, "community", table):
            counts = per_unit.get(unit, {})
            ctx.measure(self, unit, float(sum(counts.values())), details={"by_source": counts})
        yield from found

    def _layer(self, ctx: CheckContext, layer: AuxLayer, table: BuildingTable, roads: AuxLayer | None, attach: float,
               severity_of: dict[str, str], include_earlier: bool, tz: tzinfo | None,
               per_unit: dict[str, dict[str, int]]) -> list[ProblemPoint]:
        """The findings of one reports layer (counts per community added to ``per_unit``)."""
        layer.require("category", "text")
        xy = layer.xy()
        times = [parse_time(v, tz) for v in layer.column("time", None)]
        keep = np.array([
            t is None or (t < ctx.period.end and (include_earlier or t >= ctx.period.start)) for t in times
        ], dtype=bool)
        ids = strings(layer, "id")
        cats = strings(layer, "category")
        texts = strings(layer, "text")
        sources = strings(layer, "source", "public")
        photos = strings(layer, "photo")
        b_dist, b_idx = nearest_within(xy, table.xy, attach) if len(table) else (np.full(len(xy), np.inf), np.full(len(xy), -1))
        if roads is not None and len(roads):
            r_dist, r_idx = nearest_geometry(xy, roads.geometries, max_distance=attach, tree=roads.tree)
            road_ids = strings(roads, "id")
        else:
            r_dist, r_idx, road_ids = np.full(len(xy), np.inf), np.full(len(xy), -1), np.zeros(0, object)
        community = ctx.unit_ids_at(xy, "community")
        # outside every community polygon: the community of the attached building
        for i in np.nonzero([c is None for c in community])[0]:
            if b_idx[i] >= 0:
                community[i] = table.community[b_idx[i]]
        _, z_idx = nearest_within(xy, table.xy) if len(table) else (None, np.full(len(xy), -1))
        out = []
        for i in np.nonzero(keep)[0]:
            raw_source = sources[i].lower()
            source = next((v for k, v in SOURCE_OF.items() if k in raw_source), raw_source or "public_report")
            cat = cats[i]
            severity = severity_of.get(cat) or ("high" if any(w in cat.lower() for w in SAFETY_WORDS) else "medium")
            obj_ids: list[str] = []
            if b_idx[i] >= 0:
                obj_ids.append(str(table.ids[b_idx[i]]))
            if r_idx[i] >= 0:
                obj_ids.append(str(road_ids[r_idx[i]]))
            z = float(table.ground_z[z_idx[i]]) if z_idx[i] >= 0 and np.isfinite(table.ground_z[z_idx[i]]) else 0.0
            unit = community[i]
            if unit is not None:
                per_unit.setdefault(str(unit), {}).setdefault(source, 0)
                per_unit[str(unit)][source] += 1
            when = times[i]
            who_zh = SOURCE_ZH.get(source, source)
            out.append(ctx.problem(
                self, None, position=(xy[i][0], xy[i][1], z), object_ids=obj_ids, unit_id=unit,
                subject=f"{layer.name}:{ids[i] or i}", severity=severity, source=source,
                observed_at=when, valid_from=max(when, ctx.period.start) if when is not None else None,
                message_en=f"Reported by {'a community grid worker (field survey)' if source == 'survey' else 'the public'}: "
                f"{cat}: {texts[i]}",
                message_zh=f"{who_zh}：{cat}：{texts[i]}",
                evidence={"report_id": ids[i] or None, "layer": layer.name, "category": cat, "text": texts[i],
                          "reported_at": when.isoformat() if when is not None else None,
                          "photo": photos[i] or None,
                          "building_id": str(table.ids[b_idx[i]]) if b_idx[i] >= 0 else None,
                          "building_distance_m": round(float(b_dist[i]), 1) if b_idx[i] >= 0 else None,
                          "road_id": str(road_ids[r_idx[i]]) if r_idx[i] >= 0 else None,
                          "road_distance_m": round(float(r_dist[i]), 1) if r_idx[i] >= 0 else None},
            ))
        return out


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    register(ReportedProblems())
