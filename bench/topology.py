"""Providers and evaluation time per topology, and `make preview`'s listing against evaluation.

For each roster size (default 10, 100, 300; a tenth of participants in one of 3 own accounts):
- explicit AWS providers declared: the single stack (goal: 1 + distinct accounts), the event
  stack, one participant stack (goal: 1);
- evaluation time of the event stack and of one participant stack under the mock engine,
  as a ratio to the smallest size (a participant stack must not grow with the roster);
- `make preview`: the listing's time against the evaluation's, at the largest size.

    .venv/bin/python -m bench.topology [sizes...]
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tools.mock_program import PROVIDER_TYPE, run_program
from tools.preview import evaluate, listing
from training.build import build_for_config

EVENT_STACK = "acme/ml-workshop/aim368"
OWN_ACCOUNTS = ("222222222222", "333333333333", "444444444444")
BASE = {"datasetSamples": "2000"}


def roster(participants: int) -> list[dict]:
    return [{"name": f"Participant {i:04d}",
             **({"account": OWN_ACCOUNTS[i % 3]} if i % 10 == 9 else {})}
            for i in range(participants)]


def timed(fn, repeats: int = 1):
    """Best of `repeats` wall times (the machine is shared) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(participants: int, folder: Path) -> dict:
    path = folder / f"participants-{participants}.yaml"
    path.write_text(yaml.safe_dump({"participants": roster(participants)}), encoding="utf-8")
    config = {**BASE, "roster": str(path)}
    build_for_config(config, say=lambda _: None)
    event_s, event = timed(lambda: run_program({**config, "participantStacks": "true"}))
    one_s, one = timed(lambda: run_program(
        {**config, "participant": "participant-0000", "eventStack": EVENT_STACK},
        stack_outputs={EVENT_STACK: event.outputs}), repeats=3)
    single_s, single = timed(lambda: evaluate(config))
    listing_s, _ = timed(lambda: listing(single, io.StringIO()))
    accounts = len({e["account"] for e in roster(participants) if "account" in e})
    return {"participants": participants,
            "providers_single": len(single.of_type(PROVIDER_TYPE)), "accounts": accounts,
            "providers_event": len(event.of_type(PROVIDER_TYPE)),
            "providers_participant": len(one.of_type(PROVIDER_TYPE)),
            "event_s": event_s, "participant_s": one_s, "single_s": single_s,
            "listing_s": listing_s}


def report(rows: list[dict]) -> str:
    first = rows[0]
    lines = ["Topology: providers and evaluation time (mock engine)",
             (f"{'participants':>12} {'providers single':>16} {'(1+accounts)':>12} "
              f"{'event':>6} {'participant':>11} {'event eval':>11} {'x':>6} "
              f"{'participant eval':>16} {'x':>6}")]
    for row in rows:
        lines.append(
            f"{row['participants']:>12} {row['providers_single']:>16} {1 + row['accounts']:>12} "
            f"{row['providers_event']:>6} {row['providers_participant']:>11} "
            f"{row['event_s']:>10.2f}s {row['event_s'] / first['event_s']:>5.1f}x "
            f"{row['participant_s']:>15.2f}s {row['participant_s'] / first['participant_s']:>5.1f}x")
    last = rows[-1]
    lines.append(f"make preview at {last['participants']}: evaluation {last['single_s']:.2f} s, "
                 f"listing {last['listing_s']:.3f} s (listing/evaluation "
                 f"{last['listing_s'] / last['single_s']:.3f})")
    return "\n".join(lines)


def main(sizes: list[int] | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(n, Path(folder)) for n in (sizes or [10, 100, 300])]
    print(report(rows))


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or None)
