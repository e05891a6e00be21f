"""The leaderboard's "retrained" marker, against moto: promoted retrainings per participant
from each one's summary item in the event's retraining table, read once per refresh whatever
the viewers and however many attempts anyone made, malformed summaries skipped and logged,
the latest attempt on the personal view."""

import json
from datetime import timedelta
from decimal import Decimal

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
    """An attempt as handlers/retraining.py's judge records it (through its own store: a
    finished one is also folded into the participant's summary)."""
    job = f"aim368-{participant}--rt-2026112610{stamp}"
    fields = {"status": status, "trigger": "alarm", "job": job, "started_epoch": 1,
              "margin_percent": 5.0, "duration_s": 420, "finished": "2026-11-26T10:20:00"}
    if status == "done":
        fields["decision"] = decision
        fields.update({k: v for k, v in (("current_rmse", current),
                                         ("candidate_rmse", candidate)) if v is not None})
    store = Store(table, participant)
    if status == "done":
        store.finish(attempt_key(job), fields)
    else:
        store.record(attempt_key(job), fields)


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
    attempt(attempts, "ada", "0100", "promoted", current=400.0, candidate=380.0)
    attempt(attempts, "ada", "0300", "kept", current=390.0, candidate=395.5)
    marker = rows(scores, attempts)["ada"]["retrained"]
    assert (marker["promotions"], marker["last_decision"]) == (2, "kept")
    you = get(scores, attempts, query="me=ada")["body"]
    assert ("retrained \u00d72, last retraining: kept (candidate 395.5 ms, current 390.0 ms)"
            in you)
    assert "retrained" not in get(scores, attempts, query="me=bob")["body"].split('id="you">')[1][:200]


def test_malformed_summaries_are_skipped_and_logged_never_a_500(tables, capsys):
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.0)
    bad = {"bob": {"promotions": 1, "last_decision": 7},
           "ada-lovelace": {"promotions": 1, "last_decision": "<script>alert(1)</script>"}}
    for participant, fields in bad.items():
        attempts.put_item(Item={"participant": participant, "record": "summary", **fields})
    response = get(scores, attempts)
    assert response["statusCode"] == 200
    assert "<script>alert(1)" not in response["body"]
    board = rows(scores, attempts)
    assert board["ada"]["retrained"]["promotions"] == 1 and board["bob"]["retrained"] is None
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if "leaderboard_malformed_retraining_item" in line]
    assert sorted(entry["participant"] for entry in logged) == ["ada-lovelace", "bob"]


@pytest.mark.parametrize("fields, problem", [
    ({"promotions": 1, "last_decision": "promoted", "last_candidate_rmse": "fast"},
     "last_candidate_rmse is not a number"),
    ({"promotions": 1, "last_decision": "promoted", "last_current_rmse": 10**30},
     "out of range"),
    ({"promotions": Decimal("1.5"), "last_decision": "promoted"}, "not a whole number")])
def test_a_summary_with_an_implausible_number_is_no_marker(tables, capsys, fields, problem):
    scores, attempts = tables
    attempts.put_item(Item={"participant": "bob", "record": "summary", **fields})
    assert rows(scores, attempts)["bob"]["retrained"] is None
    assert problem in capsys.readouterr().out


def read_counts(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if '"leaderboard"' in line and '"batch_gets"' in line]


def test_one_batch_read_per_refresh_whatever_the_viewers_and_participants(tables, capsys):
    scores, attempts = tables
    for participant in NAMES:
        for stamp in ("0000", "0100", "0200"):
            attempt(attempts, participant, stamp, "promoted", current=400.0, candidate=350.0)
    later = [NOW + timedelta(seconds=s) for s in range(0, leaderboard.RETRAINING_TTL_SECONDS, 6)]
    for moment in later:  # each past the result cache, so each one builds
        for query in ("", "me=ada", "me=bob&view=projector"):
            get(scores, attempts, query=query, now=moment)
    get(scores, attempts, now=NOW + timedelta(seconds=leaderboard.RETRAINING_TTL_SECONDS))
    lines = read_counts(capsys)
    assert sum(line["batch_gets"] for line in lines) == 2  # the first build, then after the TTL
    assert len(lines) == 3 * len(later) + 1


def test_many_attempts_do_not_add_a_single_read(tables, capsys):
    """A participant who makes thousands of attempts (a loop calling their own function)
    costs the leaderboard nothing more: it reads one summary item per participant."""
    scores, attempts = tables
    attempt(attempts, "ada", "0000", "promoted", current=412.3, candidate=365.0)
    get(scores, attempts, path="/leaderboard.json")
    [few] = read_counts(capsys)
    with attempts.batch_writer() as batch:  # attempts a flood would leave, unfinished too
        for n in range(3000):
            batch.put_item(Item={"participant": "bob", "record": f"attempt#flood-{n:05d}",
                                 "status": "done", "decision": "not_started",
                                 "reason": "x" * 300})
    leaderboard.forget()
    board = rows(scores, attempts)
    [many] = read_counts(capsys)
    assert (many["batch_gets"], many["items"]) == (few["batch_gets"], few["items"])
    assert many["batch_gets"] == 1
    assert board["ada"]["retrained"]["promotions"] == 1 and board["bob"]["retrained"] is None


def test_the_roster_is_read_in_batches_of_a_hundred(tables, capsys):
    scores, attempts = tables
    for n in range(250):
        scores.put_item(Item={"minute": "roster", "participant": f"p{n:03d}", "name": f"P{n}"})
    attempt(attempts, "p249", "0000", "promoted", current=412.3, candidate=365.0)
    board = rows(scores, attempts)
    assert [line["batch_gets"] for line in read_counts(capsys)] == [3]  # 253 participants
    assert board["p249"]["retrained"]["promotions"] == 1


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
