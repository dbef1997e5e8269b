"""Readers and writers as registry entries, registered through the plugin hooks.

A reader says which files it takes (``sniff`` reads at most a few kilobytes, never a whole file) and
how to read them into a :class:`~cim_twin.scene.Scene`. The built-in CityGML and 3D Tiles readers
register exactly as a third party's would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..scene import CityObject, Scene

__all__ = ["ExporterSpec", "ReaderSpec"]


@dataclass(frozen=True)
class ReaderSpec:
    """One reader.

    Attributes
    ----------
    name:
        Short name (``"citygml"``, ``"3dtiles"``), also the ``format`` reported by ``cim-twin info``.
    title:
        What it reads, for listings.
    sniff:
        ``sniff(path) -> bool``: does this reader take ``path``? Reads a few KiB at most.
    read:
        ``read(path, **options) -> Scene``. Options every reader accepts: ``crs`` (override or
        target CRS as text), ``progress`` (bool). Readers may accept more.
    iter_objects:
        Optional streaming form: ``iter_objects(path, **options) -> (header, iterator of
        CityObject)``, used by ``cim-twin info`` so memory stays flat on large files.
    info:
        Optional ``info(path, **options) -> dict``: the report of ``cim-twin info --json`` (at least
        ``format``, ``version``, ``crs``, ``counts``, ``lods``, ``extent_wgs84``, ``warnings``),
        computed streaming where the format allows.
    suffixes:
        File name endings it usually takes (for messages when nothing matches).
    """

    name: str
    title: str
    sniff: Callable[[Path], bool]
    read: Callable[..., Scene]
    iter_objects: Callable[..., tuple[dict[str, Any], Iterator[CityObject]]] | None = None
    info: Callable[..., dict[str, Any]] | None = None
    suffixes: tuple[str, ...] = ()
    plugin: str = field(default="", compare=False)


@dataclass(frozen=True)
class ExporterSpec:
    """One exporter: ``export(scene, out_dir, **options)`` writes a layer into an export folder."""

    name: str
    title: str
    export: Callable[..., Any]
    plugin: str = field(default="", compare=False)
