"""The FC sample publisher, against moto's SNS."""

import json

import boto3
import pytest
from moto import mock_aws

from handlers import clients, fc_samples, publish_samples
from tests.aws_lab1 import create_world


class FakeClock:
    """Time that moves only when the handler sleeps, plus a fixed cost per publish."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def world(aws_env, monkeypatch):
    clients.forget()  # a fresh container: no client made against another test's moto
    with mock_aws():
        yield create_world()
    clients.forget()


def configure(world, rate, period, **more) -> publish_samples.Settings:
    return publish_samples.Settings(sample_topic_arn=world.topic_arn, feed_seed=368,
                                    samples_per_second=rate, period_seconds=period, **more)


def test_a_run_publishes_rate_times_period_samples_in_batches_of_ten(world, monkeypatch):
    settings = configure(world, rate=25, period=4)
    calls = []
    real = boto3.client("sns")

    class Recording:
        def publish_batch(self, **kwargs):
            calls.append(len(kwargs["PublishBatchRequestEntries"]))
            return real.publish_batch(**kwargs)

    clock = FakeClock()
    summary = publish_samples.handle({"time": "2026-11-26T10:00:00Z"}, settings, client=Recording(),
                                      clock=clock.clock, sleep=clock.sleep)
    assert summary == {"scheduled": "2026-11-26T10:00:00Z", "profile": "normal", "published": 100,
                       "failed": 0, "skipped": 0}
    assert calls == [10, 10, 5] * 4
    messages = [e["Records"][0]["Sns"]["Message"] for e in world.sns_events()]
    expected = fc_samples.generate(100, publish_samples.run_seed(368, "2026-11-26T10:00:00Z"))
    assert sorted(messages) == sorted(fc_samples.encode(s).strip() for s in expected)


def test_the_run_is_paced_over_its_whole_period(world, monkeypatch):
    settings = configure(world, rate=5, period=6)
    clock = FakeClock()
    start = clock.now
    sent_at = []
    real = boto3.client("sns")

    class Timed:
        def publish_batch(self, **kwargs):
            sent_at.append(clock.now - start)
            clock.now += 0.05  # each call takes a little time
            return real.publish_batch(**kwargs)

    publish_samples.handle({"time": "t"}, settings, client=Timed(), clock=clock.clock, sleep=clock.sleep)
    assert sent_at == pytest.approx([0, 1, 2, 3, 4, 5])
    assert clock.now - start == pytest.approx(6)
    assert all(s == pytest.approx(0.95) for s in clock.sleeps)


def test_each_scheduled_run_draws_different_but_reproducible_samples():
    assert publish_samples.run_seed(368, "2026-11-26T10:00:00Z") == \
        publish_samples.run_seed(368, "2026-11-26T10:00:00Z")
    assert publish_samples.run_seed(368, "2026-11-26T10:00:00Z") != \
        publish_samples.run_seed(368, "2026-11-26T10:01:00Z")
    assert publish_samples.run_seed(1, "x") != publish_samples.run_seed(2, "x")


def test_entries_sns_rejects_are_retried(world):
    real = boto3.client("sns")

    class RejectFirstTwo:
        def __init__(self):
            self.sizes = []

        def publish_batch(self, TopicArn, PublishBatchRequestEntries):
            self.sizes.append(len(PublishBatchRequestEntries))
            if len(self.sizes) == 1:
                kept, failed = PublishBatchRequestEntries[2:], PublishBatchRequestEntries[:2]
                real.publish_batch(TopicArn=TopicArn, PublishBatchRequestEntries=kept)
                return {"Successful": [{"Id": e["Id"]} for e in kept],
                        "Failed": [{"Id": e["Id"], "Code": "InternalError",
                                    "SenderFault": False} for e in failed]}
            return real.publish_batch(TopicArn=TopicArn,
                                      PublishBatchRequestEntries=PublishBatchRequestEntries)

    client, slept = RejectFirstTwo(), []
    samples = fc_samples.generate(10, seed=9)
    assert publish_samples.publish_batch(client, world.topic_arn, samples, sleep=slept.append) == 0
    assert client.sizes == [10, 2] and slept == [0.05]
    messages = [e["Records"][0]["Sns"]["Message"] for e in world.sns_events()]
    assert sorted(messages) == sorted(fc_samples.encode(s).strip() for s in samples)


def test_a_run_that_cannot_publish_everything_fails_loudly(world, monkeypatch, capsys):
    settings = configure(world, rate=3, period=2)

    class AlwaysReject:
        def publish_batch(self, TopicArn, PublishBatchRequestEntries):
            return {"Successful": [], "Failed": [{"Id": e["Id"], "Code": "InternalError",
                                                  "SenderFault": False}
                                                 for e in PublishBatchRequestEntries]}

    clock = FakeClock()
    with pytest.raises(publish_samples.PublishError, match="published 0 of 6 samples"):
        publish_samples.handle({"time": "t"}, settings, client=AlwaysReject(), clock=clock.clock,
                                sleep=clock.sleep)
    [summary] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (summary["failed"], summary["published"]) == (6, 0)


def test_a_run_stops_before_its_lambda_timeout_and_reports_what_it_skipped(world, monkeypatch):
    settings = configure(world, rate=2, period=10)

    class Context:
        def __init__(self):
            self.remaining = 9_000

        def get_remaining_time_in_millis(self):
            self.remaining -= 1_000
            return self.remaining

    clock = FakeClock()
    with pytest.raises(publish_samples.PublishError, match="published 8 of 20 samples.*'skipped': 12"):
        publish_samples.handle({"time": "t"}, settings, Context(), clock=clock.clock, sleep=clock.sleep)
    assert len(world.sns_events()) == 8  # 4 seconds while >= 5 s remained


def test_the_feed_drifts_from_its_start(world, monkeypatch):
    settings = configure(world, rate=10, period=1, drift_start="2020-01-01T00:00:00Z")
    clock = FakeClock()
    summary = publish_samples.handle({"time": "t"}, settings, clock=clock.clock, sleep=clock.sleep)
    assert summary["profile"] == fc_samples.DEFAULT_DRIFT_PROFILE
    messages = sorted(e["Records"][0]["Sns"]["Message"] for e in world.sns_events())
    expected = fc_samples.generate(10, publish_samples.run_seed(368, "t"), fc_samples.DEFAULT_DRIFT_PROFILE)
    assert messages == sorted(fc_samples.encode(s).strip() for s in expected)
