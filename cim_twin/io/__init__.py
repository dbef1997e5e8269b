"""Readers (CityGML, 3D Tiles, auxiliary layers) and the :func:`read_scene` entry point."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import FormatError
from .registry import ExporterSpec, ReaderSpec

__all__ = ["ExporterSpec", "ReaderSpec", "find_reader", "read_scene"]


def find_reader(path: str | PathLike[str]) -> ReaderSpec:
    """The registered reader that takes ``path``.

    Raises
    ------
    FormatError
        naming what was tried when no reader takes the file.
    """
    from ..indicators.host import get_host

    text = str(path)
    # "https:/" too: a command-line Path has already folded the double slash.
    if text.lower().startswith(("http:/", "https:/", "file:/")):
        url = text if "://" in text else text.replace(":/", "://", 1)
        raise FormatError("models are read from local files, not URLs", path=url,
                          hint="download the tileset or file first (a local tileset may still point to "
                          "remote content with --allow-remote)")
    p = Path(path)
    if not p.exists():
        raise FormatError("no such file or folder", path=p, hint="check the path")
    readers = get_host().readers
    for reader in readers.values():
        if reader.sniff(p):
            return reader
    tried = ", ".join(f"{r.name} ({' '.join(r.suffixes)})" for r in readers.values()) or "none registered"
    raise FormatError(
        "not a city model any installed reader takes",
        path=p,
        hint=f"readers tried: {tried}",
    )


def read_scene(path: str | PathLike[str], **options: Any) -> Any:
    """Read a CityGML file or a 3D tileset into a :class:`~cim_twin.scene.Scene`.

    ``options`` go to the reader; ``crs="EPSG:4548"`` overrides (CityGML) or sets the target
    (3D Tiles) CRS.
    """
    return find_reader(path).read(Path(path), **options)
