"""What the organizer sees: a live table (a row per stack), a log file per stack, a summary.

Rows show state, resources done/total (from the engine's events), elapsed time and the last
message. Running and failed stacks sort first, so with a hundred rows the ones that matter
stay on screen. Each stack's full engine output goes to out/fleet/<stack>.log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fleet.orchestrator import FleetReport, Outcome, StackResult

STYLE = {Outcome.SUCCEEDED: "green", Outcome.FAILED: "bold red", Outcome.SKIPPED: "yellow",
         Outcome.ORPHAN: "magenta"}
ORDER = {"running": 0, Outcome.FAILED: 1, "queued": 2, Outcome.ORPHAN: 3, Outcome.SKIPPED: 4,
         Outcome.SUCCEEDED: 5}


@dataclass
class Row:
    name: str
    participant: str | None
    action: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    started: float | None = None
    ended: float | None = None
    message: str = ""
    outcome: Outcome | None = None

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        seconds = int((self.ended or now) - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def sort_key(self):
        return (ORDER["running"] if self.outcome is None and self.started else
                ORDER[self.outcome] if self.outcome else ORDER["queued"], self.name)


class StackLog:
    """The listener of one stack: updates its row, appends engine output to its log file."""

    def __init__(self, row: Row, path: Path, lock: threading.Lock, clock):
        self.row, self.path, self.lock, self.clock = row, path, lock, clock
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with path.open("a", encoding="utf-8") as log:
            log.write(f"\n=== {row.action} {row.name} at {stamp}\n")

    def state(self, text: str) -> None:
        with self.lock:
            if self.row.started is None:
                self.row.started = self.clock()
            self.row.state = text
        self._append(f"--- {text}\n")

    def output(self, line: str) -> None:
        self._append(line if line.endswith("\n") else line + "\n")

    def resources(self, done: int, total: int) -> None:
        with self.lock:
            self.row.done, self.row.total = done, total

    def message(self, text: str) -> None:
        with self.lock:
            self.row.message = text

    def _append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as log:
            log.write(text)


@dataclass
class LiveReporter:
    """The orchestrator's Reporter, drawing with rich."""

    log_dir: Path
    console: Console = field(default_factory=Console)
    clock: callable = time.monotonic
    rows: dict[str, Row] = field(default_factory=dict)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._live: Live | None = None

    def track(self, name: str, participant: str | None, action: str) -> StackLog:
        with self._lock:
            row = self.rows[name] = Row(name, participant, action)
        return StackLog(row, self.log_dir / f"{name}.log", self._lock, self.clock)

    def finished(self, result: StackResult) -> None:
        with self._lock:
            row = self.rows.setdefault(result.name, Row(result.name, result.participant,
                                                        result.action))
            row.outcome, row.ended = result.outcome, self.clock()
            row.state = result.outcome.value
            if result.message:
                row.message = result.message
        if result.outcome is Outcome.FAILED:
            self.console.log(f"[red]{result.name}[/] failed: {result.message} "
                             f"(log: {self.log_dir / (result.name + '.log')})")

    def __rich__(self):
        now = self.clock()
        with self._lock:
            rows = sorted(self.rows.values(), key=Row.sort_key)
            counts = {}
            for row in rows:
                key = row.outcome.value if row.outcome else ("running" if row.started else "queued")
                counts[key] = counts.get(key, 0) + 1
        table = Table(expand=True, show_edge=False)
        for column in ("stack", "state", "resources", "elapsed", "last message"):
            table.add_column(column, overflow="ellipsis", no_wrap=True,
                             ratio=3 if column == "last message" else None)
        for row in rows:
            table.add_row(row.name, Text(row.state, style=STYLE.get(row.outcome, "cyan")),
                          f"{row.done}/{row.total}" if row.total else "", row.elapsed(now),
                          row.message)
        header = Text("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())), style="bold")
        return Group(header, table)

    def __enter__(self):
        self._live = Live(self, console=self.console, refresh_per_second=2,
                          vertical_overflow="crop", transient=True)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)


def summary_table(report: FleetReport) -> Table:
    table = Table(title=f"fleet {report.action}: summary")
    for column in ("stack", "participant", "action", "outcome", "attempts", "time", "message"):
        table.add_column(column, overflow="fold")
    for result in sorted(report.results, key=lambda r: (ORDER[r.outcome], r.name)):
        table.add_row(result.name, result.participant or "", result.action,
                      Text(result.outcome.value, style=STYLE[result.outcome]),
                      str(result.attempts or ""), f"{result.seconds:.0f} s" if result.attempts else "",
                      result.message)
    return table


def print_summary(console: Console, report: FleetReport) -> None:
    console.print(summary_table(report))
    failed = len(report.failed)
    if report.refusal:
        console.print(f"[bold red]refused:[/] {report.refusal}")
    verdict = f"[bold red]{failed} stack(s) failed[/]" if failed else "[green]no stack failed[/]"
    console.print(f"{verdict}; logs in out/fleet/")
