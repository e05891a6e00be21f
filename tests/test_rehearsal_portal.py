"""The rehearsal's getting-in phase on its own: the declared program provisioned in moto, the
portal served on 127.0.0.1, handouts written, every participant's bot through its link."""

from __future__ import annotations

import csv
import json
import os

import pytest
import yaml
from moto import mock_aws

from rehearsal import portal as getting_in
from rehearsal.run import Tap
from rehearsal.world import provision
from tests.kit import DEFAULT_CONFIG
from tools.mock_program import ACCOUNT, reveal, run_program
from training.build import build_for_config

HOSTILE = "</span><script>alert(1)</script> Zoë \"Z\" O'Brien"
ROSTER = [{"name": "Ada"}, {"name": "Ada Lovelace"}, {"name": HOSTILE, "id": "zoe"}]


@pytest.fixture
def world(tmp_path, aws_env, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)  # the account the program's ARNs name
    roster = tmp_path / "participants.yaml"
    roster.write_text(yaml.safe_dump({"participants": ROSTER}, allow_unicode=True))
    config = {**DEFAULT_CONFIG, "roster": str(roster), "event": "rehearsal"}
    build_for_config(config, say=lambda _: None)
    program = run_program(config, stack="rehearsal")
    with mock_aws():
        yield provision(program, Tap().queue_arn)


def test_every_participant_enters_through_the_link_on_their_card(world, tmp_path):
    said = []
    run = getting_in.enter_through_links(world, tmp_path, said.append, "rehearsal")
    assert [e.participant for e in run.entries] == ["ada", "ada-lovelace", run.entries[2].participant]
    assert run.everyone_entered, [e.problems for e in run.entries]
    assert [e.started_notebook for e in run.entries] == [True, False, False]
    assert "3/3 participants entered through their join links" in " ".join(said)
    # The cards carry the links the bots used: the stack's links, served here.
    with (tmp_path / "handouts.csv").open(newline="", encoding="utf-8") as file:
        cards = list(csv.DictReader(file))
    codes = [link["link"].rsplit("/", 1)[-1]
             for link in reveal(world.program.outputs["joinLinks"])]
    assert [c["link"].rsplit("/p/", 1)[-1] for c in cards] == codes
    assert all(c["link"].startswith("http://127.0.0.1:") for c in cards)
    assert HOSTILE not in (tmp_path / "handouts.html").read_text()  # escaped on the card
    if run.pdf_skipped:
        assert "no chromium" in run.pdf_skipped
    else:
        assert (tmp_path / "handouts.pdf").read_bytes()[:4] == b"%PDF"
    report = json.loads((tmp_path / "portal.json").read_text())
    assert [r["entered"] for r in report] == [True, True, True]
    assert not [c for c in codes if c in json.dumps(report) or c in " ".join(said)]


def test_a_wrong_directory_location_is_a_wiring_error(world, tmp_path):
    function = world.by_name("rehearsal-portal")
    variable = getting_in.portal.Settings.variables()["directory_key"]
    function.env = {**function.env, variable: "elsewhere.json"}
    with pytest.raises(getting_in.WiringError, match="the portal reads s3://.*/elsewhere.json"):
        getting_in.enter_through_links(world, tmp_path, lambda _: None, "rehearsal")


def test_the_notebook_stand_in_answers_only_for_an_instance_in_service(aws_env):
    with mock_aws():
        import boto3
        from botocore.exceptions import ClientError

        sagemaker = getting_in.PresignedNotebooks(boto3.client("sagemaker"), "us-east-1")
        sagemaker.create_notebook_instance(
            NotebookInstanceName="nb", InstanceType="ml.t3.medium",
            RoleArn=f"arn:aws:iam::{os.environ.get('MOTO_ACCOUNT_ID', '123456789012')}:role/r")
        url = sagemaker.create_presigned_notebook_instance_url(
            NotebookInstanceName="nb", SessionExpirationDurationInSeconds=1800)["AuthorizedUrl"]
        assert sagemaker.calls == [{"notebook": "nb", "url": url, "seconds": 1800}]
        sagemaker.stop_notebook_instance(NotebookInstanceName="nb")
        with pytest.raises(ClientError, match="not InService"):
            sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName="nb")
        with pytest.raises(ClientError):
            sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName="other")
