"""Auxiliary layers of the example district: everything the first-party indicators read.

:func:`write_layers` is called by :func:`cim_twin.example_city.generate` once per year and writes:

``layers/<Y>/parks.geojson``
    Polygon parks, pocket parks and squares on free land (``id``, ``name``, ``kind``,
    ``area_m2``, ``opened``). The old town has none of its own; a new park opens in 2025.
``layers/<Y>/poi.geojson``
    Point facilities in **GCJ-02** (as Chinese map services give them, declared
    ``crs = "GCJ-02"``): the public buildings of the model (primary schools, kindergartens, fire
    stations, clinics, markets, toilets, elderly-care centres) plus community elderly-care
    stations, nursing homes (``beds``, ``nursing_beds``), street toilets, and the primary schools
    and kindergartens of the catchments no school of the model reaches (in buildings of other
    use). Columns ``id``, ``name``, ``type``, ``beds``, ``nursing_beds``, ``capacity``,
    ``building_id``, ``opened``. Care stations, toilets, a school, kindergartens and a nursing
    home are added in 2024 and 2025, some catchments stay without; the fire station of the last
    district enters service in 2025.
``layers/<Y>/population.csv``
    ``building_id``, ``residents``, ``elderly`` (aged 60+) for every dwelling.
``layers/<Y>/streetview.geojson``
    Street-view samples every 60 m along the roads, heading along the road, with segmentation
    class fractions (``green``, ``sky``, ``building``, ``road``, ``sidewalk``, ``vehicle``,
    ``person``); a few samples have only a ``photo`` (small PNGs under ``photos/``) for the
    excess-green fallback. Roads greened in 2025 show it.
``layers/<Y>/heatmap.csv``
    Crowd heat map, 100 m cells (``x``, ``y`` in EPSG:4548, ``cell_m``, ``hour``, ``density``):
    residents at night, workers and shoppers by day, visitors in parks (some parks cold, old-town
    squares crowded), an evening crowd at the markets.
``layers/waterlogging.geojson``
    Dated waterlogging incidents of 2021 up to the year (``id``, ``date``, ``depth_cm``,
    ``duration_h``, ``road_id``): sites that recur every year, sites fixed by drainage works in
    2024, new sites, one-off shallow ponding.
``layers/<Y>/reports.geojson``
    Survey records of the community grid workers at old and dangerous houses (``source`` =
    ``survey``) and public reports (``public``): ``id``, ``time`` (ISO, +08:00), ``category``,
    ``text``, ``source``, ``photo``.

Everything is deterministic for ``(seed, buildings, year)``: random streams come from
``layout.random_for(...)`` keyed by what they decide, never from call order.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..serialization import atomic_write_bytes, write_json
from .layout import BuildingPlan, DistrictLayout, Unit

__all__ = ["LAYER_ENTRIES", "write_layers"]

#: ``[layers.NAME]`` entries of twin.toml for the files written here.
LAYER_ENTRIES: dict[str, dict[str, Any]] = {
    "parks": {"path": "layers/{period}/parks.geojson", "kind": "parks"},
    "poi": {"path": "layers/{period}/poi.geojson", "kind": "poi", "crs": "GCJ-02"},
    "population": {"path": "layers/{period}/population.csv", "kind": "population"},
    "streetview": {"path": "layers/{period}/streetview.geojson", "kind": "streetview"},
    "heatmap": {"path": "layers/{period}/heatmap.csv", "kind": "heatmap", "crs": "EPSG:4548"},
    "waterlogging": {"path": "layers/waterlogging.geojson", "kind": "incidents"},
    "reports": {"path": "layers/{period}/reports.geojson", "kind": "reports"},
}

FIRST_INCIDENT_YEAR = 2021
CELL_M = 100.0
_ELDERLY_SHARE = {"old_town": 0.34, "mixed": 0.26, "new": 0.12, "townhouse": 0.18, "public": 0.2}
_PERSONS_PER_DWELLING = {"old_town": 2.4, "mixed": 2.7, "new": 2.9, "townhouse": 3.1, "public": 2.5}


def write_layers(layout: DistrictLayout, out_dir: str | os.PathLike[str], year: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Write the auxiliary layers of ``year`` under ``out_dir`` (see the module docstring).

    Parameters
    ----------
    layout: the district plan.
    out_dir: the project folder (files go to ``layers/`` and ``layers/<year>/``).
    year: the epoch.
    rng: the generator's stream for this year; not used: every decision here must agree across
        years (a park keeps its id and place), so each draws from ``layout.random_for`` keyed by
        what it decides.

    Returns
    -------
    The twin.toml layer entries (:data:`LAYER_ENTRIES`).
    """
    root = Path(out_dir)
    folder = root / "layers" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    all_plans = list(layout.iter_buildings(None))  # every year's: parks must avoid them all
    plans = [p for p in all_plans if p.alive_in(year)]  # the same order as iter_buildings(year)
    parks = _parks(layout, all_plans, year)
    pois = _pois(layout, plans, parks, year, all_plans)
    residents = _population(layout, plans, year)
    _write_points(layout, folder / "poi.geojson", "poi", pois, gcj02=True)
    _write_polygons(layout, folder / "parks.geojson", "parks", parks)
    _write_population(folder / "population.csv", residents)
    _write_streetview(layout, folder, year)
    _write_heatmap(layout, folder / "heatmap.csv", plans, residents, parks, pois, year)
    _write_waterlogging(layout, root / "layers" / "waterlogging.geojson", year)
    _write_reports(layout, folder / "reports.geojson", plans, year)
    return {name: dict(entry) for name, entry in LAYER_ENTRIES.items()}


# --- writing ---------------------------------------------------------------------------------------
def _lonlat(layout: DistrictLayout, xy: Sequence[tuple[float, float]], gcj02: bool = False) -> list[tuple[float, float]]:
    out = layout.to_wgs84(xy) if len(xy) else []
    if gcj02 and out:
        from ..crs import wgs84_to_gcj02

        lon, lat = wgs84_to_gcj02(np.array([p[0] for p in out]), np.array([p[1] for p in out]))
        out = [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]
    return out


def _write_points(layout: DistrictLayout, path: Path, name: str, rows: list[dict[str, Any]], gcj02: bool = False) -> None:
    coords = _lonlat(layout, [r.pop("_xy") for r in rows], gcj02)
    features = [
        {"type": "Feature", "id": r["id"], "properties": r, "geometry": {"type": "Point", "coordinates": list(c)}}
        for r, c in zip(rows, coords, strict=True)
    ]
    doc: dict[str, Any] = {"type": "FeatureCollection", "name": name, "features": features}
    write_json(path, doc, pretty=False)


@dataclass(frozen=True)
class _Park:
    id: str
    name: str
    kind: str
    ring: tuple[tuple[float, float], ...]
    opened: int
    community_id: str
    visitors: float  # daytime visitors per hectare and hour (cold parks low, squares high)

    @property
    def area_m2(self) -> float:
        xs = [p[0] for p in self.ring]
        ys = [p[1] for p in self.ring]
        return (max(xs) - min(xs)) * (max(ys) - min(ys))

    @property
    def centre(self) -> tuple[float, float]:
        xs = [p[0] for p in self.ring]
        ys = [p[1] for p in self.ring]
        return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _write_polygons(layout: DistrictLayout, path: Path, name: str, parks: list[_Park]) -> None:
    features = []
    for p in parks:
        ring = _lonlat(layout, list(p.ring))
        ring.append(ring[0])
        features.append({
            "type": "Feature", "id": p.id,
            "properties": {"id": p.id, "name": p.name, "kind": p.kind, "area_m2": round(p.area_m2, 1), "opened": p.opened,
                           "community_id": p.community_id},
            "geometry": {"type": "Polygon", "coordinates": [[list(c) for c in ring]]},
        })
    write_json(path, {"type": "FeatureCollection", "name": name, "features": features}, pretty=False)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


# --- parks -----------------------------------------------------------------------------------------
_PARK_NAMES = ("滨江公园", "九峰公园", "玉屏山公园", "江南公园", "梅山公园", "紫云公园", "剑津公园", "水南公园",
               "龙山公园", "茶园公园")
_SQUARE_NAMES = ("府前广场", "中山广场", "八一广场", "解放广场", "人民广场", "东门广场")


def _building_tree(plans: list[BuildingPlan]) -> Any:
    """STRtree of every footprint (grown by 3 m), or None without buildings."""
    import shapely

    if not plans:
        return None
    foot = shapely.polygons([shapely.linearrings(p.footprint) for p in plans])
    return shapely.STRtree(shapely.buffer(foot, 3.0))


def _free_sites(tree: Any, size: float, units: list[Unit]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Squares of ``size`` m inside each community that touch no building of ``tree`` (one
    vectorised STRtree query for all candidates)."""
    import shapely

    boxes: list[tuple[str, tuple[float, float, float, float]]] = []
    for u in units:
        x0, y0, x1, y1 = u.bbox
        x0, y0, x1, y1 = x0 + 8, y0 + 8, x1 - 8, y1 - 8
        step = max(size / 3, 10.0)
        y = y0
        while y + size <= y1:
            x = x0
            while x + size <= x1:
                boxes.append((u.id, (x, y, x + size, y + size)))
                x += step
            y += step
    if not boxes:
        return {}
    geoms = shapely.box(*np.array([b for _, b in boxes]).T)
    busy = np.zeros(len(boxes), dtype=bool)
    if tree is not None:
        hit, _ = tree.query(geoms, predicate="intersects")
        busy[hit] = True
    out: dict[str, list[tuple[float, float, float, float]]] = {}
    for (uid, b), taken in zip(boxes, busy, strict=True):
        if not taken:
            out.setdefault(uid, []).append(b)
    return out


def _parks(layout: DistrictLayout, all_plans: list[BuildingPlan], year: int) -> list[_Park]:
    """Parks of ``year``: decided once for all years (same ids), opened in their year."""
    rng = layout.random_for("parks")
    communities = layout.communities
    tree = _building_tree(all_plans)
    large = _free_sites(tree, 75.0, communities)
    small = _free_sites(tree, 50.0, communities)
    pocket = _free_sites(tree, 30.0, communities)
    parks: list[_Park] = []
    names = iter(_PARK_NAMES)
    squares = iter(_SQUARE_NAMES)
    for _k, u in enumerate(communities):
        r = rng.random()
        choice = rng.random()
        if u.character == "old_town":
            # the old town has no park of its own; squares at alley crossings are crowded
            if pocket.get(u.id) and r < 0.5:
                b = pocket[u.id][int(choice * len(pocket[u.id]))]
                parks.append(_park(f"SQ-{u.id}", next(squares, f"{u.name}广场"), "square", b, 2000, u.id, 160.0))
            continue
        if large.get(u.id) and r < 0.12:
            b = large[u.id][int(choice * len(large[u.id]))]
            cold = rng.random() < 0.35  # estates' parks on the edge are quiet
            parks.append(_park(f"PK-{u.id}", next(names, f"{u.name}公园"), "park", b, 2005, u.id, 6.0 if cold else 45.0))
        elif small.get(u.id) and r < 0.26:
            b = small[u.id][int(choice * len(small[u.id]))]
            parks.append(_park(f"PG-{u.id}", f"{u.name}游园", "pocket_park", b, 2012, u.id, 30.0))
        elif pocket.get(u.id) and r < 0.45:
            b = pocket[u.id][int(choice * len(pocket[u.id]))]
            parks.append(_park(f"PP-{u.id}", f"{u.name}口袋公园", "pocket_park", b, 2016, u.id, 25.0))
    # the 2025 park: on the free land nearest to the old-town community farthest from any park
    # (the gap the health check of 2023 and 2024 points at)
    old = [u for u in communities if u.character == "old_town"]
    taken = {p.community_id for p in parks}
    free = [(uid, b) for uid, sites in small.items() if uid not in taken for b in sites]
    if old and free:
        centres = [p.centre for p in parks if p.kind != "square"]

        def gap(u: Unit) -> float:
            return min((math.dist(u.centre, c) for c in centres), default=math.inf)

        worst = max(old, key=lambda u: (gap(u), u.id))
        uid, b = min(free, key=lambda s: (math.dist(worst.centre, ((s[1][0] + s[1][2]) / 2, (s[1][1] + s[1][3]) / 2)), s[0]))
        parks.append(_park(f"PK-NEW-{uid}", "老城新公园", "park", b, 2025, uid, 40.0))
    return [p for p in parks if p.opened <= year]


def _park(pid: str, name: str, kind: str, b: tuple[float, float, float, float], opened: int, uid: str, visitors: float) -> _Park:
    x0, y0, x1, y1 = b
    return _Park(pid, name, kind, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), opened, uid, visitors)


# --- POIs ------------------------------------------------------------------------------------------
_FACILITY_TYPES = ("primary_school", "kindergarten", "fire_station", "clinic", "elderly_care", "market", "toilet")
#: What an unnamed facility of the model is called on the map (after its community's name).
_FACILITY_ZH = {"primary_school": "小学", "kindergarten": "幼儿园", "fire_station": "消防救援站", "clinic": "卫生服务站",
                "elderly_care": "居家养老服务照料中心", "market": "农贸市场", "toilet": "公厕"}


def _pois(layout: DistrictLayout, plans: list[BuildingPlan], parks: list[_Park], year: int,
          all_plans: list[BuildingPlan] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # public buildings: one POI per facility and community (the school's wing is not a second school)
    best: dict[tuple[str, str], BuildingPlan] = {}
    for p in plans:
        if p.facility in _FACILITY_TYPES:
            key = (p.community_id, p.facility)
            if key not in best or p.footprint_area_m2 > best[key].footprint_area_m2:
                best[key] = p
    # the newest fire station (of the last district that has one, when there are two or more)
    # enters service in 2025: until then part of the district lies beyond 5 minutes
    stations = sorted(p.district_id for (_, f), p in best.items() if f == "fire_station")
    newest_station = stations[-1] if len(stations) > 1 else None
    for (_, facility), p in sorted(best.items()):
        if facility == "fire_station" and p.district_id == newest_station and year < 2025:
            continue
        name = p.name or f"{layout.unit(p.community_id).name.removesuffix('社区')}{_FACILITY_ZH.get(facility, '')}"
        row: dict[str, Any] = {"id": f"POI-{p.id}", "name": name, "type": facility, "building_id": p.id,
                               "opened": p.year_built, "_xy": p.centroid}
        if facility == "elderly_care":
            row["capacity"] = 60
        rows.append(row)
    # schools and kindergartens of the catchments the model's public buildings leave out
    everyone = all_plans if all_plans is not None else plans
    for facility, radius, label in (("primary_school", 500.0, "小学"), ("kindergarten", 300.0, "幼儿园")):
        have = [p.centroid for (_, f), p in best.items() if f == facility]
        for site in _catchment_sites(layout, everyone, parks, have, facility, radius):
            if site.opened > year:
                continue
            rows.append({"id": f"{'PS' if facility == 'primary_school' else 'KG'}-{site.key}", "name": f"{site.name}{label}",
                         "type": facility, "building_id": site.building_id, "opened": site.opened, "_xy": site.xy})
    # community elderly-care stations (社区养老服务站) in the ground floor of a dwelling
    rng = layout.random_for("care-stations")
    homes_by_unit: dict[str, list[BuildingPlan]] = {}
    for p in plans:
        if p.residential:
            homes_by_unit.setdefault(p.community_id, []).append(p)
    for u in layout.communities:
        r = rng.random()
        pick = rng.random()
        opened = 2018 if r < 0.3 else (2024 if r < 0.4 else (2025 if r < 0.55 else None))
        homes = homes_by_unit.get(u.id)
        if opened is None or opened > year or not homes:
            continue
        h = homes[int(pick * len(homes))]
        rows.append({"id": f"CARE-{u.id}", "name": f"{u.name.removesuffix('社区')}社区养老服务站", "type": "elderly_care", "building_id": h.id,
                     "capacity": 20, "opened": opened, "_xy": h.centroid})
    # nursing homes: one per county and district group, beds by county; 延平区 gains one in 2025
    elderly_by_county: dict[str, float] = {}
    for p in plans:
        if p.residential:
            u = layout.unit(p.community_id)
            elderly_by_county[u.county] = elderly_by_county.get(u.county, 0.0) + _residents(p, u) * _ELDERLY_SHARE[u.character]
    for county, elderly in sorted(elderly_by_county.items()):
        districts = [d for d in layout.districts if d.county == county]
        # Jianyang is short of nursing-type beds every year; Yanping until its new home opens
        per_1000, share = (12.0, 0.45) if county == "建阳区" else (16.0, 0.6)
        beds_total = elderly * per_1000 / 1000.0 / share
        care_homes: list[tuple[Unit, int, float]] = [(districts[0], 2010, 1.0)]
        if county != "建阳区":
            care_homes.append((districts[-1], 2025, 0.6))
        for k, (d, since, factor) in enumerate(care_homes):
            if since > year:
                continue
            beds = max(10, round(beds_total * factor))
            x0, y0, x1, y1 = d.bbox
            rows.append({"id": f"NH-{d.id}-{k + 1}", "name": f"{county}{'第二' if k else ''}社会福利中心", "type": "nursing_home",
                         "beds": beds, "nursing_beds": round(beds * share), "opened": since,
                         "_xy": (x0 + (x1 - x0) * (0.3 + 0.4 * k), y0 + (y1 - y0) * 0.62)})
    # street toilets on primary and secondary roads, some added in 2024 and 2025
    rng = layout.random_for("street-toilets")
    for road in layout.roads:
        if road.road_class not in ("primary", "secondary"):
            continue
        n = max(1, int(road.length_m // 900))
        for k in range(n):
            r = rng.random()
            opened = 2015 if r < 0.3 else (2024 if r < 0.5 else (2025 if r < 0.7 else None))
            if opened is None or opened > year:
                continue
            # behind the sidewalk on the block side, where a street toilet stands
            x, y = _along(road.coords, (k + 0.5) / n)
            x2, y2 = _along(road.coords, min(1.0, (k + 0.5) / n + 0.01))
            dx, dy = x2 - x, y2 - y
            norm = math.hypot(dx, dy) or 1.0
            off = 0.5 * road.width_m + road.sidewalk_width_m + 4.0
            rows.append({"id": f"WC-{road.id}-{k + 1}", "name": f"{road.name}公厕", "type": "toilet", "opened": opened,
                         "_xy": (x - dy / norm * off, y + dx / norm * off)})
    rows.sort(key=lambda r: r["id"])
    return rows


@dataclass(frozen=True)
class _Site:
    """A school or kindergarten placed by :func:`_catchment_sites`."""

    key: str
    name: str
    xy: tuple[float, float]
    building_id: str | None
    opened: int


#: What happens to the catchments that no school of the model reaches, in turn: most have an
#: older school in a building of another use, some get one in 2024 or 2025, some never (the gap
#: the check keeps pointing at).
_CATCHMENT_OUTCOMES = {
    "primary_school": (1995, 2025, None, 1995, 1995, 2024),
    "kindergarten": (2008, 2024, 2008, None, 2025, 2008, 2008),
}


def _catchment_sites(layout: DistrictLayout, plans: list[BuildingPlan], parks: list[_Park], have: list[tuple[float, float]],
                     facility: str, radius: float) -> list[_Site]:
    """Facilities of ``facility`` for the catchments (square cells of 1.6 × ``radius``) whose homes
    no facility of ``have`` reaches, decided once for all years.

    Each catchment's facility stands on the non-residential building nearest to the centre of its
    homes that is no park's, else (kindergartens only: 配套幼儿园 in an estate) on the nearest
    dwelling; a catchment with neither stays without.
    """
    homes = [p for p in plans if p.residential]
    if not homes:
        return []
    cell = 1.6 * radius
    x0, y0, _, _ = layout.bounds
    by_cell: dict[tuple[int, int], list[BuildingPlan]] = {}
    for p in homes:
        cx, cy = p.centroid
        by_cell.setdefault((int((cx - x0) // cell), int((cy - y0) // cell)), []).append(p)
    # hosts stand in every epoch (a school opened in 1995 is not in a house built in 2024) and
    # not inside a park
    park_boxes = [(min(q[0] for q in k.ring), min(q[1] for q in k.ring), max(q[0] for q in k.ring), max(q[1] for q in k.ring))
                  for k in parks]
    hosts = [p for p in plans if p.demolished_year is None and p.year_built < 2023
             and not any(b[0] <= p.centroid[0] <= b[2] and b[1] <= p.centroid[1] <= b[3] for b in park_boxes)]
    others = [p for p in hosts if not p.residential and p.facility not in ("fire_station", "toilet")]
    others_xy = np.array([p.centroid for p in others]) if others else np.zeros((0, 2))
    host_ids = {p.id for p in hosts}
    have_xy = np.array(have) if have else np.zeros((0, 2))
    rng = layout.random_for("catchments", facility)
    outcomes = _CATCHMENT_OUTCOMES[facility]
    start = rng.randrange(len(outcomes))
    out: list[_Site] = []
    k = 0
    for (i, j), members in sorted(by_cell.items()):
        centre = (sum(p.centroid[0] for p in members) / len(members), sum(p.centroid[1] for p in members) / len(members))
        if len(have_xy) and float(np.min(np.hypot(have_xy[:, 0] - centre[0], have_xy[:, 1] - centre[1]))) <= radius:
            continue
        opened = outcomes[(start + k) % len(outcomes)]
        k += 1
        if opened is None:
            continue
        near = np.hypot(others_xy[:, 0] - centre[0], others_xy[:, 1] - centre[1]) <= 0.8 * radius
        candidates = [others[q] for q in np.nonzero(near)[0]]
        if not candidates and facility == "kindergarten":
            candidates = [p for p in members if p.id in host_ids]
        if not candidates:
            continue
        host = min(candidates, key=lambda p: (math.dist(p.centroid, centre), p.id))
        name = layout.unit(host.community_id).name.removesuffix("社区")
        out.append(_Site(f"{i:02d}{j:02d}", name, host.centroid, host.id, opened))
    return out


def _along(coords: Sequence[tuple[float, float]], t: float) -> tuple[float, float]:
    """The point at fraction ``t`` of a polyline's length."""
    lengths = [math.dist(a, b) for a, b in itertools.pairwise(coords)]
    target = t * sum(lengths)
    for (a, b), seg in zip(itertools.pairwise(coords), lengths, strict=True):
        if target <= seg and seg > 0:
            f = target / seg
            return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
        target -= seg
    return coords[-1]


# --- population ------------------------------------------------------------------------------------
def _residents(p: BuildingPlan, u: Unit) -> float:
    return p.dwelling_units * _PERSONS_PER_DWELLING[u.character]


def _population(layout: DistrictLayout, plans: list[BuildingPlan], year: int) -> list[tuple[str, int, int]]:
    out = []
    for p in plans:
        if not p.residential:
            continue
        u = layout.unit(p.community_id)
        rng = layout.random_for("population", p.id, year)
        residents = max(1, round(_residents(p, u) * rng.uniform(0.85, 1.05)))
        share = _ELDERLY_SHARE[u.character] * (1.3 if p.year_built < 1990 else 1.0) * rng.uniform(0.8, 1.2)
        out.append((p.id, residents, min(residents, round(residents * share))))
    return out


def _write_population(path: Path, rows: list[tuple[str, int, int]]) -> None:
    _write_csv(path, ("building_id", "residents", "elderly"), rows)


# --- street view -----------------------------------------------------------------------------------
_GREENED_2025 = 0.3  # share of low-green roads greened in 2025
_CLASSES = ("green", "sky", "building", "road", "sidewalk", "vehicle", "person")


def _streetview(layout: DistrictLayout, year: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for road in layout.roads_in(year):
        base = layout.random_for("streetview-road", road.id)
        u0 = base.random()
        # old-town alleys and some arterials have almost no trees; estates' roads are green
        if road.road_class == "alley":
            green = 0.03 + 0.05 * u0
        elif road.road_class == "primary":
            green = 0.08 + 0.3 * u0
        else:
            green = 0.12 + 0.3 * u0
        if year >= 2025 and green < 0.2 and base.random() < _GREENED_2025 / 0.4:
            green += 0.15  # street trees planted in the 2025 greening campaign
        side = road.sidewalk_width_m
        rel = 2 * side / (road.width_m + 2 * side) if road.width_m + 2 * side > 0 else 0.0
        length = road.length_m
        n = max(1, int(length // 60))
        for k in range(n):
            rng = layout.random_for("streetview", road.id, k, year)
            t = (k + 0.5) / n
            x, y = _along(road.coords, t)
            x2, y2 = _along(road.coords, min(1.0, t + 0.01))
            heading = (math.degrees(math.atan2(x2 - x, y2 - y)) + 360.0) % 360.0
            g = float(np.clip(green + rng.gauss(0, 0.04), 0.0, 0.8))
            pave = rng.uniform(0.25, 0.4)
            sw = pave * rel * rng.uniform(0.8, 1.2)
            rd = pave - sw
            sky = rng.uniform(0.1, 0.3) if road.road_class != "alley" else rng.uniform(0.03, 0.1)
            veh = rng.uniform(0.0, 0.06)
            per = rng.uniform(0.0, 0.03)
            bld = rng.uniform(0.1, 0.5) if road.road_class != "alley" else rng.uniform(0.4, 0.7)
            parts = np.array([g, sky, bld, rd, sw, veh, per])
            parts = parts / parts.sum()  # class fractions of one photo add up to 1
            row = {"id": f"SV-{road.id}-{k + 1:03d}", "road_id": road.id, "heading_deg": round(heading, 1),
                   "taken_at": f"{year}-0{5 + k % 4}-{10 + k % 18:02d}T10:{k % 60:02d}:00+08:00",
                   **{name: round(float(v), 4) for name, v in zip(_CLASSES, parts, strict=True)}, "_xy": (x, y)}
            rows.append(row)
    return rows


def _write_streetview(layout: DistrictLayout, folder: Path, year: int) -> None:
    rows = _streetview(layout, year)
    # a few samples come as photos only (no segmentation): the excess-green fallback reads them
    photos = folder / "photos"
    picked = rows[:: max(1, len(rows) // 4)][:4]
    if picked:
        photos.mkdir(exist_ok=True)
    for row in picked:
        name = f"{row['id']}.png"
        _write_photo(photos / name, row["green"], row["sky"])
        row["photo"] = f"photos/{name}"
        for key in _CLASSES:
            row[key] = None
    _write_points(layout, folder / "streetview.geojson", "streetview", rows)


def _write_photo(path: Path, green: float, sky: float) -> None:
    """A small synthetic street photo: sky band on top, vegetation share ``green``, grey rest."""
    from PIL import Image

    h, w = 48, 64
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:] = (118, 118, 122)  # facades and asphalt
    sky_rows = round(sky * h)
    img[:sky_rows] = (170, 200, 235)
    green_cols = round(green * h * w / max(h - sky_rows, 1))
    img[sky_rows:, : min(w, green_cols)] = (58, 132, 46)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=True)
    atomic_write_bytes(path, buf.getvalue())


# --- heat map --------------------------------------------------------------------------------------
_RESIDENT_HOURS = np.array([1.0] * 7 + [0.7, 0.5] + [0.35] * 8 + [0.6, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0])
_WORK_HOURS = np.array([0.0] * 7 + [0.3, 0.8] + [1.0] * 9 + [0.5, 0.2, 0.1, 0.0, 0.0, 0.0])
_PARK_HOURS = np.array([0.0] * 6 + [0.6, 0.7, 0.5, 0.5, 0.6, 0.5, 0.4, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0, 1.0, 0.8, 0.4, 0.1, 0.0])
_MARKET_HOURS = np.array([0.0] * 6 + [0.8, 1.0, 0.9, 0.6, 0.5, 0.6, 0.5, 0.4, 0.4, 0.5, 0.8, 1.0, 1.0, 0.9, 0.5, 0.2, 0.0, 0.0])


def _write_heatmap(layout: DistrictLayout, path: Path, plans: list[BuildingPlan], residents: list[tuple[str, int, int]],
                   parks: list[_Park], pois: list[dict[str, Any]], year: int) -> None:
    x0, y0, x1, y1 = layout.bounds
    nx = max(1, math.ceil((x1 - x0) / CELL_M))
    ny = max(1, math.ceil((y1 - y0) / CELL_M))
    grid = np.zeros((nx * ny, 24))

    def cell(x: float, y: float) -> int:
        i = min(nx - 1, max(0, int((x - x0) // CELL_M)))
        j = min(ny - 1, max(0, int((y - y0) // CELL_M)))
        return j * nx + i

    res_of = {bid: r for bid, r, _ in residents}
    for p in plans:
        c = cell(*p.centroid)
        if p.residential:
            grid[c] += res_of.get(p.id, 0) * _RESIDENT_HOURS
        else:
            workers = p.gross_floor_area_m2 / 25.0
            grid[c] += workers * (_MARKET_HOURS if p.facility in ("market", "commercial") else _WORK_HOURS)
            if p.facility in ("market", "commercial"):
                grid[c] += workers * 2.0 * _MARKET_HOURS  # shoppers
    for park in parks:
        ha = park.area_m2 / 10000.0
        grid[cell(*park.centre)] += park.visitors * max(ha, 0.15) * 10.0 * _PARK_HOURS
    rng = layout.random_for("heatmap", year)
    noise = np.array([rng.uniform(0.9, 1.1) for _ in range(nx * ny)])
    grid *= noise[:, None]
    rows = []
    for c in np.nonzero(grid.sum(axis=1) > 0)[0]:
        i, j = int(c % nx), int(c // nx)
        x, y = x0 + (i + 0.5) * CELL_M, y0 + (j + 0.5) * CELL_M
        for h in range(24):
            v = grid[c, h]
            if v > 0:
                rows.append((f"{x:.1f}", f"{y:.1f}", int(CELL_M), h, f"{v:.1f}"))
    _write_csv(path, ("x", "y", "cell_m", "hour", "density"), rows)


# --- waterlogging ----------------------------------------------------------------------------------
def _waterlogging(layout: DistrictLayout, year: int) -> list[dict[str, Any]]:
    """Incidents from 2021 up to ``year`` at sites chosen once: recurring low spots, spots fixed by
    the 2024 drainage works, spots that appear in 2025, and one-off shallow ponding."""
    layout.random_for("waterlogging-sites")
    roads = [r for r in layout.roads if r.road_class in ("primary", "secondary", "branch") and r.opened_year is None]
    n_sites = max(4, len(layout.districts) * 2)
    # lowest ground first: the river plain floods
    candidates = []
    for r in roads:
        for t in (0.25, 0.5, 0.75):
            x, y = _along(r.coords, t)
            candidates.append((layout.ground_z(x, y), r.id, x, y))
    candidates.sort()
    sites = []
    for k, (_, road_id, x, y) in enumerate(candidates[: n_sites * 3 : 3]):
        kind = ("recurring", "fixed_2024", "recurring", "new_2025")[k % 4]
        sites.append((f"WL{k + 1:02d}", kind, road_id, x, y))
    rows: list[dict[str, Any]] = []
    for sid, kind, road_id, x, y in sites:
        for yr in range(FIRST_INCIDENT_YEAR, year + 1):
            if kind == "fixed_2024" and yr >= 2024:
                continue  # drainage works finished before the 2024 rainy season
            if kind == "new_2025" and yr < 2025:
                continue
            ev = layout.random_for("waterlogging", sid, yr)
            for e in range(1 if kind != "recurring" else ev.randint(1, 3)):
                rows.append({
                    "id": f"{sid}-{yr}-{e + 1}", "date": f"{yr}-{ev.randint(5, 8):02d}-{ev.randint(1, 28):02d}",
                    "depth_cm": round(ev.uniform(20, 55) if kind == "recurring" else ev.uniform(16, 35), 1),
                    "duration_h": round(ev.uniform(0.5, 6.0), 1), "road_id": road_id,
                    "_xy": (x + ev.uniform(-20, 20), y + ev.uniform(-20, 20)),
                })
    # shallow ponding reported once (below the 15 cm of GB 51222): not a waterlogging point
    ev = layout.random_for("waterlogging-shallow", year)
    for e in range(2):
        r = roads[int(ev.random() * len(roads))]
        x, y = _along(r.coords, ev.random())
        rows.append({"id": f"WS-{year}-{e + 1}", "date": f"{year}-06-{ev.randint(1, 28):02d}", "depth_cm": round(ev.uniform(5, 12), 1),
                     "duration_h": 0.5, "road_id": r.id, "_xy": (x, y)})
    return rows


def _write_waterlogging(layout: DistrictLayout, path: Path, year: int) -> None:
    # one file with the whole history up to ``year``: generate() writes the years in order, so
    # the file ends with the newest year's history; a check reads only what happened before its
    # period ends
    rows = _waterlogging(layout, year)
    coords = _lonlat(layout, [r.pop("_xy") for r in rows])
    features = [{"type": "Feature", "id": r["id"], "properties": r, "geometry": {"type": "Point", "coordinates": list(c)}}
                for r, c in zip(rows, coords, strict=True)]
    write_json(path, {"type": "FeatureCollection", "name": "waterlogging", "features": features}, pretty=False)


# --- reports ---------------------------------------------------------------------------------------
_SURVEY = (
    ("房屋安全", "墙体开裂，雨天渗水"),
    ("房屋安全", "木结构屋架霉变，楼板下沉"),
    ("燃气安全", "瓶装液化气放在厨房木地板上"),
    ("消防安全", "楼道堆放杂物，电动车在室内充电"),
    ("设施老化", "排水管老化堵塞，化粪池外溢"),
    ("适老化", "老人独居，无扶手，如厕困难"),
)
_PUBLIC = (
    ("停车", "小区门口占道停车严重，消防通道被堵"),
    ("环境卫生", "垃圾收集点清运不及时，有异味"),
    ("积水", "下雨后路口积水，行人无法通过"),
    ("噪音", "夜间施工噪音扰民"),
    ("路灯", "路灯不亮，夜间出行不安全"),
    ("公共空间", "附近没有可以休息活动的地方"),
)


def _write_reports(layout: DistrictLayout, path: Path, plans: list[BuildingPlan], year: int) -> None:
    rows: list[dict[str, Any]] = []
    old = [p for p in plans if p.residential and p.year_built < 1990]
    danger = [p for p in old if p.danger_level_in(year) in ("C", "D")]
    ev = layout.random_for("reports", year)
    n_survey = max(3, len(old) // 25)
    # grid workers visit the dangerous houses first, then other old ones
    danger_ids = {p.id for p in danger}
    pool = danger + [p for p in old if p.id not in danger_ids]
    for k, p in enumerate(pool[:n_survey]):
        dangerous = p.danger_level_in(year) in ("C", "D")
        cat, text = _SURVEY[k % 2] if dangerous else _SURVEY[2 + int(ev.random() * (len(_SURVEY) - 2))]
        x, y = p.centroid
        rows.append({"id": f"SV{year}-{k + 1:04d}", "time": f"{year}-{ev.randint(3, 10):02d}-{ev.randint(1, 28):02d}T{ev.randint(9, 17):02d}:00:00+08:00",
                     "category": cat, "text": text, "source": "survey", "building_id": p.id,
                     "photo": f"photos/survey_{year}_{k + 1:04d}.jpg" if ev.random() < 0.3 else None,
                     "_xy": (x + ev.uniform(-2, 2), y + ev.uniform(-2, 2))})
    n_public = max(3, len(plans) // 120)
    roads = layout.roads_in(year)
    for k in range(n_public):
        cat, text = _PUBLIC[int(ev.random() * len(_PUBLIC))]
        r = roads[int(ev.random() * len(roads))]
        x, y = _along(r.coords, ev.random())
        rows.append({"id": f"GZ{year}-{k + 1:04d}", "time": f"{year}-{ev.randint(1, 12):02d}-{ev.randint(1, 28):02d}T{ev.randint(7, 22):02d}:{ev.randint(0, 59):02d}:00+08:00",
                     "category": cat, "text": text, "source": "public", "photo": None,
                     "_xy": (x + ev.uniform(-8, 8), y + ev.uniform(-8, 8))})
    _write_points(layout, path, "reports", rows)
