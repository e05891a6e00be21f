"""The rehearsal's local serving path: cheap per request, kept alive, its own delays measured."""

import http.client
import json
from urllib.parse import urlsplit

import numpy as np
import pytest

from rehearsal.crowd import hyperparameters
from rehearsal.endpoints import Deployed, LocalRuntime, single_threaded
from rehearsal.serving import RuntimeProcess
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
