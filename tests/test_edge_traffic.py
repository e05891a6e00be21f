"""The FC edge: paced traffic to stub participants on 127.0.0.1, exact aggregates,
isolation from slow and dead participants, and the aggregated writes."""

import itertools
import json
import math
import socket
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moto import mock_aws

from handlers import edge_traffic, fc_samples, scoring
from tests.kit import create_scores_table

RATE, PERIOD, TIMEOUT_S = 5, 3, 0.5
PREDICTION = 5000.0


class Stubs(BaseHTTPRequestHandler):
    """Participants by path: /<behaviour>/liveinference."""

    arrivals = defaultdict(list)

    def log_message(self, *args):
        pass

    def do_GET(self):
        behaviour = self.path.split("/")[1]
        type(self).arrivals[behaviour].append(time.monotonic())
        if behaviour == "slow":
            time.sleep(1.5)
        status, body = {
            "healthy": (200, json.dumps({"duration_ms": PREDICTION})),
            "slow": (200, json.dumps({"duration_ms": PREDICTION})),
            "garbage": (200, "<html>oops</html>"),
            "client_error": (400, json.dumps({"error": "feature 3 is not a number"})),
            "server_error": (503, json.dumps({"error": "your endpoint is not deployed yet"})),
        }[behaviour]
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the edge gave up waiting, as it should


@pytest.fixture
def stubs():
    Stubs.arrivals = defaultdict(list)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stubs)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {name: f"{base}/{name}/liveinference" for name in
           ("healthy", "slow", "garbage", "client_error", "server_error")} | {
        "dead": f"http://127.0.0.1:{dead_port}/dead/liveinference"}
    server.shutdown()


def run_shard(urls, names, samples=None, private=None):
    samples = samples or fc_samples.generate(RATE * PERIOD, seed=7)
    private = private or [k % 3 == 0 for k in range(len(samples))]
    shard = edge_traffic.Shard([{"participant": n, "url": urls[n]} for n in names], RATE, PERIOD,
                               TIMEOUT_S, samples, private)
    started = time.monotonic()
    aggregates = shard.run()
    return shard, aggregates, time.monotonic() - started, samples, private


def test_the_aggregates_are_exact_for_every_kind_of_participant(stubs):
    names = ["healthy", "slow", "dead", "garbage", "client_error", "server_error"]
    _, aggregates, _, samples, private = run_shard(stubs, names)
    n = RATE * PERIOD
    healthy = aggregates["healthy"]
    public = [PREDICTION - s.duration for s, p in zip(samples, private) if not p]
    secret = [PREDICTION - s.duration for s, p in zip(samples, private) if p]
    assert (healthy["requests"], healthy["successes"], scoring.errors(healthy)) == (n, n, 0)
    assert (healthy["public_n"], healthy["private_n"]) == (len(public), len(secret))
    assert healthy["public_sse"] == pytest.approx(sum(e * e for e in public))
    assert healthy["private_sae"] == pytest.approx(sum(abs(e) for e in secret))
    assert scoring.rmse(healthy, scoring.SPLITS) == pytest.approx(
        math.sqrt(sum(e * e for e in public + secret) / n))
    expected = {"slow": "timeout", "dead": "unreachable", "garbage": "bad_answer",
                "client_error": "http_4xx", "server_error": "http_5xx"}
    for name, outcome in expected.items():
        aggregate = aggregates[name]
        assert (aggregate["requests"], aggregate[outcome], aggregate["successes"]) == (n, n, 0), name
        assert scoring.rmse(aggregate) is None


def test_a_stuck_participant_never_has_more_than_its_share_in_flight():
    """A fetch that ignores its timeout: extra requests are scored as timeouts, not queued."""
    in_flight, peak, lock = defaultdict(int), defaultdict(int), threading.Lock()

    def fetcher(url, timeout):
        name = url.split("/")[3]
        with lock:
            in_flight[name] += 1
            peak[name] = max(peak[name], in_flight[name])
        try:
            if name == "stuck":
                time.sleep(2.0)
            return 200, json.dumps({"duration_ms": PREDICTION}).encode()
        finally:
            with lock:
                in_flight[name] -= 1

    samples = fc_samples.generate(RATE * PERIOD, seed=7)
    shard = edge_traffic.Shard([{"participant": n, "url": f"http://x/{n}/liveinference"}
                                for n in ("stuck", "fine")], RATE, PERIOD, TIMEOUT_S, samples,
                               [False] * len(samples), fetcher)
    aggregates = shard.run()
    assert peak["stuck"] == shard.cap
    assert aggregates["stuck"]["requests"] == RATE * PERIOD
    assert aggregates["stuck"]["timeout"] == RATE * PERIOD  # late answers are timeouts too
    assert aggregates["fine"]["successes"] == RATE * PERIOD


def test_slow_and_dead_participants_do_not_slow_the_others(stubs):
    _, _alone, _alone_seconds, _, _ = run_shard(stubs, ["healthy"])
    solo = list(Stubs.arrivals["healthy"])
    Stubs.arrivals.clear()
    _, mixed, mixed_seconds, _, _ = run_shard(
        stubs, ["slow", "dead", "healthy", "slow", "garbage"][:3] + ["garbage"])
    together = Stubs.arrivals["healthy"]
    assert len(together) == len(solo) == RATE * PERIOD
    assert mixed["healthy"]["successes"] == RATE * PERIOD
    # the same spread over the period: every request arrived within the run, evenly
    gaps = [b - a for a, b in itertools.pairwise(together)]
    assert max(gaps) < 1 / RATE + 0.15
    assert together[-1] - together[0] == pytest.approx(PERIOD - 1 / RATE, abs=0.3)
    assert mixed_seconds < PERIOD + TIMEOUT_S + 0.5


def test_requests_start_on_their_planned_time(stubs):
    shard, _, seconds, _, _ = run_shard(stubs, ["healthy", "garbage", "client_error"])
    lags = sorted(shard.lags)
    assert len(lags) == 3 * RATE * PERIOD
    assert lags[int(0.99 * (len(lags) - 1))] < 0.1
    assert seconds == pytest.approx(PERIOD, abs=0.5)


def test_the_plan_spreads_participants_within_each_second():
    schedule = edge_traffic.plan(participants=4, rate=5, period=2)
    assert len(schedule) == 40
    first = [offset for offset, index, _ in schedule if index == 0]
    assert first == pytest.approx([k / 5 for k in range(10)])
    second = [offset for offset, index, _ in schedule if index == 1]
    assert second[0] == pytest.approx(0.05)


def test_the_private_share_is_deterministic_and_close_to_configured():
    flags = [edge_traffic.is_private(42, k, 0.3) for k in range(20_000)]
    assert flags == [edge_traffic.is_private(42, k, 0.3) for k in range(20_000)]
    assert sum(flags) / len(flags) == pytest.approx(0.3, abs=0.02)


@pytest.mark.parametrize("status, body, outcome", [
    (200, b'{"duration_ms": 6100.5}', "ok"), (200, b'{"duration_ms": "NaN"}', "bad_answer"),
    (200, b'{"other": 1}', "bad_answer"), (200, b"6100", "bad_answer"),
    (404, b"", "no_api"), (429, b"", "throttled"), (502, b"", "model_error"),
    (418, b"", "http_4xx"), (500, b"", "http_5xx"),
    (302, b"", "bad_answer"),
])
def test_answers_are_classified(status, body, outcome):
    assert edge_traffic.classify(status, body, 6000.0)[0] == outcome
    if outcome == "ok":
        assert edge_traffic.classify(status, body, 6000.0)[1] == pytest.approx(100.5)


@pytest.fixture
def table(aws_env):
    with mock_aws():
        yield create_scores_table()


class Counting:
    def __init__(self, table):
        self.table, self.calls = table, 0

    def update_item(self, **kwargs):
        self.calls += 1
        return self.table.update_item(**kwargs)


def test_each_flush_is_one_write_per_participant_of_the_runs_aggregate(table):
    a = scoring.empty()
    scoring.record(a, 30.0, "ok", 120.0)
    scoring.record(a, 2000.0, "timeout")
    b = scoring.empty()
    scoring.record(b, 10.0, "http_5xx")
    counting = Counting(table)
    results = edge_traffic.flush(counting, "2026-11-26T10:00", {"ann": a, "bob": b}, 1, "run-1")
    assert results == {"ann": "written", "bob": "written"} and counting.calls == 2
    item = table.get_item(Key={"minute": "2026-11-26T10:00", "participant": "ann"})["Item"]
    assert (item["requests"], item["successes"], item["timeout"]) == (2, 1, 1)
    assert float(item["public_sse"]) == pytest.approx(120.0 ** 2)
    assert float(item["latency_max_ms"]) == 2000.0


def test_flushing_the_same_run_again_changes_nothing(table):
    a = scoring.empty()
    scoring.record(a, 30.0, "ok", 120.0)
    scoring.record(a, 2000.0, "timeout")
    for _ in range(2):
        assert edge_traffic.flush(table, "2026-11-26T10:00", {"ann": a}, 1, "run-1") == \
            {"ann": "written"}
    item = table.get_item(Key={"minute": "2026-11-26T10:00", "participant": "ann"})["Item"]
    assert (item["requests"], item["successes"], item["timeout"]) == (2, 1, 1)
    assert float(item["public_sse"]) == pytest.approx(120.0 ** 2)


def test_a_second_run_for_the_same_minute_neither_double_counts_nor_lowers_the_maximum(table):
    first = scoring.empty()
    scoring.record(first, 2000.0, "timeout")
    second = scoring.empty()
    scoring.record(second, 10.0, "ok", 5.0)
    edge_traffic.flush(table, "2026-11-26T10:00", {"ann": first}, 1, "run-1")
    assert edge_traffic.flush(table, "2026-11-26T10:00", {"ann": second}, 1, "run-2") == \
        {"ann": "duplicate"}
    item = table.get_item(Key={"minute": "2026-11-26T10:00", "participant": "ann"})["Item"]
    assert (item["requests"], item["timeout"], item["successes"]) == (1, 1, 0)
    assert float(item["latency_max_ms"]) == 2000.0


SECRET = b"0123456789abcdef0123456789abcdef"


def test_the_handler_scores_a_shard_and_emits_metrics(table, capsys):
    settings = edge_traffic.Settings(table_name="scores", event="aim368", requests_per_second=4,
                                     period_seconds=1, timeout_ms=500, private_share=0.25)
    answers = {"https://a/ada/liveinference": (200, b'{"duration_ms": 6000}'),
               "https://a/bo/liveinference": (503, b"{}")}
    summary = edge_traffic.handle(
        {"shard": 0, "targets": [{"participant": "ada", "url": "https://a/ada/liveinference"},
                                 {"participant": "bo", "url": "https://a/bo/liveinference"}]},
        settings, table=table, fetcher=lambda url, timeout: answers[url.split("?")[0]],
        secret=SECRET)
    assert (summary["participants"], summary["requests"], summary["writes"]) == (2, 8, 2)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    emf = {line["Participant"]: line for line in lines if "_aws" in line}
    assert emf["ada"]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MLWorkshop/aim368"
    assert emf["ada"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Participant"]]
    assert (emf["ada"]["Requests"], emf["ada"]["Successes"], emf["bo"]["Errors5xx"]) == (4, 4, 4)
    assert "RMSE" in emf["ada"] and "RMSE" not in emf["bo"]
    assert emf["bo"]["ErrorRate"] == 100
    minute = summary["minute"]
    item = table.get_item(Key={"minute": minute, "participant": "ada"})["Item"]
    assert item["requests"] == 4


def test_drift_switches_the_generator_at_its_start():
    start = "2026-11-26T11:00:00Z"
    before = datetime(2026, 11, 26, 10, 59, tzinfo=UTC)
    after = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    assert fc_samples.profile_at(before, start, fc_samples.PEAK_SEASON) == fc_samples.NORMAL
    assert fc_samples.profile_at(after, start, fc_samples.PEAK_SEASON) == fc_samples.PEAK_SEASON
    assert fc_samples.profile_at(after, "", fc_samples.PEAK_SEASON) == fc_samples.NORMAL
