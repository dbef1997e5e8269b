"""Local indicators of the Nanping health check: nursing-type care beds, public toilets and the
old-housing check list (房屋体检). Codes start with ``L-``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from cim_twin.indicators.api import CheckContext, Indicator
from cim_twin.indicators.hookspecs import hookimpl
from cim_twin.model import Direction, IndicatorSpec, ProblemPoint, Threshold

from ._spatial import (
    BuildingTable,
    SharedTableIndicator,
    building_table,
    facility_points,
    floats,
    group_index,
    in_unit,
    strings,
    sums,
    unit_ids,
    unit_label,
    unit_position,
)
from .coverage import RadiusCoverage

__all__ = ["NursingBeds", "OldHousing", "ToiletCoverage"]

LOCAL = "local choice"


def _county_of_district(ctx: CheckContext, table: BuildingTable) -> dict[str, str]:
    """District id -> county name (the districts layer's ``county`` column; else the district
    is its own county)."""
    out: dict[str, str] = {}
    districts = ctx.units("district")
    if districts is not None:
        counties = strings(districts, "county")
        for d, c in zip(strings(districts, "id"), counties, strict=True):
            out[d] = c or d
    for d in table.district:
        if d is not None and d not in out:
            out[str(d)] = str(d)
    return out


def _county_position(ctx: CheckContext, table: BuildingTable, districts: list[str]) -> tuple[float, float, float]:
    import shapely

    layer = ctx.units("district")
    z = 0.0
    mask = np.isin(table.district.astype(str), districts) if len(table) else np.zeros(0, bool)
    if mask.any():
        z = float(np.nanmean(table.ground_z[mask]))
    if layer is not None:
        geoms = layer.geometries[np.isin(strings(layer, "id"), districts)]
        if len(geoms):
            p = shapely.point_on_surface(shapely.union_all(geoms))
            return float(p.x), float(p.y), z
    xy = table.xy[mask].mean(axis=0) if mask.any() else np.zeros(2)
    return float(xy[0]), float(xy[1]), z


# --- 3. nursing-type care beds per 1,000 older residents -----------------------------------------
class NursingBeds(SharedTableIndicator):
    spec = IndicatorSpec(
        code="L-NURSING-BEDS",
        name_zh="每千名老年人养老机构护理型床位数",
        name_en="Nursing-type care beds per 1,000 older residents",
        category="健康舒适",
        level="district",
        unit="beds/1000",
        thresholds={
            "default": Threshold(value=22.0, unit="beds/1000",
                                 source=LOCAL + ": 40 care beds per 1,000 older residents × 55 % nursing-type"),
            "nursing_share": Threshold(value=0.55, unit="ratio",
                                       source="《“十四五”国家老龄事业发展和养老服务体系规划》(国务院, 2021): nursing-type beds 55 % of care-home beds by 2025"),
        },
        data_needed=("poi: type=nursing_home, beds, nursing_beds", "population: elderly", "districts: county"),
        description_en="Nursing-type beds of care homes over older residents (60+) × 1,000, per county; also the share "
        "of nursing-type beds among all care-home beds.",
        description_zh="养老机构护理型床位数与60岁以上老年人口之比（每千人），按区县统计；并统计护理型床位占比。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        table = building_table(ctx)
        homes = facility_points(ctx, ctx.option(self, "types", ["nursing_home"]))
        if homes is None:
            ctx.layer("poi")
        assert homes is not None
        homes.require("nursing_beds")
        county_of = _county_of_district(ctx, table)
        counties = sorted(set(county_of.values()))
        # older residents by county
        b_county = np.array([county_of.get(str(d)) if d is not None else None for d in table.district], dtype=object)
        _, codes = group_index(b_county, counties)
        elderly = sums(codes, table.elderly, len(counties))
        # beds by county
        home_xy = homes.xy()
        h_district = ctx.unit_ids_at(home_xy, "district")
        h_county = np.array([county_of.get(str(d)) if d is not None else None for d in h_district], dtype=object)
        _, h_codes = group_index(h_county, counties)
        nursing = np.nan_to_num(floats(homes, "nursing_beds"))
        beds = floats(homes, "beds")
        beds = np.where(np.isfinite(beds), beds, nursing)
        n_nursing = sums(h_codes, nursing, len(counties))
        n_beds = sums(h_codes, beds, len(counties))
        target = ctx.threshold(self)
        share_target = ctx.threshold(self, "nursing_share")
        for k, county in enumerate(counties):
            per_1000 = n_nursing[k] / elderly[k] * 1000.0 if elderly[k] > 0 else None
            share = n_nursing[k] / n_beds[k] if n_beds[k] > 0 else None
            ctx.measure(self, county, per_1000, numerator=float(n_nursing[k]), denominator=round(float(elderly[k]), 1),
                        threshold=target,
                        details={"beds": float(n_beds[k]), "nursing_share": share, "nursing_share_target": share_target,
                                 "care_homes": int((h_codes == k).sum()), "population_estimated": table.population_estimated,
                                 "districts": sorted(d for d, c in county_of.items() if c == county)})
            districts = sorted(d for d, c in county_of.items() if c == county)
            if per_1000 is not None and per_1000 < target:
                need = int(np.ceil(target * elderly[k] / 1000.0 - n_nursing[k]))
                yield ctx.problem(
                    self, None, position=_county_position(ctx, table, districts), subject=f"county:{county}",
                    unit_id=districts[0] if len(districts) == 1 else None, unit_level="district",
                    value=per_1000, threshold=target, severity="high" if per_1000 < target / 2 else "medium",
                    message_en=f"{county}: {per_1000:.1f} nursing-type care beds per 1,000 older residents, below {target:g}; "
                    f"about {need} more beds needed",
                    message_zh=f"{county}每千名老年人养老机构护理型床位{per_1000:.1f}张，低于{target:g}张，缺口约{need}张",
                    evidence={"nursing_beds": float(n_nursing[k]), "elderly": round(float(elderly[k])), "beds_needed": need,
                              "care_home_ids": [str(i) for i in strings(homes, "id")[h_codes == k]]},
                )
            if share is not None and share < share_target:
                yield in_unit(ctx.problem(
                    self, None, position=_county_position(ctx, table, districts), subject=f"county-share:{county}",
                    unit_id=districts[0] if len(districts) == 1 else None, unit_level="district",
                    value=share, threshold=share_target, severity="medium",
                    message_en=f"{county}: nursing-type beds are {share:.0%} of care-home beds, below {share_target:.0%}",
                    message_zh=f"{county}养老机构护理型床位占比{share:.0%}，低于{share_target:.0%}",
                    evidence={"nursing_beds": float(n_nursing[k]), "beds": float(n_beds[k])},
                ), "ratio")


# --- 4. public toilet coverage and density -------------------------------------------------------
class ToiletCoverage(RadiusCoverage):
    spec = IndicatorSpec(
        code="L-TOILET-COVER",
        name_zh="公厕服务半径覆盖率",
        name_en="Public toilet coverage",
        category="整洁有序",
        level="community",
        unit="ratio",
        thresholds={
            "default": Threshold(value=0.9, unit="ratio", source=LOCAL),
            "radius_m": Threshold(value=500.0, unit="m", source=LOCAL + ": half the 750-1,000 m spacing that municipal toilet rules give for ordinary streets "
                               "(300-500 m on busy streets)"),
            "density_per_km2": Threshold(value=3.0, unit="1/km2", source="GB/T 50337-2018 城市环境卫生设施规划标准: 3-5 public toilets per km² of residential land"),
        },
        data_needed=("buildings", "poi: type=toilet", "communities", "districts (density)"),
        description_en="Floor area of all buildings within 500 m of a public toilet, over all floor area, per community; "
        "and public toilets per km² per district (a finding below 3 per km²).",
        description_zh="公厕500米服务半径覆盖的建筑面积占比（按社区），及每平方公里公厕数量（按城区，低于3座为问题）。",
    )
    weight = "floor_area"
    residential_only = False
    facility_en = "public toilet"
    facility_zh = "公厕"
    poi_type = "toilet"

    def _density(self, ctx: CheckContext) -> dict[str, dict[str, object]]:
        """Per district: public toilets, area and toilets per km² against the density target.

        A toilet on the street between two districts (outside every polygon) counts for the
        nearest district within 50 m."""
        import shapely

        districts = ctx.units("district")
        if districts is None:
            return {}
        toilets = self.facility_classes(ctx)[0].layer
        ids = [str(v) for v in districts.column("id")]
        xy = toilets.xy()
        where = ctx.unit_ids_at(xy, "district")
        outside = np.array([w is None for w in where], dtype=bool)
        if outside.any():
            where[outside] = ctx.nearest_unit_ids(xy[outside], "district", 50.0)[0]
        _, codes = group_index(where, ids)
        counts = np.bincount(codes[codes >= 0], minlength=len(ids))[: len(ids)]
        km2 = shapely.area(districts.geometries) / 1e6
        target = ctx.threshold(self, "density_per_km2")
        out: dict[str, dict[str, object]] = {}
        for k, unit in enumerate(ids):
            density = float(counts[k] / km2[k]) if km2[k] > 0 else None
            out[unit] = {"toilets": int(counts[k]), "area_km2": round(float(km2[k]), 4), "toilets_per_km2": density,
                         "density_target": target, "density_passed": None if density is None else density >= target}
        return out

    def unit_details(self, ctx: CheckContext, level: str, unit_ids: list[str]) -> dict[str, dict[str, object]]:
        """Per district: the toilet density of :meth:`_density`."""
        return self._density(ctx) if level == "district" else {}

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        yield from super().evaluate(ctx)
        table = building_table(ctx)
        for unit, d in self._density(ctx).items():
            density, target = d["toilets_per_km2"], float(d["density_target"])  # type: ignore[arg-type]
            if density is None or density >= target:
                continue
            area = float(d["area_km2"])  # type: ignore[arg-type]
            need = int(np.ceil(target * area)) - int(d["toilets"])  # type: ignore[call-overload]
            yield ctx.problem(
                self, None, position=unit_position(ctx, "district", unit, table), unit_id=unit, unit_level="district",
                subject=f"density:{unit}", value=float(density), threshold=target,  # type: ignore[arg-type]
                severity="medium" if density < target / 2 else "low",  # type: ignore[operator]
                message_en=f"District {unit_label(ctx, 'district', unit)} has {d['toilets']} public toilets on {area:.2f} km² "
                f"({density:.1f} per km², below {target:g}); about {need} more needed",
                message_zh=f"城区{unit_label(ctx, 'district', unit)}公厕{d['toilets']}座、面积{area:.2f}平方公里（每平方公里{density:.1f}座，低于{target:g}座），缺口约{need}座",
                evidence={"toilets": d["toilets"], "area_km2": area, "toilets_needed": need},
            )

    def uncovered_severity(self, distance_m: float, radius_m: float) -> str:
        # a missing toilet is an inconvenience, not a danger: low, medium when very far
        return "medium" if not np.isfinite(distance_m) or distance_m > 2 * radius_m else "low"


# --- 8. old housing ------------------------------------------------------------------------------
#: Severity of an old house by its danger grade (危房等级, JGJ 125): A and B are safe or need
#: minor repair, C and D are dangerous; a house without a grade needs one (low).
_DANGER_SEVERITY = {"A": "info", "B": "low", "C": "high", "D": "critical"}
#: A weak structure (brick-wood, wood, earth) raises an A or B grade or a missing grade one step.
_RAISED = {"info": "low", "low": "medium"}
#: Chinese names of the structure codes models use in English (for the Chinese messages).
_STRUCTURE_ZH = {"brick_wood": "砖木", "brick-wood": "砖木", "brick_concrete": "砖混", "brick-concrete": "砖混", "wood": "木",
                 "adobe": "土木", "frame": "框架", "shear_wall": "剪力墙", "steel": "钢"}
_WEAK_STRUCTURES = ("砖木", "木", "土", "wood", "brick-wood", "brick_wood", "masonry-wood", "adobe")


class OldHousing(SharedTableIndicator):
    spec = IndicatorSpec(
        code="L-OLD-HOUSING",
        name_zh="老旧房屋（房屋体检清单）",
        name_en="Old housing (housing check list)",
        category="安全韧性",
        level="building",
        unit="ratio",
        direction=Direction.LOWER_IS_BETTER,
        thresholds={
            "default": Threshold(value=0.3, unit="ratio", source=LOCAL + ": communities with more than 30 % old floor area are renewal candidates"),
            "before_year": Threshold(value=1990.0, unit="year", source=LOCAL + " (option before_year)"),
        },
        data_needed=("buildings: function, yearOfConstruction, storeys; optional danger_level (危房等级), structure", "communities"),
        description_en="Residential buildings built before the configured year (1990) form the housing check list; per "
        "community the share of residential floor area that is old.",
        description_zh="建成年代早于设定年份（默认1990年）的住宅列入房屋体检清单；按社区统计老旧住宅建筑面积占比。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        table = building_table(ctx)
        before = float(ctx.option(self, "before_year", ctx.threshold(self, "before_year")))
        old = table.residential & (table.year_built < before)
        floor = np.nan_to_num(table.floor_area_m2)
        keys, codes = group_index(table.community, unit_ids(ctx, "community", table))
        res_floor = sums(codes, np.where(table.residential, floor, 0.0), len(keys))
        old_floor = sums(codes, np.where(old, floor, 0.0), len(keys))
        old_count = np.bincount(codes[(codes >= 0) & old], minlength=len(keys))[: len(keys)]
        no_year = table.residential & ~np.isfinite(table.year_built)
        no_year_count = np.bincount(codes[(codes >= 0) & no_year], minlength=len(keys))[: len(keys)]
        target = ctx.threshold(self)
        for k, unit in enumerate(keys):
            share = old_floor[k] / res_floor[k] if res_floor[k] > 0 else None
            ctx.measure(self, unit, share, level="community", numerator=round(float(old_floor[k]), 1),
                        denominator=round(float(res_floor[k]), 1), threshold=target,
                        details={"old_buildings": int(old_count[k]), "before_year": int(before),
                                 "residential_without_year": int(no_year_count[k])})
        for i in np.nonzero(old)[0]:
            obj = table.objects[i]
            danger = str(obj.get("danger_level") or obj.get("危房等级") or "").strip().upper()[:1]
            structure = str(obj.get("structure") or obj.get("结构") or "")
            severity = _DANGER_SEVERITY.get(danger, "low")
            if any(w in structure.lower() for w in _WEAK_STRUCTURES):
                severity = _RAISED.get(severity, severity)
            year = int(table.year_built[i])
            extra_en = (f", danger grade {danger}" if danger else "") + (f", {structure.replace('_', '-')} structure" if structure else "")
            structure_zh = _STRUCTURE_ZH.get(structure.lower(), structure)
            extra_zh = (f"，危房等级{danger}级" if danger else "") + (f"，{structure_zh}结构" if structure else "")
            yield in_unit(ctx.problem(
                self, obj, position=table.roof_position(i), value=float(year), threshold=before, severity=severity, unit_id=table.community[i],
                message_en=f"Residential building {obj.id} built in {year} (before {int(before)}) is on the housing check list{extra_en}",
                message_zh=f"住宅{obj.id}建于{year}年（早于{int(before)}年），列入房屋体检清单{extra_zh}",
                evidence={"year_built": year, "danger_level": danger or None, "structure": structure or None,
                          "floor_area_m2": round(float(floor[i]), 1),
                          "storeys": None if not np.isfinite(table.storeys[i]) else int(table.storeys[i])},
            ), "year")


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    for indicator in (NursingBeds(), ToiletCoverage(), OldHousing()):
        register(indicator)
