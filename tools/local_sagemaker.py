"""SageMaker training and endpoint updates, emulated on top of moto.

moto records training jobs but never trains: every job "completes" at once with a
fake metric. With `emulate_sagemaker()` active, a training job of a built-in algorithm
(k-NN, Linear Learner, XGBoost) really trains, with `training.local` and the job's
hyperparameters, on the CSV channels it names in moto's S3. It then reports the metric
the real algorithm reports (`test:mse` for k-NN and Linear Learner, `validation:rmse`
for XGBoost) and writes `model.tar.gz` where SageMaker would. Bad hyperparameters fail
the job with a reason, as SageMaker does. It also adds UpdateEndpoint, which moto lacks.

The notebooks' tests and the local rehearsal use it; it only ever touches moto.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from moto.s3.models import s3_backends
from moto.sagemaker import models as sagemaker_models
from moto.sagemaker.responses import SageMakerResponse

from training import baseline, local
from training.hyperparameters import RANGES

# The metric each built-in algorithm reports for the channel it evaluates on.
FINAL_METRIC = {"xgboost": ("validation", "validation:rmse"),
                "knn": ("test", "test:mse"), "linear-learner": ("test", "test:mse")}


def algorithm_of(image: str) -> str:
    """'.../sagemaker-xgboost:1.7-1' -> 'xgboost', '.../knn:1' -> 'knn'."""
    repository = image.rsplit("/", 1)[-1].split(":")[0]
    name = repository.removeprefix("sagemaker-")
    if name not in FINAL_METRIC:
        raise ValueError(f"not a workshop algorithm image: {image}")
    return name


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
    keys = sorted(k for k in bucket.keys.keys() if k.startswith(prefix) and not k.endswith("/"))
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


def train_job(job: Any, account_id: str) -> None:
    """Run one moto training job for real; fail it the way SageMaker would."""
    try:
        algorithm = algorithm_of(job.algorithm_specification["TrainingImage"])
        channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                    for c in job.input_data_config}
        evaluation_channel, metric = FINAL_METRIC[algorithm]
        if "train" not in channels or evaluation_channel not in channels:
            raise ValueError(f"{algorithm} needs the channels 'train' and '{evaluation_channel}'")
        model = local.train(algorithm, typed_hyperparameters(algorithm, job.hyper_parameters),
                            _read_channel(account_id, channels["train"]),
                            _read_channel(account_id, channels[evaluation_channel]))
    except ValueError as error:
        job.training_job_status = job.secondary_status = "Failed"
        job.failure_reason = f"ClientError: {error}"
        job.final_metric_data_list = []
        return
    value = model.test_rmse ** 2 if metric.endswith(":mse") else model.test_rmse
    job.final_metric_data_list = [{"MetricName": metric, "Value": value,
                                   "Timestamp": job.creation_time}]
    output = urlsplit(job.model_artifacts["S3ModelArtifacts"])
    _s3(account_id).put_object(output.netloc, output.path.lstrip("/"), _artifact(model))


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
