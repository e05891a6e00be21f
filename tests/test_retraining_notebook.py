"""The fifth notebook, Automated-Retraining, executed headless against moto.

The kernel is another process: it reaches moto's server, and the participant's
retraining function through a local Lambda Invoke front (tools.local_retraining), which
runs the real handler in this process and delivers SageMaker's job state changes to it.
"""

import json
import shutil
from datetime import UTC, datetime

import boto3
import nbformat
import numpy as np
import pytest
from moto.server import ThreadedMotoServer
from nbclient import NotebookClient

from components.training_data import notebook_uploads
from handlers import fc_samples, retraining, retraining_data
from tools.local_retraining import LocalLambda, LocalLoop
from tools.local_sagemaker import EmulatedRuntime, emulate_sagemaker
from tools.retraining_world import (
    BASELINE_KEY,
    SHARED,
    create_table,
    environment,
    names,
    serve_baseline,
)
from training import baseline, local
from training.hyperparameters import SENSIBLE

FUNCTION = "aim368-ada-retrain"


@pytest.fixture
def world(monkeypatch, tmp_path):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import requests
    requests.post(f"{url}/moto-api/reset", timeout=10)  # the backends outlive a server
    with emulate_sagemaker():
        s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
        table = create_table()
        values = np.array(fc_samples.generate(20_000, 1), dtype=float)
        model = local.train("xgboost", SENSIBLE["xgboost"], (values[:16000, 1:], values[:16000, 0]),
                            (values[16000:, 1:], values[16000:, 0]))
        s3.create_bucket(Bucket=SHARED)
        s3.put_object(Bucket=SHARED, Key=BASELINE_KEY,
                      Body=baseline.package(model.booster, tmp_path / "m.tar.gz").read_bytes())
        n = names("ada")
        s3.create_bucket(Bucket=n["bucket"])
        drifted = fc_samples.generate(5000, 21, "peak-season")
        s3.put_object(Bucket=n["bucket"], Key=retraining_data.hour_prefix(
            "samples/", datetime.now(UTC)) + "stream-0",
            Body="".join(map(fc_samples.encode, drifted)).encode())
        serve_baseline(sagemaker, "ada", suffix="1")
        loop = LocalLoop(environment("ada"), retraining.Clients(sagemaker, EmulatedRuntime(), s3, table))
        with LocalLambda({FUNCTION: loop.invoke}) as front:
            monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", front.base_url)
            for name, source in notebook_uploads():
                shutil.copy(source, tmp_path / name)
            shutil.copy(build_path(), tmp_path / "Automated-Retraining.ipynb")
            (tmp_path / "settings.json").write_text(json.dumps({
                "participant": "ada", "region": "us-east-1", "bucket": n["bucket"],
                "samples_prefix": "samples/", "shared_bucket": SHARED,
                "dataset_prefix": "datasets/", "role_arn": n["role"],
                "endpoint_name": n["endpoint"], "name_prefix": "aim368-ada--", "event": "aim368",
                "training_instance_types": "ml.m5.large,ml.m5.xlarge",
                "hosting_instance_types": "ml.m5.large,ml.m5.xlarge,ml.c5.large",
                "retraining_function": FUNCTION}))
            yield tmp_path, sagemaker, loop
    server.stop()


def build_path():
    from tools import build_notebooks
    return build_notebooks.NOTEBOOKS_DIR / "Automated-Retraining.ipynb"


def test_the_notebook_turns_the_loop_on_starts_an_attempt_and_shows_its_decision(world):
    workdir, sagemaker, loop = world
    notebook = nbformat.read(workdir / "Automated-Retraining.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "Automated retraining is OFF" in text and "Automated retraining is ON" in text
    assert "margin_percent=5, window_minutes=60" in text
    assert "Training job aim368-ada--rt-" in text and "4,000 recent samples" in text
    tables = [o["data"]["text/plain"] for c in notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if "data" in o and "text/plain" in o["data"]]
    assert "promoted" in tables[-1]
    [attempt] = loop.invoke({"action": "status"})["attempts"]
    assert attempt["decision"] == "promoted" and attempt["trigger"] == "manual"
    assert sagemaker.describe_endpoint(EndpointName=names("ada")["endpoint"])[
        "EndpointConfigName"] == attempt["job"]


def test_without_the_loop_deployed_the_notebook_says_so(world):
    workdir, *_ = world
    settings = json.loads((workdir / "settings.json").read_text())
    del settings["retraining_function"]
    (workdir / "settings.json").write_text(json.dumps(settings))
    notebook = nbformat.read(workdir / "Automated-Retraining.ipynb", as_version=4)
    with pytest.raises(Exception, match="not deployed for this event"):
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
