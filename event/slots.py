"""Stable slots: which shared live inference API, and which place in it, each participant holds.

A participant's live inference URL is `https://<api id>.execute-api.../<stage>/liveinference`,
so the API that holds their stage must never change while they stay on the roster. Packing
by roster position (event/sharding.py) moves people whenever someone is inserted above them.

Here a slot is (api, position): the API's index and one of its `stages_per_api` places.
Whoever already has a slot keeps it, whatever happens to the rest of the roster; a newcomer
takes the lowest free slot, newcomers in roster order, so a slot freed by someone who left
goes to the next newcomer. The assignment lives in a file beside the roster
(`participants.slots.yaml`): the event stack reads it, exports the full assignment, and
`fleet up` writes that export back after the event stack succeeds.

The file is validated as a whole: every malformed entry, duplicate id, shared slot and
out-of-range place is reported at once, each naming the entry. Ids no longer on the
roster are not problems; their slots are simply freed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SLOTS_FILE_SUFFIX = ".slots.yaml"
HEADER = (
    "# Stable live inference slots: participant id -> shared API index and place in it.\n"
    "# Written by `fleet up` from the event stack's output `slots`; keep it beside the roster\n"
    "# and under version control. Deleting an entry may move that participant's URL.\n"
)


@dataclass(frozen=True, order=True)
class Slot:
    api: int  # index of the shared REST API (event/sharding.shared_api_name)
    position: int  # which of that API's `stages_per_api` places

    def number(self, stages_per_api: int) -> int:
        return self.api * stages_per_api + self.position


class SlotsError(ValueError):
    """The slots file is unusable; `problems` lists every reason, one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the slot assignment:\n{listing}")


@dataclass(frozen=True)
class Assignment:
    slots: Mapping[str, Slot]
    stages_per_api: int

    def api_of(self) -> dict[str, int]:
        """participant id -> index of the shared API holding their stage (replaces
        event/sharding.shared_api_of)."""
        return {pid: slot.api for pid, slot in self.slots.items()}

    def apis_in_use(self) -> list[int]:
        """The API indices at least one participant holds; an emptied API can go."""
        return sorted({slot.api for slot in self.slots.values()})

    def to_document(self) -> dict[str, dict[str, int]]:
        """The plain form the event stack exports and the file holds, ordered by slot."""
        ordered = sorted(self.slots.items(), key=lambda item: (item[1], item[0]))
        return {pid: {"api": slot.api, "position": slot.position} for pid, slot in ordered}


def slots_path_for(roster_path: Path) -> Path:
    """`participants.yaml` -> `participants.slots.yaml`, beside it."""
    roster_path = Path(roster_path)
    return roster_path.with_name(roster_path.stem + SLOTS_FILE_SUFFIX)


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys silently; two slots for one id is a problem."""

    duplicates: list[str]


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str) and key in seen:
            loader.duplicates.append(f"'{key}' appears more than once (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _is_index(value: Any) -> bool:
    # Stack outputs carry numbers as doubles (the engine's wire format), so 3.0 is 3.
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return whole and not isinstance(value, bool) and value >= 0


def _parse_entry(pid: Any, entry: Any, problems: list[str]) -> Slot | None:
    label = f"entry {pid!r}"
    if not isinstance(pid, str) or not pid:
        problems.append(f"{label}: the key must be a participant id")
        return None
    if not isinstance(entry, dict):
        problems.append(f"{label}: must be a mapping like {{api: 0, position: 3}}, got {entry!r}")
        return None
    before = len(problems)
    problems += [f"{label}: unknown key '{k}'; allowed keys: api, position"
                 for k in entry if k not in ("api", "position")]
    for key in ("api", "position"):
        if key not in entry:
            problems.append(f"{label}: '{key}' is missing")
        elif not _is_index(entry[key]):
            problems.append(f"{label}: '{key}' must be a whole number >= 0, got {entry[key]!r}")
    if len(problems) > before:
        return None
    return Slot(int(entry["api"]), int(entry["position"]))


def check_slots(slots: Mapping[str, Slot], stages_per_api: int | None) -> list[str]:
    """Problems of an assignment as a whole: slots shared by two ids, places beyond the API
    (not checked when `stages_per_api` is None: the reader does not know it)."""
    problems = []
    holders: dict[Slot, list[str]] = {}
    for pid, slot in slots.items():
        holders.setdefault(slot, []).append(pid)
        if stages_per_api is not None and slot.position >= stages_per_api:
            problems.append(
                f"entry '{pid}': position {slot.position} does not exist with stagesPerApi "
                f"{stages_per_api} (positions 0-{stages_per_api - 1}); set stagesPerApi back to "
                f"at least {slot.position + 1}, or remove the entry to give '{pid}' a new URL")
    problems += [
        f"entries {', '.join(repr(p) for p in sorted(pids))} share the slot api {slot.api}, "
        f"position {slot.position}; remove all but one of them"
        for slot, pids in sorted(holders.items()) if len(pids) > 1
    ]
    return problems


def parse_slots(document: Any, stages_per_api: int | None, source: str = "slots") -> dict[str, Slot]:
    """Validate a loaded slots document (the file's, or the event stack's `slots` output)."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise SlotsError(source, [f"must be a mapping of participant id -> {{api, position}}, got {kind}"])
    problems: list[str] = []
    slots = {}
    for pid, entry in document.items():
        slot = _parse_entry(pid, entry, problems)
        if slot is not None:
            slots[pid] = slot
    problems += check_slots(slots, stages_per_api)
    if problems:
        raise SlotsError(source, problems)
    return slots


def load_slots(path: Path, stages_per_api: int) -> dict[str, Slot]:
    """The previous assignment from the file; no file yet means nobody holds a slot."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    loader = _UniqueKeyLoader(text)
    loader.duplicates = []
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise SlotsError(str(path), [f"not valid YAML: {error}"]) from None
    finally:
        loader.dispose()
    problems = list(loader.duplicates)
    try:
        slots = parse_slots(document, stages_per_api, source=str(path))
    except SlotsError as error:
        problems += error.problems
    if problems:
        raise SlotsError(str(path), problems)
    return slots


def _free_slots(taken: set[Slot], stages_per_api: int) -> Iterable[Slot]:
    number = 0
    while True:
        slot = Slot(number // stages_per_api, number % stages_per_api)
        if slot not in taken:
            yield slot
        number += 1


def assign_slots(roster_ids: Iterable[str], previous: Mapping[str, Slot],
                 stages_per_api: int) -> Assignment:
    """Keep every slot of an id still on the roster; give newcomers, in roster order, the
    lowest free slots. Ids of `previous` not on the roster free their slots."""
    if stages_per_api < 1:
        raise ValueError(f"stages_per_api must be at least 1, got {stages_per_api}")
    problems = check_slots(previous, stages_per_api)
    if problems:
        raise SlotsError("previous slot assignment", problems)
    ids = list(dict.fromkeys(roster_ids))
    kept = {pid: previous[pid] for pid in ids if pid in previous}
    free = _free_slots(set(kept.values()), stages_per_api)
    slots = {pid: kept[pid] if pid in kept else next(free) for pid in ids}
    return Assignment(slots, stages_per_api)


def write_slots(path: Path, assignment: Assignment | Mapping[str, Slot]) -> None:
    """Write the file atomically: a crash mid-write must not lose everyone's slot."""
    path = Path(path)
    slots = assignment.slots if isinstance(assignment, Assignment) else assignment
    document = Assignment(slots, stages_per_api=1).to_document()  # order only, no range
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=None)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(HEADER + (body if slots else "{}\n"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
