"""Semantic surface types, stored as one uint8 per triangle."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["SurfaceType"]


class SurfaceType(IntEnum):
    """The kind of surface a triangle belongs to (CityGML boundary surfaces and openings).

    Values are stable: they are written into exports and catalogs.
    """

    UNKNOWN = 0
    ROOF = 1
    WALL = 2
    GROUND = 3
    CLOSURE = 4
    OUTER_CEILING = 5
    OUTER_FLOOR = 6
    WINDOW = 7
    DOOR = 8
    INTERIOR_WALL = 9
    CEILING = 10
    FLOOR = 11
    TERRAIN = 12
    WATER_SURFACE = 13
    WATER_GROUND = 14
    TRAFFIC_AREA = 15
    AUXILIARY_TRAFFIC_AREA = 16
    VEGETATION = 17
    LAND_USE = 18
    FURNITURE = 19
    GENERIC = 20

    @classmethod
    def from_element_name(cls, local_name: str) -> SurfaceType:
        """Map a CityGML element name (``RoofSurface``, ``Window``, ...) to a surface type."""
        return _BY_ELEMENT.get(local_name, cls.UNKNOWN)

    @property
    def label(self) -> str:
        return self.name.lower()


_BY_ELEMENT: dict[str, SurfaceType] = {
    "RoofSurface": SurfaceType.ROOF,
    "WallSurface": SurfaceType.WALL,
    "GroundSurface": SurfaceType.GROUND,
    "ClosureSurface": SurfaceType.CLOSURE,
    "OuterCeilingSurface": SurfaceType.OUTER_CEILING,
    "OuterFloorSurface": SurfaceType.OUTER_FLOOR,
    "Window": SurfaceType.WINDOW,
    "Door": SurfaceType.DOOR,
    "InteriorWallSurface": SurfaceType.INTERIOR_WALL,
    "CeilingSurface": SurfaceType.CEILING,
    "FloorSurface": SurfaceType.FLOOR,
    "WaterSurface": SurfaceType.WATER_SURFACE,
    "WaterGroundSurface": SurfaceType.WATER_GROUND,
    "WaterClosureSurface": SurfaceType.CLOSURE,
    "TrafficArea": SurfaceType.TRAFFIC_AREA,
    "AuxiliaryTrafficArea": SurfaceType.AUXILIARY_TRAFFIC_AREA,
}
