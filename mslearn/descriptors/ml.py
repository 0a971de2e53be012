"""Learned-style descriptors: fixed CNN features and Gram matrices, PCA of correlations, search.

**Why a fixed network.** Texture descriptors from the Gram matrices of CNN feature maps
(Gatys, Ecker & Bethge 2015) are usually taken from an ImageNet-trained VGG-19, but no weights can
be downloaded at run time here, and the book must run offline and deterministically. Gram
statistics of *fixed* multiscale filters are a known good texture descriptor: Portilla &
Simoncelli (2000) use oriented multiscale filter-response correlations, and Ustyuzhaninov et al.
(2017, "What does it take to generate natural textures?", ICLR) showed that even a single layer of
random filters synthesizes convincing textures. :class:`FeatureNetwork` is therefore a small
VGG-like stack: analytic Gaussian-derivative filters (orders 0–2, a discrete "jet") followed by
3x3 convolutions with weights drawn from a fixed seed and dilations 2, 4, 8 (growing receptive
field without down-sampling, so features stay translation-equivariant). With periodic (circular)
padding the Gram matrices are exactly invariant to periodic translations of the image.
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA

from .. import _backend
from .._validation import (check_finite, check_flag, check_integer, check_labels, check_phase_present,
                           check_spatial_ndim)
from ..nn import periodic_pad
from . import _common
from .correlations import central_window, two_point_correlation

__all__ = ["FeatureNetwork", "cnn_features", "gram_matrices", "filters", "pca_of_correlations",
           "nearest_microstructures"]


def _gaussian_jet(ndim, sigma):
    """Gaussian and its scale-normalized derivatives up to order 2 on a ``(2 ceil(3 sigma) + 1)^ndim`` grid."""
    radius = int(math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-x**2 / (2 * sigma**2))
    g /= g.sum()
    d1 = -x / sigma * g                          # sigma * dg/dx
    d2 = (x**2 / sigma**2 - 1) * g               # sigma**2 * d2g/dx2
    d2 -= d2.sum() * g                           # zero mean on the grid
    one_d = [g, d1, d2]
    kernels, names = [], []
    for total in range(3):
        for alpha in itertools.product(range(total + 1), repeat=ndim):
            if sum(alpha) != total:
                continue
            kernel = functools.reduce(np.multiply.outer, [one_d[a] for a in alpha])
            kernels.append(kernel)
            names.append("G" + ("_" + "".join(str(d) * a for d, a in enumerate(alpha)) if total else ""))
    order = sorted(range(len(names)), key=lambda i: (len(names[i]), names[i]))
    return np.stack([kernels[i] for i in order]), [names[i] for i in order]


def _pad(x, pad, ndim, periodic):
    if pad == 0 or periodic:
        return periodic_pad(x, pad, ndim)   # the networks' one periodic padding; wraps any pad width
    return F.pad(x, (pad, pad) * ndim)


class FeatureNetwork(torch.nn.Module):
    """Fixed multiscale convolutional feature extractor (no training, no downloaded weights).

    Layer 0: the Gaussian jet (Gaussian and its derivatives up to order 2, scale ``sigma``; 6 filters
    in 2D, 10 in 3D) applied to ``x - 0.5`` and rectified with both signs (``relu(r)``, ``relu(-r)``).
    Layers ``1 .. n_layers - 1``: 3x3(x3) convolutions with ``channels`` filters, weights
    ``N(0, 2 / fan_in)`` from ``torch.Generator`` seeded with ``seed`` (He initialization), dilation
    ``2**l``, ReLU. Receptive field ``2 ceil(3 sigma) + 1 + 2 (2 + 4 + ...)`` pixels (35 by default).

    Parameters
    ----------
    ndim : {2, 3}
    n_layers : int
    channels : int
    sigma : float
    seed : int
        An int >= 0 (``None`` is refused: ValueError, so that the same call gives the same filters).
    periodic : bool
        Circular padding (``True``) or zero padding.

    Examples
    --------
    >>> import torch
    >>> from mslearn.descriptors import FeatureNetwork
    >>> net = FeatureNetwork(2)
    >>> [f.shape[1] for f in net(torch.rand(1, 1, 16, 16))]
    [12, 32, 32, 32]
    """

    def __init__(self, ndim=2, *, n_layers=4, channels=32, sigma=1.0, seed=0, periodic=True):
        super().__init__()
        if ndim not in (2, 3):
            raise ValueError(f"ndim={ndim}; expected 2 or 3")
        n_layers = check_integer(n_layers, 1, name="n_layers")
        channels = check_integer(channels, 1, name="channels")
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise ValueError(f"sigma = {sigma!r}; expected a positive width of the Gaussian filters")
        self.ndim, self.periodic, self.sigma = ndim, check_flag(periodic, name="periodic"), sigma
        jet, self.filter_names = _gaussian_jet(ndim, sigma)
        self.register_buffer("weight0", torch.from_numpy(jet).unsqueeze(1))
        generator = _backend.torch_generator(seed)
        fan_in = 2 * len(jet)
        for layer in range(1, n_layers):
            weight = torch.randn((channels, fan_in) + (3,) * ndim, generator=generator, dtype=torch.float64)
            self.register_buffer(f"weight{layer}", weight * math.sqrt(2.0 / (fan_in * 3**ndim)))
            fan_in = channels
        self.n_layers = n_layers

    def filters(self, layer=0):
        """Filter weights of ``layer`` as a tensor ``(out, in, *kernel)``; layer 0 names: ``filter_names``.

        Parameters
        ----------
        layer : int, default 0
            In ``0 .. n_layers - 1``.

        Returns
        -------
        torch.Tensor of float64, shape ``(out, in, *kernel)``
            Layer 0: the Gaussian jet ``(n_jet, 1, k, ...)`` (``n_jet`` 6 in 2D, 10 in 3D;
            ``k = 2 ceil(3 sigma) + 1``); layer ``l >= 1``: ``(channels, fan_in, 3, ...)``. The network's
            buffer itself, not a copy.

        Raises
        ------
        ValueError
            If ``layer`` is not in ``0 .. n_layers - 1``.
        """
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer={layer}; the network has layers 0..{self.n_layers - 1}")
        return getattr(self, f"weight{layer}")

    def forward(self, x, up_to=None):
        """Feature maps of layers ``0 .. up_to`` (default all) for ``x`` of shape ``(batch, 1, *spatial)``.

        Called as ``network(x)`` (torch's ``Module.__call__``).

        Parameters
        ----------
        x : torch.Tensor, shape ``(batch, 1, *spatial)``
            Two-phase indicator images (phase 1 as 1; values in [0, 1] allowed), ``ndim`` spatial axes,
            floating point.
        up_to : int, optional
            Last layer computed, in ``0 .. n_layers - 1`` (else ValueError); default ``None``: ``n_layers - 1``.

        Returns
        -------
        list of torch.Tensor
            ``up_to + 1`` maps of the spatial shape of ``x``, in its dtype and on its device: layer 0
            ``(batch, 2 n_jet, *spatial)`` (both signs of each jet response), layer ``l >= 1``
            ``(batch, channels, *spatial)``.
        """
        conv = F.conv2d if self.ndim == 2 else F.conv3d
        last = self.n_layers - 1 if up_to is None else check_integer(up_to, 0, name="up_to")
        if last >= self.n_layers:
            raise ValueError(f"up_to = {last}; the network has layers 0..{self.n_layers - 1}")
        w = self.weight0.to(x)
        response = conv(_pad(x - 0.5, w.shape[-1] // 2, self.ndim, self.periodic), w)
        h = torch.relu(torch.cat([response, -response], 1))
        features = [h]
        for layer in range(1, last + 1):
            dilation = 2**layer
            w = getattr(self, f"weight{layer}").to(x)
            h = torch.relu(conv(_pad(h, dilation, self.ndim, self.periodic), w, dilation=dilation))
            features.append(h)
        return features


@functools.lru_cache(maxsize=8)
def _default_network(ndim, periodic):
    return FeatureNetwork(ndim, periodic=periodic)


def filters(ndim=2, layer=0):
    """Filters of the default :class:`FeatureNetwork` as a numpy array ``(out, in, *kernel)``.

    Layer 0 holds the Gaussian jet, named by ``FeatureNetwork(ndim).filter_names`` (``"G"``, ``"G_0"``
    = first derivative along axis 0, ``"G_01"`` = mixed second derivative, ...).

    Returns
    -------
    numpy.ndarray of float64
        A copy: editing it leaves the cached default network (and every later descriptor it computes)
        unchanged.

    Examples
    --------
    >>> from mslearn.descriptors import filters
    >>> filters(2).shape
    (6, 1, 7, 7)
    """
    return _default_network(ndim, True).filters(layer).cpu().numpy().copy()


def _image_tensor(field, batch, dtype=None, device="auto"):
    ndim = check_spatial_ndim(field, name="field", batch=batch)
    if _common.is_float_input(field):
        check_finite(field, name="field")
    else:
        check_labels(field, name="field", batch=batch)
    t = _backend.to_torch(field, device, dtype=_common.result_dtype(field, dtype))
    return (t if batch else t.unsqueeze(0)).unsqueeze(1), ndim


def _run(field, layers, batch, network, periodic, device):
    t, ndim = _image_tensor(field, batch, device=device)
    network = network or _default_network(ndim, periodic)
    if network.ndim != ndim:
        raise ValueError(f"field has {ndim} spatial dimensions but the network is {network.ndim}D")
    chosen = list(range(network.n_layers)) if layers is None else list(np.atleast_1d(layers))
    if not chosen:
        raise ValueError(f"layers={layers!r} is empty; expected layer numbers 0..{network.n_layers - 1} "
                         "(or None for all)")
    for layer in chosen:
        if check_integer(layer, 0, name="each of layers") >= network.n_layers:
            raise ValueError(f"layers={layers!r}; the network has layers 0..{network.n_layers - 1}")
    features = network(t, up_to=max(chosen))
    return [features[layer] for layer in chosen]


def cnn_features(field, *, layers=None, batch=False, network=None, periodic=True, device="auto"):
    """Feature maps of :class:`FeatureNetwork` for an image.

    Parameters
    ----------
    field : array or tensor, ``(*spatial)`` or ``(batch, *spatial)``
        Intensities in about [0, 1]: a float (relaxed) indicator / grey-scale image, or integer labels
        (used as intensities; for two phases the indicator of phase 1).
    layers : int or sequence of int, optional
        Which layers (default all).
    batch : bool
    network : FeatureNetwork, optional
        Default: ``FeatureNetwork(ndim, periodic=periodic)`` (cached).
    periodic : bool
    device : str or torch.device
        ``"auto"`` (default): where a tensor lives; numpy input on CUDA when available, else the CPU.

    Returns
    -------
    list of arrays or tensors ``(channels, *spatial)`` (with a leading batch axis if ``batch``).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import cnn_features
    >>> [f.shape for f in cnn_features(np.zeros((8, 8)), layers=[0, 3])]
    [(12, 8, 8), (32, 8, 8)]
    """
    periodic = check_flag(periodic, name="periodic")
    return [_common.finish(f, field, batch) for f in _run(field, layers, batch, network, periodic, device)]


def gram_matrices(field, *, layers=None, batch=False, network=None, periodic=True, device="auto"):
    """Normalized Gram matrices of the feature maps (Gatys, Ecker & Bethge 2015).

    .. math:: G^{l}_{ij} = \\frac{1}{M_l} \\sum_{\\mathbf{x}} F^{l}_{i}(\\mathbf{x}) F^{l}_{j}(\\mathbf{x})

    with :math:`F^l_i` the *i*-th feature map of layer *l* and :math:`M_l` its number of pixels: the
    spatial average of feature products, independent of the image size. Differentiable with respect
    to a float input (used by texture-based reconstruction). Arguments as in :func:`cnn_features`.

    References
    ----------
    L. A. Gatys, A. S. Ecker, M. Bethge, Texture synthesis using convolutional neural networks,
    NeurIPS 2015.

    Returns
    -------
    list of arrays or tensors ``(channels, channels)`` (with a leading batch axis if ``batch``).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import gram_matrices
    >>> [g.shape for g in gram_matrices(np.eye(8), layers=[0, 1])]
    [(12, 12), (32, 32)]
    """
    periodic = check_flag(periodic, name="periodic")
    out = []
    for f in _run(field, layers, batch, network, periodic, device):
        flat = f.flatten(2)
        out.append(_common.finish(flat @ flat.transpose(1, 2) / flat.shape[2], field, batch))
    return out


def _stack(data, name):
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            raise ValueError(f"{name} is empty; expected at least one microstructure")
        shapes = {tuple(d.shape) for d in data}
        if len(shapes) != 1:
            raise ValueError(f"{name} holds images of different shapes {sorted(shapes)}; expected one shape")
        return torch.stack([_backend.to_torch(d) for d in data]) if _backend.is_torch(data[0]) \
            else np.stack([np.asarray(d) for d in data])
    return data


def pca_of_correlations(labels, n_components=None, *, phase=1, periodic=True, window=None, seed=0):
    """PCA (scikit-learn) of flattened S2 maps over a set of microstructures.

    The standard reduced-order statistics representation (Niezgoda, Kalidindi et al.; Bostanabad et
    al. 2018, §3.3): each microstructure is represented by the principal-component scores of its
    two-point correlation map.

    Parameters
    ----------
    labels : sequence of label images or array ``(n, *spatial)``
        The S2 maps of ``phase`` are computed, batched.
    n_components : int or float, optional
        Passed to :class:`sklearn.decomposition.PCA`.
    phase : int, default 1
        The phase label whose S2 (autocorrelation) maps are computed.
    periodic : bool
    window : int, optional
        Keep only displacements with ``|r_d| <= window`` (a ``(2 window + 1)^ndim`` central window).
    seed : int or numpy.random.Generator
        Seeds scikit-learn's randomized solver, which its ``svd_solver="auto"`` chooses for some large
        inputs (the rule depends on the scikit-learn version); without a seed it drew from numpy's
        global generator, so the scores changed from call to call.

    Returns
    -------
    pca : sklearn.decomposition.PCA (fitted)
    scores : ndarray ``(n, n_components)``

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import pca_of_correlations
    >>> images = np.random.default_rng(0).integers(0, 2, (10, 16, 16))
    >>> pca, scores = pca_of_correlations(images, 3, window=4)
    >>> scores.shape
    (10, 3)
    """
    periodic = check_flag(periodic, name="periodic")
    labels = _stack(labels, "labels")
    ndim = check_spatial_ndim(labels, name="labels", batch=True)
    maps = two_point_correlation(labels, phase, periodic=periodic, batch=True)
    maps = maps.detach().cpu().numpy() if _backend.is_torch(maps) else np.asarray(maps)
    features = central_window(maps, window, ndim).reshape(len(maps), -1)
    if isinstance(n_components, numbers.Integral):
        n_components = check_integer(n_components, 1, name="n_components")
    elif n_components is not None and not (isinstance(n_components, numbers.Real) and 0 < n_components < 1):
        raise ValueError(f"n_components = {n_components!r}; expected an integer >= 1, a fraction of the variance "
                         "in (0, 1), or None")
    random_state = int(_backend.rng(seed).integers(2**31 - 1))    # as the package seeds scikit-learn elsewhere
    pca = PCA(n_components=n_components, random_state=random_state).fit(features)
    return pca, pca.transform(features)


def _descriptor_function(descriptor, phase, periodic, window=None, present=True):
    """``describe(x)``: the ``(m, d)`` features of a batch; with ``present=False`` an image of labels without
    ``phase`` has the descriptors of an empty indicator (S2 = 0) instead of being refused."""
    if callable(descriptor):
        return lambda x: _backend.to_torch(descriptor(x)).reshape(len(x), -1).to(torch.float64)
    if descriptor == "s2":
        def s2(x):
            field, _ = _common.indicator(x, phase, batch=True, dtype=torch.float64, present=present)
            maps = two_point_correlation(field, periodic=periodic, batch=True)
            return (maps if window is None else central_window(maps, window, maps.ndim - 1)).flatten(1)
        return s2
    if descriptor == "gram":
        def gram(x):
            field, _ = _common.indicator(x, phase, batch=True, dtype=torch.float64, present=present)
            grams = gram_matrices(field, batch=True, periodic=periodic)
            parts = []
            for g in grams:
                i, j = torch.triu_indices(g.shape[1], g.shape[1], device=g.device)
                parts.append(g[:, i, j])
            return torch.cat(parts, 1)
        return gram
    raise ValueError(f"descriptor={descriptor!r}; expected 's2', 'gram' or a callable")


def nearest_microstructures(labels, database, *, descriptor="s2", k=1, phase=1, batch=False, periodic=True,
                            window=None, chunk=256):
    r"""The ``k`` microstructures of ``database`` closest to ``labels`` in a descriptor space.

    Instance-based retrieval (Bostanabad et al. 2018, §4): distances are Euclidean between descriptor
    vectors, computed in batches of ``chunk`` images.

    Parameters
    ----------
    labels : array or tensor ``(*spatial)`` or ``(n_queries, *spatial)`` with ``batch=True``
        The query microstructure(s).
    database : array or tensor ``(n, *spatial)`` or a sequence of images of one shape
    descriptor : {"s2", "gram"} or callable
        ``"s2"``: the flattened S2 map of ``phase`` (images of one shape); ``"gram"``: the upper
        triangles of the Gram matrices of all layers (of the indicator of ``phase``); a callable maps
        a batch ``(m, *spatial)`` tensor to ``(m, d)`` features.
    k : int
    phase : int
    batch, periodic : bool
    window : int, optional
        With ``descriptor="s2"``: compare only displacements with ``|r_d| <= window`` (the central
        ``(2 window + 1)^ndim`` window, as in :func:`pca_of_correlations`). At large displacements a
        single image's S2 is :math:`\phi^2` plus sampling noise, and thousands of noisy entries can
        outweigh the informative short-range ones; a window of a few feature sizes removes them.
    chunk : int, default 256
        Database images described per batch: bounds the memory, not the result.

    Returns
    -------
    indices : int array ``(k,)`` (``(n_queries, k)`` if ``batch``), nearest first
    distances : float array, same shape

    Raises
    ------
    ValueError
        If ``phase`` does not occur in ``labels`` or in any image of ``database`` (integer labels with
        ``"s2"`` or ``"gram"``). A database image without it is compared by the descriptors of its empty
        indicator (S2 = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import nearest_microstructures
    >>> db = np.random.default_rng(0).integers(0, 2, (5, 8, 8))
    >>> nearest_microstructures(db[3], db)[0].tolist()
    [3]
    >>> nearest_microstructures(db[3], db, window=2)[0].tolist()
    [3]
    """
    periodic = check_flag(periodic, name="periodic")
    check_integer(k, 1, name="k")
    database = _stack(database, "database")
    check_spatial_ndim(database, name="database", batch=True)
    if k > len(database):
        raise ValueError(f"k={k} is larger than the database ({len(database)} microstructures)")
    ndim = check_spatial_ndim(labels, name="labels", batch=batch)
    if tuple(np.shape(labels)[-ndim:]) != tuple(database.shape[-ndim:]) or database.ndim != ndim + 1:
        # a descriptor's length depends on the image shape: the distances need one shape
        raise ValueError(f"labels has the image shape {tuple(np.shape(labels)[-ndim:])} and database "
                         f"{tuple(database.shape[1:])}; expected images of one shape")
    if window is not None:
        if not isinstance(descriptor, str) or descriptor != "s2":
            raise ValueError(f"window={window!r} applies to descriptor='s2' only, not {descriptor!r}")
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
            raise ValueError(f"window={window!r}; expected a non-negative integer (displacements |r_d| <= window)")
        smallest = min(database.shape[-ndim:])
        if 2 * window + 1 > smallest:
            raise ValueError(f"window={window} needs images of at least {2 * window + 1} pixels per axis; "
                             f"the smallest side is {smallest}")
    chunk = check_integer(chunk, 1, name="chunk")
    q = _backend.to_torch(labels)
    q = _descriptor_function(descriptor, phase, periodic, window)(q if batch else q.unsqueeze(0))
    if isinstance(descriptor, str) and not _common.is_float_input(database):
        # a phase absent from the whole database is a wrong label; absent from one image it is that image's
        # true (empty) descriptor, whichever chunk the image falls in
        check_labels(database, name="database", batch=True)
        check_phase_present(database, phase, name="database")
    describe = _descriptor_function(descriptor, phase, periodic, window, present=False)
    db = _backend.to_torch(database)
    features = torch.cat([describe(db[i:i + chunk]).to(q) for i in range(0, len(db), chunk)])
    distances, indices = torch.topk(torch.cdist(q, features), k, dim=1, largest=False)
    return _common.finish(indices, labels, batch), _common.finish(distances, labels, batch)
