"""``cim-twin report RUN``: the run report as HTML and Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...catalog.locate import add_catalog_options

    p = sub.add_parser(
        "report",
        parents=[common],
        help="write the run report (HTML + Markdown): indicators, problems, trends, three-year evaluation",
        description="Write the report of a run as one HTML page and a Markdown file with SVG charts: "
        "indicators against thresholds, counts by category and severity, the worst problems and "
        "where they are, indicator trends over the runs, the change since the previous run, the "
        "projects, the map update when both models are at hand, and the three-year evaluation when "
        "three annual runs exist.",
    )
    p.add_argument("run", metavar="RUN", help="run id, prefix, period or latest")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="report file; .html and .md are written side by side (default: <project output>/report_<period>.html)")
    p.add_argument("--json", action="store_true", help="print the report data as JSON instead")
    p.add_argument("--no-map-update", action="store_true", help="do not read the city models for the map update")
    add_catalog_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...catalog.locate import open_catalog
    from ...catalog.report import build_report, write_report
    from ...serialization import dumps_pretty
    from .diff import map_update_for

    catalog, ctx = open_catalog(args)
    with catalog:
        run_id = catalog.resolve_run(args.run)
        update = None
        if not args.no_map_update:
            history = [r for r in catalog.runs() if r.period < catalog.get_run(run_id).period]
            if history:
                update = map_update_for(catalog, history[-1].id, run_id)
        if args.json:
            sys.stdout.buffer.write(dumps_pretty(build_report(catalog, run_id, units=ctx.units(), map_update=update)))
            return 0
        period = catalog.get_run(run_id).period
        out = args.out or ctx.output_dir / f"report_{period}.html"
        files = write_report(catalog, run_id, out, units=ctx.units(), map_update=update)
    for f in files[:2]:
        print(f)
    return 0
