"""The edge's HTTP client: one GET with a total deadline, no redirects, bounded bodies,
one TLS context and keep-alive connections per host.

Why not urllib: its timeout applies to each socket operation, so an answer dripped a
byte at a time stretches a 2 s request to many seconds; it follows redirects (to any
host); and `urlopen` builds a new TLS context for every request (about 45 ms of CPU
each, against a few ms when one context and its connections are reused).

Here every read gets the time left until the request's deadline as its socket timeout,
so a request never outlives its deadline, whatever the server does. 3xx answers come
back as they are (the edge scores them as bad answers). Bodies are read up to
`max_body + 1` bytes, so an oversized answer is recognisable and never buffered whole.
Idle connections are kept per host, bounded per host and in total, and closed at the
end of the run. Standard library (and botocore, for optional SigV4 signing) only.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable

MAX_IDLE_PER_HOST = 64
MAX_IDLE_TOTAL = 256
USER_AGENT = "ml-workshop-fc-edge/1"

Signer = Callable[[str, dict], dict]  # (url, headers) -> headers to add

_context: ssl.SSLContext | None = None
_context_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The execution environment's one TLS context (verifying, system CAs)."""
    global _context
    with _context_lock:
        if _context is None:
            _context = ssl.create_default_context()
        return _context


class Unreachable(Exception):
    """No answer: refused, reset, DNS failure, TLS failure."""


class _DeadlineSocketReader(io.RawIOBase):
    """A socket's read side where every read may only wait until the deadline."""

    def __init__(self, sock: socket.socket, deadline: float, clock: Callable[[], float],
                 keeps_open):
        self._sock, self._deadline, self._clock = sock, deadline, clock
        # http.client closes the connection's socket as soon as the headers say it will
        # close; the socket really closes only once no file made from it is open. Holding
        # http.client's own file until this reader closes keeps the body readable.
        self._keeps_open = keeps_open

    def close(self) -> None:
        if not self.closed:
            self._keeps_open.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._deadline - self._clock()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


def _response_class(deadline: float, clock: Callable[[], float]):
    class DeadlineResponse(http.client.HTTPResponse):
        def __init__(self, sock, *args, **kwargs):
            super().__init__(sock, *args, **kwargs)
            self.fp = io.BufferedReader(_DeadlineSocketReader(sock, deadline, clock, self.fp))
    return DeadlineResponse


class Client:
    """GETs for one edge run; thread-safe; `close()` ends every kept connection."""

    def __init__(self, max_body: int, signer: Signer | None = None,
                 context: ssl.SSLContext | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 max_idle_per_host: int = MAX_IDLE_PER_HOST,
                 max_idle_total: int = MAX_IDLE_TOTAL):
        self.max_body, self.signer, self.clock = max_body, signer, clock
        self.context = context or tls_context()
        self.max_idle_per_host, self.max_idle_total = max_idle_per_host, max_idle_total
        self._idle: dict[tuple[str, str, int], deque] = {}
        self._idle_count = 0
        self._lock = threading.Lock()
        self.opened = 0  # connections made, for tests and the bench

    # --- the pool -------------------------------------------------------------------

    def _take(self, key) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                self._idle_count -= 1
                return idle.pop()
        return None

    def _give_back(self, key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, deque())
            if len(idle) < self.max_idle_per_host and self._idle_count < self.max_idle_total:
                idle.append(connection)
                self._idle_count += 1
                return
        connection.close()

    def idle_connections(self) -> int:
        with self._lock:
            return self._idle_count

    def close(self) -> None:
        with self._lock:
            pools, self._idle, self._idle_count = self._idle, {}, 0
        for idle in pools.values():
            for connection in idle:
                connection.close()

    def _new(self, key, timeout: float) -> http.client.HTTPConnection:
        scheme, host, port = key
        self.opened += 1
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self.context)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    # --- one request ----------------------------------------------------------------

    def fetch(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        """GET the URL: (status, at most max_body + 1 bytes of body).

        Raises TimeoutError when the deadline passes first, Unreachable when there is no
        answer. A kept connection the server closed meanwhile is retried once on a new
        one (a GET, and nothing was answered), within the same deadline."""
        deadline = self.clock() + timeout_s
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unreachable(f"not an http(s) URL: {url[:100]}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname, port)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Host": parts.netloc, "User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.signer:
            headers.update(self.signer(url, headers))
        connection = self._take(key)
        if connection is not None:
            try:
                return self._exchange(key, connection, target, headers, deadline)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()  # went stale while idle: try a fresh connection
        return self._exchange(key, None, target, headers, deadline)

    def _exchange(self, key, connection, target: str, headers: dict,
                  deadline: float) -> tuple[int, bytes]:
        reused = connection is not None
        left = deadline - self.clock()
        if left <= 0:
            if connection is not None:
                self._give_back(key, connection)
            raise TimeoutError
        try:
            if connection is None:
                connection = self._new(key, left)
                connection.connect()
            connection.sock.settimeout(left)
            connection.response_class = _response_class(deadline, self.clock)
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            body = response.read(self.max_body + 1)
        except TimeoutError:
            connection.close()
            raise TimeoutError from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            if reused:
                raise  # the caller retries a stale kept connection once
            raise Unreachable("connection closed without an answer") from None
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            if self.clock() >= deadline:
                raise TimeoutError from None
            raise Unreachable(f"{type(error).__name__}: {error}"[:200]) from None
        if len(body) > self.max_body or not response.isclosed() or response.will_close:
            connection.close()  # an unread rest or a closing server: never reuse
        else:
            self._give_back(key, connection)
        return response.status, body


def execute_api_region(url: str, fallback: str) -> str:
    """The region of an API Gateway URL (`<id>.execute-api.<region>.amazonaws.com`)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    labels = host.split(".")
    if len(labels) >= 4 and labels[1] == "execute-api":
        return labels[2]
    return fallback


def sigv4_signer(credentials, fallback_region: str) -> Signer:
    """Sign GETs for API Gateway's IAM authorization (service `execute-api`) with the
    function's own credentials; the region comes from each URL."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    def sign(url: str, headers: dict) -> dict:
        frozen = credentials.get_frozen_credentials()
        request = AWSRequest(method="GET", url=url, headers={"Host": headers["Host"]})
        SigV4Auth(frozen, "execute-api", execute_api_region(url, fallback_region)).add_auth(
            request)
        return {k: v for k, v in request.headers.items() if k.lower() != "host"}

    return sign
