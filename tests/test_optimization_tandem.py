"""Tandem inverse design (issue #16, part 5) on the spinodoid data of Kumar et al. (2020).

The spinodoid tests use a reduced, fast run: 3,000 of the 21,300 designs (2,700 for training, 300
held out), the forward network for up to 100 epochs and the inverse for 60 (about 4 s on one core).
The full run (all data, 90/10 split, the defaults) reaches a forward R² of 0.996-0.997 and a
round-trip R² of 0.999 on every stiffness component; the reduced run reaches 0.997 and 0.996-0.999.
"""
import pickle
import types
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mslearn.datasets import spinodoid_metamaterials
from mslearn.optimization.tandem import (DirectInverseDesign, ExtrapolationWarning, InverseDesignScores,
                                         TandemInverseDesign, inverse_design_scores)

SEMI = {"theta_x": 15.0, "theta_y": 15.0, "theta_z": 15.0}


@pytest.fixture(scope="module")
def data():
    ds = spinodoid_metamaterials(3000, seed=0)
    split = ds.split((0.9, 0.0, 0.1), seed=0)
    train, test = split["train"], split["test"]
    return ds.parameters.iloc[train], ds.targets.iloc[train], ds.parameters.iloc[test], ds.targets.iloc[test]


@pytest.fixture(scope="module")
def tandem(data):
    designs, properties, _, _ = data
    return TandemInverseDesign(semicontinuous=SEMI, max_iter=60, forward_max_iter=100, random_state=0,
                               device="cpu").fit(designs, properties)


@pytest.fixture(scope="module")
def scores(tandem, data):
    _, _, designs, properties = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)   # held-out targets lie inside the training range
        return inverse_design_scores(tandem, designs, properties)


def test_forward_network_fits_every_stiffness_component(scores):
    assert isinstance(scores, InverseDesignScores)
    # issue target: forward R² >= 0.99 on every component of held-out designs (reduced run: 0.997;
    # the realizations' scatter caps it near 0.997 even with all the data)
    assert scores.forward_r2.shape == (9,) and scores.forward_r2.min() >= 0.99


def test_round_trip_reaches_held_out_targets(scores):
    # issue target: round-trip R² (target vs forward(inverse(target))) >= 0.99 on every component of
    # held-out targets (reduced run: 0.996-0.999; full run 0.999)
    assert scores.round_trip_r2.min() >= 0.99
    # the typical target is met within a few per cent (reduced run: median 2.8 %)
    assert np.median(scores.relative_error) < 0.05


def test_designs_are_feasible(tandem, scores, data):
    z = scores.designs
    assert z.shape == (300, 4)
    assert np.all((z[:, 0] >= 0.3 - 1e-6) & (z[:, 0] <= 0.9 + 1e-6))          # the data's volume fractions
    angles = z[:, 1:]
    assert np.all((angles == 0) | ((angles >= 15.0 - 1e-4) & (angles <= 90.0 + 1e-4)))  # 0 or 15-90 degrees
    assert np.all((angles > 0).any(axis=1))                                   # at least one cone
    assert tandem.at_least_one_on_ and tandem.semicontinuous_ == {1: 15.0, 2: 15.0, 3: 15.0}
    # the volume fraction is unique (design R² ~1); the angles are not (several designs, one stiffness)
    assert scores.design_r2[0] > 0.99 and scores.design_r2[1:].max() < 0.9


def test_direct_inverse_recovers_the_volume_fraction_but_not_the_angles(tandem, data):
    designs, properties, test_designs, test_properties = data
    direct = DirectInverseDesign(semicontinuous=SEMI, max_iter=60, random_state=0, device="cpu")
    direct.fit(designs, properties)
    s = inverse_design_scores(direct, test_designs, test_properties, forward=tandem)
    z = s.designs
    assert np.all((z[:, 1:] == 0) | (z[:, 1:] >= 15.0 - 1e-4)) and np.all((z[:, 1:] > 0).any(axis=1))
    # reduced run: design R² 0.998 (volume fraction) and 0.68-0.75 (angles); full run 0.78-0.81
    assert s.design_r2[0] > 0.99 and s.design_r2[1:].max() < 0.9
    with pytest.raises(ValueError, match="forward model"):
        inverse_design_scores(direct, test_designs, test_properties)


def test_non_unique_inverse_defeats_the_direct_inverse_but_not_the_tandem():
    """y = z², z in [-1, 1]: two designs per target. Regressing z on y returns their mean, ~0, which
    misses every target; the tandem picks a branch and meets them."""
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (600, 1))
    z_test = rng.uniform(-1, 1, (200, 1))
    options = dict(batch_size=100, random_state=0, device="cpu")
    tandem = TandemInverseDesign((32, 32), (32, 32), max_iter=80, forward_max_iter=150, **options).fit(z, z ** 2)
    direct = DirectInverseDesign((32, 32), max_iter=150, **options).fit(z, z ** 2)
    good = inverse_design_scores(tandem, z_test, z_test ** 2)
    bad = inverse_design_scores(direct, z_test, z_test ** 2, forward=tandem)
    # measured: tandem round trip 0.999 with design R² < 0 (the other branch); direct round trip < -1
    assert good.round_trip_r2[0] > 0.98 and good.design_r2[0] < 0.5
    assert bad.round_trip_r2[0] < 0.5
    np.testing.assert_allclose(good.round_trip, good.designs ** 2, atol=0.05)   # the forward network is right


def test_the_same_random_state_gives_the_same_model(data):
    designs, properties, _, test_properties = data
    options = dict(hidden_layer_sizes=(16,), forward_hidden_layer_sizes=(16,), semicontinuous=SEMI, max_iter=3,
                   forward_max_iter=3, device="cpu")
    first = TandemInverseDesign(random_state=1, **options).fit(designs[:500], properties[:500])
    second = TandemInverseDesign(random_state=1, **options).fit(designs[:500], properties[:500])
    other = TandemInverseDesign(random_state=2, **options).fit(designs[:500], properties[:500])
    targets = test_properties.to_numpy()[:20]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)   # a 500-design subset has a narrower range
        np.testing.assert_array_equal(first.predict(targets), second.predict(targets))
        assert not np.array_equal(first.predict(targets), other.predict(targets))
        # clone: the same parameters, unfitted; pickling keeps the fitted networks
        assert clone(first).get_params() == first.get_params()
        restored = pickle.loads(pickle.dumps(first))
        np.testing.assert_array_equal(restored.predict(targets), first.predict(targets))
        np.testing.assert_array_equal(restored.forward_predict(first.predict(targets)),
                                      first.forward_predict(first.predict(targets)))


def test_targets_outside_the_training_range_warn(tandem, data):
    _, properties, _, test_properties = data
    inside = test_properties.to_numpy()[:5]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        tandem.predict(properties.to_numpy()[:5])       # training targets: never an extrapolation
    too_stiff = inside * 2.0                            # twice the stiffness: beyond the densest design
    with pytest.warns(ExtrapolationWarning, match="outside the range"):
        z = tandem.predict(too_stiff)
    assert np.all(z[:, 0] <= 0.9 + 1e-6)                # still a feasible design
    gap = np.array([[0.5, 7.0, 0.0, 30.0]])             # an angle of 7 degrees: not in the design space
    with pytest.warns(ExtrapolationWarning, match="outside the design space"):
        tandem.forward_predict(gap)


def test_one_property_may_be_a_vector():
    """As scikit-learn's y: properties (n,) are one column, in fit, predict and the scores; the same model."""
    z = np.random.default_rng(1).uniform(0, 1, (60, 2))
    y = z.sum(1)
    options = dict(max_iter=5, batch_size=20, random_state=0, device="cpu")
    for make in (lambda: DirectInverseDesign((8,), **options),
                 lambda: TandemInverseDesign((8,), (8,), forward_max_iter=5, **options)):
        column, vector = make().fit(z, y[:, None]), make().fit(z, y)
        assert vector.n_properties_ == 1
        np.testing.assert_array_equal(vector.predict(y[:5]), column.predict(y[:5, None]))
        np.testing.assert_array_equal(vector.predict(y[:5, None]), column.predict(y[:5, None]))
    scores = inverse_design_scores(vector, z[:10], y[:10])
    assert scores.round_trip.shape == (10, 1)
    # a judge's complex properties were cast to float, the imaginary part dropped; one of another size failed
    # in numpy's reshape
    complex_judge = types.SimpleNamespace(predict=lambda X: np.asarray(X).sum(1) + 1j)
    with pytest.raises(TypeError, match="the forward model's properties of the proposed designs has the complex"):
        inverse_design_scores(vector, z[:10], y[:10], forward=complex_judge)
    wide_judge = types.SimpleNamespace(predict=lambda X: np.column_stack([np.asarray(X).sum(1)] * 2))
    with pytest.raises(ValueError, match=r"properties of the proposed designs have shape \(10, 2\); expected "
                                         r"\(10, 1\), those of properties"):
        inverse_design_scores(vector, z[:10], y[:10], forward=wide_judge)
    with pytest.raises(ValueError, match="2D array"):
        DirectInverseDesign((8,), **options).fit(z[:, 0], y)                  # designs stay a table


@pytest.mark.parametrize("bad, match", [
    (np.full((2, 9), np.nan), "NaN"),
    (np.ones((2, 8)), "8 columns; expected 9"),
    (np.ones(9), "2D array"),
    (np.ones((0, 9)), r"no rows; expected at least one sample"),     # named StandardScaler's 0-sample error
])
def test_bad_targets_raise(tandem, bad, match):
    with pytest.raises(ValueError, match=match):
        tandem.predict(bad)


def test_complex_input_is_refused(tandem, data):
    """Complex targets or designs were cut to their real part with only a numpy ComplexWarning."""
    designs, properties, _, _ = data
    with pytest.raises(TypeError, match="properties has the complex dtype complex128; expected real numbers"):
        tandem.predict(properties.to_numpy()[:2] + 1j)
    with pytest.raises(TypeError, match="designs has the complex dtype complex128"):
        tandem.forward_predict(designs.astype(complex))
    with pytest.raises(TypeError, match="designs has the complex dtype complex128"):
        TandemInverseDesign(max_iter=1, forward_max_iter=1, device="cpu").fit(designs.to_numpy() + 0j, properties)


def test_bad_fit_input_raises(data):
    designs, properties, _, _ = data
    model = TandemInverseDesign(max_iter=1, forward_max_iter=1, device="cpu")
    broken = properties.to_numpy().copy()
    broken[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(designs, broken)
    with pytest.raises(ValueError):
        model.fit(designs.to_numpy()[:100], properties.to_numpy()[:99])          # not pairs
    with pytest.raises(ValueError, match="strictly between 0"):
        gap = designs.to_numpy().copy()
        gap[0, 1] = 5.0                                                          # contradicts the 15-degree minimum
        TandemInverseDesign(semicontinuous={1: 15.0}, max_iter=1, forward_max_iter=1).fit(gap, properties)
    with pytest.raises(ValueError, match="column"):
        TandemInverseDesign(semicontinuous={"theta_w": 15.0}, max_iter=1, forward_max_iter=1).fit(designs, properties)
    with pytest.raises(TypeError, match=r"design_bounds is a list; expected None or a dict"):
        # dict([(0, 1), (0, 1)]) would have read the pairs as {0: 1}
        TandemInverseDesign(design_bounds=[(0, 1), (0, 1)], max_iter=1, forward_max_iter=1).fit(designs, properties)
    for bounds in ((0, 1, 2), 0.5):                  # were "too many values to unpack" and "not iterable"
        with pytest.raises(ValueError, match=r"design_bounds\[0\] = .*; expected \(low, high\) with low < high"):
            TandemInverseDesign(design_bounds={0: bounds}, max_iter=1, forward_max_iter=1).fit(designs, properties)
    with pytest.raises(ValueError, match="forward_max_iter"):
        TandemInverseDesign(forward_max_iter=0).fit(designs, properties)
    with pytest.raises(ValueError, match="max_iter"):
        TandemInverseDesign(max_iter=0).fit(designs, properties)


# -- warm_start: continue the fitted networks ------------------------------------------------------------
def _small_problem():
    z = np.random.default_rng(0).uniform(0, 1, (200, 3))
    z[:, 2] = np.where(z[:, 2] < 0.3, 0.0, z[:, 2])                              # semicontinuous, minimum 0.3
    return z, np.column_stack([z.sum(1), z[:, 0] - z[:, 1]])


def _tandem(**options):
    settings = dict(hidden_layer_sizes=(16,), forward_hidden_layer_sizes=(16,), semicontinuous={2: 0.3}, max_iter=30,
                    forward_max_iter=30, batch_size=50, device="cpu")
    return TandemInverseDesign(**{**settings, **options})


def _weights(network):
    return {key: value.clone() for key, value in network.state_dict().items()}


def _same_weights(network, weights):
    return all(torch.equal(value, weights[key]) for key, value in network.state_dict().items())


def test_tandem_warm_start_continues_both_networks_stage_by_stage():
    z, y = _small_problem()
    model = _tandem().fit(z, y)
    forward, inverse = model.forward_, model.network_
    first_forward, first_inverse = list(forward.history_["train"]), list(model.history_["train"])
    model.set_params(warm_start=True, max_iter=5, forward_max_iter=5).fit(z, y)
    assert model.forward_ is forward and forward.network_ is not None and model.network_ is inverse
    assert forward.n_iter_ <= 5 and model.n_iter_ <= 5                        # this fit's epochs, for each stage
    for first, continued in ((first_forward, forward.history_["train"]), (first_inverse, model.history_["train"])):
        gain = first[0] - min(first)
        assert continued[0] <= min(first) + 0.25 * gain                      # each goes on where it ended
    assert not any(p.requires_grad for p in forward.network_.parameters())    # frozen again
    # forward_max_iter=0: the forward network is kept as it is, the inverse trains on through it
    kept = _weights(forward.network_)
    model.set_params(forward_max_iter=0).fit(z, y)
    assert _same_weights(forward.network_, kept)
    # an unfitted model with warm_start fits as a cold one
    np.testing.assert_array_equal(_tandem(warm_start=True).fit(z, y).predict(y[:5]), _tandem().fit(z, y).predict(y[:5]))


def test_tandem_warm_start_refuses_other_data_or_settings_before_training():
    z, y = _small_problem()
    model = _tandem().fit(z, y).set_params(warm_start=True)
    forward, inverse = _weights(model.forward_.network_), _weights(model.network_)
    cases = [((z[:, :2], y), {}, "differs in: design columns"),
             ((z, y[:, :1]), {}, "differs in: property columns"),
             ((z, y), {"semicontinuous": {2: 0.2}}, "differs in: semicontinuous"),
             ((z, y), {"design_bounds": {0: (0.0, 2.0)}}, "differs in: design_bounds"),
             ((z, y), {"hidden_layer_sizes": (8,)}, "warm_start: the settings describe a network of other layers"),
             ((z, y), {"forward_hidden_layer_sizes": (8,)}, "warm_start: the settings describe a network of other")]
    first = model.get_params()
    for data, settings, message in cases:
        with pytest.raises(ValueError, match=message):
            model.set_params(**settings).fit(*data)
        model.set_params(**first)
        assert _same_weights(model.forward_.network_, forward) and _same_weights(model.network_, inverse), message
    with pytest.raises(ValueError, match="warm_start: the data or the design space differ from those of the first "
                                         "fit; differs in: design_bounds; continue with"):
        model.set_params(design_bounds={0: (0.0, 2.0)}).fit(z, y)


def test_a_failed_tandem_continuation_leaves_both_networks_as_they_were(monkeypatch):
    z, y = _small_problem()
    model = _tandem().fit(z, y)
    forward, inverse, history = _weights(model.forward_.network_), _weights(model.network_), model.history_
    calls, step = [0], torch.optim.Adam.step

    def failing(self, *args, **kwargs):          # fails in the inverse stage, after the forward one trained
        calls[0] += 1
        if calls[0] > 5 * 4 + 2:
            raise RuntimeError("out of memory")
        return step(self, *args, **kwargs)
    monkeypatch.setattr(torch.optim.Adam, "step", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        model.set_params(warm_start=True, max_iter=5, forward_max_iter=5, patience=None).fit(z, y)
    monkeypatch.undo()
    assert calls[0] == 5 * 4 + 3                 # the forward network's 5 epochs of 4 batches ran, then 3 steps
    assert _same_weights(model.forward_.network_, forward) and _same_weights(model.network_, inverse)
    assert model.history_ == history
    assert not any(p.requires_grad for p in model.forward_.network_.parameters())


def test_a_failed_fresh_fit_leaves_the_inverse_as_it_was(monkeypatch):
    """A fresh fit set the design space, a new forward network and an untrained inverse before training the
    inverse: a failure there left a model that proposed designs of random weights (a failed first fit, one
    that predicted without NotFittedError). The attributes are put back, as the surrogates' are."""
    z, y = _small_problem()
    model = _tandem().fit(z, y)
    before, attributes = model.predict(y[:4]), dict(vars(model))

    def failing(*args, **kwargs):
        raise RuntimeError("out of memory")
    monkeypatch.setattr("mslearn.optimization.tandem.fit_network", failing)   # the inverse stage's loop
    with pytest.raises(RuntimeError, match="out of memory"):
        model.fit(z, 2 * y)
    unfitted = _tandem()
    with pytest.raises(RuntimeError, match="out of memory"):
        unfitted.fit(z, y)
    monkeypatch.undo()
    assert vars(model).keys() == attributes.keys() and all(vars(model)[k] is v for k, v in attributes.items())
    np.testing.assert_array_equal(model.predict(y[:4]), before)
    with pytest.raises(NotFittedError):
        unfitted.predict(y[:4])


@pytest.mark.parametrize("warm", [False, True])
def test_an_interrupt_in_the_forward_stage_keeps_nothing_of_that_fit(warm, monkeypatch):
    """An interrupt kept the forward network's best epoch so far (its MLP's documented interrupt), and so the
    tandem kept a forward network of the new fit beside the inverse of the former: neither a continuation
    nor the former model. A tandem is kept whole or not at all."""
    z, y = _small_problem()
    model = _tandem().fit(z, y)
    before, forward = model.predict(y[:4]), _weights(model.forward_.network_)
    calls, step = [0], torch.optim.Adam.step

    def interrupted(self, *args, **kwargs):      # in the forward stage: after 2 of its epochs of 4 batches
        calls[0] += 1
        if calls[0] > 8:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)
    monkeypatch.setattr(torch.optim.Adam, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.set_params(warm_start=warm).fit(z, 2 * y if not warm else y)
    monkeypatch.undo()
    assert calls[0] == 9
    assert _same_weights(model.forward_.network_, forward)
    np.testing.assert_array_equal(model.predict(y[:4]), before)


def test_an_interrupt_before_the_inverse_stages_first_epoch_keeps_the_former_tandem(monkeypatch):
    """In a continuation the forward network trains in place; an interrupt in the inverse stage before its first
    finite epoch put the inverse back but not the forward network (only errors did): a new forward network
    beside the former inverse."""
    z, y = _small_problem()
    model = _tandem().fit(z, y)
    before, forward = model.predict(y[:4]), _weights(model.forward_.network_)
    calls, step = [0], torch.optim.Adam.step

    def interrupted(self, *args, **kwargs):      # the forward stage's 5 epochs of 4 batches, then one inverse step
        calls[0] += 1
        if calls[0] > 5 * 4 + 1:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)
    monkeypatch.setattr(torch.optim.Adam, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.set_params(warm_start=True, max_iter=5, forward_max_iter=5, patience=None).fit(z, y)
    monkeypatch.undo()
    assert _same_weights(model.forward_.network_, forward)
    np.testing.assert_array_equal(model.predict(y[:4]), before)


def test_direct_inverse_warm_start_continues_its_regression():
    z, y = _small_problem()
    model = DirectInverseDesign((16,), semicontinuous={2: 0.3}, max_iter=30, batch_size=50, device="cpu").fit(z, y)
    regressor, first = model.regressor_, list(model.regressor_.history_["train"])
    model.set_params(warm_start=True, max_iter=5).fit(z, y)
    assert model.regressor_ is regressor and regressor.n_iter_ <= 5
    assert regressor.history_["train"][0] <= min(first) + 0.25 * (first[0] - min(first))
    with pytest.raises(ValueError, match="differs in: design columns"):
        model.fit(z[:, :2], y)
    with pytest.raises(ValueError, match="warm_start: the settings describe a network of other layers"):
        model.set_params(hidden_layer_sizes=(8,)).fit(z, y)
    # new targets beyond the first range widen it (they were trained on): no extrapolation warning for them
    wider = y * 1.1
    model.set_params(hidden_layer_sizes=(16,)).fit(z * 1.0, wider)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        model.predict(wider[:5])


# -- score: scikit-learn's model selection ----------------------------------------------------------------
# held-out targets may lie outside the training range (a fold's, or the first 150 rows'): the warning is right
@pytest.mark.filterwarnings("ignore::mslearn.optimization.tandem.ExtrapolationWarning")
def test_score_is_the_round_trip_for_the_tandem_and_the_design_fit_for_the_direct_inverse():
    """``score(designs, properties)``, called like ``fit``: the tandem's is the smaller of its forward network's
    R² on the pairs and the round-trip R² it judges (any design that reaches the target is right, but only as
    far as the judge is), the direct inverse's the mean design R² it is trained for; so cross_val_score works
    on both, each fold judged by its own fit."""
    from sklearn.model_selection import KFold, cross_val_score
    z, y = _small_problem()
    tandem = _tandem().fit(z[:150], y[:150])
    direct = DirectInverseDesign((16,), semicontinuous={2: 0.3}, max_iter=30, batch_size=50, device="cpu").fit(
        z[:150], y[:150])
    held_out = inverse_design_scores(tandem, z[150:], y[150:])
    assert tandem.score(z[150:], y[150:]) == pytest.approx(
        min(np.mean(held_out.forward_r2), np.mean(held_out.round_trip_r2)), abs=1e-12)
    # pairs the forward network does not describe (properties shuffled among the designs): the round trip
    # still reaches its targets (it is judged by the same network), the score does not (measured: mean round trip
    # 0.88 for the true and the shuffled pairs; score 0.88 and -0.63)
    shuffled = y[150:][np.random.default_rng(0).permutation(50)]
    assert np.mean(inverse_design_scores(tandem, z[150:], shuffled).round_trip_r2) > 0.5
    assert tandem.score(z[150:], shuffled) < 0
    assert direct.score(z[150:], y[150:]) == pytest.approx(
        np.mean(inverse_design_scores(direct, z[150:], y[150:], forward=tandem).design_r2), abs=1e-12)
    folds = KFold(3, shuffle=True, random_state=0)
    tandem_scores = cross_val_score(_tandem(), z, y, cv=folds)
    direct_scores = cross_val_score(clone(direct), z, y, cv=folds)
    # a constant prediction scores 0. Measured (30 epochs of 16 units, fold seeds 0-2): tandem 0.80-0.85, direct
    # 0.55-0.68 (three design variables from two properties: the designs are not unique)
    assert tandem_scores.shape == (3,) and tandem_scores.min() > 0.7
    assert direct_scores.shape == (3,) and direct_scores.min() > 0.4
    with pytest.raises(ValueError, match="matching pairs"):
        tandem.score(z[:5], y[:4])
    with pytest.raises(ValueError, match="matching pairs"):
        direct.score(z[:1], y[:1])
    with pytest.raises(ValueError, match="expected 3"):
        direct.score(z[:5, :2], y[:5])
    with pytest.raises(ValueError, match="expected 3"):
        tandem.score(z[:5, :2], y[:5])
    with pytest.raises(NotFittedError):
        _tandem().score(z, y)


@pytest.mark.filterwarnings("ignore::mslearn.optimization.tandem.ExtrapolationWarning")
def test_score_takes_sample_weight_as_scikit_learn_does():
    """``score(designs, properties, sample_weight=None)``, scikit-learn's signature (the scores took no weights):
    a pair's weight counts in the tandem's forward R² and in its round trip alike; equal weights are no weights,
    zero weights drop pairs, an integer weight repeats a pair."""
    z, y = _small_problem()
    tandem = _tandem().fit(z[:150], y[:150])
    direct = DirectInverseDesign((16,), semicontinuous={2: 0.3}, max_iter=30, batch_size=50, device="cpu").fit(
        z[:150], y[:150])
    held_z, held_y = z[150:], y[150:]
    kept = np.arange(50) < 30
    for model in (tandem, direct):
        plain = model.score(held_z, held_y)
        assert model.score(held_z, held_y, sample_weight=np.full(50, 2.5)) == pytest.approx(plain, abs=1e-12)
        assert model.score(held_z, held_y, sample_weight=None) == plain
        # a subset is predicted as another batch, whose float32 products may round otherwise (measured: up to
        # 1.5e-9 apart): 1e-6; the subset's score differs from the whole's by 0.005 (tandem) and 0.006 (direct)
        assert model.score(held_z, held_y, sample_weight=kept.astype(float)) == pytest.approx(
            model.score(held_z[:30], held_y[:30]), abs=1e-6)
        repeated = np.r_[np.arange(50), [0, 0, 7]]
        weights = np.ones(50)
        weights[0], weights[7] = 3, 2
        assert model.score(held_z, held_y, sample_weight=weights) == pytest.approx(
            model.score(held_z[repeated], held_y[repeated]), abs=1e-6)
        assert model.score(held_z, held_y, sample_weight=kept.astype(float)) != pytest.approx(plain, abs=1e-3)
    # the tandem's two terms, each weighted: the smaller of them
    held_out = inverse_design_scores(tandem, held_z[:30], held_y[:30])
    assert tandem.score(held_z, held_y, sample_weight=kept) == pytest.approx(
        min(np.mean(held_out.forward_r2), np.mean(held_out.round_trip_r2)), abs=1e-6)
    # inverse_design_scores takes the same weights (it took none): its three R² those of the kept pairs, its
    # per-pair arrays all 50 pairs'
    weighted = inverse_design_scores(tandem, held_z, held_y, sample_weight=kept)
    for name in ("forward_r2", "round_trip_r2", "design_r2"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(held_out, name), atol=1e-6)
    assert weighted.relative_error.shape == (50,) and weighted.designs.shape == (50, 3)
    assert tandem.score(held_z, held_y, sample_weight=weights) == pytest.approx(min(
        np.mean((scores := inverse_design_scores(tandem, held_z, held_y, sample_weight=weights)).forward_r2),
        np.mean(scores.round_trip_r2)), abs=1e-12)
    with pytest.raises(ValueError, match=r"sample_weight has shape \(49,\); expected \(50,\), one weight per pair"):
        inverse_design_scores(tandem, held_z, held_y, sample_weight=np.ones(49))
    with pytest.raises(ValueError, match="sample_weight is positive for 1 of 50 pairs"):
        inverse_design_scores(direct, held_z, held_y, forward=tandem, sample_weight=np.r_[1.0, np.zeros(49)])
    for model in (tandem, direct):
        with pytest.raises(ValueError, match=r"sample_weight has shape \(49,\); expected \(50,\), one weight per pair"):
            model.score(held_z, held_y, sample_weight=np.ones(49))
        with pytest.raises(ValueError, match=r"sample_weight has shape \(50, 1\); expected \(50,\)"):
            model.score(held_z, held_y, sample_weight=np.ones((50, 1)))
        with pytest.raises(ValueError, match=r"sample_weight has shape \(\); expected \(50,\)"):
            model.score(held_z, held_y, sample_weight=1.0)
        with pytest.raises(ValueError, match="sample_weight contains NaN or infinite values"):
            model.score(held_z, held_y, sample_weight=np.r_[np.nan, np.ones(49)])
        with pytest.raises(ValueError, match=r"sample_weight contains a negative weight \(-1\); expected weights >= 0"):
            model.score(held_z, held_y, sample_weight=np.r_[-1.0, np.ones(49)])
        with pytest.raises(ValueError, match=r"sample_weight is positive for 0 of 50 pairs \(all zero\); expected at "
                                             "least 2 positive weights"):
            model.score(held_z, held_y, sample_weight=np.zeros(50))
        with pytest.raises(ValueError, match="sample_weight is positive for 1 of 50 pairs; expected at least 2"):
            model.score(held_z, held_y, sample_weight=np.r_[1.0, np.zeros(49)])
        with pytest.raises(ValueError, match="sample_weight has dtype <U1; expected numbers"):
            model.score(held_z, held_y, sample_weight=["a"] * 50)


@pytest.mark.parametrize("estimator, network", [(TandemInverseDesign, "forward_"), (DirectInverseDesign, "regressor_")])
def test_the_inner_mlp_takes_the_models_cpu_threads(estimator, network, torch_thread_calls):
    """MLPRegressor has cpu_threads= now (default None, torch's setting): the inner network gets the model's own
    (default 1), so that its predict called alone (forward_.predict, regressor_.predict) runs on the model's
    threads, and cpu_threads=None keeps torch's setting throughout."""
    z = np.random.default_rng(0).uniform(-1, 1, (40, 1))
    options = dict(max_iter=2, device="cpu", random_state=0)
    if estimator is TandemInverseDesign:
        options["forward_max_iter"] = 2
    model = estimator((4,), **options).fit(z, z**2)
    assert getattr(model, network).cpu_threads == 1
    torch_thread_calls.clear()
    model = estimator((4,), cpu_threads=None, **options).fit(z, z**2)
    assert getattr(model, network).cpu_threads is None and torch_thread_calls == []
