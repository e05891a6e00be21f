"""The rehearsal at 3, 30 and 100 participants: does this machine hold an event of that size?

Each size is one whole `make rehearse` (declare, provision, collect, train and deploy,
traffic, report) with made-up participants (rehearsal/crowd.py) and no faults, so every
error is spurious: nothing is wrong with any participant. It reports the wall time of
each phase, the requests per second achieved against the edge's target, how late the
machinery was (the rehearsal's own saturation measures, rehearsal/capacity.py), the
errors seen, how many of them the rehearsal put down to a saturated machine, and how
many it wrongly blamed on a participant (the goal: 0), with the participants it marked
failing. Traffic runs are shorter than the event's minute (RUNS x RUN_SECONDS) to keep
the bench to minutes; the participant counts are the real ones.

`python -m bench.rehearsal_scale [SIZE ...] [--runs N] [--run-seconds S]`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rehearsal.run import PROJECT_DIR, Progress, load_settings, rehearse, with_crowd

RESULTS = PROJECT_DIR / "bench" / "results"
SIZES = (3, 30, 100)
RUNS, RUN_SECONDS = 2, 10


def measure(size: int, runs: int, run_seconds: int, workdir: Path) -> dict:
    settings = load_settings(traffic_runs=runs, run_seconds=run_seconds)
    settings.drift_from_run = None
    settings.participants = with_crowd(settings.participants, size)
    for person in settings.participants:
        person.fault = None  # nothing wrong with anyone: every error is spurious
    out = workdir / f"rehearsal-{size}"
    started = time.perf_counter()
    with open(workdir / f"rehearsal-{size}.log", "w") as log:
        code = rehearse(settings, out, progress=Progress(log))
    wall = time.perf_counter() - started
    capacity = json.loads((out / "capacity.json").read_text())
    verdicts = capacity["verdicts"].values()
    errors = sum(v["errors"] for v in verdicts)
    excused = sum(v["excused"] for v in verdicts)
    loads = capacity["runs"]
    return {
        "participants": size, "runs": runs, "run_seconds": run_seconds, "exit_code": code,
        "wall_seconds": round(wall, 1),
        "phase_seconds": {k.split(":")[0]: round(v, 1)
                          for k, v in capacity["phase_seconds"].items()},
        "target_per_second": round(sum(r["target_per_second"] for r in loads) / len(loads), 1),
        "achieved_per_second": round(sum(r["achieved_per_second"] for r in loads) / len(loads), 1),
        "worst_edge_lag_ms": max((r["edge_lag_ms"] or 0) for r in loads),
        "worst_answer_extra_ms": max((r["edge_overhead_ms"] or 0) for r in loads),
        "saturated_runs": sum(r["saturated"] for r in loads),
        "saturation_reasons": sorted({reason.split(" (")[0] for r in loads
                                      for reason in r["reasons"]}),
        "errors": errors, "excused_as_saturation": excused, "spurious_blamed": errors - excused,
        "marked_failing": sum(v["status"] == "failing" for v in verdicts),
        "not_judged": sum(v["status"] == "not judged" for v in verdicts),
        "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
    }


def main(sizes=None, runs: int = RUNS, run_seconds: int = RUN_SECONDS) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes or SIZES:
            rows.append(measure(size, runs, run_seconds, Path(tmp)))
            print(f"  rehearsal of {size}: {rows[-1]['wall_seconds']} s", file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rehearsal_scale.json").write_text(json.dumps(rows, indent=2))
    phases = list(rows[0]["phase_seconds"])
    print(f"\nRehearsal at scale: {rows[0]['runs']} traffic runs of {rows[0]['run_seconds']} s, "
          "no faults (every error is spurious)")
    print("| participants | " + " | ".join(f"{p} s" for p in phases) +
          " | requests/s achieved / target | saturated runs | errors | excused | "
          "wrongly blamed | marked failing |")
    print("|---:|" + "---:|" * (len(phases) + 6))
    for r in rows:
        print(f"| {r['participants']} | "
              + " | ".join(str(r["phase_seconds"].get(p, "-")) for p in phases)
              + f" | {r['achieved_per_second']} / {r['target_per_second']} | "
                f"{r['saturated_runs']}/{r['runs']} | {r['errors']} | "
                f"{r['excused_as_saturation']} | {r['spurious_blamed']} | {r['marked_failing']} |")
    for r in rows:
        if r["saturation_reasons"]:
            print(f"  {r['participants']}: saturated because {'; '.join(r['saturation_reasons'])}"
                  f" (worst edge lag {r['worst_edge_lag_ms']:,.0f} ms, answers "
                  f"{r['worst_answer_extra_ms']:,.0f} ms beyond the models; load "
                  f"{r['load_average']:.1f} on {r['cpus']} CPUs)")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.rehearsal_scale")
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--run-seconds", type=int, default=RUN_SECONDS)
    options = parser.parse_args()
    main(options.sizes or None, options.runs, options.run_seconds)
