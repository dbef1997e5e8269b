"""Fixtures of the export tests: a hand-built scene with a run, exported once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from cim_twin.export.buildings import TilingOptions
from cim_twin.export.run import RunData
from cim_twin.export.writer import ExportOptions, export_folder

from .scenes import box_scene, findings_for


@pytest.fixture(scope="session")
def boxes():
    return box_scene(24)


@pytest.fixture(scope="session")
def box_run(boxes) -> RunData:
    findings = findings_for(boxes)
    actions = {"BLDG_0003": ("renovate", "建成年代早于1990年", "P-0001"), "BLDG_0004": ("retain", "历史建筑", "P-0002")}
    return RunData("2025-test", findings, actions=actions)


@pytest.fixture(scope="session")
def box_export(boxes, box_run, tmp_path_factory) -> Path:
    """The box scene exported with its run: both tile versions, coloured by severity, small tiles so the
    tree has coarse levels."""
    out = tmp_path_factory.mktemp("export") / "out"
    export_folder(boxes, out, run=box_run, options=ExportOptions(
        tiles_version="both", color_by="severity", tiling=TilingOptions(max_features=5, coarse_max_features=8)))
    return out


@pytest.fixture(scope="session")
def real_exports(shared_data: Path, tmp_path_factory) -> dict[str, Path]:
    """Real CityGML exported: FZK-Haus LoD2 (one building, AdV CRS) both versions, and Potsdam LoD1
    (97 buildings, EPSG:25833+5783) with small tiles."""
    from cim_twin.io import read_scene

    base = tmp_path_factory.mktemp("real")
    out = {}
    fzk = read_scene(shared_data / "3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD2-KIT-IAI-KHH-V2.gml")
    out["fzk"] = base / "fzk"
    export_folder(fzk, out["fzk"], options=ExportOptions(tiles_version="both"))
    potsdam = read_scene(
        shared_data / "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml")
    out["potsdam"] = base / "potsdam"
    export_folder(potsdam, out["potsdam"], options=ExportOptions(
        color_by="measuredHeight", tiling=TilingOptions(max_features=16, coarse_max_features=24)))
    return out
