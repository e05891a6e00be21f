"""Where the built training artifacts live, and how the program finds them.

`python -m training.build` (`make artifacts`) generates the data set and trains the
baseline model into `.cache/`, keyed by the settings they depend on; the Pulumi program
only references the files through `locate()`. This module is what the program imports,
so it stays light: no numpy, pandas, xgboost or scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_DIR / ".cache"
GENERATOR_SOURCE = PROJECT_DIR / "handlers" / "fc_samples.py"
TRAIN_FILE, TEST_FILE = "TrainSamples.csv", "TestSamples.csv"
CONTAINER_VERSION = "1.7-1"  # SageMaker's built-in XGBoost image tag the baseline is built for
MODEL_FILE = "xgboost-model"
ARCHIVE = "model.tar.gz"
REPORT = "report.json"
BUILD_COMMAND = "make artifacts"


class MissingArtifacts(FileNotFoundError):
    """The artifacts for these settings are not built; the message says how to build them."""


def generator_version() -> str:
    """A hash of the FC generator's source: a changed generator means a new data set."""
    return hashlib.sha256(GENERATOR_SOURCE.read_bytes()).hexdigest()[:12]


def dataset_key(samples: int, seed: int) -> str:
    return f"dataset-{generator_version()}-{seed}-{samples}"


def baseline_key(data_key: str, seed: int) -> str:
    return f"baseline-{data_key}-{seed}"


@dataclass(frozen=True)
class TrainingArtifacts:
    train: Path
    test: Path
    baseline_model: Path
    baseline_report: Path

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.train, self.test, self.baseline_model, self.baseline_report)

    def baseline_test_rmse(self) -> float:
        return float(json.loads(self.baseline_report.read_text())["test_rmse"])


def expected(samples: int, seed: int, cache_dir: Path | None = None) -> TrainingArtifacts:
    """Where the artifacts for these settings are, built or not."""
    cache = cache_dir or CACHE_DIR
    data = dataset_key(samples, seed)
    model = cache / baseline_key(data, seed)
    return TrainingArtifacts(cache / data / TRAIN_FILE, cache / data / TEST_FILE,
                             model / ARCHIVE, model / REPORT)


def build_command(samples: int, seed: int) -> str:
    return (f"{BUILD_COMMAND} (python -m training.build datasetSamples={samples} "
            f"datasetSeed={seed})")


def locate(samples: int, seed: int, cache_dir: Path | None = None) -> TrainingArtifacts:
    """The built artifacts for these settings; MissingArtifacts (one line) if any is missing."""
    artifacts = expected(samples, seed, cache_dir)
    if not all(path.exists() for path in artifacts.files):
        raise MissingArtifacts(f"the training data set and baseline model for datasetSamples="
                               f"{samples}, datasetSeed={seed} are not built; run "
                               f"{build_command(samples, seed)}")
    return artifacts
