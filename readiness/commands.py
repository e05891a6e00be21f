"""The readiness commands: each reads its arguments, does one job and returns an exit code."""

from __future__ import annotations

import argparse
from typing import Callable

from readiness.cli_common import program_from
from readiness.preflight import preflight as offline_problems


def preflight(args: argparse.Namespace) -> int:
    """Check every declared resource against AWS's constraints (offline), then the account's
    quotas (with credentials; --offline skips them)."""
    program = program_from(args)
    problems = offline_problems(program)
    for problem in problems:
        print(problem)
    print(f"preflight: {len(problems)} problem(s) in {sum(r.custom for r in program.resources)} "
          "declared resources")
    return 1 if problems else 0


def _preflight_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="only the offline checks (no AWS credentials needed)")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"preflight": preflight}
ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "preflight": _preflight_arguments}
PROGRAM_COMMANDS = {"preflight"}
