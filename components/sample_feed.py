"""The FC's sample feed, shared by the whole event.

An EventBridge Scheduler schedule runs the publisher Lambda once a minute, inside the
event's window (components/parts/schedule.py); each run paces
`samplesPerSecond` samples over its minute onto the sample topic with SNS PublishBatch.
Every participant's collection Lambda subscribes to that topic. Samples that a
participant's Lambda still cannot deliver after its retries land in one shared queue,
so nothing is dropped silently. A participant deployed into their own account sends there
from that account, so the queue's policy lets exactly their collection roles send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import iam, schedule
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of, invoke_of
from event.config import DriftConfig, FeedConfig, LogsConfig, ScheduleConfig
from handlers import publish_samples

SCHEDULE_PERIOD_SECONDS = 60
UNDELIVERED_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass
class SampleFeedArgs:
    event: str
    feed: FeedConfig
    drift: DriftConfig
    logs: LogsConfig
    subscriber_accounts: Sequence[str] = ()  # participants' own AWS accounts, if any
    window: ScheduleConfig | None = None  # the event's window; None: no bounds
    # Their collection functions' roles, which park failed samples in the shared queue.
    undelivered_sender_role_arns: Sequence[str] = ()


class SampleFeed(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    undelivered_queue_arn: pulumi.Output[str]
    undelivered_queue_url: pulumi.Output[str]
    publisher_name: pulumi.Output[str]

    def __init__(self, name: str, args: SampleFeedArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:event:SampleFeed", name, None, opts)
        child = child_of(self)
        self._topic = aws.sns.Topic(f"{args.event}-fc-samples", name=f"{args.event}-fc-samples",
                                   opts=child)
        if args.subscriber_accounts:
            self._allow_cross_account_subscriptions(args)
        undelivered = aws.sqs.Queue(
            f"{args.event}-undelivered-samples",
            name=f"{args.event}-undelivered-samples",
            message_retention_seconds=UNDELIVERED_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        if args.undelivered_sender_role_arns:
            self._allow_cross_account_senders(args, undelivered)
        publisher = self._publisher(args)
        self._schedule(args, publisher)
        self.topic_arn = self._topic.arn
        self.undelivered_queue_arn = undelivered.arn
        self.undelivered_queue_url = undelivered.url
        self.publisher_name = publisher.name
        self.register_outputs({
            "topic_arn": self.topic_arn,
            "undelivered_queue_arn": self.undelivered_queue_arn,
            "undelivered_queue_url": self.undelivered_queue_url,
            "publisher_name": self.publisher_name,
        })

    def _publisher(self, args: SampleFeedArgs) -> aws.lambda_.Function:
        declared = declare_function(FunctionSpec(
            logical_name=f"{args.event}-fc-publisher",
            function_name=f"{args.event}-fc-publisher",
            module=publish_samples,
            statements=[iam.allow(["sns:Publish"], [self._topic.arn])],
            environment=publish_samples.Settings(
                sample_topic_arn=self._topic.arn,
                samples_per_second=args.feed.samples_per_second,
                period_seconds=SCHEDULE_PERIOD_SECONDS,
                feed_seed=args.feed.seed,
                drift_start=args.drift.start,
                drift_profile=args.drift.profile,
            ),
            timeout=SCHEDULE_PERIOD_SECONDS + 30,
            log_retention_days=args.logs.retention_days,
        ), parent=self)
        # A retried run would publish its minute of samples a second time.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{args.event}-fc-publisher-invoke",
            function_name=declared.function.name,
            maximum_retry_attempts=0,
            opts=child_of(self),
        )
        return declared.function

    def _schedule(self, args: SampleFeedArgs, publisher: aws.lambda_.Function) -> None:
        role = schedule.invoking_role(f"{args.event}-fc-schedule-role",
                                      f"{args.event}-fc-schedule", [publisher], self)
        bounds = schedule.window(args.window or ScheduleConfig("", "", False),
                                 args.feed.enabled, schedule.utc_now())
        # The scheduled time seeds the run, as the rule's event "time" did.
        schedule.every_minute(
            f"{args.event}-fc-schedule", publisher, role,
            '{"time": "<aws.scheduler.scheduled-time>"}', bounds,
            "Runs the FC sample publisher once a minute, inside the event's window", self)

    def _allow_cross_account_subscriptions(self, args: SampleFeedArgs) -> None:
        owner = aws.get_caller_identity_output(opts=invoke_of(self))
        owner_statement = iam.allow(
            ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes"],
            [self._topic.arn])
        owner_statement["Principal"] = {"AWS": owner.account_id}
        subscribe = iam.allow(["sns:Subscribe"], [self._topic.arn],
                              condition={"StringEquals": {"sns:Protocol": "lambda"}})
        subscribe["Principal"] = {"AWS": sorted(set(args.subscriber_accounts))}
        aws.sns.TopicPolicy(f"{args.event}-fc-samples-policy", arn=self._topic.arn,
                            policy=iam.policy(owner_statement, subscribe),
                            opts=child_of(self))

    def _allow_cross_account_senders(self, args: SampleFeedArgs, queue: aws.sqs.Queue) -> None:
        """A Lambda destination sends with the function's own role (in the participant's
        account), which the queue's account only lets in through the queue's policy. The
        principals are the accounts (a role that does not exist yet would make SQS reject
        the policy); the condition narrows them to the named roles."""
        roles = sorted(set(args.undelivered_sender_role_arns))
        send = iam.allow(["sqs:SendMessage"], [queue.arn],
                         condition={"ArnEquals": {"aws:PrincipalArn": roles}})
        send["Principal"] = {"AWS": sorted({role.split(":")[4] for role in roles})}
        aws.sqs.QueuePolicy(f"{args.event}-undelivered-samples-policy", queue_url=queue.url,
                            policy=iam.policy(send), opts=child_of(self))
