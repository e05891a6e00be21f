"""Join codes: generation, hashing and rotation.

A code is `secrets.token_urlsafe(16)`: 128 bits from the operating system's CSPRNG, 22
URL-safe characters, so it fits in a link and a QR code. Codes are kept as a Pulumi secret
(project config `joinCodes`, a map of participant id to code, encrypted in the stack file)
and only their hashes leave the organizer's side: the hash is the portal's own
`handlers.portal.code_hash`, imported, so the two can never disagree.

`fleet rotate-code <id>` calls `rotate` and writes the map back with
`pulumi config set --secret --path joinCodes.<id> <code>`; the next `pulumi up` rewrites the
portal's directory, and the old link stops working within the portal's directory TTL.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping

from handlers.portal import CODE_BYTES, code_hash

# token_urlsafe(16) gives 22 characters; anything shorter carries fewer than 128 bits.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")

__all__ = ["CODE_PATTERN", "JoinCodeError", "code_hash", "from_config", "missing", "new_code",
           "problems", "rotate"]
CONFIG_KEY = "joinCodes"  # the stack config key (a secret map of participant id -> code)


class JoinCodeError(ValueError):
    """The stack's join codes cannot be used; lists every problem, never a code."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) with the join codes ({CONFIG_KEY}):\n"
                         f"{listing}\nRun `make fleet ARGS=codes` to add the missing ones.")


def new_code() -> str:
    """A fresh join code with at least 128 bits of cryptographic randomness."""
    return secrets.token_urlsafe(CODE_BYTES)


def problems(codes: Mapping[str, str], participant_ids: Iterable[str]) -> list[str]:
    """Every reason `codes` cannot be used for these participants (never shows a code)."""
    ids = list(participant_ids)
    found = [f"participant '{p}' has no join code; run `fleet codes`"
             for p in ids if p not in codes]
    found += [f"join code for '{p}' is not in the roster" for p in codes if p not in ids]
    found += [f"join code for '{p}' is not 22-128 URL-safe characters (at least 128 bits)"
              for p, c in codes.items() if not isinstance(c, str) or not CODE_PATTERN.match(c)]
    by_hash: dict[str, str] = {}
    for participant, code in codes.items():
        if isinstance(code, str):
            other = by_hash.setdefault(code_hash(code), participant)
            if other != participant:
                found.append(f"'{other}' and '{participant}' have the same join code")
    return found


def missing(codes: Mapping[str, str], participant_ids: Iterable[str]) -> dict[str, str]:
    """`codes` plus a new code for every participant that has none; existing codes stay."""
    return {**{p: new_code() for p in participant_ids if p not in codes}, **codes}


def rotate(codes: Mapping[str, str], participant_id: str) -> dict[str, str]:
    """`codes` with a new code for one participant; everyone else keeps theirs."""
    if participant_id not in codes:
        known = ", ".join(sorted(codes)) or "none"
        raise KeyError(f"no join code for '{participant_id}' to rotate (known: {known})")
    fresh = new_code()
    while fresh == codes[participant_id]:  # 2^-128, but a rotation must change the code
        fresh = new_code()
    return {**codes, participant_id: fresh}


def from_config(text: str | None, participant_ids: Iterable[str]) -> dict[str, str]:
    """The codes from the `joinCodes` config text (JSON); JoinCodeError lists every problem."""
    ids = list(participant_ids)
    try:
        codes = json.loads(text) if text else {}
    except ValueError:
        codes = None
    if not isinstance(codes, dict):
        raise JoinCodeError([f"{CONFIG_KEY} is not a map of participant id -> code"])
    found = problems(codes, ids)
    if found:
        raise JoinCodeError(found)
    return codes
