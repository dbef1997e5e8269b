"""The plugin host: entry-point discovery of a separately installed distribution, registration
checks, loud failures for misspelled hooks, and the operator environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cim_twin.errors import PluginError
from cim_twin.indicators.host import PluginHost
from cim_twin.plugins import Indicator, IndicatorSpec, hookimpl
from cim_twin.serialization import loads


def _spec(code: str) -> IndicatorSpec:
    return IndicatorSpec(code=code, name_en=code, name_zh=code, category="安全韧性", level="building", unit="m")


class _Ok(Indicator):
    spec = _spec("T-OK")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        return []


def _fresh_host() -> PluginHost:
    host = PluginHost()
    host.loaded = True  # in-process plugins only: no entry points
    return host


def cli(*args: str, site: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.pop("CIM_TWIN_TRACE_PLUGINS", None)
    if site is not None:
        full["PYTHONPATH"] = os.pathsep.join([str(site), full.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full.update(env or {})
    # cwd outside the source tree: with -m it is sys.path[0], and a source tree may hold a stale
    # cim_twin.egg-info whose entry points would shadow the installed ones.
    return subprocess.run([sys.executable, "-m", "cim_twin", *args], capture_output=True, text=True, env=full,
                          cwd=tempfile.gettempdir(), timeout=120)


# --- the separately installed example distribution -------------------------------------------------
def test_example_distribution_is_found_through_its_entry_point(tall_plugin_site: Path) -> None:
    proc = cli("plugins", "--json", site=tall_plugin_site)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in loads(proc.stdout)}
    tall = plugins["tall_buildings"]
    assert tall["status"] == "loaded"
    assert tall["distribution"] == "cim-twin-tall-buildings" and tall["version"] == "0.1.0"
    assert tall["module"] == "cim_twin_tall.plugin"
    assert tall["indicators"] == ["X-TALL"]
    assert "entry point" in tall["origin"]
    assert tall["location"] == str(tall_plugin_site / "cim_twin_tall" / "plugin.py")

    proc = cli("indicators", "--json", site=tall_plugin_site)
    specs = {s["code"]: s for s in loads(proc.stdout)}
    assert specs["X-TALL"]["name_zh"] == "高于10米的建筑" and specs["X-TALL"]["plugin"] == "tall_buildings"
    assert specs["X-TALL"]["category"] == "安全韧性" and specs["X-TALL"]["level"] == "building"


def test_without_the_distribution_there_is_no_such_plugin() -> None:
    proc = cli("plugins", "--json")
    assert "tall_buildings" not in {p["name"] for p in loads(proc.stdout)}


def installed_dist(folder: Path, name: str, module_source: str) -> Path:
    """A minimal installed distribution (dist-info + module) with one `cim_twin` entry point."""
    dist = folder / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[cim_twin]\n{name} = {name}_module\n")
    (folder / f"{name}_module.py").write_text(module_source)
    return folder


OTHER_PLUGIN = """
from cim_twin.plugins import hookimpl, Indicator, IndicatorSpec

class Other(Indicator):
    spec = IndicatorSpec(code="T-OTHER", name_en="o", name_zh="o", category="生态宜居", level="building", unit="1")
    def evaluate(self, ctx):
        return []

@hookimpl
def register_indicators(register):
    register(Other())
"""


def test_disable_and_restrict_by_environment(tmp_path: Path, tall_plugin_site: Path) -> None:
    other = installed_dist(tmp_path, "other_plugin", OTHER_PLUGIN)
    env = {"PYTHONPATH": os.pathsep.join([str(other), str(tall_plugin_site)])}
    both = {p["name"]: p for p in loads(cli("plugins", "--json", env=env).stdout)}
    assert both["other_plugin"]["indicators"] == ["T-OTHER"] and both["tall_buildings"]["status"] == "loaded"

    off = {p["name"]: p for p in loads(cli("plugins", "--json",
                                           env={**env, "CIM_TWIN_DISABLE_PLUGINS": "tall_buildings"}).stdout)}
    assert off["tall_buildings"]["status"] == "disabled" and off["tall_buildings"]["indicators"] == []
    assert "CIM_TWIN_DISABLE_PLUGINS" in off["tall_buildings"]["error"]
    assert off["other_plugin"]["status"] == "loaded"

    only = {p["name"]: p for p in loads(cli("plugins", "--json",
                                            env={**env, "CIM_TWIN_PLUGINS": "tall_buildings"}).stdout)}
    assert only["tall_buildings"]["status"] == "loaded"
    assert only["other_plugin"]["status"] == "disabled"
    codes = {s["code"] for s in loads(cli("indicators", "--json",
                                          env={**env, "CIM_TWIN_PLUGINS": "tall_buildings"}).stdout)}
    assert "X-TALL" in codes and "T-OTHER" not in codes
    # the built-in readers are essential and load whatever the list says
    assert all(only[n]["status"] != "disabled" for n in ("citygml", "tiles3d") if n in only)


def test_trace_prints_every_hook_call(tall_plugin_site: Path) -> None:
    proc = cli("indicators", site=tall_plugin_site, env={"CIM_TWIN_TRACE_PLUGINS": "1"})
    assert proc.returncode == 0
    assert "entry point tall_buildings = cim_twin_tall.plugin loaded from" in proc.stderr
    assert "register_indicators -> tall_buildings" in proc.stderr
    assert "register_indicators ok" in proc.stderr


def test_import_discovers_nothing(tall_plugin_site: Path) -> None:
    code = ("import sys, cim_twin, cim_twin.plugins, cim_twin.indicators.host as h;"
            "assert h._HOST is None; assert 'cim_twin_tall' not in sys.modules;"
            "assert 'pyvista' not in sys.modules and 'vtk' not in sys.modules; print('clean')")
    env = dict(os.environ, PYTHONPATH=str(tall_plugin_site))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.strip() == "clean", proc.stderr


# --- registration checks, in process -----------------------------------------------------------------
def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def register_indicator(self, register):  # type: ignore[no-untyped-def]  # missing "s"
            register(_Ok())

    host = _fresh_host()
    with pytest.raises(PluginError, match="register_indicator") as info:
        host.register_plugin(Typo(), name="typo")
    assert "did you mean register_indicators" in str(info.value)
    assert host.plugins["typo"].status == "failed" and "T-OK" not in host.indicators


def test_hook_with_wrong_argument_fails_loudly() -> None:
    class WrongArg:
        @hookimpl
        def register_indicators(self, add):  # type: ignore[no-untyped-def]
            add(_Ok())

    with pytest.raises(PluginError, match="add"):
        _fresh_host().register_plugin(WrongArg(), name="wrong")


def test_duplicate_code_is_refused_and_the_first_owner_named() -> None:
    class A:
        @hookimpl
        def register_indicators(self, register):  # type: ignore[no-untyped-def]
            register(_Ok())

    host = _fresh_host()
    host.register_plugin(A(), name="a")
    info = host.register_plugin(A(), name="b")
    assert info.status == "failed" and "already registered by plugin 'a'" in (info.error or "")
    assert host.indicators["T-OK"].plugin_name == "a"


@pytest.mark.parametrize(
    ("registered", "message"),
    [
        (lambda: _Ok, "the class _Ok, not an instance"),
        (lambda: "T-OK", "not an Indicator"),
        (lambda: type("NoEval", (Indicator,), {"spec": _spec("T-NOEVAL")})(), "does not implement evaluate"),
        (lambda: type("NoSpec", (Indicator,), {"evaluate": lambda self, ctx: []})(), "has no spec"),
    ],
)
def test_bad_registrations_are_explained(registered, message) -> None:  # type: ignore[no-untyped-def]
    class P:
        @hookimpl
        def register_indicators(self, register):  # type: ignore[no-untyped-def]
            register(registered())

    info = _fresh_host().register_plugin(P(), name="p")
    assert info.status == "failed" and message in (info.error or "")


def test_a_plugin_failing_half_way_registers_nothing() -> None:
    class Half:
        @hookimpl
        def register_indicators(self, register):  # type: ignore[no-untyped-def]
            register(_Ok())
            raise RuntimeError("second indicator broken")

    host = _fresh_host()
    info = host.register_plugin(Half(), name="half")
    assert info.status == "failed" and "second indicator broken" in (info.error or "")
    assert host.indicators == {} and info.indicators == []


def test_a_broken_entry_point_does_not_stop_the_others(tmp_path: Path, tall_plugin_site: Path) -> None:
    # A second distribution whose plugin module raises on import.
    broken = installed_dist(tmp_path, "broken", "raise ImportError('needs a library that is not installed')\n")
    proc = cli("plugins", "--json", env={"PYTHONPATH": os.pathsep.join([str(broken), str(tall_plugin_site)])})
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in loads(proc.stdout)}
    assert plugins["broken"]["status"] == "failed"
    assert "needs a library that is not installed" in plugins["broken"]["error"]
    assert plugins["tall_buildings"]["status"] == "loaded"
    strict = cli("plugins", "--strict", env={"PYTHONPATH": os.pathsep.join([str(broken), str(tall_plugin_site)])})
    assert strict.returncode == 1 and "broken" in strict.stdout and "failed to load" in strict.stderr


def test_the_template_s_own_tests_pass_against_the_installed_distribution(tall_plugin_site: Path,
                                                                         tmp_path: Path) -> None:
    import shutil

    tests = tmp_path / "tests"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "plugin-template" / "tests", tests)
    env = dict(os.environ, PYTHONPATH=str(tall_plugin_site))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
