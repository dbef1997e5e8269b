"""The CityGML reader on the real public files listed in the shared data INDEX (section A).

Counts, versions and LODs come from the INDEX itself; WGS84 extents are checked against pyproj
applied to the coordinates read independently with lxml; invariants (closed solids have volume,
footprints match ground surfaces) hold on every building.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from pyproj import Transformer

from cim_twin.io.citygml import CityGMLReader, citygml_info, read_citygml
from cim_twin.scene import URI, Measure, SurfaceType

SLOW_FILES = {"lod3_building_v2.gml", "LOD3_Building_v040.gml", "Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FreeText.gml"}


def index_rows(data: Path) -> list[tuple[str, str, list[int], int, int, int]]:
    """``(path, version, lods, buildings, parts, cityObjectMembers)`` per row of INDEX section A."""
    text = (data / "INDEX.md").read_text(encoding="utf-8")
    section = text.split("## A.")[1].split("\n## ")[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or not cells[0].startswith("`"):
            continue
        m = re.fullmatch(r"(\d+)/(\d+)/(\d+)", cells[6])
        if m:
            lods = [int(x) for x in cells[5].split(",") if x.strip().isdigit()]
            rows.append((cells[0].strip("`"), cells[3], lods, *map(int, m.groups())))
    return rows


def _rows() -> list[tuple[str, str, list[int], int, int, int]]:
    # same place as the shared_data fixture (tests/conftest.py); parametrisation needs it early
    root = Path(__file__).resolve().parents[3]
    data = Path(os.environ.get("CIM_TWIN_SHARED_DATA", root.parent / "shared" / "data"))
    return index_rows(data) if (data / "INDEX.md").is_file() else []


ROWS = _rows()


@pytest.mark.parametrize(
    "row",
    [pytest.param(r, marks=pytest.mark.slow) if Path(r[0]).name in SLOW_FILES else r for r in ROWS],
    ids=[Path(r[0]).name for r in ROWS],
)
def test_index_file_loads_with_its_counts(shared_data: Path, row: tuple) -> None:
    rel, version, lods, n_building, n_part, n_members = row
    path = shared_data / rel
    scene = read_citygml(path)
    counts = scene.counts()
    assert counts.get("Building", 0) == n_building
    assert counts.get("BuildingPart", 0) == n_part
    # one top-level object per cityObjectMember (versions are members of their own)
    members = [o for o in scene.roots if o.kind not in ("Version", "VersionTransition")]
    empty = [w for w in scene.warnings if w.message.startswith("empty cityObjectMember")]
    assert len(members) + len(empty) == n_members
    assert scene.sources[0].version == version

    info = citygml_info(path)
    assert info["format"] == "citygml" and info["version"] == version
    assert info["counts"] == counts
    # the INDEX counts lodN property names; relief components state their LOD in dem:lod
    assert set(lods) <= set(info["lods"])
    if "TINRelief" not in counts:
        assert info["lods"] == lods
    assert set(scene.lods()) <= set(info["lods"])
    for warning in scene.warnings:
        assert warning.path == str(path)
        # the INDEX lists no unresolved local xlinks in these files: every one must resolve
        assert "points to no geometry" not in warning.message and "could not" not in warning.message


def _vertices(path: Path) -> np.ndarray:
    """All posList/pos coordinates of geometry, read with lxml alone (3D)."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    chunks = []
    for el in tree.iter("{*}posList", "{*}pos"):
        if any(etree.QName(a).localname in ("Address", "referencePoint") for a in el.iterancestors()):
            continue
        dim = int(el.get("srsDimension", "3"))
        values = np.array(el.text.split(), dtype=float)
        chunks.append(values.reshape(-1, dim)[:, :2])
    return np.concatenate(chunks)


# (file, pyproj source CRS, source axis order is lat-first)
CRS_FORMS = [
    # urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783 (compound, versioned)
    ("3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml", "EPSG:25833", False),
    # urn:adv:crs:ETRS89_UTM32
    ("3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD2-KIT-IAI-KHH-V2.gml", "EPSG:25832", False),
    # urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH
    ("citymodel-compare/input/fzk_haus_lod2_v2.gml", "EPSG:25832", False),
    # urn:adv:crs:DE_DHDN_3GK4*DE_DHHN92_NH
    ("citygml2-to-citygml3/input/CityGML_v2.gml", "EPSG:31468", False),
    # urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783
    ("citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Examples-from-CityGML-2.0/building/"
     "CityGMLv2/Building_LOD2-EPSG25832.gml", "EPSG:25832", False),
    # http://www.opengis.net/def/crs/EPSG/0/6697 (JGD2011 + height, latitude first)
    ("plateau-gis-converter/docs/src/64413325_bldg_6697_op.gml", "EPSG:6668", True),
    # EPSG:3946
    ("citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Versioning/Basic examples/"
     "historicalSuccession_CityGML_3.0_LOD2_Versioning.gml", "EPSG:3946", False),
    # EPSG:4979 written in the short form, longitude first as GIS software reads it
    ("citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Building/"
     "JeffersonBuilding_CityGML3.0_LOD1_with_xAL3_CommonTypes.gml", "EPSG:4326", False),
]


@pytest.mark.parametrize("rel,source,lat_first", CRS_FORMS, ids=[Path(c[0]).stem[:40] for c in CRS_FORMS])
def test_wgs84_extent_lands_where_the_data_is(shared_data: Path, rel: str, source: str, lat_first: bool) -> None:
    path = shared_data / rel
    xy = _vertices(path)
    if lat_first:
        xy = xy[:, ::-1]
    lon, lat = Transformer.from_crs(source, "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])
    expected = [lon.min(), lat.min(), lon.max(), lat.max()]
    scene = read_citygml(path)
    got = scene.extent_wgs84()
    assert got is not None
    np.testing.assert_allclose([got[0], got[1], got[3], got[4]], expected, atol=3e-5)
    info = citygml_info(path)
    e = info["extent_wgs84"]
    np.testing.assert_allclose([e[0], e[1], e[3], e[4]], expected, atol=3e-5)
    # the scene CRS is metric even when the file is geographic; the declared one is kept
    assert scene.crs is not None and not scene.crs.is_geographic
    assert scene.source_crs is not None and info["crs"] == scene.source_crs.name


def test_crs_names_reported(shared_data: Path) -> None:
    names = {rel: citygml_info(shared_data / rel)["crs"] for rel, *_ in CRS_FORMS[:6]}
    assert list(names.values()) == ["EPSG:25833+5783", "EPSG:25832", "EPSG:25832+5783", "EPSG:31468+5783",
                                    "EPSG:25832+5783", "EPSG:6697"]
    info = citygml_info(shared_data / CRS_FORMS[0][0])
    assert "DHHN92" in info["vertical_datum"]


@pytest.mark.parametrize(
    "rel",
    [
        "citymodel-compare/input/fzk_haus_lod1_v2.gml",
        "citymodel-compare/input/fzk_haus_lod2_v2.gml",
        "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml",
        "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Examples-from-CityGML-2.0/building/"
        "CityGMLv3/Building_and_garage_LOD2-EPSG25832.gml",
        "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Versioning/Basic examples/"
        "historicalSuccession_CityGML_3.0_LOD2_Versioning.gml",
        "plateau-gis-converter/docs/src/64413325_bldg_6697_op.gml",
    ],
)
def test_invariants_volume_and_footprint(shared_data: Path, rel: str) -> None:
    scene = read_citygml(shared_data / rel)
    closed = 0
    for obj in scene.iter_objects(recursive=True):
        for mesh in obj.geometry.values():
            if mesh.solid_closed:
                closed += 1
                assert abs(mesh.signed_volume()) > 1.0
        if obj.kind not in ("Building", "BuildingPart"):
            continue
        assert obj.volume_m3 is None or obj.volume_m3 > 0
        ground = obj.mesh().of_type(SurfaceType.GROUND)
        if ground.n_triangles and obj.footprint is not None:
            ground_area = float(ground.triangle_areas().sum())
            assert obj.footprint_area_m2 == pytest.approx(ground_area, rel=0.02)
    assert closed > 0


def test_fzk_house_lod2_by_hand(shared_data: Path) -> None:
    """FZK-Haus: 12 m x 10 m, eaves 3.63094 m and ridge 6.517691 m above the 111.8 m base."""
    scene = read_citygml(shared_data / "citymodel-compare/input/fzk_haus_lod2_v2.gml")
    (house,) = scene.buildings()
    eaves = 115.43094 - 111.8
    ridge = 118.317691453624 - 115.43094
    assert house.volume_m3 == pytest.approx(120 * eaves + 0.5 * 10 * ridge * 12, rel=1e-6)
    assert house.footprint_area_m2 == pytest.approx(120.0)
    mesh = house.geometry[2]
    assert mesh.solid_closed and mesh.signed_volume() > 0  # outward orientation kept
    kinds = Counter(SurfaceType(int(t)).name for t in mesh.surfaces.types)
    assert kinds == {"WALL": 4, "ROOF": 2, "GROUND": 1}
    # xlinks from the Solid resolved into the thematic surfaces: no duplicate triangles
    assert mesh.n_triangles == 16
    # typed attributes, generic attributes, address, lifespan
    assert house.attributes["yearOfConstruction"] == 2020
    assert house.attributes["measuredHeight"] == Measure(6.52, "m")
    assert house.attributes["storeysAboveGround"] == 2
    assert house.function == "1000"
    assert house.generic_attributes["GrossPlannedArea"] == Measure(120.0, "m2")
    assert house.address is not None and house.address.street == "Spöcker Straße"
    assert house.address.postal_code == "76344"
    assert house.lifespan.creation_date is not None and house.lifespan.creation_date.tzinfo is not None


def test_lod3_openings_know_their_wall(shared_data: Path) -> None:
    scene = read_citygml(shared_data / "citymodel-compare/input/fzk_haus_lod3_v2.gml")
    (house,) = scene.buildings()
    surfaces = house.surfaces(lod=3)
    kinds = Counter(s.type for s in surfaces)
    assert kinds[SurfaceType.WINDOW] == 11 and kinds[SurfaceType.DOOR] == 2
    by_id = {s.id: s for s in surfaces}
    for opening in (s for s in surfaces if s.type in (SurfaceType.WINDOW, SurfaceType.DOOR)):
        assert opening.parent_id is not None
        assert by_id[opening.parent_id].type in (SurfaceType.WALL, SurfaceType.ROOF)
        assert opening.area_m2 > 0.1
    mesh = house.geometry[3]
    assert (mesh.semantics == SurfaceType.WINDOW).any()


def test_appearances_textures_and_materials(shared_data: Path) -> None:
    berlin = read_citygml(shared_data / "citygml2-to-citygml3/input/Berlin_Moabit_1Bldg_v2.gml")
    mesh = berlin.buildings()[0].geometry[2]
    assert berlin.textures and berlin.textures[0].uri.endswith(".jpg")
    assert mesh.texture_index is not None and (mesh.texture_index >= 0).any()
    assert mesh.uv is not None and mesh.uv.shape == (len(mesh.vertices), 2)
    textured = np.unique(mesh.triangles[mesh.texture_index >= 0])
    assert np.all((mesh.uv[textured] >= -0.01) & (mesh.uv[textured] <= 1.01))
    assert mesh.material_index is not None and berlin.materials

    fzk = read_citygml(shared_data / "3dcitydb-importer-exporter/samples/FZK_House/FZK-House-LoD2-KIT-IAI-KHH-V2.gml")
    fmesh = fzk.buildings()[0].geometry[2]
    assert fzk.materials and fmesh.material_index is not None and (fmesh.material_index >= 0).any()


def test_global_appearance_after_the_features_is_applied(shared_data: Path) -> None:
    path = (shared_data / "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/ADE-examples/"
            "Urban-Planning-ADE/53394517_bldg_6697_2_op_CityGML2.gml")
    scene = read_citygml(path)
    assert [t.uri for t in scene.textures] == ["53394517_bldg_6697_appearance/stad0158.jpg"]
    mesh = scene.buildings()[0].geometry[2]
    assert mesh.texture_index is not None and int((mesh.texture_index == 0).sum()) > 100


def test_citygml3_attributes_addresses_and_ade(shared_data: Path) -> None:
    base = shared_data / "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Building"
    several = read_citygml(base / "Building_CityGML3.0_LOD2_with_several_attributes.gml").buildings()[0]
    assert several.generic_attributes["Gemeindeschluessel"] == "09175128"  # a code, not a number
    assert several.address is not None and several.address.locality == "Moosach"
    assert several.address.house_number == "15" and several.address.postal_code == "85665"
    assert isinstance(several.attributes["externalReference"], dict)
    lyon = read_citygml(base / "Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FullyStructured.gml").buildings()[0]
    assert lyon.address is not None and lyon.address.locality == "Lyon"
    ade = read_citygml(shared_data / "citygml4j/citygml4j-samples/input/datasets/lod2_test_ade_v2.gml")
    assert "test:ownerName" in ade.buildings()[0].attributes
    plateau = read_citygml(shared_data / "plateau-gis-converter/docs/src/64413325_bldg_6697_op.gml")
    first = plateau.buildings()[0]
    assert plateau.counts() == {"Building": 25}  # ADE data types are attributes, not objects
    assert isinstance(first.attributes["uro:buildingDetailAttribute"], dict)
    assert "lod1HeightType" in first.attributes["uro:buildingDataQualityAttribute"]
    assert isinstance(first.attributes["measuredHeight"], Measure)
    industrial = read_citygml(
        shared_data / "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/ADE-examples/"
        "Test-ADE/industrial_building_dataset_v3.gml"
    )
    assert industrial.counts() == {"BuildingUnderground": 1, "IndustrialBuilding": 1}
    assert industrial.roots[0].attributes["test:ownerName"] == "Smith"
    assert not isinstance(industrial.roots[0].attributes.get("test:ownerName"), URI)


def test_local_engineering_crs_loads_without_wgs84(shared_data: Path) -> None:
    path = shared_data / "citygml-3.0-encodings/Moved_to_CITYGML-3.0Encoding_CityGML/Examples/Core/LocalCRS_CityGML3.gml"
    scene = read_citygml(path)
    assert scene.crs is not None and scene.crs.is_local
    assert scene.extent_wgs84() is None and scene.extent() is not None
    assert any("local engineering CRS" in w.message for w in scene.warnings)
    info = citygml_info(path)
    assert info["crs"] == "#local-CRS-1" and info["extent_wgs84"] is None and info["extent"] is not None


def test_file_without_crs_and_the_crs_option(shared_data: Path) -> None:
    path = shared_data / "citygml4j/citygml4j-samples/datasets/LOD2_Building_v100.gml"
    scene = read_citygml(path)
    assert scene.crs is None and scene.extent_wgs84() is None
    assert any("no CRS" in w.message and w.hint and "--crs" in w.hint for w in scene.warnings)
    from cim_twin.errors import CRSError

    with pytest.raises(CRSError, match="no usable CRS"):
        read_citygml(path, require_crs=True)
    given = read_citygml(path, crs="EPSG:25832")
    assert given.crs is not None and given.crs.name == "EPSG:25832"
    assert given.extent_wgs84() is not None
    assert citygml_info(path, crs="EPSG:25832")["extent_wgs84"] is not None


def test_versions_from_namespaces(shared_data: Path) -> None:
    reader = CityGMLReader(shared_data / "citygml4j/citygml4j-samples/datasets/LOD2_Building_v100.gml")
    reader.read()
    assert reader.version == "1.0"


@pytest.mark.slow
def test_pre_standard_namespace_is_read_with_a_warning(shared_data: Path) -> None:
    scene = read_citygml(shared_data / "citygml4j/citygml4j-samples/datasets/LOD3_Building_v040.gml")
    assert scene.sources[0].version == "0.4"
    assert any("pre-standard CityGML 0.4" in w.message for w in scene.warnings)
    assert scene.counts()["Building"] == 1 and scene.buildings()[0].lods == [3]


def test_lod3_volume_counts_the_solid_only(shared_data: Path) -> None:
    """FZK-Haus LOD3 has two roof polygons outside its Solid; the volume is the Solid's."""
    lod2 = read_citygml(shared_data / "citymodel-compare/input/fzk_haus_lod2_v2.gml").buildings()[0]
    lod3 = read_citygml(shared_data / "citymodel-compare/input/fzk_haus_lod3_v2.gml").buildings()[0]
    mesh = lod3.geometry[3]
    assert mesh.solid_closed and mesh.solid_triangles is not None and mesh.solid_triangles < mesh.n_triangles
    assert lod3.volume_m3 == pytest.approx(lod2.volume_m3, rel=0.01)


def test_lod1_blocks_volume_is_footprint_times_height(shared_data: Path) -> None:
    """Potsdam's LOD1 buildings are prisms: volume = footprint area x (roof - ground)."""
    scene = read_citygml(shared_data / "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/"
                         "Potsdam_LoD1/Potsdam_LoD1.gml")
    checked = 0
    for b in scene.buildings():
        mesh = b.geometry[1]
        lo, hi = mesh.bounds
        if not mesh.solid_closed or b.footprint is None:
            continue
        assert b.volume_m3 == pytest.approx(b.footprint.area * (hi[2] - lo[2]), rel=0.01)
        checked += 1
    assert checked == 97
