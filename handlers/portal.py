"""The participant portal: a public Lambda Function URL (payload format 2.0).

Every participant holds a secret join code (on their printed card, as a link). The portal
never stores codes: it reads a participant directory (a JSON object in a private S3
object) that maps sha256(code) to the participant's record, and looks a presented code up
by its hash. Routes (the code is in the path, so a link on a card is enough):

GET  /                       asks for a code (a form; no script needed)
GET  /join?code=<code>       303 to /p/<code> (what the form submits)
GET  /p/<code>               the participant's own page; spends nothing, so link previews
                             and prefetchers that fetch it cost nothing
GET  /p/<code>/status        JSON: samples, endpoint and model, live URL, rank and RMSE,
                             error classes of the last 5 minutes
GET  /p/<code>/notebook      JSON: the notebook's status (read-only, for polling)
POST /p/<code>/notebook      a fresh presigned notebook URL, or starts a stopped notebook
POST /p/<code>/console       a federated console sign-in URL into their console role

Statuses: 200, 202 (notebook starting), 303, 400, 404 (no such page, or a wrong code: the
same body for every wrong code), 405, 413, 414, 429 (too many attempts), 502 (AWS refused),
503 (the portal is misconfigured). Never a traceback.

Why the directory is an S3 object: Lambda environment variables are limited to 4 KB in
total and SSM parameters to 4 KB (8 KB advanced), both too small for 100+ records; an S3
object has no practical limit, is readable only by the portal's role, and `pulumi up`
rewrites it when a code rotates. It is re-read every DIRECTORY_TTL_SECONDS, so a rotated
code's old hash stops working within that time without a redeploy.

Why plain sha256 and not an HMAC: codes are 128+ random bits, so a leaked directory cannot
be inverted by search; a server secret would add key management and protect nothing more.

Rate limits are token buckets in memory, per execution environment (no DynamoDB write per
request): wrong codes per source IP and across all IPs, and actions per participant. The
component caps the function's reserved concurrency, so the effective global cap is at most
that many times the per-environment one. A venue behind one NAT address is fine: only
wrong codes count against an IP, and valid codes are never refused for the IP's sake.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import re
import shlex
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handlers import fc_samples, leaderboard, scoring
from handlers.environment import Environment, SettingsError
from handlers.log import log

# --- Join codes -------------------------------------------------------------------------

CODE_BYTES = 16  # 128 bits; access.codes makes codes with secrets.token_urlsafe(CODE_BYTES)
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# Compared against when a presented code matches nothing, so every lookup does the same work.
_NO_MATCH = "0" * 64


def code_hash(code: str) -> str:
    """What the directory stores for a code; access.codes imports this very function."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


# --- Settings -----------------------------------------------------------------------------


# (low, high) for the numeric settings; the AWS ranges are cited where they come from AWS.
RANGES = {
    # CreatePresignedNotebookInstanceUrl: SessionExpirationDurationInSeconds 1800-43200.
    "notebook_session_seconds": (1800, 43200),
    # The federation endpoint's SessionDuration for AssumeRole credentials: 900-43200.
    "console_session_seconds": (900, 43200),
    "directory_ttl_seconds": (1, 3600),
    "wrong_codes_per_minute_per_ip": (1, 10_000),
    "wrong_codes_per_minute": (1, 100_000),
    "actions_per_minute": (1, 10_000),
    "window_minutes": (1, 60),
    "history_minutes": (1, 24 * 60),
    "min_successes": (0, 1_000_000),
    "failing_error_rate": (0.0, 1.0),
}
FEDERATION_ENDPOINT = "https://signin.aws.amazon.com/federation"


@dataclass(frozen=True)
class Settings(Environment):
    """The portal's environment (the component writes it; `read` parses and checks it)."""

    event: str
    directory_bucket: str
    directory_key: str
    table_name: str
    directory_ttl_seconds: int = 60
    notebook_session_seconds: int = 3600
    console_session_seconds: int = 3600
    federation_endpoint: str = FEDERATION_ENDPOINT
    wrong_codes_per_minute_per_ip: int = 10
    wrong_codes_per_minute: int = 300
    actions_per_minute: int = 30
    # The leaderboard's ranking, so the rank shown here is the one on the big screen.
    window_minutes: int = 5
    history_minutes: int = 60
    min_successes: int = 20
    failing_error_rate: float = 0.2
    reveal_private: bool = False

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Settings:
        """Parse the environment and check every range; one SettingsError naming every problem."""
        problems = _value_problems(env)
        try:
            settings = cls.from_environment(env)
        except SettingsError as error:
            raise SettingsError("; ".join([str(error), *problems])) from None
        if problems:
            raise SettingsError(f"{cls.__module__}.{cls.__name__}: " + "; ".join(problems))
        return settings

    def ranking(self) -> leaderboard.Settings:
        """The leaderboard's own settings for the ranking this portal shows."""
        return leaderboard.Settings(
            table_name=self.table_name, event=self.event, window_minutes=self.window_minutes,
            history_minutes=self.history_minutes, min_successes=self.min_successes,
            failing_error_rate=self.failing_error_rate,
            refresh_seconds=0,  # the page's reload period: no page is rendered here
            reveal_private=self.reveal_private)


def _value_problems(env: Mapping[str, str]) -> list[str]:
    """Values that parse but lie outside their range (unparsable ones are from_environment's)."""
    problems = []
    variables = Settings.variables()
    for field_name, (low, high) in RANGES.items():
        text = env.get(variables[field_name])
        if text is None:
            continue
        try:
            value = type(low)(text)
        except ValueError:
            continue
        if not low <= value <= high:
            problems.append(f"{variables[field_name]}={text} is outside {low}-{high}")
    endpoint = env.get(variables["federation_endpoint"], FEDERATION_ENDPOINT)
    if not _safe_endpoint(endpoint):
        # Credentials travel in its query string: only HTTPS, or the loopback stand-in.
        problems.append(f"{variables['federation_endpoint']}={endpoint!r} must be https:// "
                        "(or http://127.0.0.1 for a local stand-in)")
    return problems


def _safe_endpoint(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return bool(parts.netloc) and (parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname == "127.0.0.1"))


# --- The participant directory -------------------------------------------------------------

RECORD_FIELDS = ("id", "name", "notebook", "endpoint", "inference_url", "region",
                 "console_role_arn", "leaderboard_url")
OPTIONAL_RECORD_FIELDS = ("account",)
# Where their samples are: the bucket itself (one stack), or the SSM parameter their own
# stack publishes its auto-named bucket under (a stack per participant). Exactly one.
BUCKET_FIELDS = ("bucket", "bucket_parameter")


class DirectoryError(ValueError):
    """The directory object is missing or malformed (an organizer's problem, not a visitor's)."""


def directory_problems(document: Any) -> list[str]:
    """Every reason a directory document is unusable; [] if it is fine."""
    if not isinstance(document, dict) or not isinstance(document.get("participants"), dict):
        return ["the directory must be an object with a 'participants' object"]
    problems, ids = [], {}
    for key, record in document["participants"].items():
        if not HASH_PATTERN.match(key):
            problems.append(f"key {key[:12]!r}... is not a hex sha256")
        if not isinstance(record, dict):
            problems.append(f"record under {key[:12]}... is not an object")
            continue
        missing = [f for f in RECORD_FIELDS if not isinstance(record.get(f), str) or not record[f]]
        unknown = sorted(set(record) - set(RECORD_FIELDS) - set(OPTIONAL_RECORD_FIELDS)
                         - set(BUCKET_FIELDS))
        label = f"record {record.get('id')!r}"
        if missing:
            problems.append(f"{label}: missing or empty {', '.join(missing)}")
        where = [f for f in BUCKET_FIELDS if isinstance(record.get(f), str) and record[f]]
        if len(where) != 1:
            problems.append(f"{label}: needs exactly one of {', '.join(BUCKET_FIELDS)}")
        if unknown:
            problems.append(f"{label}: unknown fields {', '.join(unknown)}")
        if record.get("id") in ids:
            problems.append(f"{label}: appears under two codes")
        ids[record.get("id")] = key
    return problems


class Directory:
    """sha256(code) -> record, re-read from S3 after `ttl_seconds`."""

    def __init__(self, s3, bucket: str, key: str, ttl_seconds: int,
                 clock: Callable[[], float] = time.monotonic):
        self._s3, self._bucket, self._key, self._ttl = s3, bucket, key, ttl_seconds
        self._clock = clock
        self._records: dict[str, dict] | None = None
        self._loaded_at = 0.0

    def _records_now(self) -> dict[str, dict]:
        if self._records is None or self._clock() - self._loaded_at >= self._ttl:
            try:
                body = self._s3.get_object(Bucket=self._bucket, Key=self._key)["Body"].read()
                document = json.loads(body)
            except (ClientError, BotoCoreError, ValueError) as error:
                raise DirectoryError(f"cannot read the directory: {type(error).__name__}") from None
            problems = directory_problems(document)
            if problems:
                raise DirectoryError("; ".join(problems))
            self._records, self._loaded_at = document["participants"], self._clock()
        return self._records

    def find(self, code: str) -> dict | None:
        """The record for a presented code, or None; the same work whether it matches or not."""
        presented = code_hash(code)
        record = self._records_now().get(presented)
        expected = presented if record is not None else _NO_MATCH
        # The lookup keys on the hash, so its timing says nothing about the code; the final
        # comparison is constant-time whatever was presented.
        return record if hmac.compare_digest(expected, presented) and record else None


# --- Rate limits ---------------------------------------------------------------------------


class RateLimiter:
    """Token buckets per key (at most `max_keys`, least recently used dropped) and one global."""

    def __init__(self, per_key_per_minute: int, global_per_minute: int | None,
                 clock: Callable[[], float], max_keys: int = 10_000):
        self._rate, self._global_rate = per_key_per_minute / 60, (global_per_minute or 0) / 60
        self._burst, self._global_burst = float(per_key_per_minute), float(global_per_minute or 0)
        self._clock, self._max_keys = clock, max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._global = (self._global_burst, clock())

    @staticmethod
    def _refill(bucket: tuple[float, float], rate: float, burst: float, now: float) -> float:
        tokens, then = bucket
        return min(burst, tokens + (now - then) * rate)

    def allow(self, key: str) -> bool:
        """Spend one token of `key` (and one global); False if either is empty."""
        now = self._clock()
        tokens = self._refill(self._buckets.pop(key, (self._burst, now)), self._rate,
                              self._burst, now)
        global_tokens = (self._refill(self._global, self._global_rate, self._global_burst, now)
                         if self._global_burst else None)
        allowed = tokens >= 1 and (global_tokens is None or global_tokens >= 1)
        if allowed:
            tokens -= 1
            if global_tokens is not None:
                global_tokens -= 1
        self._buckets[key] = (tokens, now)
        if global_tokens is not None:
            self._global = (global_tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)


# --- Responses -----------------------------------------------------------------------------

MAX_PATH_CHARS = 512
MAX_BODY_BYTES = 4096


class Reply(Exception):
    """Ends a request with this status and body."""

    def __init__(self, status: int, outcome: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.outcome, self.message = status, outcome, message
        self.headers = headers or {}


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


STYLE = """
:root{color-scheme:light dark;--fg:#0f172a;--bg:#f8fafc;--card:#fff;--muted:#475569;--acc:#1d4ed8;--bad:#b91c1c}
@media (prefers-color-scheme:dark){:root{--fg:#f1f5f9;--bg:#0f172a;--card:#1e293b;--muted:#94a3b8;--acc:#93c5fd;--bad:#fca5a5}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:46rem;margin:0 auto}
h1{font-size:1.6rem;margin:.5rem 0;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:0 0 .5rem}
section{background:var(--card);border-radius:.75rem;padding:1rem;margin:1rem 0;box-shadow:0 1px 3px rgba(0,0,0,.15)}
.muted{color:var(--muted)}
.bad{color:var(--bad)}
button,input{font:inherit}
button{background:var(--acc);color:var(--bg);border:0;border-radius:.5rem;padding:.7rem 1rem;margin:.25rem .5rem .25rem 0;cursor:pointer;min-height:2.75rem}
button.small{padding:.3rem .6rem;min-height:2rem;font-size:.9rem}
button:disabled{opacity:.6;cursor:wait}
input{padding:.6rem;border-radius:.5rem;border:1px solid var(--muted);width:100%;max-width:24rem;background:var(--bg);color:var(--fg)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;overflow-wrap:anywhere;white-space:pre-wrap}
pre{background:var(--bg);padding:.6rem;border-radius:.5rem;margin:.4rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
ul{padding-left:1.2rem;margin:.3rem 0}
a{color:var(--acc)}
@media (max-width:30rem){dl{grid-template-columns:1fr}dd{margin-bottom:.4rem}button{width:100%}}
"""

# The page's only script: it knows its routes from its own address, reads nothing else from
# the server but JSON, and writes every server string with textContent (never as HTML).
SCRIPT = """
"use strict";
const base = location.pathname.replace(/\\/+$/, "");
const $ = (id) => document.getElementById(id);
function text(id, value) { const e = $(id); if (e) { e.textContent = value; } }
async function call(method, route) {
  const response = await fetch(base + route, {method: method, cache: "no-store"});
  let body = {};
  try { body = await response.json(); } catch (e) { body = {message: "unexpected answer"}; }
  return {status: response.status, body: body};
}
let polling = null;
function showNotebook(body) {
  text("notebook-status", body.message || ("Notebook: " + (body.status || "unknown")));
  const busy = ["Pending", "Stopping", "Updating"].includes(body.status);
  if (busy && polling === null) {
    polling = setInterval(async () => {
      const r = await call("GET", "/notebook");
      showNotebook(r.body);
    }, 10000);
  } else if (!busy && polling !== null) { clearInterval(polling); polling = null; }
}
async function open(kind, button) {
  button.disabled = true;
  text(kind + "-status", "Asking AWS\\u2026");
  try {
    const r = await call("POST", "/" + kind);
    if (r.body.url) {
      text(kind + "-status", "Opening\\u2026");
      location.assign(r.body.url);
    } else if (kind === "notebook") { showNotebook(r.body); }
    else { text(kind + "-status", r.body.message || ("error " + r.status)); }
  } catch (e) { text(kind + "-status", "The portal did not answer; try again."); }
  button.disabled = false;
}
function fmt(v, digits) {
  return v === null || v === undefined ? "\\u2013" :
    Number(v).toLocaleString("en-US", {maximumFractionDigits: digits, minimumFractionDigits: digits});
}
function renderStatus(s) {
  if (s.samples) {
    text("samples", s.samples.error ? s.samples.error :
      (s.samples.complete ? "" : "at least ") + fmt(s.samples.files, 0) + " files, " +
      fmt(s.samples.bytes / 1024, 1) + " KB (about " + fmt(s.samples.approx_samples, 0) + " samples)");
  }
  const ep = s.endpoint || {};
  text("endpoint-status", ep.message || ep.status || "\\u2013");
  text("endpoint-model", ep.model || "\\u2013");
  const sc = s.score || {};
  text("rank", sc.rank ? sc.rank + " of " + sc.ranked : "not ranked yet (" + (sc.note || "") + ")");
  text("rmse", fmt(sc.window_rmse, 1) + " ms now, " + fmt(sc.event_rmse, 1) + " ms over the event");
  const list = $("errors");
  list.replaceChildren();
  const errors = (s.errors && s.errors.classes) || [];
  if (!errors.length) {
    const li = document.createElement("li");
    li.textContent = s.errors && s.errors.requests ? "no errors" : "no traffic in the last 5 minutes";
    list.appendChild(li);
  }
  for (const e of errors) {
    const li = document.createElement("li");
    li.textContent = e.count + " \\u00d7 " + e.explanation;
    list.appendChild(li);
  }
  text("updated", "updated " + new Date().toLocaleTimeString());
}
async function refresh() {
  try {
    const r = await call("GET", "/status");
    if (r.status === 200) { renderStatus(r.body); } else { text("updated", r.body.message || ""); }
  } catch (e) { /* keep the last good values */ }
}
for (const b of document.querySelectorAll("button[data-copy]")) {
  b.addEventListener("click", async () => {
    const value = $(b.dataset.copy).textContent;
    try { await navigator.clipboard.writeText(value); b.textContent = "Copied"; }
    catch (e) { const range = document.createRange(); range.selectNodeContents($(b.dataset.copy));
      const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); b.textContent = "Selected"; }
    setTimeout(() => { b.textContent = "Copy"; }, 2000);
  });
}
for (const kind of ["notebook", "console"]) {
  const button = $("open-" + kind);
  if (button) { button.addEventListener("click", () => open(kind, button)); }
}
if ($("errors")) { refresh(); setInterval(refresh, 15000); }
"""

CSP = ("default-src 'none'; script-src " + _csp_hash(SCRIPT) + "; style-src " + _csp_hash(STYLE)
       + "; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def respond(status: int, body: str, content_type: str, extra: dict | None = None) -> dict:
    return {"statusCode": status, "body": body,
            "headers": {"Content-Type": content_type, **SECURITY_HEADERS, **(extra or {})}}


def json_response(status: int, payload: dict, extra: dict | None = None) -> dict:
    return respond(status, json.dumps(payload), "application/json", extra)


def _document(title: str, body: str) -> str:
    # The title is the same for everyone: a link preview shows nothing about the holder.
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex, nofollow\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>{body}</main><script>{SCRIPT}</script></body></html>")


def code_form(event: str, notice: str = "") -> str:
    notice_html = f'<p class="bad" id="notice">{html.escape(notice)}</p>' if notice else ""
    return _document(f"{event} workshop", (
        f"<h1>{html.escape(event)} workshop</h1><section><h2>Enter your join code</h2>"
        f"{notice_html}<p class=\"muted\">It is on your card, after <code>/p/</code> in the link."
        "</p><form method=\"get\" action=\"/join\"><label for=\"code\">Join code</label><br>"
        "<input id=\"code\" name=\"code\" autocomplete=\"off\" autocapitalize=\"off\" "
        "spellcheck=\"false\" required maxlength=\"128\"><br>"
        "<button type=\"submit\">Go to my page</button></form></section>"))


WRONG_CODE = "That join link is not valid. Check it against your card, or ask the organizer."


def _row(label: str, value_html: str) -> str:
    return f"<dt>{html.escape(label)}</dt><dd>{value_html}</dd>"


def participant_page(event: str, record: dict, curl: str) -> str:
    e = html.escape
    own_account = record.get("account")
    where = (f"in your own AWS account <code>{e(own_account)}</code>" if own_account
             else "in the event's AWS account")
    leaderboard_link = leaderboard_url(record)
    return _document(f"{event} workshop", (
        f"<h1>Hello, <span id=\"name\">{e(record['name'])}</span></h1>"
        f"<p class=\"muted\">{e(event)} workshop &middot; your resources are {where}, "
        f"region <code>{e(record['region'])}</code>.</p>"
        "<section><h2>Open your tools</h2>"
        "<button id=\"open-notebook\" type=\"button\">Open my notebook</button>"
        "<button id=\"open-console\" type=\"button\">Open the AWS console</button>"
        "<p id=\"notebook-status\" class=\"muted\"></p><p id=\"console-status\" class=\"muted\"></p>"
        f"<p class=\"muted\">Notebook <code>{e(record['notebook'])}</code>. A stopped notebook "
        "(it stops itself when idle) is started for you; that takes about 5 minutes.</p></section>"
        "<section><h2>Your live inference URL</h2>"
        f"<pre id=\"inference-url\">{e(record['inference_url'])}</pre>"
        "<button class=\"small\" type=\"button\" data-copy=\"inference-url\">Copy</button>"
        f"<p class=\"muted\">Try it:</p><pre id=\"curl\">{e(curl)}</pre>"
        "<button class=\"small\" type=\"button\" data-copy=\"curl\">Copy</button></section>"
        "<section><h2>My lab status</h2><dl>"
        + _row("Samples collected", "<span id=\"samples\">&ndash;</span>")
        + _row("Endpoint", f"<code>{e(record['endpoint'])}</code>: "
                           "<span id=\"endpoint-status\">&ndash;</span>")
        + _row("Current model", "<span id=\"endpoint-model\">&ndash;</span>")
        + _row("Rank", "<span id=\"rank\">&ndash;</span>")
        + _row("RMSE", "<span id=\"rmse\">&ndash;</span>")
        + "</dl><h2>Errors in the last 5 minutes</h2><ul id=\"errors\"></ul>"
        f"<p><a id=\"leaderboard\" href=\"{e(leaderboard_link)}\" rel=\"noreferrer\">"
        "The leaderboard</a> <span id=\"updated\" class=\"muted\"></span></p></section>"))


def leaderboard_url(record: dict) -> str:
    split = urllib.parse.urlsplit(record["leaderboard_url"])
    query = urllib.parse.urlencode({"me": record["id"]})
    return urllib.parse.urlunsplit(split._replace(query=query))


# --- Lab status ----------------------------------------------------------------------------

SAMPLES_PREFIX = "samples/"  # where Lab 1's Firehose writes (components/sample_collection.py)
MAX_LIST_PAGES = 3  # bounded cost per status call: at most 3,000 objects counted
ERROR_WINDOW_MINUTES = 5
ERROR_EXPLANATIONS = {
    "http_4xx": "4xx: your API turned the FC's request down (403: wrong URL or stage; "
                "400: your function rejected the features)",
    "http_5xx": "5xx: your function or endpoint failed (503: your endpoint is not deployed "
                "or not in service yet; 502: your model's answer could not be read; "
                "504: your endpoint did not answer in time)",
    "timeout": "timeout: no answer within the FC's time limit (a slow or overloaded endpoint)",
    "unreachable": "unreachable: the FC could not connect to your inference URL at all",
    "bad_answer": "bad answer: a 200 whose body was not {\"duration_ms\": <number>}",
}
EXAMPLE_FEATURES = ",".join(fc_samples.format_number(v)
                            for v in fc_samples.generate(1, seed=368)[0].features)
# The mean CSV row length of the feed, to turn delivered bytes into an approximate count.
MEAN_ROW_BYTES = sum(len(fc_samples.encode(s)) for s in fc_samples.generate(200, seed=1)) / 200


def curl_example(inference_url: str) -> str:
    return f"curl -s {shlex.quote(inference_url + '?features=' + EXAMPLE_FEATURES)}"


def samples_status(s3, bucket: str) -> dict:
    files = size = 0
    token, complete = None, False
    for _ in range(MAX_LIST_PAGES):
        page = s3.list_objects_v2(Bucket=bucket, Prefix=SAMPLES_PREFIX,
                                  **({"ContinuationToken": token} if token else {}))
        files += page.get("KeyCount", 0)
        size += sum(o["Size"] for o in page.get("Contents", []))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated"):
            complete = True
            break
    return {"files": files, "bytes": size, "complete": complete,
            "approx_samples": round(size / MEAN_ROW_BYTES)}


def endpoint_status(sagemaker, endpoint: str) -> dict:
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationException":
            return {"status": "NotDeployed", "model": None,
                    "message": "not deployed yet: deploy a model from your notebook"}
        raise
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    models = [v["ModelName"] for v in config.get("ProductionVariants", [])]
    return {"status": described["EndpointStatus"], "model": ", ".join(models) or None,
            "message": None if described["EndpointStatus"] == "InService"
            else f"{described['EndpointStatus']}: not answering yet"}


def score_status(table, settings: Settings, participant: str, now: datetime) -> dict:
    data = leaderboard.build(table, settings.ranking(), now)
    mine = next((r for r in data["rows"] if r["participant"] == participant), None)
    ranked = sum(1 for r in data["rows"] if r["rank"] is not None)
    if mine is None:
        return {"rank": None, "ranked": ranked, "window_rmse": None, "event_rmse": None,
                "note": "not on the leaderboard's roster"}
    final = settings.reveal_private
    return {"rank": mine["rank"], "ranked": ranked, "window_rmse": mine["window_rmse"],
            "event_rmse": mine["private_event_rmse"] if final else mine["event_rmse"],
            "ranking": data["ranking"],
            "note": None if mine["rank"] else
            f"ranked after {settings.min_successes} good answers in the window"}


def error_status(table, participant: str, now: datetime) -> dict:
    window = leaderboard.participant_window(table, participant, now, ERROR_WINDOW_MINUTES)
    return {"window_minutes": ERROR_WINDOW_MINUTES, "requests": int(window["requests"]),
            "classes": [{"class": c, "count": int(window[c]), "explanation": ERROR_EXPLANATIONS[c]}
                        for c in scoring.ERROR_CLASSES if window[c]]}


# --- The handler ---------------------------------------------------------------------------

NOTEBOOK_MESSAGES = {
    "Pending": "Your notebook is starting (about 5 minutes); this page tells you when it can open.",
    "Stopping": "Your notebook is stopping after being idle; click again once it has stopped.",
    "Stopped": "Your notebook is stopped; click \u201cOpen my notebook\u201d to start it.",
    "Updating": "Your notebook is being updated; it will be ready shortly.",
    "Failed": "Your notebook failed to start; please ask the organizer.",
    "Deleting": "Your notebook is being deleted; please ask the organizer.",
    "InService": "Your notebook is ready: click \u201cOpen my notebook\u201d.",
}

Fetch = Callable[[str], tuple[int, bytes]]
FEDERATION_TIMEOUT_SECONDS = 5


def fetch(url: str) -> tuple[int, bytes]:
    """GET a URL: (status, body); a network failure is a 502 for the caller."""
    try:
        with urllib.request.urlopen(url, timeout=FEDERATION_TIMEOUT_SECONDS) as response:
            return response.status, response.read(65536)
    except urllib.error.HTTPError as error:
        return error.code, b""
    except (urllib.error.URLError, OSError):
        raise Reply(502, "federation_unreachable",
                    "The AWS sign-in service did not answer; try again.") from None


def notebook_console_url(region: str, notebook: str) -> str:
    """The notebook's page in the SageMaker console of its region."""
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/notebook-instances/{urllib.parse.quote(notebook)}")


def _one_line(value: str) -> bool:
    return "\n" not in value and "\r" not in value


@dataclass
class Clients:
    s3: Any
    sagemaker: Any
    sts: Any
    table: Any
    fetch: Fetch = fetch
    ssm: Any = None  # reads a participant stack's published bucket (`bucket_parameter`)

    @classmethod
    def from_boto(cls, settings: Settings) -> Clients:
        config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard"})
        return cls(s3=boto3.client("s3", config=config),
                   sagemaker=boto3.client("sagemaker", config=config),
                   sts=boto3.client("sts", config=config),
                   ssm=boto3.client("ssm", config=config),
                   table=boto3.resource("dynamodb", config=config).Table(settings.table_name))


PARTICIPANT_ROUTES = {"": ("GET",), "status": ("GET",), "notebook": ("GET", "POST"),
                      "console": ("POST",)}
HOST_PATTERN = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")


def _issuer(headers: Mapping[str, Any]) -> str | None:
    """The portal's own address from the Host header, if it is a plain host name."""
    host = {str(k).lower(): v for k, v in headers.items()}.get("host")
    if not isinstance(host, str) or not HOST_PATTERN.match(host):
        return None
    scheme = "http" if host.split(":")[0] == "127.0.0.1" else "https"
    return f"{scheme}://{host}/"


class Portal:
    """One execution environment's portal: settings, clients, directory cache, rate limits."""

    def __init__(self, settings: Settings, clients: Clients,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.settings, self.clients, self.clock, self.now = settings, clients, clock, now
        self.directory = Directory(clients.s3, settings.directory_bucket,
                                   settings.directory_key, settings.directory_ttl_seconds, clock)
        self.wrong_codes = RateLimiter(settings.wrong_codes_per_minute_per_ip,
                                       settings.wrong_codes_per_minute, clock)
        self.actions = RateLimiter(settings.actions_per_minute, None, clock)

    # -- routing

    def handle(self, event: Mapping[str, Any]) -> dict:
        start = self.clock()
        context: dict[str, Any] = {"route": "?", "participant": None}
        try:
            response = self._route(event, context)
            outcome = "ok"
        except Reply as reply:
            response, outcome = self._reply(reply, context), reply.outcome
        except DirectoryError as error:
            log("portal_directory_error", reason=str(error))
            response = json_response(503, {"message": "The portal is not ready; please tell "
                                                      "the organizer."})
            outcome = "directory_error"
        except Exception as error:
            log("portal_failure", route=context["route"], error=type(error).__name__)
            response = json_response(500, {"message": "Something went wrong; try again."})
            outcome = "failure"
        log("portal", route=context["route"], method=context.get("method"),
            participant=context["participant"], status=response["statusCode"], outcome=outcome,
            source_ip=context.get("ip"), latency_ms=round(1000 * (self.clock() - start), 2))
        return response

    def _reply(self, reply: Reply, context: dict) -> dict:
        if context.get("html"):
            body = code_form(self.settings.event, reply.message)
            return respond(reply.status, body, "text/html; charset=utf-8", reply.headers)
        return json_response(reply.status, {"message": reply.message}, reply.headers)

    def _route(self, event: Mapping[str, Any], context: dict) -> dict:
        if not isinstance(event, Mapping):
            raise Reply(400, "bad_request", "not an HTTP request")
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method") or "").upper()
        path = event.get("rawPath")
        context.update(method=method, ip=str(http.get("sourceIp") or "unknown"))
        if not isinstance(path, str) or not path.startswith("/"):
            raise Reply(400, "bad_request", "the request has no path")
        if len(path) > MAX_PATH_CHARS:
            raise Reply(414, "path_too_long", f"the path is over {MAX_PATH_CHARS} characters")
        body = event.get("body") or ""
        if len(body) > MAX_BODY_BYTES:
            raise Reply(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        parts = path.split("/")[1:]
        if path in ("/", "/index.html"):
            context.update(route="/", html=True)
            self._allow(method, "GET")
            return respond(200, code_form(self.settings.event), "text/html; charset=utf-8")
        if parts == ["join"]:
            context.update(route="/join", html=True)
            self._allow(method, "GET")
            query = urllib.parse.parse_qs(event.get("rawQueryString") or "")
            code = (query.get("code") or [""])[-1].strip()
            if not code or not re.fullmatch(r"[A-Za-z0-9_\-]{1,128}", code):
                raise Reply(400, "bad_request", "Enter the code from your card (letters, "
                                                "digits, - and _).")
            return respond(303, "", "text/plain", {"Location": f"/p/{code}"})
        if parts[0] == "p" and 2 <= len(parts) <= 3:
            action = parts[2] if len(parts) == 3 else ""
            known = action in PARTICIPANT_ROUTES
            context.update(route="/p/{code}" + (f"/{action}" if action and known else
                                                "/?" if action else ""), html=not action)
            context["issuer"] = _issuer(event.get("headers") or {})
            return self._participant(parts[1], action, method, context)
        context["route"] = "unknown"
        raise Reply(404, "no_route", "No such page: the portal has / and /p/<your code>.")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise Reply(405, "method_not_allowed", f"use {' or '.join(allowed)} here",
                        {"Allow": ", ".join(allowed)})

    def _participant(self, code: str, action: str, method: str, context: dict) -> dict:
        routes = PARTICIPANT_ROUTES
        # Look the code up first, whatever the route: every wrong code costs the same work.
        record = self.directory.find(code)
        if record is None:
            if not self.wrong_codes.allow(context["ip"]):
                raise Reply(429, "rate_limited", "Too many wrong codes from your network; "
                                                 "wait a minute and try again.",
                            {"Retry-After": "60"})
            raise Reply(404, "wrong_code", WRONG_CODE)
        context["participant"] = record["id"]
        if action not in routes:
            raise Reply(404, "no_route", "No such page under your link.")
        self._allow(method, *routes[action])
        if action == "":
            return respond(200, participant_page(self.settings.event, record,
                                                 curl_example(record["inference_url"])),
                           "text/html; charset=utf-8")
        if not self.actions.allow(record["id"]):
            raise Reply(429, "rate_limited", "Slow down: too many requests for your page; "
                                             "wait a few seconds.", {"Retry-After": "10"})
        if action == "status":
            return json_response(200, self.status(record))
        if action == "notebook":
            return self.notebook(record, start=method == "POST")
        return self.console(record, context.get("issuer"))

    # -- actions

    def status(self, record: dict) -> dict:
        now = self.now()
        own = record.get("account")

        def part(compute: Callable[[], dict]) -> dict:
            try:
                return compute()
            except (ClientError, BotoCoreError) as error:
                log("portal_status_part_failed", participant=record["id"],
                    error=type(error).__name__)
                return {"error": "not available right now"}

        elsewhere = {"error": f"in your own account {own}: see the console"}
        return {
            "participant": record["id"],
            "samples": elsewhere if own else part(
                lambda: samples_status(self.clients.s3, self._bucket_of(record))),
            "endpoint": elsewhere if own else part(
                lambda: endpoint_status(self.clients.sagemaker, record["endpoint"])),
            "inference": {"url": record["inference_url"],
                          "curl": curl_example(record["inference_url"])},
            "score": part(lambda: score_status(self.clients.table, self.settings,
                                               record["id"], now)),
            "errors": part(lambda: error_status(self.clients.table, record["id"], now)),
            "leaderboard_url": leaderboard_url(record),
        }

    def _bucket_of(self, record: dict) -> str:
        """Their samples bucket: in the record, or published by their own stack."""
        if record.get("bucket"):
            return record["bucket"]
        return self.clients.ssm.get_parameter(
            Name=record["bucket_parameter"])["Parameter"]["Value"]

    def notebook(self, record: dict, start: bool) -> dict:
        name, region = record["notebook"], record["region"]
        if record.get("account"):
            # Their own account: they sign in with their own credentials; nothing to spend.
            return json_response(200, {"status": "OwnAccount", "url": notebook_console_url(
                region, name),
                "message": f"Sign in to your account {record['account']} to open it."})
        sagemaker = self.clients.sagemaker
        try:
            status = sagemaker.describe_notebook_instance(
                NotebookInstanceName=name)["NotebookInstanceStatus"]
            if start and status == "InService":
                url = sagemaker.create_presigned_notebook_instance_url(
                    NotebookInstanceName=name,
                    SessionExpirationDurationInSeconds=self.settings.notebook_session_seconds,
                )["AuthorizedUrl"]
                return json_response(200, {"status": status, "url": url})
            if start and status == "Stopped":
                sagemaker.start_notebook_instance(NotebookInstanceName=name)
                return json_response(202, {"status": "Pending", "started": True,
                                           "message": NOTEBOOK_MESSAGES["Pending"]})
        except ClientError as error:
            log("portal_aws_refused", participant=record["id"], call="notebook",
                error=error.response.get("Error", {}).get("Code"))
            raise Reply(502, "aws_refused", "AWS refused to open your notebook; please ask "
                                            "the organizer.") from None
        return json_response(200, {"status": status,
                                   "message": NOTEBOOK_MESSAGES.get(status, status)})

    def console(self, record: dict, issuer: str | None = None) -> dict:
        # Their notebook's page: it needs no List permission, which would show everyone's names.
        destination = notebook_console_url(record["region"], record["notebook"])
        if record.get("account"):
            return json_response(200, {
                "url": f"https://{record['account']}.signin.aws.amazon.com/console",
                "message": f"Sign in to your account {record['account']}."})
        try:
            # No DurationSeconds: the portal's own credentials are a role session, so this is
            # role chaining (at most 1 hour), and AWS documents that a DurationSeconds from a
            # non-IAM-user caller makes the federation call fail. The console session's length
            # is the federation endpoint's SessionDuration instead (900-43200 s).
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html
            credentials = self.clients.sts.assume_role(
                RoleArn=record["console_role_arn"],
                RoleSessionName=record["id"][:64])["Credentials"]
        except ClientError as error:
            log("portal_aws_refused", participant=record["id"], call="assume_role",
                error=error.response.get("Error", {}).get("Code"))
            raise Reply(502, "aws_refused", "AWS refused the console sign-in; please ask the "
                                            "organizer.") from None
        session = json.dumps({"sessionId": credentials["AccessKeyId"],
                              "sessionKey": credentials["SecretAccessKey"],
                              "sessionToken": credentials["SessionToken"]})
        endpoint = self.settings.federation_endpoint
        status, body = self.clients.fetch(endpoint + "?" + urllib.parse.urlencode({
            "Action": "getSigninToken",
            "SessionDuration": str(self.settings.console_session_seconds),
            "Session": session}))
        try:
            token = json.loads(body)["SigninToken"] if status == 200 else None
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token or not _one_line(token):
            log("portal_aws_refused", participant=record["id"], call="getSigninToken",
                error=f"HTTP {status}")
            raise Reply(502, "federation_refused", "The AWS sign-in service refused; try again "
                                                   "in a minute.")
        # Issuer: where the console sends them when the session ends (back to this portal).
        url = endpoint + "?" + urllib.parse.urlencode({
            "Action": "login", **({"Issuer": issuer} if issuer else {}),
            "Destination": destination, "SigninToken": token})
        return json_response(200, {"url": url})


_portal: Portal | None = None


def handler(event: dict, context: Any = None) -> dict:
    global _portal
    if _portal is None:
        settings = Settings.read(os.environ)
        _portal = Portal(settings, Clients.from_boto(settings))
    return _portal.handle(event)
