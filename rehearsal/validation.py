"""The rehearsal's own settings, checked before any phase starts.

Every problem is reported at once, each naming the participant entry or the key, so a
typo in rehearsal.yaml costs one run of `make rehearse`, not one per mistake found
30-45 s in. Hyperparameters are checked against the ranges the notebooks and the local
trainer accept (training/hyperparameters.py), so the rehearsal cannot train what a
participant could not.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from event.roster import slugify
from training.hyperparameters import ALGORITHMS, RANGES
from training.hyperparameters import validate as validate_hyperparameters

# The last four are attacks (rehearsal/faults.py).
FAULTS = ("never-deploys", "slow-endpoint", "garbage-endpoint", "bad-retrain", "huge-answer",
          "slow-drip", "redirect", "flood-rival")
RETRAINING = ("auto",)  # the loop runs after the drift (rehearsal/retraining.py)
PARTICIPANT_KEYS = ("name", "algorithm", "hyperparameters", "fault", "retraining")
# key -> smallest sensible value; None means the key may be absent or null.
NUMBERS = {"dataset_samples": 100, "feed_seconds": 1, "samples_per_second": 1,
           "traffic_runs": 1, "run_seconds": 1, "requests_per_second": 1, "min_successes": 0}
OPTIONAL_NUMBERS = {"drift_from_run": 0}
TOPOLOGIES = ("stacks", "single")  # rehearsal.stacks
SETTING_KEYS = ("participants", *NUMBERS, *OPTIONAL_NUMBERS, "topology", "reset",
                "reset_after_run")


class SettingsError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"the rehearsal's settings have {len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}:\n"
                         + "\n".join(f"  - {p}" for p in problems))


def _suggestion(value: Any, choices: tuple[str, ...]) -> str:
    """'; did you mean X?' for a near miss or an unambiguous abbreviation, else ''."""
    text = str(value)
    close = difflib.get_close_matches(text, choices, n=1) or \
        [c for c in choices if text and c.startswith(text)][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(keys: Iterable[str], known: tuple[str, ...], where: str) -> list[str]:
    problems = []
    for key in keys:
        if key not in known:
            hint = _suggestion(key, known) or f"; known keys: {', '.join(known)}"
            problems.append(f"{where}unknown key {key!r}{hint}")
    return problems


def _integer(key: str, value: Any, low: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{key}={value!r} must be a whole number"]
    if value < low:
        return [f"{key}={value} must be at least {low}"]
    return []


def participant_problems(position: int, entry: Any) -> list[str]:
    """Problems with one participant entry (1-based position, as a person counts)."""
    if not isinstance(entry, Mapping):
        return [f"participant {position}: expected a mapping with {', '.join(PARTICIPANT_KEYS)}"]
    name = entry.get("name")
    label = f"participant {position} ({name})" if isinstance(name, str) and name.strip() \
        else f"participant {position}"
    where = f"{label}: "
    problems = _unknown(entry.keys(), PARTICIPANT_KEYS, where)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}'name' must be a non-empty text")
    algorithm, hyperparameters = entry.get("algorithm"), entry.get("hyperparameters")
    if algorithm not in ALGORITHMS:
        problems.append(f"{where}algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}"
                        + _suggestion(algorithm, ALGORITHMS))
    elif not isinstance(hyperparameters, Mapping):
        problems.append(f"{where}'hyperparameters' must be a mapping of name: value")
    else:
        names = tuple(RANGES[algorithm])
        problems += [f"{where}{algorithm} hyperparameters: unknown hyperparameter {k!r}"
                     + (_suggestion(k, names) or f"; known: {', '.join(names)}")
                     for k in hyperparameters if k not in names]
        try:  # the ranges' own checks, on the names it knows
            validate_hyperparameters(algorithm, {k: v for k, v in hyperparameters.items()
                                                 if k in names})
        except ValueError as error:
            problems.append(f"{where}{error}")
    fault = entry.get("fault")
    if fault is not None and fault not in FAULTS:
        problems.append(f"{where}fault {fault!r} is not one of {', '.join(FAULTS)}"
                        + _suggestion(fault, FAULTS))
    looping = entry.get("retraining")
    if looping is not None and looping not in RETRAINING:
        problems.append(f"{where}retraining {looping!r} must be 'auto' (or absent: no loop)")
    if fault == "bad-retrain" and looping is None:
        problems.append(f"{where}fault 'bad-retrain' needs 'retraining: auto' (a loop to fault)")
    return problems


def problems(raw: Mapping[str, Any]) -> list[str]:
    """Every problem in a rehearsal's settings (rehearsal.yaml's shape), at once."""
    if not isinstance(raw, Mapping):
        return ["the settings must be a mapping of key: value"]
    found = _unknown(raw.keys(), SETTING_KEYS, "")
    people = raw.get("participants")
    if not isinstance(people, list) or not people:
        found.append("'participants' must be a non-empty list")
        people = []
    for position, entry in enumerate(people, start=1):
        found += participant_problems(position, entry)
    slugs: dict[str, int] = {}
    for position, entry in enumerate(people, start=1):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name.strip():
            slug = slugify(name)
            if slug in slugs:
                found.append(f"participant {position} ({name}): same id {slug!r} as participant "
                             f"{slugs[slug]}")
            slugs.setdefault(slug, position)
    for key, low in NUMBERS.items():
        if key in raw:
            found += _integer(key, raw[key], low)
    if raw.get("drift_from_run") is not None:  # beyond the last run: simply no drift
        found += _integer("drift_from_run", raw["drift_from_run"], 0)
    return found + reset_problems(raw, slugs)


def reset_problems(raw: Mapping[str, Any], slugs: Mapping[str, int]) -> list[str]:
    """`topology`, and `reset` (a participant's name or id) with `reset_after_run`: a run
    with another after it, in the topology where one participant has a stack of their own."""
    found = []
    topology = raw.get("topology", "stacks")
    if topology not in TOPOLOGIES:
        found.append(f"topology={topology!r} is not one of {', '.join(TOPOLOGIES)}"
                     + _suggestion(topology, TOPOLOGIES))
    reset, after = raw.get("reset"), raw.get("reset_after_run")
    if reset is None:
        if after is not None:
            found.append("reset_after_run is set but reset names no participant")
        return found
    if not isinstance(reset, str) or slugify(reset) not in slugs:
        found.append(f"reset={reset!r} is not a participant; participants: "
                     f"{', '.join(slugs)}" + _suggestion(reset, tuple(slugs)))
    if topology == "single":
        found.append("reset needs topology 'stacks' (a participant stack to reset)")
    runs = raw.get("traffic_runs", 3)
    if after is None:
        found.append("reset needs reset_after_run (the traffic run it follows, 1 = the first)")
    elif not _integer("reset_after_run", after, 1) and isinstance(runs, int) and after >= runs:
        found.append(f"reset_after_run={after} must be below traffic_runs={runs} "
                     "(a run after the reset shows who it affected)")
    else:
        found += _integer("reset_after_run", after, 1)
    return found


def check(raw: Mapping[str, Any]) -> None:
    """Raise SettingsError listing every problem, or return quietly."""
    found = problems(raw)
    if found:
        raise SettingsError(found)
