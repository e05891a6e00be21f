"""What the edge's settings must fit: Lambda's threads and timeout, EventBridge's input size.

One place for the numbers, read by the edge (which bounds itself at run time whatever it
is given) and by event/config.py (which rejects a config that would hit them, and says
which). Standard library only: the edge's zip carries it.
"""

from __future__ import annotations

import json
import math

PERIOD_SECONDS = 60  # one run per minute: the schedule's period
FUNCTION_TIMEOUT_SECONDS = 90  # the edge function's timeout
# Lambda allows 1,024 processes/threads per execution environment and (as a separate
# limit) 1,024 file descriptors; each request thread holds one socket, and up to
# edge_http.MAX_IDLE_TOTAL idle connections are kept. 512 leaves room for both.
MAX_THREADS = 512
EVENTBRIDGE_INPUT_CHARS = 8_192  # a target's constant Input
# What a run needs after its traffic: one DynamoDB write per participant (about 10-30 ms,
# budgeted at 200 ms for retries) plus reading the secret and starting up.
FLUSH_SECONDS_PER_PARTICIPANT = 0.2
STARTUP_SECONDS = 5
API_ID_CHARS = 10  # API Gateway REST API ids
# EventBridge Scheduler replaces this keyword in a target's Input with the time the run was
# scheduled for (docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html):
# a late or retried run then scores the minute it was meant for, with that minute's samples,
# and the flush's first-run-wins condition drops the retry instead of counting it again.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# How late after its scheduled time a run may still start: the edge's async invoke config
# discards older events (Lambda's MaximumEventAgeInSeconds; 60 is its minimum), and the edge
# itself skips a run that starts later. A run started in time ends within this plus the
# function's timeout, before the leaderboard closes its minute (leaderboard.CLOSED_AFTER_MINUTES).
MAX_START_DELAY_SECONDS = 60


def per_participant_in_flight(rate: int, timeout_s: float) -> int:
    """Requests one participant may have open at once: a second's worth over the timeout,
    plus one."""
    return max(1, math.ceil(rate * timeout_s)) + 1


def threads(shard_size: int, rate: int, timeout_s: float) -> int:
    return shard_size * per_participant_in_flight(rate, timeout_s)


def live_inference_url(api_id: str, region: str, stage: str) -> str:
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}/liveinference"


def shard_input(shard: int, targets: list) -> dict:
    """A shard's scheduled Input: the edge's event (handlers/edge_traffic.handle)."""
    return {"shard": shard, "time": SCHEDULED_TIME, "targets": targets}


def target_input_chars(shard_size: int, id_chars: int, region: str, shard: int = 999) -> int:
    """The longest EventBridge Input a shard can have: every id as long as allowed (the
    stage is named after the id), serialised as the component does (json.dumps)."""
    participant = "p" * id_chars
    url = live_inference_url("a" * API_ID_CHARS, region, participant)
    return len(json.dumps(shard_input(shard, [{"participant": participant, "url": url}]
                                      * shard_size)))


def run_seconds(shard_size: int, timeout_s: float, period: int = PERIOD_SECONDS) -> float:
    """Worst case of one run: the period, the last request's timeout, the flush, start-up."""
    return period + timeout_s + shard_size * FLUSH_SECONDS_PER_PARTICIPANT + STARTUP_SECONDS


def problems(shard_size: int, rate: int, timeout_ms: int, id_chars: int, region: str,
             period: int = PERIOD_SECONDS,
             function_timeout: int = FUNCTION_TIMEOUT_SECONDS) -> list[str]:
    """Every AWS limit these edge settings would break, each with what to change."""
    found = []
    timeout_s = timeout_ms / 1000
    needed = threads(shard_size, rate, timeout_s)
    if needed > MAX_THREADS:
        found.append(
            f"edgeShardSize={shard_size} participants with up to {rate}/s x {timeout_s:g} s + 1 "
            f"requests in flight each (edgeRequestsPerSecond={rate}, edgeTimeoutMs="
            f"{timeout_ms}) need {needed} threads in one edge function, over the "
            f"{MAX_THREADS} that fit Lambda's 1,024 threads and file descriptors; lower "
            f"edgeShardSize to {max(1, MAX_THREADS // per_participant_in_flight(rate, timeout_s))}"
            f" or the rate or timeout")
    chars = target_input_chars(shard_size, id_chars, region)
    if chars > EVENTBRIDGE_INPUT_CHARS:
        fitting = max(n for n in range(1, shard_size + 1)
                      if n == 1 or target_input_chars(n, id_chars, region)
                      <= EVENTBRIDGE_INPUT_CHARS)
        found.append(
            f"edgeShardSize={shard_size}: a shard's EventBridge target input can reach {chars} "
            f"characters with participant ids of up to {id_chars} characters in {region}, over "
            f"EventBridge's {EVENTBRIDGE_INPUT_CHARS}; lower edgeShardSize to {fitting}")
    seconds = run_seconds(shard_size, timeout_s, period)
    if seconds > function_timeout:
        found.append(
            f"edgeShardSize={shard_size} with edgeTimeoutMs={timeout_ms}: a run can take "
            f"{seconds:.0f} s (the {period} s period, the last answer's timeout and the "
            f"writes), over the edge function's {function_timeout} s timeout; lower "
            f"edgeShardSize or edgeTimeoutMs")
    return found
