"""The deterministic layout of the example district: districts -> blocks -> communities -> plots.

A :class:`DistrictLayout` is the plan of a Nanping-like city district in EPSG:4548 (CGCS2000
3-degree Gauss-Kruger, central meridian 117E; the district sits around 118.17E 26.64N). It holds the
spatial units and the road network in memory (a few thousand small records even for a million
buildings) and *streams* the buildings: :meth:`DistrictLayout.iter_buildings` regenerates each
community's plots from its own seeded random stream, so any number of buildings costs constant
memory and the same ``(buildings, seed)`` always gives the same plan.

Geometry of the plan
--------------------
Districts sit on a spiral around the old town: district 0 (``D01``) at the centre, then its
neighbours. Each district is 2 x 2 blocks, each block 2 x 2 communities; a community is one cell of
a global grid whose column widths and row heights vary (so the grid is regular in topology but not
in measure). Between cells run the roads: a *primary* road between districts, a *secondary* road
between blocks, a *branch* road between the communities of a block. Old-town communities are cut
by narrow *alleys* (2.5-4.5 m) lined with low gabled houses.

Community characters (:attr:`Unit.character`):

``old_town``
    dense one- to three-storey houses, mostly built before 1990, brick-wood, gabled roofs; some
    protected, some dangerous (danger level C/D), some illegal rooftop additions.
``mixed``
    five- to seven-storey walk-up slabs of 1980-2008 and shop-houses along the road.
``new``
    high-rise residential towers (11-32 storeys, 33-98 m) of 2005-2022; towers above 80 m were
    built after 2018.
``townhouse``
    low-rise estates of two- to four-storey villas built 2003-2020.
``public``
    a campus of public buildings: school, kindergarten, clinic, fire station (one per district),
    elderly-care centre, market, offices.

Epochs
------
Every plan has a life: :attr:`BuildingPlan.year_built` and an optional
:attr:`BuildingPlan.demolished_year`. In the event years :data:`EVENT_YEARS` (2024, 2025) a few
dangerous old houses are demolished and rebuilt on the same plot (new id), a few illegal or
dangerous buildings are demolished while a new building goes up on a vacant plot of the same
community, and some dangerous buildings are renovated (:meth:`BuildingPlan.danger_level_in`
improves). Demolitions and new builds are paired per community, so every year from 2023 on holds
exactly ``buildings`` buildings; earlier years lack the buildings not yet built. Some roads change
too (:meth:`Road.in_year`): alleys widened, sidewalks added.

Codes
-----
``function`` / ``usage`` use the CityGML 2.0 SIG3D building function code list for dwellings and
commercial buildings (:data:`FUNCTION_CODES`); the codes of public buildings follow the same
numbering (3000s). Residential codes are 1000 (residential building) and 1080 (residential and
commercial building, shop-houses), both in
:data:`cim_twin.indicators.api.RESIDENTIAL_FUNCTION_CODES`.

Examples
--------
>>> layout = build_layout(buildings=500, seed=1)
>>> sum(1 for _ in layout.iter_buildings(2025))
500
>>> layout.communities[0].id
'D01-B01-C01'
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal, NamedTuple

__all__ = [
    "CRS",
    "EVENT_YEARS",
    "FUNCTION_CODES",
    "ORIGIN",
    "BuildingPlan",
    "DistrictLayout",
    "Road",
    "Unit",
    "build_layout",
]

#: The CRS of every coordinate of the layout (x east, y north, metres).
CRS = "EPSG:4548"
#: Where the old town's south-west corner sits (EPSG:4548): 118.17E 26.64N, Nanping.
ORIGIN = (616500.0, 2948275.0)
#: Years in which buildings are demolished, built and renovated (see the module docstring).
EVENT_YEARS = (2024, 2025)
#: Epochs a generated project holds by default.
DEFAULT_YEARS = (2023, 2024, 2025)

#: ``function`` code -> (English, Chinese) name. 1000-1170: CityGML 2.0 SIG3D BuildingFunctionType.
FUNCTION_CODES: dict[str, tuple[str, str]] = {
    "1000": ("residential building", "住宅"),
    "1080": ("residential and commercial building", "商住楼"),
    "1120": ("office building", "办公楼"),
    "1150": ("business building", "商业建筑"),
    "1170": ("shopping centre", "购物中心"),
    "3010": ("administration building", "行政办公"),
    "3021": ("school", "学校"),
    "3065": ("kindergarten", "幼儿园"),
    "3051": ("clinic", "卫生服务中心"),
    "3066": ("elderly care", "养老服务"),
    "3072": ("fire station", "消防站"),
    "3080": ("market hall", "农贸市场"),
    "3090": ("public toilet", "公共厕所"),
}

Character = Literal["old_town", "mixed", "new", "townhouse", "public"]
Level = Literal["district", "block", "community"]
RoadClass = Literal["primary", "secondary", "branch", "alley"]
XY = tuple[float, float]

# --- names ------------------------------------------------------------------------------------------
_COUNTIES = ("延平区", "建阳区")
_DISTRICT_NAMES = (
    "延平老城区", "江南新城", "水南片区", "建阳城区", "梅山片区", "西芹片区", "大横片区", "炉下片区",
    "来舟片区", "樟湖片区", "王台片区", "太平片区",
)
_BLOCK_NAMES = (
    "中山街区", "梅山街区", "黄墩街区", "四鹤街区", "紫云街区", "水东街区", "玉屏街区", "滨江街区",
    "府前街区", "东门街区", "西门街区", "南门街区", "北门街区", "解放街区", "胜利街区", "八一街区",
)
_COMMUNITY_NAMES = (
    "府前", "中山", "八一", "解放", "胜利", "滨江", "玉屏", "梅山", "黄墩", "紫云", "水东", "水南",
    "东坑", "西门", "南门", "北门", "金山", "东岭", "九峰", "龙山", "剑津", "溪源", "朝阳", "新村",
    "塔下", "芹山", "茶园", "杨真", "凤池", "后谷", "安济", "双溪",
)
_PRIMARY_NAMES = ("滨江路", "八一路", "人民路", "延平路", "江南大道", "解放路", "建设大道", "新建路")
_SECONDARY_NAMES = ("中山路", "府前路", "五一路", "胜利街", "梅山路", "玉屏路", "水南路", "东门路",
                    "西门路", "北门路", "紫云路", "黄墩路")
_BRANCH_NAMES = ("文化街", "朝阳街", "青云街", "大同街", "剑津街", "书院街", "龙山街", "和平街",
                 "仓前街", "塔前街", "溪口街", "花园街", "铁井街", "武庙街", "学前街", "三元街")
_ALLEY_NAMES = ("铁井巷", "东坊巷", "杨柳巷", "南阳巷", "水井巷", "竹林巷", "桂花巷", "学宫巷",
                "米仓巷", "天后巷", "油坊巷", "石板巷", "青石巷", "打铁巷", "糖坊巷", "豆腐巷")
_SCHOOL_NAMES = ("实验小学", "第二实验小学", "剑津小学", "滨江小学", "水南小学", "梅山小学")


def _stable_random(seed: int, *keys: object) -> random.Random:
    """A random stream that depends only on ``seed`` and ``keys`` (independent of call order)."""
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _unit_value(seed: int, *keys: object) -> float:
    """A deterministic number in [0, 1) for ``(seed, keys)``."""
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _ring_area(ring: Sequence[XY]) -> float:
    """Signed area of an open ring (positive when counter-clockwise)."""
    n = len(ring)
    return 0.5 * sum(ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1] for i in range(n))


# --- records -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Unit:
    """A spatial unit of the health check: a district (城区), block (街区) or community (社区).

    ``polygon`` is an open counter-clockwise ring in EPSG:4548. ``parent_id`` is the block of a
    community and the district of a block (None for a district). ``character`` is the community's
    character (see the module docstring); blocks and districts take their majority's.
    ``n_buildings`` is the number of buildings of the unit in every year from 2023 on.
    """

    id: str
    name: str
    level: Level
    parent_id: str | None
    district_id: str
    county: str
    polygon: tuple[XY, ...]
    character: Character
    n_buildings: int

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.polygon]
        ys = [p[1] for p in self.polygon]
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def area_m2(self) -> float:
        return abs(_ring_area(self.polygon))

    @property
    def centre(self) -> XY:
        x0, y0, x1, y1 = self.bbox
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True, slots=True)
class Road:
    """A road centreline (EPSG:4548) with its cross-section.

    ``width_m`` is kerb to kerb, ``sidewalk_width_m`` one side's sidewalk (0 when there is none).
    Some roads change in an event year: from ``changed_year`` on the road has ``width_after_m`` and
    ``sidewalk_after_m``; :meth:`in_year` gives the road as it is in a given year. Roads with an
    ``opened_year`` do not exist before it (the branch roads of the newer district are completed
    in the last event year, so its road network density is short of the target until then).
    """

    id: str
    name: str
    road_class: RoadClass
    width_m: float
    sidewalk_width_m: float
    lanes: int
    coords: tuple[XY, ...]
    district_id: str
    community_id: str | None = None
    changed_year: int | None = None
    width_after_m: float | None = None
    sidewalk_after_m: float | None = None
    opened_year: int | None = None

    def open_in(self, year: int) -> bool:
        return self.opened_year is None or year >= self.opened_year

    def in_year(self, year: int) -> Road:
        """The road as it is in ``year`` (widths after a change applied)."""
        if self.changed_year is None or year < self.changed_year:
            return self
        return replace(
            self,
            width_m=self.width_after_m if self.width_after_m is not None else self.width_m,
            sidewalk_width_m=self.sidewalk_after_m if self.sidewalk_after_m is not None else self.sidewalk_width_m,
        )

    @property
    def length_m(self) -> float:
        return sum(math.dist(a, b) for a, b in zip(self.coords, self.coords[1:], strict=False))


@dataclass(frozen=True, slots=True)
class BuildingPlan:
    """One building of the plan (every attribute the CityGML writer puts on it).

    ``footprint`` is an open counter-clockwise ring in EPSG:4548; ``ground_z`` the ground elevation
    (m); ``height_m`` the measured height from ground to the highest point; ``eaves_m`` the eaves
    height above ground of a gabled roof (equal to ``height_m`` for flat roofs). ``roof`` is
    ``"flat"`` or ``"gabled"``; a gabled roof's ridge runs along the first footprint edge.
    ``danger_level`` is the Chinese dangerous-building grade (A safe .. D dangerous) when built or
    last surveyed before ``renovated_year``; from ``renovated_year`` on it is ``danger_after``.
    ``facility`` names what a public building is (``primary_school``, ``kindergarten``,
    ``fire_station``, ``clinic``, ``elderly_care``, ``market``, ``office``, ``toilet``,
    ``commercial``), None for dwellings.
    """

    id: str
    community_id: str
    block_id: str
    district_id: str
    county: str
    footprint: tuple[XY, ...]
    ground_z: float
    height_m: float
    eaves_m: float
    storeys: int
    roof: Literal["flat", "gabled"]
    function: str
    usage: str
    year_built: int
    structure: str
    danger_level: str
    protected: bool
    illegal: bool
    street: str
    house_number: str
    dwelling_units: int
    name: str | None = None
    facility: str | None = None
    demolished_year: int | None = None
    renovated_year: int | None = None
    danger_after: str | None = None
    replaces: str | None = None

    def alive_in(self, year: int) -> bool:
        """True when the building stands in ``year`` (built, and not yet demolished)."""
        return self.year_built <= year and (self.demolished_year is None or year < self.demolished_year)

    def danger_level_in(self, year: int) -> str:
        """The danger grade in ``year`` (after a renovation the improved grade)."""
        if self.renovated_year is not None and year >= self.renovated_year and self.danger_after:
            return self.danger_after
        return self.danger_level

    @property
    def residential(self) -> bool:
        return self.function in ("1000", "1080")

    @property
    def footprint_area_m2(self) -> float:
        return abs(_ring_area(self.footprint))

    @property
    def gross_floor_area_m2(self) -> float:
        return self.footprint_area_m2 * self.storeys

    @property
    def centroid(self) -> XY:
        n = len(self.footprint)
        return sum(p[0] for p in self.footprint) / n, sum(p[1] for p in self.footprint) / n


class _Slot(NamedTuple):
    """A plot inside a community: where a building may stand and which template it takes."""

    cx: float
    cy: float
    width: float  # along the ridge / long axis
    depth: float
    angle: float  # radians, of the long axis from east
    template: str
    street: str
    shape: str = "rect"  # rect | ell


@dataclass(frozen=True, slots=True)
class _CommunityCell:
    index: int  # global order of filling
    district_index: int
    block_in_district: int  # 0..3
    community_in_block: int  # 0..3
    x0: float
    y0: float
    x1: float
    y1: float
    character: Character
    south_street: str
    west_street: str
    fire_station: bool = False


# --- the layout --------------------------------------------------------------------------------------
# Filling order inside a district: block by block, and the characters of the four communities of each
# block. District 0 is the old town; the others are newer. Every block mixes characters so that even a
# small district has old houses, high-rises and public buildings.
_OLD_TOWN_BLOCKS: tuple[tuple[Character, ...], ...] = (
    ("old_town", "new", "public", "mixed"),
    ("old_town", "townhouse", "mixed", "new"),
    ("mixed", "old_town", "new", "townhouse"),
    ("new", "old_town", "mixed", "townhouse"),
)
# Newer districts keep one urban village (an old-town community) among their estates.
_NEW_TOWN_BLOCKS: tuple[tuple[Character, ...], ...] = (
    ("new", "mixed", "public", "townhouse"),
    ("mixed", "new", "old_town", "new"),
    ("new", "public", "townhouse", "mixed"),
    ("townhouse", "new", "new", "mixed"),
)
_BLOCK_OFFSETS = ((0, 0), (1, 0), (0, 1), (1, 1))  # block (or community) position in its 2 x 2 parent

_CELL_M = 225.0  # nominal community cell size
_CELL_JITTER_M = 50.0
_ROAD_SPECS: dict[str, tuple[float, float, float, float, int]] = {
    # class: (width min, width max, sidewalk min, sidewalk max, lanes)
    "primary": (30.0, 40.0, 4.0, 5.5, 6),
    "secondary": (18.0, 24.0, 2.5, 4.0, 4),
    "branch": (8.0, 12.0, 0.0, 2.5, 2),
}


def _spiral(n: int) -> list[tuple[int, int]]:
    """The first ``n`` positions of a square spiral around (0, 0)."""
    out = [(0, 0)]
    x = y = 0
    step = 1
    while len(out) < n:
        for dx, dy, count in ((1, 0, step), (0, 1, step), (-1, 0, step + 1), (0, -1, step + 1)):
            for _ in range(count):
                x, y = x + dx, y + dy
                out.append((x, y))
        step += 2
    return out[:n]


class DistrictLayout:
    """The plan of the example district for ``(buildings, seed)``; see the module docstring.

    Build it with :func:`build_layout`. Attributes: ``seed``, ``buildings`` (count in every year
    from 2023 on), ``crs`` (``"EPSG:4548"``), ``districts`` / ``blocks`` / ``communities``
    (lists of :class:`Unit`), ``roads`` (list of :class:`Road`, as built in the earliest year).
    """

    crs = CRS

    def __init__(self, buildings: int, seed: int) -> None:
        if buildings < 1:
            raise ValueError("buildings must be at least 1")
        self.seed = int(seed)
        self.buildings = int(buildings)
        self._extent_cache: dict[str, dict[int, tuple[float, float]]] = {}
        self._cells: list[_CommunityCell] = []
        self._counts: list[int] = []
        self._plan_cells()
        self.districts: list[Unit] = []
        self.blocks: list[Unit] = []
        self.communities: list[Unit] = []
        self._build_units()
        self.roads: list[Road] = []
        self._build_roads()

    # --- public API ----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<DistrictLayout buildings={self.buildings} seed={self.seed} districts={len(self.districts)} "
            f"communities={len(self.communities)} roads={len(self.roads)}>"
        )

    @property
    def units(self) -> list[Unit]:
        """All spatial units: districts, then blocks, then communities."""
        return [*self.districts, *self.blocks, *self.communities]

    @cached_property
    def _unit_by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.units}

    def unit(self, unit_id: str) -> Unit:
        """The unit with id ``unit_id`` (KeyError when there is none)."""
        return self._unit_by_id[unit_id]

    def iter_buildings(self, year: int | None = None) -> Iterator[BuildingPlan]:
        """Stream the buildings standing in ``year`` (every plan of any year when None), community
        by community, in a stable order. Constant memory: one community's plots at a time."""
        for cell, count, unit in zip(self._cells, self._counts, self.communities, strict=True):
            for plan in self._community_plans(cell, count, unit):
                if year is None or plan.alive_in(year):
                    yield plan

    def count_buildings(self, year: int) -> int:
        """Number of buildings standing in ``year`` (streams the plan once)."""
        return sum(1 for _ in self.iter_buildings(year))

    def roads_in(self, year: int) -> list[Road]:
        """The road network as it is in ``year`` (roads not yet opened left out)."""
        return [road.in_year(year) for road in self.roads if road.open_in(year)]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(min_x, min_y, max_x, max_y)`` of all units and roads (EPSG:4548)."""
        xs = [p[0] for u in self.districts for p in u.polygon] + [p[0] for r in self.roads for p in r.coords]
        ys = [p[1] for u in self.districts for p in u.polygon] + [p[1] for r in self.roads for p in r.coords]
        return min(xs), min(ys), max(xs), max(ys)

    def ground_z(self, x: float, y: float) -> float:
        """Terrain elevation (m) at ``(x, y)``: the river plain around 95 m rising gently to the
        hills north and east of the old town."""
        dx, dy = x - ORIGIN[0], y - ORIGIN[1]
        return 92.0 + 0.004 * dx + 0.006 * dy + 3.0 * math.sin(dx / 700.0) * math.cos(dy / 900.0)

    @property
    def height_range(self) -> tuple[float, float]:
        """Lowest ground and highest roof the plan can have (for envelopes written before streaming)."""
        x0, y0, x1, y1 = self.bounds
        zs = [self.ground_z(x, y) for x in (x0, x1, (x0 + x1) / 2) for y in (y0, y1, (y0 + y1) / 2)]
        return min(zs) - 6.0, max(zs) + 6.0 + 100.0

    def to_wgs84(self, coords: Sequence[XY]) -> list[tuple[float, float]]:
        """Coordinates as (lon, lat) in EPSG:4326, rounded to 1e-7 degree (about 1 cm)."""
        from ..crs import transformer

        t = transformer(CRS, "EPSG:4326")
        xs, ys = t.transform([p[0] for p in coords], [p[1] for p in coords])
        return [(round(float(lon), 7), round(float(lat), 7)) for lon, lat in zip(xs, ys, strict=True)]

    def random_for(self, *keys: object) -> random.Random:
        """A random stream for ``keys`` that depends only on the seed (for auxiliary layers, e.g.
        ``layout.random_for("poi", 2025)``)."""
        return _stable_random(self.seed, *keys)

    # --- the grid ------------------------------------------------------------------------------------
    def _column_width(self, col: int) -> float:
        return _CELL_M + _CELL_JITTER_M * (_unit_value(self.seed, "col", col) - 0.5)

    def _row_height(self, row: int) -> float:
        return _CELL_M + _CELL_JITTER_M * (_unit_value(self.seed, "row", row) - 0.5)

    @staticmethod
    def _gap_class(index: int) -> str:
        """Class of the road after grid column/row ``index`` (before ``index + 1``)."""
        if (index + 1) % 4 == 0:
            return "primary"
        if (index + 1) % 2 == 0:
            return "secondary"
        return "branch"

    def _gap_spec(self, axis: str, index: int) -> tuple[str, float, float, int]:
        """(class, width kerb to kerb, sidewalk width, lanes) of the road after column/row ``index``."""
        cls = self._gap_class(index)
        wmin, wmax, smin, smax, lanes = _ROAD_SPECS[cls]
        u = _unit_value(self.seed, "gap", axis, index)
        width = round(wmin + (wmax - wmin) * u, 1)
        sidewalk = round(smin + (smax - smin) * _unit_value(self.seed, "sidewalk", axis, index), 1)
        return cls, width, sidewalk, lanes

    def _gap_total(self, axis: str, index: int) -> float:
        _, width, sidewalk, _ = self._gap_spec(axis, index)
        return width + 2 * sidewalk

    def _extent(self, axis: str, index: int) -> tuple[float, float]:
        """(start, end) of grid column (``axis="x"``) or row (``"y"``) ``index``; index 0 starts at
        the origin. Positions are accumulated once and cached, so any index costs O(1) amortised."""
        cache = self._extent_cache.setdefault(axis, {})
        if index in cache:
            return cache[index]
        size = self._column_width if axis == "x" else self._row_height
        if not cache:
            start = ORIGIN[0] if axis == "x" else ORIGIN[1]
            cache[0] = (start, start + size(0))
        hi, lo = max(cache), min(cache)
        while index > hi:
            start = cache[hi][1] + self._gap_total(axis, hi)
            hi += 1
            cache[hi] = (start, start + size(hi))
        while index < lo:
            end = cache[lo][0] - self._gap_total(axis, lo - 1)
            lo -= 1
            cache[lo] = (end - size(lo), end)
        return cache[index]

    def _edges(self, axis: str, lo: int, hi: int) -> dict[int, tuple[float, float]]:
        """Cell extents ``{index: (start, end)}`` for grid indices ``lo..hi`` along ``axis``."""
        return {i: self._extent(axis, i) for i in range(lo, hi + 1)}

    def _road_name(self, axis: str, index: int) -> str:
        cls = self._gap_class(index)
        names = {"primary": _PRIMARY_NAMES, "secondary": _SECONDARY_NAMES, "branch": _BRANCH_NAMES}[cls]
        # Roads keep their name across districts: the name follows the grid line.
        name = names[(index // 2 + (3 if axis == "y" else 0)) % len(names)]
        return name if axis == "x" or cls != "branch" else name.replace("街", "路")

    # --- planning ------------------------------------------------------------------------------------
    def _plan_cells(self) -> None:
        """Decide the communities (cells, characters) and how many buildings each holds."""
        remaining = self.buildings
        district = 0
        positions: list[tuple[int, int]] = []
        stations: set[int] = set()  # districts that have their fire station
        while remaining > 0:
            if district >= len(positions):
                positions = _spiral(max(8, 2 * len(positions) + 1))
            di, dj = positions[district]
            blocks = _OLD_TOWN_BLOCKS if district == 0 else _NEW_TOWN_BLOCKS
            rng = _stable_random(self.seed, "district-order", district)
            for b, (bi, bj) in enumerate(_BLOCK_OFFSETS):
                characters = blocks[(b + (rng.randrange(4) if district else 0)) % 4]
                for c, (ci, cj) in enumerate(_BLOCK_OFFSETS):
                    if remaining <= 0:
                        break
                    col, row = 4 * di + 2 * bi + ci, 4 * dj + 2 * bj + cj
                    xs = self._extent("x", col)
                    ys = self._extent("y", row)
                    cell = _CommunityCell(
                        index=len(self._cells),
                        district_index=district,
                        block_in_district=b,
                        community_in_block=c,
                        x0=xs[0], y0=ys[0], x1=xs[1], y1=ys[1],
                        character=characters[c],
                        south_street=self._road_name("y", row - 1),
                        west_street=self._road_name("x", col - 1),
                        fire_station=characters[c] == "public" and district not in stations,
                    )
                    if cell.fire_station:
                        stations.add(district)
                    capacity = len(self._slots(cell))
                    # Leave some plots vacant (open space, future building land).
                    fill = 0.88 if cell.character in ("old_town", "mixed", "townhouse") else 0.8
                    count = min(remaining, max(1, int(capacity * fill)))
                    self._cells.append(cell)
                    self._counts.append(count)
                    remaining -= count
            district += 1
        self._district_positions = positions[:district]
        self._district_at = {pos: d for d, pos in enumerate(self._district_positions)}

    def _build_units(self) -> None:
        n_districts = len(self._district_positions)
        for d in range(n_districts):
            did = f"D{d + 1:02d}"
            county = _COUNTIES[0] if d % 4 != 3 else _COUNTIES[1]
            cells = [(c, n) for c, n in zip(self._cells, self._counts, strict=True) if c.district_index == d]
            block_units: list[Unit] = []
            for b in range(4):
                bcells = [(c, n) for c, n in cells if c.block_in_district == b]
                if not bcells:
                    continue
                bid = f"{did}-B{b + 1:02d}"
                for c, n in bcells:
                    cid = f"{bid}-C{c.community_in_block + 1:02d}"
                    name = _COMMUNITY_NAMES[c.index % len(_COMMUNITY_NAMES)]
                    suffix = "" if c.index < len(_COMMUNITY_NAMES) else str(c.index // len(_COMMUNITY_NAMES) + 1)
                    self.communities.append(
                        Unit(
                            id=cid, name=f"{name}{suffix}社区", level="community", parent_id=bid,
                            district_id=did, county=county,
                            polygon=((c.x0, c.y0), (c.x1, c.y0), (c.x1, c.y1), (c.x0, c.y1)),
                            character=c.character, n_buildings=n,
                        )
                    )
                block_units.append(
                    Unit(
                        id=bid,
                        name=_BLOCK_NAMES[(4 * d + b) % len(_BLOCK_NAMES)]
                        + ("" if 4 * d + b < len(_BLOCK_NAMES) else str((4 * d + b) // len(_BLOCK_NAMES) + 1)),
                        level="block", parent_id=did, district_id=did, county=county,
                        polygon=_bbox_ring([(c.x0, c.y0, c.x1, c.y1) for c, _ in bcells]),
                        character=_majority([c.character for c, _ in bcells]),
                        n_buildings=sum(n for _, n in bcells),
                    )
                )
            self.blocks.extend(block_units)
            self.districts.append(
                Unit(
                    id=did,
                    name=_DISTRICT_NAMES[d % len(_DISTRICT_NAMES)]
                    + ("" if d < len(_DISTRICT_NAMES) else str(d // len(_DISTRICT_NAMES) + 1)),
                    level="district", parent_id=None, district_id=did, county=county,
                    polygon=_bbox_ring([(c.x0, c.y0, c.x1, c.y1) for c, _ in cells]),
                    character=_majority([c.character for c, _ in cells]),
                    n_buildings=sum(n for _, n in cells),
                )
            )

    def _build_roads(self) -> None:
        """The grid roads around and between the communities, then the old-town alleys."""
        occupied = {(c.district_index) for c in self._cells}
        cols = [4 * self._district_positions[d][0] + k for d in occupied for k in range(4)]
        rows = [4 * self._district_positions[d][1] + k for d in occupied for k in range(4)]
        xe = self._edges("x", min(cols) - 1, max(cols) + 1)
        ye = self._edges("y", min(rows) - 1, max(rows) + 1)
        # A road segment runs along one side of one community cell; collect the grid edges that touch
        # an occupied cell, then merge collinear edges of the same grid line into one polyline.
        occupied_cells = set()
        for c in self._cells:
            di, dj = self._district_positions[c.district_index]
            bi, bj = _BLOCK_OFFSETS[c.block_in_district]
            ci, cj = _BLOCK_OFFSETS[c.community_in_block]
            occupied_cells.add((4 * di + 2 * bi + ci, 4 * dj + 2 * bj + cj))
        # Vertical lines: line after column i, spanning rows; a unit edge (i, j) exists when cell (i, j)
        # or (i + 1, j) is occupied.
        vertical: dict[int, list[int]] = {}
        horizontal: dict[int, list[int]] = {}
        for i, j in occupied_cells:
            for line in (i - 1, i):
                vertical.setdefault(line, []).append(j)
            for line in (j - 1, j):
                horizontal.setdefault(line, []).append(i)
        roads: list[Road] = []
        for axis, lines, along, across in (("x", vertical, ye, xe), ("y", horizontal, xe, ye)):
            for line in sorted(lines):
                spans = sorted(set(lines[line]))
                for run in _runs(spans):
                    pos = across[line][1] + self._gap_total(axis, line) / 2
                    stops: list[float] = []
                    for k in run:
                        lo, hi = along[k]
                        if not stops:
                            stops.append(lo - self._gap_total("y" if axis == "x" else "x", k - 1) / 2)
                        stops.append(hi + self._gap_total("y" if axis == "x" else "x", k) / 2)
                    coords = tuple((round(pos, 3), round(s, 3)) if axis == "x" else (round(s, 3), round(pos, 3))
                                   for s in stops)
                    cls, width, sidewalk, lanes = self._gap_spec(axis, line)
                    district_id = self._district_of_grid(axis, line, run[0])
                    rid = f"R{'V' if axis == 'x' else 'H'}{line:+04d}_{run[0]:+04d}"
                    change = _unit_value(self.seed, "road-change", rid)
                    changed_year = None
                    sidewalk_after = None
                    if cls == "branch" and sidewalk < 1.0 and change < 0.5:
                        # Street renewal: a narrow branch road gets a proper sidewalk.
                        changed_year = EVENT_YEARS[0] if change < 0.25 else EVENT_YEARS[1]
                        sidewalk_after = 2.0
                    # The newer districts' branch roads between communities are completed in the
                    # last event year: a road-density gap (新区路网加密) that the check finds and
                    # sees fixed.
                    opened_year = EVENT_YEARS[1] if cls == "branch" and district_id != "D01" else None
                    roads.append(
                        Road(
                            id=rid, name=self._road_name(axis, line), road_class=cls,  # type: ignore[arg-type]
                            width_m=width, sidewalk_width_m=sidewalk, lanes=lanes, coords=coords,
                            district_id=district_id, changed_year=changed_year,
                            sidewalk_after_m=sidewalk_after, opened_year=opened_year,
                        )
                    )
        for cell, unit in zip(self._cells, self.communities, strict=True):
            if cell.character == "old_town":
                roads.extend(self._alleys(cell, unit))
        self.roads = roads

    def _district_of_grid(self, axis: str, line: int, first: int) -> str:
        """The district of the cell just after (else just before) a grid line at its first cell."""
        for col, row in (((line + 1, first) if axis == "x" else (first, line + 1)),
                         ((line, first) if axis == "x" else (first, line))):
            d = self._district_at.get((col // 4, row // 4))
            if d is not None:
                return f"D{d + 1:02d}"
        return "D01"

    # --- plots ---------------------------------------------------------------------------------------
    def _old_town_frame(self, cell: _CommunityCell) -> tuple[float, float, float, float]:
        """(angle in radians, centre x, centre y, pad) of an old-town cell: its alleys run at an
        angle of up to 7 degrees to the grid, laid out in a frame ``pad`` metres larger on every side
        and then turned about the cell centre, so that the pattern still covers the whole cell."""
        angle = math.radians(14.0 * (_unit_value(self.seed, "old-town-angle", cell.index) - 0.5))
        pad = 0.13 * max(cell.x1 - cell.x0, cell.y1 - cell.y0)
        return angle, (cell.x0 + cell.x1) / 2, (cell.y0 + cell.y1) / 2, pad

    def _alley_rows(self, cell: _CommunityCell) -> list[tuple[float, float, str]]:
        """Old-town alleys of a cell in its unturned frame: (centre y, width, name), south to north."""
        rng = _stable_random(self.seed, "alleys", cell.index)
        _, _, _, pad = self._old_town_frame(cell)
        rows: list[tuple[float, float, str]] = []
        y = cell.y0 - pad
        k = 0
        while True:
            depth_s = rng.uniform(9.0, 12.0)
            width = round(rng.uniform(2.5, 4.5), 1)
            depth_n = rng.uniform(9.0, 12.0)
            if y + depth_s + width + depth_n + 2.0 > cell.y1 + pad:
                break
            name = _ALLEY_NAMES[(cell.index * 5 + k) % len(_ALLEY_NAMES)]
            rows.append((y + depth_s + 1.0 + width / 2, width, name))
            y += depth_s + width + depth_n + 2.0 + rng.uniform(1.0, 2.5)
            k += 1
        return rows

    def _alleys(self, cell: _CommunityCell, unit: Unit) -> list[Road]:
        angle, cx, cy, pad = self._old_town_frame(cell)
        c, s = math.cos(angle), math.sin(angle)
        out: list[Road] = []
        for yc, width, name in self._alley_rows(cell):
            rng = _stable_random(self.seed, "alley-shape", cell.index, round(yc, 3))
            # A slight bend in the middle: old alleys are never quite straight.
            xm = cx + rng.uniform(-20.0, 20.0)
            frame = ((cell.x0 - pad, yc), (xm, yc + rng.uniform(-0.6, 0.6)), (cell.x1 + pad, yc))
            turned = [(cx + c * (x - cx) - s * (y - cy), cy + s * (x - cx) + c * (y - cy)) for x, y in frame]
            coords = _clip_polyline(turned, (cell.x0, cell.y0, cell.x1, cell.y1))
            u = rng.random()
            if len(coords) < 2 or math.dist(coords[0], coords[-1]) < 30.0:
                continue
            widened = u < 0.2
            out.append(
                Road(
                    id=f"{unit.id}-A{len(out) + 1:02d}", name=name, road_class="alley", width_m=width,
                    sidewalk_width_m=0.0, lanes=1,
                    coords=tuple((round(x, 3), round(y, 3)) for x, y in coords),
                    district_id=unit.district_id, community_id=unit.id,
                    changed_year=(EVENT_YEARS[0] if u < 0.1 else EVENT_YEARS[1]) if widened else None,
                    width_after_m=round(width + 1.0, 1) if widened else None,
                )
            )
        return out

    def _slots(self, cell: _CommunityCell) -> list[_Slot]:
        """The plots of a community, in a stable order (the first ``count`` of them are built)."""
        rng = _stable_random(self.seed, "slots", cell.index)
        m = 6.0  # setback from the road reserve
        x0, y0, x1, y1 = cell.x0 + m, cell.y0 + m, cell.x1 - m, cell.y1 - m
        slots: list[_Slot] = []
        if cell.character == "old_town":
            angle, ox, oy, pad = self._old_town_frame(cell)
            c, s = math.cos(angle), math.sin(angle)
            inner = (cell.x0 + 2.0, cell.y0 + 2.0, cell.x1 - 2.0, cell.y1 - 2.0)
            for yc, width, name in self._alley_rows(cell):
                for side in (-1, 1):
                    x = cell.x0 - pad
                    while True:
                        w = rng.uniform(7.0, 12.0)
                        d = rng.uniform(7.5, 9.5)
                        if x + w > cell.x1 + pad:
                            break
                        # Houses front on the alley, 0.8-1.5 m back from its edge.
                        fy = yc + side * (width / 2 + rng.uniform(0.8, 1.5) + d / 2)
                        fx = x + w / 2
                        jitter = math.radians(rng.uniform(-2.0, 2.0))
                        open_court = rng.random() < 0.08  # a few courtyards stay open
                        x += w + rng.uniform(0.8, 2.5)
                        slot = _Slot(ox + c * (fx - ox) - s * (fy - oy), oy + s * (fx - ox) + c * (fy - oy),
                                     w, d, angle + jitter, "old", name)
                        if not open_court and _inside(_footprint(slot), inner):
                            slots.append(slot)
            return slots
        if cell.character == "mixed":
            # Shop-houses along the south road, then rows of walk-up slabs.
            x = x0
            while x + 14.0 < x1:
                w = rng.uniform(14.0, 24.0)
                if x + w > x1:
                    break
                slots.append(_Slot(x + w / 2, y0 + 7.0, w, 12.0, 0.0, "shophouse", cell.south_street))
                x += w + rng.uniform(3.0, 6.0)
            y = y0 + 26.0
            while y + 12.0 < y1:
                x = x0
                while True:
                    w = rng.uniform(32.0, 52.0)
                    if x + w > x1:
                        break
                    shape = "ell" if rng.random() < 0.15 else "rect"
                    slots.append(_Slot(x + w / 2, y + 6.0, w, 12.0, 0.0, "walkup", cell.west_street, shape))
                    x += w + rng.uniform(8.0, 14.0)
                y += rng.uniform(28.0, 34.0)
            return slots
        if cell.character == "new":
            # Ancillary low buildings first (club house, kindergarten, shops along the north edge), then
            # rows of towers from the south; the northernmost towers stay vacant when not needed.
            slots.append(_Slot(x0 + 12.0, y1 - 9.0, 22.0, 14.0, 0.0, "ancillary", cell.west_street))
            slots.append(_Slot(x1 - 14.0, y1 - 9.0, 24.0, 14.0, 0.0, "ancillary", cell.west_street))
            y = y0 + 4.0
            while y + 24.0 < y1 - 22.0:
                x = x0 + 4.0
                while True:
                    point_tower = rng.random() < 0.4
                    w = rng.uniform(24.0, 30.0) if point_tower else rng.uniform(36.0, 52.0)
                    d = rng.uniform(20.0, 24.0) if point_tower else rng.uniform(15.0, 19.0)
                    if x + w > x1:
                        break
                    slots.append(_Slot(x + w / 2, y + d / 2, w, d, 0.0, "tower", cell.south_street))
                    x += w + rng.uniform(14.0, 24.0)
                y += rng.uniform(58.0, 72.0)
            return slots
        if cell.character == "townhouse":
            y = y0 + 2.0
            while y + 13.0 < y1:
                x = x0 + 2.0
                while True:
                    w, d = rng.uniform(12.0, 16.0), rng.uniform(10.0, 13.0)
                    if x + w > x1:
                        break
                    slots.append(_Slot(x + w / 2, y + d / 2, w, d, 0.0, "villa", cell.south_street))
                    x += w + rng.uniform(6.0, 9.0)
                y += rng.uniform(22.0, 26.0)
            return slots
        # Public campus: a grid of 3 x 3 sites, filled in order of priority (the last stay vacant
        # when the community is not full).
        templates = ["school_main", "kindergarten", "clinic", "elderly_care", "toilet", "school_wing",
                     "market", "office", "commercial"]
        if cell.fire_station:
            templates.insert(0, "fire_station")
        sx, sy = (x1 - x0) / 3, (y1 - y0) / 3
        for site, t in enumerate(templates[:9]):
            i, j = site % 3, site // 3
            cx, cy = x0 + (i + 0.5) * sx, y0 + (j + 0.5) * sy
            if t == "fire_station":
                # The station with its training tower beside it.
                slots.append(_Slot(cx - 10.0, cy, 36.0, 18.0, 0.0, "fire_station", cell.south_street))
                slots.append(_Slot(cx + 18.0, cy + 16.0, 6.0, 6.0, 0.0, "fire_tower", cell.south_street))
            elif t == "toilet":
                slots.append(_Slot(cx, cy, 9.0, 6.0, 0.0, "toilet", cell.west_street))
            else:
                w = min(sx - 14.0, rng.uniform(30.0, 56.0))
                d = min(sy - 30.0, rng.uniform(14.0, 20.0))
                shape = "ell" if t in ("school_main", "office") else "rect"
                slots.append(_Slot(cx, cy - 7.0 if shape == "ell" else cy, w, d, 0.0, t, cell.west_street, shape))
        return slots

    def _community_plans(self, cell: _CommunityCell, count: int, unit: Unit) -> Iterator[BuildingPlan]:
        """Every plan of one community (all years), in a stable order."""
        slots = self._slots(cell)
        rng = _stable_random(self.seed, "buildings", cell.index)
        events = _stable_random(self.seed, "events", cell.index)
        numbers: dict[str, int] = {}
        built = slots[:count]
        vacant = slots[count:]
        plans: list[BuildingPlan] = []
        for k, slot in enumerate(built):
            numbers[slot.street] = numbers.get(slot.street, 0) + 1
            plans.append(self._make_plan(unit, cell, slot, f"BLDG_{unit.id}_{k + 1:04d}", rng, numbers[slot.street]))
        # Events: pair every demolition with a new building in the same community and year, so the
        # count stays the same from year to year.
        out: list[BuildingPlan] = []
        extra: list[BuildingPlan] = []
        vacant_iter = iter(vacant)
        for plan, slot in zip(plans, built, strict=True):
            u = events.random()
            year = EVENT_YEARS[0] if events.random() < 0.5 else EVENT_YEARS[1]
            if plan.danger_level in ("C", "D") and not plan.protected and u < 0.10:
                # Dangerous house demolished and rebuilt on the same plot.
                out.append(replace(plan, demolished_year=year))
                new = self._make_plan(unit, cell, slot, f"{plan.id}_R{year}", rng, int(plan.house_number),
                                      year_built=year)
                extra.append(replace(new, replaces=plan.id))
                continue
            if (plan.illegal or plan.danger_level == "D") and u < 0.25:
                new_slot = next(vacant_iter, None)
                if new_slot is not None:
                    out.append(replace(plan, demolished_year=year))
                    numbers[new_slot.street] = numbers.get(new_slot.street, 0) + 1
                    extra.append(
                        self._make_plan(unit, cell, new_slot, f"BLDG_{unit.id}_N{year}_{len(extra) + 1:03d}", rng,
                                        numbers[new_slot.street], year_built=year)
                    )
                    continue
            if plan.danger_level in ("C", "D") and u < 0.45:
                # Renovated: structure strengthened, grade improves.
                out.append(replace(plan, renovated_year=year, danger_after="B" if plan.danger_level == "D" else "A"))
                continue
            out.append(plan)
        yield from out
        yield from extra

    def _make_plan(
        self,
        unit: Unit,
        cell: _CommunityCell,
        slot: _Slot,
        bid: str,
        rng: random.Random,
        number: int,
        *,
        year_built: int | None = None,
    ) -> BuildingPlan:
        """Heights, years and attributes of one building on ``slot`` (``year_built`` for new builds)."""
        t = slot.template
        new_build = year_built is not None
        roof: Literal["flat", "gabled"] = "flat"
        function = "1000"
        facility: str | None = None
        name: str | None = None
        protected = illegal = False
        danger = "A"
        if t == "old":
            if year_built is not None:
                year, storeys = year_built, rng.choice((2, 3, 3, 4))
                structure = "frame"
            else:
                r = rng.random()
                year = rng.randint(1950, 1989) if r < 0.62 else rng.randint(1990, 2012)
                storeys = rng.choice((1, 2, 2, 2, 3)) if year < 1990 else rng.choice((3, 4, 4, 5, 6))
                structure = ("brick_wood" if rng.random() < 0.65 else "brick_concrete") if year < 1980 else "brick_concrete"
                danger = _danger(rng, year)
                protected = year < 1965 and rng.random() < 0.35
                illegal = year >= 1985 and rng.random() < 0.08
            roof = "gabled" if (year < 1995 and not new_build) or rng.random() < 0.3 else "flat"
            storey_h = rng.uniform(3.0, 3.4)
            if rng.random() < 0.12 and not new_build:
                function = "1080"
        elif t == "shophouse":
            year = year_built or rng.randint(1982, 2008)
            storeys, storey_h, structure = rng.choice((3, 4, 5, 6)), 3.3, "brick_concrete"
            function = "1080"
            danger = "A" if new_build else _danger(rng, year)
            illegal = not new_build and rng.random() < 0.05
        elif t == "walkup":
            year = year_built or rng.randint(1980, 2008)
            storeys, storey_h = rng.choice((5, 6, 6, 7)), 2.9
            structure = "brick_concrete" if year < 2000 else "frame"
            danger = "A" if new_build else _danger(rng, year)
            # 平改坡: some walk-ups got a pitched roof on top.
            roof = "gabled" if slot.shape == "rect" and rng.random() < 0.25 else "flat"
            illegal = not new_build and rng.random() < 0.04
        elif t == "tower":
            storeys = rng.choice((11, 18, 18, 24, 26, 28, 30, 32))
            if year_built is not None:
                year = year_built
            elif storeys >= 27:
                year = rng.randint(2018, 2022)
            else:
                year = rng.randint(2005, 2022)
            storey_h, structure = 3.0, "shear_wall"
        elif t == "villa":
            year = year_built or rng.randint(2003, 2020)
            storeys, storey_h, structure = rng.choice((2, 3, 3, 4)), 3.2, "frame"
            roof = "gabled" if rng.random() < 0.6 else "flat"
        elif t == "ancillary":
            year = year_built or rng.randint(2005, 2022)
            storeys, storey_h, structure = rng.choice((2, 3)), 4.0, "frame"
            function, facility = ("1150", "commercial") if rng.random() < 0.5 else ("3065", "kindergarten")
        else:
            year = year_built or rng.randint(1975, 2020)
            structure = "frame"
            storey_h = 3.8
            spec = {
                "school_main": ("3021", "primary_school", (4, 5)),
                "school_wing": ("3021", "primary_school", (3, 4)),
                "school_gym": ("3021", "primary_school", (1, 2)),
                "kindergarten": ("3065", "kindergarten", (2, 3)),
                "clinic": ("3051", "clinic", (3, 4, 5)),
                "elderly_care": ("3066", "elderly_care", (3, 4)),
                "market": ("3080", "market", (1, 2)),
                "office": ("1120", "office", (8, 12, 16, 20)),
                "commercial": ("1170", "commercial", (3, 4, 5)),
                "fire_station": ("3072", "fire_station", (3,)),
                "fire_tower": ("3072", "fire_station", (6,)),
                "toilet": ("3090", "toilet", (1,)),
            }[t]
            function, facility = spec[0], spec[1]
            storeys = rng.choice(spec[2])
            if t == "toilet":
                storey_h = 3.2
            danger = "A" if year >= 1995 or new_build else _danger(rng, year)
            if facility == "primary_school":
                name = f"{unit.county}{_SCHOOL_NAMES[cell.index % len(_SCHOOL_NAMES)]}"
            elif facility == "fire_station":
                name = f"{unit.county}{_COMMUNITY_NAMES[cell.index % len(_COMMUNITY_NAMES)]}消防救援站"
            elif facility == "clinic":
                name = f"{unit.name}卫生服务站"
            elif facility == "elderly_care":
                name = f"{unit.name}居家养老服务照料中心"
            elif facility == "market":
                name = f"{unit.name}农贸市场"
            elif facility == "kindergarten":
                name = f"{unit.name}幼儿园"
            elif facility == "toilet":
                name = f"{unit.name}公厕"
        eaves = round(storeys * storey_h + (0.0 if roof == "gabled" else rng.uniform(0.3, 1.5)), 2)
        depth = slot.depth
        ridge = round(rng.uniform(0.28, 0.45) * depth, 2) if roof == "gabled" else 0.0
        height = round(eaves + ridge, 2)
        footprint = _footprint(slot)
        cx, cy = slot.cx, slot.cy
        ground = round(self.ground_z(cx, cy), 2)
        dwellings = 0
        if function in ("1000", "1080"):
            area = abs(_ring_area(footprint))
            per_unit = 60.0 if year < 1990 else 90.0 if year < 2010 else 110.0
            dwellings = max(1, int(area * storeys * 0.8 / per_unit))
        return BuildingPlan(
            id=bid, community_id=unit.id, block_id=unit.parent_id or "", district_id=unit.district_id,
            county=unit.county, footprint=footprint, ground_z=ground, height_m=height, eaves_m=eaves,
            storeys=storeys, roof=roof, function=function, usage=function, year_built=year,
            structure=structure, danger_level=danger, protected=protected, illegal=illegal,
            street=slot.street, house_number=str(number), dwelling_units=dwellings, name=name,
            facility=facility,
        )


# --- helpers -------------------------------------------------------------------------------------------
def _danger(rng: random.Random, year: int) -> str:
    """A danger grade (A-D) that worsens with age."""
    r = rng.random()
    if year < 1970:
        return "A" if r < 0.25 else "B" if r < 0.60 else "C" if r < 0.88 else "D"
    if year < 1990:
        return "A" if r < 0.45 else "B" if r < 0.80 else "C" if r < 0.96 else "D"
    return "A" if r < 0.80 else "B" if r < 0.97 else "C"


def _footprint(slot: _Slot) -> tuple[XY, ...]:
    """The counter-clockwise footprint ring of a slot (rectangle or L-shape), rotated by its angle."""
    hw, hd = slot.width / 2, slot.depth / 2
    if slot.shape == "ell":
        # An L: the full width along the south, a wing going north on the west end.
        wing = min(slot.width * 0.4, 16.0)
        local = [(-hw, -hd), (hw, -hd), (hw, hd), (-hw + wing, hd), (-hw + wing, hd + 14.0), (-hw, hd + 14.0)]
    else:
        local = [(-hw, -hd), (hw, -hd), (hw, hd), (-hw, hd)]
    c, s = math.cos(slot.angle), math.sin(slot.angle)
    return tuple((round(slot.cx + c * x - s * y, 3), round(slot.cy + s * x + c * y, 3)) for x, y in local)


def _inside(ring: Sequence[XY], box: tuple[float, float, float, float]) -> bool:
    return all(box[0] <= x <= box[2] and box[1] <= y <= box[3] for x, y in ring)


def _clip_polyline(points: Sequence[XY], box: tuple[float, float, float, float]) -> list[XY]:
    """The part of a polyline inside an axis-aligned box (Liang-Barsky per segment; the pieces of an
    almost straight line join into one)."""
    out: list[XY] = []
    for (ax, ay), (bx, by) in itertools.pairwise(points):
        dx, dy = bx - ax, by - ay
        t0, t1 = 0.0, 1.0
        for p, q in ((-dx, ax - box[0]), (dx, box[2] - ax), (-dy, ay - box[1]), (dy, box[3] - ay)):
            if p == 0:
                if q < 0:
                    t0, t1 = 1.0, 0.0
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
        if t0 >= t1:
            continue
        start, end = (ax + t0 * dx, ay + t0 * dy), (ax + t1 * dx, ay + t1 * dy)
        if not out or math.dist(out[-1], start) > 1e-6:
            out.append(start)
        out.append(end)
    return out


def _bbox_ring(boxes: Sequence[tuple[float, float, float, float]]) -> tuple[XY, ...]:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _majority(values: Sequence[Character]) -> Character:
    return max(sorted(set(values)), key=values.count)


def _runs(values: Sequence[int]) -> list[list[int]]:
    """Consecutive runs of sorted integers: [1, 2, 3, 7, 8] -> [[1, 2, 3], [7, 8]]."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return runs


def build_layout(buildings: int = 2000, seed: int = 1) -> DistrictLayout:
    """The plan of the example district with ``buildings`` buildings (in every year from 2023 on).

    Parameters
    ----------
    buildings
        number of buildings, 1 to a few million.
    seed
        any integer; the same ``(buildings, seed)`` always gives the same plan.

    Raises
    ------
    ValueError
        when ``buildings`` is below 1.
    """
    return DistrictLayout(buildings, seed)
