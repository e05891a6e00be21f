"""The inference handler never crashes: a stalled or cut-off body, unbounded answers and
out-of-range features each get their documented status and a message, for any input."""

import io
import json
import threading
import time
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from handlers import fc_samples, live_inference

SETTINGS = live_inference.Settings(endpoint_name="ev-ada-endpoint", participant="ada")
FEATURES = "5100,200,100,50,1,300,700,300,200,400,50,40"


def call(features, client):
    response = live_inference.handle({"queryStringParameters": {"features": features}},
                                     SETTINGS, client=client)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


class Answers:
    """A runtime client whose endpoint answers `body` (bytes, or a raw stream)."""

    def __init__(self, body):
        self.body = body

    def invoke_endpoint(self, **kwargs):
        raw = self.body if not isinstance(self.body, bytes) else io.BytesIO(self.body)
        size = len(self.body) if isinstance(self.body, bytes) else None
        return {"Body": StreamingBody(raw, size), "ContentType": "text/csv"}


class Misbehaving(BaseHTTPRequestHandler):
    """A SageMaker runtime whose answer stalls or is cut off after the headers."""

    protocol_version = "HTTP/1.1"
    modes: typing.ClassVar[dict] = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"61")
        self.wfile.flush()
        if self.path.split("/")[2] == "stall":
            time.sleep(1.5)
        self.close_connection = True  # "cut": the rest never comes


@pytest.fixture
def misbehaving(aws_env):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield boto3.client("sagemaker-runtime", region_name="us-east-1",
                       endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
                       config=live_inference.ENDPOINT_CONFIG.merge(Config(read_timeout=0.3)))
    server.shutdown()


def test_a_body_that_stalls_after_the_headers_is_a_504(misbehaving):
    settings = live_inference.Settings(endpoint_name="stall")
    response = live_inference.handle({"queryStringParameters": {"features": FEATURES}},
                                     settings, client=misbehaving)
    assert response["statusCode"] == 504
    assert "stopped answering" in json.loads(response["body"])["error"]


def test_a_body_cut_off_before_its_length_is_a_502(misbehaving):
    settings = live_inference.Settings(endpoint_name="cut")
    response = live_inference.handle({"queryStringParameters": {"features": FEATURES}},
                                     settings, client=misbehaving)
    assert response["statusCode"] == 502
    assert "cut off" in json.loads(response["body"])["error"]


@pytest.mark.parametrize("body, reason", [
    (b"1e300\n", "outside the plausible"),
    (b"-12\n", "outside the plausible"),
    (b'{"predictions": [{"score": 1e999}]}', "not finite"),
    (b'{"predictions": [{"score": ' + b"9" * 5000 + b"}]}", "digit number"),
    (b"[" * 50_000 + b"]" * 50_000, "over"),
    (b"[" * 5_000 + b"]" * 5_000, "nests deeper"),
    (b'{"predictions": [{"score": NaN}]}', "not a number"),
    (b"6000\n" + b" " * 20_000, "over"),
])
def test_unbounded_or_implausible_answers_are_502s_that_say_why(body, reason):
    status, payload = call(FEATURES, Answers(body))
    assert status == 502 and reason in payload["error"]


@pytest.mark.parametrize("position, value", [(1, "1e308"), (6, "1e9"), (11, "101"),
                                             (12, "-1"), (8, "-0.5")])
def test_feature_values_outside_the_fcs_bounds_are_400s(position, value):
    parts = FEATURES.split(",")
    parts[position - 1] = value
    name = fc_samples.FEATURES[position - 1]
    status, payload = call(",".join(parts), Answers(b"6000\n"))
    assert status == 400
    low, high = fc_samples.BOUNDS[name]
    assert payload["error"].startswith(f"feature {position} ({name}) is ")
    assert payload["error"].endswith(f"outside [{low}, {high}]")


def test_the_collection_bounds_are_the_features_bounds():
    status, _ = call(",".join(str(fc_samples.BOUNDS[n][1]) for n in fc_samples.FEATURES),
                     Answers(b"6000\n"))
    assert status == 200


def test_an_unforeseen_failure_is_a_500_with_a_message(capsys):
    class Broken:
        def invoke_endpoint(self, **kwargs):
            raise KeyError("surprise")

    status, payload = call(FEATURES, Broken())
    assert status == 500 and "KeyError" in payload["error"]
    assert json.loads(capsys.readouterr().out)["outcome"] == "internal_error"


@given(st.text(max_size=200) | st.lists(st.floats() | st.integers(), max_size=14).map(
    lambda xs: ",".join(map(str, xs))))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_features_get_a_200_or_a_400_with_a_message(features):
    status, payload = call(features, Answers(b"6000\n"))
    assert status in (200, 400)
    assert payload == {"duration_ms": 6000.0} if status == 200 else payload["error"]


@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode)
       | st.recursive(st.floats() | st.integers() | st.text(max_size=5) | st.none(),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["score", "predicted_label",
                                                         "predictions", "x"]), inner),
                      max_leaves=10).map(lambda d: json.dumps(d).encode()))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_endpoint_answer_gets_a_plausible_200_or_a_502_with_a_message(body):
    status, payload = call(FEATURES, Answers(body))
    assert status in (200, 502)
    if status == 200:
        low, high = live_inference.answers.PLAUSIBLE_MS
        assert low < payload["duration_ms"] < high
    else:
        assert payload["error"]
