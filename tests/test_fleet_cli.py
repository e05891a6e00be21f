"""`python -m fleet`: the command line over the orchestration, with the stack backend faked."""

import io
import os
import subprocess
import sys

import yaml
from rich.console import Console

import fleet.__main__ as cli
from fleet.naming import participant_stack_name
from tests.fleet_fake import FakeStacks


def consoles():
    out, err = io.StringIO(), io.StringIO()
    return out, err, Console(file=out, width=200), Console(file=err, width=200)


def roster(tmp_path, *names):
    path = tmp_path / "participants.yaml"
    path.write_text(yaml.safe_dump({"participants": [{"name": n} for n in names]}))
    return path


def test_without_the_pulumi_cli_it_says_so_in_one_line_and_fails():
    env = {**os.environ, "PATH": "/nonexistent"}
    done = subprocess.run([sys.executable, "-m", "fleet", "up"], cwd=cli.PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "fleet needs the Pulumi CLI (pulumi) on PATH: https://www.pulumi.com/docs/install/"]


def test_the_cli_check_comes_before_any_other_problem():
    _out, err, o, e = consoles()
    code = cli.main(["reset", "--roster", "/no/such/roster.yaml"], which=lambda _: None,
                    out=o, err=e)
    assert code == 2 and len(err.getvalue().strip().splitlines()) == 1


def test_up_runs_the_fleet_writes_the_slots_back_and_summarizes(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "LOG_DIR", tmp_path / "logs")
    path = roster(tmp_path, "Ada Lovelace", "Bob Builder")
    slots = {"ada-lovelace": {"api": 0, "position": 1}, "bob-builder": {"api": 0, "position": 0}}
    fake = FakeStacks(outputs={"aim368": {"slots": slots}})
    out, err, o, e = consoles()
    code = cli.main(["up", "--roster", str(path), "--parallel", "2", "--skip-preflight"],
                    stacks=fake, out=o, err=e)
    assert code == 0, err.getvalue()
    assert fake.of("up")[0] == "aim368"
    assert yaml.safe_load((tmp_path / "participants.slots.yaml").read_text()) == \
        {"bob-builder": {"api": 0, "position": 0}, "ada-lovelace": {"api": 0, "position": 1}}
    assert "summary" in out.getvalue() and "no stack failed" in out.getvalue()
    assert (tmp_path / "logs" / "aim368.ada-lovelace.log").exists()


def test_a_failed_stack_makes_the_exit_status_non_zero(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "LOG_DIR", tmp_path / "logs")
    path = roster(tmp_path, "Ada Lovelace", "Bob Builder")
    fake = FakeStacks()
    fake.fail("up", participant_stack_name("aim368", "bob-builder"),
              RuntimeError("error: AccessDenied"))
    out, _err, o, e = consoles()
    code = cli.main(["up", "--roster", str(path), "--skip-preflight"], stacks=fake, out=o, err=e)
    assert code == 1
    assert "1 stack(s) failed" in out.getvalue() and "AccessDenied" in out.getvalue()


def test_every_roster_and_option_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "participants.yaml"
    path.write_text(yaml.safe_dump({"participants": [{"name": "Ada", "emial": "a@b.co"},
                                                     {"name": ""}]}))
    _out, err, o, e = consoles()
    code = cli.main(["reset", "--roster", str(path), "--parallel", "0"], stacks=FakeStacks(),
                    out=o, err=e)
    lines = err.getvalue().strip().splitlines()
    assert code == 2
    assert any("needs a participant id" in line for line in lines)
    assert any("--parallel must be at least 1" in line for line in lines)
    assert any("unknown key 'emial'" in line for line in lines)
    assert any("'name' is required" in line for line in lines)


def test_destroy_refusal_is_printed_and_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "LOG_DIR", tmp_path / "logs")
    path = roster(tmp_path, "Ada Lovelace")
    fake = FakeStacks(existing=["aim368", "aim368.zed"])
    out, _err, o, e = consoles()
    code = cli.main(["destroy", "--roster", str(path)], stacks=fake, out=o, err=e)
    assert code == 1 and "refused" in out.getvalue() and "aim368.zed" in out.getvalue()


def test_remote_needs_a_repository_and_an_organization(tmp_path):
    path = roster(tmp_path, "Ada Lovelace")
    _out, err, o, e = consoles()
    code = cli.main(["up", "--remote", "--roster", str(path)], stacks=FakeStacks(), out=o, err=e)
    assert code == 2 and "--remote needs --repo" in err.getvalue()
