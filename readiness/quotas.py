"""The account's quotas against what the event needs, with the codes to request.

Needs are counted from the declared resources in the event's account (participants with
their own account need the same check there). Quota codes are looked up at run time by
quota name with Service Quotas' ListServiceQuotas, so a renamed or re-coded quota shows
up as "not found" instead of a wrong number; `--request-increases` files
RequestServiceQuotaIncrease for every quota that is short.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers import edge_traffic
from readiness import api_models
from readiness.limits import LAMBDA_UNRESERVED_MINIMUM
from readiness.program import function_settings, physical_name, placements
from readiness.program import scheduled as scheduled_runs
from tools.mock_program import Program


@dataclass(frozen=True)
class Need:
    service: str  # Service Quotas service code
    quota_name: str  # exact QuotaName in Service Quotas
    needed: int
    why: str


@dataclass
class Row:
    need: Need
    code: str = ""
    value: float | None = None
    in_use: int = 0  # already used by something other than this event

    @property
    def gap(self) -> float | None:
        return None if self.value is None else self.value - self.in_use - self.need.needed

    @property
    def short(self) -> bool:
        return self.gap is None or self.gap < 0


def _in_event_account(program: Program):
    where = placements(program)
    return lambda resource: not (where.get(resource.urn)
                                 and where[resource.urn].account)


def needs(program: Program, training_jobs_at_once: int = 1,
          concurrent_requests_ms: float = 60.0) -> list[Need]:
    """What the event's account must allow, from what the program declares there."""
    here = _in_event_account(program)
    found: list[Need] = []

    def of(type_token: str) -> list:
        return [r for r in program.of_type(type_token) if here(r)]

    streams = of("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    found.append(Need("firehose", "Delivery streams per Region", len(streams),
                      f"{len(streams)} delivery streams, one per participant"))

    notebooks = of("aws:sagemaker/notebookInstance:NotebookInstance")
    for instance_type, count in sorted(Counter(n.inputs["instanceType"] for n in notebooks).items()):
        found.append(Need("sagemaker", f"{instance_type} for notebook instance usage", count,
                          f"{count} notebooks"))
    found.append(Need("sagemaker", "Total number of notebook instances", len(notebooks),
                      f"{len(notebooks)} notebooks"))

    configs = {physical_name(c): c for c in
               of("aws:sagemaker/endpointConfiguration:EndpointConfiguration")}
    hosted: Counter = Counter()
    serverless_endpoints, serverless_concurrency = 0, 0
    for endpoint in of("aws:sagemaker/endpoint:Endpoint"):
        config = configs.get(endpoint.inputs.get("endpointConfigName"))
        for variant in (config.inputs.get("productionVariants") or []) if config else []:
            if variant.get("serverlessConfig"):
                serverless_endpoints += 1
                serverless_concurrency += int(variant["serverlessConfig"]["maxConcurrency"])
            else:
                hosted[variant["instanceType"]] += int(variant.get("initialInstanceCount", 1))
    for instance_type, count in sorted(hosted.items()):
        found.append(Need("sagemaker", f"{instance_type} for endpoint usage", count,
                          f"{count} endpoint instances"))
    if serverless_endpoints:
        found.append(Need("sagemaker", "Maximum number of serverless endpoints",
                          serverless_endpoints, f"{serverless_endpoints} serverless endpoints"))
        found.append(Need("sagemaker", "Maximum total concurrency that can be allocated across "
                          "all serverless endpoints", serverless_concurrency,
                          f"{serverless_endpoints} x their max concurrency"))

    # Training: every participant may train on any allowed training type at the same moment.
    participants = len(notebooks)
    for instance_type in _training_types(of("aws:iam/rolePolicy:RolePolicy")):
        count = participants * training_jobs_at_once
        found.append(Need("sagemaker", f"{instance_type} for training job usage", count,
                          f"{participants} participants x {training_jobs_at_once} job(s) at once"))

    functions = of("aws:lambda/function:Function")
    reserved = sum(int(f.inputs.get("reservedConcurrentExecutions") or 0) for f in functions)
    busy = _steady_concurrency(program, concurrent_requests_ms)
    found.append(Need("lambda", "Concurrent executions",
                      reserved + LAMBDA_UNRESERVED_MINIMUM + busy,
                      f"{reserved} reserved + {LAMBDA_UNRESERVED_MINIMUM} that must stay "
                      f"unreserved + about {busy} busy at once"))

    apis = of("aws:apigateway/restApi:RestApi")
    found.append(Need("apigateway", "Regional APIs per account", len(apis),
                      f"{len(apis)} shared live inference APIs"))
    stages = Counter(s.inputs.get("restApi") for s in of("aws:apigateway/stage:Stage"))
    if stages:
        most = max(stages.values())
        found.append(Need("apigateway", "Stages per API", most, f"up to {most} stages on one API"))
    return found


def _training_types(policies: list) -> list[str]:
    valid = set(api_models.enum("sagemaker", "TrainingInstanceType"))
    found: set[str] = set()
    for policy in policies:
        for statement in json.loads(policy.inputs.get("policy") or "{}").get("Statement", []):
            if "sagemaker:CreateTrainingJob" in statement.get("Action", []):
                for operator in (statement.get("Condition") or {}).values():
                    found |= {t for t in operator.get("sagemaker:InstanceTypes", []) if t in valid}
    return sorted(found)


def _steady_concurrency(program: Program, request_ms: float) -> int:
    """Scheduled targets run about their whole period; requests overlap by their duration."""
    # Recurring function runs (paused ones run again when resumed); the end-of-event
    # schedules call SageMaker, not Lambda.
    scheduled = len([run for run in scheduled_runs(program)
                     if run.function_arn.startswith("arn:aws:lambda:")])
    rates = []
    for function in program.of_type("aws:lambda/function:Function"):
        edge = function_settings(function)
        if isinstance(edge, edge_traffic.Settings):
            rates.append(edge.requests_per_second)
    stages = len(program.of_type("aws:apigateway/stage:Stage"))
    per_second = stages * (max(rates) if rates else 0)
    return scheduled + math.ceil(per_second * request_ms / 1000)


def _all_quotas(client, service: str) -> list[dict[str, Any]]:
    found, token = [], None
    while True:
        page = client.list_service_quotas(ServiceCode=service, **({"NextToken": token}
                                                                   if token else {}))
        found += page.get("Quotas", [])
        token = page.get("NextToken")
        if not token:
            return found


def _firehose_in_use(client, ours: set[str]) -> int:
    """Delivery streams in the region that are not this event's."""
    names, start = [], None
    while True:
        page = client.list_delivery_streams(Limit=100, **({"ExclusiveStartDeliveryStreamName":
                                                           start} if start else {}))
        names += page["DeliveryStreamNames"]
        if not page.get("HasMoreDeliveryStreams") or not page["DeliveryStreamNames"]:
            return len([n for n in names if n not in ours])
        start = page["DeliveryStreamNames"][-1]


def check(wanted: list[Need], quotas_client, lambda_client=None, firehose_client=None,
          our_streams: set[str] = frozenset()) -> list[Row]:
    """Applied quota values (and what else already uses them) for every need."""
    by_service: dict[str, dict[str, dict]] = {}
    rows = []
    for need in wanted:
        if need.service not in by_service:
            by_service[need.service] = {q["QuotaName"]: q for q in
                                        _all_quotas(quotas_client, need.service)}
        quota = by_service[need.service].get(need.quota_name)
        row = Row(need, code=quota["QuotaCode"] if quota else "",
                  value=quota.get("Value") if quota else None)
        if need.service == "lambda" and lambda_client is not None:
            # The account's real limit; new accounts can have far less than the quota says.
            limit = lambda_client.get_account_settings()["AccountLimit"]
            row.value = min(v for v in (row.value, limit["ConcurrentExecutions"])
                            if v is not None)
        if need.service == "firehose" and firehose_client is not None:
            row.in_use = _firehose_in_use(firehose_client, set(our_streams))
        rows.append(row)
    return rows


def request_increases(rows: list[Row], quotas_client,
                      say: Callable[[str], None] = print) -> list[str]:
    """File an increase request for every short quota that has a code; return the ids."""
    filed = []
    for row in rows:
        if not row.short or not row.code:
            continue
        desired = float(row.need.needed + row.in_use)
        answer = quotas_client.request_service_quota_increase(
            ServiceCode=row.need.service, QuotaCode=row.code, DesiredValue=desired)
        request = answer["RequestedQuota"]
        filed.append(request["Id"])
        say(f"requested {row.need.service} {row.code} ({row.need.quota_name}) = {desired:g}: "
            f"{request.get('Status', 'PENDING')}")
    return filed
