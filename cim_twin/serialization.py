"""The one place that turns values into JSON bytes and back (orjson).

Output is deterministic: keys sorted, numpy arrays and scalars as plain JSON, datetimes in ISO 8601
with their offset, so that the same input gives byte-identical files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import orjson

__all__ = ["atomic_write_bytes", "dumps", "dumps_pretty", "loads", "write_json"]

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    # orjson handles dataclasses, datetimes and numpy; what is left is ours.
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):  # numpy scalars of kinds orjson leaves out (e.g. float16)
        return value.item()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__} to JSON")


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact, key-sorted JSON bytes."""
    return orjson.dumps(value, default=default or _default, option=_OPTIONS)


def dumps_pretty(value: Any) -> bytes:
    """Indented, key-sorted JSON bytes ending in a newline (for files people read)."""
    return orjson.dumps(
        value, default=_default, option=_OPTIONS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    )


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; a UTF-8 byte-order mark is accepted (some tilesets carry one)."""
    if isinstance(data, str):
        data = data.lstrip("\ufeff")
    elif bytes(data[:3]) == b"\xef\xbb\xbf":
        data = bytes(data[3:])
    return orjson.loads(data)


_UMASK: int | None = None


def _umask() -> int:
    """The process umask, read once (reading it means setting it, which is not thread-safe)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename,
    so that a reader never sees a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode any new file would get
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], value: Any, *, pretty: bool = True) -> None:
    """Atomically write ``value`` as deterministic JSON."""
    atomic_write_bytes(path, dumps_pretty(value) if pretty else dumps(value))
