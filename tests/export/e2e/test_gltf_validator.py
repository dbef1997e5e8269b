"""Every glb of an export passes the Khronos glTF validator with no errors (and no warnings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cesium_harness import validate_gltf

pytestmark = pytest.mark.e2e


def _check(files: list[Path]) -> None:
    assert files
    reports = validate_gltf(files)
    assert len(reports) == len(files)
    bad = [r for r in reports if r["numErrors"] or r["numWarnings"]]
    assert not bad, bad[:3]


def test_box_export_validates(validator_ready: None, box_export: Path) -> None:
    files = sorted(box_export.glob("*/tiles/*.glb")) + sorted(box_export.glob("buildings-1.0/tiles/*.b3dm"))
    assert any("problems" in str(f) for f in files)
    _check(files)
    reports = validate_gltf(files[:1])
    assert sorted(reports[0]["extensionsUsed"]) == ["EXT_mesh_features", "EXT_structural_metadata"]


def test_validator_catches_a_broken_glb(validator_ready: None, box_export: Path, tmp_path: Path) -> None:
    """The check can fail: a glb whose accessor points past its buffer is reported."""
    glb = next(box_export.glob("buildings/tiles/*.glb")).read_bytes()
    broken = glb.replace(b'"count":', b'"count":9', 1)
    path = tmp_path / "broken.glb"
    path.write_bytes(broken)
    assert validate_gltf([path])[0]["numErrors"] > 0


def test_real_citygml_export_validates(validator_ready: None, real_exports: dict[str, Path]) -> None:
    files = []
    for folder in real_exports.values():
        files += sorted(folder.glob("*/tiles/*.glb")) + sorted(folder.glob("*/tiles/*.b3dm"))
    _check(files)
