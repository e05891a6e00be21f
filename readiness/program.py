"""Evaluate the workshop program for a roster and config, as the readiness tools see it."""

from __future__ import annotations

import importlib
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handlers.environment import SettingsError
from tools.mock_program import Declared, Program, run_program
from training.build import build_for_config

# Pulumi's auto-names: the name property each auto-named type gets (the mock engine fills
# it into the state with the same length as the real random suffix).
NAME_PROPERTY = {"aws:s3/bucket:Bucket": "bucket",
                 "aws:cloudwatch/dashboard:Dashboard": "dashboardName"}


def synthetic_roster(count: int) -> list[dict[str, str]]:
    """`count` participants with distinct ids, none a prefix of another (participant-001...)."""
    width = max(3, len(str(count)))
    return [{"name": f"Participant {number:0{width}d}"} for number in range(1, count + 1)]


def declare(config: Mapping[str, Any] | None = None,
            roster: list[dict[str, Any]] | None = None,
            roster_file: Path | None = None) -> Program:
    """Run the program under the mock engine; `roster` (entries) wins over `roster_file`.

    Single-stack mode unless the config says otherwise: it declares what the event stack and
    every participant stack declare together, which is what quotas and costs are about."""
    settings = {"participantStacks": "false", **{str(k): str(v) for k, v in (config or {}).items()}}
    if roster is not None:
        folder = Path(tempfile.mkdtemp(prefix="readiness-"))
        roster_file = folder / "participants.yaml"
        roster_file.write_text(yaml.safe_dump({"participants": roster}, allow_unicode=True),
                               encoding="utf-8")
    if roster_file is not None:
        settings["roster"] = str(Path(roster_file).resolve())
    build_for_config(settings, say=lambda _: None)  # what `make artifacts` builds; cached
    return run_program(settings)


def physical_name(resource: Declared) -> str | None:
    """The name AWS sees: the explicit name, else Pulumi's auto-name from the state."""
    key = NAME_PROPERTY.get(resource.type, "name")
    value = resource.inputs.get(key) or resource.state.get(key)
    return value if isinstance(value, str) else None


def ids_to_names(program: Program) -> dict[str, str]:
    """Resource ids as the mock engine makes them, mapped to the physical name they stand for.

    A RolePolicy's `role` input is the role's id, which for IAM is the role name; the mock
    engine makes ids `<name>-id`, so references are turned back into names before checking.
    """
    found = {}
    for resource in program.resources:
        name = physical_name(resource)
        if resource.custom and name and resource.id:
            found[resource.id] = name
    return found


@dataclass(frozen=True)
class Placement:
    """Where a resource lands: its provider's event, participant, account and region."""

    event: str
    participant: str | None  # None for the shared event parts
    region: str
    account: str | None  # a participant's own account; None: the event's account


def _json_input(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value


def placements(program: Program) -> dict[str, Placement]:
    """Resource URN -> where it lands: event, account and region from its provider's inputs,
    the participant from the participant component it is declared in (providers are per
    account, so they no longer name a participant)."""
    by_provider = {}
    for provider in program.of_type("pulumi:providers:aws"):
        tags = (_json_input(provider.inputs.get("defaultTags")) or {}).get("tags", {})
        roles = _json_input(provider.inputs.get("assumeRoles")) or []
        account = roles[0]["roleArn"].split(":")[4] if roles else None
        by_provider[provider.urn] = (tags.get("Event", ""), provider.inputs.get("region", ""),
                                     account)
    found = {}
    for resource in program.resources:
        if resource.custom and resource.provider_urn in by_provider:
            event, region, account = by_provider[resource.provider_urn]
            found[resource.urn] = Placement(event, program.participant_of(resource), region,
                                            account)
    return found


def function_settings(function: Declared | None) -> Any:
    """A declared function's environment read through its handler's own `Settings`, as
    Lambda would read it; None for anything that is not one of the program's handlers."""
    module_name = (function.inputs.get("handler") or "").rpartition(".")[0] if function else ""
    if not module_name.startswith("handlers."):
        return None
    variables = (function.inputs.get("environment") or {}).get("variables") or {}
    try:
        return importlib.import_module(module_name).Settings.from_environment(variables)
    except (SettingsError, AttributeError):
        return None
SCHEDULE = "aws:scheduler/schedule:Schedule"
RULE, RULE_TARGET = "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"


@dataclass(frozen=True)
class Scheduled:
    """One scheduled invocation of a function: a Scheduler schedule, or a rule's target."""

    resource: Declared  # the schedule, or the rule's target
    function_arn: str
    runs_per_hour: float  # 0 when disabled
    payload: dict
    input_property: str  # where the payload is declared, for problem lines


def runs_per_hour(expression: str, state: str | None) -> float:
    """rate(N minute|minutes|hour|hours) -> runs per hour; disabled schedules do not run."""
    if state == "DISABLED":
        return 0.0
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression or "")
    if not match:
        return 0.0
    every = int(match.group(1)) * (60 if match.group(2).startswith("hour") else 1)
    return 60 / every


def _payload(text: Any) -> dict:
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def scheduled(program: Program) -> list[Scheduled]:
    """Every scheduled invocation the program declares, whichever service schedules it."""
    found = []
    for schedule in program.of_type(SCHEDULE):
        target = schedule.inputs.get("target") or {}
        found.append(Scheduled(schedule, target.get("arn", ""),
                               runs_per_hour(schedule.inputs.get("scheduleExpression", ""),
                                             schedule.inputs.get("state")),
                               _payload(target.get("input")), "target.input"))
    rules = {physical_name(r): r for r in program.of_type(RULE)}
    for target in program.of_type(RULE_TARGET):
        rule = rules.get(target.inputs.get("rule"))
        # Rules on an event pattern (alarms, job state changes) run when something happens,
        # not on a schedule: they are no recurring load.
        if rule is not None and rule.inputs.get("scheduleExpression"):
            found.append(Scheduled(target, target.inputs.get("arn", ""),
                                   runs_per_hour(rule.inputs.get("scheduleExpression", ""),
                                                 rule.inputs.get("state")),
                                   _payload(target.inputs.get("input")), "input"))
    return found
