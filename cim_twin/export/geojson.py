"""problems.geojson: the findings as GeoJSON points (RFC 7946, EPSG:4326 lon/lat/ellipsoidal height).

With ``crs="EPSG:4490"`` (CGCS2000, which Chinese platforms often require) the coordinates are
transformed with pyproj and the file names its CRS in the legacy ``crs`` member
(``urn:ogc:def:crs:EPSG::4490``), the form GDAL and most platforms read; axis order stays lon, lat.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..crs import transformer
from ..errors import ConfigError
from ..model import ProblemPoint
from ..serialization import dumps_pretty
from .points import finding_positions, finding_rows

__all__ = ["problems_geojson"]

SUPPORTED_CRS = ("EPSG:4326", "EPSG:4490")


def problems_geojson(findings: list[ProblemPoint], scene_crs: Any, crs: str = "EPSG:4326") -> bytes:
    """The GeoJSON bytes of ``findings`` (sorted by id; coordinates to 1e-8 degrees, 1 mm).

    Raises
    ------
    ConfigError
        for a CRS other than EPSG:4326 or EPSG:4490.
    """
    crs = crs.upper()
    if crs not in SUPPORTED_CRS:
        raise ConfigError(f"--geojson-crs {crs!r} is not supported", hint="use EPSG:4326 or EPSG:4490")
    findings = sorted(findings, key=lambda f: f.id)
    pos = finding_positions(findings, scene_crs) if findings else np.zeros((0, 3))
    if crs == "EPSG:4490" and len(pos):
        lon, lat, h = transformer("EPSG:4979", "EPSG:4490").transform(pos[:, 0], pos[:, 1], pos[:, 2])
        pos = np.column_stack([lon, lat, h if h is not None else pos[:, 2]])
    features = []
    for f, row, p in zip(findings, finding_rows(findings), pos, strict=True):
        features.append({
            "type": "Feature",
            "id": f.id,
            "geometry": {"type": "Point", "coordinates": [round(float(p[0]), 8), round(float(p[1]), 8),
                                                          round(float(p[2]), 3)]},
            "properties": row,
        })
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs == "EPSG:4490":
        doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
    return dumps_pretty(doc)
