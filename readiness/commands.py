"""The readiness commands: each reads its arguments, does one job and returns an exit code."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from readiness.cli_common import UsageError, program_from, settings
from readiness.preflight import preflight as offline_problems


def _preflight_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="only the offline checks (no AWS credentials needed)")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {}
PROGRAM_COMMANDS = {"preflight"}


def _region(program) -> str:
    from readiness.program import placements
    return next((p.region for p in placements(program).values() if p.region), "us-east-1")


def cost(args: argparse.Namespace) -> int:
    """Estimate the event's cost per component, per hour and for --hours, before `up`."""
    from rich.console import Console
    from rich.table import Table

    from readiness import cost as costing
    from readiness.pricing import bundled_prices, price_list_prices

    if args.hours is None:
        args.hours = _window_hours(args) or DEFAULT_HOURS
    if args.hours <= 0:
        raise UsageError("--hours must be more than 0")
    assumptions = costing.Assumptions(
        hours=args.hours, training_jobs_per_participant=args.jobs_per_participant,
        training_minutes_per_job=args.minutes_per_job,
        leaderboard_viewers=args.leaderboard_viewers)
    program = program_from(args)
    region = _region(program)
    if args.price_list:
        session = aws_session()
        prices = price_list_prices(region, session.client("pricing", region_name="us-east-1"),
                                   costing.price_keys(program, assumptions))
    else:
        prices = bundled_prices(region)
    result = costing.estimate(program, prices, assumptions)
    console = Console(width=110)
    table = Table(title=f"Estimated cost: {result.participants} participants, {region}, "
                        f"{args.hours:g} h")
    table.add_column("component")
    table.add_column("USD per hour", justify="right")
    table.add_column(f"USD for {args.hours:g} h", justify="right")
    for component, per_hour in result.by_component().items():
        table.add_row(component, f"{per_hour:,.2f}", f"{per_hour * args.hours:,.2f}")
    table.add_row("total", f"{result.per_hour:,.2f}", f"{result.for_event:,.2f}", style="bold")
    console.print(table)
    console.print(f"left up day and night, from `pulumi up` to `destroy`: "
                  f"{result.per_hour * 24:,.2f} USD per day")
    if args.details:
        for line in result.lines:
            console.print(f"  {line.component}: {line.item} x {line.unit_price:g} USD "
                          f"({line.price_key}) = {line.per_hour:,.4f} USD/h")
    console.print(f"assumptions: {assumptions}")
    console.print(result.prices_used)
    return 0


def _cost_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=None,
                        help="how long the stack runs, from `up` to `destroy` (default: "
                             f"eventEnd - eventStart when set, else {DEFAULT_HOURS:g})")
    parser.add_argument("--jobs-per-participant", type=float, default=6.0)
    parser.add_argument("--minutes-per-job", type=float, default=6.0)
    parser.add_argument("--leaderboard-viewers", type=int, default=5)
    parser.add_argument("--details", action="store_true", help="every priced line")
    parser.add_argument("--price-list", action="store_true",
                        help="prices from the AWS Price List API (needs credentials)")


DEFAULT_HOURS = 8.0


def _window_hours(args: argparse.Namespace) -> float | None:
    """eventEnd - eventStart from the stack config, when the event has a window."""
    from event.config import ConfigError, parse_config

    raw = settings(args)
    raw.pop("aws:region", None)
    try:
        return parse_config(raw).schedule.hours
    except ConfigError as error:
        raise UsageError(str(error)) from None


def aws_session():
    """A boto3 session with credentials, or a UsageError saying what is missing."""
    import boto3
    session = boto3.Session()
    if session.get_credentials() is None:
        raise UsageError("no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, or run where an instance role exists)")
    return session


COMMANDS["cost"] = cost
ARGUMENTS["cost"] = _cost_arguments
PROGRAM_COMMANDS.add("cost")


def _quota_check(args: argparse.Namespace, program) -> int:
    from rich.console import Console
    from rich.table import Table

    from readiness import quotas
    from readiness.program import physical_name

    session = aws_session()
    region = _region(program)
    wanted = quotas.needs(program, training_jobs_at_once=args.training_jobs_at_once)
    ours = {physical_name(s) for s in program.of_type(
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")}
    client = session.client("service-quotas", region_name=region)
    rows = quotas.check(wanted, client, session.client("lambda", region_name=region),
                        session.client("firehose", region_name=region), ours)
    table = Table(title=f"Quotas in {region} (account of the current credentials)")
    for column in ("service", "quota", "code", "applied", "in use elsewhere", "event needs",
                   "gap"):
        table.add_column(column, justify="right" if column in ("applied", "event needs",
                                                               "gap", "in use elsewhere")
                         else "left")
    for row in rows:
        gap = "not found" if row.gap is None else f"{row.gap:+,.0f}"
        table.add_row(row.need.service, row.need.quota_name, row.code or "-",
                      "-" if row.value is None else f"{row.value:,.0f}", f"{row.in_use:,}",
                      f"{row.need.needed:,}", gap, style="bold red" if row.short else None)
    Console(width=140).print(table)
    short = [row for row in rows if row.short]
    for row in short:
        print(f"short: {row.need.service} {row.code or '(code not found)'} "
              f"'{row.need.quota_name}': needs {row.need.needed + row.in_use:,} ({row.need.why})")
    if short and args.request_increases:
        quotas.request_increases(short, client)
    return 1 if short else 0


def quotas_command(args: argparse.Namespace) -> int:
    """Compare the account's quotas with what the event needs (needs AWS credentials)."""
    return _quota_check(args, program_from(args))


def _quota_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--training-jobs-at-once", type=int, default=1,
                        help="training jobs each participant may run at the same time")
    parser.add_argument("--request-increases", action="store_true",
                        help="file a Service Quotas increase request for every short quota")


def preflight_command(args: argparse.Namespace) -> int:
    """Check every declared resource against AWS's constraints (offline), then the account's
    quotas (needs AWS credentials; --offline skips them)."""
    program = program_from(args)
    problems = offline_problems(program)
    for problem in problems:
        print(problem)
    print(f"preflight: {len(problems)} problem(s) in {sum(r.custom for r in program.resources)} "
          "declared resources")
    status = 1 if problems else 0
    if args.offline:
        return status
    try:
        return max(status, _quota_check(args, program))
    except UsageError as error:
        print(f"quota check not run: {error}")
        return 2


def _preflight_all_arguments(parser: argparse.ArgumentParser) -> None:
    _preflight_arguments(parser)
    _quota_arguments(parser)


COMMANDS["preflight"] = preflight_command
ARGUMENTS["preflight"] = _preflight_all_arguments
COMMANDS["quotas"] = quotas_command
ARGUMENTS["quotas"] = _quota_arguments
PROGRAM_COMMANDS.add("quotas")


def _event_and_roster(args: argparse.Namespace) -> tuple[str, list[str], str]:
    """(event, participant ids, region) from the stack config and roster, without Pulumi."""
    from event.config import ConfigError, parse_config
    from event.roster import RosterError, load_roster
    from tools.mock_program import PROJECT_DIR

    raw = settings(args)
    region = raw.pop("aws:region", None)
    try:
        config = parse_config(raw, region=region)
        roster_path = args.roster or Path(PROJECT_DIR / config.roster)
        participants = [p.id for p in load_roster(roster_path, config.event)]
    except (ConfigError, RosterError) as error:
        raise UsageError(str(error)) from None
    return config.event, participants, config.region


def sweep(args: argparse.Namespace) -> int:
    """Before `destroy`: stop participants' training jobs, delete their models, endpoint
    configurations and log streams (by exact ownership); --after-destroy also what was
    Pulumi's and their endpoint log group."""
    from readiness.sweep import Sweeper

    event, participants, region = _event_and_roster(args)
    chosen = participants if args.all else args.participant
    unknown = [p for p in chosen if p not in participants]
    if not chosen or unknown:
        raise UsageError(f"not in the roster: {', '.join(unknown)}" if unknown
                         else "name --participant ID (repeatable) or --all")
    session = aws_session()
    sweeper = Sweeper(event, participants, session.client("sagemaker", region_name=region),
                      session.client("logs", region_name=region),
                      after_destroy=args.after_destroy, dry_run=args.dry_run)
    for participant in chosen:
        for line in sweeper.sweep(participant).lines():
            print(f"{participant}: {'(dry run) ' if args.dry_run else ''}{line}")
    return 0


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roster", type=Path, help="roster file (default: the config's)")
    parser.add_argument("--stack-config", type=Path)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--participant", action="append", default=[], metavar="ID")
    who.add_argument("--all", action="store_true", help="every participant in the roster")
    parser.add_argument("--after-destroy", action="store_true",
                        help="also delete what Pulumi managed (run after `pulumi destroy`)")
    parser.add_argument("--dry-run", action="store_true", help="list, change nothing")


def audit(args: argparse.Namespace) -> int:
    """After `destroy`: list everything still carrying the event's tag or name shape;
    exit 1 if anything billable remains."""
    from readiness.sweep import Auditor

    event, _, region = _event_and_roster(args)
    session = aws_session()
    leftovers = Auditor(event, session.client("resourcegroupstaggingapi", region_name=region),
                        session.client("sagemaker", region_name=region),
                        session.client("logs", region_name=region)).leftovers()
    for leftover in leftovers:
        mark = "BILLABLE" if leftover.billable else "free    "
        print(f"{mark} {leftover.kind:28} {leftover.name}  ({leftover.why})")
    billable = sum(leftover.billable for leftover in leftovers)
    print(f"audit: {len(leftovers)} leftover(s) of {event} in {region}, {billable} billable")
    return 1 if billable else 0


def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roster", type=Path, help="roster file (default: the config's)")
    parser.add_argument("--stack-config", type=Path)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")


COMMANDS["sweep"] = sweep
ARGUMENTS["sweep"] = _sweep_arguments
COMMANDS["audit"] = audit
ARGUMENTS["audit"] = _audit_arguments
