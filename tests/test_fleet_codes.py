"""`fleet codes` and `fleet rotate-code <id>`: join codes kept as one secret stack config
value, against the fleet's fake stack backend."""

from __future__ import annotations

import io
import json

import yaml
from rich.console import Console

import fleet.__main__ as cli
from access.codes import CODE_PATTERN, from_config
from tests.fleet_fake import FakeStacks


def roster(tmp_path, *names):
    path = tmp_path / "participants.yaml"
    path.write_text(yaml.safe_dump({"participants": [{"name": n} for n in names]}))
    return path


def run(fake, *argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stacks=fake, out=Console(file=out, width=300),
                    err=Console(file=err, width=300))
    return code, out.getvalue(), err.getvalue()


def codes_of(fake, stack="aim368"):
    return json.loads(fake.secrets[stack]["joinCodes"])


def test_codes_gives_every_roster_id_a_secret_code_the_program_accepts(tmp_path):
    path = roster(tmp_path, "Ada", "Ada Lovelace")
    fake = FakeStacks()
    code, out, _ = run(fake, "codes", "--roster", str(path))
    assert code == 0
    codes = codes_of(fake)
    assert set(codes) == {"ada", "ada-lovelace"}
    assert all(CODE_PATTERN.match(c) for c in codes.values())
    assert from_config(fake.secrets["aim368"]["joinCodes"], ["ada", "ada-lovelace"]) == codes
    assert "2 new (ada, ada-lovelace)" in out
    assert not [c for c in codes.values() if c in out]  # never printed
    assert fake.of("set_secret_config") == ["aim368"]


def test_codes_again_keeps_every_code_and_writes_nothing(tmp_path):
    path = roster(tmp_path, "Ada", "Ada Lovelace")
    fake = FakeStacks()
    run(fake, "codes", "--roster", str(path))
    before = codes_of(fake)
    code, out, _ = run(fake, "codes", "--roster", str(path))
    assert (code, codes_of(fake)) == (0, before)
    assert "nothing to change" in out and fake.of("set_secret_config") == ["aim368"]


def test_a_new_participant_gets_a_code_and_one_who_left_loses_theirs(tmp_path):
    fake = FakeStacks()
    run(fake, "codes", "--roster", str(roster(tmp_path, "Ada", "Bob Builder")))
    before = codes_of(fake)
    code, out, _ = run(fake, "codes", "--roster", str(roster(tmp_path, "Ada", "Cy Young")))
    after = codes_of(fake)
    assert code == 0 and after["ada"] == before["ada"]
    assert set(after) == {"ada", "cy-young"}
    assert "1 new (cy-young)" in out and "removed, no longer on the roster (bob-builder)" in out


def test_rotate_code_replaces_one_code_and_keeps_the_others(tmp_path):
    path = roster(tmp_path, "Ada", "Ada Lovelace")
    fake = FakeStacks()
    run(fake, "codes", "--roster", str(path))
    before = codes_of(fake)
    code, out, _ = run(fake, "rotate-code", "ada", "--roster", str(path))
    after = codes_of(fake)
    assert code == 0
    assert after["ada"] != before["ada"] and CODE_PATTERN.match(after["ada"])
    assert after["ada-lovelace"] == before["ada-lovelace"]
    assert "new join code for 'ada'" in out and after["ada"] not in out


def test_rotate_code_refuses_an_id_off_the_roster_or_without_a_code(tmp_path):
    path = roster(tmp_path, "Ada")
    fake = FakeStacks()
    code, _, err = run(fake, "rotate-code", "zed", "--roster", str(path))
    assert code == 1 and "'zed' is not on the roster" in err
    code, _, err = run(fake, "rotate-code", "ada", "--roster", str(path))
    assert code == 1 and "run `fleet codes` first" in err
    assert fake.of("set_secret_config") == []


def test_rotate_code_needs_an_id(tmp_path):
    code, _, err = run(FakeStacks(), "rotate-code", "--roster", str(roster(tmp_path, "Ada")))
    assert code == 2 and "`rotate-code` needs a participant id" in err


def test_a_config_value_that_is_not_a_map_is_never_overwritten(tmp_path):
    fake = FakeStacks()
    fake.secrets["aim368"] = {"joinCodes": "oops"}
    code, _, err = run(fake, "codes", "--roster", str(roster(tmp_path, "Ada")))
    assert code == 1 and "is not a map" in err
    assert fake.secrets["aim368"]["joinCodes"] == "oops"


def test_a_single_stack_event_names_its_stack(tmp_path):
    fake = FakeStacks()
    code, out, _ = run(fake, "codes", "--stack", "dev", "--roster", str(roster(tmp_path, "Ada")))
    assert code == 0 and set(codes_of(fake, "dev")) == {"ada"} and out.startswith("dev:")


def test_links_writes_the_stacks_secret_join_links_for_the_handouts(tmp_path, monkeypatch):
    from access.handouts import parse

    links = [{"id": "ada", "name": "Ada", "link": "https://portal.example/p/" + "a" * 22}]
    monkeypatch.setattr(cli, "LINKS_FILE", tmp_path / "out" / "join-links.json")
    fake = FakeStacks(existing=["aim368"], outputs={"aim368": {"joinLinks": links}})
    code, out, _ = run(fake, "links", "--roster", str(roster(tmp_path, "Ada")))
    written = tmp_path / "out" / "join-links.json"
    assert code == 0 and "1 join links written" in out and "a" * 22 not in out
    assert json.loads(written.read_text()) == links
    assert [h.link for h in parse(json.loads(written.read_text()))] == [links[0]["link"]]
    assert written.stat().st_mode & 0o077 == 0  # the organizer's eyes only


def test_links_before_the_portal_was_deployed_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "LINKS_FILE", tmp_path / "join-links.json")
    code, _, err = run(FakeStacks(), "links", "--roster", str(roster(tmp_path, "Ada")))
    assert code == 1 and "no output 'joinLinks'" in err and "fleet up" in err
