"""The OGC GeoPackage 1.3 parts of the catalog: core tables, spatial reference systems, feature
and attribute table registration, geometry blobs and the rtree spatial index extension.

Geometry blobs are the GeoPackage binary encoding: an 8-byte header (``GP``, version 0, flags,
``srs_id``), an optional envelope, then standard WKB, all little-endian. Points are packed in bulk
with numpy (no Python call per point); polygons go through shapely's WKB writer.

The rtree triggers of the extension call ``ST_IsEmpty`` / ``ST_MinX`` ... which plain SQLite does
not have; :func:`register_sql_functions` adds them to every connection the catalog opens (GDAL and
QGIS bring their own).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "APPLICATION_ID",
    "USER_VERSION",
    "add_srs",
    "create_core_tables",
    "create_rtree",
    "decode_point",
    "envelope",
    "execute_script",
    "geometry_from_blob",
    "point_blobs",
    "polygon_blob",
    "register_sql_functions",
    "register_table",
    "update_extent",
]

#: ``PRAGMA application_id`` of a GeoPackage: ASCII "GPKG".
APPLICATION_ID = 0x47504B47
#: ``PRAGMA user_version`` of GeoPackage 1.3.0.
USER_VERSION = 10300

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",'
    '0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],'
    'AUTHORITY["EPSG","4326"]]'
)

_CORE_SQL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE,
  min_y DOUBLE,
  max_x DOUBLE,
  max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
"""


def create_core_tables(conn: sqlite3.Connection) -> None:
    """Set the GeoPackage header pragmas and create the mandatory tables with their required rows
    (srs_id -1 undefined Cartesian, 0 undefined geographic, 4326 WGS 84)."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    execute_script(conn, _CORE_SQL)
    rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", 4326, "EPSG", 4326, _WGS84_WKT, "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
    ]
    conn.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL statements one by one (``executescript`` would commit the open
    transaction, and migrations must stay atomic)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def add_srs(conn: sqlite3.Connection, epsg: int) -> bool:
    """Register an EPSG CRS (definition as WKT 1 from pyproj); False when pyproj does not know it."""
    if conn.execute("SELECT 1 FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (epsg,)).fetchone():
        return True
    try:
        from pyproj import CRS

        crs = CRS.from_epsg(epsg)
        definition = crs.to_wkt("WKT1_GDAL") or crs.to_wkt()
    except Exception:  # unknown code or a CRS WKT 1 cannot express: leave it out
        return False
    conn.execute(
        "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, 'EPSG', ?, ?, ?)",
        (crs.name, epsg, epsg, definition, crs.name),
    )
    return True


def register_table(
    conn: sqlite3.Connection,
    table: str,
    *,
    data_type: str,
    description: str = "",
    geometry_column: str | None = None,
    geometry_type: str | None = None,
    srs_id: int | None = None,
) -> None:
    """Add a table to ``gpkg_contents`` (and ``gpkg_geometry_columns`` for features)."""
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (table, data_type, table, description, srs_id if data_type == "features" else None),
    )
    if data_type == "features":
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
            (table, geometry_column, geometry_type, srs_id),
        )


def create_rtree(conn: sqlite3.Connection, table: str, column: str, pk: str = "fid") -> None:
    """Create the ``gpkg_rtree_index`` extension for ``table.column``: the rtree virtual table,
    its six maintenance triggers (GeoPackage 1.3 text) and the extension row."""
    rtree = f"rtree_{table}_{column}"
    t, c, i = table, column, pk
    conn.execute(f'CREATE VIRTUAL TABLE IF NOT EXISTS "{rtree}" USING rtree(id, minx, maxx, miny, maxy)')
    for sql in rtree_trigger_sql(t, c, i).values():
        conn.execute(sql)
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
        "'http://www.geopackage.org/spec130/#extension_rtree', 'write-only')",
        (table, column),
    )


def rtree_trigger_sql(t: str, c: str, i: str = "fid") -> dict[str, str]:
    """The six rtree triggers of GeoPackage 1.3 for table ``t``, geometry ``c``, key ``i``."""
    r = f'"rtree_{t}_{c}"'
    upsert = f"INSERT OR REPLACE INTO {r} VALUES (NEW.{i}, ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c}));"
    filled = f"(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))"
    emptied = f"(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))"
    name = f"rtree_{t}_{c}"
    return {
        "insert": f'CREATE TRIGGER IF NOT EXISTS "{name}_insert" AFTER INSERT ON "{t}" '
        f"WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c})) BEGIN {upsert} END",
        "update1": f'CREATE TRIGGER IF NOT EXISTS "{name}_update1" AFTER UPDATE OF {c} ON "{t}" '
        f"WHEN OLD.{i} = NEW.{i} AND {filled} BEGIN {upsert} END",
        "update2": f'CREATE TRIGGER IF NOT EXISTS "{name}_update2" AFTER UPDATE OF {c} ON "{t}" '
        f"WHEN OLD.{i} = NEW.{i} AND {emptied} BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END",
        "update3": f'CREATE TRIGGER IF NOT EXISTS "{name}_update3" AFTER UPDATE ON "{t}" '
        f"WHEN OLD.{i} != NEW.{i} AND {filled} BEGIN DELETE FROM {r} WHERE id = OLD.{i}; {upsert} END",
        "update4": f'CREATE TRIGGER IF NOT EXISTS "{name}_update4" AFTER UPDATE ON "{t}" '
        f"WHEN OLD.{i} != NEW.{i} AND {emptied} BEGIN DELETE FROM {r} WHERE id IN (OLD.{i}, NEW.{i}); END",
        "delete": f'CREATE TRIGGER IF NOT EXISTS "{name}_delete" AFTER DELETE ON "{t}" '
        f"WHEN old.{c} NOT NULL BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END",
    }


# --- geometry blobs --------------------------------------------------------------------------------
_POINT_BLOB = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4"),
     ("order", "u1"), ("wkb_type", "<u4"), ("x", "<f8"), ("y", "<f8")]
)  # fmt: skip
# flags: bit 0 little-endian; envelope bits 1-3 = 0 (none); bit 5 = 0 standard GeoPackage binary.
_FLAGS_LE_NO_ENVELOPE = 0b0000_0001
_FLAGS_LE_XY_ENVELOPE = 0b0000_0011
_FLAGS_LE_EMPTY = 0b0001_0001


def point_blobs(x: np.ndarray, y: np.ndarray, srs_id: int) -> list[bytes | None]:
    """GeoPackage blobs of 2D points, packed in one numpy pass; None where a coordinate is NaN."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    packed = np.zeros(len(x), dtype=_POINT_BLOB)
    packed["magic"] = b"GP"
    packed["flags"] = _FLAGS_LE_NO_ENVELOPE
    packed["srs"] = srs_id
    packed["order"] = 1
    packed["wkb_type"] = 1
    packed["x"] = x
    packed["y"] = y
    raw = packed.tobytes()
    size = _POINT_BLOB.itemsize
    missing = np.isnan(x) | np.isnan(y)
    return [None if missing[k] else raw[k * size : (k + 1) * size] for k in range(len(x))]


def polygon_blob(geom: Any, srs_id: int) -> bytes | None:
    """GeoPackage blob of a shapely geometry with its xy envelope (None for None/empty)."""
    if geom is None:
        return None
    import shapely

    if geom.is_empty:
        return struct.pack("<2sBBi", b"GP", 0, _FLAGS_LE_EMPTY, srs_id) + shapely.to_wkb(geom, byte_order=1)
    min_x, min_y, max_x, max_y = geom.bounds
    header = struct.pack("<2sBBi4d", b"GP", 0, _FLAGS_LE_XY_ENVELOPE, srs_id, min_x, max_x, min_y, max_y)
    return header + shapely.to_wkb(geom, byte_order=1, output_dimension=2)


_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


def envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """``(min_x, max_x, min_y, max_y)`` of a GeoPackage blob; None for NULL or empty geometries."""
    if not blob or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0b0001_0000:
        return None
    order = "<" if flags & 1 else ">"
    n_env = _ENVELOPE_DOUBLES.get((flags >> 1) & 0b111, 0)
    if n_env:
        values = struct.unpack_from(f"{order}4d", blob, 8)
        return values[0], values[1], values[2], values[3]
    import shapely

    geom = shapely.from_wkb(bytes(blob[8:]))
    if geom.is_empty:
        return None
    min_x, min_y, max_x, max_y = geom.bounds
    return min_x, max_x, min_y, max_y


def geometry_from_blob(blob: bytes | None) -> Any:
    """The shapely geometry of a GeoPackage blob (None for NULL)."""
    if not blob:
        return None
    import shapely

    offset = 8 + 8 * _ENVELOPE_DOUBLES.get((blob[3] >> 1) & 0b111, 0)
    return shapely.from_wkb(bytes(blob[offset:]))


def decode_point(blob: bytes) -> tuple[float, float]:
    """x, y of a GeoPackage point blob (any byte order, with or without envelope)."""
    flags = blob[3]
    offset = 8 + 8 * _ENVELOPE_DOUBLES.get((flags >> 1) & 0b111, 0)
    order = "<" if blob[offset] == 1 else ">"
    _, x, y = struct.unpack_from(f"{order}I2d", blob, offset + 1)
    return x, y


def register_sql_functions(conn: sqlite3.Connection) -> None:
    """Add the SQL functions the rtree triggers call (``ST_IsEmpty``, ``ST_MinX`` ...)."""

    def part(index: int) -> Any:
        def fn(blob: bytes | None) -> float | None:
            env = envelope(blob)
            return None if env is None else env[index]

        return fn

    conn.create_function("ST_MinX", 1, part(0), deterministic=True)
    conn.create_function("ST_MaxX", 1, part(1), deterministic=True)
    conn.create_function("ST_MinY", 1, part(2), deterministic=True)
    conn.create_function("ST_MaxY", 1, part(3), deterministic=True)
    conn.create_function(
        "ST_IsEmpty", 1, lambda blob: None if blob is None else int(envelope(blob) is None), deterministic=True
    )


def update_extent(conn: sqlite3.Connection, table: str, bounds: Sequence[float] | None) -> None:
    """Widen the extent of ``table`` in ``gpkg_contents`` to ``(min_x, min_y, max_x, max_y)``."""
    if bounds is None:
        return
    conn.execute(
        "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2), "
        "max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4), "
        "last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?5",
        (*map(float, bounds), table),
    )


def touch(conn: sqlite3.Connection, tables: Iterable[str]) -> None:
    """Record a change of ``tables`` in ``gpkg_contents.last_change``."""
    conn.executemany(
        "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?",
        [(t,) for t in tables],
    )
