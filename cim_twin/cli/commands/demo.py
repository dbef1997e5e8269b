"""``cim-twin demo``: the whole health-check loop on the example district, in minutes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="generate the example district, check three years, plan projects, export and screenshot",
        description="Generate the example Nanping-like district with three annual epochs, run the health "
        "check for each year, turn the first year's problems into renewal projects and evaluate them in "
        "the later years, write the problem and task lists and the report, export the CIM folder (3D "
        "Tiles 1.1 and 1.0, problem layer) and render screenshots. The folder is left as a complete "
        "project: run any other command there next.",
    )
    p.add_argument("--out", type=Path, default=Path("cim-twin-demo"),
                   help="project folder to create (default ./cim-twin-demo)")
    p.add_argument("--buildings", type=int, default=1500, help="buildings in the district (default 1500)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the district (default 1)")
    p.add_argument("--no-screenshots", action="store_true", help="skip the off-screen screenshots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...demo import run_demo, summary_text

    result = run_demo(
        args.out,
        buildings=args.buildings,
        seed=args.seed,
        screenshots=not args.no_screenshots,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(summary_text(result))
    failed = any(run.get("status") != "ok" for run in result.runs.values())
    return 1 if failed else 0
