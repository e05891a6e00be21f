"""A participant's retraining world in moto, shared by the tests and the bench: the event's
retraining table, the names the program gives a participant, their function's environment,
and an endpoint serving the baseline. Call inside `mock_aws()` (or against a moto server).
"""

from __future__ import annotations

import json
from datetime import datetime

from handlers import fc_samples, retraining, retraining_data
from training.hyperparameters import SENSIBLE

EVENT, ACCOUNT = "aim368", "123456789012"
TABLE = f"{EVENT}-retraining"  # components/retraining.table_name(EVENT)
SHARED = f"{EVENT}-training-data"
BASELINE_KEY = "models/baseline/model.tar.gz"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def names(participant: str) -> dict[str, str]:
    prefix = f"{EVENT}-{participant}"
    return {"bucket": f"{prefix}-samples-1a2b3c4", "endpoint": f"{prefix}-endpoint",
            "alarm": f"{prefix}-rmse", "job_prefix": f"{prefix}--rt",
            "role": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-sagemaker"}


def environment(participant: str, **overrides) -> dict[str, str]:
    """The participant's function environment, as components/retraining.py writes it."""
    n = names(participant)
    return retraining.Settings(**{
        "event": EVENT, "participant": participant, "endpoint_name": n["endpoint"],
        "alarm_name": n["alarm"], "job_prefix": n["job_prefix"], "bucket": n["bucket"],
        "samples_prefix": "samples/", "sagemaker_role_arn": n["role"],
        "table_name": TABLE, "training_instance_type": "ml.m5.large",
        "allowed_instance_types": "ml.m5.large,ml.m5.xlarge,ml.c5.large",
        "retraining_default": False, "margin_percent": 5.0, "window_minutes": 60,
        "holdout_percent": 20.0, "max_training_seconds": 3600,
        "precollected_uri": f"s3://{SHARED}/datasets/TrainSamples.csv",
        "baseline_model_url": f"s3://{SHARED}/{BASELINE_KEY}",
        "baseline_hyperparameters": json.dumps(SENSIBLE["xgboost"]), **overrides,
    }).to_environment()


def create_table():
    """The event's retraining table, keyed as components/retraining.RetrainingTable declares."""
    import boto3
    return boto3.resource("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "participant", "KeyType": "HASH"},
                   {"AttributeName": "record", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "participant", "AttributeType": "S"},
                              {"AttributeName": "record", "AttributeType": "S"}])


def put_samples(s3, bucket: str, samples, moment: datetime, name: str) -> None:
    """One Firehose object of samples under the hour of `moment`, as Lab 1 writes them."""
    key = retraining_data.hour_prefix("samples/", moment) + name
    s3.put_object(Bucket=bucket, Key=key, Body="".join(map(fc_samples.encode, samples)).encode())


def serve_baseline(sagemaker, participant: str, suffix: str = "1a2b3c4") -> None:
    """The participant's endpoint serving the baseline model (uploaded to SHARED/BASELINE_KEY)."""
    n, model, config = (names(participant), f"{EVENT}-{participant}-model-{suffix}",
                        f"{EVENT}-{participant}-config-{suffix}")
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=n["role"], PrimaryContainer={
        "Image": IMAGE, "ModelDataUrl": f"s3://{SHARED}/{BASELINE_KEY}"})
    sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
        "InstanceType": "ml.c5.large", "InitialVariantWeight": 1.0}])
    sagemaker.create_endpoint(EndpointName=n["endpoint"], EndpointConfigName=config)
