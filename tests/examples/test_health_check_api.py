"""The end-to-end library example in examples/ runs and does what its docstring says."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "health_check_api.py"


@pytest.mark.slow
def test_library_example_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("health_check_api", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    out = module.main(tmp_path / "work", 150)

    result = out["result"]
    assert result.run.status == "ok"
    assert result.findings and out["stored"] == len(result.findings)
    manifest = json.loads((tmp_path / "work" / "cim" / "layers.json").read_text(encoding="utf-8"))
    assert manifest == json.loads(json.dumps(out["manifest"]))
    assert {layer["kind"] for layer in manifest["layers"]} >= {"buildings", "problems"}
    printed = capsys.readouterr().out
    assert "worst problems:" in printed and "exported" in printed
