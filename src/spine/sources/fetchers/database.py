"""Database sources: a query with bound parameters through a registered connection.

Config keys: ``connection`` (required: a name from ``spine connections``), ``query``
(required; ``:name`` placeholders are bound parameters, never formatted into the SQL),
``params`` (defaults), ``batch_size``.

Rows become JSON lines (one object per row, in the query's order); their SHA-256 is the
content hash, so the same result gives UNCHANGED.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from spine.sources.fetchers.base import DownloadSink, FetchRequest, require
from spine.sources.models import Connection, Fetched, FetchStatus, Source
from spine.sources.store import ExternalDatabases

#: Looks up a registered connection by name in the source's workspace (raises
#: ConnectionNotFound): a source never reaches another workspace's connection.
ConnectionLookup = Callable[[Source, str], Connection]


class DatabaseFetcher:
    """Runs a query on another database."""

    def __init__(self, connections: ConnectionLookup, databases: ExternalDatabases) -> None:
        self.connections = connections
        self.databases = databases

    def locate(self, config: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """``connection: query`` with the parameter values it binds."""
        query = str(require(config, "query", "database"))
        name = str(require(config, "connection", "database"))
        bound = {k: params[k] for k in sorted(params) if f":{k}" in query}
        suffix = f" {json.dumps(bound, default=str, sort_keys=True)}" if bound else ""
        return f"{name}: {query}{suffix}"

    def fetch(self, request: FetchRequest) -> Fetched:
        """Run the query; count and hash the rows; UNCHANGED when the hash is the same.

        Raises:
            ConnectionNotFound: If the connection is not registered.
            SpineError: AUTHENTICATION, UNAVAILABLE, VALIDATION or DATABASE from the driver.
        """
        config = request.config
        connection = self.connections(request.source, str(config["connection"]))
        password = request.secret(connection.password_ref) if connection.password_ref else None
        sink = DownloadSink(request.settings, "jsonl")
        columns: list[str] = []
        rows = 0
        try:
            for names, batch in self.databases.query(
                connection,
                password,
                str(config["query"]),
                request.params,
                batch_size=int(config.get("batch_size", 10_000)),
            ):
                columns = names
                lines = [
                    json.dumps(dict(zip(names, row, strict=True)), default=str) + "\n"
                    for row in batch
                ]
                sink.write("".join(lines).encode())
                rows += len(batch)
        except BaseException:
            sink.discard()
            raise
        content, digest = sink.finish()
        previous_hash = request.previous.get("content_hash") if request.previous else None
        unchanged = not request.force and previous_hash == digest.sha256
        return Fetched(
            status=FetchStatus.UNCHANGED if unchanged else FetchStatus.SUCCESS,
            locator=request.locator,
            record_count=rows,
            byte_count=digest.size,
            content_hash=digest.sha256,
            content=content,
            metadata={"connection": connection.name, "columns": columns},
        )
