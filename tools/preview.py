"""Evaluate the program for the real roster under the mock engine and show the plan.

`make preview` needs no AWS account and no Pulumi CLI: it shows what `pulumi up` would
declare for participants.yaml and the default stack config, per participant. It evaluates
single-stack mode, which declares exactly what the event stack and every participant stack
declare together (tests/test_program_topology.py), in one evaluation instead of N + 1.

The listing indexes the declared resources once (whose each one is), so it costs less than
the evaluation at any roster size, and prints in a stable order: shared kinds sorted,
participants in roster order, their outputs in a fixed order.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO

import pulumi

from event.config import ConfigError
from event.roster import RosterError
from event.slots import SlotsError
from tools.mock_program import PROVIDER_TYPE, Program, run_program


def short_type(token: str) -> str:
    return token.split(":")[-1]


def evaluate(config: dict[str, str]) -> Program:
    return run_program({"participantStacks": "false", **config}, stack="preview")


def listing(declared: Program, out: TextIO) -> None:
    participants = declared.outputs["participants"]
    owners = declared.owners()  # one pass over the resources
    shared = owners.pop("", [])
    providers = declared.of_type(PROVIDER_TYPE)
    print(f"{len(declared.resources)} resources: {len(shared)} shared, "
          f"{len(participants)} participants, {len(providers)} providers\n", file=out)
    print("Shared event parts:", file=out)
    for kind, count in sorted(Counter(short_type(r.type) for r in shared).items()):
        print(f"  {count:3d} x {kind}", file=out)
    for participant, outputs in participants.items():  # roster order
        print(f"\n{outputs['name']} ({participant}): {len(owners.get(participant, []))} resources",
              file=out)
        for key in sorted(k for k in outputs if k != "name"):
            print(f"  {key:22s} {outputs[key]}", file=out)


def main(argv: list[str]) -> int:
    config = dict(arg.split("=", 1) for arg in argv)  # e.g. event=reinvent
    try:
        declared = evaluate(config)
    except (RosterError, ConfigError, SlotsError, pulumi.RunError) as error:
        print(error, file=sys.stderr)
        return 2
    listing(declared, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
