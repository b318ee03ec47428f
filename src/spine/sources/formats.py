"""Hash, size and record count of content in one pass, by format (psv, csv, jsonl, parquet).

Reading, hashing and counting happen in one pass over large chunks: ``hashlib`` releases
the GIL on large buffers and ``bytes.count`` runs at memory speed, so a fetch costs about
what ``sha256sum`` plus ``wc -l`` cost on the same file (``benchmarks/sources.py``).
Text formats count non-empty lines (less the header for psv and csv); a csv field with an
embedded newline is counted as two lines (documented in ``docs/sources.md``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from spine.core.errors import InvalidInput

FORMATS = ("psv", "csv", "jsonl", "parquet", "raw")
CHUNK_SIZE = 4 * 1024 * 1024
_TEXT_WITH_HEADER = ("psv", "csv")


@dataclass(frozen=True, slots=True)
class Digest:
    """SHA-256 (hex), size and record count of some content."""

    sha256: str
    size: int
    record_count: int | None


def check_format(name: str | None) -> str:
    """Return the format name, ``raw`` when none is given.

    Raises:
        InvalidInput: If the format is not one of :data:`FORMATS`.
    """
    value = (name or "raw").lower()
    if value not in FORMATS:
        raise InvalidInput(f"unknown format {name!r}: expected one of {', '.join(FORMATS)}")
    return value


def format_of(path: str, configured: str | None) -> str:
    """The configured format, or the one the file name's extension implies."""
    if configured:
        return check_format(configured)
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "raw"


class DigestBuilder:
    """Feed chunks with :meth:`update`; :meth:`finish` returns the :class:`Digest`."""

    def __init__(self, fmt: str, *, header: bool = True) -> None:
        self.fmt = check_format(fmt)
        self.header = header and self.fmt in _TEXT_WITH_HEADER
        self._hash = hashlib.sha256()
        self._size = 0
        self._newlines = 0
        self._blank = 0
        self._last = b"\n"  # a file that starts with a newline starts with a blank line
        self._parquet: list[bytes] | None = [] if self.fmt == "parquet" else None

    def update(self, chunk: bytes | memoryview) -> None:
        """Add the next chunk."""
        if not chunk:
            return
        self._hash.update(chunk)
        self._size += len(chunk)
        if self._parquet is not None:
            self._parquet.append(bytes(chunk))
            return
        if self.fmt == "raw":
            return
        data = chunk if isinstance(chunk, bytes) else chunk.tobytes()
        self._newlines += data.count(b"\n")
        self._blank += data.count(b"\n\n") + data.count(b"\n\r\n")
        if self._last == b"\n" and data[:1] in (b"\n", b"\r"):
            self._blank += 1
        self._last = data[-1:]

    def finish(self) -> Digest:
        """The digest of everything fed so far."""
        return Digest(self._hash.hexdigest(), self._size, self._count())

    def _count(self) -> int | None:
        if self.fmt == "raw":
            return None
        if self._parquet is not None:
            return parquet_rows(io.BytesIO(b"".join(self._parquet)))
        if self._size == 0:
            return 0
        lines = self._newlines + (0 if self._last == b"\n" else 1)
        records = lines - self._blank
        return max(records - (1 if self.header else 0), 0)


def digest_file(path: Path, fmt: str, *, header: bool = True) -> Digest:
    """Hash and count a local file in one pass of large reads."""
    if check_format(fmt) == "parquet":
        with path.open("rb") as handle:
            sha = hashlib.file_digest(handle, "sha256").hexdigest()
        return Digest(sha, path.stat().st_size, parquet_rows(path))
    builder = DigestBuilder(fmt, header=header)
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK_SIZE):
            builder.update(chunk)
    return builder.finish()


def digest_chunks(chunks: Iterable[bytes], fmt: str, *, header: bool = True) -> Digest:
    """Hash and count content given as chunks."""
    builder = DigestBuilder(fmt, header=header)
    for chunk in chunks:
        builder.update(chunk)
    return builder.finish()


def parquet_rows(source: Path | BinaryIO) -> int:
    """Rows of a parquet file, from its footer (needs the ``parquet`` extra: pyarrow).

    Raises:
        InvalidInput: If pyarrow is missing or the content is not parquet.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInput(
            "counting parquet records needs pyarrow: install spine-core[parquet]"
        ) from None
    try:
        return int(pq.ParquetFile(source).metadata.num_rows)
    except Exception as error:  # pyarrow raises its own ArrowInvalid
        raise InvalidInput(f"not a parquet file: {error}") from None
