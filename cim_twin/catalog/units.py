"""Spatial units as the catalog sees them: the nesting of ids and, when the project file lists its
unit layers, names and counties.

Unit ids nest by prefix: district ``D01``, block ``D01-B03``, community ``D01-B03-C02``. Ids of
other shapes are taken as they are (their own block and district).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..serialization import loads

__all__ = ["UnitDirectory", "block_of", "district_of"]


def district_of(unit_id: str | None) -> str | None:
    """``D01`` for ``D01-B03-C02`` (None for no unit, ``city`` stays ``city``)."""
    if not unit_id:
        return None
    return unit_id.split("-", 1)[0]


def block_of(unit_id: str | None) -> str | None:
    """``D01-B03`` for ``D01-B03-C02`` and ``D01-B03``; the id itself when it has one part."""
    if not unit_id:
        return None
    parts = unit_id.split("-")
    return "-".join(parts[:2])


@dataclass
class UnitDirectory:
    """Names, levels and counties of spatial units (from the project's unit layers)."""

    names: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)
    counties: dict[str, str] = field(default_factory=dict)

    def name(self, unit_id: str | None) -> str:
        if not unit_id:
            return ""
        return self.names.get(unit_id, unit_id)

    def county(self, unit_id: str | None) -> str | None:
        """County (区县) of a unit: its own, else its block's, else its district's."""
        if not unit_id:
            return None
        for candidate in (unit_id, block_of(unit_id), district_of(unit_id)):
            if candidate and candidate in self.counties:
                return self.counties[candidate]
        return None

    def district_label(self, unit_id: str | None) -> str:
        """The district as shown in lists: ``name (id)`` when its name is known."""
        district = district_of(unit_id)
        if not district:
            return "未分区"
        name = self.names.get(district)
        return f"{name}" if name else district

    @classmethod
    def from_project(cls, project: Mapping[str, Any] | None, base_dir: Path | None) -> UnitDirectory:
        """Read every ``kind = "units"`` GeoJSON layer of a project file (silently empty when the
        layers are not there: names are a courtesy, ids always work)."""
        directory = cls()
        if not project or base_dir is None:
            return directory
        layers = project.get("layers") or {}
        for entry in layers.values():
            if not isinstance(entry, Mapping) or entry.get("kind") != "units":
                continue
            path = base_dir / str(entry.get("path", ""))
            if "{" in path.name or not path.is_file():
                continue
            try:
                data = loads(path.read_bytes())
            except Exception:  # a broken layer must not stop a list from being written
                continue
            for feature in data.get("features", []):
                props = feature.get("properties") or {}
                uid = props.get("id") or feature.get("id")
                if uid is None:
                    continue
                uid = str(uid)
                if props.get("name"):
                    directory.names[uid] = str(props["name"])
                level = props.get("level") or entry.get("level")
                if level:
                    directory.levels[uid] = str(level)
                if props.get("county"):
                    directory.counties[uid] = str(props["county"])
        return directory
