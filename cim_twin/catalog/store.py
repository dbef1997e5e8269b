"""The catalog: check runs over the years in one SQLite file that is also an OGC GeoPackage 1.3.

QGIS and GDAL open it directly: ``findings`` is a point layer (EPSG:4326, with an rtree index),
``projects`` a polygon layer, and ``runs``, ``measurements``, ``indicator_specs``,
``project_findings``, ``building_actions`` and ``project_evaluations`` are attribute tables.

Writing is safe: the database runs in WAL mode, so readers keep reading while a run is written, and
:meth:`Catalog.write_run` stores a run with all its findings and measurements in one
``BEGIN IMMEDIATE`` transaction: an interrupted write leaves nothing behind and can simply be
retried. The schema carries a version (table ``cim_twin_meta``) and is migrated on open.

Example
-------
>>> cat = Catalog.open("catalog.gpkg")                         # doctest: +SKIP
>>> cat.write_run(run, findings, measurements)                 # doctest: +SKIP
>>> [r.id for r in cat.runs()]                                 # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike, fspath
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CimTwinError
from ..model import CheckRun, IndicatorSpec, Measurement, ProblemPoint, Severity, Status
from ..serialization import dumps, loads
from . import gpkg

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogError", "FindingArrays", "RunSummary"]

#: Version of the catalog schema this code writes; older catalogs are migrated on open.
SCHEMA_VERSION = 3
FINDINGS_SRS = 4326
SEVERITY_ORDER = [s.value for s in Severity]


class CatalogError(CimTwinError):
    """The catalog cannot be opened, is not a catalog, or does not hold what was asked for."""


@dataclass(frozen=True)
class RunSummary:
    """One row of ``cim-twin runs``."""

    id: str
    scope: str
    period: str
    profile: str
    status: str
    started_at: str
    finished_at: str | None
    software_version: str
    crs: str | None
    findings: int
    measurements: int
    written_at: str
    base_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FindingArrays:
    """The findings of one run as numpy columns (for diffs and clustering without models)."""

    fid: np.ndarray
    id: np.ndarray
    key: np.ndarray
    indicator: np.ndarray
    severity_rank: np.ndarray
    score: np.ndarray
    value: np.ndarray
    threshold: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    unit_id: np.ndarray
    status: np.ndarray
    object_ids: np.ndarray
    project_id: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.id)

    def take(self, index: np.ndarray) -> FindingArrays:
        """The rows at ``index`` (integer or boolean)."""
        values = {name: getattr(self, name)[index] for name in _ARRAY_COLUMNS}
        return FindingArrays(**values, extra={k: v[index] for k, v in self.extra.items()})


_ARRAY_COLUMNS = (
    "fid", "id", "key", "indicator", "severity_rank", "score", "value", "threshold",
    "x", "y", "lon", "lat", "unit_id", "status", "object_ids", "project_id",
)  # fmt: skip

# --- schema -----------------------------------------------------------------------------------------
_FINDINGS_SQL = """
CREATE TABLE findings (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  geom POINT,
  run_id TEXT NOT NULL,
  finding_id TEXT NOT NULL,
  key TEXT NOT NULL,
  indicator TEXT NOT NULL,
  category TEXT,
  severity TEXT NOT NULL,
  severity_rank INTEGER NOT NULL,
  score REAL NOT NULL,
  value REAL,
  threshold REAL,
  unit TEXT,
  x REAL NOT NULL,
  y REAL NOT NULL,
  z REAL NOT NULL,
  lon REAL,
  lat REAL,
  height REAL,
  object_ids TEXT NOT NULL DEFAULT '[]',
  unit_id TEXT,
  period TEXT NOT NULL,
  observed_at TEXT NOT NULL,
  valid_from TEXT NOT NULL,
  valid_to TEXT,
  status TEXT NOT NULL DEFAULT 'open',
  project_id TEXT,
  message_zh TEXT,
  message_en TEXT,
  source TEXT,
  evidence TEXT NOT NULL DEFAULT '{}',
  UNIQUE (run_id, finding_id)
);
CREATE INDEX findings_run_key ON findings (run_id, key);
CREATE INDEX findings_run_indicator ON findings (run_id, indicator);
"""

_ATTRIBUTE_TABLES_SQL = """
CREATE TABLE runs (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL UNIQUE,
  scope TEXT NOT NULL,
  period TEXT NOT NULL,
  profile TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  software_version TEXT NOT NULL,
  crs TEXT,
  notes TEXT,
  inputs TEXT NOT NULL DEFAULT '{}',
  indicators TEXT NOT NULL DEFAULT '{}',
  findings_count INTEGER NOT NULL DEFAULT 0,
  measurements_count INTEGER NOT NULL DEFAULT 0,
  base_dir TEXT,
  written_at TEXT NOT NULL,
  run TEXT NOT NULL
);
CREATE TABLE measurements (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  indicator TEXT NOT NULL,
  unit_id TEXT NOT NULL,
  level TEXT NOT NULL,
  period TEXT NOT NULL,
  value REAL,
  unit TEXT,
  numerator REAL,
  denominator REAL,
  threshold REAL,
  passed BOOLEAN,
  details TEXT NOT NULL DEFAULT '{}',
  UNIQUE (run_id, indicator, unit_id)
);
CREATE TABLE indicator_specs (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  code TEXT NOT NULL,
  name_zh TEXT,
  name_en TEXT,
  category TEXT,
  level TEXT,
  unit TEXT,
  direction TEXT,
  threshold REAL,
  threshold_source TEXT,
  spec TEXT NOT NULL,
  UNIQUE (run_id, code)
);
"""

_PROJECT_TABLES_SQL = """
CREATE TABLE projects (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  geom POLYGON,
  project_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  run_id TEXT NOT NULL,
  period TEXT NOT NULL,
  unit_id TEXT,
  district_id TEXT,
  category TEXT,
  indicators TEXT NOT NULL DEFAULT '[]',
  measure_zh TEXT,
  measure_en TEXT,
  measures TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'candidate',
  findings_count INTEGER NOT NULL DEFAULT 0,
  buildings_count INTEGER NOT NULL DEFAULT 0,
  area_m2 REAL,
  priority REAL,
  footprint_wkt TEXT,
  lon REAL,
  lat REAL,
  x REAL,
  y REAL,
  owner TEXT,
  notes TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE project_findings (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  finding_id TEXT NOT NULL,
  key TEXT NOT NULL,
  indicator TEXT NOT NULL,
  unit_id TEXT,
  x REAL,
  y REAL,
  status TEXT NOT NULL DEFAULT 'planned',
  resolved_in_run TEXT,
  verified_in_run TEXT,
  UNIQUE (project_id, finding_id)
);
CREATE INDEX project_findings_run ON project_findings (run_id, finding_id);
CREATE TABLE building_actions (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  building_id TEXT NOT NULL,
  action TEXT NOT NULL,
  action_zh TEXT NOT NULL,
  rule TEXT,
  reason_zh TEXT,
  reason_en TEXT,
  facts TEXT NOT NULL DEFAULT '{}',
  UNIQUE (project_id, building_id)
);
CREATE INDEX building_actions_building ON building_actions (building_id);
CREATE TABLE project_evaluations (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  evaluated_at TEXT NOT NULL,
  findings_total INTEGER NOT NULL,
  resolved INTEGER NOT NULL,
  verified INTEGER NOT NULL,
  persisting INTEGER NOT NULL,
  reappeared INTEGER NOT NULL,
  effect TEXT NOT NULL DEFAULT '{}',
  UNIQUE (project_id, run_id)
);
"""

_DESCRIPTIONS = {
    "findings": "problem points of every check run (问题点位)",
    "runs": "check runs (体检批次)",
    "measurements": "indicator values per spatial unit and run (指标测度)",
    "indicator_specs": "indicator definitions and thresholds as used by each run",
    "projects": "renewal projects generated from findings (项目库)",
    "project_findings": "findings handled by each project and their status",
    "building_actions": "retain / renovate / demolish per building (留改拆)",
    "project_evaluations": "effect of each project in a later run (项目评估)",
    "run_buildings": "buildings of each run: id, height, footprint (WKB, scene CRS), 留改拆 facts",
}

_RUN_BUILDINGS_SQL = """
CREATE TABLE run_buildings (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  building_id TEXT NOT NULL,
  height_m REAL,
  footprint BLOB,
  facts TEXT NOT NULL,
  UNIQUE (run_id, building_id)
);
"""


def _migrate_1(conn: sqlite3.Connection) -> None:
    gpkg.create_core_tables(conn)
    gpkg.add_srs(conn, 4490)
    gpkg.execute_script(conn, _FINDINGS_SQL + _ATTRIBUTE_TABLES_SQL)
    gpkg.register_table(
        conn, "findings", data_type="features", description=_DESCRIPTIONS["findings"],
        geometry_column="geom", geometry_type="POINT", srs_id=FINDINGS_SRS,
    )  # fmt: skip
    gpkg.create_rtree(conn, "findings", "geom")
    for table in ("runs", "measurements", "indicator_specs"):
        gpkg.register_table(conn, table, data_type="attributes", description=_DESCRIPTIONS[table])


def _migrate_2(conn: sqlite3.Connection) -> None:
    gpkg.execute_script(conn, _PROJECT_TABLES_SQL)
    gpkg.register_table(
        conn, "projects", data_type="features", description=_DESCRIPTIONS["projects"],
        geometry_column="geom", geometry_type="POLYGON", srs_id=FINDINGS_SRS,
    )  # fmt: skip
    gpkg.create_rtree(conn, "projects", "geom")
    for table in ("project_findings", "building_actions", "project_evaluations"):
        gpkg.register_table(conn, table, data_type="attributes", description=_DESCRIPTIONS[table])


def _migrate_3(conn: sqlite3.Connection) -> None:
    gpkg.execute_script(conn, _RUN_BUILDINGS_SQL)
    gpkg.register_table(conn, "run_buildings", data_type="attributes", description=_DESCRIPTIONS["run_buildings"])


#: Schema migrations: version -> (description, function). Each runs in its own transaction.
MIGRATIONS: dict[int, tuple[str, Callable[[sqlite3.Connection], None]]] = {
    1: ("runs, findings (point layer with rtree), measurements, indicator specs", _migrate_1),
    2: ("projects (polygon layer), project findings, building actions, evaluations", _migrate_2),
    3: ("buildings of each run (footprints and 留改拆 facts, so the model need not be read again)", _migrate_3),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _json(value: Any) -> str:
    return dumps(value).decode()


class Catalog:
    """An open catalog file. Use :meth:`open`; close with :meth:`close` or a ``with`` block."""

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool = False) -> None:
        self.path = path
        self.conn = conn
        self.readonly = readonly

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | PathLike[str], *, create: bool = True, readonly: bool = False,
             timeout_s: float = 30.0) -> Catalog:  # fmt: skip
        """Open (and create or migrate) a catalog.

        Parameters
        ----------
        path:
            The ``.gpkg`` file.
        create:
            Create the file when it does not exist (else raise :class:`CatalogError`).
        readonly:
            Open for reading only (no migration; fails on a catalog that needs one).
        timeout_s:
            How long to wait for another writer before giving up.

        Raises
        ------
        CatalogError
            The file is not a SQLite database, is a GeoPackage or database of something else, or
            was written by a newer cim-twin.
        """
        path = Path(path)
        if not path.exists() and (readonly or not create):
            raise CatalogError(
                "catalog not found", path=path,
                hint="run `cim-twin check` first, or give the catalog with --catalog PATH",
            )  # fmt: skip
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            uri = f"file:{path.resolve().as_posix()}?mode=ro" if readonly else fspath(path)
            conn = sqlite3.connect(uri, uri=readonly, timeout=timeout_s, isolation_level=None,
                                   check_same_thread=False)  # fmt: skip
            conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")  # 64 MB: index upkeep of 100k-finding runs
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open the catalog: {exc}", path=path) from exc
        gpkg.register_sql_functions(conn)
        catalog = cls(path, conn, readonly=readonly)
        try:
            catalog._check_and_migrate()
        except Exception:
            conn.close()
            raise
        return catalog

    def _check_and_migrate(self) -> None:
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"not a SQLite database ({exc})", path=self.path,
                               hint="give the path of a cim-twin catalog (.gpkg)") from exc  # fmt: skip
        if tables and "cim_twin_meta" not in tables:
            raise CatalogError(
                "this database is not a cim-twin catalog", path=self.path,
                hint="choose another file name for the catalog in twin.toml ([project] catalog)",
            )  # fmt: skip
        version = self.schema_version if tables else 0
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"the catalog has schema version {version}, newer than this cim-twin knows ({SCHEMA_VERSION})",
                path=self.path, hint="upgrade cim-twin",
            )  # fmt: skip
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise CatalogError(f"the catalog needs a migration from schema {version}", path=self.path,
                               hint="open it once for writing (any cim-twin command that writes)")  # fmt: skip
        for target in range(version + 1, SCHEMA_VERSION + 1):
            description, migrate = MIGRATIONS[target]
            with self.transaction():
                # Another process may have migrated while we waited for the write lock.
                if target <= self.schema_version:
                    continue
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS cim_twin_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS cim_twin_migrations "
                    "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                migrate(self.conn)
                self.conn.execute("INSERT OR REPLACE INTO cim_twin_meta VALUES ('schema_version', ?)", (str(target),))
                self.conn.execute("INSERT INTO cim_twin_migrations VALUES (?, ?, ?)", (target, description, _now()))
        # GDAL checks the GeoPackage header bytes in the main file, not through SQLite: move page 1
        # out of the write-ahead log now.
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def schema_version(self) -> int:
        """The schema version stored in the file (0 for an empty file)."""
        try:
            row = self.conn.execute("SELECT value FROM cim_twin_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception (or interrupt)."""
        if self.readonly:
            raise CatalogError("the catalog is open read-only", path=self.path)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise CatalogError(f"the catalog is busy: {exc}", path=self.path,
                               hint="another cim-twin process is writing; try again") from exc  # fmt: skip
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # --- writing runs ----------------------------------------------------------------------------
    def write_run(
        self,
        run: CheckRun,
        findings: Sequence[ProblemPoint],
        measurements: Sequence[Measurement],
        *,
        specs: Iterable[IndicatorSpec] | None = None,
        replace: bool = False,
        base_dir: str | PathLike[str] | None = None,
        buildings: Sequence[tuple[str, float | None, bytes | None, str]] | None = None,
        _after_findings: Callable[[], None] | None = None,
    ) -> RunSummary:
        """Store one run with its findings and measurements in a single transaction.

        Parameters
        ----------
        run, findings, measurements:
            What the check produced.
        specs:
            The indicator specs used (names, category, direction, thresholds); taken from the
            plugin host for the run's indicators when not given.
        replace:
            Replace a run with the same id (else that is an error).
        base_dir:
            Folder the run's input paths are relative to (to find its scene again later).
        buildings:
            The run's buildings as :func:`cim_twin.catalog.buildings.building_rows` gives them
            (project generation and the map update then need not read the model again).

        Raises
        ------
        CatalogError
            The run id is already stored (and ``replace`` is false), or the catalog is busy.
        """
        if specs is None:
            specs = _specs_from_host(run)
        spec_list = list(specs)
        categories = {s.code: s.category for s in spec_list}
        finding_rows = self._finding_rows(run, findings, categories)
        measurement_rows = [
            (run.id, m.indicator, m.unit_id, m.level, m.period, m.value, m.unit, m.numerator,
             m.denominator, m.threshold, None if m.passed is None else int(m.passed), _json(m.details))
            for m in measurements
        ]  # fmt: skip
        spec_rows = [
            (run.id, s.code, s.name_zh, s.name_en, s.category, s.level, s.unit, s.direction.value,
             *(_default_threshold(s)), _json(s.model_dump(mode="json")))
            for s in spec_list
        ]  # fmt: skip
        written_at = _now()
        try:
            self._write_rows(run, finding_rows, measurement_rows, spec_rows, replace, base_dir, written_at,
                             _after_findings, buildings or ())  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise CatalogError(f"run {run.id!r} was not stored: {exc}", path=self.path,
                               hint="findings need distinct ids, measurements distinct indicator + unit") from exc
        except sqlite3.OperationalError as exc:
            raise CatalogError(f"run {run.id!r} was not stored: {exc}", path=self.path,
                               hint="check free disk space and that the file is writable; nothing was written") from exc
        return self.run_summary(run.id)

    def _write_rows(self, run: CheckRun, finding_rows: list[tuple[Any, ...]], measurement_rows: list[tuple[Any, ...]],
                    spec_rows: list[tuple[Any, ...]], replace: bool, base_dir: str | PathLike[str] | None,
                    written_at: str, after_findings: Callable[[], None] | None,
                    buildings: Sequence[tuple[str, float | None, bytes | None, str]] = ()) -> None:  # fmt: skip
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.id,)).fetchone():
                if not replace:
                    raise CatalogError(f"run {run.id!r} is already in the catalog", path=self.path,
                                       hint="use a new run id, or replace it (--replace)")  # fmt: skip
                self._delete_run(run.id)
            conn.execute(
                "INSERT INTO runs (run_id, scope, period, profile, status, started_at, finished_at, "
                "software_version, crs, notes, inputs, indicators, findings_count, measurements_count, "
                "base_dir, written_at, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.id, run.scope, run.period, run.profile, run.status, _iso(run.started_at),
                 _iso(run.finished_at), run.software_version, run.crs, run.notes, _json(run.inputs),
                 _json({k: v.model_dump(mode="json") for k, v in run.indicators.items()}),
                 len(finding_rows), len(measurement_rows),
                 None if base_dir is None else Path(base_dir).resolve().as_posix(), written_at,
                 run.model_dump_json()),
            )  # fmt: skip
            self._register_crs(run.crs)
            self._insert_findings(finding_rows)
            if after_findings is not None:
                after_findings()
            conn.executemany(
                "INSERT INTO measurements (run_id, indicator, unit_id, level, period, value, unit, numerator, "
                "denominator, threshold, passed, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                measurement_rows,
            )
            conn.executemany(
                "INSERT INTO indicator_specs (run_id, code, name_zh, name_en, category, level, unit, direction, "
                "threshold, threshold_source, spec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                spec_rows,
            )
            if buildings:
                conn.executemany(
                    "INSERT INTO run_buildings (run_id, building_id, height_m, footprint, facts) VALUES (?, ?, ?, ?, ?)",
                    [(run.id, *row) for row in buildings],
                )
            gpkg.touch(conn, ("runs", "measurements", "indicator_specs", "run_buildings"))

    def _finding_rows(self, run: CheckRun, findings: Sequence[ProblemPoint],
                      categories: Mapping[str, str]) -> list[tuple[Any, ...]]:  # fmt: skip
        n = len(findings)
        if not n:
            return []
        x = np.fromiter((f.x for f in findings), np.float64, n)
        y = np.fromiter((f.y for f in findings), np.float64, n)
        lon = np.fromiter((np.nan if f.lon is None else f.lon for f in findings), np.float64, n)
        lat = np.fromiter((np.nan if f.lat is None else f.lat for f in findings), np.float64, n)
        missing = np.isnan(lon) | np.isnan(lat)
        if missing.any() and run.crs:
            lon, lat = lon.copy(), lat.copy()
            try:
                from ..crs import parse_srs_name

                mx, my = x[missing], y[missing]
                # pyproj takes a one-element array for a scalar (and warns): give it two.
                pad = len(mx) == 1
                tlon, tlat, _ = parse_srs_name(run.crs).to_wgs84(np.repeat(mx, 2) if pad else mx,
                                                                 np.repeat(my, 2) if pad else my)
                lon[missing], lat[missing] = (tlon[:1], tlat[:1]) if pad else (tlon, tlat)
            except CimTwinError:
                pass  # a local CRS: the finding keeps its scene coordinates and no map geometry
        blobs = gpkg.point_blobs(lon, lat, FINDINGS_SRS)
        rank = {s: i for i, s in enumerate(Severity)}
        lon_list = [None if v != v else v for v in lon.tolist()]
        lat_list = [None if v != v else v for v in lat.tolist()]
        # A run's findings share a handful of timestamps: format each once.
        iso_cache: dict[datetime | None, str | None] = {None: None}

        def iso(value: datetime | None) -> str | None:
            text = iso_cache.get(value)
            if text is None and value is not None:
                text = iso_cache[value] = value.isoformat()
            return text

        return [
            (blobs[k], run.id, f.id, f.key, f.indicator, categories.get(f.indicator), f.severity.value,
             rank[f.severity], f.score, f.value, f.threshold, f.unit, f.x, f.y, f.z, lon_list[k], lat_list[k],
             f.height, _json(f.object_ids) if f.object_ids else "[]", f.unit_id, f.period, iso(f.observed_at),
             iso(f.valid_from), iso(f.valid_to), f.status.value, f.message_zh, f.message_en, f.source,
             _json(f.evidence) if f.evidence else "{}")
            for k, f in enumerate(findings)
        ]  # fmt: skip

    def _register_crs(self, crs: str | None) -> None:
        """Add the run's scene CRS (horizontal part) to ``gpkg_spatial_ref_sys``."""
        if not crs:
            return
        try:
            from ..crs import parse_srs_name

            epsg = parse_srs_name(crs).horizontal_epsg
        except CimTwinError:
            return
        if epsg:
            gpkg.add_srs(self.conn, epsg)

    def _insert_findings(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self.conn
        if not rows:
            return
        # Bulk load as the GeoPackage rtree extension suggests: drop the insert trigger, insert,
        # fill the index in one statement, put the trigger back (all inside this transaction).
        triggers = gpkg.rtree_trigger_sql("findings", "geom")
        conn.execute('DROP TRIGGER IF EXISTS "rtree_findings_geom_insert"')
        first = conn.execute("SELECT coalesce(max(fid), 0) FROM findings").fetchone()[0]
        conn.executemany(
            "INSERT INTO findings (geom, run_id, finding_id, key, indicator, category, severity, severity_rank, "
            "score, value, threshold, unit, x, y, z, lon, lat, height, object_ids, unit_id, period, observed_at, "
            "valid_from, valid_to, status, message_zh, message_en, source, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            'INSERT OR REPLACE INTO "rtree_findings_geom" SELECT fid, lon, lon, lat, lat FROM findings '
            "WHERE fid > ? AND geom IS NOT NULL",
            (first,),
        )
        conn.execute(triggers["insert"])
        bounds = conn.execute(
            "SELECT min(lon), min(lat), max(lon), max(lat) FROM findings WHERE fid > ? AND geom IS NOT NULL",
            (first,),
        ).fetchone()
        if bounds[0] is not None:
            gpkg.update_extent(conn, "findings", bounds)

    def _delete_run(self, run_id: str) -> None:
        conn = self.conn
        for table in ("findings", "measurements", "indicator_specs", "run_buildings", "runs"):
            conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))

    def delete_run(self, run_id: str) -> None:
        """Remove a run and everything recorded for it (projects generated from it stay)."""
        run_id = self.resolve_run(run_id)
        with self.transaction():
            self._delete_run(run_id)

    # --- reading runs ----------------------------------------------------------------------------
    def runs(self, scope: str | None = None) -> list[RunSummary]:
        """Every run, oldest period first (then by start time)."""
        sql = (
            "SELECT run_id, scope, period, profile, status, started_at, finished_at, software_version, crs, "
            "findings_count, measurements_count, written_at, base_dir FROM runs"
        )
        params: tuple[Any, ...] = ()
        if scope is not None:
            sql += " WHERE scope = ?"
            params = (scope,)
        rows = self.conn.execute(sql + " ORDER BY period, started_at, fid", params).fetchall()
        return [RunSummary(*row) for row in rows]

    def run_summary(self, run_id: str) -> RunSummary:
        for r in self.runs():
            if r.id == run_id:
                return r
        raise self._unknown_run(run_id)

    def _unknown_run(self, ref: str) -> CatalogError:
        known = [r.id for r in self.runs()]
        shown = ", ".join(known[-5:]) if known else "none yet"
        return CatalogError(f"no run {ref!r} in the catalog", path=self.path,
                            hint=f"known runs: {shown} (see `cim-twin runs`)")  # fmt: skip

    def resolve_run(self, ref: str) -> str:
        """The run id meant by ``ref``: an exact id, ``latest`` / ``previous``, a period label
        (the latest run of that period, e.g. ``2024``) or a unique id prefix.

        Raises
        ------
        CatalogError
            Nothing or more than one run matches.
        """
        runs = self.runs()
        ids = [r.id for r in runs]
        if ref in ids:
            return ref
        by_time = sorted(runs, key=lambda r: (r.period, r.started_at))
        if ref in ("latest", "last") and by_time:
            return by_time[-1].id
        if ref in ("previous", "prev") and len(by_time) > 1:
            return by_time[-2].id
        of_period = [r for r in by_time if r.period == ref]
        if of_period:
            return of_period[-1].id
        prefixed = [i for i in ids if i.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise CatalogError(f"run {ref!r} is ambiguous: {', '.join(prefixed[:5])}", path=self.path,
                               hint="give more of the id")  # fmt: skip
        raise self._unknown_run(ref)

    def get_run(self, run_id: str) -> CheckRun:
        """The stored :class:`CheckRun` (``run_id`` as in :meth:`resolve_run`)."""
        run_id = self.resolve_run(run_id)
        row = self.conn.execute("SELECT run FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return CheckRun.model_validate_json(row[0])

    def run_buildings(self, run_id: str) -> list[tuple[str, float | None, bytes | None, str]]:
        """The buildings stored with a run (empty for a run stored without them)."""
        run_id = self.resolve_run(run_id)
        return self.conn.execute(
            "SELECT building_id, height_m, footprint, facts FROM run_buildings WHERE run_id = ? ORDER BY fid", (run_id,)
        ).fetchall()

    def findings(self, run_id: str) -> list[ProblemPoint]:
        """The findings of a run as models (status as stored now), in insertion order."""
        run_id = self.resolve_run(run_id)
        rows = self.conn.execute(
            "SELECT finding_id, key, indicator, severity, score, value, threshold, unit, x, y, z, lon, lat, "
            "height, object_ids, unit_id, period, observed_at, valid_from, valid_to, status, message_zh, "
            "message_en, source, evidence FROM findings WHERE run_id = ? ORDER BY fid",
            (run_id,),
        ).fetchall()
        names = ("id", "key", "indicator", "severity", "score", "value", "threshold", "unit", "x", "y", "z",
                 "lon", "lat", "height", "object_ids", "unit_id", "period", "observed_at", "valid_from",
                 "valid_to", "status", "message_zh", "message_en", "source", "evidence")  # fmt: skip
        out = []
        for row in rows:
            data = dict(zip(names, row, strict=True))
            data["object_ids"] = tuple(loads(data["object_ids"]))
            data["evidence"] = loads(data["evidence"])
            out.append(ProblemPoint.model_validate(data))
        return out

    def finding_arrays(self, run_id: str, *, extra: Sequence[str] = (), light: bool = False) -> FindingArrays:
        """The findings of a run as numpy columns (fast path for diffs and projects).

        ``light`` leaves out what a diff does not need (lon, lat, status, object ids, project):
        those columns are then NaN / None.
        """
        run_id = self.resolve_run(run_id)
        extra = [c for c in extra if c.isidentifier()]
        skipped = ("lon", "lat", "status", "object_ids", "project_id") if light else ()
        cols = [c for c in ("fid", "finding_id", "key", "indicator", "severity_rank", "score", "value", "threshold",
                            "x", "y", "lon", "lat", "unit_id", "status", "object_ids", "project_id")
                if c not in skipped] + extra  # fmt: skip
        rows = self.conn.execute(
            f"SELECT {', '.join(cols)} FROM findings WHERE run_id = ? ORDER BY fid", (run_id,)
        ).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(cols)
        n = len(rows)

        def num(values: Sequence[Any]) -> np.ndarray:
            return np.array(values, dtype=np.float64)  # None becomes NaN

        def obj(values: Sequence[Any]) -> np.ndarray:
            arr = np.empty(len(values), dtype=object)
            arr[:] = list(values)
            return arr

        kinds = {"fid": np.int64, "severity_rank": np.int8}
        floats = {"score", "value", "threshold", "x", "y", "lon", "lat"}
        values: dict[str, np.ndarray] = {}
        for name, col in zip(cols, columns, strict=True):
            if name in kinds:
                values[name] = np.array(col, dtype=kinds[name])
            elif name in floats:
                values[name] = num(col)
            else:
                values[name] = obj(col)
        values["id"] = values.pop("finding_id")
        for name in skipped:
            values[name] = np.full(n, np.nan) if name in floats else np.full(n, None, dtype=object)
        more = {name: values.pop(name) for name in extra}
        return FindingArrays(**values, extra=more)

    def measurements(self, run_id: str) -> list[Measurement]:
        """The measurements of a run."""
        run_id = self.resolve_run(run_id)
        rows = self.conn.execute(
            "SELECT indicator, unit_id, level, period, value, unit, numerator, denominator, threshold, passed, "
            "details FROM measurements WHERE run_id = ? ORDER BY fid",
            (run_id,),
        ).fetchall()
        return [
            Measurement(indicator=r[0], unit_id=r[1], level=r[2], period=r[3], value=r[4], unit=r[5] or "",
                        numerator=r[6], denominator=r[7], threshold=r[8],
                        passed=None if r[9] is None else bool(r[9]), details=loads(r[10]))
            for r in rows
        ]  # fmt: skip

    def specs(self, run_id: str | None = None) -> dict[str, IndicatorSpec]:
        """Indicator specs stored with a run (or the latest stored spec of every code)."""
        if run_id is not None:
            rows = self.conn.execute(
                "SELECT code, spec FROM indicator_specs WHERE run_id = ? ORDER BY fid", (self.resolve_run(run_id),)
            ).fetchall()
        else:
            rows = self.conn.execute("SELECT code, spec FROM indicator_specs ORDER BY fid").fetchall()
        out: dict[str, IndicatorSpec] = {}
        for code, spec in rows:
            try:
                out[code] = IndicatorSpec.model_validate(loads(spec))
            except ValueError:
                continue
        return out

    def set_finding_status(self, run_id: str, finding_ids: Iterable[str], status: Status | str,
                           project_id: str | None = None) -> int:  # fmt: skip
        """Set the lifecycle status (and project) of findings; returns how many changed."""
        status = Status(status).value
        ids = list(finding_ids)
        with self.transaction() as conn:
            before = conn.total_changes
            if project_id is None:
                conn.executemany("UPDATE findings SET status = ? WHERE run_id = ? AND finding_id = ?",
                                 [(status, run_id, i) for i in ids])  # fmt: skip
            else:
                conn.executemany(
                    "UPDATE findings SET status = ?, project_id = ? WHERE run_id = ? AND finding_id = ?",
                    [(status, project_id, run_id, i) for i in ids],
                )
            return conn.total_changes - before

    def check_integrity(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks and by a consistency check of
        the runs against their findings (empty when all is well)."""
        problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in self.conn.execute("PRAGMA foreign_key_check")]
        for run_id, expected, actual in self.conn.execute(
            "SELECT r.run_id, r.findings_count, (SELECT count(*) FROM findings f WHERE f.run_id = r.run_id) "
            "FROM runs r"
        ):
            if expected != actual:
                problems.append(f"run {run_id}: {actual} findings stored, {expected} expected")
        orphans = self.conn.execute(
            "SELECT count(*) FROM findings WHERE run_id NOT IN (SELECT run_id FROM runs)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} findings belong to no run")
        indexed = self.conn.execute('SELECT count(*) FROM "rtree_findings_geom"').fetchone()[0]
        with_geom = self.conn.execute("SELECT count(*) FROM findings WHERE geom IS NOT NULL").fetchone()[0]
        if indexed != with_geom:
            problems.append(f"spatial index holds {indexed} entries for {with_geom} findings")
        return problems


def _default_threshold(spec: IndicatorSpec) -> tuple[float | None, str | None]:
    if not spec.thresholds:
        return None, None
    threshold = spec.thresholds.get("default") or next(iter(spec.thresholds.values()))
    value = threshold.value if threshold.value is not None else threshold.low
    return value, threshold.source


def _specs_from_host(run: CheckRun) -> list[IndicatorSpec]:
    """Specs of the run's indicators from the plugin host (empty when plugins cannot load)."""
    if not run.indicators:
        return []
    try:
        from ..indicators.host import get_host

        registered = get_host().indicators
    except Exception:  # the catalog must store a run even when plugin discovery is broken
        return []
    return [registered[code].spec for code in run.indicators if code in registered]
