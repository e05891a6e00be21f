"""The event's live scoring: the FC edge's traffic, the scores table and the leaderboard.

- a DynamoDB table (pay per request) of per-minute aggregates, plus one roster item per
  participant with their display name;
- the edge Lambda, run every minute once per shard of `edgeShardSize` participants
  (EventBridge rules of up to 5 targets, each target's input naming its shard's URLs);
- the leaderboard Lambda behind a public, read-only Function URL.
"""

from __future__ import annotations

import json
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

    def _edge(self) -> aws.lambda_.Function:
        args = self._args
        declared = declare_function(FunctionSpec(
            logical_name=f"{args.event}-fc-edge", function_name=f"{args.event}-fc-edge",
            module=edge_traffic,
            statements=[iam.allow(["dynamodb:UpdateItem"], [self._table.arn])],
            environment=edge_traffic.Settings(
                table_name=self._table.name, event=args.event,
                requests_per_second=args.edge.requests_per_second,
                period_seconds=RUN_PERIOD_SECONDS, timeout_ms=args.edge.timeout_ms,
                private_share=args.edge.private_share_percent / 100,
                feed_seed=args.feed.seed, drift_start=args.drift.start,
                drift_profile=args.drift.profile),
            timeout=RUN_PERIOD_SECONDS + 30, memory_size=1024,
            log_retention_days=args.logs.retention_days,
        ), parent=self)
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
