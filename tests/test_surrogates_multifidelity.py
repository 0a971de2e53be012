"""mslearn.surrogates.multifidelity: AR1 co-kriging and Δ-learning, validated on the Forrester pair.

The Forrester et al. (2007) pair is an exact AR1 model: f_h = (6x - 2)^2 sin(12x - 4),
f_l = 0.5 f_h + 10 (x - 0.5) - 5, so f_h = 2 f_l - 20 x + 20 (rho = 2, a linear discrepancy). On the
standard design (11 low-fidelity points, 4 high-fidelity points {0, 0.4, 0.6, 1}) co-kriging must
find rho = 2 within 10 % and the discrepancy within 1 (its range on [0, 1] is 20), and beat a GP on
the 4 high-fidelity points alone by a factor of 10 in RMSE on a fine grid (measured: rho 1.995, RMSE
0.057 against 5.6 for the single-fidelity GP, whose RMSE is larger than the function's spread, 4.5).
"""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel
from sklearn.linear_model import LinearRegression

from mslearn.surrogates.multifidelity import CoKrigingRegressor, DeltaRegressor, forrester

X_LOW = np.linspace(0, 1, 11)
X_HIGH = np.array([0.0, 0.4, 0.6, 1.0])
GRID = np.linspace(0, 1, 201)[:, None]


def rmse(y_true, y_pred):
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def forrester_data():
    X = np.concatenate([X_LOW, X_HIGH])[:, None]
    y = np.concatenate([forrester(X_LOW, "low"), forrester(X_HIGH, "high")])
    fidelity = np.r_[np.zeros(len(X_LOW), int), np.ones(len(X_HIGH), int)]
    return X, y, fidelity


@pytest.fixture(scope="module")
def fitted():
    return CoKrigingRegressor(random_state=0).fit(*forrester_data())


def test_forrester_pair_is_an_exact_ar1_model():
    x = np.linspace(0, 1, 7)
    np.testing.assert_allclose(forrester(x), 2 * forrester(x, "low") - 20 * x + 20, atol=1e-12)


def test_forrester_refuses_points_outside_its_domain():
    # evaluated silently outside [0, 1], where the pair is not the published test
    import torch
    domain = r"expected points of the Forrester functions' domain \[0, 1\]"
    for fidelity in ("high", "low"):
        with pytest.raises(ValueError, match=r"X = 1.2 is outside \[0.0, 1.0\]; " + domain):
            forrester([0.5, 1.2], fidelity)
        with pytest.raises(ValueError, match=r"X = -0.5 is outside \[0.0, 1.0\]; " + domain):
            forrester(torch.tensor([[-0.5]], dtype=torch.float64), fidelity)
        with pytest.raises(ValueError, match="X contains NaN; expected finite numbers"):
            forrester([np.nan], fidelity)
    with pytest.raises(ValueError, match=r"X has shape \(2, 2\); expected \(n,\) or \(n, 1\)"):
        forrester(np.zeros((2, 2)))
    x = np.linspace(0, 1, 5)
    np.testing.assert_array_equal(forrester(torch.tensor(x)), forrester(x))
    np.testing.assert_array_equal(forrester([1.0 + 1e-13]), forrester([1.0]))


def test_cokriging_recovers_rho_and_the_linear_discrepancy(fitted):
    assert 1.8 <= fitted.rho_ <= 2.2
    delta = fitted.delta_.predict(GRID)
    assert np.abs(delta - (20 - 20 * GRID[:, 0])).max() < 1.0
    assert fitted.n_low_ == 11 and fitted.n_high_ == 4 and fitted.n_features_in_ == 1


def test_cokriging_beats_a_single_fidelity_gp_by_far(fitted):
    truth = forrester(GRID)
    single = GaussianProcessRegressor(ConstantKernel() * RBF(1.0, (1e-2, 1e2)), normalize_y=True,
                                      n_restarts_optimizer=5, random_state=0).fit(X_HIGH[:, None], forrester(X_HIGH))
    error_single, error_multi = rmse(truth, single.predict(GRID)), rmse(truth, fitted.predict(GRID))
    assert error_multi < 0.5
    assert error_multi * 10 < error_single


def test_posterior_interpolates_the_high_fidelity_data(fitted):
    mean, std = fitted.posterior(X_HIGH[:, None])
    np.testing.assert_allclose(mean, forrester(X_HIGH), atol=1e-3)
    assert np.all(std >= 0) and std.max() < 0.05
    mean, std = fitted.posterior(GRID)
    np.testing.assert_array_equal(mean, fitted.predict(GRID))
    assert std.shape == (201,) and np.all(np.isfinite(std))
    assert fitted.score(GRID, forrester(GRID)) > 0.99


def test_fixed_rho_and_seeding(fitted):
    X, y, fidelity = forrester_data()
    fixed = CoKrigingRegressor(rho=2.0, random_state=0).fit(X, y, fidelity)
    assert fixed.rho_ == 2.0 and rmse(forrester(GRID), fixed.predict(GRID)) < 0.5
    again = CoKrigingRegressor(random_state=0).fit(X, y, fidelity == 1)       # booleans are accepted
    np.testing.assert_array_equal(again.predict(GRID), fitted.predict(GRID))
    custom = CoKrigingRegressor(kernel_low=ConstantKernel() * RBF(0.2), kernel_delta=ConstantKernel() * RBF(1.0),
                                random_state=0).fit(X, y, fidelity)
    assert 1.8 <= custom.rho_ <= 2.2


def test_clone_and_pickle(fitted):
    params = clone(fitted).get_params()
    assert params["random_state"] == 0 and params["rho"] is None
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict(GRID[:5]), fitted.predict(GRID[:5]))


def test_alpha_is_in_the_targets_units_for_both_gps():
    """Targets x 1000 with alpha x 1e6 is the same model x 1000: alpha is a variance in the targets' units for
    the low-fidelity GP too (it was in units of var(y_low), scikit-learn's normalize_y, against the docs)."""
    X, y, fidelity = forrester_data()
    small = CoKrigingRegressor(alpha=0.5, random_state=0).fit(X, y, fidelity)
    large = CoKrigingRegressor(alpha=0.5e6, random_state=0).fit(X, 1000 * y, fidelity)
    np.testing.assert_allclose(large.predict(GRID), 1000 * small.predict(GRID), rtol=1e-5, atol=1e-5 * 1000)
    assert large.rho_ == pytest.approx(small.rho_, rel=1e-5)


def test_score_judges_the_high_fidelity_samples_and_cross_validation_can_route_fidelity(fitted):
    """score(fidelity=) scores the high-fidelity rows alone: predict estimates the high fidelity, and a
    low-fidelity target scored against it gave meaningless R² (-0.46 to -4.7) in cross-validation."""
    from sklearn import config_context
    from sklearn.model_selection import KFold, cross_val_score

    X, y, fidelity = forrester_data()
    high = fidelity == 1
    assert fitted.score(X, y, fidelity) == fitted.score(X[high], y[high]) > 0.999   # interpolates its data
    assert fitted.score(GRID, forrester(GRID[:, 0], "high")) > 0.99
    with pytest.raises(ValueError, match="no sample as high fidelity"):
        fitted.score(X[:3], y[:3], fidelity[:3])
    with pytest.raises(ValueError, match="expected only 0"):
        fitted.score(X, y, fidelity + 1)
    X2 = np.concatenate([X, np.linspace(0.05, 0.95, 10)[:, None]])      # more high-fidelity data for 2 folds
    y2 = np.concatenate([y, forrester(X2[15:, 0], "high")])
    f2 = np.r_[fidelity, np.ones(10, int)]
    folds = KFold(2, shuffle=True, random_state=0)
    by_hand = [CoKrigingRegressor(random_state=0).fit(X2[a], y2[a], f2[a]).score(X2[b], y2[b], f2[b])
               for a, b in folds.split(X2)]
    with config_context(enable_metadata_routing=True):
        routed = CoKrigingRegressor(random_state=0).set_fit_request(fidelity=True).set_score_request(fidelity=True)
        scores = cross_val_score(routed, X2, y2, cv=folds, params={"fidelity": f2})
    np.testing.assert_allclose(scores, by_hand, rtol=1e-12)


@pytest.mark.parametrize("fidelity, message", [
    (np.zeros(14), "expected \\(15,\\)"),
    (np.r_[np.zeros(11), np.ones(3), 2], "expected only 0"),
    (np.array(["low"] * 11 + ["high"] * 4), "expected only 0"),
    (np.r_[np.zeros(14), 1], "at least 2 low-fidelity and 2 high-fidelity"),
    (np.r_[0, np.ones(14)], "at least 2 low-fidelity"),
    (None, "fidelity is required"),
])
def test_bad_fidelity(fidelity, message):
    X, y, _ = forrester_data()
    with pytest.raises(ValueError, match=message):
        CoKrigingRegressor().fit(X, y, fidelity)


def test_bad_input():
    X, y, fidelity = forrester_data()
    with pytest.raises(ValueError, match="kernel_low"):
        CoKrigingRegressor(kernel_low="rbf").fit(X, y, fidelity)
    with pytest.raises(ValueError, match="alpha"):
        CoKrigingRegressor(alpha=-1.0).fit(X, y, fidelity)
    with pytest.raises(ValueError, match="rho"):
        CoKrigingRegressor(rho=float("nan")).fit(X, y, fidelity)
    with pytest.raises(ValueError, match="n_restarts_optimizer"):
        CoKrigingRegressor(n_restarts_optimizer=-1).fit(X, y, fidelity)
    with pytest.raises(ValueError, match="NaN|infinity"):
        CoKrigingRegressor().fit(X, np.where(np.arange(15) == 3, np.nan, y), fidelity)
    with pytest.raises(NotFittedError):
        CoKrigingRegressor().predict(GRID)
    model = CoKrigingRegressor(n_restarts_optimizer=0).fit(X, y, fidelity)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((3, 2)))


def test_delta_learning_with_a_known_cheap_model():
    # with f_l = 2 * forrester_low the discrepancy is exactly linear: a linear regression learns it
    cheap = lambda X: 2 * forrester(X, "low")   # noqa: E731
    linear = DeltaRegressor(cheap, LinearRegression()).fit(X_HIGH[:, None], forrester(X_HIGH))
    np.testing.assert_allclose(linear.predict(GRID), forrester(GRID), atol=1e-9)
    np.testing.assert_allclose(linear.regressor_.coef_, [-20.0], atol=1e-9)
    gp = DeltaRegressor(cheap, random_state=0).fit(X_HIGH[:, None], forrester(X_HIGH))
    mean, std = gp.posterior(GRID)
    assert rmse(forrester(GRID), mean) < 0.5 and np.all(std >= 0)
    appended = DeltaRegressor(cheap, LinearRegression(), append_low_fidelity=True).fit(X_HIGH[:, None],
                                                                                       forrester(X_HIGH))
    assert rmse(forrester(GRID), appended.predict(GRID)) < 1e-6
    with pytest.raises(ValueError, match="GaussianProcessRegressor"):
        linear.posterior(GRID)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")   # the Δ GP's scale at its bound: a line
def test_delta_learning_beats_a_single_fidelity_gp_on_held_out_points():
    """Δ-learning (e.g. Ramakrishnan et al. 2015, J. Chem. Theory Comput. 11, 2087) on the Forrester et al.
    (2007) pair: with the cheap model 2 f_l, the AR1 scale, the discrepancy f_h - 2 f_l = 20 - 20 x is
    smooth, and the default GP learns it from the 4 high-fidelity points, while a GP on those points
    alone cannot follow f_h. RMSE on the 197 held-out points of the 201-point grid: measured 9.4e-6
    (Δ) against 5.67 (single fidelity, more than the spread of f_h, 4.4), a factor 6e5. The Δ error is
    a GP's fit of a straight line, set by where its optimizer stops (its constant at the upper bound,
    L-BFGS at its iteration limit), and may differ by orders of magnitude on another CPU or BLAS:
    required, a factor 1000 and a Δ RMSE below 0.01."""
    held_out = GRID[~np.isin(GRID[:, 0], X_HIGH)]
    assert len(held_out) == 197
    truth = forrester(held_out)
    single = GaussianProcessRegressor(ConstantKernel() * RBF(1.0, (1e-2, 1e2)), normalize_y=True,
                                      n_restarts_optimizer=5, random_state=0).fit(X_HIGH[:, None], forrester(X_HIGH))
    delta = DeltaRegressor(lambda X: 2 * forrester(X, "low"), random_state=0).fit(X_HIGH[:, None], forrester(X_HIGH))
    error_single, error_delta = rmse(truth, single.predict(held_out)), rmse(truth, delta.predict(held_out))
    assert error_single > np.std(truth)                                  # the single GP has not learnt f_h
    assert error_delta < 0.01 and error_delta * 1000 < error_single


def test_delta_learning_with_a_fitted_low_fidelity_regressor():
    low = GaussianProcessRegressor(ConstantKernel() * RBF(0.2), normalize_y=True).fit(X_LOW[:, None],
                                                                                      forrester(X_LOW, "low"))
    model = DeltaRegressor(low, random_state=0).fit(X_HIGH[:, None], forrester(X_HIGH))
    np.testing.assert_allclose(model.predict(X_HIGH[:, None]), forrester(X_HIGH), atol=1e-3)
    bound = DeltaRegressor(low.predict, random_state=0).fit(X_HIGH[:, None], forrester(X_HIGH))
    np.testing.assert_allclose(bound.predict(GRID), model.predict(GRID))
    with pytest.raises(ValueError, match="not fitted"):
        DeltaRegressor(LinearRegression()).fit(X_HIGH[:, None], forrester(X_HIGH))


def test_delta_learning_bad_input():
    y = forrester(X_HIGH)
    with pytest.raises(ValueError, match="low_fidelity is None"):
        DeltaRegressor().fit(X_HIGH[:, None], y)
    with pytest.raises(ValueError, match="returned shape"):
        DeltaRegressor(lambda X: np.zeros(3)).fit(X_HIGH[:, None], y)
    with pytest.raises(ValueError, match="NaN"):
        DeltaRegressor(lambda X: np.full(len(X), np.nan)).fit(X_HIGH[:, None], y)
    with pytest.raises(ValueError, match="regressor"):
        DeltaRegressor(np.sum, regressor="gp").fit(X_HIGH[:, None], y)
    with pytest.raises(ValueError, match="expected 'high' or 'low'"):
        forrester(X_HIGH, "medium")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")   # a GP on 4 points: not what is tested
@pytest.mark.parametrize("make", [lambda **kw: CoKrigingRegressor(**kw),
                                  lambda **kw: DeltaRegressor(lambda X: 2 * forrester(X[:, 0], "low"), **kw)])
def test_the_default_seed_repeats_and_none_is_refused(make):
    X, y, fidelity = forrester_data()
    if isinstance(make(), CoKrigingRegressor):
        fit = lambda model: model.fit(X, y, fidelity)                       # noqa: E731
    else:
        fit = lambda model: model.fit(X[fidelity == 1], y[fidelity == 1])   # noqa: E731
    state = np.random.get_state()[1].copy()
    # the default (random_state=0, was None) gives the same fit twice and leaves numpy's global generator alone
    np.testing.assert_array_equal(fit(make()).predict(X), fit(make()).predict(X))
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    with pytest.raises(ValueError, match="None is not accepted"):
        fit(make(random_state=None))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_seeds_of_2_to_the_32_or_more_are_accepted_as_elsewhere():
    """integer_seed accepts any int >= 0 and the torch surrogates hash a large one into 32 bits, but the
    multi-fidelity models passed it to numpy and scikit-learn as it was: random_state=2**40 failed with
    numpy's 'Seed must be between 0 and 2**32 - 1' (CoKrigingRegressor) or scikit-learn's
    InvalidParameterError about a GaussianProcessRegressor or the given regressor (DeltaRegressor)."""
    from sklearn.ensemble import RandomForestRegressor

    X, y, fidelity = forrester_data()
    high = fidelity == 1
    low = lambda X: 2 * forrester(X[:, 0], "low")                                  # noqa: E731
    for fit in (lambda seed: CoKrigingRegressor(n_restarts_optimizer=2, random_state=seed).fit(X, y, fidelity),
                lambda seed: DeltaRegressor(low, random_state=seed).fit(X[high], y[high]),
                lambda seed: DeltaRegressor(low, regressor=RandomForestRegressor(n_estimators=3),
                                            random_state=seed).fit(X[high], y[high])):
        first = fit(2**40).predict(X)
        assert np.all(np.isfinite(first))
        np.testing.assert_array_equal(fit(2**40).predict(X), first)
