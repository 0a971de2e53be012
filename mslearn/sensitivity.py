r"""Global sensitivity analysis: variance-based Sobol indices and permutation importance.

Which microstructure features control which property (review section 4.1)? For a model
:math:`Y = f(\mathbf x)` of independent inputs :math:`x_1, \dots, x_d`, the first-order and total
Sobol indices (Sobol 2001)

.. math::

    S_i = \frac{\operatorname{Var}[\mathbb E(Y\mid x_i)]}{\operatorname{Var} Y}, \qquad
    S_{T,i} = \frac{\mathbb E[\operatorname{Var}(Y\mid \mathbf x_{\sim i})]}{\operatorname{Var} Y}

split the output variance into what input :math:`i` does alone and what it does including all its
interactions; :math:`S_{T,i} - S_i` is the interaction part, and :math:`\sum_i S_i = 1` exactly when
the model is additive. They are estimated from two independent sample matrices :math:`A, B`
(rows: :math:`N` samples) and the :math:`d` matrices :math:`A_B^{(i)}` (``A`` with column ``i``
taken from ``B``), with the estimators of Saltelli et al. (2010) for :math:`S_i` and Jansen (1999)
for :math:`S_{T,i}`:

.. math::

    S_i \approx \frac{\tfrac1N\sum_j f(B)_j\,[f(A_B^{(i)})_j - f(A)_j]}{V}, \qquad
    S_{T,i} \approx \frac{\tfrac1{2N}\sum_j [f(A)_j - f(A_B^{(i)})_j]^2}{V},

:math:`V` the variance of all :math:`f(A), f(B)`. That costs :math:`N(d+2)` model evaluations, made
in one batched call: cheap for a surrogate, which is why sensitivity analysis is done on one.

Written by hand, not taken from SALib: the estimators are about a page of numpy, and the book wants
them visible and tested (on the Ishigami function, whose indices are known exactly); SALib would add
a dependency with its own sampling functions and problem-dictionary API for the same few lines.
Permutation importance is not reimplemented: :func:`permutation_importance_frame` wraps
scikit-learn's.

References
----------
- I. M. Sobol, "Global sensitivity indices for nonlinear mathematical models and their Monte Carlo
  estimates", Math. Comput. Simul. 55, 271 (2001).
- A. Saltelli, "Making best use of model evaluations to compute sensitivity indices", Comput. Phys.
  Commun. 145, 280 (2002) (second-order indices).
- A. Saltelli, P. Annoni, I. Azzini, F. Campolongo, M. Ratto, S. Tarantola, "Variance based
  sensitivity analysis of model output. Design and estimator for the total sensitivity index",
  Comput. Phys. Commun. 181, 259 (2010).
- M. J. W. Jansen, "Analysis of variance designs for model output", Comput. Phys. Commun. 117, 35
  (1999).
- T. Ishigami, T. Homma, "An importance quantification technique in uncertainty analysis for
  computer models", Proc. ISUMA '90, 398 (1990).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import qmc

from ._backend import is_torch, rng
from ._validation import check_finite, check_flag, check_in_box, check_integer
from .datasets.store import sobol_sequence

__all__ = [
    "SobolResult",
    "saltelli_sample",
    "sobol_indices",
    "ishigami",
    "ishigami_indices",
    "permutation_importance_frame",
    "plot_indices",
    "ISHIGAMI_BOUNDS",
]

#: The input ranges of :func:`ishigami`: each of the three inputs uniform on [-π, π].
ISHIGAMI_BOUNDS = [(-np.pi, np.pi)] * 3
"""The input box :math:`[-\\pi, \\pi]^3` of :func:`ishigami`."""


# ----------------------------------------------------------------------------------------------
# input checks


def _bounds(bounds, names=None):
    """``(names, low, high)`` from a dict name -> (low, high) or a sequence of (low, high)."""
    if isinstance(bounds, dict):
        pairs = list(bounds.values())
        names = [str(key) for key in bounds] if names is None else list(names)
    else:
        try:
            pairs = list(bounds)
        except TypeError:
            raise TypeError(
                f"bounds must be a dict name -> (low, high) or a sequence of (low, high) pairs, "
                f"got {type(bounds).__name__}"
            ) from None
        names = [f"x{i + 1}" for i in range(len(pairs))] if names is None else list(names)
    try:
        array = np.asarray(pairs, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "bounds must be numeric (low, high) pairs, one per input, e.g. [(0, 1), (-1, 1)]"
        ) from None
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(
            f"bounds must be (low, high) pairs, one per input; got an array of shape {array.shape}"
        )
    if len(names) != len(array):
        raise ValueError(
            f"names has {len(names)} entries for {len(array)} inputs in bounds; give one name per input"
        )
    check_finite(array, name="bounds")
    bad = np.flatnonzero(array[:, 0] >= array[:, 1])
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"bounds of {names[i]!r} are ({array[i, 0]:g}, {array[i, 1]:g}); expected low < high"
        )
    return names, array[:, 0], array[:, 1]


def _check_n(n):
    """``n`` must be an integer power of two >= 2 (a balanced Sobol design)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer power of two, got {type(n).__name__} {n!r}")
    n = int(n)
    if n < 2 or n & (n - 1):
        suggestion = 2 ** max(1, int(np.round(np.log2(max(n, 1)))))
        raise ValueError(
            f"n = {n} is not a power of two >= 2; the Sobol design is balanced only for powers of "
            f"two: use n = {suggestion}"
        )
    return n


# ----------------------------------------------------------------------------------------------
# design and estimators


def saltelli_sample(bounds, n, *, seed, scramble=True):
    r"""The base matrices ``A`` and ``B`` of a Saltelli design.

    One Sobol low-discrepancy sequence of dimension :math:`2d` is drawn
    (:func:`mslearn.datasets.sobol_sequence`, seeded with ``rng(seed)``); its first :math:`d` columns
    form ``A`` and the last :math:`d` form ``B`` (Saltelli et al. 2010, section 3), each scaled from
    :math:`[0, 1)` to ``bounds``. Independent uniform inputs are assumed.

    Parameters
    ----------
    bounds : dict name -> (low, high), or sequence of (low, high)
        The box of each input. Names are kept by :func:`sobol_indices` (this function returns plain
        arrays, whose column ``i`` is the ``i``-th entry of ``bounds``).
    n : int
        Number of base samples, a power of two >= 2 (the Sobol sequence is balanced only for powers
        of two; anything else raises with the nearest power of two as suggestion).
    seed : int or numpy.random.Generator
        Seeds the scrambling (see ``mslearn._backend.rng``).
    scramble : bool
        Owen scrambling with digital shift (default). Unscrambled, the first point is the corner
        ``low`` and ``seed`` has no effect.

    Returns
    -------
    A, B : numpy.ndarray
        Each of shape ``(n, d)``.

    Examples
    --------
    >>> from mslearn.sensitivity import saltelli_sample
    >>> A, B = saltelli_sample({"phi": (0.1, 0.4), "radius": (2.0, 8.0)}, 256, seed=0)
    >>> A.shape, B.shape
    ((256, 2), (256, 2))
    >>> bool(A[:, 0].min() >= 0.1 and A[:, 0].max() <= 0.4)
    True
    """
    _, low, high = _bounds(bounds)
    n = _check_n(n)
    d = len(low)
    unit = sobol_sequence(2 * d, n, seed=rng(seed), scramble=scramble)
    return qmc.scale(unit[:, :d], low, high), qmc.scale(unit[:, d:], low, high)


@dataclass
class SobolResult:
    """Sobol indices of one or several model outputs, with bootstrap confidence half-widths.

    For a model with one output the index arrays have shape ``(d,)``; for ``k`` outputs
    ``(k, d)``, row ``j`` belonging to output column ``j``.

    Attributes
    ----------
    names : list of str
        Input names, in the order of the columns the model receives.
    first, total : numpy.ndarray
        First-order indices :math:`S_i` and total indices :math:`S_{T,i}`.
    first_conf, total_conf : numpy.ndarray
        Half-widths of the bootstrap percentile intervals at level ``confidence`` (NaN when
        ``n_bootstrap=0``).
    confidence : float
        Level of the intervals.
    second, second_conf : numpy.ndarray or None
        Second-order indices :math:`S_{ij}` (``(d, d)`` or ``(k, d, d)``, symmetric, NaN on the
        diagonal) and their half-widths, when computed with ``second_order=True``.
    n : int
        Base sample size :math:`N`.
    n_evaluations : int
        Model evaluations spent: :math:`N(d + 2)`, or :math:`N(2d + 2)` with second order.
    """

    names: list
    first: np.ndarray
    total: np.ndarray
    first_conf: np.ndarray
    total_conf: np.ndarray
    confidence: float
    second: np.ndarray | None = None
    second_conf: np.ndarray | None = None
    n: int | None = None
    n_evaluations: int | None = None

    @property
    def n_outputs(self):
        """Number of model outputs (1 for a model returning ``(m,)``)."""
        return 1 if np.ndim(self.first) == 1 else int(np.shape(self.first)[0])

    def _pick(self, array, output):
        if np.ndim(self.first) == 1:
            if output is not None and (isinstance(output, bool) or not isinstance(output, numbers.Integral)
                                       or output != 0):       # False == 0 and 0.0 == 0: not indices
                raise ValueError(f"output = {output!r}, but the model has a single output; leave output=None")
            return array
        if (isinstance(output, bool) or not isinstance(output, numbers.Integral)    # True would index as a mask
                or not -self.n_outputs <= output < self.n_outputs):
            raise ValueError(f"output = {output!r}; expected an output index in 0..{self.n_outputs - 1}")
        return array[output]

    def to_frame(self, output=None):
        """The indices as a DataFrame with columns ``S1, S1_conf, ST, ST_conf``, indexed by input name.

        Parameters
        ----------
        output : int, optional
            For a multi-output model: the output column to tabulate. When None (default), a
            multi-output result gives one frame whose columns are a MultiIndex
            ``(output index, "S1" | "S1_conf" | "ST" | "ST_conf")``, so ``frame[j]`` is output ``j``.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import numpy as np
        >>> from mslearn.sensitivity import sobol_indices
        >>> result = sobol_indices(lambda X: X @ [1.0, 2.0], [(0, 1), (0, 1)], n=1024, seed=0,
        ...                        n_bootstrap=0)
        >>> list(result.to_frame().columns)
        ['S1', 'S1_conf', 'ST', 'ST_conf']
        """
        def frame(k):
            return pd.DataFrame(
                {"S1": self._pick(self.first, k), "S1_conf": self._pick(self.first_conf, k),
                 "ST": self._pick(self.total, k), "ST_conf": self._pick(self.total_conf, k)},
                index=list(self.names),
            )

        if np.ndim(self.first) == 1 or output is not None:
            return frame(output)
        return pd.concat({k: frame(k) for k in range(self.n_outputs)}, axis=1, names=["output", None])

    def second_frame(self, output=None):
        """The second-order indices :math:`S_{ij}` as a symmetric ``d x d`` DataFrame (NaN diagonal).

        Only available after ``sobol_indices(..., second_order=True)``; ``output`` as in
        :meth:`to_frame` but required for a multi-output result.

        Parameters
        ----------
        output : int, optional
            For a multi-output model (required there): the output, in ``-n_outputs .. n_outputs - 1``.
            A single-output result takes None (default) or 0.

        Returns
        -------
        pandas.DataFrame
            ``(d, d)``, indexed and labelled by input name.

        Raises
        ------
        ValueError
            If the second-order indices were not computed, or ``output`` is missing (multi-output) or out
            of range.
        """
        if self.second is None:
            raise ValueError(
                "second-order indices were not computed; call sobol_indices(..., second_order=True)"
            )
        if np.ndim(self.first) > 1 and output is None:
            raise ValueError(f"the model has {self.n_outputs} outputs; pass output=0..{self.n_outputs - 1}")
        return pd.DataFrame(self._pick(self.second, output), index=self.names, columns=self.names)


def _evaluate(model, X, expected_rows):
    """Call ``model`` once and return its output as a float array ``(m,)`` or ``(m, k)``."""
    y = model(X)
    if is_torch(y):
        y = y.detach().cpu().numpy()
    if np.iscomplexobj(y):              # a float cast would drop the imaginary part with only a warning
        raise TypeError(f"model returned the complex dtype {np.asarray(y).dtype}; expected real numbers")
    try:
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"model must return numbers, got {type(y).__name__}") from None
    if y.ndim not in (1, 2) or y.shape[0] != expected_rows:
        raise ValueError(
            f"model returned shape {y.shape} for {expected_rows} samples; expected "
            f"({expected_rows},) or ({expected_rows}, n_outputs): one row per input row"
        )
    rows = y.reshape(expected_rows, -1)
    nan = np.isnan(rows).any(axis=1)
    if nan.any():
        raise ValueError(f"model returned NaN for {int(nan.sum())} of {expected_rows} samples")
    infinite = ~np.isfinite(rows).all(axis=1)
    if infinite.any():
        raise ValueError(
            f"model returned an infinite value for {int(infinite.sum())} of {expected_rows} samples"
        )
    return y


def _estimate(fA, fB, fAB, fBA=None):
    r"""Saltelli (2010) :math:`S_i`, Jansen (1999) :math:`S_{T,i}` and Saltelli (2002) :math:`S_{ij}`.

    ``fA, fB`` are ``(N, k)``, ``fAB, fBA`` are ``(d, N, k)``. Outputs are centred by the mean of
    ``f(A), f(B)`` first: the estimators are unchanged in expectation by a constant shift of
    :math:`f`, but their variance grows with it (Sobol 2001), and a surrogate's property
    typically has a mean much larger than its spread. Returns arrays ``(k, d)`` (and ``(k, d, d)``).
    """
    both = np.concatenate([fA, fB])
    centre = both.mean(axis=0)
    variance = both.var(axis=0)
    fA, fB, fAB = fA - centre, fB - centre, fAB - centre
    first = np.mean(fB[None] * (fAB - fA[None]), axis=1) / variance
    total = 0.5 * np.mean((fA[None] - fAB) ** 2, axis=1) / variance
    if fBA is None:
        return first.T, total.T, None
    # closed second-order effect V_i + V_j + V_ij (Saltelli 2002): f(B_A^i) and f(A_B^j)
    # share exactly x_i (from A) and x_j (from B).
    fBA = fBA - centre
    closed = (np.einsum("ink,jnk->ijk", fBA, fAB) / fA.shape[0] - np.mean(fA * fB, axis=0)) / variance
    second = closed - first[:, None] - first[None, :]
    second = 0.5 * (second + second.transpose(1, 0, 2))  # the (i, j) and (j, i) estimates, averaged
    d = first.shape[0]
    second[np.arange(d), np.arange(d)] = np.nan
    return first.T, total.T, second.transpose(2, 0, 1)


def sobol_indices(model, bounds, n=2**12, *, seed, n_bootstrap=200, confidence=0.95, names=None,
                  second_order=False):
    r"""First-order and total Sobol indices of ``model`` over independent uniform inputs.

    With :math:`A, B` the base matrices of :func:`saltelli_sample` (:math:`N` rows each) and
    :math:`A_B^{(i)}` the matrix ``A`` with column :math:`i` from ``B``,

    .. math::

        S_i = \frac{1}{V}\,\frac1N\sum_{j=1}^N f(B)_j\,\bigl[f(A_B^{(i)})_j - f(A)_j\bigr]
        \quad\text{(Saltelli et al. 2010, table 2)},

        S_{T,i} = \frac{1}{2V}\,\frac1N\sum_{j=1}^N \bigl[f(A)_j - f(A_B^{(i)})_j\bigr]^2
        \quad\text{(Jansen 1999)},

    with :math:`V` the variance of the :math:`2N` values :math:`f(A), f(B)` (Sobol 2001 for the
    definitions). Outputs are centred by their sample mean before the sums, which leaves the
    estimators unchanged in expectation and reduces their variance (Sobol 2001). With
    ``second_order=True`` the matrices :math:`B_A^{(i)}` (``B`` with column :math:`i` from ``A``)
    are evaluated too and

    .. math::

        S_{ij} = \frac{1}{V}\,\frac1N\sum_j \bigl[f(B_A^{(i)})_j f(A_B^{(j)})_j - f(A)_j f(B)_j\bigr]
        - S_i - S_j \quad\text{(Saltelli 2002)}.

    Confidence intervals come from a bootstrap over the :math:`N` rows of the design (rows of
    :math:`A, B, A_B^{(i)}` are resampled together, with replacement) and are percentile
    intervals at level ``confidence``, reported as half-widths ``(high - low) / 2``. The bootstrap
    treats the rows as independent random samples, so for the scrambled Sobol design, whose error
    falls faster than :math:`N^{-1/2}`, the intervals are conservative (on the Ishigami function
    at :math:`N = 2^{13}` the actual errors are about ten times smaller than the half-widths).

    Parameters
    ----------
    model : callable
        Maps an ``(m, d)`` numpy array of inputs (columns in the order of ``bounds``) to ``(m,)`` or
        ``(m, k)`` outputs (numpy, torch or pandas); ``k`` outputs give indices per output. It is
        called once, with all :math:`m = N(d + 2)` samples (:math:`N(2d + 2)` with second order).
    bounds : dict name -> (low, high), or sequence of (low, high)
        The uniform range of each input.
    n : int
        Base sample size :math:`N`, a power of two. The error of the indices falls like
        :math:`N^{-1/2}`; ``2**12`` gives about ±0.02 on the Ishigami function.
    seed : int or numpy.random.Generator
        Seeds the Sobol scrambling and the bootstrap: the same seed gives identical results.
    n_bootstrap : int
        Bootstrap resamples for the confidence intervals; 0 skips them (the ``*_conf`` are NaN).
    confidence : float in (0, 1)
        Level of the percentile intervals.
    names : list of str, optional
        Input names (default: the keys of ``bounds``, or ``x1, x2, ...``).
    second_order : bool
        Also estimate the second-order indices :math:`S_{ij}` (``d`` more model evaluations per
        base sample).

    Returns
    -------
    SobolResult
        ``.first``, ``.total``, ``.first_conf``, ``.total_conf`` (and ``.second``,
        ``.second_conf``); ``.to_frame()`` tabulates them.

    Raises
    ------
    TypeError
        For ``n`` not an integer, or a complex model output.
    ValueError
        For bad bounds, ``n`` not a power of two, ``confidence`` outside (0, 1), a model output of
        the wrong length or containing NaN, or a constant output (zero variance).

    Examples
    --------
    The Ishigami function, whose exact indices are ``S1 = (0.31, 0.44, 0)``,
    ``ST = (0.56, 0.44, 0.24)``:

    >>> import numpy as np
    >>> from mslearn.sensitivity import ishigami, sobol_indices
    >>> result = sobol_indices(ishigami, [(-np.pi, np.pi)] * 3, n=2**12, seed=0, n_bootstrap=50)
    >>> result.first.round(1)
    array([0.3, 0.4, 0. ])
    >>> result.total.round(1)
    array([0.6, 0.4, 0.2])
    """
    if not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence!r}; expected a level in (0, 1), e.g. 0.95")
    if check_integer(n_bootstrap, 0, name="n_bootstrap") == 1:   # one resample gives no interval
        raise ValueError(
            f"n_bootstrap = {n_bootstrap!r}; expected 0 (no intervals) or an integer >= 2, e.g. 200"
        )
    if not callable(model):
        raise TypeError(
            f"model must be a callable mapping an (m, d) array to (m,) outputs, got {type(model).__name__}"
        )
    names = _bounds(bounds, names)[0]
    second_order = check_flag(second_order, name="second_order")
    generator = rng(seed)  # one stream: the design's scrambling is spawned from it, then the bootstrap
    A, B = saltelli_sample(bounds, n, seed=generator)
    n, d = A.shape

    # A_B^(i): A with column i from B (and B_A^(i): B with column i from A), stacked (d, n, d)
    AB = np.repeat(A[None], d, axis=0)
    AB[np.arange(d), :, np.arange(d)] = B.T
    blocks = [A, B, AB.reshape(d * n, d)]
    if second_order:
        BA = np.repeat(B[None], d, axis=0)
        BA[np.arange(d), :, np.arange(d)] = A.T
        blocks.append(BA.reshape(d * n, d))
    m = n * (2 + d * (2 if second_order else 1))
    y = _evaluate(model, np.concatenate(blocks), m)
    single = y.ndim == 1
    y = y.reshape(m, -1)
    fA, fB = y[:n], y[n:2 * n]
    fAB = y[2 * n:(2 + d) * n].reshape(d, n, -1)
    fBA = y[(2 + d) * n:].reshape(d, n, -1) if second_order else None

    both = np.concatenate([fA, fB])
    scale = np.max(np.abs(both), axis=0)
    constant = np.flatnonzero(both.var(axis=0) <= (1e-12 * np.maximum(scale, 1e-300)) ** 2)
    if constant.size:
        which = "" if single else f" (output {constant[0]})"
        raise ValueError(f"the model output is constant{which}; Sobol indices are undefined")

    first, total, second = _estimate(fA, fB, fAB, fBA)
    first_conf = np.full_like(first, np.nan)
    total_conf = np.full_like(total, np.nan)
    second_conf = None if second is None else np.full_like(second, np.nan)
    if n_bootstrap:
        draws = [_estimate(fA[rows], fB[rows], fAB[:, rows], None if fBA is None else fBA[:, rows])
                 for rows in generator.integers(0, n, size=(n_bootstrap, n))]
        tail = 100 * (1 - confidence) / 2
        targets = [first_conf, total_conf] + ([second_conf] if second_order else [])
        for index, conf in enumerate(targets):
            stack = np.stack([draw[index] for draw in draws])
            low_q, high_q = np.percentile(stack, [tail, 100 - tail], axis=0)
            conf[...] = (high_q - low_q) / 2

    def squeeze(array):
        return None if array is None else (array[0] if single else array)

    return SobolResult(
        names=names, first=squeeze(first), total=squeeze(total), first_conf=squeeze(first_conf),
        total_conf=squeeze(total_conf), confidence=float(confidence), second=squeeze(second),
        second_conf=squeeze(second_conf), n=n, n_evaluations=m,
    )


# ----------------------------------------------------------------------------------------------
# the Ishigami reference


def ishigami(x, a=7.0, b=0.1):
    r"""The Ishigami function, a standard test of sensitivity estimators (Ishigami & Homma 1990).

    .. math::

        f(\mathbf x) = \sin x_1 + a \sin^2 x_2 + b\, x_3^4 \sin x_1,
        \qquad x_i \sim U(-\pi, \pi) \text{ independently.}

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (m, 3)
        Points of :data:`ISHIGAMI_BOUNDS`, :math:`[-\pi, \pi]^3`; a point outside or NaN raises
        ``ValueError``.
    a, b : float
        The usual choice is ``a = 7, b = 0.1``.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.sensitivity import ishigami
    >>> ishigami(np.array([[np.pi / 2, np.pi / 2, 0.0]])).round(6)
    array([8.])
    """
    _check_ishigami_constants(a, b)
    if is_torch(x):
        import torch

        sin = torch.sin
        # float32 rounds pi up by 1.4e-8 of the box: a point on the bound must still be inside
        tol = torch.finfo(x.dtype).eps if x.is_floating_point() else 1e-12
    else:
        x = np.asarray(x)
        sin = np.sin
        tol = np.finfo(x.dtype).eps if np.issubdtype(x.dtype, np.floating) else 1e-12
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (m, 3): the Ishigami function has three inputs"
        )
    # outside the box the x_3^4 term grows without bound: a value there is no Ishigami value
    inside = check_in_box(x, ISHIGAMI_BOUNDS, name="x", domain="the Ishigami function's domain [-pi, pi]^3 "
                          "(ISHIGAMI_BOUNDS)", tol=max(tol, 1e-12))
    if not is_torch(x):        # a tensor stays one (and keeps its graph)
        x = inside
    return sin(x[:, 0]) + a * sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * sin(x[:, 0])


def ishigami_indices(a=7.0, b=0.1):
    r"""Exact first-order and total Sobol indices of :func:`ishigami` on :math:`[-\pi, \pi]^3`.

    With :math:`x_i \sim U(-\pi, \pi)`: :math:`\mathbb E\sin^2 = 1/2`, :math:`\operatorname{Var}
    \sin^2 x = 1/8`, :math:`\mathbb E x^4 = \pi^4/5` and :math:`\mathbb E x^8 = \pi^8/9`. The
    ANOVA terms are :math:`f_1 = (1 + b\pi^4/5)\sin x_1`, :math:`f_2 = a(\sin^2 x_2 - 1/2)`,
    :math:`f_{13} = b(x_3^4 - \pi^4/5)\sin x_1`, hence (Sobol 2001; Ishigami & Homma 1990)

    .. math::

        V_1 = \tfrac12\bigl(1 + b\pi^4/5\bigr)^2, \quad V_2 = a^2/8, \quad
        V_{13} = \tfrac{b^2}{2}\Bigl(\tfrac{\pi^8}{9} - \tfrac{\pi^8}{25}\Bigr)
               = b^2\pi^8\Bigl(\tfrac1{18} - \tfrac1{50}\Bigr),

    :math:`V = V_1 + V_2 + V_{13} = a^2/8 + b\pi^4/5 + b^2\pi^8/18 + 1/2`, and

    .. math::

        S = (V_1, V_2, 0)/V, \qquad S_T = (V_1 + V_{13},\ V_2,\ V_{13})/V, \qquad
        S_{13} = V_{13}/V,\ S_{12} = S_{23} = 0.

    Parameters
    ----------
    a, b : float

    Returns
    -------
    first, total : numpy.ndarray
        Each of shape ``(3,)``.

    Examples
    --------
    >>> from mslearn.sensitivity import ishigami_indices
    >>> first, total = ishigami_indices(7.0, 0.1)
    >>> first.round(3), total.round(3)
    (array([0.314, 0.442, 0.   ]), array([0.558, 0.442, 0.244]))
    """
    _check_ishigami_constants(a, b)
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def _check_ishigami_constants(a, b):
    """``a`` and ``b`` as the two functions take them: real, finite numbers (a NaN made every value NaN)."""
    for name, value in (("a", a), ("b", b)):
        shape = tuple(value.shape) if is_torch(value) else np.shape(value)
        if shape:
            raise ValueError(f"{name} has shape {shape}; expected one number")
        check_finite(value, name=name)


# ----------------------------------------------------------------------------------------------
# permutation importance and the figure


def permutation_importance_frame(estimator, X, y, *, names=None, n_repeats=10, seed, scoring=None):
    """Permutation importance of a fitted estimator as a tidy DataFrame, most important first.

    A thin wrapper over :func:`sklearn.inspection.permutation_importance` (Breiman 2001): the drop
    of the score when one feature column is shuffled, averaged over ``n_repeats`` shuffles. Unlike
    Sobol indices it is measured on data (use held-out data), needs no input bounds, and is only
    meaningful for roughly independent features: with correlated features the model can fall back
    on a correlated partner, and both look unimportant.

    Parameters
    ----------
    estimator : fitted scikit-learn estimator
    X : array_like or pandas.DataFrame, shape (n_samples, n_features)
        Passed to scikit-learn unchanged (a DataFrame keeps its feature names).
    y : array_like, shape (n_samples,) or (n_samples, n_outputs)
    names : sequence of str, optional
        One name per feature column, in their order. For a DataFrame ``X``, its columns (the default);
        required for an array.
    n_repeats : int
        Shuffles per feature.
    seed : int or numpy.random.Generator
        Seeds the shuffles.
    scoring : str or callable, optional
        As in scikit-learn (default: the estimator's ``score``, R² for regressors).

    Returns
    -------
    pandas.DataFrame
        Indexed by feature name, columns ``mean`` and ``std`` of the score
        drop, sorted by ``mean`` descending.

    Raises
    ------
    ValueError
        ``names`` missing for an array ``X``, not ``X``'s columns for a DataFrame, or of another length
        than ``X`` has columns; ``y`` of another length than ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from mslearn.sensitivity import permutation_importance_frame
    >>> X = np.random.default_rng(0).random((100, 3))
    >>> y = 3 * X[:, 0] + X[:, 1]
    >>> frame = permutation_importance_frame(LinearRegression().fit(X, y), X, y,
    ...                                      names=["a", "b", "noise"], seed=0)
    >>> list(frame.index)
    ['a', 'b', 'noise']
    """
    from sklearn.inspection import permutation_importance

    columns = None if getattr(X, "columns", None) is None else [str(c) for c in X.columns]
    if names is None and columns is None:
        raise ValueError("names is None and X has no columns; expected one name per feature column")
    names = columns if names is None else [str(name) for name in names]
    if columns is not None and names != columns:
        # scikit-learn reports the importances in column order: other names would label them wrongly
        raise ValueError(f"names {names} are not X's columns {columns}; expected the columns in their order "
                         "(or names=None to take them)")
    shape = np.shape(X)
    if len(shape) != 2 or shape[1] != len(names):
        raise ValueError(
            f"X has shape {shape}; expected (n_samples, {len(names)}) to match the {len(names)} names"
        )
    if len(y) != shape[0]:
        raise ValueError(f"y has {len(y)} rows but X has {shape[0]}; expected one target per sample")
    check_integer(n_repeats, 1, name="n_repeats")
    random_state = int(rng(seed).integers(2**31)) if not isinstance(seed, numbers.Integral) else int(seed)
    result = permutation_importance(estimator, X, y, n_repeats=int(n_repeats), random_state=random_state,
                                    scoring=scoring)
    frame = pd.DataFrame({"mean": result.importances_mean, "std": result.importances_std},
                         index=names)
    return frame.sort_values("mean", ascending=False, kind="stable")


def plot_indices(result, ax=None, output=None):
    """Grouped bars of the first-order and total Sobol indices with their confidence half-widths.

    Parameters
    ----------
    result : SobolResult
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when None.
    output : int, optional
        For a multi-output result, which output to draw (default 0).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.sensitivity import ishigami, plot_indices, sobol_indices
    >>> result = sobol_indices(ishigami, [(-np.pi, np.pi)] * 3, n=1024, seed=0, n_bootstrap=20)
    >>> ax = plot_indices(result)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['first order $S_i$', 'total $S_{T,i}$']
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, SobolResult):
        raise TypeError(f"result must be a SobolResult from sobol_indices, got {type(result).__name__}")
    if result.n_outputs > 1:
        frame = result.to_frame(0 if output is None else output)
    else:
        frame = result.to_frame(None if output in (None, 0) else output)
    ax = plt.subplots(figsize=(5, 3))[1] if ax is None else ax
    position = np.arange(len(frame))

    def error(column):
        values = frame[column].to_numpy()
        return None if np.all(np.isnan(values)) else values

    ax.bar(position - 0.2, frame["S1"], 0.4, yerr=error("S1_conf"), label="first order $S_i$", capsize=3)
    ax.bar(position + 0.2, frame["ST"], 0.4, yerr=error("ST_conf"), label="total $S_{T,i}$", capsize=3)
    ax.set_xticks(position, frame.index, rotation=20)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("Sobol index")
    ax.legend()
    return ax
