"""What a participant sees and clicks on their portal page, in headless Chromium.

The portal handler is served on 127.0.0.1 behind the local Function URL stand-in, over moto
(S3, DynamoDB, STS), an in-memory SageMaker whose notebook starts stopped, a local "notebook"
server that the presigned URL points at, and the local federation endpoint. A harness page
on the same origin opens the participant's page in a window, reads what it shows and clicks
its buttons the way a person would; --dump-dom prints the harness's findings. The portal's
page keeps its own Content-Security-Policy, so its script only runs if its hash is right.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import boto3
import pytest
from moto import mock_aws

from handlers import edge_traffic, leaderboard, portal, scoring
from tests.kit import PROJECT_DIR, create_scores_table
from tools.local_function_url import LocalFunctionUrl
from tools.local_signin import LocalSignin
from tools.loopback import LoopbackServer

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium here: `apt-get install chromium` (.ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-popup-blocking"]
HOSTILE = "<img src=x id=pwned onerror=\"document.title='pwned'\"> Zoë \"Q\" O'Brien"
CODE = secrets.token_urlsafe(16)


class FakeSageMaker:
    """A notebook that is Stopped, starts when asked, and is InService when next described."""

    def __init__(self, notebook_url: str):
        self.status, self.calls, self.notebook_url = "Stopped", [], notebook_url
        self.lock = threading.Lock()

    def _record(self, call, **kwargs):
        with self.lock:
            self.calls.append((call, kwargs))

    def describe_notebook_instance(self, NotebookInstanceName):
        self._record("describe_notebook_instance", notebook=NotebookInstanceName)
        status = self.status
        if status == "Pending":
            self.status = "InService"  # ready by the next look
        return {"NotebookInstanceStatus": status}

    def start_notebook_instance(self, NotebookInstanceName):
        self._record("start_notebook_instance", notebook=NotebookInstanceName)
        self.status = "Pending"
        return {}

    def create_presigned_notebook_instance_url(self, NotebookInstanceName,
                                               SessionExpirationDurationInSeconds):
        self._record("create_presigned_notebook_instance_url", notebook=NotebookInstanceName,
                     session=SessionExpirationDurationInSeconds)
        return {"AuthorizedUrl": self.notebook_url + "/?authToken=" + secrets.token_urlsafe(8)}

    def describe_endpoint(self, EndpointName):
        return {"EndpointStatus": "InService", "EndpointConfigName": "cfg"}

    def describe_endpoint_config(self, EndpointConfigName):
        return {"ProductionVariants": [{"ModelName": "zoe-xgboost-model"}]}


class Visits(BaseHTTPRequestHandler):
    """The notebook's address: records that the browser arrived."""

    seen: ClassVar[list[str]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        body = b"<!DOCTYPE html><title>Jupyter</title><p>notebook</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# Same origin as the portal, so it may read the page it opens; the portal page is untouched.
HARNESS = """<!DOCTYPE html><html><body><pre id="out"></pre><script>
const out = {};
function done() { document.getElementById("out").textContent = JSON.stringify(out); }
function until(check, then, what) {
  const started = Date.now();
  const timer = setInterval(() => {
    let ok = false;
    try { ok = check(); } catch (e) { ok = false; }
    if (ok) { clearInterval(timer); then(); }
    else if (Date.now() - started > 60000) { clearInterval(timer); out.timeout = what; done(); }
  }, 200);
}
// A window that went to another origin (the notebook, the sign-in) can no longer be read;
// the servers there record what arrived.
function left(w) { try { return w.location.origin !== location.origin; } catch (e) { return true; } }
const page = window.open("/p/__CODE__", "page");
const $ = (id) => page.document.getElementById(id);
until(() => $("rank").textContent.includes("of"), () => {
  for (const id of ["name", "inference-url", "curl", "samples", "endpoint-status",
                    "endpoint-model", "rank", "rmse", "errors"]) { out[id] = $(id).textContent; }
  out.title = page.document.title;
  out.injected = page.document.getElementById("pwned") !== null;
  out.leaderboard = $("leaderboard").getAttribute("href");
  $("open-notebook").click();
  until(() => $("notebook-status").textContent.includes("ready"), () => {
    out.notebook_waiting = $("notebook-status").textContent;
    $("open-notebook").click();
    until(() => left(page), () => {
      out.notebook_opened = true;
      const console_page = window.open("/p/__CODE__", "console");
      until(() => console_page.document.getElementById("open-console") !== null, () => {
        console_page.document.getElementById("open-console").click();
        until(() => left(console_page), () => {
          out.console_opened = true; done();
        }, "console");
      }, "console page");
    }, "notebook url");
  }, "notebook ready");
}, "status");
</script></body></html>"""


class Found(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self._in = "", False

    def handle_starttag(self, tag, attrs):
        self._in = ("id", "out") in attrs

    def handle_data(self, data):
        if self._in:
            self.text += data


@pytest.fixture
def served(aws_env):
    leaderboard.forget()
    now = datetime.now(UTC)
    Visits.seen = []
    with mock_aws(), LocalSignin() as signin, LoopbackServer(Visits) as notebook:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="private")
        s3.create_bucket(Bucket="zoe-samples")
        s3.put_object(Bucket="zoe-samples", Key="samples/a", Body=b"1" * 5000)
        record = {"id": "zoe", "name": HOSTILE, "notebook": "aim368-zoe-notebook",
                  "endpoint": "aim368-zoe-endpoint", "bucket": "zoe-samples",
                  "inference_url": "https://api.example.com/zoe/liveinference",
                  "region": "eu-west-1",
                  "console_role_arn": "arn:aws:iam::123456789012:role/aim368-zoe-console",
                  "leaderboard_url": "https://board.example.com/"}
        s3.put_object(Bucket="private", Key="directory.json", Body=json.dumps(
            {"participants": {portal.code_hash(CODE): record}}))
        table = create_scores_table()
        table.put_item(Item={"minute": "roster", "participant": "zoe", "name": HOSTILE})
        aggregate = scoring.empty()
        for _ in range(30):
            scoring.record(aggregate, 40.0, "ok", 250.0)
        for _ in range(4):
            scoring.record(aggregate, 40.0, "http_5xx")
        edge_traffic.flush(table, leaderboard.minutes_back(now, 1)[0], {"zoe": aggregate}, 1)
        sagemaker = FakeSageMaker(notebook.base_url)
        settings = portal.Settings(event="aim368", directory_bucket="private",
                                   directory_key="directory.json", table_name="scores",
                                   federation_endpoint=signin.endpoint, min_successes=20)
        app = portal.Portal(settings, portal.Clients(s3=s3, sagemaker=sagemaker,
                                                     sts=boto3.client("sts"), table=table))
        harness = HARNESS.replace("__CODE__", CODE)

        def front(event):
            if event["rawPath"] == "/harness":
                return {"statusCode": 200, "body": harness,
                        "headers": {"Content-Type": "text/html"}}
            return app.handle(event)

        with LocalFunctionUrl(front) as url:
            yield url.base_url, sagemaker, signin


def test_a_participant_sees_their_page_and_its_buttons_work(served, tmp_path):
    base, sagemaker, signin = served
    result = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                             "--virtual-time-budget=90000", "--dump-dom", base + "/harness"],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    found = Found()
    found.feed(result.stdout)
    seen = json.loads(found.text)
    assert "timeout" not in seen, json.dumps(seen)
    # What a person reads: their own name, literally, with nothing injected.
    assert seen["name"] == HOSTILE and seen["injected"] is False
    assert seen["title"] == "aim368 workshop"
    assert seen["inference-url"] == "https://api.example.com/zoe/liveinference"
    assert seen["curl"].startswith("curl -s 'https://api.example.com/zoe/liveinference?features=")
    assert re.fullmatch(r"1 files, 4\.9 KB \(about \d+ samples\)", seen["samples"])
    assert seen["endpoint-model"] == "zoe-xgboost-model"
    assert seen["rank"] == "1 of 1" and seen["rmse"].startswith("250.0 ms now")
    assert "503: your endpoint is not deployed" in seen["errors"]
    assert seen["leaderboard"] == "https://board.example.com/?me=zoe"
    # The notebook button started the stopped notebook, showed it starting, then opened it.
    assert "ready" in seen["notebook_waiting"] and seen["notebook_opened"]
    calls = [name for name, _ in sagemaker.calls]
    assert calls.index("start_notebook_instance") < calls.index(
        "create_presigned_notebook_instance_url")
    assert calls.count("start_notebook_instance") == 1
    arrivals = [p for p in Visits.seen if p != "/favicon.ico"]
    assert len(arrivals) == 1 and arrivals[0].startswith("/?authToken=")
    # The console button signed in through the federation endpoint to the SageMaker console.
    assert seen["console_opened"]
    login = [c for c in signin.calls if c.get("Action") == "login"]
    assert len(login) == 1
    assert login[0]["Destination"] == ("https://eu-west-1.console.aws.amazon.com/sagemaker/"
                                       "home?region=eu-west-1#/notebook-instances/"
                                       "aim368-zoe-notebook")


def test_screenshots_on_a_laptop_and_a_phone(served, tmp_path):
    base, _, _ = served
    for name, size in (("portal.png", "1280,900"), ("portal-phone.png", "390,1400")):
        shot = PROJECT_DIR / "out" / name
        shot.parent.mkdir(exist_ok=True)
        subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={tmp_path / name}",
                        "--virtual-time-budget=3000", f"--screenshot={shot}",
                        f"--window-size={size}", f"{base}/p/{CODE}"],
                       capture_output=True, timeout=120, check=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
