"""The run report (体检报告) as HTML and Markdown: indicators against their thresholds, problems by
category and severity, the worst problems and where they are, indicator trends over the runs
(inline SVG charts, no plotting library), the change since the previous run, the project library,
the map update when known, and the three-year evaluation (三年一评估) when three annual runs exist.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..model import CATEGORIES, LEVEL_ZH
from ..serialization import atomic_write_bytes
from .diff import diff_runs
from .gpkg import geometry_from_blob
from .lists import SEVERITY_ZH, problem_rows
from .projects import STATUS_ZH, list_projects
from .store import Catalog
from .units import UnitDirectory

__all__ = ["build_report", "line_chart_svg", "render_html", "render_markdown", "write_report"]

_SEVERITIES = ("critical", "high", "medium", "low", "info")
_SEVERITY_COLOURS = {"critical": "#7f0000", "high": "#d7301f", "medium": "#fc8d59", "low": "#fdcc8a", "info": "#bdbdbd"}
_TREND_ZH = {"improved": "改善", "worsened": "恶化", "unchanged": "持平", "new": "新增"}
_CLASS_ZH = {"new": "新增", "persisting": "持续", "resolved": "已解决", "worsened": "恶化", "improved": "好转"}


def _headline_value(measurements: Sequence[Any]) -> tuple[float | None, str]:
    """The value that stands for the whole area: a city/district-level measurement if there is
    exactly one, else the mean of the units' values."""
    values = [m for m in measurements if m.value is not None]
    if not values:
        return None, ""
    top = [m for m in values if m.level == "district" or m.unit_id in ("city", "all")]
    if len(top) == 1:
        return float(top[0].value), top[0].unit_id
    return sum(float(m.value) for m in values) / len(values), "均值 mean"


def build_report(catalog: Catalog, run: str, *, units: UnitDirectory | None = None, worst: int = 20,
                 map_update: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the report shows, as plain data (also what ``--json`` prints)."""
    units = units or UnitDirectory()
    run_id = catalog.resolve_run(run)
    the_run = catalog.get_run(run_id)
    specs = catalog.specs(run_id) or catalog.specs()
    all_runs = [r for r in catalog.runs() if r.scope == the_run.scope]
    upto = [r for r in all_runs if (r.period, r.started_at) <= (the_run.period, the_run.started_at.isoformat())]
    # One run per period (the latest of each) makes the time series.
    series_runs: dict[str, Any] = {}
    for r in upto:
        series_runs[r.period] = r
    history = list(series_runs.values())
    measurements = catalog.measurements(run_id)
    by_indicator: dict[str, list[Any]] = {}
    for m in measurements:
        by_indicator.setdefault(m.indicator, []).append(m)
    problems = problem_rows(catalog, run_id, units)
    findings_per_indicator = Counter(p["indicator"] for p in problems)

    indicators = []
    for code in sorted(set(by_indicator) | set(the_run.indicators) | set(findings_per_indicator)):
        spec = specs.get(code)
        ms = by_indicator.get(code, [])
        value, basis = _headline_value(ms)
        threshold = next((m.threshold for m in ms if m.threshold is not None), None)
        if threshold is None and spec is not None and spec.thresholds:
            t = spec.thresholds.get("default") or next(iter(spec.thresholds.values()))
            threshold = t.value
        judged = [m for m in ms if m.passed is not None]
        status = the_run.indicators.get(code)
        indicators.append({
            "code": code, "name_zh": spec.name_zh if spec else code, "name_en": spec.name_en if spec else "",
            "category": spec.category if spec else "未分类", "level": spec.level if spec else None,
            "unit": spec.unit if spec else (ms[0].unit if ms else ""),
            "direction": spec.direction.value if spec else None, "value": value, "basis": basis,
            "threshold": threshold, "units_total": len(judged), "units_passed": sum(1 for m in judged if m.passed),
            "findings": findings_per_indicator.get(code, 0),
            "status": status.status if status else "ok", "error": status.error if status else None,
        })  # fmt: skip

    tally: dict[str, Counter[str]] = {}
    for p in problems:
        tally.setdefault(str(p["category"]), Counter())[str(p["severity"])] += 1
    order = {c: k for k, c in enumerate(CATEGORIES)}
    counts = {k: {s: tally[k].get(s, 0) for s in _SEVERITIES} for k in sorted(tally, key=lambda c: (order.get(c, 99), c))}

    trends: dict[str, list[tuple[str, float | None]]] = {}
    finding_counts = []
    for r in history:
        ms = catalog.measurements(r.id)
        grouped: dict[str, list[Any]] = {}
        for m in ms:
            grouped.setdefault(m.indicator, []).append(m)
        for item in indicators:
            trends.setdefault(str(item["code"]), []).append((r.period, _headline_value(grouped.get(str(item["code"]), []))[0]))
        finding_counts.append((r.period, float(r.findings)))

    previous = history[-2] if len(history) >= 2 else None
    change = None
    if previous is not None:
        d = diff_runs(catalog, previous.id, run_id)
        change = {"run_a": previous.id, "period_a": previous.period, "counts": d.counts(),
                  "by_indicator": d.by_indicator(),
                  "measurements": {k: {t: v[t] for t in ("improved", "worsened", "unchanged", "new")}
                                   for k, v in d.measurements.items()}}  # fmt: skip

    projects = list_projects(catalog)
    evaluations = {}
    for pid, resolved, verified, total, persisting in catalog.conn.execute(
        "SELECT project_id, resolved, verified, findings_total, persisting FROM project_evaluations WHERE run_id = ?",
        (run_id,),
    ):
        evaluations[pid] = {"resolved": resolved, "verified": verified, "total": total, "persisting": persisting}
    project_rows = [{"project_id": p.id, "name": p.name, "status": p.status, "category": p.category,
                     "findings": p.findings_count, "buildings": p.buildings_count, "measure": p.measure_zh,
                     "evaluation": evaluations.get(p.id)} for p in projects if p.period <= the_run.period]  # fmt: skip

    three_year = _three_year(history, trends, indicators, catalog) if _annual_triplet(history) else None
    return {
        "run": {"id": run_id, "scope": the_run.scope, "period": the_run.period, "profile": the_run.profile,
                "status": the_run.status, "started_at": the_run.started_at.isoformat(),
                "software_version": the_run.software_version, "crs": the_run.crs},
        "indicators": indicators,
        "counts": counts,
        "counts_by_level": _by_level(problems, specs),
        "total_findings": len(problems),
        "map": _map_data(catalog, run_id, problems),
        "worst": [{k: p[k] for k in ("finding_id", "indicator", "indicator_name", "severity", "message_zh",
                                     "value", "threshold", "unit", "district", "block", "community",
                                     "object_ids", "lon", "lat", "status")} for p in problems[:worst]],
        "trends": {k: v for k, v in trends.items()},
        "finding_counts": finding_counts,
        "change": change,
        "projects": project_rows,
        "project_status": dict(Counter(p.status for p in projects if p.period <= the_run.period)),
        "map_update": map_update,
        "three_year": three_year,
    }  # fmt: skip


def _map_data(catalog: Catalog, run_id: str, problems: Sequence[dict[str, Any]], limit: int = 4000) -> dict[str, Any]:
    """Points (lon, lat, severity) of the worst ``limit`` findings and the project footprints."""
    points = [(p["lon"], p["lat"], p["severity"]) for p in problems[:limit] if p["lon"] is not None]
    areas = []
    for pid, blob in catalog.conn.execute("SELECT project_id, geom FROM projects WHERE geom IS NOT NULL AND status != 'cancelled'"):
        geom = geometry_from_blob(blob)
        if geom is not None and geom.geom_type == "Polygon":
            areas.append((pid, [tuple(map(float, c)) for c in geom.exterior.coords]))
    return {"points": points, "projects": areas, "shown": len(points), "total": len(problems)}


def map_svg(data: dict[str, Any], *, width: int = 640, height: int = 480) -> str | None:
    """问题分布图: the findings (worst first, coloured by severity) and project footprints, lon/lat
    scaled by the cosine of the latitude; None when nothing has coordinates."""
    e = html.escape
    pts, areas = data["points"], data["projects"]
    xs = [p[0] for p in pts] + [c[0] for _, ring in areas for c in ring]
    ys = [p[1] for p in pts] + [c[1] for _, ring in areas for c in ring]
    if not xs:
        return None
    import math

    lo_x, hi_x, lo_y, hi_y = min(xs), max(xs), min(ys), max(ys)
    kx = math.cos(math.radians((lo_y + hi_y) / 2))
    span_x, span_y = max((hi_x - lo_x) * kx, 1e-6), max(hi_y - lo_y, 1e-6)
    pad, top = 10, 24
    scale = min((width - 2 * pad) / span_x, (height - top - pad) / span_y)
    height = int(top + pad + span_y * scale) + 1  # no empty band below a wide area

    def px(x: float, y: float) -> tuple[float, float]:
        return pad + (x - lo_x) * kx * scale, height - pad - (y - lo_y) * scale

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'font-family="sans-serif" font-size="11" role="img" aria-label="问题分布图">',
             f'<text x="{pad}" y="15" font-weight="bold">问题分布图 problem map ({data["shown"]} of {data["total"]} '
             'findings, worst first; project areas outlined)</text>']  # fmt: skip
    for pid, ring in areas:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (px(*c) for c in ring))
        parts.append(f'<polygon points="{path}" fill="#2b8cbe" fill-opacity="0.08" stroke="#2b8cbe"><title>{e(pid)}</title></polygon>')
    for x, y, sev in reversed(pts):  # worst drawn last, on top
        cx, cy = px(x, y)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{_SEVERITY_COLOURS.get(sev, "#999")}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _by_level(problems: Sequence[dict[str, Any]], specs: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Findings by the indicator's level (住房 building ... 城区 district) and severity."""
    out: dict[str, Counter[str]] = {}
    for p in problems:
        level = getattr(specs.get(p["indicator"]), "level", None) or "unknown"
        out.setdefault(level, Counter())[p["severity"]] += 1
    order = ["building", "community", "block", "district", "unknown"]
    return {k: {s: out[k].get(s, 0) for s in _SEVERITIES} for k in sorted(out, key=order.index)}


def _annual_triplet(history: Sequence[Any]) -> bool:
    years = [int(r.period) for r in history if str(r.period).isdigit()]
    return len(years) >= 3 and years[-1] - years[-3] == 2


def _three_year(history: Sequence[Any], trends: dict[str, list[tuple[str, float | None]]],
                indicators: Sequence[dict[str, Any]], catalog: Catalog) -> dict[str, Any]:  # fmt: skip
    window = history[-3:]
    periods = [r.period for r in window]
    rows = []
    for item in indicators:
        values = dict(trends.get(item["code"], []))
        first, last = values.get(periods[0]), values.get(periods[-1])
        trend = None
        if first is not None and last is not None:
            from ..model import Direction
            from .diff import _trend

            direction = Direction(item["direction"]) if item["direction"] else None
            trend = _trend(last - first, first, direction, item["threshold"])
        rows.append({"code": item["code"], "name_zh": item["name_zh"], "values": [values.get(p) for p in periods],
                     "change": None if first is None or last is None else last - first, "trend": trend})  # fmt: skip
    ids = [r.id for r in window]
    marks = ",".join("?" * len(ids))
    resolved = catalog.conn.execute(
        f"SELECT count(*) FROM project_findings WHERE status = 'resolved' AND resolved_in_run IN ({marks})", ids
    ).fetchone()[0]
    verified = catalog.conn.execute(
        f"SELECT count(*) FROM project_findings WHERE status = 'verified' AND verified_in_run IN ({marks})", ids
    ).fetchone()[0]
    done = catalog.conn.execute(
        f"SELECT count(*) FROM projects WHERE status = 'done' AND run_id IN ({marks})", ids
    ).fetchone()[0]
    started = catalog.conn.execute(f"SELECT count(*) FROM projects WHERE run_id IN ({marks})", ids).fetchone()[0]
    trend_count = Counter(r["trend"] for r in rows if r["trend"])
    return {"periods": periods, "findings": [r.findings for r in window], "indicators": rows,
            "improved": trend_count.get("improved", 0), "worsened": trend_count.get("worsened", 0),
            "unchanged": trend_count.get("unchanged", 0), "findings_resolved": resolved,
            "findings_verified": verified, "projects_generated": started, "projects_done": done}  # fmt: skip


# --- charts ----------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.0f}"
    return f"{value:.{digits}g}"


def line_chart_svg(series: Sequence[tuple[str, float | None]], *, title: str, threshold: float | None = None,
                   unit: str = "", width: int = 320, height: int = 160) -> str:  # fmt: skip
    """A small line chart (inline SVG) of values over periods, with the threshold dashed."""
    e = html.escape
    left, right, top, bottom = 44, 12, 24, 28
    pts = [(k, v) for k, (_, v) in enumerate(series) if v is not None]
    values = [v for _, v in pts] + ([threshold] if threshold is not None else [])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="10" role="img" aria-label="{e(title)}">',
             f'<text x="{left}" y="14" font-size="11" font-weight="bold">{e(title)}</text>']  # fmt: skip
    plot_w, plot_h = width - left - right, height - top - bottom
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>')
    if values:
        lo, hi = min(values), max(values)
        if hi == lo:
            lo, hi = lo - (abs(lo) * 0.1 or 1), hi + (abs(hi) * 0.1 or 1)
        n = max(1, len(series) - 1)

        def px(k: int) -> float:
            return left + (plot_w * k / n if len(series) > 1 else plot_w / 2)

        def py(v: float) -> float:
            return top + plot_h * (1 - (v - lo) / (hi - lo))

        for v in (lo, hi):
            parts.append(f'<text x="{left - 4}" y="{py(v) + 3:.1f}" text-anchor="end">{e(_fmt(v))}</text>')
        if threshold is not None:
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(threshold):.1f}" y2="{py(threshold):.1f}" '
                         'stroke="#d7301f" stroke-dasharray="4 3"/>')  # fmt: skip
        if len(pts) > 1:
            path = " ".join(f"{px(k):.1f},{py(v):.1f}" for k, v in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="#2b8cbe" stroke-width="2"/>')
        for k, v in pts:
            parts.append(f'<circle cx="{px(k):.1f}" cy="{py(v):.1f}" r="3" fill="#2b8cbe"><title>{e(series[k][0])}: '
                         f'{e(_fmt(v))} {e(unit)}</title></circle>')  # fmt: skip
        for k, (label, _) in enumerate(series):
            parts.append(f'<text x="{px(k):.1f}" y="{height - 10}" text-anchor="middle">{e(label)}</text>')
    else:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#999">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(counts: dict[str, dict[str, int]], *, title: str, width: int = 520) -> str:
    """Stacked horizontal bars: findings per category by severity (inline SVG)."""
    e = html.escape
    row_h, left, top = 22, 90, 24
    height = top + row_h * max(1, len(counts)) + 30
    total_max = max([sum(c.values()) for c in counts.values()] or [1]) or 1
    plot_w = width - left - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="11" role="img" aria-label="{e(title)}">',
             f'<text x="{left}" y="14" font-weight="bold">{e(title)}</text>']  # fmt: skip
    for k, (category, by_sev) in enumerate(counts.items()):
        y = top + k * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{e(category)}</text>')
        x = float(left)
        for sev in _SEVERITIES:
            n = by_sev.get(sev, 0)
            if not n:
                continue
            w = plot_w * n / total_max
            parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                         f'fill="{_SEVERITY_COLOURS[sev]}"><title>{e(category)} {SEVERITY_ZH[sev]}: {n}</title></rect>')  # fmt: skip
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}">{sum(by_sev.values())}</text>')
    ly = height - 12
    for k, sev in enumerate(_SEVERITIES):
        parts.append(f'<rect x="{left + k * 70}" y="{ly - 9}" width="10" height="10" fill="{_SEVERITY_COLOURS[sev]}"/>'
                     f'<text x="{left + k * 70 + 14}" y="{ly}">{SEVERITY_ZH[sev]}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def charts(data: dict[str, Any], limit: int = 24) -> dict[str, str]:
    """The report's charts by file name (``findings.svg``, ``categories.svg``, ``trend_<code>.svg``)."""
    out = {
        "findings.svg": line_chart_svg(data["finding_counts"], title="问题总数 findings per run"),
        "categories.svg": bar_chart_svg(data["counts"], title="各类别问题数 findings by category and severity"),
    }
    problem_map = map_svg(data["map"]) if data.get("map") else None
    if problem_map is not None:
        out["map.svg"] = problem_map
    for item in data["indicators"][:limit]:
        series = data["trends"].get(item["code"], [])
        if any(v is not None for _, v in series):
            out[f"trend_{_file_safe(item['code'])}.svg"] = line_chart_svg(
                series, title=f"{item['code']} {item['name_zh']}", threshold=item["threshold"], unit=item["unit"] or ""
            )
    return out


def _file_safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


# --- rendering -------------------------------------------------------------------------------------
def _sections(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables: (title, headers, rows of cell texts)."""
    out = []
    ind_rows = []
    for i in data["indicators"]:
        passed = f"{i['units_passed']}/{i['units_total']}" if i["units_total"] else "—"
        state = i["status"] if i["status"] == "ok" else f"{i['status']}: {(i['error'] or '').splitlines()[0] if i['error'] else ''}"
        ind_rows.append([i["code"], i["name_zh"], i["category"], LEVEL_ZH.get(i["level"] or "", "") or "",
                         _fmt(i["value"]), _fmt(i["threshold"]), i["unit"] or "", passed, str(i["findings"]), state])  # fmt: skip
    out.append(("指标与阈值 Indicators against thresholds",
                ["代码", "指标", "类别", "层级", "数值", "阈值", "单位", "达标单元", "问题数", "运行"], ind_rows))  # fmt: skip
    cat_rows = [[c, str(sum(v.values()))] + [str(v[s]) for s in _SEVERITIES] for c, v in data["counts"].items()]
    out.append(("问题分类统计 Findings by category and severity",
                ["类别", "合计"] + [SEVERITY_ZH[s] for s in _SEVERITIES], cat_rows))  # fmt: skip
    level_rows = [[LEVEL_ZH.get(k, k), str(sum(v.values()))] + [str(v[s]) for s in _SEVERITIES]
                  for k, v in data.get("counts_by_level", {}).items()]  # fmt: skip
    out.append(("按层级统计 Findings by level", ["层级", "合计"] + [SEVERITY_ZH[s] for s in _SEVERITIES], level_rows))
    worst_rows = [[w["indicator_name"], SEVERITY_ZH.get(w["severity"], w["severity"]), w["message_zh"] or "",
                   " ".join(x for x in (w["district"], w["block"], w["community"]) if x),
                   "；".join(w["object_ids"][:3]), "" if w["lon"] is None else f"{w['lon']:.6f}, {w['lat']:.6f}",
                   w["finding_id"]] for w in data["worst"]]  # fmt: skip
    out.append(("突出问题 Worst problems", ["指标", "程度", "问题", "位置", "对象", "经纬度", "编号"], worst_rows))
    change = data["change"]
    if change:
        c = change["counts"]
        out.append((f"较上次体检变化 Change since {change['period_a']} ({change['run_a']})",
                    ["新增", "持续", "已解决", "恶化", "好转", "按位置匹配"],
                    [[str(c["new"]), str(c["persisting"]), str(c["resolved"]), str(c["worsened"]), str(c["improved"]),
                      str(c["matched_by_position"])]]))  # fmt: skip
        rows = [[code] + [str(v[k]) for k in ("new", "persisting", "resolved", "worsened", "improved")]
                for code, v in change["by_indicator"].items()]  # fmt: skip
        out.append(("按指标变化 Change by indicator", ["指标", "新增", "持续", "已解决", "恶化", "好转"], rows))
        rows = [[code, str(v["improved"]), str(v["worsened"]), str(v["unchanged"]), str(v["new"])]
                for code, v in change["measurements"].items()]  # fmt: skip
        out.append(("单元指标变化 Unit values", ["指标", "改善单元", "恶化单元", "持平", "新增"], rows))
    if data["projects"]:
        rows = []
        for p in data["projects"]:
            ev = p["evaluation"]
            ev_text = f"{ev['resolved'] + ev['verified']}/{ev['total']} 已解决" if ev else ""
            rows.append([p["project_id"], p["name"], STATUS_ZH.get(p["status"], p["status"]), p["category"] or "",
                         str(p["findings"]), str(p["buildings"]), ev_text])  # fmt: skip
        out.append(("项目库 Projects", ["编号", "名称", "状态", "类别", "问题数", "建筑数", "本次评估"], rows))
    mu = data["map_update"]
    if mu:
        c = mu["counts"]
        out.append((f"地图更新 Map update {mu['epoch_a']} → {mu['epoch_b']}", ["新增 added", "消失 removed", "变化 changed", "未变 unchanged"],
                    [[str(c["added"]), str(c["removed"]), str(c["changed"]), str(c["unchanged"])]]))  # fmt: skip
    ty = data["three_year"]
    if ty:
        rows = [[r["code"], r["name_zh"], *[_fmt(v) for v in r["values"]], _fmt(r["change"]),
                 _TREND_ZH.get(r["trend"] or "", "—")] for r in ty["indicators"]]  # fmt: skip
        out.append((f"三年评估 Three-year evaluation {ty['periods'][0]}–{ty['periods'][-1]}",
                    ["代码", "指标", *ty["periods"], "变化", "趋势"], rows))  # fmt: skip
    return out


def _summary_lines(data: dict[str, Any]) -> list[str]:
    r = data["run"]
    lines = [f"体检批次 run {r['id']} · 年度 period {r['period']} · 方案 profile {r['profile']} · 状态 {r['status']}",
             f"问题总数 {data['total_findings']} findings; 指标 {len(data['indicators'])} indicators"]  # fmt: skip
    ty = data["three_year"]
    if ty:
        lines.append(
            f"三年评估 {ty['periods'][0]}–{ty['periods'][-1]}: 改善 {ty['improved']}、恶化 {ty['worsened']}、持平 "
            f"{ty['unchanged']} 项指标；问题数 {' → '.join(str(n) for n in ty['findings'])}；已解决 "
            f"{ty['findings_resolved']}、已核验 {ty['findings_verified']} 个问题；项目 {ty['projects_generated']} 个，"
            f"已完成 {ty['projects_done']} 个"
        )
    return lines


def render_markdown(data: dict[str, Any], chart_dir: str | None = None) -> str:
    """The report as Markdown; charts are linked from ``chart_dir`` when given."""
    r = data["run"]
    out = [f"# 城市体检报告 {r['scope']} {r['period']}", ""]
    out += [f"- {line}" for line in _summary_lines(data)] + [""]
    if chart_dir is not None:
        out += ["## 图表 Charts", ""]
        out += [f"![{name}]({chart_dir}/{name})" for name in charts(data)] + [""]
    for title, headers, rows in _sections(data):
        out += [f"## {title}", ""]
        if not rows:
            out += ["(无 none)", ""]
            continue
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "---|" * len(headers))
        for row in rows:
            out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in row) + " |")
        out.append("")
    return "\n".join(out)


def render_html(data: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline SVG charts, no scripts)."""
    e = html.escape
    r = data["run"]
    out = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>城市体检报告 {e(r['scope'])} {e(r['period'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px;vertical-align:top}th{background:#ddebf7}"
        "th,td.n{white-space:nowrap}"
        ".charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>",
        f"<h1>城市体检报告 {e(r['scope'])} {e(r['period'])}</h1><ul>",
    ]  # fmt: skip
    out += [f"<li>{e(line)}</li>" for line in _summary_lines(data)] + ["</ul>"]
    out.append('<h2>图表 Charts</h2><div class="charts">' + "".join(charts(data).values()) + "</div>")
    for title, headers, rows in _sections(data):
        out.append(f"<h2>{e(title)}</h2>")
        if not rows:
            out.append("<p>(无 none)</p>")
            continue
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>")
        # Short cells (a severity, a number, a code) never break inside a word.
        out += ["<tr>" + "".join(f'<td class="n">{e(c)}</td>' if len(str(c)) <= 16 else f"<td>{e(c)}</td>" for c in row)
                + "</tr>" for row in rows]  # fmt: skip
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(catalog: Catalog, run: str, out: str | os.PathLike[str], *, units: UnitDirectory | None = None,
                 map_update: dict[str, Any] | None = None) -> list[Path]:  # fmt: skip
    """Write ``<out>.html`` and ``<out>.md`` (with its charts in ``<out>_charts/``); returns the
    files written."""
    out = Path(out)
    base = out.with_suffix("") if out.suffix.lower() in (".html", ".htm", ".md") else out
    data = build_report(catalog, run, units=units, map_update=map_update)
    html_path, md_path = base.with_suffix(".html"), base.with_suffix(".md")
    chart_dir = base.parent / f"{base.name}_charts"
    chart_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in charts(data).items():
        atomic_write_bytes(chart_dir / name, svg.encode())
        written.append(chart_dir / name)
    atomic_write_bytes(html_path, render_html(data).encode())
    atomic_write_bytes(md_path, render_markdown(data, chart_dir.name).encode())
    return [html_path, md_path, *written]
