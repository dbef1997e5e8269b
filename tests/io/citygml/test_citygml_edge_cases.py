"""Hand-made edge cases (tests/data/citygml/edge_cases_v2.gml): xlinks in both orders and across
features, holes, degenerate and unreadable rings, 2D and gml:coordinates, OrientableSurface, every
top-level kind; streaming with flat memory; the plugin registration."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from cim_twin.io.citygml import CityGMLReader, citygml_info, iter_citygml, read_citygml
from cim_twin.scene import SurfaceType

EDGE = "citygml/edge_cases_v2.gml"


@pytest.fixture(scope="module")
def scene(test_data: Path):  # type: ignore[no-untyped-def]
    return read_citygml(test_data / EDGE)


def areas(mesh) -> float:  # type: ignore[no-untyped-def]
    return float(mesh.triangle_areas().sum())


def test_every_kind_is_kept(scene) -> None:  # type: ignore[no-untyped-def]
    assert scene.counts() == {
        "Bridge": 1, "Building": 4, "CityFurniture": 1, "CityObjectGroup": 1, "GenericCityObject": 1,
        "LandUse": 1, "PlantCover": 1, "Railway": 1, "ReliefFeature": 1, "Road": 1, "TINRelief": 1,
        "Tunnel": 1, "WaterBody": 1,
    }
    assert scene["PlantCover1"].geometry[1].semantics.tolist() == [SurfaceType.VEGETATION] * 2
    assert scene["R1_tin"].geometry[1].semantics.tolist() == [SurfaceType.TERRAIN] * 2
    assert scene["R1_tin"].parent is scene["R1"]
    assert scene["GRP1"].attributes["groupMember"] == ["B1", "B2"]


def test_xlinks_in_both_orders_inside_a_feature(scene) -> None:  # type: ignore[no-untyped-def]
    for bid, volume in (("B1", 1000.0), ("B2", 500.0)):
        mesh = scene[bid].geometry[2]
        assert mesh.solid_closed and mesh.n_triangles == 12  # each face once, not twice
        assert mesh.signed_volume() == pytest.approx(volume)
        assert sorted(SurfaceType(int(t)).name for t in mesh.surfaces.types) == ["GROUND", "ROOF"] + ["WALL"] * 4
        assert (mesh.surface_index >= 0).all()


def test_xlinks_across_features_forward_and_backward(scene) -> None:  # type: ignore[no-untyped-def]
    assert areas(scene["B3"].geometry[2]) == pytest.approx(100.0)  # defined by the later G1
    assert areas(scene["G1"].geometry[2]) == pytest.approx(200.0)  # own plate + B1's roof (earlier)


def test_holes_2d_coordinates_orientable_and_bad_rings(scene) -> None:  # type: ignore[no-untyped-def]
    mesh = scene["B4"].geometry[1]
    # holed 400-100, 2D triangle 50, gml:coordinates triangle 50, flipped square 100
    assert areas(mesh) == pytest.approx(300 + 50 + 50 + 100)
    normals = np.cross(*(mesh.corners()[:, 1:] - mesh.corners()[:, :1]).transpose(1, 0, 2))
    flipped = mesh.corners()[:, :, 0].min(axis=1) >= 500120
    assert (normals[flipped][:, 2] < 0).all() and (normals[~flipped][:, 2] > 0).all()
    messages = {w.object_id: w for w in scene.warnings}
    assert "degenerate exterior ring" in messages["B4_degenerate"].message
    assert messages["B4_degenerate"].line == 38
    assert "unreadable coordinates" in messages["B4_garbage"].message
    assert all(w.path and w.path.endswith("edge_cases_v2.gml") for w in scene.warnings)


def test_attributes_generic_sets_ade_and_lifespan(scene) -> None:  # type: ignore[no-untyped-def]
    b1 = scene["B1"]
    assert b1.generic_attributes == {"code": "0042", "survey": {"year": 2024, "score": 0.75}}
    assert b1.attributes["nan:riskLevel"] == "B" and b1.attributes["nan:inspected"] is True
    assert b1.year_built == 1985 and b1.storeys == 3 and b1.height_m == 10.0
    created = b1.lifespan.creation_date
    assert created is not None and created.utcoffset() is not None and created.utcoffset().total_seconds() == 8 * 3600


def test_info_matches_the_scene(test_data: Path, scene) -> None:  # type: ignore[no-untyped-def]
    info = citygml_info(test_data / EDGE)
    assert info["counts"] == scene.counts()
    assert info["lods"] == [1, 2]
    assert set(info["attributes"]) >= {"nan:riskLevel", "survey", "code", "groupMember"}
    assert info["crs"] == "EPSG:25832+5783"
    lo, hi = scene.extent()
    assert info["extent"][0] == pytest.approx(lo[0]) and info["extent"][4] == pytest.approx(hi[1])


def test_iter_objects_streams_and_registry_finds_the_reader(test_data: Path) -> None:
    header, objects = iter_citygml(test_data / EDGE)
    assert header["format"] == "citygml" and header["version"] == "2.0"
    ids = [o.id for o in objects]
    assert len(ids) == 15 and set(ids) >= {"B1", "B2", "B3", "G1"}
    from cim_twin.io import find_reader, read_scene

    assert find_reader(test_data / EDGE).name == "citygml"
    assert read_scene(test_data / EDGE).counts()["Building"] == 4


def _district(path: Path, n: int) -> None:
    """A plain LOD2 district of n box buildings (solid pointing at its thematic surfaces)."""
    faces = {"GroundSurface": [(0, 0, 0), (0, 8, 0), (8, 8, 0), (8, 0, 0)],
             "RoofSurface": [(0, 0, 6), (8, 0, 6), (8, 8, 6), (0, 8, 6)],
             "WallSurface": [(0, 0, 0), (8, 0, 0), (8, 0, 6), (0, 0, 6)]}
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" '
                'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gml="http://www.opengis.net/gml" '
                'xmlns:xlink="http://www.w3.org/1999/xlink"><gml:boundedBy><gml:Envelope srsName="EPSG:4548">'
                '<gml:lowerCorner>0 0 0</gml:lowerCorner><gml:upperCorner>1 1 1</gml:upperCorner></gml:Envelope>'
                '</gml:boundedBy>\n')
        for i in range(n):
            x, y = 618000 + (i % 100) * 20, 2950000 + (i // 100) * 20
            refs = "".join(f'<gml:surfaceMember xlink:href="#b{i}_{k}"/>' for k in faces)
            surfaces = "".join(
                f'<bldg:boundedBy><bldg:{k}><bldg:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember>'
                f'<gml:Polygon gml:id="b{i}_{k}"><gml:exterior><gml:LinearRing><gml:posList>'
                + " ".join(f"{x + px} {y + py} {pz}" for px, py, pz in [*pts, pts[0]])
                + "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface>"
                f"</bldg:lod2MultiSurface></bldg:{k}></bldg:boundedBy>"
                for k, pts in faces.items()
            )
            f.write(f'<core:cityObjectMember><bldg:Building gml:id="b{i}"><bldg:measuredHeight uom="m">6</bldg:measuredHeight>'
                    f'<bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface>{refs}</gml:CompositeSurface>'
                    f'</gml:exterior></gml:Solid></bldg:lod2Solid>{surfaces}</bldg:Building></core:cityObjectMember>\n')
        f.write("</core:CityModel>\n")


def test_memory_stays_flat_as_the_file_grows(tmp_path: Path) -> None:
    peaks = {}
    for n in (100, 1000):
        path = tmp_path / f"district_{n}.gml"
        _district(path, n)
        tracemalloc.start()
        info = citygml_info(path)
        count = sum(1 for _ in CityGMLReader(path).iter_objects())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert info["counts"] == {"Building": n} and count == n
        peaks[n] = peak
    # ten times the buildings, nowhere near ten times the memory
    assert peaks[1000] < 2.5 * peaks[100] + 2 * 2**20, peaks


def test_implicit_geometry_templates_are_placed(test_data: Path) -> None:
    path = test_data / "citygml" / "implicit_v2.gml"
    scene = read_citygml(path)
    first, second = scene["tree1"].geometry[2], scene["tree2"].geometry[2]
    assert areas(first) == pytest.approx(4.0) and areas(second) == pytest.approx(16.0)
    np.testing.assert_allclose(first.vertices.min(axis=0), [618009, 2950009, 100])
    np.testing.assert_allclose(second.vertices.max(axis=0), [618052, 2950052, 110])
    assert (first.semantics == SurfaceType.VEGETATION).all()
    info = citygml_info(path)
    assert info["lods"] == [2] and info["counts"] == {"SolitaryVegetationObject": 2}
    # the extent of info is that of the reference points (templates are not placed when streaming)
    assert info["extent"] == [618010.0, 2950010.0, 100.0, 618050.0, 2950050.0, 110.0]


def test_one_object_in_an_unknown_crs_is_a_warning(test_data: Path, tmp_path: Path) -> None:
    text = (test_data / EDGE).read_text(encoding="utf-8")
    marker = '<gml:Polygon gml:id="B2_ground">'
    assert marker in text
    path = tmp_path / "one_bad_crs.gml"
    path.write_text(text.replace(marker, '<gml:Polygon gml:id="B2_ground" srsName="EPSG:999999">'), encoding="utf-8")
    scene = read_citygml(path)
    assert scene.counts()["Building"] == 4 and 2 in scene["B1"].geometry
    bad = [w for w in scene.warnings if "999999" in w.message]
    assert len(bad) == 1 and bad[0].object_id == "B2" and bad[0].line is not None
    assert scene["B2"].geometry[2].n_triangles == 10  # the ground polygon is left out
    assert citygml_info(path)["counts"] == scene.counts()
    # an unknown CRS for the whole document is an error that names it
    from cim_twin.errors import CRSError

    whole = tmp_path / "bad_document_crs.gml"
    whole.write_text(text.replace("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783", "EPSG:999999"), encoding="utf-8")
    with pytest.raises(CRSError, match="999999"):
        read_citygml(whole)


def test_an_object_that_breaks_the_reader_is_a_warning(test_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cim_twin.io.citygml import features

    original = features.FeatureWalker._walk_object

    def failing(self, el, index, fp):  # type: ignore[no-untyped-def]
        if el.get(self.gml_id) == "B2":
            raise RuntimeError("simulated fault")
        return original(self, el, index, fp)

    monkeypatch.setattr(features.FeatureWalker, "_walk_object", failing)
    scene = read_citygml(test_data / EDGE)
    assert "B2" not in scene and {"B1", "B3", "B4", "G1"} <= {o.id for o in scene.roots}
    (warning,) = [w for w in scene.warnings if "simulated fault" in w.message]
    assert warning.object_id == "B2" and warning.line is not None and warning.path is not None


def test_longitude_first_data_under_a_latitude_first_srs_name(tmp_path: Path) -> None:
    """Nanping written lon, lat under the URN form of EPSG:4326 (latitude first): 118 cannot be a
    latitude, so the reader takes the data as it is and says so."""
    ring = "118.1779 26.6417 0 118.1780 26.6417 0 118.1780 26.6418 0 118.1779 26.6417 0"
    path = tmp_path / "lonlat.gml"
    path.write_text(
        '<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" '
        'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gml="http://www.opengis.net/gml">'
        '<core:cityObjectMember><bldg:Building gml:id="b"><bldg:lod1MultiSurface>'
        '<gml:MultiSurface srsName="urn:ogc:def:crs:EPSG::4326"><gml:surfaceMember><gml:Polygon><gml:exterior>'
        f"<gml:LinearRing><gml:posList>{ring}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
        "</gml:surfaceMember></gml:MultiSurface></bldg:lod1MultiSurface></bldg:Building></core:cityObjectMember>"
        "</core:CityModel>",
        encoding="utf-8",
    )
    scene = read_citygml(path)
    assert scene.crs is not None and scene.crs.name == "EPSG:32650"  # UTM zone 50N around Nanping
    info = citygml_info(path)
    for extent, warnings in ((scene.extent_wgs84(), scene.warnings), (info["extent_wgs84"], info["warnings"])):
        assert extent is not None
        assert extent[0] == pytest.approx(118.1779, abs=1e-6) and extent[4] == pytest.approx(26.6418, abs=1e-6)
        assert any("longitude first" in str(w) for w in warnings)
