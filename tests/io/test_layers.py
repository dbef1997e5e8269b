"""Auxiliary layers: GeoJSON / CSV / GeoPackage into the scene CRS, Chinese web-map CRSs undone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cim_twin.crs import parse_srs_name, wgs84_to_gcj02
from cim_twin.errors import ConfigError, CRSError, FormatError
from cim_twin.io.layers import load_layer, load_project_layers, read_csv, read_geopackage
from cim_twin.project import LayerConfig, Project

SCENE = parse_srs_name("EPSG:4548")  # CGCS2000 / 3-degree GK CM 117E (Nanping)
# Real places in Nanping (WGS84 lon, lat): around the Jianyang and Yanping districts.
LON = np.array([118.1203, 118.1651, 118.1788, 117.9961])
LAT = np.array([27.3317, 26.6418, 26.6372, 26.6504])
TO_SCENE = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)


def expected_xy() -> np.ndarray:
    return np.column_stack(TO_SCENE.transform(LON, LAT))


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The published forward formula (WGS84 -> GCJ-02 -> BD-09), for making test data."""
    x, y = wgs84_to_gcj02(lon, lat)
    x_pi = np.pi * 3000.0 / 180.0
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * x_pi)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * x_pi)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def points_geojson(path: Path, lon: np.ndarray, lat: np.ndarray, **extra: object) -> Path:
    features = [
        {"type": "Feature", "id": f"p{i}", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
         "properties": {"type": "toilet" if i % 2 else "clinic", "beds": i * 10 if i else None, "name": f"点{i}"}}
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **extra}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def layer_xy(layer) -> np.ndarray:  # type: ignore[no-untyped-def]
    return shapely.get_coordinates(layer.geometries)


def test_geojson_wgs84_into_scene_crs(tmp_path: Path) -> None:
    path = points_geojson(tmp_path / "poi.geojson", LON, LAT)
    layer = load_layer("poi", LayerConfig(path="poi.geojson", kind="poi"), path, SCENE)
    assert np.abs(layer_xy(layer) - expected_xy()).max() < 1e-6
    assert list(layer.column("id")) == ["p0", "p1", "p2", "p3"]  # feature ids become the id column
    assert layer.column("beds").dtype == np.float64 and np.isnan(layer.column("beds")[0])
    assert list(layer.column("name")) == ["点0", "点1", "点2", "点3"]
    assert layer.source_crs == "EPSG:4326" and layer.kind == "poi"


@pytest.mark.parametrize("declared", ["GCJ-02", "gcj02", "BD-09"])
def test_chinese_web_map_coordinates_are_undone(tmp_path: Path, declared: str) -> None:
    lon, lat = wgs84_to_bd09(LON, LAT) if declared == "BD-09" else wgs84_to_gcj02(LON, LAT)
    path = points_geojson(tmp_path / "poi.geojson", lon, lat)
    layer = load_layer("poi", LayerConfig(path="poi.geojson", kind="poi", crs=declared), path, SCENE)
    error = np.hypot(*(layer_xy(layer) - expected_xy()).T)
    assert error.max() < 0.5  # metres
    # and the shift being undone is real: read as plain WGS84 the points land hundreds of metres off
    naive = load_layer("poi", LayerConfig(path="poi.geojson", kind="poi"), path, SCENE)
    assert np.hypot(*(layer_xy(naive) - expected_xy()).T).min() > 100


def test_geojson_legacy_crs_member_and_projected_coordinates(tmp_path: Path) -> None:
    xy = expected_xy()
    path = points_geojson(tmp_path / "p.geojson", xy[:, 0], xy[:, 1],
                          crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4548"}})
    layer = load_layer("p", LayerConfig(path="p.geojson", kind="poi"), path, SCENE)
    assert np.array_equal(layer_xy(layer), xy) and layer.source_crs == "EPSG:4548"
    # the same metres without the crs member cannot be degrees: a clear error, not a wrong map
    bare = points_geojson(tmp_path / "bare.geojson", xy[:, 0], xy[:, 1])
    with pytest.raises(CRSError, match="do not look like degrees") as err:
        load_layer("bare", LayerConfig(path="bare.geojson", kind="poi"), bare, SCENE)
    assert str(bare) in str(err.value) and 'crs = "EPSG:4548"' in str(err.value)


def test_units_polygons_with_level_from_the_data(tmp_path: Path) -> None:
    ring = [[118.10, 27.30], [118.14, 27.30], [118.14, 27.34], [118.10, 27.34], [118.10, 27.30]]
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": 101, "name": "建阳一社区", "level": "community"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path = tmp_path / "communities.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    layer = load_layer("communities", LayerConfig(path="c", kind="units"), path, SCENE)
    assert layer.level == "community" and list(layer.column("id")) == ["101"]  # ids as text
    inside = np.column_stack(TO_SCENE.transform([118.12], [27.32]))
    assert layer.geometries[0].contains(shapely.points(inside)[0])
    assert 3900 * 4400 < layer.geometries[0].area < 4000 * 4450  # 0.04 deg x 0.04 deg at 27.3N, in m2


def test_units_without_level_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = points_geojson(tmp_path / "u.geojson", LON, LAT)
    with pytest.raises(ConfigError, match=r"\[layers.u\] level"):
        load_layer("u", LayerConfig(path="u", kind="units"), path, SCENE)


def test_bad_geojson_names_the_feature(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":'
                    '{"type":"Point","coordinates":[118,27]}},{"type":"Feature","properties":{"id":"x"},'
                    '"geometry":{"type":"Polygon","coordinates":[[[1,2]]]}}]}')
    with pytest.raises(FormatError, match=r"features\[1\] has an invalid geometry"):
        load_layer("bad", LayerConfig(path="b", kind="parks"), path, SCENE)
    path.write_text("{not json")
    with pytest.raises(FormatError, match="not valid JSON"):
        load_layer("bad", LayerConfig(path="b", kind="parks"), path, SCENE)


# --- CSV ------------------------------------------------------------------------------------------------
def test_csv_xy_in_scene_crs_lonlat_in_gcj02_and_tables(tmp_path: Path) -> None:
    xy = expected_xy()
    heat = tmp_path / "heatmap.csv"
    heat.write_text("x,y,cell_m,hour,density\n" + "".join(
        f"{x:.3f},{y:.3f},50,{h},{d}\n" for (x, y), h, d in zip(xy, [0, 8, 12, 20], [0.5, 3, 12.25, 7], strict=True)))
    layer = load_layer("heatmap", LayerConfig(path="h", kind="heatmap"), heat, SCENE)
    assert np.abs(layer_xy(layer) - xy).max() < 1e-3
    assert layer.column("hour").dtype == np.int64 and layer.column("density").dtype == np.float64

    glon, glat = wgs84_to_gcj02(LON, LAT)
    poi = tmp_path / "poi.csv"
    poi.write_text("id,lng,lat,type\n" + "".join(f"{i},{float(x)!r},{float(y)!r},toilet\n" for i, (x, y) in enumerate(zip(glon, glat, strict=True))))
    layer = load_layer("poi", LayerConfig(path="p", kind="poi", crs="GCJ-02"), poi, SCENE)
    assert np.hypot(*(layer_xy(layer) - xy).T).max() < 0.5

    pop = tmp_path / "population.csv"
    pop.write_text("building_id,residents,elderly\n007,12,3\nB-2,40,\n")
    layer = load_layer("population", LayerConfig(path="p", kind="population"), pop, SCENE)
    assert not layer.has_geometry and len(layer) == 2
    assert list(layer.column("building_id")) == ["007", "B-2"]  # leading zeros kept: ids are text
    assert list(layer.column("residents")) == [12, 40]
    assert np.isnan(layer.column("elderly")[1])


def test_csv_from_chinese_excel(tmp_path: Path) -> None:
    path = tmp_path / "reports.csv"
    path.write_bytes("编号;经度;纬度;类别\nr1;118.1203;27.3317;积水\n".encode("gb18030"))
    geoms, columns, kind = read_csv(path)
    assert kind == "lonlat" and list(columns["类别"]) == ["积水"]
    assert shapely.get_coordinates(geoms).tolist() == [[118.1203, 27.3317]]


def test_csv_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x,y,v\n1,2,3\n4,5\n")
    with pytest.raises(FormatError, match=r"bad.csv:3: row has 2 fields"):
        read_csv(path)
    path.write_text("x,y,v\n500000,2988000,1\nnorth,2988000,2\n")
    with pytest.raises(FormatError, match=r"bad.csv:3: coordinate columns 'x'/'y' must be numbers"):
        read_csv(path)


# --- GeoPackage ------------------------------------------------------------------------------------------
def test_geopackage_written_by_gdal(tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    from pyogrio.raw import write

    path = tmp_path / "city.gpkg"
    points = shapely.to_wkb(shapely.points(np.column_stack([LON, LAT])))
    write(path, points, [np.array(["a", "b", "c", "d"], dtype=object), np.array([1.5, 2.5, 3.5, 4.5])],
          ["name", "capacity"], layer="poi", driver="GPKG", geometry_type="Point", crs="EPSG:4326")
    park = shapely.to_wkb(np.array([shapely.box(500000, 2988000, 500100, 2988050)], dtype=object))
    write(path, park, [np.array(["公园"], dtype=object)], ["name"], layer="parks", driver="GPKG",
          geometry_type="Polygon", crs="EPSG:4548", append=True)

    with pytest.raises(FormatError, match="2 feature tables: parks, poi"):
        read_geopackage(path)
    geoms, columns, crs, table = read_geopackage(path, "poi")
    assert crs == "EPSG:4326" and table == "poi"
    assert list(columns["name"]) == ["a", "b", "c", "d"] and columns["capacity"].tolist() == [1.5, 2.5, 3.5, 4.5]
    # the same geometries as GDAL reads them
    info = pyogrio.read_info(path, layer="poi")
    assert info["features"] == 4
    assert np.allclose(shapely.get_coordinates(geoms), np.column_stack([LON, LAT]))

    layer = load_layer("parks", LayerConfig(path="city.gpkg", kind="parks", table="parks"), path, SCENE)
    assert layer.source_crs == "EPSG:4548" and layer.geometries[0].area == pytest.approx(5000.0)
    layer = load_layer("poi", LayerConfig(path="city.gpkg", kind="poi", table="poi"), path, SCENE)
    assert np.abs(layer_xy(layer) - expected_xy()).max() < 1e-6


def test_not_a_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "x.gpkg"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(FormatError, match=r"x\.gpkg: (not a GeoPackage|cannot open)"):
        read_geopackage(path)


# --- all layers of a project --------------------------------------------------------------------------
def test_project_layers_with_period_and_warnings(tmp_path: Path) -> None:
    (tmp_path / "layers" / "2025").mkdir(parents=True)
    points_geojson(tmp_path / "layers" / "2025" / "poi.geojson", *wgs84_to_gcj02(LON, LAT))
    points_geojson(tmp_path / "far.geojson", LON - 40, LAT)  # a wrong CRS puts it in another country
    (tmp_path / "twin.toml").write_text(
        '[layers.poi]\npath = "layers/{period}/poi.geojson"\nkind = "poi"\ncrs = "GCJ-02"\n'
        '[layers.far]\npath = "far.geojson"\nkind = "poi"\n'
        '[layers.roads]\npath = "layers/{period}/roads.geojson"\nkind = "roads"\nrequired = false\n')
    project = Project.load(tmp_path / "twin.toml")
    xy = expected_xy()
    extent = (np.array([xy[:, 0].min(), xy[:, 1].min(), 0]), np.array([xy[:, 0].max(), xy[:, 1].max(), 50]))
    layers, warnings = load_project_layers(project, project.period(2025), SCENE, extent)
    assert sorted(layers) == ["far", "poi"]
    text = " | ".join(str(w) for w in warnings)
    assert "layer 'roads' skipped: file not found" in text
    assert "layer 'far' lies entirely outside the city model" in text
    with pytest.raises(ConfigError, match=r"\[layers.poi\] path: file not found"):
        load_project_layers(project, project.period(2024), SCENE)


def test_dates_column(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    path = tmp_path / "w.csv"
    path.write_text("lon,lat,date\n118.1,27.3,2024-06-18\n118.1,27.3,2024-06-18T08:00:00+08:00\n118.1,27.3,\n")
    layer = load_layer("w", LayerConfig(path="w", kind="incidents"), path, SCENE)
    when = layer.datetimes("date", tz=ZoneInfo("Asia/Shanghai"))
    assert str(when[0]) == "2024-06-17T16:00:00" and str(when[1]) == "2024-06-18T00:00:00"
    assert np.isnat(when[2])


def test_representative_points_keep_one_row_per_feature() -> None:
    from cim_twin.testing import make_layer

    layer = make_layer("mixed", "reports", [shapely.Point(1, 2), None, shapely.box(0, 0, 2, 2),
                                            shapely.LineString([(0, 0), (4, 0)])], id=["a", "b", "c", "d"])
    xy = layer.xy()
    assert xy.shape == (4, 2) and xy[0].tolist() == [1.0, 2.0] and np.isnan(xy[1]).all()
    assert shapely.box(0, 0, 2, 2).contains(shapely.Point(xy[2])) and xy[3][1] == 0.0
    assert layer.where(np.array([True, False, True, False])).column("id").tolist() == ["a", "c"]


def test_one_units_file_with_several_levels(tmp_path: Path) -> None:
    def square(x: float) -> list[list[list[float]]]:
        return [[[x, 27.3], [x + 0.01, 27.3], [x + 0.01, 27.31], [x, 27.31], [x, 27.3]]]

    rows = [("D01", "district", 118.10), ("D01-B01", "block", 118.10), ("D01-B01-C01", "community", 118.10),
            ("D01-B01-C02", "community", 118.12)]
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": i, "level": lvl}, "geometry": {"type": "Polygon", "coordinates": square(x)}}
        for i, lvl, x in rows]}
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps(data))
    communities = load_layer("c", LayerConfig(path="u", kind="units", level="community"), path, SCENE)
    blocks = load_layer("b", LayerConfig(path="u", kind="units", level="block"), path, SCENE)
    assert communities.column("id").tolist() == ["D01-B01-C01", "D01-B01-C02"] and len(communities.geometries) == 2
    assert blocks.column("id").tolist() == ["D01-B01"] and blocks.level == "block"
    with pytest.raises(ConfigError, match="needs its level"):
        load_layer("u", LayerConfig(path="u", kind="units"), path, SCENE)  # several levels, none declared
