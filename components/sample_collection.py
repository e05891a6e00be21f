"""Lab 1 for one participant: sample topic -> collection Lambda -> Firehose -> S3 bucket.

Everything here belongs to one participant and may touch only that participant's
resources (plus sending undeliverable samples to the event's shared queue).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of
from components.parts.private_bucket import private_bucket
from event.config import CollectionConfig, LogsConfig
from event.names import ParticipantNames
from handlers import collect_samples

SAMPLES_PREFIX = "samples/"
SAMPLES_KEY_LAYOUT = ("year=!{timestamp:yyyy}/month=!{timestamp:MM}/"
                      "day=!{timestamp:dd}/hour=!{timestamp:HH}/")
ERRORS_PREFIX = "errors/!{firehose:error-output-type}/"
FIREHOSE_S3_ACTIONS = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject",
                       "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"]
COLLECTION_RETRIES = 2  # Lambda's asynchronous retries before the sample is parked


@dataclass
class SampleCollectionArgs:
    names: ParticipantNames
    sample_topic_arn: pulumi.Input[str]
    undelivered_queue_arn: pulumi.Input[str]
    collection: CollectionConfig
    logs: LogsConfig


class SampleCollection(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    delivery_stream_name: pulumi.Output[str]
    collection_function_name: pulumi.Output[str]

    def __init__(self, name: str, args: SampleCollectionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab1:SampleCollection", name, None, opts)
        self._names = args.names
        self._bucket = private_bucket(args.names.bucket, parent=self)
        self._delivery_stream = self._delivery_stream(args)
        self._function = self._collection_function(args)
        self._subscribe(args)
        self.bucket_name = self._bucket.bucket
        self.bucket_arn = self._bucket.arn
        self.delivery_stream_name = self._delivery_stream.name
        self.collection_function_name = self._function.name
        self.register_outputs({
            "bucket_name": self.bucket_name,
            "bucket_arn": self.bucket_arn,
            "delivery_stream_name": self.delivery_stream_name,
            "collection_function_name": self.collection_function_name,
        })

    def _delivery_stream(self, args: SampleCollectionArgs) -> aws.kinesis.FirehoseDeliveryStream:
        names = self._names
        log_group = aws.cloudwatch.LogGroup(
            f"{names.delivery_stream}-stream-logs",
            name=f"/aws/kinesisfirehose/{names.delivery_stream}",
            retention_in_days=args.logs.retention_days, opts=child_of(self))
        log_stream = aws.cloudwatch.LogStream(
            f"{names.delivery_stream}-stream-log", name="DestinationDelivery",
            log_group_name=log_group.name, opts=child_of(self))
        role = aws.iam.Role(
            names.firehose_role, name=names.firehose_role,
            assume_role_policy=iam.trust_policy("firehose.amazonaws.com"),
            opts=child_of(self))
        role_policy = aws.iam.RolePolicy(
            f"{names.firehose_role}-policy", role=role.id,
            policy=iam.policy(
                iam.allow(FIREHOSE_S3_ACTIONS,
                          [self._bucket.arn, pulumi.Output.concat(self._bucket.arn, "/*")]),
                iam.allow(["logs:PutLogEvents"], [log_stream.arn])),
            opts=child_of(self))
        return aws.kinesis.FirehoseDeliveryStream(
            names.delivery_stream,
            name=names.delivery_stream,
            destination="extended_s3",
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="AWS_OWNED_CMK"),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                role_arn=role.arn,
                bucket_arn=self._bucket.arn,
                prefix=SAMPLES_PREFIX + SAMPLES_KEY_LAYOUT,
                error_output_prefix=ERRORS_PREFIX + SAMPLES_KEY_LAYOUT,
                buffering_interval=args.collection.buffer_seconds,
                buffering_size=args.collection.buffer_mb,
                compression_format="UNCOMPRESSED",  # SageMaker's CSV channels read it as is
                cloudwatch_logging_options=aws.kinesis.
                FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                    enabled=True, log_group_name=log_group.name,
                    log_stream_name=log_stream.name),
            ),
            # IAM is eventually consistent: the policy must exist before Firehose checks it.
            opts=child_of(self, depends_on=[role_policy]),
        )

    def _collection_function(self, args: SampleCollectionArgs) -> aws.lambda_.Function:
        names = self._names
        declared = declare_function(FunctionSpec(
            logical_name=names.collect_function,
            function_name=names.collect_function,
            module=collect_samples,
            statements=[
                iam.allow(["firehose:PutRecord", "firehose:PutRecordBatch"],
                          [self._delivery_stream.arn]),
                iam.allow(["sqs:SendMessage"], [args.undelivered_queue_arn]),
            ],
            environment=collect_samples.Settings(
                delivery_stream_name=self._delivery_stream.name, participant=names.participant),
            log_retention_days=args.logs.retention_days,
        ), parent=self)
        aws.lambda_.FunctionEventInvokeConfig(
            f"{names.collect_function}-on-failure",
            function_name=declared.function.name,
            maximum_retry_attempts=COLLECTION_RETRIES,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=args.undelivered_queue_arn)),
            opts=child_of(self))
        return declared.function

    def _subscribe(self, args: SampleCollectionArgs) -> None:
        names = self._names
        permission = aws.lambda_.Permission(
            f"{names.collect_function}-from-topic",
            action="lambda:InvokeFunction",
            function=self._function.name,
            principal="sns.amazonaws.com",
            source_arn=args.sample_topic_arn,
            opts=child_of(self))
        aws.sns.TopicSubscription(
            f"{names.collect_function}-subscription",
            topic=args.sample_topic_arn,
            protocol="lambda",
            endpoint=self._function.arn,
            opts=child_of(self, depends_on=[permission]))
