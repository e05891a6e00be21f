"""The event's window and the other issue-13 settings: validated together, in sections."""

from __future__ import annotations

import pytest

from event.config import ConfigError, parse_config

START, END = "2026-12-01T09:00:00+01:00", "2026-12-01T17:00:00Z"


def problems_of(raw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.problems


def test_no_window_by_default():
    schedule = parse_config({}).schedule
    assert (schedule.start, schedule.end, schedule.bounded, schedule.hours) == ("", "", False, None)


def test_a_window_with_zones_is_read_and_measured_in_hours():
    schedule = parse_config({"eventStart": START, "eventEnd": END}).schedule
    assert schedule.bounded and schedule.hours == 9.0  # 08:00Z to 17:00Z


@pytest.mark.parametrize("raw, expected", [
    ({"eventStart": START}, [("eventStart='2026-12-01T09:00:00+01:00' and eventEnd='': "
                              "set both, or neither")]),
    ({"eventEnd": END}, ["eventStart='' and eventEnd='2026-12-01T17:00:00Z': set both, or neither"]),
    ({"eventStart": END, "eventEnd": START},
     ["eventEnd='2026-12-01T09:00:00+01:00' must be after eventStart='2026-12-01T17:00:00Z'"]),
    ({"eventStart": END, "eventEnd": END},
     ["eventEnd='2026-12-01T17:00:00Z' must be after eventStart='2026-12-01T17:00:00Z'"]),
    ({"scaleDownEndpointsAtEnd": "true"},
     ["scaleDownEndpointsAtEnd=true needs eventEnd (when to delete the endpoints)"]),
])
def test_the_window_is_both_or_neither_and_ends_after_it_starts(raw, expected):
    assert problems_of(raw) == expected


def test_times_without_a_zone_are_refused_by_the_existing_iso_rule_only():
    problems = problems_of({"eventStart": "2026-12-01T09:00:00", "eventEnd": "tomorrow"})
    assert problems == [
        "eventStart='2026-12-01T09:00:00' needs a time zone, like 2026-12-01T15:00:00Z",
        "eventEnd='tomorrow' is not an ISO 8601 time like 2026-12-01T15:00:00Z"]


def test_the_other_issue_13_settings_land_in_their_sections():
    config = parse_config({"keepPromotions": "true", "maxTrainingJobsPerParticipant": "3",
                           "leaderboardReservedConcurrency": "0"})
    assert config.updates.keep_promotions is True
    assert config.training.max_jobs_per_participant == 3
    assert config.capacity.leaderboard_reserved_concurrency == 0
    assert problems_of({"maxTrainingJobsPerParticipant": "0",
                        "leaderboardReservedConcurrency": "-1"}) == [
        "maxTrainingJobsPerParticipant=0 must be between 1 and 10",
        "leaderboardReservedConcurrency=-1 must be between 0 and 100"]
