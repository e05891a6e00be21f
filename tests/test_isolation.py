"""Isolation that does not depend on how ids are spelled, proved over every declared policy.

The roster is adversarial: ids that are prefixes of one another (`ada`, `ada-lovelace`,
`ada-lovelace-2`), an id that contains another after a '-' (`x-ada`), and one participant
in an account of their own. For every policy a participant's resources carry, no resource
pattern may match (with IAM's `*` and `?`) any resource of another participant: the ones
the program declares and the ones participants create at run time (training jobs, models,
endpoint configurations, SageMaker's log groups and streams, stage ARNs).
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from components.model_training import METRIC_ACTIONS
from event.names import ParticipantNames
from handlers import edge_traffic
from tests.kit import (
    DEFAULT_CONFIG,
    METHOD,
    PERMISSION,
    REST_API,
    ROLE_POLICY,
    STAGE,
    only,
)
from tools.mock_program import ACCOUNT, Program, run_program
from tools.pulumi_internals import is_wire_secret
from training.build import build_for_config

EVENT, REGION = "aim368", "us-east-1"
ADVERSARIAL = [{"name": "Ada"}, {"name": "Ada Lovelace"}, {"name": "Ada Lovelace 2"},
               {"name": "X Ada"}, {"name": "Lovelace"},
               {"name": "Ada L", "account": "222222222222"}]
IDS = ["ada", "ada-lovelace", "ada-lovelace-2", "x-ada", "lovelace", "ada-l"]
POLICY_TYPES = {ROLE_POLICY, "aws:s3/bucketPolicy:BucketPolicy", "aws:sqs/queuePolicy:QueuePolicy",
                "aws:sns/topicPolicy:TopicPolicy", "aws:apigateway/restApiPolicy:RestApiPolicy",
                "aws:secretsmanager/secretPolicy:SecretPolicy"}
# CloudWatch Logs actions that act on a log group, not a stream (Service Authorization
# Reference, CloudWatch Logs: their resource type is log-group); a pattern ending in ':*'
# for them never reaches a stream.
LOG_GROUP_ACTIONS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams"}
LOG_STREAM_ACTIONS = {"logs:PutLogEvents", "logs:GetLogEvents"}


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcards: `*` any run of characters (':' and '/' included), `?` one."""
    expression = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(expression, value) is not None


def kind_of(arn: str) -> str:
    if ":log-stream:" in arn:
        return "log-stream"
    return "log-group" if arn.startswith("arn:aws:logs:") else "other"


def applies(action: str, arn: str) -> bool:
    if action in LOG_GROUP_ACTIONS:
        return kind_of(arn) == "log-group"
    if action in LOG_STREAM_ACTIONS:
        return kind_of(arn) == "log-stream"
    return True


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> Program:
    """The program for the adversarial roster, evaluated once (as the `program` fixture does)."""
    path = tmp_path_factory.mktemp("isolation") / "participants.yaml"
    path.write_text(yaml.safe_dump({"participants": ADVERSARIAL}))
    config = {**DEFAULT_CONFIG, "roster": str(path)}
    build_for_config(config, say=lambda _: None)
    return run_program(config)


def accounts() -> dict[str, str]:
    return {pid: ("222222222222" if pid == "ada-l" else ACCOUNT) for pid in IDS}


def runtime_arns(participant: str, account: str, program: Program) -> list[str]:
    """Names a participant creates while the event runs, in every shape the program knows."""
    names = ParticipantNames(EVENT, participant)
    sagemaker = f"arn:aws:sagemaker:{REGION}:{account}"
    logs = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/sagemaker"
    created = [f"{names.owned_prefix}xgb-20261201000000", f"{names.owned_prefix}rt-20261201000000",
               f"{names.owned_prefix}knn-20261201000000"]
    stage = only(program.within(f"{participant}-lab3"), STAGE)
    api = next(a for a in program.of_type(REST_API) if a.id == stage.inputs["restApi"])
    return [
        *[f"{sagemaker}:{kind}/{name}" for name in created
          for kind in ("training-job", "model", "endpoint-config")],
        f"{sagemaker}:endpoint/{names.endpoint}",
        f"{sagemaker}:notebook-instance/{names.notebook}",
        *[f"{logs}/TrainingJobs:log-stream:{name}/algo-1-1764547200" for name in created],
        f"{logs}/Endpoints/{names.endpoint}", f"{logs}/Endpoints/{names.endpoint}:*",
        f"{logs}/Endpoints/{names.endpoint}:log-stream:AllTraffic/i-0123456789",
        f"{logs}/NotebookInstances:log-stream:{names.notebook}/jupyter.log",
        f"{api.state['executionArn']}/{participant}/GET/liveinference",
    ]


def declared_arns(participant: str, program: Program) -> list[str]:
    found = []
    for resource in program.owned_by(participant):
        arn = resource.state.get("arn")
        if not isinstance(arn, str):
            continue
        found.append(arn)
        if resource.type == "aws:s3/bucket:Bucket":
            found.append(f"{arn}/samples/year=2026/part-1")
        if resource.type == "aws:cloudwatch/logGroup:LogGroup":
            found += [f"{arn}:*", f"{arn}:log-stream:2026/12/01/[$LATEST]abc"]
    return found


def policies_of(participant: str, program: Program):
    """(resource name, statement) for every policy on or of this participant's resources."""
    for resource in program.owned_by(participant):
        if resource.type in POLICY_TYPES:
            for statement in json.loads(resource.inputs["policy"])["Statement"]:
                yield resource.name, statement
        if resource.type == PERMISSION:
            yield resource.name, {"Effect": "Allow", "Action": [resource.inputs["action"]],
                                  "Resource": [resource.inputs["function"]],
                                  "SourceArn": resource.inputs.get("sourceArn")}


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def test_the_adversarial_roster_is_accepted(declared):
    assert sorted(declared.outputs["participants"]) == sorted(IDS)


def test_no_pattern_of_one_participant_matches_anything_of_another(declared):
    owners = accounts()
    others = {pid: declared_arns(pid, declared) + runtime_arns(pid, owners[pid], declared)
              for pid in IDS}
    assert all(len(arns) > 20 for arns in others.values())  # the check has something to bite on
    crossings = []
    for participant in IDS:
        for where, statement in policies_of(participant, declared):
            if statement["Effect"] != "Allow":
                continue
            patterns = [p for p in listed(statement["Resource"]) if isinstance(p, str)]
            patterns += [statement["SourceArn"]] if statement.get("SourceArn") else []
            for other in (o for o in IDS if o != participant):
                crossings += [(participant, where, action, pattern, arn)
                              for pattern in patterns for arn in others[other]
                              for action in listed(statement["Action"])
                              if pattern != "*" and applies(action, arn)
                              and iam_match(pattern, arn)]
    assert crossings == []


def test_the_check_itself_catches_the_old_prefix_pattern(declared):
    # What `<event>-<id>-*` (before the owned '--' shape) let `ada` reach.
    old = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/aim368-ada-*"
    victims = [arn for arn in runtime_arns("ada-lovelace", ACCOUNT, declared) if iam_match(old, arn)]
    assert victims and all("aim368-ada-lovelace--" in arn for arn in victims)
    assert iam_match("arn:x:a?c", "arn:x:abc") and not iam_match("arn:x:a?c", "arn:x:ac")


def test_only_metric_writes_are_granted_on_every_resource(declared):
    for participant in IDS:
        for where, statement in policies_of(participant, declared):
            if statement["Effect"] == "Allow" and "*" in listed(statement["Resource"]):
                # Metric writes, and the console's dashboard reads: CloudWatch scopes neither.
                assert set(statement["Action"]) <= {*METRIC_ACTIONS, "cloudwatch:GetMetricData"}, \
                    (where, statement)
            assert "NotResource" not in statement and "NotAction" not in statement
            if statement["Effect"] == "Allow":  # (the buckets' TLS-only Deny names s3:*)
                assert not any(a == "*" or a.endswith(":*") for a in listed(statement["Action"]))


def test_no_participant_may_touch_a_secret(declared):
    for participant in IDS:
        for where, statement in policies_of(participant, declared):
            assert not any(a.startswith("secretsmanager:") for a in listed(statement["Action"])), where


def test_each_participant_may_call_their_own_stage_and_no_other(declared):
    for participant in IDS:
        grants = [(where, s) for where, s in policies_of(participant, declared)
                  if "execute-api:Invoke" in listed(s["Action"]) and where.endswith("-own-stage-1")]
        [(_, grant)] = grants
        stage = only(declared.within(f"{participant}-lab3"), STAGE)
        api = next(a for a in declared.of_type(REST_API) if a.id == stage.inputs["restApi"])
        assert grant["Resource"] == [f"{api.state['executionArn']}/{participant}/GET/liveinference"]
        policy = next(r for r in declared.within(f"{participant}-lab3")
                      if r.name.endswith("-own-stage-1"))
        role = only(declared.within(f"{participant}-lab2"), "aws:iam/role:Role")
        assert policy.inputs["role"] == role.state["name"]


def test_the_method_requires_sigv4_on_every_api(declared):
    methods = declared.of_type(METHOD)
    assert len(methods) == 2  # the shared API and ada-l's own
    assert {m.inputs["authorization"] for m in methods} == {"AWS_IAM"}


def test_an_api_in_a_participants_own_account_lets_the_edge_in_and_nobody_else(declared):
    [policy] = declared.of_type("aws:apigateway/restApiPolicy:RestApiPolicy")
    own = declared.named("aim368-ada-l-api", REST_API)
    assert policy.inputs["restApiId"] == own.id
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/aim368-fc-edge"]}
    assert statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"] == f"{own.state['executionArn']}/*/GET/liveinference"


def test_the_edge_may_call_every_stage_and_read_the_scoring_secret(declared):
    edge = json.loads(declared.named("aim368-fc-edge-policy", ROLE_POLICY).inputs["policy"])
    by_action = {a: s["Resource"] for s in edge["Statement"] for a in s["Action"]}
    assert by_action["execute-api:Invoke"] == [f"arn:aws:execute-api:{REGION}:*:*/*/GET/liveinference"]
    secret = declared.named("aim368-scoring-secret")
    assert by_action["secretsmanager:GetSecretValue"] == [secret.state["arn"]]


def test_own_account_participants_may_park_failed_samples_in_the_shared_queue(declared):
    policy = declared.named("aim368-undelivered-samples-policy")
    queue = declared.named("aim368-undelivered-samples")
    assert policy.inputs["queueUrl"] == queue.state["url"]
    [send] = json.loads(policy.inputs["policy"])["Statement"]
    assert send["Action"] == ["sqs:SendMessage"] and send["Resource"] == [queue.state["arn"]]
    assert send["Principal"] == {"AWS": ["222222222222"]}
    assert send["Condition"] == {"ArnEquals": {
        "aws:PrincipalArn": ["arn:aws:iam::222222222222:role/aim368-ada-l-collect"]}}
    collect = declared.named("aim368-ada-l-collect-on-failure")
    assert collect.inputs["destinationConfig"]["onFailure"]["destination"] == queue.state["arn"]


def test_the_scoring_secret_is_random_kept_across_updates_and_shown_nowhere(declared):
    version = declared.named("aim368-scoring-secret-value")
    given = version.inputs["secretString"]
    assert is_wire_secret(given)  # encrypted in the state
    value = given["value"]
    assert re.fullmatch(r"[0-9a-f]{64}", value)  # 32 bytes from the OS's CSPRNG
    assert version.ignore_changes == ["secretString"]  # the first value stays; rotation sticks
    elsewhere = json.dumps([declared.outputs] + [(r.inputs, r.state) for r in declared.resources
                                                 if r is not version], default=str)
    assert value not in elsewhere
    edge = declared.named("aim368-fc-edge", "aws:lambda/function:Function")
    settings = edge_traffic.Settings.from_environment(edge.inputs["environment"]["variables"])
    secret = declared.named("aim368-scoring-secret")
    assert settings.scoring_secret_arn == secret.state["arn"]
    assert settings.sign_requests is True


def test_a_second_evaluation_draws_a_different_candidate_that_is_never_applied(tmp_path):
    # Each run proposes fresh randomness; `ignore_changes` (above) is what keeps the deployed
    # one, so the program must never derive the value from anything stable or public.
    path = tmp_path / "participants.yaml"
    path.write_text(yaml.safe_dump({"participants": [{"name": "Bo"}]}))
    config = {**DEFAULT_CONFIG, "roster": str(path)}
    values = {run_program(config).named("aim368-scoring-secret-value")
              .inputs["secretString"]["value"] for _ in range(2)}
    assert len(values) == 2


def test_only_the_edge_may_read_the_scoring_secret(declared):
    policy = declared.named("aim368-scoring-secret-policy")
    secret = declared.named("aim368-scoring-secret")
    edge_role = declared.named("aim368-fc-edge-role")
    assert policy.inputs["secretArn"] == secret.state["arn"]
    [deny] = json.loads(policy.inputs["policy"])["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == (
        "Deny", "*", "secretsmanager:GetSecretValue")
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": edge_role.state["arn"]}}
