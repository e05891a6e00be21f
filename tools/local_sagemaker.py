"""SageMaker training and endpoint updates, emulated on top of moto.

moto records training jobs but never trains: every job "completes" at once with a
fake metric. With `emulate_sagemaker()` active, a training job of a built-in algorithm
(k-NN, Linear Learner, XGBoost) really trains, with `training.local` and the job's
hyperparameters, on the CSV channels it names in moto's S3. It then reports the metric
the real algorithm reports (`test:mse` for k-NN and Linear Learner, `validation:rmse`
for XGBoost) and writes `model.tar.gz` where SageMaker would. Bad hyperparameters fail
the job with a reason, as SageMaker does. It also adds UpdateEndpoint, which moto lacks.

`EmulatedRuntime` answers InvokeEndpoint (one row or a batch of CSV rows) for moto's
endpoints with the model their configuration points at right now, loaded from the
artifact in moto's S3, in each algorithm's own output format.

The notebooks' tests and the local rehearsal use it; it only ever touches moto.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from moto.s3.models import s3_backends
from moto.sagemaker import models as sagemaker_models
from moto.sagemaker.responses import SageMakerResponse

from handlers.served_model import EVALUATION, algorithm_of
from training import baseline, local
from training.hyperparameters import RANGES

# The metric each built-in algorithm reports for the channel it evaluates on, and the
# algorithm an image runs: the same tables the retraining handlers use.
FINAL_METRIC = EVALUATION


def typed_hyperparameters(algorithm: str, raw: dict[str, str]) -> dict[str, Any]:
    """SageMaker passes hyperparameters as strings; keep the workshop's, typed."""
    typed = {}
    for name, (kind, _) in RANGES[algorithm].items():
        if name in raw:
            value = raw[name]
            typed[name] = value if kind is str else kind(float(value)) if kind is int else float(value)
    return typed


def _s3(account_id: str):
    return s3_backends[account_id]["global"]


def _read_channel(account_id: str, uri: str) -> tuple[np.ndarray, np.ndarray]:
    """Every object under an S3 URI (a key or a prefix), as one label-first CSV table."""
    parts = urlsplit(uri)
    bucket = _s3(account_id).get_bucket(parts.netloc)
    prefix = parts.path.lstrip("/")
    keys = sorted(k for k in bucket.keys if k.startswith(prefix) and not k.endswith("/"))
    if not keys:
        raise ValueError(f"no data at {uri}")
    text = b"".join(bucket.keys[k].value for k in keys)
    values = pd.read_csv(io.BytesIO(text), header=None, dtype=np.float64).to_numpy()
    return values[:, 1:], values[:, 0]


def _artifact(model: local.TrainedModel) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / baseline.ARCHIVE
        if model.booster is not None:  # what SageMaker's XGBoost container loads
            return baseline.package(model.booster, path).read_bytes()
        data = pickle.dumps(model.predict)
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo("model.pkl")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        return path.read_bytes()


# Faults a test or the rehearsal can inject into jobs whose names start with a prefix:
# "fail" fails the job as a crashed algorithm would; "bad-model" trains on shuffled
# labels, so the job completes with a genuinely worse model (and reports its metric).
JOB_FAULTS: dict[str, str] = {}


def _fault(job_name: str) -> str | None:
    return next((f for prefix, f in JOB_FAULTS.items() if job_name.startswith(prefix)), None)


def train_job(job: Any, account_id: str) -> None:
    """Run one moto training job for real; fail it the way SageMaker would."""
    fault = _fault(job.training_job_name)
    try:
        if fault == "fail":
            raise ValueError("AlgorithmError: the algorithm crashed (injected fault)")
        algorithm = algorithm_of(job.algorithm_specification["TrainingImage"])
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                    for c in job.input_data_config}
        evaluation_channel, metric = FINAL_METRIC[algorithm]
        if "train" not in channels or evaluation_channel not in channels:
            raise ValueError(f"{algorithm} needs the channels 'train' and '{evaluation_channel}'")
        features, label = _read_channel(account_id, channels["train"])
        if fault == "bad-model":
            label = np.random.default_rng(0).permutation(label)
        model = local.train(algorithm, typed_hyperparameters(algorithm, job.hyper_parameters),
                            (features, label),
                            _read_channel(account_id, channels[evaluation_channel]))
    except ValueError as error:
        job.training_job_status = job.secondary_status = "Failed"
        job.failure_reason = error.args[0] if fault == "fail" else f"ClientError: {error}"
        job.final_metric_data_list = []
        return
    value = model.test_rmse ** 2 if metric.endswith(":mse") else model.test_rmse
    job.final_metric_data_list = [{"MetricName": metric, "Value": value,
                                   "Timestamp": job.creation_time}]
    output = urlsplit(job.model_artifacts["S3ModelArtifacts"])
    _s3(account_id).put_object(output.netloc, output.path.lstrip("/"), _artifact(model))


def load_predictor(artifact: bytes):
    """The predictor in a model.tar.gz this emulation (or the baseline build) wrote."""
    import xgboost
    with tarfile.open(fileobj=io.BytesIO(artifact)) as archive:
        names = archive.getnames()
        if baseline.MODEL_FILE in names:
            booster = xgboost.Booster()
            booster.load_model(bytearray(archive.extractfile(baseline.MODEL_FILE).read()))
            return local.XGBoostPredictor(booster)
        return pickle.loads(archive.extractfile("model.pkl").read())


def answer_batch(algorithm: str, values: list[float]) -> tuple[str, bytes]:
    """Predictions as the built-in algorithm returns them for text/csv input."""
    if algorithm == "xgboost":
        return "text/csv", "".join(f"{v}\n" for v in values).encode()
    key = "predicted_label" if algorithm == "knn" else "score"
    return "application/json", json.dumps({"predictions": [{key: v} for v in values]}).encode()


class EmulatedRuntime:
    """A sagemaker-runtime client for moto's endpoints (inside mock_aws or its server)."""

    def __init__(self, account_id: str = "123456789012", region: str = "us-east-1"):
        self.account_id, self.region = account_id, region
        self._predictors: dict[str, Any] = {}
        self.calls: list[tuple[str, int]] = []  # (endpoint, rows) per invocation

    def _serving(self, endpoint_name: str) -> tuple[str, Any]:
        from botocore.exceptions import ClientError
        backend = sagemaker_models.sagemaker_backends[self.account_id][self.region]
        if endpoint_name not in backend.endpoints:
            raise ClientError({"Error": {"Code": "ValidationError", "Message":
                               f"Endpoint {endpoint_name} of account {self.account_id} "
                               "not found."}}, "InvokeEndpoint")
        config = backend.endpoint_configs[backend.endpoints[endpoint_name].endpoint_config_name]
        model = backend._models[config.production_variants[0]["ModelName"]]
        url = model.primary_container["ModelDataUrl"]
        if url not in self._predictors:
            parts = urlsplit(url)
            data = _s3(self.account_id).get_object(parts.netloc, parts.path.lstrip("/")).value
            self._predictors[url] = load_predictor(data)
        return algorithm_of(model.primary_container["Image"]), self._predictors[url]

    def invoke_endpoint(self, EndpointName: str, Body: Any, ContentType: str = "text/csv",
                        **_: Any) -> dict:
        algorithm, predict = self._serving(EndpointName)
        text = Body.decode() if isinstance(Body, bytes) else str(Body)
        rows = np.array([[float(v) for v in line.split(",")] for line in text.splitlines()
                         if line.strip()])
        self.calls.append((EndpointName, len(rows)))
        content_type, body = answer_batch(algorithm, [float(v) for v in predict(rows)])
        return {"ContentType": content_type, "Body": io.BytesIO(body)}


def _update_endpoint(backend, endpoint_name: str, endpoint_config_name: str) -> str:
    endpoint = backend.describe_endpoint(endpoint_name)  # raises if it does not exist
    backend.describe_endpoint_config(endpoint_config_name)
    stored = backend.endpoints[endpoint_name]
    stored.endpoint_config_name = endpoint_config_name
    return endpoint["EndpointArn"]


def _update_endpoint_response(self) -> Any:
    from moto.core.responses import ActionResult
    arn = _update_endpoint(self.sagemaker_backend, self._get_param("EndpointName"),
                           self._get_param("EndpointConfigName"))
    return ActionResult({"EndpointArn": arn})


@contextlib.contextmanager
def emulate_sagemaker() -> Iterator[None]:
    original_init = sagemaker_models.FakeTrainingJob.__init__

    def init(job, account_id, region_name, *args, **kwargs):
        original_init(job, account_id, region_name, *args, **kwargs)
        train_job(job, account_id)

    sagemaker_models.FakeTrainingJob.__init__ = init
    had_update = hasattr(SageMakerResponse, "update_endpoint")
    SageMakerResponse.update_endpoint = _update_endpoint_response
    try:
        yield
    finally:
        sagemaker_models.FakeTrainingJob.__init__ = original_init
        if not had_update:
            del SageMakerResponse.update_endpoint
