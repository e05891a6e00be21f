"""A Lab 1 world in moto: the sample topic, one participant's bucket and Firehose.

moto does not run Lambda code on SNS deliveries, so an SQS queue subscribed to the
topic records every notification; `sns_events()` turns them into the exact event
shape SNS hands to a subscribed Lambda.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

from handlers import fc_samples

BUCKET = "aim368-ada-lovelace-samples-1a2b3c4"
STREAM = "aim368-ada-lovelace-samples"
TOPIC = "aim368-fc-samples"


@dataclass
class Lab1World:
    topic_arn: str
    queue_url: str

    def sns_events(self) -> list[dict]:
        """Every notification on the topic so far, as one Lambda event each."""
        sqs, events = boto3.client("sqs"), []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                envelope = json.loads(message["Body"])
                events.append(sns_event(envelope["Message"], self.topic_arn,
                                        envelope["MessageId"]))
                sqs.delete_message(QueueUrl=self.queue_url,
                                   ReceiptHandle=message["ReceiptHandle"])

    def rows_in_bucket(self) -> list[str]:
        s3, rows = boto3.client("s3"), []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
                rows += body.splitlines(keepends=True)
        return rows


def sns_record(message: str, topic_arn: str, message_id: str = "m-1") -> dict:
    return {"EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": f"{topic_arn}:sub",
            "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn,
                    "Message": message, "Timestamp": "2026-11-26T10:00:00.000Z"}}


def sns_event(message: str, topic_arn: str, message_id: str = "m-1") -> dict:
    return {"Records": [sns_record(message, topic_arn, message_id)]}


def create_world() -> Lab1World:
    s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
    iam, firehose = boto3.client("iam"), boto3.client("firehose")
    s3.create_bucket(Bucket=BUCKET)
    role = iam.create_role(RoleName="aim368-ada-lovelace-firehose",
                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    firehose.create_delivery_stream(
        DeliveryStreamName=STREAM, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role, "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "samples/",
            "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5}})
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="notification-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Lab1World(topic_arn, queue_url)


def rows_of(samples) -> list[str]:
    return [fc_samples.encode(s) for s in samples]
