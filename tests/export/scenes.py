"""Hand-built scenes for the export tests: box and gable-roof buildings in EPSG:4548 (CGCS2000 /
3-degree Gauss-Kruger CM 117E) near Nanping, lon 118.17 lat 26.64."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from cim_twin.crs import parse_srs_name, transformer
from cim_twin.model import ProblemPoint, Severity, problem_id
from cim_twin.scene import CityObject, Mesh, Scene
from cim_twin.scene.objects import URI, Address, Measure
from cim_twin.scene.semantics import SurfaceType

LON0, LAT0 = 118.17, 26.64


def origin_4548() -> tuple[float, float]:
    x, y = transformer("EPSG:4326", "EPSG:4548").transform(LON0, LAT0)
    return float(x), float(y)


def house_mesh(x: float, y: float, z: float, w: float, d: float, h: float, ridge: float = 0.0) -> Mesh:
    """A closed box (ridge=0) or gable-roof house with ground, wall and roof semantics."""
    v = np.array([
        [x, y, z], [x + w, y, z], [x + w, y + d, z], [x, y + d, z],
        [x, y, z + h], [x + w, y, z + h], [x + w, y + d, z + h], [x, y + d, z + h],
        [x, y + d / 2, z + h + ridge], [x + w, y + d / 2, z + h + ridge],
    ], dtype=np.float64)
    ground = [[0, 2, 1], [0, 3, 2]]
    walls = [[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]]
    if ridge > 0:
        roof = [[4, 5, 9], [4, 9, 8], [7, 8, 9], [7, 9, 6]]
        walls += [[5, 6, 9], [7, 4, 8]]
    else:
        roof = [[4, 5, 6], [4, 6, 7]]
    tris = np.array(ground + walls + roof, dtype=np.int32)
    sem = np.array([SurfaceType.GROUND] * len(ground) + [SurfaceType.WALL] * len(walls)
                   + [SurfaceType.ROOF] * len(roof), dtype=np.uint8)
    return Mesh(vertices=v, triangles=tris, semantics=sem, solid_closed=True)


def box_scene(n: int = 12, *, seed: int = 7, with_part: bool = True) -> Scene:
    """``n`` houses on a grid 30 m apart, with thematic, address and generic attributes."""
    rng = np.random.default_rng(seed)
    crs = parse_srs_name("EPSG:4548")
    scene = Scene(crs)
    x0, y0 = origin_4548()
    side = int(np.ceil(np.sqrt(n)))
    for i in range(n):
        gx, gy = x0 + (i % side) * 30.0, y0 + (i // side) * 30.0
        w, d = float(rng.uniform(8, 16)), float(rng.uniform(8, 14))
        h = float(rng.uniform(6, 30))
        ridge = float(rng.uniform(0, 4)) if i % 2 else 0.0
        ground = 120.0 + i * 0.5
        attrs = {
            "function": ["1000", "1010", "2000"][i % 3],
            "measuredHeight": Measure(round(h + ridge, 2), "m"),
            "yearOfConstruction": 1960 + 3 * i,
            "storeysAboveGround": max(1, int(h // 3)),
            "address": Address(street="滨江中路", house_number=str(10 + i), locality="南平市", country="中国"),
            "creationDate": date(2020, 1, 1 + i % 28),
        }
        generic = {
            "建筑结构": ["砖混", "框架", "钢结构"][i % 3],
            "risk_flag": bool(i % 4 == 0),
            "census": {"households": 10 + i, "name": f"楼{i}"},
            "homepage": URI(f"https://example.org/b/{i}"),
            "surveyed_at": datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        }
        if i % 5 == 0:
            generic["only_some"] = 0.5 * i
        b = CityObject(f"BLDG_{i:04d}", "Building", attributes=attrs, generic_attributes=generic,
                       geometry={2: house_mesh(gx, gy, ground, w, d, h, ridge)})
        if with_part and i == 1:
            part = CityObject("BLDG_0001_part", "BuildingPart",
                              geometry={2: house_mesh(gx + w, gy, ground, 5, 5, 4)})
            b.add_child(part)
        scene.add(b)
    return scene


def findings_for(scene: Scene, period: str = "2025") -> list[ProblemPoint]:
    """A few problem points on some buildings, with severities and validity windows."""
    out = []
    sevs = list(Severity)
    for k, b in enumerate(scene.buildings()[::3]):
        c = b.roof_centre
        lon, lat, hgt = scene.crs.to_wgs84(np.array([c[0]] * 2), np.array([c[1]] * 2), np.array([c[2]] * 2))
        for code, value in (("X-TALL", b.height_m), ("N-OLD", 2025 - b.year_built)):
            sev = sevs[(k + len(code)) % len(sevs)]
            start = datetime(2025, 1, 1, tzinfo=UTC)
            out.append(ProblemPoint(
                id=problem_id(code, b.id, period), key=f"{code}|{b.id}", indicator=code, severity=sev,
                score=sev.score, value=float(value), threshold=10.0, unit="m", x=float(c[0]), y=float(c[1]),
                z=float(c[2]), lon=float(lon[0]), lat=float(lat[0]), height=float(hgt[0]), object_ids=(b.id,),
                unit_id="C1", period=period, observed_at=start, valid_from=start,
                valid_to=datetime(2026, 1, 1, tzinfo=UTC), message_zh="过高", message_en="too tall"))
    return out
