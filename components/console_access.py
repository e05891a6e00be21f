"""A participant's AWS console role: what the portal's "Open the AWS console" signs them in as.

Only the portal's role may assume it, and only under a session named after the participant
(`sts:RoleSessionName`), so a portal bug that mixed up records could not hand one
participant's role to another's session name. Its permissions are the participant's
SageMaker role's (the same scoping: their bucket, their prefixed training jobs, models and
endpoint configurations, their endpoint, their notebook) plus read-only views the console
needs: their bucket, their Firehose stream, their functions' logs, their endpoint and
notebook, the event's dashboard, and invoking their own live inference stage. Nothing is
granted that lists resources (List* would show every participant's names); the portal
lands them on their notebook's page directly.

It lives with the participant's labs (their provider, their stack once the program is
split in stacks) and takes the portal's role ARN as a plain Input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.options import child_of
from event.names import ParticipantNames

MIN_ROLE_SESSION_SECONDS = 3600  # IAM's lower bound for a role's MaxSessionDuration
# Read-only CloudWatch calls with no resource-level permissions: the dashboard's widgets are
# drawn from GetMetricData, which IAM can only grant on "*". Metrics, not data.
DASHBOARD_METRIC_ACTIONS = ["cloudwatch:GetMetricData"]


@dataclass
class ConsoleAccessArgs:
    names: ParticipantNames
    region: str
    account: pulumi.Input[str]  # the event's account, where their resources are
    portal_role_arn: pulumi.Input[str]  # the only principal that may assume the role
    sagemaker_statements: Sequence[dict[str, Any]]  # their SageMaker role's permissions
    bucket_arn: pulumi.Input[str]
    delivery_stream_name: pulumi.Input[str]
    function_names: Sequence[pulumi.Input[str]]  # their Lambda functions (Lab 1, Lab 3)
    api_execution_arn: pulumi.Input[str]  # the REST API that holds their stage
    dashboard_name: pulumi.Input[str]  # the event's shared dashboard
    session_seconds: int  # consoleSessionSeconds


def console_statements(args: ConsoleAccessArgs) -> list[dict[str, Any]]:
    """What the console role may do beyond the SageMaker role's statements."""
    names, region, account = args.names, args.region, args.account

    def arn(service: str, rest: pulumi.Input[str], in_region: bool = True) -> pulumi.Output[str]:
        return pulumi.Output.concat(f"arn:aws:{service}:", region if in_region else "", ":",
                                    account, ":", rest)

    return [
        iam.allow(["s3:GetObject"], [pulumi.Output.concat(args.bucket_arn, "/*")]),
        iam.allow(["s3:ListBucket", "s3:GetBucketLocation"], [args.bucket_arn]),
        iam.allow(["firehose:DescribeDeliveryStream"],
                  [arn("firehose", pulumi.Output.concat("deliverystream/",
                                                        args.delivery_stream_name))]),
        # ":*" is the log group's streams; the group name ends before it, so
        # /aws/lambda/<event>-ada-collect never covers <event>-ada-lovelace-collect.
        iam.allow(["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"],
                  [arn("logs", pulumi.Output.concat("log-group:/aws/lambda/", name, ":*"))
                   for name in args.function_names]),
        iam.allow(["sagemaker:DescribeEndpoint"], [arn("sagemaker", f"endpoint/{names.endpoint}")]),
        iam.allow(["sagemaker:DescribeNotebookInstance", "sagemaker:StartNotebookInstance",
                   "sagemaker:CreatePresignedNotebookInstanceUrl"],
                  [arn("sagemaker", f"notebook-instance/{names.notebook}")]),
        iam.allow(["cloudwatch:GetDashboard"],
                  [arn("cloudwatch", pulumi.Output.concat("dashboard/", args.dashboard_name),
                       in_region=False)]),
        iam.allow(DASHBOARD_METRIC_ACTIONS, ["*"]),
        iam.allow(["execute-api:Invoke"],
                  [pulumi.Output.concat(args.api_execution_arn, "/", names.stage, "/*")]),
    ]


class ConsoleAccess(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: ConsoleAccessArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:access:ConsoleAccess", name, None, opts)
        names = args.names
        trust = iam.policy({
            "Effect": "Allow", "Principal": {"AWS": args.portal_role_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:RoleSessionName": names.participant}}})
        role = aws.iam.Role(
            names.console_role, name=names.console_role, assume_role_policy=trust,
            max_session_duration=max(MIN_ROLE_SESSION_SECONDS, args.session_seconds),
            description=f"AWS console of participant {names.participant}, via the portal",
            opts=child_of(self))
        aws.iam.RolePolicy(
            f"{names.console_role}-policy", role=role.id,
            policy=iam.policy(*args.sagemaker_statements, *console_statements(args)),
            opts=child_of(self))
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
