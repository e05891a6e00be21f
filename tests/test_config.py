"""The stack config: read from Pulumi.yaml's schema, validated with hints, grouped in sections."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from event.config import (
    DEFAULT_REGION,
    PROJECT_FILE,
    RULES,
    SETTINGS,
    ConfigError,
    EventConfig,
    FeedConfig,
    known_regions,
    parse_config,
    read_schema,
    schema_problems,
)


def problems_of(raw, region=None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, region=region)
    return caught.value.problems


# --- Pulumi.yaml is the one place a default is written -----------------------------------

def test_defaults_come_from_pulumi_yaml():
    schema = yaml.safe_load(PROJECT_FILE.read_text())["config"]
    config = parse_config({})
    assert config.feed.samples_per_second == schema["samplesPerSecond"]["default"]
    assert config.drift.profile == schema["driftProfile"]["default"]
    assert config.dataset.samples == schema["datasetSamples"]["default"]
    assert [s.default for s in SETTINGS] == [d["default"] for d in schema.values()]


def test_no_default_is_written_in_the_config_code():
    source = (PROJECT_FILE.parent / "event" / "config.py").read_text()
    for setting in SETTINGS:
        if isinstance(setting.default, str) and len(setting.default) > 3:
            assert f'"{setting.default}"' not in source, setting.key


def test_a_setting_without_a_rule_or_a_field_is_reported_by_name():
    schema = read_schema()
    schema["newThing"] = {"type": "integer", "default": 1, "description": "new"}
    assert schema_problems(schema) == [
        "newThing: has no validation rule in event/config.py RULES",
        "newThing: fills no field of EventConfig or its sections"]


def test_a_schema_type_that_differs_from_the_field_or_default_is_reported():
    schema = read_schema()
    schema["feedSeed"] = {"type": "string", "default": 368, "description": "seed"}
    problems = schema_problems(schema)
    assert "feedSeed: needs a default of type string" in problems
    assert "feedSeed: is string but its field feed.seed is int" in problems


def test_a_rule_for_an_undeclared_setting_is_reported():
    schema = read_schema()
    del schema["alarmEmail"]
    assert "alarmEmail: has a validation rule but is not declared in Pulumi.yaml" in \
        schema_problems(schema, RULES)


# --- sections ----------------------------------------------------------------------------

def test_the_config_is_grouped_in_frozen_sections():
    config = parse_config({"samplesPerSecond": "7", "feedEnabled": "false", "driftStart":
                           "2026-12-01T15:00:00Z", "alarmEmail": "ops@example.com"})
    assert config.feed == FeedConfig(samples_per_second=7, enabled=False, seed=368)
    assert config.drift.start == "2026-12-01T15:00:00Z"
    assert config.alarms.email == "ops@example.com"
    assert config.endpoint.training_types[0] == "ml.m5.large"
    # ml.c5.large can host but not train (the SageMaker API's own enums)
    assert "ml.c5.large" in config.endpoint.hosting_types
    assert "ml.c5.large" not in config.endpoint.training_types
    with pytest.raises(AttributeError):
        config.feed.seed = 1  # type: ignore[misc]
    assert isinstance(config, EventConfig) and config.region == DEFAULT_REGION


# --- helpful errors ----------------------------------------------------------------------

@pytest.mark.parametrize("key, hint", [
    ("evnet", "did you mean 'event'?"),
    ("samplesPerSec", "did you mean 'samplesPerSecond'?"),
    ("FEEDSEED", "did you mean 'feedSeed'?"),
    ("region", "did you mean 'aws:region'?"),
])
def test_an_unknown_key_gets_a_did_you_mean_hint(key, hint):
    [problem] = problems_of({key: "x"})
    assert problem.startswith(f"unknown setting '{key}'") and hint in problem


def test_an_unknown_key_with_nothing_close_gets_no_hint():
    assert problems_of({"zzzzzz": "1"}) == ["unknown setting 'zzzzzz'"]


def test_the_region_must_be_a_real_aws_region():
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= known_regions()
    assert parse_config({}, region="eu-west-1").region == "eu-west-1"
    assert problems_of({}, region="us-east-1a") == [  # an availability zone, not a region
        "aws:region='us-east-1a' is not an AWS region; did you mean 'us-east-1'?"]
    assert problems_of({}, region="moon-1") == ["aws:region='moon-1' is not an AWS region"]
    assert problems_of({}, region="eu-wets-1")[0].endswith("did you mean 'eu-west-1'?")


def test_regions_of_other_partitions_are_refused_since_arns_say_arn_aws():
    assert "cn-north-1" not in known_regions() and "us-gov-west-1" not in known_regions()
    assert problems_of({}, region="cn-north-1")[0].startswith("aws:region='cn-north-1'")


def test_every_problem_is_reported_at_once_with_the_region():
    problems = problems_of({"evnet": "x", "feedSeed": "-1"}, region="mars-1")
    keys = [p.split("=")[0].split(" ")[0] for p in problems]
    assert keys == ["unknown", "feedSeed", "aws:region"]


# --- the preview uses the configured region ------------------------------------------------

def test_every_url_and_arn_of_the_preview_uses_the_configured_region(program):
    declared = program(**{"aws:region": "eu-west-1"})
    printed = json.dumps(declared.outputs) + json.dumps(
        [r.state for r in declared.resources], default=str)
    regions = set(re.findall(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", printed))
    assert regions == {"eu-west-1"}
    assert ".execute-api.eu-west-1.amazonaws.com/" in \
        declared.outputs["participants"]["ada-lovelace"]["inference_url"]
    assert declared.outputs["sample_topic_arn"].startswith("arn:aws:sns:eu-west-1:")


# --- the retraining loop's section ----------------------------------------------------------

def test_the_retraining_loop_is_off_by_default_and_its_settings_are_checked_together():
    config = parse_config({})
    assert config.retraining.default_on is False and config.retraining.schedule == ""
    assert config.retraining.training_instance_type in config.endpoint.training_types
    on = parse_config({"retrainingDefault": "true", "retrainingSchedule": "rate(2 hours)",
                       "retrainingMarginPercent": "10", "retrainingWindowMinutes": "120"})
    assert (on.retraining.default_on, on.retraining.schedule, on.retraining.margin_percent,
            on.retraining.window_minutes) == (True, "rate(2 hours)", 10, 120)
    assert parse_config({"retrainingSchedule": "cron(0 * * * ? *)"}).retraining.schedule
    problems = problems_of({"retrainingSchedule": "every hour", "retrainingMarginPercent": "80",
                            "retrainingWindowMinutes": "1",
                            "retrainingTrainingInstanceType": "ml.p4d.24xlarge"})
    assert [p.split("=")[0] for p in problems] == [
        "retrainingMarginPercent", "retrainingWindowMinutes", "retrainingSchedule",
        "retrainingTrainingInstanceType"]
    assert "must be one of trainingInstanceTypes" in problems[-1]
