"""Registers the 3D Tiles reader through the same hook a third-party reader uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...indicators.hookspecs import hookimpl


@hookimpl
def register_readers(register: Callable[[Any], None]) -> None:
    from ..registry import ReaderSpec
    from .reader import read_tileset, sniff_tileset, tileset_info

    register(
        ReaderSpec(
            name="3dtiles",
            title="3D Tiles 1.0/1.1 tileset (tileset.json, its folder, or a .3tz package)",
            sniff=sniff_tileset,
            read=read_tileset,
            info=tileset_info,
            suffixes=(".json", ".3tz", "folder with tileset.json"),
        )
    )
