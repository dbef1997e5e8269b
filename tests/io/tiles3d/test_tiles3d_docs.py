"""docs/3dtiles.md: its python example runs on a real sample, and its lists stay true."""

from __future__ import annotations

import re
from pathlib import Path

from cim_twin.io.tiles3d.reader import IDENTITY_PROPERTIES

DOC = Path(__file__).resolve().parents[3] / "docs" / "3dtiles.md"


def test_python_example_runs(shared_data: Path, capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    tileset = shared_data / "3d-tiles-tools/specs/data/migration/input/Batched/BatchedWithBatchTable/tileset.json"
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"TILESET": tileset})
    out = capsys.readouterr().out
    assert "ENU(40.04" in out and "{'Feature': 10}" in out


def test_identity_properties_are_listed() -> None:
    text = DOC.read_text(encoding="utf-8")
    listed = re.search(r"2\. \*\*Identity\*\*: (.*?)\(`identity_property=`", text, re.S)
    assert listed is not None
    assert re.findall(r"`([^`]+)`", listed.group(1)) == list(IDENTITY_PROPERTIES)
