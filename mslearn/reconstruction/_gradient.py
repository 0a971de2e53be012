"""Descriptor-based reconstruction by gradient descent on a relaxed phase field (private)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field as dc_field

import numpy as np
import torch
import torch.nn.functional as F

from .. import _backend
from ..descriptors import FeatureNetwork, soft_lineal_path, two_point_correlation
from ..descriptors.correlations import _correlate
from . import _targets as T
from ._polish import polish

# Each term is a squared relative error. Gram matrices of the fixed features are dominated by their
# mean correlations, so their relative errors are small numbers: weight 100 lets the texture term
# shape the result (copolymer stripes in chapter 2.1b) instead of vanishing next to S2.
DEFAULT_WEIGHTS = {"s2": 1.0, "cross": 1.0, "lineal_path": 0.5, "gram": 100.0, "volume_fraction": 10.0,
                   "variation": 0.0, "binary": 0.0}


@dataclass
class Reconstruction:
    """Result of :func:`reconstruct`.

    Attributes
    ----------
    structure : ndarray of int64
        Phase labels of the reconstruction (periodic), shape ``shape``.
    history : dict of lists
        One entry per objective evaluation (gradient) or per sweep (annealing): ``"level"``,
        ``"loss"``, ``"s2_error"`` (of the relaxed field / current image, largest over views) and
        ``"seconds"`` since the start.
    relaxed : ndarray or None
        Final relaxed phase probabilities ``(P, *shape)`` (gradient method).
    seconds : float
        Wall time.
    target : list of dict
        The descriptors matched (one dict per view).
    method : str
    """

    structure: np.ndarray
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
        dt = torch.float32
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
        if self.direct:
            f1 = latent[0]
            return torch.stack([1 - f1, f1])
        if self.n_phases == 2:
            f1 = torch.sigmoid(latent[0])
            return torch.stack([1 - f1, f1])
        return torch.softmax(latent, 0)

    def __call__(self, latent):
        fields = self.fields(latent)
        w_ = self.weights
        loss = fields.new_zeros(())
        s2_errors = []
        for view, v in zip(T.views(fields, self.t_ndim), self.views):
            nd, wl = self.t_ndim, v["window"]
            n_batch = view.shape[1]
            chosen = view[self.phases]
            maps = two_point_correlation(chosen.flatten(0, 1), batch=True)
            maps = T.centred_window(maps, nd, wl)
            maps = maps.reshape(len(self.phases), n_batch, *maps.shape[-nd:]).mean(1)
            diff = (maps - v["s2"]).flatten(1).norm(dim=1) / v["s2_norm"]
            s2_errors.append(diff.detach().mean())
            loss = loss + w_["s2"] * diff.square().mean() / len(self.views)
            vf = view.flatten(1).mean(1)
            loss = loss + w_["volume_fraction"] * ((vf - v["vf"]) / v["vf"]).square().sum() / len(self.views)
            if "cross" in v and w_["cross"] > 0:
                a = view[[p[0] for p in v["pairs"]]].flatten(0, 1)
                b = view[[p[1] for p in v["pairs"]]].flatten(0, 1)
                cr = _correlate(a, b, nd, True)
                cr = T.centred_window(cr, nd, wl)
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
                feats = self.gram_net(x, up_to=max(T.GRAM_LAYERS))
                terms = []
                for layer, gt in zip(T.GRAM_LAYERS, v["gram"]):
                    flat = feats[layer].flatten(2)
                    g = (flat @ flat.transpose(1, 2) / flat.shape[2]).mean(0)
                    terms.append(((g - gt).norm() / gt.norm()).square())
                loss = loss + w_["gram"] * torch.stack(terms).mean() / len(self.views)
            if w_["binary"] > 0:
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
    if levels is None:
        levels = 1
        while levels < 3 and min(shape) // 2**levels >= 8:
            levels += 1
    if not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ValueError(f"levels={levels!r}; expected a positive integer or None")
    for k in range(levels - 1, 0, -1):
        if any(n % 2**k for n in shape) or min(shape) // 2**k < 4:
            levels = k
    return int(levels)


def _iterations(iterations, n_levels, shape):
    if iterations is None:  # 60 per level in 2D, more at the finest level of a larger image; 100 in 3D
        if len(shape) == 3:
            return [100] * n_levels
        return [60] * (n_levels - 1) + [min(60 * max(min(shape), 64) // 64, 240)]
    if isinstance(iterations, (int, np.integer)):
        if iterations < 1:
            raise ValueError(f"iterations={iterations}; expected a positive integer")
        return [int(iterations)] * n_levels
    its = [int(i) for i in iterations]
    if len(its) != n_levels or min(its) < 1:
        raise ValueError(f"iterations={iterations!r}; expected an int or {n_levels} positive ints "
                         "(coarse to fine)")
    return its


def gradient_reconstruct(targets, shape, names, weights, *, seed, device, levels, iterations, optimizer,
                         progress, cleanup, tolerance, start,
                         polish_trials=None):
    n_phases = int(targets[0]["n_phases"])
    n_levels = _levels(shape, levels)
    its = _iterations(iterations, n_levels, shape)
    gen = _backend.torch_generator(seed)
    direct = optimizer == "lbfgsb" and n_phases == 2
    channels = 1 if n_phases == 2 else n_phases
    coarse = tuple(n // 2 ** (n_levels - 1) for n in shape)
    latent = torch.randn((channels,) + coarse, generator=gen, dtype=torch.float32)
    if direct:  # the relaxed indicator itself, in [0, 1] (bounds handled by L-BFGS-B)
        phi = float(np.mean([np.asarray(t["volume_fraction"])[1] for t in targets]))
        latent = (phi + 0.15 * latent).clamp(0, 1)
    latent = latent.to(device)
    history = {"level": [], "loss": [], "s2_error": [], "seconds": []}
    gram_net = None
    if "gram" in names:
        gram_net = FeatureNetwork(2 if int(targets[0]["ndim"]) == 2 else 3).to(device=device, dtype=torch.float32)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(its), desc="reconstruct", unit="eval")
    objective = None
    for level in range(n_levels):
        factor = 2 ** (n_levels - 1 - level)
        level_shape = tuple(n // factor for n in shape)
        if latent.shape[1:] != level_shape:
            mode = "bilinear" if len(shape) == 2 else "trilinear"
            latent = F.interpolate(latent.detach().unsqueeze(0), size=level_shape, mode=mode,
                                   align_corners=False)[0]
        latent = latent.detach().clone().requires_grad_(True)
        objective = _Objective(targets, level_shape, factor, names, weights, device, gram_net)
        objective.direct = direct

        def evaluate(z):
            loss, err = objective(z)
            loss.backward()
            history["level"].append(level)
            history["loss"].append(float(loss.detach()))
            history["s2_error"].append(err)
            history["seconds"].append(time.perf_counter() - start)
            if bar is not None:
                bar.update(1)
            return loss

        if optimizer in ("lbfgs", "lbfgsb"):
            latent = _lbfgsb(evaluate, latent, its[level], bounded=direct)
        else:
            opt = torch.optim.Adam([latent], lr=0.1)
            for _ in range(its[level]):
                opt.zero_grad()
                evaluate(latent)
                opt.step()
                if tolerance is not None and level == n_levels - 1 and history["s2_error"][-1] <= tolerance:
                    break
    if bar is not None:
        bar.close()
    with torch.no_grad():
        probs = objective.fields(latent).cpu().numpy().astype(np.float64)
    fractions = np.mean([np.asarray(t["volume_fraction"], dtype=float) for t in targets], 0)
    labels = T.project(probs, fractions)
    if polish_trials != 0:
        labels = polish(labels, targets, probs, trials=polish_trials, seed=seed)
    if cleanup:
        labels = T.remove_isolated(labels, fractions, scores=probs)
    return labels, history, probs.astype(np.float32)


def _lbfgsb(evaluate, field, max_eval, bounded=True):
    """Minimize with scipy's L-BFGS-B: over a field in [0, 1] (``bounded``) or over a free latent.

    scipy rather than ``torch.optim.LBFGS``: its Fortran update and line search are faster here, and
    ``torch.optim`` imports ``torch._dynamo`` on first use (seconds, once per process).
    """
    from scipy.optimize import minimize

    shape, device = field.shape, field.device

    def fun(x):
        z = torch.from_numpy(x.astype(np.float32)).reshape(shape).to(device).requires_grad_(True)
        loss = evaluate(z)
        return float(loss.detach()), z.grad.detach().cpu().numpy().ravel().astype(np.float64)

    x0 = field.detach().cpu().numpy().ravel().astype(np.float64)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the L-BFGS-B update is tiny BLAS work; threads only contend
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * x0.size if bounded else None,
                       options={"maxfun": max_eval, "maxiter": max_eval, "maxcor": 20, "ftol": 0.0, "gtol": 0.0})
    return torch.from_numpy(res.x.astype(np.float32)).reshape(shape).to(device)
