"""The two topologies from one program, under the mock engine: the event stack, participant
stacks fed the event stack's outputs, and single-stack mode declaring the same thing at once.
Also: providers per account, a participant stack for an id off the roster, stable slots."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pulumi
import pytest
import yaml

from event.config import ConfigError, parse_config
from event.slots import SlotsError, parse_slots, slots_path_for, write_slots
from event.topology import NotOnRosterError
from tests.kit import DEFAULT_CONFIG, DEPLOYMENT, IDS, PROVIDER, REST_API, STAGE
from tools.mock_program import Program, last_run, run_program
from training.build import build_for_config

EVENT_STACK = "acme/ml-workshop/aim368"
ROSTER = [{"name": "Ada Lovelace"}, {"name": "Grace Hopper"},
          {"name": "Alan Turing", "account": "222222222222"}]
ALL = [*IDS]


class Event:
    """A roster file and the stacks evaluated from it."""

    def __init__(self, folder: Path, entries: list[dict]):
        self.roster = folder / "participants.yaml"
        self.write(entries)

    def write(self, entries: list[dict]) -> None:
        self.roster.write_text(yaml.safe_dump({"participants": entries}), encoding="utf-8")

    def run(self, **config: str) -> Program:
        settings = {**DEFAULT_CONFIG, "roster": str(self.roster), **config}
        build_for_config(settings, say=lambda _: None)
        return run_program(settings, stack=config.get("participant", "event"),
                           stack_outputs=getattr(self, "outputs", None))

    def event_stack(self) -> Program:
        declared = self.run(participantStacks="true")
        self.outputs = {EVENT_STACK: declared.outputs}
        return declared

    def participant_stack(self, participant: str) -> Program:
        return self.run(participant=participant, eventStack=EVENT_STACK)

    def single(self) -> Program:
        return self.run(participantStacks="false")


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    """The event stack, each participant's stack, and the single stack, for one roster."""
    event = Event(tmp_path_factory.mktemp("topology"), ROSTER)
    declared = {"event": event.event_stack()}
    for pid in ALL:
        declared[pid] = event.participant_stack(pid)
    declared["single"] = event.single()
    return declared


def custom(program: Program) -> list:
    return [r for r in program.resources if r.custom]


def test_the_event_stack_declares_the_shared_parts_and_no_participant(stacks):
    event = stacks["event"]
    assert event.participants() == []
    assert not event.of_type(STAGE) and not event.of_type(DEPLOYMENT)
    # One provider for the event's account, one for Alan Turing's own account.
    assert len(event.of_type(PROVIDER)) == 2
    outputs = event.outputs
    assert set(outputs["roster"]) == set(ALL)
    assert outputs["roster"]["alan-turing"] == {"name": "Alan Turing", "account": "222222222222"}
    assert "email" not in str(outputs["roster"])
    assert outputs["slots"] == {"ada-lovelace": {"api": 0, "position": 0},
                                "grace-hopper": {"api": 0, "position": 1}}
    shared_api = event.named("aim368-liveinference-01", REST_API)
    own_api = event.named("aim368-alan-turing-api", REST_API)
    assert outputs["inference_targets"]["ada-lovelace"]["rest_api_id"] == shared_api.id
    assert outputs["inference_targets"]["alan-turing"]["rest_api_id"] == own_api.id
    assert own_api.provider_urn != shared_api.provider_urn
    assert outputs["scores_table"]


def test_apis_whose_stages_live_in_other_stacks_are_protected(stacks):
    apis = [r for r in stacks["event"].resources if r.type == REST_API]
    assert apis and all(r.urn in protected(stacks["event"]) for r in apis)
    assert not protected(stacks["single"])


def protected(program: Program) -> set[str]:
    return {r.urn for r in program.resources if r.protect}


def test_a_participant_stack_declares_only_their_labs_through_one_provider(stacks):
    ada = stacks["ada-lovelace"]
    assert ada.participants() == ["ada-lovelace"]
    assert len(ada.of_type(PROVIDER)) == 1
    assert all(ada.participant_of(r) == "ada-lovelace" for r in custom(ada)
               if r.type != PROVIDER)
    # Their stage joins the event stack's API, on a deployment of their own.
    [stage] = ada.of_type(STAGE)
    [deployment] = ada.of_type(DEPLOYMENT)
    target = stacks["event"].outputs["inference_targets"]["ada-lovelace"]
    assert stage.inputs["restApi"] == target["rest_api_id"] == deployment.inputs["restApi"]
    assert stage.inputs["deployment"] == deployment.id
    assert ada.outputs["inference_url"] == stage.state["invokeUrl"] + "/liveinference"


def test_the_event_stack_scores_the_url_the_participant_stack_creates(stacks):
    edge_urls = str([r.inputs for r in stacks["event"].resources])
    for pid in ALL:
        assert stacks[pid].outputs["inference_url"] in edge_urls


def test_a_participant_in_their_own_account_gets_that_accounts_provider(stacks):
    [provider] = stacks["alan-turing"].of_type(PROVIDER)
    assert "222222222222" in provider.inputs["assumeRoles"]
    [provider] = stacks["ada-lovelace"].of_type(PROVIDER)
    assert "assumeRoles" not in provider.inputs


def kinds(resources) -> Counter:
    return Counter((r.type, r.name) for r in resources
                   if r.type not in (PROVIDER, DEPLOYMENT))


def test_single_stack_declares_what_the_event_and_participant_stacks_declare_together(stacks):
    together = kinds(custom(stacks["event"]))
    for pid in ALL:
        together += kinds(custom(stacks[pid]))
    assert kinds(custom(stacks["single"])) == together
    # Deployments differ by design: one per shared API in one stack, one per stage across stacks.
    assert len(stacks["single"].of_type(DEPLOYMENT)) == 2
    assert sum(len(stacks[pid].of_type(DEPLOYMENT)) for pid in ALL) == 3
    # Same providers per account: event's + Alan's in one stack; one each across stacks.
    assert len(stacks["single"].of_type(PROVIDER)) == 2


def test_single_stack_tags_and_owns_like_participant_stacks(stacks):
    single = stacks["single"]
    for pid in ALL:
        mine = {(r.type, r.name): r.inputs.get("tags") for r in single.owned_by(pid)}
        theirs = {(r.type, r.name): r.inputs.get("tags") for r in custom(stacks[pid])
                  if r.type not in (PROVIDER, DEPLOYMENT)}
        assert mine == theirs


def test_a_participant_stack_for_an_id_off_the_roster_declares_nothing(tmp_path):
    event = Event(tmp_path, ROSTER)
    with pytest.raises(NotOnRosterError, match="'ada-lovelance' is not on the roster.*"
                                                "did you mean 'ada-lovelace'"):
        event.participant_stack("ada-lovelance")
    assert last_run().resources == []


def test_a_participant_the_event_stack_does_not_hold_yet_fails_clearly(tmp_path):
    event = Event(tmp_path, ROSTER)
    event.event_stack()
    event.write([*ROSTER, {"name": "Katherine Johnson"}])  # roster edited after the event's up
    with pytest.raises(pulumi.RunError, match="'katherine-johnson' is not on the roster of "
                                              f"the event stack {EVENT_STACK}"):
        event.participant_stack("katherine-johnson")


def test_participant_and_event_stack_need_each_other_and_a_proper_shape():
    with pytest.raises(ConfigError) as error:
        parse_config({"participant": "Ada_L"})
    assert any("participant='Ada_L' is not a participant id" in p for p in error.value.problems)
    assert any("needs eventStack" in p for p in error.value.problems)
    with pytest.raises(ConfigError) as error:
        parse_config({"eventStack": "aim368"})
    assert any("is not a fully qualified stack name" in p for p in error.value.problems)
    assert any("only for a participant stack" in p for p in error.value.problems)
    topology = parse_config({"participant": "ada", "eventStack": EVENT_STACK}).topology
    assert topology.kind == "participant"
    assert parse_config({}).topology.kind == "event"
    assert parse_config({"participantStacks": "false"}).topology.kind == "single"


# --- stable slots -------------------------------------------------------------------------

def urls_after(event: Event, entries: list[dict]) -> dict[str, str]:
    """Run the single stack for `entries`, then keep its slots as `fleet up` does."""
    event.write(entries)
    declared = event.single()
    write_slots(slots_path_for(event.roster), parse_slots(declared.outputs["slots"], None))
    return {pid: v["inference_url"] for pid, v in declared.outputs["participants"].items()}


def test_nobodys_url_moves_when_participants_are_inserted_removed_and_added(tmp_path):
    people = [{"name": f"Person {n:02d}"} for n in range(12)]  # two shared APIs at 10 each
    event = Event(tmp_path, people)
    first = urls_after(event, people)
    top = urls_after(event, [{"name": "Aaron Aardvark"}, *people])  # inserted at the top
    assert all(top[pid] == url for pid, url in first.items())
    without = [p for p in [{"name": "Aaron Aardvark"}, *people] if p["name"] != "Person 05"]
    removed = urls_after(event, without)  # removed from the middle
    assert all(removed[pid] == url for pid, url in top.items() if pid != "person-05")
    late = urls_after(event, [*without[:3], {"name": "Zed Late"}, *without[3:]])
    assert all(late[pid] == url for pid, url in removed.items())
    # The freed place goes to the newcomer: same API as the one who left, their own stage.
    assert late["zed-late"] == top["person-05"].replace("/person-05/", "/zed-late/")
    assert yaml.safe_load(slots_path_for(event.roster).read_text())["zed-late"] == \
        {"api": 0, "position": 5}


def test_a_broken_slots_file_stops_the_program_before_anything_is_declared(tmp_path):
    event = Event(tmp_path, ROSTER)
    slots_path_for(event.roster).write_text(
        "ada-lovelace: {api: 0, position: 0}\ngrace-hopper: {api: 0, position: 0}\n")
    with pytest.raises(SlotsError, match="share the slot api 0, position 0"):
        event.single()
    assert last_run().resources == []


def test_a_missing_event_stack_output_is_named(tmp_path):
    event = Event(tmp_path, ROSTER)
    event.event_stack()
    del event.outputs[EVENT_STACK]["baseline_model_key"]
    with pytest.raises(pulumi.RunError, match=f"the event stack {EVENT_STACK} has no output "
                                              "'baseline_model_key'"):
        event.participant_stack("ada-lovelace")
