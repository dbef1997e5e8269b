"""``cim-twin init DIR``: write a commented twin.toml to start a project from.

The template names what it finds in DIR (CityGML files, tilesets, GeoJSON / CSV / GeoPackage
layers, with kinds guessed from their names and ``layers/<year>/`` folders turned into
``{period}``), and explains every key in comments.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_KIND_WORDS: tuple[tuple[str, str, str | None], ...] = (
    ("communit", "units", "community"),
    ("社区", "units", "community"),
    ("block", "units", "block"),
    ("街区", "units", "block"),
    ("district", "units", "district"),
    ("城区", "units", "district"),
    ("road", "roads", None),
    ("street", "roads", None),
    ("道路", "roads", None),
    ("park", "parks", None),
    ("公园", "parks", None),
    ("poi", "poi", None),
    ("facilit", "poi", None),
    ("population", "population", None),
    ("resident", "population", None),
    ("人口", "population", None),
    ("streetview", "streetview", None),
    ("street_view", "streetview", None),
    ("街景", "streetview", None),
    ("heat", "heatmap", None),
    ("热力", "heatmap", None),
    ("waterlog", "incidents", None),
    ("flood", "incidents", None),
    ("incident", "incidents", None),
    ("内涝", "incidents", None),
    ("report", "reports", None),
    ("survey", "reports", None),
)
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "init",
        parents=[common],
        help="write a commented twin.toml into DIR to start a project from",
        description="Write DIR/twin.toml with every section explained. City models and layers already in "
        "DIR are listed, with kinds guessed from their names; edit what the guess got wrong.",
    )
    p.add_argument("dir", type=Path, help="project folder (created if missing)")
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--period", type=int, help="default period (default: this year)")
    p.add_argument("--crs", help="CRS of sources that state none, e.g. EPSG:4548")
    p.add_argument("--force", action="store_true", help="overwrite an existing twin.toml")
    p.set_defaults(func=run)


def _guess_kind(path: Path) -> tuple[str, str | None] | None:
    name = path.stem.lower()
    for word, kind, level in _KIND_WORDS:
        if word in name:
            return kind, level
    return None


def _templated(rel: str) -> tuple[str, str | None]:
    """``layers/2025/roads.geojson`` -> (``layers/{period}/roads.geojson``, "2025")."""
    m = _YEAR.search(rel)
    if not m:
        return rel, None
    return rel[: m.start()] + "{period}" + rel[m.end():], m.group(0)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scan(folder: Path) -> tuple[list[str], list[tuple[str, str, str, str | None]], set[str]]:
    """What is in ``folder``: (scene source patterns, layers as (name, path, kind, level), years)."""
    sources: list[str] = []
    layers: dict[str, tuple[str, str, str | None]] = {}
    years: set[str] = set()
    if not folder.is_dir():
        return sources, [], years
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") or part in ("export", "runs", "out") for part in path.relative_to(folder).parts):
            continue
        low = path.name.lower()
        if low == "tileset.json" and any((parent / "tileset.json").is_file() for parent in path.parents[1:]
                                         if folder in parent.parents or parent == folder):
            continue  # an external tileset inside another tileset: reached through its parent
        if path.is_file() and (low.endswith((".gml", ".gml.gz", ".citygml")) or low == "tileset.json"):
            pattern, year = _templated(rel if low != "tileset.json" else path.parent.relative_to(folder).as_posix())
            if year:
                years.add(year)
            if pattern not in sources:
                sources.append(pattern)
        elif path.is_file() and path.suffix.lower() in (".geojson", ".csv", ".gpkg"):
            guess = _guess_kind(path)
            if guess is None:
                continue
            pattern, year = _templated(rel)
            if year:
                years.add(year)
            name = re.sub(r"[^A-Za-z0-9_]+", "_", path.stem).strip("_").lower() or "layer"
            if name not in layers:
                layers[name] = (pattern, *guess)
    return sources, [(n, *v) for n, v in layers.items()], years


def render(name: str, period: int, crs: str | None, sources: list[str],
           layers: list[tuple[str, str, str, str | None]]) -> str:
    """The commented twin.toml text."""
    src = ", ".join(_q(s) for s in sources) if sources else '"city_{period}.gml"'
    lines = [
        "# twin.toml: the project file of a cim_twin health check (城市体检).",
        "# Paths are relative to this file; {period} is replaced by the year of the run,",
        "# so that one file serves every annual epoch. Reference: docs/project-file.md",
        "",
        "[project]",
        f"name = {_q(name)}",
        f"period = {period}                 # default year of `cim-twin check` (--period overrides)",
        'timezone = "Asia/Shanghai"     # period boundaries and report times are in this zone',
        (f"crs = {_q(crs)}" if crs else '# crs = "EPSG:4548"           ') + "  # CRS for sources that state none",
        'catalog = "catalog.gpkg"       # runs over the years (SQLite / GeoPackage)',
        'output = "export"              # runs go to export/runs/<run_id>/',
        "",
        "[scene]",
        "# CityGML files (.gml, .gml.gz) or 3D tilesets (tileset.json or its folder); globs allowed",
        f"sources = [{src}]",
        "",
        "# Auxiliary layers: [layers.NAME] with path, kind and, where the file is not in its",
        "# format's default CRS, crs (EPSG:n, or GCJ-02 / BD-09 as Chinese web maps use).",
        "# GeoJSON defaults to EPSG:4326; CSV x/y columns to the scene CRS, lon/lat columns to EPSG:4326.",
        "# kinds: units (with level = community | block | district), roads, parks, poi, population,",
        "#        streetview, heatmap, incidents, reports; a plugin's own kinds start with x-.",
    ]
    if layers:
        for layer_name, path, kind, level in layers:
            lines += ["", f"[layers.{layer_name}]", f"path = {_q(path)}", f"kind = {_q(kind)}"]
            if level:
                lines.append(f"level = {_q(level)}")
            if "{period}" in path:
                lines.append("# required = false   # uncomment if some years lack this layer")
    else:
        lines += [
            "",
            "# [layers.communities]",
            '# path = "layers/communities.geojson"',
            '# kind = "units"',
            '# level = "community"',
            "",
            "# [layers.poi]",
            '# path = "layers/{period}/poi.geojson"',
            '# kind = "poi"',
            '# crs = "GCJ-02"',
        ]
    lines += [
        "",
        "# The indicator profile: which indicators run and with which thresholds.",
        "# `cim-twin indicators` lists the codes.",
        "[profile]",
        'name = "city"',
        'indicators = ["*"]             # or a list of codes; patterns like "N-*" work',
        "# exclude = []",
        '# [profile.thresholds."N-PARK-COVER"]',
        "# default = 0.9",
        '# [profile.options."L-OLD-HOUSING"]',
        "# before_year = 1990",
        "",
        "# A county profile extends the city profile and overrides it:",
        "#   cim-twin check --profile county",
        "# [profiles.county]",
        '# extends = "city"',
        '# [profiles.county.thresholds."N-PARK-COVER"]',
        "# default = 0.85",
        "",
        "[check]",
        "timeout_s = 600                # per indicator; a slower one is stopped and recorded as timeout",
        'isolation = "auto"             # process (fork) where available, else thread; inline for debugging',
        "jobs = 1                       # indicators evaluated at the same time (--jobs N)",
        "# [check.timeouts]",
        '# "N-FIRE-5MIN" = 1800          # a longer limit for one slow indicator',
        "",
        "# Project-local plugins, without packaging (see docs/plugins.md):",
        "# [plugins]",
        '# paths = ["plugins/my_indicators.py"]',
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ...errors import ConfigError
    from ...project import PROJECT_FILE_NAME, Project
    from ...serialization import atomic_write_bytes

    folder: Path = args.dir
    target = folder / PROJECT_FILE_NAME
    if target.exists() and not args.force:
        raise ConfigError("project file exists", path=target, hint="use --force to overwrite it")
    if folder.exists() and not folder.is_dir():
        raise ConfigError("not a folder", path=folder)
    sources, layers, years = scan(folder)
    period = args.period or (int(max(years)) if years else datetime.now(UTC).year)
    text = render(args.name or folder.resolve().name, period, args.crs, sources, layers)
    Project.from_dict(tomllib.loads(text), path=target)  # the template must load
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, text.encode("utf-8"))
    print(f"wrote {target}")
    if sources:
        print(f"  scene sources: {', '.join(sources)}")
    for layer_name, path, kind, level in layers:
        print(f"  layer {layer_name}: {path} ({kind}{', ' + level if level else ''})")
    print("edit it, then run: cim-twin check " + str(folder))
    return 0
