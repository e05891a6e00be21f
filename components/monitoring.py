"""The organizer's view: one CloudWatch dashboard, and alarms per participant.

Alarms watch the edge's per-participant metrics (sustained error rate, RMSE above a
threshold), the start of the "automated retraining" discussion. They notify one
organizer topic, optionally e-mailed. SEARCH cannot alarm, so each participant gets
plain metric alarms of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.dashboard import body, workshop_namespace
from components.parts.options import child_of
from event.config import AlarmsConfig
from handlers import scoring

EVALUATION_MINUTES, BREACHING_MINUTES = 5, 3  # "sustained": 3 of the last 5 minutes


def rmse_alarm_name(event: str, participant: str) -> str:
    """The participant's RMSE alarm, which also wakes their retraining loop."""
    return f"{event}-{participant}-rmse"


@dataclass
class MonitoringArgs:
    event: str
    region: str
    participants: Sequence[str]
    alarms: AlarmsConfig
    leaderboard_url: pulumi.Input[str]


class Monitoring(pulumi.ComponentResource):
    alerts_topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:event:Monitoring", name, None, opts)
        child = child_of(self)
        self._topic = aws.sns.Topic(f"{args.event}-organizer-alerts",
                                   name=f"{args.event}-organizer-alerts", opts=child)
        if args.alarms.email:
            aws.sns.TopicSubscription(f"{args.event}-organizer-email", topic=self._topic.arn,
                                      protocol="email", endpoint=args.alarms.email, opts=child)
        dashboard = aws.cloudwatch.Dashboard(
            f"{args.event}-dashboard", dashboard_name=f"{args.event}-live-inference",
            dashboard_body=pulumi.Output.from_input(args.leaderboard_url).apply(
                lambda url: body(args.event, args.region, url)),
            opts=child)
        for participant in args.participants:
            self._alarms(args, participant)
        self.alerts_topic_arn = self._topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"alerts_topic_arn": self.alerts_topic_arn,
                               "dashboard_name": self.dashboard_name})

    def _alarms(self, args: MonitoringArgs, participant: str) -> None:
        common = dict(
            namespace=workshop_namespace(args.event),
            dimensions={scoring.DIMENSION: participant}, period=60, statistic="Average",
            evaluation_periods=EVALUATION_MINUTES, datapoints_to_alarm=BREACHING_MINUTES,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",  # no traffic yet is not an incident
            alarm_actions=[self._topic.arn], ok_actions=[self._topic.arn],
            tags={"Participant": participant},
            opts=child_of(self))
        aws.cloudwatch.MetricAlarm(
            f"{args.event}-{participant}-error-rate", name=f"{args.event}-{participant}-error-rate",
            alarm_description=f"{participant}: more than {args.alarms.error_rate_percent}% of "
                              "the FC's requests fail",
            metric_name="ErrorRate", threshold=args.alarms.error_rate_percent, **common)
        aws.cloudwatch.MetricAlarm(
            rmse_alarm_name(args.event, participant), name=rmse_alarm_name(args.event, participant),
            alarm_description=f"{participant}: RMSE above {args.alarms.rmse_ms} ms; "
                              "time to retrain?",
            metric_name="RMSE", threshold=args.alarms.rmse_ms, **common)
