"""The FC's edge computer: calls every participant's live inference URL and scores it.

EventBridge runs one invocation per shard of participants every minute; the shard's
targets come in the event. For `period_seconds` it sends `requests_per_second` requests per
participant, paced on a fixed plan, each with a fresh sample's 12 features, and scores
the answer against the sample's true duration. Everyone gets the same samples at the
same moments, so scores compare fairly.

A slow or dead participant cannot slow anyone else: requests are planned ahead and
started on time by a pool sized for every participant's share, each participant may
have at most `rate x timeout` requests in flight (more are scored as timeouts, not
queued), and every request has a timeout.

At the end it writes one aggregate per participant: one DynamoDB update (atomic ADD on
the participant's item for the minute) and one Embedded Metric Format log line, which
CloudWatch turns into metrics without any API call.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import boto3

from handlers import fc_samples, scoring
from handlers.environment import Environment
from handlers.log import log

ITEM_DAYS = 14
Fetch = Callable[[str, float], tuple[int, bytes]]


@dataclass(frozen=True)
class Settings(Environment):
    table_name: str  # the scores table
    event: str  # names the CloudWatch namespace
    requests_per_second: int  # per participant
    period_seconds: int  # one run's length, the schedule's period
    timeout_ms: int  # per request
    private_share: float  # of requests scored on the private split, 0-1
    feed_seed: int  # with the minute, seeds the run's samples (the same for everyone)
    drift_start: str = ""  # ISO 8601; the FC drifts from then on, if set
    drift_profile: str = fc_samples.DEFAULT_DRIFT_PROFILE
    # Declared by components/live_scoring.py (branch b11i); read by the edge (branch b11e).
    scoring_secret_arn: str = ""  # Secrets Manager secret of the scoring randomness
    sign_requests: bool = False  # SigV4-sign the GETs (the stages require AWS_IAM)


class Unreachable(Exception):
    pass


def fetch(url: str, timeout_s: float) -> tuple[int, bytes]:
    """GET the URL: (status, body); raises TimeoutError or Unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read(4096)
    except urllib.error.HTTPError as error:
        return error.code, error.read(4096)
    except (TimeoutError, socket.timeout):
        raise TimeoutError from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, (TimeoutError, socket.timeout)):
            raise TimeoutError from None
        raise Unreachable(str(error.reason)) from None
    except (ConnectionError, OSError) as error:
        raise Unreachable(str(error)) from None


def classify(status: int, body: bytes, truth: float) -> tuple[str, Optional[float]]:
    """(outcome, prediction error) for one answer."""
    if 400 <= status < 500:
        return "http_4xx", None
    if status >= 500:
        return "http_5xx", None
    if status != 200:
        return "bad_answer", None
    try:
        predicted = float(json.loads(body)["duration_ms"])
    except (ValueError, KeyError, TypeError):
        return "bad_answer", None
    if not math.isfinite(predicted):
        return "bad_answer", None
    return "ok", predicted - truth


def is_private(seed: int, request: int, share: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{request}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def plan(participants: int, rate: int, period: int) -> list[tuple[float, int, int]]:
    """(offset s, participant index, request number), participants spread within a second."""
    return sorted(((k + i / participants) / rate, i, k)
                  for i in range(participants) for k in range(rate * period))


class Shard:
    """One run of traffic for a shard of participants."""

    def __init__(self, targets: list[dict], rate: int, period: int, timeout_s: float,
                 samples: list, private: list[bool], fetcher: Fetch = fetch,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.targets, self.rate, self.period, self.timeout_s = targets, rate, period, timeout_s
        self.samples, self.private, self.fetch = samples, private, fetcher
        self.clock, self.sleep = clock, sleep
        self.cap = max(1, math.ceil(rate * timeout_s)) + 1
        self.aggregates = {t["participant"]: scoring.empty() for t in targets}
        self.lags: list[float] = []
        self._lock = threading.Lock()
        self._in_flight = [threading.Semaphore(self.cap) for _ in targets]

    def _record(self, participant: str, latency_ms: float, outcome: str,
                error: Optional[float], split: str, lag: Optional[float]) -> None:
        with self._lock:
            scoring.record(self.aggregates[participant], latency_ms, outcome, error, split)
            if lag is not None:
                self.lags.append(lag)

    def _request(self, index: int, number: int, planned: float) -> None:
        target, sample = self.targets[index], self.samples[number]
        split = "private" if self.private[number] else "public"
        started = self.clock()
        features = ",".join(fc_samples.format_number(v) for v in sample.features)
        url = f"{target['url']}?{urllib.parse.urlencode({'features': features})}"
        try:
            status, body = self.fetch(url, self.timeout_s)
            outcome, error = classify(status, body, sample.duration)
        except TimeoutError:
            outcome, error = "timeout", None
        except Unreachable:
            outcome, error = "unreachable", None
        finally:
            self._in_flight[index].release()
        latency_ms = 1000 * (self.clock() - started)
        if latency_ms > 1000 * self.timeout_s and outcome != "timeout":
            outcome, error = "timeout", None  # an answer after the deadline is no answer
        self._record(target["participant"], latency_ms, outcome, error, split, started - planned)

    def run(self) -> dict[str, dict]:
        schedule = plan(len(self.targets), self.rate, self.period)
        workers = len(self.targets) * self.cap
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edge") as pool:
            start = self.clock()
            for offset, index, number in schedule:
                self.sleep(max(0.0, start + offset - self.clock()))
                if not self._in_flight[index].acquire(blocking=False):
                    # Still busy with earlier requests: too slow, scored without waiting.
                    self._record(self.targets[index]["participant"], 1000 * self.timeout_s,
                                 "timeout", None, "public", None)
                    continue
                pool.submit(self._request, index, number, start + offset)
        return self.aggregates


def minute_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def flush(table, minute: str, aggregates: dict[str, dict], expires: int) -> int:
    """One atomic ADD per participant on their item for the minute; returns the writes."""
    for participant, aggregate in aggregates.items():
        added = [f for f in scoring.COUNTERS if aggregate[f]]
        names = {f"#a{i}": f for i, f in enumerate(added)}
        values = {f":a{i}": _number(aggregate[f]) for i, f in enumerate(added)}
        expression = "SET #max = :max, #exp = :exp"
        if added:
            expression = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(added))) + " " + \
                expression
        table.update_item(
            Key={"minute": minute, "participant": participant},
            UpdateExpression=expression,
            ExpressionAttributeNames={**names, "#max": "latency_max_ms", "#exp": "expires"},
            ExpressionAttributeValues={**values, ":max": _number(aggregate["latency_max_ms"]),
                                       ":exp": expires})
    return len(aggregates)


def _number(value: float):
    from decimal import Decimal
    return Decimal(str(round(value, 6)))


def metrics_line(event: str, participant: str, aggregate: dict, timestamp_ms: int) -> str:
    """One Embedded Metric Format record: CloudWatch metrics from a log line."""
    values = {
        "Requests": aggregate["requests"], "Successes": aggregate["successes"],
        "Errors": scoring.errors(aggregate),
        "Errors4xx": aggregate["http_4xx"], "Errors5xx": aggregate["http_5xx"],
        "Timeouts": aggregate["timeout"], "Unreachable": aggregate["unreachable"],
        "BadAnswers": aggregate["bad_answer"],
        "ErrorRate": 100 * (scoring.error_rate(aggregate) or 0),
        "LatencyP50": scoring.latency_percentile(aggregate, 0.5) or 0,
        "LatencyP95": scoring.latency_percentile(aggregate, 0.95) or 0,
        "LatencyMax": aggregate["latency_max_ms"],
    }
    units = {name: "Count" for name in values}
    units.update(ErrorRate="Percent", LatencyP50="Milliseconds", LatencyP95="Milliseconds",
                 LatencyMax="Milliseconds")
    rmse = scoring.rmse(aggregate, scoring.SPLITS)
    if rmse is not None:  # no answers, no RMSE: a gap, not a zero
        values["RMSE"] = rmse
        units["RMSE"] = "Milliseconds"
    return json.dumps({
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
            "Namespace": f"{scoring.NAMESPACE}/{event}", "Dimensions": [[scoring.DIMENSION]],
            "Metrics": [{"Name": n, "Unit": units[n]} for n in values]}]},
        scoring.DIMENSION: participant, **values})


def handler(event: dict, context: Any = None) -> dict:
    return handle(event, Settings.from_environment(os.environ))


def handle(event: dict, settings: Settings, table=None, fetcher: Fetch = fetch) -> dict:
    """One scheduled run for one shard, for the function whose settings are `settings`."""
    targets = event["targets"]
    rate, period = settings.requests_per_second, settings.period_seconds
    now = datetime.now(timezone.utc)
    minute = minute_of(now)
    profile = fc_samples.profile_at(now, settings.drift_start, settings.drift_profile)
    seed = int(hashlib.sha256(f"{settings.feed_seed}:{minute}".encode()).hexdigest()[:12], 16)
    samples = fc_samples.generate(rate * period, seed, profile)
    share = settings.private_share
    private = [is_private(seed, k, share) for k in range(len(samples))]
    shard = Shard(targets, rate, period, settings.timeout_ms / 1000, samples, private,
                  fetcher)
    aggregates = shard.run()
    table = table or boto3.resource("dynamodb").Table(settings.table_name)
    writes = flush(table, minute, aggregates, int(now.timestamp()) + ITEM_DAYS * 86400)
    for participant, aggregate in aggregates.items():
        print(metrics_line(settings.event, participant, aggregate, int(now.timestamp() * 1000)),
              flush=True)
    lags = sorted(shard.lags)
    summary = {"shard": event.get("shard"), "minute": minute, "profile": profile,
               "participants": len(targets), "requests": sum(a["requests"] for a in aggregates.values()),
               "writes": writes,
               "p99_lag_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1) if lags else None}
    log("edge_run", **summary)
    return summary
