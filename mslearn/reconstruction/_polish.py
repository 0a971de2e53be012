"""Discrete search on projected label images: swaps with exact incremental S2 (private).

Projecting the relaxed field to labels moves the grey pixels to a phase, which raises the S2 error.
:class:`SwapSearch` (2D) then works on the labels themselves: it ranks every pixel by the
gradient of the S2 error of moving it to another phase (FFTs), evaluates the best few swaps
exactly and walks downhill with a short tabu memory. :class:`VolumeSwapSearch` (3D from 2D views) ranks
the voxels by the first-order change of a single move and makes, in rank order, every swap of the best
1 % that lowers the exact error of the three views (against the image, worst view first): a volume needs
thousands of swaps per ranking. Swaps keep the phase counts.

Why hand-written: no library offers swap moves under exact two-point statistics; the exact update is
that of Yeong & Torquato (1998), over the full window rather than the axes. The exact evaluation of the
swaps and the isolated-pixel rules are loops over the window (pixels, voxels), compiled by numba
(:mod:`mslearn._numba`): as numpy calls they cost about half of a 64² reconstruction's time, and a
volume's thousands of swaps per round would not be affordable at all.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._numba import jit
from ..descriptors.correlations import central_window, correlation_maps
from . import _targets as T


class SwapSearch:
    """Discrete search on a periodic 2D label image: swaps ranked by the gradient of the error.

    With ``C_p(r) = sum_x I_p(x) I_p(x + r)`` the pair counts of phase ``p`` over the window and
    ``T_p = N S2_p*`` the target's, ``e_p = sqrt(scale_p ||C_p - T_p||^2)`` is the relative S2 error of
    phase ``p``. For two phases the search lowers ``e_1``; for more it lowers ``E = sum_p e_p^q`` (``q`` =
    :data:`ERROR_POWER`), a smooth stand-in for the largest, which :func:`s2_error` reports and the best
    structure is kept by.
    Moving pixel ``x`` out of phase ``p`` changes ``C_p(r)`` by ``-P_p(x)(r) = -[I_p(x + r) + I_p(x - r)]``
    (``-1`` at ``r = 0``), into it by ``+P_p(x)(r)``, so ``||C_p - T_p||^2`` changes by ``∓2 D_p · P_p(x) +
    ||P_p(x)||^2`` with ``D_p = C_p - T_p``: a linear term, ``∓4 (D_p ⋆ I_p)(x)`` up to a constant (one
    correlation, FFTs, for every pixel at once), and a quadratic one. A swap of x (a -> b) with y (b -> a)
    changes phase b's by ``2 D_b · (P_b(x) - P_b(y)) + ||P_b(x) - P_b(y)||^2`` (and more where x and y are
    within a window of each other): its quadratic part is that of the *difference* of the two pixels'
    pairs, not separable into one term per pixel, and small between pixels of like neighbourhoods, such as
    two boundary pixels. So the candidates are ranked by the linear term alone, the gradient of the
    energy. Measured on 30 cases (the five micrographs' three 64² crops, two 128² crops and downsampled
    image), against adding the single moves' quadratic parts (``2 B_p(x) + 1``, ``B_p`` the window's box
    sum, as this search did until 2026-12-06) the linear ranking lowered the final error on 24 (alloy 64²
    0.0457 -> 0.0425, the composite's 64² crop 0.0288 -> 0.0282) and raised it on 5 (by up to 0.0035,
    pmma's sparse particles at 128²); adding the quadratic parts exactly (with the ``2 sum_r I(x + r)
    I(x - r)`` term) raised the errors instead (alloy 64² 0.064).
    Each step takes one pair of phases ``(a, b)`` (in turn), the ``m`` best pixels of ``a`` to
    move to ``b`` and of ``b`` to move to ``a`` by that ranking, evaluates the ``m²`` swaps exactly
    (the Yeong–Torquato incremental update over the window, :func:`_swap_energies`; the phase counts
    stay fixed) and makes the best one, even uphill: the pixels just changed are tabu for ``tabu``
    steps, which walks the search out of shallow local minima. The best structure met is kept.

    ``m`` (default 16 for two phases, 8 for more: 256 or 64 swaps a step; measured with the earlier ranking):
    the best swap by the ranking is often not the best one exactly, and started from the alloy's 64² crop
    after 0.02 N random swaps the search walked back to 0.034 with ``m = 16`` where ``m = 4`` stopped at
    0.044. In two-phase reconstructions (24 cases: the four two-phase micrographs' three 64² crops, two
    128² crops and downsampled image) ``m = 16`` with 120 steps per checkpoint lowered the error on 21
    against ``m = 8`` with 80 (alloy 64² 0.0504 -> 0.0457, 128² 0.0377 -> 0.0352), left 2 the same and
    raised 2 (pmma's sparse particles, by up to 0.005), in about the same time once a step cost less
    (:meth:`_move_scores`, :func:`_best_moves`, :func:`_half_norm2`). Three phases keep ``m = 8`` and
    spend the time on steps (:data:`~._gradient.SEARCHED_MULTIPHASE`).
    """

    def __init__(self, target, labels, *, keep_isolated_free=False, m=None, tabu=50):
        labels = np.asarray(labels)
        self.shape = labels.shape
        n0, n1 = self.shape
        self.w = w = int(target["window"])
        n_total = labels.size
        self.n_phases = int(target["n_phases"])
        self.compared = [1] if self.n_phases == 2 else list(range(self.n_phases))
        self.power = ERROR_POWER if len(self.compared) > 1 else 1      # of the energy E = sum_p e_p^power
        phi = np.asarray(target["volume_fraction"], dtype=np.float64)
        s2 = np.asarray(target["s2"], dtype=np.float64)
        # S2(r) = S2(-r): the target is made exactly symmetric (it is to rounding), so the residuals are, and
        # the exact evaluation reads half the window (_swap_energies)
        self.target = 0.5 * (s2 + s2[:, ::-1, ::-1]) * n_total
        self.scale = np.zeros(self.n_phases)
        for p in self.compared:
            self.scale[p] = 1.0 / (np.linalg.norm(s2[p] - phi[p] ** 2) * n_total) ** 2
        self.pairs = [(a, b) for a in range(self.n_phases) for b in range(a + 1, self.n_phases)]
        m = (16 if self.n_phases == 2 else 8) if m is None else m
        self.m, self.tabu_length, self.keep_isolated_free = int(m), int(tabu), bool(keep_isolated_free)
        # the fields of one ranking, transformed together: two indicators and their residuals laid on the
        # periodic grid (the residuals' entries outside the window, and at r = 0, stay zero)
        self._fields = torch.zeros((4,) + self.shape, dtype=torch.float64)
        self._rows = (np.arange(n0)[:, None] + np.arange(-w, w + 1)) % n0
        self._cols = (np.arange(n1)[:, None] + np.arange(-w, w + 1)) % n1
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

    def _phase_errors(self, residuals):
        return np.array([np.sqrt(self.scale[p] * np.sum(residuals[p] ** 2)) for p in range(self.n_phases)])

    def _error(self, residuals):
        return float(self._phase_errors(residuals)[self.compared].max())

    def _set(self, labels, residual=None):
        self.labels = np.asarray(labels, dtype=np.int64).copy()
        self.indicators = np.stack([(self.labels == p).astype(np.float64) for p in range(self.n_phases)])
        self.residual = self._residuals(self.labels) if residual is None else residual
        self.error = self._error(self.residual)
        self.tabu = np.zeros(self.shape, dtype=np.int64)

    def offer(self, labels):
        """Continue from ``labels`` instead when they are better than the current state."""
        residual = self._residuals(np.asarray(labels))
        e = self._error(residual)
        if e < self.error:
            self._set(labels, residual)
            if e < self.best_error:
                self.best, self.best_error = np.asarray(labels, dtype=np.int64).copy(), e

    def _move(self, pixel, new):
        old = self.labels[pixel]
        self.labels[pixel] = new
        self.indicators[old][pixel], self.indicators[new][pixel] = 0.0, 1.0

    def _move_scores(self, a, b, errors):
        """The linear change of the search's energy when each pixel moves from phase ``a`` to ``b`` (a flat
        array, up to a constant; from ``b`` to ``a`` it is the negative): the gradient by which
        :meth:`run` ranks its candidates.

        Leaving phase ``p`` changes ``scale_p ||C_p - T_p||^2`` by ``-4 (D_p ⋆ I_p)``, joining it by
        ``+4 (D_p ⋆ I_p)``; for more phases each is weighted by the derivative of ``E`` by
        ``||C_p - T_p||^2``, ``q e_p^(q - 2) scale_p / 2`` (the common factor ``q / 2`` dropped; ``errors``:
        the phases' ``e_p`` now). As the correlations are linear, a step costs one forward FFT of the two
        indicators and residuals and one inverse FFT (torch's: with MKL two to three times numpy's speed
        at 128²). A phase not compared adds nothing."""
        live = np.array([p for p in (a, b) if self.scale[p] > 0.0], dtype=np.int64)
        weights = np.array([self.scale[p] * (errors[p] ** (self.power - 2) if self.power > 1 else 1.0) for p in live])
        fields = self._fields[:2 * len(live)]
        _lay_fields(self.indicators, self.residual, live, fields.numpy())
        spectra = torch.fft.rfft2(fields).numpy()
        kernel = np.empty(spectra.shape[1:], dtype=spectra.dtype)
        _move_kernel(spectra, np.where(live == a, -4.0, 4.0) * weights, kernel)
        return torch.fft.irfft2(torch.from_numpy(kernel), s=self.shape).numpy().ravel()

    def run(self, steps):
        n1 = self.shape[1]
        m = self.m
        xs, ys = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
        for _ in range(int(steps)):
            self.step_count += 1
            s = self.step_count
            a, b = self.pairs[s % len(self.pairs)]
            errors = self._phase_errors(self.residual)
            to_b = self._move_scores(a, b, errors)
            to_a = -to_b
            k_ab = _best_moves(to_b, self.labels, self.tabu, s, a, b, self.keep_isolated_free, xs)
            k_ba = _best_moves(to_a, self.labels, self.tabu, s, b, a, self.keep_isolated_free, ys)
            if k_ab == 0 or k_ba == 0:
                if not (self.tabu >= s).any() and len(self.pairs) == 1:
                    break                                    # no admissible swap, tabu or not
                self.tabu[:] = 0
                continue
            others = [errors[p] for p in self.compared if p not in (a, b)]
            energies, moved_errors = np.empty(k_ab * k_ba), np.empty(k_ab * k_ba)
            _swap_energies(self.indicators, self.residual, self.scale, a, b, xs[:k_ab], ys[:k_ba], self._rows,
                           self._cols, float(sum(e ** self.power for e in others)), float(max(others, default=0.0)),
                           self.power, energies, moved_errors)
            for k in _ascending(energies):
                x, y = divmod(int(xs[k // k_ba]), n1), divmod(int(ys[k % k_ba]), n1)
                if self.keep_isolated_free:
                    self.labels[x], self.labels[y] = b, a
                    isolated = _creates_isolated(self.labels, x[0], x[1], y[0], y[1])
                    self.labels[x], self.labels[y] = a, b
                    if isolated:
                        self.tabu[x] = self.tabu[y] = s + self.tabu_length
                        continue
                _swap_residuals(self.indicators, self.residual, self.scale, a, b, x[0], x[1], y[0], y[1], self._rows,
                                self._cols)
                self._move(x, b)
                self._move(y, a)
                self.error = float(moved_errors[k])
                self.tabu[x] = self.tabu[y] = s + self.tabu_length
                if self.error < self.best_error:
                    self.best, self.best_error = self.labels.copy(), self.error
                break
        return self.best


def _ascending(values):
    """The indices of ``values`` in ascending order, the lower first on ties (a stable sort's), the first by
    ``argmin`` and the rest sorted only when asked for: a step nearly always makes its best swap."""
    yield int(np.argmin(values))
    yield from np.argsort(values, kind="stable")[1:].tolist()


@jit(inline=True)
def _window_pairs(indicator, i, j, rows, cols, out):
    """``out`` <- the pair counts pixel x = (i, j) makes with the phase of ``indicator`` over the window,
    ``I(x + r) + I(x - r)``, and 1 at ``r = 0`` (the pair (x, x)): what the counts ``C(r)`` gain when x joins
    the phase, and lose when it leaves; over the first ``len(out)`` rows of the window (the whole, or its
    half up to the centre's row, :func:`_half_norm2`). ``rows[i, r0]`` is the periodic row ``i + r0 - w``
    (``cols`` likewise): looked up, not computed with a modulo per pixel of the window, which cost more than
    the rest."""
    w = (rows.shape[1] - 1) // 2
    for r0 in range(out.shape[0]):
        forward, backward = indicator[rows[i, r0]], indicator[rows[i, 2 * w - r0]]
        for r1 in range(2 * w + 1):
            out[r0, r1] = forward[cols[j, r1]] + backward[cols[j, 2 * w - r1]]
    out[w, w] = 1.0


@jit(inline=True)
def _count_pixel(x0, x1, y0, y1, shape, pairs, change):
    """``pairs`` (of pixel y, :func:`_window_pairs`) += ``change`` where ``y + r`` or ``y - r`` is pixel x: the
    pair counts of y once x has joined (+1) or left (-1) the phase. The ``r = ±(x - y)`` (periodic) in the
    window (its first ``len(pairs)`` rows), found without a search over it."""
    w = (pairs.shape[1] - 1) // 2
    for sign in (1, -1):
        first0, first1 = (sign * (x0 - y0) + w) % shape[0], (sign * (x1 - y1) + w) % shape[1]
        for r0 in range(first0, pairs.shape[0], shape[0]):
            for r1 in range(first1, 2 * w + 1, shape[1]):
                pairs[r0, r1] += change


@jit(inline=True)
def _half_norm2(base, sign, pairs):
    """``||base + sign pairs||^2`` over a window of side ``2w + 1`` from its first ``w + 1`` rows (the arrays'
    shape): the window maps here are point-symmetric (``v(r) = v(-r)``: S2 and the pair counts), so the norm is
    twice the sum of squares before the centre, plus the centre's square. In four running sums (every fourth
    entry each, combined in a fixed order, so the same numbers on every machine): one running sum waits on
    each addition before the next, four let the processor overlap them."""
    w = base.shape[0] - 1
    base, pairs = base.ravel(), pairs.ravel()
    centre = w * (2 * w + 1) + w
    s0 = s1 = s2 = s3 = 0.0
    stop = centre - centre % 4
    for k in range(0, stop, 4):
        v0 = base[k] + sign * pairs[k]
        v1 = base[k + 1] + sign * pairs[k + 1]
        v2 = base[k + 2] + sign * pairs[k + 2]
        v3 = base[k + 3] + sign * pairs[k + 3]
        s0 += v0 * v0
        s1 += v1 * v1
        s2 += v2 * v2
        s3 += v3 * v3
    for k in range(stop, centre):
        v = base[k] + sign * pairs[k]
        s0 += v * v
    v = base[centre] + sign * pairs[centre]
    return 2.0 * ((s0 + s1) + (s2 + s3)) + v * v


@jit(inline=True)
def _norm2_after(base, pairs, x0, x1, y0, y1, shape, sign):
    """``||base - sign pairs'||^2``, ``pairs'`` the pairs of pixel y once pixel x has left (``sign`` -1) or joined
    (+1) the phase: the counts after y, the other half of the swap, moves the other way. ``pairs`` is left as
    it was."""
    _count_pixel(x0, x1, y0, y1, shape, pairs, sign)
    total = _half_norm2(base, -sign, pairs)
    _count_pixel(x0, x1, y0, y1, shape, pairs, -sign)
    return total


@jit
def _swap_energies(indicators, residual, scale, a, b, xs, ys, rows, cols, others, others_largest, power, energies,
                   errors):
    """The exact S2 errors after each swap, x in ``xs`` from phase a to b and y in ``ys`` from b to a (x-major):
    into ``energies`` the sum of the compared phases' relative errors to the ``power`` (``others``: that sum over
    the phases not touched), into ``errors`` the largest of them (``others_largest``: over the phases not touched).

    With x moved, phase a's counts are ``C_a - P_a(x)`` (:func:`_window_pairs`), and y then adds its own pairs,
    ``P_a(y)`` less the pair it would have made with x; phase b's likewise with the signs turned. Each pixel's
    pairs are taken once, and a swap costs one pass over half the window per phase (the maps are symmetric):
    the residual of each pixel x and the pairs of each pixel y are kept, not recomputed for every swap."""
    shape = indicators.shape[1:]
    width = rows.shape[1]
    half = (width + 1) // 2                           # the rows up to the centre's (_half_norm2)
    use_a, use_b = scale[a] > 0.0, scale[b] > 0.0
    removed_a, added_b = np.empty((len(xs), half, width)), np.empty((len(xs), half, width))
    pairs_a, pairs_b = np.empty((len(ys), half, width)), np.empty((len(ys), half, width))
    for i in range(len(xs)):
        x0, x1 = xs[i] // shape[1], xs[i] % shape[1]
        if use_a:
            _swap_residual(indicators[a], residual[a], x0, x1, rows, cols, -1.0, removed_a[i], pairs_a[0])
        if use_b:
            _swap_residual(indicators[b], residual[b], x0, x1, rows, cols, 1.0, added_b[i], pairs_b[0])
    for j in range(len(ys)):
        if use_a:
            _window_pairs(indicators[a], ys[j] // shape[1], ys[j] % shape[1], rows, cols, pairs_a[j])
        if use_b:
            _window_pairs(indicators[b], ys[j] // shape[1], ys[j] % shape[1], rows, cols, pairs_b[j])
    k = 0
    for i in range(len(xs)):
        x0, x1 = xs[i] // shape[1], xs[i] % shape[1]
        for j in range(len(ys)):
            y0, y1 = ys[j] // shape[1], ys[j] % shape[1]
            energy, largest = others, others_largest
            if use_a:                                                        # x has left a, y joins it
                e = math.sqrt(scale[a] * _norm2_after(removed_a[i], pairs_a[j], x0, x1, y0, y1, shape, -1.0))
                energy, largest = energy + e ** power, max(largest, e)
            if use_b:                                                        # x has joined b, y leaves it
                e = math.sqrt(scale[b] * _norm2_after(added_b[i], pairs_b[j], x0, x1, y0, y1, shape, 1.0))
                energy, largest = energy + e ** power, max(largest, e)
            energies[k], errors[k] = energy, largest
            k += 1


@jit(inline=True)
def _swap_residual(indicator, residual, i, j, rows, cols, sign, out, pairs):
    """``out`` <- ``residual + sign * pairs of pixel (i, j)`` (it joins the phase: +1, leaves it: -1); ``pairs``
    a work array."""
    _window_pairs(indicator, i, j, rows, cols, pairs)
    for r0 in range(out.shape[0]):
        for r1 in range(out.shape[1]):
            out[r0, r1] = residual[r0, r1] + sign * pairs[r0, r1]


@jit
def _swap_residuals(indicators, residual, scale, a, b, x0, x1, y0, y1, rows, cols):
    """The residuals of phases a and b, in place, for the swap of pixel x = (x0, x1) from a to b and y = (y0, y1)
    from b to a, as :func:`_swap_energies` takes them (the same numbers); called before the pixels move."""
    pairs, removed = np.empty_like(residual[a]), np.empty_like(residual[a])
    for phase, sign in ((a, -1.0), (b, 1.0)):
        if scale[phase] > 0.0:                      # a phase not compared keeps its (unused) residual
            _swap_residual(indicators[phase], residual[phase], x0, x1, rows, cols, sign, removed, pairs)
            _window_pairs(indicators[phase], y0, y1, rows, cols, pairs)
            _count_pixel(x0, x1, y0, y1, indicators.shape[1:], pairs, sign)
            for r0 in range(removed.shape[0]):
                for r1 in range(removed.shape[1]):
                    residual[phase, r0, r1] = removed[r0, r1] - sign * pairs[r0, r1]


@jit
def _creates_isolated(labels, i0, j0, i1, j1):
    """Whether, after a swap of pixels (i0, j0) and (i1, j1), either or a face neighbour of either has no face
    neighbour of its own label (periodic)."""
    n0, n1 = labels.shape
    for i, j in ((i0, j0), (i1, j1)):
        for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
            if _same_neighbours(labels, (i + di) % n0, (j + dj) % n1) == 0:
                return True
    return False


@jit
def _lay_fields(indicators, residual, live, out):
    """``out[:L]`` <- the indicators of the ``L`` phases ``live``, ``out[L:]`` <- their residual windows laid on
    the periodic grid (origin at index 0, set to zero; ``out[L:]`` is zero outside the window)."""
    n0, n1 = out.shape[1:]
    w = (residual.shape[1] - 1) // 2
    count = live.shape[0]
    for i in range(count):
        out[i] = indicators[live[i]]
        for r0 in range(2 * w + 1):
            for r1 in range(2 * w + 1):
                out[count + i, (r0 - w) % n0, (r1 - w) % n1] = residual[live[i], r0, r1]
        out[count + i, 0, 0] = 0.0


@jit
def _move_kernel(spectra, weights, out):
    """The spectrum of :meth:`SwapSearch._move_scores`, ``sum_i weights[i] (D_i ⋆ I_i)``, from the spectra of
    the indicators (``spectra[:L]``) and residuals (``spectra[L:]``) of the ``L`` phases compared."""
    count = weights.shape[0]
    out[:] = 0.0
    for i in range(count):
        image, residual = spectra[i], spectra[count + i]
        for k0 in range(image.shape[0]):
            for k1 in range(image.shape[1]):
                out[k0, k1] += weights[i] * image[k0, k1] * residual[k0, k1].conjugate()


@jit(inline=True)
def _same_neighbours(labels, i, j):
    """How many face neighbours of pixel (i, j) share its label (periodic)."""
    n0, n1 = labels.shape
    v = labels[i, j]
    return ((labels[(i + 1) % n0, j] == v) + (labels[(i - 1) % n0, j] == v) + (labels[i, (j + 1) % n1] == v)
            + (labels[i, (j - 1) % n1] == v))


@jit(inline=True)
def _safe_move(labels, i, j, new):
    """Whether moving pixel (i, j) to phase ``new`` leaves no isolated pixel: no face neighbour of its label
    hangs on it alone, and it has a face neighbour of the new phase."""
    n0, n1 = labels.shape
    v = labels[i, j]
    joins = False
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        p, q = (i + di) % n0, (j + dj) % n1
        if labels[p, q] == new:
            joins = True
        elif labels[p, q] == v and _same_neighbours(labels, p, q) == 1:
            return False
    return joins


@jit
def _best_moves(scores, labels, tabu, step, old, new, keep_isolated_free, out):
    """Into ``out``: the pixels (flat indices) of phase ``old`` that are not tabu at ``step`` (and, with
    ``keep_isolated_free``, whose move to ``new`` is :func:`_safe_move`) with the ``len(out)`` lowest
    ``scores``, in ascending order of score, the lower index first on ties. Returns how many it found.
    One pass over the image; the safety rule, a few neighbours' labels, is looked at only for a pixel
    whose score would enter the list."""
    n0, n1 = labels.shape
    m = out.shape[0]
    best = np.empty(m)
    k = 0
    for i in range(n0):
        for j in range(n1):
            value = scores[i * n1 + j]
            if labels[i, j] != old or tabu[i, j] >= step or (k == m and value >= best[m - 1]):
                continue
            if keep_isolated_free and not _safe_move(labels, i, j, new):
                continue
            at = min(k, m - 1)
            while at > 0 and best[at - 1] > value:
                best[at], out[at] = best[at - 1], out[at - 1]
                at -= 1
            best[at], out[at] = value, i * n1 + j
            k = min(k + 1, m)
    return k


#: The power ``q`` of the searches' energies ``E = sum e^q`` over the errors :func:`s2_error` takes the
#: largest of: :class:`VolumeSwapSearch`'s over the three views (and the phases), :class:`SwapSearch`'s over
#: the phases when there are three or more. A smooth stand-in for the largest error (what is judged). On
#: 64³ volumes from 64² crops of the packaged micrographs, from the same start and 240 rounds, the largest
#: view error against the image fell from 0.0523 (``q = 2``, consistent views) to 0.0498 (4), 0.0490
#: (8), 0.0486 (16) for the composite (then the mean over its phases), and with ``q = 8`` from 0.097 to
#: 0.093 (alloy, bound 0.083), 0.139 to 0.129 (ceramics, bound 0.115), 0.186 to 0.176 (copolymer, bound
#: 0.074). In 2D, the composite's three phases (the scores weighted by the chain rule): its largest phase
#: error fell on seven crops against the mean's search, 64² 0.033-0.046 -> 0.032-0.038, 128² 0.036-0.037 ->
#: 0.035-0.036, the 4x-downsampled image 0.113 -> 0.105 (``q = 4`` about the same); in 3D from its 64² crop,
#: the largest over views and phases fell from 0.087 to 0.073 (bound 0.066).
ERROR_POWER = 8


class VolumeSwapSearch:
    """Discrete search on a periodic 3D label volume made from 2D views: exact swaps in rank order.

    A view normal to axis ``k`` sees the S2 averaged over all slices normal to ``k``, so with ``C_pk(r)`` the
    pair counts of phase ``p`` over the in-plane window summed over those slices and ``T_pk = N S2*_pk`` the
    target's, the error of phase ``p`` in view ``k`` is ``e_pk = sqrt(scale_pk ||C_pk - T_pk||^2)``
    (:func:`s2_error` reports the largest), and the search lowers ``E = sum_pk e_pk^q`` (``q`` =
    :data:`ERROR_POWER`). Moving voxel ``x`` out of phase
    ``p`` changes ``C_pk(r)`` by ``-[I_p(x + r) + I_p(x - r)]`` within its slice, so a swap costs two windows
    per view (three views), exactly, as in :class:`SwapSearch`.

    Each round takes one pair of phases ``(a, b)`` (in turn) and ranks every voxel by the first-order
    change of ``E`` of its move (per view one correlation of the slices with the residual and one box sum,
    FFTs): the ``candidates`` best voxels of ``a`` to move to ``b`` and of ``b`` to ``a``. Their swaps, the
    i-th of one list with the i-th of the other, are then evaluated exactly in rank order and each is made
    when it lowers ``E`` (and, with ``keep_isolated_free``, leaves no voxel without a face neighbour of its
    own label). Far more voxels move per FFT than in 2D's one swap per step, as a volume needs. The best
    structure met (the largest error over views and phases, what :func:`s2_error` reports) is kept.

    ``targets`` are the views as they are judged (for one image, the image's own S2 three times, not the
    :func:`~._targets.consistent_views` compromise): the views normal to axes 0 and 2 then carry the
    irreducible conflict of :func:`~._targets.view_conflict_bound`, and the high power of ``E`` spends the
    swaps on the view (and phase) that is worst against its target, where the squares would spread them
    evenly.
    """

    def __init__(self, targets, labels, *, keep_isolated_free=False, candidates=0.01):
        labels = np.asarray(labels)
        self.shape = labels.shape
        self.w = w = int(targets[0]["window"])
        self.n_phases = int(targets[0]["n_phases"])
        self.compared = np.array([1] if self.n_phases == 2 else list(range(self.n_phases)), dtype=np.int64)
        self.slot = -np.ones(self.n_phases, dtype=np.int64)          # phase -> its row among the compared
        self.slot[self.compared] = np.arange(len(self.compared))
        self.planes = [tuple(a for a in range(3) if a != k) for k in range(3)]
        n = labels.size
        self.scale = np.zeros((len(self.compared), 3))
        self.target_counts = np.zeros((len(self.compared), 3, 2 * w + 1, 2 * w + 1))
        for k, t in enumerate(targets):
            s2, phi = np.asarray(t["s2"], dtype=np.float64), np.asarray(t["volume_fraction"], dtype=np.float64)
            for i, p in enumerate(self.compared):
                self.scale[i, k] = 1.0 / (np.linalg.norm(s2[p] - phi[p] ** 2) * n) ** 2
                self.target_counts[i, k] = n * s2[p]
        self.candidates = max(1, int(round(candidates * n)))
        self.keep_isolated_free = bool(keep_isolated_free)
        self.pairs = [(a, b) for a in range(self.n_phases) for b in range(a + 1, self.n_phases)]
        self.round_count = 0
        self._box_hat = [self._kernel(np.ones((2 * w + 1, 2 * w + 1)), k) for k in range(3)]   # the window's
        self._set(labels)
        self.best, self.best_error = self.labels.copy(), self.error

    def _residuals(self, labels):
        """``(compared, 3, 2w+1, 2w+1)``: the pair counts of each view's window minus the target's (centred)."""
        w, k = self.w, len(self.compared)
        out = np.empty_like(self.target_counts)
        for view, batch in enumerate(T._view_batches(labels, self.n_phases, 2)):   # as s2_error reads the views
            field = batch[self.compared].flatten(0, 1)
            maps = central_window(correlation_maps(field, field, 2, True), w, 2)
            counts = maps.reshape(k, batch.shape[1], 2 * w + 1, 2 * w + 1).sum(1).numpy() * batch[0, 0].numel()
            out[:, view] = np.rint(counts) - self.target_counts[:, view]
        return out

    def _set(self, labels, residual=None):
        w = self.w
        self.labels = np.ascontiguousarray(labels, dtype=np.int64).copy()
        self.residual = self._residuals(self.labels) if residual is None else residual
        # per view, the slices normal to it padded periodically by w (and point-reflected within the slice:
        # I(x - r) is then read forward, as I(x + r) is)
        self.padded, self.reflected = [], []
        for k, plane in enumerate(self.planes):
            slices = np.moveaxis(np.stack([self.labels == p for p in self.compared]), k + 1, 1).astype(np.float32)
            reflected = np.roll(slices[:, :, ::-1, ::-1], 1, (2, 3))
            pad = ((0, 0), (0, 0), (w, w), (w, w))
            self.padded.append(np.ascontiguousarray(np.pad(slices, pad, mode="wrap")))
            self.reflected.append(np.ascontiguousarray(np.pad(reflected, pad, mode="wrap")))
        self.error = self._errors()

    def _phase_errors(self, residual):
        """``(compared, 3)``: the relative S2 error of each compared phase in each view."""
        return np.sqrt(self.scale * np.sum(residual ** 2, axis=(2, 3)))

    def _errors(self):
        """The largest error of the tracked residual over views and phases (``phase_errors`` kept with it)."""
        self.phase_errors = self._phase_errors(self.residual)
        return float(self.phase_errors.max())

    def offer(self, labels):
        """Continue from ``labels`` instead when they are better than the current state."""
        labels = np.asarray(labels)
        residual = self._residuals(labels)
        if float(self._phase_errors(residual).max()) < self.error:
            self._set(labels, residual)
            if self.error < self.best_error:
                self.best, self.best_error = self.labels.copy(), self.error

    def _kernel(self, window_map, k):
        """The conjugate 2D spectrum of a centred window map laid on the slices normal to axis ``k`` (centre
        zeroed), shaped to multiply the volume's ``rfftn``: the correlation within each slice."""
        w, plane = self.w, self.planes[k]
        sides = [self.shape[a] for a in plane]
        field = np.zeros(sides)
        field[np.ix_(np.arange(-w, w + 1) % sides[0], np.arange(-w, w + 1) % sides[1])] = window_map
        field[0, 0] = 0.0
        spectrum = np.conj(np.fft.rfft2(field) if k < 2 else np.fft.fft2(field)[:, :, None])
        return np.expand_dims(spectrum, k) if k < 2 else spectrum

    def _scores(self, p):
        """First-order change of ``E`` when each voxel leaves phase ``p``, and when it joins.

        Per view ``k`` the in-plane correlations of the indicator with the residual (``g_k``) and with the
        window (``b_k``) enter as ``sum_k weight_k (2 b_k -+ 4 g_k)``: as each is a 2D kernel constant along
        axis ``k``, the sum over the views is one kernel of the volume's spectrum, and the scores cost one
        forward and one (two-field) inverse volume FFT."""
        i = self.slot[p]
        if i < 0:
            return 0.0, 0.0
        residual_kernel, box_kernel = 0.0, 0.0
        for k, box_hat in enumerate(self._box_hat):
            if self.phase_errors[i, k] == 0.0:
                continue
            # dE / d||C - T||^2 of this phase and view (the chain rule through the square root)
            weight = (ERROR_POWER * self.phase_errors[i, k] ** (ERROR_POWER - 1) * self.scale[i, k]
                      / (2.0 * self.phase_errors[i, k]))
            residual_kernel = residual_kernel + weight * self._kernel(self.residual[i, k], k)
            box_kernel = box_kernel + weight * box_hat
        spectrum = np.fft.rfftn((self.labels == p).astype(np.float64))
        g, b = np.fft.irfftn(np.stack(np.broadcast_arrays(spectrum * residual_kernel, spectrum * box_kernel)),
                             s=self.shape, axes=(1, 2, 3))
        return 2.0 * b - 4.0 * g, 2.0 * b + 4.0 * g

    def run(self, rounds):
        idle = 0                     # rounds in a row that made no swap
        for _ in range(int(rounds)):
            self.round_count += 1
            a, b = self.pairs[self.round_count % len(self.pairs)]
            (out_a, in_a), (out_b, in_b) = self._scores(a), self._scores(b)
            to_b = np.where(self.labels == a, out_a + in_b, np.inf).ravel()     # a -> b
            to_a = np.where(self.labels == b, out_b + in_a, np.inf).ravel()     # b -> a
            k = min(self.candidates, int((self.labels == a).sum()), int((self.labels == b).sum()))
            if k < 1:
                break
            xs = np.argpartition(to_b, k - 1)[:k]
            ys = np.argpartition(to_a, k - 1)[:k]
            xs = xs[np.argsort(to_b[xs], kind="stable")].astype(np.int64)
            ys = ys[np.argsort(to_a[ys], kind="stable")].astype(np.int64)
            made = _volume_swaps(self.labels, tuple(self.padded), tuple(self.reflected), self.residual, self.scale,
                                 self.slot, a, b, xs, ys, self.w, self.keep_isolated_free, ERROR_POWER)
            self.error = self._errors()
            if self.error < self.best_error:
                self.best, self.best_error = self.labels.copy(), self.error
            idle = 0 if made else idle + 1
            if idle == len(self.pairs):
                break                # a local minimum for every pair of phases
        return self.best


@jit
def _volume_swaps(labels, padded, reflected, residual, scale, slot, a, b, xs, ys, w, keep_isolated_free, power):
    """:class:`VolumeSwapSearch`'s exact pass: swap ``xs[i]`` (phase a -> b) with ``ys[i]`` (b -> a) in order
    when ``E = sum_pk e_pk^power`` falls (and no isolated voxel appears, if asked); ``labels``, the padded slices,
    their reflections and ``residual`` follow every swap made. Returns the number made."""
    n0, n1, n2 = labels.shape
    sides = (n0, n1, n2)
    n_compared = residual.shape[0]
    delta = np.zeros((2, 3, 2 * w + 1, 2 * w + 1))
    norms = np.zeros((n_compared, 3))
    for i in range(n_compared):
        for k in range(3):
            norms[i, k] = np.sum(residual[i, k] ** 2)
    new_norms = norms.copy()

    def energy(norms):
        total = 0.0
        for k in range(3):
            for i in range(n_compared):
                total += math.sqrt(scale[i, k] * max(norms[i, k], 0.0)) ** power
        return total

    def in_plane(x, k):
        # the slice index and the in-plane coordinates of voxel x in view k
        if k == 0:
            return x[0], x[1], x[2]
        if k == 1:
            return x[1], x[0], x[2]
        return x[2], x[0], x[1]

    def window_change(i, k, leaves, joins, out):
        # out(r) = [I(j + r) + I(j - r)] - [I(l + r) + I(l - r)] (I before the move, j != l), the change of the
        # pair counts of phase slot i in view k when voxel `leaves` leaves it and `joins` joins it; returns
        # the change of the squared norm of the residual
        sl, li, lj = in_plane(leaves, k)
        sj, ji, jj = in_plane(joins, k)
        pl, pj = padded[k][i, sl], padded[k][i, sj]
        rl, rj = reflected[k][i, sl], reflected[k][i, sj]
        na, nb = pl.shape[0] - 2 * w, pl.shape[1] - 2 * w
        rli, rlj, rji, rjj = (na - li) % na, (nb - lj) % nb, (na - ji) % na, (nb - jj) % nb
        change = 0.0
        for r0 in range(2 * w + 1):
            for r1 in range(2 * w + 1):
                d = (pj[ji + r0, jj + r1] + rj[rji + r0, rjj + r1]
                     - pl[li + r0, lj + r1] - rl[rli + r0, rlj + r1])
                if r0 == w and r1 == w:
                    d = 0.0
                out[r0, r1] = d
        if sl == sj:    # the pair (leaves, joins) itself: joins +- r == leaves was counted with leaves in place
            e0, e1 = (li - ji) % na, (lj - jj) % nb
            for s0, s1 in ((e0, e1), ((na - e0) % na, (nb - e1) % nb)):
                c0 = s0 if s0 <= w else s0 - na
                c1 = s1 if s1 <= w else s1 - nb
                if -w <= c0 <= w and -w <= c1 <= w and not (c0 == 0 and c1 == 0):
                    out[c0 + w, c1 + w] -= 1.0
        for r0 in range(2 * w + 1):
            for r1 in range(2 * w + 1):
                d = out[r0, r1]
                change += (2.0 * residual[i, k, r0, r1] + d) * d
        return change

    def set_voxel(x, p, value):
        i = slot[p]
        if i < 0:
            return
        for k in range(3):
            s, ci, cj = in_plane(x, k)
            na, nb = padded[k].shape[2] - 2 * w, padded[k].shape[3] - 2 * w
            for which in range(2):
                if which == 1:
                    ci, cj = (na - ci) % na, (nb - cj) % nb
                for ii in (ci + w, ci + w + na, ci + w - na):
                    if 0 <= ii < na + 2 * w:
                        for jj in (cj + w, cj + w + nb, cj + w - nb):
                            if 0 <= jj < nb + 2 * w:
                                if which == 0:
                                    padded[k][i, s, ii, jj] = value
                                else:
                                    reflected[k][i, s, ii, jj] = value

    def isolated(x):
        v = labels[x[0], x[1], x[2]]
        for axis in range(3):
            for step in (1, -1):
                y0, y1, y2 = x[0], x[1], x[2]
                if axis == 0:
                    y0 = (y0 + step) % n0
                elif axis == 1:
                    y1 = (y1 + step) % n1
                else:
                    y2 = (y2 + step) % n2
                if labels[y0, y1, y2] == v:
                    return False
        return True

    def creates_isolated(u, v):
        for x in (u, v):
            if isolated(x):
                return True
            for axis in range(3):
                for step in (1, -1):
                    y = [x[0], x[1], x[2]]
                    y[axis] = (y[axis] + step) % sides[axis]
                    if isolated((y[0], y[1], y[2])):
                        return True
        return False

    current = energy(norms)
    made = 0
    for t in range(min(xs.shape[0], ys.shape[0])):
        u = (xs[t] // (n1 * n2), (xs[t] // n2) % n1, xs[t] % n2)
        v = (ys[t] // (n1 * n2), (ys[t] // n2) % n1, ys[t] % n2)
        if labels[u[0], u[1], u[2]] != a or labels[v[0], v[1], v[2]] != b:
            continue
        for i in range(n_compared):
            for k in range(3):
                new_norms[i, k] = norms[i, k]
        ia, ib = slot[a], slot[b]
        for k in range(3):
            if ia >= 0:
                new_norms[ia, k] = norms[ia, k] + window_change(ia, k, u, v, delta[0, k])
            if ib >= 0:
                new_norms[ib, k] = norms[ib, k] + window_change(ib, k, v, u, delta[1, k])
        proposed = energy(new_norms)
        if proposed >= current:
            continue
        labels[u[0], u[1], u[2]], labels[v[0], v[1], v[2]] = b, a
        if keep_isolated_free and creates_isolated(u, v):
            labels[u[0], u[1], u[2]], labels[v[0], v[1], v[2]] = a, b
            continue
        set_voxel(u, a, 0.0)
        set_voxel(u, b, 1.0)
        set_voxel(v, b, 0.0)
        set_voxel(v, a, 1.0)
        for k in range(3):
            if ia >= 0:
                residual[ia, k] += delta[0, k]
            if ib >= 0:
                residual[ib, k] += delta[1, k]
        for i in range(n_compared):
            for k in range(3):
                norms[i, k] = new_norms[i, k]
        current = proposed
        made += 1
    return made
