"""``cim-twin check`` / ``init`` end to end, in subprocesses as a user runs them: the separately
installed example plugin on a generated district, failing and hanging plugins, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from lxml import etree

from cim_twin.model import CheckRun, ProblemPoint
from cim_twin.project import Project
from cim_twin.serialization import loads

BAD_PLUGINS = '''
import time
from cim_twin.plugins import hookimpl, Indicator, IndicatorSpec

def spec(code):
    return IndicatorSpec(code=code, name_en=code, name_zh=code, category="安全韧性", level="building", unit="m")

class Raises(Indicator):
    spec = spec("Z-RAISES")
    def evaluate(self, ctx):
        raise ValueError("bad data in community " + ctx.buildings()[0].id)

class Hangs(Indicator):
    spec = spec("Z-HANGS")
    def evaluate(self, ctx):
        while True:
            time.sleep(0.05)

@hookimpl
def register_indicators(register):
    register(Raises())
    register(Hangs())
'''


def cli(*args: str, cwd: Path | None = None, site: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("CIM_TWIN_TRACE_PLUGINS", None)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # Run outside the source tree, as a user does: sys.path[0] is the working folder with -m, and a
    # source tree may hold a stale cim_twin.egg-info that would shadow the installed entry points.
    return subprocess.run([sys.executable, "-m", "cim_twin", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or tempfile.gettempdir(), timeout=timeout)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("district") / "nanping"
    proc = cli("generate", str(folder), "--buildings", "80")
    assert proc.returncode == 0, proc.stderr
    return folder


def heights_in(gml: Path) -> dict[str, float]:
    """bldg:measuredHeight per building, read straight from the XML (independent of the reader)."""
    out = {}
    for _, el in etree.iterparse(str(gml), tag="{*}Building"):
        h = el.find("{*}measuredHeight")
        gid = el.get("{http://www.opengis.net/gml}id")
        if h is not None and gid:
            out[gid] = float(h.text)
        el.clear()
    return out


def test_example_plugin_on_a_bare_citygml_file(district: Path, tall_plugin_site: Path, tmp_path: Path) -> None:
    gml = district / "city_2025.gml"
    proc = cli("check", str(gml), "--indicators", "X-TALL", "--json", "--output", str(tmp_path / "out"),
               "--period", "2025", site=tall_plugin_site)
    assert proc.returncode == 0, proc.stderr
    summary = loads(proc.stdout)
    assert set(summary) >= {"run_id", "status", "indicators", "findings_file"}
    assert summary["status"] == "ok"
    assert summary["indicators"]["X-TALL"]["status"] == "ok" and summary["indicators"]["X-TALL"]["error"] is None
    expected = sorted(gid for gid, h in heights_in(gml).items() if h > 10)
    assert expected, "the generated district should have buildings over 10 m"
    findings = [ProblemPoint.model_validate(f) for f in loads(Path(summary["findings_file"]).read_bytes())]
    assert sorted(f.object_ids[0] for f in findings) == expected
    assert summary["indicators"]["X-TALL"]["findings"] == len(expected)
    f = findings[0]
    assert f.indicator == "X-TALL" and f.severity.value == "low" and f.message_en == "taller than 10 m"
    assert 117 < f.lon < 119 and 26 < f.lat < 28  # Nanping, placed through EPSG:4548
    assert Path(summary["findings_file"]).parent.parent == tmp_path / "out" / "runs"
    assert summary["catalog"] is None  # a bare file has no catalog unless --catalog is given


def with_bad_plugins(district: Path) -> None:
    (district / "bad_plugins.py").write_text(BAD_PLUGINS, encoding="utf-8")
    toml = district / "twin.toml"
    text = toml.read_text(encoding="utf-8")
    if "[plugins]" not in text:
        toml.write_text(text + '\n[plugins]\npaths = ["bad_plugins.py"]\n', encoding="utf-8")


def test_project_run_with_a_raising_and_a_hanging_plugin(district: Path, tall_plugin_site: Path) -> None:
    with_bad_plugins(district)
    start = time.monotonic()
    proc = cli("check", str(district), "--indicators", "X-TALL,Z-RAISES,Z-HANGS,N-NEW-RES-80M", "--timeout", "2",
               "--json", "--no-catalog", site=tall_plugin_site)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr  # completed with failures
    summary = loads(proc.stdout)
    assert summary["status"] == "completed_with_failures"
    ind = summary["indicators"]
    assert ind["X-TALL"]["status"] == "ok" and ind["X-TALL"]["findings"] > 0
    assert ind["Z-RAISES"]["status"] == "failed" and ind["Z-RAISES"]["error"].startswith("ValueError: bad data")
    assert ind["Z-HANGS"]["status"] == "timeout" and ind["Z-HANGS"]["findings"] == 0
    if "N-NEW-RES-80M" in ind:  # first-party plugin, when installed
        assert ind["N-NEW-RES-80M"]["status"] == "ok"
    assert elapsed < 60
    run = CheckRun.model_validate(loads((Path(summary["run_dir"]) / "run.json").read_bytes()))
    assert "ValueError: bad data" in run.indicators["Z-RAISES"].traceback
    assert "bad_plugins.py" in run.indicators["Z-RAISES"].traceback
    assert run.profile == "nanping" and run.period == "2025" and run.scope.startswith("南平")
    assert set(run.inputs) >= {"city_2025.gml", "layers/communities.geojson", "layers/2025/roads.geojson"}
    assert all(v.startswith("sha256:") and len(v) == 71 for v in run.inputs.values())
    # findings carry their community from the units layer
    findings = loads(Path(summary["findings_file"]).read_bytes())
    assert all(f["unit_id"] for f in findings if f["indicator"] == "X-TALL")

    human = cli("check", str(district), "--indicators", "Z-RAISES", "--no-catalog", "--debug", site=tall_plugin_site)
    assert human.returncode == 1
    assert "Z-RAISES" in human.stdout and "FAILED" in human.stdout and "completed_with_failures" in human.stdout
    assert "--- Z-RAISES: ValueError: bad data" in human.stderr and "Traceback" in human.stderr


@pytest.fixture
def with_tall_plugin(tall_plugin_site: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The example distribution visible in this process, with a fresh plugin host."""
    from cim_twin.indicators.host import reset_host

    monkeypatch.syspath_prepend(str(tall_plugin_site))
    reset_host(None)
    yield
    reset_host(None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--indicators", "X-TAL"], "unknown indicator 'X-TAL' (did you mean 'X-TALL'?)"),
        (["--period", "20x5"], "period must be a year"),
        (["--period", "2019"], "[scene] sources: file not found"),
        (["--profile", "fuzhou"], "unknown profile 'fuzhou'"),
        (["--timeout", "0"], "timeout must be positive"),
    ],
)
def test_user_errors_exit_2_with_one_line(district: Path, with_tall_plugin: None, args: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from cim_twin.cli.main import main

    code = main(["check", str(district / "twin.toml"), "--no-catalog", "--indicators", "X-TALL", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_missing_source_exits_2(tmp_path: Path) -> None:
    proc = cli("check", str(tmp_path / "nowhere.gml"))
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr
    proc = cli("check", cwd=tmp_path)
    assert proc.returncode == 2 and "no twin.toml in the current folder" in proc.stderr
    proc = cli("check", str(tmp_path))
    assert proc.returncode == 2 and "neither a twin.toml nor a tileset.json" in proc.stderr
    assert f"cim-twin init {tmp_path}" in proc.stderr


def test_init_writes_a_loadable_commented_project(district: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "layers" / "2024").mkdir(parents=True)
    (folder / "tiles" / "sub").mkdir(parents=True)
    for name in ("city_2023.gml", "city_2024.gml", "layers/communities.geojson", "layers/2024/poi.geojson",
                 "layers/2024/waterlogging.geojson", "layers/notes.csv", "tiles/tileset.json",
                 "tiles/sub/tileset.json"):
        (folder / name).write_text("x")
    proc = cli("init", str(folder))
    assert proc.returncode == 0, proc.stderr
    project = Project.load(folder / "twin.toml")
    assert project.config.scene.sources == ["city_{period}.gml", "tiles"]  # not the nested tileset
    assert project.config.project.period == 2024
    layers = project.config.layers
    assert layers["communities"].kind == "units" and layers["communities"].level == "community"
    assert layers["poi"].path == "layers/{period}/poi.geojson"
    assert layers["waterlogging"].kind == "incidents"
    assert "notes" not in layers  # kind not guessable: left out rather than guessed wrong
    text = (folder / "twin.toml").read_text(encoding="utf-8")
    assert text.count("#") > 20  # commented
    again = cli("init", str(folder))
    assert again.returncode == 2 and "project file exists" in again.stderr and "--force" in again.stderr
    # an empty folder still gets a template that loads
    proc = cli("init", str(tmp_path / "empty"))
    assert proc.returncode == 0 and Project.load(tmp_path / "empty").config.scene.sources == ["city_{period}.gml"]


def _children(pid: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(pid).children()]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_no_hung_indicator_outlives_its_run(district: Path, how: str) -> None:
    """Stopping the run (SIGTERM) kills its children; if the run itself is killed (SIGKILL), the
    children notice and end themselves."""
    import signal

    psutil = pytest.importorskip("psutil")
    with_bad_plugins(district)
    proc = subprocess.Popen([sys.executable, "-m", "cim_twin", "check", str(district), "--indicators", "Z-HANGS",
                             "--timeout", "60", "--no-catalog"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tempfile.gettempdir())
    try:
        deadline = time.monotonic() + 60
        kids: list[int] = []
        while not kids and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            kids = _children(proc.pid)
        assert kids, "the indicator's process never started"
        proc.send_signal(getattr(signal, how))
        proc.wait(timeout=30)
        gone = psutil.wait_procs([psutil.Process(k) for k in kids if psutil.pid_exists(k)], timeout=10)[1] == []
        assert gone
        if how == "SIGTERM":
            assert proc.returncode == 130 and "interrupted" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_dry_run_checks_the_project_and_evaluates_nothing(district: Path, with_tall_plugin: None,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from cim_twin.cli.main import main

    runs = district / "export" / "runs"
    before = sorted(runs.iterdir()) if runs.is_dir() else []
    assert main(["check", str(district), "--dry-run", "--json", "--indicators", "X-TALL,N-*"]) == 0
    plan = loads(capsys.readouterr().out)
    assert plan["period"] == "2025" and plan["profile"] == "nanping"
    assert plan["indicators"]["X-TALL"]["plugin"] == "tall_buildings"
    assert plan["sources"] == [str(district / "city_2025.gml")]
    assert plan["layers"]["communities"]["kind"] == "units" and not plan["layers"]["communities"]["missing"]
    assert (sorted(runs.iterdir()) if runs.is_dir() else []) == before
    assert main(["check", str(district), "--dry-run", "--period", "2030"]) == 2
    assert "[scene] sources: file not found" in capsys.readouterr().err
