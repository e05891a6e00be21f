"""`python -m rehearsal` (or `make rehearse`): the whole event, locally, in a few minutes.

Options override rehearsal.yaml; faults are set per participant there or here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rehearsal.run import DEFAULT_CONFIG, PROJECT_DIR, load_settings, rehearse, with_crowd
from rehearsal.validation import FAULTS, SettingsError
from rehearsal.world import QuotaError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "out" / "rehearsal")
    parser.add_argument("--runs", type=int, dest="traffic_runs", help="traffic runs")
    parser.add_argument("--run-seconds", type=int, help="seconds of traffic per run")
    parser.add_argument("--drift-from-run", type=int, help="first drifted run (0-based)")
    parser.add_argument("--participants", type=int, metavar="N",
                        help="rehearse with N participants: the configured ones, then made-up "
                             "ones (rehearsal/crowd.py) up to N")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME=FAULT",
                        help=f"give a participant a fault: one of {', '.join(FAULTS)}")
    options = parser.parse_args(argv)
    try:
        settings = load_settings(options.config, traffic_runs=options.traffic_runs,
                                 run_seconds=options.run_seconds,
                                 drift_from_run=options.drift_from_run)
    except SettingsError as error:
        print(f"{options.config}: {error}", file=sys.stderr)
        return 2
    if options.participants is not None:
        if options.participants < 1:
            parser.error("--participants must be at least 1")
        settings.participants = with_crowd(settings.participants, options.participants)
    for spec in options.fault:
        name, _, fault = spec.partition("=")
        matches = [p for p in settings.participants if p.name.lower().startswith(name.lower())]
        if len(matches) != 1 or fault not in FAULTS:
            parser.error(f"--fault {spec}: name one participant and one of {FAULTS}")
        matches[0].fault = fault
    try:
        return rehearse(settings, options.out)
    except QuotaError as error:
        print(f"rehearsal stopped: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: everything was shut down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
