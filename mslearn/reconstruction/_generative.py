"""A small generative model of microstructure: a fully convolutional VAE trained on crops (private).

Kingma & Welling's variational autoencoder with a *spatial* latent (one latent vector per 4 x 4
pixel block), so that the decoder is a local texture model: sampling a larger latent grid from the
prior gives a larger image with the same local statistics. Trained on random crops of one
micrograph (random flips/transposes as augmentation), binary cross-entropy + KL divergence.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import _backend
from . import _targets as T


class _Net(nn.Module):
    def __init__(self, channels, latent):
        super().__init__()
        c = channels
        self.enc = nn.Sequential(nn.Conv2d(1, c, 3, 2, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(),
                                 nn.Conv2d(2 * c, 2 * latent, 3, 1, 1))
        self.dec = nn.Sequential(nn.Conv2d(latent, 2 * c, 3, 1, 1), nn.ReLU(), nn.Upsample(scale_factor=2),
                                 nn.Conv2d(2 * c, c, 3, 1, 1), nn.ReLU(), nn.Upsample(scale_factor=2),
                                 nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, 1, 3, 1, 1))


class CropVAE:
    """Fully convolutional variational autoencoder of two-phase micrographs, trained on random crops.

    Parameters
    ----------
    crop : int
        Side of the training crops (multiple of 4).
    latent_channels : int
        Latent channels per 4 x 4 block.
    channels : int
        Width of the convolutional layers.
    beta : float
        Weight of the KL term.
    seed : int
    device : str or torch.device

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.reconstruction import CropVAE
    >>> image = (np.add.outer(np.arange(48), np.arange(48)) % 8 < 4).astype(int)
    >>> vae = CropVAE(crop=16, seed=0).fit(image, steps=5)
    >>> vae.sample(2, size=16).shape
    (2, 16, 16)
    """

    def __init__(self, crop=32, *, latent_channels=4, channels=16, beta=1.0, seed=0, device="cpu"):
        if crop % 4 or crop < 8:
            raise ValueError(f"crop={crop}; expected a multiple of 4, at least 8")
        self.crop, self.latent, self.beta, self.seed = int(crop), int(latent_channels), float(beta), seed
        self.device = _backend.device(device)
        torch.manual_seed(seed)
        self.net = _Net(channels, latent_channels).to(self.device)
        self.history_ = []

    def fit(self, image, *, steps=300, batch_size=32, lr=2e-3, progress=False):
        """Train on random crops (with flips/transposes) of a two-phase label image; returns self."""
        labels = T.as_label_array(image, spatial=(2,))
        if labels.max() != 1:
            raise ValueError("CropVAE models two-phase images (labels 0 and 1)")
        if min(labels.shape) < self.crop:
            raise ValueError(f"image {labels.shape} is smaller than crop={self.crop}")
        data = torch.from_numpy(labels.astype(np.float32)).to(self.device)
        gen = _backend.rng(self.seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.phi_ = float(labels.mean())
        iterator = range(steps)
        if progress:
            from tqdm.auto import tqdm
            iterator = tqdm(iterator, desc="CropVAE", unit="step")
        for _ in iterator:
            i = gen.integers(0, labels.shape[0] - self.crop + 1, batch_size)
            j = gen.integers(0, labels.shape[1] - self.crop + 1, batch_size)
            idx_i = torch.as_tensor(i[:, None] + np.arange(self.crop))
            idx_j = torch.as_tensor(j[:, None] + np.arange(self.crop))
            x = data[idx_i[:, :, None], idx_j[:, None, :]].unsqueeze(1)
            if gen.random() < 0.5:
                x = x.flip(-1)
            if gen.random() < 0.5:
                x = x.transpose(-1, -2)
            stats = self.net.enc(x)
            mu, logvar = stats[:, :self.latent], stats[:, self.latent:].clamp(-8, 8)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            logits = self.net.dec(z)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
            kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum() / x.shape[0]
            loss = rec + self.beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.history_.append(float(loss.detach()) / self.crop**2)
        return self

    @torch.no_grad()
    def sample(self, n=1, *, size=None, seed=0, threshold=0.5):
        """``n`` binary images of side ``size`` (default ``crop``; a multiple of 4) from the prior."""
        size = self.crop if size is None else int(size)
        if size % 4:
            raise ValueError(f"size={size}; expected a multiple of 4")
        gen = _backend.torch_generator(seed)
        z = torch.randn((n, self.latent, size // 4, size // 4), generator=gen).to(self.device)
        prob = torch.sigmoid(self.net.dec(z))[:, 0]
        return (prob > threshold).cpu().numpy().astype(np.int64)
