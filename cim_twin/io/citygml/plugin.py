"""Registers the built-in CityGML reader through the same hook a third-party reader uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...indicators.hookspecs import hookimpl
from ..registry import ReaderSpec


@hookimpl
def register_readers(register: Callable[[Any], None]) -> None:
    """Register the ``citygml`` reader (CityGML 1.0, 2.0, 3.0; plain or gzipped)."""
    from . import citygml_info, iter_citygml, read_citygml
    from .source import sniff_citygml

    register(
        ReaderSpec(
            name="citygml",
            title="CityGML 1.0 / 2.0 / 3.0 (.gml, .xml, .gz), streaming",
            sniff=sniff_citygml,
            read=read_citygml,
            iter_objects=iter_citygml,
            info=citygml_info,
            suffixes=(".gml", ".xml", ".gml.gz", ".xml.gz"),
        )
    )
