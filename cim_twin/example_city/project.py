"""The ``twin.toml`` of a generated example project (the layout agreed in docs/project-file.md).

The file names the annual CityGML epochs through ``{period}``, the unit layers, the per-year road
layer and whatever auxiliary layers :mod:`cim_twin.example_city.layers` wrote, plus the Nanping
indicator profile and the Jianyang county profile that extends it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..serialization import atomic_write_bytes
from .layout import CRS

__all__ = ["BASE_LAYERS", "GENERATED_MARK", "project_toml", "write_project"]

#: First words of a generated twin.toml (``cim-twin generate`` replaces only such files).
GENERATED_MARK = "# Example Nanping-like district"

#: The layers the generator itself writes: name -> twin.toml entry.
BASE_LAYERS: dict[str, dict[str, Any]] = {
    "districts": {"path": "layers/districts.geojson", "kind": "units", "level": "district"},
    "blocks": {"path": "layers/blocks.geojson", "kind": "units", "level": "block"},
    "communities": {"path": "layers/communities.geojson", "kind": "units", "level": "community"},
    "roads": {"path": "layers/{period}/roads.geojson", "kind": "roads"},
}


def _toml_value(value: Any) -> str:
    """A TOML literal for a str, bool, number or list of them (TOML basic strings accept JSON escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table(name: str, entries: Mapping[str, Any], comments: Mapping[str, str] | None = None) -> list[str]:
    lines = [f"[{name}]"]
    for key, value in entries.items():
        comment = (comments or {}).get(key)
        lines.append(f"{key} = {_toml_value(value)}" + (f"  # {comment}" if comment else ""))
    return lines


def project_toml(
    years: Sequence[int],
    layers: Mapping[str, Mapping[str, Any]],
    *,
    buildings: int,
    seed: int,
    source: str = "city_{period}.gml",
) -> str:
    """The text of ``twin.toml`` for a project with the epochs ``years``, the layers ``layers`` and
    the scene files ``source`` (``{period}`` standing for the year)."""
    lines = [
        f"{GENERATED_MARK}: {buildings} buildings, seed {seed}, epochs "
        + ", ".join(str(y) for y in years)
        + ".",
        "# Regenerate with: cim-twin generate OUT_DIR --buildings "
        f"{buildings} --seed {seed} --years {','.join(str(y) for y in years)}"
        + (" --gzip" if source.endswith(".gz") else ""),
        "",
    ]
    lines += _table(
        "project",
        {
            "name": "南平示例城区 Nanping example district",
            "period": max(years),
            "timezone": "Asia/Shanghai",
            "crs": CRS,
            "catalog": "catalog.gpkg",
            "output": "export",
        },
        {"period": "default period of `cim-twin check` (a year)", "crs": "CGCS2000 3-degree GK CM 117E"},
    )
    lines += [""]
    lines += _table("scene", {"sources": [source]}, {"sources": "one CityGML file per annual epoch"})
    for name, entry in layers.items():
        lines += ["", *_table(f"layers.{name}", entry)]
    lines += [
        "",
        "[profile]",
        'name = "nanping"',
        'description = "南平市城市体检 Nanping city profile"',
        'indicators = ["*"]',
        '[profile.thresholds."N-PARK-COVER"]',
        "default = 0.9",
        '[profile.options."L-OLD-HOUSING"]',
        "before_year = 1990",
        "",
        "[profiles.jianyang]",
        'extends = "nanping"',
        'description = "建阳区 Jianyang county profile"',
        '[profiles.jianyang.thresholds."N-PARK-COVER"]',
        "default = 0.85",
        "",
    ]
    return "\n".join(lines)


def write_project(
    out_dir: str | os.PathLike[str],
    years: Sequence[int],
    layers: Mapping[str, Mapping[str, Any]],
    *,
    buildings: int,
    seed: int,
    source: str = "city_{period}.gml",
) -> Path:
    """Write ``twin.toml`` into ``out_dir`` (atomically); return its path."""
    path = Path(out_dir) / "twin.toml"
    text = project_toml(years, layers, buildings=buildings, seed=seed, source=source)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
