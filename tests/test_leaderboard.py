"""The leaderboard Lambda against a moto table: the JSON, the page, windows and ranking."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from handlers import edge_traffic, leaderboard, scoring
from tests.kit import create_scores_table

NOW = datetime(2026, 11, 26, 10, 30, 20, tzinfo=UTC)
SETTINGS = leaderboard.Settings(table_name="scores", event="aim368", window_minutes=5,
                                history_minutes=60, min_successes=20, failing_error_rate=0.2,
                                refresh_seconds=10, reveal_private=False)
NAMES = {"ada": "Ada Lovelace", "bob": "Bob <Tables>", "cy": "Cy", "dee": "Dee"}


def scored(n, error, split="public", failures=0, latency=40.0):
    aggregate = scoring.empty()
    for _ in range(n):
        scoring.record(aggregate, latency, "ok", error, split)
    for _ in range(failures):
        scoring.record(aggregate, latency, "http_5xx")
    return aggregate


@pytest.fixture
def table(aws_env):
    leaderboard.forget()
    with mock_aws():
        table = create_scores_table()
        for participant, name in NAMES.items():
            table.put_item(Item={"minute": "roster", "participant": participant, "name": name})
        yield table


def minute(offset):
    return leaderboard.minutes_back(NOW, offset + 1)[-1]


def test_the_json_ranks_the_window_and_sums_the_event(table):
    edge_traffic.flush(table, minute(0), {"ada": scored(30, 300.0), "bob": scored(30, 200.0),
                                          "cy": scored(5, 100.0)}, 1)
    edge_traffic.flush(table, minute(2), {"ada": scored(30, 300.0), "bob": scored(30, 400.0)}, 1)
    edge_traffic.flush(table, minute(20), {"ada": scored(30, 900.0)}, 1)  # outside the window
    data = leaderboard.build(table, SETTINGS, NOW)
    rows = {r["participant"]: r for r in data["rows"]}
    assert [r["participant"] for r in data["rows"]] == ["ada", "bob", "cy", "dee"]
    assert (rows["ada"]["rank"], rows["bob"]["rank"], rows["cy"]["rank"]) == (1, 2, None)
    assert rows["ada"]["window_rmse"] == pytest.approx(300.0)
    assert rows["bob"]["window_rmse"] == pytest.approx(((30 * 200**2 + 30 * 400**2) / 60) ** 0.5)
    assert rows["ada"]["event_rmse"] == pytest.approx(((60 * 300**2 + 30 * 900**2) / 90) ** 0.5)
    assert rows["ada"]["requests"] == 90
    assert rows["cy"]["status"] == "healthy" and rows["dee"]["status"] == "no traffic yet"
    assert rows["dee"]["window_rmse"] is None and rows["dee"]["rank"] is None
    assert data["ranking"] == "live (public score, last 5 minutes)"


def test_failing_participants_are_flagged(table):
    edge_traffic.flush(table, minute(1), {"ada": scored(25, 300.0, failures=25)}, 1)
    rows = {r["participant"]: r for r in leaderboard.build(table, SETTINGS, NOW)["rows"]}
    assert rows["ada"]["status"] == "failing"
    assert rows["ada"]["error_rate"] == pytest.approx(0.5)


def test_the_reveal_ranks_by_the_private_score(table):
    edge_traffic.flush(table, minute(1), {
        "ada": scoring.merge([scored(30, 100.0), scored(30, 500.0, "private")]),
        "bob": scoring.merge([scored(30, 300.0), scored(30, 200.0, "private")])}, 1)
    live = leaderboard.build(table, SETTINGS, NOW)["rows"]
    final = leaderboard.build(table, replace(SETTINGS, reveal_private=True), NOW)
    assert [r["participant"] for r in live][:2] == ["ada", "bob"]
    assert [r["participant"] for r in final["rows"]][:2] == ["bob", "ada"]
    assert final["ranking"].startswith("final")


def test_closed_minutes_are_read_once(table):
    edge_traffic.flush(table, minute(10), {"ada": scored(30, 300.0)}, 1)
    leaderboard.build(table, SETTINGS, NOW)
    edge_traffic.flush(table, minute(10), {"ada": scored(30, 300.0)}, 1)  # no edge does this
    rows = {r["participant"]: r for r in leaderboard.build(table, SETTINGS, NOW)["rows"]}
    assert rows["ada"]["requests"] == 30  # served from the cache


def test_the_page_and_the_json_are_served_read_only(table):
    edge_traffic.flush(table, minute(0), {"ada": scored(30, 300.0), "bob": scored(30, 200.0)}, 1)
    page = leaderboard.handle({"rawPath": "/", "requestContext": {"http": {"method": "GET"}}},
                              SETTINGS, table, now=lambda: NOW)
    assert page["headers"]["Content-Type"].startswith("text/html")
    body = page["body"]
    assert "Bob &lt;Tables&gt;" in body and "<Tables>" not in body
    assert body.index("Bob &lt;Tables&gt;") < body.index("Ada Lovelace")
    assert "http://" not in body and "https://" not in body  # nothing from elsewhere
    data = leaderboard.handle({"rawPath": "/leaderboard.json",
                               "requestContext": {"http": {"method": "GET"}}}, SETTINGS, table,
                              now=lambda: NOW)
    assert json.loads(data["body"])["rows"][0]["participant"] == "bob"
    post = leaderboard.handle({"rawPath": "/", "requestContext": {"http": {"method": "POST"}}},
                              SETTINGS, table, now=lambda: NOW)
    assert post["statusCode"] == 405
    assert leaderboard.handle({"rawPath": "/admin"}, SETTINGS, table, now=lambda: NOW)["statusCode"] == 404
