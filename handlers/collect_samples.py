"""Lab 1 collection Lambda: FC sample notifications from SNS -> the participant's Firehose.

Each valid sample goes to Firehose as one newline-terminated CSV row, so the objects
Firehose writes to S3 are plain CSV. Malformed samples are logged with a reason and
counted, never forwarded. Records Firehose rejects are retried with backoff; if some
still fail, the invocation raises so that Lambda retries it and, after that, parks the
event in the on-failure queue: nothing is dropped silently.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

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
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5},
                       connect_timeout=2, read_timeout=5)

class DeliveryError(RuntimeError):
    """Firehose kept rejecting some samples; raised so Lambda retries the invocation."""


@dataclass(frozen=True)
class Settings(Environment):
    delivery_stream_name: str  # the participant's Firehose stream
    participant: Optional[str] = None  # for the log line


def firehose_client():
    return clients.client("firehose", CLIENT_CONFIG)


def _sample_row(record: Any) -> str:
    try:
        message = record["Sns"]["Message"]
    except (KeyError, TypeError):
        raise fc_samples.SampleError("not an SNS notification record") from None
    return fc_samples.encode(fc_samples.decode(message))


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
            sleep: Optional[Callable[[float], None]] = None) -> int:
    """Put rows on the stream, retrying rejected ones; return the attempts it took."""
    client = client or firehose_client()
    sleep = sleep or time.sleep
    pending = [row.encode("utf-8") for row in rows]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        pending = _put_once(client, stream, pending)
        if not pending:
            return attempt
        log("firehose_rejected", stream=stream, rejected=len(pending), attempt=attempt)
        if attempt < MAX_ATTEMPTS:
            sleep(FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise DeliveryError(f"Firehose {stream} still rejected {len(pending)} of {len(rows)} "
                        f"samples after {MAX_ATTEMPTS} attempts")


def handler(event: dict, context: Optional[Any] = None) -> dict:
    return handle(event, Settings.from_environment(os.environ))


def handle(event: dict, settings: Settings, client=None) -> dict:
    """One SNS invocation, for the function whose settings are `settings`."""
    stream = settings.delivery_stream_name
    rows, rejected = [], 0
    for position, record in enumerate(event.get("Records") or []):
        try:
            rows.append(_sample_row(record))
        except fc_samples.SampleError as error:
            rejected += 1
            message = record.get("Sns", {}).get("Message") if isinstance(record, dict) else None
            log("sample_rejected", record=position, reason=str(error),
                message=str(message)[:200] if message is not None else None)
    attempts = deliver(stream, rows, client=client) if rows else 0
    summary = {"forwarded": len(rows), "rejected": rejected, "attempts": attempts}
    log("collected", participant=settings.participant, stream=stream, **summary)
    return summary
