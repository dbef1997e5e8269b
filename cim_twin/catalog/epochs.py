"""Map update between two epochs of the same area (地图更新): buildings added, removed and changed.

Buildings are matched by id first. A building found under the same id in both epochs is *changed*
when its height moved more than a tolerance or its footprint overlaps the old one by less than an
intersection-over-union limit. Buildings left unmatched are paired by footprint overlap (shapely
STRtree): a pair with nearly the same footprint and height is the same building under a new id
(``id_changed``), any other overlapping pair is a building *rebuilt* on the plot. What remains is
*removed* (only in the older epoch) or *added* (only in the newer one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BuildingState", "MapUpdate", "building_states", "compare_epochs"]


@dataclass(frozen=True)
class BuildingState:
    """What the map update compares of one building: id, footprint (shapely, scene xy), height."""

    id: str
    footprint: Any
    height_m: float | None


@dataclass
class MapUpdate:
    """The result of :func:`compare_epochs`."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    label_a: str = "a"
    label_b: str = "b"

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for c in self.changed:
            kinds[c["change"]] = kinds.get(c["change"], 0) + 1
        return {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed),
                "unchanged": self.unchanged, **{f"changed_{k}": v for k, v in sorted(kinds.items())}}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch_a": self.label_a,
            "epoch_b": self.label_b,
            "counts": self.counts(),
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
        }


def building_states(scene: Any) -> list[BuildingState]:
    """The buildings of a :class:`~cim_twin.scene.Scene` (top-level Building objects)."""
    out = []
    for obj in scene.buildings():
        out.append(BuildingState(obj.id, obj.footprint, obj.height_m))
    return out


def _states(source: Any) -> list[BuildingState]:
    if hasattr(source, "buildings"):
        return building_states(source)
    return list(source)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of paired footprint arrays (0 where either is missing)."""
    import shapely

    out = np.zeros(len(a))
    ok = np.array([x is not None and y is not None for x, y in zip(a, b, strict=True)], dtype=bool)
    if ok.any():
        aa, bb = a[ok], b[ok]
        inter = shapely.area(shapely.intersection(aa, bb))
        union = shapely.area(aa) + shapely.area(bb) - inter
        out[ok] = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return out


def compare_epochs(
    a: Any,
    b: Any,
    *,
    height_tolerance_m: float = 1.0,
    footprint_iou_min: float = 0.9,
    overlap_iou_min: float = 0.3,
    label_a: str = "a",
    label_b: str = "b",
) -> MapUpdate:
    """Compare the buildings of two epochs.

    Parameters
    ----------
    a, b:
        Scenes, or sequences of :class:`BuildingState`, of the older and the newer epoch.
    height_tolerance_m:
        A height change above this counts.
    footprint_iou_min:
        Footprints overlapping at least this much (intersection over union) count as the same.
    overlap_iou_min:
        Least overlap for pairing buildings of different ids (else one was removed, one added).

    Returns
    -------
    MapUpdate
        ``changed`` rows carry ``id`` (older), ``id_b`` (newer), ``change`` (``height``,
        ``footprint``, ``height+footprint``, ``id_changed`` or ``rebuilt``), heights, areas, IoU.
    """
    import shapely

    states_a = {s.id: s for s in _states(a)}
    states_b = {s.id: s for s in _states(b)}
    update = MapUpdate(label_a=label_a, label_b=label_b)
    common = sorted(states_a.keys() & states_b.keys())
    fa = np.array([states_a[i].footprint for i in common], dtype=object)
    fb = np.array([states_b[i].footprint for i in common], dtype=object)
    iou = _iou(fa, fb)
    for k, bid in enumerate(common):
        sa, sb = states_a[bid], states_b[bid]
        dh = _height_change(sa, sb)
        height_moved = dh is not None and abs(dh) > height_tolerance_m
        footprint_moved = sa.footprint is not None and sb.footprint is not None and iou[k] < footprint_iou_min
        if not (height_moved or footprint_moved):
            update.unchanged += 1
            continue
        kind = "height+footprint" if height_moved and footprint_moved else "height" if height_moved else "footprint"
        update.changed.append(_row(sa, sb, kind, iou[k]))

    only_a = [states_a[i] for i in sorted(states_a.keys() - states_b.keys())]
    only_b = [states_b[i] for i in sorted(states_b.keys() - states_a.keys())]
    paired_a: set[str] = set()
    paired_b: set[str] = set()
    with_fp_b = [s for s in only_b if s.footprint is not None]
    if with_fp_b and only_a:
        tree = shapely.STRtree([s.footprint for s in with_fp_b])
        geoms_a = [s.footprint for s in only_a if s.footprint is not None]
        owners_a = [s for s in only_a if s.footprint is not None]
        if geoms_a:
            ia, ib = tree.query(geoms_a, predicate="intersects")
            scores = _iou(np.array([geoms_a[i] for i in ia], dtype=object),
                          np.array([with_fp_b[j].footprint for j in ib], dtype=object))  # fmt: skip
            for m in np.argsort(-scores, kind="stable"):
                if scores[m] < overlap_iou_min:
                    break
                sa, sb = owners_a[ia[m]], with_fp_b[ib[m]]
                if sa.id in paired_a or sb.id in paired_b:
                    continue
                paired_a.add(sa.id)
                paired_b.add(sb.id)
                dh = _height_change(sa, sb)
                same = scores[m] >= footprint_iou_min and (dh is None or abs(dh) <= height_tolerance_m)
                update.changed.append(_row(sa, sb, "id_changed" if same else "rebuilt", scores[m]))
    update.removed = [s.id for s in only_a if s.id not in paired_a]
    update.added = [s.id for s in only_b if s.id not in paired_b]
    update.changed.sort(key=lambda r: (r["change"], r["id"]))
    return update


def _height_change(sa: BuildingState, sb: BuildingState) -> float | None:
    if sa.height_m is None or sb.height_m is None:
        return None
    return sb.height_m - sa.height_m


def _row(sa: BuildingState, sb: BuildingState, kind: str, iou: float) -> dict[str, Any]:
    def area(s: BuildingState) -> float | None:
        return None if s.footprint is None else round(float(s.footprint.area), 2)

    def height(s: BuildingState) -> float | None:
        return None if s.height_m is None else round(float(s.height_m), 2)

    return {"id": sa.id, "id_b": sb.id, "change": kind, "height_a": height(sa), "height_b": height(sb),
            "area_a": area(sa), "area_b": area(sb), "iou": round(float(iou), 3)}  # fmt: skip


def states_from_records(records: Iterable[dict[str, Any]]) -> list[BuildingState]:
    """Building states from plain records ``{"id", "footprint" (WKT or shapely), "height_m"}``."""
    import shapely

    out = []
    for r in records:
        fp = r.get("footprint")
        if isinstance(fp, str):
            fp = shapely.from_wkt(fp)
        out.append(BuildingState(str(r["id"]), fp, r.get("height_m")))
    return out


def summary_lines(update: MapUpdate, limit: int = 10) -> Sequence[str]:
    """A few human-readable lines about a map update."""
    c = update.counts()
    lines = [f"map update {update.label_a} -> {update.label_b}: {c['added']} added, {c['removed']} removed, "
             f"{c['changed']} changed, {c['unchanged']} unchanged"]  # fmt: skip
    for row in update.changed[:limit]:
        ident = row["id"] if row["id"] == row["id_b"] else f"{row['id']} -> {row['id_b']}"
        lines.append(f"  {row['change']:<17} {ident}  height {row['height_a']} -> {row['height_b']}  iou {row['iou']}")
    return lines
