"""The notebook lifecycle scripts, run as shell scripts with the AWS CLI stubbed."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lifecycle import auto_stop, render

SETTINGS = {"participant": "ada-lovelace", "bucket": "aim368-ada-lovelace-samples-1a2b3c4",
            "endpoint_name": "aim368-ada-lovelace-endpoint", "region": "us-east-1",
            "role_arn": "arn:aws:iam::111111111111:role/aim368-ada-lovelace-sagemaker",
            "quote's": "it's \"fine\" $(not run) `nor this`"}
NOTEBOOKS = "s3://aim368-training-data-1a2b3c4/notebooks/"

FAKE_AWS = """#!/bin/bash
echo "$@" >> "$AWS_CALLS"
if [ "$1 $2" = "s3 cp" ]; then
  for name in Data-Analysis XGBoost; do echo '{}' > "${@: -1}$name.ipynb"; done
fi
"""


@pytest.fixture
def sandbox(tmp_path):
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    # The kernel's conda python, as on Amazon Linux 2023 notebook instances, stubbed.
    kernel = tmp_path / "anaconda3" / "envs" / "python3" / "bin" / "python"
    kernel.parent.mkdir(parents=True)
    kernel.write_text('#!/bin/bash\necho "$@" >> "$KERNEL_CALLS"\n')
    kernel.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "AWS_CALLS": str(tmp_path / "aws-calls.txt"), "WORKSHOP_HOME": str(tmp_path / "home"),
           "BIN_DIR": str(tmp_path / "bin"), "CRON_DIR": str(tmp_path / "cron"),
           "LOG_DIR": str(tmp_path / "log"), "KERNEL_PYTHON": str(kernel),
           "KERNEL_CALLS": str(tmp_path / "kernel-calls.txt"), "PYTHON": sys.executable}
    for folder in ("bin", "cron", "log"):
        (tmp_path / folder).mkdir()
    return tmp_path, env


def run(script: str, env, tmp_path):
    path = tmp_path / "script.sh"
    path.write_text(script)
    return subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("script", [render.on_create(SETTINGS, NOTEBOOKS), render.on_start(60),
                                    render.on_start(0)])
def test_the_scripts_are_valid_bash(tmp_path, script):
    path = tmp_path / "s.sh"
    path.write_text(script)
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_on_create_writes_the_settings_and_fetches_the_notebooks(sandbox):
    tmp_path, env = sandbox
    result = run(render.on_create(SETTINGS, NOTEBOOKS), env, tmp_path)
    assert result.returncode == 0, result.stderr
    workshop = tmp_path / "home" / "workshop"
    assert json.loads((workshop / "settings.json").read_text()) == SETTINGS
    assert (tmp_path / "aws-calls.txt").read_text().splitlines() == [
        f"s3 cp --recursive --only-show-errors {NOTEBOOKS} {workshop}/"]
    assert sorted(p.name for p in workshop.glob("*.ipynb")) == ["Data-Analysis.ipynb",
                                                                  "XGBoost.ipynb"]


def test_on_create_fails_loudly_when_the_copy_fails(sandbox):
    tmp_path, env = sandbox
    (tmp_path / "stub-bin" / "aws").write_text("#!/bin/bash\nexit 1\n")
    assert run(render.on_create(SETTINGS, NOTEBOOKS), env, tmp_path).returncode != 0


def test_on_start_installs_the_idle_auto_stop(sandbox):
    tmp_path, env = sandbox
    result = run(render.on_start(45), env, tmp_path)
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "bin" / "workshop-auto-stop.py"
    assert installed.read_text().strip() == Path(auto_stop.__file__).read_text().strip()
    assert subprocess.run([sys.executable, "-m", "py_compile", str(installed)]).returncode == 0
    cron = (tmp_path / "cron" / "workshop-auto-stop").read_text()
    assert cron.startswith("*/5 * * * * root ")
    # cron's PATH has neither: both resolved to absolute paths when the script ran.
    aws = tmp_path / "stub-bin" / "aws"
    assert f"{sys.executable} {installed} --idle-minutes 45 --aws {aws} " in cron
    assert cron.rstrip().endswith(f">> {tmp_path / 'log' / 'workshop-auto-stop.log'} 2>&1")


def test_idle_minutes_zero_turns_the_auto_stop_off(sandbox):
    tmp_path, env = sandbox
    run(render.on_start(30), env, tmp_path)
    result = run(render.on_start(0), env, tmp_path)
    assert result.returncode == 0 and "off" in result.stdout
    assert not (tmp_path / "cron" / "workshop-auto-stop").exists()


def test_rendering_refuses_what_could_break_the_script():
    with pytest.raises(ValueError, match="not an S3 URI"):
        render.on_create(SETTINGS, "s3://bucket/x; rm -rf /")
    with pytest.raises(ValueError, match="whole number"):
        render.on_start(-1)
    with pytest.raises(ValueError, match="SageMaker allows 16384"):
        render.encoded("x" * 13_000)
    assert len(render.encoded(render.on_create(SETTINGS, NOTEBOOKS))) <= render.MAX_SCRIPT_CHARS
    assert len(render.encoded(render.on_start(60))) <= render.MAX_SCRIPT_CHARS


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def session(minutes_ago, state="idle"):
    stamp = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"kernel": {"execution_state": state, "last_activity": stamp}}


def test_the_instance_is_idle_since_its_most_recent_kernel_activity():
    assert auto_stop.idle_minutes([session(90), session(20)], NOW) == pytest.approx(20)
    assert auto_stop.idle_minutes([session(90, "busy")], NOW) == 0
    assert auto_stop.idle_minutes([], NOW) is None


def test_it_stops_only_after_the_idle_limit():
    assert auto_stop.should_stop([session(61)], NOW, limit=60, uptime_minutes=500)
    assert not auto_stop.should_stop([session(59)], NOW, limit=60, uptime_minutes=500)
    assert not auto_stop.should_stop([session(600, "busy")], NOW, limit=60, uptime_minutes=500)
    assert auto_stop.should_stop([], NOW, limit=60, uptime_minutes=61)
    assert not auto_stop.should_stop([], NOW, limit=60, uptime_minutes=10)


def test_main_stops_this_notebook_by_name(monkeypatch, tmp_path):
    metadata = tmp_path / "meta.json"
    metadata.write_text(json.dumps({"ResourceName": "aim368-ada-lovelace-notebook"}))
    calls = []
    monkeypatch.setattr(auto_stop, "METADATA", str(metadata))
    monkeypatch.setattr(auto_stop, "fetch_sessions", lambda: [session(0)])
    monkeypatch.setattr(auto_stop, "uptime_minutes", lambda: 999)
    monkeypatch.setattr(auto_stop.subprocess, "call", lambda args: calls.append(args) or 0)
    monkeypatch.setattr(auto_stop, "datetime", type("D", (), {
        "now": staticmethod(lambda tz=None: NOW + timedelta(minutes=75)),
        "strptime": staticmethod(datetime.strptime)}))
    assert auto_stop.main(["--idle-minutes", "60"]) == 0
    assert calls == [["aws", "sagemaker", "stop-notebook-instance", "--notebook-instance-name",
                      "aim368-ada-lovelace-notebook"]]
    calls.clear()
    assert auto_stop.main(["--idle-minutes", "90"]) == 0 and calls == []


def wait_for(path: Path, seconds: float = 10.0) -> bool:
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def test_on_start_installs_the_sdk_in_the_background_and_marks_it_ready(sandbox):
    tmp_path, env = sandbox
    result = run(render.on_start(45), env, tmp_path)
    assert result.returncode == 0, result.stderr
    ready = tmp_path / "home" / "workshop" / ".sdk-ready"
    assert wait_for(ready)  # written by the nohup'd install once pip succeeded
    assert ready.read_text().strip() == f"sagemaker=={render.SDK_VERSION}"
    assert (tmp_path / "kernel-calls.txt").read_text().split() == [
        "-m", "pip", "install", "--quiet", f"sagemaker=={render.SDK_VERSION}"]
    assert "installing sagemaker==" in result.stdout


def test_a_failed_install_leaves_no_ready_mark(sandbox):
    tmp_path, env = sandbox
    Path(env["KERNEL_PYTHON"]).write_text("#!/bin/bash\necho boom >&2\nexit 1\n")
    (tmp_path / "home" / "workshop").mkdir(parents=True)
    (tmp_path / "home" / "workshop" / ".sdk-ready").write_text("stale")
    assert run(render.on_start(0), env, tmp_path).returncode == 0
    log = tmp_path / "log" / "workshop-sdk-install.log"
    assert wait_for(log) and wait_for_text(log, "boom")
    assert not (tmp_path / "home" / "workshop" / ".sdk-ready").exists()


def wait_for_text(path: Path, text: str, seconds: float = 10.0) -> bool:
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.05)
    return False


def test_on_start_fails_loudly_without_an_aws_cli(sandbox):
    tmp_path, env = sandbox
    import shutil
    only_bash = tmp_path / "only-bash"
    only_bash.mkdir()
    (only_bash / "bash").symlink_to(shutil.which("bash"))
    (only_bash / "dirname").symlink_to(shutil.which("dirname"))
    env = {**env, "PATH": str(only_bash)}
    result = run(render.on_start(45), {**env, "PYTHON": sys.executable}, tmp_path)
    assert result.returncode != 0 and "no aws CLI" in result.stderr


def test_the_sdk_spec_is_validated_before_it_reaches_the_shell():
    with pytest.raises(ValueError, match="not a pip requirement"):
        render.on_start(10, "sagemaker==3; rm -rf /")
    assert "sagemaker>=3.27" in render.on_start(10, "sagemaker>=3.27")


def test_main_calls_aws_by_the_path_it_was_given(monkeypatch, tmp_path):
    metadata = tmp_path / "meta.json"
    metadata.write_text(json.dumps({"ResourceName": "nb"}))
    calls = []
    monkeypatch.setattr(auto_stop, "METADATA", str(metadata))
    monkeypatch.setattr(auto_stop, "fetch_sessions", list)
    monkeypatch.setattr(auto_stop, "uptime_minutes", lambda: 999)
    monkeypatch.setattr(auto_stop.subprocess, "call", lambda args: calls.append(args) or 0)
    assert auto_stop.main(["--idle-minutes", "60", "--aws", "/usr/local/bin/aws"]) == 0
    assert calls[0][0] == "/usr/local/bin/aws"
