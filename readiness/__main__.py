"""`python -m readiness preflight|quotas|cost|sweep|audit`: an event's readiness for AWS."""

from __future__ import annotations

import argparse
import sys

from readiness import commands
from readiness.cli_common import UsageError, add_program_arguments


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m readiness", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    for name, command in commands.COMMANDS.items():
        each = sub.add_parser(name, help=command.__doc__.splitlines()[0],
                              description=command.__doc__)
        if name in commands.PROGRAM_COMMANDS:
            add_program_arguments(each)
        commands.ARGUMENTS[name](each)
        each.set_defaults(run=command)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
