"""The check run an export shows: findings, measurements and building actions.

A run comes from the catalog (``cim_twin.catalog``) by id, or from a run folder written by the runner
(``findings.json`` holding a list of problem points, or an object with ``findings`` and optionally
``run``, ``measurements`` and ``actions``). The export works without any run too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, FormatError
from ..model import CheckRun, Measurement, ProblemPoint
from ..serialization import loads
from .features import BuildingRunInfo

__all__ = ["RunData", "findings_by_object", "latest_actions", "load_run", "run_info_for"]


@dataclass
class RunData:
    """Everything of a run the export needs. Close it (or use it as a context manager) when the
    export is written: a run from the catalog keeps the catalog open for the list writers."""

    run_id: str
    findings: list[ProblemPoint]
    measurements: list[Measurement] = field(default_factory=list)
    run: CheckRun | None = None
    #: building id -> (action, reason, project id) from the catalog's 留改拆 rules
    actions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    catalog: Any = None

    @property
    def indicator_codes(self) -> list[str]:
        """The indicators the run has findings of, sorted."""
        return sorted({f.indicator for f in self.findings})

    def close(self) -> None:
        """Close the catalog the run came from (if any)."""
        if self.catalog is not None:
            self.catalog.close()
            self.catalog = None

    def __enter__(self) -> RunData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_findings(items: list[Any], path: Path) -> list[ProblemPoint]:
    out = []
    for i, item in enumerate(items):
        try:
            out.append(item if isinstance(item, ProblemPoint) else ProblemPoint.model_validate(item))
        except Exception as exc:  # pydantic ValidationError
            raise FormatError(f"finding {i} is not a valid problem point: {exc}".splitlines()[0], path=path,
                              hint="the file must hold what `cim-twin check` wrote") from exc
    return out


def _load_folder(path: Path) -> RunData:
    findings_file = path / "findings.json" if path.is_dir() else path
    if not findings_file.is_file():
        raise ConfigError("no findings.json in the run folder", path=path,
                          hint="give a run id from the catalog or the folder `cim-twin check` wrote")
    try:
        data = loads(findings_file.read_bytes())
    except Exception as exc:
        raise FormatError(f"not JSON: {exc}", path=findings_file) from exc
    run = None
    measurements: list[Measurement] = []
    actions: dict[str, tuple[str, str, str]] = {}
    if isinstance(data, dict):
        items = data.get("findings", [])
        if isinstance(data.get("run"), dict):
            run = CheckRun.model_validate(data["run"])
        measurements = [Measurement.model_validate(m) for m in data.get("measurements", [])]
        for a in data.get("actions", []):
            actions[str(a["building_id"])] = (str(a["action"]), str(a.get("reason", "")), str(a.get("project_id", "")))
    elif isinstance(data, list):
        items = data
    else:
        raise FormatError("expected a list of findings or an object with 'findings'", path=findings_file)
    run_file = findings_file.parent / "run.json"
    if run is None and run_file.is_file():
        raw = loads(run_file.read_bytes())
        if isinstance(raw, dict) and "id" in raw:
            run = CheckRun.model_validate({k: v for k, v in raw.items() if k in CheckRun.model_fields})
    measurements_file = findings_file.parent / "measurements.json"
    if not measurements and measurements_file.is_file():
        measurements = [Measurement.model_validate(m) for m in loads(measurements_file.read_bytes())]
    findings = _parse_findings(items, findings_file)
    run_id = run.id if run is not None else path.name
    return RunData(run_id, findings, measurements, run, actions)


def load_run(spec: str, *, catalog_path: Path | None = None) -> RunData:
    """A run by catalog id, or from a run folder / findings.json path.

    Raises
    ------
    ConfigError
        when the run is neither a folder nor in the catalog.
    """
    path = Path(spec)
    if path.exists():
        return _load_folder(path)
    if catalog_path is not None and catalog_path.exists():
        return _load_catalog(spec, catalog_path)
    raise ConfigError(f"run {spec!r} not found", hint="give a run folder with findings.json or a run id of the catalog")


def _load_catalog(spec: str, catalog_path: Path) -> RunData:
    """A run from the catalog (opened read-only): findings, measurements, the run itself and the
    留改拆 actions (see :func:`latest_actions`)."""
    from ..catalog import Catalog
    from ..catalog.store import CatalogError

    try:
        cat = Catalog.open(catalog_path, create=False, readonly=True)
    except CatalogError as exc:
        if "migration" not in exc.message:
            raise
        # a catalog of an older cim-twin: migrate it once, as any command that writes would
        Catalog.open(catalog_path, create=False).close()
        cat = Catalog.open(catalog_path, create=False, readonly=True)
    try:
        run_id = cat.resolve_run(spec)
        findings = list(cat.findings(run_id))
        measurements = list(cat.measurements(run_id))
        run = cat.get_run(run_id)
        actions = latest_actions(cat, run_id)
    except BaseException:
        cat.close()
        raise
    return RunData(run_id, findings, measurements, run, actions, cat)


def latest_actions(catalog: Any, run_id: str) -> dict[str, tuple[str, str, str]]:
    """Building id -> (action, reason, project id): for every building, the action of the latest
    project that names it, among the projects generated from the exported run or from any run
    before it (runs in the catalog's order: period, then start time; cancelled projects do not
    count). Exporting 2024 thus shows the 留改拆 decided on the 2023 run unless a 2024 project
    decided again, and never an action decided on a later run."""
    try:
        from ..catalog.projects import list_projects
    except ImportError:  # a catalog without the project library
        return {}
    order = {r.id: i for i, r in enumerate(catalog.runs())}
    limit = order.get(run_id, len(order))
    projects = [p for p in list_projects(catalog)
                if p.status != "cancelled" and order.get(p.run_id, limit + 1) <= limit]
    actions: dict[str, tuple[str, str, str]] = {}
    for project in sorted(projects, key=lambda p: (order[p.run_id], p.id)):
        for act in project.actions:
            actions[str(act.building_id)] = (str(act.action), str(act.reason_zh or act.reason_en or ""), project.id)
    return actions


def findings_by_object(run: RunData) -> dict[str, list[int]]:
    """Object id -> indices of the run's findings that name it (in findings order)."""
    index: dict[str, list[int]] = {}
    for i, f in enumerate(run.findings):
        for oid in f.object_ids:
            index.setdefault(oid, []).append(i)
    return index


def run_info_for(obj: Any, run: RunData, index: dict[str, list[int]]) -> BuildingRunInfo | None:
    """Problem count, worst severity, indicator values and action of one building (its parts'
    findings included), or None when the run says nothing about it."""
    hits = sorted(i for node in obj.walk() for i in index.get(node.id, ()))
    action = None
    for node in obj.walk():
        if node.id in run.actions:
            action = run.actions[node.id]
            break
    if not hits and action is None:
        return None
    info = BuildingRunInfo()
    best: dict[str, float] = {}
    for i in hits:
        f = run.findings[i]
        info.problem_count += 1
        rank = f.severity.rank
        if rank > info.severity_rank:
            info.severity_rank, info.worst_severity = rank, f.severity.value
        if f.value is not None and f.score >= best.get(f.indicator, -1.0):
            best[f.indicator] = f.score
            info.indicators[f.indicator] = float(f.value)
    if action is not None:
        info.action, info.action_reason, info.action_project = action
    return info
