"""Offline preflight: every declared resource against AWS's constraints, before `pulumi up`.

Two sources: the create operation's input shape in botocore's service model (api_checks),
and the limits the models do not carry (limits). One line per problem, naming the
resource by its logical name, the property, and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readiness import limits
from readiness.api_checks import CHECKS, NOTHING_TO_CHECK
from readiness.program import ids_to_names, physical_name
from tools.mock_program import Declared, Program, autoname

# Auto-named properties the mock engine leaves empty: Pulumi fills them with the logical
# name plus a 7-character suffix, which is what AWS then checks.
AUTONAMED_ELSEWHERE = {"aws:iam/rolePolicy:RolePolicy": "name"}


@dataclass(frozen=True, order=True)
class Problem:
    resource: str  # the logical (Pulumi) name
    prop: str
    limit: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.prop}: {self.limit}"


def unchecked_types(program: Program) -> list[str]:
    """Declared AWS resource types that neither check covers (should be none)."""
    return sorted({r.type for r in program.resources if r.custom}
                  - set(CHECKS) - set(NOTHING_TO_CHECK))


def _inputs(resource: Declared, names: dict[str, str]) -> dict[str, Any]:
    """Declared inputs as AWS will see them: auto-names filled in, ids turned into names."""
    inputs = {k: names.get(v, v) if isinstance(v, str) else v
              for k, v in resource.inputs.items()}
    name = physical_name(resource)
    if name and "name" not in inputs and resource.type in CHECKS:
        inputs["name"] = name
    autonamed = AUTONAMED_ELSEWHERE.get(resource.type)
    if autonamed and not inputs.get(autonamed):
        inputs[autonamed] = autoname(resource.name)
    return inputs


def api_problems(program: Program) -> list[Problem]:
    names = ids_to_names(program)
    found = []
    for resource in program.resources:
        check = CHECKS.get(resource.type)
        if check is None:
            continue
        for line in check.problems(_inputs(resource, names)):
            found.append(Problem(resource.name, check.property_of(line.split(":", 1)[0]), line))
    return found


def limit_problems(program: Program) -> list[Problem]:
    return [Problem(*finding) for rule in limits.RULES for finding in rule(program)]


def preflight(program: Program) -> list[Problem]:
    """Every problem, sorted by resource; an empty list means AWS should accept the inputs."""
    found = api_problems(program) + limit_problems(program)
    found += [Problem(t, "type", "not covered by the preflight: add it to "
                      "readiness.api_checks") for t in unchecked_types(program)]
    return sorted(set(found))
