"""The organizer's view: one CloudWatch dashboard, and alarms per participant.

Alarms watch the edge's per-participant metrics (sustained error rate, RMSE above a
threshold), the start of the "automated retraining" discussion. SEARCH cannot alarm, so
each participant gets alarms of their own, and they stay quiet until there is something
to say:

- the two metric alarms carry no actions; one composite alarm per participant (error
  rate OR RMSE) notifies the organizer topic, once when it enters ALARM, and never on
  OK (no OK actions): no mail at `up`, one per participant in trouble;
- missing data is not breaching (no traffic yet, or no successful answer: no RMSE);
- the error rate leaves out the edge's `NotReady` answers (503 "endpoint not ready",
  while the endpoint is first being created, about 10 minutes after `up`), so a
  participant is not reported before their endpoint has been in service. The edge emits
  `NotReady` per participant next to `Errors` and `Requests`; until it does, FILL counts
  it as 0 and the rate is the plain error rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.dashboard import body, workshop_namespace
from components.parts.options import child_of
from event.config import AlarmsConfig
from handlers import scoring

EVALUATION_MINUTES, BREACHING_MINUTES = 5, 3  # "sustained": 3 of the last 5 minutes
# Answers the edge counts as "your endpoint is not in service yet" (HTTP 503 with error
# `endpoint_not_ready` from the live inference function), per participant per minute.
NOT_READY_METRIC = "NotReady"
ERROR_RATE_EXPRESSION = "100 * (errors - FILL(notready, 0)) / requests"


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
        prefix = f"{args.event}-{participant}"
        quiet = {"treat_missing_data": "notBreaching",  # no traffic yet is not an incident
                 "evaluation_periods": EVALUATION_MINUTES,
                 "datapoints_to_alarm": BREACHING_MINUTES,
                 "comparison_operator": "GreaterThanThreshold", "actions_enabled": False,
                 "tags": {"Participant": participant}, "opts": child_of(self)}
        namespace, dimensions = workshop_namespace(args.event), {scoring.DIMENSION: participant}

        def summed(query_id: str, metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=query_id, return_data=False,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    metric_name=metric, namespace=namespace, dimensions=dimensions,
                    period=60, stat="Sum"))

        errors = aws.cloudwatch.MetricAlarm(
            f"{prefix}-error-rate", name=f"{prefix}-error-rate",
            alarm_description=f"{participant}: more than {args.alarms.error_rate_percent}% of "
                              "the FC's requests fail (not counting 'endpoint not ready')",
            threshold=args.alarms.error_rate_percent,
            metric_queries=[
                summed("errors", "Errors"), summed("requests", "Requests"),
                summed("notready", NOT_READY_METRIC),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="rate", return_data=True, label="ErrorRate without NotReady",
                    expression=ERROR_RATE_EXPRESSION)],
            **quiet)
        rmse = aws.cloudwatch.MetricAlarm(
            rmse_alarm_name(args.event, participant), name=rmse_alarm_name(args.event, participant),
            alarm_description=f"{participant}: RMSE above {args.alarms.rmse_ms} ms; "
                              "time to retrain?",
            namespace=namespace, dimensions=dimensions, period=60, statistic="Average",
            metric_name="RMSE", threshold=args.alarms.rmse_ms, **quiet)
        aws.cloudwatch.CompositeAlarm(
            f"{prefix}-attention", alarm_name=f"{prefix}-attention",
            alarm_description=f"{participant} needs attention: failing requests or high RMSE",
            alarm_rule=pulumi.Output.format('ALARM("{0}") OR ALARM("{1}")', errors.name,
                                            rmse.name),
            alarm_actions=[self._topic.arn], actions_enabled=True,
            tags={"Participant": participant}, opts=child_of(self))
