"""The e2e checks need Chromium, CesiumJS and the glTF validator, installed by .ci/setup-e2e.sh."""

from __future__ import annotations

import pytest

from .cesium_harness import missing_reason, validator_missing_reason


@pytest.fixture(scope="session")
def cesium_ready() -> None:
    reason = missing_reason()
    if reason:
        pytest.skip(f"CesiumJS e2e check cannot run: {reason}")


@pytest.fixture(scope="session")
def validator_ready() -> None:
    reason = validator_missing_reason()
    if reason:
        pytest.skip(f"glTF validator cannot run: {reason}")
