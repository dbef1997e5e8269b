"""The problem and task lists (问题清单, 任务清单) and measurements in the export folder.

When the run comes from the catalog and the catalog offers list writers, those write the lists (the
same XLSX/CSV the office uses). Otherwise the export writes ``problem_list.csv`` and, when the run
has measurements, ``measurements.csv`` itself: UTF-8 with a byte-order mark so that Excel shows the
Chinese headers, one row per finding sorted by indicator, severity and id. ``measurements.csv``
(every indicator value per spatial unit) is written for every run that has measurements.
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..model import Severity
from .manifest import LAYER_TITLES, layer_entry
from .run import RunData
from .style import SEVERITY_ZH

__all__ = ["write_run_lists"]

PROBLEM_HEADERS = [
    ("id", "问题编号"), ("indicator", "指标代码"), ("severity", "严重程度"), ("value", "数值"), ("threshold", "阈值"),
    ("unit", "单位"), ("status", "状态"), ("object_ids", "对象编号"), ("unit_id", "空间单元"), ("lon", "经度"),
    ("lat", "纬度"), ("observed_at", "发现时间"), ("valid_from", "有效期起"), ("valid_to", "有效期止"),
    ("message_zh", "问题描述"), ("message_en", "description"),
]
STATUS_ZH = {"open": "待处理", "planned": "已纳入项目", "in_progress": "整改中", "resolved": "已整改", "verified": "已核验"}


def _csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


def _catalog_lists(run: RunData, root: Path) -> list[dict[str, Any]] | None:
    if run.catalog is None:
        return None
    try:
        from ..catalog.lists import write_lists
    except ImportError:
        return None
    # deterministic as written: the catalog stamps its workbooks with the run's time
    written = write_lists(run.catalog, run.run_id, root)
    out = []
    base_dir = root.resolve()
    for path in sorted(Path(p).resolve() for p in written):
        rel = path.relative_to(base_dir).as_posix()
        layer_id, title = _table_id_title(path)
        out.append(layer_entry(layer_id, kind="table", path=rel, fmt=path.suffix[1:], version=None, crs=None,
                               extent_wgs84=None, time_range=None, feature_count=None, legend=None,
                               run_id=run.run_id, title=title))
    return out


def _table_id_title(path: Path) -> tuple[str, dict[str, str]]:
    """Layer id and title of a list file such as ``problem_list_未分区.xlsx``: ids stay ASCII
    (layers.json schema; platforms use them in URLs), so a district name that is not becomes a
    short hash in the id and stays readable in the title."""
    stem = path.stem
    kind = next((k for k in ("building_actions", "problem_list", "task_list") if stem.startswith(k)), stem)
    district = stem[len(kind):].strip("_")
    base = LAYER_TITLES.get(kind.replace("_", "-"), {"zh": kind, "en": kind})
    suffix = district if district.isascii() else f"d{zlib.crc32(district.encode()):08x}"
    layer_id = "-".join(p for p in (kind.replace("_", "-"), re.sub(r"[^A-Za-z0-9._-]", "-", suffix), path.suffix[1:]) if p)
    fmt = path.suffix[1:].upper()
    title = {"zh": f"{base['zh']} {district} ({fmt})".replace("  ", " ") if district else f"{base['zh']} ({fmt})",
             "en": f"{base['en']} {district} ({fmt})" if district else f"{base['en']} ({fmt})"}
    return layer_id, title


def write_run_lists(run: RunData, root: Path, write: Callable[[Path, bytes], None]) -> list[dict[str, Any]]:
    """Write the lists of ``run`` into ``root``; returns their manifest entries."""
    entries = _catalog_lists(run, root)
    if entries is None:
        entries = [_problem_list_csv(run, root, write)]
    if run.measurements:
        entries.append(_measurements_csv(run, root, write))
    return entries


def _problem_list_csv(run: RunData, root: Path, write: Callable[[Path, bytes], None]) -> dict[str, Any]:
    """problem_list.csv of a run without a catalog: one row per finding by indicator, severity, id."""
    rank = {s.value: s.rank for s in Severity}
    findings = sorted(run.findings, key=lambda f: (f.indicator, -rank[f.severity.value], f.id))
    rows = []
    for f in findings:
        rows.append([
            f.id, f.indicator, f"{SEVERITY_ZH[f.severity.value]} ({f.severity.value})",
            "" if f.value is None else f"{f.value:g}", "" if f.threshold is None else f"{f.threshold:g}",
            f.unit or "", STATUS_ZH.get(f.status.value, f.status.value), "; ".join(f.object_ids), f.unit_id or "",
            "" if f.lon is None else f"{f.lon:.8f}", "" if f.lat is None else f"{f.lat:.8f}",
            f.observed_at.isoformat(), f.valid_from.isoformat(), f.valid_to.isoformat() if f.valid_to else "",
            f.message_zh, f.message_en,
        ])
    write(root / "problem_list.csv", _csv_bytes([zh for _, zh in PROBLEM_HEADERS], rows))
    return layer_entry("problem-list", kind="table", path="problem_list.csv", fmt="csv", version=None, crs=None,
                       extent_wgs84=None, time_range=None, feature_count=len(rows), legend=None, run_id=run.run_id)


def _measurements_csv(run: RunData, root: Path, write: Callable[[Path, bytes], None]) -> dict[str, Any]:
    """measurements.csv: every indicator value per spatial unit of the run."""
    header = ["指标代码", "空间单元", "层级", "时期", "数值", "单位", "阈值", "是否达标"]
    rows = [[m.indicator, m.unit_id, m.level, m.period, "" if m.value is None else f"{m.value:g}", m.unit,
             "" if m.threshold is None else f"{m.threshold:g}", "" if m.passed is None else ("是" if m.passed else "否")]
            for m in sorted(run.measurements, key=lambda m: (m.indicator, m.unit_id, m.period))]
    write(root / "measurements.csv", _csv_bytes(header, rows))
    return layer_entry("measurements", kind="table", path="measurements.csv", fmt="csv", version=None, crs=None,
                       extent_wgs84=None, time_range=None, feature_count=len(rows), legend=None, run_id=run.run_id)
