"""3D Tiles 1.0/1.1 reader: any tileset into the scene graph.

``read_tileset(path)`` walks the tileset (external tilesets, implicit tiling, multiple contents),
decodes b3dm, i3dm, pnts, cmpt, glb and glTF content and returns a
:class:`~cim_twin.scene.Scene` with one object per feature; ``tileset_info(path)`` is the
streaming report behind ``cim-twin info``. See :mod:`cim_twin.io.tiles3d.reader` for the scene CRS
and feature-identity rules.
"""

from __future__ import annotations

from .reader import read_tileset, sniff_tileset, tileset_info

__all__ = ["read_tileset", "sniff_tileset", "tileset_info"]
