"""A small generative model of microstructure: a fully convolutional VAE trained on crops (private).

Kingma & Welling's variational autoencoder with a *spatial* latent (one latent vector per 4 x 4
pixel block), so that the decoder is a local texture model: sampling a larger latent grid from the
prior gives a larger image with the same local statistics. Trained on random crops of one
micrograph (random flips/transposes as augmentation), binary cross-entropy + KL divergence.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .. import _backend
from .._validation import check_flag, check_in_range, check_integer, check_labels, check_same_settings
from ..nn import integer_seed, seeded
from ..surrogates._torch_estimator import LoadsOlderPickles


class _Net(nn.Module):
    def __init__(self, channels, latent):
        super().__init__()
        c = channels
        self.enc = nn.Sequential(nn.Conv2d(1, c, 3, 2, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(),
                                 nn.Conv2d(2 * c, 2 * latent, 3, 1, 1))
        self.dec = nn.Sequential(nn.Conv2d(latent, 2 * c, 3, 1, 1), nn.ReLU(), nn.Upsample(scale_factor=2),
                                 nn.Conv2d(2 * c, c, 3, 1, 1), nn.ReLU(), nn.Upsample(scale_factor=2),
                                 nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, 1, 3, 1, 1))


def _check_threshold(threshold):
    """None or a probability strictly inside (0, 1): 0 or 1 (or beyond, or NaN) gives all-1 or all-0 images."""
    if threshold is None:
        return
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold = {threshold!r}; expected a probability 0 < threshold < 1, or None")
    try:
        check_in_range(threshold, 0, 1, name="threshold", inclusive=(False, False))
    except ValueError as error:
        raise ValueError(f"{error}; expected a probability 0 < threshold < 1 (phase 1 where the decoded "
                         "probability exceeds it), or None for the probabilities") from None


def _noise_state(device):
    """The state of the generator that draws the latent noise on ``device`` (inside ``seeded``)."""
    return device.type, torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_noise_state(saved, device):
    """Restore a :func:`_noise_state` (a state from another kind of device cannot be: the noise of the
    fresh stream is drawn then)."""
    kind, state = saved
    if kind != device.type:
        return
    if kind == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def _to_cpu(value):
    """A copy of an optimizer's state dict with its tensors on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _to_cpu(entry) for key, entry in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(entry) for entry in value)
    return value


class CropVAE(LoadsOlderPickles, BaseEstimator):
    """Fully convolutional variational autoencoder of two-phase micrographs, trained on random crops.

    A scikit-learn estimator: the hyper-parameters below are set here, ``fit(X)`` takes the data only
    and trains a new network (unless ``warm_start``), and the trained state lives in the attributes
    ending in ``_``.

    Parameters
    ----------
    crop : int
        Side of the training crops (multiple of 4, at least 8).
    latent_channels : int
        Latent channels per 4 x 4 block.
    channels : int
        Width of the convolutional layers.
    beta : float
        Weight of the KL term.
    max_iter : int
        Training steps (Adam updates, one mini-batch of crops each).
    batch_size : int
        Crops per step.
    learning_rate_init : float
        Adam's learning rate.
    random_state : int
        Seeds the weights, the crops and the latent noise of training (torch's global random state
        is left unchanged); :meth:`sample` has its own ``random_state``.
    device : str or torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    cpu_threads : int, optional
        Torch CPU threads during ``fit``/``sample``/``decode`` (restored afterwards); ``None`` keeps torch's
        setting. ``1`` is often faster for small images on shared or busy cores.
    progress : bool
        Show a tqdm progress bar over the steps.
    warm_start : bool
        scikit-learn's meaning: when ``True`` and the model is fitted, ``fit`` continues training the
        fitted VAE for ``max_iter`` more steps, on the same or on new images, with the optimizer's state
        and the random streams (crops, flips, latent noise) where the last fit left them. On the same
        images with the same settings, ``n`` steps then ``m`` more are, bit for bit on one device, the
        ``n + m`` steps of one fit (its weights; ``history_`` holds the last ``m``). Another ``crop``,
        ``latent_channels`` or ``channels`` than the fitted network's is refused (the images are
        two-phase in every fit); ``beta`` and ``learning_rate_init`` may change (fine-tuning). Continued
        on another kind of device, the latent noise restarts from ``random_state``.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained autoencoder (set by ``fit``, like every attribute below).
    history_ : list of float
        Loss per pixel of every step of the last fit (reconstruction + ``beta`` KL).
    phi_ : float
        Volume fraction of phase 1 in the images of the last fit.
    n_iter_ : int
        Steps run by the last fit.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.reconstruction import CropVAE
    >>> image = (np.add.outer(np.arange(48), np.arange(48)) % 8 < 4).astype(int)
    >>> vae = CropVAE(crop=16, max_iter=5, random_state=0).fit(image)
    >>> vae.sample(2, size=16).shape
    (2, 16, 16)
    """

    def __init__(self, crop=32, *, latent_channels=4, channels=16, beta=1.0, max_iter=300, batch_size=32,
                 learning_rate_init=2e-3, random_state=0, device="auto", cpu_threads=None, progress=False,
                 warm_start=False):
        self.crop = crop
        self.warm_start = warm_start
        self.latent_channels = latent_channels
        self.channels = channels
        self.beta = beta
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.random_state = random_state
        self.device = device
        self.cpu_threads = cpu_threads
        self.progress = progress

    def _check_settings(self):
        # checked in fit, not __init__, so that set_params and clone only store values (scikit-learn's rule)
        if not isinstance(self.crop, numbers.Integral) or self.crop % 4 or self.crop < 8:
            raise ValueError(f"crop = {self.crop!r}; expected a multiple of 4, at least 8")
        for name in ("latent_channels", "channels", "max_iter", "batch_size"):
            check_integer(getattr(self, name), 1, name=name)
        for name, strict in (("learning_rate_init", True), ("beta", False)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value > 0 or
                                                                                        (not strict and value == 0)):
                raise ValueError(f"{name} = {value!r}; expected a {'positive' if strict else 'non-negative'} number")
        integer_seed(self.random_state)
        check_flag(self.progress, name="progress")
        check_flag(self.warm_start, name="warm_start")

    def _network_settings(self):
        return {name: int(getattr(self, name)) for name in ("crop", "latent_channels", "channels")}

    def _check_images(self, X):
        """One label image ``(H, W)`` or a stack ``(n, H, W)`` → int64 stack ``(n, H, W)``."""
        if not hasattr(X, "ndim"):
            X = np.asarray(X)
        if X.ndim not in (2, 3):
            raise ValueError(f"X has shape {tuple(X.shape)}; expected one two-phase label image (H, W) or a "
                             "stack of them (n, H, W)")
        check_labels(X, name="X", spatial=(2,), batch=X.ndim == 3)
        values = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
        labels = np.rint(values).astype(np.int64).reshape((-1,) + values.shape[-2:])
        if labels.max() != 1 or labels.min() != 0:
            raise ValueError(f"X has the labels {np.unique(labels).tolist()}; CropVAE models two-phase images "
                             "(labels 0 and 1, both present)")
        if min(labels.shape[1:]) < self.crop:
            raise ValueError(f"images of shape {labels.shape[1:]} are smaller than crop={self.crop}")
        return labels

    def fit(self, X, y=None):
        """Train on random crops (with flips/transposes) of two-phase label images.

        A new network, or, with ``warm_start`` on a fitted model, ``max_iter`` more steps of the fitted
        one (see the class).

        Parameters
        ----------
        X : array-like or torch.Tensor, shape (H, W) or (n, H, W)
            One two-phase label image or a stack of them (labels 0 and 1, both present), each side at
            least ``crop``.
        y : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        self : CropVAE
            The fitted estimator.

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If a setting is invalid, ``X`` is not two-phase label images of sides ``>= crop``, or a warm
            start meets another ``crop``, ``latent_channels`` or ``channels``.
        """
        with _backend.cpu_threads(self.cpu_threads, self.device):
            return self._fit(X)

    def _fit(self, X):
        self._check_settings()
        warm = bool(self.warm_start) and hasattr(self, "network_")
        if warm:
            check_same_settings(self._resume["settings"], self._network_settings(),
                                problem="warm_start: the settings differ from those the VAE was fitted with",
                                remedy="continue with the crop and the network of the first fit, or set "
                                       "warm_start=False")
        labels = self._check_images(X)
        device = _backend.device(self.device)
        crop, latent, batch = int(self.crop), int(self.latent_channels), int(self.batch_size)
        data = torch.from_numpy(labels.astype(np.float32)).to(device)
        gen = _backend.rng(integer_seed(self.random_state))
        if warm:
            gen.bit_generator.state = self._resume["crops"]
        self.phi_ = float(labels.mean())
        self.history_ = []
        iterator = range(self.max_iter)
        if self.progress:
            from tqdm.auto import tqdm
            iterator = tqdm(iterator, desc="CropVAE", unit="step")
        # the weights and the latent noise of training come from one seeded stream, forked from torch's
        with seeded(self.random_state, device):
            if warm:
                self.network_ = self.network_.to(device)
                _set_noise_state(self._resume["noise"], device)
            else:
                self.network_ = _Net(int(self.channels), latent).to(device)
            opt = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate_init)
            if warm:
                opt.load_state_dict(self._resume["optimizer"])
                for group in opt.param_groups:
                    group["lr"] = self.learning_rate_init      # this fit's rate (fine-tuning)
            for _ in iterator:
                i = gen.integers(0, labels.shape[1] - crop + 1, batch)
                j = gen.integers(0, labels.shape[2] - crop + 1, batch)
                # one image: no draw of the image index, so a single micrograph trains as it always has
                k = gen.integers(0, len(labels), batch) if len(labels) > 1 else np.zeros(batch, dtype=np.int64)
                idx_i = torch.as_tensor(i[:, None] + np.arange(crop), device=device)
                idx_j = torch.as_tensor(j[:, None] + np.arange(crop), device=device)
                x = data[torch.as_tensor(k, device=device)[:, None, None], idx_i[:, :, None],
                         idx_j[:, None, :]].unsqueeze(1)
                if gen.random() < 0.5:
                    x = x.flip(-1)
                if gen.random() < 0.5:
                    x = x.transpose(-1, -2)
                stats = self.network_.enc(x)
                mu, logvar = stats[:, :latent], stats[:, latent:].clamp(-8, 8)
                z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
                logits = self.network_.dec(z)
                rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
                kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum() / x.shape[0]
                loss = rec + self.beta * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
                self.history_.append(float(loss.detach()) / crop**2)
            # where a warm start goes on: the optimizer and the random streams (on the CPU, so that it pickles)
            self._resume = {"settings": self._network_settings(), "crops": gen.bit_generator.state,
                            "noise": _noise_state(device),
                            "optimizer": _to_cpu(opt.state_dict())}
        self.n_iter_ = len(self.history_)
        return self

    @torch.no_grad()
    def sample(self, n_samples=1, *, size=None, random_state=0, threshold=0.5):
        """``n_samples`` binary images of side ``size`` (default ``crop``; a multiple of 4) from the prior.

        ``random_state`` seeds the latent draw of this call (as in scikit-learn's
        ``GaussianProcessRegressor.sample_y``); the estimator's own ``random_state`` seeded training.
        The images are :meth:`decode` of a standard-normal latent ``(n_samples, latent_channels,
        size / 4, size / 4)``.

        Parameters
        ----------
        n_samples : int, default 1
            Number of images, at least 1.
        size : int, optional
            Side of the images, a multiple of 4 (at least 4); default ``None``: ``crop``.
        random_state : int, default 0
            Seeds the latent draw (torch's global random state is left unchanged).
        threshold : float in (0, 1) or None, default 0.5
            Phase 1 where the decoded probability exceeds it; None returns the probabilities.

        Returns
        -------
        ndarray, shape (n_samples, size, size)
            int64 labels 0/1, or float64 probabilities in [0, 1] with ``threshold=None``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``n_samples``, ``size`` or ``threshold`` is invalid.
        """
        check_is_fitted(self, "network_")
        n_samples = check_integer(n_samples, 1, name="n_samples")
        size = self.crop if size is None else check_integer(size, 4, name="size")   # int() truncated 4.5
        if size % 4:
            raise ValueError(f"size = {size}; expected a multiple of 4 (one latent vector per 4 x 4 block)")
        _check_threshold(threshold)    # before the draw, as decode would after it
        gen = _backend.torch_generator(integer_seed(random_state))
        z = torch.randn((n_samples, int(self.latent_channels), size // 4, size // 4), generator=gen)
        return self.decode(z, threshold=threshold)

    @torch.no_grad()
    def decode(self, z, *, threshold=0.5):
        """Images decoded from latent grids ``z`` ``(n, latent_channels, h, w)``: ``(n, 4 h, 4 w)``.

        The decoder alone, for a latent chosen by the caller (an optimizer searching the latent space,
        an interpolation between two encodings): :meth:`sample` is ``decode`` of a standard-normal
        ``z``. The latent is *spatial*, one ``latent_channels`` vector per 4 x 4 pixel block, so a
        ``size``² image has ``latent_channels * (size / 4)**2`` latent numbers (256 at 32² with the
        defaults) and no single number controls a global feature such as the anisotropy.

        Parameters
        ----------
        z : array-like or torch.Tensor, shape ``(n, latent_channels, h, w)``
            Latent values (the prior is a standard normal per entry).
        threshold : float in (0, 1) or None
            Phase 1 where the decoded probability exceeds it (int64 labels); None returns the
            probabilities themselves (a float ``field`` in [0, 1]).
        """
        check_is_fitted(self, "network_")
        _check_threshold(threshold)
        parameter = next(self.network_.parameters())
        z = torch.as_tensor(np.asarray(z) if not isinstance(z, torch.Tensor) else z, dtype=parameter.dtype)
        if z.ndim != 4 or z.shape[1] != int(self.latent_channels):
            raise ValueError(f"z has shape {tuple(z.shape)}; expected (n, {int(self.latent_channels)}, h, w), "
                             "latent_channels latent values per 4 x 4 pixel block")
        if not torch.isfinite(z).all():
            raise ValueError("z contains NaN or infinite values")
        with _backend.cpu_threads(self.cpu_threads, parameter.device):
            prob = torch.sigmoid(self.network_.dec(z.to(parameter.device)))[:, 0]
        if threshold is None:
            return prob.cpu().numpy().astype(np.float64)
        return (prob > threshold).cpu().numpy().astype(np.int64)
