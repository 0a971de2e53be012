r"""Image-to-tensor surrogate: a periodic CNN mapping a voxel image to its full effective tensor.

The review's Fig. 3b (kind II of its Table 1, "image-based property predictors", e.g. Yang et al.
2018, Rao & Liu 2020): a convolutional network reads the phase-label image of a representative
volume element (RVE) and predicts its effective conductivity tensor :math:`K^*` (``d × d``,
:math:`d` = 2 or 3) or, with ``target="stiffness"``, its full effective elastic stiffness in Mandel
form (``m × m``, :math:`m = d(d+1)/2`: 21 independent components in 3D, Rao & Liu's 3D-CNN).
Three choices make the network respect the physics of the problem:

* **Symmetry and positive definiteness by construction.** The network outputs the
  :math:`d(d+1)/2` entries of a lower-triangular factor :math:`L` with a positive (exponential)
  diagonal, and the prediction is :math:`K = \bar k\,L L^T` with a fixed scale :math:`\bar k`
  (the training mean of :math:`\operatorname{tr}K/d`): every prediction is a symmetric positive
  definite tensor, as the second law requires of a conductivity (log-Cholesky parameterization,
  Pinheiro & Bates 1996). ``tensor="mandel"`` instead predicts the standardized Mandel components
  :math:`(K_{11}, K_{22}, \sqrt2 K_{12})` directly: symmetric, but not necessarily definite.
  Either way the loss is the mean squared error of the *standardized Mandel components*
  (each independent component divided by its training standard deviation), the quantity ``score``
  reports.
* **Periodic padding.** Every convolution pads circularly, because an RVE tiles space: a particle
  cut by the boundary continues on the other side. Global average pooling makes the network
  accept any image size.
* **Symmetry-group augmentation.** If the image is transformed by an element :math:`R` of the
  symmetry group of the square (8 elements: rotations by 90° and reflections) or of the cube
  (48), the effective tensor of the transformed image is exactly :math:`K' = R K R^T` (the
  homogenized tensor transforms with the microstructure; a Mandel stiffness as :math:`C' = Q C Q^T`
  with the Mandel rotation :math:`Q(R)`, :func:`tensor_action`). ``augment=True`` draws a random group
  element for every training image in every epoch and transforms image and target together —
  free, exact data. ``tta=True`` (test-time augmentation) averages
  :math:`\frac1{|G|}\sum_{g} R_g^T\,f(g\cdot x)\,R_g` over the whole group, which makes
  predictions exactly equivariant: ``predict(g·x) = R_g predict(x) R_g^T`` (to float rounding).

The group acts on arrays by index operations (axis permutations and flips about the array centre),
which commute with periodic shifts up to a translation; since the effective tensor of a periodic
medium does not depend on translations, :math:`K(g\cdot x) = R_g K(x) R_g^T` holds exactly for the
solver's discrete problem as well (tested against :func:`mslearn.homogenization.conductivity`).

Why hand-written: the network is a dozen lines of torch; we need circular padding, the tensor
output and the group augmentation, which generic image-regression libraries do not provide.

References
----------
Z. Yang, Y. C. Yabansu, R. Al-Bahrani, W. Liao, A. N. Choudhary, S. R. Kalidindi, A. Agrawal,
"Deep learning approaches for mining structure-property linkages in high contrast composites from
simulation datasets", Comput. Mater. Sci. 151, 278 (2018) (yang2018deep).
C. Rao, Y. Liu, "Three-dimensional convolutional neural network (3D-CNN) for heterogeneous
material homogenization", Comput. Mater. Sci. 184, 109850 (2020) (rao2020three).
J. C. Pinheiro, D. M. Bates, "Unconstrained parametrizations for variance-covariance matrices",
Stat. Comput. 6, 289 (1996) (log-Cholesky).
"""
from __future__ import annotations

import copy
import math
import numbers

import numpy as np
import torch
from sklearn.utils.validation import check_array, check_is_fitted

from .._backend import device as resolve_device
from .._backend import like
from .._validation import check_finite, check_flag, check_integer, check_labels, check_orthogonal
from ..nn import PeriodicConv, activation, apply_symmetry, seeded, symmetry_group
from ..homogenization.tensors import mandel_pairs, mandel_rotation, rotate_conductivity
from ._torch_estimator import (TorchRegressor, check_training_settings, cpu_threads, fit_network,
                               keeps_state_on_failure, split_train_validation)

__all__ = ["CNNRegressor", "transform_tensor", "tensor_action", "tensor_r2"]

_TARGETS = ("conductivity", "stiffness")


def transform_tensor(K, R):
    r""":math:`K' = R K R^T` for tensors ``(..., d, d)`` (numpy or torch, ``R`` of the same kind or numpy).

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[0.0, -1.0], [1.0, 0.0]])                 # a quarter turn
    >>> transform_tensor(np.diag([1.0, 2.0]), R) + 0.0          # swaps the principal values
    array([[2., 0.],
           [0., 1.]])
    """
    if isinstance(K, torch.Tensor):
        R = torch.as_tensor(np.asarray(R) if not isinstance(R, torch.Tensor) else R, dtype=K.dtype,
                            device=K.device)
    else:
        K, R = np.asarray(K), np.asarray(R)
    return rotate_conductivity(K, R)          # checked: R orthogonal, K of its size


def tensor_action(R, target="conductivity"):
    r"""The matrix :math:`A(R)` by which a target tensor transforms, :math:`K' = A K A^T`.

    ``target="conductivity"``: :math:`A = R` (second-order tensors); ``"stiffness"``: the Mandel
    rotation :math:`Q(R)` (:func:`mslearn.homogenization.tensors.mandel_rotation`) acting on
    ``m × m`` Mandel stiffness matrices.

    Examples
    --------
    A quarter turn swaps the Mandel components 11 and 22 of a stiffness and flips the sign of 12:

    >>> import numpy as np
    >>> R = np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> tensor_action(R, "stiffness").round(4) + 0.0
    array([[ 0.,  1.,  0.],
           [ 1.,  0.,  0.],
           [ 0.,  0., -1.]])
    >>> bool(np.array_equal(tensor_action(R), R))               # conductivity: A = R
    True
    """
    if target not in _TARGETS:
        raise ValueError(f"target = {target!r}; expected one of {_TARGETS}")
    R = check_orthogonal(np.asarray(R, dtype=np.float64))
    return R if target == "conductivity" else mandel_rotation(R)


def _component_pairs(m, target):
    """Index pairs of the independent entries of a symmetric ``m × m`` target: Mandel order for
    conductivities, diagonal then the upper triangle row by row for Mandel stiffnesses."""
    if target == "conductivity":
        return mandel_pairs(m)
    return [(i, i) for i in range(m)] + [(i, j) for i in range(m) for j in range(i + 1, m)]


def tensor_r2(y_true, y_pred):
    r"""Mean over the :math:`m(m+1)/2` independent components of :math:`R^2` of symmetric ``m × m`` tensors.

    Each component's :math:`R^2` does not change when the component is standardized, so this is the
    :math:`R^2` of the normalized independent tensor components, averaged with equal weights.
    ``y_true`` and ``y_pred``: ``(n, m, m)`` — conductivities (``m = d``) or Mandel stiffnesses
    (``m = d(d+1)/2``); the true values first, as in ``sklearn.metrics.r2_score``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.stack([np.diag([1.0 + i, 2.0 + i]) for i in range(4)])   # (4, 2, 2)
    >>> tensor_r2(y, y)
    1.0
    >>> round(tensor_r2(y, y + 0.1 * np.eye(2)), 4)            # a small bias on the diagonal
    0.9947
    """
    true, predicted = (np.asarray(a, dtype=np.float64) for a in (y_true, y_pred))
    if true.shape != predicted.shape or true.ndim != 3 or true.shape[1] != true.shape[2]:
        raise ValueError(f"y_true {true.shape} and y_pred {predicted.shape} must both be (n, m, m)")
    for name, values in (("y_true", true), ("y_pred", predicted)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} contains NaN or inf; expected finite tensors")
    pairs = zip(*np.triu_indices(true.shape[1]))
    scores = []
    for i, j in pairs:
        t, p = true[:, i, j], predicted[:, i, j]
        total = np.sum((t - t.mean()) ** 2)
        scores.append(1.0 - np.sum((t - p) ** 2) / total if total > 0 else float(np.allclose(t, p)))
    return float(np.mean(scores))


class _TensorCNN(torch.nn.Module):
    """Periodic conv blocks with 2x average pooling between them, global average pool, MLP head.

    The head returns ``d(d+1)/2`` numbers; :meth:`CNNRegressor._to_tensor` turns them into ``K``.
    """

    def __init__(self, ndim, n_in, channels, convs_per_block, n_out, activation):
        super().__init__()
        layers, width = [], n_in
        pool = torch.nn.AvgPool2d(2) if ndim == 2 else torch.nn.AvgPool3d(2)
        for level, out in enumerate(channels):
            if level:
                layers.append(pool)
            for _ in range(convs_per_block):
                layers += [PeriodicConv(ndim, width, out), activation()]
                width = out
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Sequential(torch.nn.Linear(width, width), activation(), torch.nn.Linear(width, n_out))
        with torch.no_grad():  # start near K = scale * I (Cholesky) or the mean tensor (Mandel)
            self.head[-1].weight.mul_(0.1)
            self.head[-1].bias.zero_()

    def forward(self, x):
        h = self.features(x)
        return self.head(h.mean(dim=tuple(range(2, h.ndim))))


class _LearnedFeatures(torch.nn.Module):
    """A trained :class:`CNNRegressor`'s convolution blocks as a feature extractor (see
    :meth:`CNNRegressor.feature_network`); the interface of :class:`mslearn.descriptors.FeatureNetwork`.
    """

    def __init__(self, network, table, ndim):
        super().__init__()
        blocks, block = [], []
        for module in network.features:   # a new block starts at each pooling layer
            if isinstance(module, (torch.nn.AvgPool2d, torch.nn.AvgPool3d)) and block:
                blocks.append(torch.nn.Sequential(*block))
                block = []
            block.append(module)
        blocks.append(torch.nn.Sequential(*block))
        self.blocks = torch.nn.ModuleList(blocks)
        self.register_buffer("table", torch.as_tensor(table, dtype=next(network.parameters()).dtype))
        self.ndim, self.n_layers, self.periodic = ndim, len(blocks), True
        self.requires_grad_(False)

    def forward(self, x, up_to=None):
        """Feature maps after blocks ``0 .. up_to`` (default all) for ``x`` ``(batch, 1, *spatial)``."""
        x = x.to(self.table)
        shape = (1, -1) + (1,) * self.ndim
        h = self.table[0].reshape(shape) * (1 - x) + self.table[1].reshape(shape) * x  # the fit's encoding
        features = []
        for block in self.blocks[:(self.n_layers - 1 if up_to is None else up_to) + 1]:
            h = block(h)
            features.append(h)
        return features


# ----------------------------------------------------------------------------- estimator
class CNNRegressor(TorchRegressor):
    r"""Voxel image → full effective tensor, a periodic CNN with group augmentation.

    Parameters
    ----------
    ndim : {2, 3}
        Spatial dimensions; images are ``(n, *spatial)`` integer phase labels (always with the
        batch axis: one image is ``image[None]``).
    channels : tuple of int, or int
        Width of each convolution block (an int: one block); blocks after the first start with 2× average pooling.
    convs_per_block : int
        Periodic 3×3(×3) convolutions per block.
    activation : {"gelu", "silu", "relu", "tanh"}
    phase_features : array ``(n_phases, c)``, optional
        Per-phase input channels (e.g. ``log10`` conductivities); default one-hot labels. Input
        channels are standardized with the training mean and standard deviation.
    tensor : {"cholesky", "mandel"}
        Output parameterization: ``"cholesky"`` (default) predicts :math:`K = \bar k L L^T`,
        symmetric positive definite by construction; ``"mandel"`` the standardized Mandel components
        (symmetric by construction).
    augment : bool
        Random symmetry-group element per training image and epoch, with :math:`K' = R K R^T`.
    tta : bool
        Test-time augmentation: average over the group in ``predict`` (exactly equivariant, :math:`|G|` times
        slower: 8 in 2D, 48 in 3D). ``predict(X, tta=...)`` overrides it per call.
    target : {"conductivity", "stiffness"}
        What the tensors are: second-order ``(d, d)`` conductivity-like tensors (default), which
        transform as :math:`R K R^T`, or Mandel stiffness matrices ``(m, m)``, ``m = d(d+1)/2`` (3
        in 2D plane strain, 6 in 3D, order of :mod:`mslearn.homogenization.tensors`), which transform
        as :math:`Q C Q^T` with the Mandel rotation :math:`Q(R)` (Rao & Liu 2020's 3D-CNN target).
    learning_rate_init, lr_schedule, max_iter, batch_size, weight_decay
        As in :class:`~mslearn.surrogates.MLPRegressor` (``max_iter`` counts epochs);
        ``lr_schedule="cosine"`` decays the learning rate to zero over ``max_iter`` epochs (cosine
        annealing; ``"constant"`` keeps it). The loss is the MSE of the standardized Mandel components.
    validation_fraction, patience, random_state, device, progress
        As in :class:`~mslearn.surrogates.MLPRegressor`.
    cpu_threads : int, optional
        Torch CPU threads during ``fit``/``predict`` (restored afterwards); ``None`` keeps torch's
        setting. ``1`` is often faster for small images on shared or busy cores.
    warm_start : bool
        scikit-learn's meaning: when ``True`` and the model is fitted, ``fit`` continues from the
        trained network instead of a fresh one — **fine-tuning** for transfer learning (pretrain on
        one microstructure family, ``set_params(warm_start=True)``, fit on a few samples of another).
        The input encoding and the target scaling of the first fit are kept (a few new samples would
        estimate them poorly, and the network's weights are tuned to them); the new images must use
        the phase labels and the target shape the network was built for, else ``fit`` raises.

    Attributes
    ----------
    network_, history_, best_epoch_, n_iter_
        As in :class:`~mslearn.surrogates.TorchRegressor` (set by ``fit``, like every attribute below).
    n_phases_ : int
        Number of phase labels the model knows: those of the training images (``0 .. n_phases_ - 1``), or the
        rows of ``phase_features``; ``predict`` refuses other labels. (Images of one phase still give the
        network two one-hot input channels.)
    scale_ : float
        The conductivity scale :math:`\bar k`.
    component_mean_, component_std_ : numpy.ndarray
        Mandel-component scaling of the targets.
    input_mean_, input_std_ : numpy.ndarray
        Standardization of the input channels.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates import CNNRegressor
    >>> images = np.random.default_rng(0).integers(0, 2, (40, 8, 8))
    >>> phi = images.mean((1, 2))
    >>> K = (1 + 9 * phi)[:, None, None] * np.eye(2)
    >>> model = CNNRegressor(channels=(8,), max_iter=5, random_state=0, device="cpu").fit(images, K)
    >>> model.predict(images[:3]).shape
    (3, 2, 2)
    """

    def __init__(self, ndim=2, channels=(16, 32, 64), convs_per_block=1, activation="gelu", phase_features=None,
                 tensor="cholesky", augment=True, tta=False, target="conductivity", *, learning_rate_init=3e-3,
                 lr_schedule="cosine", max_iter=40, batch_size=32, weight_decay=0.0, validation_fraction=0.15,
                 patience=20, random_state=0, device="auto", cpu_threads=None, warm_start=False, progress=False):
        self.ndim = ndim
        self.channels = channels
        self.convs_per_block = convs_per_block
        self.activation = activation
        self.phase_features = phase_features
        self.target = target
        self.tensor = tensor
        self.augment = augment
        self.tta = tta
        self.lr_schedule = lr_schedule
        self.cpu_threads = cpu_threads
        self.warm_start = warm_start
        self._init_training(learning_rate_init, max_iter, batch_size, weight_decay, validation_fraction,
                            patience, random_state, device, progress)

    # -- checks ----------------------------------------------------------------------------------
    def _channels(self):
        """``channels`` as a tuple (an int is one block, as scikit-learn reads ``hidden_layer_sizes``)."""
        channels = self.channels
        if isinstance(channels, numbers.Integral) and not isinstance(channels, bool):
            return (channels,)
        return tuple(channels) if isinstance(channels, (tuple, list)) else channels

    def _check_settings(self):
        if self.ndim not in (2, 3):
            raise ValueError(f"ndim = {self.ndim!r}; expected 2 or 3 spatial dimensions")
        activation(self.activation)
        if self.target not in _TARGETS:
            raise ValueError(f"target = {self.target!r}; expected one of {_TARGETS}")
        if self.tensor not in ("cholesky", "mandel"):
            raise ValueError(f"tensor = {self.tensor!r}; expected 'cholesky' or 'mandel'")
        channels = self._channels()
        if not isinstance(channels, (tuple, list)) or not channels or not all(
                isinstance(c, numbers.Integral) and not isinstance(c, bool) and c > 0 for c in channels):
            raise ValueError(f"channels = {self.channels!r}; expected a non-empty tuple of positive integers")
        check_integer(self.convs_per_block, 1, name="convs_per_block")
        check_flag(self.augment, name="augment")
        check_training_settings(self)

    def _check_images(self, X, *, fitting=False):
        """Phase-label images ``X`` ``(n, *spatial)`` → int64 numpy labels (the shared label check, plus
        the labels this model can encode)."""
        if not hasattr(X, "ndim"):
            X = np.asarray(X)
        d = self.ndim
        if X.ndim != d + 1:
            hint = " (one image: add the batch axis, X[None])" if X.ndim == d else ""
            raise ValueError(f"X has shape {tuple(X.shape)}; expected phase-label images (n_samples, *spatial) "
                             f"with {d} spatial axes (ndim={d}){hint}")
        check_labels(X, name="X", spatial=(d,), batch=True)
        values = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
        values = values.astype(np.int64)
        high = int(values.max())
        if self.phase_features is not None:
            n_known = len(self.phase_features)
            if high >= n_known:
                raise ValueError(f"X contains label {high} but phase_features has {n_known} rows "
                                 f"(labels 0..{n_known - 1})")
        if not fitting and high >= self.n_phases_:
            raise ValueError(f"unseen phase label {high}; the model was trained on labels 0..{self.n_phases_ - 1}")
        return values

    def _size(self):
        """Side ``m`` of the target matrices."""
        d = self.ndim
        return d if self.target == "conductivity" else d * (d + 1) // 2

    def _check_targets(self, y, n):
        K = check_array(y, dtype=np.float64, ensure_2d=False, allow_nd=True, input_name="y")
        m = self._size()
        if K.shape != (n, m, m):
            what = "effective tensors" if self.target == "conductivity" else "Mandel stiffness matrices"
            raise ValueError(f"y has shape {K.shape}; expected ({n}, {m}, {m}) {what}, one per image "
                             f"(ndim={self.ndim}, target={self.target!r})")
        asymmetry = np.abs(K - np.swapaxes(K, 1, 2)).max() / max(np.abs(K).max(), 1e-300)
        if asymmetry > 1e-3:  # an iterative solver's tensors are symmetric to its tolerance only
            raise ValueError(f"y is not symmetric (max |K - K^T| / max |K| = {asymmetry:.2g}); expected "
                             "symmetric effective tensors K_ij = K_ji")
        K = 0.5 * (K + np.swapaxes(K, 1, 2))
        if self.tensor == "cholesky" and np.any(np.linalg.eigvalsh(K) <= 0):
            raise ValueError("y has a tensor that is not positive definite; tensor='cholesky' predicts positive "
                             "definite tensors (use tensor='mandel' for indefinite targets)")
        return K

    # -- encoding --------------------------------------------------------------------------------
    def _features(self):
        if self.phase_features is None:
            # two one-hot channels even for images of one phase: the two-phase input feature_network reads
            return np.eye(max(self.n_phases_, 2))
        features = check_finite(np.asarray(self.phase_features, dtype=np.float64), name="phase_features")
        return features.reshape(len(features), -1)

    def _encode(self, labels, device):
        """Labels (n, *spatial) → standardized channels (n, c, *spatial) float32 on ``device``."""
        table = (self._features() - self.input_mean_) / self.input_std_
        table = torch.as_tensor(table, dtype=torch.float32, device=device)
        x = table[torch.as_tensor(labels, device=device)]                 # (n, *spatial, c)
        return torch.movedim(x, -1, 1).contiguous()

    # -- output parameterization -----------------------------------------------------------------
    def _components(self, K):
        """Symmetric tensors (n, m, m) → independent components (n, m(m+1)/2), off-diagonals times √2
        (for conductivities exactly the Mandel vector)."""
        pairs = _component_pairs(self._size(), self.target)
        rows, cols = (list(a) for a in zip(*pairs))
        weights = [1.0 if i == j else math.sqrt(2.0) for i, j in pairs]
        return K[:, rows, cols] * torch.as_tensor(weights, dtype=K.dtype, device=K.device) \
            if isinstance(K, torch.Tensor) else K[:, rows, cols] * np.asarray(weights)

    def _from_components(self, v):
        """Inverse of :meth:`_components` (torch)."""
        m = self._size()
        pairs = _component_pairs(m, self.target)
        K = v.new_zeros((len(v), m, m))
        for index, (i, j) in enumerate(pairs):
            value = v[:, index] if i == j else v[:, index] / math.sqrt(2.0)
            K[:, i, j] = value
            K[:, j, i] = value
        return K

    def _to_tensor(self, raw):
        """Network output (n, m(m+1)/2) → tensors (n, m, m) (dtype of ``raw``)."""
        d = self._size()
        if self.tensor == "mandel":
            mean = torch.as_tensor(self.component_mean_, dtype=raw.dtype, device=raw.device)
            std = torch.as_tensor(self.component_std_, dtype=raw.dtype, device=raw.device)
            return self._from_components(raw * std + mean)
        L = torch.diag_embed(torch.exp(raw[:, :d].clamp(-15.0, 15.0)))
        rows, cols = np.tril_indices(d, -1)
        n = torch.arange(len(raw), device=raw.device)[:, None]
        rows, cols = (torch.as_tensor(a, device=raw.device)[None] for a in (rows, cols))
        L = L.index_put((n, rows, cols), raw[:, d:])
        return self.scale_ * (L @ L.transpose(-1, -2))

    def _standardized(self, K):
        mean = torch.as_tensor(self.component_mean_, dtype=K.dtype, device=K.device)
        std = torch.as_tensor(self.component_std_, dtype=K.dtype, device=K.device)
        return (self._components(K) - mean) / std

    # -- training --------------------------------------------------------------------------------
    @keeps_state_on_failure
    def fit(self, X, y):
        """Train on phase-label images ``X`` and their effective tensors ``y``.

        With ``warm_start`` on a fitted model, fine-tunes the fitted network with the first fit's input
        encoding and target scaling (see the class). If it raises, the model is left as it was.

        Parameters
        ----------
        X : array-like or torch.Tensor of int, shape ``(n_samples, *spatial)``
            Phase labels, ``ndim`` spatial axes (one image: ``image[None]``).
        y : array-like, shape (n_samples, m, m)
            Symmetric effective tensors, converted to float64: ``m = d`` for ``target="conductivity"``,
            ``m = d(d+1)/2`` (Mandel) for ``"stiffness"``; positive definite with ``tensor="cholesky"``.

        Returns
        -------
        self : CNNRegressor
            The fitted estimator.

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If a setting is invalid, ``X`` or ``y`` has another shape, ``y`` is not symmetric (or not
            positive definite with ``tensor="cholesky"``), a label has no ``phase_features`` row, or a
            warm start meets other labels or network shapes.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        with cpu_threads(self.cpu_threads, self.device):
            return self._fit(X, y)

    def _fit(self, X, y):
        self._check_settings()
        labels = self._check_images(X, fitting=True)
        K = self._check_targets(y, len(labels))
        d = self.ndim
        group = symmetry_group(d)
        actions = np.stack([tensor_action(R, self.target) for R in group])
        if self.warm_start and hasattr(self, "network_"):
            return self._train(labels, K, group, actions, fine_tune=True)
        self.n_phases_ = int(labels.max()) + 1 if self.phase_features is None else len(self.phase_features)
        features = self._features()
        counts = np.bincount(labels.ravel(), minlength=len(features))[:len(features)] / labels.size
        self.input_mean_ = counts @ features
        self.input_std_ = np.sqrt(counts @ (features - self.input_mean_) ** 2)
        self.input_std_[self.input_std_ == 0] = 1.0
        # target scaling from the training tensors and (with augmentation) all their images under the group
        orbit = np.concatenate([transform_tensor(K, A) for A in actions]) if self.augment else K
        components = self._components(orbit)
        self.component_mean_ = components.mean(0)
        self.component_std_ = components.std(0)
        self.component_std_[self.component_std_ < 1e-12 * max(1.0, np.abs(components).max())] = 1.0
        self.scale_ = float(np.mean(np.trace(K, axis1=1, axis2=2)) / K.shape[1])
        self.n_features_in_ = self.n_phases_
        return self._train(labels, K, group, actions, fine_tune=False)

    def _train(self, labels, K, group, actions, fine_tune):
        """Train ``network_`` (a fresh one, or the fitted one when ``fine_tune``) on ``labels`` and ``K``."""
        d = self.ndim
        device = resolve_device(self.device)
        if fine_tune:
            self._check_fine_tuning(labels)
            self.network_.to(device)
        train, validation, generator = split_train_validation(self, len(labels))
        X = self._encode(labels, device)
        Y = torch.as_tensor(K, dtype=torch.float32, device=device)
        n_out = self._size() * (self._size() + 1) // 2
        if not fine_tune:
            with seeded(self.random_state, device):
                self.network_ = _TensorCNN(d, X.shape[1], self._channels(), self.convs_per_block, n_out,
                                           activation(self.activation)).to(device)
        actions_t = torch.as_tensor(actions, dtype=torch.float32, device=device)
        train_t = torch.as_tensor(train, device=device)

        def loss_of(x, k):
            return torch.mean((self._standardized(self._to_tensor(self.network_(x))) - self._standardized(k)) ** 2)

        def train_loss(index):
            index_t = train_t[torch.as_tensor(index, device=device)]
            x, k = X[index_t], Y[index_t]
            if self.augment:
                elements = generator.integers(len(group), size=len(index))
                parts_x, parts_k = [], []
                for g in np.unique(elements):
                    chosen = torch.as_tensor(np.flatnonzero(elements == g), device=device)
                    parts_x.append(apply_symmetry(x[chosen], group[g], channels=True))
                    A = actions_t[g]           # checked once, by tensor_action: no check per mini-batch
                    parts_k.append(A @ k[chosen] @ A.transpose(-1, -2))
                x, k = torch.cat(parts_x), torch.cat(parts_k)
            return loss_of(x, k)

        def validation_loss():
            if not len(validation):
                return None
            total = 0.0
            for start in range(0, len(validation), 256):
                index = torch.as_tensor(validation[start:start + 256], device=device)
                total += loss_of(X[index], Y[index]).item() * len(index)
            return total / len(validation)

        fit_network(self, self.network_, len(train), train_loss, validation_loss, generator, resumed=fine_tune)
        return self

    def _check_fine_tuning(self, labels):
        """The fitted network can read these images and the settings describe it: else a clear error."""
        high = int(labels.max())
        if high >= self.n_phases_:
            raise ValueError(f"warm_start: the images contain label {high}, but the network was trained on labels "
                             f"0..{self.n_phases_ - 1}; fine-tuning needs the same phases (describe other "
                             "materials through phase_features, with as many features as in the first fit)")
        n_out = self._size() * (self._size() + 1) // 2
        fresh = _TensorCNN(self.ndim, len(self._features()), self._channels(), self.convs_per_block, n_out,
                           activation(self.activation))
        shapes = [tuple(p.shape) for p in fresh.parameters()]
        fitted = [tuple(p.shape) for p in self.network_.parameters()]
        if shapes != fitted:
            raise ValueError("warm_start: the settings (channels, convs_per_block, phase_features, ndim, target) "
                             "describe a network of other shapes than the fitted one; fine-tune with the "
                             "settings of the first fit")

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, X, *, tta=None):
        """Effective tensors of phase-label images (symmetric; positive definite with ``tensor="cholesky"``).

        Parameters
        ----------
        X : array-like or torch.Tensor of int, shape ``(n_samples, *spatial)``
            Phase labels among those of the training images.
        tta : bool, optional
            Average over the symmetry group (8 elements in 2D, 48 in 3D); default ``None``: the ``tta``
            setting.

        Returns
        -------
        ndarray or torch.Tensor of float64, shape (n_samples, m, m)
            A torch tensor on the network's device when ``X`` is one, else a numpy array.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` has another number of axes or a label the model was not trained on.
        """
        check_is_fitted(self, "network_")
        with cpu_threads(self.cpu_threads, next(self.network_.parameters()).device):
            return self._predict(X, tta=tta)

    def _predict(self, X, *, tta=None):
        check_is_fitted(self, "network_")
        labels = self._check_images(X)
        tta = check_flag(self.tta if tta is None else tta, name="tta")
        parameter = next(self.network_.parameters())
        device = parameter.device
        group = symmetry_group(self.ndim) if tta else symmetry_group(self.ndim)[:1]
        R = torch.as_tensor(np.stack([tensor_action(g, self.target) for g in group]), dtype=torch.float64,
                            device=device)
        out = []
        self.network_.eval()
        with torch.no_grad():
            # images per forward pass from a voxel budget: on a CPU, activations that fit the caches
            # (about 2^17 voxels) run 1.5-3x faster per image than large batches
            voxels = int(np.prod(labels.shape[1:]))
            batch = max(1, (2 ** 17 if device.type == "cpu" else 2 ** 22) // voxels)
            for start in range(0, len(labels), batch):
                x = self._encode(labels[start:start + batch], device)
                total = 0.0
                for g in range(len(group)):
                    raw = self.network_(apply_symmetry(x, group[g], channels=True)).double()
                    total = total + R[g].T @ self._to_tensor(raw) @ R[g]   # A^T f(g x) A
                out.append(total / len(group))
            K = torch.cat(out)
        K = 0.5 * (K + K.transpose(-1, -2))
        return like(K, X) if isinstance(X, torch.Tensor) else K.cpu().numpy()

    def feature_network(self):
        """The trained convolution blocks as a feature extractor for other microstructures.

        Transfer of *features* rather than of a predictor (the review's reconstruction example, Li et
        al. 2018, who characterized and reconstructed materials with the Gram matrices of a network
        trained on other images): a copy of the fitted network without its head, with the interface of
        :class:`mslearn.descriptors.FeatureNetwork`, so that it can be passed as ``network`` to
        :func:`~mslearn.descriptors.cnn_features`, :func:`~mslearn.descriptors.gram_matrices` and
        :func:`~mslearn.reconstruction.reconstruct`. Layer ``l`` is the output of convolution block
        ``l`` (at ``1 / 2**l`` of the input resolution). Its input is a two-phase indicator (1 for
        phase 1, values in [0, 1] allowed: a relaxed structure), encoded as the fit encoded labels.
        The copy is frozen (no gradients to its weights) and independent of later fits.

        Returns
        -------
        torch.nn.Module
            Attributes ``ndim``, ``n_layers``, ``periodic``; ``forward(x, up_to=None)`` maps
            ``(batch, 1, *spatial)`` to the list of feature maps of blocks ``0 .. up_to``.

        Examples
        --------
        >>> import numpy as np
        >>> from mslearn.descriptors import gram_matrices
        >>> from mslearn.surrogates import CNNRegressor
        >>> images = np.random.default_rng(0).integers(0, 2, (20, 8, 8))
        >>> K = (1 + 9 * images.mean((1, 2)))[:, None, None] * np.eye(2)
        >>> model = CNNRegressor(channels=(4, 8), max_iter=2, device="cpu").fit(images, K)
        >>> [g.shape for g in gram_matrices(images[0], network=model.feature_network())]
        [(4, 4), (8, 8)]
        """
        check_is_fitted(self, "network_")
        if len(self._features()) != 2:
            raise ValueError(f"feature_network reads a two-phase indicator image; this model was trained on "
                             f"{self.n_phases_} phase labels")
        table = (self._features() - self.input_mean_) / self.input_std_
        return _LearnedFeatures(copy.deepcopy(self.network_).eval(), table, self.ndim)

    def score(self, X, y, sample_weight=None):
        """:func:`tensor_r2`: mean R² of the independent (Mandel) components of the effective tensor.

        Parameters
        ----------
        X : array-like or torch.Tensor of int, shape ``(n_samples, *spatial)``
            Phase labels.
        y : array-like, shape (n_samples, m, m)
            True effective tensors.
        sample_weight : None
            Not supported; anything else raises.

        Returns
        -------
        float
            Mean over the :math:`m(m+1)/2` components of :math:`R^2`.

        Raises
        ------
        ValueError
            If ``sample_weight`` is given, or ``y`` is not ``(n_samples, m, m)`` or not finite.
        """
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by CNNRegressor.score")
        K = np.asarray(y, dtype=np.float64)
        predicted = self.predict(X)
        predicted = predicted.cpu().numpy() if isinstance(predicted, torch.Tensor) else predicted
        return tensor_r2(K, predicted)
