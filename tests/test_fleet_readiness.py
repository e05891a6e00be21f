"""The fleet runs readiness: preflight before `up`, a sweep before each participant's
destroy and an audit after, `audit` on its own, and `pause`/`resume` of all traffic."""

from __future__ import annotations

import io

import yaml
from rich.console import Console

import fleet.__main__ as cli
from fleet.naming import participant_stack_name
from tests.fleet_fake import FakeStacks


class FakeReadiness:
    def __init__(self, problems=(), leftovers=(), sweep_fails=()):
        self.problems, self.leftovers, self.sweep_fails = list(problems), list(leftovers), set(sweep_fails)
        self.calls: list[tuple[str, str]] = []

    def preflight(self):
        self.calls.append(("preflight", ""))
        return self.problems

    def sweep(self, participant):
        self.calls.append(("sweep", participant))
        if participant in self.sweep_fails:
            raise RuntimeError(f"AccessDenied sweeping {participant}")
        return [f"stopped training job aim368-{participant}-xgb-1"]

    def audit(self):
        self.calls.append(("audit", ""))
        return self.leftovers


def run(tmp_path, monkeypatch, argv, fake, readiness):
    monkeypatch.setattr(cli, "LOG_DIR", tmp_path / "logs")
    path = tmp_path / "participants.yaml"
    path.write_text(yaml.safe_dump({"participants": [{"name": "Ada Lovelace"},
                                                     {"name": "Bob Builder"}]}))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([*argv, "--roster", str(path)], stacks=fake, readiness=readiness,
                    out=Console(file=out, width=200), err=Console(file=err, width=200))
    return code, out.getvalue(), err.getvalue()


ALL = ["aim368", participant_stack_name("aim368", "ada-lovelace"),
       participant_stack_name("aim368", "bob-builder")]


def test_up_stops_before_any_stack_when_the_preflight_finds_problems(tmp_path, monkeypatch):
    fake, readiness = FakeStacks(), FakeReadiness(problems=["aim368-fc-edge-shard-01: x: y"])
    code, _out, err = run(tmp_path, monkeypatch, ["up"], fake, readiness)
    assert code == 1 and fake.calls == []
    assert "aim368-fc-edge-shard-01: x: y" in err and "--skip-preflight" in err


def test_up_runs_after_a_clean_preflight_or_without_one(tmp_path, monkeypatch):
    fake, readiness = FakeStacks(), FakeReadiness()
    assert run(tmp_path, monkeypatch, ["up"], fake, readiness)[0] == 0
    assert readiness.calls == [("preflight", "")] and fake.of("up")[0] == "aim368"
    skipped = FakeReadiness(problems=["would stop it"])
    assert run(tmp_path, monkeypatch, ["up", "--skip-preflight"], FakeStacks(), skipped)[0] == 0
    assert skipped.calls == []


def test_destroy_sweeps_each_participant_first_and_audits_at_the_end(tmp_path, monkeypatch):
    fake, readiness = FakeStacks(existing=ALL), FakeReadiness()
    code, out, _err = run(tmp_path, monkeypatch, ["destroy"], fake, readiness)
    assert code == 0
    assert sorted(c for c in readiness.calls if c[0] == "sweep") == [
        ("sweep", "ada-lovelace"), ("sweep", "bob-builder")]
    assert readiness.calls[-1] == ("audit", "") and fake.existing() == []
    assert "sweep ada-lovelace: stopped training job" in out and "0 billable" in out


def test_a_failed_sweep_keeps_that_participants_stack(tmp_path, monkeypatch):
    fake = FakeStacks(existing=ALL)
    readiness = FakeReadiness(sweep_fails={"bob-builder"})
    code, out, _err = run(tmp_path, monkeypatch, ["destroy"], fake, readiness)
    assert code == 1 and "AccessDenied sweeping bob-builder" in out
    assert participant_stack_name("aim368", "bob-builder") in fake.existing()
    assert ("audit", "") not in readiness.calls  # not "after destroy" yet


def test_billable_leftovers_make_destroy_and_audit_fail(tmp_path, monkeypatch):
    leftovers = [(True, "sagemaker endpoint aim368-ada-lovelace-endpoint (in service)"),
                 (False, "log group /aws/lambda/aim368-fc-edge (empty)")]
    code, out, _ = run(tmp_path, monkeypatch, ["destroy"], FakeStacks(existing=ALL),
                       FakeReadiness(leftovers=leftovers))
    assert code == 1 and "BILLABLE sagemaker endpoint" in out and "1 billable" in out
    code, out, _ = run(tmp_path, monkeypatch, ["audit"], FakeStacks(),
                       FakeReadiness(leftovers=leftovers[1:]))
    assert code == 0 and "free     log group" in out


def test_pause_and_resume_switch_every_traffic_source_on_the_event_stack_only(
        tmp_path, monkeypatch):
    fake = FakeStacks(existing=ALL)
    assert run(tmp_path, monkeypatch, ["pause"], fake, FakeReadiness())[0] == 0
    assert fake.of("up") == ["aim368"]
    assert {k: fake.configs["aim368"][k] for k in cli.TRAFFIC_SWITCHES} == {
        "feedEnabled": "false", "edgeTrafficEnabled": "false"}
    assert run(tmp_path, monkeypatch, ["resume"], fake, FakeReadiness())[0] == 0
    assert {k: fake.configs["aim368"][k] for k in cli.TRAFFIC_SWITCHES} == {
        "feedEnabled": "true", "edgeTrafficEnabled": "true"}


def test_pause_before_the_event_stack_exists_says_so(tmp_path, monkeypatch):
    code, _out, err = run(tmp_path, monkeypatch, ["pause"], FakeStacks(), FakeReadiness())
    assert code == 2 and "run `fleet up` first" in err
