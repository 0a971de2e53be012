"""Small synthetic data sets from closed-form physical models, for teaching the ML workflow.

They cost nothing to generate, so a notebook can make thousands of samples in milliseconds and
focus on the learning; the noise imitates measurement scatter so that no model can be perfect.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._backend import rng
from .._validation import check_in_range, check_integer
from ..homogenization.bounds import hamilton_crosser

__all__ = ["composite_conductivity"]

FEATURES = ("volume_fraction", "log10_contrast", "shape_factor")
TARGET = "relative_conductivity"


def composite_conductivity(n_samples, *, noise=0.03, seed=0, volume_fraction=(0.0, 0.5),
                           contrast=(0.01, 100.0), shape_factor=(3.0, 12.0)) -> pd.DataFrame:
    r"""Noisy "measurements" of the effective conductivity of particle composites.

    Each sample draws a particle volume fraction :math:`\phi`, a phase contrast
    :math:`c = k_p / k_m` (log-uniformly) and a Hamilton–Crosser shape factor :math:`n = 3/\psi`
    (uniformly), and reports the relative conductivity :math:`k^*/k_m` of the Hamilton–Crosser model
    (see :func:`mslearn.homogenization.bounds.hamilton_crosser`) with multiplicative Gaussian noise:
    :math:`y = (k^*/k_m)(1 + \sigma \varepsilon)`, :math:`\varepsilon \sim N(0, 1)`.

    Parameters
    ----------
    n_samples : int
    noise : float
        Relative noise level :math:`\sigma` (0.03 = 3 % scatter), in [0, 1].
    seed : int
    volume_fraction, contrast, shape_factor : (low, high)
        Sampling ranges; contrast is sampled log-uniformly.

    Returns
    -------
    pandas.DataFrame
        Columns ``volume_fraction``, ``log10_contrast``, ``shape_factor`` (the features),
        ``relative_conductivity`` (the noisy target) and ``relative_conductivity_exact``.

    Examples
    --------
    >>> from mslearn.datasets import composite_conductivity
    >>> data = composite_conductivity(5, seed=0)
    >>> list(data.columns)[:3]
    ['volume_fraction', 'log10_contrast', 'shape_factor']
    """
    n_samples = check_integer(n_samples, 1, name="n_samples")
    check_in_range(noise, 0.0, 1.0, name="noise")
    check_in_range(np.asarray(volume_fraction), 0.0, 1.0, name="volume_fraction")
    check_in_range(np.asarray(contrast), 1e-12, np.inf, name="contrast")
    check_in_range(np.asarray(shape_factor), 1.0, np.inf, name="shape_factor")
    for name, bounds in (("volume_fraction", volume_fraction), ("contrast", contrast), ("shape_factor", shape_factor)):
        if np.shape(bounds) != (2,) or not bounds[0] <= bounds[1]:
            raise ValueError(f"{name} = {bounds!r}; expected a sampling range (low, high) with low <= high")
    generator = rng(seed)
    phi = generator.uniform(*volume_fraction, n_samples)
    log_contrast = generator.uniform(*np.log10(contrast), n_samples)
    n = generator.uniform(*shape_factor, n_samples)
    exact = hamilton_crosser(phi, 1.0, 10.0**log_contrast, n)
    measured = exact * (1.0 + noise * generator.standard_normal(n_samples))
    return pd.DataFrame({
        "volume_fraction": phi,
        "log10_contrast": log_contrast,
        "shape_factor": n,
        TARGET: measured,
        TARGET + "_exact": exact,
    })
