"""The rehearsal's local serving path: cheap per request, kept alive, its own delays measured."""

import http.client
import json
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from handlers import live_inference
from rehearsal.crowd import hyperparameters
from rehearsal.endpoints import Deployed, LocalRuntime, single_threaded
from rehearsal.serving import ApiFront, RuntimeProcess, front_processes
from tools.local_api import LocalApi, Route
from training import local


@pytest.fixture(scope="module")
def data():
    generator = np.random.default_rng(3)
    features = generator.uniform(0, 10, size=(1600, 12))
    labels = 5000 + 300 * features[:, 0] + generator.normal(0, 50, size=1600)
    return (features[:1500], labels[:1500]), (features[1500:], labels[1500:])


@pytest.mark.parametrize("algorithm", ["xgboost", "linear-learner", "knn"])
def test_single_threaded_models_predict_the_same_values(data, algorithm):
    train, test = data
    chosen = hyperparameters(algorithm, 0)
    if algorithm == "knn":
        chosen["k"] = 50
    model = local.train(algorithm, chosen, train, test, seed=1)
    fast = single_threaded(model.predict)
    for row in test[0][:20]:
        assert np.allclose(fast(row.reshape(1, -1)), model.predict(row.reshape(1, -1)))


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)


def test_the_runtime_keeps_a_connection_alive_and_times_each_model():
    with LocalRuntime("123456789012") as runtime:
        runtime.deploy("ep", Deployed("xgboost", lambda x: np.array([6000.0])))
        connection = _connection(runtime.url)
        for _ in range(3):
            connection.request("POST", "/endpoints/ep/invocations", body=b"1,2")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"6000.0\n")
        connection.request("POST", "/endpoints/nowhere/invocations", body=b"1")
        assert connection.getresponse().status == 400
        connection.close()
        assert len(runtime.take_queueing()) == 1  # one connection accepted for four requests
        served = runtime.take_service()
        assert len(served["ep"]) == 3 and all(s >= 0 for s in served["ep"])
        assert runtime.take_service() == {}  # taken: a fresh window for the next run


def test_a_starved_runtime_delays_every_request_before_any_model():
    with LocalRuntime("123456789012", overhead_s=0.2) as runtime:
        runtime.deploy("ep", Deployed("xgboost", lambda x: np.array([1.0])))
        connection = _connection(runtime.url)
        connection.request("POST", "/endpoints/ep/invocations", body=b"1")
        assert connection.getresponse().read() == b"1.0\n"
        assert max(runtime.take_service()["ep"]) < 0.2  # the delay is not the model's


def test_the_api_front_survives_a_post_with_a_body_on_a_kept_connection():
    with LocalApi({"ada": Route(lambda event: {"statusCode": 200, "body": "{}"})}) as api:
        connection = _connection(api.base_url)
        connection.request("POST", "/ada/liveinference", body=b"x" * 100)
        assert connection.getresponse().read() == b'{"message": "Missing Authentication Token"}'
        connection.request("GET", "/ada/liveinference?features=1")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"{}")


def test_the_runtime_in_its_own_process_serves_a_deployed_model_and_stops(data):
    train, test = data
    model = local.train("linear-learner", hyperparameters("linear-learner", 0), train, test, seed=1)
    row = test[0][:1]
    with RuntimeProcess("123456789012") as runtime:
        runtime.deploy("ep", Deployed("linear-learner", model.predict))
        connection = _connection(runtime.url)
        connection.request("POST", "/endpoints/ep/invocations",
                           body=",".join(map(str, row[0])).encode())
        answer = json.loads(connection.getresponse().read())
        connection.close()
        assert answer["predictions"][0]["score"] == pytest.approx(float(model.predict(row)[0]))
        assert len(runtime.take_service()["ep"]) == 1 and runtime.take_service() == {}
        assert len(runtime.take_queueing()) == 1
        process = runtime._process
    assert not process.is_alive()


def test_fronts_are_added_per_300_requests_per_second_up_to_the_cpus():
    assert front_processes(15, cpus=2) == 1
    assert front_processes(150, cpus=2) == 1
    assert front_processes(500, cpus=2) == 2
    assert front_processes(500, cpus=1) == 1
    assert front_processes(2000, cpus=8) == 7


def test_stages_shared_among_two_front_processes_reach_their_own_endpoints(data, monkeypatch):
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "rehearsal",
                       "AWS_SECRET_ACCESS_KEY": "rehearsal"}.items():
        monkeypatch.setenv(key, value)  # what the front's inference handlers are given
    train, test = data
    model = local.train("linear-learner", hyperparameters("linear-learner", 0), train, test, seed=1)
    features = ",".join(f"{v:.3f}" for v in test[0][0])
    routes = {who: (who, live_inference.__name__, live_inference.Settings(
                    endpoint_name=f"{who}-endpoint", participant=who).to_environment())
              for who in ("ada", "grace")}
    with RuntimeProcess("123456789012") as runtime:
        runtime.deploy("ada-endpoint", Deployed("linear-learner", model.predict))
        with ApiFront(routes, runtime.url, Path(tempfile.mkdtemp()) / "front.log", 2) as front:
            assert len(front) == 2 and front.base_url("ada") != front.base_url("grace")
            answers = {}
            for who in ("ada", "grace"):
                connection = _connection(front.base_url(who))
                connection.request("GET", f"/{who}/liveinference?features={features}")
                response = connection.getresponse()
                answers[who] = (response.status, json.loads(response.read()))
            handled = front.take_handlers()
        assert runtime.take_service().keys() == {"ada-endpoint", "grace-endpoint"}
    assert answers["ada"][0] == 200 and "duration_ms" in answers["ada"][1]
    assert answers["grace"] == (503, {"error": "your endpoint grace-endpoint is not deployed yet"})
    assert handled.keys() == {"ada", "grace"}
