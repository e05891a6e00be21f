"""The participant portal: handlers.portal behind a public Function URL, and its directory.

- a private bucket holding one object, portal/directory.json: sha256(join code) -> the
  participant's record (handlers/portal.py explains why an S3 object); its content is
  derived from the secret codes, so it is a secret in the state and the preview;
- the portal function, whose role may read that object, list the samples of event-account
  participants' buckets, describe / start / open the event's notebooks, describe the
  event's endpoints, assume the event's console roles (by name shape and the event's tag:
  see `_statements`), and query the scores table;
- the public Function URL (with both permissions public URLs need) and the join links,
  `<url>p/<code>`, as a secret for the handouts.

Everything per participant arrives as plain Inputs (names, ARNs), so the component can live
in the event stack while the participants' resources (and their console roles,
components/console_access.py) live in their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from access.directory import directory_document
from components.live_scoring import FAILING_ERROR_RATE
from components.parts import iam
from components.parts.lambda_function import (
    DeclaredFunction,
    FunctionSpec,
    declare_function,
)
from components.parts.options import child_of, invoke_of
from components.parts.private_bucket import private_bucket
from event.config import LeaderboardConfig, LogsConfig, PortalConfig
from event.names import ParticipantNames
from handlers import portal

DIRECTORY_KEY = "portal/directory.json"
SAMPLES_PREFIX = portal.SAMPLES_PREFIX
# A participant in their own account signs in there with their own credentials; the portal
# never assumes a role for them, but the directory's record keeps the field filled.
OWN_ACCOUNT_CONSOLE = "none: signs in to their own account"
PORTAL_TIMEOUT_SECONDS = 15
PORTAL_MEMORY_MB = 512  # boto3 clients at a cold start; the page itself is small


@dataclass
class PortalParticipant:
    id: str
    name: str
    email: str | None
    account: str | None  # their own AWS account, None: the event's
    notebook: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    # None with participant stacks: their bucket is auto-named in their own stack, which the
    # event stack cannot read (__main__.py); the portal reads the SSM parameter that stack
    # publishes it under (ParticipantNames.samples_bucket_parameter) instead.
    bucket: pulumi.Input[str] | None
    bucket_arn: pulumi.Input[str] | None
    inference_url: pulumi.Input[str]


@dataclass
class PortalArgs:
    event: str
    region: str
    participants: Sequence[PortalParticipant]
    codes: Mapping[str, str]  # participant id -> join code (validated; secret from here on)
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    leaderboard_url: pulumi.Input[str]
    leaderboard: LeaderboardConfig
    portal: PortalConfig
    logs: LogsConfig


def portal_role_name(event: str) -> str:
    """The portal function's name, which declare_function also gives its role."""
    return f"{event}-portal"


def console_role_arn(account: pulumi.Input[str], names: ParticipantNames) -> pulumi.Output[str]:
    """A console role's ARN from its name: the portal may be declared before the role."""
    return pulumi.Output.concat("arn:aws:iam::", account, ":role/", names.console_role)


def _record(participant: PortalParticipant, event: str, region: str,
            leaderboard_url: pulumi.Input[str],
            console_role: pulumi.Input[str]) -> pulumi.Output[dict[str, Any]]:
    where = ({"bucket": participant.bucket} if participant.bucket is not None else
             {"bucket_parameter": ParticipantNames(event, participant.id).samples_bucket_parameter})
    return pulumi.Output.all(
        notebook=participant.notebook, endpoint=participant.endpoint, **where,
        inference_url=participant.inference_url, leaderboard_url=leaderboard_url,
        console_role_arn=console_role,
    ).apply(lambda v: {"id": participant.id, "name": participant.name, "region": region,
                       **v, **({"account": participant.account} if participant.account else {})})


class Portal(pulumi.ComponentResource):
    url: pulumi.Output[str]
    account: pulumi.Output[str]  # the event's account, where the console roles are
    role_arn: pulumi.Output[str]
    directory_bucket: pulumi.Output[str]
    join_links: pulumi.Output[list]

    def __init__(self, name: str, args: PortalArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:event:Portal", name, None, opts)
        self._args = args
        self._account = aws.get_caller_identity_output(opts=invoke_of(self)).account_id
        bucket = private_bucket(f"{args.event}-portal", parent=self)
        directory = self._directory(bucket)
        declared = self._function(bucket, directory)
        self.url = self._public_url(declared.function)
        self.role_arn = declared.role.arn  # the console roles' trust needs the role to exist
        self.directory_bucket = bucket.bucket
        self.account = self._account
        self.join_links = pulumi.Output.secret(self.url.apply(lambda url: [
            {"id": p.id, "name": p.name, "email": p.email,
             "link": f"{url.rstrip('/')}/p/{args.codes[p.id]}"}
            for p in args.participants]))
        self.register_outputs({"url": self.url, "account": self.account,
                               "role_arn": self.role_arn,
                               "directory_bucket": self.directory_bucket,
                               "join_links": self.join_links})

    def _directory(self, bucket: aws.s3.Bucket) -> aws.s3.BucketObjectv2:
        args = self._args
        records = pulumi.Output.all(*[_record(p, args.event, args.region, args.leaderboard_url,
                                              self._console_role(p))
                                      for p in args.participants])
        codes = dict(args.codes)
        content = records.apply(
            lambda found: directory_document({r["id"]: r for r in found}, codes))
        return aws.s3.BucketObjectv2(
            f"{args.event}-portal-directory", bucket=bucket.id, key=DIRECTORY_KEY,
            content=pulumi.Output.secret(content), content_type="application/json",
            opts=child_of(self))

    def _console_role(self, participant: PortalParticipant) -> pulumi.Input[str]:
        if participant.account:
            return OWN_ACCOUNT_CONSOLE
        return console_role_arn(self._account, ParticipantNames(self._args.event, participant.id))

    def _sagemaker(self, kind: str, name: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:aws:sagemaker:", self._args.region, ":", self._account,
                                    f":{kind}/", name)

    def _statements(self, bucket: aws.s3.Bucket) -> list[dict[str, Any]]:
        """The portal role's permissions besides its logs.

        Participants' resources are reached by the event's name shapes in the event's account
        (`<event>-*-notebook`, ...), not by a list of every participant's ARNs: such a list
        grows by about 380 characters per participant and passes IAM's 10,240 characters of
        inline policy per role at about 25 participants (preflight measured 114,624 at 300).
        The shapes match only declared participant resources (shared names never end in these
        suffixes, and participants' roles cannot create notebooks, endpoints or roles, nor
        buckets in the event's account); which participant a request may touch is decided by
        the join code (handlers/portal.py).
        """
        args = self._args
        statements = [
            iam.allow(["s3:GetObject"], [pulumi.Output.concat(bucket.arn, "/", DIRECTORY_KEY)]),
            iam.allow(["dynamodb:Query"], [args.table_arn]),
        ]
        if all(p.account for p in args.participants):  # nothing of theirs to reach from here
            return statements
        shape = ParticipantNames(args.event, "*")
        if any(p.bucket is None for p in args.participants if not p.account):
            # Participant stacks publish their bucket's name (components/participant.py); the
            # path starts `/<event>/`, which no other event's parameters do.
            statements.append(iam.allow(["ssm:GetParameter"], [pulumi.Output.concat(
                f"arn:aws:ssm:{args.region}:", self._account,
                f":parameter{shape.samples_bucket_parameter}")]))
        # Another event in the same account may be named `<event>-<more>`; its resources fit
        # these shapes too, so each statement also asks for this event's tag (SageMaker and
        # IAM roles support aws:ResourceTag: see components/model_training.py) or account.
        this_event = {"StringEquals": {"aws:ResourceTag/Event": args.event}}
        return statements + [
            # Sample buckets are auto-named: `<event>-<id>-samples-<7 random characters>`;
            # bucket ARNs carry no account, so the event's account is a condition.
            iam.allow(["s3:ListBucket"], [f"arn:aws:s3:::{shape.bucket}-*"],
                      condition={"StringLike": {"s3:prefix": [f"{SAMPLES_PREFIX}*"]},
                                 "StringEquals": {"aws:ResourceAccount": self._account}}),
            iam.allow(["sagemaker:DescribeNotebookInstance", "sagemaker:StartNotebookInstance",
                       "sagemaker:CreatePresignedNotebookInstanceUrl"],
                      [self._sagemaker("notebook-instance", shape.notebook)], condition=this_event),
            iam.allow(["sagemaker:DescribeEndpoint"], [self._sagemaker("endpoint", shape.endpoint)],
                      condition=this_event),
            # The status names the model behind the endpoint: its configuration is one of
            # the participant's own, all named in their owned shape `<event>-<id>--*`.
            iam.allow(["sagemaker:DescribeEndpointConfig"],
                      [self._sagemaker("endpoint-config", f"{shape.owned_prefix}*")],
                      condition=this_event),
            iam.allow(["sts:AssumeRole"],
                      [pulumi.Output.concat("arn:aws:iam::", self._account, ":role/",
                                            shape.console_role)], condition=this_event),
        ]

    def _function(self, bucket: aws.s3.Bucket,
                  directory: aws.s3.BucketObjectv2) -> DeclaredFunction:
        args = self._args
        return declare_function(FunctionSpec(
            logical_name=portal_role_name(args.event), function_name=portal_role_name(args.event),
            module=portal, statements=self._statements(bucket),
            environment=portal.Settings(
                event=args.event, directory_bucket=bucket.bucket, directory_key=directory.key,
                table_name=args.table_name,
                notebook_session_seconds=args.portal.notebook_session_seconds,
                console_session_seconds=args.portal.console_session_seconds,
                window_minutes=args.leaderboard.window_minutes,
                history_minutes=args.leaderboard.history_minutes,
                min_successes=args.leaderboard.min_successes,
                failing_error_rate=FAILING_ERROR_RATE,
                reveal_private=args.leaderboard.reveal_private),
            timeout=PORTAL_TIMEOUT_SECONDS, memory_size=PORTAL_MEMORY_MB,
            # The URL is public: cap what a crowd (or a loop) can make it cost, and with it
            # the effective global rate of wrong codes (per-environment buckets x this).
            reserved_concurrency=args.portal.reserved_concurrency,
            log_retention_days=args.logs.retention_days,
        ), parent=self)

    def _public_url(self, function: aws.lambda_.Function) -> pulumi.Output[str]:
        event = self._args.event
        url = aws.lambda_.FunctionUrl(f"{event}-portal-url", function_name=function.name,
                                      authorization_type="NONE", opts=child_of(self))
        # Public Function URLs need both permissions (since October 2025), as the leaderboard's.
        aws.lambda_.Permission(f"{event}-portal-public-url", action="lambda:InvokeFunctionUrl",
                               function=function.name, principal="*",
                               function_url_auth_type="NONE", opts=child_of(self))
        aws.lambda_.Permission(f"{event}-portal-public-invoke", action="lambda:InvokeFunction",
                               function=function.name, principal="*",
                               invoked_via_function_url=True, opts=child_of(self))
        return url.function_url
