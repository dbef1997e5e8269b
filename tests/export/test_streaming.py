"""The streaming path for large CityGML files: same bytes as the in-memory path, clear errors."""

from __future__ import annotations

import filecmp
import gc
import itertools
import json
from pathlib import Path

import pytest

from cim_twin.cli.main import main
from cim_twin.errors import FormatError
from cim_twin.export.buildings import TilingOptions
from cim_twin.export.features import PropertyTable, derive_columns
from cim_twin.export.run import RunData, load_run
from cim_twin.export.streaming import SpilledRows, _unlink, split_member_ranges
from cim_twin.export.writer import ExportOptions, export_citygml, export_folder
from cim_twin.gc_control import gc_paused
from cim_twin.io import read_scene
from cim_twin.scene import CityObject

from .scenes import findings_for


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gen") / "d"
    assert main(["generate", str(folder), "--buildings", "150", "--years", "2024", "--lod2-only", "--quiet"]) == 0
    return folder / "city_2024.gml"


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_ranges_hold_whole_members(city: Path) -> None:
    head, tail, ranges = split_member_ranges(city, 5)
    data = city.read_bytes()
    assert data.startswith(head) and data.endswith(tail) and tail.strip().startswith(b"</")
    assert len(ranges) == 5 and ranges[0][0] == len(head)
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert end == start
    for start, end in ranges:
        part = data[start:end]
        assert part.lstrip().startswith(b"<core:cityObjectMember")
        assert part.count(b"<core:cityObjectMember") == part.count(b"</core:cityObjectMember>")


@pytest.mark.parametrize(("processes", "color_by"), [(1, "severity"), (2, "address_street")])
def test_streaming_equals_in_memory(city: Path, tmp_path: Path, processes: int, color_by: str) -> None:
    scene = read_scene(city)
    run = RunData("r1", findings_for(scene))
    opts = ExportOptions(tiles_version="both", color_by=color_by, processes=processes,
                         tiling=TilingOptions(max_features=20, coarse_max_features=30))
    export_folder(scene, tmp_path / "mem", run=run, options=opts)
    collector = gc.get_threshold(), gc.get_freeze_count()
    export_citygml(city, tmp_path / "stream", run=run, options=opts)
    assert (gc.get_threshold(), gc.get_freeze_count()) == collector  # the export's policy ends with it
    files = _files(tmp_path / "mem")
    assert files == _files(tmp_path / "stream")
    assert sum(f.endswith(".glb") for f in files) > 5
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "mem", tmp_path / "stream", files, shallow=False)
    assert not mismatch and not errors
    legend = json.loads((tmp_path / "stream" / "layers.json").read_text("utf-8"))["layers"][0]["legend"]
    assert len(legend) > 2  # the colouring found its property
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # scratch and temp folders gone


GARAGE = ("citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Examples-from-CityGML-2.0/"
          "building/CityGMLv2/Building_and_garage_LOD2-EPSG25832.gml")


def test_streaming_a_building_with_a_part_equals_in_memory(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / GARAGE  # one Building with a BuildingPart (the garage)
    opts = ExportOptions(tiles_version="both", processes=1)
    export_folder(read_scene(source), tmp_path / "mem", options=opts)
    export_citygml(source, tmp_path / "stream", options=opts)
    files = _files(tmp_path / "mem")
    assert files == _files(tmp_path / "stream")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "mem", tmp_path / "stream", files, shallow=False)
    assert not mismatch and not errors


def test_a_finished_building_and_its_parts_are_freed_without_the_collector() -> None:
    def garbage_left(unlink: bool) -> int:
        """City objects that only the cyclic collector could free, left by one building with a part."""
        gc.collect()
        with gc_paused():
            building = CityObject("b", "Building")
            building.add_child(CityObject("b/p", "BuildingPart"))
            if unlink:
                _unlink(building)
            del building
            gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector finds, to look at it
            try:
                gc.collect()
                return sum(isinstance(o, CityObject) for o in gc.garbage)
            finally:
                gc.set_debug(0)
                gc.garbage.clear()

    assert garbage_left(unlink=False) == 2  # the building and its part point at each other
    assert garbage_left(unlink=True) == 0


def test_truncated_file_is_a_clear_error(city: Path, tmp_path: Path) -> None:
    data = city.read_bytes()
    broken = tmp_path / "cut.gml"
    broken.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(FormatError, match="closing root tag"):
        export_citygml(broken, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.gml"]


def test_broken_member_mid_file_names_file_and_line(city: Path, tmp_path: Path) -> None:
    data = city.read_bytes()
    at = data.index(b"<core:cityObjectMember", len(data) * 3 // 4)
    line = data[:at].count(b"\n") + 1
    bad = data[:at] + b"<core:cityObjectMember><bldg:Building gml:id='x'><oops></core:cityObjectMember>\n" + data[at:]
    broken = tmp_path / "bad.gml"
    broken.write_bytes(bad)
    with pytest.raises(FormatError) as info:
        export_citygml(broken, tmp_path / "out", options=ExportOptions(processes=2))
    assert info.value.path == str(broken)
    assert info.value.line is not None and abs(info.value.line - line) <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gml"]


def test_cli_streams_with_a_run_folder(city: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cim"
    assert main(["export", str(city), "--out", str(out), "--stream", "on", "--processes", "2"]) == 0
    assert "exported 150 of 150 buildings" in capsys.readouterr().out
    assert load_run  # imported API stays public


def test_spilled_rows_give_the_values_of_dict_rows() -> None:
    rows = [{"id": "a", "height_m": 3.0, "name": "x"}, {"id": "b", "height_m": 4.5},
            {"id": "c", "name": "z", "height_m": None}, {"id": "d", "height_m": 1.0, "name": "w"}]
    columns = derive_columns(rows)
    spilled = SpilledRows()
    # two parts numbering their key tuples each from 0, in different orders
    first = [tuple(rows[0]), tuple(rows[1])]
    spilled.add(first, [(first.index(tuple(r)), tuple(r.values())) for r in rows[:2]])
    second = [tuple(rows[2]), tuple(rows[3])]
    spilled.add(second, [(second.index(tuple(r)), tuple(r.values())) for r in rows[2:]])
    table, plain = spilled.table(columns), PropertyTable(columns, rows)
    assert len(table) == 4
    for col in columns:
        for subset in (None, range(4), [3, 0]):
            assert table.json_values(col, subset if subset is not None else range(4)) == plain.json_values(
                col, subset if subset is not None else range(4))
            assert str(table.values(col, subset)) == str(plain.values(col, subset))
