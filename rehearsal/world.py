"""The AWS side of the rehearsal, made from what the Pulumi program declares.

There is no second list of resources: buckets, delivery streams, the sample topic and its
subscriptions, the scores table and its roster items, the API stages and their stage
variables, and every Lambda's handler and environment come from the declared resources
(tools.mock_program). Before anything runs, the wiring is checked the way AWS would
enforce it at run time (a subscription needs a permission for its topic, a stage's
function needs a permission for its API and stage, an environment must name what
exists); a mistake is reported, not papered over.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from handlers import clients
from handlers.environment import SettingsError, variable_name
from tools.mock_program import Declared, Program

FUNCTION = "aws:lambda/function:Function"

# The account the rehearsal stands for is the one the organizer will really have: quotas
# raised where the event needs more than AWS's default. Firehose's CreateDeliveryStream
# reference states a default of 50 delivery streams per Region (moto enforces exactly
# that, in DeliveryStream.MAX_STREAMS_PER_REGION, with no setting to change it), while
# large Regions allow 5,000 on request (docs.aws.amazon.com/general/latest/gr/fh.html);
# an event needs one stream per participant.
REHEARSED_FIREHOSE_STREAMS = 5_000
# What AWS calls the quota behind each refused call, for the one-line message.
QUOTA_NAMES = {"CreateDeliveryStream": "Amazon Data Firehose: delivery streams per Region",
               "CreateBucket": "Amazon S3: general purpose buckets per account",
               "CreateTable": "Amazon DynamoDB: tables per Region",
               "CreateTopic": "Amazon SNS: topics per account",
               "CreateQueue": "Amazon SQS: queues per Region"}


class QuotaError(RuntimeError):
    """AWS (here, the emulator) refused to create something: a quota was reached."""


@contextlib.contextmanager
def rehearsed_account():
    """moto with the raised quotas of an event's account, restored on exit.

    Narrow on purpose: moto has no setting for this limit, so the class constant it
    checks is raised for the rehearsal only, and put back whatever happens.
    """
    from moto.firehose.models import DeliveryStream
    default = DeliveryStream.MAX_STREAMS_PER_REGION
    DeliveryStream.MAX_STREAMS_PER_REGION = REHEARSED_FIREHOSE_STREAMS
    try:
        yield
    finally:
        DeliveryStream.MAX_STREAMS_PER_REGION = default


def quota_refusal(error: ClientError) -> QuotaError | None:
    """One line naming the quota for a LimitExceeded* refusal; None for any other error."""
    code = error.response.get("Error", {}).get("Code", "")
    if not code.startswith("LimitExceeded"):
        return None
    operation = getattr(error, "operation_name", "") or "a call"
    quota = QUOTA_NAMES.get(operation, f"the quota behind {operation}")
    reason = (error.response.get("Error", {}).get("Message") or code).split(". ")[0]
    return QuotaError(f"the account's quota is too low for this event: {quota} "
                      f"({operation} refused: {reason[:160]}); request an increase in "
                      "Service Quotas before the event")


@contextlib.contextmanager
def quota_refusals():
    """Turn a LimitExceeded* refusal met while creating resources into its one-line QuotaError."""
    try:
        yield
    except ClientError as error:
        refusal = quota_refusal(error)
        if refusal is None:
            raise
        raise refusal from None


class WiringError(RuntimeError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the program's wiring is broken:\n" +
                         "\n".join(f"  - {p}" for p in problems))


@dataclass
class Function:
    """A declared Lambda: its handler module and environment."""

    name: str
    arn: str
    module: str  # handlers.<module>
    env: dict[str, str]

    def code(self):
        return importlib.import_module(self.module)

    def settings(self):
        """The environment read through the handler's own contract, as Lambda would."""
        return self.code().Settings.from_environment(self.env)


@dataclass
class World:
    program: Program
    functions: dict[str, Function] = field(default_factory=dict)  # by ARN
    subscribers: dict[str, list[Function]] = field(default_factory=dict)  # topic ARN -> functions
    stages: dict[str, Function] = field(default_factory=dict)  # stage name -> function
    problems: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # declared ARN -> ARN in moto

    def scoring_secret_arn(self, declared: str) -> str:
        """The moto ARN of the edge's scoring secret: the declared one, created at
        provisioning, or (while the program declares none) one made here, so the edge
        never runs without its secret."""
        if declared in self.secrets:
            return self.secrets[declared]
        return boto3.client("secretsmanager").create_secret(
            Name="rehearsal-scoring-secret", SecretString=secrets.token_hex(32))["ARN"]

    def by_name(self, name: str) -> Function | None:
        return next((f for f in self.functions.values() if f.name == name), None)

    def scheduled(self) -> list[tuple[Declared, Function, dict | None]]:
        """(schedule, function, constant input) for every scheduled invocation."""
        from readiness.program import scheduled

        found = []
        for run in scheduled(self.program):
            if not run.function_arn.startswith("arn:aws:lambda:"):
                continue  # the end-of-event schedules call SageMaker directly
            function = self.functions.get(run.function_arn)
            if function is None:
                self.problems.append(f"schedule {run.resource.name} names no declared function")
                continue
            found.append((run.resource, function, run.payload or None))
        return found


def _cold_start(modules: set[str]) -> None:
    """Fresh module state for every handler: a new rehearsal gets new Lambda containers
    (no boto3 client cached against the previous rehearsal's endpoints)."""
    clients.forget()
    for module in modules:
        if module in sys.modules:
            importlib.reload(sys.modules[module])


def _functions(program: Program, world: World) -> None:
    for declared in program.of_type(FUNCTION):
        variables = (declared.inputs.get("environment") or {}).get("variables") or {}
        module = declared.inputs["handler"].rsplit(".", 1)[0]
        world.functions[declared.state["arn"]] = Function(declared.inputs["name"],
                                                          declared.state["arn"], module,
                                                          dict(variables))


def _permissions(program: Program) -> list[dict]:
    return [p.inputs for p in program.of_type("aws:lambda/permission:Permission")]


def _allowed(permissions: list[dict], function: Function, principal: str, source: str) -> bool:
    return any(p["function"] == function.name and p["principal"] == principal
               and p.get("sourceArn") == source for p in permissions)


def declared_tags(program: Program, declared: Declared) -> dict[str, str]:
    """The provider's default tags and the resource's own, as Pulumi applies them."""
    provider = program.by_urn(declared.provider_urn) if declared.provider_urn else None
    defaults = ((provider.inputs if provider else {}).get("defaultTags") or {})
    if isinstance(defaults, str):
        defaults = json.loads(defaults)
    return {**(defaults.get("tags") or {}), **(declared.inputs.get("tags") or {})}


def _tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _storage(program: Program) -> None:
    s3, firehose = boto3.client("s3"), boto3.client("firehose")
    for bucket in program.of_type("aws:s3/bucket:Bucket"):
        s3.create_bucket(Bucket=bucket.state["bucket"])
        if tags := declared_tags(program, bucket):
            s3.put_bucket_tagging(Bucket=bucket.state["bucket"],
                                  Tagging={"TagSet": _tag_list(tags)})
    for stream in program.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"):
        destination = stream.inputs["extendedS3Configuration"]
        firehose.create_delivery_stream(
            DeliveryStreamName=stream.inputs["name"], DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": destination["roleArn"], "BucketARN": destination["bucketArn"],
                "Prefix": "samples/"},
            **({"Tags": _tag_list(tags)} if (tags := declared_tags(program, stream)) else {}))


def _tables(program: Program) -> None:
    dynamodb = boto3.client("dynamodb")
    for table in program.of_type("aws:dynamodb/table:Table"):
        inputs = table.inputs
        dynamodb.create_table(
            TableName=inputs["name"], BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": inputs["hashKey"], "KeyType": "HASH"},
                       {"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]}
                                  for a in inputs["attributes"]],
            **({"Tags": _tag_list(tags)} if (tags := declared_tags(program, table)) else {}))
    for item in program.of_type("aws:dynamodb/tableItem:TableItem"):
        dynamodb.put_item(TableName=item.inputs["tableName"], Item=json.loads(item.inputs["item"]))


def _secrets(program: Program, world: World) -> None:
    """Every declared secret, with a fresh random value: what deploy time generates."""
    client = boto3.client("secretsmanager")
    for secret in program.of_type("aws:secretsmanager/secret:Secret"):
        tags = declared_tags(program, secret)
        created = client.create_secret(Name=secret.inputs.get("name") or secret.name,
                                       SecretString=secrets.token_hex(32),
                                       **({"Tags": _tag_list(tags)} if tags else {}))
        world.secrets[secret.state.get("arn", "")] = created["ARN"]


def _topics(program: Program, world: World, tap_queue_arn: Callable[[str], str]) -> None:
    _create_topics(program, world)
    _subscriptions(program, world)
    for arn in world.subscribers:  # the rehearsal's own tap, to hand deliveries to handlers
        boto3.client("sns").subscribe(TopicArn=arn, Protocol="sqs", Endpoint=tap_queue_arn(arn))


def _create_topics(program: Program, world: World) -> None:
    sns = boto3.client("sns")
    for topic in program.of_type("aws:sns/topic:Topic"):
        tags = declared_tags(program, topic)
        arn = sns.create_topic(Name=topic.inputs["name"],
                               **({"Tags": _tag_list(tags)} if tags else {}))["TopicArn"]
        if arn != topic.state["arn"]:
            world.problems.append(f"topic {topic.inputs['name']} would be {arn}, "
                                  f"declared as {topic.state['arn']}")


def _subscriptions(program: Program, world: World) -> None:
    """Which declared functions each declared topic delivers to, as SNS may invoke them."""
    topics = {t.state["arn"] for t in program.of_type("aws:sns/topic:Topic")}
    permissions = _permissions(program)
    for subscription in program.of_type("aws:sns/topicSubscription:TopicSubscription"):
        inputs = subscription.inputs
        if inputs["protocol"] != "lambda":
            continue
        function = world.functions.get(inputs["endpoint"])
        if inputs["topic"] not in topics:
            world.problems.append(f"{subscription.name} subscribes to {inputs['topic']}, "
                                  "which is not a declared topic")
        elif function is None:
            world.problems.append(f"{subscription.name} delivers to {inputs['endpoint']}, "
                                  "which is not a declared function")
        elif not _allowed(permissions, function, "sns.amazonaws.com", inputs["topic"]):
            world.problems.append(f"SNS may not invoke {function.name}: no permission "
                                  f"for {inputs['topic']}")
        else:
            world.subscribers.setdefault(inputs["topic"], []).append(function)


# The declared kinds created in moto beyond what the labs run on, each with its declared
# tags, so that the teardown's audit (a search by tag) can find any that `destroy` misses.
# Not created: kinds moto's tag search cannot list (event rules: it lists only event
# buses), kinds it lacks (composite alarms), and untaggable ones (dashboards); the
# teardown summary names every declared kind the audit does not cover.
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
QUEUE = "aws:sqs/queue:Queue"
PARAMETER = "aws:ssm/parameter:Parameter"


def _metric_query(query: dict) -> dict:
    """A declared metric query, as PutMetricAlarm's `Metrics` takes it."""
    shaped = {"Id": query["id"], "ReturnData": bool(query.get("returnData", True))}
    if query.get("expression"):
        shaped["Expression"] = query["expression"]
    if query.get("label"):
        shaped["Label"] = query["label"]
    if metric := query.get("metric"):
        shaped["MetricStat"] = {
            "Metric": {"Namespace": metric["namespace"], "MetricName": metric["metricName"],
                       "Dimensions": [{"Name": k, "Value": v} for k, v in
                                      (metric.get("dimensions") or {}).items()]},
            "Period": int(metric["period"]), "Stat": metric["stat"]}
    return shaped


def _monitoring(program: Program) -> None:
    """Log groups, metric alarms, queues and parameters, tagged as declared."""
    from tools.mock_program import reveal

    logs, cloudwatch = boto3.client("logs"), boto3.client("cloudwatch")
    sqs, ssm = boto3.client("sqs"), boto3.client("ssm")
    for group in program.of_type(LOG_GROUP):
        logs.create_log_group(logGroupName=group.inputs["name"],
                              tags=declared_tags(program, group))
    for alarm in program.of_type(METRIC_ALARM):
        inputs = alarm.inputs
        metric = ({"Metrics": [_metric_query(q) for q in inputs["metricQueries"]]}
                  if inputs.get("metricQueries") else {
                      "MetricName": inputs["metricName"], "Namespace": inputs["namespace"],
                      "Statistic": inputs["statistic"], "Period": int(inputs["period"]),
                      "Dimensions": [{"Name": k, "Value": v} for k, v in
                                     (inputs.get("dimensions") or {}).items()]})
        cloudwatch.put_metric_alarm(
            AlarmName=inputs["name"], ComparisonOperator=inputs["comparisonOperator"],
            EvaluationPeriods=int(inputs["evaluationPeriods"]),
            Threshold=float(inputs["threshold"]),
            ActionsEnabled=bool(inputs.get("actionsEnabled", True)),
            Tags=_tag_list(declared_tags(program, alarm)), **metric)
    for queue in program.of_type(QUEUE):
        sqs.create_queue(QueueName=queue.inputs["name"], tags=declared_tags(program, queue))
    for parameter in program.of_type(PARAMETER):
        inputs = reveal(parameter.inputs)
        # A participant stack's bucket parameter is declared with `insecureValue`.
        value = inputs["value"] if "value" in inputs else inputs["insecureValue"]
        ssm.put_parameter(Name=inputs["name"], Value=str(value),
                          Type=inputs.get("type", "String"),
                          Tags=_tag_list(declared_tags(program, parameter)))


def _stages(program: Program, world: World) -> None:
    apis = {a.id: a for a in program.of_type("aws:apigateway/restApi:RestApi")}
    uris = {i.inputs["restApi"]: i.inputs["uri"]
            for i in program.of_type("aws:apigateway/integration:Integration")}
    permissions = _permissions(program)
    for stage in program.of_type("aws:apigateway/stage:Stage"):
        inputs = stage.inputs
        uri = uris.get(inputs["restApi"], "")
        variable = uri.split("${stageVariables.")[-1].split("}")[0] if "${stageVariables." in uri else None
        name = (inputs.get("variables") or {}).get(variable) if variable else None
        function = world.by_name(name) if name else None
        if function is None:
            world.problems.append(f"stage {inputs['stageName']} routes to {name!r}, "
                                  "which is not a declared function")
            continue
        source = f"{apis[inputs['restApi']].state['executionArn']}/{inputs['stageName']}" \
                 "/GET/liveinference"
        if not _allowed(permissions, function, "apigateway.amazonaws.com", source):
            world.problems.append(f"API Gateway may not invoke {function.name} for stage "
                                  f"{inputs['stageName']}")
            continue
        world.stages[inputs["stageName"]] = function


def _environments(program: Program, world: World) -> None:
    """Names in the functions' environments must be things that exist."""
    streams = {s.inputs["name"] for s in
               program.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")}
    endpoints = {e.inputs["name"] for e in program.of_type("aws:sagemaker/endpoint:Endpoint")}
    tables = {t.inputs["name"] for t in program.of_type("aws:dynamodb/table:Table")}
    topics = {t.state["arn"] for t in program.of_type("aws:sns/topic:Topic")}
    checks = {"delivery_stream_name": streams, "endpoint_name": endpoints, "table_name": tables,
              "sample_topic_arn": topics}
    for function in world.functions.values():
        try:
            settings = function.settings()
        except SettingsError as error:
            world.problems.append(f"{function.name}: {error}")
            continue
        for field_name, known in checks.items():
            value = getattr(settings, field_name, None)
            if value is not None and value not in known:
                world.problems.append(f"{function.name}: {variable_name(field_name)}={value} "
                                      f"names nothing declared")


def provision(program: Program, tap_queue_arn: Callable[[str], str]) -> World:
    """Create in moto what the program declares; raise WiringError on any mistake."""
    world = World(program)
    _functions(program, world)
    _cold_start({f.module for f in world.functions.values()})
    with quota_refusals():
        _storage(program)
        _tables(program)
        _secrets(program, world)
        _topics(program, world, tap_queue_arn)
        _monitoring(program)
    _stages(program, world)
    _environments(program, world)
    world.scheduled()
    if world.problems:
        raise WiringError(world.problems)
    return world


def provision_stack(program: Program, stack: Program, world: World) -> None:
    """Create in moto what one stack of `program` declares (a participant stack again,
    after `fleet reset`), then check the whole program's wiring anew; WiringError on any
    mistake. The rehearsal's tap already listens to the topics (the event stack's)."""
    world.program = program
    _functions(stack, world)
    with quota_refusals():
        _storage(stack)
        _tables(stack)
        _secrets(stack, world)
        _create_topics(stack, world)
        _monitoring(stack)
    world.subscribers.clear()
    world.stages.clear()
    _subscriptions(program, world)
    _stages(program, world)
    _environments(program, world)
    world.scheduled()
    if world.problems:
        raise WiringError(world.problems)


def participant_of(program: Program, component: str, type_token: str) -> Declared:
    [found] = [r for r in program.within(component) if r.type == type_token]
    return found
