"""Finding the catalog of a command: ``--catalog PATH``, else the project file given with
``--project PATH``, else ``twin.toml`` in the current folder (its ``[project] catalog``, default
``catalog.gpkg`` beside it). Also finds a run's scene again for the map update and 留改拆.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CimTwinError, ConfigError
from .units import UnitDirectory

if TYPE_CHECKING:
    from .store import Catalog

__all__ = ["CatalogContext", "add_catalog_options", "load_run_scene", "locate", "open_catalog"]

PROJECT_FILE_NAME = "twin.toml"
_MODEL_SUFFIXES = (".gml", ".xml", ".gz", ".citygml")


@dataclass
class CatalogContext:
    """Where the catalog is and the project settings the catalog commands read."""

    catalog_path: Path
    project_path: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path | None:
        return None if self.project_path is None else self.project_path.parent

    def units(self) -> UnitDirectory:
        return UnitDirectory.from_project(self.settings, self.base_dir)

    def section(self, name: str) -> dict[str, Any]:
        value = self.settings.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def output_dir(self) -> Path:
        out = self.section("project").get("output", "export")
        base = self.base_dir or Path.cwd()
        return (base / str(out)).resolve()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"cannot read the project file: {exc.strerror or exc}", path=path) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a valid TOML file: {exc}", path=path) from exc


def locate(project: str | Path | None = None, catalog: str | Path | None = None, cwd: Path | None = None) -> CatalogContext:
    """Find the catalog (see the module docstring).

    Raises
    ------
    ConfigError
        No catalog given and no project file found, or the project file names none.
    """
    cwd = cwd or Path.cwd()
    project_path: Path | None = None
    if project is not None:
        p = Path(project)
        project_path = p / PROJECT_FILE_NAME if p.is_dir() else p
        if not project_path.is_file():
            raise ConfigError("project file not found", path=project_path,
                              hint="give the twin.toml (or its folder) with --project")  # fmt: skip
    elif (cwd / PROJECT_FILE_NAME).is_file():
        project_path = cwd / PROJECT_FILE_NAME
    if catalog is not None:
        # With --catalog, a broken twin.toml lying in the folder must not stop the command; one
        # named with --project must be readable.
        try:
            settings = _read_toml(project_path) if project_path is not None else {}
        except ConfigError:
            if project is not None:
                raise
            project_path, settings = None, {}
        return CatalogContext(Path(catalog), project_path, settings)
    settings = _read_toml(project_path) if project_path is not None else {}
    if project_path is None:
        raise ConfigError(
            "no catalog: there is no twin.toml in this folder",
            hint="run in the project folder, or give --project PATH or --catalog PATH",
        )
    cat = _catalog_setting(project_path, settings)
    if not cat:
        raise ConfigError("the project file names no catalog", path=project_path,
                          hint='set [project] catalog = "catalog.gpkg"')  # fmt: skip
    return CatalogContext(cat, project_path, settings)


def _catalog_setting(project_path: Path, settings: dict[str, Any]) -> Path | None:
    """``[project] catalog`` through the project loader when it is installed (one place that
    resolves paths), else read directly."""
    try:
        from ..project import Project
    except ImportError:
        Project = None  # type: ignore[assignment,misc]
    if Project is not None:
        try:
            return Project.load(project_path).catalog_path
        except CimTwinError:
            raise
        except Exception:  # the loader is newer than this code expects: fall back to the file
            pass
    value = (settings.get("project") or {}).get("catalog", "catalog.gpkg")
    return None if not value else (project_path.parent / str(value)).resolve()


def add_catalog_options(parser: argparse.ArgumentParser) -> None:
    """``--project`` and ``--catalog`` for a catalog command."""
    parser.add_argument("--project", metavar="PATH", help="project file twin.toml or its folder (default: ./twin.toml)")
    parser.add_argument("--catalog", metavar="PATH", help="catalog file (.gpkg); overrides the project's")


def open_catalog(args: argparse.Namespace, *, create: bool = False, readonly: bool = False) -> tuple[Catalog, CatalogContext]:
    """Locate and open the catalog for a command's arguments."""
    from .store import Catalog, CatalogError

    ctx = locate(getattr(args, "project", None), getattr(args, "catalog", None))
    if not ctx.catalog_path.exists() and not create:
        raise CatalogError("catalog not found", path=ctx.catalog_path,
                           hint="run `cim-twin check` first (it writes the catalog), or give --catalog PATH")  # fmt: skip
    return Catalog.open(ctx.catalog_path, readonly=readonly), ctx


def run_model_paths(catalog: Catalog, run_id: str) -> list[Path]:
    """The city model inputs of a stored run that still exist on disk."""
    run = catalog.get_run(run_id)
    summary = catalog.run_summary(run.id)
    base = Path(summary.base_dir) if summary.base_dir else None
    paths = []
    for key in run.inputs:
        p = Path(key)
        is_model = p.suffix.lower() in _MODEL_SUFFIXES or p.name == "tileset.json"
        if not is_model or "layers" in p.parts:
            continue
        if not p.is_absolute() and base is not None:
            p = base / p
        if p.exists():
            paths.append(p)
    return paths


def load_run_buildings(catalog: Catalog, run_id: str) -> Any:
    """The buildings of a stored run as a :class:`~cim_twin.catalog.buildings.BuildingTable`:
    those the catalog stored with the run, else read again from the run's city model; None when
    neither is at hand."""
    from .buildings import BuildingTable

    rows = catalog.run_buildings(run_id)
    if rows:
        return BuildingTable.from_rows(rows)
    scene = load_run_scene(catalog, run_id)
    return None if scene is None else BuildingTable.from_scene(scene)


def load_run_scene(catalog: Catalog, run_id: str) -> Any:
    """The scene of a stored run read again from its inputs; None when they are gone or unreadable."""
    paths = run_model_paths(catalog, run_id)
    if not paths:
        return None
    try:
        from ..io import read_scene

        crs = catalog.get_run(run_id).crs
        scenes = [read_scene(p, crs=crs) if crs else read_scene(p) for p in paths]
    except CimTwinError:
        return None
    scene = scenes[0]
    for other in scenes[1:]:
        for root in other.roots:
            scene.add(root)
    return scene
