"""Opening a CityGML file safely: plain or gzip, byte counting for progress, and a check of the
document head before any parser sees it.

The head check reads the prolog (XML declaration, comments, processing instructions) up to the
root element's start tag. A DOCTYPE there is refused: CityGML never needs one, and it is the door
for entity expansion (billion laughs) and external entities (XXE). The root tag and its namespace
declarations tell CityGML (and its version) apart from IndoorGML, KML or other GML.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ...errors import FormatError, UnsafeInputError

__all__ = ["CITYGML_VERSIONS", "DocumentHead", "FilePart", "open_counting", "open_part", "read_head", "sniff_citygml"]

#: The prolog may not be longer than this (comments before the root element included).
MAX_PROLOG_BYTES = 4 * 1024 * 1024
_CHUNK = 64 * 1024

#: CityGML core namespace -> version.
CITYGML_VERSIONS: dict[str, str] = {
    "http://www.opengis.net/citygml/1.0": "1.0",
    "http://www.opengis.net/citygml/2.0": "2.0",
    "http://www.opengis.net/citygml/3.0": "3.0",
    "http://www.citygml.org/citygml/1/0/0": "0.4",
}
_VERSION_IN_NS = re.compile(r"^http://www\.opengis\.net/citygml/(?:[a-z]+/|profiles/base/)?(\d\.\d)$")

# Well-known XML vocabularies that are not CityGML, to say what a file is instead.
_OTHER_FORMATS: tuple[tuple[str, str], ...] = (
    ("http://www.opengis.net/indoorgml", "IndoorGML"),
    ("http://www.opengis.net/kml", "KML"),
    ("http://earth.google.com/kml", "KML"),
    ("http://www.w3.org/2000/svg", "SVG"),
    ("http://www.topografix.com/GPX", "GPX"),
    ("http://www.opengis.net/wfs", "WFS"),
    ("http://www.opengis.net/ows", "OWS"),
    ("http://www.w3.org/1999/xhtml", "XHTML"),
    ("http://www.buildingsmart-tech.org/ifcXML", "ifcXML"),
    ("http://www.opengis.net/landxml", "LandXML"),
    ("http://www.landxml.org", "LandXML"),
)


@dataclass
class DocumentHead:
    """What the prolog and the root start tag say."""

    root_tag: str  # qualified as written, e.g. "core:CityModel"
    root_local: str
    root_namespace: str | None
    namespaces: dict[str, str] = field(default_factory=dict)  # prefix ("" = default) -> URI
    encoding: str | None = None
    gzip: bool = False

    @property
    def version(self) -> str | None:
        """CityGML version from the namespaces declared on the root (None when not CityGML)."""
        uris = [self.root_namespace or "", *self.namespaces.values()]
        for uri in uris:
            if uri in CITYGML_VERSIONS:
                return CITYGML_VERSIONS[uri]
        for uri in uris:
            m = _VERSION_IN_NS.match(uri)
            if m:
                return m.group(1)
        return None


class _CountingReader(io.RawIOBase):
    """A raw file wrapper that reports the bytes read to a callback (progress by bytes)."""

    def __init__(self, raw: IO[bytes], on_read: Any) -> None:
        self._raw = raw
        self._on_read = on_read
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.bytes_read += n
            if self._on_read is not None:
                self._on_read(n)
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_counting(path: Path, on_read: Any = None) -> IO[bytes]:
    """Open ``path`` for reading decompressed bytes (gzip by magic number, whatever the name);
    ``on_read(n)`` is called with the number of *file* bytes read, for progress bars.

    Raises
    ------
    FormatError
        when the file cannot be opened.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the returned stream
    except OSError as exc:
        raise FormatError(f"cannot open file: {exc.strerror or exc}", path=path) from exc
    counting = _CountingReader(raw, on_read)
    buffered = io.BufferedReader(counting, buffer_size=1 << 20)
    if _is_gzip(path):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


@dataclass(frozen=True)
class FilePart:
    """A stretch of whole top-level members of a plain CityGML file, read as a document of its own:
    the file's ``head`` (prolog, root start tag, envelope), bytes ``start``..``end`` of the file,
    and its ``tail`` (the closing root tag). Several processes read the parts of one large file
    side by side without copying them (see ``cim_twin.export.streaming``)."""

    head: bytes
    start: int
    end: int
    tail: bytes


class _PartReader(io.RawIOBase):
    """The bytes of a :class:`FilePart`: head, the file range, tail (libxml2 pulls them in 32 KiB
    reads; as fast as letting it read a file of its own)."""

    def __init__(self, path: Path, part: FilePart) -> None:
        self._raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with this reader
        self._raw.seek(part.start)
        self._left = part.end - part.start
        self._part = part
        self._segment = 0  # 0 head, 1 file range, 2 tail, 3 done
        self._offset = 0  # in the head or tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._segment < 3:
            if self._segment == 1:
                n = self._raw.readinto(view[: min(len(view), self._left)]) if self._left > 0 else 0
                if n:
                    self._left -= n
                    return n
            else:
                data = self._part.head if self._segment == 0 else self._part.tail
                if self._offset < len(data):
                    n = min(len(view), len(data) - self._offset)
                    view[:n] = data[self._offset : self._offset + n]
                    self._offset += n
                    return n
                self._offset = 0
            self._segment += 1  # a short file ends its range early: the parser then reports it
        return 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_part(path: Path, part: FilePart) -> IO[bytes]:
    """Open a :class:`FilePart` of ``path`` for reading as one document.

    Raises
    ------
    FormatError
        when the file cannot be opened.
    """
    try:
        return io.BufferedReader(_PartReader(path, part), buffer_size=1 << 20)
    except OSError as exc:
        raise FormatError(f"cannot open file: {exc.strerror or exc}", path=path) from exc


_XMLDECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_START_TAG = re.compile(rb"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")
_XMLNS = re.compile(rb"""xmlns(?::([\w.\-]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def read_head(path: Path) -> DocumentHead:
    """Read the prolog and root start tag of an XML file (plain or gzip).

    Raises
    ------
    UnsafeInputError
        when a DOCTYPE (DTD, entity declarations) precedes the root element.
    FormatError
        when the file is empty, is JSON, or is not XML at all, naming what it looks like.
    """
    gz = _is_gzip(path)
    stream = open_counting(path)
    try:
        buf = bytearray()

        def fill() -> bool:
            """Read one more chunk; False at the end of the file or the prolog limit."""
            if len(buf) >= MAX_PROLOG_BYTES:
                return False
            chunk = stream.read(_CHUNK)
            buf.extend(chunk)
            return bool(chunk)

        fill()
        data, pos = _skip_bom(bytes(buf))
        buf = bytearray(data)
        first = True
        while True:
            while True:
                while pos < len(buf) and buf[pos] in b" \t\r\n":
                    pos += 1
                if pos < len(buf) or not fill():
                    break
            if pos >= len(buf):
                raise FormatError("the file is empty or holds no XML element", path=path,
                                  hint="give a CityGML file (.gml, .xml, .gz)")
            line = buf.count(b"\n", 0, pos) + 1
            if first and buf[pos:pos + 1] in (b"{", b"["):
                looks = " (it looks like CityJSON)" if b"CityJSON" in buf[:_CHUNK] else ""
                raise FormatError(
                    f"this is a JSON file, not CityGML{looks}",
                    path=path,
                    hint="cim-twin reads CityGML (.gml, .xml, .gz) and 3D Tiles (tileset.json); convert "
                    "CityJSON to CityGML with citygml-tools first",
                )
            first = False
            if buf[pos:pos + 1] != b"<":
                raise FormatError("this is not an XML file (text where the document should start)",
                                  path=path, line=line, hint="give a CityGML file (.gml, .xml, .gz)")
            while len(buf) - pos < 16 and fill():
                pass
            if buf.startswith(b"<?", pos):
                terminator = b"?>"
            elif buf.startswith(b"<!--", pos):
                terminator = b"-->"
            elif buf[pos:pos + 9].upper() == b"<!DOCTYPE" or buf.startswith(b"<!", pos):
                what = ("entity declarations" if b"<!ENTITY" in buf[pos:pos + _CHUNK]
                        else "a document type declaration")
                raise UnsafeInputError(
                    f"refused: the file carries {what} (DOCTYPE); CityGML never needs them and they "
                    "are how entity-expansion and external-entity attacks work",
                    path=path,
                    line=line,
                    hint="remove the <!DOCTYPE ...> block if the file is trusted",
                )
            else:
                while (end := _tag_end(buf, pos)) < 0:
                    if not fill():
                        raise FormatError("the root element's start tag does not end", path=path, line=line)
                return _parse_root(path, bytes(buf[pos:end + 1]), bytes(buf[:pos]), gz)
            while (end := buf.find(terminator, pos)) < 0:
                if not fill():
                    raise FormatError("unterminated comment or declaration before the root element",
                                      path=path, line=line)
            pos = end + len(terminator)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise FormatError(f"cannot read file: {exc}", path=path) from exc
    finally:
        stream.close()


def _skip_bom(data: bytes) -> tuple[bytes, int]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data, 3
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16: decode the head for the checks (the parser reads the real bytes itself)
        text = data.decode("utf-16", errors="ignore")
        return text.encode("utf-8"), 0
    return data, 0


def _tag_end(buf: bytearray, start: int) -> int:
    """Index of the '>' closing the start tag at ``buf[start]`` (quotes respected), -1 if not found."""
    quote = 0
    for i in range(start + 1, len(buf)):
        c = buf[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):
            quote = c
        elif c == 0x3E:
            return i
    return -1


def _parse_root(path: Path, tag: bytes, prolog: bytes, gz: bool) -> DocumentHead:
    m = _START_TAG.match(tag)
    if not m:
        raise FormatError("cannot read the root element's start tag", path=path,
                          line=prolog.count(b"\n") + 1)
    qname = m.group(1).decode("ascii", "replace")
    namespaces: dict[str, str] = {}
    for nm in _XMLNS.finditer(tag):
        prefix = (nm.group(1) or b"").decode("ascii", "replace")
        uri = (nm.group(2) if nm.group(2) is not None else nm.group(3) or b"").decode("utf-8", "replace")
        namespaces[prefix] = uri
    prefix, _, local = qname.rpartition(":")
    enc = _XMLDECL_ENCODING.search(prolog[:200])
    return DocumentHead(
        root_tag=qname,
        root_local=local,
        root_namespace=namespaces.get(prefix),
        namespaces=namespaces,
        encoding=enc.group(1).decode("ascii") if enc else None,
        gzip=gz,
    )


def describe_non_citygml(head: DocumentHead) -> str | None:
    """A name for what the document is when it is not CityGML (None when it may be CityGML)."""
    if head.version is not None:
        return None
    ns = head.root_namespace or ""
    for prefix, name in _OTHER_FORMATS:
        if ns.startswith(prefix):
            return name
    if head.root_local in ("IndoorFeatures",):
        return "IndoorGML"
    if head.root_local == "kml":
        return "KML"
    if ns.startswith("http://www.opengis.net/gml"):
        return "plain GML (no CityGML namespace)"
    return f"XML with root element <{head.root_tag}>" + (f" in namespace {ns}" if ns else "")


def sniff_citygml(path: Path) -> bool:
    """Does the CityGML reader take ``path``? XML files (also gzipped) with a .gml/.xml/.citygml/.kml
    name or a CityGML namespace in the first KiB; also CityJSON, so that reading it says what it is.
    Reads a few KiB at most."""
    if not path.is_file():
        return False
    name = path.name.lower()
    stem = name[:-3] if name.endswith(".gz") else name
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as g:
                head = g.read(4096)
    except (OSError, EOFError):
        return False
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"<":
        return stem.endswith((".gml", ".xml", ".citygml", ".kml", ".indoorgml")) or b"citygml" in head.lower()
    if text[:1] == b"{" and stem.endswith((".json", ".jsonl")):
        return b'"CityJSON' in head
    return False
