"""The event's live scoring: the FC edge's traffic, the scores table and the leaderboard.

- a DynamoDB table (pay per request) of per-minute aggregates, plus one roster item per
  participant with their display name;
- the edge Lambda, run every minute once per shard of `edgeShardSize` participants
  (EventBridge rules of up to 5 targets, each target's input naming its shard's URLs);
- the leaderboard Lambda behind a public, read-only Function URL;
- the scoring secret: the randomness the edge's samples come from, generated at the first
  deploy, readable by the edge's role only, never exported (docs/isolation.md).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of
from event.config import DriftConfig, EdgeConfig, FeedConfig, LeaderboardConfig, LogsConfig
from handlers import edge_traffic, leaderboard

RUN_PERIOD_SECONDS = 60
TARGETS_PER_RULE = 5  # EventBridge's limit
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
    feed: FeedConfig  # the edge replays the feed's generator (seed) to know the answers
    drift: DriftConfig
    logs: LogsConfig
    region: str = "us-east-1"  # where the stages the edge calls live


def shards(participants: Sequence[ScoredParticipant], size: int) -> list[list[ScoredParticipant]]:
    """Roster order, so appending participants never moves anyone to another shard."""
    return [list(participants[i:i + size]) for i in range(0, len(participants), size)]


class LiveScoring(pulumi.ComponentResource):
    table_name: pulumi.Output[str]
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
        self.edge_function_name = self._edge.name
        self.register_outputs({"table_name": self.table_name,
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
                feed_seed=args.feed.seed, drift_start=args.drift.start,
                drift_profile=args.drift.profile,
                scoring_secret_arn=self._secret.arn, sign_requests=True),
            timeout=RUN_PERIOD_SECONDS + 30, memory_size=1024,
            log_retention_days=args.logs.retention_days,
        ), parent=self)
        self._guard_secret(declared.role)
        # A retried run would send its minute of traffic twice and double the scores.
        aws.lambda_.FunctionEventInvokeConfig(f"{args.event}-fc-edge-invoke",
                                              function_name=declared.function.name,
                                              maximum_retry_attempts=0, opts=child_of(self))
        return declared.function

    def _schedule(self) -> None:
        args = self._args
        groups = shards(args.participants, args.edge.shard_size)
        for rule_number in range(0, len(groups), TARGETS_PER_RULE):
            logical = f"{args.event}-fc-edge-{rule_number // TARGETS_PER_RULE + 1:02d}"
            rule = aws.cloudwatch.EventRule(
                logical, name=logical, schedule_expression="rate(1 minute)",
                description="Runs the FC edge's traffic, one target per shard",
                state="ENABLED" if args.edge.enabled else "DISABLED", opts=child_of(self))
            for index in range(rule_number, min(rule_number + TARGETS_PER_RULE, len(groups))):
                group = groups[index]
                aws.cloudwatch.EventTarget(
                    f"{args.event}-fc-edge-shard-{index + 1:02d}", rule=rule.name,
                    arn=self._edge.arn,
                    input=pulumi.Output.json_dumps({
                        "shard": index,
                        "targets": [{"participant": p.id, "url": p.url} for p in group]}),
                    opts=child_of(self))
            aws.lambda_.Permission(f"{logical}-invoke", action="lambda:InvokeFunction",
                                   function=self._edge.name, principal="events.amazonaws.com",
                                   source_arn=rule.arn, opts=child_of(self))

    def _leaderboard(self) -> pulumi.Output[str]:
        args = self._args
        declared = declare_function(FunctionSpec(
            logical_name=f"{args.event}-leaderboard", function_name=f"{args.event}-leaderboard",
            module=leaderboard,
            statements=[iam.allow(["dynamodb:Query"], [self._table.arn])],
            environment=leaderboard.Settings(
                table_name=self._table.name, event=args.event,
                window_minutes=args.leaderboard.window_minutes,
                min_successes=args.leaderboard.min_successes,
                history_minutes=args.leaderboard.history_minutes,
                failing_error_rate=FAILING_ERROR_RATE,
                refresh_seconds=LEADERBOARD_REFRESH_SECONDS,
                reveal_private=args.leaderboard.reveal_private),
            timeout=15, memory_size=512,
            # The URL is public: cap what a crowd (or a loop) can make it cost.
            reserved_concurrency=10,
            log_retention_days=args.logs.retention_days,
        ), parent=self)
        function = declared.function
        url = aws.lambda_.FunctionUrl(f"{args.event}-leaderboard-url",
                                      function_name=function.name, authorization_type="NONE",
                                      opts=child_of(self))
        # Public Function URLs need both permissions (since October 2025).
        aws.lambda_.Permission(f"{args.event}-leaderboard-public-url",
                               action="lambda:InvokeFunctionUrl", function=function.name,
                               principal="*", function_url_auth_type="NONE", opts=child_of(self))
        aws.lambda_.Permission(f"{args.event}-leaderboard-public-invoke",
                               action="lambda:InvokeFunction", function=function.name,
                               principal="*", invoked_via_function_url=True,
                               opts=child_of(self))
        return url.function_url
