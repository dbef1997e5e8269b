"""Service-radius coverage, shared by the park, elderly-care, school and toilet indicators.

A building is covered when a qualifying facility lies within the radius of its class (distance
from the building's footprint centre to the facility point, or to the edge of a park polygon).
The rate of a community is the covered share of a weight (residential floor area, residents,
older residents) over its buildings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cim_twin.indicators.api import AuxLayer, CheckContext
from cim_twin.model import ProblemPoint

from ._spatial import (
    BuildingTable,
    SharedTableIndicator,
    building_table,
    facility_points,
    fmt_m,
    fmt_m_zh,
    group_index,
    in_unit,
    nearest_geometry,
    strings,
    sums,
    unit_ids,
    unit_label,
    unit_position,
)

__all__ = ["FacilityClass", "RadiusCoverage", "coverage_severity"]


@dataclass
class FacilityClass:
    """Facilities that cover within one radius (e.g. parks of at least 5,000 m² within 500 m)."""

    label_en: str
    label_zh: str
    layer: AuxLayer
    radius_m: float


_ONE_STEP_LOWER = {"critical": "high", "high": "medium", "medium": "low"}


def coverage_severity(rate: float, target: float) -> str:
    """Severity of a unit below its target coverage: the larger the gap, the worse."""
    gap = target - rate
    if gap > 0.3:
        return "high"
    if gap > 0.1:
        return "medium"
    return "low"


class RadiusCoverage(SharedTableIndicator):
    """Base of the radius-coverage indicators; subclasses say which facilities and weights."""

    #: what the rate weighs: "floor_area" (residential floor area), "residents" or "elderly"
    weight: str = "floor_area"
    residential_only: bool = True
    facility_en: str = "facility"
    facility_zh: str = "设施"
    #: POI type of the facilities of the default :meth:`facility_classes` (option ``types``
    #: overrides it); empty for indicators that define their own classes
    poi_type: str = ""

    def facility_classes(self, ctx: CheckContext) -> list[FacilityClass]:
        """The facilities and their radii: by default one class, the POIs of :attr:`poi_type`
        (or of option ``types``) within threshold ``radius_m``.

        Raises
        ------
        ConfigError: the project has no POI layer (or it lacks the ``type`` column).
        """
        if not self.poi_type:
            raise NotImplementedError(f"{type(self).__name__} sets poi_type or defines facility_classes")
        poi = facility_points(ctx, ctx.option(self, "types", [self.poi_type]))
        if poi is None:
            ctx.layer("poi")  # raises the clear "no layer" error
        assert poi is not None
        return [FacilityClass(self.facility_en, self.facility_zh, poi, ctx.threshold(self, "radius_m"))]

    def weights(self, table: BuildingTable) -> np.ndarray:
        if self.weight == "residents":
            return table.residents
        if self.weight == "elderly":
            return table.elderly
        return np.nan_to_num(table.floor_area_m2)

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        table = building_table(ctx)
        classes = self.facility_classes(ctx)
        mask = table.residential if self.residential_only else np.ones(len(table), dtype=bool)
        rows = np.nonzero(mask)[0]
        xy = table.xy[rows]
        n = len(rows)
        covered = np.zeros(n, dtype=bool)
        class_dist: list[np.ndarray] = []
        class_idx: list[np.ndarray] = []
        for fc in classes:
            dist, idx = nearest_geometry(xy, fc.layer.geometries, tree=fc.layer.tree if len(fc.layer) else None)
            class_dist.append(dist)
            class_idx.append(idx)
            covered |= dist <= fc.radius_m
        # the facility a message names: the one nearest relative to its class radius
        best_dist = np.full(n, np.inf)
        best_fac = np.full(n, None, dtype=object)
        best_name = np.full(n, "", dtype=object)
        best_class = np.full(n, -1, dtype=np.int64)
        if classes and n:
            ratios = np.stack([d / fc.radius_m for d, fc in zip(class_dist, classes, strict=True)])
            best = np.argmin(ratios, axis=0)
            found = np.isfinite(ratios[best, np.arange(n)])
            best_class = np.where(found, best, -1)
            for ci, fc in enumerate(classes):
                pick = found & (best == ci)
                idx = class_idx[ci][pick]
                best_dist[pick] = class_dist[ci][pick]
                best_fac[pick] = strings(fc.layer, "id")[idx]
                best_name[pick] = strings(fc.layer, "name")[idx]

        weights = self.weights(table)[rows]
        target = ctx.threshold(self)
        radii = {fc.label_en: fc.radius_m for fc in classes}
        n_facilities = int(sum(len(fc.layer) for fc in classes))
        if not n_facilities:
            ctx.warn(self, f"no {self.facility_en} in the data: every building counts as uncovered "
                     "(check the layer and the POI type names, option 'types')")
        if self.weight in ("residents", "elderly") and table.population_estimated:
            ctx.warn(self, "no population layer: residents estimated from residential floor area "
                     "(36 m² a resident, 20 % aged 60+)")
        passing: set[str] = set()  # communities that meet the target
        for level in ("community", "district"):
            if level == "district" and ctx.units("district") is None and not any(u is not None for u in table.district):
                continue
            keys, codes = group_index(table.units(level)[rows], unit_ids(ctx, level, table))
            total = sums(codes, weights, len(keys))
            got = sums(codes, np.where(covered, weights, 0.0), len(keys))
            count_all = np.bincount(codes[codes >= 0], minlength=len(keys))[: len(keys)]
            count_cov = np.bincount(codes[(codes >= 0) & covered], minlength=len(keys))[: len(keys)]
            extra = self.unit_details(ctx, level, keys)
            for k, unit in enumerate(keys):
                rate = got[k] / total[k] if total[k] > 0 else None
                ctx.measure(
                    self, unit, rate, level=level, numerator=float(got[k]), denominator=float(total[k]),
                    threshold=target,
                    details={"buildings": int(count_all[k]), "buildings_covered": int(count_cov[k]),
                             "weight": self.weight, "radii_m": radii, "facilities": n_facilities, **extra.get(unit, {})},
                )
                if level == "community" and (rate is None or rate >= target):
                    passing.add(str(unit))
                # the planner's unit of action is the community: district figures are for the report
                if level == "community" and rate is not None and rate < target:
                    x, y, z = unit_position(ctx, level, unit, table)
                    label = unit_label(ctx, level, unit)
                    yield ctx.problem(
                        self, None, position=(x, y, z), unit_id=unit, subject=f"unit:{unit}",
                        value=rate, threshold=target, severity=coverage_severity(rate, target),
                        message_en=f"{self.spec.name_en} of community {label} is {rate:.0%}, below the target {target:.0%} "
                        f"({int(count_all[k] - count_cov[k])} of {int(count_all[k])} buildings uncovered)",
                        message_zh=f"{label}{self.spec.name_zh}为{rate:.0%}，低于目标{target:.0%}"
                        f"（{int(count_all[k] - count_cov[k])}/{int(count_all[k])}栋建筑未覆盖）",
                        evidence={"covered_weight": round(float(got[k]), 1), "total_weight": round(float(total[k]), 1),
                                  "weight": self.weight},
                    )
        yield from self.building_problems(ctx, table, rows, covered, best_dist, best_fac, best_name, best_class, classes, class_dist,
                                          passing)

    def unit_details(self, ctx: CheckContext, level: str, unit_ids: list[str]) -> dict[str, dict[str, object]]:
        """Extra measurement details per unit of ``level`` (none by default)."""
        return {}

    def uncovered_severity(self, distance_m: float, radius_m: float) -> str:
        """Severity of an uncovered building: high when even the nearest facility is more than
        twice the radius away (or there is none), else medium."""
        return "high" if not np.isfinite(distance_m) or distance_m > 2 * radius_m else "medium"

    def building_problems(
        self, ctx: CheckContext, table: BuildingTable, rows: np.ndarray, covered: np.ndarray,
        best_dist: np.ndarray, best_fac: np.ndarray, best_name: np.ndarray, best_class: np.ndarray,
        classes: list[FacilityClass], class_dist: list[np.ndarray], passing: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> Iterator[ProblemPoint]:
        """One problem per uncovered building: severity from :meth:`uncovered_severity`, one step
        lower in a community of ``passing`` (one that meets the target as a whole)."""
        weights = self.weights(table)
        for j in np.nonzero(~covered)[0]:
            i = rows[j]
            obj = table.objects[i]
            c = int(best_class[j])
            radius = classes[c].radius_m if c >= 0 else (classes[0].radius_m if classes else 0.0)
            dist = float(best_dist[j])
            severity = self.uncovered_severity(dist, radius)
            community_passes = str(table.community[i]) in passing
            if community_passes:
                severity = _ONE_STEP_LOWER.get(severity, severity)
            if c >= 0 and np.isfinite(dist):
                where_en = f"nearest {classes[c].label_en} {best_name[j] or best_fac[j]} is {fmt_m(dist)} away (radius {fmt_m(radius)})"
                where_zh = f"最近的{classes[c].label_zh}{best_name[j] or best_fac[j]}距离{fmt_m_zh(dist)}（服务半径{fmt_m_zh(radius)}）"
            else:
                where_en = f"there is no {self.facility_en} in the data"
                where_zh = f"数据中没有{self.facility_zh}"
            evidence: dict[str, object] = {
                "nearest_facility_id": best_fac[j],
                "nearest_facility_name": best_name[j] or None,
                "distance_m": round(dist, 1) if np.isfinite(dist) else None,
                "radius_m": radius,
                "weight": round(float(weights[i]), 1),
                "weight_kind": self.weight,
                "community_meets_target": community_passes,
            }
            for fc, d in zip(classes, class_dist, strict=True):
                evidence[f"distance_{fc.label_en.replace(' ', '_')}_m"] = round(float(d[j]), 1) if np.isfinite(d[j]) else None
            yield in_unit(ctx.problem(
                self, obj, position=table.roof_position(i), value=dist if np.isfinite(dist) else None, threshold=radius, severity=severity,
                unit_id=table.community[i],
                message_en=f"Building {obj.id} is outside the service radius of every {self.facility_en}: {where_en}",
                message_zh=f"建筑{obj.id}不在任何{self.facility_zh}的服务半径内：{where_zh}",
                evidence=evidence,
            ), "m")
