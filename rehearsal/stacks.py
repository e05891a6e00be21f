"""The event as the rehearsal declares it, in either topology the program builds.

`stacks` (the default, what an event of 100 runs): the event stack, then one participant
stack per participant, each evaluated under the mock engine, the participant stacks'
StackReferences answered with the event stack's outputs, as `fleet up` orders them. What
they declare together is one `Program` (the union) that provisioning materializes in moto,
so the wiring across stacks is checked the way the wiring inside one stack is.
`single`: the whole event in one stack (`participantStacks: false`).

The union's outputs are the event stack's, plus `participants` (id -> that participant
stack's outputs) in the shape single-stack mode exports, so later phases read either alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.mock_program import Program, run_program

TOPOLOGIES = ("stacks", "single")
# The fully qualified name participant stacks reference (`eventStack`), as on Pulumi Cloud.
EVENT_STACK = "organization/ml-workshop/rehearsal"


@dataclass
class Declaration:
    """What was declared: the union, and each participant stack on its own."""

    program: Program
    config: dict[str, str]
    program_path: Path
    event_outputs: dict = field(default_factory=dict)
    stacks: dict[str, Program] = field(default_factory=dict)  # participant id -> their stack

    def redeclare(self, participant: str) -> Program:
        """A fresh evaluation of one participant's stack (what `fleet reset` runs `up` on);
        the union then holds it in place of the old one."""
        fresh = participant_stack(self.config, participant, self.event_outputs,
                                  self.program_path)
        old = {r.urn for r in self.stacks[participant].resources}
        self.stacks[participant] = fresh
        self.program = union(Program([r for r in self.program.resources if r.urn not in old],
                                     {k: v for k, v in self.program.outputs.items()
                                      if k != "participants"}),
                             {participant: fresh},
                             self.program.outputs.get("participants", {}))
        return fresh


def participant_stack(config: dict[str, str], participant: str, event_outputs: dict,
                      program_path: Path) -> Program:
    return run_program({**config, "participant": participant, "eventStack": EVENT_STACK},
                       stack=participant, program=program_path,
                       stack_outputs={EVENT_STACK: event_outputs})


def union(event: Program, stacks: dict[str, Program], known: dict | None = None) -> Program:
    """The event stack's resources and outputs with the participant stacks' added;
    `participants` keeps `known` entries for stacks not given."""
    participants = dict(known or {})
    resources = list(event.resources)
    for pid, stack in stacks.items():
        resources += stack.resources
        outputs = dict(stack.outputs)
        outputs.pop("participant", None)
        participants[pid] = outputs
    return Program(resources, {**event.outputs, "participants": participants})


def declare_event(config: dict[str, str], participants: list[str], topology: str,
                  program_path: Path) -> Declaration:
    """Evaluate the event in `topology` ("stacks" or "single")."""
    if topology == "single":
        program = run_program({**config, "participantStacks": "false"}, stack="rehearsal",
                              program=program_path)
        return Declaration(program, config, program_path, program.outputs)
    event = run_program({**config, "participantStacks": "true"}, stack="rehearsal",
                        program=program_path)
    stacks = {pid: participant_stack(config, pid, event.outputs, program_path)
              for pid in participants}
    return Declaration(union(event, stacks), config, program_path, event.outputs, stacks)
