"""J2 elasto-plastic FFT homogenization (mslearn.homogenization.plasticity) against independent references.

The reference material point below is written in plain numpy on full 3x3 tensors (not Mandel vectors,
not the module's code); the laminate reference solves its few interface unknowns with scipy.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import fsolve

from mslearn.homogenization import ConvergenceWarning, PlasticityResult, elasticity, plasticity

R2 = math.sqrt(2.0)
SOFT = {"E": 1.0, "nu": 0.3, "yield_stress": 0.01, "hardening": 0.1}
HARD = {"E": 3.0, "nu": 0.2, "yield_stress": 0.03, "hardening": 0.5}
# Mandel components (i, j) in the solver's order: 2D (11, 22, 12), 3D (11, 22, 33, 23, 13, 12)
PAIRS = {3: [(0, 0), (1, 1), (0, 1)], 6: [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]}


# ----------------------------------------------------------------------------- independent references
def to_tensor(v):
    """Mandel vector (3 plane strain, 6 3D) -> 3x3 tensor (plane strain: zero 33, 13, 23)."""
    t = np.zeros((3, 3))
    for value, (i, j) in zip(v, PAIRS[len(v)]):
        t[i, j] = t[j, i] = value if i == j else value / R2
    return t


def to_mandel(t, m):
    return np.array([t[i, j] if i == j else R2 * t[i, j] for i, j in PAIRS[m]])


def material_point(eps, eps_p, alpha, phase):
    """Backward-Euler J2 radial return with linear isotropic hardening, 3x3 tensors (Simo & Hughes Box 3.1)."""
    E, nu, sy, H = phase["E"], phase["nu"], phase["yield_stress"], phase.get("hardening", 0.0)
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    ee = eps - eps_p
    sig = lam * np.trace(ee) * np.eye(3) + 2 * mu * ee
    s = sig - np.trace(sig) / 3 * np.eye(3)
    q = math.sqrt(1.5 * np.sum(s * s))
    f = q - (sy + H * alpha)
    if f <= 0:
        return sig, eps_p, alpha
    dgamma = f / (3 * mu + H)
    N = 1.5 * s / q
    return sig - 2 * mu * dgamma * N, eps_p + dgamma * N, alpha + dgamma


def material_path(history, phase):
    """Stress history (Mandel), final plastic strain and alpha of one material point along a strain history."""
    m = history.shape[1]
    eps_p, alpha, out = np.zeros((3, 3)), 0.0, []
    for row in history:
        sig, eps_p, alpha = material_point(to_tensor(row), eps_p, alpha, phase)
        out.append(to_mandel(sig, m))
    return np.array(out), eps_p, alpha, sig


def laminate(history, phases, f1):
    """Exact response of a two-layer laminate (normal e1): in-layer strains equal the macro ones; the
    tractions (11, 12[, 13]) are continuous; the layer mean of (11, 12[, 13]) strains is prescribed.
    Returns the macro stress history and the final layer strains (Mandel)."""
    m = history.shape[1]
    jump = [0, 2] if m == 3 else [0, 5, 4]                       # Mandel 11, 12 (, 13): the traction components
    f0 = 1 - f1
    state = [(np.zeros((3, 3)), 0.0), (np.zeros((3, 3)), 0.0)]
    guess, out = history[0][jump], []

    def layers(x, E):
        e0, e1 = E.copy(), E.copy()
        e0[jump] = x
        e1[jump] = (E[jump] - f0 * x) / f1
        return e0, e1

    def respond(e, k):
        return material_point(to_tensor(e), *state[k], phases[k])

    for E in history:
        def residual(x):
            e0, e1 = layers(x, E)
            return to_mandel(respond(e0, 0)[0], m)[jump] - to_mandel(respond(e1, 1)[0], m)[jump]
        x = fsolve(residual, guess, xtol=1e-14, full_output=True)[0]
        assert np.abs(residual(x)).max() < 1e-13
        e0, e1 = layers(x, E)
        r0, r1 = respond(e0, 0), respond(e1, 1)
        state = [(r0[1], r0[2]), (r1[1], r1[2])]
        out.append(f0 * to_mandel(r0[0], m) + f1 * to_mandel(r1[0], m))
        guess = x
    return np.array(out), (e0, e1)


def path(m, scale, steps=5, seed=0):
    """A multiaxial strain path 0 -> A -> -B -> C (loading, unloading, reversal), ``steps`` per segment."""
    corners = np.random.default_rng(seed).uniform(-1, 1, (3, m)) * scale
    corners[0, 0], corners[1, 0], corners[2, 0] = 3 * scale, -2 * scale, 2.5 * scale
    points = [np.zeros(m), *corners]
    return np.concatenate([np.linspace(a, b, steps + 1)[1:] for a, b in zip(points[:-1], points[1:])])


def relative(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max()


# ----------------------------------------------------------------------------- 1. one phase = material point
@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4)])
def test_uniform_rve_reproduces_the_material_point(shape):
    m = 3 if len(shape) == 2 else 6
    history = path(m, 0.01)
    result = plasticity(np.zeros(shape, dtype=int), [SOFT], history, return_fields=True, device="cpu")
    reference, eps_p, alpha, sig = material_path(history, SOFT)
    assert isinstance(result, PlasticityResult) and result.converged
    assert relative(result.stress, reference) < 1e-10            # macro stress = material point, 1e-10 relative
    np.testing.assert_allclose(result.strain, history, rtol=0, atol=1e-15)   # prescribed strain kept
    plastic = result.fields["plastic_strain"].reshape(6, -1)
    assert np.ptp(plastic, axis=1).max() < 1e-12                   # uniform fields
    assert relative(plastic[:, 0], to_mandel(eps_p, 6)) < 1e-10    # plastic strain, all 6 components, 1e-10
    assert abs(result.fields["equivalent_plastic_strain"].mean() - alpha) < 1e-10 * alpha
    assert alpha > 0                                               # the path did yield
    if m == 3:                                                     # plane strain: eps_p_33 != 0, sigma_33 != 0
        assert abs(eps_p[2, 2]) > 1e-3
        assert abs(result.fields["stress_33"].mean() - sig[2, 2]) < 1e-10 * np.abs(sig).max()


def test_uniaxial_strain_closed_form():
    """e11 only (plane strain): slope lambda + 2 mu to e_y = sigma_y / (2 mu), then K + 4/3 mu H / (3 mu + H)."""
    E, nu, sy, H = SOFT["E"], SOFT["nu"], SOFT["yield_stress"], SOFT["hardening"]
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    K, ey = lam + 2 * mu / 3, sy / (2 * mu)
    e = np.linspace(0, 4 * ey, 9)[1:]
    history = np.stack([e, 0 * e, 0 * e], 1)
    sigma = plasticity(np.zeros((4, 4), dtype=int), [SOFT], history, device="cpu").stress[:, 0]
    exact = np.where(e <= ey, (lam + 2 * mu) * e, (lam + 2 * mu) * ey + (K + 4 / 3 * mu * H / (3 * mu + H)) * (e - ey))
    assert relative(sigma, exact) < 1e-10                          # closed form, 1e-10 relative
    assert relative(sigma, material_path(history, SOFT)[0][:, 0]) < 1e-10


def test_uniaxial_stress_closed_form_with_mixed_control():
    """sigma = sigma_y + E H / (E + H) (e - sigma_y / E) in tension, unloading slope E; lateral stresses 0."""
    E, nu, sy, H = SOFT["E"], SOFT["nu"], SOFT["yield_stress"], SOFT["hardening"]
    ey = sy / E
    e = np.concatenate([np.linspace(0, 5 * ey, 11)[1:], 5 * ey - np.linspace(0, ey, 5)[1:]])
    history = np.zeros((len(e), 6))
    history[:, 0] = e
    history[:, 1:] = 123.0                                         # ignored: these strains are solved for
    result = plasticity(np.zeros((2, 2, 2), dtype=int), [SOFT], history, stress_free=[False] + [True] * 5,
                        tol=1e-12, device="cpu")
    loading = np.where(e[:10] <= ey, E * e[:10], sy + E * H / (E + H) * (e[:10] - ey))
    top = loading[-1]
    exact = np.concatenate([loading, top - E * (e[9] - e[10:])])
    s = result.stress
    assert relative(s[:, 0], exact) < 1e-10                        # uniaxial closed form, 1e-10 relative
    assert np.abs(s[:, 1:]).max() < 1e-10 * top                   # the stress-free components are free
    plastic = e - s[:, 0] / E                                      # e22 = -nu sigma / E - e_p / 2 (incompressible flow)
    assert relative(result.strain[:, 1], -nu * s[:, 0] / E - plastic / 2) < 1e-9
    assert max(len(r) for r in result.residuals) <= 6              # Newton on the macro strain: few corrections


# ----------------------------------------------------------------------------- 2. laminate, exact
@pytest.mark.parametrize("shape", [(8, 4), (8, 2, 2)])
def test_laminate_matches_its_exact_solution(shape):
    m = 3 if len(shape) == 2 else 6
    labels = np.zeros(shape, dtype=int)
    labels[:3] = 1                                                 # layers normal to axis 1, f1 = 3/8
    history = path(m, 0.015, steps=4, seed=1)
    result = plasticity(labels, [SOFT, HARD], history, tol=1e-10, return_fields=True, device="cpu")
    reference, (e0, e1) = laminate(history, [SOFT, HARD], 3 / 8)
    assert result.converged
    assert relative(result.stress, reference) < 1e-9              # exact laminate, 1e-9 relative in stress
    strain = result.fields["strain"].reshape(m, -1)
    inside = labels.reshape(-1)
    assert relative(strain[:, inside == 0].mean(1), e0) < 1e-8     # layer strains, 1e-8 relative
    assert relative(strain[:, inside == 1].mean(1), e1) < 1e-8
    alpha = result.fields["equivalent_plastic_strain"].reshape(-1)
    assert alpha[inside == 0].min() > 0 and alpha[inside == 1].min() > 0   # both layers went plastic


def test_mixed_control_equals_its_solved_strain_prescribed():
    labels = (np.random.default_rng(3).random((12, 12)) < 0.4).astype(int)
    history = np.zeros((6, 3))
    history[:, 0] = np.linspace(0.005, 0.03, 6)
    mixed = plasticity(labels, [SOFT, HARD], history, stress_free=[False, True, True], tol=1e-10, device="cpu")
    assert np.abs(mixed.stress[:, 1:]).max() < 1e-9 * np.abs(mixed.stress).max()   # free components at zero
    again = plasticity(labels, [SOFT, HARD], mixed.strain, tol=1e-10, device="cpu")
    assert relative(again.stress, mixed.stress) < 1e-8            # same state by either control, 1e-8


# ----------------------------------------------------------------------------- 3. quadratic convergence
def test_newton_converges_quadratically():
    labels = (np.random.default_rng(0).random((16, 16)) < 0.4).astype(int)
    history = np.array([[0.01, 0.0, 0.0], [0.013, -0.002, 0.002]])
    result = plasticity(labels, [SOFT, HARD], history, tol=1e-13, device="cpu")
    r = np.array(result.residuals[1])                              # here 1.5e-1 6.9e-2 4.2e-3 2.8e-5 6.0e-8 7.3e-14
    assert r[-1] <= 1e-13 and len(r) >= 4
    pairs = [(a, b) for a, b in zip(r[:-1], r[1:]) if a < 1e-2]
    assert len(pairs) >= 2, r
    for a, b in pairs:                                             # quadratic: r_{k+1} <= C r_k^2, C = 1000
        assert b <= 1e3 * a * a, r
    a, b = pairs[-1]
    assert math.log(b) / math.log(a) >= 1.8, r                     # last correction: order >= 1.8


# ----------------------------------------------------------------------------- 4. linear limit
@pytest.mark.parametrize("shape", [(16, 16), (6, 6, 6)])
def test_elastic_limit_equals_elasticity(shape):
    m = 3 if len(shape) == 2 else 6
    labels = (np.random.default_rng(1).random(shape) < 0.4).astype(int)
    phases = [dict(SOFT, yield_stress=np.inf), dict(HARD, yield_stress=np.inf)]
    C = elasticity(labels, [{"E": p["E"], "nu": p["nu"]} for p in phases], tol=1e-10, device="cpu").effective
    history = path(m, 0.01, steps=1)
    result = plasticity(labels, phases, history, tol=1e-10, device="cpu")
    assert relative(result.stress, history @ C.T) < 1e-8          # stress = C_eff strain, 1e-8 relative


# ----------------------------------------------------------------------------- 5. batch, determinism, dtype, input
def test_batch_equals_loop_and_is_deterministic():
    rng = np.random.default_rng(2)
    labels = (rng.random((2, 8, 8)) < 0.4).astype(int)
    histories = np.stack([path(3, 0.01, steps=2, seed=s) for s in (4, 5)])
    batched = plasticity(labels, [SOFT, HARD], histories, batch=True, tol=1e-10, device="cpu")
    shared = plasticity(labels, [SOFT, HARD], histories[0], batch=True, tol=1e-10, device="cpu")
    assert batched.stress.shape == (2, len(histories[0]), 3)
    for b in range(2):
        alone = plasticity(labels[b], [SOFT, HARD], histories[b], tol=1e-10, device="cpu")
        assert relative(batched.stress[b], alone.stress) < 1e-9    # batch = loop, 1e-9 relative
    alone = plasticity(labels[1], [SOFT, HARD], histories[0], tol=1e-10, device="cpu")
    assert relative(shared.stress[1], alone.stress) < 1e-9          # one history for all RVEs
    again = plasticity(labels, [SOFT, HARD], histories, batch=True, tol=1e-10, device="cpu")
    np.testing.assert_array_equal(again.stress, batched.stress)   # deterministic: bit for bit


def test_float32_torch_input_and_fields():
    # an odd grid: on even grids the solver's float32 projection keeps the Nyquist (hourglass) mode, whose
    # rotated-scheme wave vector rounds to ~1e-8 instead of 0 (elasticity(dtype=float32) is off by ~1e-3 there too)
    labels = torch.as_tensor((np.random.default_rng(0).random((9, 9)) < 0.4).astype(np.int64))
    history = path(3, 0.01, steps=2)
    r32 = plasticity(labels, [SOFT, HARD], history, dtype=torch.float32, tol=1e-4, device="cpu", return_fields=True)
    r64 = plasticity(labels, [SOFT, HARD], history, tol=1e-8, device="cpu")
    assert isinstance(r32.stress, torch.Tensor) and r32.stress.dtype == torch.float32   # torch in, torch out
    assert relative(r32.stress.double().numpy(), r64.stress.numpy()) < 1e-4   # float32 at tol 1e-4: 1e-4 relative
    shapes = {key: tuple(value.shape) for key, value in r32.fields.items()}
    assert shapes == {"strain": (3, 9, 9), "stress": (3, 9, 9), "plastic_strain": (6, 9, 9),
                      "equivalent_plastic_strain": (9, 9), "stress_33": (9, 9)}
    assert r32.newton_iterations.shape == r32.cg_iterations.shape == (len(history),)


def test_non_convergence_warns():
    labels = (np.random.default_rng(0).random((8, 8)) < 0.4).astype(int)
    with pytest.warns(ConvergenceWarning, match=r"load step 0 .*relative residual .* > tol"):
        result = plasticity(labels, [SOFT, HARD], np.array([[0.03, 0.0, 0.0]]), max_iter=1, device="cpu")
    assert not result.converged


def test_progress_bar_runs():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = plasticity(np.zeros((4, 4), dtype=int), [SOFT], path(3, 0.01, steps=1), progress=True, device="cpu")
    assert result.converged



# ----------------------------------------------------------------------------- 6. units: the phases scaled by 2^k
def scaled(phases, factor):
    """The phases with E, yield_stress and hardening times ``factor`` (J2 is homogeneous of degree one in them)."""
    return [{key: value * factor if key != "nu" else value for key, value in p.items()} for p in phases]


@pytest.mark.parametrize("dtype, exponents", [(torch.float64, (0, 43, 100, 300, -60)), (torch.float32, (0, 43, 100))])
@pytest.mark.parametrize("shape, free", [((9, 9), None), ((5, 5, 5), [False] + [True] * 5)])
def test_phases_scaled_by_a_power_of_two_scale_the_stresses_exactly(dtype, exponents, shape, free):
    # E = 1, 2^43 (~1e13: Pa), 2^100 (~1e30), 2^300 in float64: the solve runs on the same scaled phases,
    # so the stresses (history and fields) are exact 2^k copies and the strains, iterations, residuals equal
    labels = (np.random.default_rng(0).random((2, *shape)) < 0.4).astype(int)
    history = path(len(shape) * 3 - 3, 0.01, steps=2)
    tol = 1e-5 if dtype == torch.float32 else 1e-8
    runs = {k: plasticity(labels, scaled([SOFT, HARD], 2.0 ** k), history, batch=True, stress_free=free, tol=tol,
                          dtype=dtype, device="cpu", return_fields=True) for k in exponents}
    one = runs[0]
    assert one.converged
    for k, run in runs.items():
        np.testing.assert_array_equal(run.stress, one.stress * 2.0 ** k)
        np.testing.assert_array_equal(run.strain, one.strain)
        np.testing.assert_array_equal(run.newton_iterations, one.newton_iterations)
        np.testing.assert_array_equal(run.cg_iterations, one.cg_iterations)
        assert run.residuals == one.residuals
        for key, value in run.fields.items():
            factor = 2.0 ** k if key.startswith("stress") else 1.0
            np.testing.assert_array_equal(value, one.fields[key] * factor, err_msg=key)


def test_moduli_in_pascal_converge_in_float32():
    # E ~ 1e13 in float32: CG's inner products (~K^3) overflowed, every CG ran to cg_max_iter (1000) and at
    # 16^3 the last step failed (ConvergenceWarning); the phases are now scaled by a power of two near them
    labels = (np.random.default_rng(0).random((8, 8, 8)) < 0.4).astype(int)
    history = np.zeros((3, 6))
    history[:, 0] = [0.01, 0.03, 0.0]
    uniaxial = [False] + [True] * 5
    reference = plasticity(labels, [SOFT, HARD], history, stress_free=uniaxial, tol=1e-5, dtype=torch.float32,
                           device="cpu")
    for factor in (1e13, 1e30):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            result = plasticity(labels, scaled([SOFT, HARD], factor), history, stress_free=uniaxial, tol=1e-5,
                                dtype=torch.float32, device="cpu")
        assert result.converged and result.cg_iterations.max() < 100       # was 9000 a step at 1e13
        assert relative(result.stress / factor, reference.stress) < 1e-4     # the same solution relative to E



# ----------------------------------------------------------------------------- 7. resume: initial=
def assert_same_result(a, b):
    for name in ("stress", "strain", "newton_iterations", "cg_iterations"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.residuals == b.residuals and a.converged == b.converged
    assert a.fields.keys() == b.fields.keys()
    for key in a.fields:
        np.testing.assert_array_equal(a.fields[key], b.fields[key], err_msg=key)


@pytest.mark.parametrize("shape, batch, free, dtype", [
    ((2, 9, 9), True, None, torch.float64),                                 # one history per RVE
    ((2, 5, 5, 5), True, [False] + [True] * 5, torch.float64),              # uniaxial stress
    ((9, 9), False, [False, True, False], torch.float64),
    ((2, 9, 9), True, [False, True, True], torch.float32),
])
def test_a_continued_run_equals_the_uninterrupted_run_bit_for_bit(shape, batch, free, dtype):
    labels = (np.random.default_rng(1).random(shape) < 0.4).astype(int)
    m = 3 if len(shape) - batch == 2 else 6
    history = path(m, 0.01, steps=2)                                        # load, unload, reverse: 6 steps
    if batch and m == 3:
        history = np.stack([history, path(m, 0.01, steps=2, seed=3)])
    options = dict(batch=batch, stress_free=free, dtype=dtype, tol=1e-5 if dtype == torch.float32 else 1e-8,
                   device="cpu", return_fields=True)
    whole = plasticity(labels, [SOFT, HARD], history, **options)
    assert whole.converged
    first = plasticity(labels, [SOFT, HARD], history[..., :2, :], **options)
    second = plasticity(labels, [SOFT, HARD], history[..., 2:4, :], initial=first, **options)
    third = plasticity(labels, [SOFT, HARD], history[..., 4:, :], initial=second, **options)
    assert_same_result(third, whole)
    assert first.stress.shape[-2] == 2 and second.stress.shape[-2] == 4     # the earlier steps come first
    np.testing.assert_array_equal(first.fields["strain"], plasticity(labels, [SOFT, HARD], history[..., :2, :],
                                                                     **options).fields["strain"])   # not changed


def test_a_continuation_of_torch_results_without_fields_at_the_end():
    labels = torch.as_tensor((np.random.default_rng(0).random((9, 9)) < 0.4).astype(np.int64))
    history = path(3, 0.01, steps=2)
    whole = plasticity(labels, [SOFT, HARD], history, device="cpu")
    first = plasticity(labels, [SOFT, HARD], history[:3], device="cpu", return_fields=True)
    rest = plasticity(labels, [SOFT, HARD], history[3:], device="cpu", initial=first)
    assert isinstance(rest.stress, torch.Tensor) and rest.fields is None
    assert torch.equal(rest.stress, whole.stress) and torch.equal(rest.strain, whole.strain)
    with pytest.raises(ValueError, match=r"without its state .*return_fields=True"):
        plasticity(labels, [SOFT, HARD], history[3:], device="cpu", initial=rest)


@pytest.mark.parametrize("change, differs", [
    (dict(labels=np.zeros((2, 8, 8), dtype=int)), "labels"),                # other labels shape
    (dict(labels=np.ones((2, 9, 9), dtype=int)), "labels"),                 # same shape, other labels
    (dict(phases=[SOFT, dict(HARD, hardening=0.4)]), "phases"),
    (dict(stress_free=[False, True, False]), "stress_free"),
    (dict(dtype=torch.float32), "dtype"),
])
def test_a_mismatched_continuation_is_refused_naming_what_differs(change, differs):
    labels = (np.random.default_rng(0).random((2, 9, 9)) < 0.4).astype(int)
    history = path(3, 0.01, steps=1)
    first = plasticity(labels, [SOFT, HARD], history[:1], batch=True, device="cpu", return_fields=True)
    call = dict(labels=labels, phases=[SOFT, HARD], stress_free=None, dtype=torch.float64) | change
    with pytest.raises(ValueError, match=rf"initial solved another problem .*differs in: {differs};"):
        plasticity(call["labels"], call["phases"], history[1:], batch=True, stress_free=call["stress_free"],
                   dtype=call["dtype"], device="cpu", initial=first)
    with pytest.raises(ValueError, match=r"differs in: labels, batch;"):
        plasticity(labels[0], [SOFT, HARD], history[1:], device="cpu", initial=first)
    with pytest.raises(TypeError, match=r"initial is dict; expected the PlasticityResult of a previous"):
        plasticity(labels, [SOFT, HARD], history[1:], batch=True, device="cpu", initial=first.fields)


LABELS = np.zeros((4, 4), dtype=int)
HISTORY = np.array([[0.01, 0.0, 0.0]])


@pytest.mark.parametrize("phases, history, options, match", [
    ([dict(SOFT, yield_stress=-1.0)], HISTORY, {}, r"yield_stress = -1.0; expected a yield stress > 0"),
    ([dict(SOFT, nu=0.5)], HISTORY, {}, r"nu = 0.5; expected a Poisson's ratio -1 < nu < 0.5"),
    ([dict(SOFT, nu=-1.0)], HISTORY, {}, r"nu = -1.0; expected"),
    ([dict(SOFT, E=0.0)], HISTORY, {}, r"E = 0.0; expected a finite Young's modulus E > 0"),
    ([dict(SOFT, hardening=-0.1)], HISTORY, {}, r"hardening = -0.1; expected a finite hardening modulus >= 0"),
    ([{"E": 1.0, "nu": 0.3}], HISTORY, {}, r"phases\[0\].*expected a dict with keys 'E', 'nu', 'yield_stress'"),
    ([dict(SOFT, k=1.0)], HISTORY, {}, r"expected a dict with keys"),
    (SOFT, HISTORY, {}, r"phases is one dict; expected a sequence of dicts"),
    ([SOFT], np.zeros((2, 6)), {}, r"strain_history has shape \(2, 6\); expected \(n_steps, 3\).*2D labels"),
    ([SOFT], np.zeros(3), {}, r"strain_history has shape \(3,\); expected \(n_steps, 3\)"),
    ([SOFT], np.array([[np.nan, 0, 0]]), {}, r"strain_history contains NaN"),
    ([SOFT], np.array([[np.inf, 0, 0]]), {}, r"strain_history contains an infinite value"),
    ([SOFT], HISTORY, {"stress_free": [True, False]}, r"stress_free .* expected 3 booleans"),
    ([SOFT], HISTORY, {"tol": 0.0}, r"tol = 0.0; expected a relative residual 0 < tol < 1"),
    ([SOFT], HISTORY, {"tol": 1.0}, r"tol = 1.0; expected a relative residual 0 < tol < 1"),   # was the trial step
    ([SOFT], HISTORY, {"tol": math.inf}, r"tol = inf; expected a relative residual 0 < tol < 1"),
    ([SOFT], HISTORY, {"tol": math.nan}, r"tol = nan; expected a relative residual 0 < tol < 1"),
    ([SOFT], HISTORY, {"max_iter": 0}, r"max_iter = 0; expected an integer >= 1"),
    ([SOFT], HISTORY, {"dtype": torch.int32}, r"expected torch.float64 or torch.float32"),
])
def test_bad_input_is_rejected_with_a_clear_message(phases, history, options, match):
    with pytest.raises(ValueError, match=match):
        plasticity(LABELS, phases, history, device="cpu", **options)


@pytest.mark.parametrize("phases, history, match", [
    ([dict(SOFT, E="1")], HISTORY, r"phases\[0\] \(phase 0\)\['E'\] = '1'; expected a real number"),
    ([dict(SOFT, yield_stress=True)], HISTORY, r"\['yield_stress'\] = True; expected a real number"),
    ([dict(SOFT, nu=0.3 + 0j)], HISTORY, r"\['nu'\] = \(0.3\+0j\); expected a real number"),
    ([SOFT], HISTORY.astype(complex), r"strain_history has the complex dtype complex128"),
    ([SOFT], HISTORY != 0, r"strain_history has dtype bool; expected real strains"),
])
def test_values_of_the_wrong_type_are_refused_not_cast(phases, history, match):
    """float() read a phase's "1" as 1 and True as 1; a numpy complex strain history lost its imaginary part (a
    ComplexWarning at most) and a boolean one was read as 0 and 1: each is a TypeError (torch's were refused)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match=match):
            plasticity(LABELS, phases, history, device="cpu")


def test_a_torch_modulus_gives_the_numbers_of_a_float_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # float() of a tensor that requires grad warned
        E = torch.tensor(SOFT["E"], dtype=torch.float64, requires_grad=True)
        a = plasticity(LABELS, [dict(SOFT, E=E)], HISTORY, device="cpu")
    b = plasticity(LABELS, [SOFT], HISTORY, device="cpu")
    np.testing.assert_array_equal(a.stress, b.stress)
    for value in (np.array(SOFT["E"]), torch.tensor(1), np.float32(1.0)):    # as float() took them before
        stress = plasticity(LABELS, [dict(SOFT, E=value)], HISTORY, device="cpu").stress
        np.testing.assert_array_equal(stress, b.stress)


def test_tol_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"tol = '1e-6'; expected a relative residual 0 < tol < 1"):
        plasticity(LABELS, [SOFT], HISTORY, tol="1e-6", device="cpu")


def test_labels_beyond_the_phases_are_rejected():
    labels = LABELS.copy()
    labels[0, 0] = 1
    with pytest.raises(ValueError, match=r"contains label 1 but only 1 phase properties were given"):
        plasticity(labels, [SOFT], HISTORY, device="cpu")
    with pytest.raises(ValueError, match=r"strain_history has shape \(3, 1, 3\); expected \(n_steps, 3\) or \(2, n_steps, 3\)"):
        plasticity(np.stack([labels, labels]), [SOFT, HARD], np.zeros((3, 1, 3)), batch=True, device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_equals_cpu():
    labels = (np.random.default_rng(0).random((2, 16, 16)) < 0.4).astype(int)
    history = path(3, 0.01, steps=2)
    cpu = plasticity(labels, [SOFT, HARD], history, batch=True, tol=1e-10, device="cpu")
    gpu = plasticity(torch.as_tensor(labels, device="cuda"), [SOFT, HARD], history, batch=True, tol=1e-10, device="cuda")
    assert relative(gpu.stress.cpu().numpy(), cpu.stress) < 1e-8   # same solve on the GPU, 1e-8 relative


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_scaled_phases_and_continuation_are_exact():
    labels = torch.as_tensor((np.random.default_rng(0).random((2, 16, 16)) < 0.4).astype(np.int64), device="cuda")
    history = path(3, 0.01, steps=2)
    options = dict(batch=True, stress_free=[False, True, False], tol=1e-8, device="cuda", return_fields=True)
    one = plasticity(labels, [SOFT, HARD], history, **options)
    big = plasticity(labels, scaled([SOFT, HARD], 2.0 ** 43), history, **options)
    assert torch.equal(big.stress, one.stress * 2.0 ** 43) and torch.equal(big.strain, one.strain)
    first = plasticity(labels, [SOFT, HARD], history[:3], **options)
    rest = plasticity(labels, [SOFT, HARD], history[3:], initial=first, **options)
    assert torch.equal(rest.stress, one.stress) and torch.equal(rest.fields["strain"], one.fields["strain"])
