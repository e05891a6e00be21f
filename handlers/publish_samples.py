"""The FC's sample publisher, run by an EventBridge schedule once a period.

One run publishes `samples_per_second` samples every second for `period_seconds` onto the
sample topic with SNS PublishBatch (10 messages a call), each with its identity as the
`sample_id` message attribute (fc_samples.sample_id), so duplicates can be told apart. Each run draws its samples
from a seed derived from the feed seed and the run's scheduled time, so a run is
reproducible. Entries SNS rejects are retried; any still failing make the run fail.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config

from handlers import clients, fc_samples
from handlers.environment import Environment
from handlers.log import log

PUBLISH_BATCH_SIZE = 10  # SNS PublishBatch limit
MAX_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.05
STOP_BEFORE_TIMEOUT_MS = 5_000
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5},
                       connect_timeout=2, read_timeout=5)

class PublishError(RuntimeError):
    """Some samples could not be published."""


@dataclass(frozen=True)
class Settings(Environment):
    sample_topic_arn: str  # the FC's sample topic
    samples_per_second: int
    period_seconds: int  # one run's length, the schedule's period
    feed_seed: int  # with the run's scheduled time, seeds the run's samples
    drift_start: str = ""  # ISO 8601; the FC drifts from then on, if set
    drift_profile: str = fc_samples.DEFAULT_DRIFT_PROFILE


def sns_client():
    return clients.client("sns", CLIENT_CONFIG)


def run_seed(feed_seed: int, scheduled_time: str) -> int:
    digest = hashlib.sha256(f"{feed_seed}:{scheduled_time}".encode()).hexdigest()
    return int(digest[:12], 16)


def publish_batch(client, topic_arn: str, samples: list, sleep=time.sleep) -> int:
    """Publish up to 10 samples, retrying rejected entries; return how many failed."""
    pending = {str(i): fc_samples.encode(s).rstrip("\n") for i, s in enumerate(samples)}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        response = client.publish_batch(
            TopicArn=topic_arn,
            PublishBatchRequestEntries=[
                {"Id": i, "Message": m, "MessageAttributes": {"sample_id": {
                    "DataType": "String", "StringValue": fc_samples.sample_id(m)}}}
                for i, m in pending.items()])
        pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
        if not pending:
            return 0
        if attempt < MAX_ATTEMPTS:
            sleep(FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))
    return len(pending)


def _remaining_ms(context: Any | None) -> float:
    return context.get_remaining_time_in_millis() if context else float("inf")


def handler(event: dict, context: Any | None = None) -> dict:
    return handle(event, Settings.from_environment(os.environ), context)


def handle(event: dict, settings: Settings, context: Any | None = None, client=None,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> dict:
    """One scheduled run, for the function whose settings are `settings`."""
    client = client or sns_client()
    topic_arn = settings.sample_topic_arn
    rate, period = settings.samples_per_second, settings.period_seconds
    scheduled = str((event or {}).get("time", "manual"))
    profile = fc_samples.profile_at(datetime.now(UTC), settings.drift_start,
                                    settings.drift_profile)
    samples = fc_samples.generate(rate * period, seed=run_seed(settings.feed_seed,
                                                               scheduled), profile=profile)
    start, published, failed = clock(), 0, 0
    for second in range(period):
        if _remaining_ms(context) < STOP_BEFORE_TIMEOUT_MS:
            break
        this_second = samples[second * rate:(second + 1) * rate]
        for i in range(0, len(this_second), PUBLISH_BATCH_SIZE):
            chunk = this_second[i:i + PUBLISH_BATCH_SIZE]
            lost = publish_batch(client, topic_arn, chunk, sleep=sleep)
            failed += lost
            published += len(chunk) - lost
        sleep(max(0.0, start + second + 1 - clock()))
    summary = {"scheduled": scheduled, "profile": profile, "published": published,
               "failed": failed,
               "skipped": len(samples) - published - failed}
    log("published", **summary)
    if failed or summary["skipped"]:
        raise PublishError(f"published {published} of {len(samples)} samples: {summary}")
    return summary
