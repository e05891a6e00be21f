"""The three algorithms at sensible hyperparameters on the default data set size.

Reproduce with `make bench` or `.venv/bin/python -m bench.training` (2,000,000 samples:
1,500,000 to train, 500,000 to test; several minutes on 2 cores). Reports test RMSE, RMSE
over the generator's noise floor, and time as a ratio to the fastest: fitting alone, and
fitting plus scoring the test set (what a SageMaker training job does; k-NN's fit only
indexes its sample, its cost is in the scoring).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from handlers import fc_samples
from training import dataset, local
from training.hyperparameters import SENSIBLE

PROJECT_DIR = Path(__file__).resolve().parent.parent

SAMPLES, SEED = 2_000_000, 368
RESULTS = PROJECT_DIR / "bench" / "results"


def main(samples: int = SAMPLES) -> list[dict]:
    files = dataset.build(samples, SEED)
    train, test = dataset.load(files.train), dataset.load(files.test)
    models = [local.train(a, SENSIBLE[a], train, test, seed=1)
              for a in ("xgboost", "linear-learner", "knn")]
    fastest = min(m.train_seconds for m in models)
    fastest_job = min(m.train_seconds + m.evaluate_seconds for m in models)
    rows = [{"algorithm": m.algorithm, "hyperparameters": m.hyperparameters,
             "test_rmse": round(m.test_rmse, 1),
             "rmse_over_noise_floor": round(m.test_rmse / fc_samples.NOISE_FLOOR_RMSE, 2),
             "train_seconds": round(m.train_seconds, 1),
             "evaluate_seconds": round(m.evaluate_seconds, 1),
             "train_time_ratio": round(m.train_seconds / fastest, 1),
             "job_time_ratio": round((m.train_seconds + m.evaluate_seconds) / fastest_job, 1)}
            for m in models]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.json").write_text(json.dumps(rows, indent=2))
    print(f"\nLocal training on {len(train[1]):,} / {len(test[1]):,} samples "
          f"(noise floor {fc_samples.NOISE_FLOOR_RMSE:.1f} ms)")
    print("| algorithm | hyperparameters | test RMSE ms | RMSE / floor | fit time / fastest "
          "| fit + test-set scoring / fastest |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        hp = ", ".join(f"{k}={v}" for k, v in r["hyperparameters"].items()
                       if k not in ("predictor_type", "feature_dim"))
        print(f"| {r['algorithm']} | {hp} | {r['test_rmse']} | {r['rmse_over_noise_floor']} | "
              f"{r['train_time_ratio']} | {r['job_time_ratio']} |")
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES)
