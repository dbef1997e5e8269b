"""The catalog file: a valid GeoPackage, runs in one transaction, migrations, WAL readers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cim_twin.catalog import Catalog, CatalogError
from cim_twin.catalog import store as store_module
from cim_twin.catalog.gpkg import decode_point, envelope, point_blobs

from .conftest import CRS, ORIGIN, SPECS, write_year, year_2023, year_2024


def test_geopackage_header_and_core_tables(three_years: Catalog, catalog_path: Path) -> None:
    three_years.close()
    con = sqlite3.connect(catalog_path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
    with catalog_path.open("rb") as fh:  # GDAL reads these bytes of the file itself
        header = fh.read(100)
    assert header[68:72] == b"GPKG"
    assert int.from_bytes(header[60:64], "big") == 10300
    srs = {r[0]: r for r in con.execute("SELECT srs_id, organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys")}
    assert {-1, 0, 4326, 4490, 4548} <= set(srs)
    assert "CGCS2000" in srs[4548][3] and srs[4490][1] == "EPSG"
    contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert contents["findings"] == "features" and contents["projects"] == "features"
    for table in ("runs", "measurements", "project_findings", "building_actions", "indicator_specs"):
        assert contents[table] == "attributes"
    geom = con.execute("SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = 'findings'").fetchone()
    assert geom == ("POINT", 4326)
    ext = con.execute("SELECT extension_name FROM gpkg_extensions WHERE table_name = 'findings'").fetchone()
    assert ext == ("gpkg_rtree_index",)
    # the rtree holds one entry per finding, with the point's lon/lat
    n = con.execute("SELECT count(*) FROM findings").fetchone()[0]
    assert con.execute("SELECT count(*) FROM rtree_findings_geom").fetchone()[0] == n
    fid, lon, lat = con.execute("SELECT fid, lon, lat FROM findings ORDER BY fid LIMIT 1").fetchone()
    minx, _maxx, _miny, maxy = con.execute("SELECT minx, maxx, miny, maxy FROM rtree_findings_geom WHERE id = ?", (fid,)).fetchone()
    assert minx == pytest.approx(lon, abs=1e-4) and maxy == pytest.approx(lat, abs=1e-4)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # extent of the layer recorded
    min_x, min_y, max_x, max_y = con.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'findings'").fetchone()
    assert 116.9 < min_x <= max_x < 117.1 and 26.9 < min_y <= max_y < 27.1


def test_gdal_reads_findings_as_points(three_years: Catalog, catalog_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    import shapely
    from pyproj import Transformer

    layers = dict(pyogrio.list_layers(catalog_path))
    assert layers["findings"] == "Point" and layers["projects"] == "Polygon"
    assert {"runs", "measurements", "project_findings", "building_actions"} <= set(layers)
    info = pyogrio.read_info(catalog_path, layer="findings")
    assert info["crs"] == "EPSG:4326" and info["features"] == 9 + 6 + 1
    _meta, _fids, geoms, fields = pyogrio.raw.read(catalog_path, layer="findings", columns=["finding_id", "x", "y"])
    to_wgs84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    points = shapely.from_wkb(geoms)
    lon, lat = to_wgs84.transform(fields[1], fields[2])
    np.testing.assert_allclose(shapely.get_x(points), lon, atol=1e-9)
    np.testing.assert_allclose(shapely.get_y(points), lat, atol=1e-9)
    # a spatial filter goes through the index and finds the one toilet point of each year
    x, y = to_wgs84.transform(ORIGIN[0] + 640, ORIGIN[1] + 420)
    _m, _f, _near, near_fields = pyogrio.raw.read(catalog_path, layer="findings", bbox=(x - 1e-5, y - 1e-5, x + 1e-5, y + 1e-5),
                                                 columns=["indicator"])
    assert list(near_fields[0]) == ["T-TOILET"] * 3
    _m, _f, _g, run_fields = pyogrio.raw.read(catalog_path, layer="runs", columns=["run_id", "period"])
    assert sorted(run_fields[1]) == ["2023", "2024", "2025"]


def test_round_trip_of_models(catalog: Catalog) -> None:
    run, findings, measurements = year_2023()
    summary = catalog.write_run(run, findings, measurements, specs=SPECS)
    assert summary.findings == len(findings) and summary.measurements == len(measurements)
    assert catalog.get_run(run.id) == run
    assert catalog.findings(run.id)[0].model_dump() == findings[0].model_dump() | {
        "lon": catalog.findings(run.id)[0].lon, "lat": catalog.findings(run.id)[0].lat}
    assert sorted(catalog.measurements(run.id), key=lambda m: (m.indicator, m.unit_id)) == sorted(
        measurements, key=lambda m: (m.indicator, m.unit_id))
    assert catalog.specs(run.id)["T-PARK-COVER"] == SPECS[2]
    assert catalog.resolve_run("2023") == run.id and catalog.resolve_run("latest") == run.id
    assert catalog.resolve_run("run-20") == run.id
    with pytest.raises(CatalogError, match="already in the catalog"):
        catalog.write_run(run, findings, measurements)
    catalog.write_run(run, findings[:2], measurements, specs=SPECS, replace=True)
    assert len(catalog.findings(run.id)) == 2 and catalog.check_integrity() == []
    with pytest.raises(CatalogError, match="no run 'nope'"):
        catalog.get_run("nope")


def test_error_inside_the_transaction_leaves_nothing_and_retry_works(catalog: Catalog) -> None:
    write_year(catalog, 2023)
    run, findings, measurements = year_2024()

    def fail() -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        catalog.write_run(run, findings, measurements, specs=SPECS, _after_findings=fail)
    assert [r.id for r in catalog.runs()] == ["run-2023"]
    assert catalog.conn.execute("SELECT count(*) FROM findings WHERE run_id = 'run-2024'").fetchone()[0] == 0
    assert catalog.check_integrity() == []
    catalog.write_run(run, findings, measurements, specs=SPECS)
    assert [r.id for r in catalog.runs()] == ["run-2023", "run-2024"]
    assert catalog.check_integrity() == []


def test_killed_writer_leaves_catalog_consistent_and_readers_keep_reading(catalog_path: Path) -> None:
    with Catalog.open(catalog_path) as cat:
        write_year(cat, 2023)
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
        from tests.catalog.conftest import year_2024, SPECS
        from cim_twin.catalog import Catalog
        cat = Catalog.open({str(catalog_path)!r})
        run, findings, measurements = year_2024()
        findings = findings * 1  # a real run's worth is not needed: the write is held open below
        def hold():
            print("inside", flush=True)
            time.sleep(60)
        cat.write_run(run, findings, measurements, specs=SPECS, _after_findings=hold)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "inside"
        # while the writer holds its transaction, a reader sees the committed state
        with Catalog.open(catalog_path, readonly=True) as reader:
            assert [r.id for r in reader.runs()] == ["run-2023"]
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Catalog.open(catalog_path) as cat:
        assert [r.id for r in cat.runs()] == ["run-2023"]
        assert cat.check_integrity() == []
        write_year(cat, 2024)
        assert [r.id for r in cat.runs()] == ["run-2023", "run-2024"]
        assert cat.check_integrity() == []


def test_migration_from_an_older_schema(catalog_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 1)
    with Catalog.open(catalog_path) as old:
        assert old.schema_version == 1
        write_year(old, 2023)
        tables = {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "projects" not in tables
    monkeypatch.undo()
    with pytest.raises(CatalogError, match="needs a migration"):
        Catalog.open(catalog_path, readonly=True)
    with Catalog.open(catalog_path) as cat:
        assert cat.schema_version == store_module.SCHEMA_VERSION
        assert [r.id for r in cat.runs()] == ["run-2023"]
        versions = [r[0] for r in cat.conn.execute("SELECT version FROM cim_twin_migrations ORDER BY version")]
        assert versions == [1, 2, 3]
        assert cat.conn.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'projects'").fetchone() == ("features",)


def test_refuses_foreign_and_newer_files(tmp_path: Path, catalog_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    with pytest.raises(CatalogError, match="not a cim-twin catalog"):
        Catalog.open(other)
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CatalogError):
        Catalog.open(junk)
    with Catalog.open(catalog_path) as cat:
        cat.conn.execute("UPDATE cim_twin_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(CatalogError, match="newer"):
        Catalog.open(catalog_path)
    with pytest.raises(CatalogError, match="not found"):
        Catalog.open(tmp_path / "missing.gpkg", readonly=True)


def test_point_blobs_decode() -> None:
    blobs = point_blobs(np.array([117.5, np.nan]), np.array([26.5, 1.0]), 4326)
    assert blobs[1] is None
    assert blobs[0][:2] == b"GP" and len(blobs[0]) == 29
    assert decode_point(blobs[0]) == (117.5, 26.5)
    assert envelope(blobs[0]) == (117.5, 117.5, 26.5, 26.5)


def test_gdal_reads_project_polygons_without_warnings(three_years: Catalog, catalog_path: Path) -> None:
    import warnings

    pyogrio = pytest.importorskip("pyogrio")
    import shapely

    from cim_twin.catalog.projects import generate_projects

    generate_projects(three_years, "2023")
    three_years.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # GDAL complains through warnings about non-conforming files
        info = pyogrio.read_info(catalog_path, layer="projects")
        _m, _f, geoms, fields = pyogrio.raw.read(catalog_path, layer="projects", columns=["project_id"])
        _m, _f, points, pf = pyogrio.raw.read(catalog_path, layer="findings", columns=["project_id"],
                                              where="run_id = 'run-2023'")
    assert info["crs"] == "EPSG:4326" and info["geometry_type"] == "Polygon" and info["features"] == 3
    polygons = dict(zip(fields[0], shapely.from_wkb(geoms), strict=True))
    for project_id, point in zip(pf[0], shapely.from_wkb(points), strict=True):
        assert polygons[project_id].contains(point)
    con = sqlite3.connect(catalog_path)
    assert con.execute("SELECT count(*) FROM rtree_projects_geom").fetchone()[0] == 3  # filled by the triggers


def test_duplicate_finding_ids_are_a_clear_error(catalog: Catalog) -> None:
    run, findings, measurements = year_2023()
    with pytest.raises(CatalogError, match="distinct ids"):
        catalog.write_run(run, [*findings, findings[0]], measurements, specs=SPECS)
    assert catalog.runs() == [] and catalog.check_integrity() == []
