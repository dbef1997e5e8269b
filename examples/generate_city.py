"""Generate the example Nanping-like district with the library API and look at what it holds.

    python examples/generate_city.py [OUT_DIR] [BUILDINGS]

Writes the project folder (CityGML per year, spatial units, roads, twin.toml), then reads the newest
epoch back and prints a few figures of the district.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from cim_twin.example_city import generate
from cim_twin.io import read_scene


def main(out_dir: Path, buildings: int) -> None:
    result = generate(out_dir, buildings=buildings, seed=1, years=(2023, 2024, 2025))
    for name, count in result.files.items():
        print(f"{name}: {count} buildings")
    layout = result.layout
    print(f"{len(layout.districts)} districts, {len(layout.blocks)} blocks, {len(layout.communities)} communities, "
          f"{len(layout.roads)} roads")

    newest = max(result.years)
    scene = read_scene(out_dir / f"city_{newest}.gml")
    buildings_in_scene = [o for o in scene.roots if o.kind == "Building"]
    old = sum(1 for b in buildings_in_scene if (b.year_built or 9999) < 1990)
    tall = sum(1 for b in buildings_in_scene if (b.height_m or 0) > 80)
    print(f"{newest}: {len(buildings_in_scene)} buildings, {old / len(buildings_in_scene):.0%} built before 1990, "
          f"{tall} taller than 80 m")
    print("danger levels:", dict(sorted(Counter(b.get("danger_level") for b in buildings_in_scene).items())))
    print(f"extent (WGS84): {scene.extent_wgs84()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("example"), int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
