"""python -m fleet [options] preview | up | destroy | status | reset ID
                              | notebooks start|stop | endpoint-reset ID
                              | pause | resume | audit | codes | rotate-code ID | links

`up` runs the readiness preflight first (offline checks; --skip-preflight skips it);
`destroy` sweeps each participant's own leftovers before their stack goes and audits the
account at the end; `pause`/`resume` switch the feed and the edge off/on on the event stack.

Exit status: 0 when every stack (or action) succeeded, 1 when any failed or the fleet
refused on purpose (destroying the event stack while participant stacks remain), 2 when it
could not start (no Pulumi CLI, a roster or option problem).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from event.roster import RosterError, load_roster
from event.slots import SlotsError, parse_slots, slots_path_for, write_slots
from fleet import console as organizer
from fleet.capacity import default_parallelism, machine_memory_bytes
from fleet.display import LiveReporter, print_summary
from fleet.naming import StackNameError, plan_fleet
from fleet.orchestrator import Fleet, FleetError

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = PROJECT_DIR / "out" / "fleet"
STACK_VERBS = ("preview", "up", "destroy", "reset")
# What generates traffic, switched together by `pause` and `resume`.
TRAFFIC_SWITCHES = ("feedEnabled", "edgeTrafficEnabled")
EVENT_VERBS = ("pause", "resume")
CODE_VERBS = ("codes", "rotate-code", "links")
LINKS_FILE = PROJECT_DIR / "out" / "join-links.json"  # what `make handouts` reads


def _project() -> dict:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))


def _default(key: str) -> str:
    return str(_project()["config"][key]["default"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fleet",
        description="Drive the event stack and a stack per participant (Pulumi Automation API).")
    parser.add_argument("verb", choices=(*STACK_VERBS, *EVENT_VERBS, "audit", "status",
                                         "notebooks", "endpoint-reset", *CODE_VERBS))
    parser.add_argument("target", nargs="?",
                        help="participant id (reset, endpoint-reset, rotate-code) or "
                             "start|stop (notebooks)")
    parser.add_argument("--stack", default=None,
                        help="codes, rotate-code: the stack holding joinCodes (default: the "
                             "event stack; give your stack's name for a single-stack event)")
    parser.add_argument("--event", default=_default("event"), help="event name (stack prefix)")
    parser.add_argument("--roster", default=_default("roster"),
                        help="roster file, relative to the project directory")
    parser.add_argument("--org", default=os.environ.get("PULUMI_ORG"),
                        help="Pulumi organization of the stacks (default: $PULUMI_ORG, else the "
                             "logged-in user; 'organization' on a self-managed backend)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="participant stacks at once (default: from this machine's memory, "
                             "capped by AWS control-plane rates; see fleet/capacity.py)")
    parser.add_argument("--prune", action="store_true",
                        help="also destroy and remove stacks of ids no longer on the roster")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"),
                        help="AWS region, for status and bulk actions")
    parser.add_argument("--participant-role", default=_default("participantAccountRole"),
                        help="role assumed in participants' own accounts (status, bulk actions)")
    parser.add_argument("--skip-preflight", action="store_true",
                        help="`up` without the readiness preflight first")
    remote = parser.add_argument_group("Pulumi Deployments (--remote)")
    remote.add_argument("--remote", action="store_true",
                        help="run each stack operation on Pulumi Deployments")
    remote.add_argument("--repo", help="Git URL of this project (--remote)")
    remote.add_argument("--branch", default="main", help="branch to deploy (--remote)")
    remote.add_argument("--project-path", default=None,
                        help="the project's folder inside the repository (--remote)")
    remote.add_argument("--inherit-settings", action="store_true",
                        help="use each stack's own deployment settings, e.g. AWS OIDC (--remote)")
    return parser


def _problems(args) -> list[str]:
    problems = []
    if args.verb in ("reset", "endpoint-reset", "rotate-code") and not args.target:
        problems.append(f"`{args.verb}` needs a participant id")
    if args.verb == "notebooks" and args.target not in ("start", "stop"):
        problems.append("`notebooks` needs 'start' or 'stop'")
    if args.verb in ("preview", "up", "destroy", "status", "audit", "codes", "links",
                     *EVENT_VERBS) and args.target:
        problems.append(f"`{args.verb}` takes no argument, got '{args.target}'")
    if args.parallel is not None and args.parallel < 1:
        problems.append(f"--parallel must be at least 1, got {args.parallel}")
    if args.remote and not (args.repo and args.org):
        problems.append("--remote needs --repo (the Git URL) and --org (the Pulumi organization)")
    return problems


def _stacks(args, org: str):
    from fleet.pulumi_stacks import LocalStacks, RemoteSource, RemoteStacks

    if not args.remote:
        return LocalStacks(PROJECT_DIR, org=args.org)
    forwarded = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    source = RemoteSource(
        url=args.repo, branch=args.branch, project_path=args.project_path,
        git_token=os.environ.get("FLEET_GIT_TOKEN"),
        env_vars={"AWS_REGION": args.region},
        secret_env_vars={k: os.environ[k] for k in forwarded if os.environ.get(k)},
        inherit_settings=args.inherit_settings)
    return RemoteStacks(PROJECT_DIR, org=org, source=source, project=_project()["name"])


def _slots_writer(roster_path: Path) -> Callable[[Mapping[str, Any]], None]:
    """After the event stack succeeds, keep its slot assignment beside the roster."""

    def write_back(outputs: Mapping[str, Any]) -> None:
        if "slots" in outputs:
            slots = parse_slots(outputs["slots"], None, source="the event stack's output 'slots'")
            write_slots(slots_path_for(roster_path), slots)
    return write_back


def _print_status(out: Console, rows) -> None:
    table = Table(title="fleet status")
    for column in ("participant", "stack", "notebook", "endpoint", "model", "samples",
                   "last RMSE (ms)", "errors (last minute)", "minute"):
        table.add_column(column, overflow="fold")
    for r in rows:
        samples = "" if r.samples is None else f"{r.samples} ({r.sample_bytes / 1e6:.1f} MB)"
        rmse = "" if r.last_rmse_ms is None else f"{r.last_rmse_ms:.0f}"
        table.add_row(r.participant, r.stack, r.notebook, r.endpoint, r.model, samples, rmse,
                      r.error_class, r.scored_minute)
    out.print(table)


class Readiness:
    """The readiness tools the fleet runs (injected in tests): problem lines before `up`,
    a participant's sweep before their destroy, and the billable leftovers after it."""

    def __init__(self, args, roster_path: Path, participants: list[str]):
        self.args, self.roster_path, self.participants = args, roster_path, participants

    def preflight(self) -> list[str]:
        from readiness.preflight import preflight
        from readiness.program import declare
        return [str(p) for p in preflight(declare({"event": self.args.event},
                                                  roster_file=self.roster_path))]

    def _session(self):
        from readiness.commands import aws_session
        return aws_session()

    def sweep(self, participant: str) -> list[str]:
        from readiness.sweep import Sweeper
        session = self._session()
        sweeper = Sweeper(self.args.event, self.participants,
                          session.client("sagemaker", region_name=self.args.region),
                          session.client("logs", region_name=self.args.region))
        return list(sweeper.sweep(participant).lines())

    def audit(self) -> list[tuple[bool, str]]:
        from readiness.sweep import Auditor
        session = self._session()
        leftovers = Auditor(self.args.event,
                            session.client("resourcegroupstaggingapi", region_name=self.args.region),
                            session.client("sagemaker", region_name=self.args.region),
                            session.client("logs", region_name=self.args.region)).leftovers()
        return [(item.billable, f"{item.kind} {item.name} ({item.why})") for item in leftovers]


def _audit(readiness, out: Console) -> int:
    leftovers = readiness.audit()
    for billable, line in leftovers:
        out.print(f"{'BILLABLE' if billable else 'free    '} {line}", highlight=False)
    count = sum(billable for billable, _ in leftovers)
    out.print(f"audit: {len(leftovers)} leftover(s), {count} billable", highlight=False)
    return 1 if count else 0


def main(argv: list[str] | None = None, *, stacks=None, clients=None, which=None,
         out: Console | None = None, err: Console | None = None, readiness=None) -> int:
    import shutil

    out = out or Console()
    err = err or Console(stderr=True)
    args = build_parser().parse_args(argv)
    # Every verb reads stacks through the Pulumi CLI: say so before anything else.
    if stacks is None and not (which or shutil.which)("pulumi"):
        from fleet.pulumi_stacks import MISSING_CLI
        err.print(MISSING_CLI, highlight=False, soft_wrap=True)
        return 2
    problems = _problems(args)
    roster_path = PROJECT_DIR / args.roster
    try:
        roster = load_roster(roster_path, args.event)
    except RosterError as error:
        problems += [f"{roster_path}: {p}" for p in error.problems]
        roster = []
    if problems:
        err.print("\n".join(problems), highlight=False, soft_wrap=True)
        return 2
    try:
        if stacks is None:
            from fleet.pulumi_stacks import stack_reference_org
            org = args.org or stack_reference_org(PROJECT_DIR)
            stacks = _stacks(args, org)
        else:
            org = args.org or "organization"
        plan = plan_fleet(args.event, [p.id for p in roster],
                          f"{org}/{_project()['name']}/{args.event}")
    except StackNameError as error:
        err.print(str(error), highlight=False)
        return 2

    readiness = readiness or Readiness(args, roster_path, [p.id for p in roster])
    if args.verb == "audit":
        return _audit(readiness, out)
    if args.verb == "up" and not args.skip_preflight:
        found = readiness.preflight()
        if found:
            err.print("\n".join(found) + f"\npreflight: {len(found)} problem(s); fix them or "
                      "run `fleet up --skip-preflight`", highlight=False, soft_wrap=True)
            return 1
        out.print("preflight: no problems", highlight=False)

    def swept(participant: str) -> None:
        for line in readiness.sweep(participant):
            out.print(f"sweep {participant}: {line}", highlight=False)

    if args.verb in STACK_VERBS + EVENT_VERBS:
        parallel = args.parallel or default_parallelism(machine_memory_bytes())
        reporter = LiveReporter(LOG_DIR, console=out)
        fleet = Fleet(stacks, plan, parallel=parallel, reporter=reporter,
                      on_event_outputs=_slots_writer(roster_path),
                      before_destroy=swept if args.verb == "destroy" else None)
        out.print(f"fleet {args.verb}: {len(roster)} participants, {parallel} stacks at once, "
                  f"logs in {LOG_DIR}", highlight=False)
        try:
            with reporter:
                report = {"up": lambda: fleet.up(prune=args.prune),
                          "preview": fleet.preview,
                          "destroy": lambda: fleet.destroy(prune=args.prune),
                          "reset": lambda: fleet.reset(args.target),
                          "pause": lambda: fleet.set_event_config(
                              dict.fromkeys(TRAFFIC_SWITCHES, "false"), "pause"),
                          "resume": lambda: fleet.set_event_config(
                              dict.fromkeys(TRAFFIC_SWITCHES, "true"), "resume"),
                          }[args.verb]()
        except (FleetError, SlotsError) as error:
            err.print(str(error), highlight=False)
            return 2
        print_summary(out, report)
        if args.verb == "destroy" and not report.failed and not report.refusal:
            return _audit(readiness, out)  # non-zero while anything billable is left
        return report.exit_code

    if args.verb in CODE_VERBS:
        return _codes(args, stacks, [p.id for p in roster], plan.event_stack.name, out, err)

    clients = clients or organizer.boto3_clients(args.region, args.participant_role)
    if args.verb == "status":
        _print_status(out, organizer.collect_status(roster, plan, stacks, clients))
        return 0
    if args.verb == "notebooks":
        results = organizer.notebooks(args.target, roster, plan, stacks, clients)
    else:
        results = [organizer.endpoint_reset(args.target, roster, plan, stacks, clients)]
    for result in results:
        mark = "[green]ok[/]" if result.ok else "[red]failed[/]"
        out.print(f"{mark} {result.participant}: {result.message}")
    return 0 if all(r.ok for r in results) else 1


def _codes(args, stacks, ids: list[str], event_stack: str, out: Console, err: Console) -> int:
    from fleet import codes

    stack = args.stack or event_stack
    try:
        if args.verb == "links":
            count = codes.write_links(stacks.outputs(stack), stack, LINKS_FILE)
            out.print(f"{count} join links written to {LINKS_FILE} (secret: delete it after "
                      f"printing); now `make handouts`", highlight=False, soft_wrap=True)
            return 0
        change = (codes.rotate(stacks, stack, ids, args.target) if args.verb == "rotate-code"
                  else codes.ensure(stacks, stack, ids))
    except codes.CodesError as error:
        err.print(str(error), highlight=False, soft_wrap=True)
        return 1
    out.print(change.summary(), highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
