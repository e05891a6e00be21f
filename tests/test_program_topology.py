"""The two topologies from one program, under the mock engine: the event stack, participant
stacks fed the event stack's outputs, and single-stack mode declaring the same thing at once.
Also: providers per account, a participant stack for an id off the roster, stable slots."""

from __future__ import annotations

import base64
import fnmatch
import json
import re
from collections import Counter
from pathlib import Path

import pulumi
import pytest
import yaml

from event.config import ConfigError, parse_config
from event.slots import SlotsError, parse_slots, slots_path_for, write_slots
from event.topology import NotOnRosterError
from fleet.console import NAMES as CONSOLE_NAMES
from tests.kit import (
    BUCKET,
    DEFAULT_CONFIG,
    DEPLOYMENT,
    FUNCTION,
    IDS,
    LIFECYCLE,
    PROVIDER,
    REST_API,
    ROLE,
    ROLE_POLICY,
    SCHEDULE,
    STAGE,
)
from tools.mock_program import Program, last_run, reveal, run_program
from training.build import build_for_config

EVENT_STACK = "acme/ml-workshop/aim368"
ROSTER = [{"name": "Ada Lovelace"}, {"name": "Grace Hopper"},
          {"name": "Alan Turing", "account": "222222222222"}]
ALL = [*IDS]
# A window ahead, so that the end of the event (EventEnd) is declared too.
WINDOW = {"eventStart": "2099-06-01T09:00:00Z", "eventEnd": "2099-06-01T17:00:00Z",
          "scaleDownEndpointsAtEnd": "true"}
PARAMETER = "aws:ssm/parameter:Parameter"


class Event:
    """A roster file and the stacks evaluated from it."""

    def __init__(self, folder: Path, entries: list[dict]):
        self.roster = folder / "participants.yaml"
        self.write(entries)

    def write(self, entries: list[dict]) -> None:
        self.roster.write_text(yaml.safe_dump({"participants": entries}), encoding="utf-8")

    def run(self, **config: str) -> Program:
        settings = {**DEFAULT_CONFIG, **WINDOW, "roster": str(self.roster), **config}
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


def test_the_event_stack_exports_every_shared_value_a_participant_stack_reads(stacks):
    outputs = stacks["event"].outputs
    event = stacks["event"]
    assert outputs["retraining_table"] == event.named("aim368-retraining",
                                                      "aws:dynamodb/table:Table").inputs["name"]
    assert outputs["portal_role_arn"] == event.named("aim368-portal-role", ROLE).state["arn"]
    assert outputs["dashboard_name"] == "aim368-live-inference"
    assert outputs["leaderboard_url"].startswith("https://")
    assert outputs["event_account"] and outputs["retraining_table_arn"]
    # The participant stack uses them: its loop's table, its notebook's leaderboard, its
    # console role's only trusted principal.
    ada = stacks["ada-lovelace"]
    loop = ada.named("aim368-ada-lovelace-retrain", FUNCTION)
    assert outputs["retraining_table"] in str(loop.inputs["environment"])
    settings = settings_of(ada, "ada-lovelace")
    assert settings["leaderboard_url"] == outputs["leaderboard_url"]
    assert settings["inference_url"] == ada.outputs["inference_url"]
    console = ada.named("aim368-ada-lovelace-console", ROLE)
    assert outputs["portal_role_arn"] in console.inputs["assumeRolePolicy"]


def test_main_per_participant_parts_live_in_the_participant_stack(stacks):
    for pid in ALL:
        mine = stacks[pid]
        assert mine.named(f"aim368-{pid}-retrain", FUNCTION)
        # What `fleet status` and `fleet endpoint-reset` read of a participant stack.
        assert set(CONSOLE_NAMES) <= set(mine.outputs)
        assert mine.outputs["baseline_endpoint_config"].startswith(f"aim368-{pid}--config-")
    # A console role only for participants in the event's account.
    assert not [r for r in stacks["alan-turing"].of_type(ROLE) if r.name.endswith("-console")]
    # The event stack holds no one's resources, the shared retraining table included once.
    assert not [r for r in stacks["event"].resources if r.name.endswith("-retrain")]
    for pid in ALL:
        assert not [r for r in stacks[pid].resources if r.name == "aim368-retraining"]


def test_single_stack_lists_what_the_fleet_console_reads_per_participant(stacks):
    participants = stacks["single"].outputs["participants"]
    assert all(set(CONSOLE_NAMES) <= set(participants[pid]) for pid in ALL)


def settings_of(program: Program, participant: str) -> dict:
    """The settings.json a participant's notebook is created with."""
    [lifecycle] = [r for r in program.within(f"{participant}-lab2") if r.type == LIFECYCLE]
    script = base64.b64decode(lifecycle.inputs["onCreate"]).decode()
    return json.loads(re.search(r"<<'SETTINGS'\n(.*?)\nSETTINGS", script, re.DOTALL).group(1))


def directory_records(event: Program) -> list[dict]:
    [directory] = [r for r in event.resources if r.name == "aim368-portal-directory"]
    return list(json.loads(reveal(directory.inputs["content"]))["participants"].values())


def test_the_portal_finds_a_participant_stacks_bucket_through_its_parameter(stacks):
    records = {r["id"]: r for r in directory_records(stacks["event"])}
    statements = [s for p in stacks["event"].of_type(ROLE_POLICY) if p.name.startswith("aim368-portal")
                  for s in json.loads(p.inputs["policy"])["Statement"]]

    def allowed(action: str, arn: str) -> bool:
        return any(action in s["Action"] and any(
            re.fullmatch(fnmatch.translate(pattern), arn) for pattern in s["Resource"])
            for s in statements)

    for pid in ("ada-lovelace", "grace-hopper"):
        [parameter] = stacks[pid].of_type(PARAMETER)
        [bucket] = stacks[pid].of_type(BUCKET)
        assert parameter.inputs["insecureValue"] == bucket.state["bucket"]
        assert records[pid]["bucket_parameter"] == parameter.inputs["name"]
        assert "bucket" not in records[pid]
        # The portal's role reads the parameter and lists the bucket it names, by name shape.
        assert allowed("ssm:GetParameter", parameter.state["arn"])
        assert allowed("s3:ListBucket", bucket.state["arn"])
    # In one stack the record names the bucket itself; the parameter is declared all the same.
    single = {r["id"]: r for r in directory_records(stacks["single"])}
    assert single["ada-lovelace"]["bucket"].startswith("aim368-ada-lovelace-samples-")
    assert "bucket_parameter" not in single["ada-lovelace"]


def test_the_event_stack_ends_the_event_for_participant_stacks(stacks):
    event = stacks["event"]
    notebooks = {json.loads(s.inputs["target"]["input"])["NotebookInstanceName"]
                 for s in event.of_type(SCHEDULE) if s.name.endswith("-end-notebook")}
    assert notebooks == {f"aim368-{pid}-notebook" for pid in ALL}
    [policy] = [p for p in event.of_type(ROLE_POLICY) if p.name == "aim368-end-of-event-01-policy"]
    resources = {r for s in json.loads(policy.inputs["policy"])["Statement"] for r in s["Resource"]}
    # The ARNs the event stack computes are those of the participant stacks' own resources.
    for pid in ("ada-lovelace", "grace-hopper"):
        mine = stacks[pid]
        assert mine.of_type("aws:sagemaker/notebookInstance:NotebookInstance")[0].state["arn"] \
            in resources
        assert mine.of_type("aws:sagemaker/endpoint:Endpoint")[0].state["arn"] in resources


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
