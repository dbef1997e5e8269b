"""Street-view metrics: green view index (街道绿视率) and relative sidewalk width (人行道相对宽度).

Both read street-view samples: points with a heading and the class fractions a semantic
segmentation model gives for the photo (``green``, ``sky``, ``building``, ``road``, ``sidewalk``,
``vehicle``, ``person``). Samples are aggregated per road segment (``road_id``, else the nearest
centreline within 30 m). When a sample has only a ``photo``, the green view falls back to an
offline baseline: the share of vegetation pixels by the excess-green index ExG = 2g - r - b on
chromatic coordinates (Woebbecke et al. 1995), so the indicator runs without a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from cim_twin.errors import FormatError
from cim_twin.indicators.api import AuxLayer, CheckContext, Indicator
from cim_twin.indicators.hookspecs import hookimpl
from cim_twin.model import IndicatorSpec, ProblemPoint, Threshold

from ._spatial import (
    SharedTableIndicator,
    building_table,
    floats,
    ground_z_at,
    group_index,
    nearest_geometry,
    strings,
)

__all__ = ["GreenView", "SidewalkWidth", "excess_green_share"]

LOCAL = "local choice"


def excess_green_share(path: str | Path, threshold: float = 0.1, max_side: int = 512) -> float:
    """Share of vegetation pixels of a photo by the excess-green index.

    Parameters
    ----------
    path: image file (anything Pillow reads).
    threshold: a pixel is vegetation when ExG = 2g - r - b > threshold, with r, g, b the
        chromatic coordinates (channel / (R + G + B)).
    max_side: photos are reduced to this size first (the share does not need full resolution).

    Raises
    ------
    FormatError: the file is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as source:
            img = source.convert("RGB")
            img.thumbnail((max_side, max_side))
            rgb = np.asarray(img, dtype=np.float64)
    except (OSError, UnidentifiedImageError) as exc:
        raise FormatError(f"cannot read street-view photo: {exc}", path=str(path),
                          hint="the photo column holds paths relative to the layer file") from exc
    total = rgb.sum(axis=2)
    total[total == 0] = 1.0
    r, g, b = (rgb[..., i] / total for i in range(3))
    exg = 2 * g - r - b
    return float(np.mean(exg > threshold))


def _samples_by_road(ctx: CheckContext, samples: AuxLayer, roads: AuxLayer | None) -> np.ndarray:
    """Row in the roads layer of each sample: by ``road_id``, else the nearest centreline within 30 m."""
    xy = samples.xy()
    out = np.full(len(samples), -1, dtype=np.int64)
    if roads is None or not len(roads):
        return out
    road_ids = strings(roads, "id")
    pos = {r: i for i, r in enumerate(road_ids)}
    given = strings(samples, "road_id")
    out[:] = [pos.get(r, -1) for r in given]
    missing = out < 0
    if missing.any():
        _, idx = nearest_geometry(xy[missing], roads.geometries, max_distance=30.0, tree=roads.tree)
        out[missing] = idx
    return out


def green_fractions(samples: AuxLayer, threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Green share per sample and how it was got: the segmentation's ``green`` column, else the
    excess-green share of the ``photo`` (paths relative to the layer file); NaN when neither."""
    green = floats(samples, "green")
    method = np.where(np.isfinite(green), "segmentation", "").astype(object)
    photos = strings(samples, "photo")
    base = Path(samples.path).parent if samples.path else Path(".")
    for i in np.nonzero(~np.isfinite(green) & (photos != ""))[0]:
        p = Path(photos[i])
        green[i] = excess_green_share(p if p.is_absolute() else base / p, threshold)
        method[i] = "excess_green"
    return green, method


class _PerRoad(SharedTableIndicator):
    """Samples aggregated per road: subclasses give the per-sample value."""

    what_en = ""
    what_zh = ""

    def sample_values(self, ctx: CheckContext, samples: AuxLayer) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def road_values(self, ctx: CheckContext, roads: AuxLayer) -> np.ndarray | None:
        """A per-road value read once from the roads layer (used by :meth:`extra_problem`)."""
        return None

    def extra_problem(self, ctx: CheckContext, road_values: np.ndarray | None, r: int) -> tuple[bool, dict, str, str]:
        """A problem of the road beyond the sample value: (flagged, evidence, message en, zh)."""
        return False, {}, "", ""

    def evaluate(self, ctx: CheckContext) -> Iterator[ProblemPoint]:
        samples = ctx.layer("streetview")
        roads = ctx.layer("roads") if ctx.has_layer("roads") else None
        values, method = self.sample_values(ctx, samples)
        road_of = _samples_by_road(ctx, samples, roads)
        xy = samples.xy()
        ok = np.isfinite(values)
        target = ctx.threshold(self)
        block_of = ctx.unit_ids_at(xy, "block")
        # per block and district: sample mean
        for level in ("block", "district"):
            units = ctx.units(level)
            if units is None:
                continue
            keys, codes = group_index(block_of if level == "block" else ctx.unit_ids_at(xy, level),
                                      [str(v) for v in units.column("id")])
            sel = (codes >= 0) & ok
            n = np.bincount(codes[sel], minlength=len(keys))[: len(keys)]
            s = np.bincount(codes[sel], weights=values[sel], minlength=len(keys))[: len(keys)]
            for k, unit in enumerate(keys):
                ctx.measure(self, unit, s[k] / n[k] if n[k] else None, level=level, threshold=target,
                            details={"samples": int(n[k])})
        if roads is None:
            return
        table = building_table(ctx)
        road_ids = strings(roads, "id")
        names = strings(roads, "name")
        skip = set(ctx.option(self, "skip_classes", self.default_skip))
        classes = strings(roads, "class")
        min_samples = int(ctx.option(self, "min_samples", 1))
        per_road = self.road_values(ctx, roads)
        sample_ids = strings(samples, "id")
        usable = np.nonzero(ok & (road_of >= 0))[0]
        by_road = usable[np.argsort(road_of[usable], kind="stable")]
        starts = np.searchsorted(road_of[by_road], np.arange(len(roads)))
        stops = np.searchsorted(road_of[by_road], np.arange(len(roads)), side="right")
        for r in range(len(roads)):
            if classes[r] in skip:
                continue
            idx = by_road[starts[r]:stops[r]]
            value = float(np.mean(values[idx])) if len(idx) >= min_samples else None
            extra, extra_evidence, extra_en, extra_zh = self.extra_problem(ctx, per_road, r)
            below = value is not None and value < target
            if not below and not extra:
                continue
            block = None
            if len(idx):
                at = idx[np.argmin(values[idx])]
                x, y = xy[at]
                block = block_of[at]
            else:
                import shapely

                p = shapely.line_interpolate_point(roads.geometries[r], 0.5, normalized=True)
                x, y = p.x, p.y
                block = ctx.unit_of((x, y), "block")
            z = float(ground_z_at(table, np.array([[x, y]]))[0])
            label = names[r] or road_ids[r]
            severity = "medium" if (value is not None and value < 0.6 * target) or extra else "low"
            parts_en = [f"{self.what_en} {value:.0%} below {target:.0%} ({len(idx)} sample{'s' if len(idx) != 1 else ''})"] if below else []
            parts_zh = [f"{self.what_zh}{value:.0%}，低于{target:.0%}（{len(idx)}个采样点）"] if below else []
            if extra:
                parts_en.append(extra_en)
                parts_zh.append(extra_zh)
            yield ctx.problem(
                self, None, position=(x, y, z), object_ids=(str(road_ids[r]),), subject=f"road:{road_ids[r]}",
                unit_id=block, unit_level="block", value=value, threshold=target, severity=severity,
                message_en=f"Street {label}: " + "; ".join(parts_en),
                message_zh=f"街道{label}：" + "；".join(parts_zh),
                evidence={"road_id": str(road_ids[r]), "samples": len(idx),
                          "sample_ids": [str(s) for s in sample_ids[idx][:20]],
                          "methods": sorted({str(m) for m in method[idx]}), **extra_evidence},
            )

    default_skip: tuple[str, ...] = ()


class GreenView(_PerRoad):
    spec = IndicatorSpec(
        code="L-GREEN-VIEW",
        name_zh="街道绿视率",
        name_en="Street green view index",
        category="生态宜居",
        level="block",
        unit="ratio",
        thresholds={
            "default": Threshold(value=0.25, unit="ratio", source=LOCAL + ", after Aoki (1987): from about 25 % green view a street is perceived as green"),
            "exg_threshold": Threshold(value=0.1, unit="ExG", source="Woebbecke et al. 1995, excess-green index"),
        },
        data_needed=("streetview: green (segmentation) or photo", "roads", "blocks"),
        description_en="Mean vegetation share of the street-view photos of each road segment (segmentation class "
        "'green', else excess-green pixels); per block and district the sample mean.",
        description_zh="每条道路街景照片中绿色植物像素占比的平均值（语义分割结果，无模型时用超绿指数）。",
    )
    what_en = "green view"
    what_zh = "绿视率"

    def sample_values(self, ctx: CheckContext, samples: AuxLayer) -> tuple[np.ndarray, np.ndarray]:
        return green_fractions(samples, ctx.threshold(self, "exg_threshold"))


class SidewalkWidth(_PerRoad):
    spec = IndicatorSpec(
        code="L-SIDEWALK-WIDTH",
        name_zh="人行道相对宽度",
        name_en="Relative sidewalk width",
        category="交通便捷",
        level="block",
        unit="ratio",
        thresholds={
            "default": Threshold(value=0.25, unit="ratio", source=LOCAL + ": sidewalk at least a quarter of the paved street seen"),
            "min_width_m": Threshold(value=2.0, unit="m", source="CJJ 37-2012 城市道路工程设计规范: sidewalk minimum 2.0 m"),
        },
        data_needed=("streetview: sidewalk, road (segmentation)", "roads: sidewalk_width_m (optional)", "blocks"),
        description_en="Sidewalk pixels over sidewalk + carriageway pixels of the street-view photos, mean per road "
        "segment; roads whose mapped sidewalk is narrower than 2 m are flagged too. Alleys are skipped.",
        description_zh="街景照片中人行道像素占人行道与车行道像素之和的比例；道路图层人行道宽度小于2米的也列为问题。",
    )
    what_en = "relative sidewalk width"
    what_zh = "人行道相对宽度"
    default_skip = ("alley",)

    def sample_values(self, ctx: CheckContext, samples: AuxLayer) -> tuple[np.ndarray, np.ndarray]:
        samples.require("sidewalk", "road")
        side = floats(samples, "sidewalk")
        road = floats(samples, "road")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(side + road > 0, side / (side + road), np.nan)
        return value, np.full(len(samples), "segmentation", dtype=object)

    def road_values(self, ctx: CheckContext, roads: AuxLayer) -> np.ndarray | None:
        return floats(roads, "sidewalk_width_m")

    def extra_problem(self, ctx: CheckContext, road_values: np.ndarray | None, r: int) -> tuple[bool, dict, str, str]:
        if road_values is None:
            return False, {}, "", ""
        width = road_values[r]
        minimum = ctx.threshold(self, "min_width_m")
        if np.isfinite(width) and width < minimum:
            return (True, {"sidewalk_width_m": float(width), "min_width_m": minimum},
                    f"mapped sidewalk {width:.1f} m narrower than {minimum:g} m",
                    f"人行道宽{width:.1f}米，窄于{minimum:g}米")
        return False, ({"sidewalk_width_m": float(width)} if np.isfinite(width) else {}), "", ""


@hookimpl
def register_indicators(register: Callable[[Indicator], None]) -> None:
    register(GreenView())
    register(SidewalkWidth())
