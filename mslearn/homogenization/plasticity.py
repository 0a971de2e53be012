r"""Nonlinear FFT homogenization: small-strain J2 elasto-plasticity of a periodic voxel RVE.

The material point (Simo & Hughes 1998, Box 3.1–3.2; de Souza Neto, Perić & Owen 2008, §7.3)
--------------------------------------------------------------------------------------------
Per phase: isotropic elasticity (bulk :math:`K`, shear :math:`\mu`), von Mises yield surface with
linear isotropic hardening :math:`\sigma_y(\alpha) = \sigma_{y} + H\alpha` (:math:`\alpha` the
equivalent plastic strain), associative flow. Backward Euler from the converged state
:math:`(\varepsilon^p_n, \alpha_n)` to the strain :math:`\varepsilon` is the *radial return*:

.. math::

   \sigma^{tr} = K\operatorname{tr}(\varepsilon-\varepsilon^p_n)\,\mathbf 1 + s^{tr},\quad
   s^{tr} = 2\mu\operatorname{dev}(\varepsilon-\varepsilon^p_n),\quad
   q^{tr} = \sqrt{\tfrac32}\,\|s^{tr}\|,\quad n = s^{tr}/\|s^{tr}\|,

   f = q^{tr} - (\sigma_y + H\alpha_n),\qquad
   \Delta\gamma = \langle f\rangle_+ / (3\mu + H),

   \sigma = \sigma^{tr} - 2\mu\sqrt{\tfrac32}\,\Delta\gamma\, n,\quad
   \varepsilon^p = \varepsilon^p_n + \sqrt{\tfrac32}\,\Delta\gamma\, n,\quad
   \alpha = \alpha_n + \Delta\gamma .

Its exact derivative, the consistent (algorithmic) tangent, is (:math:`\mathbb I_{dev} = \mathbb I
- \tfrac13\mathbf 1\otimes\mathbf 1`; elastic voxels have :math:`\Delta\gamma = 0`, i.e. :math:`C`)

.. math::

   C^{alg} = K\,\mathbf 1\otimes\mathbf 1
   + 2\mu\Bigl(1 - \frac{3\mu\Delta\gamma}{q^{tr}}\Bigr)\mathbb I_{dev}
   + 6\mu^2\Bigl(\frac{\Delta\gamma}{q^{tr}} - \frac1{3\mu+H}\Bigr)\, n\otimes n ,

(from :math:`d\Delta\gamma = \sqrt6\,\mu\, n\!:\!d\varepsilon/(3\mu+H)` and :math:`dn = 2\mu(\mathbb
I_{dev} - n\otimes n)\,d\varepsilon/\|s^{tr}\|`). It is symmetric, with eigenvalue
:math:`2\mu H/(3\mu+H) \ge 0` along :math:`n`. It is applied per voxel as :math:`\tilde\lambda
\operatorname{tr}e\,\mathbf 1 + 2\tilde\mu\, e + c\, n\,(n\!:\!e)` (a few passes over the field, no
matrix per voxel). The return mapping always runs on full 3D tensors (Mandel
``(11, 22, 33, 23, 13, 12)``); in 2D plane strain :math:`\varepsilon_{33} = 0` in total but
:math:`\varepsilon^p_{33} = -(\varepsilon^p_{11}+\varepsilon^p_{22}) \ne 0` and :math:`\sigma_{33} \ne 0`,
and the in-plane block of :math:`C^{alg}` is the tangent of the in-plane problem.

The cell problem, Newton–Krylov (Gélébart & Mondon-Cancel 2013; Zeman et al. 2017; de Geus et al. 2017)
------------------------------------------------------------------------------------------------
At each load step the strain field :math:`e = \bar E + \tilde e` must satisfy
:math:`\mathbb G\,\sigma(e) = 0` (:math:`\mathbb G` the compatible projection of
:mod:`.solver`). Starting from :math:`e_n + \Delta\bar E` (a uniform, compatible shift), Newton
linearizes with :math:`C^{alg}` and solves

.. math:: \mathbb G\, C^{alg}\,\delta e = -\mathbb G\,\sigma(e), \qquad \delta e\in\operatorname{range}\mathbb G,

by the same conjugate gradients as the linear solver (:math:`\mathbb G C^{alg}` is symmetric
positive semi-definite on compatible fields), inexactly: to the relative tolerance
:math:`\eta_k = \min(0.1, \max(r_k, \mathrm{tol}/(2 r_k)))` (floored at :math:`\sqrt{\epsilon}` of
the dtype), which keeps Newton's quadratic rate, :math:`r_{k+1} \le \eta_k r_k + O(r_k^2)`, and asks no more of the
last correction than :math:`r_{k+1} \approx \mathrm{tol}/2`. The
stopping test is the relative equilibrium residual :math:`r = \|\mathbb G\sigma\| / \|\sigma\|`.

Mixed control (``stress_free``): the macroscopic strain components :math:`\bar E_f` whose mean stress
is prescribed zero are unknowns of the same Newton iteration. With :math:`x_0` the correction above
and :math:`x_j` the solutions of :math:`\mathbb G C^{alg}(e_j + x_j) = 0` for the unit strains
:math:`e_j`, :math:`j\in f` (all solved in one batched CG), the homogenized tangent is
:math:`\bar C_{ij} = \langle C^{alg}(e_j + x_j)\rangle_i`, and :math:`\delta\bar E_f = -\bar C_{ff}^{-1}
(\langle\sigma\rangle_f + \langle C^{alg}x_0\rangle_f)`, :math:`\delta e = x_0 + \sum_j \delta\bar
E_j (e_j + x_j)`: exact Newton on equilibrium and :math:`\langle\sigma\rangle_f = 0` together, whose
residual adds :math:`\sqrt N\,|\langle\sigma\rangle_f|` to :math:`\|\mathbb G\sigma\|`.

Far from the solution (large load steps, plastic voxels unloading) the full Newton step can overshoot
and cycle. The incremental problem minimizes a convex energy (associative flow, :math:`H\ge0`), so a
line search along :math:`\delta e` on its derivative :math:`\phi(t) = \langle\delta e, \sigma(e + t\,\delta e)\rangle`
(non-decreasing, :math:`\phi(0) < 0`) globalizes Newton: the full step unless :math:`\phi(1) >
|\phi(0)|/10`, else regula falsi on :math:`[0, 1]` to :math:`|\phi(t)| \le |\phi(0)|/10`. Near the
solution :math:`t = 1` and the rate stays quadratic. A line search costs return mappings, no FFT.

Units
-----
At a fixed strain history the stress is homogeneous of degree one in :math:`(E, \sigma_y, H)` (the
strains, :math:`\Delta\gamma`, :math:`n` and every ratio the iteration forms, residuals, CG's
:math:`\alpha` and :math:`\beta`, the line search's regula falsi, :math:`\bar C_{ff}^{-1}` times a stress,
are of degree zero). :func:`plasticity` therefore always solves with the phases' :math:`(K, \mu,
\sigma_y, H)` divided by the power of two :math:`2^k` nearest their largest modulus (which then lies in
[1/2, 1)) and multiplies the stresses back by :math:`2^k`. A power of two only moves exponents, so every
rounding of the scaled solve is that of the unscaled one: the results are the same bit for bit (checked
on the tests and the doctest: 2D, 3D, mixed control, batches, float32 and float64) wherever the unscaled
solve neither overflows nor goes subnormal, and moduli in any unit work in either dtype. That is where it
did not: CG's inner products grow as :math:`K^3` (:math:`p\cdot Ap`), which overflows float32 from
:math:`K \approx 10^{13}` (moduli in Pa): every CG ran to ``cg_max_iter`` and the Newton iteration failed
(:math:`16^3`, uniaxial stress, float32). Unlike the linear solver (:func:`.solver.solve`), which scales only
beyond a threshold because a scaled law is a copy of its fields, scaling here costs nothing: it is
applied to the few numbers of the phase table, so there is no threshold.

Why hand-written
----------------
No library offers a batched, GPU, Python FFT solver for J2 plasticity: AMITEX_FFTP, DAMASK,
FANS and MOOSE are C++/Fortran codes with their own input decks; material-point libraries (MFront)
do not solve the cell problem. The radial return and its tangent are a dozen lines
(:func:`radial_return`); everything else reuses the projection and the CG of :mod:`.solver`.

References: Simo & Hughes, *Computational Inelasticity* (1998); Simo & Taylor, CMAME 48, 101 (1985);
Moulinec & Suquet, CMAME 157, 69 (1998); Gélébart & Mondon-Cancel, Comput. Mater. Sci. 77, 430
(2013); de Geus et al., CMAME 318, 412 (2017).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from .._backend import compute_device
from .._backend import like, progress_bar, to_torch
from .._validation import (array_digest, check_finite, check_flag, check_integer, check_labels, check_properties,
                           check_relative_tolerance, check_same_settings, check_solver_dtype)
from .solver import ConjugateGradients, ConvergenceWarning, _dot, _layout, _with_product, green_projection
from .tensors import lame_from

__all__ = ["PlasticityResult", "plasticity"]

SQRT3_2 = math.sqrt(1.5)
IN_PLANE = {2: [0, 1, 5], 3: [0, 1, 2, 3, 4, 5]}     # the solver's Mandel components in the 3D order


@dataclass
class PlasticityResult:
    """Result of :func:`plasticity` (numpy if ``labels`` was numpy; batch axis first with ``batch=True``).

    Attributes
    ----------
    stress : array, ``(n_steps, m)``
        Macroscopic Mandel stress :math:`\\langle\\sigma\\rangle` at the end of every load step.
    strain : array, ``(n_steps, m)``
        Macroscopic Mandel strain: the prescribed history, with the solved ``stress_free`` components.
    newton_iterations : ndarray of int, ``(n_steps,)``
        Newton corrections per load step (the largest over the batch).
    cg_iterations : ndarray of int, ``(n_steps,)``
        CG iterations per load step, summed over its Newton corrections.
    residuals : list of lists of float
        Per load step, the relative residual before each Newton correction and at the end (worst RVE).
    converged : bool
        Whether every load step reached ``tol``.
    fields : dict or None
        With ``return_fields=True``, the final fields: ``"strain"``, ``"stress"`` (Mandel ``(m, *spatial)``),
        ``"plastic_strain"`` (3D Mandel ``(6, *spatial)``, also in 2D: its 33 component is not zero),
        ``"equivalent_plastic_strain"`` ``(*spatial)`` and, in 2D, ``"stress_33"`` ``(*spatial)``. With the
        last row of ``strain`` they are the state a continuation (``plasticity(..., initial=result)``) starts from.
    settings : dict
        What a continuation must share: a digest of ``labels``, ``batch``, ``phases``, ``stress_free`` and
        ``dtype``.
    """

    stress: object
    strain: object
    newton_iterations: np.ndarray
    cg_iterations: np.ndarray
    residuals: list
    converged: bool
    fields: Optional[dict] = field(default=None, repr=False)
    settings: Optional[dict] = field(default=None, repr=False)


# ----------------------------------------------------------------------------- the material point
def radial_return(eps, eps_p, alpha, material):
    r"""J2 radial return at every voxel (module docstring): 3D Mandel strains ``eps``, ``eps_p``
    ``(B, 6, *s)``, ``alpha`` and ``material = (K, mu, yield_stress, H)`` ``(B, 1, *s)``. Returns the
    stress, the new ``eps_p`` and ``alpha``, and the consistent tangent ``(lam, two_mu, c, n)``."""
    K, mu, sigma_y, H = material
    one = eps.new_tensor([1.0, 1, 1, 0, 0, 0]).reshape(1, 6, *(1,) * (eps.ndim - 2))
    tiny = torch.finfo(eps.dtype).tiny
    e = eps - eps_p
    tr = e[:, :3].sum(1, keepdim=True)
    s_trial = 2 * mu * (e - tr / 3 * one)
    norm = s_trial.square().sum(1, keepdim=True).sqrt()
    q_trial = (SQRT3_2 * norm).clamp_min(tiny)
    dgamma = ((q_trial - sigma_y - H * alpha) / (3 * mu + H)).clamp_min(0)     # <f>+ / (3 mu + H)
    n = s_trial / norm.clamp_min(tiny)
    theta = 1 - 3 * mu * dgamma / q_trial                                        # q / q_trial
    sigma = K * tr * one + theta * s_trial
    c = torch.where(dgamma > 0, 6 * mu**2 * (dgamma / q_trial - 1 / (3 * mu + H)), 0.0)
    two_mu = 2 * mu * theta
    return sigma, eps_p + SQRT3_2 * dgamma * n, alpha + dgamma, (K - two_mu / 3, two_mu, c, n)


class Tangent:
    r"""The consistent tangent :math:`\tilde\lambda\operatorname{tr}e\,\mathbf 1 + 2\tilde\mu\,e + c\,n(n\!:\!e)`
    on solver fields ``(B, L, m, *s)`` (in-plane components in 2D), used like :class:`.solver.LocalLaw`."""

    def __init__(self, lam, two_mu, c, n):
        self.lam, self.two_mu, self.c, self.n = lam, two_mu, c, n

    def __call__(self, e, out=None):
        d = 2 if e.shape[2] == 3 else 3
        sigma = torch.mul(self.two_mu, e, out=out)
        sigma[:, :, :d].addcmul_(self.lam, e[:, :, :d].sum(2, keepdim=True))
        return sigma.addcmul_(self.n, self.c * (self.n * e).sum(2, keepdim=True))

    def rows(self, index):
        return Tangent(*(t[index] for t in (self.lam, self.two_mu, self.c, self.n)))


# ----------------------------------------------------------------------------- one Newton correction
def _conjugate_gradients(G, K, b, eta, max_iter):
    """CG on ``G K x = b`` per (RVE, load) system to ``|r| <= eta |b|`` (``eta`` per RVE); (x, iterations)."""
    buffer = None

    def A(p):
        nonlocal buffer
        buffer = K(p, out=buffer)
        return G(buffer)

    cg, it = ConjugateGradients(_with_product(A), b, eta[:, None]), 0
    while it < max_iter and bool((cg.residual() > cg.stop).any()):
        cg.step()
        it += 1
    return cg.x, it


def _newton_correction(G, K, sigma, G_sigma, free, eta, max_iter):
    """``(delta_e, delta_E_free, cg_iterations)`` of one Newton step, mixed control included (module docstring)."""
    axes = tuple(range(3, sigma.ndim))
    b = -G_sigma
    if free:                                                    # unit strains e_j of the free components
        unit = torch.eye(sigma.shape[2], dtype=sigma.dtype, device=sigma.device)[free]
        unit = unit.reshape(1, len(free), -1, *(1,) * len(axes)).expand(len(sigma), -1, -1, *sigma.shape[3:])
        b = torch.cat([b, -G(K(unit))], dim=1)
    x, it = _conjugate_gradients(G, K, b, eta, max_iter)
    if not free:
        return x, None, it
    u = unit + x[:, 1:]                                         # e_j + x_j
    C_bar = K(u).mean(axes)[:, :, free]                         # (B, j, i) = <C_alg (e_j + x_j)>_i
    rhs = sigma.mean(axes)[:, 0, free] + K(x[:, :1]).mean(axes)[:, 0, free]
    dE = -torch.linalg.solve(C_bar.transpose(1, 2), rhs)
    return x[:, :1] + torch.einsum("bj,bj...->b...", dE, u)[:, None], dE, it


class _Cell:
    """A batch of RVEs: the material fields, the committed state :math:`(\\varepsilon^p_n, \\alpha_n)`
    and the Newton iteration of a load step."""

    def __init__(self, material, spatial, free, dtype, device):
        self.material, self.free, self.d = material, free, len(spatial)
        self.G = green_projection(spatial, "elasticity", device, dtype)
        self.eps_p = torch.zeros(len(material[0]), 6, *spatial, dtype=dtype, device=device)
        self.alpha = torch.zeros(len(material[0]), 1, *spatial, dtype=dtype, device=device)
        self.floor = math.sqrt(torch.finfo(dtype).eps)

    def respond(self, e, rows=slice(None)):
        """Stress ``(B, 1, m, *s)``, the 3D return mapping and the tangent at the strain ``e`` of RVEs ``rows``."""
        index = IN_PLANE[self.d]
        eps = e.new_zeros(e.shape[0], 6, *e.shape[3:])
        eps[:, index] = e[:, 0]                                 # plane strain: e33 = e13 = e23 = 0
        sigma6, eps_p, alpha, (lam, two_mu, c, n) = radial_return(
            eps, self.eps_p[rows], self.alpha[rows], tuple(p[rows] for p in self.material))
        tangent = Tangent(lam[:, None], two_mu[:, None], c[:, None], n[:, index][:, None])
        return sigma6[:, index][:, None], (sigma6, eps_p, alpha), tangent

    def residual(self, sigma):
        """Relative residual per RVE (module docstring) and :math:`\\mathbb G\\sigma`."""
        G_sigma = self.G(sigma)
        mean = sigma.mean(tuple(range(3, sigma.ndim)))[:, 0, self.free]
        r2 = _dot(G_sigma, G_sigma)[:, 0] + math.prod(sigma.shape[3:]) * mean.square().sum(1)
        scale = _dot(sigma, sigma)[:, 0]
        return torch.where(scale > 0, r2 / torch.where(scale > 0, scale, 1.0), r2).sqrt(), G_sigma

    def solve(self, e, E, tol, max_iter, cg_max_iter):
        """Newton iterations of one load step on ``e``, ``E`` (in place); returns the residuals, the number
        of corrections, the CG iterations and the RVEs that did not converge."""
        history, cg_iterations = [], 0
        for k in range(max_iter + 1):
            sigma, self.state, tangent = self.respond(e)
            r, G_sigma = self.residual(sigma)
            history.append(float(r.max()))
            active = ~(r <= tol)                                # NaN counts as not converged
            if not bool(active.any()) or k == max_iter:
                break
            rows = active.nonzero()[:, 0]                       # converged RVEs are left alone
            eta = torch.maximum(r[rows], 0.5 * tol / r[rows]).clamp(self.floor, 0.1)    # inexact Newton
            de, dE, its = _newton_correction(self.G, tangent.rows(rows), sigma[rows], G_sigma[rows], self.free,
                                             eta, cg_max_iter)
            t = self.line_search(e[rows], de, sigma[rows], rows)
            e[rows] += _per_rve(t, de) * de
            if self.free:
                E[rows[:, None], torch.tensor(self.free, device=E.device)] += t[:, None] * dE
            cg_iterations += its
        self.sigma = sigma
        return history, k, cg_iterations, active.nonzero()[:, 0].tolist()

    def line_search(self, e, de, sigma, rows, max_iter=20):
        """Step length ``t`` in (0, 1] per RVE: the full step, or regula falsi on phi (module docstring)."""
        phi = lambda t: _dot(de, self.respond(e + _per_rve(t, de) * de, rows)[0])[:, 0]   # noqa: E731
        phi0 = _dot(de, sigma)[:, 0]
        target = 0.1 * phi0.abs()
        t = torch.ones_like(phi0)
        f = phi(t)
        lo, f_lo, hi, f_hi = torch.zeros_like(t), phi0, t.clone(), f.clone()
        for _ in range(max_iter):
            search = (f > target) & (phi0 < 0) | (f < -target) & (t < 1)
            if not bool(search.any()):
                break
            t = torch.where(search, (lo * f_hi - hi * f_lo) / (f_hi - f_lo), t)
            f = torch.where(search, phi(t), f)
            below, above = search & (f < 0), search & (f >= 0)
            lo, f_lo = torch.where(below, t, lo), torch.where(below, f, f_lo)
            hi, f_hi = torch.where(above, t, hi), torch.where(above, f, f_hi)
        return t

    def commit(self):
        """The converged state becomes the initial state of the next load step."""
        sigma6, self.eps_p, self.alpha = self.state
        self.sigma_33 = sigma6[:, 2]


def _per_rve(t, like):
    return t.reshape(-1, *(1,) * (like.ndim - 1))


# ----------------------------------------------------------------------------- driver
def plasticity(labels, phases, strain_history, *, batch=False, stress_free=None, tol=1e-6, max_iter=None,
               cg_max_iter=1000, device="auto", dtype=torch.float64, return_fields=False, progress=False,
               initial=None):
    r"""Macroscopic stress history of a periodic voxel RVE of J2 elasto-plastic phases (small strain).

    Each load step brings the macroscopic strain to the next row of ``strain_history`` (from the
    virgin, unstrained state) and is solved by Newton–Krylov with the consistent tangent, the FFT
    projection and conjugate gradients (see the module docstring). Plane strain in 2D.

    Parameters
    ----------
    labels : array or tensor of int, ``(*spatial)`` or ``(batch, *spatial)``
        Phase labels, 2 or 3 spatial axes, periodic.
    phases : sequence of dict
        One per label: ``{"E": .., "nu": .., "yield_stress": .., "hardening": ..}`` (Young's modulus
        > 0, Poisson's ratio in (-1, 0.5), initial yield stress > 0 (``inf``: elastic), linear
        isotropic hardening modulus :math:`H \ge 0`, optional, default 0), in any consistent units
        (Pa in float32 too: the solve runs on the phases scaled by a power of two, module docstring *Units*).
    strain_history : array, ``(n_steps, m)``
        Macroscopic Mandel strains, ``m = 3`` in 2D ``(e11, e22, sqrt2 e12)``, ``m = 6`` in 3D
        ``(e11, e22, e33, sqrt2 e23, sqrt2 e13, sqrt2 e12)``. With ``batch=True`` one history for all
        RVEs or ``(batch, n_steps, m)``, one per RVE.
    batch : bool
        Whether ``labels`` has a leading batch axis (never guessed).
    stress_free : sequence of bool, length ``m``, optional
        Mandel components whose macroscopic stress is held at zero (mixed control); their strains are
        solved for (their entries in ``strain_history`` are ignored). Uniaxial stress in 3D:
        ``[False] + [True] * 5``.
    tol : float
        Relative equilibrium residual :math:`\|\mathbb G\sigma\|/\|\sigma\|` ending a load step,
        ``0 < tol < 1``.
    max_iter : int, optional
        Newton corrections per load step (default 30); reaching it warns (:class:`ConvergenceWarning`).
    cg_max_iter : int
        CG iterations per Newton correction.
    device, dtype
        Torch device (``"auto"``) and dtype (float64; float32 allowed, with ``tol`` >= about 1e-5).
    return_fields : bool
        Also return the final local fields (``fields``, see :class:`PlasticityResult`).
    progress : bool
        Show a tqdm progress bar over the load steps.
    initial : PlasticityResult, optional
        Go on along the load path from a previous result made with ``return_fields=True`` (only it carries
        the state: the fields ``strain``, ``plastic_strain``, ``equivalent_plastic_strain`` and, for the
        ``stress_free`` components, the solved macroscopic strain, its last row of ``strain``), from the
        state of its last load step (also of a run that did not converge: it went on from there too);
        ``strain_history`` holds the load steps that follow. Its steps come first in the result
        (``stress``, ``strain``, iterations, residuals; ``converged`` of both), the fields are the final
        ones. It must have the same ``labels``, ``batch``, ``phases``, ``stress_free`` and ``dtype``
        (a mismatch is refused naming what differs); ``tol``, ``max_iter``, ``cg_max_iter``, ``device``,
        ``return_fields`` and ``progress`` may change. With the same ``tol``, iteration limits and device,
        the two runs so chained equal the one run over the concatenated history bit for bit (the same
        arithmetic from the same state). To continue a continuation, pass ``return_fields=True`` again.

    Returns
    -------
    PlasticityResult

    Examples
    --------
    >>> import numpy as np
    >>> steel = {"E": 200e3, "nu": 0.3, "yield_stress": 250.0, "hardening": 1e3}
    >>> path = np.zeros((3, 6)); path[:, 0] = [0.001, 0.004, 0.003]   # e11: load, yield, unload
    >>> uniaxial = [False] + [True] * 5                              # the other stresses are zero
    >>> result = plasticity(np.zeros((2, 2, 2), dtype=int), [steel], path, stress_free=uniaxial)
    >>> result.stress[:, 0].round(2)              # 250 + E H / (E + H) (0.004 - 250 / E), then slope E
    array([200.  , 252.74,  52.74])

    Stopped after the first two steps and continued, the same numbers:

    >>> first = plasticity(np.zeros((2, 2, 2), dtype=int), [steel], path[:2], stress_free=uniaxial, return_fields=True)
    >>> rest = plasticity(np.zeros((2, 2, 2), dtype=int), [steel], path[2:], stress_free=uniaxial, initial=first)
    >>> bool((rest.stress == result.stress).all())
    True
    """
    d = _layout(labels, batch)
    if isinstance(phases, dict):
        raise ValueError("phases is one dict; expected a sequence of dicts, one per phase label")
    check_properties(phases, name="phases")
    check_labels(labels, batch=batch, n_phases=len(phases))
    check_solver_dtype(dtype)
    max_iter = 30 if max_iter is None else max_iter
    for name, value in (("max_iter", max_iter), ("cg_max_iter", cg_max_iter)):
        check_integer(value, 1, name=name)
    tol = check_relative_tolerance(tol)          # r <= 1 at the trial state: tol >= 1 would return it as converged
    return_fields = check_flag(return_fields, name="return_fields")
    m, dev = (3 if d == 2 else 6), compute_device(labels, device)
    lab = to_torch(labels, dev).long()
    free = _free(stress_free, m)
    phase_table = [_phase(p, i) for i, p in enumerate(phases)]
    settings = dict(labels=array_digest(lab.cpu().numpy()), batch=batch,
                    phases=[{key: _real_scalar(p.get(key, 0.0), key)
                             for key in ("E", "nu", "yield_stress", "hardening")} for p in phases],
                    stress_free=[i in free for i in range(m)], dtype=str(dtype))
    lab = lab if batch else lab[None]
    B, spatial = lab.shape[0], tuple(lab.shape[1:])
    history = _history(strain_history, m, d, B, batch, dtype, dev)
    table, exponent = _scaled(phase_table)
    table = torch.tensor(table, dtype=dtype, device=dev)
    cell = _Cell(tuple(table[:, k][lab][:, None] for k in range(4)), spatial, free, dtype, dev)   # K, mu, sy, H

    n_steps = history.shape[1]
    if initial is None:
        e, E = torch.zeros(B, 1, m, *spatial, dtype=dtype, device=dev), torch.zeros(B, m, dtype=dtype, device=dev)
        done = dict(stress=history[:, :0], strain=history[:, :0], newton=np.zeros(0, int), cg=np.zeros(0, int),
                    residuals=[], converged=True)
    else:
        e, E, cell.eps_p, cell.alpha, done = _resumed(initial, settings, batch, dtype, dev)
    stress, strain = torch.zeros_like(history), torch.zeros_like(history)
    newton, cg_its, residuals, converged = np.zeros(n_steps, int), np.zeros(n_steps, int), [], done["converged"]
    first = len(done["newton"])                                   # the global index of the first step
    bar = progress_bar(progress, n_steps, "FFT plasticity (Newton-CG)")
    with torch.no_grad():
        for step in range(n_steps):
            target = history[:, step].clone()
            target[:, free] = E[:, free]                          # unknowns start from the last step
            e += (target - E).reshape(B, 1, m, *(1,) * d)         # uniform, compatible predictor
            E = target
            history_k, newton[step], cg_its[step], failed = cell.solve(e, E, tol, max_iter, cg_max_iter)
            if failed:
                converged = False
                warnings.warn(
                    f"plasticity: Newton did not converge in load step {first + step} (of {first + n_steps}): "
                    f"relative residual "
                    f"{history_k[-1]:.3e} > tol={tol:g} after max_iter={max_iter} corrections (RVEs "
                    f"{failed}); use smaller load steps or increase max_iter", ConvergenceWarning, stacklevel=2)
            cell.commit()
            stress[:, step], strain[:, step] = cell.sigma.mean(tuple(range(3, 3 + d)))[:, 0], E
            residuals.append(history_k)
            if bar is not None:
                bar.set_postfix(newton=int(newton[step]), residual=f"{history_k[-1]:.1e}")
                bar.update(1)
    if bar is not None:
        bar.close()
    out = (lambda t: like(t, labels)) if batch else (lambda t: like(t[0], labels))
    stress = torch.cat([done["stress"], _times_power_of_two(stress, exponent)], 1)   # of the unscaled phases
    strain = torch.cat([done["strain"], strain], 1)
    fields = None
    if return_fields:
        fields = {"strain": e[:, 0], "stress": _times_power_of_two(cell.sigma[:, 0], exponent),
                  "plastic_strain": cell.eps_p, "equivalent_plastic_strain": cell.alpha[:, 0],
                  **({"stress_33": _times_power_of_two(cell.sigma_33, exponent)} if d == 2 else {})}
        fields = {key: out(value) for key, value in fields.items()}
    return PlasticityResult(stress=out(stress), strain=out(strain),
                            newton_iterations=np.concatenate([done["newton"], newton]),
                            cg_iterations=np.concatenate([done["cg"], cg_its]), residuals=done["residuals"] + residuals,
                            converged=converged, fields=fields, settings=settings)


def _resumed(initial, settings, batch, dtype, device):
    """The state a continuation starts from: ``(e, E, eps_p, alpha)`` (copies: ``e`` is updated in place)
    and the steps done (``stress``, ``strain``, ``newton``, ``cg``, ``residuals``, ``converged``), checked."""
    if not isinstance(initial, PlasticityResult):
        raise TypeError(f"initial is {type(initial).__name__}; expected the PlasticityResult of a previous plasticity "
                        "call")
    if initial.settings is None or initial.fields is None:
        raise ValueError("initial is a PlasticityResult without its state (fields, settings); expected the result of "
                         "plasticity(..., return_fields=True), the only one that can be continued")
    check_same_settings(initial.settings, settings,
                        problem=f"initial solved another problem (its settings {initial.settings})",
                        remedy="a continuation needs the same labels, batch, phases, stress_free and dtype (tol, "
                               "max_iter, cg_max_iter, device, return_fields and progress may change)")

    def tensor(x):                                      # (B, ...) with the batch axis, a copy on device
        t = to_torch(x, device, dtype)
        return (t if batch else t[None]).clone()

    fields = initial.fields
    stress, strain = tensor(initial.stress), tensor(initial.strain)
    done = dict(stress=stress, strain=strain, newton=np.asarray(initial.newton_iterations),
                cg=np.asarray(initial.cg_iterations), residuals=[list(r) for r in initial.residuals],
                converged=bool(initial.converged))
    return (tensor(fields["strain"])[:, None], strain[:, -1].clone(), tensor(fields["plastic_strain"]),
            tensor(fields["equivalent_plastic_strain"])[:, None], done)


# ----------------------------------------------------------------------------- input checks
def _phase(phase, index):
    """``(K, mu, yield_stress, H)`` of one phase dict, checked."""
    where = f"phases[{index}] (phase {index})"
    if not isinstance(phase, dict) or not {"E", "nu", "yield_stress"} <= set(phase) <= {"E", "nu", "yield_stress", "hardening"}:
        got = sorted(phase) if isinstance(phase, dict) else type(phase).__name__
        raise ValueError(f"{where} is {got}; expected a dict with keys 'E', 'nu', 'yield_stress' and optionally 'hardening'")
    E, nu, sy, H = (_real_scalar(phase.get(key, 0.0), f"{where}[{key!r}]")
                    for key in ("E", "nu", "yield_stress", "hardening"))
    checks = [(math.isfinite(E) and E > 0, f"E = {E}", "a finite Young's modulus E > 0"),
              (-1 < nu < 0.5, f"nu = {nu}", "a Poisson's ratio -1 < nu < 0.5"),
              (sy > 0, f"yield_stress = {sy}", "a yield stress > 0 (inf for an elastic phase)"),
              (math.isfinite(H) and H >= 0, f"hardening = {H}", "a finite hardening modulus >= 0")]
    for ok, found, expected in checks:
        if not ok:
            raise ValueError(f"{where}: {found}; expected {expected}")
    lam, mu = lame_from(E=E, nu=nu)
    return lam + 2 * mu / 3, mu, sy, H


def _real_scalar(value, name):
    """A phase constant as a float: a real number (numpy's too, 0-d arrays included) or a one-element real
    tensor; a bool, a string or a complex number is refused (float() read "1" as 1 and True as 1, and warned
    at most on a tensor)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool:
        return float(value.detach())
    if isinstance(value, np.ndarray) and value.ndim == 0:      # np.array(1.0): a number all the same
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} = {value!r}; expected a real number")
    return float(value)


def _scaled(table):
    """The phases' ``(K, mu, yield_stress, H)`` divided by the power of two :math:`2^k` nearest their largest
    modulus (the largest of them is then in [1/2, 1)), and ``k`` (module docstring, *Units*)."""
    largest = max(max(K, mu, H) for K, mu, _, H in table)
    exponent = math.frexp(largest)[1]
    return [[math.ldexp(value, -exponent) for value in row] for row in table], exponent


def _times_power_of_two(t, exponent):
    """``t * 2**exponent``, exact (in two factors: ``2**1024`` is not a float64, a modulus of 1e308 is)."""
    half = exponent // 2
    return t * 2.0 ** half * 2.0 ** (exponent - half)


def _history(strain_history, m, d, B, batch, dtype, device):
    """The strain history as a ``(B, n_steps, m)`` tensor, checked."""
    names = "(e11, e22, sqrt2 e12)" if d == 2 else "(e11, e22, e33, sqrt2 e23, sqrt2 e13, sqrt2 e12)"
    shape = tuple(strain_history.shape) if hasattr(strain_history, "shape") else np.shape(strain_history)
    ok = len(shape) == 2 or (batch and len(shape) == 3 and shape[0] == B)
    if not ok or shape[-1] != m or shape[-2] < 1:
        expected = f"(n_steps, {m})" + (f" or ({B}, n_steps, {m}) (one per RVE)" if batch else "")
        raise ValueError(f"strain_history has shape {shape}; expected {expected}: Mandel strains {names} "
                         f"for {d}D labels")
    values = strain_history.detach() if isinstance(strain_history, torch.Tensor) else np.asarray(strain_history)
    if values.dtype in (torch.bool, np.bool_):            # check_finite refuses complex and non-numbers, not bools
        raise TypeError(f"strain_history has dtype {values.dtype}; expected real strains")
    check_finite(values, name="strain_history")
    values = values if isinstance(values, torch.Tensor) else values.astype(float)
    history = to_torch(values, device, dtype)
    return history.expand(B, -1, -1).clone() if history.ndim == 2 else history.clone()


def _free(stress_free, m):
    """Indices of the stress-free Mandel components."""
    if stress_free is None:
        return []
    mask = np.asarray(stress_free)
    if mask.shape != (m,) or mask.dtype != bool:
        raise ValueError(f"stress_free = {stress_free!r}; expected {m} booleans (one per Mandel component)")
    return [int(i) for i in np.flatnonzero(mask)]
