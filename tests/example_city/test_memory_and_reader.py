"""Constant memory of the generator, and the generated district read back by ``read_scene``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cim_twin.example_city import generate

_PEAK_RSS_SCRIPT = """
import resource, sys
from cim_twin.example_city import generate
generate(sys.argv[1], buildings=int(sys.argv[2]), seed=5, years=(2025,), aux_layers=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


def _peak_rss_mib(out: Path, buildings: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(out), str(buildings)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return int(done.stdout.split()[-1]) / 1024


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_memory_stays_flat_as_the_district_grows(tmp_path: Path) -> None:
    small = _peak_rss_mib(tmp_path / "small", 2_000)
    large = _peak_rss_mib(tmp_path / "large", 20_000)
    size = (tmp_path / "large" / "city_2025.gml").stat().st_size
    assert size > 100 * 2**20  # the large file is far bigger than any growth we allow below
    # Ten times the buildings: the layout grows by a few hundred small records, the stream not at all.
    assert large - small < 25, (small, large)


def test_generated_district_reads_back(tmp_path: Path) -> None:
    pytest.importorskip("cim_twin.io.citygml.plugin", reason="the CityGML reader is not installed")
    from cim_twin.io import read_scene

    result = generate(tmp_path, buildings=300, seed=2, years=(2025,), aux_layers=False)
    scene = read_scene(tmp_path / "city_2025.gml")
    assert scene.counts().get("Building") == 300
    assert scene.source_crs.name == "EPSG:4548"
    plans = {p.id: p for p in result.layout.iter_buildings(2025)}
    buildings = [o for o in scene.roots if o.kind == "Building"]
    assert {b.id for b in buildings} == set(plans)
    for b in buildings:
        plan = plans[b.id]
        assert b.height_m == pytest.approx(plan.height_m, abs=0.01)
        assert b.roof_z - b.ground_z == pytest.approx(plan.height_m, abs=0.01)
        assert b.year_built == plan.year_built
        assert b.storeys == plan.storeys
        assert b.footprint_area_m2 == pytest.approx(plan.footprint_area_m2, rel=1e-3)
        assert b.volume_m3 is not None and b.volume_m3 > 0
        assert b.get("community_id") == plan.community_id
        assert 2 in b.lods and 1 in b.lods


def test_gzipped_district_reads_back(tmp_path: Path) -> None:
    pytest.importorskip("cim_twin.io.citygml.plugin", reason="the CityGML reader is not installed")
    from cim_twin.io import read_scene

    generate(tmp_path, buildings=60, seed=2, years=(2024,), aux_layers=False, gzip=True)
    scene = read_scene(tmp_path / "city_2024.gml.gz")
    assert scene.counts().get("Building") == 60
