"""Correlation functions: volume fraction, two-point (auto/cross) correlation, cluster function,
radial averages and the specific surface.

Notation (Torquato 2002, ch. 2): :math:`I^{(i)}(\\mathbf{x})` is the indicator of phase *i*,
:math:`\\phi_i = \\langle I^{(i)} \\rangle` its volume fraction and

.. math:: S_2^{(ij)}(\\mathbf{r}) = \\langle I^{(i)}(\\mathbf{x})\\, I^{(j)}(\\mathbf{x}+\\mathbf{r}) \\rangle

the two-point correlation (``S2``; the auto-correlation when ``i = j``). Maps are full arrays over
the displacement lattice with the origin at index 0 and negative displacements wrapped at the end,
like ``numpy.fft`` (use ``numpy.fft.fftshift`` to centre them for plotting).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import _backend
from .._validation import check_finite, check_flag, check_integer, check_positive, check_spatial_ndim
from . import _common
from ._common import finish, indicator

__all__ = ["volume_fraction", "two_point_correlation", "cross_correlation", "radial_average",
           "two_point_cluster_function", "specific_surface", "SpecificSurface", "correlation_maps",
           "central_window"]


def volume_fraction(labels, phase=1, *, batch=False):
    """Volume fraction :math:`\\phi = \\langle I(\\mathbf{x}) \\rangle` of ``phase``.

    Parameters
    ----------
    labels : array or tensor, shape ``(*spatial)`` or ``(batch, *spatial)``
        Integer phase labels, or a float relaxed indicator of phase 1 in [0, 1].
    phase : int
    batch : bool
        ``True`` when the first axis is a batch axis.

    Returns
    -------
    float (numpy input, no batch), 0-d tensor, or an array/tensor of shape ``(batch,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import volume_fraction
    >>> volume_fraction(np.array([[0, 1], [1, 1]]))
    0.75
    """
    field, ndim = indicator(labels, phase, batch=batch)
    return finish(field.flatten(1).mean(1), labels, batch)


def correlation_maps(a, b, ndim, periodic):
    """``mean_x a(x) b(x + r)`` for every displacement ``r``; ``a``, ``b`` float tensors ``(B, *spatial)``.

    The building block of every correlation function here and of the reconstruction's loss (no
    validation: callers pass checked tensors; ``b is a`` computes the auto-correlation with one FFT).

    Periodic: one real FFT, ``irfftn(conj(A) B) / N``. Non-periodic: zero padding to a fast FFT length
    ``>= 2 n - 1``, the ``2 n - 1`` displacements are kept and each is divided by its number of
    overlapping pixel pairs ``prod_d (n_d - |r_d|)``. Numpy arrays are taken too (as float64 tensors).

    Examples
    --------
    For a phase indicator, the map at r = 0 is the volume fraction and its periodic mean is its square:

    >>> import numpy as np
    >>> a = (np.random.default_rng(0).random((1, 16, 16)) < 0.3).astype(float)
    >>> maps = correlation_maps(a, a, 2, True)
    >>> tuple(maps.shape), bool(np.isclose(maps[0, 0, 0], a.mean())), bool(np.isclose(maps.mean(), a.mean() ** 2))
    ((1, 16, 16), True, True)
    >>> tuple(correlation_maps(a, a, 2, False).shape)       # non-periodic: all 2 n - 1 displacements
    (1, 31, 31)
    """
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        same = b is a
        a = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, dtype=np.float64))
        b = a if same else b if isinstance(b, torch.Tensor) else torch.as_tensor(np.asarray(b, dtype=np.float64))
    dims = tuple(range(-ndim, 0))
    shape = a.shape[-ndim:]
    if periodic:
        fa = torch.fft.rfftn(a, dim=dims)
        prod = fa.real.square() + fa.imag.square() if b is a else fa.conj() * torch.fft.rfftn(b, dim=dims)
        return torch.fft.irfftn(prod, s=shape, dim=dims) / math.prod(shape)
    size = [_common.fft_good_size(2 * n - 1) for n in shape]
    fa = torch.fft.rfftn(a, s=size, dim=dims)
    prod = fa.real.square() + fa.imag.square() if b is a else fa.conj() * torch.fft.rfftn(b, s=size, dim=dims)
    out = torch.fft.irfftn(prod, s=size, dim=dims)
    for d, (n, m) in enumerate(zip(shape, size)):
        if m != 2 * n - 1:
            keep = torch.cat([torch.arange(n), torch.arange(m - n + 1, m)]).to(out.device)
            out = out.index_select(out.ndim - ndim + d, keep)
    count = torch.ones((), dtype=out.dtype, device=out.device)
    for d, disp in enumerate(_common.lattice_displacements([2 * n - 1 for n in shape], out.device, out.dtype)):
        view = [1] * ndim
        view[d] = -1
        count = count * (shape[d] - disp.abs()).reshape(view)
    return out / count


def central_window(maps, window, ndim):
    """Displacements from ``-window`` to ``window`` of maps with the origin at index 0, centred.

    ``maps[..., *spatial]`` (numpy or torch; origin at index 0, negative displacements wrapped at the
    end, as :func:`two_point_correlation` returns them) becomes ``maps[..., (2 window + 1)^ndim]``
    with the origin at index ``window``. ``window=None`` centres the whole map (``fftshift``).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import central_window
    >>> central_window(np.arange(8.0), 2, ndim=1).tolist()
    [6.0, 7.0, 0.0, 1.0, 2.0]
    """
    axes = tuple(range(-ndim, 0))
    if window is None:
        return torch.fft.fftshift(maps, dim=axes) if _backend.is_torch(maps) else np.fft.fftshift(maps, axes=axes)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ValueError(f"window={window!r}; expected a non-negative integer (displacements |r_d| <= window)")
    for n in maps.shape[-ndim:]:
        if 2 * window + 1 > n:
            raise ValueError(f"window={window} needs maps of at least {2 * window + 1} entries per axis, got {n}")
    out = maps
    for axis in range(maps.ndim - ndim, maps.ndim):
        index = np.arange(-window, window + 1) % maps.shape[axis]
        out = out.index_select(axis, torch.as_tensor(index, device=out.device)) if _backend.is_torch(out) \
            else np.take(out, index, axis=axis)
    return out


def two_point_correlation(labels, phase=1, *, periodic=True, batch=False, dtype=None, device="auto"):
    """Two-point correlation map :math:`S_2(\\mathbf{r})` of ``phase``, by FFT.

    .. math:: S_2(\\mathbf{r}) = \\frac{1}{N}\\sum_{\\mathbf{x}} I(\\mathbf{x}) I(\\mathbf{x}+\\mathbf{r})
              = \\frac{1}{N}\\,\\mathcal{F}^{-1}\\big[|\\mathcal{F}[I]|^2\\big](\\mathbf{r})

    (Wiener–Khinchin; Torquato 2002, eq. 2.16 and §2.2). ``S2(0) = phi``, ``S2(r) = S2(-r)`` and, for a
    statistically homogeneous medium without long-range order, ``S2 -> phi**2`` at large ``|r|``.

    Parameters
    ----------
    labels : array or tensor, shape ``(*spatial)`` or ``(batch, *spatial)``, 2 or 3 spatial axes
        Integer phase labels (the indicator of ``phase`` is used), or a floating-point field in
        [0, 1] read as the relaxed indicator of phase 1 itself (``phase=0``: of ``1 - labels``). The float
        version is differentiable with torch autograd (used by reconstruction).
    phase : int
    periodic : bool
        ``True``: periodic image, map of the same shape as the image. ``False``: zero padding; the map
        has ``2 n - 1`` entries per axis (displacements ``-(n-1) .. n-1``, origin at index 0, negative
        ones at the end) and each displacement is normalized by its number of overlapping pixel
        pairs ``prod_d (n_d - |r_d|)``, so a uniform image gives exactly 1 everywhere.
    batch : bool
        ``True`` when the first axis is a batch axis (each image is transformed separately).
    dtype : torch.dtype, optional
        Computation dtype; default float64 for numpy input, the input's dtype for float tensors and
        torch's default dtype for integer tensors.
    device : str or torch.device
        Where to compute. ``"auto"`` (default): where a tensor lives; for numpy input CUDA when
        available, else the CPU. Numpy input gives numpy output regardless.

    Returns
    -------
    Array or tensor with the (batch and) displacement axes; same kind as ``labels``.

    References
    ----------
    S. Torquato, *Random Heterogeneous Materials*, Springer 2002, ch. 2.
    R. Bostanabad et al., Computational microstructure characterization and reconstruction:
    review of the state-of-the-art techniques, Prog. Mater. Sci. 95 (2018) 1–41.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import two_point_correlation
    >>> s2 = two_point_correlation(np.array([[1, 0], [0, 0]]))
    >>> s2.tolist()
    [[0.25, 0.0], [0.0, 0.0]]
    """
    periodic = check_flag(periodic, name="periodic")
    field, ndim = indicator(labels, phase, batch=batch, dtype=dtype, device=device)
    return finish(correlation_maps(field, field, ndim, periodic), labels, batch)


def cross_correlation(labels, phase_a, phase_b, *, periodic=True, batch=False, dtype=None, device="auto"):
    """Cross-correlation :math:`S_2^{(ab)}(\\mathbf{r}) = \\langle I^{(a)}(\\mathbf{x}) I^{(b)}(\\mathbf{x}+\\mathbf{r})\\rangle`.

    Computed as ``irfftn(conj(F[I_a]) F[I_b]) / N`` (Torquato 2002, §2.2). Note
    ``S2_ab(r) = S2_ba(-r)``; ``sum_b S2_ab(r) = phi_a``. Arguments as in
    :func:`two_point_correlation`.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import cross_correlation
    >>> cross_correlation(np.array([[0, 1, 2, 2]]), 1, 2).tolist()
    [[0.0, 0.25, 0.25, 0.0]]
    """
    periodic = check_flag(periodic, name="periodic")
    a, ndim = indicator(labels, phase_a, batch=batch, dtype=dtype, device=device)
    b, _ = indicator(labels, phase_b, batch=batch, dtype=dtype, device=device)
    return finish(correlation_maps(a, b, ndim, periodic), labels, batch)


def _shells(shape, bins, device, dtype):
    """Shell index of every map entry (-1: outside), the number of shells and their mean radii."""
    radius = torch.zeros((), dtype=torch.float64, device=device)
    for d, disp in enumerate(_common.lattice_displacements(shape, device)):
        view = [1] * len(shape)
        view[d] = -1
        radius = radius + disp.reshape(view).square()
    radius = radius.sqrt().flatten()
    r_max = min(n // 2 if n % 2 == 0 else (n - 1) // 2 for n in shape)
    if bins is None:
        edges = torch.arange(r_max + 2, dtype=torch.float64, device=device) - 0.5
    elif isinstance(bins, (int, np.integer)):
        check_positive(bins, name="bins")
        edges = torch.linspace(0, r_max, int(bins) + 1, dtype=torch.float64, device=device)
        edges[-1] = edges[-1] + 1e-9
    else:
        edges = torch.as_tensor(np.asarray(bins, dtype=np.float64), device=device)
        if edges.ndim != 1 or edges.numel() < 2 or not bool(torch.all(edges[1:] > edges[:-1])):
            raise ValueError("bins must be None, an int or an increasing 1D array of shell edges")
    n_bins = edges.numel() - 1
    index = torch.bucketize(radius, edges, right=True) - 1
    index[(index < 0) | (index >= n_bins)] = -1
    inside = index >= 0
    count = torch.bincount(index[inside], minlength=n_bins).to(torch.float64)
    rsum = torch.bincount(index[inside], weights=radius[inside], minlength=n_bins)
    centre = 0.5 * (edges[:-1] + edges[1:]).clamp(min=0)
    r = torch.where(count > 0, rsum / count.clamp(min=1), centre)
    return index, n_bins, r.to(dtype), count


def radial_average(s2_map, *, bins=None, batch=False):
    """Average a correlation map over shells of :math:`|\\mathbf{r}|`: ``(r, S2(r))``.

    The displacement of each map entry is its minimum-image displacement (index ``i`` of an axis of
    length ``n`` is ``i`` if ``i <= n // 2`` else ``i - n``), which is right for periodic maps and for the
    ``2 n - 1`` non-periodic maps of :func:`two_point_correlation` alike.

    Parameters
    ----------
    s2_map : array or tensor, shape ``(*spatial)`` or ``(batch, *spatial)``
    bins : None, int or 1D array
        ``None``: unit-width shells ``k - 1/2 <= |r| < k + 1/2`` for ``k = 0, 1, ..., r_max`` with
        ``r_max`` the largest radius fully inside the map (``min_d floor((n_d - 1) / 2)``, or ``n_d / 2``
        for even periodic axes). An int: that many equal shells on ``[0, r_max]``. An array: shell edges.
    batch : bool

    Returns
    -------
    r : array or tensor, shape ``(n_shells,)``
        The mean ``|r|`` of the lattice displacements in each shell (the shell centre if empty).
    s2_r : array or tensor, shape ``(n_shells,)`` or ``(batch, n_shells)``
        Shell averages (NaN for empty shells).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import radial_average
    >>> r, s = radial_average(np.ones((8, 8)))
    >>> r.shape, s.tolist()
    ((5,), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    ndim = check_spatial_ndim(s2_map, name="s2_map", batch=batch)
    check_finite(s2_map, name="s2_map")
    t = _backend.to_torch(s2_map)
    if not t.dtype.is_floating_point:
        t = t.to(torch.float64)
    if not batch:
        t = t.unsqueeze(0)
    index, n_bins, r, count = _shells(t.shape[-ndim:], bins, t.device, t.dtype)
    flat = t.flatten(1)
    inside = index >= 0
    sums = torch.zeros(flat.shape[0], n_bins, dtype=t.dtype, device=t.device)
    sums = sums.index_add(1, index[inside], flat[:, inside])
    values = sums / count.to(t.dtype)
    return _backend.like(r, s2_map), finish(values, s2_map, batch)


def two_point_cluster_function(labels, phase=1, *, periodic=True, batch=False, max_chunk=2**22):
    """Two-point cluster function :math:`C_2(\\mathbf{r})`: probability that ``x`` and ``x + r`` lie in
    the same connected cluster of ``phase`` (Torquato 2002, §2.5).

    .. math:: C_2(\\mathbf{r}) = \\sum_{c} S_2^{(c)}(\\mathbf{r}), \\qquad
              S_2^{(c)} = \\frac{1}{N}\\mathcal{F}^{-1}|\\mathcal{F}[I_c]|^2

    where :math:`I_c` is the indicator of cluster *c*. Clusters are face-connected
    (:func:`mslearn.descriptors.label_clusters`; merged across opposite faces when ``periodic``).
    ``C2 <= S2`` everywhere, ``C2 = S2`` for a single cluster and ``C2(0) = phi``.

    Cost: one FFT per cluster (clusters are transformed in batches of at most ``max_chunk``
    pixels in all), i.e. ``O(n_clusters N log N)`` — fine for up to a few thousand clusters on
    moderate images. Output layout as in :func:`two_point_correlation`.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import two_point_cluster_function
    >>> two_point_cluster_function(np.array([[1, 0, 1, 0]])).tolist()
    [[0.5, 0.0, 0.0, 0.0]]
    """
    periodic = check_flag(periodic, name="periodic")
    from .morphology import label_clusters

    max_chunk = check_integer(max_chunk, 1, name="max_chunk")   # the most values transformed at once
    tensor, ndim = _common.labels_tensor(labels, batch=batch, phase=phase)
    dtype = _common.result_dtype(labels)
    out = []
    for image in tensor:
        mask = image.cpu().numpy() == phase
        if not mask.any():      # an image of a batch without the phase: C2 = 0 (as S2 = 0)
            empty = torch.zeros((1,) + tuple(image.shape), dtype=dtype, device=image.device)
            out.append(correlation_maps(empty, empty, ndim, periodic)[0])
            continue
        clusters, n = label_clusters(mask, periodic=periodic)
        clusters = torch.from_numpy(clusters).to(image.device)
        total = None
        chunk = max(1, max_chunk // clusters.numel())
        for start in range(1, n + 1, chunk):
            ids = torch.arange(start, min(start + chunk, n + 1), device=image.device)
            ind = (clusters.unsqueeze(0) == ids.reshape((-1,) + (1,) * ndim)).to(dtype)
            part = correlation_maps(ind, ind, ndim, periodic).sum(0)
            total = part if total is None else total + part
        out.append(total)
    return finish(torch.stack(out), labels, batch)


@dataclass(frozen=True)
class SpecificSurface:
    """Specific surface (interface area per unit volume, per pixel/voxel unit) by two estimators.

    Attributes
    ----------
    s2 : float or array or None
        From the slope of the radially averaged S2 at the origin.
    count : float or array or None
        From the number of phase-changing faces, with the Cauchy–Crofton correction.
    """

    s2: object = None
    count: object = None


def specific_surface(labels, phase=1, *, method="both", periodic=True, batch=False, fit_range=2):
    """Specific surface :math:`s` (interface area per unit volume; length per area in 2D).

    **From S2** (``method="s2"``): for an isotropic medium with a smooth interface
    :math:`S_2(r) = \\phi - s\\,r/\\pi + O(r^2)` in 2D and :math:`\\phi - s\\,r/4 + O(r^2)` in 3D, i.e.
    :math:`s = -\\pi S_2'(0)` (2D) and :math:`s = -4 S_2'(0)` (3D) (Torquato 2002, eq. 2.27 ff.).
    Estimator: the slope ``a`` of a least-squares line through ``(0, phi)`` fitted to the radially
    averaged S2 (:func:`radial_average`, unit shells, abscissa = mean shell radius) over the shells
    ``1 <= k <= fit_range``: ``a = sum_k r_k (S2_k - phi) / sum_k r_k**2``.

    **By counting** (``method="count"``): ``F`` = number of nearest-neighbour pixel faces separating
    ``phase`` from another phase (image-boundary faces are counted only through the periodic wrap).
    Along axis *d* a boundary element of area ``dA`` with normal ``n`` is crossed ``|n_d| dA`` times, so
    ``F = sum_d sum |n_d| dA``. Averaged over orientations (Cauchy–Crofton), ``<|n_d|>`` is ``2/pi`` in
    2D and ``1/2`` in 3D, giving ``F = (4/pi) S`` (2D) and ``F = (3/2) S`` (3D); hence
    ``s = (pi/4) F / N`` in 2D and ``s = (2/3) F / N`` in 3D. For a digitized convex body ``F`` is
    exactly twice the sum of its projected extents, so both estimators are unbiased for
    disks and spheres.

    Parameters
    ----------
    labels : integer array or tensor, ``(*spatial)`` or ``(batch, *spatial)``
    phase : int
    method : {"both", "s2", "count"}
    periodic, batch : bool
    fit_range : int
        Number of unit shells used by the S2 slope fit (small: the fit assumes ``r`` much smaller
        than the feature size).

    Returns
    -------
    SpecificSurface
        ``s2`` and ``count`` (``None`` for a method not asked for); floats for unbatched numpy input.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import specific_surface
    >>> stripes = np.zeros((16, 16), int); stripes[:, :8] = 1
    >>> round(specific_surface(stripes).count, 4)   # true value 32/256; stripes are not isotropic
    0.0982
    """
    periodic = check_flag(periodic, name="periodic")
    if method not in ("both", "s2", "count"):
        raise ValueError(f"method={method!r} is not one of 'both', 's2', 'count'")
    check_integer(fit_range, 1, name="fit_range")
    field, ndim = indicator(labels, phase, batch=batch, soft=False)
    from_s2 = from_count = None
    if method in ("both", "s2"):
        s2 = correlation_maps(field, field, ndim, periodic)
        r, s2_r = radial_average(s2, batch=True)
        if len(r) < 2:
            raise ValueError(f"the image (spatial shape {tuple(field.shape[-ndim:])}) is too small for the S2 slope: "
                             "its radially averaged S2 has no shell at radius >= 1; use method='count'")
        if fit_range >= len(r):
            raise ValueError(f"fit_range={fit_range} reaches past the largest radius of S2 for this image "
                             f"({len(r) - 1} pixels); expected 1 <= fit_range <= {len(r) - 1} (default 2: near the "
                             "origin), or method='count'")
        k = slice(1, fit_range + 1)
        phi = field.flatten(1).mean(1, keepdim=True)
        slope = ((s2_r[:, k] - phi) * r[k]).sum(1) / r[k].square().sum()
        from_s2 = finish(-(math.pi if ndim == 2 else 4.0) * slope, labels, batch)
    if method in ("both", "count"):
        n_faces = torch.zeros(field.shape[0], dtype=field.dtype, device=field.device)
        for d in range(ndim):
            dim = field.ndim - ndim + d
            if periodic:
                diff = field - torch.roll(field, 1, dims=dim)
            else:
                diff = torch.diff(field, dim=dim)
            n_faces = n_faces + diff.abs().flatten(1).sum(1)
        factor = math.pi / 4 if ndim == 2 else 2.0 / 3.0
        from_count = finish(factor * n_faces / field[0].numel(), labels, batch)
    return SpecificSurface(s2=from_s2, count=from_count)
