"""What the fleet needs a stack backend to do: the protocol orchestration is written against.

fleet.pulumi_stacks implements it over pulumi.automation (local or Pulumi Deployments);
the tests implement it with a fake that records calls and injects failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fleet.naming import StackSpec


class StackListener(Protocol):
    """Where an operation reports progress while it runs."""

    def state(self, text: str) -> None: ...  # e.g. "up", "retrying in 20 s"

    def output(self, line: str) -> None: ...  # the engine's text output, for the log file

    def resources(self, done: int, total: int) -> None: ...

    def message(self, text: str) -> None: ...  # the latest diagnostic worth showing


@dataclass(frozen=True)
class StackState:
    """A stack's state as the backend's summaries know it."""

    name: str
    result: str | None  # "succeeded", "failed", "in-progress", or None: never updated
    resource_count: int | None = None
    last_update: datetime | None = None


class Stacks(Protocol):
    def existing(self) -> list[str]:
        """Names of the project's stacks that exist now."""

    def up(self, spec: StackSpec, listener: StackListener) -> Mapping[str, Any]:
        """Create or select the stack, set its config, update it; returns its outputs."""

    def preview(self, spec: StackSpec, listener: StackListener) -> Mapping[str, int]:
        """Create or select the stack, set its config, preview it; returns changes by kind."""

    def destroy(self, name: str, listener: StackListener) -> None:
        """Destroy the stack's resources, then remove the stack itself."""

    def outputs(self, name: str) -> Mapping[str, Any]:
        """The stack's outputs (plain values)."""

    def states(self) -> Mapping[str, StackState]:
        """State of every stack of the project, by name."""

    def get_config(self, name: str, key: str) -> str | None:
        """A project config value of the stack (creating the stack if needed), None if unset."""

    def set_secret_config(self, name: str, key: str, value: str) -> None:
        """Set a project config value of the stack as a secret (encrypted in its settings)."""
