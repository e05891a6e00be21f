"""The retraining table: each participant's switch and settings, the lock, the attempts.

One DynamoDB table for the event, keyed by (participant, record):

- `settings`: the participant's choices (enabled, margin, window, pre-collected data);
  absent keys fall back to the event's defaults;
- `lock`: the one attempt in flight, written with a condition so that two triggers
  cannot both start one; it carries an expiry, after which a new trigger may take it
  over (a job that never reported back cannot block the loop forever);
- `attempt#<job name>`: one per attempt, from trigger to decision;
- `summary`: what the leaderboard shows (promotions so far, the latest finished attempt's
  decision and RMSEs), updated atomically as each attempt finishes, and when the last
  manual trigger was accepted (its cooldown). The leaderboard reads only these items, one
  per participant, so its reads do not grow with the attempts.

Only the participant's own function writes their items; the notebook reads them
through that function, never the table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

SETTINGS, LOCK, ATTEMPT, SUMMARY = "settings", "lock", "attempt#", "summary"
# The summary's fields the leaderboard reads (and its IAM policy allows it to read).
SUMMARY_FIELDS = ("promotions", "last_decision", "last_current_rmse", "last_candidate_rmse")


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

    def finish(self, key: str, fields: dict) -> None:
        """Record a finished attempt and fold it into the summary, in one atomic update of
        the summary (ADD counts, SET/REMOVE the latest decision's fields)."""
        self.record(key, fields)
        values = {":one": 1, ":promoted": int(fields.get("decision") == "promoted"),
                  ":decision": fields.get("decision"), ":attempt": key,
                  ":finished": fields.get("finished")}
        sets = ["last_decision = :decision", "last_attempt = :attempt",
                "last_finished = :finished"]
        removes = []
        for name in ("current_rmse", "candidate_rmse"):
            if fields.get(name) is None:
                removes.append(f"last_{name}")
            else:
                sets.append(f"last_{name} = :{name}")
                values[f":{name}"] = fields[name]
        self.table.update_item(
            Key=self._key(SUMMARY),
            UpdateExpression=("ADD attempts :one, promotions :promoted SET " + ", ".join(sets)
                              + (" REMOVE " + ", ".join(removes) if removes else "")),
            ExpressionAttributeValues=_stored(values))

    def claim_manual(self, now: int, cooldown_seconds: int) -> bool:
        """Accept a manual trigger at most once per cooldown: a conditional write, so two
        concurrent triggers cannot both pass; a refused one writes nothing."""
        try:
            self.table.update_item(
                Key=self._key(SUMMARY), UpdateExpression="SET last_manual = :now",
                ConditionExpression="attribute_not_exists(last_manual) OR last_manual <= :since",
                ExpressionAttributeValues={":now": now, ":since": now - cooldown_seconds})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def summary(self) -> dict | None:
        item = self.table.get_item(Key=self._key(SUMMARY)).get("Item")
        return _plain(item) if item else None

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
