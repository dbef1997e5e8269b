"""``cim-twin diff RUN_A RUN_B``: what changed between two check runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...catalog.defaults import MATCH_RADIUS_M as DEFAULT_RADIUS_M
    from ...catalog.locate import add_catalog_options

    p = sub.add_parser(
        "diff",
        parents=[common],
        help="compare two runs: new, persisting, resolved, worsened and improved findings",
        description="Compare two runs of the catalog. Findings are matched by their stable key "
        "(indicator + object or unit) and, where object ids changed between the models, by indicator "
        "and nearest position. With both runs' city models still on disk the map update (buildings "
        "added, removed, changed) is included.",
    )
    p.add_argument("run_a", metavar="RUN_A", help="older run (id, prefix, period or previous)")
    p.add_argument("run_b", metavar="RUN_B", help="newer run (id, prefix, period or latest)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--radius", type=float, default=DEFAULT_RADIUS_M, metavar="M",
                   help=f"match unmatched findings of the same indicator within M metres (default {DEFAULT_RADIUS_M:g}; 0: off)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="list at most N findings per class in --json")
    p.add_argument("--no-map-update", action="store_true", help="do not read the two city models")
    p.add_argument("--scene-a", type=Path, metavar="PATH", help="city model of RUN_A (default: the run's inputs)")
    p.add_argument("--scene-b", type=Path, metavar="PATH", help="city model of RUN_B (default: the run's inputs)")
    add_catalog_options(p)
    p.set_defaults(func=run)


def map_update_for(catalog: Any, id_a: str, id_b: str, scene_a: Path | None = None,
                   scene_b: Path | None = None) -> dict[str, Any] | None:
    """The map update between the models of two runs, None when either is not at hand."""
    from ...catalog.epochs import compare_epochs
    from ...catalog.locate import load_run_buildings

    def scene(path: Path | None, run_id: str) -> Any:
        if path is not None:
            from ...io import read_scene

            return read_scene(path)
        table = load_run_buildings(catalog, run_id)  # stored with the run: no model to read
        return None if table is None else table.states()

    a = scene(scene_a, id_a)
    b = scene(scene_b, id_b) if a is not None else None
    if a is None or b is None:
        return None
    period_a, period_b = catalog.get_run(id_a).period, catalog.get_run(id_b).period
    return compare_epochs(a, b, label_a=period_a, label_b=period_b).to_dict()


def run(args: argparse.Namespace) -> int:
    from ...catalog.diff import CLASSES, diff_runs
    from ...catalog.locate import open_catalog
    from ...serialization import dumps_pretty

    catalog, _ = open_catalog(args)
    with catalog:
        result = diff_runs(catalog, args.run_a, args.run_b, radius_m=args.radius)
        if not args.no_map_update:
            result.map_update = map_update_for(catalog, result.run_a, result.run_b, args.scene_a, args.scene_b)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty(result.to_dict(limit=args.limit)))
        return 0
    c = result.counts()
    print(f"{result.run_a} -> {result.run_b}")
    print("  " + ", ".join(f"{k} {c[k]}" for k in CLASSES) + f"  (matched by position {c['matched_by_position']})")
    print(f"{'indicator':<26}" + "".join(f"{k:>11}" for k in CLASSES))
    for code, row in result.by_indicator().items():
        print(f"{code:<26}" + "".join(f"{row[k]:>11}" for k in CLASSES))
    units = result.by_unit()
    if units:
        print(f"{'spatial unit':<26}" + "".join(f"{k:>11}" for k in CLASSES))
        for unit, row in list(units.items())[:40]:
            print(f"{unit:<26}" + "".join(f"{row[k]:>11}" for k in CLASSES))
        if len(units) > 40:
            print(f"  ... {len(units) - 40} more units (see --json)")
    if result.measurements:
        print("unit values (improved / worsened / unchanged / new)")
        for code, m in sorted(result.measurements.items()):
            print(f"  {code:<24} {m['improved']:>5} {m['worsened']:>5} {m['unchanged']:>5} {m['new']:>5}")
    if result.map_update:
        from ...catalog.epochs import MapUpdate, summary_lines

        mu = result.map_update
        update = MapUpdate(mu["added"], mu["removed"], mu["changed"], mu["counts"]["unchanged"], mu["epoch_a"], mu["epoch_b"])
        print("\n".join(summary_lines(update)))
    return 0
