r"""FE²: material laws whose stress and tangent at every macroscopic point come from an FFT RVE.

Scale separation (Feyel & Chaboche 2000; Miehe 2002; Kouznetsova, Geers & Brekelmans 2002): the
macroscopic strain :math:`\bar\varepsilon` of a quadrature point is the mean strain of its periodic
RVE, the macroscopic stress the mean stress (Hill–Mandel), and the macroscopic tangent the
derivative of the one with respect to the other:

.. math:: \bar\sigma(\bar\varepsilon) = \langle\sigma(\bar\varepsilon + \tilde\varepsilon)\rangle,\qquad
          \bar{\mathbb C} = \frac{\partial\bar\sigma}{\partial\bar\varepsilon} .

All quadrature points' RVEs are solved as one batch of the FFT solvers of
:mod:`mslearn.homogenization` (one call per macroscopic Newton iteration).

* Linear (:class:`FFTElasticity`): :math:`\bar{\mathbb C} = C^*` is the effective tensor, computed
  once; the macroscopic problem is then single-scale FE with :math:`C^*`.
* J2 plasticity (:class:`FFTPlasticity`): every RVE keeps its state :math:`(\varepsilon^p_n,
  \alpha_n)` per voxel, committed with the macroscopic load step. The consistent macroscopic tangent
  at the converged RVE state is, with :math:`C^{alg}` the voxels' algorithmic tangent and
  :math:`x_j` the compatible fluctuations solving :math:`\mathbb G\,C^{alg}(e_j + x_j) = 0` for the
  unit strains :math:`e_j` (three more CG solves, batched),

  .. math:: \bar{\mathbb C}_{ij} = \langle C^{alg}(e_j + x_j)\rangle_i ,

  the exact derivative of :math:`\bar\sigma`, so that the macroscopic Newton iteration converges
  quadratically.

Why the private state of :mod:`mslearn.homogenization.plasticity`: its public ``plasticity`` runs a
whole strain history from the virgin state and returns neither the state nor the tangent, so FE²
through it would re-run every RVE's full history at every macroscopic iteration (cost growing with
the number of load steps) with a finite-difference tangent (four RVE solves per point, superlinear
at best). The RVE cell (``_Cell``: return mapping, Newton–Krylov with line search, ``commit``) is
used directly instead; the tangent reuses the solver's CG.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .._backend import compute_device, to_torch
from .._validation import (check_integer, check_labels, check_properties, check_relative_tolerance,
                           check_solver_dtype, check_spatial_ndim)
from ..homogenization.plasticity import _Cell, _conjugate_gradients, _phase, _scaled, _times_power_of_two
from ..homogenization.solver import ConvergenceWarning, elasticity
from .fe import LinearElastic, mandel_strains

__all__ = ["FFTElasticity", "FFTPlasticity"]


def _per_point(labels, batch, n):
    """Labels ``(n, *spatial)`` for ``n`` points from one RVE or one per point."""
    if not batch:
        return labels[None].expand(n, *labels.shape)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} RVEs (batch=True) but the mesh has {n} quadrature points; "
                         "expected one RVE per point (see integration_points)")
    return labels


def _check_2d(labels, batch):
    ndim = check_spatial_ndim(labels, batch=batch)
    if ndim != 2:
        raise ValueError(f"labels has {ndim} spatial axes (shape {tuple(labels.shape)}, batch={batch}); the "
                         "macroscopic problem is 2D (plane strain), expected 2D RVEs")


class FFTElasticity(LinearElastic):
    r"""Linear FE² law: at each point :math:`\bar\sigma = C^*\bar\varepsilon` with the effective
    stiffness :math:`C^*` of the RVE (plane strain), from :func:`mslearn.homogenization.elasticity`.

    Parameters
    ----------
    labels : array of int, ``(*spatial)`` 2D, or ``(n_points, *spatial)`` with ``batch=True``
        One RVE for every point (solved once), or one per quadrature point (all solved as one batch;
        order of :func:`~mslearn.multiscale.integration_points`).
    phases : sequence
        As in :func:`~mslearn.homogenization.elasticity`.
    batch : bool
        Whether ``labels`` has a leading axis of one RVE per point (never guessed).
    tol, max_iter, device
        Of the FFT solver.

    Attributes
    ----------
    stiffness : ndarray, ``(3, 3)`` or ``(n_points, 3, 3)``
        The effective Mandel stiffnesses.

    Examples
    --------
    A laminate RVE gives every point the exact laminate stiffness:

    >>> import numpy as np
    >>> from mslearn.homogenization.bounds import laminate_stiffness
    >>> labels = np.zeros((8, 8), dtype=int); labels[:4] = 1
    >>> law = FFTElasticity(labels, [(1.0, 0.3), (10.0, 0.3)], device="cpu")
    >>> bool(np.allclose(law.stiffness, laminate_stiffness([0.5, 0.5], [(1.0, 0.3), (10.0, 0.3)], ndim=2)))
    True
    """

    def __init__(self, labels, phases, *, batch=False, tol=1e-10, max_iter=None, device="auto"):
        _check_2d(labels, batch)                  # a 3D RVE has a (6, 6) stiffness the 2D problem cannot use
        result = elasticity(labels, phases, batch=batch, tol=tol, max_iter=max_iter, device=device)
        C = np.asarray(result.effective.detach().cpu() if torch.is_tensor(result.effective) else result.effective)
        super().__init__(0.5 * (C + np.swapaxes(C, -1, -2)))


class FFTPlasticity:
    r"""Nonlinear FE² law: each point's stress is the mean stress of its J2 elasto-plastic FFT RVE
    (plane strain), the tangent the consistent macroscopic tangent (module docstring); history per
    RVE voxel, committed by :meth:`commit` and back to the virgin state (of any number of points) by
    :meth:`reset`, which a fresh :func:`~mslearn.multiscale.solve` calls.

    Parameters
    ----------
    labels : array of int, ``(*spatial)`` 2D, or ``(n_points, *spatial)`` with ``batch=True``
        One RVE (copied to every point) or one per quadrature point.
    phases : sequence of dict
        ``{"E", "nu", "yield_stress", "hardening"}`` per label, as in :func:`~mslearn.homogenization.plasticity`,
        in any consistent units (solved, as there, on the phases scaled by a power of two: the same bits).
    batch : bool
        Whether ``labels`` has a leading axis of one RVE per point (never guessed).
    tol : float
        Relative equilibrium residual of the RVE Newton iterations, ``0 < tol < 1``; the macroscopic
        Newton iteration cannot get below about this.
    max_iter, cg_max_iter : int
        RVE Newton corrections per call, CG iterations per correction.
    device, dtype
        Torch device and dtype of the RVE fields.

    Attributes
    ----------
    rve_newton_iterations : list of int
        RVE Newton corrections of every call (the largest over the points).

    Examples
    --------
    A homogeneous RVE reproduces the point law :class:`~mslearn.multiscale.fe.J2Plasticity`:

    >>> import numpy as np
    >>> from mslearn.multiscale.fe import J2Plasticity
    >>> steel = {"E": 200e3, "nu": 0.3, "yield_stress": 250.0, "hardening": 0.0}
    >>> stress, tangent = FFTPlasticity(np.zeros((4, 4), dtype=int), [steel], device="cpu")(np.array([[0.004, 0.0, 0.0]]))
    >>> point, _ = J2Plasticity(200e3, 0.3, 250.0)(np.array([[0.004, 0.0, 0.0]]))
    >>> stress.round(4), bool(np.allclose(stress, point))
    (array([[833.3333, 583.3333,   0.    ]]), True)
    """

    def __init__(self, labels, phases, *, batch=False, tol=1e-11, max_iter=30, cg_max_iter=2000, device="auto",
                 dtype=torch.float64):
        check_properties(phases, name="phases")
        check_labels(labels, batch=batch, n_phases=len(phases))
        _check_2d(labels, batch)
        check_solver_dtype(dtype)
        self.device, self.dtype, self.batch = compute_device(labels, device), dtype, batch
        self.labels = to_torch(labels, self.device).to(torch.long, copy=True)    # not a view of the caller's
        table, self.exponent = _scaled([_phase(p, i) for i, p in enumerate(phases)])   # units: as plasticity's
        self.table = torch.tensor(table, dtype=dtype, device=self.device)
        self.tol = check_relative_tolerance(tol)
        self.max_iter, self.cg_max_iter = (check_integer(value, 1, name=name)
                                           for name, value in (("max_iter", max_iter), ("cg_max_iter", cg_max_iter)))
        self.rve_newton_iterations = []
        self.reset()

    def reset(self):
        """Forget the history: back to the virgin state (nothing committed, any number of points)."""
        self.cell, self._committed = None, False

    def _start(self, n):
        lab = _per_point(self.labels, self.batch, n)
        spatial = tuple(lab.shape[1:])
        self.cell = _Cell(tuple(self.table[:, k][lab][:, None] for k in range(4)), spatial, [], self.dtype, self.device)
        self.e = torch.zeros(n, 1, 3, *spatial, dtype=self.dtype, device=self.device)
        self.E = torch.zeros(n, 3, dtype=self.dtype, device=self.device)

    def __call__(self, strain):
        """Mean stress and consistent tangent of the RVEs at ``strain`` ``(n_points, 3)`` from the committed
        state. Raises ``ValueError`` when a committed state holds another number of points (call :meth:`reset`
        first to start afresh)."""
        strain = mandel_strains(strain)
        if self.cell is None or len(strain) != len(self.E):
            if getattr(self, "_committed", self.cell is not None):    # (a law pickled before it was kept)
                raise ValueError(f"strain has {len(strain)} points but the committed state holds {len(self.E)}; "
                                 "expected one strain per point of the state (reset() starts afresh)")
            self._start(len(strain))
        E = torch.as_tensor(np.asarray(strain), dtype=self.dtype, device=self.device)
        with torch.no_grad():
            e = self.e + (E - self.E)[:, None, :, None, None]       # the last iterate, shifted: compatible
            history, k, _, failed = self.cell.solve(e, E, self.tol, self.max_iter, self.cg_max_iter)
            if failed:
                warnings.warn(f"FFTPlasticity: the RVEs of points {failed[:10]} did not converge (relative residual "
                              f"{history[-1]:.2e} > tol={self.tol:g}); use smaller load steps", ConvergenceWarning,
                              stacklevel=2)
            self.e, self.E = e, E
            self.rve_newton_iterations.append(k)
            stress = _times_power_of_two(self.cell.sigma.mean((3, 4))[:, 0], self.exponent)
            tangent = _times_power_of_two(self._tangent(e), self.exponent)
        return stress.cpu().numpy(), tangent.cpu().numpy()

    def _tangent(self, e):
        r"""The consistent macroscopic tangent :math:`\langle C^{alg}(e_j + x_j)\rangle` (module docstring)."""
        _, _, K = self.cell.respond(e)
        B, spatial = len(e), tuple(e.shape[3:])
        unit = torch.eye(3, dtype=e.dtype, device=e.device).reshape(1, 3, 3, 1, 1).expand(B, 3, 3, *spatial)
        b = -self.cell.G(K(unit))
        eta = torch.full((B,), max(self.tol, math.sqrt(torch.finfo(e.dtype).eps) * 1e-4), dtype=e.dtype,
                         device=e.device)
        x, _ = _conjugate_gradients(self.cell.G, K, b, eta, self.cg_max_iter)
        C = K(unit + x).mean((3, 4)).transpose(1, 2)            # (B, i, j) = <C_alg (e_j + x_j)>_i
        return 0.5 * (C + C.transpose(1, 2))

    def commit(self):
        """The RVE state of the last evaluation becomes the committed state of the next load step
        (RuntimeError before any evaluation)."""
        self._check_evaluated("commit()")
        self.cell.commit()
        self._committed = True

    def _check_evaluated(self, what):
        if self.cell is None:
            raise RuntimeError(f"{what} before any evaluation since the law was made or reset: the RVEs have no "
                               "state yet; expected a call law(strain) first")

    @property
    def equivalent_plastic_strain(self):
        """Committed mean equivalent plastic strain per point ``(n_points,)`` (RuntimeError before any
        evaluation)."""
        self._check_evaluated("equivalent_plastic_strain")
        return self.cell.alpha.mean((1, 2, 3)).cpu().numpy()

    @property
    def equivalent_plastic_strain_fields(self):
        """Committed equivalent plastic strain field of every point's RVE, ``(n_points, *spatial)``: where
        each microstructure yields (RuntimeError before any evaluation)."""
        self._check_evaluated("equivalent_plastic_strain_fields")
        return self.cell.alpha[:, 0].cpu().numpy()
