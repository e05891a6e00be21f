"""The edge's secret randomness: what the FC asks participants, and when, is unpredictable.

The edge's samples, their noise and which of them count privately all come from
`HMAC-SHA256(secret, "edge:" + minute)`, where the secret lives only in AWS Secrets
Manager (generated at deploy time, readable by the edge's role alone, rotatable). So
every shard running in the same minute asks the same questions (they read the same
secret), while someone who knows the code, the config and every Lab 1 sample cannot
compute them: the Lab 1 feed is seeded from `feedSeed`, which shares nothing with this.

The secret is cached per execution environment for `CACHE_SECONDS`, so a rotation takes
effect within that time without a call per request. Standard library and boto3 only.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable

CACHE_SECONDS = 120.0  # a rotation reaches every shard within two runs
MIN_SECRET_BYTES = 16  # shorter would be guessable


class SecretError(RuntimeError):
    """The scoring secret is not configured, not readable, or too short."""


def run_key(secret: bytes, minute: str) -> bytes:
    """The run's 32 random bytes: the same for every shard of the minute, unpredictable
    without the secret."""
    return hmac.new(secret, f"edge:{minute}".encode(), hashlib.sha256).digest()


def run_seed(secret: bytes, minute: str) -> int:
    """The run's generator seed (256 bits, so nothing short of the secret recovers it)."""
    return int.from_bytes(run_key(secret, minute), "big")


class SecretCache:
    """GetSecretValue once per `ttl` seconds per execution environment."""

    def __init__(self, client_factory: Callable[[], object],
                 clock: Callable[[], float] = time.monotonic, ttl: float = CACHE_SECONDS):
        self._client_factory, self._clock, self._ttl = client_factory, clock, ttl
        self._lock = threading.Lock()
        self._cached: tuple[str, bytes, float] | None = None  # (arn, value, fetched at)

    def get(self, arn: str) -> bytes:
        if not arn:
            raise SecretError("SCORING_SECRET_ARN is not set: the edge will not score "
                              "with predictable samples")
        with self._lock:
            now = self._clock()
            if self._cached and self._cached[0] == arn and now - self._cached[2] < self._ttl:
                return self._cached[1]
            try:
                response = self._client_factory().get_secret_value(SecretId=arn)
            except Exception as error:
                raise SecretError(f"cannot read the scoring secret: {type(error).__name__}") \
                    from None
            value = response.get("SecretBinary") or response.get("SecretString", "").encode()
            if len(value) < MIN_SECRET_BYTES:
                raise SecretError(f"the scoring secret is {len(value)} bytes; at least "
                                  f"{MIN_SECRET_BYTES} are needed")
            self._cached = (arn, value, now)
            return value

    def forget(self) -> None:
        with self._lock:
            self._cached = None
