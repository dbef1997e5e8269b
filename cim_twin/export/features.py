"""Building properties for export: flattening nested attributes and deriving a typed schema.

Flattening (the same in 3D Tiles 1.1 property tables, 1.0 batch tables and GeoJSON):

* thematic attributes keep their name (``function``, ``measuredHeight``); a measure becomes its
  number, its unit goes to the schema's description;
* the address becomes ``address.street``, ``address.house_number``, ``address.postal_code``,
  ``address.locality``, ``address.district``, ``address.region``, ``address.country``,
  ``address.free_text``;
* a nested mapping becomes ``name.key`` (recursively); generic attributes keep their name, members of
  a generic attribute set become ``set.name``; a generic attribute whose name a thematic one already
  uses becomes ``generic.name``;
* lists become one text value joined with ``"; "``; dates and datetimes ISO 8601 text; URIs text;
* the run adds ``problem_count``, ``worst_severity`` (info..critical), ``severity_rank`` (-1 none,
  0 info .. 4 critical), ``indicator.<CODE>`` (the building's value in that indicator's finding) and,
  when the catalog has one, ``action`` (retain / renovate / demolish), ``action_zh``, ``action_reason``
  and ``action_project`` (the latest project of the exported run or an earlier one that decided it).

Property *ids* (the keys clients use, e.g. in styles and ``feature.getProperty``) must be identifiers
in glTF metadata, so ``address.street`` has the id ``address_street``; names that are not ASCII get a
short hash (``gen_5f1e09ab``). The schema keeps the flattened name as the property ``name``.

Types: a property whose values are all booleans (on every building) is BOOLEAN; all integers in
32-bit range: INT32 with ``noData`` -2147483648 where a building lacks it; all numbers: FLOAT64 with
``noData`` -1e300; anything else STRING with ``""`` for missing.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from ..scene.objects import URI, Address, CityObject, Measure

__all__ = [
    "FLOAT_NO_DATA",
    "INT_NO_DATA",
    "BuildingRunInfo",
    "ColumnStats",
    "PropertyColumn",
    "PropertyTable",
    "derive_columns",
    "flatten_object",
    "property_id",
]

FLOAT_NO_DATA = -1.0e300
INT_NO_DATA = -2147483648
_INT32 = (-2147483647, 2147483647)
ACTION_ZH = {"retain": "保留", "renovate": "改造", "demolish": "拆除"}


@dataclass(frozen=True)
class PropertyColumn:
    """One property of the export schema.

    ``type`` is ``STRING``, ``SCALAR`` or ``BOOLEAN``; ``component_type`` ``INT32`` or ``FLOAT64``
    for scalars. ``no_data`` is set when some feature lacks the value.
    """

    id: str
    name: str
    type: str
    component_type: str | None = None
    no_data: Any = None
    unit: str | None = None
    group: str = "attribute"
    description: str = ""

    def schema(self) -> dict[str, Any]:
        """The EXT_structural_metadata class property."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.component_type:
            out["componentType"] = self.component_type
        if self.no_data is not None and self.type == "SCALAR":
            out["noData"] = self.no_data
        desc = self.description or f"{self.group}: {self.name}"
        if self.unit:
            desc += f" [{self.unit}]"
        out["description"] = desc
        return out


@dataclass
class BuildingRunInfo:
    """What a run says about one building."""

    problem_count: int = 0
    worst_severity: str | None = None
    severity_rank: int = -1
    indicators: dict[str, float] = field(default_factory=dict)
    action: str | None = None
    action_reason: str | None = None
    action_project: str | None = None


def property_id(name: str, taken: set[str]) -> str:
    """A metadata identifier (``[A-Za-z_][A-Za-z0-9_]*``) for a flattened name, unique in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not name.isascii():
        ascii_part = re.sub(r"_+", "_", base).strip("_")
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        base = f"{ascii_part}_{digest}" if ascii_part else f"attr_{digest}"
    if not base or base[0].isdigit():
        base = "_" + base
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _scalar(value: Any) -> Any:
    if isinstance(value, Measure):
        return float(value.value)
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, URI):
        return str(value)
    if isinstance(value, Address):
        return str(value)
    if isinstance(value, list | tuple):
        return "; ".join(str(_scalar(v)) for v in value)
    return str(value)


def _flatten_into(out: dict[str, Any], units: dict[str, str], prefix: str, value: Any) -> None:
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # most values: no conversion at all
        out[prefix] = value
        return
    if kind is float:
        if math.isfinite(value):
            out[prefix] = value
        return
    if kind is Measure:  # the common non-plain values first, by exact type (subclasses go below)
        if value.uom:
            units.setdefault(prefix, value.uom)  # the first unit seen names the column's unit
        out[prefix] = float(value.value)
        return
    if kind is date or kind is datetime:
        out[prefix] = value.isoformat()
        return
    if isinstance(value, Address):
        for key, part in value.to_dict().items():
            out[f"{prefix}.{key}"] = part
        return
    if isinstance(value, Mapping):
        for key in sorted(value, key=str):
            _flatten_into(out, units, f"{prefix}.{key}", value[key])
        return
    if isinstance(value, Measure) and value.uom:
        units.setdefault(prefix, value.uom)  # the first unit seen names the column's unit
    if isinstance(value, float) and not math.isfinite(value):
        return
    out[prefix] = _scalar(value)


def flatten_object(obj: CityObject, units: dict[str, str] | None = None) -> dict[str, Any]:
    """The flattened attributes of a building (see the module docstring); ``units`` collects the
    unit of every measure by flattened name."""
    units = {} if units is None else units
    out: dict[str, Any] = {}
    for key, value in obj.attributes.items():
        _flatten_into(out, units, key, value)
    thematic = set(out)
    for key, value in obj.generic_attributes.items():
        name = f"generic.{key}" if key in thematic else key
        _flatten_into(out, units, name, value)
    return out


_KIND_OF_TYPE: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str"}
_MAX_SIGNATURES = 4096


def _kind_of_type(t: type) -> str:
    """``bool``, ``int``, ``float`` or ``str`` (anything else) for a value's type."""
    kind = _KIND_OF_TYPE.get(t)
    if kind is None:
        kind = ("bool" if issubclass(t, bool) else "int" if issubclass(t, int) else
                "float" if issubclass(t, float) else "str")
    return kind


class ColumnStats:
    """What the schema needs to know of every property, gathered row by row (and mergeable, so
    worker processes can gather their share): rows seen, rows with the value, value kinds, int range."""

    def __init__(self) -> None:
        self.n_rows = 0
        self.present: dict[str, int] = {}
        self.kinds: dict[str, set[str]] = {}
        self.int_in_range: dict[str, bool] = {}
        # rows are counted by their signature (names and value types, nearly always the same few)
        # and folded into present/kinds when asked: no Python work per value but the int range check
        self._signatures: dict[tuple[tuple[str, ...], tuple[type, ...]], list[Any]] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one row."""
        self.n_rows += 1
        values = tuple(row.values())
        signature = (tuple(row), tuple(map(type, values)))
        entry = self._signatures.get(signature)
        if entry is None:
            if len(self._signatures) >= _MAX_SIGNATURES:
                self._fold()
            ints = [(i, name) for i, (name, t) in enumerate(zip(*signature, strict=True)) if _kind_of_type(t) == "int"]
            entry = self._signatures[signature] = [0, ints]
        entry[0] += 1
        for i, name in entry[1]:
            if not _INT32[0] <= values[i] <= _INT32[1]:
                self.int_in_range[name] = False

    def _fold(self) -> None:
        """Move the counted signatures into ``present`` and ``kinds``."""
        for (names, types), (count, _ints) in self._signatures.items():
            for name, t in zip(names, types, strict=True):
                kinds = self.kinds.setdefault(name, set())
                if t is type(None):
                    continue
                self.present[name] = self.present.get(name, 0) + count
                kinds.add(_kind_of_type(t))
        self._signatures.clear()

    def merge(self, other: ColumnStats) -> None:
        """Add the counts of ``other`` (another worker's rows)."""
        self._fold()
        other._fold()
        self.n_rows += other.n_rows
        for name, n in other.present.items():
            self.present[name] = self.present.get(name, 0) + n
        for name, kinds in other.kinds.items():
            self.kinds.setdefault(name, set()).update(kinds)
        for name, ok in other.int_in_range.items():
            self.int_in_range[name] = self.int_in_range.get(name, True) and ok

    def columns(self, units: Mapping[str, str] | None = None, groups: Mapping[str, str] | None = None,
                first: Sequence[str] = ("id",)) -> list[PropertyColumn]:
        """Typed columns: ``first`` names lead, the rest sorted by name (see the module docstring)."""
        self._fold()
        units = units or {}
        groups = groups or {}
        names = set(self.kinds)
        ordered = [n for n in first if n in names] + sorted(names - set(first))
        taken: set[str] = set()
        out = []
        for name in ordered:
            kinds = self.kinds[name]
            complete = self.present.get(name, 0) == self.n_rows
            pid = property_id(name, taken)
            unit, group = units.get(name), groups.get(name, "attribute")
            if kinds == {"bool"} and complete:
                out.append(PropertyColumn(pid, name, "BOOLEAN", unit=unit, group=group))
            elif kinds == {"int"} and self.int_in_range.get(name, True):
                out.append(PropertyColumn(pid, name, "SCALAR", "INT32", None if complete else INT_NO_DATA, unit, group))
            elif (kinds and kinds <= {"int", "float"}) or (not kinds and name.startswith("indicator.")):
                # an indicator no building has a value in stays a number column (all noData)
                out.append(PropertyColumn(pid, name, "SCALAR", "FLOAT64", None if complete else FLOAT_NO_DATA, unit,
                                          group))
            else:
                out.append(PropertyColumn(pid, name, "STRING", unit=unit, group=group))
        return out


class PropertyTable:
    """Rows of flattened properties (one per feature) with their typed columns."""

    def __init__(self, columns: list[PropertyColumn], rows: list[dict[str, Any]]) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> PropertyColumn | None:
        for col in self.columns:
            if col.name == name or col.id == name:
                return col
        return None

    def values(self, col: PropertyColumn, rows: Iterable[int] | None = None) -> Any:
        """The column's values for the given rows, typed: a numpy array for SCALAR and BOOLEAN
        (missing -> ``no_data`` / False), a list of str for STRING (missing -> "")."""
        raw = self._raw(col.name, rows)
        if col.type == "BOOLEAN":
            return np.array([bool(v) for v in raw], dtype=bool)
        if col.type == "SCALAR":
            fill = col.no_data if col.no_data is not None else 0
            dtype = np.int32 if col.component_type == "INT32" else np.float64
            return np.array([fill if v is None else v for v in raw], dtype=dtype)
        # most values of a STRING column are str already: skip the conversion call for them
        return [v if type(v) is str else ("" if v is None else _text(v)) for v in raw]

    def json_values(self, col: PropertyColumn, rows: Iterable[int]) -> list[Any]:
        """Values for a JSON batch table: numbers/bools/str, ``None`` where missing."""
        raw = self._raw(col.name, rows)
        if col.type in ("BOOLEAN", "SCALAR"):
            return raw
        return [v if v is None or type(v) is str else _text(v) for v in raw]

    def _raw(self, name: str, rows: Iterable[int] | None) -> list[Any]:
        """The stored values of ``name`` (None where missing) for ``rows`` (all when None or a
        range over all rows: then without indexing)."""
        if rows is None or (isinstance(rows, range) and rows == range(len(self.rows))):
            return [row.get(name) for row in self.rows]
        table = self.rows
        return [table[i].get(name) for i in rows]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def derive_columns(rows: list[dict[str, Any]], units: Mapping[str, str] | None = None,
                   groups: Mapping[str, str] | None = None, first: Sequence[str] = ("id",)) -> list[PropertyColumn]:
    """Typed columns for a list of flattened rows: ``first`` names lead, the rest sorted by name."""
    stats = ColumnStats()
    for row in rows:
        stats.add(row)
    return stats.columns(units, groups, first)


def run_properties(info: BuildingRunInfo | None, codes: Sequence[str], with_actions: bool) -> dict[str, Any]:
    """The run's per-building properties (present on every building so the types stay fixed)."""
    info = info or BuildingRunInfo()
    out: dict[str, Any] = {
        "problem_count": int(info.problem_count),
        "worst_severity": info.worst_severity or "",
        "severity_rank": int(info.severity_rank),
    }
    for code in codes:
        value = info.indicators.get(code)
        out[f"indicator.{code}"] = None if value is None else float(value)
    if with_actions:
        out["action"] = info.action or ""
        out["action_zh"] = ACTION_ZH.get(info.action or "", "")
        out["action_reason"] = info.action_reason or ""
        out["action_project"] = info.action_project or ""
    return out
