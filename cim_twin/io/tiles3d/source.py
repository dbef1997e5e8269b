"""Where tileset files come from: URIs resolved safely inside the tileset folder.

Every URI a tileset names (content, external tilesets, subtrees, glTF buffers and images) goes
through :class:`TilesetSource`, which

* resolves relative URIs against the file that names them, percent-decoded, query and fragment
  dropped;
* refuses absolute paths, ``file:`` URIs and anything that resolves outside the tileset's folder
  (``..`` escapes, symbolic links pointing out);
* refuses ``http(s)`` URLs unless ``allow_remote`` is set;
* accepts gzip-compressed files (as some servers store them) and JSON with a UTF-8 byte order mark;
* reads 3D Tiles packages (``.3tz``, a ZIP archive with ``tileset.json`` at its top) the same way,
  the archive standing in for the tileset folder.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from ...errors import FormatError, UnsafeInputError
from ...serialization import loads

__all__ = ["PACKAGE_SUFFIX", "Location", "TilesetSource"]

#: File suffix of a 3D Tiles package (3TZ).
PACKAGE_SUFFIX = ".3tz"

#: Largest remote file fetched with ``allow_remote`` (bytes); a tile is rarely above a few MiB.
MAX_REMOTE_BYTES = 512 * 1024 * 1024
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True, slots=True)
class Location:
    """A resolved file: a local path inside the tileset folder, or a remote URL.

    ``label`` is how messages name it: the path relative to the tileset folder (``tiles/0/1.b3dm``)
    or the URL.
    """

    path: Path | None
    url: str | None
    label: str

    @property
    def suffix(self) -> str:
        name = self.path.name if self.path is not None else urlsplit(self.url or "").path
        return PurePosixPath(name).suffix.lower()


class TilesetSource:
    """Safe access to the files of one tileset.

    Parameters
    ----------
    root_file:
        The top ``tileset.json``, whose folder bounds every local URI; or a ``.3tz`` package,
        whose ``tileset.json`` is the top one and whose entries are the only files reachable.
    allow_remote:
        Allow ``http``/``https`` URIs (fetched with a timeout and a size cap).
    """

    def __init__(self, root_file: Path, *, allow_remote: bool = False) -> None:
        self.root_file = root_file
        self.allow_remote = allow_remote
        self.archive: zipfile.ZipFile | None = None
        if root_file.suffix.lower() == PACKAGE_SUFFIX:
            self.archive = _open_package(root_file)
            # Entries are addressed as paths below the archive's own path.
            self.root_dir = root_file.resolve()
            self.root = Location(self.root_dir / "tileset.json", None, f"{root_file}/tileset.json")
        else:
            self.root_dir = root_file.parent.resolve()
            self.root = Location(root_file.resolve(), None, str(root_file))

    # --- resolution ------------------------------------------------------------------------------
    def resolve(self, uri: str, base: Location) -> Location:
        """Resolve ``uri`` as named in the file at ``base``.

        Raises
        ------
        UnsafeInputError
            for absolute paths, ``..`` escapes, ``file:`` URIs and (without ``allow_remote``)
            remote URLs.
        FormatError
            for an empty or non-string URI.
        """
        if not isinstance(uri, str) or not uri.strip():
            raise FormatError(f"empty or invalid URI {uri!r}", path=base.label)
        text = uri.strip()
        scheme = urlsplit(text).scheme.lower()
        if base.url is not None and not scheme:
            text = urljoin(base.url, text)
            scheme = urlsplit(text).scheme.lower()
        if scheme in ("http", "https"):
            if not self.allow_remote:
                raise UnsafeInputError(
                    f"remote URI {text!r} refused",
                    path=base.label,
                    hint="pass --allow-remote to fetch http(s) content",
                )
            return Location(None, text, text)
        if scheme and not _WINDOWS_DRIVE.match(text):
            raise UnsafeInputError(
                f"URI scheme {scheme!r} refused in {text!r}",
                path=base.label,
                hint="tileset URIs must be relative paths inside the tileset folder",
            )
        split = urlsplit(text) if not _WINDOWS_DRIVE.match(text) else None
        rel = unquote(split.path if split is not None else text)
        if rel.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(rel):
            raise UnsafeInputError(
                f"absolute path {uri!r} refused",
                path=base.label,
                hint="tileset URIs must be relative paths inside the tileset folder",
            )
        assert base.path is not None
        joined = base.path.parent / rel.replace("\\", "/")
        # Inside a package there is no file system to ask: '..' is folded lexically.
        target = Path(posixpath.normpath(joined.as_posix())) if self.archive is not None else joined.resolve()
        if not target.is_relative_to(self.root_dir):
            raise UnsafeInputError(
                f"URI {uri!r} points outside the tileset folder",
                path=base.label,
                hint="content must lie in the folder of the top tileset.json (no '..' escapes)",
            )
        return Location(target, None, target.relative_to(self.root_dir).as_posix())

    # --- reading ---------------------------------------------------------------------------------
    def read_bytes(self, loc: Location) -> bytes:
        """The bytes of ``loc``, gunzipped when gzip-compressed.

        Raises
        ------
        FormatError
            when the file is missing, unreadable, or a broken gzip stream.
        """
        if loc.url is not None:
            data = self._fetch(loc)
        elif self.archive is not None:
            data = self._read_entry(loc)
        else:
            assert loc.path is not None
            try:
                data = loc.path.read_bytes()
            except FileNotFoundError as exc:
                raise FormatError("file not found", path=loc.label, hint="the tileset names a file that is missing") from exc
            except OSError as exc:
                raise FormatError(f"cannot read: {exc.strerror or exc}", path=loc.label) from exc
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise FormatError(f"broken gzip stream: {exc}", path=loc.label) from exc
        return data

    def read_json(self, loc: Location, data: bytes | None = None) -> Any:
        """Parse a JSON file (gzip and a UTF-8 BOM accepted).

        Raises
        ------
        FormatError
            naming the file when it is not valid JSON.
        """
        raw = self.read_bytes(loc) if data is None else data
        return parse_json(raw, loc.label)

    def _read_entry(self, loc: Location) -> bytes:
        assert self.archive is not None and loc.path is not None
        name = loc.path.relative_to(self.root_dir).as_posix()
        try:
            info = self.archive.getinfo(name)
        except KeyError as exc:
            raise FormatError("file not found in the package", path=loc.label,
                              hint="the tileset names a file that the .3tz archive does not hold") from exc
        if info.file_size > MAX_REMOTE_BYTES:
            raise FormatError(f"package entry larger than {MAX_REMOTE_BYTES} bytes", path=loc.label)
        try:
            return self.archive.read(info)
        except (zipfile.BadZipFile, NotImplementedError, OSError, zlib.error) as exc:
            raise FormatError(f"package entry does not read: {exc}", path=loc.label) from exc

    def _fetch(self, loc: Location) -> bytes:
        import urllib.error
        import urllib.request

        assert loc.url is not None
        try:
            with urllib.request.urlopen(loc.url, timeout=30) as response:  # scheme checked in resolve()
                data = response.read(MAX_REMOTE_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FormatError(f"cannot fetch: {exc}", path=loc.label, hint="check the URL and the network") from exc
        if len(data) > MAX_REMOTE_BYTES:
            raise FormatError(f"remote file larger than {MAX_REMOTE_BYTES} bytes", path=loc.label)
        return bytes(data)


def _open_package(path: Path) -> zipfile.ZipFile:
    """Open a 3TZ package.

    Raises
    ------
    FormatError
        when it is not a ZIP archive or holds no top ``tileset.json``.
    """
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise FormatError("no such file", path=path) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise FormatError(f"not a 3D Tiles package (ZIP archive): {exc}", path=path) from exc
    if "tileset.json" not in archive.NameToInfo:
        archive.close()
        raise FormatError("package holds no tileset.json at its top", path=path,
                          hint="a .3tz archive has tileset.json as a top-level entry")
    return archive


def parse_json(raw: bytes | memoryview, label: str) -> Any:
    """Parse JSON bytes (UTF-8, BOM accepted); a :class:`FormatError` naming ``label`` otherwise."""
    try:
        return loads(bytes(raw))
    except Exception as exc:  # orjson.JSONDecodeError, UnicodeDecodeError
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"JSON does not parse: {text}", path=label) from exc
