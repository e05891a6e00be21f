"""What the rehearsal's API front enforces on each stage, read from the declared program.

Nothing here is decided by the rehearsal: who may invoke a stage comes from the stage
method's authorization type and the IAM policies the program declares
(tools.iam_grants), and each stage's throttle from its declared method settings. The
rehearsal's callers sign with access keys; each key stands for declared roles:

- the edge's key (the rehearsal's own credentials) for the edge function's role;
- `participant_key(p)` for every role declared through participant p's provider (their
  account: whatever they can assume or run code as).

So a program change that grants a participant's role `execute-api:Invoke` on a rival's
stage lets that participant's flood in, and the flood-rival verdict fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import edge_traffic
from rehearsal.faults import participant_key
from tools.iam_grants import stage_access

if TYPE_CHECKING:
    from tools.mock_program import Program

FUNCTION = "aws:lambda/function:Function"


def _role_name(program: Program, arn: str) -> str:
    role = next(r for r in program.of_type("aws:iam/role:Role") if r.state.get("arn") == arn)
    return role.inputs.get("name") or role.id


def key_roles(program: Program, participants: list[str], edge_key: str) -> dict[str, set[str]]:
    """Each rehearsal access key -> the declared roles it signs as."""
    edge = [f for f in program.of_type(FUNCTION)
            if f.inputs["handler"].rsplit(".", 1)[0] == edge_traffic.__name__]
    keys = {edge_key: {_role_name(program, f.inputs["role"]) for f in edge}}
    for participant in participants:
        keys[participant_key(participant)] = {
            r.inputs.get("name") or r.id for r in program.owned_by(participant)
            if r.type == "aws:iam/role:Role"}
    return keys


def declared_callers(program: Program, participants: list[str], edge_key: str
                     ) -> dict[str, set[str] | None]:
    """Stage -> the access keys its declared authorization lets in (None: every caller,
    the method is not AWS_IAM)."""
    keys = key_roles(program, participants, edge_key)
    return {stage: None if access.open else {key for key, roles in keys.items()
                                             if roles & access.roles}
            for stage, access in stage_access(program).items()}


def declared_throttles(program: Program) -> dict[str, tuple[float, int]]:
    """Stage -> (rate per second, burst) of its declared method settings (`*/*`)."""
    limits = {}
    for settings in program.of_type("aws:apigateway/methodSettings:MethodSettings"):
        declared = settings.inputs.get("settings") or {}
        rate, burst = declared.get("throttlingRateLimit"), declared.get("throttlingBurstLimit")
        if settings.inputs.get("methodPath") == "*/*" and rate is not None and burst is not None:
            limits[settings.inputs["stageName"]] = (float(rate), int(burst))
    return limits
