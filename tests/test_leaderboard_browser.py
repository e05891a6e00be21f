"""The leaderboard page in a real headless browser (Debian's chromium).

The page is served on 127.0.0.1 by the leaderboard handler itself over a moto table. The
test reads the DOM as the browser rendered it: row order, values, and the table updating
itself from leaderboard.json without a reload. It also saves a screenshot
(out/leaderboard.png) for the README.
"""

import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moto import mock_aws

from handlers import edge_traffic, leaderboard, scoring
from tests.kit import PROJECT_DIR, create_scores_table

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium here: `apt-get install chromium` (.ci/run installs it)")

SETTINGS = leaderboard.Settings(table_name="scores", event="aim368", window_minutes=5,
                                history_minutes=30, min_successes=20, failing_error_rate=0.2,
                                refresh_seconds=10, reveal_private=False,
                                # The server's clock does not follow the browser's virtual
                                # time: no shared build, so a refresh sees the new scores.
                                result_ttl_seconds=0)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def scored(n, error, failures=0):
    aggregate = scoring.empty()
    for _ in range(n):
        scoring.record(aggregate, 45.0, "ok", error)
    for _ in range(failures):
        scoring.record(aggregate, 45.0, "http_5xx")
    return aggregate


class Rows(HTMLParser):
    """The table rows as a person reads them: one list of cell texts per row."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr" and any(k == "data-participant" for k, _ in attrs):
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture
def served(aws_env):
    leaderboard.forget()
    now = datetime.now(UTC)
    this_minute = leaderboard.minutes_back(now, 1)[0]
    with mock_aws():
        table = create_scores_table()
        for pid, name in {"ada": "Ada Lovelace", "grace": "Grace Hopper", "alan": "Alan Turing",
                          "kat": "Katherine Johnson"}.items():
            table.put_item(Item={"minute": "roster", "participant": pid, "name": name})
        edge_traffic.flush(table, this_minute, {"ada": scored(60, 410.0),
                                                "grace": scored(60, 352.5),
                                                "alan": scored(40, 900.0, failures=40)}, 1)
        state = {"pages": 0}

        class Front(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path, _, query = self.path.partition("?")
                response = leaderboard.handle({"rawPath": path, "rawQueryString": query,
                                               "requestContext": {"http": {"method": "GET"}}},
                                              SETTINGS, table)
                if self.path == "/":
                    state["pages"] += 1
                    # After the first view, Katherine's model answers brilliantly.
                    edge_traffic.flush(table, this_minute, {"kat": scored(80, 310.0)}, 1)
                body = response["body"].encode()
                self.send_response(response["statusCode"])
                self.send_header("Content-Type", response["headers"]["Content-Type"])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/", state
        server.shutdown()


def browse(url, tmp_path, budget_ms, *extra):
    profile = tmp_path / f"profile-{budget_ms}"
    result = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}",
                             f"--virtual-time-budget={budget_ms}", *extra, url],
                            check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def rows_of(dom):
    parser = Rows()
    parser.feed(dom)
    return parser.rows


def test_a_person_sees_the_ranking_with_its_values(served, tmp_path):
    url, _ = served
    rows = rows_of(browse(url, tmp_path, 1000, "--dump-dom"))
    assert [r[1] for r in rows] == ["Grace Hopper", "Ada Lovelace", "Alan Turing",
                                    "Katherine Johnson"]
    grace = rows[0]
    assert grace[0] == "1" and grace[2] == "352.5" and grace[3] == "352.5"
    assert grace[4] == "60" and grace[5] == "0.0%" and grace[7] == "healthy"
    assert re.fullmatch(r"\d+ ms", grace[6])
    alan = rows[2]
    assert (alan[0], alan[5], alan[7]) == ("3", "50.0%", "failing: server error (5xx)")
    assert rows[3][0] == "–" and rows[3][7] == "no traffic yet"


def test_the_page_refreshes_itself_with_new_scores(served, tmp_path):
    url, state = served
    rows = rows_of(browse(url, tmp_path, 25_000, "--dump-dom"))
    assert state["pages"] == 1  # one page load: the table updated in place
    assert [r[1] for r in rows][:3] == ["Katherine Johnson", "Grace Hopper", "Ada Lovelace"]
    assert rows[0][:3] == ["1", "Katherine Johnson", "310.0"]


def test_a_screenshot_for_the_readme(served, tmp_path):
    url, _ = served
    shot = PROJECT_DIR / "out" / "leaderboard.png"
    shot.parent.mkdir(exist_ok=True)
    browse(url, tmp_path, 1000, f"--screenshot={shot}", "--window-size=1280,640")
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
