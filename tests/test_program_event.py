"""What `pulumi up` declares for the event layer: edge schedule and shards, the scores
table, the public leaderboard URL, the dashboard and the alarms."""

import json
import re

import pytest

from components import dashboard, monitoring
from event.names import ParticipantNames
from event.sharding import shared_api_name
from handlers import edge_traffic, fc_samples, retraining, scoring
from tests.kit import ALARM, FUNCTION, SCHEDULE, SUBSCRIPTION, roster
from tools.retraining_world import environment as retraining_environment


def edge_schedules(declared):
    return sorted((s for s in declared.of_type(SCHEDULE) if "fc-edge-shard" in s.name),
                  key=lambda s: s.name)


class _Target:  # a schedule seen through its target, as the edge receives it
    def __init__(self, schedule):
        self.name, self.inputs = schedule.name, schedule.inputs["target"]


def targets(declared):
    return [_Target(s) for s in edge_schedules(declared)]


@pytest.mark.parametrize("participants, shards", [(1, 1), (25, 1), (26, 2), (130, 6)])
def test_participants_are_sharded_across_concurrent_edge_runs(program, participants, shards):
    declared = program(roster(participants))
    assert len(targets(declared)) == shards  # one schedule per shard
    seen = [t["participant"] for target in targets(declared)
            for t in json.loads(target.inputs["input"])["targets"]]
    assert seen == [f"participant-{i:03d}" for i in range(participants)]  # each once, in order


def test_each_shard_names_its_participants_live_inference_urls(program):
    declared = program(roster(3), edgeShardSize=2)
    urls = {p: o["inference_url"] for p, o in declared.outputs["participants"].items()}
    first, second = (json.loads(t.inputs["input"]) for t in targets(declared))
    # The scheduled time (a Scheduler context attribute) names the minute a run scores.
    assert first == {"shard": 0, "time": "<aws.scheduler.scheduled-time>", "targets": [
        {"participant": "participant-000", "url": urls["participant-000"]},
        {"participant": "participant-001", "url": urls["participant-001"]}]}
    assert second["shard"] == 1 and second["targets"][0]["url"].endswith(
        "/participant-002/liveinference")
    edge = declared.named("aim368-fc-edge", FUNCTION)
    assert all(t.inputs["arn"] == edge.state["arn"] for t in targets(declared))


def test_the_edge_runs_every_minute_with_its_settings(program):
    declared = program(roster(2), edgeRequestsPerSecond=7, edgeTimeoutMs=1500,
                       privateSharePercent=40, driftStart="2026-12-01T15:00:00Z")
    [shard] = edge_schedules(declared)
    assert (shard.inputs["scheduleExpression"], shard.inputs["state"]) == ("rate(1 minute)", "ENABLED")
    assert shard.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert shard.inputs["target"]["retryPolicy"] == {"maximumRetryAttempts": 0}
    assert "startDate" not in shard.inputs and "endDate" not in shard.inputs  # no window set
    edge = declared.named("aim368-fc-edge", FUNCTION)
    role = declared.named("aim368-fc-edge-schedule-role")
    assert shard.inputs["target"]["roleArn"] == role.state["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                      "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}}]
    assert json.loads(declared.named("aim368-fc-edge-schedule-role-policy").inputs["policy"])[
        "Statement"] == [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                          "Resource": [edge.state["arn"]]}]
    env = edge.inputs["environment"]["variables"]
    settings = edge_traffic.Settings.from_environment(env)
    assert settings.to_environment() == env  # written exactly as the contract formats it
    assert (settings.requests_per_second, settings.timeout_ms, settings.private_share) == (7, 1500, 0.4)
    assert (settings.drift_start, settings.drift_profile) == ("2026-12-01T15:00:00Z",
                                                             fc_samples.PEAK_SEASON)
    assert edge.inputs["timeout"] > settings.period_seconds
    invoke = declared.named("aim368-fc-edge-invoke").inputs
    # no retry (a minute's traffic twice), no run queued past the edge's own bound on a late
    # start (it would write to a minute the leaderboard has closed)
    assert (invoke["maximumRetryAttempts"], invoke["maximumEventAgeInSeconds"]) == (
        0, edge_traffic.MAX_START_DELAY_SECONDS) == (0, 60)
    assert edge_schedules(program(roster(2), edgeTrafficEnabled="false"))[0].inputs["state"] \
        == "DISABLED"


def test_the_scores_table_is_pay_per_request_with_the_roster_in_it(program):
    declared = program([{"name": "Ada Lovelace"}, {"name": "Grace Hopper"}])
    table = declared.named("aim368-scores")
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("minute", "participant")
    assert table.inputs["ttl"] == {"attributeName": "expires", "enabled": True}
    entries = {json.loads(i.inputs["item"])["participant"]["S"]: json.loads(i.inputs["item"])
               for i in declared.of_type("aws:dynamodb/tableItem:TableItem")}
    assert entries["ada-lovelace"] == {"minute": {"S": "roster"},
                                       "participant": {"S": "ada-lovelace"},
                                       "name": {"S": "Ada Lovelace"}}
    assert set(entries) == {"ada-lovelace", "grace-hopper"}


def test_the_roles_of_the_edge_and_leaderboard_touch_only_the_table(program):
    declared = program(roster(2))
    table_arn = declared.named("aim368-scores").state["arn"]
    retraining_arn = declared.named("aim368-retraining", "aws:dynamodb/table:Table").state["arn"]
    for name, expected in (
            ("aim368-fc-edge-policy", [("dynamodb:UpdateItem", table_arn)]),
            # the leaderboard also reads the retraining table, for its "retrained" markers
            ("aim368-leaderboard-policy", [("dynamodb:Query", table_arn),
                                           ("dynamodb:BatchGetItem", retraining_arn)])):
        statements = json.loads(declared.named(name).inputs["policy"])["Statement"]
        grants = [s for s in statements if s["Action"][0].startswith("dynamodb:")]
        # (the BatchGetItem's attribute condition: tests/test_leaderboard_program.py)
        assert [{k: v for k, v in s.items() if k != "Condition"} for s in grants] == [
            {"Effect": "Allow", "Action": [action], "Resource": [arn]} for action, arn in expected]


# The leaderboard's function, URL, CDN and reveal switch: tests/test_leaderboard_program.py


def test_one_dashboard_whose_body_does_not_grow_with_the_roster(program):
    small = program(roster(3)).named("aim368-dashboard").inputs
    large = program(roster(30)).named("aim368-dashboard").inputs
    assert small["dashboardName"] == "aim368-live-inference"
    assert small["dashboardBody"] == large["dashboardBody"]


def test_the_dashboard_body_fits_cloudwatch_for_500_participants():
    body = json.loads(dashboard.body("aim368", "us-east-1", "https://x.lambda-url.us-east-1.on.aws/"))
    widgets = body["widgets"]
    assert 10 <= len(widgets) <= 500
    assert len(json.dumps(body)) < 100_000
    for widget in widgets:
        assert widget["x"] + widget["width"] <= dashboard.GRID_WIDTH
        if widget["type"] == "metric":
            [[query]] = widget["properties"]["metrics"]
            assert query["expression"].startswith("SEARCH(")  # one line per participant,
            # up to CloudWatch's 500 per graph: no widget per participant


def test_the_dashboard_queries_what_the_code_emits():
    aggregate = scoring.empty()
    scoring.record(aggregate, 40.0, "ok", 120.0)
    emitted = json.loads(edge_traffic.metrics_line("aim368", "ada", aggregate, 0))
    [spec] = emitted["_aws"]["CloudWatchMetrics"]
    names = {m["Name"] for m in spec["Metrics"]}
    judged = retraining.metrics_record(
        retraining.Settings.checked(retraining_environment("ada")),
        {"outcome": "promoted", "duration_s": 60, "candidate_rmse": 300.0,
         "current_rmse": 600.0}, 0)
    [judge_spec] = judged["_aws"]["CloudWatchMetrics"]
    assert judge_spec["Namespace"] == spec["Namespace"]
    assert judge_spec["Dimensions"] == spec["Dimensions"]
    names |= {m["Name"] for m in judge_spec["Metrics"]}
    for graph in dashboard.graphs("aim368"):
        if graph.namespace.startswith(scoring.NAMESPACE):
            assert graph.namespace == spec["Namespace"]
            assert list(graph.dimensions) == spec["Dimensions"][0]
            assert graph.metric in names
    names_of = ParticipantNames("aim368", "ada-lovelace")
    resource_names = {"collect": names_of.collect_function, "samples": names_of.delivery_stream,
                      "endpoint": names_of.endpoint, "inference": names_of.inference_function,
                      "liveinference": shared_api_name("aim368", 0)}
    for graph in dashboard.graphs("aim368"):
        if graph.terms:
            event, token = graph.terms.split()
            assert set(re.split(r"[^a-z0-9]+", resource_names[token])) >= {event, token}


def test_each_participant_gets_an_error_rate_and_an_rmse_alarm(program):
    declared = program(roster(3), alarmRmseMs=800, alarmErrorRatePercent=15)
    alarms = declared.of_type(ALARM)
    assert len(alarms) == 6
    emitted = {m["Name"] for m in json.loads(edge_traffic.metrics_line(
        "aim368", "x", scoring.empty(), 0))["_aws"]["CloudWatchMetrics"][0]["Metrics"]} | {"RMSE"}
    for alarm in alarms:
        inputs = alarm.inputs
        participant = alarm.name.removeprefix("aim368-").rsplit("-", 2 if "error-rate" in
                                                                 alarm.name else 1)[0]
        assert participant in {f"participant-{i:03d}" for i in range(3)}
        metrics = [q["metric"] for q in inputs.get("metricQueries", []) if "metric" in q] or [
            {"metricName": inputs["metricName"], "namespace": inputs["namespace"],
             "dimensions": inputs["dimensions"]}]
        for metric in metrics:
            assert metric["namespace"] == "MLWorkshop/aim368"
            assert metric["dimensions"] == {"Participant": participant}
            assert metric["metricName"] in emitted | {monitoring.NOT_READY_METRIC}
        # Quiet children: the participant's composite alarm speaks for both.
        assert "alarmActions" not in inputs and "okActions" not in inputs
        assert inputs["treatMissingData"] == "notBreaching"
        assert (inputs["evaluationPeriods"], inputs["datapointsToAlarm"]) == (5, 3)
        assert inputs["tags"] == {"Participant": participant}
    thresholds = {a.name.split("-")[-1]: a.inputs["threshold"] for a in alarms}
    assert thresholds == {"rmse": 800, "rate": 15}


def test_alarms_are_emailed_only_when_configured(program):
    subscriptions = lambda d: [s for s in d.of_type(SUBSCRIPTION)  # noqa: E731
                               if s.inputs["protocol"] == "email"]
    assert subscriptions(program(roster(1))) == []
    [email] = subscriptions(program(roster(1), alarmEmail="organizer@example.com"))
    assert email.inputs["endpoint"] == "organizer@example.com"


def test_the_leaderboards_reserved_concurrency_is_a_setting(program):
    def reserved(**config):
        return program(roster(1), **config).named("aim368-leaderboard", FUNCTION).inputs.get(
            "reservedConcurrentExecutions")
    assert reserved(leaderboardReservedConcurrency="25") == 25
    assert reserved(leaderboardReservedConcurrency="0") is None  # none reserved
