"""Public-space vitality (公共空间活力) from day/night crowd heat-map grids.

The heat map is a grid of cells (centre x, y in scene CRS, ``cell_m`` side) with a crowd density
per hour (0-23), as mobile-signalling or location-service heat maps give it. For each public
space (the parks layer: parks, pocket parks, squares) the mean daytime density of the cells in it
is compared with the median density of all occupied cells: well below is a cold (underused)
space, far above a crowded one. Crowded cells with no public space within a 5-minute walk are
problems of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from cim_twin.indicators.api import AuxLayer, CheckContext, Indicator
from cim_twin.indicators.hookspecs import hookimpl
from cim_twin.model import IndicatorSpec, ProblemPoint, Threshold

from ._spatial import (
    SharedTableIndicator,
    building_table,
    floats,
    fmt_m,
    fmt_m_zh,
    ground_z_at,
    group_index,
    nearest_geometry,
    strings,
)

__all__ = ["HeatGrid", "PublicSpaceVitality", "heat_grid"]

LOCAL = "local choice"
DAY_HOURS = tuple(range(8, 19))  # 08:00-18:59
NIGHT_HOURS = (19, 20, 21, 22, 23)
ACTIVE_HOURS = tuple(range(7, 22))  # 07:00-21:59, when crowds look for public space


class HeatGrid:
    """Heat-map cells pivoted to ``density[cell, hour]`` (people per cell)."""

    def __init__(self, xy: np.ndarray, cell_m: float, density: np.ndarray) -> None:
        self.xy = xy
        self.cell_m = cell_m
        self.density = density

    def mean(self, hours: tuple[int, ...]) -> np.ndarray:
        return self.density[:, list(hours)].mean(axis=1) if len(self.xy) else np.zeros(0)

    @property
    def per_ha(self) -> float:
        """Factor from people per cell to people per hectare."""
        return 10000.0 / (self.cell_m * self.cell_m)


def heat_grid(layer: AuxLayer) -> HeatGrid:
    """Pivot a long-form heat-map layer (one row per cell and hour) into a :class:`HeatGrid`."""
    layer.require("hour", "density")
    import shapely

    # the geometries are in scene CRS (the loader moved them); bare x/y columns only as a fallback
    if len(layer) and not shapely.is_missing(layer.geometries).any():
        xy = layer.xy()
        x, y = xy[:, 0], xy[:, 1]
    else:
        layer.require("x", "y")
        x, y = floats(layer, "x"), floats(layer, "y")
    cell = floats(layer, "cell_m")
    cell_m = float(np.nanmedian(cell)) if np.isfinite(cell).any() else 100.0
    hour = floats(layer, "hour")
    density = np.nan_to_num(floats(layer, "density"))
    keys = np.round(np.column_stack([x, y]) / (cell_m / 4)).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    grid = np.zeros((len(uniq), 24))
    ok = np.isfinite(hour) & (hour >= 0) & (hour < 24)
    np.add.at(grid, (inverse[ok], hour[ok].astype(np.int64)), density[ok])
    centres = np.zeros((len(uniq), 2))
    np.add.at(centres, inverse, np.column_stack([x, y]))
    counts = np.bincount(inverse, minlength=len(uniq))[:, None]
    return HeatGrid(centres / np.maximum(counts, 1), cell_m, grid)


class PublicSpaceVitality(SharedTableIndicator):
    spec = IndicatorSpec(
        code="L-PUBLIC-VITALITY",
        name_zh="公共空间活力",
        name_en="Public-space vitality",
        category="创新活力",
        level="block",
        unit="ratio",
        thresholds={
            "default": Threshold(value=0.8, unit="ratio", source=LOCAL + ": at least 80 % of public spaces not cold"),
            "cold_ratio": Threshold(value=0.5, unit="ratio", source=LOCAL + ": daytime density below half the median occupied cell"),
            "hot_ratio": Threshold(value=3.0, unit="ratio", source=LOCAL + ": daytime density over 3 × the median occupied cell"),
            "crowd_ratio": Threshold(value=3.0, unit="ratio", source=LOCAL + ": peak-hour density over 3 × the median occupied cell"),
            "reach_m": Threshold(value=300.0, unit="m", source="GB 50180-2018 城市居住区规划设计标准: 5-minute walk 300 m"),
        },
        data_needed=("heatmap: x, y, cell_m, hour, density", "parks (public spaces)", "blocks"),
        description_en="Per public space, mean daytime (08-18 h) crowd density of its cells over the median of all occupied "
        "cells: below 0.5 cold, above 3 crowded; night/day ratio as evidence. Cells whose peak density is over 3 × the "
        "median with no public space within 300 m are crowded areas lacking public space. Per block: share of public "
        "spaces that are not cold.",
        description_zh="公共空间白天（8-18时）人群密度与全部有人网格中位数之比：低于0.5为冷点，高于3为拥挤；"
        "高峰密度超过中位数3倍且300米内无公共空间的区域列为缺少公共空间的人群聚集区。",
    )

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        import shapely
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        grid = heat_grid(ctx.layer("heatmap"))
        spaces = ctx.layer("parks")
        table = building_table(ctx)
        day_hours = tuple(ctx.option(self, "day_hours", DAY_HOURS))
        night_hours = tuple(ctx.option(self, "night_hours", NIGHT_HOURS))
        day = grid.mean(day_hours)
        night = grid.mean(night_hours)
        # crowds that want public space: the waking hours, not people asleep at home
        active_hours = list(ctx.option(self, "active_hours", ACTIVE_HOURS))
        peak = grid.density[:, active_hours].max(axis=1) if len(grid.xy) else np.zeros(0)
        occupied = day[day > 0]
        reference = float(np.median(occupied)) if len(occupied) else 0.0
        cold_r = ctx.threshold(self, "cold_ratio")
        hot_r = ctx.threshold(self, "hot_ratio")
        # cells of each space: centres inside the polygon grown by half a cell (small squares
        # still get the cell they sit in)
        grown = shapely.buffer(spaces.geometries, grid.cell_m / 2.0)
        cell_pts = shapely.points(grid.xy) if len(grid.xy) else np.zeros(0, object)
        si, ci = shapely.STRtree(cell_pts).query(grown, predicate="contains") if len(grid.xy) else (np.zeros(0, int), np.zeros(0, int))
        n_sp = len(spaces)
        n_cells = np.bincount(si, minlength=n_sp)[:n_sp]
        day_sum = np.bincount(si, weights=day[ci], minlength=n_sp)[:n_sp] if len(si) else np.zeros(n_sp)
        night_sum = np.bincount(si, weights=night[ci], minlength=n_sp)[:n_sp] if len(si) else np.zeros(n_sp)
        with np.errstate(divide="ignore", invalid="ignore"):
            sp_day = np.where(n_cells > 0, day_sum / n_cells, np.nan)
            sp_night = np.where(n_cells > 0, night_sum / n_cells, np.nan)
            index = sp_day / reference if reference > 0 else np.full(n_sp, np.nan)
            night_day = np.where(sp_day > 0, sp_night / sp_day, np.nan)
        cold = np.isfinite(index) & (index < cold_r)
        hot = np.isfinite(index) & (index > hot_r)
        sp_xy = spaces.xy()
        ids = strings(spaces, "id")
        names = strings(spaces, "name")
        kinds = strings(spaces, "kind")
        # per block: share of the measured spaces that are not cold
        target = ctx.threshold(self)
        units = ctx.units("block")
        sp_block = ctx.unit_ids_at(sp_xy, "block")
        if units is not None:
            keys, codes = group_index(sp_block, [str(v) for v in units.column("id")])
            measured = np.isfinite(index)
            n_m = np.bincount(codes[(codes >= 0) & measured], minlength=len(keys))[: len(keys)]
            n_ok = np.bincount(codes[(codes >= 0) & measured & ~cold], minlength=len(keys))[: len(keys)]
            for k, unit in enumerate(keys):
                ctx.measure(self, unit, n_ok[k] / n_m[k] if n_m[k] else None, numerator=float(n_ok[k]),
                            denominator=float(n_m[k]), threshold=target,
                            details={"reference_density_per_ha": round(reference * grid.per_ha, 1)})
        z_sp = ground_z_at(table, sp_xy)
        for i in np.nonzero(cold | hot)[0]:
            label = names[i] or ids[i]
            evidence = {"space_id": str(ids[i]), "kind": kinds[i] or None, "cells": int(n_cells[i]),
                        "day_density_per_ha": round(float(sp_day[i] * grid.per_ha), 1),
                        "night_density_per_ha": round(float(sp_night[i] * grid.per_ha), 1),
                        "night_day_ratio": None if not np.isfinite(night_day[i]) else round(float(night_day[i]), 2),
                        "reference_density_per_ha": round(reference * grid.per_ha, 1), "vitality_index": round(float(index[i]), 2)}
            if cold[i]:
                severity = "medium" if index[i] < cold_r / 2 else "low"
                en = f"Public space {label} is cold: daytime crowd density {index[i]:.2f} × the district median"
                zh = f"公共空间{label}活力不足（冷点）：白天人群密度为城区中位数的{index[i]:.2f}倍"
                thr = cold_r
            else:
                severity = "medium"
                en = f"Public space {label} is crowded: daytime crowd density {index[i]:.1f} × the district median"
                zh = f"公共空间{label}过度拥挤：白天人群密度为城区中位数的{index[i]:.1f}倍"
                thr = hot_r
            yield ctx.problem(
                self, None, position=(sp_xy[i][0], sp_xy[i][1], z_sp[i]), object_ids=(str(ids[i]),),
                subject=f"space:{ids[i]}", unit_id=sp_block[i], unit_level="block", value=float(index[i]), threshold=thr, severity=severity,
                message_en=en + (f", night/day {night_day[i]:.2f}" if np.isfinite(night_day[i]) else ""),
                message_zh=zh + (f"，夜间/白天{night_day[i]:.2f}" if np.isfinite(night_day[i]) else ""),
                evidence=evidence,
            )
        # crowded areas with no public space within reach
        if not len(grid.xy) or reference <= 0:
            return
        reach = ctx.threshold(self, "reach_m")
        crowded = peak > ctx.threshold(self, "crowd_ratio") * reference
        if not crowded.any():
            return
        cells = np.nonzero(crowded)[0]
        dist, _ = nearest_geometry(grid.xy[cells], spaces.geometries, tree=spaces.tree if len(spaces) else None)
        cells = cells[dist > reach]
        dist = dist[dist > reach]
        if not len(cells):
            return
        pairs = cKDTree(grid.xy[cells]).query_pairs(grid.cell_m * 1.5, output_type="ndarray")
        adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(cells), len(cells)))
        n_groups, group = connected_components(adj, directed=False)
        for g in range(n_groups):
            members = np.nonzero(group == g)[0]
            top = members[np.argmax(peak[cells[members]])]
            c = cells[top]
            x, y = grid.xy[c]
            z = float(ground_z_at(table, grid.xy[[c]])[0])
            hour = int(active_hours[int(np.argmax(grid.density[c, active_hours]))])
            yield ctx.problem(
                self, None, position=(x, y, z), subject=f"crowd:{round(x / grid.cell_m)}:{round(y / grid.cell_m)}",
                unit_level="block", value=float(peak[c] / reference), threshold=ctx.threshold(self, "crowd_ratio"), severity="medium",
                message_en=f"Crowded area ({len(members)} cell{'s' if len(members) != 1 else ''}, peak {peak[c] * grid.per_ha:.0f} people/ha at {hour:02d}:00) "
                f"with no public space within {fmt_m(reach)}; nearest is {fmt_m(float(dist[top]))} away",
                message_zh=f"人群聚集区（{len(members)}个网格，{hour:02d}时高峰每公顷{peak[c] * grid.per_ha:.0f}人）"
                f"{fmt_m_zh(reach)}内没有公共空间，最近的在{fmt_m_zh(float(dist[top]))}外",
                evidence={"cells": len(members), "peak_density_per_ha": round(float(peak[c] * grid.per_ha), 1), "peak_hour": hour,
                          "nearest_public_space_m": round(float(dist[top]), 1),
                          "reference_density_per_ha": round(reference * grid.per_ha, 1)},
            )


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    register(PublicSpaceVitality())
