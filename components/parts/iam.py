"""IAM policy documents as plain dicts, serialised with Output.json_dumps.

Building JSON ourselves (instead of the getPolicyDocument invoke) keeps every ARN an
Output of the resource it names, which the tests can trace back to its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

POLICY_VERSION = "2012-10-17"


def allow(actions: Sequence[str], resources: Sequence[pulumi.Input[str]],
          condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions),
                                 "Resource": list(resources)}
    if condition:
        statement["Condition"] = condition
    return statement


def policy(*statements: dict[str, Any]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": POLICY_VERSION, "Statement": list(statements)})


def trust_policy(service: str, condition: dict[str, Any] | None = None) -> pulumi.Output[str]:
    """A role that only the given AWS service may assume."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service},
                                 "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return policy(statement)


def log_writing(log_group_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Write to one log group only (not the managed policy's logs:* on every group)."""
    return allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                 [pulumi.Output.concat(log_group_arn, ":*")])
