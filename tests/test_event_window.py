"""Nothing generates traffic outside the event's window: the feed's and the edge's
schedules carry the window's bounds, and are declared disabled once it is over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from components.parts import schedule
from event.config import parse_config
from tests.kit import SCHEDULE, roster

FUTURE = {"eventStart": "2099-06-01T09:00:00+02:00", "eventEnd": "2099-06-01T17:30:00+02:00"}
PAST = {"eventStart": "2020-06-01T09:00:00Z", "eventEnd": "2020-06-01T17:00:00Z"}


def window_of(raw, enabled=True, now="2099-06-01T06:00:00Z"):
    return schedule.window(parse_config(raw).schedule, enabled, datetime.fromisoformat(now))


def test_before_the_event_the_schedules_carry_both_bounds_in_utc():
    assert window_of(FUTURE) == schedule.Window(True, "2099-06-01T07:00:00Z",
                                                "2099-06-01T15:30:00Z")


def test_during_the_event_the_start_is_left_out_since_scheduler_refuses_a_past_start():
    # CreateSchedule/UpdateSchedule: "The StartDate you specify cannot be earlier than 5
    # minutes ago" -- a mid-event `pulumi up` must still succeed.
    assert window_of(FUTURE, now="2099-06-01T10:00:00Z") == schedule.Window(
        True, None, "2099-06-01T15:30:00Z")


def test_after_the_event_every_schedule_is_disabled_with_no_dates():
    assert window_of(FUTURE, now="2099-06-01T15:30:00Z") == schedule.Window(False, None, None)


def test_the_config_switch_still_pauses_inside_the_window():
    assert window_of(FUTURE, enabled=False).enabled is False


def test_without_a_window_only_the_switch_counts():
    assert window_of({}) == schedule.Window(True, None, None)
    assert window_of({}, enabled=False) == schedule.Window(False, None, None)


def test_one_time_expressions_are_in_utc():
    assert schedule.at_expression("2099-06-01T17:30:00+02:00") == "at(2099-06-01T15:30:00)"


def traffic_schedules(declared):
    return [s for s in declared.of_type(SCHEDULE)
            if s.name == "aim368-fc-schedule" or "fc-edge-shard" in s.name]


def test_the_feed_and_every_edge_shard_run_only_inside_a_future_window(program):
    declared = program(roster(30), **FUTURE)
    found = traffic_schedules(declared)
    assert len(found) == 3  # the feed and two shards of 25
    for item in found:
        assert (item.inputs["startDate"], item.inputs["endDate"], item.inputs["state"]) == (
            "2099-06-01T07:00:00Z", "2099-06-01T15:30:00Z", "ENABLED"), item.name


def test_after_a_past_window_nothing_is_scheduled_to_run(program):
    declared = program(roster(3), **PAST)
    assert {s.inputs["state"] for s in traffic_schedules(declared)} == {"DISABLED"}


@pytest.mark.parametrize("now", [datetime(2099, 6, 1, 7, tzinfo=UTC)])
def test_ended_tells_whether_the_window_is_over(now):
    assert not schedule.ended(parse_config(FUTURE).schedule, now)
    assert schedule.ended(parse_config(PAST).schedule, now)
    assert not schedule.ended(parse_config({}).schedule, now)
