"""The interactive viewer window (PyVista): draws a :class:`~cim_twin.viewer.state.ViewerState`.

One actor per layer and LOD, one for all problem glyphs; colours are precomputed RGB cell arrays
(so an image shows exactly the colours :mod:`.coloring` computed); a legend or scalar bar; a text
panel; and, in a window, layer check boxes, a year slider, picking and keys:

=================  =========================================================
``n`` / ``→``      fly to the next problem, worst first (下一个问题)
``N`` / ``←``      fly to the previous problem (上一个问题)
right click, ``i`` show the object or problem under the mouse (查询)
``F1`` … ``F6``    camera: oblique, top, from south, east, north, west (视角)
``h``              back to the overview (全景)
``c``              colour by: surfaces, severity, each indicator of the run (着色)
``q``              close
=================  =========================================================
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import require_pyvista
from .colors import colormap_table, label
from .fonts import find_cjk_font
from .state import CAMERA_PRESETS, PROBLEMS_LAYER, CameraPose, ViewerState

__all__ = ["Viewer", "viewer_theme"]

BACKGROUND = (0.965, 0.965, 0.95)
TEXT_COLOR = (0.12, 0.12, 0.14)
HIGHLIGHT_COLOR = (0.85, 0.1, 0.85)
_VTK_FONT_FILE = 4  # vtkTextProperty font family "from a file"


def viewer_theme() -> Any:
    """The fixed theme every view uses (reference images depend on it)."""
    pv = require_pyvista()
    theme = pv.themes.Theme()
    theme.background = BACKGROUND
    theme.font.color = TEXT_COLOR
    theme.font.family = "arial"
    theme.edge_color = (0.3, 0.3, 0.3)
    theme.show_edges = False
    theme.smooth_shading = False
    theme.lighting = True
    theme.anti_aliasing = None
    theme.multi_samples = 0
    theme.allow_empty_mesh = True
    return theme


@contextlib.contextmanager
def _headless_window_backend(off_screen: bool) -> Iterator[None]:
    """Create the render window through EGL when there is no display to talk to.

    VTK's Linux wheels try X first and log ``bad X server connection`` on stderr before falling
    back, a line a user of ``--screenshot`` should not see. Without a display (and unless the user
    chose a backend in ``VTK_DEFAULT_OPENGL_WINDOW``), EGL is asked for directly when libEGL is
    present; VTK's warnings are held back while the window is made, whichever backend it ends up with.
    """
    if not off_screen or not sys.platform.startswith("linux"):
        yield
        return
    from vtkmodules.vtkCommonCore import vtkLogger

    key = "VTK_DEFAULT_OPENGL_WINDOW"
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    chosen = headless and key not in os.environ and ctypes.util.find_library("EGL") is not None
    if chosen:
        os.environ[key] = "vtkEGLRenderWindow"
    cutoff = vtkLogger.GetCurrentVerbosityCutoff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)
    try:
        yield
    finally:
        vtkLogger.SetStderrVerbosity(vtkLogger.ConvertToVerbosity(cutoff))
        if chosen:
            del os.environ[key]


def _swatch(rgb: tuple[int, int, int] | None) -> Any:
    """A small square image of one colour (transparent for a title row)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData

    side = 16
    pixels = np.zeros((side, side, 4), dtype=np.uint8)
    if rgb is not None:
        pixels[...] = (*rgb, 255)
        pixels[[0, -1], :, :3] = pixels[:, [0, -1], :3] = 90  # thin border: pale swatches stay visible
        pixels[:, [0, -1], 3] = pixels[[0, -1], :, 3] = 255
    image = vtkImageData()
    image.SetDimensions(side, side, 1)
    image.GetPointData().SetScalars(numpy_to_vtk(pixels.reshape(-1, 4), deep=True))
    return image


def _set_font(prop: Any, font_file: str | None, size: int | None = None, color: tuple[float, ...] = TEXT_COLOR) -> None:
    if font_file:
        prop.SetFontFamily(_VTK_FONT_FILE)
        prop.SetFontFile(font_file)
    if size is not None:
        prop.SetFontSize(size)
    prop.SetColor(*color)
    prop.SetShadow(False)
    prop.SetBold(False)
    prop.SetItalic(False)


class Viewer:
    """A window (or an off-screen canvas) showing a viewer state.

    Parameters
    ----------
    state:
        What to show.
    off_screen:
        Render without a window (screenshots, tests).
    """

    def __init__(self, state: ViewerState, *, off_screen: bool = False) -> None:
        pv = require_pyvista()
        self.pv = pv
        self.state = state
        options = state.options
        self.font_file = find_cjk_font() if options.font_file == "auto" else options.font_file
        self.bilingual = self.font_file is not None
        self.off_screen = off_screen
        with _headless_window_backend(off_screen):
            self.plotter = pv.Plotter(
                off_screen=off_screen, window_size=list(options.window_size), theme=viewer_theme(),
                title=options.title,
            )
        self.layer_polys: dict[str, Any] = {}
        self.actors: dict[str, Any] = {}
        self._legends: list[Any] = []
        self._scalar_bar: Any = None
        self._panel_text: str | None = None
        self._panel: Any = None
        self._proxies: dict[str, tuple[Any, np.ndarray]] = {}
        self._proxy_actors: dict[str, Any] = {}
        self._coarse_on = False
        self._draw_layers()
        self._draw_ground()
        self._draw_problems()
        self._draw_color_key()
        self.set_camera(state.camera_preset(options.camera if options.camera in CAMERA_PRESETS else "oblique"))
        self._update_text()
        if options.widgets and not off_screen:
            self._add_widgets()
            self._add_keys()

    # --- drawing -----------------------------------------------------------------------------------
    def _draw_layers(self) -> None:
        coarse = self.state.uses_roof_proxy
        for lm in self.state.meshes.layers:
            poly = lm.to_polydata()
            rgb = self.state.coloring.cell_rgb(lm)
            poly.cell_data["colors"] = rgb
            self.layer_polys[lm.key] = poly
            self.actors[lm.key] = self.plotter.add_mesh(
                poly, scalars="colors", rgb=True, name=lm.key, show_scalar_bar=False,
                ambient=0.35, diffuse=0.7, specular=0.0, reset_camera=False,
            )
            if coarse:
                # While the mouse turns the view, only the roofs are drawn (a sixth of a box's
                # triangles): software renderers stay fluid, and a city still reads from above.
                cells = lm.roof_cells()
                proxy = self.pv.PolyData.from_regular_faces(lm.points, lm.faces[cells])
                proxy.cell_data["colors"] = rgb[cells]
                self._proxies[lm.key] = (proxy, cells)
                actor = self.plotter.add_mesh(
                    proxy, scalars="colors", rgb=True, name=f"{lm.key}/roofs", show_scalar_bar=False,
                    ambient=0.35, diffuse=0.7, specular=0.0, reset_camera=False, pickable=False,
                )
                actor.SetVisibility(False)
                self._proxy_actors[lm.key] = actor

    def _draw_ground(self) -> None:
        for lines in self.state.ground:
            poly = lines.to_polydata()
            poly.cell_data["colors"] = self.state.ground_rgb(lines)
            self.layer_polys[lines.key] = poly
            width = max(1.0, lines.width * self.state.ground_width_scale)
            self.actors[lines.key] = self.plotter.add_mesh(
                poly, scalars="colors", rgb=True, line_width=width, lighting=False, name=lines.key,
                reset_camera=False, show_scalar_bar=False,
            )

    def coarse(self, on: bool) -> None:
        """Swap the layers for their roof proxies (``on``) or back, keeping hidden layers hidden."""
        if not self._proxy_actors or on == self._coarse_on:
            return
        self._coarse_on = on
        for key, proxy_actor in self._proxy_actors.items():
            visible = self.state.visible.get(key, True)
            proxy_actor.SetVisibility(visible and on)
            self.actors[key].SetVisibility(visible and not on)

    def _draw_problems(self) -> None:
        if not len(self.state.problems):
            return
        self.plotter.remove_actor(PROBLEMS_LAYER, render=False)
        glyphs = self.state.glyphs
        if not len(glyphs):
            self.actors.pop(PROBLEMS_LAYER, None)
            return
        poly = glyphs.to_polydata()
        self.actors[PROBLEMS_LAYER] = self.plotter.add_mesh(
            poly, scalars="severity_rgb", rgb=True, name=PROBLEMS_LAYER, show_scalar_bar=False,
            ambient=0.35, diffuse=0.75, specular=0.2, reset_camera=False,
        )
        self.actors[PROBLEMS_LAYER].SetVisibility(self.state.visible.get(PROBLEMS_LAYER, True))

    def _recolor(self) -> None:
        for lines in self.state.ground:
            poly = self.layer_polys[lines.key]
            poly.cell_data["colors"] = self.state.ground_rgb(lines)
            poly.Modified()
        for lm in self.state.meshes.layers:
            poly = self.layer_polys[lm.key]
            rgb = self.state.coloring.cell_rgb(lm)
            poly.cell_data["colors"] = rgb
            poly.Modified()
            if lm.key in self._proxies:
                proxy, cells = self._proxies[lm.key]
                proxy.cell_data["colors"] = rgb[cells]
                proxy.Modified()

    def _legend_width(self, title: str, rows: list[tuple[str, tuple[int, int, int]]]) -> float:
        """Width (normalised) a legend box needs for its longest label at the row height."""
        entries = [title, *(text for text, _ in rows)]
        longest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) for text in entries)
        return float(np.clip((longest * 6.5 + 36) / float(self.state.options.window_size[0]), 0.12, 0.45))

    def _legend_box(self, title: str, rows: list[tuple[str, tuple[int, int, int]]], top: float,
                    width: float | None = None) -> float:
        """A legend box at the right edge, ``width`` wide (default: as its labels need); returns the
        bottom of the box (normalised)."""
        from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor

        # Colour squares as icons with the entry colour unset: the text then keeps the text
        # property's dark colour instead of taking the (often pale) swatch colour.
        box = vtkLegendBoxActor()
        entries = [(title, None), *rows] if title else list(rows)
        box.SetNumberOfEntries(len(entries))
        for i, (text, rgb) in enumerate(entries):
            box.SetEntry(i, _swatch(rgb), text, [-1.0, -1.0, -1.0])
        _set_font(box.GetEntryTextProperty(), self.font_file)
        box.SetBorder(True)
        box.SetUseBackground(True)
        box.SetBackgroundColor(1.0, 1.0, 1.0)
        box.SetBackgroundOpacity(0.85)
        # Wide enough for the longest label at the row height (VTK shrinks text to fit the box).
        width = width if width is not None else self._legend_width(title, rows)
        # Rows of a fixed pixel height: VTK scales the text to the box, so a box sized in viewport
        # fractions would shrink its text in small windows.
        row = 17.0 / float(self.state.options.window_size[1])
        # A lone row gets more room: VTK pads a legend box, which would squeeze a single line.
        height = min(row * max(len(entries), 1.25), top - 0.02)
        box.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        box.GetPositionCoordinate().SetValue(0.99 - width, top - height)
        box.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
        box.GetPosition2Coordinate().SetValue(width, height)
        self.plotter.add_actor(box, reset_camera=False, name=f"legend-{len(self._legends)}")
        self._legends.append(box)
        return top - height - 0.015

    def _draw_color_key(self) -> None:
        from vtkmodules.vtkCommonCore import vtkLookupTable
        from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor

        for box in self._legends:
            self.plotter.remove_actor(box, render=False)
        self._legends = []
        if self._scalar_bar is not None:
            self.plotter.remove_actor(self._scalar_bar, render=False)
            self._scalar_bar = None
        coloring = self.state.coloring
        title = label(coloring.title, self.bilingual)
        top = 0.98
        if coloring.continuous:
            table = colormap_table(coloring.cmap)
            if coloring.reverse:
                table = table[::-1]
            lut = vtkLookupTable()
            lut.SetNumberOfTableValues(len(table))
            for i, (r, g, b) in enumerate(table):
                lut.SetTableValue(i, r / 255.0, g / 255.0, b / 255.0, 1.0)
            lut.SetRange(*coloring.clim)
            lut.Build()
            bar = vtkScalarBarActor()
            bar.SetLookupTable(lut)
            bar.SetTitle(title + (f" ({coloring.unit})" if coloring.unit else ""))
            bar.SetNumberOfLabels(5)
            bar.SetLabelFormat("%.4g")
            bar.UnconstrainedFontSizeOn()
            _set_font(bar.GetTitleTextProperty(), self.font_file, 14)
            _set_font(bar.GetLabelTextProperty(), self.font_file, 12)
            # Horizontal along the bottom right: long bilingual titles have room there.
            bar.SetOrientationToHorizontal()
            bar.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            bar.GetPositionCoordinate().SetValue(0.42, 0.065)  # above the key help line
            bar.SetWidth(0.56)
            bar.SetHeight(0.1)
            self.plotter.add_actor(bar, reset_camera=False, name="scalar-bar")
            self._scalar_bar = bar
            if coloring.legend:
                top = self._legend_box("", coloring.legend_rows(self.bilingual), top)
        else:
            top = self._legend_box(title, coloring.legend_rows(self.bilingual), top)
        # Boxes under the colour key share one width, so that their edges line up.
        boxes: list[tuple[str, list[tuple[str, tuple[int, int, int]]]]] = []
        if len(self.state.problems) and coloring.mode != "severity":
            from ..model import Severity
            from .colors import SEVERITY_COLORS, SEVERITY_LABELS

            rows = [(label(SEVERITY_LABELS[s], self.bilingual), SEVERITY_COLORS[s]) for s in reversed(list(Severity))]
            boxes.append((label(("问题点", "problem points"), self.bilingual), rows))
        if self.state.ground:
            rows = [(label(lines.label, self.bilingual), lines.rgb) for lines in self.state.ground]
            boxes.append((label(("底图", "context"), self.bilingual), rows))
        if boxes:
            width = max(self._legend_width(box_title, rows) for box_title, rows in boxes)
            for box_title, rows in boxes:
                top = self._legend_box(box_title, rows, top, width)

    def _update_text(self) -> None:
        from vtkmodules.vtkRenderingCore import vtkTextActor

        from .describe import wrap_text

        text = self.state.header_text(self.bilingual)
        if self._panel_text:
            text += "\n\n" + self._panel_text
        if self._panel is None:
            # A plain text actor at a fixed pixel size: a corner annotation would shrink long lines
            # until they are unreadable.
            self._panel = vtkTextActor()
            self._panel.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            self._panel.GetPositionCoordinate().SetValue(0.006, 0.99)
            prop = self._panel.GetTextProperty()
            _set_font(prop, self.font_file, max(12, round(self.state.options.window_size[1] / 45)))
            prop.SetVerticalJustificationToTop()
            prop.SetJustificationToLeft()
            # A pale backing keeps the panel readable over buildings.
            prop.SetBackgroundColor(1.0, 1.0, 1.0)
            prop.SetBackgroundOpacity(0.75)
            self.plotter.add_actor(self._panel, reset_camera=False, name="panel")
        width = max(40, int(self.state.options.window_size[0] / 11))
        self._panel.SetInput(wrap_text(text, width))

    def show_panel(self, text: str | None) -> None:
        """Put ``text`` under the header (None clears it)."""
        self._panel_text = text
        self._update_text()
        self.plotter.render()

    # --- camera and focus --------------------------------------------------------------------------
    def set_camera(self, pose: CameraPose) -> None:
        self.plotter.camera_position = pose.as_list()
        self.plotter.reset_camera_clipping_range()

    def show_preset(self, name: str) -> None:
        """Move the camera to a preset (see :data:`~cim_twin.viewer.state.CAMERA_PRESETS`)."""
        self.set_camera(self.state.camera_preset(name))
        self.plotter.render()

    def _highlight(self, obj_rows: list[int], object_ids: tuple[str, ...] = ()) -> None:
        """Outline displayed objects (rows) and the roads or units a finding names (``object_ids``)."""
        # Not "highlight-…": PyVista's remove_actor("highlight") also removes every "highlight-*".
        self.plotter.remove_actor("highlight", render=False)
        self.plotter.remove_actor("road-outline", render=False)
        segments = [lines.polyline_points(int(i)) for lines, rows in self.state.ground_lines_of(object_ids)
                    for i in rows]
        if segments:
            points = np.concatenate(segments)
            points[:, 2] += 0.2  # above the coloured line it outlines, not fighting it for depth
            counts = [len(seg) for seg in segments]
            starts = np.cumsum([0, *counts[:-1]])
            connectivity = np.concatenate([[n, *range(s, s + n)] for n, s in zip(counts, starts, strict=True)])
            self.plotter.add_mesh(self.pv.PolyData(points, lines=connectivity), color=HIGHLIGHT_COLOR,
                                  line_width=5, lighting=False, name="road-outline", reset_camera=False,
                                  pickable=False)
        points, faces = [], []
        offset = 0
        for lm in self.state.meshes.layers:
            cells = lm.cells_of_objects(obj_rows)
            if len(cells):
                # A compact copy of the few triangles concerned: cheap however large the layer.
                used, local = np.unique(lm.faces[cells], return_inverse=True)
                points.append(lm.points[used])
                faces.append(local.reshape(-1, 3) + offset)
                offset += len(used)
        if points:
            merged = self.pv.PolyData.from_regular_faces(np.concatenate(points), np.concatenate(faces))
            edges = merged.extract_feature_edges(
                feature_angle=25, boundary_edges=True, non_manifold_edges=False, manifold_edges=False
            )
            self.plotter.add_mesh(edges, style="wireframe", color=HIGHLIGHT_COLOR, line_width=3,
                                  name="highlight", reset_camera=False, pickable=False)

    def focus(self, delta: int) -> None:
        """Fly to the next (``+1``) or previous (``-1``) finding and show it in the panel."""
        row = self.state.step(delta)
        if row is None:
            self.show_panel(label(("本年度没有问题", "no findings in this year"), self.bilingual))
            return
        finding = self.state.problems.findings[row]
        self._highlight(self.state.meshes.rows_of(finding.object_ids), finding.object_ids)
        pose = self.state.camera_for_finding(row)
        self._label_focus(pose.focal_point, self.state.focus_label(self.bilingual))
        self.set_camera(pose)
        self.show_panel(self.state.focus_text(self.bilingual))

    def _label_focus(self, where: tuple[float, float, float], text: str | None) -> None:
        """A label over the focused glyph, so the screenshot says which point the panel means."""
        self.plotter.remove_actor("focus-label", render=False)
        if text is None:
            return
        at = np.array([where], dtype=np.float64)
        at[0, 2] += 2.5 * self.state.glyph_radius
        self.plotter.add_point_labels(
            at, [text], font_size=max(12, round(self.state.options.window_size[1] / 45)), bold=False,
            text_color=TEXT_COLOR, font_file=self.font_file, show_points=False, shape="rounded_rect",
            shape_color="white", shape_opacity=0.85, always_visible=True, name="focus-label",
            pickable=False, render=False, reset_camera=False,
        )

    # --- interaction -------------------------------------------------------------------------------
    def set_year(self, year: int) -> None:
        """Show the findings of ``year`` (slider)."""
        if year == self.state.year:
            return
        self.state.set_year(year)
        self._recolor()
        self._draw_problems()
        self._draw_color_key()
        self.plotter.remove_actor("highlight", render=False)
        self.plotter.remove_actor("road-outline", render=False)
        self.plotter.remove_actor("focus-label", render=False)
        self._panel_text = None
        self._update_text()
        self.plotter.render()

    def cycle_coloring(self) -> None:
        """Colour by the next choice: surfaces, severity, each indicator of the run (key ``c``)."""
        choices = self.state.color_choices()
        current = self.state.options.color_by or "semantic"
        self.state.set_color_by(choices[(choices.index(current) + 1) % len(choices)])
        self._recolor()
        self._draw_color_key()
        self._update_text()
        self.plotter.render()

    def set_visible(self, key: str, visible: bool) -> None:
        self.state.visible[key] = visible
        actor = self.actors.get(key)
        if actor is not None:
            actor.SetVisibility(visible and not (self._coarse_on and key in self._proxy_actors))
        if key in self._proxy_actors:
            self._proxy_actors[key].SetVisibility(visible and self._coarse_on)
        self.plotter.render()

    def pick_at(self, x: int, y: int) -> str | None:
        """Show what is under display position (x, y) in the panel; returns the text."""
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        picker = vtkCellPicker()
        picker.SetTolerance(0.002)
        if not picker.Pick(x, y, 0, self.plotter.renderer):
            return None
        actor, cell = picker.GetActor(), picker.GetCellId()
        for key, candidate in self.actors.items():
            if candidate is actor or (actor is not None and candidate.GetAddressAsString("vtkObject") ==
                                      actor.GetAddressAsString("vtkObject")):
                text = self.state.pick(key, int(cell), self.bilingual)
                if text is not None:
                    if key == PROBLEMS_LAYER:
                        row = self.state.glyphs.finding_of_cell(int(cell))
                        ids = self.state.problems.findings[row].object_ids if row is not None else ()
                        self._highlight(self.state.meshes.rows_of(ids), ids)
                    elif key.startswith("ground/"):
                        lines = next(g for g in self.state.ground if g.key == key)
                        fid = lines.feature_ids[int(cell)]
                        self._highlight([], (fid,) if fid else ())
                    else:
                        self._highlight([int(self.state.meshes.layer(key).objects_of_cells([cell])[0])])
                    self.show_panel(text)
                return text
        return None

    def _pick_under_mouse(self, *_: Any) -> None:
        x, y = self.plotter.iren.get_event_position()
        self.pick_at(x, y)

    def _end_interaction(self, *_: Any) -> None:
        self.coarse(False)
        self.plotter.render()

    def _add_keys(self) -> None:
        add = self.plotter.add_key_event
        for key in ("n", "Right", "Next"):
            add(key, lambda: self.focus(+1))
        for key in ("N", "Left", "Prior"):
            add(key, lambda: self.focus(-1))
        add("i", lambda: self._pick_under_mouse())
        add("c", self.cycle_coloring)
        add("h", lambda: self.show_preset("oblique"))
        for name, (_, _, _, key) in CAMERA_PRESETS.items():
            add(key, lambda name=name: self.show_preset(name))
        self.plotter.iren.add_observer("RightButtonPressEvent", self._pick_under_mouse)
        if self._proxy_actors:
            self.plotter.iren.add_observer("StartInteractionEvent", lambda *_: self.coarse(True))
            self.plotter.iren.add_observer("EndInteractionEvent", self._end_interaction)

    def _add_widgets(self) -> None:
        keys = [k for k in self.state.visible]
        size = 22
        for i, key in enumerate(keys):
            y = 12 + i * (size + 8)
            self.plotter.add_checkbox_button_widget(
                lambda on, key=key: self.set_visible(key, bool(on)), value=True, position=(12, y), size=size,
                border_size=2, color_on=(0.25, 0.45, 0.75), color_off=(0.8, 0.8, 0.8),
            )
            self.plotter.add_text(
                self.state.layer_label(key, self.bilingual), position=(12 + size + 8, y + 3), font_size=9,
                color=TEXT_COLOR, font_file=self.font_file, name=f"toggle-{key}", render=False,
            )
        years = self.state.year_range
        if years is not None and self.state.year is not None:
            lo, hi = years
            if hi == lo:
                hi = lo + 1
            slider = self.plotter.add_slider_widget(
                lambda value: self.set_year(round(value)), rng=(lo, hi), value=self.state.year,
                title=label(("年份", "year"), self.bilingual), pointa=(0.26, 0.1), pointb=(0.56, 0.1),
                fmt="%.0f", style="modern", interaction_event="end", title_height=0.02,
            )
            rep = slider.GetRepresentation()
            _set_font(rep.GetTitleProperty(), self.font_file)
            _set_font(rep.GetLabelProperty(), self.font_file)
        help_text = (
            "n/→ 下一个问题 next · N/← 上一个 previous · 右键/i 查询 pick\n"
            "c 着色 colour · F1–F6 视角 views · h 全景 overview · q 退出 quit"
            if self.bilingual
            else "n/→ next problem · N/← previous · right click/i pick\nc colour · F1–F6 views · h overview · q quit"
        )
        self.plotter.add_text(help_text, position="lower_right", font_size=8, color=TEXT_COLOR,
                              font_file=self.font_file, name="help", render=False)

    # --- output ------------------------------------------------------------------------------------
    def image(self) -> np.ndarray:
        """Render and return the frame as ``(h, w, 3)`` uint8."""
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))

    def show(self) -> None:
        """Open the window and block until it is closed."""
        self.plotter.show(title=self.state.options.title, auto_close=True)

    def close(self) -> None:
        self.plotter.close()
