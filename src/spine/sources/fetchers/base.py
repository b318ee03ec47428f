"""What every fetcher gets and gives: a request, a download sink, placeholder rendering."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spine.core.clock import Clock
from spine.core.errors import ErrorCategory, InvalidInput, SpineError
from spine.core.ids import new_id
from spine.sources.formats import Digest, DigestBuilder
from spine.sources.models import CacheEntry, Fetched, Source


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchSettings:
    """Limits and places every fetcher honours (from :class:`spine.config.Settings`)."""

    allow_private_urls: bool = False
    max_bytes: int = 1024**3
    inline_max_bytes: int = 256 * 1024
    download_dir: Path = Path(".spine/cache/downloads")
    timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchRequest:
    """One fetch to perform.

    Attributes:
        previous: The latest SUCCESS/UNCHANGED fetch row of this locator (for change
            detection), or ``None``.
        cached: The cache entry of this source and params (for revalidation), if any.
    """

    source: Source
    params: Mapping[str, Any]
    locator: str
    force: bool
    previous: Mapping[str, Any] | None
    cached: CacheEntry | None
    settings: FetchSettings
    clock: Clock
    secret: Callable[[str], str]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Mapping[str, Any]:
        """The source's config."""
        return self.source.config

    def previous_metadata(self) -> Mapping[str, Any]:
        """The metadata of the previous good fetch (empty when there is none)."""
        if self.previous is None:
            return {}
        return dict(self.previous.get("metadata_json") or {})


class Fetcher(Protocol):
    """One source type: where a fetch points, and the fetch itself."""

    def locate(self, config: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """The locator (path, URL or query) for these params.

        Raises:
            InvalidInput: If the config lacks a key or a placeholder has no param.
        """

    def fetch(self, request: FetchRequest) -> Fetched:
        """Fetch; return a result, or raise a categorised :class:`SpineError`."""


class AttemptsFailed(SpineError):
    """A fetch failed after retries; carries the last error's category and the count."""

    def __init__(self, error: SpineError, retry_count: int) -> None:
        super().__init__(error.message, category=error.category, retryable=error.retryable)
        self.cause = error
        self.retry_count = retry_count


def require(config: Mapping[str, Any], key: str, source_type: str) -> Any:
    """``config[key]``, or a clear error naming the missing key.

    Raises:
        InvalidInput: If the key is absent or empty.
    """
    value = config.get(key)
    if value in (None, ""):
        raise InvalidInput(f"{source_type} source config needs {key!r}")
    return value


def render(template: str, params: Mapping[str, Any], quote: Callable[[str], str] = str) -> str:
    """Fill ``{param}`` placeholders from ``params``.

    Raises:
        InvalidInput: If a placeholder names a param that was not given.
    """
    pieces: list[str] = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if name is None:
            continue
        if name not in params:
            raise InvalidInput(
                f"placeholder {{{name}}} in {template!r} has no value: pass --param {name}=..."
            )
        value = format(params[name], spec or "")
        pieces.append(quote(value))
    return "".join(pieces)


class DownloadSink:
    """Receives a download's chunks and hashes and counts them.

    Small content stays in memory, large content spills to a file, and more than
    ``max_bytes`` is refused.
    """

    def __init__(self, settings: FetchSettings, fmt: str, *, header: bool = True) -> None:
        self.settings = settings
        self.max_bytes = settings.max_bytes
        self.digest = DigestBuilder(fmt, header=header)
        self._chunks: list[bytes] = []
        self._size = 0
        self._path: Path | None = None
        self._file: Any = None

    def write(self, chunk: bytes) -> None:
        """Add a chunk.

        Raises:
            SpineError: VALIDATION, if the content exceeds the size limit.
        """
        self._size += len(chunk)
        if self._size > self.max_bytes:
            self.discard()
            raise SpineError(
                f"content is larger than the limit of {self.max_bytes:,} bytes (max_bytes)",
                category=ErrorCategory.VALIDATION,
            )
        self.digest.update(chunk)
        if self._file is not None:
            self._file.write(chunk)
            return
        self._chunks.append(chunk)
        if self._size > self.settings.inline_max_bytes:
            self.settings.download_dir.mkdir(parents=True, exist_ok=True)
            self._path = self.settings.download_dir / f"{new_id()}.part"
            self._file = self._path.open("wb")
            for piece in self._chunks:
                self._file.write(piece)
            self._chunks = []

    def finish(self) -> tuple[bytes | Path, Digest]:
        """The content (bytes, or the file it spilled to) and its digest."""
        digest = self.digest.finish()
        if self._file is not None and self._path is not None:
            self._file.close()
            self._file = None
            return self._path, digest
        return b"".join(self._chunks), digest

    def discard(self) -> None:
        """Drop what was received (on failure)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None
        self._chunks = []
