"""National health-check indicators computed from the 3D model and city data.

Service-radius coverage (parks, community elderly care, kindergartens, primary schools), fire
station 5-minute coverage, new residential buildings over 80 m, road network density and
waterlogging points. Codes start with ``N-``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import numpy as np

from cim_twin.indicators.api import CheckContext, Indicator, MissingDataError
from cim_twin.indicators.hookspecs import hookimpl
from cim_twin.model import Direction, IndicatorSpec, ProblemPoint, Threshold

from ._spatial import (
    SharedTableIndicator,
    building_table,
    facility_points,
    floats,
    fmt_m,
    fmt_m_zh,
    group_index,
    in_unit,
    nearest_geometry,
    nearest_within,
    road_network,
    strings,
    sums,
    unit_ids,
    unit_label,
    unit_position,
)
from .coverage import FacilityClass, RadiusCoverage, coverage_severity

__all__ = [
    "ElderlyCareCoverage",
    "FireStation5Min",
    "KindergartenCoverage",
    "NewResidentialOver80m",
    "ParkCoverage",
    "PrimarySchoolCoverage",
    "RoadNetworkDensity",
    "Waterlogging",
]

GB50180 = "GB 50180-2018 城市居住区规划设计标准"
#: The national indicator list whose definitions these indicators follow (住房和城乡建设部, 2021).
GUIDE = "《2021年城市体检指标体系》(住房和城乡建设部)"
LOCAL = "local choice"
FIRE_STANDARD = "《城市消防站建设标准》(建标152-2017)"


# --- 1. park service-radius coverage -------------------------------------------------------------
class ParkCoverage(RadiusCoverage):
    spec = IndicatorSpec(
        code="N-PARK-COVER",
        name_zh="公园绿地服务半径覆盖率",
        name_en="Park service-radius coverage",
        category="生态宜居",
        level="community",
        unit="ratio",
        direction=Direction.HIGHER_IS_BETTER,
        national=True,
        thresholds={
            "default": Threshold(value=0.9, unit="ratio", source=LOCAL + ": 90 %; the national list gives the definition, not a target"),
            "small_park_m2": Threshold(value=2000.0, unit="m2", source=f"{GUIDE}, 公园绿地服务半径覆盖率: parks of 2,000-5,000 m² serve 300 m"),
            "large_park_m2": Threshold(value=5000.0, unit="m2", source=f"{GUIDE}, 公园绿地服务半径覆盖率: parks of 5,000 m² and more serve 500 m"),
            "small_radius_m": Threshold(value=300.0, unit="m", source=f"{GUIDE}, 公园绿地服务半径覆盖率 (= the 5-minute walk of {GB50180})"),
            "large_radius_m": Threshold(value=500.0, unit="m", source=f"{GUIDE}, 公园绿地服务半径覆盖率 (= the 10-minute walk of {GB50180})"),
        },
        data_needed=("buildings: function, height/storeys", "parks (polygons)", "communities"),
        description_en="Residential floor area within 300 m of a park of 2,000-5,000 m² or within 500 m of a "
        "park of at least 5,000 m², over all residential floor area, per community.",
        description_zh="公园绿地服务半径覆盖的居住建筑面积占比：2000-5000平方米公园300米、5000平方米以上公园500米。",
    )
    weight = "floor_area"
    facility_en = "park"
    facility_zh = "公园绿地"

    def facility_classes(self, ctx: CheckContext) -> list[FacilityClass]:
        parks = ctx.layer("parks")
        area = floats(parks, "area_m2")
        import shapely

        area = np.where(np.isfinite(area), area, shapely.area(parks.geometries))
        small = ctx.threshold(self, "small_park_m2")
        large = ctx.threshold(self, "large_park_m2")
        return [
            FacilityClass("park of at least 5,000 m²".replace("5,000", f"{large:,.0f}"),
                          f"{large:.0f}平方米以上公园", parks.where(area >= large), ctx.threshold(self, "large_radius_m")),
            FacilityClass(f"park of {small:,.0f}-{large:,.0f} m²", f"{small:.0f}-{large:.0f}平方米公园",
                          parks.where((area >= small) & (area < large)), ctx.threshold(self, "small_radius_m")),
        ]


# --- 2. community elderly-care coverage ---------------------------------------------------------
class ElderlyCareCoverage(RadiusCoverage):
    spec = IndicatorSpec(
        code="N-ELDERLY-CARE-COVER",
        name_zh="社区养老服务设施覆盖率",
        name_en="Community elderly-care coverage",
        category="健康舒适",
        level="community",
        unit="ratio",
        national=True,
        thresholds={
            "default": Threshold(value=1.0, unit="ratio",
                                 source=LOCAL + ": every dwelling within reach, as 《完整居住社区建设标准(试行)》(建科规〔2020〕7号) asks one elderly "
                                 "service station per community"),
            "radius_m": Threshold(value=300.0, unit="m", source=f"{GB50180}: 5-minute life circle, 300 m walk"),
        },
        data_needed=("buildings: function", "poi: type=elderly_care", "population: elderly", "communities"),
        description_en="Older residents (60+) within 300 m of a community elderly-care facility, over all older residents, per community.",
        description_zh="社区养老服务设施300米（5分钟步行）服务半径内的60岁以上老年人口占比。",
    )
    weight = "elderly"
    facility_en = "elderly-care facility"
    facility_zh = "社区养老服务设施"
    poi_type = "elderly_care"


# --- 5. kindergarten and primary school coverage -------------------------------------------------
def _school_spec(code: str, what_zh: str, what_en: str, poi_type: str, radius_m: float, circle: str) -> IndicatorSpec:
    """The spec of a school service-radius coverage indicator (kindergartens, primary schools)."""
    return IndicatorSpec(
        code=code,
        name_zh=f"{what_zh}服务半径覆盖率",
        name_en=f"{what_en.capitalize()} service-radius coverage",
        category="健康舒适",
        level="community",
        unit="ratio",
        national=True,
        thresholds={
            "default": Threshold(value=0.9, unit="ratio", source=LOCAL + ": 90 %"),
            "radius_m": Threshold(value=radius_m, unit="m",
                                  source=f"{GB50180}: {what_en} service radius not over {radius_m:.0f} m ({circle} life circle)"),
        },
        data_needed=("buildings: function", f"poi: type={poi_type}", "population: residents", "communities"),
        description_en=f"Residents within {radius_m:.0f} m of a {what_en}, over all residents, per community.",
        description_zh=f"{what_zh}{radius_m:.0f}米服务半径覆盖的居住人口占比。",
    )


class KindergartenCoverage(RadiusCoverage):
    spec = _school_spec("N-KINDERGARTEN-COVER", "幼儿园", "kindergarten", "kindergarten", 300.0, "5-minute")
    weight = "residents"
    poi_type = "kindergarten"
    facility_en = "kindergarten"
    facility_zh = "幼儿园"


class PrimarySchoolCoverage(RadiusCoverage):
    spec = _school_spec("N-PRIMARY-SCHOOL-COVER", "小学", "primary school", "primary_school", 500.0, "10-minute")
    weight = "residents"
    poi_type = "primary_school"
    facility_en = "primary school"
    facility_zh = "小学"


# --- 6. fire station 5-minute coverage -----------------------------------------------------------
class FireStation5Min(SharedTableIndicator):
    spec = IndicatorSpec(
        code="N-FIRE-5MIN",
        name_zh="消防救援5分钟可达覆盖率",
        name_en="Fire and rescue 5-minute coverage",
        category="安全韧性",
        level="district",
        unit="ratio",
        national=True,
        thresholds={
            "default": Threshold(value=1.0, unit="ratio", source=FIRE_STANDARD + ": every part of a station's area within reach"),
            "minutes": Threshold(value=5.0, unit="min", source=FIRE_STANDARD + ": the crew reaches the edge of its area within 5 min of the dispatch order"),
            "turnout_min": Threshold(value=1.0, unit="min", source=LOCAL + ": 1 min of the 5 to turn out, 4 to drive (usual planning split)"),
            "speed_kmh": Threshold(value=30.0, unit="km/h", source=LOCAL + ": 30 km/h engine speed in town (usual planning figure: 30-35 km/h)"),
            "detour_factor": Threshold(value=1.4, unit="", source=LOCAL + ": network/straight-line distance ratio without a road layer"),
            "high_rise_m": Threshold(value=27.0, unit="m", source="GB 50016-2014 建筑设计防火规范: residential over 27 m is high-rise"),
        },
        data_needed=("buildings: height, function", "poi: type=fire_station", "roads (optional: network distance)", "districts"),
        description_en="Floor area of buildings a fire engine reaches within 5 minutes (1 min turnout, 4 min at 30 km/h along "
        "the roads, or straight-line distance × 1.4 without roads), over all floor area, per district and community.",
        description_zh="消防车5分钟（出动1分钟+行驶4分钟，30 km/h）沿道路可到达的建筑面积占比。",
    )

    def prepare(self, ctx: CheckContext) -> None:
        super().prepare(ctx)
        road_network(ctx)

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        table = building_table(ctx)
        stations = facility_points(ctx, ctx.option(self, "types", ["fire_station"]))
        if stations is None:
            ctx.layer("poi")
        assert stations is not None
        if not len(stations):
            raise MissingDataError(
                "the POI layer has no fire station (type 'fire_station')",
                hint='name the POI types that are fire stations: [profile.options."N-FIRE-5MIN"] types = [...]',
            )
        drive_min = ctx.threshold(self, "minutes") - ctx.threshold(self, "turnout_min")
        reach = max(drive_min, 0.0) * ctx.threshold(self, "speed_kmh") * 1000.0 / 60.0
        st_xy = stations.xy()
        st_ids = strings(stations, "id")
        net = road_network(ctx) if not ctx.option(self, "straight_line", False) else None
        detour = ctx.threshold(self, "detour_factor")
        straight, nearest_st = nearest_within(table.xy, st_xy)
        if net is not None:
            node_dist = net.distances_from(st_xy, limit=reach * 1.5)
            access, node = nearest_within(table.xy, net.nodes)
            dist = node_dist[np.maximum(node, 0)] + access if len(net.nodes) else np.full(len(table), np.inf)
            method = "network"
        else:
            dist = straight * detour
            method = f"straight line × {detour:g}"
        covered = dist <= reach
        floor = np.nan_to_num(table.floor_area_m2)
        target = ctx.threshold(self)
        for level in ("district", "community"):
            keys, codes = group_index(table.units(level), unit_ids(ctx, level, table))
            total = sums(codes, floor, len(keys))
            got = sums(codes, np.where(covered, floor, 0.0), len(keys))
            for k, unit in enumerate(keys):
                rate = got[k] / total[k] if total[k] > 0 else None
                ctx.measure(self, unit, rate, level=level, numerator=float(got[k]), denominator=float(total[k]),
                            threshold=target, details={"reach_m": round(reach, 1), "method": method, "stations": len(stations)})
        high_rise = ctx.threshold(self, "high_rise_m")
        for i in np.nonzero(~covered)[0]:
            obj = table.objects[i]
            tall_home = bool(table.residential[i]) and table.height_m[i] > high_rise
            severity = "high" if tall_home else ("medium" if table.residential[i] else "low")
            d = float(dist[i])
            sid = st_ids[nearest_st[i]] if nearest_st[i] >= 0 else None
            what_en = f"high-rise residential building ({table.height_m[i]:.0f} m)" if tall_home else "building"
            what_zh = f"高层住宅（{table.height_m[i]:.0f}米）" if tall_home else "建筑"
            yield in_unit(ctx.problem(
                self, obj, position=table.roof_position(i), value=d if np.isfinite(d) else None, threshold=reach, severity=severity,
                unit_id=table.community[i],
                message_en=f"{what_en.capitalize()} {obj.id} is outside 5-minute fire coverage: "
                f"{fmt_m(d)} by {method} from the nearest station, reach {fmt_m(reach)}",
                message_zh=f"{what_zh}{obj.id}不在消防救援5分钟可达范围内：距最近消防站{fmt_m_zh(d)}（{'沿道路' if net is not None else '直线×绕行系数'}），"
                f"5分钟可达{fmt_m_zh(reach)}",
                evidence={"distance_m": round(d, 1) if np.isfinite(d) else None, "reach_m": round(reach, 1),
                          "method": method, "nearest_station_id": sid,
                          "straight_distance_m": round(float(straight[i]), 1) if np.isfinite(straight[i]) else None,
                          "height_m": None if not np.isfinite(table.height_m[i]) else round(float(table.height_m[i]), 1)},
            ), "m")


# --- 7. new residential buildings over 80 m ------------------------------------------------------
class NewResidentialOver80m(SharedTableIndicator):
    spec = IndicatorSpec(
        code="N-NEW-RES-80M",
        name_zh="新建住宅建筑高度超过80米的数量",
        name_en="New residential buildings over 80 m",
        category="风貌特色",
        level="district",
        unit="buildings",
        direction=Direction.LOWER_IS_BETTER,
        national=True,
        thresholds={
            "default": Threshold(value=0.0, unit="buildings", source=f"{GUIDE}, 新建住宅建筑高度超过80米的数量: bottom-line indicator, none"),
            "height_m": Threshold(value=80.0, unit="m", source=f"{GUIDE}: new residential buildings kept below 80 m (roof to outdoor ground)"),
            "since_year": Threshold(value=2021.0, unit="year", source=LOCAL + ": the national figure counts the check year's new buildings; "
                                    "the list keeps every one since the 2021 indicator list"),
        },
        data_needed=("buildings: function, yearOfConstruction, height",),
        description_en="Residential buildings over 80 m completed from the configured year (2021) up to the check year, "
        "counted per district; the check year's own (the national figure, detail built_in_period) are critical, earlier ones high.",
        description_zh="自设定年份（2021年）至体检年度新建的高度超过80米的住宅建筑数量，按城区统计；"
        "体检当年新建的（国家指标口径）为极严重，往年的为严重。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        table = building_table(ctx)
        limit = ctx.threshold(self, "height_m")
        since = ctx.threshold(self, "since_year")
        until = int(ctx.period.label) if ctx.period.label.isdigit() else 9999
        new = (table.year_built >= since) & (table.year_built <= until)
        hit = table.residential & new & (table.height_m > limit)
        keys, codes = group_index(table.district, unit_ids(ctx, "district", table))
        this_year = hit & (table.year_built == until)
        counts = np.bincount(codes[(codes >= 0) & hit], minlength=len(keys))[: len(keys)]
        counts_now = np.bincount(codes[(codes >= 0) & this_year], minlength=len(keys))[: len(keys)]
        for k, unit in enumerate(keys):
            ctx.measure(self, unit, float(counts[k]), threshold=ctx.threshold(self),
                        details={"height_m": limit, "since_year": int(since), "built_in_period": int(counts_now[k])})
        for i in np.nonzero(hit)[0]:
            obj = table.objects[i]
            h = float(table.height_m[i])
            year = int(table.year_built[i])
            # the check year's own breaches are what the national figure counts; earlier ones stay
            # on the list (high) until a later check no longer finds them
            yield in_unit(ctx.problem(
                self, obj, position=table.roof_position(i), value=h, threshold=limit,
                severity="critical" if this_year[i] else "high", unit_id=table.community[i],
                message_en=f"New residential building {obj.id} (built {year}) is {h:.1f} m high, "
                f"{h - limit:.1f} m over the {limit:.0f} m bottom line",
                message_zh=f"新建住宅{obj.id}（{year}年建成）高{h:.1f}米，超过{limit:.0f}米底线{h - limit:.1f}米",
                evidence={"height_m": round(h, 2), "year_built": int(table.year_built[i]),
                          "storeys": None if not np.isfinite(table.storeys[i]) else int(table.storeys[i])},
            ), "m")


# --- 11. road network density --------------------------------------------------------------------
def road_km_per_unit(units_geoms: np.ndarray, units_tree: object, roads: np.ndarray, edge_m: float) -> np.ndarray:
    """Centreline length (km) that belongs to each unit polygon.

    Roads are cut into pieces of at most 10 m. A piece whose middle lies in a unit counts for it.
    A piece in no unit (unit polygons usually stop at the road's red line, so the roads between
    them lie in the gaps) counts for every unit within ``edge_m`` with a share of 1 / max(k, 2),
    k the number of such units: a boundary road is half its neighbours' on each side.
    """
    import shapely

    n = len(units_geoms)
    km = np.zeros(n)
    if not n or not len(roads):
        return km
    parts = shapely.get_parts(shapely.segmentize(roads, 10.0))
    coords, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    length = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
    mid = shapely.points((a + b) / 2.0)
    pi, ui = units_tree.query(mid, predicate="intersects")  # type: ignore[attr-defined]
    inside = np.zeros(len(mid), dtype=bool)
    if len(pi):
        order = np.lexsort((ui, pi))
        pi, ui = pi[order], ui[order]
        first = np.unique(pi, return_index=True)[1]
        pi, ui = pi[first], ui[first]
        inside[pi] = True
        km += np.bincount(ui, weights=length[pi], minlength=n)
    outside = np.nonzero(~inside)[0]
    if len(outside) and edge_m > 0:
        pj, uj = units_tree.query(mid[outside], predicate="dwithin", distance=edge_m)  # type: ignore[attr-defined]
        if len(pj):
            k = np.bincount(pj, minlength=len(outside))
            km += np.bincount(uj, weights=length[outside][pj] / np.maximum(k[pj], 2), minlength=n)
    return km / 1000.0


class RoadNetworkDensity(SharedTableIndicator):
    spec = IndicatorSpec(
        code="N-ROAD-DENSITY",
        name_zh="城市道路网密度",
        name_en="Road network density",
        category="交通便捷",
        level="district",
        unit="km/km2",
        national=True,
        thresholds={
            "default": Threshold(value=8.0, unit="km/km2",
                                 source="《中共中央 国务院关于进一步加强城市规划建设管理工作的若干意见》(2016): built-up areas' "
                                 "average road network density up to 8 km/km² by 2020"),
            "edge_m": Threshold(value=30.0, unit="m", source=LOCAL + ": a road within 30 m of a unit outside every unit "
                                "is a boundary road, half the unit's"),
        },
        data_needed=("roads (centrelines, class)", "districts (polygons)", "blocks (optional)"),
        description_en="Length of road centrelines of each district (km) over its area (km²); a road between two units "
        "(outside both polygons, within 30 m) counts half for each. Blocks are measured too; a block below the target is "
        "a problem as well (at most medium), since a district average can hide a sparse new area.",
        description_zh="城区内道路中心线总长度（公里）与城区面积（平方公里）之比；位于两单元之间的边界道路各计一半。"
        "街区同样计算，低于目标的街区亦记为问题（最高为一般）。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        import shapely

        roads = ctx.layer("roads")
        classes = strings(roads, "class")
        exclude = list(ctx.option(self, "exclude_classes", []))
        roads_used = roads.where(~np.isin(classes, exclude)) if exclude else roads
        target = ctx.threshold(self)
        table = building_table(ctx)
        for level in ("district", "block"):
            units = ctx.units(level)
            if units is None:
                continue
            uid = strings(units, "id")
            km = road_km_per_unit(units.geometries, units.tree, roads_used.geometries, ctx.threshold(self, "edge_m"))
            km2 = shapely.area(units.geometries) / 1e6
            for k, unit in enumerate(uid):
                density = km[k] / km2[k] if km2[k] > 0 else None
                ctx.measure(self, unit, density, level=level, numerator=round(float(km[k]), 3),
                            denominator=round(float(km2[k]), 4), threshold=target)
                if density is not None and density < target:
                    # A district below the target is the indicator's problem; a block below it is
                    # pinned too (where the network must be densified), at most of medium severity,
                    # since a district average can hide a sparse new area.
                    severity = coverage_severity(density / target, 1.0)
                    if level == "block" and severity == "high":
                        severity = "medium"
                    name_en, name_zh = ("district", "城区") if level == "district" else ("block", "街区")
                    label = unit_label(ctx, level, unit)
                    place_zh = label if label.split(" ")[0].endswith(name_zh) else name_zh + label  # no 街区水东街区
                    x, y, z = unit_position(ctx, level, unit, table)
                    yield ctx.problem(
                        self, None, position=(x, y, z), unit_id=unit, subject=f"unit:{unit}", unit_level=level,
                        value=density, threshold=target, severity=severity,
                        message_en=f"Road network density of {name_en} {label} is {density:.1f} km/km² "
                        f"({km[k]:.1f} km of roads on {km2[k]:.2f} km²), below the target {target:g}",
                        message_zh=f"{place_zh}道路网密度为{density:.1f}公里/平方公里"
                        f"（道路{km[k]:.1f}公里、面积{km2[k]:.2f}平方公里），低于目标{target:g}",
                        evidence={"road_km": round(float(km[k]), 3), "area_km2": round(float(km2[k]), 4), "level": level},
                    )


# --- 12. waterlogging points ---------------------------------------------------------------------
def _to_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


class Waterlogging(SharedTableIndicator):
    spec = IndicatorSpec(
        code="N-WATERLOGGING",
        name_zh="城市内涝积水点数量",
        name_en="Urban waterlogging points",
        category="安全韧性",
        level="district",
        unit="sites",
        direction=Direction.LOWER_IS_BETTER,
        national=True,
        thresholds={
            "default": Threshold(value=0.0, unit="sites", source="国办发〔2021〕11号《关于加强城市内涝治理的实施意见》: eliminate severe waterlogging sites"),
            "cluster_m": Threshold(value=100.0, unit="m", source=LOCAL + ": reports within 100 m are one site"),
            "depth_cm": Threshold(value=15.0, unit="cm", source="GB 51222-2017 城镇内涝防治技术规范: 15 cm on the road counts as waterlogging"),
            "severe_depth_cm": Threshold(value=40.0, unit="cm", source=LOCAL),
            "attach_m": Threshold(value=50.0, unit="m", source=LOCAL + ": buildings within 50 m are attached"),
        },
        data_needed=("incidents: date, depth_cm, duration_h", "roads (optional)", "districts"),
        description_en="Dated waterlogging incidents clustered into sites (100 m); a site with an incident in the period is a "
        "problem, severe when it recurs in two or more years or is deep; counted per district.",
        description_zh="积水事件按100米聚类为积水点；本期出现的积水点计入，跨年份反复出现或积水较深为严重。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        layer = ctx.layer("incidents", columns=("date",))
        dates = [_to_date(v) for v in layer.column("date")]
        end = ctx.period.end.date()
        start = ctx.period.start.date()
        keep = np.array([d is not None and d < end for d in dates], dtype=bool)
        when: list[date] = [d for d, k in zip(dates, keep, strict=True) if k and d is not None]
        xy = layer.xy()[keep]
        ids = strings(layer, "id")[keep]
        depth = floats(layer, "depth_cm")[keep]
        duration = floats(layer, "duration_h")[keep]
        n = len(xy)
        table = building_table(ctx)
        keys, codes = group_index(ctx.unit_ids_at(xy, "district") if n else np.zeros(0, object), unit_ids(ctx, "district", table))
        if not n:
            for unit in keys:
                ctx.measure(self, unit, 0.0, threshold=ctx.threshold(self))
            return
        pairs = cKDTree(xy).query_pairs(ctx.threshold(self, "cluster_m"), output_type="ndarray")
        adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        n_sites, site = connected_components(adj, directed=False)
        in_period = np.array([start <= d < end for d in when], dtype=bool)
        years = np.array([d.year for d in when])
        min_depth = ctx.threshold(self, "depth_cm")
        severe_depth = ctx.threshold(self, "severe_depth_cm")
        attach = ctx.threshold(self, "attach_m")
        roads = ctx.layer("roads") if ctx.has_layer("roads") else None
        active_sites: list[tuple[int, np.ndarray]] = []
        for s_idx in range(n_sites):
            members = np.nonzero(site == s_idx)[0]
            now = members[in_period[members]]
            # shallow ponding below the standard's 15 cm is not waterlogging
            now = now[~(depth[now] < min_depth)]
            if len(now):
                active_sites.append((s_idx, members))
        site_xy = np.array([xy[m].mean(axis=0) for _, m in active_sites]) if active_sites else np.zeros((0, 2))
        site_district = ctx.unit_ids_at(site_xy, "district") if len(site_xy) else np.zeros(0, object)
        _, site_codes = group_index(site_district, keys)
        counts = np.bincount(site_codes[site_codes >= 0], minlength=len(keys))[: len(keys)]
        for k, unit in enumerate(keys):
            ctx.measure(self, unit, float(counts[k]), threshold=ctx.threshold(self),
                        details={"incidents_in_period": int(in_period[codes == k].sum())})
        if not active_sites:
            return
        b_tree = None
        if len(table):
            from scipy.spatial import cKDTree as _KD

            b_tree = _KD(table.xy)
        road_dist, road_idx = (nearest_geometry(site_xy, roads.geometries, tree=roads.tree) if roads is not None and len(roads)
                               else (np.full(len(site_xy), np.inf), np.full(len(site_xy), -1)))
        site_community = ctx.unit_ids_at(site_xy, "community")
        road_ids = strings(roads, "id") if roads is not None else np.zeros(0, object)
        road_names = strings(roads, "name") if roads is not None else np.zeros(0, object)
        for j, (_, members) in enumerate(active_sites):
            now = members[in_period[members]]
            site_years = sorted({int(y) for y in years[members]})
            recurring = len(site_years) >= 2
            max_depth = float(np.nanmax(depth[now])) if np.isfinite(depth[now]).any() else None
            deep = max_depth is not None and max_depth >= severe_depth
            severity = "critical" if recurring and deep else ("high" if recurring or deep else "medium")
            near: list[str] = []
            z = 0.0
            if b_tree is not None:
                idx = b_tree.query_ball_point(site_xy[j], attach)
                idx = sorted(idx, key=lambda i: float(np.hypot(*(table.xy[i] - site_xy[j]))))[:5]
                near = [str(table.ids[i]) for i in idx]
                if idx:
                    z = float(np.nanmin(table.ground_z[idx]))
                else:
                    _, nb = b_tree.query(site_xy[j])
                    z = float(table.ground_z[nb])
            road = road_ids[road_idx[j]] if road_idx[j] >= 0 else None
            road_name = road_names[road_idx[j]] if road_idx[j] >= 0 else ""
            first = min(when[i] for i in now)
            where_en = f" on {road_name or road}" if road else ""
            where_zh = f"（{road_name or road}）" if road else ""
            yield in_unit(ctx.problem(
                self, None, position=(site_xy[j][0], site_xy[j][1], z), object_ids=near, unit_id=site_community[j],
                # the site's first incident ever names it, so next year's run finds the same site
                subject=f"site:{ids[min(members, key=lambda i: (when[i], ids[i]))]}",
                value=float(len(now)), severity=severity,
                observed_at=datetime(first.year, first.month, first.day, tzinfo=ctx.period.start.tzinfo or UTC),
                message_en=f"Waterlogging site{where_en}: {len(now)} incident(s) this period"
                + (f", recurring in {', '.join(map(str, site_years))}" if recurring else "")
                + (f", up to {max_depth:.0f} cm deep" if max_depth is not None else ""),
                message_zh=f"内涝积水点{where_zh}：本期积水{len(now)}次"
                + (f"，{'、'.join(map(str, site_years))}年反复出现" if recurring else "")
                + (f"，最深{max_depth:.0f}厘米" if max_depth is not None else ""),
                evidence={"incident_ids": [str(ids[i]) for i in members], "years": site_years, "recurring": recurring,
                          "max_depth_cm": max_depth,
                          "max_duration_h": float(np.nanmax(duration[now])) if np.isfinite(duration[now]).any() else None,
                          "road_id": road, "road_distance_m": round(float(road_dist[j]), 1) if np.isfinite(road_dist[j]) else None,
                          "building_ids": near},
            ), "incidents")


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    for indicator in (ParkCoverage(), ElderlyCareCoverage(), KindergartenCoverage(), PrimarySchoolCoverage(),
                      FireStation5Min(), NewResidentialOver80m(), RoadNetworkDensity(), Waterlogging()):
        register(indicator)
