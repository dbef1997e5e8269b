"""``cim-twin info PATH``: what a city model file or tileset holds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "info",
        parents=[common],
        help="report format, CRS, counts, LODs, extent and warnings of a CityGML file or 3D tileset",
        description="Report what a CityGML file (.gml, .xml, .gz) or a 3D tileset holds. Streams the "
        "file, so memory stays flat however large it is.",
    )
    p.add_argument("path", type=Path, help="CityGML file, tileset.json or tileset folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--crs", help="CRS for files that state none (or to override), e.g. EPSG:4548")
    p.add_argument("--max-depth", type=int, default=None, help="3D Tiles: stop at this tile depth")
    p.add_argument("--allow-remote", action="store_true", help="3D Tiles: allow http(s) content URIs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...io import find_reader
    from ...serialization import dumps_pretty

    reader = find_reader(args.path)
    options: dict[str, Any] = {"crs": args.crs}
    if reader.name == "3dtiles":
        options.update(max_depth=args.max_depth, allow_remote=args.allow_remote)
    if reader.info is None:
        scene = reader.read(args.path, **options)
        report = scene_report(scene, reader.name)
    else:
        report = reader.info(args.path, **options)
    if args.json:
        sys.stdout.buffer.write(dumps_pretty(report))
    else:
        print(format_report(report))
    return 0


def scene_report(scene: Any, format_name: str) -> dict[str, Any]:
    """The info report of an in-memory scene (for readers without a streaming ``info``)."""
    extent = scene.extent()
    return {
        "format": format_name,
        "version": scene.sources[0].version if scene.sources else None,
        "crs": scene.source_crs.name if scene.source_crs else None,
        "counts": scene.counts(),
        "lods": scene.lods(),
        "extent": None if extent is None else [*map(float, extent[0]), *map(float, extent[1])],
        "extent_wgs84": scene.extent_wgs84(),
        "attributes": scene.attribute_names(),
        "warnings": [str(w) for w in scene.warnings],
    }


def format_report(report: dict[str, Any]) -> str:
    """The human-readable form of an info report."""
    lines = [f"format      {report.get('format')} {report.get('version') or ''}".rstrip()]
    if report.get("crs"):
        lines.append(f"crs         {report['crs']}")
    if report.get("vertical_datum"):
        lines.append(f"heights     {report['vertical_datum']}")
    counts = report.get("counts") or {}
    if counts:
        lines.append("objects     " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for key in ("tiles", "contents"):
        if report.get(key):
            value = report[key]
            text = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
            lines.append(f"{key:<12}{text}")
    if report.get("lods"):
        lines.append("lods        " + ", ".join(str(x) for x in report["lods"]))
    if report.get("extent"):
        e = report["extent"]
        # degrees (a geographic source CRS) need more digits than metres
        d = 7 if max(abs(e[0]), abs(e[1]), abs(e[3]), abs(e[4])) <= 360 and report.get("crs") else 2
        lines.append(f"extent      x {e[0]:.{d}f}..{e[3]:.{d}f}  y {e[1]:.{d}f}..{e[4]:.{d}f}  z {e[2]:.2f}..{e[5]:.2f}")
    if report.get("extent_wgs84"):
        e = report["extent_wgs84"]
        lines.append(f"wgs84       lon {e[0]:.6f}..{e[3]:.6f}  lat {e[1]:.6f}..{e[4]:.6f}  h {e[2]:.1f}..{e[5]:.1f}")
    attrs = report.get("attributes") or report.get("properties") or []
    if attrs:
        shown = ", ".join(attrs[:30]) + (f", ... ({len(attrs)} in all)" if len(attrs) > 30 else "")
        lines.append(f"attributes  {shown}")
    warnings = report.get("warnings") or []
    lines.append(f"warnings    {len(warnings)}")
    for w in warnings[:20]:
        lines.append(f"  {w}")
    if len(warnings) > 20:
        lines.append(f"  ... {len(warnings) - 20} more (see --json)")
    return "\n".join(lines)
