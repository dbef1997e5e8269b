"""Findings for the viewer: loading a run's problem points, filtering them by year, ordering them
worst first, and their glyphs (one merged mesh, coloured by severity, sized by score).

Pure numpy and pydantic; nothing here imports VTK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import ConfigError, FormatError, LoadWarning
from ..model import IndicatorSpec, ProblemPoint, Severity
from ..serialization import loads
from .colors import SEVERITY_COLORS

__all__ = ["ProblemGlyphs", "ProblemSet", "RunFindings", "find_catalog", "load_findings", "parse_findings"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEVERITIES = list(Severity)


def _seconds(when: datetime) -> float:
    return (when - _EPOCH).total_seconds()


def _year_start_utc_seconds(year: int) -> float:
    return _seconds(datetime(year, 1, 1, tzinfo=UTC))


class ProblemSet:
    """A run's findings as arrays, for filtering and ordering without a Python loop per finding.

    Parameters
    ----------
    findings:
        The problem points (any order).
    """

    def __init__(self, findings: Sequence[ProblemPoint]) -> None:
        self.findings: list[ProblemPoint] = list(findings)
        n = len(self.findings)
        self.positions = np.array([(f.x, f.y, f.z) for f in self.findings], dtype=np.float64).reshape(n, 3)
        self.rank = np.array([f.severity.rank for f in self.findings], dtype=np.int64)
        self.score = np.array([f.score for f in self.findings], dtype=np.float64)
        self.indicator = np.array([f.indicator for f in self.findings], dtype=object)
        self.value = np.array([np.nan if f.value is None else f.value for f in self.findings], dtype=np.float64)
        self.threshold = np.array(
            [np.nan if f.threshold is None else f.threshold for f in self.findings], dtype=np.float64
        )
        self.valid_from = np.array([_seconds(f.valid_from) for f in self.findings], dtype=np.float64)
        self.valid_to = np.array(
            [np.inf if f.valid_to is None else _seconds(f.valid_to) for f in self.findings], dtype=np.float64
        )
        # A "year" is the calendar year where the finding was made: its own UTC offset decides
        # whether 2024-01-01T00:00+08:00 belongs to 2024 (it does, though it is 2023 in UTC).
        self.utc_offset = np.array(
            [(f.valid_from.utcoffset() or timedelta(0)).total_seconds() for f in self.findings], dtype=np.float64
        )

    def __len__(self) -> int:
        return len(self.findings)

    def valid_in_year(self, year: int | None) -> np.ndarray:
        """Boolean mask of the findings whose validity window overlaps calendar year ``year``
        (all of them when ``year`` is None). The window is ``[valid_from, valid_to)``; an open
        ``valid_to`` means "still valid"."""
        if year is None:
            return np.ones(len(self), dtype=bool)
        start = _year_start_utc_seconds(year) - self.utc_offset
        end = _year_start_utc_seconds(year + 1) - self.utc_offset
        return (self.valid_from < end) & (self.valid_to > start)

    def year_range(self) -> tuple[int, int] | None:
        """First and last calendar year any finding is valid in (open windows end at the latest
        start or observation year); None without findings."""
        if not len(self):
            return None
        first = min(f.valid_from.year for f in self.findings)
        ends = [f.observed_at.year for f in self.findings]
        for f in self.findings:
            ends.append(f.valid_from.year)
            if f.valid_to is not None:
                # valid_to is exclusive: a window ending at 2025-01-01T00:00 ends in 2024.
                ends.append(max((f.valid_to - timedelta(microseconds=1)).year, f.valid_from.year))
        return first, max(ends)

    def worst_first(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Indices of the findings (those in ``mask``), worst first: severity, then score, then
        value distance beyond the threshold, then indicator code and id so the order is stable."""
        idx = np.arange(len(self)) if mask is None else np.flatnonzero(mask)
        if not len(idx):
            return idx
        excess = np.abs(self.value[idx] - self.threshold[idx])
        excess = np.where(np.isnan(excess), -np.inf, excess)
        ids = np.array([self.findings[i].id for i in idx], dtype=object)
        codes = self.indicator[idx]
        # lexsort: last key is primary.
        order = np.lexsort((ids, codes, -excess, -self.score[idx], -self.rank[idx]))
        return idx[order]

    def of_indicator(self, code: str) -> np.ndarray:
        """Boolean mask of the findings of one indicator."""
        return self.indicator == code if len(self) else np.zeros(0, dtype=bool)

    @property
    def indicators(self) -> list[str]:
        return sorted(set(self.indicator.tolist()))



def parse_findings(data: Any, path: str | Path | None = None) -> tuple[list[ProblemPoint], list[LoadWarning]]:
    """Problem points from decoded JSON: a list of findings, or an object with ``findings`` (a run
    file). A finding that does not validate becomes a warning; the others are kept.

    Raises
    ------
    FormatError
        when ``data`` holds no findings list at all.
    """
    items = data.get("findings", data.get("problems")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FormatError(
            "no findings list in this JSON",
            path=path,
            hint='expected a list of problem points or an object with a "findings" list',
        )
    found: list[ProblemPoint] = []
    problems: list[LoadWarning] = []
    for i, item in enumerate(items):
        try:
            found.append(item if isinstance(item, ProblemPoint) else ProblemPoint.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            oid = item.get("id") if isinstance(item, dict) else None
            problems.append(
                LoadWarning(f"finding #{i} skipped: {where}: {first.get('msg')}", path=str(path) if path else None,
                            object_id=oid)
            )
    return found, problems


def _read_json(path: Path) -> Any:
    try:
        return loads(path.read_bytes())
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    except ValueError as exc:
        raise FormatError(f"not valid JSON: {exc}", path=path, hint="pass a run folder or its findings JSON") from exc


def find_catalog(source: Path | None = None) -> Path | None:
    """The catalog of the project that ``source`` (a project file or folder) or the current folder
    belongs to (``[project] catalog`` of its ``twin.toml``); None when there is no project file."""
    from ..project import Project, find_project_file

    for candidate in ([source] if source is not None else []) + [Path.cwd()]:
        project_file = find_project_file(candidate)
        if project_file is None:
            continue
        project = Project.load(project_file)
        catalog = project.config.project.catalog
        return project.resolve(catalog) if catalog else None
    return None


@dataclass
class RunFindings:
    """What the viewer shows of a run: its findings, a label for the title, load warnings, and the
    indicator specs stored with it (for names and directions), when known."""

    findings: list[ProblemPoint]
    label: str
    warnings: list[LoadWarning] = field(default_factory=list)
    specs: dict[str, IndicatorSpec] = field(default_factory=dict)


def load_findings(
    run: str | Path,
    *,
    catalog: str | Path | None = None,
    project: str | Path | None = None,
) -> RunFindings:
    """Findings of a run for display.

    Parameters
    ----------
    run:
        A run folder (holding ``findings.json``, or ``run.json`` naming its ``findings_file``), a
        findings or run JSON file, or a run in the catalog: its id, ``latest``, ``previous``, a
        period label such as ``2024`` or a unique id prefix.
    catalog:
        The catalog file (GeoPackage); default: the one of ``project`` or of ``./twin.toml``.
    project:
        Project file or folder whose catalog to use.

    Raises
    ------
    FormatError
        for a file that holds no findings.
    ConfigError
        when ``run`` is neither a path nor a run in a catalog that can be found.
    """
    path = Path(run)
    if path.exists():
        if path.is_dir():
            for name in ("findings.json", "run.json"):
                if (path / name).is_file():
                    return load_findings(path / name)
            raise FormatError("run folder holds no findings.json or run.json", path=path,
                              hint="pass the folder `cim-twin check` wrote, or its findings file")
        data = _read_json(path)
        label = path.parent.name if path.name in ("findings.json", "run.json") else path.stem
        if isinstance(data, dict):
            label = str(data.get("run_id") or data.get("id") or label)
        if isinstance(data, dict) and "findings" not in data and isinstance(data.get("findings_file"), str):
            target = (path.parent / data["findings_file"]).resolve()
            if not target.is_relative_to(path.parent.resolve()):
                raise FormatError("findings_file points outside the run folder", path=path)
            findings, problems = parse_findings(_read_json(target), target)
            return RunFindings(findings, label, problems)
        findings, problems = parse_findings(data, path)
        return RunFindings(findings, label, problems)
    return _load_from_catalog(str(run), catalog, project)


def _load_from_catalog(run_ref: str, catalog: str | Path | None, project: str | Path | None) -> RunFindings:
    catalog_path = Path(catalog) if catalog is not None else find_catalog(Path(project) if project else None)
    if catalog_path is None or not catalog_path.exists():
        raise ConfigError(
            f"run {run_ref!r} is not a file or folder, and no catalog was found to look it up in",
            path=catalog_path,
            hint="pass a run folder or findings.json, or --catalog PATH, or run in a project folder",
        )
    try:
        from ..catalog.store import Catalog
    except ImportError as exc:
        raise ConfigError("this installation has no run catalog", path=catalog_path,
                          hint="pass the run folder or findings.json instead") from exc
    cat = Catalog.open(catalog_path, create=False, readonly=True)
    try:
        run_id = cat.resolve_run(run_ref)
        findings = cat.findings(run_id)
        specs = cat.specs(run_id)
    finally:
        cat.close()
    return RunFindings(findings, run_id, [], specs)


# --- glyphs ---------------------------------------------------------------------------------------

#: Unit octahedron: 6 vertices, 8 triangles. Cheap enough for 100k findings (800k triangles).
_OCTA_VERTICES = np.array(
    [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64
)
_OCTA_FACES = np.array(
    [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]], dtype=np.int64
)


class ProblemGlyphs:
    """Merged glyph geometry of some findings: an octahedron per finding, standing on its point,
    its radius growing with the score, coloured by severity.

    Parameters
    ----------
    problems:
        The problem set.
    indices:
        Which findings (rows of ``problems``) to draw.
    origin:
        Display origin subtracted from positions.
    base_radius:
        Radius (m) of a finding of score 0.5; a score of 1 draws 1.5 times that, 0 half of it.
    """

    def __init__(self, problems: ProblemSet, indices: np.ndarray, origin: np.ndarray, base_radius: float) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        k = len(self.indices)
        self.radius = base_radius * (0.5 + problems.score[self.indices]) if k else np.zeros(0)
        centres = problems.positions[self.indices] - origin
        centres[:, 2] += self.radius  # sit on the roof instead of sinking into it
        self.centres = centres
        verts = centres[:, None, :] + self.radius[:, None, None] * _OCTA_VERTICES[None, :, :]
        self.points = verts.reshape(-1, 3).astype(np.float32)
        faces = _OCTA_FACES[None, :, :] + (np.arange(k) * len(_OCTA_VERTICES))[:, None, None]
        self.faces = faces.reshape(-1, 3).astype(np.int32)
        n_faces = len(_OCTA_FACES)
        self.finding_index = np.repeat(self.indices, n_faces).astype(np.int32)
        table = np.array([SEVERITY_COLORS[s] for s in _SEVERITIES], dtype=np.uint8)
        self.rgb = np.repeat(table[problems.rank[self.indices]], n_faces, axis=0)

    def __len__(self) -> int:
        return len(self.indices)

    def finding_of_cell(self, cell_id: int) -> int | None:
        """Row in the problem set of a picked glyph triangle."""
        if 0 <= cell_id < len(self.finding_index):
            return int(self.finding_index[cell_id])
        return None

    def to_polydata(self) -> Any:
        import pyvista as pv

        poly = pv.PolyData.from_regular_faces(self.points, self.faces)  # type: ignore[arg-type]
        poly.cell_data["finding_index"] = self.finding_index
        poly.cell_data["severity_rgb"] = self.rgb
        return poly
