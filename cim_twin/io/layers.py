"""Auxiliary layers: GeoJSON, CSV and GeoPackage files read into :class:`AuxLayer` in the scene CRS.

Indicators need more than the 3D model: spatial units, roads, parks, POIs, residents per building,
street-view samples, heat-map grids, incidents and reports. Each arrives as an ordinary GIS file,
declared in ``twin.toml`` with its kind and, where it is not in the format's default, its CRS. The
loader reads it once, moves every geometry into the scene CRS in one vectorised transform (GCJ-02
and BD-09, which Chinese web maps use, are undone first), and keeps the properties as numpy columns.

Geometry is built per feature (never per vertex); coordinates are transformed for all features at
once. GeoPackage is read with sqlite3 and the GeoPackage geometry blob (header + WKB), so it needs no
GDAL; tables of any GeoPackage writer (GDAL/QGIS/pyogrio) are understood.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, CRSError, FormatError, LoadWarning
from ..gc_control import gc_paused

if TYPE_CHECKING:
    from ..crs import SceneCRS
    from ..indicators.api import AuxLayer
    from ..model import Period
    from ..project import LayerConfig, Project

__all__ = [
    "CHINESE_WEB_CRS",
    "load_layer",
    "load_project_layers",
    "normalise_layer_crs",
    "read_csv",
    "read_geojson",
    "read_geopackage",
]

#: Non-EPSG coordinate systems of Chinese web maps, accepted as layer CRS.
CHINESE_WEB_CRS = ("GCJ-02", "BD-09")
_CRS_ALIASES = {
    "GCJ02": "GCJ-02", "GCJ-02": "GCJ-02", "MARS": "GCJ-02", "AMAP": "GCJ-02", "GAODE": "GCJ-02",
    "BD09": "BD-09", "BD-09": "BD-09", "BD09LL": "BD-09", "BAIDU": "BD-09",
}
_LON_NAMES = ("lon", "lng", "longitude", "经度")
_LAT_NAMES = ("lat", "latitude", "纬度")
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")


def normalise_layer_crs(text: str) -> str:
    """``"gcj02"`` -> ``"GCJ-02"``, ``"urn:ogc:def:crs:EPSG::4548"`` -> ``"EPSG:4548"``.

    Raises
    ------
    ValueError
        for a CRS that is neither GCJ-02 / BD-09 nor understood by :func:`~cim_twin.crs.parse_srs_name`
        (a ValueError so that pydantic reports it against the key).
    """
    key = text.strip().upper().replace("_", "-")
    if key in _CRS_ALIASES or key.replace("-", "") in _CRS_ALIASES:
        return _CRS_ALIASES.get(key) or _CRS_ALIASES[key.replace("-", "")]
    from ..crs import parse_srs_name

    try:
        return parse_srs_name(text).name
    except CRSError as exc:
        raise ValueError(f"unknown CRS {text!r} (use EPSG:n, GCJ-02 or BD-09)") from exc


# --- coordinates ------------------------------------------------------------------------------------
def _transform_xy(xy: np.ndarray, source: str, target: SceneCRS | None) -> np.ndarray:
    """Move ``(n, 2)`` coordinates from ``source`` (EPSG name, GCJ-02, BD-09) to ``target``."""
    from ..crs import bd09_to_gcj02, gcj02_to_wgs84, parse_srs_name, transformer

    if not len(xy):
        return xy
    x, y = xy[:, 0], xy[:, 1]
    if source in CHINESE_WEB_CRS:
        if source == "BD-09":
            x, y = bd09_to_gcj02(x, y)
        x, y = gcj02_to_wgs84(x, y)
        source = "EPSG:4326"
    if target is None:
        return np.column_stack([x, y])
    src = parse_srs_name(source)
    if target.is_local:
        if src.name == target.name:
            return np.column_stack([x, y])
        raise CRSError(
            f"cannot place a layer in {source} into the scene's local engineering CRS {target.name}",
            hint="give the scene its real CRS ([project] crs) or the layer the scene's CRS",
        )
    if src.horizontal_key == target.horizontal_key:
        return np.column_stack([x, y])
    tr = transformer(src.horizontal_key, target.horizontal_key)
    if len(x) == 1:  # pyproj's one-point path warns on 1-element arrays (numpy >= 1.25)
        tx, ty = tr.transform(float(x[0]), float(y[0]))
        return np.array([[tx, ty]], dtype=np.float64)
    tx, ty = tr.transform(x, y)
    return np.column_stack([np.asarray(tx), np.asarray(ty)])


def _transform_geometries(geoms: np.ndarray, source: str, target: SceneCRS | None) -> np.ndarray:
    """All geometries in one transform call (shapely hands every coordinate to us at once)."""
    import shapely

    if target is not None and not target.is_local and source not in CHINESE_WEB_CRS:
        from ..crs import parse_srs_name

        if parse_srs_name(source).horizontal_key == target.horizontal_key:
            return geoms
    return shapely.transform(geoms, lambda xy: _transform_xy(xy, source, target))


def _check_lonlat(geoms: np.ndarray, source: str, path: Path) -> None:
    """Catch the most common mistake: projected metres in a file read as degrees."""
    import shapely

    if source not in ("EPSG:4326", "EPSG:4490", *CHINESE_WEB_CRS):
        return
    present = geoms[~shapely.is_missing(geoms)]
    if not len(present):
        return
    bounds = shapely.total_bounds(present)
    if np.nanmax(np.abs(bounds[[0, 2]])) > 180.0 or np.nanmax(np.abs(bounds[[1, 3]])) > 90.0:
        raise CRSError(
            f"coordinates up to {np.nanmax(np.abs(bounds)):.0f} do not look like degrees ({source})",
            path=path,
            hint="declare the layer's CRS in twin.toml, e.g. crs = \"EPSG:4548\"",
        )


# --- columns ------------------------------------------------------------------------------------------
def _column(values: Sequence[Any]) -> np.ndarray:
    """One column from Python values: bool, int64, float64 (None -> NaN) or object (strings, None)."""
    present = [v for v in values if v is not None and v != ""]
    if not present:
        return np.array(values, dtype=object) if values else np.zeros(0, dtype=object)
    if all(isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=bool)
        return np.array(values, dtype=object)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if len(present) == len(values) and all(isinstance(v, int) for v in present):
            try:
                return np.array(values, dtype=np.int64)
            except OverflowError:
                pass
        return np.array([np.nan if v is None or v == "" else float(v) for v in values], dtype=np.float64)
    return np.array([None if v == "" else v for v in values], dtype=object)


_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf)$", re.IGNORECASE)


def _text_column(values: Sequence[str]) -> np.ndarray:
    """A CSV column: numbers when every non-empty cell is a number, else text (ids stay text when
    they have leading zeros, e.g. ``"007"``). Parsed with numpy's string routines, not per cell."""
    if not len(values):
        return np.zeros(0, dtype=object)
    cells = np.char.strip(np.asarray(values, dtype=str))
    empty = cells == ""
    if empty.all():
        return np.full(len(cells), None, dtype=object)
    try:
        floats = np.where(empty, "nan", cells).astype(np.float64)
    except ValueError:
        floats = None
    if floats is not None:
        present = np.char.lower(np.char.lstrip(cells[~empty], "+-"))
        int_like = ~(np.char.find(present, ".") >= 0)
        for marker in ("e", "n", "i"):  # exponent, nan, inf
            int_like &= ~(np.char.find(present, marker) >= 0)
        if int_like.all():
            if ((np.char.str_len(present) > 1) & np.char.startswith(present, "0")).any():
                return _as_text(cells, empty)  # "007": an identifier, not the number 7
            if not empty.any():
                return cells.astype(np.int64)  # exact, also beyond 2**53
        return floats
    return _as_text(cells, empty)


def _as_text(cells: np.ndarray, empty: np.ndarray) -> np.ndarray:
    out = cells.astype(object)
    out[empty] = None
    return out


def _make_layer(name: str, kind: str, geoms: np.ndarray, columns: dict[str, np.ndarray], path: Path,
                level: str | None, crs: str) -> AuxLayer:
    from ..indicators.api import AuxLayer

    return AuxLayer(name=name, kind=kind, geometries=geoms, columns=columns, path=str(path), level=level,
                    source_crs=crs)


# --- GeoJSON -------------------------------------------------------------------------------------------
def read_geojson(path: str | PathLike[str]) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """Read a GeoJSON file: ``(geometries, columns, crs)``.

    The CRS is EPSG:4326 (RFC 7946) unless the file carries the legacy ``crs`` member. A feature's
    ``id`` becomes the ``id`` column when the properties have none.

    Raises
    ------
    FormatError
        for a file that is not JSON or not GeoJSON, naming the feature index of a bad geometry.
    """
    import shapely

    from ..serialization import dumps, loads

    p = Path(path)
    try:
        with gc_paused():
            data = loads(p.read_bytes())
    except OSError as exc:
        raise FormatError(f"cannot read layer: {exc.strerror}", path=p) from exc
    except ValueError as exc:
        raise FormatError(f"not valid JSON: {exc}", path=p, hint="is this really a GeoJSON file?") from exc
    if not isinstance(data, dict) or "type" not in data:
        raise FormatError("not a GeoJSON object (no 'type')", path=p)
    if data["type"] == "FeatureCollection":
        features = data.get("features") or []
    elif data["type"] == "Feature":
        features = [data]
    elif data["type"] in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                          "GeometryCollection"):
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise FormatError(f"GeoJSON type {data['type']!r} is not a FeatureCollection, Feature or geometry", path=p)
    crs = "EPSG:4326"
    named = ((data.get("crs") or {}).get("properties") or {}).get("name") if isinstance(data.get("crs"), dict) else None
    if named and "CRS84" not in str(named).upper():
        try:
            crs = normalise_layer_crs(str(named))
        except ValueError as exc:
            raise CRSError(f"unknown CRS {named!r} in the file's crs member", path=p) from exc

    geometries: list[Any] = []
    props: list[dict[str, Any]] = []
    with gc_paused():
        _split_features(features, geometries, props, p)
    geoms = _geometries_from_geojson(geometries, p, props, dumps, shapely)
    with gc_paused():
        columns = _columns_from_rows(props)
    return geoms, columns, crs


def _split_features(features: list[Any], geometries: list[Any], props: list[dict[str, Any]], p: Path) -> None:
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise FormatError(f"features[{i}] is not a Feature", path=p)
        geometries.append(feature.get("geometry"))
        row = dict(feature.get("properties") or {})
        if "id" not in row and feature.get("id") is not None:
            row["id"] = feature["id"]
        props.append(row)


def _geometries_from_geojson(geometries: list[Any], p: Path, props: list[dict[str, Any]], dumps: Any,
                             shapely: Any) -> np.ndarray:
    """Shapely geometries: points built straight from one coordinate array (POI and sample
    layers are large and all points), everything else through GEOS's GeoJSON reader."""
    out = np.full(len(geometries), None, dtype=object)
    kinds = [g.get("type") if isinstance(g, dict) else None for g in geometries]
    point_rows = [i for i, k in enumerate(kinds) if k == "Point"]
    if point_rows:
        try:
            coords = np.array([geometries[i]["coordinates"][:2] for i in point_rows], dtype=np.float64)
            if coords.ndim != 2 or coords.shape[1] != 2:
                raise ValueError("point coordinates need two numbers")
        except (TypeError, ValueError, KeyError, IndexError):
            point_rows = []  # let the general path find and name the bad feature
        else:
            out[point_rows] = shapely.points(coords)
    done = set(point_rows)
    rest = [i for i, g in enumerate(geometries) if g and i not in done]
    if rest:
        encoded = np.array([dumps(geometries[i]).decode() for i in rest], dtype=object)
        try:
            out[rest] = shapely.from_geojson(encoded, on_invalid="raise")
        except shapely.errors.GEOSException:
            # find the culprit for the message (rare path, one call per feature)
            for i, text in zip(rest, encoded, strict=True):
                try:
                    shapely.from_geojson(text)
                except shapely.errors.GEOSException as exc:
                    raise FormatError(f"features[{i}] has an invalid geometry: {exc}", path=p,
                                      object_id=str(props[i].get("id", "")) or None) from exc
            raise
    return out


def _columns_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: _column([row.get(name) for row in rows]) for name in names}


# --- CSV --------------------------------------------------------------------------------------------------
def _decode_csv(p: Path, encoding: str | None) -> str:
    raw = p.read_bytes()
    if encoding:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise FormatError(f"cannot decode as {encoding}: {exc}", path=p) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel in Chinese locales saves CSV as GBK; GB18030 is its superset.
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise FormatError("CSV is neither UTF-8 nor GB18030", path=p,
                              hint="set encoding = \"...\" for the layer in twin.toml") from exc


def read_csv(path: str | PathLike[str], *, x_column: str | None = None, y_column: str | None = None,
             encoding: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], str | None]:
    """Read a CSV layer: ``(geometries, columns, geometry kind)``.

    Geometry comes from ``x_column``/``y_column`` if given, else ``x``/``y`` columns (kind
    ``"xy"``: in the layer's declared CRS, default the scene CRS), else ``lon``/``lat`` columns
    (``"lonlat"``: default EPSG:4326), else a WKT column (``wkt``/``geometry``). Without any, the
    geometries are all None (e.g. residents per building, joined by ``building_id``).

    Raises
    ------
    FormatError
        for a ragged row or a non-numeric coordinate (naming the line).
    """
    import shapely

    p = Path(path)
    try:
        text = _decode_csv(p, encoding)
    except OSError as exc:
        raise FormatError(f"cannot read layer: {exc.strerror}", path=p) from exc
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FormatError("empty CSV (no header row)", path=p) from None
    with gc_paused():
        numbered = [(n, row) for n, row in enumerate(reader, start=2)
                    if any(row) and (len(row) == len(header) or "".join(row).strip())]
    rows = [row for _, row in numbered if len(row) == len(header)]
    if len(rows) != len(numbered):
        line_no, row = next((n, r) for n, r in numbered if len(r) != len(header) and "".join(r).strip())
        raise FormatError(f"row has {len(row)} fields, the header has {len(header)}", path=p, line=line_no)
    # transpose in C: one list per column
    with gc_paused():
        raw_columns = dict(zip(header, (list(c) for c in zip(*rows, strict=True)), strict=True)) if rows \
            else {name: [] for name in header}
    lower = {h.lower(): h for h in header}

    def find(names: Iterable[str]) -> str | None:
        return next((lower[n] for n in names if n in lower), None)

    kind: str | None = None
    xs = x_column or find(("x",))
    ys = y_column or find(("y",))
    if x_column or y_column:
        for col in (x_column, y_column):
            if col not in raw_columns:
                raise ConfigError(f"CSV has no column {col!r} (columns: {', '.join(header)})", path=p)
    if xs and ys:
        kind = "xy"
    else:
        xs, ys = find(_LON_NAMES), find(_LAT_NAMES)
        kind = "lonlat" if xs and ys else None
    columns = {name: _text_column(values) for name, values in raw_columns.items()}
    if kind is not None:
        assert xs is not None and ys is not None
        try:
            coords = np.column_stack([np.asarray(columns[xs], dtype=np.float64),
                                      np.asarray(columns[ys], dtype=np.float64)])
        except (TypeError, ValueError):
            bad = next(i for i, r in enumerate(rows) if not _FLOAT_RE.match(r[header.index(xs)].strip() or "x")
                       or not _FLOAT_RE.match(r[header.index(ys)].strip() or "x"))
            raise FormatError(f"coordinate columns {xs!r}/{ys!r} must be numbers", path=p, line=bad + 2) from None
        geoms = np.asarray(shapely.points(coords), dtype=object)
        geoms[~np.isfinite(coords).all(axis=1)] = None
    else:
        wkt = find(_WKT_NAMES)
        if wkt is not None:
            try:
                geoms = np.asarray(shapely.from_wkt(np.array(raw_columns[wkt], dtype=object), on_invalid="raise"),
                                   dtype=object)
            except shapely.errors.GEOSException as exc:
                raise FormatError(f"column {wkt!r} holds invalid WKT: {exc}", path=p) from exc
            kind = "wkt"
            del columns[wkt]
        else:
            geoms = np.full(len(rows), None, dtype=object)
    return geoms, columns, kind


# --- GeoPackage -----------------------------------------------------------------------------------------
def _gpkg_wkb(blob: bytes) -> bytes | None:
    """The WKB inside a GeoPackage geometry blob (GeoPackage 1.x, clause 2.1.3), None if empty."""
    if blob is None:
        return None
    if blob[:2] != b"GP":
        return bytes(blob)  # some writers store plain WKB (Spatialite-style tables); accept it
    flags = blob[3]
    envelope = (flags >> 1) & 0b111
    if flags & 0b10000:  # empty geometry flag
        return None
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get(envelope)
    if size is None:
        raise ValueError(f"bad envelope indicator {envelope}")
    return bytes(blob[8 + size :])


def read_geopackage(path: str | PathLike[str], table: str | None = None
                    ) -> tuple[np.ndarray, dict[str, np.ndarray], str | None, str]:
    """Read one feature table of a GeoPackage: ``(geometries, columns, crs, table)``.

    Uses sqlite3 (read-only, no extensions), so it works without GDAL.

    Raises
    ------
    FormatError
        when the file is not a GeoPackage, has no feature table, or several and ``table`` is not
        given (naming them).
    """
    import shapely

    p = Path(path)
    try:
        con = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise FormatError(f"cannot open GeoPackage: {exc}", path=p) from exc
    try:
        try:
            tables = con.execute(
                "SELECT c.table_name, g.column_name, s.organization, s.organization_coordsys_id, s.definition "
                "FROM gpkg_contents c JOIN gpkg_geometry_columns g ON g.table_name = c.table_name "
                "LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id "
                "WHERE c.data_type = 'features' ORDER BY c.table_name"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise FormatError(f"not a GeoPackage ({exc})", path=p,
                              hint="a GeoPackage is an SQLite file with gpkg_contents and gpkg_geometry_columns") from exc
        if not tables:
            raise FormatError("GeoPackage has no feature table", path=p)
        names = [t[0] for t in tables]
        if table is None:
            if len(tables) > 1:
                raise FormatError(f"GeoPackage has {len(tables)} feature tables: {', '.join(names)}", path=p,
                                  hint='say which with table = "..." in the layer entry')
            chosen = tables[0]
        else:
            chosen = next((t for t in tables if t[0] == table), None)
            if chosen is None:
                raise FormatError(f"GeoPackage has no feature table {table!r} (tables: {', '.join(names)})", path=p)
        name, geom_col, org, code, definition = chosen
        crs: str | None
        if org and str(org).upper() == "EPSG" and code and int(code) > 0:
            crs = f"EPSG:{int(code)}"
        elif definition and definition.strip() not in ("", "undefined"):
            crs = normalise_layer_crs(definition)
        else:
            crs = None
        quoted = '"' + name.replace('"', '""') + '"'
        cursor = con.execute(f"SELECT * FROM {quoted}")
        header = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    gi = header.index(geom_col)
    try:
        wkbs = np.array([_gpkg_wkb(r[gi]) for r in rows], dtype=object)
        geoms = np.asarray(shapely.from_wkb(wkbs, on_invalid="raise"), dtype=object)
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise FormatError(f"table {name!r}: bad geometry blob: {exc}", path=p) from exc
    columns = {h: _column([r[i] for r in rows]) for i, h in enumerate(header) if i != gi}
    if "id" not in columns and "fid" in columns:
        columns["id"] = columns["fid"]
    return geoms, columns, crs, name


# --- one layer, all layers ---------------------------------------------------------------------------
def load_layer(name: str, config: LayerConfig, path: Path, scene_crs: SceneCRS | None) -> AuxLayer:
    """Read one layer of the project and move it into the scene CRS.

    CRS of the file: the ``crs`` of the layer entry, else what the file says (GeoJSON ``crs``
    member, GeoPackage SRS), else the format's default (GeoJSON EPSG:4326; CSV ``x``/``y`` in the
    scene CRS, ``lon``/``lat`` in EPSG:4326).

    Raises
    ------
    FormatError, CRSError, ConfigError
        naming the layer's file (and the line or feature where it applies).
    """
    with gc_paused():  # hundreds of thousands of rows and geometries, none in a cycle
        return _load_layer(name, config, path, scene_crs)


def _load_layer(name: str, config: LayerConfig, path: Path, scene_crs: SceneCRS | None) -> AuxLayer:
    import shapely

    suffix = path.suffix.lower()
    declared = config.crs
    if suffix in (".geojson", ".json"):
        geoms, columns, file_crs = read_geojson(path)
        crs: str = declared or file_crs
    elif suffix in (".csv", ".tsv", ".txt"):
        geoms, columns, geom_kind = read_csv(path, x_column=config.x_column, y_column=config.y_column,
                                             encoding=config.encoding)
        if geom_kind == "lonlat":
            crs = declared or "EPSG:4326"
        else:
            crs = declared or (scene_crs.name if scene_crs is not None else "EPSG:4326")
    elif suffix == ".gpkg":
        geoms, columns, gpkg_crs, _ = read_geopackage(path, config.table)
        crs = declared or gpkg_crs or "EPSG:4326"
    else:
        raise FormatError(f"layer {name!r}: unknown file type {suffix or '(none)'}", path=path,
                          hint="layers are GeoJSON (.geojson), CSV (.csv) or GeoPackage (.gpkg)")
    if config.id_column:
        if config.id_column not in columns:
            raise ConfigError(f"[layers.{name}] id_column: the layer has no column {config.id_column!r}",
                              path=path, hint=f"columns: {', '.join(columns)}")
        columns["id"] = columns[config.id_column]
    if len(geoms) and not shapely.is_missing(geoms).all():
        _check_lonlat(geoms, crs, path)
        try:
            geoms = _transform_geometries(geoms, crs, scene_crs)
        except CRSError as exc:
            exc.path = exc.path or str(path)
            raise
    level: str | None = config.level
    if config.kind == "units":
        if level is None and "level" in columns and len(columns["level"]):
            values = {str(v) for v in columns["level"] if v is not None}
            level = values.pop() if len(values) == 1 else None
        if level is None:
            raise ConfigError(f"[layers.{name}] level: a units layer needs its level "
                              "(community, block or district)", path=path)
        if "level" in columns and config.level is not None:
            # one file holding several levels: this layer is the rows of its own level
            keep = np.array([v is None or str(v) == level for v in columns["level"]], dtype=bool)
            if not keep.all():
                geoms = geoms[keep]
                columns = {k: v[keep] for k, v in columns.items()}
        if "id" not in columns:
            raise ConfigError(f"layer {name!r} (units) has no 'id' column", path=path,
                              hint="set id_column = \"...\" in the layer entry")
        columns["id"] = np.array([None if v is None else str(v) for v in columns["id"]], dtype=object)
        geoms = np.asarray(shapely.make_valid(geoms), dtype=object) if len(geoms) else geoms
    return _make_layer(name, config.kind, geoms, columns, path, level, crs)


def load_project_layers(project: Project, period: Period | None, scene_crs: SceneCRS | None,
                        extent: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> tuple[dict[str, AuxLayer], list[LoadWarning]]:
    """Every layer of ``[layers]`` for ``period``: ``(layers by name, warnings)``.

    A missing optional layer (``required = false``) and a layer entirely outside the scene's
    ``extent`` (usually a wrong CRS) are warnings.
    """
    skipped = set(project.check_layer_files(period))
    layers: dict[str, AuxLayer] = {}
    warnings: list[LoadWarning] = []
    for name, config in project.config.layers.items():
        path = project.layer_path(name, period)
        if name in skipped:
            warnings.append(LoadWarning(f"layer {name!r} skipped: file not found", path=str(path)))
            continue
        layers[name] = load_layer(name, config, path, scene_crs)
        outside = layer_extent_warning(layers[name], extent)
        if outside is not None:
            warnings.append(outside)
    return layers, warnings


def layer_extent_warning(layer: AuxLayer, extent: tuple[np.ndarray, np.ndarray] | None) -> LoadWarning | None:
    """A warning when a layer lies entirely outside the scene extent (a wrong CRS, most likely)."""
    import shapely

    if extent is None or not len(layer):
        return None
    present = layer.geometries[~shapely.is_missing(layer.geometries)]
    if not len(present):
        return None
    bx = shapely.total_bounds(present)
    lo, hi = extent
    margin = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1000.0)
    if bx[2] < lo[0] - margin or bx[0] > hi[0] + margin or bx[3] < lo[1] - margin or bx[1] > hi[1] + margin:
        return LoadWarning(
            f"layer {layer.name!r} lies entirely outside the city model "
            f"(layer x {bx[0]:.0f}..{bx[2]:.0f}, y {bx[1]:.0f}..{bx[3]:.0f}; "
            f"model x {lo[0]:.0f}..{hi[0]:.0f}, y {lo[1]:.0f}..{hi[1]:.0f})",
            path=layer.path,
            hint="check the layer's crs in twin.toml",
        )
    return None
