"""Tilesets written by the project's exporter read back feature for feature (both 3D Tiles
versions, with REPLACE coarse levels), so a CIM export can be checked again on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cim_twin.io import read_scene
from cim_twin.io.tiles3d import read_tileset, tileset_info

buildings = pytest.importorskip("cim_twin.export.buildings")

POTSDAM = "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml"


@pytest.fixture(scope="module")
def potsdam(shared_data: Path):
    return read_scene(shared_data / POTSDAM)


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_exported_buildings_read_back(tmp_path: Path, potsdam, version: str) -> None:
    layer = buildings.prepare_buildings(potsdam, tiling=buildings.TilingOptions(max_features=10, coarse_max_features=40))

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    buildings.write_building_tiles(layer, tmp_path, version, {}, write)
    info = tileset_info(tmp_path)
    assert info["counts"] == {"Building": 97}
    assert info["tiles"]["replaced_contents"] > 0  # coarse levels were skipped, not read twice
    back = read_tileset(tmp_path, crs="EPSG:25833")
    assert len(back) == 97
    for source in potsdam.buildings():
        copy = back[source.id]
        assert np.allclose(copy.bounds[0], source.bounds[0], atol=1e-3)
        assert np.allclose(copy.bounds[1], source.bounds[1], atol=1e-3)
    coarse = read_tileset(tmp_path, max_depth=0)
    assert 0 < len(coarse) < 97
