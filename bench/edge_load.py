"""Load: one edge shard against stub participants that answer at once, 5 requests/s each.

For 10, 50 and 200 participants, for PERIOD seconds each, with stubs answering at once
and in 50 ms (like a real endpoint behind API Gateway), it reports the achieved over the
target request rate and the p99 scheduling lag (how late requests start against their
plan), for the edge's shard and, in the same run, for a naive sequential loop. The stubs
run in another process on 127.0.0.1, so they do not share the edge's interpreter. Also
the writes per participant per minute the edge makes to DynamoDB and CloudWatch.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from handlers import edge_traffic, fc_samples, scoring

PROJECT_DIR = Path(__file__).resolve().parent.parent

SIZES, RATE, PERIOD, TIMEOUT_S = (10, 50, 200), 5, 10, 2.0
STUB_LATENCIES_MS = (0, 50)  # at once, and like a real endpoint behind API Gateway
RESULTS = PROJECT_DIR / "bench" / "results"


class Instant(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        delay_ms = int(self.path.split("/")[1].removeprefix("d"))
        if delay_ms:
            time.sleep(delay_ms / 1000)
        body = b'{"duration_ms": 6000.0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(port_queue) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Instant)
    server.daemon_threads = True
    server.request_queue_size = 1024
    port_queue.put(server.server_address[1])
    server.serve_forever()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")


def edge_shard(targets, samples) -> tuple[int, list[float], float]:
    shard = edge_traffic.Shard(targets, RATE, PERIOD, TIMEOUT_S, samples, [False] * len(samples))
    started = time.monotonic()
    aggregates = shard.run()
    successes = sum(a["successes"] for a in aggregates.values())
    return successes, shard.lags, time.monotonic() - started


def naive_loop(targets, samples) -> tuple[int, list[float], float]:
    """The obvious loop: every planned request in turn, each waiting for its answer."""
    schedule = edge_traffic.plan(len(targets), RATE, PERIOD)
    started, lags, successes = time.monotonic(), [], 0
    for offset, index, number in schedule:
        now = time.monotonic()
        if now - started > PERIOD:
            break  # the period is over; the rest never went out
        time.sleep(max(0.0, started + offset - now))
        lags.append(time.monotonic() - started - offset)
        features = ",".join(fc_samples.format_number(v) for v in samples[number].features)
        try:
            with urllib.request.urlopen(f"{targets[index]['url']}?features={features}",
                                        timeout=TIMEOUT_S) as response:
                successes += response.status == 200
        except OSError:
            pass
    return successes, lags, time.monotonic() - started


def writes_per_participant_minute(participants: int) -> dict:
    class Counting:
        calls = 0

        def update_item(self, **kwargs):
            Counting.calls += 1

    aggregates = {f"p{i}": scoring.empty() for i in range(participants)}
    edge_traffic.flush(Counting(), "2026-11-26T10:00", aggregates, 0)
    lines = [edge_traffic.metrics_line("ev", p, a, 0) for p, a in aggregates.items()]
    metrics = len(json.loads(lines[0])["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    runs_per_minute = 60 / 60  # one edge run per minute
    return {"dynamodb_updates": Counting.calls / participants * runs_per_minute,
            "cloudwatch_api_calls": 0, "emf_log_lines": len(lines) / participants * runs_per_minute,
            "metrics_per_line": metrics}


def measure(base: str, latency_ms: int, size: int, samples) -> list[dict]:
    targets = [{"participant": f"p{i}", "url": f"{base}/d{latency_ms}/p{i}/liveinference"}
               for i in range(size)]
    target_requests = size * RATE * PERIOD
    rows = []
    for design, runner in (("edge shard", edge_shard), ("naive sequential loop", naive_loop)):
        successes, lags, seconds = runner(targets, samples)
        rows.append({"stub_latency_ms": latency_ms, "participants": size, "design": design,
                     "achieved_over_target": round(successes / target_requests, 3),
                     "p99_lag_ms": round(1000 * p99(lags), 1), "seconds": round(seconds, 1)})
    return rows


def main() -> list[dict]:
    queue = multiprocessing.Queue()
    stub = multiprocessing.Process(target=serve, args=(queue,), daemon=True)
    stub.start()
    base = f"http://127.0.0.1:{queue.get(timeout=10)}"
    samples = fc_samples.generate(RATE * PERIOD, seed=1)
    rows = []
    try:
        for latency in STUB_LATENCIES_MS:
            for size in SIZES:
                rows += measure(base, latency, size, samples)
    finally:
        stub.terminate()

    writes = writes_per_participant_minute(50)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "edge_load.json").write_text(json.dumps({"load": rows, "writes": writes}, indent=2))
    print(f"\nEdge load: {RATE} requests/s per participant for {PERIOD} s")
    print("| stub answers in | participants | design | achieved / target | p99 scheduling lag |")
    print("|---:|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['stub_latency_ms']} ms | {r['participants']} | {r['design']} | "
              f"{r['achieved_over_target']} | {r['p99_lag_ms']:,} ms |")
    print(f"\nWrites per participant per minute: {writes['dynamodb_updates']:g} DynamoDB update, "
          f"{writes['cloudwatch_api_calls']} CloudWatch API calls "
          f"({writes['emf_log_lines']:g} EMF log line carrying {writes['metrics_per_line']} metrics)")
    return rows


if __name__ == "__main__":
    main()
