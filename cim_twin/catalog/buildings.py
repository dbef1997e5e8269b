"""The buildings of a run as the catalog keeps them: id, footprint, height and the facts the 留改拆
rules read, stored with the run (table ``run_buildings``) so that project generation and the map
update between epochs need not read the city model again (seconds instead of minutes on a large
district).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..serialization import dumps, loads
from .actions import BuildingFacts, facts_from_attributes, facts_from_object

__all__ = ["BuildingTable", "building_rows"]


def building_rows(scene: Any) -> list[tuple[str, float | None, bytes | None, str]]:
    """``(building_id, height_m, footprint WKB, facts JSON)`` per top-level building of a scene,
    as :meth:`Catalog.write_run` stores them.

    Parameters
    ----------
    scene:
        A :class:`~cim_twin.scene.Scene`.
    """
    import shapely

    objs = scene.buildings()
    footprints = np.array([o.footprint for o in objs], dtype=object)
    wkb = shapely.to_wkb(footprints) if len(objs) else np.array([], dtype=object)
    rows = []
    for obj, blob in zip(objs, wkb.tolist(), strict=True):
        facts = facts_from_object(obj).attributes
        height = obj.height_m
        rows.append((obj.id, None if height is None else float(height), blob, dumps(facts).decode()))
    return rows


@dataclass
class BuildingTable:
    """Buildings of one epoch: ids, footprints (shapely array, scene CRS), heights and facts, with
    a spatial index over the footprints. Built from a scene or from the catalog's stored rows."""

    ids: list[str]
    footprints: np.ndarray
    heights: np.ndarray
    facts_json: list[str | None]
    #: The scene objects when built from a scene (facts then come from the objects themselves).
    objects: list[Any] | None = None

    def __post_init__(self) -> None:
        self._row = {bid: k for k, bid in enumerate(self.ids)}
        self._tree: Any = None

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, building_id: str) -> bool:
        return building_id in self._row

    @classmethod
    def from_scene(cls, scene: Any) -> BuildingTable:
        objs = scene.buildings()
        return cls(
            ids=[o.id for o in objs], footprints=np.array([o.footprint for o in objs], dtype=object),
            heights=np.array([np.nan if o.height_m is None else o.height_m for o in objs], dtype=np.float64),
            facts_json=[None] * len(objs), objects=objs,
        )  # fmt: skip

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, float | None, bytes | None, str]]) -> BuildingTable:
        import shapely

        blobs = np.array([r[2] for r in rows], dtype=object)
        return cls(
            ids=[r[0] for r in rows], footprints=shapely.from_wkb(blobs) if len(rows) else np.array([], dtype=object),
            heights=np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64),
            facts_json=[r[3] for r in rows],
        )  # fmt: skip

    def footprint(self, building_id: str) -> Any:
        k = self._row.get(building_id)
        return None if k is None else self.footprints[k]

    def within(self, shape: Any) -> list[str]:
        """Ids of the buildings whose footprint meets ``shape`` (one STRtree query)."""
        import shapely

        if self._tree is None:
            self._tree = shapely.STRtree(self.footprints)
        return [self.ids[k] for k in self._tree.query(shape, predicate="intersects").tolist()]

    def facts(self, building_id: str, codes: Sequence[str] = (), severities: Sequence[str] = (),
              own: Sequence[bool] | None = None) -> BuildingFacts:  # fmt: skip
        """The 留改拆 facts of a building of the table with its findings' codes and severities."""
        k = self._row[building_id]
        if self.objects is not None:
            return facts_from_object(self.objects[k], codes, severities, own)
        stored = self.facts_json[k]
        return facts_from_attributes(building_id, dict(loads(stored)) if stored else {}, codes, severities, own)

    def states(self) -> list[Any]:
        """:class:`~cim_twin.catalog.epochs.BuildingState` per building, for the map update."""
        from .epochs import BuildingState

        return [BuildingState(bid, fp, None if np.isnan(h) else float(h))
                for bid, fp, h in zip(self.ids, self.footprints.tolist(), self.heights.tolist(), strict=True)]  # fmt: skip
