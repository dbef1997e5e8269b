"""``cim-twin runs``: the check runs in the catalog."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...catalog.locate import add_catalog_options

    p = sub.add_parser(
        "runs",
        parents=[common],
        help="list the check runs in the catalog",
        description="List the check runs stored in the catalog, oldest period first. The catalog is "
        "found through ./twin.toml, --project or --catalog.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.add_argument("--scope", help="only runs of this project/area name")
    p.add_argument("--delete", metavar="RUN", help="remove a run (its findings, measurements, specs) from the catalog")
    p.add_argument("--yes", action="store_true", help="confirm --delete")
    add_catalog_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...catalog.locate import open_catalog
    from ...errors import ConfigError
    from ...serialization import dumps_pretty

    catalog, _ = open_catalog(args)
    with catalog:
        if args.delete:
            run_id = catalog.resolve_run(args.delete)
            if not args.yes:
                raise ConfigError(f"not deleting run {run_id!r} without --yes",
                                  hint="projects generated from it stay; add --yes to delete")  # fmt: skip
            catalog.delete_run(run_id)
            print(f"deleted run {run_id}", file=sys.stderr)
        runs = catalog.runs(scope=args.scope)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty([r.to_dict() for r in runs]))
        return 0
    if not runs:
        print("no runs yet (cim-twin check writes one)")
        return 0
    print(f"{'run':<34} {'period':<8} {'status':<24} {'findings':>9} {'measures':>9}  started")
    for r in runs:
        print(f"{r.id:<34} {r.period:<8} {r.status:<24} {r.findings:>9} {r.measurements:>9}  {r.started_at[:19]}")
    return 0
