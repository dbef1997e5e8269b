"""What the viewer shows, without GL: merged layers, findings of the chosen year in worst-first
order, the colouring, which layers are on, picking answers and camera poses.

:class:`~cim_twin.viewer.app.Viewer` draws a :class:`ViewerState`; tests drive the state directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..indicators.api import AuxLayer
from ..scene import Scene
from .coloring import Coloring, ObjectFindings, resolve_coloring
from .colors import SEVERITY_COLORS, SEVERITY_LABELS, label
from .describe import MAX_FINDING_LINES, describe_finding, describe_object, finding_line
from .ground import GroundLines, build_ground_lines
from .problems import ProblemGlyphs, ProblemSet, RunFindings
from .scene_mesh import LAYER_LABELS, SceneMeshes, build_scene_meshes, round_origin

__all__ = ["CAMERA_PRESETS", "CameraPose", "ViewOptions", "ViewerState"]

PROBLEMS_LAYER = "problems"
#: Above this many triangles, the window draws roofs only while the view turns (software OpenGL
#: draws 1.2 M triangles at about 5 frames a second on two cores, their 200k roofs at 30).
ROOF_PROXY_TRIANGLES = 400_000


@dataclass(frozen=True)
class CameraPose:
    """Camera position, focal point and view-up in the display frame."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float]

    def as_list(self) -> list[tuple[float, float, float]]:
        return [self.position, self.focal_point, self.view_up]


#: Camera presets: bearing of the camera from the focal point (degrees clockwise from north) and
#: elevation above the horizon; with their bilingual names and keys.
CAMERA_PRESETS: dict[str, tuple[float, float, tuple[str, str], str]] = {
    "oblique": (210.0, 35.0, ("轴测", "oblique"), "F1"),
    "top": (180.0, 89.5, ("俯视", "top"), "F2"),
    "south": (180.0, 15.0, ("南立面", "from south"), "F3"),
    "east": (90.0, 15.0, ("东立面", "from east"), "F4"),
    "north": (0.0, 15.0, ("北立面", "from north"), "F5"),
    "west": (270.0, 15.0, ("西立面", "from west"), "F6"),
}
_VIEW_ANGLE_DEG = 30.0  # VTK's default camera view angle


@dataclass
class ViewOptions:
    """How to view.

    Attributes
    ----------
    color_by:
        ``semantic`` (default), ``severity``, an indicator code or an attribute name.
    year:
        Show the findings valid in this year (default: the latest year of the run).
    lod:
        Draw objects at this LOD (default: each at its highest).
    window_size:
        Width and height in pixels.
    camera:
        A key of :data:`CAMERA_PRESETS`.
    font_file:
        Font for Chinese labels; ``"auto"`` looks for one (:func:`~cim_twin.viewer.fonts.find_cjk_font`),
        None: English labels only.
    widgets:
        Layer check boxes and the year slider (interactive windows only).
    roof_proxy:
        Draw only the roofs while the view is being turned; None: when the scene has more than
        :data:`ROOF_PROXY_TRIANGLES` triangles.
    title:
        Window title and first header line.
    """

    color_by: str | None = None
    year: int | None = None
    lod: int | None = None
    window_size: tuple[int, int] = (1280, 800)
    camera: str = "oblique"
    font_file: str | None = "auto"
    widgets: bool = True
    roof_proxy: bool | None = None
    title: str = "cim-twin"


class ViewerState:
    """The viewer's model (see the module docstring).

    Parameters
    ----------
    scene:
        The scene to show.
    run:
        The run whose findings to show (None: the scene only).
    options:
        View options.
    context:
        Project layers in the scene CRS; those of kind ``roads`` and ``units`` are drawn as lines
        on the ground (see :mod:`.ground`).

    Raises
    ------
    ConfigError
        for a ``color_by`` that is neither a mode, an indicator of the run nor an attribute.
    """

    def __init__(self, scene: Scene, run: RunFindings | None = None, options: ViewOptions | None = None,
                 context: Iterable[AuxLayer] = ()) -> None:
        self.options = options or ViewOptions()
        self.scene = scene
        self.meshes: SceneMeshes = build_scene_meshes(scene, self.options.lod)
        self.run = run
        self.problems = ProblemSet(run.findings if run is not None else [])
        self.links = ObjectFindings(self.meshes, self.problems)
        self.specs = run.specs if run is not None else {}
        self._attribute_names = scene.attribute_names()
        self.year_range = self.problems.year_range()
        self.visible: dict[str, bool] = {lm.key: True for lm in self.meshes.layers}
        if len(self.problems):
            self.visible[PROBLEMS_LAYER] = True
        #: Things the user should know (printed by the command line).
        self.warnings: list[str] = []
        lo, hi = self.meshes.bounds
        if len(self.problems):
            local = self.meshes.to_local(self.problems.positions).astype(np.float64)
            if not self.meshes.layers:
                # Nothing drawn but findings: centre the display frame on them (float32 precision).
                pos = self.problems.positions
                self.meshes.origin = round_origin(pos.min(axis=0), pos.max(axis=0))
                local = self.meshes.to_local(pos).astype(np.float64)
                lo, hi = local.min(axis=0), local.max(axis=0)
            else:
                # Findings far outside the model mean another CRS or another area: say so, and
                # keep framing the model rather than a continent.
                margin = max(1000.0, 0.5 * float(np.max(hi - lo)))

                def far_away(points: np.ndarray) -> np.ndarray:
                    return np.any((points[:, :2] < lo[:2] - margin) | (points[:, :2] > hi[:2] + margin), axis=1)

                outside = far_away(local)
                moved = _positions_from_lonlat(self.problems, scene) if outside.any() else None
                if moved is not None:
                    # A run checked in the project CRS shown on a tileset read in another frame
                    # (east-north-up by default): place the findings by their longitude and latitude.
                    moved_local = self.meshes.to_local(moved).astype(np.float64)
                    moved_outside = far_away(moved_local)
                    if moved_outside.sum() < outside.sum():
                        self.problems.positions = moved
                        local, outside = moved_local, moved_outside
                if outside.any():
                    self.warnings.append(
                        f"{int(outside.sum())} of {len(outside)} findings lie more than {margin:.0f} m outside "
                        "the model: is the run from another area or CRS?"
                    )
                near = local[~outside]
                if len(near):
                    lo, hi = np.minimum(lo, near.min(axis=0)), np.maximum(hi, near.max(axis=0))
        self.bounds = (lo, hi)
        # Roads and boundaries: at the lowest base of the model; not part of the framing (a road
        # network usually reaches far beyond the buildings loaded).
        self.ground: list[GroundLines] = build_ground_lines(context, self.meshes.origin, float(lo[2]))
        for lines in self.ground:
            self.visible[lines.key] = True
        #: Line widths shrink over large areas, where boundaries would otherwise cover the city.
        self.ground_width_scale = float(np.clip(2000.0 / max(float(np.linalg.norm((hi - lo)[:2])), 1.0), 0.5, 1.0))
        # Findings that name a road or unit feature (a sidewalk too narrow, a street canyon).
        ground_ids = {fid for lines in self.ground for fid in lines.feature_ids if fid is not None}
        self._findings_of_feature: dict[str, list[int]] = {}
        for row, f in enumerate(self.problems.findings):
            for oid in set(f.object_ids) & ground_ids:
                self._findings_of_feature.setdefault(oid, []).append(row)
        #: Glyph radius (m) of a score-0.5 finding: a quarter of a typical building's width, so that
        #: dense old-town findings do not merge into one carpet, yet visible from the overview.
        self.glyph_radius = _glyph_radius(self.meshes, float(np.linalg.norm((hi - lo)[:2])))
        self.mask = np.ones(len(self.problems), dtype=bool)
        self.order = np.zeros(0, dtype=np.int64)
        self.current = -1
        self.year: int | None = None
        self.coloring: Coloring
        self.glyphs: ProblemGlyphs
        default_year = self.year_range[1] if self.year_range else None
        self.set_year(self.options.year if self.options.year is not None else default_year)

    @property
    def uses_roof_proxy(self) -> bool:
        """Whether the window swaps in roof-only layers while the view turns."""
        if self.options.roof_proxy is not None:
            return self.options.roof_proxy
        return self.meshes.n_triangles > ROOF_PROXY_TRIANGLES

    # --- year and order ----------------------------------------------------------------------------
    def set_year(self, year: int | None) -> None:
        """Show the findings valid in ``year``: new worst-first order, colouring and glyphs."""
        self.year = year
        self.mask = self.problems.valid_in_year(year)
        self.order = self.problems.worst_first(self.mask)
        self.current = -1
        self.coloring = resolve_coloring(
            self.options.color_by, self.meshes, self.links, self.mask, self._attribute_names, self.specs
        )
        self.glyphs = ProblemGlyphs(self.problems, self.order, self.meshes.origin, self.glyph_radius)

    # --- ground lines ------------------------------------------------------------------------------
    def ground_rgb(self, lines: GroundLines) -> np.ndarray:
        """``(n_lines, 3)`` uint8 colours: the layer's own, or the severity colour of the worst
        finding of the year that names the line's feature."""
        from ..model import Severity

        rgb = np.tile(np.array(lines.rgb, dtype=np.uint8), (len(lines), 1))
        severities = list(Severity)
        for i, fid in enumerate(lines.feature_ids):
            rows = [r for r in self._findings_of_feature.get(fid or "", ()) if self.mask[r]]
            if rows:
                rgb[i] = SEVERITY_COLORS[severities[int(self.problems.rank[rows].max())]]
        return rgb

    def ground_findings(self, feature_id: str | None) -> np.ndarray:
        """Rows of the year's findings that name ``feature_id``, worst first."""
        only = np.zeros(len(self.problems), dtype=bool)
        only[self._findings_of_feature.get(feature_id or "", [])] = True
        return self.problems.worst_first(only & self.mask)

    def ground_lines_of(self, object_ids: Iterable[str]) -> list[tuple[GroundLines, np.ndarray]]:
        """The ground polylines of some feature ids (for outlining a finding's road)."""
        ids = set(object_ids)
        found = [(lines, lines.lines_of(ids)) for lines in self.ground]
        return [(lines, rows) for lines, rows in found if len(rows)]

    def color_choices(self) -> list[str]:
        """What the ``c`` key cycles through: surfaces, severity, then the run's indicators."""
        choices = ["semantic"]
        if len(self.problems):
            choices += ["severity", *self.problems.indicators]
        current = self.options.color_by or "semantic"
        if current not in choices:
            choices.append(current)
        return choices

    def set_color_by(self, color_by: str) -> None:
        """Colour by something else (same choices as ``--color-by``).

        Raises
        ------
        ConfigError
            for an unknown choice (the colouring is left as it was).
        """
        coloring = resolve_coloring(color_by, self.meshes, self.links, self.mask, self._attribute_names, self.specs)
        self.options.color_by = color_by
        self.coloring = coloring

    def step(self, delta: int) -> int | None:
        """Move to the next (``+1``) or previous (``-1``) finding in worst-first order, wrapping
        around; returns its row in the problem set (None without findings this year)."""
        if not len(self.order):
            self.current = -1
            return None
        if self.current < 0:
            self.current = 0 if delta >= 0 else len(self.order) - 1
        else:
            self.current = (self.current + delta) % len(self.order)
        return int(self.order[self.current])

    @property
    def current_finding(self) -> int | None:
        return int(self.order[self.current]) if 0 <= self.current < len(self.order) else None

    # --- picking -----------------------------------------------------------------------------------
    def pick(self, target: str, cell_id: int, bilingual: bool = True) -> str | None:
        """Panel text for a picked triangle of a layer (``"buildings/lod2"``) or of the problem
        glyphs (``"problems"``); None when the cell belongs to nothing."""
        if target == PROBLEMS_LAYER:
            row = self.glyphs.finding_of_cell(cell_id)
            if row is None:
                return None
            position = int(np.flatnonzero(self.order == row)[0]) + 1
            return describe_finding(self.problems.findings[row], position, len(self.order), bilingual)
        for lines in self.ground:
            if lines.key == target:
                if not 0 <= cell_id < len(lines):
                    return None
                text = lines.describe(cell_id, bilingual)
                rows = self.ground_findings(lines.feature_ids[cell_id])
                if len(rows):
                    text += f"\n{'问题 ' if bilingual else ''}findings: {len(rows)}"
                    text += "".join("\n  " + finding_line(self.problems.findings[r], bilingual)
                                    for r in rows[:MAX_FINDING_LINES])
                return text
        layer = self.meshes.layer(target)
        obj_row = int(layer.objects_of_cells([cell_id])[0])
        if obj_row < 0:
            return None
        return self.describe_row(obj_row, bilingual)

    def describe_row(self, obj_row: int, bilingual: bool = True) -> str:
        """Panel text of displayed object ``obj_row`` with its findings of the current year."""
        rows = self.links.findings_of(obj_row, self.mask)
        findings = [self.problems.findings[i] for i in rows]
        return describe_object(self.meshes.objects[obj_row], findings, bilingual)

    def focus_label(self, bilingual: bool = True) -> str | None:
        """Short label of the current finding: ``#1 严重 high X-TALL``."""
        row = self.current_finding
        if row is None:
            return None
        f = self.problems.findings[row]
        return f"#{self.current + 1} {label(SEVERITY_LABELS[f.severity], bilingual)} {f.indicator}"

    def focus_text(self, bilingual: bool = True) -> str | None:
        row = self.current_finding
        if row is None:
            return None
        return describe_finding(self.problems.findings[row], self.current + 1, len(self.order), bilingual)

    # --- cameras -----------------------------------------------------------------------------------
    def camera_preset(self, name: str) -> CameraPose:
        """The pose of a preset, framing the whole scene.

        Raises
        ------
        KeyError
            for an unknown preset name.
        """
        bearing, elevation, _, _ = CAMERA_PRESETS[name]
        lo, hi = self.bounds
        centre = (lo + hi) / 2.0
        width, height = self.options.window_size
        distance = _fit_distance(lo, hi, bearing, elevation, width / max(height, 1))
        return _pose(centre, distance, bearing, elevation)

    def camera_for_finding(self, row: int) -> CameraPose:
        """A close oblique view of finding ``row``, its glyph in the middle."""
        where = int(np.flatnonzero(self.glyphs.indices == row)[0]) if row in self.glyphs.indices else None
        if where is not None:
            centre = self.glyphs.centres[where]
        else:
            centre = self.meshes.to_local(self.problems.positions[row])[0].astype(np.float64)
        # Frame the objects concerned in their street: a house from 150 m, so the neighbours and the
        # street it stands on are in the picture; a long block from further away.
        rows = self.meshes.rows_of(self.problems.findings[row].object_ids)
        size = 0.0
        for obj_row in rows[:20]:
            lo, hi = self.meshes.objects[obj_row].bounds
            size = max(size, float(np.linalg.norm(hi - lo)))
        distance = float(np.clip(6.0 * size, 150.0, 1200.0))
        # ... but never further than the view of the whole model (a scene of one house).
        lo, hi = self.bounds
        width, height = self.options.window_size
        distance = min(distance, _fit_distance(lo, hi, 210.0, 40.0, width / max(height, 1)))
        return _pose(np.asarray(centre, dtype=np.float64), distance, 210.0, 40.0)

    # --- text --------------------------------------------------------------------------------------
    def header_text(self, bilingual: bool = True) -> str:
        """First lines of the panel: title, run and year, counts, colouring."""
        lines = [self.options.title]
        counts = f"{len(self.meshes.objects)} {'个对象 ' if bilingual else ''}objects"
        if self.run is not None:
            shown = int(self.mask.sum())
            year = f" · {'年份 ' if bilingual else ''}year {self.year}" if self.year is not None else ""
            lines.append(f"{'体检 ' if bilingual else ''}run {self.run.label}{year}")
            counts += f" · {shown} / {len(self.problems)} {'个问题 ' if bilingual else ''}findings"
        lines.append(counts)
        lines.append(f"{'着色 ' if bilingual else ''}colour: {label(self.coloring.title, bilingual)}")
        return "\n".join(lines)

    def layer_label(self, key: str, bilingual: bool = True) -> str:
        if key == PROBLEMS_LAYER:
            return label(("问题点", "problem points"), bilingual)
        for lines in self.ground:
            if lines.key == key:
                return label(lines.label, bilingual)
        layer, _, lod = key.partition("/")
        return f"{label(LAYER_LABELS.get(layer, (layer, layer)), bilingual)} {lod.upper()}"


def _glyph_radius(meshes: SceneMeshes, diagonal: float) -> float:
    """A quarter of the median building width (xy), at least a two-hundredth of the scene so that
    glyphs stay visible in the overview of a district, and between 0.8 m and 10 m."""
    widths = []
    for lm in meshes.layers:
        if lm.layer != "buildings" or not lm.n_triangles:
            continue
        # Width of each object from its triangles' x extent, vectorised over the layer.
        xs = lm.points[lm.faces[:, 0], 0]
        order_starts = np.flatnonzero(np.r_[True, np.diff(lm.object_index) != 0])
        lo = np.minimum.reduceat(xs, order_starts)
        hi = np.maximum.reduceat(xs, order_starts)
        widths.append(hi - lo)
    typical = float(np.median(np.concatenate(widths))) if widths else 10.0
    return float(np.clip(max(0.25 * typical, diagonal / 200.0), 0.8, 10.0))


def _positions_from_lonlat(problems: ProblemSet, scene: Scene) -> np.ndarray | None:
    """Positions of the findings in the scene CRS from their lon, lat and height (ellipsoidal where
    known, else their z); None when a finding lacks them or the scene is not georeferenced."""
    from ..crs import transform_arrays, transformer

    crs = scene.crs
    findings = problems.findings
    if crs is None or crs.is_local or crs.is_geographic or not findings:
        return None
    if any(f.lon is None or f.lat is None for f in findings):
        return None
    lon = np.array([f.lon for f in findings], dtype=np.float64)
    lat = np.array([f.lat for f in findings], dtype=np.float64)
    h = np.array([f.z if f.height is None else f.height for f in findings], dtype=np.float64)
    x, y, z = transform_arrays(transformer("EPSG:4979", crs.horizontal_key), lon, lat, h)
    return np.column_stack([x, y, z])


def _fit_distance(lo: np.ndarray, hi: np.ndarray, bearing_deg: float, elevation_deg: float, aspect: float) -> float:
    """Camera distance from the box centre at which the whole box ``lo``-``hi`` fills the view.

    A city is much flatter than its bounding sphere, so fitting the sphere would leave most of an
    oblique view empty: the box's eight corners are fitted in the camera frame instead, with
    margins for the panel and the legends.
    """
    pose = _pose(np.zeros(3), 1.0, bearing_deg, elevation_deg)
    forward = -np.asarray(pose.position)  # unit vector from the camera towards the centre
    right = np.cross(forward, pose.view_up)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    half = (np.asarray(hi, dtype=np.float64) - np.asarray(lo, dtype=np.float64)) / 2.0
    half = np.maximum(half, 2.5)  # a single small object still gets some room around it
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
    # Margins of about a seventh of the window all round: the panel stands at the top left, the
    # legends at the right, the scalar bar at the bottom right.
    tan_v = math.tan(math.radians(_VIEW_ANGLE_DEG / 2.0))
    tan_h = tan_v * aspect / 1.3
    tan_v /= 1.3
    depth = corners @ forward  # positive: farther than the centre
    needed = np.maximum(np.abs(corners @ right) / tan_h, np.abs(corners @ up) / tan_v) - depth
    return float(max(needed.max(), 10.0))


def _pose(centre: np.ndarray, distance: float, bearing_deg: float, elevation_deg: float) -> CameraPose:
    b, e = math.radians(bearing_deg), math.radians(elevation_deg)
    direction = np.array([math.sin(b) * math.cos(e), math.cos(b) * math.cos(e), math.sin(e)])
    position = centre + distance * direction
    # Straight down, "up" on screen is north; otherwise the sky.
    up = (0.0, 1.0, 0.0) if elevation_deg > 89.0 else (0.0, 0.0, 1.0)
    return CameraPose(
        tuple(float(v) for v in position),  # type: ignore[arg-type]
        tuple(float(v) for v in centre),  # type: ignore[arg-type]
        up,
    )
