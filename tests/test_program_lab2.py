"""What `pulumi up` declares for Lab 2: the shared training data, and per participant a
notebook, a scoped execution role and an endpoint serving the baseline model."""

import base64
import fnmatch
import json
import re
from pathlib import Path

import pytest

from components.training_data import notebook_files, notebook_uploads
from tests.kit import (
    BUCKET,
    ENDPOINT,
    ENDPOINT_CONFIG,
    IDS,
    LIFECYCLE,
    MODEL,
    NOTEBOOK,
    OBJECT,
    ROLE,
    ROLE_POLICY,
    only,
)


def lab2(declared, participant):
    return declared.within(f"{participant}-lab2")


def statements(declared, participant):
    return json.loads(only(lab2(declared, participant), ROLE_POLICY).inputs["policy"])["Statement"]


def granting(declared, participant, action):
    return [s for s in statements(declared, participant) if action in s["Action"]]


def participant_bucket(declared, participant):
    return only(declared.within(f"{participant}-lab1"), BUCKET)


def shared_bucket(declared):
    return declared.named("aim368-training-data", BUCKET)


def test_each_participant_gets_a_notebook_lifecycle_role_and_endpoint(program):
    declared = program()
    for participant in IDS:
        resources = lab2(declared, participant)
        kinds = sorted(r.type for r in resources)
        assert kinds == sorted([NOTEBOOK, LIFECYCLE, MODEL, ENDPOINT_CONFIG, ENDPOINT, ROLE, ROLE_POLICY])
        assert only(resources, NOTEBOOK).inputs["name"] == f"aim368-{participant}-notebook"
        assert only(resources, ENDPOINT).inputs["name"] == f"aim368-{participant}-endpoint"
        assert only(resources, ROLE).inputs["name"] == f"aim368-{participant}-sagemaker"
        assert all(r.provider_urn == declared.provider_of(participant).urn for r in resources)


def test_the_notebook_uses_the_configured_type_its_role_and_lifecycle(program):
    declared = program()
    resources = lab2(declared, "ada-lovelace")
    notebook = only(resources, NOTEBOOK)
    assert notebook.inputs["instanceType"] == "ml.c5.2xlarge"  # the seed's
    assert notebook.inputs["roleArn"] == only(resources, ROLE).state["arn"]
    assert notebook.inputs["lifecycleConfigName"] == only(resources, LIFECYCLE).inputs["name"]
    assert notebook.inputs["rootAccess"] == "Disabled"
    other = program(notebookInstanceType="ml.t3.medium")
    assert only(lab2(other, "ada-lovelace"), NOTEBOOK).inputs["instanceType"] == "ml.t3.medium"


def test_the_lifecycle_writes_the_participants_own_settings(program):
    declared = program()
    resources = lab2(declared, "ada-lovelace")
    lifecycle = only(resources, LIFECYCLE)
    assert len(lifecycle.inputs["onCreate"]) <= 16_384 and len(lifecycle.inputs["onStart"]) <= 16_384
    script = base64.b64decode(lifecycle.inputs["onCreate"]).decode()
    settings = json.loads(script.split("<<'SETTINGS'\n")[1].split("\nSETTINGS\n")[0])
    bucket = participant_bucket(declared, "ada-lovelace").state["bucket"]
    assert settings == {
        "participant": "ada-lovelace", "region": "us-east-1", "bucket": bucket,
        "samples_prefix": "samples/", "shared_bucket": shared_bucket(declared).state["bucket"],
        "dataset_prefix": "datasets/", "role_arn": only(resources, ROLE).state["arn"],
        "endpoint_name": "aim368-ada-lovelace-endpoint", "name_prefix": "aim368-ada-lovelace--",
        "event": "aim368",
        "training_instance_types": "ml.m5.large,ml.m5.xlarge,ml.c5.xlarge,ml.c5.2xlarge",
        "hosting_instance_types": "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge,ml.c5.2xlarge",
        "retraining_function": "aim368-ada-lovelace-retrain",
        "inference_url": declared.outputs["participants"]["ada-lovelace"]["inference_url"],
        "leaderboard_url": declared.outputs["leaderboard_url"], "max_training_jobs": "2",
    }
    assert f"s3://{shared_bucket(declared).state['bucket']}/notebooks/" in script
    start = base64.b64decode(lifecycle.inputs["onStart"]).decode()
    assert "IDLE_MINUTES=60" in start


def test_the_endpoint_serves_the_baseline(program):
    declared = program()
    resources = lab2(declared, "ada-lovelace")
    endpoint, config, model = only(resources, ENDPOINT), only(resources, ENDPOINT_CONFIG), only(resources, MODEL)
    assert endpoint.inputs["endpointConfigName"] == config.state["name"]
    assert endpoint.ignore_changes == []  # organizer changes roll forward (test_endpoint_updates)
    assert endpoint.custom_timeouts == {"create": "45m", "update": "45m", "delete": "20m"}
    [variant] = config.inputs["productionVariants"]
    assert variant["modelName"] == model.state["name"]
    assert (variant["instanceType"], variant["initialInstanceCount"]) == ("ml.c5.large", 1)
    container = model.inputs["primaryContainer"]
    assert container["image"].endswith("/sagemaker-xgboost:1.7-1")
    assert re.fullmatch(
        f"s3://{shared_bucket(declared).state['bucket']}/models/baseline/[0-9a-f]{{16}}/model.tar.gz",
        container["modelDataUrl"])
    assert model.inputs["executionRoleArn"] == only(resources, ROLE).state["arn"]


def test_model_and_configuration_are_named_under_the_participants_own_prefix(program):
    declared = program()
    resources = lab2(declared, "ada-lovelace")
    for kind, logical in ((MODEL, "aim368-ada-lovelace--model"),
                          (ENDPOINT_CONFIG, "aim368-ada-lovelace--config")):
        name = only(resources, kind).inputs["name"]  # from a hash of its inputs
        assert re.fullmatch(f"{logical}-[0-9a-f]{{7}}", name), name


def test_serverless_inference_is_offered(program):
    declared = program(endpointServerless="true")
    [variant] = only(lab2(declared, "ada-lovelace"), ENDPOINT_CONFIG).inputs["productionVariants"]
    assert "instanceType" not in variant
    assert variant["serverlessConfig"]["memorySizeInMb"] >= 1024
    assert variant["serverlessConfig"]["maxConcurrency"] >= 5


def test_the_role_creates_only_owned_names_tagged_as_theirs_on_allowed_types(program):
    declared = program(trainingInstanceTypes="ml.m5.large,ml.m5.xlarge",
                       hostingInstanceTypes="ml.m5.large,ml.c5.large")
    arn = "arn:aws:sagemaker:us-east-1:111111111111"
    tags = {"aws:RequestTag/Participant": "ada-lovelace", "aws:RequestTag/Event": "aim368"}
    keys = ["Participant", "Event", "Purpose"]
    for action, kind, types in [
            ("sagemaker:CreateTrainingJob", "training-job", ["ml.m5.large", "ml.m5.xlarge"]),
            ("sagemaker:CreateEndpointConfig", "endpoint-config", ["ml.m5.large", "ml.c5.large"]),
            ("sagemaker:CreateModel", "model", None)]:
        [grant] = granting(declared, "ada-lovelace", action)
        assert grant["Action"] == [action]
        assert grant["Resource"] == [f"{arn}:{kind}/aim368-ada-lovelace--*"]
        assert grant["Condition"]["StringEquals"] == tags
        assert grant["Condition"]["ForAllValues:StringEquals"] == (
            {"aws:TagKeys": keys, "sagemaker:InstanceTypes": types} if types
            else {"aws:TagKeys": keys})
    baseline = only(lab2(declared, "ada-lovelace"), MODEL).state["arn"]
    assert fnmatch.fnmatch(baseline, f"{arn}:model/aim368-ada-lovelace--*")


def test_tags_can_be_added_only_by_the_participants_own_creates(program):
    declared = program()
    [add_tags] = granting(declared, "ada-lovelace", "sagemaker:AddTags")
    assert add_tags["Action"] == ["sagemaker:AddTags"]
    assert add_tags["Condition"]["StringEquals"]["sagemaker:TaggingAction"] == [
        "CreateTrainingJob", "CreateModel", "CreateEndpointConfig"]
    assert add_tags["Condition"]["StringEquals"]["aws:RequestTag/Participant"] == "ada-lovelace"


def test_every_other_sagemaker_action_needs_the_participants_tag_on_the_resource(program):
    declared = program()
    for statement in statements(declared, "ada-lovelace"):
        actions = [a for a in statement["Action"] if a.startswith("sagemaker:")]
        if actions and not any(a.startswith(("sagemaker:Create", "sagemaker:AddTags"))
                               for a in actions):
            assert statement["Condition"] == {
                "StringEquals": {"aws:ResourceTag/Participant": "ada-lovelace"}}, statement


def test_the_role_may_update_only_its_own_endpoint_and_pass_only_itself(program):
    declared = program()
    arn = "arn:aws:sagemaker:us-east-1:111111111111"
    [update] = granting(declared, "ada-lovelace", "sagemaker:UpdateEndpoint")
    assert update["Resource"] == [f"{arn}:endpoint/aim368-ada-lovelace-endpoint",
                                  f"{arn}:endpoint-config/aim368-ada-lovelace--*"]
    [pass_role] = granting(declared, "ada-lovelace", "iam:PassRole")
    assert pass_role["Resource"] == [only(lab2(declared, "ada-lovelace"), ROLE).state["arn"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_role_reads_and_writes_its_bucket_and_only_reads_the_shared_data(program):
    declared = program()
    own = participant_bucket(declared, "ada-lovelace").state["arn"]
    shared = shared_bucket(declared).state["arn"]
    writes = granting(declared, "ada-lovelace", "s3:PutObject")
    assert [s["Resource"] for s in writes] == [[own + "/*"]]
    [reads] = [s for s in granting(declared, "ada-lovelace", "s3:GetObject") if shared + "/datasets/*"
               in s["Resource"]]
    assert reads["Action"] == ["s3:GetObject"]
    assert sorted(reads["Resource"]) == sorted(f"{shared}/{p}/*" for p in
                                              ("datasets", "models", "notebooks"))


def test_no_role_mentions_another_participants_resources(program):
    declared = program()
    for participant in IDS:
        text = json.dumps(statements(declared, participant))
        for other in IDS:
            if other != participant:
                assert other not in text
                for resource in declared.owned_by(other):
                    assert resource.state.get("arn", "@none") not in text


def test_the_role_policy_fits_iams_size_limit(program):
    declared = program([{"name": "x" * 8, "id": "a" * 36}])
    policy = only(lab2(declared, "a" * 36), ROLE_POLICY).inputs["policy"]
    assert len(policy) < 10_240


def test_the_shared_training_data_is_one_private_bucket_with_everything(program):
    declared = program()
    bucket = shared_bucket(declared)
    files = [o for o in declared.of_type(OBJECT) if "source" in o.inputs]  # not the portal's
    keys = sorted(re.sub("/[0-9a-f]{16}/", "/<hash>/", o.inputs["key"]) for o in files)
    assert keys == sorted(["datasets/TrainSamples.csv", "datasets/TestSamples.csv",
                           "models/baseline/<hash>/model.tar.gz",
                           *[f"notebooks/{name}" for name, _ in notebook_uploads()]])
    assert len(notebook_files()) == 6  # the four labs, Automated-Retraining, Live-Inference
    assert all(o.inputs["bucket"] == bucket.id for o in files)
    assert bucket.provider_urn == declared.named("aim368-aws").urn
    block = declared.named("aim368-training-data-no-public-access")
    assert block.inputs["restrictPublicBuckets"] is True
    assert declared.named("aim368-training-data-encryption").inputs["rules"][0][
        "applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_the_data_set_has_the_configured_size_and_split(program):
    declared = program(datasetSamples="4000")
    train = declared.named("aim368-train-samples").inputs["source"].path
    test = declared.named("aim368-test-samples").inputs["source"].path
    lines = [len(Path(path).read_text().splitlines()) for path in (train, test)]
    assert lines == [3000, 1000]


def test_a_second_evaluation_reuses_the_same_files_unchanged(program):
    from pathlib import Path
    first = program(datasetSamples="3000")
    sources = {o.name: Path(o.inputs["source"].path) for o in first.of_type(OBJECT)
               if "source" in o.inputs}
    stamps = {name: path.stat().st_mtime_ns for name, path in sources.items()}
    second = program(datasetSamples="3000")
    assert {o.name: Path(o.inputs["source"].path) for o in second.of_type(OBJECT)
            if "source" in o.inputs} == sources
    assert {name: path.stat().st_mtime_ns for name, path in sources.items()} == stamps


def test_outputs_name_the_notebook_and_endpoint(program):
    declared = program()
    ada = declared.outputs["participants"]["ada-lovelace"]
    assert ada["notebook"] == "aim368-ada-lovelace-notebook"
    assert ada["endpoint"] == "aim368-ada-lovelace-endpoint"
    assert declared.outputs["baseline_test_rmse_ms"] > 0


def test_cross_account_participants_may_read_the_shared_data(program):
    declared = program([{"name": "Ada Lovelace", "account": "222222222222"}, {"name": "Bo"}])
    policy = json.loads(declared.named("aim368-training-data-tls-only").inputs["policy"])
    [read] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert read["Condition"]["StringEquals"] == {"aws:PrincipalAccount": ["222222222222"]}
    assert read["Action"] == ["s3:GetObject", "s3:ListBucket"]


@pytest.mark.parametrize("config, problem", [
    ({"endpointInstanceType": "ml.g5.xlarge"}, "must be one of hostingInstanceTypes"),
    ({"hostingInstanceTypes": "ml.c5.large,c5"}, "has ['c5']"),
    ({"trainingInstanceTypes": "ml.m5.large,ml.c5.large"},
     ("trainingInstanceTypes='ml.m5.large,ml.c5.large' has ['ml.c5.large'], which SageMaker "
      "does not accept for training (its TrainingInstanceType values)")),
    ({"hostingInstanceTypes": "ml.m5.large,ml.p9.huge"},
     "has ['ml.p9.huge'], which SageMaker does not accept for hosting"),
    ({"notebookIdleMinutes": "-1"}, "notebookIdleMinutes=-1 must be between 0 and 1440"),
])
def test_bad_lab2_config_is_reported(program, config, problem):
    from event.config import ConfigError
    with pytest.raises(ConfigError) as caught:
        program(**config)
    assert any(problem in p for p in caught.value.problems)
