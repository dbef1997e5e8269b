"""Walking a tileset: explicit tiles, external tilesets and implicit tiling.

:class:`TilesetWalker` visits the tiles of a 3D Tiles 1.0 or 1.1 tileset depth first and yields one
:class:`ContentTask` per content to decode, with the accumulated tile transform and depth. What
it yields follows the refinement rules a renderer at full detail would apply:

* ``ADD``: a tile's content is always kept, then its children are walked.
* ``REPLACE``: a tile's children replace it, so its content is read only when the subtree below it
  yielded no features (a leaf, a tile at ``max_depth``, or children whose content is missing or
  broken): the finest level that loads wins.

External tilesets (content that is a tileset JSON) are walked in place, their root a child of the
referencing tile; cycles are refused. Implicit tiling (``implicitTiling`` in 1.1,
``3DTILES_implicit_tiling`` in 1.0) expands quadtrees and octrees from their subtree files
(binary ``subt`` or JSON) and availability bitstreams.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import CimTwinError, FormatError
from .source import Location, TilesetSource, parse_json

__all__ = ["ContentTask", "TilesetWalker", "bounding_volume_center"]

Warn = Callable[[str, str], None]


@dataclass(slots=True)
class ContentTask:
    """One content to decode. The consumer sets ``features`` to how many features it yielded.

    ``tile_path`` names the tile by the child steps from the root (external tileset roots and
    implicit subdivisions are steps too), so that one tile's ancestors are its path's prefixes.
    """

    location: Location
    data: bytes
    tile_path: tuple[int, ...]
    transform: np.ndarray
    up_axis: str
    features: int = 0

    @property
    def depth(self) -> int:
        return len(self.tile_path)


@dataclass(slots=True)
class WalkStats:
    """What the walk met: tiles by kind, contents read, contents replaced by finer tiles."""

    tiles: int = 0
    tiles_with_content: int = 0
    implicit_tiles: int = 0
    external_tilesets: int = 0
    subtrees: int = 0
    max_depth: int = 0
    replaced_contents: int = 0
    contents: Counter[str] = field(default_factory=Counter)


class TilesetWalker:
    """Depth-first walk of one tileset.

    Parameters
    ----------
    source:
        File access bounded to the tileset folder.
    max_depth:
        Deepest tile depth visited (root = 0); tiles there count as leaves.
    warn:
        ``warn(place, message)`` for problems that skip a tile or content but not the tileset.
    """

    def __init__(self, source: TilesetSource, *, max_depth: int | None = None, warn: Warn | None = None) -> None:
        self.source = source
        self.max_depth = max_depth
        self.warn: Warn = warn or (lambda place, message: None)
        self.stats = WalkStats()
        self.root_json = self._load_tileset(source.root)
        self.asset = self.root_json["asset"]

    @property
    def version(self) -> str | None:
        v = self.asset.get("version")
        return str(v) if v is not None else None

    def root_center_ecef(self) -> np.ndarray | None:
        """Centre of the root bounding volume in ECEF (with the root transform), None if unknown."""
        root = self.root_json["root"]
        transform = _matrix(root.get("transform"), "root.transform", self.source.root.label)
        return bounding_volume_center(root.get("boundingVolume") or {}, transform)

    # --- loading tileset JSON --------------------------------------------------------------------
    def _load_tileset(self, loc: Location, data: bytes | None = None) -> dict[str, Any]:
        doc = self.source.read_json(loc, data)
        return _check_tileset(doc, loc.label)

    # --- the walk --------------------------------------------------------------------------------
    def walk(self) -> Generator[ContentTask, None, int]:
        """Yield the content tasks of the whole tileset; returns the number of features loaded."""
        up = str(self.asset.get("gltfUpAxis", "Y"))
        return (yield from self._tile(self.root_json["root"], self.source.root, np.eye(4), (), None, up, "root", [self.source.root.path]))

    def _tile(self, tile: Any, base: Location, parent: np.ndarray, path: tuple[int, ...], parent_refine: str | None, up: str,
              where: str, chain: list[Any]) -> Generator[ContentTask, None, int]:
        try:
            return (yield from self._tile_checked(tile, base, parent, path, parent_refine, up, where, chain))
        except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
            # Tileset JSON of the wrong shape somewhere the checks above did not foresee.
            raise FormatError(f"{where}: malformed tile ({type(exc).__name__}: {exc})", path=base.label) from exc

    def _tile_checked(
        self,
        tile: dict[str, Any],
        base: Location,
        parent: np.ndarray,
        path: tuple[int, ...],
        parent_refine: str | None,
        up: str,
        where: str,
        chain: list[Any],
    ) -> Generator[ContentTask, None, int]:
        label = base.label
        depth = len(path)
        if not isinstance(tile, dict):
            raise FormatError(f"{where} is not a tile object", path=label)
        transform = parent @ _matrix(tile.get("transform"), f"{where}.transform", label)
        refine = _refine(tile.get("refine"), parent_refine, where, label, self.warn)
        implicit = tile.get("implicitTiling") or (tile.get("extensions") or {}).get("3DTILES_implicit_tiling")
        if implicit is not None:  # the tile is the implicit root: counted there
            return (yield from self._implicit(tile, implicit, base, transform, path, refine, up, where, chain))
        self.stats.tiles += 1
        self.stats.max_depth = max(self.stats.max_depth, depth)
        contents = _contents(tile, where, label)
        if contents:
            self.stats.tiles_with_content += 1
        children = tile.get("children") or []
        if not isinstance(children, list):
            raise FormatError(f"{where}.children is not an array", path=label)
        descend = self.max_depth is None or depth < self.max_depth
        loaded = 0
        if refine == "ADD" or not children or not descend:
            loaded += yield from self._contents(contents, base, transform, path, refine, up, where, chain)
            deferred: list[str] = []
        else:
            deferred = contents
        if descend:
            for i, child in enumerate(children):
                loaded += yield from self._tile(child, base, transform, (*path, i), refine, up, f"{where}.children[{i}]", chain)
        if deferred:
            if loaded == 0:
                loaded += yield from self._contents(deferred, base, transform, path, refine, up, where, chain)
            else:
                self.stats.replaced_contents += len(deferred)
        return loaded

    def _contents(
        self,
        uris: list[str],
        base: Location,
        transform: np.ndarray,
        path: tuple[int, ...],
        refine: str,
        up: str,
        where: str,
        chain: list[Any],
    ) -> Generator[ContentTask, None, int]:
        loaded = 0
        for k, uri in enumerate(uris):
            try:
                loc = self.source.resolve(uri, base)
                data = self.source.read_bytes(loc)
            except CimTwinError as exc:
                self.warn(exc.path or base.label, f"content {uri!r} of {where} skipped: {exc.message}" + (f" -- hint: {exc.hint}" if exc.hint else ""))
                continue
            if _is_tileset_json(data):
                # The external root is a child of this tile; negative steps keep it apart from children.
                loaded += yield from self._external(loc, data, transform, (*path, -(k + 1)), refine, up, chain)
                continue
            task = ContentTask(loc, data, path, transform, up)
            yield task
            loaded += task.features
        return loaded

    def _external(
        self, loc: Location, data: bytes, transform: np.ndarray, path: tuple[int, ...], refine: str, up: str, chain: list[Any]
    ) -> Generator[ContentTask, None, int]:
        key = loc.path or loc.url
        if key in chain:
            self.warn(loc.label, "external tileset refers back to a tileset above it (a cycle); skipped")
            return 0
        try:
            doc = self._load_tileset(loc, data)
        except CimTwinError as exc:
            self.warn(exc.path or loc.label, f"external tileset skipped: {exc.message}")
            return 0
        self.stats.external_tilesets += 1
        self.stats.contents["tileset"] += 1
        sub_up = str((doc.get("asset") or {}).get("gltfUpAxis", up))
        try:
            return (yield from self._tile(doc["root"], loc, transform, path, refine, sub_up, "root", [*chain, key]))
        except FormatError as exc:
            self.warn(exc.path or loc.label, f"external tileset skipped: {exc.message}")
            return 0

    # --- implicit tiling -------------------------------------------------------------------------
    def _implicit(
        self,
        tile: dict[str, Any],
        implicit: dict[str, Any],
        base: Location,
        transform: np.ndarray,
        path: tuple[int, ...],
        refine: str,
        up: str,
        where: str,
        chain: list[Any],
    ) -> Generator[ContentTask, None, int]:
        label = base.label
        if not isinstance(implicit, dict):
            raise FormatError(f"{where}.implicitTiling is not an object", path=label)
        scheme = implicit.get("subdivisionScheme")
        if scheme not in ("QUADTREE", "OCTREE"):
            raise FormatError(f"{where}.implicitTiling.subdivisionScheme must be QUADTREE or OCTREE, not {scheme!r}", path=label)
        levels = implicit.get("subtreeLevels")
        available = implicit.get("availableLevels", implicit.get("maximumLevel"))
        if "maximumLevel" in implicit and "availableLevels" not in implicit:
            available = int(implicit["maximumLevel"]) + 1
        if not isinstance(levels, int) or levels < 1 or not isinstance(available, int) or available < 1:
            raise FormatError(f"{where}.implicitTiling needs positive integer subtreeLevels and availableLevels", path=label)
        subtrees = implicit.get("subtrees") or {}
        template = subtrees.get("uri") if isinstance(subtrees, dict) else None
        if not isinstance(template, str):
            raise FormatError(f"{where}.implicitTiling.subtrees.uri is missing", path=label)
        content_templates = _contents(tile, where, label)
        walk = _ImplicitWalk(self, scheme == "OCTREE", levels, available, template, content_templates, base, transform, path, refine, up, chain)
        return (yield from walk.subtree((0, 0, 0, 0)))


class _ImplicitWalk:
    """State of one implicit tileset expansion (see :meth:`TilesetWalker._implicit`)."""

    def __init__(self, walker: TilesetWalker, octree: bool, levels: int, available: int, template: str,
                 contents: list[str], base: Location, transform: np.ndarray, path: tuple[int, ...], refine: str, up: str,
                 chain: list[Any]) -> None:
        self.walker = walker
        self.octree = octree
        self.branching = 8 if octree else 4
        self.levels = levels
        self.available = available
        self.template = template
        self.contents = contents
        self.base = base
        self.transform = transform
        self.path = path
        self.refine = refine
        self.up = up
        self.chain = chain

    def _uri(self, template: str, coords: tuple[int, int, int, int]) -> str:
        level, x, y, z = coords
        return template.replace("{level}", str(level)).replace("{x}", str(x)).replace("{y}", str(y)).replace("{z}", str(z))

    def subtree(self, root: tuple[int, int, int, int]) -> Generator[ContentTask, None, int]:
        uri = self._uri(self.template, root)
        try:
            loc = self.walker.source.resolve(uri, self.base)
            sub = _Subtree.load(self.walker.source, loc, self.branching, self.levels, len(self.contents))
        except CimTwinError as exc:
            self.walker.warn(exc.path or self.base.label, f"subtree {uri!r} skipped: {exc.message}")
            return 0
        self.walker.stats.subtrees += 1
        return (yield from self._local(sub, root, 0, 0, 0, 0))

    def _local(self, sub: _Subtree, root: tuple[int, int, int, int], level: int, x: int, y: int, z: int) -> Generator[ContentTask, None, int]:
        if not sub.tile(level, _morton(x, y, z, self.octree)):
            return 0
        walker = self.walker
        global_level = root[0] + level
        coords = (global_level, (root[1] << level) + x, (root[2] << level) + y, (root[3] << level) + z)
        # The tile's path: one subdivision step (child index 0-3 or 0-7) per level below the root.
        steps = tuple(
            ((coords[1] >> (global_level - i)) & 1) | (((coords[2] >> (global_level - i)) & 1) << 1)
            | (((coords[3] >> (global_level - i)) & 1) << 2)
            for i in range(1, global_level + 1)
        )
        path = (*self.path, *steps)
        depth = len(path)
        walker.stats.tiles += 1
        walker.stats.implicit_tiles += 1
        walker.stats.max_depth = max(walker.stats.max_depth, depth)
        contents = [self._uri(t, coords) for i, t in enumerate(self.contents) if sub.content(i, level, _morton(x, y, z, self.octree))]
        if contents:
            walker.stats.tiles_with_content += 1
        descend = (walker.max_depth is None or depth < walker.max_depth) and global_level + 1 < self.available
        children: list[tuple[int, int, int]] = []
        if descend:
            for child in range(self.branching):
                children.append((2 * x + (child & 1), 2 * y + ((child >> 1) & 1), 2 * z + ((child >> 2) & 1)))
        where = f"implicit tile {coords[0]}/{coords[1]}/{coords[2]}" + (f"/{coords[3]}" if self.octree else "")
        loaded = 0
        has_children = bool(children)
        if self.refine == "ADD" or not has_children:
            loaded += yield from walker._contents(contents, self.base, self.transform, path, self.refine, self.up, where, self.chain)
            deferred: list[str] = []
        else:
            deferred = contents
        for cx, cy, cz in children:
            if level + 1 < self.levels:
                loaded += yield from self._local(sub, root, level + 1, cx, cy, cz)
            elif sub.child_subtree(_morton(cx, cy, cz, self.octree)):
                child_root = (root[0] + self.levels, (root[1] << self.levels) + cx, (root[2] << self.levels) + cy,
                              (root[3] << self.levels) + cz)
                loaded += yield from self.subtree(child_root)
        if deferred:
            if loaded == 0:
                loaded += yield from walker._contents(deferred, self.base, self.transform, path, self.refine, self.up, where, self.chain)
            else:
                walker.stats.replaced_contents += len(deferred)
        return loaded


class _Subtree:
    """Availability of one subtree: tiles, contents and child subtrees as bit arrays."""

    def __init__(self, branching: int, tiles: np.ndarray, contents: list[np.ndarray], children: np.ndarray) -> None:
        self.branching = branching
        self.tiles = tiles
        self.contents = contents
        self.children = children

    def tile(self, level: int, morton: int) -> bool:
        return bool(self.tiles[_level_offset(level, self.branching) + morton])

    def content(self, i: int, level: int, morton: int) -> bool:
        if i >= len(self.contents):
            return False
        return bool(self.contents[i][_level_offset(level, self.branching) + morton])

    def child_subtree(self, morton: int) -> bool:
        return bool(self.children[morton])

    @classmethod
    def load(cls, source: TilesetSource, loc: Location, branching: int, levels: int, n_contents: int) -> _Subtree:
        data = source.read_bytes(loc)
        label = loc.label
        binary: memoryview | None = None
        if data[:4] == b"subt":
            if len(data) < 24:
                raise FormatError("truncated subtree header", path=label)
            version, json_len, bin_len = struct.unpack_from("<IQQ", data, 4)
            if version != 1:
                raise FormatError(f"unsupported subtree version {version}", path=label)
            if 24 + json_len + bin_len > len(data):
                raise FormatError(
                    f"truncated: subtree lengths (24+{json_len}+{bin_len} bytes) run past the file ({len(data)} bytes)",
                    path=label,
                    hint="the subtree file is truncated",
                )
            doc = parse_json(bytes(data[24 : 24 + json_len]).rstrip(b" \x00"), label)
            binary = memoryview(data)[24 + json_len : 24 + json_len + bin_len]
        elif _is_json(data):
            doc = parse_json(data, label)
        else:
            raise FormatError(f"wrong magic {bytes(data[:4])!r} (expected subt or JSON)", path=label)
        if not isinstance(doc, dict):
            raise FormatError("subtree JSON is not an object", path=label)
        buffers = doc.get("buffers") or []
        views = doc.get("bufferViews") or []
        cache: dict[int, memoryview] = {}

        def buffer(i: int) -> memoryview:
            if i not in cache:
                if not 0 <= i < len(buffers):
                    raise FormatError(f"subtree buffer {i} does not exist", path=label)
                uri = buffers[i].get("uri")
                if uri is None:
                    if binary is None:
                        raise FormatError("subtree buffer has no uri and there is no binary chunk", path=label)
                    cache[i] = binary
                else:
                    cache[i] = memoryview(source.read_bytes(source.resolve(uri, loc)))
            return cache[i]

        def bits(spec: Any, count: int, what: str) -> np.ndarray:
            if not isinstance(spec, dict):
                raise FormatError(f"subtree {what} is missing or not an object", path=label)
            if "constant" in spec:
                return np.full(count, bool(spec["constant"]))
            view_index = spec.get("bitstream", spec.get("bufferView"))
            if not isinstance(view_index, int) or not 0 <= view_index < len(views):
                raise FormatError(f"subtree {what} names no valid bitstream", path=label)
            bv = views[view_index]
            buf = buffer(int(bv.get("buffer", 0)))
            start, length = int(bv.get("byteOffset", 0)), int(bv["byteLength"])
            if start + length > len(buf) or length * 8 < count:
                raise FormatError(f"subtree {what} bitstream is shorter than {count} bits", path=label)
            return np.unpackbits(np.frombuffer(buf, np.uint8, count=length, offset=start), bitorder="little")[:count].astype(bool)

        n_tiles = (branching**levels - 1) // (branching - 1)
        tiles = bits(doc.get("tileAvailability"), n_tiles, "tileAvailability")
        content_specs = doc.get("contentAvailability")
        if isinstance(content_specs, dict):
            content_specs = [content_specs]
        content_specs = content_specs or []
        contents = [bits(s, n_tiles, f"contentAvailability[{i}]") for i, s in enumerate(content_specs[:n_contents])]
        children = bits(doc.get("childSubtreeAvailability"), branching**levels, "childSubtreeAvailability")
        return cls(branching, tiles, contents, children)


# --- helpers --------------------------------------------------------------------------------------
def _level_offset(level: int, branching: int) -> int:
    return (branching**level - 1) // (branching - 1)


def _morton(x: int, y: int, z: int, octree: bool) -> int:
    result, bit = 0, 0
    step = 3 if octree else 2
    while (x >> bit) or (y >> bit) or (octree and (z >> bit)):
        result |= ((x >> bit) & 1) << (step * bit)
        result |= ((y >> bit) & 1) << (step * bit + 1)
        if octree:
            result |= ((z >> bit) & 1) << (step * bit + 2)
        bit += 1
    return result


def _is_json(data: bytes) -> bool:
    return bytes(data[:64]).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _is_tileset_json(data: bytes) -> bool:
    """A JSON document with ``asset`` and ``root``: an external tileset (not a .gltf)."""
    if not _is_json(data):
        return False
    try:
        doc = parse_json(data, "")
    except FormatError:
        return True  # let the tileset loader report the broken JSON
    return isinstance(doc, dict) and "root" in doc and "meshes" not in doc


def _check_tileset(doc: Any, label: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise FormatError("tileset JSON is not an object", path=label)
    asset = doc.get("asset")
    if not isinstance(asset, dict):
        raise FormatError("tileset has no asset object", path=label, hint="a tileset.json needs asset.version")
    version = asset.get("version")
    if not isinstance(version, str):
        raise FormatError(f"asset.version is missing or not a string ({version!r})", path=label)
    if not isinstance(doc.get("root"), dict):
        raise FormatError("tileset has no root tile", path=label)
    root = doc["root"]
    bv = root.get("boundingVolume")
    if not isinstance(bv, dict):
        raise FormatError("root tile has no boundingVolume", path=label)
    _check_volume(bv, "root.boundingVolume", label)
    return doc


def _check_volume(bv: dict[str, Any], where: str, label: str) -> None:
    sizes = {"box": 12, "region": 6, "sphere": 4}
    found = [k for k in sizes if k in bv]
    if not found and not (bv.get("extensions") or {}):
        raise FormatError(f"{where} has no box, region or sphere", path=label)
    for key in found:
        value = bv[key]
        if not isinstance(value, list) or len(value) != sizes[key] or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise FormatError(f"{where}.{key} must be an array of {sizes[key]} numbers", path=label)
    if "region" in bv:
        w, s, e, n = bv["region"][:4]
        if not (-np.pi <= w <= np.pi and -np.pi <= e <= np.pi and -np.pi / 2 <= s <= np.pi / 2 and -np.pi / 2 <= n <= np.pi / 2):
            raise FormatError(f"{where}.region is outside [-pi, pi] x [-pi/2, pi/2] radians", path=label)
    if "sphere" in bv and bv["sphere"][3] < 0:
        raise FormatError(f"{where}.sphere has a negative radius", path=label)


def _matrix(value: Any, where: str, label: str) -> np.ndarray:
    if value is None:
        return np.eye(4)
    if not isinstance(value, list) or len(value) != 16 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise FormatError(f"{where} must be an array of 16 numbers", path=label)
    m = np.asarray(value, dtype=np.float64).reshape(4, 4).T  # column-major
    if not np.allclose(m[3], [0, 0, 0, 1]):
        raise FormatError(f"{where} is not an affine transform (last row must be 0 0 0 1)", path=label)
    if abs(np.linalg.det(m[:3, :3])) < 1e-12:
        raise FormatError(f"{where} is not invertible", path=label)
    return m


def _refine(value: Any, parent: str | None, where: str, label: str, warn: Warn) -> str:
    if value is None:
        if parent is None:
            warn(label, f"{where} states no refine; ADD assumed")
            return "ADD"
        return parent
    if not isinstance(value, str) or value.upper() not in ("ADD", "REPLACE"):
        raise FormatError(f"{where}.refine must be ADD or REPLACE, not {value!r}", path=label)
    if value != value.upper():
        warn(label, f"{where}.refine {value!r} should be upper case")
    return value.upper()


def _contents(tile: dict[str, Any], where: str, label: str) -> list[str]:
    items: list[Any] = []
    if "content" in tile:
        items.append(tile["content"])
    if "contents" in tile:
        if not isinstance(tile["contents"], list):
            raise FormatError(f"{where}.contents is not an array", path=label)
        items.extend(tile["contents"])
    multiple = (tile.get("extensions") or {}).get("3DTILES_multiple_contents")
    if isinstance(multiple, dict):
        items.extend(multiple.get("content") or multiple.get("contents") or [])
    uris = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise FormatError(f"{where} content {i} is not an object", path=label)
        uri = item.get("uri", item.get("url"))
        if not isinstance(uri, str):
            raise FormatError(f"{where} content {i} has no uri", path=label)
        uris.append(uri)
    return uris


def bounding_volume_center(bv: dict[str, Any], transform: np.ndarray) -> np.ndarray | None:
    """Centre of a bounding volume in ECEF (box and sphere through ``transform``; a region is
    already geographic)."""
    if "region" in bv:
        w, s, e, n, lo, hi = (float(v) for v in bv["region"])
        if e < w:  # crosses the antimeridian
            e += 2 * np.pi
        lon, lat, h = (w + e) / 2, (s + n) / 2, (lo + hi) / 2
        return _geodetic_to_ecef(lon, lat, h)
    if "box" in bv:
        c = np.asarray(bv["box"][:3], dtype=np.float64)
    elif "sphere" in bv:
        c = np.asarray(bv["sphere"][:3], dtype=np.float64)
    else:
        return None
    return transform[:3, :3] @ c + transform[:3, 3]


def _geodetic_to_ecef(lon: float, lat: float, h: float) -> np.ndarray:
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    return np.array(
        [(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon), (n * (1 - e2) + h) * np.sin(lat)]
    )
