"""The rehearsal's getting-in phase: handouts, then every participant enters through their link.

What `pulumi up` would leave behind is made from the declared program: the portal's
directory object (the secret content the program declared), the notebook instances, and the
join links (the stack's secret output `joinLinks`, pointed at the portal served here on
127.0.0.1 instead of its Function URL). The handouts are written for the rehearsal's
participants, and each participant's bot takes its link from the handouts' CSV, as a person
takes it from their card, then does what a person does on the page:

  GET  /p/<code>           their page, which must greet them by name
  POST /p/<code>/notebook  a presigned notebook URL (a stopped notebook is started first,
                           and polled until it is in service, as the page's script does)
  POST /p/<code>/console   a federated sign-in URL, followed to the sign-in stand-in
  GET  /p/<code>/status    their lab status

Two stand-ins answer for AWS: moto has no CreatePresignedNotebookInstanceUrl, so
PresignedNotebooks answers it the way SageMaker does (only for an existing instance in
service) and records the call; tools/local_signin.py is the federation endpoint and records
every token it issues. The report says who got in; no code or URL is written to it.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from access import handouts
from components.portal import DIRECTORY_KEY
from handlers import portal
from rehearsal.world import WiringError, World
from tools.local_function_url import LocalFunctionUrl
from tools.local_signin import LocalSignin
from tools.mock_program import reveal

NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
BUCKET = "aws:s3/bucket:Bucket"
POLL_SECONDS = 0.05  # the page polls every 10 s; moto starts a notebook at once
POLL_ATTEMPTS = 20
HTTP_TIMEOUT_SECONDS = 60  # a first status call reads the whole history from moto


class PresignedNotebooks:
    """moto's SageMaker client, plus the call moto lacks, answered as SageMaker does."""

    def __init__(self, sagemaker: Any, region: str):
        self._sagemaker, self._region = sagemaker, region
        self.calls: list[dict] = []  # (notebook, session seconds, url) per presigned URL

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sagemaker, name)

    def create_presigned_notebook_instance_url(self, NotebookInstanceName: str,
                                               SessionExpirationDurationInSeconds: int = 43200):
        # AWS names its parameters so; DescribeNotebookInstance raises for an unknown name.
        status = self._sagemaker.describe_notebook_instance(
            NotebookInstanceName=NotebookInstanceName)["NotebookInstanceStatus"]
        if status != "InService":
            raise ClientError({"Error": {"Code": "ValidationException", "Message":
                                         f"notebook instance is {status}, not InService"}},
                              "CreatePresignedNotebookInstanceUrl")
        url = (f"https://{NotebookInstanceName}.notebook.{self._region}.sagemaker.aws"
               f"?authToken={secrets.token_urlsafe(24)}")
        self.calls.append({"notebook": NotebookInstanceName, "url": url,
                           "seconds": SessionExpirationDurationInSeconds})
        return {"AuthorizedUrl": url}


@dataclass
class Entry:
    """What one participant's bot managed through their link."""

    participant: str
    page: bool = False  # their page, greeting them by name
    notebook: bool = False  # a presigned URL for their own notebook
    started_notebook: bool = False  # it was stopped and the click started it
    console: bool = False  # signed in, landing on their own notebook's page
    status: bool = False  # their own lab status
    problems: list[str] = field(default_factory=list)

    @property
    def entered(self) -> bool:
        return self.page and self.notebook and self.console and self.status


@dataclass
class PortalRun:
    entries: list[Entry]
    handouts: dict[str, Path]
    pdf_skipped: str | None  # why no PDF was printed, or None

    @property
    def everyone_entered(self) -> bool:
        return bool(self.entries) and all(e.entered for e in self.entries)


def _put_directory(world: World, settings: portal.Settings) -> None:
    """The directory object as `pulumi up` writes it, into the bucket the portal reads."""
    program = world.program
    [directory] = [o for o in program.of_type(OBJECT) if o.inputs["key"] == DIRECTORY_KEY]
    buckets = {b.id: b.state["bucket"] for b in program.of_type(BUCKET)}
    declared_at = f"{buckets.get(directory.inputs['bucket'])}/{directory.inputs['key']}"
    read_at = f"{settings.directory_bucket}/{settings.directory_key}"
    if declared_at != read_at:
        raise WiringError([(f"the portal reads s3://{read_at}, but the directory is declared "
                           f"in s3://{declared_at}")])
    boto3.client("s3").put_object(Bucket=settings.directory_bucket, Key=settings.directory_key,
                                  Body=reveal(directory.inputs["content"]).encode(),
                                  ContentType="application/json")


def _notebooks(world: World, sagemaker: Any, stopped: set[str]) -> None:
    """The declared notebook instances; those in `stopped` as idle auto-stop leaves them."""
    for notebook in world.program.of_type(NOTEBOOK):
        name = notebook.inputs["name"]
        sagemaker.create_notebook_instance(NotebookInstanceName=name,
                                           InstanceType=notebook.inputs["instanceType"],
                                           RoleArn=notebook.inputs["roleArn"])
        if name in stopped:
            sagemaker.stop_notebook_instance(NotebookInstanceName=name)


def _local_links(world: World, base_url: str) -> list[dict]:
    """The stack's join links, pointed at the portal served here."""
    links = reveal(world.program.outputs["joinLinks"])
    return [{**link, "link": base_url + urlsplit(link["link"]).path} for link in links]


def _call(method: str, url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _json(method: str, url: str) -> tuple[int, dict]:
    status, body = _call(method, url)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {}


def _bot(participant: str, name: str, link: str, notebook: str,
         presigned: PresignedNotebooks, signin: LocalSignin) -> Entry:
    """One participant doing what the page offers, with nothing but their link."""
    entry = Entry(participant)
    status, page = _call("GET", link)
    entry.page = status == 200 and f'<span id="name">{html.escape(name)}</span>' in page
    if not entry.page:
        entry.problems.append(f"their page: HTTP {status}, greeting them by name: "
                              f"{html.escape(name) in page}")
    status, opened = _json("POST", link + "/notebook")
    if status == 202:
        entry.started_notebook = True
        for _ in range(POLL_ATTEMPTS):
            _, state = _json("GET", link + "/notebook")
            if state.get("status") == "InService":
                break
            time.sleep(POLL_SECONDS)
        status, opened = _json("POST", link + "/notebook")
    mine = [c for c in presigned.calls if c["notebook"] == notebook]
    entry.notebook = status == 200 and bool(mine) and opened.get("url") == mine[-1]["url"]
    if not entry.notebook:
        entry.problems.append(f"notebook: HTTP {status} {opened.get('message', '')}".strip())
    status, console = _json("POST", link + "/console")
    if status == 200 and console.get("url"):
        landed, page = _call("GET", console["url"])
        entry.console = landed == 200 and f"#/notebook-instances/{notebook}" in html.unescape(page)
    if not entry.console:
        entry.problems.append(f"console: HTTP {status} {console.get('message', '')}".strip())
    status, lab = _json("GET", link + "/status")
    entry.status = status == 200 and lab.get("participant") == participant
    if not entry.status:
        entry.problems.append(f"status: HTTP {status}")
    return entry


def enter_through_links(world: World, out: Path, say: Callable[[str], None],
                        event: str) -> PortalRun:
    """Serve the portal, write the handouts, and send every participant's bot through."""
    function = world.by_name(f"{event}-portal")
    if function is None:
        raise WiringError([f"no {event}-portal function is declared"])
    declared = portal.Settings.read(function.env)
    session = boto3.session.Session()
    presigned = PresignedNotebooks(session.client("sagemaker"), session.region_name)
    # sha256(code) -> record: who holds a card is known from its code, as the portal knows.
    records = json.loads(reveal(next(
        o for o in world.program.of_type(OBJECT)
        if o.inputs["key"] == DIRECTORY_KEY).inputs["content"]))["participants"]

    def holder(link: str) -> dict:
        return records[portal.code_hash(urlsplit(link).path.rsplit("/", 1)[-1])]

    # The first participant's notebook has stopped itself while idle: their click starts it.
    first = reveal(world.program.outputs["joinLinks"])[:1]
    _notebooks(world, presigned, {holder(first[0]["link"])["notebook"]} if first else set())
    _put_directory(world, declared)
    with LocalSignin() as signin:
        settings = dataclasses.replace(declared, federation_endpoint=signin.endpoint)
        app = portal.Portal(settings, portal.Clients(
            s3=session.client("s3"), sagemaker=presigned, sts=session.client("sts"),
            table=session.resource("dynamodb").Table(settings.table_name),
            ssm=session.client("ssm")))  # participant stacks publish their bucket there
        with LocalFunctionUrl(app.handle) as served:
            links = _local_links(world, served.base_url)
            pdf_skipped = None if handouts.chromium() else \
                "no chromium on this machine: handouts.pdf skipped (print handouts.html)"
            written = handouts.write(handouts.parse(links), out, event,
                                     pdf=pdf_skipped is None)
            say(f"   handouts for {len(links)} participants: "
                + ", ".join(p.name for p in written.values()))
            if pdf_skipped:
                say(f"   {pdf_skipped}")
            with written["csv"].open(encoding="utf-8", newline="") as file:
                cards = list(csv.DictReader(file))  # the bots read their link off the cards
            entries = [_bot(holder(card["link"])["id"], card["name"], card["link"],
                            holder(card["link"])["notebook"], presigned, signin)
                       for card in cards]
    entered = sum(e.entered for e in entries)
    say(f"   {entered}/{len(entries)} participants entered through their join links "
        f"({sum(e.started_notebook for e in entries)} notebook started from stopped)")
    for entry in entries:
        if not entry.entered:
            say(f"   {entry.participant} could not get in: {'; '.join(entry.problems)}")
    (out / "portal.json").write_text(json.dumps(
        [{**dataclasses.asdict(e), "entered": e.entered} for e in entries], indent=1))
    return PortalRun(entries, written, pdf_skipped)
