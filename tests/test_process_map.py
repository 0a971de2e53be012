"""mslearn.process.process_map: the LPBF teaching map against the closed-form Rosenthal limits and
criteria, and active learning of its printable window against random sampling on held-out points.
Each tolerance and margin says what it checks."""
import dataclasses
import math

import numpy as np
import pytest

from mslearn.process import (LPBF_BOUNDS, PROCESS_REGIONS, SS316L, ActiveLearningResult, Alloy,
                             learn_process_map, lpbf_track)

A, SIGMA, LAYER, HATCH, T0 = SS316L.absorptivity, 50e-6, 30e-6, 80e-6, 293.15   # lpbf_track's defaults


def keyhole_power(speed):
    """King et al.'s onset, Delta H / h_s = pi T_b / T_m, solved for the power (exact)."""
    threshold = math.pi * SS316L.T_boil / SS316L.T_melt
    return threshold * math.pi * SS316L.rho_c * SS316L.T_melt * math.sqrt(SS316L.alpha * speed * SIGMA**3) / A


def fusion_power(speed):
    """Tang et al.'s (h/W)^2 + (t/D)^2 = 1 with W = 2D, i.e. W^2 = h^2 + 4t^2, solved for the power with
    the fast-source width of Rosenthal's pool, W^2 = 8 q / (pi e rho c v dT)."""
    return (math.pi * math.e * SS316L.rho_c * speed * (SS316L.T_melt - T0) * (HATCH**2 + 4 * LAYER**2)
            / 8 / A)


def margin(X):
    return lpbf_track(X[:, 0], X[:, 1]).margin


# ---------------------------------------------------------------- the teaching simulation

def test_keyhole_boundary_is_kings_threshold():
    for speed in (0.3, 0.5, 1.0):
        power = keyhole_power(speed)
        assert lpbf_track(power, speed).margin_keyhole == pytest.approx(0.0, abs=1e-12)  # round-off
    # at v = 0.5 m/s the track is fused on both sides of the keyhole onset (216.7 W)
    below, above = lpbf_track(0.95 * keyhole_power(0.5), 0.5), lpbf_track(1.05 * keyhole_power(0.5), 0.5)
    assert below.margin_fusion > 0.3 and above.margin_fusion > 0.3
    assert PROCESS_REGIONS[below.region] == "conduction" and PROCESS_REGIONS[above.region] == "keyhole"
    # Delta H / h_s grows as P / sqrt(v)
    assert lpbf_track(200.0, 0.25).enthalpy == pytest.approx(2 * lpbf_track(200.0, 1.0).enthalpy, rel=1e-12)


def test_fusion_boundary_follows_the_fast_rosenthal_asymptote():
    """At v = 1.5 m/s the fusion boundary is at n = 80, deep in the fast regime: there the exact width
    is the asymptote times (1 - e/(4n)) (from ln(n/rho) = rho/(1+rho), rho = n/e + 1 + O(1/n)), so the
    margin ln(W/W*) at the asymptotic power is -e/(4n) = -0.0085, up to O((e/n)^2) = 1e-3."""
    speed = 1.5
    power = fusion_power(speed)
    track = lpbf_track(power, speed)
    n = A * power * speed / (4 * math.pi * SS316L.k * SS316L.alpha * (SS316L.T_melt - T0))
    assert n == pytest.approx(80.0, abs=0.5)
    assert track.margin_fusion == pytest.approx(-math.e / (4 * n), abs=1e-3)
    assert track.width == pytest.approx(2 * track.depth, rel=1e-15)  # the point source's half-disk
    # 10 % either side (the asymptote is good to 1 %): lack of fusion below, conduction above
    assert PROCESS_REGIONS[lpbf_track(0.9 * power, speed).region] == "lack of fusion"
    assert PROCESS_REGIONS[lpbf_track(1.1 * power, speed).region] == "conduction"
    assert 1.1 * power < keyhole_power(speed)


def test_slow_limit_and_the_map_corners():
    # slow source (n -> 0): the hemisphere of radius q / (2 pi k dT), with q = A P
    slow = lpbf_track(100.0, 1e-6)
    assert slow.depth == pytest.approx(A * 100.0 / (2 * math.pi * SS316L.k * (SS316L.T_melt - T0)), rel=1e-4)
    (p_low, p_high), (v_low, v_high) = LPBF_BOUNDS
    assert PROCESS_REGIONS[lpbf_track(p_low, v_high).region] == "lack of fusion"   # cold and fast
    assert PROCESS_REGIONS[lpbf_track(p_high, v_low).region] == "keyhole"          # hot and slow
    assert PROCESS_REGIONS[lpbf_track(200.0, 0.8).region] == "conduction"


def test_regions_margins_and_broadcasting():
    power, speed = np.meshgrid(np.linspace(*LPBF_BOUNDS[0], 30), np.linspace(*LPBF_BOUNDS[1], 20),
                               indexing="ij")
    track = lpbf_track(power, speed)
    assert track.region.shape == track.margin.shape == track.power.shape == (30, 20)
    np.testing.assert_array_equal(track.margin, np.minimum(track.margin_fusion, track.margin_keyhole))
    np.testing.assert_array_equal(track.region == 0, track.margin > 0)
    assert set(np.unique(track.region)) == {0, 1, 2}                      # all three regions on the map
    worst = np.where(track.margin_fusion <= track.margin_keyhole, 1, 2)
    np.testing.assert_array_equal(track.region[track.region > 0], worst[track.region > 0])
    # the depth grows with power and falls with speed
    assert np.all(np.diff(track.depth, axis=0) > 0) and np.all(np.diff(track.depth, axis=1) < 0)
    assert isinstance(lpbf_track(200.0, 1.0).region, int)
    # a more absorptive alloy melts deeper
    hot = Alloy(name="test", k=SS316L.k, rho_c=SS316L.rho_c, T_melt=SS316L.T_melt, T_boil=SS316L.T_boil,
                absorptivity=0.7)
    assert lpbf_track(100.0, 1.0, alloy=hot).depth == pytest.approx(lpbf_track(200.0, 1.0).depth, rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: lpbf_track(-10.0, 1.0), "power"),
    (lambda: lpbf_track(100.0, 0.0), "speed"),
    (lambda: lpbf_track(100.0, [1.0, math.nan]), "speed"),
    (lambda: lpbf_track(100.0, 1.0, layer_thickness=-1e-6), "layer_thickness"),
    (lambda: lpbf_track(100.0, 1.0, hatch_spacing=0.0), "hatch_spacing"),
    (lambda: lpbf_track(100.0, 1.0, beam_radius=math.inf), "beam_radius"),
    (lambda: lpbf_track(100.0, 1.0, keyhole_threshold=-1.0), "keyhole_threshold"),
    (lambda: lpbf_track(100.0, 1.0, T0=2000.0), "T_melt"),
    (lambda: lpbf_track(100.0, 1.0, alloy=Alloy("x", 20.0, 4e6, 1700.0, 3000.0, 1.5)), "absorptivity"),
    (lambda: lpbf_track(100.0, 1.0, alloy=Alloy("x", 20.0, 4e6, 1700.0, 1600.0, 0.4)), "T_boil"),
    # an absolute temperature is > 0 K (T0 = -10 K was taken); rho_c = 0 was reported as "rho_c = inf"
    (lambda: lpbf_track(100.0, 1.0, T0=-10.0), r"T0 \(kelvin\) has the value -10.0; expected finite values > 0"),
    (lambda: lpbf_track(100.0, 1.0, alloy=Alloy("x", 20.0, 0.0, 1700.0, 3000.0, 0.4)),
     r"alloy.rho_c has the value 0.0; expected finite values > 0"),
    (lambda: lpbf_track(100.0, 1.0, alloy=Alloy("x", 20.0, 4e6, -1700.0, 3000.0, 0.4)), "alloy.T_melt has the value"),
])
def test_lpbf_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_lpbf_wrong_alloy_type():
    with pytest.raises(TypeError, match="Alloy"):
        lpbf_track(100.0, 1.0, alloy="316L")


# ---------------------------------------------------------------- active learning

SEEDS = (0, 1, 2)
MAX_ITER = 20  # 8 Sobol + 20 chosen = 28 simulations


@pytest.fixture(scope="module")
def runs():
    return {(strategy, seed): learn_process_map(margin, LPBF_BOUNDS, 0.0, n_initial=8, max_iter=MAX_ITER,
                                                strategy=strategy, seed=seed)
            for strategy in ("straddle", "random") for seed in SEEDS}


def test_straddle_beats_random_sampling_on_held_out_map_error(runs):
    """House rule: the learned map beats the baseline by a stated margin on held-out points.

    The error is the fraction of 1024 held-out Sobol points whose region (printable or not) the GP's
    mean gets wrong after 28 simulations. Measured (2 cores, OMP_NUM_THREADS=1): straddle 0.025,
    0.029, 0.022 vs random 0.091, 0.091, 0.074 on seeds 0-2 (mean 0.026 vs 0.085, 3.3x); over seeds 0-9
    straddle 0.013-0.030 (mean 0.023) vs random 0.045-0.092 (mean 0.074), straddle ahead on every seed,
    by 2.0x at the least. Required: the mean error at most half of random's, and no seed worse than
    random — a 2x margin below the 3.3x measured, so that a different BLAS or CPU moving a few
    hyper-parameter fits does not flip it, yet far from a tie."""
    straddle = np.array([runs["straddle", seed].history_misclassification[-1] for seed in SEEDS])
    random = np.array([runs["random", seed].history_misclassification[-1] for seed in SEEDS])
    assert straddle.mean() <= 0.5 * random.mean(), (straddle, random)
    assert np.all(straddle < random), (straddle, random)
    # and the window is mapped well in absolute terms: under 5 % of the box misclassified (max 3 % seen)
    assert straddle.max() < 0.05


def test_straddle_samples_the_boundary(runs):
    """The straddle spends its simulations near the boundary margin = 0. Measured, pooled over seeds 0-2:
    0.45 of its 60 chosen points have |margin| < 0.05 against 0.18 of the random ones (seeds 0-7: 0.42
    vs 0.18; single seeds vary, 0.2-0.5 vs 0.1-0.3, so only the pooled fraction is tested). Required:
    at least 1.5x random's."""
    def near(strategy):
        return np.mean(np.concatenate([np.abs(runs[strategy, seed].y[8:]) < 0.05 for seed in SEEDS]))

    assert near("straddle") > 1.5 * near("random"), (near("straddle"), near("random"))


def test_result_shapes_and_the_shared_initial_design(runs):
    result = runs["straddle", 0]
    assert isinstance(result, ActiveLearningResult)
    assert result.X.shape == (8 + MAX_ITER, 2) and result.y.shape == (8 + MAX_ITER,)
    assert result.n_simulations.tolist() == list(range(8, 8 + MAX_ITER + 1))
    assert result.history_misclassification.shape == result.history_rmse.shape == (MAX_ITER + 1,)
    assert result.X_test.shape == (1024, 2) and result.y_test.shape == (1024,)
    low, high = np.array(LPBF_BOUNDS).T
    assert np.all(result.X >= low) and np.all(result.X <= high)
    np.testing.assert_allclose(result.y, margin(result.X), rtol=1e-12)
    assert len({tuple(row) for row in result.X}) == len(result.X)            # no point simulated twice
    # every strategy with the same seed starts from the same Sobol design and scores the same points
    np.testing.assert_array_equal(result.X[:8], runs["random", 0].X[:8])
    np.testing.assert_array_equal(result.X_test, runs["random", 1].X_test)
    # the final model is the one scored last
    wrong = np.mean(result.classify(result.X_test) != (result.y_test > 0))
    assert wrong == result.history_misclassification[-1]
    mean, std = result.posterior(result.X[:3])
    np.testing.assert_allclose(mean, result.y[:3], atol=1e-3)               # it interpolates its data
    assert np.all(std < 1e-2)
    with pytest.raises(ValueError, match="shape"):
        result.predict(np.zeros(2))


def test_deterministic_for_a_seed_and_the_uncertainty_strategy():
    def run(seed):
        return learn_process_map(margin, LPBF_BOUNDS, n_initial=6, max_iter=4, strategy="uncertainty",
                                 n_test=64, seed=seed)

    first, second = run(3), run(3)
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.history_rmse, second.history_rmse)
    np.testing.assert_array_equal(first.X, run(np.random.default_rng(3)).X)   # int seed = its Generator
    assert not np.array_equal(first.X, run(4).X)


def test_no_test_points_and_no_steps():
    result = learn_process_map(margin, LPBF_BOUNDS, n_initial=5, max_iter=0, n_test=0, seed=0)
    assert result.X.shape == (5, 2) and result.n_simulations.tolist() == [5]
    assert np.isnan(result.history_misclassification).all() and result.y_test.shape == (0,)
    shown = learn_process_map(margin, LPBF_BOUNDS, n_initial=5, max_iter=1, n_test=0, seed=0, progress=True)
    np.testing.assert_array_equal(shown.X[:5], result.X)                    # the bar changes nothing


def test_a_run_continues_without_simulating_twice():
    calls = []

    def counted(X):
        calls.append(len(X))
        return margin(X)

    part = learn_process_map(counted, LPBF_BOUNDS, n_initial=6, max_iter=3, n_test=64, seed=0)
    assert sum(calls) == 6 + 64 + 3
    calls.clear()
    whole = learn_process_map(counted, LPBF_BOUNDS, n_initial=6, max_iter=4, n_test=64, seed=1, initial=part)
    assert calls == [1] * 4                                          # the new steps only, held-out values reused
    np.testing.assert_array_equal(whole.X[:9], part.X)
    assert whole.X.shape == (13, 2) and whole.n_initial == 6
    assert whole.n_simulations.tolist() == list(range(6, 14))        # the learning curve goes on
    np.testing.assert_array_equal(whole.history_rmse[:4], part.history_rmse)
    assert np.isfinite(whole.history_rmse).all()
    # a design cut short: the same seed's design simulates only the points it lacks
    calls.clear()
    cut = learn_process_map(counted, LPBF_BOUNDS, n_initial=6, max_iter=0, n_test=0, seed=0,
                            initial=(part.X[:4], part.y[:4]))
    assert calls == [2]
    np.testing.assert_allclose(cut.X, part.X[:6], rtol=1e-12)
    with pytest.raises(ValueError, match="continue it with the same n_test"):
        learn_process_map(counted, LPBF_BOUNDS, max_iter=1, n_test=16, initial=part)
    calls.clear()
    with pytest.raises(ValueError, match=r"n_initial = 12 exceeds the 9 simulations of the run continued \(its "
                                         r"initial design: 6 points\); continue it with the same n_initial"):
        learn_process_map(counted, LPBF_BOUNDS, n_initial=12, max_iter=1, n_test=64, initial=part)
    assert calls == []           # was: 3 more design points simulated, never scored, n_initial left at 6
    # a smaller n_initial simulates no design point: the run goes on (the default 8 on a run begun from 6)
    assert learn_process_map(counted, LPBF_BOUNDS, max_iter=10, n_test=64, seed=1, initial=part).n_initial == 6
    calls.clear()
    with pytest.raises(ValueError, match="over other bounds or another threshold"):
        learn_process_map(counted, LPBF_BOUNDS, 1.0, max_iter=1, n_test=64, initial=part)
    with pytest.raises(ValueError, match="outside bounds"):
        learn_process_map(counted, LPBF_BOUNDS, max_iter=1, initial=(part.X * 10, part.y))
    with pytest.raises(TypeError, match="expected an ActiveLearningResult or a pair"):
        learn_process_map(counted, LPBF_BOUNDS, max_iter=1, initial=part.X)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(bounds=[(400, 50), (0.2, 2.0)]), ValueError, "low < high"),
    (dict(bounds=[(50, math.nan), (0.2, 2.0)]), ValueError, "finite"),
    (dict(bounds=[50, 400]), ValueError, "pairs"),
    (dict(bounds="box"), ValueError, "bounds"),
    (dict(threshold=math.nan), ValueError, "threshold"),
    (dict(n_initial=1), ValueError, "n_initial"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter"),
    (dict(n_test=-5), ValueError, "n_test"),
    (dict(strategy="greedy"), ValueError, "strategy"),
    (dict(simulate="lpbf"), TypeError, "callable"),
    (dict(simulate=lambda X: X), ValueError, "shape"),
    (dict(simulate=lambda X: np.full(len(X), np.nan)), ValueError, "finite"),
    (dict(simulate=lambda X: lpbf_track(X[:, 0] - 100.0, X[:, 1]).margin), ValueError, "power"),
])
def test_learner_bad_input(kwargs, error, match):
    arguments = dict(simulate=margin, bounds=LPBF_BOUNDS, threshold=0.0, max_iter=2, n_test=16)
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        learn_process_map(arguments.pop("simulate"), arguments.pop("bounds"), **arguments)


@pytest.mark.parametrize("power, match", [
    (np.array([100.0 + 1j]), "power has the complex dtype complex128; expected real numbers"),
    (True, r"power = True \(dtype bool\); expected real numbers"),
    ("100", r"power = .100. \(dtype <U3\); expected real numbers"),
])
def test_lpbf_refuses_complex_bool_and_string_input(power, match):
    """lpbf_track read a complex power as its real part (numpy's ComplexWarning at most), and a bool or a
    string as a number; each is refused by name, and numbers of every kind still work."""
    with pytest.raises(TypeError, match=match):
        lpbf_track(power, 1.0)
    expected = dataclasses.asdict(lpbf_track(100.0, 1.0))
    for number in (100, np.float32(100.0), np.array(100.0)):
        track = dataclasses.asdict(lpbf_track(number, 1.0))
        assert all(np.array_equal(track[key], value, equal_nan=True) for key, value in expected.items())


@pytest.mark.parametrize("alloy, match", [
    (Alloy("x", 22.0, 4.5e6, 1700.0, 3090.0, True), r"alloy.absorptivity = True \(dtype bool\)"),
    (Alloy("x", 22.0, 4.5e6, 1700.0, 3090.0, 0.35 + 0j), r"alloy.absorptivity has the complex dtype"),
    (Alloy("x", 22.0, 4.5e6, 1700.0, "3090", 0.35), r"alloy.T_boil = '3090' \(dtype <U4\)"),
])
def test_lpbf_refuses_an_alloy_whose_absorptivity_or_boiling_point_is_not_real(alloy, match):
    """An alloy's absorptivity True was read as 1, and a complex or string absorptivity or T_boil raised a bare
    "'<' not supported" (both bypassed the check of the other constants, being compared with their own range)."""
    with pytest.raises(TypeError, match=match):
        lpbf_track(200.0, 0.8, alloy=alloy)
