"""The retraining loop against moto, with SageMaker training and serving emulated.

Two participants whose ids share a prefix (`ada`, `ada-lovelace`) each have a bucket,
an endpoint serving the baseline (an XGBoost model trained on the normal FC), and a
retraining function (tools.local_retraining delivers SageMaker's job state changes to
it). The FC has drifted to peak season: ada's bucket holds an hour of drifted samples.
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import pytest
from boto3.dynamodb.conditions import Key
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers import (
    fc_samples,
    leaderboard,
    retraining,
    retraining_data,
    retraining_events,
    served_model,
)
from handlers.retraining_events import BadEvent, Who
from handlers.retraining_store import Store
from tests.kit import create_scores_table
from tests.test_leaderboard import NOW, SETTINGS
from tools import local_sagemaker
from tools.local_retraining import LocalLoop
from tools.local_sagemaker import EmulatedRuntime, emulate_sagemaker
from tools.retraining_world import (
    ACCOUNT,
    BASELINE_KEY,
    IMAGE,
    SHARED,
    create_table,
    environment,
    names,
    put_samples,
    serve_baseline,
)
from training import baseline, local
from training.hyperparameters import SENSIBLE

IDS = ("ada", "ada-lovelace")
DRIFTED_SAMPLES = 6000


def arrays(samples):
    values = np.array(samples, dtype=float)
    return values[:, 1:], values[:, 0]


@pytest.fixture(scope="module")
def baseline_artifact(tmp_path_factory):
    model = local.train("xgboost", SENSIBLE["xgboost"], arrays(fc_samples.generate(30_000, 1)),
                        arrays(fc_samples.generate(5_000, 2)))
    return baseline.package(model.booster, tmp_path_factory.mktemp("m") / "model.tar.gz").read_bytes()


@pytest.fixture
def world(aws_env, baseline_artifact):
    with mock_aws(), emulate_sagemaker():
        s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
        table = create_table()
        s3.create_bucket(Bucket=SHARED)
        s3.put_object(Bucket=SHARED, Key=BASELINE_KEY, Body=baseline_artifact)
        s3.put_object(Bucket=SHARED, Key="datasets/TrainSamples.csv",
                      Body="".join(map(fc_samples.encode, fc_samples.generate(2000, 5))).encode())
        now = datetime.now(UTC)
        for participant in IDS:
            n = names(participant)
            s3.create_bucket(Bucket=n["bucket"])
            serve_baseline(sagemaker, participant)
        drifted = fc_samples.generate(DRIFTED_SAMPLES, 11, "peak-season")
        for part in range(3):  # three Firehose objects, oldest first
            chunk = drifted[part * 2000:(part + 1) * 2000]
            put_samples(s3, names("ada")["bucket"], chunk, now, f"stream-{part}")
        runtime = EmulatedRuntime()
        clients = retraining.Clients(sagemaker, runtime, s3, table)
        loops = {p: LocalLoop(environment(p), clients) for p in IDS}
        yield loops, s3, sagemaker, table, runtime
        local_sagemaker.JOB_FAULTS.clear()


def serving(sagemaker, participant):
    return sagemaker.describe_endpoint(EndpointName=names(participant)["endpoint"])[
        "EndpointConfigName"]


def live_rmse(runtime, participant, samples):
    features, truth = arrays(samples)
    body = "\n".join(",".join(fc_samples.format_number(v) for v in row) for row in features)
    answer = runtime.invoke_endpoint(EndpointName=names(participant)["endpoint"], Body=body.encode())
    return local.rmse(np.array(served_model.predictions_from(answer["Body"].read(),
                                                             len(truth))), truth)


def alarm_event(participant, state="ALARM"):
    return {"version": "0", "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "resources": [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{names(participant)['alarm']}"],
            "detail": {"alarmName": names(participant)["alarm"],
                       "state": {"value": state, "reason": "Threshold Crossed"},
                       "previousState": {"value": "OK"}}}


def jobs(sagemaker):
    return sorted(j["TrainingJobName"] for j in
                  sagemaker.list_training_jobs()["TrainingJobSummaries"])


# --- the loop -------------------------------------------------------------------------

def test_after_the_drift_a_retrained_model_is_judged_better_and_promoted(world):
    loops, _, sagemaker, _, runtime = world
    fresh = fc_samples.generate(3000, 99, "peak-season")
    before = live_rmse(runtime, "ada", fresh)
    loops["ada"].invoke({"action": "enable"})
    started = loops["ada"].invoke(alarm_event("ada"))
    assert started["outcome"] == "training" and started["algorithm"] == "xgboost"
    assert (started["train_rows"], started["holdout_rows"]) == (4800, 1200)
    judged = loops["ada"].responses[-1]
    assert judged["outcome"] == "promoted", judged
    assert judged["candidate_rmse"] < judged["current_rmse"] * 0.95
    assert serving(sagemaker, "ada") == started["job"]
    assert started["job"].startswith("aim368-ada--rt-")
    # Tagged as the participant's role requires on every create (components/model_training).
    for arn in (sagemaker.describe_training_job(TrainingJobName=started["job"])["TrainingJobArn"],
                sagemaker.describe_model(ModelName=started["job"])["ModelArn"],
                sagemaker.describe_endpoint_config(EndpointConfigName=started["job"])[
                    "EndpointConfigArn"]):
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
        assert (tags["Participant"], tags["Event"]) == ("ada", "aim368"), arn
    after = live_rmse(runtime, "ada", fresh)
    assert after < before / 2  # the degraded baseline is far off; the candidate is not
    [attempt] = loops["ada"].invoke({"action": "status"})["attempts"]
    assert attempt["decision"] == "promoted" and attempt["trigger"] == "alarm"
    assert attempt["serving_job"] == "baseline"
    assert attempt["hyperparameters"]["max_depth"] == str(SENSIBLE["xgboost"]["max_depth"])
    assert set(attempt) >= {"candidate_rmse", "current_rmse", "duration_s", "job"}
    # Nobody else's endpoint moved.
    assert serving(sagemaker, "ada-lovelace") == "aim368-ada-lovelace-config-1a2b3c4"


def test_the_holdout_is_the_most_recent_samples_and_is_not_trained_on(world):
    loops, s3, sagemaker, *_ = world
    started = loops["ada"].invoke({"action": "start"}, deliver=False)
    job = sagemaker.describe_training_job(TrainingJobName=started["job"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in job["InputDataConfig"]}
    bucket = names("ada")["bucket"]
    base = f"s3://{bucket}/retraining/{started['job']}/"
    assert channels == {"train": base + "train/", "validation": base + "holdout/"}
    holdout = s3.get_object(Bucket=bucket, Key=f"retraining/{started['job']}/holdout/holdout.csv")
    newest = s3.get_object(Bucket=bucket, Key=retraining_data.hour_prefix(
        "samples/", datetime.now(UTC)) + "stream-2")
    assert newest["Body"].read().endswith(holdout["Body"].read())


def test_a_worse_candidate_is_never_promoted(world):
    loops, _, sagemaker, *_ = world
    local_sagemaker.JOB_FAULTS["aim368-ada--rt-"] = "bad-model"
    loops["ada"].invoke({"action": "start"})
    judged = loops["ada"].responses[-1]
    assert judged["outcome"] == "kept"
    assert judged["candidate_rmse"] > judged["current_rmse"]
    assert serving(sagemaker, "ada") == "aim368-ada-config-1a2b3c4"


def test_a_failed_job_leaves_the_endpoint_untouched_and_frees_the_loop(world):
    loops, _, sagemaker, *_ = world
    local_sagemaker.JOB_FAULTS["aim368-ada--rt-"] = "fail"
    loops["ada"].invoke({"action": "start"})
    judged = loops["ada"].responses[-1]
    assert judged["outcome"] == "job_failed" and "injected fault" in judged["reason"]
    assert serving(sagemaker, "ada") == "aim368-ada-config-1a2b3c4"
    assert loops["ada"].invoke({"action": "status"})["running"] is None


def test_a_second_trigger_while_one_runs_is_refused_until_the_lock_expires(world):
    loops, _, sagemaker, *_ = world
    first = loops["ada"].invoke({"action": "start"}, deliver=False)
    past_cooldown = LocalLoop(environment("ada"), loops["ada"].clients, clock=lambda: (
        datetime.now(UTC) + timedelta(seconds=retraining.MANUAL_COOLDOWN_SECONDS + 1)))
    second = past_cooldown.invoke({"action": "start"}, deliver=False)
    assert second == {"ok": True, "outcome": "busy", "trigger": "manual",
                      "running": first["job"]}
    assert jobs(sagemaker) == [first["job"]]
    # A job that never reports back cannot block the loop for ever.
    later = LocalLoop(environment("ada", window_minutes=240), loops["ada"].clients,
                      clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    third = later.invoke({"action": "start"}, deliver=False)
    assert third["outcome"] == "training"
    assert later.invoke({"action": "status"})["attempts"][0]["took_over"] == first["job"]


def test_a_redelivered_job_event_is_judged_once(world):
    loops, _, _sagemaker, *_ = world
    started = loops["ada"].invoke({"action": "start"})
    loops["ada"].delivered.clear()
    [again] = loops["ada"].deliver()
    assert again["outcome"] == "ignored"
    assert [a["job"] for a in loops["ada"].invoke({"action": "status"})["attempts"]] == \
        [started["job"]]


def test_the_loop_is_off_by_default_and_only_automatic_triggers_honour_the_switch(world):
    loops, _, sagemaker, *_ = world
    assert loops["ada"].invoke(alarm_event("ada"))["outcome"] == "off"
    schedule = {"source": "aws.events", "detail-type": "Scheduled Event",
                "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}}
    assert loops["ada"].invoke(schedule)["outcome"] == "off"
    assert jobs(sagemaker) == []
    on_for_all = LocalLoop(environment("ada", retraining_default=True), loops["ada"].clients)
    assert on_for_all.invoke(schedule, deliver=False)["outcome"] == "training"


def test_not_enough_recent_samples_skips_the_attempt_without_a_job(world):
    loops, _, sagemaker, *_ = world
    answer = loops["ada-lovelace"].invoke({"action": "start"})  # her bucket is empty
    assert answer["outcome"] == "not_started" and "0 recent samples" in answer["reason"]
    assert jobs(sagemaker) == []
    assert loops["ada-lovelace"].invoke({"action": "status"})["running"] is None


def items_of(table, participant):
    return table.query(KeyConditionExpression=Key("participant").eq(participant))["Items"]


def test_a_loop_of_manual_starts_is_refused_during_the_cooldown_and_stores_nothing(
        world, capsys):
    """A participant's notebook may invoke their function: calling it in a loop must not
    add an item per call (each refused start writes nothing), and the loop still works
    once the cooldown has passed."""
    loops, _, _, table, _ = world
    start = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    at = [start]
    loop = LocalLoop(environment("ada-lovelace"), loops["ada-lovelace"].clients,
                     clock=lambda: at[0])
    assert loop.invoke({"action": "start"})["outcome"] == "not_started"  # her bucket is empty
    stored = items_of(table, "ada-lovelace")
    capsys.readouterr()
    for second in range(1, retraining.MANUAL_COOLDOWN_SECONDS):
        at[0] = start + timedelta(seconds=second)
        refused = loop.invoke({"action": "start"})
        assert (refused["ok"], refused["outcome"]) == (True, "cooling_down")
        assert f"one manual start per {retraining.MANUAL_COOLDOWN_SECONDS} s" in refused["reason"]
    assert items_of(table, "ada-lovelace") == stored
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(logged) == retraining.MANUAL_COOLDOWN_SECONDS - 1
    assert {line["outcome"] for line in logged} == {"cooling_down"}
    at[0] = start + timedelta(seconds=retraining.MANUAL_COOLDOWN_SECONDS)
    assert loop.invoke({"action": "start"})["outcome"] == "not_started"
    # Her cooldown is hers: ada starts at once, whatever ada-lovelace did.
    assert loops["ada"].invoke({"action": "start"}, deliver=False)["outcome"] == "training"


def test_every_finished_attempt_is_folded_into_one_summary_item(world):
    loops, _, _, table, _ = world
    start = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    for minute in range(3):  # three not_started attempts, a cooldown apart
        LocalLoop(environment("ada-lovelace"), loops["ada-lovelace"].clients,
                  clock=lambda m=minute: start + timedelta(minutes=m)).invoke({"action": "start"})
    summary = Store(table, "ada-lovelace").summary()
    assert (summary["attempts"], summary["promotions"], summary["last_decision"]) == (
        3, 0, "not_started")
    assert summary["last_attempt"] == "attempt#aim368-ada-lovelace--rt-20261127100200"
    loops["ada"].invoke({"action": "start"})
    judged = loops["ada"].responses[-1]
    summary = Store(table, "ada").summary()
    assert (summary["attempts"], summary["promotions"], summary["last_decision"]) == (
        1, 1, "promoted")
    assert summary["last_candidate_rmse"] == pytest.approx(judged["candidate_rmse"], abs=1e-6)


def test_a_participant_changes_margin_and_window_within_bounds(world):
    loops, *_ = world
    answer = loops["ada"].invoke({"action": "configure", "margin_percent": 10,
                                  "window_minutes": 30, "include_precollected": True})
    assert answer["settings"] == {"enabled": False, "margin_percent": 10,
                                  "window_minutes": 30, "include_precollected": True}
    bad = loops["ada"].invoke({"action": "configure", "margin_percent": 90,
                               "window_minutes": 1.5, "colour": "red"})
    assert bad["ok"] is False
    for part in ["margin_percent=90 must be between 0.0 and 50.0",
                 "window_minutes=1.5 must be a whole number", "unknown key 'colour'"]:
        assert part in bad["error"]


def test_the_pre_collected_set_joins_the_training_data_when_asked(world):
    loops, s3, *_ = world
    loops["ada"].invoke({"action": "configure", "include_precollected": True})
    started = loops["ada"].invoke({"action": "start"}, deliver=False)
    keys = [o["Key"] for o in s3.list_objects_v2(
        Bucket=names("ada")["bucket"], Prefix=f"retraining/{started['job']}/train/")["Contents"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == ["precollected.csv", "recent.csv"]


# --- isolation and bad events ---------------------------------------------------------

def test_a_function_refuses_events_about_a_prefix_sharing_participant(world):
    loops, _, sagemaker, *_ = world
    loops["ada"].invoke({"action": "enable"})
    answer = loops["ada"].invoke(alarm_event("ada-lovelace"))
    assert answer["ok"] is False and "is not ada's (aim368-ada-rmse)" in answer["error"]
    job_event = {"source": "aws.sagemaker", "detail-type": "SageMaker Training Job State Change",
                 "detail": {"TrainingJobName": "aim368-ada-lovelace--rt-20261201000000",
                            "TrainingJobStatus": "Completed"}}
    answer = loops["ada"].invoke(job_event)
    assert answer["ok"] is False and "not one of ada's retraining jobs" in answer["error"]
    answer = loops["ada"].invoke({"action": "start", "participant": "ada-lovelace"})
    assert answer["ok"] is False and "retrains only 'ada'" in answer["error"]
    assert jobs(sagemaker) == []


def test_each_participants_loop_touches_only_their_own_resources(world):
    loops, s3, sagemaker, table, _ = world
    put_samples(s3, names("ada-lovelace")["bucket"],
                fc_samples.generate(3000, 12, "peak-season"), datetime.now(UTC), "stream-0")
    for participant in IDS:
        loops[participant].invoke({"action": "start"})
    for participant in IDS:
        prefix = names(participant)["job_prefix"] + "-"
        [job] = [j for j in jobs(sagemaker) if j.startswith(prefix)]
        described = sagemaker.describe_training_job(TrainingJobName=job)
        assert described["RoleArn"] == names(participant)["role"]
        assert described["OutputDataConfig"]["S3OutputPath"].startswith(
            f"s3://{names(participant)['bucket']}/retraining/")
        assert all(c["DataSource"]["S3DataSource"]["S3Uri"].startswith(
            f"s3://{names(participant)['bucket']}/") for c in described["InputDataConfig"])
        assert serving(sagemaker, participant) == job
        items = table.query(KeyConditionExpression="participant = :p",
                            ExpressionAttributeValues={":p": participant})["Items"]
        assert {i["job"] for i in items if i["record"].startswith("attempt#")} == {job}


@pytest.mark.parametrize("event, expected", [
    ([], "an event must be a JSON object, got list"),
    ({"source": "aws.s3", "detail-type": "Object Created"}, "unexpected event source 'aws.s3'"),
    ({"hello": 1}, "no 'action'"),
    ({"action": "explode"}, "action 'explode' must be one of"),
    ({"action": "start", "margin_percent": 3}, "can only be changed with action 'configure'"),
    ({"action": "configure"}, "needs at least one of"),
    ({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
      "detail": {"alarmName": "aim368-ada-rmse", "state": {"value": "OK"}}},
     "state 'OK' is not ALARM"),
    ({"source": "aws.sagemaker", "detail-type": "SageMaker Training Job State Change",
      "detail": "x"}, "'detail' must be an object"),
])
def test_bad_events_get_a_clear_error_never_a_traceback(world, capsys, event, expected):
    loops, *_ = world
    answer = loops["ada"].invoke(event)
    assert answer["ok"] is False and expected in answer["error"]
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["outcome"] == "bad_event"


def test_the_judge_logs_one_line_that_is_also_a_metric_record(world, capsys):
    loops, *_ = world
    loops["ada"].invoke({"action": "start"})
    trigger_line, judge_line = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert trigger_line["outcome"] == "training" and "_aws" not in trigger_line
    [metrics] = judge_line["_aws"]["CloudWatchMetrics"]
    assert metrics["Namespace"] == "MLWorkshop/aim368"
    assert judge_line["Participant"] == "ada" and judge_line["RetrainingPromotions"] == 1
    assert {m["Name"] for m in metrics["Metrics"]} >= {"CandidateRMSE", "CurrentRMSE",
                                                        "RetrainingAttempts"}


def test_a_misconfigured_function_lists_every_problem():
    variable = retraining.Settings.variables()
    env = environment("ada", training_instance_type="ml.p4d.24xlarge",
                      baseline_hyperparameters="{not json")
    del env[variable["event"]]
    env[variable["margin_percent"]] = "x"
    with pytest.raises(retraining.ConfigError) as caught:
        retraining.Settings.checked(env)
    message = str(caught.value)
    for part in [f"{variable['event']} is not set", f"{variable['margin_percent']}='x'"]:
        assert part in message
    with pytest.raises(retraining.ConfigError) as caught:
        retraining.Settings.checked({**env, variable["event"]: "aim368",
                                     variable["margin_percent"]: "5"})
    message = str(caught.value)
    for part in ["'ml.p4d.24xlarge' is not in allowed_instance_types",
                 "baseline_hyperparameters is not JSON"]:
        assert part in message


def test_the_environment_the_component_writes_is_what_the_function_reads():
    env = environment("ada-lovelace", retraining_default=True)
    settings = retraining.Settings.checked(env)
    assert settings.who == Who("ada-lovelace", "aim368-ada-lovelace-rmse",
                               "aim368-ada-lovelace--rt")
    assert settings.allowed == ("ml.m5.large", "ml.m5.xlarge", "ml.c5.large")
    assert settings.baseline_hyperparameter_values == SENSIBLE["xgboost"]
    assert settings.retraining_default is True


# --- what the endpoint serves ---------------------------------------------------------

def test_a_notebook_promoted_model_is_retrained_with_its_own_job_settings(world):
    loops, _s3, sagemaker, *_ = world
    sagemaker.create_training_job(
        TrainingJobName="aim368-ada-xgb-20261201100000", RoleArn=names("ada")["role"],
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"num_round": "40", "early_stopping_rounds": "3", "max_depth": "4",
                         "eta": "0.5", "objective": "reg:squarederror"},
        InputDataConfig=[{"ChannelName": c, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{SHARED}/datasets/"}}}
            for c in ("train", "validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{names('ada')['bucket']}/training-output/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    job = sagemaker.describe_training_job(TrainingJobName="aim368-ada-xgb-20261201100000")
    served_model.promote(sagemaker, names("ada")["endpoint"], job["TrainingJobName"], IMAGE,
                         job["ModelArtifacts"]["S3ModelArtifacts"], names("ada")["role"])
    served = served_model.current(sagemaker, names("ada")["endpoint"], "s3://x/y", {})
    assert served.training_job == "aim368-ada-xgb-20261201100000"
    assert served.instance_type == "ml.m5.xlarge"
    started = loops["ada"].invoke({"action": "start"}, deliver=False)
    retrain = sagemaker.describe_training_job(TrainingJobName=started["job"])
    assert retrain["HyperParameters"]["max_depth"] == "4"
    assert retrain["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"


def test_a_model_whose_artifact_no_job_produced_is_not_retrained(world):
    loops, _, sagemaker, *_ = world
    sagemaker.create_model(ModelName="aim368-ada-odd", ExecutionRoleArn=names("ada")["role"],
                           PrimaryContainer={"Image": IMAGE, "ModelDataUrl":
                                             "s3://elsewhere/x/aim368-ada-lovelace--rt-1/output/model.tar.gz"})
    sagemaker.create_endpoint_config(EndpointConfigName="aim368-ada-odd", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "aim368-ada-odd", "InitialInstanceCount": 1,
        "InstanceType": "ml.c5.large"}])
    sagemaker.update_endpoint(EndpointName=names("ada")["endpoint"], EndpointConfigName="aim368-ada-odd")
    answer = loops["ada"].invoke({"action": "start"})
    assert answer["outcome"] == "not_started" and "cannot read training job" in answer["reason"]


def test_batch_answers_of_every_algorithm_are_read_in_order():
    assert served_model.predictions_from(b"1.5\n2.5\n", 2) == [1.5, 2.5]
    assert served_model.predictions_from(
        b'{"predictions": [{"predicted_label": 3}, {"predicted_label": 4}]}', 2) == [3.0, 4.0]
    assert served_model.predictions_from(b'{"predictions": [{"score": 5}]}', 1) == [5.0]
    with pytest.raises(ValueError, match="expected 3 predictions, got 2"):
        served_model.predictions_from(b"1\n2\n", 3)


def test_the_sample_layout_is_the_one_firehose_is_given():
    from components.sample_collection import SAMPLES_KEY_LAYOUT, SAMPLES_PREFIX
    moment = datetime(2026, 12, 1, 7, 5, tzinfo=UTC)
    rendered = (SAMPLES_PREFIX + SAMPLES_KEY_LAYOUT).replace("!{timestamp:yyyy}", "2026") \
        .replace("!{timestamp:MM}", "12").replace("!{timestamp:dd}", "01") \
        .replace("!{timestamp:HH}", "07")
    assert retraining_data.hour_prefix("samples/", moment) == rendered


# --- event parsing, for any input -----------------------------------------------------

WHO = Who("ada", "aim368-ada-rmse", "aim368-ada--rt")
json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["source", "detail-type", "detail", "action",
                                        "participant", "margin_percent", "window_minutes",
                                        "include_precollected", "resources"]),
                       json_values, max_size=6))
def test_any_event_parses_or_is_refused_with_reasons(event):
    try:
        request = retraining_events.parse(event, WHO)
    except BadEvent as error:
        assert error.problems and all(isinstance(p, str) for p in error.problems)
    else:
        assert isinstance(request, (retraining_events.Trigger, retraining_events.Command,
                                    retraining_events.JobStateChange))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(retraining_events.JOB_STATUSES), st.from_regex(r"[0-9]{14}", fullmatch=True),
       st.text(max_size=30))
def test_own_job_and_alarm_events_always_parse(status, stamp, reason):
    job = retraining_events.parse({"source": "aws.sagemaker", "detail-type":
                                   retraining_events.JOB_DETAIL_TYPE,
                                   "detail": {"TrainingJobName": f"aim368-ada--rt-{stamp}",
                                              "TrainingJobStatus": status}}, WHO)
    assert job == retraining_events.JobStateChange(f"aim368-ada--rt-{stamp}", status)
    alarm = retraining_events.parse({"source": "aws.cloudwatch", "detail-type":
                                     retraining_events.ALARM_DETAIL_TYPE,
                                     "detail": {"alarmName": "aim368-ada-rmse",
                                                "state": {"value": "ALARM", "reason": reason}}},
                                    WHO)
    assert alarm.kind == "alarm"


def test_the_leaderboard_marks_a_promotion_and_not_a_kept_candidate(world):
    """The loop's own summary items, as the leaderboard reads them (one BatchGetItem)."""
    loops, s3, _, table, _ = world
    put_samples(s3, names("ada-lovelace")["bucket"],
                fc_samples.generate(3000, 12, "peak-season"), datetime.now(UTC), "stream-0")
    loops["ada"].invoke({"action": "start"})
    local_sagemaker.JOB_FAULTS["aim368-ada-lovelace--rt-"] = "bad-model"
    loops["ada-lovelace"].invoke({"action": "start"})
    assert [loops[p].responses[-1]["outcome"] for p in IDS] == ["promoted", "kept"]
    scores = create_scores_table()
    for participant in IDS:
        scores.put_item(Item={"minute": "roster", "participant": participant, "name": participant})
    leaderboard.forget()
    rows = {r["participant"]: r for r in leaderboard.build(
        scores, SETTINGS, NOW, retraining=table)["rows"]}
    judged = loops["ada"].responses[-1]
    assert rows["ada"]["retrained"] == {
        "promotions": 1, "last_decision": "promoted",
        "last_current_rmse": pytest.approx(judged["current_rmse"], abs=1e-6),
        "last_candidate_rmse": pytest.approx(judged["candidate_rmse"], abs=1e-6)}
    assert rows["ada-lovelace"]["retrained"] is None
