"""What `pulumi up` declares for Lab 3: shared REST APIs with one stage per participant."""

import json

import pytest

from components.inference_api import shape_hash
from handlers import live_inference
from tests.kit import (
    DEPLOYMENT,
    FUNCTION,
    INTEGRATION,
    METHOD,
    PERMISSION,
    REQUEST_VALIDATOR,
    REST_API,
    ROLE_POLICY,
    STAGE,
    only,
    pid,
    roster,
)


def lab3(declared, participant):
    return declared.within(f"{participant}-lab3")


def api_of_stage(declared, stage):
    return next(a for a in declared.of_type(REST_API) if a.id == stage.inputs["restApi"])


@pytest.mark.parametrize("participants, apis", [(1, 1), (10, 1), (11, 2), (95, 10)])
def test_participants_are_packed_ten_stages_per_api(program, participants, apis):
    declared = program(roster(participants))
    assert len(declared.of_type(REST_API)) == apis
    assert len(declared.of_type(DEPLOYMENT)) == apis
    stages = declared.of_type(STAGE)
    assert len(stages) == participants
    per_api = {}
    for stage in stages:
        per_api.setdefault(stage.inputs["restApi"], []).append(stage.inputs["stageName"])
    assert max(len(s) for s in per_api.values()) <= 10
    assert sorted(a.inputs["name"] for a in declared.of_type(REST_API)) == [
        f"aim368-liveinference-{k:02d}" for k in range(1, apis + 1)]


def test_the_number_of_stages_per_api_comes_from_config(program):
    declared = program(roster(7), stagesPerApi=3)
    assert len(declared.of_type(REST_API)) == 3


def test_stage_names_are_the_participant_ids_and_unique(program):
    declared = program(roster(12))
    names = [(s.inputs["restApi"], s.inputs["stageName"]) for s in declared.of_type(STAGE)]
    assert len(set(names)) == len(names) == 12
    assert sorted(n for _, n in names) == [pid(i) for i in range(12)]


def test_each_stage_variable_names_that_participants_own_function(program):
    declared = program(roster(3))
    for i in range(3):
        resources = lab3(declared, pid(i))
        stage, function = only(resources, STAGE), only(resources, FUNCTION)
        assert stage.inputs["variables"] == {"function": function.inputs["name"]}
        assert function.inputs["name"] == f"aim368-{pid(i)}-inference"
        assert function.inputs["handler"] == "handlers.live_inference.handler"
        assert function.inputs["environment"]["variables"] == live_inference.Settings(
            endpoint_name=f"aim368-{pid(i)}-endpoint", participant=pid(i)).to_environment()


def test_the_permission_lets_exactly_their_api_stage_and_path_invoke(program):
    declared = program(roster(12))
    for i in (0, 11):
        resources = lab3(declared, pid(i))
        permission = only(resources, PERMISSION)
        stage = only(resources, STAGE)
        api = api_of_stage(declared, stage)
        assert permission.inputs["principal"] == "apigateway.amazonaws.com"
        assert permission.inputs["function"] == only(resources, FUNCTION).inputs["name"]
        assert permission.inputs["sourceArn"] == (
            f"{api.state['executionArn']}/{pid(i)}/GET/liveinference")


def test_the_method_requires_features_and_a_validator_enforces_it(program):
    declared = program(roster(1))
    [validator] = declared.of_type(REQUEST_VALIDATOR)
    assert validator.inputs["validateRequestParameters"] is True
    [method] = declared.of_type(METHOD)
    assert method.inputs["httpMethod"] == "GET"
    assert method.inputs["requestParameters"] == {"method.request.querystring.features": True}
    assert method.inputs["requestValidatorId"] == validator.id
    [resource] = declared.of_type("aws:apigateway/resource:Resource")
    assert resource.inputs["pathPart"] == "liveinference"


def test_the_integration_proxies_to_the_function_the_stage_names(program):
    declared = program(roster(1))
    [integration] = declared.of_type(INTEGRATION)
    assert (integration.inputs["type"], integration.inputs["integrationHttpMethod"]) == (
        "AWS_PROXY", "POST")
    assert integration.inputs["uri"] == (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:111111111111:function:${stageVariables.function}/invocations")


def test_each_api_has_one_deployment_redeployed_when_its_shape_changes(program):
    declared = program(roster(11))
    for api in declared.of_type(REST_API):
        [deployment] = [d for d in declared.of_type(DEPLOYMENT) if d.inputs["restApi"] == api.id]
        assert deployment.inputs["triggers"] == {"shape": shape_hash()}
        depends = {declared.by_urn(u).type for u in deployment.dependencies}
        assert {METHOD, INTEGRATION,
                REQUEST_VALIDATOR} <= depends
        for stage in declared.of_type(STAGE):
            if stage.inputs["restApi"] == api.id:
                assert stage.inputs["deployment"] == deployment.id


def test_the_trigger_changes_with_any_part_of_the_shape():
    from components.inference_api import API_SHAPE
    changed = json.loads(json.dumps(API_SHAPE))
    changed["request_parameters"]["method.request.querystring.features"] = False
    assert shape_hash(changed) != shape_hash()
    assert shape_hash(json.loads(json.dumps(API_SHAPE))) == shape_hash()


def test_adding_a_participant_keeps_everyone_on_their_api_and_stage(program):
    before = program(roster(10))
    after = program(roster(11))
    for i in range(10):
        old, new = only(lab3(before, pid(i)), STAGE), only(lab3(after, pid(i)), STAGE)
        assert (old.urn, old.inputs["restApi"], old.inputs["stageName"]) == (
            new.urn, new.inputs["restApi"], new.inputs["stageName"])
        assert before.outputs["participants"][pid(i)]["inference_url"] == \
            after.outputs["participants"][pid(i)]["inference_url"]
    newcomer = only(lab3(after, pid(10)), STAGE)
    assert api_of_stage(after, newcomer).inputs["name"] == "aim368-liveinference-02"


def test_the_role_can_invoke_only_that_participants_endpoint(program):
    declared = program(roster(3))
    for i in range(3):
        [policy] = [json.loads(r.inputs["policy"]) for r in lab3(declared, pid(i))
                    if r.type == ROLE_POLICY and r.name == f"aim368-{pid(i)}-inference-policy"]
        invoke = [s for s in policy["Statement"] if s["Action"] == ["sagemaker:InvokeEndpoint"]]
        assert invoke == [{"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"],
                           "Resource": [f"arn:aws:sagemaker:us-east-1:111111111111:endpoint/"
                                        f"aim368-{pid(i)}-endpoint"]}]
        text = json.dumps(policy)
        assert all(pid(j) not in text for j in range(3) if j != i)


def test_the_method_requires_sigv4_and_the_notebook_role_may_call_its_own_stage(program):
    declared = program(roster(2))
    [method] = declared.of_type(METHOD)
    assert method.inputs["authorization"] == "AWS_IAM"
    for i in range(2):
        [grant] = [r for r in lab3(declared, pid(i)) if r.name.endswith("-invoke-own-stage-1")]
        assert grant.inputs["role"] == f"aim368-{pid(i)}-sagemaker"
        stage = only(lab3(declared, pid(i)), STAGE)
        execution = api_of_stage(declared, stage).state["executionArn"]
        assert json.loads(grant.inputs["policy"])["Statement"] == [{
            "Effect": "Allow", "Action": ["execute-api:Invoke"],
            "Resource": [f"{execution}/{pid(i)}/GET/liveinference"]}]


def test_stage_throttling_comes_from_config(program):
    declared = program(roster(2), inferenceRateLimit=7, inferenceBurstLimit=9)
    for i in range(2):
        settings = only(lab3(declared, pid(i)), "aws:apigateway/methodSettings:MethodSettings")
        assert settings.inputs["stageName"] == pid(i)
        assert settings.inputs["methodPath"] == "*/*"
        assert (settings.inputs["settings"]["throttlingRateLimit"],
                settings.inputs["settings"]["throttlingBurstLimit"]) == (7, 9)


def test_the_output_is_the_seeds_url_shape(program):
    declared = program(roster(2))
    stage = only(lab3(declared, pid(1)), STAGE)
    url = declared.outputs["participants"][pid(1)]["inference_url"]
    assert url == f"{stage.state['invokeUrl']}/liveinference"
    assert url.endswith(f"/{pid(1)}/liveinference")


def test_a_participant_in_their_own_account_gets_their_own_api_there(program):
    declared = program([{"name": "Ada Lovelace", "account": "222222222222"}, *roster(2)])
    apis = declared.of_type(REST_API)
    assert sorted(a.inputs["name"] for a in apis) == [
        "aim368-ada-lovelace-api", "aim368-liveinference-01"]
    own = declared.named("aim368-ada-lovelace-api", REST_API)
    assert own.provider_urn == declared.provider_of("ada-lovelace").urn
    assert own.state["executionArn"].split(":")[4] == "222222222222"
    stage = only(lab3(declared, "ada-lovelace"), STAGE)
    assert stage.inputs["restApi"] == own.id
    # Their API is an event part (so an event stack can own it too), in their account.
    [integration] = [r for r in declared.within("aim368-ada-lovelace-api",
                                                "workshop:lab3:InferenceApi")
                     if r.type == INTEGRATION]
    assert ":222222222222:function:${stageVariables.function}" in integration.inputs["uri"]
