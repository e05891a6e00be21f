"""The hyperparameters a participant fills in, with the workshop's ranges.

Names and ranges are the SageMaker built-in algorithms' own (as in the original
notebooks), so the notebooks and the local trainer accept exactly the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALGORITHMS = ("knn", "linear-learner", "xgboost")

# name -> (kind, allowed): a (low, high) range for numbers, a tuple of choices otherwise.
RANGES: dict[str, dict[str, tuple[type, Any]]] = {
    "knn": {
        "predictor_type": (str, ("regressor",)),
        "feature_dim": (int, (12, 12)),
        "k": (int, (50, 150)),
        "mini_batch_size": (int, (500, 1500)),
        "sample_size": (int, (50_000, 500_000)),
    },
    "linear-learner": {
        "predictor_type": (str, ("regressor",)),
        "feature_dim": (int, (12, 12)),
        "optimizer": (str, ("sgd", "adam")),
        "mini_batch_size": (int, (500, 1500)),
        "epochs": (int, (10, 20)),
    },
    "xgboost": {
        "num_round": (int, (20, 200)),
        "early_stopping_rounds": (int, (1, 10)),
        "max_depth": (int, (3, 6)),
        "eta": (float, (0.1, 1.0)),
    },
}

SENSIBLE = {
    "knn": {"predictor_type": "regressor", "feature_dim": 12, "k": 100, "mini_batch_size": 1000,
            "sample_size": 200_000},
    "linear-learner": {"predictor_type": "regressor", "feature_dim": 12, "optimizer": "sgd",
                       "mini_batch_size": 1000, "epochs": 15},
    "xgboost": {"num_round": 150, "early_stopping_rounds": 5, "max_depth": 6, "eta": 0.3},
}


def _problem(name: str, value: Any, kind: type, allowed: Any) -> str | None:
    if kind is str:
        return None if value in allowed else f"{name}={value!r} must be one of {allowed}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (kind is int and not float(value).is_integer()):
        return f"{name}={value!r} must be a{'n integer' if kind is int else ' number'}"
    low, high = allowed
    return None if low <= value <= high else f"{name}={value!r} must be between {low} and {high}"


def validate(algorithm: str, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check every hyperparameter at once; return them typed, or raise listing each problem."""
    if algorithm not in RANGES:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {ALGORITHMS}")
    ranges = RANGES[algorithm]
    problems = [f"unknown hyperparameter {k!r} for {algorithm}" for k in hyperparameters
                if k not in ranges]
    problems += [f"missing hyperparameter {k!r}" for k in ranges if k not in hyperparameters]
    problems += [p for k, (kind, allowed) in ranges.items() if k in hyperparameters
                 for p in [_problem(k, hyperparameters[k], kind, allowed)] if p]
    if problems:
        raise ValueError(f"{algorithm} hyperparameters: " + "; ".join(problems))
    return {k: ranges[k][0](v) for k, v in hyperparameters.items()}
