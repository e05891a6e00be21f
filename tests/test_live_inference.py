"""The Lab 3 live inference handler: input validation, the three algorithms' answers,
every error class, and the HTTP contract behind a local API Gateway front."""

import io
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from handlers import live_inference
from tests.kit import set_environment
from tools.local_api import LocalApi, Route, proxy_event

SETTINGS = live_inference.Settings(endpoint_name="aim368-ada-lovelace-endpoint",
                                   participant="ada-lovelace")
FEATURES = "5100,200,100,50,1,300,700,300,200,400,50,40"


def event_with(features):
    return {"queryStringParameters": None if features is None else {"features": features}}


def call(features, client, settings=SETTINGS):
    response = live_inference.handle(event_with(features), settings, client=client)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def runtime(aws_env):
    with mock_aws():
        yield boto3.client("sagemaker-runtime", region_name="us-east-1")


def queue_answers(*answers):
    """moto answers the next InvokeEndpoint calls with these (body, content type) pairs."""
    results = [{"Body": body, "ContentType": content_type, "InvokedProductionVariant": "AllTraffic",
                "CustomAttributes": ""} for body, content_type in answers]
    requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
                  json={"results": results}, timeout=5)


def distinct_features(i):
    return f"5100,200,100,50,1,300,700,300,200,400,50,{i}"


@pytest.mark.parametrize("body, content_type, expected", [
    ("6543.21\n", "text/csv", 6543.21),  # XGBoost, text/csv
    ('{"predictions": [{"score": 7012.5}]}', "application/json", 7012.5),  # Linear Learner
    ('{"predictions":[{"predicted_label":5999.0}]}', "application/json", 5999.0),  # k-NN
    ('{"predictions":[{"score":4321}]}', "application/json", 4321.0),  # XGBoost, JSON accept
])
def test_each_algorithms_answer_becomes_one_json_shape(runtime, body, content_type, expected):
    queue_answers((body, content_type))
    assert call(FEATURES, runtime) == (200, {"duration_ms": expected})


def test_the_endpoint_gets_the_features_as_one_csv_row():
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", {"Body": streaming(b"1.0"), "ContentType": "text/csv"},
                          {"EndpointName": SETTINGS.endpoint_name, "ContentType": "text/csv",
                           "Body": "5100,200,100,50,1,300,700,300,200,400,50.5,40"})
        status, _ = call(" 5100,200,100,50,1,300,700,300,200,400,50.50, 40", client)
        stub.assert_no_pending_responses()
    assert status == 200


def streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_an_answer_that_is_not_utf8_is_a_502(capsys):
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", {"Body": streaming(b"\xff\xfe1"),
                                              "ContentType": "text/csv"})
        status, payload = call(FEATURES, client)
    assert status == 502 and "could not be read" in payload["error"]
    assert json.loads(capsys.readouterr().out.splitlines()[0])["body"] == "\ufffd\ufffd1"


class NoCalls:
    def invoke_endpoint(self, **kwargs):
        raise AssertionError("the endpoint was called with bad input")


@pytest.mark.parametrize("features, message", [
    (None, "missing query parameter 'features': 12 comma-separated numbers (fc_avg,"),
    ("", "missing query parameter 'features'"),
    ("   ", "missing query parameter 'features'"),
    (",".join(["1"] * 11), "must be 12 comma-separated numbers (fc_avg, item_length"),
    (",".join(["1"] * 13), "got 13 values"),
    ("5100,200,abc,50,1,300,700,300,200,400,50,40", "feature 3 (item_width) is not a number: 'abc'"),
    ("5100,200,100,NaN,1,300,700,300,200,400,50,40", "feature 4 (item_height) is not finite"),
    ("5100,200,100,50,inf,300,700,300,200,400,50,40", "feature 5 (item_quantity) is not finite"),
    ("5100,200,100,50,1,-Infinity,700,300,200,400,50,40", "feature 6 (item_weight) is not finite"),
    ("5100,,100,50,1,300,700,300,200,400,50,40", "feature 2 (item_length) is not a number: ''"),
    ("1," * 2000 + "1", "is 4001 characters long; at most 1024"),
])
def test_bad_features_get_a_400_that_says_what_is_wrong(features, message):
    status, body = call(features, NoCalls())
    assert status == 400
    assert message in body["error"]


def test_a_request_without_query_string_is_a_400():
    response = live_inference.handle({}, SETTINGS, client=NoCalls())
    assert response["statusCode"] == 400


def stubbed_error(code, message, status=400, **extra):
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("invoke_endpoint", service_error_code=code, service_message=message,
                          http_status_code=status, service_error_meta=extra)
    stub.activate()
    return client


@pytest.mark.parametrize("code, message, http, status, outcome, text", [
    ("ValidationError", "Endpoint aim368-ada-lovelace-endpoint of account 111111111111 not found.",
     400, 503, "endpoint_missing", "your endpoint aim368-ada-lovelace-endpoint is not deployed yet"),
    ("ValidationError", "Endpoint aim368-ada-lovelace-endpoint is not in service.",
     400, 503, "endpoint_not_ready", "is not in service yet"),
    ("ModelNotReadyException", "Model not ready", 429, 503, "endpoint_busy", "is busy"),
    ("ThrottlingException", "Rate exceeded", 400, 503, "endpoint_busy", "is busy"),
    ("ModelError", "Received client error (400) from primary: could not convert string",
     424, 502, "model_error", "your model failed: Received client error (400)"),
    ("AccessDeniedException", "not authorized", 403, 502, "endpoint_error",
     "AccessDeniedException"),
])
def test_endpoint_errors_map_to_clear_status_codes(capsys, code, message, http, status, outcome,
                                                   text):
    got_status, body = call(FEATURES, stubbed_error(code, message, http))
    assert got_status == status
    assert text in body["error"]
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (line["outcome"], line["status"], line["participant"]) == (outcome, status, "ada-lovelace")


@pytest.mark.parametrize("body", [
    "not a number", "", '{"predictions": []}', '{"predictions":[{"label": 1}]}',
    "1.0\n2.0\n", '{"predictions":[{"score":"NaN"}]}', "nan", '{"predictions":[{"score":true}]}',
])
def test_an_unreadable_model_answer_is_a_502_logged_with_the_raw_body(runtime, capsys, body):
    queue_answers((body, "text/csv"))
    status, payload = call(distinct_features(len(body)), runtime)
    assert status == 502
    assert payload["error"].startswith("your model's answer could not be read")
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "unparseable_answer"
    assert lines[0]["body"] == body.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    assert lines[1]["outcome"] == "bad_answer"


class _Slow(BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self):
        type(self).requests += 1
        time.sleep(1.0)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_slow_endpoint_times_out_into_a_504(aws_env):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = boto3.client(
            "sagemaker-runtime", region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            config=live_inference.ENDPOINT_CONFIG.merge(Config(read_timeout=0.2)))
        status, body = call(FEATURES, client)
        assert _Slow.requests == 1  # bounded, and not retried
    finally:
        server.shutdown()
    assert status == 504 and "did not answer in time" in body["error"]


def test_the_endpoint_call_is_bounded_and_not_retried():
    config = live_inference.ENDPOINT_CONFIG
    assert config.read_timeout <= 5 and config.connect_timeout <= 2
    assert config.retries["total_max_attempts"] == 1


def test_an_unreachable_endpoint_is_a_503(aws_env):
    client = boto3.client("sagemaker-runtime", region_name="us-east-1",
                          endpoint_url="http://127.0.0.1:9", config=live_inference.ENDPOINT_CONFIG)
    status, body = call(FEATURES, client)
    assert status == 503 and "cannot reach" in body["error"]


def test_one_structured_log_line_per_request(runtime, capsys):
    queue_answers(("6000", "text/csv"))
    call(distinct_features(99), runtime)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["event"] == "inference"
    assert (line["participant"], line["endpoint"], line["status"], line["outcome"]) == (
        "ada-lovelace", "aim368-ada-lovelace-endpoint", 200, "ok")
    assert line["latency_ms"] >= 0


def test_the_lambda_entry_point_reads_its_endpoint_from_the_environment(runtime, monkeypatch):
    set_environment(monkeypatch, live_inference.Settings(
        endpoint_name="aim368-grace-hopper-endpoint", participant="grace-hopper"))
    monkeypatch.setattr(live_inference, "runtime_client", lambda: runtime)
    queue_answers(("5555", "text/csv"))
    response = live_inference.handler(event_with(distinct_features(7)), None)
    assert json.loads(response["body"]) == {"duration_ms": 5555.0}


# --- HTTP contract, through the local API Gateway front -----------------------------------

def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_http_contract_behind_a_local_api_gateway_front(runtime):
    queue_answers(("6100.5", "text/csv"))
    stage = Route(lambda event: live_inference.handle(event, SETTINGS, client=runtime),
                  {"function": "aim368-ada-lovelace-inference"})
    with LocalApi({"ada-lovelace": stage}) as api:
        url = api.url("ada-lovelace")
        assert url.startswith("http://127.0.0.1:")
        assert http_get(f"{url}?features={quote(FEATURES)}") == (200, {"duration_ms": 6100.5})
        status, body = http_get(f"{url}?features=1,2,3")
        assert status == 400 and "got 3 values" in body["error"]
        assert http_get(url) == (400, {"message": "Missing required request parameters: [features]"})
        assert http_get(f"{api.base_url}/nobody/liveinference?features=1")[0] == 403
        assert http_get(f"{api.base_url}/ada-lovelace/other?features=1")[0] == 403


def test_the_proxy_event_has_api_gateways_shape():
    event = proxy_event("ada-lovelace", "features=1%2C2&features=3,4", {"function": "fn"})
    assert event["queryStringParameters"] == {"features": "3,4"}
    assert event["multiValueQueryStringParameters"] == {"features": ["1,2", "3,4"]}
    assert event["requestContext"]["stage"] == "ada-lovelace"
    assert event["stageVariables"] == {"function": "fn"}
    assert (event["httpMethod"], event["resource"]) == ("GET", "/liveinference")
