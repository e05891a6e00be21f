"""The rehearsal at event scale: an account with the quotas an event needs, refusals in one line."""

import boto3
import pytest
import yaml
from moto import mock_aws

from rehearsal import world as rehearsal_world
from rehearsal.__main__ import main
from rehearsal.crowd import crowd
from rehearsal.run import Participant, Settings, Tap, declare
from rehearsal.validation import problems
from rehearsal.world import QuotaError, provision, rehearsed_account
from tools.mock_program import ACCOUNT, PROGRAM

FIREHOSE_DEFAULT = 50  # AWS's documented default per Region, which moto enforces


@pytest.fixture
def emulated_account(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "rehearsal",
                       "AWS_SECRET_ACCESS_KEY": "rehearsal"}.items():
        monkeypatch.setenv(key, value)


def _stream(firehose, number: int) -> None:
    firehose.create_delivery_stream(
        DeliveryStreamName=f"s{number}", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": f"arn:aws:iam::{ACCOUNT}:role/r",
                                            "BucketARN": "arn:aws:s3:::b"})


def test_plain_moto_refuses_the_51st_stream_as_aws_does_by_default(emulated_account):
    with mock_aws():
        firehose = boto3.client("firehose")
        for number in range(FIREHOSE_DEFAULT):
            _stream(firehose, number)
        with pytest.raises(firehose.exceptions.LimitExceededException):
            _stream(firehose, FIREHOSE_DEFAULT)


def test_the_rehearsed_account_has_the_raised_quota_and_gives_the_default_back(emulated_account):
    from moto.firehose.models import DeliveryStream
    with mock_aws(), rehearsed_account():
        firehose = boto3.client("firehose")
        for number in range(FIREHOSE_DEFAULT + 10):
            _stream(firehose, number)
    assert DeliveryStream.MAX_STREAMS_PER_REGION == FIREHOSE_DEFAULT


def test_generated_participants_are_valid_settings():
    entries = crowd(100)
    assert problems({"participants": entries}) == []
    assert len({e["name"] for e in entries}) == 100
    assert {e["algorithm"] for e in entries} == {"xgboost", "linear-learner", "knn"}


def test_more_participants_than_the_firehose_default_are_provisioned(emulated_account, tmp_path):
    people = [Participant(e["name"], e["algorithm"], e["hyperparameters"])
              for e in crowd(FIREHOSE_DEFAULT + 1)]
    # One stack: 52 mock evaluations (event + a stack each) would only slow this test down.
    program = declare(Settings(people, topology="single"), tmp_path, PROGRAM).program
    with mock_aws(), rehearsed_account():
        world = provision(program, Tap().queue_arn)
        streams = boto3.client("firehose").list_delivery_streams(Limit=1000)
    assert len(streams["DeliveryStreamNames"]) >= FIREHOSE_DEFAULT + 1
    assert len(world.stages) == FIREHOSE_DEFAULT + 1


def test_a_quota_refusal_stops_the_rehearsal_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(rehearsal_world, "REHEARSED_FIREHOSE_STREAMS", 2)  # an account at 2
    config = tmp_path / "rehearsal.yaml"
    config.write_text(yaml.safe_dump({"participants": crowd(3), "traffic_runs": 1,
                                      "run_seconds": 1}))
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Traceback" not in error
    assert error.startswith("rehearsal stopped: the account's quota is too low for this event: "
                            "Amazon Data Firehose: delivery streams per Region "
                            "(CreateDeliveryStream refused:")
    assert "Service Quotas" in error


def test_other_client_errors_are_not_mistaken_for_quotas():
    from botocore.exceptions import ClientError
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CreateBucket")
    assert rehearsal_world.quota_refusal(denied) is None
    limited = ClientError({"Error": {"Code": "LimitExceededException",
                                     "Message": "Too many tables. Names: a, b, c"}}, "CreateTable")
    refusal = rehearsal_world.quota_refusal(limited)
    assert isinstance(refusal, QuotaError)
    assert str(refusal) == ("the account's quota is too low for this event: Amazon DynamoDB: "
                            "tables per Region (CreateTable refused: Too many tables); request an "
                            "increase in Service Quotas before the event")
