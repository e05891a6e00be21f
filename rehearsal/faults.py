"""Hostile participants for the rehearsal: what each attack does, and what it may cost.

Endpoint faults (never-deploys, slow-endpoint, garbage-endpoint) live in the local
SageMaker runtime (rehearsal/endpoints.py). The attacks here act at the participant's
stage, as someone who controls their own stage (an own-account API) would, or from
their own credentials during traffic:

- huge-answer: the stage answers absurd or non-finite numbers (1e300, 1e70, -1e308,
  Infinity, NaN, a 400-digit integer): scored "bad answer", for them alone.
- slow-drip: the stage answers a byte at a time: the edge's total deadline makes each
  request a timeout instead of a 2 s request stretched to many seconds.
- redirect: the stage answers 302 to the next participant's stage: the edge follows
  nothing, so it is an error for them, and the rival sees no extra request.
- flood-rival: during traffic they flood the next participant's stage, signing with their
  own credentials; the stages require IAM (SigV4) and only the edge and the stage's own
  participant may invoke it, so every flood request is refused with 403 before any Lambda
  runs, and the rival's scores do not move.

The stage faults run in the API front's process (rehearsal/serving.py): `stage_answer`
builds them there from the fault's name.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from handlers import edge_http

HUGE_ANSWERS = (b'{"duration_ms": 1e300}', b'{"duration_ms": 1e70}', b'{"duration_ms": -1e308}',
                b'{"duration_ms": Infinity}', b'{"duration_ms": NaN}',
                b'{"duration_ms": ' + b"9" * 400 + b"}")
DRIP_BODY = b'{"duration_ms": 6000}'
DRIP_SECONDS_PER_BYTE = 0.2  # 21 bytes: about 4 s, twice the edge's 2 s deadline
FLOOD_PER_SECOND = 40  # twice the stages' declared throttle of 20 requests/s

# What the edge must score for the faulty participant: every one of their requests.
EXPECTED = {"huge-answer": "bad_answer", "slow-drip": "timeout", "redirect": "bad_answer"}
STAGE_FAULTS = tuple(EXPECTED)
ATTACKS = (*STAGE_FAULTS, "flood-rival")


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
        pass  # the edge stopped waiting


def _huge_answer() -> Callable[[BaseHTTPRequestHandler], None]:
    answers = itertools.cycle(HUGE_ANSWERS)
    lock = threading.Lock()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            body = next(answers)
        _send(handler, 200, body)
    return answer


def _slow_drip(handler: BaseHTTPRequestHandler) -> None:
    try:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(DRIP_BODY)))
        handler.end_headers()
        handler.wfile.flush()
        for byte in DRIP_BODY:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(DRIP_SECONDS_PER_BYTE)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True  # the edge gave up at its deadline


def _redirect_to(path: str) -> Callable[[BaseHTTPRequestHandler], None]:
    return lambda handler: _send(handler, 302, b"", (("Location", path),))


def stage_answer(fault: str, rival_stage: str) -> Callable[[BaseHTTPRequestHandler], None]:
    """How a stage with this fault answers every request, instead of its Lambda."""
    if fault == "huge-answer":
        return _huge_answer()
    if fault == "slow-drip":
        return _slow_drip
    if fault == "redirect":
        return _redirect_to(f"/{rival_stage}/liveinference?features=1")
    raise ValueError(f"{fault!r} is not a stage fault: one of {STAGE_FAULTS}")


def participant_key(participant: str) -> str:
    """The access key id a participant's own credentials sign with, in the rehearsal."""
    return f"REHEARSAL-{participant}"


@dataclass
class FloodCount:
    rival: str
    sent: int = 0
    refused: int = 0  # 403: not authorized to invoke the rival's stage
    admitted: int = 0  # anything else: the attack got through


class Flood:
    """Signed GETs with the flooder's own credentials at `per_second` to a rival's stage,
    from a few threads, until the `with` ends."""

    WORKERS = 4

    def __init__(self, url: str, flooder: str, rival: str, per_second: float = FLOOD_PER_SECOND,
                 region: str = "us-east-1"):
        from botocore.credentials import Credentials
        self.url, self.per_second = url, per_second
        self.count = FloodCount(rival)
        self._signer = edge_http.sigv4_signer(
            Credentials(participant_key(flooder), "rehearsal-secret"), region)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(self.WORKERS)]

    def _run(self) -> None:
        client = edge_http.Client(4096, signer=self._signer)
        started, mine, rate = time.monotonic(), 0, self.per_second / self.WORKERS
        try:
            while not self._stop.is_set():
                try:
                    status, _ = client.fetch(self.url, 2.0)
                except (TimeoutError, OSError, edge_http.Unreachable):
                    status = 0
                mine += 1
                with self._lock:
                    self.count.sent += 1
                    if status == 403:
                        self.count.refused += 1
                    else:
                        self.count.admitted += 1
                self._stop.wait(max(0.0, started + mine / rate - time.monotonic()))
        finally:
            client.close()

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


def rivals(participants: list[str]) -> dict[str, str]:
    """Each participant's rival: the next one in the roster (the last one's is the first)."""
    return {p: participants[(i + 1) % len(participants)] for i, p in enumerate(participants)}


def front_setup(stage_of: dict[str, str], faults: dict[str, str | None], edge_key: str
                ) -> tuple[dict[str, tuple[str, str]], dict[str, set[str]]]:
    """For the API front: stage -> (stage fault, rival's stage), and stage -> the access
    keys its IAM authorization lets in (the edge's everywhere, each participant's own)."""
    rival = rivals(list(stage_of))
    stage_faults = {stage_of[p]: (fault, stage_of[rival[p]]) for p, fault in faults.items()
                    if fault in STAGE_FAULTS}
    callers = {stage: {edge_key, participant_key(p)} for p, stage in stage_of.items()}
    return stage_faults, callers


@dataclass
class Verdicts:
    lines: list[str]
    failures: list[str]


def verdicts(faults: dict[str, str | None], total: dict[str, dict], floods: dict[str, FloodCount],
             timeout_ms: float, saturated: bool) -> Verdicts:
    """Each attacker handled as designed (every request of theirs in the fault's class, a
    slow drip within the edge's deadline, every flood request refused), everyone else
    without a single error (on a saturated machine their errors are not judged)."""
    from handlers import scoring
    lines, failures = [], []
    for p, aggregate in total.items():
        fault, requests = faults.get(p), int(aggregate["requests"])
        expected = EXPECTED.get(fault)
        if expected:
            scored = int(aggregate[expected])
            fine = requests > 0 and scored == requests
            line = f"{p:24s} {fault}: {scored} of {requests} requests scored {expected}"
            if fault == "slow-drip":
                slowest = aggregate["latency_max_ms"]
                within = slowest <= timeout_ms + 1000  # scheduling slack, not a drip's 4 s
                fine = fine and within
                line += (f", slowest {slowest:,.0f} ms against the edge's {timeout_ms:,.0f} ms "
                         f"deadline{'' if within else ' (DEADLINE NOT KEPT)'}")
            lines.append(line + (" (as designed)" if fine else " (NOT as designed)"))
            if not fine:
                failures.append(f"{p}'s {fault} was not handled as designed")
            continue
        errors = int(scoring.errors(aggregate))
        judged = "unaffected" if not errors else ("not judged: the machine was saturated"
                                                  if saturated else "AFFECTED")
        flooded_by = [f for f, flood in floods.items() if flood.rival == p]
        own = f"{errors} errors in {requests} requests ({judged}" + (
            f", flooded by {', '.join(flooded_by)})" if flooded_by else ")")
        if fault == "flood-rival":
            flood = floods.get(p)
            refused = flood is not None and flood.sent > 0 and flood.refused == flood.sent
            lines.append(f"{p:24s} flood-rival: " + (
                "flooded nothing" if flood is None else
                f"{flood.refused} of {flood.sent} flood requests to {flood.rival}'s stage "
                "refused (403, not authorized)") + f"; own traffic {own}")
            if not refused:
                failures.append(f"{p}'s flood of {flood.rival if flood else 'a rival'} "
                                "was not refused")
        else:
            lines.append(f"{p:24s} {own}")
        if errors and not saturated:
            failures.append(f"{p} had {errors} errors without a fault of their own")
    return Verdicts(lines, failures)
