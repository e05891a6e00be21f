"""A local stand-in for a Lambda Function URL: HTTP on 127.0.0.1 -> a payload 2.0 event.

It turns each request into the event a Function URL sends (rawPath, rawQueryString,
lower-cased headers, base64 body, requestContext.http with method and sourceIp) and the
handler's answer back into HTTP, so a handler can be driven by a browser or a bot exactly
as it will be behind its Function URL. A handler that raises gets the 502 the real URL gives.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tools.loopback import LoopbackServer

FunctionUrlHandler = Callable[[dict], Mapping[str, Any]]


def function_url_event(method: str, target: str, headers: Mapping[str, str], body: bytes,
                       source_ip: str = "127.0.0.1") -> dict:
    """The payload format 2.0 event for one request."""
    url = urlsplit(target)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {"http": {"method": method, "path": url.path or "/",
                                    "protocol": "HTTP/1.1", "sourceIp": source_ip,
                                    "userAgent": headers.get("User-Agent", "")},
                           "requestId": str(uuid.uuid4()), "stage": "$default"},
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


class _Handler(BaseHTTPRequestHandler):
    function: FunctionUrlHandler

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = function_url_event(self.command, self.path, dict(self.headers.items()), body,
                                   self.client_address[0])
        try:
            response = type(self).function(event)
            status, headers = int(response["statusCode"]), dict(response.get("headers") or {})
            payload = response.get("body") or ""
            data = (base64.b64decode(payload) if response.get("isBase64Encoded")
                    else payload.encode("utf-8"))
        except Exception:
            status, headers, data = 502, {"Content-Type": "application/json"}, \
                b'{"Message":"Internal Server Error"}'
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


class LocalFunctionUrl(LoopbackServer):
    """`with LocalFunctionUrl(portal.handle) as url: GET url.base_url + "/"`."""

    def __init__(self, function: FunctionUrlHandler):
        super().__init__(type("FunctionUrl", (_Handler,), {"function": staticmethod(function)}))
