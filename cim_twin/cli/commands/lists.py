"""``cim-twin lists RUN --out DIR``: problem list (问题清单) and task list (任务清单) as XLSX and CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...catalog.locate import add_catalog_options

    p = sub.add_parser(
        "lists",
        parents=[common],
        help="write the problem list (问题清单) and task list (任务清单) of a run as XLSX and CSV",
        description="Write the problem list and the task list (projects and 留改拆 per building) of a "
        "run, for the whole area and per district or county: XLSX with Chinese headers, one sheet "
        "per category, frozen header and autofilter; CSV in UTF-8 with BOM.",
    )
    p.add_argument("run", metavar="RUN", help="run id, prefix, period or latest")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: <project output>/lists)")
    p.add_argument("--by", choices=("district", "county", "none"), default="district",
                   help="one set of files per district (default), per county, or only the whole area")
    p.add_argument("--format", default="xlsx,csv", help="xlsx, csv or both (default xlsx,csv)")
    p.add_argument("--json", action="store_true", help="print the written files as JSON")
    add_catalog_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...catalog.lists import write_lists
    from ...catalog.locate import open_catalog
    from ...errors import ConfigError
    from ...serialization import dumps_pretty

    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    if not formats or any(f not in ("xlsx", "csv") for f in formats):
        raise ConfigError(f"unknown list format in {args.format!r}", hint="--format xlsx,csv")
    catalog, ctx = open_catalog(args)
    with catalog:
        out = args.out or ctx.output_dir / "lists"
        files = write_lists(catalog, args.run, out, by=args.by, units=ctx.units(), formats=formats)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty({"files": [f.as_posix() for f in files]}))
    else:
        for f in files:
            print(f)
    return 0
