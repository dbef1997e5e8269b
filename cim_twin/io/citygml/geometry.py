"""GML geometry of one top-level feature: polygons as numpy rings, xlink references, solids.

Coordinates are parsed per ``posList`` (or ``pos`` sequence, or GML 3.1 ``coordinates``) with one
numpy call each, never point by point. Every polygon (and every aggregate with a gml:id) is
recorded by id, so references in either order (a Solid pointing at the polygons of its thematic
surfaces, or a thematic surface pointing into the Solid) resolve when the feature ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lxml import etree

from .attributes import local_name

__all__ = ["GeometryCollector", "GeometryContext", "Polygon", "Ref", "parse_coordinates"]

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

POLYGON_LIKE = frozenset({"Polygon", "Triangle", "Rectangle", "PolygonPatch"})
SURFACE_AGGREGATES = frozenset(
    {"MultiSurface", "CompositeSurface", "Shell", "Surface", "TriangulatedSurface", "TIN", "Tin",
     "PolyhedralSurface"}
)
SOLID_AGGREGATES = frozenset({"MultiSolid", "CompositeSolid"})
GEOMETRY_AGGREGATES = frozenset({"MultiGeometry", "GeometricComplex"})
LINEAR = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiCurve", "CompositeCurve", "Curve", "MultiLineString",
     "OrientableCurve", "LinearRing", "Ring"}
)
KNOWN_GEOMETRY = POLYGON_LIKE | SURFACE_AGGREGATES | SOLID_AGGREGATES | GEOMETRY_AGGREGATES | LINEAR | {
    "Solid", "OrientableSurface", "ImplicitGeometry"}
_COORD_NAMES = frozenset({"posList", "pos", "coordinates", "coord", "pointProperty", "pointRep"})


#: ``{ns}id`` -> (exterior/LinearRing/posList tags, Polygon tag, aggregate tags) of that namespace.
_TAGS_BY_NAMESPACE: dict[str, tuple[tuple[str, str, str], str, frozenset[str]]] = {}


class CoordinateError(ValueError):
    """Coordinates that cannot be read (not numbers, wrong count for the dimension)."""


@dataclass(slots=True)
class GeometryContext:
    """Where the geometry being parsed goes, and how to read it."""

    owner: int  # index of the owning object in the feature's object list
    lod: int
    row: int  # thematic surface row of the owner (-1 none)
    flip: bool
    srs: str | None
    dim: int
    hint: int = 0  # SurfaceType to use when no thematic surface says (footprint, roof edge, ...)


@dataclass(slots=True)
class Polygon:
    """One polygon: rings without closing point, exterior first."""

    rings: list[np.ndarray]
    owner: int
    lod: int
    row: int
    flip: bool
    srs: str | None
    gid: str | None
    ring_ids: list[str | None]
    line: int | None
    hint: int = 0
    in_solid: bool = False


@dataclass(slots=True)
class Ref:
    """An xlink:href to geometry, resolved when the feature ends (or later, across features)."""

    target: str
    ctx: GeometryContext
    line: int | None
    in_solid: bool


@dataclass
class GeometryCollector:
    """Everything geometric found in one top-level feature.

    ``issues`` collects ``(message, line, gml_id)`` for degenerate rings and unreadable
    coordinates; the reader turns them into warnings.
    """

    gml_id_attr: str
    polygons: list[Polygon] = field(default_factory=list)
    by_id: dict[str, tuple[int, int]] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    solids: set[tuple[int, int]] = field(default_factory=set)
    # (owner, lod) -> [min xyz, max xyz] of point/curve geometry, and lods that had any geometry
    other_bounds: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    issues: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    _in_solid: int = 0
    _tags: tuple[str, str, str] = ("", "", "")
    _polygon_tag: str = ""
    _aggregate_tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # one collector per feature: the tag names are made once per GML namespace
        known = _TAGS_BY_NAMESPACE.get(self.gml_id_attr)
        if known is None:
            ns = self.gml_id_attr[: -len("id")]
            known = _TAGS_BY_NAMESPACE[self.gml_id_attr] = (
                (ns + "exterior", ns + "LinearRing", ns + "posList"),
                ns + "Polygon",
                frozenset(ns + name for name in SURFACE_AGGREGATES | SOLID_AGGREGATES | GEOMETRY_AGGREGATES),
            )
        self._tags, self._polygon_tag, self._aggregate_tags = known

    # --- entry point -----------------------------------------------------------------------------
    def parse_property(self, prop: etree._Element, ctx: GeometryContext) -> None:
        """Parse a geometry property (``lod2Solid``, ``surfaceMember``, ``tin``, ...): either an
        xlink:href to geometry elsewhere or inline geometry children."""
        n = len(prop)
        if n == 0:
            href = prop.get(XLINK_HREF)
            if href is not None:
                self.refs.append(Ref(href.lstrip("#"), ctx, prop.sourceline, self._in_solid > 0))
            return
        if n == 1:
            # the usual lodNMultiSurface/MultiSurface (or CompositeSurface ...) without its own
            # srsName: straight to its members
            child = prop[0]
            if child.tag in self._aggregate_tags and child.get("srsName") is None and child.get("srsDimension") is None:
                gid = child.get(self.gml_id_attr)
                start = len(self.polygons)
                self._members(child, ctx)
                if gid is not None:
                    self.by_id[gid] = (start, len(self.polygons))
                return
        for child in prop:
            if isinstance(child.tag, str):
                self.parse_geometry(child, ctx)

    def parse_geometry(self, el: etree._Element, ctx: GeometryContext) -> None:
        tag = el.tag
        name = local_name(tag)
        if name == "Polygon" and tag == self._polygon_tag:
            self._fast_polygon(el, ctx)
            return
        srs = el.get("srsName")
        dim = el.get("srsDimension")
        if srs is not None or dim is not None:
            ctx = GeometryContext(ctx.owner, ctx.lod, ctx.row, ctx.flip, srs or ctx.srs,
                                  int(dim) if dim and dim.isdigit() else ctx.dim, ctx.hint)
        gid = el.get(self.gml_id_attr)
        start = len(self.polygons)
        if name in POLYGON_LIKE:
            self._polygon(el, ctx, gid)
        elif name in SURFACE_AGGREGATES or name in GEOMETRY_AGGREGATES or name in SOLID_AGGREGATES:
            self._members(el, ctx)
        elif name == "Solid":
            self.solids.add((ctx.owner, ctx.lod))
            self._in_solid += 1
            try:
                for member in el:
                    if isinstance(member.tag, str) and local_name(member.tag) in ("exterior", "interior", "outerBoundary"):
                        self.parse_property(member, ctx)
            finally:
                self._in_solid -= 1
        elif name == "OrientableSurface":
            flipped = ctx.flip != (el.get("orientation", "+").strip() == "-")
            sub = GeometryContext(ctx.owner, ctx.lod, ctx.row, flipped, ctx.srs, ctx.dim, ctx.hint)
            for member in el:
                if isinstance(member.tag, str) and local_name(member.tag) == "baseSurface":
                    self.parse_property(member, sub)
        elif name in LINEAR:
            self._linear(el, ctx)
        else:
            # unknown geometry type (e.g. an ADE geometry): look for polygons inside
            for member in el:
                if isinstance(member.tag, str):
                    self.parse_geometry(member, ctx)
        if gid is not None and name not in POLYGON_LIKE:
            self.by_id[gid] = (start, len(self.polygons))

    def _members(self, aggregate: etree._Element, ctx: GeometryContext) -> None:
        """The member properties of an aggregate. The two shapes that make up nearly all real
        data, a member holding one gml:Polygon and an empty member with an xlink:href, are handled
        here without the general property/geometry dispatch (the same result, fewer calls per
        polygon)."""
        polygon_tag = self._polygon_tag
        refs = self.refs
        in_solid = self._in_solid > 0
        for member in aggregate:
            n = len(member)
            if n == 1:
                child = member[0]
                if child.tag == polygon_tag:
                    self._fast_polygon(child, ctx)
                    continue
            elif n == 0:
                href = member.get(XLINK_HREF)  # (comments and processing instructions have none)
                if href is not None:
                    refs.append(Ref(href.lstrip("#"), ctx, member.sourceline, in_solid))
                continue
            if isinstance(member.tag, str):
                self.parse_property(member, ctx)

    # --- leaves ----------------------------------------------------------------------------------
    def _fast_polygon(self, el: etree._Element, ctx: GeometryContext) -> None:
        """The common case, Polygon/exterior/LinearRing/posList without holes or attributes other
        than ids, without the general dispatch; anything else goes to :meth:`_polygon`."""
        gid = el.get(self.gml_id_attr)
        if len(el) == 1 and el.get("srsName") is None and el.get("srsDimension") is None:
            boundary = el[0]
            if boundary.tag == self._tags[0] and len(boundary) == 1:
                ring_el = boundary[0]
                if ring_el.tag == self._tags[1] and len(ring_el) == 1:
                    pos_list = ring_el[0]
                    if pos_list.tag == self._tags[2]:
                        dim_text = pos_list.get("srsDimension") or ring_el.get("srsDimension")
                        dim = int(dim_text) if dim_text and dim_text.isdigit() else ctx.dim
                        try:
                            values = np.array((pos_list.text or "").split(), dtype=np.float64)
                        except ValueError:
                            values = None
                        if values is not None and len(values) % dim == 0 and dim in (2, 3) and len(values) >= 4 * dim:
                            ring = values.reshape(-1, dim)
                            if dim == 2:
                                ring = np.column_stack([ring, np.zeros(len(ring))])
                            index = len(self.polygons)
                            self.polygons.append(
                                Polygon([ring], ctx.owner, ctx.lod, ctx.row, ctx.flip, ctx.srs, gid,
                                        [ring_el.get(self.gml_id_attr)], el.sourceline, ctx.hint, self._in_solid > 0)
                            )
                            if gid is not None:
                                self.by_id[gid] = (index, index + 1)
                            return
        srs = el.get("srsName")
        dim = el.get("srsDimension")
        if srs is not None or dim is not None:
            ctx = GeometryContext(ctx.owner, ctx.lod, ctx.row, ctx.flip, srs or ctx.srs,
                                  int(dim) if dim and dim.isdigit() else ctx.dim, ctx.hint)
        self._polygon(el, ctx, gid)

    def _polygon(self, el: etree._Element, ctx: GeometryContext, gid: str | None) -> None:
        rings: list[np.ndarray] = []
        ring_ids: list[str | None] = []
        exterior_ok = False
        for boundary in el:
            if not isinstance(boundary.tag, str):
                continue
            bname = local_name(boundary.tag)
            if bname not in ("exterior", "interior", "outerBoundaryIs", "innerBoundaryIs", "outerBoundary",
                             "innerBoundary"):
                continue
            is_exterior = bname.startswith(("exterior", "outer"))
            ring_el = next((c for c in boundary if isinstance(c.tag, str)), None)
            if ring_el is None:
                continue
            try:
                coords = ring_coordinates(ring_el, ctx.dim)
            except CoordinateError as exc:
                self.issues.append((f"unreadable coordinates: {exc}; polygon skipped", ring_el.sourceline,
                                    gid or ring_el.get(self.gml_id_attr)))
                return
            # the closing point is dropped for all rings at once (PolygonBatch); coincident
            # points and zero areas are found by the triangulation
            ring = coords
            if len(ring) < 3 or (len(ring) == 3 and _closed(ring)):
                what = "exterior" if is_exterior else "interior"
                self.issues.append((
                    f"degenerate {what} ring (fewer than 3 distinct points)"
                    + ("; polygon skipped" if is_exterior else "; hole ignored"),
                    ring_el.sourceline, ring_el.get(self.gml_id_attr) or gid))
                if is_exterior:
                    return
                continue
            if is_exterior:
                if exterior_ok:
                    continue
                exterior_ok = True
                rings.insert(0, ring)
                ring_ids.insert(0, ring_el.get(self.gml_id_attr))
            else:
                rings.append(ring)
                ring_ids.append(ring_el.get(self.gml_id_attr))
        if not exterior_ok:
            if rings or len(el):
                self.issues.append(("polygon without a usable exterior ring; skipped", el.sourceline, gid))
            return
        index = len(self.polygons)
        self.polygons.append(
            Polygon(rings, ctx.owner, ctx.lod, ctx.row, ctx.flip, ctx.srs, gid, ring_ids, el.sourceline,
                    ctx.hint, self._in_solid > 0)
        )
        if gid is not None:
            self.by_id[gid] = (index, index + 1)

    def _linear(self, el: etree._Element, ctx: GeometryContext) -> None:
        """Points and curves carry no surface, but they tell the LOD and the extent."""
        arrays = []
        for c in el.iter():
            if local_name(c.tag) in ("posList", "pos", "coordinates"):
                try:
                    arrays.append(parse_coordinates(c, ctx.dim))
                except CoordinateError:
                    continue
        key = (ctx.owner, ctx.lod)
        if arrays:
            pts = np.concatenate(arrays)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            if key in self.other_bounds:
                old = self.other_bounds[key]
                lo, hi = np.minimum(lo, old[0]), np.maximum(hi, old[1])
            self.other_bounds[key] = (lo, hi)
        else:
            self.other_bounds.setdefault(key, (np.full(3, np.nan), np.full(3, np.nan)))


def _closed(ring: np.ndarray) -> bool:
    return bool((ring[0] == ring[-1]).all())


def _to_xyz(values: np.ndarray, dim: int, el: etree._Element | None = None) -> np.ndarray:
    if dim not in (2, 3):
        dim = 3
    if len(values) % dim:
        # srsDimension missing while the data is 2D (or the other way round)
        other = 2 if dim == 3 else 3
        if len(values) % other == 0:
            dim = other
        else:
            raise CoordinateError(f"{len(values)} numbers do not make {dim}D points")
    pts = values.reshape(-1, dim)
    if dim == 2:
        pts = np.column_stack([pts, np.zeros(len(pts))])
    return pts


def _numbers(text: str) -> np.ndarray:
    # str.split + one numpy conversion: as fast as np.fromstring, and it refuses bad tokens
    # instead of stopping silently at them
    try:
        return np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        snippet = text.strip()[:40]
        raise CoordinateError(f"not a list of numbers ({snippet!r}...)") from exc


def parse_coordinates(el: etree._Element, dim: int) -> np.ndarray:
    """``(k, 3)`` float64 points of one ``posList``, ``pos`` or ``coordinates`` element."""
    name = local_name(el.tag)
    own_dim = el.get("srsDimension")
    if own_dim and own_dim.isdigit():
        dim = int(own_dim)
    text = el.text or ""
    if name == "coordinates":
        cs, ts, dec = el.get("cs", ","), el.get("ts", " "), el.get("decimal", ".")
        tuples = [t for t in text.strip().split(ts if ts.strip() else None) if t]
        if not tuples:
            return np.zeros((0, 3))
        tdim = tuples[0].count(cs) + 1
        body = " ".join(tuples).replace(cs, " ")
        if dec != ".":
            body = body.replace(dec, ".")
        return _to_xyz(_numbers(body), tdim, el)
    if name == "pos":
        values = _numbers(text)
        return _to_xyz(values, len(values) if len(values) in (2, 3) else dim, el)
    return _to_xyz(_numbers(text), dim, el)


def ring_coordinates(ring_el: etree._Element, dim: int) -> np.ndarray:
    """Points of a ``LinearRing`` (posList, pos sequence or coordinates)."""
    own_dim = ring_el.get("srsDimension")
    if own_dim and own_dim.isdigit():
        dim = int(own_dim)
    parts = [c for c in ring_el if isinstance(c.tag, str) and local_name(c.tag) in _COORD_NAMES]
    if not parts:
        # a Ring made of curve members, or an empty ring
        parts = [c for c in ring_el.iter() if local_name(c.tag) in ("posList", "pos", "coordinates")]
    if len(parts) == 1:
        return parse_coordinates(parts[0], dim)
    arrays = [parse_coordinates(p, dim) for p in parts if local_name(p.tag) in ("posList", "pos", "coordinates")]
    return np.concatenate(arrays) if arrays else np.zeros((0, 3))


def resolve_refs(collector: GeometryCollector) -> list[Ref]:
    """Resolve the collector's references against its own ids; returns those left unresolved.

    A reference from the same object and LOD to a polygon already present only hands over the
    thematic surface row (a Solid pointing at the polygons of its WallSurfaces, or the other way
    round); otherwise the polygon is copied to the referencing object/LOD.
    """
    unresolved: list[Ref] = []
    polys = collector.polygons
    by_id = collector.by_id
    # (poly index, owner, lod) materialised by this resolution; spans only ever name polygons
    # parsed in the feature itself, so polygon i is also present for its own owner and LOD
    added: set[tuple[int, int, int]] = set()
    for ref in collector.refs:
        span = by_id.get(ref.target)
        if span is None:
            unresolved.append(ref)
            continue
        ctx = ref.ctx
        owner, lod = ctx.owner, ctx.lod
        for i in range(*span):
            p = polys[i]
            if (p.owner == owner and p.lod == lod) or (i, owner, lod) in added:
                if ctx.row >= 0 and p.row < 0:
                    p.row = ctx.row
                if ref.in_solid:
                    p.in_solid = True
                continue
            polys.append(_copy_for(p, ref))
            added.add((i, owner, lod))
    collector.refs = []
    return unresolved


def _copy_for(p: Polygon, ref: Ref) -> Polygon:
    """Polygon ``p`` materialised for the object/LOD of ``ref`` (geometry shared, not copied)."""
    ctx = ref.ctx
    return Polygon(p.rings, ctx.owner, ctx.lod, ctx.row if ctx.row >= 0 else p.row if p.owner == ctx.owner else -1,
                   p.flip != ctx.flip, p.srs if p.srs is not None else ctx.srs, p.gid, p.ring_ids, p.line,
                   ctx.hint or p.hint, ref.in_solid)


def add_polygons(collector: GeometryCollector, indices: Any, ref: Ref, source: list[Polygon]) -> None:
    """Materialise the polygons ``source[i]`` of another feature for ``ref``, a reference across
    features (within a feature, :func:`resolve_refs`)."""
    collector.polygons.extend(_copy_for(source[i], ref) for i in indices)
