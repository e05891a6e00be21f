"""The leaderboard's "retrained" marker, against moto: promoted retrainings per participant
from the event's retraining table, read once per refresh whatever the viewers, malformed
attempts skipped and logged, the latest attempt on the personal view."""

import json
from datetime import timedelta

import pytest
from moto import mock_aws

from handlers import edge_traffic, leaderboard
from handlers.retraining_store import Store, attempt_key
from tests.kit import create_scores_table, set_environment
from tests.test_leaderboard import NOW, SETTINGS, scored
from tools.retraining_world import TABLE, create_table

NAMES = {"ada": "Ada", "ada-lovelace": "Ada Lovelace", "bob": "Bob"}
WITH_MARKERS = leaderboard.Settings(**{**SETTINGS.__dict__, "retraining_table": TABLE})


@pytest.fixture
def tables(aws_env):
    leaderboard.forget()
    with mock_aws():
        scores, attempts = create_scores_table(), create_table()
        for participant, name in NAMES.items():
            scores.put_item(Item={"minute": "roster", "participant": participant, "name": name})
        minute = leaderboard.minutes_back(NOW, 1)[0]
        edge_traffic.flush(scores, minute, {p: scored(30, 300.0) for p in NAMES}, 1)
        yield scores, attempts


def attempt(table, participant, stamp, decision, current=None, candidate=None,
            status="done"):
    """An attempt as handlers/retraining.py's judge records it (through its own store)."""
    job = f"aim368-{participant}--rt-2026112610{stamp}"
    fields = {"status": status, "trigger": "alarm", "job": job, "started_epoch": 1,
              "margin_percent": 5.0, "duration_s": 420, "finished": "2026-11-26T10:20:00"}
    if status == "done":
        fields["decision"] = decision
        fields.update({k: v for k, v in (("current_rmse", current),
                                         ("candidate_rmse", candidate)) if v is not None})
    Store(table, participant).record(attempt_key(job), fields)


def get(scores, attempts, query="", path="/", now=NOW, settings=WITH_MARKERS):
    return leaderboard.handle({"rawPath": path, "rawQueryString": query,
                               "requestContext": {"http": {"method": "GET"}}},
                              settings, scores, now=lambda: now, retraining=attempts)


def table_html(page):
    """The rows the server rendered (the page's script builds the same from the data)."""
    return page.split('<tbody id="rows">')[1].split("</tbody>")[0]


def rows(scores, attempts, now=NOW):
    data = json.loads(get(scores, attempts, path="/leaderboard.json", now=now)["body"])
    return {r["participant"]: r for r in data["rows"]}


def test_a_promoted_retraining_marks_only_its_participant(tables):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.04)
    board = rows(scores, attempts)
    assert board["ada"]["retrained"] == {"promotions": 1, "last_decision": "promoted",
                                         "last_current_rmse": 412.3,
                                         "last_candidate_rmse": 365.04}
    # A rival whose id shares the prefix, and everyone else, carry no marker.
    assert board["ada-lovelace"]["retrained"] is None and board["bob"]["retrained"] is None
    page = table_html(get(scores, attempts)["body"])
    assert page.count('<span class="badge retrained"') == 1
    assert 'title="last retraining: promoted (RMSE 412.3 \u2192 365.0 ms)">retrained \u00d71' in page


def test_kept_failed_and_unfinished_attempts_are_no_marker(tables):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "kept", current=400.0, candidate=410.0)
    attempt(attempts, "ada", "0100", "job_failed")
    attempt(attempts, "ada", "0200", "not_started")
    attempt(attempts, "bob", "0000", None, status="training")  # still running
    Store(attempts, "bob").update_settings({"enabled": True})  # not an attempt
    board = rows(scores, attempts)
    assert board["ada"]["retrained"] is None and board["bob"]["retrained"] is None
    assert 'class="badge retrained"' not in table_html(get(scores, attempts)["body"])


def test_promotions_are_counted_and_the_latest_attempt_is_the_last_decision(tables):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=450.0, candidate=400.0)
    attempt(attempts, "ada", "0300", "kept", current=390.0, candidate=395.5)
    attempt(attempts, "ada", "0100", "promoted", current=400.0, candidate=380.0)
    marker = rows(scores, attempts)["ada"]["retrained"]
    assert (marker["promotions"], marker["last_decision"]) == (2, "kept")
    you = get(scores, attempts, query="me=ada")["body"]
    assert ("retrained \u00d72, last retraining: kept (candidate 395.5 ms, current 390.0 ms)"
            in you)
    assert "retrained" not in get(scores, attempts, query="me=bob")["body"].split('id="you">')[1][:200]


def test_malformed_attempts_are_skipped_and_logged_never_a_500(tables, capsys):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.0)
    for record, fields in (("attempt#x-1", {"decision": 7}),
                           ("attempt#x-2", {"decision": "<script>alert(1)</script>"}),
                           ("attempt#x-3", {"decision": "promoted", "candidate_rmse": "fast"}),
                           ("attempt#x-4", {"decision": "promoted", "current_rmse": 10**30})):
        attempts.put_item(Item={"participant": "bob", "record": record, "status": "done",
                                **fields})
    response = get(scores, attempts)
    assert response["statusCode"] == 200
    assert "<script>alert(1)" not in response["body"]
    board = rows(scores, attempts)
    assert board["ada"]["retrained"]["promotions"] == 1 and board["bob"]["retrained"] is None
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if "leaderboard_malformed_retraining_item" in line]
    assert sorted(entry["record"] for entry in logged) == [
        "attempt#x-1", "attempt#x-2", "attempt#x-3", "attempt#x-4"]


def test_one_scan_per_refresh_whatever_the_viewers_and_participants(tables, capsys):
    scores, attempts = tables
    for participant in NAMES:
        for stamp in ("0000", "0100", "0200"):
            attempt(attempts, participant, stamp, "promoted", current=400.0, candidate=350.0)
    later = [NOW + timedelta(seconds=s) for s in range(0, leaderboard.RETRAINING_TTL_SECONDS, 6)]
    for moment in later:  # each past the result cache, so each one builds
        for query in ("", "me=ada", "me=bob&view=projector"):
            get(scores, attempts, query=query, now=moment)
    get(scores, attempts, now=NOW + timedelta(seconds=leaderboard.RETRAINING_TTL_SECONDS))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if '"leaderboard"' in line and '"scans"' in line]
    assert sum(line["scans"] for line in lines) == 2  # the first build, then after the TTL
    assert len(lines) == 3 * len(later) + 1


def test_an_unreadable_retraining_table_leaves_the_board_up(tables, capsys):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.0)
    assert rows(scores, attempts)["ada"]["retrained"]["promotions"] == 1
    attempts.delete()
    later = NOW + timedelta(seconds=leaderboard.RETRAINING_TTL_SECONDS + 1)
    response = get(scores, attempts, path="/leaderboard.json", now=later)
    assert response["statusCode"] == 200
    # The markers last read stay; the failure is logged.
    ada = {r["participant"]: r for r in json.loads(response["body"])["rows"]}["ada"]
    assert ada["retrained"]["promotions"] == 1
    assert "leaderboard_retraining_unreadable" in capsys.readouterr().out


def test_without_a_retraining_table_there_are_no_markers(tables):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.0)
    assert all(r["retrained"] is None for r in rows(scores, None).values())


def test_the_lambda_entry_point_reads_the_table_its_settings_name(tables, monkeypatch):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.0)
    set_environment(monkeypatch, leaderboard.Settings(**{**WITH_MARKERS.__dict__,
                                                         "table_name": scores.name}))
    response = leaderboard.handler({"rawPath": "/leaderboard.json",
                                    "requestContext": {"http": {"method": "GET"}}})
    board = {r["participant"]: r for r in json.loads(response["body"])["rows"]}
    assert board["ada"]["retrained"]["promotions"] == 1
