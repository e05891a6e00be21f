"""What each notebook instance gets: the AL2023 platform, and settings naming the
participant's own live inference URL, the leaderboard and the training-job limit."""

from __future__ import annotations

import base64
import json
import re

from tests.kit import LIFECYCLE, NOTEBOOK, only


def settings_of(declared, participant):
    lifecycle = only(declared.within(f"{participant}-lab2"), LIFECYCLE)
    script = base64.b64decode(lifecycle.inputs["onCreate"]).decode()
    return json.loads(re.search(r"<<'SETTINGS'\n(.*?)\nSETTINGS", script, re.DOTALL).group(1))


def test_notebooks_run_on_amazon_linux_2023(program):
    declared = program()
    assert {n.inputs["platformIdentifier"] for n in declared.of_type(NOTEBOOK)} == {
        "notebook-al2023-v1"}


def test_settings_carry_the_participants_own_url_and_the_leaderboard(program):
    declared = program(maxTrainingJobsPerParticipant="3")
    for participant, outputs in declared.outputs["participants"].items():
        settings = settings_of(declared, participant)
        assert settings["inference_url"] == outputs["inference_url"]
        assert settings["inference_url"].endswith(f"/{participant}/liveinference")
        assert settings["leaderboard_url"] == declared.outputs["leaderboard_url"]
        assert settings["max_training_jobs"] == "3"


def test_the_on_start_script_installs_the_sdk_the_notebooks_expect(program):
    from notebooks.workshop import SDK_VERSION
    lifecycle = only(program().within("ada-lovelace-lab2"), LIFECYCLE)
    assert f'SDK_SPEC="sagemaker=={SDK_VERSION}"' in base64.b64decode(
        lifecycle.inputs["onStart"]).decode()
