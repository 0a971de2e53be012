r"""FFT homogenization of periodic voxel microstructures: conduction and linear elasticity.

The cell problem
----------------
Find the periodic field :math:`e = E + \tilde e(x)` (temperature gradient, or small strain) with
prescribed mean :math:`E`, compatible fluctuation :math:`\tilde e = \nabla u` and equilibrated flux
:math:`\sigma = K(x)\,e` (:math:`\nabla\cdot\sigma = 0`). The effective tensor is
:math:`K^* E = \langle\sigma\rangle`. All unit loads :math:`E = e_1, \dots` (``d`` for conduction,
3/6 Mandel components for plane-strain/3D elasticity) are solved together as one batched system.

Projected (Galerkin) equation (Zeman et al. 2010; Zeman, de Geus et al. 2017)
---------------------------------------------------------------------------
Let :math:`\mathbb G` be the orthogonal projection onto compatible zero-mean fields, applied in
Fourier space. Equilibrium is :math:`\mathbb G[K(E+\tilde e)] = 0`, i.e.

.. math:: \mathbb G K \tilde e = -\mathbb G K E, \qquad \tilde e \in \operatorname{range}\mathbb G .

On compatible fields :math:`\mathbb G K` is symmetric positive *semi*-definite, so plain conjugate
gradients work (``scheme="cg"``), also for pores (:math:`K = 0`) and fluids (no shear stiffness): the
operator is only singular, the right-hand side lies in its range, and CG never leaves the compatible
subspace. The Moulinec–Suquet fixed point (``scheme="basic"``, Moulinec & Suquet 1998) is Richardson's iteration
:math:`\tilde e \leftarrow \tilde e - c_0^{-1}\mathbb G K e` on the same equation, the basic scheme
with reference medium :math:`c_0\mathbb I` (:math:`c_0` the mean of the extreme phase eigenvalues);
it needs :math:`c_0 > 0` finite and converges at the rate :math:`(\kappa-1)/(\kappa+1)` with the
contrast :math:`\kappa`, so it fails for pores.

Discretization: why the rotated scheme
--------------------------------------
The continuous Green operator (wave vector :math:`\xi`) produces Gibbs ringing at voxel interfaces
and does not converge for infinite contrast. We use the discrete gradient of Willot's *rotated*
scheme (Willot 2015, C. R. Mécanique 343, 232): nodal values at voxel corners, gradient at the voxel
centre from the :math:`2^d` corners, i.e. trilinear hexahedral finite elements with one-point
(reduced) integration. Its symbol, up to a phase common to all components, is the real vector

.. math:: k_a(\xi) = \sin(\xi_a/2)\prod_{b\ne a}\cos(\xi_b/2),\qquad \xi_a = 2\pi n_a/N_a,

and with :math:`n = k/|k|` the projections are (conduction) :math:`\hat{\mathbb G}\hat e = n(n\cdot\hat e)`
and (elasticity, orthogonal projection onto :math:`\operatorname{sym}(n\otimes u)`)
:math:`\hat{\mathbb G}\hat\varepsilon = \operatorname{sym}(n\otimes u)`,
:math:`u = 2w - n(n\cdot w)`, :math:`w = \hat\varepsilon\, n`. This choice (i) has no ringing,
(ii) is exact for laminates aligned with the grid, (iii) keeps one field value per voxel, so an
iteration costs one forward and one inverse real FFT of the field (full-integration FE schemes,
de Geus et al. 2017 / Leuschner & Fritzen 2018, carry :math:`2^d` quadrature points, 8× the FFT
work in 3D), and (iv) with CG converges for pores. Modes with :math:`k = 0` (the mean and the
hourglass modes of reduced integration) are projected out.

Why hand-written
----------------
No trusted torch/GPU FFT homogenization library offers batched, differentiable solves from Python:
FANS, AMITEX_FFTP, DAMASK's spectral solver and MOOSE are C++/Fortran codes, not differentiable.
This module is short (the kernel fits on a screen), runs on any torch device, and gives gradients
of the effective tensor by the adjoint identity :math:`\partial K^*_{ij}/\partial K(x) =
e_i(x)\otimes e_j(x)/|\Omega|` (the effective tensor is a minimum energy, hence self-adjoint: no
extra solve; see :class:`_Effective`).

The code, in the order of the equations
---------------------------------------
:func:`green_projection` is :math:`\mathbb G` (the Green operator :math:`\Gamma^0 = \mathbb G/c_0`
of the reference medium), :class:`LocalLaw` is :math:`\sigma = K(x)\,e`,
:class:`ConjugateGradients` and :class:`BasicScheme` are the two iterations as in a textbook, and
:func:`solve` does the bookkeeping of a batch (on the CPU, groups of systems sized to the cache;
stopping test; members leaving the batch once converged). CG solves :math:`J^\top K J\,x = -J^\top K E`
for the coordinates :math:`x` of the compatible fluctuation, :math:`\tilde e = J x`. For elasticity
:math:`x` is the strain field itself (:class:`FluctuationField`, :math:`J^\top = \mathbb G`). For
conduction it is the potential at the voxel corners (:class:`NodalPotential`, :math:`J = D` the scheme's
gradient stencil): the finite-element equation :math:`D^\top K D\,u = -D^\top K E`, solved by CG
preconditioned by the Green operator of the reference medium, :math:`(D^\top D)^+`, applied by FFT
(Ladecký et al. 2023), with :math:`\mathbb G = D (D^\top D)^+ D^\top`. Both make the iterates and
residuals of CG on :math:`\mathbb G K\tilde e = -\mathbb G K E`; conduction's transforms one
component instead of :math:`d`, and its stencils are local. An iteration
costs one forward and one inverse real FFT of the field it transforms (on the CPU the inverse in two
steps, small fields all at once and large ones in place: :func:`_inverse_real_fft`) plus a few element-wise passes: the
Fourier-space maps are a few multiply-adds per frequency (:math:`\hat{\mathbb G}` as its formula,
or tabulated where that takes fewer passes), the law and :math:`J^\top K J x` write into reused
buffers, isotropic stiffnesses are applied through :math:`\lambda, \mu` gathered from the phases.
On the CPU the Fourier-space maps, the isotropic law, conduction's :math:`D^\top K D` (with :math:`p\cdot Ap`),
its Green preconditioner (with :math:`r\cdot z`) and CG's update run as one compiled loop each
(:mod:`._fused`, numba: every value read once, 9x faster than the passes for the 3D strain
projection) where torch computes on one thread, the Green projection and preconditioner and the stencils (and
:math:`D^\top K D`) on any number of threads; the torch passes written here are what runs on a GPU, and they are tested against the
loops. ``benchmarks/bench_homogenization.py`` measures an iteration in FFT pairs against independent
peers. ``torch.compile`` is not used: it fuses the same passes, but compiles for some
20 s cold (3-4 s from its disk cache) and needs a C++ toolchain on the CPU, more than most of the
book's solves take.

On Linux (glibc), large CPU solves can run 25-40 % faster per iteration with two allocator settings
exported before Python starts: ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824``.
torch's inverse real FFT allocates its work arrays on every call; by default glibc hands that memory
back to the system after the call (unmapping it or trimming the heap), and touching fresh pages again
costs 1,000-4,500 page faults per iteration at 64^3 (measured with all load cases in one transform; the
solver now works on cache-sized groups, see ``CPU_GROUP_BYTES``, whose arrays mostly stay below glibc's
32 MiB threshold, so this matters mainly where one load case is larger). With the settings the memory is
kept and reused. A library should not change process-wide allocator options, so this one does not.

References: Moulinec & Suquet, CMAME 157, 69 (1998); Zeman, Vondřejc, Novák & Marek, J. Comput.
Phys. 229, 8065 (2010); Zeman, de Geus, Vondřejc, Peerlings & Geers, IJNME 111, 903 (2017);
de Geus et al., CMAME 318, 412 (2017); Willot, C. R. Mécanique 343, 232 (2015); Ladecký, Leute, Falsafi,
Pultarová, Pastewka, Junge & Zeman, Appl. Math. Comput. 446, 127835 (2023), arXiv:2203.02962.
"""
from __future__ import annotations

import copy
import itertools
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from .._backend import compute_device, like, progress_bar, to_torch
from .._validation import (check_finite, check_flag, check_integer, check_labels, check_properties,
                           check_relative_tolerance, check_solver_dtype)
from . import _fused
from .tensors import isotropic_stiffness, mandel_pairs

SQRT1_2 = math.sqrt(0.5)

__all__ = [
    "ConvergenceWarning",
    "HomogenizationResult",
    "conductivity",
    "elasticity",
    "conductivity_field",
    "elasticity_field",
    "add_interphase",
]


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before reaching ``tol`` (the result has ``converged=False``)."""


@dataclass
class HomogenizationResult:
    """Result of an FFT homogenization.

    Attributes
    ----------
    effective : array or tensor
        Effective tensor: ``(d, d)`` for conduction, Mandel ``(3, 3)``/``(6, 6)`` for elasticity,
        with a leading batch axis for batched input. Column ``j`` is the mean flux/stress of load
        case ``j``. numpy if the input was numpy.
    iterations : int
        Iterations done (the largest over the batch).
    residuals : list of float
        Relative residual :math:`\\|\\mathbb G K e\\| / \\|\\mathbb G K E\\|` per iteration (worst system).
    converged : bool
    fields : dict or None
        With ``return_fields=True``: per load case (axis after the batch axis) the local fields.
    """

    effective: object
    iterations: int
    residuals: list
    converged: bool
    fields: Optional[dict] = field(default=None, repr=False)


# ----------------------------------------------------------------------------- the Green operator
def _rotated_symbol(shape, device):
    r"""The rotated scheme's :math:`k_a(\xi) = \sin(\xi_a/2)\prod_{b\ne a}\cos(\xi_b/2)` ``(d, *rfft_shape)``,
    its norm :math:`|k|` and where :math:`k \ne 0`, in float64: in float32, :math:`\cos(\pi/2)` rounds to
    4e-8 and the hourglass modes of even grids would escape the test for :math:`k = 0`."""
    xi = [2 * math.pi * torch.fft.fftfreq(N, device=device, dtype=torch.float64) for N in shape[:-1]]
    xi.append(2 * math.pi * torch.fft.rfftfreq(shape[-1], device=device, dtype=torch.float64))
    grids = torch.meshgrid(*xi, indexing="ij")
    s = [torch.sin(g / 2) for g in grids]
    c = [torch.cos(g / 2) for g in grids]
    k = torch.stack([math.prod(c[b] for b in range(len(shape)) if b != a) * s[a] for a in range(len(shape))])
    norm = (k * k).sum(0).sqrt()        # not linalg.vector_norm(dim=0): 15x slower on the CPU
    return k, norm, norm > 1e-12 * 2 ** len(shape)


def rotated_frequencies(shape, device, dtype):
    r"""Unit discrete wave vectors :math:`n = k/|k|` of the rotated scheme, shape ``(d, *rfft_shape)``
    (zero where :math:`k = 0`: the mean and the hourglass modes)."""
    k, norm, nonzero = _rotated_symbol(shape, device)
    return torch.where(nonzero, k / norm.clamp_min(1e-300), 0.0).to(dtype)


def green_projection(shape, kind, device, dtype):
    r"""The projection :math:`\mathbb G` onto compatible zero-mean fields, :math:`\mathbb G e =
    \mathcal F^{-1}[\hat{\mathbb G}(\xi)\,\mathcal F e]`, for fields ``(B, L, c, *shape)``.

    :math:`\mathbb G` is the Green operator of the reference medium :math:`c_0\mathbb I` times
    :math:`c_0`: :math:`\Gamma^0 = \mathbb G / c_0` (Moulinec & Suquet 1998 with an isotropic
    reference conductivity :math:`c_0`, or the reference stiffness :math:`2c_0` on strains), so
    one operator serves both schemes. In Fourier space, with :math:`n = k/|k|` of the rotated scheme:

    * conduction (gradients): :math:`\hat{\mathbb G}\hat e = n\,(n\cdot\hat e)`
      (:func:`_project_gradient`);
    * elasticity (Mandel strains): :math:`\hat{\mathbb G}\hat\varepsilon = \operatorname{sym}(n\otimes u)`,
      :math:`u = 2w - n(n\cdot w)`, :math:`w = \hat\varepsilon\,n` (:func:`_project_strain`).

    Both act on the (re, im) pairs of :math:`\hat e` (``torch.view_as_real``), in place, as a few
    multiply-adds per frequency: :math:`2d` for gradients, :math:`2d^2 + 2d` for strains. Where the
    :math:`c\times c` matrix :math:`\hat{\mathbb G}(\xi)` takes fewer (:math:`c^2 = 9` against 12 for
    plane strains), it is tabulated once, column :math:`J` being the formula applied to the unit field
    :math:`e_J`, and applied into a reused buffer. Each multiply-add is a pass over the spectrum, so
    the fewer the faster (measured, one thread of an Intel Xeon: 3D strains 1.7x, 3D gradients 1.5x and
    plane strains 1.3x faster than the other way). On the CPU, when numba is there, the same formula runs
    as one compiled loop over the frequencies instead (:func:`._fused.project`).
    """
    d = len(shape)
    n = _Frequencies(_on_pairs(rotated_frequencies(shape, device, dtype), d))
    project = _project_gradient if kind == "conduction" else _project_strain
    c = d if kind == "conduction" else (3 if d == 2 else 6)
    tabulate = c * c < (2 * d if kind == "conduction" else 2 * d * d + 2 * d)
    if tabulate:
        columns = torch.eye(c, dtype=dtype, device=device)[None, :, :, None].repeat(1, 1, 1, n.n.shape[1])
        project(columns, n)
        G_hat = [[columns[0, J, I].clone() for J in range(c)] for I in range(c)]   # row I, column J
        del columns
    dims = tuple(range(-d, 0))
    scratch = _Scratch()

    def G(e, out=None):
        """:math:`\\mathbb G e`, written into ``out`` when given (a buffer the iterations reuse)."""
        f = torch.fft.rfftn(e, dim=dims)
        f_real = torch.view_as_real(f).reshape(*f.shape[:3], -1)
        if _fused.available(f_real, n.n, any_threads=True):         # CPU: the formula in one pass
            _fused.project(f_real, n.n, kind)
            return _inverse_real_fft(f, shape, out)
        if not tabulate:
            project(f_real, n)
            return _inverse_real_fft(f, shape, out)
        g = scratch(f)
        g_real = torch.view_as_real(g).reshape(*g.shape[:3], -1)
        for I in range(c):                                          # g_I = sum_J G_IJ f_J
            torch.mul(f_real[:, :, 0], G_hat[I][0], out=g_real[:, :, I])
            for J in range(1, c):
                g_real[:, :, I].addcmul_(f_real[:, :, J], G_hat[I][J])
        return _inverse_real_fft(g, shape, out)

    return G


def _on_pairs(x, ndim):
    """``x`` ``(..., *half_spectrum)`` over the (re, im) pairs of the flattened half spectrum (``ndim`` axes),
    ``(..., M)``, contiguous: one long axis, which the element-wise kernels vectorize (a trailing (re, im)
    axis of length 2 would not), matching ``torch.view_as_real`` of a spectrum flattened the same way."""
    return x[..., None].expand(*x.shape, 2).reshape(*x.shape[:x.ndim - ndim], -1).contiguous()


class _Frequencies:
    """The unit wave vectors ``n`` (d, M) with the multiples the projections take (``2n``, ``sqrt(2) n``:
    a constant folded into a stored array costs no pass over the spectrum) and work buffers."""

    def __init__(self, n):
        self.n, self.two_n, self.sqrt2_n = n, 2 * n, math.sqrt(2) * n
        self.work = _Scratch()


class NodalPotential:
    r"""Conduction's unknown: the potential :math:`u` at the voxel corners (the nodes of the rotated scheme's
    finite elements), whose gradient at the voxel centres is the compatible fluctuation,
    :math:`\tilde e = D u`, :math:`D` the stencil of :func:`_stencil_gradient`: the mean of the
    :math:`2^{d-1}` differences of :math:`u` along the voxel's edges in direction :math:`a`.

    Equilibrium is then the finite-element equation :math:`D^\top K D\,u = -D^\top K E` (the stiffness
    matrix, one sweep of stencils: :meth:`operator`), solved by conjugate gradients preconditioned by the
    **Green operator of the reference medium** :math:`c_0 = 1`, the inverse of the reference stiffness
    :math:`D^\top D` (:meth:`preconditioner`; Ladecký et al. 2023):

    .. math:: M = (D^\top D)^+ = \mathcal F^{-1}\,\frac{1}{4|k|^2}\,\mathcal F, \qquad
              \mathbb G = D\,M\,D^\top ,

    :math:`|k|` the norm of the rotated symbol (:math:`D_a` has the symbol :math:`2i\varphi k_a`,
    :math:`|\varphi| = 1`), :math:`1/|k|^2` read as 0 where :math:`k = 0`. With :math:`r = -D^\top K e`,
    :math:`r\cdot Mr = \|\mathbb G K e\|^2`: the residual that the field formulation measures, and the
    same iterates as CG on :math:`\mathbb G K\tilde e = -\mathbb G K E` (tested). An iteration transforms
    the potential alone, one component instead of :math:`d`: one forward and one inverse FFT of
    :math:`r`, the stencils local.
    """

    def __init__(self, shape, device, dtype):
        self.shape, d = tuple(shape), len(shape)
        _, norm, nonzero = _rotated_symbol(self.shape, device)
        m = shape[-1] // 2 + 1
        w = torch.full((m,), 2.0, dtype=torch.float64, device=device)   # how often a stored frequency counts
        w[0] = 1.0
        if shape[-1] % 2 == 0:
            w[-1] = 1.0                                      # the Nyquist plane is its own conjugate
        self.green = torch.where(nonzero, 0.25 / torch.where(nonzero, norm, 1.0) ** 2, 0.0)   # 1 / (4 |k|^2)
        self.weight = w / math.prod(shape)                   # r . z = sum w g |r^|^2 / N (Parseval)
        self.green_pairs = _on_pairs(self.green, d).to(dtype).reshape(-1, 2 * m)
        self.weight_pairs = self.weight.repeat_interleave(2)
        self.green = self.green.to(dtype)

    def gradient(self, u, out=None):
        r""":math:`D u` ``(B, L, d, *shape)`` of potentials ``(B, L, *shape)``, into ``out`` when given."""
        return _stencil_gradient(u, out)

    def adjoint(self, sigma, out=None):
        r""":math:`D^\top\sigma` ``(B, L, *shape)`` of a field ``(B, L, d, *shape)``, into ``out`` when given."""
        return _stencil_divergence(sigma, out)

    def operator(self, law):
        r"""``A(p)``: :math:`A p = D^\top K D p` and :math:`p\cdot Ap`. Where the conductivity is a scalar
        field and the fused loops take it (the CPU), one sweep (:func:`._fused.flux_divergence`): the
        gradient and the flux stay in the cache, and the product is summed as :math:`Ap` is written."""
        if not (law.scalar and _fused.available(law.prop, any_threads=True)):
            return _with_product(_composed(self, law))
        Ap, pAp = None, None

        def A(p):
            nonlocal Ap, pAp
            if Ap is None or Ap.shape != p.shape:
                Ap, pAp = torch.empty_like(p), torch.empty(p.shape[:2], dtype=torch.float64)
            _fused.flux_divergence(p, law.prop, Ap, pAp)
            return Ap, pAp.to(p.dtype)
        return A

    def preconditioner(self):
        r"""``M(r)``: :math:`z = M r` (the Green operator) and :math:`r\cdot z`, by Parseval in the same pass
        over the spectrum."""
        dims, z = tuple(range(-len(self.shape), 0)), _Scratch()

        def M(r):
            f = torch.fft.rfftn(r, dim=dims)
            if _fused.available(r, self.green_pairs, any_threads=True):
                rz = _fused.green_preconditioner(f, self.green_pairs, self.weight_pairs).to(r.dtype)
            else:
                power = f.real.square().add_(f.imag.square()).mul_(self.green)       # g |r^|^2
                rz = (self.weight * power).flatten(2).sum(2).to(r.dtype)
                f.mul_(self.green)
            return _inverse_real_fft(f, self.shape, z(r)), rz
        return M


def _stencil_gradient(u, out=None):
    r"""The rotated scheme's gradient at the voxel centres of potentials ``u`` ``(B, L, *s)`` at the voxel
    corners (node :math:`x` is the first corner of voxel :math:`x`; periodic):
    :math:`e_a(x) = 2^{1-d}\sum_{\delta\in\{0,1\}^d}(2\delta_a - 1)\,u(x + \delta)`, ``(B, L, d, *s)``,
    into ``out`` when given. As products of the shifts along each axis: :math:`D_a = 2^{1-d}\,\Delta_a
    \prod_{b\ne a} A_b` with :math:`\Delta_b u = u(x + e_b) - u(x)`, :math:`A_b u = u(x + e_b) + u(x)`."""
    d = u.ndim - 2
    if out is None:
        out = torch.empty((*u.shape[:2], d, *u.shape[2:]), dtype=u.dtype, device=u.device)
    if _fused.available(u, out, any_threads=True):               # CPU: one pass
        return _fused.stencil_gradient(u, out)
    for a in range(d):
        v = u
        for b in range(d):
            shifted = torch.roll(v, -1, dims=2 + b)                 # v(x + e_b)
            v = shifted - v if b == a else shifted + v
        torch.mul(v, 2.0 ** (1 - d), out=out[:, :, a])
    return out


def _stencil_divergence(sigma, out=None):
    r""":math:`D^\top\sigma = \sum_a D_a^\top\sigma_a` of fields ``(B, L, d, *s)`` at the voxel centres: a
    field ``(B, L, *s)`` at the corners, :math:`\sum_a 2^{1-d}\sum_\delta(2\delta_a - 1)\,\sigma_a(x - \delta)`
    (the adjoint of :func:`_stencil_gradient`, with :math:`\Delta_b^\top v = v(x - e_b) - v(x)`,
    :math:`A_b^\top v = v(x - e_b) + v(x)`), into ``out`` when given."""
    d = sigma.ndim - 3
    if out is None:
        out = torch.empty((*sigma.shape[:2], *sigma.shape[3:]), dtype=sigma.dtype, device=sigma.device)
    if _fused.available(sigma, out, any_threads=True):
        return _fused.stencil_divergence(sigma, out)
    total = None
    for a in range(d):
        v = sigma[:, :, a]
        for b in range(d):
            shifted = torch.roll(v, 1, dims=2 + b)                  # v(x - e_b)
            v = shifted - v if b == a else shifted + v
        total = v if total is None else total.add_(v)
    return torch.mul(total, 2.0 ** (1 - d), out=out)


def _inverse_real_fft(spectrum, shape, out=None):
    """The inverse real FFT over the trailing ``len(shape)`` axes: into ``out`` where that is how it runs
    fastest, else a new tensor (use the return value); ``spectrum`` may be overwritten.

    On the CPU, by the library that is faster here (:data:`CPU_INVERSE_FFT`), in two steps: the complex
    transforms of the leading axes, then the complex-to-real one of the last axis. With torch (MKL), how
    depends on the size of one field (:data:`CPU_BATCHED_INVERSE_BYTES`): small fields, as in batches of
    small cells, all at once, each step one call that returns a new tensor (a call per field costs more
    in overhead than the transform itself); large fields one at a time in place, where whole solves ran
    as fast or faster that way. torch's one-call ``irfftn`` copies its input and took longer than either
    (one 64^3 field, hot cache: 1.38 ms against 0.77 ms for the two steps).
    """
    axes = tuple(range(-len(shape), 0))
    on_cpu = spectrum.device.type == "cpu"
    if on_cpu and CPU_INVERSE_FFT == "torch" and (
            math.prod(spectrum.shape[-len(shape):]) * spectrum.element_size() <= CPU_BATCHED_INVERSE_BYTES
            or not spectrum.is_contiguous() or (out is not None and not out.is_contiguous())):
        leading = torch.fft.ifftn(spectrum, dim=axes[:-1]) if len(axes) > 1 else spectrum
        return torch.fft.irfft(leading, n=shape[-1], dim=-1)
    if out is None:
        out = torch.empty(spectrum.shape[:-1] + (shape[-1],), dtype=spectrum.real.dtype, device=spectrum.device)
    if not on_cpu:
        return torch.fft.irfftn(spectrum, s=shape, dim=axes, out=out)
    if CPU_INVERSE_FFT == "torch":
        spectra, fields = spectrum.view(-1, *spectrum.shape[-len(shape):]), out.view(-1, *shape)
        for f, u in zip(spectra, fields):
            if len(axes) > 1:
                torch.fft.ifftn(f, dim=axes[:-1], out=f)
            torch.fft.irfft(f, n=shape[-1], dim=-1, out=u)
        return out
    array = spectrum.numpy()
    for axis in axes[:-1]:
        np.fft.ifft(array, axis=axis, out=array)
    np.fft.irfft(array, n=shape[-1], axis=-1, out=out.numpy())
    return out


#: With torch's CPU transforms, fields whose half spectrum takes at most this many bytes (64^2 and 16^3
#: cells, not 128^2 or 32^3) are inverse transformed all at once, larger ones one at a time in place
#: (:func:`_inverse_real_fft`). Measured on an Intel Xeon, whole batched solves, all at once against one
#: at a time: conduction 32^2 x 200 cells 1.8x faster, 64^2 x 100 1.2x (1.9x on two threads), 16^3 x
#: 100 1.2x (1.6x), elasticity 32^2 x 50 1.9x, 64^2 x 50 1.2x (1.8x), 16^3 x 20 1.3x; above the size the
#: two ways were within 2 % (conduction 128^2 x 8, 32^3 x 10, 64^3; elasticity 128^2 x 4) or all at once
#: was slower (elasticity 32^3 x 4 by 2-8 %, 256^2 by 9 %, 64^3 by 15 %).
CPU_BATCHED_INVERSE_BYTES = 2**17


def _cpu_inverse_fft():
    """``"torch"`` where torch's CPU transforms are Intel's MKL and the CPU is Intel's, else ``"numpy"``
    (pocketfft). MKL's transforms take their fast code paths on Intel CPUs: on an Intel Xeon (one thread)
    the in-place inverse of one 64^3 system took 1.3 ms with torch's against 1.8 ms with numpy's (256^2:
    0.31 against 0.35 ms), while on an AMD EPYC torch's one-call inverse had cost 3-4x its own forward
    transform and numpy's in-place inverse about one forward (the in-place torch inverse was not measured
    there, so numpy's stays). Decided by the machine, not by timing, so that every process on a machine
    computes the same numbers."""
    if not torch.backends.mkl.is_available():
        return "numpy"
    try:
        with open("/proc/cpuinfo") as info:
            intel = any(line.startswith("vendor_id") and "GenuineIntel" in line for line in info)
    except OSError:
        intel = False
    return "torch" if intel else "numpy"


#: The library of the CPU's inverse real FFTs (:func:`_inverse_real_fft`): "torch" or "numpy", chosen
#: once per process by :func:`_cpu_inverse_fft`; may be set.
CPU_INVERSE_FFT = _cpu_inverse_fft()


class _Scratch:
    """A buffer like a given tensor (or of a given shape and dtype: :meth:`empty`), reused from one call to
    the next (reallocated only when the batch shrinks): a fresh field-sized allocation per iteration costs
    page faults that can exceed the work."""

    def __init__(self):
        self.buffer = None

    def __call__(self, like):
        return self.empty(like.shape, like.dtype, like.device)

    def empty(self, shape, dtype, device):
        if self.buffer is None or self.buffer.shape != shape or self.buffer.dtype != dtype:
            self.buffer = torch.empty(shape, dtype=dtype, device=device)
        return self.buffer


def _project_gradient(f, frequencies):
    """``f`` (B, L, d, M) <- n (n . f) in place; M the real numbers of the half spectrum."""
    n = frequencies.n
    nf = torch.mul(f[:, :, 0], n[0], out=frequencies.work(f[:, :, 0]))
    for a in range(1, len(n)):
        nf.addcmul_(f[:, :, a], n[a])
    for a in range(len(n)):
        torch.mul(nf, n[a], out=f[:, :, a])


def _project_strain(f, frequencies):
    """``f`` (B, L, m, M) Mandel <- sym(n x u), u = 2w - n (n . w), w = f n; in place.

    With v = u / 2 = w - n (n . w) / 2 the result is 2 sym(n x v): Mandel diagonal 2 n_i v_i,
    shears sqrt(2) (n_i v_j + n_j v_i).
    """
    n, d = frequencies.n, len(frequencies.n)
    pairs = mandel_pairs(d)
    index = {pair: I for I, pair in enumerate(pairs)}
    component = lambda i, j: index[(i, j)] if (i, j) in index else index[(j, i)]  # noqa: E731
    work = frequencies.work(f[:, :, : d + 1])
    v, nw = work[:, :, :d], work[:, :, d]
    for j in range(d):                                       # w_j = sum_i eps_ij n_i (Mandel shear / sqrt 2)
        torch.mul(f[:, :, component(j, j)], n[j], out=v[:, :, j])
        for i in range(d):
            if i != j:
                v[:, :, j].addcmul_(f[:, :, component(i, j)], n[i], value=SQRT1_2)
    torch.mul(v[:, :, 0], n[0], out=nw)
    for j in range(1, d):
        nw.addcmul_(v[:, :, j], n[j])                       # n . w
    for j in range(d):
        v[:, :, j].addcmul_(nw, n[j], value=-0.5)            # v = w - n (n . w) / 2
    for I, (i, j) in enumerate(pairs):
        if i == j:
            torch.mul(v[:, :, i], frequencies.two_n[i], out=f[:, :, I])
        else:
            torch.mul(v[:, :, j], frequencies.sqrt2_n[i], out=f[:, :, I]).addcmul_(v[:, :, i],
                                                                                   frequencies.sqrt2_n[j])


class LocalLaw:
    """The local law :math:`\\sigma = K(x)\\,e`, called as ``law(e)`` on fields ``(B, L, c, *s)``, for a
    scalar property field ``(B, *s)`` or a tensor field ``(B, c, c, *s)``.

    Isotropic Mandel stiffnesses (every voxel :math:`C = \\lambda\\,\\mathbf 1\\otimes\\mathbf 1 + 2\\mu\\,\\mathbb I`,
    as for phases given by ``E, nu``) are applied as :math:`\\sigma = 2\\mu\\,\\varepsilon +
    \\lambda\\,\\operatorname{tr}\\varepsilon\\,\\mathbf 1`: a few passes over the field instead of a
    :math:`c\\times c` matrix product per voxel. ``law.rows(index)`` is the law of some batch members.
    ``lame``: the :math:`(\\lambda, 2\\mu)` fields when known (isotropic phases), ``None`` when the law is
    known not to be isotropic, ``"check"`` to test every voxel.
    """

    def __init__(self, prop, scalar, lame="check"):
        self.prop, self.scalar = prop, scalar
        self.lame = None if scalar else _lame_fields(prop) if isinstance(lame, str) else lame
        self.trace = _Scratch()

    def __call__(self, e, out=None):
        """:math:`K e`, written into ``out`` when given (a buffer the iterations reuse)."""
        if self.scalar:
            return torch.mul(self.prop[:, None, None], e, out=out)
        if self.lame is None:
            return torch.einsum("bij...,blj...->bli...", self.prop, e)
        lam, two_mu = self.lame
        if _fused.available(e, lam, two_mu) and (out is None or _fused.available(out)):
            return _fused.isotropic_law(e, lam, two_mu, torch.empty_like(e) if out is None else out)
        d = 2 if e.shape[2] == 3 else 3
        trace = torch.sum(e[:, :, :d], 2, keepdim=True, out=self.trace(e[:, :, :1]))
        sigma = torch.mul(two_mu, e, out=out)
        sigma[:, :, :d].addcmul_(lam, trace)
        return sigma

    def scaled(self, unit):
        """The law times ``unit``; where the Lamé fields are known, only they (``prop`` is not read then, and
        a copy of a stiffness field would cost 36 numbers a voxel)."""
        law = copy.copy(self)
        if self.lame is None:
            law.prop = self.prop * unit
        else:
            law.prop, law.lame = None, tuple(field * unit for field in self.lame)
        return law

    def magnitude(self):
        """The largest magnitude of the law's numbers (one pass a field, no copy)."""
        extremes = [torch.aminmax(field) for field in (self.lame or (self.prop,))]
        return max(max(float(high), -float(low)) for low, high in extremes)

    def rows(self, index):
        law = copy.copy(self)                # the isotropy check is not repeated for a subset
        law.prop = None if self.prop is None else self.prop[index]
        law.lame = None if self.lame is None else tuple(field[index] for field in self.lame)
        return law


def _lame_fields(prop, check=True):
    """``(lambda, 2 mu)`` fields ``(B, 1, 1, *s)`` when every voxel's Mandel stiffness ``(B, m, m, *s)``
    (m = 3 or 6) is isotropic (to rounding), else None; ``check=False`` skips the voxel-wise test (the
    caller knows the field is isotropic)."""
    m = prop.shape[1]
    if m not in (3, 6):
        return None
    d = 2 if m == 3 else 3
    lam, two_mu = prop[:, 0, 1], prop[:, m - 1, m - 1]
    normal = torch.zeros(m, m, dtype=prop.dtype, device=prop.device)
    normal[:d, :d] = 1
    eye = torch.eye(m, dtype=prop.dtype, device=prop.device)
    shape = (m, m) + (1,) * (prop.ndim - 3)
    isotropic = lam[:, None, None] * normal.reshape(shape) + two_mu[:, None, None] * eye.reshape(shape)
    if check and not torch.allclose(prop, isotropic, rtol=0, atol=1e-12 * float(prop.abs().max())):
        return None
    # contiguous: slices of a (B, *s, m, m)-strided tensor would make every product 3x slower
    return lam[:, None, None].contiguous(), two_mu[:, None, None].contiguous()


def _dot(a, b):
    """:math:`\\langle a, b\\rangle` per system: the sum over all axes after (batch, load).

    On the CPU one BLAS ``dot`` per system: no temporary, and faster than ``einsum``/``bmm``, whose
    batched kernels are slow for many long vectors. On a GPU ``linalg.vecdot``: ``einsum`` there becomes
    a float64 ``bmm`` that took 84 % of a 128^3 solve on an H200 (5.4 ms a call; the whole solve 6x
    slower than with ``vecdot``, measured).
    """
    a, b = a.flatten(2), b.flatten(2)
    if a.device.type != "cpu":
        return torch.linalg.vecdot(a, b)
    return torch.stack([torch.dot(x, y) for x, y in zip(a.flatten(0, 1), b.flatten(0, 1))]).view(a.shape[:2])


def _per_system(s, like):
    """Per-system numbers ``(B, L)`` shaped to multiply fields like ``like``."""
    return s.reshape(s.shape + (1,) * (like.ndim - 2))


def _ratio(numerator, denominator, where):
    """``numerator / denominator`` where ``where`` holds and the denominator is positive, else 0. Per-system
    numbers: on the CPU numpy's, whose operations on a few numbers take about a microsecond where torch's
    take several (CG takes two ratios an iteration)."""
    if numerator.device.type == "cpu":
        n, d = numerator.numpy(), denominator.numpy()
        return torch.from_numpy(np.divide(n, d, out=np.zeros_like(n), where=where.numpy() & (d > 0)))
    where = where & (denominator > 0)
    return torch.where(where, numerator / torch.where(where, denominator, 1.0), 0.0)


# ----------------------------------------------------------------------------- the iterations
class ConjugateGradients:
    r"""Preconditioned conjugate gradients (Hestenes & Stiefel 1952) on :math:`A x = b`, one independent
    system per (batch, load) pair; :math:`A` symmetric positive semi-definite with :math:`b` in its range,
    the preconditioner :math:`M` symmetric positive definite there (``None``: the identity, plain CG).

    :meth:`step` is the textbook iteration. ``A(p)`` returns :math:`Ap` and :math:`p\cdot Ap`, ``M(r)``
    returns :math:`z = Mr` and :math:`r\cdot z` (each one pass over memory where fused). A system stops at
    :math:`r\cdot z \le` ``tol``:math:`^2\, r_0\cdot z_0` and is frozen there (:math:`\alpha = \beta = 0`):
    iterating on at the rounding floor while the slowest system of the batch converges would turn
    :math:`\alpha` into noise (it diverges in float32).
    """

    def __init__(self, A, b, tol, M=None):
        """Start from :math:`x = 0`; ``b`` becomes the residual :math:`r` (it is overwritten); ``tol`` a
        number or per-system numbers."""
        self.A, self.M = A, M
        self.x, self.r = torch.zeros_like(b), b
        z, self.rz = (b, _dot(b, b)) if M is None else M(b)
        self.p = z.clone()
        self.stop = torch.as_tensor(tol, dtype=self.rz.dtype, device=b.device) ** 2 * self.rz

    def step(self):
        moving = self.rz > self.stop
        Ap, pAp = self.A(self.p)                                # A p and p.Ap
        alpha = _ratio(self.rz, pAp, moving)                   # r.z / p.Ap
        rr = _advance(self.x, self.r, self.p, Ap, alpha, residual=self.M is None)   # x += alpha p, r -= alpha Ap
        z, rz = (self.r, rr) if self.M is None else self.M(self.r)   # z = M r and r.z
        beta = _ratio(rz, self.rz, moving)                     # r.z (new) / r.z (old)
        torch.addcmul(z, _per_system(beta, self.p), self.p, out=self.p)   # p <- z + beta p (one pass)
        self.rz = rz

    def residual(self):
        """:math:`r\\cdot z` per system (:math:`r\\cdot r` without a preconditioner)."""
        return self.rz

    def keep(self, rows, A):
        """Continue with the batch members ``rows`` only, whose operator is now ``A``."""
        self.A, self.stop = A, self.stop[rows]
        self.x, self.r, self.p, self.rz = self.x[rows], self.r[rows], self.p[rows], self.rz[rows]


def _advance(x, r, p, Ap, alpha, residual=True):
    """CG's update :math:`x \\leftarrow x + \\alpha p`, :math:`r \\leftarrow r - \\alpha Ap`; returns the new
    :math:`r\\cdot r` per system (None without ``residual``). On the CPU one pass over the four vectors
    (:func:`._fused.advance`)."""
    if _fused.available(x, r, p, Ap):
        return _fused.advance(x, r, p, Ap, alpha.to(x.dtype), residual)
    x.addcmul_(_per_system(alpha, x).to(x.dtype), p)
    r.addcmul_(_per_system(alpha, r).to(r.dtype), Ap, value=-1)
    return _dot(r, r) if residual else None


class BasicScheme:
    r"""The Moulinec–Suquet fixed point :math:`\tilde e \leftarrow \tilde e - \Gamma^0 K (E + \tilde e)`,
    :math:`\Gamma^0 = \mathbb G/c_0`: Richardson's iteration on the same projected equation."""

    def __init__(self, law, G, E, c0, b):
        r"""Start from :math:`\tilde e = 0`, whose residual is ``b`` :math:`= -\mathbb G K E`."""
        self.law, self.G, self.E, self.c0 = law, G, E, c0
        self.x = torch.zeros_like(E)
        self.r = b

    def step(self):
        self.x.add_(self.r, alpha=1 / self.c0)
        self.r = -self.G(self.law(self.E + self.x))

    def residual(self):
        return _dot(self.r, self.r)


#: On the CPU the systems are solved in groups whose field takes at most this many bytes (at least one
#: system per group). A CG iteration streams a handful of field-sized arrays; a group that fits the
#: last-level cache, and whose FFT work arrays stay below glibc's largest mmap threshold (32 MiB, so that
#: they are reused instead of unmapped and page-faulted again every call), was twice as fast per system
#: at 64^3 as all load cases at once (measured: conduction 1.97 -> 1.01 s, elasticity 12.9 -> 6.9 s on
#: an AMD EPYC with 32 MiB of L3, one thread). Batching more systems gains nothing on a CPU at that size;
#: small cells (e.g. 32^2 datasets) still go in large groups. On a GPU the whole batch is one group.
CPU_GROUP_BYTES = 8 * 2**20


def _groups(E):
    """Slices ``(batch, loads)`` of ``E`` ``(B, L, c, *s)`` that split its systems into the groups solved
    together (see ``CPU_GROUP_BYTES``)."""
    B, L = E.shape[:2]
    if E.device.type != "cpu":
        return [(slice(None), slice(None))]
    per_group = max(1, CPU_GROUP_BYTES // (E[0, 0].numel() * E.element_size()))
    if per_group >= L:
        step = per_group // L
        return [(slice(b, b + step), slice(None)) for b in range(0, B, step)]
    return [(slice(b, b + 1), slice(l, l + per_group)) for b in range(B) for l in range(0, L, per_group)]


class FluctuationField:
    r"""CG on the fluctuation field itself, :math:`J = I` on :math:`\operatorname{range}\mathbb G` and
    :math:`J^\top = \mathbb G`: the operator is :math:`\mathbb G K`, no preconditioner (elasticity; see
    :class:`NodalPotential` for conduction)."""

    def __init__(self, G):
        self.G = G

    def gradient(self, x, out=None):
        return x

    def adjoint(self, sigma, out=None):
        return self.G(sigma, out=out)

    def operator(self, law):
        r""":math:`A = \mathbb G K` on compatible fields, with :math:`p\cdot Ap`."""
        return _with_product(_composed(self, law))

    def preconditioner(self):
        return None


def _composed(space, K):
    r""":math:`A = J^\top K J` as the composition of ``space``'s :math:`J`, the law and :math:`J^\top`;
    :math:`Jx`, :math:`KJx` and :math:`Ax` go into buffers reused from one call to the next."""
    Jx, KJx = None, None

    def A(x, out=None):
        nonlocal Jx, KJx
        Jx = space.gradient(x, out=Jx)
        KJx = K(Jx, out=KJx)
        return space.adjoint(KJx, out=out)
    return _reusing_output(A)


def _with_product(A):
    """``A(p)`` as ``(Ap, p . Ap)``, the form :class:`ConjugateGradients` takes."""
    def with_product(p):
        Ap = A(p)
        return Ap, _dot(p, Ap)
    return with_product


def _reusing_output(A):
    """``A(x, out)`` as ``A(x)`` writing into one buffer, reused (CG holds :math:`Ap` for one step only)."""
    Ax = None

    def reusing(x):
        nonlocal Ax
        Ax = A(x, out=Ax)
        return Ax
    return reusing


def solve(law, kind, E, *, scheme, tol, max_iter, c0=None, progress=False):
    r"""Solve :math:`\mathbb G K(E + \tilde e) = 0` for every system; returns ``(e, iterations,
    residuals, converged)`` with ``e = E + \tilde e`` ``(B, L, c, *spatial)``.

    CG solves :math:`J^\top K J\,x = -J^\top K E`, :math:`\tilde e = J x`: for conduction :math:`x` is the
    nodal potential (:class:`NodalPotential`, preconditioned by the Green operator), for elasticity the
    strain fluctuation itself (:class:`FluctuationField`, :math:`J^\top = \mathbb G`); the iterates are
    those of CG on the projected equation.
    The bookkeeping of a batch lives here, not in the iterations: the systems are solved in groups
    (on the CPU, groups that fit the cache: ``CPU_GROUP_BYTES``), and :func:`_iterate` runs one group.
    ``residuals`` is the worst system's relative residual at each iteration, over all groups.
    """
    shape = tuple(E.shape[3:])
    # the solution does not change when the law is multiplied by a number. CG's inner products grow as K^3 N and
    # overflowed (stiffnesses of 1e13 in float32 at 24^3: the iteration stalled at residual 1; ~1e150 in
    # float64); beyond 2^(+-max exponent / 4) of the dtype (4e9 in float32, 1e77 in float64: K^3 N stays finite
    # to N = 2^27) the law is solved scaled by the power of two nearest 1/max|K|, which gives the iterates of the
    # unscaled law bit for bit where those do not overflow (a power of two scales every rounding exactly).
    # Within that range nothing is scaled or copied.
    magnitude, limit = law.magnitude(), 2.0 ** (math.frexp(torch.finfo(E.dtype).max)[1] // 4)
    if 0 < magnitude < math.inf and not 1 / limit <= magnitude <= limit:
        unit = 2.0 ** -math.frexp(magnitude)[1]
        law, c0 = law.scaled(unit), None if c0 is None else c0 * unit
    if scheme == "cg":
        space = (NodalPotential(shape, E.device, E.dtype) if kind == "conduction"
                 else FluctuationField(green_projection(shape, kind, E.device, E.dtype)))
    else:
        space = green_projection(shape, kind, E.device, E.dtype)
    groups = _groups(E)
    # the bar counts the decades the residual has fallen, of the -log10(tol) to go: iteration counts are not
    # known ahead (CG stops after tens of its max_iter), the residual's way down to tol is
    bar = progress_bar(progress, round(-math.log10(tol), 2), f"FFT homogenization ({scheme})", unit="decade",
                       bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} decades [{elapsed}{postfix}]")
    if len(groups) == 1:
        e, iterations, history = _iterate(law, space, E, scheme, tol, max_iter, c0, bar)
    else:
        e, iterations, history = torch.empty(E.shape, dtype=E.dtype, device=E.device), 0, []
        for i, (batch, loads) in enumerate(groups):
            if bar is not None:
                bar.reset()
                bar.set_description(f"FFT homogenization ({scheme}), group {i + 1}/{len(groups)}")
            e[batch, loads], it, part = _iterate(law.rows(batch), space, E[batch, loads], scheme, tol, max_iter,
                                                 c0, bar)
            iterations = max(iterations, it)
            history = [max(a, b) for a, b in itertools.zip_longest(history, part, fillvalue=0.0)]
    if bar is not None:
        bar.close()
    converged = history[-1] <= tol
    best = min(range(len(history)), key=history.__getitem__)
    if not converged and history[-1] > 10 * history[best]:
        # rounding, not a lack of iterations: the iterate drifted off (float32 at high contrast or a small tol)
        # and would come back many times worse than at its best residual
        raise FloatingPointError(
            f"FFT homogenization ({scheme}) diverged: the relative residual fell to {history[best]:.2e} "
            f"(iteration {best}) and then rose to {history[-1]:.2e} by iteration {iterations}, short of tol={tol:g}: "
            f"the rounding of {E.dtype} cannot reach tol at this contrast; {_remedy(E.dtype, 'a larger tol')}")
    if not converged:
        warnings.warn(
            f"FFT homogenization ({scheme}) stopped at max_iter={max_iter} with relative residual "
            f"{history[-1]:.3e} > tol={tol:g}; increase max_iter"
            + (" (or use scheme='cg', which needs far fewer iterations)" if scheme == "basic" else ""),
            ConvergenceWarning,
            stacklevel=4,
        )
    return e, iterations, history, converged


def _remedy(dtype, alternative):
    """What to do when ``dtype``'s rounding broke the iteration: float64 where it is not, else ``alternative``."""
    return "use " + ("dtype=torch.float64, or " if dtype != torch.float64 else "") + alternative


def _iterate(law, space, E, scheme, tol, max_iter, c0, bar):
    r"""Iterate one group of systems to the relative residual :math:`\|\mathbb G K e\| / \|\mathbb G K E\|
    \le` ``tol`` (worst system) or ``max_iter``; returns ``(e, iterations, residuals)``. ``space``: CG's
    :math:`J` (:class:`NodalPotential` or :class:`FluctuationField`), or :math:`\mathbb G` for the
    basic scheme.

    CG drops the batch members whose loads have all converged, so that a group costs the sum of its
    members' iteration counts, not its size times the slowest one.
    """
    b = (space.adjoint(law(E)) if scheme == "cg" else space(law(E))).neg_()
    if scheme == "cg":
        method = ConjugateGradients(space.operator(law), b, tol, space.preconditioner())
    else:
        method = BasicScheme(law, space, E, c0, b)
    initial = method.residual()
    scale = torch.where(initial > 0, initial, torch.ones_like(initial))
    left = []                                           # CG: (rows, x) of the members that have left the batch
    rows = torch.arange(len(E), device=E.device)        # CG: the members still iterating
    history, it = [], 0
    while True:
        relative = method.residual() / scale
        history.append(math.sqrt(float(relative.max())))
        if not math.isfinite(history[-1]):
            # every later iterate would be NaN too: say so now, not after max_iter iterations
            raise FloatingPointError(
                f"FFT homogenization ({scheme}): the residual is {history[-1]} at iteration {it}"
                + (f" (its smallest was {min(history[:-1]):.2e})" if it else "") + f": the rounding of {E.dtype} "
                f"broke the iteration at this contrast; {_remedy(E.dtype, 'a lower contrast')}")
        if bar is not None:
            bar.n = min(bar.total, max(0.0, round(-math.log10(max(history[-1], 1e-300)), 2)))
            bar.set_postfix(iterations=it, residual=f"{history[-1]:.2e}")      # (refreshes the bar)
        if history[-1] <= tol or it >= max_iter:
            break
        if scheme == "cg" and len(rows) > 1:            # (one member left: it stops with the loop)
            finished = (relative <= tol**2).all(1)
            if bool(finished.any()):
                left.append((rows[finished], method.x[finished]))
                rows, kept = rows[~finished], ~finished
                method.keep(kept, space.operator(law.rows(rows)))
                scale = scale[kept]
        method.step()
        it += 1
    x = method.x
    if left:
        x = torch.empty((len(E),) + method.x.shape[1:], dtype=E.dtype, device=E.device)
        for index, part in left + [(rows, method.x)]:
            x[index] = part
    e = x if scheme == "basic" else space.gradient(x)
    return e.add_(E), it, history


# ----------------------------------------------------------------------------- adjoint gradient
class _Effective(torch.autograd.Function):
    r"""Effective tensor :math:`K^*_{ij} = \langle K e_j\rangle_i` of the solved fields ``e``, with
    the adjoint gradient.

    Because :math:`K^*` is stationary with respect to compatible fluctuations (minimum energy), the
    derivative needs no extra solve: :math:`\partial K^*_{ij}/\partial K_{ab}(x) =
    e_{i,a}(x)\,e_{j,b}(x)/N` (scalar fields: :math:`e_i(x)\cdot e_j(x)/N`).
    """

    @staticmethod
    def forward(ctx, prop, e, law, scalar):
        sigma = law(e)
        ctx.save_for_backward(e)
        ctx.scalar = scalar
        return sigma.mean(dim=tuple(range(3, sigma.ndim))).transpose(1, 2)

    @staticmethod
    def backward(ctx, grad):
        (e,) = ctx.saved_tensors
        N = math.prod(e.shape[3:])
        if ctx.scalar:
            g = torch.einsum("bij,bia...,bja...->b...", grad, e, e) / N
        else:
            g = torch.einsum("bij,bia...,bjc...->bac...", grad, e, e) / N
        return g, None, None, None


# ----------------------------------------------------------------------------- drivers
def _config(scheme, tol, max_iter, progress, dtype):
    if scheme not in ("cg", "basic"):
        raise ValueError(f"scheme={scheme!r}; expected 'cg' (conjugate gradients) or 'basic' (Moulinec-Suquet)")
    tol = check_relative_tolerance(tol)
    check_solver_dtype(dtype)
    if max_iter is None:
        max_iter = 1000 if scheme == "cg" else 10000
    max_iter = check_integer(max_iter, 1, name="max_iter")
    return dict(scheme=scheme, tol=tol, max_iter=max_iter, progress=progress)


def _eigenvalue_range(values, scalar):
    """Smallest and largest eigenvalue of scalar properties or of symmetric tensors ``(..., c, c)``."""
    values = values.detach()
    if scalar:
        return float(values.min()), float(values.max())
    ev = torch.linalg.eigvalsh(values)
    return float(ev.min()), float(ev.max())


#: The conductivity contrast above which a float32 solve warns that its effective tensor is inaccurate.
FLOAT32_CONTRAST = 1e5


def _warn_float32_contrast(values, scalar):
    """Warn where float32 cannot give the effective conductivity accurately: CG reaches tol at any contrast, but
    the potential's rounding (about 1e-7 of its range) spoils the gradients inside the better-conducting phase,
    whose fluxes carry them times the contrast: K* loses accuracy as about 1e-9 times the contrast (measured
    on a 64^2 level cut, float64 as reference: 3e-7 at 1e2, 6e-5 at 1e4, 1e-3 at 1e6, 0.3 at 1e8)."""
    values = values.detach()
    # of tensors, their diagonals: the contrast up to the anisotropy within a voxel, without an eigen-
    # decomposition of every voxel's tensor (a float64 copy of the field) on the path chosen to save memory
    values = values if scalar else torch.diagonal(values, dim1=-2, dim2=-1)
    positive = values[values > 0]
    if positive.numel() == 0:
        return
    contrast = float(positive.max()) / float(positive.min())
    if contrast > FLOAT32_CONTRAST:
        warnings.warn(f"float32 at a conductivity contrast of {contrast:.1e}: the potential's rounding limits the "
                      f"effective conductivity to a relative accuracy of about 1e-9 x contrast ({1e-9 * contrast:.0e}; "
                      "measured: 1e-3 at a contrast of 1e6, 0.3 at 1e8), whatever tol; use dtype=torch.float64",
                      RuntimeWarning, stacklevel=4)


def _phase_range(labels, stack, scalar, device):
    """Eigenvalue range of the phases present in ``labels`` (the reference medium of the basic scheme)."""
    present = torch.unique(to_torch(labels, device).long())
    return _eigenvalue_range(stack[present], scalar)


def _run(prop, scalar, kind, spatial, config, return_fields, reference, squeeze, c0_range=None, lame="check"):
    """``c0_range``: a function giving the range of the phases' eigenvalues (computed only for the basic scheme);
    ``lame``: as in :class:`LocalLaw`."""
    return_fields = check_flag(return_fields, name="return_fields")
    c = len(spatial) if kind == "conduction" else (3 if len(spatial) == 2 else 6)
    if config["scheme"] == "basic":
        field = prop if scalar else prop.movedim((1, 2), (-2, -1))
        low, high = c0_range() if c0_range is not None else _eigenvalue_range(field, scalar)
        if low <= 1e-12 * high:      # (a singular tensor's zero eigenvalue comes out as +-1e-17)
            raise ValueError(
                "scheme='basic' (Moulinec-Suquet) does not converge for zero conductivity/stiffness "
                "(pores, infinite contrast) or a phase stiff in some directions only (a fluid): the reference "
                "medium must be finite; use scheme='cg'"
            )
        config = dict(config, c0=(low + high) / 2)
    if kind == "conduction" and prop.dtype == torch.float32:
        _warn_float32_contrast(prop if scalar else prop.movedim((1, 2), (-2, -1)), scalar)
    B = prop.shape[0]
    eye = torch.eye(c, dtype=prop.dtype, device=prop.device)
    E = eye.reshape(1, c, c, *(1,) * len(spatial)).expand(B, c, c, *spatial)   # a view: no memory
    law = LocalLaw(prop.detach(), scalar, lame)
    with torch.no_grad():
        e, iterations, residuals, converged = solve(law, kind, E, **config)
    effective = _Effective.apply(prop, e, law, scalar)
    fields = None
    if return_fields:
        fields = _fields(kind, e, law(e), len(spatial))
        fields = {key: like(value[0] if squeeze else value, reference) for key, value in fields.items()}
    if squeeze:
        effective = effective[0]
    return HomogenizationResult(
        effective=like(effective, reference),
        iterations=iterations,
        residuals=residuals,
        converged=converged,
        fields=fields,
    )


def _fields(kind, e, sigma, d):
    e, sigma = e.detach(), sigma.detach()
    if kind == "conduction":
        return {"gradient": e, "flux": sigma, "flux_magnitude": torch.linalg.vector_norm(sigma, dim=2)}
    s = sigma
    if d == 2:  # in-plane von Mises (sigma_33 of plane strain not included)
        vm2 = s[:, :, 0] ** 2 - s[:, :, 0] * s[:, :, 1] + s[:, :, 1] ** 2 + 1.5 * s[:, :, 2] ** 2
    else:       # Mandel shear entries are sqrt(2) sigma_ij, so 3 sigma_ij^2 = 1.5 s_I^2
        vm2 = 0.5 * ((s[:, :, 0] - s[:, :, 1]) ** 2 + (s[:, :, 1] - s[:, :, 2]) ** 2
                     + (s[:, :, 2] - s[:, :, 0]) ** 2) + 1.5 * (s[:, :, 3:] ** 2).sum(2)
    return {"strain": e, "stress": sigma, "von_mises": torch.sqrt(vm2),
            "strain_energy_density": 0.5 * (e * sigma).sum(2)}


def _layout(labels, batch):
    check_flag(batch, name="batch")
    return check_labels(labels, batch=batch) if labels is not None else None


def _phase_tensor(value, index, name, c, dtype, device, what):
    """One phase property as a tensor: scalar (>= 0) or a symmetric PSD c x c matrix (zero: a pore; singular:
    a fluid, or a conductor in some directions only)."""
    t = _scalar_or_tensor(value, device, dtype, f"{name}[{index}] (phase {index})")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}[{index}] (phase {index}) contains NaN or inf; expected finite {what}")
    if t.ndim == 0:
        if t < 0:
            raise ValueError(f"{name}[{index}] (phase {index}) = {float(t)} is negative; expected {what} >= 0")
        return t
    if t.shape != (c, c):
        raise ValueError(f"{name}[{index}] (phase {index}) has shape {tuple(t.shape)}; expected a scalar or ({c}, {c})")
    td = t.detach()
    if not torch.allclose(td, td.T, rtol=1e-10, atol=1e-12 * float(td.abs().max())):
        raise ValueError(f"{name}[{index}] (phase {index}) is not symmetric; expected a symmetric {c}x{c} tensor")
    # a zero eigenvalue is a mode without stiffness (pores, fluids): CG solves that too (module docstring)
    eigenvalues = torch.linalg.eigvalsh(td.double())
    if eigenvalues.min() < -_rounding(td.dtype, c, 1e-12) * float(td.abs().max()):
        raise ValueError(
            f"{name}[{index}] (phase {index}) has a negative eigenvalue (eigenvalues {eigenvalues.tolist()}); "
            "expected a positive semi-definite tensor (zero for a pore)"
        )
    return t


def _rounding(dtype, c, floor):
    """How negative, relative to its largest entry, an eigenvalue of a semi-definite ``c x c`` tensor stored
    in ``dtype`` may come out: ``floor`` (the rounding of tensors built from moduli in float64; bounds._values
    allows 1e-12), or ten times the eigenvalue solver's rounding in a coarser dtype (float32: about 1e-6)."""
    return max(floor, 10 * c * torch.finfo(dtype).eps)


def _scalar_or_tensor(value, device, dtype, name="value"):
    kind = value.dtype if isinstance(value, torch.Tensor) else np.asarray(value).dtype
    if isinstance(value, torch.Tensor) and (value.is_complex() or value.dtype == torch.bool) or (
            not isinstance(value, torch.Tensor) and kind.kind in "cbUS"):
        # np.asarray(..., float) would drop an imaginary part (with a warning only) and read True as 1
        raise TypeError(f"{name} has dtype {kind}; expected a real number or an array of real numbers")
    if isinstance(value, torch.Tensor):
        return value.to(device, dtype)
    return torch.as_tensor(np.asarray(value, dtype=float), dtype=dtype, device=device)


def _phase_stack(props, c, dtype, device, name, what):
    tensors = [_phase_tensor(v, i, name, c, dtype, device, what) for i, v in enumerate(props)]
    scalar = all(t.ndim == 0 for t in tensors)
    if not scalar:
        eye = torch.eye(c, dtype=dtype, device=device)
        tensors = [t * eye if t.ndim == 0 else t for t in tensors]
    return torch.stack(tensors), scalar


def _phase_lame(prop, stack):
    """:func:`_lame_fields` of the voxel field ``prop`` gathered from the phases ``stack``, with the isotropy
    tested once per phase instead of once per voxel."""
    isotropic = _lame_fields(stack.detach().permute(1, 2, 0)[None]) is not None   # phases as voxels: (1, m, m, P)
    return _lame_fields(prop.detach(), check=False) if isotropic else None


def _labels_field(labels, stack, scalar, batch, device):
    lab = to_torch(labels, device).long()
    if not batch:
        lab = lab[None]
    prop = stack[lab]  # (B, *s) or (B, *s, c, c): differentiable gather
    if not scalar:
        prop = prop.movedim((-2, -1), (1, 2))
    return prop, tuple(lab.shape[1:])


def _with_interphase(labels, props, interphase, batch, key):
    if interphase is None:
        return labels, props
    if not isinstance(interphase, dict) or "width" not in interphase or key not in interphase:
        raise ValueError(f"interphase must be a dict with keys 'width' and {key!r} (optionally 'inclusion', 'matrix')")
    unknown = [name for name in interphase if name not in ("width", key, "inclusion", "matrix")]
    if unknown:     # a misspelt optional key would silently run with its default
        raise ValueError(f"interphase has the unknown key(s) {', '.join(map(repr, unknown))}; expected the keys "
                         f"'width' and {key!r} (optionally 'inclusion', 'matrix')")
    new = add_interphase(labels, interphase["width"], inclusion=interphase.get("inclusion", 1),
                         matrix=interphase.get("matrix", 0), new_label=len(props), batch=batch)
    return new, list(props) + [interphase[key]]


def _prepare(labels, props, batch, interphase, key, device):
    """Checked labels and per-label properties (interphase added), spatial dimension, device."""
    d = _layout(labels, batch)
    name = "k" if key == "k" else "phases"
    check_properties(props, name=name)
    check_labels(labels, batch=batch, n_phases=len(props))
    labels, props = _with_interphase(labels, props, interphase, batch, key)
    return labels, props, d, compute_device(labels, device)


def conductivity(labels, k, *, batch=False, tol=1e-6, max_iter=None, scheme="cg", device="auto",
                 dtype=torch.float64, interphase=None, return_fields=False, progress=False):
    r"""Effective conductivity tensor :math:`K^*` of a periodic voxel microstructure.

    Solves :math:`\nabla\cdot(k(x)\nabla T) = 0` with :math:`\langle\nabla T\rangle = E` for the
    ``d`` unit loads at once (see the module docstring for the scheme).

    Parameters
    ----------
    labels : array or tensor of int, shape ``(*spatial)`` or ``(batch, *spatial)``
        Phase labels, 2 or 3 spatial axes, periodic; voxel size 1.
    k : sequence
        ``k[i]`` the conductivity of label ``i``: a scalar ``>= 0`` (0 = pore/insulator) or a
        symmetric positive semi-definite ``(d, d)`` tensor (singular: conducting in some directions
        only). Torch tensors with ``requires_grad`` give gradients of ``effective`` (the result is then a torch tensor even for numpy labels).
    batch : bool
        Whether ``labels`` has a leading batch axis (never guessed).
    tol : float
        Relative residual :math:`\|\mathbb G K e\|/\|\mathbb G K E\|` at which to stop.
    max_iter : int, optional
        Default 1000 (``"cg"``) or 10000 (``"basic"``). Reaching it warns (:class:`ConvergenceWarning`).
    scheme : {"cg", "basic"}
        Conjugate gradients on the Galerkin equation, or the Moulinec–Suquet fixed point.
    device, dtype
        Torch device (``"auto"``) and floating dtype (float64 default; float32 allowed). Where the
        dtype's rounding cannot reach ``tol``, the residual falls and then rises again: a residual at
        the end more than 10 times its smallest raises ``FloatingPointError`` instead of returning the
        drifted fields. Measured in float32 at the default ``tol`` on a 64² Gaussian level cut:
        conduction (CG on the potential) reaches it at contrasts up to 1e8; elasticity (the strain
        field) raises from a contrast of about 1e3 (1e2 converges). Reaching ``tol`` is not accuracy:
        float32's rounding of the potential limits the effective conductivity to about 1e-9 times the
        contrast, relative (measured: 6e-5 at 1e4, 1e-3 at 1e6, 0.3 at 1e8); above a contrast of 1e5
        (``FLOAT32_CONTRAST``) a ``RuntimeWarning`` says so.
    interphase : dict, optional
        ``dict(width=w, k=k_i)`` gives matrix voxels within ``w`` pixels of an inclusion the property
        ``k_i`` (see :func:`add_interphase`; optional keys ``inclusion``, ``matrix``).
    return_fields : bool
        Also return ``fields``: ``"gradient"`` and ``"flux"`` of shape ``(d_load, d, *spatial)`` and
        ``"flux_magnitude"`` ``(d_load, *spatial)`` (batch axis first for batched input).
    progress : bool
        Show a tqdm progress bar: the decades the relative residual has fallen, of the
        :math:`-\log_{10}` ``tol`` to go (for a batch solved in groups, per group), with the iterations.

    Returns
    -------
    HomogenizationResult

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((8, 8), dtype=int); labels[:4] = 1   # layers normal to axis 0
    >>> conductivity(labels, [1.0, 3.0]).effective.round(6)
    array([[1.5, 0. ],
           [0. , 2. ]])
    """
    config = _config(scheme, tol, max_iter, progress, dtype)
    labels, k, d, dev = _prepare(labels, k, batch, interphase, "k", device)
    stack, scalar = _phase_stack(k, d, dtype, dev, "k", "conductivity")
    prop, spatial = _labels_field(labels, stack, scalar, batch, dev)
    return _run(prop, scalar, "conduction", spatial, config, return_fields, _reference(labels, stack), not batch,
                lambda: _phase_range(labels, stack, scalar, dev))


def _reference(labels, stack):
    """Output kind: torch if ``labels`` is a tensor or a phase property carries a gradient, else numpy."""
    return stack if stack.requires_grad else labels


def _stiffness(phase, index, d, dtype, device):
    if isinstance(phase, dict):
        keys = set(phase)
        if keys not in ({"E", "nu"}, {"K", "G"}):
            raise ValueError(f"phases[{index}] (phase {index}) has keys {sorted(keys)}; expected {{'E', 'nu'}} or {{'K', 'G'}}")
        values = {key: _scalar_or_tensor(v, device, dtype, f"phases[{index}][{key!r}]") for key, v in phase.items()}
    elif isinstance(phase, tuple) and len(phase) == 2:
        values = dict(E=_scalar_or_tensor(phase[0], device, dtype, f"phases[{index}] E"),
                      nu=_scalar_or_tensor(phase[1], device, dtype, f"phases[{index}] nu"))
    else:
        return phase
    for key, v in values.items():
        if not torch.isfinite(v).all() or v.ndim != 0:
            raise ValueError(f"phases[{index}] (phase {index}): {key} = {v.tolist()}; expected a finite scalar")
        if key in ("E", "K", "G") and v < 0:
            raise ValueError(f"phases[{index}] (phase {index}): {key} = {float(v.detach())} is negative; expected >= 0")
    # detached: float() of a tensor that requires grad warns on every call of the documented gradient path
    if "nu" in values and not (-1 < float(values["nu"].detach()) < 0.5):
        raise ValueError(f"phases[{index}] (phase {index}): nu = {float(values['nu'].detach())}; "
                         "expected -1 < nu < 0.5")
    return isotropic_stiffness(ndim=d, **values)


def elasticity(labels, phases, *, batch=False, tol=1e-6, max_iter=None, scheme="cg", device="auto",
               dtype=torch.float64, interphase=None, return_fields=False, progress=False):
    r"""Effective Mandel stiffness :math:`C^*` (small strain, periodic; plane strain in 2D).

    Solves :math:`\nabla\cdot(C(x):\varepsilon) = 0`, :math:`\langle\varepsilon\rangle = E` for the
    3 (2D) or 6 (3D) Mandel unit strains at once. Mandel order ``(11, 22, 12)`` /
    ``(11, 22, 33, 23, 13, 12)`` with :math:`\sqrt2` on shear entries (:mod:`.tensors`).

    Parameters
    ----------
    labels : array or tensor of int, ``(*spatial)`` or ``(batch, *spatial)`` (see ``batch``)
    phases : sequence
        One entry per label: ``{"E": .., "nu": ..}``, ``{"K": .., "G": ..}`` (3D moduli; 2D is the
        plane-strain block), a tuple ``(E, nu)``, or a symmetric positive semi-definite Mandel
        matrix (3×3 in 2D, 6×6 in 3D). A zero stiffness (``E = 0``) is a pore; ``{"K": K, "G": 0}`` a
        fluid at rest, undrained (no shear stiffness): each connected fluid region keeps its own pressure,
        nothing flows between pores (with one region per cell, Gassmann's relation holds; the tests check it).
    batch, tol, max_iter, scheme, device, dtype, interphase, return_fields, progress
        As in :func:`conductivity` (``interphase=dict(width=w, phase=...)``). Fields: ``"strain"``,
        ``"stress"`` (Mandel, ``(m_load, m, *spatial)``), ``"von_mises"`` (in-plane in 2D) and
        ``"strain_energy_density"`` :math:`\tfrac12\sigma:\varepsilon` (``(m_load, *spatial)``).

    Returns
    -------
    HomogenizationResult

    Examples
    --------
    A laminate (layers normal to axis 0) reproduces the exact Backus result of :func:`laminate_stiffness`:

    >>> import numpy as np
    >>> from mslearn.homogenization.bounds import laminate_stiffness
    >>> labels = np.zeros((8, 8), dtype=int); labels[:4] = 1
    >>> result = elasticity(labels, [(1.0, 0.3), (10.0, 0.3)], device="cpu")
    >>> result.effective.round(4)
    array([[2.4476, 1.049 , 0.    ],
           [1.049 , 6.4935, 0.    ],
           [0.    , 0.    , 1.3986]])
    >>> exact = laminate_stiffness([0.5, 0.5], [(1.0, 0.3), (10.0, 0.3)], ndim=2)
    >>> bool(np.allclose(result.effective, exact, atol=1e-5))
    True
    """
    config = _config(scheme, tol, max_iter, progress, dtype)
    labels, phases, d, dev = _prepare(labels, phases, batch, interphase, "phase", device)
    m = 3 if d == 2 else 6
    mats = [_stiffness(p, i, d, dtype, dev) for i, p in enumerate(phases)]
    for i, mat in enumerate(mats):
        if np.ndim(mat.detach().cpu() if isinstance(mat, torch.Tensor) else mat) == 0:
            # a number is no stiffness (conductivity reads a scalar as k I; here it would be an odd 2 mu = k)
            raise ValueError(f"phases[{i}] (phase {i}) is the number {float(mat)}; expected an isotropic dict "
                             f"{{'E', 'nu'}} or {{'K', 'G'}}, an (E, nu) tuple or a {m}x{m} Mandel matrix")
    stack, scalar = _phase_stack(mats, m, dtype, dev, "phases", "stiffness")
    prop, spatial = _labels_field(labels, stack, False, batch, dev)
    return _run(prop, False, "elasticity", spatial, config, return_fields, _reference(labels, stack), not batch,
                lambda: _phase_range(labels, stack, False, dev), lame=_phase_lame(prop, stack))


def _field_input(field, ndim, batch, c, name):
    if ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r}; expected the number of spatial axes, 2 or 3")
    check_integer(ndim, 2, name="ndim")             # 2.0 == 2, but fails later as a slice index
    if not isinstance(field, (np.ndarray, torch.Tensor)):     # a list has no .ndim (was an AttributeError)
        raise TypeError(f"{name} is a {type(field).__name__}; expected a numpy array or a torch tensor")
    if 0 in tuple(field.shape):
        raise ValueError(f"{name} has shape {tuple(field.shape)}, with no voxels; expected a property field")
    kind = field.dtype if isinstance(field, torch.Tensor) else np.asarray(field).dtype
    if (field.is_complex() or field.dtype == torch.bool) if isinstance(field, torch.Tensor) else kind.kind not in "iuf":
        raise TypeError(f"{name} has dtype {kind}; expected a real-valued property field")
    lead = 1 if check_flag(batch, name="batch") else 0
    if field.ndim == lead + ndim:
        scalar = True
    elif field.ndim == lead + 2 + ndim and tuple(field.shape[lead:lead + 2]) == (c, c):
        scalar = False
    else:
        layout = ("(batch, " if batch else "(") + f"*spatial) or " + ("(batch, " if batch else "(") + f"{c}, {c}, *spatial)"
        raise ValueError(f"{name} has shape {tuple(field.shape)}; expected {layout} with {ndim} spatial axes")
    check_finite(field.detach() if isinstance(field, torch.Tensor) else field, name=name)
    if scalar and (field < 0).any():
        raise ValueError(f"{name} has negative values; expected a property field >= 0")
    return scalar


def conductivity_field(field, *, ndim, batch=False, tol=1e-6, max_iter=None, scheme="cg", device="auto",
                       dtype=torch.float64, return_fields=False, progress=False):
    r"""Effective conductivity of a per-voxel conductivity field (the differentiable low-level entry).

    Arguments not listed below are as in :func:`conductivity`.

    Parameters
    ----------
    field : array or tensor
        ``(*spatial)`` scalar conductivity per voxel, or ``(d, d, *spatial)`` tensors (with a leading
        batch axis when ``batch=True``). Gradients flow to ``field`` by the adjoint
        identity :math:`\partial K^*_{ij}/\partial k(x) = \nabla T_i(x)\cdot\nabla T_j(x)/N` (no
        extra solve). Design by physics interpolates e.g. SIMP
        :math:`k(\rho) = k_{min} + \rho^p (k_{max}-k_{min})` before calling.
    ndim : {2, 3}
        Number of spatial axes (required: shapes alone are ambiguous).
    batch : bool
        Whether ``field`` has a leading batch axis (never guessed), as in :func:`conductivity`.

    Examples
    --------
    Along the layers the effective conductivity is the mean of the field, so each voxel's sensitivity
    (the adjoint gradient) is 1/N:

    >>> import numpy as np, torch
    >>> field = torch.ones(8, 8, dtype=torch.float64); field[:4] = 3.0
    >>> _ = field.requires_grad_(True)
    >>> result = conductivity_field(field, ndim=2, device="cpu")
    >>> result.effective.detach().numpy().round(6)
    array([[1.5, 0. ],
           [0. , 2. ]])
    >>> result.effective[1, 1].backward()
    >>> bool(torch.allclose(field.grad, torch.full((8, 8), 1 / 64, dtype=torch.float64)))
    True
    """
    config = _config(scheme, tol, max_iter, progress, dtype)
    scalar = _field_input(field, ndim, batch, ndim, "field")
    prop = to_torch(field, compute_device(field, device), dtype)
    if not batch:
        prop = prop[None]
    spatial = tuple(prop.shape[-ndim:])
    if not scalar:
        _check_field_tensors(prop, ndim, "field")
    return _run(prop, scalar, "conduction", spatial, config, return_fields, field, not batch)


def elasticity_field(field, *, ndim, batch=False, tol=1e-6, max_iter=None, scheme="cg", device="auto",
                     dtype=torch.float64, return_fields=False, progress=False):
    r"""Effective Mandel stiffness of a per-voxel Mandel stiffness field ``(m, m, *spatial)``.

    ``m`` = 3 (2D, plane strain) or 6 (3D). Gradients w.r.t. ``field`` by the adjoint identity
    :math:`\partial C^*_{IJ}/\partial C_{ab}(x) = \varepsilon_{I,a}(x)\varepsilon_{J,b}(x)/N`. SIMP:
    pass ``field = (e_min + rho**p (1 - e_min)) * C0[..., None, None]`` (broadcast to voxels); with
    ``batch=True`` a leading batch axis.
    Other parameters as in :func:`elasticity` and :func:`conductivity_field`.

    Examples
    --------
    The voxel stiffnesses of a laminate give the same ``C*`` as :func:`laminate_stiffness`:

    >>> import numpy as np
    >>> from mslearn.homogenization.bounds import laminate_stiffness
    >>> from mslearn.homogenization.tensors import isotropic_stiffness
    >>> C = np.stack([isotropic_stiffness(E, 0.3, ndim=2) for E in (1.0, 10.0)])
    >>> labels = np.zeros((8, 8), dtype=int); labels[:4] = 1
    >>> field = np.transpose(C[labels], (2, 3, 0, 1))       # (3, 3, 8, 8)
    >>> result = elasticity_field(field, ndim=2, device="cpu")
    >>> bool(np.allclose(result.effective, laminate_stiffness([0.5, 0.5], [(1.0, 0.3), (10.0, 0.3)], ndim=2), atol=1e-5))
    True
    """
    config = _config(scheme, tol, max_iter, progress, dtype)
    m = 3 if ndim == 2 else 6
    scalar = _field_input(field, ndim, batch, m, "field")
    if scalar:
        raise ValueError(f"field has shape {tuple(field.shape)}; expected ({'batch, ' if batch else ''}{m}, {m}, *spatial)")
    prop = to_torch(field, compute_device(field, device), dtype)
    if not batch:
        prop = prop[None]
    _check_field_tensors(prop, ndim, "field")
    return _run(prop, False, "elasticity", tuple(prop.shape[-ndim:]), config, return_fields, field, not batch)


def _check_field_tensors(prop, ndim, name):
    p = prop.detach().movedim((1, 2), (-2, -1))
    scale = float(p.abs().max()) or 1.0
    if not torch.allclose(p, p.transpose(-1, -2), atol=1e-10 * scale):
        raise ValueError(f"{name} has non-symmetric voxel tensors; expected symmetric tensors")
    c = p.shape[-1]
    if torch.linalg.eigvalsh(p.reshape(-1, c, c)).min() < -_rounding(p.dtype, c, 1e-10) * scale:
        raise ValueError(f"{name} has voxel tensors that are not positive semi-definite")


# ----------------------------------------------------------------------------- interphase
def add_interphase(labels, width, *, inclusion=1, matrix=0, new_label=None, batch=False):
    r"""Relabel the matrix voxels within ``width`` pixels of an inclusion as an interphase.

    A voxel of label ``matrix`` whose centre lies within Euclidean distance ``width`` of the centre
    of a voxel of label ``inclusion`` (periodic distance) gets ``new_label`` (default: the largest
    label + 1). Models a coating or an interface resistance (a thin layer of low conductivity).

    Parameters
    ----------
    labels : array or tensor of int, ``(*spatial)`` or ``(batch, *spatial)`` (``batch=True``)
    width : float
        Interphase thickness in pixels (> 0).
    inclusion : int or sequence of int
        Label(s) of the inclusions the interphase surrounds.
    matrix : int
        Label of the phase turned into interphase.
    new_label : int, optional
        Label of the interphase, one ``labels`` does not have yet (default: the largest label + 1,
        over the whole batch).
    batch : bool, default False
        ``labels`` is a stack ``(batch, *spatial)``: each image gets its own interphase, all with
        one ``new_label``.

    Returns
    -------
    New labels of the same kind and shape.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((7, 7), dtype=int); labels[3, 3] = 1   # a one-voxel inclusion
    >>> add_interphase(labels, 1.0)[2:5, 2:5]                     # its 4 neighbours become label 2
    array([[0, 2, 0],
           [2, 1, 2],
           [0, 2, 0]])
    >>> np.bincount(add_interphase(labels, 1.5).ravel())         # width 1.5 takes the diagonals too
    array([40,  1,  8])
    """
    from scipy import ndimage

    check_labels(labels, batch=batch)
    if isinstance(width, bool) or not (isinstance(width, numbers.Real) and 0 < width < math.inf):
        raise ValueError(f"width={width!r}; expected a positive, finite number of pixels")
    values = np.asarray(labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels).astype(np.int64)
    present = np.unique(values)

    def label(value, what):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
            raise TypeError(f"{what}={value!r}; expected an integer phase label")
        return int(value)

    inclusions = np.array([label(v, "inclusion") for v in np.atleast_1d(np.asarray(inclusion, dtype=object))])
    matrix = label(matrix, "matrix")
    if not np.isin(inclusions, present).any():
        raise ValueError(f"inclusion={inclusion!r} does not occur in labels (labels present: {present.tolist()}); "
                         "expected the label(s) of the phase the interphase surrounds")
    if matrix not in present:
        raise ValueError(f"matrix={matrix} does not occur in labels (labels present: {present.tolist()}); "
                         "expected the label of the phase turned into interphase")
    if matrix in inclusions:
        raise ValueError(f"matrix={matrix} is also an inclusion label; expected the label of the phase that "
                         "surrounds the inclusions")
    if new_label is None:
        new_label = int(values.max()) + 1
    elif label(new_label, "new_label") < 0 or new_label in present:
        # an existing label would merge the interphase into that phase
        raise ValueError(f"new_label={new_label}; expected a label >= 0 that labels does not have yet "
                         f"(present: {present.tolist()})")
    pad = int(math.ceil(width)) + 1
    out = values.copy()
    for index in np.ndindex(values.shape[:1] if batch else ()):
        image = values[index]
        if any(pad > s for s in image.shape):
            raise ValueError(f"width={width} is too large for an image of shape {image.shape}")
        padded = np.pad(image, pad, mode="wrap")
        dist = ndimage.distance_transform_edt(~np.isin(padded, inclusions))
        dist = dist[tuple(slice(pad, -pad) for _ in image.shape)]
        target = out[index] if batch else out
        target[(image == matrix) & (dist <= width)] = new_label
    if isinstance(labels, torch.Tensor):
        return torch.as_tensor(out, device=labels.device)
    return out
