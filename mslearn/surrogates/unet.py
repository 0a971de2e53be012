r"""Image-to-field surrogate: a periodic U-Net mapping a phase-label image to its local fields.

Kind III of the review's Table 1 (field predictors): instead of one effective number per
microstructure, the network predicts a whole local field — the flux magnitude :math:`|q(x)|` of a
conduction problem, the von Mises stress or the strain energy density of an elastic one — on the
same voxel grid as the microstructure, trained on fields of the FFT solver
(:mod:`mslearn.homogenization`, ``return_fields=True``).

The network (Ronneberger, Fischer & Brox 2015) is an encoder–decoder with skip connections:
``levels`` times two 3×3 convolutions followed by 2× average pooling, a bottleneck, and the same
number of 2× transposed-convolution upsamplings, each followed by two convolutions on the upsampled
features concatenated with the encoder features of the same resolution. Choices made for periodic
microstructures (Mianroodi, Siboni & Raabe 2021 and Yang, Yu & Buehler 2021 train such networks
on stress fields of composites):

* **Periodic padding.** Every convolution pads circularly, so an RVE that tiles space is treated
  as tiling space: inclusions cut by the boundary see their periodic images, and the prediction is
  *equivariant to periodic shifts* by multiples of :math:`2^\text{levels}` voxels (the pooling
  grid): ``predict(roll(x, s)) == roll(predict(x), s)`` up to float rounding. Image sizes must be
  divisible by :math:`2^\text{levels}`.
* **Field scaling.** Each field channel is divided by its mean absolute value over the training
  set, :math:`\bar f = \langle |f| \rangle` — for a unit macroscopic load of the order of the
  macroscopic flux or stress — so the network's outputs are :math:`O(1)` whatever the units.
* **Symmetry augmentation.** A mirror or rotation :math:`R` of the microstructure maps the solution
  for the load :math:`E` to the solution for :math:`RE`. A scalar field (flux magnitude, von Mises
  stress, energy density) of the mirrored image is the mirrored field *only if* :math:`RE = \pm E`
  (linearity: the load's sign does not change a magnitude or a quadratic form). Hence
  ``augment="flips"`` (mirror along any set of axes, the group :math:`(\mathbb Z_2)^d`) is valid for
  a load along a coordinate axis (conduction: :math:`\langle\nabla T\rangle = e_i`; elasticity: a
  diagonal macroscopic strain such as uniaxial strain :math:`E_{11}`, or in 2D pure shear
  :math:`E_{12}`); ``augment="square"`` (all :math:`2^d d!` symmetries of the square/cube, i.e. flips
  and axis permutations) only for loads that axis permutations also map to :math:`\pm E`:
  hydrostatic strain, and in 2D pure shear :math:`E_{12}`. It is **wrong** for a uniaxial load:
  a 90° rotation turns a load along :math:`x` into one along :math:`y`. Phases must be isotropic.
  Vector or tensor components (e.g. :math:`q_y`) are not scalars and must not be augmented.

Why hand-written: the U-Net is a few dozen lines of torch; libraries that ship U-Nets (MONAI,
segmentation-models-pytorch) pad with zeros, target segmentation and would add a heavy dependency.

Metrics are functions: :func:`relative_field_error` (per-sample relative :math:`L_2` error, optionally
restricted by ``where=`` to entries such as hot spots), and the effective property recomputed from a predicted
field by Hill's lemma, :func:`effective_conductivity_from_flux` and
:func:`effective_stiffness_from_energy`.

References
----------
O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional networks for biomedical image
segmentation", MICCAI 2015, doi:10.1007/978-3-319-24574-4_28.
J. R. Mianroodi, N. H. Siboni, D. Raabe, "Teaching solid mechanics to artificial intelligence — a
fast solver for heterogeneous materials", npj Comput. Mater. 7, 99 (2021).
Z. Yang, C.-H. Yu, M. J. Buehler, "Deep learning model to predict complex stress and strain fields
in hierarchical composites", Science Advances 7, eabd7416 (2021).
R. Hill, "Elastic properties of reinforced solids: some theoretical principles", J. Mech. Phys.
Solids 11, 357 (1963) (Hill's lemma :math:`\langle\sigma:\varepsilon\rangle =
\langle\sigma\rangle:\langle\varepsilon\rangle`).
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from sklearn.utils.validation import check_array, check_is_fitted

from .._backend import device as resolve_device
from .._backend import like, to_torch
from .._validation import check_finite, check_integer, check_labels, check_sample_weight
from ..nn import PeriodicConv, activation, apply_symmetry, seeded, symmetry_group
from ._torch_estimator import (TorchRegressor, check_training_settings, fit_network, keeps_state_on_failure,
                               minibatches, split_train_validation)

__all__ = [
    "UNetFieldPredictor",
    "relative_field_error",
    "effective_conductivity_from_flux",
    "effective_stiffness_from_energy",
]

_AUGMENT = (None, "flips", "square")


# ----------------------------------------------------------------------------- the network
class _Block(torch.nn.Sequential):
    """Two periodic 3×3 convolutions, each followed by batch normalization and the activation."""

    def __init__(self, ndim, n_in, n_out, activation):
        norm = torch.nn.BatchNorm2d if ndim == 2 else torch.nn.BatchNorm3d
        super().__init__(PeriodicConv(ndim, n_in, n_out), norm(n_out), activation(),
                         PeriodicConv(ndim, n_out, n_out), norm(n_out), activation())


class _UNet(torch.nn.Module):
    """Periodic U-Net: widths ``width * 2**level``; average pooling down, transposed convolution up."""

    def __init__(self, ndim, n_in, n_out, width, levels, activation):
        super().__init__()
        widths = [width * 2**level for level in range(levels + 1)]
        pool = torch.nn.AvgPool2d if ndim == 2 else torch.nn.AvgPool3d
        up = torch.nn.ConvTranspose2d if ndim == 2 else torch.nn.ConvTranspose3d
        self.encoder = torch.nn.ModuleList(
            [_Block(ndim, n_in if level == 0 else widths[level - 1], widths[level], activation)
             for level in range(levels)])
        self.pool = pool(2)
        self.bottleneck = _Block(ndim, widths[levels - 1], widths[levels], activation)
        self.up = torch.nn.ModuleList([up(widths[level + 1], widths[level], 2, stride=2) for level in range(levels)])
        self.decoder = torch.nn.ModuleList(
            [_Block(ndim, 2 * widths[level], widths[level], activation) for level in range(levels)])
        self.head = PeriodicConv(ndim, widths[0], n_out, kernel=1)

    def forward(self, x):
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for level in reversed(range(len(self.encoder))):
            x = self.up[level](x)
            x = self.decoder[level](torch.cat([x, skips[level]], dim=1))
        return self.head(x)


def _recalibrate_batch_norm(network, X, batch, smallest_batch=1):
    """Recompute the batch-normalization statistics of the final weights on the training images.

    During training the running statistics are an exponential average over earlier weights; with
    few optimizer steps per epoch they lag behind, and the network evaluates differently from how it
    trained. One pass over the training data with the kept weights (cumulative average) fixes that.
    """
    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    network.train()
    with torch.no_grad():
        for part in minibatches(len(X), batch, smallest_batch):
            network(X[part])
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    network.eval()


def _augmentations(ndim, augment):
    """The symmetries drawn for augmentation, as matrices of :func:`mslearn.nn.symmetry_group`.

    Ordered by axis order, then by the number of mirrored axes (the order the U-Net has always
    drawn them in), so that a ``random_state`` keeps giving the same model.
    """
    if augment is None:
        return np.eye(ndim)[None]

    def order(R):
        mirrored = np.flatnonzero(R.sum(axis=0) < 0)
        return tuple(np.abs(R).argmax(axis=1)), len(mirrored), tuple(mirrored)

    return np.stack(sorted(symmetry_group(ndim, rotations=augment == "square"), key=order))


# ----------------------------------------------------------------------------- the estimator
class UNetFieldPredictor(TorchRegressor):
    r"""Predict local fields ``(n, c, *spatial)`` from phase-label images ``(n, *spatial)`` with a periodic U-Net.

    Parameters
    ----------
    ndim : {2, 3}
        Number of spatial axes of the images (explicit: a 2D field stack ``(n, c, H, W)`` and a 3D
        single-channel one ``(n, D, H, W)`` have the same number of axes).
    levels : int >= 1
        Number of 2× poolings (2–3 suit 32²–64² images; the receptive field grows as
        :math:`2^\text{levels}`). Image sizes must be divisible by ``2**levels``.
    width : int
        Channels at the finest level, doubling per level. Small widths (8–16) train on a CPU.
    activation : {"gelu", "silu", "relu", "tanh"}
    phase_features : array of shape (n_phases, n_features), optional
        Input encoding: ``None`` one-hot channels per phase label (the number of phases is taken
        from the training images); otherwise row ``i`` gives the input channels of label ``i`` (e.g.
        the phase conductivities, standardized over the phases internally). Labels without a row, or
        above the largest label seen in training for one-hot, are rejected at ``predict``.
    augment : {None, "flips", "square"}
        Symmetry augmentation: each mini-batch is mirrored/rotated by a random element of the group.
        ``"flips"`` is valid for scalar fields under a load along a coordinate axis; ``"square"``
        also permutes axes (90° rotations) and is valid only for loads invariant (up to sign) under
        axis permutations — *not* for uniaxial loads (see the module docstring).
    learning_rate_init, max_iter, batch_size, weight_decay
        Adam settings on the mean squared error of the scaled fields (``max_iter`` counts epochs);
        the learning rate decays by a cosine schedule over ``max_iter`` epochs.
    validation_fraction, patience
        Share of the training images held out for early stopping, and the epochs without improvement
        of the validation loss after which training stops (``None``: never); the best weights are kept.
    random_state : int
        Seeds the initialization, the validation split, the batch order and the augmentation
        (torch's global random state is left unchanged).
    device : str or torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    cpu_threads : int, optional
        Torch CPU threads during ``fit``/``predict`` (restored afterwards); ``None`` keeps torch's
        setting. ``1`` is often faster for small images on shared or busy cores.
    progress : bool
        Show a tqdm progress bar over epochs.
    warm_start : bool
        Continue training the fitted network (more epochs, fine-tuning), as in
        :class:`~mslearn.surrogates.MLPRegressor`.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network (set by ``fit``, like every attribute below).
    field_scale_ : ndarray (c,)
        :math:`\langle |f_c| \rangle` over the training fields; the network predicts :math:`f_c / \bar f_c`.
    n_phases_ : int
    n_channels_ : int
    history_, best_epoch_, n_iter_
        As in :class:`~mslearn.surrogates.TorchRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from mslearn.surrogates import UNetFieldPredictor
    >>> images = (np.random.default_rng(0).random((40, 16, 16)) > 0.5).astype(int)
    >>> fields = np.stack([ndimage.uniform_filter(1.0 + i, 3, mode="wrap") for i in images])
    >>> model = UNetFieldPredictor(levels=2, width=8, max_iter=5, random_state=0, device="cpu").fit(images, fields)
    >>> model.predict(images[:3]).shape
    (3, 16, 16)
    """

    def __init__(self, ndim=2, levels=2, width=12, activation="gelu", phase_features=None, augment=None, *,
                 learning_rate_init=3e-3, max_iter=200, batch_size=16, weight_decay=0.0, validation_fraction=0.15,
                 patience=30, random_state=0, device="auto", cpu_threads=None, progress=False, warm_start=False):
        self.ndim = ndim
        self.levels = levels
        self.width = width
        self.activation = activation
        self.phase_features = phase_features
        self.augment = augment
        self.cpu_threads = cpu_threads
        self.warm_start = warm_start
        self._init_training(learning_rate_init, max_iter, batch_size, weight_decay, validation_fraction,
                            patience, random_state, device, progress)

    # -- checks ----------------------------------------------------------------------------------
    def _check_settings(self):
        if self.ndim not in (2, 3):
            raise ValueError(f"ndim={self.ndim!r}; expected the number of spatial axes, 2 or 3")
        check_integer(self.levels, 1, name="levels")
        check_integer(self.width, 1, name="width")
        activation(self.activation)
        if self.augment not in _AUGMENT:
            raise ValueError(f"augment={self.augment!r}; expected one of {_AUGMENT}")
        check_integer(self.batch_size, 1, name="batch_size")
        check_training_settings(self)

    def _check_images(self, X, *, fitting=False):
        """Phase-label images ``X`` ``(n, *spatial)`` → int64 numpy labels this network can read."""
        if not hasattr(X, "ndim"):
            X = np.asarray(X)
        if X.ndim != self.ndim + 1:
            raise ValueError(
                f"X has shape {tuple(X.shape)}; expected phase-label images (n_samples, *spatial) "
                f"with ndim={self.ndim} spatial axes")
        check_labels(X, name="X", spatial=(self.ndim,), batch=True)
        labels = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
        labels = labels.astype(np.int64)
        factor = 2**self.levels
        if any(s % factor for s in labels.shape[1:]):
            raise ValueError(
                f"X has images of spatial shape {labels.shape[1:]}; with levels={self.levels} every size must be "
                f"divisible by 2**levels = {factor} (crop or pad the images, or lower levels)")
        if not fitting:
            high = int(labels.max())
            if high >= self.n_phases_:
                raise ValueError(
                    f"X contains the phase label {high}, unseen in training (labels 0..{self.n_phases_ - 1}); "
                    "the network has no input channel for it")
        return labels

    def _check_fields(self, y, labels):
        """Fields ``y`` ``(n, [c,] *spatial)`` on the grid of the images → float64 numpy."""
        fields = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        if not np.issubdtype(fields.dtype, np.number):
            raise TypeError(f"y must hold numeric fields, got dtype {fields.dtype}")
        fields = check_array(fields, dtype=np.float64, ensure_2d=False, allow_nd=True, input_name="y")
        n, spatial = labels.shape[0], labels.shape[1:]
        if fields.ndim not in (self.ndim + 1, self.ndim + 2):
            raise ValueError(
                f"y has shape {fields.shape}; expected fields (n_samples, *spatial) or (n_samples, n_channels, "
                f"*spatial) with ndim={self.ndim} spatial axes")
        if fields.shape[0] != n:
            raise ValueError(f"y has {fields.shape[0]} samples but X has {n}; expected one field per image")
        if fields.shape[-self.ndim:] != spatial:
            raise ValueError(f"y has spatial shape {fields.shape[-self.ndim:]} but X {spatial}; "
                             "expected fields on the image grid")
        return fields

    # -- encoding ----------------------------------------------------------------------------------
    def _features(self, n_phases):
        if self.phase_features is None:
            return np.eye(n_phases)
        features = np.asarray(self.phase_features, dtype=np.float64)
        if features.ndim == 1:
            features = features[:, None]
        if features.ndim != 2 or len(features) == 0:
            raise ValueError(f"phase_features has shape {features.shape}; expected (n_phases, n_features)")
        check_finite(features, name="phase_features")
        std = features.std(axis=0)
        return (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0)

    def _encode(self, labels, device, dtype=torch.float32):
        table = torch.as_tensor(self.input_table_, dtype=dtype, device=device)
        x = table[torch.as_tensor(labels, device=device)]  # (n, *spatial, channels)
        return x.movedim(-1, 1).contiguous()

    # -- training ------------------------------------------------------------------------------------
    @keeps_state_on_failure
    def fit(self, X, y):
        """Train on phase-label images ``X`` and their fields ``y``. If it raises, the model is left as it was.

        Parameters
        ----------
        X : array-like or torch.Tensor of int, shape ``(n_samples, *spatial)``
            Phase labels, ``ndim`` spatial axes, each size divisible by ``2**levels``.
        y : array-like or torch.Tensor, shape ``(n_samples, *spatial)`` or ``(n_samples, c, *spatial)``
            Fields on the image grid (one or ``c`` channels), converted to float64.

        Returns
        -------
        self : UNetFieldPredictor
            The fitted estimator.

        Raises
        ------
        TypeError
            If ``y`` is not numeric, or a flag or an integer setting is not a bool or an integer.
        ValueError
            If a setting is invalid, ``X`` or ``y`` has another shape, a spatial size is not divisible by
            ``2**levels``, a label has no ``phase_features`` row, a field channel is zero everywhere, a
            warm start meets other labels or channels, or images of ``2**levels`` voxels a side (one voxel at
            the bottleneck, where batch normalization needs two images) meet ``batch_size=1`` or fewer than two
            training images.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        with self._threads(self.device):
            return self._fit(X, y)

    def _fit(self, X, y):
        self._check_settings()
        labels = self._check_images(X, fitting=True)
        fields = self._check_fields(y, labels)
        if self._warm():
            single = fields.ndim == self.ndim + 1
            self._check_warm_shape("a single-channel y", single, bool(self.single_channel_))
            high = int(labels.max())
            if high >= self.n_phases_:
                raise ValueError(f"warm_start: the images contain label {high}, but the network was trained on "
                                 f"labels 0..{self.n_phases_ - 1}; continue with the same phases")
            return self._train(labels, fields[:, None] if single else fields, warm=True)
        if self.phase_features is not None:
            n_rows = len(np.atleast_1d(np.asarray(self.phase_features, dtype=object)))
            if int(labels.max()) >= n_rows:
                raise ValueError(f"X contains the phase label {int(labels.max())} but phase_features has "
                                 f"only {n_rows} rows; give a row per phase label")
            self.n_phases_ = n_rows
        else:
            self.n_phases_ = int(labels.max()) + 1
        self.input_table_ = self._features(self.n_phases_)
        self.single_channel_ = fields.ndim == self.ndim + 1
        if self.single_channel_:
            fields = fields[:, None]
        self.n_channels_ = fields.shape[1]
        axes = (0,) + tuple(range(2, fields.ndim))
        self.field_scale_ = np.abs(fields).mean(axis=axes)
        if np.any(self.field_scale_ == 0):
            raise ValueError(f"y: field channel {int(np.argmin(self.field_scale_))} is zero everywhere; "
                             "expected a field to learn")
        self.n_features_in_ = self.input_table_.shape[1]
        return self._train(labels, fields, warm=False)

    def _train(self, labels, fields, warm):
        """Train on ``labels`` and channel-first ``fields`` (a new network, or the fitted one when ``warm``)."""
        if warm:
            self._check_warm_shape("the number of field channels", fields.shape[1], self.n_channels_)
        device = resolve_device(self.device)
        train, validation, generator = split_train_validation(self, len(labels))
        # images of 2**levels voxels a side pool to one voxel at the bottleneck, where batch normalization
        # needs two images in every training mini-batch: a lone last image joins the batch before it
        single_voxel = all(size == 2**self.levels for size in labels.shape[1:])
        smallest_batch = 2 if single_voxel else 1
        if min(len(train), self.batch_size) < smallest_batch:
            raise ValueError(
                f"images of shape {labels.shape[1:]} pool to a single voxel at the bottleneck of "
                f"levels={self.levels}, where batch normalization needs 2 or more images in each mini-batch, but "
                f"batch_size={self.batch_size} and {len(train)} training images remain after the validation split "
                f"of {len(labels)}; raise batch_size or the number of images, lower validation_fraction or levels")
        X = self._encode(labels, device)
        scale = self.field_scale_.reshape((1, -1) + (1,) * self.ndim)
        Y = torch.as_tensor(fields / scale, dtype=torch.float32, device=device)

        with seeded(self.random_state, device):
            self.network_ = self._continued(_UNet(self.ndim, X.shape[1], self.n_channels_, self.width, self.levels,
                                                  activation(self.activation)), device)
        loss_fn = torch.nn.MSELoss()
        symmetries = _augmentations(self.ndim, self.augment)
        batch = min(self.batch_size, len(train))
        train_t = torch.as_tensor(train, device=device)

        def train_loss(index):
            rows = train_t[torch.as_tensor(index, device=device)]
            symmetry = symmetries[generator.integers(len(symmetries))]   # one symmetry per mini-batch
            return loss_fn(self.network_(apply_symmetry(X[rows], symmetry, channels=True)),
                           apply_symmetry(Y[rows], symmetry, channels=True))

        def validation_loss():
            return self._loss(X[validation], Y[validation], batch) if len(validation) else None

        fit_network(self, self.network_, len(train), train_loss, validation_loss, generator, schedule="cosine",
                    resumed=warm, smallest_batch=smallest_batch)
        _recalibrate_batch_norm(self.network_, X[train], batch, smallest_batch)
        return self

    def _loss(self, X, Y, batch):
        self.network_.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(X), batch):
                total += float(((self.network_(X[start:start + batch]) - Y[start:start + batch]) ** 2).sum())
        return total / Y.numel()

    def predict(self, X):
        """Predicted fields of phase-label images.

        Parameters
        ----------
        X : array-like or torch.Tensor of int, shape ``(n_samples, *spatial)``
            Phase labels among those of the training images; each spatial size divisible by ``2**levels``.

        Returns
        -------
        ndarray of float64, shape ``(n_samples, c, *spatial)``
            ``(n_samples, *spatial)`` when trained on single-channel fields.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` has another number of axes, sizes not divisible by ``2**levels``, or an unseen label.
        """
        check_is_fitted(self, "network_")
        labels = self._check_images(X)
        parameter = next(self.network_.parameters())
        X = self._encode(labels, parameter.device, parameter.dtype)
        with torch.no_grad(), self._threads(parameter.device):
            out = torch.cat([self.network_(X[start:start + self.batch_size])
                             for start in range(0, len(X), self.batch_size)])
        out = out.cpu().numpy().astype(np.float64) * self.field_scale_.reshape((1, -1) + (1,) * self.ndim)
        return out[:, 0] if self.single_channel_ else out

    def score(self, X, y, sample_weight=None):
        r"""Coefficient of determination :math:`R^2` of all field values pooled (per channel, averaged).

        :math:`R^2 = 1 - \sum (f - \hat f)^2 / \sum (f - \bar f_c)^2` with :math:`\bar f_c` the mean
        of channel ``c`` over samples and voxels: 0 for predicting the mean field value everywhere.

        Parameters
        ----------
        X : array-like or torch.Tensor of int, shape ``(n_samples, *spatial)``
            Phase labels.
        y : array-like, shape ``(n_samples, *spatial)`` or ``(n_samples, c, *spatial)``
            True fields, with the channels of the training fields.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each image in the sums, finite, >= 0 and not all zero; default ``None``: equal weights.

        Returns
        -------
        float
            :math:`R^2` averaged over the channels.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` or ``y`` is invalid as in :meth:`fit`, ``y`` has another number of channels, or
            ``sample_weight`` has another length, a negative or non-finite weight, or only zeros.
        """
        check_is_fitted(self, "network_")      # before _check_images, which reads fitted attributes
        labels = self._check_images(X)
        fields = self._check_fields(y, labels)
        w = check_sample_weight(sample_weight, len(fields), unit="image")
        w = np.ones(len(fields)) if w is None else w
        predicted = self.predict(X)
        if fields.ndim == self.ndim + 1:
            fields, predicted = fields[:, None], predicted[:, None]
        if fields.shape[1] != self.n_channels_:
            raise ValueError(f"y has {fields.shape[1]} channels; the model predicts {self.n_channels_}")
        axes = (0,) + tuple(range(2, fields.ndim))
        w = w.reshape((-1,) + (1,) * (fields.ndim - 1))
        mean = (w * fields).sum(axis=axes, keepdims=True) / (w.sum() * np.prod(fields.shape[2:]))
        residual = (w * (fields - predicted) ** 2).sum(axis=axes)
        total = (w * (fields - mean) ** 2).sum(axis=axes)
        return float(np.mean(1 - residual / np.where(total > 0, total, 1.0)))


# ----------------------------------------------------------------------------- metrics
def _pair(y_true, y_pred):
    t, p = to_torch(y_true, dtype=torch.float64), to_torch(y_pred, dtype=torch.float64)
    if p.shape != t.shape:
        raise ValueError(f"y_true has shape {tuple(t.shape)} but y_pred {tuple(p.shape)}; expected equal shapes")
    if t.ndim < 2:
        raise ValueError(f"y_true has shape {tuple(t.shape)}; expected (n_samples, ...) with a batch axis")
    check_finite(t, name="y_true")
    check_finite(p, name="y_pred")
    return t.to(p.device), p   # on the prediction's device


def relative_field_error(y_true, y_pred, *, where=None):
    r"""Per-sample relative :math:`L_2` field error :math:`\|\hat f - f\| / \|f\|`.

    Parameters
    ----------
    y_true, y_pred : arrays or tensors of shape ``(n_samples, ...)``
        The true fields :math:`f` and the predictions :math:`\hat f` (the truth first, as in
        ``sklearn.metrics``), with a leading batch axis; the norm runs over all other axes (channels
        and voxels).
    where : bool array of the same shape, optional
        Restrict both norms to these entries (numpy's ``where=`` of reductions), e.g. the hot spots ``y_true > quantile(y_true, 0.95)``.

    Returns
    -------
    ndarray or tensor (n_samples,)
        Predicting the mean field value :math:`\langle f\rangle` of each sample gives its
        coefficient of variation :math:`\operatorname{std}(f)/\sqrt{\langle f\rangle^2 + \operatorname{std}(f)^2}`
        (about the coefficient of variation when it is small).

    Examples
    --------
    >>> import numpy as np
    >>> relative_field_error(np.ones((1, 4)), np.full((1, 4), 2.0))
    array([1.])
    """
    t, p = _pair(y_true, y_pred)
    if where is not None:
        m = to_torch(where, p.device)
        if m.dtype != torch.bool:                 # numbers would weight the entries, not select them
            raise TypeError(f"where has dtype {m.dtype}; expected a bool mask, e.g. y_true > threshold")
        if tuple(m.shape) != tuple(t.shape):
            raise ValueError(f"where has shape {tuple(m.shape)}; expected the fields' shape {tuple(t.shape)}")
        m = m.to(torch.float64)
        p, t = p * m, t * m
    dims = tuple(range(1, t.ndim))
    norm = torch.linalg.vector_norm(t, dim=dims)
    if torch.any(norm == 0):
        raise ValueError("y_true is zero (within where) for some sample; the relative error is undefined")
    return like(torch.linalg.vector_norm(p - t, dim=dims) / norm, y_pred)


def effective_conductivity_from_flux(flux_magnitude, labels, k, *, load=1.0):
    r"""Effective conductivity along the load from a (predicted) flux-magnitude field.

    Hill's lemma for conduction, :math:`\langle q\cdot\nabla T\rangle = \langle q\rangle\cdot
    \langle\nabla T\rangle = E\cdot K^* E`, with :math:`q = k\nabla T` gives, for a load :math:`E`
    along a unit vector :math:`n`,

    .. math:: K^*_{nn} = \frac{1}{|E|^2}\Big\langle \frac{|q(x)|^2}{k(x)} \Big\rangle ,

    exact for the solver's fields (to its tolerance). Voxels with :math:`k = 0` (pores) carry no
    flux and contribute nothing.

    Parameters
    ----------
    flux_magnitude : array or tensor ``(n_samples, *spatial)``
    labels : int array ``(n_samples, *spatial)``
    k : sequence of float
        Scalar conductivity per phase label (``>= 0``).
    load : float
        :math:`|E| = |\langle\nabla T\rangle|` (1 for the solver's unit load cases).

    Returns
    -------
    ndarray or tensor (n_samples,)

    Examples
    --------
    Hill's lemma recovers the solver's ``K*[0, 0]`` from its own flux field:

    >>> import numpy as np
    >>> from mslearn.homogenization.solver import conductivity
    >>> labels = (np.random.default_rng(0).random((16, 16)) < 0.4).astype(int)
    >>> result = conductivity(labels, [1.0, 5.0], device="cpu", return_fields=True)
    >>> q = result.fields["flux_magnitude"][:1]                 # the load along axis 0
    >>> k11 = effective_conductivity_from_flux(q, labels[None], [1.0, 5.0])
    >>> round(float(k11[0]), 4), bool(np.isclose(k11[0], result.effective[0, 0], rtol=1e-5))
    (1.7567, True)
    """
    q = to_torch(flux_magnitude, dtype=torch.float64)
    if q.ndim < 3:
        raise ValueError(f"flux_magnitude has shape {tuple(q.shape)}; expected (n_samples, *spatial)")
    if tuple(np.shape(labels)) != tuple(q.shape):
        raise ValueError(f"labels has shape {tuple(np.shape(labels))} but flux_magnitude {tuple(q.shape)}; "
                         "expected equal shapes")
    check_finite(q, name="flux_magnitude")
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 1 or np.any(~np.isfinite(k)) or np.any(k < 0):
        raise ValueError(f"k = {k.tolist()}; expected one finite conductivity >= 0 per phase label")
    check_labels(labels, batch=True, n_phases=len(k), spatial=(q.ndim - 1,))
    if isinstance(load, bool) or not (isinstance(load, numbers.Real) and 0 < load < math.inf):
        raise ValueError(f"load={load!r}; expected the positive, finite magnitude of the applied gradient")
    kx = torch.as_tensor(k, device=q.device)[to_torch(labels, q.device).long()]
    density = torch.where(kx > 0, q**2 / torch.where(kx > 0, kx, 1.0), 0.0)
    return like(density.mean(dim=tuple(range(1, q.ndim))) / load**2, flux_magnitude)


def effective_stiffness_from_energy(strain_energy_density, *, strain=1.0):
    r"""Effective stiffness along a unit macroscopic strain from a (predicted) energy-density field.

    Hill's lemma :math:`\langle\sigma:\varepsilon\rangle = E:C^*:E` with :math:`w = \tfrac12
    \sigma:\varepsilon` gives, for the Mandel unit strain :math:`E = \varepsilon\,e_I`,
    :math:`C^*_{II} = 2\langle w\rangle/\varepsilon^2` (e.g. :math:`C^*_{11}` for uniaxial strain).

    Parameters
    ----------
    strain_energy_density : array or tensor ``(n_samples, *spatial)``
    strain : float
        Magnitude :math:`\varepsilon` of the applied Mandel strain (1 for the solver's load cases).

    Returns
    -------
    ndarray or tensor (n_samples,)

    Examples
    --------
    Hill's lemma recovers the diagonal of the solver's ``C*`` from its energy densities (one per unit load):

    >>> import numpy as np
    >>> from mslearn.homogenization.solver import elasticity
    >>> labels = (np.random.default_rng(0).random((16, 16)) < 0.4).astype(int)
    >>> result = elasticity(labels, [(1.0, 0.3), (5.0, 0.3)], device="cpu", return_fields=True)
    >>> C_II = effective_stiffness_from_energy(result.fields["strain_energy_density"])
    >>> C_II.round(4), bool(np.allclose(C_II, np.diag(result.effective), rtol=1e-5))
    (array([2.1745, 2.0893, 1.1714]), True)
    """
    w = to_torch(strain_energy_density, dtype=torch.float64)
    if w.ndim < 3:
        raise ValueError(f"strain_energy_density has shape {tuple(w.shape)}; expected (n_samples, *spatial)")
    check_finite(w, name="strain_energy_density")
    if isinstance(strain, bool) or not (isinstance(strain, numbers.Real) and 0 < strain < math.inf):
        raise ValueError(f"strain={strain!r}; expected the positive, finite magnitude of the applied strain")
    return like(2 * w.mean(dim=tuple(range(1, w.ndim))) / strain**2, strain_energy_density)
