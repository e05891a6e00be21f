"""The event's CloudWatch dashboard body: one dashboard for the whole room.

Every graph is a SEARCH() over a metric schema, so one widget draws one line per
participant (CloudWatch allows up to 500 per graph) and the body does not grow with the
roster. Alarms cannot use SEARCH; they are per participant (components/monitoring.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from handlers import scoring

GRID_WIDTH = 24
PERIOD = 60


@dataclass(frozen=True)
class Graph:
    title: str
    namespace: str
    dimensions: tuple[str, ...]
    metric: str
    statistic: str
    terms: str = ""  # extra SEARCH terms, matched as tokens of dimension values


def workshop_namespace(event: str) -> str:
    return f"{scoring.NAMESPACE}/{event}"


def graphs(event: str) -> list[Graph]:
    mine = workshop_namespace(event)
    per_participant = (scoring.DIMENSION,)
    return [
        Graph("Live RMSE per participant (ms)", mine, per_participant, "RMSE", "Average"),
        Graph("Requests per minute", mine, per_participant, "Requests", "Sum"),
        Graph("Errors per minute", mine, per_participant, "Errors", "Sum"),
        Graph("Error rate (%)", mine, per_participant, "ErrorRate", "Average"),
        Graph("Latency p50 (ms)", mine, per_participant, "LatencyP50", "Average"),
        Graph("Latency p95 (ms)", mine, per_participant, "LatencyP95", "Maximum"),
        Graph("Lab 1: collection Lambda errors", "AWS/Lambda", ("FunctionName",), "Errors", "Sum",
              f"{event} collect"),
        Graph("Lab 1: Firehose records delivered to S3", "AWS/Firehose",
              ("DeliveryStreamName",), "DeliveryToS3.Records", "Sum", f"{event} samples"),
        Graph("Lab 2: endpoint invocations", "AWS/SageMaker", ("EndpointName", "VariantName"),
              "Invocations", "Sum", f"{event} endpoint"),
        Graph("Lab 2: endpoint 5xx errors", "AWS/SageMaker", ("EndpointName", "VariantName"),
              "Invocation5XXErrors", "Sum", f"{event} endpoint"),
        Graph("Lab 3: inference Lambda errors", "AWS/Lambda", ("FunctionName",), "Errors", "Sum",
              f"{event} inference"),
        Graph("Lab 3: API Gateway 5xx per stage", "AWS/ApiGateway", ("ApiName", "Stage"),
              "5XXError", "Sum", f"{event} liveinference"),
        # The retraining loop's judge (handlers/retraining.py metrics_record).
        Graph("Retraining attempts judged", mine, per_participant, "RetrainingAttempts", "Sum"),
        Graph("Retraining promotions", mine, per_participant, "RetrainingPromotions", "Sum"),
        Graph("Retraining: candidate RMSE on the holdout (ms)", mine, per_participant,
              "CandidateRMSE", "Average"),
        Graph("Retraining: current model's RMSE on the holdout (ms)", mine, per_participant,
              "CurrentRMSE", "Average"),
    ]


def search(graph: Graph) -> str:
    schema = ",".join((f'"{graph.namespace}"', *graph.dimensions))
    terms = f" {graph.terms}" if graph.terms else ""
    return (f"SEARCH('{{{schema}}} MetricName=\"{graph.metric}\"{terms}', "
            f"'{graph.statistic}', {PERIOD})")


def body(event: str, region: str, leaderboard_url: str = "") -> str:
    widgets = [{
        "type": "text", "x": 0, "y": 0, "width": GRID_WIDTH, "height": 2,
        "properties": {"markdown": f"## {event}: the whole room\nEvery line is a participant. "
                                   f"Live leaderboard: {leaderboard_url or 'see stack outputs'}"},
    }]
    for number, graph in enumerate(graphs(event)):
        widgets.append({
            "type": "metric", "x": (number % 2) * 12, "y": 2 + (number // 2) * 6,
            "width": 12, "height": 6,
            "properties": {"title": graph.title, "region": region, "view": "timeSeries",
                           "stat": graph.statistic, "period": PERIOD,
                           "metrics": [[{"expression": search(graph), "id": "e1",
                                         "label": "${PROP('Dim." + graph.dimensions[0] + "')}"}]],
                           "yAxis": {"left": {"min": 0}}, "legend": {"position": "right"}},
        })
    return json.dumps({"widgets": widgets})
