"""The event roster (`participants.yaml`): parsing and validation.

Validation reports every problem at once, each naming the entry by position and name,
so the organizer fixes the file in one pass. It runs before any resource is declared.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from anyascii import anyascii

from event.names import ParticipantNames, shared_name_clash

ENTRY_KEYS = ("name", "id", "email", "account")
TOP_LEVEL_KEYS = ("participants",)
# Lowercase letters and digits joined by single '-': never '--' (OWNED_DELIMITER), never a
# leading or trailing '-', which is what keeps one participant's names out of another's.
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Participant:
    id: str
    name: str
    email: str | None = None
    account: str | None = None


class RosterError(ValueError):
    """The roster is unusable; `problems` lists every reason, one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the roster:\n{listing}")


def slugify(name: str) -> str:
    """A participant id from a display name: 'José O'Brien' -> 'jose-obrien'."""
    ascii_name = anyascii(name).lower()
    ascii_name = re.sub(r"['`]", "", ascii_name)  # O'Brien is one word
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


def _label(position: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"entry {position} ({name!r})" if isinstance(name, str) else f"entry {position}"


def _unknown_key_problem(where: str, key: Any, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(allowed)}"
    return f"{where}: unknown key '{key}'{hint}"


def _check_account(label: str, account: Any) -> list[str]:
    if isinstance(account, int) and not isinstance(account, bool):
        # YAML turns an unquoted account into a number and drops leading zeros.
        return [f"{label}: account {account} must be quoted, e.g. account: '{account:012d}'"]
    if not isinstance(account, str) or not ACCOUNT_PATTERN.match(account):
        return [f"{label}: account {account!r} is not a 12-digit AWS account id"]
    return []


def _entry_id(label: str, entry: dict, problems: list[str]) -> str | None:
    if "id" in entry:
        given = entry["id"]
        if not isinstance(given, str) or not ID_PATTERN.match(given):
            problems.append(
                f"{label}: id {given!r} must be lowercase letters and digits joined by single '-'"
            )
            return None
        return given
    derived = slugify(entry["name"])
    if not derived:
        problems.append(f"{label}: name yields no usable id; give this entry an explicit 'id'")
        return None
    return derived


def _parse_entry(position: int, entry: Any, event: str, problems: list[str]) -> Participant | None:
    label = _label(position, entry)
    if not isinstance(entry, dict):
        problems.append(f"{label}: must be a mapping with at least a 'name', got {entry!r}")
        return None
    before = len(problems)
    problems += [_unknown_key_problem(label, k, ENTRY_KEYS) for k in entry if k not in ENTRY_KEYS]
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{label}: 'name' is required and must be non-empty text")
        return None
    email, account = entry.get("email"), entry.get("account")
    if email is not None and (not isinstance(email, str) or not EMAIL_PATTERN.match(email)):
        problems.append(f"{label}: email {email!r} is not a valid address")
    if account is not None:
        problems += _check_account(label, account)
    participant_id = _entry_id(label, entry, problems)
    clash = shared_name_clash(event, participant_id) if participant_id else None
    if clash:
        problems.append(f"{label}: id '{participant_id}' would be confused with the event's "
                        f"shared '{clash}'; give this entry another 'id'")
    if participant_id is not None:
        names = ParticipantNames(event, participant_id)
        problems += [
            f"{label}: id '{participant_id}' is too long: {p}; use an id of at most "
            f"{names.max_participant_id_length()} characters"
            for p in names.problems()
        ]
    if participant_id is None or len(problems) > before:
        return None
    return Participant(participant_id, name.strip(), email, account)


def _duplicate_problems(entries: list[tuple[int, Any, str | None]]) -> list[str]:
    by_id: dict[str, list[str]] = {}
    for position, entry, participant_id in entries:
        if participant_id:
            by_id.setdefault(participant_id, []).append(_label(position, entry))
    return [
        f"{' and '.join(labels)} share the id '{pid}'; give them distinct 'id's"
        for pid, labels in by_id.items()
        if len(labels) > 1
    ]


def _candidate_id(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("id"), str):
        return entry["id"]
    return slugify(entry["name"]) if isinstance(entry.get("name"), str) else None


def parse_roster(document: Any, event: str, source: str = "roster") -> list[Participant]:
    """Validate a loaded roster document; raise RosterError listing every problem."""
    if not isinstance(document, dict) or not isinstance(document.get("participants"), list):
        raise RosterError(source, ["the file must have a top-level 'participants:' list"])
    problems = [
        _unknown_key_problem("top level", k, TOP_LEVEL_KEYS)
        for k in document
        if k not in TOP_LEVEL_KEYS
    ]
    raw = document["participants"]
    if not raw:
        problems.append("the 'participants' list is empty; add at least one participant")
    parsed = [_parse_entry(i, e, event, problems) for i, e in enumerate(raw, start=1)]
    problems += _duplicate_problems(
        [(i, e, _candidate_id(e)) for i, e in enumerate(raw, start=1)]
    )
    if problems:
        raise RosterError(source, problems)
    return [p for p in parsed if p is not None]


def load_roster(path: Path, event: str) -> list[Participant]:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RosterError(str(path), ["the roster file does not exist"]) from None
    except yaml.YAMLError as error:
        raise RosterError(str(path), [f"not valid YAML: {error}"]) from None
    return parse_roster(document, event, source=str(path))
