"""The spatial units of the example district as GeoJSON (EPSG:4326, RFC 7946).

Three files in ``layers/``: ``districts.geojson``, ``blocks.geojson`` and ``communities.geojson``,
one Polygon feature per unit with the properties ``id``, ``name``, ``level``, ``county``, and
``district_id``, ``parent_id`` (a block's district, a community's block; communities also name it
``block_id``), ``character`` and
``buildings`` (the count from 2023 on).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..serialization import dumps
from .layout import DistrictLayout, Unit

__all__ = ["unit_feature", "write_feature_collection", "write_units"]


def write_feature_collection(path: str | os.PathLike[str], name: str, features: Iterable[dict[str, Any]]) -> Path:
    """Write a GeoJSON FeatureCollection feature by feature (memory does not grow with the count),
    atomically, with sorted keys like every JSON file of the project."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(b'{"features":[')
            for i, feature in enumerate(features):
                if i:
                    fh.write(b",")
                fh.write(dumps(feature))
            fh.write(b'],"name":' + dumps(name) + b',"type":"FeatureCollection"}')
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def unit_feature(layout: DistrictLayout, unit: Unit) -> dict[str, Any]:
    """The GeoJSON feature of one unit (exterior ring counter-clockwise and closed)."""
    ring = layout.to_wgs84(unit.polygon)
    ring.append(ring[0])
    properties: dict[str, Any] = {
        "id": unit.id,
        "name": unit.name,
        "level": unit.level,
        "county": unit.county,
        "district_id": unit.district_id,
        "character": unit.character,
        "buildings": unit.n_buildings,
    }
    if unit.parent_id is not None:
        properties["parent_id"] = unit.parent_id
    if unit.level == "community":
        properties["block_id"] = unit.parent_id
    return {
        "type": "Feature",
        "id": unit.id,
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
    }


def write_units(layout: DistrictLayout, layers_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``districts``, ``blocks`` and ``communities`` GeoJSON into ``layers_dir``; return the paths."""
    folder = Path(layers_dir)
    written = []
    for name, units in (("districts", layout.districts), ("blocks", layout.blocks), ("communities", layout.communities)):
        written.append(
            write_feature_collection(folder / f"{name}.geojson", name, (unit_feature(layout, u) for u in units))
        )
    return written
