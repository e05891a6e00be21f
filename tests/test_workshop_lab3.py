"""The notebook helper's new duties: the job limit, ResourceLimitExceeded as a sentence,
the SDK check, and calling your own live inference URL as the edge does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from handlers import edge_traffic
from notebooks import workshop

SETTINGS = {"name_prefix": "aim368-ada", "region": "us-east-1", "max_training_jobs": "2"}


def jobs_client(*names):
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    summaries = [{"TrainingJobName": n, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:1:training-job/{n}",
                  "CreationTime": "2026-01-01T00:00:00Z", "TrainingJobStatus": "InProgress"}
                 for n in names]
    stubber.add_response("list_training_jobs", {"TrainingJobSummaries": summaries},
                         {"NameContains": "aim368-ada", "StatusEquals": "InProgress",
                          "MaxResults": 100})
    stubber.activate()
    return client


def test_only_your_own_running_jobs_count():
    client = jobs_client("aim368-ada-xgb-2026-01-01-00-00-00-000",
                         "aim368-ada-lovelace-xgb-2026-01-01-00-00-00-000")  # a longer id
    assert workshop.running_jobs(SETTINGS, client) == ["aim368-ada-xgb-2026-01-01-00-00-00-000"]


def test_a_participant_at_the_limit_is_refused_with_what_to_do():
    client = jobs_client("aim368-ada-xgb-1", "aim368-ada-knn-2")
    with pytest.raises(RuntimeError) as refused:
        workshop.refuse_too_many_jobs(SETTINGS, client)
    message = str(refused.value)
    assert "2 training job(s) running" in message and "limit here is 2" in message
    assert "Wait for one to finish" in message
    workshop.refuse_too_many_jobs(SETTINGS, jobs_client("aim368-ada-xgb-1"))  # one: fine


def test_a_role_that_cannot_list_jobs_does_not_block_training(capsys):
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error("list_training_jobs", "AccessDeniedException")
    stubber.activate()
    workshop.refuse_too_many_jobs(SETTINGS, client)
    assert "cannot count your running training jobs" in capsys.readouterr().out


def test_resource_limit_exceeded_becomes_a_sentence_even_when_wrapped():
    error = ClientError({"Error": {"Code": "ResourceLimitExceeded", "Message": "quota"}},
                        "CreateTrainingJob")
    try:
        try:
            raise error
        except ClientError as inner:
            raise ValueError("the SDK's own wrapper") from inner
    except ValueError as wrapped:
        assert workshop._error_code(wrapped) == "ResourceLimitExceeded"
    message = workshop._capacity_message("ml.m5.xlarge", ["ml.m5.large", "ml.m5.xlarge"])
    assert "no more ml.m5.xlarge training capacity" in message
    assert "TRAINING_INSTANCE_TYPE to another allowed type: ml.m5.large" in message


def test_the_sdk_check_says_wait_or_restart_and_never_installs(tmp_path, monkeypatch):
    import importlib.metadata
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.200.0")
    with pytest.raises(RuntimeError, match="still being installed"):
        workshop.ensure_sdk(tmp_path / ".sdk-ready")
    (tmp_path / ".sdk-ready").write_text("sagemaker==3.27.0")
    with pytest.raises(RuntimeError, match="Restart Kernel"):
        workshop.ensure_sdk(tmp_path / ".sdk-ready")
    monkeypatch.setattr(importlib.metadata, "version", lambda name: workshop.SDK_VERSION)
    workshop.ensure_sdk(tmp_path / "absent")  # the right version: nothing to wait for


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self):
        from urllib.parse import parse_qs, urlsplit
        features = parse_qs(urlsplit(self.path).query)["features"][0].split(",")
        status, body = (200, {"duration_ms": 1234.5}) if len(features) == 12 else (
            400, {"error": "features must be 12 numbers"})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def live_url():
    server = HTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/ada/liveinference"
    server.shutdown()


def test_calling_your_url_shows_the_class_the_edge_scores(live_url):
    settings = {"inference_url": live_url}
    status, answer = workshop.call_live_inference(settings, [1.0] * 12)
    assert (status, answer, workshop.edge_outcome(status, answer)) == (
        200, {"duration_ms": 1234.5}, "ok")
    status, answer = workshop.call_live_inference(settings, [1.0] * 5)
    assert (status, workshop.edge_outcome(status, answer)) == (400, "http_4xx")


def test_every_outcome_the_edge_can_score_is_explained_in_the_notebook():
    from handlers import scoring
    scored = {"ok", *scoring.ERROR_CLASSES, *scoring.HTTP_DETAILS}
    assert set(workshop.EDGE_OUTCOMES) == scored, set(workshop.EDGE_OUTCOMES) ^ scored


@pytest.mark.parametrize("status, body", [(200, b'{"duration_ms": 5}'), (200, b'{"x": 1}'),
                                          (200, b'{"duration_ms": "NaN"}'), (503, b"{}"),
                                          (503, b'{"outcome": "endpoint_busy"}'), (403, b"{}"),
                                          (429, b"{}"), (502, b"{}"), (504, b"{}"), (500, b"{}"),
                                          (400, b"{}"), (404, b"{}"), (302, b'{"duration_ms": 5}')])
def test_the_notebooks_classes_are_the_edges(status, body):
    assert workshop.edge_outcome(status, json.loads(body)) == \
        edge_traffic.classify(status, body, 0.0)[0]
    assert set(workshop.EDGE_OUTCOMES) >= {"ok", "http_4xx", "http_5xx", "timeout",
                                            "unreachable", "bad_answer"}
