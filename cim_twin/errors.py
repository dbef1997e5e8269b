"""Errors and load warnings of cim_twin.

One root, :class:`CimTwinError`, with a few families. Every error carries the place it is about
(file, line, column, object id or tile URI) and a hint, so that the CLI can print one clear line::

    data/city.gml:1200:14: polygon has fewer than 3 distinct points (gml:id poly_17) -- hint: ...

Foreign exceptions (lxml, pyproj, OSError) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike, fspath

__all__ = [
    "CRSError",
    "CimTwinError",
    "ConfigError",
    "ExportError",
    "FormatError",
    "LoadWarning",
    "PluginError",
    "UnsafeInputError",
    "format_place",
]


def format_place(
    path: str | PathLike[str] | None = None,
    line: int | None = None,
    column: int | None = None,
) -> str:
    """``path:line:column`` with the missing parts left out ("" when nothing is known)."""
    parts = [fspath(path)] if path is not None else []
    if line is not None:
        parts.append(str(line))
        if column is not None:
            parts.append(str(column))
    return ":".join(parts)


class CimTwinError(Exception):
    """Root of every error cim_twin raises on purpose.

    Parameters
    ----------
    message:
        What went wrong, in one sentence, without the place.
    path, line, column:
        Where (file or tile URI, 1-based line and column).
    object_id:
        The gml:id, feature id or indicator code concerned.
    hint:
        What the user can do about it.
    """

    #: Exit code the CLI uses for this family (2 = user error).
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        column: int | None = None,
        object_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = fspath(path) if path is not None else None
        self.line = line
        self.column = column
        self.object_id = object_id
        self.hint = hint

    def __str__(self) -> str:
        place = format_place(self.path, self.line, self.column)
        text = f"{place}: {self.message}" if place else self.message
        if self.object_id:
            text += f" (id {self.object_id})"
        if self.hint:
            text += f" -- hint: {self.hint}"
        return text


class FormatError(CimTwinError):
    """The input is not what it claims to be, or is broken (not well-formed, truncated, wrong magic)."""


class UnsafeInputError(FormatError):
    """The input asks for something cim_twin never does: entity expansion, DTDs, network access,
    or paths that escape the tileset folder."""


class CRSError(CimTwinError):
    """The coordinate reference system is unknown, missing or cannot be transformed."""


class ConfigError(CimTwinError):
    """The project file or a command-line option is wrong (names the key and the file)."""


class PluginError(CimTwinError):
    """A plugin could not be loaded or registered something invalid."""


class ExportError(CimTwinError):
    """An export could not be written (disk full, existing output, broken input mid-way)."""


@dataclass(frozen=True, slots=True)
class LoadWarning:
    """A problem with one object or tile that did not stop the rest from loading."""

    message: str
    path: str | None = None
    line: int | None = None
    object_id: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        place = format_place(self.path, self.line)
        text = f"{place}: {self.message}" if place else self.message
        if self.object_id:
            text += f" (id {self.object_id})"
        if self.hint:
            text += f" -- hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "object_id": self.object_id,
            "hint": self.hint,
        }
