r"""The solver's element-wise maps as one pass each, on the CPU: the Green projection per frequency, the
rotated scheme's gradient stencil and its adjoint (conduction's potential at the voxel corners), and both
with the law between them as one sweep (the flux never stored), conduction's Green preconditioner per
frequency, the isotropic law per voxel, CG's update.

Why hand-written
----------------
Written with torch, each of these maps is a sequence of whole-array passes: the 3D strain projection
:math:`\hat{\mathbb G}\hat\varepsilon = \operatorname{sym}(n\otimes u)`, :math:`u = 2w - n(n\cdot w)`,
:math:`w = \hat\varepsilon n` is 24 multiply-adds over the spectrum, and each pass streams its arrays
through memory. On a CPU that is memory-bound: the projection alone cost 0.45 of the FFT pair of its
field at 64^3 (one thread, Intel Xeon), and the element-wise passes together more than the FFTs. Here
the same formulas are loops over the frequencies (voxels), compiled by numba: every value is read
once, the arithmetic stays in registers, and the loop vectorizes (the spectrum is laid out as (re, im)
pairs along one long axis, as the torch path does). Measured on the same machine: the 3D strain
projection 9x faster (0.66 against 6.2 ms). ``torch.compile`` fuses the same passes, but it compiles
for some 20 s cold and needs a C++ toolchain; numba compiles these loops in about a second, once
(``cache=True`` keeps them on disk).

The torch formulas in :mod:`.solver` stay: they run on a GPU (where element-wise kernels are not the
bottleneck), on several CPU threads (except the projection and the stencils), and wherever numba is not installed or the
arrays do not qualify (:func:`available`). Parallel loops (numba's ``prange``) would serve several threads too, but numba's
threading layers are either not fork-safe (GNU OpenMP) or abort on concurrent calls from several Python
threads (its own work queue), and a library cannot choose for its users' processes.
The two are tested against each other to rounding.

Each kernel reads like the formula of one frequency (voxel); ``s`` runs over the systems of a batch,
``k`` over the real numbers of the half spectrum (``M``, pairs) or over the voxels.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._numba import NUMBA, jit as _jit

SQRT2, SQRT1_2 = math.sqrt(2.0), math.sqrt(0.5)


def available(*tensors, any_threads=False):
    """Whether the fused kernels take these tensors: numba is installed, every tensor is a contiguous
    float32/float64 CPU tensor that does not require gradients, and torch computes on one thread (or
    ``any_threads``).

    The loops run on one thread. Where torch has several, its passes run on all of them: a loop that
    replaces two or three passes (the law, CG's update) then loses
    (measured on 2 cores of an Intel Xeon, everything fused: whole solves 0.87-1.04x the torch passes), so
    those serve one-thread runs: the benchmark's setting, and workers that take one core each (Dask
    workers, parameter sweeps, ``OMP_NUM_THREADS=1``). The Green projection replaces 9-24 passes and the
    stencils 2d^2 shifts and sums, and they are worth it at any thread count (``any_threads=True``;
    measured, 2 threads: elasticity solves 1.08x faster at 256^2, 1.16x at 64^3, than with the torch
    passes)."""
    return NUMBA and (any_threads or torch.get_num_threads() == 1) and all(
        t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and t.is_contiguous()
        and not t.requires_grad for t in tensors)


@_jit
def _strain_projection_3d(f, n):
    """``f`` (S, 6, M) Mandel strains <- sym(n x u), u = 2w - n (n . w), w = eps n, in place; ``n`` (3, M)."""
    for s in range(f.shape[0]):
        for k in range(f.shape[2]):
            n0, n1, n2 = n[0, k], n[1, k], n[2, k]
            e00, e11, e22 = f[s, 0, k], f[s, 1, k], f[s, 2, k]
            e12, e02, e01 = SQRT1_2 * f[s, 3, k], SQRT1_2 * f[s, 4, k], SQRT1_2 * f[s, 5, k]
            w0 = e00 * n0 + e01 * n1 + e02 * n2                   # w = eps n
            w1 = e01 * n0 + e11 * n1 + e12 * n2
            w2 = e02 * n0 + e12 * n1 + e22 * n2
            half_nw = 0.5 * (n0 * w0 + n1 * w1 + n2 * w2)
            v0, v1, v2 = w0 - half_nw * n0, w1 - half_nw * n1, w2 - half_nw * n2   # v = u / 2
            f[s, 0, k] = 2.0 * n0 * v0                          # sym(n x u), Mandel
            f[s, 1, k] = 2.0 * n1 * v1
            f[s, 2, k] = 2.0 * n2 * v2
            f[s, 3, k] = SQRT2 * (n1 * v2 + n2 * v1)
            f[s, 4, k] = SQRT2 * (n0 * v2 + n2 * v0)
            f[s, 5, k] = SQRT2 * (n0 * v1 + n1 * v0)


@_jit
def _strain_projection_2d(f, n):
    """``f`` (S, 3, M) Mandel plane strains <- sym(n x u), u = 2w - n (n . w), w = eps n, in place; ``n`` (2, M)."""
    for s in range(f.shape[0]):
        for k in range(f.shape[2]):
            n0, n1 = n[0, k], n[1, k]
            e00, e11, e01 = f[s, 0, k], f[s, 1, k], SQRT1_2 * f[s, 2, k]
            w0 = e00 * n0 + e01 * n1
            w1 = e01 * n0 + e11 * n1
            half_nw = 0.5 * (n0 * w0 + n1 * w1)
            v0, v1 = w0 - half_nw * n0, w1 - half_nw * n1
            f[s, 0, k] = 2.0 * n0 * v0
            f[s, 1, k] = 2.0 * n1 * v1
            f[s, 2, k] = SQRT2 * (n0 * v1 + n1 * v0)


@_jit
def _gradient_projection(f, n):
    """``f`` (S, d, M) gradients <- n (n . f), in place; ``n`` (d, M), d = 2 or 3."""
    for s in range(f.shape[0]):
        if n.shape[0] == 2:
            for k in range(f.shape[2]):
                nf = n[0, k] * f[s, 0, k] + n[1, k] * f[s, 1, k]
                f[s, 0, k], f[s, 1, k] = n[0, k] * nf, n[1, k] * nf
        else:
            for k in range(f.shape[2]):
                nf = n[0, k] * f[s, 0, k] + n[1, k] * f[s, 1, k] + n[2, k] * f[s, 2, k]
                f[s, 0, k], f[s, 1, k], f[s, 2, k] = n[0, k] * nf, n[1, k] * nf, n[2, k] * nf


@_jit
def _isotropic_law_3d(e, lam, two_mu, out):
    """``out`` (B, L, 6, V) <- 2 mu eps + lambda tr(eps) 1 of Mandel strains ``e``; ``lam``, ``two_mu`` (B, V)."""
    for b in range(e.shape[0]):
        for l in range(e.shape[1]):
            for v in range(e.shape[3]):
                lam_trace = lam[b, v] * (e[b, l, 0, v] + e[b, l, 1, v] + e[b, l, 2, v])
                out[b, l, 0, v] = two_mu[b, v] * e[b, l, 0, v] + lam_trace
                out[b, l, 1, v] = two_mu[b, v] * e[b, l, 1, v] + lam_trace
                out[b, l, 2, v] = two_mu[b, v] * e[b, l, 2, v] + lam_trace
                out[b, l, 3, v] = two_mu[b, v] * e[b, l, 3, v]
                out[b, l, 4, v] = two_mu[b, v] * e[b, l, 4, v]
                out[b, l, 5, v] = two_mu[b, v] * e[b, l, 5, v]


@_jit
def _isotropic_law_2d(e, lam, two_mu, out):
    """``out`` (B, L, 3, V) <- 2 mu eps + lambda tr(eps) 1 of Mandel plane strains ``e``; ``lam``, ``two_mu``
    (B, V)."""
    for b in range(e.shape[0]):
        for l in range(e.shape[1]):
            for v in range(e.shape[3]):
                lam_trace = lam[b, v] * (e[b, l, 0, v] + e[b, l, 1, v])
                out[b, l, 0, v] = two_mu[b, v] * e[b, l, 0, v] + lam_trace
                out[b, l, 1, v] = two_mu[b, v] * e[b, l, 1, v] + lam_trace
                out[b, l, 2, v] = two_mu[b, v] * e[b, l, 2, v]


@_jit
def _advance(x, r, p, Ap, alpha, rr):
    """Conjugate gradients' update of systems ``s``: x <- x + alpha p, r <- r - alpha Ap, rr <- r . r."""
    for s in range(x.shape[0]):
        a, total = alpha[s], 0.0
        for k in range(x.shape[1]):
            x[s, k] += a * p[s, k]
            r[s, k] -= a * Ap[s, k]
            total += r[s, k] * r[s, k]
        rr[s] = total


@_jit
def _advance_only(x, r, p, Ap, alpha):
    """:func:`_advance` without r . r (preconditioned CG takes r . z from the preconditioner): no sum, so
    the loop vectorizes."""
    for s in range(x.shape[0]):
        a = alpha[s]
        for k in range(x.shape[1]):
            x[s, k] += a * p[s, k]
            r[s, k] -= a * Ap[s, k]


@_jit
def _green_preconditioner(f, g, w, rz):
    r"""``f`` (S, R, 2m) half spectra, rows of (re, im) pairs along the last axis, <- ``g`` f in place;
    ``rz[s]`` <- :math:`\sum w\,g\,|f|^2` (the old f), ``g`` (R, 2m) on the pairs, ``w`` (2m,) the
    multiplicity of a row's frequencies. The sum goes through a row of partial sums ``acc``, so that the
    row loop vectorizes (one running sum would chain every addition to the last)."""
    acc = np.empty(f.shape[2], np.float64)
    for s in range(f.shape[0]):
        acc[:] = 0.0
        for i in range(f.shape[1]):
            fi, gi = f[s, i], g[i]
            for j in range(f.shape[2]):
                acc[j] += gi[j] * fi[j] * fi[j]
                fi[j] = gi[j] * fi[j]
        total = 0.0
        for j in range(f.shape[2]):
            total += w[j] * acc[j]
        rz[s] = total


@_jit(inline=True)
def _gradient_row_3d(a, b, c, d, k, ex, ey, ez, w):
    r"""One row of voxels along axis 2: ``e`` <- ``k`` times the gradient at the voxel centres, from the rows
    of corners ``a`` (x), ``b`` (x + e1), ``c`` (x + e0), ``d`` (x + e0 + e1). The products of shifts
    :math:`D_a = \frac14\Delta_a\prod_{b\ne a}A_b` are taken in the order of the axes, as the torch
    formulas take them (so the same numbers): along axes 0 and 1 into the rows ``w`` (3, n2), then along
    the row. One output per loop, so that each loop vectorizes (with more arrays per loop the compiler
    gave up checking them for overlap: 1.5x slower, measured); the wrap-around, the last voxel, apart."""
    n, w0, w1, w2 = a.shape[0], w[0], w[1], w[2]
    for m in range(n):
        w0[m] = (d[m] - b[m]) + (c[m] - a[m])          # A_1 Delta_0 u
    for m in range(n):
        w1[m] = (d[m] + b[m]) - (c[m] + a[m])          # Delta_1 A_0 u
    for m in range(n):
        w2[m] = (d[m] + b[m]) + (c[m] + a[m])          # A_1 A_0 u
    for m in range(n - 1):
        ex[m] = k[m] * (0.25 * (w0[m + 1] + w0[m]))
    for m in range(n - 1):
        ey[m] = k[m] * (0.25 * (w1[m + 1] + w1[m]))
    for m in range(n - 1):
        ez[m] = k[m] * (0.25 * (w2[m + 1] - w2[m]))
    m = n - 1
    ex[m] = k[m] * (0.25 * (w0[0] + w0[m]))
    ey[m] = k[m] * (0.25 * (w1[0] + w1[m]))
    ez[m] = k[m] * (0.25 * (w2[0] - w2[m]))


@_jit(inline=True)
def _divergence_row_3d(x, y, z, o, w):
    r"""One row of corners along axis 2: ``o`` <- D^T sigma, the adjoint products
    :math:`D_a^\top = \frac14\Delta_a^\top\prod_{b\ne a}A_b^\top` in the order of the axes (as the torch
    formulas), the components summed x, y, z; ``x``, ``y``, ``z``: the voxel rows y, y - e1, y - e0,
    y - e0 - e1 of each component; ``w`` (3, n2) holds the rows after axes 0 and 1. One output per loop,
    as in :func:`_gradient_row_3d`."""
    xa, xb, xc, xd = x
    ya, yb, yc, yd = y
    za, zb, zc, zd = z
    n, w0, w1, w2 = o.shape[0], w[0], w[1], w[2]
    for m in range(n):
        w0[m] = (xd[m] - xb[m]) + (xc[m] - xa[m])      # A_1^T Delta_0^T sigma_x
    for m in range(n):
        w1[m] = (yd[m] + yb[m]) - (yc[m] + ya[m])      # Delta_1^T A_0^T sigma_y
    for m in range(n):
        w2[m] = (zd[m] + zb[m]) + (zc[m] + za[m])      # A_1^T A_0^T sigma_z
    m = n - 1
    o[0] = 0.25 * (((w0[m] + w0[0]) + (w1[m] + w1[0])) + (w2[m] - w2[0]))
    for m in range(1, n):
        o[m] = 0.25 * (((w0[m - 1] + w0[m]) + (w1[m - 1] + w1[m])) + (w2[m - 1] - w2[m]))


@_jit(inline=True)
def _gradient_row_2d(a, c, k, ex, ey):
    """One row of pixels along axis 1: ``e`` <- ``k`` times the gradient from the corner rows ``a`` (x) and
    ``c`` (x + e0), :math:`D_a = \\frac12\\Delta_a A_b` in the order of the axes (as the torch formulas)."""
    n = a.shape[0]
    for j in range(n - 1):
        ex[j] = k[j] * (0.5 * ((c[j + 1] - a[j + 1]) + (c[j] - a[j])))
        ey[j] = k[j] * (0.5 * ((c[j + 1] + a[j + 1]) - (c[j] + a[j])))
    j = n - 1
    ex[j] = k[j] * (0.5 * ((c[0] - a[0]) + (c[j] - a[j])))
    ey[j] = k[j] * (0.5 * ((c[0] + a[0]) - (c[j] + a[j])))


@_jit(inline=True)
def _divergence_row_2d(xa, xc, ya, yc, o):
    """One row of corners along axis 1: ``o`` <- D^T sigma from the pixel rows y (``xa``, ``ya``) and
    y - e0 (``xc``, ``yc``) of the two components, the adjoint products in the order of the axes."""
    m = o.shape[0] - 1
    o[0] = 0.5 * (((xc[m] - xa[m]) + (xc[0] - xa[0])) + ((yc[m] + ya[m]) - (yc[0] + ya[0])))
    for j in range(1, o.shape[0]):
        m = j - 1
        o[j] = 0.5 * (((xc[m] - xa[m]) + (xc[j] - xa[j])) + ((yc[m] + ya[m]) - (yc[j] + ya[j])))


@_jit
def _stencil_gradient_3d(u, e):
    """``e`` (S, 3, n0, n1, n2) <- the gradient at the voxel centres of ``u`` (S, n0, n1, n2) at the corners,
    periodic."""
    n0, n1, n2 = u.shape[1:]
    ones, w = np.ones(n2, u.dtype), np.empty((3, n2), u.dtype)   # the law of the bare stencil: k = 1
    for s in range(u.shape[0]):
        for i in range(n0):
            ip = i + 1 if i + 1 < n0 else 0
            for j in range(n1):
                jp = j + 1 if j + 1 < n1 else 0
                _gradient_row_3d(u[s, i, j], u[s, i, jp], u[s, ip, j], u[s, ip, jp], ones,
                                 e[s, 0, i, j], e[s, 1, i, j], e[s, 2, i, j], w)


@_jit
def _stencil_gradient_2d(u, e):
    """``e`` (S, 2, n0, n1) <- the gradient at the pixel centres of ``u`` (S, n0, n1) at the corners, periodic."""
    n0, n1 = u.shape[1:]
    ones = np.ones(n1, u.dtype)                      # the law of the bare stencil: k = 1
    for s in range(u.shape[0]):
        for i in range(n0):
            ip = i + 1 if i + 1 < n0 else 0
            _gradient_row_2d(u[s, i], u[s, ip], ones, e[s, 0, i], e[s, 1, i])


@_jit
def _stencil_divergence_3d(sigma, out):
    """``out`` (S, n0, n1, n2) <- D^T sigma at the corners of fields ``sigma`` (S, 3, n0, n1, n2), periodic."""
    n0, n1, n2 = out.shape[1:]
    w = np.empty((3, n2), out.dtype)
    for s in range(out.shape[0]):
        x, y, z = sigma[s, 0], sigma[s, 1], sigma[s, 2]
        for i in range(n0):
            im = i - 1 if i > 0 else n0 - 1
            for j in range(n1):
                jm = j - 1 if j > 0 else n1 - 1
                _divergence_row_3d((x[i, j], x[i, jm], x[im, j], x[im, jm]), (y[i, j], y[i, jm], y[im, j], y[im, jm]),
                                   (z[i, j], z[i, jm], z[im, j], z[im, jm]), out[s, i, j], w)


@_jit
def _stencil_divergence_2d(sigma, out):
    """``out`` (S, n0, n1) <- D^T sigma at the corners of the pixels, periodic."""
    n0 = out.shape[1]
    for s in range(out.shape[0]):
        for i in range(n0):
            im = i - 1 if i > 0 else n0 - 1
            _divergence_row_2d(sigma[s, 0, i], sigma[s, 0, im], sigma[s, 1, i], sigma[s, 1, im], out[s, i])


@_jit
def _flux_divergence_3d(u, k, loads, out, planes, dots):
    """``out`` (S, n0, n1, n2) <- D^T (k D u): the stencil gradient of ``u`` (S, n0, n1, n2), times the
    conductivity ``k`` (B, n0, n1, n2) of system s's batch member s // ``loads``, then the stencil
    divergence, in one sweep over the planes of axis 0. The flux of a voxel plane is needed by two node
    planes only, so it lives in ``planes`` (2, 3, n1, n2) rather than in a field: the gradient and the
    flux never go through memory. The rows of :func:`_stencil_gradient_3d` and
    :func:`_stencil_divergence_3d` with the law between them: the three passes bit for bit. ``dots[s]``
    <- u . out, summed as each row is written (CG's p . Ap without another pass), through a row of
    partial sums ``acc`` so that the loop vectorizes."""
    n0, n1, n2 = u.shape[1:]
    w, acc = np.empty((3, n2), u.dtype), np.empty(n2, np.float64)
    for s in range(u.shape[0]):
        acc[:] = 0.0
        for step in range(n0 + 1):                  # voxel plane n0 - 1 first (node plane 0 needs it)
            here, below = planes[step % 2], planes[1 - step % 2]    # the fluxes of voxel planes i and i - 1
            i = step - 1 if step > 0 else n0 - 1
            ip = i + 1 if i + 1 < n0 else 0
            for j in range(n1):                     # here <- k D u on voxel plane i
                jp = j + 1 if j + 1 < n1 else 0
                _gradient_row_3d(u[s, i, j], u[s, i, jp], u[s, ip, j], u[s, ip, jp], k[s // loads, i, j],
                                 here[0, j], here[1, j], here[2, j], w)
            if step > 0:
                x, y, z = (here[0], below[0]), (here[1], below[1]), (here[2], below[2])
                for j in range(n1):                 # out <- D^T (here, below) on node plane i
                    jm = j - 1 if j > 0 else n1 - 1
                    _divergence_row_3d((x[0][j], x[0][jm], x[1][j], x[1][jm]), (y[0][j], y[0][jm], y[1][j], y[1][jm]),
                                       (z[0][j], z[0][jm], z[1][j], z[1][jm]), out[s, i, j], w)
                    _accumulate_products(u[s, i, j], out[s, i, j], acc)
        dots[s] = acc.sum()


@_jit
def _flux_divergence_2d(u, k, loads, out, planes, dots):
    """``out`` (S, n0, n1) <- D^T (k D u) of pixel-corner potentials ``u`` (S, n0, n1) and the conductivity
    ``k`` (B, n0, n1), in one sweep over the rows; ``planes`` (2, 2, n1) holds the fluxes of two rows;
    ``dots[s]`` <- u . out (as in :func:`_flux_divergence_3d`)."""
    n0 = u.shape[1]
    acc = np.empty(u.shape[2], np.float64)
    for s in range(u.shape[0]):
        acc[:] = 0.0
        for step in range(n0 + 1):                  # pixel row n0 - 1 first (node row 0 needs it)
            here, below = planes[step % 2], planes[1 - step % 2]    # the fluxes of pixel rows i and i - 1
            i = step - 1 if step > 0 else n0 - 1
            ip = i + 1 if i + 1 < n0 else 0
            _gradient_row_2d(u[s, i], u[s, ip], k[s // loads, i], here[0], here[1])
            if step > 0:
                _divergence_row_2d(here[0], below[0], here[1], below[1], out[s, i])
                _accumulate_products(u[s, i], out[s, i], acc)
        dots[s] = acc.sum()


@_jit(inline=True)
def _accumulate_products(a, b, acc):
    """``acc`` += a * b, element by element along a row."""
    for m in range(a.shape[0]):
        acc[m] += a[m] * b[m]


# ----------------------------------------------------------------------------- torch in, torch out
def _systems(pairs, c):
    """A real ``(..., c, M)`` tensor as the numpy array ``(S, c, M)`` the kernels take (a view)."""
    return pairs.reshape(-1, c, pairs.shape[-1]).numpy()


def project(pairs, n, kind):
    """The Green projection of spectra given as (re, im) pairs ``(B, L, c, M)``, in place; ``n`` ``(d, M)``
    over the same pairs; ``kind`` "conduction" or "elasticity"."""
    d, c = n.shape[0], pairs.shape[2]
    if kind == "conduction":
        _gradient_projection(_systems(pairs, c), n.numpy())
    elif d == 3:
        _strain_projection_3d(_systems(pairs, c), n.numpy())
    else:
        _strain_projection_2d(_systems(pairs, c), n.numpy())


def isotropic_law(e, lam, two_mu, out):
    """``out`` <- 2 mu e + lambda tr(e) 1 for Mandel strains ``e`` (B, L, c, *s); ``lam``, ``two_mu``
    (B, 1, 1, *s)."""
    B, L, c = e.shape[:3]
    law = _isotropic_law_2d if c == 3 else _isotropic_law_3d
    law(e.reshape(B, L, c, -1).numpy(), lam.reshape(B, -1).numpy(), two_mu.reshape(B, -1).numpy(),
        out.reshape(B, L, c, -1).numpy())
    return out


def _flat(t):
    """A tensor ``(B, L, ...)`` as the numpy array ``(B * L, -1)`` of its systems (a view)."""
    return t.reshape(t.shape[0] * t.shape[1], -1).numpy()


def advance(x, r, p, Ap, alpha, residual=True):
    """x <- x + alpha p, r <- r - alpha Ap for vectors ``(B, L, ...)`` and steps ``alpha`` (B, L); returns
    the new r . r (B, L), or None without ``residual``."""
    if not residual:
        _advance_only(_flat(x), _flat(r), _flat(p), _flat(Ap), alpha.reshape(-1).numpy())
        return None
    rr = torch.empty(alpha.shape, dtype=alpha.dtype)
    _advance(_flat(x), _flat(r), _flat(p), _flat(Ap), alpha.reshape(-1).numpy(), rr.reshape(-1).numpy())
    return rr


def green_preconditioner(f, g, w):
    """``f`` <- g f in place for half spectra ``f`` (B, L, *half) complex; ``g`` the real pairs (R, 2m) and
    ``w`` (2m,) of :func:`_green_preconditioner`; returns sum w g |f|^2 (B, L), float64."""
    rz = torch.empty(f.shape[:2], dtype=torch.float64)
    pairs = torch.view_as_real(f).view(f.shape[0] * f.shape[1], -1, g.shape[-1])    # a view: written in place
    _green_preconditioner(pairs.numpy(), g.numpy(), w.numpy(), rz.reshape(-1).numpy())
    return rz


def stencil_gradient(u, out):
    """``out`` (B, L, d, *s) <- the rotated scheme's gradient of corner potentials ``u`` (B, L, *s)."""
    d = u.ndim - 2
    kernel = _stencil_gradient_2d if d == 2 else _stencil_gradient_3d
    kernel(u.reshape(-1, *u.shape[2:]).numpy(), out.reshape(-1, *out.shape[2:]).numpy())
    return out


def stencil_divergence(sigma, out):
    """``out`` (B, L, *s) <- the adjoint of :func:`stencil_gradient` of fields ``sigma`` (B, L, d, *s)."""
    d = sigma.ndim - 3
    kernel = _stencil_divergence_2d if d == 2 else _stencil_divergence_3d
    kernel(sigma.reshape(-1, *sigma.shape[2:]).numpy(), out.reshape(-1, *out.shape[2:]).numpy())
    return out


def flux_divergence(u, k, out, dots=None):
    """``out`` (B, L, *s) <- D^T (k D u) of corner potentials ``u`` (B, L, *s), a scalar conductivity ``k``
    (B, *s): :func:`stencil_gradient`, the law and :func:`stencil_divergence` in one sweep. With ``dots``
    (B, L) float64, also u . out per system."""
    d, loads = u.ndim - 2, u.shape[1]
    kernel = _flux_divergence_2d if d == 2 else _flux_divergence_3d
    planes = torch.empty((2, d, *u.shape[3:]), dtype=u.dtype)
    if dots is None:
        dots = torch.empty(u.shape[:2], dtype=torch.float64)
    kernel(u.reshape(-1, *u.shape[2:]).numpy(), k.numpy(), loads, out.reshape(-1, *out.shape[2:]).numpy(),
           planes.numpy(), dots.reshape(-1).numpy())
    return out
