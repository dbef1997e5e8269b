"""``cim-twin view SOURCE``: look at the city and its problems in 3D (PyVista desktop viewer)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError

if TYPE_CHECKING:
    from ...indicators.api import AuxLayer
    from ...model import Period
    from ...project import Project
    from ...scene import Scene


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "view",
        parents=[common],
        help="view a city model and a run's problem points in 3D (needs cim-twin[viewer])",
        description="Open a 3D window on a CityGML file, a 3D tileset or a project, with the problem "
        "points of a check run coloured by severity. Keys: n / N next and previous problem (worst "
        "first), right click to inspect, F1-F6 camera presets, h overview. --screenshot renders "
        "off-screen to a PNG instead (no display needed).",
    )
    p.add_argument("source", type=Path, help="CityGML file, tileset.json, tileset folder or .3tz package, or twin.toml / "
                   "project folder")
    p.add_argument("--run", help="run folder or findings.json, or a run in the catalog: id, 'latest', a year "
                   "(default for a project: its latest run)")
    p.add_argument("--catalog", type=Path, help="catalog file to find --run in (default: the project's)")
    p.add_argument("--color-by", dest="color_by", metavar="INDICATOR|severity|ATTR",
                   help="colour buildings by an indicator's value, by the worst severity of their findings, "
                   "or by an attribute (height_m, year_built, storeys, function, or any attribute name); "
                   "default: semantic surfaces")
    p.add_argument("--year", type=int, help="show the findings valid in this year (default: the run's latest year)")
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="render off-screen to this PNG and exit")
    p.add_argument("--window-size", dest="window_size", default="1280x800", metavar="WxH",
                   help="window or image size in pixels (default 1280x800)")
    p.add_argument("--lod", type=int, help="draw objects at this LOD (default: each at its highest)")
    p.add_argument("--camera", default="oblique", choices=["oblique", "top", "south", "east", "north", "west"],
                   help="camera preset (default oblique)")
    p.add_argument("--focus", type=int, default=0, metavar="N",
                   help="with --screenshot: fly to the N-th worst problem first")
    p.add_argument("--crs", help="CRS for sources that state none (or to override), e.g. EPSG:4547")
    p.add_argument("--no-context", dest="context", action="store_false",
                   help="do not draw a project's roads and unit boundaries on the ground")
    p.set_defaults(func=run)


def parse_window_size(text: str) -> tuple[int, int]:
    """``"1280x800"`` -> ``(1280, 800)``.

    Raises
    ------
    ConfigError
        for anything but two positive integers joined by ``x``.
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX×*,]\s*(\d+)\s*", text or "")
    if not m or not (16 <= int(m.group(1)) <= 16384 and 16 <= int(m.group(2)) <= 16384):
        raise ConfigError(f"--window-size {text!r} is not WIDTHxHEIGHT", hint="e.g. --window-size 1600x900")
    return int(m.group(1)), int(m.group(2))


def load_view_scene(
    source: Path, crs: str | None = None, year: int | None = None, context: bool = True
) -> tuple[Scene, Path | None, str, list[AuxLayer]]:
    """The scene of ``source`` (a model file, tileset or project), the project's catalog path (None
    without a project), a title, and the project's roads and units layers to draw on the ground
    (empty without a project or with ``context`` False)."""
    from ...io import read_scene
    from ...project import Project, find_project_file

    project_file = find_project_file(source)
    if project_file is None:
        return read_scene(source, crs=crs), None, source.name, []
    project = Project.load(project_file)
    # Sources may be per epoch (city_{period}.gml): show the epoch of --year, else the project's period.
    period = project.period(year)
    paths = project.sources(period)  # at least one, or a ConfigError
    scene: Scene | None = None
    for path in paths:
        part = read_scene(path, crs=crs or project.scene_crs)
        if scene is None:
            scene = part
            continue
        if part.crs is not None and scene.crs is not None and part.crs.name != scene.crs.name:
            scene.warn(f"{path} is in {part.crs.name}, not {scene.crs.name}; shown without reprojection",
                       path=str(path))
        scene.sources.extend(part.sources)
        for root in list(part.roots):
            scene.add(root)
    assert scene is not None
    catalog = project.config.project.catalog
    layers = load_context_layers(project, period, scene) if context else []
    return scene, (project.resolve(catalog) if catalog else None), project.name, layers


def load_context_layers(project: Project, period: Period, scene: Scene) -> list[AuxLayer]:
    """The project's roads and units layers in the scene CRS; one that is missing or broken is a
    warning on stderr (the view still opens without it)."""
    from ...errors import CimTwinError
    from ...io.layers import load_layer
    from ...viewer.ground import GROUND_KINDS

    layers: list[AuxLayer] = []
    for name, config in project.config.layers.items():
        if config.kind not in GROUND_KINDS:
            continue
        path = project.layer_path(name, period)
        if not path.exists():
            if config.required:
                print(f"cim-twin: warning: {path}: layer {name!r} not drawn: file not found", file=sys.stderr)
            continue
        try:
            layers.append(load_layer(name, config, path, scene.crs))
        except CimTwinError as exc:
            print(f"cim-twin: warning: layer {name!r} not drawn: {exc}", file=sys.stderr)
    return layers


def run(args: argparse.Namespace) -> int:
    from ...viewer import ViewerUnavailable, require_pyvista

    # Fail before loading a large model when the viewer cannot work at all.
    require_pyvista()
    window_size = parse_window_size(args.window_size)
    interactive = args.screenshot is None
    if interactive and sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ViewerUnavailable(
            "no display to open a window on",
            hint="use --screenshot PNG to render off-screen, or run under xvfb-run",
        )
    if args.focus and interactive:
        raise ConfigError("--focus needs --screenshot", hint="in the window, press n to fly to the worst problem")

    from ...viewer.problems import load_findings
    from ...viewer.state import ViewerState, ViewOptions

    scene, project_catalog, title, context = load_view_scene(args.source, args.crs, args.year, args.context)
    catalog = args.catalog or project_catalog
    run_data = None
    if args.run:
        run_data = load_findings(args.run, catalog=catalog, project=args.source)
    elif project_catalog is not None and project_catalog.exists():
        try:
            run_data = load_findings("latest", catalog=project_catalog)
        except ConfigError:
            run_data = None  # a project without runs yet: show the city alone
    # What the readers skipped (a broken tile, an invalid polygon): the first few, and how many.
    shown_warnings = 5
    for warning in scene.warnings[:shown_warnings]:
        print(f"cim-twin: warning: {warning}", file=sys.stderr)
    if len(scene.warnings) > shown_warnings:
        print(f"cim-twin: warning: ... and {len(scene.warnings) - shown_warnings} more "
              f"(cim-twin info {args.source} lists them)", file=sys.stderr)
    for warning in (run_data.warnings if run_data else [])[:shown_warnings]:
        print(f"cim-twin: warning: {warning}", file=sys.stderr)
    options = ViewOptions(
        color_by=args.color_by, year=args.year, lod=args.lod, window_size=window_size, camera=args.camera,
        widgets=interactive, title=f"cim-twin · {title}",
    )
    state = ViewerState(scene, run_data, options, context)
    if not len(state.meshes.objects):
        print(f"cim-twin: warning: {args.source} holds no geometry to show", file=sys.stderr)
    for message in state.warnings:
        print(f"cim-twin: warning: {message}", file=sys.stderr)
    if args.screenshot is not None:
        from ...viewer.screenshot import render_image, write_png

        write_png(args.screenshot, render_image(state, focus=args.focus))
        shown = int(state.mask.sum())
        print(f"wrote {args.screenshot} ({window_size[0]}x{window_size[1]}, {len(state.meshes.objects)} objects, "
              f"{shown} findings)")
        return 0
    from ...viewer.app import Viewer

    Viewer(state).show()
    return 0
