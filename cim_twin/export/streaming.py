"""Streaming export of a large CityGML file, on every core, in flat memory.

A city of 100k LOD2 buildings (about 700 MB of CityGML) does not fit a Scene in memory comfortably,
so a plain CityGML source takes this path:

1. **Split**: the file is cut into byte ranges at ``cityObjectMember`` start tags (members never
   nest, so every range holds whole members). Each range is read as a well-formed document of its
   own: the file's head (root element, namespaces, envelope) + the range + the closing root tag,
   streamed from the file (``FilePart``), not copied.
2. **Parse** (one worker process per range, ``processes`` at a time): the project's CityGML reader
   streams the range's objects; each building becomes its flattened properties and its geometry in
   the export frame (ENU metres) plus its LOD1 block, *spilled* to the range's scratch files (rows
   pickled; vertices, triangles and block vertices as raw arrays). Only a summary per building
   (bounds, triangle count, size, block error, its counts in the spill files) and the column
   statistics go back to the main process.
3. **Tile**: the main process derives the schema from the merged statistics, colours, and builds the
   tile tree from the summaries (exactly as the in-memory path does).
4. **Write** (worker processes over tiles): each tile gathers its buildings' geometry from the
   memory-mapped spill files with one index array per range and kind (numpy only, no Python work
   per building or vertex), unpickles their property rows, and writes its glb/b3dm (the geometry
   built once for both 3D Tiles versions).

Python's cyclic collector runs rarely throughout (``gc_rare``: it otherwise took a tenth of the
time, passing over millions of short-lived objects), and the workers fork from a frozen heap
(``frozen_for_fork``), so their collections never copy the pages they share with the main process.

The in-memory path and this one share every step that decides bytes (rows, schema, frame, blocks,
tree, tile content), so both give byte-identical tiles for the same file.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import pickle
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CimTwinError, ExportError, FormatError
from ..gc_control import frozen_for_fork, gc_rare
from ..io.citygml.source import FilePart
from ..progress import progress
from ..serialization import dumps_pretty
from .audit import sample_order
from .buildings import (
    CLASS_ID,
    SCHEMA_ID,
    building_row,
    color_column,
    encode_tile,
    extent_of,
    feature_geometries,
    frame_for,
    source_attribute_names,
    tile_path,
    tileset_json,
)
from .features import ColumnStats, PropertyTable, property_id
from .georef import LocalFrame, placed_crs
from .gltf import MeshContent, metadata_schema
from .run import RunData, findings_by_object, run_info_for
from .style import color_buildings
from .tiling import (
    Blocks,
    FeatureSummary,
    TileNode,
    block_triangle_counts,
    block_triangles,
    build_tree,
    mesh_content,
    shown_as_itself,
)

__all__ = ["STREAM_THRESHOLD_BYTES", "export_citygml_streaming", "split_member_ranges"]

#: CityGML files above this size take the streaming path (smaller ones are read into a Scene).
STREAM_THRESHOLD_BYTES = 64 * 1024 * 1024
AUDIT_SAMPLE = 200
_BATCH = 256
_MEMBER = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?cityObjectMember)[\s>/]")


def split_member_ranges(path: Path, parts: int) -> tuple[bytes, bytes, list[tuple[int, int]]]:
    """Head bytes, tail bytes and ``parts`` byte ranges of whole ``cityObjectMember`` elements.

    Raises
    ------
    FormatError
        when no ``cityObjectMember`` is found or the file has no closing root tag.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = b""
        match = None
        while match is None and len(head) < min(size, 256 * 1024 * 1024):
            head += fh.read(1 << 20)
            match = _MEMBER.search(head)
            if len(head) >= size:
                break
        if match is None:
            raise FormatError("no cityObjectMember found", path=path, hint="is this a CityGML city model?")
        qname = match.group(1)
        body_start = match.start()
        fh.seek(max(0, size - 65536))
        tail = fh.read()
        root = re.search(rb"<([A-Za-z_][\w.:-]*)[\s>]", re.sub(rb"<[?!][^>]*>", b"", head[:body_start]))
        end_tag = tail.rfind(b"</")
        closing = re.match(rb"</([A-Za-z_][\w.:-]*)\s*>\s*$", tail[end_tag:]) if end_tag >= 0 else None
        if root is None or closing is None or closing.group(1) != root.group(1):
            name = root.group(1).decode(errors="replace") if root else "root"
            raise FormatError(f"the file does not end with its closing root tag </{name}> (truncated?)", path=path,
                              hint="the file is incomplete; copy or export it again")
        body_end = size - len(tail) + end_tag
        if body_end <= body_start:
            raise FormatError("the file ends before its first city object (truncated?)", path=path)
        starts = [body_start]
        pattern = re.compile(b"<" + re.escape(qname) + rb"[\s>/]")
        for k in range(1, parts):
            pos = body_start + (body_end - body_start) * k // parts
            fh.seek(pos)
            found = None
            window = b""
            while found is None and pos + len(window) < body_end:
                window += fh.read(1 << 20)
                found = pattern.search(window)
            if found is not None and pos + found.start() < body_end:
                starts.append(pos + found.start())
    starts = sorted(set(starts))
    ranges = [(a, b) for a, b in zip(starts, [*starts[1:], body_end], strict=True)]
    return head[:body_start], tail[end_tag:], ranges


@dataclass
class _Job:
    """What every worker knows (inherited through fork)."""

    path: Path
    head: bytes
    tail: bytes
    ranges: list[tuple[int, int]]
    scratch: Path
    crs_option: str | None
    geoid_height_m: float | None = None
    frame: LocalFrame | None = None
    run: RunData | None = None
    index: dict[str, list[int]] = field(default_factory=dict)
    color_names: tuple[str, ...] = ()
    # tile phase
    columns: list[Any] = field(default_factory=list)
    colors: np.ndarray | None = None
    #: per part: the key tuples (signatures) its spilled rows refer to by number
    signatures: list[list[tuple[str, ...]]] = field(default_factory=list)
    #: per building: its part, and where its row, vertices, triangles and block vertices start in the
    #: part's spill files (in bytes for rows, in array rows for the others) and how many there are
    record_chunk: np.ndarray | None = None
    record_start: np.ndarray | None = None
    record_count: np.ndarray | None = None
    schema: dict[str, Any] = field(default_factory=dict)
    versions: tuple[str, ...] = ()
    out: Path | None = None


_JOB: _Job | None = None
log = logging.getLogger(__name__)
#: Seconds per phase of the last streaming export (split, first, parse, tree, tiles, finish).
last_timings: dict[str, float] = {}


@dataclass
class _ChunkResult:
    index: int
    ids: list[str]
    summary: FeatureSummary
    #: per building: row bytes, vertices, triangles, block vertices in the spill files
    spilled: np.ndarray
    signatures: list[tuple[str, ...]]
    stats: ColumnStats
    units: dict[str, str]
    groups: dict[str, str]
    source_names: set[str]
    color_values: dict[str, list[tuple[int, Any]]]
    samples: list[tuple[Any, str, np.ndarray, dict[str, Any]]]
    skipped: dict[str, int]
    input_objects: int
    counts: dict[str, int]
    crs_name: str | None
    warnings: list[str]


def _part(job: _Job, k: int, end: int | None = None) -> FilePart:
    """Range ``k`` (up to byte ``end`` when given) as a document of its own."""
    start, range_end = job.ranges[k]
    return FilePart(job.head, start, range_end if end is None else end, job.tail)


def _objects(job: _Job, k: int, part: FilePart, warnings: list[str] | None = None) -> Iterator[tuple[Any, Any]]:
    """(reader, object) for every top-level object of ``part`` of range ``k`` (the reader's
    ``scene_crs`` is the objects' CRS); the reader's warnings go into ``warnings``, named by the
    line in the whole file."""
    from ..io.citygml.reader import CityGMLReader

    reader = CityGMLReader(job.path, crs=job.crs_option, progress=False, part=part)
    for obj in reader.iter_objects():
        yield reader, obj
    if warnings is not None and reader.warnings:
        offset = _line_offset(job, k)
        for w in reader.warnings:
            line = None if w.line is None else w.line + offset
            warnings.append(str(replace(w, line=line)))


def _unlink(obj: Any) -> None:
    """Cut the parent links of an object the export is done with: a building and its parts point at
    each other, and under the export's rare collection (``gc_rare``) such a cycle, with its meshes,
    would wait long to be freed; without it, reference counting frees the object at once."""
    for node in obj.walk():
        node.parent = None


def _line_offset(job: _Job, k: int) -> int:
    """What to add to a line number in the document of range ``k`` to get the line in the file."""
    before = 0
    with open(job.path, "rb") as fh:
        left = job.ranges[k][0]
        while left > 0:
            block = fh.read(min(left, 8 << 20))
            before += block.count(b"\n")
            left -= len(block)
    return before - job.head.count(b"\n")


def _translate(exc: CimTwinError, job: _Job, k: int) -> CimTwinError:
    """An error in the document of range ``k``, named by the line in the file."""
    line = exc.line
    if line is not None:
        line += _line_offset(job, k)
    return type(exc)(exc.message, path=job.path, line=line, column=exc.column, object_id=exc.object_id, hint=exc.hint)


#: The spill files of one part, by kind: property rows (pickled ``(signature, values)``: the row's
#: values in the order of its keys, the part's numbered key tuple), then raw arrays (ENU vertices
#: float64 x3, triangles int32 x3, LOD1 block vertices float64 x3), one building after the other.
_SPILL_KINDS = ("rows", "vertices", "triangles", "blocks")
_SPILL_DTYPES = {"vertices": np.float64, "triangles": np.int32, "blocks": np.float64}


def _spill_path(job: _Job, k: int, kind: str) -> Path:
    return job.scratch / f"{kind}{k:04d}.bin"


class _Spill:
    """Writes the buildings of part ``k`` to its spill files; ``counts`` holds, per building, the
    byte length of its row and its numbers of vertices, triangles and block vertices."""

    def __init__(self, job: _Job, k: int) -> None:
        self.files = {kind: open(_spill_path(job, k, kind), "wb") for kind in _SPILL_KINDS}  # noqa: SIM115
        self.counts: list[np.ndarray] = []
        #: key tuple -> its number (the rows of a city share a handful of key sets)
        self.signatures: dict[tuple[str, ...], int] = {}

    def add(self, rows: list[dict[str, Any]], enu: np.ndarray, n_verts: np.ndarray, tris: np.ndarray,
            n_tris: np.ndarray, blocks: Blocks) -> None:
        """A batch of buildings: their rows, and their arrays one building after the other."""
        signatures = self.signatures
        metas = []
        for row in rows:
            keys = tuple(row)
            number = signatures.get(keys)
            if number is None:
                number = signatures[keys] = len(signatures)
            metas.append(pickle.dumps((number, tuple(row.values())), protocol=pickle.HIGHEST_PROTOCOL))
        self.files["rows"].write(b"".join(metas))
        self.files["vertices"].write(np.ascontiguousarray(enu, np.float64).tobytes())
        self.files["triangles"].write(np.ascontiguousarray(tris, np.int32).tobytes())
        self.files["blocks"].write(np.ascontiguousarray(blocks.vertices, np.float64).tobytes())
        self.counts.append(np.column_stack([[len(m) for m in metas], n_verts, n_tris, blocks.counts]).astype(np.int64))

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def _parse_chunk(k: int) -> _ChunkResult:
    job = _JOB
    assert job is not None and job.frame is not None
    spill = _Spill(job, k)
    ids: list[str] = []
    cols: dict[str, list[Any]] = {n: [] for n in ("lo", "hi", "tri", "size", "berr", "btri")}
    stats = ColumnStats()
    units: dict[str, str] = {}
    groups: dict[str, str] = {}
    # values of the properties --color-by may name (by name or by id), with their row
    color_values: dict[str, list[tuple[int, Any]]] = {}
    color_match: dict[str, bool] = {}
    samples: list[tuple[Any, str, np.ndarray, dict[str, Any]]] = []  # (key, id, vertices, row)
    skipped: dict[str, int] = {}
    counts: dict[str, int] = {}
    n_input = 0
    warnings: list[str] = []
    crs = None
    batch: list[tuple[Any, Any]] = []
    codes = job.run.indicator_codes if job.run is not None else None
    with_actions = bool(job.run.actions) if job.run is not None else False

    threshold: Any = None

    def flush() -> None:
        nonlocal batch, threshold
        if not batch:
            return
        assert job is not None and job.frame is not None and crs is not None
        meshes = [m for _, m in batch]
        n_verts = np.array([len(m.vertices) for m in meshes], dtype=np.int64)
        n_tris = np.array([len(m.triangles) for m in meshes], dtype=np.int64)
        enu = job.frame.scene_to_enu(crs, np.concatenate([m.vertices for m in meshes]))
        blocks, lo, hi, batch_sizes = feature_geometries(enu, n_verts, meshes)
        cols["lo"].append(lo)
        cols["hi"].append(hi)
        cols["size"].append(batch_sizes)
        cols["tri"].append(n_tris)
        cols["berr"].append(blocks.errors)
        cols["btri"].append(blocks.triangle_counts)
        rows = []
        for obj, mesh in batch:
            info = run_info_for(obj, job.run, job.index) if job.run is not None else None
            row = building_row(obj, info, codes, with_actions, units, groups)
            rows.append(row)
            stats.add(row)
            if job.color_names:
                position = len(ids)
                for key, value in row.items():
                    hit = color_match.get(key)
                    if hit is None:
                        hit = color_match[key] = key in job.color_names or property_id(key, set()) in job.color_names
                    if hit:
                        color_values.setdefault(key, []).append((position, value))
            ids.append(obj.id)
            h = sample_order(obj.id)
            if threshold is None or h < threshold:
                used = mesh.vertices[np.unique(mesh.triangles)]
                samples.append((h, obj.id, used, row))
                if len(samples) > 4 * AUDIT_SAMPLE:  # keep the smallest keys, memory bounded
                    samples.sort(key=lambda s: s[0])
                    del samples[AUDIT_SAMPLE:]
                    threshold = samples[-1][0]
        spill.add(rows, enu, n_verts, np.concatenate([m.triangles for m in meshes]), n_tris, blocks)
        for obj, _ in batch:
            _unlink(obj)
        batch = []

    try:
        for reader, obj in _objects(job, k, _part(job, k), warnings):
            if crs is None:
                crs = placed_crs(reader.scene_crs, job.geoid_height_m)
            for node in obj.walk():
                counts[node.kind] = counts.get(node.kind, 0) + 1
            if obj.kind != "Building":
                skipped[f"not a building ({obj.kind})"] = skipped.get(f"not a building ({obj.kind})", 0) + 1
                _unlink(obj)
                continue
            n_input += 1
            mesh = obj.mesh()
            if mesh.n_triangles == 0:
                skipped["without geometry"] = skipped.get("without geometry", 0) + 1
                _unlink(obj)
                continue
            batch.append((obj, mesh))
            if len(batch) >= _BATCH:
                flush()
        flush()
    except CimTwinError as exc:
        raise _translate(exc, job, k) from None
    finally:
        spill.close()

    def stacked(name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:  # per batch arrays
        return np.concatenate(cols[name]).astype(dtype) if cols[name] else np.zeros(shape, dtype)

    summary = FeatureSummary(lo=stacked("lo", (0, 3)), hi=stacked("hi", (0, 3)),
                             triangles=stacked("tri", (0,), np.int64), sizes=stacked("size", (0,)),
                             block_errors=stacked("berr", (0,)), block_triangles=stacked("btri", (0,), np.int64))
    spilled = np.concatenate(spill.counts) if spill.counts else np.zeros((0, 4), np.int64)
    return _ChunkResult(
        k, ids, summary, spilled, list(spill.signatures), stats, units, groups, source_attribute_names(groups),
        color_values,
        sorted(samples, key=lambda s: s[0])[:AUDIT_SAMPLE], skipped, n_input, counts, crs.name if crs is not None else None,
        warnings,
    )


def _first_frame(job: _Job) -> tuple[LocalFrame, Any]:
    """The frame (from the first building with geometry) and the scene CRS, read from the first
    members of range 0 (the whole range only when none of them is a building with geometry)."""
    start, end = job.ranges[0]
    with open(job.path, "rb") as fh:
        fh.seek(start)
        window = fh.read(min(end - start, 4 << 20))
    qname = _MEMBER.match(window)
    starts = [m.start() for m in re.finditer(b"<" + re.escape(qname.group(1)) + rb"[\s>/]", window)] if qname else []
    cut = start + starts[16] if len(starts) > 16 else None
    if cut is not None:
        found = _first_building(job, _part(job, 0, cut))
        if found is not None:
            return found
    found = _first_building(job, _part(job, 0))
    if found is not None:
        return found
    raise ExportError("no building with geometry at the start of the file", path=job.path,
                      hint="check the source holds buildings with LOD1-4 geometry")


def _first_building(job: _Job, part: FilePart) -> tuple[LocalFrame, Any] | None:
    try:
        for reader, obj in _objects(job, 0, part):
            if obj.kind != "Building":
                continue
            mesh = obj.mesh()
            if mesh.n_triangles:
                crs = placed_crs(reader.scene_crs, job.geoid_height_m)
                return frame_for(crs, mesh.vertices), crs
    except CimTwinError as exc:
        raise _translate(exc, job, 0) from None
    return None


class SpilledRows:
    """The property rows of one tile as spilled: ``(signature, values)`` pairs, a signature being the
    tuple of a row's keys (numbered per part), so the spill holds no key names per row."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, ...], int] = {}
        self.rows: list[tuple[int, tuple[Any, ...]]] = []

    @property
    def signatures(self) -> list[tuple[str, ...]]:
        """The key tuples, by the number the rows use."""
        return list(self._numbers)

    def add(self, signatures: list[tuple[str, ...]], rows: list[tuple[int, tuple[Any, ...]]]) -> None:
        """Rows of one part, whose signatures are numbered in ``signatures``."""
        numbers = [self._numbers.setdefault(keys, len(self._numbers)) for keys in signatures]
        self.rows.extend((numbers[sig], values) for sig, values in rows)

    def table(self, columns: list[Any]) -> PropertyTable:
        return _SignatureTable(columns, self)


class _SignatureTable(PropertyTable):
    """A :class:`PropertyTable` over :class:`SpilledRows`: the rows of each signature are turned
    into columns once (``zip``), and a column's values are gathered from those, not row by row."""

    def __init__(self, columns: list[Any], spilled: SpilledRows) -> None:
        super().__init__(columns, [])
        self.spilled = spilled
        self._positions = [{key: i for i, key in enumerate(keys)} for keys in spilled.signatures]
        members: dict[int, list[int]] = {}
        for i, (sig, _values) in enumerate(spilled.rows):
            members.setdefault(sig, []).append(i)
        rows = spilled.rows
        #: per signature: its rows (positions in the table) and its values column by column
        self._groups = [(sig, np.array(at, dtype=np.int64), list(zip(*(rows[i][1] for i in at), strict=True)))
                        for sig, at in members.items()]

    def __len__(self) -> int:
        return len(self.spilled.rows)

    def _raw(self, name: str, rows: Any) -> list[Any]:
        n = len(self.spilled.rows)
        if rows is not None and not (isinstance(rows, range) and rows == range(n)):
            full = self._raw(name, None)
            return [full[i] for i in rows]
        if len(self._groups) == 1:
            sig, _at, columns = self._groups[0]
            where = self._positions[sig].get(name)
            return [None] * n if where is None else list(columns[where])
        out = np.full(n, None, dtype=object)
        for sig, at, columns in self._groups:
            where = self._positions[sig].get(name)
            if where is not None:
                values = np.empty(len(at), dtype=object)
                values[:] = columns[where]
                out[at] = values
        return out.tolist()


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices ``starts[i] .. starts[i] + counts[i] - 1`` of every i, one after the other."""
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)


def _tile_arrays(job: _Job, rows: np.ndarray, coarse: bool, centre: np.ndarray) -> tuple[SpilledRows, MeshContent]:
    """The property rows and the mesh content of one tile, read from the spill files: the geometry
    of all its buildings by one gathered read per part and kind (numpy only; the rows of a tile come
    in feature order, which is part order); the property rows one pickle each."""
    assert job.record_chunk is not None and job.record_start is not None and job.record_count is not None
    assert job.colors is not None
    table_rows = SpilledRows()
    vertices, triangles, n_verts, n_tris = [], [], [], []
    parts = job.record_chunk[rows]
    for k in np.unique(parts):
        mine = rows[parts == k]
        start, count = job.record_start[mine], job.record_count[mine]
        with open(_spill_path(job, int(k), "rows"), "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            table_rows.add(job.signatures[int(k)], [pickle.loads(mm[s : s + n]) for s, n in
                                                    zip(start[:, 0].tolist(), count[:, 0].tolist(), strict=True)])
        # coarse tiles show blocks, except for buildings with no more triangles than their block
        block_tris = block_triangle_counts(count[:, 3])
        itself = shown_as_itself(count[:, 2], block_tris) if coarse else np.ones(len(mine), dtype=bool)
        if itself.any():
            verts = np.memmap(_spill_path(job, int(k), "vertices"), dtype=np.float64, mode="r").reshape(-1, 3)
            tris = np.memmap(_spill_path(job, int(k), "triangles"), dtype=np.int32, mode="r").reshape(-1, 3)
            own_verts = verts[_ranges(start[itself, 1], count[itself, 1])]
            own_tris = tris[_ranges(start[itself, 2], count[itself, 2])]
        if itself.all():
            vertices.append(own_verts)
            triangles.append(own_tris)
            n_verts.append(count[:, 1])
            n_tris.append(count[:, 2])
            continue
        nv = np.where(itself, count[:, 1], count[:, 3])
        nt = np.where(itself, count[:, 2], block_tris)
        part_verts = np.empty((int(nv.sum()), 3))
        part_tris = np.empty((int(nt.sum()), 3), dtype=np.int32)
        first_v, first_t = np.cumsum(nv) - nv, np.cumsum(nt) - nt
        if itself.any():
            part_verts[_ranges(first_v[itself], nv[itself])] = own_verts
            part_tris[_ranges(first_t[itself], nt[itself])] = own_tris
        block = ~itself
        blocks = np.memmap(_spill_path(job, int(k), "blocks"), dtype=np.float64, mode="r").reshape(-1, 3)
        part_verts[_ranges(first_v[block], nv[block])] = blocks[_ranges(start[block, 3], count[block, 3])]
        part_tris[_ranges(first_t[block], nt[block])] = np.concatenate(
            [block_triangles(int(n)) for n in (count[block, 3] // 2).tolist()])
        vertices.append(part_verts)
        triangles.append(part_tris)
        n_verts.append(nv)
        n_tris.append(nt)
    content = mesh_content(np.concatenate(vertices), np.concatenate(n_verts), np.concatenate(triangles),
                           np.concatenate(n_tris), job.colors[rows], centre)
    return table_rows, content


def _write_tile(task: tuple[str, list[int], bool, np.ndarray]) -> list[int]:
    from .writer import write_file

    job = _JOB
    assert job is not None and job.out is not None
    address, rows, coarse, centre = task
    table_rows, content = _tile_arrays(job, np.asarray(rows, dtype=np.int64), coarse, centre)
    node = TileNode(address, [], [], coarse)
    written = []
    for version, data in zip(job.versions, encode_tile(content, table_rows.table(job.columns),
                                                       range(len(rows)), job.versions, job.schema), strict=True):
        folder = "buildings" if version == "1.1" else "buildings-1.0"
        write_file(job.out / folder / tile_path(node, version), data)
        written.append(len(data))
    return written


@contextmanager
def _pool(processes: int) -> Iterator[Any]:
    with frozen_for_fork(), multiprocessing.get_context("fork").Pool(processes) as pool:
        yield pool


@gc_rare()
def export_citygml_streaming(path: Path, root: Path, *, run: RunData | None, options: Any, versions: list[str],
                             crs: str | None = None, processes: int | None = None) -> dict[str, Any]:
    """Write the export of the CityGML file ``path`` into ``root`` (see the module docstring)."""
    global _JOB
    from .audit import audit_tileset, guarded
    from .writer import (
        building_layer_entry,
        finish_export,
        georeference_of,
        tileset_extras,
        time_range_of,
        write_file,
    )

    processes = max(1, processes or os.cpu_count() or 1)
    last_timings.clear()
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        last_timings[name] = round(now - clock[0], 3)
        log.debug("streaming export: %s %.2f s", name, now - clock[0])
        clock[0] = now

    # inside the temporary export folder: removed before it is published, and with it if the
    # process is killed (see writer._remove_stale)
    scratch = root / ".stream-scratch"
    scratch.mkdir()
    try:
        head, tail, ranges = split_member_ranges(path, max(1, processes * 2))
        color_names = (("worst_severity",) if options.color_by == "severity"
                       else (f"indicator.{options.color_by}", options.color_by) if options.color_by else ())
        job = _Job(path, head, tail, ranges, scratch, crs, options.geoid_height_m, run=run, color_names=color_names)
        _JOB = job
        lap("split")
        job.frame, scene_crs = _first_frame(job)
        lap("first")
        if run is not None:
            job.index = findings_by_object(run)
        bar = progress(total=len(ranges), desc="parse", unit="part", enabled=options.show_progress)
        results: list[_ChunkResult] = []
        try:
            if processes == 1:
                for k in range(len(ranges)):
                    results.append(_parse_chunk(k))
                    bar.update()
            else:
                with _pool(processes) as pool:
                    for res in pool.imap(_parse_chunk, range(len(ranges))):
                        results.append(res)
                        bar.update()
        finally:
            bar.close()
        lap("parse")
        stats = ColumnStats()
        units: dict[str, str] = {}
        groups: dict[str, str] = {}
        source_names: set[str] = set()
        skipped: dict[str, int] = {}
        counts: dict[str, int] = {}
        for res in results:
            stats.merge(res.stats)
            for key, value in res.units.items():
                units.setdefault(key, value)
            groups.update({k: v for k, v in res.groups.items() if k not in groups})
            source_names |= res.source_names
            for key, n in res.skipped.items():
                skipped[key] = skipped.get(key, 0) + n
            for key, n in res.counts.items():
                counts[key] = counts.get(key, 0) + n
        ids = [i for res in results for i in res.ids]
        if not ids:
            raise ExportError("no building with geometry to export", path=path,
                              hint="check the source holds buildings with LOD1-4 geometry")
        columns = stats.columns(units, groups, first=("id", "kind", "height_m"))
        col = color_column(options.color_by, columns)
        if options.color_by and col is None:
            color_buildings(PropertyTable(columns, []), options.color_by)  # raises the usual error
        if col is not None:
            name_values: list[Any] = [None] * len(ids)
            first = 0
            for res in results:
                for position, value in res.color_values.get(col.name, []):
                    name_values[first + position] = value
                first += len(res.ids)
            coloring = color_buildings(PropertyTable([col], [{col.name: v} for v in name_values]), options.color_by)
        else:
            coloring = color_buildings(PropertyTable([], [{} for _ in ids]), None)
        summary = FeatureSummary.concatenate([r.summary for r in results])
        tree = build_tree(summary, max_features=options.tiling.max_features,
                          max_triangles=options.tiling.max_triangles,
                          coarse_max_features=options.tiling.coarse_max_features)
        job.columns = columns
        job.colors = coloring.colors
        job.signatures = [r.signatures for r in results]
        job.record_chunk = np.concatenate([np.full(len(r.ids), r.index, np.int32) for r in results])
        job.record_count = np.concatenate([r.spilled for r in results])
        job.record_start = np.concatenate([np.cumsum(r.spilled, axis=0) - r.spilled for r in results])
        job.schema = metadata_schema(columns, CLASS_ID, "Building", SCHEMA_ID)
        job.versions = tuple(versions)
        job.out = root
        frame = job.frame
        run_id = run.run_id if run is not None else None
        georeference = georeference_of(scene_crs, scene_crs, frame)
        extras = tileset_extras(georeference, run_id)
        nodes = tree.walk()
        lap("tree")
        tasks = [(n.address, n.content, n.coarse, n.centre) for n in nodes]
        bar = progress(total=len(tasks), desc="tiles", unit="tile", enabled=options.show_progress)
        sizes: list[list[int]] = []
        try:
            if processes == 1:
                for t in tasks:
                    sizes.append(_write_tile(t))
                    bar.update()
            else:
                with _pool(processes) as pool:
                    for size in pool.imap(_write_tile, tasks, chunksize=1):
                        sizes.append(size)
                        bar.update()
        finally:
            bar.close()
        lap("tiles")
        extent = extent_of(frame, summary.lo.min(axis=0), summary.hi.max(axis=0))
        time_range = time_range_of(run)
        layers: list[dict[str, Any]] = []
        audits: dict[str, Any] = {}
        samples = sorted((s for r in results for s in r.samples), key=lambda s: (s[0], s[1]))[:AUDIT_SAMPLE]
        for version in versions:
            folder = "buildings" if version == "1.1" else "buildings-1.0"
            ts = dumps_pretty(tileset_json(tree, frame, version, extras))
            write_file(root / folder / "tileset.json", ts)
            write_file(root / folder / "style.json", dumps_pretty(coloring.style))
            stats_out = {"tiles": len(nodes), "bytes": int(sum(w[versions.index(version)] for w in sizes)) + len(ts),
                         "depth": max(len(n.address) for n in nodes) - 1}
            layers.append(building_layer_entry(
                folder, version, extent=extent, time_range=time_range, count=len(ids), coloring=coloring,
                run_id=run_id, color_by=options.color_by, stats=stats_out, columns=columns))
            if options.audit:
                tileset_path = root / folder / "tileset.json"
                audits[folder] = guarded(f"{folder}/tileset.json", partial(
                    audit_tileset, scene_crs, tileset_path, [(i, v, r) for _, i, v, r in samples], ids,
                    input_objects=sum(r.input_objects for r in results), skipped=skipped,
                    source_names=source_names, columns=columns))
        all_warnings = [w for r in results for w in r.warnings]
        summary_audit = {
            "input_objects": sum(r.input_objects for r in results),
            "exported_features": len(ids),
            "skipped": skipped,
            "attributes_kept": len(source_names),
            "source_warnings": len(all_warnings),
            "source_warning_examples": all_warnings[:10],
        }
        from ..io.citygml import iter_citygml

        source_crs = getattr(scene_crs, "base", scene_crs)  # as the source states it
        source = {"name": path.name, "format": "citygml", "format_version": iter_citygml(path)[0].get("version"),
                  "crs": source_crs.name if source_crs else None,
                  "vertical_datum": source_crs.vertical_datum if source_crs else None,
                  "counts": dict(sorted(counts.items()))}
        doc = finish_export(root, run=run, crs=scene_crs, frame=frame, versions=versions, options=options,
                            extras=extras, layers=layers, audits=audits, summary=summary_audit, source=source,
                            georeference=georeference)
        lap("finish")
        return doc
    finally:
        _JOB = None
        shutil.rmtree(scratch, ignore_errors=True)
