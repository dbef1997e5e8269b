"""Off-screen renders compared with committed reference images (fixed theme, window size, camera,
English labels so that no installed font changes a pixel).

Set ``CIM_TWIN_UPDATE_REFERENCE=1`` to rewrite the references after an intended change, and look
at every image before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyvista")
from PIL import Image

from cim_twin.viewer.problems import RunFindings
from cim_twin.viewer.screenshot import render_image
from cim_twin.viewer.state import ViewerState, ViewOptions

from .scenes import box_scene, context_layers, sample_findings

pytestmark = pytest.mark.viewer

REFERENCE = Path(__file__).parent / "reference"
UPDATE = os.environ.get("CIM_TWIN_UPDATE_REFERENCE") == "1"
SIZE = (480, 320)
#: Tolerances: RMS over all channels, and the share of pixels off by more than 48 of 255 (text
#: antialiasing and rasterisation may move a few edge pixels between runs, nothing more).
MAX_RMS = 4.0
MAX_CHANGED_SHARE = 0.005


def compare_with_reference(image: np.ndarray, name: str, tmp_path: Path) -> None:
    path = REFERENCE / f"{name}.png"
    if UPDATE:
        REFERENCE.mkdir(exist_ok=True)
        Image.fromarray(image).save(path, optimize=True)
    if not path.exists():
        pytest.fail(f"no reference image {path.name}; render it with CIM_TWIN_UPDATE_REFERENCE=1 and look at it")
    reference = np.asarray(Image.open(path).convert("RGB"))
    assert reference.shape == image.shape, f"{name}: size {image.shape} != reference {reference.shape}"
    diff = np.abs(image.astype(np.int16) - reference.astype(np.int16))
    rms = float(np.sqrt(np.mean(diff.astype(np.float64) ** 2)))
    changed = float((diff.max(axis=2) > 48).mean())
    if rms > MAX_RMS or changed > MAX_CHANGED_SHARE:
        actual = tmp_path / f"{name}.actual.png"
        Image.fromarray(image).save(actual)
        pytest.fail(f"{name}: differs from reference (rms {rms:.2f}, changed {changed:.4f}); actual image: {actual}")


def _render(color_by: str | None = None, year: int | None = 2024, camera: str = "oblique", focus: int = 0,
            context: bool = False) -> np.ndarray:
    scene = box_scene()
    run = RunFindings(sample_findings(scene), "demo")
    options = ViewOptions(color_by=color_by, year=year, window_size=SIZE, camera=camera, font_file=None,
                          widgets=False, title="cim-twin test")
    return render_image(ViewerState(scene, run, options, context_layers() if context else ()), focus=focus)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("semantic_oblique", {}),
        ("severity_top", {"color_by": "severity", "camera": "top", "context": True}),
        ("indicator_scalar_bar", {"color_by": "X-TALL"}),
        ("attribute_categories_2025", {"color_by": "function", "year": 2025, "camera": "south"}),
        ("focus_worst_problem", {"color_by": "severity", "focus": 1}),
    ],
)
def test_render_matches_reference(name: str, kwargs: dict, tmp_path: Path) -> None:
    image = _render(**kwargs)
    assert image.shape == (SIZE[1], SIZE[0], 3)
    compare_with_reference(image, name, tmp_path)


def test_colourings_differ_and_year_changes_the_picture() -> None:
    """Guards the references themselves: different views must not look alike."""
    semantic = _render().astype(np.int16)
    severity = _render("severity").astype(np.int16)
    assert np.abs(semantic - severity).max(axis=2).astype(bool).mean() > 0.02
    y2024 = _render("severity", year=2024).astype(np.int16)
    y2025 = _render("severity", year=2025).astype(np.int16)
    assert (np.abs(y2024 - y2025).max(axis=2) > 48).mean() > 0.002


def test_chinese_labels_render_with_a_cjk_font() -> None:
    from cim_twin.viewer.fonts import find_cjk_font

    font = find_cjk_font()
    if font is None:
        pytest.skip("no CJK font on this machine (Debian: apt-get install fonts-wqy-microhei)")
    scene = box_scene()
    run = RunFindings(sample_findings(scene), "demo")

    def header(font_file: str | None) -> np.ndarray:
        options = ViewOptions(window_size=SIZE, font_file=font_file, widgets=False, year=2024)
        return render_image(ViewerState(scene, run, options))[:60, :240].astype(np.int16)

    english, bilingual = header(None), header(font)
    # Chinese glyphs add ink: the bilingual header has clearly more dark pixels.
    assert (bilingual < 100).sum() > 1.3 * (english < 100).sum()


def test_cli_screenshot_of_a_real_tileset(shared_data: Path, tmp_path: Path) -> None:
    from cim_twin.cli.main import main

    tileset = shared_data / "3d-tiles-samples" / "1.1" / "MetadataGranularities"
    if not tileset.is_dir():
        pytest.skip("sample tileset not in the shared data")
    out = tmp_path / "tiles.png"
    assert main(["view", str(tileset), "--screenshot", str(out), "--window-size", "400x300"]) == 0
    image = np.asarray(Image.open(out).convert("RGB")).astype(np.int16)
    assert image.shape == (300, 400, 3)
    background = np.array([246, 246, 242])
    drawn = (np.abs(image - background).max(axis=2) > 30).mean()
    assert 0.03 < drawn < 0.9  # the houses and trees are there, and not everything is covered


def test_cli_screenshot_of_citygml_with_a_run(shared_data: Path, tmp_path: Path) -> None:
    """FZK-Haus LoD2 (KIT sample) with a finding on it, through the command line."""
    from cim_twin.cli.main import main
    from cim_twin.errors import FormatError
    from cim_twin.io import find_reader, read_scene
    from cim_twin.serialization import dumps

    from .scenes import finding

    gml = shared_data / "3dcitydb-importer-exporter" / "samples" / "FZK_House" / "FZK-House-LoD2-KIT-IAI-KHH-V2.gml"
    try:
        find_reader(gml)
    except FormatError:
        pytest.skip("no CityGML reader installed in this tree yet")
    scene = read_scene(gml)
    house = scene.buildings()[0]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    f = finding(house, "X-TALL", "high", value=house.height_m or 9.0, threshold=5.0)
    (run_dir / "findings.json").write_bytes(dumps([f.model_dump(mode="json")]))
    out = tmp_path / "house.png"
    code = main(["view", str(gml), "--run", str(run_dir), "--color-by", "severity", "--screenshot", str(out),
                 "--window-size", "400x300", "--focus", "1"])
    assert code == 0
    image = np.asarray(Image.open(out).convert("RGB")).astype(np.int16)
    high = np.array([214, 48, 39])
    # The house is coloured by its finding's severity (shaded, so a loose match).
    reddish = (image[:, :, 0] > 120) & (image[:, :, 1] < 90) & (image[:, :, 2] < 90)
    assert reddish.mean() > 0.01, high


def test_viewer_interaction_off_screen() -> None:
    """The window's actions (fly to, pick, toggle a layer, change the year, presets), driven
    directly on an off-screen viewer."""
    from cim_twin.viewer.app import Viewer

    scene = box_scene()
    run = RunFindings(sample_findings(scene), "demo")
    state = ViewerState(scene, run, ViewOptions(year=2024, window_size=SIZE, font_file=None, widgets=False))
    viewer = Viewer(state, off_screen=True)
    try:
        overview = viewer.image().astype(np.int16)
        viewer.focus(+1)
        assert state.current == 0
        assert viewer._panel.GetInput().splitlines()[5].startswith("#1 / 4  [critical] X-TALL")
        # The focused problem is in the middle of the picture: picking there finds it or its house.
        text = viewer.pick_at(SIZE[0] // 2, SIZE[1] // 2)
        assert text is not None and ("X-TALL" in text or "B000" in text)
        assert viewer.plotter.actors.get("highlight") is not None
        viewer.show_preset("oblique")
        viewer.set_visible("buildings/lod1", False)
        assert not viewer.actors["buildings/lod1"].GetVisibility()
        hidden = viewer.image().astype(np.int16)
        assert (np.abs(hidden - overview).max(axis=2) > 48).mean() > 0.05
        viewer.set_visible("buildings/lod1", True)
        viewer.cycle_coloring()
        assert state.coloring.mode == "severity"
        assert "colour: severity" in viewer._panel.GetInput()
        viewer.set_year(2025)
        assert state.year == 2025 and len(state.glyphs) == 4
        assert viewer.pick_at(2, 2) is None  # background
        if viewer.plotter.iren is not None:
            viewer._add_widgets()
            viewer._add_keys()
    finally:
        viewer.close()


def test_flying_to_a_road_finding_outlines_the_road() -> None:
    from cim_twin.viewer.app import Viewer

    from .scenes import finding

    scene = box_scene()
    canyon = finding(scene.buildings()[1], "X-CANYON", "critical", value=3.2, threshold=2.0, score=1.0)
    canyon = canyon.model_copy(update={"object_ids": ("R1",)})
    state = ViewerState(scene, RunFindings([canyon], "demo"),
                        ViewOptions(year=2024, window_size=SIZE, font_file=None, widgets=False), context_layers())
    viewer = Viewer(state, off_screen=True)
    try:
        viewer.focus(+1)
        outline = viewer.plotter.actors.get("road-outline")
        assert outline is not None and outline.GetMapper().GetInput().GetNumberOfLines() == 1
        viewer.set_year(2026)
        assert viewer.plotter.actors.get("road-outline") is None
    finally:
        viewer.close()


def test_roof_proxy_while_turning() -> None:
    from cim_twin.viewer.app import Viewer

    scene = box_scene()
    state = ViewerState(scene, None, ViewOptions(window_size=SIZE, font_file=None, widgets=False, roof_proxy=True))
    assert ViewerState(scene).uses_roof_proxy is False  # small scenes keep every triangle
    viewer = Viewer(state, off_screen=True)
    try:
        full = viewer.image().astype(np.int16)
        viewer.coarse(True)
        assert not viewer.actors["buildings/lod1"].GetVisibility()
        assert viewer._proxy_actors["buildings/lod1"].GetVisibility()
        assert viewer._proxies["buildings/lod1"][0].n_cells == 2 * len(scene.roots)
        roofs = viewer.image().astype(np.int16)
        assert (np.abs(roofs - full).max(axis=2) > 48).mean() > 0.05  # the walls are gone
        viewer.set_visible("buildings/lod1", False)
        assert not viewer._proxy_actors["buildings/lod1"].GetVisibility()
        viewer.set_visible("buildings/lod1", True)
        viewer.coarse(False)
        assert viewer.actors["buildings/lod1"].GetVisibility()
        assert not viewer._proxy_actors["buildings/lod1"].GetVisibility()
        again = viewer.image().astype(np.int16)
        assert (np.abs(again - full).max(axis=2) > 48).mean() < 0.001
    finally:
        viewer.close()


@pytest.mark.slow
def test_cli_view_of_a_project_with_its_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """generate -> check two years -> view: the latest run by default, an older one by --run."""
    from cim_twin.cli.main import main

    project = tmp_path / "town"
    assert main(["generate", str(project), "--buildings", "40", "--years", "2024-2025", "--quiet"]) == 0
    monkeypatch.chdir(project)
    for year in ("2024", "2025"):
        assert main(["check", ".", "--period", year]) in (0, 1)
    latest = tmp_path / "latest.png"
    assert main(["view", ".", "--color-by", "severity", "--screenshot", str(latest), "--window-size", "400x300"]) == 0
    older = tmp_path / "older.png"
    assert main(["view", "twin.toml", "--run", "2024", "--year", "2024", "--focus", "1", "--screenshot", str(older),
                 "--window-size", "400x300"]) == 0
    a = np.asarray(Image.open(latest).convert("RGB")).astype(np.int16)
    b = np.asarray(Image.open(older).convert("RGB")).astype(np.int16)
    assert a.shape == b.shape == (300, 400, 3)
    # The close-up of the worst 2024 problem looks nothing like the 2025 overview.
    assert (np.abs(a - b).max(axis=2) > 48).mean() > 0.2
    # The project's roads and unit boundaries are drawn on the ground unless --no-context.
    bare = tmp_path / "bare.png"
    assert main(["view", ".", "--color-by", "severity", "--no-context", "--screenshot", str(bare),
                 "--window-size", "400x300"]) == 0
    c = np.asarray(Image.open(bare).convert("RGB")).astype(np.int16)
    changed = np.abs(a - c).max(axis=2) > 48
    assert 0.002 < changed.mean() < 0.2  # thin lines and a legend box, not a different picture
    assert main(["view", ".", "--run", "1999", "--screenshot", str(tmp_path / "none.png")]) == 2


def test_empty_scene_renders() -> None:
    from cim_twin.scene import Scene

    image = render_image(ViewerState(Scene(), None, ViewOptions(window_size=SIZE, font_file=None, widgets=False)))
    assert image.shape == (SIZE[1], SIZE[0], 3)


@pytest.mark.slow
def test_screenshot_without_a_display_prints_no_vtk_warning(shared_data: Path, tmp_path: Path) -> None:
    """VTK's Linux wheels try X first and log a warning before falling back; off-screen renders go
    straight to EGL, so the command line prints its one result line and nothing else -- but the
    reader's warnings about a broken tile it does print."""
    import subprocess
    import sys

    tileset = shared_data / "3d-tiles-tools" / "specs" / "data" / "migration" / "input" / "Batched" / "BatchedWithBatchTable"
    if not tileset.is_dir():
        pytest.skip("sample tileset not in the shared data")
    out = tmp_path / "batched.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "VTK_DEFAULT_OPENGL_WINDOW")}
    code = "import sys; from cim_twin.cli.main import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, "view", str(tileset), "--screenshot", str(out),
                           "--window-size", "320x240"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(f"wrote {out}")
    assert out.stat().st_size > 1000

    # A broken tile: the reader's warning is what the command prints, and the rest is drawn.
    import json
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tileset, broken)
    doc = json.loads((broken / "tileset.json").read_text())
    doc["root"]["children"] = [{"boundingVolume": doc["root"]["boundingVolume"], "geometricError": 0,
                                "content": {"uri": "cut.b3dm"}}]
    (broken / "tileset.json").write_text(json.dumps(doc))
    (broken / "cut.b3dm").write_bytes((broken / "batchedWithBatchTable.b3dm").read_bytes()[:100])
    done = subprocess.run([sys.executable, "-c", code, "view", str(broken), "--screenshot", str(out),
                           "--window-size", "320x240"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1 and "cut.b3dm" in done.stderr and done.stderr.startswith("cim-twin: warning:")
    assert "10 objects" in done.stdout
