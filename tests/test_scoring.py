"""Leaderboard maths: aggregates, windows, ranking rules, the public/private split."""

import math
import random

import pytest

from handlers import scoring


def pairs(n, seed, bias=0.0):
    rng = random.Random(seed)
    return [(rng.gauss(bias, 300), rng.uniform(5, 900)) for _ in range(n)]


def aggregate_of(errors_and_latencies, split="public"):
    aggregate = scoring.empty()
    for error, latency in errors_and_latencies:
        scoring.record(aggregate, latency, "ok", error, split)
    return aggregate


def test_rmse_from_aggregates_equals_rmse_from_the_raw_pairs():
    raw = pairs(5000, seed=1, bias=40)
    chunks = [aggregate_of(raw[i:i + 700]) for i in range(0, len(raw), 700)]
    merged = scoring.merge(chunks)
    expected = math.sqrt(sum(e * e for e, _ in raw) / len(raw))
    assert scoring.rmse(merged) == pytest.approx(expected, rel=1e-12)
    assert merged["public_sae"] == pytest.approx(sum(abs(e) for e, _ in raw))
    assert merged["requests"] == merged["successes"] == 5000
    assert merged["latency_max_ms"] == max(latency for _, latency in raw)


def test_errors_are_counted_by_class_and_not_scored():
    aggregate = scoring.empty()
    for outcome in ("http_4xx", "http_5xx", "timeout", "unreachable", "bad_answer", "http_5xx"):
        scoring.record(aggregate, 10, outcome)
    scoring.record(aggregate, 10, "ok", 100.0)
    assert (aggregate["http_5xx"], scoring.errors(aggregate), aggregate["successes"]) == (2, 6, 1)
    assert scoring.error_rate(aggregate) == pytest.approx(6 / 7)
    assert scoring.rmse(aggregate) == 100.0


def test_no_answers_means_no_rmse_not_zero():
    assert scoring.rmse(scoring.empty()) is None
    assert scoring.error_rate(scoring.empty()) is None
    assert scoring.latency_percentile(scoring.empty(), 0.5) is None


def test_latency_percentiles_are_estimated_within_their_bucket():
    latencies = [random.Random(3).uniform(0, 400) for _ in range(10_000)]
    aggregate = aggregate_of((0.0, latency) for latency in latencies)
    true_p50 = sorted(latencies)[5000]
    true_p95 = sorted(latencies)[9500]
    assert scoring.latency_percentile(aggregate, 0.5) == pytest.approx(true_p50, abs=25)
    assert scoring.latency_percentile(aggregate, 0.95) == pytest.approx(true_p95, abs=25)
    slow = aggregate_of([(0.0, 5000.0)] * 3)
    assert scoring.latency_percentile(slow, 0.5) <= 5000


def test_public_and_private_are_scored_apart():
    aggregate = scoring.merge([aggregate_of([(100.0, 1)] * 4, "public"),
                               aggregate_of([(200.0, 1)] * 4, "private")])
    assert scoring.rmse(aggregate, ("public",)) == 100.0
    assert scoring.rmse(aggregate, ("private",)) == 200.0
    assert scoring.rmse(aggregate, scoring.SPLITS) == pytest.approx(
        math.sqrt((4 * 100.0 ** 2 + 4 * 200.0 ** 2) / 8))


def row(participant, window_rmse, successes, private_rmse=None, private_n=0):
    return {"participant": participant, "window_rmse": window_rmse, "window_successes": successes,
            "private_event_rmse": private_rmse, "private_successes": private_n}


def test_ranking_is_by_score_with_deterministic_ties_and_unranked_last():
    ranked = scoring.rank([row("dave", 400.0, 100), row("ann", 350.0, 100), row("cy", 350.0, 150),
                           row("bob", 350.0, 100), row("eve", 300.0, 5), row("fay", None, 0)],
                          min_successes=20)
    assert [(r["participant"], r["rank"]) for r in ranked] == [
        ("cy", 1), ("ann", 2), ("bob", 3), ("dave", 4), ("eve", None), ("fay", None)]


def test_the_final_reveal_ranks_by_the_private_score_over_the_event():
    rows = [row("ann", 300.0, 100, private_rmse=500.0, private_n=300),
            row("bob", 400.0, 100, private_rmse=450.0, private_n=300),
            row("cy", 200.0, 100, private_rmse=100.0, private_n=10)]
    live = scoring.rank([dict(r) for r in rows], 20)
    final = scoring.rank([dict(r) for r in rows], 20, scoring.FINAL)
    assert [r["participant"] for r in live] == ["cy", "ann", "bob"]
    assert [(r["participant"], r["rank"]) for r in final] == [("bob", 1), ("ann", 2), ("cy", None)]


@pytest.mark.parametrize("window, expected", [
    (scoring.empty(), "no traffic yet"),
    (aggregate_of([(1.0, 1)] * 99), "healthy"),
])
def test_status_badges(window, expected):
    assert scoring.status(window, failing_error_rate=0.2) == expected


def test_a_mostly_failing_participant_is_failing():
    window = scoring.empty()
    for _ in range(5):
        scoring.record(window, 10, "http_5xx")
    scoring.record(window, 10, "ok", 1.0)
    assert scoring.status(window, failing_error_rate=0.2) == "failing"


@pytest.mark.parametrize("status, body, outcome", [
    (403, b"", "no_api"), (404, b"", "no_api"), (429, b"", "throttled"),
    (502, b"", "model_error"), (504, b"", "endpoint_timeout"), (503, b"", "no_endpoint"),
    (503, b'{"error": "busy", "outcome": "endpoint_busy"}', "endpoint_busy"),
    (503, b'{"outcome": ["endpoint_busy"]}', "no_endpoint"),
    (503, b"[" * 4000, "no_endpoint"),  # too deep to parse: no detail, never an exception
    (503, b'{"outcome": "endpoint_busy"' + b" " * 5000 + b"}", "no_endpoint"),  # too long
    (400, b"", "http_4xx"), (500, b"", "http_5xx"),
])
def test_http_errors_are_detailed_by_status_and_the_handlers_named_outcome(status, body, outcome):
    assert scoring.http_outcome(status, body) == outcome


def test_an_http_detail_counts_under_its_class_too():
    aggregate = scoring.empty()
    for outcome in ("throttled", "no_endpoint", "model_error", "http_5xx"):
        scoring.record(aggregate, 10, outcome)
    assert (aggregate["http_4xx"], aggregate["http_5xx"]) == (1, 3)
    assert scoring.errors(aggregate) == 4  # details are not counted twice


def test_a_failing_participant_gets_the_reason_of_most_of_their_errors():
    window = scoring.empty()
    for outcome, count in (("no_endpoint", 5), ("no_api", 2), ("model_error", 6),
                           ("endpoint_timeout", 1), ("timeout", 1), ("http_5xx", 1)):
        for _ in range(count):
            scoring.record(window, 10, outcome)
    assert scoring.failure_reasons(window) == {"not deployed": 7, "model error": 6,
                                               "timeout": 2, "server error (5xx)": 1}
    row = scoring.leaderboard_row("ada", "Ada", window, window, failing_error_rate=0.2)
    assert (row["status"], row["reason"]) == ("failing", "not deployed")


@pytest.mark.parametrize("outcome, reason", [
    ("no_api", "not deployed"), ("no_endpoint", "not deployed"), ("model_error", "model error"),
    ("bad_answer", "bad answer"), ("timeout", "timeout"), ("endpoint_timeout", "timeout"),
    ("throttled", "throttled"), ("endpoint_busy", "throttled"), ("unreachable", "unreachable"),
    ("http_4xx", "rejected (4xx)"),
])
def test_every_error_outcome_has_a_reason(outcome, reason):
    window = scoring.empty()
    scoring.record(window, 10, outcome)
    assert scoring.leaderboard_row("ada", "Ada", window, window, 0.2)["reason"] == reason


def test_a_healthy_participant_has_no_reason():
    window = scoring.empty()
    scoring.record(window, 10, "ok", 1.0)
    assert scoring.leaderboard_row("ada", "Ada", window, window, 0.2)["reason"] is None
