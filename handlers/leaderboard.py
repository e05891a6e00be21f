"""The live leaderboard: a public, read-only Lambda Function URL.

GET /                  a self-contained HTML page (no CDN, fonts or scripts from elsewhere)
                       that refreshes itself every `refresh_seconds`, big enough for a projector
GET /leaderboard.json  the same data

It reads the scores table: one item per (minute, participant) written by the edge, and
one roster item per participant (minute "roster") with their display name. Minutes that
are over are cached for the life of the Lambda container, so a page view costs a few
queries however long the event has run.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional

import boto3
from boto3.dynamodb.conditions import Key

from handlers import scoring
from handlers.environment import Environment

ROSTER = "roster"
CLOSED_AFTER_MINUTES = 3  # later than this, no edge run still writes to a minute
_closed_minutes: dict[str, list[dict]] = {}


@dataclass(frozen=True)
class Settings(Environment):
    table_name: str
    event: str
    window_minutes: int  # the live ranking's window
    history_minutes: int  # how far back the whole-event scores reach
    min_successes: int  # successful answers needed to be ranked
    failing_error_rate: float  # above this error rate a participant shows as failing
    refresh_seconds: int  # the page reloads itself this often
    reveal_private: bool = False  # rank by the private score over the whole event


def minutes_back(now: datetime, count: int) -> list[str]:
    return [(now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M") for m in range(count)]


def _query(table, minute: str) -> list[dict]:
    items, start = [], None
    while True:
        page = table.query(KeyConditionExpression=Key("minute").eq(minute),
                           **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def items_for(table, minute: str, closed: bool) -> list[dict]:
    if minute in _closed_minutes:
        return _closed_minutes[minute]
    items = _query(table, minute)
    if closed:
        _closed_minutes[minute] = items
    return items


def build(table, settings: Settings, now: datetime) -> dict:
    window_minutes = settings.window_minutes
    history = minutes_back(now, settings.history_minutes)
    names = {i["participant"]: i.get("name", i["participant"]) for i in _query(table, ROSTER)}
    per_minute = {m: items_for(table, m, closed=n >= CLOSED_AFTER_MINUTES)
                  for n, m in enumerate(history)}
    rows = []
    failing = settings.failing_error_rate
    for participant, name in names.items():
        def mine(minutes):
            return [scoring.from_item(i) for m in minutes for i in per_minute[m]
                    if i["participant"] == participant]
        window = scoring.merge(mine(history[:window_minutes]))
        total = scoring.merge(mine(history))
        rows.append(scoring.leaderboard_row(participant, name, window, total, failing))
    reveal = settings.reveal_private
    ranked = scoring.rank(rows, settings.min_successes,
                          scoring.FINAL if reveal else scoring.LIVE)
    return {"event": settings.event, "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "window_minutes": window_minutes, "min_successes": settings.min_successes,
            "ranking": "final (private score, whole event)" if reveal else
            f"live (public score, last {window_minutes} minutes)",
            "rows": ranked}


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__EVENT__ leaderboard</title>
<noscript><meta http-equiv="refresh" content="__REFRESH__"></noscript>
<style>
 body{margin:0;padding:2vh 3vw;background:#0f172a;color:#f8fafc;
      font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
 h1{font-size:5vh;margin:0 0 .5vh}
 #meta{font-size:2.2vh;color:#94a3b8;margin-bottom:2vh}
 table{width:100%;border-collapse:collapse;font-size:3.2vh}
 th{text-align:left;color:#94a3b8;font-weight:600;border-bottom:.3vh solid #334155;padding:.8vh 1vw}
 td{padding:.9vh 1vw;border-bottom:.1vh solid #1e293b}
 td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
 tr.top td{font-weight:700;color:#fde68a}
 .badge{display:inline-block;white-space:nowrap;padding:.3vh 1vw;border-radius:1vh;font-size:2.4vh;font-weight:700}
 .healthy{background:#166534}.failing{background:#991b1b}.none{background:#475569}
</style></head>
<body>
<h1>__EVENT__ &middot; live leaderboard</h1>
<div id="meta">__META__</div>
<table><thead><tr><th>#</th><th>Participant</th><th class="num">RMSE now (ms)</th>
<th class="num">RMSE event (ms)</th><th class="num">Requests</th><th class="num">Errors</th>
<th class="num">p50 latency</th><th>Status</th></tr></thead>
<tbody id="rows">__ROWS__</tbody></table>
<script>
const REFRESH_MS = __REFRESH__ * 1000;
function fmt(v, digits) {
  return v === null || v === undefined ? "&ndash;" :
    Number(v).toLocaleString("en-US", {maximumFractionDigits: digits, minimumFractionDigits: digits});
}
function esc(t) { const d = document.createElement("div"); d.textContent = t; return d.innerHTML; }
function badge(s) {
  const cls = s === "healthy" ? "healthy" : s === "failing" ? "failing" : "none";
  return '<span class="badge ' + cls + '">' + esc(s) + '</span>';
}
function render(data) {
  document.getElementById("meta").textContent = "Ranking: " + data.ranking + " \\u00b7 updated " +
    data.generated_at + " \\u00b7 ranked after " + data.min_successes + " answers";
  document.getElementById("rows").innerHTML = data.rows.map(r =>
    '<tr class="' + (r.rank === 1 ? "top" : "") + '" data-participant="' + esc(r.participant) + '">' +
    "<td>" + (r.rank === null ? "&ndash;" : r.rank) + "</td><td>" + esc(r.name) + "</td>" +
    '<td class="num">' + fmt(r.window_rmse, 1) + '</td><td class="num">' +
    fmt(data.ranking.startsWith("final") ? r.private_event_rmse : r.event_rmse, 1) + "</td>" +
    '<td class="num">' + fmt(r.requests, 0) + '</td><td class="num">' +
    (r.error_rate === null ? "&ndash;" : fmt(100 * r.error_rate, 1) + "%") + "</td>" +
    '<td class="num">' + (r.p50_latency_ms === null ? "&ndash;" : fmt(r.p50_latency_ms, 0) + " ms") +
    "</td><td>" + badge(r.status) + "</td></tr>").join("");
}
async function refresh() {
  try {
    const response = await fetch("leaderboard.json", {cache: "no-store"});
    if (response.ok) { render(await response.json()); }
  } catch (e) { /* keep showing the last good table */ }
}
setInterval(refresh, REFRESH_MS);
</script>
</body></html>
"""


def _cell(value: Optional[float], digits: int, suffix: str = "") -> str:
    return "&ndash;" if value is None else f"{value:,.{digits}f}{suffix}"


def _row_html(row: dict, final: bool) -> str:
    cls = {"healthy": "healthy", "failing": "failing"}.get(row["status"], "none")
    rate = None if row["error_rate"] is None else 100 * row["error_rate"]
    event_rmse = row["private_event_rmse"] if final else row["event_rmse"]
    return (f'<tr class="{"top" if row["rank"] == 1 else ""}" '
            f'data-participant="{html.escape(row["participant"])}">'
            f'<td>{"&ndash;" if row["rank"] is None else row["rank"]}</td>'
            f'<td>{html.escape(row["name"])}</td>'
            f'<td class="num">{_cell(row["window_rmse"], 1)}</td>'
            f'<td class="num">{_cell(event_rmse, 1)}</td>'
            f'<td class="num">{row["requests"]:,}</td>'
            f'<td class="num">{_cell(rate, 1, "%")}</td>'
            f'<td class="num">{_cell(row["p50_latency_ms"], 0, " ms")}</td>'
            f'<td><span class="badge {cls}">{html.escape(row["status"])}</span></td></tr>')


def page(data: dict, refresh_seconds: int) -> str:
    final = data["ranking"].startswith("final")
    meta = (f"Ranking: {data['ranking']} &middot; updated {data['generated_at']} &middot; "
            f"ranked after {data['min_successes']} answers")
    return (PAGE.replace("__EVENT__", html.escape(data["event"]))
            .replace("__REFRESH__", str(int(refresh_seconds)))
            .replace("__META__", meta)
            .replace("__ROWS__", "".join(_row_html(r, final) for r in data["rows"])))


def respond(status: int, body: str, content_type: str) -> dict:
    return {"statusCode": status, "body": body,
            "headers": {"Content-Type": content_type, "Cache-Control": "max-age=5"}}


def handle(event: Mapping[str, Any], settings: Settings, table,
           now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> dict:
    path = event.get("rawPath") or event.get("path") or "/"
    method = (event.get("requestContext", {}).get("http", {}).get("method")
              or event.get("httpMethod") or "GET")
    if method != "GET":
        return respond(405, json.dumps({"error": "read-only: use GET"}), "application/json")
    if path.rstrip("/").endswith("leaderboard.json"):
        return respond(200, json.dumps(build(table, settings, now())), "application/json")
    if path in ("/", "", "/index.html"):
        return respond(200, page(build(table, settings, now()), settings.refresh_seconds),
                       "text/html; charset=utf-8")
    return respond(404, json.dumps({"error": f"no page {path}; try / or /leaderboard.json"}),
                   "application/json")


def handler(event: dict, context: Any = None) -> dict:
    settings = Settings.from_environment(os.environ)
    return handle(event, settings, boto3.resource("dynamodb").Table(settings.table_name))
