"""Streaming CityGML 1.0 / 2.0 / 3.0 reader.

The document is parsed with lxml ``iterparse`` (no entities, no DTD, no network, huge text
nodes allowed); top-level members are handled in small batches as their end tags arrive and then
cleared with their preceding siblings, so memory stays flat however many features the file holds.
Polygons of a few hundred features are triangulated together (numpy work amortised), then cut
into one mesh per object and LOD.

References (xlink:href) to geometry are resolved within a feature when it ends. References to
geometry in another feature wait in a small table of unresolved ids: a later feature that defines
the id resolves them; ids defined by an earlier feature are fetched by one targeted extra pass at
the end (only when such references exist).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree

from ...crs import SceneCRS, parse_srs_name, transformer, utm_crs_for
from ...errors import CRSError, FormatError, LoadWarning
from ...gc_control import gc_paused
from ...progress import _NoProgress as _NoProgressType
from ...progress import progress as progress_bar
from ...scene import CityObject, Mesh, Scene, SceneSource, SurfaceTable
from ...scene.triangulate import PolygonBatch, triangulate
from .appearance import AppearanceStore
from .attributes import local_name
from .features import GML_NAMESPACES, FeatureParse, FeatureWalker, points_of_texts
from .geometry import GeometryCollector, GeometryContext, Polygon, Ref, add_polygons, resolve_refs
from .source import DocumentHead, FilePart, describe_non_citygml, open_counting, open_part, read_head

__all__ = ["CityGMLReader", "citygml_info", "iter_citygml", "read_citygml"]

_MEMBER_NAMES = ("cityObjectMember", "featureMember", "featureMembers", "appearanceMember",
                 "versionMember", "versionTransitionMember", "member")
#: Top-level members parsed ahead before they are processed and freed (see CityGMLReader._members).
MEMBER_BATCH = 64
#: ... or fewer when they are large (counted in source lines), so memory stays bounded.
MEMBER_BATCH_LINES = 20_000
#: At most this many warnings of one kind are kept; the rest are counted.
MAX_WARNINGS_PER_KIND = 200


@dataclass
class _Pending:
    """A feature whose geometry waits for references into other features."""

    parse: FeatureParse
    refs: list[Ref]


@dataclass
class _CRSState:
    """The CRS of the scene, decided at the first georeferenced geometry."""

    override: SceneCRS | None
    metric: bool  # move geographic input into a metric CRS (read) or keep it (info)
    source: SceneCRS | None = None
    scene: SceneCRS | None = None
    converters: dict[str | None, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    source_key: str | None = None
    missing: bool = False
    mismatched: set[str] = field(default_factory=set)


class CityGMLReader:
    """Reads one CityGML file (see the module docstring).

    Parameters
    ----------
    path:
        ``.gml``/``.xml`` file, gzipped or not.
    crs:
        CRS to use instead of what the file says (or for files that say nothing), e.g.
        ``"EPSG:4548"``.
    progress:
        Show a progress bar on stderr (None: only when stderr is a terminal).
    part:
        Read only this stretch of members of a plain (not gzipped) file, framed by the file's head
        and tail. Line numbers in warnings and errors then count the lines of that framed document.
    """

    def __init__(self, path: str | Path, *, crs: str | None = None, progress: bool | None = None,
                 part: FilePart | None = None) -> None:
        self.path = Path(path)
        self.part = part
        self.crs_option = crs
        self.progress = progress
        self.head: DocumentHead | None = None
        self.version: str | None = None
        self.warnings: list[LoadWarning] = []
        self._warning_kinds: Counter[str] = Counter()
        self.appearances = AppearanceStore()
        self._late_appearances = False
        self._features_seen = 0
        self._doc_dim = 3
        self._state: _CRSState | None = None  # CRS decisions of the current or last read
        self._doc_srs: str | None = None
        self._jacobians: dict[tuple[Any, ...], np.ndarray] = {}
        #: Features triangulated together (amortises numpy overhead; bounds memory).
        self.batch_features = 256

    # --- warnings --------------------------------------------------------------------------------
    def warn(self, message: str, *, line: int | None = None, object_id: str | None = None,
             hint: str | None = None, kind: str | None = None) -> None:
        kind = kind or message[:40]
        self._warning_kinds[kind] += 1
        if self._warning_kinds[kind] <= MAX_WARNINGS_PER_KIND:
            self.warnings.append(LoadWarning(message, path=str(self.path), line=line, object_id=object_id, hint=hint))

    def _summarise_warnings(self) -> None:
        for kind, n in self._warning_kinds.items():
            if n > MAX_WARNINGS_PER_KIND:
                self.warnings.append(LoadWarning(f"... and {n - MAX_WARNINGS_PER_KIND} more warnings like "
                                                 f"{kind!r}", path=str(self.path)))

    # --- document --------------------------------------------------------------------------------
    def _check_head(self) -> DocumentHead:
        if self.head is not None:
            return self.head
        head = read_head(self.path)
        what = describe_non_citygml(head)
        if what is not None:
            raise FormatError(
                f"this is {what}, not CityGML",
                path=self.path,
                hint="cim-twin reads CityGML 1.0/2.0/3.0 (root element CityModel in a CityGML "
                "namespace) and 3D Tiles",
            )
        self.head = head
        self.version = head.version
        if self.version == "0.4":
            self.warn("pre-standard CityGML 0.4 namespace (www.citygml.org/citygml/1/0/0); read as CityGML 1.0",
                      line=1, hint="convert the file to CityGML 2.0 or 3.0 for reliable results")
        return head

    def _crs_state(self, metric: bool) -> _CRSState:
        override = parse_srs_name(self.crs_option) if self.crs_option else None
        self._state = _CRSState(override=override, metric=metric)
        return self._state

    @property
    def scene_crs(self) -> SceneCRS | None:
        """The CRS of the objects read so far (decided at the first georeferenced geometry; None
        before it, or for a file without CRS). Callers streaming :meth:`iter_objects` read it as
        objects arrive."""
        return self._state.scene if self._state is not None else None

    def _members(self, on_read: Callable[[int], None] | None) -> Iterator[tuple[etree._Element, etree._Element]]:
        """Yield ``(root, top-level member)`` pairs, clearing each member after use."""
        # libxml2 reads a plain file itself fastest; a Python stream is needed for gzip and for
        # counting bytes for a progress bar
        stream: Any = (open_part(self.path, self.part) if self.part is not None
                       else open_counting(self.path, on_read) if on_read is not None or self._gzip() else None)
        source: Any = stream if stream is not None else str(self.path)
        tags = [f"{{*}}{n}" for n in _MEMBER_NAMES]
        root: etree._Element | None = None
        seen = 0
        try:
            context = etree.iterparse(
                source, events=("end",), tag=tags, resolve_entities=False, no_network=True, load_dtd=False,
                huge_tree=True, remove_comments=True, remove_pis=True, collect_ids=False,
            )
            # Members are handed out in small batches rather than one by one: parsing a stretch of
            # XML, then working on it, keeps each phase's data in the processor caches (measured on
            # LOD2 buildings: batches of 64 take ~20 % less time than one by one, ~3 % less than
            # batches of 256 whose trees no longer fit the caches). Memory stays bounded by the batch.
            batch: list[etree._Element] = []
            for _event, el in context:
                parent = el.getparent()
                if parent is None or parent.getparent() is not None:
                    continue  # a member inside a feature (e.g. an ADE), not top level
                root = parent
                seen += 1
                batch.append(el)
                if len(batch) >= MEMBER_BATCH or (el.sourceline or 0) - (batch[0].sourceline or 0) > MEMBER_BATCH_LINES:
                    yield from self._hand_out(root, batch)
                    batch = []
            if batch and root is not None:
                yield from self._hand_out(root, batch)
            root = context.root
            if seen == 0 and root is not None and local_name(root.tag) != "CityModel":
                # a document whose root is a single feature
                yield root, root
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (exc.lineno, None)
            raise FormatError(f"not well-formed XML: {exc.msg}", path=self.path, line=line, column=column,
                              hint="the file is damaged or truncated; check how it was written") from exc
        except (OSError, EOFError) as exc:
            raise FormatError(f"cannot read file: {exc}", path=self.path,
                              hint="a .gz file may be truncated") from exc
        finally:
            if stream is not None:
                stream.close()

    @staticmethod
    def _hand_out(root: etree._Element, batch: list[etree._Element]) -> Iterator[tuple[etree._Element, etree._Element]]:
        """Yield the members of a batch, then free them and everything before them."""
        for el in batch:
            yield root, el
        for el in batch:
            el.clear(keep_tail=False)
        last = batch[-1]
        while last.getprevious() is not None:
            del root[0]

    def _gzip(self) -> bool:
        return bool(self.head is not None and self.head.gzip)

    def _root_defaults(self, root: etree._Element) -> tuple[str, str | None, int]:
        """GML namespace, srsName and srsDimension from the root element and its envelope."""
        gml_ns = "http://www.opengis.net/gml"
        for uri in (root.nsmap or {}).values():
            if uri in GML_NAMESPACES:
                gml_ns = uri
                if uri.endswith("3.2"):
                    break
        srs, dim = None, 3
        for child in root:
            if isinstance(child.tag, str) and local_name(child.tag) == "boundedBy":
                for env in child:
                    if isinstance(env.tag, str):
                        srs = env.get("srsName") or srs
                        d = env.get("srsDimension")
                        if d and d.isdigit():
                            dim = int(d)
                break
        return gml_ns, srs, dim

    def _feature_elements(self, member: etree._Element) -> Iterator[etree._Element]:
        if member is not None and local_name(member.tag) not in _MEMBER_NAMES:
            yield member
            return
        href = member.get("{http://www.w3.org/1999/xlink}href")
        if href is not None and not len(member):
            return
        found = False
        for child in member:
            if isinstance(child.tag, str):
                found = True
                yield child
        if not found:
            self.warn(f"empty {local_name(member.tag)} (no feature inside)", line=member.sourceline,
                      kind="empty-member")

    # --- CRS -------------------------------------------------------------------------------------
    def _converter(self, state: _CRSState, srs: str | None, sample: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
        """A function taking ``(k, 3)`` source points to scene coordinates for geometry in ``srs``."""
        if srs in state.converters:
            return state.converters[srs]
        if state.override is not None:
            src = state.override
        elif srs is None:
            if state.source is not None:
                # geometry without srsName in a document that stated one elsewhere
                func = self._converter(state, state.source_key, sample)
                state.converters[None] = func
                return func
            state.missing = True
            return _identity
        else:
            src = parse_srs_name(srs)
        swap = src.lat_first
        if swap and sample is not None and len(sample) and abs(sample[0, 0]) > 90 >= abs(sample[0, 1]):
            # a "latitude" beyond 90 degrees: the file writes longitude first despite its srsName
            swap = False
            self.warn(f"coordinates in {src.name} are written longitude first although the CRS "
                      "lists latitude first; read as longitude, latitude", kind="axis-order")
        if state.source is None:
            state.source = src
            state.source_key = srs
            state.scene = src
            if src.is_local:
                self.warn(f"local engineering CRS {src.name!r}: the model cannot be placed on the globe "
                          "(extent_wgs84 is null)", hint="give the real CRS with --crs EPSG:n", kind="local-crs")
            elif src.is_geographic and state.metric:
                pts = sample if sample is not None and len(sample) and not np.isnan(sample).any() else None
                if pts is None:
                    # the UTM zone needs a first point: decide with the next geometry
                    state.source = state.scene = state.source_key = None
                    return _identity
                else:
                    lon, lat = (pts[0, 1], pts[0, 0]) if swap else (pts[0, 0], pts[0, 1])
                    lon, lat = transformer(src.horizontal_key, "EPSG:4326").transform(float(lon), float(lat))
                    utm = utm_crs_for(float(lon), float(lat))
                    state.scene = SceneCRS(name=utm.name, horizontal_epsg=utm.horizontal_epsg,
                                           vertical_epsg=src.vertical_epsg, srs_name=utm.srs_name, crs=utm.crs)
        scene = state.scene
        assert scene is not None
        if src.name == scene.name or (src.is_local and scene.is_local):
            func = _swap if swap else _identity
        elif src.is_local or scene.is_local:
            if src.name not in state.mismatched:
                state.mismatched.add(src.name)
                self.warn(f"geometry in {src.name} cannot be put into the scene CRS {scene.name}; used as given",
                          kind="crs-mismatch")
            func = _identity
        else:
            tr = transformer(src.horizontal_key, scene.horizontal_key)

            def func(points: np.ndarray, _tr: Any = tr, _swap: bool = swap) -> np.ndarray:
                if not len(points):
                    return points
                x, y = (points[:, 1], points[:, 0]) if _swap else (points[:, 0], points[:, 1])
                tx, ty = _tr.transform(x, y)
                return np.column_stack([tx, ty, points[:, 2]])

        state.converters[srs] = func
        return func

    # --- the pass --------------------------------------------------------------------------------
    def _iterate(self, *, bounds_only: bool, state: _CRSState, bar: Any = None) -> Iterator[FeatureParse]:
        self._check_head()
        walker: FeatureWalker | None = None
        on_read = bar.update if bar is not None and not isinstance(bar, _NoProgressType) else None
        for root, member in self._members(on_read):
            if walker is None:
                gml_ns, srs, dim = self._root_defaults(root)
                self._doc_dim = dim
                self._doc_srs = srs
                walker = FeatureWalker(gml_ns, srs, dim, self.appearances, bounds_only=bounds_only)
            is_appearance = local_name(member.tag) == "appearanceMember"
            for el in self._feature_elements(member):
                if is_appearance or local_name(el.tag) == "Appearance":
                    if not bounds_only:
                        if self._features_seen:
                            self._late_appearances = True
                        self.appearances.add_appearance(el)
                    continue
                self._features_seen += 1
                try:
                    fp = walker.parse(el)
                except (CRSError, MemoryError):
                    raise
                except Exception as exc:  # one broken object never loses the others
                    self.warn(f"object could not be read and was skipped ({type(exc).__name__}: {exc})",
                              line=el.sourceline, object_id=el.get(walker.gml_id), kind="broken-object")
                    continue
                yield fp

    def _warn_missing_crs(self, state: _CRSState) -> None:
        if state.source is None and state.override is None and state.missing:
            self.warn("the file states no CRS (no srsName); coordinates are used as given and the "
                      "WGS84 extent is unknown", hint="give the CRS with --crs EPSG:n", kind="no-crs")

    def _issues(self, fp: FeatureParse) -> None:
        for message, line, gid in fp.collector.issues:
            self.warn(message, line=line, object_id=gid or fp.root.id, kind=message[:30])
        fp.collector.issues.clear()

    # --- reading ---------------------------------------------------------------------------------
    def iter_objects(self, *, _state: _CRSState | None = None) -> Iterator[CityObject]:
        """Top-level city objects with triangulated geometry, one at a time (memory stays flat;
        objects whose geometry references a later feature come when it has been read)."""
        state = _state or self._crs_state(metric=True)
        pending: dict[str, list[tuple[_Pending, Ref]]] = {}
        waiting: list[_Pending] = []
        bar = progress_bar(self._file_size(), desc=self.path.name, unit="B", unit_scale=True, enabled=self.progress)
        ready: list[FeatureParse] = []
        try:
            for fp in self._iterate(bounds_only=False, state=state, bar=bar):
                self._issues(fp)
                unresolved = resolve_refs(fp.collector)
                if pending:
                    self._resolve_pending(fp, pending)
                    for w in [w for w in waiting if not w.refs]:
                        waiting.remove(w)
                        ready.append(w.parse)
                if unresolved:
                    entry = _Pending(fp, unresolved)
                    waiting.append(entry)
                    for ref in unresolved:
                        pending.setdefault(ref.target, []).append((entry, ref))
                else:
                    ready.append(fp)
                if len(ready) >= self.batch_features:
                    yield from self._finish_batch(ready, state)
                    ready = []
            yield from self._finish_batch(ready, state)
        finally:
            bar.close()
        if waiting:
            self._resolve_backwards(pending, state)
            for w in waiting:
                for ref in w.refs:
                    self.warn(f"xlink:href #{ref.target} points to no geometry in the file; ignored",
                              line=ref.line, object_id=w.parse.root.id, kind="unresolved-xlink")
            yield from self._finish_batch([w.parse for w in waiting], state)
        self._warn_missing_crs(state)
        self._summarise_warnings()

    def _resolve_pending(self, fp: FeatureParse, pending: dict[str, list[tuple[_Pending, Ref]]]) -> None:
        for target in [t for t in pending if t in fp.collector.by_id]:
            span = fp.collector.by_id[target]
            for entry, ref in pending.pop(target):
                add_polygons(entry.parse.collector, range(*span), ref, fp.collector.polygons)
                entry.refs.remove(ref)

    def _resolve_backwards(self, pending: dict[str, list[tuple[_Pending, Ref]]], state: _CRSState) -> None:
        """One extra pass for ids defined before the features that reference them."""
        if not pending:
            return
        walker: FeatureWalker | None = None
        for root, member in self._members(None):
            if walker is None:
                gml_ns, srs, dim = self._root_defaults(root)
                walker = FeatureWalker(gml_ns, srs, dim, None)
            for el in member.iter():
                gid = el.get(walker.gml_id) if isinstance(el.tag, str) else None
                if gid is None or gid not in pending:
                    continue
                sub = GeometryCollector(walker.gml_id)
                sub.parse_geometry(el, GeometryContext(0, 0, -1, False, srs, dim))
                for entry, ref in pending.pop(gid):
                    add_polygons(entry.parse.collector, range(len(sub.polygons)), ref, sub.polygons)
                    entry.refs.remove(ref)
            if not pending:
                return

    def _file_size(self) -> int | None:
        try:
            return self.path.stat().st_size
        except OSError:
            return None

    def _finish_batch(self, fps: list[FeatureParse], state: _CRSState) -> list[CityObject]:
        """Triangulate the polygons of several features at once (numpy work amortised over the
        batch), then cut the result into one mesh per object and LOD."""
        if not fps:
            return []
        store = self.appearances
        groups: list[tuple[FeatureParse, int, int, list[Polygon]]] = []
        all_rings: list[list[np.ndarray]] = []
        # polygons (indices into all_rings) by converter: converted with one call per batch
        to_convert: dict[Callable[[np.ndarray], np.ndarray], list[int]] = {}
        for fp in fps:
            collector = fp.collector
            if not store.empty:
                _apply_aggregate_targets(collector, store)
            for lo, _hi in collector.other_bounds.values():
                # points and curves only: they still say which CRS the document uses
                if state.source is None:
                    self._converter(state, fp.srs, lo[None, :])
            by_key: dict[tuple[int, int], list[tuple[Polygon, Callable[[np.ndarray], np.ndarray]]]] = {}
            refused: set[str | None] = set()
            for poly in collector.polygons:
                srs = poly.srs if poly.srs is not None else fp.srs
                conv = state.converters.get(srs)
                if conv is None:
                    if srs in refused:
                        continue
                    try:
                        conv = self._converter(state, srs, poly.rings[0])
                    except CRSError as exc:
                        if srs == self._doc_srs:
                            raise
                        # one object in an unknown CRS: that geometry is dropped, the rest loads
                        refused.add(srs)
                        self.warn(f"geometry skipped: {exc.message}", line=poly.line,
                                  object_id=fp.objects[poly.owner].id, hint=exc.hint, kind="crs-refused")
                        continue
                by_key.setdefault((poly.owner, poly.lod), []).append((poly, conv))
            for (owner, lod), pairs in by_key.items():
                if (owner, lod) in collector.solids and not all(p.in_solid for p, _ in pairs):
                    # the Solid's polygons first, so its triangles form a prefix (Mesh.solid_triangles)
                    pairs.sort(key=lambda pc: not pc[0].in_solid)
                polys = [p for p, _ in pairs]
                groups.append((fp, owner, lod, polys))
                for poly, conv in pairs:
                    if conv is not _identity:
                        to_convert.setdefault(conv, []).append(len(all_rings))
                    all_rings.append([r[::-1] for r in poly.rings] if poly.flip else poly.rings)
        for conv, indices in to_convert.items():
            _convert_rings(all_rings, indices, conv)
        if all_rings:
            batch = PolygonBatch.from_rings(all_rings)
            tri = triangulate(batch)
            n_v = len(batch.vertices)
            poly_vstart = np.append(batch.ring_start[batch.poly_ring_start], n_v)
            sizes = np.array([len(g[3]) for g in groups], dtype=np.int64)
            group_pstart = np.concatenate([[0], np.cumsum(sizes)])
            tri_bounds = np.searchsorted(tri.polygon, group_pstart)
            degenerate_group = np.searchsorted(group_pstart, tri.degenerate, side="right") - 1
            for p, g in zip(tri.degenerate, degenerate_group, strict=True):
                fp, owner, _lod, polys = groups[int(g)]
                poly = polys[int(p - group_pstart[g])]
                self.warn("degenerate polygon (fewer than 3 distinct points or no area) skipped", line=poly.line,
                          object_id=poly.gid or fp.objects[owner].id, kind="degenerate polygon")
            # per polygon: its surface row in its mesh's table and its semantic type (tables built
            # per object, the per-triangle arrays for the whole batch at once)
            tables: list[SurfaceTable | None] = []
            poly_rows: list[int] = []
            poly_sems: list[int] = []
            for fp, owner, lod, polys in groups:
                table: SurfaceTable | None
                try:
                    table, rows_of, sems = _surface_table(polys, fp.rows[owner])
                except MemoryError:
                    raise
                except Exception as exc:
                    self._broken_geometry(fp.objects[owner], lod, exc)
                    table, rows_of, sems = None, [-1] * len(polys), [0] * len(polys)
                tables.append(table)
                poly_rows.extend(rows_of)
                poly_sems.extend(sems)
            tri_group = np.searchsorted(group_pstart, tri.polygon, side="right") - 1
            local_triangles = (tri.triangles - poly_vstart[group_pstart[tri_group]][:, None]).astype(np.int32)
            local_polygon = tri.polygon - group_pstart[tri_group]
            tri_semantics = np.array(poly_sems, dtype=np.uint8)[tri.polygon]
            tri_rows = np.array(poly_rows, dtype=np.int32)[tri.polygon]
            for gi, (fp, owner, lod, polys) in enumerate(groups):
                t0, t1 = int(tri_bounds[gi]), int(tri_bounds[gi + 1])
                if t1 <= t0 or tables[gi] is None:
                    continue
                p0, p1 = int(group_pstart[gi]), int(group_pstart[gi + 1])
                v0, v1 = int(poly_vstart[p0]), int(poly_vstart[p1])
                solid_polys = sum(1 for p in polys if p.in_solid) if (owner, lod) in fp.collector.solids else 0
                tri_poly = local_polygon[t0:t1]
                mesh = Mesh(
                    vertices=batch.vertices[v0:v1],
                    triangles=local_triangles[t0:t1],
                    semantics=tri_semantics[t0:t1],
                    surface_index=tri_rows[t0:t1],
                    surfaces=tables[gi],
                    solid_closed=solid_polys > 0,
                    solid_triangles=int(np.searchsorted(tri_poly, solid_polys)) if 0 < solid_polys < len(polys) else None,
                )
                obj = fp.objects[owner]
                if not store.empty:
                    try:
                        self._appearance_arrays(mesh, polys, batch, tri_poly, p0, v0)
                    except MemoryError:
                        raise
                    except Exception as exc:
                        self._broken_geometry(obj, lod, exc)
                        continue
                obj.geometry[lod] = mesh
        out = []
        for fp in fps:
            if fp.local_appearance_keys:
                store.forget(fp.local_appearance_keys)
            fp.root.invalidate()
            out.append(fp.root)
        return out

    def _broken_geometry(self, obj: CityObject, lod: int, exc: Exception) -> None:
        """One LOD of ``obj`` could not be built: a warning; the object keeps its other LODs and
        its attributes."""
        self.warn(f"LOD{lod} geometry could not be built ({type(exc).__name__}: {exc})",
                  line=obj.source_line, object_id=obj.id, kind="broken-geometry")

    def _appearance_arrays(self, mesh: Mesh, polys: list[Polygon], batch: PolygonBatch, tri_poly: np.ndarray,
                           p0: int, v0: int) -> None:
        store = self.appearances
        n_poly = len(polys)
        tex = np.full(n_poly, -1, dtype=np.int32)
        mat = np.full(n_poly, -1, dtype=np.int32)
        uv = None
        n_v = len(batch.vertices)
        for i, poly in enumerate(polys):
            if poly.gid is not None:
                tex[i] = store.target_texture.get(poly.gid, -1)
                mat[i] = store.target_material.get(poly.gid, -1)
            if tex[i] < 0:
                continue
            first_ring = int(batch.poly_ring_start[p0 + i])
            for k, rid in enumerate(poly.ring_ids):
                coords = store.ring_uv.get(rid) if rid is not None else None
                if coords is None:
                    continue
                r = first_ring + k
                start = int(batch.ring_start[r])
                end = int(batch.ring_start[r + 1]) if r + 1 < len(batch.ring_start) else n_v
                n = end - start
                if len(coords) == n + 1:
                    coords = coords[:-1]
                if len(coords) != n:
                    continue
                if uv is None:
                    uv = np.zeros((len(mesh.vertices), 2), dtype=np.float32)
                uv[start - v0:end - v0] = coords[::-1] if poly.flip else coords
        if (tex >= 0).any():
            mesh.texture_index = tex[tri_poly]
            mesh.uv = uv if uv is not None else np.zeros((len(mesh.vertices), 2), dtype=np.float32)
        if (mat >= 0).any():
            mesh.material_index = mat[tri_poly]

    def read(self) -> Scene:
        """The whole file as a :class:`Scene` with triangulated geometry.

        Raises
        ------
        FormatError, UnsafeInputError, CRSError
            for files that are not (safe, well-formed) CityGML or name an unknown CRS.
        """
        with gc_paused():
            state = self._crs_state(metric=True)
            scene = self._read_pass(state)
            if self._late_appearances and not self.appearances.empty:
                # appearances that came after the features they style: a second pass applies them
                self.warnings.clear()
                self._warning_kinds.clear()
                self._features_seen = 0
                state = self._crs_state(metric=True)
                scene = self._read_pass(state, keep_appearances=True)
        return scene

    def _read_pass(self, state: _CRSState, *, keep_appearances: bool = False) -> Scene:
        if not keep_appearances:
            self.appearances = AppearanceStore()
        scene = Scene()
        objects = list(self.iter_objects(_state=state))
        scene.crs = state.scene
        scene.source_crs = state.source or state.scene
        scene.sources.append(SceneSource(path=str(self.path), format="citygml", version=self.version,
                                         size_bytes=self._file_size()))
        # objects that waited for geometry in later features come out late: keep file order
        objects.sort(key=lambda o: o.source_line or 0)
        for obj in objects:
            scene.add(obj)
        scene.textures = list(self.appearances.textures)
        scene.materials = list(self.appearances.materials)
        if self.appearances.skipped_themes:
            self.warn("appearance themes not kept (one theme per mesh): "
                      + ", ".join(sorted(t or "(no theme)" for t in self.appearances.skipped_themes)),
                      kind="themes")
        if self.appearances.georeferenced_textures:
            self.warn(f"{self.appearances.georeferenced_textures} georeferenced texture(s) not applied",
                      kind="georef-textures")
        scene.warnings = scene.warnings + self.warnings
        return scene

    # --- info --------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        with gc_paused():
            return self._info()

    def _info(self) -> dict[str, Any]:
        """The ``cim-twin info`` report, computed in one streaming pass without building meshes.

        Coordinates of a few features at a time are parsed in one numpy call; for the WGS84
        extent each batch contributes its extreme points in the directions of growing longitude
        and latitude (the local gradient of the CRS), so the extent is that of the vertices, not
        of rotated boxes.
        """
        state = self._crs_state(metric=False)
        counts: Counter[str] = Counter()
        lods: set[int] = set()
        attributes: set[str] = set()
        # boxes in the source CRS (after axis order / srsName conversion), and points for WGS84
        lows: list[np.ndarray] = []
        highs: list[np.ndarray] = []
        extreme_points: list[np.ndarray] = []
        odd_boxes: list[tuple[str | None, np.ndarray, np.ndarray]] = []
        n_features = 0
        pending_texts: list[str] = []
        pending_srs: str | None = None
        pending_n = 0

        def flush() -> None:
            nonlocal pending_texts, pending_n
            if pending_texts:
                issues: list[tuple[str, int | None, str | None]] = []
                pts = points_of_texts(pending_texts, self._doc_dim, issues)
                for message, line, gid in issues:
                    self.warn(message, line=line, object_id=gid, kind=message[:30])
                if pts is not None:
                    conv = self._converter_or_warn(state, pending_srs, pts[:1])
                    if conv is None:
                        pending_texts, pending_n = [], 0
                        return
                    pts = conv(pts)
                    lows.append(pts.min(axis=0))
                    highs.append(pts.max(axis=0))
                    extreme_points.append(self._extreme_points(state, pts))
            pending_texts, pending_n = [], 0

        bar = progress_bar(self._file_size(), desc=self.path.name, unit="B", unit_scale=True, enabled=self.progress)
        try:
            for fp in self._iterate(bounds_only=True, state=state, bar=bar):
                n_features += 1
                if fp.coord_texts:
                    if pending_texts and fp.srs != pending_srs:
                        flush()
                    pending_texts.extend(fp.coord_texts)
                    pending_srs = fp.srs
                    pending_n += 1
                    if pending_n >= 32:
                        flush()
                self._issues(fp)
                lods.update(fp.lods)
                for obj in fp.objects:
                    counts[obj.kind] += 1
                attributes.update(fp.attribute_names)
                for box in fp.bounds:
                    if box is not None and not (np.isnan(box[0]).any() or np.isnan(box[1]).any()):
                        odd_boxes.append((fp.srs, box[0], box[1]))
            flush()
        finally:
            bar.close()
        for srs, lo, hi in odd_boxes:
            conv = self._converter_or_warn(state, srs, lo[None, :])
            if conv is None:
                continue
            a, b = conv(np.array([lo, hi]))
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            lows.append(lo)
            highs.append(hi)
            extreme_points.append(np.array([[x, y, lo[2]] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]))
        self._warn_missing_crs(state)
        self._summarise_warnings()
        src = state.source
        extent = extent_wgs84 = None
        if lows:
            lo, hi = np.min(lows, axis=0), np.max(highs, axis=0)
            extent = [*map(float, lo), *map(float, hi)]
            if src is not None and not src.is_local:
                pts = np.concatenate(extreme_points)
                lon, lat, _ = src.to_wgs84(pts[:, 0], pts[:, 1], pts[:, 2])
                # heights pass through the horizontal transform unchanged
                extent_wgs84 = [float(lon.min()), float(lat.min()), float(lo[2]),
                                float(lon.max()), float(lat.max()), float(hi[2])]
        return {
            "format": "citygml",
            "version": self.version,
            "path": str(self.path),
            "crs": src.name if src is not None else None,
            "vertical_datum": src.vertical_datum if src is not None and not src.is_local else None,
            "counts": dict(sorted(counts.items())),
            "features": n_features,
            "lods": sorted(lods),
            "extent": extent,
            "extent_wgs84": extent_wgs84,
            "attributes": sorted(attributes),
            "warnings": [str(w) for w in self.warnings],
        }

    def _converter_or_warn(self, state: _CRSState, srs: str | None, sample: np.ndarray
                           ) -> Callable[[np.ndarray], np.ndarray] | None:
        """:meth:`_converter`, but an unknown srsName other than the document's is a warning."""
        try:
            return self._converter(state, srs, sample)
        except CRSError as exc:
            if srs == self._doc_srs:
                raise
            self.warn(f"geometry skipped: {exc.message}", hint=exc.hint, kind="crs-refused")
            return None

    def _extreme_points(self, state: _CRSState, pts: np.ndarray) -> np.ndarray:
        """The points of ``pts`` (source CRS) farthest in the directions of growing and falling
        longitude and latitude, from the CRS's local gradient at their centre."""
        src = state.source
        if src is None or src.is_local or len(pts) <= 4:
            return pts
        centre = pts[:, :2].mean(axis=0)
        step = 1e-5 if src.is_geographic else 1.0
        # the gradient turns slowly: one per 1 km (0.01 degree) cell is plenty
        cell = (src.name, *np.floor(centre / (step * 1000)).astype(int).tolist())
        jacobian = self._jacobians.get(cell)
        if jacobian is None:
            tr = transformer(src.horizontal_key, "EPSG:4326")
            lon, lat = tr.transform(centre[0] + np.array([0.0, step, 0.0]), centre[1] + np.array([0.0, 0.0, step]))
            jacobian = np.array([[lon[1] - lon[0], lon[2] - lon[0]], [lat[1] - lat[0], lat[2] - lat[0]]])
            self._jacobians[cell] = jacobian
        along = pts[:, :2] @ jacobian.T
        pick = [int(along[:, 0].argmin()), int(along[:, 0].argmax()), int(along[:, 1].argmin()),
                int(along[:, 1].argmax())]
        return pts[pick]


def _surface_table(polys: list[Polygon], rows: list[Any]) -> tuple[SurfaceTable, list[int], list[int]]:
    """The surface table of one mesh made of ``polys`` (the object's thematic surface rows they use,
    and the walls or roofs holding used openings), and per polygon its row in that table (-1 none)
    and its semantic type (the surface's, else the polygon's hint)."""
    poly_rows = [p.row for p in polys]
    used = {r for r in poly_rows if r >= 0}
    if not used:
        return SurfaceTable(), poly_rows, [p.hint for p in polys]
    # keep parents of openings so the table can say which wall holds a window
    extra: set[int] = set()
    for r in used:
        parent = rows[r].parent
        while parent >= 0 and parent not in extra and parent not in used:
            extra.add(parent)
            parent = rows[parent].parent
    keep = sorted(used | extra)
    remap = {old: new for new, old in enumerate(keep)}
    kept = [rows[r] for r in keep]
    table = SurfaceTable(
        ids=[row.id for row in kept],
        types=np.array([row.type for row in kept], dtype=np.uint8),
        parent=np.array([remap.get(row.parent, -1) for row in kept], dtype=np.int32),
        attributes=[row.attributes for row in kept],
    )
    sems = [(rows[r].type or p.hint) if r >= 0 else p.hint for r, p in zip(poly_rows, polys, strict=True)]
    return table, [remap[r] if r >= 0 else -1 for r in poly_rows], sems


def _convert_rings(all_rings: list[list[np.ndarray]], indices: list[int],
                   conv: Callable[[np.ndarray], np.ndarray]) -> None:
    """Replace the rings of the polygons ``indices`` by their converted points, with one call of
    ``conv`` (a point-wise CRS conversion) for all of them: pyproj's cost is mostly per call."""
    rings = [r for i in indices for r in all_rings[i]]
    if not rings:
        return
    counts = np.fromiter((len(r) for r in rings), dtype=np.int64, count=len(rings))
    converted = conv(np.concatenate(rings))
    parts = np.split(converted, np.cumsum(counts)[:-1])
    k = 0
    for i in indices:
        n = len(all_rings[i])
        all_rings[i] = parts[k : k + n]
        k += n


def _identity(points: np.ndarray) -> np.ndarray:
    return points


def _swap(points: np.ndarray) -> np.ndarray:
    return points[:, [1, 0, 2]] if len(points) else points


def _apply_aggregate_targets(collector: GeometryCollector, store: AppearanceStore) -> None:
    """Appearance targets naming a surface aggregate (MultiSurface, Solid) style its polygons."""
    for gid, (start, end) in collector.by_id.items():
        if end - start <= 1 and start < len(collector.polygons) and collector.polygons[start].gid == gid:
            continue
        tex = store.target_texture.get(gid)
        mat = store.target_material.get(gid)
        if tex is None and mat is None:
            continue
        for poly in collector.polygons[start:end]:
            if poly.gid is None:
                continue
            if tex is not None:
                store.target_texture.setdefault(poly.gid, tex)
            if mat is not None:
                store.target_material.setdefault(poly.gid, mat)


# --- functional front ---------------------------------------------------------------------------------
def read_citygml(path: str | Path, *, crs: str | None = None, progress: bool | None = None,
                 require_crs: bool = False, **_: Any) -> Scene:
    """Read a CityGML file into a :class:`Scene` (see :class:`CityGMLReader`).

    ``require_crs=True`` raises :class:`CRSError` when the file states no CRS and none was given.
    """
    scene = CityGMLReader(path, crs=crs, progress=progress).read()
    if require_crs and (scene.crs is None or scene.crs.is_local):
        raise CRSError("the file states no usable CRS", path=path, hint="give the CRS with --crs EPSG:n")
    return scene


def iter_citygml(path: str | Path, *, crs: str | None = None, progress: bool | None = None,
                 **_: Any) -> tuple[dict[str, Any], Iterator[CityObject]]:
    """Stream the top-level objects of a CityGML file: ``(header, iterator)``."""
    reader = CityGMLReader(path, crs=crs, progress=progress)
    head = reader._check_head()
    header = {"format": "citygml", "version": head.version, "path": str(path), "warnings": reader.warnings}
    return header, reader.iter_objects()


def citygml_info(path: str | Path, *, crs: str | None = None, progress: bool | None = None,
                 **_: Any) -> dict[str, Any]:
    """The ``cim-twin info`` report of a CityGML file (streaming)."""
    return CityGMLReader(path, crs=crs, progress=progress).info()
