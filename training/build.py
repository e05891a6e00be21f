"""Build what the Pulumi program uploads: `python -m training.build [key=value ...]`.

- the pre-collected data set (TrainSamples.csv, TestSamples.csv) for `datasetSamples`
  and `datasetSeed`;
- the baseline XGBoost model and its report (the test RMSE the stack exports);
- the four workshop notebooks, re-rendered from tools/build_notebooks.py if stale.

Arguments are stack config settings, as for `make preview` (defaults from Pulumi.yaml).
Everything is cached under .cache/ keyed by the settings, so a second run only checks.
`make artifacts` runs it; `make preview`, `make rehearse`, `make test` and the benchmarks
build what they need first.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from training import artifacts
from training.artifacts import TrainingArtifacts


def _timed(say: Callable[[str], None], what: str, work: Callable[[], object]) -> object:
    say(f"{what} ...")
    started = time.perf_counter()
    result = work()
    say(f"{what}: done in {time.perf_counter() - started:.1f} s")
    return result


def build_notebooks(say: Callable[[str], None] = print) -> list[str]:
    """Re-write the notebooks whose committed text differs from what the cells render."""
    from tools.build_notebooks import NOTEBOOKS, NOTEBOOKS_DIR, render

    stale = [name for name in NOTEBOOKS if not (NOTEBOOKS_DIR / f"{name}.ipynb").exists()
             or (NOTEBOOKS_DIR / f"{name}.ipynb").read_text() != render(name)]
    for name in stale:
        (NOTEBOOKS_DIR / f"{name}.ipynb").write_text(render(name))
    say(f"notebooks: {'re-wrote ' + ', '.join(stale) if stale else 'up to date'}")
    return stale


def build(samples: int, seed: int, cache_dir: Path | None = None,
          say: Callable[[str], None] = print) -> TrainingArtifacts:
    """Every artifact for these settings, built once; cheap when already cached."""
    built = artifacts.expected(samples, seed, cache_dir)
    if all(path.exists() for path in built.files):
        say(f"data set and baseline for datasetSamples={samples}, datasetSeed={seed}: cached")
    else:
        # Imported here: only a cold build needs numpy, pandas and xgboost.
        from training import baseline, dataset

        files = _timed(say, f"generating the data set ({samples:,} samples, seed {seed})",
                       lambda: dataset.build(samples, seed, cache_dir))
        _, report = _timed(say, "training the baseline XGBoost model",
                           lambda: baseline.build(files, seed, cache_dir))
        say(f"baseline test RMSE: {report['test_rmse']:,.1f} ms")
    build_notebooks(say)
    return artifacts.locate(samples, seed, cache_dir)


def build_for_config(config: dict[str, str],
                     say: Callable[[str], None] = print) -> TrainingArtifacts | None:
    """Build for the data set of a stack config ({"datasetSamples": "2000", "aws:region": ...}).

    A config with problems builds nothing and returns None: evaluating the program
    then reports every problem, as it would without this step.
    """
    from event.config import ConfigError, parse_config

    raw = {k: str(v) for k, v in config.items()}
    try:
        dataset = parse_config({k: v for k, v in raw.items() if ":" not in k},
                               region=raw.get("aws:region")).dataset
    except ConfigError:
        return None
    return build(dataset.samples, dataset.seed, say=say)


def main(argv: list[str]) -> int:
    from event.config import ConfigError, parse_config

    raw = dict(arg.split("=", 1) for arg in argv)
    try:
        parse_config({k: v for k, v in raw.items() if ":" not in k}, region=raw.get("aws:region"))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    build_for_config(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
