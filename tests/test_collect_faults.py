"""Collection under at-least-once delivery and a struggling Firehose: every sample carries
its identity, a duplicate in one delivery is forwarded once, retries fit the timeout and
say what they gave up on, and any message is handled without an exception."""

import json

import boto3
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers import clients, collect_samples, fc_samples, publish_samples
from tests.aws_lab1 import STREAM, create_world, rows_of, sns_record

SETTINGS = collect_samples.Settings(delivery_stream_name=STREAM, participant="ada")


@pytest.fixture
def world(aws_env):
    clients.forget()
    with mock_aws():
        yield create_world()
    clients.forget()


def with_id(record: dict, sample_id: str) -> dict:
    record["Sns"]["MessageAttributes"] = {"sample_id": {"Type": "String", "Value": sample_id}}
    return record


def test_every_published_sample_carries_its_identity_beside_a_13_column_row(world):
    feed = publish_samples.Settings(sample_topic_arn=world.topic_arn, samples_per_second=10,
                                    period_seconds=1, feed_seed=1)
    publish_samples.handle({"time": "2026-11-26T10:00:00Z"}, feed, sleep=lambda s: None)
    sqs = boto3.client("sqs")
    envelopes = [json.loads(m["Body"]) for m in sqs.receive_message(
        QueueUrl=world.queue_url, MaxNumberOfMessages=10)["Messages"]]
    assert len(envelopes) == 10
    for envelope in envelopes:
        assert len(envelope["Message"].split(",")) == len(fc_samples.COLUMNS)
        assert envelope["MessageAttributes"]["sample_id"]["Value"] == \
            fc_samples.sample_id(envelope["Message"])


def test_the_identity_is_the_samples_content():
    [a, b] = fc_samples.generate(2, seed=9)
    assert fc_samples.sample_id(a) == fc_samples.sample_id(fc_samples.encode(a))
    assert fc_samples.sample_id(a) != fc_samples.sample_id(b)


def test_a_sample_delivered_twice_in_one_invocation_is_forwarded_once(world, capsys):
    [row] = rows_of(fc_samples.generate(1, seed=5))
    record = sns_record(row.rstrip("\n"), world.topic_arn)
    event = {"Records": [record, sns_record(row.rstrip("\n"), world.topic_arn, "m-2")]}
    summary = collect_samples.handle(event, SETTINGS)
    assert (summary["forwarded"], summary["duplicates"]) == (1, 1)
    assert world.rows_in_bucket() == [row]


def test_a_sample_whose_identity_does_not_match_is_rejected(world):
    [row] = rows_of(fc_samples.generate(1, seed=5))
    record = with_id(sns_record(row.rstrip("\n"), world.topic_arn), "0" * 20)
    assert collect_samples.handle({"Records": [record]}, SETTINGS)["rejected"] == 1


class AlwaysRejects:
    calls = 0

    def put_record_batch(self, DeliveryStreamName, Records):
        AlwaysRejects.calls += 1
        return {"FailedPutCount": len(Records),
                "RequestResponses": [{"ErrorCode": "ServiceUnavailableException"}] * len(Records)}


class Context:
    """A Lambda context whose clock advances by what the handler spends."""

    def __init__(self, timeout_ms: int):
        self.left = timeout_ms

    def get_remaining_time_in_millis(self):
        return self.left


def test_retries_stop_while_the_function_still_has_time_and_log_what_was_given_up(capsys):
    context, spent = Context(30_000), []

    class SlowRejects(AlwaysRejects):
        def put_record_batch(self, **kwargs):
            context.left -= collect_samples.CALL_BUDGET_MS  # every call at its worst
            spent.append(context.left)
            return super().put_record_batch(**kwargs)

    records = [sns_record(r.rstrip("\n"), "arn:topic", f"m{i}")
               for i, r in enumerate(rows_of(fc_samples.generate(3, seed=2)))]
    with pytest.raises(collect_samples.DeliveryError, match="gave up on 3 of 3 samples"):
        collect_samples.handle({"Records": records}, SETTINGS, client=SlowRejects(),
                               context=context)
    assert min(spent) >= collect_samples.MARGIN_MS  # never ran into the timeout
    gave_up = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if "firehose_gave_up" in line]
    assert gave_up[0]["pending"] == 3 and "no time left" in gave_up[0]["reason"]


def test_one_firehose_call_fits_its_budget():
    config = collect_samples.CLIENT_CONFIG
    worst_s = config.retries["total_max_attempts"] * (config.connect_timeout + config.read_timeout)
    assert 1000 * worst_s < collect_samples.CALL_BUDGET_MS


class Accepts:
    def __init__(self):
        self.rows = []

    def put_record_batch(self, DeliveryStreamName, Records):
        self.rows += [r["Data"] for r in Records]
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"}] * len(Records)}

    def put_record(self, DeliveryStreamName, Record):
        self.rows.append(Record["Data"])


message = st.one_of(st.text(max_size=600), st.just(rows_of(fc_samples.generate(1, seed=1))[0]),
                    st.lists(st.floats() | st.integers(), max_size=14).map(
                        lambda xs: ",".join(map(str, xs))))
record = st.one_of(message.map(lambda m: sns_record(m, "arn:topic")),
                   st.none(), st.integers(), st.dictionaries(st.text(max_size=5), st.text()))


@given(st.lists(record, max_size=6))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_delivery_is_accounted_for_without_an_exception(records):
    firehose = Accepts()
    summary = collect_samples.handle({"Records": records}, SETTINGS, client=firehose)
    assert summary["forwarded"] + summary["rejected"] + summary["duplicates"] == len(records)
    assert len(firehose.rows) == summary["forwarded"]
    for row in firehose.rows:
        fc_samples.decode(row.decode())  # only valid 13-column rows go through
