"""A local SageMaker runtime: `POST /endpoints/<name>/invocations` on 127.0.0.1.

Each deployed endpoint answers in its algorithm's real output format (XGBoost: CSV lines;
k-NN: `predicted_label` JSON; Linear Learner: `score` JSON), so the inference handler's
normalisation is exercised. A missing endpoint answers like SageMaker does. Faults on
demand: a slow endpoint, or one that answers garbage.

On AWS every endpoint has an instance of its own; here all of them share this machine,
so one prediction must cost little: each model answers single-threaded (a thread pool
per one-row prediction cost XGBoost 14 ms and k-NN 5 ms of CPU, against about 1 ms), with
the same values. The time each endpoint spends in its model (fault delays included) is
recorded: that much of a request's time is the participant's; the rest is the machine's.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tools.loopback import KeepAliveHandler, LoopbackServer


@dataclass
class Deployed:
    algorithm: str
    predict: Callable[[np.ndarray], np.ndarray]
    delay_s: float = 0.0
    garbage: bool = False


def answer(algorithm: str, value: float) -> tuple[str, bytes]:
    if algorithm == "xgboost":
        return "text/csv", f"{value}\n".encode()
    key = "predicted_label" if algorithm == "knn" else "score"
    return "application/json", json.dumps({"predictions": [{key: value}]}).encode()


def single_threaded(predict: Callable[[np.ndarray], np.ndarray]):
    """The same predictions without a thread pool per call (training.local's predictors)."""
    booster = getattr(predict, "booster", None)
    if booster is not None:  # XGBoostPredictor: no DMatrix, one thread
        booster = booster.copy()
        booster.set_param({"nthread": 1})
        return booster.inplace_predict
    model = getattr(predict, "model", None)
    if model is not None and hasattr(model, "n_jobs") and hasattr(model, "kneighbors"):
        model = copy.copy(model)  # KnnPredictor: joblib's workers cost more than the search
        model.n_jobs = 1
        return model.predict
    return predict


class LocalRuntime(LoopbackServer):
    """`overhead_s` stands for a machine too busy to serve on time: a delay before any
    model runs, the same for every endpoint (tests use it to saturate the rehearsal)."""

    def __init__(self, account: str, overhead_s: float = 0.0):
        self.endpoints: dict[str, Deployed] = {}
        self.invocations: dict[str, int] = {}
        self.service: dict[str, list[float]] = {}  # endpoint -> seconds in its model
        self._lock = threading.Lock()
        runtime = self

        class Handler(KeepAliveHandler):
            def do_POST(self):
                name = self.path.split("/")[2]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if overhead_s:
                    time.sleep(overhead_s)
                endpoint = runtime.endpoints.get(name)
                started = time.perf_counter()
                try:
                    if endpoint is None:
                        return self._send(400, "application/json", json.dumps({
                            "__type": "ValidationError",
                            "message": f"Endpoint {name} of account {account} not found."
                        }).encode(), error="ValidationError")
                    if endpoint.delay_s:
                        time.sleep(endpoint.delay_s)
                    if endpoint.garbage:
                        return self._send(200, "text/csv", b"no idea\n")
                    features = np.array([[float(v) for v in body.decode().split(",")]])
                    content = answer(endpoint.algorithm, float(endpoint.predict(features)[0]))
                finally:
                    runtime._served(name, time.perf_counter() - started)
                self._send(200, *content)

            def _send(self, status: int, content_type: str, data: bytes,
                      error: str | None = None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    if error:
                        self.send_header("x-amzn-ErrorType", error)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the caller gave up: a slow endpoint's fate

        super().__init__(Handler)

    def _served(self, name: str, seconds: float) -> None:
        with self._lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
            self.service.setdefault(name, []).append(seconds)

    @property
    def url(self) -> str:
        return self.base_url

    def deploy(self, name: str, endpoint: Deployed) -> None:
        endpoint.predict = single_threaded(endpoint.predict)
        self.endpoints[name] = endpoint

    def take_service(self) -> dict[str, list[float]]:
        """Seconds each endpoint spent in its model since the last call; start afresh."""
        with self._lock:
            taken, self.service = self.service, {}
        return taken
