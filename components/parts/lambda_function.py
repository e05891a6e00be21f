"""A Lambda function with its own role, inline policy and log group.

Every function of the program is declared here, so they all share the same runtime,
least-privilege logging and log retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pulumi_aws as aws

import handlers
from components.parts import iam
from handlers.environment import Environment, format_value

HANDLERS_DIR = Path(handlers.__file__).resolve().parent
PACKAGE = HANDLERS_DIR.name  # the zip holds the package itself, imported as in the repo
RUNTIME = aws.lambda_.Runtime.PYTHON3D14
ARCHITECTURE = "arm64"  # Graviton: about 20% cheaper per GB-second, same code


def handler_code() -> pulumi.AssetArchive:
    """The handlers package, its .py files only: the same small zip for every function."""
    return pulumi.AssetArchive({f"{PACKAGE}/{path.name}": pulumi.FileAsset(str(path))
                                for path in sorted(HANDLERS_DIR.glob("*.py"))})


def handler_name(module: ModuleType) -> str:
    """The entry point of a module of the handlers package: handlers.<module>.handler."""
    if module.__name__.rpartition(".")[0] != PACKAGE or not callable(getattr(module, "handler", None)):
        raise ValueError(f"{module.__name__} is not a Lambda handler module of {PACKAGE}/")
    return f"{module.__name__}.handler"


def environment_variables(settings: Environment) -> dict[str, pulumi.Input[str]]:
    """A function's settings as Lambda variables; Pulumi Inputs formatted once resolved."""
    return {name: value if isinstance(value, str)
            else pulumi.Output.from_input(value).apply(format_value)
            for name, value in settings.to_environment().items()}


@dataclass
class FunctionSpec:
    logical_name: str  # Pulumi logical name prefix; starts with the owner's id
    function_name: str  # physical name, also the role name
    module: ModuleType  # a handlers.<module>, entry point handlers.<module>.handler
    statements: Sequence[dict[str, Any]]  # what the function may do besides logging
    environment: Environment | None = None  # the module's Settings
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
        handler=handler_name(spec.module),
        code=handler_code(),
        timeout=spec.timeout,
        memory_size=spec.memory_size,
        reserved_concurrent_executions=spec.reserved_concurrency,
        environment=(aws.lambda_.FunctionEnvironmentArgs(
            variables=environment_variables(spec.environment))
            if spec.environment is not None else None),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="Text", log_group=log_group.name
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy, log_group]),
    )
    return DeclaredFunction(function, role, log_group)
