"""Typed attribute values from CityGML properties: thematic attributes, generic attributes (1.0-3.0,
including attribute sets), xAL 2 and 3 addresses, lifespans, measures and ADE properties."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from ...scene import URI, Address, Measure

__all__ = [
    "complex_value",
    "generic_attribute",
    "local_name",
    "parse_address",
    "parse_datetime",
    "typed_property",
]

_INT = re.compile(r"^[+-]?(?:0|[1-9]\d*)$")
_FLOAT = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")

#: Thematic properties whose type the CityGML schemas fix.
INT_PROPERTIES = frozenset(
    {"yearOfConstruction", "yearOfDemolition", "storeysAboveGround", "storeysBelowGround", "lod"}
)
DATE_PROPERTIES = frozenset({"dateOfConstruction", "dateOfDemolition", "dateOfRenovation"})
#: Properties that may occur several times and are kept as lists.
LIST_PROPERTIES = frozenset({"function", "usage", "storeyHeightsAboveGround", "storeyHeightsBelowGround"})


_LOCAL_NAMES: dict[Any, str] = {}


def local_name(tag: Any) -> str:
    """Local part of an lxml tag (``{ns}name`` -> ``name``; "" for comments). Cached: a document
    has few distinct tags and this is called for most elements."""
    try:
        return _LOCAL_NAMES[tag]
    except KeyError:
        name = tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else ""
        if isinstance(tag, str) and len(_LOCAL_NAMES) < 100_000:
            _LOCAL_NAMES[tag] = name
        return name
    except TypeError:  # unhashable (never for lxml tags, but be safe)
        return ""


def parse_datetime(text: str) -> datetime | None:
    """An xs:date or xs:dateTime as a timezone-aware datetime (UTC when the source gives no zone)."""
    text = text.strip()
    if not text:
        return None
    try:
        if _DATE.match(text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def infer_scalar(text: str) -> Any:
    """Best type for a bare text value: int, float, bool, date, datetime, URI, else the string.
    Numbers with leading zeros (codes such as ``09175128``) stay strings."""
    t = text.strip()
    if not t:
        return t
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t) and not (t[0] == "0" and len(t) > 1 and t[1].isdigit()):
        return float(t)
    if t in ("true", "false"):
        return t == "true"
    if _DATE.match(t):
        try:
            return date.fromisoformat(t)
        except ValueError:
            return t
    if _DATETIME.match(t):
        return parse_datetime(t) or t
    if t.startswith(("http://", "https://", "urn:")) and " " not in t:
        return URI(t)
    return t


def _number(text: str) -> float | int | str:
    t = text.strip()
    if _INT.match(t):
        return int(t)
    try:
        return float(t)
    except ValueError:
        return t


def typed_property(el: etree._Element, name: str) -> Any:
    """The typed value of a simple property element (no element children)."""
    text = el.text or ""
    uom = el.get("uom")
    key = (name, text, uom, uom is None and el.get("codeSpace") is not None)
    try:
        return _TYPED[key]
    except KeyError:
        pass
    value = _typed_value(name, text, uom, key[3])
    if not isinstance(value, list):  # the rest are immutable: shared between objects
        _remember(_TYPED, key, value)
    return value


#: Typed property values by (property name, text, uom, has a codeSpace).
_TYPED: dict[tuple[str, str, str | None, bool], Any] = {}
#: Entries per value cache before it starts over (a few MB: unique measurements only churn it).
_CACHE_SIZE = 20_000


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


def _typed_value(name: str, text: str, uom: str | None, coded: bool) -> Any:
    if uom is not None:
        parts = text.split()
        if len(parts) > 1:  # a measure list (storeyHeightsAboveGround = "3.0 2.8 2.8")
            values = [_number(p) for p in parts]
            if all(isinstance(v, (int, float)) for v in values):
                return [Measure(float(v), uom) for v in values]
        value = _number(text)
        return Measure(float(value), uom) if isinstance(value, (int, float)) else text.strip()
    if name in INT_PROPERTIES:
        value = _number(text)
        return int(value) if isinstance(value, (int, float)) else text.strip()
    if name in DATE_PROPERTIES:
        dt = parse_datetime(text)
        return dt.date() if dt is not None else text.strip()
    if coded:
        # code lists: keep the code as written ("1000", "31001_1010")
        return text.strip()
    if name in ("function", "usage", "class", "roofType"):
        return text.strip()
    return infer_scalar(text)


def complex_value(el: etree._Element, depth: int = 0) -> Any:
    """A nested dict for a property with element children (ADE data types, ExternalReference, ...).
    Repeated names become lists; leaf values are typed."""
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return typed_property(el, local_name(el.tag))
    if depth > 12:
        return etree.tostring(el, encoding="unicode", with_tail=False)[:200]
    out: dict[str, Any] = {}
    for child in children:
        key = local_name(child.tag)
        value = complex_value(child, depth + 1)
        if isinstance(value, dict) and len(value) == 1 and key[:1].islower():
            # property wrapping one object (<ref><Ref>...</Ref></ref>): skip the wrapper level
            (inner,) = value.values()
            value = inner
        href = child.get("{http://www.w3.org/1999/xlink}href")
        if href is not None and not len(child):
            value = href.lstrip("#")
        if key in out:
            existing = out[key]
            if isinstance(existing, list):
                existing.append(value)
            else:
                out[key] = [existing, value]
        else:
            out[key] = value
    if len(out) == 1:
        (key, value), = out.items()
        if key[:1].isupper() and isinstance(value, dict):
            # a property holding one object (<uro:attr><uro:Attr>...</uro:Attr>): keep its fields
            return value
    return out


# --- generic attributes --------------------------------------------------------------------------
_GEN_TYPES = {
    "stringAttribute": "string",
    "intAttribute": "int",
    "doubleAttribute": "double",
    "dateAttribute": "date",
    "uriAttribute": "uri",
    "measureAttribute": "measure",
    "StringAttribute": "string",
    "IntAttribute": "int",
    "DoubleAttribute": "double",
    "DateAttribute": "date",
    "UriAttribute": "uri",
    "MeasureAttribute": "measure",
    "CodeAttribute": "string",
    "genericAttributeSet": "set",
    "GenericAttributeSet": "set",
}


#: Converted generic attribute values by (kind, text, uom): cities repeat their codes, dates and
#: numbers, and every value here is immutable.
_CONVERTED: dict[tuple[str, str, str | None], Any] = {}


def _convert_generic(kind: str, value_el: etree._Element | None) -> Any:
    if value_el is None:
        return None
    text = value_el.text or ""
    if kind == "string":
        return text.strip()
    key = (kind, text, value_el.get("uom") if kind == "measure" else None)
    try:
        return _CONVERTED[key]
    except KeyError:
        pass
    value = _generic_value(kind, text.strip(), key[2])
    _remember(_CONVERTED, key, value)
    return value


def _generic_value(kind: str, text: str, uom: str | None) -> Any:
    if kind == "int":
        value = _number(text)
        return int(value) if isinstance(value, (int, float)) else text
    if kind == "double":
        value = _number(text)
        return float(value) if isinstance(value, (int, float)) else text
    if kind == "date":
        dt = parse_datetime(text)
        return dt.date() if dt is not None else text
    if kind == "uri":
        return URI(text)
    if kind == "measure":
        value = _number(text)
        return Measure(float(value), uom) if isinstance(value, (int, float)) else text
    return text


#: Local names of generic attribute elements (a quick test before :func:`generic_attribute`).
GENERIC_ELEMENTS = frozenset(_GEN_TYPES) | {"genericAttribute"}


def generic_attribute(el: etree._Element) -> tuple[str, Any] | None:
    """``(name, value)`` of a generic attribute element, CityGML 1.0/2.0 form
    (``<gen:intAttribute name="n"><gen:value>3</gen:value>``) or 3.0 form
    (``<genericAttribute><gen:IntAttribute><gen:name>n</gen:name><gen:value>3</gen:value>``).
    Attribute sets give a nested dict. None when ``el`` is not a generic attribute."""
    name = local_name(el.tag)
    attr_name = el.get("name")
    if attr_name is not None and len(el) == 1:
        # CityGML 1.0/2.0 simple form: <gen:intAttribute name="n"><gen:value>3</gen:value>
        kind = _GEN_TYPES.get(name)
        if kind is not None and kind != "set":
            return attr_name, _convert_generic(kind, el[0])
    if name == "genericAttribute":
        inner = next((c for c in el if isinstance(c.tag, str)), None)
        return generic_attribute(inner) if inner is not None else None
    kind = _GEN_TYPES.get(name)
    if kind is None:
        return None
    attr_name = el.get("name")
    value_el = None
    members: list[etree._Element] = []
    for child in el:
        cname = local_name(child.tag)
        if cname == "name" and attr_name is None:
            attr_name = (child.text or "").strip()
        elif cname == "value":
            value_el = child
        elif cname in _GEN_TYPES or cname == "genericAttribute":
            members.append(child)
    if attr_name is None:
        return None
    if kind == "set":
        out: dict[str, Any] = {}
        for member in members:
            item = generic_attribute(member)
            if item is not None:
                out[item[0]] = item[1]
        return attr_name, out
    return attr_name, _convert_generic(kind, value_el)


# --- addresses -----------------------------------------------------------------------------------
def _texts(el: etree._Element, *names: str) -> list[str]:
    wanted = set(names)
    return [(e.text or "").strip() for e in el.iter() if local_name(e.tag) in wanted and (e.text or "").strip()]


def _texts_by_name(el: etree._Element) -> dict[str, list[str]]:
    """Texts of all descendants by local name, in one pass."""
    out: dict[str, list[str]] = {}
    for e in el.iter():
        text = e.text
        if text is not None:
            text = text.strip()
            if text:
                out.setdefault(local_name(e.tag), []).append(text)
    return out


def parse_address(el: etree._Element) -> Address | None:
    """An :class:`Address` from a CityGML ``address`` property or ``Address`` element, xAL 2
    (``AddressDetails/Country/Locality/Thoroughfare``) or xAL 3 (``Address/Country/NameElement``,
    ``Thoroughfare/NameElement``, ``Number``, ``PostCode/Identifier``, free text lines)."""
    xal = None
    ns = ""
    for e in el.iter("{*}AddressDetails", "{*}Address"):
        tag = e.tag
        ns = tag[1 : tag.find("}")].lower() if tag.startswith("{") else ""
        if "xal" in ns:
            xal = e
            break
    if xal is None:
        return None
    if "xal:3" in ns or ns.endswith(":3"):
        return _address_xal3(xal)
    return _address_xal2(xal)


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _address_xal2(xal: etree._Element) -> Address:
    texts = _texts_by_name(xal)
    lines = texts.get("AddressLine", [])

    def first(*names: str) -> str | None:
        for name in names:
            if name in texts:
                return texts[name][0]
        return None

    return Address(
        street=first("ThoroughfareName"),
        house_number=first("ThoroughfareNumber"),
        postal_code=first("PostalCodeNumber"),
        locality=first("LocalityName"),
        district=first("DependentLocalityName"),
        region=first("AdministrativeAreaName", "SubAdministrativeAreaName"),
        country=first("CountryName"),
        free_text=", ".join(lines) if lines else None,
    )


def _xal3_names(parent: etree._Element | None) -> str | None:
    if parent is None:
        return None
    names = [(c.text or "").strip() for c in parent if local_name(c.tag) == "NameElement" and (c.text or "").strip()]
    return " ".join(names) or None


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if local_name(c.tag) == name:
            return c
    return None


def _address_xal3(xal: etree._Element) -> Address:
    country = _child(xal, "Country")
    locality = _child(xal, "Locality")
    admin = _child(xal, "AdministrativeArea")
    thoroughfare = _child(xal, "Thoroughfare")
    number = None
    street = None
    if thoroughfare is not None:
        street = _xal3_names(thoroughfare)
        numbers = [(c.text or "").strip() for c in thoroughfare if local_name(c.tag) == "Number"]
        number = " ".join(n for n in numbers if n) or None
    postcode = _child(xal, "PostCode")
    postal = None
    if postcode is not None:
        postal = _first(_texts(postcode, "Identifier")) or _xal3_names(postcode)
    district = None
    if locality is not None:
        sub = _child(locality, "SubLocality")
        district = _xal3_names(sub) if sub is not None else None
    free = _child(xal, "FreeTextAddress")
    lines = _texts(free, "AddressLine") if free is not None else []
    return Address(
        street=street,
        house_number=number,
        postal_code=postal,
        locality=_xal3_names(locality),
        district=district,
        region=_xal3_names(admin),
        country=_xal3_names(country),
        free_text=", ".join(lines) if lines else None,
    )
