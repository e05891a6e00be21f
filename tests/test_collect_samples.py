"""The Lab 1 collection handler, against moto's SNS, Firehose and S3."""

import json
from collections import Counter
from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from handlers import clients, collect_samples, fc_samples, publish_samples
from tests.aws_lab1 import STREAM, create_world, rows_of, sns_event, sns_record
from tests.kit import set_environment

SETTINGS = collect_samples.Settings(delivery_stream_name=STREAM, participant="ada-lovelace")


@pytest.fixture
def world(aws_env, monkeypatch):
    set_environment(monkeypatch, SETTINGS)
    clients.forget()  # a fresh container: no client made against another test's moto
    with mock_aws():
        yield create_world()
    clients.forget()


def log_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_published_samples_arrive_in_the_bucket_as_csv_rows_with_none_lost(world, monkeypatch):
    feed = publish_samples.Settings(sample_topic_arn=world.topic_arn, samples_per_second=12,
                                    period_seconds=5, feed_seed=368)
    run = {"time": "2026-11-26T10:00:00Z"}
    publish_samples.handle(run, feed, sleep=lambda s: None)
    expected = fc_samples.generate(60, seed=publish_samples.run_seed(368, run["time"]))

    events = world.sns_events()
    assert len(events) == 60  # SNS hands a Lambda one notification per invocation
    for event in events:
        assert collect_samples.handler(event) == {"forwarded": 1, "rejected": 0, "duplicates": 0, "attempts": 1}

    rows = world.rows_in_bucket()
    assert Counter(rows) == Counter(rows_of(expected))
    assert all(row.endswith("\n") for row in rows)
    assert [fc_samples.decode(r) for r in sorted(rows)] == sorted(expected, key=fc_samples.encode)


def test_several_records_go_in_one_batch(world, capsys):
    samples = fc_samples.generate(30, seed=1)
    event = {"Records": [sns_record(fc_samples.encode(s).strip(), world.topic_arn, f"m{i}")
                         for i, s in enumerate(samples)]}
    calls = []
    real = boto3.client("firehose")

    class Recording:
        def put_record_batch(self, **kwargs):
            calls.append(len(kwargs["Records"]))
            return real.put_record_batch(**kwargs)

    assert collect_samples.handle(event, SETTINGS, client=Recording())["forwarded"] == 30
    assert calls == [30]
    assert Counter(world.rows_in_bucket()) == Counter(rows_of(samples))


def test_malformed_samples_are_logged_with_a_reason_and_not_forwarded(world, capsys):
    good = fc_samples.generate(2, seed=2)
    event = {"Records": [
        sns_record(fc_samples.encode(good[0]), world.topic_arn),
        sns_record("1,2,3", world.topic_arn),
        sns_record("5000,5100,200,100,50,1,300,700,300,200,400,NaN,40", world.topic_arn),
        {"not": "sns"},
        sns_record(fc_samples.encode(good[1]), world.topic_arn),
    ]}
    result = collect_samples.handler(event)
    assert result == {"forwarded": 2, "rejected": 3, "duplicates": 0, "attempts": 1}
    assert Counter(world.rows_in_bucket()) == Counter(rows_of(good))
    rejected = [line for line in log_lines(capsys) if line["event"] == "sample_rejected"]
    assert [(r["record"], r["reason"]) for r in rejected] == [
        (1, "expected 13 comma-separated values, got 3"),
        (2, "bin_fullness is not finite: 'NaN'"),
        (3, "not an SNS notification record"),
    ]
    assert rejected[0]["message"] == "1,2,3"


def test_an_invocation_of_only_malformed_samples_succeeds_without_calling_firehose(world):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"Firehose called: {name}")

    result = collect_samples.handle(sns_event("garbage", world.topic_arn), SETTINGS, client=NoCalls())
    assert result == {"forwarded": 0, "rejected": 1, "duplicates": 0, "attempts": 0}


class FlakyFirehose:
    """Rejects every other record (a lone record: the whole call) for the first
    `bad_calls` calls, then behaves."""

    def __init__(self, bad_calls: int):
        self.real = boto3.client("firehose")
        self.bad_calls = bad_calls
        self.batch_sizes = []

    def put_record_batch(self, DeliveryStreamName, Records):
        self.batch_sizes.append(len(Records))
        if self.bad_calls <= 0:
            return self.real.put_record_batch(DeliveryStreamName=DeliveryStreamName,
                                              Records=Records)
        self.bad_calls -= 1
        accepted = Records[::2]
        self.real.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=accepted)
        responses = [{"RecordId": f"r{i}"} if i % 2 == 0 else
                     {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                     for i in range(len(Records))]
        return {"FailedPutCount": len(Records) - len(accepted), "RequestResponses": responses}

    def put_record(self, DeliveryStreamName, Record):
        self.batch_sizes.append(1)
        if self.bad_calls > 0:
            self.bad_calls -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailableException",
                                         "Message": "Slow down."}}, "PutRecord")
        return self.real.put_record(DeliveryStreamName=DeliveryStreamName, Record=Record)


def test_records_firehose_rejects_are_retried_with_backoff(world, monkeypatch):
    slept = []
    monkeypatch.setattr(collect_samples.time, "sleep", slept.append)
    samples = fc_samples.generate(9, seed=3)
    flaky = FlakyFirehose(bad_calls=4)
    rows = rows_of(samples)
    assert collect_samples.deliver(STREAM, rows, client=flaky) == 5
    assert flaky.batch_sizes == [9, 4, 2, 1, 1]
    assert slept == [0.1, 0.2, 0.4, 0.8]
    assert Counter(world.rows_in_bucket()) == Counter(rows)


def test_records_that_keep_failing_make_the_invocation_fail_so_lambda_retries(world, monkeypatch):
    monkeypatch.setattr(collect_samples.time, "sleep", lambda s: None)
    samples = fc_samples.generate(8, seed=4)
    event = {"Records": [sns_record(r, world.topic_arn) for r in rows_of(samples)]}
    with pytest.raises(collect_samples.DeliveryError,
                       match=rf"still rejected 1 of 8 samples after {collect_samples.MAX_ATTEMPTS}"):
        collect_samples.handle(event, SETTINGS, client=FlakyFirehose(bad_calls=99))


def test_large_batches_are_split_within_firehose_limits():
    rows = [b"x" * 100] * 1_200
    assert [len(b) for b in collect_samples._batches(rows)] == [500, 500, 200]
    big = [b"y" * (1024 * 1024)] * 9
    assert [len(b) for b in collect_samples._batches(big)] == [4, 4, 1]


def test_a_missing_stream_fails_at_once_instead_of_waiting(world, monkeypatch):
    set_environment(monkeypatch, replace(SETTINGS, delivery_stream_name="no-such-stream"))
    slept = []
    monkeypatch.setattr(collect_samples.time, "sleep", slept.append)
    row = rows_of(fc_samples.generate(1, seed=5))[0]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        collect_samples.handler(sns_event(row, world.topic_arn))
    assert slept == []
