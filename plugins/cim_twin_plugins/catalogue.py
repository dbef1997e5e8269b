"""The indicator catalogue of docs/indicators.md, generated from the registered specs.

The part of docs/indicators.md between the two marker comments is rewritten from the
:class:`~cim_twin.model.IndicatorSpec` of every indicator this package registers, so the page
never disagrees with the code (a test fails when it is out of date). Refresh it with::

    python -m cim_twin_plugins.catalogue docs/indicators.md
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from cim_twin.indicators.api import Indicator
from cim_twin.model import CATEGORY_EN, LEVEL_ZH, IndicatorSpec, Threshold

from . import PLUGIN_MODULES

__all__ = ["BEGIN", "END", "first_party_indicators", "render_catalogue", "update_docs"]

BEGIN = "<!-- BEGIN GENERATED CATALOGUE (python -m cim_twin_plugins.catalogue docs/indicators.md) -->"
END = "<!-- END GENERATED CATALOGUE -->"

_DIRECTION = {
    "higher_is_better": "higher is better",
    "lower_is_better": "lower is better",
    "in_band": "within a band",
    "count": "every occurrence is a finding",
}


def first_party_indicators() -> list[tuple[str, Indicator]]:
    """``(plugin name, indicator)`` for everything this package registers, through the same
    ``register_indicators`` hooks the plugin host calls."""
    out: list[tuple[str, Indicator]] = []
    for name, module_name in PLUGIN_MODULES.items():
        module = importlib.import_module(module_name)
        found: list[Indicator] = []
        module.register_indicators(register=found.append)
        out.extend((name, ind) for ind in found)
    return out


def _threshold_text(t: Threshold) -> str:
    if t.value is not None:
        text = f"{t.value:g}"
    elif t.low is not None or t.high is not None:
        text = f"{'' if t.low is None else f'{t.low:g}'}–{'' if t.high is None else f'{t.high:g}'}"
    else:
        text = "—"
    return f"{text} {t.unit}".strip() if t.unit and t.unit not in ("ratio", "") else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_catalogue(entries: list[tuple[str, IndicatorSpec]]) -> str:
    """Markdown for the specs: an overview table, then one section per indicator."""
    lines = [
        BEGIN,
        "",
        "## Catalogue",
        "",
        "| code | 指标 | indicator | category | level | unit | direction | default | plugin |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for plugin, spec in entries:
        default = spec.thresholds.get("default")
        lines.append(
            f"| `{spec.code}` | {_cell(spec.name_zh)} | {_cell(spec.name_en)} | {spec.category} {spec.category_en} | "
            f"{spec.level} ({LEVEL_ZH[spec.level]}) | {spec.unit} | {_DIRECTION[spec.direction.value]} | "
            f"{_threshold_text(default) if default else '—'} | {plugin} |"
        )
    for plugin, spec in entries:
        lines += [
            "",
            f"### `{spec.code}` {spec.name_zh} — {spec.name_en}",
            "",
            f"- category: {spec.category} ({CATEGORY_EN[spec.category]}); level: {spec.level} ({LEVEL_ZH[spec.level]}); "
            f"unit: {spec.unit}; {_DIRECTION[spec.direction.value]}; cycle: {spec.cycle}; "
            f"{'national' if spec.national else 'local'} indicator; plugin `{plugin}`",
            f"- data: {'; '.join(spec.data_needed) if spec.data_needed else '—'}",
        ]
        if spec.description_en:
            lines.append(f"- {spec.description_en}")
        if spec.description_zh:
            lines.append(f"- {spec.description_zh}")
        if spec.thresholds:
            lines += ["", "| threshold | value | source |", "|---|---|---|"]
            for name, t in spec.thresholds.items():
                lines.append(f"| `{name}` | {_cell(_threshold_text(t))} | {_cell(t.source)} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def update_docs(path: str | Path, *, check: bool = False) -> bool:
    """Rewrite the generated part of ``path``; with ``check`` only compare.

    Returns True when the file is (or now is) up to date; with ``check`` False when it is not.

    Raises
    ------
    ValueError: the file lacks the two marker comments.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{p}: the catalogue markers are missing ({BEGIN!r} ... {END!r})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = head + render_catalogue([(plugin, ind.spec) for plugin, ind in first_party_indicators()]) + tail.lstrip("\n")
    if fresh == text:
        return True
    if check:
        return False
    p.write_text(fresh, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cim_twin_plugins.catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="docs/indicators.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is out of date, change nothing")
    args = parser.parse_args(argv)
    ok = update_docs(args.path, check=args.check)
    if not ok:
        print(f"{args.path} is out of date: run python -m cim_twin_plugins.catalogue {args.path}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
