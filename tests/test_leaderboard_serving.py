"""The leaderboard under a room's load and a hostile participant, against moto: the bounded
cache, malformed items, the reveal switch, escaping, reasons and the personal view."""

import json
import re
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from handlers import edge_traffic, leaderboard, scoring
from tests.kit import create_scores_table
from tests.test_leaderboard import NOW, SETTINGS, scored

PARAMETER = "/aim368/leaderboard/reveal"
SWITCHED = leaderboard.Settings(**{**SETTINGS.__dict__, "reveal_parameter": PARAMETER})
HOSTILE = {"ada": "Ada", "eve": '"><script>alert(1)</script>', "mal": "O'Brien \" & <b>"}


def get(table, path="/", query="", settings=SETTINGS, ssm=None, now=NOW):
    return leaderboard.handle({"rawPath": path, "rawQueryString": query,
                               "requestContext": {"http": {"method": "GET"}}},
                              settings, table, ssm=ssm, now=lambda: now)


def minute(offset, now=NOW):
    return leaderboard.minutes_back(now, offset + 1)[-1]


@pytest.fixture
def table(aws_env):
    leaderboard.forget()
    with mock_aws():
        table = create_scores_table()
        for participant, name in HOSTILE.items():
            table.put_item(Item={"minute": "roster", "participant": participant, "name": name})
        yield table


def test_the_cache_holds_only_the_history_and_sums_stay_exact(table):
    settings = leaderboard.Settings(**{**SETTINGS.__dict__, "history_minutes": 10})
    for offset in range(3, 10):
        edge_traffic.flush(table, minute(offset), {"ada": scored(10, 100.0 * offset)}, 1)
    first = leaderboard.build(table, settings, NOW)
    assert set(leaderboard._cache.closed) == set(leaderboard.minutes_back(NOW, 10)[3:])
    later = NOW + timedelta(minutes=5)  # five minutes on: minutes 5-9 left the history
    data = leaderboard.build(table, settings, later)
    assert set(leaderboard._cache.closed) == set(leaderboard.minutes_back(later, 10)[3:])
    ada = {r["participant"]: r for r in data["rows"]}["ada"]
    kept = [100.0 * o for o in range(3, 5)]  # offsets 3 and 4 from NOW are 8 and 9 now
    assert ada["requests"] == 20
    assert ada["event_rmse"] == pytest.approx((sum(e * e for e in kept) / 2) ** 0.5)
    assert {r["participant"]: r for r in first["rows"]}["ada"]["requests"] == 70
    leaderboard.build(table, settings, later + timedelta(minutes=30))
    assert all(v == 0 for v in leaderboard._cache.total["ada"])  # subtracted exactly


def test_a_request_reads_only_the_open_minutes_once_warm(table):
    edge_traffic.flush(table, minute(30), {"ada": scored(10, 100.0)}, 1)
    cold, warm = leaderboard.Reads(), leaderboard.Reads()
    leaderboard.build(table, SETTINGS, NOW, reads=cold)
    leaderboard.build(table, SETTINGS, NOW + timedelta(seconds=20), reads=warm)
    assert cold.queries == SETTINGS.history_minutes + 1  # every minute and the roster
    assert warm.queries == leaderboard.CLOSED_AFTER_MINUTES  # roster cached, closed cached


def test_one_build_serves_every_request_for_its_ttl(table):
    edge_traffic.flush(table, minute(0), {"ada": scored(30, 300.0)}, 1)
    get(table)
    edge_traffic.flush(table, minute(1), {"ada": scored(30, 300.0)}, 1)  # the next minute's run
    shared = json.loads(get(table, "/leaderboard.json", now=NOW + timedelta(seconds=2))["body"])
    fresh = json.loads(get(table, "/leaderboard.json", now=NOW + timedelta(seconds=6))["body"])
    ada = [{r["participant"]: r for r in d["rows"]}["ada"]["requests"] for d in (shared, fresh)]
    assert ada == [30, 60]


def test_malformed_items_are_skipped_and_logged_never_a_500(table, capsys):
    edge_traffic.flush(table, minute(0), {"ada": scored(30, 300.0)}, 1)
    client = boto3.client("dynamodb")
    for participant, bad in (("mal", {"requests": {"S": "lots"}}),
                             ("eve", {"public_sse": {"N": "-5"}}),
                             ("x", {"public_n": {"N": "1e120"}})):
        client.put_item(TableName="scores", Item={"minute": {"S": minute(1)},
                                                  "participant": {"S": participant}, **bad})
    response = get(table, "/leaderboard.json")
    assert response["statusCode"] == 200
    rows = {r["participant"]: r for r in json.loads(response["body"])["rows"]}
    assert rows["ada"]["requests"] == 30 and rows["mal"]["requests"] == 0
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    skipped = {e["participant"]: e["problem"] for e in logged
               if e["event"] == "leaderboard_malformed_item"}
    assert skipped.keys() == {"mal", "eve", "x"}
    assert skipped["mal"] == "requests is not a number"
    assert re.fullmatch(r"public_sse=-5 is out of range", skipped["eve"])
    assert re.fullmatch(r"public_n=1[eE]\+?120 is out of range", skipped["x"])
    assert [e["status"] for e in logged if e["event"] == "leaderboard"] == [200]


def private_and_public(table):
    edge_traffic.flush(table, minute(1), {
        "ada": scoring.merge([scored(30, 100.0), scored(30, 500.0, "private")]),
        "mal": scoring.merge([scored(30, 300.0), scored(30, 200.0, "private")])}, 1)


def test_the_private_score_is_not_served_before_the_reveal(table):
    private_and_public(table)
    body = get(table, "/leaderboard.json")["body"]
    assert "private" not in body and "500.0" not in body
    page = get(table)["body"]
    assert "private_event_rmse\": 500" not in page and "500.0" not in page


def test_flipping_the_parameter_reveals_the_private_ranking(table):
    private_and_public(table)
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=PARAMETER, Value="false", Type="String")
    live = json.loads(get(table, "/leaderboard.json", settings=SWITCHED, ssm=ssm)["body"])
    assert [r["participant"] for r in live["rows"]][:2] == ["ada", "mal"]
    ssm.put_parameter(Name=PARAMETER, Value="true", Type="String", Overwrite=True)
    still = json.loads(get(table, "/leaderboard.json", settings=SWITCHED, ssm=ssm,
                           now=NOW + timedelta(seconds=3))["body"])
    assert still["revealed"] is False  # read at most every REVEAL_TTL_SECONDS
    final = json.loads(get(table, "/leaderboard.json", settings=SWITCHED, ssm=ssm,
                           now=NOW + timedelta(seconds=11))["body"])
    assert final["revealed"] is True and final["ranking"].startswith("final")
    assert [r["participant"] for r in final["rows"]][:2] == ["mal", "ada"]
    assert final["rows"][1]["private_event_rmse"] == pytest.approx(500.0)


def test_an_unreadable_switch_falls_back_to_the_configured_reveal(table, capsys):
    private_and_public(table)
    data = json.loads(get(table, "/leaderboard.json", settings=SWITCHED,
                          ssm=boto3.client("ssm"))["body"])  # no such parameter
    assert data["revealed"] is False
    assert "leaderboard_reveal_unreadable" in capsys.readouterr().out


def test_hostile_names_are_escaped_everywhere(table):
    edge_traffic.flush(table, minute(0), {"eve": scored(30, 300.0), "mal": scored(30, 200.0)}, 1)
    body = get(table, query="me=" + "%22%3E%3Cscript%3Ex%3C%2Fscript%3E")["body"]
    assert "<script>alert" not in body and "<b>" not in body
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "O&#x27;Brien &quot; &amp; &lt;b&gt;" in body
    assert "\\u003c/script\\u003e" in body  # inside the embedded data
    assert body.count("<script>") == 1 and body.count("</script>") == 1
    assert "&lt;script&gt;x&lt;/script&gt;" in body  # the unknown ?me= is echoed escaped
    for js_escape in ('replace(/"/g, "&quot;")', "replace(/'/g, \"&#x27;\")"):
        assert js_escape in body  # the client escapes quotes too


def test_failing_badges_say_why(table):
    window = scoring.empty()
    for _ in range(20):
        scoring.record(window, 40, "no_endpoint")
    scoring.record(window, 40, "ok", 10.0)
    edge_traffic.flush(table, minute(0), {"ada": window, "mal": scored(5, 10.0)}, 1)
    data = json.loads(get(table, "/leaderboard.json")["body"])
    ada = {r["participant"]: r for r in data["rows"]}["ada"]
    assert (ada["status"], ada["reason"], ada["reasons"]) == ("failing", "not deployed",
                                                               {"not deployed": 20})
    assert "failing: not deployed" in get(table)["body"]


def test_me_highlights_one_participant_and_says_where_they_stand(table):
    edge_traffic.flush(table, minute(0), {"ada": scored(30, 300.0), "mal": scored(30, 200.0)}, 1)
    body = get(table, query="me=ada")["body"]
    assert re.search(r'<tr class="me" data-participant="ada">', body)
    assert "You: Ada &middot; rank 2 of 2" in body
    assert 'data-view="list"' in body  # the personal view lists everyone
    assert 'data-view="projector"' in get(table, query="me=ada&view=projector")["body"]


@pytest.mark.parametrize("query, message", [
    ("view=wall", "view: one of projector, list"),
    ("me=" + "a" * 65 + "&view=x", "me: at most 64 characters; view: one of projector, list"),
])
def test_bad_views_are_a_400_naming_every_problem(table, query, message):
    response = get(table, query=query)
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (400, message)


def test_pages_are_cacheable_for_the_cdn_and_errors_are_not(table):
    assert get(table)["headers"]["Cache-Control"] == "public, max-age=5"
    assert get(table, "/leaderboard.json")["headers"]["Cache-Control"] == "public, max-age=5"
    assert get(table, "/nope")["headers"]["Cache-Control"] == "no-store"
