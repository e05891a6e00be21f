"""Event-wide settings from Pulumi stack config, typed, validated in one pass, in sections.

`Pulumi.yaml` declares every setting with its type, default and description (Pulumi's
convention) and is the only place a default is written: this module reads that schema.
What the schema cannot say lives here: each setting's validation rule (`RULES`) and the
section field it fills (`EventConfig` and its sections). `schema_problems()` reports any
key that is declared without a rule or a field, or the other way round.
"""

from __future__ import annotations

import difflib
import functools
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pulumi
import yaml

from event.names import ParticipantNames
from event.roster import EMAIL_PATTERN
from event.roster import ID_PATTERN as PARTICIPANT_ID_PATTERN
from handlers import edge_limits
from handlers.fc_samples import PROFILES

PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
EVENT_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# <org>/<project>/<stack>: Pulumi names are letters, digits, '-', '_' and '.'.
STACK_REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]{1,100}$")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
# Used when the stack sets no `aws:region`; the AWS provider's own fallback (the
# AWS_REGION environment variable) would make the plan depend on the shell.
DEFAULT_REGION = "us-east-1"
# The program writes `arn:aws:...` ARNs, so only the standard partition's regions work.
PARTITION = "aws"
# Keys of another namespace that people set without it.
OTHER_NAMESPACES = {"region": "aws:region", "profile": "aws:profile"}
SCHEMA_TYPES = {"string": str, "integer": int, "boolean": bool}
# EventBridge schedule expressions: rate(value unit) or cron(6 fields).
SCHEDULE_PATTERN = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|"
                              r"cron\(\S+( \S+){5}\))$")

Check = Callable[[Any], str | None]  # returns a problem, or None when fine


# --- validation rules: the part of each setting that Pulumi.yaml cannot express ------------

def _between(low: int, high: int) -> Check:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}"


def _always_fine(_: Any) -> str | None:
    return None


def _iso_time_or_empty(value: str) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # Python 3.11+ reads a trailing Z
    except ValueError:
        return "is not an ISO 8601 time like 2026-12-01T15:00:00Z"
    return None if moment.tzinfo else "needs a time zone, like 2026-12-01T15:00:00Z"


def _drift_profile(value: str) -> str | None:
    drifts = [p for p in PROFILES if p != "normal"]
    return None if value in drifts else f"must be one of {drifts}"


def _ml_instance(value: str) -> str | None:
    return None if re.match(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$", value) else \
        "is not a SageMaker instance type like ml.c5.large"


def _ml_instances(value: str) -> str | None:
    bad = [t for t in value.split(",") if _ml_instance(t.strip())]
    return f"has {bad}, not SageMaker instance types like ml.c5.large" if bad else None


def instance_types(value: str) -> list[str]:
    """A comma-separated list of instance types, as given."""
    return [t.strip() for t in value.split(",") if t.strip()]


def _sagemaker_types(shape: str, use: str) -> Check:
    """Types of a list the SageMaker API accepts for one use: training and hosting differ
    (ml.c5.large can host but not train), as the API model's enums say."""
    def check(value: str) -> str | None:
        # botocore's model, loaded only when a list is checked
        from readiness.api_models import enum

        malformed = _ml_instances(value)
        if malformed:
            return malformed
        if not instance_types(value):
            return "must list at least one instance type"
        valid = set(enum("sagemaker", shape))
        bad = [t for t in instance_types(value) if t not in valid]
        return (f"has {bad}, which SageMaker does not accept for {use} (its {shape} values)"
                if bad else None)
    return check


RULES: dict[str, Check] = {
    "event": lambda v: None if EVENT_PATTERN.match(v) else
    "must be 1-20 lowercase letters, digits or '-', starting with a letter",
    "roster": _always_fine,
    "samplesPerSecond": _between(1, 50),
    "feedEnabled": _always_fine,
    "feedSeed": _between(0, 2**31 - 1),
    "firehoseBufferSeconds": _between(0, 900),
    "firehoseBufferMB": _between(1, 128),
    "logRetentionDays": lambda v: None if v in LOG_RETENTION_DAYS else
    f"must be one of CloudWatch's values {LOG_RETENTION_DAYS}",
    "stagesPerApi": _between(1, 100),
    "inferenceRateLimit": _between(1, 10_000),
    "inferenceBurstLimit": _between(1, 5_000),
    "datasetSamples": _between(1_000, 20_000_000),
    "datasetSeed": _between(0, 2**31 - 1),
    "notebookInstanceType": _ml_instance,
    "notebookIdleMinutes": _between(0, 1440),
    "endpointInstanceType": _ml_instance,
    "endpointServerless": _always_fine,
    "trainingInstanceTypes": _sagemaker_types("TrainingInstanceType", "training"),
    "hostingInstanceTypes": _sagemaker_types("ProductionVariantInstanceType", "hosting"),
    "edgeTrafficEnabled": _always_fine,
    "edgeRequestsPerSecond": _between(1, 20),
    "edgeShardSize": _between(1, 50),
    "edgeTimeoutMs": _between(100, 10_000),
    "privateSharePercent": _between(0, 100),
    "revealPrivate": _always_fine,
    "leaderboardWindowMinutes": _between(1, 60),
    "leaderboardMinSuccesses": _between(1, 100_000),
    "leaderboardHistoryMinutes": _between(10, 1440),
    "driftStart": _iso_time_or_empty,
    "driftProfile": _drift_profile,
    "alarmRmseMs": _between(1, 100_000),
    "alarmErrorRatePercent": _between(1, 100),
    "alarmEmail": lambda v: None if not v or EMAIL_PATTERN.match(v) else "is not an e-mail address",
    "participantAccountRole": lambda v: None if re.match(r"^[\w+=,.@-]{1,64}$", v) else
    "is not a valid IAM role name",
    "participantStacks": _always_fine,
    "participant": lambda v: None if not v or PARTICIPANT_ID_PATTERN.match(v) else
    "is not a participant id (lowercase letters and digits joined by single '-')",
    "eventStack": lambda v: None if not v or STACK_REFERENCE_PATTERN.match(v) else
    "is not a fully qualified stack name <org>/<project>/<stack>",
    "retrainingDefault": _always_fine,
    "retrainingMarginPercent": _between(0, 50),
    "retrainingWindowMinutes": _between(5, 1440),
    "retrainingSchedule": lambda v: None if not v or SCHEDULE_PATTERN.match(v) else
    "is not an EventBridge schedule like rate(1 hour) or cron(0 * * * ? *)",
    "retrainingTrainingInstanceType": _ml_instance,
    # The event's schedule (issue 13): both-or-neither and their order are cross-checks.
    "eventStart": _iso_time_or_empty,
    "eventEnd": _iso_time_or_empty,
    "scaleDownEndpointsAtEnd": _always_fine,
    "keepPromotions": _always_fine,
    "maxTrainingJobsPerParticipant": _between(1, 10),
    "leaderboardReservedConcurrency": _between(0, 100),
    # The portal (issue 12). AWS's ranges: CreatePresignedNotebookInstanceUrl's session
    # 1800-43200 s; the federation endpoint's SessionDuration 900-43200 s.
    "notebookSessionSeconds": _between(1800, 43200),
    "consoleSessionSeconds": _between(900, 43200),
    "portalReservedConcurrency": _between(1, 1000),
}

# Secret settings the program reads itself, outside EventConfig (a secret must not sit in a
# plain dataclass) and outside Pulumi.yaml: the project schema has no object type, and a
# declaration without a default would make the key required on every stack, participant
# stacks included. Known here so that setting them is not an "unknown setting".
SECRET_SETTINGS = {
    "joinCodes": "participant id -> join code (pulumi config set --secret --path "
                 "joinCodes.<id> <code>; `fleet codes` sets them all)",
}


# --- the sections: which setting fills which field --------------------------------------

def setting(key: str) -> Any:
    """A section field filled from the stack config key `key` (no default: Pulumi.yaml has it)."""
    return field(metadata={"key": key})


@dataclass(frozen=True)
class LogsConfig:
    retention_days: int = setting("logRetentionDays")


@dataclass(frozen=True)
class FeedConfig:
    samples_per_second: int = setting("samplesPerSecond")
    enabled: bool = setting("feedEnabled")
    seed: int = setting("feedSeed")


@dataclass(frozen=True)
class DriftConfig:
    """When and to what the FC drifts: the feed and the edge must agree on it."""
    start: str = setting("driftStart")
    profile: str = setting("driftProfile")


@dataclass(frozen=True)
class CollectionConfig:
    buffer_seconds: int = setting("firehoseBufferSeconds")
    buffer_mb: int = setting("firehoseBufferMB")


@dataclass(frozen=True)
class DatasetConfig:
    samples: int = setting("datasetSamples")
    seed: int = setting("datasetSeed")


@dataclass(frozen=True)
class NotebookConfig:
    instance_type: str = setting("notebookInstanceType")
    idle_minutes: int = setting("notebookIdleMinutes")


@dataclass(frozen=True)
class EndpointConfig:
    instance_type: str = setting("endpointInstanceType")
    serverless: bool = setting("endpointServerless")
    training_instance_types: str = setting("trainingInstanceTypes")
    hosting_instance_types: str = setting("hostingInstanceTypes")

    @property
    def training_types(self) -> list[str]:
        """What participants may train on (CreateTrainingJob)."""
        return instance_types(self.training_instance_types)

    @property
    def hosting_types(self) -> list[str]:
        """What participants may deploy to (CreateEndpointConfig)."""
        return instance_types(self.hosting_instance_types)


@dataclass(frozen=True)
class InferenceConfig:
    stages_per_api: int = setting("stagesPerApi")
    rate_limit: int = setting("inferenceRateLimit")
    burst_limit: int = setting("inferenceBurstLimit")


@dataclass(frozen=True)
class EdgeConfig:
    enabled: bool = setting("edgeTrafficEnabled")
    requests_per_second: int = setting("edgeRequestsPerSecond")
    shard_size: int = setting("edgeShardSize")
    timeout_ms: int = setting("edgeTimeoutMs")
    private_share_percent: int = setting("privateSharePercent")


@dataclass(frozen=True)
class LeaderboardConfig:
    window_minutes: int = setting("leaderboardWindowMinutes")
    min_successes: int = setting("leaderboardMinSuccesses")
    history_minutes: int = setting("leaderboardHistoryMinutes")
    reveal_private: bool = setting("revealPrivate")


@dataclass(frozen=True)
class AlarmsConfig:
    rmse_ms: int = setting("alarmRmseMs")
    error_rate_percent: int = setting("alarmErrorRatePercent")
    email: str = setting("alarmEmail")


@dataclass(frozen=True)
class TopologyConfig:
    """Which kind of stack this is: single stack, event stack, or one participant's stack."""
    participant_stacks: bool = setting("participantStacks")
    participant: str = setting("participant")
    event_stack: str = setting("eventStack")

    @property
    def kind(self) -> str:
        if self.participant:
            return "participant"
        return "event" if self.participant_stacks else "single"


@dataclass(frozen=True)
class RetrainingConfig:
    """The automated retraining loop's event-wide defaults (a participant may change theirs)."""
    default_on: bool = setting("retrainingDefault")
    margin_percent: int = setting("retrainingMarginPercent")
    window_minutes: int = setting("retrainingWindowMinutes")
    schedule: str = setting("retrainingSchedule")
    training_instance_type: str = setting("retrainingTrainingInstanceType")


@dataclass(frozen=True)
class ScheduleConfig:
    """The event's window: traffic runs only inside it; notebooks stop at its end."""
    start: str = setting("eventStart")
    end: str = setting("eventEnd")
    scale_down_endpoints: bool = setting("scaleDownEndpointsAtEnd")

    @property
    def bounded(self) -> bool:
        return bool(self.start and self.end)

    @property
    def hours(self) -> float | None:
        """The window's length, or None without a window."""
        if not self.bounded:
            return None
        span = datetime.fromisoformat(self.end) - datetime.fromisoformat(self.start)
        return span.total_seconds() / 3600


@dataclass(frozen=True)
class UpdatesConfig:
    keep_promotions: bool = setting("keepPromotions")


@dataclass(frozen=True)
class TrainingLimitsConfig:
    max_jobs_per_participant: int = setting("maxTrainingJobsPerParticipant")


@dataclass(frozen=True)
class CapacityConfig:
    leaderboard_reserved_concurrency: int = setting("leaderboardReservedConcurrency")


@dataclass(frozen=True)
class PortalConfig:
    notebook_session_seconds: int = setting("notebookSessionSeconds")
    console_session_seconds: int = setting("consoleSessionSeconds")
    reserved_concurrency: int = setting("portalReservedConcurrency")


@dataclass(frozen=True)
class EventConfig:
    event: str = setting("event")
    roster: str = setting("roster")
    participant_account_role: str = setting("participantAccountRole")
    region: str = field(metadata={"key": "aws:region"})
    logs: LogsConfig = field()
    feed: FeedConfig = field()
    drift: DriftConfig = field()
    collection: CollectionConfig = field()
    dataset: DatasetConfig = field()
    notebook: NotebookConfig = field()
    endpoint: EndpointConfig = field()
    inference: InferenceConfig = field()
    edge: EdgeConfig = field()
    leaderboard: LeaderboardConfig = field()
    alarms: AlarmsConfig = field()
    topology: TopologyConfig = field()
    retraining: RetrainingConfig = field()
    schedule: ScheduleConfig = field()
    updates: UpdatesConfig = field()
    training: TrainingLimitsConfig = field()
    capacity: CapacityConfig = field()
    portal: PortalConfig = field()


@dataclass(frozen=True)
class SectionField:
    """Where one project setting lands: `section` ("" for EventConfig itself) and field."""
    key: str
    section: str
    name: str
    kind: type


def section_fields(config_type: type = EventConfig, section: str = "") -> Iterator[SectionField]:
    """Every field filled from a project setting, in declaration order."""
    hints = typing.get_type_hints(config_type)
    for item in fields(config_type):
        kind = hints[item.name]
        if is_dataclass(kind):
            yield from section_fields(kind, item.name)
        elif ":" not in item.metadata.get("key", ":"):
            yield SectionField(item.metadata["key"], section, item.name, kind)


# --- the schema, read from Pulumi.yaml --------------------------------------------------

@dataclass(frozen=True)
class Setting:
    key: str
    kind: type  # str, int or bool
    default: Any
    check: Check
    description: str


def read_schema(path: Path = PROJECT_FILE) -> dict[str, dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["config"]


def schema_problems(schema: dict[str, dict[str, Any]],
                    rules: dict[str, Check] = RULES) -> list[str]:
    """Keys the schema, the rules and the section fields do not all agree on."""
    problems = []
    targets = {f.key: f for f in section_fields()}
    for key, declared in schema.items():
        kind = SCHEMA_TYPES.get(declared.get("type"))
        if kind is None:
            problems.append(f"{key}: type {declared.get('type')!r} is not one of "
                            f"{list(SCHEMA_TYPES)}")
        elif "default" not in declared or type(declared["default"]) is not kind:
            problems.append(f"{key}: needs a default of type {declared.get('type')}")
        if not declared.get("description"):
            problems.append(f"{key}: needs a description")
        if key not in rules:
            problems.append(f"{key}: has no validation rule in event/config.py RULES")
        if key not in targets:
            problems.append(f"{key}: fills no field of EventConfig or its sections")
        elif kind is not None and targets[key].kind is not kind:
            problems.append(f"{key}: is {declared['type']} but its field "
                            f"{targets[key].section or 'EventConfig'}.{targets[key].name} "
                            f"is {targets[key].kind.__name__}")
    problems += [f"{key}: has a validation rule but is not declared in Pulumi.yaml"
                 for key in rules if key not in schema]
    problems += [f"{key}: fills a field but is not declared in Pulumi.yaml"
                 for key in targets if key not in schema]
    return problems


@functools.cache
def settings() -> tuple[Setting, ...]:
    """Every project setting, in Pulumi.yaml's order; raises if the schema and code disagree."""
    schema = read_schema()
    problems = schema_problems(schema)
    if problems:
        raise RuntimeError("Pulumi.yaml and event/config.py disagree:\n  " + "\n  ".join(problems))
    return tuple(Setting(key, SCHEMA_TYPES[d["type"]], d["default"], RULES[key], d["description"])
                 for key, d in schema.items())


SETTINGS = settings()


# --- parsing ------------------------------------------------------------------------------

class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack config:\n{listing}")


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


def _unknown_key_problem(key: str, known: list[str]) -> str:
    if key in OTHER_NAMESPACES:
        return (f"unknown setting '{key}'; did you mean '{OTHER_NAMESPACES[key]}'? "
                f"(pulumi config set {OTHER_NAMESPACES[key]} ...)")
    by_case = {k.lower(): k for k in known}
    close = ([by_case[key.lower()]] if key.lower() in by_case
             else difflib.get_close_matches(key, known, n=1))
    return f"unknown setting '{key}'" + (f"; did you mean '{close[0]}'?" if close else "")


@functools.cache
def known_regions(partition: str = PARTITION) -> frozenset[str]:
    """The partition's region names, from the endpoint data bundled with botocore (no network)."""
    import botocore.loaders  # only needed here; keeps botocore off the program's import path

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for p in endpoints["partitions"] if p["partition"] == partition
                     for region in p["regions"])


def _region_problem(region: str) -> str | None:
    if region in known_regions():
        return None
    close = difflib.get_close_matches(region, sorted(known_regions()), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"aws:region={region!r} is not an AWS region{hint}"


def parse_config(raw: dict[str, str | None], region: str | None = None) -> EventConfig:
    """Build the config from raw strings (None = unset); raise ConfigError listing all problems."""
    every = SETTINGS
    known = [s.key for s in every]
    problems = [_unknown_key_problem(k, known)
                for k in sorted(set(raw) - set(known) - set(SECRET_SETTINGS))]
    values: dict[str, Any] = {}
    for setting_ in every:
        text = raw.get(setting_.key)
        try:
            value = setting_.default if text is None else _parse(setting_, text)
        except ValueError as error:
            problems.append(f"{setting_.key}={text!r} {error}")
            continue
        problem = setting_.check(value)
        if problem:
            problems.append(f"{setting_.key}={value!r} {problem}")
        values[setting_.key] = value
    region = region or DEFAULT_REGION
    problems += [p for p in [_region_problem(region)] if p]
    problems += _cross_setting_problems(values)
    problems += _edge_problems(values, region)
    if problems:
        raise ConfigError(problems)
    return _assemble(values, region)


def _assemble(values: dict[str, Any], region: str) -> EventConfig:
    by_section: dict[str, dict[str, Any]] = {}
    for target in section_fields():
        by_section.setdefault(target.section, {})[target.name] = values[target.key]
    hints = typing.get_type_hints(EventConfig)
    sections = {name: hints[name](**fields_) for name, fields_ in by_section.items() if name}
    return EventConfig(**by_section[""], region=region, **sections)


def _cross_setting_problems(values: dict[str, Any]) -> list[str]:
    return _instance_type_problems(values) + _topology_problems(values)


def _topology_problems(values: dict[str, Any]) -> list[str]:
    participant, event_stack = values.get("participant"), values.get("eventStack")
    if participant and not event_stack:
        return [(f"participant={participant!r} needs eventStack, the <org>/<project>/<stack> "
                 "whose roster and shared parts this participant stack uses")]
    if event_stack and not participant:
        return [(f"eventStack={event_stack!r} is only for a participant stack; set participant "
                 "too, or unset eventStack")]
    return []


def _instance_type_problems(values: dict[str, Any]) -> list[str]:
    hosting = instance_types(str(values.get("hostingInstanceTypes", "")))
    endpoint = values.get("endpointInstanceType")
    problems = []
    if endpoint and not values.get("endpointServerless") and endpoint not in hosting:
        problems.append(f"endpointInstanceType={endpoint!r} must be one of hostingInstanceTypes "
                        f"{hosting}, so participants can deploy to what they were given")
    training = instance_types(str(values.get("trainingInstanceTypes", "")))
    retraining = values.get("retrainingTrainingInstanceType")
    if retraining and retraining not in training:
        problems.append(f"retrainingTrainingInstanceType={retraining!r} must be one of "
                        f"trainingInstanceTypes {training}, which the retraining jobs are held to")
    return problems + _window_problems(values)


def _window_problems(values: dict[str, Any]) -> list[str]:
    """eventStart and eventEnd: both or neither, the end after the start."""
    start, end = values.get("eventStart"), values.get("eventEnd")
    problems = []
    if values.get("scaleDownEndpointsAtEnd") and not end:
        problems.append("scaleDownEndpointsAtEnd=true needs eventEnd (when to delete the "
                        "endpoints)")
    if bool(start) != bool(end):
        problems.append(f"eventStart={start!r} and eventEnd={end!r}: set both, or neither")
    elif start and not (_iso_time_or_empty(start) or _iso_time_or_empty(end)) \
            and datetime.fromisoformat(end) <= datetime.fromisoformat(start):
        problems.append(f"eventEnd={end!r} must be after eventStart={start!r}")
    return problems


def _edge_problems(values: dict[str, Any], region: str) -> list[str]:
    """Edge settings that would break an AWS limit (Lambda threads and timeout, EventBridge
    input size), each saying which limit; skipped while a setting involved is invalid."""
    keys = ("edgeShardSize", "edgeRequestsPerSecond", "edgeTimeoutMs", "event")
    if any(k not in values or RULES[k](values[k]) for k in keys):
        return []
    longest_id = ParticipantNames(values["event"], "p").max_participant_id_length()
    return edge_limits.problems(values["edgeShardSize"], values["edgeRequestsPerSecond"],
                                values["edgeTimeoutMs"], longest_id, region)


def _project_settings() -> dict[str, str | None]:
    """Every `<project>:<key>` the stack sets, so that a mistyped key is caught too."""
    from tools.pulumi_internals import (
        all_config,  # Pulumi has no public way to list keys
    )

    prefix = f"{pulumi.get_project()}:"
    raw: dict[str, str | None] = {k[len(prefix):]: v for k, v in all_config().items()
                                     if k.startswith(prefix)}
    project = pulumi.Config()
    raw.update({s.key: project.get(s.key) for s in SETTINGS})
    return raw


def load_config() -> EventConfig:
    """Read the project's stack config (and `aws:region`) from the running Pulumi program."""
    return parse_config(_project_settings(), region=pulumi.Config("aws").get("region"))


def load_secret_setting(key: str) -> str | None:
    """A SECRET_SETTINGS key's raw text from the running program, None if unset.

    Plain on purpose: the program validates it before declaring anything and wraps what it
    derives from it in pulumi.Output.secret."""
    if key not in SECRET_SETTINGS:
        raise KeyError(f"{key} is not one of the secret settings {sorted(SECRET_SETTINGS)}")
    return pulumi.Config().get(key)
