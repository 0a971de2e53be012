"""Target descriptors, quality measures and the discrete clean-up (private; re-exported by the package)."""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .._numba import jit
from .._validation import check_finite, check_flag, check_integer, check_labels
from ..descriptors import gram_matrices, lineal_path
from ..descriptors.correlations import central_window, correlation_maps

DESCRIPTOR_NAMES = ("s2", "lineal_path", "gram")
GRAM_LAYERS = (0, 1, 2)


# ----------------------------------------------------------------------------- input checks
def as_label_array(x, name="target", spatial=(2, 3)):
    """Validate an integer phase-label image (2 or 3 axes, >= 2 phases) and return it as numpy int64."""
    if not hasattr(x, "shape") or not hasattr(x, "ndim"):
        x = np.asarray(x)
    if x.ndim not in spatial:
        raise ValueError(
            f"{name} has {x.ndim} dimensions (shape {tuple(x.shape)}); expected an image with "
            f"{' or '.join(map(str, spatial))} spatial dimensions (or a dict of precomputed descriptors)")
    values = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if np.issubdtype(values.dtype, np.floating):
        check_finite(values, name=name)
    check_labels(values, name=name, spatial=spatial)
    labels = np.rint(values).astype(np.int64) if values.dtype != bool else values.astype(np.int64)
    if min(labels.shape) < 4:
        raise ValueError(f"{name} has shape {labels.shape}; expected at least 4 pixels along every axis")
    present = np.unique(labels)
    if present.size < 2:
        raise ValueError(f"{name} holds a single phase (label {int(present[0])}); expected at least two phases")
    if present[-1] + 1 != present.size:
        raise ValueError(f"{name} has the labels {present.tolist()}; expected consecutive labels 0, 1, ..., "
                         "every phase present")
    return labels


def default_window(size):
    """Largest displacement matched: ``|r| <= L/4`` for an image of smallest side ``L``."""
    return max(1, int(size) // 4)


# ----------------------------------------------------------------------------- descriptors of a target
def target_descriptors(labels, descriptors=("s2",), *, periodic=True, window=None, lineal_length=None,
                       network=None):
    """Descriptors of a phase-label image in the form :func:`reconstruct` matches.

    Parameters
    ----------
    labels : integer array, 2 or 3 axes, labels 0 .. P-1 (every phase present)
    descriptors : sequence of {"s2", "lineal_path", "gram"}
        ``"s2"`` always includes the volume fractions, and for three or more phases the
        cross-correlations of every pair of phases.
    periodic : bool
        Whether the image is periodic. Real micrographs are not: their S2 is then computed with zero
        padding and normalized by the number of overlapping pixel pairs (unbiased).
    window : int, optional
        Largest displacement ``|r_i|`` kept (default ``L // 4`` with ``L`` the smallest side); at most
        ``(L - 1) // 2`` for a periodic image, ``L - 1`` for a non-periodic one.
    lineal_length : int, optional
        Largest segment length of the lineal path (default ``window``).
    network : torch.nn.Module, optional
        The feature network of ``"gram"`` (default the fixed :class:`mslearn.descriptors.FeatureNetwork`),
        e.g. a trained CNN's :meth:`~mslearn.surrogates.CNNRegressor.feature_network`; its first
        ``min(3, n_layers)`` layers are used. It is kept in the dict (``gram_network``), so that
        :func:`reconstruct` matches the Gram matrices with the same network.

    Returns
    -------
    dict
        ``ndim``, ``shape``, ``periodic``, ``window``, ``n_phases``, ``volume_fraction`` (P,),
        ``isolated_fraction`` (of single pixels whose face neighbours all differ; when it is 0 the
        reconstruction is kept free of them too),
        ``s2`` (P, (2w+1)^ndim centred maps, origin at the centre), ``cross`` (pairs, maps) and
        ``pairs``, ``lineal_path`` (P, ndim, lineal_length + 1) along the axes, ``gram`` (list of
        matrices of :func:`mslearn.descriptors.gram_matrices`, two phases only) and ``gram_network``
        (``network``). The dict can be
        edited (e.g. averaged over several images) and passed to :func:`reconstruct` as ``target``.

    Examples
    --------
    Vertical stripes, half of each phase; S2 maps for displacements up to the window (16 // 4):

    >>> import numpy as np
    >>> labels = np.zeros((16, 16), dtype=int); labels[:, :8] = 1
    >>> target = target_descriptors(labels)
    >>> target["volume_fraction"], target["window"], target["s2"].shape       # (P, 2w + 1, 2w + 1)
    (array([0.5, 0.5]), 4, (2, 9, 9))
    >>> bool(np.isclose(target["s2"][1, 4, 4], 0.5))                           # S2(0) = volume fraction
    True
    """
    periodic = check_flag(periodic, name="periodic")
    labels = as_label_array(labels, name="labels")
    names = check_descriptor_names(descriptors)
    ndim = labels.ndim
    n_phases = int(labels.max()) + 1
    window = default_window(min(labels.shape)) if window is None else check_integer(window, 1, name="window")
    # the centred window takes 2 window + 1 entries per axis of the S2 maps: n of a periodic image, 2 n - 1 else
    n = min(labels.shape)
    largest = (n - 1) // 2 if periodic else n - 1
    if window > largest:
        raise ValueError(f"window={window}; expected 1 <= window <= {largest} for a {'' if periodic else 'non-'}"
                         f"periodic image of smallest side {n} (its S2 maps have {n if periodic else 2 * n - 1} "
                         "entries per axis)")
    out = {"ndim": ndim, "shape": tuple(labels.shape), "periodic": bool(periodic), "window": window,
           "n_phases": n_phases,
           "volume_fraction": np.bincount(labels.ravel(), minlength=n_phases) / labels.size,
           "isolated_fraction": _isolated_count(labels, periodic) / labels.size}
    ind = torch.from_numpy(np.stack([(labels == p) for p in range(n_phases)]).astype(np.float64))
    autos = correlation_maps(ind, ind, ndim, periodic)
    out["s2"] = central_window(autos, window, ndim).numpy()
    pairs = [(a, b) for a in range(n_phases) for b in range(a + 1, n_phases)] if n_phases > 2 else []
    out["pairs"] = pairs
    if pairs:
        a = ind[[p[0] for p in pairs]]
        b = ind[[p[1] for p in pairs]]
        out["cross"] = central_window(correlation_maps(a, b, ndim, periodic), window, ndim).numpy()
    if "lineal_path" in names:
        length = window if lineal_length is None else check_integer(lineal_length, 1, name="lineal_length")
        out["lineal_path"] = np.stack([lineal_path(labels, p, max_length=length, periodic=periodic)
                                       for p in range(n_phases)])
    if "gram" in names:
        if n_phases != 2:
            raise ValueError("descriptors='gram' is implemented for two-phase targets; use 's2' (with "
                             "cross-correlations) for three or more phases")
        field = (labels == 1).astype(np.float64)
        layers = list(gram_layers(network))
        with torch.no_grad():
            out["gram"] = [np.asarray(g, dtype=np.float64)
                           for g in gram_matrices(field, layers=layers, periodic=periodic, network=network)]
        out["gram_network"] = network
    return out


def gram_layers(network=None):
    """The layers whose Gram matrices are matched: the first three (fewer if the network has fewer)."""
    return GRAM_LAYERS if network is None else tuple(range(min(len(GRAM_LAYERS), int(network.n_layers))))


def check_descriptor_names(descriptors):
    if isinstance(descriptors, str):
        descriptors = (descriptors,)
    names = tuple(descriptors)
    for name in names:
        if name not in DESCRIPTOR_NAMES:
            raise ValueError(f"descriptors contains {name!r}; expected names from {DESCRIPTOR_NAMES}")
    if "s2" not in names:
        raise ValueError("descriptors must include 's2' (it carries the volume fractions and the basic "
                         "two-point statistics every reconstruction matches)")
    return names


def check_descriptor_dict(target):
    required = ("ndim", "window", "n_phases", "volume_fraction", "s2")
    missing = [k for k in required if k not in target]
    if missing:
        raise ValueError(f"target dict lacks {missing}; build it with mslearn.reconstruction."
                         "target_descriptors(image) (keys: ndim, shape, periodic, window, n_phases, "
                         "volume_fraction, s2, ...)")
    ndim, window, n_phases = int(target["ndim"]), int(target["window"]), int(target["n_phases"])
    if ndim not in (2, 3):
        raise ValueError(f"target['ndim'] = {ndim}; expected 2 or 3")
    s2 = np.asarray(target["s2"])
    if s2.shape != (n_phases,) + (2 * window + 1,) * ndim:
        raise ValueError(f"target['s2'] has shape {s2.shape}; expected {(n_phases,) + (2 * window + 1,) * ndim} "
                         "(one centred window map per phase)")
    check_finite(s2, name="target['s2']")
    vf = np.asarray(target["volume_fraction"], dtype=float)
    check_finite(vf, name="target['volume_fraction']")
    if vf.shape != (n_phases,) or np.any(vf <= 0) or abs(vf.sum() - 1) > 1e-6:
        raise ValueError(f"target['volume_fraction'] = {vf}; expected {n_phases} positive fractions summing to 1")
    return target


def as_given(target, periodic, window):
    """A descriptor dict, after checking that ``periodic`` and ``window`` do not ask for other settings than
    those it was computed with (it keeps its own; a differing argument would be ignored)."""
    if window is not None and window != int(target["window"]):
        raise ValueError(f"window={window!r}, but the target dict was computed with window={int(target['window'])}; a "
                         f"dict keeps its own window: compute it with target_descriptors(..., window={window!r}), or "
                         "leave window unset")
    if not periodic and bool(target.get("periodic")):     # an edited dict may lack the key: nothing to contradict
        raise ValueError("periodic=False, but the target dict was computed with periodic=True; a dict keeps its own "
                         "setting: compute it with target_descriptors(..., periodic=False)")
    return target


# ----------------------------------------------------------------------------- views (slices)
def views(volume, target_ndim):
    """Batches of images whose descriptors are compared with a ``target_ndim``-D target.

    ``volume`` has shape ``(C, *spatial)``. Same dimension: one view ``(C, 1, *spatial)``. A 3D volume
    and 2D targets: three views, the slices normal to axis ``k`` as a batch ``(C, n_k, ...)``.
    """
    ndim = volume.ndim - 1
    if ndim == target_ndim:
        return [volume.unsqueeze(1)]
    return [volume.movedim(k + 1, 1) for k in range(ndim)]


# ----------------------------------------------------------------------------- quality measures
def _as_targets(target, structure_ndim, periodic, names=("s2",), window=None):
    """A list of descriptor dicts, one per view (1 same-dim, 3 for a volume from 2D images)."""
    if isinstance(target, dict):
        targets = [as_given(check_descriptor_dict(target), periodic, window)]
    elif isinstance(target, (list, tuple)):
        if structure_ndim != 3 or len(target) != 3:
            raise ValueError("a list of targets means three orthogonal 2D views of a 3D structure; got "
                             f"{len(target)} targets for a {structure_ndim}D structure")
        targets = [as_given(check_descriptor_dict(t), periodic, window) if isinstance(t, dict)
                   else target_descriptors(t, names, periodic=periodic, window=window) for t in target]
    else:
        targets = [target_descriptors(target, names, periodic=periodic, window=window)]
    t_ndim = int(targets[0]["ndim"])
    if t_ndim > structure_ndim:
        raise ValueError(f"the target is {t_ndim}D but the structure/shape is {structure_ndim}D; a "
                         "reconstruction has at least as many dimensions as its target")
    if len(targets) == 1 and structure_ndim == 3 and t_ndim == 2:
        targets = targets * 3
    return targets


def _check_phases(labels, n_phases):
    """A structure compared with a target of ``n_phases`` phases has no other labels (a phase the target
    lacks would go unmeasured)."""
    high = int(np.max(labels)) if np.size(labels) else 0
    if high >= n_phases:
        raise ValueError(f"labels hold the phase label {high}, but the target has {n_phases} phases (labels 0.."
                         f"{n_phases - 1}); compare a structure with a target of the same phases")


def _view_batches(labels, n_phases, t_ndim):
    t = torch.from_numpy(np.asarray(labels).astype(np.int64))
    onehot = torch.stack([(t == p).to(torch.float64) for p in range(n_phases)])
    return views(onehot, t_ndim)


def _phases_compared(n_phases):
    return [1] if n_phases == 2 else list(range(n_phases))


def s2_error(target, labels, *, periodic=True, window=None, per_view=False, per_phase=False):
    """Relative S2 error of a reconstruction (Torquato 2002 notation; periodic maps of the structure).

    .. math:: e_{S_2} = \\frac{\\lVert S_2^{\\mathrm{rec}} - S_2^{\\mathrm{target}} \\rVert}
                             {\\lVert S_2^{\\mathrm{target}} - \\phi^2 \\rVert}

    over the central window ``|r_i| <= L/4`` (``L`` the target's smallest side). For two phases S2 of
    phase 1 (phase 0's is the same up to the volume fractions); for more, every phase's auto-correlation
    has its own error, and the largest is reported (``per_phase=True`` returns them, in phase order): a
    mean would hide a phase that is matched badly. A 3D structure compared with a 2D target: the S2
    averaged over the slices normal to each axis, compared per axis (``per_view=True`` returns the
    three views' errors, else the largest). With both, one list per view of the phases' errors.

    The target comes first, as ``y_true`` does in scikit-learn's metrics.

    Parameters
    ----------
    target : integer image, dict of :func:`target_descriptors`, or 3 images (views normal to axes 0, 1, 2)
    labels : integer array, 2 or 3 axes (periodic)
        The reconstruction.
    periodic : bool
        Whether the target image is periodic. A dict keeps the settings it was computed with: a
        ``window`` other than its own, or ``periodic=False`` for a periodic one, is refused (as
        :func:`reconstruct` does).
    window : int, optional
    per_view : bool
        Return one error per view (3D compared with a 2D target), not the largest.
    per_phase : bool
        Return one error per phase compared (three or more phases; phase 1 alone for two), not the
        largest.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.reconstruction import s2_error
    >>> image = (np.add.outer(np.arange(16), np.arange(16)) % 4 < 2).astype(int)
    >>> s2_error(image, image)
    0.0
    """
    periodic = check_flag(periodic, name="periodic")
    per_view, per_phase = check_flag(per_view, name="per_view"), check_flag(per_phase, name="per_phase")
    labels = as_label_array(labels, name="labels")
    targets = _as_targets(target, labels.ndim, periodic, window=window)
    n_phases = int(targets[0]["n_phases"])
    _check_phases(labels, n_phases)
    errors = []
    for view, t in zip(_view_batches(labels, n_phases, int(targets[0]["ndim"])), targets):
        w, nd = int(t["window"]), int(t["ndim"])
        phases = _phases_compared(n_phases)
        field = view[phases]
        maps = correlation_maps(field.flatten(0, 1), field.flatten(0, 1), nd, True)
        maps = central_window(maps, w, nd).reshape(len(phases), field.shape[1], *((2 * w + 1,) * nd)).mean(1)
        rel = []
        for i, p in enumerate(phases):
            ts2 = torch.as_tensor(np.asarray(t["s2"])[p], dtype=torch.float64)
            phi = float(np.asarray(t["volume_fraction"])[p])
            rel.append(float(torch.linalg.norm(maps[i] - ts2) / torch.linalg.norm(ts2 - phi**2)))
        errors.append(rel)
    if per_phase:
        return errors if per_view else [max(view[i] for view in errors) for i in range(len(errors[0]))]
    largest = [max(view) for view in errors]
    return largest if per_view else max(largest)


def volume_fraction_error(target, labels):
    """Largest absolute difference of the phase volume fractions (``target``: image, dict or fractions).

    Fractions are a 1D sequence, one per phase, of finite numbers >= 0 summing to 1 (``[0, 1]`` too);
    other fractions raise a ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((16, 16), dtype=int); image[:, :8] = 1                 # 50 % of phase 1
    >>> trial = image.copy(); trial[0, :12] = 1                                 # 4 more pixels of phase 1
    >>> volume_fraction_error(image, trial), volume_fraction_error([0.5, 0.5], trial)   # 4 / 256
    (0.015625, 0.015625)
    """
    labels = as_label_array(labels, name="labels")
    if isinstance(target, dict):
        vf = np.asarray(check_descriptor_dict(target)["volume_fraction"], dtype=float)
    elif isinstance(target, (list, tuple)) and target and not isinstance(target[0], numbers.Number):
        vf = np.mean([np.bincount(as_label_array(t).ravel()) / np.size(t) for t in target], 0)
    else:
        arr = np.asarray(target)
        if arr.ndim == 1:                   # an image has 2 or 3 axes: integers such as [0, 1] are fractions too
            vf = check_fractions(arr, name="target")
        else:
            t = as_label_array(arr)
            vf = np.bincount(t.ravel()) / t.size
    _check_phases(labels, vf.size)
    got = np.bincount(labels.ravel(), minlength=vf.size) / labels.size
    return float(np.abs(got - vf).max())


def lineal_path_error(target, labels, *, periodic=True, max_length=None, per_view=False):
    """Relative lineal-path error ``||L_rec - L_target|| / ||L_target||`` along the axes, all phases.

    ``max_length`` defaults to ``L // 4``. A 3D structure with a 2D target is compared on the slices
    normal to each axis (largest error, or the three with ``per_view=True``). Arguments as in
    :func:`s2_error`, but the target is an image (or three views), not a descriptor dict: the lineal
    path is measured on it.

    Examples
    --------
    Turning stripes by 90 degrees keeps the volume fractions but not the lineal path along the axes:

    >>> import numpy as np
    >>> image = np.zeros((16, 16), dtype=int); image[:, :8] = 1
    >>> lineal_path_error(image, image), round(lineal_path_error(image, image.T), 4)
    (0.0, 0.343)
    """
    periodic = check_flag(periodic, name="periodic")
    per_view = check_flag(per_view, name="per_view")
    labels = as_label_array(labels, name="labels")
    images = list(target) if isinstance(target, (list, tuple)) else [target]
    if any(isinstance(t, dict) for t in images):
        raise TypeError("lineal_path_error measures the lineal path on the target image; got a descriptor dict: "
                        "pass the image (or the three views) it was computed from")
    images = [as_label_array(t) for t in images]
    t_ndim = images[0].ndim
    if t_ndim > labels.ndim:
        raise ValueError(f"the target is {t_ndim}D but the structure is {labels.ndim}D")
    length = default_window(min(images[0].shape)) if max_length is None else int(max_length)
    n_phases = int(max(t.max() for t in images)) + 1
    _check_phases(labels, n_phases)
    if labels.ndim == 3 and t_ndim == 2 and len(images) == 1:
        images = images * 3
    errors = []
    views_ = [labels[None]] if labels.ndim == t_ndim else [np.moveaxis(labels, k, 0) for k in range(3)]
    for view, image in zip(views_, images):
        rel = []
        for p in range(n_phases):
            if not np.any(view == p):
                rel.append(1.0)
                continue
            lp = lineal_path(view, p, max_length=length, periodic=True, batch=True).mean(0)
            lt = lineal_path(image, p, max_length=length, periodic=periodic)
            rel.append(float(np.linalg.norm(lp - lt) / np.linalg.norm(lt)))
        errors.append(float(np.mean(rel)))
    return errors if per_view else max(errors)


# ----------------------------------------------------------------------------- isolated voxels
def _neighbour_counts(labels, n_phases):
    """``counts[p]``: number of face neighbours (periodic) of every voxel with label ``p``."""
    counts = np.zeros((n_phases,) + labels.shape, dtype=np.int8)
    for axis in range(labels.ndim):
        for step in (1, -1):
            rolled = np.roll(labels, step, axis=axis)
            for p in range(n_phases):
                counts[p] += rolled == p
    return counts


def isolated_mask(labels):
    """Boolean mask of voxels whose face neighbours (periodic) all carry another label.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((5, 5), dtype=int); image[2, 2] = 1; image[0, :2] = 1     # a single pixel and a pair
    >>> np.argwhere(isolated_mask(image)).tolist()
    [[2, 2]]
    """
    labels = as_label_array(labels, name="labels") if not isinstance(labels, np.ndarray) else labels
    if labels.ndim not in (2, 3) or labels.dtype.kind not in "biu":
        # (arrays are not checked value by value: the searches call this in their loops)
        raise ValueError(f"labels has shape {labels.shape} and dtype {labels.dtype}; expected an integer "
                         "label image with 2 or 3 axes")
    same = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        for step in (1, -1):
            same |= np.roll(labels, step, axis=axis) == labels
    return ~same


def _isolated_count(labels, periodic):
    """Isolated pixels of an image; not periodic: neighbours across the border are not counted."""
    if periodic:
        return count_isolated(labels)
    return int(isolated_mask(np.pad(labels, 1, mode="edge"))[(slice(1, -1),) * labels.ndim].sum())


def count_isolated(labels):
    """Number of isolated single voxels/pixels (all face neighbours of another label, periodic).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((5, 5), dtype=int); image[2, 2] = 1; image[0, :2] = 1     # a single pixel and a pair
    >>> count_isolated(image)
    1
    """
    check_labels(labels, name="labels")         # integer labels >= 0, 2 or 3 axes (one phase is allowed here)
    values = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return int(isolated_mask(np.rint(values).astype(np.int64)).sum())


def remove_isolated(labels, fractions=None, *, scores=None, max_rounds=20):
    """Flip isolated voxels to their majority neighbour label, then restore the phase counts.

    Vectorized: every isolated voxel flips at once. The counts lost or gained are then given back by
    flipping interface voxels of a phase in surplus to a phase in deficit, those with the most face
    neighbours of the deficit phase first (ties: the larger ``scores[p]``, e.g. the relaxed phase
    probability), which never creates an isolated voxel of the new label; repeated until no voxel is
    isolated and every count equals its target.

    Parameters
    ----------
    labels : integer array, 2 or 3 axes (periodic)
    fractions : array (P,), optional
        Target volume fractions (default: those of ``labels``); hit to within half a voxel per phase.
    scores : array ``(P, *labels.shape)``, optional
    max_rounds : int

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.reconstruction import remove_isolated, count_isolated
    >>> image = np.zeros((6, 6), int); image[:, :3] = 1; image[4, 4] = 1
    >>> out = remove_isolated(image)
    >>> count_isolated(out), int(out.sum()) == int(image.sum())
    (0, True)
    """
    labels = as_label_array(labels, name="labels").copy()
    n_phases = int(labels.max()) + 1
    n = labels.size
    if fractions is None:
        goal = np.bincount(labels.ravel(), minlength=n_phases)
    else:
        fractions = check_fractions(fractions, name="fractions")
        if fractions.size < n_phases:
            raise ValueError(f"fractions has {fractions.size} entries but labels has the labels 0 .. {n_phases - 1}; "
                             "expected one volume fraction per phase label")
        goal = _round_counts(fractions, n)
        absent = np.flatnonzero((goal > 0) & (np.bincount(labels.ravel(), minlength=fractions.size) == 0))
        if absent.size:      # voxels change label only next to a voxel of the new label
            raise ValueError(f"fractions asks for phase {int(absent[0])}, which labels does not contain; this "
                             "function moves interface voxels and cannot create a phase")
        n_phases = fractions.size
    for _ in range(check_integer(max_rounds, 0, name="max_rounds")):
        counts = _neighbour_counts(labels, n_phases)
        iso = isolated_mask(labels)
        if iso.any():
            majority = counts.argmax(0)
            labels[iso] = majority[iso]
            counts = _neighbour_counts(labels, n_phases)
        have = np.bincount(labels.ravel(), minlength=n_phases)
        diff = goal - have
        if not np.any(diff) and not isolated_mask(labels).any():
            break
        flat = labels.ravel()
        for p in np.argsort(-diff):
            if diff[p] <= 0:
                break
            surplus = np.flatnonzero(diff < 0)
            if surplus.size == 0:
                break
            cand = np.flatnonzero(np.isin(flat, surplus) & (counts[p].ravel() >= 1))
            if cand.size == 0:
                continue
            key = counts[p].ravel()[cand].astype(np.float64)
            if scores is not None:
                key = key + 0.5 * np.asarray(scores[p], dtype=np.float64).ravel()[cand]
            order = cand[np.argsort(-key, kind="stable")]
            take = []
            budget = {int(q): int(-diff[q]) for q in surplus}
            for idx in order:
                q = int(flat[idx])
                if budget[q] > 0:
                    take.append(idx)
                    budget[q] -= 1
                    if len(take) == diff[p]:
                        break
            take = np.asarray(take, dtype=np.int64)
            for q in surplus:
                diff[q] += int(np.sum(flat[take] == q))
            flat[take] = p
            diff[p] -= take.size
            labels = flat.reshape(labels.shape)
    return labels


def check_fractions(fractions, *, name, n_phases=None):
    """Volume fractions, one per phase: a 1D array of finite numbers >= 0 summing to 1 (to 1e-6), of length
    ``n_phases`` where given; returned as float64."""
    array = np.asarray(fractions)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} has dtype {array.dtype}; expected volume fractions (real numbers)")
    array = array.astype(np.float64)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{name} has shape {array.shape}; expected one volume fraction per phase (at least two)")
    if n_phases is not None and array.size != n_phases:
        raise ValueError(f"{name} has {array.size} entries; expected {n_phases}, one per phase")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} = {array.tolist()}; expected finite volume fractions >= 0")
    if abs(array.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name} = {array.tolist()} sum to {array.sum():.6g}; expected volume fractions summing to 1")
    return array


def _round_counts(fractions, n):
    """Integer counts summing to ``n`` closest to ``fractions * n`` (largest remainders)."""
    raw = np.asarray(fractions, dtype=float) / np.sum(fractions) * n
    counts = np.floor(raw).astype(np.int64)
    rest = n - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


def project(probabilities, fractions, *, max_iter=60):
    """Labels from relaxed phase probabilities ``(P, *shape)`` with the target phase counts.

    Two phases: threshold at the quantile (exact counts). More: ``argmax(log p + b)`` with per-phase
    biases ``b`` adjusted until the counts match (then exact counts by flipping the least certain
    voxels of phases in surplus).

    Parameters
    ----------
    probabilities : array_like ``(P, *shape)``
        Phase probabilities (or any finite scores) of P >= 2 phases, 2 or 3 spatial axes.
    fractions : array_like ``(P,)``
        The target volume fractions, >= 0 and summing to 1.
    max_iter : int
        Updates of the biases ``b`` (three or more phases; unused for two).

    Examples
    --------
    The labels have exactly the asked phase counts (a quarter and three quarters of 16 pixels):

    >>> import numpy as np
    >>> p = np.random.default_rng(0).random((2, 4, 4)); p /= p.sum(0)
    >>> np.bincount(project(p, [0.25, 0.75]).ravel())
    array([ 4, 12])
    """
    max_iter = check_integer(max_iter, 0, name="max_iter")     # bias updates (three or more phases)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim not in (3, 4) or probabilities.shape[0] < 2:
        raise ValueError(f"probabilities has shape {probabilities.shape}; expected (P, *shape): P >= 2 phases, "
                         "2 or 3 spatial axes")
    if not np.isfinite(probabilities).all():
        raise ValueError("probabilities contains NaN or inf; expected finite phase probabilities")
    n_phases, shape = probabilities.shape[0], probabilities.shape[1:]
    n = int(np.prod(shape))
    goal = _round_counts(check_fractions(fractions, name="fractions", n_phases=n_phases), n)
    if n_phases == 2:
        return _smallest(-probabilities[1].ravel(), int(goal[1])).astype(np.int64).reshape(shape)
    logp = np.log(np.clip(probabilities.reshape(n_phases, -1), 1e-12, None))
    return _biased_argmax(logp, goal, max_iter=max_iter).reshape(shape)


def _smallest(key, k):
    """The mask of the ``k`` smallest entries of ``key``, the first ones on ties at the threshold: what a stable
    argsort's first ``k`` select, found by a partition instead of a sort."""
    if k <= 0:
        return np.zeros(key.size, dtype=bool)
    threshold = np.partition(key, k - 1)[k - 1]
    chosen = key < threshold
    chosen[np.flatnonzero(key == threshold)[:k - int(chosen.sum())]] = True
    return chosen


def _biased_argmax(score, goal, *, bias=None, max_iter=60):
    """Labels ``argmax(score + b)`` of a ``(P, N)`` score with exact counts ``goal``: the per-phase biases
    ``b`` are moved towards the counts for at most ``max_iter`` steps, then :func:`_fix_counts` makes
    them exact. ``bias`` ``(P, 1)``, where given, is the start and is updated in place (for a caller
    whose scores change little from one call to the next)."""
    bias = np.zeros((goal.size, 1)) if bias is None else bias
    score = np.ascontiguousarray(score, dtype=np.float64)
    labels, have = np.empty(score.shape[1], dtype=np.int64), np.empty(goal.size, dtype=np.int64)
    for _ in range(max_iter):
        _argmax_counts(score, bias[:, 0].copy(), labels, have)
        if np.array_equal(have, goal):
            break
        bias[:, 0] += 0.5 * (goal - have) / max(goal.min(), 1) * 0.5
    _argmax_counts(score, bias[:, 0].copy(), labels, have)
    return _fix_counts(labels, goal, score + bias)


@jit
def _argmax_counts(score, bias, labels, have):
    """``labels`` <- ``argmax_p(score[p] + bias[p])`` for each column (the first on ties, as ``np.argmax``),
    ``have`` <- the count of each label: one pass, where numpy's argmax along the phases strides."""
    have[:] = 0
    for i in range(score.shape[1]):
        best, label = score[0, i] + bias[0], 0
        for p in range(1, score.shape[0]):
            value = score[p, i] + bias[p]
            if value > best:
                best, label = value, p
        labels[i] = label
        have[label] += 1


def _fix_counts(labels, goal, score):
    """Exact counts: move the voxels of surplus phases with the best score for a deficit phase."""
    labels = labels.copy()
    n_phases = goal.size
    for _ in range(n_phases * 2):
        have = np.bincount(labels, minlength=n_phases)
        diff = goal - have
        if not np.any(diff):
            break
        p = int(np.argmax(diff))
        cand = np.flatnonzero(diff[labels] < 0)
        gain = score[p, cand] - score[labels[cand], cand]
        order = cand[np.argsort(-gain, kind="stable")]
        _take_surplus(labels, order, -diff.clip(max=0), int(diff[p]), p)
    return labels


@jit
def _take_surplus(labels, order, budget, wanted, p):
    """Move to phase ``p`` the first ``wanted`` pixels of ``order`` whose phase still has ``budget`` to give."""
    taken = 0
    for idx in order:
        if taken == wanted:
            break
        q = labels[idx]
        if budget[q] > 0:
            labels[idx] = p
            budget[q] -= 1
            taken += 1


def consistent_views(targets):
    """Make three 2D view targets of a volume consistent on the shared lattice lines.

    The S2 along volume axis ``a`` is seen by the two views containing ``a``; a 2D sample's S2 is
    never exactly isotropic, so the demands differ and no volume can meet both. They are replaced by
    their mean (the best compromise in the least-squares sense); everything off the axis lines is
    kept. Returns new dicts (``s2`` and ``cross`` maps edited).
    """
    out = [dict(t) for t in targets]
    planes = [tuple(a for a in range(3) if a != k) for k in range(3)]
    for key in ("s2", "cross"):
        if key not in targets[0]:
            continue
        maps = [np.array(t[key], dtype=np.float64) for t in targets]
        w = int(targets[0]["window"])
        if any(int(t["window"]) != w for t in targets):
            return targets
        for axis in range(3):
            lines = []
            for k, plane in enumerate(planes):
                if axis in plane:
                    d = plane.index(axis)
                    index = [slice(None), w, w]
                    index[1 + d] = slice(None)
                    lines.append((k, tuple(index)))
            mean = np.mean([maps[k][index] for k, index in lines], 0)
            for k, index in lines:
                maps[k][index] = mean
        for t, m in zip(out, maps):
            t[key] = m
    return out


def isotropic_target(target):
    """Average a 2D target's maps over the symmetries of the square (transpose, reflections).

    For ``reconstruct(..., isotropic=True)``: the volume is asked to match this symmetrized map on
    every view, i.e. the material is *assumed* statistically isotropic and the image's anisotropy is
    treated as sampling noise. On real micrographs that assumption costs accuracy against the image
    (see :func:`anisotropy_floor`); the default matches the raw image instead.

    Examples
    --------
    The symmetrized S2 of stripes is the same along both axes (the raw one is not):

    >>> import numpy as np
    >>> labels = np.zeros((16, 16), dtype=int); labels[:, :8] = 1
    >>> raw = target_descriptors(labels); iso = isotropic_target(raw)
    >>> bool(np.allclose(raw["s2"], raw["s2"].transpose(0, 2, 1))), bool(np.allclose(iso["s2"], iso["s2"].transpose(0, 2, 1)))
    (False, True)
    """
    if not isinstance(target, dict):
        raise TypeError(f"target is a {type(target).__name__}; expected the dict of target_descriptors(image)")
    target = check_descriptor_dict(target)
    if int(target["ndim"]) != 2:
        raise ValueError(f"target is {int(target['ndim'])}D; expected the descriptors of a 2D image")
    out = dict(target)
    for key in ("s2", "cross"):
        if key in target:
            m = np.asarray(target[key], dtype=np.float64)
            group = [m, m[:, ::-1, :], m[:, :, ::-1], m[:, ::-1, ::-1]]
            group += [g.transpose(0, 2, 1) for g in group]
            out[key] = np.mean(group, 0)
    return out


def anisotropy_floor(labels, *, periodic=True, window=None):
    """Relative distance of an image's S2 from its square-symmetrized version (:func:`isotropic_target`).

    What it bounds: the error, against the raw image, of a volume that matches the *isotropic*
    target exactly (``isotropic=True``) is this number. What it does not bound: a volume is not
    obliged to be isotropic. Matching the raw image on its own views (the default), only the S2
    along the one volume axis shared by two views with different image axes conflicts, and the
    smallest error any volume can have is :func:`view_conflict_bound`, usually far below this.
    ``labels``: a 2D image or a dict of :func:`target_descriptors` (``periodic`` and ``window`` as in
    :func:`s2_error`).

    Examples
    --------
    A centred square is square-symmetric (floor 0); stripes are not:

    >>> import numpy as np
    >>> square = np.zeros((16, 16), dtype=int); square[4:12, 4:12] = 1
    >>> stripes = np.zeros((16, 16), dtype=int); stripes[:, :8] = 1
    >>> round(float(anisotropy_floor(square)), 4), round(float(anisotropy_floor(stripes)), 4)
    (0.0, 0.4204)
    """
    periodic = check_flag(periodic, name="periodic")
    t = as_given(check_descriptor_dict(labels), periodic, window) if isinstance(labels, dict) else \
        target_descriptors(labels, periodic=periodic, window=window)
    iso = isotropic_target(t)
    phases = _phases_compared(int(t["n_phases"]))
    rel = [np.linalg.norm(t["s2"][p] - iso["s2"][p]) / np.linalg.norm(t["s2"][p] - t["volume_fraction"][p] ** 2)
           for p in phases]
    return float(np.max(rel))


def view_conflict_bound(target, *, periodic=True, window=None):
    """Provable lower bound on the S2 error (largest over the three views) of any volume built from one image.

    One 2D image used for the three views normal to the axes of a volume: the views normal to axes
    0 and 2 both contain volume axis 1, the first as its image axis 0, the second as its image axis
    1 (no choice of orientations avoids such a clash: three axes cannot each take one of two image
    axes with the two views through them agreeing). The S2 of the volume along that axis is one line
    ``s``, asked to be ``L_0`` (the image's S2 along axis 0) in one view and ``L_1`` in the other, so
    by the triangle inequality one of the two views has

    .. math:: e \\ge \\frac{\\lVert L_0 - L_1 \\rVert}{2\\,\\lVert S_2 - \\phi^2 \\rVert}

    (norms over the window; for three or more phases the largest over the phases, as :func:`s2_error`
    reports).
    ``target``: an image or a dict of :func:`target_descriptors` (``periodic`` and ``window`` as in
    :func:`s2_error`).

    Examples
    --------
    No volume can match stripes on all three views better than this; a square-symmetric image has no conflict:

    >>> import numpy as np
    >>> square = np.zeros((16, 16), dtype=int); square[4:12, 4:12] = 1
    >>> stripes = np.zeros((16, 16), dtype=int); stripes[:, :8] = 1
    >>> round(float(view_conflict_bound(square)), 4), round(float(view_conflict_bound(stripes)), 4)
    (0.0, 0.1946)
    """
    periodic = check_flag(periodic, name="periodic")
    t = as_given(check_descriptor_dict(target), periodic, window) if isinstance(target, dict) else \
        target_descriptors(target, periodic=periodic, window=window)
    if int(t["ndim"]) != 2:
        raise ValueError(f"view_conflict_bound needs a 2D target, got a {int(t['ndim'])}D one")
    w = int(t["window"])
    s2 = np.asarray(t["s2"], dtype=np.float64)
    vf = np.asarray(t["volume_fraction"], dtype=np.float64)
    bounds = [np.linalg.norm(s2[p][:, w] - s2[p][w, :]) / (2 * np.linalg.norm(s2[p] - vf[p] ** 2))
              for p in _phases_compared(int(t["n_phases"]))]
    return float(np.max(bounds))
