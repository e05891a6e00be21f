"""The workshop's three algorithms, trained on this machine with the same hyperparameters.

- xgboost: the `xgboost` library (hist trees, squared error), early stopping on the test
  set as the "validation" channel, like the built-in algorithm.
- knn: k-nearest-neighbours regression on a random `sample_size` subset with `k`
  neighbours and raw features, like SageMaker's k-NN without dimension reduction.
- linear-learner: a linear model on standardised features and label, trained by
  `optimizer` (sgd or adam) in mini-batches of `mini_batch_size` for `epochs` passes.

Every model reports its RMSE in ms on the test set, like the notebooks.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from training.hyperparameters import validate

Arrays = tuple[np.ndarray, np.ndarray]
THREADS = 2


@dataclass
class XGBoostPredictor:
    booster: xgboost.Booster

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return self.booster.predict(xgboost.DMatrix(features))


@dataclass
class KnnPredictor:
    model: KNeighborsRegressor

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict(features)


@dataclass
class LinearPredictor:
    scaler: StandardScaler
    model: MLPRegressor
    label_mean: float
    label_scale: float

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict(self.scaler.transform(features)) * self.label_scale + self.label_mean


@dataclass
class TrainedModel:
    algorithm: str
    hyperparameters: dict[str, Any]
    predict: Callable[[np.ndarray], np.ndarray]  # a picklable predictor
    test_rmse: float
    train_seconds: float  # fitting
    evaluate_seconds: float  # predicting the whole test set, as the training job does
    details: dict[str, Any]  # what the trainer actually did with the hyperparameters
    booster: xgboost.Booster | None = None  # set for xgboost, to package it


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - actual) ** 2)))


def _xgboost(hp: Mapping[str, Any], train: Arrays, test: Arrays, seed: int):
    dtrain = xgboost.DMatrix(train[0], label=train[1])
    dvalid = xgboost.DMatrix(test[0], label=test[1])
    params = {"objective": "reg:squarederror", "tree_method": "hist", "nthread": THREADS,
              "max_depth": hp["max_depth"], "eta": hp["eta"], "seed": seed,
              "eval_metric": "rmse"}
    booster = xgboost.train(params, dtrain, num_boost_round=hp["num_round"],
                            evals=[(dvalid, "validation")],
                            early_stopping_rounds=hp["early_stopping_rounds"], verbose_eval=False)
    booster = booster[: booster.best_iteration + 1]  # keep only the trees early stopping chose
    details = {"trees": booster.num_boosted_rounds()}
    return XGBoostPredictor(booster), details, booster


def _knn(hp: Mapping[str, Any], train: Arrays, test: Arrays, seed: int):
    features, label = train
    size = min(hp["sample_size"], len(label))
    chosen = np.random.default_rng(seed).choice(len(label), size=size, replace=False)
    model = KNeighborsRegressor(n_neighbors=min(hp["k"], size), n_jobs=THREADS)
    model.fit(features[chosen], label[chosen])
    details = {"fitted_samples": int(model.n_samples_fit_), "k": model.n_neighbors}
    return KnnPredictor(model), details, None


def _linear(hp: Mapping[str, Any], train: Arrays, test: Arrays, seed: int):
    features, label = train
    scaler = StandardScaler().fit(features)
    mean, scale = float(label.mean()), float(label.std()) or 1.0
    model = MLPRegressor(hidden_layer_sizes=(), solver=hp["optimizer"],
                         batch_size=hp["mini_batch_size"], max_iter=hp["epochs"],
                         learning_rate_init=0.01 if hp["optimizer"] == "sgd" else 0.001,
                         tol=0.0, n_iter_no_change=hp["epochs"] + 1, shuffle=True,
                         random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # epochs are a fixed budget
        model.fit(scaler.transform(features), (label - mean) / scale)
    details = {"epochs_run": model.n_iter_, "batch_size": model.batch_size,
               "optimizer": model.solver}
    return LinearPredictor(scaler, model, mean, scale), details, None


TRAINERS = {"xgboost": _xgboost, "knn": _knn, "linear-learner": _linear}


def train(algorithm: str, hyperparameters: Mapping[str, Any], train_set: Arrays,
          test_set: Arrays, seed: int = 0) -> TrainedModel:
    hp = validate(algorithm, hyperparameters)
    start = time.perf_counter()
    predict, details, booster = TRAINERS[algorithm](hp, train_set, test_set, seed)
    fitted = time.perf_counter()
    test_rmse = rmse(predict(test_set[0]), test_set[1])
    return TrainedModel(algorithm, hp, predict, test_rmse, fitted - start,
                        time.perf_counter() - fitted, details, booster)
