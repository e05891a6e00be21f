"""How many participant stacks `fleet up` runs at once by default, and why.

Memory bounds it on one machine. Every stack operation is a `pulumi` engine process, a Python
language host evaluating __main__.py, and one AWS provider plugin; the AWS provider alone has
been reported at 300-430 MB (pulumi/pulumi-aws issue 5860), the engine and the Python host
with pulumi_aws loaded add about 300 MB. We budget 750 MB per stack operation and give the
fleet 60% of the machine's memory (the rest is the OS, the browser and the organizer's tools).

AWS's control-plane rates do not bind at that parallelism; they only cap it. Each participant
stack makes about LAMBDA_CALLS_PER_STACK Lambda and FIREHOSE_CALLS_PER_STACK Firehose
control-plane calls, most of them within its first STACK_BURST_S seconds. Lambda allows
15 calls/s and Firehose 5 calls/s per account, so running P stacks at once stays under both
while P * calls / burst <= rate: P <= 15*60/12 = 75 and 5*60/4 = 75. The ceiling of 32 keeps
a wide margin below that (the event's own functions, retries, other tools in the account).
API Gateway's CreateDeployment (1 per 5 s per account, fixed) is made once by each
participant stack: its stage stands on a deployment of its own, because AWS refuses to delete
a deployment any stage points to, and a deployment owned by the event stack would tie the
event stack to every participant's stage. 12 deployments a minute is far above the rate the
fleet finishes stacks (parallel / endpoint minutes), so a burst of stacks starting together
only waits in the provider's throttling retries.
bench/fleet_bounds.py prints what these numbers mean for 100 and 300 participants.
"""

from __future__ import annotations

import os

STACK_OPERATION_MB = 750  # engine + Python host (~300 MB) + AWS provider (300-430 MB)
MEMORY_SHARE = 0.6
LAMBDA_CALLS_PER_STACK = 12  # 2 functions: create, wait for Active, permissions, configs
FIREHOSE_CALLS_PER_STACK = 4  # create, then describe until ACTIVE
STACK_BURST_S = 60
LAMBDA_CALLS_PER_S, FIREHOSE_CALLS_PER_S = 15, 5
RATE_CEILING = 32


def rate_bound() -> int:
    return min(LAMBDA_CALLS_PER_S * STACK_BURST_S // LAMBDA_CALLS_PER_STACK,
               FIREHOSE_CALLS_PER_S * STACK_BURST_S // FIREHOSE_CALLS_PER_STACK)


def memory_bound(total_memory_bytes: int) -> int:
    return int(total_memory_bytes * MEMORY_SHARE // (STACK_OPERATION_MB * 2**20))


def default_parallelism(total_memory_bytes: int) -> int:
    return max(1, min(RATE_CEILING, rate_bound(), memory_bound(total_memory_bytes)))


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
