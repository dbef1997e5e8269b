"""The project library (项目库): renewal projects generated from findings, their status, their
buildings' 留改拆 and their evaluation in a later run.

Generation (连片谋划): the open findings of a run are grouped by block (街区) and category, and
within a group into clusters of findings closer than a radius to one another (scipy cKDTree pairs +
connected components), so that nearby problems become one project. A cluster wider than a maximum
extent (chains of findings across a whole block) is split by community, then by contiguity again. Each project gets a footprint (the union
of its buildings' footprints and of buffers round its points; the convex hull when that falls
apart), its findings, a category, and suggested measures from a per-indicator table.

Status of a project: candidate -> approved -> in_progress -> done (or cancelled). Its findings
follow: planned while the project is a candidate or approved, in_progress once it is under way;
:func:`evaluate_projects` on a later run marks them resolved (gone) and verified (still gone one
run later, or gone once the project is done).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..model import Severity
from ..serialization import dumps, loads
from . import gpkg
from .actions import (
    DEFAULT_RULES,
    ActionRule,
    BuildingAction,
    concerns_building,
    facts_from_evidence,
    recommend,
)
from .buildings import BuildingTable
from .defaults import PROJECT_MAX_EXTENT_M, PROJECT_RADIUS_M, PROJECT_STATUSES
from .store import FINDINGS_SRS, Catalog, CatalogError, FindingArrays
from .units import block_of

__all__ = [
    "PROJECT_STATUSES",
    "STATUS_ZH",
    "Project",
    "evaluate_projects",
    "generate_projects",
    "list_projects",
    "measure_for",
    "set_project_status",
]

STATUS_ZH = {"candidate": "候选", "approved": "已批准", "in_progress": "实施中", "done": "已完成", "cancelled": "已取消"}
FINDING_STATUS_ZH = {"open": "待处理", "planned": "已纳入项目", "in_progress": "整改中", "resolved": "已解决",
                     "verified": "已核验"}  # fmt: skip
#: Finding status that follows from the status of its project.
_FINDING_STATUS_OF_PROJECT = {"candidate": "planned", "approved": "planned", "in_progress": "in_progress",
                              "done": "in_progress", "cancelled": "open"}  # fmt: skip
DEFAULT_RADIUS_M = PROJECT_RADIUS_M
#: Block label of findings without a spatial unit (project ids stay ASCII).
NO_UNIT = "NA"

#: Suggested measure per indicator: the first pattern matching the code (or its names) wins.
MEASURE_TABLE: tuple[tuple[str, str, str], ...] = (
    (r"DANGER|危房", "危房治理与结构加固", "dangerous-housing remediation and structural strengthening"),
    (r"OLD.?HOUS|OLD.?RESID|OLD.?NEIGH|老旧", "老旧小区改造", "old-neighbourhood renovation"),
    (r"ELEVATOR|LIFT|电梯", "既有住宅加装电梯", "lifts for existing housing"),
    (r"POCKET|PARK|GREEN|绿", "口袋公园与绿地建设", "pocket park and greening"),
    (r"TOILET|厕", "公共厕所建设", "public toilet"),
    (r"ELDER|CARE|NURSING|AGED|养老", "社区养老服务站建设", "community elderly care station"),
    (r"KINDER|NURSERY|CHILD|托育|幼儿", "托育与幼儿园设施补齐", "childcare and kindergarten places"),
    (r"SCHOOL|学校", "中小学学位补齐", "school places"),
    (r"WATERLOG|DRAIN|FLOOD|STORM|内涝|排水", "排水防涝设施改造", "drainage and waterlogging upgrade"),
    (r"FIRE|消防", "消防通道与设施整治", "fire access and equipment"),
    (r"PARKING|停车", "停车设施建设", "parking provision"),
    (r"ACCESSIB|BARRIER|无障碍", "无障碍环境改造", "barrier-free access"),
    (r"SIDEWALK|WALK|STREET|ROAD|步行|街道", "街道与步行环境提升", "street and walkway improvement"),
    (r"HEIGHT|TALL|FAR|DENSITY|高度|强度", "建筑高度与开发强度管控", "height and density control"),
    (r"VITALITY|HEAT|活力", "街区活力提升", "street vitality improvement"),
    (r"MARKET|COMMERC|菜市", "便民商业设施补齐", "local shops and market"),
    (r"CLINIC|HEALTH|医疗|卫生", "社区卫生服务设施补齐", "community health station"),
)
CATEGORY_MEASURES: dict[str, tuple[str, str]] = {
    "生态宜居": ("生态修复与绿地建设", "ecological restoration and greening"),
    "健康舒适": ("完整社区公共服务设施补齐", "public services of a complete community"),
    "安全韧性": ("安全隐患整治", "safety hazard remediation"),
    "交通便捷": ("交通与慢行系统改善", "transport and walking improvement"),
    "风貌特色": ("历史风貌保护与街区更新", "townscape protection and renewal"),
    "整洁有序": ("环境综合整治", "environmental clean-up"),
    "多元包容": ("适老化与无障碍改造", "age-friendly and barrier-free upgrade"),
    "创新活力": ("街区活力提升", "vitality improvement"),
}


def measure_for(code: str, spec: Any = None, overrides: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """Suggested measure ``(zh, en)`` for an indicator: the project file's ``[projects.measures]``
    first, then the pattern table on code and names, then the indicator's category."""
    if overrides and code in overrides:
        value = overrides[code]
        if isinstance(value, Mapping):
            return str(value.get("zh", "")), str(value.get("en", value.get("zh", "")))
        return str(value), str(value)
    text = " ".join([code, getattr(spec, "name_en", "") or "", getattr(spec, "name_zh", "") or ""]).upper()
    for pattern, zh, en in MEASURE_TABLE:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return zh, en
    category = getattr(spec, "category", None)
    if category in CATEGORY_MEASURES:
        return CATEGORY_MEASURES[category]
    return "综合整治提升", "general improvement"


@dataclass
class Project:
    """One project of the library."""

    id: str
    name: str
    run_id: str
    period: str
    unit_id: str | None
    district_id: str | None
    category: str | None
    indicators: list[str]
    measure_zh: str
    measure_en: str
    measures: list[dict[str, str]]
    status: str = "candidate"
    finding_ids: list[str] = field(default_factory=list)
    footprint: Any = None
    area_m2: float | None = None
    priority: float = 0.0
    x: float | None = None
    y: float | None = None
    lon: float | None = None
    lat: float | None = None
    owner: str | None = None
    notes: str | None = None
    actions: list[BuildingAction] = field(default_factory=list)
    findings_count: int = 0
    buildings_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.id, "name": self.name, "run_id": self.run_id, "period": self.period,
            "unit_id": self.unit_id, "district_id": self.district_id, "category": self.category,
            "indicators": self.indicators, "measure_zh": self.measure_zh, "measure_en": self.measure_en,
            "measures": self.measures, "status": self.status, "findings": self.findings_count or len(self.finding_ids),
            "buildings": self.buildings_count or len(self.actions), "area_m2": self.area_m2,
            "priority": self.priority, "lon": self.lon, "lat": self.lat, "owner": self.owner, "notes": self.notes,
            "footprint_wkt": None if self.footprint is None else self.footprint.wkt,
        }  # fmt: skip


# --- generation ------------------------------------------------------------------------------------
def _clusters(x: np.ndarray, y: np.ndarray, radius_m: float) -> np.ndarray:
    """Connected-component label per point, points closer than ``radius_m`` linked."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(x)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(radius_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def _split_wide(x: np.ndarray, y: np.ndarray, units: np.ndarray, radius_m: float, max_extent_m: float) -> list[np.ndarray]:
    """Positions (into x/y) of the parts of one cluster: the cluster itself when its bounding box
    diagonal is within ``max_extent_m``, else its findings per community, each split by
    contiguity again (a community's findings may still lie apart)."""
    every = np.arange(len(x))
    if len(x) < 2 or float(np.hypot(np.ptp(x), np.ptp(y))) <= max_extent_m:
        return [every]
    parts = []
    for unit in sorted(set(units.tolist()), key=lambda u: u or ""):
        members = every[units == unit]
        labels = _clusters(x[members], y[members], radius_m)
        parts += [members[labels == lab] for lab in np.unique(labels)]
    if len(parts) == 1:
        return parts
    # Largest first, then west to east: stable and meaningful numbering.
    return sorted(parts, key=lambda m: (-len(m), float(x[m].min()), float(y[m].min())))


def _footprint(x: np.ndarray, y: np.ndarray, building_footprints: Sequence[Any], buffer_m: float) -> Any:
    import shapely

    xy = np.column_stack([x, y])
    if len(xy) > 200:
        # A union of hundreds of discs costs seconds and ends as the hull anyway.
        parts = [shapely.buffer(shapely.convex_hull(shapely.multipoints(xy)), buffer_m, quad_segs=4)]
    else:
        parts = list(shapely.buffer(shapely.points(xy), buffer_m, quad_segs=4))
    parts += [shapely.buffer(fp, 5.0, quad_segs=2) for fp in building_footprints if fp is not None]
    shape = shapely.union_all(parts)
    if shape.geom_type != "Polygon":
        shape = shape.convex_hull
    return shapely.set_precision(shape, 0.01)


def generate_projects(
    catalog: Catalog,
    run: str,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    max_extent_m: float = PROJECT_MAX_EXTENT_M,
    min_severity: str = "low",
    buffer_m: float = 20.0,
    scene: Any = None,
    buildings: BuildingTable | None = None,
    rules: Sequence[ActionRule] = DEFAULT_RULES,
    measures: Mapping[str, Any] | None = None,
    unit_names: Mapping[str, str] | None = None,
) -> list[Project]:
    """Group a run's open findings into candidate projects and store them with their 留改拆.

    Candidates generated earlier from the same run are replaced; approved or later projects stay
    and keep their findings.

    Parameters
    ----------
    run:
        The run (reference as in :meth:`Catalog.resolve_run`).
    radius_m:
        Findings of one block and measure closer than this (scene CRS metres) join one project.
    max_extent_m:
        A project wider than this (bounding-box diagonal, m) is split by community.
    min_severity:
        Leave out findings below this severity.
    buffer_m:
        Buffer round the finding points in the footprint.
    scene, buildings:
        The run's buildings, as its :class:`~cim_twin.scene.Scene` or as a
        :class:`~cim_twin.catalog.buildings.BuildingTable` (what the catalog stored with the
        run): footprints and attributes then come from it and every building in a project area
        gets its 留改拆. Without either, the buildings the findings name, from their evidence.
    rules:
        留改拆 rules (see :mod:`cim_twin.catalog.actions`).
    measures:
        Per-indicator measure overrides (``[projects.measures]`` of the project file).

    Returns
    -------
    list[Project]
        The new candidates, highest priority first.
    """
    run_id = catalog.resolve_run(run)
    period = catalog.get_run(run_id).period
    if buildings is None and scene is not None:
        buildings = BuildingTable.from_scene(scene)
    try:
        floor = Severity(min_severity).rank
    except ValueError as exc:
        raise ConfigError(f"unknown severity {min_severity!r}", hint="info, low, medium, high or critical") from exc
    specs = catalog.specs(run_id) or catalog.specs()
    unit_names = unit_names or {}
    conn = catalog.conn
    with catalog.transaction():
        _drop_candidates(conn, run_id)
        arrays = catalog.finding_arrays(run_id, extra=("severity", "evidence", "category"))
        district_level = np.array([getattr(specs.get(c), "level", None) == "district" for c in arrays.indicator.tolist()],
                                  dtype=bool)  # fmt: skip
        eligible = (
            (arrays.status == "open")
            & np.array([p is None for p in arrays.project_id], dtype=bool)
            & (arrays.severity_rank >= floor)
            & ~district_level
        )
        rows = np.flatnonzero(eligible)
        # One block and one category make a group (a renovation is planned by one department);
        # contiguity splits a group into projects, and a group too wide is split by community.
        groups = np.array([f"{block_of(u) or NO_UNIT}\x1f{getattr(specs.get(c), 'category', None) or '未分类'}"
                           for u, c in zip(arrays.unit_id[rows].tolist(), arrays.indicator[rows].tolist(), strict=True)],
                          dtype=object)  # fmt: skip
        taken = {r[0] for r in conn.execute("SELECT project_id FROM projects")}
        by_object: dict[str, list[int]] = defaultdict(list)
        for row, ids in enumerate(arrays.object_ids.tolist()):
            if ids != "[]":
                for oid in loads(ids):
                    by_object[str(oid)].append(row)
        projects: list[Project] = []
        decided: dict[str, BuildingAction] = {}  # a building's 留改拆 is the same in every project
        weight: Counter[str] = Counter()
        for g, score in zip(groups.tolist(), arrays.score[rows].tolist(), strict=True):
            weight[g] += score
        # Within a block the weightiest group first, so that -01 is the block's main project.
        for group in sorted(weight, key=lambda g: (g.split("\x1f")[0], -weight[g], g)):
            block = group.split("\x1f")[0]
            in_block = rows[groups == group]
            labels = _clusters(arrays.x[in_block], arrays.y[in_block], radius_m)
            # Largest clusters first so that numbering is stable and meaningful.
            order = sorted(set(labels.tolist()), key=lambda lab: (-int((labels == lab).sum()), float(arrays.x[in_block][labels == lab].min())))
            for lab in order:
                cluster = in_block[labels == lab]
                for part in _split_wide(arrays.x[cluster], arrays.y[cluster], arrays.unit_id[cluster], radius_m,
                                        max_extent_m):  # fmt: skip
                    projects.append(_make_project(arrays, cluster[part], by_object, block, run_id, period, specs,
                                                  measures, unit_names, buildings, rules, buffer_m, taken,
                                                  decided))  # fmt: skip
        _store_projects(catalog, projects, run_id, crs=catalog.get_run(run_id).crs)
    projects.sort(key=lambda p: -p.priority)
    return projects


def _make_project(arrays: FindingArrays, members: np.ndarray, by_object: Mapping[str, list[int]], block: str,
                  run_id: str, period: str,
                  specs: Mapping[str, Any], measures: Mapping[str, Any] | None, unit_names: Mapping[str, str],
                  table: BuildingTable | None, rules: Sequence[ActionRule], buffer_m: float, taken: set[str],
                  decided: dict[str, BuildingAction]) -> Project:  # fmt: skip
    codes = arrays.indicator[members].tolist()
    scores = arrays.score[members]
    weight: Counter[str] = Counter()
    for code, score in zip(codes, scores.tolist(), strict=True):
        weight[code] += score
    ranked_codes = [c for c, _ in weight.most_common()]
    category_weight: Counter[str] = Counter()
    for code, w in weight.items():
        category_weight[getattr(specs.get(code), "category", None) or "未分类"] += w
    measure_list: list[dict[str, str]] = []
    measure_weight: Counter[str] = Counter()
    for code in ranked_codes:
        zh, en = measure_for(code, specs.get(code), measures)
        measure_weight[zh] += weight[code]
        if zh not in [m["zh"] for m in measure_list]:
            measure_list.append({"zh": zh, "en": en, "indicator": code})
    # Buildings: the findings' objects, plus every building of the scene in the project area.
    building_findings: dict[str, list[int]] = defaultdict(list)
    for row in members.tolist():
        for oid in loads(arrays.object_ids[row]):
            building_findings[str(oid)].append(row)
    footprints = []
    in_area: set[str] = set()
    if table is not None:
        footprints = [table.footprint(b) for b in building_findings if b in table]
    shape = _footprint(arrays.x[members], arrays.y[members], footprints, buffer_m)
    if table is not None:
        in_area = set(table.within(shape)) | {b for b in building_findings if b in table}
    actions = []
    for bid in sorted(in_area | set(building_findings)):
        if bid in decided:
            actions.append(decided[bid])
            continue
        if table is not None and bid not in table:
            continue  # a road, a site or a part named by a finding: no building of the model
        # All of the building's findings in the run, so that it gets the same action in every
        # project whose area it lies in.
        frows = by_object.get(bid, [])
        fcodes = [arrays.indicator[r] for r in frows]
        sev = [arrays.extra["severity"][r] for r in frows]
        own = [concerns_building(specs.get(c)) for c in fcodes]
        if table is not None:
            facts = table.facts(bid, fcodes, sev, own)
        else:
            facts = facts_from_evidence(bid, [loads(arrays.extra["evidence"][r]) for r in frows], fcodes, sev, own)
        decided[bid] = recommend(facts, rules)
        actions.append(decided[bid])
    units = Counter(arrays.unit_id[members].tolist())
    main_unit = units.most_common(1)[0][0] if units else None
    # A project within one community is named and filed after it, otherwise after its block.
    community = main_unit if len(units) == 1 and main_unit and main_unit.count("-") >= 2 else None
    n = 1
    while f"P{period}-{block}-{n:02d}" in taken:
        n += 1
    pid = f"P{period}-{block}-{n:02d}"
    taken.add(pid)
    place = unit_names.get(block) or block
    if community:
        place += unit_names.get(community) or community.rsplit("-", 1)[-1]
    first = measure_list[0] if measure_list else {"zh": "综合整治提升", "en": "general improvement"}
    title = first["zh"]
    category = category_weight.most_common(1)[0][0]
    if measure_weight and measure_weight[title] < 0.6 * sum(measure_weight.values()) and category in CATEGORY_MEASURES:
        # No measure dominates (a school, a care station and a nursery in one community): the
        # project is named after what they share, its measures list each of them.
        title = CATEGORY_MEASURES[category][0]
    centre = shape.centroid
    return Project(
        id=pid, name=f"{place if block != NO_UNIT else '未分区'} {title}项目", run_id=run_id, period=period,
        unit_id=community or (block if block != NO_UNIT else main_unit), district_id=(block.split("-")[0] if block != NO_UNIT else None), category=category,
        indicators=ranked_codes, measure_zh=first["zh"], measure_en=first["en"], measures=measure_list,
        finding_ids=arrays.id[members].tolist(), footprint=shape, area_m2=round(float(shape.area), 1),
        priority=round(float(scores.sum()), 3), x=round(float(centre.x), 3), y=round(float(centre.y), 3),
        actions=actions, findings_count=len(members), buildings_count=len(actions),
    )  # fmt: skip


def _drop_candidates(conn: Any, run_id: str) -> None:
    # Set-based: one statement per table, not five per project (a city has a thousand candidates).
    candidates = "SELECT project_id FROM projects WHERE run_id = ? AND status = 'candidate'"
    conn.execute(f"UPDATE findings SET status = 'open', project_id = NULL WHERE status = 'planned' "
                 f"AND project_id IN ({candidates})", (run_id,))  # fmt: skip
    for table in ("project_findings", "building_actions", "project_evaluations"):
        conn.execute(f"DELETE FROM {table} WHERE project_id IN ({candidates})", (run_id,))
    conn.execute("DELETE FROM projects WHERE run_id = ? AND status = 'candidate'", (run_id,))


def _store_projects(catalog: Catalog, projects: list[Project], run_id: str, crs: str | None) -> None:
    import shapely

    conn = catalog.conn
    now = datetime.now(UTC).isoformat(timespec="seconds")
    wgs84_shapes: list[Any] = [None] * len(projects)
    if crs and projects:
        try:
            from ..crs import parse_srs_name

            scene_crs = parse_srs_name(crs)
            for k, p in enumerate(projects):
                wgs84_shapes[k] = shapely.transform(p.footprint, lambda xy, c=scene_crs: np.column_stack(c.to_wgs84(xy[:, 0], xy[:, 1])[:2]))
                c = wgs84_shapes[k].centroid
                p.lon, p.lat = round(c.x, 7), round(c.y, 7)
        except Exception:  # a local CRS: projects keep scene coordinates, no map geometry
            wgs84_shapes = [None] * len(projects)
    for p, shape in zip(projects, wgs84_shapes, strict=True):
        conn.execute(
            "INSERT INTO projects (geom, project_id, name, run_id, period, unit_id, district_id, category, indicators, "
            "measure_zh, measure_en, measures, status, findings_count, buildings_count, area_m2, priority, "
            "footprint_wkt, lon, lat, x, y, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (gpkg.polygon_blob(shape, FINDINGS_SRS), p.id, p.name, run_id, p.period, p.unit_id, p.district_id,
             p.category, dumps(p.indicators).decode(), p.measure_zh, p.measure_en, dumps(p.measures).decode(),
             p.status, p.findings_count, p.buildings_count, p.area_m2, p.priority, p.footprint.wkt, p.lon, p.lat,
             p.x, p.y, now, now),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO building_actions (project_id, run_id, building_id, action, action_zh, rule, reason_zh, "
            "reason_en, facts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(p.id, run_id, a.building_id, a.action, a.action_zh, a.rule, a.reason_zh, a.reason_en,
              dumps(a.facts).decode()) for a in p.actions],
        )  # fmt: skip
    shapes = [shape for shape in wgs84_shapes if shape is not None]
    if shapes:
        bounds = np.array([shape.bounds for shape in shapes])
        gpkg.update_extent(conn, "projects", (*bounds[:, :2].min(axis=0).tolist(), *bounds[:, 2:].max(axis=0).tolist()))
    # Link the findings in two set-based statements rather than two per finding.
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _project_links (project_id TEXT, finding_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM _project_links")
    conn.executemany("INSERT INTO _project_links VALUES (?, ?)", [(p.id, fid) for p in projects for fid in p.finding_ids])
    conn.execute(
        "INSERT INTO project_findings (project_id, run_id, finding_id, key, indicator, unit_id, x, y, status) "
        "SELECT l.project_id, f.run_id, f.finding_id, f.key, f.indicator, f.unit_id, f.x, f.y, 'planned' "
        "FROM _project_links l JOIN findings f ON f.run_id = ? AND f.finding_id = l.finding_id ORDER BY f.fid",
        (run_id,),
    )
    conn.execute(
        "UPDATE findings SET status = 'planned', project_id = l.project_id FROM _project_links l "
        "WHERE findings.run_id = ? AND findings.finding_id = l.finding_id",
        (run_id,),
    )
    conn.execute("DELETE FROM _project_links")
    gpkg.touch(conn, ("projects", "project_findings", "building_actions", "findings"))


# --- reading and editing ---------------------------------------------------------------------------
_PROJECT_COLUMNS = ("project_id", "name", "run_id", "period", "unit_id", "district_id", "category", "indicators",
                    "measure_zh", "measure_en", "measures", "status", "findings_count", "buildings_count", "area_m2",
                    "priority", "footprint_wkt", "lon", "lat", "x", "y", "owner", "notes")  # fmt: skip


def list_projects(catalog: Catalog, *, status: str | None = None, run: str | None = None) -> list[Project]:
    """Projects of the library, highest priority first."""
    import shapely

    sql = f"SELECT {', '.join(_PROJECT_COLUMNS)} FROM projects"
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if run:
        where.append("run_id = ?")
        params.append(catalog.resolve_run(run))
    if where:
        sql += " WHERE " + " AND ".join(where)
    out = []
    for row in catalog.conn.execute(sql + " ORDER BY priority DESC, project_id", params):
        r = dict(zip(_PROJECT_COLUMNS, row, strict=True))
        fids = [f[0] for f in catalog.conn.execute(
            "SELECT finding_id FROM project_findings WHERE project_id = ? ORDER BY fid", (r["project_id"],))]  # fmt: skip
        acts = [
            BuildingAction(b, a, rule, rz, re_, loads(facts))
            for b, a, rule, rz, re_, facts in catalog.conn.execute(
                "SELECT building_id, action, rule, reason_zh, reason_en, facts FROM building_actions "
                "WHERE project_id = ? ORDER BY building_id", (r["project_id"],))
        ]  # fmt: skip
        out.append(Project(
            id=r["project_id"], name=r["name"], run_id=r["run_id"], period=r["period"], unit_id=r["unit_id"],
            district_id=r["district_id"], category=r["category"], indicators=loads(r["indicators"]),
            measure_zh=r["measure_zh"], measure_en=r["measure_en"], measures=loads(r["measures"]), status=r["status"],
            finding_ids=fids, footprint=shapely.from_wkt(r["footprint_wkt"]) if r["footprint_wkt"] else None,
            area_m2=r["area_m2"], priority=r["priority"] or 0.0, x=r["x"], y=r["y"], lon=r["lon"], lat=r["lat"],
            owner=r["owner"], notes=r["notes"], actions=acts, findings_count=r["findings_count"],
            buildings_count=r["buildings_count"],
        ))  # fmt: skip
    return out


def set_project_status(catalog: Catalog, project_id: str, status: str, *, owner: str | None = None,
                       notes: str | None = None) -> bool:  # fmt: skip
    """Set a project's status (and owner/notes); its unresolved findings follow. Returns whether
    anything changed.

    Raises
    ------
    CatalogError
        Unknown project or status.
    """
    status = _status_from_text(status)
    conn = catalog.conn
    row = conn.execute("SELECT status, owner, notes FROM projects WHERE project_id = ?", (project_id,)).fetchone()
    if row is None:
        raise CatalogError(f"no project {project_id!r}", path=catalog.path, hint="see `cim-twin projects list`")
    new_owner = row[1] if owner is None else owner
    new_notes = row[2] if notes is None else notes
    if (row[0], row[1], row[2]) == (status, new_owner, new_notes):
        return False
    finding_status = _FINDING_STATUS_OF_PROJECT[status]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with catalog.transaction():
        conn.execute("UPDATE projects SET status = ?, owner = ?, notes = ?, updated_at = ? WHERE project_id = ?",
                     (status, new_owner, new_notes, now, project_id))  # fmt: skip
        conn.execute(
            "UPDATE project_findings SET status = ? WHERE project_id = ? AND status IN ('open', 'planned', 'in_progress')",
            (finding_status, project_id),
        )
        conn.execute(
            "UPDATE findings SET status = ?, project_id = ? WHERE project_id = ? AND status IN ('open', 'planned', 'in_progress')",
            (finding_status, None if status == "cancelled" else project_id, project_id),
        )
        gpkg.touch(conn, ("projects", "project_findings", "findings"))
    return True


def _status_from_text(text: str) -> str:
    value = str(text).strip()
    lowered = value.lower().replace(" ", "_").replace("-", "_")
    if lowered in PROJECT_STATUSES:
        return lowered
    for key, zh in STATUS_ZH.items():
        if value == zh:
            return key
    aliases = {"inprogress": "in_progress", "started": "in_progress", "completed": "done", "finished": "done",
               "实施": "in_progress", "在建": "in_progress", "完成": "done", "批准": "approved", "取消": "cancelled"}  # fmt: skip
    if lowered in aliases or value in aliases:
        return aliases.get(lowered, aliases.get(value, ""))
    raise CatalogError(f"unknown project status {text!r}",
                       hint="candidate, approved, in_progress, done or cancelled (候选 已批准 实施中 已完成 已取消)")  # fmt: skip


# --- evaluation ------------------------------------------------------------------------------------
@dataclass
class ProjectEvaluation:
    """How one project fared in a later run."""

    project_id: str
    run_id: str
    project_status: str
    findings_total: int
    resolved: int
    verified: int
    persisting: int
    reappeared: int
    effect: dict[str, Any]

    @property
    def share_resolved(self) -> float:
        return 0.0 if not self.findings_total else (self.resolved + self.verified) / self.findings_total

    def to_dict(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "run_id": self.run_id, "project_status": self.project_status,
                "findings_total": self.findings_total, "resolved": self.resolved, "verified": self.verified,
                "persisting": self.persisting, "reappeared": self.reappeared,
                "share_resolved": round(self.share_resolved, 4), "effect": self.effect}  # fmt: skip


def evaluate_projects(catalog: Catalog, run_new: str, *, radius_m: float = 30.0) -> list[ProjectEvaluation]:
    """Evaluate every project made from an earlier run against ``run_new``.

    A project's finding absent from the new run (matched by key, else by indicator within
    ``radius_m``) becomes *resolved*, or *verified* when the project is done or when it was
    already resolved in an earlier run; a finding still present stays planned / in progress (and
    its counterpart in the new run is tied to the project); one that had been resolved and came
    back is *reappeared* and reopened. The effect per indicator is the change of the
    measurements of the project's units and of the count of the indicator's findings inside the
    project footprint. Evaluating the same run twice gives the same result.
    """
    from .diff import diff_findings, directions_of

    new_id = catalog.resolve_run(run_new)
    new_period = catalog.get_run(new_id).period
    periods = {r.id: r.period for r in catalog.runs()}
    new = catalog.finding_arrays(new_id)
    new_measures = {(m.indicator, m.unit_id): m for m in catalog.measurements(new_id)}
    directions = directions_of(catalog.specs())
    new_specs = catalog.specs(new_id) or catalog.specs()
    measures_of_run: dict[str, dict[tuple[str, str], Any]] = {}
    # Which findings of each origin run are still there: the same one-to-one matching as `diff`.
    present: dict[str, dict[str, int]] = {}

    def still_there(origin: str) -> dict[str, int]:
        if origin not in present:
            old = catalog.finding_arrays(origin)
            d = diff_findings(old, new, directions=directions, radius_m=radius_m)
            present[origin] = {old.id[i]: int(j) for i, j in zip(d.pair_a.tolist(), d.pair_b.tolist(), strict=True)}
        return present[origin]

    conn = catalog.conn
    projects = [p for p in list_projects(catalog) if periods.get(p.run_id, p.period) < new_period and p.status != "cancelled"]
    results = []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with catalog.transaction():
        for p in projects:
            links = conn.execute(
                "SELECT finding_id, key, indicator, unit_id, x, y, status, resolved_in_run FROM project_findings "
                "WHERE project_id = ? ORDER BY fid", (p.id,)).fetchall()  # fmt: skip
            counts: Counter[str] = Counter()
            carried: list[tuple[str, str]] = []
            matches = still_there(p.run_id)
            for fid, _key, _code, _unit, _x, _y, status, resolved_in in links:
                hit = matches.get(fid)
                if hit is not None:
                    follow = _FINDING_STATUS_OF_PROJECT[p.status]
                    if status in ("resolved", "verified"):
                        counts["reappeared"] += 1  # fixed once, back now: reopened
                        _set_link(conn, p.id, p.run_id, fid, follow, None, None)
                    else:
                        counts["persisting"] += 1
                        _set_link(conn, p.id, p.run_id, fid, follow, None, None)
                    carried.append((new.id[hit], follow))
                    continue
                if status in ("open", "planned", "in_progress"):
                    if p.status == "done":
                        _set_link(conn, p.id, p.run_id, fid, "verified", new_id, new_id)
                        counts["verified"] += 1
                    else:
                        _set_link(conn, p.id, p.run_id, fid, "resolved", new_id, None)
                        counts["resolved"] += 1
                elif status == "resolved":
                    if resolved_in and resolved_in != new_id and periods.get(resolved_in, "") < new_period:
                        _set_link(conn, p.id, p.run_id, fid, "verified", resolved_in, new_id)
                        counts["verified"] += 1
                    else:
                        counts["resolved"] += 1
                else:
                    counts["verified"] += 1
            conn.executemany(
                "UPDATE findings SET status = ?, project_id = ? WHERE run_id = ? AND finding_id = ? "
                "AND (project_id IS NULL OR project_id = ?)",
                [(st, p.id, new_id, fid, p.id) for fid, st in carried],
            )
            if p.run_id not in measures_of_run:  # read once per origin run, not once per project
                measures_of_run[p.run_id] = {(m.indicator, m.unit_id): m for m in catalog.measurements(p.run_id)}
            effect = _effect(catalog, p, new, measures_of_run[p.run_id], new_measures, new_specs)
            ev = ProjectEvaluation(p.id, new_id, p.status, len(links), counts["resolved"], counts["verified"],
                                   counts["persisting"], counts["reappeared"], effect)  # fmt: skip
            conn.execute(
                "INSERT OR REPLACE INTO project_evaluations (project_id, run_id, evaluated_at, findings_total, resolved, "
                "verified, persisting, reappeared, effect) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.id, new_id, now, ev.findings_total, ev.resolved, ev.verified, ev.persisting, ev.reappeared,
                 dumps(effect).decode()),
            )  # fmt: skip
            results.append(ev)
        gpkg.touch(conn, ("project_findings", "project_evaluations", "findings"))
    return results


def _set_link(conn: Any, project_id: str, run_id: str, finding_id: str, status: str, resolved_in: str | None,
              verified_in: str | None) -> None:  # fmt: skip
    conn.execute(
        "UPDATE project_findings SET status = ?, resolved_in_run = ?, verified_in_run = ? "
        "WHERE project_id = ? AND finding_id = ?",
        (status, resolved_in, verified_in, project_id, finding_id),
    )
    conn.execute("UPDATE findings SET status = ? WHERE run_id = ? AND finding_id = ?", (status, run_id, finding_id))


def _effect(catalog: Catalog, project: Project, new: FindingArrays, old_measures: Mapping[tuple[str, str], Any],
            new_measures: Mapping[tuple[str, str], Any], specs: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    import shapely

    from .diff import _trend

    units = {r[0] for r in catalog.conn.execute(
        "SELECT DISTINCT unit_id FROM project_findings WHERE project_id = ? AND unit_id IS NOT NULL", (project.id,))}  # fmt: skip
    if project.unit_id:
        units.add(project.unit_id)
    # The blocks they lie in too: block-level indicators are measured there.
    units |= {block for block in map(block_of, list(units)) if block}
    inside = np.zeros(len(new), dtype=bool)
    if project.footprint is not None and len(new):
        inside = shapely.contains_xy(project.footprint, new.x, new.y)
    before = Counter(r[0] for r in catalog.conn.execute(
        "SELECT indicator FROM project_findings WHERE project_id = ?", (project.id,)))  # fmt: skip
    effect: dict[str, Any] = {}
    for code in project.indicators:
        direction = getattr(specs.get(code), "direction", None)
        unit_rows = {}
        for unit in sorted(units):
            a, b = old_measures.get((code, unit)), new_measures.get((code, unit))
            if a is None or b is None or a.value is None or b.value is None:
                continue
            change = b.value - a.value
            unit_rows[unit] = {"value_a": a.value, "value_b": b.value, "change": change,
                               "unit": b.unit, "trend": _trend(change, a.value, direction, b.threshold)}  # fmt: skip
        effect[code] = {
            "findings_before": before.get(code, 0),
            "findings_after_in_area": int((inside & (new.indicator == code)).sum()),
            "units": unit_rows,
        }
    return effect
