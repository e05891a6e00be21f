"""Organizer changes to the endpoints, evaluated twice under the mock engine.

The mock engine cannot play Pulumi's update ordering, so these tests compare what two
evaluations declare (new names where AWS needs new resources) and assert the options that
make the real update safe: create-before-delete, the endpoint following its configuration
(or, with keepPromotions, ignoring it while replaced resources are retained)."""

from __future__ import annotations

import pytest

from components.model_training import input_hash
from components.training_data import baseline_key
from tests.kit import ENDPOINT, ENDPOINT_CONFIG, MODEL, only

WHO = "ada-lovelace"


def serving(declared):
    resources = declared.within(f"{WHO}-lab2")
    return only(resources, MODEL), only(resources, ENDPOINT_CONFIG), only(resources, ENDPOINT)


@pytest.mark.parametrize("change, model_replaced", [
    ({"endpointInstanceType": "ml.m5.large"}, False),
    ({"endpointServerless": "true"}, False),
    ({"datasetSeed": "2"}, True),  # a new baseline model
])
def test_an_organizer_change_rolls_every_endpoint_forward(program, change, model_replaced):
    model, config, endpoint = serving(program())
    new_model, new_config, new_endpoint = serving(program(**change))
    assert new_config.inputs["name"] != config.inputs["name"]
    assert (new_model.inputs["name"] != model.inputs["name"]) is model_replaced
    # The endpoint follows its configuration: Pulumi updates it to the new one before it
    # deletes the old one (a replaced resource is deleted after its dependents update).
    assert new_endpoint.inputs["endpointConfigName"] == new_config.inputs["name"]
    assert new_endpoint.ignore_changes == []
    assert new_endpoint.inputs["name"] == endpoint.inputs["name"]  # updated, never replaced
    for replaced in (new_model, new_config):
        assert replaced.delete_before_replace in (None, False)  # create the new one first
        assert replaced.retain_on_delete is False


def test_nothing_changes_when_nothing_changed(program):
    first, second = serving(program()), serving(program())
    assert [r.inputs["name"] for r in first] == [r.inputs["name"] for r in second]


def test_a_new_baseline_is_uploaded_under_a_new_key_and_the_old_one_is_kept(program):
    before, after = program(), program(datasetSeed="2")
    old = before.named("aim368-baseline-model").inputs["key"]
    new = after.named("aim368-baseline-model").inputs["key"]
    assert old != new
    assert serving(after)[0].inputs["primaryContainer"]["modelDataUrl"].endswith(new)
    # An endpoint may still (re)load the previous model from it until the bucket goes.
    assert after.named("aim368-baseline-model").retain_on_delete is True


def test_with_keep_promotions_endpoints_keep_what_they_serve_and_nothing_in_use_is_deleted(
        program):
    _, config, _ = serving(program(keepPromotions="true"))
    model, new_config, endpoint = serving(program(keepPromotions="true",
                                                  endpointInstanceType="ml.m5.large"))
    assert new_config.inputs["name"] != config.inputs["name"]
    assert endpoint.ignore_changes == ["endpointConfigName"]
    assert model.retain_on_delete and new_config.retain_on_delete


def test_names_hash_every_input_and_fit_the_autoname_length(tmp_path):
    assert input_hash("model", "image", "s3://b/k", "role") != \
        input_hash("model", "image", "s3://b/k", "other-role")
    assert len(input_hash("x")) == 7
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"one")
    first = baseline_key(archive)
    archive.write_bytes(b"two")
    assert baseline_key(archive) != first and first.startswith("models/baseline/")
