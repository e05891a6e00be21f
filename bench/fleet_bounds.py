"""Lower bounds of `fleet up` and `fleet destroy` wall time, against today's single stack.

Nothing here runs AWS: the bounds follow from AWS's published control-plane rates and the
fleet's parallelism, so they say what no implementation can beat, not what a run will take.

- API Gateway (per account, fixed): CreateRestApi 1 per 3 s, CreateDeployment 1 per 5 s,
  DeleteRestApi 1 per 30 s. Shared APIs hold `STAGES_PER_API` participants each and belong
  to the event stack, which the fleet runs alone, before (up) or after (destroy) the rest;
  each participant stack deploys the API its stage joins once (its own deployment).
- Lambda 15 control-plane calls/s and Firehose 5 calls/s per account, shared by every
  stack running at once (calls per participant stack: fleet/capacity.py).
- SageMaker: creating an endpoint takes minutes (ENDPOINT_CREATE_S, a low estimate), and a
  participant stack cannot finish before its endpoint is InService; deleting needs the
  notebook stopped first (PARTICIPANT_DELETE_S).
- Memory: the single stack starts one AWS provider per participant plus the event's
  (300-430 MB each); the fleet holds `parallel` stack operations of ~750 MB each.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from fleet.capacity import (
    FIREHOSE_CALLS_PER_S,
    FIREHOSE_CALLS_PER_STACK,
    LAMBDA_CALLS_PER_S,
    LAMBDA_CALLS_PER_STACK,
    RATE_CEILING,
    STACK_OPERATION_MB,
    default_parallelism,
)

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (100, 300)
STAGES_PER_API = 10
CREATE_API_S, CREATE_DEPLOYMENT_S, DELETE_API_S = 3, 5, 30
ENDPOINT_CREATE_S = 5 * 60  # SageMaker endpoint creation: "minutes"; 5 is a low estimate
PARTICIPANT_DELETE_S = 3 * 60  # stop the notebook, delete it and the endpoint
PROVIDER_MB = 430  # upper report for one AWS provider process (pulumi/pulumi-aws 5860)
GB = 2**30


def _apis(participants: int) -> int:
    return math.ceil(participants / STAGES_PER_API)


def _rate_floor(participants: int) -> float:
    """Seconds the account's Lambda and Firehose rates need for every participant's calls."""
    return max(participants * LAMBDA_CALLS_PER_STACK / LAMBDA_CALLS_PER_S,
               participants * FIREHOSE_CALLS_PER_STACK / FIREHOSE_CALLS_PER_S)


def _event_up(participants: int) -> float:
    apis = _apis(participants)
    return max(apis * CREATE_API_S, apis * CREATE_DEPLOYMENT_S)


def fleet_up(participants: int, parallel: int) -> float:
    waves = math.ceil(participants / parallel)
    return _event_up(participants) + max(waves * ENDPOINT_CREATE_S, _rate_floor(participants),
                                         participants * CREATE_DEPLOYMENT_S)


def single_up(participants: int) -> float:
    # One engine, unbounded parallelism: APIs, endpoints and functions all overlap.
    return max(_event_up(participants), ENDPOINT_CREATE_S, _rate_floor(participants))


def fleet_destroy(participants: int, parallel: int) -> float:
    waves = math.ceil(participants / parallel)
    return waves * PARTICIPANT_DELETE_S + _apis(participants) * DELETE_API_S


def single_destroy(participants: int) -> float:
    return max(PARTICIPANT_DELETE_S, _apis(participants) * DELETE_API_S)


def rows(laptop_gb: int = 16) -> list[dict]:
    laptop = default_parallelism(laptop_gb * GB)
    out = []
    for n in SIZES:
        single = {"up_s": single_up(n), "destroy_s": single_destroy(n),
                  "memory_gb": (n + 1) * PROVIDER_MB / 1024}
        for label, parallel in ((f"fleet, {laptop_gb} GB laptop", laptop),
                                ("fleet --remote at the rate ceiling", RATE_CEILING)):
            up, destroy = fleet_up(n, parallel), fleet_destroy(n, parallel)
            memory = parallel * STACK_OPERATION_MB / 1024 if "remote" not in label else 0.0
            out.append({"participants": n, "design": label, "parallel": parallel,
                        "up_s": up, "destroy_s": destroy, "memory_gb": memory,
                        "up_vs_single": up / single["up_s"],
                        "destroy_vs_single": destroy / single["destroy_s"],
                        "memory_vs_single": memory / single["memory_gb"]})
        out.append({"participants": n, "design": "single stack (today)", "parallel": None,
                    **single, "up_vs_single": 1.0, "destroy_vs_single": 1.0,
                    "memory_vs_single": 1.0})
    return out


def main() -> list[dict]:
    table = rows()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fleet_bounds.json").write_text(json.dumps(table, indent=2))
    print("\nFleet wall-time lower bounds from AWS control-plane rates (not a measured run)")
    print("| participants | design | parallel | up | destroy | local memory | up / single "
          "| destroy / single | memory / single |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['participants']} | {r['design']} | {r['parallel'] or 'all'} | "
              f"{r['up_s'] / 60:.1f} min | {r['destroy_s'] / 60:.1f} min | "
              f"{r['memory_gb']:.1f} GB | {r['up_vs_single']:.1f}x | "
              f"{r['destroy_vs_single']:.1f}x | {r['memory_vs_single']:.2f}x |")
    return table


if __name__ == "__main__":
    main()
