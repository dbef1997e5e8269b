"""``cim-twin plugins``: every plugin, where it came from, its state and what it registered."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "plugins",
        parents=[common],
        help="list the plugins with name, version, origin, state and what each registered",
        description="List every plugin found through the `cim_twin` entry points (and the project's own "
        "plugins with --project): name, distribution and version, where it came from, whether it loaded, "
        "and the indicators, readers and exporters it registered. CIM_TWIN_PLUGINS / "
        "CIM_TWIN_DISABLE_PLUGINS restrict loading; CIM_TWIN_TRACE_PLUGINS=1 traces every hook call.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--project", help="also load the plugins named in this twin.toml ([plugins])")
    p.add_argument("--strict", action="store_true", help="exit 1 when any plugin failed to load (for CI)")
    p.set_defaults(func=run)


def loaded_host(project_path: str | None) -> Any:
    from ...indicators.host import get_host

    host = get_host()
    if project_path:
        from ...indicators.runner import load_project_plugins
        from ...project import Project

        load_project_plugins(Project.load(project_path), host)
    return host


def run(args: argparse.Namespace) -> int:
    from ...serialization import dumps_pretty

    host = loaded_host(args.project)
    infos = sorted(host.plugins.values(), key=lambda i: i.name)
    failed = sum(i.status == "failed" for i in infos)
    code = 1 if args.strict and failed else 0
    if args.json:
        sys.stdout.buffer.write(dumps_pretty([i.to_dict() for i in infos]))
        return code
    if not infos:
        print("no plugins found (is cim-twin installed, e.g. pip install -e .?)")
        return 0
    for info in infos:
        version = f" {info.version}" if info.version else ""
        dist = f" ({info.distribution}{version})" if info.distribution else ""
        print(f"{info.name}{dist}  [{info.status}]  {info.module}")
        print(f"    from {info.origin}" + (f" ({info.location})" if info.location else ""))
        for label, items in (("indicators", info.indicators), ("readers", info.readers),
                             ("exporters", info.exporters)):
            if items:
                print(f"    {label}: {', '.join(items)}")
        if info.error:
            print("    error: " + info.error.strip().splitlines()[0])
    if failed:
        print(f"{failed} plugin(s) failed to load; run with --json for the full error", file=sys.stderr)
    return code
