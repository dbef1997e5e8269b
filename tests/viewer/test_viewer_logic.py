"""Viewer logic without GL: merged meshes, colouring, year filter, worst-first order, picking,
cameras, loading findings, and the CLI's checks."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from cim_twin.errors import CimTwinError, ConfigError, FormatError
from cim_twin.model import Severity
from cim_twin.scene import CityObject, Scene, SurfaceType
from cim_twin.serialization import dumps
from cim_twin.viewer.coloring import ObjectFindings, resolve_coloring
from cim_twin.viewer.colors import (
    NAN_COLOR,
    NO_FINDING_COLOR,
    SEMANTIC_COLORS,
    SEVERITY_COLORS,
    categorical_colors,
    colormap_table,
    map_values,
    semantic_colors,
)
from cim_twin.viewer.problems import ProblemSet, RunFindings, load_findings, parse_findings
from cim_twin.viewer.scene_mesh import build_scene_meshes
from cim_twin.viewer.state import PROBLEMS_LAYER, ViewerState, ViewOptions

from .scenes import box_mesh, box_scene, finding, sample_findings


@pytest.fixture()
def scene() -> Scene:
    return box_scene()


@pytest.fixture()
def run(scene: Scene) -> RunFindings:
    return RunFindings(sample_findings(scene), "demo")


# --- merged meshes ------------------------------------------------------------------------------------
def test_one_mesh_per_layer_with_cell_data(scene: Scene) -> None:
    meshes = build_scene_meshes(scene)
    assert [lm.key for lm in meshes.layers] == ["buildings/lod1"]
    layer = meshes.layers[0]
    assert layer.n_triangles == 12 * len(scene.roots)
    assert layer.points.dtype == np.float32 and layer.faces.dtype == np.int32
    # Each object's 12 triangles carry its row; every face indexes that object's own 8 vertices.
    assert np.array_equal(layer.object_index, np.repeat(np.arange(12), 12))
    assert np.array_equal(layer.faces[12:24].min(), 8) and layer.faces.max() == 8 * 12 - 1
    assert np.array_equal(np.bincount(layer.semantic), [0, 24, 96, 24])


def test_origin_keeps_precision(scene: Scene) -> None:
    meshes = build_scene_meshes(scene)
    layer = meshes.layers[0]
    assert np.abs(layer.points).max() < 1000  # small numbers on the GPU
    back = layer.points.astype(np.float64) + meshes.origin
    original = np.concatenate([o.mesh().vertices for o in meshes.objects])
    assert np.abs(back - original).max() < 1e-3
    # Without the origin, float32 would lose the decimetres of a 2.9 million metre northing.
    assert np.abs(original.astype(np.float32).astype(np.float64) - original).max() > 0.01


def test_mixed_lods_make_a_mesh_each_and_lod_option_picks_nearest() -> None:
    scene = Scene()
    scene.add(CityObject("a", "Building", geometry={1: box_mesh(0, 0, 5, 5, 5), 2: box_mesh(0, 0, 5, 5, 6)}))
    scene.add(CityObject("b", "Building", geometry={1: box_mesh(10, 0, 5, 5, 5)}))
    scene.add(CityObject("r", "Road", geometry={0: box_mesh(0, -10, 30, 4, 0.1)}))
    scene.add(CityObject("empty", "Building"))
    meshes = build_scene_meshes(scene)
    assert [lm.key for lm in meshes.layers] == ["buildings/lod1", "buildings/lod2", "transport/lod0"]
    assert [o.id for o in meshes.objects] == ["a", "b", "r"]
    forced = build_scene_meshes(scene, lod=1)
    assert [lm.key for lm in forced.layers] == ["buildings/lod1", "transport/lod0"]
    assert forced.layers[0].n_triangles == 24


def test_parts_map_to_their_building() -> None:
    part = CityObject("part-1", "BuildingPart", geometry={2: box_mesh(0, 0, 3, 3, 3)})
    scene = Scene()
    scene.add(CityObject("house", "Building", geometry={2: box_mesh(5, 0, 3, 3, 3)}, children=[part]))
    meshes = build_scene_meshes(scene)
    assert meshes.row_of("part-1") == meshes.row_of("house") == 0
    assert meshes.layers[0].n_triangles == 24


# --- colours ------------------------------------------------------------------------------------------
def test_semantic_and_severity_colors() -> None:
    rgb = semantic_colors(np.array([SurfaceType.ROOF, SurfaceType.WALL, 250], dtype=np.uint8))
    assert tuple(rgb[0]) == SEMANTIC_COLORS[SurfaceType.ROOF]
    assert tuple(rgb[1]) == SEMANTIC_COLORS[SurfaceType.WALL]
    assert tuple(rgb[2]) == SEMANTIC_COLORS[SurfaceType.UNKNOWN]


def test_map_values_clamps_reverses_and_greys_nan() -> None:
    table = colormap_table("ylorrd")
    out = map_values(np.array([-5.0, 0.0, 10.0, 99.0, np.nan]), (0.0, 10.0))
    assert tuple(out[0]) == tuple(out[1]) == tuple(table[0])
    assert tuple(out[2]) == tuple(out[3]) == tuple(table[-1])
    assert tuple(out[4]) == NAN_COLOR
    rev = map_values(np.array([0.0]), (0.0, 10.0), reverse=True)
    assert tuple(rev[0]) == tuple(table[-1])


def test_categories_most_frequent_first_and_other() -> None:
    cats = categorical_colors(["b", "a", "b", None, "c"], max_categories=2)
    assert cats.categories == ("b", "a")
    assert cats.codes.tolist() == [0, 1, 0, -1, 2]
    labels = [row[0] for row in cats.entries(bilingual=False)]
    assert labels == ["b", "a", "other", "no value"]


# --- findings: years and order ----------------------------------------------------------------------
def test_year_filter_uses_the_findings_own_timezone(scene: Scene, run: RunFindings) -> None:
    problems = ProblemSet(run.findings)
    # Valid from 2024-01-01T00:00+08:00 (still 2023 in UTC) counts for 2024, not for 2023.
    assert problems.valid_in_year(2023).sum() == 0
    assert problems.valid_in_year(2024).tolist() == [True, True, True, True, False]
    # The second finding ends on 2025-01-01: fixed, gone in 2025, while one new appears.
    assert problems.valid_in_year(2025).tolist() == [True, False, True, True, True]
    assert problems.valid_in_year(None).all()
    assert problems.year_range() == (2024, 2025)


def test_worst_first_order(run: RunFindings) -> None:
    problems = ProblemSet(run.findings)
    order = problems.worst_first(problems.valid_in_year(2025))
    assert [problems.findings[i].severity for i in order] == [
        Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW,
    ]
    # Equal severity and score: the one further beyond its threshold comes first.
    a = finding(run_scene_building(0), "X", "high", value=50.0, threshold=10.0, score=0.8)
    b = finding(run_scene_building(1), "X", "high", value=12.0, threshold=10.0, score=0.8)
    tied = ProblemSet([b, a])
    assert tied.worst_first().tolist() == [1, 0]


def run_scene_building(i: int) -> CityObject:
    return box_scene().buildings()[i]


def test_severity_and_indicator_colouring(scene: Scene, run: RunFindings) -> None:
    meshes = build_scene_meshes(scene)
    problems = ProblemSet(run.findings)
    links = ObjectFindings(meshes, problems)
    mask = problems.valid_in_year(2024)
    sev = resolve_coloring("severity", meshes, links, mask)
    assert tuple(sev.object_rgb[0]) == SEVERITY_COLORS[Severity.CRITICAL]
    assert tuple(sev.object_rgb[5]) == SEVERITY_COLORS[Severity.HIGH]
    assert tuple(sev.object_rgb[10]) == NO_FINDING_COLOR  # its finding starts in 2025
    assert tuple(sev.object_rgb[1]) == NO_FINDING_COLOR
    cells = sev.cell_rgb(meshes.layers[0])
    assert tuple(cells[0]) == SEVERITY_COLORS[Severity.CRITICAL] and len(cells) == 144

    tall = resolve_coloring("X-TALL", meshes, links, mask)
    assert tall.mode == "indicator" and not tall.reverse  # values above the threshold: lower is better
    assert tall.object_values[0] == 33.0 and np.isnan(tall.object_values[1])
    assert tall.clim == (12.0, 33.0)
    old = resolve_coloring("X-OLD", meshes, links, problems.valid_in_year(2025))
    assert old.reverse  # values below the threshold: higher is better


def test_indicator_colouring_ignores_unit_level_findings_of_another_quantity(scene: Scene) -> None:
    """A coverage indicator reports per-building distances (m, too far) and a community's ratio
    (below its target): the colours follow the distances alone."""
    from zoneinfo import ZoneInfo

    from cim_twin.model import ProblemPoint

    b = scene.buildings()
    far = [finding(b[i], "X-PARK", "medium", value=v, threshold=300.0) for i, v in ((1, 340.0), (4, 520.0))]
    tz = ZoneInfo("Asia/Shanghai")
    community = ProblemPoint(
        id="X-PARK|C1|2024", key="X-PARK|C1", indicator="X-PARK", severity=Severity.HIGH, score=0.7, value=0.68,
        threshold=0.9, unit="ratio", x=float(b[0].roof_centre[0]), y=float(b[0].roof_centre[1]), z=0.0,
        unit_id="C1", period="2024", observed_at=datetime(2024, 6, 30, tzinfo=tz),
        valid_from=datetime(2024, 1, 1, tzinfo=tz),
    )
    meshes = build_scene_meshes(scene)
    problems = ProblemSet([*far, community])
    links = ObjectFindings(meshes, problems)
    park = resolve_coloring("X-PARK", meshes, links, problems.valid_in_year(2024))
    assert park.clim == (340.0, 520.0) and park.unit == "m"
    assert not park.reverse  # farther is worse, whatever the community ratio says


def test_attribute_colouring_and_unknown_choice(scene: Scene, run: RunFindings) -> None:
    meshes = build_scene_meshes(scene)
    problems = ProblemSet(run.findings)
    links = ObjectFindings(meshes, problems)
    mask = problems.valid_in_year(2024)
    height = resolve_coloring("height_m", meshes, links, mask, scene.attribute_names())
    assert height.continuous and height.object_values[0] == pytest.approx(6.0)
    func = resolve_coloring("function", meshes, links, mask, scene.attribute_names())
    assert func.object_rgb is not None and {r[0] for r in func.legend_rows(False)} == {"residential", "commercial"}
    built = resolve_coloring("yearOfConstruction", meshes, links, mask, scene.attribute_names())
    assert built.clim[0] == 1950
    with pytest.raises(ConfigError, match="severity, X-OLD, X-TALL"):
        resolve_coloring("nonsense", meshes, links, mask, scene.attribute_names())


# --- state: picking, stepping, cameras ----------------------------------------------------------------
def test_pick_building_and_glyph(scene: Scene, run: RunFindings) -> None:
    state = ViewerState(scene, run, ViewOptions(year=2024))
    layer = state.meshes.layers[0]
    cell = int(np.flatnonzero(layer.object_index == 0)[5])
    text = state.pick(layer.key, cell, bilingual=False)
    assert text is not None
    assert text.startswith("Building B000")
    assert "findings: 1" in text and "[critical] X-TALL 33 m (threshold 10) building too tall" in text
    assert "yearOfConstruction: 1950" in text
    quiet = state.pick(layer.key, int(np.flatnonzero(layer.object_index == 1)[0]), bilingual=False)
    assert quiet is not None and quiet.endswith("no findings")
    assert state.pick(layer.key, 10**6) is None
    # Glyph triangles lead to their finding: the first glyph is the worst.
    glyph_text = state.pick(PROBLEMS_LAYER, 3, bilingual=False)
    assert glyph_text is not None and glyph_text.startswith("#1 / 4  [critical] X-TALL")
    assert "objects B000" in glyph_text


def test_next_previous_and_year_change(scene: Scene, run: RunFindings) -> None:
    state = ViewerState(scene, run, ViewOptions(year=2024))
    assert state.focus_label() is None
    seen = [state.problems.findings[state.step(+1)].severity.value for _ in range(5)]
    assert state.focus_label(bilingual=True) == "#1 严重 critical X-TALL"  # wrapped around to the worst
    assert seen == ["critical", "high", "medium", "low", "critical"]  # wraps around
    assert state.problems.findings[state.step(-1)].severity.value == "low"
    state.set_year(2025)
    assert state.current == -1 and len(state.order) == 4
    assert len(state.glyphs) == 4
    assert state.problems.findings[state.step(-1)].severity.value == "low"  # previous from start = last
    state.set_year(2030)  # open windows are still valid
    assert len(state.order) == 4
    state.set_year(1990)
    assert state.step(+1) is None and len(state.glyphs) == 0


def test_default_year_is_the_latest(scene: Scene, run: RunFindings) -> None:
    assert ViewerState(scene, run).year == 2025
    assert ViewerState(scene).year is None


def test_camera_presets_and_fly_to(scene: Scene, run: RunFindings) -> None:
    state = ViewerState(scene, run, ViewOptions(year=2024))
    lo, hi = state.bounds
    centre = (lo + hi) / 2
    top = state.camera_preset("top")
    assert np.allclose(top.focal_point, centre)
    assert top.position[2] > hi[2] and top.view_up == (0.0, 1.0, 0.0)
    south = state.camera_preset("south")
    assert south.position[1] < lo[1]  # standing south, looking north
    with pytest.raises(KeyError):
        state.camera_preset("sideways")
    row = state.step(+1)
    pose = state.camera_for_finding(row)
    glyph_centre = state.glyphs.centres[0]
    assert np.allclose(pose.focal_point, glyph_centre)
    assert 60 <= np.linalg.norm(np.subtract(pose.position, pose.focal_point)) <= 800
    # The focal point is the finding's own place: scene coordinates minus the origin.
    f = state.problems.findings[row]
    assert np.allclose(np.add(pose.focal_point[:2], state.meshes.origin[:2]), (f.x, f.y))


def test_glyphs_sized_by_score(scene: Scene, run: RunFindings) -> None:
    state = ViewerState(scene, run, ViewOptions(year=2024))
    g = state.glyphs
    assert len(g.faces) == 8 * 4 and g.points.dtype == np.float32
    scores = state.problems.score[g.indices]
    assert np.all(np.diff(g.radius[np.argsort(scores)]) >= 0)
    assert tuple(g.rgb[0]) == SEVERITY_COLORS[Severity.CRITICAL]


def test_header_text(scene: Scene, run: RunFindings) -> None:
    state = ViewerState(scene, run, ViewOptions(year=2024, color_by="severity", title="old town"))
    text = state.header_text(bilingual=True)
    assert "old town" in text and "4 / 5 个问题 findings" in text and "问题等级 severity" in text
    assert "体检 run demo · 年份 year 2024" in text


# --- loading findings ---------------------------------------------------------------------------------
def test_load_findings_from_folder_file_and_run_json(tmp_path, run: RunFindings) -> None:
    data = [f.model_dump(mode="json") for f in run.findings]
    folder = tmp_path / "run-2024"
    folder.mkdir()
    (folder / "findings.json").write_bytes(dumps(data))
    loaded = load_findings(folder)
    assert [f.id for f in loaded.findings] == [f.id for f in run.findings] and loaded.label == "run-2024"
    (tmp_path / "run.json").write_bytes(dumps({"run_id": "r1", "findings_file": "run-2024/findings.json"}))
    assert load_findings(tmp_path / "run.json").label == "r1"
    assert len(load_findings(tmp_path / "run.json").findings) == 5
    (tmp_path / "evil.json").write_bytes(dumps({"run_id": "r1", "findings_file": "../x.json"}))
    with pytest.raises(FormatError, match="outside the run folder"):
        load_findings(tmp_path / "evil.json")


def test_bad_finding_is_a_warning_not_a_failure(run: RunFindings) -> None:
    data = [f.model_dump(mode="json") for f in run.findings]
    data[1]["severity"] = "apocalyptic"
    findings, warnings = parse_findings({"findings": data}, "f.json")
    assert len(findings) == 4 and len(warnings) == 1
    assert "finding #1 skipped: severity" in str(warnings[0])
    with pytest.raises(FormatError, match="no findings list"):
        parse_findings({"something": 1}, "f.json")


def test_bad_json_and_missing_catalog(tmp_path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(FormatError, match="not valid JSON"):
        load_findings(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="no catalog was found"):
        load_findings("2024", catalog=tmp_path / "nothing.gpkg")


def test_load_findings_from_catalog(tmp_path, run: RunFindings) -> None:
    store = pytest.importorskip("cim_twin.catalog.store")
    from cim_twin.model import CheckRun

    path = tmp_path / "catalog.gpkg"
    cat = store.Catalog.open(path)
    try:
        check = CheckRun(id="2024-a", scope="old town", period="2024",
                         started_at=datetime(2024, 7, 1, tzinfo=UTC), software_version="test")
        cat.write_run(check, run.findings, [])
    finally:
        cat.close()
    loaded = load_findings("latest", catalog=path)
    assert loaded.label == "2024-a" and len(loaded.findings) == 5
    with pytest.raises(CimTwinError, match="no run '1999'"):
        load_findings("1999", catalog=path)


# --- CLI and packaging --------------------------------------------------------------------------------
def test_import_stays_headless() -> None:
    code = (
        "import sys, cim_twin, cim_twin.viewer, cim_twin.viewer.state, cim_twin.cli.main;"
        "cim_twin.cli.main.build_parser();"
        "print(any(m.split('.')[0] in ('pyvista', 'vtk', 'vtkmodules') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_view_without_pyvista_says_how_to_install(monkeypatch, capsys, tmp_path) -> None:
    from cim_twin.cli.main import main

    monkeypatch.setitem(sys.modules, "pyvista", None)
    assert main(["view", str(tmp_path), "--screenshot", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert 'pip install "cim-twin[viewer]"' in err


def test_view_argument_errors(monkeypatch, capsys, tmp_path) -> None:
    from cim_twin.cli.main import main

    assert main(["view", str(tmp_path), "--window-size", "big"]) == 2
    assert "--window-size 'big' is not WIDTHxHEIGHT" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(tmp_path)]) == 2
    assert "no display" in capsys.readouterr().err


def test_cells_of_objects_finds_every_triangle_of_the_rows(scene: Scene) -> None:
    layer = build_scene_meshes(scene).layers[0]
    cells = layer.cells_of_objects([3, 1, 3])
    assert cells.tolist() == list(range(12, 24)) + list(range(36, 48))
    assert np.array_equal(cells, np.flatnonzero(np.isin(layer.object_index, [1, 3])))
    assert layer.cells_of_objects([99]).size == 0 and layer.cells_of_objects([]).size == 0


def test_wrap_text_counts_chinese_double() -> None:
    from cim_twin.viewer.describe import wrap_text

    assert wrap_text("short", 20) == "short"
    wrapped = wrap_text("word " * 10, 20).split("\n")
    assert all(len(line) <= 20 for line in wrapped) and wrapped[1].startswith("    word")
    chinese = wrap_text("建筑" * 10, 10).split("\n")
    assert chinese[0] == "建筑建筑建" and chinese[1] == "    筑建筑"  # 4 spaces + 3 wide characters
    assert "".join(line.strip() for line in chinese) == "建筑" * 10


def test_untyped_triangles_are_shown_by_their_normal() -> None:
    mesh = box_mesh(0, 0, 10, 10, 10)
    mesh.semantics[:] = SurfaceType.UNKNOWN
    scene = Scene()
    scene.add(CityObject("t", "Building", geometry={1: mesh}))
    meshes = build_scene_meshes(scene)
    shown = meshes.layers[0].shown_semantic()
    assert np.bincount(shown, minlength=4).tolist() == [0, 2, 8, 2]  # roof, walls, ground
    assert meshes.layers[0].semantic.max() == 0  # the stored types stay as read
    coloring = resolve_coloring(None, meshes, ObjectFindings(meshes, ProblemSet([])), np.zeros(0, bool))
    assert coloring.title[1] == "surface type (by normal)"


def test_findings_far_away_are_reported_and_not_framed(scene: Scene, run: RunFindings) -> None:
    far = run.findings[0].model_copy(update={"x": run.findings[0].x + 250_000.0, "id": "far"})
    state = ViewerState(scene, RunFindings([*run.findings, far], "r"), ViewOptions(year=2024))
    assert len(state.warnings) == 1 and "1 of 6 findings" in state.warnings[0]
    assert state.bounds[1][0] < 1000  # the camera frames the town, not the stray point


def test_empty_scene_with_findings_frames_the_findings(run: RunFindings) -> None:
    state = ViewerState(Scene(), run, ViewOptions(year=2024))
    assert not state.meshes.layers and len(state.glyphs) == 4
    lo, hi = state.bounds
    assert np.all(hi >= lo) and state.warnings == []
    assert np.abs(state.glyphs.points).max() < 1000  # display frame centred on the findings
    assert state.pick(PROBLEMS_LAYER, 0, bilingual=False).startswith("#1 / 4")


def test_colour_choices_cycle(scene: Scene, run: RunFindings) -> None:
    state = ViewerState(scene, run, ViewOptions(year=2024))
    assert state.color_choices() == ["semantic", "severity", "X-OLD", "X-TALL"]
    state.set_color_by("X-OLD")
    assert state.coloring.mode == "indicator" and state.options.color_by == "X-OLD"
    with pytest.raises(ConfigError):
        state.set_color_by("nonsense")
    assert state.coloring.mode == "indicator"  # unchanged after a bad choice
    assert ViewerState(scene).color_choices() == ["semantic"]


def test_year_range_end_is_exclusive(scene: Scene) -> None:
    one = finding(scene.buildings()[0], "X", "low", value=1.0, threshold=0.0, year=2024, until=2025)
    assert ProblemSet([one]).year_range() == (2024, 2024)
    assert ProblemSet([]).year_range() is None


def test_roads_and_unit_boundaries_become_ground_lines(scene: Scene, run: RunFindings) -> None:
    from .scenes import context_layers

    layers = context_layers()
    state = ViewerState(scene, run, ViewOptions(year=2024), layers)
    roads, community = state.ground
    assert roads.key == "ground/roads" and len(roads) == 4 and community.label[1] == "community boundaries"
    # Two vertices a road: VTK connectivity [2, i, j] per line; the ring of the community closes.
    assert roads.lines.tolist()[:6] == [2, 0, 1, 2, 2, 3] and len(community.points) == 5
    # On the ground under the buildings, in the display frame (origin subtracted).
    assert np.allclose(roads.points[:, 2], state.bounds[0][2] + 0.3)
    assert np.allclose(roads.points[0, :2] + state.meshes.origin[:2], layers[0].geometries[0].coords[0], atol=1e-2)
    assert state.visible["ground/roads"] and state.layer_label("ground/communities", False) == "community boundaries"
    # Other layer kinds (points of interest) draw nothing.
    import shapely

    from cim_twin.indicators.api import AuxLayer

    poi = AuxLayer("poi", "poi", np.array([shapely.Point(0, 0)], dtype=object))
    assert ViewerState(scene, run, ViewOptions(year=2024), [poi]).ground == []


def test_findings_of_another_frame_are_placed_by_lon_lat(scene: Scene, run: RunFindings) -> None:
    """A run checked in the project CRS shown on a tileset read in east-north-up: the findings'
    x/y mean nothing in the scene's frame, their lon/lat do."""
    moved = []
    for f in run.findings:
        lo, la, _ = scene.crs.to_wgs84(np.array([f.x]), np.array([f.y]), np.array([f.z]))
        moved.append(f.model_copy(update={"x": f.x + 2e6, "y": f.y - 3e6, "lon": float(lo[0]), "lat": float(la[0]),
                                          "height": f.z}))
    state = ViewerState(scene, RunFindings(moved, "elsewhere"), ViewOptions(year=2024))
    assert not state.warnings
    assert np.allclose(state.problems.positions[:, :2], [(f.x, f.y) for f in run.findings], atol=0.01)
    # Without lon/lat there is nothing to go by: a warning, and the model keeps the framing.
    bare = [f.model_copy(update={"lon": None, "lat": None}) for f in moved]
    assert "outside the model" in ViewerState(scene, RunFindings(bare, "x"), ViewOptions(year=2024)).warnings[0]


def test_findings_on_roads_colour_outline_and_describe_them(scene: Scene) -> None:
    """A street canyon finding names a road: the road takes its severity colour in that year, a
    pick on it lists the finding, and flying to the finding outlines it."""
    from .scenes import context_layers

    layers = context_layers()
    b = scene.buildings()
    canyon = finding(b[1], "X-CANYON", "high", value=3.2, threshold=2.0, until=2025)
    canyon = canyon.model_copy(update={"object_ids": ("R1", b[1].id)})
    state = ViewerState(scene, RunFindings([canyon, *sample_findings(scene)], "demo"), ViewOptions(year=2024),
                        layers)
    roads = state.ground[0]
    rgb = state.ground_rgb(roads)
    assert tuple(rgb[1]) == SEVERITY_COLORS[Severity.HIGH] and tuple(rgb[0]) == roads.rgb
    text = state.pick("ground/roads", 1, bilingual=False)
    assert text is not None and text.startswith("roads R1") and "X-CANYON" in text
    (lines, rows), = state.ground_lines_of(canyon.object_ids)
    assert lines is roads and rows.tolist() == [1] and len(roads.polyline_points(1)) == 2
    assert state.pick("ground/roads", 99) is None
    state.set_year(2025)  # the finding ended with 2024
    assert tuple(state.ground_rgb(roads)[1]) == roads.rgb
    assert "X-CANYON" not in (state.pick("ground/roads", 1, bilingual=False) or "")
