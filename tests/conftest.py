"""Shared fixtures: the Pulumi program under the mock engine, and moto-backed AWS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml

from tools.mock_program import Program, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent

# A small data set keeps each evaluation fast; tests about the data set set their own.
DEFAULT_CONFIG = {"datasetSamples": "2000"}
DEFAULT_ROSTER = [{"name": "Ada Lovelace"}, {"name": "Grace Hopper"}, {"name": "Alan Turing"}]

RunProgram = Callable[..., Program]


@pytest.fixture
def program(tmp_path) -> RunProgram:
    """Evaluate __main__.py for a roster (list of entries) and project config overrides.

    `program()` uses DEFAULT_ROSTER; `program(roster, event="x", firehoseBufferSeconds=30)`.
    The result lists every declared resource (`of_type`, `named`, `owned_by`, `outputs`).
    """

    def run(roster: Optional[list[dict[str, Any]]] = None, **config: Any) -> Program:
        roster_file = tmp_path / "participants.yaml"
        roster_file.write_text(yaml.safe_dump({"participants": roster or DEFAULT_ROSTER},
                                               allow_unicode=True), encoding="utf-8")
        return run_program({**DEFAULT_CONFIG, "roster": str(roster_file), **config})

    return run


def create_scores_table():
    """The edge's scores table, as the program declares it, in moto (inside mock_aws)."""
    import boto3
    return boto3.resource("dynamodb").create_table(
        TableName="scores", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "minute", "KeyType": "HASH"},
                   {"AttributeName": "participant", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "minute", "AttributeType": "S"},
                              {"AttributeName": "participant", "AttributeType": "S"}])


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and a region, so that no test can reach a real account."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]:
        monkeypatch.delenv(key, raising=False)
