"""Discrete search on projected label images: swaps with exact incremental S2 (private).

Projecting the relaxed field to labels moves the grey pixels to a phase, which raises the S2 error.
:class:`SwapSearch` (2D) then works on the labels themselves: it ranks every pixel by the exact
first-order change of the S2 error of moving it to another phase (two FFTs per phase), evaluates the
best few swaps exactly and walks downhill with a short tabu memory. Swaps keep the phase counts.

Why hand-written: no library offers swap moves under exact two-point statistics; the exact update is
that of Yeong & Torquato (1998), over the full window rather than the axes.
"""
from __future__ import annotations

import numpy as np
import torch

from ..descriptors.correlations import central_window, correlation_maps


class SwapSearch:
    """Discrete search on a periodic 2D label image: swaps ranked by the exact first-order change.

    With ``C_p(r) = sum_x I_p(x) I_p(x + r)`` the pair counts of phase ``p`` over the window and
    ``T_p = N S2_p*`` the target's, ``e_p = sqrt(scale_p ||C_p - T_p||^2)`` is the relative S2 error of
    phase ``p``, and the search minimizes their mean over the phases compared (phase 1 alone for two
    phases): exactly :func:`s2_error`.
    Moving pixel ``x`` out of phase ``p`` changes ``C_p(r)`` by ``-[I_p(x + r) + I_p(x - r)]`` (``-1`` at
    ``r = 0``), into it by ``+[...]``, so the energy change of every single move follows from one
    correlation of ``I_p`` with the residual ``D_p = C_p - T_p`` and one box sum ``B_p`` (FFTs):
    ``ΔE_p(x) = ∓2[D_p(0) + 2 (D_p ⋆ I_p)(x)] + 1 + 2 B_p(x)`` up to the small ``I(x + r) I(x - r)``
    term. Each step takes one pair of phases ``(a, b)`` (in turn), the ``m`` best pixels of ``a`` to
    move to ``b`` and of ``b`` to move to ``a`` by that estimate, evaluates the ``m²`` swaps exactly
    (the Yeong–Torquato incremental update over the window; the phase counts stay fixed) and makes
    the best one, even uphill: the pixels just changed are tabu for ``tabu`` steps, which walks the
    search out of shallow local minima. The best structure met is kept.
    """

    def __init__(self, target, labels, *, keep_isolated_free=False, m=4, tabu=50):
        labels = np.asarray(labels)
        self.shape = labels.shape
        n0, n1 = self.shape
        self.w = w = int(target["window"])
        n_total = labels.size
        self.n_phases = int(target["n_phases"])
        self.compared = [1] if self.n_phases == 2 else list(range(self.n_phases))
        phi = np.asarray(target["volume_fraction"], dtype=np.float64)
        s2 = np.asarray(target["s2"], dtype=np.float64)
        self.target = s2 * n_total
        self.scale = np.zeros(self.n_phases)
        for p in self.compared:
            self.scale[p] = 1.0 / (np.linalg.norm(s2[p] - phi[p] ** 2) * n_total) ** 2
        self.pairs = [(a, b) for a in range(self.n_phases) for b in range(a + 1, self.n_phases)]
        self.m, self.tabu_length, self.keep_isolated_free = int(m), int(tabu), bool(keep_isolated_free)
        box = np.zeros(self.shape)
        box[np.ix_(np.arange(-w, w + 1) % n0, np.arange(-w, w + 1) % n1)] = 1.0
        box[0, 0] = 0.0
        self._box_hat = np.conj(np.fft.rfft2(box))
        self._rows = (np.arange(n0)[:, None] + np.arange(-w, w + 1)) % n0
        self._cols = (np.arange(n1)[:, None] + np.arange(-w, w + 1)) % n1
        self._window = np.ix_(np.arange(-w, w + 1) % n0, np.arange(-w, w + 1) % n1)
        self.step_count = 0
        self._set(labels)
        self.best, self.best_error = self.labels.astype(np.int64), self.error

    def _residuals(self, labels):
        out = np.zeros((self.n_phases, 2 * self.w + 1, 2 * self.w + 1))
        for p in self.compared:
            indicator = torch.from_numpy((labels == p)[None].astype(np.float64))
            maps = central_window(correlation_maps(indicator, indicator, 2, True), self.w, 2)[0]
            counts = np.rint(maps.numpy() * labels.size)
            out[p] = counts - self.target[p]
        return out

    def _error(self, residuals):
        return float(np.mean([np.sqrt(self.scale[p] * np.sum(residuals[p] ** 2)) for p in self.compared]))

    def _set(self, labels):
        self.labels = np.asarray(labels, dtype=np.int64).copy()
        self.indicators = np.stack([(self.labels == p).astype(np.float64) for p in range(self.n_phases)])
        self.residual = self._residuals(self.labels)
        self.error = self._error(self.residual)
        self.tabu = np.zeros(self.shape, dtype=np.int64)

    def offer(self, labels):
        """Continue from ``labels`` instead when they are better than the current state."""
        e = self._error(self._residuals(np.asarray(labels)))
        if e < self.error:
            self._set(labels)
            if e < self.best_error:
                self.best, self.best_error = np.asarray(labels, dtype=np.int64).copy(), e

    def _pair_counts(self, p, i, j):
        win = self.indicators[p][self._rows[i]][:, self._cols[j]]
        a = win + win[::-1, ::-1]
        a[self.w, self.w] = 1.0
        return a

    def _move(self, pixel, new):
        old = self.labels[pixel]
        self.labels[pixel] = new
        self.indicators[old][pixel], self.indicators[new][pixel] = 0.0, 1.0

    def _creates_isolated(self, p, q):
        img = self.labels
        n0, n1 = self.shape
        for (i, j) in (p, q):
            for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = (i + di) % n0, (j + dj) % n1
                v = img[a, b]
                if (img[(a + 1) % n0, b] != v and img[(a - 1) % n0, b] != v
                        and img[a, (b + 1) % n1] != v and img[a, (b - 1) % n1] != v):
                    return True
        return False

    def _safe_moves(self, targets):
        """For each phase in ``targets``: pixels whose move to it leaves no isolated pixel (itself or a
        face neighbour)."""
        img = self.labels
        rolls = lambda a: [np.roll(a, k, axis) for axis in (0, 1) for k in (1, -1)]
        neighbours = rolls(img)
        same = sum((r == img).astype(np.int8) for r in neighbours)    # face neighbours with its own label
        fragile = same == 1                                 # isolated if that one neighbour left its phase
        ok = np.ones(self.shape, dtype=bool)
        for r_img, r_fragile in zip(neighbours, rolls(fragile)):
            ok &= ~(r_fragile & (r_img == img))              # a same-label neighbour that hangs on x alone
        # and a neighbour of the new phase, or x itself ends isolated
        return [ok & (sum((r == new).astype(np.int8) for r in neighbours) >= 1) for new in targets]

    def _scores(self, p):
        """First-order change of ``scale_p E_p`` when each pixel leaves phase ``p``, and when it joins."""
        if self.scale[p] == 0.0:
            return 0.0, 0.0
        residual = np.zeros(self.shape)
        residual[self._window] = self.residual[p]
        residual[0, 0] = 0.0
        image_hat = np.fft.rfft2(self.indicators[p])
        g = np.fft.irfft2(np.conj(np.fft.rfft2(residual)) * image_hat, s=self.shape)
        b = np.fft.irfft2(self._box_hat * image_hat, s=self.shape)
        return self.scale[p] * (2 * b - 4 * g), self.scale[p] * (2 * b + 4 * g)

    def run(self, steps):
        n1 = self.shape[1]
        m = self.m
        for _ in range(int(steps)):
            self.step_count += 1
            s = self.step_count
            a, b = self.pairs[s % len(self.pairs)]
            free = self.tabu < s
            (out_a, in_a), (out_b, in_b) = self._scores(a), self._scores(b)
            ok_ab = free & (self.labels == a)
            ok_ba = free & (self.labels == b)
            if self.keep_isolated_free:
                safe_b, safe_a = self._safe_moves((b, a))
                ok_ab &= safe_b
                ok_ba &= safe_a
            to_b = np.where(ok_ab, out_a + in_b, np.inf).ravel()     # a -> b
            to_a = np.where(ok_ba, out_b + in_a, np.inf).ravel()     # b -> a
            k_ab, k_ba = min(m, int(np.isfinite(to_b).sum())), min(m, int(np.isfinite(to_a).sum()))
            if k_ab == 0 or k_ba == 0:
                if not (self.tabu >= s).any() and len(self.pairs) == 1:
                    break                                    # no admissible swap, tabu or not
                self.tabu[:] = 0
                continue
            xs = np.argpartition(to_b, k_ab - 1)[:k_ab]
            ys = np.argpartition(to_a, k_ba - 1)[:k_ba]
            moves = []
            errors = np.array([np.sqrt(self.scale[p] * np.sum(self.residual[p] ** 2)) for p in range(self.n_phases)])
            others = sum(errors[p] for p in self.compared if p not in (a, b))
            n_compared = len(self.compared)
            use_a, use_b = self.scale[a] > 0, self.scale[b] > 0     # two phases: phase 0 is implied
            for x in xs:
                x = divmod(int(x), n1)
                d_a = self.residual[a] - self._pair_counts(a, *x) if use_a else self.residual[a]
                d_b = self.residual[b] + self._pair_counts(b, *x) if use_b else self.residual[b]
                self._move(x, b)
                for y in ys:
                    y = divmod(int(y), n1)
                    self._move(y, a)
                    new_a = d_a + self._pair_counts(a, *y) if use_a else d_a
                    new_b = d_b - self._pair_counts(b, *y) if use_b else d_b
                    self._move(y, b)
                    e = (others + (np.sqrt(self.scale[a] * np.sum(new_a**2)) if use_a else 0.0)
                         + (np.sqrt(self.scale[b] * np.sum(new_b**2)) if use_b else 0.0)) / n_compared
                    moves.append((float(e), x, y, new_a, new_b))
                self._move(x, a)
            moves.sort(key=lambda mv: mv[0])
            for e, x, y, new_a, new_b in moves:
                self._move(x, b)
                self._move(y, a)
                if self.keep_isolated_free and self._creates_isolated(x, y):
                    self._move(y, b)
                    self._move(x, a)
                    self.tabu[x] = self.tabu[y] = s + self.tabu_length
                    continue
                self.residual[a], self.residual[b], self.error = new_a, new_b, e
                self.tabu[x] = self.tabu[y] = s + self.tabu_length
                if e < self.best_error:
                    self.best, self.best_error = self.labels.copy(), e
                break
        return self.best
