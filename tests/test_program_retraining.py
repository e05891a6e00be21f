"""What `pulumi up` declares for the automated retraining loop: the event's table, and per
participant a function woken by their own alarm and their own jobs' ends, with a role
that reaches only their resources, even next to a participant whose id extends theirs."""

import fnmatch
import json
import re

import pytest

from handlers import retraining
from tests.kit import (
    ALARM,
    BUCKET,
    FUNCTION,
    PERMISSION,
    ROLE,
    ROLE_POLICY,
    RULE,
    TABLE,
    TARGET,
    only,
)

ROSTER = [{"name": "Ada", "id": "ada"}, {"name": "Ada Lovelace", "id": "ada-lovelace"}]
ARN = "arn:aws:sagemaker:us-east-1:111111111111"


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    """One evaluation for the whole module: ids that share a prefix, a schedule set."""
    import yaml

    from tests.kit import DEFAULT_CONFIG
    from tools.mock_program import run_program
    from training.build import build_for_config

    roster = tmp_path_factory.mktemp("roster") / "participants.yaml"
    roster.write_text(yaml.safe_dump({"participants": ROSTER}))
    config = {**DEFAULT_CONFIG, "roster": str(roster), "retrainingSchedule": "rate(1 hour)"}
    build_for_config(config, say=lambda _: None)
    return run_program(config)


def loop(declared, participant):
    return declared.within(f"{participant}-retraining")


def statements(declared, participant):
    policy = only(loop(declared, participant), ROLE_POLICY).inputs["policy"]
    return json.loads(policy)["Statement"]


def granting(declared, participant, action):
    return [s for s in statements(declared, participant) if action in s["Action"]]


def function(declared, participant):
    return only(loop(declared, participant), FUNCTION)


def rules(declared, participant):
    return {r.inputs["name"].rsplit("-on-", 1)[1]: r for r in loop(declared, participant)
            if r.type == RULE}


def test_one_table_for_the_event_keyed_by_participant_then_record(declared):
    table = declared.named("aim368-retraining", TABLE)
    assert table.inputs["name"] == "aim368-retraining"
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("participant", "record")
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.provider_urn == declared.named("aim368-aws").urn


def test_each_participant_gets_their_own_function_in_their_own_provider(declared):
    for participant in ("ada", "ada-lovelace"):
        declared_function = function(declared, participant)
        assert declared_function.inputs["name"] == f"aim368-{participant}-retrain"
        assert declared_function.inputs["handler"] == "handlers.retraining.handler"
        assert declared_function.inputs["timeout"] == 300
        assert all(r.provider_urn == declared.provider_of(participant).urn
                   for r in loop(declared, participant))


def test_the_functions_environment_is_its_settings_naming_only_that_participant(declared):
    settings = retraining.Settings.checked(
        function(declared, "ada").inputs["environment"]["variables"])
    bucket = only(declared.within("ada-lab1"), BUCKET).state["bucket"]
    shared = declared.named("aim368-training-data", BUCKET).state["bucket"]
    assert (settings.participant, settings.endpoint_name, settings.alarm_name,
            settings.job_prefix) == ("ada", "aim368-ada-endpoint", "aim368-ada-rmse",
                                     "aim368-ada--rt")
    assert settings.bucket == bucket and settings.table_name == "aim368-retraining"
    assert settings.sagemaker_role_arn == only(declared.within("ada-lab2"), ROLE).state["arn"]
    # The baseline lives under its content hash (a new baseline is a new key, so models really change).
    assert re.fullmatch(rf"s3://{shared}/models/baseline/[0-9a-f]+/model\.tar\.gz", settings.baseline_model_url)
    assert settings.precollected_uri == f"s3://{shared}/datasets/TrainSamples.csv"
    assert (settings.retraining_default, settings.margin_percent, settings.window_minutes,
            settings.training_instance_type) == (False, 5.0, 60, "ml.m5.large")


def test_the_alarm_rule_matches_exactly_that_participants_rmse_alarm_entering_alarm(declared):
    for participant in ("ada", "ada-lovelace"):
        alarm = declared.named(f"aim368-{participant}-rmse", ALARM)
        pattern = json.loads(rules(declared, participant)["alarm"].inputs["eventPattern"])
        assert pattern == {"source": ["aws.cloudwatch"],
                           "detail-type": ["CloudWatch Alarm State Change"],
                           "resources": [alarm.state["arn"]],
                           "detail": {"state": {"value": ["ALARM"]}}}


def test_the_job_rule_matches_only_that_participants_retraining_jobs_when_they_end(declared):
    pattern = json.loads(rules(declared, "ada")["job"].inputs["eventPattern"])
    assert pattern == {"source": ["aws.sagemaker"],
                       "detail-type": ["SageMaker Training Job State Change"],
                       "detail": {"TrainingJobName": [{"prefix": "aim368-ada--rt-"}],
                                  "TrainingJobStatus": ["Completed", "Failed", "Stopped"]}}
    # EventBridge's prefix match, applied to the neighbour's job names: none match.
    assert not "aim368-ada-lovelace--rt-20261201100000".startswith("aim368-ada--rt-")


def test_the_schedule_rule_exists_only_when_configured(declared, program):
    assert rules(declared, "ada")["schedule"].inputs["scheduleExpression"] == "rate(1 hour)"
    assert "schedule" not in rules(program(), "ada-lovelace")


def test_every_rule_targets_the_function_and_only_that_rule_may_invoke_it(declared):
    for participant in ("ada", "ada-lovelace"):
        resources = loop(declared, participant)
        arn = function(declared, participant).state["arn"]
        found = rules(declared, participant)
        targets = [r for r in resources if r.type == TARGET]
        permissions = [r for r in resources if r.type == PERMISSION]
        assert sorted(t.inputs["rule"] for t in targets) == sorted(
            r.inputs["name"] for r in found.values())
        assert all(t.inputs["arn"] == arn for t in targets)
        assert sorted(p.inputs["sourceArn"] for p in permissions) == sorted(
            r.state["arn"] for r in found.values())
        assert {(p.inputs["principal"], p.inputs["action"]) for p in permissions} == {
            ("events.amazonaws.com", "lambda:InvokeFunction")}


def test_creates_need_the_run_shape_the_participants_tags_and_an_allowed_instance_type(declared):
    # Training and hosting have their own lists (ml.c5.large is a hosting type, not a training one).
    training = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.c5.2xlarge"]
    hosting = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge"]
    for action, kind, allowed in [("CreateTrainingJob", "training-job", training),
                                  ("CreateEndpointConfig", "endpoint-config", hosting),
                                  ("CreateModel", "model", None)]:
        [grant] = granting(declared, "ada", f"sagemaker:{action}")
        assert grant["Resource"] == [f"{ARN}:{kind}/aim368-ada--rt-*"]
        assert grant["Condition"]["StringEquals"] == {"aws:RequestTag/Participant": "ada",
                                                      "aws:RequestTag/Event": "aim368"}
        keys = grant["Condition"]["ForAllValues:StringEquals"]
        assert keys["aws:TagKeys"] == ["Participant", "Event", "Purpose"]
        assert keys.get("sagemaker:InstanceTypes") == allowed
    [tagging] = granting(declared, "ada", "sagemaker:AddTags")
    assert tagging["Condition"]["StringEquals"]["sagemaker:TaggingAction"] == [
        "CreateTrainingJob", "CreateModel", "CreateEndpointConfig"]


def test_the_function_passes_only_its_participants_sagemaker_role_to_sagemaker(declared):
    [pass_role] = granting(declared, "ada", "iam:PassRole")
    assert pass_role["Resource"] == [only(declared.within("ada-lab2"), ROLE).state["arn"]]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_function_reads_samples_writes_attempts_and_its_own_table_items_only(declared):
    bucket = only(declared.within("ada-lab1"), BUCKET).state["arn"]
    writes = granting(declared, "ada", "s3:PutObject")
    assert [s["Resource"] for s in writes] == [[f"{bucket}/retraining/*"]]
    reads = {r for s in granting(declared, "ada", "s3:GetObject") for r in s["Resource"]}
    shared = declared.named("aim368-training-data", BUCKET).state["arn"]
    assert reads == {f"{bucket}/samples/*", f"{bucket}/retraining/*",
                     f"{shared}/datasets/TrainSamples.csv"}
    [items] = granting(declared, "ada", "dynamodb:PutItem")
    assert items["Resource"] == [declared.named("aim368-retraining", TABLE).state["arn"]]
    assert items["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["ada"]}}


def _names_of(declared, participant: str) -> list[str]:
    """ARNs of the participant's declared resources and of what their loop would create."""
    created = [f"{ARN}:{kind}/aim368-{participant}--rt-20261201100000"
               for kind in ("training-job", "model", "endpoint-config")]
    created += [f"{ARN}:{kind}/aim368-{participant}--xgb-20261201100000"
                for kind in ("training-job", "model", "endpoint-config")]
    bucket = only(declared.within(f"{participant}-lab1"), BUCKET).state["arn"]
    objects = [f"{bucket}/samples/x.csv", f"{bucket}/retraining/x/train/recent.csv"]
    return created + objects + [r.state["arn"] for r in declared.owned_by(participant)
                                if "arn" in r.state]


@pytest.mark.parametrize("participant, other", [("ada", "ada-lovelace"), ("ada-lovelace", "ada")])
def test_no_statement_reaches_the_neighbours_resources_whichever_id_is_longer(declared,
                                                                             participant, other):
    """Every resource pattern, matched as IAM does (`*` spans anything), against every ARN
    the neighbour owns or could create."""
    theirs = _names_of(declared, other)
    for statement in statements(declared, participant):
        for pattern in statement["Resource"]:
            reached = [name for name in theirs if fnmatch.fnmatchcase(name, pattern)]
            assert reached == [], (statement["Action"], pattern)
        leading = statement.get("Condition", {}).get("ForAllValues:StringEquals", {})
        assert other not in leading.get("dynamodb:LeadingKeys", [])


def test_the_notebook_may_invoke_exactly_its_own_retraining_function(declared):
    for participant, other in [("ada", "ada-lovelace"), ("ada-lovelace", "ada")]:
        lab2 = json.loads(only(declared.within(f"{participant}-lab2"), ROLE_POLICY)
                          .inputs["policy"])["Statement"]
        [invoke] = [s for s in lab2 if "lambda:InvokeFunction" in s["Action"]]
        assert invoke["Action"] == ["lambda:InvokeFunction"]
        assert invoke["Resource"] == [function(declared, participant).state["arn"]]
        assert function(declared, other).state["arn"] not in invoke["Resource"]
    assert declared.outputs["participants"]["ada"]["retraining_function"] == "aim368-ada-retrain"
