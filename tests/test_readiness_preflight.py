"""The offline preflight: declared inputs against AWS's constraints, one line per problem."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from event.config import ConfigError
from handlers import edge_traffic
from readiness.preflight import Problem, preflight, unchecked_types
from readiness.program import declare, synthetic_roster
from tests.kit import DEFAULT_CONFIG, DEFAULT_ROSTER
from tools.mock_program import Declared, Program

# What the current components get wrong, reported until the component fix lands (see
# the README's preflight section): the retired notebook platform. (ml.c5.large among the training types
# is gone since training and hosting types are separate lists.)
RETIRED_PLATFORM = "platformIdentifier"
TRAINING_GRANT = "allows sagemaker:CreateTrainingJob on ml.c5.large"


def genuine(problem: Problem) -> bool:
    return problem.prop == RETIRED_PLATFORM


PROVIDER = "urn:pulumi:test::ml-workshop::pulumi:providers:aws::p"


def resource(type_token: str, name: str, inputs: dict[str, Any],
             state: dict[str, Any] | None = None, provider: str = PROVIDER) -> Declared:
    return Declared(urn=f"urn:{type_token}::{name}", id=f"{name}-id", type=type_token, name=name,
                    inputs=inputs, state=state or dict(inputs), parent="",
                    provider=f"{provider}::p-id", dependencies=[], custom=True)


def provider(participant: str | None = None, name: str = "p") -> Declared:
    tags = {"Event": "ev", **({"Participant": participant} if participant else {})}
    return Declared(urn=f"urn:pulumi:test::ml-workshop::pulumi:providers:aws::{name}",
                    id=f"{name}-id", type="pulumi:providers:aws", name=name,
                    inputs={"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})},
                    state={}, parent="", provider="", dependencies=[], custom=True)


def lines(*resources: Declared) -> list[str]:
    return [str(p) for p in preflight(Program(resources=[provider(), *resources]))]


# --- the program as declared ---------------------------------------------------------------

@pytest.fixture(scope="module")
def default_run() -> Program:
    return declare(DEFAULT_CONFIG, roster=DEFAULT_ROSTER)


def test_every_declared_type_is_covered(default_run):
    assert unchecked_types(default_run) == []


def test_default_roster_has_only_the_known_component_problems(default_run):
    found = preflight(default_run)
    assert [str(p) for p in found if not genuine(p)] == []
    notebooks = {p.resource for p in found if p.prop == RETIRED_PLATFORM}
    assert notebooks == set()  # on notebook-al2023-v1 now
    assert not [p for p in found if TRAINING_GRANT in p.limit]  # training types are their own list


def test_300_participants_add_only_the_firehose_quota():
    found = preflight(declare(DEFAULT_CONFIG, roster=synthetic_roster(300)))
    others = [p for p in found if not genuine(p)]
    assert len(others) == 1 and "300 delivery streams" in others[0].limit \
        and "LimitExceededException" in others[0].limit, others
    assert [p for p in found if p.prop == RETIRED_PLATFORM] == []


def _edge_shard(program: Program) -> tuple[Declared, dict]:
    shard = program.named("aim368-fc-edge-shard-01")
    return shard, json.loads(shard.inputs["target"]["input"])


def test_a_shard_input_over_8192_characters_is_refused_by_the_config_and_reported(default_run):
    # Config validation refuses it first (for the longest ids the roster allows) ...
    roster = [{"name": f"Participant With Long Name Number {n:02d}"} for n in range(50)]
    with pytest.raises(ConfigError, match=r"EventBridge's 8192; lower edgeShardSize to \d+"):
        declare({**DEFAULT_CONFIG, "edgeShardSize": "50"}, roster=roster)
    # ... and preflight still checks what was declared, whatever produced it.
    program = copy.deepcopy(default_run)
    shard, payload = _edge_shard(program)
    for target in payload["targets"]:  # three targets with very long ids: size, not threads
        target.update({key: value + "x" * 3_000 for key, value in target.items()
                       if isinstance(value, str)})
    shard.inputs["target"]["input"] = json.dumps(payload)
    others = [str(p) for p in preflight(program) if not genuine(p)]
    assert len(others) == 1, others
    assert others[0].startswith("aim368-fc-edge-shard-01: target.input: ") and \
        "characters, over the 8,192 allowed in a scheduled target's input" in others[0]


def test_too_many_edge_threads_are_refused_by_the_config_and_reported(default_run):
    heavy = {**DEFAULT_CONFIG, "edgeShardSize": "50", "edgeRequestsPerSecond": "20",
             "edgeTimeoutMs": "10000"}  # (ceil(20 * 10) + 1) = 201 threads per participant
    with pytest.raises(ConfigError, match="need 10050 threads in one edge function"):
        declare(heavy, roster=DEFAULT_ROSTER)
    program = copy.deepcopy(default_run)
    edge = program.named("aim368-fc-edge", "aws:lambda/function:Function")
    variables = edge.inputs["environment"]["variables"]
    names = edge_traffic.Settings.variables()
    for field, value in [("requests_per_second", "20"), ("timeout_ms", "10000")]:
        assert names[field] in variables, sorted(variables)
        variables[names[field]] = value
    assert [str(p) for p in preflight(program) if not genuine(p)] == []  # 3 x 201 = 603: fine
    shard, payload = _edge_shard(program)
    payload["targets"] = payload["targets"] * 2
    shard.inputs["target"]["input"] = json.dumps(payload)
    assert [str(p) for p in preflight(program) if not genuine(p)] == [
        ("aim368-fc-edge-shard-01: target.input: 6 targets at 20 req/s with a 10 s timeout need 1,206 "
         "threads in one run of aim368-fc-edge, over Lambda's 1,024 per execution environment")]


def test_participants_whose_ids_extend_another_id_no_longer_cross():
    # `<event>-<id>--*` (event/names.py) keeps `ada`'s grants off `ada-lovelace`'s names.
    found = preflight(declare(DEFAULT_CONFIG, roster=[{"name": "Ada"}, {"name": "Ada Lovelace"}]))
    assert [str(p) for p in found if not genuine(p)] == []


def test_a_prefix_grant_that_covers_another_participants_names_is_reported():
    from readiness.limits import cross_participant_grants
    declared = declare(DEFAULT_CONFIG, roster=[{"name": "Ada"}, {"name": "Ada Lovelace"}])
    policy = declared.named("aim368-ada-sagemaker-policy")
    document = json.loads(policy.inputs["policy"])
    old_shape = "arn:aws:sagemaker:us-east-1:111111111111:model/aim368-ada-*"
    document["Statement"].append({"Effect": "Allow", "Action": ["sagemaker:DeleteModel"],
                                  "Resource": [old_shape]})
    policy.inputs["policy"] = json.dumps(document)
    [(resource, prop, limit)] = list(cross_participant_grants(declared))
    assert (resource, prop) == ("aim368-ada-sagemaker-policy", "policy")
    assert "also matches ada-lovelace's resources (e.g. aim368-ada-lovelace--xgb-" in limit


# --- crafted inputs, one limit each ------------------------------------------------------------

LAMBDA = {"name": "fn", "role": "arn:aws:iam::111111111111:role/fn", "handler": "m.handler",
          "runtime": "python3.14", "timeout": 30.0, "memorySize": 256.0}


def test_a_valid_function_passes():
    assert lines(resource("aws:lambda/function:Function", "fn", LAMBDA)) == []


@pytest.mark.parametrize("change, expected", [
    ({"runtime": "python2.6"}, ["fn: runtime: Runtime: 'python2.6' is not one of the API's"]),
    ({"timeout": 0.0}, ["fn: timeout: Timeout: 0, under the API's minimum of 1"]),
    ({"memorySize": 64.0}, ["fn: memorySize: MemorySize: 64, under the API's minimum of 128"]),
    ({"handler": "has space"}, ["fn: handler: Handler: 'has space' does not match"]),
    ({"role": "not-an-arn"}, ["fn: role: Role: 'not-an-arn' does not match"]),
])
def test_lambda_create_function_constraints(change, expected):
    found = lines(resource("aws:lambda/function:Function", "fn", {**LAMBDA, **change}))
    assert len(found) == len(expected), found
    for line, start in zip(found, expected):
        assert line.startswith(start), line


def test_function_names_over_64_characters_are_reported_once():
    found = lines(resource("aws:lambda/function:Function", "fn", {**LAMBDA, "name": "f" * 65}))
    assert found == [(f"fn: name: {'f' * 65!r} (65 characters) is not 1-64 of [A-Za-z0-9_-], as "
                     "Lambda requires of function names")]


def test_firehose_stream_name_and_buffering():
    stream = resource("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "s", {
        "name": "bad name", "destination": "extended_s3",
        "extendedS3Configuration": {"bucketArn": "arn:aws:s3:::b", "roleArn":
                                    "arn:aws:iam::111111111111:role/r", "bufferingSize": 200.0}})
    assert lines(stream) == [
        ("s: extendedS3Configuration: ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs:"
        " 200, over the API's maximum of 128"),
        ("s: name: DeliveryStreamName: 'bad name' does not match the API's pattern "
        "[a-zA-Z0-9_.-]+")]


@pytest.mark.parametrize("bucket, rule", [
    ("Has-Capitals-1234567", "3-63 of a-z"), ("ab", "3-63 of a-z"),
    ("a..b", "no two adjacent periods"), ("192.168.5.4", "IP address"),
    ("xn--bucket", "reserved prefixes"), ("bucket-s3alias", "reserved prefixes"),
])
def test_s3_bucket_naming_rules(bucket, rule):
    found = lines(resource("aws:s3/bucket:Bucket", "b", {}, state={"bucket": bucket}))
    assert len(found) == 1 and found[0].startswith("b: bucket: ") and rule in found[0], found


def test_role_name_path_and_inline_policy_total():
    role = resource("aws:iam/role:Role", "r", {"name": "r" * 65, "path": "no-slashes",
                                               "assumeRolePolicy": "{}"})
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "k" * 60}
    big = json.dumps({"Version": "2012-10-17", "Statement": [statement] * 60})
    policies = [resource("aws:iam/rolePolicy:RolePolicy", f"r-policy-{n}",
                         {"role": "other", "name": f"p{n}", "policy": big}) for n in (1, 2)]
    found = lines(role, *policies)
    total = 2 * len(big.replace(" ", ""))
    assert total > 10_240 > total / 2
    assert found == [
        "r: name: RoleName: 65 characters, over the API's maximum of 64",
        ("r: path: Path: 'no-slashes' does not match the API's pattern "
        "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"),
        "r-policy-2: policy: role other" + f"'s inline policies total {total:,} characters "
        "(whitespace not counted), over IAM's 10,240 per role"]


def test_sagemaker_names_and_instance_type_enums():
    role = "arn:aws:iam::111111111111:role/sm"
    found = lines(
        resource("aws:sagemaker/notebookInstance:NotebookInstance", "nb",
                 {"name": "nb_underscore", "instanceType": "ml.c5.large", "roleArn": role}),
        resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "cfg",
                 {"productionVariants": [{"variantName": "AllTraffic", "modelName": "m",
                                          "instanceType": "ml.c5.huge",
                                          "initialInstanceCount": 1.0}]},
                 state={"name": "c" * 64}),
        resource("aws:sagemaker/model:Model", "model", {"executionRoleArn": role},
                 state={"name": "m-ok"}))
    assert found == [
        "cfg: name: EndpointConfigName: '" + "c" * 64 + "' does not match the API's pattern "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        "cfg: name: EndpointConfigName: 64 characters, over the API's maximum of 63",
        ("cfg: productionVariants: ProductionVariants[0].InstanceType: 'ml.c5.huge' is not one "
        "of the API's 277 allowed values (ProductionVariantInstanceType)"),
        ("nb: instanceType: InstanceType: 'ml.c5.large' is not one of the API's 189 allowed "
        "values (InstanceType)"),
        ("nb: name: NotebookInstanceName: 'nb_underscore' does not match the API's pattern "
        "[a-zA-Z0-9](-*[a-zA-Z0-9])*")]


def test_training_and_hosting_types_in_iam_conditions_are_told_apart():
    statements = [
        {"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob"], "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"sagemaker:InstanceTypes":
                                                     ["ml.m5.large", "ml.c5.large"]}}},
        {"Effect": "Allow", "Action": ["sagemaker:CreateEndpointConfig"], "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"sagemaker:InstanceTypes":
                                                     ["ml.m5.large", "ml.c5.large"]}}}]
    policy = resource("aws:iam/rolePolicy:RolePolicy", "sm-policy",
                      {"role": "sm", "name": "p", "policy": json.dumps({"Statement": statements})})
    assert lines(policy) == [
        ("sm-policy: policy: allows sagemaker:CreateTrainingJob on ml.c5.large, which is not a "
        "value of SageMaker's TrainingInstanceType (the API rejects it for that call)")]


def test_event_rules_targets_and_input_size():
    rule = resource("aws:cloudwatch/eventRule:EventRule", "rule",
                    {"name": "rule", "scheduleExpression": "rate(1 minute)", "state": "ON"})
    targets = [resource("aws:cloudwatch/eventTarget:EventTarget", f"t{n}",
                        {"rule": "rule", "arn": "arn:aws:lambda:us-east-1:1:function:f",
                         "input": "x" * (8193 if n == 5 else 10)}) for n in range(6)]
    assert lines(rule, *targets) == [
        "rule: state: State: 'ON' is not one of the API's 3 allowed values (RuleState)",
        "t5: input: Targets[0].Input: 8193 characters, over the API's maximum of 8192",
        "t5: rule: rule rule has 6 targets, over EventBridge's 5"]


def test_api_gateway_stages():
    stages = [resource("aws:apigateway/stage:Stage", f"s{n}",
                       {"restApi": "api", "stageName": f"stage-{n}",
                        "variables": {"function": "fn"}}) for n in range(11)]
    bad = resource("aws:apigateway/stage:Stage", "bad",
                   {"restApi": "other", "stageName": "has space",
                    "variables": {"bad-name": "a value"}})
    assert lines(*stages, bad) == [
        "bad: stageName: 'has space' is not 1-128 of [A-Za-z0-9_-]",
        "bad: variables: bad-name='a value' is not 1-512 of [A-Za-z0-9-._~:/?#&=,]",
        "bad: variables: name 'bad-name' is not [A-Za-z0-9_]+",
        "s9: restApi: API api gets 11 stages, over API Gateway's 10 per API unless raised"
        .replace("s9", "s10")]


def test_alarm_table_topic_queue_and_log_group_names():
    found = lines(
        resource("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm",
                 {"name": "a" * 256, "comparisonOperator": "GreaterThanThreshold",
                  "evaluationPeriods": 5.0, "statistic": "Mean"}),
        resource("aws:dynamodb/table:Table", "table", {"name": "ab", "billingMode": "ON_DEMAND"}),
        resource("aws:sns/topic:Topic", "topic", {"name": "has.dot"}),
        resource("aws:sqs/queue:Queue", "queue", {"name": "q" * 81,
                                                  "messageRetentionSeconds": 30.0}),
        resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/aws/lambda/has space"}))
    assert found == [
        "alarm: name: AlarmName: 256 characters, over the API's maximum of 255",
        "alarm: statistic: Statistic: 'Mean' is not one of the API's 5 allowed values (Statistic)",
        ("logs: name: logGroupName: '/aws/lambda/has space' does not match the API's pattern "
        "[\\.\\-_/#A-Za-z0-9]+"),
        "queue: messageRetentionSeconds: 30 is outside SQS's 60-1,209,600 seconds",
        "queue: name: '" + "q" * 81 + "' is not 1-80 of [A-Za-z0-9_-] (SQS queue names)",
        ("table: billingMode: BillingMode: 'ON_DEMAND' is not one of the API's 2 allowed values "
        "(BillingMode)"),
        "table: name: 'ab' is not 3-255 of [A-Za-z0-9_.-] (table names)",
        "topic: name: 'has.dot' is not 1-256 of [A-Za-z0-9_-] (SNS topic names)"]


def test_reserved_concurrency_must_leave_the_unreserved_minimum():
    functions = [resource("aws:lambda/function:Function", f"fn{n}",
                          {**LAMBDA, "name": f"fn{n}", "reservedConcurrentExecutions": 300.0})
                 for n in range(4)]
    assert lines(*functions) == [
        ("fn3: reservedConcurrentExecutions: 1,200 reserved in the event's account (us-east-1), "
        "over the 900 a default account allows (1,000 minus 100 left unreserved)")]


def test_lifecycle_scripts_over_16384_characters():
    script = resource("aws:sagemaker/notebookInstanceLifecycleConfiguration:"
                      "NotebookInstanceLifecycleConfiguration", "lc",
                      {"name": "lc", "onStart": "A" * 16385})
    assert lines(script) == [("lc: onStart: OnStart[0].Content: 16385 characters, over the "
                             "API's maximum of 16384")]


def test_scheduler_schedules_against_create_schedule_and_the_input_limit():
    target = {"arn": "arn:aws:lambda:us-east-1:111111111111:function:f",
              "roleArn": "arn:aws:iam::111111111111:role/r", "input": "x" * 8193,
              "retryPolicy": {"maximumRetryAttempts": 0}}
    good = resource("aws:scheduler/schedule:Schedule", "good",
                    {"name": "good", "scheduleExpression": "rate(1 minute)", "state": "ENABLED",
                     "flexibleTimeWindow": {"mode": "OFF"}, "target": {**target, "input": "{}"}})
    bad = resource("aws:scheduler/schedule:Schedule", "bad",
                   {"name": "has space", "scheduleExpression": "rate(1 minute)",
                    "state": "ON", "flexibleTimeWindow": {"mode": "SOMETIMES"},
                    "target": {**target, "roleArn": "not-a-role"}})
    assert lines(good, bad) == [
        "bad: flexibleTimeWindow: FlexibleTimeWindow.Mode: 'SOMETIMES' is not one of the "
        "API's 2 allowed values (FlexibleTimeWindowMode)",
        "bad: name: Name: 'has space' does not match the API's pattern [0-9a-zA-Z-_.]+",
        "bad: state: State: 'ON' is not one of the API's 2 allowed values (ScheduleState)",
        "bad: target: Target.RoleArn: 'not-a-role' does not match the API's pattern "
        "arn:aws[a-z-]*:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+",
        "bad: target.input: 8,193 characters, over the 8,192 allowed in a scheduled target's input"]
