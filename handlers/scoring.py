"""Live scoring: per-participant aggregates of the FC's requests, and the leaderboard.

An aggregate holds only sums (counts, squared and absolute errors, latency sum, maximum
and a fixed histogram), so aggregates from any number of requests, runs and minutes add
up exactly, and the RMSE computed from them equals the RMSE of the raw pairs.
Standard library only: the edge and leaderboard Lambdas bundle this file.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping

SPLITS = ("public", "private")
ERROR_CLASSES = ("http_4xx", "http_5xx", "timeout", "unreachable", "bad_answer")
# Why an HTTP error happened: each detail is counted under its class too, so the classes
# (metrics, alarms, the portal) stay as they are and the leaderboard can name a reason.
HTTP_DETAILS = {
    "no_api": "http_4xx",  # 403/404: no API answers at this URL and stage
    "throttled": "http_4xx",  # 429: the stage's throttle
    "no_endpoint": "http_5xx",  # 503: the SageMaker endpoint is missing or not in service
    "endpoint_busy": "http_5xx",  # 503 that the inference handler says is SageMaker throttling
    "model_error": "http_5xx",  # 502: the model failed or its answer could not be read
    "endpoint_timeout": "http_5xx",  # 504: the endpoint did not answer the inference handler
}
# Latency histogram upper bounds, ms; the last bucket is everything slower.
LATENCY_BUCKETS_MS = (25, 50, 100, 200, 400, 800, 1600, 3200)
COUNTERS = (("requests", "successes", "latency_sum_ms")
            + ERROR_CLASSES + tuple(HTTP_DETAILS)
            + tuple(f"{split}_{kind}" for split in SPLITS for kind in ("n", "sse", "sae"))
            + tuple(f"latency_h{i}" for i in range(len(LATENCY_BUCKETS_MS) + 1)))
MAXIMA = ("latency_max_ms",)
FIELDS = COUNTERS + MAXIMA

NAMESPACE = "MLWorkshop"  # CloudWatch namespace prefix: MLWorkshop/<event>
DIMENSION = "Participant"


def empty() -> dict[str, float]:
    return dict.fromkeys(FIELDS, 0)


def record(aggregate: dict, latency_ms: float, outcome: str, error_ms: float | None = None,
           split: str = "public") -> None:
    """Add one request: outcome "ok" (with its prediction error), an error class or an
    HTTP detail (counted under its class as well)."""
    aggregate["requests"] += 1
    aggregate["latency_sum_ms"] += latency_ms
    aggregate["latency_max_ms"] = max(aggregate["latency_max_ms"], latency_ms)
    aggregate[f"latency_h{bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)}"] += 1
    if outcome != "ok":
        aggregate[outcome] += 1
        if outcome in HTTP_DETAILS:
            aggregate[HTTP_DETAILS[outcome]] += 1
        return
    aggregate["successes"] += 1
    aggregate[f"{split}_n"] += 1
    aggregate[f"{split}_sse"] += error_ms * error_ms
    aggregate[f"{split}_sae"] += abs(error_ms)


def from_item(item: Mapping[str, object]) -> dict[str, float]:
    """The aggregate fields of a stored item (DynamoDB gives Decimals)."""
    return {k: float(v) for k, v in item.items() if k in FIELDS}


def merge(aggregates: Iterable[Mapping[str, float]]) -> dict[str, float]:
    total = empty()
    for aggregate in aggregates:
        for field in COUNTERS:
            total[field] += aggregate.get(field, 0)
        for field in MAXIMA:
            total[field] = max(total[field], aggregate.get(field, 0))
    return total


def errors(aggregate: Mapping[str, float]) -> float:
    return sum(aggregate.get(c, 0) for c in ERROR_CLASSES)


def rmse(aggregate: Mapping[str, float], splits: Iterable[str] = ("public",)) -> float | None:
    n = sum(aggregate.get(f"{s}_n", 0) for s in splits)
    if not n:
        return None
    return math.sqrt(sum(aggregate.get(f"{s}_sse", 0) for s in splits) / n)


def error_rate(aggregate: Mapping[str, float]) -> float | None:
    requests = aggregate.get("requests", 0)
    return errors(aggregate) / requests if requests else None


def latency_percentile(aggregate: Mapping[str, float], q: float) -> float | None:
    """The q-quantile (0-1) of latency, interpolated within its histogram bucket."""
    counts = [aggregate.get(f"latency_h{i}", 0) for i in range(len(LATENCY_BUCKETS_MS) + 1)]
    total = sum(counts)
    if not total:
        return None
    target, seen = q * total, 0.0
    for i, count in enumerate(counts):
        if count and seen + count >= target:
            low = LATENCY_BUCKETS_MS[i - 1] if i else 0.0
            high = LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else \
                max(aggregate.get("latency_max_ms", low), low)
            return low + (high - low) * (target - seen) / count
        seen += count
    return aggregate.get("latency_max_ms")


MAX_OUTCOME_BODY = 4096  # the edge reads no more of an answer than this


def http_outcome(status: int, body: bytes = b"") -> str:
    """The error outcome of a non-200 answer: an HTTP detail when the status tells why,
    otherwise its class. A 503's body may name the inference handler's own outcome
    ({"outcome": "endpoint_busy"}) to tell SageMaker throttling from a missing endpoint."""
    if status in (403, 404):
        return "no_api"
    if status == 429:
        return "throttled"
    if status == 502:
        return "model_error"
    if status == 504:
        return "endpoint_timeout"
    if status == 503:
        return "endpoint_busy" if _named_outcome(body) == "endpoint_busy" else "no_endpoint"
    return "http_4xx" if 400 <= status < 500 else "http_5xx"


def _named_outcome(body: bytes) -> str | None:
    # Bounded: a participant's stage writes this body, so it may be anything.
    if not body or len(body) > MAX_OUTCOME_BODY or not body.lstrip().startswith(b"{"):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    outcome = value.get("outcome") if isinstance(value, dict) else None
    return outcome if isinstance(outcome, str) else None


# The reason a failing participant is shown, and the outcomes that count towards it.
FAILURE_REASONS = (
    ("not deployed", ("no_api", "no_endpoint")),
    ("model error", ("model_error",)),
    ("bad answer", ("bad_answer",)),
    ("timeout", ("timeout", "endpoint_timeout")),
    ("throttled", ("throttled", "endpoint_busy")),
    ("unreachable", ("unreachable",)),
)


def failure_reasons(window: Mapping[str, float]) -> dict[str, int]:
    """Errors by reason, most frequent first; HTTP errors without a detail (items written
    before details existed, or statuses that say nothing more) as "rejected (4xx)" and
    "server error (5xx)"."""
    counts = {reason: sum(window.get(o, 0) for o in outcomes)
              for reason, outcomes in FAILURE_REASONS}
    for klass, reason in (("http_4xx", "rejected (4xx)"), ("http_5xx", "server error (5xx)")):
        detailed = sum(window.get(d, 0) for d, k in HTTP_DETAILS.items() if k == klass)
        counts[reason] = window.get(klass, 0) - detailed
    order = {reason: i for i, reason in enumerate(counts)}
    return {reason: int(count) for reason, count in
            sorted(counts.items(), key=lambda kv: (-kv[1], order[kv[0]])) if count > 0}


def status(window: Mapping[str, float], failing_error_rate: float) -> str:
    if not window.get("requests"):
        return "no traffic yet"
    return "failing" if (error_rate(window) or 0) > failing_error_rate else "healthy"


# What a ranking is by, and the successes that make a participant eligible for it.
LIVE = ("window_rmse", "window_successes")  # public score, last few minutes
FINAL = ("private_event_rmse", "private_successes")  # private score, whole event (the reveal)


def rank(rows: list[dict], min_successes: int, basis: tuple[str, str] = LIVE) -> list[dict]:
    """Order rows and number the ranked ones.

    Ranked: at least `min_successes` successful answers on the basis's count, best score
    first; ties go to more successes, then the participant id. The rest follow, unranked.
    """
    score, count = basis

    def eligible(row):
        return row[count] >= min_successes and row.get(score) is not None

    ranked = sorted((r for r in rows if eligible(r)),
                    key=lambda r: (r[score], -r[count], r["participant"]))
    unranked = sorted((r for r in rows if not eligible(r)), key=lambda r: r["participant"])
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    for row in unranked:
        row["rank"] = None
    return ranked + unranked


def leaderboard_row(participant: str, name: str, window: Mapping[str, float],
                    total: Mapping[str, float], failing_error_rate: float) -> dict:
    state = status(window, failing_error_rate)
    reasons = failure_reasons(window) if state == "failing" else {}
    return {
        "participant": participant,
        "name": name,
        "window_rmse": rmse(window, ("public",)),
        "event_rmse": rmse(total, ("public",)),
        "private_event_rmse": rmse(total, ("private",)),
        "requests": int(total.get("requests", 0)),
        "window_successes": int(window.get("public_n", 0)),
        "private_successes": int(total.get("private_n", 0)),
        "error_rate": error_rate(window),
        "p50_latency_ms": latency_percentile(window, 0.5),
        "status": state,
        "reason": next(iter(reasons), None),  # why "failing": the most frequent error
        "reasons": reasons,
    }
