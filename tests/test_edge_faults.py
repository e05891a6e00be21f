"""The edge against hostile participants and broken infrastructure: secret samples, answers
read with bounds, one participant's failure staying theirs, runs that start late, a client
with a total deadline, no redirects, keep-alive over one TLS context, optional SigV4,
bounded threads."""

import hashlib
import json
import re
import socket
import threading
import time
import typing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers import (
    edge_http,
    edge_limits,
    edge_traffic,
    fc_samples,
    leaderboard,
    publish_samples,
    scoring,
    scoring_secret,
)
from tests.kit import create_scores_table
from tools import self_signed

SECRET = b"0123456789abcdef0123456789abcdef"
MINUTE = "2026-11-26T10:00"
SCHEDULED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
OUTCOMES = {"ok", "bad_answer", "http_4xx", "http_5xx"}


# --- secret randomness ------------------------------------------------------------------

def old_edge_samples(feed_seed: int, minute: str, n: int) -> list:
    """What the edge asked before: anyone with the code and the config could compute it."""
    seed = int(hashlib.sha256(f"{feed_seed}:{minute}".encode()).hexdigest()[:12], 16)
    return fc_samples.generate(n, seed)


def test_every_shard_gets_the_same_samples_for_the_same_minute():
    first = edge_traffic.run_samples(SECRET, MINUTE, 50, "normal", 0.3)
    assert first == edge_traffic.run_samples(SECRET, MINUTE, 50, "normal", 0.3)
    assert first != edge_traffic.run_samples(SECRET, "2026-11-26T10:01", 50, "normal", 0.3)


def test_the_samples_change_with_the_secret_and_share_nothing_with_the_feed_seed():
    samples, _ = edge_traffic.run_samples(SECRET, MINUTE, 50, "normal", 0.3)
    other, _ = edge_traffic.run_samples(b"another secret of enough bytes!!", MINUTE, 50,
                                        "normal", 0.3)
    assert samples != other
    for feed_seed in (0, 42, 368):  # the documented default and a few guesses
        assert samples != old_edge_samples(feed_seed, MINUTE, 50)
        lab1 = fc_samples.generate(50, publish_samples.run_seed(feed_seed, MINUTE + ":00Z"))
        assert not set(samples) & set(lab1)


def test_the_run_seed_is_an_hmac_of_the_minute():
    import hmac
    expected = hmac.new(SECRET, b"edge:" + MINUTE.encode(), hashlib.sha256).digest()
    assert scoring_secret.run_seed(SECRET, MINUTE) == int.from_bytes(expected, "big")


@pytest.fixture
def secrets_manager(aws_env):
    with mock_aws():
        yield boto3.client("secretsmanager")


def test_the_secret_is_read_from_secrets_manager_and_cached_for_a_while(secrets_manager):
    arn = secrets_manager.create_secret(Name="edge-secret", SecretString="a" * 32)["ARN"]
    calls, now = [], [0.0]

    class Counting:
        def get_secret_value(self, **kwargs):
            calls.append(kwargs)
            return secrets_manager.get_secret_value(**kwargs)

    cache = scoring_secret.SecretCache(Counting, clock=lambda: now[0], ttl=60)
    assert cache.get(arn) == b"a" * 32
    secrets_manager.put_secret_value(SecretId=arn, SecretString="b" * 32)  # a rotation
    now[0] = 59
    assert cache.get(arn) == b"a" * 32 and len(calls) == 1
    now[0] = 61
    assert cache.get(arn) == b"b" * 32 and len(calls) == 2


@pytest.mark.parametrize("arn, value, message", [
    ("", None, "SCORING_SECRET_ARN is not set"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing", None, "cannot read"),
    (None, "short", "at least 16"),
])
def test_the_edge_never_scores_without_a_usable_secret(secrets_manager, arn, value, message):
    if value is not None:
        arn = secrets_manager.create_secret(Name="short", SecretString=value)["ARN"]
    cache = scoring_secret.SecretCache(lambda: secrets_manager)
    with pytest.raises(scoring_secret.SecretError, match=message):
        cache.get(arn)


def test_the_handler_reads_its_secret_from_secrets_manager(secrets_manager, monkeypatch):
    arn = secrets_manager.create_secret(Name="edge-secret", SecretString="s" * 32)["ARN"]
    monkeypatch.setattr(edge_traffic, "_secret",
                        scoring_secret.SecretCache(lambda: secrets_manager))
    table = create_scores_table()
    asked = []

    def fetcher(url, timeout):
        asked.append(url.split("features=")[1])
        return 200, b'{"duration_ms": 5000}'

    settings = edge_traffic.Settings(table_name="scores", event="ev", requests_per_second=2,
                                     period_seconds=1, timeout_ms=500, private_share=0.3,
                                     scoring_secret_arn=arn)
    edge_traffic.handle({"targets": [{"participant": "ada", "url": "https://a/ada"}],
                         "time": "2026-11-26T10:00:00Z"}, settings, table=table,
                        fetcher=fetcher, clock=on_time)
    samples, _ = edge_traffic.run_samples(b"s" * 32, MINUTE, 2, "normal", 0.3)
    assert [a.replace("%2C", ",") for a in asked] == [
        ",".join(fc_samples.format_number(v) for v in s.features) for s in samples]


# --- answers read with bounds ---------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"duration_ms": 1e300}', b'{"duration_ms": 1e70}', b'{"duration_ms": -5}',
    b'{"duration_ms": 0}', b'{"duration_ms": 1e7}', b'{"duration_ms": Infinity}',
    b'{"duration_ms": NaN}', b'{"duration_ms": 1e400}', b'{"duration_ms": true}',
    b'{"duration_ms": "6000"}', b'{"duration_ms": ' + b"9" * 400 + b"}",
    b"[" * 100_000 + b"]" * 100_000, b'{"duration_ms": [[[6000]]]}', b"\xff\xfe",
    b'{"duration_ms": 6000, "pad": "' + b"x" * 5000 + b'"}',
])
def test_implausible_or_oversized_answers_are_bad_answers(body):
    assert edge_traffic.classify(200, body, 6000.0) == ("bad_answer", None)


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_body_is_classified_without_an_exception(body):
    outcome, error = edge_traffic.classify(200, body, 6000.0)
    assert outcome in OUTCOMES
    assert (error is None) == (outcome != "ok")
    if error is not None:
        assert abs(error) < edge_traffic.PLAUSIBLE_MS[1]


@given(st.floats(min_value=1e-3, max_value=9.99e6), st.integers(100, 599))
@hypothesis_settings(max_examples=200, deadline=None)
def test_a_plausible_duration_scores_exactly_and_statuses_classify(value, status):
    body = json.dumps({"duration_ms": value}).encode()
    outcome, error = edge_traffic.classify(status, body, 6000.0)
    # An error status is classified by the leaderboard's reasons (503 "not deployed", 502
    # "model error", 429 "throttled", ...), each still counted in its 4xx/5xx class.
    expected = ("ok" if status == 200 else scoring.http_outcome(status, body) if status >= 400
                else "bad_answer")
    assert outcome == expected
    if outcome == "ok":
        assert error == value - 6000.0


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=30))
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_json_document_is_classified_without_an_exception(document):
    body = json.dumps({"duration_ms": document}).encode()
    assert edge_traffic.classify(200, body, 6000.0)[0] in OUTCOMES


# --- one participant's fault stays theirs -------------------------------------------------

@pytest.fixture
def table(aws_env):
    with mock_aws():
        yield create_scores_table()


SETTINGS = edge_traffic.Settings(table_name="scores", event="ev", requests_per_second=2,
                                 period_seconds=1, timeout_ms=500, private_share=0.3)


def shard_event(*names):
    return {"time": "2026-11-26T10:00:00Z",
            "targets": [{"participant": n, "url": f"https://api/{n}"} for n in names]}


def started(seconds: float):
    """A clock: the run starts `seconds` after the time shard_event was scheduled for."""
    return lambda: SCHEDULED + timedelta(seconds=seconds)


def on_time():
    return SCHEDULED + timedelta(seconds=1)


def test_a_huge_answer_costs_only_its_sender_and_everyone_is_written(table, capsys):
    answers = {"ada": b'{"duration_ms": 6000}', "eve": b'{"duration_ms": 1e300}',
               "zed": b'{"duration_ms": 6000}'}
    summary = edge_traffic.handle(shard_event("ada", "eve", "zed"), SETTINGS, table=table,
                                  fetcher=lambda url, t: (200, answers[url.split("/")[3]
                                                                       .split("?")[0]]),
                                  secret=SECRET, clock=on_time)
    assert (summary["writes"], summary["failed_writes"]) == (3, 0)
    items = {p: table.get_item(Key={"minute": MINUTE, "participant": p})["Item"]
             for p in answers}
    assert items["eve"]["bad_answer"] == 2 and items["eve"]["successes"] == 0
    assert items["ada"]["successes"] == items["zed"]["successes"] == 2
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert sorted(line["Participant"] for line in emf) == ["ada", "eve", "zed"]


def test_a_write_that_fails_for_one_participant_is_logged_and_the_others_are_written(
        table, capsys):
    class FailsForEve:
        def update_item(self, **kwargs):
            if kwargs["Key"]["participant"] == "eve":
                raise RuntimeError("throttled")
            return table.update_item(**kwargs)

    aggregates = {p: scoring.empty() for p in ("ada", "eve", "zed")}
    results = edge_traffic.flush(FailsForEve(), MINUTE, aggregates, 1, "run-1")
    assert results == {"ada": "written", "eve": "failed", "zed": "written"}
    failed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(f["event"], f["participant"], f["error"]) for f in failed] == [
        ("flush_failed", "eve", "RuntimeError")]


def test_writes_stop_before_the_function_times_out_and_say_who_was_skipped(table, capsys):
    left = iter([10_000, 10_000, 1_000])
    results = edge_traffic.flush(table, MINUTE, {p: scoring.empty() for p in "abc"}, 1,
                                 "run-1", remaining_ms=lambda: next(left))
    assert results == {"a": "written", "b": "written", "c": "skipped"}
    assert "flush_skipped" in capsys.readouterr().out


def test_a_metric_line_that_cannot_be_written_costs_only_that_participant(capsys):
    broken = scoring.empty()
    broken["latency_max_ms"] = float("nan")
    failed = edge_traffic.emit_metrics("ev", {"ada": scoring.empty(), "eve": broken,
                                              "zed": scoring.empty()}, 0)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert failed == 1
    assert [line.get("Participant") for line in lines if "_aws" in line] == ["ada", "zed"]


def test_a_duplicated_run_of_a_minute_is_ignored(table):
    def fetch(url, t):
        return (200, b'{"duration_ms": 6000}')
    first = edge_traffic.handle(shard_event("ada"), SETTINGS, table=table, fetcher=fetch,
                                secret=SECRET, clock=on_time)
    again = edge_traffic.handle({**shard_event("ada"), "id": "other-delivery"}, SETTINGS,
                                table=table, fetcher=fetch, secret=SECRET, clock=started(30))
    assert (first["writes"], again["writes"], again["duplicates"]) == (1, 0, 1)
    item = table.get_item(Key={"minute": MINUTE, "participant": "ada"})["Item"]
    assert item["requests"] == 2


# --- runs that start late --------------------------------------------------------------

def test_a_run_starting_too_late_sends_nothing_writes_nothing_and_says_so(table, capsys):
    asked = []
    late = edge_traffic.MAX_START_DELAY_SECONDS + 1
    summary = edge_traffic.handle(shard_event("ada", "eve"), SETTINGS, table=table,
                                  fetcher=lambda url, t: asked.append(url) or (200, b"{}"),
                                  secret=SECRET, clock=started(late))
    assert asked == []
    assert table.scan()["Items"] == []
    assert (summary["outcome"], summary["minute"], summary["late_seconds"]) == (
        "too_late", MINUTE, late)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (line["event"], line["outcome"], line["writes"]) == ("edge_run", "too_late", 0)


def test_a_run_starting_within_the_bound_scores_its_scheduled_minute(table):
    summary = edge_traffic.handle(
        shard_event("ada"), SETTINGS, table=table, fetcher=lambda url, t: (200, b"{}"),
        secret=SECRET, clock=started(edge_traffic.MAX_START_DELAY_SECONDS))
    assert (summary["outcome"], summary["minute"], summary["writes"]) == ("scored", MINUTE, 1)
    assert table.get_item(Key={"minute": MINUTE, "participant": "ada"})["Item"]["requests"] == 2


def test_the_drift_profile_is_the_scheduled_minutes_not_the_starts(table):
    """Drift starts 30 s after the scheduled time and the run starts 45 s late: the
    minute it scores is still before the drift, and so are its samples."""
    drifting = replace(SETTINGS, drift_start="2026-11-26T10:00:30Z",
                       drift_profile=fc_samples.PEAK_SEASON)
    summary = edge_traffic.handle(shard_event("ada"), drifting, table=table,
                                  fetcher=lambda url, t: (200, b"{}"), secret=SECRET,
                                  clock=started(45))
    assert (summary["minute"], summary["profile"]) == (MINUTE, fc_samples.NORMAL)
    later = {**shard_event("ada"), "time": "2026-11-26T10:01:00Z"}
    assert edge_traffic.handle(later, drifting, table=table, fetcher=lambda url, t: (200, b"{}"),
                               secret=SECRET, clock=started(61))["profile"] == \
        fc_samples.PEAK_SEASON


@pytest.mark.parametrize("scheduled, problem", [
    (edge_limits.SCHEDULED_TIME, "left unsubstituted"), ("yesterday", "is not ISO 8601"),
    (1764151200, "not an ISO 8601 string"), (None, "no time")])
def test_an_unusable_time_is_logged_and_the_run_goes_by_its_start(table, capsys, scheduled,
                                                                  problem):
    event = {**shard_event("ada"), "time": scheduled}
    summary = edge_traffic.handle(event, SETTINGS, table=table,
                                  fetcher=lambda url, t: (200, b"{}"), secret=SECRET,
                                  clock=started(3600))  # an hour on: scored all the same
    assert (summary["outcome"], summary["minute"]) == ("scored", "2026-11-26T11:00")
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "edge_run" in x]
    assert problem in line["time_problem"]


def test_a_run_started_in_time_ends_before_the_leaderboard_closes_its_minute():
    """Scheduled at the start of its minute, started at most MAX_START_DELAY_SECONDS late,
    ended by the function's timeout: before the leaderboard reads the minute for good."""
    assert (edge_limits.MAX_START_DELAY_SECONDS + edge_limits.FUNCTION_TIMEOUT_SECONDS
            < leaderboard.CLOSED_AFTER_MINUTES * 60)


# --- the client -------------------------------------------------------------------------

class Behaviours(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway does
    seen_headers: typing.ClassVar[list] = []

    def log_message(self, *args):
        pass

    def _send(self, status, body=b'{"duration_ms": 6000}', headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        type(self).seen_headers.append(dict(self.headers))
        kind = self.path.split("/")[1].split("?")[0]
        try:
            if kind == "drip":  # headers at once, then the body a byte at a time
                body = b'{"duration_ms": 6000}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.15)
            elif kind == "drip-headers":
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
            elif kind == "redirect":
                self._send(302, b"", [("Location", "/healthy/liveinference")])
            elif kind == "huge":
                self._send(200, b'{"duration_ms": 6000, "pad": "' + b"x" * 1_000_000 + b'"}')
            else:
                self._send(200)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    Behaviours.seen_headers = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Behaviours)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("kind", ["drip", "drip-headers"])
def test_an_answer_dripped_a_byte_at_a_time_times_out_at_the_total_deadline(server, kind):
    """With a per-read timeout (urllib) each byte arrives in time and the drip succeeds."""
    with pytest.raises(TimeoutError):
        edge_traffic.fetch(f"{server}/{kind}/liveinference", 0.5)


def test_redirects_are_not_followed_and_score_as_bad_answers(server):
    status, body = edge_traffic.fetch(f"{server}/redirect/liveinference", 1.0)
    assert status == 302
    assert edge_traffic.classify(status, body, 6000.0)[0] == "bad_answer"
    assert len(Behaviours.seen_headers) == 1  # the healthy target was never asked


def test_an_oversized_body_is_read_only_up_to_the_bound(server):
    status, body = edge_traffic.fetch(f"{server}/huge/liveinference", 2.0)
    assert (status, len(body)) == (200, edge_traffic.MAX_ANSWER_BYTES + 1)
    assert edge_traffic.classify(status, body, 6000.0)[0] == "bad_answer"


def test_connections_are_kept_alive_per_host_and_closed_at_the_end(server):
    client = edge_http.Client(4096)
    for _ in range(5):
        assert client.fetch(f"{server}/healthy/liveinference?features=1", 1.0)[0] == 200
    assert (client.opened, client.idle_connections()) == (1, 1)
    client.close()
    assert client.idle_connections() == 0


def test_a_kept_connection_the_server_closed_is_replaced_once(server):
    client = edge_http.Client(4096)
    client.fetch(f"{server}/healthy/liveinference", 1.0)
    [idle] = client._idle.values()
    idle[0].sock.shutdown(socket.SHUT_RDWR)  # as an idle timeout on the far side would
    assert client.fetch(f"{server}/healthy/liveinference", 1.0)[0] == 200
    assert client.opened == 2


def test_idle_connections_are_bounded_per_host():
    client = edge_http.Client(4096, max_idle_per_host=2, max_idle_total=3)

    class Closing:
        closed = 0

        def close(self):
            Closing.closed += 1

    for _ in range(5):
        client._give_back(("http", "a", 80), Closing())
    client._give_back(("http", "b", 80), Closing())
    client._give_back(("http", "c", 80), Closing())
    assert client.idle_connections() == 3 and Closing.closed == 4


def test_one_tls_context_serves_every_request_over_keep_alive(tmp_path):
    cert, key = self_signed.write_certificate(tmp_path)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Behaviours)
    httpd.daemon_threads = True
    httpd.socket = self_signed.server_context(cert, key).wrap_socket(httpd.socket,
                                                                    server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = edge_http.Client(4096, context=self_signed.client_context(cert))
        url = f"https://127.0.0.1:{httpd.server_address[1]}/healthy/liveinference"
        assert [client.fetch(url, 2.0)[0] for _ in range(4)] == [200] * 4
        assert client.opened == 1
        client.close()
    finally:
        httpd.shutdown()
    assert edge_http.tls_context() is edge_http.tls_context()


def test_signed_requests_carry_a_sigv4_authorization_for_execute_api(server):
    from botocore.credentials import Credentials
    signer = edge_http.sigv4_signer(Credentials("AKIDEXAMPLE", "secret", "token"), "eu-west-1")
    client = edge_http.Client(4096, signer=signer)
    assert client.fetch(f"{server}/healthy/liveinference?features=1%2C2", 1.0)[0] == 200
    headers = Behaviours.seen_headers[-1]
    assert re.fullmatch(r"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/eu-west-1/"
                        r"execute-api/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, "
                        r"Signature=[0-9a-f]{64}", headers["Authorization"])
    assert headers["X-Amz-Security-Token"] == "token" and headers["X-Amz-Date"]


def test_the_signing_region_comes_from_the_api_url():
    url = "https://abc123defg.execute-api.ap-southeast-2.amazonaws.com/ada/liveinference"
    assert edge_http.execute_api_region(url, "us-east-1") == "ap-southeast-2"
    assert edge_http.execute_api_region("http://127.0.0.1:9/ada", "us-east-1") == "us-east-1"


def test_requests_are_unsigned_unless_the_settings_say_so(server):
    edge_traffic.make_client(SETTINGS).fetch(f"{server}/healthy/liveinference", 1.0)
    assert "Authorization" not in Behaviours.seen_headers[-1]


# --- bounded threads ------------------------------------------------------------------------

def test_the_thread_pool_is_bounded_for_every_allowed_setting():
    """At the allowed maxima (50 participants, 20/s, 10 s) the old pool wanted 10,050."""
    targets = [{"participant": f"p{i}", "url": "http://x"} for i in range(50)]
    shard = edge_traffic.Shard(targets, 20, 1, 10.0, [], [])
    assert shard.workers <= edge_limits.MAX_THREADS < 1024
    assert shard.cap >= 1
