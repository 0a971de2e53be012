"""warm_start on the torch surrogates: fit continues the fitted network (more epochs, fine-tuning).

Checked for each estimator: the continued fit starts where the first one ended (its first epoch's loss is
far below the first fit's first epoch, the same network object is trained, the scaling is kept), a
warm start on an unfitted model is an ordinary fit, and data or settings the network cannot take raise.
"""
import copy

import numpy as np
import pytest
import torch
from scipy import ndimage
from sklearn.exceptions import NotFittedError

from mslearn.datasets.paths import random_walk_paths
from mslearn.surrogates import GNNRegressor, MLPRegressor, RecurrentRegressor, UNetFieldPredictor
from mslearn.surrogates.recurrent import StepwiseRegressor


def _ring(n, width=1):
    return {"node_features": np.linspace(1.0, 2.0, n * width).reshape(n, width),
            "edge_index": np.stack([np.arange(n), (np.arange(n) + 1) % n]), "edge_features": np.ones((n, 1))}


def _mlp():
    X = np.random.default_rng(0).uniform(-1, 1, (80, 2))
    return (MLPRegressor(hidden_layer_sizes=(16,), max_iter=40, device="cpu"), X, X[:, 0] ** 2 + X[:, 1],
            {"hidden_layer_sizes": (8,)}, (X[:, :1], X[:, 0]))


def _recurrent():
    X = random_walk_paths(24, 12, 1, max_increment=0.1, seed=0)
    y = np.maximum.accumulate(np.abs(X), axis=1)
    return (RecurrentRegressor((8,), max_iter=60, learning_rate_init=2e-2, device="cpu"), X, y, {"hidden_layer_sizes": (4,)},
            (X, np.concatenate([y, y], axis=2)))


def _unet():
    images = (np.random.default_rng(0).random((12, 16, 16)) > 0.5).astype(int)
    fields = np.stack([ndimage.uniform_filter(1.0 + i, 3, mode="wrap") for i in images])
    return (UNetFieldPredictor(levels=1, width=4, max_iter=8, device="cpu"), images, fields, {"width": 6},
            (images, np.stack([fields, fields], axis=1)))


def _gnn():
    graphs = [_ring(n) for n in range(3, 19)]
    y = np.array([g["node_features"].mean() * len(g["node_features"]) for g in graphs])
    return (GNNRegressor(hidden=8, max_iter=60, learning_rate_init=1e-2, device="cpu"), graphs, y, {"hidden": 6},
            ([_ring(n, 2) for n in range(3, 19)], y))


CASES = {"mlp": _mlp, "recurrent": _recurrent, "unet": _unet, "gnn": _gnn}


@pytest.mark.parametrize("name", CASES)
def test_warm_start_continues_the_fitted_network(name):
    model, X, y, _, _ = CASES[name]()
    model.fit(X, y)
    first = list(model.history_["train"])
    network, scaling = model.network_, {k: v for k, v in vars(model).items() if k.endswith("_") and "scale" in k}
    before = model.predict(X[:4])
    model.set_params(warm_start=True).fit(X, y)
    assert model.network_ is network                                 # the same network, trained on
    for key, value in scaling.items():
        assert vars(model)[key] is value                             # the scaling of the first fit
    # the continued fit starts where the first one ended: its first epoch keeps at least three quarters of
    # the first fit's gain in training loss (a new network would start near the first fit's first epoch)
    gain = first[0] - min(first)
    assert gain > 0.05 * first[0]
    assert model.history_["train"][0] <= min(first) + 0.25 * gain
    assert not np.allclose(model.predict(X[:4]), before)


@pytest.mark.parametrize("name", CASES)
def test_warm_start_on_an_unfitted_model_is_an_ordinary_fit(name):
    model, X, y, _, _ = CASES[name]()
    cold = model.fit(X, y).predict(X[:4])
    warm = CASES[name]()[0].set_params(warm_start=True).fit(X, y).predict(X[:4])
    np.testing.assert_array_equal(warm, cold)


@pytest.mark.parametrize("name", CASES)
def test_warm_start_refuses_what_the_network_cannot_take(name):
    model, X, y, other_settings, other_data = CASES[name]()
    model.fit(X, y)
    model.set_params(warm_start=True)
    with pytest.raises(ValueError, match="warm_start|features"):
        model.fit(*other_data)
    model.set_params(**other_settings)
    with pytest.raises(ValueError, match="warm_start: the settings describe a network of other layers"):
        model.fit(X, y)




def _failing_step(monkeypatch, error, after):
    """Adam's step raises ``error`` at its ``after``-th call (an interrupt or a crash in mid-training)."""
    calls, step = [0], torch.optim.Adam.step

    def failing(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > after:
            raise error
        return step(self, *args, **kwargs)
    monkeypatch.setattr(torch.optim.Adam, "step", failing)


@pytest.mark.parametrize("name", CASES)
def test_a_failed_continuation_leaves_the_model_as_it_was(name, monkeypatch):
    model, X, y, _, _ = CASES[name]()
    model.fit(X, y)
    before, history, n_iter = model.predict(X[:4]), copy.deepcopy(model.history_), model.n_iter_
    weights = {k: v.clone() for k, v in model.network_.state_dict().items()}
    _failing_step(monkeypatch, RuntimeError("out of memory"), after=3)
    with pytest.raises(RuntimeError, match="out of memory"):
        model.set_params(warm_start=True).fit(X, y)
    monkeypatch.undo()
    for key, value in model.network_.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert model.history_ == history and model.n_iter_ == n_iter
    np.testing.assert_array_equal(model.predict(X[:4]), before)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("error, after", [(RuntimeError("out of memory"), 3), (KeyboardInterrupt(), 0)])
def test_a_failed_fresh_fit_leaves_the_model_as_it_was(name, error, after, monkeypatch):
    """A fresh fit set its scalers and a new network before training, and only a warm start was put back: a
    failed refit (an error, or an interrupt before any finite epoch) left a network that predicted NaN or
    was never trained, and a failed first fit a model that predicted without NotFittedError."""
    model, X, y, _, _ = CASES[name]()
    model.fit(X, y)
    before, attributes = model.predict(X[:4]), dict(vars(model))
    _failing_step(monkeypatch, error, after)
    with pytest.raises(type(error)):
        model.fit(X, 2 * y)
    with pytest.raises(type(error)):
        unfitted = CASES[name]()[0]
        unfitted.fit(X, y)
    monkeypatch.undo()
    assert vars(model).keys() == attributes.keys()
    assert all(vars(model)[key] is value for key, value in attributes.items())
    np.testing.assert_array_equal(model.predict(X[:4]), before)
    with pytest.raises(NotFittedError):
        unfitted.predict(X[:4])


@pytest.mark.parametrize("name", ["mlp", "gnn"])
def test_an_interrupted_fit_keeps_its_best_epoch_and_continues(name, monkeypatch):
    model, X, y, _, _ = CASES[name]()
    full = model.fit(X, y).history_["train"]
    model, X, y, _, _ = CASES[name]()
    _failing_step(monkeypatch, KeyboardInterrupt(), after=5)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    monkeypatch.undo()
    assert 1 <= model.n_iter_ == len(model.history_["train"]) < len(full)
    assert model.history_["train"] == full[:model.n_iter_]          # the same epochs as the uninterrupted fit
    assert np.all(np.isfinite(model.predict(X[:4])))
    model.set_params(warm_start=True).fit(X, y)                       # goes on from the kept epoch
    assert model.history_["train"][0] < full[0]


@pytest.mark.parametrize("make, setting, message", [
    (_unet, {"levels": True}, "levels must be an integer >= 1, got bool True"),
    (_unet, {"width": 4.0}, "width must be an integer >= 1, got float 4.0"),
    (_unet, {"batch_size": True}, "batch_size must be an integer >= 1, got bool True"),
    (_gnn, {"hidden": 8.0}, "hidden must be an integer >= 1, got float 8.0"),
    (_gnn, {"n_rounds": True}, "n_rounds must be an integer >= 0, got bool True"),
])
def test_layer_counts_are_integers_not_bools(make, setting, message):
    # True was read as 1 and a whole float as an int, silently
    model, X, y, *_ = make()
    with pytest.raises(TypeError, match=message):
        model.set_params(**setting).fit(X, y)


def _stepwise():
    X = random_walk_paths(16, 10, 1, max_increment=0.1, seed=0)
    return StepwiseRegressor((8,), max_iter=40, device="cpu"), X, np.maximum.accumulate(np.abs(X), axis=1)


def test_stepwise_warm_start_continues_its_per_step_network():
    model, X, y = _stepwise()
    first = list(model.fit(X, y).regressor_.history_["train"])
    regressor, network, scaler = model.regressor_, model.regressor_.network_, model.regressor_.x_scaler_
    model.set_params(warm_start=True, max_iter=5).fit(X, y)
    assert model.regressor_ is regressor and regressor.network_ is network and regressor.x_scaler_ is scaler
    assert regressor.max_iter == 5 and regressor.n_iter_ <= 5            # the settings of this fit
    gain = first[0] - min(first)
    assert regressor.history_["train"][0] <= min(first) + 0.25 * gain  # goes on where the first fit ended
    cold = StepwiseRegressor((8,), max_iter=40, device="cpu", warm_start=True).fit(X, y)   # unfitted: a plain fit
    np.testing.assert_array_equal(cold.predict(X[:2]), _stepwise()[0].fit(X, y).predict(X[:2]))


def test_an_interrupted_stepwise_fit_keeps_its_best_epoch():
    """An interrupt kept the per-step network's best epoch in the regressor, which StepwiseRegressor then
    dropped (it adopted the regressor only after a finished fit): the model stayed unfitted, unlike the other
    networks. It keeps the epochs so far, and a warm start continues them."""
    model, X, y = _stepwise()
    full = model.fit(X, y).history_["train"]
    model, X, y = _stepwise()
    calls, step = [0], torch.optim.Adam.step

    def interrupted(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > 5:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", interrupted)
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    assert 1 <= model.n_iter_ == len(model.history_["train"]) < len(full)
    assert model.history_["train"] == full[:model.n_iter_]
    assert np.all(np.isfinite(model.predict(X[:2])))
    model.set_params(warm_start=True).fit(X, y)
    assert model.history_["train"][0] < full[0]


def test_stepwise_warm_start_refuses_other_components_and_layers():
    model, X, y = _stepwise()
    model.fit(X, y).set_params(warm_start=True)
    before = model.predict(X[:2])
    with pytest.raises(ValueError, match=r"warm_start: \(strain, stress\) components is \(1, 2\), but the network "
                                         r"was fitted with \(1, 1\)"):
        model.fit(X, np.concatenate([y, y], axis=2))
    with pytest.raises(ValueError, match="warm_start: the settings describe a network of other layers"):
        model.set_params(hidden_layer_sizes=(4,)).fit(X, y)
    np.testing.assert_array_equal(model.predict(X[:2]), before)
    with pytest.raises(TypeError, match="warm_start = 'no'; expected True or False"):
        model.set_params(warm_start="no").fit(X, y)
