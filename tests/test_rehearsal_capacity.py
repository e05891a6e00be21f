"""A saturated machine is reported as such, and its errors are not blamed on participants."""

from handlers import scoring
from rehearsal.capacity import RunLoad, Stopwatch, assess, attribute, steal_share

TIMEOUT_MS = 2000.0


def aggregate(ok=0, timeout=0, bad_answer=0, http_5xx=0, latency_ms=20.0):
    result = scoring.empty()
    for _ in range(ok):
        scoring.record(result, latency_ms, "ok", 10.0)
    for kind, count in (("timeout", timeout), ("bad_answer", bad_answer), ("http_5xx", http_5xx)):
        for _ in range(count):
            scoring.record(result, TIMEOUT_MS if kind == "timeout" else latency_ms, kind)
    return result


def load(saturated: bool, model_ms=None) -> RunLoad:
    run = RunLoad(run=0, seconds=10, planned=100, received=100, edge_lag_ms=None,
                  front_queueing_ms=None, runtime_queueing_ms=None, handler_overhead_ms=None,
                  edge_overhead_ms=None, steal=None, load_average=None, limit_ms=500,
                  model_ms=model_ms or {})
    run.reasons = ["the edge started requests late (900 ms > 500 ms)"] if saturated else []
    return run


def quiet_run(**changes):
    arguments = {"run": 0, "seconds": 10.0, "planned": 100, "timeout_ms": TIMEOUT_MS,
                     "edge_lags_ms": [3.0, None], "front_queueing": [0.001] * 50,
                     "runtime_queueing": [0.001], "handler_times": {"ada": [0.010] * 50},
                     "model_times": {"ep-ada": [0.002] * 50}, "endpoints": {"ada": "ep-ada"},
                     "aggregates": {"ada": aggregate(ok=50)}}
    arguments.update(changes)
    return assess(**arguments)


def test_a_run_the_machine_kept_up_with_is_not_saturated():
    run = quiet_run()
    assert not run.saturated
    assert run.received == 50 and run.achieved_per_second == 5.0 and run.target_per_second == 10
    assert run.model_ms == {"ada": 2.0}


def test_each_kind_of_machine_delay_saturates_a_run():
    late_edge = quiet_run(edge_lags_ms=[900.0])
    queued_front = quiet_run(front_queueing=[0.001] * 98 + [0.9, 0.9])
    queued_runtime = quiet_run(runtime_queueing=[0.7])
    waiting_handlers = quiet_run(handler_times={"ada": [0.9] * 50})
    slow_answers = quiet_run(aggregates={"ada": aggregate(ok=50, latency_ms=1500)})
    for run, reason in ((late_edge, "the edge started requests late"),
                        (queued_front, "the local API front queued requests"),
                        (queued_runtime, "the local SageMaker runtime queued requests"),
                        (waiting_handlers, "the inference handlers waited"),
                        (slow_answers, "answers took longer than the models did")):
        assert run.saturated and run.reasons[0].startswith(reason), run.reasons


def test_a_slow_model_is_not_mistaken_for_a_saturated_machine():
    run = quiet_run(handler_times={"ada": [3.0] * 50}, model_times={"ep-ada": [4.0] * 50},
                    aggregates={"ada": aggregate(timeout=50)})
    assert not run.saturated


def test_timeouts_in_a_saturated_run_are_the_machines_for_a_model_that_answered_in_time():
    runs = [{"ada": aggregate(ok=10, timeout=40)}]
    blamed = attribute(runs, [load(saturated=False, model_ms={"ada": 2.0})], 0.2)
    excused = attribute(runs, [load(saturated=True, model_ms={"ada": 2.0})], 0.2)
    assert (blamed["ada"].status, blamed["ada"].excused) == ("failing", 0)
    assert (excused["ada"].status, excused["ada"].excused) == ("healthy", 40)


def test_only_timeouts_are_excused_and_only_for_models_that_were_in_time():
    runs = [{"garbage": aggregate(ok=10, bad_answer=20, timeout=20),
             "slow": aggregate(timeout=50),
             "missing": aggregate(http_5xx=50),
             "starved": aggregate(timeout=50)}]
    verdicts = attribute(runs, [load(True, {"garbage": 1.0, "slow": 4000.0, "missing": 0.1,
                                            "starved": 1.0})], 0.2)
    assert (verdicts["garbage"].status, verdicts["garbage"].excused) == ("failing", 20)
    assert (verdicts["slow"].status, verdicts["slow"].excused) == ("failing", 0)
    assert (verdicts["missing"].status, verdicts["missing"].excused) == ("failing", 0)
    assert (verdicts["starved"].status, verdicts["starved"].excused) == ("not judged", 50)


def test_errors_of_a_run_that_kept_up_stay_with_the_participant_across_runs():
    runs = [{"ada": aggregate(ok=50)}, {"ada": aggregate(timeout=50)}]
    verdicts = attribute(runs, [load(True, {"ada": 1.0}), load(False, {"ada": 1.0})], 0.2)
    assert (verdicts["ada"].status, verdicts["ada"].excused) == ("failing", 0)


def test_stopwatch_and_steal():
    watch = Stopwatch()
    watch.record("a", 0.5)
    assert watch.take() == {"a": [0.5]} and watch.take() == {}
    assert steal_share((10, 1000), (60, 2000)) == 0.05
    assert steal_share(None, (1, 2)) is None
