"""The FC's sample feed, shared by the whole event.

An EventBridge schedule runs the publisher Lambda once a minute; each run paces
`samplesPerSecond` samples over its minute onto the sample topic with SNS PublishBatch.
Every participant's collection Lambda subscribes to that topic. Samples that a
participant's Lambda still cannot deliver after its retries land in one shared queue,
so nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components import iam
from components.parts.lambda_function import FunctionSpec, declare_function
from handlers import fc_samples, publish_samples

SCHEDULE_PERIOD_SECONDS = 60
UNDELIVERED_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass
class SampleFeedArgs:
    event: str
    samples_per_second: int
    enabled: bool
    seed: int
    log_retention_days: int
    drift_start: str = ""
    drift_profile: str = fc_samples.DEFAULT_DRIFT_PROFILE
    subscriber_accounts: Sequence[str] = ()  # participants' own AWS accounts, if any


class SampleFeed(pulumi.ComponentResource):
    topic: aws.sns.Topic
    undelivered: aws.sqs.Queue

    def __init__(self, name: str, args: SampleFeedArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlworkshop:event:SampleFeed", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(f"{args.event}-fc-samples", name=f"{args.event}-fc-samples",
                                   opts=child)
        if args.subscriber_accounts:
            self._allow_cross_account_subscriptions(args)
        self.undelivered = aws.sqs.Queue(
            f"{args.event}-undelivered-samples",
            name=f"{args.event}-undelivered-samples",
            message_retention_seconds=UNDELIVERED_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        publisher = self._publisher(args)
        self._schedule(args, publisher)
        self.register_outputs({
            "topic_arn": self.topic.arn,
            "undelivered_queue_url": self.undelivered.url,
            "publisher_name": publisher.name,
        })

    def _publisher(self, args: SampleFeedArgs) -> aws.lambda_.Function:
        declared = declare_function(FunctionSpec(
            logical_name=f"{args.event}-fc-publisher",
            function_name=f"{args.event}-fc-publisher",
            module=publish_samples,
            statements=[iam.allow(["sns:Publish"], [self.topic.arn])],
            environment=publish_samples.Settings(
                sample_topic_arn=self.topic.arn,
                samples_per_second=args.samples_per_second,
                period_seconds=SCHEDULE_PERIOD_SECONDS,
                feed_seed=args.seed,
                drift_start=args.drift_start,
                drift_profile=args.drift_profile,
            ),
            timeout=SCHEDULE_PERIOD_SECONDS + 30,
            log_retention_days=args.log_retention_days,
        ), parent=self)
        # A retried run would publish its minute of samples a second time.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{args.event}-fc-publisher-invoke",
            function_name=declared.function.name,
            maximum_retry_attempts=0,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return declared.function

    def _schedule(self, args: SampleFeedArgs, publisher: aws.lambda_.Function) -> None:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{args.event}-fc-schedule",
            name=f"{args.event}-fc-schedule",
            description="Runs the FC sample publisher once a minute",
            schedule_expression="rate(1 minute)",
            state="ENABLED" if args.enabled else "DISABLED",
            opts=child,
        )
        aws.cloudwatch.EventTarget(f"{args.event}-fc-schedule-target", rule=rule.name,
                                   arn=publisher.arn, opts=child)
        aws.lambda_.Permission(
            f"{args.event}-fc-schedule-invoke",
            action="lambda:InvokeFunction",
            function=publisher.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )

    def _allow_cross_account_subscriptions(self, args: SampleFeedArgs) -> None:
        owner = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        owner_statement = iam.allow(
            ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes"],
            [self.topic.arn])
        owner_statement["Principal"] = {"AWS": owner.account_id}
        subscribe = iam.allow(["sns:Subscribe"], [self.topic.arn],
                              condition={"StringEquals": {"sns:Protocol": "lambda"}})
        subscribe["Principal"] = {"AWS": sorted(set(args.subscriber_accounts))}
        aws.sns.TopicPolicy(f"{args.event}-fc-samples-policy", arn=self.topic.arn,
                            policy=iam.policy(owner_statement, subscribe),
                            opts=pulumi.ResourceOptions(parent=self))
