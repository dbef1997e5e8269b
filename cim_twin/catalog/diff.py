"""What changed between two check runs: new, persisting, resolved, worsened and improved findings,
by indicator and spatial unit, plus the change of every measurement.

Findings are matched first by their stable key (indicator + object or unit, without the period, so
next year's finding of the same problem has the same key), then, for objects whose ids changed
between the two models, by indicator and nearest position within a radius (one-to-one, closest
pairs first, through a scipy cKDTree per indicator).

A matched pair is *worsened* when its severity went up, or at equal severity its value moved the
wrong way for the indicator's direction (beyond a tolerance); *improved* in the opposite case;
*persisting* otherwise. The five classes are disjoint.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import Direction, IndicatorSpec, Measurement, Severity
from .defaults import MATCH_RADIUS_M
from .store import Catalog, FindingArrays

__all__ = ["CLASSES", "RunDiff", "diff_findings", "diff_measurements", "diff_runs"]

CLASSES = ("new", "persisting", "resolved", "worsened", "improved")
#: Default radius (m, scene CRS) within which an unmatched finding may match one of the same
#: indicator in the other run.
DEFAULT_RADIUS_M = MATCH_RADIUS_M
_SEVERITIES = [s.value for s in Severity]


@dataclass
class RunDiff:
    """The comparison of run ``a`` (older) with run ``b`` (newer).

    ``pairs`` holds the matched rows ``(index in a, index in b)`` with how each was matched;
    ``cls`` the class of each pair; ``new`` the rows of ``b`` and ``resolved`` those of ``a`` left
    unmatched.
    """

    run_a: str
    run_b: str
    a: FindingArrays
    b: FindingArrays
    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_by_position: np.ndarray
    pair_class: np.ndarray
    new: np.ndarray
    resolved: np.ndarray
    radius_m: float
    measurements: dict[str, Any] = field(default_factory=dict)
    map_update: dict[str, Any] | None = None

    def indices(self, cls: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``a`` and ``b`` in class ``cls`` (one side empty for new / resolved)."""
        if cls == "new":
            return np.zeros(0, np.int64), self.new
        if cls == "resolved":
            return self.resolved, np.zeros(0, np.int64)
        mask = self.pair_class == cls
        return self.pair_a[mask], self.pair_b[mask]

    def counts(self) -> dict[str, int]:
        out = {c: len(self.indices(c)[1] if c != "resolved" else self.resolved) for c in CLASSES}
        out["matched_by_position"] = int(self.pair_by_position.sum())
        return out

    def _grouped(self, column: str) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for cls in CLASSES:
            ia, ib = self.indices(cls)
            values = getattr(self.a, column)[ia] if cls == "resolved" else getattr(self.b, column)[ib]
            for value, n in Counter(values.tolist()).items():
                table[value or "(none)"][cls] += n
        return {k: {c: table[k].get(c, 0) for c in CLASSES} for k in sorted(table)}

    def by_indicator(self) -> dict[str, dict[str, int]]:
        return self._grouped("indicator")

    def by_unit(self) -> dict[str, dict[str, int]]:
        return self._grouped("unit_id")

    def rows(self, cls: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The findings of one class as small dicts (ids, indicator, unit, severities, values)."""
        ia, ib = self.indices(cls)
        out: list[dict[str, Any]] = []
        n = len(ia) if cls == "resolved" else len(ib)
        by_position = self.pair_by_position[self.pair_class == cls] if cls not in ("new", "resolved") else None
        for k in range(n if limit is None else min(n, limit)):
            row: dict[str, Any] = {}
            if cls != "new":
                i = int(ia[k])
                row.update(id_a=self.a.id[i], severity_a=_SEVERITIES[self.a.severity_rank[i]],
                           value_a=_num(self.a.value[i]))  # fmt: skip
            if cls != "resolved":
                j = int(ib[k])
                row.update(id_b=self.b.id[j], severity_b=_SEVERITIES[self.b.severity_rank[j]],
                           value_b=_num(self.b.value[j]))  # fmt: skip
            side, idx = (self.a, int(ia[k])) if cls == "resolved" else (self.b, int(ib[k]))
            row.update(key=side.key[idx], indicator=side.indicator[idx], unit_id=side.unit_id[idx],
                       x=float(side.x[idx]), y=float(side.y[idx]))  # fmt: skip
            if by_position is not None:
                row["matched_by"] = "position" if by_position[k] else "key"
            out.append(row)
        return out

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        """JSON form: counts, by indicator, by unit, the findings of each class (up to ``limit``
        each), measurement changes and the map update when known."""
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "radius_m": self.radius_m,
            "counts": self.counts(),
            "by_indicator": self.by_indicator(),
            "by_unit": self.by_unit(),
            "findings": {c: self.rows(c, limit) for c in CLASSES},
            "measurements": self.measurements,
            "map_update": self.map_update,
        }


def _num(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def diff_findings(
    a: FindingArrays,
    b: FindingArrays,
    *,
    directions: dict[str, Direction] | None = None,
    radius_m: float = DEFAULT_RADIUS_M,
    value_tolerance: float = 1e-9,
    run_a: str = "a",
    run_b: str = "b",
) -> RunDiff:
    """Match and classify the findings of two runs (see the module docstring).

    Parameters
    ----------
    a, b:
        Findings of the older and the newer run.
    directions:
        Indicator code -> which way is better; where unknown it is inferred from a finding's value
        against its threshold (above the threshold: lower is better).
    radius_m:
        Largest distance for matching by position (0 turns position matching off).
    value_tolerance:
        Relative change of value below which a pair counts as unchanged.
    """
    directions = directions or {}
    index_b: dict[str, int] = {}
    for j, key in enumerate(b.key.tolist()):
        index_b.setdefault(key, j)
    pa: list[int] = []
    pb: list[int] = []
    taken_b = np.zeros(len(b), dtype=bool)
    for i, key in enumerate(a.key.tolist()):
        hit = index_b.get(key)
        if hit is not None and not taken_b[hit]:
            j = hit
            taken_b[j] = True
            pa.append(i)
            pb.append(j)
    by_key = len(pa)
    matched_a = np.zeros(len(a), dtype=bool)
    matched_a[pa] = True
    if radius_m > 0:
        extra_a, extra_b = _match_by_position(a, b, ~matched_a, ~taken_b, radius_m)
        pa.extend(extra_a)
        pb.extend(extra_b)
        matched_a[extra_a] = True
        taken_b[extra_b] = True
    pair_a = np.array(pa, dtype=np.int64)
    pair_b = np.array(pb, dtype=np.int64)
    by_position = np.arange(len(pair_a)) >= by_key
    classes = _classify(a, b, pair_a, pair_b, directions, value_tolerance)
    return RunDiff(
        run_a=run_a, run_b=run_b, a=a, b=b, pair_a=pair_a, pair_b=pair_b, pair_by_position=by_position,
        pair_class=classes, new=np.flatnonzero(~taken_b), resolved=np.flatnonzero(~matched_a), radius_m=radius_m,
    )  # fmt: skip


def _match_by_position(a: FindingArrays, b: FindingArrays, free_a: np.ndarray, free_b: np.ndarray,
                       radius_m: float) -> tuple[list[int], list[int]]:  # fmt: skip
    """One-to-one nearest matches of the same indicator within ``radius_m``, closest first."""
    from scipy.spatial import cKDTree

    out_a: list[int] = []
    out_b: list[int] = []
    ia_all = np.flatnonzero(free_a)
    ib_all = np.flatnonzero(free_b)
    if not len(ia_all) or not len(ib_all):
        return out_a, out_b
    for code in np.intersect1d(a.indicator[ia_all].astype(str), b.indicator[ib_all].astype(str)):
        ia = ia_all[a.indicator[ia_all] == code]
        ib = ib_all[b.indicator[ib_all] == code]
        tree = cKDTree(np.column_stack([b.x[ib], b.y[ib]]))
        k = min(4, len(ib))
        dist, nearest = tree.query(np.column_stack([a.x[ia], a.y[ia]]), k=k, distance_upper_bound=radius_m)
        dist = dist.reshape(len(ia), k)
        nearest = nearest.reshape(len(ia), k)
        ok = np.isfinite(dist)
        cand_a = np.repeat(np.arange(len(ia)), k).reshape(len(ia), k)[ok]
        cand_b = nearest[ok]
        order = np.argsort(dist[ok], kind="stable")
        used_a = np.zeros(len(ia), dtype=bool)
        used_b = np.zeros(len(ib), dtype=bool)
        for m in order:
            i, j = cand_a[m], cand_b[m]
            if not used_a[i] and not used_b[j]:
                used_a[i] = used_b[j] = True
                out_a.append(int(ia[i]))
                out_b.append(int(ib[j]))
    return out_a, out_b


def _classify(a: FindingArrays, b: FindingArrays, pair_a: np.ndarray, pair_b: np.ndarray,
              directions: dict[str, Direction], tolerance: float) -> np.ndarray:  # fmt: skip
    classes = np.full(len(pair_a), "persisting", dtype=object)
    if not len(pair_a):
        return classes
    rank_a = a.severity_rank[pair_a].astype(np.int16)
    rank_b = b.severity_rank[pair_b].astype(np.int16)
    va, vb = a.value[pair_a], b.value[pair_b]
    threshold = np.where(np.isnan(a.threshold[pair_a]), b.threshold[pair_b], a.threshold[pair_a])
    # +1: a larger value is worse; -1: a smaller one is; 0: unknown.
    sign = np.zeros(len(pair_a), dtype=np.int8)
    codes = a.indicator[pair_a]
    for code in set(codes.tolist()):
        direction = directions.get(code)
        mask = codes == code
        if direction in (Direction.LOWER_IS_BETTER, Direction.COUNT):
            sign[mask] = 1
        elif direction == Direction.HIGHER_IS_BETTER:
            sign[mask] = -1
    inferred = sign == 0
    sign[inferred & (va > threshold)] = 1
    sign[inferred & (va < threshold)] = -1
    delta = vb - va
    in_band = np.array([directions.get(c) == Direction.IN_BAND for c in codes.tolist()], dtype=bool)
    if in_band.any():  # farther from the threshold is worse
        delta = np.where(in_band, np.abs(vb - threshold) - np.abs(va - threshold), delta)
        sign = np.where(in_band, 1, sign).astype(np.int8)
    scale = np.maximum(np.abs(va), 1.0)
    moved = np.nan_to_num(delta * sign) / scale
    worse = (rank_b > rank_a) | ((rank_b == rank_a) & (moved > tolerance))
    better = (rank_b < rank_a) | ((rank_b == rank_a) & (moved < -tolerance))
    classes[worse] = "worsened"
    classes[better] = "improved"
    return classes


def diff_measurements(
    a: list[Measurement], b: list[Measurement], directions: dict[str, Direction], *, tolerance: float = 1e-9
) -> dict[str, Any]:
    """Per indicator: each unit's value in both runs, its change, and whether it got better.

    Returns ``{code: {"improved": n, "worsened": n, "unchanged": n, "passed_a": n, "passed_b": n,
    "units": [{unit_id, value_a, value_b, change, trend}]}}``.
    """
    old = {(m.indicator, m.unit_id): m for m in a}
    out: dict[str, Any] = {}
    for m in b:
        entry = out.setdefault(m.indicator, {"improved": 0, "worsened": 0, "unchanged": 0, "new": 0,
                                             "passed_a": 0, "passed_b": 0, "units": []})  # fmt: skip
        entry["passed_b"] += int(bool(m.passed))
        before = old.get((m.indicator, m.unit_id))
        if before is None or before.value is None or m.value is None:
            entry["new"] += 1
            entry["units"].append({"unit_id": m.unit_id, "value_a": None, "value_b": m.value, "change": None,
                                   "trend": "new"})  # fmt: skip
            continue
        entry["passed_a"] += int(bool(before.passed))
        change = m.value - before.value
        trend = _trend(change, before.value, directions.get(m.indicator), m.threshold)
        entry[trend] += 1
        entry["units"].append({"unit_id": m.unit_id, "value_a": before.value, "value_b": m.value,
                               "change": change, "trend": trend})  # fmt: skip
    for entry in out.values():
        entry["units"].sort(key=lambda u: u["unit_id"])
    return out


def _trend(change: float, before: float, direction: Direction | None, threshold: float | None,
           tolerance: float = 1e-9) -> str:  # fmt: skip
    if abs(change) <= tolerance * max(abs(before), 1.0):
        return "unchanged"
    if direction == Direction.IN_BAND and threshold is not None:
        better = abs(before + change - threshold) < abs(before - threshold)
    elif direction in (Direction.LOWER_IS_BETTER, Direction.COUNT):
        better = change < 0
    else:
        better = change > 0
    return "improved" if better else "worsened"


def directions_of(specs: dict[str, IndicatorSpec]) -> dict[str, Direction]:
    return {code: spec.direction for code, spec in specs.items()}


def diff_runs(catalog: Catalog, run_a: str, run_b: str, *, radius_m: float = DEFAULT_RADIUS_M,
              value_tolerance: float = 1e-9) -> RunDiff:  # fmt: skip
    """Compare two stored runs (references as in :meth:`Catalog.resolve_run`)."""
    id_a, id_b = catalog.resolve_run(run_a), catalog.resolve_run(run_b)
    specs = {**catalog.specs(id_a), **catalog.specs(id_b)}
    directions = directions_of(specs)
    result = diff_findings(
        catalog.finding_arrays(id_a, light=True), catalog.finding_arrays(id_b, light=True), directions=directions,
        radius_m=radius_m, value_tolerance=value_tolerance, run_a=id_a, run_b=id_b,
    )  # fmt: skip
    result.measurements = diff_measurements(catalog.measurements(id_a), catalog.measurements(id_b), directions)
    return result
