"""A streaming CityGML 2.0 writer for the example district.

Buildings are written one by one as text chunks straight from the layout's stream, so memory stays
constant from ten to a million buildings, and the same plan always gives the same bytes (no clock,
no random state outside the layout).

Each building carries:

- ``gml:name`` (public buildings), ``core:creationDate`` (buildings of 1990 and later),
- generic attributes: ``community_id``, ``block_id``, ``district_id`` (string), ``structure``
  (``brick_wood`` | ``brick_concrete`` | ``frame`` | ``shear_wall``), ``danger_level`` (A-D, as in
  the year of the file), ``protected`` and ``illegal`` (int 0/1), ``dwelling_units`` (int, dwellings),
  ``gross_floor_area_m2`` (double), ``eaves_height`` (measure, m), ``surveyed_on`` (date), and where
  they apply ``facility`` (string) and ``renovated_year`` (int),
- ``bldg:function`` / ``bldg:usage`` (codes of :data:`~cim_twin.example_city.layout.FUNCTION_CODES`),
  ``bldg:yearOfConstruction``, ``bldg:roofType`` (1000 flat, 3100 gabled: the AdV roof-form codes
  that most published LoD2 data uses), ``bldg:measuredHeight`` (uom m), ``bldg:storeysAboveGround``,
- an LOD1 ``gml:Solid`` (the footprint extruded to the measured height, polygons inline),
- an LOD2 ``gml:Solid`` whose shell only references (``xlink:href``) the polygons of the thematic
  ``bldg:GroundSurface`` / ``bldg:WallSurface`` / ``bldg:RoofSurface`` that follow it: the most
  common way real LoD2 files are written, and the case a reader must resolve,
- an xAL address (中国 / 福建省 / 南平市 / county / street and number / 353000).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .layout import CRS, BuildingPlan, DistrictLayout

__all__ = ["ROOF_TYPE_CODES", "building_xml", "write_citygml"]

#: ``bldg:roofType`` codes written for the two roof forms.
ROOF_TYPE_CODES = {"flat": "1000", "gabled": "3100"}

_FUNCTION_CODESPACE = "http://www.sig3d.org/codelists/standard/building/2.0/_AbstractBuilding_function.xml"
_USAGE_CODESPACE = "http://www.sig3d.org/codelists/standard/building/2.0/_AbstractBuilding_usage.xml"

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" \
xmlns:bldg="http://www.opengis.net/citygml/building/2.0" \
xmlns:gen="http://www.opengis.net/citygml/generics/2.0" \
xmlns:gml="http://www.opengis.net/gml" \
xmlns:xAL="urn:oasis:names:tc:ciq:xsdschema:xAL:2.0" \
xmlns:xlink="http://www.w3.org/1999/xlink" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.opengis.net/citygml/2.0 http://schemas.opengis.net/citygml/2.0/cityGMLBase.xsd \
http://www.opengis.net/citygml/building/2.0 http://schemas.opengis.net/citygml/building/2.0/building.xsd \
http://www.opengis.net/citygml/generics/2.0 http://schemas.opengis.net/citygml/generics/2.0/generics.xsd">
<gml:description>{description}</gml:description>
<gml:name>{name}</gml:name>
<gml:boundedBy>
<gml:Envelope srsName="{crs}" srsDimension="3">
<gml:lowerCorner>{lower}</gml:lowerCorner>
<gml:upperCorner>{upper}</gml:upperCorner>
</gml:Envelope>
</gml:boundedBy>
"""
_FOOTER = "</core:CityModel>\n"


def _pos(points: Iterable[tuple[float, float, float]]) -> str:
    """A closed ring as posList text (the first point repeated at the end)."""
    pts = list(points)
    pts.append(pts[0])
    return " ".join(f"{x:.3f} {y:.3f} {z:.3f}" for x, y, z in pts)


def _polygon(ring: list[tuple[float, float, float]], pid: str | None = None) -> str:
    gid = f' gml:id="{pid}"' if pid else ""
    return (
        f"<gml:Polygon{gid}><gml:exterior><gml:LinearRing>"
        f'<gml:posList srsDimension="3">{_pos(ring)}</gml:posList>'
        "</gml:LinearRing></gml:exterior></gml:Polygon>"
    )


def _prism_faces(
    footprint: tuple[tuple[float, float], ...], z0: float, z1: float
) -> tuple[list[tuple[float, float, float]], list[list[tuple[float, float, float]]], list[tuple[float, float, float]]]:
    """(ground ring, wall rings, roof ring) of a flat-topped prism, every ring counter-clockwise
    seen from outside (the ground ring runs clockwise seen from above, its normal points down)."""
    n = len(footprint)
    ground = [(x, y, z0) for x, y in reversed(footprint)]
    walls = []
    for i in range(n):
        (ax, ay), (bx, by) = footprint[i], footprint[(i + 1) % n]
        walls.append([(ax, ay, z0), (bx, by, z0), (bx, by, z1), (ax, ay, z1)])
    roof = [(x, y, z1) for x, y in footprint]
    return ground, walls, roof


def _gabled_faces(
    footprint: tuple[tuple[float, float], ...], z0: float, ze: float, zr: float
) -> tuple[list[tuple[float, float, float]], list[list[tuple[float, float, float]]], list[list[tuple[float, float, float]]]]:
    """(ground ring, wall rings, roof rings) of a gabled house on a rectangle whose ridge runs
    parallel to its first edge, at ``zr``; the eaves are at ``ze``."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = footprint
    r0 = ((x0 + x3) / 2, (y0 + y3) / 2)
    r1 = ((x1 + x2) / 2, (y1 + y2) / 2)
    ground = [(x3, y3, z0), (x2, y2, z0), (x1, y1, z0), (x0, y0, z0)]
    walls = [
        [(x0, y0, z0), (x1, y1, z0), (x1, y1, ze), (x0, y0, ze)],
        [(x1, y1, z0), (x2, y2, z0), (x2, y2, ze), (r1[0], r1[1], zr), (x1, y1, ze)],
        [(x2, y2, z0), (x3, y3, z0), (x3, y3, ze), (x2, y2, ze)],
        [(x3, y3, z0), (x0, y0, z0), (x0, y0, ze), (r0[0], r0[1], zr), (x3, y3, ze)],
    ]
    roofs = [
        [(x0, y0, ze), (x1, y1, ze), (r1[0], r1[1], zr), (r0[0], r0[1], zr)],
        [(x2, y2, ze), (x3, y3, ze), (r0[0], r0[1], zr), (r1[0], r1[1], zr)],
    ]
    return ground, walls, roofs


def _day_of(bid: str) -> str:
    """A stable month and day for an id (buildings are not all finished on New Year's Day)."""
    h = int.from_bytes(hashlib.blake2b(bid.encode(), digest_size=2).digest(), "big")
    return f"{1 + h % 12:02d}-{1 + (h >> 4) % 28:02d}"


def _generic(kind: str, name: str, value: str, uom: str | None = None) -> str:
    unit = f' uom="{uom}"' if uom else ""
    return f'<gen:{kind} name="{name}"><gen:value{unit}>{value}</gen:value></gen:{kind}>'


def building_xml(plan: BuildingPlan, year: int, *, lod1: bool = True, lod2: bool = True) -> str:
    """The ``core:cityObjectMember`` element of one building as it is in ``year``."""
    bid = plan.id
    z0 = plan.ground_z
    out = [f'<core:cityObjectMember>\n<bldg:Building gml:id="{bid}">\n']
    if plan.name:
        out.append(f"<gml:name>{escape(plan.name)}</gml:name>\n")
    if plan.year_built >= 1990:
        out.append(f"<core:creationDate>{plan.year_built}-{_day_of(bid)}</core:creationDate>\n")
    generic = [
        _generic("stringAttribute", "community_id", plan.community_id),
        _generic("stringAttribute", "block_id", plan.block_id),
        _generic("stringAttribute", "district_id", plan.district_id),
        _generic("stringAttribute", "structure", plan.structure),
        _generic("stringAttribute", "danger_level", plan.danger_level_in(year)),
        _generic("intAttribute", "protected", "1" if plan.protected else "0"),
        _generic("intAttribute", "illegal", "1" if plan.illegal else "0"),
        _generic("intAttribute", "dwelling_units", str(plan.dwelling_units)),
        _generic("doubleAttribute", "gross_floor_area_m2", f"{plan.gross_floor_area_m2:.1f}"),
        _generic("measureAttribute", "eaves_height", f"{plan.eaves_m:.2f}", "m"),
        _generic("dateAttribute", "surveyed_on", f"{year}-{_day_of(bid + str(year))}"),
    ]
    if plan.facility:
        generic.append(_generic("stringAttribute", "facility", plan.facility))
    if plan.renovated_year is not None and year >= plan.renovated_year:
        generic.append(_generic("intAttribute", "renovated_year", str(plan.renovated_year)))
    out.append("\n".join(generic))
    roof = plan.roof if len(plan.footprint) == 4 else "flat"
    out.append(
        f'\n<bldg:function codeSpace="{_FUNCTION_CODESPACE}">{plan.function}</bldg:function>\n'
        f'<bldg:usage codeSpace="{_USAGE_CODESPACE}">{plan.usage}</bldg:usage>\n'
        f"<bldg:yearOfConstruction>{plan.year_built}</bldg:yearOfConstruction>\n"
        f"<bldg:roofType>{ROOF_TYPE_CODES[roof]}</bldg:roofType>\n"
        f'<bldg:measuredHeight uom="m">{plan.height_m:.2f}</bldg:measuredHeight>\n'
        f"<bldg:storeysAboveGround>{plan.storeys}</bldg:storeysAboveGround>\n"
    )
    top = z0 + plan.height_m
    if lod1:
        ground, walls, roof_ring = _prism_faces(plan.footprint, z0, top)
        members = "".join(
            f"<gml:surfaceMember>{_polygon(ring)}</gml:surfaceMember>" for ring in (ground, *walls, roof_ring)
        )
        out.append(
            f'<bldg:lod1Solid><gml:Solid gml:id="{bid}_lod1"><gml:exterior><gml:CompositeSurface>'
            f"{members}</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>\n"
        )
    if lod2:
        if roof == "gabled":
            ground, walls, roofs = _gabled_faces(plan.footprint, z0, z0 + plan.eaves_m, top)
        else:
            ground, walls, roof_ring = _prism_faces(plan.footprint, z0, top)
            roofs = [roof_ring]
        surfaces = [("GroundSurface", f"{bid}_G", ground)]
        surfaces += [("WallSurface", f"{bid}_W{i + 1}", ring) for i, ring in enumerate(walls)]
        surfaces += [("RoofSurface", f"{bid}_R{i + 1}", ring) for i, ring in enumerate(roofs)]
        refs = "".join(f'<gml:surfaceMember xlink:href="#{sid}_p"/>' for _, sid, _ in surfaces)
        out.append(
            f'<bldg:lod2Solid><gml:Solid gml:id="{bid}_lod2"><gml:exterior><gml:CompositeSurface>'
            f"{refs}</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>\n"
        )
        for kind, sid, ring in surfaces:
            out.append(
                f'<bldg:boundedBy><bldg:{kind} gml:id="{sid}"><bldg:lod2MultiSurface><gml:MultiSurface>'
                f"<gml:surfaceMember>{_polygon(ring, sid + '_p')}</gml:surfaceMember>"
                f"</gml:MultiSurface></bldg:lod2MultiSurface></bldg:{kind}></bldg:boundedBy>\n"
            )
    out.append(
        "<bldg:address><core:Address><core:xalAddress><xAL:AddressDetails><xAL:Country>"
        "<xAL:CountryName>中国</xAL:CountryName><xAL:AdministrativeArea>"
        "<xAL:AdministrativeAreaName>福建省</xAL:AdministrativeAreaName><xAL:Locality Type=\"City\">"
        "<xAL:LocalityName>南平市</xAL:LocalityName><xAL:DependentLocality Type=\"District\">"
        f"<xAL:DependentLocalityName>{escape(plan.county)}</xAL:DependentLocalityName>"
        f"<xAL:Thoroughfare Type=\"Street\"><xAL:ThoroughfareNumber>{escape(plan.house_number)}</xAL:ThoroughfareNumber>"
        f"<xAL:ThoroughfareName>{escape(plan.street)}</xAL:ThoroughfareName></xAL:Thoroughfare>"
        "<xAL:PostalCode><xAL:PostalCodeNumber>353000</xAL:PostalCodeNumber></xAL:PostalCode>"
        "</xAL:DependentLocality></xAL:Locality></xAL:AdministrativeArea></xAL:Country></xAL:AddressDetails>"
        "</core:xalAddress></core:Address></bldg:address>\n"
        "</bldg:Building>\n</core:cityObjectMember>\n"
    )
    return "".join(out)


def write_citygml(
    layout: DistrictLayout,
    path: str | os.PathLike[str],
    year: int,
    *,
    lod1: bool = True,
    lod2: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the buildings standing in ``year`` to ``path`` as CityGML 2.0; return how many.

    The file appears atomically (written beside it under a temporary name, then renamed).

    Parameters
    ----------
    layout
        the district plan.
    path
        the ``.gml`` file to write (gzip-compressed when it ends in ``.gz``).
    year
        the epoch: buildings alive that year, attributes as they are that year.
    lod1, lod2
        which levels of detail to write (at least one).
    on_progress
        called with the number of buildings written since the last call, every 1,000 buildings
        and at the end.

    Raises
    ------
    ValueError
        when neither LOD is asked for.
    OSError
        when the file cannot be written.
    """
    if not (lod1 or lod2):
        raise ValueError("write at least one of LOD1 and LOD2")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    x0, y0, x1, y1 = layout.bounds
    z0, z1 = layout.height_range
    header = _HEADER.format(
        description=escape(
            f"Example Nanping-like district generated by cim-twin: {layout.buildings} buildings, "
            f"seed {layout.seed}, state of {year}. Synthetic data, not a survey."
        ),
        name=escape(f"南平示例城区 Nanping example district {year}"),
        crs=quoteattr(CRS)[1:-1],
        lower=f"{x0:.3f} {y0:.3f} {z0:.3f}",
        upper=f"{x1:.3f} {y1:.3f} {z1:.3f}",
    )
    tmp = target.with_name(f".{target.name}.tmp")
    count = 0
    try:
        with open(tmp, "wb") as raw:
            # gzip when the name asks for it; no name and a zero time in the gzip header, so that the
            # bytes depend on the content alone.
            binary: Any = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
                if target.suffix == ".gz"
                else raw
            )
            with io.TextIOWrapper(binary, encoding="utf-8", newline="\n", write_through=False) as fh:
                fh.write(header)
                for plan in layout.iter_buildings(year):
                    fh.write(building_xml(plan, year, lod1=lod1, lod2=lod2))
                    count += 1
                    if on_progress is not None and count % 1000 == 0:
                        on_progress(1000)
                fh.write(_FOOTER)
        if on_progress is not None and count % 1000:
            on_progress(count % 1000)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
