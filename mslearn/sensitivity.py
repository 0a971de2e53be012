r"""Global sensitivity analysis: variance-based Sobol indices and permutation importance.

Which microstructure features control which property? For a model :math:`f(\mathbf x)` of
independent inputs, the first-order and total Sobol indices (Sobol 2001)

.. math::

    S_i = \frac{\operatorname{Var}[\mathbb E(f\mid x_i)]}{\operatorname{Var} f}, \qquad
    S_{T,i} = \frac{\mathbb E[\operatorname{Var}(f\mid \mathbf x_{\sim i})]}{\operatorname{Var} f}

split the output variance into what each input does alone and what it does including all its
interactions. They are estimated from two independent sample matrices :math:`A, B` (rows: samples)
and the :math:`d` matrices :math:`A_B^{(i)}` (``A`` with column ``i`` taken from ``B``), with the
estimators of Saltelli et al. (2010) for :math:`S_i` and Jansen (1999) for :math:`S_{T,i}`:

.. math::

    S_i \approx \frac{\tfrac1N\sum_j f(B)_j\,[f(A_B^{(i)})_j - f(A)_j]}{V}, \qquad
    S_{T,i} \approx \frac{\tfrac1{2N}\sum_j [f(A)_j - f(A_B^{(i)})_j]^2}{V},

:math:`V` the variance of all :math:`f(A), f(B)`. That costs :math:`N(d+2)` model evaluations, made
in one batched call: cheap for a surrogate, which is why sensitivity analysis is done on one.

Written by hand: the estimators are a page of numpy that the book wants visible and tested (on the
Ishigami function, whose indices are known exactly); SALib would add a dependency with its own
problem-dictionary API for the same few lines. Permutation importance is scikit-learn's.

References: I. M. Sobol, Math. Comput. Simul. 55, 271 (2001); A. Saltelli et al., Comput. Phys.
Commun. 181, 259 (2010); M. J. W. Jansen, Comput. Phys. Commun. 117, 35 (1999); T. Ishigami &
T. Homma, Proc. ISUMA (1990).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import qmc

from ._backend import rng
from ._validation import check_finite

__all__ = [
    "SobolResult",
    "saltelli_sample",
    "sobol_indices",
    "ishigami",
    "ishigami_indices",
    "permutation_importance_frame",
    "plot_indices",
]


def _bounds(bounds, names=None):
    """``(names, low, high)`` from a dict name -> (low, high) or a sequence of (low, high)."""
    if isinstance(bounds, dict):
        names = list(bounds) if names is None else list(names)
        pairs = list(bounds.values())
    else:
        pairs = list(bounds)
        names = [f"x{i + 1}" for i in range(len(pairs))] if names is None else list(names)
    array = np.asarray(pairs, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"bounds must be (low, high) pairs, one per input; got shape {array.shape}")
    if len(names) != len(array):
        raise ValueError(f"{len(names)} names for {len(array)} inputs")
    check_finite(array, name="bounds")
    bad = np.flatnonzero(array[:, 0] >= array[:, 1])
    if bad.size:
        i = bad[0]
        raise ValueError(f"bounds of {names[i]!r} are {tuple(array[i])}; expected low < high")
    return names, array[:, 0], array[:, 1]


def saltelli_sample(bounds, n, *, seed, scramble=True):
    """The base matrices ``A`` and ``B`` (each ``(n, d)``) from one scrambled Sobol sequence of
    dimension ``2d``, scaled to ``bounds``. ``n`` must be a power of two (Sobol balance)."""
    names, low, high = _bounds(bounds)
    if not isinstance(n, (int, np.integer)) or n < 2 or n & (n - 1):
        suggestion = 2 ** int(np.round(np.log2(max(n, 2)))) if isinstance(n, (int, np.integer)) else 1024
        raise ValueError(f"n = {n!r}; expected a power of two >= 2 for a balanced Sobol design, e.g. {suggestion}")
    d = len(names)
    seed_value = int(rng(seed).integers(2**31)) if isinstance(seed, np.random.Generator) else seed
    unit = qmc.Sobol(2 * d, scramble=scramble, seed=seed_value).random(n)
    return qmc.scale(unit[:, :d], low, high), qmc.scale(unit[:, d:], low, high)


@dataclass
class SobolResult:
    """Sobol indices with bootstrap confidence half-widths (arrays ``(d,)``, or ``(k, d)`` for ``k`` outputs)."""

    names: list
    first: np.ndarray
    total: np.ndarray
    first_conf: np.ndarray
    total_conf: np.ndarray
    confidence: float

    def to_frame(self, output=None):
        """A DataFrame indexed by input name with columns S1, S1_conf, ST, ST_conf.

        For a multi-output model pass ``output`` (an index) or get a frame with a column MultiIndex
        ``(output, index)`` when ``output`` is None.
        """
        def frame(k=None):
            pick = (lambda a: a) if k is None else (lambda a: a[k])
            return pd.DataFrame({"S1": pick(self.first), "S1_conf": pick(self.first_conf),
                                 "ST": pick(self.total), "ST_conf": pick(self.total_conf)}, index=self.names)

        if self.first.ndim == 1:
            return frame()
        if output is not None:
            return frame(output)
        return pd.concat({k: frame(k) for k in range(self.first.shape[0])}, axis=1)


def _evaluate(model, X, expected_rows):
    y = np.asarray(model(X), dtype=float)
    if y.ndim == 0 or y.shape[0] != expected_rows or y.ndim > 2:
        raise ValueError(f"model returned shape {y.shape} for {expected_rows} samples; expected "
                         f"({expected_rows},) or ({expected_rows}, n_outputs)")
    bad = ~np.isfinite(y).reshape(expected_rows, -1).all(axis=1)
    if bad.any():
        raise ValueError(f"model returned NaN or inf for {int(bad.sum())} of {expected_rows} samples")
    return y


def _estimate(fA, fB, fAB):
    """S1, ST from f(A), f(B) (N, k) and f(A_B^i) (d, N, k); returns arrays (k, d)."""
    variance = np.var(np.concatenate([fA, fB]), axis=0)
    first = np.mean(fB[None] * (fAB - fA[None]), axis=1) / variance
    total = 0.5 * np.mean((fA[None] - fAB) ** 2, axis=1) / variance
    return first.T, total.T


def sobol_indices(model, bounds, n=2**12, *, seed, n_bootstrap=200, confidence=0.95, names=None):
    """First-order and total Sobol indices of ``model`` over independent uniform inputs.

    Parameters
    ----------
    model : callable
        Maps an ``(m, d)`` array of inputs to ``(m,)`` or ``(m, k)`` outputs; called once with all
        ``n (d + 2)`` samples.
    bounds : dict name -> (low, high), or sequence of (low, high)
    n : int
        Base sample size, a power of two.
    seed : int
        Seeds the Sobol scrambling and the bootstrap.
    n_bootstrap : int
        Bootstrap resamples (of the ``n`` rows) for the confidence intervals; 0 for none.
    confidence : float in (0, 1)
        Level of the percentile intervals, reported as half-widths.
    names : list of str, optional
        Input names (default: the keys of ``bounds``, or x1, x2, ...).

    Returns
    -------
    SobolResult

    Examples
    --------
    >>> from mslearn.sensitivity import ishigami, sobol_indices
    >>> import numpy as np
    >>> result = sobol_indices(ishigami, [(-np.pi, np.pi)] * 3, n=2**12, seed=0)
    >>> result.first.round(1)
    array([0.3, 0.4, 0. ])
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence}; expected a level in (0, 1), e.g. 0.95")
    names, _, _ = _bounds(bounds, names)
    A, B = saltelli_sample(bounds, n, seed=seed)
    d = A.shape[1]
    AB = np.repeat(A[None], d, axis=0)
    AB[np.arange(d), :, np.arange(d)] = B.T
    y = _evaluate(model, np.concatenate([A, B, AB.reshape(d * n, d)]), n * (d + 2))
    single = y.ndim == 1
    y = y.reshape(n * (d + 2), -1)
    fA, fB, fAB = y[:n], y[n:2 * n], y[2 * n:].reshape(d, n, -1)
    if np.any(np.var(np.concatenate([fA, fB]), axis=0) == 0):
        raise ValueError("the model output is constant over the inputs; Sobol indices are undefined")
    first, total = _estimate(fA, fB, fAB)

    first_conf = np.full_like(first, np.nan)
    total_conf = np.full_like(total, np.nan)
    if n_bootstrap:
        generator = np.random.default_rng(np.random.SeedSequence([int(seed) if not isinstance(seed, np.random.Generator) else 0, 7]))
        samples = [_estimate(fA[rows], fB[rows], fAB[:, rows])
                   for rows in generator.integers(0, n, size=(n_bootstrap, n))]
        tail = 100 * (1 - confidence) / 2
        for estimate, conf, index in ((first, first_conf, 0), (total, total_conf, 1)):
            stack = np.stack([s[index] for s in samples])
            low, high = np.percentile(stack, [tail, 100 - tail], axis=0)
            conf[...] = (high - low) / 2
    squeeze = (lambda a: a[0]) if single else (lambda a: a)
    return SobolResult(names, squeeze(first), squeeze(total), squeeze(first_conf), squeeze(total_conf), confidence)


def ishigami(x, a=7.0, b=0.1):
    r"""The Ishigami function :math:`\sin x_1 + a \sin^2 x_2 + b\,x_3^4 \sin x_1` on :math:`[-\pi, \pi]^3`."""
    x = np.asarray(x, dtype=float)
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a=7.0, b=0.1):
    r"""Exact Sobol indices of :func:`ishigami`: ``(S1, ST)``, each ``(3,)``.

    With :math:`V_1 = \tfrac12(1 + b\pi^4/5)^2`, :math:`V_2 = a^2/8`,
    :math:`V_{13} = b^2\pi^8(1/18 - 1/50)` and :math:`V = V_1 + V_2 + V_{13}`:
    :math:`S = (V_1, V_2, 0)/V`, :math:`S_T = (V_1 + V_{13}, V_2, V_{13})/V`.
    """
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def permutation_importance_frame(estimator, X, y, *, names, n_repeats=10, seed, scoring=None):
    """scikit-learn's permutation importance as a DataFrame (columns mean, std), most important first."""
    from sklearn.inspection import permutation_importance

    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ValueError(f"X has shape {X.shape}; expected (n_samples, {len(names)}) to match names")
    result = permutation_importance(estimator, X, y, n_repeats=n_repeats, random_state=seed, scoring=scoring)
    frame = pd.DataFrame({"mean": result.importances_mean, "std": result.importances_std}, index=list(names))
    return frame.sort_values("mean", ascending=False)


def plot_indices(result, ax=None, output=None):
    """Grouped bars of first-order and total indices with their confidence half-widths."""
    import matplotlib.pyplot as plt

    frame = result.to_frame(output if result.first.ndim > 1 else None)
    ax = plt.subplots(figsize=(5, 3))[1] if ax is None else ax
    position = np.arange(len(frame))
    ax.bar(position - 0.2, frame["S1"], 0.4, yerr=frame["S1_conf"], label="first order $S_i$", capsize=3)
    ax.bar(position + 0.2, frame["ST"], 0.4, yerr=frame["ST_conf"], label="total $S_{T,i}$", capsize=3)
    ax.set_xticks(position, frame.index, rotation=20)
    ax.set_ylabel("Sobol index")
    ax.legend()
    return ax
