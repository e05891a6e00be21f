"""Leave nothing behind: the participant sweep before `destroy`, the audit after it.

What a participant's role can create outside Pulumi (components/model_training.py):
training jobs, models and endpoint configurations named `<event>-<id>-*`, updates of their
own endpoint, and log streams in SageMaker's shared log groups. `pulumi destroy` knows
none of them. Ownership is decided by exact name shape, never by a bare prefix: ids can
extend each other (`ada`, `ada-lovelace`), so a name belongs to the participant whose
`<event>-<id>-` is the longest that starts it, or to the one its Participant tag names
when that tag agrees with the name. A resource Pulumi manages (tag ManagedBy=pulumi) is
left to `destroy`, unless the sweep runs after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from event.names import ParticipantNames

MANAGED_TAG = ("ManagedBy", "pulumi")
# SageMaker log groups that participants' jobs, endpoints and notebooks write into.
SHARED_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/NotebookInstances")


def owner(name: str, event: str, participants: Iterable[str],
          tags: dict[str, str] | None = None) -> str | None:
    """Whose resource `name` is: the Participant tag if the name agrees, else the longest id."""
    matching = [p for p in participants if name.startswith(f"{event}-{p}-")]
    tagged = (tags or {}).get("Participant")
    if tagged in matching:
        return tagged
    return max(matching, key=len) if matching else None


def _pages(method: Callable[..., dict], key: str, **kwargs: Any) -> list[dict]:
    found, token = [], None
    while True:
        page = method(**kwargs, **({"NextToken": token} if token else {}))
        found += page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return found


@dataclass
class SweepReport:
    participant: str
    stopped_jobs: list[str] = field(default_factory=list)
    deleted_endpoints: list[str] = field(default_factory=list)
    deleted_configs: list[str] = field(default_factory=list)
    deleted_models: list[str] = field(default_factory=list)
    deleted_log_streams: list[str] = field(default_factory=list)
    deleted_log_groups: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # with the reason

    def lines(self) -> list[str]:
        done = [("stopped training job", self.stopped_jobs),
                ("deleted endpoint", self.deleted_endpoints),
                ("deleted endpoint configuration", self.deleted_configs),
                ("deleted model", self.deleted_models),
                ("deleted log stream", self.deleted_log_streams),
                ("deleted log group", self.deleted_log_groups)]
        return ([f"{what}: {name}" for what, names in done for name in names]
                + [f"kept: {reason}" for reason in self.kept])


class Sweeper:
    """Sweeps one participant's leftovers; clients are injected (boto3 or moto)."""

    def __init__(self, event: str, participants: Iterable[str], sagemaker, logs=None,
                 after_destroy: bool = False, dry_run: bool = False):
        self.event, self.participants = event, list(participants)
        self.sagemaker, self.logs = sagemaker, logs
        self.after_destroy, self.dry_run = after_destroy, dry_run

    def _tags(self, arn: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in
                _pages(self.sagemaker.list_tags, "Tags", ResourceArn=arn)}

    def _mine(self, items: list[dict], name_key: str, arn_key: str,
              participant: str, report: SweepReport) -> list[tuple[str, str]]:
        """(name, arn) of the items `participant` owns and this sweep may delete."""
        found = []
        for item in items:
            name, arn = item[name_key], item[arn_key]
            if not name.startswith(f"{self.event}-{participant}-"):
                continue
            tags = self._tags(arn)
            if owner(name, self.event, self.participants, tags) != participant:
                continue
            if not self.after_destroy and tags.get(MANAGED_TAG[0]) == MANAGED_TAG[1]:
                report.kept.append(f"{name} (managed by Pulumi: destroy deletes it)")
                continue
            found.append((name, arn))
        return found

    def sweep(self, participant: str) -> SweepReport:
        if participant not in self.participants:
            raise ValueError(f"{participant!r} is not in the roster")
        report = SweepReport(participant)
        sm, prefix = self.sagemaker, f"{self.event}-{participant}-"
        managed_endpoint = ParticipantNames(self.event, participant).endpoint

        jobs = _pages(sm.list_training_jobs, "TrainingJobSummaries", NameContains=prefix,
                      StatusEquals="InProgress")
        for name, _ in self._mine(jobs, "TrainingJobName", "TrainingJobArn", participant, report):
            report.stopped_jobs.append(name)
            if not self.dry_run:
                sm.stop_training_job(TrainingJobName=name)

        endpoints = _pages(sm.list_endpoints, "Endpoints", NameContains=prefix)
        surviving = []
        for endpoint in endpoints:
            name = endpoint["EndpointName"]
            ours = self._mine([endpoint], "EndpointName", "EndpointArn", participant, report)
            if ours and (name != managed_endpoint or self.after_destroy):
                report.deleted_endpoints.append(name)
                if not self.dry_run:
                    sm.delete_endpoint(EndpointName=name)
            else:
                surviving.append(name)
        in_use_configs, in_use_models = self._in_use(surviving)

        configs = _pages(sm.list_endpoint_configs, "EndpointConfigs", NameContains=prefix)
        for name, _ in self._mine(configs, "EndpointConfigName", "EndpointConfigArn",
                                  participant, report):
            if name in in_use_configs:
                report.kept.append(f"{name} (in use by a live endpoint)")
                continue
            report.deleted_configs.append(name)
            if not self.dry_run:
                sm.delete_endpoint_config(EndpointConfigName=name)

        models = _pages(sm.list_models, "Models", NameContains=prefix)
        for name, _ in self._mine(models, "ModelName", "ModelArn", participant, report):
            if name in in_use_models:
                report.kept.append(f"{name} (served by a live endpoint)")
                continue
            report.deleted_models.append(name)
            if not self.dry_run:
                sm.delete_model(ModelName=name)

        if self.logs is not None:
            self._sweep_logs(participant, report)
        return report

    def _in_use(self, endpoints: list[str]) -> tuple[set[str], set[str]]:
        """Configurations and models that live endpoints (ours kept, or anyone's) serve."""
        configs, models = set(), set()
        for name in endpoints:
            config = self.sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            configs.add(config)
            variants = self.sagemaker.describe_endpoint_config(
                EndpointConfigName=config)["ProductionVariants"]
            models |= {v["ModelName"] for v in variants}
        return configs, models

    def _sweep_logs(self, participant: str, report: SweepReport) -> None:
        logs, prefix = self.logs, f"{self.event}-{participant}-"
        for group in SHARED_LOG_GROUPS:
            try:
                streams = _pages_token(logs.describe_log_streams, "logStreams",
                                       token_key="nextToken", logGroupName=group,
                                       logStreamNamePrefix=prefix)
            except logs.exceptions.ResourceNotFoundException:
                continue
            for stream in streams:
                name = stream["logStreamName"]
                if owner(name, self.event, self.participants) == participant:
                    report.deleted_log_streams.append(f"{group}:{name}")
                    if not self.dry_run:
                        logs.delete_log_stream(logGroupName=group, logStreamName=name)
        if self.after_destroy:
            group = f"/aws/sagemaker/Endpoints/{ParticipantNames(self.event, participant).endpoint}"
            found = _pages_token(logs.describe_log_groups, "logGroups", token_key="nextToken",
                                 logGroupNamePrefix=group)
            for each in found:
                if each["logGroupName"] == group:
                    report.deleted_log_groups.append(group)
                    if not self.dry_run:
                        logs.delete_log_group(logGroupName=group)


# --- the audit -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    billable: bool
    why: str


# ARN "<service>:<resource type>" -> billable while it exists, and why.
BILLABLE = {
    "sagemaker:endpoint": (True, "instance-hours or serverless capacity"),
    "sagemaker:notebook-instance": (True, "instance-hours, or storage while stopped"),
    "s3:bucket": (True, "storage"),
    "dynamodb:table": (True, "storage"),
    "logs:log-group": (True, "stored log data"),
    "cloudwatch:alarm": (True, "per alarm-month"),
    "events:rule": (True, "a schedule keeps invoking its targets"),
    "firehose:deliverystream": (False, "charged per GB ingested only"),
    "lambda:function": (False, "charged per invocation only"),
    "sagemaker:model": (False, "no charge"),
    "sagemaker:endpoint-config": (False, "no charge"),
}


UNTYPED_ARN_KINDS = {"sqs": "queue", "sns": "topic"}


def _arn_kind(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    service, rest = parts[2], parts[5]
    if service == "s3":
        return "s3:bucket", rest
    # The resource type ends at the first "/" or ":", whichever comes first: a log group's
    # ARN is `log-group:/aws/lambda/x`, a model's `model/name`.
    cut = min((i for i in (rest.find("/"), rest.find(":")) if i >= 0), default=-1)
    if cut >= 0:
        return f"{service}:{rest[:cut]}", rest[cut + 1:]
    # Queues and topics have no type in their ARN: `arn:aws:sqs:<region>:<account>:<name>`.
    return f"{service}:{UNTYPED_ARN_KINDS.get(service, rest)}", rest


class Auditor:
    """Everything still carrying the event's tag or name shape; clients are injected."""

    def __init__(self, event: str, tagging, sagemaker, logs=None):
        self.event, self.tagging, self.sagemaker, self.logs = event, tagging, sagemaker, logs

    def leftovers(self) -> list[Leftover]:
        found: dict[tuple[str, str], Leftover] = {}

        def add(kind: str, name: str, billable: bool | None = None, why: str = "") -> None:
            default = BILLABLE.get(kind, (False, "no idle charge known"))
            found[(kind, name)] = Leftover(kind, name, default[0] if billable is None else billable,
                                           why or default[1])

        mappings = _pages_token(self.tagging.get_resources, "ResourceTagMappingList",
                                TagFilters=[{"Key": "Event", "Values": [self.event]}])
        for mapping in mappings:
            add(*_arn_kind(mapping["ResourceARN"]))
        shape = f"{self.event}-"
        sm = self.sagemaker
        # Finished training jobs stay listed forever, cannot be deleted and cost nothing.
        for job in _pages(sm.list_training_jobs, "TrainingJobSummaries", NameContains=shape):
            if job["TrainingJobStatus"] in ("InProgress", "Stopping"):
                add("sagemaker:training-job", job["TrainingJobName"], True,
                    "still running: instance-hours")
        for model in _pages(sm.list_models, "Models", NameContains=shape):
            add("sagemaker:model", model["ModelName"])
        for config in _pages(sm.list_endpoint_configs, "EndpointConfigs", NameContains=shape):
            add("sagemaker:endpoint-config", config["EndpointConfigName"])
        for endpoint in _pages(sm.list_endpoints, "Endpoints", NameContains=shape):
            add("sagemaker:endpoint", endpoint["EndpointName"])
        for notebook in _pages(sm.list_notebook_instances, "NotebookInstances",
                               NameContains=shape):
            add("sagemaker:notebook-instance", notebook["NotebookInstanceName"])
        if self.logs is not None:
            self._logs(add)
        return sorted(found.values(), key=lambda leftover: (not leftover.billable,
                                                            leftover.kind, leftover.name))

    def _logs(self, add: Callable[..., None]) -> None:
        for prefix in (f"/aws/lambda/{self.event}-", f"/aws/kinesisfirehose/{self.event}-",
                       f"/aws/sagemaker/Endpoints/{self.event}-"):
            for group in _pages_token(self.logs.describe_log_groups, "logGroups",
                                      token_key="nextToken", logGroupNamePrefix=prefix):
                add("logs:log-group", group["logGroupName"])
        for group in SHARED_LOG_GROUPS:
            try:
                streams = _pages_token(self.logs.describe_log_streams, "logStreams",
                                       token_key="nextToken", logGroupName=group,
                                       logStreamNamePrefix=f"{self.event}-")
            except self.logs.exceptions.ResourceNotFoundException:
                continue
            for stream in streams:
                add("logs:log-stream", f"{group}:{stream['logStreamName']}", True,
                    "stored log data")


def _pages_token(method: Callable[..., dict], key: str, token_key: str = "PaginationToken",
                 **kwargs: Any) -> list[dict]:
    found, token = [], None
    while True:
        page = method(**kwargs, **({token_key: token} if token else {}))
        found += page.get(key, [])
        token = page.get(token_key)
        if not token:
            return found
