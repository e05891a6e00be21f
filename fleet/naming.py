"""Stack names and per-stack configuration: one place decides them.

The event stack is `<event>`; a participant's stack is `<event>.<id>`. Event names and
participant ids are made of lowercase letters, digits and '-', never '.', so the '.' tells
a participant stack of this event apart from any other stack in the project (an event
called `aim368-b` and participant `b` of event `aim368` cannot be confused).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Pulumi stack names: letters, digits, '-', '_' and '.', at most 100 characters.
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
SEPARATOR = "."


class StackNameError(ValueError):
    pass


def _checked(name: str) -> str:
    if not STACK_NAME.match(name):
        raise StackNameError(
            f"'{name}' is not a valid Pulumi stack name (letters, digits, '-', '_', '.'; "
            f"at most 100 characters)")
    return name


def event_stack_name(event: str) -> str:
    return _checked(event)


def participant_stack_name(event: str, participant: str) -> str:
    return _checked(f"{event}{SEPARATOR}{participant}")


def participant_of(event: str, stack_name: str) -> str | None:
    """The participant id a stack name belongs to, or None if it is no participant stack of
    this event."""
    prefix = f"{event}{SEPARATOR}"
    rest = stack_name.split("/")[-1]
    if not rest.startswith(prefix) or len(rest) == len(prefix):
        return None
    return rest[len(prefix):]


@dataclass(frozen=True)
class StackSpec:
    """A stack the fleet drives: its name, its config, and whose it is (None: the event's)."""

    name: str
    config: dict[str, str] = field(default_factory=dict)
    participant: str | None = None


@dataclass(frozen=True)
class FleetPlan:
    event: str
    event_stack: StackSpec
    participant_stacks: tuple[StackSpec, ...]

    def participant(self, participant: str) -> StackSpec | None:
        return next((s for s in self.participant_stacks if s.participant == participant), None)

    def orphans(self, existing: Iterable[str]) -> list[str]:
        """Participant stacks of this event whose id is no longer on the roster."""
        planned = {s.name for s in self.participant_stacks}
        return sorted(name for name in existing
                      if participant_of(self.event, name) is not None and name not in planned)

    def participant_stacks_among(self, existing: Iterable[str]) -> list[str]:
        return sorted(name for name in existing if participant_of(self.event, name) is not None)


def plan_fleet(event: str, participant_ids: Iterable[str], event_stack_reference: str) -> FleetPlan:
    """Config per stack. `event_stack_reference` is the event stack's fully qualified name
    (`<org>/<project>/<event>`), which participant stacks read through a StackReference."""
    event_stack = StackSpec(event_stack_name(event),
                            {"event": event, "participantStacks": "true"})
    participants = tuple(
        StackSpec(participant_stack_name(event, pid),
                  {"event": event, "participant": pid, "eventStack": event_stack_reference},
                  participant=pid)
        for pid in participant_ids)
    return FleetPlan(event, event_stack, participants)
