"""``cim-twin indicators``: every registered indicator spec."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "indicators",
        parents=[common],
        help="list every registered indicator: code, names, category, level, unit, thresholds, plugin",
        description="List the indicator specs of all loaded plugins (the codes a profile and "
        "`cim-twin check --indicators` accept).",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of the full specs")
    p.add_argument("--category", help="only this category (e.g. 安全韧性)")
    p.add_argument("--level", choices=("building", "community", "block", "district"), help="only this level")
    p.add_argument("--project", help="also load the plugins named in this twin.toml ([plugins])")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...model import CATEGORY_EN
    from ...serialization import dumps_pretty
    from .plugins import loaded_host

    host = loaded_host(args.project)
    rows = []
    for code in sorted(host.indicators):
        indicator = host.indicators[code]
        spec = indicator.spec
        if args.category and args.category not in (spec.category, CATEGORY_EN[spec.category]):
            continue
        if args.level and spec.level != args.level:
            continue
        rows.append((spec, indicator.plugin_name))
    if args.json:
        out = [{**spec.model_dump(mode="json"), "plugin": plugin} for spec, plugin in rows]
        sys.stdout.buffer.write(dumps_pretty(out))
        return 0
    if not rows:
        print("no indicators registered (install an indicator plugin; see docs/plugins.md)")
        return 0
    for spec, plugin in rows:
        default = spec.thresholds.get("default")
        threshold = f"  threshold {default.value:g}" if default is not None and default.value is not None else ""
        print(f"{spec.code:<22} {spec.category} {spec.level:<9} [{spec.unit}] {spec.name_zh} / {spec.name_en}"
              f"{threshold}  ({plugin})")
    print(f"{len(rows)} indicators")
    return 0
