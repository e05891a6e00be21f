"""Event-wide settings from Pulumi stack config, typed and validated in one pass.

`SETTINGS` is the single source of truth; a test checks that the config schema in
`Pulumi.yaml` declares the same keys, types and defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi
from datetime import datetime

from event.roster import EMAIL_PATTERN
from handlers.fc_samples import PROFILES
from pulumi.runtime.config import CONFIG, get_config_env

EVENT_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type  # str, int or bool
    default: Any
    check: Callable[[Any], Optional[str]]  # returns a problem, or None when fine
    description: str


def _between(low: int, high: int) -> Callable[[int], Optional[str]]:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}"


def _always_fine(_: Any) -> Optional[str]:
    return None


def _iso_time_or_empty(value: str) -> Optional[str]:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "is not an ISO 8601 time like 2026-12-01T15:00:00Z"
    return None if moment.tzinfo else "needs a time zone, like 2026-12-01T15:00:00Z"


def _drift_profile(value: str) -> Optional[str]:
    drifts = [p for p in PROFILES if p != "normal"]
    return None if value in drifts else f"must be one of {drifts}"


def _ml_instance(value: str) -> Optional[str]:
    return None if re.match(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$", value) else \
        "is not a SageMaker instance type like ml.c5.large"


def _ml_instances(value: str) -> Optional[str]:
    bad = [t for t in value.split(",") if _ml_instance(t.strip())]
    return f"has {bad}, not SageMaker instance types like ml.c5.large" if bad else None


SETTINGS = (
    Setting("event", str, "aim368",
            lambda v: None if EVENT_PATTERN.match(v) else
            "must be 1-20 lowercase letters, digits or '-', starting with a letter",
            "Short event name; prefixes every resource name and tags everything."),
    Setting("roster", str, "participants.yaml", _always_fine,
            "Path of the participant roster, relative to the project directory."),
    Setting("samplesPerSecond", int, 5, _between(1, 50),
            "Samples the FC publishes per second to the sample topic."),
    Setting("feedEnabled", bool, True, _always_fine,
            "Whether the FC sample feed's schedule is on; set false to pause the feed."),
    Setting("feedSeed", int, 368, _between(0, 2**31 - 1),
            "Seed of the FC sample generator; each scheduled run derives its own from it."),
    Setting("firehoseBufferSeconds", int, 60, _between(0, 900),
            "Firehose buffering interval: how long samples wait before landing in S3."),
    Setting("firehoseBufferMB", int, 5, _between(1, 128),
            "Firehose buffering size in MiB; whichever of size and interval comes first."),
    Setting("logRetentionDays", int, 14,
            lambda v: None if v in LOG_RETENTION_DAYS else
            f"must be one of CloudWatch's values {LOG_RETENTION_DAYS}",
            "Retention of every Lambda and Firehose log group."),
    Setting("stagesPerApi", int, 10, _between(1, 100),
            "Participants (stages) packed into one shared live inference REST API; AWS allows "
            "10 stages per API unless the quota is raised."),
    Setting("inferenceRateLimit", int, 20, _between(1, 10_000),
            "Steady requests per second each participant's inference stage accepts."),
    Setting("inferenceBurstLimit", int, 40, _between(1, 5_000),
            "Burst of requests each participant's inference stage accepts."),
    Setting("datasetSamples", int, 2_000_000, _between(1_000, 20_000_000),
            "Samples in the pre-collected data set; 75% become TrainSamples.csv, 25% TestSamples.csv."),
    Setting("datasetSeed", int, 1, _between(0, 2**31 - 1),
            "Seed of the pre-collected data set (and of the baseline model's training)."),
    Setting("notebookInstanceType", str, "ml.c5.2xlarge", _ml_instance,
            "Instance type of every participant's SageMaker notebook."),
    Setting("notebookIdleMinutes", int, 60, _between(0, 1440),
            "Stop a notebook after this many idle minutes (0: never)."),
    Setting("endpointInstanceType", str, "ml.c5.large", _ml_instance,
            "Instance type of every participant's SageMaker endpoint."),
    Setting("endpointServerless", bool, False, _always_fine,
            "Serve the endpoints with serverless inference instead (cheaper when idle, cold starts)."),
    Setting("allowedInstanceTypes", str, "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge,ml.c5.2xlarge",
            _ml_instances,
            "Comma-separated instance types participants may train on and deploy to (IAM-enforced)."),
    Setting("edgeTrafficEnabled", bool, True, _always_fine,
            "Whether the FC edge calls the participants' live inference URLs."),
    Setting("edgeRequestsPerSecond", int, 5, _between(1, 20),
            "Requests per second the FC edge sends each participant."),
    Setting("edgeShardSize", int, 25, _between(1, 50),
            "Participants one edge invocation serves; shards run concurrently."),
    Setting("edgeTimeoutMs", int, 2000, _between(100, 10_000),
            "How long the edge waits for an answer before scoring a timeout."),
    Setting("privateSharePercent", int, 30, _between(0, 100),
            "Share of requests scored privately, for the final reveal (as on Kaggle)."),
    Setting("revealPrivate", bool, False, _always_fine,
            "Rank the leaderboard by the private score over the whole event (the reveal)."),
    Setting("leaderboardWindowMinutes", int, 5, _between(1, 60),
            "The leaderboard's live window: RMSE over the last this many minutes."),
    Setting("leaderboardMinSuccesses", int, 50, _between(1, 100_000),
            "Successful answers in the window needed to be ranked."),
    Setting("leaderboardHistoryMinutes", int, 480, _between(10, 1440),
            "How far back the leaderboard sums the whole event."),
    Setting("driftStart", str, "", _iso_time_or_empty,
            "When the FC drifts (ISO 8601, e.g. 2026-12-01T15:00:00Z); empty: never."),
    Setting("driftProfile", str, "peak-season", _drift_profile,
            "What the FC drifts to, from driftStart on."),
    Setting("alarmRmseMs", int, 1000, _between(1, 100_000),
            "Alarm when a participant's RMSE stays above this many ms."),
    Setting("alarmErrorRatePercent", int, 20, _between(1, 100),
            "Alarm when a participant's error rate stays above this percentage."),
    Setting("alarmEmail", str, "", lambda v: None if not v or EMAIL_PATTERN.match(v)
            else "is not an e-mail address",
            "Where alarms are e-mailed (confirm the subscription mail); empty: nowhere."),
    Setting("participantAccountRole", str, "OrganizationAccountAccessRole",
            lambda v: None if re.match(r"^[\w+=,.@-]{1,64}$", v) else "is not a valid IAM role name",
            "Role assumed in a participant's own AWS account (roster field 'account')."),
)


@dataclass(frozen=True)
class EventConfig:
    event: str = "aim368"
    roster: str = "participants.yaml"
    samples_per_second: int = 5
    feed_enabled: bool = True
    feed_seed: int = 368
    firehose_buffer_seconds: int = 60
    firehose_buffer_mb: int = 5
    log_retention_days: int = 14
    stages_per_api: int = 10
    inference_rate_limit: int = 20
    inference_burst_limit: int = 40
    dataset_samples: int = 2_000_000
    dataset_seed: int = 1
    notebook_instance_type: str = "ml.c5.2xlarge"
    notebook_idle_minutes: int = 60
    endpoint_instance_type: str = "ml.c5.large"
    endpoint_serverless: bool = False
    allowed_instance_types: str = "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge,ml.c5.2xlarge"
    edge_traffic_enabled: bool = True
    edge_requests_per_second: int = 5
    edge_shard_size: int = 25
    edge_timeout_ms: int = 2000
    private_share_percent: int = 30
    reveal_private: bool = False
    leaderboard_window_minutes: int = 5
    leaderboard_min_successes: int = 50
    leaderboard_history_minutes: int = 480
    drift_start: str = ""
    drift_profile: str = "peak-season"
    alarm_rmse_ms: int = 1000
    alarm_error_rate_percent: int = 20
    alarm_email: str = ""
    participant_account_role: str = "OrganizationAccountAccessRole"
    region: str = DEFAULT_REGION

    @property
    def instance_type_allow_list(self) -> list[str]:
        return [t.strip() for t in self.allowed_instance_types.split(",") if t.strip()]


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack config:\n{listing}")


def _attribute(key: str) -> str:
    return re.sub(r"(?<=[a-z])([A-Z])", r"_\1", key).lower()


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind is bool:
        if raw.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return raw.lower() == "true"
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
    return raw


def parse_config(raw: dict[str, Optional[str]], region: Optional[str] = None) -> EventConfig:
    """Build the config from raw strings (None = unset); raise ConfigError listing all problems."""
    problems, values = [], {}
    unknown = sorted(set(raw) - {s.key for s in SETTINGS})
    problems += [f"unknown setting '{k}'" for k in unknown]
    for setting in SETTINGS:
        text = raw.get(setting.key)
        try:
            value = setting.default if text is None else _parse(setting, text)
        except ValueError as error:
            problems.append(f"{setting.key}={text!r} {error}")
            continue
        problem = setting.check(value)
        if problem:
            problems.append(f"{setting.key}={value!r} {problem}")
        values[_attribute(setting.key)] = value
    problems += _cross_setting_problems(values)
    if problems:
        raise ConfigError(problems)
    return EventConfig(**values, region=region or DEFAULT_REGION)


def _cross_setting_problems(values: dict[str, Any]) -> list[str]:
    allowed = [t.strip() for t in str(values.get("allowed_instance_types", "")).split(",")]
    endpoint = values.get("endpoint_instance_type")
    if endpoint and not values.get("endpoint_serverless") and endpoint not in allowed:
        return [f"endpointInstanceType={endpoint!r} must be one of allowedInstanceTypes, "
                "so participants can deploy to what they were given"]
    return []


def _project_settings() -> dict[str, Optional[str]]:
    """Every `<project>:<key>` the stack sets, so that a mistyped key is caught too."""
    prefix = f"{pulumi.get_project()}:"
    every = {**get_config_env(), **CONFIG.get()}
    raw: dict[str, Optional[str]] = {k[len(prefix):]: v for k, v in every.items() if k.startswith(prefix)}
    project = pulumi.Config()
    raw.update({s.key: project.get(s.key) for s in SETTINGS})
    return raw


def load_config() -> EventConfig:
    """Read the project's stack config (and `aws:region`) from the running Pulumi program."""
    return parse_config(_project_settings(), region=pulumi.Config("aws").get("region"))
