"""Writing one export folder: buildings, problem layer, lists, manifest and audit.

Safe writes: everything is written into a temporary sibling folder (``.NAME.tmp-PID``) which is
renamed onto ``out`` only when complete, so a reader never sees a half-written export and a failure
(disk full, broken input) leaves nothing behind. An existing ``out`` is refused unless ``overwrite``;
then it is replaced as a whole. Output is deterministic: the same input and options give
byte-identical files (sorted keys, no timestamps, stable tile names and feature order).
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CimTwinError, ExportError
from ..progress import progress
from ..scene import Scene
from ..serialization import dumps_pretty
from .buildings import BuildingLayer, TilingOptions, prepare_buildings, write_building_tiles
from .run import RunData

__all__ = ["ExportOptions", "export_citygml", "export_folder"]


@dataclass(frozen=True)
class ExportOptions:
    """Options of :func:`export_folder` (the CLI's flags)."""

    tiles_version: str = "1.1"
    color_by: str | None = None
    overwrite: bool = False
    geojson_crs: str = "EPSG:4326"
    tiling: TilingOptions = field(default_factory=TilingOptions)
    audit_sample: int = 200
    audit: bool = True
    show_progress: bool | None = None
    #: worker processes for parsing (streaming path) and writing tiles (None: every core)
    processes: int | None = None
    #: geoid height N (m) added to source heights to make them ellipsoidal (None: heights as given)
    geoid_height_m: float | None = None


def _write_file(path: Path, data: bytes) -> None:
    """Write one file of the export (inside the temporary folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def write_file(path: Path, data: bytes) -> None:
    """Write one file of the export; every file goes through here (tests inject failures into
    ``_write_file``)."""
    _write_file(path, data)


def _versions(tiles_version: str) -> list[str]:
    if tiles_version == "both":
        return ["1.1", "1.0"]
    if tiles_version in ("1.1", "1.0"):
        return [tiles_version]
    raise ExportError(f"unknown --tiles-version {tiles_version!r}", hint="use 1.1, 1.0 or both")


def _source_info(scene: Scene) -> dict[str, Any]:
    src = scene.sources[0] if scene.sources else None
    crs = scene.source_crs or scene.crs
    return {
        "name": Path(src.path).name if src else None,
        "format": src.format if src else None,
        "format_version": src.version if src else None,
        "crs": crs.name if crs else None,
        "vertical_datum": scene.crs.vertical_datum if scene.crs else None,  # of the source, as it says
        "counts": scene.counts(),
    }


def export_folder(scene: Scene, out: Path, *, run: RunData | None = None,
                  options: ExportOptions = ExportOptions()) -> dict[str, Any]:
    """Write the export folder ``out`` and return its manifest (the content of layers.json).

    Raises
    ------
    ExportError
        when ``out`` exists and ``overwrite`` is false, when the disk is full or a write fails
        (nothing is left behind), or when nothing can be exported.
    CRSError
        when the scene cannot be placed on the globe.
    """
    versions = _versions(options.tiles_version)
    return write_safely(Path(out), options, lambda tmp: _export_into(scene, tmp, run, options, versions))


def export_citygml(path: Path, out: Path, *, run: RunData | None = None, options: ExportOptions = ExportOptions(),
                   crs: str | None = None) -> dict[str, Any]:
    """Export a (large) CityGML file on the streaming path: parsed in parallel, spilled to disk,
    tiles written in parallel, memory flat in the number of buildings (see :mod:`.streaming`).
    Same results and errors as :func:`export_folder`."""
    from .streaming import export_citygml_streaming

    versions = _versions(options.tiles_version)
    return write_safely(Path(out), options, lambda tmp: export_citygml_streaming(
        Path(path), tmp, run=run, options=options, versions=versions, crs=crs, processes=options.processes))


def write_safely(out: Path, options: ExportOptions, fill: Any) -> dict[str, Any]:
    """Run ``fill(tmp_folder)`` and rename the folder onto ``out`` (see the module docstring)."""
    if out.exists() and not options.overwrite:
        raise ExportError("the output folder exists", path=out, hint="choose another --out or add --overwrite")
    if out.exists() and not out.is_dir():
        raise ExportError("the output path exists and is not a folder", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        result = fill(tmp)
        _publish(tmp, out, options.overwrite)
        return result
    except CimTwinError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise ExportError("the disk is full; nothing was written", path=out,
                              hint="free space or export to another disk") from exc
        raise ExportError(f"cannot write the export: {exc.strerror or exc}", path=getattr(exc, "filename", None) or out,
                          hint="check the folder is writable") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_stale(out: Path) -> None:
    """Remove what an export killed outright (power cut, SIGKILL) left beside ``out``: temporary
    folders of processes that no longer run."""
    for pattern in (f".{out.name}.tmp-*", f".{out.name}.old-*"):
        for path in out.parent.glob(pattern):
            try:
                pid = int(path.name.rsplit("-", 1)[1])
            except ValueError:
                continue
            if pid == os.getpid() or _alive(pid):
                continue
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.exists():
        if not overwrite:  # appeared while we were writing
            raise ExportError("the output folder appeared during the export", path=out,
                              hint="add --overwrite to replace it")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def georeference_of(crs: Any, source_crs: Any, frame: Any) -> dict[str, Any]:
    """The ``georeference`` of layers.json: CRSs, vertical datum, what heights mean, the frame."""
    return {
        "source_crs": (source_crs or crs).name if crs else None,
        "tiles_crs": "EPSG:4978",
        "vertical_datum": crs.vertical_datum if crs else None,
        "heights": _heights_statement(crs),
        "origin": {"lon": frame.lon_deg, "lat": frame.lat_deg, "height": frame.height_m},
        "frame": "local east-north-up at the origin (root tile transform); tiles offset to their centres",
    }


def tileset_extras(georeference: dict[str, Any], run_id: str | None) -> dict[str, Any]:
    """``asset.extras`` of every tileset: the run and how it is placed (for clients without layers.json)."""
    return {"cim_twin": {"run_id": run_id, "source_crs": georeference["source_crs"],
                         "vertical_datum": georeference["vertical_datum"], "heights": georeference["heights"],
                         "origin": georeference["origin"]}}


def building_layer_entry(folder: str, version: str, *, extent: list[float] | None, time_range: Any, count: int,
                         coloring: Any, run_id: str | None, color_by: str | None, stats: dict[str, Any],
                         columns: list[Any]) -> dict[str, Any]:
    """The manifest entry of one building tileset."""
    from .manifest import layer_entry

    return layer_entry(
        folder, kind="buildings", path=f"{folder}/tileset.json", fmt="3d-tiles", version=version,
        crs="EPSG:4978", extent_wgs84=extent, time_range=time_range, feature_count=count, legend=coloring.legend,
        run_id=run_id, style=f"{folder}/style.json", color_by=color_by, tiles=stats["tiles"],
        tree_depth=stats["depth"], bytes=stats["bytes"],
        content="glb (EXT_mesh_features, EXT_structural_metadata)" if version == "1.1" else "b3dm (batch table)",
        properties=[{"id": c.id, "name": c.name, "type": c.type, "component_type": c.component_type,
                     "unit": c.unit, "group": c.group} for c in columns],
    )


def _export_into(scene: Scene, root: Path, run: RunData | None, options: ExportOptions,
                 versions: list[str]) -> dict[str, Any]:
    from .georef import placed_crs

    crs = placed_crs(scene.crs, options.geoid_height_m)
    layer = prepare_buildings(scene, run=run, color_by=options.color_by, tiling=options.tiling, crs=crs)
    run_id = run.run_id if run is not None else None
    georeference = georeference_of(crs, scene.source_crs, layer.frame)
    extras = tileset_extras(georeference, run_id)
    layers: list[dict[str, Any]] = []
    audits: dict[str, Any] = {}
    n_tiles = len(layer.tree.walk()) * len(versions)
    bar = progress(total=n_tiles, desc="export tiles", unit="tile", enabled=options.show_progress)
    time_range = time_range_of(run)
    try:
        for version in versions:
            folder = "buildings" if version == "1.1" else "buildings-1.0"
            stats = write_building_tiles(layer, root / folder, version, extras, write_file, on_tile=bar.update,
                                         processes=max(1, options.processes or os.cpu_count() or 1))
            write_file(root / folder / "style.json", dumps_pretty(layer.coloring.style))
            layers.append(building_layer_entry(
                folder, version, extent=layer.extent_wgs84, time_range=time_range, count=len(layer.table),
                coloring=layer.coloring, run_id=run_id, color_by=options.color_by, stats=stats,
                columns=layer.table.columns))
            if options.audit:
                audits[folder] = _audit(scene, crs, layer, root / folder / "tileset.json", options)
    finally:
        bar.close()
    summary = {
        "input_objects": layer.input_objects,
        "exported_features": len(layer.table),
        "skipped": layer.skipped,
        "attributes_kept": len(layer.source_attribute_names),
        "source_warnings": len(scene.warnings),
        "source_warning_examples": [str(w) for w in scene.warnings[:10]],
    }
    return finish_export(root, run=run, crs=crs, frame=layer.frame, versions=versions, options=options,
                         extras=extras, layers=layers, audits=audits, summary=summary,
                         source=_source_info(scene), georeference=georeference)


def finish_export(root: Path, *, run: RunData | None, crs: Any, frame: Any, versions: list[str],
                  options: ExportOptions, extras: dict[str, Any], layers: list[dict[str, Any]],
                  audits: dict[str, Any], summary: dict[str, Any], source: dict[str, Any],
                  georeference: dict[str, Any]) -> dict[str, Any]:
    """The layers after the buildings: problem layer, lists, audit.json and layers.json."""
    from .manifest import manifest

    time_range = time_range_of(run)
    run_id = run.run_id if run is not None else None
    if run is not None and run.findings:
        layers.extend(_write_problem_layers(crs, run, root, frame, versions, options, extras, time_range))
    if run is not None:
        layers.extend(_write_lists(run, root))
    audit = audit_summary(summary, audits) if options.audit else {
        **summary, "max_position_error_m": None, "passed": None, "tilesets": {},
        "status": "not run", "warnings": ["the audit was not run (--no-audit)"]}
    write_file(root / "audit.json", dumps_pretty(audit))
    doc = manifest(layers, source=source, run_id=run_id, audit=audit, georeference=georeference)
    write_file(root / "layers.json", dumps_pretty(doc))
    return doc


def audit_summary(summary: dict[str, Any], audits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """audit.json (and layers.json ``audit``): the counts, the worst figures over the tilesets, each
    tileset's report, and ``warnings`` naming every check that could not run (never silently)."""
    warnings = []
    for name, report in sorted(audits.items()):
        if report.get("error"):
            warnings.append(f"{name}: the audit failed: {report['error']}")
        reader = report.get("reader_round_trip") or {}
        if reader.get("status") != "ok":
            warnings.append(f"{name}: reader round trip {reader.get('status', 'not run')}: "
                            f"{reader.get('reason', 'unknown')}")
    passed = all(a["passed"] for a in audits.values()) if audits else None
    return {
        **summary,
        "max_position_error_m": max((a["max_position_error_m"] or 0.0) for a in audits.values()) if audits else None,
        "reader_max_position_error_m": max(
            (a["reader_max_position_error_m"] for a in audits.values() if a.get("reader_max_position_error_m") is not None),
            default=None),
        "passed": passed,
        "status": "passed" if passed else "failed",
        "warnings": warnings,
        "tilesets": audits,
    }


def _heights_statement(crs: Any) -> str:
    geoid = getattr(crs, "geoid_height_m", None)
    if geoid is not None:
        return f"source heights plus the geoid height {geoid:g} m (--geoid-height) as ellipsoidal heights"
    if crs is not None and crs.crs is not None and crs.crs.is_geographic and len(crs.crs.axis_info) >= 3:
        return "ellipsoidal heights of the source CRS"
    return ("source heights are used as ellipsoidal heights (no geoid separation applied); "
            "give the local geoid height with --geoid-height to place them exactly")


def _audit(scene: Scene, crs: Any, layer: BuildingLayer, tileset: Path, options: ExportOptions) -> dict[str, Any]:
    from .audit import audit_buildings, guarded

    return guarded(f"{tileset.parent.name}/{tileset.name}",
                   lambda: audit_buildings(scene, layer, tileset, sample=options.audit_sample, crs=crs))


def time_range_of(run: RunData | None) -> dict[str, str | None] | None:
    """The ``time_range`` of layers.json: the findings' validity windows and the period."""
    if run is None or not run.findings:
        if run is not None and run.run is not None:
            return {"period": run.run.period}
        return None
    start = min(f.valid_from for f in run.findings)
    ends = [f.valid_to for f in run.findings if f.valid_to is not None]
    return {"start": start.isoformat(), "end": max(ends).isoformat() if ends else None,
            "period": run.findings[0].period}


def _write_problem_layers(crs: Any, run: RunData, root: Path, frame: Any, versions: list[str],
                          options: ExportOptions, extras: dict[str, Any], time_range: Any) -> list[dict[str, Any]]:
    from .czml import problems_czml
    from .geojson import problems_geojson
    from .manifest import layer_entry
    from .points import prepare_problems, problem_legend, write_problem_tiles

    problems = prepare_problems(run.findings, crs, frame)
    lon, lat, h = problems.lonlat[:, 0], problems.lonlat[:, 1], problems.lonlat[:, 2]
    extent = [float(lon.min()), float(lat.min()), float(h.min()), float(lon.max()), float(lat.max()), float(h.max())]
    out = []
    for version in versions:
        folder = "problems" if version == "1.1" else "problems-1.0"
        stats = write_problem_tiles(problems, root / folder, version, extras, write_file)
        out.append(layer_entry(
            folder, kind="problems", path=f"{folder}/tileset.json", fmt="3d-tiles", version=version, crs="EPSG:4978",
            extent_wgs84=extent, time_range=time_range, feature_count=len(problems.table), legend=problem_legend(),
            run_id=run.run_id, style=f"{folder}/style.json", tiles=stats["tiles"], bytes=stats["bytes"],
            content="glb POINTS (EXT_mesh_features, EXT_structural_metadata)" if version == "1.1"
            else "pnts (batch table)",
        ))
    write_file(root / "problems.geojson", problems_geojson(run.findings, crs, options.geojson_crs))
    out.append(layer_entry(
        "problems-geojson", kind="problems", path="problems.geojson", fmt="geojson", version="RFC 7946",
        crs=options.geojson_crs.upper(), extent_wgs84=extent, time_range=time_range, feature_count=len(run.findings),
        legend=problem_legend(), run_id=run.run_id,
    ))
    write_file(root / "problems.czml", problems_czml(run.findings, crs, name=f"problems {run.run_id}"))
    out.append(layer_entry(
        "problems-czml", kind="problems", path="problems.czml", fmt="czml", version="1.0", crs="EPSG:4979",
        extent_wgs84=extent, time_range=time_range, feature_count=len(run.findings), legend=problem_legend(),
        run_id=run.run_id,
    ))
    return out


def _write_lists(run: RunData, root: Path) -> list[dict[str, Any]]:
    """The problem and task lists: the catalog's list writers when the run came from the catalog,
    else a problem list CSV written here (UTF-8 with BOM, Chinese headers)."""
    from .lists import write_run_lists

    return write_run_lists(run, root, write_file)

