"""`pulumi up` on a real AWS account: one participant's Lab 1 end to end, then destroy.

Opt-in and never run by CI here (no Pulumi CLI, no credentials, no internet). To run it:

    export ML_WORKSHOP_REAL_AWS=1          # you accept the (small) AWS bill
    export AWS_PROFILE=...  AWS_REGION=...  # an account you may create resources in
    .venv/bin/python -m pytest tests/integration -v

It deploys a throw-away stack (local file backend, one participant, feed paused,
Firehose buffering 0 s), publishes one sample to the topic, waits for it to land in
the participant's bucket as a CSV row, and destroys the stack whatever happened.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid

import boto3
import pytest
import yaml

from tests.kit import PROJECT_DIR


def _missing_prerequisite() -> str | None:
    if os.environ.get("ML_WORKSHOP_REAL_AWS") != "1":
        return "set ML_WORKSHOP_REAL_AWS=1 to deploy to a real AWS account (costs money)"
    if shutil.which("pulumi") is None:
        return "the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/)"
    if boto3.Session().get_credentials() is None:
        return "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
    return None


pytestmark = pytest.mark.skipif(_missing_prerequisite() is not None,
                                reason=_missing_prerequisite() or "")

DELIVERY_TIMEOUT_SECONDS = 300


@pytest.fixture
def deployed_stack(tmp_path):
    from pulumi import automation as auto

    event = f"it{uuid.uuid4().hex[:6]}"
    roster = tmp_path / "participants.yaml"
    roster.write_text(yaml.safe_dump({"participants": [{"name": "Integration Tester"}]}))
    backend = tmp_path / "state"
    backend.mkdir()
    workspace = auto.LocalWorkspaceOptions(env_vars={
        "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": "it"})
    stack = auto.create_or_select_stack(stack_name=event, work_dir=str(PROJECT_DIR),
                                        opts=workspace)
    region = boto3.Session().region_name or "us-east-1"
    from training.build import build_for_config
    build_for_config({})  # the default data set and baseline the program uploads; cached
    for key, value in {"ml-workshop:event": event, "ml-workshop:roster": str(roster),
                       "ml-workshop:feedEnabled": "false",
                       "ml-workshop:firehoseBufferSeconds": "0", "aws:region": region}.items():
        stack.set_config(key, auto.ConfigValue(value))
    try:
        yield stack.up(on_output=print).outputs
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(event)


def test_a_published_sample_lands_in_the_participants_bucket(deployed_stack):
    from handlers import fc_samples

    topic_arn = deployed_stack["sample_topic_arn"].value
    bucket = deployed_stack["participants"].value["integration-tester"]["bucket"]
    row = fc_samples.encode(fc_samples.generate(1, seed=int(time.time()))[0])
    boto3.client("sns").publish(TopicArn=topic_arn, Message=row.strip())

    s3 = boto3.client("s3")
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="samples/").get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            if row in body.splitlines(keepends=True):
                return
        time.sleep(10)
    pytest.fail(f"the sample did not reach s3://{bucket}/samples/ "
                f"within {DELIVERY_TIMEOUT_SECONDS} s")
