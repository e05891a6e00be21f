"""The FC sample model: schema, CSV codec and the seeded generator."""

import math

import pytest

from handlers import fc_samples
from handlers.fc_samples import (
    COLUMNS,
    NOISE_FLOOR_RMSE,
    Sample,
    SampleError,
    decode,
    encode,
    generate,
)


def test_schema_has_the_label_first_and_twelve_features():
    assert COLUMNS[0] == "duration"
    assert COLUMNS[1:] == fc_samples.FEATURES
    assert len(fc_samples.FEATURES) == 12
    assert COLUMNS == (
        "duration", "fc_avg", "item_length", "item_width", "item_height", "item_quantity",
        "item_weight", "bin_location", "bin_width", "bin_height", "bin_depth",
        "bin_fullness", "bin_clutter")


def test_a_sample_encodes_as_one_newline_terminated_csv_row_and_decodes_back():
    sample = generate(1, seed=7)[0]
    row = encode(sample)
    assert row.endswith("\n") and row.count("\n") == 1
    assert len(row.rstrip("\n").split(",")) == 13
    assert decode(row) == sample
    assert decode(row.rstrip("\n")) == sample


def test_decoding_keeps_fractions():
    row = "5000,5100,200,100,50,1,300,700,300,200,400,50.5,40\n"
    assert decode(row).bin_fullness == 50.5
    assert encode(decode(row)) == row


@pytest.mark.parametrize("row, reason", [
    ("1,2,3", "expected 13 comma-separated values, got 3"),
    ("5000,5100,200,100,50,1,300,700,300,200,400,50,40,9", "got 14"),
    ("5000,abc,200,100,50,1,300,700,300,200,400,50,40", "fc_avg is not a number"),
    ("5000,5100,200,100,50,1,300,700,300,200,400,nan,40", "bin_fullness is not finite"),
    ("5000,5100,200,100,50,1,300,700,300,200,400,50,inf", "bin_clutter is not finite"),
    ("5000,5100,200,100,50,0,300,700,300,200,400,50,40", "item_quantity=0 is outside"),
    ("5000,5100,200,100,50,1,300,700,300,200,400,150,40", "bin_fullness=150 is outside"),
    ("", "expected 13"),
    ("5000,5100\n200,100", "single line"),
    ("9" * 600, "more than 512"),
])
def test_malformed_rows_are_rejected_with_a_reason(row, reason):
    with pytest.raises(SampleError, match=reason):
        decode(row)


def test_non_text_is_rejected():
    with pytest.raises(SampleError, match="must be text"):
        decode(None)


def test_the_generator_is_deterministic_for_a_seed():
    assert generate(500, seed=42) == generate(500, seed=42)
    assert generate(500, seed=42) != generate(500, seed=43)


def test_generated_samples_respect_the_schema_bounds_and_round_trip():
    for sample in generate(20_000, seed=1):
        assert decode(encode(sample)) == sample


def test_features_have_plausible_ranges():
    samples = generate(20_000, seed=3)
    column = {c: [s[i] for s in samples] for i, c in enumerate(COLUMNS)}
    assert set(column["fc_avg"]) == set(fc_samples.FULFILLMENT_CENTERS)
    assert set(column["bin_location"]) == set(fc_samples.BIN_LOCATIONS)
    assert set(column["item_quantity"]) == set(range(1, 10))
    assert min(column["bin_fullness"]) >= 0 and max(column["bin_fullness"]) <= 100
    assert min(column["duration"]) > 1000


def _rmse(errors):
    return math.sqrt(sum(e * e for e in errors) / len(errors))


def test_the_residual_of_the_true_function_equals_the_stated_noise_floor():
    samples = generate(200_000, seed=11)
    residual = _rmse([s.duration - fc_samples.true_duration(s.features) for s in samples])
    standard_error = NOISE_FLOOR_RMSE / math.sqrt(2 * len(samples))
    assert abs(residual - NOISE_FLOOR_RMSE) < 4 * standard_error


def test_duration_depends_on_the_features_far_beyond_the_noise():
    samples = generate(50_000, seed=5)
    mean = sum(s.duration for s in samples) / len(samples)
    predict_the_mean = _rmse([s.duration - mean for s in samples])
    assert predict_the_mean > 4 * NOISE_FLOOR_RMSE


@pytest.mark.parametrize("feature, low, high", [
    ("bin_location", 1100, 1900),  # reaching high is slower than waist height
    ("item_quantity", 1, 5),
    ("bin_fullness", 10, 90),
    ("item_weight", 100, 20_000),
])
def test_duration_grows_with_the_features_that_should_slow_a_pick(feature, low, high):
    base = Sample(0, 5100, 200, 100, 50, 1, 300, 1100, 380, 280, 500, 50, 50)
    index = COLUMNS.index(feature) - 1
    features = list(base.features)
    features[index] = low
    slow = list(features)
    slow[index] = high
    assert fc_samples.true_duration(slow) > fc_samples.true_duration(features) + 100


def test_peak_season_drift_lengthens_durations_and_has_its_own_noise_floor():
    normal = generate(50_000, seed=21)
    peak = generate(50_000, seed=21, profile=fc_samples.PEAK_SEASON)
    mean = lambda s: sum(x.duration for x in s) / len(s)  # noqa: E731
    assert mean(peak) > 1.2 * mean(normal)
    assert sum(x.item_weight for x in peak) > 1.5 * sum(x.item_weight for x in normal)
    residual = _rmse([s.duration - fc_samples.true_duration(s.features, fc_samples.PEAK_SEASON)
                      for s in peak])
    floor = fc_samples.noise_floor(fc_samples.PEAK_SEASON)
    assert floor > NOISE_FLOOR_RMSE
    assert abs(residual - floor) < 4 * floor / math.sqrt(2 * len(peak))


def test_a_model_of_the_normal_fc_is_wrong_after_the_drift():
    peak = generate(20_000, seed=22, profile=fc_samples.PEAK_SEASON)
    stale = _rmse([s.duration - fc_samples.true_duration(s.features) for s in peak])
    assert stale > 3 * fc_samples.noise_floor(fc_samples.PEAK_SEASON)
