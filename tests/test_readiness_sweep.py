"""The sweep before `destroy` and the audit after it, against moto."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from readiness.sweep import Auditor, Sweeper, owner
from tools.moto_gaps import RunningJobs

EVENT = "aim368"
PARTICIPANTS = ["ada", "ada-lovelace", "grace"]
ROLE = "arn:aws:iam::123456789012:role/sm"
RUNNING_JOB = "{p}-xgb-20261201120000"  # still training
FINISHED_JOB = "{p}-ll-20261201110000"
MANAGED = [{"Key": "ManagedBy", "Value": "pulumi"}, {"Key": "Event", "Value": EVENT}]


def plant_job(sm, name: str, tags: list[dict]) -> None:
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, Tags=tags,
        AlgorithmSpecification={"TrainingImage": "xgboost", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})


def plant_model_and_config(sm, name: str, tags: list[dict]) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x"},
                    Tags=tags)
    sm.create_endpoint_config(EndpointConfigName=name, Tags=tags, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.c5.large"}])


def plant_participant(sm, logs, participant: str) -> None:
    """What `pulumi up` creates, and what the participant then did in their notebook."""
    prefix = f"{EVENT}-{participant}"
    tags = [{"Key": "Participant", "Value": participant}]
    sm.create_model(ModelName=f"{prefix}-model-abc1234", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "x"}, Tags=MANAGED + tags)
    sm.create_endpoint_config(EndpointConfigName=f"{prefix}-config-abc1234", Tags=MANAGED + tags,
                              ProductionVariants=[{"VariantName": "AllTraffic",
                                                   "ModelName": f"{prefix}-model-abc1234",
                                                   "InitialInstanceCount": 1,
                                                   "InstanceType": "ml.c5.large"}])
    for job in (RUNNING_JOB, FINISHED_JOB):
        name = job.format(p=prefix)
        plant_job(sm, name, tags)
        plant_model_and_config(sm, name, tags)
        logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs",
                               logStreamName=f"{name}/algo-1-1764590400")
    # Promoted: the managed endpoint serves the finished job's model, through the
    # participant's own configuration.
    sm.create_endpoint(EndpointName=f"{prefix}-endpoint", Tags=MANAGED + tags,
                       EndpointConfigName=FINISHED_JOB.format(p=prefix))


@pytest.fixture
def aws(aws_env):
    with mock_aws():
        sm, logs = boto3.client("sagemaker"), boto3.client("logs")
        logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
        for participant in ("ada", "ada-lovelace"):
            plant_participant(sm, logs, participant)
        # ada's role allows `aim368-ada-*`, which covers ada-lovelace's names: a job ada
        # started in ada-lovelace's name space, tagged (tag-on-create) as hers.
        plant_job(sm, "aim368-ada-lovelace-knn-20261201130000",
                  [{"Key": "Participant", "Value": "ada"}])
        running = {f"{EVENT}-{p}-xgb-20261201120000" for p in ("ada", "ada-lovelace")}
        running.add("aim368-ada-lovelace-knn-20261201130000")
        yield RunningJobs(sm, running), logs


def names(listing: list[dict], key: str, prefix: str) -> set[str]:
    """moto ignores NameContains on some list calls: filter here."""
    return {item[key] for item in listing if item[key].startswith(prefix)}


def test_ownership_is_the_longest_id_or_the_agreeing_tag():
    assert owner("aim368-ada-xgb-1", EVENT, PARTICIPANTS) == "ada"
    assert owner("aim368-ada-lovelace-xgb-1", EVENT, PARTICIPANTS) == "ada-lovelace"
    assert owner("aim368-ada-lovelace-xgb-1", EVENT, PARTICIPANTS,
                 {"Participant": "ada"}) == "ada"
    # A tag that the name contradicts is ignored: grace cannot claim ada's names.
    assert owner("aim368-ada-xgb-1", EVENT, PARTICIPANTS, {"Participant": "grace"}) == "ada"
    assert owner("aim368-adam-xgb-1", EVENT, PARTICIPANTS) is None
    assert owner("other-ada-xgb-1", EVENT, PARTICIPANTS) is None


def test_sweeping_ada_touches_nothing_of_ada_lovelace(aws):
    sm, logs = aws
    report = Sweeper(EVENT, PARTICIPANTS, sm, logs).sweep("ada")
    assert sorted(sm.stopped) == ["aim368-ada-lovelace-knn-20261201130000",
                                  "aim368-ada-xgb-20261201120000"]
    # The finished job's model and configuration serve ada's live endpoint: kept.
    assert report.deleted_configs == ["aim368-ada-xgb-20261201120000"]
    assert report.deleted_models == ["aim368-ada-xgb-20261201120000"]
    assert report.deleted_endpoints == []
    assert sorted(report.deleted_log_streams) == [
        "/aws/sagemaker/TrainingJobs:aim368-ada-ll-20261201110000/algo-1-1764590400",
        "/aws/sagemaker/TrainingJobs:aim368-ada-xgb-20261201120000/algo-1-1764590400"]
    assert any("aim368-ada-ll-20261201110000 (in use" in k for k in report.kept)
    assert any("aim368-ada-config-abc1234 (managed by Pulumi" in k for k in report.kept)
    # Everything of ada-lovelace's is still there, her job still running.
    assert "aim368-ada-lovelace-xgb-20261201120000" in sm.running
    models = names(sm.list_models()["Models"], "ModelName", "aim368-ada-lovelace-")
    assert models == {"aim368-ada-lovelace-model-abc1234", "aim368-ada-lovelace-xgb-20261201120000",
                      "aim368-ada-lovelace-ll-20261201110000"}
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix="aim368-ada-lovelace-")["logStreams"]
    assert len(streams) == 2


def test_sweeping_ada_lovelace_leaves_adas_job_in_her_name_space(aws):
    sm, logs = aws
    Sweeper(EVENT, PARTICIPANTS, sm, logs).sweep("ada-lovelace")
    assert sm.stopped == ["aim368-ada-lovelace-xgb-20261201120000"]
    assert "aim368-ada-lovelace-knn-20261201130000" in sm.running
    assert "aim368-ada-xgb-20261201120000" in sm.running
    assert "aim368-ada-xgb-20261201120000" in names(sm.list_models()["Models"], "ModelName",
                                                    "aim368-ada-")


def test_a_dry_run_changes_nothing(aws):
    sm, logs = aws
    report = Sweeper(EVENT, PARTICIPANTS, sm, logs, dry_run=True).sweep("ada")
    assert report.stopped_jobs and report.deleted_models and sm.stopped == []
    assert "aim368-ada-xgb-20261201120000" in names(sm.list_models()["Models"], "ModelName",
                                                    "aim368-ada-")


def test_an_unknown_participant_is_refused(aws):
    sm, logs = aws
    with pytest.raises(ValueError, match="'adam' is not in the roster"):
        Sweeper(EVENT, PARTICIPANTS, sm, logs).sweep("adam")


def destroy_managed(sm) -> None:
    """What `pulumi destroy` deletes: the endpoints, and the managed models and configs."""
    for participant in ("ada", "ada-lovelace"):
        prefix = f"{EVENT}-{participant}"
        sm.delete_endpoint(EndpointName=f"{prefix}-endpoint")
        sm.delete_endpoint_config(EndpointConfigName=f"{prefix}-config-abc1234")
        sm.delete_model(ModelName=f"{prefix}-model-abc1234")


def test_sweep_destroy_sweep_leaves_the_audit_nothing(aws):
    sm, logs = aws
    sweeper = Sweeper(EVENT, PARTICIPANTS, sm, logs)
    for participant in PARTICIPANTS:
        sweeper.sweep(participant)
    destroy_managed(sm)
    after = Sweeper(EVENT, PARTICIPANTS, sm, logs, after_destroy=True)
    for participant in PARTICIPANTS:
        after.sweep(participant)
    auditor = Auditor(EVENT, boto3.client("resourcegroupstaggingapi"), sm, logs)
    assert auditor.leftovers() == []


def test_the_audit_reports_a_planted_leftover_as_billable(aws):
    sm, logs = aws
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="aim368-grace-samples-0c216c7")
    s3.put_bucket_tagging(Bucket="aim368-grace-samples-0c216c7",
                          Tagging={"TagSet": [{"Key": "Event", "Value": EVENT}]})
    leftovers = Auditor(EVENT, boto3.client("resourcegroupstaggingapi"), sm, logs).leftovers()
    billable = {(x.kind, x.name) for x in leftovers if x.billable}
    assert ("s3:bucket", "aim368-grace-samples-0c216c7") in billable
    assert ("sagemaker:endpoint", "aim368-ada-endpoint") in billable
    assert ("sagemaker:training-job", "aim368-ada-xgb-20261201120000") in billable
    assert ("logs:log-stream", ("/aws/sagemaker/TrainingJobs:aim368-ada-xgb-20261201120000/"
            "algo-1-1764590400")) in billable
    assert ("sagemaker:model", "aim368-ada-xgb-20261201120000") in \
        {(x.kind, x.name) for x in leftovers if not x.billable}
    # Finished training jobs cannot be deleted and cost nothing: not listed.
    assert ("sagemaker:training-job", "aim368-ada-ll-20261201110000") not in \
        {(x.kind, x.name) for x in leftovers}


def test_the_retraining_loops_jobs_models_and_configs_are_swept_for_their_owner_only(aws):
    """What the loop creates (`<event>-<id>--rt-<stamp>`, components/retraining.py, tagged
    like everything the function creates) is a participant leftover like a notebook's."""
    sm, logs = aws
    tags = [{"Key": "Participant", "Value": "ada"}, {"Key": "Event", "Value": EVENT},
            {"Key": "Purpose", "Value": "retraining"}]
    loop_run = "aim368-ada--rt-20261201140000"
    plant_job(sm, loop_run, tags)
    plant_model_and_config(sm, loop_run, tags)
    sm.running.add(loop_run)
    Sweeper(EVENT, PARTICIPANTS, sm, logs).sweep("ada-lovelace")
    assert loop_run in sm.running
    report = Sweeper(EVENT, PARTICIPANTS, sm, logs).sweep("ada")
    assert loop_run in sm.stopped
    assert loop_run in report.deleted_models and loop_run in report.deleted_configs


@pytest.mark.parametrize("arn, kind", [
    ("arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/aim368-ada-collect",
     ("logs:log-group", "/aws/lambda/aim368-ada-collect")),
    ("arn:aws:sagemaker:us-east-1:111111111111:model/aim368-ada--xgb-1",
     ("sagemaker:model", "aim368-ada--xgb-1")),
    ("arn:aws:sqs:us-east-1:111111111111:aim368-undelivered-samples",
     ("sqs:queue", "aim368-undelivered-samples")),
    ("arn:aws:sns:us-east-1:111111111111:aim368-fc-samples", ("sns:topic", "aim368-fc-samples")),
    ("arn:aws:s3:::aim368-ada-samples-1234567", ("s3:bucket", "aim368-ada-samples-1234567")),
    ("arn:aws:cloudwatch:us-east-1:111111111111:alarm:aim368-ada-rmse",
     ("cloudwatch:alarm", "aim368-ada-rmse")),
])
def test_a_tagged_arn_is_named_by_its_resource_type(arn, kind):
    from readiness.sweep import _arn_kind
    assert _arn_kind(arn) == kind
