"""A real HTTP server on 127.0.0.1, in a thread, whose routes a test scripts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server answers: status, headers, body."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[BaseHTTPRequestHandler], Reply]


@dataclass
class Server:
    """The running server: its base URL, its routes, and every request it saw."""

    url: str
    routes: dict[str, Route]
    seen: list[tuple[str, dict[str, str]]]

    def hits(self, path: str) -> list[dict[str, str]]:
        """The headers of every request to ``path``."""
        return [headers for seen_path, headers in self.seen if seen_path == path]


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[Server]:
    """Serve ``routes`` (path -> function of the handler) until the block ends."""
    seen: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = routes.get(self.path)
            reply = route(self) if route else Reply(404, b"not here")
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.status != 304:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.status != 304:
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_address[1]}", routes, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
