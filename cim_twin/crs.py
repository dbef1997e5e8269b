"""Coordinate reference systems: every srsName form real CityGML files use, and the transforms at
the edges (to WGS84 for extents and GeoJSON, to ECEF EPSG:4978 for 3D Tiles).

Inside a :class:`~cim_twin.scene.Scene` coordinates are always ``x`` east, ``y`` north, ``z`` up,
whatever axis order the source declared: readers swap latitude-first input (EPSG:4979, 6697) on the
way in, so that nothing downstream has to think about axis order again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError

from .errors import CRSError

__all__ = [
    "SceneCRS",
    "bd09_to_gcj02",
    "gcj02_to_wgs84",
    "parse_srs_name",
    "topocentric_crs",
    "transform_arrays",
    "transformer",
    "utm_crs_for",
]

# AdV (German surveying authorities) URN names -> EPSG codes. Horizontal and vertical parts are
# joined by "*" (e.g. urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH).
_ADV_CODES: dict[str, int] = {
    "ETRS89_UTM31": 25831,
    "ETRS89_UTM32": 25832,
    "ETRS89_UTM33": 25833,
    "ETRS89_LAT-LON": 4258,
    "ETRS89_LAT-LON_H": 4937,
    "ETRS89_3GK3": 5677,
    "DE_DHDN_3GK2": 31466,
    "DE_DHDN_3GK3": 31467,
    "DE_DHDN_3GK4": 31468,
    "DE_DHDN_3GK5": 31469,
    "DE_42/83_3GK3": 2398,
    "DE_42/83_3GK4": 2399,
    "DE_RD/83_3GK3": 3398,
    "DE_RD/83_3GK4": 3399,
    "DE_DHHN92_NH": 5783,
    "DE_DHHN2016_NH": 7837,
    "DE_DHHN12_NOH": 5784,
    "DE_AMST_NH": 5783,
}

_EPSG_PATTERNS = (
    # EPSG:25832, epsg:4326
    re.compile(r"^EPSG:(?P<code>\d+)$", re.IGNORECASE),
    # urn:ogc:def:crs:EPSG::25832, urn:ogc:def:crs:EPSG:6.12:25833, urn:x-ogc:def:crs:EPSG:25832
    re.compile(r"^urn:(?:x-)?ogc:def:crs:EPSG:(?:[\d.]*):?(?P<code>\d+)$", re.IGNORECASE),
    # http://www.opengis.net/def/crs/EPSG/0/25832 (also https, also .../EPSG/9.9.1/25832)
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/[\d.]+/(?P<code>\d+)$", re.IGNORECASE),
    # http://www.opengis.net/gml/srs/epsg.xml#25832
    re.compile(r"^https?://www\.opengis\.net/gml/srs/epsg\.xml#(?P<code>\d+)$", re.IGNORECASE),
)
# urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783 (compound, optionally versioned)
_COMPOUND_URN = re.compile(r"^urn:(?:x-)?ogc:def:crs,(?P<parts>.+)$", re.IGNORECASE)
_COMPOUND_PART = re.compile(r"^crs:EPSG:(?:[\d.]*):?(?P<code>\d+)$", re.IGNORECASE)
# http://www.opengis.net/def/crs-compound?1=http://www.opengis.net/def/crs/EPSG/0/25832&2=...
_COMPOUND_HTTP = re.compile(r"^https?://www\.opengis\.net/def/crs-compound\?(?P<query>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class SceneCRS:
    """A parsed CRS: horizontal EPSG code, optional vertical EPSG code, and the pyproj CRS.

    ``name`` is the canonical short form used in reports, e.g. ``"EPSG:25832"`` or
    ``"EPSG:25832+5783"``. ``lat_first`` records that the source lists latitude before longitude
    (geographic CRSs such as EPSG:4979 and 6697), so a reader knows to swap on input.
    ``xy_order`` marks the short ``EPSG:n`` form, which GIS software (GeoTools, GDAL's
    traditional order) and real files read longitude first; the URN and http URI forms keep
    the EPSG axis order.
    """

    name: str
    horizontal_epsg: int | None
    vertical_epsg: int | None = None
    srs_name: str = ""
    crs: CRS | None = field(default=None, compare=False, repr=False)
    xy_order: bool = field(default=False, compare=False)

    @property
    def is_local(self) -> bool:
        """An engineering CRS without georeference (``#local-CRS-1``)."""
        return self.crs is None

    @property
    def is_geographic(self) -> bool:
        return self.crs is not None and self.crs.is_geographic

    @property
    def lat_first(self) -> bool:
        if self.crs is None or not self.crs.is_geographic or self.xy_order:
            return False
        first = self.crs.axis_info[0] if self.crs.axis_info else None
        return bool(first and first.direction.lower() == "north")

    @property
    def vertical_datum(self) -> str:
        """Human-readable statement of what heights mean in this CRS."""
        if self.vertical_epsg:
            vcrs = CRS.from_epsg(self.vertical_epsg)
            return f"{vcrs.name} (EPSG:{self.vertical_epsg})"
        if self.crs is not None and len(self.crs.axis_info) >= 3:
            return "ellipsoidal heights of " + self.crs.name
        return "unstated (heights taken as given)"

    def to_wgs84(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Transform scene coordinates (x east, y north) to lon, lat (degrees) and height (m).

        Heights stay as given when no geoid model is available for the vertical datum; see
        :attr:`vertical_datum`.
        """
        if self.crs is None:
            raise CRSError(
                f"the CRS {self.srs_name or self.name!r} is a local engineering CRS without georeference",
                hint="give the real CRS with --crs EPSG:n",
            )
        z = np.zeros_like(np.asarray(x, dtype=np.float64)) if z is None else z
        return transform_arrays(transformer(self.horizontal_key, "EPSG:4326"), x, y, z)

    def to_ecef(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Transform scene coordinates to earth-centred, earth-fixed XYZ (EPSG:4978), shape (n, 3)."""
        lon, lat, h = self.to_wgs84(x, y, z)
        ex, ey, ez = transform_arrays(transformer("EPSG:4979", "EPSG:4978"), lon, lat, h)
        return np.column_stack([ex, ey, ez])

    @property
    def horizontal_key(self) -> str:
        """Key used to build transformers from this CRS (2D horizontal part)."""
        if self.horizontal_epsg:
            return f"EPSG:{self.horizontal_epsg}"
        assert self.crs is not None
        return self.crs.to_wkt()


def transform_arrays(
    tr: Transformer, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``tr.transform`` on arrays of any length, returning arrays of the input's shape.

    pyproj takes one-element arrays down its scalar path, which numpy deprecates; padding them to
    two elements keeps every call on the vectorised path.
    """
    xa, ya, za = (np.asarray(a, dtype=np.float64) for a in (x, y, z))
    shape = np.broadcast_shapes(xa.shape, ya.shape, za.shape)
    xa, ya, za = (np.broadcast_to(a, shape).ravel() for a in (xa, ya, za))
    if xa.size == 1:
        xa, ya, za = (np.repeat(a, 2) for a in (xa, ya, za))
    out = tr.transform(xa, ya, za)
    n = int(np.prod(shape)) if shape else 1
    return tuple(np.asarray(a)[:n].reshape(shape) for a in out)  # type: ignore[return-value]


@lru_cache(maxsize=64)
def transformer(source: str, target: str) -> Transformer:
    """A cached pyproj transformer in x=east/lon, y=north/lat order."""
    try:
        return Transformer.from_crs(source, target, always_xy=True)
    except _PyprojCRSError as exc:  # pragma: no cover - pyproj database problem
        raise CRSError(f"cannot transform from {source} to {target}: {exc}") from exc


def _from_epsg(code: int, srs_name: str) -> CRS:
    try:
        return CRS.from_epsg(code)
    except _PyprojCRSError as exc:
        raise CRSError(
            f"unknown EPSG code {code} in srsName {srs_name!r}",
            hint="check the code, or override it with --crs EPSG:n",
        ) from exc


def _scene_crs(horizontal: int, vertical: int | None, srs_name: str) -> SceneCRS:
    hcrs = _from_epsg(horizontal, srs_name)
    if hcrs.is_compound and vertical is None:
        # One code for a compound CRS (EPSG:6697 = JGD2011 + JGD2011 height): split it.
        sub = hcrs.sub_crs_list
        h_code, v_code = sub[0].to_epsg(), sub[1].to_epsg() if len(sub) > 1 else None
        if h_code is not None:
            scrs = _scene_crs(h_code, v_code, srs_name)
            return SceneCRS(name=f"EPSG:{horizontal}", horizontal_epsg=h_code, vertical_epsg=v_code,
                            srs_name=srs_name, crs=scrs.crs)
    if hcrs.is_vertical:
        raise CRSError(f"srsName {srs_name!r} names only a vertical CRS", hint="give a horizontal CRS with --crs")
    if vertical is not None:
        vcrs = _from_epsg(vertical, srs_name)
        if not vcrs.is_vertical:
            raise CRSError(f"second part of compound srsName {srs_name!r} is not a vertical CRS")
        name = f"EPSG:{horizontal}+{vertical}"
    else:
        name = f"EPSG:{horizontal}"
    return SceneCRS(name=name, horizontal_epsg=horizontal, vertical_epsg=vertical, srs_name=srs_name, crs=hcrs)


def _split_compound(codes: list[int], srs_name: str) -> SceneCRS:
    if len(codes) == 1:
        return _scene_crs(codes[0], None, srs_name)
    if len(codes) == 2:
        return _scene_crs(codes[0], codes[1], srs_name)
    raise CRSError(f"compound srsName {srs_name!r} has {len(codes)} parts; expected horizontal+vertical")


@lru_cache(maxsize=256)
def parse_srs_name(srs_name: str) -> SceneCRS:
    """Parse a GML ``srsName`` (or a ``--crs`` option) into a :class:`SceneCRS`.

    Accepted forms::

        EPSG:25832                          urn:ogc:def:crs:EPSG::25832
        EPSG:25832+5783                     urn:ogc:def:crs:EPSG:6.12:25833
        urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783
        http://www.opengis.net/def/crs/EPSG/0/6697
        urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH
        #local-CRS-1   (local engineering CRS: loads, but cannot be placed on the globe)

    Raises
    ------
    CRSError
        when the name is not understood or names an unknown code.
    """
    text = srs_name.strip()
    if not text:
        raise CRSError("empty srsName", hint="give the CRS with --crs EPSG:n")
    if text.startswith("#") or text.lower().startswith("local"):
        return SceneCRS(name=text, horizontal_epsg=None, srs_name=text, crs=None)

    plus = re.fullmatch(r"EPSG:(\d+)\+(\d+)", text, re.IGNORECASE)
    if plus:
        return _scene_crs(int(plus.group(1)), int(plus.group(2)), text)
    if re.fullmatch(r"\d+", text):
        return _scene_crs(int(text), None, text)
    for i, pattern in enumerate(_EPSG_PATTERNS):
        m = pattern.match(text)
        if m:
            parsed = _scene_crs(int(m.group("code")), None, text)
            return replace(parsed, xy_order=True) if i == 0 else parsed

    m = _COMPOUND_URN.match(text)
    if m:
        codes = []
        for part in m.group("parts").split(","):
            pm = _COMPOUND_PART.match(part.strip())
            if not pm:
                raise CRSError(f"cannot read part {part!r} of compound srsName {text!r}")
            codes.append(int(pm.group("code")))
        return _split_compound(codes, text)

    m = _COMPOUND_HTTP.match(text)
    if m:
        codes = [int(c) for c in re.findall(r"/EPSG/[\d.]+/(\d+)", m.group("query"), re.IGNORECASE)]
        if codes:
            return _split_compound(codes, text)

    if text.lower().startswith("urn:adv:crs:"):
        codes = []
        for part in text[len("urn:adv:crs:") :].split("*"):
            code = _ADV_CODES.get(part.strip().upper())
            if code is None:
                raise CRSError(
                    f"unknown AdV CRS name {part!r} in srsName {text!r}",
                    hint="override it with --crs EPSG:n",
                )
            codes.append(code)
        return _split_compound(codes, text)

    # Last resort: anything pyproj understands (WKT, PROJ strings, "CGCS2000 / 3-degree ...").
    try:
        crs = CRS.from_user_input(text)
    except _PyprojCRSError as exc:
        raise CRSError(f"unknown srsName {text!r}", hint="override it with --crs EPSG:n") from exc
    epsg = crs.to_epsg()
    if epsg is not None:
        return _scene_crs(epsg, None, text)
    return SceneCRS(name=crs.name, horizontal_epsg=None, srs_name=text, crs=crs)


def utm_crs_for(lon: float, lat: float) -> SceneCRS:
    """The WGS84 UTM zone CRS around a point (a metric CRS for data that came in degrees)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    code = (32600 if lat >= 0 else 32700) + zone
    return _scene_crs(code, None, f"EPSG:{code}")


def topocentric_crs(lon: float, lat: float, h: float = 0.0) -> SceneCRS:
    """A local east-north-up CRS (metres) with its origin at lon/lat (degrees) and ellipsoidal
    height ``h`` on WGS84 (EPSG geographic/topocentric conversion, method 9837). ``to_wgs84`` and
    ``to_ecef`` work on it like on any projected CRS; z is up along the ellipsoid normal at the
    origin."""
    wkt = (
        f'PROJCRS["WGS 84 / local ENU at {lat:.8f} {lon:.8f}",'
        'BASEGEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563,'
        'LENGTHUNIT["metre",1]]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],ID["EPSG",4979]],'
        'CONVERSION["Geographic/topocentric",METHOD["Geographic/topocentric conversions",ID["EPSG",9837]],'
        f'PARAMETER["Latitude of topocentric origin",{lat!r},ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",8834]],'
        f'PARAMETER["Longitude of topocentric origin",{lon!r},ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",8835]],'
        f'PARAMETER["Ellipsoidal height of topocentric origin",{h!r},LENGTHUNIT["metre",1],ID["EPSG",8836]]],'
        'CS[Cartesian,3],AXIS["topocentric East (U)",east,ORDER[1],LENGTHUNIT["metre",1]],'
        'AXIS["topocentric North (V)",north,ORDER[2],LENGTHUNIT["metre",1]],'
        'AXIS["topocentric Up (W)",up,ORDER[3],LENGTHUNIT["metre",1]]]'
    )
    name = f"ENU({lat:.6f},{lon:.6f},{h:.1f})"
    return SceneCRS(name=name, horizontal_epsg=None, srs_name=name, crs=CRS.from_wkt(wkt))


# --- Chinese web-map coordinate systems -----------------------------------------------------------
# GCJ-02 ("Mars coordinates") and BD-09 are obfuscated WGS84 variants used by Chinese map services.
# The forward formulas are published; the inverse is solved by fixed-point iteration, which converges
# to well under a centimetre in a few steps.
_A = 6378245.0
_EE = 0.00669342162296594323


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> GCJ-02 (degrees, vectorised)."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> WGS84 (degrees, vectorised, iterative inverse)."""
    glon, glat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(8):
        tlon, tlat = wgs84_to_gcj02(wlon, wlat)
        wlon, wlat = wlon - (tlon - glon), wlat - (tlat - glat)
    return wlon, wlat


_X_PI = np.pi * 3000.0 / 180.0


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (Baidu) -> GCJ-02 (degrees, vectorised)."""
    x = np.asarray(lon, dtype=np.float64) - 0.0065
    y = np.asarray(lat, dtype=np.float64) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)
