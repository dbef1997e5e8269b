"""``cim-twin export SOURCE --out DIR``: the CIM export folder (3D Tiles, problem layer, manifest)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="export buildings and a run's problems as CIM layers (3D Tiles 1.1/1.0, GeoJSON, CZML, layers.json)",
        description="Write one export folder a CIM platform imports: buildings as 3D Tiles 1.1 (glb with "
        "EXT_mesh_features / EXT_structural_metadata) and/or 1.0 (b3dm), the run's findings as a 3D Tiles "
        "point layer, problems.geojson and problems.czml, the problem and task lists, layers.json and a "
        "conversion audit. The folder appears complete or not at all.",
    )
    p.add_argument("source", type=Path, help="project file (twin.toml) or its folder, a CityGML file, or a tileset")
    p.add_argument("--out", type=Path, required=True, help="export folder to create")
    p.add_argument("--run", help="run to show: a run id of the catalog (or latest, a period) or a run folder")
    p.add_argument("--tiles-version", choices=["1.1", "1.0", "both"], default="1.1",
                   help="3D Tiles version of the building (and problem) tilesets (default 1.1)")
    p.add_argument("--color-by", metavar="INDICATOR|severity|ATTR",
                   help="colour buildings by an indicator of the run, by worst severity, or by a property")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    p.add_argument("--geojson-crs", default="EPSG:4326", choices=["EPSG:4326", "EPSG:4490"],
                   help="CRS of problems.geojson (default EPSG:4326; EPSG:4490 is CGCS2000)")
    p.add_argument("--crs", help="CRS of a source that states none (or to override), e.g. EPSG:4548")
    p.add_argument("--geoid-height", type=float, metavar="METRES",
                   help="geoid height N of the area, added to the source heights to make them ellipsoidal "
                   "(orthometric heights such as 1985 national height datum ones sit N metres too low "
                   "on a WGS84 globe without it); default: heights used as given")
    p.add_argument("--catalog", type=Path, help="catalog file (default: the project's)")
    p.add_argument("--period", help="period of the project's sources (default: the project's)")
    p.add_argument("--max-features", type=int, default=2000, help="buildings per leaf tile (default 2000)")
    p.add_argument("--max-triangles", type=int, default=200_000, help="triangles per tile (default 200000)")
    p.add_argument("--processes", type=int, default=None,
                   help="worker processes for large CityGML files (default: every core)")
    p.add_argument("--stream", choices=["auto", "on", "off"], default="auto",
                   help="stream a CityGML file (parse in parallel, spill to disk; flat memory): on, off, or "
                   "auto = for files over 64 MiB (default)")
    p.add_argument("--no-audit", action="store_true", help="skip the round-trip audit")
    p.add_argument("--json", action="store_true", help="print the manifest (layers.json) on stdout")
    p.set_defaults(func=run)


def _stream_source(path: Path, mode: str) -> bool:
    """Should this file take the streaming path: a plain (not gzipped) CityGML file, with
    ``--stream on`` or over the size threshold."""
    from ...export.streaming import STREAM_THRESHOLD_BYTES
    from ...io import find_reader

    if mode == "off" or not path.is_file() or find_reader(path).name != "citygml":
        return False
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            return False
    return mode == "on" or path.stat().st_size > STREAM_THRESHOLD_BYTES


def _resolve(args: argparse.Namespace) -> tuple[Path | None, str | None, Any, Path | None]:
    """What SOURCE means: ``(file to stream, its CRS option, scene loader, catalog path)``; exactly
    one of the first and the third is set (the loader reads the scene when called, so a wrong
    ``--run`` fails before a long read). A project whose period has one large CityGML source
    streams it too."""
    from ...project import find_project_file

    project_file = find_project_file(args.source)
    if project_file is not None:
        from ...indicators.runner import load_scene
        from ...project import Project

        project = Project.load(project_file)
        if args.crs:
            project.crs_override = args.crs
        period = project.period(args.period)
        sources = project.sources(period)
        if len(sources) == 1 and _stream_source(sources[0], args.stream):
            return sources[0], project.scene_crs, None, project.catalog_path
        return None, None, lambda: load_scene(project, period), project.catalog_path
    if _stream_source(args.source, args.stream):
        return args.source, args.crs, None, None
    from ...io import read_scene

    options: dict[str, Any] = {}
    if args.crs:
        options["crs"] = args.crs
    return None, None, lambda: read_scene(args.source, **options), None


def run(args: argparse.Namespace) -> int:
    from ...errors import ConfigError
    from ...export.buildings import TilingOptions
    from ...export.run import load_run
    from ...export.writer import ExportOptions, export_folder
    from ...serialization import dumps_pretty

    if args.out.exists() and not args.overwrite:
        raise ConfigError("the output folder exists", path=args.out, hint="choose another --out or add --overwrite")
    if args.max_features < 1 or args.max_triangles < 1:
        raise ConfigError("--max-features and --max-triangles must be positive")
    stream, stream_crs, load_scene, catalog_path = _resolve(args)
    run_data = None
    if args.run:
        run_data = load_run(args.run, catalog_path=args.catalog or catalog_path)
    options = ExportOptions(
        processes=args.processes,
        tiles_version=args.tiles_version, color_by=args.color_by, overwrite=args.overwrite,
        geojson_crs=args.geojson_crs, audit=not args.no_audit, geoid_height_m=args.geoid_height,
        tiling=TilingOptions(max_features=args.max_features, max_triangles=args.max_triangles,
                             coarse_max_features=max(2 * args.max_features, 1)),
    )
    try:
        if stream is not None:
            from ...export.writer import export_citygml

            doc = export_citygml(stream, args.out, run=run_data, options=options, crs=stream_crs)
        else:
            doc = export_folder(load_scene(), args.out, run=run_data, options=options)
    finally:
        if run_data is not None:
            run_data.close()
    audit = doc.get("audit") or {}
    for warning in audit.get("warnings", []):
        print(f"warning: audit: {warning}", file=sys.stderr)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty(doc))
        return 0
    buildings: dict[str, Any] = next((layer for layer in doc["layers"] if layer["kind"] == "buildings"), {})
    exported = audit.get("exported_features", buildings.get("feature_count", "?"))
    total = audit.get("input_objects")
    print(f"exported {exported}{'' if total is None else f' of {total}'} buildings to {args.out}")
    width_id = max(len(layer["id"]) for layer in doc["layers"])
    width_path = max(len(layer["path"]) for layer in doc["layers"])
    for layer in doc["layers"]:
        count = layer.get("feature_count")
        print(f"  {layer['id']:<{width_id}}  {layer['path']:<{width_path}}  {layer['format']} "
              f"{layer.get('format_version') or ''}" + (f"  {count} features" if count is not None else ""))
    if audit.get("source_warnings"):
        print(f"source warnings: {audit['source_warnings']} (see audit.json), e.g. {audit['source_warning_examples'][0]}")
    if audit.get("status") == "not run":
        print("audit: not run (--no-audit)")
    elif audit.get("max_position_error_m") is not None:
        reader = audit.get("reader_max_position_error_m")
        print(f"audit: max round-trip position error {audit['max_position_error_m'] * 1000:.3f} mm"
              + ("" if reader is None else f" (through the 3D Tiles reader {reader * 1000:.3f} mm)")
              + f", {'passed' if audit.get('passed') else 'FAILED (see audit.json)'}")
    return 0
