"""File sources: a path or glob with ``{param}`` placeholders, on the local filesystem.

Config keys: ``path`` (required; ``data/otc_{week_ending}_*.psv``), ``format``
(psv|csv|jsonl|parquet|raw, default from the extension), ``header`` (psv/csv have a
header row, default true), ``params`` (default values for placeholders).

Change detection: a file whose size and mtime equal the previous fetch's is not read
again; a file that changed is hashed, and if every hash equals the previous one the fetch
is UNCHANGED all the same (a ``touch`` is not a change).
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spine.sources.errors import ContentNotFound
from spine.sources.fetchers.base import FetchRequest, render, require
from spine.sources.formats import digest_file, format_of
from spine.sources.models import Fetched, FetchStatus


def combined_hash(hashes: list[str]) -> str:
    """One hash for several files: the hash of their hashes, in path order."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("".join(hashes).encode()).hexdigest()


class FileFetcher:
    """Reads local files matched by a glob."""

    def locate(self, config: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """The path pattern with its placeholders filled."""
        return render(str(require(config, "path", "file")), params)

    def fetch(self, request: FetchRequest) -> Fetched:
        """Stat, then hash only what changed; UNCHANGED when the content is the same.

        Raises:
            ContentNotFound: If nothing matches the path.
        """
        pattern = str(Path(request.locator).expanduser())
        if glob.has_magic(pattern):
            paths = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        else:
            paths = [Path(pattern)] if Path(pattern).is_file() else []
        if not paths:
            raise ContentNotFound(f"no file matches {request.locator}")
        config = request.config
        header = bool(config.get("header", True))
        before = {f["path"]: f for f in request.previous_metadata().get("files", [])}
        files: list[dict[str, Any]] = []
        for path in paths:
            stat = path.stat()
            entry: dict[str, Any] = {
                "path": str(path),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
            }
            old = before.get(str(path))
            if (
                not request.force
                and old is not None
                and old.get("size") == stat.st_size
                and old.get("mtime_ns") == stat.st_mtime_ns
            ):
                entry["sha256"], entry["records"] = old["sha256"], old.get("records")
            else:
                digest = digest_file(
                    path, format_of(str(path), config.get("format")), header=header
                )
                entry["sha256"], entry["records"] = digest.sha256, digest.record_count
            files.append(entry)
        content_hash = combined_hash([f["sha256"] for f in files])
        records = [f["records"] for f in files]
        previous_hash = request.previous.get("content_hash") if request.previous else None
        unchanged = (
            not request.force
            and previous_hash == content_hash
            and set(before) == {f["path"] for f in files}
        )
        newest = max(paths, key=lambda p: p.stat().st_mtime_ns)
        last_modified = datetime.fromtimestamp(newest.stat().st_mtime, UTC).isoformat()
        return Fetched(
            status=FetchStatus.UNCHANGED if unchanged else FetchStatus.SUCCESS,
            locator=request.locator,
            record_count=None if None in records else sum(r or 0 for r in records),
            byte_count=sum(f["size"] for f in files),
            content_hash=content_hash,
            content=paths[0] if len(paths) == 1 else None,
            paths=tuple(paths),
            last_modified=last_modified,
            metadata={"files": files},
        )
