"""Stable slots: a participant's shared API and place never move while they stay on the roster."""

from pathlib import Path

import pytest

from event.slots import (
    Assignment,
    Slot,
    SlotsError,
    assign_slots,
    load_slots,
    parse_slots,
    slots_path_for,
    write_slots,
)

STAGES = 2  # small, so that a handful of people spans several APIs


def test_first_assignment_fills_apis_in_roster_order():
    assignment = assign_slots(["ada", "bob", "cy"], {}, STAGES)
    assert assignment.slots == {"ada": Slot(0, 0), "bob": Slot(0, 1), "cy": Slot(1, 0)}
    assert assignment.api_of() == {"ada": 0, "bob": 0, "cy": 1}


def test_inserting_at_the_top_moves_nobody():
    before = assign_slots(["bob", "cy", "dee"], {}, STAGES)
    after = assign_slots(["aaron", "bob", "cy", "dee"], before.slots, STAGES)
    for pid in ("bob", "cy", "dee"):
        assert after.slots[pid] == before.slots[pid]
    assert after.slots["aaron"] == Slot(1, 1)  # the lowest free slot, not the first


def test_removing_from_the_middle_moves_nobody_and_frees_the_slot():
    before = assign_slots(["ada", "bob", "cy", "dee"], {}, STAGES)
    after = assign_slots(["ada", "cy", "dee"], before.slots, STAGES)
    assert after.slots == {pid: before.slots[pid] for pid in ("ada", "cy", "dee")}
    assert Slot(0, 1) not in after.slots.values()


def test_a_newcomer_after_a_removal_takes_the_freed_slot():
    before = assign_slots(["ada", "bob", "cy", "dee"], {}, STAGES)
    after = assign_slots(["ada", "cy", "dee", "eve"], before.slots, STAGES)
    assert after.slots["eve"] == before.slots["bob"]


def test_newcomers_take_free_slots_in_roster_order():
    previous = {"ada": Slot(0, 0), "dee": Slot(1, 1)}
    after = assign_slots(["zed", "ada", "bea", "dee"], previous, STAGES)
    assert after.slots["zed"] == Slot(0, 1)
    assert after.slots["bea"] == Slot(1, 0)


def test_assignment_is_deterministic():
    roster = ["x", "y", "z", "w"]
    assert assign_slots(roster, {"y": Slot(3, 1)}, STAGES) == \
        assign_slots(roster, {"y": Slot(3, 1)}, STAGES)


def test_apis_in_use_lets_an_emptied_api_go():
    assignment = Assignment({"ada": Slot(0, 0), "dee": Slot(2, 1)}, STAGES)
    assert assignment.apis_in_use() == [0, 2]


def test_file_round_trip(tmp_path: Path):
    path = tmp_path / "participants.slots.yaml"
    assignment = assign_slots(["ada", "bob", "cy"], {"bob": Slot(4, 1)}, STAGES)
    write_slots(path, assignment)
    assert load_slots(path, STAGES) == dict(assignment.slots)
    assert path.read_text().startswith("#")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_missing_file_means_nobody_holds_a_slot(tmp_path: Path):
    assert load_slots(tmp_path / "absent.slots.yaml", STAGES) == {}


def test_the_file_sits_beside_the_roster():
    assert slots_path_for(Path("/event/participants.yaml")) == \
        Path("/event/participants.slots.yaml")


def test_every_problem_in_the_file_is_reported_at_once(tmp_path: Path):
    path = tmp_path / "participants.slots.yaml"
    path.write_text(
        "ada: {api: 0, position: 0}\n"
        "bob: {api: 0, position: 1}\n"
        "hal: {api: 0, position: 1}\n"          # shares bob's slot
        "cy: {api: 1, position: 5}\n"           # beyond stagesPerApi 2
        "dee: {api: -1, position: 0}\n"         # negative
        "eve: {api: 1}\n"                       # position missing
        "fay: {api: 1, position: 1, stage: 3}\n"  # unknown key
        "gus: 7\n"                              # not a mapping
        "ada: {api: 2, position: 0}\n"          # ada twice
    )
    with pytest.raises(SlotsError) as raised:
        load_slots(path, STAGES)
    text = "\n".join(raised.value.problems)
    assert len(raised.value.problems) == 7, text
    for fragment in ("'ada' appears more than once", "'bob', 'hal' share the slot api 0, position 1",
                     "'cy': position 5 does not exist", "'dee': 'api' must be a whole number",
                     "'eve': 'position' is missing", "'fay': unknown key 'stage'",
                     "'gus': must be a mapping"):
        assert fragment in text
    assert str(path) in str(raised.value)


def test_malformed_yaml_is_one_clear_problem(tmp_path: Path):
    path = tmp_path / "participants.slots.yaml"
    path.write_text("ada: {api: 0, position: [\n")
    with pytest.raises(SlotsError, match="not valid YAML"):
        load_slots(path, STAGES)


def test_a_list_instead_of_a_mapping_is_rejected():
    with pytest.raises(SlotsError, match="must be a mapping"):
        parse_slots([{"ada": {"api": 0, "position": 0}}], STAGES)


def test_ids_no_longer_on_the_roster_are_freed_not_errors(tmp_path: Path):
    previous = parse_slots({"gone": {"api": 0, "position": 0}, "ada": {"api": 0, "position": 1}},
                           STAGES)
    assert assign_slots(["ada", "new"], previous, STAGES).slots == \
        {"ada": Slot(0, 1), "new": Slot(0, 0)}


def test_the_exported_document_parses_back_to_the_same_assignment():
    assignment = assign_slots(["ada", "bob", "cy"], {"cy": Slot(0, 0)}, STAGES)
    assert parse_slots(assignment.to_document(), STAGES) == dict(assignment.slots)


def test_assign_refuses_a_previous_assignment_that_does_not_fit():
    with pytest.raises(SlotsError, match="position 3 does not exist"):
        assign_slots(["ada"], {"ada": Slot(0, 3)}, STAGES)


def test_the_event_stacks_output_reads_back_though_numbers_arrive_as_doubles():
    # The engine's wire format carries every number as a double: 3 comes back as 3.0.
    slots = parse_slots({"ada": {"api": 1.0, "position": 3.0}}, 10)
    assert slots == {"ada": Slot(1, 3)} and isinstance(slots["ada"].api, int)
    with pytest.raises(SlotsError, match="'position' must be a whole number >= 0, got 2.5"):
        parse_slots({"ada": {"api": 0, "position": 2.5}}, 10)
