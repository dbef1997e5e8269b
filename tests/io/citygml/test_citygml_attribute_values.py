"""Typed attribute values are shared between objects only where they cannot be changed."""

from __future__ import annotations

from datetime import date

from lxml import etree

from cim_twin.io.citygml.attributes import _convert_generic, typed_property
from cim_twin.scene.objects import Measure

GEN = "http://www.opengis.net/citygml/generics/2.0"


def _el(xml: str) -> etree._Element:
    return etree.fromstring(xml)


def test_typed_values_repeat_and_lists_are_not_shared() -> None:
    heights = '<h xmlns="x" uom="m">3.0 2.8 2.8</h>'
    first, second = typed_property(_el(heights), "storeyHeightsAboveGround"), typed_property(_el(heights), "x")
    assert first == [Measure(3.0, "m"), Measure(2.8, "m"), Measure(2.8, "m")] == second
    first.append(Measure(1.0, "m"))
    assert len(typed_property(_el(heights), "storeyHeightsAboveGround")) == 3
    assert typed_property(_el('<y xmlns="x">1995</y>'), "yearOfConstruction") == 1995
    assert typed_property(_el('<f xmlns="x" codeSpace="c">1000</f>'), "function") == "1000"
    assert typed_property(_el('<f xmlns="x">1000</f>'), "other") == 1000  # no code list: a number
    assert typed_property(_el('<m xmlns="x" uom="ft">12</m>'), "measuredHeight") == Measure(12.0, "ft")
    assert typed_property(_el('<m xmlns="x" uom="m">12</m>'), "measuredHeight") == Measure(12.0, "m")


def test_generic_values_keep_their_unit_and_type() -> None:
    def value(xml: str) -> etree._Element:
        return _el(f'<gen:value xmlns:gen="{GEN}" {xml}')

    assert _convert_generic("measure", value('uom="m">2.5</gen:value>')) == Measure(2.5, "m")
    assert _convert_generic("measure", value('uom="ft">2.5</gen:value>')) == Measure(2.5, "ft")
    assert _convert_generic("int", value(">7</gen:value>")) == 7
    assert _convert_generic("double", value(">7</gen:value>")) == 7.0
    assert _convert_generic("date", value(">2024-05-19</gen:value>")) == date(2024, 5, 19)
    assert _convert_generic("string", value("> 7 </gen:value>")) == "7"
    assert _convert_generic("int", value(">x7</gen:value>")) == "x7"
