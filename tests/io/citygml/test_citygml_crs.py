"""srsName forms real CityGML files use, as the reader sees them (cim_twin.crs.parse_srs_name)."""

from __future__ import annotations

import pytest

from cim_twin.crs import parse_srs_name
from cim_twin.errors import CRSError


@pytest.mark.parametrize(
    "srs,name,horizontal,vertical,lat_first",
    [
        ("EPSG:25832", "EPSG:25832", 25832, None, False),
        ("urn:ogc:def:crs:EPSG::25832", "EPSG:25832", 25832, None, False),
        ("urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783", "EPSG:25833+5783", 25833, 5783, False),
        ("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783", "EPSG:25832+5783", 25832, 5783, False),
        ("http://www.opengis.net/def/crs/EPSG/0/3946", "EPSG:3946", 3946, None, False),
        ("urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH", "EPSG:25832+5783", 25832, 5783, False),
        ("urn:adv:crs:DE_DHDN_3GK4*DE_DHHN92_NH", "EPSG:31468+5783", 31468, 5783, False),
        ("EPSG:4548", "EPSG:4548", 4548, None, False),
        # geographic CRSs in the URN / URI forms keep the EPSG axis order: latitude first
        ("http://www.opengis.net/def/crs/EPSG/0/6697", "EPSG:6697", 6668, 6695, True),
        ("urn:ogc:def:crs:EPSG::4979", "EPSG:4979", 4979, None, True),
        # ... while the short form is read longitude first, as GIS software and real files do
        ("EPSG:4979", "EPSG:4979", 4979, None, False),
        ("EPSG:4326", "EPSG:4326", 4326, None, False),
    ],
)
def test_srs_name_forms(srs: str, name: str, horizontal: int, vertical: int | None, lat_first: bool) -> None:
    crs = parse_srs_name(srs)
    assert (crs.name, crs.horizontal_epsg, crs.vertical_epsg, crs.lat_first) == (name, horizontal, vertical, lat_first)
    assert not crs.is_local


def test_local_and_unknown() -> None:
    local = parse_srs_name("#local-CRS-1")
    assert local.is_local and local.crs is None
    with pytest.raises(CRSError, match="999999"):
        parse_srs_name("EPSG:999999")
    with pytest.raises(CRSError, match="unknown AdV CRS name"):
        parse_srs_name("urn:adv:crs:NOWHERE_UTM99")
