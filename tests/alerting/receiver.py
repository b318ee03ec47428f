"""A real HTTP receiver on 127.0.0.1 that records what it is sent and can go down."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records requests; answers ``status`` with ``reply`` (JSON); ``stop``/``start``."""

    port: int = 0
    status: int = 200
    reply: Any = field(default_factory=lambda: {"ok": True})
    requests: list[Received] = field(default_factory=list)
    #: Answer 503 to the first request of each ``webhook-id`` (forces one retry each).
    fail_first: bool = False
    #: Extra headers of every answer (``Retry-After`` ...).
    headers: dict[str, str] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    status, reply = receiver.status, receiver.reply
                    extra = dict(receiver.headers)
                    msg_id = self.headers.get("webhook-id")
                    if (
                        receiver.fail_first
                        and msg_id
                        and sum(r.headers.get("webhook-id") == msg_id for r in receiver.requests)
                        == 1
                    ):
                        status = 503
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Silent:
    """A TCP server on 127.0.0.1 that accepts connections and never answers a byte.

    What a hung endpoint looks like to a sender: the connection succeeds and the reply
    never comes, so the send lasts until its timeout. :meth:`stop` closes every accepted
    connection, which ends such sends at once (the sender sees the peer hang up).
    """

    port: int = 0
    accepted: int = 0
    _listener: socket.socket | None = None
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)  # so that the accepting thread sees stop()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            with self._lock:
                if self._listener is not listener:  # stop() came meanwhile
                    conn.close()
                    return
                self._open.append(conn)
                self.accepted += 1

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._open = self._open, []
        if listener is not None:
            listener.close()
        for conn in conns:
            conn.close()
