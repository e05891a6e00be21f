"""A local SageMaker runtime: `POST /endpoints/<name>/invocations` on 127.0.0.1.

Each deployed endpoint answers in its algorithm's real output format (XGBoost: CSV lines;
k-NN: `predicted_label` JSON; Linear Learner: `score` JSON), so the inference handler's
normalisation is exercised. A missing endpoint answers like SageMaker does. Faults on
demand: a slow endpoint, or one that answers garbage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Callable, Optional

import numpy as np

from tools.loopback import LoopbackServer


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


class LocalRuntime(LoopbackServer):
    def __init__(self, account: str):
        self.endpoints: dict[str, Deployed] = {}
        self.invocations: dict[str, int] = {}
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                name = self.path.split("/")[2]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                runtime.invocations[name] = runtime.invocations.get(name, 0) + 1
                endpoint = runtime.endpoints.get(name)
                if endpoint is None:
                    return self._send(400, "application/json", json.dumps({
                        "__type": "ValidationError",
                        "message": f"Endpoint {name} of account {account} not found."}).encode(),
                        error="ValidationError")
                if endpoint.delay_s:
                    time.sleep(endpoint.delay_s)
                if endpoint.garbage:
                    return self._send(200, "text/csv", b"no idea\n")
                features = np.array([[float(v) for v in body.decode().split(",")]])
                self._send(200, *answer(endpoint.algorithm, float(endpoint.predict(features)[0])))

            def _send(self, status: int, content_type: str, data: bytes,
                      error: Optional[str] = None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    if error:
                        self.send_header("x-amzn-ErrorType", error)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up: a slow endpoint's fate

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return self.base_url

    def deploy(self, name: str, endpoint: Deployed) -> None:
        self.endpoints[name] = endpoint
