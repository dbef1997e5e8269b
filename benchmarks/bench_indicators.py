"""Benchmark: every first-party indicator on a generated district.

For each size the example district of that many buildings is planned (``build_layout``), its
auxiliary layers and twin.toml are written under ``benchmarks/_work/indicators_<N>/`` (git-ignored)
by the same code ``cim-twin generate`` uses, and the buildings are extruded straight into an
in-memory Scene as LOD1 prisms (ground, walls, roof, with the attributes the CityGML files carry):
reading CityGML is benchmarked by bench_load.py, this script times the indicators.

Then, in one process: the layers are loaded through the project loader, the shared building table
is built once (``Indicator.prepare``), and every indicator is evaluated in turn. With ``--runner``
the same selection also goes through ``run_check`` (each indicator in its own forked process, the
runner's own preparation, findings placed in lon/lat) on a fresh scene, with the peak memory of
the process tree meanwhile (sampled as bench_export.py does). Printed: seconds per step and per
indicator, findings and measurements; ``--json`` writes them to a file.

    python benchmarks/bench_indicators.py --sizes 10000,100000 --json benchmarks/_work/bench_indicators.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import mapbox_earcut
import numpy as np
from bench_export import TreeMemory
from cim_twin_plugins._spatial import building_table
from cim_twin_plugins.catalogue import first_party_indicators

from cim_twin.crs import parse_srs_name
from cim_twin.example_city.layers import write_layers
from cim_twin.example_city.layout import BuildingPlan, DistrictLayout, build_layout
from cim_twin.example_city.project import BASE_LAYERS, write_project
from cim_twin.example_city.roads import write_roads
from cim_twin.example_city.units import write_units
from cim_twin.indicators.api import CheckContext
from cim_twin.io.layers import load_project_layers
from cim_twin.model import Period
from cim_twin.project import Project
from cim_twin.scene import CityObject, Mesh, Scene, SurfaceType

ROOT = Path(__file__).resolve().parent.parent  # the package must be installed (pip install -e .)
YEAR = 2025


def prism(plan: BuildingPlan) -> Mesh:
    """The LOD1 solid of a plan: footprint extruded from its ground to its measured height."""
    ring = np.asarray(plan.footprint, dtype=np.float64)
    n = len(ring)
    z0, z1 = plan.ground_z, plan.ground_z + plan.height_m
    cap = np.asarray(mapbox_earcut.triangulate_float64(ring, np.array([n], dtype=np.uint32)), dtype=np.int32).reshape(-1, 3)
    vertices = np.vstack([np.column_stack([ring, np.full(n, z0)]), np.column_stack([ring, np.full(n, z1)])])
    ground = cap[:, ::-1]  # facing down
    roof = cap + n
    i = np.arange(n)
    j = (i + 1) % n
    walls = np.vstack([np.column_stack([i, j, j + n]), np.column_stack([i, j + n, i + n])])
    triangles = np.vstack([ground, roof, walls]).astype(np.int32)
    semantics = np.concatenate([
        np.full(len(ground), SurfaceType.GROUND), np.full(len(roof), SurfaceType.ROOF), np.full(len(walls), SurfaceType.WALL),
    ]).astype(np.uint8)
    return Mesh(vertices=vertices, triangles=triangles, semantics=semantics, solid_closed=True)


def scene_of(layout: DistrictLayout, year: int) -> Scene:
    scene = Scene(parse_srs_name(layout.crs))
    for p in layout.iter_buildings(year):
        scene.add(CityObject(
            p.id, "Building",
            attributes={"function": p.function, "usage": p.usage, "yearOfConstruction": p.year_built,
                        "measuredHeight": p.height_m, "storeysAboveGround": p.storeys},
            generic_attributes={"community_id": p.community_id, "structure": p.structure,
                                "danger_level": p.danger_level_in(year)},
            geometry={1: prism(p)},
        ))
    return scene


def write_inputs(layout: DistrictLayout, out: Path) -> None:
    """Units, roads, the auxiliary layers and twin.toml, as ``cim-twin generate`` writes them."""
    write_units(layout, out / "layers")
    write_roads(layout, out / "layers" / str(YEAR) / "roads.geojson", YEAR)
    entries = {name: dict(e) for name, e in BASE_LAYERS.items()}
    entries.update(write_layers(layout, out, YEAR, layout.random_for("layers", YEAR)))
    write_project(out, [YEAR], entries, buildings=layout.buildings, seed=layout.seed)


def bench_runner(layout: DistrictLayout, project: Project) -> dict[str, object]:
    """The same through ``run_check`` (process isolation, findings placed in lon/lat), on a fresh
    scene: what ``cim-twin check`` costs once the scene is read."""
    from cim_twin.example_city.citygml import write_citygml
    from cim_twin.indicators.runner import run_check

    source = project.root / f"city_{YEAR}.gml"
    if not source.exists():  # the runner fingerprints its sources; the scene itself is passed in
        write_citygml(layout, source, YEAR, lod1=True, lod2=False)
    scene = scene_of(layout, YEAR)
    codes = [ind.spec.code for _, ind in first_party_indicators()]
    memory = TreeMemory(os.getpid())  # this process (holding the scene) and its forked children
    t = time.perf_counter()
    result = run_check(project, period=YEAR, indicators=codes, scene=scene, write=False, catalog=False)
    total = time.perf_counter() - t
    memory.stop()
    return {"runner_total_s": round(total, 2), "runner_status": result.run.status,
            "runner_peak_pss_tree_mb": round(memory.peak_pss / 2**20), "runner_peak_rss_tree_mb": round(memory.peak_rss / 2**20),
            "runner_findings": len(result.findings),
            "runner_indicators_s": round(sum(s.seconds for s in result.run.indicators.values()), 2),
            "runner_seconds": {code: round(s.seconds, 3) for code, s in result.run.indicators.items()}}


def bench(size: int, seed: int, work: Path, runner: bool = False) -> dict[str, object]:
    out = work / f"indicators_{size}"
    t = time.perf_counter()
    layout = build_layout(buildings=size, seed=seed)
    if not (out / "twin.toml").exists():
        write_inputs(layout, out)
    t_inputs = time.perf_counter() - t
    t = time.perf_counter()
    scene = scene_of(layout, YEAR)
    t_scene = time.perf_counter() - t
    project = Project.load(out / "twin.toml")
    period = Period.year(YEAR)
    t = time.perf_counter()
    layers, _ = load_project_layers(project, period, scene.crs, scene.extent())
    t_layers = time.perf_counter() - t
    profile = project.profile(None)
    ctx = CheckContext(scene, period=period, layers=layers, thresholds=profile.thresholds, options=profile.options)
    indicators = first_party_indicators()
    t0 = time.perf_counter()
    for _, ind in indicators:
        ind.prepare(ctx)
    t_prepare = time.perf_counter() - t0
    per: dict[str, dict[str, float]] = {}
    for _, ind in indicators:
        before = len(ctx.measurements)
        t = time.perf_counter()
        findings = list(ind.evaluate(ctx))
        per[ind.spec.code] = {"seconds": round(time.perf_counter() - t, 3), "findings": len(findings),
                              "measurements": len(ctx.measurements) - before}
    total = time.perf_counter() - t0
    extra = bench_runner(layout, project) if runner else {}
    return {**extra,
        "buildings": len(building_table(ctx)), "roads": len(layout.roads), "communities": len(layout.communities),
        "heatmap_rows": len(ctx.layer("heatmap")), "streetview_samples": len(ctx.layer("streetview")),
        "inputs_s": round(t_inputs, 2), "scene_s": round(t_scene, 2), "layers_s": round(t_layers, 2),
        "prepare_s": round(t_prepare, 2), "indicators_total_s": round(total, 2), "indicators": per,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated building counts (default 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "_work")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--runner", action="store_true", help="also time run_check (isolated processes) on a fresh scene")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench(size, args.seed, args.work, runner=args.runner)
        results.append(r)
        print(f"\n{r['buildings']:,} buildings, {r['roads']} roads, {r['communities']} communities, "
              f"{r['streetview_samples']:,} street-view samples, {r['heatmap_rows']:,} heat-map rows")
        print(f"  write inputs {r['inputs_s']} s, scene in memory {r['scene_s']} s, load layers {r['layers_s']} s")
        print(f"  building table (prepare) {r['prepare_s']} s; all indicators incl. prepare: {r['indicators_total_s']} s")
        if args.runner:
            print(f"  run_check: {r['runner_total_s']} s ({r['runner_status']}, {r['runner_findings']:,} findings; "
                  f"indicators in their processes {r['runner_indicators_s']} s); peak memory of the process tree: "
                  f"{r['runner_peak_pss_tree_mb']:,} MB PSS, {r['runner_peak_rss_tree_mb']:,} MB RSS")
        for code, v in r["indicators"].items():  # type: ignore[union-attr]
            runner_s = r.get("runner_seconds", {}).get(code)  # type: ignore[union-attr]
            print(f"    {code:24s} {v['seconds']:8.2f} s  {v['findings']:7d} findings  {v['measurements']:5d} measurements"
                  + (f"  run_check {runner_s:6.2f} s" if runner_s is not None else ""))
    if args.json:
        args.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "results": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
