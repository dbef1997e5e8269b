"""``cim-twin show RUN``: one check run in detail."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...catalog.locate import add_catalog_options

    p = sub.add_parser(
        "show",
        parents=[common],
        help="show one check run: indicators, findings by indicator and severity, worst problems",
        description="Show one run of the catalog. RUN is a run id, a unique prefix of one, a period "
        "(the latest run of that year) or 'latest' / 'previous'.",
    )
    p.add_argument("run", metavar="RUN", help="run id, prefix, period or latest/previous")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--worst", type=int, default=10, metavar="N", help="list the N worst problems (default 10)")
    add_catalog_options(p)
    p.set_defaults(func=run)


def show_data(catalog: Any, ref: str, worst: int = 10) -> dict[str, Any]:
    """What ``show`` prints, as data."""
    from ...catalog.lists import problem_rows

    run_id = catalog.resolve_run(ref)
    the_run = catalog.get_run(run_id)
    summary = catalog.run_summary(run_id)
    problems = problem_rows(catalog, run_id)
    by_indicator: dict[str, Counter[str]] = {}
    for p in problems:
        by_indicator.setdefault(p["indicator"], Counter())[p["severity"]] += 1
    projects = [r[0] for r in catalog.conn.execute("SELECT project_id FROM projects WHERE run_id = ?", (run_id,))]
    return {
        "run": the_run.model_dump(mode="json"),
        "findings": summary.findings,
        "measurements": summary.measurements,
        "written_at": summary.written_at,
        "by_indicator": {k: dict(v) for k, v in sorted(by_indicator.items())},
        "by_severity": dict(Counter(p["severity"] for p in problems)),
        "by_status": dict(Counter(p["status"] for p in problems)),
        "projects": projects,
        "worst": [{k: p[k] for k in ("finding_id", "indicator", "severity", "message_zh", "message_en", "unit_id",
                                     "object_ids", "lon", "lat", "status")} for p in problems[:worst]],
    }


def run(args: argparse.Namespace) -> int:
    from ...catalog.locate import open_catalog
    from ...serialization import dumps_pretty

    catalog, _ = open_catalog(args)
    with catalog:
        data = show_data(catalog, args.run, args.worst)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty(data))
        return 0
    r = data["run"]
    print(f"run         {r['id']}")
    print(f"scope       {r['scope']}  period {r['period']}  profile {r['profile']}  status {r['status']}")
    print(f"time        {r['started_at']} .. {r['finished_at']}  (cim-twin {r['software_version']})")
    print(f"crs         {r['crs']}")
    print(f"findings    {data['findings']}  measurements {data['measurements']}  projects {len(data['projects'])}")
    print("status      " + ", ".join(f"{k} {v}" for k, v in sorted(data["by_status"].items())))
    print("indicators")
    for code, st in sorted(r["indicators"].items()):
        sev = data["by_indicator"].get(code, {})
        detail = ", ".join(f"{k} {v}" for k, v in sorted(sev.items()))
        err = f"  error: {(st.get('error') or '').splitlines()[0]}" if st.get("error") else ""
        print(f"  {code:<24} {st['status']:<8} findings {st.get('findings', 0):>6}  {detail}{err}")
    if data["worst"]:
        print("worst problems")
        for w in data["worst"]:
            msg = w["message_zh"] or w["message_en"] or ""
            print(f"  {w['severity']:<8} {w['indicator']:<18} {w['unit_id'] or '':<14} {msg}")
    return 0
