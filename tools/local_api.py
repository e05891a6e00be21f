"""A local stand-in for the live inference REST API: `GET /<stage>/liveinference?features=...`.

It listens on 127.0.0.1 only, on a free port, and turns each request into the proxy event
API Gateway would send (query string, stage, stage variables, request context), including
what the API's request validator does before any Lambda runs. Each stage maps to a
handler callable, so one server can front every participant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
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


class _Handler(KeepAliveHandler):
    routes: dict[str, Route] = {}

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
    def __init__(self, handler: ProxyHandler, stage_variables: Mapping[str, str] | None = None):
        self.handler, self.stage_variables = handler, stage_variables


class LocalApi(LoopbackServer):
    """`with LocalApi({"ada": Route(fn)}) as api: GET api.url("ada") + "?features=..."`."""

    def __init__(self, routes: Mapping[str, Route]):
        handler = type("Routes", (_Handler,), {"routes": dict(routes)})
        super().__init__(handler)

    def url(self, stage: str) -> str:
        return f"{self.base_url}/{stage}/{RESOURCE}"
