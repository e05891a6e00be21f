"""Is this machine keeping up with the rehearsal? And whose fault is each error?

On AWS every participant has their own endpoint and Lambda; in the rehearsal the edge,
the API front, every participant's inference handler and every model share one
machine (often a laptop, or a busy shared one). When it cannot keep up, requests wait
in the rehearsal's own machinery and time out, and a participant would be marked
failing for the machine's slowness. So every run is measured from the machinery's side:

- the edge's scheduling lag: how late requests started against their plan;
- the local servers' queueing: from accepting a connection to a thread serving it;
- the machinery's share of each answer: the inference handler's time, and the edge's
  median latency per participant, minus the time the participant's own model took
  (the local runtime times each model, fault delays included);
- CPU steal and the load average, as context (another tenant taking the CPU).

A run is saturated when any of these, at its 99th percentile (the edge's latency at
the median participant), exceeds SATURATION_SHARE of the edge's timeout: the machine
then took a sizeable part of the participant's time budget. In a saturated run a
participant whose model answered in time is not blamed for timeouts and unreachable
answers; their wrong answers, 4xx and 5xx remain theirs, as do the timeouts of a model
that was itself slow.
"""

from __future__ import annotations

import os
import statistics
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from handlers import scoring

SATURATION_SHARE = 0.25
MACHINE_ERRORS = ("timeout", "unreachable")  # what a starved machine produces


class Stopwatch:
    """Seconds per key (a stage, an endpoint), thread-safe; taken per run."""

    def __init__(self):
        self._lock, self._times = threading.Lock(), {}

    def record(self, key: str, seconds: float) -> None:
        with self._lock:
            self._times.setdefault(key, []).append(seconds)

    def take(self) -> dict[str, list[float]]:
        with self._lock:
            taken, self._times = self._times, {}
        return taken


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs since boot, or None where /proc/stat is missing."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def p99(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))] if ordered else None


@dataclass
class RunLoad:
    """What the machinery did in one traffic run (times in ms)."""

    run: int
    seconds: float  # the run's period (each request is planned within it)
    planned: int  # requests the edge's plan holds
    received: int  # requests the local API front served
    edge_lag_ms: float | None  # the edge's own p99 scheduling lag (worst shard)
    front_queueing_ms: float | None
    runtime_queueing_ms: float | None
    handler_overhead_ms: float | None  # inference handler time beyond the model's, p99
    edge_overhead_ms: float | None  # edge latency beyond the model's, median participant
    steal: float | None
    load_average: float | None
    limit_ms: float
    model_ms: dict[str, float | None] = field(default_factory=dict)  # participant -> median
    reasons: list[str] = field(default_factory=list)

    @property
    def saturated(self) -> bool:
        return bool(self.reasons)

    @property
    def achieved_per_second(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0

    @property
    def target_per_second(self) -> float:
        return self.planned / self.seconds if self.seconds else 0.0


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def assess(run: int, seconds: float, planned: int, timeout_ms: float,
           edge_lags_ms: Iterable[float | None], front_queueing: list[float],
           runtime_queueing: list[float], handler_times: Mapping[str, list[float]],
           model_times: Mapping[str, list[float]], endpoints: Mapping[str, str],
           aggregates: Mapping[str, Mapping[str, float]],
           steal: float | None = None) -> RunLoad:
    """One run's load and whether it saturated the machine.

    `endpoints` maps each participant to their endpoint; `handler_times` are keyed by
    participant, `model_times` by endpoint; `aggregates` are the edge's, per participant.
    """
    model_ms = {p: _ms(statistics.median(model_times[e])) if model_times.get(e) else None
                for p, e in endpoints.items()}
    handler_overheads = [1000 * t - (model_ms.get(p) or 0.0)
                         for p, times in handler_times.items() for t in times]
    edge_overheads = [latency - (model_ms.get(p) or 0.0) for p, a in aggregates.items()
                      for latency in [scoring.latency_percentile(a, 0.5)] if latency is not None]
    lags = [lag for lag in edge_lags_ms if lag is not None]
    load = RunLoad(
        run=run, seconds=seconds, planned=planned,
        received=sum(len(times) for times in handler_times.values()),
        edge_lag_ms=max(lags) if lags else None,
        front_queueing_ms=_ms(p99(front_queueing)),
        runtime_queueing_ms=_ms(p99(runtime_queueing)),
        handler_overhead_ms=p99(handler_overheads),
        edge_overhead_ms=statistics.median(edge_overheads) if edge_overheads else None,
        steal=steal, load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        limit_ms=SATURATION_SHARE * timeout_ms, model_ms=model_ms)
    checks = {"the edge started requests late": load.edge_lag_ms,
              "the local API front queued requests": load.front_queueing_ms,
              "the local SageMaker runtime queued requests": load.runtime_queueing_ms,
              "the inference handlers waited beyond the models' time": load.handler_overhead_ms,
              "answers took longer than the models did": load.edge_overhead_ms}
    load.reasons = [f"{what} ({value:,.0f} ms > {load.limit_ms:,.0f} ms)"
                    for what, value in checks.items() if value is not None
                    and value > load.limit_ms]
    return load


@dataclass
class Verdict:
    requests: int
    errors: int
    excused: int  # errors in saturated runs that the machine, not the participant, caused
    status: str  # healthy | failing | not judged


def attribute(runs: list[Mapping[str, Mapping[str, float]]], loads: list[RunLoad],
              failing_error_rate: float) -> dict[str, Verdict]:
    """Each participant's verdict over all runs, with the machine's errors excused."""
    verdicts = {}
    for participant in sorted({p for run in runs for p in run}):
        requests = errors = excused = 0
        for run, load in zip(runs, loads):
            aggregate = run.get(participant, scoring.empty())
            requests += int(aggregate.get("requests", 0))
            errors += int(scoring.errors(aggregate))
            own_ms = load.model_ms.get(participant)
            model_in_time = own_ms is None or own_ms <= load.limit_ms
            if load.saturated and model_in_time:
                excused += int(sum(aggregate.get(kind, 0) for kind in MACHINE_ERRORS))
        judged = requests - excused
        if not judged:
            status = "not judged" if requests else "no traffic"
        else:
            status = "failing" if (errors - excused) / judged > failing_error_rate else "healthy"
        verdicts[participant] = Verdict(requests, errors, excused, status)
    return verdicts
