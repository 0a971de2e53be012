"""Discrete polish of a projected two-phase structure: greedy pixel swaps with exact incremental S2 (private).

Projecting the relaxed field to labels moves the grey interface pixels to 0 or 1, which raises the
S2 error. The polish swaps an interface pixel of phase 1 with one of phase 0 (the volume fraction is
unchanged) when the error of the slice-averaged S2 over the whole window decreases. Flipping the pixel
``x`` changes the pair-count map of every view containing it by
:math:`\\pm[I(x + r) + I(x - r)]` over the in-plane window (``O(w^2)`` work, no FFT) — the
Yeong–Torquato update (1998) applied to the full 2D window at zero temperature.
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from . import _targets as T


def polish(labels, targets, probabilities=None, *, trials=None, seed=0):
    labels = np.asarray(labels).astype(np.int8).copy()
    shape, ndim = labels.shape, labels.ndim
    t_ndim = int(targets[0]["ndim"])
    if t_ndim != 2 or int(targets[0]["n_phases"]) != 2:
        return labels.astype(np.int64)
    flat = labels.ravel()
    n_total = flat.size
    strides = np.array([int(np.prod(shape[d + 1:])) for d in range(ndim)])
    planes = [tuple(range(ndim))] if ndim == 2 else [tuple(a for a in range(3) if a != k) for k in range(3)]
    views = []
    for plane, t in zip(planes, targets if ndim == 3 else targets[:1]):
        w = int(t["window"])
        off = np.arange(-w, w + 1)
        a, b = plane
        tables = [((np.arange(shape[ax])[:, None] + off) % shape[ax]) * strides[ax] for ax in plane]
        img = np.moveaxis(labels, [a, b], [-2, -1]).astype(np.float64)
        f = np.fft.rfft2(img)
        counts = np.fft.irfft2(f.real**2 + f.imag**2, s=img.shape[-2:]).reshape(-1, *img.shape[-2:]).sum(0)
        counts = np.rint(np.fft.fftshift(counts)[shape[a] // 2 - w: shape[a] // 2 + w + 1,
                                                 shape[b] // 2 - w: shape[b] // 2 + w + 1])
        target = np.asarray(t["s2"])[1] * n_total
        phi = float(np.asarray(t["volume_fraction"])[1])
        scale = 1.0 / (np.linalg.norm(np.asarray(t["s2"])[1] - phi**2) * n_total) ** 2
        views.append({"plane": plane, "tables": tables, "counts": counts, "target": target, "scale": scale})

    def window(v, p):
        coords = (p // strides) % np.array(shape)
        a, b = v["plane"]
        base = p - coords[a] * strides[a] - coords[b] * strides[b]
        return flat[base + v["tables"][0][coords[a]][:, None] + v["tables"][1][coords[b]][None, :]]

    def energy_of(counts_list):
        return sum(v["scale"] * float(np.sum((c - v["target"]) ** 2)) for v, c in zip(views, counts_list))

    e = energy_of([v["counts"] for v in views])
    gen = _backend.rng(seed)
    trials = (min(n_total, 8000) if ndim == 2 else 20000) if trials is None else int(trials)
    # candidates: interface pixels (at least one face neighbour of the other phase)
    iface = T.isolated_mask(labels) | _interface(labels)
    cand = np.flatnonzero(iface.ravel())
    ones = cand[flat[cand] == 1]
    zeros = cand[flat[cand] == 0]
    if ones.size == 0 or zeros.size == 0:
        return labels.astype(np.int64)
    if probabilities is not None:
        prob = np.asarray(probabilities)[1].ravel()
        wp = (1.0 - prob[ones]) + 1e-3
        wq = prob[zeros] + 1e-3
        ip = gen.choice(ones.size, size=trials, p=wp / wp.sum())
        iq = gen.choice(zeros.size, size=trials, p=wq / wq.sum())
    else:
        ip = gen.integers(ones.size, size=trials)
        iq = gen.integers(zeros.size, size=trials)
    accepted = 0
    for k in range(trials):
        p, q = ones[ip[k]], zeros[iq[k]]
        if flat[p] != 1 or flat[q] != 0:
            continue
        new = []
        flat[p] = 0
        for v in views:
            wp_ = window(v, p)
            d = -(wp_ + wp_[::-1, ::-1]).astype(np.float64)
            d[d.shape[0] // 2, d.shape[1] // 2] = -1.0
            new.append(v["counts"] + d)
        flat[q] = 1
        for i, v in enumerate(views):
            wq_ = window(v, q)
            d = (wq_ + wq_[::-1, ::-1]).astype(np.float64)
            d[d.shape[0] // 2, d.shape[1] // 2] = 1.0
            new[i] = new[i] + d
        e_new = energy_of(new)
        if e_new < e:
            e = e_new
            for v, c in zip(views, new):
                v["counts"] = c
            accepted += 1
        else:
            flat[q], flat[p] = 0, 1
    return flat.reshape(shape).astype(np.int64)


def _interface(labels):
    out = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        for step in (1, -1):
            out |= np.roll(labels, step, axis=axis) != labels
    return out
