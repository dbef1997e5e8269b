"""Tile content (b3dm, i3dm, pnts, cmpt, glb, glTF) decoded into features in ECEF.

A content file becomes a list of :class:`ContentFeature`: a key unique within the content (batch
id, feature id, mesh or instance), its kind, its properties and its geometry in earth-centred
earth-fixed coordinates (EPSG:4978). The transform chain is the one 3D Tiles defines::

    glTF node transforms -> glTF y-up to z-up -> CESIUM_RTC / RTC_CENTER -> (i3dm instance)
    -> accumulated tile transforms -> ECEF

Feature grouping:

* b3dm: one feature per batch id (``_BATCHID``), properties from the batch table (JSON, binary,
  ``3DTILES_batch_table_hierarchy``); an unbatched b3dm gives one feature per glTF mesh.
* glb/glTF: one feature per ``EXT_mesh_features`` feature id, properties from the
  ``EXT_structural_metadata`` property table row; primitives without feature ids give one feature
  per mesh.
* i3dm: one feature per instance (or per ``BATCH_ID`` when instances share one), the instanced
  glTF placed with the instance's position, orientation and scale.
* pnts (and glTF point primitives): one ``PointCloud`` feature per content; the points are the
  vertices of a mesh without triangles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import FormatError
from .containers import BatchTable, Container, FeatureTable, split_composite, split_container
from .gltf import GltfAsset, Primitive, decode_data_uri, parse_glb, parse_gltf_json
from .metadata import PropertyTable, read_property_tables
from .source import Location, TilesetSource

__all__ = ["ContentFeature", "decode_content", "sniff_content_kind"]

#: glTF is y-up; 3D Tiles is z-up: (x, y, z) -> (x, -z, y).
Y_UP_TO_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
X_UP_TO_Z_UP = np.array([[0.0, 0, -1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
_UP_AXIS = {"Y": Y_UP_TO_Z_UP, "Z": np.eye(4), "X": X_UP_TO_Z_UP}

#: Property names (and values) that mark a feature as a building, so indicators find it.
_TYPE_PROPERTIES = ("tiles:class", "type", "class", "feature_type", "featureType", "objectType", "kind", "citygml_type")
_BUILDING_NAMES = {"building", "bldg:building", "buildings", "bldg", "buildingpart", "bldg:buildingpart"}


@dataclass(slots=True)
class ContentFeature:
    """One feature decoded from a content file (geometry in ECEF)."""

    key: str
    kind: str
    properties: dict[str, Any]
    vertices: np.ndarray
    triangles: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class DecodeContext:
    """What decoding needs beyond the bytes: the tile transform, the up axis and file access."""

    source: TilesetSource
    transform: np.ndarray
    up_axis: str = "Y"
    warn: Callable[[str, str], None] = lambda label, message: None


def sniff_content_kind(data: bytes | memoryview) -> str:
    """``b3dm``, ``i3dm``, ``pnts``, ``cmpt``, ``glb``, ``json`` or the four-byte magic as text."""
    head = bytes(data[:4])
    if head in (b"b3dm", b"i3dm", b"pnts", b"cmpt"):
        return head.decode()
    if head == b"glTF":
        return "glb"
    stripped = bytes(data[:64]).lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return "json"
    return head.decode("ascii", errors="replace")


def decode_content(data: bytes | memoryview, loc: Location, ctx: DecodeContext) -> tuple[str, list[ContentFeature]]:
    """Decode one content file into features.

    Returns
    -------
    (kind, features): the content kind (``b3dm`` ...) and its features in ECEF.

    Raises
    ------
    FormatError
        naming the content when it is truncated, inconsistent or of an unsupported type.
    """
    kind = sniff_content_kind(data)
    if kind == "b3dm":
        return kind, _b3dm(data, loc, ctx)
    if kind == "i3dm":
        return kind, _i3dm(data, loc, ctx)
    if kind == "pnts":
        return kind, _pnts(data, loc, ctx)
    if kind == "cmpt":
        features: list[ContentFeature] = []
        for i, inner in enumerate(split_composite(data, loc.label)):
            inner_loc = Location(loc.path, loc.url, f"{loc.label}[{i}]")
            _, sub = decode_content(inner, inner_loc, ctx)
            for f in sub:
                f.key = f"[{i}]{f.key}"
            features.extend(sub)
        return kind, features
    if kind == "glb":
        doc, binary = parse_glb(data, loc.label)
        asset = _asset(doc, binary, loc, ctx.source)
        return kind, _gltf_features(asset, ctx, rtc=None, batch_table=None, loc=loc)
    if kind == "json":
        doc = parse_gltf_json(data, loc.label)
        asset = _asset(doc, None, loc, ctx.source)
        return "gltf", _gltf_features(asset, ctx, rtc=None, batch_table=None, loc=loc)
    known = {"geom": "geometry (geom)", "vctr": "vector (vctr)", "PK\x03\x04": "3TZ/zip archive"}
    if kind in known:
        raise FormatError(f"{known[kind]} content is not supported", path=loc.label, hint="readable content: b3dm, i3dm, pnts, cmpt, glb, glTF, external tileset JSON")
    raise FormatError(
        f"wrong magic {bytes(data[:4])!r}: not a tile content",
        path=loc.label,
        hint="readable content: b3dm, i3dm, pnts, cmpt, glb, glTF, external tileset JSON",
    )


# --- glTF-based content ---------------------------------------------------------------------------
def _asset(doc: dict[str, Any], binary: memoryview | None, loc: Location, source: TilesetSource) -> GltfAsset:
    buffers = doc.get("buffers") or []
    cache: dict[int, memoryview] = {}

    def buffer(index: int) -> memoryview:
        if index in cache:
            return cache[index]
        if not 0 <= index < len(buffers):
            raise FormatError(f"buffer {index} does not exist", path=loc.label)
        uri = buffers[index].get("uri")
        if uri is None:
            if binary is None or index != 0:
                raise FormatError(f"buffer {index} has no uri and there is no GLB binary chunk", path=loc.label)
            data = binary
        elif uri.startswith("data:"):
            data = memoryview(decode_data_uri(uri, loc.label))
        else:
            data = memoryview(source.read_bytes(source.resolve(uri, loc)))
        declared = int(buffers[index].get("byteLength", len(data)))
        if declared > len(data):
            raise FormatError(
                f"buffer {index} declares {declared} bytes but has {len(data)}",
                path=loc.label,
                hint="the glTF binary is truncated",
            )
        cache[index] = data
        return data

    return GltfAsset(doc, buffer, loc.label)


def _world(ctx: DecodeContext, rtc: np.ndarray | None) -> np.ndarray:
    """Matrix from glTF space to ECEF for content without instancing."""
    m = _UP_AXIS.get(ctx.up_axis.upper(), Y_UP_TO_Z_UP)
    if rtc is not None:
        t = np.eye(4)
        t[:3, 3] = rtc
        m = t @ m
    return ctx.transform @ m


def _gltf_features(
    asset: GltfAsset,
    ctx: DecodeContext,
    *,
    rtc: np.ndarray | None,
    batch_table: BatchTable | None,
    loc: Location,
) -> list[ContentFeature]:
    gltf_rtc = asset.rtc_center()
    if gltf_rtc is not None:
        rtc = gltf_rtc if rtc is None else rtc + gltf_rtc
    world = _world(ctx, rtc)
    tables = read_property_tables(asset, lambda uri: ctx.source.read_json(ctx.source.resolve(uri, loc)))
    groups: dict[str, _Group] = {}
    mesh_nodes: dict[int, int] = {}
    points: list[np.ndarray] = []
    texture_warned = False
    for prim in asset.primitives():
        vertices = _transform(world, prim.vertices)
        if prim.texture_feature_ids and not texture_warned:
            ctx.warn(loc.label, "feature ids stored in a texture are not split per texel; each primitive is kept as one feature")
            texture_warned = True
        if prim.points:
            points.append(vertices)
            continue
        if not len(prim.triangles):
            continue
        if prim.feature_ids is None:
            first_node = mesh_nodes.setdefault(prim.mesh_index, prim.node_index)
            key = f"mesh{prim.mesh_index}" if first_node == prim.node_index else f"mesh{prim.mesh_index}-node{prim.node_index}"
            _group(groups, key, None, None).add(vertices, prim.triangles)
            continue
        _split_by_feature(groups, prim, vertices, tables, batch_table, loc)
    features = [g.feature(key) for key, g in groups.items()]
    if points:
        pts = np.concatenate(points)
        features.append(
            ContentFeature("points", "PointCloud", {"point_count": len(pts)}, pts, np.zeros((0, 3), np.int32))
        )
    return features


@dataclass(slots=True)
class _Group:
    """Geometry and properties collected for one feature of a content."""

    properties: dict[str, Any]
    vertices: list[np.ndarray] = field(default_factory=list)
    triangles: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(self, vertices: np.ndarray, triangles: np.ndarray) -> None:
        self.vertices.append(vertices)
        self.triangles.append(triangles + self.count)
        self.count += len(vertices)

    def feature(self, key: str) -> ContentFeature:
        vertices = np.concatenate(self.vertices) if self.vertices else np.zeros((0, 3))
        triangles = np.concatenate(self.triangles).astype(np.int32) if self.triangles else np.zeros((0, 3), np.int32)
        return ContentFeature(key, feature_kind(self.properties), self.properties, vertices, triangles)


def _group(groups: dict[str, _Group], key: str, properties: dict[str, Any] | None, cls: str | None) -> _Group:
    group = groups.get(key)
    if group is None:
        props = dict(properties or {})
        if cls is not None:
            props["tiles:class"] = cls
        group = groups[key] = _Group(props)
    return group


def _split_by_feature(
    groups: dict[str, _Group],
    prim: Primitive,
    vertices: np.ndarray,
    tables: list[PropertyTable],
    batch_table: BatchTable | None,
    loc: Location,
) -> None:
    assert prim.feature_ids is not None
    if len(prim.feature_ids) != len(vertices):
        raise FormatError(
            f"mesh {prim.mesh_index}: {len(prim.feature_ids)} feature ids for {len(vertices)} vertices",
            path=loc.label,
        )
    ids = prim.feature_ids
    tri_ids = ids[prim.triangles[:, 0]]
    # Feature ids are per vertex, so each vertex normally belongs to one feature: sort vertices and
    # triangles by feature and cut both into contiguous runs (no per-feature search).
    v_order = np.argsort(ids, kind="stable")
    v_sorted = ids[v_order]
    new_index = np.empty(len(ids), dtype=np.int64)
    new_index[v_order] = np.arange(len(ids))
    t_order = np.argsort(tri_ids, kind="stable")
    t_sorted = tri_ids[t_order]
    unique = np.unique(t_sorted)
    v_start = np.searchsorted(v_sorted, unique, side="left")
    v_end = np.searchsorted(v_sorted, unique, side="right")
    t_start = np.searchsorted(t_sorted, unique, side="left")
    t_end = np.searchsorted(t_sorted, unique, side="right")
    remapped = new_index[prim.triangles[t_order]]
    feature_start = np.repeat(v_start, t_end - t_start)[:, None]
    local_all = remapped - feature_start
    feature_len = np.repeat(v_end - v_start, t_end - t_start)[:, None]
    clean = bool(((local_all >= 0) & (local_all < feature_len)).all())
    sorted_vertices = vertices[v_order]
    table = tables[prim.property_table] if prim.property_table is not None and prim.property_table < len(tables) else None
    for k, fid in enumerate(unique.tolist()):
        ts, te = int(t_start[k]), int(t_end[k])
        if clean:
            part_v = sorted_vertices[int(v_start[k]) : int(v_end[k])]
            local = local_all[ts:te].astype(np.int32)
        else:  # triangles that mix features: compact this feature's vertices the slow way
            used, inverse = np.unique(prim.triangles[t_order[ts:te]], return_inverse=True)
            part_v, local = vertices[used], inverse.reshape(-1, 3).astype(np.int32)
        if prim.null_feature_id is not None and fid == prim.null_feature_id:
            key, props, cls = f"mesh{prim.mesh_index}-unassigned", {}, None
        elif table is not None:
            key, props, cls = f"t{prim.property_table}:{fid}", table.row(fid), table.class_name
        elif batch_table is not None:
            key, props = str(fid), batch_table.feature(fid)
            cls = batch_table.hierarchy_class[fid] if batch_table.hierarchy_class and 0 <= fid < len(batch_table.hierarchy_class) else None
        else:
            key, props, cls = str(fid), {}, None
        _group(groups, key, props, cls).add(part_v, local)


def _transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def feature_kind(properties: dict[str, Any]) -> str:
    """``Building`` when the feature's class or a type property says so, else ``Feature``."""
    for name in _TYPE_PROPERTIES:
        value = properties.get(name)
        if isinstance(value, str) and value.strip().lower() in _BUILDING_NAMES:
            return "Building"
    return "Feature"


# --- 3D Tiles 1.0 containers ----------------------------------------------------------------------
def _warn_container(container: Container, loc: Location, ctx: DecodeContext) -> None:
    for message in container.warnings:
        ctx.warn(loc.label, message)


def _b3dm(data: bytes | memoryview, loc: Location, ctx: DecodeContext) -> list[ContentFeature]:
    c = split_container(data, loc.label)
    _warn_container(c, loc, ctx)
    batch_length = c.feature_table.length
    batch_table = c.batch_table(batch_length) if batch_length else None
    rtc = c.feature_table.vector("RTC_CENTER")
    doc, binary = parse_glb(c.payload, loc.label)
    asset = _asset(doc, binary, loc, ctx.source)
    return _gltf_features(asset, ctx, rtc=rtc, batch_table=batch_table, loc=loc)


def _i3dm(data: bytes | memoryview, loc: Location, ctx: DecodeContext) -> list[ContentFeature]:
    c = split_container(data, loc.label)
    _warn_container(c, loc, ctx)
    ft = c.feature_table
    n = ft.length
    if c.gltf_format == 0:
        uri = bytes(c.payload).rstrip(b" \x00").decode("utf-8", errors="replace")
        gloc = ctx.source.resolve(uri, loc)
        raw = ctx.source.read_bytes(gloc)
        if bytes(raw[:4]) == b"glTF":
            doc, binary = parse_glb(raw, gloc.label)
        else:
            doc, binary = parse_gltf_json(raw, gloc.label), None
        asset = _asset(doc, binary, gloc, ctx.source)
    else:
        doc, binary = parse_glb(c.payload, loc.label)
        asset = _asset(doc, binary, loc, ctx.source)

    # The instanced model in the tile's z-up frame (node transforms and up-axis applied).
    up = _UP_AXIS.get(ctx.up_axis.upper(), Y_UP_TO_Z_UP)
    pieces_v, pieces_t, count = [], [], 0
    for prim in asset.primitives():
        if prim.points or not len(prim.triangles):
            continue
        pieces_v.append(_transform(up, prim.vertices))
        pieces_t.append(prim.triangles + count)
        count += len(prim.vertices)
    if not pieces_v:
        return []
    model_v = np.concatenate(pieces_v)
    model_t = np.concatenate(pieces_t).astype(np.int32)

    positions = _feature_table_positions(ft, "i3dm", loc).reshape(n, 3)
    rtc = ft.vector("RTC_CENTER")
    if rtc is not None:
        positions = positions + rtc

    up_vectors = ft.array("NORMAL_UP", "FLOAT", 3)
    right_vectors = ft.array("NORMAL_RIGHT", "FLOAT", 3)
    if up_vectors is None and ft.get("NORMAL_UP_OCT32P") is not None:
        up_vectors = _oct_decode(ft.array("NORMAL_UP_OCT32P", "UNSIGNED_SHORT", 2), 65535)
        right_vectors = _oct_decode(ft.array("NORMAL_RIGHT_OCT32P", "UNSIGNED_SHORT", 2), 65535)
    east_north_up = bool(ft.get("EAST_NORTH_UP", False))
    scale_uniform = ft.array("SCALE", "FLOAT", 1)
    scale_xyz = ft.array("SCALE_NON_UNIFORM", "FLOAT", 3)
    batch_ids = ft.array("BATCH_ID", "UNSIGNED_SHORT", 1)
    batch_length = int(batch_ids.max()) + 1 if batch_ids is not None and len(batch_ids) else n
    batch_table = c.batch_table(batch_length) if c.batch_json else None

    tile_rot = ctx.transform[:3, :3]
    groups: dict[str, _Group] = {}
    for i in range(n):
        if up_vectors is not None and right_vectors is not None:
            up_v = np.asarray(up_vectors[i], dtype=np.float64)
            right_v = np.asarray(right_vectors[i], dtype=np.float64)
        elif east_north_up:
            ecef = ctx.transform[:3, :3] @ positions[i] + ctx.transform[:3, 3]
            east, north, _ = _enu_axes(ecef)
            # Axes expressed in the tile frame (the tile transform is applied afterwards).
            inv = np.linalg.inv(tile_rot) if abs(np.linalg.det(tile_rot)) > 1e-12 else np.eye(3)
            right_v, up_v = inv @ east, inv @ north
        else:
            right_v, up_v = np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
        forward = np.cross(right_v, up_v)
        rotation = np.column_stack([right_v, up_v, forward])
        scale = np.ones(3)
        if scale_uniform is not None:
            scale = scale * float(scale_uniform[i])
        if scale_xyz is not None:
            scale = scale * np.asarray(scale_xyz[i], dtype=np.float64)
        local = (model_v * scale) @ rotation.T + positions[i]
        ecef_v = _transform(ctx.transform, local)
        bid = int(batch_ids[i]) if batch_ids is not None else i
        key = f"batch{bid}" if batch_ids is not None else f"instance{i}"
        props = batch_table.feature(bid) if batch_table is not None else {}
        _group(groups, key, props, None).add(ecef_v, model_t)
    return [g.feature(key) for key, g in groups.items()]


def _feature_table_positions(ft: FeatureTable, kind: str, loc: Location) -> np.ndarray:
    """``(n, 3)`` float64 positions of an i3dm or pnts feature table: ``POSITION``, else
    ``POSITION_QUANTIZED`` scaled into its quantized volume.

    Raises
    ------
    FormatError
        when the table has neither.
    """
    positions = ft.array("POSITION", "FLOAT", 3)
    if positions is not None:
        return positions.astype(np.float64).reshape(-1, 3)
    quantized = ft.array("POSITION_QUANTIZED", "UNSIGNED_SHORT", 3)
    offset, scale = ft.vector("QUANTIZED_VOLUME_OFFSET"), ft.vector("QUANTIZED_VOLUME_SCALE")
    if quantized is None or offset is None or scale is None:
        raise FormatError(f"{kind} has neither POSITION nor POSITION_QUANTIZED with its volume", path=loc.label)
    return (quantized.astype(np.float64) / 65535.0 * scale + offset).reshape(-1, 3)


def _enu_axes(ecef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East, north and up unit vectors at an ECEF point (geodetic normal on WGS84)."""
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    x, y, z = ecef
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1 - e2))
    for _ in range(5):
        n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n if abs(np.cos(lat)) > 1e-12 else 0.0
        lat = np.arctan2(z, p * (1 - e2 * n / (n + h)))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    east = np.array([-so, co, 0.0])
    north = np.array([-sl * co, -sl * so, cl])
    up = np.array([cl * co, cl * so, sl])
    return east, north, up


def _oct_decode(encoded: np.ndarray | None, range_max: int) -> np.ndarray | None:
    """Oct-encoded unit vectors (``NORMAL_*_OCT32P``) to float vectors."""
    if encoded is None:
        return None
    e = encoded.astype(np.float64) / range_max * 2.0 - 1.0
    x, y = e[:, 0], e[:, 1]
    z = 1.0 - np.abs(x) - np.abs(y)
    neg = z < 0
    x2 = np.where(neg, (1.0 - np.abs(y)) * np.sign(x), x)
    y2 = np.where(neg, (1.0 - np.abs(x)) * np.sign(y), y)
    v = np.stack([x2, y2, z], axis=1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _pnts(data: bytes | memoryview, loc: Location, ctx: DecodeContext) -> list[ContentFeature]:
    c = split_container(data, loc.label)
    _warn_container(c, loc, ctx)
    ft = c.feature_table
    n = ft.length
    draco = ((ft.get("extensions") or {}).get("3DTILES_draco_point_compression")) if isinstance(ft.get("extensions"), dict) else None
    positions = None
    if draco is not None and "POSITION" in (draco.get("properties") or {}):
        import DracoPy

        start, length = int(draco.get("byteOffset", 0)), int(draco["byteLength"])
        if start + length > len(ft.binary):
            raise FormatError("3DTILES_draco_point_compression data runs past the feature table", path=loc.label)
        try:
            cloud = DracoPy.decode(bytes(ft.binary[start : start + length]))
        except Exception as exc:  # DracoPy raises its own failure types
            raise FormatError(f"Draco point data does not decode: {exc}", path=loc.label) from exc
        attr = cloud.get_attribute_by_unique_id(int(draco["properties"]["POSITION"]))
        positions = np.asarray(attr["data"] if attr is not None else cloud.points, dtype=np.float64).reshape(-1, 3)
    if positions is None:
        positions = _feature_table_positions(ft, "pnts", loc)
    if len(positions) != n:
        raise FormatError(f"pnts has {len(positions)} positions for POINTS_LENGTH {n}", path=loc.label)
    rtc = ft.vector("RTC_CENTER")
    world = ctx.transform.copy()
    if rtc is not None:
        t = np.eye(4)
        t[:3, 3] = rtc
        world = world @ t
    properties: dict[str, Any] = {"point_count": n}
    names = sorted(k for k in c.batch_json if k not in ("extensions", "extras"))
    if names:
        properties["point_properties"] = names
    return [ContentFeature("points", "PointCloud", properties, _transform(world, positions), np.zeros((0, 3), np.int32))]
