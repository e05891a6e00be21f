"""The data of one retraining attempt: the participant's recent samples, split in time.

Firehose writes the samples of the participant's Lab 1 pipeline under
`<prefix>year=YYYY/month=MM/day=DD/hour=HH/` (the layout components/sample_collection.py
declares; Firehose's hour is UTC arrival time). An attempt lists only the hour folders
its window covers, keeps the objects written within the window, and reads them oldest
first. The most recent `holdout_percent` of the rows (at most MAX_HOLDOUT_ROWS) are held
out: neither model trains on them, and both are judged on them. The rest is the
training set. Both are written under `retraining/<attempt>/` in the participant's bucket,
where the training job reads them; what is read is bounded by MAX_WINDOW_BYTES.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import fc_samples

MAX_WINDOW_BYTES = 64 * 1024 * 1024  # about 800,000 samples
MAX_HOLDOUT_ROWS = 5_000
MIN_TRAIN_ROWS, MIN_HOLDOUT_ROWS = 500, 100
ATTEMPTS_PREFIX = "retraining/"


class NotEnoughData(Exception):
    """Too few recent samples to train or to judge; the attempt is skipped."""


@dataclass(frozen=True)
class Split:
    train_uri: str  # a prefix: the recent rows, plus the pre-collected set if asked for
    holdout_uri: str
    holdout_key: str
    train_rows: int
    holdout_rows: int
    rejected_rows: int
    objects: int
    newest: str  # when the newest sample used arrived


def hour_prefix(samples_prefix: str, moment: datetime) -> str:
    return moment.strftime(f"{samples_prefix}year=%Y/month=%m/day=%d/hour=%H/")


def window_objects(s3, bucket: str, samples_prefix: str, now: datetime,
                   minutes: int) -> list[dict]:
    """The sample objects written in the last `minutes`, oldest first."""
    start = now - timedelta(minutes=minutes)
    hour, objects = start.replace(minute=0, second=0, microsecond=0), []
    while hour <= now:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=hour_prefix(samples_prefix, hour))
        objects += [o for page in pages for o in page.get("Contents", [])
                    if o["Size"] > 0 and start <= o["LastModified"] <= now]
        hour += timedelta(hours=1)
    return sorted(objects, key=lambda o: (o["LastModified"], o["Key"]))


def read_rows(s3, bucket: str, objects: list[dict]) -> tuple[list[str], int, int]:
    """(valid CSV rows oldest first, rejected rows, objects read), newest data kept
    first when the window holds more than MAX_WINDOW_BYTES."""
    chosen, size = [], 0
    for item in reversed(objects):
        if size + item["Size"] > MAX_WINDOW_BYTES and chosen:
            break
        chosen.append(item)
        size += item["Size"]
    rows, rejected = [], 0
    for item in reversed(chosen):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for line in body.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                rows.append(fc_samples.encode(fc_samples.decode(line)))
            except fc_samples.SampleError:
                rejected += 1
    return rows, rejected, len(chosen)


def split(rows: list[str], holdout_percent: float) -> tuple[list[str], list[str]]:
    """(train, holdout): the holdout is the most recent rows."""
    holdout_size = min(MAX_HOLDOUT_ROWS, round(len(rows) * holdout_percent / 100))
    if holdout_size < MIN_HOLDOUT_ROWS or len(rows) - holdout_size < MIN_TRAIN_ROWS:
        raise NotEnoughData(f"{len(rows)} recent samples: need at least "
                            f"{MIN_TRAIN_ROWS} to train and {MIN_HOLDOUT_ROWS} to judge")
    return rows[:-holdout_size], rows[-holdout_size:]


def prepare(s3, bucket: str, samples_prefix: str, attempt: str, now: datetime,
            minutes: int, holdout_percent: float, precollected_uri: str = "") -> Split:
    """Write the attempt's training and holdout sets; raise NotEnoughData if too few."""
    objects = window_objects(s3, bucket, samples_prefix, now, minutes)
    rows, rejected, read = read_rows(s3, bucket, objects)
    train, holdout = split(rows, holdout_percent)
    base = f"{ATTEMPTS_PREFIX}{attempt}/"
    s3.put_object(Bucket=bucket, Key=base + "train/recent.csv", Body="".join(train).encode())
    if precollected_uri:
        source_bucket, _, source_key = precollected_uri.removeprefix("s3://").partition("/")
        s3.copy_object(Bucket=bucket, Key=base + "train/precollected.csv",
                       CopySource={"Bucket": source_bucket, "Key": source_key})
    holdout_key = base + "holdout/holdout.csv"
    s3.put_object(Bucket=bucket, Key=holdout_key, Body="".join(holdout).encode())
    newest = objects[-1]["LastModified"].isoformat() if objects else ""
    return Split(f"s3://{bucket}/{base}train/", f"s3://{bucket}/{base}holdout/", holdout_key,
                 len(train), len(holdout), rejected, read, newest)


def holdout_rows(s3, bucket: str, key: str) -> tuple[list[str], list[float]]:
    """(feature rows as CSV text, true durations) of an attempt's holdout."""
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    features, truth = [], []
    for line in text.splitlines():
        label, _, rest = line.partition(",")
        features.append(rest)
        truth.append(float(label))
    return features, truth
