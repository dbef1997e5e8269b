"""layers.json: the manifest of an export folder, one entry per layer.

Its JSON Schema is ``schemas/layers.schema.json`` (kept in step by a test). Every path in it is
relative to the folder; nothing depends on the time of the export, so the same input gives the same
bytes.
"""

from __future__ import annotations

from typing import Any

from .. import __version__

__all__ = ["LAYER_TITLES", "layer_entry", "manifest"]

MANIFEST_FORMAT = "cim-twin-layers"
MANIFEST_VERSION = "1.0"

LAYER_TITLES: dict[str, dict[str, str]] = {
    "buildings": {"zh": "建筑(3D Tiles 1.1)", "en": "Buildings (3D Tiles 1.1)"},
    "buildings-1.0": {"zh": "建筑(3D Tiles 1.0)", "en": "Buildings (3D Tiles 1.0)"},
    "problems": {"zh": "体检问题点(3D Tiles)", "en": "Problem points (3D Tiles)"},
    "problems-1.0": {"zh": "体检问题点(3D Tiles 1.0)", "en": "Problem points (3D Tiles 1.0)"},
    "problems-geojson": {"zh": "体检问题点(GeoJSON)", "en": "Problem points (GeoJSON)"},
    "problems-czml": {"zh": "体检问题点时序(CZML)", "en": "Problem points over time (CZML)"},
    "problem-list": {"zh": "问题清单", "en": "Problem list"},
    "task-list": {"zh": "任务清单", "en": "Task list"},
    "building-actions": {"zh": "留改拆建议", "en": "Retain / renovate / demolish per building"},
    "measurements": {"zh": "指标测度", "en": "Indicator measurements"},
}


def _title(layer_id: str) -> dict[str, str]:
    if layer_id in LAYER_TITLES:
        return LAYER_TITLES[layer_id]
    for key in sorted(LAYER_TITLES, key=len, reverse=True):
        if layer_id.startswith(key):
            t = LAYER_TITLES[key]
            rest = layer_id[len(key):].strip("-_")
            return {"zh": f"{t['zh']} {rest}".strip(), "en": f"{t['en']} {rest}".strip()}
    return {"zh": layer_id, "en": layer_id}


def layer_entry(layer_id: str, *, kind: str, path: str, fmt: str, version: str | None, crs: str | None,
                extent_wgs84: list[float] | None, time_range: dict[str, str] | None, feature_count: int | None,
                legend: list[dict[str, Any]] | None, run_id: str | None, **extra: Any) -> dict[str, Any]:
    """One layer of the manifest (the keys the schema requires, plus ``extra``)."""
    entry: dict[str, Any] = {
        "id": layer_id,
        "title": _title(layer_id),
        "kind": kind,
        "path": path,
        "format": fmt,
        "format_version": version,
        "crs": crs,
        "extent_wgs84": extent_wgs84,
        "time_range": time_range,
        "feature_count": feature_count,
        "legend": legend or [],
        "run_id": run_id,
        "software_version": __version__,
    }
    entry.update(extra)
    return entry


def manifest(layers: list[dict[str, Any]], *, source: dict[str, Any], run_id: str | None,
             audit: dict[str, Any] | None, georeference: dict[str, Any]) -> dict[str, Any]:
    """The whole layers.json document."""
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "software": {"name": "cim-twin", "version": __version__},
        "source": source,
        "run_id": run_id,
        "georeference": georeference,
        "layers": layers,
        "audit": audit,
    }
