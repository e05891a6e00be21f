"""Participants made up in code, for rehearsals of realistic size (`--participants N`).

They play the three algorithms in turn with hyperparameters inside the workshop's ranges,
cheap to train (few rounds, small samples) so a room of 100 trains in minutes, and each
one a little different so the leaderboard has an order. Faults are left to the caller.
"""

from __future__ import annotations

from training.hyperparameters import validate

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia",
         "Ken", "Margaret", "Tim", "Karen", "Niklaus", "Shafi", "Leslie", "Hedy", "Dennis")


def hyperparameters(algorithm: str, position: int) -> dict:
    """Valid (checked against training/hyperparameters.py) and varied with the position."""
    chosen = {
        "xgboost": {"num_round": 20 + position % 30, "early_stopping_rounds": 5,
                    "max_depth": 3 + position % 4, "eta": 0.3},
        "linear-learner": {"predictor_type": "regressor", "feature_dim": 12,
                           "optimizer": ("sgd", "adam")[position % 2], "mini_batch_size": 1000,
                           "epochs": 10},
        "knn": {"predictor_type": "regressor", "feature_dim": 12, "k": 50 + position % 50,
                "mini_batch_size": 1000, "sample_size": 50_000},
    }[algorithm]
    return validate(algorithm, chosen)


def crowd(count: int, start: int = 0) -> list[dict]:
    """`count` participant entries in rehearsal.yaml's shape, unique names from `start` on."""
    algorithms = ("xgboost", "linear-learner", "knn")
    entries = []
    for position in range(start, start + count):
        algorithm = algorithms[position % 3]
        entries.append({"name": f"{FIRST[position % len(FIRST)]} Bot {position + 1:03d}",
                        "algorithm": algorithm,
                        "hyperparameters": hyperparameters(algorithm, position)})
    return entries
