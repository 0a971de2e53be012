"""SIMP topology optimization: the 88-line code's published MBB results, the material-law path,
its sensitivities, continuation, and input checks."""
import dataclasses

import numpy as np
import pytest
import torch

from mslearn.homogenization import ConvergenceWarning
from mslearn.optimization.topology import (TopologyResult, _MBBBeam, _plane_stress_mandel, beam_compliance,
                                          topology_optimization)

C0 = torch.tensor(_plane_stress_mandel())   # E = 1, nu = 0.3, plane stress, Mandel


def simp_material(rho):
    return (1e-9 + rho**3 * (1 - 1e-9))[:, None, None] * C0


def anisotropic_material(rho):
    """A non-SIMP, anisotropic, positive definite law (row e depends on rho_e only)."""
    A = torch.tensor([[0.6, 0.1, 0.05], [0.1, 0.2, 0.0], [0.05, 0.0, 0.3]], dtype=torch.float64)
    return (0.05 + rho**2)[:, None, None] * C0 + (rho * (1 - rho) * torch.exp(rho))[:, None, None] * A


@pytest.mark.parametrize("filter, compliance, iterations", [("sensitivity", 203.19, 94), ("density", 218.80, 127)])
def test_reproduces_the_published_mbb_beam(filter, compliance, iterations):
    """Andreassen et al. 2011: 60x20, volfrac 0.5, penal 3, rmin 1.5."""
    result = topology_optimization(60, 20, 0.5, penal=3.0, rmin=1.5, filter=filter)
    assert isinstance(result, TopologyResult)
    assert result.compliance == pytest.approx(compliance, rel=0.01)
    assert abs(result.iterations - iterations) <= 0.1 * iterations
    assert result.converged
    assert result.density.shape == (20, 60)
    assert result.density.mean() == pytest.approx(0.5, abs=1e-3)
    assert len(result.history) == result.iterations and result.history[-1] == result.compliance
    # the load sits at the top-left node, the roller at the bottom-right: material at both corners
    assert result.density[0, 0] > 0.9 and result.density[-1, -1] > 0.9


def test_is_deterministic():
    a = topology_optimization(20, 8, 0.4, filter="density")
    b = topology_optimization(20, 8, 0.4, filter="density")
    np.testing.assert_array_equal(a.density, b.density)
    assert a.history == b.history and a.iterations == b.iterations


def test_stops_at_max_iter_unconverged_and_shows_progress():
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        result = topology_optimization(12, 4, 0.5, max_iter=3, progress=True)
    assert result.iterations == 3 and not result.converged
    assert result.history[0] > result.history[-1]


@pytest.mark.parametrize("filter", ["sensitivity", "density"])
def test_a_run_stopped_at_max_iter_continues_bit_for_bit(filter):
    """initial=result goes on from the design variables (not the filtered densities): the run cut at
    max_iter=7 and continued is the uninterrupted run, to the last bit."""
    whole = topology_optimization(20, 8, 0.4, filter=filter)
    with pytest.warns(ConvergenceWarning, match="initial=result"):
        part = topology_optimization(20, 8, 0.4, filter=filter, max_iter=7)
    assert part.iterations == 7 and part.history == whole.history[:7]
    start = part.variables.copy()
    resumed = topology_optimization(20, 8, 0.4, filter=filter, initial=part, progress=True)
    assert resumed.history == whole.history and resumed.iterations == whole.iterations and resumed.converged
    np.testing.assert_array_equal(resumed.density, whole.density)
    np.testing.assert_array_equal(resumed.variables, whole.variables)
    assert part.history == whole.history[:7]            # the continuation did not touch its start
    np.testing.assert_array_equal(part.variables, start)
    again = topology_optimization(20, 8, 0.4, filter=filter, initial=whole)      # converged: as it was
    assert again.history == whole.history
    np.testing.assert_array_equal(again.density, whole.density)
    if filter == "sensitivity":
        np.testing.assert_array_equal(whole.variables, whole.density)


def test_a_continuation_compares_the_last_change_with_its_own_tol():
    """A converged result continued with a stricter tol was returned as it was, converged=True (the fresh strict
    run needs 47 iterations), and a continuation with max_iter below the iterations done warned of a made-up
    largest density change of 1. The result keeps its last change; a continuation compares it with its tol."""
    loose = topology_optimization(12, 4, 0.5, tol=0.15, max_iter=50)
    strict = topology_optimization(12, 4, 0.5, tol=0.01, max_iter=50)
    assert loose.converged and loose.change <= 0.15 and loose.iterations < strict.iterations
    stricter = topology_optimization(12, 4, 0.5, tol=0.01, max_iter=50, initial=loose)
    assert stricter.converged and stricter.change == strict.change <= 0.01
    assert stricter.history == strict.history                  # tol only stops the loop: the same run
    with pytest.warns(ConvergenceWarning, match=rf"largest density change {loose.change:.3g} > tol=0.01"):
        short = topology_optimization(12, 4, 0.5, tol=0.01, max_iter=2, initial=loose)
    assert short.iterations == loose.iterations and not short.converged and short.change == loose.change
    # a result saved before results kept their change (None) continues as then: settled if it had converged
    old = dataclasses.replace(loose, change=None)
    assert topology_optimization(12, 4, 0.5, tol=0.01, max_iter=50, initial=old).history == loose.history
    unsettled = dataclasses.replace(short, converged=False, change=None)
    assert topology_optimization(12, 4, 0.5, tol=0.01, max_iter=50, initial=unsettled).history == strict.history


def test_continuation_refuses_another_problem_and_starts_from_a_design():
    with pytest.warns(ConvergenceWarning):
        part = topology_optimization(12, 4, 0.5, max_iter=3)
    with pytest.raises(ValueError, match="differs in: volfrac, rmin"):
        topology_optimization(12, 4, 0.4, rmin=2.0, initial=part)
    with pytest.raises(ValueError, match="differs in: material"):
        topology_optimization(12, 4, 0.5, material=simp_material, initial=part)
    start = np.clip(np.random.default_rng(0).uniform(0.1, 0.9, (4, 12)), 0, 1)
    with pytest.warns(ConvergenceWarning):
        result = topology_optimization(12, 4, 0.5, initial=start, max_iter=2)
    assert result.iterations == 2 and result.density.mean() == pytest.approx(0.5, abs=1e-3)
    for bad, error, match in [(np.ones((12, 4)), ValueError, r"shape \(12, 4\); expected.*\(4, 12\)"),
                              (start + 1, ValueError, r"initial \(densities\) = 1\.\d+ is outside \[0\.0, 1\.0\]"),
                              (np.where(start > 0.5, np.nan, start), ValueError, "NaN"),
                              ("uniform", TypeError, "expected a TopologyResult or a design")]:
        with pytest.raises(error, match=match):
            topology_optimization(12, 4, 0.5, initial=bad)


@pytest.mark.parametrize("filter", ["sensitivity", "density"])
def test_a_start_with_too_few_non_zero_densities_is_refused(filter):
    # an all-void start raised ZeroDivisionError in the optimality-criteria bisection
    one = np.zeros((4, 8))
    one[0, 0] = 1.0
    for start, solid in [(np.zeros((4, 8)), 0), (one, 1)]:
        with pytest.raises(ValueError, match=rf"initial has {solid} non-zero densities of 32, fewer than the "
                                             r"volfrac \* nelx \* nely = 16 needed"):
            topology_optimization(8, 4, 0.5, filter=filter, initial=start)
    # enough non-zero densities, but so small that no multiplier reaches volfrac in one step: the
    # bisection ran its multiplier down to 0 and divided 0 by 0; each density now takes its largest step
    sparse = np.zeros((4, 8))
    sparse[:, :4] = 0.01
    with pytest.warns(ConvergenceWarning):
        result = topology_optimization(8, 4, 0.5, filter=filter, initial=sparse, max_iter=5)
    assert np.isfinite(result.history).all() and result.density.mean() <= 0.5 + 1e-9
    if filter == "sensitivity":                      # a zero density stays zero
        np.testing.assert_array_equal(result.density[:, 4:], 0.0)


@pytest.mark.parametrize("filter", ["sensitivity", "density"])
def test_simp_as_a_material_map_reproduces_the_built_in_law(filter):
    builtin = topology_optimization(30, 10, 0.5, filter=filter)
    mapped = topology_optimization(30, 10, 0.5, filter=filter, material=simp_material)
    assert mapped.compliance == pytest.approx(builtin.compliance, rel=1e-6)
    assert mapped.iterations == builtin.iterations
    np.testing.assert_allclose(mapped.density, builtin.density, atol=1e-6)


@pytest.mark.parametrize("material", [None, anisotropic_material], ids=["simp", "anisotropic"])
def test_compliance_sensitivity_matches_central_differences(material):
    beam = _MBBBeam(6, 3, penal=3.0, rmin=1.5, material=material)
    rho = np.linspace(0.2, 0.9, 18)[np.random.default_rng(0).permutation(18)]
    _, grad = beam.analyse(rho)
    h = 1e-5
    for e in (0, 5, 9, 17):
        up, down = rho.copy(), rho.copy()
        up[e] += h
        down[e] -= h
        fd = (beam.analyse(up)[0] - beam.analyse(down)[0]) / (2 * h)
        assert abs(grad[e] - fd) < 1e-5 * abs(fd), (e, grad[e], fd)


def test_material_map_runs_an_anisotropic_design():
    with pytest.warns(ConvergenceWarning):      # 30 iterations: a short run, not a converged design
        result = topology_optimization(16, 6, 0.5, material=anisotropic_material, max_iter=30)
    assert np.isfinite(result.compliance) and result.density.mean() == pytest.approx(0.5, abs=1e-2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(nelx=0), "nelx = 0; expected an integer >= 1"), (dict(nely=-2), "nely = -2; expected an integer >= 1"),
    (dict(volfrac=0.0), "volfrac"), (dict(volfrac=1.0), "volfrac"), (dict(volfrac=1.2), "volfrac"),
    (dict(rmin=0.0), "rmin"), (dict(rmin=-1.0), "rmin"), (dict(penal=0.5), "penal"),
    (dict(filter="heaviside"), "filter"), (dict(move=0.0), "move"), (dict(tol=0.0), "tol"),
    (dict(max_iter=0), "max_iter"), (dict(material="steel"), "material"),
])
def test_bad_input_is_rejected(kwargs, match):
    arguments = dict(nelx=6, nely=3, volfrac=0.5) | kwargs
    with pytest.raises(ValueError, match=match):
        topology_optimization(**arguments)


@pytest.mark.parametrize("kwargs, match", [
    (dict(nelx=6.0), "nelx must be an integer >= 1, got float 6.0"),
    (dict(nely=True), "nely must be an integer >= 1, got bool True"),
])
def test_non_integer_sizes_are_type_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        topology_optimization(**(dict(nelx=6, nely=3, volfrac=0.5) | kwargs))


BAD_MATERIALS = {
    "wrong shape": (lambda rho: rho[:, None] * torch.ones(3, dtype=torch.float64),
                    r"shape \(18, 3\).*expected \(18, 3, 3\)"),
    "numpy": (lambda rho: simp_material(rho).detach().numpy(), "torch tensor"),
    "nan": (lambda rho: simp_material(rho) * torch.nan, "NaN"),
    "not positive definite": (lambda rho: simp_material(rho) * (rho - 0.6)[:, None, None], "positive definite"),
    "not differentiable": (lambda rho: C0.expand(len(rho), 3, 3).clone(), "autograd"),
}


@pytest.mark.parametrize("name", BAD_MATERIALS)
def test_bad_material_maps_are_rejected(name):
    material, match = BAD_MATERIALS[name]
    with pytest.raises(ValueError, match=match):
        topology_optimization(6, 3, 0.5, material=material, max_iter=2)


def test_beam_compliance_evaluates_the_design_of_the_optimizer():
    """The verification route: the SIMP design's plane-stress element stiffnesses give back its compliance."""
    result = topology_optimization(30, 10, 0.5)
    nu = 0.3
    plane_stress = np.array([[1, nu, 0], [nu, 1, 0], [0, 0, 1 - nu]]) / (1 - nu**2)
    E = 1e-9 + result.density**3 * (1 - 1e-9)
    # result.compliance is that of the design before the last update (change < 0.01): within 0.1 %
    assert beam_compliance(E[..., None, None] * plane_stress) == pytest.approx(result.compliance, rel=1e-3)
    with pytest.raises(ValueError, match=r"expected \(nely, nelx, 3, 3\)"):
        beam_compliance(np.ones((10, 3, 3)))
    with pytest.raises(ValueError, match="beam_compliance was given a stiffness that is not positive definite"):
        beam_compliance(-np.broadcast_to(np.eye(3), (2, 4, 3, 3)))
    with pytest.raises(ValueError, match="beam_compliance was given a stiffness with NaN"):   # was 'material returned'
        beam_compliance(np.full((2, 4, 3, 3), np.nan))
