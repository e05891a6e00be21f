"""Who the declared program lets invoke each API stage, read from its own resources.

A stage's GET method with authorization AWS_IAM lets in a signed caller only if an IAM
policy allows it `execute-api:Invoke` on the method's ARN
(`<execution ARN>/<stage>/GET/<path>`) and none denies it. For callers of the API's own
account either the caller's identity policy or the API's resource policy may allow it;
the program declares both kinds (aws:iam RolePolicy, Role inline and attached managed
policies, apigateway RestApiPolicy), and this module reads them as IAM would, with
wildcards (`*`, `?`) in actions and resources, NotAction and NotResource, and explicit
denies winning. Conditions are not evaluated: a statement with a condition counts as
applying (the reading may only over-report who gets in, never hide a grant).

A method with any other authorization type lets in every caller (`StageAccess.open`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

INVOKE = "execute-api:Invoke"


def arn_matches(pattern: str, arn: str) -> bool:
    """Whether an IAM resource pattern covers an ARN: `*` any run of characters, `?` one.

    Matched over the whole ARN, so `*` may cross `:` and `/`, as IAM's own matching does
    for resources (the isolation tests use this one through tests/kit.py)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, flags=re.DOTALL) is not None


def action_matches(pattern: str, action: str) -> bool:
    """IAM action patterns are case-insensitive, with the same wildcards."""
    return arn_matches(pattern.lower(), action.lower())


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _document(policy: Any) -> dict:
    return json.loads(policy) if isinstance(policy, str) else (policy or {})


def statement_applies(statement: dict, action: str, arn: str) -> bool:
    """Whether the statement's actions and resources cover `action` on `arn`."""
    if "NotAction" in statement:
        acts = not any(action_matches(p, action) for p in _listed(statement["NotAction"]))
    else:
        acts = any(action_matches(p, action) for p in _listed(statement.get("Action")))
    if "NotResource" in statement:
        covers = not any(arn_matches(p, arn) for p in _listed(statement["NotResource"]))
    else:
        covers = any(arn_matches(p, arn) for p in _listed(statement.get("Resource")))
    return acts and covers


def _statements(documents: Iterable[Any]) -> list[dict]:
    found = []
    for policy in documents:
        statements = _document(policy).get("Statement", [])
        found += [statements] if isinstance(statements, dict) else list(statements)
    return found


def allowed(documents: Iterable[Any], action: str, arn: str) -> bool:
    """An Allow covers it and no Deny does (the policies of one principal)."""
    applying = [s for s in _statements(documents) if statement_applies(s, action, arn)]
    return (any(s.get("Effect") == "Allow" for s in applying)
            and not any(s.get("Effect") == "Deny" for s in applying))


def denied(documents: Iterable[Any], action: str, arn: str) -> bool:
    return any(s.get("Effect") == "Deny" and statement_applies(s, action, arn)
               for s in _statements(documents))


def role_policies(program) -> dict[str, list[Any]]:
    """Role name -> every policy document the program gives it (inline, as RolePolicy,
    and managed ones attached with RolePolicyAttachment)."""
    roles = program.of_type("aws:iam/role:Role")
    name_of = {}
    for role in roles:
        name = role.inputs.get("name") or role.state.get("name") or role.id
        for reference in (name, role.id, role.state.get("arn")):
            if reference:
                name_of[reference] = name
    found: dict[str, list[Any]] = {name_of[r]: [] for r in name_of}
    for role in roles:
        found[name_of[role.id]] += [p.get("policy") for p in role.inputs.get("inlinePolicies") or []]
    for policy in program.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = name_of.get(policy.inputs.get("role"), policy.inputs.get("role"))
        found.setdefault(role, []).append(policy.inputs.get("policy"))
    managed = {}
    for policy in program.of_type("aws:iam/policy:Policy"):
        for reference in (policy.id, policy.state.get("arn")):
            if reference:
                managed[reference] = policy.inputs.get("policy")
    for attachment in program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role = name_of.get(attachment.inputs.get("role"), attachment.inputs.get("role"))
        document = managed.get(attachment.inputs.get("policyArn"))
        if document is not None:
            found.setdefault(role, []).append(document)
    return found


@dataclass(frozen=True)
class StageAccess:
    method_arn: str
    open: bool  # the method is not AWS_IAM: anyone gets in
    roles: frozenset[str]  # declared roles allowed to invoke it (when not open)


def stage_access(program) -> dict[str, StageAccess]:
    """Stage name -> who may invoke its method, from the declared resources."""
    apis = {a.id: a for a in program.of_type("aws:apigateway/restApi:RestApi")}
    paths = {r.id: r.inputs.get("pathPart", "") for r in
             program.of_type("aws:apigateway/resource:Resource")}
    methods = {m.inputs["restApi"]: m for m in program.of_type("aws:apigateway/method:Method")}
    resource_policies: dict[str, list[Any]] = {}
    for policy in program.of_type("aws:apigateway/restApiPolicy:RestApiPolicy"):
        resource_policies.setdefault(policy.inputs.get("restApiId"), []).append(
            policy.inputs.get("policy"))
    roles = role_policies(program)
    role_arns = {r.state.get("arn"): r.inputs.get("name") or r.id
                 for r in program.of_type("aws:iam/role:Role")}
    access = {}
    for stage in program.of_type("aws:apigateway/stage:Stage"):
        api_id, name = stage.inputs["restApi"], stage.inputs["stageName"]
        method = methods.get(api_id)
        if method is None:
            continue
        arn = (f"{apis[api_id].state['executionArn']}/{name}/{method.inputs['httpMethod']}/"
               f"{paths.get(method.inputs.get('resourceId'), '')}")
        if method.inputs.get("authorization") != "AWS_IAM":
            access[name] = StageAccess(arn, True, frozenset())
            continue
        resource = resource_policies.get(api_id, [])
        principals = _principals_allowed(resource, arn)
        by_resource = (set(role_arns.values()) if "*" in principals
                       else {role_arns[p] for p in principals if p in role_arns})
        granted = {role for role, documents in roles.items()
                   if (allowed(documents, INVOKE, arn) or role in by_resource)
                   and not denied(documents, INVOKE, arn)
                   and not denied(_for_principal(resource, role), INVOKE, arn)}
        access[name] = StageAccess(arn, False, frozenset(granted))
    return access


def _principals_allowed(documents: list[Any], arn: str) -> set[str]:
    """Principal ARNs a resource policy allows to invoke `arn`."""
    found = set()
    for statement in _statements(documents):
        if statement.get("Effect") == "Allow" and statement_applies(statement, INVOKE, arn):
            principal = statement.get("Principal")
            found.update(_listed(principal.get("AWS")) if isinstance(principal, dict)
                         else _listed(principal))
    return found


def _for_principal(documents: list[Any], role: str) -> list[dict]:
    """A resource policy's Deny statements naming everyone or this role (by name in its ARN)."""
    statements = []
    for statement in _statements(documents):
        principal = statement.get("Principal")
        named = (_listed(principal.get("AWS")) if isinstance(principal, dict)
                 else _listed(principal))
        if statement.get("Effect") == "Deny" and any(
                p == "*" or p.endswith(f":role/{role}") for p in named):
            statements.append(statement)
    return [{"Statement": statements}]
