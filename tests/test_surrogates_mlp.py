import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyRegressor

from mslearn import deployment
from mslearn.reconstruction import CropVAE
from mslearn.surrogates import MLPRegressor, StepwiseRegressor, StrainEnergyNetwork


@pytest.fixture(scope="module")
def problem():
    generator = np.random.default_rng(0)
    X = generator.uniform(-1, 1, size=(400, 2))
    y = np.sin(2 * X[:, 0]) * X[:, 1] + 0.5 * X[:, 0] ** 2
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def fitted(problem):
    X, y, _, _ = problem
    return MLPRegressor((32, 32), max_iter=600, patience=60, random_state=0, device="cpu").fit(X, y)


def test_learns_smooth_function_beyond_baseline(problem, fitted):
    _, _, X_test, y_test = problem
    baseline = DummyRegressor().fit(problem[0], problem[1]).score(X_test, y_test)
    assert fitted.score(X_test, y_test) >= 0.97  # held-out R^2; the mean predictor scores ~0
    assert fitted.score(X_test, y_test) - baseline >= 0.9


def test_early_stopping_keeps_best_weights(fitted):
    validation = fitted.history_["validation"]
    assert fitted.best_epoch_ == int(np.argmin(validation))
    assert len(validation) <= 600


def test_same_seed_same_model(problem, fitted):
    X, y, X_test, _ = problem
    again = clone(fitted).fit(X, y)
    np.testing.assert_array_equal(again.predict(X_test), fitted.predict(X_test))


def test_multi_output(problem):
    X, y, X_test, y_test = problem
    Y = np.column_stack([y, -2 * y])
    model = MLPRegressor((32,), max_iter=300, random_state=1, device="cpu").fit(X, Y)
    assert model.predict(X_test).shape == (len(X_test), 2)


def test_save_load_identical_predictions(problem, fitted, tmp_path):
    X_test = problem[2]
    path = deployment.save(fitted, tmp_path / "model", metadata={"features": ["a", "b"]})
    model, record = deployment.load(path), deployment.read_record(path)
    np.testing.assert_array_equal(model.predict(X_test), fitted.predict(X_test))
    assert record["metadata"] == {"features": ["a", "b"]}
    assert record["versions"]["mslearn"] == deployment.environment_versions()["mslearn"]


def test_load_warns_on_version_change(problem, fitted, tmp_path):
    import json

    path = deployment.save(fitted, tmp_path / "model")
    record_path = path.with_suffix(".json")
    record = json.loads(record_path.read_text())
    record["versions"]["numpy"] = "0.0.1"
    record_path.write_text(json.dumps(record))
    with pytest.warns(deployment.VersionMismatchWarning, match="numpy 0.0.1"):
        deployment.load(path)
    with pytest.raises(FileNotFoundError):
        deployment.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="JSON-serializable"):
        deployment.save(fitted, tmp_path / "bad", metadata={"x": object()})


def test_bad_input(problem, fitted):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match="3 features"):
        fitted.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="2D array"):
        MLPRegressor().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="activation"):
        MLPRegressor(activation="sigmoidish", max_iter=1, device="cpu").fit(X, y)
    with pytest.raises(TypeError, match="batch_size must be an integer >= 1, got bool True"):   # was a batch of 1
        MLPRegressor(batch_size=True, max_iter=1, device="cpu").fit(X, y)


def test_predict_tensor_is_predict_and_differentiable():
    import torch

    from mslearn.surrogates import MLPRegressor

    X = np.linspace(0, 1, 50).reshape(-1, 1)
    y = np.column_stack([X[:, 0] ** 2, np.sin(X[:, 0])])
    model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, validation_fraction=0.0, random_state=0,
                         device="cpu").fit(X, y)
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    out = model.predict_tensor(x)
    # the same numbers as predict (the network runs in float32 either way)
    np.testing.assert_allclose(out.detach().numpy(), model.predict(X), rtol=1e-6, atol=1e-6)
    (grad,) = torch.autograd.grad(out[:, 0].sum(), x)
    h = 1e-3
    fd = (model.predict(X + h)[:, 0] - model.predict(X - h)[:, 0]) / (2 * h)
    np.testing.assert_allclose(grad[:, 0].numpy(), fd, atol=1e-3)   # float32 network: 1e-3 is its rounding
    with pytest.raises(ValueError, match=r"expected a torch tensor of shape \(n, 1\)"):
        model.predict_tensor(X)


def test_one_hidden_layer_as_an_int_and_a_negative_weight_decay():
    X = np.random.default_rng(0).random((20, 2))
    model = MLPRegressor(hidden_layer_sizes=4, max_iter=2, device="cpu").fit(X, X.sum(1))   # as scikit-learn reads it
    assert [tuple(p.shape) for p in model.network_.parameters()][:2] == [(4, 2), (4,)]
    with pytest.raises(ValueError, match="weight_decay = -1; expected a number >= 0"):
        MLPRegressor(weight_decay=-1, max_iter=2, device="cpu").fit(X, X.sum(1))      # was torch's message


def test_cpu_threads_is_a_parameter_and_fit_and_predict_restore_torch_threads(problem, torch_thread_calls):
    """MLPRegressor took no cpu_threads= (the CNN, graph and tandem models do): it trained and predicted at
    torch's global setting. Default None keeps that setting (and its numbers); an int is used and restored."""
    import torch

    X, y, X_test, _ = problem
    model = MLPRegressor((8,), max_iter=2, device="cpu", cpu_threads=1)
    assert MLPRegressor().cpu_threads is None and clone(model).get_params()["cpu_threads"] == 1
    before = torch.get_num_threads()
    model.fit(X, y)
    assert torch_thread_calls == [1, before] and torch.get_num_threads() == before
    torch_thread_calls.clear()
    model.predict(X_test)
    assert torch_thread_calls == [1, before] and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="cpu_threads = 0; expected an integer >= 1"):
        clone(model).set_params(cpu_threads=0).fit(X, y)


@pytest.mark.parametrize("make", [
    lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu"),
    StepwiseRegressor, CropVAE, StrainEnergyNetwork], ids=["MLPRegressor", "StepwiseRegressor", "CropVAE",
                                                           "StrainEnergyNetwork"])
def test_a_model_pickled_before_a_parameter_existed_loads_with_its_default(problem, make):
    """``cpu_threads`` was added to these estimators after models of them could be saved; such a model,
    unpickled, had no ``cpu_threads`` attribute, so ``get_params`` and ``clone`` raised AttributeError.
    A parameter missing from a pickle takes its default, the former behaviour."""
    model = make()
    default = model.cpu_threads
    if isinstance(model, MLPRegressor):
        model.fit(problem[0], problem[1])
    state = model.__getstate__()
    del state["cpu_threads"]                          # as pickled before the parameter existed
    old = type(model).__new__(type(model))
    old.__setstate__(state)
    assert old.cpu_threads == default and clone(old).get_params() == clone(model).get_params()
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.get_params()["cpu_threads"] == default
    if isinstance(model, MLPRegressor):
        X = problem[2][:5]
        np.testing.assert_array_equal(old.predict(X), model.predict(X))
