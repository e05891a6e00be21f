"""Leaderboard: handler CPU and DynamoDB reads per request, before and after, in one run.

"Before" is the handler as it was (`git show <BEFORE_REF>:handlers/leaderboard.py`, loaded
as a temporary module); "after" is handlers.leaderboard. Both serve GET /leaderboard.json
for 50/100/200 participants with 8 h of history (480 minutes, one item per participant and
minute, every minute full) from the same in-memory table:

- the "before" code reads through boto3's resource layer, so the fake runs boto3's own
  TypeDeserializer on every item it returns (the CPU that layer costs in Lambda);
- the "after" code reads raw items through a plain client, and the fake honours its
  ProjectionExpression as DynamoDB does.

Not measured: the network and botocore's parsing of the wire JSON (the same per item for
both), nor the CDN, which divides the requests reaching the function. Read capacity is
estimated as DynamoDB bills a Query: the full size of the items read (a projection does not
reduce it), in 4 KB units, halved for eventually consistent reads.

The "after" code also reads the retraining table for its "retrained" markers: a fake holding
ATTEMPTS_PER_PARTICIPANT attempt items per participant (which the leaderboard never reads)
and one summary item each, answering BatchGetItem (at most 100 keys a request, as DynamoDB);
its requests count among the "queries" (DynamoDB requests) and its summaries among the items
and RCU (billed at SUMMARY_BYTES each, as BatchGetItem bills every item read). It is read once
per RETRAINING_TTL_SECONDS (30 s) per environment, so it shows in "cold" (ceil(n/100) more
queries) and not in the "warm" requests, which fall within 30 s.
The "before" code had no markers.

Per request: "cold" is the first request of a new execution environment; "warm" is the
mean over later requests 6 s apart (past the after-code's 5 s result cache, so each one
builds); "shared" is a request within the result cache (after only).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from boto3.dynamodb.types import TypeDeserializer

from handlers import leaderboard, scoring

PROJECT = Path(__file__).resolve().parent.parent
BEFORE_REF = "7e6e87c"  # main before issue 11's leaderboard work
SIZES = (50, 100, 200)
HISTORY_MINUTES = 480
WARM_REQUESTS = 3
NOW = datetime(2026, 11, 26, 16, 0, 30, tzinfo=UTC)
REGION, ENDPOINT = "bench", "memory://scores"
RETRAINING_ENDPOINT = "memory://retraining"
ATTEMPTS_PER_PARTICIPANT = 1000  # a flood of attempts: the leaderboard's reads stay the same
SUMMARY_BYTES = 200  # a summary item: keys, counts, the last decision and its RMSEs


def old_module():
    source = subprocess.run(["git", "-C", str(PROJECT), "show",
                             f"{BEFORE_REF}:handlers/leaderboard.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "leaderboard_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("leaderboard_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def raw_item(participant: str, index: int) -> dict:
    """A full minute of one participant at 5 requests/s, as the edge writes it."""
    aggregate = scoring.empty()
    for k in range(300):
        latency = 30.0 + (index * 7 + k * 13) % 400
        if k % 29 == 0:
            scoring.record(aggregate, latency, "http_5xx")
        else:
            scoring.record(aggregate, latency, "ok", (k % 50 - 25) * 8.5 + index,
                           "private" if k % 3 == 0 else "public")
    item = {"participant": {"S": participant}, "expires": {"N": "1795000000"}}
    for name in scoring.FIELDS:
        if aggregate[name]:
            item[name] = {"N": str(round(aggregate[name], 6))}
    return item


class FakeScores:
    """The scores table in memory, answering both the resource and the plain client."""

    def __init__(self, participants: int):
        self.name = "scores"
        self.roster = [{"minute": {"S": "roster"}, "participant": {"S": f"p{i:03d}"},
                        "name": {"S": f"Participant {i}"}} for i in range(participants)]
        # Every minute holds the same aggregates: the work per item is what is measured.
        self.items = [raw_item(f"p{i:03d}", i) for i in range(participants)]
        size = sum(len(k) + len(next(iter(v.values()))) for k, v in self.items[0].items())
        self.item_bytes = size + 30  # plus the minute key
        self.queries = self.items_read = 0
        self.capacity = 0.0
        self.meta = SimpleNamespace(client=SimpleNamespace(
            meta=SimpleNamespace(region_name=REGION, endpoint_url=ENDPOINT)))
        self._deserializer = TypeDeserializer()

    def _count(self, items: list[dict]) -> None:
        self.queries += 1
        self.items_read += len(items)
        self.capacity += math.ceil(len(items) * self.item_bytes / 4096) / 2

    def _minute_items(self, minute: str) -> list[dict]:
        return self.roster if minute == "roster" else self.items

    # The plain client (after).
    def query(self, **request):
        if "TableName" in request:
            minute = request["ExpressionAttributeValues"][":m"]["S"]
            items = self._minute_items(minute)
            self._count(items)
            if "ProjectionExpression" in request:
                names = request["ExpressionAttributeNames"]
                keep = {names[n.strip()] for n in request["ProjectionExpression"].split(",")}
                items = [{k: v for k, v in item.items() if k in keep} for item in items]
            return {"Items": items}
        # The resource layer (before): Key("minute").eq(m), every value deserialized.
        minute = request["KeyConditionExpression"].get_expression()["values"][1]
        items = self._minute_items(minute)
        self._count(items)
        return {"Items": [{k: self._deserializer.deserialize(v) for k, v in item.items()}
                          for item in items]}

    def reset_counts(self) -> None:
        self.queries = self.items_read = 0
        self.capacity = 0.0


class FakeRetraining:
    """The retraining table in memory, answering the plain client's BatchGetItem; its reads
    count on the scores fake, so a request's reads are both tables'."""

    def __init__(self, participants: int, scores: FakeScores):
        self.name, self._scores = "retraining", scores
        self.items = {(f"p{i:03d}", "summary"): {
            "participant": {"S": f"p{i:03d}"}, "record": {"S": "summary"},
            "promotions": {"N": "2"}, "attempts": {"N": str(ATTEMPTS_PER_PARTICIPANT)},
            "last_decision": {"S": "kept"}, "last_current_rmse": {"N": "412.5"},
            "last_candidate_rmse": {"N": "415.25"}} for i in range(participants)}
        self.items.update({(f"p{i:03d}", f"attempt#bench-p{i:03d}--rt-{k:06d}"): {
            "participant": {"S": f"p{i:03d}"}, "decision": {"S": "not_started"}}
            for i in range(participants) for k in range(ATTEMPTS_PER_PARTICIPANT)})
        self.meta = SimpleNamespace(client=SimpleNamespace(
            meta=SimpleNamespace(region_name=REGION, endpoint_url=RETRAINING_ENDPOINT)))

    def batch_get_item(self, RequestItems):
        [request] = RequestItems.values()
        assert len(request["Keys"]) <= 100  # DynamoDB's limit: the code must batch
        found = [self.items[(k["participant"]["S"], k["record"]["S"])]
                 for k in request["Keys"] if (k["participant"]["S"], k["record"]["S"])
                 in self.items]
        scores = self._scores
        scores.queries += 1
        scores.items_read += len(found)
        scores.capacity += math.ceil(len(found) * SUMMARY_BYTES / 4096) / 2
        return {"Responses": {self.name: found}, "UnprocessedKeys": {}}


def timed(call) -> float:
    with contextlib.redirect_stdout(io.StringIO()):  # the handlers' log lines
        started = time.process_time()
        call()
        return 1000 * (time.process_time() - started)


def measure(handle, table: FakeScores, offsets: list[float]) -> list[tuple[float, int, int, float]]:
    """(cpu ms, queries, items, read capacity) per request at NOW + each offset (seconds)."""
    results = []
    event = {"rawPath": "/leaderboard.json", "requestContext": {"http": {"method": "GET"}}}
    for offset in offsets:
        table.reset_counts()
        moment = NOW + timedelta(seconds=offset)
        cpu = timed(lambda moment=moment: handle(event, table, moment))
        results.append((cpu, table.queries, table.items_read, table.capacity))
    return results


def run(participants: int, before) -> dict:
    table = FakeScores(participants)
    rules = {"table_name": "scores", "event": "bench", "window_minutes": 5,
             "history_minutes": HISTORY_MINUTES, "min_successes": 20,
             "failing_error_rate": 0.2, "refresh_seconds": 10}
    old_settings = before.Settings(**rules)
    new_settings = leaderboard.Settings(**rules)
    before._closed_minutes.clear()
    old = measure(lambda e, t, m: before.handle(e, old_settings, t, now=lambda: m), table,
                  [0] + [6 * k for k in range(1, WARM_REQUESTS + 1)])
    leaderboard.forget()
    retraining = FakeRetraining(participants, table)
    leaderboard._plain_clients[(REGION, ENDPOINT)] = table  # the plain clients are the fakes
    leaderboard._plain_clients[(REGION, RETRAINING_ENDPOINT)] = retraining
    new = measure(lambda e, t, m: leaderboard.handle(e, new_settings, t, now=lambda: m,
                                                     retraining=retraining), table,
                  [0] + [6 * k for k in range(1, WARM_REQUESTS + 1)] + [6 * WARM_REQUESTS + 1])
    leaderboard.forget()
    return {"old_cold": old[0], "old_warm": mean(old[1:]), "new_cold": new[0],
            "new_warm": mean(new[1:-1]), "new_shared": new[-1]}


def mean(rows: list[tuple]) -> tuple:
    return tuple(sum(r[i] for r in rows) / len(rows) for i in range(len(rows[0])))


def main(sizes=SIZES) -> None:
    before = old_module()
    print(f"\nLeaderboard GET /leaderboard.json, {HISTORY_MINUTES} min of history, "
          f"before = {BEFORE_REF}, handler CPU (process time) and DynamoDB reads per request")
    print(f"{'participants':>12} {'request':>8} | {'before ms':>10} {'queries':>7} {'items':>7} "
          f"{'RCU':>7} | {'after ms':>9} {'queries':>7} {'items':>7} {'RCU':>7} | {'CPU ratio':>9}")
    for n in sizes:
        result = run(n, before)
        for kind in ("cold", "warm"):
            o, a = result[f"old_{kind}"], result[f"new_{kind}"]
            print(f"{n:>12} {kind:>8} | {o[0]:>10.1f} {o[1]:>7.0f} {o[2]:>7.0f} {o[3]:>7.1f} | "
                  f"{a[0]:>9.1f} {a[1]:>7.0f} {a[2]:>7.0f} {a[3]:>7.1f} | {o[0] / a[0]:>8.1f}x")
        s = result["new_shared"]
        print(f"{n:>12} {'shared':>8} | {'':>10} {'':>7} {'':>7} {'':>7} | "
              f"{s[0]:>9.2f} {s[1]:>7.0f} {s[2]:>7.0f} {s[3]:>7.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or SIZES)
