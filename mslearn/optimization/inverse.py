r"""Inverse homogenization: periodic unit cells with extremal effective elastic properties.

The problem (Sigmund 1994, 1995)
--------------------------------
Find the material distribution of a periodic unit cell, solid (Young's modulus :math:`E`,
Poisson's ratio :math:`\nu`) and void, whose effective Mandel stiffness :math:`C^*` maximizes the
bulk modulus, maximizes the shear modulus, or has a negative Poisson's ratio, at a prescribed solid
volume fraction :math:`f`:

.. math:: \min_{\mathbf x\in[0,1]^N}\ J\big(C^*(\bar\rho(\mathbf x))\big)
   \quad\text{s.t.}\quad \langle\bar\rho\rangle \le f .

The chain from the design variables :math:`\mathbf x` (one per voxel) to the effective tensor:

1. **symmetry**: :math:`\mathbf x_s = \tfrac1{|G|}\sum_{R\in G} R\cdot\mathbf x`, the average over the
   symmetry group of the square (cube) — :func:`mslearn.nn.symmetry_group`, the 8 (48) signed
   permutations, or its mirrors only for a rectangular cell — so that the design is square (cubic)
   symmetric: the in-plane bulk and Poisson responses are then those of a square-symmetric
   material, :math:`C^*_{11} = C^*_{22}`, no normal–shear coupling;
2. **density filter** (Bruns & Tortorelli 2001, Bourdin 2001), periodic:
   :math:`\tilde\rho = w * \mathbf x_s` with the cone :math:`w(\delta) \propto \max(0, r - |\delta|)`
   (``filter_radius`` :math:`r`, periodic distance, applied by FFT), which preserves the mean;
3. **smoothed Heaviside projection** (Wang, Lazarov & Sigmund 2011), threshold :math:`\eta = 1/2`:
   :math:`\bar\rho = [\tanh(\beta\eta) + \tanh(\beta(\tilde\rho-\eta))]/[\tanh(\beta\eta) +
   \tanh(\beta(1-\eta))]`, with continuation: :math:`\beta = 1, 2, 4, \dots,` ``beta``, doubled
   as soon as the design settles (largest change of :math:`\mathbf x` below ``tol``) or after
   :data:`BETA_PATIENCE` iterations. Not waiting matters: at small :math:`\beta` the uniform grey
   design is a stationary point towards which the initial hole flattens out (bulk, :math:`f = 0.5`:
   :math:`\kappa` of the grey design rises from 0.101 to 0.120 as it does); holding each
   :math:`\beta` for at least 10 iterations ended there, with nothing left to threshold;
4. **SIMP** (modified, Sigmund 2007): :math:`C(\bar\rho) = (\varepsilon + \bar\rho^{\,p}(1-\varepsilon))\,C_0`,
   :math:`p = 3`, :math:`\varepsilon = 10^{-4}` (:data:`E_MIN`). The FFT solver accepts void voxels
   (:math:`\varepsilon = 0`), but then :math:`\partial C/\partial\bar\rho = 0` where
   :math:`\bar\rho = 0` and material could never come back; :math:`10^{-4}` of the solid's stiffness
   changes the effective moduli by about that fraction, and the solver's iterations hardly depend on
   it (the same for :math:`10^{-3}` and :math:`10^{-4}`);
5. **homogenization**: :math:`C^*` from :func:`mslearn.homogenization.elasticity_field` (the rotated
   FFT scheme, plane strain in 2D), with the gradient :math:`\partial C^*/\partial C(x)` of its
   adjoint identity and the rest of the chain by torch autograd.

Objectives, with the Mandel :math:`C^*` (2D order 11, 22, 12; :math:`d` the dimension):

* ``"bulk"``: maximize :math:`\kappa = \tfrac1{d^2}\sum_{i,j\le d} C^*_{ij}`, the response to a
  hydrostatic strain — in 2D :math:`(C_{11}+C_{22}+2C_{12})/4`, the plane-strain (area) bulk modulus
  :math:`\lambda+\mu` of an isotropic material, the modulus the 2D Hashin–Shtrikman bounds of
  :func:`mslearn.homogenization.bounds.hashin_shtrikman_bulk` are about;
* ``"shear"``: maximize the shear modulus in the cell's axes, :math:`G = C^*_{66}/2` (Mandel shear
  entry over 2; in 3D the mean of the three);
* ``"poisson"``: a negative Poisson's ratio :math:`\nu^* = C^*_{12}/C^*_{11}` (2D, square symmetry;
  in 3D, cubic symmetry, :math:`C^*_{12}/(C^*_{11}+C^*_{12})`), by minimizing
  :math:`J = C^*_{12} - w_k\,C^*_{11}` (axis averages) with the weight :math:`w_k = 0.8^k` decaying
  with the iteration :math:`k`, as in the negative-Poisson example of Xia & Breitkopf (2015):
  early on, stiffness keeps the design from degenerating into a soft grey one; later, a negative
  :math:`C^*_{12}` of a magnitude that needs stiffness is reached only by a re-entrant, auxetic
  cell. :math:`J = \nu^* C^*_{11}` itself is not scale-free, unlike :math:`\nu^*`, so a floppy cell
  does not win.

The update: MMA
---------------
The method of moving asymptotes (Svanberg 1987), with the one volume constraint: at the iterate
:math:`\mathbf x^k`, each function is replaced by the convex separable approximation
:math:`\sum_j p_j/(U_j - x_j) + q_j/(x_j - L_j)` (:math:`p_j` from the positive part of
:math:`\partial J/\partial x_j`, :math:`q_j` from the negative part), the asymptotes :math:`L, U`
widen (×1.2) while a variable moves monotonically and narrow (×0.7) when it oscillates, and the
subproblem's dual, a concave function of the one multiplier :math:`\lambda\ge0`, is maximized by
bisection on :math:`\lambda` (the primal minimizer has a closed form per variable). Unlike the
optimality criteria of the 88-line code (:mod:`.topology`), MMA takes sensitivities of either sign,
which the Poisson objective has. The gradients are scaled to a mean magnitude of 1 per iteration
(MMA's subproblem is invariant under positive scaling, except for its tiny regularization).

Robust formulation (optional)
-----------------------------
A design optimized through the interpolation can lean on a few grey voxels: an auxetic cell's
hinges become soft grey links (:math:`\bar\rho \approx 0.3`, a thirtieth of the stiffness) held at
:math:`\tilde\rho \approx \eta` however large :math:`\beta` is, and thresholding turns each into
either a stiff joint or a cut (:math:`\nu^*` from -0.4 grey to -0.2 or +0.1 black and white). With
``robust=True`` (Wang, Lazarov & Sigmund 2011) the objective is the smooth maximum
(Kreisselmeier–Steinhauser) over the eroded, intermediate and dilated designs, thresholds
:math:`\eta = 0.7, 0.5, 0.3` (:data:`ROBUST_SHIFT`), one batched solve: a design must work for
all three, which gives both phases a minimum length scale and no one-node hinges, at about twice
the cost.

Verification
------------
The result is thresholded to a 0/1 design at the level that gives the target volume fraction
(as close as the symmetry orbits allow: voxels of equal density stay together) and
**re-homogenized** with :func:`mslearn.homogenization.elasticity` on the labels, the pores with
:math:`E = 0`: the properties reported are those of a two-phase cell, not of the grey, interpolated
one. Measured (``E = 1``, ``nu = 0.3``, plane strain, default settings, one CPU core):

* ``"bulk"``, :math:`f = 0.5`: :math:`\kappa/\kappa_{HS} = 0.92` to 0.96 on 32×32 (seeds 0–4; seed 0:
  :math:`\kappa = 0.203`, 0.95 of the Hashin–Shtrikman upper bound 0.2137 of the porous solid, 64
  iterations, 2 s) and 0.93 to 0.98 on 48×48 (77–119 iterations, 3–5 s);
* ``"poisson"``, 48×48, :math:`f = 0.5`: :math:`\nu^* = -0.632, -0.625, -0.623, -0.507` for seeds 0–3
  (225–250 iterations, 26–33 s, each settled before ``max_iter=300``). Auxetic cells need
  resolution, and are not found every time: at 32×32 and 40×40, and at :math:`f \le 0.4` on 48×48,
  most thresholded designs ended with :math:`-0.25 \le \nu^* \le 0.2` or fell apart.
  ``robust=True`` (80–100 s on 48×48) reached -0.61 at :math:`f = 0.4` (without: -0.19), but
  -0.24 at :math:`f = 0.3`, and did not help on 32×32 (-0.16 to -0.24).

Why hand-written
----------------
The chain runs through this package's own differentiable FFT solver; topology optimization
libraries (e.g. the MATLAB codes of Andreassen & Andreasen 2014, Xia & Breitkopf 2015) use finite
element homogenization and are not importable. MMA itself is ~40 lines here (the one-constraint
dual needs no general solver; ``nlopt``'s MMA would add a compiled dependency for it).

References: Sigmund, Int. J. Solids Struct. 31, 2313 (1994); Sigmund, Mech. Mater. 20, 351
(1995); Svanberg, IJNME 24, 359 (1987); Bruns & Tortorelli, CMAME 190, 3443 (2001); Bourdin, IJNME
50, 2143 (2001); Sigmund, Struct.
Multidisc. Optim. 33, 401 (2007); Wang, Lazarov & Sigmund, Struct. Multidisc. Optim. 43, 767 (2011);
Andreassen & Andreasen, Comput. Mater. Sci. 83, 488 (2014), "How to determine composite material
properties using numerical homogenization"; Xia & Breitkopf, Struct. Multidisc. Optim. 52, 1229
(2015); Hashin, J. Mech. Phys. Solids 13, 119 (1965) (the 2D bounds).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .._backend import device as resolve_device
from .._backend import cpu_threads, progress_bar, rng
from .._validation import check_density_design, check_flag, check_integer, check_same_settings
from ..homogenization import ConvergenceWarning, elasticity, elasticity_field
from ..homogenization.tensors import isotropic_stiffness
from ..nn import apply_symmetry, symmetry_group

__all__ = ["InverseHomogenizationResult", "inverse_homogenization"]

OBJECTIVES = ("bulk", "shear", "poisson")
PENAL = 3.0          # SIMP exponent p
E_MIN = 1e-4         # SIMP floor: the stiffness of void, relative to the solid
ETA = 0.5            # threshold of the Heaviside projection
ROBUST_SHIFT = 0.2   # eroded / dilated thresholds ETA +- ROBUST_SHIFT of the robust formulation
KS_SHARPNESS = 100.0  # Kreisselmeier-Steinhauser smooth maximum over the robust designs
BETA_PATIENCE = 40   # iterations at one beta before it is doubled anyway
SOLVER_TOL = 1e-6    # relative residual of the FFT solves in the loop
VERIFY_TOL = 1e-8    # ... of the verification of the thresholded design
POISSON_DECAY = 0.8  # w_k = 0.8**k of the Poisson objective


@dataclass
class InverseHomogenizationResult:
    """Result of :func:`inverse_homogenization`.

    Attributes
    ----------
    density : numpy.ndarray
        The physical (filtered, projected) density :math:`\\bar\\rho` in [0, 1] of the last
        iterate, shape ``shape``; 1 = solid.
    design : numpy.ndarray of int
        The thresholded 0/1 design (1 = solid) at the target volume fraction (to within one
        symmetry orbit of voxels).
    effective : numpy.ndarray
        Mandel effective stiffness ``(3, 3)`` (2D, plane strain) or ``(6, 6)`` of ``design``,
        re-homogenized with :func:`mslearn.homogenization.elasticity` (pores ``E = 0``), not the
        interpolated density's.
    objective : str
        ``"bulk"``, ``"shear"`` or ``"poisson"``.
    value : float
        The objective's property of the verified design: :attr:`bulk_modulus`,
        :attr:`shear_modulus` or :attr:`poisson_ratio`.
    iterations : int
        Design updates done (one FFT solve each).
    history : list of float
        The objective's property of the interpolated (grey) design per iteration.
    converged : bool
        Whether the design settled (largest change of the design variables below ``tol``) at the
        final ``beta`` before ``max_iter``.
    state : dict
        What ``inverse_homogenization(..., initial=result)`` goes on from: the design variables, the
        optimizer's memory (MMA's last two iterates and asymptotes, the continuation's ``beta`` stage),
        the last update's largest design change (``"change"``, which a continuation compares with its
        own ``tol``) and the problem's settings, as numpy arrays and numbers.

    The properties :attr:`volume_fraction`, :attr:`bulk_modulus`, :attr:`shear_modulus` and
    :attr:`poisson_ratio` are computed from ``design`` and ``effective``.
    """

    density: np.ndarray
    design: np.ndarray
    effective: np.ndarray
    objective: str
    value: float
    iterations: int
    history: list = field(repr=False)
    converged: bool
    state: dict = field(default=None, repr=False)

    @property
    def volume_fraction(self):
        """Solid fraction of :attr:`design`."""
        return float(self.design.mean())

    @property
    def bulk_modulus(self):
        """:math:`\\kappa = \\sum_{i,j\\le d} C^*_{ij}/d^2` of :attr:`effective` (2D: the plane-strain area
        bulk modulus)."""
        return float(_bulk(torch.as_tensor(self.effective)))

    @property
    def shear_modulus(self):
        """:math:`G = C^*_{66}/2` (Mandel), in 3D the mean over the three shear entries."""
        return float(_shear(torch.as_tensor(self.effective)))

    @property
    def poisson_ratio(self):
        """:math:`C^*_{12}/C^*_{11}` (2D) or :math:`C^*_{12}/(C^*_{11}+C^*_{12})` (3D), axis averages; NaN
        for a design without a connected solid path (no stiffness: the ratio of rounding errors)."""
        E = (self.state or {}).get("settings", {}).get("E", 1.0)
        if not _carries_load(self.effective, E):
            return math.nan
        return float(_poisson(torch.as_tensor(self.effective)))


# ----------------------------------------------------------------------------- effective properties
def _carries_load(C, E):
    """Whether an effective stiffness is more than rounding: some entry above 1e-9 of the solid's ``E``."""
    return float(np.abs(np.asarray(C)).max()) > 1e-9 * float(E)


def _normal_block(C):
    d = 2 if C.shape[-1] == 3 else 3
    return C[..., :d, :d], d


def _bulk(C):
    block, d = _normal_block(C)
    return block.sum((-1, -2)) / d**2


def _shear(C):
    _, d = _normal_block(C)
    return C[..., d:, d:].diagonal(dim1=-2, dim2=-1).mean(-1) / 2


def _diagonal_offdiagonal(C):
    block, d = _normal_block(C)
    diagonal = block.diagonal(dim1=-2, dim2=-1).mean(-1)
    offdiagonal = (block.sum((-1, -2)) - block.diagonal(dim1=-2, dim2=-1).sum(-1)) / (d * (d - 1))
    return diagonal, offdiagonal, d


def _poisson(C):
    diagonal, offdiagonal, d = _diagonal_offdiagonal(C)
    return offdiagonal / diagonal if d == 2 else offdiagonal / (diagonal + offdiagonal)


PROPERTIES = {"bulk": _bulk, "shear": _shear, "poisson": _poisson}


# ----------------------------------------------------------------------------- the forward map
class _UnitCell:
    """The differentiable chain design variables -> symmetry -> filter -> projection -> SIMP -> C*."""

    def __init__(self, shape, volume_fraction, objective, E, nu, filter_radius, device, robust=False,
                 dtype=torch.float64):
        self.shape, self.ndim = tuple(shape), len(shape)
        self.volume_fraction, self.objective = float(volume_fraction), objective
        self.device, self.dtype = device, dtype
        self.C0 = torch.as_tensor(isotropic_stiffness(E=E, nu=nu, ndim=self.ndim), dtype=dtype, device=device)
        square = len(set(self.shape)) == 1
        self.group = symmetry_group(self.ndim, rotations=square)
        self.kernel = self._filter_kernel(filter_radius)
        self.etas = (ETA + ROBUST_SHIFT, ETA, ETA - ROBUST_SHIFT) if robust else (ETA,)

    def _filter_kernel(self, radius):
        """The periodic cone filter's transfer function (real: the kernel is even)."""
        axes = [torch.minimum(torch.arange(n), n - torch.arange(n)).to(self.dtype) for n in self.shape]
        distance = torch.sqrt(sum(g**2 for g in torch.meshgrid(*axes, indexing="ij")))
        weights = torch.clamp(radius - distance, min=0.0)
        weights = weights / weights.sum()
        return torch.fft.rfftn(weights).real.to(self.device)

    def symmetrize(self, x):
        return torch.stack([apply_symmetry(x[None], R)[0] for R in self.group]).mean(0)

    def filtered(self, x):
        return torch.fft.irfftn(torch.fft.rfftn(self.symmetrize(x)) * self.kernel, s=self.shape)

    def physical(self, x, beta, eta=ETA):
        """:math:`\\bar\\rho(\\mathbf x)` for the projection sharpness ``beta`` and threshold ``eta``."""
        rho = self.filtered(x)
        a, b = math.tanh(beta * eta), math.tanh(beta * (1 - eta))
        return (a + torch.tanh(beta * (rho - eta))) / (a + b)

    def effective(self, rho, tol):
        """Effective Mandel stiffness of SIMP densities ``rho`` ``(B, *shape)`` (one batched solve)."""
        scale = E_MIN + rho**PENAL * (1 - E_MIN)
        field_ = scale[:, None, None] * self.C0.reshape(*self.C0.shape, *(1,) * self.ndim)
        return elasticity_field(field_, ndim=self.ndim, batch=True, tol=tol, max_iter=10000, device=self.device,
                                dtype=self.dtype).effective

    def objective_value(self, C, weight):
        """The function minimized: minus the modulus, or :math:`C_{12} - w\\,C_{11}` (Poisson)."""
        if self.objective == "bulk":
            return -_bulk(C)
        if self.objective == "shear":
            return -_shear(C)
        diagonal, offdiagonal, _ = _diagonal_offdiagonal(C)
        return offdiagonal - weight * diagonal

    def evaluate(self, x, beta, weight=0.0, tol=SOLVER_TOL):
        """The objective and its gradient, the volume constraint :math:`\\langle\\bar\\rho\\rangle - f`
        and its gradient w.r.t. ``x``, and the effective tensor and physical density (detached) of
        the (intermediate) design. Robust: the smooth maximum of the objectives of the eroded,
        intermediate and dilated designs, solved as one batch."""
        x = x.detach().requires_grad_(True)
        rho = torch.stack([self.physical(x, beta, eta) for eta in self.etas])
        C = self.effective(rho, tol)
        J = self.objective_value(C, weight)
        if len(J) > 1:
            scale = float(self.C0[0, 0])
            f = scale / KS_SHARPNESS * torch.logsumexp(KS_SHARPNESS * J / scale, 0)
        else:
            f = J[0]
        middle = len(self.etas) // 2
        g = rho[middle].mean() - self.volume_fraction
        df, = torch.autograd.grad(f, x, retain_graph=True)
        dg, = torch.autograd.grad(g, x)
        return float(f.detach()), df, float(g.detach()), dg, C[middle].detach(), rho[middle].detach()


# ----------------------------------------------------------------------------- MMA (one constraint)
class _MMA:
    """Svanberg's method of moving asymptotes for ``min f(x)`` s.t. ``g(x) <= 0``, ``0 <= x <= 1``."""

    def __init__(self, move=0.2, asyinit=0.5, asyincr=1.2, asydecr=0.7):
        self.move, self.asyinit, self.asyincr, self.asydecr = move, asyinit, asyincr, asydecr
        self.history = []                     # x of the previous two iterations
        self.low = self.upp = None

    def update(self, x, df, g, dg):
        if len(self.history) < 2:
            self.low, self.upp = x - self.asyinit, x + self.asyinit
        else:
            x1, x2 = self.history[-1], self.history[-2]
            sign = (x - x1) * (x1 - x2)
            gamma = torch.where(sign > 0, self.asyincr, torch.where(sign < 0, self.asydecr, 1.0))
            self.low = torch.clamp(x - gamma * (x1 - self.low), x - 10.0, x - 0.01)
            self.upp = torch.clamp(x + gamma * (self.upp - x1), x + 0.01, x + 10.0)
        self.history = (self.history + [x.clone()])[-2:]
        low, upp = self.low, self.upp
        alpha = torch.clamp(torch.maximum(low + 0.1 * (x - low), x - self.move), min=0.0)
        beta = torch.clamp(torch.minimum(upp - 0.1 * (upp - x), x + self.move), max=1.0)

        def pq(grad):
            scaled = grad / grad.abs().mean().clamp_min(1e-300)
            plus, minus = scaled.clamp(min=0), (-scaled).clamp(min=0)
            extra = 0.001 * (plus + minus) + 1e-5
            return (upp - x) ** 2 * (plus + extra), (x - low) ** 2 * (minus + extra)

        p0, q0 = pq(df)
        p1, q1 = pq(dg)
        g_scaled = g / dg.abs().mean().clamp_min(1e-300)
        r1 = g_scaled - (p1 / (upp - x) + q1 / (x - low)).sum()

        def primal(lam):
            P, Q = (p0 + lam * p1).sqrt(), (q0 + lam * q1).sqrt()
            return torch.clamp((P * low + Q * upp) / (P + Q), alpha, beta)

        def constraint(lam):
            y = primal(lam)
            return r1 + (p1 / (upp - y) + q1 / (y - low)).sum()

        if constraint(0.0) <= 0:
            return primal(0.0)
        lo, hi = 0.0, 1.0
        while constraint(hi) > 0 and hi < 1e12:
            lo, hi = hi, hi * 10
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if constraint(mid) > 0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-12 * hi:
                break
        return primal(hi)


# ----------------------------------------------------------------------------- thresholding, checks
def _threshold(density, volume_fraction):
    """0/1 labels ``density >= t`` with the level ``t`` whose solid fraction is nearest ``volume_fraction``
    (voxels of equal density, e.g. a symmetry orbit, stay together)."""
    values = np.round(np.asarray(density, dtype=float), 10)
    levels = np.unique(values)
    ordered = np.sort(values.ravel())
    counts = values.size - np.searchsorted(ordered, levels, side="left")
    best = levels[np.argmin(np.abs(counts - volume_fraction * values.size))]
    return (values >= best).astype(np.int64)


def _check_inputs(shape, volume_fraction, objective, E, nu, max_iter, filter_radius, beta, tol):
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) not in (2, 3) or any(
            not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 4 for n in shape):
        raise ValueError(f"shape={shape!r}; expected the unit cell's voxels per axis, a tuple of 2 or 3 "
                         "integers >= 4, e.g. (48, 48)")
    if not isinstance(volume_fraction, numbers.Real) or not 0 < volume_fraction < 1:
        raise ValueError(f"volume_fraction={volume_fraction!r}; expected the solid fraction, a number in (0, 1)")
    voxels = math.prod(shape)
    if not 1 <= volume_fraction * voxels <= voxels - 1:
        raise ValueError(f"volume_fraction={volume_fraction!r} leaves less than one voxel of "
                         f"{'solid' if volume_fraction < 0.5 else 'void'} in a {'x'.join(map(str, shape))} cell; "
                         f"expected 1/{voxels} <= volume_fraction <= 1 - 1/{voxels}, or a larger shape")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}; expected one of {OBJECTIVES}")
    for name, value, what in (("E", E, "Young modulus"), ("nu", nu, "Poisson ratio")):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{name}={value!r}; expected the solid's {what}, a finite number")
    if E <= 0:
        raise ValueError(f"E = {E} is not positive; expected the solid's Young's modulus E > 0")
    if not -1 < nu < 0.5:
        raise ValueError(f"nu = {nu}; expected the solid's Poisson's ratio, -1 < nu < 0.5")
    check_integer(max_iter, 1, name="max_iter")
    if not isinstance(filter_radius, numbers.Real) or not math.isfinite(filter_radius) or filter_radius < 1:
        raise ValueError(f"filter_radius={filter_radius!r}; expected a finite number of voxels >= 1")
    if not isinstance(beta, numbers.Real) or not math.isfinite(beta) or beta < 1:
        raise ValueError(f"beta={beta!r}; expected the final projection sharpness, a finite number >= 1")
    if not isinstance(tol, numbers.Real) or not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol={tol!r}; expected a finite number > 0")


def _initial_design(shape, volume_fraction, generator):
    """A soft hole in the centre (density reduced towards it) plus seeded noise, mean ``volume_fraction``."""
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in shape]
    radius = np.sqrt(sum(g**2 for g in np.meshgrid(*axes, indexing="ij")))
    hole = np.clip(radius / 0.35, 0.0, 1.0)            # 0 in the centre, 1 beyond 0.35 of the cell
    x = hole - hole.mean() + 0.2 * generator.uniform(-0.5, 0.5, size=shape)
    x = volume_fraction + x * min(volume_fraction, 1 - volume_fraction) / np.abs(x).max()
    return np.clip(x, 0.0, 1.0)


def _continued(initial, settings):
    """The state to start from: an :class:`InverseHomogenizationResult` of the same problem (its
    ``state``), or a design of densities ``shape`` in [0, 1] (a fresh optimizer); None for the default
    start."""
    if initial is None:
        return None
    if isinstance(initial, InverseHomogenizationResult):
        state = initial.state
        if state is None:
            raise ValueError("initial is an InverseHomogenizationResult without its state; expected a result "
                             "returned by inverse_homogenization")
        check_same_settings(state["settings"], settings,
                            problem=f"initial solved another problem (its settings {state['settings']})",
                            remedy="a continuation needs the same arguments but seed, max_iter, tol, device "
                                   "and progress")
        # a state saved before states kept their change: settled if it had converged, as it was then read
        change = state.get("change", 0.0 if initial.converged else math.inf)
        return dict(state, change=change, history=list(initial.history), fresh=False)
    x = check_density_design(initial, settings["shape"], alternative="an InverseHomogenizationResult",
                             shape_text=f"the unit cell's {settings['shape']}")
    if np.ptp(x) == 0:
        raise ValueError(f"initial is uniform (every density {x.flat[0]:g}): a symmetric stationary point, which "
                         "every update keeps uniform, so the thresholded design misses volume_fraction; expected "
                         "a design that varies (add seeded noise) or initial=None for the seeded soft hole")
    return dict(x=x, mma=[], low=None, upp=None, stage=0, at_stage=0, history=[], change=math.inf, fresh=True)


# ----------------------------------------------------------------------------- the optimization
def inverse_homogenization(shape, volume_fraction, objective="bulk", *, E=1.0, nu=0.3, seed=0, max_iter=300,
                           filter_radius=2.0, beta=16.0, robust=False, tol=0.01, device="auto",
                           progress=False, initial=None, phase=None):
    r"""Design a periodic unit cell of solid and void with an extremal effective elastic property.

    Density-based topology optimization through the differentiable FFT solver: symmetry, periodic
    density filter, Heaviside projection with continuation, SIMP, MMA (see the module docstring).

    Parameters
    ----------
    shape : tuple of int
        Voxels per axis of the unit cell, 2 (plane strain) or 3 axes, each >= 4. A square (cubic)
        cell is designed with the symmetry of the square (cube), a rectangular one with its mirrors.
    volume_fraction : float
        The solid fraction :math:`f \in (0, 1)` (an upper bound in the optimization, the target of
        the thresholded design).
    objective : {"bulk", "shear", "poisson"}
        Maximize the bulk modulus :math:`\kappa = \sum_{i,j\le d}C^*_{ij}/d^2` (2D: plane-strain
        :math:`(C_{11}+C_{22}+2C_{12})/4`), maximize the shear modulus :math:`C^*_{66}/2`, or make the
        Poisson's ratio :math:`C^*_{12}/C^*_{11}` negative (minimize :math:`C^*_{12} - 0.8^k C^*_{11}`).
    E, nu : float
        The solid's Young's modulus ``E > 0`` and Poisson's ratio ``-1 < nu < 0.5`` (as in
        :func:`~mslearn.multiscale.cooks_membrane`). The other phase is void (``E = 0``).
    seed : int or numpy.random.Generator
        Seeds the noise on the initial design (a soft hole in the centre).
    max_iter : int
        Cap on the design updates (FFT solves).
    filter_radius : float
        Radius :math:`r \ge 1` of the periodic cone density filter, in voxels: the scale of the
        features (a guaranteed minimum length scale only with ``robust=True``).
    beta : float
        Final sharpness of the Heaviside projection (continuation 1, 2, 4, ... up to ``beta``).
    robust : bool
        Optimize the worst of the eroded, intermediate and dilated designs (Wang, Lazarov & Sigmund
        2011): no grey one-node hinges, designs that survive thresholding; about twice the cost.
    tol : float
        The design has settled when the largest change of the design variables in an update is
        below ``tol``; at the final ``beta`` this ends the loop.
    device : str or torch.device
        ``"auto"``: CUDA when available.
    progress : bool
        Show a tqdm progress bar.
    initial : InverseHomogenizationResult or array_like, optional
        Go on from an earlier run of the same problem (the same arguments but ``seed``, ``max_iter``,
        ``tol``, ``device`` and ``progress``): its design variables, MMA's memory and the ``beta``
        stage are the start, and its iterations come first in the result, so ``max_iter`` counts the
        whole run. A run stopped at ``max_iter`` and continued with a larger one is the run made with
        the larger ``max_iter`` (bit for bit on one device); a result that settled within ``tol`` is
        returned as it was, re-verified (a stricter ``tol`` goes on). Or a design of densities
        ``shape`` in [0, 1] to start from instead of the seeded soft hole (symmetrized as every
        iterate is); not uniform, a stationary point that no update leaves.
    phase : tuple, optional
        Deprecated (a ``FutureWarning``): the solid's ``(E, nu)``; pass ``E`` and ``nu`` instead.
        Given together with an ``E`` or ``nu`` other than the defaults, a ``ValueError``.

    Returns
    -------
    InverseHomogenizationResult
        Reaching ``max_iter`` before the design settled warns (:class:`~mslearn.homogenization.ConvergenceWarning`).

    Examples
    --------
    >>> result = inverse_homogenization((32, 32), 0.5, "bulk")          # doctest: +SKIP
    >>> round(result.bulk_modulus, 3), result.iterations               # doctest: +SKIP
    (0.203, 64)
    """
    if phase is not None:
        # phase names a phase label everywhere else in mslearn; (E, nu) of the solid are E= and nu=, as elsewhere
        warnings.warn("inverse_homogenization(phase=(E, nu)) is deprecated and will be removed; pass E= and nu=",
                      FutureWarning, stacklevel=2)
        if not (isinstance(phase, (tuple, list)) and len(phase) == 2):
            raise ValueError(f"phase={phase!r}; expected the solid's (E, nu) (deprecated: pass E= and nu=)")
        if (E, nu) != (1.0, 0.3):          # the defaults: anything else was asked for, and phase would override it
            raise ValueError(f"phase={phase!r} and E={E!r}, nu={nu!r} both give the solid's moduli; expected E= and "
                             "nu= alone (phase= is deprecated)")
        E, nu = phase
    _check_inputs(shape, volume_fraction, objective, E, nu, max_iter, filter_radius, beta, tol)
    robust = check_flag(robust, name="robust")
    E, nu = float(E), float(nu)
    settings = dict(shape=tuple(shape), volume_fraction=float(volume_fraction), objective=objective, E=E, nu=nu,
                    filter_radius=float(filter_radius), beta=float(beta), robust=robust)
    start = _continued(initial, settings)
    dev = resolve_device(device)
    with cpu_threads(1, dev):   # small FFTs: one thread is fastest (mslearn._backend.cpu_threads)
        return _optimize(settings, seed, max_iter, tol, dev, progress, start)


def _optimize(settings, seed, max_iter, tol, dev, progress, start=None):
    shape, volume_fraction, objective = settings["shape"], settings["volume_fraction"], settings["objective"]
    E, nu, beta = settings["E"], settings["nu"], settings["beta"]
    cell = _UnitCell(shape, volume_fraction, objective, E, nu, settings["filter_radius"], dev,
                     robust=settings["robust"])

    def tensor(a):
        return None if a is None else torch.tensor(a, dtype=cell.dtype, device=dev)    # a copy: initial stays

    mma = _MMA()
    if start is None:
        start = dict(x=_initial_design(shape, volume_fraction, rng(seed)), mma=[], low=None, upp=None, stage=0,
                     at_stage=0, history=[], change=math.inf, fresh=True)
    x = cell.symmetrize(tensor(start["x"])) if start["fresh"] else tensor(start["x"])   # iterates stay symmetric
    mma.history, mma.low, mma.upp = [tensor(a) for a in start["mma"]], tensor(start["low"]), tensor(start["upp"])
    stage, at_stage, history, change = start["stage"], start["at_stage"], start["history"], start["change"]
    betas = [2.0**k for k in range(int(math.floor(math.log2(beta))) + 1)]
    if betas[-1] < beta:
        betas.append(float(beta))
    # a continuation is judged by this call's tol, on a change made at the final beta (at_stage 0: just reached)
    settled = stage == len(betas) - 1 and at_stage > 0 and change < tol
    bar = progress_bar(progress, max_iter, "inverse homogenization", unit="it", initial=len(history))
    for k in range(len(history), 0 if settled else max_iter):
        weight = POISSON_DECAY**k
        f, df, g, dg, C, rho = cell.evaluate(x, betas[stage], weight)
        history.append(float(PROPERTIES[objective](C)))
        x_new = mma.update(x, df, g, dg)
        change = float((x_new - x).abs().max())
        x, at_stage = x_new, at_stage + 1
        if bar is not None:
            bar.update()
            bar.set_postfix({objective: f"{history[-1]:.4g}", "beta": betas[stage], "change": f"{change:.3f}"})
        if change < tol or at_stage >= BETA_PATIENCE:
            if stage == len(betas) - 1:
                if change < tol:
                    settled = True
                    break
            else:
                stage, at_stage = stage + 1, 0
    if bar is not None:
        bar.close()
    if not settled:
        warnings.warn(f"inverse homogenization stopped at max_iter={max_iter} with a largest design change "
                      f"{change:.3g} {'>=' if change >= tol else '<'} tol={tol:g} at beta={betas[stage]:g} "
                      f"(final beta {betas[-1]:g}; the result has converged=False); "
                      "continue it with initial=result and a larger max_iter", ConvergenceWarning, stacklevel=3)
    with torch.no_grad():
        density = cell.physical(x, betas[stage]).cpu().numpy()
    design = _threshold(density, volume_fraction)
    if abs(design.mean() - volume_fraction) > 0.05:
        warnings.warn(f"the density is too uniform to threshold at volume_fraction={volume_fraction:g}: the design "
                      f"has {design.mean():.3g}; try another seed or a larger max_iter", stacklevel=3)
    effective = elasticity(design, [(0.0, nu), (E, nu)], tol=VERIFY_TOL, max_iter=10000, device=dev).effective
    value = float(PROPERTIES[objective](torch.as_tensor(effective)))
    if not _carries_load(effective, E):
        warnings.warn("the thresholded design has no connected solid path: its effective stiffness is zero to "
                      "rounding" + ("; its Poisson's ratio is undefined (value NaN)" if objective == "poisson" else "")
                      + "; try a larger volume_fraction or max_iter, or another seed", stacklevel=3)
        value = math.nan if objective == "poisson" else value

    def array(a):
        return None if a is None else a.detach().cpu().numpy()

    state = dict(x=array(x), mma=[array(a) for a in mma.history], low=array(mma.low), upp=array(mma.upp),
                 stage=stage, at_stage=at_stage, change=change, settings=settings)
    return InverseHomogenizationResult(density=density, design=design, effective=effective, objective=objective,
                                       value=value, iterations=len(history), history=history, converged=settled,
                                       state=state)
