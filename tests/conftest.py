"""Shared fixtures: paths to the real public data in ../shared/data and to tests/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
# The real public data set lives beside the repository (CI lays it there too); CIM_TWIN_SHARED_DATA
# points elsewhere when needed.
SHARED_DATA = Path(os.environ.get("CIM_TWIN_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found ({SHARED_DATA}); set CIM_TWIN_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(autouse=True)
def _no_progress_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIM_TWIN_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def tall_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/plugin-template installed as its own distribution into a private folder (pip
    --target, offline, no build isolation), so that the test environment itself stays untouched.
    Put the folder on PYTHONPATH (subprocesses) or sys.path to make its entry point visible."""
    import shutil
    import subprocess
    import sys

    source = tmp_path_factory.mktemp("plugin-src") / "plugin-template"
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    shutil.copytree(ROOT / "examples" / "plugin-template", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("plugin-site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip install of the plugin template failed:\n{proc.stdout}\n{proc.stderr}"
    return target
