"""mslearn.deployment: the training range saved with a model, and the warning on extrapolation.

(Saving, loading and version records of the torch surrogates are tested with each surrogate; model
cards with the shared datasets, tests/test_datasets_sharing.py.)
"""
import copy
import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from mslearn import deployment


@pytest.fixture
def fitted():
    X = pd.DataFrame({"volume_fraction": [0.1, 0.3, 0.5, 0.2], "log10_contrast": [-1.0, 0.5, 2.0, 1.0]})
    y = 3 * X["volume_fraction"] + X["log10_contrast"]
    return X, LinearRegression().fit(X.to_numpy(), y.to_numpy())


def _caught(function, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args)
    return result, [w for w in caught if issubclass(w.category, deployment.ExtrapolationWarning)]


def test_save_records_the_training_range_and_load_guards_the_model(fitted, tmp_path):
    X, model = fitted
    path = deployment.save(model, tmp_path / "model", metadata={"target": "k"}, training_data=X)
    record = deployment.read_record(path)
    assert record["metadata"] == {"target": "k"}
    assert record["training_range"]["n_samples"] == 4
    assert record["training_range"]["features"]["log10_contrast"]["max"] == 2.0
    assert record["training_range"]["features"]["volume_fraction"]["min"] == 0.1

    loaded = deployment.load(path)
    assert isinstance(loaded, deployment.GuardedModel)
    inside = np.array([[0.2, 0.0], [0.5, 2.0], [0.1, -1.0]])    # the limits themselves are inside
    prediction, caught = _caught(loaded.predict, inside)
    np.testing.assert_array_equal(prediction, model.predict(inside))
    assert not caught

    outside = np.array([[0.2, 0.0], [0.6, 3.0], [0.05, 1.0]])
    prediction, caught = _caught(loaded.predict, outside)
    np.testing.assert_array_equal(prediction, model.predict(outside))   # it warns, it does not change
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("2 of 3 inputs lie outside the training range")
    for text in ("volume_fraction 0.05 < min 0.1", "volume_fraction 0.6 > max 0.5", "log10_contrast 3 > max 2"):
        assert text in message
    np.testing.assert_array_equal(loaded.outside(outside), [False, True, True])
    np.testing.assert_array_equal(deployment.outside_training_range(record, outside), [False, True, True])
    # everything else is the wrapped model's
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.score(X.to_numpy(), model.predict(X.to_numpy())) == pytest.approx(1.0)


def test_a_model_without_a_range_loads_bare_and_a_card_guards_it(fitted, tmp_path):
    X, model = fitted
    bare = deployment.load(deployment.save(model, tmp_path / "bare"))
    assert type(bare) is LinearRegression                       # nothing recorded, nothing changed
    card = deployment.model_card(model, training_data=X, metrics={"r2": 1.0}, intended_use="toy")
    loaded = deployment.load(deployment.save(model, tmp_path / "carded", card=card))
    assert isinstance(loaded, deployment.GuardedModel)
    _, caught = _caught(loaded.predict, [[0.9, 0.0]])
    assert len(caught) == 1 and "volume_fraction 0.9 > max 0.5" in str(caught[0].message)
    images = deployment.model_card(model, training_data=np.zeros((3, 4, 4)), metrics={"r2": 1.0},
                                   intended_use="images")
    assert type(deployment.load(deployment.save(model, tmp_path / "images", card=images))) is LinearRegression


def test_a_guarded_model_saves_pickles_and_copies(fitted, tmp_path):
    X, model = fitted
    loaded = deployment.load(deployment.save(model, tmp_path / "model", training_data=X.to_numpy(),
                                             feature_names=["phi", "c"]))
    assert list(loaded.training_range["features"]) == ["phi", "c"]
    again = deployment.load(deployment.save(loaded, tmp_path / "again"))   # the bare model is saved
    assert type(again) is LinearRegression
    assert json.loads((tmp_path / "again.json").read_text())["model"].endswith("LinearRegression")
    for clone in (pickle.loads(pickle.dumps(loaded)), copy.deepcopy(loaded)):
        _, caught = _caught(clone.predict, [[0.0, 0.0]])
        assert len(caught) == 1 and "phi 0 < min 0.1" in str(caught[0].message)


def test_a_guarded_model_is_not_refitted_or_cloned_but_points_to_its_model(fitted, tmp_path):
    """The guard passed get_params and fit on to the model: clone gave a TypeError about an unexpected keyword,
    cross_val_score an AttributeError about __sklearn_tags__, and fit refitted the model under the first
    model's training range. Both now say to use guarded.model; its card records the model it guards."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, model = fitted
    loaded = deployment.load(deployment.save(model, tmp_path / "m", training_data=X))
    y = model.predict(X.to_numpy())
    with pytest.raises(TypeError, match="a GuardedModel is not cloned: .*clone, refit or cross-validate "
                                        "guarded.model"):
        clone(loaded)
    for name in ("get_params", "set_params", "partial_fit"):
        with pytest.raises(AttributeError, match=f"GuardedModel has no {name}: .*guarded.model"):
            getattr(loaded, name)
    with pytest.raises(TypeError, match="a GuardedModel is not refitted: .*guarded.model"):
        loaded.fit(X.to_numpy(), y)
    with pytest.raises(TypeError, match="a GuardedModel is not cloned"):
        cross_val_score(loaded, X.to_numpy(), y, cv=2)
    # tools that only read a fitted estimator take the guard (they need a fit method, and took it before)
    from sklearn.inspection import permutation_importance
    importances = permutation_importance(loaded, X.to_numpy(), y, n_repeats=2, random_state=0).importances_mean
    np.testing.assert_allclose(importances, permutation_importance(model, X.to_numpy(), y, n_repeats=2,
                                                                   random_state=0).importances_mean)
    assert cross_val_score(loaded.model, X.to_numpy(), y, cv=2).shape == (2,)
    card = deployment.model_card(loaded, training_data=X, metrics={"r2": 1.0}, intended_use="toy")
    assert card["model"]["class"].endswith("LinearRegression") and "hyper_parameters" in card["model"]


def test_a_guarded_model_passes_further_arguments_to_predict(tmp_path):
    """A hyperelastic surrogate predicts per loading mode, ``predict(X, mode=None)``: the guard took X alone
    (a TypeError for ``mode=``); it checks X and passes the rest on."""
    from mslearn.surrogates import MooneyRivlin, load_treloar

    table = load_treloar()
    model = MooneyRivlin().fit(table.stretch, table.nominal_stress_MPa, mode=table["mode"])
    loaded = deployment.load(deployment.save(model, tmp_path / "mooney", training_data=table.stretch.to_numpy(),
                                             feature_names=["stretch"]))
    assert isinstance(loaded, deployment.GuardedModel)
    stretch = np.array([1.0, 2.5, 4.4])                                  # trained on 1 .. 7.2487
    for mode in ("uniaxial", "equibiaxial", "pure_shear"):
        prediction, caught = _caught(lambda x: loaded.predict(x, mode=mode), stretch)
        np.testing.assert_array_equal(prediction, model.predict(stretch, mode=mode))
        assert not caught
    positional, _ = _caught(loaded.predict, stretch, "equibiaxial")
    np.testing.assert_array_equal(positional, model.predict(stretch, mode="equibiaxial"))
    per_stretch = ["uniaxial", "equibiaxial", "pure_shear"]
    np.testing.assert_array_equal(loaded.predict(stretch, mode=per_stretch), model.predict(stretch, mode=per_stretch))
    prediction, caught = _caught(lambda x: loaded.predict(x, mode="equibiaxial"), np.array([2.0, 9.0]))
    np.testing.assert_array_equal(prediction, model.predict(np.array([2.0, 9.0]), mode="equibiaxial"))
    assert len(caught) == 1
    assert str(caught[0].message) == ("1 of 2 inputs lie outside the training range (extrapolation): "
                                      "stretch 9 > max 7.249")
    with pytest.raises(ValueError, match="fitted on the modes"):         # the model's own error, passed on
        loaded.predict(stretch)


def test_training_range_rejects_bad_input(fitted, tmp_path):
    X, model = fitted
    with pytest.raises(ValueError, match="more than two axes"):
        deployment.save(model, tmp_path / "m", training_data=np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="pass training_data"):
        deployment.save(model, tmp_path / "m", feature_names=["a", "b"])
    with pytest.raises(ValueError, match="feature_names"):
        deployment.save(model, tmp_path / "m", training_data=X, feature_names=["a"])
    with pytest.raises(ValueError, match="NaN"):
        deployment.save(model, tmp_path / "m", training_data=[[np.nan, 1.0]])
    with pytest.raises(ValueError, match="min"):
        deployment.GuardedModel(model, {"features": {"a": {"mean": 0.0}}})
    with pytest.raises(ValueError, match="predict"):
        deployment.GuardedModel(object(), {"features": {"a": {"min": 0.0, "max": 1.0}}})
    guarded = deployment.GuardedModel(model, deployment.read_record(
        deployment.save(model, tmp_path / "ok", training_data=X))["training_range"])
    with pytest.raises(ValueError, match="shape"):
        guarded.predict(np.zeros((2, 3)))


def test_saving_without_a_card_removes_the_card_of_the_model_saved_there_before(fitted, tmp_path):
    X, model = fitted
    card = deployment.model_card(model, training_data=X, metrics={"r2": 1.0}, intended_use="toy")
    deployment.save(model, tmp_path / "m", card=card)
    other = LinearRegression().fit(np.array([[5.0, 5.0], [6.0, 7.0], [7.0, 5.0]]), np.array([1.0, 2.0, 3.0]))
    deployment.save(other, tmp_path / "m")
    # the first model's card would describe, and guard, the second
    assert not (tmp_path / "m.card.json").exists() and not (tmp_path / "m.card.md").exists()
    assert type(deployment.load(tmp_path / "m")) is LinearRegression


def test_save_replaces_a_saved_model_but_never_a_file_it_did_not_write(fitted, tmp_path):
    """save wrote path.json, path.pkl and the card files over whatever was there (a user's results.json was
    lost) and removed card files it had not written; it now refuses, naming the file, and writes nothing."""
    X, model = fitted
    card = deployment.model_card(model, training_data=X, metrics={"r2": 1.0}, intended_use="toy")
    deployment.save(model, tmp_path / "m", card=card)
    deployment.save(model, tmp_path / "m", card=card)                 # re-saving a saved model: the workflow
    deployment.save(model, tmp_path / "m")
    (tmp_path / "results.json").write_text('{"my": "precious data"}')
    (tmp_path / "bare.pkl").write_bytes(b"a model saved otherwise")
    for name in ("card_json", "card_md"):
        deployment.save(model, tmp_path / name)
    (tmp_path / "card_json.card.json").write_text("[1, 2]")
    (tmp_path / "card_md.card.md").write_text("my notes")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    for target, file, why in [("results", "results.json", "is not a model's record"),
                              ("results.json", "results.json", "is not a model's record"),
                              ("bare", "bare.pkl", "has no record bare.json beside it"),
                              ("card_json", "card_json.card.json", "is not a model card"),
                              ("card_md", "card_md.card.md", "is not a model card")]:
        for given in (None, card):
            with pytest.raises(ValueError, match=f"{file} exists and {why}.*save does not overwrite or remove a "
                                                 "file it did not write"):
                deployment.save(model, tmp_path / target, card=given)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_save_checks_training_data_against_the_models_inputs(fitted, tmp_path):
    X, model = fitted
    with pytest.raises(ValueError, match="training_data has 1 columns but the model was fitted on 2 inputs"):
        deployment.save(model, tmp_path / "m", training_data=X.to_numpy()[:, :1])


def test_a_table_is_read_by_its_column_names_and_nan_is_refused(fitted):
    X, model = fitted
    card = deployment.model_card(model, training_data=X, metrics={"r2": 1.0}, intended_use="test")
    swapped = pd.DataFrame({"log10_contrast": [0.5], "volume_fraction": [0.3]})     # inside, in the other order
    assert deployment.outside_training_range(card, swapped).tolist() == [False]      # was [True], by position
    with pytest.raises(ValueError, match=r"missing \['volume_fraction', 'log10_contrast'\]"):
        deployment.outside_training_range(card, pd.DataFrame({"x": [0.3], "y": [0.5]}))
    with pytest.raises(ValueError, match="X contains NaN or an infinite value"):
        deployment.outside_training_range(card, np.array([[np.nan, 0.5]]))           # was inside


def test_corrupt_files_and_bad_metadata_are_named(fitted, tmp_path):
    X, model = fitted
    path = deployment.save(model, tmp_path / "m.pkl")
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="cannot be read .*corrupt, or not saved by mslearn.deployment.save"):
        deployment.load(path)                                            # was pickle's own message
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        deployment.read_record(path)
    with pytest.raises(TypeError, match="metadata is a str; expected a dict"):
        deployment.save(model, tmp_path / "n.pkl", metadata="abc")
    with pytest.raises(ValueError, match="finite numbers"):
        deployment.save(model, tmp_path / "o.pkl", metadata={"x": float("nan")})   # was written as invalid JSON
    with pytest.raises(Exception):
        deployment.save(lambda x: x, tmp_path / "lam.pkl")
    with pytest.raises(ValueError, match=r"is a folder; expected the model's file name without suffix, e\.g\."):
        deployment.save(model, tmp_path)                                 # was written as <folder>.pkl beside it
    with pytest.raises(ValueError, match="model is an unfitted LinearRegression; expected a fitted estimator"):
        deployment.save(LinearRegression(), tmp_path / "unfitted")
    assert not list(tmp_path.glob("*.mslearn-tmp"))                          # nothing half-written left behind
