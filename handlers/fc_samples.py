"""The simulated fulfillment center (FC): sample schema, CSV codec and a seeded generator.

A sample is one human-robot interaction: the real duration in ms (the label) followed
by 12 features. It travels as one headerless CSV row, label first, as SageMaker's
built-in algorithms expect. Standard library only, because the Lambdas bundle this
file as it is.
"""

from __future__ import annotations

import gc
import hashlib
import math
import random
from bisect import bisect
from collections.abc import Iterable
from datetime import datetime
from itertools import accumulate
from typing import NamedTuple

COLUMNS = (
    "duration",
    "fc_avg",
    "item_length",
    "item_width",
    "item_height",
    "item_quantity",
    "item_weight",
    "bin_location",
    "bin_width",
    "bin_height",
    "bin_depth",
    "bin_fullness",
    "bin_clutter",
)
LABEL = COLUMNS[0]
FEATURES = COLUMNS[1:]
N_FEATURES = len(FEATURES)

# Inclusive bounds a decoded sample must respect; wider than the generator's range so
# that a real FC's outliers pass, tight enough to catch garbage and unit mix-ups.
BOUNDS = {
    "duration": (1, 600_000),
    "fc_avg": (1, 60_000),
    "item_length": (1, 3_000),
    "item_width": (1, 3_000),
    "item_height": (1, 3_000),
    "item_quantity": (1, 1_000),
    "item_weight": (1, 100_000),
    "bin_location": (0, 5_000),
    "bin_width": (1, 3_000),
    "bin_height": (1, 3_000),
    "bin_depth": (1, 3_000),
    "bin_fullness": (0, 100),
    "bin_clutter": (0, 100),
}
MAX_ROW_CHARS = 512


class Sample(NamedTuple):
    duration: float
    fc_avg: float
    item_length: float
    item_width: float
    item_height: float
    item_quantity: float
    item_weight: float
    bin_location: float
    bin_width: float
    bin_height: float
    bin_depth: float
    bin_fullness: float
    bin_clutter: float

    @property
    def features(self) -> tuple[float, ...]:
        return tuple(self[1:])


class SampleError(ValueError):
    """A sample that does not fit the schema; the message says why."""


def format_number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def encode(sample: Iterable[float]) -> str:
    """One sample as a newline-terminated CSV row, label first."""
    return ",".join(format_number(v) for v in sample) + "\n"


def sample_id(sample: Iterable[float] | str) -> str:
    """A sample's identity: a hash of its canonical CSV row (label and 12 features).

    Carried beside the row (the SNS message attribute `sample_id`), never in it, so the
    13-column rows stay what SageMaker's built-in algorithms train on. Two distinct
    samples with all 13 values equal are vanishingly rare (durations carry noise), so a
    repeated row downstream is a repeated delivery, countable with the rows alone."""
    row = sample if isinstance(sample, str) else encode(sample)
    return hashlib.sha256(row.rstrip("\n").encode()).hexdigest()[:20]


def _parse_number(column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SampleError(f"{column} is not a number: {text.strip()[:20]!r}") from None
    if not math.isfinite(value):
        raise SampleError(f"{column} is not finite: {text.strip()!r}")
    low, high = BOUNDS[column]
    if not low <= value <= high:
        raise SampleError(f"{column}={format_number(value)} is outside [{low}, {high}]")
    return int(value) if value.is_integer() else value


def decode(row: str) -> Sample:
    """Parse and validate one CSV row (a trailing newline is allowed)."""
    if not isinstance(row, str):
        raise SampleError(f"a sample must be text, got {type(row).__name__}")
    if len(row) > MAX_ROW_CHARS:
        raise SampleError(f"row is {len(row)} characters, more than {MAX_ROW_CHARS}")
    text = row[:-1] if row.endswith("\n") else row
    if "\n" in text or "\r" in text:
        raise SampleError("a sample must be a single line")
    fields = text.split(",")
    if len(fields) != len(COLUMNS):
        raise SampleError(f"expected {len(COLUMNS)} comma-separated values, got {len(fields)}")
    return Sample(*(_parse_number(c, f) for c, f in zip(COLUMNS, fields)))


# --- The generator -------------------------------------------------------------------

FULFILLMENT_CENTERS = (4300, 5100, 5900, 6800)  # fc_avg, ms: one value per FC
FC_SHARE = (0.30, 0.30, 0.25, 0.15)
QUANTITY_SHARE = (40, 22, 13, 8, 6, 4, 3, 2, 2)  # quantities 1..9
BIN_LOCATIONS = (300, 700, 1100, 1500, 1900)  # mm above the ground
BIN_WIDTHS = (230, 300, 380, 460, 610)
BIN_HEIGHTS = (150, 200, 280, 360, 430)
BIN_DEPTHS = (300, 400, 500, 600, 760)
ERGONOMIC_HEIGHT_MM = 1100

class Profile(NamedTuple):
    """How the FC behaves: normal, or drifted (for the retraining discussion)."""

    density_log_mean: float  # items' density, log g/mm^3
    fullness_mode: float  # the most common bin fullness, percent
    clutter_offset: float  # clutter on top of 0.6 x fullness, percent
    slowdown: float  # every interaction takes this much longer ...
    extra_ms: float  # ... plus this
    noise_sd_ms: float


NORMAL = "normal"
# Peak season: heavier items, fuller and more cluttered bins, tired and busier
# associates, so durations grow in ways a model trained before cannot know.
PEAK_SEASON = "peak-season"
DEFAULT_DRIFT_PROFILE = PEAK_SEASON  # what the FC drifts to unless the event says otherwise
PROFILES = {
    NORMAL: Profile(-8.1, 60, 20, 1.0, 0.0, 300.0),
    PEAK_SEASON: Profile(-7.5, 85, 28, 1.15, 400.0, 360.0),
}
NOISE_SD_MS = PROFILES["normal"].noise_sd_ms


def noise_floor(profile: str = "normal") -> float:
    """The best RMSE any model can reach. Durations are whole ms, so rounding adds a
    uniform error of variance 1/12 ms^2 to the Gaussian noise."""
    return math.sqrt(PROFILES[profile].noise_sd_ms ** 2 + 1 / 12)


NOISE_FLOOR_RMSE = noise_floor("normal")


def profile_at(moment: datetime, drift_start: str, drift_profile: str) -> str:
    """The FC's behaviour at a moment: drifted from drift_start (ISO 8601) on, if set."""
    if drift_start and moment >= datetime.fromisoformat(drift_start.replace("Z", "+00:00")):
        return drift_profile
    return "normal"


def true_duration(features: Iterable[float], profile: str = "normal") -> float:
    """Expected duration (ms) of an interaction: the part a perfect model could learn."""
    (fc_avg, length, width, height, quantity, weight,
     location, bin_width, bin_height, bin_depth, fullness, clutter) = features
    del length  # the item enters the bin lengthwise: only its cross-section matters
    fit = min(max(width / bin_width, height / bin_height), 1.5)
    behaviour = PROFILES[profile]
    return behaviour.extra_ms + behaviour.slowdown * (
        0.6 * fc_avg
        + 0.0009 * (location - ERGONOMIC_HEIGHT_MM) ** 2
        + 1800.0 * fit**3
        + 900.0 * fit * fullness / 100
        + 1.2 * bin_depth
        + 350.0 * math.log1p(weight * quantity / 1000)
        + 380.0 * (quantity - 1) ** 0.85
        + 2400.0 * (fullness / 100) * (clutter / 100) ** 1.5
    )


def _choices(rng: random.Random, values, shares, n: int) -> list:
    cumulative = list(accumulate(shares))
    total = cumulative[-1]
    return [values[bisect(cumulative, rng.random() * total)] for _ in range(n)]


def _clamp_round(value: float, low: int, high: int) -> int:
    return min(max(round(value), low), high)


def generate(n: int, seed: int, profile: str = "normal") -> list[Sample]:
    """n realistic samples, the same for the same (n, seed, profile).

    Columns are drawn one at a time (list comprehensions, no per-sample call), which
    keeps a million samples to a few seconds in pure Python.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    # Millions of small tuples would trigger full GC passes that find nothing to free.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(n, seed, PROFILES[profile], profile)
    finally:
        if collecting:
            gc.enable()


def _generate(n: int, seed: int, behaviour: Profile, profile: str) -> list[Sample]:
    rng = random.Random(seed)
    gauss, uniform, triangular = rng.gauss, rng.uniform, rng.triangular
    fc = _choices(rng, FULFILLMENT_CENTERS, FC_SHARE, n)
    length = [_clamp_round(math.exp(gauss(5.4, 0.5)), 20, 900) for _ in range(n)]
    width = [max(5, round(x * uniform(0.3, 1.0))) for x in length]
    height = [max(5, round(x * uniform(0.2, 1.0))) for x in width]
    quantity = _choices(rng, range(1, 10), QUANTITY_SHARE, n)
    density = [math.exp(gauss(behaviour.density_log_mean, 0.6)) for _ in range(n)]  # g/mm^3
    weight = [
        _clamp_round(long * w * h * d, 5, 30_000)
        for long, w, h, d in zip(length, width, height, density)
    ]
    location = _choices(rng, BIN_LOCATIONS, (1,) * 5, n)
    bin_width = _choices(rng, BIN_WIDTHS, (1,) * 5, n)
    bin_height = _choices(rng, BIN_HEIGHTS, (1,) * 5, n)
    bin_depth = _choices(rng, BIN_DEPTHS, (1,) * 5, n)
    fullness = [round(triangular(0, 100, behaviour.fullness_mode)) for _ in range(n)]
    clutter = [_clamp_round(0.6 * f + gauss(behaviour.clutter_offset, 18), 0, 100)
               for f in fullness]
    rows = zip(fc, length, width, height, quantity, weight,
               location, bin_width, bin_height, bin_depth, fullness, clutter)
    noise = behaviour.noise_sd_ms
    return [Sample(round(true_duration(r, profile) + gauss(0.0, noise)), *r) for r in rows]
