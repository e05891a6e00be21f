"""Lab 3 live inference Lambda: API Gateway `GET /<stage>/liveinference?features=...`.

It validates the 12 features, asks the participant's SageMaker endpoint for a prediction
(text/csv), and answers with one JSON shape whichever built-in algorithm serves it:
XGBoost's CSV lines, k-NN's `predicted_label` or Linear Learner's `score` JSON.

Status codes: 200 prediction, 400 bad features (not 12 numbers, or a value outside the
FC's bounds, the same bounds the collection path checks), 502 the model failed, gave an
unreadable or implausible answer (over MAX_ANSWER_BYTES, nested deeper than
MAX_ANSWER_DEPTH, not a finite duration in answers.PLAUSIBLE_MS) or its answer was cut
off, 503 the endpoint is missing, not in service or overloaded, 504 it did not answer
in time (the body included), 500 anything unforeseen. Every error has a message; every request logs one JSON line.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from handlers import answers, clients, fc_samples
from handlers.environment import Environment
from handlers.log import log

MAX_FEATURES_CHARS = 1024
MAX_LOGGED_BODY_CHARS = 500
# One row's answer is tens of bytes in every built-in algorithm's format.
MAX_ANSWER_BYTES = 16 * 1024
MAX_ANSWER_DEPTH = 3  # {"predictions": [{"score": x}]}
# One attempt, bounded: the FC asks again 200 ms later, a retry would only pile up.
ENDPOINT_CONFIG = Config(connect_timeout=1, read_timeout=3,
                         retries={"mode": "standard", "total_max_attempts": 1})
BUSY_CODES = {"ThrottlingException", "ServiceUnavailable", "InternalFailure",
              "ModelNotReadyException"}

class Failure(Exception):
    """A request that ends with an error response."""

    def __init__(self, status: int, outcome: str, message: str):
        super().__init__(message)
        self.status, self.outcome, self.message = status, outcome, message


@dataclass(frozen=True)
class Settings(Environment):
    endpoint_name: str  # the participant's SageMaker endpoint
    participant: str | None = None  # for the log line


def runtime_client():
    return clients.client("sagemaker-runtime", ENDPOINT_CONFIG)


def parse_features(event: Mapping[str, Any]) -> list[float]:
    """The 12 features from the query string, or a 400 that says what is wrong."""
    raw = (event.get("queryStringParameters") or {}).get("features")
    expected = f"{fc_samples.N_FEATURES} comma-separated numbers ({', '.join(fc_samples.FEATURES)})"
    if raw is None or not raw.strip():
        raise Failure(400, "bad_request", f"missing query parameter 'features': {expected}")
    if len(raw) > MAX_FEATURES_CHARS:
        raise Failure(400, "bad_request",
                      f"'features' is {len(raw)} characters long; at most {MAX_FEATURES_CHARS}")
    parts = raw.split(",")
    if len(parts) != fc_samples.N_FEATURES:
        raise Failure(400, "bad_request", f"'features' must be {expected}; got {len(parts)} values")
    values = []
    for position, (name, text) in enumerate(zip(fc_samples.FEATURES, parts), start=1):
        try:
            value = float(text)
        except ValueError:
            raise Failure(400, "bad_request", f"feature {position} ({name}) is not a number: "
                                              f"{text.strip()[:20]!r}") from None
        if not math.isfinite(value):
            raise Failure(400, "bad_request", f"feature {position} ({name}) is not finite")
        low, high = fc_samples.BOUNDS[name]
        if not low <= value <= high:
            raise Failure(400, "bad_request", f"feature {position} ({name}) is "
                                              f"{fc_samples.format_number(value)}, outside "
                                              f"[{low}, {high}]")
        values.append(value)
    return values


def _single(predictions: Any) -> Any:
    if isinstance(predictions, list):
        if len(predictions) != 1:
            raise ValueError(f"expected one prediction, got {len(predictions)}")
        return predictions[0]
    return predictions


def prediction_from(body: bytes) -> float:
    """The predicted duration from any built-in algorithm's answer; ValueError if none."""
    if len(body) > MAX_ANSWER_BYTES:
        raise ValueError(f"the answer is over {MAX_ANSWER_BYTES} bytes")
    text = body.decode("utf-8").strip()
    if not text:
        raise ValueError("empty answer")
    if text[0] in "{[":
        answer = answers.loads(text, MAX_ANSWER_DEPTH)
        if isinstance(answer, dict) and "predictions" in answer:
            answer = answer["predictions"]
        answer = _single(answer)
        if isinstance(answer, dict):
            answer = answer.get("score", answer.get("predicted_label"))
        answer = _single(answer)
    else:
        lines = text.splitlines()
        if len(lines) != 1:
            raise ValueError(f"expected one prediction, got {len(lines)} lines")
        answer = lines[0].split(",")[0]
    return answers.duration(answer)


def _endpoint_failure(error: ClientError, endpoint: str) -> Failure:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if code == "ValidationError" and "not found" in message:
        return Failure(503, "endpoint_missing", f"your endpoint {endpoint} is not deployed yet")
    if code == "ValidationError" and "not in service" in message.lower():
        return Failure(503, "endpoint_not_ready", f"your endpoint {endpoint} is not in service yet")
    if code in BUSY_CODES:
        return Failure(503, "endpoint_busy", f"your endpoint {endpoint} is busy ({code})")
    if code == "ModelError":
        return Failure(502, "model_error", f"your model failed: {message[:200]}")
    return Failure(502, "endpoint_error", f"calling {endpoint} failed: {code} {message[:200]}")


def predict(client, endpoint: str, features: list[float]) -> float:
    body = ",".join(fc_samples.format_number(v) for v in features)
    try:
        response = client.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=body)
    except ClientError as error:
        raise _endpoint_failure(error, endpoint) from None
    except (ReadTimeoutError, ConnectTimeoutError):
        raise Failure(504, "timeout", f"your endpoint {endpoint} did not answer in time") from None
    except BotoConnectionError as error:
        raise Failure(503, "endpoint_unreachable", f"cannot reach {endpoint}: {error}") from None
    raw = read_answer(response, endpoint)
    try:
        return prediction_from(raw)
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        log("unparseable_answer", endpoint=endpoint, reason=str(error),
            content_type=response.get("ContentType"),
            body=raw[:MAX_LOGGED_BODY_CHARS].decode("utf-8", "replace"))
        raise Failure(502, "bad_answer", f"your model's answer could not be read: {error}") from None


def read_answer(response: dict, endpoint: str) -> bytes:
    """The endpoint's body, at most MAX_ANSWER_BYTES + 1 of it: the body streams after
    the status, so a stall or a cut can happen here, after invoke_endpoint returned."""
    body, chunks, size = response["Body"], [], 0
    try:
        while size <= MAX_ANSWER_BYTES:  # to the end, where botocore checks the length
            chunk = body.read(MAX_ANSWER_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except ReadTimeoutError:
        raise Failure(504, "timeout", f"your endpoint {endpoint} stopped answering "
                                      "halfway") from None
    except (IncompleteReadError, ResponseStreamingError, BotoConnectionError,
            ConnectionError) as error:
        raise Failure(502, "cut_off", f"your endpoint {endpoint}'s answer was cut off "
                                      f"({type(error).__name__})") from None
    except OSError as error:  # a socket timeout not wrapped by botocore
        if isinstance(error, TimeoutError):
            raise Failure(504, "timeout", f"your endpoint {endpoint} stopped answering "
                                          "halfway") from None
        raise Failure(502, "cut_off", f"your endpoint {endpoint}'s answer was cut off "
                                      f"({type(error).__name__})") from None


def respond(status: int, payload: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(payload)}


def handle(event: Mapping[str, Any], settings: Settings, client=None,
           clock: Callable[[], float] = time.perf_counter) -> dict:
    """One API Gateway proxy request, for the participant described by `settings`."""
    start = clock()
    endpoint, participant = settings.endpoint_name, settings.participant
    try:
        features = parse_features(event)
        duration = predict(client or runtime_client(), endpoint, features)
        status, outcome, payload = 200, "ok", {"duration_ms": duration}
    except Failure as failure:
        status, outcome, payload = failure.status, failure.outcome, {"error": failure.message}
    except Exception as error:
        status, outcome = 500, "internal_error"
        payload = {"error": f"the inference function failed ({type(error).__name__})"}
    log("inference", participant=participant, endpoint=endpoint, status=status, outcome=outcome,
        latency_ms=round(1000 * (clock() - start), 2))
    return respond(status, payload)


def handler(event: dict, context: Any | None = None) -> dict:
    return handle(event, Settings.from_environment(os.environ))
