"""How long the program takes to evaluate under the mock engine, per participant.

For 10, 100 and 300 participants it times `__main__.py` and a bare loop declaring the
same number of plain resources (argument-less SNS topics) under the same mock engine,
in the same run. The ratio is the program's own overhead on top of Pulumi's
registration cost; absolute times on a shared 2-core machine are only indicative.
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
from pathlib import Path

import yaml

from tools.mock_program import PARTICIPANT_TYPE, run_program
from training.build import build_for_config

PROJECT_DIR = Path(__file__).resolve().parent.parent

RESULTS = PROJECT_DIR / "bench" / "results"
SIZES = (10, 100, 300)
BARE_PROGRAM = '''
import pulumi_aws as aws
import pulumi
provider = aws.Provider("bare-aws", region="us-east-1")
for i in range({count}):
    aws.sns.Topic(f"bare-{{i}}", opts=pulumi.ResourceOptions(provider=provider))
'''


REPEATS = 2  # best of, to damp the noise of a shared machine


def _timed(fn):
    best, result = float("inf"), None
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(participants: int, workdir: Path) -> dict:
    roster = workdir / f"roster-{participants}.yaml"
    roster.write_text(yaml.safe_dump(
        {"participants": [{"name": f"Participant {i:04d}"} for i in range(participants)]}))
    program_seconds, declared = _timed(lambda: run_program({"roster": str(roster),
                                                            "participantStacks": "false"}))
    per_participant = len(declared.within("participant-0000", PARTICIPANT_TYPE)) + 1  # + itself
    bare = workdir / f"bare-{participants}.py"
    bare.write_text(BARE_PROGRAM.format(count=len(declared.resources)))
    bare_seconds, bare_declared = _timed(lambda: run_program({}, program=bare))
    assert len(bare_declared.resources) == len(declared.resources) + 1
    return {
        "participants": participants,
        "resources": len(declared.resources),
        "resources_per_participant": per_participant,
        "program_seconds": round(program_seconds, 3),
        "bare_loop_seconds": round(bare_seconds, 3),
        "ms_per_participant": round(1000 * program_seconds / participants, 1),
        "program_to_bare_ratio": round(program_seconds / bare_seconds, 2),
    }


def report(rows: list[dict]) -> str:
    lines = ["| participants | resources | per participant | program s | bare loop s | "
             "ms / participant | program / bare |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['participants']} | {r['resources']} | {r['resources_per_participant']} | "
              f"{r['program_seconds']} | {r['bare_loop_seconds']} | {r['ms_per_participant']} | "
              f"{r['program_to_bare_ratio']} |" for r in rows]
    return "\n".join(lines)


def main(sizes=None) -> list[dict]:
    build_for_config({})  # outside the timings: the program only references the built files
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(n, Path(tmp)) for n in (sizes or SIZES)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "program_eval.json").write_text(json.dumps(rows, indent=2))
    print("Program evaluation under the Pulumi mock engine")
    print(report(rows))
    return rows


if __name__ == "__main__":
    main()
