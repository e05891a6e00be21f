"""What every readiness command takes: the roster and the stack config to evaluate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from readiness.program import declare, synthetic_roster
from tools.mock_program import PROJECT, Program


class UsageError(ValueError):
    """Bad command-line input, reported as one line each, before anything runs."""


def add_program_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--roster", type=Path, help="roster file (default: the config's roster)")
    group.add_argument("--participants", type=int,
                       help="a synthetic roster of this many participants (sizing)")
    parser.add_argument("--stack-config", type=Path,
                        help=f"a Pulumi.<stack>.yaml whose '{PROJECT}:' settings apply")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting, as `pulumi config set` would (repeatable)")


def settings(args: argparse.Namespace) -> dict[str, str]:
    found: dict[str, str] = {}
    problems = []
    if args.stack_config:
        try:
            document = yaml.safe_load(args.stack_config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise UsageError(f"--stack-config {args.stack_config}: {error}") from None
        for key, value in (document.get("config") or {}).items():
            if key.startswith(f"{PROJECT}:"):
                found[key.split(":", 1)[1]] = str(value)
            elif key == "aws:region":
                found[key] = str(value)
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            problems.append(f"--config {item!r} is not KEY=VALUE")
            continue
        found[key] = value
    if getattr(args, "participants", None) is not None and args.participants < 1:
        problems.append("--participants must be at least 1")
    if problems:
        raise UsageError("; ".join(problems))
    return found


def program_from(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> Program:
    config = {**settings(args), **(extra or {})}
    if args.participants:
        return declare(config, roster=synthetic_roster(args.participants))
    return declare(config, roster_file=args.roster)
