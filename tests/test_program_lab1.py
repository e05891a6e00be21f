"""What `pulumi up` declares for the sample feed and every participant's Lab 1.

Each test evaluates __main__.py under Pulumi's mock engine through the `program` fixture.
"""

import json
from collections import Counter

import pulumi
import pytest
import yaml

from components.parts.tagging import taggable
from event.config import ConfigError
from event.roster import RosterError
from handlers import collect_samples, fc_samples, publish_samples
from tests import kit
from tests.kit import (
    BUCKET,
    ENDPOINT,
    FUNCTION,
    IDS,
    NOTEBOOK,
    PERMISSION,
    PROJECT_DIR,
    PROVIDER,
    ROLE,
    ROLE_POLICY,
    STAGE,
    STREAM,
    SUBSCRIPTION,
    TOPIC,
)

LAB1_RESOURCES = Counter({
    BUCKET: 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
    "aws:s3/bucketPolicy:BucketPolicy": 1,
    STREAM: 1,
    FUNCTION: 1,
    ROLE: 2,
    ROLE_POLICY: 2,
    "aws:cloudwatch/logGroup:LogGroup": 2,
    "aws:cloudwatch/logStream:LogStream": 1,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
    PERMISSION: 1,
    SUBSCRIPTION: 1,
})


def comparable(inputs) -> str:
    """Inputs as JSON; a code archive compares by the files it holds."""
    def archive(value):
        return sorted(value.assets) if isinstance(value, pulumi.AssetArchive) else str(value)
    return json.dumps(inputs, sort_keys=True, default=archive)


def lab1(program, participant):
    return program.within(f"{participant}-lab1")


def only(program, type_token, participant):
    return kit.only(lab1(program, participant), type_token)


def policies_of(program, participant):
    return {r.name: json.loads(r.inputs["policy"])
            for r in lab1(program, participant) if r.type == ROLE_POLICY}


def test_every_participant_gets_the_complete_lab1_pipeline(program):
    declared = program()
    for participant in IDS:
        assert Counter(r.type for r in lab1(declared, participant)) == LAB1_RESOURCES


def test_resources_sit_in_one_lab1_component_per_participant(program):
    declared = program()
    components = declared.of_type("workshop:lab1:SampleCollection")
    assert sorted(c.name for c in components) == sorted(f"{p}-lab1" for p in IDS)
    for participant in IDS:
        component = declared.named(f"{participant}-lab1")
        assert all(r.parent == component.urn for r in lab1(declared, participant))
        assert all(r.provider_urn == declared.provider_of(participant).urn
                   for r in lab1(declared, participant))


def test_logical_and_physical_names_carry_the_event_and_participant(program):
    declared = program()
    for participant in IDS:
        for resource in declared.owned_by(participant):
            assert resource.name.startswith(f"aim368-{participant}-")
        assert only(declared, FUNCTION, participant).inputs["name"] == f"aim368-{participant}-collect"
        assert only(declared, STREAM, participant).inputs["name"] == f"aim368-{participant}-samples"
        assert only(declared, BUCKET, participant).state["bucket"].startswith(
            f"aim368-{participant}-samples-")


def test_the_shared_feed_is_one_topic_and_a_scheduled_publisher(program):
    declared = program(samplesPerSecond=7, feedSeed=99)
    topic = declared.named("aim368-fc-samples", TOPIC)
    schedule = declared.named("aim368-fc-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 minute)"
    assert schedule.inputs["state"] == "ENABLED"
    target = schedule.inputs["target"]
    publisher = declared.named("aim368-fc-publisher", FUNCTION)
    assert target["arn"] == publisher.state["arn"]
    # The scheduled time seeds each run, as a rule's event time did.
    assert json.loads(target["input"]) == {"time": "<aws.scheduler.scheduled-time>"}
    env = publisher.inputs["environment"]["variables"]
    assert env == publish_samples.Settings(
        sample_topic_arn=topic.state["arn"], samples_per_second=7, period_seconds=60,
        feed_seed=99, drift_start="", drift_profile=fc_samples.PEAK_SEASON).to_environment()
    assert publisher.inputs["timeout"] > 60  # a run paces samples over a whole minute
    invoke = json.loads(declared.named("aim368-fc-schedule-role-policy").inputs["policy"])
    assert invoke["Statement"] == [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                                    "Resource": [publisher.state["arn"]]}]
    assert target["roleArn"] == declared.named("aim368-fc-schedule-role").state["arn"]
    [publish_policy] = [json.loads(r.inputs["policy"]) for r in declared.of_type(ROLE_POLICY)
                        if r.name == "aim368-fc-publisher-policy"]
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic.state["arn"]]} \
        in publish_policy["Statement"]
    assert declared.named("aim368-fc-publisher-invoke").inputs["maximumRetryAttempts"] == 0


def test_the_feed_can_be_paused_from_config(program):
    assert program(feedEnabled="false").named("aim368-fc-schedule").inputs["state"] == "DISABLED"


def test_wiring_topic_to_function_to_stream_to_bucket(program):
    declared = program()
    topic_arn = declared.named("aim368-fc-samples", TOPIC).state["arn"]
    for participant in IDS:
        function = only(declared, FUNCTION, participant)
        stream = only(declared, STREAM, participant)
        bucket = only(declared, BUCKET, participant)
        subscription = only(declared, SUBSCRIPTION, participant)
        permission = only(declared, PERMISSION, participant)
        assert (subscription.inputs["topic"], subscription.inputs["protocol"],
                subscription.inputs["endpoint"]) == (topic_arn, "lambda", function.state["arn"])
        assert permission.urn in subscription.dependencies
        assert (permission.inputs["function"], permission.inputs["principal"],
                permission.inputs["sourceArn"]) == (function.inputs["name"], "sns.amazonaws.com",
                                                    topic_arn)
        assert function.inputs["environment"]["variables"] == collect_samples.Settings(
            delivery_stream_name=stream.inputs["name"], participant=participant).to_environment()
        assert function.inputs["handler"] == "handlers.collect_samples.handler"
        destination = stream.inputs["extendedS3Configuration"]
        assert destination["bucketArn"] == bucket.state["arn"]
        firehose_role = declared.named(f"aim368-{participant}-firehose", ROLE)
        assert destination["roleArn"] == firehose_role.state["arn"]
        assert declared.named(f"aim368-{participant}-firehose-policy").urn in stream.dependencies


def test_firehose_buffers_under_prefixes_from_config(program):
    declared = program(firehoseBufferSeconds=30, firehoseBufferMB=2)
    destination = only(declared, STREAM, "ada-lovelace").inputs["extendedS3Configuration"]
    assert (destination["bufferingInterval"], destination["bufferingSize"]) == (30, 2)
    assert destination["prefix"].startswith("samples/")
    assert destination["errorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert destination["cloudwatchLoggingOptions"]["enabled"] is True
    default = only(program(), STREAM, "ada-lovelace").inputs["extendedS3Configuration"]
    assert default["bufferingInterval"] == 60


def test_buckets_are_private_encrypted_tls_only_and_destroyable(program):
    declared = program()
    for participant in IDS:
        bucket = only(declared, BUCKET, participant)
        assert bucket.inputs["forceDestroy"] is True
        block = only(declared, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", participant)
        assert block.inputs["bucket"] == bucket.id
        assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy",
                                                     "ignorePublicAcls", "restrictPublicBuckets"))
        [rule] = only(declared, "aws:s3/bucketServerSideEncryptionConfiguration:"
                      "BucketServerSideEncryptionConfiguration", participant).inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
        [deny] = json.loads(only(declared, "aws:s3/bucketPolicy:BucketPolicy",
                                 participant).inputs["policy"])["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}}
        assert bucket.state["arn"] in deny["Resource"]


def test_roles_are_scoped_to_their_own_participant(program):
    declared = program()
    for participant in IDS:
        policies = policies_of(declared, participant)
        text = json.dumps(policies)
        for other in IDS:
            if other != participant:
                assert other not in text
                for resource in declared.owned_by(other):
                    assert resource.state.get("arn", "@none") not in text
        bucket_arn = only(declared, BUCKET, participant).state["arn"]
        firehose = policies[f"aim368-{participant}-firehose-policy"]["Statement"]
        assert firehose[0]["Resource"] == [bucket_arn, bucket_arn + "/*"]
        collect = policies[f"aim368-{participant}-collect-policy"]["Statement"]
        stream_arn = only(declared, STREAM, participant).state["arn"]
        assert {"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                "Resource": [stream_arn]} in collect


def test_no_policy_grants_wildcard_actions_or_resources(program):
    from components.console_access import DASHBOARD_METRIC_ACTIONS
    from components.model_training import METRIC_ACTIONS
    declared = program()
    for policy in declared.of_type(ROLE_POLICY):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert not any(a.endswith("*") for a in statement["Action"]), policy.name
            if statement["Action"] == DASHBOARD_METRIC_ACTIONS:
                # A console role's dashboard graphs: read-only, and IAM cannot scope it.
                assert policy.name.endswith("-console-policy") and statement["Resource"] == ["*"]
                continue
            if "*" in statement["Resource"]:
                # CloudWatch metrics have no resource-level permissions; the namespace
                # condition is the only scope AWS offers.
                assert statement["Action"] == METRIC_ACTIONS, policy.name
                assert statement["Condition"] == {
                    "StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_roles_trust_only_their_service(program):
    declared = program()
    trusted = {r.inputs["name"]: json.loads(r.inputs["assumeRolePolicy"])["Statement"][0][
        "Principal"]["Service"] for r in declared.owned_by("ada-lovelace") if r.type == ROLE
        and not r.name.endswith("-console")}  # the portal's to assume: test_program_portal.py
    assert trusted == {"aim368-ada-lovelace-firehose": "firehose.amazonaws.com",
                       "aim368-ada-lovelace-collect": "lambda.amazonaws.com",
                       "aim368-ada-lovelace-inference": "lambda.amazonaws.com",
                       "aim368-ada-lovelace-sagemaker": "sagemaker.amazonaws.com",
                       "aim368-ada-lovelace-retrain": "lambda.amazonaws.com"}


def test_every_function_has_a_current_runtime_and_its_own_log_group(program):
    declared = program(logRetentionDays=3)
    functions = declared.of_type(FUNCTION)
    assert len(functions) == 4 + 3 * len(IDS)  # publisher, edge, leaderboard, portal; 3 each
    for function in functions:
        assert function.inputs["runtime"] == "python3.14"
        group = declared.named(f"{function.name}-logs")
        assert group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
        assert group.inputs["retentionInDays"] == 3
        assert function.inputs["loggingConfig"]["logGroup"] == group.inputs["name"]


def test_every_resource_goes_through_an_explicit_provider_tagging_the_event(program):
    declared = program()
    providers = {r.urn: json.loads(r.inputs["defaultTags"])["tags"]
                 for r in declared.of_type(PROVIDER)}
    for resource in declared.resources:
        if resource.custom and resource.type != PROVIDER:
            assert resource.provider_urn in providers, resource.name
            assert providers[resource.provider_urn] == {"Event": "aim368", "ManagedBy": "pulumi"}


def test_every_taggable_resource_of_a_participant_is_tagged_with_their_id(program):
    declared = program()
    for participant in IDS:
        owned = declared.owned_by(participant)
        tagged = [r for r in owned if taggable(r.type)]
        assert {r.type for r in tagged} >= {BUCKET, STREAM, FUNCTION, ROLE, NOTEBOOK, ENDPOINT,
                                            STAGE}
        for resource in tagged:
            assert resource.inputs["tags"]["Participant"] == participant, resource.name
    shared = [r for r in declared.resources
              if r.custom and declared.participant_of(r) is None and taggable(r.type)]
    # The event's alarms about one participant say whose they are, and only them.
    alarms = {"aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm"}
    assert shared and all("Participant" not in (r.inputs.get("tags") or {}) or
                          r.type in alarms for r in shared)


def test_one_provider_for_the_event_account_and_one_per_distinct_participant_account(program):
    declared = program([{"name": "Ada Lovelace", "account": "222222222222"},
                        {"name": "Grace Hopper", "account": "222222222222"},
                        {"name": "Alan Turing", "account": "333333333333"},
                        {"name": "Katherine Johnson"}, {"name": "Mary Jackson"}])
    assert len(declared.of_type(PROVIDER)) == 3
    assert declared.provider_of("ada-lovelace") == declared.provider_of("grace-hopper")
    assert declared.provider_of("katherine-johnson") == declared.provider_of("mary-jackson") \
        == declared.named("aim368-aws", PROVIDER)


def test_adding_a_participant_leaves_everyone_elses_resources_untouched(program):
    before = program()
    after = program([*[{"name": n} for n in ("Ada Lovelace", "Grace Hopper", "Alan Turing")],
                     {"name": "Katherine Johnson"}])
    for participant in IDS:
        old = {r.urn: r.inputs for r in before.owned_by(participant)}
        new = {r.urn: r.inputs for r in after.owned_by(participant)}
        assert old.keys() == new.keys()
        assert comparable(old) == comparable(new)
    assert Counter(r.type for r in lab1(after, "katherine-johnson")) == LAB1_RESOURCES


def test_adding_a_participant_anywhere_leaves_everyone_elses_lab1_untouched(program):
    before = program()
    after = program([{"name": "Katherine Johnson"}, *[{"name": n} for n in
                                                     ("Ada Lovelace", "Grace Hopper", "Alan Turing")]])
    for participant in IDS:
        assert comparable({r.urn: r.inputs for r in lab1(before, participant)}) == \
            comparable({r.urn: r.inputs for r in lab1(after, participant)})


def test_removing_a_participant_leaves_everyone_elses_lab1_untouched(program):
    before = program()
    after = program([{"name": "Ada Lovelace"}, {"name": "Alan Turing"}])
    for participant in ("ada-lovelace", "alan-turing"):
        assert comparable({r.urn: r.inputs for r in lab1(before, participant)}) == \
            comparable({r.urn: r.inputs for r in lab1(after, participant)})
    assert not any("grace-hopper" in r.urn for r in after.resources)


def test_outputs_tell_each_participant_their_resources(program):
    declared = program()
    outputs = declared.outputs["participants"]
    assert sorted(outputs) == sorted(IDS)
    ada = outputs["ada-lovelace"]
    assert ada["name"] == "Ada Lovelace"
    assert ada["bucket"] == only(declared, BUCKET, "ada-lovelace").state["bucket"]
    assert ada["delivery_stream"] == "aim368-ada-lovelace-samples"
    assert ada["collection_function"] == "aim368-ada-lovelace-collect"
    assert declared.outputs["sample_topic_arn"] == declared.named("aim368-fc-samples",
                                                                  TOPIC).state["arn"]


def test_a_participant_in_their_own_account_is_deployed_there(program):
    declared = program([{"name": "Ada Lovelace", "account": "222222222222"},
                        {"name": "Grace Hopper"}], participantAccountRole="WorkshopAdmin")
    [assume] = json.loads(declared.provider_of("ada-lovelace").inputs["assumeRoles"])
    assert assume["roleArn"] == "arn:aws:iam::222222222222:role/WorkshopAdmin"
    assert "assumeRoles" not in declared.provider_of("grace-hopper").inputs
    assert only(declared, FUNCTION, "ada-lovelace").state["arn"].split(":")[4] == "222222222222"
    topic_policy = json.loads(declared.named("aim368-fc-samples-policy").inputs["policy"])
    subscribe = topic_policy["Statement"][1]
    assert subscribe["Principal"] == {"AWS": ["222222222222"]}
    assert subscribe["Action"] == ["sns:Subscribe"]


def test_single_account_events_keep_the_default_topic_policy(program):
    assert not any(r.name == "aim368-fc-samples-policy" for r in program().resources)


def test_a_bad_roster_fails_before_any_resource_is_declared(program):
    from tools.mock_program import last_run
    with pytest.raises(RosterError) as caught:
        program([{"name": "Ann", "email": "x"}, {"name": "Ann"}])
    assert len(caught.value.problems) == 2
    assert last_run().resources == []


def test_bad_config_fails_before_any_resource_is_declared_and_lists_every_problem(program):
    from tools.mock_program import last_run
    with pytest.raises(ConfigError) as caught:
        program(event="AIM 368", samplesPerSecond="fast", firehoseBufferSeconds=901,
                logRetentionDays=4, feedEnabled="yes", fireHoseBufferMB=1)
    problems = caught.value.problems
    assert problems[0] == "unknown setting 'fireHoseBufferMB'; did you mean 'firehoseBufferMB'?"
    assert [p.split("=")[0] for p in problems[1:]] == [
        "event", "samplesPerSecond", "feedEnabled", "firehoseBufferSeconds", "logRetentionDays"]
    assert last_run().resources == []


def test_the_event_name_prefixes_everything(program):
    declared = program(event="reinvent")
    assert declared.named("reinvent-fc-samples", TOPIC).inputs["name"] == "reinvent-fc-samples"
    assert only(declared, FUNCTION, "ada-lovelace").inputs["name"] == "reinvent-ada-lovelace-collect"


def test_every_pulumi_yaml_setting_has_a_rule_and_a_typed_section_field_and_vice_versa():
    from event.config import RULES, schema_problems, section_fields
    schema = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    kinds = {str: "string", int: "integer", bool: "boolean"}
    assert schema_problems(schema) == []
    fields = {f.key: f for f in section_fields()}
    assert set(schema) == set(RULES) == set(fields)
    for key, declared in schema.items():
        assert declared["type"] == kinds[fields[key].kind], key
        assert declared["type"] == kinds[type(declared["default"])], key


def test_no_declared_resource_or_argument_is_deprecated(program, monkeypatch):
    warned = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    program()
    assert [w for w in warned if "deprecated" in w.lower()] == []


def test_the_readme_documents_every_setting_with_its_default():
    from event.config import SETTINGS
    rows = {line.split("|")[1].strip(" `"): line for line in
            (PROJECT_DIR / "README.md").read_text().splitlines() if line.startswith("| `")}
    for setting in SETTINGS:
        assert setting.key in rows, f"README's configuration reference lacks {setting.key}"
        default = str(setting.default).lower() if isinstance(setting.default, bool) else \
            str(setting.default)
        assert (f"`{default}`" in rows[setting.key]) if default else "empty" in rows[setting.key]
