"""Lab 2 on this machine: the data set, the three algorithms and the baseline artifact."""

import hashlib
import tarfile

import numpy as np
import pytest
import xgboost

from handlers import fc_samples
from training import baseline, dataset, local
from training.hyperparameters import RANGES, SENSIBLE, validate


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    files = dataset.build(80_000, seed=3, cache_dir=tmp_path_factory.mktemp("cache"))
    return files, dataset.load(files.train), dataset.load(files.test)


def mean_baseline_rmse(train, test):
    return local.rmse(np.full(len(test[1]), train[1].mean()), test[1])


# --- the data set ---------------------------------------------------------------------------

def test_the_data_set_is_split_three_to_one_headerless_and_label_first(data):
    files, train, test = data
    assert (len(train[1]), len(test[1])) == (60_000, 20_000)
    assert train[0].shape[1] == 12
    first = files.train.read_text().splitlines()[0]
    assert fc_samples.decode(first).duration == train[1][0]
    assert (files.train.name, files.test.name) == ("TrainSamples.csv", "TestSamples.csv")


def test_the_data_set_is_deterministic_and_keyed_by_seed_size_and_generator(tmp_path):
    a = dataset.build(1000, seed=1, cache_dir=tmp_path / "a")
    b = dataset.build(1000, seed=1, cache_dir=tmp_path / "b")
    assert a.train.read_bytes() == b.train.read_bytes()
    assert a.key == b.key and dataset.generator_version() in a.key
    assert dataset.build(1000, seed=2, cache_dir=tmp_path / "a").key != a.key
    assert dataset.build(1001, seed=1, cache_dir=tmp_path / "a").key != a.key


def test_a_cached_data_set_is_not_generated_again(tmp_path, monkeypatch):
    first = dataset.build(1000, seed=1, cache_dir=tmp_path)
    stamp = first.train.stat().st_mtime_ns
    monkeypatch.setattr(fc_samples, "generate", lambda *a: pytest.fail("regenerated"))
    assert dataset.build(1000, seed=1, cache_dir=tmp_path) == first
    assert first.train.stat().st_mtime_ns == stamp


def test_a_csv_with_the_wrong_width_is_rejected(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="expected 13 columns, got 3"):
        dataset.load(bad)


# --- hyperparameters ------------------------------------------------------------------------

def test_the_ranges_are_the_workshops():
    assert RANGES["knn"]["k"] == (int, (50, 150))
    assert RANGES["knn"]["sample_size"] == (int, (50_000, 500_000))
    assert RANGES["linear-learner"]["optimizer"] == (str, ("sgd", "adam"))
    assert RANGES["linear-learner"]["epochs"] == (int, (10, 20))
    assert RANGES["xgboost"]["eta"] == (float, (0.1, 1.0))
    assert RANGES["xgboost"]["max_depth"] == (int, (3, 6))
    for algorithm, hp in SENSIBLE.items():
        assert validate(algorithm, hp) == hp


def test_bad_hyperparameters_are_all_reported():
    with pytest.raises(ValueError) as caught:
        validate("xgboost", {"num_round": 500, "max_depth": 2.5, "eta": "fast", "colour": 1})
    message = str(caught.value)
    for part in ["unknown hyperparameter 'colour'", "missing hyperparameter 'early_stopping_rounds'",
                 "num_round=500 must be between 20 and 200", "max_depth=2.5 must be an integer",
                 "eta='fast' must be a number"]:
        assert part in message
    with pytest.raises(ValueError, match="optimizer='rmsprop' must be one of"):
        validate("linear-learner", {**SENSIBLE["linear-learner"], "optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="unknown algorithm 'svm'"):
        validate("svm", {})


# --- the three algorithms -------------------------------------------------------------------

@pytest.fixture(scope="module")
def models(data):
    _, train, test = data
    hp = {**SENSIBLE, "knn": {**SENSIBLE["knn"], "sample_size": 50_000},
          "xgboost": {**SENSIBLE["xgboost"], "num_round": 100}}
    return {a: local.train(a, hp[a], train, test, seed=1) for a in ("xgboost", "knn",
                                                                    "linear-learner")}


@pytest.mark.parametrize("algorithm", ["xgboost", "knn", "linear-learner"])
def test_each_algorithm_beats_predicting_the_mean(data, models, algorithm):
    _, train, test = data
    model = models[algorithm]
    assert model.test_rmse < 0.8 * mean_baseline_rmse(train, test)
    assert model.test_rmse > fc_samples.NOISE_FLOOR_RMSE * 0.95  # nothing beats the noise


def test_xgboost_comes_closest_to_the_noise_floor(models):
    rmse = {a: m.test_rmse for a, m in models.items()}
    assert rmse["xgboost"] < rmse["linear-learner"] < rmse["knn"]
    assert rmse["xgboost"] < 1.6 * fc_samples.NOISE_FLOOR_RMSE


def test_knn_honours_k_and_sample_size(data):
    _, train, test = data
    model = local.train("knn", {**SENSIBLE["knn"], "k": 60, "sample_size": 50_000}, train, test)
    assert model.details == {"fitted_samples": 50_000, "k": 60}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_linear_learner_honours_optimizer_epochs_and_batch_size(data, optimizer):
    _, train, test = data
    hp = {**SENSIBLE["linear-learner"], "optimizer": optimizer, "epochs": 10,
          "mini_batch_size": 700}
    model = local.train("linear-learner", hp, train, test)
    assert model.details == {"epochs_run": 10, "batch_size": 700, "optimizer": optimizer}
    assert model.test_rmse < 0.6 * mean_baseline_rmse(train, test)


def test_xgboost_stops_early_and_keeps_only_the_chosen_trees(data):
    _, train, test = data
    model = local.train("xgboost", {"num_round": 200, "early_stopping_rounds": 1, "max_depth": 3,
                                    "eta": 1.0}, train, test)
    assert model.details["trees"] < 200
    assert model.booster.num_boosted_rounds() == model.details["trees"]


# --- the baseline artifact ------------------------------------------------------------------

def test_the_pinned_xgboost_writes_models_the_container_reads():
    assert baseline.writes_container_compatible_models()
    assert xgboost.__version__.startswith("3.0.")
    assert baseline.writes_container_compatible_models("1.7.6")
    assert not baseline.writes_container_compatible_models("3.1.0")
    assert not baseline.writes_container_compatible_models("4.0.0")


def test_the_artifact_holds_one_model_file_that_reproduces_the_predictions(models, tmp_path, data):
    _, _, test = data
    archive = baseline.package(models["xgboost"].booster, tmp_path / "model.tar.gz")
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["xgboost-model"]
        tar.extractall(tmp_path / "out", filter="data")
    loaded = xgboost.Booster()
    loaded.load_model(str(tmp_path / "out" / "xgboost-model"))
    expected = models["xgboost"].predict(test[0][:1000])
    np.testing.assert_allclose(loaded.predict(xgboost.DMatrix(test[0][:1000])), expected,
                               rtol=1e-6)


def test_the_same_model_packages_to_the_same_bytes(models, tmp_path):
    first = baseline.package(models["xgboost"].booster, tmp_path / "a.tar.gz")
    second = baseline.package(models["xgboost"].booster, tmp_path / "b.tar.gz")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()


def test_the_baseline_is_built_once_and_cached(data, tmp_path, monkeypatch):
    files, _, _ = data
    archive, report = baseline.build(files, seed=1, cache_dir=tmp_path)
    assert report["algorithm"] == "xgboost" and report["test_rmse"] > 0
    monkeypatch.setattr(local, "train", lambda *a, **k: pytest.fail("trained again"))
    assert baseline.build(files, seed=1, cache_dir=tmp_path) == (archive, report)
