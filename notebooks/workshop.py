"""Helpers for the workshop notebooks: your settings, your data, training, and promotion.

Everything here acts on *your* resources only, as named in settings.json, which your
notebook instance wrote when it was created (no guessing "the bucket that starts
with ..."). Training uses SageMaker's built-in algorithms through the SageMaker Python
SDK 3.x; promotion points your existing endpoint at your model.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3

try:  # on the notebook instance the lifecycle puts hyperparameters.py next to this file
    import hyperparameters as ranges  # the workshop's hyperparameter ranges
except ModuleNotFoundError as missing:  # in the repository: notebooks.workshop, from the root
    if missing.name != "hyperparameters":
        raise
    from training import hyperparameters as ranges

try:  # ...and promotion.py: handlers/served_model.py, the retraining loop's own promotion
    import promotion
except ModuleNotFoundError as missing:
    if missing.name != "promotion":
        raise
    from handlers import served_model as promotion

HERE = Path(__file__).resolve().parent
SETTINGS_FILE = HERE / "settings.json"
COLUMNS = ["duration", "fc_avg", "item_length", "item_width", "item_height", "item_quantity",
           "item_weight", "bin_location", "bin_width", "bin_height", "bin_depth",
           "bin_fullness", "bin_clutter"]
IMAGES = {"knn": ("knn", "1"), "linear-learner": ("linear-learner", "1"),
          "xgboost": ("xgboost", "1.7-1")}
JOB_CODES = {"knn": "knn", "linear-learner": "ll", "xgboost": "xgb"}
# The channel each algorithm evaluates on, and the final metric it reports there.
EVALUATION = {"knn": ("test", "test:mse"), "linear-learner": ("test", "test:mse"),
              "xgboost": ("validation", "validation:rmse")}
FIXED_HYPERPARAMETERS = {"xgboost": {"objective": "reg:squarederror"}}
TRAINING_TIMEOUT_SECONDS = 3600


SDK_VERSION = "3.27.0"


SDK_READY = HERE / ".sdk-ready"  # written by the lifecycle's background install


def ensure_sdk(ready_file: Path = SDK_READY) -> None:
    """Check that this kernel runs the SageMaker SDK the notebooks are written for.

    The notebook instance installs it in the background when it starts (on-start.sh); a
    kernel started before that finished has the old SDK loaded, and upgrading it inside a
    running kernel leaves it half-upgraded, so this only tells you what to do.
    """
    import importlib.metadata
    try:
        installed = importlib.metadata.version("sagemaker")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed == SDK_VERSION:
        print(f"SageMaker Python SDK {SDK_VERSION}")
        return
    if not ready_file.exists():
        raise RuntimeError(
            f"The SageMaker SDK {SDK_VERSION} is still being installed on this notebook "
            "instance (a few minutes after it starts). Wait a minute, then choose Kernel > "
            "Restart Kernel and run this cell again.")
    raise RuntimeError(
        f"This kernel has SageMaker SDK {installed}, but {SDK_VERSION} is now installed: "
        "choose Kernel > Restart Kernel and run this cell again.")


def load_settings(path: Path = SETTINGS_FILE) -> dict:
    settings = json.loads(Path(path).read_text())
    print(f"Participant {settings['participant']}: bucket {settings['bucket']}, "
          f"endpoint {settings['endpoint_name']}")
    return settings


def session(settings: dict) -> boto3.Session:
    return boto3.Session(region_name=settings["region"])


def dataset_uri(settings: dict, name: str) -> str:
    return f"s3://{settings['shared_bucket']}/{settings['dataset_prefix']}{name}"


def check_hyperparameters(algorithm: str, values: dict) -> dict:
    """Your values, checked against the workshop's ranges, with a hint for each blank."""
    blanks = [f"{name}: {kind.__name__} {'in ' if isinstance(allowed[0], (int, float)) else 'one of '}"
              f"{allowed}" for name, (kind, allowed) in ranges.RANGES[algorithm].items()
              if values.get(name) is None]
    if blanks:
        raise ValueError("fill in the hyperparameters cell: " + "; ".join(blanks))
    return ranges.validate(algorithm, values)


def _collected_keys(settings: dict, s3) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings["bucket"],
                                                              Prefix=settings["samples_prefix"]):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Size"] > 0]
    return keys


def collected_samples(settings: dict) -> int:
    """How many samples your Lab 1 pipeline has delivered to your bucket so far."""
    s3 = session(settings).client("s3")
    return sum(s3.get_object(Bucket=settings["bucket"], Key=key)["Body"].read().count(b"\n")
               for key in _collected_keys(settings, s3))


def training_data(settings: dict, include_collected: bool = False) -> str:
    """The train channel: the pre-collected set, plus your own samples if you ask for them.

    With your samples, both are copied (server side) under one prefix of your bucket,
    because a SageMaker channel reads one S3 location.
    """
    if not include_collected:
        return dataset_uri(settings, "TrainSamples.csv")
    s3 = session(settings).client("s3")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    prefix = f"training-input/{stamp}/"
    s3.copy_object(Bucket=settings["bucket"], Key=prefix + "TrainSamples.csv",
                   CopySource={"Bucket": settings["shared_bucket"],
                               "Key": settings["dataset_prefix"] + "TrainSamples.csv"})
    collected = _collected_keys(settings, s3)
    for number, key in enumerate(collected):
        s3.copy_object(Bucket=settings["bucket"], Key=f"{prefix}collected-{number:05d}.csv",
                       CopySource={"Bucket": settings["bucket"], "Key": key})
    print(f"Training on the pre-collected set plus {len(collected)} file(s) of your samples")
    return f"s3://{settings['bucket']}/{prefix}"


def load_sample(settings: dict, max_bytes: int = 8_000_000):
    """The first rows of the pre-collected training set, as a pandas DataFrame."""
    import pandas as pd
    s3 = session(settings).client("s3")
    body = s3.get_object(Bucket=settings["shared_bucket"],
                         Key=settings["dataset_prefix"] + "TrainSamples.csv",
                         Range=f"bytes=0-{max_bytes - 1}")["Body"].read()
    complete = body[: body.rfind(b"\n") + 1]  # drop a row cut in half
    return pd.read_csv(io.BytesIO(complete), header=None, names=COLUMNS)


@dataclass
class TrainingResult:
    algorithm: str
    job_name: str
    rmse_ms: float
    model_data: str
    image: str


def image_uri(algorithm: str, region: str) -> str:
    from sagemaker.core import image_uris
    framework, version = IMAGES[algorithm]
    return image_uris.retrieve(framework, region, version=version)


def rmse_from(algorithm: str, metrics: dict[str, float], job_name: str) -> float:
    _, metric = EVALUATION[algorithm]
    if metric not in metrics:
        raise RuntimeError(f"training job {job_name} reported no {metric} "
                           f"(it reported {sorted(metrics)}); see its logs in CloudWatch")
    value = metrics[metric]
    return math.sqrt(value) if metric.endswith(":mse") else value


def owned_tags(settings: dict) -> list[dict]:
    """The tags everything you create must carry: your role may create nothing without them."""
    return [{"Key": "Participant", "Value": settings["participant"]},
            {"Key": "Event", "Value": settings["event"]}]


def check_instance_type(settings: dict, instance_type: str, use: str) -> None:
    """Refuse, before any call to SageMaker, a type this event does not allow for `use`."""
    allowed = settings[f"{use}_instance_types"].split(",")
    if instance_type not in allowed:
        raise ValueError(f"instance_type {instance_type!r} is not allowed here for {use}; "
                         f"use one of {allowed} (your role may use no other)")


def train(algorithm: str, values: dict, settings: dict, include_collected: bool = False,
          instance_type: str = "ml.m5.xlarge", logs: bool = True) -> TrainingResult:
    """Train one built-in algorithm on your data and report its RMSE in ms."""
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, StoppingCondition
    from sagemaker.train import ModelTrainer

    hp = check_hyperparameters(algorithm, values)
    check_instance_type(settings, instance_type, "training")
    refuse_too_many_jobs(settings)
    image = image_uri(algorithm, settings["region"])
    evaluation_channel, _ = EVALUATION[algorithm]
    trainer = ModelTrainer(
        training_image=image,
        role=settings["role_arn"],
        # name_prefix is <event>-<you>--, the only names your role may create
        base_job_name=f"{settings['name_prefix']}{JOB_CODES[algorithm]}",
        compute=Compute(instance_type=instance_type, instance_count=1, volume_size_in_gb=10),
        hyperparameters={**hp, **FIXED_HYPERPARAMETERS.get(algorithm, {})},
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{settings['bucket']}/training-output/"),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=TRAINING_TIMEOUT_SECONDS),
        # the SDK's Tag model is lower-case (key, value); boto3's is Key, Value
        tags=[{"key": t["Key"], "value": t["Value"]} for t in owned_tags(settings)],
        sagemaker_session=Session(boto_session=session(settings),
                                  default_bucket=settings["bucket"]),
    )
    try:
        trainer.train(input_data_config=[
            InputData(channel_name="train", data_source=training_data(settings, include_collected),
                      content_type="text/csv"),
            InputData(channel_name=evaluation_channel,
                      data_source=dataset_uri(settings, "TestSamples.csv"),
                      content_type="text/csv"),
        ], wait=True, logs=logs)
    except Exception as error:
        if _error_code(error) == "ResourceLimitExceeded":
            allowed = settings["training_instance_types"].split(",")
            raise RuntimeError(_capacity_message(instance_type, allowed)) from None
        raise
    job = trainer._latest_training_job
    job.refresh()
    if job.training_job_status != "Completed":
        raise RuntimeError(f"training job {job.training_job_name} {job.training_job_status}: "
                           f"{job.failure_reason}")
    metrics = {m.metric_name: m.value for m in job.final_metric_data_list or []}
    result = TrainingResult(algorithm, job.training_job_name,
                            rmse_from(algorithm, metrics, job.training_job_name),
                            job.model_artifacts.s3_model_artifacts, image)
    print(f"{algorithm}: test RMSE {result.rmse_ms:,.1f} ms (job {result.job_name})")
    return result


TRAINING_JOB_NAME = r"^{prefix}-({codes})-"  # the SDK: <base job name>-<timestamp>


def _error_code(error: BaseException) -> str | None:
    """The AWS error code of a ClientError, also when the SDK wrapped it."""
    while error is not None:
        code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
        if code:
            return code
        error = error.__cause__ or error.__context__
    return None


def _capacity_message(instance_type: str, allowed: list[str]) -> str:
    others = [t for t in allowed if t != instance_type]
    return (f"SageMaker has no more {instance_type} training capacity in this account right "
            "now (ResourceLimitExceeded): everyone is training at once. Wait for one of your "
            "running jobs to finish and run this cell again"
            + (f", or set TRAINING_INSTANCE_TYPE to another allowed type: {', '.join(others)}"
               if others else "")
            + ". If it keeps happening, tell the organizer.")


def running_jobs(settings: dict, sagemaker=None) -> list[str]:
    """Your training jobs still in progress (by exact name shape: not a longer id's)."""
    import re
    sagemaker = sagemaker or session(settings).client("sagemaker")
    mine = re.compile(TRAINING_JOB_NAME.format(prefix=re.escape(settings["name_prefix"]),
                                               codes="|".join(JOB_CODES.values())))
    found, token = [], None
    while True:
        page = sagemaker.list_training_jobs(
            NameContains=settings["name_prefix"], StatusEquals="InProgress", MaxResults=100,
            **({"NextToken": token} if token else {}))
        found += [j["TrainingJobName"] for j in page["TrainingJobSummaries"]
                  if mine.match(j["TrainingJobName"])]
        token = page.get("NextToken")
        if not token:
            return found


def refuse_too_many_jobs(settings: dict, sagemaker=None) -> None:
    """At most `max_training_jobs` of your jobs at once: everyone shares the account's quota."""
    limit = int(settings.get("max_training_jobs", 1))
    try:
        running = running_jobs(settings, sagemaker)
    except Exception as error:
        if _error_code(error) not in ("AccessDenied", "AccessDeniedException"):
            raise
        # ListTrainingJobs has no resource-level permission; a role without it cannot count.
        print("note: cannot count your running training jobs (your role may not list them); "
              "SageMaker's own limits still apply")
        return
    if len(running) >= limit:
        raise RuntimeError(
            f"You already have {len(running)} training job(s) running ({', '.join(running)}); "
            f"the limit here is {limit} at a time, so everyone gets a turn. Wait for one to "
            "finish (or stop it: workshop.stop_job(name, settings)), then run this cell again.")


def stop_job(name: str, settings: dict) -> None:
    session(settings).client("sagemaker").stop_training_job(TrainingJobName=name)
    print(f"stopping {name}")


# --- Lab 3: your live inference URL, as the FC's edge calls it ---------------------------

# How the edge scores an answer (handlers/edge_traffic.classify with handlers/scoring.http_outcome;
# tests/test_workshop_lab3.py keeps the two in step): what each outcome means.
EDGE_OUTCOMES = {
    "ok": "200 with a finite duration_ms: scored by its error",
    "no_api": "403 or 404: no stage at your URL (Lab 3 not deployed, or a wrong path)",
    "throttled": "429: your stage's throttle refused the request",
    "model_error": "502: your endpoint answered with an error (the model failed)",
    "endpoint_timeout": "504: your endpoint did not answer in time",
    "no_endpoint": "503: your endpoint is not in service (creating, updating, deleted)",
    "endpoint_busy": "503 naming endpoint_busy: SageMaker throttled your endpoint",
    "http_4xx": "another 400-499: the request was refused (bad features)",
    "http_5xx": "another 500-599: your function failed",
    "timeout": "no answer within the edge's timeout",
    "unreachable": "the URL could not be reached at all",
    "bad_answer": "200 without a finite duration_ms, or another status",
}
_HTTP_DETAIL = {403: "no_api", 404: "no_api", 429: "throttled", 502: "model_error",
                504: "endpoint_timeout"}


def edge_outcome(status: int, payload: dict) -> str:
    """The outcome class the edge would score this answer as."""
    if status >= 400:
        if status == 503:
            named = payload.get("outcome") if isinstance(payload, dict) else None
            return "endpoint_busy" if named == "endpoint_busy" else "no_endpoint"
        return _HTTP_DETAIL.get(status, "http_4xx" if status < 500 else "http_5xx")
    try:
        value = float(payload["duration_ms"])
    except (KeyError, TypeError, ValueError):
        return "bad_answer"
    return "ok" if status == 200 and math.isfinite(value) else "bad_answer"


def call_live_inference(settings: dict, features: list[float], timeout: float = 5.0,
                        opener=None) -> tuple[int, dict]:
    """Call your own live inference URL the way the FC's edge does: (status, JSON body)."""
    import urllib.error
    import urllib.parse
    import urllib.request
    query = urllib.parse.urlencode({"features": ",".join(repr(float(v)) for v in features)})
    open_url = opener or urllib.request.urlopen
    try:
        with open_url(f"{settings['inference_url']}?{query}", timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {"unreadable": body[:200].decode("utf-8", "replace")}
    return status, payload


def promote(result: TrainingResult, settings: dict, wait: bool = True) -> str:
    """Serve this model from your existing endpoint (no new endpoint is created).

    A model and an endpoint configuration named after the training job are created,
    sized like the endpoint's current configuration, and the endpoint is updated to it.
    """
    sagemaker = session(settings).client("sagemaker")
    endpoint = settings["endpoint_name"]
    current = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=current)["ProductionVariants"]
    if "InstanceType" in variant:
        check_instance_type(settings, variant["InstanceType"], "hosting")
    # The same code the retraining loop promotes with (one copy: handlers/served_model.py).
    promotion.promote(sagemaker, endpoint, result.job_name, result.image, result.model_data,
                      settings["role_arn"], tags=owned_tags(settings))
    print(f"{endpoint} is switching to {result.algorithm} ({result.job_name})")
    if wait:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 15, "MaxAttempts": 80})
        print(f"{endpoint} now serves {result.job_name}")
    return result.job_name


# --- Automated retraining (the fifth notebook) -------------------------------------------

def _retraining(settings: dict, request: dict) -> dict:
    """Ask your retraining function (the only way in: it checks everything you send)."""
    function = settings.get("retraining_function")
    if not function:
        raise RuntimeError("the automated retraining loop is not deployed for this event; "
                           "ask the organizer")
    answer = session(settings).client("lambda").invoke(
        FunctionName=function,
        Payload=json.dumps({"participant": settings["participant"], **request}).encode())
    result = json.loads(answer["Payload"].read())
    if answer.get("FunctionError"):
        raise RuntimeError(f"the retraining function failed: {result.get('errorMessage')}")
    if not result.get("ok"):
        raise ValueError(result["error"])
    return result


def retraining_switch(settings: dict, on: bool) -> dict:
    """Turn your retraining loop on or off; returns your settings."""
    result = _retraining(settings, {"action": "enable" if on else "disable"})
    print(f"Automated retraining is {'ON' if result['settings']['enabled'] else 'OFF'}")
    return result["settings"]


def retraining_configure(settings: dict, **changes) -> dict:
    """Change margin_percent (0-50), window_minutes (5-1440) or include_precollected."""
    result = _retraining(settings, {"action": "configure", **changes})
    print("Retraining settings: " + ", ".join(f"{k}={v}" for k, v in result["settings"].items()))
    return result["settings"]


def retraining_start(settings: dict) -> dict:
    """Start one retraining attempt now, whether the loop is on or not."""
    result = _retraining(settings, {"action": "start"})
    if result["outcome"] == "training":
        print(f"Training job {result['job']} started on {result['train_rows']:,} recent "
              f"samples; {result['holdout_rows']:,} newer ones are held out to judge it")
    elif result["outcome"] == "busy":
        print(f"An attempt is already running ({result['running']}); wait for its decision")
    else:
        print(f"No attempt: {result.get('reason', result['outcome'])}")
    return result


def retraining_attempts(settings: dict):
    """Your loop's settings and its latest attempts with their decisions, as a table."""
    import pandas as pd
    result = _retraining(settings, {"action": "status"})
    state = "ON" if result["settings"]["enabled"] else "OFF"
    running = f"; running: {result['running']}" if result.get("running") else ""
    print(f"Automated retraining is {state} (margin {result['settings']['margin_percent']}%, "
          f"window {result['settings']['window_minutes']} min){running}")
    columns = ["started", "trigger", "job", "algorithm", "train_rows", "candidate_rmse",
               "current_rmse", "decision", "reason", "duration_s"]
    return pd.DataFrame([{c: a.get(c) for c in columns} for a in result["attempts"]],
                        columns=columns)
