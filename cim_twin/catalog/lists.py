"""Lists for people: the problem list (问题清单) and the task list (任务清单) of a run, per county or
district, as XLSX (Chinese headers, one sheet per category, frozen header row, autofilter) and CSV
(UTF-8 with a byte-order mark, so that Excel shows the Chinese text); and the project table that
offices edit and import back (``cim-twin projects export`` / ``import``).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..model import CATEGORIES, SEVERITY_ZH
from ..serialization import loads
from .actions import ACTION_ZH_LONG
from .projects import FINDING_STATUS_ZH, STATUS_ZH, list_projects, set_project_status
from .store import Catalog, CatalogError
from .units import UnitDirectory, block_of, district_of

__all__ = [
    "PROBLEM_COLUMNS",
    "PROJECT_COLUMNS",
    "TASK_COLUMNS",
    "export_projects",
    "import_projects",
    "problem_rows",
    "task_rows",
    "write_csv",
    "write_lists",
    "write_xlsx",
]

Column = tuple[str, str]  # (header, row key)

PROBLEM_COLUMNS: tuple[Column, ...] = (
    ("序号", "no"), ("问题编号", "finding_id"), ("指标代码", "indicator"), ("指标名称", "indicator_name"),
    ("类别", "category"), ("严重程度", "severity_zh"), ("问题描述", "message_zh"), ("指标值", "value"),
    ("阈值", "threshold"), ("单位", "unit"), ("区县", "county"), ("城区", "district"), ("街区", "block"),
    ("社区", "community"), ("对象编号", "object_ids"), ("经度", "lon"), ("纬度", "lat"), ("状态", "status_zh"),
    ("所属项目", "project_id"), ("体检年度", "period"), ("来源", "source"), ("Problem (en)", "message_en"),
)  # fmt: skip
TASK_COLUMNS: tuple[Column, ...] = (
    ("序号", "no"), ("项目编号", "project_id"), ("项目名称", "name"), ("类别", "category"), ("建议措施", "measures"),
    ("涉及指标", "indicators"), ("问题数", "findings"), ("建筑数", "buildings"), ("留", "retain"), ("改", "renovate"),
    ("拆", "demolish"), ("区县", "county"), ("城区", "district"), ("街区", "block"), ("面积(m²)", "area_m2"),
    ("优先级", "priority"), ("状态", "status_zh"), ("负责单位", "owner"), ("备注", "notes"), ("经度", "lon"),
    ("纬度", "lat"), ("生成批次", "run_id"),
)  # fmt: skip
ACTION_COLUMNS: tuple[Column, ...] = (
    ("序号", "no"), ("建筑编号", "building_id"), ("留改拆", "action_zh"), ("建议", "action_long"), ("理由", "reason_zh"),
    ("规则", "rule"), ("项目编号", "project_id"), ("项目名称", "project_name"), ("建成年代", "year_built"),
    ("危房等级", "danger_level"), ("保护建筑", "protected"), ("违法建设", "illegal"), ("相关问题", "findings"),
    ("区县", "county"), ("城区", "district"), ("Reason (en)", "reason_en"),
)  # fmt: skip
PROJECT_COLUMNS: tuple[Column, ...] = (
    ("项目编号", "project_id"), ("项目名称", "name"), ("状态", "status_zh"), ("负责单位", "owner"), ("备注", "notes"),
    ("类别", "category"), ("建议措施", "measures"), ("问题数", "findings"), ("建筑数", "buildings"),
    ("街区", "block"), ("面积(m²)", "area_m2"), ("优先级", "priority"), ("生成批次", "run_id"), ("status", "status"),
)  # fmt: skip


# --- writers ---------------------------------------------------------------------------------------
#: Created/modified date of a workbook that has no better date.
FIXED_STAMP = "2000-01-01T00:00:00Z"
_W3CDTF = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "；".join(str(v) for v in value)
    if isinstance(value, float):
        return round(value, 6)
    return value


def write_csv(path: Path, columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> Path:
    """CSV in UTF-8 with BOM (Excel reads the Chinese correctly), written atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([h for h, _ in columns])
            for row in rows:
                w.writerow(["" if (v := _cell(row.get(k))) is None else v for _, k in columns])

    _atomic(path, write)
    return path


def _sheet_title(name: str, taken: set[str]) -> str:
    title = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "Sheet"
    base, n = title, 2
    while title in taken:
        title = f"{base[:28]}~{n}"
        n += 1
    taken.add(title)
    return title


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[Column], Sequence[dict[str, Any]]]], *,
               stamp: str = FIXED_STAMP, choices: dict[str, Sequence[str]] | None = None) -> Path:  # fmt: skip
    """An XLSX workbook: one sheet per ``(title, columns, rows)``, bold frozen header, autofilter,
    column widths fitted to the content; written atomically and deterministically: the same sheets
    and ``stamp`` (W3C date-time, the document's created/modified date, e.g. the run's end) give
    the same bytes, since openpyxl's own clock and the zip entry times are replaced. ``choices``
    (row key -> allowed values) gives those columns a drop-down list in every data row."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    # Write-only mode streams rows instead of keeping a cell object per value: about twice as
    # fast on the tens of thousands of rows of a city's lists.
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    bold, fill, middle = Font(bold=True), PatternFill("solid", fgColor="DDEBF7"), Alignment(vertical="center")
    for title, columns, rows in sheets:
        ws = wb.create_sheet(_sheet_title(title, taken))
        # Widths, frozen header and filter are sheet properties: set before the rows stream out.
        for c, (header, key) in enumerate(columns, start=1):
            sample = [header] + [str(_cell(r.get(key)) or "") for r in rows[:200]]
            width = max(_display_width(s) for s in sample)
            ws.column_dimensions[get_column_letter(c)].width = min(60, max(6, width + 2))
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
        for c, (_, key) in enumerate(columns, start=1):
            if choices and key in choices and rows:
                from openpyxl.worksheet.datavalidation import DataValidation

                letter = get_column_letter(c)
                listed = DataValidation(type="list", formula1='"' + ",".join(choices[key]) + '"', allow_blank=True,
                                        showErrorMessage=True, error="请从列表中选择 choose from the list")  # fmt: skip
                listed.add(f"{letter}2:{letter}{len(rows) + 1}")
                ws.data_validations.append(listed)
        header_cells = []
        for header, _ in columns:
            cell = WriteOnlyCell(ws, value=header)
            cell.font, cell.fill, cell.alignment = bold, fill, middle
            header_cells.append(cell)
        ws.append(header_cells)
        keys = [k for _, k in columns]
        for row in rows:
            ws.append([_cell(row.get(k)) for k in keys])
    if not sheets:
        wb.create_sheet("空")

    def write(tmp: Path) -> None:
        buffer = io.BytesIO()
        wb.save(buffer)
        tmp.write_bytes(_stable_zip(buffer.getvalue(), stamp))

    _atomic(path, write)
    return path


def _stable_zip(data: bytes, stamp: str) -> bytes:
    """The XLSX ``data`` with fixed zip entry times and ``stamp`` as its created/modified date."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            entry = zin.read(info)
            if info.filename == "docProps/core.xml":
                entry = _W3CDTF.sub(rb"\g<1>" + stamp.encode() + rb"\g<2>", entry)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            zout.writestr(fixed, entry)
    return out.getvalue()


def _w3c(when: datetime | str | None) -> str:
    """``2024-05-01T08:00:00Z`` from a time or a stored ISO time (the fixed stamp for None)."""
    if not when:
        return FIXED_STAMP
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


# --- rows ------------------------------------------------------------------------------------------
def _place(units: UnitDirectory, unit_id: str | None) -> dict[str, Any]:
    parts = (unit_id or "").split("-")
    return {
        "county": units.county(unit_id) or "",
        # Findings more than 250 m from every unit keep none (see the runner); the list says so.
        "district": units.district_label(unit_id) if unit_id else "未分区（不在任何空间单元内）",
        "block": units.name(block_of(unit_id)) if len(parts) >= 2 else "",
        "community": units.name(unit_id) if len(parts) >= 3 else "",
    }


def problem_rows(catalog: Catalog, run: str, units: UnitDirectory | None = None) -> list[dict[str, Any]]:
    """One dict per finding of the run, worst first (severity, then score), keys as in
    :data:`PROBLEM_COLUMNS` plus ``district_id``."""
    units = units or UnitDirectory()
    run_id = catalog.resolve_run(run)
    specs = catalog.specs(run_id) or catalog.specs()
    rows = catalog.conn.execute(
        "SELECT finding_id, indicator, category, severity, severity_rank, score, message_zh, message_en, value, "
        "threshold, unit, unit_id, object_ids, lon, lat, status, project_id, period, source FROM findings "
        "WHERE run_id = ? ORDER BY severity_rank DESC, score DESC, indicator, finding_id",
        (run_id,),
    ).fetchall()
    out = []
    for no, r in enumerate(rows, start=1):
        spec = specs.get(r[1])
        out.append({
            "no": no, "finding_id": r[0], "indicator": r[1],
            "indicator_name": spec.name_zh if spec else r[1],
            "category": r[2] or (spec.category if spec else "未分类"),
            "severity": r[3], "severity_zh": SEVERITY_ZH.get(r[3], r[3]), "score": r[5], "message_zh": r[6] or r[7],
            "message_en": r[7], "value": r[8], "threshold": r[9], "unit": r[10], "unit_id": r[11],
            "object_ids": loads(r[12]), "lon": None if r[13] is None else round(r[13], 7),
            "lat": None if r[14] is None else round(r[14], 7), "status": r[15],
            "status_zh": FINDING_STATUS_ZH.get(r[15], r[15]), "project_id": r[16], "period": r[17], "source": r[18],
            "district_id": district_of(r[11]), **_place(units, r[11]),
        })  # fmt: skip
    return out


def task_rows(catalog: Catalog, run: str | None = None, units: UnitDirectory | None = None
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """Project rows and 留改拆 rows: every project not cancelled (those generated from ``run``
    when given, plus unfinished ones of earlier runs)."""
    units = units or UnitDirectory()
    projects = [p for p in list_projects(catalog) if p.status != "cancelled"]
    if run is not None:
        run_id = catalog.resolve_run(run)
        period = catalog.get_run(run_id).period
        projects = [p for p in projects if p.run_id == run_id or (p.period <= period and p.status != "done")]
    tasks: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for p in projects:
        count = Counter(a.action for a in p.actions)
        tasks.append({
            "project_id": p.id, "name": p.name, "category": p.category,
            "measures": [m["zh"] for m in p.measures], "indicators": p.indicators, "findings": p.findings_count,
            "buildings": p.buildings_count, "retain": count.get("retain", 0), "renovate": count.get("renovate", 0),
            "demolish": count.get("demolish", 0), "area_m2": p.area_m2, "priority": p.priority,
            "status": p.status, "status_zh": STATUS_ZH.get(p.status, p.status), "owner": p.owner, "notes": p.notes,
            "lon": p.lon, "lat": p.lat, "run_id": p.run_id, "district_id": p.district_id, "unit_id": p.unit_id,
            **_place(units, p.unit_id),
        })  # fmt: skip
        for a in p.actions:
            facts = a.facts
            actions.append({
                "building_id": a.building_id, "action": a.action, "action_zh": a.action_zh if hasattr(a, "action_zh") else "",
                "action_long": ACTION_ZH_LONG.get(a.action, a.action), "reason_zh": a.reason_zh, "reason_en": a.reason_en,
                "rule": a.rule, "project_id": p.id, "project_name": p.name, "year_built": facts.get("year_built"),
                "danger_level": facts.get("danger_level"), "protected": _yes(facts.get("protected")),
                "illegal": _yes(facts.get("illegal")), "findings": facts.get("findings", []),
                "category": p.category, "district_id": p.district_id, **_place(units, p.unit_id),
            })  # fmt: skip
    tasks.sort(key=lambda t: (-(t["priority"] or 0), t["project_id"]))
    for no, t in enumerate(tasks, start=1):
        t["no"] = no
    order = {"demolish": 0, "renovate": 1, "retain": 2}
    actions.sort(key=lambda a: (order.get(a["action"], 3), a["project_id"], a["building_id"]))
    for no, row in enumerate(actions, start=1):
        row["no"] = no
    return tasks, actions


def _yes(value: Any) -> str:
    return "" if value is None else ("是" if value else "否")


def _by_category(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r.get("category") or "未分类"].append(r)
    order = {c: k for k, c in enumerate(CATEGORIES)}
    return sorted(groups.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))


def _renumber(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "no": k} for k, r in enumerate(rows, start=1)]


def _summary(rows: list[dict[str, Any]]) -> tuple[Sequence[Column], list[dict[str, Any]]]:
    levels = ("critical", "high", "medium", "low", "info")
    columns: list[Column] = [("类别", "category"), ("合计", "total")] + [(SEVERITY_ZH[s], s) for s in levels]
    out = []
    for category, group in _by_category(rows):
        c = Counter(r["severity"] for r in group)
        out.append({"category": category, "total": len(group), **{s: c.get(s, 0) for s in levels}})
    c = Counter(r["severity"] for r in rows)
    out.append({"category": "合计", "total": len(rows), **{s: c.get(s, 0) for s in levels}})
    return columns, out


def write_lists(
    catalog: Catalog,
    run: str,
    out_dir: str | os.PathLike[str],
    *,
    by: str = "district",
    units: UnitDirectory | None = None,
    formats: Sequence[str] = ("xlsx", "csv"),
) -> list[Path]:
    """Write the problem list and the task list of a run: one set for the whole area
    (``problem_list.xlsx`` ...) and one per county or district (``problem_list_<name>.xlsx``).

    Parameters
    ----------
    by:
        ``district``, ``county`` (from the unit layers' ``county`` property) or ``none``.
    formats:
        Any of ``xlsx`` and ``csv``.

    Returns
    -------
    list[Path]
        The files written.
    """
    if by not in ("district", "county", "none"):
        raise ConfigError(f"cannot group lists by {by!r}", hint="use district, county or none")
    units = units or UnitDirectory()
    out = Path(out_dir)
    the_run = catalog.get_run(catalog.resolve_run(run))
    stamp = _w3c(the_run.finished_at or the_run.started_at)
    problems = problem_rows(catalog, run, units)
    tasks, actions = task_rows(catalog, run, units)

    def group_key(row: dict[str, Any]) -> str:
        if by == "county":
            return row.get("county") or row.get("district_id") or "未分区"
        return row.get("district_id") or "未分区"

    groups: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]] = [("", problems, tasks, actions)]
    if by != "none":
        keys = sorted({group_key(r) for r in problems} | {group_key(t) for t in tasks})
        for key in keys:
            groups.append((key, _renumber([r for r in problems if group_key(r) == key]),
                           _renumber([t for t in tasks if group_key(t) == key]),
                           _renumber([a for a in actions if group_key(a) == key])))  # fmt: skip
    written: list[Path] = []
    for key, prob, task, act in groups:
        suffix = f"_{_safe_name(key)}" if key else ""
        if "xlsx" in formats:
            sheets: list[tuple[str, Sequence[Column], Sequence[dict[str, Any]]]] = [("汇总", *_summary(prob))]
            sheets += [(cat, PROBLEM_COLUMNS, _renumber(rows)) for cat, rows in _by_category(prob)]
            written.append(write_xlsx(out / f"problem_list{suffix}.xlsx", sheets, stamp=stamp))
            task_sheets: list[tuple[str, Sequence[Column], Sequence[dict[str, Any]]]] = [
                (cat, TASK_COLUMNS, _renumber(rows)) for cat, rows in _by_category(task)
            ]
            task_sheets.append(("留改拆", ACTION_COLUMNS, act))
            written.append(write_xlsx(out / f"task_list{suffix}.xlsx", task_sheets, stamp=stamp))
        if "csv" in formats:
            written.append(write_csv(out / f"problem_list{suffix}.csv", PROBLEM_COLUMNS, prob))
            written.append(write_csv(out / f"task_list{suffix}.csv", TASK_COLUMNS, task))
            written.append(write_csv(out / f"building_actions{suffix}.csv", ACTION_COLUMNS, act))
    return written


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text) or "unnamed"


# --- project table round trip ----------------------------------------------------------------------
def _project_table(catalog: Catalog) -> list[dict[str, Any]]:
    rows = []
    for p in list_projects(catalog):
        rows.append({
            "project_id": p.id, "name": p.name, "status": p.status, "status_zh": STATUS_ZH.get(p.status, p.status),
            "owner": p.owner or "", "notes": p.notes or "", "category": p.category,
            "measures": [m["zh"] for m in p.measures], "findings": p.findings_count, "buildings": p.buildings_count,
            "block": p.unit_id, "area_m2": p.area_m2, "priority": p.priority, "run_id": p.run_id,
        })  # fmt: skip
    return rows


def export_projects(catalog: Catalog, path: str | os.PathLike[str]) -> Path:
    """Write the project library as XLSX or CSV (by suffix) for editing: change 状态 (status),
    负责单位 (owner) or 备注 (notes) and import it back."""
    path = Path(path)
    rows = _project_table(catalog)
    if path.suffix.lower() == ".csv":
        return write_csv(path, PROJECT_COLUMNS, rows)
    latest = catalog.conn.execute("SELECT max(updated_at) FROM projects").fetchone()[0]
    return write_xlsx(path, [("项目库", PROJECT_COLUMNS, rows)], stamp=_w3c(latest),
                      choices={"status_zh": list(STATUS_ZH.values()), "status": list(STATUS_ZH)})


_ID_HEADERS = ("项目编号", "project_id", "id")
_STATUS_HEADERS = ("状态", "status_zh")
_OWNER_HEADERS = ("负责单位", "owner")
_NOTES_HEADERS = ("备注", "notes")


def _read_table(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text))
        table = list(reader)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        ws = next((s for s in wb.worksheets if any(
            str(c.value).strip() in _ID_HEADERS for c in next(s.iter_rows(min_row=1, max_row=1), ()))), None)  # fmt: skip
        if ws is None:
            raise ConfigError("no sheet has a 项目编号 (project_id) column", path=path,
                              hint="import the file written by `cim-twin projects export`")  # fmt: skip
        table = [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
    else:
        raise ConfigError(f"cannot import {path.suffix or 'files without a suffix'}", path=path,
                          hint="give an .xlsx or .csv file")  # fmt: skip
    if not table:
        return []
    header = [str(h).strip() for h in table[0]]
    return [(k, dict(zip(header, row, strict=False))) for k, row in enumerate(table[1:], start=2)]


def _first(row: dict[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


def import_projects(catalog: Catalog, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Apply an edited project table (XLSX or CSV): status, owner and notes per project id.

    Returns ``{"changed": [ids], "unchanged": n}``.

    Raises
    ------
    ConfigError
        A row names an unknown project or status (the message gives the row); nothing is applied
        then.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("file not found", path=path)
    known = {p.id: p for p in list_projects(catalog)}
    updates = []
    for line, row in _read_table(path):
        pid = _first(row, _ID_HEADERS)
        if pid is None:
            continue
        pid = str(pid).strip()
        if pid not in known:
            raise ConfigError(f"unknown project {pid!r}", path=path, line=line,
                              hint="see `cim-twin projects list`")  # fmt: skip
        status_text = _first(row, _STATUS_HEADERS) or row.get("status") or known[pid].status
        english = row.get("status")
        # The Chinese column is the one people edit; the English one is a fallback for scripts.
        if english and str(english).strip() != known[pid].status and str(status_text) == STATUS_ZH.get(known[pid].status):
            status_text = english
        try:
            from .projects import _status_from_text

            status = _status_from_text(str(status_text))
        except CatalogError as exc:
            raise ConfigError(exc.message, path=path, line=line, hint=exc.hint) from exc
        owner = _first(row, _OWNER_HEADERS)
        notes = _first(row, _NOTES_HEADERS)
        updates.append((pid, status, None if owner is None else str(owner), None if notes is None else str(notes)))
    changed = [pid for pid, status, owner, notes in updates
               if set_project_status(catalog, pid, status, owner=owner, notes=notes)]  # fmt: skip
    return {"changed": changed, "unchanged": len(updates) - len(changed)}
