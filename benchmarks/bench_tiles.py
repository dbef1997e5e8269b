"""Benchmark: reading a large 3D tileset (time and peak memory against features and tiles).

Writes synthetic 3D Tiles 1.1 tilesets the way a CIM export lays them out -- glb content with
``EXT_mesh_features`` feature ids and an ``EXT_structural_metadata`` property table (gml_id,
height, storeys, function), one box building per feature, a grid of leaf tiles under a REPLACE
quadtree whose inner tiles hold coarse copies of the same buildings -- then reads each with
``read_tileset`` (geometry kept) and ``tileset_info`` (boxes only), each run in a fresh process so
the peak RSS is its own.

Usage::

    python benchmarks/bench_tiles.py                      # 1k, 10k, 100k buildings
    python benchmarks/bench_tiles.py --sizes 1000:16 10000:256 --repeat 1

``N:T`` means N buildings over T leaf tiles (T a power of 4). Files go to benchmarks/_work/.

A tileset written by ``cim-twin export`` (or any other tool) is measured the same way with::

    python benchmarks/bench_tiles.py --tileset benchmarks/_work/e100k/cim/buildings/tileset.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORK = Path(__file__).resolve().parent / "_work" / "tiles"
LON0, LAT0 = 118.17, 26.64  # Nanping
BUILDING_SPACING_M = 30.0


def enu_to_ecef(lon: float, lat: float) -> np.ndarray:
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    lo, la = math.radians(lon), math.radians(lat)
    n = a / math.sqrt(1 - e2 * math.sin(la) ** 2)
    origin = [n * math.cos(la) * math.cos(lo), n * math.cos(la) * math.sin(lo), n * (1 - e2) * math.sin(la)]
    m = np.eye(4)
    m[:3, 0] = [-math.sin(lo), math.cos(lo), 0]
    m[:3, 1] = [-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)]
    m[:3, 2] = [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]
    m[:3, 3] = origin
    return m


_BOX_T = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                   [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]], dtype=np.uint32)
_BOX_V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64)


def glb_for(ids: list[str], xy: np.ndarray, size: np.ndarray, height: np.ndarray) -> bytes:
    """A glb with one box per building, feature ids and a property table (z-up input, written y-up)."""
    n = len(ids)
    v = (_BOX_V[None, :, :] * np.stack([size, size, height], axis=1)[:, None, :]).reshape(n, 8, 3)
    v[:, :, 0] += xy[:, 0, None]
    v[:, :, 1] += xy[:, 1, None]
    v = v.reshape(-1, 3)
    yup = np.column_stack([v[:, 0], v[:, 2], -v[:, 1]]).astype(np.float32)
    tri = (_BOX_T[None] + (np.arange(n, dtype=np.uint32) * 8)[:, None, None]).reshape(-1).astype(np.uint32)
    fid = np.repeat(np.arange(n, dtype=np.float32), 8)
    names = [s.encode() for s in ids]
    str_offsets = np.concatenate([[0], np.cumsum([len(s) for s in names])]).astype(np.uint32)
    storeys = np.maximum(1, np.round(height / 3.0)).astype(np.uint8)
    function = (np.arange(n) % 3).astype(np.uint8)
    blobs = [yup.tobytes(), tri.tobytes(), fid.tobytes(), b"".join(names), str_offsets.tobytes(),
             height.astype(np.float32).tobytes(), storeys.tobytes(), function.tobytes()]
    views, body = [], b""
    for blob in blobs:
        views.append({"buffer": 0, "byteOffset": len(body), "byteLength": len(blob)})
        body += blob + b"\0" * (-len(blob) % 8)
    doc = {
        "asset": {"version": "2.0", "generator": "cim_twin bench_tiles"},
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "buffers": [{"byteLength": len(body)}],
        "bufferViews": views,
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(yup), "type": "VEC3",
             "min": yup.min(axis=0).tolist(), "max": yup.max(axis=0).tolist()},
            {"bufferView": 1, "componentType": 5125, "count": len(tri), "type": "SCALAR"},
            {"bufferView": 2, "componentType": 5126, "count": len(fid), "type": "SCALAR"},
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "_FEATURE_ID_0": 2}, "indices": 1, "mode": 4,
                                    "extensions": {"EXT_mesh_features": {"featureIds": [{"featureCount": n, "attribute": 0, "propertyTable": 0}]}}}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
        "extensions": {"EXT_structural_metadata": {
            "schema": {"id": "cim", "classes": {"building": {"properties": {
                "gml_id": {"type": "STRING"}, "height": {"type": "SCALAR", "componentType": "FLOAT32"},
                "storeys": {"type": "SCALAR", "componentType": "UINT8"},
                "function": {"type": "ENUM", "enumType": "function"}}}},
                "enums": {"function": {"valueType": "UINT8", "values": [{"name": "residential", "value": 0},
                                                                          {"name": "commercial", "value": 1},
                                                                          {"name": "public", "value": 2}]}}},
            "propertyTables": [{"class": "building", "count": n, "properties": {
                "gml_id": {"values": 3, "stringOffsets": 4}, "height": {"values": 5},
                "storeys": {"values": 6}, "function": {"values": 7}}}]}},
    }
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    total = 12 + 8 + len(js) + 8 + len(body)
    return b"".join([struct.pack("<III", 0x46546C67, 2, total), struct.pack("<II", len(js), 0x4E4F534A), js,
                     struct.pack("<II", len(body), 0x004E4942), body])


def write_tileset(folder: Path, buildings: int, leaves: int) -> Path:
    """``buildings`` boxes on a square grid, ``leaves`` leaf tiles (a power of 4) under a REPLACE
    quadtree; every inner tile holds a coarse copy (lower, same gml_id) of its buildings."""
    levels = round(math.log(leaves, 4))
    assert 4**levels == leaves, "leaf tiles must be a power of 4"
    side = math.ceil(math.sqrt(buildings))
    extent = side * BUILDING_SPACING_M
    rng = np.random.default_rng(42)
    idx = np.arange(buildings)
    xy = np.column_stack([(idx % side) * BUILDING_SPACING_M, (idx // side) * BUILDING_SPACING_M]).astype(np.float64)
    size = rng.uniform(10, 20, buildings)
    height = rng.uniform(6, 60, buildings)
    ids = [f"bldg_{i:07d}" for i in idx]
    folder.mkdir(parents=True, exist_ok=True)

    def tile(level: int, tx: int, ty: int) -> dict:
        cell = extent / 2**level
        x0, y0 = tx * cell, ty * cell
        inside = np.nonzero((xy[:, 0] >= x0) & (xy[:, 0] < x0 + cell) & (xy[:, 1] >= y0) & (xy[:, 1] < y0 + cell))[0]
        node: dict = {"boundingVolume": {"box": [x0 + cell / 2, y0 + cell / 2, 35, cell / 2, 0, 0, 0, cell / 2, 0, 0, 0, 35]},
                      "geometricError": 0.0 if level == levels else 2.0 ** (levels - level)}
        if len(inside):
            name = f"{level}/{tx}_{ty}.glb"
            (folder / str(level)).mkdir(exist_ok=True)
            coarse = level < levels
            (folder / name).write_bytes(glb_for([ids[i] for i in inside], xy[inside], size[inside],
                                                height[inside] * (0.5 if coarse else 1.0)))
            node["content"] = {"uri": name}
        if level < levels:
            node["refine"] = "REPLACE"
            node["children"] = [tile(level + 1, 2 * tx + dx, 2 * ty + dy) for dy in (0, 1) for dx in (0, 1)]
        return node

    root = tile(0, 0, 0)
    root["transform"] = enu_to_ecef(LON0, LAT0).T.reshape(-1).tolist()
    path = folder / "tileset.json"
    path.write_text(json.dumps({"asset": {"version": "1.1"}, "geometricError": 1000.0, "root": root}))
    return path


def measure(path: Path, mode: str) -> dict:
    """Run one read in this process (called in a child process by :func:`main`)."""
    from cim_twin.io.tiles3d import read_tileset, tileset_info

    start = time.perf_counter()
    if mode == "read":
        scene = read_tileset(path)
        features = len(scene)
    else:
        features = sum(tileset_info(path)["counts"].values())
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1), "features": features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1000:16", "10000:256", "10000:1024", "100000:1024", "100000:4096"])
    parser.add_argument("--tileset", nargs="+", type=Path, default=[],
                        help="measure these existing tilesets instead of synthetic ones")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1])))
        return
    baseline = json.loads(subprocess.run([sys.executable, "-c", "import resource, json; import cim_twin.io.tiles3d; "
                                          "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"],
                                         capture_output=True, text=True, check=True).stdout)
    print(f"interpreter + imports: {baseline:.0f} MiB")
    if args.tileset:
        print("| tileset | content files | MiB on disk | mode | time (s) | peak RSS (MiB) | features |")
        print("|---|---:|---:|---|---:|---:|---:|")
        for path in args.tileset:
            folder = path.parent if path.is_file() else path
            files = [f for f in folder.rglob("*") if f.is_file() and f.suffix in (".glb", ".b3dm", ".i3dm", ".pnts", ".cmpt")]
            mib = sum(f.stat().st_size for f in files) / 2**20
            for mode in ("read", "info"):
                out = subprocess.run([sys.executable, __file__, "--child", str(path), mode], capture_output=True,
                                     text=True, check=True)
                r = json.loads(out.stdout)
                print(f"| {path.parent.name}/{path.name} | {len(files)} | {mib:.0f} | {mode} | {r['seconds']} | "
                      f"{r['peak_rss_mib']} | {r['features']} |", flush=True)
        return
    print("| buildings | leaf tiles | tiles in all | files | mode | time (s) | peak RSS (MiB) | features |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|")
    for spec in args.sizes:
        n, leaves = (int(v) for v in spec.split(":"))
        folder = WORK / f"{n}_{leaves}"
        path = folder / "tileset.json"
        if not path.exists():
            write_tileset(folder, n, leaves)
        files = sum(1 for _ in folder.rglob("*.glb"))
        tiles_all = sum(4**k for k in range(round(math.log(leaves, 4)) + 1))
        for mode in ("read", "info"):
            out = subprocess.run([sys.executable, __file__, "--child", str(path), mode], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            print(f"| {n} | {leaves} | {tiles_all} | {files} | {mode} | {r['seconds']} | {r['peak_rss_mib']} | {r['features']} |", flush=True)


if __name__ == "__main__":
    main()
