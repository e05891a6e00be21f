"""The rehearsal's own settings are checked before any phase starts, every problem at once."""

import io

import pytest
import yaml

from rehearsal.__main__ import main
from rehearsal.run import Participant, Progress, load_settings, rehearse
from rehearsal.validation import SettingsError, problems

XGBOOST = {"num_round": 100, "early_stopping_rounds": 5, "max_depth": 6, "eta": 0.3}


def settings_with(**changes):
    raw = {"participants": [{"name": "Ada Lovelace", "algorithm": "xgboost",
                             "hyperparameters": dict(XGBOOST)}],
           "traffic_runs": 1, "run_seconds": 2}
    raw.update(changes)
    return raw


def test_the_shipped_settings_are_valid():
    settings = load_settings()
    assert len(settings.participants) >= 3


def test_a_hyperparameter_out_of_range_names_the_participant_and_the_key():
    found = problems(settings_with(participants=[
        {"name": "Ada Lovelace", "algorithm": "xgboost", "hyperparameters": {**XGBOOST, "eta": 7}}]))
    assert found == [("participant 1 (Ada Lovelace): xgboost hyperparameters: "
                     "eta=7 must be between 0.1 and 1.0")]


def test_every_problem_is_reported_at_once():
    raw = settings_with(
        participants=[
            {"name": "Ada", "algorithm": "xgboost", "hyperparameters": {**XGBOOST, "max_depth": 60}},
            {"name": "Grace", "algorithm": "linear_learner", "hyperparameters": {}},
            {"name": "Alan", "algorithm": "knn", "hyperparameters": {"k": 60, "kk": 1},
             "falt": "x"},
            {"name": "Edsger", "algorithm": "xgboost", "hyperparameters": XGBOOST,
             "fault": "slow"}],
        traffic_runs=0, run_seconds="20", requests_per_seconds=5, drift_from_run=-1)
    found = problems(raw)
    expected_fragments = [
        "participant 1 (Ada): xgboost hyperparameters: max_depth=60 must be between 3 and 6",
        ("participant 2 (Grace): algorithm 'linear_learner' is not one of knn, linear-learner, "
        "xgboost; did you mean 'linear-learner'?"),
        "participant 3 (Alan): unknown key 'falt'; did you mean 'fault'?",
        "participant 3 (Alan): knn hyperparameters: missing hyperparameter 'predictor_type'",
        "participant 3 (Alan): knn hyperparameters: unknown hyperparameter 'kk'; did you mean 'k'?",
        ("participant 4 (Edsger): fault 'slow' is not one of never-deploys, slow-endpoint, "
        "garbage-endpoint, bad-retrain, huge-answer, slow-drip, redirect, flood-rival; "
        "did you mean 'slow-drip'?"),
        "unknown key 'requests_per_seconds'; did you mean 'requests_per_second'?",
        "traffic_runs=0 must be at least 1",
        "run_seconds='20' must be a whole number",
        "drift_from_run=-1 must be at least 0",
    ]
    for fragment in expected_fragments:
        assert any(fragment in problem for problem in found), (fragment, found)
    assert len(found) == len(expected_fragments)


def test_two_names_with_the_same_id_are_refused():
    found = problems(settings_with(participants=[
        {"name": "Ada Lovelace", "algorithm": "xgboost", "hyperparameters": XGBOOST},
        {"name": "ada lovelace", "algorithm": "xgboost", "hyperparameters": XGBOOST}]))
    assert found == ["participant 2 (ada lovelace): same id 'ada-lovelace' as participant 1"]


def test_no_participants_at_all():
    assert problems({"participants": []}) == ["'participants' must be a non-empty list"]


def test_loading_a_bad_file_raises_with_every_problem(tmp_path):
    path = tmp_path / "rehearsal.yaml"
    path.write_text(yaml.safe_dump(settings_with(
        participants=[{"name": "Ada", "algorithm": "xgboost",
                       "hyperparameters": {**XGBOOST, "eta": 0}}], feed_secnds=4)))
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert len(caught.value.problems) == 2


def test_command_line_overrides_are_checked_too(tmp_path):
    path = tmp_path / "rehearsal.yaml"
    path.write_text(yaml.safe_dump(settings_with()))
    with pytest.raises(SettingsError, match="run_seconds=0 must be at least 1"):
        load_settings(path, run_seconds=0)


def test_the_command_prints_the_problems_and_exits_non_zero_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "rehearsal.yaml"
    path.write_text(yaml.safe_dump(settings_with(participants=[
        {"name": "Ada", "algorithm": "xgboost", "hyperparameters": {**XGBOOST, "eta": 9}},
        {"name": "Bob", "algorithm": "xgboost", "hyperparameters": {**XGBOOST, "num_round": 1}}])))
    assert main(["--config", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "2 problems" in error and "eta=9" in error and "num_round=1" in error
    assert "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_settings_changed_in_code_are_checked_before_any_phase(tmp_path):
    settings = load_settings()
    settings.participants.append(Participant("Bad Model", "xgboost", {**XGBOOST, "eta": 5}))
    terminal = io.StringIO()
    with pytest.raises(SettingsError, match=r"participant 4 \(Bad Model\).*eta=5"):
        rehearse(settings, tmp_path, progress=Progress(terminal))
    assert terminal.getvalue() == ""  # no phase started


def test_topology_and_reset_are_checked_together_every_problem_at_once():
    assert problems(settings_with(traffic_runs=2, reset="Ada Lovelace", reset_after_run=1)) == []
    assert problems(settings_with(topology="single")) == []
    found = problems(settings_with(topology="stack", reset="ada-lovelance", reset_after_run=1))
    assert any("topology='stack' is not one of stacks, single; did you mean 'stacks'" in p
               for p in found)
    assert any("reset='ada-lovelance' is not a participant" in p for p in found)
    assert any("reset_after_run=1 must be below traffic_runs=1" in p for p in found)
    assert problems(settings_with(topology="single", traffic_runs=3, reset="ada-lovelace",
                                  reset_after_run=1)) == [
        "reset needs topology 'stacks' (a participant stack to reset)"]
    assert problems(settings_with(reset_after_run=1)) == [
        "reset_after_run is set but reset names no participant"]
    assert problems(settings_with(reset="ada-lovelace")) == [
        "reset needs reset_after_run (the traffic run it follows, 1 = the first)"]
