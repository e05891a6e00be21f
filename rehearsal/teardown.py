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
Everything the rehearsal creates from the declarations is tagged in moto with its
provider's default tags (and its own), as Pulumi would: at provisioning
(rehearsal.world), or here for what later phases create. `destroy` has its own list of
what to delete (DELETERS), so a kind it forgets is left tagged and the audit's tag search
finds it. The summary names the declared kinds the rehearsal never creates in moto, which
the audit therefore cannot cover.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
from botocore.exceptions import ClientError

from event.names import ParticipantNames
from readiness.sweep import SHARED_LOG_GROUPS, Auditor, Leftover, Sweeper
from rehearsal.world import LOG_GROUP, METRIC_ALARM, PARAMETER, QUEUE, World, declared_tags, participant_of
from tools.moto_gaps import RunningJobs

TRAINING_LOG_GROUP = SHARED_LOG_GROUPS[0]  # /aws/sagemaker/TrainingJobs
MOTO_NOTE = ("moto 5.2.5 completes training jobs at once and lacks StopTrainingJob: the "
             "planted jobs are kept InProgress by the rehearsal until the sweep stops them")


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


def _sagemaker_exists(sagemaker, kind: str, name: str) -> bool:
    describe = {"endpoint": lambda: sagemaker.describe_endpoint(EndpointName=name),
                "notebook instance": lambda: sagemaker.describe_notebook_instance(
                    NotebookInstanceName=name)}[kind]
    try:
        describe()
        return True
    except ClientError:
        return False


def tag_declared(world: World, sagemaker) -> None:
    """Put the declared tags on the SageMaker resources later phases created in moto
    (the retraining loop's endpoints, the portal's notebook instances); provisioning
    tags everything it creates (rehearsal.world)."""
    for token, kind in ((ENDPOINT, "endpoint"), (NOTEBOOK, "notebook instance")):
        for declared in world.program.of_type(token):
            name, tags = declared.inputs["name"], declared_tags(world.program, declared)
            if not tags or not _sagemaker_exists(sagemaker, kind, name):
                continue
            arn = (sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
                   if kind == "endpoint" else sagemaker.describe_notebook_instance(
                       NotebookInstanceName=name)["NotebookInstanceArn"])
            sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v}
                                                      for k, v in tags.items()])


def _delete_bucket(name: str, sagemaker) -> None:
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])  # forceDestroy
    s3.delete_bucket(Bucket=name)


def _delete_endpoint(name: str, sagemaker) -> bool:
    if not _sagemaker_exists(sagemaker, "endpoint", name):
        return False  # only looping participants' endpoints exist in moto
    sagemaker.delete_endpoint(EndpointName=name)
    return True


def _delete_notebook(name: str, sagemaker) -> bool:
    if not _sagemaker_exists(sagemaker, "notebook instance", name):
        return False  # the portal phase creates them in moto; nothing else does
    status = sagemaker.describe_notebook_instance(
        NotebookInstanceName=name)["NotebookInstanceStatus"]
    if status != "Stopped":  # SageMaker deletes only a stopped notebook instance
        sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    sagemaker.delete_notebook_instance(NotebookInstanceName=name)
    return True


def _delete_queue(name: str, sagemaker) -> None:
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])


ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
# What `destroy` deletes, by declared type: (kind, physical name, delete). A delete that
# returns False found nothing to delete (SageMaker resources later phases may not create).
DELETERS = {
    "aws:s3/bucket:Bucket": ("bucket", lambda world, d: d.state["bucket"], _delete_bucket),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": (
        "delivery stream", lambda world, d: d.inputs["name"],
        lambda name, _: boto3.client("firehose").delete_delivery_stream(
            DeliveryStreamName=name)),
    "aws:dynamodb/table:Table": ("table", lambda world, d: d.inputs["name"],
                                 lambda name, _: boto3.client("dynamodb").delete_table(
                                     TableName=name)),
    "aws:secretsmanager/secret:Secret": (
        "secret", lambda world, d: world.secrets.get(d.state.get("arn", ""), ""),
        lambda name, _: boto3.client("secretsmanager").delete_secret(
            SecretId=name, ForceDeleteWithoutRecovery=True)),
    "aws:sns/topic:Topic": ("topic", lambda world, d: d.state["arn"],
                            lambda name, _: boto3.client("sns").delete_topic(TopicArn=name)),
    LOG_GROUP: ("log group", lambda world, d: d.inputs["name"],
                lambda name, _: boto3.client("logs").delete_log_group(logGroupName=name)),
    METRIC_ALARM: ("alarm", lambda world, d: d.inputs["name"],
                   lambda name, _: boto3.client("cloudwatch").delete_alarms(AlarmNames=[name])),
    QUEUE: ("queue", lambda world, d: d.inputs["name"], _delete_queue),
    PARAMETER: ("parameter", lambda world, d: d.inputs["name"],
                lambda name, _: boto3.client("ssm").delete_parameter(Name=name)),
    ENDPOINT: ("endpoint", lambda world, d: d.inputs["name"], _delete_endpoint),
    NOTEBOOK: ("notebook instance", lambda world, d: d.inputs["name"], _delete_notebook),
}
# Created with their parent and deleted with it.
WITH_PARENT = ("aws:sns/topicSubscription:TopicSubscription",
               "aws:dynamodb/tableItem:TableItem")


def destroy(world: World, sagemaker) -> list[str]:
    """Delete what the rehearsal created from the declarations, as `pulumi destroy`
    would; what was deleted."""
    deleted = []
    for token, (kind, name_of, delete) in DELETERS.items():
        for declared in world.program.of_type(token):
            name = name_of(world, declared)
            if name and delete(name, sagemaker) is not False:
                deleted.append(f"{kind} {name}")
    return deleted


def not_audited(world: World) -> list[str]:
    """The declared kinds the rehearsal does not create in moto, so the audit cannot
    see (the type's last part, with how many are declared)."""
    counts: dict[str, int] = {}
    for declared in world.program.resources:
        if declared.custom and not declared.type.startswith("pulumi:") \
                and declared.type not in DELETERS and declared.type not in WITH_PARENT:
            kind = declared.type.rsplit(":", 1)[-1]
            counts[kind] = counts.get(kind, 0) + 1
    return [f"{n} {kind}" for kind, n in sorted(counts.items())]


@dataclass
class Teardown:
    """What the final phase found, removed and left; `failed` while anything billable is left."""

    before: list[Leftover] = field(default_factory=list)  # participants' own, before the sweep
    swept: dict[str, list[str]] = field(default_factory=dict)  # participant -> what went
    unswept: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    after: list[Leftover] = field(default_factory=list)  # the audit, after destroy
    uncovered: list[str] = field(default_factory=list)  # declared, never created here

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
        created = sorted({kind for kind, _, _ in DELETERS.values()})
        lines.append(f"  the audit covers what the rehearsal creates, tagged as declared: "
                     f"{', '.join(created)} (and the participants' SageMaker leftovers "
                     "and log streams by name)")
        if self.uncovered:
            lines.append("  declared but not created in moto, so not audited: "
                         + ", ".join(self.uncovered))
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
    result.uncovered = not_audited(world)
    return result
