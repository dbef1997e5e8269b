"""``cim-twin schemas``: write (or check) the JSON Schemas of the value models."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "schemas",
        parents=[common],
        help="write the JSON Schemas of CheckRun, ProblemPoint, Measurement and IndicatorSpec",
        description="Write the JSON Schemas generated from the models into a folder (default ./schemas), "
        "or with --check report whether the folder's copies are current (exit 1 when they drift).",
    )
    p.add_argument("folder", nargs="?", type=Path, default=Path("schemas"), help="target folder")
    p.add_argument("--check", action="store_true", help="compare only; exit 1 when a file differs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...model.schemas import json_schemas, write_schemas
    from ...serialization import dumps_pretty

    if args.check:
        stale = [name for name, schema in json_schemas().items()
                 if not (args.folder / name).is_file() or (args.folder / name).read_bytes() != dumps_pretty(schema)]
        for name in stale:
            print(f"{args.folder / name}: out of date (run `cim-twin schemas {args.folder}`)")
        return 1 if stale else 0
    for path in write_schemas(args.folder):
        print(path)
    return 0
