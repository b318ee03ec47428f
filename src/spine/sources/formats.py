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
import re
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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

    def __init__(self, fmt: str, *, header: bool = True, hashing: bool = True) -> None:
        self.fmt = check_format(fmt)
        self.header = header and self.fmt in _TEXT_WITH_HEADER
        # hashing=False: the caller hashes (in another thread) and passes the digest to
        # finish().
        self._hash = hashlib.sha256() if hashing else None
        self._size = 0
        self._newlines = 0
        self._blank = 0
        # The last two bytes seen; a file that starts with a newline starts with a blank
        # line, as if a newline came before it.
        self._tail = b"\n"
        self._parquet: list[bytes] | None = [] if self.fmt == "parquet" else None

    def update(self, chunk: bytes | memoryview) -> None:
        """Add the next chunk."""
        if not chunk:
            return
        if self._hash is not None:
            self._hash.update(chunk)
        self._size += len(chunk)
        if self._parquet is not None:
            self._parquet.append(bytes(chunk))
            return
        if self.fmt == "raw":
            return
        data = chunk if isinstance(chunk, bytes) else chunk.tobytes()
        self._newlines += data.count(b"\n")
        # Blank lines are rare: the overlapping regex count runs only where one may be
        # (a CR is looked for first: memchr is several times faster than a 3-byte search).
        if b"\n\n" in data or (b"\r" in data and b"\n\r\n" in data):
            self._blank += _blank_lines(data)
        # Blank lines that straddle the previous chunk and this one.
        head = data[:2]
        edge = self._tail + head
        self._blank += _blank_lines(edge) - _blank_lines(self._tail) - _blank_lines(head)
        self._tail = (self._tail + data[-2:])[-2:]

    def finish(self, sha256: str | None = None) -> Digest:
        """The digest of everything fed so far (``sha256`` when the caller hashed)."""
        if self._hash is not None:
            sha256 = self._hash.hexdigest()
        if sha256 is None:
            raise ValueError("finish() needs the caller's sha256 when hashing=False")
        return Digest(sha256, self._size, self._count())

    def _count(self) -> int | None:
        if self.fmt == "raw":
            return None
        if self._parquet is not None:
            return parquet_rows(io.BytesIO(b"".join(self._parquet)))
        if self._size == 0:
            return 0
        ends_open = not self._tail.endswith(b"\n")
        lines = self._newlines + (1 if ends_open else 0)
        records = lines - self._blank - (1 if self._tail == b"\n\r" else 0)
        return max(records - (1 if self.header else 0), 0)


_BLANK = re.compile(b"(?=\n\r?\n)")


def _blank_lines(data: bytes) -> int:
    """Blank lines (empty, or a lone CR) that ``data`` terminates, overlapping runs too."""
    return sum(1 for _ in _BLANK.finditer(data))


def digest_file(path: Path, fmt: str, *, header: bool = True) -> Digest:
    """Hash and count a local file in one pass of large reads."""
    if check_format(fmt) == "parquet":
        with path.open("rb") as handle:
            sha = hashlib.file_digest(handle, "sha256").hexdigest()
        return Digest(sha, path.stat().st_size, parquet_rows(path))
    # SHA-256 runs in a second thread (hashlib releases the GIL on large buffers) while
    # this one counts lines: the pass costs the slower of the two, not their sum.
    builder = DigestBuilder(fmt, header=header, hashing=False)
    hasher = hashlib.sha256()
    with (
        path.open("rb", buffering=0) as handle,
        ThreadPoolExecutor(1, thread_name_prefix="spine-sha256") as pool,
    ):
        pending: Future[None] | None = None
        while chunk := handle.read(CHUNK_SIZE):
            if pending is not None:
                pending.result()
            pending = pool.submit(hasher.update, chunk)
            builder.update(chunk)
        if pending is not None:
            pending.result()
    return builder.finish(hasher.hexdigest())


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
