"""Simulated-annealing reconstruction (Yeong & Torquato 1998), the classical baseline (private).

The state is a binary image with the target number of phase-1 pixels; a move swaps a phase-1 and a
phase-0 pixel, so the volume fraction never changes. The energy is

.. math:: E = \\sum_{d}\\sum_{r=1}^{w} \\big(S_2^{(d)}(r) - \\hat S_2^{(d)}(r)\\big)^2

with :math:`S_2^{(d)}(r)` the two-point correlation along lattice axis *d* (periodic). Flipping pixel
``x`` changes the pair counts only on the lattice lines through ``x``:
:math:`\\Delta C_d(r) = \\pm\\,[I(x + r e_d) + I(x - r e_d)]`, ``O(r)`` work per axis. Moves are accepted
with the Metropolis probability :math:`\\min(1, e^{-\\Delta E / T})` and ``T`` is lowered
geometrically every sweep (``N`` trial swaps).
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import _backend
from . import _targets as T


def axis_targets(targets, ndim):
    """Target S2 of phase 1 along each axis of the reconstruction, ``(ndim, w + 1)``."""
    per_axis = [[] for _ in range(ndim)]
    t_ndim = int(targets[0]["ndim"])
    for k, t in enumerate(targets):
        w = int(t["window"])
        s2 = np.asarray(t["s2"])[1]
        centre = (w,) * t_ndim
        along = []
        for d in range(t_ndim):
            index = [slice(w, w + 1)] * t_ndim
            index[d] = slice(w, 2 * w + 1)
            along.append(s2[tuple(index)].ravel())
        axes = list(range(ndim)) if t_ndim == ndim else [a for a in range(ndim) if a != k]
        for d, a in enumerate(axes):
            per_axis[a].append(along[d])
        del centre
    return np.stack([np.mean(p, 0) for p in per_axis])


def anneal(targets, shape, *, seed, sweeps, n_swaps, progress, start, cleanup, record_error=True):
    ndim = len(shape)
    target = axis_targets(targets, ndim)              # (ndim, w + 1)
    w = target.shape[1] - 1
    n = int(np.prod(shape))
    phi = float(np.mean([np.asarray(t["volume_fraction"])[1] for t in targets]))
    n_ones = int(round(phi * n))
    gen = _backend.rng(seed)
    flat = np.zeros(n, dtype=np.int8)
    order = gen.permutation(n)
    flat[order[:n_ones]] = 1
    ones, zeros = order[:n_ones].copy(), order[n_ones:].copy()
    image = flat.reshape(shape)
    counts = np.stack([[np.sum(image * np.roll(image, -r, axis=d)) for r in range(w + 1)]
                       for d in range(ndim)]).astype(np.float64)
    # neighbour offsets: coords of every pixel along every axis, strides
    strides = np.array([int(np.prod(shape[d + 1:])) for d in range(ndim)])
    sizes = np.array(shape)
    r = np.arange(1, w + 1)

    def neighbours(p):
        coords = (p // strides) % sizes                             # (ndim,)
        plus = (coords[:, None] + r) % sizes[:, None]
        minus = (coords[:, None] - r) % sizes[:, None]
        base = p - coords * strides
        return np.stack([base[:, None] + plus * strides[:, None], base[:, None] + minus * strides[:, None]])

    def energy(c):
        return float(np.sum((c[:, 1:] / n - target[:, 1:]) ** 2))

    def delta(p, q):
        flat[p] = 0
        dp = -flat[neighbours(p)].sum(0)
        dq = flat[neighbours(q)].sum(0)
        flat[p] = 1
        out = np.zeros_like(counts)
        out[:, 1:] = dp + dq
        return out

    e = energy(counts)
    # initial temperature: accept an average uphill move with probability 1/2
    trial = [abs(energy(counts + delta(ones[gen.integers(n_ones)], zeros[gen.integers(n - n_ones)])) - e)
             for _ in range(100)]
    temperature = max(np.mean(trial), 1e-12) / math.log(2)
    total = n_swaps if n_swaps is not None else sweeps * n
    n_sweeps = max(1, math.ceil(total / n))
    cooling = (1e-3) ** (1.0 / n_sweeps)
    history = {"level": [], "loss": [], "s2_error": [], "seconds": [], "swaps": [], "accepted": []}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_sweeps, desc="anneal", unit="sweep")
    done = 0
    for sweep in range(n_sweeps):
        m = min(n, total - done)
        ip = gen.integers(n_ones, size=m)
        iq = gen.integers(n - n_ones, size=m)
        u = np.log(gen.random(m))
        accepted = 0
        for k in range(m):
            p, q = ones[ip[k]], zeros[iq[k]]
            d = delta(p, q)
            new = counts + d
            e_new = energy(new)
            if e_new <= e or u[k] < -(e_new - e) / temperature:
                flat[p], flat[q] = 0, 1
                ones[ip[k]], zeros[iq[k]] = q, p
                counts, e = new, e_new
                accepted += 1
        done += m
        temperature *= cooling
        history["level"].append(0)
        history["loss"].append(e)
        history["s2_error"].append(T.s2_error(targets[0] if len(targets) == 1 else targets, image)
                                   if record_error else float("nan"))
        history["seconds"].append(time.perf_counter() - start)
        history["swaps"].append(done)
        history["accepted"].append(accepted)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    labels = image.astype(np.int64)
    if cleanup:
        labels = T.remove_isolated(labels, [1 - n_ones / n, n_ones / n])
    return labels, history
