"""Load throughput of the CityGML reader on generated districts, against bare lxml iterparse.

    python benchmarks/bench_load.py                      # 10k and 100k buildings
    python benchmarks/bench_load.py --sizes 10000        # a quick run
    python benchmarks/bench_load.py --sizes 100000 --skip-read

For each size the script generates an LOD2 district with ``cim-twin generate --lod2-only`` under
``benchmarks/_work/`` (``--reuse`` keeps the files of an earlier run) and then measures, each step
in a fresh process so that peak RSS belongs to that step alone:

``iterparse``
    bare ``lxml.etree.iterparse`` over the file, clearing every building once read: with lxml
    filtering the Building end events in C (the floor any streaming reader stands on), and with
    every end event handed to Python,
``info``
    ``cim-twin info --json FILE`` as a subprocess (streams: counts, extent, attributes),
``read_scene``
    :func:`cim_twin.io.read_scene`: the full in-memory Scene with triangulated geometry; also the
    memory it holds per building (RSS after reading minus RSS before, divided by the buildings).

It prints a Markdown table (paste it into docs/benchmarks.md with the command and the machine) and
checks the targets: ``info`` within 2x the iterparse time and under 300 MB peak RSS on 100k
buildings; the Scene under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "_work"

# Each step runs in a child; the child prints one JSON line with its figures. ru_maxrss of the child
# itself (RUSAGE_SELF) or of its only grandchild (RUSAGE_CHILDREN) is the step's peak RSS.
_ITERPARSE = r"""
import json, resource, sys, time
from lxml import etree
path, every = sys.argv[1], len(sys.argv) > 2
BLDG = "{http://www.opengis.net/citygml/building/2.0}Building"
t = time.perf_counter()
n = 0
# Building end events only (lxml filters in C), or every end event seen in Python as a reader does.
for _event, elem in etree.iterparse(path, events=("end",), tag=None if every else BLDG, huge_tree=True,
                                    resolve_entities=False, no_network=True):
    if every and elem.tag != BLDG:
        continue
    n += 1
    elem.clear()
    # Drop the emptied building and its cityObjectMember too, so that nothing accumulates under the
    # root (100,000 empty member elements would otherwise hold about 45 MB).
    member = elem.getparent()
    if member is not None and member.getparent() is not None:
        root = member.getparent()
        while member.getprevious() is not None:
            del root[0]
print(json.dumps({"seconds": time.perf_counter() - t, "buildings": n,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_INFO = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "cim_twin", "info", "--json", sys.argv[1]],
                      capture_output=True, text=True, env={**__import__("os").environ, "CIM_TWIN_NO_PROGRESS": "1"})
seconds = time.perf_counter() - t
if done.returncode != 0:
    print(json.dumps({"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}))
    sys.exit(0)
report = json.loads(done.stdout)
print(json.dumps({"seconds": seconds, "buildings": report.get("counts", {}).get("Building"),
                  "peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""

_READ_SCENE = r"""
import gc, json, resource, sys, time
import psutil
from cim_twin.io import find_reader, read_scene
find_reader(sys.argv[1])  # plugin discovery before the baseline
gc.collect()
before = psutil.Process().memory_info().rss
t = time.perf_counter()
try:
    scene = read_scene(sys.argv[1])
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
seconds = time.perf_counter() - t
gc.collect()
held = psutil.Process().memory_info().rss - before
n = scene.counts().get("Building", 0)
print(json.dumps({"seconds": seconds, "buildings": n, "held_bytes": held,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _run_child(code: str, path: Path, timeout_s: float, *extra: str) -> dict[str, object]:
    env = {**os.environ, "CIM_TWIN_NO_PROGRESS": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path), *extra], capture_output=True, text=True,
                              timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        return {"error": tail}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _generate(buildings: int, seed: int, reuse: bool) -> tuple[Path, float | None]:
    """The benchmark file for ``buildings`` and the time it took to generate (None when reused)."""
    folder = WORK / f"district_{buildings}_s{seed}_lod2"
    path = folder / "city_2025.gml"
    if reuse and path.exists():
        return path, None
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cim_twin", "generate", str(folder), "--buildings", str(buildings),
         "--seed", str(seed), "--years", "2025", "--lod2-only", "--no-layers", "--quiet"],
        check=True,
    )
    return path, time.perf_counter() - t


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="building counts, comma separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-read", action="store_true", help="leave out the full read_scene step")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse files generated by an earlier run (same generator version only)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per step (s)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    rows: list[str] = []
    verdicts: list[str] = []
    for n in sizes:
        path, gen_seconds = _generate(n, args.seed, args.reuse)
        size = path.stat().st_size
        if gen_seconds is not None:
            line = (f"{n:,} generate: {_mb(size)} MiB in {gen_seconds:.1f} s ({n / gen_seconds:,.0f} buildings/s, "
                    f"{size / 2**20 / gen_seconds:,.1f} MiB/s)")
            print(line, file=sys.stderr)
            verdicts.append(line)
        steps: list[tuple[str, str, tuple[str, ...]]] = [
            ("bare iterparse, Building events", _ITERPARSE, ()),
            ("bare iterparse, all end events", _ITERPARSE, ("every",)),
            ("`cim-twin info`", _INFO, ()),
        ]
        if not args.skip_read:
            steps.append(("`read_scene`", _READ_SCENE, ()))
        base: float | None = None
        every_seconds = float("nan")
        for label, code, extra in steps:
            print(f"{n:,}: {label} ...", file=sys.stderr)
            r = _run_child(code, path, args.timeout, *extra)
            if "error" in r:
                rows.append(f"| {n:,} | {_mb(size)} | {label} | failed: {r['error']} | | | | | |")
                continue
            seconds = float(r["seconds"])  # type: ignore[arg-type]
            ratio = "1.00" if base is None else f"{seconds / base:.2f}"
            if base is None:
                base = seconds
            per_building = f"{int(r['held_bytes']) / max(1, int(r['buildings'])):,.0f}" if "held_bytes" in r else ""
            rows.append(
                f"| {n:,} | {_mb(size)} | {label} | {seconds:,.1f} | {size / 2**20 / seconds:,.1f} | "
                f"{int(r['buildings'] or 0) / seconds:,.0f} | {_mb(int(r['peak_rss']))} | {ratio} | {per_building} |"
            )
            if r.get("buildings") != n:
                verdicts.append(f"{n:,} {label}: counted {r.get('buildings')} buildings, expected {n}")
            if label.startswith("bare iterparse, all"):
                every_seconds = seconds
            if label == "`cim-twin info`" and base:
                ok = seconds <= 2 * base and int(r["peak_rss"]) < 300 * 2**20
                verdicts.append(f"{n:,} info: {seconds / base:.2f}x iterparse of Building events, "
                                f"{seconds / every_seconds:.2f}x iterparse of all end events, peak RSS "
                                f"{_mb(int(r['peak_rss']))} MiB -> {'meets' if ok else 'MISSES'} the target "
                                "(<= 2x the Building-events iterparse, < 300 MB)")
            if label == "`read_scene`":
                ok = int(r["peak_rss"]) < 2 * 2**30
                verdicts.append(f"{n:,} read_scene: peak RSS {_mb(int(r['peak_rss']))} MiB "
                                f"-> {'meets' if ok else 'MISSES'} the target (< 2 GB)")

    print(f"\nPython {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}\n")
    print("| buildings | file MiB | step | seconds | MiB/s | buildings/s | peak RSS MiB | time vs iterparse | bytes/building held |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if verdicts:
        print()
        print("\n".join(f"- {v}" for v in verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
