"""Shared fixtures: the Pulumi program under the mock engine, and moto-backed AWS."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.kit import DEFAULT_CONFIG, DEFAULT_ROSTER
from tools.mock_program import Program, run_program
from training.build import build_for_config

RunProgram = Callable[..., Program]


@pytest.fixture
def program(tmp_path) -> RunProgram:
    """Evaluate __main__.py for a roster (list of entries) and project config overrides.

    `program()` uses DEFAULT_ROSTER; `program(roster, event="x", firehoseBufferSeconds=30)`.
    The result lists every declared resource (`of_type`, `named`, `owned_by`, `outputs`).
    """

    def run(roster: list[dict[str, Any]] | None = None, **config: Any) -> Program:
        roster_file = tmp_path / "participants.yaml"
        roster_file.write_text(yaml.safe_dump({"participants": roster or DEFAULT_ROSTER},
                                               allow_unicode=True), encoding="utf-8")
        config = {**DEFAULT_CONFIG, "roster": str(roster_file), **config}
        build_for_config(config, say=lambda _: None)  # what `make artifacts` builds; cached
        return run_program(config)

    return run


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and a region, so that no test can reach a real account."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]:
        monkeypatch.delenv(key, raising=False)
