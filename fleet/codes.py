"""`fleet codes` and `fleet rotate-code <id>`: the participants' join codes in stack config.

The codes are one secret config value, `joinCodes` (JSON: participant id -> code), on the
stack that declares the portal: the event stack, or a single stack given with --stack.
Pulumi encrypts it in Pulumi.<stack>.yaml, so the codes stay the same across `pulumi up`
until someone rotates one. Nothing here prints a code: the join links come from the stack's
secret output `joinLinks` after the next `up` (see `make handouts`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from access import codes as join_codes


class CodeStore(Protocol):
    """The part of the fleet's Stacks backend these commands use."""

    def get_config(self, name: str, key: str) -> str | None: ...

    def set_secret_config(self, name: str, key: str, value: str) -> None: ...


LINKS_OUTPUT = "joinLinks"  # the stack output __main__.py exports (secret)


class CodesError(ValueError):
    pass


@dataclass(frozen=True)
class CodesChange:
    stack: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # ids no longer on the roster
    kept: int = 0
    rotated: str | None = None

    def summary(self) -> str:
        if self.rotated:
            return (f"{self.stack}: new join code for '{self.rotated}'; run `fleet up` (or "
                    f"`pulumi up`), then print their new card with `make handouts`. Within a "
                    f"minute of the update the old link stops working.")
        parts = [f"{self.stack}: {self.kept} join codes kept"]
        if self.added:
            parts.append(f"{len(self.added)} new ({', '.join(self.added)})")
        if self.removed:
            parts.append(f"{len(self.removed)} removed, no longer on the roster "
                         f"({', '.join(self.removed)})")
        if not self.added and not self.removed:
            parts.append("nothing to change")
        return "; ".join(parts)


def current(store: CodeStore, stack: str) -> dict[str, str]:
    text = store.get_config(stack, join_codes.CONFIG_KEY)
    if not text:
        return {}
    try:
        codes = json.loads(text)
    except ValueError:
        codes = None
    if not isinstance(codes, dict):
        # Never overwrite what we cannot read: that would silently replace every card.
        raise CodesError(f"{stack}: {join_codes.CONFIG_KEY} is not a map of participant id -> "
                         f"code; fix or remove it (pulumi config rm {join_codes.CONFIG_KEY})")
    return codes


def _write(store: CodeStore, stack: str, codes: dict[str, str]) -> None:
    store.set_secret_config(stack, join_codes.CONFIG_KEY, json.dumps(codes, sort_keys=True))


def ensure(store: CodeStore, stack: str, participant_ids: Iterable[str]) -> CodesChange:
    """A code for every roster id (existing codes kept), none for ids off the roster."""
    ids = list(participant_ids)
    existing = current(store, stack)
    kept = {pid: code for pid, code in existing.items() if pid in ids}
    codes = join_codes.missing(kept, ids)
    change = CodesChange(stack, added=[p for p in ids if p not in kept],
                         removed=sorted(set(existing) - set(ids)), kept=len(kept))
    if codes != existing:
        _write(store, stack, codes)
    return change


def rotate(store: CodeStore, stack: str, participant_ids: Iterable[str],
           participant: str) -> CodesChange:
    """A new code for one participant; everyone else keeps theirs."""
    if participant not in list(participant_ids):
        raise CodesError(f"'{participant}' is not on the roster")
    codes = current(store, stack)
    if participant not in codes:
        raise CodesError(f"'{participant}' has no join code yet: run `fleet codes` first")
    _write(store, stack, join_codes.rotate(codes, participant))
    return CodesChange(stack, kept=len(codes) - 1, rotated=participant)


def write_links(outputs: Mapping[str, Any], stack: str, path: Path) -> int:
    """The stack's join links as the JSON list `make handouts` reads; readable by you only."""
    links = outputs.get(LINKS_OUTPUT)
    if not isinstance(links, list):
        raise CodesError(f"{stack} has no output '{LINKS_OUTPUT}': run `fleet codes`, then "
                         f"`fleet up`")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(links, file, indent=1, ensure_ascii=False)
    return len(links)
