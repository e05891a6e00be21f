"""Hostile participants for the rehearsal: what each fault does, and what it should cost.

Endpoint faults live in the local SageMaker runtime (rehearsal/endpoints.py); the ones
here act at the participant's stage, as someone controlling their own stage (an
own-account API) or a flood from outside would:

- huge-answer: the stage answers absurd or non-finite numbers (1e300, 1e70, -1e308,
  Infinity, NaN, a 400-digit integer); the edge must score bad answers for them alone.
- slow-drip: the stage answers a byte at a time; the edge's total deadline makes each
  request a timeout instead of a 2 s request stretched to many seconds.
- redirect: the stage answers 302 to a rival's stage; the edge follows nothing, so it is
  a bad answer and the rival sees no extra request.
- flood-rival: during traffic the participant floods the next participant's stage far
  above its throttle; the rival's scores must not change (the local front throttles per
  caller, tools/local_api.py, as the deployed API does once the edge has its own identity).
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

HUGE_ANSWERS = (b'{"duration_ms": 1e300}', b'{"duration_ms": 1e70}', b'{"duration_ms": -1e308}',
                b'{"duration_ms": Infinity}', b'{"duration_ms": NaN}',
                b'{"duration_ms": ' + b"9" * 400 + b"}")
DRIP_SECONDS_PER_BYTE = 0.2
FLOOD_FACTOR = 4  # the flood asks this many times the rival's stage rate limit

# What the edge must score for the faulty participant: every request in this class.
EXPECTED = {"never-deploys": "http_5xx", "slow-endpoint": "timeout",
            "garbage-endpoint": "http_5xx", "huge-answer": "bad_answer",
            "slow-drip": "timeout", "redirect": "bad_answer", "flood-rival": None}
STAGE_FAULTS = ("huge-answer", "slow-drip", "redirect")


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
          headers: tuple = ()) -> None:
    try:
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


def huge_answer():
    count = iter(range(10**9))
    return lambda handler: _send(handler, 200, HUGE_ANSWERS[next(count) % len(HUGE_ANSWERS)])


def slow_drip(handler: BaseHTTPRequestHandler) -> None:
    body = b'{"duration_ms": 6000}'
    try:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(DRIP_SECONDS_PER_BYTE)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the edge gave up at its deadline


def redirect_to(url: str):
    return lambda handler: _send(handler, 302, b"", (("Location", url),))


class Flood:
    """Unsigned GETs at `rate` per second to a stage from a few threads (bounded), until
    the `with` ends."""

    WORKERS = 4

    def __init__(self, url: str, rate: float):
        self.url, self.rate = url, rate
        self.sent = self.throttled = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(self.WORKERS)]

    def _run(self) -> None:
        started, mine, rate = time.monotonic(), 0, self.rate / self.WORKERS
        while not self._stop.is_set():
            throttled = False
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    pass
            except urllib.error.HTTPError as error:
                throttled = error.code == 429
            except OSError:
                pass
            mine += 1
            with self._lock:
                self.sent += 1
                self.throttled += throttled
            self._stop.wait(max(0.0, started + mine / rate - time.monotonic()))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
