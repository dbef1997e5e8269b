"""docs/plugins.md: its examples run, its hook reference and context table stay complete."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from cim_twin.indicators import hookspecs
from cim_twin.indicators.api import CheckContext
from cim_twin.indicators.host import PluginHost

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture(scope="module")
def doc_module() -> types.ModuleType:
    """Every python block of the page executed in order, as one plugin module."""
    module = types.ModuleType("docs_plugins_example")
    for block in python_blocks(DOC.read_text(encoding="utf-8")):
        exec(compile(block, str(DOC), "exec"), module.__dict__)
    return module


def test_the_example_is_the_issue_example_and_the_template(doc_module: types.ModuleType) -> None:
    first = python_blocks(DOC.read_text(encoding="utf-8"))[0]
    template = (ROOT / "examples/plugin-template/src/cim_twin_tall/plugin.py").read_text(encoding="utf-8")
    code = template[template.index("from cim_twin.plugins"):]
    assert first.strip() == code.strip()
    assert "yield ctx.problem(self, b, value=b.height_m, threshold=10.0, severity=\"low\"," in first


def test_the_page_is_a_working_plugin(doc_module: types.ModuleType, tmp_path: Path) -> None:
    from cim_twin.indicators.runner import run_check
    from cim_twin.project import Project
    from cim_twin.testing import units_layer

    host = PluginHost()
    host.loaded = True
    info = host.register_plugin(doc_module, name="docs")
    assert info.status == "loaded", info.error
    assert info.indicators == ["X-TALL", "X-TOILETS"] and info.readers == ["boxes"]

    # the reader of the page reads a file, the runner evaluates the page's indicators on it
    boxes = tmp_path / "district.boxes"
    boxes.write_text("a 500000 2988000 10 10 6\nb 500030 2988000 10 10 24\nc 500130 2988000 10 10 12\n")
    scene = host.readers["boxes"].read(boxes)
    project = Project.from_dict({"scene": {"sources": [str(boxes)]}, "project": {"catalog": ""}},
                                path=tmp_path / "twin.toml")
    result = run_check(project, host=host, scene=scene, period=2025, write=False, isolation="inline")
    st = result.run.indicators
    assert st["X-TALL"].status == "ok" and st["X-TALL"].findings == 2
    assert st["X-TOILETS"].status == "skipped"  # the project has no units or poi layer
    assert sorted(f.object_ids[0] for f in result.findings) == ["b", "c"]

    # with units, the findings land in their communities
    from cim_twin.testing import evaluate, make_context

    units = units_layer("community", {"C01": (0, 0, 100, 100), "C02": (100, 0, 200, 100)})
    findings, _ = evaluate(host.indicators["X-TALL"], make_context(scene, layers=[units]))
    assert {f.object_ids[0]: f.unit_id for f in findings} == {"b": "C01", "c": "C02"}


def test_every_hook_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    hooks = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, "cim_twin_spec")]
    assert sorted(hooks) == ["register_exporters", "register_indicators", "register_readers"]
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({params})`" in text, f"docs/plugins.md lacks a reference entry for {name}"
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


def test_every_context_method_is_in_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    public = [name for name, _ in inspect.getmembers(CheckContext) if not name.startswith("_")]
    missing = [name for name in public if f"`ctx.{name}" not in text and name not in ("unit_levels",)]
    assert not missing, f"docs/plugins.md does not describe ctx.{', ctx.'.join(missing)}"
