"""Evaluate the program for the real roster under the mock engine and show the plan.

`make preview` needs no AWS account and no Pulumi CLI: it shows what `pulumi up`
would declare for participants.yaml and the default stack config, per participant.
"""

from __future__ import annotations

import sys
from collections import Counter

import pulumi

from event.config import ConfigError
from event.roster import RosterError
from tools.mock_program import run_program


def short_type(token: str) -> str:
    return token.split(":")[-1]


def main(argv: list[str]) -> int:
    config = dict(arg.split("=", 1) for arg in argv)  # e.g. event=reinvent
    try:
        declared = run_program(config, stack="preview")
    except (RosterError, ConfigError, pulumi.RunError) as error:
        print(error, file=sys.stderr)
        return 2
    participants = declared.outputs["participants"]
    shared = [r for r in declared.resources
              if r.custom and r.type != "pulumi:providers:aws" and not any(r.provider_urn == declared.provider_of(p).urn
                                      for p in participants)]
    print(f"{len(declared.resources)} resources: {len(shared)} shared, "
          f"{len(participants)} participants\n")
    print("Shared event parts:")
    for kind, count in sorted(Counter(short_type(r.type) for r in shared).items()):
        print(f"  {count:3d} x {kind}")
    for participant, outputs in participants.items():
        owned = declared.owned_by(participant)
        print(f"\n{outputs['name']} ({participant}): {len(owned)} resources")
        for key, value in outputs.items():
            if key != "name":
                print(f"  {key:22s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
