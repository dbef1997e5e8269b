"""Shared spatial work of the first-party indicators.

Everything here is vectorised: one numpy pass over the buildings builds a :class:`BuildingTable`
(cached per check context, so the fourteen indicators share it), spatial joins go through shapely
``STRtree`` bulk queries or scipy ``cKDTree``, and the road network is one sparse graph searched
with ``scipy.sparse.csgraph.dijkstra``.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cim_twin.errors import ConfigError
from cim_twin.indicators.api import AuxLayer, CheckContext, Indicator, is_residential
from cim_twin.model import ProblemPoint
from cim_twin.scene import SurfaceType
from cim_twin.scene.objects import DEFAULT_STOREY_HEIGHT_M

if TYPE_CHECKING:
    from cim_twin.scene import CityObject

__all__ = [
    "BuildingTable",
    "RoadNetwork",
    "SharedTableIndicator",
    "building_table",
    "facility_points",
    "fmt_m",
    "fmt_m_zh",
    "ground_z_at",
    "group_index",
    "in_unit",
    "nearest_within",
    "road_network",
    "unit_label",
    "unit_position",
]

#: Floor area per resident used when no population layer gives residents by building (m²). The
#: national average living space per urban resident is about 36 m² (7th census, 2020).
DEFAULT_M2_PER_RESIDENT = 36.0
#: Share of residents aged 60+ used when the population layer gives no ``elderly`` column
#: (Nanping, 7th census 2020: about 20 %).
DEFAULT_ELDERLY_SHARE = 0.2


def fmt_m(value: float) -> str:
    """A distance for messages: ``"312 m"``, ``"2,036 m"``, ``"12.4 km"``."""
    if not np.isfinite(value):
        return "∞"
    return f"{value / 1000:.1f} km" if value >= 10000 else f"{value:,.0f} m"


def fmt_m_zh(value: float) -> str:
    """A distance for Chinese messages: ``"312米"``, ``"2036米"``, ``"12.4公里"``."""
    if not np.isfinite(value):
        return "∞"
    return f"{value / 1000:.1f}公里" if value >= 10000 else f"{value:.0f}米"


@dataclass
class BuildingTable:
    """The buildings alive in the run's period as column arrays (one row per building).

    Attributes
    ----------
    objects: the :class:`~cim_twin.scene.CityObject` of each row.
    ids: gml:ids (object array).
    xy: ``(n, 2)`` footprint bounding-box centres in scene CRS.
    ground_z, roof_z, height_m: elevations and height (NaN when unknown).
    footprint_m2, floor_area_m2, storeys: areas (floor area = footprint × storeys).
    residential: dwelling or not (function/usage codes, see ``is_residential``).
    year_built: year of construction (NaN when unknown).
    community, block, district: unit id containing each building (None outside every unit).
    residents, elderly: from the population layer (joined by ``building_id``), else estimated
        from the residential floor area; ``population_estimated`` says which.
    """

    objects: list[CityObject]
    ids: np.ndarray
    xy: np.ndarray
    ground_z: np.ndarray
    roof_z: np.ndarray
    height_m: np.ndarray
    footprint_m2: np.ndarray
    floor_area_m2: np.ndarray
    storeys: np.ndarray
    residential: np.ndarray
    year_built: np.ndarray
    community: np.ndarray
    block: np.ndarray
    district: np.ndarray
    residents: np.ndarray
    elderly: np.ndarray
    population_estimated: bool
    _footprint_triangles: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _kdtree: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.objects)

    def units(self, level: str) -> np.ndarray:
        """Unit ids of ``level`` per building."""
        if level not in ("community", "block", "district"):
            raise ValueError(f"no building column for level {level!r}")
        return getattr(self, level)

    def footprint_triangles(self) -> tuple[np.ndarray, np.ndarray]:
        """Footprints as triangles: ``(polygons, building_row)``.

        The ground-surface triangles of each building (the roof triangles seen from above when a
        model has no ground surfaces), as one shapely polygon array made in a single call. Rays
        and points meet a footprint exactly where they meet one of its triangles, and no per
        building union is needed (the expensive part of a footprint on 100k buildings).
        """
        with self._lock:
            if self._footprint_triangles is None:
                import shapely

                # all meshes joined once (Python touches each building, numpy each triangle)
                meshes = [obj.mesh() for obj in self.objects]
                counts = np.array([m.n_triangles for m in meshes], dtype=np.int64)
                if not counts.sum():
                    self._footprint_triangles = (np.array([], dtype=object), np.zeros(0, np.int64))
                    return self._footprint_triangles
                corners = np.concatenate([m.vertices[m.triangles][:, :, :2] for m in meshes if m.n_triangles])
                semantics = np.concatenate([m.semantics for m in meshes if m.n_triangles])
                rows = np.repeat(np.arange(len(meshes)), counts)
                a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
                area = 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
                is_ground = semantics == SurfaceType.GROUND
                has_ground = np.bincount(rows[is_ground], minlength=len(meshes)) > 0
                keep = (np.abs(area) > 1e-6) & (is_ground | ~has_ground[rows])
                tri = corners[keep]
                polys = shapely.polygons(np.concatenate([tri, tri[:, :1]], axis=1))
                self._footprint_triangles = (polys, rows[keep])
            return self._footprint_triangles

    @property
    def kdtree(self) -> Any:
        """scipy cKDTree over :attr:`xy` (built on first use)."""
        with self._lock:
            if self._kdtree is None:
                from scipy.spatial import cKDTree

                self._kdtree = cKDTree(self.xy if len(self.xy) else np.zeros((0, 2)))
            return self._kdtree

    def roof_position(self, i: int) -> tuple[float, float, float]:
        """Where a problem on building row ``i`` is pinned: its centre at roof height."""
        z = self.roof_z[i]
        return float(self.xy[i, 0]), float(self.xy[i, 1]), float(z) if np.isfinite(z) else 0.0


# Each indicator gets a shallow copy of the run's context, so caches hang on the scene (shared by
# the copies) and are keyed by the period and the layers the context carries.
_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], dict[str, Any]]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.RLock()


def _cache_of(ctx: CheckContext) -> dict[str, Any]:
    per_scene = _CACHE.setdefault(ctx.scene, {})
    return per_scene.setdefault((ctx.period.label, id(ctx.layers)), {})


def building_table(ctx: CheckContext) -> BuildingTable:
    """The :class:`BuildingTable` of a check context (built once, shared by all indicators)."""
    with _CACHE_LOCK:
        cache = _cache_of(ctx)
        if "buildings" not in cache:
            cache["buildings"] = _build_table(ctx)
        return cache["buildings"]


class SharedTableIndicator(Indicator):
    """An indicator that reads the shared :class:`BuildingTable`: the runner builds it once in
    :meth:`prepare`, before the indicators run in their own processes."""

    def prepare(self, ctx: CheckContext) -> None:
        building_table(ctx)


def _geometry_columns(objects: list[CityObject]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, ground_area)`` of every object's mesh in one numpy pass: bounding boxes and the
    projected area of the ground-surface triangles (NaN for objects without ground surfaces)."""
    n = len(objects)
    meshes = [obj.mesh() for obj in objects]
    nv = np.array([len(m.vertices) for m in meshes], dtype=np.int64)
    nt = np.array([m.n_triangles for m in meshes], dtype=np.int64)
    lo = np.full((n, 3), np.nan)
    hi = np.full((n, 3), np.nan)
    area = np.full(n, np.nan)
    has = nv > 0
    if not has.any():
        return lo, hi, area
    verts = np.concatenate([m.vertices for m in meshes if len(m.vertices)])
    starts = np.concatenate([[0], np.cumsum(nv[has])[:-1]])
    lo[has] = np.minimum.reduceat(verts, starts, axis=0)
    hi[has] = np.maximum.reduceat(verts, starts, axis=0)
    if nt.sum():
        corners = np.concatenate([m.vertices[m.triangles][:, :, :2] for m in meshes if m.n_triangles])
        semantics = np.concatenate([m.semantics for m in meshes if m.n_triangles])
        rows = np.repeat(np.arange(n), nt)
        ground = semantics == SurfaceType.GROUND
        a, b, c = corners[ground, 0], corners[ground, 1], corners[ground, 2]
        tri_area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
        with_ground = np.bincount(rows[ground], minlength=n) > 0
        area[with_ground] = np.bincount(rows[ground], weights=tri_area, minlength=n)[with_ground]
    return lo, hi, area


def _build_table(ctx: CheckContext) -> BuildingTable:
    objects = [b for b in ctx.buildings() if b.has_geometry]
    n = len(objects)
    lo, hi, ground_area = _geometry_columns(objects)
    height = np.full(n, np.nan)
    storeys = np.full(n, np.nan)
    year = np.full(n, np.nan)
    residential = np.zeros(n, dtype=bool)
    community_attr = np.full(n, None, dtype=object)
    fp_area = ground_area.copy()
    for i, obj in enumerate(objects):
        # the same rules as CityObject.height_m / storeys / footprint_area_m2, without
        # recomputing the geometry each of them reads
        measured = obj.number("measuredHeight")
        height[i] = measured if measured is not None and measured > 0 else hi[i, 2] - lo[i, 2]
        stated = obj.number("storeysAboveGround")
        if stated is not None and stated > 0:
            storeys[i] = int(stated)
        elif height[i] > 0:
            storeys[i] = max(1, round(height[i] / DEFAULT_STOREY_HEIGHT_M))
        if not np.isfinite(fp_area[i]):
            a = obj.footprint_area_m2  # no ground surface: the footprint seen from above
            fp_area[i] = np.nan if a is None else a
        y = obj.year_built
        year[i] = np.nan if y is None else y
        residential[i] = is_residential(obj)
        community_attr[i] = obj.get("community_id")
    xy = (lo[:, :2] + hi[:, :2]) / 2.0 if n else np.zeros((0, 2))
    floor = fp_area * np.where(np.isfinite(storeys), storeys, 1.0)
    ids = np.array([o.id for o in objects], dtype=object)

    units: dict[str, np.ndarray] = {}
    for level in ("community", "block", "district"):
        units[level] = ctx.unit_ids_at(xy, level) if ctx.units(level) is not None else np.full(n, None, object)
    # buildings outside every community polygon keep the community their attributes name
    missing = np.array([u is None for u in units["community"]], dtype=bool)
    units["community"][missing] = community_attr[missing]
    for level, parent_len in (("block", 2), ("district", 1)):
        # "D01-B03-C02" nests in block "D01-B03" and district "D01" (the agreed id scheme)
        gap = np.array([u is None for u in units[level]], dtype=bool) & np.array(
            [isinstance(c, str) and c.count("-") >= parent_len for c in units["community"]], dtype=bool
        )
        units[level][gap] = [
            "-".join(str(c).split("-")[:parent_len]) for c in units["community"][gap]
        ]

    residents = np.where(residential, np.nan_to_num(floor) / DEFAULT_M2_PER_RESIDENT, 0.0)
    elderly = residents * DEFAULT_ELDERLY_SHARE
    estimated = True
    if ctx.has_layer("population"):
        pop = ctx.layer("population", columns=("building_id", "residents"))
        row_of = {str(b): i for i, b in enumerate(pop.column("building_id"))}
        rows = np.array([row_of.get(str(b), -1) for b in ids], dtype=np.int64)
        have = rows >= 0
        res_col = _floats(pop.column("residents"))
        residents = np.where(have, res_col[np.maximum(rows, 0)] if len(res_col) else 0.0, residents)
        if "elderly" in pop.columns:
            eld_col = _floats(pop.column("elderly"))
            elderly = np.where(have, eld_col[np.maximum(rows, 0)] if len(eld_col) else 0.0, residents * DEFAULT_ELDERLY_SHARE)
        else:
            elderly = residents * DEFAULT_ELDERLY_SHARE
        residents = np.nan_to_num(residents)
        elderly = np.nan_to_num(elderly)
        estimated = not bool(have.any())
    return BuildingTable(
        objects=objects,
        ids=ids,
        xy=xy,
        ground_z=lo[:, 2] if n else np.zeros(0),
        roof_z=hi[:, 2] if n else np.zeros(0),
        height_m=height,
        footprint_m2=fp_area,
        floor_area_m2=floor,
        storeys=storeys,
        residential=residential,
        year_built=year,
        community=units["community"],
        block=units["block"],
        district=units["district"],
        residents=residents,
        elderly=elderly,
        population_estimated=estimated,
    )


def _floats(values: np.ndarray) -> np.ndarray:
    """A column as float64 (blank or non-numeric cells become NaN)."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        with contextlib.suppress(TypeError, ValueError):
            out[i] = float(v)
    return out


def floats(layer: AuxLayer, name: str, default: float = np.nan) -> np.ndarray:
    """A numeric column of a layer as float64 (missing column: ``default`` everywhere)."""
    if name not in layer.columns:
        return np.full(len(layer), default)
    col = layer.columns[name]
    if col.dtype.kind in "fiub":
        return col.astype(np.float64)
    return _floats(col)


def strings(layer: AuxLayer, name: str, default: str = "") -> np.ndarray:
    """A text column of a layer as an object array of str (missing or null cells: ``default``)."""
    if name not in layer.columns:
        return np.full(len(layer), default, dtype=object)
    return np.array(
        [default if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in layer.columns[name]],
        dtype=object,
    )


def group_index(keys: np.ndarray, order: Sequence[Any] | None = None) -> tuple[list[Any], np.ndarray]:
    """Codes of ``keys`` for ``np.bincount``: ``(unique keys, code per row)``; None keys get -1.

    ``order`` fixes the unique keys (e.g. all unit ids of a layer, so empty units appear too).
    """
    if order is None:
        order = sorted({k for k in keys if k is not None}, key=str)
    pos = {k: i for i, k in enumerate(order)}
    codes = np.array([pos.get(k, -1) if k is not None else -1 for k in keys], dtype=np.int64)
    return list(order), codes


def sums(codes: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per-group sums of ``weights`` (rows with code -1 left out)."""
    ok = codes >= 0
    return np.bincount(codes[ok], weights=np.nan_to_num(weights[ok]), minlength=n)[:n]


def unit_ids(ctx: CheckContext, level: str, table: BuildingTable) -> list[str]:
    """Ids of the units of ``level``: the layer's, else those the buildings name."""
    layer = ctx.units(level)
    if layer is not None:
        return [str(v) for v in layer.column("id")]
    return sorted({str(u) for u in table.units(level) if u is not None})


def unit_label(ctx: CheckContext, level: str, unit_id: str) -> str:
    """How messages name a unit: ``"滨江社区 (D01-B02-C02)"`` when the unit layer gives a name,
    else the id."""
    layer = ctx.units(level)
    if layer is not None and "name" in layer.columns:
        hit = np.nonzero(layer.column("id") == unit_id)[0]
        if len(hit):
            name = layer.column("name")[hit[0]]
            if name is not None and str(name).strip() and str(name) != unit_id:
                return f"{name} ({unit_id})"
    return unit_id


def unit_position(ctx: CheckContext, level: str, unit_id: str, table: BuildingTable | None = None) -> tuple[float, float, float]:
    """Where a problem about a whole unit is pinned: a point inside its polygon (else the centre
    of its buildings), at the mean ground elevation of its buildings."""
    import shapely

    z = 0.0
    xy: np.ndarray | None = None
    if table is not None and len(table):
        mask = table.units(level) == unit_id
        if mask.any():
            z = float(np.nanmean(table.ground_z[mask])) if np.isfinite(table.ground_z[mask]).any() else 0.0
            xy = table.xy[mask].mean(axis=0)
    layer = ctx.units(level)
    if layer is not None:
        ids = layer.column("id")
        hit = np.nonzero(ids == unit_id)[0]
        if len(hit):
            p = shapely.point_on_surface(layer.geometries[hit[0]])
            xy = np.array([p.x, p.y])
    if xy is None:
        raise ConfigError(f"no geometry or building for unit {unit_id!r}")
    return float(xy[0]), float(xy[1]), z


def nearest_within(
    query_xy: np.ndarray, target_xy: np.ndarray, radius: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest target point of each query point: ``(distance, index)``; distance inf and index
    -1 when there is no target (within ``radius``)."""
    from scipy.spatial import cKDTree

    n = len(query_xy)
    if not len(target_xy) or not n:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    dist, idx = cKDTree(target_xy).query(query_xy, k=1, distance_upper_bound=radius)
    idx = np.where(np.isfinite(dist), idx, -1).astype(np.int64)
    return dist, idx


def nearest_geometry(
    query_xy: np.ndarray, geometries: np.ndarray, max_distance: float | None = None, tree: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest geometry (polygon edge, line) of each point, one STRtree bulk query:
    ``(distance, index)`` with inf / -1 where none is within ``max_distance``."""
    import shapely

    n = len(query_xy)
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, dtype=np.int64)
    if not n or not len(geometries):
        return dist, idx
    tree = tree if tree is not None else shapely.STRtree(geometries)
    pts = shapely.points(query_xy)
    (qi, gi), d = tree.query_nearest(pts, max_distance=max_distance, return_distance=True, all_matches=False)
    dist[qi] = d
    idx[qi] = gi
    return dist, idx


def facility_points(ctx: CheckContext, types: Sequence[str], layer: str = "poi") -> AuxLayer | None:
    """POIs whose ``type`` is one of ``types`` (None when the project has no POI layer)."""
    if not ctx.has_layer(layer):
        return None
    poi = ctx.layer(layer, columns=("type",))
    kinds = strings(poi, "type")
    return poi.where(np.isin(kinds, list(types)))


# --- road network ------------------------------------------------------------------------------
@dataclass
class RoadNetwork:
    """A road graph: nodes every ``step_m`` along the noded centrelines, edges weighted by length."""

    nodes: np.ndarray  # (k, 2)
    graph: Any  # scipy.sparse csr matrix (k, k)
    step_m: float

    def distances_from(self, sources_xy: np.ndarray, limit: float) -> np.ndarray:
        """Network distance from the nearest source to every node (inf beyond ``limit``).

        Each source joins the graph at its nearest node; the straight walk to that node counts,
        through a virtual super-source linked to those nodes by their access distance.
        """
        from scipy.sparse import csr_matrix, hstack, vstack
        from scipy.sparse.csgraph import dijkstra

        k = len(self.nodes)
        if not len(sources_xy) or not k:
            return np.full(k, np.inf)
        access, node = nearest_within(sources_xy, self.nodes)
        best: dict[int, float] = {}
        for a, nd in zip(access, node, strict=True):
            best[int(nd)] = min(best.get(int(nd), np.inf), float(a))
        cols = np.array(list(best), dtype=np.int64)
        weights = np.maximum(np.array(list(best.values())), 1e-6)
        row = csr_matrix((weights, (np.zeros(len(cols), np.int64), cols)), shape=(1, k))
        graph = vstack([hstack([self.graph, csr_matrix((k, 1))]), hstack([row, csr_matrix((1, 1))])]).tocsr()
        dist = dijkstra(graph, directed=False, indices=k, limit=limit)
        return dist[:k]


def road_network(ctx: CheckContext, step_m: float = 25.0) -> RoadNetwork | None:
    """The road graph of the project's roads layer (None without one); built once per context."""
    with _CACHE_LOCK:
        cache = _cache_of(ctx)
        key = f"roads:{step_m:g}"
        if key not in cache:
            cache[key] = build_road_network(ctx.layer("roads").geometries, step_m) if ctx.has_layer("roads") else None
        return cache[key]


def build_road_network(lines: np.ndarray, step_m: float = 25.0, snap_m: float = 25.0) -> RoadNetwork | None:
    """Node the centrelines (crossings become junctions), densify every ``step_m`` and join
    vertices closer than 0.5 m; edges are the segments between consecutive vertices; dead ends
    within ``snap_m`` of another piece of the network are linked to it."""
    import shapely
    from scipy.sparse import coo_matrix

    lines = np.asarray([g for g in lines if g is not None and not g.is_empty], dtype=object)
    if not len(lines):
        return None
    # the union nodes the lines: every crossing becomes a shared vertex, i.e. a junction
    parts = shapely.get_parts(shapely.union_all(shapely.force_2d(lines)))
    parts = shapely.segmentize(parts, step_m)
    coords, part_idx = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return None
    keys = np.round(coords / 0.5).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    nodes = np.zeros((len(uniq), 2))
    np.add.at(nodes, inverse, coords)
    nodes /= np.bincount(inverse, minlength=len(uniq))[:, None]
    same_part = part_idx[1:] == part_idx[:-1]
    a, b = inverse[:-1][same_part], inverse[1:][same_part]
    w = np.linalg.norm(coords[1:][same_part] - coords[:-1][same_part], axis=1)
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    a, b, w = _join_dangling_ends(nodes, a, b, w, snap_m)
    graph = coo_matrix((np.maximum(w, 1e-6), (a, b)), shape=(len(nodes), len(nodes))).tocsr()
    return RoadNetwork(nodes=nodes, graph=graph, step_m=step_m)


def _join_dangling_ends(
    nodes: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray, snap_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Link each dead end to the nearest node of another connected piece within ``snap_m``.

    Centrelines drawn by hand (or alleys ending at a kerb rather than at the centreline of the
    road they open onto) often stop a few metres short of the road they join; without this the
    graph falls apart into pieces no station can reach.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(nodes)
    if not n or snap_m <= 0:
        return a, b, w
    degree = np.bincount(np.concatenate([a, b]), minlength=n)
    _, piece = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    ends = np.nonzero(degree == 1)[0]
    if not len(ends):
        return a, b, w
    tree = cKDTree(nodes)
    k = min(16, n)
    dist, idx = tree.query(nodes[ends], k=k, distance_upper_bound=snap_m)
    dist, idx = np.atleast_2d(dist), np.atleast_2d(idx)
    valid = np.isfinite(dist) & (idx < n)
    other = np.where(valid, piece[np.minimum(idx, n - 1)] != piece[ends][:, None], False)
    first = np.argmax(other, axis=1)
    has = other[np.arange(len(ends)), first]
    new_a = ends[has]
    new_b = idx[has, first[has]]
    new_w = dist[has, first[has]]
    return np.concatenate([a, new_a]), np.concatenate([b, new_b]), np.concatenate([w, new_w])


def in_unit(problem: ProblemPoint, unit: str) -> ProblemPoint:
    """The problem with its value in ``unit``: a problem on one object may measure something other
    than the indicator's rate (a distance in m, a year of construction)."""
    return problem.model_copy(update={"unit": unit})


def ground_z_at(table: BuildingTable, xy: np.ndarray) -> np.ndarray:
    """Ground elevation at points, taken from the nearest building (0 without buildings): where a
    problem on a street or a site is pinned in height."""
    if not len(table) or not len(xy):
        return np.zeros(len(xy))
    _, idx = table.kdtree.query(np.asarray(xy, dtype=np.float64), k=1)
    z = table.ground_z[np.asarray(idx)]
    return np.where(np.isfinite(z), z, 0.0)
