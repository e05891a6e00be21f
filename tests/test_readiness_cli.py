"""The readiness commands as an organizer runs them."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from readiness.__main__ import main


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_audit_without_credentials_says_what_is_missing(no_credentials, capsys):
    assert main(["audit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("error: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY, or run where an instance role exists)")]


def test_preflight_without_credentials_runs_offline_then_says_what_is_missing(
        no_credentials, capsys):
    assert main(["preflight", "--participants", "2", "--config", "datasetSamples=2000"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    # nothing left on the default config: AL2023 notebooks, separate training/hosting types
    assert out[-2].startswith("preflight: 0 problem(s) in ")
    assert out[-1].startswith("quota check not run: no AWS credentials found")


def test_bad_arguments_are_named(capsys):
    assert main(["cost", "--config", "nokeyvalue", "--participants", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --config 'nokeyvalue' is not KEY=VALUE; --participants must be at least 1")
    assert main(["sweep", "--participant", "nobody"]) == 2
    assert capsys.readouterr().err.strip() == "error: not in the roster: nobody"


def test_audit_exit_code_follows_billable_leftovers(aws_env, capsys):
    with mock_aws():
        assert main(["audit"]) == 0
        assert capsys.readouterr().out.strip().endswith("0 leftover(s) of aim368 in us-east-1, "
                                                        "0 billable")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="aim368-forgotten")
        s3.put_bucket_tagging(Bucket="aim368-forgotten",
                              Tagging={"TagSet": [{"Key": "Event", "Value": "aim368"}]})
        assert main(["audit"]) == 1
        out = capsys.readouterr().out
        assert "BILLABLE s3:bucket" in out and "aim368-forgotten  (storage)" in out


def test_the_docs_show_the_estimates_real_output(capsys):
    """The README's cost section must match what `cost` prints."""
    from pathlib import Path
    docs = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert main(["cost", "--participants", "30", "--hours", "8",
                 "--config", "datasetSamples=2000"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert len(table) == 14
    for row in table:
        assert row in docs, row


def test_cost_lasts_the_events_window_unless_told_otherwise(capsys):
    window = ["--config", "eventStart=2099-06-01T09:00:00+02:00",
              "--config", "eventEnd=2099-06-01T18:30:00+02:00"]
    assert main(["cost", "--participants", "1", "--config", "datasetSamples=2000",
                 *window]) == 0
    assert "USD for 9.5 h" in capsys.readouterr().out
    assert main(["cost", "--participants", "1", "--config", "datasetSamples=2000"]) == 0
    assert "USD for 8 h" in capsys.readouterr().out


def test_cost_names_a_bad_window(capsys):
    assert main(["cost", "--participants", "1", "--config", "eventStart=2099-06-01T09:00:00Z"]) == 2
    assert "set both, or neither" in capsys.readouterr().err
