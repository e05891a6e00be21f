"""The live inference handler's own cost per request, endpoint call excluded.

Times `live_inference.handle` (validation, the call through a stub client that answers
at once, normalisation, the JSON response and its log line) against a bare handler that
returns a constant, in the same run, for each algorithm's answer format.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

from handlers import live_inference

PROJECT_DIR = Path(__file__).resolve().parent.parent

REQUESTS = 20_000
EVENT = {"queryStringParameters": {"features": "5100,200,100,50,1,300,700,300,200,400,50,40"}}
SETTINGS = live_inference.Settings(endpoint_name="aim368-ada-endpoint", participant="ada")
ANSWERS = {"XGBoost (CSV)": b"6543.21\n",
           "Linear Learner (JSON score)": b'{"predictions": [{"score": 6543.21}]}',
           "k-NN (JSON predicted_label)": b'{"predictions": [{"predicted_label": 6543.21}]}'}


class InstantEndpoint:
    def __init__(self, body: bytes):
        self.body = body

    def invoke_endpoint(self, **kwargs):
        return {"Body": io.BytesIO(self.body), "ContentType": "text/csv"}


def bare_handler(event, context):
    return {"statusCode": 200, "body": "6543.21"}


def _per_request_us(call) -> float:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):  # the log line is part of the cost
        start = time.perf_counter()
        for _ in range(REQUESTS):
            call()
        elapsed = time.perf_counter() - start
    return 1e6 * elapsed / REQUESTS


def main() -> list[dict]:
    bare = min(_per_request_us(lambda: bare_handler(EVENT, None)) for _ in range(3))
    rows = []
    for name, body in ANSWERS.items():
        client = InstantEndpoint(body)
        with contextlib.redirect_stdout(io.StringIO()):
            answer = live_inference.handle(EVENT, SETTINGS, client=client)
        assert json.loads(answer["body"]) == {"duration_ms": 6543.21}
        us = min(_per_request_us(lambda c=client: live_inference.handle(EVENT, SETTINGS, client=c))
                 for _ in range(3))
        rows.append({"answer": name, "handler_us": round(us, 1), "bare_us": round(bare, 2),
                     "ratio": round(us / bare, 1)})
    print("\nLive inference handler overhead per request (endpoint call excluded)")
    print("| answer format | handler µs | bare handler µs | ratio |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['answer']} | {r['handler_us']} | {r['bare_us']} | {r['ratio']} |")
    return rows


if __name__ == "__main__":
    main()
