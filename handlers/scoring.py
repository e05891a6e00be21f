"""Live scoring: per-participant aggregates of the FC's requests, and the leaderboard.

An aggregate holds only sums (counts, squared and absolute errors, latency sum, maximum
and a fixed histogram), so aggregates from any number of requests, runs and minutes add
up exactly, and the RMSE computed from them equals the RMSE of the raw pairs.
Standard library only: the edge and leaderboard Lambdas bundle this file.
"""

from __future__ import annotations

import bisect
import math
from typing import Iterable, Mapping, Optional

SPLITS = ("public", "private")
ERROR_CLASSES = ("http_4xx", "http_5xx", "timeout", "unreachable", "bad_answer")
# Latency histogram upper bounds, ms; the last bucket is everything slower.
LATENCY_BUCKETS_MS = (25, 50, 100, 200, 400, 800, 1600, 3200)
COUNTERS = (("requests", "successes", "latency_sum_ms")
            + ERROR_CLASSES
            + tuple(f"{split}_{kind}" for split in SPLITS for kind in ("n", "sse", "sae"))
            + tuple(f"latency_h{i}" for i in range(len(LATENCY_BUCKETS_MS) + 1)))
MAXIMA = ("latency_max_ms",)
FIELDS = COUNTERS + MAXIMA

NAMESPACE = "MLWorkshop"  # CloudWatch namespace prefix: MLWorkshop/<event>
DIMENSION = "Participant"


def empty() -> dict[str, float]:
    return dict.fromkeys(FIELDS, 0)


def record(aggregate: dict, latency_ms: float, outcome: str, error_ms: Optional[float] = None,
           split: str = "public") -> None:
    """Add one request: outcome "ok" (with its prediction error) or an error class."""
    aggregate["requests"] += 1
    aggregate["latency_sum_ms"] += latency_ms
    aggregate["latency_max_ms"] = max(aggregate["latency_max_ms"], latency_ms)
    aggregate[f"latency_h{bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)}"] += 1
    if outcome != "ok":
        aggregate[outcome] += 1
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


def rmse(aggregate: Mapping[str, float], splits: Iterable[str] = ("public",)) -> Optional[float]:
    n = sum(aggregate.get(f"{s}_n", 0) for s in splits)
    if not n:
        return None
    return math.sqrt(sum(aggregate.get(f"{s}_sse", 0) for s in splits) / n)


def error_rate(aggregate: Mapping[str, float]) -> Optional[float]:
    requests = aggregate.get("requests", 0)
    return errors(aggregate) / requests if requests else None


def latency_percentile(aggregate: Mapping[str, float], q: float) -> Optional[float]:
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
        "status": status(window, failing_error_rate),
    }
