"""Small hand-built scenes and runs for the viewer tests: box buildings with roof, wall and ground
triangles, and findings pinned to them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from cim_twin.crs import parse_srs_name
from cim_twin.model import ProblemPoint, Severity, problem_id
from cim_twin.scene import CityObject, Mesh, Scene, SurfaceType

# Unit box: 8 corners, 12 triangles (2 ground, 8 wall, 2 roof), counter-clockwise from outside.
_BOX_CORNERS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64
)
_BOX_TRIANGLES = np.array(
    [
        [0, 2, 1], [0, 3, 2],  # ground (facing down)
        [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7],  # walls
        [4, 5, 6], [4, 6, 7],  # roof
    ],
    dtype=np.int32,
)
_BOX_SEMANTICS = np.array([SurfaceType.GROUND] * 2 + [SurfaceType.WALL] * 8 + [SurfaceType.ROOF] * 2, dtype=np.uint8)

# Projected coordinates of a CGCS2000 / 3-degree Gauss-Kruger zone (EPSG:4547): large numbers, as
# real Chinese city models have them, so the display origin matters.
ORIGIN_X, ORIGIN_Y = 500_000.37, 2_930_000.61


def box_mesh(x: float, y: float, w: float, d: float, h: float, z: float = 10.0) -> Mesh:
    vertices = _BOX_CORNERS * np.array([w, d, h]) + np.array([x, y, z])
    return Mesh(vertices=vertices, triangles=_BOX_TRIANGLES.copy(), semantics=_BOX_SEMANTICS.copy(), solid_closed=True)


def box_scene(nx: int = 4, ny: int = 3, spacing: float = 30.0, lod: int = 1) -> Scene:
    """``nx * ny`` box buildings on a grid, heights 6..33 m, built 1950..2010, two functions."""
    scene = Scene(parse_srs_name("EPSG:4547"))
    k = 0
    for j in range(ny):
        for i in range(nx):
            h = 6.0 + 3.0 * ((i * 7 + j * 5) % 10)
            obj = CityObject(
                f"B{k:03d}",
                "Building",
                attributes={
                    "yearOfConstruction": 1950 + 5 * ((i + 3 * j) % 13),
                    "function": "residential" if (i + j) % 3 else "commercial",
                },
                geometry={lod: box_mesh(ORIGIN_X + i * spacing, ORIGIN_Y + j * spacing, 18.0, 12.0, h)},
            )
            scene.add(obj)
            k += 1
    return scene


def finding(
    obj: CityObject,
    indicator: str,
    severity: str,
    *,
    value: float,
    threshold: float,
    year: int = 2024,
    until: int | None = None,
    score: float | None = None,
    unit: str = "m",
) -> ProblemPoint:
    """A finding pinned at the roof centre of ``obj``, valid from 1 January of ``year`` (Beijing
    time) until 1 January of ``until`` (open when None)."""
    tz = ZoneInfo("Asia/Shanghai")
    x, y, z = (float(v) for v in obj.roof_centre)
    sev = Severity(severity)
    return ProblemPoint(
        id=problem_id(indicator, obj.id, str(year)),
        key=f"{indicator}|{obj.id}",
        indicator=indicator,
        severity=sev,
        score=sev.score if score is None else score,
        value=value,
        threshold=threshold,
        unit=unit,
        x=x, y=y, z=z,
        object_ids=(obj.id,),
        period=str(year),
        observed_at=datetime(year, 6, 30, tzinfo=tz),
        valid_from=datetime(year, 1, 1, tzinfo=tz),
        valid_to=None if until is None else datetime(until, 1, 1, tzinfo=tz),
        message_zh="建筑过高",
        message_en="building too tall",
    )


def sample_findings(scene: Scene) -> list[ProblemPoint]:
    """Findings over two years: some persist, one is fixed after 2024, one appears in 2025."""
    b = scene.buildings()
    return [
        finding(b[0], "X-TALL", "critical", value=33.0, threshold=10.0, score=0.97),
        finding(b[5], "X-TALL", "high", value=27.0, threshold=10.0, until=2025),
        finding(b[7], "X-TALL", "low", value=12.0, threshold=10.0),
        finding(b[2], "X-OLD", "medium", value=1955, threshold=1980, unit="year"),
        finding(b[10], "X-OLD", "high", value=1950, threshold=1980, year=2025, unit="year"),
    ]


def context_layers(nx: int = 4, ny: int = 3, spacing: float = 30.0) -> list:
    """Roads between the rows of :func:`box_scene` and one community around it, as a project's
    ``roads`` and ``units`` layers would give them."""
    import shapely

    from cim_twin.indicators.api import AuxLayer

    y_roads = [ORIGIN_Y - 6.0 + j * spacing for j in range(ny + 1)]
    x0, x1 = ORIGIN_X - 10.0, ORIGIN_X + nx * spacing
    roads = np.array([shapely.LineString([(x0, y), (x1, y)]) for y in y_roads], dtype=object)
    community = shapely.box(x0 - 5.0, y_roads[0] - 5.0, x1 + 5.0, y_roads[-1] + 5.0)
    return [
        AuxLayer("roads", "roads", roads, {"id": np.array([f"R{j}" for j in range(len(roads))], dtype=object)}),
        AuxLayer("communities", "units", np.array([community], dtype=object), {"id": np.array(["C1"], dtype=object)},
                 level="community"),
    ]
