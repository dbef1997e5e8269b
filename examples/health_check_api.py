"""One yearly health check with the library API, end to end.

    python examples/health_check_api.py [WORK_DIR] [BUILDINGS]

Generates the example district, reads the 2025 city model, evaluates every installed indicator,
keeps the run in the project's catalog, prints the worst problems and exports the CIM folder —
the same steps as ``cim-twin generate``, ``check`` and ``export``, from Python.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from cim_twin.catalog import Catalog
from cim_twin.example_city import generate
from cim_twin.export import ExportOptions, export_folder, load_run
from cim_twin.indicators.runner import load_scene, run_check
from cim_twin.model import Period
from cim_twin.project import Project


def main(work: Path, buildings: int) -> dict[str, object]:
    generate(work, buildings=buildings, seed=7, years=[2025])
    project = Project.load(work / "twin.toml")

    # Read the city model once; the check and the export both use it.
    scene = load_scene(project, Period.year(2025))
    print(f"{len(scene.buildings())} buildings in {scene.crs.name if scene.crs else 'no CRS'}")

    # Evaluate every indicator the installed plugins provide; the run goes to the catalog.
    result = run_check(project, period=2025, scene=scene)
    print(f"run {result.run.id}: {result.run.status}, {len(result.findings)} findings, "
          f"{len(result.measurements)} measurements")
    for code, status in sorted(result.run.indicators.items()):
        print(f"  {code:<24} {status.status:<8} {status.findings:>5} findings")

    worst = sorted(result.findings, key=lambda f: (-f.severity.rank, -f.score, f.id))[:5]
    print("worst problems:")
    for f in worst:
        print(f"  {f.severity.value:<8} {f.indicator:<22} {f.unit_id or '-':<14} "
              f"({f.lon:.5f}, {f.lat:.5f})  {f.message_en}")

    # The catalog is a GeoPackage: the run is there with its findings.
    catalog = Catalog.open(result.catalog_path, create=False)
    stored = list(catalog.findings(result.run.id))
    catalog.close()
    print(f"catalog {result.catalog_path.name}: {len(stored)} findings stored")

    # Export the buildings and the run's problems for a CIM platform.
    manifest = export_folder(scene, work / "cim", run=load_run(result.run.id, catalog_path=result.catalog_path),
                             options=ExportOptions(tiles_version="1.1", color_by="severity", overwrite=True))
    kinds = Counter(layer["kind"] for layer in manifest["layers"])
    print(f"exported {work / 'cim'}: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return {"result": result, "manifest": manifest, "stored": len(stored)}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("health-check-example"),
         int(sys.argv[2]) if len(sys.argv) > 2 else 400)
