"""The fleet's orchestration, against a fake of the stack backend."""

import pytest

from fleet.naming import participant_of, participant_stack_name, plan_fleet
from fleet.orchestrator import (
    Fleet,
    FleetError,
    Outcome,
    RetryPolicy,
    error_summary,
    is_transient,
)
from tests.fleet_fake import FakeStacks

EVENT = "aim368"
IDS = ["ada", "bob", "cy", "dee", "eve", "fay"]
REFERENCE = "acme/ml-workshop/aim368"


def stack(pid):
    return participant_stack_name(EVENT, pid)


class ConcurrentUpdateError(Exception):
    """Named like pulumi.automation.errors.ConcurrentUpdateError, which the fleet retries."""


def fleet(fake, ids=IDS, parallel=3, **kwargs):
    sleeps = []
    kwargs.setdefault("jitter", lambda delay: delay)
    built = Fleet(fake, plan_fleet(EVENT, ids, REFERENCE), parallel=parallel,
                  sleep=sleeps.append, **kwargs)
    return built, sleeps


def by_name(report):
    return {r.name: r for r in report.results}


def test_up_brings_the_event_stack_up_before_any_participant_stack():
    fake = FakeStacks()
    report = fleet(fake)[0].up()
    assert fake.of("up")[0] == EVENT
    assert sorted(fake.of("up")[1:]) == sorted(stack(p) for p in IDS)
    assert report.exit_code == 0


def test_stacks_are_configured_for_their_role():
    fake = FakeStacks()
    fleet(fake)[0].up()
    assert fake.configs[EVENT] == {"event": EVENT, "participantStacks": "true"}
    assert fake.configs[stack("bob")] == {"event": EVENT, "participant": "bob",
                                          "eventStack": REFERENCE}


def test_a_failed_event_stack_stops_the_fleet_before_any_participant():
    fake = FakeStacks()
    fake.fail("up", EVENT, RuntimeError("error: AccessDenied: not authorized"))
    report = fleet(fake)[0].up()
    assert fake.of("up") == [EVENT]
    results = by_name(report)
    assert results[EVENT].outcome is Outcome.FAILED
    assert {results[stack(p)].outcome for p in IDS} == {Outcome.SKIPPED}
    assert report.exit_code == 1


def test_parallelism_is_bounded_and_used():
    fake = FakeStacks(overlap_target=3, overlap_wait_s=2.0, overlap_skip=[EVENT])
    fleet(fake, ids=[f"p{i}" for i in range(12)], parallel=3)[0].up()
    assert fake.max_in_flight == 3


def test_parallel_one_runs_one_stack_at_a_time():
    fake = FakeStacks(overlap_target=2, overlap_wait_s=0.05, overlap_skip=[EVENT])
    fleet(fake, parallel=1)[0].up()
    assert fake.max_in_flight == 1


def test_transient_failures_are_retried_with_exponential_backoff():
    fake = FakeStacks()
    fake.fail("up", stack("bob"),
              RuntimeError("error: creating Lambda Function: ThrottlingException: Rate exceeded"),
              ConcurrentUpdateError("[409] Conflict: Another update is currently in progress."),
              RuntimeError("dial tcp: i/o timeout"))
    built, sleeps = fleet(fake, retry=RetryPolicy(attempts=4, first_delay_s=10, factor=2,
                                                  max_delay_s=25))
    report = built.up()
    result = by_name(report)[stack("bob")]
    assert result.outcome is Outcome.SUCCEEDED and result.attempts == 4
    assert sleeps == [10, 20, 25]  # doubling, capped
    assert report.exit_code == 0


def test_a_real_error_is_not_retried():
    fake = FakeStacks()
    fake.fail("up", stack("bob"), RuntimeError("error: ValidationException: bad instance type"))
    built, sleeps = fleet(fake)
    result = by_name(built.up())[stack("bob")]
    assert result.outcome is Outcome.FAILED and result.attempts == 1 and sleeps == []
    assert "ValidationException" in result.message


def test_retries_give_up_after_the_last_attempt():
    fake = FakeStacks()
    fake.fail("up", stack("bob"), *[RuntimeError("Rate exceeded")] * 5)
    built, sleeps = fleet(fake, retry=RetryPolicy(attempts=3, first_delay_s=1))
    result = by_name(built.up())[stack("bob")]
    assert result.outcome is Outcome.FAILED and result.attempts == 3 and len(sleeps) == 2
    assert "gave up after 3 attempts" in result.message


def test_one_failed_participant_never_stops_the_others():
    fake = FakeStacks()
    fake.fail("up", stack("cy"), RuntimeError("error: AccessDenied"))
    report = fleet(fake)[0].up()
    results = by_name(report)
    assert results[stack("cy")].outcome is Outcome.FAILED
    assert all(results[stack(p)].outcome is Outcome.SUCCEEDED for p in IDS if p != "cy")
    assert [r.name for r in report.failed] == [stack("cy")]
    assert report.exit_code == 1


def test_running_up_again_converges():
    fake = FakeStacks()
    fake.fail("up", stack("cy"), RuntimeError("error: AccessDenied"))
    first = fleet(fake)[0].up()
    second = fleet(fake)[0].up()
    assert first.exit_code == 1 and second.exit_code == 0
    assert fake.existing() == sorted([EVENT] + [stack(p) for p in IDS])


def test_stacks_of_ids_no_longer_on_the_roster_are_listed_but_kept_without_prune():
    gone = stack("zed")
    fake = FakeStacks(existing=[EVENT, gone, "other-event.bob", "aim368-b"])
    report = fleet(fake)[0].up()
    assert by_name(report)[gone].outcome is Outcome.ORPHAN
    assert gone not in fake.of("destroy") and gone in fake.existing()
    assert "other-event.bob" not in by_name(report) and "aim368-b" not in by_name(report)
    assert report.exit_code == 0


def test_prune_destroys_stacks_of_ids_no_longer_on_the_roster():
    gone = stack("zed")
    fake = FakeStacks(existing=[EVENT, gone, "aim368-b"])
    report = fleet(fake)[0].up(prune=True)
    assert fake.of("destroy") == [gone]
    assert by_name(report)[gone].outcome is Outcome.SUCCEEDED
    assert "aim368-b" in fake.existing()  # another event's stack, never touched


def test_destroy_takes_participant_stacks_first_then_the_event_stack():
    fake = FakeStacks()
    fleet(fake)[0].up()
    report = fleet(fake)[0].destroy()
    assert fake.of("destroy")[-1] == EVENT
    assert sorted(fake.of("destroy")[:-1]) == sorted(stack(p) for p in IDS)
    assert fake.existing() == [] and report.exit_code == 0


def test_destroy_refuses_the_event_stack_while_participant_stacks_remain():
    fake = FakeStacks(existing=[EVENT, stack("ada"), stack("zed")])
    report = fleet(fake)[0].destroy()
    assert EVENT not in fake.of("destroy")
    assert report.exit_code == 1
    assert stack("zed") in report.refusal and "--prune" in report.refusal


def test_destroy_keeps_the_event_stack_when_a_participant_stack_fails_to_go():
    fake = FakeStacks(existing=[EVENT, stack("ada"), stack("bob")])
    fake.fail("destroy", stack("bob"), RuntimeError("error: DependencyViolation"))
    report = fleet(fake)[0].destroy()
    assert EVENT in fake.existing() and stack("bob") in report.refusal
    assert report.exit_code == 1


def test_destroy_with_prune_takes_everything():
    fake = FakeStacks(existing=[EVENT, stack("ada"), stack("zed")])
    report = fleet(fake)[0].destroy(prune=True)
    assert fake.existing() == [] and report.exit_code == 0


def test_reset_destroys_and_recreates_one_participant_only():
    fake = FakeStacks()
    fleet(fake)[0].up()
    fake.calls.clear()
    report = fleet(fake)[0].reset("bob")
    assert fake.calls == [("destroy", stack("bob")), ("up", stack("bob"))]
    assert report.exit_code == 0


def test_reset_of_an_id_not_on_the_roster_says_so():
    with pytest.raises(FleetError, match="'zed' is not on the roster"):
        fleet(FakeStacks(existing=[EVENT]))[0].reset("zed")


def test_reset_before_the_event_stack_exists_says_to_run_up():
    with pytest.raises(FleetError, match="run `fleet up` first"):
        fleet(FakeStacks())[0].reset("bob")


def test_the_event_stack_outputs_reach_the_callback_before_participants_run():
    seen = []
    fake = FakeStacks(outputs={EVENT: {"slots": {"ada": {"api": 0, "position": 0}}}})
    built, _ = fleet(fake, on_event_outputs=lambda o: seen.append((dict(o), list(fake.calls))))
    built.up()
    assert seen == [({"slots": {"ada": {"api": 0, "position": 0}}}, [("up", EVENT)])]


def test_preview_before_the_first_up_previews_only_the_event_stack():
    fake = FakeStacks()
    report = fleet(fake)[0].preview()
    assert fake.of("preview") == [EVENT]
    assert {r.outcome for r in report.results if r.participant} == {Outcome.SKIPPED}


def test_parallel_must_be_positive():
    with pytest.raises(FleetError, match="at least 1"):
        fleet(FakeStacks(), parallel=0)


def test_transient_classification():
    assert is_transient(ConcurrentUpdateError("conflict"))
    assert is_transient(RuntimeError("TooManyRequestsException: Too Many Requests"))
    assert not is_transient(RuntimeError("AccessDeniedException: not authorized"))
    assert not is_transient(RuntimeError("ResourceLimitExceeded: quota of 2 notebooks"))


def test_error_summary_picks_the_engine_error_line():
    text = "code: 255\nstdout: Updating...\nstderr: \nerror: update failed\n    more"
    assert error_summary(RuntimeError(text)) == "error: update failed"


def test_participant_stacks_are_told_apart_from_other_events():
    assert participant_of(EVENT, "aim368.ada-lovelace") == "ada-lovelace"
    assert participant_of(EVENT, "acme/ml-workshop/aim368.ada") == "ada"
    assert participant_of(EVENT, "aim368-b") is None
    assert participant_of(EVENT, "aim368") is None
