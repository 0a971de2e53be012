"""The numpy FFT peers of the homogenization benchmark (benchmarks/fft_peers.py) on exact results.

Laminates (exact: arithmetic mean along the layers, harmonic across; elasticity: the exact laminate
formulas), the 2D checkerboard (Dykhne: K* = sqrt(k1 k2) as the resolution grows), agreement of the
fixed-point schemes with CG on the same discrete problem, and the numpy rotated CG against mslearn.
Test names carry "homogenization" so that ``-k homogenization`` selects them with the benchmark.
"""
import sys

import numpy as np
import pytest

from notebook_tools import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import fft_peers as fp  # noqa: E402

from mslearn.homogenization import conductivity, elasticity  # noqa: E402
from mslearn.homogenization.tensors import isotropic_stiffness  # noqa: E402

ALL = dict(fp.PEERS, cg_continuous_identity=lambda m, j, **kw: fp.cg_continuous(m, j, nyquist="identity", **kw))


def laminate(shape, layers):
    labels = np.zeros(shape, dtype=np.int64)
    labels[:layers] = 1                                  # layers normal to axis 0
    return labels


def exact_laminate_stiffness(stiffness, fractions, d):
    """Exact Mandel stiffness of a laminate normal to axis 0: the traction components (11, 12, 13) are
    uniform, the in-plane strain components uniform (Backus averaging)."""
    m = len(fp.PAIRS[d])
    n = [I for I, (i, j) in enumerate(fp.PAIRS[d]) if 0 in (i, j)]
    t = [I for I in range(m) if I not in n]
    inv, blk = np.linalg.inv, lambda C, a, b: C[np.ix_(a, b)]
    Cnn = inv(sum(f * inv(blk(C, n, n)) for C, f in zip(stiffness, fractions)))
    Ctn = sum(f * blk(C, t, n) @ inv(blk(C, n, n)) for C, f in zip(stiffness, fractions)) @ Cnn
    Ctt = sum(f * (blk(C, t, t) - blk(C, t, n) @ inv(blk(C, n, n)) @ blk(C, n, t)) for C, f in zip(stiffness, fractions))
    out = np.zeros((m, m))
    out[np.ix_(n, n)], out[np.ix_(t, n)], out[np.ix_(n, t)] = Cnn, Ctn, Ctn.T
    out[np.ix_(t, t)] = Ctt + Ctn @ inv(Cnn) @ Ctn.T
    return out


@pytest.mark.parametrize("shape", [(15, 15), (9, 9, 9)], ids=["2D", "3D"])
@pytest.mark.parametrize("peer", sorted(ALL))
def test_homogenization_peers_conduction_laminate_exact(peer, shape):
    labels, k = laminate(shape, 4), [1.0, 10.0]
    f = labels.mean()
    exact = np.diag([1 / (f / k[1] + (1 - f) / k[0])] + [f * k[1] + (1 - f) * k[0]] * (len(shape) - 1))
    K, _, converged = fp.effective_tensor(ALL[peer], fp.conduction_medium(labels, k), tol=1e-9)
    assert converged
    np.testing.assert_allclose(K, exact, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("shape", [(15, 15), (7, 7, 7)], ids=["2D", "3D"])
@pytest.mark.parametrize("peer", sorted(ALL))
def test_homogenization_peers_elasticity_laminate_exact(peer, shape):
    """Odd grids (no Nyquist modes): every peer is exact for a grid-aligned laminate."""
    d = len(shape)
    labels, phases = laminate(shape, 3), [(1.0, 0.3), (10.0, 0.2)]
    f = labels.mean()
    exact = exact_laminate_stiffness([isotropic_stiffness(E, nu, ndim=d) for E, nu in phases], [1 - f, f], d)
    C, _, converged = fp.effective_tensor(ALL[peer], fp.elastic_medium(labels, phases), tol=1e-9)
    assert converged
    np.testing.assert_allclose(C, exact, rtol=0, atol=1e-7 * np.abs(exact).max())


def test_homogenization_peers_rotated_laminate_exact_on_even_grid():
    """The rotated scheme has no Nyquist issue: exact also when the layering has a Nyquist component."""
    labels, phases = laminate((16, 16), 5), [(1.0, 0.3), (10.0, 0.2)]
    f = labels.mean()
    exact = exact_laminate_stiffness([isotropic_stiffness(E, nu, ndim=2) for E, nu in phases], [1 - f, f], 2)
    C, _, _ = fp.effective_tensor(fp.cg_rotated, fp.elastic_medium(labels, phases), tol=1e-10)
    np.testing.assert_allclose(C, exact, atol=1e-10 * np.abs(exact).max())


def test_homogenization_peers_checkerboard_tends_to_dykhne():
    """2D checkerboard, K* -> sqrt(k1 k2): the error of every peer shrinks with the resolution."""
    k, exact = [1.0, 10.0], np.sqrt(10.0)
    errors = {}
    for n in (16, 64):
        i = np.arange(n) < n // 2
        medium = fp.conduction_medium((i[:, None] ^ i[None, :]).astype(np.int64), k)
        for name, peer in ALL.items():
            K = peer(medium, 0, tol=1e-8).effective[0]
            errors.setdefault(name, []).append(abs(K - exact) / exact)
    for name, (coarse, fine) in errors.items():
        assert fine < 0.6 * coarse and fine < 0.01, (name, coarse, fine)


@pytest.mark.parametrize("kind", ["conduction", "elasticity"])
def test_homogenization_peers_fixed_point_schemes_solve_the_moulinec_suquet_discretization(kind):
    """Basic and Eyre-Milton schemes converge to CG on the same discrete problem (G = I at Nyquist)."""
    labels = (np.random.default_rng(0).random((10, 10, 10)) < 0.3).astype(np.int64)
    medium = (fp.conduction_medium(labels, [1.0, 30.0]) if kind == "conduction"
              else fp.elastic_medium(labels, [(1.0, 0.3), (30.0, 0.3)]))
    loads = [0, 3] if kind == "elasticity" else [0]
    ref = fp.effective_tensor(fp.cg_continuous, medium, loads, tol=1e-11, nyquist="identity")[0]
    for peer in (fp.moulinec_suquet, fp.eyre_milton):
        K, iterations, converged = fp.effective_tensor(peer, medium, loads, tol=1e-7)
        assert converged and iterations > 5
        np.testing.assert_allclose(K, ref, atol=1e-6 * np.abs(ref).max())


def test_homogenization_peers_pores_need_cg():
    labels = laminate((8, 8, 8), 3)[..., ::-1].swapaxes(0, 2).copy()      # layers normal to axis 2
    medium = fp.conduction_medium(labels, [1.0, 0.0])
    K = fp.effective_tensor(fp.cg_rotated, medium, tol=1e-10)[0]
    np.testing.assert_allclose(K, np.diag([5 / 8, 5 / 8, 0.0]), atol=1e-10)


@pytest.mark.parametrize("kind", ["conduction", "elasticity"])
def test_homogenization_peers_numpy_rotated_cg_is_mslearn(kind):
    """The same algorithm in plain numpy: same iterations (up to one) and effective tensor as mslearn."""
    labels = (np.random.default_rng(1).random((12, 12, 12)) < 0.3).astype(np.int64)
    if kind == "conduction":
        medium, result = fp.conduction_medium(labels, [1.0, 100.0]), conductivity(labels, [1.0, 100.0], device="cpu")
    else:
        phases = [(1.0, 0.3), (20.0, 0.3)]
        medium = fp.elastic_medium(labels, phases)
        result = elasticity(labels, [{"E": E, "nu": nu} for E, nu in phases], device="cpu")
    K, iterations, converged = fp.effective_tensor(fp.cg_rotated, medium, tol=1e-6)
    assert converged and abs(iterations - result.iterations) <= 1
    np.testing.assert_allclose(K, result.effective, atol=1e-8 * np.abs(K).max())
