"""From the XML of one top-level CityGML feature to CityObjects (attributes, children, thematic
surfaces, openings) and the geometry collected for them.

The walk goes property by property (CityGML's object/property alternation) and only descends into
geometry through :class:`~cim_twin.io.citygml.geometry.GeometryCollector`, so a feature's
elements are visited once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lxml import etree

from ...scene import CityObject, Lifespan, SurfaceType
from .appearance import AppearanceStore
from .attributes import (
    LIST_PROPERTIES,
    complex_value,
    generic_attribute,
    local_name,
    parse_address,
    parse_datetime,
    typed_property,
)
from .geometry import XLINK_HREF, GeometryCollector, GeometryContext, parse_coordinates

__all__ = ["FeatureParse", "FeatureWalker", "GML_NAMESPACES"]

GML_NAMESPACES = frozenset({"http://www.opengis.net/gml", "http://www.opengis.net/gml/3.2"})
_LOD_PROPERTY = re.compile(r"^lod(\d)(.*)$")

#: City object kinds that are features (become CityObjects) wherever they are nested.
FEATURE_KINDS = frozenset(
    {
        "Building", "BuildingPart", "BuildingInstallation", "IntBuildingInstallation", "Room",
        "BuildingFurniture", "BuildingRoom", "BuildingUnit", "Storey", "BuildingConstructiveElement",
        "Road", "Railway", "Track", "Square", "TransportationComplex", "Section", "Intersection",
        "Waterway", "TrafficSpace", "AuxiliaryTrafficSpace", "ClearanceSpace", "Hole", "HoleSurface",
        "Bridge", "BridgePart", "BridgeInstallation", "IntBridgeInstallation", "BridgeRoom",
        "BridgeFurniture", "BridgeConstructionElement", "BridgeConstructiveElement",
        "Tunnel", "TunnelPart", "TunnelInstallation", "IntTunnelInstallation", "HollowSpace",
        "TunnelFurniture", "TunnelConstructiveElement",
        "LandUse", "PlantCover", "SolitaryVegetationObject", "WaterBody", "CityFurniture",
        "GenericCityObject", "GenericOccupiedSpace", "GenericUnoccupiedSpace", "GenericLogicalSpace",
        "GenericThematicSurface",
        "ReliefFeature", "TINRelief", "MassPointRelief", "BreaklineRelief", "RasterRelief",
        "CityObjectGroup", "Dynamizer", "Version", "VersionTransition", "OtherConstruction",
        "Window", "Door",
    }
)
#: Elements that are values, never features, even with a gml:id.
DATA_TYPES = frozenset(
    {"Address", "ExternalReference", "Appearance", "ImplicitGeometry", "Height", "Code", "Occupancy",
     "ConstructionEvent", "Elevation", "DimensionAttribute", "QualifiedArea", "QualifiedVolume",
     "CityObjectRelation", "Role", "TimeseriesComponent", "SensorConnection", "TimeValuePair",
     "AbstractTimeseries", "GenericTimeseries", "TabulatedFileTimeseries", "StandardFileTimeseries"}
)
#: Thematic surfaces that appear outside boundedBy/boundary properties (transportation, 2.0).
NESTED_SURFACES = frozenset({"TrafficArea", "AuxiliaryTrafficArea", "Marking"})

_SURFACE_EXTRA: dict[str, SurfaceType] = {
    "WindowSurface": SurfaceType.WINDOW,
    "DoorSurface": SurfaceType.DOOR,
    "Marking": SurfaceType.TRAFFIC_AREA,
    "InteriorWallSurface": SurfaceType.INTERIOR_WALL,
    "LandUse": SurfaceType.LAND_USE,
}

#: Semantic surface type for geometry of an object kind that has no thematic surfaces.
KIND_SURFACE: dict[str, SurfaceType] = {
    "TINRelief": SurfaceType.TERRAIN,
    "MassPointRelief": SurfaceType.TERRAIN,
    "BreaklineRelief": SurfaceType.TERRAIN,
    "ReliefFeature": SurfaceType.TERRAIN,
    "PlantCover": SurfaceType.VEGETATION,
    "SolitaryVegetationObject": SurfaceType.VEGETATION,
    "LandUse": SurfaceType.LAND_USE,
    "CityFurniture": SurfaceType.FURNITURE,
    "GenericCityObject": SurfaceType.GENERIC,
    "GenericOccupiedSpace": SurfaceType.GENERIC,
    "Road": SurfaceType.TRAFFIC_AREA,
    "Railway": SurfaceType.TRAFFIC_AREA,
    "Track": SurfaceType.TRAFFIC_AREA,
    "Square": SurfaceType.TRAFFIC_AREA,
    "Waterway": SurfaceType.WATER_SURFACE,
    "WaterBody": SurfaceType.WATER_SURFACE,
}

_LIFESPAN = {"creationDate": "creation_date", "terminationDate": "termination_date",
             "validFrom": "valid_from", "validTo": "valid_to"}
_SKIP_PROPERTIES = frozenset({"boundedBy", "metaDataProperty", "location"})


def surface_type_of(name: str) -> SurfaceType:
    """Semantic type of a thematic surface element (ADE subclasses by their name's ending)."""
    st = SurfaceType.from_element_name(name)
    if st is not SurfaceType.UNKNOWN:
        return st
    if name in _SURFACE_EXTRA:
        return _SURFACE_EXTRA[name]
    for suffix in ("RoofSurface", "WallSurface", "GroundSurface", "ClosureSurface", "FloorSurface",
                   "CeilingSurface", "WindowSurface", "DoorSurface"):
        if name.endswith(suffix):
            return SurfaceType.from_element_name(suffix) if suffix not in _SURFACE_EXTRA else _SURFACE_EXTRA[suffix]
    return SurfaceType.UNKNOWN


@dataclass
class SurfaceRow:
    id: str
    type: int
    parent: int
    attributes: dict[str, Any]


@dataclass
class FeatureParse:
    """One top-level feature, parsed: its objects (index 0 is the top-level one; children are
    linked), the thematic surface rows of each object, and the collected geometry."""

    objects: list[CityObject]
    rows: list[list[SurfaceRow]]
    collector: GeometryCollector
    srs: str | None
    local_appearance_keys: list[str] = field(default_factory=list)
    lods: set[int] = field(default_factory=set)
    # info mode: bounds of the coordinates of each object (min, max), and lods per object
    bounds: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)

    @property
    def root(self) -> CityObject:
        return self.objects[0]


class FeatureWalker:
    """Parses top-level features (see the module docstring).

    Parameters
    ----------
    gml_ns:
        The GML namespace of the document (``gml:id`` lives there).
    default_srs, default_dim:
        srsName and srsDimension inherited from the document envelope.
    appearances:
        Where appearances found inside features go (None: ignore appearances).
    bounds_only:
        ``info`` mode: collect LODs and coordinate bounds, not polygons.
    """

    def __init__(self, gml_ns: str, default_srs: str | None, default_dim: int,
                 appearances: AppearanceStore | None, *, bounds_only: bool = False) -> None:
        self.gml_ns = gml_ns
        self.gml_id = f"{{{gml_ns}}}id"
        self.default_srs = default_srs
        self.default_dim = default_dim
        self.appearances = appearances
        self.bounds_only = bounds_only
        self._core_ns: dict[str, bool] = {}
        self._pos_tags = (f"{{{gml_ns}}}posList", f"{{{gml_ns}}}pos", f"{{{gml_ns}}}coordinates")

    # --- namespaces ------------------------------------------------------------------------------
    def _is_core(self, tag: str) -> bool:
        """True for CityGML and GML namespaces (attributes keep their bare name); ADE and other
        namespaces get a ``prefix:`` in attribute names."""
        ns = tag[1 : tag.find("}")] if tag.startswith("{") else ""
        known = self._core_ns.get(ns)
        if known is None:
            known = (
                ns == ""
                or ns.startswith(("http://www.opengis.net/citygml", "http://www.citygml.org/citygml/1/0/0"))
                or ns in GML_NAMESPACES
            )
            self._core_ns[ns] = known
        return known

    def _attr_name(self, el: etree._Element, name: str) -> str:
        if self._is_core(el.tag):
            return name
        prefix = el.prefix or "ade"
        return f"{prefix}:{name}"

    # --- features --------------------------------------------------------------------------------
    def parse(self, el: etree._Element) -> FeatureParse:
        kind = local_name(el.tag)
        feature_srs = self._envelope_srs(el) or self.default_srs
        collector = GeometryCollector(self.gml_id)
        root = CityObject(self._object_id(el, kind, None, 0), kind, source_line=el.sourceline)
        fp = FeatureParse([root], [[]], collector, feature_srs)
        fp.bounds.append(None)
        self._walk_object(el, 0, fp)
        return fp

    def _envelope_srs(self, el: etree._Element) -> str | None:
        for child in el:
            if child.tag == f"{{{self.gml_ns}}}boundedBy":
                for env in child:
                    srs = env.get("srsName") if isinstance(env.tag, str) else None
                    if srs:
                        return srs
        return None

    def _object_id(self, el: etree._Element, kind: str, parent: CityObject | None, n: int) -> str:
        gid = el.get(self.gml_id)
        if gid:
            return gid
        if parent is None:
            return f"{kind}@L{el.sourceline}"
        return f"{parent.id}/{kind}[{n}]"

    def _ctx(self, fp: FeatureParse, owner: int, lod: int, row: int, hint: int = 0) -> GeometryContext:
        return GeometryContext(owner, lod, row, False, fp.srs, self.default_dim, hint)

    def _geometry(self, prop: etree._Element, fp: FeatureParse, owner: int, lod: int, row: int,
                  hint: int = 0) -> None:
        fp.lods.add(lod)
        if self.bounds_only:
            self._bounds(prop, fp, owner, lod)
        else:
            fp.collector.parse_property(prop, self._ctx(fp, owner, lod, row, hint))

    def _bounds(self, prop: etree._Element, fp: FeatureParse, owner: int, lod: int) -> None:
        """Info mode: coordinate bounds of a geometry property (no polygons, no rings)."""
        lo = hi = None
        dim = self.default_dim
        srs = fp.srs
        if srs is None:
            found = prop.xpath(".//@srsName")
            if found:
                fp.srs = srs = str(found[0])
        for c in prop.iter(*self._pos_tags):
            try:
                pts = parse_coordinates(c, dim)
            except ValueError as exc:
                fp.collector.issues.append((f"unreadable coordinates: {exc}", c.sourceline, None))
                continue
            if not len(pts):
                continue
            if len(pts) < 4 and local_name(c.tag) == "posList":
                parent = c.getparent()
                if parent is not None and local_name(parent.tag) == "LinearRing" and len(np.unique(pts, axis=0)) < 3:
                    fp.collector.issues.append(("degenerate ring (fewer than 3 distinct points)", c.sourceline,
                                                parent.get(self.gml_id)))
            plo, phi = pts.min(axis=0), pts.max(axis=0)
            lo = plo if lo is None else np.minimum(lo, plo)
            hi = phi if hi is None else np.maximum(hi, phi)
        if lo is not None and hi is not None:
            old = fp.bounds[owner]
            fp.bounds[owner] = (lo, hi) if old is None else (np.minimum(old[0], lo), np.maximum(old[1], hi))

    def _add_object(self, fp: FeatureParse, el: etree._Element, parent_index: int) -> int:
        kind = local_name(el.tag)
        parent = fp.objects[parent_index]
        obj = CityObject(self._object_id(el, kind, parent, len(parent.children)), kind,
                         source_line=el.sourceline)
        parent.add_child(obj)
        fp.objects.append(obj)
        fp.rows.append([])
        fp.bounds.append(None)
        index = len(fp.objects) - 1
        self._walk_object(el, index, fp)
        return index

    def _is_feature(self, el: etree._Element) -> bool:
        name = local_name(el.tag)
        if name in FEATURE_KINDS:
            return True
        if name in DATA_TYPES or not name[:1].isupper():
            return False
        return el.get(self.gml_id) is not None and not el.tag.startswith(f"{{{self.gml_ns}}}")

    def _walk_object(self, el: etree._Element, index: int, fp: FeatureParse) -> None:
        obj = fp.objects[index]
        lifespan: dict[str, Any] = {}
        hint_kind = int(KIND_SURFACE.get(obj.kind, SurfaceType.UNKNOWN))
        relief_lod: int | None = None
        for prop in el:
            tag = prop.tag
            if not isinstance(tag, str):
                continue
            name = local_name(tag)
            in_gml = tag.startswith(f"{{{self.gml_ns}}}")
            if in_gml:
                if name in ("name", "description") and prop.text and prop.text.strip():
                    obj.attributes.setdefault(name, prop.text.strip())
                elif name == "identifier" and prop.text:
                    obj.attributes.setdefault("identifier", prop.text.strip())
                continue
            m = _LOD_PROPERTY.match(name)
            if m:
                lod = int(m.group(1))
                rest = m.group(2)
                if rest.endswith("ImplicitRepresentation") or rest == "ImplicitRepresentation":
                    self._implicit(prop, fp, index, lod)
                    continue
                hint = hint_kind
                if rest == "FootPrint":
                    hint = int(SurfaceType.GROUND)
                elif rest == "RoofEdge":
                    hint = int(SurfaceType.ROOF)
                self._geometry(prop, fp, index, lod, -1, hint)
                continue
            if name in ("boundedBy", "boundary") and self._is_core(tag):
                for child in prop:
                    if isinstance(child.tag, str):
                        self._walk_surface(child, fp, index, -1)
                continue
            if name in ("tin", "reliefPoints", "ridgeOrValleyLines", "breaklines", "grid", "geometry"):
                lod = relief_lod if relief_lod is not None else _lod_of(obj)
                self._geometry(prop, fp, index, lod, -1, hint_kind)
                continue
            if name == "lod" and prop.text and prop.text.strip().isdigit():
                relief_lod = int(prop.text.strip())
                obj.attributes["lod"] = relief_lod
                continue
            if name == "appearance":
                self._appearance(prop, fp)
                continue
            if name in _LIFESPAN:
                dt = parse_datetime(prop.text or "")
                if dt is not None:
                    lifespan[_LIFESPAN[name]] = dt
                continue
            generic = generic_attribute(prop)
            if generic is not None:
                obj.generic_attributes[generic[0]] = generic[1]
                continue
            if name in _SKIP_PROPERTIES:
                continue
            key = self._attr_name(prop, name)
            if name == "address":
                address = parse_address(prop)
                if address is not None:
                    obj.attributes.setdefault("address", address)
                continue
            children = [c for c in prop if isinstance(c.tag, str)]
            href = prop.get(XLINK_HREF)
            if not children:
                if href is not None:
                    _append(obj.attributes, key, href.lstrip("#"), force_list=True)
                else:
                    value = typed_property(prop, name)
                    _append(obj.attributes, key, value, force_list=name in LIST_PROPERTIES)
                continue
            child = children[0]
            cname = local_name(child.tag)
            if cname in NESTED_SURFACES:
                for c in children:
                    self._walk_surface(c, fp, index, -1)
            elif self._is_feature(child):
                for c in children:
                    self._add_object(fp, c, index)
            elif cname == "Appearance":
                self._appearance(prop, fp)
            else:
                _append(obj.attributes, key, complex_value(prop))
        if lifespan:
            obj.lifespan = Lifespan(**lifespan)

    def _walk_surface(self, el: etree._Element, fp: FeatureParse, owner: int, parent_row: int) -> None:
        name = local_name(el.tag)
        rows = fp.rows[owner]
        row = len(rows)
        sid = el.get(self.gml_id) or f"{fp.objects[owner].id}#{name}{row}"
        surface = SurfaceRow(sid, int(surface_type_of(name)), parent_row, {})
        rows.append(surface)
        for prop in el:
            tag = prop.tag
            if not isinstance(tag, str):
                continue
            pname = local_name(tag)
            m = _LOD_PROPERTY.match(pname)
            if m:
                if not m.group(2).endswith("ImplicitRepresentation"):
                    self._geometry(prop, fp, owner, int(m.group(1)), row)
                continue
            if pname in ("opening", "fillingSurface", "boundary", "boundedBy") and not tag.startswith(
                f"{{{self.gml_ns}}}"
            ):
                for child in prop:
                    if isinstance(child.tag, str):
                        self._walk_surface(child, fp, owner, row)
                continue
            if pname == "appearance":
                self._appearance(prop, fp)
                continue
            if tag.startswith(f"{{{self.gml_ns}}}"):
                if pname == "name" and prop.text and prop.text.strip():
                    surface.attributes.setdefault("name", prop.text.strip())
                continue
            if len(prop) == 0 and prop.text and prop.text.strip():
                surface.attributes[self._attr_name(prop, pname)] = typed_property(prop, pname)

    def _appearance(self, prop: etree._Element, fp: FeatureParse) -> None:
        if self.appearances is None or self.bounds_only:
            return
        for child in prop:
            if isinstance(child.tag, str) and local_name(child.tag) == "Appearance":
                fp.local_appearance_keys.extend(self.appearances.add_appearance(child))

    def _implicit(self, prop: etree._Element, fp: FeatureParse, owner: int, lod: int) -> None:
        """Implicit geometry (a template placed by a matrix at a reference point): the reference
        point gives the object its place and LOD; inline templates are placed as polygons."""
        fp.lods.add(lod)
        implicit = next((c for c in prop if isinstance(c.tag, str)), None)
        if implicit is None:
            return
        matrix = None
        ref_point = None
        template = None
        for part in implicit:
            pname = local_name(part.tag)
            if pname == "transformationMatrix":
                try:
                    values = np.array((part.text or "").split(), dtype=np.float64)
                    if len(values) == 16:
                        matrix = values.reshape(4, 4)
                except ValueError:
                    pass
            elif pname == "referencePoint":
                pos = next(part.iter(*self._pos_tags), None)
                if pos is not None:
                    try:
                        pts = parse_coordinates(pos, self.default_dim)
                        if len(pts):
                            ref_point = pts[0]
                    except ValueError:
                        pass
            elif pname == "relativeGMLGeometry" or pname == "relativeGeometry":
                template = part
        if ref_point is None:
            return
        if self.bounds_only or template is None or len(template) == 0:
            key = (owner, lod)
            if self.bounds_only:
                old = fp.bounds[owner]
                fp.bounds[owner] = (ref_point, ref_point) if old is None else (
                    np.minimum(old[0], ref_point), np.maximum(old[1], ref_point))
            else:
                fp.collector.other_bounds.setdefault(key, (ref_point, ref_point))
            return
        sub = GeometryCollector(self.gml_id)
        sub.parse_property(template, GeometryContext(owner, lod, -1, False, fp.srs, self.default_dim,
                                                     int(KIND_SURFACE.get(fp.objects[owner].kind, 0))))
        m = matrix if matrix is not None else np.eye(4)
        for poly in sub.polygons:
            poly.rings = [(r @ m[:3, :3].T) + m[:3, 3] + ref_point for r in poly.rings]
            poly.srs = fp.srs
            fp.collector.polygons.append(poly)


def _lod_of(obj: CityObject) -> int:
    value = obj.attributes.get("lod")
    return int(value) if isinstance(value, int) else 1


def _append(attributes: dict[str, Any], key: str, value: Any, *, force_list: bool = False) -> None:
    """Set an attribute; a repeated property becomes a list."""
    if key in attributes:
        existing = attributes[key]
        if isinstance(existing, list) and (force_list or getattr(existing, "_repeated", True)):
            existing.append(value)
        else:
            attributes[key] = [existing, value]
    else:
        attributes[key] = [value] if force_list else value
