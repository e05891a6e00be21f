"""The pre-collected data set every participant starts with, as in the original event.

`samples` rows from the FC generator (2,000,000 by default), the first 75% written as
TrainSamples.csv and the rest as TestSamples.csv: headerless, label first. Files are
cached under a key made of the seed, the size and a hash of the generator's source, so
a second `pulumi up` neither regenerates nor re-uploads anything (the file bytes, and so
the asset hashes Pulumi compares, stay the same).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from handlers import fc_samples
from training import artifacts
from training.artifacts import TEST_FILE, TRAIN_FILE, generator_version  # noqa: F401

TRAIN_FRACTION = 0.75


@dataclass(frozen=True)
class DatasetFiles:
    train: Path
    test: Path
    key: str


def _write_csv(path: Path, samples: list) -> None:
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="ascii", newline="") as out:
        out.writelines(map(fc_samples.encode, samples))
    os.replace(partial, path)  # never leave a half-written file under the final name


def build(samples: int, seed: int, cache_dir: Path | None = None) -> DatasetFiles:
    """The data set's two CSV files, generated once per (generator, seed, size)."""
    if samples < 4:
        raise ValueError("the data set needs at least 4 samples")
    key = artifacts.dataset_key(samples, seed)
    folder = (cache_dir or artifacts.CACHE_DIR) / key
    files = DatasetFiles(folder / TRAIN_FILE, folder / TEST_FILE, key)
    if files.train.exists() and files.test.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    rows = fc_samples.generate(samples, seed)
    split = int(samples * TRAIN_FRACTION)
    _write_csv(files.test, rows[split:])
    _write_csv(files.train, rows[:split])
    return files


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(features, label) arrays from a headerless, label-first CSV file."""
    frame = pd.read_csv(path, header=None, dtype=np.float64, engine="c")
    if frame.shape[1] != len(fc_samples.COLUMNS):
        raise ValueError(f"{path}: expected {len(fc_samples.COLUMNS)} columns, got {frame.shape[1]}")
    values = frame.to_numpy()
    return values[:, 1:], values[:, 0]
