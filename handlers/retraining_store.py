"""The retraining table: each participant's switch and settings, the lock, the attempts.

One DynamoDB table for the event, keyed by (participant, record):

- `settings`: the participant's choices (enabled, margin, window, pre-collected data);
  absent keys fall back to the event's defaults;
- `lock`: the one attempt in flight, written with a condition so that two triggers
  cannot both start one; it carries an expiry, after which a new trigger may take it
  over (a job that never reported back cannot block the loop forever);
- `attempt#<job name>`: one per attempt, from trigger to decision.

Only the participant's own function writes their items; the notebook reads them
through that function, never the table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

SETTINGS, LOCK, ATTEMPT = "settings", "lock", "attempt#"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _stored(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(round(value, 6)))
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items() if v is not None}
    return value


def attempt_key(job: str) -> str:
    """Job names end in their start time, so attempts sort by time."""
    return f"{ATTEMPT}{job}"


class Store:
    def __init__(self, table, participant: str):
        self.table, self.participant = table, participant

    def _key(self, record: str) -> dict:
        return {"participant": self.participant, "record": record}

    def settings(self) -> dict:
        item = self.table.get_item(Key=self._key(SETTINGS)).get("Item") or {}
        return {k: v for k, v in _plain(item).items() if k not in ("participant", "record")}

    def update_settings(self, changes: dict) -> dict:
        names = {f"#s{i}": k for i, k in enumerate(changes)}
        values = {f":s{i}": _stored(v) for i, v in enumerate(changes.values())}
        self.table.update_item(Key=self._key(SETTINGS),
                               UpdateExpression="SET " + ", ".join(f"#s{i} = :s{i}"
                                                                   for i in range(len(changes))),
                               ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        return self.settings()

    def acquire(self, attempt: str, now: int, expires: int) -> dict | None:
        """Take the lock for `attempt`; None if taken, else the lock it replaced (or {})."""
        previous = self.table.get_item(Key=self._key(LOCK)).get("Item")
        try:
            self.table.put_item(
                Item={**self._key(LOCK), "attempt": attempt, "since": now, "expires": expires},
                ConditionExpression="attribute_not_exists(participant) OR expires < :now",
                ExpressionAttributeValues={":now": now})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _plain(previous) if previous and previous["expires"] < now else {}

    def lock(self) -> dict | None:
        item = self.table.get_item(Key=self._key(LOCK)).get("Item")
        return _plain(item) if item else None

    def bind_job(self, attempt: str, job: str) -> None:
        self.table.update_item(Key=self._key(LOCK), UpdateExpression="SET job = :job",
                               ConditionExpression="attempt = :attempt",
                               ExpressionAttributeValues={":job": job, ":attempt": attempt})

    def release(self, attempt: str) -> bool:
        try:
            self.table.delete_item(Key=self._key(LOCK), ConditionExpression="attempt = :a",
                                   ExpressionAttributeValues={":a": attempt})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # expired and taken over: not ours to release
            raise
        return True

    def record(self, key: str, fields: dict) -> None:
        self.table.put_item(Item={**self._key(key), **_stored(fields)})

    def claim(self, key: str, from_status: str, to_status: str) -> bool:
        """Move an attempt on, once: a redelivered event finds it already moved."""
        try:
            self.table.update_item(Key=self._key(key), UpdateExpression="SET #s = :to",
                                   ConditionExpression="#s = :from",
                                   ExpressionAttributeNames={"#s": "status"},
                                   ExpressionAttributeValues={":to": to_status,
                                                              ":from": from_status})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def attempt(self, key: str) -> dict | None:
        item = self.table.get_item(Key=self._key(key)).get("Item")
        return _plain(item) if item else None

    def attempts(self, limit: int = 20) -> list[dict]:
        """The latest attempts, newest first."""
        page = self.table.query(
            KeyConditionExpression=Key("participant").eq(self.participant)
            & Key("record").begins_with(ATTEMPT), ScanIndexForward=False, Limit=limit)
        return [_plain(i) for i in page["Items"]]
