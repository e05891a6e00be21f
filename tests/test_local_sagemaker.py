"""The SageMaker training emulator on moto, and the notebooks' metric handling."""

import io
import pickle
import tarfile

import boto3
import pytest
from moto import mock_aws

from handlers import fc_samples
from notebooks import workshop  # the notebooks' helper module
from tools.local_sagemaker import algorithm_of, emulate_sagemaker, typed_hyperparameters
from training import dataset

IMAGES = {"xgboost": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
          "knn": "382416733822.dkr.ecr.us-east-1.amazonaws.com/knn:1"}


def test_the_rmse_comes_from_each_algorithms_own_metric():
    assert workshop.rmse_from("xgboost", {"validation:rmse": 400.0}, "j") == 400.0
    assert workshop.rmse_from("knn", {"test:mse": 160_000.0}, "j") == 400.0
    assert workshop.rmse_from("linear-learner", {"test:mse": 250_000.0, "train:progress": 1}, "j") == 500.0
    with pytest.raises(RuntimeError, match="reported no validation:rmse"):
        workshop.rmse_from("xgboost", {"train:progress": 100.0}, "job-1")


def test_blank_hyperparameters_get_a_hint_per_blank():
    with pytest.raises(ValueError) as caught:
        workshop.check_hyperparameters("knn", {"predictor_type": "regressor", "feature_dim": 12,
                                               "k": None, "mini_batch_size": 800})
    assert str(caught.value) == ("fill in the hyperparameters cell: k: int in (50, 150); "
                                 "sample_size: int in (50000, 500000)")


def test_images_name_their_algorithm():
    assert algorithm_of(IMAGES["xgboost"]) == "xgboost"
    assert algorithm_of("382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1") == \
        "linear-learner"
    with pytest.raises(ValueError):
        algorithm_of("123.dkr.ecr.us-east-1.amazonaws.com/my-own:latest")
    assert typed_hyperparameters("xgboost", {"max_depth": "5", "eta": "0.3", "objective": "x"}) \
        == {"max_depth": 5, "eta": 0.3}


@pytest.fixture
def world(aws_env, tmp_path):
    files = dataset.build(3000, seed=4, cache_dir=tmp_path)
    with mock_aws(), emulate_sagemaker():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="data-bucket")
        s3.upload_file(str(files.train), "data-bucket", "train/TrainSamples.csv")
        s3.upload_file(str(files.test), "data-bucket", "test/TestSamples.csv")
        yield s3, boto3.client("sagemaker")


def start(sagemaker, name, algorithm, hyperparameters, evaluation="validation"):
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::123456789012:role/r",
        AlgorithmSpecification={"TrainingImage": IMAGES[algorithm], "TrainingInputMode": "File"},
        HyperParameters={k: str(v) for k, v in hyperparameters.items()},
        InputDataConfig=[{"ChannelName": channel, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://data-bucket/{prefix}/"}}}
            for channel, prefix in (("train", "train"), (evaluation, "test"))],
        OutputDataConfig={"S3OutputPath": "s3://data-bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    return sagemaker.describe_training_job(TrainingJobName=name)


def test_a_job_really_trains_and_writes_its_artifact(world):
    s3, sagemaker = world
    job = start(sagemaker, "xgb-1", "xgboost",
                {"num_round": 40, "early_stopping_rounds": 3, "max_depth": 4, "eta": 0.3})
    assert job["TrainingJobStatus"] == "Completed"
    [metric] = job["FinalMetricDataList"]
    assert metric["MetricName"] == "validation:rmse"
    assert fc_samples.NOISE_FLOOR_RMSE < metric["Value"] < 1000
    body = s3.get_object(Bucket="data-bucket", Key="output/xgb-1/output/model.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as archive:
        assert archive.getnames() == ["xgboost-model"]


def test_knn_reports_mse_and_pickles_a_working_predictor(world):
    s3, sagemaker = world
    job = start(sagemaker, "knn-1", "knn", {"predictor_type": "regressor", "feature_dim": 12,
                                            "k": 50, "mini_batch_size": 500,
                                            "sample_size": 50_000}, evaluation="test")
    [metric] = job["FinalMetricDataList"]
    assert metric["MetricName"] == "test:mse" and metric["Value"] > fc_samples.NOISE_FLOOR_RMSE ** 2
    body = s3.get_object(Bucket="data-bucket", Key="output/knn-1/output/model.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as archive:
        predictor = pickle.loads(archive.extractfile("model.pkl").read())
    sample = fc_samples.generate(1, seed=5)[0]
    assert predictor([list(sample.features)])[0] > 0


def test_bad_hyperparameters_fail_the_job_with_a_reason(world):
    _, sagemaker = world
    job = start(sagemaker, "xgb-bad", "xgboost",
                {"num_round": 40, "early_stopping_rounds": 3, "max_depth": 99, "eta": 0.3})
    assert job["TrainingJobStatus"] == "Failed"
    assert "max_depth=99 must be between 3 and 6" in job["FailureReason"]


def test_update_endpoint_switches_the_configuration(world):
    _, sagemaker = world
    for name in ("m1", "m2"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                               PrimaryContainer={"Image": IMAGES["xgboost"]})
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
            "InstanceType": "ml.c5.large"}])
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="m1")
    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="m2")
    assert sagemaker.describe_endpoint(EndpointName="ep")["EndpointConfigName"] == "m2"
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find endpoint"):
        sagemaker.update_endpoint(EndpointName="nope", EndpointConfigName="m2")
