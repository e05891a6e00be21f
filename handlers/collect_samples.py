"""Lab 1 collection Lambda: FC sample notifications from SNS -> the participant's Firehose.

Each valid sample goes to Firehose as one newline-terminated CSV row, so the objects
Firehose writes to S3 are plain CSV. Malformed samples are logged with a reason and
counted, never forwarded. A sample delivered twice within one invocation (same identity,
fc_samples.sample_id) is forwarded once.

Records Firehose rejects are retried with backoff, but only while the function has time
left for another attempt (every call is bounded by CLIENT_CONFIG): the loop never runs
into the timeout. If some still fail, the invocation logs what it gave up on and raises
so that Lambda retries it and, after that, parks the event in the on-failure queue:
nothing is dropped silently. A retried invocation sends the whole event again, so rows
Firehose had accepted arrive twice: at-least-once, visible as identical rows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from handlers import clients, fc_samples
from handlers.environment import Environment
from handlers.log import log

MAX_BATCH_RECORDS = 500  # PutRecordBatch limits
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.1
RETRYABLE_ERRORS = {"ServiceUnavailableException", "ThrottlingException", "InternalFailure"}
# One Firehose call takes at most 2 attempts x (1 s connect + 3 s read) plus botocore's
# backoff: about 9 s, budgeted at 10. An attempt starts only if that, the next sleep and
# a margin fit in the time left, so the whole loop ends before the function's timeout
# (30 s) instead of running up to 5 loop attempts x 6 botocore attempts x (2 + 5) s.
CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2},
                       connect_timeout=1, read_timeout=3)
CALL_BUDGET_MS = 10_000
MARGIN_MS = 2_000

class DeliveryError(RuntimeError):
    """Firehose kept rejecting some samples; raised so Lambda retries the invocation."""


@dataclass(frozen=True)
class Settings(Environment):
    delivery_stream_name: str  # the participant's Firehose stream
    participant: str | None = None  # for the log line


def firehose_client():
    return clients.client("firehose", CLIENT_CONFIG)


def _sample_row(record: Any) -> str:
    try:
        message = record["Sns"]["Message"]
    except (KeyError, TypeError):
        raise fc_samples.SampleError("not an SNS notification record") from None
    return fc_samples.encode(fc_samples.decode(message))


def _claimed_id(record: Any) -> Any:
    """The sample_id message attribute the publisher set, if any."""
    try:
        return record["Sns"]["MessageAttributes"]["sample_id"]["Value"]
    except (KeyError, TypeError):
        return None


def _batches(rows: list[bytes]):
    batch, size = [], 0
    for row in rows:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + len(row) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += len(row)
    if batch:
        yield batch


def _put_once(client, stream: str, rows: list[bytes]) -> list[bytes]:
    """Send rows once; return the ones Firehose rejected for now (throttling, 5xx)."""
    if len(rows) == 1:
        try:
            client.put_record(DeliveryStreamName=stream, Record={"Data": rows[0]})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in RETRYABLE_ERRORS:
                raise  # a missing stream or a denied call will not heal by waiting
            return rows
        return []
    rejected: list[bytes] = []
    for batch in _batches(rows):
        response = client.put_record_batch(DeliveryStreamName=stream,
                                           Records=[{"Data": row} for row in batch])
        if response.get("FailedPutCount"):
            rejected += [row for row, result in zip(batch, response["RequestResponses"])
                         if result.get("ErrorCode")]
    return rejected


def deliver(stream: str, rows: list[str], client=None,
            sleep: Callable[[float], None] | None = None,
            remaining_ms: Callable[[], float] = lambda: float("inf")) -> int:
    """Put rows on the stream, retrying rejected ones while there is time for another
    attempt; return the attempts it took, or raise DeliveryError saying what is left."""
    client = client or firehose_client()
    sleep = sleep or time.sleep
    pending = [row.encode("utf-8") for row in rows]
    attempt = 0
    while attempt < MAX_ATTEMPTS:
        backoff = FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1) if attempt else 0.0
        if remaining_ms() < CALL_BUDGET_MS + MARGIN_MS + 1000 * backoff:
            log("firehose_gave_up", stream=stream, pending=len(pending), attempts=attempt,
                reason="no time left for another attempt")
            raise DeliveryError(f"Firehose {stream}: gave up on {len(pending)} of {len(rows)} "
                                f"samples after {attempt} attempts, out of time")
        if backoff:
            sleep(backoff)
        attempt += 1
        pending = _put_once(client, stream, pending)
        if not pending:
            return attempt
        log("firehose_rejected", stream=stream, rejected=len(pending), attempt=attempt)
    log("firehose_gave_up", stream=stream, pending=len(pending), attempts=attempt,
        reason="attempts exhausted")
    raise DeliveryError(f"Firehose {stream} still rejected {len(pending)} of {len(rows)} "
                        f"samples after {MAX_ATTEMPTS} attempts")


def handler(event: dict, context: Any | None = None) -> dict:
    return handle(event, Settings.from_environment(os.environ), context=context)


def handle(event: dict, settings: Settings, client=None, context: Any | None = None) -> dict:
    """One SNS invocation, for the function whose settings are `settings`."""
    stream = settings.delivery_stream_name
    rows, seen, rejected, duplicates = [], set(), 0, 0
    for position, record in enumerate(event.get("Records") or []):
        try:
            row = _sample_row(record)
        except fc_samples.SampleError as error:
            rejected += 1
            message = record.get("Sns", {}).get("Message") if isinstance(record, dict) else None
            log("sample_rejected", record=position, reason=str(error),
                message=str(message)[:200] if message is not None else None)
            continue
        identity = fc_samples.sample_id(row)
        claimed = _claimed_id(record)
        if claimed is not None and claimed != identity:
            rejected += 1
            log("sample_rejected", record=position, sample_id=str(claimed)[:40],
                reason="sample_id does not match the sample")
            continue
        if identity in seen:
            duplicates += 1  # SNS delivered it twice in this batch
            continue
        seen.add(identity)
        rows.append(row)
    remaining = context.get_remaining_time_in_millis if context else lambda: float("inf")
    attempts = deliver(stream, rows, client=client, remaining_ms=remaining) if rows else 0
    summary = {"forwarded": len(rows), "rejected": rejected, "duplicates": duplicates,
               "attempts": attempts}
    log("collected", participant=settings.participant, stream=stream, **summary)
    return summary
