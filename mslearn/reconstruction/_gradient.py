"""Descriptor-based reconstruction by gradient descent on a relaxed phase field (private)."""
from __future__ import annotations

import copy

import math
import time
from dataclasses import dataclass, field as dc_field

import numpy as np
import torch
import torch.nn.functional as F

from .. import _backend
from .._validation import check_integer
from ..descriptors import FeatureNetwork, soft_lineal_path, two_point_correlation
from ..descriptors.correlations import central_window, correlation_maps
from . import _targets as T
from ._phase_retrieval import phase_retrieval
from ._polish import SwapSearch, VolumeSwapSearch

# Each term is a squared relative error. Gram matrices of the fixed features are dominated by their
# mean correlations, so their relative errors are small numbers: weight 100 lets the texture term
# shape the result (copolymer stripes in chapter 2.1b) instead of vanishing next to S2.
# ``binary`` None: the binarity weight follows BINARY_SCHEDULE at the finest level; a number fixes it.
#: The weight of each descriptor in the objective of :func:`reconstruct` (see the comments above).
DEFAULT_WEIGHTS = {"s2": 1.0, "cross": 1.0, "lineal_path": 0.5, "gram": 100.0, "volume_fraction": 10.0,
                   "variation": 0.0, "binary": None}


@dataclass
class Reconstruction:
    """Result of :func:`reconstruct`.

    Attributes
    ----------
    labels : ndarray of int64
        Phase labels of the reconstruction (periodic), shape ``shape``.
    history : dict of lists
        One entry per objective evaluation (gradient) or per sweep (annealing): ``"level"``,
        ``"loss"``, ``"s2_error"`` (of the relaxed field / current image, largest over views and phases) and
        ``"seconds"`` since the start. Gradient method, one entry per checkpoint:
        ``"checkpoint_evaluation"`` and ``"structure_error"`` (the best structure so far; never rises).
    relaxed : ndarray or None
        Final relaxed phase probabilities ``(P, *shape)`` (gradient method).
    seconds : float
        Wall time.
    target : list of dict
        The target descriptors as given, one dict per view (for 3D from one image, the image's, or with
        ``isotropic=True`` their symmetrized form, three times): what ``structure_error`` measures against.
    method : str
        ``"gradient"`` or ``"annealing"``.
    info : dict
        Empty as :func:`reconstruct` returns it: room for a caller's own notes (settings, timings)
        that travel with the result.
    """

    labels: np.ndarray
    history: dict
    relaxed: np.ndarray | None
    seconds: float
    target: list
    method: str
    info: dict = dc_field(default_factory=dict)


class _Objective:
    """Loss of a relaxed phase field ``(P, *shape)`` against per-view targets at one multigrid level."""

    def __init__(self, targets, shape, factor, names, weights, device, gram_net=None):
        self.names, self.weights, self.device = names, weights, device
        self.n_phases = int(targets[0]["n_phases"])
        self.t_ndim = int(targets[0]["ndim"])
        self.shape = shape
        self.phases = T._phases_compared(self.n_phases)
        self.views = []
        dt = torch.float64   # the L-BFGS line search compares losses that differ beyond float32's 7 digits
        for t in targets:
            w = int(t["window"])
            wl = max(1, w // factor)
            centre = torch.arange(-wl, wl + 1) * factor + w
            sub = np.asarray(t["s2"])
            for d in range(self.t_ndim):
                sub = np.take(sub, centre.numpy(), axis=1 + d)
            vf = np.asarray(t["volume_fraction"], dtype=np.float64)
            v = {"window": wl, "vf": torch.as_tensor(vf, dtype=dt, device=device)}
            s2 = torch.as_tensor(sub[self.phases], dtype=dt, device=device)
            v["s2"] = s2
            v["s2_norm"] = torch.stack([torch.linalg.norm(s2[i] - vf[p] ** 2)
                                        for i, p in enumerate(self.phases)]).clamp(min=1e-12)
            if self.n_phases > 2 and t.get("pairs"):
                cr = np.asarray(t["cross"])
                for d in range(self.t_ndim):
                    cr = np.take(cr, centre.numpy(), axis=1 + d)
                v["pairs"] = list(t["pairs"])
                v["cross"] = torch.as_tensor(cr, dtype=dt, device=device)
                v["cross_norm"] = torch.stack([torch.linalg.norm(v["cross"][i] - vf[a] * vf[b])
                                               for i, (a, b) in enumerate(v["pairs"])]).clamp(min=1e-12)
            if "lineal_path" in names and "lineal_path" in t:
                lp = np.asarray(t["lineal_path"])[:, :, ::factor]
                v["lp"] = torch.as_tensor(lp, dtype=dt, device=device)
                v["lp_len"] = lp.shape[-1] - 1
            if "gram" in names and factor == 1 and "gram" in t:
                v["gram"] = [torch.as_tensor(np.asarray(g), dtype=dt, device=device) for g in t["gram"]]
            # target interface density per axis step (two-phase: 2 (phi - S2(e)), summed over phases / 2)
            s2_all = np.asarray(t["s2"])
            c = (w,) * self.t_ndim
            tv = 0.0
            for d in range(self.t_ndim):
                e = list(c)
                e[d] += factor
                tv += float(np.sum(vf - s2_all[(slice(None),) + tuple(e)])) / self.t_ndim
            v["tv"] = max(tv, 1e-6)
            self.views.append(v)
        self.gram_net = gram_net
        self.direct = False

    def fields(self, latent):
        if self.direct and self.n_phases == 2:
            f1 = latent[0]
            return torch.stack([1 - f1, f1])
        if self.direct:  # P >= 3: bounded weights normalized to the simplex (no saturating exponential)
            return latent / latent.sum(0, keepdim=True)
        if self.n_phases == 2:
            f1 = torch.sigmoid(latent[0])
            return torch.stack([1 - f1, f1])
        return torch.softmax(latent, 0)

    def loss_of_fields(self, fields, binary=None):
        w_ = dict(self.weights)
        if binary is not None:
            w_["binary"] = binary
        loss = fields.new_zeros(())
        s2_errors = []
        for view, v in zip(T.views(fields, self.t_ndim), self.views):
            nd, wl = self.t_ndim, v["window"]
            n_batch = view.shape[1]
            chosen = view[self.phases]
            maps = two_point_correlation(chosen.flatten(0, 1), batch=True)
            maps = central_window(maps, wl, nd)
            maps = maps.reshape(len(self.phases), n_batch, *maps.shape[-nd:]).mean(1)
            diff = (maps - v["s2"]).flatten(1).norm(dim=1) / v["s2_norm"]
            s2_errors.append(diff.detach().max())     # the largest over phases, as s2_error
            loss = loss + w_["s2"] * diff.square().mean() / len(self.views)
            vf = view.flatten(1).mean(1)
            loss = loss + w_["volume_fraction"] * ((vf - v["vf"]) / v["vf"]).square().sum() / len(self.views)
            # three phases: the cross-correlations follow from the autos (sum_b S_ab = phi_a, and the
            # relaxed fields sum to 1 as well), so only four or more phases need the term
            if "cross" in v and w_["cross"] > 0 and self.n_phases > 3:
                a = view[[p[0] for p in v["pairs"]]].flatten(0, 1)
                b = view[[p[1] for p in v["pairs"]]].flatten(0, 1)
                cr = correlation_maps(a, b, nd, True)
                cr = central_window(cr, wl, nd)
                cr = cr.reshape(len(v["pairs"]), n_batch, *cr.shape[-nd:]).mean(1)
                d = (cr - v["cross"]).flatten(1).norm(dim=1) / v["cross_norm"]
                loss = loss + w_["cross"] * d.square().mean() / len(self.views)
            if "lp" in v and w_["lineal_path"] > 0:
                terms = []
                for p in range(self.n_phases):
                    lp = soft_lineal_path(view[p], batch=True, max_length=v["lp_len"]).mean(0)
                    terms.append(((lp - v["lp"][p]).norm() / v["lp"][p].norm()).square())
                loss = loss + w_["lineal_path"] * torch.stack(terms).mean() / len(self.views)
            if "gram" in v and w_["gram"] > 0:
                x = view[1].unsqueeze(1)
                feats = self.gram_net(x, up_to=len(v["gram"]) - 1)
                terms = []
                for layer, gt in enumerate(v["gram"]):
                    flat = feats[layer].flatten(2)
                    g = (flat @ flat.transpose(1, 2) / flat.shape[2]).mean(0)
                    terms.append(((g - gt).norm() / gt.norm()).square())
                loss = loss + w_["gram"] * torch.stack(terms).mean() / len(self.views)
            if w_["binary"]:
                pq = (view * (1 - view)).flatten(1).mean(1).sum() / (v["vf"] * (1 - v["vf"])).sum()
                loss = loss + w_["binary"] * pq / len(self.views)
            if w_["variation"] > 0:
                tv = 0.0
                for d in range(nd):
                    dim = view.ndim - nd + d
                    tv = tv + (view - torch.roll(view, 1, dims=dim)).square().add(1e-4).sqrt().mean() \
                        * view.shape[0] / 2 / nd
                loss = loss + w_["variation"] * ((tv - v["tv"]) / v["tv"]).square() / len(self.views)
        return loss, float(max(s2_errors))


def _levels(shape, levels):
    if levels is None:  # 2D: one level (fine features are lost on a coarse grid); 3D: up to 3 for speed
        levels = 1
        while len(shape) == 3 and levels < 3 and min(shape) // 2**levels >= 8:
            levels += 1
    levels = check_integer(levels, 1, name="levels")
    for k in range(levels - 1, 0, -1):
        if any(n % 2**k for n in shape) or min(shape) // 2**k < 4:
            levels = k
    return int(levels)


def _iterations(max_iter, n_levels, shape, n_phases=2, searched=False):
    """Evaluations per level, coarse to fine. Defaults: 2D 350 (400 for 3+ phases, each costs more); 3D 300
    per (cheap) coarse level and 250 at the finest (3+ phases: 100 and 100); 3+ phases ``searched`` (S2
    alone with the discrete search on): :data:`SEARCHED_MULTIPHASE`'s finest-level evaluations."""
    if max_iter is None:
        if len(shape) == 3:
            if n_phases == 2:
                return [300] * (n_levels - 1) + [250]
            return [100] * (n_levels - 1) + [SEARCHED_MULTIPHASE[3][0] if searched else 100]
        if n_phases == 2:
            return [DEFAULT_ITERATIONS_2D] * n_levels
        return [SEARCHED_MULTIPHASE[2][0] if searched else DEFAULT_ITERATIONS_2D_MULTIPHASE] * n_levels
    if isinstance(max_iter, (int, np.integer)):
        if max_iter < 1:
            raise ValueError(f"max_iter={max_iter}; expected a positive integer")
        return [int(max_iter)] * n_levels
    its = [int(i) for i in max_iter]
    if len(its) != n_levels or min(its) < 1:
        raise ValueError(f"max_iter={max_iter!r}; expected an int or {n_levels} positive ints "
                         "(coarse to fine)")
    return its


DEFAULT_ITERATIONS_2D, DEFAULT_ITERATIONS_2D_MULTIPHASE = 350, 400
# Three or more phases with S2 alone (the discrete search on): the search, not the relaxed optimizer,
# sets the result. From its first checkpoints on, its state beats every later projection of the relaxed
# field, so the later evaluations at the finest level were spent for nothing: on the composite
# micrograph the same labels came from 100 evaluations with 160 search steps per checkpoint as from
# 400 with 40 (2D, 64²), and from a finest level of 50 evaluations with 120 rounds per checkpoint as
# from 100 with 60 (3D from 2D, 64³). The budget goes to the search instead: by dimension, (finest-level
# evaluations, search steps or rounds per checkpoint). 2D: the 1120 steps of two phases (350 / 25 x 80)
# in 4 checkpoints. 3D: 360 rounds (about 0.09 s each, against 0.24 s per finest evaluation at 64³).
# Measured by benchmarks/bench_reconstruction.py (one thread), the composite's worst phase against 400
# evaluations with 40 steps: 64² 0.033 in 1.4 s (0.033 in 2.8 s), 128² 0.037 in 4.9 s (0.043 in 8.7 s),
# the 4x-downsampled image 0.113 in 1.4 s (0.115 in 2.6 s); on four other 64² crops 0.033-0.046
# (0.036-0.045; lower on three). The 64³ volume, with the search against the image: 0.0487 on its worst
# axis (the mean over the phases) in 43 s with 180 rounds per checkpoint, 0.0501 in 36 s with 120 (0.076
# in 42 s with a finest level of 100 and 10 rounds, the squared errors and the consistent views).
# Since the searches lower the sum of the phases' errors to the ERROR_POWER (._polish) rather than their
# mean, the worst phase fell on all seven 2D composite cases measured (three 64² crops 0.033-0.046 ->
# 0.032-0.038, three 128² crops 0.036-0.037 -> 0.035-0.036, the downsampled image 0.113 -> 0.105) and on
# the 64³ volume's worst axis from 0.087 to 0.073 (bound 0.066, phase 2's). With that search the 2D
# labels were again the same with 50 evaluations (2 checkpoints) and 560 steps as with 100 and 280 (seven
# composite cases, three three-phase Gaussian random fields), so 2D spends the second half of those
# evaluations' time on the search: 50 and 800, in about the same time, lowered the worst phase on nine of
# the ten (64² crops 0.032-0.038 -> 0.031-0.037, 128² 0.035-0.036 -> 0.033, the random fields 0.046-0.071
# -> 0.045-0.069) and left the downsampled image's at 0.105.
# Once the 2D search's step cost less (torch's FFTs, one inverse transform per direction of the moves,
# the candidates picked in one pass, half of each symmetric window evaluated: about 1.6 -> 0.8 ms a step
# for three phases at 128², one thread), 1600 steps: the composite's worst phase on its three 64² crops
# 0.0297/0.0378/0.0329 -> 0.0288/0.0364/0.0299, its two 128² crops 0.0322/0.0307 -> 0.0291/0.0280 (in
# about 4.4 s), the downsampled image 0.1029 -> 0.1026; 2400 went on lowering them (128² 0.0281/0.0272)
# at half as much time again (measured with the search's earlier ranking, see SwapSearch).
# Two phases keep more evaluations: there later projections still improve on the search (sparse
# particles most: pmma's other 64² crops ended up to 0.02 higher with 100 evaluations). But not past 350
# (DEFAULT_ITERATIONS_2D): with 350 evaluations and 80 steps per checkpoint (the same 1120 steps) the
# labels were the same as with 700 and 40 on 22 of 24 crops of the four two-phase micrographs (three 64²,
# two 128² and the downsampled image each; the search's state beat every later projection), and the
# other two, pmma's 64² crops, went 0.0938 -> 0.0901 and 0.0895 -> 0.0919; the relaxed stage's second
# half, a quarter to a third of a 64² reconstruction's time, is saved.
SEARCHED_MULTIPHASE = {2: (50, 1600), 3: (50, 180)}
# Correction pairs L-BFGS-B keeps, by dimension. Its update costs O(m n): for a 64³ volume (262k variables
# per phase) m = 20 cost more than the objective's gradient, and m = 5 gave the same or lower errors on
# the five packaged micrographs' 64² crops in 20-40 % less time (measured, one thread).
LBFGS_MEMORY = {2: 20, 3: 5}
# The finest level is checkpointed every CHECKPOINT evaluations: the relaxed field is projected to
# labels and handed to the discrete search, and the best structure met is the result. The schedule
# is a function of the evaluation index only, so a run with more evaluations repeats a shorter run
# and then goes on: more iterations never return a worse structure.
CHECKPOINT = 25
# Weight of the binarity term <f (1 - f)> / (phi (1 - phi)) by finest-level evaluation: none for the
# first 200 (match S2 freely), then raised every 50 so the relaxed optimum moves towards a 0/1 field
# whose projection loses little, then held at 1 (restarts every 100). scipy restarts at each stage:
# the objective changed.
BINARY_SCHEDULE = ((200, 0.0), (50, 0.01), (50, 0.03), (50, 0.1), (50, 0.3))
BINARY_FINAL, BINARY_CHUNK = 1.0, 100
BOUND_LOW = 1e-3   # lower bound of the multiphase weights (L-BFGS-B): keeps their sum away from zero


def _stages(total):
    """``(evaluations, binarity weight)`` of each restart at the finest level, ``total`` in all."""
    out, left = [], int(total)
    for n, weight in BINARY_SCHEDULE:
        if left <= 0:
            return out
        out.append((min(n, left), weight))
        left -= n
    while left > 0:
        out.append((min(BINARY_CHUNK, left), BINARY_FINAL))
        left -= BINARY_CHUNK
    return out


def _isolated_free(targets):
    """Whether the target images have no isolated pixels (then neither may the reconstruction)."""
    return all(float(t.get("isolated_fraction", 0.0)) == 0.0 for t in targets)


#: 3D from 2D views: rounds of :class:`VolumeSwapSearch` after each checkpoint (two phases; three or
#: more: :data:`SEARCHED_MULTIPHASE`). With the search's worst-view-first energy (``ERROR_POWER``) 10 left
#: it short of its local minimum: on the alloy's 64³ volume the worst axis ended at 0.104 with 10, 0.094
#: with 30 (3 s more) and 0.094 with 60.
VOLUME_ROUNDS = 30
#: 2D: steps of :class:`SwapSearch` after each checkpoint (two phases; three or more:
#: :data:`SEARCHED_MULTIPHASE`). 120 with the search's 16 candidates a side (see :class:`SwapSearch`).
SWAP_STEPS = 120


def _search_mode(names, n_targets, shape, steps):
    """The discrete side of a reconstruction (:class:`_Best`): ``"swap"`` (2D, S2 alone), ``"volume"`` (3D
    from 2D views, S2 alone), ``"batched"`` (a 3D image's S2 alone) or ``"score"`` (other descriptors, or
    ``steps == 0``: the projections are only scored)."""
    s2_only = tuple(names) == ("s2",) and steps != 0
    if s2_only and len(shape) == 2:
        return "swap"
    if s2_only and n_targets == 3:
        return "volume"
    return "batched" if s2_only else "score"


class _Best:
    """The discrete side of the reconstruction: candidate structures in, the best one kept.

    2D S2 targets run :class:`SwapSearch` from every checkpoint (``steps`` swaps each), 3D volumes
    from 2D views :class:`VolumeSwapSearch` (``steps`` rounds), a 3D image's S2 ``steps`` batched swaps
    (:meth:`_batched_swaps`); otherwise the candidates are only
    scored by the full loss at the finest level.
    """

    def __init__(self, targets, shape, names, objective, steps, cleanup, fractions, views=None):
        self.objective, self.fractions = objective, fractions
        self.views = targets if views is None else views      # as judged: the search's targets
        self.n_phases = int(targets[0]["n_phases"])
        self.cleanup = bool(cleanup) and _isolated_free(targets)
        self.mode = _search_mode(names, len(targets), shape, steps)
        if steps is None:
            if self.n_phases > 2 and self.mode in ("swap", "volume"):
                steps = SEARCHED_MULTIPHASE[len(shape)][1]
            else:
                steps = {"swap": SWAP_STEPS, "volume": VOLUME_ROUNDS}.get(self.mode, 25)
        self.steps = int(steps)
        self.batch = 1000     # swaps per batched step, adapted as the search goes
        self.search, self.labels, self.loss, self.error = None, None, math.inf, math.nan
        self.trace, self.evaluations = [], []

    def _onehot(self, labels):
        onehot = torch.stack([torch.as_tensor(labels == p, dtype=torch.float64) for p in range(self.n_phases)])
        return onehot.to(self.objective.device)

    def _loss_and_gradient(self, labels):
        """Loss of the one-hot labels and its gradient per phase, ``(P, N)``."""
        onehot = self._onehot(labels).requires_grad_(True)
        loss, _ = self.objective.loss_of_fields(onehot, binary=0.0)
        loss.backward()
        return float(loss.detach()), onehot.grad.cpu().numpy().reshape(self.n_phases, -1)

    def _batched_swaps(self, steps):
        """3D: for a pair of phases ``(a, b)`` (in turn), move the ``batch`` voxels of ``a`` whose move
        to ``b`` lowers the loss most to first order (``g_b - g_a`` smallest, the gradient ``g`` from one
        backward pass over the volume) and as many of ``b`` to ``a``; keep the result if the exact
        loss falls (then try 1.5x as many), else try a third as many. Far more voxels move per
        evaluation than in the 2D search, whose exact per-swap updates would cost a volume FFT each."""
        loss, grad = self._loss_and_gradient(self.labels)
        pairs = [(a, b) for a in range(self.n_phases) for b in range(a + 1, self.n_phases)]
        for step in range(steps):
            a, b = pairs[step % len(pairs)]
            flat = self.labels.ravel()
            in_a, in_b = np.flatnonzero(flat == a), np.flatnonzero(flat == b)
            k = min(self.batch, in_a.size - 1, in_b.size - 1)
            if k < 1:
                continue
            moved = flat.copy()
            moved[in_a[np.argpartition((grad[b] - grad[a])[in_a], k)[:k]]] = b
            moved[in_b[np.argpartition((grad[a] - grad[b])[in_b], k)[:k]]] = a
            moved = moved.reshape(self.labels.shape)
            if self.cleanup:
                moved = T.remove_isolated(moved, self.fractions)
            new_loss, new_grad = self._loss_and_gradient(moved)
            if new_loss < loss:
                self.labels, loss, grad = moved, new_loss, new_grad
                self.batch = int(self.batch * 1.5) + 1
            else:
                self.batch = max(1, self.batch // 3)
        self.loss = loss

    def _score(self, labels):
        with torch.no_grad():
            loss, _ = self.objective.loss_of_fields(self._onehot(labels), binary=0.0)
        return float(loss)

    def offer(self, probs, evaluation):
        self.evaluations.append(int(evaluation))
        labels = T.project(probs, self.fractions)
        if self.cleanup:
            labels = T.remove_isolated(labels, self.fractions, scores=probs)
        if self.mode in ("swap", "volume"):
            if self.search is None:
                self.search = (SwapSearch(self.views[0], labels, keep_isolated_free=self.cleanup) if self.mode == "swap"
                               else VolumeSwapSearch(self.views, labels, keep_isolated_free=self.cleanup))
            else:
                self.search.offer(labels)
            self.search.run(self.steps)
            self.labels = self.search.best
            self.error = self.search.best_error
            self.loss = self.error**2
            self.trace.append(self.error)
            return
        loss = self._score(labels)
        if loss < self.loss:
            self.labels, self.loss = labels, loss
        if self.mode == "batched" and self.steps > 0:
            self._batched_swaps(self.steps)
        # S2 error of the best structure, largest over views (as the relaxed field's in the history)
        self.error = float(T.s2_error(self.views if len(self.views) > 1 else self.views[0], self.labels))
        self.trace.append(self.error)


def gradient_reconstruct(targets, shape, names, weights, *, seed, device, levels, max_iter, optimizer,
                         progress, cleanup, tol, start,
                         polish_trials=None, network=None, init="random", views=None):
    n_phases = int(targets[0]["n_phases"])
    n_levels = _levels(shape, levels)
    its = _iterations(max_iter, n_levels, shape, n_phases,
                      searched=_search_mode(names, len(targets), shape, polish_trials) in ("swap", "volume"))
    gen = _backend.torch_generator(seed)
    direct = optimizer == "lbfgsb"
    channels = 1 if n_phases == 2 else n_phases
    coarse = tuple(n // 2 ** (n_levels - 1) for n in shape)
    fractions = np.mean([np.asarray(t["volume_fraction"], dtype=float) for t in targets], 0)
    if init == "phase_retrieval":
        latent = _retrieved_start(targets[0], shape, coarse, fractions, seed, direct)
    else:
        latent = torch.randn((channels,) + coarse, generator=gen, dtype=torch.float64)
        if direct and n_phases == 2:  # the relaxed indicator itself, in [0, 1] (bounds handled by L-BFGS-B)
            latent = (float(fractions[1]) + 0.15 * latent).clamp(0, 1)
        elif direct:  # per-phase weights in [BOUND_LOW, 1], normalized to probabilities
            latent = (torch.as_tensor(fractions).reshape(-1, *([1] * len(shape))) + 0.15 * latent).clamp(BOUND_LOW, 1)
    latent = latent.to(device)
    history = {"level": [], "loss": [], "s2_error": [], "seconds": []}
    gram_net = None
    if "gram" in names:
        gram_net = FeatureNetwork(2 if int(targets[0]["ndim"]) == 2 else 3) if network is None else \
            copy.deepcopy(network).requires_grad_(False)   # gradients flow to the structure only
        gram_net = gram_net.to(device=device, dtype=torch.float64)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(its), desc="reconstruct", unit="eval")
    best = None
    evaluations = [0] * n_levels
    for level in range(n_levels):
        factor = 2 ** (n_levels - 1 - level)
        level_shape = tuple(n // factor for n in shape)
        finest = level == n_levels - 1
        if latent.shape[1:] != level_shape:
            mode = "bilinear" if len(shape) == 2 else "trilinear"
            latent = F.interpolate(latent.detach().unsqueeze(0), size=level_shape, mode=mode,
                                   align_corners=False)[0]
        latent = latent.detach().clone().requires_grad_(True)
        objective = _Objective(targets, level_shape, factor, names, weights, device, gram_net)
        objective.direct = direct
        if finest:
            best = _Best(targets, shape, names, objective, polish_trials, cleanup, fractions, views)
        scheduled = finest and weights["binary"] is None
        stages = _stages(its[level]) if scheduled else [(its[level], weights["binary"] or 0.0)]
        nominal_end = 0
        for n_evals, binary in stages:
            def evaluate(z, binary=binary):
                fields = objective.fields(z)
                loss, err = objective.loss_of_fields(fields, binary=binary)
                loss.backward()
                history["level"].append(level)
                history["loss"].append(float(loss.detach()))
                history["s2_error"].append(err)
                history["seconds"].append(time.perf_counter() - start)
                evaluations[level] += 1
                if finest and evaluations[level] % CHECKPOINT == 0:
                    best.offer(fields.detach().cpu().numpy().astype(np.float64), evaluations[level])
                if bar is not None:
                    bar.update(1)
                return loss

            if optimizer in ("lbfgs", "lbfgsb"):
                latent = _lbfgsb(evaluate, latent, n_evals, bounded=direct, low=0.0 if n_phases == 2 else BOUND_LOW,
                                 memory=LBFGS_MEMORY[len(shape)])
            else:
                opt = torch.optim.Adam([latent], lr=0.1)
                for _ in range(n_evals):
                    opt.zero_grad()
                    evaluate(latent)
                    opt.step()
                    if tol is not None and finest and history["s2_error"][-1] <= tol:
                        break
                latent = latent.detach().clone().requires_grad_(True)
            nominal_end += n_evals
            if finest and evaluations[level] < nominal_end:
                # the optimizer stopped early (converged, or a failed line search): the search goes on
                # from the last field, and the next stage starts where it would have, so a longer run
                # still repeats a shorter one
                with torch.no_grad():
                    fields = objective.fields(latent).cpu().numpy().astype(np.float64)
                for k in range(evaluations[level] // CHECKPOINT + 1, nominal_end // CHECKPOINT + 1):
                    best.offer(fields, k * CHECKPOINT)
                evaluations[level] = nominal_end
    if bar is not None:
        bar.close()
    with torch.no_grad():
        probs = objective.fields(latent).cpu().numpy().astype(np.float64)
    if best.labels is None:      # fewer evaluations than one checkpoint: the final field is the candidate
        best.offer(probs, evaluations[-1])
    history["structure_error"] = best.trace
    history["checkpoint_evaluation"] = best.evaluations
    return best.labels, history, probs.astype(np.float32)


# The phase-retrieval start is the field that lies START_BLEND of the way from the volume fractions
# to the one-hot retrieved labels: the relaxed optimizer can still move every pixel (measured on the
# packaged micrographs, 0.3 to 1 end within about 0.005 of each other).
START_BLEND = 0.6


def _retrieved_start(target, shape, coarse, fractions, seed, direct):
    """The optimizer's starting latent from the labels of :func:`phase_retrieval` (see START_BLEND)."""
    labels, _ = phase_retrieval(target, shape, seed=seed)
    n_phases = len(fractions)
    mean = torch.as_tensor(fractions, dtype=torch.float64).reshape(-1, *([1] * len(shape)))
    onehot = torch.stack([torch.as_tensor(labels == p, dtype=torch.float64) for p in range(n_phases)])
    probs = mean + START_BLEND * (onehot - mean)
    if tuple(coarse) != tuple(shape):
        probs = F.adaptive_avg_pool2d(probs.unsqueeze(0), coarse)[0]
    if n_phases == 2:
        return probs[1:] if direct else torch.logit(probs[1:])
    return probs.clamp(BOUND_LOW, 1) if direct else probs.log()


def _lbfgsb(evaluate, field, max_eval, bounded=True, low=0.0, memory=20):
    """Minimize with scipy's L-BFGS-B: over a field in [0, 1] (``bounded``) or over a free latent, keeping
    ``memory`` correction pairs (:data:`LBFGS_MEMORY`).

    scipy rather than ``torch.optim.LBFGS``: its Fortran update and line search are faster here, and
    ``torch.optim`` imports ``torch._dynamo`` on first use (seconds, once per process).
    """
    from scipy.optimize import Bounds, minimize

    shape, device = field.shape, field.device

    def fun(x):
        z = torch.from_numpy(x).reshape(shape).to(device).requires_grad_(True)
        loss = evaluate(z)
        return float(loss.detach()), z.grad.detach().cpu().numpy().ravel().astype(np.float64)

    x0 = field.detach().cpu().numpy().ravel().astype(np.float64)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the L-BFGS-B update is tiny BLAS work; threads only contend
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=Bounds(np.full(x0.size, low), np.ones(x0.size)) if bounded else None,
                       options={"maxfun": max_eval, "maxiter": max_eval, "maxcor": memory, "ftol": 0.0, "gtol": 0.0})
    return torch.from_numpy(res.x).reshape(shape).to(device)
