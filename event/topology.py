"""What crosses from the event stack to a participant stack, and the checks on it.

The event stack exports its roster (id -> name and account, no e-mail: stack outputs are
readable by anyone who can read the stack), the shared parts' names and each participant's
inference target (the API their stage joins). A participant stack reads them through a
StackReference. Its id is checked twice: against the local roster file before anything is
declared (an unknown id fails at once, even when the event stack's outputs are not readable
yet), and against the event stack's exported roster when that output resolves (the file and
the event stack may disagree: a roster edited after the event stack's last `up`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi

from components.inference_api import RESOURCE_PATH
from event.roster import Participant


class NotOnRosterError(pulumi.RunError):
    """A participant stack for an id the roster does not hold; reported without a traceback."""


def _hint(participant: str, ids: Sequence[str]) -> str:
    close = difflib.get_close_matches(participant, list(ids), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def participant_entry(roster: Sequence[Participant], participant: str, source: str) -> Participant:
    """The roster entry of a participant stack's id, or NotOnRosterError naming the roster."""
    for entry in roster:
        if entry.id == participant:
            return entry
    raise NotOnRosterError(
        f"participant={participant!r} is not on the roster {source}{_hint(participant, [p.id for p in roster])}: "
        "a participant stack declares nothing for an id the event does not hold "
        "(add them to the roster and run the event stack first)")


def roster_document(roster: Sequence[Participant]) -> dict[str, dict[str, str]]:
    """The event stack's `roster` output: what a participant stack may know of each entry."""
    return {p.id: {"name": p.name, **({"account": p.account} if p.account else {})}
            for p in roster}


def checked_target(participant: str, local: Participant, event_stack: str,
                   event_roster: Mapping[str, Any] | None,
                   targets: Mapping[str, Any] | None) -> dict[str, str]:
    """This participant's inference target from the event stack's outputs, once they
    resolve; RunError if the event stack does not hold the id, or places it elsewhere."""
    event_roster, targets = event_roster or {}, targets or {}
    if participant not in event_roster:
        raise NotOnRosterError(
            f"participant={participant!r} is not on the roster of the event stack "
            f"{event_stack}{_hint(participant, list(event_roster))}; run `fleet up` (or "
            "`pulumi up` on the event stack) after adding them to the roster")
    account = event_roster[participant].get("account")
    if account != local.account:
        raise NotOnRosterError(
            f"participant={participant!r}: the roster file says account {local.account!r} but "
            f"the event stack {event_stack} has {account!r}; run the event stack's `up` first")
    if participant not in targets:
        raise NotOnRosterError(
            f"the event stack {event_stack} exports no inference target for {participant!r}; "
            "run its `up` again")
    return dict(targets[participant])


def required_output(name: str, event_stack: str) -> Callable[[Mapping[str, Any]], Any]:
    """For `StackReference.outputs.apply`: one output of the event stack, or a clear error.

    Not `require_output`: it lifts the whole outputs map into nested Outputs on every call,
    so a participant stack's evaluation would grow with the roster (the event stack exports
    maps keyed by participant); one apply over the plain map costs the same at any size.
    """
    def pick(outputs: Mapping[str, Any]) -> Any:
        if outputs.get(name) is None:
            raise pulumi.RunError(f"the event stack {event_stack} has no output '{name}'; "
                                  "run its `up` (fleet up) first")
        return outputs[name]
    return pick


def inference_url(rest_api_id: pulumi.Input[str], region: str, stage: str) -> pulumi.Output[str]:
    """A stage's live inference URL, known from the API and the stage name alone: the event
    stack scores participants whose stages live in other stacks."""
    return pulumi.Output.concat("https://", rest_api_id, f".execute-api.{region}.amazonaws.com/",
                                stage, f"/{RESOURCE_PATH}")
