"""Benchmark of ``cim-twin export`` on generated LOD2 districts (figures in docs/benchmarks.md).

For each size: generate the district once (``cim-twin generate --lod2-only``, one CityGML file),
time a bare lxml ``iterparse`` of the file (member elements, cleared as they go: the least any
streaming reader must do; measured right before and right after the export and averaged, since the
machine may be shared; and once with every end event passed to Python), then
``cim-twin export FILE --stream on`` to a 3D Tiles 1.1 tileset (Python's compiled modules cached, as
on a normal install), with its CPU time (user + system, workers included), the peak memory of the
whole process tree (sum of RSS sampled every 50 ms, sum of PSS every 0.5 s) and the load average
before the export. With
``--peer`` the npm package citygml-to-3dtiles (``npm install citygml-to-3dtiles`` in
benchmarks/_work/npm) converts the same file (sizes up to --peer-max).

    python benchmarks/bench_export.py --buildings 1000 10000 --peer
    python benchmarks/bench_export.py --buildings 100000 --processes 2

Generated files and outputs go under benchmarks/_work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) for the peer, which has no EPSG database
PROJ_4548 = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
BARE = """
import sys, time
from lxml import etree
t = time.perf_counter()
n = 0
for _, el in etree.iterparse(sys.argv[1], events=("end",), tag="{*}cityObjectMember", resolve_entities=False,
                             no_network=True, huge_tree=True):
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
    n += 1
print(time.perf_counter() - t, n)
"""
# the same, with every end event passed to Python (what a reader that looks at each element does)
BARE_ALL = """
import sys, time
from lxml import etree
t = time.perf_counter()
n = 0
for _, el in etree.iterparse(sys.argv[1], events=("end",), resolve_entities=False, no_network=True, huge_tree=True):
    if el.tag.endswith("cityObjectMember"):
        el.clear()
        while el.getprevious() is not None:
            del el.getparent()[0]
        n += 1
print(time.perf_counter() - t, n)
"""


class TreeMemory:
    """Peak summed RSS (every 50 ms) and PSS (every 0.5 s) of a process and its children, sampled in
    a thread. RSS is cheap to read; PSS (and the list of children) costs a walk of /proc and of the
    page tables, so it is read less often: sampling must not slow the export it measures."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_main_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        procs = [self.proc]
        tick = 0
        while not self._stop.is_set():
            try:
                if tick % 10 == 0:
                    procs = [self.proc, *self.proc.children(recursive=True)]
                rss = pss = 0
                for p in procs:
                    try:
                        if tick % 10 == 0:
                            info = p.memory_full_info()
                            pss += getattr(info, "pss", info.rss)
                        else:
                            info = p.memory_info()
                        rss += info.rss
                        if p.pid == self.proc.pid:
                            self.peak_main_rss = max(self.peak_main_rss, info.rss)
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                self.peak_rss = max(self.peak_rss, rss)
                self.peak_pss = max(self.peak_pss, pss)
            except psutil.NoSuchProcess:
                return
            tick += 1
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# the export runs as on a normal install, where Python caches compiled modules (a shell may switch
# that off with PYTHONDONTWRITEBYTECODE; compiling the package costs ~0.2 s a start)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm_bytecode() -> None:
    subprocess.run([sys.executable, "-c", "import cim_twin.cli.main, cim_twin.export.writer, cim_twin.export.streaming, "
                    "cim_twin.cli.commands.export"], env=ENV, check=True)


def run_measured(cmd: list[str], cwd: Path | None = None) -> dict[str, float]:
    """Wall time, CPU time (user + system of the process and every worker it waited for) and peak
    memory of ``cmd``. CPU time hardly moves when the machine is shared; wall time does."""
    used_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    mem = TreeMemory(proc.pid)
    out, err = proc.communicate()
    mem.stop()
    seconds = time.perf_counter() - t
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (used.ru_utime - used_before.ru_utime) + (used.ru_stime - used_before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-2000:]}")
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(mem.peak_rss / 2**20, 1),
            "peak_pss_mb": round(mem.peak_pss / 2**20, 1), "peak_main_rss_mb": round(mem.peak_main_rss / 2**20, 1),
            "stdout": out.decode(errors="replace")[-500:]}


def generated(work: Path, n: int) -> Path:
    folder = work / f"district-{n}"
    gml = folder / "city_2024.gml"
    if not gml.exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "cim_twin", "generate", str(folder), "--buildings", str(n),
                        "--years", "2024", "--lod2-only", "--quiet"], check=True)
    return gml


def bare_iterparse(gml: Path, script: str = BARE) -> float:
    out = subprocess.run([sys.executable, "-c", script, str(gml)], capture_output=True, text=True, check=True)
    return round(float(out.stdout.split()[0]), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buildings", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--work", type=Path, default=HERE / "_work")
    ap.add_argument("--peer", action="store_true", help="also run npm citygml-to-3dtiles (installed in WORK/npm)")
    ap.add_argument("--peer-max", type=int, default=10000)
    ap.add_argument("--audit", action="store_true", help="include the round-trip audit in the export timing")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    warm_bytecode()
    rows = []
    for n in args.buildings:
        gml = generated(args.work, n)
        size_mb = round(gml.stat().st_size / 2**20, 1)
        bare_before = bare_iterparse(gml)
        bare_all = bare_iterparse(gml, BARE_ALL)
        out = args.work / f"export-{n}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "cim_twin", "export", str(gml), "--out", str(out), "--stream", "on",
               "--processes", str(args.processes)]
        if not args.audit:
            cmd.append("--no-audit")
        load_before = os.getloadavg()[0]
        ours = run_measured(cmd)
        # the machine may be shared: the baseline right before and right after the export, averaged
        bare_after = bare_iterparse(gml)
        bare = round((bare_before + bare_after) / 2, 2)
        tiles = sum(1 for _ in (out / "buildings" / "tiles").iterdir())
        row = {"buildings": n, "file_mb": size_mb, "bare_iterparse_s": bare,
               "bare_iterparse_before_after_s": [bare_before, bare_after], "bare_all_events_s": bare_all,
               "load_average_1min": round(load_before, 2),
               "export_s": ours["seconds"], "export_cpu_s": ours["cpu_s"], "ratio_to_iterparse": round(ours["seconds"] / bare, 2),
               "ratio_to_all_events": round(ours["seconds"] / bare_all, 2), "peak_rss_tree_mb": ours["peak_rss_mb"],
               "peak_pss_tree_mb": ours["peak_pss_mb"], "peak_rss_main_mb": ours["peak_main_rss_mb"],
               "tiles": tiles, "processes": args.processes}
        if args.peer and n <= args.peer_max:
            pkg = args.work / "npm" / "node_modules" / "citygml-to-3dtiles"
            if pkg.is_dir():
                peer_out = args.work / f"peer-{n}"
                shutil.rmtree(peer_out, ignore_errors=True)
                try:
                    peer = run_measured(["node", "--max-old-space-size=8192", str(HERE / "peer_citygml_to_3dtiles.mjs"),
                                         str(pkg), str(gml), str(peer_out), "EPSG:4548", PROJ_4548])
                    row.update(peer_s=peer["seconds"], peer_peak_rss_mb=peer["peak_rss_mb"])
                except RuntimeError as exc:
                    row.update(peer_error=str(exc)[-300:])
        rows.append(row)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
