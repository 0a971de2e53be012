r"""Bayesian optimization of an expensive black-box function over a box.

When each evaluation of the objective is a simulation or an experiment (an FFT homogenization of a
generated microstructure, a processing trial), the number of evaluations, not the time spent
choosing them, is what counts (book part 5, the review's microstructure optimization and inverse
design). Bayesian optimization (Jones, Schonlau & Welch 1998; Shahriari et al. 2016) spends a little
computation on every choice:

1. evaluate ``f`` on a space-filling initial design (a scrambled Sobol sequence,
   :func:`mslearn.datasets.sobol_sequence`);
2. fit a Gaussian-process surrogate (Rasmussen & Williams 2006) to all evaluations so far; its
   posterior mean :math:`\mu(\mathbf x)` and standard deviation :math:`\sigma(\mathbf x)` say what
   ``f`` probably is, and how unsure that is, everywhere in the box;
3. evaluate ``f`` where an *acquisition function* that trades a low :math:`\mu` (exploitation)
   against a large :math:`\sigma` (exploration) is largest, and go back to 2.

For minimization, with :math:`y^* = \min_i y_i` the best value observed, the expected improvement
(Močkus 1975; Jones et al. 1998) has a closed form,

.. math::

    \mathrm{EI}(\mathbf x) = \mathbb E\bigl[\max(y^* - \xi - Y(\mathbf x), 0)\bigr]
    = (y^* - \xi - \mu)\,\Phi(z) + \sigma\,\varphi(z), \qquad z = \frac{y^* - \xi - \mu}{\sigma},

:math:`\Phi, \varphi` the standard normal cdf and pdf and :math:`\xi \ge 0` an optional margin
that favours exploration. The probability of improvement :math:`\mathrm{PI} = \Phi(z)` (Kushner
1964) is the other classic, more greedy, choice.

Choices made here
-----------------
* Inputs are scaled to the unit cube and outputs standardized, so that the kernel's bounds and
  :math:`\xi` (in units of the standard deviation of the observed values) mean the same on every
  problem.
* The surrogate is scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor` with
  a constant times a Matérn-5/2 kernel with one length scale per input (ARD), plus white noise; its
  hyper-parameters are refitted by maximum marginal likelihood at every step, from several starts
  seeded by ``seed``. Matérn 5/2 (twice differentiable samples) is the usual default for physical
  responses, which are smooth but not analytic (Snoek, Larochelle & Adams 2012).
* The acquisition function is maximized by L-BFGS-B (:func:`scipy.optimize.minimize`) from the best
  five of about two thousand candidates (a fresh scrambled Sobol set plus points scattered around
  the best evaluation), the five starts optimized together as BoTorch does. A point closer than
  ``1e-6`` (in the unit cube, in every coordinate) to one already evaluated is never proposed: the
  next-best optimum, or else the best unexplored candidate, is taken instead.
* Linear algebra runs single-threaded while the surrogate is fitted and the acquisition maximized
  (the matrices are tiny and BLAS threads only contend); ``f`` runs with the caller's settings.
* ``batch_size = q > 1`` proposes ``q`` points before any of them is evaluated, with the *constant
  liar* heuristic CL-min of Ginsbourger, Le Riche & Carraro (2010): after each pick, the surrogate
  (hyper-parameters kept) is told that ``f`` there equals the best value observed so far, which
  removes the expected improvement around the pick and pushes the next one elsewhere. The ``q``
  points are independent evaluations that can run in parallel (pass ``executor``).

Why scikit-learn and not BoTorch
--------------------------------
scikit-learn is already a dependency of mslearn and its Gaussian process is all the surrogate a
few-dimensional problem needs; the acquisition is the few lines of :func:`expected_improvement`,
which the book wants visible. BoTorch (on GPyTorch) would add a heavy stack for them. For
production work — many inputs, noisy or multi-fidelity or multi-objective problems, constraints,
the numerically robust log-EI and exact batch acquisitions — use `BoTorch <https://botorch.org>`_
(Balandat et al. 2020) or Ax on top of it.

References
----------
- J. Močkus, "On Bayesian methods for seeking the extremum", Optimization Techniques IFIP
  Technical Conference, 400 (1975).
- H. J. Kushner, "A new method of locating the maximum point of an arbitrary multipeak curve in the
  presence of noise", J. Basic Eng. 86, 97 (1964).
- D. R. Jones, M. Schonlau, W. J. Welch, "Efficient global optimization of expensive black-box
  functions", J. Global Optim. 13, 455 (1998).
- D. Ginsbourger, R. Le Riche, L. Carraro, "Kriging is well-suited to parallelize optimization", in
  *Computational Intelligence in Expensive Optimization Problems*, Springer, 131 (2010).
- C. E. Rasmussen, C. K. I. Williams, *Gaussian Processes for Machine Learning*, MIT Press (2006).
- J. Snoek, H. Larochelle, R. P. Adams, "Practical Bayesian optimization of machine learning
  algorithms", NeurIPS (2012).
- B. Shahriari, K. Swersky, Z. Wang, R. P. Adams, N. de Freitas, "Taking the human out of the loop:
  a review of Bayesian optimization", Proc. IEEE 104, 148 (2016).
- M. Balandat et al., "BoTorch: a framework for efficient Monte-Carlo Bayesian optimization",
  NeurIPS (2020).
- L. C. W. Dixon, G. P. Szegő, "The global optimisation problem: an introduction", in *Towards
  Global Optimisation 2*, North-Holland, 1 (1978) (the Branin and Hartmann test functions).
- S. Surjanovic, D. Bingham, *Virtual Library of Simulation Experiments: Test Functions and
  Datasets*, https://www.sfu.ca/~ssurjano (their standard domains and minima).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

from .._backend import is_torch, rng
from .._validation import check_bounds, check_evaluations, check_flag, check_in_box, check_integer
from ..datasets.store import sobol_sequence

__all__ = [
    "BayesianOptimizationResult",
    "bayesian_optimization",
    "random_search",
    "expected_improvement",
    "probability_of_improvement",
    "branin",
    "hartmann3",
    "BRANIN_BOUNDS",
    "BRANIN_MINIMUM",
    "HARTMANN3_BOUNDS",
    "HARTMANN3_MINIMUM",
]

#: The standard domain of :func:`branin`: :math:`x_1 \in [-5, 10]`, :math:`x_2 \in [0, 15]`.
BRANIN_BOUNDS = [(-5.0, 10.0), (0.0, 15.0)]
#: The global minimum of :func:`branin` on :data:`BRANIN_BOUNDS`, :math:`0.397887`.
BRANIN_MINIMUM = 0.397887357729738
#: The standard domain of :func:`hartmann3`, the unit cube :math:`[0, 1]^3`.
HARTMANN3_BOUNDS = [(0.0, 1.0)] * 3
#: The global minimum of :func:`hartmann3` on :data:`HARTMANN3_BOUNDS`, :math:`-3.86278`.
HARTMANN3_MINIMUM = -3.86278214782076

_ACQUISITIONS = ("ei", "pi")
_DUPLICATE_TOL = 1e-6  # in the unit cube, max-norm: closer than this is "already evaluated"
_N_CANDIDATES = 2048  # Sobol candidates scored per pick (a power of two: a balanced design)
_N_LOCAL = 256  # candidates scattered around the best evaluation
_N_STARTS = 5  # L-BFGS-B starts, the best candidates
_GP_RESTARTS = 2  # extra starts of the marginal-likelihood optimization


# ----------------------------------------------------------------------------------------------
# test functions


def _points(x, d, name, bounds, domain):
    """``x`` as a float array ``(m, d)`` inside ``bounds`` and whether it was a single point ``(d,)``."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    if np.iscomplexobj(x):          # a float cast would drop the imaginary part with only a warning
        raise TypeError(f"x is complex; expected real points of {name}'s domain {domain}")
    x = np.asarray(x, dtype=float)
    if x.ndim == 1 and x.shape[0] == d:
        x, single = x[None], True
    elif x.ndim == 2 and x.shape[1] == d:
        single = False
    else:
        raise ValueError(f"x has shape {x.shape}; expected ({d},) or (m, {d}): {name} has {d} inputs")
    return check_in_box(x, bounds, name="x", domain=f"{name}'s domain {domain}"), single


def branin(x):
    r"""The Branin(-Hoo) function, a standard two-input test of global optimizers.

    .. math::

        f(\mathbf x) = \bigl(x_2 - \tfrac{5.1}{4\pi^2} x_1^2 + \tfrac5\pi x_1 - 6\bigr)^2
        + 10\bigl(1 - \tfrac1{8\pi}\bigr)\cos x_1 + 10

    on :data:`BRANIN_BOUNDS` (:math:`[-5, 10] \times [0, 15]`), where it has three global minima,
    :math:`f = 0.397887` (:data:`BRANIN_MINIMUM`) at :math:`(-\pi, 12.275)`, :math:`(\pi, 2.275)`
    and :math:`(9.42478, 2.475)` (Dixon & Szegő 1978; Surjanovic & Bingham's virtual library).

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (2,) or (m, 2)
        One point or ``m`` points of the domain.

    Returns
    -------
    float or numpy.ndarray
        A float for one point, shape ``(m,)`` for ``m`` points.

    Raises
    ------
    ValueError
        For a point outside :data:`BRANIN_BOUNDS` (by more than ``1e-12`` of a range's width: rounding
        is taken as on the bound), NaN, or a shape other than ``(2,)`` or ``(m, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.optimization.bayesian import branin
    >>> round(branin([np.pi, 2.275]), 6)
    0.397887
    >>> branin([11.0, 2.0])
    Traceback (most recent call last):
    ...
    ValueError: x_1 = 11.0 is outside [-5.0, 10.0]; expected points of the Branin function's domain ...
    """
    points, single = _points(x, 2, "the Branin function", BRANIN_BOUNDS,
                             "x_1 in [-5, 10], x_2 in [0, 15] (BRANIN_BOUNDS)")
    x1, x2 = points[:, 0], points[:, 1]
    b, c, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 1 / (8 * np.pi)
    value = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10
    return float(value[0]) if single else value


_HARTMANN3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_HARTMANN3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547],
                                [381, 5743, 8828]])


def hartmann3(x):
    r"""The three-input Hartmann function, a standard test of global optimizers.

    .. math::

        f(\mathbf x) = -\sum_{i=1}^4 \alpha_i \exp\Bigl(-\sum_{j=1}^3 A_{ij}(x_j - P_{ij})^2\Bigr)

    with the constants :math:`\alpha, A, P` of Dixon & Szegő (1978), on :data:`HARTMANN3_BOUNDS`
    (:math:`[0, 1]^3`). It has four local minima; the global one is :math:`f = -3.86278`
    (:data:`HARTMANN3_MINIMUM`) at :math:`(0.114614, 0.555649, 0.852547)` (Surjanovic & Bingham's
    virtual library).

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (3,) or (m, 3)
        One point or ``m`` points of the unit cube.

    Returns
    -------
    float or numpy.ndarray
        A float for one point, shape ``(m,)`` for ``m`` points.

    Raises
    ------
    ValueError
        For a point outside :math:`[0, 1]^3` (by more than ``1e-12``: rounding is taken as on the
        bound), NaN, or a shape other than ``(3,)`` or ``(m, 3)``.

    Examples
    --------
    >>> from mslearn.optimization.bayesian import hartmann3
    >>> round(hartmann3([0.114614, 0.555649, 0.852547]), 5)
    -3.86278
    """
    points, single = _points(x, 3, "the Hartmann-3 function", HARTMANN3_BOUNDS, "[0, 1]^3 (HARTMANN3_BOUNDS)")
    squared = np.einsum("ij,mij->mi", _HARTMANN3_A, (points[:, None, :] - _HARTMANN3_P[None]) ** 2)
    value = -np.exp(-squared) @ _HARTMANN3_ALPHA
    return float(value[0]) if single else value


# ----------------------------------------------------------------------------------------------
# acquisition functions


def expected_improvement(mean, std, best, xi=0.0):
    r"""Expected improvement below ``best`` of a Gaussian :math:`Y \sim N(\mu, \sigma^2)`.

    .. math::

        \mathrm{EI} = (y^* - \xi - \mu)\,\Phi(z) + \sigma\,\varphi(z), \qquad
        z = (y^* - \xi - \mu)/\sigma,

    which tends to :math:`\max(y^* - \xi - \mu, 0)` as :math:`\sigma \to 0`.

    Parameters
    ----------
    mean, std : array_like
        Posterior mean :math:`\mu` and standard deviation :math:`\sigma \ge 0`.
    best : float
        The best (lowest) value observed, :math:`y^*`.
    xi : float
        Margin :math:`\xi \ge 0`: only improvements beyond ``best - xi`` count.

    Returns
    -------
    numpy.ndarray
        Same shape as ``mean``, >= 0.

    Examples
    --------
    >>> from mslearn.optimization.bayesian import expected_improvement
    >>> float(expected_improvement(0.0, 1.0, best=0.0).round(4))  # = 1 / sqrt(2 pi)
    0.3989
    """
    mean, std = _posterior(mean, std, best, xi)
    improvement = best - xi - mean
    std = np.maximum(std, 1e-12)
    z = improvement / std
    return np.maximum(improvement * ndtr(z) + std * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi), 0.0)


def probability_of_improvement(mean, std, best, xi=0.0):
    r"""Probability :math:`\Phi\bigl((y^* - \xi - \mu)/\sigma\bigr)` that :math:`Y \sim N(\mu,
    \sigma^2)` falls below ``best - xi`` (arguments as in :func:`expected_improvement`).

    Examples
    --------
    >>> from mslearn.optimization.bayesian import probability_of_improvement
    >>> float(probability_of_improvement(0.0, 1.0, best=0.0))
    0.5
    """
    mean, std = _posterior(mean, std, best, xi)
    return ndtr((best - xi - mean) / np.maximum(std, 1e-12))


def _posterior(mean, std, best, xi):
    """The acquisitions' arguments checked: finite, ``std >= 0`` of ``mean``'s shape (or one number),
    one ``best`` and one ``xi >= 0``; ``mean`` and ``std`` as float arrays."""
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if std.shape not in (mean.shape, ()):
        raise ValueError(f"std has shape {std.shape} and mean {mean.shape}; expected the same shape (or one std)")
    for name, value in (("best", best), ("xi", xi)):
        if np.ndim(value) != 0:
            raise ValueError(f"{name} has shape {np.shape(value)}; expected one number")
    for name, value in (("mean", mean), ("std", std), ("best", best), ("xi", xi)):
        if not np.isfinite(value).all():
            raise ValueError(f"{name} contains NaN or inf; expected finite posterior values")
    if (std < 0).any():
        raise ValueError(f"std has the value {std.min()}; expected posterior standard deviations >= 0")
    if xi < 0:
        raise ValueError(f"xi={xi}; expected a margin >= 0")
    return mean, std


# ----------------------------------------------------------------------------------------------
# the result


@dataclass
class BayesianOptimizationResult:
    """The evaluations of a (Bayesian) optimization run, in the order they were made.

    Attributes
    ----------
    x_best : numpy.ndarray
        Shape ``(d,)``: the evaluated point with the lowest value (the first one, on ties).
    y_best : float
        Its value, the lowest observed.
    X : numpy.ndarray
        Shape ``(n_evaluations, d)``: every evaluated point, in order (the initial design first).
    y : numpy.ndarray
        Shape ``(n_evaluations,)``: ``f`` at each row of ``X``.
    n_evaluations : int
        Number of calls of ``f``.
    n_initial : int
        How many of them were the initial Sobol design (all of them for :func:`random_search`).
    history_best : numpy.ndarray
        Shape ``(n_evaluations,)``: the running minimum, ``history_best[i] = min(y[:i + 1])``.
    bounds : numpy.ndarray
        Shape ``(d, 2)``: the ``(low, high)`` of each input.
    model : sklearn.gaussian_process.GaussianProcessRegressor or None
        The surrogate refitted to all evaluations at the end (None for :func:`random_search`). It
        takes inputs scaled to the unit cube, ``(X - low) / (high - low)``; :meth:`predict` does the
        scaling.
    acquisition : str or None
        The acquisition function used (``"ei"`` or ``"pi"``; None for :func:`random_search`).
    batch_size : int
        Points proposed per step.
    """

    x_best: np.ndarray
    y_best: float
    X: np.ndarray
    y: np.ndarray
    n_evaluations: int
    n_initial: int
    history_best: np.ndarray
    bounds: np.ndarray
    model: GaussianProcessRegressor | None = None
    acquisition: str | None = None
    batch_size: int = 1

    @property
    def index_best(self):
        """Position of :attr:`x_best` in :attr:`X` (0-based)."""
        return int(np.argmin(self.y))

    def evaluations_to_reach(self, target):
        """The number of evaluations after which the best value is ``<= target`` (None if never).

        Parameters
        ----------
        target : float
            The value to reach, compared with :attr:`history_best`.

        Returns
        -------
        int or None
            ``i + 1`` for the first ``i`` with ``history_best[i] <= target``; None when no evaluation
            reached it.

        Examples
        --------
        >>> import numpy as np
        >>> from mslearn.optimization.bayesian import random_search
        >>> result = random_search(lambda x: float(np.sum(x**2)), [(-1, 1)], 20, seed=0)
        >>> result.evaluations_to_reach(np.inf)
        1
        """
        reached = np.flatnonzero(self.history_best <= target)
        return int(reached[0]) + 1 if reached.size else None

    def predict(self, X):
        """The surrogate's posterior mean at ``X`` (the mean of :meth:`posterior`).

        Parameters
        ----------
        X : array_like, shape (m, d)
            Points in the box ``bounds`` (not scaled).

        Returns
        -------
        ndarray of float64, shape (m,)

        Raises
        ------
        ValueError
            If the result has no surrogate (:func:`random_search`), or ``X`` is not ``(m, d)``.
        """
        return self.posterior(X)[0]

    def posterior(self, X):
        """The surrogate's posterior mean and standard deviation at ``X`` in the original units.

        Parameters
        ----------
        X : array_like, shape (m, d)
            Points in the box ``bounds`` (not scaled).

        Returns
        -------
        (mean, std) : two numpy arrays of shape ``(m,)``
        """
        if self.model is None:
            raise ValueError("this result has no surrogate model (random_search fits none)")
        X = np.asarray(X, dtype=float)
        d = len(self.bounds)
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"X has shape {X.shape}; expected (m, {d}), one column per input")
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        return self.model.predict((X - low) / (high - low), return_std=True)


# ----------------------------------------------------------------------------------------------
# input checks and evaluation


def _known_evaluations(initial, bounds):
    """``initial`` (a result or ``(X, y)``) as points of the box and values, checked; empty for None."""
    if initial is None:
        return np.empty((0, len(bounds))), np.empty(0)
    if isinstance(initial, BayesianOptimizationResult):
        X, y = initial.X, initial.y
    elif isinstance(initial, (tuple, list)) and len(initial) == 2:
        X, y = initial
    else:
        raise TypeError(f"initial is {type(initial).__name__}; expected a BayesianOptimizationResult or a pair (X, y) "
                        "of evaluated points")
    X, y = check_evaluations(X, y, bounds)
    return X, y[:, 0]


def _evaluate(f, points, executor):
    """``f`` at each row of ``points`` (through ``executor.map`` when given) as floats."""
    copies = [point.copy() for point in points]  # f may change its argument in place
    values = list(executor.map(f, copies)) if executor is not None else [f(point) for point in copies]
    out = np.empty(len(points))
    for i, (point, value) in enumerate(zip(points, values)):
        if is_torch(value):
            value = value.detach().cpu().numpy()
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"f returned {type(value).__name__} at x = {point.tolist()}; expected a float"
            ) from None
        if array.size != 1:
            raise ValueError(f"f returned shape {array.shape} at x = {point.tolist()}; expected a float")
        out[i] = array.reshape(())
        if not np.isfinite(out[i]):
            raise ValueError(f"f returned {out[i]} at x = {point.tolist()}; expected a finite value")
    return out


def _result(X, y, bounds, n_initial, model=None, acquisition=None, batch_size=1):
    best = int(np.argmin(y))
    return BayesianOptimizationResult(
        x_best=X[best].copy(), y_best=float(y[best]), X=X, y=y, n_evaluations=len(y),
        n_initial=n_initial, history_best=np.minimum.accumulate(y), bounds=bounds, model=model,
        acquisition=acquisition, batch_size=batch_size,
    )


# ----------------------------------------------------------------------------------------------
# the surrogate and the acquisition


def _fit_gp(U, y, generator, kernel=None, refit=True):
    """A Gaussian process on unit-cube inputs ``U``.

    The hyper-parameter search starts from ``kernel`` (the previous step's fit: a warm start) and
    ``_GP_RESTARTS`` random points; with ``refit=False`` the ``kernel`` is kept as it is.
    """
    if kernel is None:
        d = U.shape[1]
        kernel = (ConstantKernel(1.0, (1e-3, 1e3))
                  * Matern(length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5)
                  + WhiteKernel(1e-6, (1e-10, 1e-1)))
    if refit:
        model = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=_GP_RESTARTS,
                                         random_state=int(generator.integers(2**31 - 1)))
    else:
        model = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None)
    with warnings.catch_warnings():
        # hyper-parameters at a bound (a near-zero noise for a deterministic f) are expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(U, y)
    return model


def _acquisition(model, U, y, acquisition, xi):
    """The acquisition at unit-cube points ``U`` (m, d), in units of the standard deviation of ``y``."""
    mean, std = model.predict(U, return_std=True)
    scale = np.std(y) or 1.0  # standardize: xi means the same on every problem
    mean, std, best = (mean - np.min(y)) / scale, std / scale, 0.0
    if acquisition == "ei":
        return expected_improvement(mean, std, best, xi)
    return probability_of_improvement(mean, std, best, xi)


def _maximize(function, starts):
    """Local maxima of ``function`` (unit-cube points ``(m, d)`` to values ``(m,)``) from each start.

    The ``k`` starts are optimized together, as BoTorch does: L-BFGS-B on the sum of their values,
    which is separable (each start's gradient is its own), with forward-difference gradients from
    one call of ``function`` on ``k (d + 1)`` points per iteration instead of ``k (d + 1)`` calls.
    """
    k, d = starts.shape
    step = 1e-6

    def negative_sum(flat):
        u = flat.reshape(k, d)
        h = np.where(u + step <= 1.0, step, -step)  # a backward step on the upper face
        points = np.concatenate([u[:, None, :], u[:, None, :] + h[:, None, :] * np.eye(d)], axis=1)
        values = function(points.reshape(-1, d)).reshape(k, d + 1)
        gradient = (values[:, 1:] - values[:, :1]) / h
        return -values[:, 0].sum(), -gradient.ravel()

    found = minimize(negative_sum, starts.ravel(), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * (k * d))
    return np.clip(found.x.reshape(k, d), 0.0, 1.0)


def _propose(model, y, taken, acquisition, xi, generator):
    """The unit-cube point maximizing the acquisition, farther than ``_DUPLICATE_TOL`` from ``taken``
    (the evaluated and pending points, ``taken[i]`` having the value ``y[i]``)."""
    d = taken.shape[1]
    local = np.clip(taken[np.argmin(y)] + 0.05 * generator.standard_normal((_N_LOCAL, d)), 0.0, 1.0)
    candidates = np.vstack([sobol_sequence(d, _N_CANDIDATES, seed=generator), local])
    scores = _acquisition(model, candidates, y, acquisition, xi)
    order = np.argsort(-scores, kind="stable")
    # divided by the best candidate's value: values near 1 keep L-BFGS-B's stopping rules meaningful
    # late in a run, when the acquisition is tiny everywhere
    norm = max(scores[order[0]], 1e-300)
    optima = _maximize(lambda U: _acquisition(model, U, y, acquisition, xi) / norm,
                       candidates[order[:_N_STARTS]])
    values = _acquisition(model, optima, y, acquisition, xi)
    for u in np.vstack([optima[np.argsort(-values, kind="stable")], candidates[order]]):
        # an optimum at an evaluated point falls back to the next, then to the best fresh candidate
        if np.min(np.max(np.abs(taken - u), axis=1)) > _DUPLICATE_TOL:
            return u
    return generator.random(d)  # not reached in practice: thousands of candidates are all taken


def _propose_batch(U, y, q, acquisition, xi, generator, kernel):
    """``q`` new unit-cube points and the surrogate fitted to the evaluations ``U, y``."""
    d = U.shape[1]
    # the matrices are tiny (n <= a few hundred): BLAS threads only contend (several times slower
    # on a busy machine); f itself is evaluated outside, with the caller's settings
    with threadpool_limits(1):
        model = believed = _fit_gp(U, y, generator, kernel)
        batch, lies = np.empty((0, d)), np.empty(0)
        for _ in range(q):
            u = _propose(believed, np.concatenate([y, lies]), np.vstack([U, batch]), acquisition, xi,
                         generator)
            # the constant liar CL-min: pretend f(u) is the best value so far, keep the kernel
            batch, lies = np.vstack([batch, u]), np.append(lies, np.min(y))
            if len(batch) < q:
                believed = _fit_gp(np.vstack([U, batch]), np.concatenate([y, lies]), generator,
                                   model.kernel_, refit=False)
    return batch, model


# ----------------------------------------------------------------------------------------------
# the optimizers


def bayesian_optimization(f, bounds, n_evaluations, *, n_initial=None, batch_size=1, acquisition="ei",
                          xi=0.0, seed=0, progress=False, executor=None, initial=None):
    r"""Minimize an expensive function ``f`` over a box with Gaussian-process Bayesian optimization.

    ``n_initial`` points of a scrambled Sobol sequence are evaluated first; then, step by step, a
    Gaussian process (Matérn-5/2 ARD kernel, hyper-parameters refitted each step) is fitted to all
    evaluations and ``f`` is evaluated where the acquisition function is largest (see the module
    docstring for the details and references), until ``n_evaluations`` calls of ``f`` are spent.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for one point ``x``, a numpy array of shape ``(d,)`` in the order of
        ``bounds``. A numpy scalar, a one-element array or tensor is accepted too. It is called once
        per point, ``n_evaluations`` times in all; a NaN or infinite value raises. It is
        minimized: to maximize ``g``, pass ``lambda x: -g(x)``.
    bounds : sequence of (low, high)
        The box searched, one ``(low, high)`` pair per input (``low < high``, finite).
    n_evaluations : int
        Total budget of calls of ``f``, initial design included (>= ``n_initial``).
    n_initial : int, optional
        Size of the initial Sobol design; default ``max(2 d + 1, 5)`` for ``d`` inputs.
    batch_size : int
        Points proposed per step (``q``). With ``q > 1`` the batch is built with the constant liar
        CL-min (Ginsbourger, Le Riche & Carraro 2010): each pick is provisionally given the best
        value observed so far and the next is chosen with the surrogate updated (hyper-parameters
        kept). A batch costs ``q`` evaluations, which can run in parallel (``executor``); the final
        batch is shortened to fit ``n_evaluations``.
    acquisition : {"ei", "pi"}
        Expected improvement (default) or probability of improvement.
    xi : float
        Exploration margin :math:`\xi \ge 0` of the acquisition, in units of the standard deviation
        of the values observed so far: only improvements beyond ``y_best - xi * std(y)`` count.
    seed : int or numpy.random.Generator
        Seeds the Sobol designs, the candidates and the hyper-parameter restarts: the same seed gives
        the same evaluations.
    progress : bool
        Show a tqdm progress bar over the evaluations.
    executor : concurrent.futures.Executor, optional
        When given, the points of a batch (and of the initial design) are evaluated with
        ``executor.map(f, points)``, e.g. in a ``ProcessPoolExecutor``; the results are the same.
    initial : BayesianOptimizationResult or (X, y), optional
        Evaluations of ``f`` already made, to go on from (a run that was cut short, or points known
        from elsewhere; ``X`` ``(n, d)`` inside ``bounds``, finite ``y`` ``(n,)`` or ``(n, 1)``): they are the first rows of the data and count towards ``n_evaluations``, and
        the Sobol design evaluates only its points beyond the first ``len(y)`` (for a run with the same
        ``seed``, the points it already has). The later proposals are not those an uninterrupted run
        would have made (its random draws are not replayed), but no evaluation is repeated.

    Returns
    -------
    BayesianOptimizationResult
        ``.x_best``, ``.y_best``, every evaluation in ``.X``, ``.y``, the running minimum
        ``.history_best`` and the final surrogate ``.model`` (``.predict`` evaluates it).

    Raises
    ------
    ValueError
        For bounds that are not finite ``(low, high)`` pairs with ``low < high``, ``n_initial < 1``,
        ``n_evaluations < n_initial``, ``batch_size < 1``, an unknown ``acquisition``, ``xi < 0``, or
        ``f`` returning NaN, an infinite value or more than one number (the message gives the point).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.optimization.bayesian import bayesian_optimization
    >>> result = bayesian_optimization(lambda x: float((x[0] - 0.3) ** 2), [(0, 1)], 8, seed=0)
    >>> result.X.shape, bool(abs(result.x_best[0] - 0.3) < 0.05)
    ((8, 1), True)
    """
    bounds = check_bounds(bounds)
    d = len(bounds)
    n_evaluations = check_integer(n_evaluations, 1, name="n_evaluations")
    n_initial = max(2 * d + 1, 5) if n_initial is None else check_integer(n_initial, 1, name="n_initial")
    if n_evaluations < n_initial:
        raise ValueError(
            f"n_evaluations = {n_evaluations} is smaller than n_initial = {n_initial}, the initial "
            "design; raise n_evaluations or lower n_initial"
        )
    batch_size = check_integer(batch_size, 1, name="batch_size")
    if acquisition not in _ACQUISITIONS:
        raise ValueError(f"acquisition = {acquisition!r}; expected 'ei' (expected improvement) or 'pi' "
                         "(probability of improvement)")
    if not (isinstance(xi, numbers.Real) and np.isfinite(xi) and xi >= 0):
        raise ValueError(f"xi = {xi!r}; expected a finite float >= 0")
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    generator = rng(seed)
    low, high = bounds[:, 0], bounds[:, 1]

    def to_box(U):
        return low + U * (high - low)

    X_known, y_known = _known_evaluations(initial, bounds)
    if len(y_known) > n_evaluations:
        raise ValueError(f"initial has {len(y_known)} evaluations, more than n_evaluations = {n_evaluations}")
    U_known = (X_known - low) / (high - low)
    bar = None
    if check_flag(progress, name="progress"):
        from tqdm.auto import tqdm

        bar = tqdm(total=n_evaluations, initial=len(y_known), desc="Bayesian optimization", unit="eval")
    design = sobol_sequence(d, n_initial, seed=generator)[len(y_known):]
    U, y = np.vstack([U_known, design]), np.concatenate([y_known, _evaluate(f, to_box(design), executor)])
    if bar is not None:
        bar.update(len(design))
        bar.set_postfix(y_best=f"{np.min(y):.6g}")
    kernel = None
    while len(y) < n_evaluations:
        batch, model = _propose_batch(U, y, min(batch_size, n_evaluations - len(y)), acquisition, xi,
                                      generator, kernel)
        kernel = model.kernel_  # the next fit starts from this one
        U, y = np.vstack([U, batch]), np.concatenate([y, _evaluate(f, to_box(batch), executor)])
        if bar is not None:
            bar.update(len(batch))
            bar.set_postfix(y_best=f"{np.min(y):.6g}")
    if bar is not None:
        bar.close()
    with threadpool_limits(1):
        model = _fit_gp(U, y, generator, kernel)
    return _result(to_box(U), y, bounds, n_initial, model, acquisition, batch_size)


def random_search(f, bounds, n_evaluations, *, seed=0, progress=False, executor=None, initial=None):
    """The baseline of :func:`bayesian_optimization`: ``f`` at independent uniform random points.

    Parameters
    ----------
    f, bounds, n_evaluations, seed, progress, executor
        As in :func:`bayesian_optimization`.
    initial : BayesianOptimizationResult or (X, y), optional
        Evaluations already made, to go on from: they are the first rows and count towards
        ``n_evaluations``, and ``f`` is evaluated at the seeded points beyond the first ``len(y)``.
        A run of the same ``seed`` cut short and continued is the uninterrupted run, point for point.

    Returns
    -------
    BayesianOptimizationResult
        With ``model=None`` and ``n_initial = n_evaluations``.

    Examples
    --------
    >>> from mslearn.optimization.bayesian import BRANIN_BOUNDS, branin, random_search
    >>> result = random_search(branin, BRANIN_BOUNDS, 40, seed=0)
    >>> result.X.shape
    (40, 2)
    """
    bounds = check_bounds(bounds)
    n_evaluations = check_integer(n_evaluations, 1, name="n_evaluations")
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    low, high = bounds[:, 0], bounds[:, 1]
    X_known, y_known = _known_evaluations(initial, bounds)
    if len(y_known) > n_evaluations:
        raise ValueError(f"initial has {len(y_known)} evaluations, more than n_evaluations = {n_evaluations}")
    # every point is drawn up front, so that point i is the same however the run is cut and continued
    X = low + rng(seed).random((n_evaluations, len(bounds))) * (high - low)
    X[:len(y_known)] = X_known
    values = [y_known]
    bar = None
    if check_flag(progress, name="progress"):
        from tqdm.auto import tqdm

        bar = tqdm(total=n_evaluations, initial=len(y_known), desc="random search", unit="eval")
    # one point at a time for the bar (all at once through an executor, which runs them in parallel)
    step = n_evaluations if executor is not None or bar is None else 1
    for start in range(len(y_known), n_evaluations, step):
        values.append(_evaluate(f, X[start:start + step], executor))
        if bar is not None:
            bar.update(len(values[-1]))
            bar.set_postfix(y_best=f"{np.min(np.concatenate(values)):.6g}")
    if bar is not None:
        bar.close()
    return _result(X, np.concatenate(values), bounds, n_evaluations)
