"""City objects: the nodes of the scene graph.

A :class:`CityObject` has an id, a kind (``Building``, ``BuildingPart``, ``Road``, ...; kinds the
readers do not know are kept under their element name), typed attributes, a lifespan, geometry per
LOD (:class:`~cim_twin.scene.mesh.Mesh`) and children. Boundary surfaces and openings are rows of the
mesh's :class:`~cim_twin.scene.mesh.SurfaceTable` rather than Python objects of their own, so a
district of 100k LOD2 buildings does not mean millions of small objects;
:meth:`CityObject.surfaces` presents them as a list when one is wanted.

Derived quantities (height, footprint, volume, ...) are computed on first use and cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np

from .mesh import Mesh
from .semantics import SurfaceType

__all__ = [
    "URI",
    "Address",
    "AttributeValue",
    "BoundarySurface",
    "CityObject",
    "Lifespan",
    "Measure",
]

#: Assumed storey height (m) when a building states no storey count.
DEFAULT_STOREY_HEIGHT_M = 3.0


class Measure(NamedTuple):
    """A number with its unit of measure (``gml:MeasureType``), e.g. ``Measure(21.5, "m")``."""

    value: float
    uom: str | None = None

    def __str__(self) -> str:
        return f"{self.value:g} {self.uom}" if self.uom else f"{self.value:g}"


class URI(str):
    """A string that is a URI (CityGML ``uriAttribute``)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address (xAL 2 or 3 flattened to the parts that matter to a planner)."""

    street: str | None = None
    house_number: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    district: str | None = None
    region: str | None = None
    country: str | None = None
    free_text: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k in self.__slots__ if (v := getattr(self, k)) is not None}

    def __str__(self) -> str:
        if self.free_text:
            return self.free_text
        street = " ".join(p for p in (self.street, self.house_number) if p)
        town = " ".join(p for p in (self.postal_code, self.locality) if p)
        return ", ".join(p for p in (street, self.district, town, self.region, self.country) if p)


#: The value types an attribute may have.
AttributeValue = str | int | float | bool | date | datetime | Measure | URI | Address | list[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lifespan:
    """When an object exists in reality (creation/termination) and in the database (validFrom/To).
    All datetimes are timezone-aware."""

    creation_date: datetime | None = None
    termination_date: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, k) is None for k in self.__slots__)

    def alive_at(self, when: datetime) -> bool:
        """True when the object existed at ``when`` (unknown bounds count as open)."""
        if self.creation_date and when < self.creation_date:
            return False
        return not (self.termination_date and when >= self.termination_date)


@dataclass(frozen=True, slots=True)
class BoundarySurface:
    """A view of one row of a mesh's surface table (a wall, roof, window, ...)."""

    id: str
    type: SurfaceType
    lod: int
    parent_id: str | None
    area_m2: float
    attributes: dict[str, object] = field(default_factory=dict)


class CityObject:
    """One feature of the city model (see the module docstring)."""

    __slots__ = (
        "_derived",
        "attributes",
        "children",
        "generic_attributes",
        "geometry",
        "id",
        "kind",
        "lifespan",
        "parent",
        "source_line",
    )

    def __init__(
        self,
        id: str,
        kind: str,
        *,
        attributes: dict[str, AttributeValue] | None = None,
        generic_attributes: dict[str, AttributeValue] | None = None,
        lifespan: Lifespan | None = None,
        geometry: dict[int, Mesh] | None = None,
        children: list[CityObject] | None = None,
        source_line: int | None = None,
    ) -> None:
        self.id = id
        self.kind = kind
        #: Thematic attributes (CityGML properties, ADE properties as ``prefix:name``, address).
        self.attributes: dict[str, AttributeValue] = attributes or {}
        #: CityGML generic attributes (``gen:stringAttribute`` ... ``gen:genericAttributeSet``).
        self.generic_attributes: dict[str, AttributeValue] = generic_attributes or {}
        self.lifespan = lifespan or Lifespan()
        #: Triangulated geometry by LOD (0-4).
        self.geometry: dict[int, Mesh] = geometry or {}
        self.children: list[CityObject] = children or []
        self.parent: CityObject | None = None
        self.source_line = source_line
        # Derived quantities by name; meshes by ("mesh", lod, include_children).
        self._derived: dict[str | tuple[str, int | None, bool], Any] = {}
        for child in self.children:
            child.parent = self

    def __repr__(self) -> str:
        return f"<CityObject {self.kind} {self.id!r} lods={sorted(self.geometry)} children={len(self.children)}>"

    # --- tree ------------------------------------------------------------------------------------
    def add_child(self, child: CityObject) -> None:
        child.parent = self
        self.children.append(child)
        self._derived.clear()

    def walk(self) -> Iterator[CityObject]:
        """This object and all its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def root(self) -> CityObject:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    # --- attributes ------------------------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        """An attribute by name: thematic first, then generic."""
        if name in self.attributes:
            return self.attributes[name]
        return self.generic_attributes.get(name, default)

    def number(self, name: str) -> float | None:
        """A numeric attribute as float (measures give their value), None when absent or not numeric."""
        value = self.get(name)
        if isinstance(value, Measure):
            return float(value.value)
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None

    @property
    def address(self) -> Address | None:
        value = self.attributes.get("address")
        return value if isinstance(value, Address) else None

    @property
    def function(self) -> str | None:
        value = self.attributes.get("function")
        if isinstance(value, list):
            value = value[0] if value else None
        return None if value is None else str(value)

    @property
    def usage(self) -> str | None:
        value = self.attributes.get("usage")
        if isinstance(value, list):
            value = value[0] if value else None
        return None if value is None else str(value)

    @property
    def year_built(self) -> int | None:
        """``yearOfConstruction`` (falls back to the year of ``creationDate``)."""
        value = self.get("yearOfConstruction")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, (date, datetime)):
            return value.year
        if isinstance(value, str) and value[:4].isdigit():
            return int(value[:4])
        if self.lifespan.creation_date is not None:
            return self.lifespan.creation_date.year
        return None

    # --- geometry --------------------------------------------------------------------------------
    @property
    def lods(self) -> list[int]:
        """LODs present on this object or its descendants."""
        return sorted({lod for node in self.walk() for lod in node.geometry})

    def mesh(self, lod: int | None = None, *, include_children: bool = True) -> Mesh:
        """Geometry at ``lod`` (default: the highest LOD present), joined with the descendants'
        geometry at that LOD (falling back per child to the child's highest LOD)."""
        key = ("mesh", lod, include_children)
        if key in self._derived:
            return self._derived[key]
        lods = self.lods if include_children else sorted(self.geometry)
        if not lods:
            result = Mesh.empty()
        else:
            want = max(lods) if lod is None else lod
            parts: list[Mesh] = []
            nodes = self.walk() if include_children else iter([self])
            for node in nodes:
                if want in node.geometry:
                    parts.append(node.geometry[want])
                elif lod is None and node.geometry and node is not self:
                    parts.append(node.geometry[max(node.geometry)])
            result = Mesh.concat(parts)
        self._derived[key] = result
        return result

    @property
    def has_geometry(self) -> bool:
        return any(node.geometry for node in self.walk())

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(min_xyz, max_xyz)`` over all LODs and descendants (NaN when no geometry)."""
        if "bounds" not in self._derived:
            meshes = [m for node in self.walk() for m in node.geometry.values() if len(m.vertices)]
            if meshes:
                lo = np.min([m.vertices.min(axis=0) for m in meshes], axis=0)
                hi = np.max([m.vertices.max(axis=0) for m in meshes], axis=0)
            else:
                lo, hi = np.full(3, np.nan), np.full(3, np.nan)
            self._derived["bounds"] = (lo, hi)
        return self._derived["bounds"]

    @property
    def ground_z(self) -> float | None:
        """Ground elevation: lowest point of the ground surfaces, else of the whole geometry."""
        if "ground_z" not in self._derived:
            mesh = self.mesh()
            ground = mesh.of_type(SurfaceType.GROUND)
            if ground.n_triangles:
                value: float | None = float(mesh.vertices[np.unique(ground.triangles)][:, 2].min())
            elif len(mesh.vertices):
                value = float(mesh.vertices[:, 2].min())
            else:
                value = None
            self._derived["ground_z"] = value
        return self._derived["ground_z"]

    @property
    def roof_z(self) -> float | None:
        """Highest point of the roof (or of the whole geometry)."""
        hi = self.bounds[1]
        return None if np.isnan(hi[2]) else float(hi[2])

    @property
    def height_m(self) -> float | None:
        """``measuredHeight`` when stated, else roof minus ground elevation."""
        measured = self.number("measuredHeight")
        if measured is not None and measured > 0:
            return measured
        if self.roof_z is None or self.ground_z is None:
            return None
        return self.roof_z - self.ground_z

    @property
    def footprint(self) -> Any:
        """Footprint as a shapely (Multi)Polygon in scene xy: the union of the ground surfaces,
        else of all triangles projected from above; None when there is no geometry."""
        if "footprint" not in self._derived:
            import shapely

            mesh = self.mesh()
            ground = mesh.of_type(SurfaceType.GROUND)
            source = ground if ground.n_triangles else mesh
            value = None
            if source.n_triangles:
                keep = np.abs(source.projected_areas()) > 1e-9
                corners = source.corners()[keep][:, :, :2]
                if len(corners):
                    rings = np.concatenate([corners, corners[:, :1]], axis=1)
                    value = shapely.union_all(shapely.polygons(rings), grid_size=1e-6)
                    if value.is_empty:
                        value = None
            self._derived["footprint"] = value
        return self._derived["footprint"]

    @property
    def footprint_area_m2(self) -> float | None:
        """Area of the footprint (m²); from ground-surface triangles when there are any."""
        if "footprint_area" not in self._derived:
            ground = self.mesh().of_type(SurfaceType.GROUND)
            if ground.n_triangles:
                value: float | None = float(np.abs(ground.projected_areas()).sum())
            else:
                fp = self.footprint
                value = float(fp.area) if fp is not None else None
            self._derived["footprint_area"] = value
        return self._derived["footprint_area"]

    @property
    def volume_m3(self) -> float | None:
        """Volume of the closed solids at the highest LOD that has them (None when none is closed)."""
        if "volume" not in self._derived:
            value = None
            for lod in reversed(self.lods):
                solids = [
                    node.geometry[lod]
                    for node in self.walk()
                    if lod in node.geometry and node.geometry[lod].solid_closed
                ]
                if solids:
                    value = float(sum(abs(m.signed_volume()) for m in solids))
                    break
            self._derived["volume"] = value
        return self._derived["volume"]

    @property
    def storeys(self) -> int | None:
        """``storeysAboveGround`` when stated, else estimated from the height (3 m a storey)."""
        stated = self.number("storeysAboveGround")
        if stated is not None and stated > 0:
            return int(stated)
        height = self.height_m
        if height is None or height <= 0:
            return None
        return max(1, round(height / DEFAULT_STOREY_HEIGHT_M))

    @property
    def floor_area_m2(self) -> float | None:
        """Gross floor area estimate: footprint area times storeys."""
        area, storeys = self.footprint_area_m2, self.storeys
        if area is None or storeys is None:
            return None
        return area * storeys

    @property
    def centroid(self) -> np.ndarray | None:
        """Centre of the footprint in xy at mid-height; None without geometry."""
        if "centroid" not in self._derived:
            lo, hi = self.bounds
            if np.isnan(lo[0]):
                value = None
            else:
                x, y = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2
                fp = self._derived.get("footprint")
                if fp is not None:
                    c = fp.centroid
                    x, y = c.x, c.y
                else:
                    # The area-weighted centre of the ground triangles (else of all triangles seen
                    # from above) is the footprint's centroid, without the per-building polygon
                    # union that building the footprint costs (problem points need it for every
                    # building they pin).
                    mesh = self.mesh()
                    ground = mesh.of_type(SurfaceType.GROUND)
                    source = ground if ground.n_triangles else mesh
                    if source.n_triangles:
                        weights = np.abs(source.projected_areas())
                        if weights.sum() > 0:
                            centres = source.corners()[:, :, :2].mean(axis=1)
                            x, y = (centres * weights[:, None]).sum(axis=0) / weights.sum()
                value = np.array([x, y, (lo[2] + hi[2]) / 2])
            self._derived["centroid"] = value
        return self._derived["centroid"]

    @property
    def roof_centre(self) -> np.ndarray | None:
        """Footprint centre at roof height: where a problem point on this object is pinned."""
        c = self.centroid
        if c is None:
            return None
        roof = self.roof_z
        return np.array([c[0], c[1], roof if roof is not None else c[2]])

    def surfaces(self, lod: int | None = None) -> list[BoundarySurface]:
        """The boundary surfaces and openings of this object (not its children) as views."""
        out: list[BoundarySurface] = []
        for mesh_lod, mesh in sorted(self.geometry.items()):
            if lod is not None and mesh_lod != lod:
                continue
            table = mesh.surfaces
            if table is None or not len(table):
                continue
            areas = np.zeros(len(table))
            if mesh.surface_index is not None and mesh.n_triangles:
                rows = mesh.surface_index
                ok = rows >= 0
                np.add.at(areas, rows[ok], mesh.triangle_areas()[ok])
            for i, sid in enumerate(table.ids):
                parent = int(table.parent[i])
                out.append(
                    BoundarySurface(
                        id=sid,
                        type=SurfaceType(int(table.types[i])),
                        lod=mesh_lod,
                        parent_id=table.ids[parent] if parent >= 0 else None,
                        area_m2=float(areas[i]),
                        attributes=table.attributes[i] if i < len(table.attributes) else {},
                    )
                )
        return out

    def invalidate(self) -> None:
        """Forget cached derived quantities (after the geometry or attributes changed)."""
        for node in self.walk():
            node._derived.clear()
        ancestor = self.parent
        while ancestor is not None:
            ancestor._derived.clear()
            ancestor = ancestor.parent

    @property
    def nbytes(self) -> int:
        """Bytes held by the geometry arrays of this object and its descendants."""
        return sum(m.nbytes for node in self.walk() for m in node.geometry.values())
