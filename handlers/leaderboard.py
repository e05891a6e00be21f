"""The live leaderboard: a read-only Lambda Function URL behind a CDN (CloudFront).

GET /                  a self-contained HTML page (nothing from elsewhere) that refreshes
                       itself every `refresh_seconds`. Views (query string, also the CDN's
                       cache key): `view=projector` (default) pages through everyone, as
                       many rows as fit the screen, turning every `page_seconds`;
                       `view=list` shows every row; `me=<id>` highlights one participant
                       (list view unless a view is named) and says how they are doing.
GET /leaderboard.json  the same data, the same for every viewer

Cost per request does not grow with the history or the viewers. The scores table holds one
item per (minute, participant) written by the edge, and one roster item per participant
(minute "roster"). A minute the edge no longer writes to ("closed") never changes, so each
execution environment reads it once: its per-participant sums are added to running totals
and subtracted when the minute leaves the history (the cache is bounded by the history).
A request reads only the open minutes (and the roster every ROSTER_TTL_SECONDS); the built
result is kept `result_ttl_seconds`, so viewers that miss the CDN share one build.

Until the reveal the private score is not served at all. The reveal is an SSM parameter
(`reveal_parameter`, "true"/"false") the organizer flips; it is read at most every
REVEAL_TTL_SECONDS, and `reveal_private` is the answer when it cannot be read.
A malformed item (a field that is not a finite, plausible number) is skipped and logged.

Retraining (the fifth lab) shows as a marker, "retrained x2": promoted attempts per
participant, read from the event's retraining table (`retraining_table`). Each participant's
loop keeps ONE `summary` item there (handlers/retraining_store.py: promotions, the latest
attempt's decision and RMSEs), so the leaderboard reads exactly the roster's summary items
with BatchGetItem (100 keys a request): its reads grow with the participants, never with
the attempts anyone makes, and not with the viewers (at most every RETRAINING_TTL_SECONDS
per execution environment).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers import clients, scoring
from handlers.environment import Environment
from handlers.log import log
from handlers.retraining_store import SUMMARY, SUMMARY_FIELDS

ROSTER = "roster"
CLOSED_AFTER_MINUTES = 3  # later than this, no edge run still writes to a minute
ROSTER_TTL_SECONDS = 60  # the roster changes only with a `pulumi up`
REVEAL_TTL_SECONDS = 10  # the organizer's switch shows within this (plus the CDN's TTL)
# Sums over the whole history: exact in integer millionths (the edge stores 6 decimals),
# so adding a minute and later subtracting it leaves no rounding behind.
TOTAL_FIELDS = ("requests", "public_n", "public_sse", "private_n", "private_sse")
SCALE = 1_000_000
MAX_PLAUSIBLE = 1e18  # larger than any real sum over a day; anything beyond is tampering
VIEWS = ("projector", "list")
MAX_ID_CHARS = 64
PRIVATE_FIELDS = ("private_event_rmse", "private_successes")
RETRAINING_TTL_SECONDS = 30  # an attempt takes minutes (a training job): this is fresh enough
BATCH_KEYS = 100  # BatchGetItem's limit per request
BATCH_RETRIES = 3  # rounds for keys DynamoDB leaves unprocessed (throttling), then give up
# What handlers/retraining.py decides, as the page says it.
DECISIONS = {"promoted": "promoted", "kept": "kept", "job_failed": "job failed",
             "job_stopped": "job stopped", "not_started": "not started", "error": "error"}


@dataclass(frozen=True)
class Settings(Environment):
    table_name: str
    event: str
    window_minutes: int  # the live ranking's window
    history_minutes: int  # how far back the whole-event scores reach
    min_successes: int  # successful answers needed to be ranked
    failing_error_rate: float  # above this error rate a participant shows as failing
    refresh_seconds: int  # the page reloads its data this often
    reveal_private: bool = False  # the reveal when the parameter is unset or unreadable
    reveal_parameter: str = ""  # SSM parameter holding "true"/"false": the organizer's switch
    result_ttl_seconds: int = 5  # one build serves every request for this long
    page_seconds: int = 8  # the projector view turns a page this often
    retraining_table: str = ""  # the event's retraining table: "retrained" markers; "": none


def minutes_back(now: datetime, count: int) -> list[str]:
    return [(now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M") for m in range(count)]


# --- Reading the table ----------------------------------------------------------------------


class Reads:
    """What one build asked DynamoDB for (the bench and the tests count it)."""

    def __init__(self):
        self.queries = self.items = 0
        self.batch_gets = 0  # of the retraining table


def _query(table, reads: Reads, minute: str, participant: str | None = None,
           fields: tuple[str, ...] | None = None) -> list[dict]:
    """Raw items ({"N": "1.5"} values) of one minute: a plain client, because boto3's
    resource layer would turn every number into a Decimal, the largest CPU cost here."""
    client = _plain_client(table)
    request: dict[str, Any] = {
        "TableName": table.name, "KeyConditionExpression": "#m = :m",
        "ExpressionAttributeNames": {"#m": "minute"},
        "ExpressionAttributeValues": {":m": {"S": minute}}}
    if participant is not None:
        request["KeyConditionExpression"] += " AND #p = :p"
        request["ExpressionAttributeNames"]["#p"] = "participant"
        request["ExpressionAttributeValues"][":p"] = {"S": participant}
    if fields is not None:
        names = {f"#f{i}": f for i, f in enumerate(fields)}
        request["ExpressionAttributeNames"].update(names)
        request["ExpressionAttributeNames"]["#p"] = "participant"
        request["ProjectionExpression"] = ", ".join(["#p", *names])
    items = []
    while True:
        page = client.query(**request)
        reads.queries += 1
        reads.items += len(page["Items"])
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_plain_clients: dict[tuple[str, str], Any] = {}


def _plain_client(table):
    """A DynamoDB client without the resource layer's (de)serialization, for the same region
    and endpoint as the table (the resource's own client has that layer attached)."""
    meta = table.meta.client.meta
    key = (meta.region_name, meta.endpoint_url)
    if key not in _plain_clients:
        _plain_clients[key] = boto3.client("dynamodb", region_name=meta.region_name,
                                           endpoint_url=meta.endpoint_url)
    return _plain_clients[key]


class Malformed(ValueError):
    pass


def parse_item(item: Mapping[str, Mapping[str, str]]) -> tuple[str, dict[str, float]]:
    """(participant, aggregate fields) of a raw item; Malformed names what is wrong."""
    participant = item.get("participant", {}).get("S")
    if not participant:
        raise Malformed("no participant")
    aggregate = {}
    for name, value in item.items():
        if name not in scoring.FIELDS:
            continue
        if not isinstance(value, Mapping) or "N" not in value:
            raise Malformed(f"{name} is not a number")
        number = float(value["N"])
        if not (math.isfinite(number) and 0 <= number <= MAX_PLAUSIBLE):
            raise Malformed(f"{name}={value['N'][:40]} is out of range")
        aggregate[name] = number
    return participant, aggregate


def parse_items(items: list[dict], minute: str) -> dict[str, dict[str, float]]:
    parsed = {}
    for item in items:
        try:
            participant, aggregate = parse_item(item)
        except (Malformed, ValueError, TypeError, AttributeError) as error:
            log("leaderboard_malformed_item", minute=minute,
                participant=str((item.get("participant") or {}).get("S"))[:80],
                problem=str(error)[:200])
            continue
        parsed[participant] = aggregate
    return parsed


def _totals_of(aggregate: Mapping[str, float]) -> tuple[int, ...]:
    return tuple(round(aggregate.get(f, 0) * SCALE) for f in TOTAL_FIELDS)


@dataclass
class MinuteCache:
    """Per execution environment: closed minutes and their running sums, bounded by the
    history; the roster and the reveal with a short TTL; the last build."""

    table_name: str = ""
    closed: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict)
    total: dict[str, list[int]] = field(default_factory=dict)
    window: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    roster: tuple[float, dict[str, str]] | None = None
    reveal: tuple[float, bool] | None = None
    retraining: tuple[float, dict[str, dict]] | None = None
    built: tuple[tuple, float, dict] | None = None

    def reset_for(self, table_name: str) -> None:
        if table_name != self.table_name:
            self.__init__(table_name=table_name)

    def add(self, minute: str, totals: dict[str, tuple[int, ...]]) -> None:
        self.closed[minute] = totals
        for participant, values in totals.items():
            running = self.total.setdefault(participant, [0] * len(TOTAL_FIELDS))
            for i, value in enumerate(values):
                running[i] += value

    def evict(self, keep: set[str]) -> None:
        for minute in [m for m in self.closed if m not in keep]:
            for participant, values in self.closed.pop(minute).items():
                running = self.total[participant]
                for i, value in enumerate(values):
                    running[i] -= value


_cache = MinuteCache()


def forget() -> None:
    """A fresh execution environment (tests, the bench)."""
    _cache.__init__()
    _plain_clients.clear()


def _roster(table, reads: Reads, cache: MinuteCache, clock: float) -> dict[str, str]:
    if cache.roster and cache.roster[0] > clock:
        return cache.roster[1]
    names = {}
    for item in _query(table, reads, ROSTER):
        participant = item.get("participant", {}).get("S")
        name = item.get("name", {}).get("S") or participant
        if participant:
            names[participant] = name
    cache.roster = (clock + ROSTER_TTL_SECONDS, names)
    return names


# --- Retraining markers ---------------------------------------------------------------------


def _retraining_number(item: Mapping[str, Any], name: str) -> float | None:
    if name not in item:
        return None
    value = item[name]
    if not isinstance(value, Mapping) or "N" not in value:
        raise Malformed(f"{name} is not a number")
    number = float(value["N"])
    if not (math.isfinite(number) and 0 <= number <= MAX_PLAUSIBLE):
        raise Malformed(f"{name}={value['N'][:40]} is out of range")
    return number


def parse_summary(item: Mapping[str, Any]) -> tuple[str, dict | None]:
    """(participant, marker) of a raw summary item, marker None before any promotion;
    Malformed says what is wrong."""
    participant = item.get("participant", {}).get("S")
    if not participant:
        raise Malformed("no participant")
    promotions = _retraining_number(item, "promotions") or 0
    if promotions != int(promotions):
        raise Malformed(f"promotions={promotions} is not a whole number")
    if not promotions:
        return participant, None
    decision = item.get("last_decision", {}).get("S")
    if decision not in DECISIONS:
        raise Malformed(f"decision {str(decision)[:40]!r} is not one of {', '.join(DECISIONS)}")
    return participant, {"promotions": int(promotions), "last_decision": decision,
                         "last_current_rmse": _retraining_number(item, "last_current_rmse"),
                         "last_candidate_rmse": _retraining_number(item, "last_candidate_rmse")}


def markers(items: list[dict]) -> dict[str, dict]:
    """Per participant with at least one promotion: how many, and their latest attempt."""
    found = {}
    for item in items:
        try:
            participant, marker = parse_summary(item)
        except (Malformed, ValueError, TypeError, AttributeError) as error:
            log("leaderboard_malformed_retraining_item",
                participant=str((item.get("participant") or {}).get("S"))[:80],
                problem=str(error)[:200])
            continue
        if marker is not None:
            found[participant] = marker
    return found


def _summaries(table, participants: list[str], reads: Reads) -> list[dict]:
    """The raw summary items of `participants`: ceil(n / 100) BatchGetItem requests (plus
    bounded retries of unprocessed keys), whatever else the table holds."""
    client, names = _plain_client(table), {f"#f{i}": f for i, f in
                                           enumerate(("participant", *SUMMARY_FIELDS))}
    items: list[dict] = []
    for start in range(0, len(participants), BATCH_KEYS):
        pending: dict[str, Any] = {table.name: {
            "Keys": [{"participant": {"S": p}, "record": {"S": SUMMARY}}
                     for p in participants[start:start + BATCH_KEYS]],
            "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}}
        for _ in range(1 + BATCH_RETRIES):
            page = client.batch_get_item(RequestItems=pending)
            reads.batch_gets += 1
            found = page.get("Responses", {}).get(table.name, [])
            reads.items += len(found)
            items += found
            pending = page.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            log("leaderboard_retraining_unprocessed", table=table.name,
                keys=len(pending[table.name]["Keys"]))
    return items


def _retraining(table, participants: list[str], reads: Reads, cache: MinuteCache,
                clock: float) -> dict[str, dict]:
    """The roster's markers from their summary items, kept RETRAINING_TTL_SECONDS.
    Unreadable: the last markers stay (logged); the board is served."""
    if table is None:
        return {}
    if cache.retraining and cache.retraining[0] > clock:
        return cache.retraining[1]
    try:
        found = markers(_summaries(table, participants, reads))
    except (ClientError, BotoCoreError) as error:
        log("leaderboard_retraining_unreadable", table=table.name, error=type(error).__name__)
        found = cache.retraining[1] if cache.retraining else {}
    cache.retraining = (clock + RETRAINING_TTL_SECONDS, found)
    return found


def build(table, settings: Settings, now: datetime, reveal: bool | None = None,
          cache: MinuteCache | None = None, reads: Reads | None = None,
          retraining=None) -> dict:
    """The leaderboard's data: rows ranked live (public window) or, revealed, final
    (private, whole event). Before the reveal no row holds a private field. `retraining`:
    the retraining table (a boto3 Table), for the markers; None: no markers."""
    cache = _cache if cache is None else cache
    reads = Reads() if reads is None else reads
    reveal = settings.reveal_private if reveal is None else reveal
    cache.reset_for(table.name)
    history = minutes_back(now, settings.history_minutes)
    window_minutes = history[:settings.window_minutes]
    names = _roster(table, reads, cache, now.timestamp())
    retrained = _retraining(retraining, list(names), reads, cache, now.timestamp())

    cache.evict(set(history[CLOSED_AFTER_MINUTES:]))
    for minute in [m for m in cache.window if m not in window_minutes]:
        del cache.window[minute]
    for position, minute in enumerate(history[CLOSED_AFTER_MINUTES:], CLOSED_AFTER_MINUTES):
        # A closed minute is read once: in full while it is in the window (rates, latency),
        # otherwise only the fields the whole-event sums need.
        needs_window = position < settings.window_minutes and minute not in cache.window
        if minute in cache.closed and not needs_window:
            continue
        parsed = parse_items(_query(table, reads, minute,
                                    fields=None if needs_window else TOTAL_FIELDS), minute)
        if needs_window:
            cache.window[minute] = parsed
        if minute not in cache.closed:
            cache.add(minute, {p: _totals_of(a) for p, a in parsed.items()})
    open_minutes = {m: parse_items(_query(table, reads, m), m)
                    for m in history[:CLOSED_AFTER_MINUTES]}

    rows = []
    for participant, name in names.items():
        window = scoring.merge(
            [per[participant] for m in window_minutes
             if participant in (per := open_minutes.get(m) or cache.window.get(m, {}))])
        running = list(cache.total.get(participant, [0] * len(TOTAL_FIELDS)))
        for per in open_minutes.values():
            if participant in per:
                for i, value in enumerate(_totals_of(per[participant])):
                    running[i] += value
        total = {f: v / SCALE for f, v in zip(TOTAL_FIELDS, running)}
        row = scoring.leaderboard_row(participant, name, window, total,
                                      settings.failing_error_rate)
        row["retrained"] = retrained.get(participant)
        rows.append(row)
    ranked = scoring.rank(rows, settings.min_successes, scoring.FINAL if reveal else scoring.LIVE)
    if not reveal:
        for row in ranked:
            for private in PRIVATE_FIELDS:
                del row[private]
    return {"event": settings.event, "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "window_minutes": settings.window_minutes, "min_successes": settings.min_successes,
            "revealed": reveal,
            "ranking": "final (private score, whole event)" if reveal else
            f"live (public score, last {settings.window_minutes} minutes)",
            "rows": ranked}


def participant_window(table, participant: str, now: datetime, minutes: int) -> dict:
    """One participant's sums over the last `minutes` minutes: one item per minute."""
    reads, found = Reads(), []
    for minute in minutes_back(now, minutes):
        found += parse_items(_query(table, reads, minute, participant=participant),
                             minute).values()
    return scoring.merge(found)


# --- The reveal switch ----------------------------------------------------------------------


def revealed(ssm, settings: Settings, clock: float, cache: MinuteCache | None = None) -> bool:
    """The organizer's switch, read at most every REVEAL_TTL_SECONDS; the configured value
    when there is no parameter or it cannot be read (logged)."""
    cache = _cache if cache is None else cache
    if not settings.reveal_parameter:
        return settings.reveal_private
    if cache.reveal and cache.reveal[0] > clock:
        return cache.reveal[1]
    try:
        value = ssm.get_parameter(Name=settings.reveal_parameter)["Parameter"]["Value"]
        state = value.strip().lower() in ("true", "on", "yes", "1")
    except (ClientError, BotoCoreError, KeyError) as error:
        log("leaderboard_reveal_unreadable", parameter=settings.reveal_parameter,
            error=type(error).__name__)
        state = settings.reveal_private
    cache.reveal = (clock + REVEAL_TTL_SECONDS, state)
    return state


# --- The page -------------------------------------------------------------------------------


def esc(text: Any) -> str:
    """HTML-escaped for text and quoted attributes alike (& < > " ')."""
    return html.escape(str(text), quote=True)


def script_json(value: Any) -> str:
    """JSON safe inside <script>: no "</script>", no "<!--"."""
    return (json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__EVENT__ leaderboard</title>
<noscript><meta http-equiv="refresh" content="__REFRESH__"></noscript>
<style>
 *{box-sizing:border-box}
 html,body{overflow-x:hidden}
 body{margin:0;padding:1.5vh 2vw;background:#0f172a;color:#f8fafc;
      font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
      font-size:min(2.6vh,1.9vw)}
 h1{font-size:1.8em;margin:0 0 .3em}
 #meta,#pager{color:#94a3b8;font-size:.8em}
 #meta{margin-bottom:.6em}
 #you{margin:.2em 0 .6em;font-size:1.1em}
 table{width:100%;border-collapse:collapse;table-layout:fixed}
 th{text-align:left;color:#94a3b8;font-weight:600;border-bottom:2px solid #334155;padding:.35em .4em}
 td{padding:.35em .4em;border-bottom:1px solid #1e293b;white-space:nowrap;overflow:hidden;
    text-overflow:ellipsis}
 td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
 col.rank{width:6%} col.name{width:20%} col.n{width:9.2%} col.status{width:28%}
 tr.top td{font-weight:700;color:#fde68a}
 tr.me td{background:#1d4ed8;color:#fff}
 .badge{display:inline-block;max-width:100%;overflow:hidden;text-overflow:ellipsis;
        vertical-align:middle;padding:.1em .5em;border-radius:.5em;font-size:.85em;font-weight:700}
 .healthy{background:#166534}.failing{background:#991b1b}.none{background:#475569}
 .retrained{background:#6d28d9;margin-left:.3em}
 tr.off{display:none}
</style></head>
<body data-view="__VIEW__">
<h1>__EVENT__ &middot; leaderboard</h1>
<div id="meta">__META__</div>
<div id="you">__YOU__</div>
<table><colgroup><col class="rank"><col class="name"><col class="n"><col class="n"><col class="n">
<col class="n"><col class="n"><col class="status"></colgroup>
<thead><tr><th>#</th><th>Participant</th><th class="num">RMSE now</th>
<th class="num">RMSE event</th><th class="num">Calls</th><th class="num">Errors</th>
<th class="num">p50</th><th>Status</th></tr></thead>
<tbody id="rows">__ROWS__</tbody></table>
<div id="pager"></div>
<script>
const REFRESH_MS = __REFRESH__ * 1000, PAGE_MS = __PAGE__ * 1000;
const params = new URLSearchParams(location.search);
const ME = params.get("me");
const VIEW = document.body.dataset.view;
let data = __DATA__, page = 0;
function esc(t) {
  return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
}
function fmt(v, digits, suffix) {
  return v === null || v === undefined ? "&ndash;" :
    Number(v).toLocaleString("en-US", {maximumFractionDigits: digits,
                                       minimumFractionDigits: digits}) + (suffix || "");
}
function statusText(r) { return r.reason ? r.status + ": " + r.reason : r.status; }
const DECISIONS = __DECISIONS__;
function retrainedText(r) { return "retrained \u00d7" + r.retrained.promotions; }
function lastAttemptText(m) {
  const rmse = v => v === null || v === undefined ? "?" : fmt(v, 1);
  return "last retraining: " + (DECISIONS[m.last_decision] || "?") +
    (m.last_decision === "promoted" ? " (RMSE " + rmse(m.last_current_rmse) + " \u2192 " +
     rmse(m.last_candidate_rmse) + " ms)" : m.last_candidate_rmse === null ||
     m.last_candidate_rmse === undefined ? "" : " (candidate " + rmse(m.last_candidate_rmse) +
     " ms, current " + rmse(m.last_current_rmse) + " ms)");
}
function retrainedBadge(r) {
  return r.retrained ? ' <span class="badge retrained" title="' + esc(lastAttemptText(r.retrained)) +
    '">' + esc(retrainedText(r)) + "</span>" : "";
}
function badge(r) {
  const cls = r.status === "healthy" ? "healthy" : r.status === "failing" ? "failing" : "none";
  return '<span class="badge ' + cls + '" title="' + esc(statusText(r)) + '">' +
    esc(statusText(r)) + "</span>";
}
function rowHtml(r) {
  const cls = [r.rank === 1 ? "top" : "", r.participant === ME ? "me" : ""].join(" ").trim();
  const event = data.revealed ? r.private_event_rmse : r.event_rmse;
  return '<tr class="' + cls + '" data-participant="' + esc(r.participant) + '">' +
    "<td>" + (r.rank === null ? "&ndash;" : r.rank) + '</td><td title="' + esc(r.name) + '">' +
    esc(r.name) + '</td><td class="num">' + fmt(r.window_rmse, 1) + '</td><td class="num">' +
    fmt(event, 1) + '</td><td class="num">' + fmt(r.requests, 0) + '</td><td class="num">' +
    (r.error_rate === null ? "&ndash;" : fmt(100 * r.error_rate, 1, "%")) +
    '</td><td class="num">' + fmt(r.p50_latency_ms, 0, " ms") + "</td><td>" + badge(r) +
    retrainedBadge(r) + "</td></tr>";
}
function youHtml() {
  if (!ME) { return ""; }
  const r = data.rows.find(x => x.participant === ME);
  if (!r) { return "No participant " + esc(ME) + " on this board."; }
  return "You: " + esc(r.name) + " &middot; " + (r.rank === null ? "not ranked yet (" +
    data.min_successes + " good answers in the window)" : "rank " + r.rank + " of " +
    data.rows.filter(x => x.rank !== null).length) + " &middot; " + esc(statusText(r)) +
    (r.retrained ? " &middot; " + esc(retrainedText(r) + ", " + lastAttemptText(r.retrained)) : "");
}
function render() {
  document.getElementById("meta").textContent = "Ranking: " + data.ranking + " \\u00b7 updated " +
    data.generated_at + " \\u00b7 ranked after " + data.min_successes + " answers";
  document.getElementById("you").innerHTML = youHtml();
  document.getElementById("rows").innerHTML = data.rows.map(rowHtml).join("");
  paginate();
}
// The projector view: as many rows as fit under the header, one page at a time.
function paginate() {
  const rows = Array.from(document.querySelectorAll("#rows tr"));
  const pager = document.getElementById("pager");
  if (VIEW !== "projector" || rows.length === 0) { pager.textContent = ""; return; }
  rows.forEach(r => r.classList.remove("off"));
  const top = document.getElementById("rows").getBoundingClientRect().top;
  const height = rows[0].getBoundingClientRect().height || 1;
  const reserve = pager.getBoundingClientRect().height + height;
  const perPage = Math.max(1, Math.floor((window.innerHeight - top - reserve) / height));
  const pages = Math.ceil(rows.length / perPage);
  page = page % pages;
  rows.forEach((r, i) => r.classList.toggle("off", Math.floor(i / perPage) !== page));
  pager.textContent = "Page " + (page + 1) + " of " + pages + " \\u00b7 " + rows.length +
    " participants \\u00b7 rows " + (page * perPage + 1) + "\\u2013" +
    Math.min(rows.length, (page + 1) * perPage);
  document.body.dataset.page = String(page + 1);
  document.body.dataset.pages = String(pages);
}
async function refresh() {
  try {
    const response = await fetch("leaderboard.json", {cache: "no-store"});
    if (response.ok) { data = await response.json(); render(); }
  } catch (e) { /* keep showing the last good table */ }
}
render();
if (ME && VIEW === "list") {
  const mine = document.querySelector("tr.me");
  if (mine) { mine.scrollIntoView({block: "center"}); }
}
setInterval(refresh, REFRESH_MS);
setInterval(() => { page += 1; paginate(); }, PAGE_MS);
window.addEventListener("resize", paginate);
</script>
</body></html>
"""


def _cell(value: float | None, digits: int, suffix: str = "") -> str:
    return "&ndash;" if value is None else f"{value:,.{digits}f}{suffix}"


def status_text(row: dict) -> str:
    return f"{row['status']}: {row['reason']}" if row.get("reason") else row["status"]


def _rmse_text(value: float | None) -> str:
    return "?" if value is None else f"{value:,.1f}"


def retrained_text(marker: dict) -> str:
    return f"retrained \u00d7{marker['promotions']}"


def last_attempt_text(marker: dict) -> str:
    """The participant's latest retraining attempt, as the page says it (plain text)."""
    decision = DECISIONS.get(marker["last_decision"], "?")
    before, after = marker["last_current_rmse"], marker["last_candidate_rmse"]
    if marker["last_decision"] == "promoted":
        detail = f" (RMSE {_rmse_text(before)} \u2192 {_rmse_text(after)} ms)"
    elif after is not None:
        detail = f" (candidate {_rmse_text(after)} ms, current {_rmse_text(before)} ms)"
    else:
        detail = ""
    return f"last retraining: {decision}{detail}"


def _retrained_badge(row: dict) -> str:
    marker = row.get("retrained")
    if not marker:
        return ""
    return (f' <span class="badge retrained" title="{esc(last_attempt_text(marker))}">'
            f'{esc(retrained_text(marker))}</span>')


def _row_html(row: dict, revealed_: bool, me: str | None) -> str:
    cls = {"healthy": "healthy", "failing": "failing"}.get(row["status"], "none")
    classes = " ".join(c for c in ("top" if row["rank"] == 1 else "",
                                   "me" if row["participant"] == me else "") if c)
    rate = None if row["error_rate"] is None else 100 * row["error_rate"]
    event_rmse = row["private_event_rmse"] if revealed_ else row["event_rmse"]
    status = esc(status_text(row))
    return (f'<tr class="{classes}" data-participant="{esc(row["participant"])}">'
            f'<td>{"&ndash;" if row["rank"] is None else row["rank"]}</td>'
            f'<td title="{esc(row["name"])}">{esc(row["name"])}</td>'
            f'<td class="num">{_cell(row["window_rmse"], 1)}</td>'
            f'<td class="num">{_cell(event_rmse, 1)}</td>'
            f'<td class="num">{row["requests"]:,}</td>'
            f'<td class="num">{_cell(rate, 1, "%")}</td>'
            f'<td class="num">{_cell(row["p50_latency_ms"], 0, " ms")}</td>'
            f'<td><span class="badge {cls}" title="{status}">{status}</span>'
            f'{_retrained_badge(row)}</td></tr>')


def _you_html(data: dict, me: str | None) -> str:
    if not me:
        return ""
    row = next((r for r in data["rows"] if r["participant"] == me), None)
    if row is None:
        return f"No participant {esc(me)} on this board."
    ranked = sum(1 for r in data["rows"] if r["rank"] is not None)
    standing = (f"not ranked yet ({data['min_successes']} good answers in the window)"
                if row["rank"] is None else f"rank {row['rank']} of {ranked}")
    retrained = ""
    if row.get("retrained"):
        marker = row["retrained"]
        retrained = (f" &middot; {esc(retrained_text(marker))}, "
                     f"{esc(last_attempt_text(marker))}")
    return (f"You: {esc(row['name'])} &middot; {standing} &middot; {esc(status_text(row))}"
            f"{retrained}")


def page(data: dict, refresh_seconds: int, view: str = "projector", me: str | None = None,
         page_seconds: int = 8) -> str:
    meta = (f"Ranking: {esc(data['ranking'])} &middot; updated {esc(data['generated_at'])} "
            f"&middot; ranked after {data['min_successes']} answers")
    replacements = {
        "__EVENT__": esc(data["event"]), "__REFRESH__": str(int(refresh_seconds)),
        "__PAGE__": str(int(page_seconds)), "__VIEW__": esc(view), "__META__": meta,
        "__YOU__": _you_html(data, me), "__DATA__": script_json(data),
        "__DECISIONS__": script_json(DECISIONS),
        "__ROWS__": "".join(_row_html(r, data["revealed"], me) for r in data["rows"])}
    return re.sub("|".join(replacements), lambda m: replacements[m.group(0)], PAGE)


# --- The handler ----------------------------------------------------------------------------


class BadRequest(ValueError):
    pass


def view_of(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """(view, me) from the query string; BadRequest names every problem."""
    raw = event.get("rawQueryString")
    if raw is not None:
        query = urllib.parse.parse_qs(raw, keep_blank_values=True)
    else:
        query = {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    problems = []
    me = (query.get("me") or [None])[-1] or None
    if me is not None and len(me) > MAX_ID_CHARS:
        problems.append(f"me: at most {MAX_ID_CHARS} characters")
    view = (query.get("view") or [None])[-1] or ("list" if me else "projector")
    if view not in VIEWS:
        problems.append(f"view: one of {', '.join(VIEWS)}")
    if problems:
        raise BadRequest("; ".join(problems))
    return view, me


def respond(status: int, body: str, content_type: str, max_age: int = 0) -> dict:
    cache = f"public, max-age={max_age}" if max_age else "no-store"
    return {"statusCode": status, "body": body,
            "headers": {"Content-Type": content_type, "Cache-Control": cache}}


def _error(status: int, message: str) -> dict:
    return respond(status, json.dumps({"error": message}), "application/json")


def current(table, settings: Settings, now: datetime, ssm, reads: Reads,
            cache: MinuteCache | None = None, retraining=None) -> dict:
    """The built data, shared by every request for `result_ttl_seconds`."""
    cache = _cache if cache is None else cache
    cache.reset_for(table.name)
    clock = now.timestamp()
    reveal = revealed(ssm, settings, clock, cache)
    key = (table.name, settings, reveal)
    if cache.built and cache.built[0] == key and cache.built[1] > clock:
        return cache.built[2]
    data = build(table, settings, now, reveal, cache, reads, retraining)
    cache.built = (key, clock + settings.result_ttl_seconds, data)
    return data


def handle(event: Mapping[str, Any], settings: Settings, table, ssm=None,
           now: Callable[[], datetime] = lambda: datetime.now(UTC), retraining=None) -> dict:
    """One request; `retraining` is the retraining table (None: no markers)."""
    started, reads = time.process_time(), Reads()
    path = event.get("rawPath") or event.get("path") or "/"
    method = (event.get("requestContext", {}).get("http", {}).get("method")
              or event.get("httpMethod") or "GET")
    response, failure = None, None
    try:
        if method != "GET":
            response = _error(405, "read-only: use GET")
        elif path.rstrip("/").endswith("leaderboard.json"):
            data = current(table, settings, now(), ssm, reads, retraining=retraining)
            response = respond(200, json.dumps(data), "application/json",
                               settings.result_ttl_seconds)
        elif path in ("/", "", "/index.html"):
            view, me = view_of(event)
            data = current(table, settings, now(), ssm, reads, retraining=retraining)
            response = respond(200, page(data, settings.refresh_seconds, view, me,
                                         settings.page_seconds),
                               "text/html; charset=utf-8", settings.result_ttl_seconds)
        else:
            response = _error(404, f"no page {path[:100]}; try / or /leaderboard.json")
    except BadRequest as error:
        response = _error(400, str(error))
    except (ClientError, BotoCoreError) as error:
        failure = type(error).__name__
        response = _error(503, "the scores cannot be read right now; the page retries by itself")
    log("leaderboard", path=path[:100], method=method, status=response["statusCode"],
        queries=reads.queries, batch_gets=reads.batch_gets, items=reads.items, failure=failure,
        cpu_ms=round(1000 * (time.process_time() - started), 2))
    return response


_tables: dict[str, Any] = {}


def _table(name: str):
    if name not in _tables:  # one per execution environment
        _tables[name] = boto3.resource("dynamodb").Table(name)
    return _tables[name]


def handler(event: dict, context: Any = None) -> dict:
    settings = Settings.from_environment(os.environ)
    return handle(event, settings, _table(settings.table_name), ssm=clients.client("ssm"),
                  retraining=_table(settings.retraining_table) if settings.retraining_table
                  else None)
