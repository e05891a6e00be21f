"""The edge over HTTPS: CPU per request, and what one shard achieves on a fraction of a CPU.

1. CPU per request against a local TLS stub (another process, so its CPU is not counted):
   a fresh TLS context and connection per request (what urllib's urlopen did: a default
   context, loading the system CAs, per connection) against the edge's client (one
   context, keep-alive connections per host).
2. Achieved over target successes for one shard of 25 participants at 5 requests/s for
   PERIOD seconds, with the edge's process pinned to one core next to a CPU-hog sibling
   (so it gets about half of that core, a 1 GB Lambda's share being about 0.58 vCPU),
   both designs in the same run. The hog ends with the measurement.

A self-signed certificate for 127.0.0.1 is made at bench time (tools.self_signed).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import ssl
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from handlers import edge_http, edge_traffic, fc_samples
from tools import self_signed

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_DIR / "bench" / "results"
CPU_REQUESTS = 200
SHARD, RATE, PERIOD, TIMEOUT_S = 25, 5, 5, 2.0
RUN_LIMIT_S = 300  # the fresh-context design can take far longer than its period


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b'{"duration_ms": 6000.0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(cert: str, key: str, port_queue, core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    server.handle_error = lambda request, address: None  # clients closing early: not news
    server.daemon_threads = True
    server.request_queue_size = 1024
    server.socket = self_signed.server_context(Path(cert), Path(key)).wrap_socket(
        server.socket, server_side=True)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def fresh_context(cert: Path) -> ssl.SSLContext:
    """What every request paid before: a default context (system CAs), plus the stub's CA."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(cert))
    return context


def fresh_fetch(cert: Path):
    """The old design: a new context and a new connection for every request."""
    def fetch(url: str, timeout: float) -> tuple[int, bytes]:
        client = edge_http.Client(edge_traffic.MAX_ANSWER_BYTES, context=fresh_context(cert))
        try:
            return client.fetch(url, timeout)
        finally:
            client.close()
    return fetch


def cpu_per_request(fetch, url: str) -> float:
    fetch(url, 5.0)  # warm-up (imports, first handshake)
    started = time.process_time()
    for _ in range(CPU_REQUESTS):
        status, _ = fetch(url, 5.0)
        assert status == 200
    return 1000 * (time.process_time() - started) / CPU_REQUESTS


def hog(seconds: float, core: int) -> None:
    os.sched_setaffinity(0, {core})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def shard_on_a_shared_core(design: str, base: str, cert: str, core: int, results) -> None:
    """In a child process pinned to `core` (a hog shares it): one shard's run."""
    os.sched_setaffinity(0, {core})
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- the child's log lines are not the report
    cert_path = Path(cert)
    if design == "fresh context per request":
        fetch = fresh_fetch(cert_path)
        client = None
    else:
        context = fresh_context(cert_path)  # once
        client = edge_http.Client(edge_traffic.MAX_ANSWER_BYTES, context=context)
        fetch = client.fetch
    targets = [{"participant": f"p{i}", "url": f"{base}/p{i}/liveinference"}
               for i in range(SHARD)]
    samples = fc_samples.generate(RATE * PERIOD, seed=1)
    shard = edge_traffic.Shard(targets, RATE, PERIOD, TIMEOUT_S, samples,
                               [False] * len(samples), fetch)
    cpu, wall = time.process_time(), time.monotonic()
    aggregates = shard.run()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    if client:
        client.close()
    lags = sorted(shard.lags)
    results.put({"design": design,
                 "achieved_over_target": round(sum(a["successes"] for a in aggregates.values())
                                               / (SHARD * RATE * PERIOD), 3),
                 "timeouts": int(sum(a["timeout"] for a in aggregates.values())),
                 "cpu_share": round(cpu / wall, 2), "seconds": round(wall, 1),
                 "p99_lag_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1) if lags
                 else None})


def main() -> dict:
    cores = sorted(os.sched_getaffinity(0))
    edge_core, stub_core = cores[0], None  # the stub floats: pinned, it starved under load
    with tempfile.TemporaryDirectory() as directory:
        cert, key = self_signed.write_certificate(Path(directory))
        ports = multiprocessing.Queue()
        stub = multiprocessing.Process(target=serve, args=(str(cert), str(key), ports,
                                                           stub_core), daemon=True)
        stub.start()
        base = f"https://127.0.0.1:{ports.get(timeout=10)}"
        try:
            url = f"{base}/p0/liveinference?features=1"
            client = edge_http.Client(edge_traffic.MAX_ANSWER_BYTES, context=fresh_context(cert))
            cpu = {"fresh context per request": cpu_per_request(fresh_fetch(cert), url),
                   "one context, keep-alive (the edge's client)":
                       cpu_per_request(client.fetch, url)}
            client.close()
            constrained = []
            for design in ("fresh context per request", "one context, keep-alive"):
                results = multiprocessing.Queue()
                hogging = multiprocessing.Process(target=hog, args=(RUN_LIMIT_S, edge_core),
                                                  daemon=True)
                edge = multiprocessing.Process(target=shard_on_a_shared_core, args=(
                    design, base, str(cert), edge_core, results))
                hogging.start()
                edge.start()
                constrained.append(results.get(timeout=RUN_LIMIT_S))
                edge.join(timeout=10)
                hogging.terminate()
                hogging.join()
        finally:
            stub.terminate()
    report = {"cpu_ms_per_request": {k: round(v, 2) for k, v in cpu.items()},
              "shard_on_a_shared_core": constrained,
              "setup": {"shard": SHARD, "rate": RATE, "period_s": PERIOD,
                        "edge_core": edge_core, "stub_core": stub_core,
                        "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "edge_tls.json").write_text(json.dumps(report, indent=2))
    print(f"\nEdge over HTTPS (local TLS stub), CPU per request over {CPU_REQUESTS} requests")
    print("| design | CPU ms per request |")
    print("|---|---:|")
    for design, ms in report["cpu_ms_per_request"].items():
        print(f"| {design} | {ms} |")
    print(f"\nOne shard of {SHARD} at {RATE} requests/s for {PERIOD} s, the edge pinned to one "
          f"core shared with a CPU hog (machine load {report['setup']['load_average']:.0f} on "
          f"{report['setup']['cpus']} CPUs: the stub's speed counts too)")
    print("| design | achieved / target | timeouts | run took | CPU share used | p99 lag |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in constrained:
        print(f"| {r['design']} | {r['achieved_over_target']} | {r['timeouts']} | "
              f"{r['seconds']} s | {r['cpu_share']} | {r['p99_lag_ms']:,} ms |")
    return report


if __name__ == "__main__":
    main()
