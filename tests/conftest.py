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
