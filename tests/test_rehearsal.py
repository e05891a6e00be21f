"""The local rehearsal: a short event end to end, and wiring mistakes caught."""

import io
import json
import shutil

import pytest

from rehearsal.run import Progress, load_settings, rehearse
from rehearsal.world import WiringError
from tools.mock_program import PROGRAM


@pytest.fixture
def settings():
    settings = load_settings(traffic_runs=2, run_seconds=6, drift_from_run=1)
    settings.participants[2].fault = "garbage-endpoint"
    return settings


def test_a_short_event_runs_end_to_end(settings, tmp_path):
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal)) == 0
    summary = (tmp_path / "summary.txt").read_text()
    assert "samples lost in total: 0" in summary
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    rows = {r["participant"]: r for r in board["rows"]}
    assert rows["ada-lovelace"]["rank"] is not None and rows["grace-hopper"]["rank"] is not None
    assert rows["ada-lovelace"]["status"] == rows["grace-hopper"]["status"] == "healthy"
    faulty = rows["alan-turing"]
    assert (faulty["rank"], faulty["status"]) == (None, "failing")
    assert faulty["requests"] == 2 * 6 * settings.requests_per_second
    summary_row = _traffic_row(summary, "alan-turing")  # wrong answers are never the machine's
    assert summary_row.split()[-1] == "failing" or "failing (" in summary_row
    html = (tmp_path / "leaderboard.html").read_text()
    assert "Ada Lovelace" in html and "Alan Turing" in html
    assert (tmp_path / "dashboard.png").read_bytes()[:4] == b"\x89PNG"
    shown = terminal.getvalue()
    for phase in ("== declare", "== provision", "== collect", "== train and deploy",
                  "== traffic", "== portal", "== report"):
        assert phase in shown
    assert "run 2/2 (drifted FC)" in shown and "requests/s" in shown
    # Every participant got in with nothing but the link on their card.
    entries = json.loads((tmp_path / "portal.json").read_text())
    assert [e["participant"] for e in entries] == ["ada-lovelace", "grace-hopper", "alan-turing"]
    assert all(e["page"] and e["notebook"] and e["console"] and e["status"] for e in entries)
    assert "3/3 participants entered through their join links" in shown
    assert (tmp_path / "handouts.html").exists() and (tmp_path / "handouts.csv").exists()


def test_a_wiring_mistake_in_the_program_is_reported(settings, tmp_path):
    broken = tmp_path / "__main__.py"
    source = PROGRAM.read_text()
    assert "sample_topic_arn=feed.topic_arn" in source
    broken.write_text(source.replace("sample_topic_arn=feed.topic_arn",
                                     "sample_topic_arn=feed.undelivered_queue_arn"))
    shutil.copy(PROGRAM.parent / "participants.yaml", tmp_path / "participants.yaml")
    with pytest.raises(WiringError) as caught:
        rehearse(settings, tmp_path / "out", program_path=broken)
    assert any("which is not a declared topic" in p for p in caught.value.problems)
    assert len(caught.value.problems) == len(settings.participants)


def test_a_participant_who_never_deploys_and_a_slow_endpoint_leave_the_others_alone(tmp_path):
    settings = load_settings(traffic_runs=1, run_seconds=4, drift_from_run=None)
    settings.min_successes = 5
    settings.participants[1].fault = "slow-endpoint"
    settings.participants[2].fault = "never-deploys"
    assert rehearse(settings, tmp_path, progress=Progress(io.StringIO())) == 0
    rows = {r["participant"]: r for r in
            json.loads((tmp_path / "leaderboard.json").read_text())["rows"]}
    assert rows["ada-lovelace"]["rank"] == 1 and rows["ada-lovelace"]["error_rate"] == 0
    assert rows["grace-hopper"]["status"] == rows["alan-turing"]["status"] == "failing"
    summary = (tmp_path / "summary.txt").read_text()
    slow = next(line for line in summary.splitlines() if line.startswith("  grace-hopper") and
                "requests" not in line and "offline" not in line and "published" not in line)
    never = next(line for line in summary.splitlines() if line.startswith("  alan-turing") and
                 "offline" not in line and "published" not in line)
    assert slow.split()[1:7] == ["20", "0", "0", "0", "20", "0"]  # all timeouts
    assert never.split()[1:7] == ["20", "0", "0", "20", "0", "0"]  # "not deployed yet": 5xx


def _traffic_row(summary: str, participant: str) -> str:
    section = summary.split("Traffic (Lab 3")[1].split("\n\n")[0]
    return next(line for line in section.splitlines() if line.startswith(f"  {participant} "))


def test_a_saturated_machine_is_reported_and_its_timeouts_blamed_on_nobody(tmp_path):
    """Every model call waits 2.5 s for the machine, beyond the edge's 2 s timeout."""
    settings = load_settings(traffic_runs=1, run_seconds=3, drift_from_run=None)
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal), machine_overhead_s=2.5) == 0
    summary = (tmp_path / "summary.txt").read_text()
    assert "SATURATED in run 1 of 1" in summary
    assert "the inference handlers waited beyond the models' time" in summary
    assert "SATURATED: this machine did not keep up" in terminal.getvalue()
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    assert {r["status"] for r in board["rows"]} == {"failing"}  # what the event's board shows
    for participant in ("ada-lovelace", "grace-hopper", "alan-turing"):
        row = _traffic_row(summary, participant)
        assert "not judged" in row and "errors were the machine's" in row, row
    final = summary.split("Final leaderboard")[1].split("\n\n")[0]
    assert "failing (" not in final.replace("says failing", "")
    assert final.count("this machine's: it was saturated") == 3
def test_the_local_front_throttles_each_caller_of_a_stage_on_its_own():
    from tools.local_api import Throttle, caller_of
    now = [0.0]
    throttle = Throttle({"ada": (2.0, 3)}, clock=lambda: now[0])
    assert [throttle.admit("ada", "anonymous") for _ in range(5)] == [True] * 3 + [False] * 2
    assert throttle.admit("ada", "iam:AKIDEDGE")  # the edge's own bucket
    assert throttle.admit("bob", "anonymous")  # no declared throttle: no limit
    now[0] = 1.0
    assert [throttle.admit("ada", "anonymous") for _ in range(3)] == [True, True, False]
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEDGE/20261126/us-east-1/"
                               "execute-api/aws4_request, SignedHeaders=host, Signature=ab"}
    assert (caller_of(signed), caller_of({"x-api-key": "k"}), caller_of({})) == (
        "iam:AKIDEDGE", "key:k", "anonymous")
