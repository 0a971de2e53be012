"""Morphological descriptors: lineal path, chord lengths, clusters and particle statistics.

Notation follows Torquato (2002), ch. 2: the lineal-path function :math:`L(r)` is the probability
that a segment of length *r* lies entirely in the phase; the chord-length density :math:`p(\\ell)` is
the distribution of the lengths of maximal segments (chords) of the phase along a line.
"""
from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .. import _backend
from .._validation import check_flag, check_integer, check_labels, check_phase_present, check_spatial_ndim
from . import _common
from ._common import finish, indicator

__all__ = ["lattice_directions", "lineal_path", "soft_lineal_path", "chord_length_distribution",
           "ChordLengths", "label_clusters", "particle_statistics"]


def lattice_directions(ndim, directions="axes"):
    """Lattice direction vectors used by :func:`lineal_path`, as an int array ``(n_directions, ndim)``.

    ``"axes"``: the unit vectors ``e_0, e_1(, e_2)``. ``"all"``: the axes, then the face diagonals
    (2D: ``(1, 1), (1, -1)``; 3D: ``(1, ±1, 0), (1, 0, ±1), (0, 1, ±1)``), then in 3D the four body
    diagonals ``(1, ±1, ±1)``. An explicit sequence of integer vectors is returned as given.

    Examples
    --------
    >>> from mslearn.descriptors import lattice_directions
    >>> lattice_directions(2, "all").tolist()
    [[1, 0], [0, 1], [1, 1], [1, -1]]
    """
    if isinstance(ndim, bool) or ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r}; expected 2 or 3")
    check_integer(ndim, 2, name="ndim")     # 2.0 == 2, but fails as a shape
    if isinstance(directions, str):
        if directions not in ("axes", "all"):
            raise ValueError(f"directions={directions!r}; expected 'axes', 'all' or a list of integer vectors")
        out = [tuple(int(i == d) for i in range(ndim)) for d in range(ndim)]
        if directions == "all":
            for a, b in itertools.combinations(range(ndim), 2):
                for sign in (1, -1):
                    v = [0] * ndim
                    v[a], v[b] = 1, sign
                    out.append(tuple(v))
            if ndim == 3:
                out += [(1, s1, s2) for s1 in (1, -1) for s2 in (1, -1)]
        return np.array(out, dtype=np.int64)
    array = np.asarray(directions)
    if array.ndim != 2 or array.shape[1] != ndim or not np.issubdtype(array.dtype, np.integer) \
            or np.any(np.all(array == 0, axis=1)) or len(array) == 0:
        raise ValueError(f"directions must be 'axes', 'all' or one or more non-zero integer vectors of length "
                         f"{ndim}, got {directions!r}")
    return array.astype(np.int64)


def _max_length(shape, vectors, max_length, periodic):
    # without periodicity a segment x, ..., x + r v fits in the image only for r |v_i| <= n_i - 1 on every
    # axis: beyond that no start is counted and L(r) would be 0 / 0
    reach = min((n - 1) // abs(v) for vec in vectors for n, v in zip(shape, vec) if v)
    if max_length is None:
        return min(shape) - 1 if periodic else min(min(shape) - 1, reach)
    max_length = check_integer(max_length, 0, name="max_length")
    if not periodic and max_length > reach:
        raise ValueError(f"max_length={max_length} is longer than the image allows without periodicity "
                         f"(at most {reach} along the directions asked for)")
    return int(max_length)


def _segment_counts(shape, vec, lengths, periodic, dtype, device):
    """Number of start pixels whose segment of ``r + 1`` pixels along ``vec`` lies in the image."""
    if periodic:
        return torch.full((len(lengths),), float(math.prod(shape)), dtype=dtype, device=device)
    r = torch.as_tensor(lengths, dtype=dtype, device=device)
    count = torch.ones_like(r)
    for n, v in zip(shape, vec):
        count = count * (n - r * abs(int(v))).clamp(min=0)
    return count


def _capped_runs(ind, vec, cap_power, periodic, ndim):
    """Run length of consecutive phase pixels from each pixel along ``vec``, capped at ``2**cap_power``.

    Doubling: with ``c_k = min(run, 2**k)``, ``c_{k+1}(p) = 2**k + c_k(p + 2**k vec)`` where
    ``c_k(p) == 2**k`` and ``c_k(p)`` otherwise — ``cap_power`` shifted copies, ``O(N log r_max)``.
    """
    c = ind.to(torch.int32)
    for k in range(cap_power):
        step = 2**k
        ahead = _common.shift(c, [step * int(v) for v in vec], periodic=periodic, ndim=ndim)
        c = torch.where(c == step, ahead + step, c)
    return c


def lineal_path(labels, phase=1, *, directions="axes", max_length=None, periodic=True, batch=False):
    """Lineal-path function :math:`L(r)` of ``phase`` along lattice directions (exact, pixel-counted).

    :math:`L(r)` is the probability that a segment of ``r + 1`` consecutive lattice points
    ``x, x + v, ..., x + r v`` lies entirely in the phase (Torquato 2002, §2.4; its length is
    ``r |v|`` pixel units). ``L(0) = phi`` and ``L`` is non-increasing.

    Algorithm: the run length of consecutive phase pixels starting at every pixel is computed
    (capped at ``2**K >= max_length + 1``) by doubling along the direction (``K`` shifted copies), then
    ``L(r) = #{x : run(x) >= r + 1} / N_r``. With ``periodic=True`` runs continue across the boundary
    (a line entirely in the phase has an infinite run) and ``N_r = N``; otherwise runs stop at the
    boundary and ``N_r`` is the number of starts whose segment fits in the image.

    Parameters
    ----------
    labels : integer array or tensor, ``(*spatial)`` or ``(batch, *spatial)``
    phase : int
    directions : "axes", "all" or sequence of integer vectors
        See :func:`lattice_directions` (their order is the order of the output rows).
    max_length : int, optional
        Largest ``r``; default ``min(shape) - 1``, and with ``periodic=False`` at most the largest ``r`` that
        every direction can reach inside the image (``r |v_i| <= n_i - 1`` on every axis ``i``).
    periodic, batch : bool

    Returns
    -------
    Array or tensor of shape ``(n_directions, max_length + 1)`` (with a leading batch axis if
    ``batch``); float64 for numpy input.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import lineal_path
    >>> lineal_path(np.array([[1, 1, 0, 1]]), directions=[[0, 1]], max_length=3).tolist()
    [[0.75, 0.5, 0.25, 0.0]]
    """
    periodic = check_flag(periodic, name="periodic")
    field, ndim = indicator(labels, phase, batch=batch, soft=False)
    shape = field.shape[1:]
    vectors = lattice_directions(ndim, directions)
    r_max = _max_length(shape, vectors, max_length, periodic)
    cap_power = max(0, math.ceil(math.log2(r_max + 1)))
    n_batch, cap = field.shape[0], 2**cap_power
    offsets = (torch.arange(n_batch, device=field.device) * (cap + 1)).reshape((-1,) + (1,) * ndim)
    ind = field > 0.5
    out = []
    for vec in vectors:
        runs = _capped_runs(ind, vec, cap_power, periodic, ndim)
        hist = torch.bincount((runs + offsets).flatten(), minlength=n_batch * (cap + 1))
        at_least = hist.reshape(n_batch, cap + 1).flip(1).cumsum(1).flip(1)  # #(run >= m)
        counts = _segment_counts(shape, vec, range(r_max + 1), periodic, field.dtype, field.device)
        out.append(at_least[:, 1:r_max + 2].to(field.dtype) / counts)
    return finish(torch.stack(out, 1), labels, batch)


def soft_lineal_path(field, phase=1, *, directions="axes", max_length=None, periodic=True, batch=False):
    """Differentiable lineal path of a relaxed indicator field :math:`f \\in [0, 1]`.

    .. math:: L_f(r) = \\frac{1}{N_r}\\sum_{\\mathbf{x}} \\prod_{j=0}^{r} f(\\mathbf{x} + j\\mathbf{v})

    computed by repeated multiplication of shifted copies (``O(N r_max)``; differentiable with torch
    autograd). For a binary field the product is 1 exactly when the whole segment is in the phase,
    so :math:`L_f` equals the exact :func:`lineal_path`. Arguments and output as in
    :func:`lineal_path`; ``field`` may also be integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import soft_lineal_path
    >>> soft_lineal_path(np.array([[0.5, 1.0]]), directions=[[0, 1]], max_length=1).tolist()
    [[0.75, 0.5]]
    """
    periodic = check_flag(periodic, name="periodic")
    f, ndim = indicator(field, phase, batch=batch, name="field")
    shape = f.shape[1:]
    vectors = lattice_directions(ndim, directions)
    r_max = _max_length(shape, vectors, max_length, periodic)
    out = []
    for vec in vectors:
        product, sums = f, [f.flatten(1).sum(1)]
        for r in range(1, r_max + 1):
            product = product * _common.shift(f, [r * int(v) for v in vec], periodic=periodic, ndim=ndim)
            sums.append(product.flatten(1).sum(1))
        counts = _segment_counts(shape, vec, range(r_max + 1), periodic, f.dtype, f.device)
        out.append(torch.stack(sums, 1) / counts)
    return finish(torch.stack(out, 1), field, batch)


@dataclass(frozen=True)
class ChordLengths:
    """Chord-length distribution.

    Attributes
    ----------
    lengths : ndarray
        Chord lengths 1, 2, ... (``bins=None``) or the bin centres.
    counts : ndarray
        Number of chords per length / bin.
    density : ndarray
        Probability density ``p(l)``: ``counts / (total * bin width)``.
    mean : float
        Mean chord length (of the chords, not of the bins).
    n_chords : int
    """

    lengths: np.ndarray
    counts: np.ndarray
    density: np.ndarray
    mean: float
    n_chords: int


def chord_length_distribution(labels, phase=1, *, axis=None, periodic=True, bins=None, batch=False):
    """Distribution of the lengths of chords of ``phase`` along lattice axes (Torquato 2002, §2.6).

    A chord is a maximal run of consecutive phase pixels along a line parallel to an axis. With
    ``periodic=True`` a run that leaves one face and re-enters at the opposite face is one chord,
    and a line lying entirely in the phase counts as **one chord of the line length** (it has no end;
    this convention keeps the total chord length equal to the phase volume). With
    ``periodic=False`` runs are cut by the image boundary.

    Parameters
    ----------
    labels : integer array or tensor, ``(*spatial)`` or ``(batch, *spatial)``
    phase : int
    axis : int, sequence of int or None
        Axes along which chords are taken (pooled), each at most once (``-1`` is the last axis); ``None``:
        all axes.
    periodic, batch : bool
        With ``batch`` the chords of all images are pooled.
    bins : None, int or array
        ``None``: one bin per integer length; otherwise passed to :func:`numpy.histogram`.

    Returns
    -------
    ChordLengths
        numpy arrays whatever the input kind (a histogram summary).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import chord_length_distribution
    >>> c = chord_length_distribution(np.array([[1, 1, 0, 1, 0, 0]]), axis=1)
    >>> c.counts.tolist(), c.mean
    ([1, 1], 1.5)
    """
    periodic = check_flag(periodic, name="periodic")
    field, ndim = indicator(labels, phase, batch=batch, soft=False)
    axes = range(ndim) if axis is None else np.atleast_1d(axis).tolist()
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int) or not -ndim <= a < ndim:
            raise ValueError(f"axis={axis!r} is not an axis of a {ndim}D image")
    axes = [a % ndim for a in axes]
    if not axes:
        raise ValueError(f"axis={axis!r} names no axis; expected an axis of a {ndim}D image, several, or None")
    repeated = [a for a in set(axes) if axes.count(a) > 1]
    if repeated:
        raise ValueError(f"axis={axis!r} names axis {repeated[0]} more than once; expected distinct axes "
                         "(its chords would be counted again)")
    ind = field > 0.5
    hist = torch.zeros(1, dtype=torch.int64, device=field.device)
    for a in axes:
        n = field.shape[1 + a]
        vec = [int(i == a) for i in range(ndim)]
        runs = _capped_runs(ind, vec, math.ceil(math.log2(n + 1)), periodic, ndim)
        before = _common.shift(ind, [-v for v in vec], periodic=periodic, ndim=ndim)
        lengths = runs[ind & ~before]
        if periodic:  # lines entirely in the phase: one chord of length n each
            full = int(ind.all(dim=1 + a).sum())
            lengths = torch.cat([lengths, torch.full((full,), n, dtype=lengths.dtype, device=lengths.device)])
        part = torch.bincount(lengths.long())
        size = max(hist.numel(), part.numel())
        hist = torch.nn.functional.pad(hist, (0, size - hist.numel())) + \
            torch.nn.functional.pad(part, (0, size - part.numel()))
    counts = hist.cpu().numpy()[1:]
    values = np.arange(1, counts.size + 1, dtype=np.float64)
    n_chords = int(counts.sum())
    if n_chords == 0:
        raise ValueError(f"phase {phase} has no chords along the axes asked for")
    mean = float((values * counts).sum() / n_chords)
    if bins is None:
        return ChordLengths(values, counts, counts / n_chords, mean, n_chords)
    if isinstance(bins, numbers.Integral):          # else bin edges, as numpy.histogram takes them
        bins = check_integer(bins, 1, name="bins")
    else:
        edges = np.asarray(bins, dtype=np.float64) if not isinstance(bins, str) else None
        if edges is None or edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) \
                or np.any(np.diff(edges) <= 0):
            raise ValueError(f"bins = {bins!r}; expected None, a number of bins >= 1, or at least two finite, "
                             "increasing bin edges")
    binned, edges = np.histogram(values, bins=bins, weights=counts)
    binned = binned.astype(np.int64)
    return ChordLengths(0.5 * (edges[1:] + edges[:-1]), binned, binned / (n_chords * np.diff(edges)),
                        mean, n_chords)


def label_clusters(labels, phase=1, *, periodic=True):
    """Label the face-connected clusters of ``phase``; periodic: merged across opposite faces.

    Parameters
    ----------
    labels : int or bool ndarray, 2D or 3D
        Phase labels; a boolean mask is the two-phase image whose phase 1 is ``True``.
    phase : int
    periodic : bool

    Returns
    -------
    clusters : int ndarray
        0 outside the clusters, clusters numbered ``1 .. n``.
    n : int

    Raises
    ------
    ValueError
        If ``phase`` does not occur in ``labels`` (as every descriptor of :mod:`mslearn.descriptors`
        does: a phase label that is not in the image is most likely a wrong label, and "0 clusters"
        would hide it). A boolean mask with no ``True`` pixel has no phase 1 either.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import label_clusters
    >>> label_clusters(np.array([[1, 0, 1]], bool))[1], label_clusters(np.array([[1, 0, 1]], bool), periodic=False)[1]
    (1, 2)
    >>> label_clusters(np.array([[1, 0, 1]]), phase=5)
    Traceback (most recent call last):
    ...
    ValueError: phase 5 does not occur in labels; the labels present are 0, 1
    """
    periodic = check_flag(periodic, name="periodic")
    _common.check_phase_arg(phase)
    check_spatial_ndim(labels, name="labels")
    check_labels(labels, name="labels")
    check_phase_present(labels, phase, name="labels")
    mask = np.asarray(labels.cpu() if _backend.is_torch(labels) else labels) == phase
    clusters, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1))
    if not periodic or n == 0:
        return clusters, n
    pairs = []
    for ax in range(mask.ndim):
        a, b = np.take(clusters, 0, axis=ax).ravel(), np.take(clusters, -1, axis=ax).ravel()
        keep = (a > 0) & (b > 0)
        pairs.append(np.stack([a[keep], b[keep]], 1))
    pairs = np.unique(np.concatenate(pairs), axis=0)
    if pairs.size == 0:
        return clusters, n
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n + 1, n + 1))
    _, component = connected_components(graph, directed=False)
    _, new = np.unique(component[1:], return_inverse=True)
    mapping = np.concatenate([[0], new + 1])
    return mapping[clusters], int(new.max()) + 1


def particle_statistics(labels, phase=1, *, periodic=True):
    """One row per particle (face-connected cluster) of ``phase``: size, shape, orientation, spacing.

    Moments are computed from the pixel coordinates. With ``periodic=True`` particles cut by the
    boundary are merged (:func:`label_clusters`), centroids are circular means per axis and
    coordinates are taken relative to the centroid by the minimum-image convention (a particle must
    span less than half the box along each axis). The covariance of a particle is that of its pixels
    treated as unit squares/cubes (``+ 1/12`` on the diagonal), so a filled ellipse with semi-axes
    ``a >= b`` has eigenvalues ``a**2/4, b**2/4`` (Bostanabad et al. 2018, §3).

    Columns
    -------
    ``area`` (2D) / ``volume`` (3D)
        pixel count.
    ``equivalent_diameter``
        of the disk / sphere of the same area / volume.
    ``centroid_0 .. centroid_{d-1}``
        in pixel coordinates, within ``[0, n)`` when periodic.
    ``aspect_ratio``
        ``sqrt(lambda_max / lambda_min)`` of the covariance (major / minor semi-axis for ellipses).
    ``orientation`` (2D)
        angle of the major axis from axis 0 towards axis 1, radians in ``(-pi/2, pi/2]``.
    ``major_axis_0 .. major_axis_2`` (3D)
        unit vector of the major axis (sign chosen with a non-negative first non-zero component).
    ``nn_distance``
        distance to the nearest other centroid (minimum image when periodic; NaN for one particle),
        by :class:`scipy.spatial.cKDTree` (``boxsize`` = image shape when periodic).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import particle_statistics
    >>> image = np.zeros((10, 10), int); image[1:3, 1:5] = 1; image[6:9, 6:9] = 1
    >>> particle_statistics(image)["area"].tolist()
    [8, 9]
    """
    periodic = check_flag(periodic, name="periodic")
    tensor, ndim = _common.labels_tensor(labels, phase=phase)
    mask = tensor[0].cpu().numpy() == phase
    clusters, n = label_clusters(mask, periodic=periodic)
    shape = np.array(mask.shape, dtype=np.float64)
    ids = clusters[mask] - 1
    coords = np.nonzero(mask)
    size = np.bincount(ids, minlength=n).astype(np.float64)
    centroid, rel = np.empty((n, ndim)), []
    for d in range(ndim):
        x = coords[d].astype(np.float64)
        if periodic:
            angle = 2 * np.pi * x / shape[d]
            mean = np.arctan2(np.bincount(ids, np.sin(angle), n), np.bincount(ids, np.cos(angle), n))
            centroid[:, d] = np.mod(mean * shape[d] / (2 * np.pi), shape[d])
            dx = x - centroid[ids, d]
            dx -= shape[d] * np.round(dx / shape[d])
            centroid[:, d] += np.bincount(ids, dx, n) / size  # exact mean of the unwrapped pixels
            centroid[:, d] = np.mod(centroid[:, d], shape[d])
            dx = x - centroid[ids, d]
            dx -= shape[d] * np.round(dx / shape[d])
        else:
            centroid[:, d] = np.bincount(ids, x, n) / size
            dx = x - centroid[ids, d]
        rel.append(dx)
    cov = np.empty((n, ndim, ndim))
    for i in range(ndim):
        for j in range(ndim):
            cov[:, i, j] = np.bincount(ids, rel[i] * rel[j], n) / size + (i == j) / 12.0
    eigval, eigvec = np.linalg.eigh(cov)
    major = eigvec[:, :, -1]
    first = np.argmax(np.abs(major) > 1e-12, axis=1)
    major *= np.where(major[np.arange(n), first] < 0, -1.0, 1.0)[:, None]
    table = {"label": np.arange(1, n + 1), ("area" if ndim == 2 else "volume"): size.astype(np.int64),
             "equivalent_diameter": 2 * np.sqrt(size / np.pi) if ndim == 2 else np.cbrt(6 * size / np.pi)}
    for d in range(ndim):
        table[f"centroid_{d}"] = centroid[:, d]
    table["aspect_ratio"] = np.sqrt(eigval[:, -1] / eigval[:, 0])
    if ndim == 2:
        angle = np.arctan2(major[:, 1], major[:, 0])
        table["orientation"] = np.where(angle <= -np.pi / 2, angle + np.pi,
                                        np.where(angle > np.pi / 2, angle - np.pi, angle))
    else:
        for d in range(ndim):
            table[f"major_axis_{d}"] = major[:, d]
    if n > 1:
        points = centroid
        if periodic:
            points = np.mod(centroid, shape)
            points[points >= shape] = 0.0  # np.mod of a tiny negative number can round to the box size
        tree = cKDTree(points, boxsize=shape if periodic else None)
        table["nn_distance"] = tree.query(points, k=2)[0][:, 1]
    else:
        table["nn_distance"] = np.full(n, np.nan)
    return pd.DataFrame(table)
