"""A room of 100 in a real headless browser (Debian's chromium): at a projector's 1024x768
the board pages through every participant with nothing clipped and no horizontal scrollbar;
`?me=` highlights one participant and says where they stand.

A same-origin harness page holds the board in a 1024x768 frame and reads it as it renders:
which rows are on screen at each moment, and whether anything is wider than the screen.
"""

import json
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moto import mock_aws

from handlers import edge_traffic, leaderboard, scoring
from tests.kit import create_scores_table

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium here: `apt-get install chromium` (.ci/run installs it)")

ROOM = 100
SETTINGS = leaderboard.Settings(table_name="scores", event="aim368", window_minutes=5,
                                history_minutes=30, min_successes=20, failing_error_rate=0.2,
                                refresh_seconds=10, page_seconds=5)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

HARNESS = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="board" src="/?__QUERY__" style="width:1024px;height:768px;border:0"></iframe>
<pre id="out"></pre><script>
const out = {seen: [], pages: [], overflow: [], clipped: [], me: null};
const frame = document.getElementById("board");
function look() {
  const doc = frame.contentDocument, win = frame.contentWindow;
  if (!doc || !doc.getElementById("rows")) { return; }
  const root = doc.documentElement;
  if (root.scrollWidth > root.clientWidth) { out.overflow.push(root.scrollWidth); }
  for (const row of doc.querySelectorAll("#rows tr")) {
    const box = row.getBoundingClientRect();
    if (row.offsetParent === null || box.bottom > win.innerHeight || box.top < 0) { continue; }
    const id = row.dataset.participant;
    if (!out.seen.includes(id)) { out.seen.push(id); }
    const status = row.lastElementChild.getBoundingClientRect();
    const badge = row.querySelector(".badge");  // its reason must be readable, not cut short
    const rank = row.firstElementChild;
    if (status.right > win.innerWidth || badge.scrollWidth > badge.clientWidth ||
        rank.scrollWidth > rank.clientWidth) {
      out.clipped.push(id);
    }
  }
  if (doc.body.dataset.page && !out.pages.includes(doc.body.dataset.page)) {
    out.pages.push(doc.body.dataset.page);
  }
  const mine = doc.querySelector("tr.me");
  if (mine) { out.me = {id: mine.dataset.participant, you: doc.getElementById("you").textContent,
                        view: doc.body.dataset.view}; }
  document.getElementById("out").textContent = JSON.stringify(out);
}
setInterval(look, 500);
</script></body></html>"""


def pid(i):
    return f"p{i:03d}"


@pytest.fixture
def room(aws_env):
    leaderboard.forget()
    now = datetime.now(UTC)
    this_minute = leaderboard.minutes_back(now, 1)[0]
    with mock_aws():
        table = create_scores_table()
        aggregates = {}
        for i in range(ROOM):
            table.put_item(Item={"minute": "roster", "participant": pid(i),
                                 "name": f"Participant {i:03d} with a rather long name"})
            aggregate = scoring.empty()
            for _ in range(30):
                scoring.record(aggregate, 45.0, "ok", 100.0 + 3 * i)
            if i % 7 == 0:  # a failing participant shows its longest status
                for _ in range(60):
                    scoring.record(aggregate, 45.0, "no_endpoint")
            aggregates[pid(i)] = aggregate
        edge_traffic.flush(table, this_minute, aggregates, 1)

        class Front(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path == "/harness":
                    body = HARNESS.replace("__QUERY__", query).encode()
                    content_type = "text/html"
                    status = 200
                else:
                    response = leaderboard.handle(
                        {"rawPath": path, "rawQueryString": query,
                         "requestContext": {"http": {"method": "GET"}}}, SETTINGS, table)
                    body, status = response["body"].encode(), response["statusCode"]
                    content_type = response["headers"]["Content-Type"]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


class Out(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self._in = "", False

    def handle_starttag(self, tag, attrs):
        self._in = ("id", "out") in attrs

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in:
            self.text += data


def observe(url, tmp_path, budget_ms):
    result = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                             "--window-size=1100,900", f"--virtual-time-budget={budget_ms}",
                             "--dump-dom", url], check=False, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    parser = Out()
    parser.feed(result.stdout)
    return json.loads(parser.text)


def test_a_projector_pages_through_all_100_with_nothing_clipped(room, tmp_path):
    seen = observe(f"{room}/harness?view=projector", tmp_path, 60_000)
    assert sorted(seen["seen"]) == [pid(i) for i in range(ROOM)]  # everyone was on screen
    assert len(seen["pages"]) > 1  # by turning pages, not by overflowing the screen
    assert seen["overflow"] == [] and seen["clipped"] == []


def test_me_highlights_the_participant_in_the_list(room, tmp_path):
    seen = observe(f"{room}/harness?me=p042", tmp_path, 3_000)
    assert seen["me"]["id"] == "p042" and seen["me"]["view"] == "list"
    assert seen["me"]["you"].startswith("You: Participant 042 with a rather long name · rank ")
    assert "p042" in seen["seen"]  # scrolled into view
    assert seen["overflow"] == [] and seen["clipped"] == []
