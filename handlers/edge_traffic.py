"""The FC's edge computer: calls every participant's live inference URL and scores it.

EventBridge runs one invocation per shard of participants every minute; the shard's
targets come in the event. For `period_seconds` it sends `requests_per_second` requests per
participant, paced on a fixed plan, each with a fresh sample's 12 features, and scores
the answer against the sample's true duration. Everyone gets the same samples at the
same moments, so scores compare fairly; the samples come from a secret (scoring_secret),
so nobody can know them in advance.

A slow or dead participant cannot slow anyone else: requests are planned ahead and
started on time by a pool sized for every participant's share (bounded, edge_limits),
each participant may have at most `rate x timeout + 1` requests in flight (more are
scored as timeouts, not queued), and every request has a total deadline (edge_http).

A participant's answer can only change their own score: it is read with bounds (size,
depth, a finite number in a plausible range; anything else is a bad answer), and at the
end each participant gets their own write and metric line, each in its own try, so a
failure is logged and affects that participant alone.

The write is idempotent: each participant's item for the minute is SET (not ADDed) to
the run's aggregate, on condition that no other run has written it. A retried or
duplicated run cannot double-count, and the latency maximum stays the run's maximum.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from handlers import (
    answers,
    clients,
    edge_http,
    edge_limits,
    fc_samples,
    scoring,
    scoring_secret,
)
from handlers.environment import Environment
from handlers.log import log

ITEM_DAYS = 14
Fetch = Callable[[str, float], tuple[int, bytes]]
# An answer is `{"duration_ms": <number>}`: a few dozen bytes. Bounds for what is read:
MAX_ANSWER_BYTES = 4096
MAX_ANSWER_DEPTH = 1  # one object of numbers; anything deeper is not an answer
PLAUSIBLE_MS = answers.PLAUSIBLE_MS
DYNAMODB_CONFIG = Config(connect_timeout=2, read_timeout=3,
                         retries={"mode": "standard", "max_attempts": 3})
MAX_START_DELAY_SECONDS = edge_limits.MAX_START_DELAY_SECONDS
FLUSH_MARGIN_MS = 2_000  # stop writing this long before the function's timeout
Unreachable = edge_http.Unreachable


@dataclass(frozen=True)
class Settings(Environment):
    table_name: str  # the scores table
    event: str  # names the CloudWatch namespace
    requests_per_second: int  # per participant
    period_seconds: int  # one run's length, the schedule's period
    timeout_ms: int  # per request, in total (connect, send, every read)
    private_share: float  # of requests scored on the private split, 0-1
    # The Secrets Manager secret the run's randomness comes from (never the feed's seed).
    scoring_secret_arn: str = ""
    sign_requests: bool = False  # SigV4-sign requests (stages that require IAM auth)
    drift_start: str = ""  # ISO 8601; the FC drifts from then on, if set
    drift_profile: str = fc_samples.DEFAULT_DRIFT_PROFILE


_secret = scoring_secret.SecretCache(lambda: clients.client("secretsmanager"))


def fetch(url: str, timeout_s: float) -> tuple[int, bytes]:
    """One GET on a client of its own (tests, tools); runs share a Client instead."""
    client = edge_http.Client(MAX_ANSWER_BYTES)
    try:
        return client.fetch(url, timeout_s)
    finally:
        client.close()


BadAnswer = answers.AnswerError


def parse_answer(body: bytes) -> float:
    """The predicted duration in an answer body, or BadAnswer saying why not."""
    if len(body) > MAX_ANSWER_BYTES:
        raise BadAnswer(f"answer over {MAX_ANSWER_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadAnswer("answer is not UTF-8") from None
    answer = answers.loads(text, MAX_ANSWER_DEPTH)
    if not isinstance(answer, dict) or "duration_ms" not in answer:
        raise BadAnswer("no duration_ms in the answer")
    value = answer["duration_ms"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadAnswer("duration_ms is not a number")
    return answers.duration(value)


def classify(status: int, body: bytes, truth: float) -> tuple[str, float | None]:
    """(outcome, prediction error) for one answer; never raises."""
    if status >= 400:
        return scoring.http_outcome(status, body), None
    if status != 200:  # 1xx and 3xx (redirects are not followed)
        return "bad_answer", None
    try:
        return "ok", parse_answer(body) - truth
    except BadAnswer:
        return "bad_answer", None


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
                 sleep: Callable[[float], None] = time.sleep,
                 max_threads: int = edge_limits.MAX_THREADS):
        self.targets, self.rate, self.period, self.timeout_s = targets, rate, period, timeout_s
        self.samples, self.private, self.fetch = samples, private, fetcher
        self.clock, self.sleep = clock, sleep
        # Config validation keeps shard x cap within max_threads; if a run is handed more
        # anyway, each participant's share shrinks rather than the thread count growing.
        self.cap = min(edge_limits.per_participant_in_flight(rate, timeout_s),
                       max(1, max_threads // max(1, len(targets))))
        self.workers = max(1, min(len(targets) * self.cap, max_threads))
        self.aggregates = {t["participant"]: scoring.empty() for t in targets}
        self.lags: list[float] = []
        self._lock = threading.Lock()
        self._in_flight = [threading.Semaphore(self.cap) for _ in targets]

    def _record(self, participant: str, latency_ms: float, outcome: str,
                error: float | None, split: str, lag: float | None) -> None:
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
        except Exception as failure:
            outcome, error = "unreachable", None
            if not isinstance(failure, Unreachable):
                log("fetch_failed", participant=target["participant"],
                    error=type(failure).__name__)
        finally:
            self._in_flight[index].release()
        latency_ms = 1000 * (self.clock() - started)
        if latency_ms > 1000 * self.timeout_s and outcome != "timeout":
            outcome, error = "timeout", None  # an answer after the deadline is no answer
        self._record(target["participant"], latency_ms, outcome, error, split, started - planned)

    def run(self) -> dict[str, dict]:
        schedule = plan(len(self.targets), self.rate, self.period)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="edge") as pool:
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


def scheduled_time(event: dict) -> tuple[datetime | None, str | None]:
    """(the time the run was scheduled for, None) from the event's `time` (EventBridge
    Scheduler's <aws.scheduler.scheduled-time>, or the rehearsal's), or (None, the problem)
    when it is absent, left unsubstituted or unparseable; the run then goes by its start."""
    scheduled = event.get("time")
    if scheduled is None:
        return None, "no time in the event"
    if not isinstance(scheduled, str):
        return None, f"time is a {type(scheduled).__name__}, not an ISO 8601 string"
    try:
        moment = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
    except ValueError:
        return None, f"time {scheduled[:60]!r} is not ISO 8601 (left unsubstituted?)"
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), None


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def write_aggregate(table, minute: str, participant: str, aggregate: dict, expires: int,
                    run_id: str) -> bool:
    """SET the participant's item for the minute to this run's aggregate, unless another
    run already scored it; True when written.

    SET, not ADD: writing the same run again changes nothing. The condition lets the
    first run of a minute win: a duplicated or retried run (another id) is ignored, so
    it cannot double-count or lower the maximum. DynamoDB applies the condition and the
    update atomically (UpdateItem with ConditionExpression)."""
    names = {f"#f{i}": f for i, f in enumerate(scoring.FIELDS)}
    values = {f":f{i}": _number(aggregate[f]) for i, f in enumerate(scoring.FIELDS)}
    try:
        table.update_item(
            Key={"minute": minute, "participant": participant},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(names)))
                             + ", #run = :run, #exp = :exp",
            ConditionExpression="attribute_not_exists(#run) OR #run = :run",
            ExpressionAttributeNames={**names, "#run": "run", "#exp": "expires"},
            ExpressionAttributeValues={**values, ":run": run_id, ":exp": expires})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def flush(table, minute: str, aggregates: dict[str, dict], expires: int,
          run_id: str = "manual", remaining_ms: Callable[[], float] = lambda: float("inf")) -> dict[str, str]:
    """One write per participant, each on its own: participant -> "written", "duplicate"
    (another run scored the minute), "failed" or "skipped" (no time left)."""
    results = {}
    for participant, aggregate in aggregates.items():
        if remaining_ms() < FLUSH_MARGIN_MS:
            results[participant] = "skipped"
            log("flush_skipped", participant=participant, minute=minute,
                reason="the function's timeout is near")
            continue
        try:
            written = write_aggregate(table, minute, participant, aggregate, expires, run_id)
            results[participant] = "written" if written else "duplicate"
            if not written:
                log("flush_duplicate", participant=participant, minute=minute, run=run_id)
        except Exception as error:
            results[participant] = "failed"
            log("flush_failed", participant=participant, minute=minute,
                error=type(error).__name__, reason=str(error)[:200])
    return results


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
        scoring.DIMENSION: participant, **values}, allow_nan=False)


def emit_metrics(event: str, aggregates: dict[str, dict], timestamp_ms: int) -> int:
    """One metric line per participant, each on its own; returns the failures."""
    failed = 0
    for participant, aggregate in aggregates.items():
        try:
            print(metrics_line(event, participant, aggregate, timestamp_ms), flush=True)
        except Exception as error:
            failed += 1
            log("metrics_failed", participant=participant, error=type(error).__name__)
    return failed


def run_samples(secret: bytes, minute: str, n: int, profile: str,
                share: float) -> tuple[list, list[bool]]:
    """The minute's samples and private flags: the same in every shard, secret to others."""
    seed = scoring_secret.run_seed(secret, minute)
    samples = fc_samples.generate(n, seed, profile)
    return samples, [is_private(seed, k, share) for k in range(n)]


def make_client(settings: Settings) -> edge_http.Client:
    signer = None
    if settings.sign_requests:
        session = boto3.Session()
        signer = edge_http.sigv4_signer(session.get_credentials(),
                                        session.region_name or os.environ.get("AWS_REGION", ""))
    return edge_http.Client(MAX_ANSWER_BYTES, signer=signer)


def handler(event: dict, context: Any = None) -> dict:
    return handle(event, Settings.from_environment(os.environ), context=context)


def _remaining(context: Any) -> Callable[[], float]:
    if context is None:
        return lambda: float("inf")
    return context.get_remaining_time_in_millis


def handle(event: dict, settings: Settings, table=None, fetcher: Fetch | None = None,
           context: Any = None, secret: bytes | None = None,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict:
    """One scheduled run for one shard, for the function whose settings are `settings`:
    it scores the minute it was scheduled for, with that minute's drift profile. A run
    starting more than MAX_START_DELAY_SECONDS after its scheduled time (an async
    invocation Lambda queued, e.g. throttled) does nothing: the leaderboard may already
    have closed its minute (leaderboard.CLOSED_AFTER_MINUTES)."""
    targets = event["targets"]
    rate, period = settings.requests_per_second, settings.period_seconds
    now = clock()
    scheduled, time_problem = scheduled_time(event)
    moment = scheduled or now
    minute = minute_of(moment)
    late_seconds = (now - moment).total_seconds()
    if late_seconds > MAX_START_DELAY_SECONDS:
        summary = {"shard": event.get("shard"), "minute": minute, "outcome": "too_late",
                   "late_seconds": round(late_seconds, 1), "participants": len(targets),
                   "requests": 0, "writes": 0}
        log("edge_run", **summary)
        return summary
    profile = fc_samples.profile_at(moment, settings.drift_start, settings.drift_profile)
    secret = secret if secret is not None else _secret.get(settings.scoring_secret_arn)
    samples, private = run_samples(secret, minute, rate * period, profile,
                                   settings.private_share)
    client = None
    if fetcher is None:
        client = make_client(settings)
        fetcher = client.fetch
    try:
        shard = Shard(targets, rate, period, settings.timeout_ms / 1000, samples, private,
                      fetcher)
        aggregates = shard.run()
    finally:
        if client is not None:
            client.close()
    table = table or boto3.resource("dynamodb", config=DYNAMODB_CONFIG).Table(
        settings.table_name)
    run_id = getattr(context, "aws_request_id", None) or event.get("id") or \
        hashlib.sha256(os.urandom(16)).hexdigest()[:32]
    results = flush(table, minute, aggregates, int(now.timestamp()) + ITEM_DAYS * 86400,
                    run_id, _remaining(context))
    metric_failures = emit_metrics(settings.event, aggregates, int(now.timestamp() * 1000))
    lags = sorted(shard.lags)
    summary = {"shard": event.get("shard"), "minute": minute, "outcome": "scored",
               "profile": profile, "participants": len(targets),
               "requests": sum(a["requests"] for a in aggregates.values()),
               "writes": sum(r == "written" for r in results.values()),
               "duplicates": sum(r == "duplicate" for r in results.values()),
               "failed_writes": sum(r in ("failed", "skipped") for r in results.values()),
               "failed_metrics": metric_failures, "threads": shard.workers,
               "p99_lag_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1) if lags else None}
    if time_problem:  # a deployment bug: the schedule's input should carry the time
        summary["time_problem"] = time_problem
    log("edge_run", **summary)
    return summary
