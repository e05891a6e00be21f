"""Alarms stay quiet until there is something to say: one message per participant in
trouble, none at `up` and none on recovery, and no error alarm while endpoints are created."""

from __future__ import annotations

from components import monitoring
from tests.kit import ALARM, COMPOSITE_ALARM, roster


def test_one_composite_alarm_per_participant_carries_the_only_action(program):
    declared = program(roster(2))
    topic = declared.named("aim368-organizer-alerts").state["arn"]
    composites = {a.name: a.inputs for a in declared.of_type(COMPOSITE_ALARM)}
    assert set(composites) == {"aim368-participant-000-attention",
                               "aim368-participant-001-attention"}
    first = composites["aim368-participant-000-attention"]
    assert first["alarmRule"] == ('ALARM("aim368-participant-000-error-rate") OR '
                                  'ALARM("aim368-participant-000-rmse")')
    assert first["alarmActions"] == [topic] and first["actionsEnabled"] is True
    assert "okActions" not in first and "insufficientDataActions" not in first
    for alarm in declared.of_type(ALARM):
        assert not alarm.inputs.get("alarmActions") and not alarm.inputs.get("okActions")
        assert alarm.inputs["actionsEnabled"] is False


def test_the_error_rate_leaves_out_answers_from_endpoints_not_yet_in_service(program):
    declared = program(roster(1), alarmErrorRatePercent=20)
    alarm = declared.named("aim368-participant-000-error-rate").inputs
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert {i: q["metric"]["metricName"] for i, q in queries.items() if "metric" in q} == {
        "errors": "Errors", "requests": "Requests", "notready": "NotReady"}
    assert all(q["metric"]["stat"] == "Sum" for q in queries.values() if "metric" in q)
    assert queries["rate"]["expression"] == "100 * (errors - FILL(notready, 0)) / requests"
    assert [i for i, q in queries.items() if q["returnData"]] == ["rate"]
    assert alarm["threshold"] == 20


def error_rate(errors: float, requests: float, not_ready: float | None) -> float:
    """The alarm's expression, evaluated as CloudWatch does (FILL of a missing metric)."""
    fill = 0.0 if not_ready is None else not_ready
    return eval(monitoring.ERROR_RATE_EXPRESSION.replace("FILL(notready, 0)", "fill"),
                {}, {"errors": errors, "requests": requests, "fill": fill})


def test_the_expression_only_discounts_not_ready_answers():
    assert error_rate(300, 300, 300) == 0  # endpoint being created: quiet
    assert error_rate(90, 300, None) == 30  # edge not emitting NotReady yet: plain rate
    assert error_rate(90, 300, 30) == 20

