"""Evaluate the workshop program for a roster and config, as the readiness tools see it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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
