"""Automated retraining for one participant: trigger, train, judge, promote or keep.

Orchestration is EventBridge rules and this one Lambda function (one per participant,
so IAM scopes it to that participant's names), chained by SageMaker's own events:

1. A trigger (the participant's RMSE alarm entering ALARM, a schedule, or `start` from
   the notebook) takes the participant's lock, works out what their endpoint serves
   now (algorithm and hyperparameters, see served_model), writes their recent samples
   as a training set and a holdout of the most recent ones (retraining_data), and
   starts a SageMaker training job whose evaluation channel is the holdout. It returns
   at once: nothing waits while the job runs.
2. SageMaker emits "SageMaker Training Job State Change" when the job ends; a rule
   delivers it here. On Failed or Stopped the attempt is recorded and the endpoint is
   left alone. On Completed the candidate's RMSE is the metric the job itself reports
   on the holdout (free: no temporary endpoint, no batch transform), and the current
   model's RMSE is measured by calling the live endpoint on the same holdout rows in
   bounded batches (a few calls of 500 rows). The candidate is promoted only if its
   RMSE < current x (1 - margin); otherwise the current model stays.
3. Every attempt is recorded in the retraining table with one log line, which is also
   an Embedded Metric Format record for the dashboard; as it finishes, it is folded into
   the participant's one summary item, which is all the leaderboard reads.

A manual trigger is accepted at most once per MANUAL_COOLDOWN_SECONDS; a refused one
is logged and stores nothing.

Why not Step Functions: its SageMaker integration (`createTrainingJob.sync`) would be
just as free of polling, but the state machine cannot run on this machine, whereas this
chain runs whole against moto with the local SageMaker emulation (tools/), which is how
it is tested. The lock (a conditional write with an expiry) keeps one attempt in flight
per participant, so there are never two promotions at once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers import retraining_data, retraining_events, scoring, served_model
from handlers.environment import Environment, SettingsError
from handlers.log import log
from handlers.retraining_events import BadEvent, Command, JobStateChange, Trigger, Who
from handlers.retraining_store import Store, attempt_key

LOCK_SLACK_SECONDS = 900  # beyond the job's own limit, for the judge to finish
# A participant's notebook may invoke their function: without a pause between manual
# triggers, a loop could add an attempt item every second. A training job takes longer
# than this, so an honest participant never waits for it.
MANUAL_COOLDOWN_SECONDS = 60


class ConfigError(ValueError):
    """The function's environment is wrong: a deployment bug, listed in full."""


@dataclass(frozen=True)
class Settings(Environment):
    """The function's environment, written by components/retraining.py."""

    event: str
    participant: str
    endpoint_name: str  # the participant's endpoint, the one the loop may update
    alarm_name: str  # their RMSE alarm: the only alarm whose events trigger an attempt
    job_prefix: str  # every retraining job is <job_prefix>-<YYYYMMDDHHMMSS>
    bucket: str  # their Lab 1 bucket: samples in, retraining/ attempts out
    samples_prefix: str
    sagemaker_role_arn: str  # their Lab 2 role, passed to the training job and the model
    table_name: str  # the event's retraining table
    training_instance_type: str  # when the served model's own type is not allowed
    allowed_instance_types: str  # comma-separated allow-list (IAM enforces it too)
    retraining_default: bool  # the loop is on for participants who did not choose
    margin_percent: float  # a candidate must beat the current model by this much
    window_minutes: int  # how far back the training samples reach
    baseline_model_url: str  # s3:// of the baseline model, recognised as such
    baseline_hyperparameters: str  # JSON: what the baseline was trained with
    holdout_percent: float = 20.0
    max_training_seconds: int = 3600
    precollected_uri: str = ""  # s3:// of TrainSamples.csv, added on request

    @classmethod
    def checked(cls, env: Mapping[str, str]) -> Settings:
        """Parse and check the environment; ConfigError names every problem at once."""
        problems: list[str] = []
        try:
            settings: Settings | None = cls.from_environment(env)
        except SettingsError as error:
            problems.append(str(error))
            settings = None
        if settings is not None:
            if settings.training_instance_type not in settings.allowed:
                problems.append(f"training_instance_type {settings.training_instance_type!r} "
                                f"is not in allowed_instance_types {list(settings.allowed)}")
            try:
                if not isinstance(json.loads(settings.baseline_hyperparameters), dict):
                    problems.append("baseline_hyperparameters must be a JSON object")
            except ValueError as error:
                problems.append(f"baseline_hyperparameters is not JSON: {error}")
        if problems:
            raise ConfigError("retraining function misconfigured: " + "; ".join(problems))
        return settings

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.allowed_instance_types.split(",") if t.strip())

    @property
    def baseline_hyperparameter_values(self) -> dict:
        return json.loads(self.baseline_hyperparameters)

    @property
    def tags(self) -> list[dict]:
        """What every create carries: the function's role allows creates only with these."""
        return [{"Key": "Participant", "Value": self.participant},
                {"Key": "Event", "Value": self.event}, {"Key": "Purpose", "Value": "retraining"}]

    @property
    def who(self) -> Who:
        return Who(self.participant, self.alarm_name, self.job_prefix)


@dataclass
class Clients:
    sagemaker: Any
    runtime: Any
    s3: Any
    table: Any


def default_clients(config: Settings) -> Clients:
    import boto3
    return Clients(boto3.client("sagemaker"), boto3.client("sagemaker-runtime"),
                   boto3.client("s3"), boto3.resource("dynamodb").Table(config.table_name))


def effective(config: Settings, stored: Mapping[str, Any]) -> dict:
    """The participant's settings over the event's defaults."""
    return {"enabled": stored.get("enabled", config.retraining_default),
            "margin_percent": stored.get("margin_percent", config.margin_percent),
            "window_minutes": stored.get("window_minutes", config.window_minutes),
            "include_precollected": stored.get("include_precollected", False)}


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code')}: {str(details.get('Message'))[:200]}"
    return str(error)[:300]


# --- trigger --------------------------------------------------------------------------

def _training_job(config: Settings, served: served_model.Served, name: str,
                  split: retraining_data.Split) -> dict:
    channel, _ = served_model.EVALUATION[served.algorithm]
    instance = served.instance_type if served.instance_type in config.allowed \
        else config.training_instance_type
    hyperparameters = {**served_model.FIXED_HYPERPARAMETERS.get(served.algorithm, {}),
                       **{k: str(v) for k, v in served.hyperparameters.items()}}

    def source(uri: str) -> dict:
        return {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                 "S3DataDistributionType": "FullyReplicated"}}

    return {
        "TrainingJobName": name, "RoleArn": config.sagemaker_role_arn, "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": served.image, "TrainingInputMode": "File"},
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": source(split.train_uri),
             "ContentType": "text/csv"},
            {"ChannelName": channel, "DataSource": source(split.holdout_uri),
             "ContentType": "text/csv"}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{config.bucket}/"
                                          f"{retraining_data.ATTEMPTS_PREFIX}{name}/model"},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": config.max_training_seconds},
        "Tags": config.tags}


def trigger(request: Trigger, config: Settings, clients: Clients, now: datetime) -> dict:
    store = Store(clients.table, config.participant)
    settings = effective(config, store.settings())
    if request.kind != "manual" and not settings["enabled"]:
        return {"outcome": "off", "trigger": request.kind}
    job = f"{config.job_prefix}-{now.strftime('%Y%m%d%H%M%S')}"
    epoch = int(now.timestamp())
    if request.kind == "manual" and not store.claim_manual(epoch, MANUAL_COOLDOWN_SECONDS):
        return {"outcome": "cooling_down", "trigger": request.kind,
                "reason": f"one manual start per {MANUAL_COOLDOWN_SECONDS} s; "
                          "try again in a minute"}
    previous = store.acquire(job, epoch, epoch + config.max_training_seconds + LOCK_SLACK_SECONDS)
    if previous is None:
        held = store.lock() or {}
        return {"outcome": "busy", "trigger": request.kind, "running": held.get("attempt")}
    record = {"status": "training", "trigger": request.kind, "trigger_detail": request.detail,
              "job": job, "started": now.isoformat(), "started_epoch": epoch,
              "margin_percent": settings["margin_percent"],
              "window_minutes": settings["window_minutes"],
              "took_over": previous.get("attempt")}
    try:
        served = served_model.current(clients.sagemaker, config.endpoint_name,
                                      config.baseline_model_url,
                                      config.baseline_hyperparameter_values)
        split = retraining_data.prepare(
            clients.s3, config.bucket, config.samples_prefix, job, now,
            settings["window_minutes"], config.holdout_percent,
            config.precollected_uri if settings["include_precollected"] else "")
        spec = _training_job(config, served, job, split)
        clients.sagemaker.create_training_job(**spec)
    except (served_model.NotRetrainable, retraining_data.NotEnoughData, ClientError,
            BotoCoreError) as error:
        record.update(status="done", decision="not_started", reason=_error_text(error),
                      finished=now.isoformat(), duration_s=0)
        store.finish(attempt_key(job), record)
        store.release(job)
        return {"outcome": "not_started", "trigger": request.kind, "job": job,
                "reason": record["reason"]}
    record.update(algorithm=served.algorithm, serving_config=served.config_name,
                  serving_job=served.training_job or "baseline",
                  hyperparameters=spec["HyperParameters"],
                  instance_type=spec["ResourceConfig"]["InstanceType"],
                  train_rows=split.train_rows, holdout_rows=split.holdout_rows,
                  rejected_rows=split.rejected_rows, holdout_key=split.holdout_key,
                  image=served.image)
    store.record(attempt_key(job), record)
    return {"outcome": "training", "trigger": request.kind, "job": job,
            "algorithm": served.algorithm, "train_rows": split.train_rows,
            "holdout_rows": split.holdout_rows}


# --- judge ----------------------------------------------------------------------------

def _decide(config: Settings, clients: Clients, attempt: dict, job: dict) -> dict:
    status = job["TrainingJobStatus"]
    if status != "Completed":
        return {"decision": "job_failed" if status == "Failed" else "job_stopped",
                "reason": str(job.get("FailureReason", status))[:300]}
    candidate = served_model.candidate_rmse(attempt["algorithm"],
                                            job.get("FinalMetricDataList", []))
    if candidate is None:
        return {"decision": "kept", "reason": "the job reported no evaluation metric"}
    outcome: dict[str, Any] = {"candidate_rmse": candidate}
    try:
        features, truth = retraining_data.holdout_rows(clients.s3, config.bucket,
                                                       attempt["holdout_key"])
        outcome["current_rmse"] = served_model.live_rmse(clients.runtime, config.endpoint_name,
                                                         features, truth)
    except (ClientError, BotoCoreError, ValueError) as error:
        # Not knowing how good the current model is, never replace it.
        return {**outcome, "decision": "kept",
                "reason": f"the current model could not be measured: {_error_text(error)}"}
    bar = outcome["current_rmse"] * (1 - attempt["margin_percent"] / 100)
    if not candidate < bar:
        return {**outcome, "decision": "kept",
                "reason": f"candidate {candidate:.1f} ms is not below {bar:.1f} ms"}
    endpoint = clients.sagemaker.describe_endpoint(EndpointName=config.endpoint_name)
    if endpoint["EndpointStatus"] != "InService":
        return {**outcome, "decision": "kept",
                "reason": f"the endpoint is {endpoint['EndpointStatus']}, not InService"}
    served_model.promote(clients.sagemaker, config.endpoint_name, job["TrainingJobName"],
                         attempt["image"], job["ModelArtifacts"]["S3ModelArtifacts"],
                         config.sagemaker_role_arn, tags=config.tags)
    return {**outcome, "decision": "promoted",
            "reason": f"candidate {candidate:.1f} ms < {bar:.1f} ms"}


def judge(request: JobStateChange, config: Settings, clients: Clients, now: datetime) -> dict:
    if request.status not in retraining_events.TERMINAL_STATUSES:
        return {"outcome": "ignored", "job": request.job_name, "status": request.status}
    store = Store(clients.table, config.participant)
    key = attempt_key(request.job_name)
    attempt = store.attempt(key)
    if attempt is None or not store.claim(key, "training", "judging"):
        # Not started by the loop, or a redelivered event: already judged.
        return {"outcome": "ignored", "job": request.job_name, "status": request.status,
                "reason": "no attempt awaits this job"}
    try:
        job = clients.sagemaker.describe_training_job(TrainingJobName=request.job_name)
        result = _decide(config, clients, attempt, job)
    except (ClientError, BotoCoreError) as error:
        result = {"decision": "error", "reason": _error_text(error)}
    duration = int(now.timestamp()) - attempt["started_epoch"]
    store.finish(key, {**attempt, **result, "status": "done", "finished": now.isoformat(),
                       "duration_s": duration})
    store.release(request.job_name)
    return {"outcome": result["decision"], "job": request.job_name, "duration_s": duration,
            **{k: v for k, v in result.items() if k != "decision"}}


# --- the participant's commands -------------------------------------------------------

def command(request: Command, config: Settings, clients: Clients) -> dict:
    store = Store(clients.table, config.participant)
    if request.action in ("enable", "disable"):
        store.update_settings({"enabled": request.action == "enable"})
    elif request.action == "configure":
        store.update_settings(request.settings)
    answer = {"outcome": request.action, "settings": effective(config, store.settings())}
    if request.action == "status":
        answer.update(running=(store.lock() or {}).get("attempt"), attempts=store.attempts())
    return answer


# --- the function ---------------------------------------------------------------------

def metrics_record(config: Settings, result: dict, timestamp_ms: int) -> dict:
    """The judge's log line: an Embedded Metric Format record for the dashboard."""
    values = {"RetrainingAttempts": 1,
              "RetrainingPromotions": int(result["outcome"] == "promoted"),
              "RetrainingSeconds": result.get("duration_s", 0)}
    units = {"RetrainingAttempts": "Count", "RetrainingPromotions": "Count",
             "RetrainingSeconds": "Seconds"}
    for name, key in (("CandidateRMSE", "candidate_rmse"), ("CurrentRMSE", "current_rmse")):
        if result.get(key) is not None:
            values[name], units[name] = result[key], "Milliseconds"
    return {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
        "Namespace": f"{scoring.NAMESPACE}/{config.event}",
        "Dimensions": [[scoring.DIMENSION]],
        "Metrics": [{"Name": n, "Unit": units[n]} for n in values]}]},
        scoring.DIMENSION: config.participant, **values}


def handle(event: Any, env: Mapping[str, str], clients: Clients | None = None,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC),
           timer: Callable[[], float] = time.perf_counter) -> dict:
    """One event for the participant whose function's environment is `env`."""
    started = timer()
    config = Settings.checked(env)
    now = clock()
    try:
        request = retraining_events.parse(event, config.who)
    except BadEvent as error:
        log("retraining", participant=config.participant, outcome="bad_event",
            problems=error.problems)
        return {"ok": False, "outcome": "bad_event", "error": str(error)}
    clients = clients or default_clients(config)
    if isinstance(request, Trigger):
        result = trigger(request, config, clients, now)
    elif isinstance(request, JobStateChange):
        result = judge(request, config, clients, now)
    else:
        result = command(request, config, clients)
    fields = {k: v for k, v in result.items() if k not in ("attempts", "settings")}
    line = {"participant": config.participant, **fields,
            "latency_ms": round(1000 * (timer() - started), 1)}
    if isinstance(request, JobStateChange) and result["outcome"] != "ignored":
        line.update(metrics_record(config, result, int(now.timestamp() * 1000)))
    log("retraining", **line)  # one line per event; the judge's is also the metric record
    return {"ok": True, **result}


def handler(event: dict, context: Any | None = None) -> dict:
    return handle(event, os.environ)
