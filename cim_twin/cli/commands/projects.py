"""``cim-twin projects``: the project library (项目库) generated from findings.

Subcommands: ``generate RUN``, ``list``, ``set-status PROJECT STATUS``, ``export FILE``,
``import FILE`` and ``evaluate RUN_NEW``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...catalog.defaults import PROJECT_MAX_EXTENT_M, PROJECT_STATUSES
    from ...catalog.defaults import PROJECT_RADIUS_M as DEFAULT_RADIUS_M
    from ...catalog.locate import add_catalog_options

    p = sub.add_parser(
        "projects",
        parents=[common],
        help="project library: generate projects from findings, edit statuses, evaluate them",
        description="The project library (项目库): candidate renewal projects grouped from a run's "
        "findings (nearby problems in one block become one project), their status, the 留改拆 of "
        "their buildings, and their evaluation in a later run.",
    )
    actions = p.add_subparsers(dest="projects_command", metavar="SUBCOMMAND")

    def child(name: str, help_text: str) -> argparse.ArgumentParser:
        c = actions.add_parser(name, parents=[common], help=help_text, description=help_text)
        add_catalog_options(c)
        c.add_argument("--json", action="store_true", help="print JSON")
        return c

    g = child("generate", "group a run's open findings into candidate projects (with 留改拆 per building)")
    g.add_argument("run", metavar="RUN", help="run id, prefix, period or latest")
    g.add_argument("--radius", type=float, default=None, metavar="M",
                   help=f"findings of one block closer than M metres form one project (default {DEFAULT_RADIUS_M:g}, "
                   "or [projects] radius_m)")
    g.add_argument("--max-extent", type=float, default=None, metavar="M",
                   help=f"split a project wider than M metres by community (default {PROJECT_MAX_EXTENT_M:g}, "
                   "or [projects] max_extent_m)")
    g.add_argument("--min-severity", default=None, help="leave out findings below this severity (default low)")
    g.add_argument("--no-scene", action="store_true", help="do not use the run's buildings (留改拆 from the findings' evidence only)")
    g.set_defaults(func=run_generate)

    ls = child("list", "list the projects")
    ls.add_argument("--status", choices=PROJECT_STATUSES, help="only projects with this status")
    ls.add_argument("--run", help="only projects generated from this run")
    ls.set_defaults(func=run_list)

    s = child("set-status", "set the status of projects (candidate, approved, in_progress, done, cancelled)")
    s.add_argument("project_ids", nargs="+", metavar="PROJECT", help="project id(s)")
    s.add_argument("status", metavar="STATUS", help="new status (English or 候选/已批准/实施中/已完成/已取消)")
    s.add_argument("--owner", help="responsible office (负责单位)")
    s.add_argument("--notes", help="notes (备注)")
    s.set_defaults(func=run_set_status)

    ex = child("export", "write the project table (XLSX or CSV) for editing statuses, owners and notes")
    ex.add_argument("file", type=Path, metavar="FILE", help=".xlsx or .csv")
    ex.set_defaults(func=run_export)

    im = child("import", "apply an edited project table (XLSX or CSV): status, owner, notes")
    im.add_argument("file", type=Path, metavar="FILE", help=".xlsx or .csv written by `projects export`")
    im.set_defaults(func=run_import)

    ev = child("evaluate", "evaluate projects against a later run: resolved findings and indicator change")
    ev.add_argument("run", metavar="RUN_NEW", help="the later run")
    ev.add_argument("--radius", type=float, default=30.0, metavar="M",
                    help="match findings whose object ids changed within M metres (default 30)")
    ev.set_defaults(func=run_evaluate)

    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _print_json(value: Any) -> None:
    from ...serialization import dumps_pretty

    sys.stdout.buffer.write(dumps_pretty(value))


def run_generate(args: argparse.Namespace) -> int:
    from ...catalog.actions import rules_from_config
    from ...catalog.defaults import PROJECT_MAX_EXTENT_M
    from ...catalog.locate import load_run_buildings, open_catalog
    from ...catalog.projects import DEFAULT_RADIUS_M, generate_projects

    catalog, ctx = open_catalog(args)
    settings = ctx.section("projects")
    unknown = sorted(set(settings) - {"radius_m", "max_extent_m", "min_severity", "measures"})
    if unknown:
        from ...errors import ConfigError

        raise ConfigError(f"[projects] {unknown[0]}: unknown key", path=ctx.project_path,
                          hint="keys allowed here: radius_m, max_extent_m, min_severity, measures (docs/catalog.md)")  # fmt: skip
    rules = rules_from_config(ctx.section("actions"), source=str(ctx.project_path) if ctx.project_path else None)
    units = ctx.units()
    with catalog:
        run_id = catalog.resolve_run(args.run)
        buildings = None if args.no_scene else load_run_buildings(catalog, run_id)
        projects = generate_projects(
            catalog, run_id,
            radius_m=args.radius if args.radius is not None else float(settings.get("radius_m", DEFAULT_RADIUS_M)),
            max_extent_m=args.max_extent if args.max_extent is not None
            else float(settings.get("max_extent_m", PROJECT_MAX_EXTENT_M)),
            min_severity=args.min_severity or str(settings.get("min_severity", "low")),
            buildings=buildings, rules=rules, measures=settings.get("measures"), unit_names=units.names,
        )  # fmt: skip
    if args.json:
        _print_json({"run_id": run_id, "scene": buildings is not None, "projects": [p.to_dict() for p in projects]})
        return 0
    print(f"{len(projects)} candidate projects from run {run_id}"
          + ("" if buildings is not None else " (city model not read: 留改拆 from the findings' buildings only)"))
    _print_table(projects)
    return 0


def _change(before: float, after: float) -> str:
    """``0.96->0.962``: as few digits as show that two different values differ."""
    for digits in (3, 4, 5, 6):
        a, b = f"{before:.{digits}g}", f"{after:.{digits}g}"
        if a != b or before == after:
            return f"{a}->{b}"
    return f"{a}->{b}"


def _print_table(projects: list[Any]) -> None:
    from ...catalog.projects import STATUS_ZH

    for p in projects:
        acts = {a: sum(1 for x in p.actions if x.action == a) for a in ("retain", "renovate", "demolish")}
        print(f"  {p.id:<22} {STATUS_ZH.get(p.status, p.status):<4} {p.findings_count:>4} findings "
              f"{p.buildings_count:>4} bldgs (留{acts['retain']} 改{acts['renovate']} 拆{acts['demolish']})  "
              f"{p.category or '':<5} {p.measure_zh}  {p.name}")


def run_list(args: argparse.Namespace) -> int:
    from ...catalog.locate import open_catalog
    from ...catalog.projects import list_projects

    catalog, _ = open_catalog(args)
    with catalog:
        projects = list_projects(catalog, status=args.status, run=args.run)
    if args.json:
        _print_json([p.to_dict() for p in projects])
    elif not projects:
        print("no projects (cim-twin projects generate RUN makes candidates)")
    else:
        _print_table(projects)
    return 0


def run_set_status(args: argparse.Namespace) -> int:
    from ...catalog.locate import open_catalog
    from ...catalog.projects import set_project_status

    catalog, _ = open_catalog(args)
    changed = []
    with catalog:
        for pid in args.project_ids:
            if set_project_status(catalog, pid, args.status, owner=args.owner, notes=args.notes):
                changed.append(pid)
    if args.json:
        _print_json({"changed": changed})
    else:
        print(f"{len(changed)} of {len(args.project_ids)} projects changed")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ...catalog.lists import export_projects
    from ...catalog.locate import open_catalog

    catalog, _ = open_catalog(args)
    with catalog:
        path = export_projects(catalog, args.file)
    if args.json:
        _print_json({"file": path.as_posix()})
    else:
        print(path)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from ...catalog.lists import import_projects
    from ...catalog.locate import open_catalog

    catalog, _ = open_catalog(args)
    with catalog:
        result = import_projects(catalog, args.file)
    if args.json:
        _print_json(result)
    else:
        print(f"{len(result['changed'])} projects changed, {result['unchanged']} unchanged")
        for pid in result["changed"]:
            print(f"  {pid}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ...catalog.locate import open_catalog
    from ...catalog.projects import evaluate_projects

    catalog, _ = open_catalog(args)
    with catalog:
        evaluations = evaluate_projects(catalog, args.run, radius_m=args.radius)
    if args.json:
        _print_json([e.to_dict() for e in evaluations])
        return 0
    if not evaluations:
        print("no projects from earlier runs to evaluate")
    for e in evaluations:
        print(f"  {e.project_id:<22} {e.project_status:<12} resolved {e.resolved + e.verified}/{e.findings_total} "
              f"(verified {e.verified}, persisting {e.persisting}, reappeared {e.reappeared})")
        for code, eff in e.effect.items():
            units = ", ".join(f"{u} {_change(v['value_a'], v['value_b'])} {v['trend']}" for u, v in list(eff["units"].items())[:4])
            print(f"      {code:<20} findings {eff['findings_before']} -> {eff['findings_after_in_area']} in area"
                  + (f"; {units}" if units else ""))
    return 0
