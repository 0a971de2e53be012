"""scikit-learn compliance of every estimator of mslearn (issue #14).

``parametrize_with_checks`` runs scikit-learn's own estimator checks. Those checks feed 2D feature
matrices ``(n_samples, n_features)``; the image estimators (CNN, U-Net, crop VAE) read phase-label
images and the GNN reads lists of graphs, so the checks that need such data are expected to fail,
each with its reason below. What those checks test (fit returns self, parameters untouched, fit
twice starts afresh, pickling, seeding, Pipeline, cross-validation) is tested for every estimator,
with its own kind of data, by the tests after them.

Estimators are small (a few epochs, a few channels) so that the whole file runs in well under a
minute on two CPU cores.
"""
import pickle

import joblib
import numpy as np
import pytest
import torch
from scipy import ndimage
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mslearn.reconstruction import CropVAE
from mslearn.surrogates import CNNRegressor, GNNRegressor, MLPRegressor, UNetFieldPredictor


def _small_estimators():
    return [
        MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, device="cpu"),
        CNNRegressor(channels=(4,), max_iter=2, device="cpu", cpu_threads=1),
        GNNRegressor(hidden=4, n_rounds=1, max_iter=2, device="cpu"),
        UNetFieldPredictor(levels=1, width=2, max_iter=2, device="cpu"),
        CropVAE(crop=8, channels=4, max_iter=2, batch_size=2, device="cpu"),
    ]


# -- scikit-learn's estimator checks ---------------------------------------------------------------
_IMAGES = ("scikit-learn's check feeds a 2D feature matrix (n_samples, n_features), but {name} reads "
           "{data}, so the input is rejected as not being such data before the check reaches what it tests.")
# checks that fit or predict on scikit-learn's 2D feature matrices
_DATA_CHECKS = (
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
    "check_estimators_nan_inf", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
)
_SPARSE_CHECKS = ("check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimator_sparse_tag")
_REGRESSOR_CHECKS = (
    "check_non_transformer_estimators_n_iter", "check_regressor_data_not_an_array", "check_regressor_multioutput",
    "check_regressors_int", "check_regressors_no_decision_function", "check_regressors_train",
    "check_requires_y_none", "check_supervised_y_2d",
)
_GRAPH_ONLY_CHECKS = ("check_fit1d", "check_supervised_y_no_nan")


def _expected_failed_checks(estimator):
    name = type(estimator).__name__
    if isinstance(estimator, MLPRegressor):
        return {}
    if isinstance(estimator, GNNRegressor):
        data = "a list of graph dicts (node_features, edge_index, edge_features)"
    elif isinstance(estimator, CropVAE):
        data = "two-phase label images (H, W) or (n, H, W) with the labels 0 and 1"
    else:
        data = "integer phase-label images (n_samples, *spatial)"
    reason = _IMAGES.format(name=name, data=data)
    sparse = (f"scikit-learn's check expects a sparse feature matrix to be rejected with a message about "
              f"sparsity, but {name} reads {data} and rejects it as not being such data.")
    failed = {check: reason for check in _DATA_CHECKS}
    failed.update({check: sparse for check in _SPARSE_CHECKS})
    if not isinstance(estimator, CropVAE):        # the VAE is not a regressor: these checks do not run
        failed.update({check: reason for check in _REGRESSOR_CHECKS})
    if isinstance(estimator, GNNRegressor):       # a 1D array or a NaN target: rejected as not graphs first
        failed.update({check: reason for check in _GRAPH_ONLY_CHECKS})
    return failed


@parametrize_with_checks(_small_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- the same properties, with each estimator's own data -------------------------------------------
def _ring(n):
    return np.stack([np.arange(n), (np.arange(n) + 1) % n])


def _case(name):
    """(estimator, X, y, predict) at small sizes; ``predict(estimator, X)`` returns an array."""
    g = np.random.default_rng(0)
    predict = lambda estimator, X: estimator.predict(X)  # noqa: E731
    if name == "mlp":
        X = g.uniform(-1, 1, (60, 3))
        return MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, device="cpu"), X, X[:, 0] - X[:, 1] ** 2, predict
    if name == "cnn":
        images = g.integers(0, 2, (24, 8, 8))
        K = (1 + 9 * images.mean((1, 2)))[:, None, None] * np.eye(2)
        return CNNRegressor(channels=(4, 4), max_iter=2, device="cpu", cpu_threads=1), images, K, predict
    if name == "gnn":
        graphs = [{"node_features": g.random((n, 2)), "edge_index": _ring(n), "edge_features": g.random((n, 1))}
                  for n in range(3, 27)]
        y = np.array([graph["node_features"].sum() for graph in graphs])
        return GNNRegressor(hidden=4, n_rounds=1, max_iter=3, device="cpu"), graphs, y, predict
    if name == "unet":
        images = (g.random((24, 8, 8)) > 0.5).astype(int)
        fields = np.stack([ndimage.uniform_filter(1.0 + image, 3, mode="wrap") for image in images])
        return UNetFieldPredictor(levels=1, width=2, augment="flips", max_iter=2, device="cpu"), images, fields, predict
    if name == "vae":
        stripes = (np.add.outer(np.arange(16), np.arange(16)) % 6 < 3).astype(int)
        images = np.stack([np.roll(stripes, shift, axis=0) for shift in range(6)])
        vae = CropVAE(crop=8, channels=4, max_iter=3, batch_size=4, device="cpu")
        return vae, images, None, lambda estimator, X: estimator.sample(2, size=8, random_state=0)
    raise AssertionError(name)


CASES = ["mlp", "cnn", "gnn", "unet", "vae"]


def _subset(X, rows):
    return [X[i] for i in rows] if isinstance(X, list) else X[rows]


@pytest.mark.parametrize("name", CASES)
def test_sklearn_parameter_names(name):
    """scikit-learn's names where the meaning is the same, and device="auto" by default."""
    params = _case(name)[0].get_params()
    assert {"random_state", "max_iter", "learning_rate_init", "batch_size", "device"} <= set(params)
    assert not {"seed", "max_epochs", "learning_rate", "lr", "steps", "hidden_layers"} & set(params)
    assert type(_case(name)[0])().get_params()["device"] == "auto"


@pytest.mark.parametrize("name", CASES)
def test_fit_leaves_torch_and_numpy_random_state_alone(name):
    estimator, X, y, predict = _case(name)
    torch.manual_seed(1234)
    torch.rand(3)
    np.random.seed(5)
    seed, state, numpy_state = torch.initial_seed(), torch.get_rng_state(), np.random.get_state()
    first = predict(estimator.fit(X, y), X)
    assert torch.initial_seed() == seed and torch.equal(torch.get_rng_state(), state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    torch.manual_seed(999)            # another global state: random_state alone decides the model
    np.testing.assert_array_equal(predict(clone(estimator).fit(X, y), X), first)


@pytest.mark.parametrize("name", CASES)
def test_fit_twice_starts_afresh_and_returns_self(name):
    estimator, X, y, predict = _case(name)
    params = joblib.hash(estimator.get_params())
    other = _subset(X, list(range(len(X)))[::-1][:len(X) // 2 + 4])
    other_y = None if y is None else _subset(y, list(range(len(X)))[::-1][:len(X) // 2 + 4])
    assert estimator.fit(other, other_y) is estimator
    again = estimator.fit(X, y)
    fresh = clone(estimator).fit(X, y)
    np.testing.assert_array_equal(predict(again, X), predict(fresh, X))
    assert joblib.hash(estimator.get_params()) == params             # fit does not change parameters
    assert 1 <= estimator.n_iter_ <= estimator.max_iter
    keys = set(vars(estimator))
    predict(estimator, X)
    assert set(vars(estimator)) == keys                                 # predict adds no state


@pytest.mark.parametrize("name", CASES)
def test_pickle_round_trip_predicts_identically(name):
    estimator, X, y, predict = _case(name)
    estimator.fit(X, y)
    np.testing.assert_array_equal(predict(pickle.loads(pickle.dumps(estimator)), X), predict(estimator, X))


def _vae_score(estimator, X, y=None):
    """Negative volume-fraction error of generated images against the held-out images."""
    return -abs(float(estimator[-1].sample(4, size=8, random_state=0).mean()) - float(np.mean(X)))


@pytest.mark.parametrize("name", CASES)
def test_runs_inside_pipeline_and_cross_val_score(name):
    estimator, X, y, predict = _case(name)
    first = ("scale", StandardScaler()) if name == "mlp" else ("identity", FunctionTransformer())
    pipeline = Pipeline([first, ("model", estimator)])
    pipeline.fit(X, y)
    if name != "vae":
        np.testing.assert_array_equal(pipeline.predict(X), clone(estimator).fit(pipeline[0].transform(X), y).predict(
            pipeline[0].transform(X)))
    scores = cross_val_score(pipeline, X, y, cv=KFold(3 if name != "vae" else 2),
                             scoring=_vae_score if name == "vae" else None)
    assert scores.shape == (3 if name != "vae" else 2,) and np.all(np.isfinite(scores))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("setting, match", [
    ({"random_state": None}, "random_state"),
    ({"max_iter": 0}, "max_iter"),
    ({"learning_rate_init": -1.0}, "learning_rate_init"),
])
def test_bad_settings_raise_at_fit_with_their_name(name, setting, match):
    estimator, X, y, _ = _case(name)
    estimator.set_params(**setting)          # set_params only stores, as scikit-learn requires
    with pytest.raises(ValueError, match=match):
        estimator.fit(X, y)
