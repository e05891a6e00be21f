"""A participant's endpoint: what it serves, how well, and how a new model is promoted.

What it serves: DescribeEndpoint -> its endpoint configuration -> the model -> the
model's `ModelDataUrl`. SageMaker writes a training job's artifact to
`<S3OutputPath>/<job name>/output/model.tar.gz`, so the URL names the job; the job is
accepted only if DescribeTrainingJob reports exactly that artifact. This works for
models promoted by the notebooks and by the loop alike, needs no tag or naming habit,
and cannot be fooled by a model name. The baseline model was trained outside SageMaker:
it is recognised by its URL, and its hyperparameters come from the event's config.

Promotion is the notebooks' mechanism: a model and an endpoint configuration named
after the training job, sized like the current configuration, then UpdateEndpoint,
which SageMaker applies without downtime (the old variant serves until the new one is
in service).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

# The metric each built-in algorithm reports on its evaluation channel.
EVALUATION = {"xgboost": ("validation", "validation:rmse"),
              "knn": ("test", "test:mse"), "linear-learner": ("test", "test:mse")}
FIXED_HYPERPARAMETERS = {"xgboost": {"objective": "reg:squarederror"}}
SIZING = ("InstanceType", "InitialInstanceCount", "ServerlessConfig", "InitialVariantWeight")
BATCH_ROWS = 500  # about 30 KB of CSV per call, far below InvokeEndpoint's 6 MB


class NotRetrainable(ValueError):
    """The endpoint serves something the loop cannot reproduce; the message says why."""


@dataclass(frozen=True)
class Served:
    endpoint_status: str
    config_name: str
    model_name: str
    image: str
    model_data: str
    algorithm: str
    hyperparameters: dict = field(default_factory=dict)
    training_job: str | None = None  # None: the baseline
    instance_type: str | None = None  # what its job trained on


def algorithm_of(image: str) -> str:
    """'.../sagemaker-xgboost:1.7-1' -> 'xgboost', '.../knn:1' -> 'knn'."""
    repository = image.rsplit("/", 1)[-1].split(":")[0]
    name = repository.removeprefix("sagemaker-")
    if name not in EVALUATION:
        raise NotRetrainable(f"not a workshop algorithm image: {image[:120]}")
    return name


def job_of(model_data: str) -> str | None:
    parts = model_data.split("/")
    if len(parts) >= 6 and parts[-2:] == ["output", "model.tar.gz"]:
        return parts[-3]
    return None


def current(sagemaker, endpoint: str, baseline_url: str,
            baseline_hyperparameters: dict) -> Served:
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = described["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    if len(variants) != 1:
        raise NotRetrainable(f"{config} has {len(variants)} variants; the loop handles one")
    model_name = variants[0]["ModelName"]
    container = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]
    image, model_data = container["Image"], container.get("ModelDataUrl", "")
    algorithm = algorithm_of(image)
    common = {"endpoint_status": described["EndpointStatus"], "config_name": config,
                  "model_name": model_name, "image": image, "model_data": model_data,
                  "algorithm": algorithm}
    if model_data == baseline_url:
        return Served(**common, hyperparameters=dict(baseline_hyperparameters))
    job_name = job_of(model_data)
    if job_name is None:
        raise NotRetrainable(f"model {model_name} was not trained by a SageMaker training "
                             f"job (its artifact is {model_data[:120]})")
    try:
        job = sagemaker.describe_training_job(TrainingJobName=job_name)
    except ClientError as error:
        raise NotRetrainable(f"cannot read training job {job_name} of model {model_name}: "
                             f"{error.response['Error'].get('Code')}") from None
    if job.get("ModelArtifacts", {}).get("S3ModelArtifacts") != model_data:
        raise NotRetrainable(f"training job {job_name} did not produce {model_data[:120]}")
    return Served(**common, hyperparameters=dict(job.get("HyperParameters", {})),
                  training_job=job_name,
                  instance_type=job.get("ResourceConfig", {}).get("InstanceType"))


def candidate_rmse(algorithm: str, metrics: list[dict]) -> float | None:
    """The RMSE (ms) a finished job reports on its evaluation channel, or None."""
    _, name = EVALUATION[algorithm]
    for metric in metrics:
        if metric.get("MetricName") == name:
            value = float(metric["Value"])
            return math.sqrt(value) if name.endswith(":mse") else value
    return None


def predictions_from(body: bytes, expected: int) -> list[float]:
    """A batch of predictions from any built-in algorithm's answer, in order."""
    text = body.decode("utf-8").strip()
    if text.startswith(("{", "[")):
        answer = json.loads(text)
        items = answer["predictions"] if isinstance(answer, dict) else answer
        values = [item.get("score", item.get("predicted_label")) if isinstance(item, dict)
                  else item for item in items]
    else:
        values = [line.split(",")[0] for line in text.splitlines()]
    if len(values) != expected:
        raise ValueError(f"expected {expected} predictions, got {len(values)}")
    numbers = [float(v) for v in values]
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError("a prediction is not finite")
    return numbers


def live_rmse(runtime, endpoint: str, features: list[str], truth: list[float],
              batch: int = BATCH_ROWS) -> float:
    """The RMSE of what the endpoint serves now on the given rows, in bounded batches."""
    squared = 0.0
    for start in range(0, len(features), batch):
        rows = features[start:start + batch]
        response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv",
                                           Body="\n".join(rows).encode())
        predicted = predictions_from(response["Body"].read(), len(rows))
        squared += sum((p - t) ** 2 for p, t in zip(predicted, truth[start:start + batch]))
    return math.sqrt(squared / len(features))


def promote(sagemaker, endpoint: str, name: str, image: str, model_data: str,
            role_arn: str, tags: list[dict] | None = None) -> str:
    """Serve this model from the existing endpoint; returns the new configuration's name."""
    current_config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    [variant] = sagemaker.describe_endpoint_config(
        EndpointConfigName=current_config)["ProductionVariants"]
    extra = {"Tags": tags} if tags else {}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=role_arn,
                           PrimaryContainer={"Image": image, "ModelDataUrl": model_data}, **extra)
    sized = {k: variant[k] for k in SIZING if k in variant}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, **sized}], **extra)
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
    return name
