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
    _GEN_TYPES,
    GENERIC_ELEMENTS,
    LIST_PROPERTIES,
    _convert_generic,
    complex_value,
    generic_attribute,
    local_name,
    parse_address,
    parse_datetime,
    typed_property,
)
from .geometry import (
    XLINK_HREF,
    CoordinateError,
    GeometryCollector,
    GeometryContext,
    Polygon,
    _numbers,
    _to_xyz,
    parse_coordinates,
)

__all__ = ["GML_NAMESPACES", "FeatureParse", "FeatureWalker", "points_of_texts", "surface_type_of"]

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

#: Generic attribute elements of the simple ``<gen:intAttribute name="n"><gen:value>`` form.
_SIMPLE_GENERIC = {name: kind for name, kind in _GEN_TYPES.items() if kind != "set"}
_LIFESPAN = {"creationDate": "creation_date", "terminationDate": "termination_date",
             "validFrom": "valid_from", "validTo": "valid_to"}
_SKIP_PROPERTIES = frozenset({"boundedBy", "metaDataProperty", "location"})
# property codes of FeatureWalker._classify
(_SKIP, _OTHER, _GENERIC, _GEOMETRY, _BOUNDARY, _GML_TEXT, _LIFESPAN_CODE, _ADDRESS, _APPEARANCE, _IMPLICIT,
 _RELIEF_GEOMETRY, _RELIEF_LOD, _ENVELOPE) = range(13)


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
    coord_texts: list[str] = field(default_factory=list)
    has_implicit: bool = False
    points_outside_geometry: bool = False  # info mode: gml:pos in an address or envelope
    attribute_names: set[str] = field(default_factory=set)  # info mode
    odd_coords: list[etree._Element] = field(default_factory=list)

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
        self._prop_cache: dict[Any, tuple[int, str, int, int]] = {}
        self._shared_collector = GeometryCollector(self.gml_id)
        self._surface_types: dict[str, int] = {}
        #: Implicit geometry templates by gml:id (local coordinates), for later references.
        self.templates: dict[str, list[list[np.ndarray]]] = {}
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
        feature_srs = self.default_srs
        # info mode only uses the collector's issue list, drained after each feature: one will do
        collector = self._shared_collector if self.bounds_only else GeometryCollector(self.gml_id)
        root = CityObject(self._object_id(el, kind, None, 0), kind, source_line=el.sourceline)
        fp = FeatureParse([root], [[]], collector, feature_srs)
        fp.bounds.append(None)
        self._walk_object(el, 0, fp)
        if self.bounds_only:
            self._finish_bounds(fp, el)
        return fp

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
            if fp.srs is None:
                found = prop.xpath(".//@srsName")
                if found:
                    fp.srs = str(found[0])
        else:
            fp.collector.parse_property(prop, self._ctx(fp, owner, lod, row, hint))

    def _finish_bounds(self, fp: FeatureParse, el: etree._Element) -> None:
        """Info mode: the bounds of all coordinates under geometry properties of the feature, with
        one XPath and one numpy conversion for the common case (3D posLists)."""
        texts = fp.coord_texts
        odd = fp.odd_coords
        pos_list_tag = self._pos_tags[0]
        for c in el.iter(*self._pos_tags):
            if c.tag == pos_list_tag:
                dim = c.get("srsDimension")
                if dim is None or dim == "3":
                    if fp.has_implicit and _inside(c, el, _TEMPLATE_NAMES):
                        continue
                    if c.text:
                        texts.append(c.text)
                    continue
                odd.append(c)
            elif not fp.points_outside_geometry or not _inside(c, el, _NOT_GEOMETRY):
                # points outside geometry properties (an address' location, an implicit template)
                # and implicit reference points (placed by _implicit) are left out
                odd.append(c)
        # 3D posList texts stay in fp.coord_texts: the reader parses those of many features in
        # one numpy call (bounds_of_texts); the odd ones are parsed here
        arrays: list[np.ndarray] = []
        for c in fp.odd_coords:
            try:
                arrays.append(parse_coordinates(c, self.default_dim))
            except CoordinateError as exc:
                fp.collector.issues.append((f"unreadable coordinates: {exc}", c.sourceline, None))
        arrays = [a for a in arrays if len(a)]
        if arrays:
            pts = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            old = fp.bounds[0]
            fp.bounds[0] = (lo, hi) if old is None else (np.minimum(old[0], lo), np.maximum(old[1], hi))
        fp.odd_coords = []

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
        if name in DATA_TYPES or not name[:1].isupper() or el.tag.startswith(f"{{{self.gml_ns}}}"):
            return False
        if el.get(self.gml_id) is not None:
            return True
        # an ADE object without id that carries its own geometry (lodN... properties)
        return not self._is_core(el.tag) and any(_LOD_PROPERTY.match(local_name(c.tag)) and len(c) for c in el)

    def _ade_hook(self, prop: etree._Element, fp: FeatureParse, index: int) -> bool:
        """CityGML 3.0 ADE hooks (``adeOfBuilding`` ...) hold data types whose properties belong to
        the object itself: walk them as its own properties."""
        name = local_name(prop.tag)
        if not name.startswith("adeOf"):
            return False
        for child in prop:
            if isinstance(child.tag, str):
                self._walk_object(child, index, fp)
        return True

    def _classify(self, prop: etree._Element) -> tuple[int, str, int, int]:
        """What a property element is, by its tag (cached): ``(code, name, lod, hint)``."""
        tag = prop.tag
        try:
            return self._prop_cache[tag]
        except KeyError:
            pass
        except TypeError:
            return (_SKIP, "", 0, 0)
        if not isinstance(tag, str):
            return (_SKIP, "", 0, 0)
        name = local_name(tag)
        lod, hint = 0, 0
        if tag.startswith(f"{{{self.gml_ns}}}"):
            code = _GML_TEXT if name in ("name", "description", "identifier") else _ENVELOPE if name == "boundedBy" else _SKIP
        elif (m := _LOD_PROPERTY.match(name)) is not None:
            lod = int(m.group(1))
            rest = m.group(2)
            if rest.endswith("ImplicitRepresentation"):
                code = _IMPLICIT
            else:
                code = _GEOMETRY
                hint = int(SurfaceType.GROUND) if rest == "FootPrint" else int(SurfaceType.ROOF) if rest == "RoofEdge" else 0
        elif name in ("boundedBy", "boundary") and self._is_core(tag):
            code = _BOUNDARY
        elif name in ("tin", "reliefPoints", "ridgeOrValleyLines", "breaklines", "grid", "geometry"):
            code = _RELIEF_GEOMETRY
        elif name == "lod":
            code = _RELIEF_LOD
        elif name == "appearance":
            code = _APPEARANCE
        elif name in _LIFESPAN:
            code = _LIFESPAN_CODE
        elif name in GENERIC_ELEMENTS:
            code = _GENERIC
        elif name in _SKIP_PROPERTIES:
            code = _SKIP
        elif name == "address":
            code = _ADDRESS
        else:
            code = _OTHER
            name = self._attr_name(prop, name)
        result = (code, name, lod, hint)
        self._prop_cache[tag] = result
        return result

    def _scan_object(self, el: etree._Element, index: int, fp: FeatureParse) -> None:
        """Info mode: kinds, attribute names, LODs and CRS only (values are not typed)."""
        obj = fp.objects[index]
        names = fp.attribute_names
        cache = self._prop_cache
        other, geometry = _OTHER, _GEOMETRY  # locals: this loop runs for every property of every feature
        for prop in el:
            found = cache.get(prop.tag)
            code, name, lod, _hint = found if found is not None else self._classify(prop)
            if code == geometry and not len(prop) and prop.get(XLINK_HREF) is None:
                code, name = other, self._attr_name(prop, name)  # an lodN... value, not geometry
            if code == other:
                if len(prop):
                    if name.startswith("adeOf", name.find(":") + 1) and self._ade_hook(prop, fp, index):
                        continue
                    child = next((c for c in prop if isinstance(c.tag, str)), None)
                    if child is not None:
                        if local_name(child.tag) in NESTED_SURFACES:
                            self._scan_surfaces(prop, fp)
                            continue
                        if self._is_feature(child):
                            for c in prop:
                                if isinstance(c.tag, str):
                                    self._add_object(fp, c, index)
                            continue
                names.add(name)
            elif code == _GENERIC:
                attr = prop.get("name")
                if attr is None:
                    item = generic_attribute(prop)
                    attr = item[0] if item is not None else None
                if attr is not None:
                    names.add(attr)
            elif code in (_GEOMETRY, _RELIEF_GEOMETRY):
                fp.lods.add(lod if code == _GEOMETRY else _lod_of(obj))
                if fp.srs is None:
                    self._find_srs(prop, fp)
            elif code == _BOUNDARY:
                self._scan_surfaces(prop, fp)
            elif code in (_GML_TEXT, _ADDRESS):
                names.add(name)
                if code == _ADDRESS and prop.find(f".//{self._pos_tags[1]}") is not None:
                    fp.points_outside_geometry = True
            elif code == _ENVELOPE:
                if prop.find(f".//{self._pos_tags[1]}") is not None:
                    fp.points_outside_geometry = True
                for env in prop:
                    srs = env.get("srsName") if isinstance(env.tag, str) else None
                    if srs:
                        fp.srs = srs
                        break
            elif code == _IMPLICIT:
                self._implicit(prop, fp, index, lod)
            elif code == _RELIEF_LOD:
                text = (prop.text or "").strip()
                if text.isdigit():
                    names.add("lod")
                    obj.attributes["lod"] = int(text)

    def _scan_surfaces(self, prop: etree._Element, fp: FeatureParse) -> None:
        """Info mode: LODs of thematic surfaces and their openings."""
        cache = self._prop_cache
        for surface in prop:
            for sub in surface:
                found = cache.get(sub.tag)
                code, name, lod, _hint = found if found is not None else self._classify(sub)
                if code == _GEOMETRY and (len(sub) or sub.get(XLINK_HREF) is not None):
                    fp.lods.add(lod)
                    if fp.srs is None:
                        self._find_srs(sub, fp)
                elif code == _BOUNDARY or (code == _OTHER and name in ("opening", "fillingSurface")):
                    self._scan_surfaces(sub, fp)

    def _find_srs(self, prop: etree._Element, fp: FeatureParse) -> None:
        found = prop.xpath(".//@srsName")
        if found:
            fp.srs = str(found[0])

    def _walk_object(self, el: etree._Element, index: int, fp: FeatureParse) -> None:
        if self.bounds_only:
            self._scan_object(el, index, fp)
            return
        obj = fp.objects[index]
        attributes = obj.attributes
        lifespan: dict[str, Any] = {}
        hint_kind = int(KIND_SURFACE.get(obj.kind, SurfaceType.UNKNOWN))
        relief_lod: int | None = None
        cache = self._prop_cache
        generics = obj.generic_attributes
        for prop in el:
            found = cache.get(prop.tag)
            code, name, lod, hint = found if found is not None else self._classify(prop)
            if code == _GEOMETRY and not len(prop) and prop.get(XLINK_HREF) is None:
                code, name = _OTHER, self._attr_name(prop, name)  # an lodN... value, not geometry
            if code == _OTHER:
                if len(prop) == 0:
                    href = prop.get(XLINK_HREF)
                    if href is not None:
                        _append(attributes, name, href.lstrip("#"), force_list=True)
                    else:
                        bare = name[name.find(":") + 1 :]
                        value = typed_property(prop, bare)
                        if isinstance(value, list) and name not in attributes:
                            attributes[name] = value
                        else:
                            _append(attributes, name, value, force_list=bare in LIST_PROPERTIES)
                    continue
                children = [c for c in prop if isinstance(c.tag, str)]
                if not children:
                    _append(attributes, name, typed_property(prop, name))
                    continue
                if self._ade_hook(prop, fp, index):
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
                    _append(attributes, name, complex_value(prop))
            elif code == _GENERIC:
                attr = prop.get("name")
                kind = _SIMPLE_GENERIC.get(name)
                if attr is not None and kind is not None and len(prop) == 1:
                    # the CityGML 1.0/2.0 simple form, as generic_attribute reads it
                    generics[attr] = _convert_generic(kind, prop[0])
                    continue
                generic = generic_attribute(prop)
                if generic is not None:
                    generics[generic[0]] = generic[1]
            elif code == _GEOMETRY:
                self._geometry(prop, fp, index, lod, -1, hint or hint_kind)
            elif code == _BOUNDARY:
                for child in prop:
                    if isinstance(child.tag, str):
                        self._walk_surface(child, fp, index, -1)
            elif code == _GML_TEXT:
                text = prop.text
                if text and text.strip():
                    attributes.setdefault(name, text.strip())
            elif code == _LIFESPAN_CODE:
                dt = parse_datetime(prop.text or "")
                if dt is not None:
                    lifespan[_LIFESPAN[name]] = dt
            elif code == _ADDRESS:
                address = parse_address(prop)
                if address is not None:
                    attributes.setdefault("address", address)
            elif code == _APPEARANCE:
                self._appearance(prop, fp)
            elif code == _IMPLICIT:
                self._implicit(prop, fp, index, lod)
            elif code == _RELIEF_GEOMETRY:
                self._geometry(prop, fp, index, relief_lod if relief_lod is not None else _lod_of(obj), -1, hint_kind)
            elif code == _ENVELOPE:
                for env in prop:
                    srs = env.get("srsName") if isinstance(env.tag, str) else None
                    if srs:
                        fp.srs = srs
                        break
            elif code == _RELIEF_LOD:
                text = (prop.text or "").strip()
                if text.isdigit():
                    relief_lod = int(text)
                    attributes["lod"] = relief_lod
        if lifespan:
            obj.lifespan = Lifespan(**lifespan)

    def _walk_surface(self, el: etree._Element, fp: FeatureParse, owner: int, parent_row: int) -> None:
        name = local_name(el.tag)
        rows = fp.rows[owner]
        row = len(rows)
        sid = el.get(self.gml_id) or f"{fp.objects[owner].id}#{name}{row}"
        stype = self._surface_types.get(name)
        if stype is None:
            stype = self._surface_types[name] = int(surface_type_of(name))
        surface = SurfaceRow(sid, stype, parent_row, {})
        rows.append(surface)
        cache = self._prop_cache
        for prop in el:
            found = cache.get(prop.tag)
            code, pname, lod, _hint = found if found is not None else self._classify(prop)
            if code == _GEOMETRY:
                if len(prop) and not self.bounds_only:
                    # inline geometry, the common case: straight to the collector
                    fp.lods.add(lod)
                    fp.collector.parse_property(prop, GeometryContext(owner, lod, row, False, fp.srs,
                                                                      self.default_dim, 0))
                    continue
                if prop.get(XLINK_HREF) is None:
                    code, pname = _OTHER, self._attr_name(prop, pname)
            if code == _GEOMETRY:
                self._geometry(prop, fp, owner, lod, row)
            elif code == _GML_TEXT:
                text = prop.text
                if pname == "name" and text and text.strip():
                    surface.attributes.setdefault("name", text.strip())
            elif code == _BOUNDARY or (code == _OTHER and pname in ("opening", "fillingSurface")):
                for child in prop:
                    if isinstance(child.tag, str):
                        self._walk_surface(child, fp, owner, row)
            elif code == _APPEARANCE:
                self._appearance(prop, fp)
            elif code == _OTHER and len(prop) == 0:
                text = prop.text
                if text and text.strip():
                    surface.attributes[pname] = typed_property(prop, pname[pname.find(":") + 1 :])

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
        fp.has_implicit = True
        fp.points_outside_geometry = True
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
        if self.bounds_only or template is None or (len(template) == 0 and template.get(XLINK_HREF) is None):
            key = (owner, lod)
            if self.bounds_only:
                old = fp.bounds[owner]
                fp.bounds[owner] = (ref_point, ref_point) if old is None else (
                    np.minimum(old[0], ref_point), np.maximum(old[1], ref_point))
            else:
                fp.collector.other_bounds.setdefault(key, (ref_point, ref_point))
            return
        hint = int(KIND_SURFACE.get(fp.objects[owner].kind, 0))
        href = template.get(XLINK_HREF)
        if href is not None and len(template) == 0:
            # a template defined by an earlier implicit geometry (trees and furniture share them)
            rings_list = self.templates.get(href.lstrip("#"))
            if rings_list is None:
                fp.collector.issues.append((f"implicit geometry template {href} not found before its use; "
                                            "only the reference point is kept", template.sourceline, None))
                fp.collector.other_bounds.setdefault((owner, lod), (ref_point, ref_point))
                return
        else:
            sub = GeometryCollector(self.gml_id)
            sub.parse_property(template, GeometryContext(owner, lod, -1, False, fp.srs, self.default_dim, hint))
            rings_list = [poly.rings for poly in sub.polygons]
            for child in template:
                gid = child.get(self.gml_id) if isinstance(child.tag, str) else None
                if gid is not None and len(self.templates) < MAX_TEMPLATES:
                    self.templates[gid] = rings_list
        m = matrix if matrix is not None else np.eye(4)
        for rings in rings_list:
            placed = [(r @ m[:3, :3].T) + m[:3, 3] + ref_point for r in rings]
            fp.collector.polygons.append(
                Polygon(placed, owner, lod, -1, False, fp.srs, None, [None] * len(placed), prop.sourceline, hint)
            )


#: At most this many implicit geometry templates are remembered (they are few in real files).
MAX_TEMPLATES = 10_000
_TEMPLATE_NAMES = frozenset({"relativeGMLGeometry", "relativeGeometry"})
_NOT_GEOMETRY = frozenset({"relativeGMLGeometry", "relativeGeometry", "referencePoint", "Address", "address",
                           "Envelope"})


def _inside(el: etree._Element, stop: etree._Element, names: frozenset[str]) -> bool:
    """Is ``el`` below an element named in ``names`` (looking up to ``stop``)?"""
    node = el.getparent()
    while node is not None and node is not stop:
        if local_name(node.tag) in names:
            return True
        node = node.getparent()
    return False


def points_of_texts(texts: list[str], dim: int, issues: list[tuple[str, int | None, str | None]]
                    ) -> np.ndarray | None:
    """The ``(k, 3)`` points of many posList texts, in one numpy conversion when they are all
    well-formed (one by one otherwise, reporting the bad ones in ``issues``)."""
    arrays: list[np.ndarray] = []
    try:
        values = np.array(" ".join(texts).split(), dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and len(values) % 3 == 0 and dim == 3:
        arrays.append(values.reshape(-1, 3))
    else:
        for text in texts:
            try:
                arrays.append(_to_xyz(_numbers(text), dim))
            except CoordinateError as exc:
                issues.append((f"unreadable coordinates: {exc}", None, None))
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return None
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def _lod_of(obj: CityObject) -> int:
    value = obj.attributes.get("lod")
    return int(value) if isinstance(value, int) else 1


def _append(attributes: dict[str, Any], key: str, value: Any, *, force_list: bool = False) -> None:
    """Set an attribute; a repeated property becomes a list."""
    if key in attributes:
        existing = attributes[key]
        if isinstance(existing, list):
            existing.append(value)
        else:
            attributes[key] = [existing, value]
    else:
        attributes[key] = [value] if force_list else value
