"""problems.czml: the findings for a time-aware client (CesiumJS ``CzmlDataSource``).

Each finding is one packet shown over its validity window (``availability`` from ``valid_from`` to
``valid_to``; an open window ends at the end of the run's period, else one year after it starts),
a point coloured by severity at its lon/lat/ellipsoidal height, with its properties and a short HTML
description. The document packet's clock spans all windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from ..model import ProblemPoint
from ..serialization import dumps_pretty
from .points import finding_positions, finding_rows
from .style import SEVERITY_COLORS

__all__ = ["problems_czml"]

_PIXELS = {"info": 8, "low": 9, "medium": 10, "high": 12, "critical": 14}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _window(f: ProblemPoint) -> tuple[datetime, datetime]:
    end = f.valid_to
    if end is None:
        end = f.valid_from + timedelta(days=365)
    return f.valid_from, end


def problems_czml(findings: list[ProblemPoint], scene_crs: Any, *, name: str = "problems") -> bytes:
    """The CZML document of ``findings`` (sorted by id)."""
    findings = sorted(findings, key=lambda f: f.id)
    packets: list[dict[str, Any]] = []
    doc: dict[str, Any] = {"id": "document", "name": name, "version": "1.0"}
    if findings:
        windows = [_window(f) for f in findings]
        start, end = min(w[0] for w in windows), max(w[1] for w in windows)
        doc["clock"] = {"interval": f"{_iso(start)}/{_iso(end)}", "currentTime": _iso(start), "multiplier": 86400,
                        "range": "LOOP_STOP", "step": "SYSTEM_CLOCK_MULTIPLIER"}
    packets.append(doc)
    if not findings:
        return dumps_pretty(packets)
    pos = finding_positions(findings, scene_crs)
    for f, row, p, (start, end) in zip(findings, finding_rows(findings), pos, windows, strict=True):
        rgba = list(SEVERITY_COLORS[f.severity.value])
        value = "" if f.value is None else f"{f.value:g} {f.unit or ''}"
        description = (
            f"<p><b>{escape(f.indicator)}</b> {escape(f.severity.value)} ({escape(row['severity_zh'])})</p>"
            f"<p>{escape(f.message_zh)}<br>{escape(f.message_en)}</p>"
            f"<p>value {escape(value)}; threshold {escape('' if f.threshold is None else f'{f.threshold:g}')}</p>"
            f"<p>objects: {escape(', '.join(f.object_ids))}</p>"
        )
        packets.append({
            "id": f.id,
            "name": f"{f.indicator} {f.severity.value}",
            "availability": f"{_iso(start)}/{_iso(end)}",
            "description": description,
            "position": {"cartographicDegrees": [round(float(p[0]), 8), round(float(p[1]), 8), round(float(p[2]), 3)]},
            "point": {"color": {"rgba": rgba}, "pixelSize": _PIXELS[f.severity.value],
                      "outlineColor": {"rgba": [255, 255, 255, 255]}, "outlineWidth": 1},
            "properties": {k: v for k, v in row.items() if v is not None},
        })
    return dumps_pretty(packets)
