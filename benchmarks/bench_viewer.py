"""Viewer benchmark: time to first frame, frame time while orbiting, and memory, for a generated
district of box buildings (LOD1, 12 triangles each) with findings on a share of them.

    python benchmarks/bench_viewer.py --buildings 100000 --findings 10000

Renders off-screen (the machine's OpenGL: here Mesa llvmpipe on the CPU, so frame times are an
upper bound of what a desktop GPU gives). Figures go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cim_twin.crs import parse_srs_name
from cim_twin.model import ProblemPoint, Severity, problem_id
from cim_twin.scene import CityObject, Mesh, Scene, SurfaceType

_CORNERS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64
)
_TRIANGLES = np.array(
    [[0, 2, 1], [0, 3, 2], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7],
     [4, 5, 6], [4, 6, 7]], dtype=np.int32,
)
_SEMANTICS = np.array([SurfaceType.GROUND] * 2 + [SurfaceType.WALL] * 8 + [SurfaceType.ROOF] * 2, dtype=np.uint8)


def rss_mib() -> float:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def make_district(n: int, seed: int = 7) -> Scene:
    """``n`` box buildings on a jittered grid in EPSG:4547 (coordinates in the millions)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    scene = Scene(parse_srs_name("EPSG:4547"))
    sizes = rng.uniform([8, 8, 3], [30, 24, 60], size=(n, 3))
    jitter = rng.uniform(-3, 3, size=(n, 2))
    for k in range(n):
        i, j = k % side, k // side
        x, y = 500_000.0 + i * 40.0 + jitter[k, 0], 2_930_000.0 + j * 40.0 + jitter[k, 1]
        vertices = _CORNERS * sizes[k] + np.array([x, y, 12.0])
        mesh = Mesh(vertices=vertices, triangles=_TRIANGLES, semantics=_SEMANTICS, solid_closed=True)
        scene.add(CityObject(f"B{k:06d}", "Building", geometry={1: mesh},
                             attributes={"yearOfConstruction": int(1950 + (k * 37) % 70)}))
    return scene


def make_findings(scene: Scene, n: int, seed: int = 11) -> list[ProblemPoint]:
    rng = np.random.default_rng(seed)
    tz = ZoneInfo("Asia/Shanghai")
    picks = rng.choice(len(scene.roots), size=min(n, len(scene.roots)), replace=False)
    severities = list(Severity)
    out = []
    for k in picks:
        obj = scene.roots[int(k)]
        lo, hi = obj.bounds
        sev = severities[int(rng.integers(0, 5))]
        year = int(rng.integers(2023, 2026))
        out.append(ProblemPoint(
            id=problem_id("X-TALL", obj.id, str(year)), key=f"X-TALL|{obj.id}", indicator="X-TALL", severity=sev,
            score=sev.score, value=float(hi[2] - lo[2]), threshold=24.0, unit="m",
            x=float((lo[0] + hi[0]) / 2), y=float((lo[1] + hi[1]) / 2), z=float(hi[2]),
            object_ids=(obj.id,), period=str(year), observed_at=datetime(year, 6, 1, tzinfo=tz),
            valid_from=datetime(year, 1, 1, tzinfo=tz),
        ))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=30, help="frames rendered while orbiting")
    parser.add_argument("--window-size", default="1280x800")
    parser.add_argument("--screenshot", type=Path, help="also save the first frame here")
    parser.add_argument("--citygml", type=Path, help="view this CityGML file instead of generated boxes "
                        "(e.g. a district from `cim-twin generate`); --findings are placed on its buildings")
    args = parser.parse_args()
    width, height = (int(v) for v in args.window_size.lower().split("x"))

    from cim_twin.viewer.app import Viewer
    from cim_twin.viewer.problems import RunFindings
    from cim_twin.viewer.state import ViewerState, ViewOptions

    t0 = time.perf_counter()
    if args.citygml:
        from cim_twin.io import read_scene

        scene = read_scene(args.citygml)
        args.buildings = len(scene.roots)
    else:
        scene = make_district(args.buildings)
    findings = make_findings(scene, args.findings)
    gc.collect()
    t_generate = time.perf_counter() - t0
    rss_scene = rss_mib()

    # First frame: merge the scene, resolve colours and findings, build the VTK pipeline, render.
    t0 = time.perf_counter()
    state = ViewerState(scene, RunFindings(findings, "bench"),
                        ViewOptions(color_by="severity", window_size=(width, height), widgets=False, font_file=None))
    t_state = time.perf_counter() - t0
    viewer = Viewer(state, off_screen=True)
    frame = viewer.image()
    t_first = time.perf_counter() - t0
    rss_view = rss_mib()
    if args.screenshot:
        from cim_twin.viewer.screenshot import write_png

        write_png(args.screenshot, frame)

    # Interaction: orbit the camera and time each render.
    times = []
    camera = viewer.plotter.camera
    for _ in range(args.frames):
        camera.azimuth += 360.0 / args.frames
        t = time.perf_counter()
        viewer.plotter.render()
        times.append(time.perf_counter() - t)
    # While the mouse turns the view, the window draws roofs only (large scenes).
    coarse_times = []
    if state.uses_roof_proxy:
        viewer.coarse(True)
        for _ in range(args.frames):
            camera.azimuth += 360.0 / args.frames
            t = time.perf_counter()
            viewer.plotter.render()
            coarse_times.append(time.perf_counter() - t)
        viewer.coarse(False)
    # Year slider: re-filter findings, recolour and rebuild glyphs.
    t = time.perf_counter()
    viewer.set_year(2024)
    t_year = time.perf_counter() - t
    t = time.perf_counter()
    viewer.focus(+1)
    viewer.plotter.render()
    t_focus = time.perf_counter() - t
    viewer.close()

    result = {
        "source": args.citygml.name if args.citygml else "generated LOD1 boxes",
        "buildings": args.buildings,
        "findings": args.findings,
        "triangles": state.meshes.n_triangles,
        "layers": len(state.meshes.layers),
        "window": f"{width}x{height}",
        "generate_scene_s": round(t_generate, 2),
        "state_s": round(t_state, 2),
        "first_frame_s": round(t_first, 2),
        "frame_ms_median": round(1000 * float(np.median(times)), 1),
        "frame_ms_max": round(1000 * float(np.max(times)), 1),
        "frame_ms_turning_median": round(1000 * float(np.median(coarse_times)), 1) if coarse_times else None,
        "frame_ms_turning_max": round(1000 * float(np.max(coarse_times)), 1) if coarse_times else None,
        "year_change_s": round(t_year, 3),
        "fly_to_next_s": round(t_focus, 3),
        "rss_scene_mib": round(rss_scene),
        "rss_after_first_frame_mib": round(rss_view),
        "viewer_extra_mib": round(rss_view - rss_scene),
        "renderer": _renderer(),
    }
    print(json.dumps(result, indent=2))
    return 0


def _renderer() -> str:
    try:
        import pyvista as pv

        return str(pv.GPUInfo().renderer)
    except Exception:  # informational only
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
