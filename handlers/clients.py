"""boto3 clients made once per Lambda container and reused by every invocation it serves."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_clients: dict[tuple[str, Config | None], Any] = {}


def client(service: str, config: Config | None = None):
    """The container's client for a service with these settings (Config compares by identity)."""
    key = (service, config)
    if key not in _clients:
        _clients[key] = boto3.client(service, config=config)
    return _clients[key]


def forget() -> None:
    """Drop every cached client, as a fresh container would start (tests, the rehearsal)."""
    _clients.clear()
