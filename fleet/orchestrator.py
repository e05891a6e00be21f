"""Orchestration of the fleet: order, bounded parallelism, retries, isolation, prune, reset.

- `up`: the event stack first (its outputs are what participant stacks read; if it fails,
  nothing else runs), then every participant stack, at most `parallel` at a time.
- `destroy`: participant stacks first; the event stack only when none remains, because a
  participant's API Gateway stage points at a deployment the event stack owns.
- Every stack runs in isolation: whatever one raises becomes its own failed result.
- Transient failures (throttling, a concurrent update, the network) are retried with
  exponential backoff; real errors fail at once, since retrying them only burns time.
- Stacks of ids no longer on the roster are listed always, destroyed only with `prune`.
- Running `up` again converges: every operation is an idempotent `pulumi up`/`destroy`.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from fleet.naming import FleetPlan, StackSpec
from fleet.stacks import StackListener, Stacks

# Substrings (lowercase) of errors worth retrying: AWS throttling, a concurrent update of the
# same stack or AWS resource, and network trouble. The AWS provider retries throttling itself,
# but gives up after a while; at fleet scale that happens, and a later attempt succeeds.
TRANSIENT_MARKERS = (
    "rate exceeded", "throttl", "toomanyrequests", "too many requests", "requestlimitexceeded",
    "slowdown", "slow down",
    "another update is currently in progress", "concurrent update", "concurrentmodification",
    "an update is in progress for resource", "concurrent modification",
    "connection reset", "connection refused", "i/o timeout", "tls handshake timeout",
    "timeout awaiting response headers", "unexpected eof", "broken pipe",
    "service unavailable", "serviceunavailable", "502 bad gateway", "504 gateway timeout",
)
TRANSIENT_TYPES = ("ConcurrentUpdateError",)  # pulumi.automation.errors, matched by name


def is_transient(error: BaseException) -> bool:
    if type(error).__name__ in TRANSIENT_TYPES:
        return True
    text = str(error).lower()
    return any(marker in text for marker in TRANSIENT_MARKERS)


def error_summary(error: BaseException) -> str:
    """One line for the table: the engine's first `error:` line, else the last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if re.match(r"^(error|stderr:\s*error)\b", line, re.IGNORECASE):
            return line[:300]
    return (lines[-1] if lines else type(error).__name__)[:300]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, so throttled stacks do not retry in lockstep."""

    attempts: int = 4
    first_delay_s: float = 15.0
    factor: float = 2.0
    max_delay_s: float = 180.0

    def delay(self, retry: int, jitter: Callable[[float], float]) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry)."""
        return jitter(min(self.max_delay_s, self.first_delay_s * self.factor ** (retry - 1)))


def half_jitter(delay: float) -> float:
    return delay * random.uniform(0.5, 1.0)


class Outcome(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # not attempted, and why is in the message
    ORPHAN = "not on roster"  # listed, left alone (no --prune)


@dataclass(frozen=True)
class StackResult:
    name: str
    participant: str | None
    action: str
    outcome: Outcome
    attempts: int = 0
    seconds: float = 0.0
    message: str = ""
    value: Any = None  # what the operation returned (outputs, change summary)


@dataclass
class FleetReport:
    action: str
    results: list[StackResult] = field(default_factory=list)
    refusal: str | None = None  # why the fleet stopped short on purpose

    @property
    def failed(self) -> list[StackResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.refusal else 0


class Reporter(Protocol):
    def track(self, name: str, participant: str | None, action: str) -> StackListener: ...

    def finished(self, result: StackResult) -> None: ...


class _Silent:
    def state(self, text: str) -> None: ...
    def output(self, line: str) -> None: ...
    def resources(self, done: int, total: int) -> None: ...
    def message(self, text: str) -> None: ...


class SilentReporter:
    def track(self, name, participant, action) -> StackListener:
        return _Silent()

    def finished(self, result) -> None: ...


class FleetError(Exception):
    """A request the fleet cannot carry out, said in one line."""


class Fleet:
    def __init__(self, stacks: Stacks, plan: FleetPlan, *, parallel: int,
                 reporter: Reporter | None = None, retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[float], float] = half_jitter,
                 clock: Callable[[], float] = time.monotonic,
                 on_event_outputs: Callable[[Mapping[str, Any]], None] | None = None,
                 before_destroy: Callable[[str], None] | None = None):
        if parallel < 1:
            raise FleetError(f"--parallel must be at least 1, got {parallel}")
        self.stacks, self.plan, self.parallel = stacks, plan, parallel
        self.reporter = reporter or SilentReporter()
        self.retry, self.sleep, self.jitter, self.clock = retry, sleep, jitter, clock
        self.on_event_outputs = on_event_outputs
        # Run for a participant before their stack is destroyed (readiness sweep: what
        # they created that no stack knows); if it raises, their destroy fails.
        self.before_destroy = before_destroy

    # The verbs

    def up(self, prune: bool = False) -> FleetReport:
        report = FleetReport("up")
        existing = self.stacks.existing()
        event = self._run(self.plan.event_stack, "up", self._up_event)
        report.results.append(event)
        if event.outcome is not Outcome.SUCCEEDED:
            report.results += self._skip_all(self.plan.participant_stacks, "up",
                                             "the event stack failed; participant stacks read it")
            return report
        jobs = [(spec, "up", self._up) for spec in self.plan.participant_stacks]
        report.results += self._in_parallel(jobs + self._orphan_jobs(existing, prune))
        report.results += self._listed_orphans(existing, prune)
        return report

    def preview(self) -> FleetReport:
        report = FleetReport("preview")
        existing = set(self.stacks.existing())
        event = self._run(self.plan.event_stack, "preview", self.stacks.preview)
        report.results.append(event)
        if self.plan.event_stack.name not in existing:
            # Participant stacks read the event stack's outputs; before its first `up` there
            # are none, so their previews could only fail.
            report.results += self._skip_all(
                self.plan.participant_stacks, "preview",
                "the event stack does not exist yet; run `fleet up` first")
            return report
        report.results += self._in_parallel(
            [(spec, "preview", self.stacks.preview) for spec in self.plan.participant_stacks])
        report.results += self._listed_orphans(existing, prune=False)
        return report

    def destroy(self, prune: bool = False) -> FleetReport:
        report = FleetReport("destroy")
        existing = set(self.stacks.existing())
        mine = [s for s in self.plan.participant_stacks if s.name in existing]
        absent = [s for s in self.plan.participant_stacks if s.name not in existing]
        report.results += self._in_parallel([(s, "destroy", self._destroy) for s in mine]
                                            + self._orphan_jobs(existing, prune))
        report.results += self._skip_all(absent, "destroy", "no such stack")
        report.results += self._listed_orphans(existing, prune)
        remaining = self.plan.participant_stacks_among(self.stacks.existing())
        if remaining:
            shown = ", ".join(remaining[:5]) + (f" and {len(remaining) - 5} more"
                                                 if len(remaining) > 5 else "")
            report.refusal = (
                f"kept the event stack {self.plan.event_stack.name}: {len(remaining)} "
                f"participant stack(s) still exist ({shown}); destroy them first "
                f"(`fleet destroy --prune` also removes those no longer on the roster)")
            return report
        if self.plan.event_stack.name in existing:
            report.results.append(self._run(self.plan.event_stack, "destroy", self._destroy))
        return report

    def reset(self, participant: str) -> FleetReport:
        """Destroy one participant's stack and create it again; nobody else is touched."""
        spec = self.plan.participant(participant)
        if spec is None:
            raise FleetError(f"'{participant}' is not on the roster; `fleet reset` takes an id "
                             f"from it")
        existing = set(self.stacks.existing())
        if self.plan.event_stack.name not in existing:
            raise FleetError(f"the event stack {self.plan.event_stack.name} does not exist; "
                             f"run `fleet up` first")
        report = FleetReport("reset")
        if spec.name in existing:
            destroyed = self._run(spec, "destroy", self._destroy)
            if destroyed.outcome is not Outcome.SUCCEEDED:
                report.results.append(destroyed)
                return report
        report.results.append(self._run(spec, "reset", self._up))
        return report

    def orphans(self) -> list[str]:
        return self.plan.orphans(self.stacks.existing())

    # Operations

    def _up_event(self, spec: StackSpec, listener: StackListener) -> Mapping[str, Any]:
        outputs = self.stacks.up(spec, listener)
        if self.on_event_outputs is not None:
            self.on_event_outputs(outputs)
        return outputs

    def _up(self, spec: StackSpec, listener: StackListener) -> Mapping[str, Any]:
        return self.stacks.up(spec, listener)

    def _destroy(self, spec: StackSpec, listener: StackListener) -> None:
        if spec.participant is not None and self.before_destroy is not None:
            listener.state("sweep")
            self.before_destroy(spec.participant)
        self.stacks.destroy(spec.name, listener)

    def set_event_config(self, changes: Mapping[str, str], action: str) -> FleetReport:
        """`up` the event stack alone with `changes` to its config (pause/resume)."""
        if self.plan.event_stack.name not in set(self.stacks.existing()):
            raise FleetError(f"the event stack {self.plan.event_stack.name} does not exist; "
                             "run `fleet up` first")
        spec = StackSpec(self.plan.event_stack.name,
                         {**self.plan.event_stack.config, **changes}, None)
        report = FleetReport(action)
        report.results.append(self._run(spec, action, self._up_event))
        return report

    # Machinery

    def _orphan_jobs(self, existing, prune: bool) -> list:
        if not prune:
            return []
        return [(StackSpec(name), "destroy", self._destroy) for name in self.plan.orphans(existing)]

    def _listed_orphans(self, existing, prune: bool) -> list[StackResult]:
        if prune:
            return []
        results = [StackResult(name, None, "none", Outcome.ORPHAN,
                               message="not on the roster; `--prune` destroys it")
                   for name in self.plan.orphans(existing)]
        for result in results:
            self.reporter.finished(result)
        return results

    def _skip_all(self, specs, action: str, why: str) -> list[StackResult]:
        results = [StackResult(s.name, s.participant, action, Outcome.SKIPPED, message=why)
                   for s in specs]
        for result in results:
            self.reporter.finished(result)
        return results

    def _in_parallel(self, jobs: list) -> list[StackResult]:
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="stack") as pool:
            futures = [pool.submit(self._run, spec, action, operation)
                       for spec, action, operation in jobs]
            return [future.result() for future in futures]

    def _run(self, spec: StackSpec, action: str, operation) -> StackResult:
        """One stack, retried while its failures are transient; never raises."""
        listener = self.reporter.track(spec.name, spec.participant, action)
        start = self.clock()
        attempt = 0
        while True:
            attempt += 1
            listener.state(action if attempt == 1 else f"{action} (attempt {attempt})")
            try:
                value = operation(spec, listener)
            except Exception as error:
                summary = error_summary(error)
                retryable = is_transient(error) and attempt < self.retry.attempts
                if not retryable:
                    gave_up = f" (gave up after {attempt} attempts)" if attempt > 1 else ""
                    result = StackResult(spec.name, spec.participant, action, Outcome.FAILED,
                                         attempt, self.clock() - start, summary + gave_up)
                    break
                delay = self.retry.delay(attempt, self.jitter)
                listener.state(f"retrying in {delay:.0f} s")
                listener.message(f"transient: {summary}")
                self.sleep(delay)
                continue
            result = StackResult(spec.name, spec.participant, action, Outcome.SUCCEEDED,
                                 attempt, self.clock() - start, value=value)
            break
        self.reporter.finished(result)
        return result

