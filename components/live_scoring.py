"""The event's live scoring: the FC edge's traffic, the scores table and the leaderboard.

- a DynamoDB table (pay per request) of per-minute aggregates, plus one roster item per
  participant with their display name;
- the edge Lambda, run every minute once per shard of `edgeShardSize` participants (one
  EventBridge Scheduler schedule per shard, bounded by the event's window, whose input
  names its shard's URLs; components/parts/schedule.py);
- the leaderboard Lambda behind a CDN (components/leaderboard_front.py), and its reveal switch;
  it also reads each participant's summary item of the retraining table (BatchGetItem of
  the marker's attributes only), for the "retrained" markers;
- the scoring secret: the randomness the edge's samples come from, generated at the first
  deploy, readable by the edge's role only, never exported.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import leaderboard_front
from components.parts import iam, schedule
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of
from event.config import (
    DriftConfig,
    EdgeConfig,
    FeedConfig,
    LeaderboardConfig,
    LogsConfig,
    ScheduleConfig,
)
from handlers import edge_limits, edge_traffic, leaderboard, retraining_store

RUN_PERIOD_SECONDS = edge_limits.PERIOD_SECONDS  # what event/config.py validates against
LEADERBOARD_REFRESH_SECONDS = 10
FAILING_ERROR_RATE = 0.2
SCORING_SECRET_BYTES = 32
# What the edge calls on every stage: SigV4-signed GETs of /liveinference (any API, any
# account of the event's region: participants with their own account have their own API).
STAGE_PATH = "/*/GET/liveinference"


def edge_function_name(event: str) -> str:
    """The edge's function name, also its role's name (components/parts/lambda_function)."""
    return f"{event}-fc-edge"


def edge_role_arn(event: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:iam::", account, ":role/", edge_function_name(event))


@dataclass
class ScoredParticipant:
    id: str
    name: str
    url: pulumi.Input[str]


@dataclass
class LiveScoringArgs:
    event: str
    participants: Sequence[ScoredParticipant]
    edge: EdgeConfig
    leaderboard: LeaderboardConfig
    feed: FeedConfig  # not the edge's randomness: that comes from the scoring secret
    drift: DriftConfig
    logs: LogsConfig
    window: ScheduleConfig | None = None  # the event's window; None: no bounds
    leaderboard_reserved_concurrency: int = 10  # leaderboardReservedConcurrency; 0: none
    region: str = "us-east-1"  # where the stages the edge calls live
    # The event's RetrainingTable (components/retraining.py): the leaderboard's markers.
    retraining_table_name: pulumi.Input[str] | None = None
    retraining_table_arn: pulumi.Input[str] | None = None


def retraining_markers_grant(table_arn: pulumi.Input[str]) -> dict:
    """The leaderboard's read of the retraining table: BatchGetItem of the summaries'
    marker attributes only (no Scan, no settings, locks or attempts' details). Select
    must be SPECIFIC_ATTRIBUTES, so a request without a projection is refused
    (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_dynamodb_attributes.html)."""
    return iam.allow(["dynamodb:BatchGetItem"], [table_arn], condition={
        # The key attributes too: the request names them (their values are no secret).
        "ForAllValues:StringEquals": {"dynamodb:Attributes": [
            "participant", "record", *retraining_store.SUMMARY_FIELDS]},
        "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}})


def shards(participants: Sequence[ScoredParticipant], size: int) -> list[list[ScoredParticipant]]:
    """Roster order, so appending participants never moves anyone to another shard."""
    return [list(participants[i:i + size]) for i in range(0, len(participants), size)]


class LiveScoring(pulumi.ComponentResource):
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    edge_function_name: pulumi.Output[str]
    leaderboard_url: pulumi.Output[str]

    def __init__(self, name: str, args: LiveScoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:event:LiveScoring", name, None, opts)
        self._args = args
        self._table = self._table()
        self._roster()
        self._secret = self._scoring_secret()
        self._edge = self._edge()
        self._schedule()
        self.leaderboard_url = self._leaderboard()
        self.table_name = self._table.name
        self.table_arn = self._table.arn
        self.edge_function_name = self._edge.name
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn,
                               "edge_function_name": self.edge_function_name,
                               "leaderboard_url": self.leaderboard_url})

    def _table(self) -> aws.dynamodb.Table:
        event = self._args.event
        return aws.dynamodb.Table(
            f"{event}-scores", name=f"{event}-scores", billing_mode="PAY_PER_REQUEST",
            hash_key="minute", range_key="participant",
            attributes=[aws.dynamodb.TableAttributeArgs(name="minute", type="S"),
                        aws.dynamodb.TableAttributeArgs(name="participant", type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expires", enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            opts=child_of(self))

    def _roster(self) -> None:
        for participant in self._args.participants:
            aws.dynamodb.TableItem(
                f"{self._args.event}-{participant.id}-roster-entry", table_name=self._table.name,
                hash_key="minute", range_key="participant",
                item=json.dumps({"minute": {"S": "roster"}, "participant": {"S": participant.id},
                                 "name": {"S": participant.name}}),
                opts=child_of(self))

    def _scoring_secret(self) -> aws.secretsmanager.Secret:
        """The edge's secret randomness: generated here with `secrets` (the OS's CSPRNG) on
        the first deploy, then left alone: `ignore_changes` keeps the stored value across
        every later `pulumi up` (each run draws a fresh candidate that is never applied), and
        a rotation made outside Pulumi (`aws secretsmanager put-secret-value`) is not undone.
        The value is a Pulumi secret, so the state holds it encrypted; it is never exported."""
        event = self._args.event
        secret = aws.secretsmanager.Secret(
            f"{event}-scoring-secret", name=f"{event}-scoring-secret",
            description="Randomness of the FC edge's scoring samples; readable by the edge only",
            recovery_window_in_days=0,  # a redeployed event can take the name again at once
            opts=child_of(self))
        aws.secretsmanager.SecretVersion(
            f"{event}-scoring-secret-value", secret_id=secret.id,
            secret_string=pulumi.Output.secret(secrets.token_hex(SCORING_SECRET_BYTES)),
            opts=child_of(self, ignore_changes=["secretString"],
                          additional_secret_outputs=["secretString"]))
        return secret

    def _guard_secret(self, edge_role: aws.iam.Role) -> None:
        """Nobody but the edge's role reads the value, whatever else they are granted
        (an explicit deny in the secret's own policy); organizers can still rotate it."""
        aws.secretsmanager.SecretPolicy(
            f"{self._args.event}-scoring-secret-policy", secret_arn=self._secret.arn,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": edge_role.arn}}}]}),
            opts=child_of(self))

    def _edge(self) -> aws.lambda_.Function:
        args = self._args
        stages = f"arn:aws:execute-api:{args.region}:*:*{STAGE_PATH}"
        declared = declare_function(FunctionSpec(
            logical_name=edge_function_name(args.event),
            function_name=edge_function_name(args.event),
            module=edge_traffic,
            statements=[iam.allow(["dynamodb:UpdateItem"], [self._table.arn]),
                        iam.allow(["secretsmanager:GetSecretValue"], [self._secret.arn]),
                        iam.allow(["execute-api:Invoke"], [stages])],
            environment=edge_traffic.Settings(
                table_name=self._table.name, event=args.event,
                requests_per_second=args.edge.requests_per_second,
                period_seconds=RUN_PERIOD_SECONDS, timeout_ms=args.edge.timeout_ms,
                private_share=args.edge.private_share_percent / 100,
                drift_start=args.drift.start,
                drift_profile=args.drift.profile,
                scoring_secret_arn=self._secret.arn, sign_requests=True),
            timeout=edge_limits.FUNCTION_TIMEOUT_SECONDS, memory_size=1024,
            log_retention_days=args.logs.retention_days,
        ), parent=self)
        self._guard_secret(declared.role)
        # A retried run would send its minute of traffic twice and double the scores; a run
        # Lambda kept queued (throttled) for longer would write to a minute the leaderboard
        # has closed: discard it (the edge also skips a late run itself).
        aws.lambda_.FunctionEventInvokeConfig(
            f"{args.event}-fc-edge-invoke", function_name=declared.function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=edge_limits.MAX_START_DELAY_SECONDS,
            opts=child_of(self))
        return declared.function

    def _schedule(self) -> None:
        args = self._args
        role = schedule.invoking_role(f"{args.event}-fc-edge-schedule-role",
                                      f"{args.event}-fc-edge-schedule", [self._edge], self)
        bounds = schedule.window(args.window or ScheduleConfig("", "", False),
                                 args.edge.enabled, schedule.utc_now())
        for index, group in enumerate(shards(args.participants, args.edge.shard_size)):
            schedule.every_minute(
                f"{args.event}-fc-edge-shard-{index + 1:02d}", self._edge, role,
                pulumi.Output.json_dumps(edge_limits.shard_input(
                    index, [{"participant": p.id, "url": p.url} for p in group])),
                bounds, "Runs the FC edge's traffic for one shard, inside the event's window",
                self)

    def _leaderboard(self) -> pulumi.Output[str]:
        args = self._args
        reveal = leaderboard_front.declare_reveal_switch(
            args.event, args.leaderboard.reveal_private, parent=self)
        declared = declare_function(FunctionSpec(
            logical_name=f"{args.event}-leaderboard", function_name=f"{args.event}-leaderboard",
            module=leaderboard,
            statements=[iam.allow(["dynamodb:Query"], [self._table.arn]),
                        iam.allow(["ssm:GetParameter"], [reveal.arn]),
                        *([retraining_markers_grant(args.retraining_table_arn)]
                          if args.retraining_table_arn is not None else [])],
            environment=leaderboard.Settings(
                table_name=self._table.name, event=args.event,
                window_minutes=args.leaderboard.window_minutes,
                min_successes=args.leaderboard.min_successes,
                history_minutes=args.leaderboard.history_minutes,
                failing_error_rate=FAILING_ERROR_RATE,
                refresh_seconds=LEADERBOARD_REFRESH_SECONDS,
                reveal_private=args.leaderboard.reveal_private,
                reveal_parameter=reveal.name,
                retraining_table=args.retraining_table_name),
            timeout=15, memory_size=512,
            # Behind the CDN the function sees about one request per TTL per edge location;
            # the cap only bounds what a cache-busting loop can cost (0: no reservation).
            reserved_concurrency=args.leaderboard_reserved_concurrency or None,
            log_retention_days=args.logs.retention_days,
        ), parent=self)
        function = declared.function
        # AWS_IAM: only the distribution (signing with OAC) may call it; see leaderboard_front.
        url = aws.lambda_.FunctionUrl(f"{args.event}-leaderboard-url",
                                      function_name=function.name, authorization_type="AWS_IAM",
                                      opts=child_of(self))
        cdn = leaderboard_front.declare_cdn(args.event, function, url, parent=self)
        return cdn.domain_name.apply(lambda domain: f"https://{domain}/")
