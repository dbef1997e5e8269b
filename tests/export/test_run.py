"""Which 留改拆 action a building shows: the latest project up to the exported run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cim_twin.export.run import latest_actions


class _Catalog:
    """The two catalog calls latest_actions makes, over fixed runs (in the catalog's order)."""

    def __init__(self, run_ids: list[str]) -> None:
        self._runs = [SimpleNamespace(id=r) for r in run_ids]

    def runs(self) -> list[SimpleNamespace]:
        return self._runs


def _project(pid: str, run_id: str, actions: dict[str, str], status: str = "approved") -> SimpleNamespace:
    acts = [SimpleNamespace(building_id=b, action=a, reason_zh=f"{pid} 理由", reason_en="") for b, a in actions.items()]
    return SimpleNamespace(id=pid, run_id=run_id, status=status, actions=acts)


@pytest.fixture
def projects(monkeypatch):
    listed = [
        _project("P2023-a", "run2023", {"B1": "renovate", "B2": "retain"}),
        _project("P2024-a", "run2024", {"B1": "demolish"}),
        _project("P2024-x", "run2024", {"B2": "demolish"}, status="cancelled"),
        _project("P2025-a", "run2025", {"B3": "renovate"}),
    ]
    monkeypatch.setattr("cim_twin.catalog.projects.list_projects", lambda catalog, **_: listed)
    return _Catalog(["run2023", "run2024", "run2025"])


def test_earlier_runs_count_later_ones_do_not(projects) -> None:
    got = latest_actions(projects, "run2024")
    assert got["B1"] == ("demolish", "P2024-a 理由", "P2024-a")  # the 2024 project decided again
    assert got["B2"] == ("retain", "P2023-a 理由", "P2023-a")  # a cancelled project does not count
    assert "B3" not in got  # decided on a later run


def test_first_run_shows_only_its_own(projects) -> None:
    assert latest_actions(projects, "run2023") == {
        "B1": ("renovate", "P2023-a 理由", "P2023-a"), "B2": ("retain", "P2023-a 理由", "P2023-a")}
