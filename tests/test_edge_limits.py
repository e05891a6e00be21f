"""Edge settings that AWS limits would break are rejected by the config, saying which."""

import json

import pytest

from event.config import ConfigError, parse_config
from event.names import ParticipantNames
from handlers import edge_limits


def problems_of(**raw):
    with pytest.raises(ConfigError) as caught:
        parse_config({k: str(v) for k, v in raw.items()})
    return caught.value.problems


def test_the_defaults_fit_every_limit():
    config = parse_config({})
    assert edge_limits.problems(config.edge.shard_size, config.edge.requests_per_second,
                                config.edge.timeout_ms, 63, "ap-southeast-2") == []


def test_more_threads_than_lambda_allows_are_rejected_with_a_size_that_fits():
    [problem] = problems_of(edgeShardSize=40, edgeRequestsPerSecond=20, edgeTimeoutMs=10000)
    assert "threads" in problem and "over the 512" in problem
    assert "lower edgeShardSize to 2" in problem
    assert edge_limits.threads(2, 20, 10.0) <= edge_limits.MAX_THREADS


def test_a_target_input_over_eventbridges_limit_is_rejected_with_a_size_that_fits():
    [problem] = problems_of(edgeShardSize=50, edgeRequestsPerSecond=1, edgeTimeoutMs=1000)
    assert "EventBridge's 8192" in problem
    fitting = int(problem.rsplit(" ", 1)[1])
    longest = ParticipantNames("aim368", "p").max_participant_id_length()  # as the config checks
    assert edge_limits.target_input_chars(fitting, longest, "us-east-1") <= 8192 < \
        edge_limits.target_input_chars(fitting + 1, longest, "us-east-1")


def test_the_input_estimate_is_what_the_component_serialises():
    url = edge_limits.live_inference_url("abcdefghij", "us-east-1", "p" * 5)
    payload = {"shard": 999, "time": "<aws.scheduler.scheduled-time>",
               "targets": [{"participant": "p" * 5, "url": url}] * 3}
    assert edge_limits.target_input_chars(3, 5, "us-east-1") == len(json.dumps(payload))


def test_a_run_that_cannot_finish_within_the_function_timeout_is_rejected():
    [problem] = edge_limits.problems(50, 1, 5_000, 10, "us-east-1", period=80)
    assert "over the edge function's 90 s timeout" in problem
    assert edge_limits.problems(50, 1, 5_000, 10, "us-east-1") == []


def test_every_edge_problem_is_reported_at_once():
    found = problems_of(edgeShardSize=50, edgeRequestsPerSecond=20, edgeTimeoutMs=10000)
    assert len(found) == 2 and "threads" in found[0] and "EventBridge" in found[1]
