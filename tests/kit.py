"""What the tests share: resource type tokens, lookups over a declared program, rosters,
moto tables as the program declares them, and how a test hands a handler its environment."""

from __future__ import annotations

import os
from pathlib import Path

from handlers.environment import Environment
from tools.iam_grants import arn_matches  # noqa: F401  (the isolation tests match ARNs as the rehearsal does)

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Resource type tokens, as the mock engine records them.
PROVIDER = "pulumi:providers:aws"
BUCKET = "aws:s3/bucket:Bucket"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
LIFECYCLE = ("aws:sagemaker/notebookInstanceLifecycleConfiguration:"
             "NotebookInstanceLifecycleConfiguration")
MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
REST_API = "aws:apigateway/restApi:RestApi"
STAGE = "aws:apigateway/stage:Stage"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
REQUEST_VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TABLE = "aws:dynamodb/table:Table"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
SCHEDULE = "aws:scheduler/schedule:Schedule"

# The roster the `program` fixture uses unless a test gives its own, and its ids.
# A small data set keeps each evaluation fast; tests about the data set set their own.
# Single-stack mode: every participant's labs in the one evaluation (tests of the event stack
# and participant stacks set `participantStacks` / `participant` themselves).
DEFAULT_CONFIG = {"datasetSamples": "2000", "participantStacks": "false"}
DEFAULT_ROSTER = [{"name": "Ada Lovelace"}, {"name": "Grace Hopper"}, {"name": "Alan Turing"}]
IDS = ["ada-lovelace", "grace-hopper", "alan-turing"]


def project_files(*suffixes: str) -> list[Path]:
    """The repository's own files with these suffixes (no hidden folders, no caches)."""
    found = []
    for folder, dirs, files in os.walk(PROJECT_DIR):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        found += [Path(folder) / f for f in files if f.endswith(suffixes)]
    return sorted(found)


def roster(n: int, start: int = 0) -> list[dict]:
    """n participants named "Participant 000", ..., whose ids are pid(i)."""
    return [{"name": f"Participant {i:03d}"} for i in range(start, start + n)]


def pid(i: int) -> str:
    return f"participant-{i:03d}"


def only(resources, type_token: str):
    """The one resource of a type among these; fails if there are none or several."""
    [resource] = [r for r in resources if r.type == type_token]
    return resource


def create_scores_table():
    """The edge's scores table, as the program declares it, in moto (inside mock_aws)."""
    import boto3
    return boto3.resource("dynamodb").create_table(
        TableName="scores", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "minute", "KeyType": "HASH"},
                   {"AttributeName": "participant", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "minute", "AttributeType": "S"},
                              {"AttributeName": "participant", "AttributeType": "S"}])


def set_environment(monkeypatch, settings: Environment) -> None:
    """Put a function's settings in os.environ, as its component declares them for Lambda."""
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
