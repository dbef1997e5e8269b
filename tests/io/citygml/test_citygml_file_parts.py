"""Reading a stretch of members of a file as a document of its own (FilePart), as the streaming
export's workers do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cim_twin.cli.main import main
from cim_twin.errors import FormatError
from cim_twin.export.streaming import split_member_ranges
from cim_twin.io.citygml.reader import CityGMLReader
from cim_twin.io.citygml.source import FilePart, open_part


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gen") / "d"
    assert main(["generate", str(folder), "--buildings", "40", "--years", "2024", "--lod2-only", "--quiet"]) == 0
    return folder / "city_2024.gml"


def test_a_part_reads_head_range_and_tail_in_any_read_size(tmp_path: Path) -> None:
    path = tmp_path / "bytes.bin"
    body = bytes(range(256)) * 400
    path.write_bytes(body)
    part = FilePart(b"<head>", 7, len(body) - 3, b"</head>")
    for size in (1, 5, 4096, 1 << 20):
        with open_part(path, part) as stream:
            chunks = iter(lambda: stream.read(size), b"")  # noqa: B023 - consumed right away
            assert b"".join(chunks) == b"<head>" + body[7:-3] + b"</head>"


def test_the_parts_of_a_file_hold_all_its_objects_once(city: Path) -> None:
    path = city
    everything = [o.id for o in CityGMLReader(path, progress=False).iter_objects()]
    head, tail, ranges = split_member_ranges(path, 3)
    parts = []
    for start, end in ranges:
        reader = CityGMLReader(path, progress=False, part=FilePart(head, start, end, tail))
        parts.extend(o.id for o in reader.iter_objects())
    assert parts == everything and len(everything) > 1


def test_a_part_cut_inside_a_member_is_a_format_error(city: Path) -> None:
    path = city
    head, tail, ranges = split_member_ranges(path, 2)
    start, end = ranges[0]
    reader = CityGMLReader(path, progress=False, part=FilePart(head, start, end - 20, tail))
    with pytest.raises(FormatError, match="not well-formed"):
        list(reader.iter_objects())
