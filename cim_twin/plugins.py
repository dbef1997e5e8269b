"""The public API for plugin authors.

>>> from cim_twin.plugins import hookimpl, Indicator, IndicatorSpec, CheckContext

An indicator plugin needs :data:`hookimpl`, :class:`Indicator` and :class:`IndicatorSpec`; the
rest is what its indicators see and make. :mod:`cim_twin.testing` helps testing them. See
docs/plugins.md for a complete plugin, its packaging, its tests and the hook reference.
"""

from __future__ import annotations

from .indicators.api import AuxLayer, CheckContext, Indicator, MissingDataError, is_residential
from .indicators.hookspecs import hookimpl
from .io.registry import ExporterSpec, ReaderSpec
from .model import (
    CATEGORIES,
    LEVELS,
    Direction,
    IndicatorSpec,
    Measurement,
    Period,
    ProblemPoint,
    Severity,
    Status,
    Threshold,
)

__all__ = [
    "CATEGORIES",
    "LEVELS",
    "AuxLayer",
    "CheckContext",
    "Direction",
    "ExporterSpec",
    "Indicator",
    "IndicatorSpec",
    "Measurement",
    "MissingDataError",
    "Period",
    "ProblemPoint",
    "ReaderSpec",
    "Severity",
    "Status",
    "Threshold",
    "hookimpl",
    "is_residential",
]
