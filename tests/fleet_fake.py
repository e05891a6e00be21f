"""A fake of the fleet's `Stacks` protocol: an in-memory project that records every call,
measures how many operations run at once, and fails on request."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fleet.naming import StackSpec
from fleet.stacks import StackListener, StackState


class FakeStacks:
    def __init__(self, existing=(), outputs: Mapping[str, Mapping[str, Any]] | None = None,
                 overlap_wait_s: float = 0.0, overlap_target: int = 0, overlap_skip=()):
        self.stacks: dict[str, dict] = {name: {} for name in existing}
        self.calls: list[tuple[str, str]] = []  # (operation, stack name), in call order
        self.configs: dict[str, dict[str, str]] = {}
        self.secrets: dict[str, dict[str, str]] = {}  # set_secret_config, per stack
        self.failures: dict[tuple[str, str], list[BaseException]] = {}
        self.canned_outputs = dict(outputs or {})
        self.in_flight = 0
        self.max_in_flight = 0
        # Each operation waits (up to overlap_wait_s) until overlap_target operations are in
        # flight, so that a pool that can run N at once deterministically does.
        self.overlap_wait_s, self.overlap_target = overlap_wait_s, overlap_target
        self.overlap_skip = set(overlap_skip)  # stacks that run alone by design
        self._lock = threading.Condition()

    def fail(self, operation: str, name: str, *errors: BaseException) -> None:
        """The next calls of `operation` on `name` raise these errors, in order."""
        self.failures.setdefault((operation, name), []).extend(errors)

    def _call(self, operation: str, name: str) -> None:
        with self._lock:
            self.calls.append((operation, name))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
            if self.overlap_target and name not in self.overlap_skip:
                self._lock.wait_for(lambda: self.in_flight >= self.overlap_target,
                                    timeout=self.overlap_wait_s)
        try:
            pending = self.failures.get((operation, name))
            if pending:
                raise pending.pop(0)
        finally:
            with self._lock:
                self.in_flight -= 1

    def existing(self) -> list[str]:
        return sorted(self.stacks)

    def up(self, spec: StackSpec, listener: StackListener) -> Mapping[str, Any]:
        self._call("up", spec.name)
        self.configs[spec.name] = dict(spec.config)
        self.stacks[spec.name] = {"resources": 3}
        listener.resources(3, 3)
        return self.canned_outputs.get(spec.name, {})

    def preview(self, spec: StackSpec, listener: StackListener) -> Mapping[str, int]:
        self._call("preview", spec.name)
        return {"same" if spec.name in self.stacks else "create": 3}

    def destroy(self, name: str, listener: StackListener) -> None:
        self._call("destroy", name)
        self.stacks.pop(name, None)

    def outputs(self, name: str) -> Mapping[str, Any]:
        return self.canned_outputs.get(name, {}) if name in self.stacks else {}

    def states(self) -> Mapping[str, StackState]:
        return {name: StackState(name, "succeeded", 3) for name in self.stacks}

    def get_config(self, name: str, key: str) -> str | None:
        self._call("get_config", name)
        return self.secrets.get(name, {}).get(key, self.configs.get(name, {}).get(key))

    def set_secret_config(self, name: str, key: str, value: str) -> None:
        self._call("set_secret_config", name)
        self.secrets.setdefault(name, {})[key] = value

    def of(self, operation: str) -> list[str]:
        return [name for op, name in self.calls if op == operation]
