"""Discrete search on projected two-phase structures: pair swaps with exact incremental S2 (private).

:class:`SwapSearch` (2D) ranks every pixel by the exact first-order energy change of flipping it (two
FFTs per step), evaluates the best few swaps exactly and walks downhill with a short tabu memory.
:func:`polish` (3D, and the fallback) tries random interface swaps and accepts improvements.

Why hand-written: no library offers swap moves under exact two-point statistics; both searches are
the incremental update of Yeong & Torquato (1998) over the full window, a few lines each.

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


class SwapSearch:
    """Discrete two-phase search on a periodic 2D image: pair swaps ranked by the exact first-order change.

    The energy is ``E = ||C - T||^2`` over the window, ``C(r) = sum_x I(x) I(x + r)`` the pair counts
    and ``T = N S2*`` the target's; ``scale * E`` is the squared relative S2 error of :func:`s2_error`. Flipping pixel ``p`` changes ``C(r)`` by
    ``±[I(p + r) + I(p - r)]`` (``±1`` at ``r = 0``), so the energy change of every single flip follows
    from one correlation of ``I`` with the residual ``D = C - T`` and one box sum (two FFTs):
    ``ΔE_p = ∓2[D(0) + 2 (D ⋆ I)(p)] + 1 + 2 B(p)`` up to the small ``I(p + r) I(p - r)`` term. Each step
    takes the ``m`` best removals and additions by that estimate, evaluates the ``m²`` swaps exactly
    (the Yeong–Torquato incremental update over the window) and makes the best one, even uphill:
    the pixels just changed are tabu for ``tabu`` steps, which walks the search out of shallow local
    minima. The best structure met is kept.
    """

    def __init__(self, target, labels, *, keep_isolated_free=False, m=4, tabu=50):
        labels = np.asarray(labels)
        self.shape = labels.shape
        n0, n1 = self.shape
        self.w = w = int(target["window"])
        n_total = labels.size
        phi = float(np.asarray(target["volume_fraction"])[1])
        s2 = np.asarray(target["s2"], dtype=np.float64)[1]
        self.target = s2 * n_total
        self.scale = 1.0 / (np.linalg.norm(s2 - phi**2) * n_total) ** 2
        self.m, self.tabu_length, self.keep_isolated_free = int(m), int(tabu), bool(keep_isolated_free)
        box = np.zeros(self.shape)
        box[np.ix_(np.arange(-w, w + 1) % n0, np.arange(-w, w + 1) % n1)] = 1.0
        box[0, 0] = 0.0
        self._box_hat = np.conj(np.fft.rfft2(box))
        self._rows = (np.arange(n0)[:, None] + np.arange(-w, w + 1)) % n0
        self._cols = (np.arange(n1)[:, None] + np.arange(-w, w + 1)) % n1
        self._window_rows = np.arange(-w, w + 1) % n0
        self._window_cols = np.arange(-w, w + 1) % n1
        self.step_count = 0
        self._set(labels)
        self.best, self.best_energy = self.image.astype(np.int64), self.energy

    def _set(self, labels):
        self.image = np.asarray(labels, dtype=np.float64).copy()
        f = np.fft.rfft2(self.image)
        counts = np.fft.irfft2(f.real**2 + f.imag**2, s=self.shape)
        counts = np.rint(counts[np.ix_(self._window_rows, self._window_cols)])
        self.residual = counts - self.target
        self.energy = float(np.sum(self.residual**2))
        self.tabu = np.zeros(self.shape, dtype=np.int64)

    def energy_of(self, labels):
        f = np.fft.rfft2(np.asarray(labels, dtype=np.float64))
        counts = np.rint(np.fft.irfft2(f.real**2 + f.imag**2, s=self.shape)[np.ix_(self._window_rows, self._window_cols)])
        return float(np.sum((counts - self.target) ** 2))

    def offer(self, labels):
        """Continue from ``labels`` instead when they are better than the current state."""
        e = self.energy_of(labels)
        if e < self.energy:
            self._set(labels)
            if e < self.best_energy:
                self.best, self.best_energy = np.asarray(labels, dtype=np.int64).copy(), e

    def _pair_counts(self, i, j):
        win = self.image[self._rows[i]][:, self._cols[j]]
        a = win + win[::-1, ::-1]
        a[self.w, self.w] = 1.0
        return a

    def _creates_isolated(self, p, q):
        img = self.image
        n0, n1 = self.shape
        for (i, j) in (p, q):
            for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = (i + di) % n0, (j + dj) % n1
                v = img[a, b]
                if (img[(a + 1) % n0, b] != v and img[(a - 1) % n0, b] != v
                        and img[a, (b + 1) % n1] != v and img[a, (b - 1) % n1] != v):
                    return True
        return False

    def _safe_flips(self):
        """Pixels whose flip leaves no isolated pixel (itself or a face neighbour), the other pixels fixed."""
        img = self.image > 0.5
        rolls = lambda a: [np.roll(a, k, axis) for axis in (0, 1) for k in (1, -1)]
        same = sum(r == img for r in rolls(img))         # face neighbours with the pixel's own label
        fragile = same == 1                              # would be isolated if that one neighbour flipped
        # flipping x isolates x if no neighbour has x's new label, i.e. all 4 share its old label
        ok = same < 4
        for r_img, r_fragile in zip(rolls(img), rolls(fragile)):
            ok &= ~(r_fragile & (r_img == img))           # a same-label neighbour that hangs on x alone
        return ok

    def run(self, steps):
        n1 = self.shape[1]
        m = self.m
        for _ in range(int(steps)):
            self.step_count += 1
            s = self.step_count
            residual = np.zeros(self.shape)
            residual[np.ix_(self._window_rows, self._window_cols)] = self.residual
            residual[0, 0] = 0.0
            image_hat = np.fft.rfft2(self.image)
            g = np.fft.irfft2(np.conj(np.fft.rfft2(residual)) * image_hat, s=self.shape)
            b = np.fft.irfft2(self._box_hat * image_hat, s=self.shape)
            free = self.tabu < s
            if self.keep_isolated_free:
                free = free & self._safe_flips()
            removal = np.where((self.image > 0.5) & free, 2 * b - 4 * g, np.inf).ravel()
            addition = np.where((self.image < 0.5) & free, 2 * b + 4 * g, np.inf).ravel()
            k_rem = min(m, int(np.isfinite(removal).sum()))
            k_add = min(m, int(np.isfinite(addition).sum()))
            if k_rem == 0 or k_add == 0:
                if not (self.tabu >= s).any():
                    break                                    # no admissible swap, tabu or not
                self.tabu[:] = 0
                continue
            ps = np.argpartition(removal, k_rem - 1)[:k_rem]
            qs = np.argpartition(addition, k_add - 1)[:k_add]
            moves = []
            for p in ps:
                pi, pj = divmod(int(p), n1)
                self.image[pi, pj] = 0.0
                after_p = self.residual - self._pair_counts(pi, pj)
                for q in qs:
                    qi, qj = divmod(int(q), n1)
                    self.image[qi, qj] = 1.0
                    new = after_p + self._pair_counts(qi, qj)
                    self.image[qi, qj] = 0.0
                    moves.append((float(np.sum(new**2)), (pi, pj), (qi, qj), new))
                self.image[pi, pj] = 1.0
            moves.sort(key=lambda mv: mv[0])
            for e, p, q, new in moves:
                self.image[p], self.image[q] = 0.0, 1.0
                if self.keep_isolated_free and self._creates_isolated(p, q):
                    self.image[p], self.image[q] = 1.0, 0.0
                    self.tabu[p] = self.tabu[q] = s + self.tabu_length
                    continue
                self.residual, self.energy = new, e
                self.tabu[p] = self.tabu[q] = s + self.tabu_length
                if e < self.best_energy:
                    self.best, self.best_energy = self.image.astype(np.int64), e
                break
        return self.best
