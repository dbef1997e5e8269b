"""Unsafe, broken and foreign input: refused fast with one clear message naming file and place."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from cim_twin.errors import FormatError, UnsafeInputError
from cim_twin.io.citygml import citygml_info, read_citygml
from cim_twin.io.citygml.source import sniff_citygml

FZK2 = "citymodel-compare/input/fzk_haus_lod2_v2.gml"


@pytest.mark.parametrize("name", ["xxe.gml", "billion_laughs.gml"])
def test_entity_attacks_are_refused_fast(test_data: Path, name: str) -> None:
    path = test_data / "citygml" / name
    tracemalloc.start()
    t = time.perf_counter()
    for action in (read_citygml, citygml_info):
        with pytest.raises(UnsafeInputError, match="DOCTYPE") as err:
            action(path)
        doctype_line = path.read_text().splitlines().index(next(
            line for line in path.read_text().splitlines() if line.startswith("<!DOCTYPE"))) + 1
        assert err.value.path == str(path) and err.value.line == doctype_line
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 20 * 2**20


def test_doctype_behind_long_comments_and_in_gzip_is_found(tmp_path: Path, test_data: Path) -> None:
    attack = (test_data / "citygml" / "billion_laughs.gml").read_bytes()
    head, rest = attack.split(b"\n", 1)
    padded = head + b"\n" + (b"<!-- " + b"x" * 100_000 + b" -->\n") * 3 + rest
    (tmp_path / "padded.gml").write_bytes(padded)
    with pytest.raises(UnsafeInputError):
        read_citygml(tmp_path / "padded.gml")
    with gzip.open(tmp_path / "attack.gml.gz", "wb") as f:
        f.write(attack)
    with pytest.raises(UnsafeInputError):
        citygml_info(tmp_path / "attack.gml.gz")


@pytest.mark.parametrize(
    "name,what",
    [("placemark.kml", "KML"), ("indoor.gml", "IndoorGML")],
)
def test_other_xml_formats_say_what_they_are(test_data: Path, name: str, what: str) -> None:
    with pytest.raises(FormatError, match=f"this is {what}, not CityGML"):
        read_citygml(test_data / "citygml" / name)


def test_json_and_cityjson_say_so(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"JSON file, not CityGML.*CityJSON"):
        citygml_info(shared_data / "cjio/tests/data/cube.json")
    assert sniff_citygml(shared_data / "cjio/tests/data/cube.json")  # so the CLI can say so too
    (tmp_path / "empty.gml").write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_citygml(tmp_path / "empty.gml")
    (tmp_path / "text.gml").write_text("just text\n")
    with pytest.raises(FormatError, match="not an XML file"):
        read_citygml(tmp_path / "text.gml")
    assert not sniff_citygml(shared_data / "3d-tiles-samples/1.1/SparseImplicitQuadtree/tileset.json")


def test_not_well_formed_names_line_and_column(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / FZK2).read_text(encoding="utf-8")
    broken = tmp_path / "broken.gml"
    broken.write_text(text.replace("</gml:posList>", "</gml:posLis>", 1) if "</gml:posList>" in text
                      else text.replace("</gml:pos>", "</gml:po>", 1), encoding="utf-8")
    with pytest.raises(FormatError, match="not well-formed") as err:
        read_citygml(broken)
    assert err.value.line is not None and err.value.line > 10 and err.value.column is not None
    assert str(err.value).startswith(f"{broken}:{err.value.line}:{err.value.column}: ")
    truncated = tmp_path / "truncated.gml"
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(FormatError, match="not well-formed"):
        citygml_info(truncated)


def test_gzip_reads_like_plain(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / FZK2
    gz = tmp_path / "fzk.gml.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    plain, packed = read_citygml(src), read_citygml(gz)
    assert packed.counts() == plain.counts()
    assert packed.buildings()[0].volume_m3 == pytest.approx(plain.buildings()[0].volume_m3)
    assert citygml_info(gz)["extent_wgs84"] == citygml_info(src)["extent_wgs84"]
    assert sniff_citygml(gz)
    cut = tmp_path / "cut.gml.gz"
    cut.write_bytes(gz.read_bytes()[:-200])
    with pytest.raises(FormatError):
        read_citygml(cut)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cim_twin", *args], capture_output=True, text=True, timeout=120)


def test_cli_info_exit_codes_in_a_real_process(shared_data: Path, test_data: Path) -> None:
    import json

    ok = _cli("info", "--json", str(shared_data / FZK2))
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["format"] == "citygml" and report["version"] == "2.0" and report["crs"] == "EPSG:25832+5783"
    assert report["counts"] == {"Building": 1} and report["lods"] == [2] and report["warnings"] == []
    assert len(report["extent_wgs84"]) == 6 and report["vertical_datum"]
    assert ok.stderr == ""
    bad = _cli("info", "--json", str(test_data / "citygml" / "xxe.gml"))
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_cli_info_messages(shared_data: Path, test_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cim_twin.cli.main import main

    assert main(["info", str(shared_data / FZK2)]) == 0
    assert "EPSG:25832+5783" in capsys.readouterr().out
    for bad in (test_data / "citygml" / "xxe.gml", test_data / "citygml" / "placemark.kml"):
        assert main(["info", "--json", str(bad)]) == 2
        out = capsys.readouterr()
        lines = out.err.strip().splitlines()
        assert out.out == "" and len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in out.err
    with pytest.raises(UnsafeInputError):
        main(["info", "--debug", str(test_data / "citygml" / "xxe.gml")])
    assert main(["info", "--json", "--crs", "EPSG:999999", str(shared_data / FZK2)]) == 2
    assert "999999" in capsys.readouterr().err


def test_progress_bar_counts_bytes_on_stderr_only(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_data / "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml"
    citygml_info(path, progress=True)
    out = capsys.readouterr()
    assert out.out == "" and "Potsdam_LoD1.gml" in out.err and "1.3" in out.err  # MB read, of 1.3 MB
    citygml_info(path)  # not a terminal: no bar
    assert capsys.readouterr().err == ""
