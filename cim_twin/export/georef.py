"""Placing scene coordinates on the globe for 3D Tiles.

Every tileset gets one local east-north-up (ENU) frame at the centre of its data. Scene coordinates
go to ECEF (EPSG:4978) through pyproj, then into that frame by a rigid motion (no distortion). The
root tile's ``transform`` is the ENU->ECEF matrix; every content tile adds only a translation to its
own centre, so vertex positions stored as float32 are small numbers (metres from the tile centre)
and keep sub-millimetre precision.

glTF content is y-up: clients rotate it to z-up on load (3D Tiles spec, "glTF transforms"). A point
with ENU coordinates (e, n, u) is therefore stored as glTF (e, u, -n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..crs import SceneCRS, transformer
from ..errors import CRSError

__all__ = ["GeoidRaisedCRS", "LocalFrame", "enu_to_gltf", "gltf_to_enu", "placed_crs"]


@dataclass(frozen=True)
class LocalFrame:
    """An ENU frame at ``origin_ecef`` (metres) whose rows of ``rotation`` are east, north, up."""

    origin_ecef: np.ndarray
    rotation: np.ndarray
    lon_deg: float
    lat_deg: float
    height_m: float

    @classmethod
    def at_lonlat(cls, lon_deg: float, lat_deg: float, height_m: float) -> LocalFrame:
        """The frame at a WGS84 point (degrees, ellipsoidal height in metres)."""
        lam, phi = np.radians(lon_deg), np.radians(lat_deg)
        east = np.array([-np.sin(lam), np.cos(lam), 0.0])
        north = np.array([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
        up = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
        ex, ey, ez = transformer("EPSG:4979", "EPSG:4978").transform(lon_deg, lat_deg, height_m)
        return cls(np.array([ex, ey, ez], dtype=np.float64), np.vstack([east, north, up]), float(lon_deg),
                   float(lat_deg), float(height_m))

    @classmethod
    def for_scene_point(cls, crs: SceneCRS, x: float, y: float, z: float) -> LocalFrame:
        """The frame at a point given in scene coordinates."""
        if crs is None or crs.is_local:
            raise CRSError(
                "the scene has no georeferenced CRS, so it cannot be placed on the globe",
                hint="give the real CRS with --crs EPSG:n",
            )
        # two copies: pyproj takes a one-element array for a scalar and warns about it
        lon, lat, h = crs.to_wgs84(np.array([x, x], float), np.array([y, y], float), np.array([z, z], float))
        return cls.at_lonlat(float(lon[0]), float(lat[0]), float(h[0]))

    def ecef_to_enu(self, ecef: np.ndarray) -> np.ndarray:
        """``(n, 3)`` ECEF -> ``(n, 3)`` ENU in this frame."""
        d = np.asarray(ecef, dtype=np.float64).reshape(-1, 3) - self.origin_ecef
        return _rows_times(d, self.rotation)

    def enu_to_ecef(self, enu: np.ndarray) -> np.ndarray:
        """``(n, 3)`` ENU of this frame -> ``(n, 3)`` ECEF."""
        return _rows_times(np.asarray(enu, dtype=np.float64).reshape(-1, 3), self.rotation.T) + self.origin_ecef

    def scene_to_enu(self, crs: SceneCRS, xyz: np.ndarray) -> np.ndarray:
        """Scene coordinates (x east, y north, z up in ``crs``) -> ENU of this frame."""
        xyz = np.asarray(xyz, dtype=np.float64)
        if not len(xyz):
            return np.zeros((0, 3))
        return self.ecef_to_enu(crs.to_ecef(xyz[:, 0], xyz[:, 1], xyz[:, 2]))

    def lonlat_to_enu(self, lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
        """WGS84 lon/lat (degrees) and ellipsoidal height -> ``(n, 3)`` ENU of this frame."""
        ex, ey, ez = transformer("EPSG:4979", "EPSG:4978").transform(lon, lat, h)
        return self.ecef_to_enu(np.column_stack([ex, ey, ez]))

    def enu_to_lonlat(self, enu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, 3)`` ENU of this frame -> WGS84 lon, lat (degrees) and ellipsoidal height."""
        ecef = self.enu_to_ecef(enu)
        lon, lat, h = transformer("EPSG:4978", "EPSG:4979").transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
        return np.asarray(lon), np.asarray(lat), np.asarray(h)

    def enu_to_ecef_matrix(self) -> np.ndarray:
        """The 4x4 ENU->ECEF matrix (row-major numpy; see :func:`column_major` for a tile ``transform``)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation.T
        m[:3, 3] = self.origin_ecef
        return m


def column_major(m: np.ndarray) -> list[float]:
    """A 4x4 matrix in the column-major layout of a tile ``transform``."""
    return [float(x) for x in m.T.reshape(-1)]


def translation(offset: np.ndarray) -> np.ndarray:
    """The 4x4 matrix that moves by ``offset``."""
    m = np.eye(4)
    m[:3, 3] = offset
    return m


def box_volume(half: np.ndarray) -> list[float]:
    """A ``boundingVolume.box`` centred on the tile origin with the given half sizes (axis-aligned)."""
    return [0.0, 0.0, 0.0, float(half[0]), 0.0, 0.0, 0.0, float(half[1]), 0.0, 0.0, 0.0, float(half[2])]


class GeoidRaisedCRS:
    """A scene CRS whose heights are raised by a constant geoid height N before they are used as
    ellipsoidal heights (h = H + N, ``--geoid-height``): without geoid grids PROJ keeps orthometric
    heights as they are, which sinks or lifts a whole city by N against terrain on the ellipsoid.
    Everything but :meth:`to_wgs84`, :meth:`to_ecef` and :attr:`vertical_datum` is the base CRS's."""

    def __init__(self, base: SceneCRS, geoid_height_m: float) -> None:
        self.base = base
        self.geoid_height_m = float(geoid_height_m)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    @property
    def vertical_datum(self) -> str:
        return f"{self.base.vertical_datum}; raised by the geoid height {self.geoid_height_m:g} m to ellipsoidal heights"

    def to_wgs84(self, x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z = np.zeros_like(np.asarray(x, dtype=np.float64)) if z is None else np.asarray(z, dtype=np.float64)
        return self.base.to_wgs84(x, y, z + self.geoid_height_m)

    def to_ecef(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.base.to_ecef(x, y, np.asarray(z, dtype=np.float64) + self.geoid_height_m)


def placed_crs(crs: Any, geoid_height_m: float | None) -> Any:
    """``crs`` as the export places it: raised by ``geoid_height_m`` when one is given (and not 0)."""
    if crs is None or not geoid_height_m:
        return crs
    return GeoidRaisedCRS(crs, geoid_height_m)


def _rows_times(d: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``d @ m.T`` with element-wise operations: the result of every row does not depend on how many
    rows there are (a BLAS product may round differently by block), so output bytes are the same
    whether vertices are transformed all at once or building by building."""
    return np.column_stack([d[:, 0] * m[i, 0] + d[:, 1] * m[i, 1] + d[:, 2] * m[i, 2] for i in range(3)])


def enu_to_gltf(enu: np.ndarray) -> np.ndarray:
    """ENU (z up) -> glTF axes (y up): (e, n, u) -> (e, u, -n)."""
    enu = np.asarray(enu)
    return np.column_stack([enu[:, 0], enu[:, 2], -enu[:, 1]])


def gltf_to_enu(xyz: np.ndarray) -> np.ndarray:
    """glTF axes (y up) -> ENU (z up): (x, y, z) -> (x, -z, y)."""
    xyz = np.asarray(xyz)
    return np.column_stack([xyz[:, 0], -xyz[:, 2], xyz[:, 1]])
