"""A threaded HTTP server on 127.0.0.1 and a free port, as a context manager.

The local stand-ins (API Gateway front, SageMaker runtime) are built on it, so nothing
they serve is ever reachable from another machine, and leaving the `with` shuts it down.

Built for load (a rehearsal of 100 participants sends 500 requests/s through it): a
listen backlog of 1024 instead of socketserver's 5 (a burst beyond the backlog is
refused, which the edge would score as the participant being unreachable), HTTP/1.1
keep-alive for clients that reuse connections (botocore does), and the server's own
queueing delay measured: from accepting a connection to a thread starting to serve it.
That delay is the machine's, never a participant's, so the rehearsal can tell a
saturated machine from a slow participant.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN_BACKLOG = 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.accepted: dict[object, float] = {}  # connection -> when it was accepted
        self.queueing: list[float] = []  # seconds from accept to a thread serving it

    def process_request(self, request, client_address):
        self.accepted[request] = time.perf_counter()
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        accepted = self.accepted.pop(request, None)
        if accepted is not None:
            self.queueing.append(time.perf_counter() - accepted)
        super().process_request_thread(request, client_address)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1: a connection stays open for the next request unless the client closes it.

    Every response must carry Content-Length (the servers here always send one).
    """

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle's algorithm on, a kept-alive
    # connection then waits for the client's delayed ACK: 40 ms per request, measured.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # keep test and rehearsal output clean
        pass


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def take_queueing(self) -> list[float]:
        """Queueing delays (s) measured since the last call, and start afresh."""
        taken, self._server.queueing = self._server.queueing, []
        return taken

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
