"""A Lambda function with its own role, inline policy and log group.

Every function of the program is declared here, so they all share the same runtime,
least-privilege logging and log retention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.parts import iam

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
RUNTIME = aws.lambda_.Runtime.PYTHON3D14
ARCHITECTURE = "arm64"  # Graviton: about 20% cheaper per GB-second, same code


def handler_code(module: str, *shared_modules: str) -> pulumi.AssetArchive:
    """A zip with just the handler module, the shared log helper and what else it imports."""
    files = (module, "log", *shared_modules)
    return pulumi.AssetArchive(
        {f"{m}.py": pulumi.FileAsset(str(HANDLERS_DIR / f"{m}.py")) for m in files}
    )


@dataclass
class FunctionSpec:
    logical_name: str  # Pulumi logical name prefix; starts with the owner's id
    function_name: str  # physical name, also the role name
    module: str  # handlers/<module>.py, entry point <module>.handler
    statements: Sequence[dict[str, Any]]  # what the function may do besides logging
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    shared_modules: Sequence[str] = ()
    timeout: int = 30
    memory_size: int = 256
    log_retention_days: int = 14
    reserved_concurrency: int | None = None


@dataclass
class DeclaredFunction:
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup


def declare_function(spec: FunctionSpec, parent: pulumi.Resource) -> DeclaredFunction:
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{spec.logical_name}-logs",
        name=f"/aws/lambda/{spec.function_name}",
        retention_in_days=spec.log_retention_days,
        opts=child,
    )
    role = aws.iam.Role(
        f"{spec.logical_name}-role",
        name=spec.function_name,
        assume_role_policy=iam.trust_policy("lambda.amazonaws.com"),
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(
        f"{spec.logical_name}-policy",
        role=role.id,
        policy=iam.policy(iam.log_writing(log_group.arn), *spec.statements),
        opts=child,
    )
    function = aws.lambda_.Function(
        spec.logical_name,
        name=spec.function_name,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=f"{spec.module}.handler",
        code=handler_code(spec.module, *spec.shared_modules),
        timeout=spec.timeout,
        memory_size=spec.memory_size,
        reserved_concurrent_executions=spec.reserved_concurrency,
        environment=(aws.lambda_.FunctionEnvironmentArgs(variables=dict(spec.environment))
                     if spec.environment else None),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="Text", log_group=log_group.name
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy, log_group]),
    )
    return DeclaredFunction(function, role, log_group)
