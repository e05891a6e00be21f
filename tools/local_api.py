"""A local stand-in for the live inference REST API: `GET /<stage>/liveinference?features=...`.

It listens on 127.0.0.1 only, on a free port, and turns each request into the proxy event
API Gateway would send (query string, stage, stage variables, request context), including
what the API's request validator does before any Lambda runs. Each stage maps to a
handler callable, so one server can front every participant.

Optionally it throttles like a stage's method settings do (a token bucket of rate and
burst), with one bucket per stage *and caller*: a SigV4-signed caller (its access key)
or an API key is a caller of its own, everyone else shares the anonymous bucket. That
models the deployed design where the edge's traffic has its own identity (IAM auth or a
usage plan) and so its own throttle; an unsigned flood uses up only the anonymous one.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools.loopback import KeepAliveHandler, LoopbackServer

RESOURCE = "liveinference"
REQUIRED_PARAMETERS = ("features",)

ProxyHandler = Callable[[dict], Mapping[str, Any]]


def proxy_event(stage: str, query: str, stage_variables: Mapping[str, str] | None = None) -> dict:
    """The event API Gateway's Lambda proxy integration builds for this request."""
    multi = parse_qs(query, keep_blank_values=True)
    return {
        "resource": f"/{RESOURCE}",
        "path": f"/{RESOURCE}",
        "httpMethod": "GET",
        "headers": {},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": None,
        "stageVariables": dict(stage_variables or {}) or None,
        "requestContext": {"stage": stage, "resourcePath": f"/{RESOURCE}", "httpMethod": "GET",
                           "requestId": str(uuid.uuid4()), "path": f"/{stage}/{RESOURCE}"},
        "body": None,
        "isBase64Encoded": False,
    }


def caller_of(headers: Mapping[str, str]) -> str:
    """Who is calling, as API Gateway can tell: a SigV4 access key, an API key, or nobody."""
    authorization = headers.get("Authorization") or ""
    if authorization.startswith("AWS4-HMAC-SHA256 Credential="):
        return "iam:" + authorization.split("Credential=", 1)[1].split("/", 1)[0]
    if headers.get("x-api-key"):
        return "key:" + headers["x-api-key"]
    return "anonymous"


class Throttle:
    """Token buckets of `rate` per second and `burst`, one per (stage, caller)."""

    def __init__(self, limits: Mapping[str, tuple[float, int]], clock=time.monotonic):
        self.limits, self.clock = dict(limits), clock
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()
        self.rejected: dict[tuple[str, str], int] = {}

    def admit(self, stage: str, caller: str) -> bool:
        if stage not in self.limits:
            return True
        rate, burst = self.limits[stage]
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get((stage, caller), [float(burst), now])
            tokens = min(float(burst), tokens + (now - last) * rate)
            admitted = tokens >= 1
            self._buckets[(stage, caller)] = [tokens - 1 if admitted else tokens, now]
            if not admitted:
                self.rejected[(stage, caller)] = self.rejected.get((stage, caller), 0) + 1
            return admitted


class _Handler(KeepAliveHandler):
    routes: dict[str, Route] = {}
    throttle: Throttle | None = None
    # (stage, headers) -> None to let the request in, or why it is refused (403), as a
    # method with AWS_IAM authorization refuses callers before any Lambda runs.
    authorize: Callable[[str, Mapping[str, str]], str | None] | None = None

    def _send(self, status: int, body: str, headers: Mapping[str, str]) -> None:
        data = body.encode("utf-8")
        try:
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller stopped waiting (a timeout on its side): nobody to answer

    def _gateway_error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"message": message}), {})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        route = self.routes.get(parts[0]) if len(parts) == 2 else None
        if route is None or parts[1] != RESOURCE:
            return self._gateway_error(403, "Missing Authentication Token")
        refusal = self.authorize(parts[0], self.headers) if self.authorize else None
        if refusal:
            return self._gateway_error(403, refusal)
        if self.throttle and not self.throttle.admit(parts[0], caller_of(self.headers)):
            return self._gateway_error(429, "Too Many Requests")
        if route.raw is not None:  # a stage that answers on its own terms (rehearsal faults)
            return route.raw(self)
        event = proxy_event(parts[0], url.query, route.stage_variables)
        missing = [p for p in REQUIRED_PARAMETERS if p not in (event["queryStringParameters"] or {})]
        if missing:
            return self._gateway_error(400, f"Missing required request parameters: [{', '.join(missing)}]")
        try:
            response = route.handler(event)
        except Exception:  # what API Gateway answers when the Lambda itself fails
            return self._gateway_error(502, "Internal server error")
        self._send(int(response["statusCode"]), response.get("body") or "",
                   response.get("headers") or {})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep the connection usable
        self._gateway_error(403, "Missing Authentication Token")


class Route:
    def __init__(self, handler: ProxyHandler, stage_variables: Mapping[str, str] | None = None,
                 raw: Callable[[BaseHTTPRequestHandler], None] | None = None):
        self.handler, self.stage_variables, self.raw = handler, stage_variables, raw


class LocalApi(LoopbackServer):
    """`with LocalApi({"ada": Route(fn)}) as api: GET api.url("ada") + "?features=..."`."""

    def __init__(self, routes: Mapping[str, Route], throttle: Throttle | None = None,
                 authorize: Callable[[str, Mapping[str, str]], str | None] | None = None):
        handler = type("Routes", (_Handler,), {"routes": dict(routes), "throttle": throttle,
                                               "authorize": staticmethod(authorize)
                                               if authorize else None})
        super().__init__(handler)
        self.throttle = throttle

    def url(self, stage: str) -> str:
        return f"{self.base_url}/{stage}/{RESOURCE}"
