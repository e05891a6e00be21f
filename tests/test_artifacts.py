"""The data set, baseline and notebooks are built before the program runs, never during it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pulumi
import pytest

from tests.kit import DEFAULT_CONFIG
from training import artifacts, build

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_the_program_without_built_artifacts_fails_with_one_line_naming_the_command(
        tmp_path, monkeypatch):
    from tools.mock_program import last_run, run_program
    monkeypatch.setattr(artifacts, "CACHE_DIR", tmp_path / "empty-cache")
    roster = tmp_path / "participants.yaml"
    roster.write_text("participants:\n  - name: Ada Lovelace\n")
    with pytest.raises(pulumi.RunError) as caught:
        run_program({**DEFAULT_CONFIG, "roster": str(roster)})  # no build step first
    assert not any(r.type.startswith("aws:s3/bucketObjectv2") for r in last_run().resources)
    message = str(caught.value)
    assert "\n" not in message
    assert "make artifacts" in message and "datasetSamples=2000" in message


def test_the_exported_baseline_rmse_is_the_built_reports(program):
    declared = program()
    built = artifacts.locate(int(DEFAULT_CONFIG["datasetSamples"]), 1)
    report = json.loads(built.baseline_report.read_text())
    assert declared.outputs["baseline_test_rmse_ms"] == round(report["test_rmse"], 1)
    assert declared.named("aim368-baseline-model").inputs["source"].path == \
        str(built.baseline_model)


def test_a_second_build_only_checks_the_cache(tmp_path, monkeypatch):
    said = []
    first = build.build(1000, 5, cache_dir=tmp_path, say=said.append)
    assert any(line.startswith("generating the data set (1,000 samples, seed 5)")
               for line in said)
    assert any(line.startswith("baseline test RMSE:") for line in said)
    from training import baseline
    monkeypatch.setattr(baseline, "build", lambda *a, **k: pytest.fail("trained again"))
    said.clear()
    assert build.build(1000, 5, cache_dir=tmp_path, say=said.append) == first
    assert said[0] == "data set and baseline for datasetSamples=1000, datasetSeed=5: cached"
    assert said[1] == "notebooks: up to date"


def test_artifacts_are_keyed_by_the_settings(tmp_path):
    a = artifacts.expected(1000, 1, tmp_path)
    assert artifacts.expected(1000, 2, tmp_path).train != a.train
    assert artifacts.expected(2000, 1, tmp_path).baseline_model != a.baseline_model
    with pytest.raises(artifacts.MissingArtifacts, match="run make artifacts"):
        artifacts.locate(1000, 1, tmp_path)


def test_the_build_command_reports_bad_settings_and_builds_nothing(capsys):
    assert build.main(["datasetSamples=12"]) == 2
    assert "datasetSamples=12 must be between" in capsys.readouterr().err


def test_evaluating_the_program_with_built_artifacts_imports_no_ml_library(program, tmp_path):
    program()  # builds the default test artifacts (cached) in this process
    roster = tmp_path / "participants.yaml"
    roster.write_text("participants:\n  - name: Ada Lovelace\n")
    script = textwrap.dedent(f"""
        import sys
        from tools.mock_program import run_program
        declared = run_program({{"datasetSamples": "{DEFAULT_CONFIG['datasetSamples']}",
                                 "roster": {str(roster)!r}}})
        assert declared.outputs["baseline_test_rmse_ms"] > 0
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("xgboost", "sklearn"))
        print(",".join(heavy))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
