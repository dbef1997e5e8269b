"""Text of the viewer's info panel: a picked object (id, attributes, findings) and a focused
finding. Plain strings, so they are tested without GL."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime

from ..model import ProblemPoint
from ..scene import CityObject
from .colors import SEVERITY_LABELS, label

__all__ = ["describe_finding", "describe_object", "finding_line", "format_value", "wrap_text"]

#: Lines of attributes and findings the panel shows before "... N more".
MAX_ATTRIBUTE_LINES = 12
MAX_FINDING_LINES = 8
_WIDTH = 64


def format_value(value: object) -> str:
    """An attribute value as short text (numbers rounded, dates ISO, long text cut)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value[:4]) + (" ..." if len(value) > 4 else "")
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in list(value.items())[:4])
    text = str(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _window(f: ProblemPoint) -> str:
    start = f.valid_from.date().isoformat()
    end = f.valid_to.date().isoformat() if f.valid_to is not None else "…"
    return f"{start} – {end}"


def finding_line(f: ProblemPoint, bilingual: bool = True) -> str:
    """One line: ``[严重 high] N-PARK 0.42 % (threshold 0.8) message``."""
    sev = label(SEVERITY_LABELS[f.severity], bilingual)
    value = ""
    if f.value is not None:
        value = f" {format_value(float(f.value))}{(' ' + f.unit) if f.unit else ''}"
        if f.threshold is not None:
            value += f" ({'阈值 ' if bilingual else ''}threshold {format_value(float(f.threshold))})"
    message = f.message_zh if bilingual and f.message_zh else f.message_en
    return f"[{sev}] {f.indicator}{value}{(' ' + message) if message else ''}"


def describe_object(
    obj: CityObject,
    findings: Sequence[ProblemPoint] = (),
    bilingual: bool = True,
) -> str:
    """Panel text of a picked object: id, kind, key quantities, attributes, then its findings
    (worst first, as given)."""
    lines = [f"{obj.kind} {obj.id}"]
    facts = []
    if obj.height_m is not None:
        facts.append(f"{'高度 ' if bilingual else ''}height {obj.height_m:.1f} m")
    if obj.storeys is not None:
        facts.append(f"{'层数 ' if bilingual else ''}storeys {obj.storeys}")
    if obj.year_built is not None:
        facts.append(f"{'建成 ' if bilingual else ''}built {obj.year_built}")
    if obj.footprint_area_m2 is not None:
        facts.append(f"{'占地 ' if bilingual else ''}footprint {obj.footprint_area_m2:.0f} m²")
    if facts:
        lines.append(" · ".join(facts))
    if obj.address is not None and str(obj.address):
        lines.append(f"{'地址 ' if bilingual else ''}address {obj.address}")
    attrs = [(k, v) for k, v in obj.attributes.items() if k != "address"]
    attrs += list(obj.generic_attributes.items())
    for name, value in attrs[:MAX_ATTRIBUTE_LINES]:
        lines.append(f"  {name}: {format_value(value)}")
    if len(attrs) > MAX_ATTRIBUTE_LINES:
        lines.append(f"  ... {len(attrs) - MAX_ATTRIBUTE_LINES} more attributes")
    if findings:
        lines.append(f"{'问题 ' if bilingual else ''}findings: {len(findings)}")
        for f in findings[:MAX_FINDING_LINES]:
            lines.append("  " + finding_line(f, bilingual))
        if len(findings) > MAX_FINDING_LINES:
            lines.append(f"  ... {len(findings) - MAX_FINDING_LINES} more")
    else:
        lines.append("无问题 no findings" if bilingual else "no findings")
    return "\n".join(lines)


def describe_finding(f: ProblemPoint, position: int | None = None, total: int | None = None,
                     bilingual: bool = True) -> str:
    """Panel text of the finding the camera flew to: rank in the worst-first order, severity,
    value against threshold, objects, unit, validity, status and message."""
    head = f"#{position} / {total}  " if position is not None and total is not None else ""
    lines = [head + finding_line(f, bilingual), f"id {f.id}"]
    if f.object_ids:
        more = f" (+{len(f.object_ids) - 3})" if len(f.object_ids) > 3 else ""
        lines.append(f"{'对象 ' if bilingual else ''}objects {', '.join(f.object_ids[:3])}{more}")
    if f.unit_id:
        lines.append(f"{'单元 ' if bilingual else ''}unit {f.unit_id}")
    lines.append(f"{'有效期 ' if bilingual else ''}valid {_window(f)} · {'状态 ' if bilingual else ''}status {f.status.value}")
    if f.lon is not None and f.lat is not None:
        lines.append(f"lon {f.lon:.6f} lat {f.lat:.6f}")
    if bilingual and f.message_zh and f.message_en:
        lines.append(f.message_en)
    return "\n".join(lines)


def _cell_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def wrap_text(text: str, width: int) -> str:
    """Wrap each line at ``width`` columns (Chinese characters count two), continuation lines
    indented, breaking at a space where one is near, else anywhere (Chinese has no spaces)."""
    out: list[str] = []
    for line in text.split("\n"):
        while sum(_cell_width(c) for c in line) > width:
            used, cut = 0, 0
            for i, ch in enumerate(line):
                used += _cell_width(ch)
                if used > width:
                    cut = i
                    break
            space = line.rfind(" ", 0, cut)
            if space > cut * 0.6:
                cut = space
            out.append(line[:cut].rstrip())
            line = "    " + line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)
