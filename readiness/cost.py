"""The event's cost, per component, per hour and for its duration, from what it declares.

Counts come from the declared resources (notebooks and their types, endpoint variants,
rules and their targets, subscriptions, stages, alarms, dashboards) and from the
functions' environments (the edge's request rate, the feed's sample rate); only
behaviour that no declaration states (how long a request runs, how many jobs a
participant trains, how many people watch the leaderboard) is an `Assumptions` field,
printed with the estimate.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from handlers import edge_traffic, publish_samples, scoring
from readiness import api_models
from readiness.pricing import Prices
from readiness.program import function_settings, physical_name, scheduled
from tools.mock_program import Declared, Program

GB = 1024 ** 3
# Lambda writes START, END and REPORT lines per invocation in the Text log format.
PLATFORM_LOG_BYTES = 350
# The handlers' own one-line JSON logs (handlers/log.py), measured on representative runs.
HANDLER_LOG_BYTES = {"request": 260, "run": 220}
FIREHOSE_RECORD_BILLING_BYTES = 5 * 1024  # each record is billed in 5 KB increments
SAMPLE_ROW_BYTES = 80  # one CSV row of 13 numbers
ITEM_ATTRIBUTE_BYTES = 10  # DynamoDB number: up to 21 bytes; small counters take a few


@dataclass(frozen=True)
class Assumptions:
    hours: float = 8.0
    training_jobs_per_participant: float = 6.0
    training_minutes_per_job: float = 6.0
    request_ms: float = 60.0  # one live inference request, Lambda side
    collection_ms: float = 30.0  # one SNS delivery to a collection function
    leaderboard_viewers: int = 5
    leaderboard_ms: float = 150.0
    training_instance_type: str = ""  # empty: the first allowed training type
    # The retraining loop's jobs, per participant whose loop is on by default (one per
    # drift, plus the schedule's): a participant who turns theirs on adds as many.
    retraining_jobs_per_participant: float = 2.0


@dataclass
class Line:
    component: str
    item: str
    quantity_per_hour: float
    unit: str
    price_key: str
    unit_price: float = 0.0

    @property
    def per_hour(self) -> float:
        return self.quantity_per_hour * self.unit_price


@dataclass
class Estimate:
    participants: int
    region: str
    assumptions: Assumptions
    lines: list[Line] = field(default_factory=list)
    prices_used: str = ""

    def by_component(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for line in self.lines:
            totals[line.component] += line.per_hour
        return dict(totals)

    @property
    def per_hour(self) -> float:
        return sum(line.per_hour for line in self.lines)

    @property
    def for_event(self) -> float:
        return self.per_hour * self.assumptions.hours




class _Declared:
    """Lookups over one program run."""

    def __init__(self, program: Program):
        self.program = program
        self.functions = {f.state.get("arn"): f for f in
                          program.of_type("aws:lambda/function:Function")}
        self.by_name = {physical_name(f): f for f in self.functions.values()}

    def scheduled(self) -> list[tuple[Declared, float, dict]]:
        """(function, runs per hour, input) for every scheduled invocation."""
        return [(self.functions[s.function_arn], s.runs_per_hour, s.payload)
                for s in scheduled(self.program) if s.function_arn in self.functions]

    def edge_requests_per_participant(self) -> dict[str, float]:
        """participant -> requests per hour, from the edge's shard inputs and its rate."""
        found: dict[str, float] = defaultdict(float)
        for function, runs, payload in self.scheduled():
            edge = function_settings(function)
            if not isinstance(edge, edge_traffic.Settings):
                continue
            for target in payload.get("targets", []):
                found[target["participant"]] += (
                    runs * edge.requests_per_second * edge.period_seconds)
        return dict(found)

    def samples_per_hour(self) -> dict[str, float]:
        """topic ARN -> messages per hour, from the publisher that targets it."""
        found: dict[str, float] = defaultdict(float)
        for function, runs, _ in self.scheduled():
            feed = function_settings(function)
            if isinstance(feed, publish_samples.Settings):
                found[feed.sample_topic_arn] += (
                    runs * feed.samples_per_second * feed.period_seconds)
        return dict(found)


def _gb_second_key(function: Declared) -> str:
    architecture = (function.inputs.get("architectures") or ["x86_64"])[0]
    return f"lambda.{architecture}.gb_second"


class _LambdaUsage:
    """Invocations and GB-seconds per function role, summed over functions of that role."""

    def __init__(self) -> None:
        self.usage: dict[str, list] = {}

    def add(self, name: str, function: Declared, invocations: float, seconds: float) -> None:
        memory_gb = float(function.inputs.get("memorySize", 128)) / 1024
        entry = self.usage.setdefault(name, [0.0, 0.0, _gb_second_key(function)])
        entry[0] += invocations
        entry[1] += invocations * seconds * memory_gb

    def lines(self) -> list[Line]:
        found = []
        for name, (invocations, gb_seconds, key) in self.usage.items():
            found.append(Line("Lambda", f"{name}: {invocations:,.0f} invocations/h",
                              invocations, "requests", "lambda.request"))
            found.append(Line("Lambda", f"{name}: {gb_seconds:,.0f} GB-s/h", gb_seconds,
                              "GB-s", key))
        return found


def _log_line(component: str, log_bytes_per_hour: float) -> Line:
    return Line("CloudWatch Logs", component + f": {log_bytes_per_hour / GB:,.3f} GB/h",
                log_bytes_per_hour / GB, "GB", "logs.ingest.gb")


def _metric_line_bytes_and_count(event: str) -> tuple[int, int]:
    """One participant's EMF line from the edge, with every metric present."""
    aggregate = scoring.empty()
    scoring.record(aggregate, 100.0, "ok", 10.0)
    line = edge_traffic.metrics_line(event, "participant-000", aggregate, 0)
    metrics = json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    return len(line.encode()) + 1, len(metrics)


def _training_type(program: Program, preferred: str) -> str:
    if preferred:
        return preferred
    valid = set(api_models.enum("sagemaker", "TrainingInstanceType"))
    for policy in program.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs.get("policy") or "{}").get("Statement", []):
            if "sagemaker:CreateTrainingJob" in statement.get("Action", []):
                for operator in (statement.get("Condition") or {}).values():
                    for instance_type in operator.get("sagemaker:InstanceTypes", []):
                        if instance_type in valid:
                            return instance_type
    return "ml.m5.large"


def _retraining_lines(declared: _Declared, assumptions: Assumptions) -> list[Line]:
    """Jobs the retraining loops start (components/retraining.py), on each loop's type."""
    from handlers import retraining

    loops = [s for s in map(function_settings, declared.functions.values())
             if isinstance(s, retraining.Settings)]
    on = Counter(s.training_instance_type for s in loops if s.retraining_default)
    return [Line("SageMaker training",
                 f"{count * assumptions.retraining_jobs_per_participant:,.0f} retraining jobs x "
                 f"{assumptions.training_minutes_per_job:g} min on {instance_type}",
                 count * assumptions.retraining_jobs_per_participant
                 * assumptions.training_minutes_per_job / 60 / assumptions.hours,
                 "instance-hours", f"sagemaker.training.{instance_type}")
            for instance_type, count in on.items()]


def estimate(program: Program, prices: Prices, assumptions: Assumptions) -> Estimate:
    declared = _Declared(program)
    notebooks = program.of_type("aws:sagemaker/notebookInstance:NotebookInstance")
    participants = len(notebooks)
    result = Estimate(participants, prices.region, assumptions)
    lines = result.lines
    per_month = 1 / prices.hours_per_month

    # Lab 2: notebooks (running the whole event; the idle auto-stop can only lower this).
    for instance_type, count in Counter(n.inputs["instanceType"] for n in notebooks).items():
        lines.append(Line("SageMaker notebooks", f"{count} x {instance_type}", count,
                          "instance-hours", f"sagemaker.notebook.{instance_type}"))
    volume_gb = sum(float(n.inputs.get("volumeSize", 5)) for n in notebooks)
    lines.append(Line("SageMaker notebooks", f"{volume_gb:,.0f} GB of notebook storage",
                      volume_gb * per_month, "GB-months", "sagemaker.storage.gb_month"))

    # Lab 2: endpoints, through the configuration each one is created with.
    requests = declared.edge_requests_per_participant()
    configs = {physical_name(c): c for c in
               program.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")}
    instances: Counter = Counter()
    serverless_gb_seconds = 0.0
    for endpoint in program.of_type("aws:sagemaker/endpoint:Endpoint"):
        config = configs.get(endpoint.inputs.get("endpointConfigName"))
        owner = next((p for p in requests if physical_name(endpoint).endswith(f"-{p}-endpoint")),
                     None)
        for variant in (config.inputs.get("productionVariants") or []) if config else []:
            if variant.get("serverlessConfig"):
                memory_gb = float(variant["serverlessConfig"]["memorySizeInMb"]) / 1024
                serverless_gb_seconds += (requests.get(owner, 0.0) * assumptions.request_ms
                                          / 1000 * memory_gb)
            else:
                instances[variant["instanceType"]] += int(variant.get("initialInstanceCount", 1))
    for instance_type, count in instances.items():
        lines.append(Line("SageMaker endpoints", f"{count} x {instance_type}", count,
                          "instance-hours", f"sagemaker.hosting.{instance_type}"))
    if serverless_gb_seconds:
        lines.append(Line("SageMaker endpoints", f"serverless: {serverless_gb_seconds:,.0f} GB-s/h",
                          serverless_gb_seconds, "GB-s", "sagemaker.serverless.gb_second"))

    # Lab 2: training jobs, spread over the event.
    training_type = _training_type(program, assumptions.training_instance_type)
    job_hours = (participants * assumptions.training_jobs_per_participant
                 * assumptions.training_minutes_per_job / 60)
    lines.append(Line("SageMaker training",
                      f"{participants * assumptions.training_jobs_per_participant:,.0f} jobs x "
                      f"{assumptions.training_minutes_per_job:g} min on {training_type}",
                      job_hours / assumptions.hours, "instance-hours",
                      f"sagemaker.training.{training_type}"))

    lines += _retraining_lines(declared, assumptions)

    # Lab 3 and the event layer: the edge's requests through API Gateway to each Lambda.
    total_requests = sum(requests.values())
    lines.append(Line("API Gateway", f"{total_requests:,.0f} REST requests/h", total_requests,
                      "requests", "apigateway.rest.request"))
    stages = program.of_type("aws:apigateway/stage:Stage")
    log_bytes: dict[str, float] = defaultdict(float)
    functions = _LambdaUsage()
    for stage in stages:
        function = declared.by_name.get((stage.inputs.get("variables") or {}).get("function"))
        calls = requests.get(stage.inputs.get("stageName"), 0.0)
        if function and calls:
            functions.add("live inference", function, calls, assumptions.request_ms / 1000)
            log_bytes["live inference"] += calls * (PLATFORM_LOG_BYTES
                                                    + HANDLER_LOG_BYTES["request"])

    # Scheduled functions: the edge (one run per shard) and the FC publisher.
    emf_bytes, metrics_per_participant = _metric_line_bytes_and_count(
        next((physical_name(s.resource) for s in scheduled(program)), "event").split("-")[0])
    for function, runs, payload in declared.scheduled():
        period = float(getattr(function_settings(function), "period_seconds", 1))
        name = physical_name(function)
        functions.add(name, function, runs, period)
        log_bytes[name] += runs * (PLATFORM_LOG_BYTES + HANDLER_LOG_BYTES["run"]
                                   + emf_bytes * len(payload.get("targets", [])))

    # Lab 1: every sample reaches every subscribed collection function, then its Firehose.
    samples = declared.samples_per_hour()
    deliveries = 0.0
    for subscription in program.of_type("aws:sns/topicSubscription:TopicSubscription"):
        function = declared.functions.get(subscription.inputs.get("endpoint"))
        if subscription.inputs.get("protocol") == "lambda" and function:
            deliveries += samples.get(subscription.inputs.get("topic"), 0.0)
            collector = function
    if deliveries:
        functions.add("collection", collector, deliveries, assumptions.collection_ms / 1000)
        log_bytes["collection"] += deliveries * (PLATFORM_LOG_BYTES + HANDLER_LOG_BYTES["run"])
        lines.append(Line("SNS", f"{sum(samples.values()):,.0f} samples published/h",
                          sum(samples.values()), "requests", "sns.request"))
        lines.append(Line("Firehose", f"{deliveries:,.0f} records/h (billed per 5 KB)",
                          deliveries * FIREHOSE_RECORD_BILLING_BYTES / GB, "GB",
                          "firehose.ingest.gb"))

    # S3: Firehose writes one object per stream per buffering interval; stored data.
    streams = program.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    puts = sum(3600 / max(1.0, float((s.inputs.get("extendedS3Configuration") or {})
                                     .get("bufferingInterval", 300))) for s in streams)
    stored_gb = (deliveries * SAMPLE_ROW_BYTES * assumptions.hours / 2
                 + sum(_file_size(o) for o in program.of_type("aws:s3/bucketObjectv2:BucketObjectv2"))
                 ) / GB
    lines.append(Line("S3", f"{puts:,.0f} PUTs/h from Firehose", puts, "requests",
                      "s3.put_request"))
    lines.append(Line("S3", f"{stored_gb:,.2f} GB stored (data set, artifacts, samples)",
                      stored_gb * per_month, "GB-months", "s3.storage.gb_month"))

    # DynamoDB: one ADD per participant per edge run; the leaderboard reads a minute and
    # the roster per page view (finished minutes are cached in the function).
    item_kb = math.ceil((len(scoring.FIELDS) * ITEM_ATTRIBUTE_BYTES + 64) / 1024)
    edge_writes = sum(runs * len(p.get("targets", [])) for _, runs, p in declared.scheduled())
    lines.append(Line("DynamoDB", f"{edge_writes:,.0f} writes/h", edge_writes * item_kb,
                      "write units", "dynamodb.write_unit"))
    # Page views reach the leaderboard's URL; the portal's is opened a few times per
    # participant (a handful of requests, well under a cent) and is not a viewer load.
    urls = program.of_type("aws:lambda/functionUrl:FunctionUrl")
    for url in urls:
        function = declared.by_name.get(url.inputs.get("functionName"))
        if function and function.inputs.get("handler") != "handlers.leaderboard.handler":
            continue
        refresh = float(getattr(function_settings(function), "refresh_seconds", 60))
        views = assumptions.leaderboard_viewers * 3600 / refresh
        read_units = views * 2 * math.ceil(participants * item_kb / 4) * 0.5
        lines.append(Line("DynamoDB", f"{views:,.0f} leaderboard views/h", read_units,
                          "read units", "dynamodb.read_unit"))
        if function:
            functions.add("leaderboard", function, views, assumptions.leaderboard_ms / 1000)
            log_bytes["leaderboard"] += views * PLATFORM_LOG_BYTES

    lines += functions.lines()
    for component, size in sorted(log_bytes.items()):
        lines.append(_log_line(component, size))

    # CloudWatch: the edge's EMF metrics per participant, alarms, dashboards.
    metric_count = metrics_per_participant * participants
    lines.append(Line("CloudWatch metrics", f"{metric_count:,} custom metrics (EMF)",
                      metric_count * per_month, "metric-months", "cloudwatch.metric_month"))
    # A metric alarm is billed per metric it evaluates (metric math: each metric queried).
    alarms = program.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    alarm_metrics = sum(max(1, sum(1 for q in a.inputs.get("metricQueries") or [] if q.get("metric")))
                        for a in alarms)
    lines.append(Line("CloudWatch alarms", f"{len(alarms):,} alarms on {alarm_metrics:,} metrics",
                      alarm_metrics * per_month, "alarm-metric-months", "cloudwatch.alarm_month"))
    composites = len(program.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm"))
    if composites:
        lines.append(Line("CloudWatch alarms", f"{composites:,} composite alarms",
                          composites * per_month, "alarm-months",
                          "cloudwatch.composite_alarm_month"))
    dashboards = len(program.of_type("aws:cloudwatch/dashboard:Dashboard"))
    lines.append(Line("CloudWatch dashboard", f"{dashboards} dashboard(s)",
                      dashboards * per_month, "dashboard-months", "cloudwatch.dashboard_month"))

    for line in lines:
        line.unit_price = prices.get(line.price_key)
    result.prices_used = prices.summary()
    return result


def _file_size(bucket_object: Declared) -> int:
    source = bucket_object.inputs.get("source")
    path = getattr(source, "path", None)
    return os.path.getsize(path) if path and os.path.exists(path) else 0


def price_keys(program: Program, assumptions: Assumptions) -> list[str]:
    """Every price an estimate of this program needs (for the Price List API)."""
    from readiness.pricing import bundled_prices  # the keys, not the values
    probe = bundled_prices("us-east-1")
    probe.table = defaultdict(float, probe.table)
    return sorted({line.price_key for line in estimate(program, probe, assumptions).lines})
