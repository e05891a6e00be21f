"""The baseline model every participant's endpoint serves before they promote their own.

An XGBoost model trained locally on the pre-collected data set, saved with
`Booster.save_model` as the single file `xgboost-model` at the root of `model.tar.gz`,
which is what SageMaker's built-in XGBoost 1.7-1 container loads. xgboost 3.1 and later
write models that container mis-reads (every prediction wrong), so xgboost is pinned
below 3.1 and a test checks it.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

import xgboost

from training import artifacts, dataset, local
from training.artifacts import ARCHIVE, CONTAINER_VERSION, MODEL_FILE, REPORT
from training.hyperparameters import SENSIBLE


def writes_container_compatible_models(version: str = xgboost.__version__) -> bool:
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) < (3, 1)


def package(booster: xgboost.Booster, path: Path) -> Path:
    """model.tar.gz with exactly one file at its root; same model, same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.json"  # JSON: the format every xgboost reads
        booster.save_model(str(model_path))
        data = model_path.read_bytes()
    info = tarfile.TarInfo(MODEL_FILE)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    buffer = io.BytesIO()
    # gzip's header carries a timestamp: pin it so the archive hash is stable
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT,
                      compresslevel=6) as archive:
        archive.addfile(info, io.BytesIO(data))
    raw = bytearray(buffer.getvalue())
    raw[4:8] = b"\0\0\0\0"
    partial = path.with_suffix(".partial")
    partial.write_bytes(bytes(raw))
    os.replace(partial, path)
    return path


def build(files: dataset.DatasetFiles, seed: int,
          cache_dir: Path | None = None) -> tuple[Path, dict]:
    """(model.tar.gz, report) for the data set, trained once and cached."""
    if not writes_container_compatible_models():
        raise RuntimeError(f"xgboost {xgboost.__version__} writes models that SageMaker's "
                           f"XGBoost {CONTAINER_VERSION} container mis-reads; use xgboost<3.1")
    folder = (cache_dir or artifacts.CACHE_DIR) / artifacts.baseline_key(files.key, seed)
    archive, report_path = folder / ARCHIVE, folder / REPORT
    if archive.exists() and report_path.exists():
        return archive, json.loads(report_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    model = local.train("xgboost", SENSIBLE["xgboost"], dataset.load(files.train),
                        dataset.load(files.test), seed=seed)
    package(model.booster, archive)
    report = {"algorithm": "xgboost", "hyperparameters": model.hyperparameters,
              "test_rmse": model.test_rmse, "xgboost": xgboost.__version__}
    partial = report_path.with_suffix(".partial")  # the report last: it marks the build done
    partial.write_text(json.dumps(report, indent=2))
    os.replace(partial, report_path)
    return archive, report
