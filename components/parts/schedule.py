"""EventBridge Scheduler schedules bounded by the event's window, and their roles.

Why Scheduler and not EventBridge rules: a rule has no time bounds, so "only inside the
window" would need something else to enable and disable it at the right moments (a human
running `pulumi up`, or a scheduler anyway). A Scheduler schedule carries `StartDate` and
`EndDate` itself: AWS does not invoke its target outside them, whoever forgets what.
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html

- `flexible_time_window` OFF: the edge and the feed are paced per minute.
- One target per schedule, invoked through a role allowed `lambda:InvokeFunction` on that
  exact function (Scheduler has no resource-based permission on the function).
- No retries: a retried run would publish its minute of samples, or send its minute of
  traffic, a second time (the functions' own async retries are 0 too).
- `StartDate` must not be more than 5 minutes in the past when a schedule is created or
  updated (CreateSchedule: "The StartDate you specify cannot be earlier than 5 minutes ago"),
  so once the window has begun the start is left out (the schedule runs from now, which
  is inside the window); once the window is over the schedule is declared disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.options import child_of
from event.config import ScheduleConfig

SCHEDULER = "scheduler.amazonaws.com"
EVERY_MINUTE = "rate(1 minute)"
# EventBridge's limit on a target's Input, kept for Scheduler too: botocore's model gives
# Scheduler's Target.Input no maximum, so the smaller documented bound is the safe one.
INPUT_LIMIT = 8_192
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def scheduler_time(moment: str) -> str:
    """An ISO 8601 time with a zone, as the UTC timestamp Scheduler's dates take."""
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at_expression(moment: str) -> str:
    """A one-time schedule at `moment`: at(yyyy-mm-ddThh:mm:ss), read in UTC."""
    utc = datetime.fromisoformat(moment).astimezone(UTC)
    return f"at({utc.strftime('%Y-%m-%dT%H:%M:%S')})"


@dataclass(frozen=True)
class Window:
    """What a recurring schedule is declared with, at the moment of `pulumi up`."""
    enabled: bool
    start_date: str | None
    end_date: str | None


def window(schedule: ScheduleConfig, enabled: bool, now: datetime) -> Window:
    """The schedule's state and bounds: the config switch, then the event's window."""
    if not schedule.bounded:
        return Window(enabled, None, None)
    start, end = (datetime.fromisoformat(t) for t in (schedule.start, schedule.end))
    if now >= end:
        return Window(False, None, None)  # over: nothing may run, and no date in the past
    start_date = scheduler_time(schedule.start) if now < start else None
    return Window(enabled, start_date, scheduler_time(schedule.end))


def ended(schedule: ScheduleConfig, now: datetime) -> bool:
    return schedule.bounded and now >= datetime.fromisoformat(schedule.end)


def scheduler_role(logical: str, name: str, statements: Sequence[dict[str, Any]],
                   parent: pulumi.Resource,
                   provider: pulumi.ProviderResource | None = None) -> aws.iam.Role:
    """A role only EventBridge Scheduler of this account may assume, doing `statements`
    (in `provider`'s account when given, else the parent's)."""
    where = {"provider": provider} if provider is not None else {}
    account = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(parent=parent, **where)).account_id
    role = aws.iam.Role(
        logical, name=name,
        # Confused-deputy guard recommended for Scheduler's execution roles.
        assume_role_policy=iam.trust_policy(
            SCHEDULER, condition={"StringEquals": {"aws:SourceAccount": account}}),
        opts=child_of(parent, **where))
    aws.iam.RolePolicy(f"{logical}-policy", role=role.id, policy=iam.policy(*statements),
                       opts=child_of(parent, **where))
    return role


def invoking_role(logical: str, name: str, functions: Sequence[aws.lambda_.Function],
                  parent: pulumi.Resource) -> aws.iam.Role:
    """A scheduler role allowed to invoke exactly these functions."""
    return scheduler_role(logical, name,
                          [iam.allow(["lambda:InvokeFunction"], [f.arn for f in functions])],
                          parent)


def every_minute(logical: str, function: aws.lambda_.Function, role: aws.iam.Role,
                 payload: pulumi.Input[str], bounds: Window, description: str,
                 parent: pulumi.Resource) -> aws.scheduler.Schedule:
    """Invoke `function` once a minute with `payload`, only within `bounds`."""
    return aws.scheduler.Schedule(
        logical, name=logical, description=description,
        schedule_expression=EVERY_MINUTE,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        start_date=bounds.start_date, end_date=bounds.end_date,
        state="ENABLED" if bounds.enabled else "DISABLED",
        target=aws.scheduler.ScheduleTargetArgs(
            arn=function.arn, role_arn=role.arn, input=payload,
            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=0)),
        opts=child_of(parent))
