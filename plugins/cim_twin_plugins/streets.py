"""Street height-to-width ratio (街道高宽比) from the 3D model and the road centrelines.

Cross-sections every ``spacing_m`` along each centreline cast one ray to each side,
perpendicular to the road, against the building footprints (one STRtree bulk query for all rays).
The nearest building hit on each side gives the building-to-building width W (left distance +
right distance) and the height H (mean of the two buildings' heights).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from cim_twin.indicators.api import CheckContext, Indicator
from cim_twin.indicators.hookspecs import hookimpl
from cim_twin.model import Direction, IndicatorSpec, ProblemPoint, Threshold

from ._spatial import BuildingTable, SharedTableIndicator, building_table, group_index, in_unit, strings

__all__ = ["CrossSections", "StreetHeightWidth", "cross_sections"]

LOCAL = "local choice"


@dataclass
class CrossSections:
    """Street cross-sections: one row per section (NaN where a side has no building in reach)."""

    road: np.ndarray  # row in the roads layer
    xy: np.ndarray  # (n, 2) section centre on the centreline
    left_m: np.ndarray
    right_m: np.ndarray
    left_row: np.ndarray  # building row (-1: none)
    right_row: np.ndarray
    height_m: np.ndarray
    width_m: np.ndarray
    hw: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.hw)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _ray_entry(p0: np.ndarray, d: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Where each ray ``p0 + t·d`` (t in [0, 1]) first enters its triangle ``tri`` (k, 3, 2):
    the smallest t at which it crosses an edge, 0 when it starts inside, inf when it misses.
    Vectorised over all ray/triangle pairs (cheaper than a geometry intersection per pair)."""
    best = np.full(len(p0), np.inf)
    for e in range(3):
        a, b = tri[:, e], tri[:, (e + 1) % 3]
        edge = b - a
        w = a - p0
        denom = _cross(d, edge)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = _cross(w, edge) / denom
            u = _cross(w, d) / denom
        ok = (denom != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
        best = np.where(ok & (t < best), t, best)
    signs = np.stack([_cross(tri[:, (e + 1) % 3] - tri[:, e], p0 - tri[:, e]) for e in range(3)], axis=1)
    inside = (signs >= 0).all(axis=1) | (signs <= 0).all(axis=1)
    best[inside] = 0.0
    return best


def cross_sections(
    lines: np.ndarray, table: BuildingTable, spacing_m: float = 20.0, reach_m: float = 60.0, min_offset_m: float = 1.0
) -> CrossSections:
    """Cast perpendicular rays both sides every ``spacing_m`` along each line.

    Parameters
    ----------
    lines: shapely LineStrings (road centrelines, scene CRS).
    table: the buildings (footprints and heights).
    spacing_m: distance between sections along a line (first one half a spacing in).
    reach_m: ray length each side; a side with no building within it stays open (NaN).
    min_offset_m: hits closer than this to the centreline are ignored (a footprint drawn over the
        road is a data error, not a street wall).

    Returns
    -------
    CrossSections with W = left + right and H = mean of the two buildings' heights.
    """
    import shapely

    lengths = shapely.length(lines)
    counts = np.maximum(np.floor(lengths / spacing_m).astype(np.int64), 1)
    counts = np.where(lengths > 0, counts, 0)
    road = np.repeat(np.arange(len(lines)), counts)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else np.zeros(0, np.int64)
    k = np.arange(len(road)) - np.repeat(offsets, counts)
    # sections centred on the line: equal gaps at both ends
    along = (k + 0.5) * np.repeat(lengths / np.maximum(counts, 1), counts)
    geoms = lines[road]
    centre = shapely.get_coordinates(shapely.line_interpolate_point(geoms, along))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(geoms, np.minimum(along + 1.0, np.repeat(lengths, counts))))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(geoms, np.maximum(along - 1.0, 0.0)))
    tangent = ahead - behind
    norm = np.linalg.norm(tangent, axis=1)
    norm[norm == 0] = 1.0
    tangent /= norm[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])  # left of the direction of travel
    n = len(road)
    dist = np.full((2, n), np.inf)
    row = np.full((2, n), -1, dtype=np.int64)
    polys, brow = table.footprint_triangles()
    if n and len(polys):
        tree = shapely.STRtree(polys)
        for side, sign in enumerate((1.0, -1.0)):
            start = centre + sign * normal * min_offset_m
            end = centre + sign * normal * reach_m
            rays = shapely.linestrings(np.stack([start, end], axis=1))
            ri, ti = tree.query(rays)  # bounding boxes; the exact test is _ray_entry's
            if not len(ri):
                continue
            corners = shapely.get_coordinates(polys[ti]).reshape(len(ti), 4, 2)[:, :3]
            t = _ray_entry(start[ri], end[ri] - start[ri], corners)
            hit = np.isfinite(t)
            ri, ti = ri[hit], ti[hit]
            d = min_offset_m + t[hit] * (reach_m - min_offset_m)
            order = np.lexsort((d, ri))
            ri, ti, d = ri[order], ti[order], d[order]
            first = np.unique(ri, return_index=True)[1]
            dist[side, ri[first]] = d[first]
            row[side, ri[first]] = brow[ti[first]]
    both = (row[0] >= 0) & (row[1] >= 0)
    heights = np.where(row >= 0, table.height_m[np.maximum(row, 0)] if len(table) else np.nan, np.nan)
    width = np.where(both, dist[0] + dist[1], np.nan)
    h0, h1 = heights
    # a side whose building has no height counts with the other side's height alone
    pair = np.where(np.isfinite(h0) & np.isfinite(h1), (h0 + h1) / 2.0, np.where(np.isfinite(h0), h0, h1))
    height = np.where(both, pair, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        hw = np.where(both & (width > 0), height / width, np.nan)
    return CrossSections(road=road, xy=centre, left_m=np.where(row[0] >= 0, dist[0], np.nan),
                         right_m=np.where(row[1] >= 0, dist[1], np.nan), left_row=row[0], right_row=row[1],
                         height_m=height, width_m=width, hw=hw)


class StreetHeightWidth(SharedTableIndicator):
    spec = IndicatorSpec(
        code="L-STREET-HW",
        name_zh="街道高宽比",
        name_en="Street height-to-width ratio",
        category="风貌特色",
        level="block",
        unit="ratio",
        direction=Direction.IN_BAND,
        thresholds={
            "default": Threshold(low=0.25, high=2.0, unit="H/W",
                                 source=LOCAL + ": below 0.25 the street loses enclosure (Ashihara, D/H > 4); above 2 it is a deep canyon "
                                 "with poor daylight and ventilation (Oke 1988)"),
            "low": Threshold(value=0.25, unit="H/W", source=LOCAL),
            "high": Threshold(value=2.0, unit="H/W", source=LOCAL),
            "spacing_m": Threshold(value=20.0, unit="m", source=LOCAL + ": one cross-section every 20 m"),
            "reach_m": Threshold(value=60.0, unit="m", source=LOCAL + ": a side with no building within 60 m is open"),
            "min_sections": Threshold(value=2.0, unit="sections", source=LOCAL),
        },
        data_needed=("buildings: footprint, height", "roads (centrelines)", "blocks"),
        description_en="Cross-sections every 20 m along each centreline; W = distance between the nearest buildings on "
        "both sides, H = mean of their heights. A road is a problem when the median H/W of its sections leaves the band.",
        description_zh="沿道路中心线每20米取横断面，W为两侧最近建筑间距，H为两侧建筑平均高度；中位高宽比超出区间的道路为问题。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        table = building_table(ctx)
        roads = ctx.layer("roads")
        skip = list(ctx.option(self, "skip_classes", []))
        classes = strings(roads, "class")
        use = ~np.isin(classes, skip) if skip else np.ones(len(roads), bool)
        rows = np.nonzero(use)[0]
        low = ctx.threshold(self, "low")
        high = ctx.threshold(self, "high")
        sec = cross_sections(roads.geometries[rows], table, spacing_m=ctx.threshold(self, "spacing_m"),
                             reach_m=ctx.threshold(self, "reach_m"))
        sec_road = rows[sec.road]
        valid = sec.valid
        in_band = valid & (sec.hw >= low) & (sec.hw <= high)
        block_of = ctx.unit_ids_at(sec.xy, "block")
        for level in ("block", "district"):
            if ctx.units(level) is None:
                continue
            ids = block_of if level == "block" else ctx.unit_ids_at(sec.xy, level)
            keys, codes = group_index(ids, [str(v) for v in ctx.units(level).column("id")])  # type: ignore[union-attr]
            n_valid = np.bincount(codes[(codes >= 0) & valid], minlength=len(keys))[: len(keys)]
            n_in = np.bincount(codes[(codes >= 0) & in_band], minlength=len(keys))[: len(keys)]
            hw_sum = np.bincount(codes[(codes >= 0) & valid], weights=sec.hw[(codes >= 0) & valid], minlength=len(keys))[: len(keys)]
            for k, unit in enumerate(keys):
                share = n_in[k] / n_valid[k] if n_valid[k] else None
                ctx.measure(self, unit, share, level=level, numerator=float(n_in[k]), denominator=float(n_valid[k]),
                            details={"unit_of_value": "share of sections within the band", "low": low, "high": high,
                                     "mean_hw": float(hw_sum[k] / n_valid[k]) if n_valid[k] else None})
        road_ids = strings(roads, "id")
        names = strings(roads, "name")
        min_sections = int(ctx.threshold(self, "min_sections"))
        order = np.argsort(sec_road, kind="stable")
        bounds = np.searchsorted(sec_road[order], rows)
        ends = np.searchsorted(sec_road[order], rows, side="right")
        for r, a, b in zip(rows, bounds, ends, strict=True):
            idx = order[a:b]
            idx = idx[valid[idx]]
            if len(idx) < min_sections:
                continue
            median = float(np.median(sec.hw[idx]))
            if low <= median <= high:
                continue
            too_high = median > high
            worst = idx[np.argmax(sec.hw[idx])] if too_high else idx[np.argmin(sec.hw[idx])]
            severity = ("high" if median > 1.5 * high else "medium") if too_high else "low"
            out_share = float(np.mean((sec.hw[idx] < low) | (sec.hw[idx] > high)))
            lrow, rrow = int(sec.left_row[worst]), int(sec.right_row[worst])
            z = float(np.nanmean([table.ground_z[lrow], table.ground_z[rrow]]))
            label = names[r] or road_ids[r]
            yield in_unit(ctx.problem(
                self, None, position=(sec.xy[worst][0], sec.xy[worst][1], z if np.isfinite(z) else 0.0),
                object_ids=(str(road_ids[r]), str(table.ids[lrow]), str(table.ids[rrow])), subject=f"road:{road_ids[r]}",
                unit_id=block_of[worst], unit_level="block", value=median, threshold=high if too_high else low,
                severity=severity,
                message_en=f"Street {label}: median height-to-width ratio {median:.2f} is "
                + (f"above {high:g} (deep, narrow street canyon)" if too_high else f"below {low:g} (no sense of enclosure)")
                + f"; {out_share:.0%} of {len(idx)} sections outside the band",
                message_zh=f"街道{label}中位高宽比{median:.2f}，"
                + (f"高于{high:g}（街道狭窄压抑）" if too_high else f"低于{low:g}（街道空旷缺乏围合感）")
                + f"；{len(idx)}个断面中{out_share:.0%}超出区间",
                evidence={"road_id": str(road_ids[r]), "sections": len(idx), "median_hw": round(median, 3),
                          "share_outside": round(out_share, 3),
                          "worst_section": {"hw": round(float(sec.hw[worst]), 3), "width_m": round(float(sec.width_m[worst]), 1),
                                            "height_m": round(float(sec.height_m[worst]), 1),
                                            "left_building": str(table.ids[lrow]), "right_building": str(table.ids[rrow]),
                                            "left_m": round(float(sec.left_m[worst]), 1), "right_m": round(float(sec.right_m[worst]), 1)}},
            ), "H/W")


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    register(StreetHeightWidth())
