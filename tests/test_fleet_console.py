"""`fleet status` and the bulk actions, against moto (and botocore's Stubber where moto lacks
UpdateEndpoint)."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from event.roster import Participant
from fleet.console import collect_status, endpoint_reset, notebooks
from fleet.naming import participant_stack_name, plan_fleet
from tests.fleet_fake import FakeStacks

EVENT = "aim368"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
NOW = datetime(2026, 12, 1, 15, 7, 30, tzinfo=UTC)
ROSTER = [Participant("ada", "Ada Lovelace"), Participant("bob", "Bob Builder"),
          Participant("cy", "Cy Young")]
PLAN = plan_fleet(EVENT, [p.id for p in ROSTER], "acme/ml-workshop/aim368")


def names(pid):
    return {"notebook": f"{EVENT}-{pid}-notebook", "endpoint": f"{EVENT}-{pid}-endpoint",
            "baseline_endpoint_config": f"{EVENT}-{pid}-config-base",
            "bucket": f"{EVENT}-{pid}-samples-abc1234"}


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for pid in ("ada", "bob"):
            n = names(pid)
            s3.create_bucket(Bucket=n["bucket"])
            sagemaker.create_notebook_instance(NotebookInstanceName=n["notebook"],
                                               InstanceType="ml.c5.2xlarge", RoleArn=ROLE)
            for model in (f"{pid}-baseline", f"{pid}-xgb"):
                sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE,
                                       PrimaryContainer={"Image": "img"})
            variant = {"VariantName": "main", "InitialInstanceCount": 1,
                       "InstanceType": "ml.c5.large"}
            sagemaker.create_endpoint_config(EndpointConfigName=n["baseline_endpoint_config"],
                                             ProductionVariants=[{**variant, "ModelName":
                                                                  f"{pid}-baseline"}])
            sagemaker.create_endpoint_config(EndpointConfigName=f"{pid}-trained",
                                             ProductionVariants=[{**variant,
                                                                  "ModelName": f"{pid}-xgb"}])
            sagemaker.create_endpoint(EndpointName=n["endpoint"],
                                      EndpointConfigName=f"{pid}-trained")
        for key in ("a.csv", "b.csv", "c.csv"):
            s3.put_object(Bucket=names("ada")["bucket"], Key=key, Body=b"1,2,3\n")
        dynamodb.create_table(TableName="scores", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "minute", "KeyType": "HASH"},
                                         {"AttributeName": "participant", "KeyType": "RANGE"}],
                              AttributeDefinitions=[
                                  {"AttributeName": "minute", "AttributeType": "S"},
                                  {"AttributeName": "participant", "AttributeType": "S"}])
        table = boto3.resource("dynamodb", region_name=REGION).Table("scores")
        # ada's latest minute: 10 requests, 8 answered with errors of 3 ms each, 2 timeouts;
        # an older minute must not be the one shown.
        table.put_item(Item={"minute": "2026-12-01T15:06", "participant": "ada", "requests": 10,
                             "successes": 8, "public_n": 8, "public_sse": 72, "timeout": 2})
        table.put_item(Item={"minute": "2026-12-01T15:02", "participant": "ada", "requests": 10,
                             "successes": 10, "public_n": 10, "public_sse": 1000})
        table.put_item(Item={"minute": "2026-12-01T15:05", "participant": "bob", "requests": 5,
                             "successes": 5, "public_n": 5, "public_sse": 500})
        yield sagemaker


def clients(service, account=None):
    assert account is None  # nobody in this roster has an account of their own
    return boto3.client(service, region_name=REGION)


def stacks():
    outputs = {EVENT: {"scores_table": "scores"}}
    outputs.update({participant_stack_name(EVENT, pid): names(pid) for pid in ("ada", "bob")})
    return FakeStacks(existing=list(outputs), outputs=outputs)


def test_status_has_a_row_per_participant_from_every_source(aws):
    rows = {r.participant: r for r in collect_status(ROSTER, PLAN, stacks(), clients, now=NOW)}
    ada = rows["ada"]
    assert ada.stack == "succeeded"
    assert ada.notebook == "InService"
    assert ada.endpoint == "InService" and ada.model == "ada-xgb"
    assert (ada.samples, ada.sample_bytes) == (3, 18)
    assert ada.scored_minute == "2026-12-01T15:06"
    assert ada.last_rmse_ms == pytest.approx(3.0)
    assert ada.error_class == "timeout (2/10)"
    assert rows["bob"].error_class == "none" and rows["bob"].samples == 0
    cy = rows["cy"]  # on the roster, no stack yet: a row anyway
    assert (cy.stack, cy.notebook, cy.samples, cy.last_rmse_ms) == ("absent", "-", None, None)


def test_status_reads_single_stack_mode_names_from_the_event_outputs(aws):
    fake = FakeStacks(existing=[EVENT], outputs={
        EVENT: {"scores_table": "scores", "participants": {"ada": names("ada")}}})
    ada = collect_status(ROSTER[:1], PLAN, fake, clients, now=NOW)[0]
    assert ada.stack == "in event stack" and ada.notebook == "InService"


def test_a_resource_that_vanished_shows_its_error_not_a_traceback(aws):
    aws.stop_notebook_instance(NotebookInstanceName=names("bob")["notebook"])
    aws.delete_notebook_instance(NotebookInstanceName=names("bob")["notebook"])
    rows = {r.participant: r for r in collect_status(ROSTER, PLAN, stacks(), clients, now=NOW)}
    assert rows["bob"].notebook == "ValidationException"
    assert rows["ada"].notebook == "InService"


def test_notebooks_stop_then_start_every_notebook(aws):
    stopped = notebooks("stop", ROSTER, PLAN, stacks(), clients)
    assert [(r.participant, r.ok) for r in stopped] == [("ada", True), ("bob", True),
                                                         ("cy", False)]
    for pid in ("ada", "bob"):
        assert aws.describe_notebook_instance(NotebookInstanceName=names(pid)["notebook"])[
            "NotebookInstanceStatus"] == "Stopped"
    assert "no notebook" in stopped[2].message
    again = notebooks("stop", ROSTER[:1], PLAN, stacks(), clients)
    assert "is Stopped; left as is" in again[0].message
    notebooks("start", ROSTER, PLAN, stacks(), clients)
    assert aws.describe_notebook_instance(NotebookInstanceName=names("ada")["notebook"])[
        "NotebookInstanceStatus"] == "InService"


def test_endpoint_reset_points_the_endpoint_at_the_baseline_configuration():
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x",
                             aws_secret_access_key="x")
    n = names("ada")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", {
            "EndpointName": n["endpoint"], "EndpointArn": "arn:aws:sagemaker:::endpoint/x",
            "EndpointConfigName": "ada-trained", "EndpointStatus": "InService",
            "CreationTime": NOW, "LastModifiedTime": NOW}, {"EndpointName": n["endpoint"]})
        stub.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:::endpoint/x"},
                          {"EndpointName": n["endpoint"],
                           "EndpointConfigName": n["baseline_endpoint_config"]})
        result = endpoint_reset("ada", ROSTER, PLAN, stacks(), lambda s, a=None: sagemaker)
        stub.assert_no_pending_responses()
    assert result.ok and "to aim368-ada-config-base" in result.message


def test_endpoint_reset_leaves_an_endpoint_already_on_the_baseline():
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x",
                             aws_secret_access_key="x")
    n = names("ada")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", {
            "EndpointName": n["endpoint"], "EndpointArn": "arn:aws:sagemaker:::endpoint/x",
            "EndpointConfigName": n["baseline_endpoint_config"], "EndpointStatus": "InService",
            "CreationTime": NOW, "LastModifiedTime": NOW})
        result = endpoint_reset("ada", ROSTER, PLAN, stacks(), lambda s, a=None: sagemaker)
    assert result.ok and "already serves the baseline" in result.message


def test_endpoint_reset_refuses_while_the_endpoint_is_updating():
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x",
                             aws_secret_access_key="x")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", {
            "EndpointName": "e", "EndpointArn": "arn:aws:sagemaker:::endpoint/x",
            "EndpointConfigName": "ada-trained", "EndpointStatus": "Updating",
            "CreationTime": NOW, "LastModifiedTime": NOW})
        result = endpoint_reset("ada", ROSTER, PLAN, stacks(), lambda s, a=None: sagemaker)
    assert not result.ok and "Updating" in result.message


def test_endpoint_reset_names_what_is_missing():
    assert "not on the roster" in endpoint_reset("zed", ROSTER, PLAN, stacks(), clients).message
    no_outputs = FakeStacks(existing=[EVENT], outputs={EVENT: {}})
    assert "lack endpoint, baseline_endpoint_config" in \
        endpoint_reset("ada", ROSTER, PLAN, no_outputs, clients).message
