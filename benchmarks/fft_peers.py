r"""Independent numpy FFT homogenization solvers, written from the published algorithms.

Peers for ``bench_homogenization.py`` (and checked on exact results in ``tests/test_fft_peers.py``).
Conduction and isotropic linear elasticity (plane strain in 2D), 2D and 3D, numpy.fft (pocketfft,
single-threaded), float64, **one load case per call** as the reference codes do. Periodic cell,
voxel size 1. Strains/stresses in Mandel notation (order 11, 22, 33, 23, 13, 12 with sqrt(2) on
shear entries; 2D: 11, 22, 12), so the iterated field has 3 (2D) or 6 (3D) components as in the
reference codes' Voigt storage.

Solvers (each returns ``Solution(effective, iterations, converged)``, ``effective`` the column
:math:`K^* E` / :math:`C^* E` of the unit load ``E = e_load``):

* :func:`moulinec_suquet` — basic scheme (Moulinec & Suquet 1998), continuous Green operator
  :math:`\Gamma^0` of the reference medium :math:`k_0 = (k_{min}+k_{max})/2`,
  :math:`\lambda_0 = (\lambda_{min}+\lambda_{max})/2`, :math:`\mu_0 = (\mu_{min}+\mu_{max})/2`.
* :func:`eyre_milton` — accelerated scheme (Eyre & Milton 1999) in the strain form of Michel,
  Moulinec & Suquet (2001), :math:`\varepsilon \leftarrow \varepsilon + 2(C+C_0)^{-1}C_0(e-\varepsilon)`
  with :math:`e = E - \Gamma^0 (\sigma - C_0\varepsilon)` and the reference
  :math:`k_0 = \sqrt{k_{min}k_{max}}` (elasticity: :math:`\kappa_0 = \sqrt{\kappa_{min}\kappa_{max}}`,
  :math:`\mu_0 = \sqrt{\mu_{min}\mu_{max}}`, :math:`\kappa = \lambda + 2\mu/d`), the optimal choice
  of Eyre & Milton (their polarization form writes this reference medium with a minus sign;
  in this strain form it is positive) and Moulinec & Silva (2014).
* :func:`cg_continuous` — conjugate gradients on the Galerkin equation
  :math:`\mathbb G K \tilde e = -\mathbb G K E` with the continuous projection, :math:`n = \xi/|\xi|`
  (Zeman, Vondřejc, Novák & Marek 2010).
* :func:`cg_rotated` — the same CG with the discrete projection of Willot's rotated scheme
  (Willot 2015), the algorithm of ``mslearn.homogenization``, written independently.

Projections, :math:`w = \hat\sigma n`: conduction :math:`\hat{\mathbb G}\hat\sigma = n (n\cdot\hat\sigma)`;
elasticity :math:`\hat{\mathbb G}\hat\sigma = \operatorname{sym}(n\otimes u)`, :math:`u = 2w - n(n\cdot w)`.
Green operator of an isotropic reference (Moulinec & Suquet 1998):
:math:`\hat\Gamma^0\hat\tau = n(n\cdot\hat\tau)/k_0`, resp. :math:`\operatorname{sym}(n\otimes u)`,
:math:`u = w/\mu_0 - n(n\cdot w)(\lambda_0+\mu_0)/(\mu_0(\lambda_0+2\mu_0))`.

Nyquist modes. For an even number of voxels ``N`` the Fourier modes with a component at
``N/2`` have no consistent continuous derivative (the trigonometric interpolant's derivative there
is not real). Moulinec & Suquet (1998) set :math:`\hat\Gamma^0 = C_0^{-1}` on these modes, which makes
the stress vanish there at convergence (:math:`\hat\sigma = 0`); :func:`moulinec_suquet` and
:func:`eyre_milton` do this on every mode with *any* component at ``N/2``. In the Galerkin language this
is the projection :math:`\mathbb G = I` on those modes: ``cg_continuous(..., nyquist="identity")``
solves exactly the same discrete problem (used as their tight-tolerance reference). The default
``cg_continuous(..., nyquist="zero")`` zeroes :math:`\mathbb G` there (no strain fluctuation at the
Nyquist modes; Zeman et al. 2010 use odd grids, which have none). Neither treatment is exact for a
grid-aligned laminate whose layering has a Nyquist component (the stress components along the
layers vary there), on odd grids all four solvers are. The rotated scheme has no such modes (its
symbol is real); its zero-symbol modes (the mean and, for even grids, the "hourglass" modes) are
projected out.

Stopping rule: the relative residual of equilibrium :math:`\|\mathbb G K e\|/\|\mathbb G K E\|\le`
``tol`` with each method's own :math:`\mathbb G`:

* CG: the recursively updated residual, exactly this quantity.
* Moulinec–Suquet: evaluated by Parseval from :math:`\hat\sigma`, which the step transforms anyway
  (no extra FFT; conduction :math:`|n\cdot\hat\sigma|^2`, elasticity
  :math:`\|\operatorname{sym}(n\otimes u)\|^2 = 2|w|^2 - |n\cdot w|^2`, plus :math:`|\hat\sigma|^2`
  on the Nyquist modes).
* Eyre–Milton: its iterate :math:`\varepsilon` is not compatible before convergence, so it stops on
  the fixed-point residual :math:`\|C_0(e-\varepsilon)\|/\|C_0(e^0-\varepsilon^0)\|` (real space,
  no extra FFT). In conduction :math:`C_0(e-\varepsilon)` splits orthogonally into
  :math:`-\mathbb G K\varepsilon` and the incompatible part of :math:`c_0\varepsilon`, and
  :math:`C_0(e^0-\varepsilon^0) = -\mathbb G K E`, so this is stricter than the equilibrium residual
  (it bounds equilibrium and compatibility); in elasticity it does the same up to a constant.

A load case whose residual is at rounding level, below ``FLOOR`` = 1e-14 times :math:`\|K E\|`
(e.g. a shear strain along a laminate's layers, solved by :math:`E` itself), counts as solved.

``iterations`` counts updates of the iterate, each costing one forward and one inverse real FFT of the
``(c, *shape)`` field (plus, for CG and Eyre–Milton, one more pair to start). ``max_iter`` caps them;
``converged`` is False then. Pores (zero conductivity/stiffness) are only for the CG solvers: the
fixed-point schemes need a finite, positive reference medium.

References: H. Moulinec, P. Suquet, Comput. Methods Appl. Mech. Engrg. 157, 69–94 (1998);
D. J. Eyre, G. W. Milton, Eur. Phys. J. Appl. Phys. 6, 41–47 (1999); J.-C. Michel, H. Moulinec,
P. Suquet, Int. J. Numer. Meth. Engng. 52, 139–160 (2001); J. Zeman, J. Vondřejc, J. Novák,
I. Marek, J. Comput. Phys. 229, 8065–8071 (2010); H. Moulinec, F. Silva, Int. J. Numer. Meth.
Engng. 97, 960–985 (2014); F. Willot, C. R. Mécanique 343, 232–245 (2015).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

SQRT1_2 = math.sqrt(0.5)
FLOOR = 1e-14   # residuals below FLOOR * ||K E|| are rounding: such a load case is solved (e.g. by E itself)
PAIRS = {2: [(0, 0), (1, 1), (0, 1)], 3: [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]}


class Solution(NamedTuple):
    effective: np.ndarray   # (c,) column K* e_load (conduction: c = d; elasticity: Mandel c = 3 / 6)
    iterations: int
    converged: bool


# ----------------------------------------------------------------------------- media
class Medium:
    """A voxel medium: conduction ``k(x)``, or isotropic elasticity ``lam(x), mu(x)`` (Lamé, 3D moduli)."""

    def __init__(self, k=None, lam=None, mu=None):
        if k is not None:
            self.kind, self.k = "conduction", np.asarray(k, dtype=float)
            self.shape = self.k.shape
            self.d = self.c = len(self.shape)
        else:
            self.kind, self.lam, self.mu = "elasticity", np.asarray(lam, dtype=float), np.asarray(mu, dtype=float)
            self.shape = self.mu.shape
            self.d = len(self.shape)
            self.c = 3 if self.d == 2 else 6
            self.kappa = self.lam + 2 * self.mu / self.d          # d-dimensional bulk modulus
        self.axes = tuple(range(-self.d, 0))

    def iso(self, v, a, b):
        """Apply an isotropic operator: conduction ``a v``; elasticity ``a J v + b K v`` (Mandel, J = 1x1/d)."""
        if self.kind == "conduction":
            return a * v
        trace = v[:self.d].sum(0) / self.d
        out = b * v
        out[:self.d] += (a - b) * trace
        return out

    def stress(self, e):
        if self.kind == "conduction":
            return self.k * e
        return self.iso(e, self.d * self.kappa, 2 * self.mu)

    def reference(self, rule):
        """Reference medium: ``"mean"`` of the extreme moduli (basic scheme) or ``"geometric"`` (Eyre–Milton).

        Conduction: ``c0``; elasticity: ``(kappa0, mu0)``."""
        pick = (lambda x: 0.5 * (x.min() + x.max())) if rule == "mean" else (lambda x: math.sqrt(x.min() * x.max()))
        if self.kind == "conduction":
            return pick(self.k)
        if rule == "mean":                      # Moulinec & Suquet: mean Lamé constants
            lam0, mu0 = pick(self.lam), pick(self.mu)
            return lam0 + 2 * mu0 / self.d, mu0
        return pick(self.kappa), pick(self.mu)

    def unit(self, load):
        E = np.zeros((self.c,) + (1,) * self.d)
        E[load] = 1.0
        return E

    def effective(self, e):
        return self.stress(e).mean(axis=self.axes)


def conduction_medium(labels, k):
    """Medium from phase labels and one conductivity per label."""
    return Medium(k=np.asarray(k, dtype=float)[labels])


def elastic_medium(labels, phases):
    """Medium from phase labels and one ``(E, nu)`` per label (3D moduli; 2D is plane strain)."""
    E, nu = np.asarray(phases, dtype=float).T
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    return Medium(lam=lam[labels], mu=mu[labels])


# ----------------------------------------------------------------------------- Fourier space
class Fourier:
    """rfft grid of ``medium``: unit wave vectors ``n`` (zero where undefined), Nyquist mask, Parseval weights."""

    def __init__(self, medium, scheme):
        self.m, shape = medium, medium.shape
        xi = [2 * np.pi * np.fft.fftfreq(N) for N in shape[:-1]] + [2 * np.pi * np.fft.rfftfreq(shape[-1])]
        xi = np.meshgrid(*xi, indexing="ij")
        if scheme == "continuous":
            k = np.stack(xi)
            self.nyquist = np.zeros(k.shape[1:], dtype=bool)
            for a, N in enumerate(shape):
                if N % 2 == 0:
                    self.nyquist |= np.isclose(np.abs(xi[a]), np.pi)
        else:                                   # rotated: k_a = sin(xi_a/2) prod_{b != a} cos(xi_b/2)
            s, c = [np.sin(x / 2) for x in xi], [np.cos(x / 2) for x in xi]
            k = np.stack([math.prod(c[b] for b in range(len(shape)) if b != a) * s[a] for a in range(len(shape))])
            self.nyquist = None
        norm = np.sqrt((k**2).sum(0))
        good = norm > 1e-12
        if self.nyquist is not None:
            good &= ~self.nyquist
        self.n = np.where(good, k / np.where(good, norm, 1.0), 0.0)
        weight = np.full(k.shape[-1], 2.0)     # rfft: modes with a stored conjugate partner count twice
        weight[0] = 1.0
        if shape[-1] % 2 == 0:
            weight[-1] = 1.0
        self.weight = weight

    def fft(self, x):
        return np.fft.rfftn(x, axes=self.m.axes)

    def ifft(self, f):
        return np.fft.irfftn(f, s=self.m.shape, axes=self.m.axes)

    def contract(self, f):
        """``w = f n`` (elasticity: vector ``w_j = f_ij n_i``; conduction: scalar ``n . f``) and ``n . w``."""
        n = self.n
        if self.m.kind == "conduction":
            nf = (n * f).sum(0)
            return nf, nf
        d = self.m.d
        t = [[None] * d for _ in range(d)]
        for I, (i, j) in enumerate(PAIRS[d]):
            t[i][j] = t[j][i] = f[I] if i == j else f[I] * SQRT1_2
        w = [sum(t[i][j] * n[i] for i in range(d)) for j in range(d)]
        return w, sum(n[j] * w[j] for j in range(d))

    def expand(self, w, nw, a, b):
        """``a n (n . f)`` (conduction) or ``sym(n x u)``, ``u = a w - b n (n . w)`` (Mandel)."""
        n = self.n
        if self.m.kind == "conduction":
            return (a - b) * n * nw
        d = self.m.d
        u = [a * w[j] - b * n[j] * nw for j in range(d)]
        return np.stack([n[i] * u[i] if i == j else (n[i] * u[j] + n[j] * u[i]) * SQRT1_2 for i, j in PAIRS[d]])

    def project(self, f, nyquist="zero"):
        """The orthogonal projection onto compatible zero-mean fields; ``nyquist="identity"``: G = I there."""
        w, nw = self.contract(f)
        g = self.expand(w, nw, 2.0, 1.0) if self.m.kind == "elasticity" else self.expand(w, nw, 1.0, 0.0)
        if nyquist == "identity" and self.nyquist is not None:
            g[:, self.nyquist] = f[:, self.nyquist]
        return g

    def green(self, f, ref):
        """:math:`\\hat\\Gamma^0 f` of the isotropic reference ``ref``, with C0^{-1} on the Nyquist modes
        (Moulinec & Suquet 1998); also returns :math:`\\|\\mathbb G f\\|^2` (Parseval, G = I at Nyquist)."""
        w, nw = self.contract(f)
        if self.m.kind == "conduction":
            g = self.expand(w, nw, 1.0 / ref, 0.0)
            norm2 = self.weight * np.abs(nw) ** 2
            inverse = (1.0 / ref, None)
        else:
            kappa0, mu0 = ref
            lam0 = kappa0 - 2 * mu0 / self.m.d
            g = self.expand(w, nw, 1.0 / mu0, (lam0 + mu0) / (mu0 * (lam0 + 2 * mu0)))
            norm2 = self.weight * (2 * sum(np.abs(wj) ** 2 for wj in w) - np.abs(nw) ** 2)
            inverse = (1.0 / (self.m.d * kappa0), 1.0 / (2 * mu0))
        fq = f[:, self.nyquist]
        g[:, self.nyquist] = self.m.iso(fq, *inverse)
        total = norm2.sum() + (self.weight * np.abs(f) ** 2)[:, self.nyquist].sum()
        return g, float(total)


def _norm(x):
    return math.sqrt(float(np.vdot(x, x)))


# ----------------------------------------------------------------------------- solvers
def moulinec_suquet(medium, load, *, tol=1e-6, max_iter=5000):
    r"""Basic scheme of Moulinec & Suquet, Comput. Methods Appl. Mech. Engrg. 157, 69 (1998).

    :math:`e \leftarrow e - \Gamma^0 * (K e)`, continuous :math:`\Gamma^0` of the reference
    :math:`(k_{min}+k_{max})/2` (elasticity: mean Lamé constants), :math:`\hat\Gamma^0 = C_0^{-1}`
    on the Nyquist modes. Stops at :math:`\|\mathbb G K e\| \le` ``tol`` :math:`\|\mathbb G K E\|`
    (Parseval on the transformed stress the step needs anyway).
    """
    F, ref = Fourier(medium, "continuous"), medium.reference("mean")
    e = np.broadcast_to(medium.unit(load), (medium.c,) + medium.shape).copy()
    it = 0
    while True:
        sigma = medium.stress(e)
        step, r2 = F.green(F.fft(sigma), ref)
        if it == 0:                             # Parseval: sum over modes = N * sum over voxels
            stop = max(tol**2 * r2, FLOOR**2 * sigma[0].size * float(np.vdot(sigma, sigma)))
        if r2 <= stop or it >= max_iter:
            break
        e -= F.ifft(step)
        it += 1
    return Solution(sigma.mean(axis=medium.axes), it, bool(r2 <= stop))


def eyre_milton(medium, load, *, tol=1e-6, max_iter=5000):
    r"""Accelerated scheme of Eyre & Milton, Eur. Phys. J. Appl. Phys. 6, 41 (1999).

    In the strain form of Michel, Moulinec & Suquet, IJNME 52, 139 (2001):
    :math:`e = E - \Gamma^0 * (\sigma - C_0\varepsilon)`,
    :math:`\varepsilon \leftarrow \varepsilon + 2 (C + C_0)^{-1} C_0 (e - \varepsilon)`, reference
    :math:`C_0` the geometric mean of the extreme (bulk, shear) moduli, :math:`\hat\Gamma^0 = C_0^{-1}`
    on the Nyquist modes. Stops at :math:`\|C_0(e-\varepsilon)\| \le` ``tol`` times its initial value
    (see the module docstring). The effective column is :math:`\langle C\varepsilon\rangle`.
    """
    F, ref = Fourier(medium, "continuous"), medium.reference("geometric")
    E = medium.unit(load)
    eps = np.broadcast_to(E, (medium.c,) + medium.shape).copy()
    if medium.kind == "conduction":
        c0 = (ref, None)
        relax = (2 * ref / (medium.k + ref), None)
    else:
        kappa0, mu0 = ref
        c0 = (medium.d * kappa0, 2 * mu0)
        relax = (2 * kappa0 / (medium.kappa + kappa0), 2 * mu0 / (medium.mu + mu0))
    it = 0
    while True:
        sigma = medium.stress(eps)
        tau = F.fft(sigma - medium.iso(eps, *c0))
        step, _ = F.green(tau, ref)
        diff = E - F.ifft(step) - eps                   # e - eps
        r = _norm(medium.iso(diff, *c0))
        if it == 0:
            stop = max(tol * r, FLOOR * _norm(sigma))
        if r <= stop or it >= max_iter:
            break
        eps += medium.iso(diff, *relax)
        it += 1
    return Solution(sigma.mean(axis=medium.axes), it, bool(r <= stop))


def _cg(medium, load, scheme, nyquist, tol, max_iter):
    F = Fourier(medium, scheme)

    def GK(x):
        return F.ifft(F.project(F.fft(medium.stress(x)), nyquist))

    E = np.broadcast_to(medium.unit(load), (medium.c,) + medium.shape)
    b = -GK(E)
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), float(np.vdot(r, r))
    stop, it = max(tol**2 * rr, FLOOR**2 * _norm(medium.stress(E)) ** 2), 0
    while rr > stop and it < max_iter:
        Ap = GK(p)
        alpha = rr / float(np.vdot(p, Ap))
        x += alpha * p
        r -= alpha * Ap
        rr, rr_old = float(np.vdot(r, r)), rr
        p *= rr / rr_old
        p += r
        it += 1
    return Solution(medium.effective(E + x), it, bool(rr <= stop))


def cg_continuous(medium, load, *, tol=1e-6, max_iter=5000, nyquist="zero"):
    r"""Conjugate gradients on the Galerkin equation :math:`\mathbb G K\tilde e = -\mathbb G K E`,
    continuous projection (:math:`n = \xi/|\xi|`): Zeman, Vondřejc, Novák & Marek, J. Comput. Phys.
    229, 8065 (2010). ``nyquist="zero"``: :math:`\mathbb G = 0` on the Nyquist modes;
    ``"identity"``: :math:`\mathbb G = I` there (the discrete problem of the Moulinec–Suquet treatment).
    """
    return _cg(medium, load, "continuous", nyquist, tol, max_iter)


def cg_rotated(medium, load, *, tol=1e-6, max_iter=5000):
    r"""Conjugate gradients on the Galerkin equation with the projection of the rotated scheme
    (Willot, C. R. Mécanique 343, 232 (2015): :math:`k_a = \sin(\xi_a/2)\prod_{b\ne a}\cos(\xi_b/2)`,
    :math:`n = k/|k|`), i.e. the algorithm of ``mslearn.homogenization`` (scheme="cg") in plain numpy."""
    return _cg(medium, load, "rotated", "zero", tol, max_iter)


PEERS = {"moulinec_suquet": moulinec_suquet, "eyre_milton": eyre_milton,
         "cg_continuous": cg_continuous, "cg_rotated_numpy": cg_rotated}


def effective_tensor(solver, medium, loads=None, **options):
    """All (or the given) load cases one after another: ``(columns (c, len(loads)), max iterations, converged)``."""
    loads = range(medium.c) if loads is None else loads
    solutions = [solver(medium, j, **options) for j in loads]
    return (np.stack([s.effective for s in solutions], 1), max(s.iterations for s in solutions),
            all(s.converged for s in solutions))
