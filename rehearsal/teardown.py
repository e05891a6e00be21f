"""The rehearsal's last phase: tear the event down as `fleet destroy` does, then audit.

`fleet destroy` sweeps each participant before their stack goes (readiness.sweep.Sweeper:
stop their training jobs, delete their models, endpoint configurations and log streams,
by exact name shape and tag), destroys the stacks, then audits (readiness.sweep.Auditor)
and fails while anything billable is left. Here the same sweeper and auditor run against
the moto world, and "destroy" deletes exactly what the rehearsal created from the
program's declarations (world.provision), as `pulumi destroy` would.

So that the sweep has something to find, every participant's notebook leaves what a real
one does and `destroy` never knows (`plant`, after Lab 2): a training job still running,
its model and endpoint configuration, all tagged as their role's tag-on-create condition
requires (components/model_training.py), and the log stream SageMaker writes for the job.
Participants with the retraining loop also leave its jobs, models and configurations.

Where moto falls short, the rehearsal says so and covers it, never inventing a result:
- moto 5.2.5 completes every training job at creation and has no StopTrainingJob:
  `RunningJobs` keeps the planted jobs InProgress until the sweep stops them;
- its tagging API returns endpoint configuration ARNs as a Python tuple's text:
  `RepairedTagging` reads the ARN out of it.
Declared resources are tagged in moto with their provider's default tags (and their own),
as Pulumi would, so the audit's tag search finds anything `destroy` missed.
"""

from __future__ import annotations

import ast
import contextlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
from botocore.exceptions import ClientError

from event.names import ParticipantNames
from readiness.sweep import SHARED_LOG_GROUPS, Auditor, Leftover, Sweeper
from rehearsal.world import World, participant_of

TRAINING_LOG_GROUP = SHARED_LOG_GROUPS[0]  # /aws/sagemaker/TrainingJobs
MOTO_NOTE = ("moto 5.2.5 completes training jobs at once and lacks StopTrainingJob: the "
             "planted jobs are kept InProgress by the rehearsal until the sweep stops them")


class RunningJobs:
    """moto's SageMaker client, with jobs in `running` listed InProgress until stopped."""

    def __init__(self, client):
        self._client, self.running, self.stopped = client, set(), []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def list_training_jobs(self, **kwargs):
        wanted = kwargs.pop("StatusEquals", None)  # filtered here, after the override
        page = self._client.list_training_jobs(**kwargs)
        for job in page["TrainingJobSummaries"]:
            if job["TrainingJobName"] in self.running:
                job["TrainingJobStatus"] = "InProgress"
        if wanted:
            page["TrainingJobSummaries"] = [j for j in page["TrainingJobSummaries"]
                                            if j["TrainingJobStatus"] == wanted]
        return page

    def stop_training_job(self, TrainingJobName):
        if TrainingJobName not in self.running:  # as SageMaker: only a running job stops
            raise ValueError(f"training job {TrainingJobName} is not InProgress")
        self.running.discard(TrainingJobName)
        self.stopped.append(TrainingJobName)


class RepairedTagging:
    """The tagging client, with moto's tuple-text ARNs turned back into ARNs."""

    def __init__(self, client):
        self._client = client

    def get_resources(self, **kwargs):
        page = self._client.get_resources(**kwargs)
        for mapping in page.get("ResourceTagMappingList", []):
            arn = mapping["ResourceARN"]
            if arn.startswith("('"):
                mapping["ResourceARN"] = ast.literal_eval(arn)[0]
        return page


def _tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def plant(world: World, participants: list[str], event: str, sagemaker: RunningJobs) -> list[str]:
    """What each participant's notebook leaves behind; the names created."""
    logs, created = boto3.client("logs"), []
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)  # SageMaker's, shared
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    for participant in participants:
        declared = participant_of(world.program, f"{participant}-lab2",
                                  "aws:sagemaker/model:Model").inputs
        image, role = declared["primaryContainer"]["image"], declared["executionRoleArn"]
        bucket = world.program.outputs["participants"][participant]["bucket"]
        tags = _tag_list({"Participant": participant, "Event": event, "Purpose": "lab2"})
        name = f"{ParticipantNames(event, participant).owned_prefix}xgb-{stamp}"
        sagemaker.create_training_job(
            TrainingJobName=name, RoleArn=role, Tags=tags,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/lab2/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                            "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600})
        sagemaker.running.add(name)
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=role, Tags=tags,
                               PrimaryContainer={"Image": image})
        sagemaker.create_endpoint_config(EndpointConfigName=name, Tags=tags, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP,
                               logStreamName=f"{name}/algo-1-{stamp}")
        created.append(name)
    return created


def _declared_tags(world: World, declared) -> dict[str, str]:
    """The provider's default tags and the resource's own, as Pulumi applies them."""
    provider = world.program.by_urn(declared.provider_urn) if declared.provider_urn else None
    defaults = ((provider.inputs if provider else {}).get("defaultTags") or {})
    if isinstance(defaults, str):
        defaults = json.loads(defaults)
    return {**(defaults.get("tags") or {}), **(declared.inputs.get("tags") or {})}


@dataclass
class _Declared:
    """What `pulumi destroy` deletes: the resources the rehearsal created from declarations."""

    kind: str
    name: str
    tags: dict[str, str]


def _declared(world: World) -> list[_Declared]:
    program, found = world.program, []
    for kind, token, name in (
            ("bucket", "aws:s3/bucket:Bucket", lambda d: d.state["bucket"]),
            ("delivery stream", "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
             lambda d: d.inputs["name"]),
            ("table", "aws:dynamodb/table:Table", lambda d: d.inputs["name"]),
            ("secret", "aws:secretsmanager/secret:Secret",
             lambda d: world.secrets.get(d.state.get("arn", ""), "")),
            ("topic", "aws:sns/topic:Topic", lambda d: d.state["arn"]),
            ("endpoint", "aws:sagemaker/endpoint:Endpoint", lambda d: d.inputs["name"]),
            ("notebook instance", "aws:sagemaker/notebookInstance:NotebookInstance",
             lambda d: d.inputs["name"])):
        found += [_Declared(kind, name(d), _declared_tags(world, d)) for d in program.of_type(token)]
    return [d for d in found if d.name]


def _exists(call) -> bool:
    try:
        call()
        return True
    except ClientError:
        return False


def tag_declared(world: World, sagemaker) -> None:
    """Put the declared tags on what exists in moto (the rehearsal provisions untagged)."""
    clients = {k: boto3.client(k) for k in ("s3", "firehose", "dynamodb", "secretsmanager", "sns")}
    for resource in _declared(world):
        if not resource.tags:
            continue
        tags, name = _tag_list(resource.tags), resource.name
        if resource.kind == "bucket":
            clients["s3"].put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
        elif resource.kind == "delivery stream":
            clients["firehose"].tag_delivery_stream(DeliveryStreamName=name, Tags=tags)
        elif resource.kind == "table":
            arn = clients["dynamodb"].describe_table(TableName=name)["Table"]["TableArn"]
            clients["dynamodb"].tag_resource(ResourceArn=arn, Tags=tags)
        elif resource.kind == "secret":
            clients["secretsmanager"].tag_resource(SecretId=name, Tags=tags)
        elif resource.kind == "topic":
            clients["sns"].tag_resource(ResourceArn=name, Tags=tags)
        elif resource.kind == "endpoint" and _exists(
                lambda n=name: sagemaker.describe_endpoint(EndpointName=n)):
            arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
            sagemaker.add_tags(ResourceArn=arn, Tags=tags)
        elif resource.kind == "notebook instance" and _exists(
                lambda n=name: sagemaker.describe_notebook_instance(NotebookInstanceName=n)):
            arn = sagemaker.describe_notebook_instance(
                NotebookInstanceName=name)["NotebookInstanceArn"]
            sagemaker.add_tags(ResourceArn=arn, Tags=tags)


def destroy(world: World, sagemaker) -> list[str]:
    """Delete what the program declared, as `pulumi destroy` would; what was deleted."""
    s3, deleted = boto3.client("s3"), []
    for resource in _declared(world):
        name = resource.name
        if resource.kind == "bucket":
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=name, Key=item["Key"])  # forceDestroy
            s3.delete_bucket(Bucket=name)
        elif resource.kind == "delivery stream":
            boto3.client("firehose").delete_delivery_stream(DeliveryStreamName=name)
        elif resource.kind == "table":
            boto3.client("dynamodb").delete_table(TableName=name)
        elif resource.kind == "secret":
            boto3.client("secretsmanager").delete_secret(SecretId=name,
                                                         ForceDeleteWithoutRecovery=True)
        elif resource.kind == "topic":
            boto3.client("sns").delete_topic(TopicArn=name)
        elif resource.kind == "endpoint":
            if not _exists(lambda n=name: sagemaker.describe_endpoint(EndpointName=n)):
                continue  # only looping participants' endpoints exist in moto
            sagemaker.delete_endpoint(EndpointName=name)
        elif resource.kind == "notebook instance":
            try:
                status = sagemaker.describe_notebook_instance(
                    NotebookInstanceName=name)["NotebookInstanceStatus"]
            except ClientError:
                continue  # the portal phase creates them in moto; nothing else does
            if status != "Stopped":  # SageMaker deletes only a stopped notebook instance
                sagemaker.stop_notebook_instance(NotebookInstanceName=name)
            sagemaker.delete_notebook_instance(NotebookInstanceName=name)
        deleted.append(f"{resource.kind} {name}")
    return deleted


@dataclass
class Teardown:
    """What the final phase found, removed and left; `failed` while anything billable is left."""

    before: list[Leftover] = field(default_factory=list)  # participants' own, before the sweep
    swept: dict[str, list[str]] = field(default_factory=dict)  # participant -> what went
    unswept: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    after: list[Leftover] = field(default_factory=list)  # the audit, after destroy

    @property
    def billable(self) -> list[Leftover]:
        return [leftover for leftover in self.after if leftover.billable]

    @property
    def failed(self) -> bool:
        return bool(self.billable)

    def lines(self) -> list[str]:
        removed = sum(len(done) for done in self.swept.values())
        lines = ["", "Teardown (as `fleet destroy`): sweep every participant, destroy what the "
                     "program declares, audit",
                 f"  leftovers of the participants' own before the sweep: {len(self.before)} "
                 f"({sum(item.billable for item in self.before)} billable)"
                 + _by_kind(self.before),
                 f"  removed or stopped by the sweep: {removed} in {len(self.swept)} sweeps"]
        if self.unswept:
            lines.append(f"  sweep skipped for: {', '.join(self.unswept)}")
        lines.append(f"  destroy: deleted {len(self.destroyed)} declared resources")
        free = len(self.after) - len(self.billable)
        if self.failed:
            lines.append(f"  audit: {len(self.after)} leftovers, {len(self.billable)} billable: "
                         "FAILED")
            lines += [f"    BILLABLE {item.kind} {item.name} ({item.why})"
                      for item in self.billable]
        else:
            lines.append(f"  audit: nothing billable left ({free} free leftover"
                         f"{'' if free == 1 else 's'}{_by_kind(self.after)})")
        lines.append(f"  ({MOTO_NOTE})")
        return lines


def _by_kind(items: list[Leftover]) -> str:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return (": " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))) if counts else ""


def _participants_own(leftover: Leftover, event: str, participants: list[str]) -> bool:
    """Named in a participant's own shape, `<event>-<id>--` (log streams after the group)."""
    name = leftover.name.split(":", 1)[-1] if leftover.kind == "logs:log-stream" else leftover.name
    return any(name.startswith(ParticipantNames(event, p).owned_prefix) for p in participants)


def teardown(world: World, participants: list[str], event: str, sagemaker: RunningJobs,
             unswept: Collection[str] = ()) -> Teardown:
    """Sweep everyone (but `unswept`, for tests of a failing audit), destroy, audit."""
    logs = boto3.client("logs")
    tag_declared(world, sagemaker)
    auditor = Auditor(event, RepairedTagging(boto3.client("resourcegroupstaggingapi")),
                      sagemaker, logs)
    result = Teardown(before=[item for item in auditor.leftovers()
                              if _participants_own(item, event, participants)])
    sweeper = Sweeper(event, participants, sagemaker, logs)
    for participant in participants:
        if participant in unswept:
            result.unswept.append(participant)
            continue
        report = sweeper.sweep(participant)
        result.swept[participant] = (report.stopped_jobs + report.deleted_endpoints
                                     + report.deleted_configs + report.deleted_models
                                     + report.deleted_log_streams + report.deleted_log_groups)
    result.destroyed = destroy(world, sagemaker)
    result.after = auditor.leftovers()
    return result
