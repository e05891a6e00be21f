"""The rehearsal's retraining phase: the loop recovers after the drift, others stay degraded."""

import io
import re

import pytest

from handlers import fc_samples
from rehearsal.retraining import AlarmRule
from rehearsal.run import Progress, load_settings, rehearse
from rehearsal.validation import SettingsError, check

ALARM = AlarmRule("aim368-ada-rmse", "arn:aws:cloudwatch:us-east-1:1:alarm:aim368-ada-rmse",
                  1000.0, "GreaterThanThreshold", 5, 3)


@pytest.mark.parametrize("values, alarm", [
    ([1200, 1300], False),  # two breaching periods: not yet 3
    ([1200, 1300, 1400], True),
    ([1200, None, 1300, 900, 1100], True),  # missing data does not breach, nor reset
    ([1200, 1300, 900, 800, 700, 1100, 900], False),  # only the last 5 periods count
    ([1000, 1000, 1000], False),  # greater than, not equal
])
def test_the_alarm_fires_on_m_of_the_last_n_periods_like_cloudwatch(values, alarm):
    assert ALARM.in_alarm(values) is alarm


def test_the_alarm_state_change_is_the_event_the_loop_accepts():
    from handlers.retraining_events import Trigger, Who, parse
    event = ALARM.state_change("123456789012", "us-east-1")
    assert isinstance(parse(event, Who("ada", ALARM.name, "aim368-ada--rt")), Trigger)


def test_retraining_and_bad_retrain_are_checked_with_the_other_settings():
    raw = {"participants": [
        {"name": "A", "algorithm": "xgboost", "hyperparameters": {}, "retraining": "sometimes"},
        {"name": "B", "algorithm": "xgboost", "hyperparameters": {}, "fault": "bad-retrain"}]}
    with pytest.raises(SettingsError) as caught:
        check(raw)
    assert any("participant 1 (A): retraining 'sometimes'" in p for p in caught.value.problems)
    assert any("participant 2 (B): fault 'bad-retrain' needs 'retraining: auto'" in p
               for p in caught.value.problems)


def _retraining_rows(summary: str) -> dict[str, list[str]]:
    section = summary.split("Retraining (the loop after the drift)")[1].split("\n\n")[0]
    rows = [line.split() for line in section.splitlines()[2:] if line.startswith("  ")]
    return {row[0]: row for row in rows if row[1] in ("auto", "off")}


def _ms(text: str) -> float:
    return float(text.replace(",", ""))


def test_after_the_drift_the_loop_recovers_and_a_bad_candidate_is_kept(tmp_path):
    """One normal run, three drifted runs (the alarm's 3 of 5), then one run after."""
    settings = load_settings(traffic_runs=5, run_seconds=3, drift_from_run=1)
    ada, grace, alan = settings.participants  # xgboost, linear-learner, k-NN
    ada.retraining = "auto"
    alan.retraining, alan.fault = "auto", "bad-retrain"
    grace.retraining = None
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal)) == 0
    summary = (tmp_path / "summary.txt").read_text()
    rows = _retraining_rows(summary)
    floor = fc_samples.noise_floor("peak-season")
    # participant loop before at-drift after after/floor decision [timing]
    recovered = rows["ada-lovelace"]
    assert recovered[1] == "auto" and recovered[6] == "promoted", recovered
    before, at_drift, after = map(_ms, recovered[2:5])
    assert before < at_drift / 2  # the drift degraded the model they trained
    assert after < at_drift and at_drift > 1000  # the alarm fired, the loop recovered
    # The live figure here rests on 15 requests (measured 421 and 592 ms in two runs), so
    # it gets a loose bound; the candidate's RMSE on its holdout (the most recent drifted
    # samples, never trained on) rests on thousands and must be within 1.3x the floor.
    assert after < 2 * floor < at_drift, f"after {after:.0f} ms, floor {floor:.0f} ms"
    judged = re.search(r"ada-lovelace: .*candidate ([\d,]+) ms vs current ([\d,]+) ms",
                       terminal.getvalue())
    candidate, current = _ms(judged.group(1)), _ms(judged.group(2))
    assert candidate <= 1.3 * floor < current, (candidate, current)
    kept = rows["alan-turing"]
    assert kept[6] == "kept" and "[bad-retrain]" in " ".join(kept)
    assert _ms(kept[4]) > 2 * floor  # still their degraded model (15 requests: loose)
    degraded = rows["grace-hopper"]
    assert degraded[1] == "off" and degraded[6] == "none"
    assert _ms(degraded[4]) > 2 * floor
    assert "compressed: the loop's 60-minute window" in summary
    assert "on AWS (estimate" in summary
    assert "retrained on" in terminal.getvalue()
