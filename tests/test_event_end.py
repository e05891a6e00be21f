"""At the event's end every notebook is stopped (and, if asked, every endpoint deleted) by
one-time Scheduler schedules whose roles may touch exactly those notebooks and endpoints."""

from __future__ import annotations

import json

from tests.kit import ROLE_POLICY, SCHEDULE

WINDOW = {"eventStart": "2099-06-01T09:00:00Z", "eventEnd": "2099-06-01T17:00:00+01:00"}
TWO = [{"name": "Ada Lovelace"}, {"name": "Grace Hopper"}]


def end_schedules(declared):
    return {s.name: s for s in declared.of_type(SCHEDULE) if "-end-" in s.name}


def test_every_notebook_is_stopped_at_the_end_through_the_universal_target(program):
    declared = program(TWO, **WINDOW)
    found = end_schedules(declared)
    assert set(found) == {"aim368-ada-lovelace-end-notebook", "aim368-grace-hopper-end-notebook"}
    ada = found["aim368-ada-lovelace-end-notebook"].inputs
    assert ada["scheduleExpression"] == "at(2099-06-01T16:00:00)"
    assert ada["scheduleExpressionTimezone"] == "UTC"
    assert ada["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:stopNotebookInstance"
    assert json.loads(ada["target"]["input"]) == {"NotebookInstanceName": "aim368-ada-lovelace-notebook"}
    role = declared.named("aim368-end-of-event-01")
    assert ada["target"]["roleArn"] == role.state["arn"]
    [policy] = [p for p in declared.of_type(ROLE_POLICY) if p.name == "aim368-end-of-event-01-policy"]
    notebooks = sorted(n.state["arn"] for n in
                       declared.of_type("aws:sagemaker/notebookInstance:NotebookInstance"))
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == ["sagemaker:StopNotebookInstance"]
    assert sorted(statement["Resource"]) == notebooks


def test_endpoints_are_deleted_at_the_end_only_when_asked(program):
    declared = program(TWO, scaleDownEndpointsAtEnd="true", **WINDOW)
    found = end_schedules(declared)
    grace = found["aim368-grace-hopper-end-endpoint"].inputs["target"]
    assert grace["arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"
    assert json.loads(grace["input"]) == {"EndpointName": "aim368-grace-hopper-endpoint"}
    [policy] = [p for p in declared.of_type(ROLE_POLICY) if p.name == "aim368-end-of-event-01-policy"]
    endpoints = sorted(e.state["arn"] for e in declared.of_type("aws:sagemaker/endpoint:Endpoint"))
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements[1]["Action"] == ["sagemaker:DeleteEndpoint"]
    assert sorted(statements[1]["Resource"]) == endpoints


def test_a_participant_in_their_own_account_is_stopped_from_there(program):
    declared = program([{"name": "Ada Lovelace"},
                        {"name": "Grace Hopper", "account": "222222222222"}], **WINDOW)
    own = declared.named("aim368-grace-hopper-end-notebook")
    assert own.provider_urn == declared.provider_of("grace-hopper").urn
    role = declared.named("aim368-grace-hopper-end-of-event")
    assert own.inputs["target"]["roleArn"] == role.state["arn"]
    shared = json.loads(declared.named("aim368-end-of-event-01-policy").inputs["policy"])
    assert [r.rsplit("/", 1)[1] for r in shared["Statement"][0]["Resource"]] == [
        "aim368-ada-lovelace-notebook"]


def test_nothing_is_scheduled_without_a_window_or_after_it(program):
    assert end_schedules(program(TWO)) == {}
    assert end_schedules(program(TWO, eventStart="2020-01-01T09:00:00Z",
                                 eventEnd="2020-01-01T17:00:00Z")) == {}


def test_end_of_event_schedules_need_no_lambda_concurrency(program):
    from readiness import quotas
    def wanted(**config):
        return {n.quota_name: n.needed for n in quotas.needs(program(TWO, **config))}
    # The end-of-event schedules call SageMaker directly: the window adds no concurrency.
    assert wanted(**WINDOW)["Concurrent executions"] == wanted()["Concurrent executions"]
