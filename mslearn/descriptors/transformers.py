"""Descriptors as scikit-learn transformers: a batch of label images -> a feature matrix.

:class:`TwoPointCorrelation` maps images ``(n, *spatial)`` to the flattened central windows of their
S2 maps, ``(n, (2 window + 1)^ndim)``; :class:`DescriptorTransformer` does the same for any descriptor
function of this package (or one written like them). As scikit-learn transformers they are the first
step of a :class:`~sklearn.pipeline.Pipeline`, so that "two-point statistics -> PCA -> regressor" is
one estimator, cross-validated and tuned as a whole by
:class:`~sklearn.model_selection.GridSearchCV` (``twopointcorrelation__window``, ``pca__n_components``
...), the representation of Kalidindi and co-workers (Fullwood et al. 2010; Gupta et al. 2015).

Why hand-written: PyMKS offers such transformers, but computes in numpy (no GPU, no autograd) and
would add a dependency for what is here a thin wrapper over :func:`two_point_correlation`. The
transformers learn nothing: ``fit`` only checks the images and records their shape (the number of
output features); ``transform`` gives exactly the numbers of the descriptor function.

Input is a stack of images, not a 2-D table: the transformers take arrays of 3 or 4 dimensions
(``(n, *spatial)`` with 2 or 3 spatial axes) and therefore set no ``n_features_in_`` (scikit-learn's
count of input *columns*); they record ``image_shape_`` instead, and their output has
``n_features_out_`` columns named by :meth:`~TwoPointCorrelation.get_feature_names_out`.

References
----------
D. T. Fullwood, S. R. Niezgoda, B. L. Adams, S. R. Kalidindi, Microstructure sensitive design for
performance optimization, Prog. Mater. Sci. 55 (2010) 477-562.
A. Gupta, A. Cecen, S. Goyal, A. K. Singh, S. R. Kalidindi, Structure-property linkages using a data
science approach, Acta Mater. 91 (2015) 239-254.
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import _backend
from .._validation import check_finite, check_flag, check_integer, check_labels, check_phase_present, check_spatial_ndim
from .correlations import central_window, two_point_correlation

__all__ = ["TwoPointCorrelation", "DescriptorTransformer"]


def _images(X, *, labels):
    """``X`` as a numpy array or torch tensor ``(n, *spatial)``, checked; integer labels if ``labels``."""
    if not isinstance(X, torch.Tensor):
        try:
            X = np.asarray(X)
        except ValueError as error:  # ragged list of images
            raise ValueError(f"X could not be stacked into one array ({error}); expected images of "
                             "one shape, (n_images, *spatial)") from None
        if X.dtype == object:
            raise TypeError("X must be a numeric array of images (n_images, *spatial), got dtype object")
    check_spatial_ndim(X, name="X", batch=True)
    if not labels:
        check_finite(X, name="X")
        return X
    check_labels(X, name="X", batch=True)
    if isinstance(X, np.ndarray) and X.dtype.kind == "f":
        # integral floats (e.g. images read from disk): as labels, not as a relaxed indicator
        X = X.astype(np.int64)
    elif isinstance(X, torch.Tensor) and X.dtype.is_floating_point:
        X = X.round().long()
    return X


def _check_window(window):
    if window is not None:   # None: the whole map; else displacements |r_d| <= window
        check_integer(window, 0, name="window")


def _displacements(n):
    """Signed displacement of each index of a map axis of length ``n`` (origin at 0, negatives wrapped)."""
    i = np.arange(n)
    return np.where(i <= n // 2, i, i - n)


class _ImageTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/transform logic: image checks, shape bookkeeping, windowing and flattening."""

    _labels_only = True   # integer labels required (False: any finite array, checked by the descriptor)
    _prefix = "feature"

    def _maps(self, X):  # pragma: no cover - implemented by the subclasses
        raise NotImplementedError

    def _validate_parameters(self):
        _check_window(self.window)
        _backend.device(self.device)  # a clear error for a bad device now, not deep in torch

    def _features(self, X):
        """``(n, n_features)`` float64 numpy features of checked images ``X``."""
        ndim = X.ndim - 1
        maps = self._maps(X)
        if isinstance(maps, (list, tuple)) and maps and self.window is None:
            # several arrays per image (cnn_features' layers, gram_matrices'): each flattened, side by side
            return np.concatenate([self._flat(part, X, ndim) for part in maps], axis=1)
        return self._flat(maps, X, ndim)

    def _flat(self, maps, X, ndim):
        """One descriptor array ``(n, ...)`` as ``(n, features)`` float64, its window taken when set."""
        if not hasattr(maps, "shape") or maps.ndim < 1 or maps.shape[0] != X.shape[0]:
            shape = getattr(maps, "shape", None)
            raise TypeError(f"the descriptor returned {type(maps).__name__} of shape {shape} for "
                            f"{X.shape[0]} images; expected an array (n_images, ...): one row per image (or, "
                            "with window=None, a list of such arrays)")
        if self.window is not None:
            if maps.ndim < 1 + ndim:
                raise ValueError(f"window={self.window} needs displacement maps with {ndim} spatial axes, but "
                                 f"the descriptor returned shape {tuple(maps.shape)}; use window=None")
            maps = central_window(maps, self.window, ndim)
        if isinstance(maps, torch.Tensor):
            maps = maps.detach().cpu().numpy()
        return np.asarray(maps, dtype=np.float64).reshape(X.shape[0], -1)

    def _check_against_fit(self, X):
        shape = tuple(X.shape[1:])
        if len(shape) != len(self.image_shape_):
            raise ValueError(f"X has images of shape {shape}, but {type(self).__name__} was fitted on images "
                             f"of shape {self.image_shape_}; expected {len(self.image_shape_)} spatial axes")
        if self.window is None and shape != self.image_shape_:
            raise ValueError(f"X has images of shape {shape}, but {type(self).__name__} was fitted on images "
                             f"of shape {self.image_shape_}; with window=None the number of features depends "
                             "on the image shape (set window to compare images of other sizes)")

    def fit(self, X, y=None):
        """Check the images and record their shape; nothing is learned.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape ``(n_images, *spatial)``
            2 or 3 spatial axes.
        y : ignored
            Accepted for :class:`~sklearn.pipeline.Pipeline` compatibility.

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """:meth:`fit`, then :meth:`transform` the same images (computed once)."""
        self._validate_parameters()
        X = _images(X, labels=self._labels_only)
        features = self._features(X)
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_features_out_ = features.shape[1]
        return features

    def transform(self, X):
        """The flattened (windowed) descriptor of every image.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape ``(n_images, *spatial)``
            Same number of spatial axes as in :meth:`fit` (and the same shape when ``window=None``).

        Returns
        -------
        numpy.ndarray
            Shape ``(n_images, n_features_out_)``, float64.
        """
        check_is_fitted(self, "image_shape_")
        self._validate_parameters()
        X = _images(X, labels=self._labels_only)
        self._check_against_fit(X)
        return self._features(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns (``input_features`` is ignored: the input is images).

        Parameters
        ----------
        input_features : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        numpy.ndarray of str, shape ``(n_features_out_,)``

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"{self._prefix}{k}" for k in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False   # a stack of images, (n, *spatial)
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["3darray"], "requires_fit": True}


class TwoPointCorrelation(_ImageTransformer):
    r"""Two-point correlation :math:`S_2(\mathbf r)` of a phase as a scikit-learn transformer.

    ``transform`` maps label images ``(n, *spatial)`` to the central window
    :math:`|r_d| \le` ``window`` of their S2 maps, flattened: ``(n, (2 window + 1)^ndim)``, exactly the
    numbers of :func:`~mslearn.descriptors.two_point_correlation` (``batch=True``) passed through
    :func:`~mslearn.descriptors.central_window` (origin in the middle of the window, row-major).

    Parameters
    ----------
    phase : int
        The phase whose indicator is correlated; it must occur in the images.
    periodic : bool
        Periodic images (maps of the image's shape) or zero padding with the unbiased normalization
        (maps of ``2 n - 1`` entries per axis), as in :func:`~mslearn.descriptors.two_point_correlation`.
    window : int, optional
        Largest displacement kept on every axis. None keeps the whole map (then transform needs images
        of the fitted shape); an integer makes the features independent of the image size, so images
        of another size can be transformed.
    device : str or torch.device
        Where the FFTs run: ``"auto"`` (default, CUDA when available), ``"cpu"``, ``"cuda"``, ...
        The output is a numpy array regardless.

    Attributes
    ----------
    image_shape_ : tuple of int
        Spatial shape of the images seen in :meth:`fit`.
    n_features_out_ : int
        Number of output columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.pipeline import make_pipeline
    >>> from mslearn.descriptors import TwoPointCorrelation
    >>> images = np.random.default_rng(0).integers(0, 2, (12, 16, 16))
    >>> TwoPointCorrelation(window=2, device="cpu").fit_transform(images).shape
    (12, 25)
    >>> make_pipeline(TwoPointCorrelation(window=3, device="cpu"), PCA(2)).fit_transform(images).shape
    (12, 2)
    """

    _prefix = "s2"

    def __init__(self, phase=1, *, periodic=True, window=None, device="auto"):
        self.phase = phase
        self.periodic = periodic
        self.window = window
        self.device = device

    def _validate_parameters(self):
        super()._validate_parameters()
        if isinstance(self.phase, bool) or not isinstance(self.phase, numbers.Integral) or self.phase < 0:
            raise ValueError(f"phase={self.phase!r}; expected a phase label 0, 1, ...")
        check_flag(self.periodic, name="periodic")

    def _maps(self, X):
        check_phase_present(X, self.phase, name="X")
        return two_point_correlation(X, self.phase, periodic=bool(self.periodic), batch=True, device=self.device)

    def get_feature_names_out(self, input_features=None):
        """Output column names ``"s2(r_1,r_2)"`` (or ``"s2(r_1,r_2,r_3)"``): the displacement of each column.

        Parameters
        ----------
        input_features : None
            Ignored (scikit-learn's signature; the input is images, without column names).

        Returns
        -------
        numpy.ndarray of str, shape ``(n_features_out_,)``

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "n_features_out_")
        if self.window is not None:
            axes = [np.arange(-self.window, self.window + 1)] * len(self.image_shape_)
        else:
            axes = [_displacements(n if self.periodic else 2 * n - 1) for n in self.image_shape_]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
        return np.asarray([f"s2({','.join(map(str, r))})" for r in grid], dtype=object)


class DescriptorTransformer(_ImageTransformer):
    """Any batched descriptor function as a scikit-learn transformer.

    ``transform(X)`` returns ``descriptor(X, batch=True, **kw_args)`` flattened to ``(n, n_features)``,
    after the central window ``|r_d| <= window`` of displacement maps when ``window`` is set. Works
    with the descriptors of :mod:`mslearn.descriptors` that take ``batch=True`` and return an array
    (``two_point_correlation``, ``cross_correlation``, ``two_point_cluster_function``, ``lineal_path``
    ...) or a list of arrays, one per layer (``cnn_features``, ``gram_matrices``: each flattened, side by
    side, ``window`` None), and with any function written the same way.

    Parameters
    ----------
    descriptor : callable
        ``descriptor(images, batch=True, **kw_args)`` -> array or tensor ``(n, ...)``. Default:
        :func:`~mslearn.descriptors.two_point_correlation`.
    kw_args : dict, optional
        Further keyword arguments of ``descriptor`` (e.g. ``{"phase": 2, "periodic": False}``); tuned
        as one parameter by :class:`~sklearn.model_selection.GridSearchCV`.
    window : int, optional
        For descriptors that return displacement maps (origin at index 0, negative displacements
        wrapped at the end): keep ``|r_d| <= window`` on the last ``ndim`` axes. None: all of the output.
    device : str or torch.device
        Passed to ``descriptor`` when it has a ``device`` argument; a descriptor without one runs
        where it runs, and then only ``"auto"`` is accepted.

    Attributes
    ----------
    image_shape_ : tuple of int
        Spatial shape of the images seen in :meth:`fit`.
    n_features_out_ : int
        Number of output columns.

    Notes
    -----
    Unlike :class:`TwoPointCorrelation`, the images are only checked for their number of axes and
    for NaN or infinite values; the descriptor checks the rest (integer labels, a phase that occurs,
    a relaxed field in [0, 1]) with its own messages.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.descriptors import DescriptorTransformer, cross_correlation
    >>> images = np.random.default_rng(0).integers(0, 3, (4, 16, 16))
    >>> step = DescriptorTransformer(cross_correlation, kw_args={"phase_a": 1, "phase_b": 2}, window=1,
    ...                              device="cpu")
    >>> step.fit_transform(images).shape
    (4, 9)
    >>> step.get_feature_names_out()[:2].tolist()
    ['cross_correlation0', 'cross_correlation1']
    """

    _labels_only = False

    def __init__(self, descriptor=two_point_correlation, *, kw_args=None, window=None, device="auto"):
        self.descriptor = descriptor
        self.kw_args = kw_args
        self.window = window
        self.device = device

    @property
    def _prefix(self):
        return getattr(self.descriptor, "__name__", "descriptor")

    def _arguments(self):
        if not callable(self.descriptor):
            raise TypeError(f"descriptor must be a callable descriptor function, got "
                            f"{type(self.descriptor).__name__}")
        if self.kw_args is not None and not isinstance(self.kw_args, dict):
            raise TypeError(f"kw_args must be a dict of keyword arguments or None, got {type(self.kw_args).__name__}")
        kwargs = dict(self.kw_args or {})
        for reserved in ("batch", "device"):
            if reserved in kwargs:
                raise ValueError(f"kw_args sets {reserved!r}; it is set by the transformer (use its "
                                 f"{'device parameter' if reserved == 'device' else 'input (n_images, *spatial)'})")
        try:
            parameters = inspect.signature(self.descriptor).parameters
        except (TypeError, ValueError):  # builtins without a signature: trust the caller
            parameters = {}
        flexible = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        if parameters and "batch" not in parameters and not flexible:
            raise TypeError(f"descriptor {self._prefix} has no batch argument; expected a function "
                            "descriptor(images, batch=True, ...) that maps (n, *spatial) to (n, ...)")
        if "device" in parameters or flexible:
            kwargs["device"] = self.device
        elif not (isinstance(self.device, str) and self.device == "auto"):
            raise ValueError(f"descriptor {self._prefix} has no device argument; leave device='auto'")
        return kwargs

    def _validate_parameters(self):
        super()._validate_parameters()
        self._arguments()

    def _maps(self, X):
        return self.descriptor(X, batch=True, **self._arguments())
