"""The public API for plugin authors.

>>> from cim_twin.plugins import hookimpl, Indicator, IndicatorSpec, CheckContext

See docs/plugins.md for a complete plugin, its packaging and its tests.
"""

from __future__ import annotations

from .indicators.api import AuxLayer, CheckContext, Indicator, is_residential
from .indicators.hookspecs import hookimpl
from .io.registry import ExporterSpec, ReaderSpec
from .model import (
    Direction,
    IndicatorSpec,
    Measurement,
    ProblemPoint,
    Severity,
    Status,
    Threshold,
)

__all__ = [
    "AuxLayer",
    "CheckContext",
    "Direction",
    "ExporterSpec",
    "Indicator",
    "IndicatorSpec",
    "Measurement",
    "ProblemPoint",
    "ReaderSpec",
    "Severity",
    "Status",
    "Threshold",
    "hookimpl",
    "is_residential",
]
