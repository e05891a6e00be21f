"""AWS limits that botocore's models do not carry, checked over the whole declared program.

Each rule returns (resource logical name, property, what is wrong and the limit). Sources
are cited where the number is not obvious; "unless raised" marks adjustable quotas, whose
applied value `preflight` reads from the account when it has credentials.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from event.names import ParticipantNames
from handlers import edge_traffic
from readiness import api_models
from readiness.program import SCHEDULE, Placement, function_settings, physical_name, placements, scheduled
from tools.mock_program import Declared, Program

Finding = tuple[str, str, str]
Rule = Callable[[Program], Iterable[Finding]]

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
LAMBDA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # CreateFunction: name up to 64 characters
LAMBDA_ENVIRONMENT_BYTES = 4 * 1024  # all variables together
SNS_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
SQS_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
SQS_RETENTION_SECONDS = (60, 1_209_600)
DYNAMODB_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
DYNAMODB_ITEM_BYTES = 400 * 1024
IAM_INLINE_POLICY_CHARS = 10_240  # all inline policies of one role, whitespace not counted
S3_BUCKET_POLICY_BYTES = 20 * 1024
EVENTBRIDGE_TARGETS_PER_RULE = 5
EVENTBRIDGE_INPUT_CHARS = 8_192
STAGES_PER_API = 10  # API Gateway REST, unless raised
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
STAGE_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
STAGE_VARIABLE_VALUE = re.compile(r"^[A-Za-z0-9-._~:/?#&=,]{1,512}$")
ACCOUNT_THROTTLE_RATE, ACCOUNT_THROTTLE_BURST = 10_000, 5_000  # API Gateway, per region
# Lambda: 1,000 concurrent executions per region by default; reserved concurrency must
# leave 100 unreserved ("preflight" with credentials reads the account's real numbers).
LAMBDA_DEFAULT_CONCURRENCY, LAMBDA_UNRESERVED_MINIMUM = 1_000, 100
LAMBDA_THREADS = 1_024  # processes/threads per execution environment
# "By default, each account can have up to 50 ... delivery streams per Region"
# (https://docs.aws.amazon.com/firehose/latest/dev/limits.html; newer pages give 5,000 in
# the largest regions; the applied quota is what counts, see readiness.quotas).
FIREHOSE_STREAMS_PER_REGION = 50
DASHBOARD_WIDGETS = 500
# Amazon Linux 2 notebook platforms reached end of life on 2026-06-30.
RETIRED_NOTEBOOK_PLATFORM = re.compile(r"^notebook-al(1|2)-v\d+$")
# The IAM condition key naming instance types, and the API enum each action's types must be in.
INSTANCE_TYPE_ENUMS = {"sagemaker:CreateTrainingJob": "TrainingInstanceType",
                       "sagemaker:CreateEndpointConfig": "ProductionVariantInstanceType",
                       "sagemaker:CreateNotebookInstance": "InstanceType"}


def _of(program: Program, type_token: str) -> list[Declared]:
    return program.of_type(type_token)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def bucket_names(program: Program) -> Iterable[Finding]:
    for bucket in _of(program, "aws:s3/bucket:Bucket"):
        name = physical_name(bucket) or ""
        wrong = []
        if not BUCKET_NAME.match(name):
            wrong.append("3-63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit")
        if ".." in name:
            wrong.append("no two adjacent periods")
        try:
            ipaddress.ip_address(name)
            wrong.append("not formatted as an IP address")
        except ValueError:
            pass
        if name.startswith(BUCKET_PREFIXES) or name.endswith(BUCKET_SUFFIXES):
            wrong.append(f"none of the reserved prefixes {BUCKET_PREFIXES} or suffixes "
                         f"{BUCKET_SUFFIXES}")
        for rule in wrong:
            yield bucket.name, "bucket", f"{name!r} breaks S3's bucket naming rule: {rule}"


def bucket_policy_size(program: Program) -> Iterable[Finding]:
    for policy in _of(program, "aws:s3/bucketPolicy:BucketPolicy"):
        size = len(str(policy.inputs.get("policy", "")).encode())
        if size > S3_BUCKET_POLICY_BYTES:
            yield policy.name, "policy", f"{size:,} bytes, over S3's {S3_BUCKET_POLICY_BYTES:,}"


def lambda_functions(program: Program) -> Iterable[Finding]:
    for function in _of(program, "aws:lambda/function:Function"):
        name = physical_name(function) or ""
        if not LAMBDA_NAME.match(name):
            yield function.name, "name", (f"{name!r} ({len(name)} characters) is not 1-64 of "
                                          "[A-Za-z0-9_-], as Lambda requires of function names")
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in variables.items())
        if size > LAMBDA_ENVIRONMENT_BYTES:
            yield function.name, "environment", (f"{size:,} bytes of variables, over Lambda's "
                                                 f"{LAMBDA_ENVIRONMENT_BYTES:,}")


def messaging_names(program: Program) -> Iterable[Finding]:
    for topic in _of(program, "aws:sns/topic:Topic"):
        name = physical_name(topic) or ""
        if not SNS_TOPIC_NAME.match(name):
            yield topic.name, "name", f"{name!r} is not 1-256 of [A-Za-z0-9_-] (SNS topic names)"
    for queue in _of(program, "aws:sqs/queue:Queue"):
        name = physical_name(queue) or ""
        if not SQS_QUEUE_NAME.match(name):
            yield queue.name, "name", f"{name!r} is not 1-80 of [A-Za-z0-9_-] (SQS queue names)"
        retention = queue.inputs.get("messageRetentionSeconds")
        low, high = SQS_RETENTION_SECONDS
        if retention is not None and not low <= retention <= high:
            yield queue.name, "messageRetentionSeconds", \
                f"{retention:g} is outside SQS's {low:,}-{high:,} seconds"


def dynamodb(program: Program) -> Iterable[Finding]:
    for table in _of(program, "aws:dynamodb/table:Table"):
        name = physical_name(table) or ""
        if not DYNAMODB_TABLE_NAME.match(name):
            yield table.name, "name", f"{name!r} is not 3-255 of [A-Za-z0-9_.-] (table names)"
    for item in _of(program, "aws:dynamodb/tableItem:TableItem"):
        size = len(str(item.inputs.get("item", "")).encode())
        if size > DYNAMODB_ITEM_BYTES:
            yield item.name, "item", f"{size:,} bytes, over DynamoDB's 400 KB per item"


def role_inline_policies(program: Program) -> Iterable[Finding]:
    names = {r.id: physical_name(r) for r in _of(program, "aws:iam/role:Role")}
    per_role: dict[str, list[Declared]] = defaultdict(list)
    for policy in _of(program, "aws:iam/rolePolicy:RolePolicy"):
        per_role[names.get(policy.inputs.get("role"), policy.inputs.get("role"))].append(policy)
    for role, policies in per_role.items():
        size = sum(len(re.sub(r"\s", "", str(p.inputs.get("policy", "")))) for p in policies)
        if size > IAM_INLINE_POLICY_CHARS:
            yield policies[-1].name, "policy", (
                f"role {role}'s inline policies total {size:,} characters (whitespace not "
                f"counted), over IAM's {IAM_INLINE_POLICY_CHARS:,} per role")


def event_rules(program: Program) -> Iterable[Finding]:
    per_rule: dict[str, list[Declared]] = defaultdict(list)
    for target in _of(program, "aws:cloudwatch/eventTarget:EventTarget"):
        per_rule[target.inputs.get("rule")].append(target)
    for rule, targets in per_rule.items():
        if len(targets) > EVENTBRIDGE_TARGETS_PER_RULE:
            yield targets[-1].name, "rule", (f"rule {rule} has {len(targets)} targets, over "
                                             f"EventBridge's {EVENTBRIDGE_TARGETS_PER_RULE}")


def lambda_threads(program: Program) -> Iterable[Finding]:
    """The edge runs one thread per in-flight request of every target in its shard
    (handlers.edge_traffic.Shard: cap = max(1, ceil(rate * timeout)) + 1 per target)."""
    functions = {f.state.get("arn"): f for f in _of(program, "aws:lambda/function:Function")}
    for run in scheduled(program):
        function = functions.get(run.function_arn)
        payload = run.payload
        edge = function_settings(function)
        if not ("targets" in payload and isinstance(edge, edge_traffic.Settings)):
            continue
        rate, timeout = edge.requests_per_second, edge.timeout_ms / 1000
        threads = len(payload["targets"]) * (max(1, math.ceil(rate * timeout)) + 1)
        if threads > LAMBDA_THREADS:
            yield run.resource.name, run.input_property, (
                f"{len(payload['targets'])} targets at {rate} req/s with a {timeout:g} s "
                f"timeout need {threads:,} threads in one run of {physical_name(function)}, "
                f"over Lambda's {LAMBDA_THREADS:,} per execution environment")


def schedule_inputs(program: Program) -> Iterable[Finding]:
    """Scheduler's model gives Target.Input no maximum; EventBridge's 8,192 characters per
    target input is the documented bound, applied to schedules too."""
    for schedule in _of(program, SCHEDULE):
        text = str((schedule.inputs.get("target") or {}).get("input") or "")
        if len(text) > EVENTBRIDGE_INPUT_CHARS:
            yield schedule.name, "target.input", (
                f"{len(text):,} characters, over the {EVENTBRIDGE_INPUT_CHARS:,} allowed in a "
                "scheduled target's input")


def api_stages(program: Program) -> Iterable[Finding]:
    per_api: dict[str, list[Declared]] = defaultdict(list)
    for stage in _of(program, "aws:apigateway/stage:Stage"):
        per_api[stage.inputs.get("restApi")].append(stage)
        name = stage.inputs.get("stageName", "")
        if not STAGE_NAME.match(name):
            yield stage.name, "stageName", f"{name!r} is not 1-128 of [A-Za-z0-9_-]"
        for key, value in (stage.inputs.get("variables") or {}).items():
            if not STAGE_VARIABLE_NAME.match(key):
                yield stage.name, "variables", f"name {key!r} is not [A-Za-z0-9_]+"
            if not STAGE_VARIABLE_VALUE.match(str(value)):
                yield stage.name, "variables", \
                    f"{key}={value!r} is not 1-512 of [A-Za-z0-9-._~:/?#&=,]"
    for api, stages in per_api.items():
        if len(stages) > STAGES_PER_API:
            yield stages[-1].name, "restApi", (f"API {api} gets {len(stages)} stages, over "
                                               f"API Gateway's {STAGES_PER_API} per API unless raised")


def stage_throttles(program: Program) -> Iterable[Finding]:
    for settings in _of(program, "aws:apigateway/methodSettings:MethodSettings"):
        values = settings.inputs.get("settings") or {}
        rate, burst = values.get("throttlingRateLimit"), values.get("throttlingBurstLimit")
        if rate is not None and rate > ACCOUNT_THROTTLE_RATE:
            yield settings.name, "settings.throttlingRateLimit", \
                f"{rate:g} req/s, over the account's {ACCOUNT_THROTTLE_RATE:,} per region"
        if burst is not None and burst > ACCOUNT_THROTTLE_BURST:
            yield settings.name, "settings.throttlingBurstLimit", \
                f"{burst:g}, over the account's burst of {ACCOUNT_THROTTLE_BURST:,}"


def _by_account(program: Program, type_token: str) -> dict[tuple, list[Declared]]:
    where = placements(program)
    grouped: dict[tuple, list[Declared]] = defaultdict(list)
    for resource in _of(program, type_token):
        place = where.get(resource.urn) or Placement("", None, "", None)
        grouped[(place.account or "the event's account", place.region)].append(resource)
    return grouped


def reserved_concurrency(program: Program) -> Iterable[Finding]:
    for (account, region), functions in _by_account(program,
                                                    "aws:lambda/function:Function").items():
        reserved = [f for f in functions if f.inputs.get("reservedConcurrentExecutions")]
        total = sum(int(f.inputs["reservedConcurrentExecutions"]) for f in reserved)
        allowed = LAMBDA_DEFAULT_CONCURRENCY - LAMBDA_UNRESERVED_MINIMUM
        if total > allowed:
            yield reserved[-1].name, "reservedConcurrentExecutions", (
                f"{total:,} reserved in {account} ({region}), over the {allowed:,} a default "
                f"account allows ({LAMBDA_DEFAULT_CONCURRENCY:,} minus "
                f"{LAMBDA_UNRESERVED_MINIMUM} left unreserved)")


def firehose_streams(program: Program) -> Iterable[Finding]:
    for (account, region), streams in _by_account(
            program, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream").items():
        if len(streams) > FIREHOSE_STREAMS_PER_REGION:
            yield streams[FIREHOSE_STREAMS_PER_REGION].name, "name", (
                f"{len(streams)} delivery streams in {account} ({region}); Firehose's "
                f"documented default is {FIREHOSE_STREAMS_PER_REGION} per region: the "
                f"{FIREHOSE_STREAMS_PER_REGION + 1}st fails with LimitExceededException unless "
                "the quota is raised (check it: preflight with credentials)")


def dashboard_widgets(program: Program) -> Iterable[Finding]:
    for dashboard in _of(program, "aws:cloudwatch/dashboard:Dashboard"):
        body = _json(dashboard.inputs.get("dashboardBody")) or {}
        widgets = len(body.get("widgets", [])) if isinstance(body, dict) else 0
        if widgets > DASHBOARD_WIDGETS:
            yield dashboard.name, "dashboardBody", \
                f"{widgets} widgets, over CloudWatch's {DASHBOARD_WIDGETS}"


def notebook_platform(program: Program) -> Iterable[Finding]:
    for notebook in _of(program, "aws:sagemaker/notebookInstance:NotebookInstance"):
        platform = notebook.inputs.get("platformIdentifier") or ""
        if RETIRED_NOTEBOOK_PLATFORM.match(platform):
            yield notebook.name, "platformIdentifier", (
                f"{platform!r} is an Amazon Linux 1/2 platform, past its end of life "
                "(2026-06-30); use notebook-al2023-v1")


def _statements(policy: Declared) -> list[dict]:
    document = _json(policy.inputs.get("policy")) or {}
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in ([statements] if isinstance(statements, dict) else statements)
            if isinstance(s, dict)]


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def instance_type_conditions(program: Program) -> Iterable[Finding]:
    """Types an IAM condition allows for an action must be types that action accepts."""
    for policy in _of(program, "aws:iam/rolePolicy:RolePolicy"):
        for statement in _statements(policy):
            types = []
            for operator in (statement.get("Condition") or {}).values():
                types += _listed(operator.get("sagemaker:InstanceTypes", []))
            for action in _listed(statement.get("Action", [])):
                shape = INSTANCE_TYPE_ENUMS.get(action)
                if not shape or not types:
                    continue
                valid = set(api_models.enum("sagemaker", shape))
                for instance_type in types:
                    if instance_type not in valid:
                        yield policy.name, "policy", (
                            f"allows {action} on {instance_type}, which is not a value of "
                            f"SageMaker's {shape} (the API rejects it for that call)")


def cross_participant_grants(program: Program) -> Iterable[Finding]:
    """A participant's wildcard resource must not match names another participant owns:
    with ids `ada` and `ada-lovelace`, `.../aim368-ada-*` covers `aim368-ada-lovelace--...`
    (the owned shape of event/names.py, which `.../aim368-ada--*` never covers)."""
    where = placements(program)
    owners = sorted({(p.event, p.participant) for p in where.values() if p.participant})
    for policy in _of(program, "aws:iam/rolePolicy:RolePolicy"):
        place = where.get(policy.urn)
        if not place or not place.participant:
            continue
        for statement in _statements(policy):
            if statement.get("Effect") != "Allow":
                continue
            for resource in _listed(statement.get("Resource", [])):
                if not (isinstance(resource, str) and resource.startswith("arn:aws:sagemaker:")
                        and "*" in resource):
                    continue
                for event, other in owners:
                    sample = f"{ParticipantNames(event, other).owned_prefix}xgb-20260101000000"
                    head = resource.rsplit("/", 1)[0] + "/"
                    if other != place.participant and \
                            fnmatch.fnmatchcase(head + sample, resource):
                        yield policy.name, "policy", (
                            f"{place.participant}'s grant on {resource} also matches "
                            f"{other}'s resources (e.g. {sample}): ids that extend another "
                            "id need a tag condition, not a name prefix")
                        break


RULES: tuple[Rule, ...] = (
    bucket_names, bucket_policy_size, lambda_functions, messaging_names, dynamodb,
    role_inline_policies, event_rules, lambda_threads, schedule_inputs, api_stages, stage_throttles,
    reserved_concurrency, firehose_streams, dashboard_widgets, notebook_platform,
    instance_type_conditions, cross_participant_grants,
)
