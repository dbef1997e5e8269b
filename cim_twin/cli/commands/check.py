"""``cim-twin check [SOURCE]``: run the health check of a project (or of a bare city model)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Literal


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "check",
        parents=[common],
        help="evaluate the indicators of a project for one period and record the run",
        description="Evaluate every selected indicator over the city model and its layers for one period. "
        "SOURCE is a twin.toml, a folder holding one, or a CityGML file / 3D tileset checked with the "
        "default profile (default: the twin.toml in the current folder). Each indicator runs isolated: "
        "one that fails or hangs is recorded, the others complete. The run is written as JSON to "
        "<output>/runs/<run_id>/ and into the catalog. Exit code 0 ok, 1 completed with failures, 2 user error.",
    )
    p.add_argument("source", nargs="?", type=Path, help="twin.toml, project folder, CityGML file or tileset")
    p.add_argument("--project", type=Path, help="project file (instead of SOURCE)")
    p.add_argument("--period", help="period (year) of the run, e.g. 2025 (default: [project] period)")
    p.add_argument("--indicators", help="comma-separated indicator codes or patterns such as N-* "
                   "(default: the profile's selection)")
    p.add_argument("--profile", help="profile name, e.g. a county profile (default: [profile])")
    p.add_argument("--timeout", type=float, metavar="S", help="per-indicator time limit in seconds (default 600)")
    p.add_argument("--isolation", choices=("auto", "process", "thread", "inline"),
                   help="how indicators are isolated (default: [check] isolation, auto = process)")
    p.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="evaluate N indicators at the same time, each in its own process (default 1; 0 = one per CPU)")
    p.add_argument("--catalog", type=Path, help="catalog to record the run in (default: [project] catalog)")
    p.add_argument("--no-catalog", action="store_true", help="write the JSON files only")
    p.add_argument("--output", type=Path, help="output folder (default: [project] output)")
    p.add_argument("--crs", help="CRS of a bare source that states none, e.g. EPSG:4548")
    p.add_argument("--dry-run", action="store_true",
                   help="check the project and list what would run (indicators, files), evaluate nothing")
    p.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    p.set_defaults(func=run)


def open_project(source: Path | None, project_opt: Path | None = None, *, crs: str | None = None,
                 output: Path | None = None) -> Any:
    """The project meant by SOURCE / --project (a twin.toml, its folder, or a bare city model)."""
    from ...errors import ConfigError
    from ...project import PROJECT_FILE_NAME, Project, find_project_file

    if project_opt is not None and source is not None:
        raise ConfigError("give either SOURCE or --project, not both")
    target = project_opt or source
    if target is None:
        here = Path.cwd() / PROJECT_FILE_NAME
        if not here.is_file():
            raise ConfigError(f"no {PROJECT_FILE_NAME} in the current folder",
                              hint="give SOURCE (twin.toml, project folder, CityGML file or tileset), "
                              "or create a project with `cim-twin init DIR`")
        target = here
    found = find_project_file(target)
    if found is not None:
        project = Project.load(found)
        project.crs_override = crs
        return project
    if not target.exists():
        raise ConfigError("no such file or folder", path=target, hint="give a twin.toml, a project folder, "
                          "a CityGML file or a tileset")
    if target.suffix.lower() == ".toml":
        return Project.load(target)
    if target.is_dir() and not (target / "tileset.json").is_file():
        raise ConfigError(f"folder has neither a {PROJECT_FILE_NAME} nor a tileset.json", path=target,
                          hint=f"create a project with `cim-twin init {target}`, or give a CityGML file")
    return Project.for_source(target, output=output, crs=crs)


def run(args: argparse.Namespace) -> int:
    from ...errors import ConfigError
    from ...indicators.runner import plan_check, run_check
    from ...serialization import dumps_pretty
    from ..main import EXIT_FAILURES, EXIT_OK

    project = open_project(args.source, args.project, crs=args.crs, output=args.output)
    codes = [c for c in args.indicators.split(",") if c.strip()] if args.indicators else None
    if args.dry_run:
        plan = plan_check(project, period=args.period, indicators=codes, profile=args.profile)
        if args.json:
            sys.stdout.buffer.write(dumps_pretty(plan))
        else:
            print(format_plan(plan))
        return EXIT_OK
    catalog: Path | Literal[False] | None = False if args.no_catalog else args.catalog

    def report(outcome: Any) -> None:
        if args.json:
            return
        mark = {"ok": "ok", "failed": "FAILED", "timeout": "TIMEOUT", "skipped": "skipped"}[outcome.status]
        extra = f"  {outcome.error}" if outcome.error else ""
        print(f"  {outcome.code:<24} {mark:<8} {len(outcome.findings):>6} findings "
              f"{len(outcome.measurements):>5} measurements {outcome.seconds:7.2f} s{extra}", flush=True)

    if not args.json:
        print(f"checking {project.name} ...", flush=True)
    jobs = args.jobs
    if jobs is not None and jobs < 0:
        raise ConfigError(f"--jobs must be 0 or more, not {jobs}")
    if jobs == 0:
        jobs = os.cpu_count() or 1
    result = run_check(project, period=args.period, indicators=codes, profile=args.profile,
                       timeout_s=args.timeout, isolation=args.isolation, output=args.output,
                       catalog=catalog, on_indicator=report, jobs=jobs)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty(result.summary()))
    else:
        print(format_summary(result))
    if args.debug:  # the tracebacks, which run.json keeps, on the terminal too
        for code, status in result.run.indicators.items():
            if status.traceback:
                print(f"--- {code}: {status.error}\n{status.traceback}", file=sys.stderr)
    return EXIT_FAILURES if result.failed else EXIT_OK


def format_summary(result: Any) -> str:
    run = result.run
    counts: dict[str, int] = {}
    for st in run.indicators.values():
        counts[st.status] = counts.get(st.status, 0) + 1
    lines = [
        f"run        {run.id}",
        f"status     {run.status}",
        f"period     {run.period}   profile {run.profile}",
        "indicators " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        f"findings   {len(result.findings)}   measurements {len(result.measurements)}",
    ]
    if result.run_dir is not None:
        lines.append(f"written    {result.run_dir}")
    if result.catalog_path is not None:
        lines.append(f"catalog    {result.catalog_path}" + (f" (not written: {result.catalog_error})"
                                                           if result.catalog_error else ""))
    for w in result.warnings[:20]:
        lines.append(f"warning    {w}")
    if len(result.warnings) > 20:
        lines.append(f"warning    ... {len(result.warnings) - 20} more (see run.json)")
    failed = [c for c, st in run.indicators.items() if st.status in ("failed", "timeout")]
    if failed:
        lines.append("failed     " + ", ".join(failed) + " (tracebacks in run.json)")
    return "\n".join(lines)


def format_plan(plan: dict[str, Any]) -> str:
    lines = [
        f"project    {plan['project']}" + (f"  ({plan['project_file']})" if plan["project_file"] else ""),
        f"period     {plan['period']}   profile {' > '.join(plan['profile_chain'])}",
        f"sources    {len(plan['sources'])}: " + ", ".join(plan["sources"][:5])
        + (" ..." if len(plan["sources"]) > 5 else ""),
    ]
    for name, layer in plan["layers"].items():
        state = "MISSING (optional)" if layer["missing"] else "ok"
        lines.append(f"layer      {name:<16} {layer['kind']:<11} {state}  {layer['path']}")
    lines.append(f"indicators {len(plan['indicators'])}: " + ", ".join(plan["indicators"]))
    lines.append(f"output     {plan['output']}")
    lines.append(f"catalog    {plan['catalog'] or '(none)'}")
    if plan["failed_plugins"]:
        lines.append("warning    plugins that failed to load: " + ", ".join(plan["failed_plugins"]))
    lines.append("nothing evaluated (--dry-run)")
    return "\n".join(lines)
