"""mslearn.process: Cahn–Hilliard against its linear stability, equilibrium profile and invariants;
the Rosenthal melt pool against its closed-form limits. Each tolerance says what it checks."""
import math

import numpy as np
import pytest
import torch

from mslearn.process import (cahn_hilliard, rosenthal_melt_pool, rosenthal_temperature,
                             structure_factor)


# ---------------------------------------------------------------- Cahn–Hilliard

def test_mass_conserved_and_energy_non_increasing_2d():
    result = cahn_hilliard((64, 64), 0.1, n_steps=400, save_every=20, device="cpu")
    assert result.frames.shape == (21, 64, 64) and result.times[-1] == pytest.approx(40.0)
    # mass: the k = 0 mode is never changed, so the mean stays at phi0 to round-off (1e-12)
    means = result.frames.reshape(21, -1).mean(axis=1)
    assert np.abs(means - 0.1).max() < 1e-12
    # energy: S = 1 makes the scheme energy stable; allow only round-off (1e-10 relative) increases
    assert np.diff(result.energy).max() <= 1e-10 * abs(result.energy[0])
    assert result.energy[-1] < 0.9 * result.energy[0]                # and it did decompose
    np.testing.assert_array_equal(result.phi, result.frames[-1])


def test_energy_non_increasing_for_a_large_step_3d():
    """Unconditional stability: even dt = 2 (against the growth time 4) never raises F."""
    result = cahn_hilliard((16, 16, 16), 0.0, dt=2.0, n_steps=60, save_every=1, device="cpu")
    assert np.diff(result.energy).max() <= 1e-10 * abs(result.energy[0])
    assert abs(result.phi.mean()) < 1e-12


def test_one_small_mode_grows_at_the_linear_stability_rate():
    """Cahn (1961), Acta Metall. 9, 795: about phi0 = 0 a mode cos(k x) of small amplitude grows as
    exp(omega t), omega = M k^2 (1 - gamma k^2). One mode (m = 7 periods in N = 64, k = 0.687, amplitude
    1e-6, no noise), dt = 0.01 to t = 20. Tolerances: 1.5 % relative on the measured rate against
    omega, the first-order time discretization (measured -0.81 %); 1e-6 relative against the scheme's own
    amplification factor G = (1 + dt M (S + 1) k^2) / (1 + dt M (S k^2 + gamma k^4)) per step (module
    docstring, f'(phi) ~ -phi linearized): the cubic term at amplitudes below 2e-4, measured 3e-9."""
    n, m, amplitude, dt, t_end = 64, 7, 1e-6, 0.01, 20.0
    k = 2 * math.pi * m / n
    start = np.tile(amplitude * np.cos(k * np.arange(n))[:, None], (1, 4))
    result = cahn_hilliard((n, 4), start, dt=dt, n_steps=round(t_end / dt), noise=0.0, device="cpu")
    final = 2 * np.abs(np.fft.fft(result.phi[:, 0]))[m] / n
    rate = math.log(final / amplitude) / t_end
    omega = k**2 * (1 - k**2)                                           # M = gamma = 1
    S = 1.0                                                             # the default stabilization
    scheme = math.log((1 + dt * (S + 1) * k**2) / (1 + dt * (S * k**2 + k**4))) / dt
    assert rate == pytest.approx(omega, rel=0.015)
    assert rate == pytest.approx(scheme, rel=1e-6)


def test_a_uniform_field_has_no_characteristic_length():
    """0/0 gave NaN silently (cahn_hilliard with noise=0 stays uniform): now NaN with a warning, the other
    runs of a batch measured as before."""
    stripes = np.cos(2 * np.pi * np.arange(32) / 8)[:, None] * np.ones((1, 32))
    with pytest.warns(RuntimeWarning, match="1 of 2 fields have no fluctuation"):
        sf = structure_factor(np.stack([np.full((32, 32), 0.3), stripes]), batch=True)
    assert np.isnan(sf.length[0]) and sf.length[1] == structure_factor(stripes).length


def test_structure_factor_measures_a_wavelength_on_a_non_square_grid():
    """The shells were counted to min(N) // 2 in the longest axis's step: on a 64x16 grid they stopped at
    k = pi/4 and stripes of wavelength 4 got the length 30.7. Now the shells reach pi/dx on any grid (to
    half a shell width, as on a square one); a square grid keeps its min(N) // 2 = max(N) // 2 shells."""
    stripes = np.cos(2 * np.pi * np.arange(64) / 4)[:, None] * np.ones((1, 16))
    for field in (stripes, stripes.T, stripes[:, :, None] * np.ones(8)):
        sf = structure_factor(field, dx=0.5)
        assert len(sf.k) == 32 and sf.k[-1] == pytest.approx(2 * math.pi, rel=0.02)
        assert abs(2 * math.pi / sf.length - 2 * math.pi / 2.0) <= 0.5 * 2 * math.pi / (64 * 0.5)
    assert len(structure_factor(np.ones((32, 32)) + np.eye(32)).k) == 16


def test_early_structure_factor_peaks_at_the_linear_stability_wavelength():
    """k_max^2 = (1 - 3 phi0^2) / (2 gamma): lambda = 2 pi / k_max = 8.886 for gamma = 1, phi0 = 0.

    Four 256^2 runs, noise 1e-3, t = 25 (amplitudes < 0.3: the cubic term is < 10 % of the linear
    one, linear growth dominates); parabola fit of
    log S(k) around the maximum. The time discretization (dt = 0.05) alone shifts the discrete
    fastest mode by +1.2 %; 5 % tolerance on the wavelength."""
    result = cahn_hilliard((4, 256, 256), 0.0, dt=0.05, n_steps=500, noise=1e-3, batch=True, device="cpu")
    assert np.abs(result.phi).max() < 0.3
    sf = structure_factor(result.phi, batch=True)
    s = sf.s.mean(axis=0)
    i = int(s.argmax())
    window = slice(i - 4, i + 5)
    c2, c1, _ = np.polyfit(sf.k[window], np.log(s[window]), 2)
    wavelength = 2 * math.pi / (-c1 / (2 * c2))
    expected = 2 * math.pi / math.sqrt(1 / 2)
    assert expected == pytest.approx(8.886, abs=1e-3)
    assert wavelength == pytest.approx(expected, rel=0.05)


def test_no_decomposition_outside_the_spinodal():
    """|phi0| = 0.7 > 1/sqrt(3): every mode decays, so the variance of small noise falls (by > 10x)."""
    result = cahn_hilliard((64, 64), 0.7, noise=0.01, n_steps=300, save_every=300, device="cpu")
    variance = result.frames.reshape(2, -1).var(axis=1)
    assert variance[1] < 0.1 * variance[0]
    inside = cahn_hilliard((64, 64), 0.4, noise=0.01, n_steps=1000, device="cpu")  # 0.4 < 0.577
    assert inside.phi.var() > 10 * variance[0]


def test_relaxed_stripe_has_the_tanh_profile():
    """A periodic stripe relaxes to tanh(x / sqrt(2 gamma)) at each interface (gamma = 2, dx = 0.5;
    the fixed point is reached: max abs deviation of the whole profile below 1e-5, measured 1.8e-7)."""
    n, dx, gamma = 128, 0.5, 2.0
    stripe = -np.ones((n, 4))
    stripe[n // 4: 3 * n // 4] = 1.0
    # the fixed point of the scheme is the spectral equilibrium whatever dt: large steps to t = 1000
    result = cahn_hilliard((n, 4), stripe, gamma=gamma, dx=dx, dt=1.0, n_steps=1000, noise=0.0,
                           device="cpu")
    x = np.arange(n) * dx
    left, right = (n // 4 - 0.5) * dx, (3 * n // 4 - 0.5) * dx
    width = math.sqrt(2 * gamma)
    profile = np.tanh((x - left) / width) * np.tanh((right - x) / width)
    assert np.abs(result.phi[:, 0] - profile).max() < 1e-5
    assert np.ptp(result.phi, axis=1).max() < 1e-12                  # stays one-dimensional


def test_batch_matches_separate_runs_and_takes_per_run_parameters():
    rng = np.random.default_rng(1)
    start = 0.05 * rng.standard_normal((2, 32, 32))
    gamma, mobility = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    batched = cahn_hilliard((2, 32, 32), start, gamma=gamma, mobility=mobility, noise=0.0, n_steps=100,
                            batch=True, device="cpu")
    assert batched.phi.shape == (2, 32, 32) and batched.energy.shape == (2, 2)
    for r in range(2):
        alone = cahn_hilliard((32, 32), start[r], gamma=gamma[r], mobility=mobility[r], noise=0.0,
                              n_steps=100, device="cpu")
        np.testing.assert_allclose(batched.phi[r], alone.phi, atol=1e-12)
        np.testing.assert_allclose(batched.energy[r], alone.energy, rtol=1e-12)
    means = cahn_hilliard((3, 16, 16), np.array([-0.2, 0.0, 0.3]), n_steps=10, batch=True, device="cpu")
    np.testing.assert_allclose(means.phi.mean(axis=(1, 2)), [-0.2, 0.0, 0.3], atol=1e-12)


def test_deterministic_and_torch_in_torch_out():
    a = cahn_hilliard((32, 32), 0.0, n_steps=50, seed=3, device="cpu")
    b = cahn_hilliard((32, 32), 0.0, n_steps=50, seed=3, device="cpu")
    c = cahn_hilliard((32, 32), 0.0, n_steps=50, seed=4, device="cpu")
    np.testing.assert_array_equal(a.phi, b.phi)
    assert not np.array_equal(a.phi, c.phi)
    t = cahn_hilliard((32, 32), torch.tensor(0.0), n_steps=50, seed=3, device="cpu")
    assert isinstance(t.phi, torch.Tensor)
    np.testing.assert_array_equal(t.phi.numpy(), a.phi)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(32,)), "spatial axes"),
    (dict(shape=(2, 2, 2, 2)), "spatial axes"),
    (dict(shape=(32, 32), gamma=-1.0), "gamma"),
    (dict(shape=(32, 32), mobility=0.0), "mobility"),
    (dict(shape=(32, 32), dt=-0.1), "dt"),
    (dict(shape=(32, 32), phi0=1.0), "phi0"),
    (dict(shape=(32, 32), phi0=-1.5), "phi0"),
    (dict(shape=(32, 32), phi0=np.zeros((16, 16))), "phi0"),
    (dict(shape=(32, 32), phi0=np.zeros(2)), "phi0"),
    (dict(shape=(2, 32, 32), gamma=np.ones(3), batch=True), "gamma"),
    (dict(shape=(32, 32), n_steps=-1), "n_steps"),
    (dict(shape=(32, 32), save_every=0), "save_every"),
    (dict(shape=(32, 32), noise=-0.1), "noise"),
    (dict(shape=(32, 32), noise=True), "noise"),
])
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cahn_hilliard(**{"n_steps": 1, "device": "cpu", **kwargs})


def test_a_grid_size_must_be_an_integer():
    """int() truncated the sizes: shape=(16.9, 16) and ("16", 16) ran silently as (16, 16)."""
    for shape, shown in (((16.9, 16), "0] must be an integer >= 1, got float 16.9"),
                         (("16", 16), "0] must be an integer >= 1, got str '16'"),
                         ((2, 16, 16.0), "2] must be an integer >= 1, got float 16.0")):
        with pytest.raises(TypeError, match=r"shape\[" + shown):
            cahn_hilliard(shape, n_steps=1, batch=len(shape) == 3, device="cpu")
    for shape in (np.array([16, 16]), torch.Size([16, 16]), (np.int64(16), 16)):
        assert cahn_hilliard(shape, n_steps=1, device="cpu").phi.shape == (16, 16)


# ---------------------------------------------------------------- Rosenthal melt pool

STEEL = dict(k=25.0, rho_c=5e6, T0=300.0, T_melt=1700.0)


def test_melt_pool_boundary_lies_on_the_melt_isotherm():
    """Front, rear and the widest point are on T = T_melt to 1e-9 relative (exact formulas)."""
    pool = rosenthal_melt_pool(200.0, 1.0, **STEEL)
    field = dict(k=25.0, rho_c=5e6, T0=300.0)
    assert rosenthal_temperature(pool.front, 0, 0, 200.0, 1.0, **field) == pytest.approx(1700.0, rel=1e-9)
    assert rosenthal_temperature(-pool.rear, 0, 0, 200.0, 1.0, **field) == pytest.approx(1700.0, rel=1e-9)
    assert pool.depth == pool.half_width and pool.length == pytest.approx(pool.front + pool.rear)
    # the widest point: on a fine (xi, y) grid the melt region's largest y matches to 0.1 %
    xi = np.linspace(-pool.rear, pool.front, 2001)
    y = np.linspace(0, 1.2 * pool.half_width, 4001)
    temperature = rosenthal_temperature(xi[:, None], y[None, :], 0.0, 200.0, 1.0, **field)
    assert y[(temperature >= 1700.0).any(axis=0)].max() == pytest.approx(pool.half_width, rel=1e-3)
    # the cooling rate is -v dT/dxi at the trailing edge: central difference to 1e-6
    h = 1e-9
    slope = (rosenthal_temperature(-pool.rear + h, 0, 0, 200.0, 1.0, **field)
             - rosenthal_temperature(-pool.rear - h, 0, 0, 200.0, 1.0, **field)) / (2 * h)
    assert pool.cooling_rate == pytest.approx(1.0 * slope, rel=1e-6)


def test_melt_pool_asymptotes():
    """Low speed (n = 0.009): hemisphere q/(2 pi k dT) within 1 %; high speed (n = 909):
    sqrt(2q/(pi e rho_c v dT)) within 0.1 % (the exact relative errors are 0.9 % and 0.075 %)."""
    q, dT = 200.0, 1400.0
    slow = rosenthal_melt_pool(q, 1e-4, **STEEL)
    assert slow.n < 0.01
    assert slow.half_width == pytest.approx(q / (2 * math.pi * 25.0 * dT), rel=0.01)
    assert slow.length == pytest.approx(2 * slow.half_width, rel=0.02)
    fast = rosenthal_melt_pool(q, 10.0, **STEEL)
    assert fast.n > 900
    assert fast.half_width == pytest.approx(math.sqrt(2 * q / (math.pi * math.e * 5e6 * 10.0 * dT)), rel=1e-3)
    assert fast.rear == pytest.approx(q / (2 * math.pi * 25.0 * dT), rel=1e-12)   # speed-independent


def test_melt_pool_monotone_in_power_and_speed():
    powers, speeds = np.linspace(50, 500, 10), np.geomspace(1e-3, 10, 10)
    by_power = rosenthal_melt_pool(powers, 1.0, **STEEL)
    by_speed = rosenthal_melt_pool(200.0, speeds, **STEEL)
    assert np.all(np.diff(by_power.half_width) > 0) and np.all(np.diff(by_power.length) > 0)
    assert np.all(np.diff(by_power.cooling_rate) < 0)
    assert np.all(np.diff(by_speed.half_width) < 0) and np.all(np.diff(by_speed.cooling_rate) > 0)
    # alpha or rho_c give the same pool
    assert rosenthal_melt_pool(200.0, 1.0, k=25.0, alpha=5e-6, T0=300.0, T_melt=1700.0).half_width == \
        pytest.approx(rosenthal_melt_pool(200.0, 1.0, **STEEL).half_width, rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(q=-1.0), "q"), (dict(v=0.0), "v"), (dict(k=-25.0), "k"),
    (dict(T_melt=200.0), "T_melt"), (dict(alpha=5e-6), "exactly one"),
    (dict(rho_c=0.0), r"rho_c = 0.0; expected finite values > 0"),     # was reported as "rho_c = inf"
])
def test_melt_pool_bad_input_is_refused(kwargs, match):
    arguments = {"q": 200.0, "v": 1.0, **STEEL, **kwargs}
    with pytest.raises(ValueError, match=match):
        rosenthal_melt_pool(**arguments)


@pytest.mark.parametrize("kwargs, match", [
    (dict(q=200.0 + 1j), r"q has the complex dtype complex128; expected real numbers"),     # float()'s TypeError
    (dict(v=np.array([1.0 + 0.5j])), r"v has the complex dtype"),        # lost its imaginary part, with a warning
    (dict(k=25.0 + 0j), r"k has the complex dtype"),
    (dict(rho_c=5e6 + 0j), r"rho_c has the complex dtype"),
    (dict(T0=300.0 + 1j), r"T0 has the complex dtype"),
    (dict(T_melt=1700.0 + 1j), r"T_melt has the complex dtype"),
    (dict(q="200"), r"q = '200' \(dtype <U3\); expected real numbers"),    # was read as 200
    (dict(q=True), r"q = True \(dtype bool\); expected real numbers"),      # was read as 1
])
def test_melt_pool_refuses_what_is_not_real(kwargs, match):
    """A complex q (or another input) raised float()'s raw "float() argument must be ... not 'complex'", a complex
    array was cast to real with a ComplexWarning, a string or bool was read as a number; each is refused by name."""
    arguments = {"q": 200.0, "v": 1.0, **STEEL, **kwargs}
    with pytest.raises(TypeError, match=match):
        rosenthal_melt_pool(**arguments)
    with pytest.raises(TypeError, match=r"xi has the complex dtype complex128; expected real numbers"):
        rosenthal_temperature(-1e-3 + 1j, 0.0, 0.0, 100.0, 1.0, k=20.0, alpha=5e-6)


def test_unstable_time_step_is_refused_with_the_stable_range():
    """Without full stabilization (S < 1) the scheme is stable about the equilibrium phases only for
    dt <= 2 gamma / (M (1 - S)^2) (linear stability, f'' = 2): a larger dt is refused, naming the range, before any
    step is taken; 0.9 of the limit runs 3000 steps to a bounded field (|phi| within 2 % of 1)."""
    with pytest.raises(ValueError, match=r"stable range .* dt < 2 gamma / \(M \(1 - S\)\^2\) = 2"):
        cahn_hilliard((32, 32), 0.0, dt=2.5, stabilization=0.0, n_steps=10)
    with pytest.raises(ValueError, match=r"= 8"):                       # gamma 1, M 1, S 0.5: 2 / 0.25
        cahn_hilliard((32, 32), 0.0, dt=9.0, stabilization=0.5, n_steps=10)
    result = cahn_hilliard((64, 64), 0.0, dt=0.9 * 2.0, stabilization=0.0, n_steps=3000, noise=0.1, device="cpu")
    assert np.all(np.isfinite(result.phi)) and np.abs(result.phi).max() < 1.02
    cahn_hilliard((16, 16), 0.0, dt=50.0, n_steps=5)                    # S = 1: every dt is stable


def test_a_finite_but_diverged_run_is_reported():
    """Noise 2 starts |phi| at 6, where f'' = 3 phi^2 - 1 is far beyond what S = 1 stabilizes: |phi| reached 1.6e67
    in 5 steps, still finite, and was returned. Now beyond the energy bound sqrt(1 + 2 sqrt(F_0)) (12.4 here) it
    raises; the same start with a small step decays and runs, and a uniform phi = 1 (F_0 = 0) is not refused."""
    with pytest.raises(FloatingPointError, match=r"diverged: \|phi\| reached 1.63e\+67, beyond 12.4, .*initial max "
                                                 r"\|phi\| 6.22\); lower dt"):
        cahn_hilliard((16, 16), 0.0, noise=2.0, n_steps=5, device="cpu")
    with pytest.raises(FloatingPointError, match=r"diverged: \|phi\| reached"):   # per run in a batch
        cahn_hilliard((2, 16, 16), np.array([0.0, 0.0]), noise=2.0, n_steps=1, batch=True, device="cpu")
    assert np.abs(cahn_hilliard((16, 16), 0.0, noise=2.0, dt=0.001, n_steps=5, device="cpu").phi).max() < 6.22
    assert np.abs(cahn_hilliard((16, 16), np.ones((16, 16)), n_steps=50, device="cpu").phi).max() == pytest.approx(1)


def test_structure_factor_rejects_a_nan_field_and_a_bad_spacing():
    with pytest.raises(ValueError, match="NaN or inf"):
        structure_factor(np.full((8, 8), np.nan))                  # gave all-NaN s and length
    for dx in (-1.0, 0.0, math.inf):
        with pytest.raises(ValueError, match="positive, finite grid spacing"):
            structure_factor(np.random.default_rng(0).random((8, 8)), dx=dx)


def test_a_run_continued_from_its_field_is_the_longer_run():
    # a whole field starts without noise by default: 60 + 40 steps are the 100 steps of one run (to round-off)
    once = cahn_hilliard((32, 32), 0.1, n_steps=100, seed=2, device="cpu").phi
    half = cahn_hilliard((32, 32), 0.1, n_steps=60, seed=2, device="cpu").phi
    np.testing.assert_allclose(cahn_hilliard((32, 32), half, n_steps=40, device="cpu").phi, once, atol=1e-12)
    # asked for, noise perturbs a field; a mean composition gets 0.01 by default
    perturbed = cahn_hilliard((32, 32), half, n_steps=0, noise=0.01, device="cpu").phi
    assert 0.005 < float(np.std(perturbed - half)) < 0.02
    start = cahn_hilliard((32, 32), 0.1, n_steps=0, seed=2, device="cpu").phi
    assert float(np.std(start)) == pytest.approx(0.01, rel=0.1) and abs(float(np.mean(start)) - 0.1) < 1e-12


def test_a_run_continued_with_start_step_reports_the_times_of_the_longer_run():
    # start_step (as grain_growth's start_sweep): the steps, times and saved frames of the uninterrupted run
    once = cahn_hilliard((32, 32), 0.0, n_steps=6, save_every=2, device="cpu")
    first = cahn_hilliard((32, 32), 0.0, n_steps=3, save_every=2, device="cpu")
    rest = cahn_hilliard((32, 32), first.phi, n_steps=3, save_every=2, start_step=3, device="cpu")
    np.testing.assert_array_equal(once.times, [0 * 0.1, 2 * 0.1, 4 * 0.1, 6 * 0.1])     # step * dt
    np.testing.assert_array_equal(rest.times, [3 * 0.1, 4 * 0.1, 6 * 0.1])     # its start, then steps 4 and 6
    np.testing.assert_array_equal(rest.frames[0], first.phi)
    assert np.abs(rest.phi - once.phi).max() < 1e-17                    # measured 3.9e-18: round-off
    assert np.abs(rest.frames[1:] - once.frames[2:]).max() < 1e-17
    np.testing.assert_allclose(rest.energy[1:], once.energy[2:], rtol=1e-14)
    # a batch, longer: 300 + 300 steps against 600 (2.4e-15)
    once = cahn_hilliard((2, 32, 32), 0.0, n_steps=600, save_every=100, batch=True, device="cpu")
    first = cahn_hilliard((2, 32, 32), 0.0, n_steps=300, save_every=100, batch=True, device="cpu")
    rest = cahn_hilliard((2, 32, 32), first.phi, n_steps=300, save_every=100, start_step=300, batch=True,
                         device="cpu")
    np.testing.assert_array_equal(rest.times, once.times[3:])
    assert np.abs(rest.frames - once.frames[:, 3:]).max() < 1e-13
    np.testing.assert_allclose(rest.energy, once.energy[:, 3:], rtol=1e-13)


def test_start_step_needs_a_field_and_a_count():
    with pytest.raises(ValueError, match="start_step = 5 continues a run from its field, but phi0 is a mean "
                                         r"composition; pass the previous result's phi \(shape \(16, 16\)\)"):
        cahn_hilliard((16, 16), 0.0, n_steps=1, start_step=5, device="cpu")
    for bad in (-1, 2.0, True):
        with pytest.raises((TypeError, ValueError), match="start_step"):
            cahn_hilliard((16, 16), np.zeros((16, 16)), n_steps=1, start_step=bad, device="cpu")


def test_rosenthal_temperature_refuses_nan_and_unmatched_points():
    with pytest.raises(ValueError, match="xi contains NaN or an infinite value"):
        rosenthal_temperature(np.nan, 0.0, 0.0, 200.0, 1.0, k=25.0, rho_c=5e6, T0=300.0)          # was a NaN temperature
    with pytest.raises(ValueError, match=r"xi, y, z have the shapes \(3,\), \(2,\), \(\)"):
        rosenthal_temperature(np.zeros(3), np.zeros(2), 0.0, 200.0, 1.0, k=25.0, rho_c=5e6, T0=300.0)


def test_melt_pool_takes_numbers_of_every_kind():
    """The check that refuses complex numbers, bools and strings (above) also refused Fractions, Decimals and
    object arrays of numbers, which float() reads exactly; they are taken again, as lpbf_track takes them."""
    from decimal import Decimal
    from fractions import Fraction

    expected = rosenthal_melt_pool(q=200.0, v=1.0, **STEEL)
    for q in (Fraction(200), Decimal(200), np.array(200.0, dtype=object), np.float32(200.0), 200):
        assert rosenthal_melt_pool(q=q, v=1.0, **STEEL) == expected
