"""The example district generator: deterministic, valid CityGML 2.0, realistic, epochs, layers."""

from __future__ import annotations

import doctest
import hashlib
import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from pyproj import Transformer

from cim_twin.cli.main import main
from cim_twin.example_city import generate
from cim_twin.example_city import layout as layout_module
from cim_twin.example_city.layout import EVENT_YEARS, build_layout
from cim_twin.serialization import loads

CORE = "http://www.opengis.net/citygml/2.0"
BLDG = "http://www.opengis.net/citygml/building/2.0"
GEN = "http://www.opengis.net/citygml/generics/2.0"
GML = "http://www.opengis.net/gml"
XLINK = "http://www.w3.org/1999/xlink"
GML_ID = f"{{{GML}}}id"
HREF = f"{{{XLINK}}}href"
N_BUILDINGS = 600
YEARS = (2023, 2024, 2025)


def _parse(path: Path) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)
    return etree.parse(str(path), parser)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example")
    generate(out, buildings=N_BUILDINGS, seed=7, years=YEARS, aux_layers=False)
    return out


@pytest.fixture(scope="module")
def trees(project: Path) -> dict[int, etree._ElementTree]:
    return {year: _parse(project / f"city_{year}.gml") for year in YEARS}


def _buildings(tree: etree._ElementTree) -> list[etree._Element]:
    return tree.getroot().findall(f"{{{CORE}}}cityObjectMember/{{{BLDG}}}Building")


def _generic(building: etree._Element, name: str) -> str | None:
    for attr in building:
        if attr.tag.startswith(f"{{{GEN}}}") and attr.get("name") == name:
            return attr.findtext(f"{{{GEN}}}value")
    return None


def _ring(polygon: etree._Element) -> np.ndarray:
    values = np.array(polygon.findtext(f".//{{{GML}}}posList").split(), dtype=float).reshape(-1, 3)
    assert np.allclose(values[0], values[-1]), "ring not closed"
    return values[:-1]


def _solid_polygons(building: etree._Element, lod: int, ids: dict[str, etree._Element]) -> list[np.ndarray]:
    solid = building.find(f"{{{BLDG}}}lod{lod}Solid/{{{GML}}}Solid")
    assert solid is not None
    rings = []
    for member in solid.iter(f"{{{GML}}}surfaceMember"):
        href = member.get(HREF)
        polygon = ids[href[1:]] if href else member.find(f"{{{GML}}}Polygon")
        rings.append(_ring(polygon))
    return rings


def _volume_and_closed(rings: list[np.ndarray]) -> tuple[float, bool]:
    """Signed volume (divergence theorem with Newell area vectors) and whether every edge is shared
    by exactly two faces in opposite directions."""
    volume = 0.0
    edges: Counter[tuple[tuple[float, ...], tuple[float, ...]]] = Counter()
    for ring in rings:
        nxt = np.roll(ring, -1, axis=0)
        area_vector = 0.5 * np.cross(ring, nxt).sum(axis=0)
        volume += float(ring[0] @ area_vector) / 3.0
        for a, b in zip(ring, nxt, strict=True):
            edges[(tuple(np.round(a, 3)), tuple(np.round(b, 3)))] += 1
    closed = all(count == 1 and edges.get((b, a)) == 1 for (a, b), count in edges.items())
    return volume, closed


# --- determinism ---------------------------------------------------------------------------------------
def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", buildings=250, seed=3, years=(2024, 2025), aux_layers=False)
    generate(tmp_path / "b", buildings=250, seed=3, years=(2024, 2025), aux_layers=False)
    generate(tmp_path / "c", buildings=250, seed=4, years=(2024, 2025), aux_layers=False)
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert {"city_2024.gml", "city_2025.gml", "twin.toml", "layers/communities.geojson",
            "layers/2025/roads.geojson"} <= set(a)
    assert a == b
    assert a["city_2025.gml"] != c["city_2025.gml"]


def test_an_epoch_does_not_depend_on_the_other_years(tmp_path: Path) -> None:
    generate(tmp_path / "one", buildings=250, seed=3, years=(2025,), aux_layers=False)
    generate(tmp_path / "three", buildings=250, seed=3, years=YEARS, aux_layers=False)
    assert (tmp_path / "one/city_2025.gml").read_bytes() == (tmp_path / "three/city_2025.gml").read_bytes()


# --- CityGML 2.0 structure -------------------------------------------------------------------------------
def test_counts_match_the_requested_number_in_every_year(trees: dict[int, etree._ElementTree]) -> None:
    for year, tree in trees.items():
        assert len(_buildings(tree)) == N_BUILDINGS, year
    # Before the first building of the plan stood, fewer stand (nothing built after the year appears).
    plan = build_layout(N_BUILDINGS, seed=7)
    assert 0 < plan.count_buildings(2000) < N_BUILDINGS
    assert all(p.year_built <= 2000 for p in plan.iter_buildings(2000))


def test_file_is_citygml_2_with_unique_ids_and_resolving_xlinks(trees: dict[int, etree._ElementTree]) -> None:
    tree = trees[2025]
    root = tree.getroot()
    assert root.tag == f"{{{CORE}}}CityModel"
    envelope = root.find(f"{{{GML}}}boundedBy/{{{GML}}}Envelope")
    assert envelope.get("srsName") == "EPSG:4548" and envelope.get("srsDimension") == "3"
    ids = [e.get(GML_ID) for e in root.iter() if e.get(GML_ID) is not None]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z_][\w.\-]*", i) for i in ids), "gml:id must be an NCName"
    id_set = set(ids)
    hrefs = [e.get(HREF) for e in root.iter() if e.get(HREF) is not None]
    assert len(hrefs) >= 6 * N_BUILDINGS  # every LOD2 shell references its >= 6 surfaces
    assert all(h.startswith("#") and h[1:] in id_set for h in hrefs)
    lower = np.array(envelope.findtext(f"{{{GML}}}lowerCorner").split(), dtype=float)
    upper = np.array(envelope.findtext(f"{{{GML}}}upperCorner").split(), dtype=float)
    coords = np.concatenate([np.array(p.text.split(), dtype=float) for p in root.iter(f"{{{GML}}}posList")])
    coords = coords.reshape(-1, 3)
    assert (coords >= lower - 1e-6).all() and (coords <= upper + 1e-6).all()


def test_each_building_has_the_agreed_attributes(trees: dict[int, etree._ElementTree]) -> None:
    order = ["function", "usage", "yearOfConstruction", "roofType", "measuredHeight", "storeysAboveGround",
             "lod1Solid", "lod2Solid", "boundedBy", "address"]
    for building in _buildings(trees[2025]):
        local = [etree.QName(e).localname for e in building if etree.QName(e).namespace == BLDG]
        # CityGML 2.0 sequence order of the building module's properties.
        assert [x for x in order if x in local] == order
        assert local.index("boundedBy") > local.index("lod2Solid")
        height = building.find(f"{{{BLDG}}}measuredHeight")
        assert height.get("uom") == "m" and float(height.text) > 2.0
        assert 1950 <= int(building.findtext(f"{{{BLDG}}}yearOfConstruction")) <= 2025
        assert building.findtext(f"{{{BLDG}}}roofType") in ("1000", "3100")
        assert re.fullmatch(r"D\d\d-B\d\d-C\d\d", _generic(building, "community_id"))
        assert _generic(building, "danger_level") in ("A", "B", "C", "D")
        assert _generic(building, "protected") in ("0", "1") and _generic(building, "illegal") in ("0", "1")
        street = building.findtext(".//{urn:oasis:names:tc:ciq:xsdschema:xAL:2.0}ThoroughfareName")
        assert street and re.search(r"[\u4e00-\u9fff]", street)
        kinds = Counter(etree.QName(s).localname for s in building.findall(f"{{{BLDG}}}boundedBy/*"))
        assert kinds["GroundSurface"] == 1 and kinds["RoofSurface"] >= 1 and kinds["WallSurface"] >= 4


def test_solids_are_closed_outward_and_match_the_heights(trees: dict[int, etree._ElementTree]) -> None:
    root = trees[2025].getroot()
    ids = {e.get(GML_ID): e for e in root.iter(f"{{{GML}}}Polygon") if e.get(GML_ID)}
    gabled = 0
    for building in _buildings(trees[2025]):
        height = float(building.findtext(f"{{{BLDG}}}measuredHeight"))
        for lod in (1, 2):
            rings = _solid_polygons(building, lod, ids)
            volume, closed = _volume_and_closed(rings)
            assert closed, (building.get(GML_ID), lod)
            assert volume > 0, (building.get(GML_ID), lod)
            z = np.concatenate(rings)[:, 2]
            assert z.max() - z.min() == pytest.approx(height, abs=0.01)
            if lod == 1:
                lod1_volume = volume
        if building.findtext(f"{{{BLDG}}}roofType") == "3100":
            gabled += 1
            assert volume < lod1_volume  # the gable cuts the box
        else:
            assert volume == pytest.approx(lod1_volume, rel=1e-6)
    assert gabled > 0


def test_district_sits_in_nanping(trees: dict[int, etree._ElementTree]) -> None:
    envelope = trees[2025].getroot().find(f"{{{GML}}}boundedBy/{{{GML}}}Envelope")
    lower = [float(v) for v in envelope.findtext(f"{{{GML}}}lowerCorner").split()]
    upper = [float(v) for v in envelope.findtext(f"{{{GML}}}upperCorner").split()]
    to_wgs84 = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform((lower[0] + upper[0]) / 2, (lower[1] + upper[1]) / 2)
    assert 118.1 < lon < 118.3 and 26.55 < lat < 26.75
    assert 60 < lower[2] < 120  # river plain of the Min around 90 m


# --- realism -------------------------------------------------------------------------------------------
def _records(tree: etree._ElementTree) -> list[dict[str, object]]:
    out = []
    for b in _buildings(tree):
        out.append({
            "id": b.get(GML_ID),
            "function": b.findtext(f"{{{BLDG}}}function"),
            "year": int(b.findtext(f"{{{BLDG}}}yearOfConstruction")),
            "height": float(b.findtext(f"{{{BLDG}}}measuredHeight")),
            "storeys": int(b.findtext(f"{{{BLDG}}}storeysAboveGround")),
            "danger": _generic(b, "danger_level"),
            "facility": _generic(b, "facility"),
            "eaves": float(_generic(b, "eaves_height")),
        })
    return out


def test_old_town_and_new_high_rises(trees: dict[int, etree._ElementTree]) -> None:
    records = _records(trees[2025])
    before_1990 = sum(r["year"] < 1990 for r in records) / len(records)
    assert 0.15 < before_1990 < 0.7
    assert min(r["year"] for r in records) < 1960
    residential = [r for r in records if r["function"] in ("1000", "1080")]
    assert any(r["height"] > 80 and r["year"] > 2020 for r in residential)
    assert any(54 <= r["height"] <= 100 for r in residential)
    assert max(r["height"] for r in records) <= 100
    assert {"primary_school", "fire_station", "kindergarten"} <= {r["facility"] for r in records}
    for r in records:
        # Storey heights from the eaves (a gable adds roof space, not a storey).
        assert r["storeys"] >= 1 and 2.8 <= r["eaves"] / r["storeys"] <= 5.0, r
        assert r["eaves"] <= r["height"]


def test_epochs_demolish_build_and_renovate(trees: dict[int, etree._ElementTree]) -> None:
    by_year = {year: {r["id"]: r for r in _records(tree)} for year, tree in trees.items()}
    gone = set(by_year[2023]) - set(by_year[2025])
    new = set(by_year[2025]) - set(by_year[2023])
    assert gone and len(gone) == len(new)
    assert all(by_year[2025][i]["year"] in EVENT_YEARS for i in new)
    improved = [i for i in set(by_year[2023]) & set(by_year[2025])
                if by_year[2025][i]["danger"] < by_year[2023][i]["danger"]]  # "A" < "B" < "C" < "D"
    assert improved
    worse = [i for i in set(by_year[2023]) & set(by_year[2025])
             if by_year[2025][i]["danger"] > by_year[2023][i]["danger"]]
    assert not worse


# --- layers and project file -------------------------------------------------------------------------------
def test_units_nest_and_contain_their_buildings(project: Path, trees: dict[int, etree._ElementTree]) -> None:
    from shapely.geometry import Point, shape

    layers = project / "layers"
    units = {name: loads((layers / f"{name}.geojson").read_bytes())["features"]
             for name in ("districts", "blocks", "communities")}
    district_ids = {f["properties"]["id"] for f in units["districts"]}
    block_ids = {f["properties"]["id"] for f in units["blocks"]}
    assert all(f["properties"]["parent_id"] in district_ids for f in units["blocks"])
    assert all(f["properties"]["parent_id"] in block_ids for f in units["communities"])
    assert all(f["properties"]["level"] == "community" and f["properties"]["county"] for f in units["communities"])
    polygons = {f["properties"]["id"]: shape(f["geometry"]) for f in units["communities"]}
    to_wgs84 = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)
    for building in _buildings(trees[2025]):
        ground = building.find(f"{{{BLDG}}}boundedBy/{{{BLDG}}}GroundSurface")
        ring = _ring(ground.find(f".//{{{GML}}}Polygon"))
        lon, lat = to_wgs84.transform(ring[:, 0].mean(), ring[:, 1].mean())
        assert polygons[_generic(building, "community_id")].contains(Point(lon, lat)), building.get(GML_ID)
    ring = units["communities"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
    assert area > 0  # RFC 7946: exterior rings counter-clockwise


def test_roads_layer_per_year(project: Path) -> None:
    roads = {year: loads((project / "layers" / str(year) / "roads.geojson").read_bytes())["features"]
             for year in YEARS}
    classes = Counter(f["properties"]["class"] for f in roads[2025])
    assert {"primary", "secondary", "branch", "alley"} <= set(classes)
    for f in roads[2025]:
        p = f["properties"]
        assert f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) >= 2
        assert p["width_m"] > 0 and p["sidewalk_width_m"] >= 0 and p["lanes"] >= 1 and p["name"]
        assert 118.1 < f["geometry"]["coordinates"][0][0] < 118.3
    alley_widths = [f["properties"]["width_m"] for f in roads[2025] if f["properties"]["class"] == "alley"]
    assert min(alley_widths) < 4.5
    before = {f["id"]: f["properties"] for f in roads[2023]}
    changed = [f for f in roads[2025] if f["properties"] != before[f["id"]]]
    assert changed and all(
        f["properties"]["width_m"] >= before[f["id"]]["width_m"]
        and f["properties"]["sidewalk_width_m"] >= before[f["id"]]["sidewalk_width_m"] for f in changed
    )


def test_project_file_loads(project: Path) -> None:
    from cim_twin.project import Project

    text = (project / "twin.toml").read_text(encoding="utf-8")
    assert 'sources = ["city_{period}.gml"]' in text and "period = 2025" in text
    loaded = Project.load(project / "twin.toml")
    assert loaded is not None


def test_layout_doctests() -> None:
    result = doctest.testmod(layout_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --- command line ----------------------------------------------------------------------------------------
def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "p"), "--buildings", "120", "--years", "2024-2025",
                 "--lod2-only", "--no-layers"]) == 0
    assert "city_2025.gml (120 buildings)" in capsys.readouterr().out
    text = (tmp_path / "p" / "city_2025.gml").read_text(encoding="utf-8")
    assert "lod1Solid" not in text and text.count("<bldg:Building ") == 120
    assert (tmp_path / "p" / "city_2024.gml").exists()


@pytest.mark.parametrize("args", [["--buildings", "0"], ["--years", "20x5"], ["--buildings", "-3"]])
def test_cli_generate_bad_options(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        code = main(["generate", str(tmp_path / "p"), *args])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("buildings" in err or "years" in err)


def test_cli_generate_into_a_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["generate", str(target), "--buildings", "10"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_library_example_script_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cim_twin.io.citygml.plugin", reason="the CityGML reader is not installed")
    import runpy

    script = Path(__file__).resolve().parents[2] / "examples" / "generate_city.py"
    module = runpy.run_path(str(script), run_name="example")
    module["main"](tmp_path / "district", 150)
    out = capsys.readouterr().out
    assert "city_2025.gml: 150 buildings" in out and "2025: 150 buildings" in out


def test_whole_project_with_auxiliary_layers_is_deterministic(tmp_path: Path) -> None:
    layers = pytest.importorskip("cim_twin.example_city.layers")
    results = [generate(tmp_path / name, buildings=200, seed=11, years=(2025,)) for name in ("a", "b")]
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a == b
    # Every layer twin.toml names exists, with {period} resolved for the year written.
    for name, entry in results[0].layers.items():
        assert (tmp_path / "a" / entry["path"].replace("{period}", "2025")).is_file(), name
    assert set(layers.LAYER_ENTRIES) <= set(results[0].layers)


def test_cli_generate_does_not_replace_a_users_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "twin.toml"
    mine.write_text('[project]\nname = "my city"\n', encoding="utf-8")
    assert main(["generate", str(tmp_path), "--buildings", "20", "--no-layers"]) == 2
    assert "--force" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8").startswith("[project]")
    # A generated project is simply regenerated; --force overrides the guard.
    assert main(["generate", str(tmp_path), "--buildings", "20", "--no-layers", "--force", "--quiet"]) == 0
    assert main(["generate", str(tmp_path), "--buildings", "20", "--no-layers", "--quiet"]) == 0
    assert "20 buildings" in mine.read_text(encoding="utf-8")


def test_gzip_output_is_deterministic_and_matches_the_plain_file(tmp_path: Path) -> None:
    import gzip

    for name in ("a", "b"):
        generate(tmp_path / name, buildings=80, seed=3, years=(2025,), aux_layers=False, gzip=True)
    generate(tmp_path / "plain", buildings=80, seed=3, years=(2025,), aux_layers=False)
    packed = (tmp_path / "a" / "city_2025.gml.gz").read_bytes()
    assert packed == (tmp_path / "b" / "city_2025.gml.gz").read_bytes()
    assert gzip.decompress(packed) == (tmp_path / "plain" / "city_2025.gml").read_bytes()
    assert 'sources = ["city_{period}.gml.gz"]' in (tmp_path / "a" / "twin.toml").read_text(encoding="utf-8")
    assert len(packed) < (tmp_path / "plain" / "city_2025.gml").stat().st_size / 4
