"""Benchmark of the catalog: storing a run of N findings, reading it back, diffing two such runs,
and generating projects from one.

The two runs are generated deterministically: N findings of 8 indicators on a grid of buildings in
EPSG:4548 (about 117E 27N); the second year drops 10 % of them, adds 5 % new ones, changes the
severity of 5 % and moves the ids of 2 % (same place, new object id) so that both key and
position matching work.

    python benchmarks/bench_catalog.py --sizes 10000,100000

Writes the catalog under benchmarks/_work/ (git-ignored) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scipy.spatial  # noqa: F401  (imported once here, not inside the first timed diff)

from cim_twin.catalog import Catalog
from cim_twin.catalog.diff import diff_runs
from cim_twin.catalog.projects import generate_projects
from cim_twin.model import CheckRun, IndicatorSpec, Measurement, ProblemPoint, Severity, problem_id

INDICATORS = ["B-PARK", "B-OLD", "B-FIRE", "B-CARE", "B-SCHOOL", "B-TOILET", "B-WATER", "B-WALK"]
CATEGORIES = ["生态宜居", "安全韧性", "安全韧性", "多元包容", "健康舒适", "整洁有序", "安全韧性", "交通便捷"]
SPECS = [IndicatorSpec(code=c, name_zh=c, name_en=c, category=cat, level="building", unit="-")
         for c, cat in zip(INDICATORS, CATEGORIES, strict=True)]  # fmt: skip
SEVERITIES = list(Severity)


def make_run(n: int, year: int, seed: int = 7, base: tuple[np.ndarray, ...] | None = None
             ) -> tuple[CheckRun, list[ProblemPoint], list[Measurement], tuple[np.ndarray, ...]]:  # fmt: skip
    rng = np.random.default_rng(seed + year)
    if base is None:
        building = np.arange(n)
        code = rng.integers(0, len(INDICATORS), n)
        sev = rng.integers(1, 5, n)
        value = rng.random(n)
    else:
        building, code, sev, value = (a.copy() for a in base)
        keep = rng.random(len(building)) > 0.10
        building, code, sev, value = building[keep], code[keep], sev[keep], value[keep]
        changed = rng.random(len(building)) < 0.05
        sev[changed] = np.minimum(4, sev[changed] + 1)
        extra = int(0.05 * n)
        building = np.concatenate([building, n + np.arange(extra)])
        code = np.concatenate([code, rng.integers(0, len(INDICATORS), extra)])
        sev = np.concatenate([sev, rng.integers(1, 5, extra)])
        value = np.concatenate([value, rng.random(extra)])
    moved = (rng.random(len(building)) < 0.02) if base is not None else np.zeros(len(building), bool)
    side = int(np.ceil(np.sqrt(n * 1.1)))
    x = 500000.0 + (building % side) * 25.0
    y = 2988000.0 + (building // side) * 25.0
    t = datetime(year, 6, 30, tzinfo=UTC)
    start = datetime(year, 1, 1, tzinfo=UTC)
    period = str(year)
    findings = []
    for k in range(len(building)):
        c = INDICATORS[code[k]]
        subject = f"bldg{building[k]}" + ("-new" if moved[k] else "")
        s = SEVERITIES[sev[k]]
        findings.append(ProblemPoint(
            id=problem_id(c, subject, period), key=f"{c}:{subject}", indicator=c, severity=s, score=s.score,
            value=float(value[k]), threshold=0.5, x=float(x[k]), y=float(y[k]), z=10.0, object_ids=(subject,),
            unit_id=f"D01-B{int(building[k] // side // 40 % 10):02d}-C01", period=period, observed_at=t, valid_from=start,
        ))  # fmt: skip
    measurements = [Measurement(indicator=c, unit_id=f"D01-B{b:02d}", level="block", period=period,
                                value=float(rng.random()), unit="-") for c in INDICATORS for b in range(10)]  # fmt: skip
    run = CheckRun(id=f"bench-{year}", scope="bench", period=period, started_at=t, software_version="bench",
                   crs="EPSG:4548")  # fmt: skip
    return run, findings, measurements, (building, code, sev, value)


def bench(n: int, work: Path) -> list[dict[str, object]]:
    path = work / f"catalog_{n}.gpkg"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rows = []
    t0 = time.perf_counter()
    run_a, fa, ma, base = make_run(n, 2024)
    run_b, fb, mb, _ = make_run(n, 2025, base=base)
    rows.append({"step": "build models (not the catalog)", "n": len(fa) + len(fb), "s": time.perf_counter() - t0})
    with Catalog.open(path) as cat:
        t0 = time.perf_counter()
        cat.write_run(run_a, fa, ma, specs=SPECS)
        rows.append({"step": "write_run (one transaction)", "n": len(fa), "s": time.perf_counter() - t0})
        t0 = time.perf_counter()
        cat.write_run(run_b, fb, mb, specs=SPECS)
        rows.append({"step": "write_run, second run", "n": len(fb), "s": time.perf_counter() - t0})
        t0 = time.perf_counter()
        arrays = cat.finding_arrays(run_a.id)
        rows.append({"step": "finding_arrays (read as numpy)", "n": len(arrays), "s": time.perf_counter() - t0})
        t0 = time.perf_counter()
        models = cat.findings(run_a.id)
        rows.append({"step": "findings (read as models)", "n": len(models), "s": time.perf_counter() - t0})
        t0 = time.perf_counter()
        d = diff_runs(cat, run_a.id, run_b.id)
        counts = d.counts()
        rows.append({"step": "diff_runs (read both + match)", "n": len(fa) + len(fb), "s": time.perf_counter() - t0,
                     "note": ", ".join(f"{k} {v}" for k, v in counts.items())})  # fmt: skip
        t0 = time.perf_counter()
        d.to_dict()
        rows.append({"step": "diff to JSON form (all rows)", "n": len(fa) + len(fb), "s": time.perf_counter() - t0})
        t0 = time.perf_counter()
        projects = generate_projects(cat, run_a.id)
        rows.append({"step": "projects generate", "n": len(fa), "s": time.perf_counter() - t0,
                     "note": f"{len(projects)} projects"})  # fmt: skip
        problems = cat.check_integrity()
        assert not problems, problems
    size = path.stat().st_size / 1e6
    rows.append({"step": "catalog file size (MB)", "n": len(fa) + len(fb), "s": None, "note": f"{size:.1f} MB"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated numbers of findings per run")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "_work")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print("| findings per run | step | rows | seconds | rows/s | note |")
    print("|---:|---|---:|---:|---:|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        for r in bench(n, args.work):
            s = r["s"]
            rate = "" if not s else f"{r['n'] / s:,.0f}"
            secs = "" if s is None else f"{s:.2f}"
            print(f"| {n:,} | {r['step']} | {r['n']:,} | {secs} | {rate} | {r.get('note', '')} |", flush=True)


if __name__ == "__main__":
    main()
