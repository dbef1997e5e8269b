"""The road network of the example district as GeoJSON (EPSG:4326), one file per year.

``layers/<year>/roads.geojson``: a LineString feature per road centreline with the properties
``id``, ``name``, ``class`` (``primary`` | ``secondary`` | ``branch`` | ``alley``), ``width_m`` (kerb
to kerb), ``sidewalk_width_m`` (one side; 0 when there is none), ``lanes``, ``district_id`` and, for
old-town alleys, ``community_id``. Roads that change in an event year (alleys widened, sidewalks
added) carry their state of that year.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .layout import DistrictLayout, Road
from .units import write_feature_collection

__all__ = ["road_feature", "write_roads"]


def road_feature(layout: DistrictLayout, road: Road) -> dict[str, Any]:
    """The GeoJSON feature of one road as it is (call with ``road.in_year(year)``)."""
    properties: dict[str, Any] = {
        "id": road.id,
        "name": road.name,
        "class": road.road_class,
        "width_m": road.width_m,
        "sidewalk_width_m": road.sidewalk_width_m,
        "lanes": road.lanes,
        "district_id": road.district_id,
    }
    if road.community_id is not None:
        properties["community_id"] = road.community_id
    return {
        "type": "Feature",
        "id": road.id,
        "properties": properties,
        "geometry": {"type": "LineString", "coordinates": [list(p) for p in layout.to_wgs84(road.coords)]},
    }


def write_roads(layout: DistrictLayout, path: str | os.PathLike[str], year: int) -> Path:
    """Write the roads as they are in ``year`` to ``path``; return it."""
    return write_feature_collection(path, "roads", (road_feature(layout, r) for r in layout.roads_in(year)))
