"""What woke the retraining function up, parsed and checked before anything is done.

One function per participant receives four kinds of events:

- a CloudWatch alarm state change (EventBridge, source `aws.cloudwatch`, detail-type
  `CloudWatch Alarm State Change`): the participant's RMSE alarm entering ALARM;
- a scheduled event (EventBridge, source `aws.events`, detail-type `Scheduled Event`);
- a SageMaker training job state change (source `aws.sagemaker`, detail-type
  `SageMaker Training Job State Change`, detail shaped like DescribeTrainingJob);
- a direct invocation from the participant's notebook: `{"action": ..., ...}`.

`parse` returns one typed request or raises `BadEvent` listing every problem at once.
A well-formed event about someone else's alarm or job is a `BadEvent` too: the rules
should never deliver one, and the function must not act on it if they do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
SCHEDULE_DETAIL_TYPE = "Scheduled Event"
JOB_DETAIL_TYPE = "SageMaker Training Job State Change"
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
JOB_STATUSES = ("InProgress", "Stopping") + TERMINAL_STATUSES
ACTIONS = ("start", "enable", "disable", "configure", "status")
# What a participant may set from the notebook, and the bounds the function enforces.
SETTING_BOUNDS = {"margin_percent": (0.0, 50.0), "window_minutes": (5, 1440)}
FLAGS = ("include_precollected",)


class BadEvent(ValueError):
    """An event the function refuses; `problems` says every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Who:
    """Whose function this is: events must be about these names."""

    participant: str
    alarm_name: str
    job_prefix: str  # every retraining job's name is <job_prefix>-<stamp>


@dataclass(frozen=True)
class Trigger:
    kind: str  # "alarm", "schedule" or "manual"
    detail: str  # the alarm's reason, the rule, or "notebook"


@dataclass(frozen=True)
class JobStateChange:
    job_name: str
    status: str


@dataclass(frozen=True)
class Command:
    action: str  # enable, disable, configure, status
    settings: dict


Request = Trigger | JobStateChange | Command


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _alarm(event: Mapping[str, Any], who: Who) -> Trigger:
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise BadEvent(["alarm event: 'detail' must be an object"])
    problems = []
    name = _text(detail.get("alarmName"))
    state = detail.get("state") if isinstance(detail.get("state"), dict) else {}
    value = _text(state.get("value"))
    if name is None:
        problems.append("alarm event: missing detail.alarmName")
    elif name != who.alarm_name:
        problems.append(f"alarm event: alarm {name[:80]!r} is not {who.participant}'s "
                        f"({who.alarm_name})")
    if value is None:
        problems.append("alarm event: missing detail.state.value")
    elif value != "ALARM":
        problems.append(f"alarm event: state {value[:20]!r} is not ALARM; only entering "
                        "ALARM triggers a retraining")
    if problems:
        raise BadEvent(problems)
    return Trigger("alarm", str(state.get("reason", ""))[:200])


def _job(event: Mapping[str, Any], who: Who) -> JobStateChange:
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise BadEvent(["training job event: 'detail' must be an object"])
    problems = []
    name, status = _text(detail.get("TrainingJobName")), _text(detail.get("TrainingJobStatus"))
    if name is None:
        problems.append("training job event: missing detail.TrainingJobName")
    elif not name.startswith(who.job_prefix + "-"):
        problems.append(f"training job event: job {name[:80]!r} is not one of "
                        f"{who.participant}'s retraining jobs ({who.job_prefix}-*)")
    if status not in JOB_STATUSES:
        problems.append(f"training job event: detail.TrainingJobStatus {str(status)[:20]!r} "
                        f"is not one of {JOB_STATUSES}")
    if problems:
        raise BadEvent(problems)
    return JobStateChange(name, status)


def _number(name: str, value: Any, problems: list[str]) -> float | None:
    low, high = SETTING_BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"{name}={str(value)[:20]!r} must be a number between {low} and {high}")
        return None
    if isinstance(low, int) and not float(value).is_integer():
        problems.append(f"{name}={value!r} must be a whole number of minutes")
        return None
    if not low <= value <= high:
        problems.append(f"{name}={value!r} must be between {low} and {high}")
        return None
    return int(value) if isinstance(low, int) else float(value)


def _command(event: Mapping[str, Any], who: Who) -> Request:
    problems = []
    action = event.get("action")
    if action not in ACTIONS:
        problems.append(f"action {str(action)[:20]!r} must be one of {ACTIONS}")
    participant = event.get("participant", who.participant)
    if participant != who.participant:
        problems.append(f"participant {str(participant)[:60]!r}: this function retrains only "
                        f"{who.participant!r}")
    known = {"action", "participant", *SETTING_BOUNDS, *FLAGS}
    problems += [f"unknown key {str(k)[:30]!r}; allowed: {sorted(known)}"
                 for k in event if k not in known]
    settings: dict = {}
    for name in SETTING_BOUNDS:
        if name in event:
            settings[name] = _number(name, event[name], problems)
    for name in FLAGS:
        if name in event:
            if isinstance(event[name], bool):
                settings[name] = event[name]
            else:
                problems.append(f"{name}={str(event[name])[:20]!r} must be true or false")
    if settings and action != "configure":
        problems.append(f"settings {sorted(settings)} can only be changed with "
                        "action 'configure'")
    if action == "configure" and not settings and not problems:
        problems.append(f"action 'configure' needs at least one of "
                        f"{sorted([*SETTING_BOUNDS, *FLAGS])}")
    if problems:
        raise BadEvent(problems)
    if action == "start":
        return Trigger("manual", "notebook")
    return Command(action, settings)


def parse(event: Any, who: Who) -> Request:
    if not isinstance(event, dict):
        raise BadEvent([f"an event must be a JSON object, got {type(event).__name__}"])
    source, detail_type = event.get("source"), event.get("detail-type")
    if source == "aws.cloudwatch" and detail_type == ALARM_DETAIL_TYPE:
        return _alarm(event, who)
    if source == "aws.events" and detail_type == SCHEDULE_DETAIL_TYPE:
        return Trigger("schedule", str((event.get("resources") or ["schedule"])[0])[:200])
    if source == "aws.sagemaker" and detail_type == JOB_DETAIL_TYPE:
        return _job(event, who)
    if "source" in event or "detail-type" in event:
        raise BadEvent([(f"unexpected event source {str(source)[:40]!r} / detail-type "
                        f"{str(detail_type)[:60]!r}")])
    if "action" not in event:
        raise BadEvent([("not an EventBridge event and no 'action': expected one of "
                        f"{ACTIONS}")])
    return _command(event, who)
