"""A local stand-in for the AWS federation endpoint (signin.aws.amazon.com/federation).

`GET ?Action=getSigninToken&SessionDuration=N&Session=<json credentials>` answers
{"SigninToken": ...}; `GET ?Action=login&...&SigninToken=...` answers a small page that
says which destination the console would open. Every call is recorded (the credentials are
kept only in memory, for the test that checks they were passed), so the rehearsal and the
tests can assert what a participant's click did.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tools.loopback import LoopbackServer

PATH = "/federation"


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict]
    tokens: dict[str, dict]
    lock: threading.Lock

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.calls.append({"path": url.path, **query})
        if url.path != PATH:
            return self._send(404, "not found", "text/plain")
        if query.get("Action") == "getSigninToken":
            try:
                session = json.loads(query["Session"])
                assert {"sessionId", "sessionKey", "sessionToken"} <= set(session)
            except (KeyError, ValueError, AssertionError):
                return self._send(400, "bad Session", "text/plain")
            token = secrets.token_urlsafe(24)
            with self.lock:
                self.tokens[token] = {"session": session,
                                      "duration": query.get("SessionDuration")}
            return self._send(200, json.dumps({"SigninToken": token}), "application/json")
        if query.get("Action") == "login" and query.get("SigninToken") in self.tokens:
            return self._send(200, "<!DOCTYPE html><title>console</title>"
                                   f"<p id=destination>{html.escape(query.get('Destination', ''))}</p>",
                              "text/html")
        return self._send(400, "bad request", "text/plain")


class LocalSignin(LoopbackServer):
    """`with LocalSignin() as signin:` ... `signin.endpoint`, `signin.calls`, `signin.tokens`."""

    def __init__(self):
        self.calls: list[dict] = []
        self.tokens: dict[str, dict] = {}
        super().__init__(type("Signin", (_Handler,), {
            "calls": self.calls, "tokens": self.tokens, "lock": threading.Lock()}))

    @property
    def endpoint(self) -> str:
        return self.base_url + PATH
