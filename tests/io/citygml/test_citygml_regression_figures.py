"""Geometry figures of real files, pinned so that speed work on the reader cannot change results.

The figures (objects, triangles, total triangle area, total signed volume of closed solids,
warnings) were produced by the first, unoptimised version of the reader, whose geometry is checked
independently elsewhere (solid volumes, footprint areas, WGS84 extents). A change here means the
reader's output changed, which needs a reason beyond speed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cim_twin.io.citygml.reader import read_citygml

# path under the shared data folder: (objects incl. parts, triangles, area m², closed volume m³, warnings)
FIGURES: dict[str, tuple[int, int, float, float, int]] = {
    "3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD2-KIT-IAI-KHH-V2.gml":
        (1, 16, 447.192943, 608.917894, 0),
    "3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD3-KIT-IAI-KHH-V2.gml":
        (1, 778, 484.410204, 604.769023, 0),
    "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml":
        (97, 5024, 157301.46472, 351885.701826, 0),
    # EPSG:6697 (latitude first), converted to UTM by the reader
    "plateau-gis-converter/docs/src/64413325_bldg_6697_op.gml":
        (25, 380, 8241.297241, 8413.924106, 0),
    "citygml4j/citygml4j-samples/datasets/LOD2_Buildings_v100.gml":
        (100, 1600, 30842.438109, 0.0, 1),
    "citygml4j/citygml4j-samples/input/datasets/lod4_building_v2.gml":
        (5, 2983, 828.796615, 46.476609, 0),
    "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Examples-from-CityGML-2.0/"
    "building/CityGMLv3/Building_LOD3-EPSG25832.gml":
        (5, 2983, 828.796615, 42.722288, 0),
}


@pytest.mark.parametrize("relative", sorted(FIGURES), ids=lambda p: Path(p).stem)
def test_geometry_figures_unchanged(shared_data: Path, relative: str) -> None:
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{relative} not in the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scene = read_citygml(path, progress=False)
    n_objects = n_triangles = 0
    area = volume = 0.0
    stack = list(scene.roots)
    while stack:
        obj = stack.pop()
        n_objects += 1
        stack.extend(obj.children)
        for mesh in obj.geometry.values():
            n_triangles += mesh.n_triangles
            area += float(mesh.triangle_areas().sum())
            if mesh.solid_closed:
                volume += float(mesh.signed_volume())
    objects, triangles, want_area, want_volume, n_warnings = FIGURES[relative]
    assert (n_objects, n_triangles, len(scene.warnings)) == (objects, triangles, n_warnings)
    assert area == pytest.approx(want_area, rel=1e-9, abs=1e-6)
    assert volume == pytest.approx(want_volume, rel=1e-9, abs=1e-6)
