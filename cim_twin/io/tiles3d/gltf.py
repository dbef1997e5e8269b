"""glTF 2.0 geometry as numpy arrays: GLB/JSON parsing, accessors, node transforms, Draco.

Decodes what 3D Tiles content needs and keeps it in numpy: positions (``KHR_mesh_quantization``
normalized and integer attributes included), triangles from every primitive mode that has them,
feature ids (``_BATCHID`` and ``EXT_mesh_features`` attributes), node transforms and
``CESIUM_RTC``. ``KHR_draco_mesh_compression`` is decoded with DracoPy; ``EXT_meshopt_compression``
has no well-kept Python decoder, so such content fails with an error naming the extension.

trimesh's glTF loader would give positions too, but it drops the per-primitive
``EXT_mesh_features`` bindings and feature-id attributes that tie geometry to features, so the
accessor layer is done here on plain numpy.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import FormatError
from .source import parse_json

__all__ = ["GltfAsset", "Primitive", "parse_glb", "parse_gltf_json"]

_COMPONENTS: dict[int, np.dtype[Any]] = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
#: Extensions whose data this module cannot decode: content using them is refused by name.
UNDECODABLE = {
    "EXT_meshopt_compression": "no maintained Python decoder for meshopt; decompress with gltfpack -noq or gltf-transform",
    "KHR_meshopt_compression": "no maintained Python decoder for meshopt; decompress with gltfpack or gltf-transform",
}


@dataclass(slots=True)
class Primitive:
    """One drawable piece of a glTF after its node transforms (still in glTF's y-up frame).

    ``feature_ids`` holds per-vertex feature ids of the chosen feature-id set (None: the
    primitive has none); ``property_table`` is that set's property table index (or None);
    ``points`` marks point primitives (mode 0, no triangles).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    feature_ids: np.ndarray | None
    property_table: int | None
    null_feature_id: int | None
    mesh_index: int
    node_index: int
    points: bool = False
    texture_feature_ids: bool = False


@dataclass(slots=True)
class GltfAsset:
    """A parsed glTF: its JSON and a function that resolves buffer ``i`` to bytes."""

    json: dict[str, Any]
    buffer: Callable[[int], memoryview]
    label: str

    # --- accessors -------------------------------------------------------------------------------
    def buffer_view(self, index: int) -> memoryview:
        views = self.json.get("bufferViews") or []
        if not 0 <= index < len(views):
            raise FormatError(f"bufferView {index} does not exist", path=self.label)
        bv = views[index]
        for name in UNDECODABLE:
            if name in (bv.get("extensions") or {}):
                # The plain view is only a fallback placeholder unless its buffer holds real data.
                buffers = self.json.get("buffers") or []
                target = buffers[int(bv.get("buffer", 0))] if int(bv.get("buffer", 0)) < len(buffers) else {}
                if target.get("uri") is None and (target.get("extensions") or {}).get(name, {}).get("fallback", True):
                    raise FormatError(
                        f"content uses {name}, which cannot be decoded here",
                        path=self.label,
                        hint=UNDECODABLE[name],
                    )
        data = self.buffer(int(bv.get("buffer", 0)))
        start = int(bv.get("byteOffset", 0))
        length = int(bv["byteLength"])
        if start < 0 or start + length > len(data):
            raise FormatError(
                f"bufferView {index} ({length} bytes at {start}) runs past its buffer ({len(data)} bytes)",
                path=self.label,
                hint="the glTF binary is truncated or inconsistent",
            )
        return data[start : start + length]

    def accessor(self, index: int, *, as_float: bool = True) -> np.ndarray:
        """Accessor ``index`` as ``(count, n)`` (``(count,)`` for scalars).

        Normalized integer accessors are mapped to [-1, 1] / [0, 1] as glTF defines (so quantized
        positions decode correctly); with ``as_float`` integers come back as float64.

        Raises
        ------
        FormatError
            for missing accessors, unknown types or data running past its buffer view.
        """
        accessors = self.json.get("accessors") or []
        if not 0 <= index < len(accessors):
            raise FormatError(f"accessor {index} does not exist", path=self.label)
        acc = accessors[index]
        dtype = _COMPONENTS.get(acc.get("componentType"))
        size = _TYPE_SIZES.get(acc.get("type", ""))
        if dtype is None or size is None:
            raise FormatError(
                f"accessor {index} has unknown componentType/type {acc.get('componentType')}/{acc.get('type')}",
                path=self.label,
            )
        count = int(acc.get("count", 0))
        if "bufferView" in acc:
            view = self.buffer_view(int(acc["bufferView"]))
            bv = self.json["bufferViews"][int(acc["bufferView"])]
            offset = int(acc.get("byteOffset", 0))
            element = dtype.itemsize * size
            stride = int(acc.get("byteStride") or bv.get("byteStride") or element)  # glTF 1.0 keeps it on the accessor
            if count and offset + stride * (count - 1) + element > len(view):
                raise FormatError(
                    f"accessor {index} ({count} x {element} bytes, stride {stride}) runs past its bufferView",
                    path=self.label,
                    hint="the glTF binary is truncated or inconsistent",
                )
            if stride == element:
                arr = np.frombuffer(view, dtype=dtype, count=count * size, offset=offset).reshape(count, size)
            else:
                raw = np.frombuffer(view, dtype=np.uint8, count=stride * (count - 1) + element if count else 0, offset=offset)
                rows = np.lib.stride_tricks.as_strided(raw, shape=(count, element), strides=(stride, 1)) if count else raw.reshape(0, element)
                arr = np.ascontiguousarray(rows).view(dtype).reshape(count, size)
        else:
            arr = np.zeros((count, size), dtype=dtype)
        sparse = acc.get("sparse")
        if sparse:
            arr = arr.copy()
            idx_acc = sparse["indices"]
            idx_dtype = _COMPONENTS[idx_acc["componentType"]]
            n = int(sparse["count"])
            idx = np.frombuffer(self.buffer_view(int(idx_acc["bufferView"])), dtype=idx_dtype, count=n, offset=int(idx_acc.get("byteOffset", 0)))
            val_acc = sparse["values"]
            vals = np.frombuffer(self.buffer_view(int(val_acc["bufferView"])), dtype=dtype, count=n * size, offset=int(val_acc.get("byteOffset", 0)))
            arr[idx.astype(np.int64)] = vals.reshape(n, size)
        if acc.get("normalized") and dtype.kind in "iu":
            info = np.iinfo(dtype)
            out = arr.astype(np.float64) / float(info.max)
            if dtype.kind == "i":
                out = np.maximum(out, -1.0)
        elif as_float:
            out = arr.astype(np.float64)
        else:
            out = arr
        return out[:, 0] if size == 1 else out

    # --- scene traversal -------------------------------------------------------------------------
    def node_matrices(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(node index, 4x4 world matrix)`` for every node of the default scene, parents first."""
        nodes = self.json.get("nodes") or []
        scenes = self.json.get("scenes") or []
        if scenes:
            scene_index = int(self.json.get("scene", 0))
            if not 0 <= scene_index < len(scenes):
                raise FormatError(f"default scene {scene_index} does not exist", path=self.label)
            roots = list(scenes[scene_index].get("nodes") or [])
        else:
            children = {c for n in nodes for c in (n.get("children") or [])}
            roots = [i for i in range(len(nodes)) if i not in children]
        stack = [(int(r), np.eye(4)) for r in reversed(roots)]
        seen: set[int] = set()
        while stack:
            index, parent = stack.pop()
            if not 0 <= index < len(nodes):
                raise FormatError(f"node {index} does not exist", path=self.label)
            if index in seen:
                raise FormatError(f"node {index} is reached twice (the node graph has a cycle)", path=self.label)
            seen.add(index)
            world = parent @ _node_matrix(nodes[index])
            yield index, world
            for child in reversed(nodes[index].get("children") or []):
                stack.append((int(child), world))

    def primitives(self) -> Iterator[Primitive]:
        """Every primitive of every mesh node with world transform applied (glTF frame)."""
        meshes = self.json.get("meshes") or []
        nodes = self.json.get("nodes") or []
        used = set(self.json.get("extensionsRequired") or [])
        for name, hint in UNDECODABLE.items():
            if name in used:
                raise FormatError(f"content requires {name}, which cannot be decoded here", path=self.label, hint=hint)
        for node_index, matrix in self.node_matrices():
            node = nodes[node_index]
            if "mesh" not in node:
                continue
            mesh_index = int(node["mesh"])
            if not 0 <= mesh_index < len(meshes):
                raise FormatError(f"node {node_index} names mesh {mesh_index}, which does not exist", path=self.label)
            instances, instance_table, instance_null = self._gpu_instances(node)
            for prim in meshes[mesh_index].get("primitives") or []:
                decoded = self._primitive(prim, mesh_index, node_index)
                if decoded is None:
                    continue
                for inst, instance_id in instances:
                    world = matrix @ inst
                    if instance_id is not None:  # EXT_instance_features: the instance is the feature
                        ids: np.ndarray | None = np.full(len(decoded.vertices), instance_id, dtype=np.int64)
                        table, null_id = instance_table, instance_null
                    else:
                        ids, table, null_id = decoded.feature_ids, decoded.property_table, decoded.null_feature_id
                    yield Primitive(
                        vertices=_apply(world, decoded.vertices),
                        triangles=decoded.triangles,
                        feature_ids=ids,
                        property_table=table,
                        null_feature_id=null_id,
                        mesh_index=mesh_index,
                        node_index=node_index,
                        points=decoded.points,
                        texture_feature_ids=decoded.texture_feature_ids,
                    )

    def _gpu_instances(self, node: dict[str, Any]) -> tuple[list[tuple[np.ndarray, int | None]], int | None, int | None]:
        """Instance matrices of ``EXT_mesh_gpu_instancing`` with their ``EXT_instance_features``
        feature ids, and that feature-id set's property table and null id."""
        extensions = node.get("extensions") or {}
        ext = extensions.get("EXT_mesh_gpu_instancing")
        if not ext:
            return [(np.eye(4), None)], None, None
        attrs = ext.get("attributes") or {}
        feature_sets = (extensions.get("EXT_instance_features") or {}).get("featureIds") or []
        chosen = next((f for f in feature_sets if "propertyTable" in f), feature_sets[0] if feature_sets else None)
        instance_ids: np.ndarray | None = None
        if chosen is not None:
            if "attribute" in chosen and f"_FEATURE_ID_{int(chosen['attribute'])}" in attrs:
                instance_ids = np.rint(self.accessor(attrs[f"_FEATURE_ID_{int(chosen['attribute'])}"])).astype(np.int64)
            elif "attribute" not in chosen:
                instance_ids = None  # implicit: the instance index, filled below
        table = int(chosen["propertyTable"]) if chosen is not None and "propertyTable" in chosen else None
        null_id = int(chosen["nullFeatureId"]) if chosen is not None and "nullFeatureId" in chosen else None
        t = self.accessor(attrs["TRANSLATION"]) if "TRANSLATION" in attrs else None
        r = self.accessor(attrs["ROTATION"]) if "ROTATION" in attrs else None
        s = self.accessor(attrs["SCALE"]) if "SCALE" in attrs else None
        count = max((len(a) for a in (t, r, s) if a is not None), default=1)
        out = []
        for i in range(count):
            trs: dict[str, Any] = {}
            if t is not None:
                trs["translation"] = t[i].tolist()
            if r is not None:
                trs["rotation"] = r[i].tolist()
            if s is not None:
                trs["scale"] = s[i].tolist()
            if chosen is None:
                fid = None
            elif instance_ids is not None:
                fid = int(instance_ids[i])
            else:
                fid = i
            out.append((_node_matrix(trs), fid))
        return out, table, null_id

    def _primitive(self, prim: dict[str, Any], mesh_index: int, node_index: int) -> Primitive | None:
        mode = int(prim.get("mode", 4))
        attributes = prim.get("attributes") or {}
        extensions = prim.get("extensions") or {}
        draco = extensions.get("KHR_draco_mesh_compression")
        decoded_attrs: dict[str, np.ndarray] = {}
        indices: np.ndarray | None = None
        if draco is not None:
            decoded_attrs, indices = self._draco(draco)
        if "POSITION" not in attributes and "POSITION" not in decoded_attrs:
            return None

        def attribute(name: str) -> np.ndarray | None:
            if name in decoded_attrs:
                return decoded_attrs[name]
            if name in attributes:
                return self.accessor(int(attributes[name]))
            return None

        positions = attribute("POSITION")
        assert positions is not None
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        if indices is None and "indices" in prim:
            indices = self.accessor(int(prim["indices"]), as_float=False).astype(np.int64)
        n = len(positions)
        if indices is not None and len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise FormatError(f"mesh {mesh_index}: indices point past the {n} vertices", path=self.label)
        triangles = _triangles(mode, indices, n)
        if triangles is None:  # lines: no surface, no feature geometry to keep
            return None
        # Feature ids: EXT_mesh_features (first set with a property table, else the first set),
        # else the 3D Tiles 1.0 batch id attribute.
        feature_ids = None
        texture_ids = False
        table: int | None = None
        null_id: int | None = None
        sets = (extensions.get("EXT_mesh_features") or {}).get("featureIds") or []
        if sets:
            chosen = next((s for s in sets if "propertyTable" in s), sets[0])
            table = chosen.get("propertyTable")
            null_id = chosen.get("nullFeatureId")
            if "attribute" in chosen:
                values = attribute(f"_FEATURE_ID_{int(chosen['attribute'])}")
                if values is None:
                    raise FormatError(
                        f"mesh {mesh_index}: EXT_mesh_features names _FEATURE_ID_{chosen['attribute']}, which is missing",
                        path=self.label,
                    )
                feature_ids = np.rint(values).astype(np.int64)
            elif "texture" in chosen:
                feature_ids = None  # ids live in a texture (per texel): the primitive stays one feature
                texture_ids = True
            else:
                feature_ids = np.arange(n, dtype=np.int64)  # implicit: the vertex index
        else:
            for name in ("_BATCHID", "BATCHID", "_BATCH_ID"):
                values = attribute(name)
                if values is not None:
                    feature_ids = np.rint(values).astype(np.int64)
                    break
        return Primitive(
            vertices=positions,
            triangles=triangles,
            feature_ids=feature_ids,
            property_table=int(table) if table is not None else None,
            null_feature_id=int(null_id) if null_id is not None else None,
            mesh_index=mesh_index,
            node_index=node_index,
            points=mode == 0,
            texture_feature_ids=texture_ids,
        )

    def _draco(self, ext: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        import DracoPy

        raw = bytes(self.buffer_view(int(ext["bufferView"])))
        try:
            mesh = DracoPy.decode(raw)
        except Exception as exc:  # DracoPy raises its own failure types
            raise FormatError(f"Draco data does not decode: {exc}", path=self.label) from exc
        out: dict[str, np.ndarray] = {}
        for name, unique_id in (ext.get("attributes") or {}).items():
            attr = mesh.get_attribute_by_unique_id(int(unique_id))
            if attr is not None:
                data = np.asarray(attr["data"], dtype=np.float64)
                out[name] = data[:, 0] if data.ndim == 2 and data.shape[1] == 1 else data
        out["POSITION"] = np.asarray(mesh.points, dtype=np.float64).reshape(-1, 3)
        faces = getattr(mesh, "faces", None)
        indices = None if faces is None else np.asarray(faces, dtype=np.int64).reshape(-1)
        return out, indices

    def rtc_center(self) -> np.ndarray | None:
        """The ``CESIUM_RTC`` centre (applied after the y-up to z-up rotation), None when absent."""
        ext = (self.json.get("extensions") or {}).get("CESIUM_RTC")
        if not ext or "center" not in ext:
            return None
        return np.asarray(ext["center"], dtype=np.float64)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    if np.array_equal(matrix, np.eye(4)):
        return points
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _node_matrix(node: dict[str, Any]) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T  # column-major
    m = np.eye(4)
    if "scale" in node:
        m = np.diag([*map(float, node["scale"]), 1.0]) @ m
    if "rotation" in node:
        x, y, z, w = map(float, node["rotation"])
        r = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        rot = np.eye(4)
        rot[:3, :3] = r
        m = rot @ m
    if "translation" in node:
        t = np.eye(4)
        t[:3, 3] = [float(v) for v in node["translation"]]
        m = t @ m
    return m


def _triangles(mode: int, indices: np.ndarray | None, n: int) -> np.ndarray | None:
    idx = np.arange(n, dtype=np.int64) if indices is None else indices.astype(np.int64)
    if mode == 4:
        usable = len(idx) - len(idx) % 3
        return idx[:usable].reshape(-1, 3).astype(np.int32)
    if mode == 5:  # strip: every other triangle flipped to keep the winding
        if len(idx) < 3:
            return np.zeros((0, 3), np.int32)
        k = np.arange(len(idx) - 2)
        tri = np.stack([idx[k], idx[k + 1], idx[k + 2]], axis=1)
        odd = k % 2 == 1
        tri[odd] = tri[odd][:, [1, 0, 2]]
        return tri.astype(np.int32)
    if mode == 6:  # fan
        if len(idx) < 3:
            return np.zeros((0, 3), np.int32)
        k = np.arange(1, len(idx) - 1)
        return np.stack([np.full(len(k), idx[0]), idx[k], idx[k + 1]], axis=1).astype(np.int32)
    if mode == 0:
        return np.zeros((0, 3), np.int32)
    return None


def parse_glb(data: bytes | memoryview, label: str) -> tuple[dict[str, Any], memoryview | None]:
    """Split a GLB into its JSON and binary chunk.

    Raises
    ------
    FormatError
        for a wrong magic, glTF 1.0, a length that disagrees with the bytes present, or chunks
        overrunning the file.
    """
    view = memoryview(data)
    if len(view) < 12 or bytes(view[:4]) != b"glTF":
        raise FormatError(f"wrong magic {bytes(view[:4])!r} (expected glTF)", path=label)
    version, length = struct.unpack_from("<II", view, 4)
    if version == 1:
        return _parse_glb1(view, label)
    if version != 2:
        raise FormatError(f"unsupported glTF version {version}", path=label)
    if length > len(view):
        raise FormatError(
            f"truncated glTF: header length {length} but only {len(view)} bytes present",
            path=label,
            hint="the content was cut short or its GLB header is corrupt",
        )
    pos, json_part, binary = 12, None, None
    while pos + 8 <= length:
        chunk_length, chunk_type = struct.unpack_from("<II", view, pos)
        start, end = pos + 8, pos + 8 + chunk_length
        if end > length:
            raise FormatError(f"GLB chunk of {chunk_length} bytes at {pos} runs past the GLB length {length}", path=label)
        if chunk_type == _CHUNK_JSON and json_part is None:
            json_part = parse_json(bytes(view[start:end]).rstrip(b" \x00"), label)
        elif chunk_type == _CHUNK_BIN and binary is None:
            binary = view[start:end]
        pos = end + (-end % 4)
    if not isinstance(json_part, dict):
        raise FormatError("GLB has no JSON chunk", path=label)
    return json_part, binary


def parse_gltf_json(data: bytes | memoryview, label: str) -> dict[str, Any]:
    """Parse a ``.gltf`` JSON document (glTF 1.0 is upgraded, see :func:`upgrade_gltf1`)."""
    doc = parse_json(data, label)
    if not isinstance(doc, dict) or "asset" not in doc:
        raise FormatError("not a glTF document (no asset)", path=label)
    version = str((doc.get("asset") or {}).get("version", ""))
    if version.startswith("1") or isinstance(doc.get("meshes"), dict):
        return upgrade_gltf1(doc, label)
    return doc


def _parse_glb1(view: memoryview, label: str) -> tuple[dict[str, Any], memoryview | None]:
    """Binary glTF 1.0 (``KHR_binary_glTF``), as early 3D Tiles 1.0 b3dm/i3dm carry it."""
    if len(view) < 20:
        raise FormatError("truncated glTF 1.0 header", path=label)
    length, content_length, content_format = struct.unpack_from("<III", view, 8)
    if content_format != 0:
        raise FormatError(f"glTF 1.0 content format {content_format} is not JSON", path=label)
    if length > len(view) or 20 + content_length > length:
        raise FormatError(
            f"truncated glTF 1.0: header length {length}, scene {content_length} bytes, {len(view)} present",
            path=label,
        )
    doc = parse_json(bytes(view[20 : 20 + content_length]).rstrip(b" \x00"), label)
    if not isinstance(doc, dict):
        raise FormatError("glTF 1.0 JSON is not an object", path=label)
    return upgrade_gltf1(doc, label), view[20 + content_length : length]


def upgrade_gltf1(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """The geometry of a glTF 1.0 document (id-keyed dictionaries) as glTF 2.0 (index arrays).

    Keeps what feature geometry needs: buffers (``binary_glTF`` becomes the GLB chunk), buffer
    views, accessors (their ``byteStride`` kept on the accessor), meshes, nodes with all their
    meshes, scenes and ``CESIUM_RTC``. Materials, techniques and shaders are dropped.
    """

    def ids(name: str) -> list[str]:
        value = doc.get(name) or {}
        if not isinstance(value, dict):
            raise FormatError(f"glTF 1.0 {name} is not an object", path=label)
        return list(value)

    buffer_ids = sorted(ids("buffers"), key=lambda k: k != "binary_glTF")
    view_ids, accessor_ids, mesh_ids, node_ids = ids("bufferViews"), ids("accessors"), ids("meshes"), ids("nodes")

    def index(table: list[str], key: Any, what: str) -> int:
        try:
            return table.index(key)
        except ValueError:
            raise FormatError(f"glTF 1.0 {what} {key!r} does not exist", path=label) from None

    buffers = []
    for k in buffer_ids:
        b = doc["buffers"][k]
        binary = k == "binary_glTF" or "KHR_binary_glTF" in (b.get("extensions") or {})
        buffers.append({"byteLength": b.get("byteLength", 0)} if binary else {"byteLength": b.get("byteLength", 0), "uri": b.get("uri")})
    views = [
        {"buffer": index(buffer_ids, v.get("buffer"), "buffer"), "byteOffset": v.get("byteOffset", 0), "byteLength": v.get("byteLength", 0)}
        for v in (doc["bufferViews"][k] for k in view_ids)
    ]
    accessors = []
    for k in accessor_ids:
        a = dict(doc["accessors"][k])
        a["bufferView"] = index(view_ids, a.get("bufferView"), "bufferView")
        accessors.append(a)
    meshes = []
    for k in mesh_ids:
        prims = []
        for p in doc["meshes"][k].get("primitives") or []:
            prim: dict[str, Any] = {
                "attributes": {n: index(accessor_ids, a, "accessor") for n, a in (p.get("attributes") or {}).items()},
                "mode": p.get("mode", 4),
            }
            if "indices" in p:
                prim["indices"] = index(accessor_ids, p["indices"], "accessor")
            prims.append(prim)
        meshes.append({"primitives": prims})
    nodes: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    for k in node_ids:
        n = doc["nodes"][k]
        node = {key: n[key] for key in ("matrix", "translation", "rotation", "scale") if key in n}
        node["children"] = [index(node_ids, c, "node") for c in n.get("children") or []]
        node_meshes = [index(mesh_ids, m, "mesh") for m in n.get("meshes") or []]
        if node_meshes:
            node["mesh"] = node_meshes[0]
        for m in node_meshes[1:]:  # glTF 2.0 has one mesh per node: the others become children
            node["children"].append(len(node_ids) + len(extra))
            extra.append({"mesh": m})
        nodes.append(node)
    nodes.extend(extra)
    scene_ids = ids("scenes")
    scenes = [{"nodes": [index(node_ids, n, "node") for n in doc["scenes"][k].get("nodes") or []]} for k in scene_ids]
    out: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "upgraded from glTF 1.0"},
        "buffers": buffers,
        "bufferViews": views,
        "accessors": accessors,
        "meshes": meshes,
        "nodes": nodes,
        "scenes": scenes,
    }
    if scene_ids:
        out["scene"] = scene_ids.index(doc["scene"]) if doc.get("scene") in scene_ids else 0
    if "CESIUM_RTC" in (doc.get("extensions") or {}):
        out["extensions"] = {"CESIUM_RTC": doc["extensions"]["CESIUM_RTC"]}
    return out


def decode_data_uri(uri: str, label: str) -> bytes:
    """The bytes of a ``data:...;base64,`` URI."""
    head, _, payload = uri.partition(",")
    if ";base64" not in head:
        raise FormatError("data URI is not base64-encoded", path=label)
    try:
        return base64.b64decode(payload, validate=False)
    except ValueError as exc:
        raise FormatError(f"data URI does not decode: {exc}", path=label) from exc
