"""The four workshop notebooks, executed headless top to bottom against moto.

moto runs as a threaded server on 127.0.0.1 (the notebook kernels are separate
processes) with tools.local_sagemaker emulating training, so the built-in algorithms
really train on the data in moto's S3 and report their real metrics. A cell that raises
fails the test.
"""

import json
import shutil

import boto3
import nbformat
import pytest
from moto.server import ThreadedMotoServer
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from components.training_data import notebook_uploads
from handlers import fc_samples
from tools import build_notebooks
from tools.local_sagemaker import emulate_sagemaker
from training import dataset

PREFIX = "aim368-ada-lovelace"
BUCKET, SHARED = f"{PREFIX}-samples-1a2b3c4", "aim368-training-data-5e6f7a8"
ENDPOINT, ROLE = f"{PREFIX}-endpoint", f"arn:aws:iam::123456789012:role/{PREFIX}-sagemaker"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
COLLECTED = 40
FILLED = {
    "K-Nearest-Neighbors": '{"predictor_type": "regressor", "feature_dim": 12, "k": 60, '
                           '"mini_batch_size": 1000, "sample_size": 50000}',
    "Linear-Learner": '{"predictor_type": "regressor", "feature_dim": 12, "optimizer": "adam", '
                      '"mini_batch_size": 500, "epochs": 10}',
    "XGBoost": '{"num_round": 60, "early_stopping_rounds": 5, "max_depth": 5, "eta": 0.3}',
}


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with emulate_sagemaker():
        yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url, monkeypatch, tmp_path_factory):
    """A participant's world in moto, as `pulumi up` and Lab 1 would have left it."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_url,
                       "SAGEMAKER_VALIDATE_ROLE": "false"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import requests
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
    files = dataset.build(6000, seed=2, cache_dir=tmp_path_factory.mktemp("data"))
    for bucket in (BUCKET, SHARED):
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(files.train), SHARED, "datasets/TrainSamples.csv")
    s3.upload_file(str(files.test), SHARED, "datasets/TestSamples.csv")
    collected = "".join(map(fc_samples.encode, fc_samples.generate(COLLECTED, seed=9)))
    s3.put_object(Bucket=BUCKET, Key="samples/year=2026/month=11/day=26/hour=10/a-1",
                  Body=collected[: collected.index("\n", len(collected) // 2) + 1].encode())
    s3.put_object(Bucket=BUCKET, Key="samples/year=2026/month=11/day=26/hour=11/a-2",
                  Body=collected[collected.index("\n", len(collected) // 2) + 1:].encode())
    sagemaker.create_model(ModelName=f"{PREFIX}--model-1a2b3c4", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": XGBOOST_IMAGE,
                                             "ModelDataUrl": f"s3://{SHARED}/models/baseline/model.tar.gz"})
    sagemaker.create_endpoint_config(EndpointConfigName=f"{PREFIX}--config-1a2b3c4", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": f"{PREFIX}--model-1a2b3c4",
        "InitialInstanceCount": 1, "InstanceType": "ml.c5.large", "InitialVariantWeight": 1.0}])
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{PREFIX}--config-1a2b3c4")
    return s3, sagemaker


@pytest.fixture
def workdir(tmp_path):
    """The workshop folder on a notebook instance, as the lifecycle leaves it."""
    for name, source in notebook_uploads():
        shutil.copy(source, tmp_path / name)
    (tmp_path / "settings.json").write_text(json.dumps({
        "participant": "ada-lovelace", "region": "us-east-1", "bucket": BUCKET,
        "samples_prefix": "samples/", "shared_bucket": SHARED, "dataset_prefix": "datasets/",
        "role_arn": ROLE, "endpoint_name": ENDPOINT, "name_prefix": f"{PREFIX}--",
        "event": "aim368", "training_instance_types": "ml.m5.large,ml.m5.xlarge",
        "hosting_instance_types": "ml.m5.large,ml.m5.xlarge,ml.c5.large"}))
    return tmp_path


def execute(workdir, name, parameters=None, promote=False):
    notebook = nbformat.read(workdir / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if parameters and build_notebooks.PARAMETERS_TAG in tags:
            cell.source = cell.source.replace(cell.source.split("\n}")[0] + "\n}",
                                              f"hyperparameters = {parameters}")
        if promote and build_notebooks.PROMOTE_TAG in tags:
            cell.source = cell.source.replace("PROMOTE = False", "PROMOTE = True")
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def printed(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []))


OWNED_TAGS = {"Participant": "ada-lovelace", "Event": "aim368"}


def owned_tags(sagemaker, arn):
    """The tags the participant's role requires on every create (components/model_training)."""
    return {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}


def jobs(sagemaker):
    names = [j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
    return [sagemaker.describe_training_job(TrainingJobName=n) for n in names]


def test_the_committed_notebooks_are_what_the_builder_writes():
    for name in build_notebooks.NOTEBOOKS:
        committed = (build_notebooks.NOTEBOOKS_DIR / f"{name}.ipynb").read_text()
        assert committed == build_notebooks.render(name), "run python -m tools.build_notebooks"


def test_data_analysis_runs_on_the_participants_data(aws, workdir):
    text = printed(execute(workdir, "Data-Analysis"))
    assert "4,500 rows loaded" in text
    assert f"{COLLECTED} samples in your bucket" in text
    assert "Predicting the mean: RMSE" in text


@pytest.mark.parametrize("name, algorithm, metric, code", [
    ("K-Nearest-Neighbors", "knn", "test:mse", "knn"),
    ("Linear-Learner", "linear-learner", "test:mse", "ll"),
])
def test_a_training_notebook_trains_on_the_participants_data_and_reports_rmse(
        aws, workdir, name, algorithm, metric, code):
    _, sagemaker = aws
    text = printed(execute(workdir, name, FILLED[name]))
    [job] = jobs(sagemaker)
    assert job["TrainingJobName"].startswith(f"{PREFIX}--{code}-")  # the role's owned shape
    assert owned_tags(sagemaker, job["TrainingJobArn"]) == OWNED_TAGS
    assert job["RoleArn"] == ROLE
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in job["InputDataConfig"]}
    assert channels == {"train": f"s3://{SHARED}/datasets/TrainSamples.csv",
                        "test": f"s3://{SHARED}/datasets/TestSamples.csv"}
    [final] = job["FinalMetricDataList"]
    assert final["MetricName"] == metric
    rmse = final["Value"] ** 0.5
    assert f"Test RMSE: {rmse:,.1f} ms" in text
    assert job["ModelArtifacts"]["S3ModelArtifacts"].startswith(f"s3://{BUCKET}/training-output/")


def test_xgboost_trains_and_promotes_into_the_existing_endpoint(aws, workdir):
    s3, sagemaker = aws
    text = printed(execute(workdir, "XGBoost", FILLED["XGBoost"], promote=True))
    [job] = jobs(sagemaker)
    assert job["HyperParameters"]["objective"] == "reg:squarederror"
    assert job["HyperParameters"]["max_depth"] == "5"
    rmse = job["FinalMetricDataList"][0]["Value"]
    assert job["FinalMetricDataList"][0]["MetricName"] == "validation:rmse"
    assert f"Test RMSE: {rmse:,.1f} ms" in text
    assert rmse < 2 * fc_samples.NOISE_FLOOR_RMSE
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == [ENDPOINT]  # no new endpoint
    config = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    assert config == job["TrainingJobName"]
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    assert (variant["InstanceType"], variant["ModelName"]) == ("ml.c5.large", config)
    assert owned_tags(sagemaker, sagemaker.describe_endpoint_config(
        EndpointConfigName=config)["EndpointConfigArn"]) == OWNED_TAGS
    assert owned_tags(sagemaker, sagemaker.describe_model(ModelName=config)["ModelArn"]) == OWNED_TAGS
    model = sagemaker.describe_model(ModelName=config)["PrimaryContainer"]
    assert model["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model["Image"] == XGBOOST_IMAGE
    key = model["ModelDataUrl"].split(f"s3://{BUCKET}/")[1]
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


def test_training_can_include_the_participants_collected_samples(aws, workdir):
    s3, sagemaker = aws
    parameters = FILLED["XGBoost"]
    notebook = nbformat.read(workdir / "XGBoost.ipynb", as_version=4)
    for cell in notebook.cells:
        if build_notebooks.PARAMETERS_TAG in cell.metadata.get("tags", []):
            cell.source = (f"hyperparameters = {parameters}\nINCLUDE_MY_COLLECTED_SAMPLES = True\n"
                           'TRAINING_INSTANCE_TYPE = "ml.m5.large"')
    nbformat.write(notebook, workdir / "XGBoost.ipynb")
    execute(workdir, "XGBoost")
    [job] = jobs(sagemaker)
    train = next(c for c in job["InputDataConfig"] if c["ChannelName"] == "train")
    prefix = train["DataSource"]["S3DataSource"]["S3Uri"]
    assert prefix.startswith(f"s3://{BUCKET}/training-input/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix.split(f"{BUCKET}/")[1])
            ["Contents"]]
    assert len(keys) == 3  # the pre-collected set and the two collected files


def test_an_unfilled_hyperparameter_cell_stops_with_a_hint(aws, workdir):
    with pytest.raises(CellExecutionError) as caught:
        execute(workdir, "XGBoost")
    assert "fill in the hyperparameters cell: num_round: int in (20, 200)" in str(caught.value)


def test_a_disallowed_instance_type_is_refused_before_any_job(aws, workdir):
    _, sagemaker = aws
    notebook = nbformat.read(workdir / "XGBoost.ipynb", as_version=4)
    for cell in notebook.cells:
        if build_notebooks.PARAMETERS_TAG in cell.metadata.get("tags", []):
            cell.source = (f"hyperparameters = {FILLED['XGBoost']}\n"
                           "INCLUDE_MY_COLLECTED_SAMPLES = False\n"
                           'TRAINING_INSTANCE_TYPE = "ml.p4d.24xlarge"')
    nbformat.write(notebook, workdir / "XGBoost.ipynb")
    with pytest.raises(CellExecutionError, match="'ml.p4d.24xlarge' is not allowed here for training"):
        execute(workdir, "XGBoost")
    assert jobs(sagemaker) == []
