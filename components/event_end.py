"""The end of the event: every notebook stopped, and optionally every endpoint deleted.

One-time EventBridge Scheduler schedules at `eventEnd` call SageMaker directly through
Scheduler's universal target (`arn:aws:scheduler:::aws-sdk:sagemaker:<action>`), so no
function runs for it: https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html

Each schedule's role may call exactly that action on exactly the listed notebooks or
endpoints. A universal target calls the API in the schedule's own account, so a
participant deployed into their own account gets a schedule and a role there. The
event's account shares roles, each covering at most `PARTICIPANTS_PER_ROLE` participants
so the inline policy stays under IAM's 10,240 characters at any roster size.

Deleting an endpoint (`scaleDownEndpointsAtEnd`) stops its hourly bill; Pulumi still has it
in its state, so `pulumi destroy` afterwards finds it gone and moves on, and a `pulumi up`
after the end would create it again (run `destroy`, or leave the setting off).
Once the end has passed nothing is declared here: a one-time schedule in the past has
nothing left to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import iam, schedule
from components.parts.options import child_of
from event.config import ScheduleConfig

UNIVERSAL_TARGET = "arn:aws:scheduler:::aws-sdk:sagemaker:{action}"
# 2 ARNs of about 90 characters per participant: 40 participants stay near 7,500 characters.
PARTICIPANTS_PER_ROLE = 40


@dataclass
class EndingParticipant:
    prefix: str  # <event>-<participant id>, the participant's name prefix
    notebook_name: pulumi.Input[str]
    notebook_arn: pulumi.Input[str]
    endpoint_name: pulumi.Input[str]
    endpoint_arn: pulumi.Input[str]
    # Their own account's provider, or None when they are in the event's account.
    provider: pulumi.ProviderResource | None = None


@dataclass
class EventEndArgs:
    event: str
    window: ScheduleConfig
    participants: Sequence[EndingParticipant]


@dataclass(frozen=True)
class _Action:
    api: str  # the SageMaker operation, as the universal target names it
    iam_action: str
    suffix: str  # of the schedule's name


STOP_NOTEBOOK = _Action("stopNotebookInstance", "sagemaker:StopNotebookInstance", "end-notebook")
DELETE_ENDPOINT = _Action("deleteEndpoint", "sagemaker:DeleteEndpoint", "end-endpoint")


class EventEnd(pulumi.ComponentResource):
    schedule_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: EventEndArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:event:EventEnd", name, None, opts)
        self._args = args
        names: list[str] = []
        if args.window.bounded and not schedule.ended(args.window, schedule.utc_now()):
            shared = [p for p in args.participants if p.provider is None]
            for number, start in enumerate(range(0, len(shared), PARTICIPANTS_PER_ROLE)):
                group = shared[start:start + PARTICIPANTS_PER_ROLE]
                names += self._group(f"{args.event}-end-of-event-{number + 1:02d}", group, None)
            for participant in args.participants:
                if participant.provider is not None:
                    names += self._group(f"{participant.prefix}-end-of-event", [participant],
                                         participant.provider)
        self.schedule_names = pulumi.Output.from_input(names)
        self.register_outputs({"schedule_names": self.schedule_names})

    def _actions(self) -> list[_Action]:
        return [STOP_NOTEBOOK] + ([DELETE_ENDPOINT] if self._args.window.scale_down_endpoints
                                  else [])

    def _group(self, role_name: str, group: Sequence[EndingParticipant],
               provider: pulumi.ProviderResource | None) -> list[str]:
        actions = self._actions()
        owned = {STOP_NOTEBOOK: [p.notebook_arn for p in group],
                 DELETE_ENDPOINT: [p.endpoint_arn for p in group]}
        role = schedule.scheduler_role(
            role_name, role_name,
            [iam.allow([action.iam_action], owned[action]) for action in actions],
            self, provider=provider)
        names = []
        for participant in group:
            for action in actions:
                logical = f"{participant.prefix}-{action.suffix}"
                member = ({"NotebookInstanceName": participant.notebook_name}
                          if action is STOP_NOTEBOOK else
                          {"EndpointName": participant.endpoint_name})
                aws.scheduler.Schedule(
                    logical, name=logical,
                    description=f"At the event's end: {action.api} for {participant.prefix}",
                    schedule_expression=schedule.at_expression(self._args.window.end),
                    schedule_expression_timezone="UTC",
                    flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                    target=aws.scheduler.ScheduleTargetArgs(
                        arn=UNIVERSAL_TARGET.format(action=action.api), role_arn=role.arn,
                        input=pulumi.Output.json_dumps(member)),
                    opts=child_of(self, provider=provider))
                names.append(logical)
        return names

