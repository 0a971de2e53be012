r"""Multi-fidelity regression: many cheap low-fidelity samples, a few expensive high-fidelity ones.

A microstructure property can often be had at two costs: cheaply from an analytic bound, an
effective-medium estimate or a solver on a coarse grid (the *low fidelity*), and expensively from the
full FFT solver (the *high fidelity*). Two hybrid models combine them.

:class:`CoKrigingRegressor` — the autoregressive (AR1) co-kriging of Kennedy & O'Hagan (2000),
.. math:: f_h(x) = \rho\, f_l(x) + \delta(x),

with independent Gaussian processes for :math:`f_l` (fitted on the low-fidelity data) and for the
discrepancy :math:`\delta` (fitted on the high-fidelity residuals :math:`y_h - \rho\,\mu_l(x_h)`).
It is fitted *recursively* (Forrester, Sóbester & Keane 2007; Le Gratiet & Garnier 2014): first the
low-fidelity GP, then :math:`\rho` together with :math:`\delta`'s kernel hyper-parameters by
maximizing :math:`\delta`'s log marginal likelihood. For fixed kernel hyper-parameters that likelihood
is a quadratic in :math:`\rho`, so :math:`\rho` has a closed form (a generalized least-squares
estimate) and the optimizer searches the kernel hyper-parameters of the profile likelihood only. The
prediction of the high fidelity is :math:`\rho\,\mu_l(x) + \mu_\delta(x)` with variance
:math:`\rho^2\sigma_l^2(x) + \sigma_\delta^2(x)` (exact for nested designs, Le Gratiet & Garnier 2014).

:class:`DeltaRegressor` — Δ-learning (Ramakrishnan et al. 2015): a *known* cheap model
:math:`f_l` (a callable such as a Hashin–Shtrikman bound, or an already fitted low-fidelity
regressor) is corrected by a regressor of the discrepancy :math:`y_h - f_l(x)`; optionally the
regressor also sees :math:`f_l(x)` as an input (a nonlinear correction, in the spirit of Perdikaris
et al. 2017).

Both are built on scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`: its
kernels (with hyper-parameter bounds and analytic gradients), Cholesky-based posterior and
pickling are well tested and are what the book's other GP chapters use, so the fitted ``low_`` and
``delta_`` are ordinary scikit-learn GPs a reader can inspect, plot and reuse. Only the joint
estimate of :math:`\rho` is written here (about twenty lines on top of the kernels' gradients).

Data layout
-----------
scikit-learn's ``fit(X, y)`` takes one data set, so :meth:`CoKrigingRegressor.fit` takes both
fidelities stacked, ``fit(X, y, fidelity)``, with a per-sample ``fidelity`` array of 0 (low) and 1
(high). ``predict(X)`` always predicts the high fidelity, and so ``score(X, y)`` compares with
high-fidelity values: validate on high-fidelity samples only (for instance leave one high-fidelity
sample out at a time and keep every low-fidelity sample in the fit; scikit-learn's
``cross_val_score(..., params={"fidelity": fidelity})`` splits ``fidelity`` with the rows, but would
score the held-out low-fidelity rows against high-fidelity predictions).

References: M. C. Kennedy, A. O'Hagan, Biometrika 87, 1 (2000); A. I. J. Forrester, A. Sóbester,
A. J. Keane, Proc. R. Soc. A 463, 3251 (2007); L. Le Gratiet, J. Garnier, Int. J. Uncertain.
Quantif. 4, 365 (2014); R. Ramakrishnan et al., J. Chem. Theory Comput. 11, 2087 (2015);
P. Perdikaris et al., Proc. R. Soc. A 473, 20160751 (2017).
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy.linalg import cho_solve, cholesky
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import is_torch, seeded_clone, torch_seed
from .._validation import check_flag, check_in_box, check_integer
from ..nn import integer_seed

__all__ = ["CoKrigingRegressor", "DeltaRegressor", "forrester"]


def forrester(X, fidelity="high"):
    r"""The one-dimensional multi-fidelity test pair of Forrester et al. (2007) on ``[0, 1]``.

    :math:`f_h(x) = (6x - 2)^2 \sin(12x - 4)` and :math:`f_l(x) = 0.5 f_h(x) + 10(x - 0.5) - 5`,
    so that :math:`f_h = 2 f_l - 20x + 20`: an AR1 model with :math:`\rho = 2` and a linear
    discrepancy. The standard design is 11 low-fidelity points ``linspace(0, 1, 11)`` and the 4
    high-fidelity points ``[0, 0.4, 0.6, 1]``. Forrester et al. write :math:`f_l = A f_h + B(x - 0.5) - C`
    with :math:`A = 0.5`, :math:`B = 10`, :math:`C = -5`, i.e. :math:`+5`; implementations differ in the sign
    of that constant, and this one uses :math:`-5`. The constant only shifts :math:`f_l` (and the
    discrepancy), so the pair's difficulty for multi-fidelity models is the same.

    Parameters
    ----------
    X : array_like or torch.Tensor
        Points in ``[0, 1]``, shape ``(n,)`` or ``(n, 1)``.
    fidelity : {"high", "low"}

    Returns
    -------
    numpy.ndarray of shape ``(n,)``.

    Raises
    ------
    ValueError
        For a point outside ``[0, 1]`` (by more than ``1e-12``: rounding is taken as on the bound), NaN,
        or another shape.

    Examples
    --------
    >>> from mslearn.surrogates.multifidelity import forrester
    >>> round(float(forrester([0.0], "high")[0]), 4), round(float(forrester([0.0], "low")[0]), 4)
    (3.0272, -8.4864)
    """
    if fidelity not in ("high", "low"):
        raise ValueError(f"fidelity = {fidelity!r}; expected 'high' or 'low'")
    if is_torch(X):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=float)
    if X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]
    if X.ndim != 1:
        raise ValueError(f"X has shape {X.shape}; expected (n,) or (n, 1)")
    X = check_in_box(X[:, None], [(0.0, 1.0)], name="X", domain="the Forrester functions' domain [0, 1]")[:, 0]
    high = (6 * X - 2) ** 2 * np.sin(12 * X - 4)
    return high if fidelity == "high" else 0.5 * high + 10 * (X - 0.5) - 5


# ----------------------------------------------------------------------------- helpers
def _default_kernel(X, *, bias):
    """A constant times an anisotropic RBF whose length scales start at each input's range.

    Starting (and bounding) the length scales relative to the data makes the default work for inputs
    in any units (a volume fraction in [0, 1], a contrast in [1, 100]). The targets are scaled to unit
    spread before (``normalize_y`` or the discrepancy's scaling), so the variance is bounded to 100: a
    larger one with a long length scale makes the covariance matrix so ill-conditioned that the
    predicted variances come out negative. ``bias`` adds a constant kernel (an unknown constant mean).
    """
    span = np.ptp(X, axis=0)
    span = np.where(span > 0, span, 1.0)
    kernel = ConstantKernel(1.0, (1e-5, 1e2)) * RBF(length_scale=span, length_scale_bounds=[(1e-2 * s, 1e2 * s)
                                                                                                for s in span])
    if bias:
        kernel = kernel + ConstantKernel(1.0, (1e-5, 1e5))
    return kernel


def _check_kernel(kernel, name):
    if kernel is not None and not isinstance(kernel, Kernel):
        raise ValueError(f"{name} = {kernel!r}; expected None or a sklearn.gaussian_process.kernels.Kernel")


def _check_fidelity(fidelity, n):
    if fidelity is None:
        raise ValueError("fidelity is required: an array with one entry per sample, 0 (low) or 1 (high)")
    values = np.asarray(fidelity)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"fidelity has shape {values.shape}; expected ({n},), one entry per row of X")
    if values.dtype.kind not in "biuf" or not np.all(np.isin(values, (0, 1))):
        found = np.unique(values).tolist() if values.dtype.kind in "biufUO" else values.dtype
        raise ValueError(f"fidelity holds {found}; expected only 0 (low fidelity) and 1 (high fidelity)")
    return values.astype(bool)


def _check_non_negative_int(value, name):
    return check_integer(value, 0, name=name)


# ----------------------------------------------------------------------------- AR1 co-kriging
class CoKrigingRegressor(RegressorMixin, BaseEstimator):
    r"""Autoregressive (AR1) co-kriging of two fidelities: :math:`f_h = \rho f_l + \delta`.

    See the module docstring for the model and why it is built on scikit-learn's GP.

    Parameters
    ----------
    kernel_low : Kernel, optional
        Kernel of the low-fidelity GP (fitted with ``normalize_y=True``). Default: a constant (variance
        in 1e-5 .. 100) times an anisotropic RBF whose length scales start at (and are bounded to
        1/100 .. 100 times) each input's range in the data.
    kernel_delta : Kernel, optional
        Kernel of the discrepancy GP. Default: the same, plus a constant kernel that plays the role of
        an unknown constant mean (ordinary kriging). The discrepancy is fitted on targets divided by
        the standard deviation of the high-fidelity data; the fitted ``delta_`` carries that factor
        back as a fixed constant in front of its kernel.
    alpha : float
        Variance added to the kernels' diagonals (noise or jitter), in the targets' units squared, for
        both GPs (the low-fidelity one, fitted on standardized targets, takes ``alpha / var(y_low)``);
        deterministic solver data need only the default jitter.
    rho : float, optional
        ``None`` (default) estimates the scale :math:`\rho` jointly with the discrepancy's
        hyper-parameters; a number fixes it (``rho=1`` is additive Δ-learning with a GP low fidelity).
    n_restarts_optimizer : int
        Extra starts of the hyper-parameter optimizers from random points of the bounds (log-uniform).
    random_state : int
        Seeds the restarts (an int >= 0; None is not accepted, so that the same call gives the same fit).
        A seed of :math:`2^{32}` or more is hashed into 32 bits, as for the torch surrogates.

    Attributes
    ----------
    low_ : GaussianProcessRegressor
        The low-fidelity GP, fitted on the low-fidelity samples.
    delta_ : GaussianProcessRegressor
        The discrepancy GP, fitted on ``y_high - rho_ * low_.predict(X_high)`` with the optimized kernel
        (``optimizer=None``).
    rho_ : float
        The scale between the fidelities.
    log_marginal_likelihood_value_ : float
        The discrepancy's log marginal likelihood at the optimum (in the scaled targets).
    n_features_in_ : int
    n_low_, n_high_ : int
        The numbers of low- and high-fidelity samples.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates.multifidelity import CoKrigingRegressor, forrester
    >>> x_low, x_high = np.linspace(0, 1, 11), np.array([0.0, 0.4, 0.6, 1.0])
    >>> X = np.concatenate([x_low, x_high])[:, None]
    >>> y = np.concatenate([forrester(x_low, "low"), forrester(x_high, "high")])
    >>> fidelity = np.r_[np.zeros(11), np.ones(4)]
    >>> model = CoKrigingRegressor(random_state=0).fit(X, y, fidelity)
    >>> round(model.rho_, 1)
    2.0
    """

    def __init__(self, kernel_low=None, kernel_delta=None, *, alpha=1e-10, rho=None, n_restarts_optimizer=2,
                 random_state=0):
        self.kernel_low = kernel_low
        self.kernel_delta = kernel_delta
        self.alpha = alpha
        self.rho = rho
        self.n_restarts_optimizer = n_restarts_optimizer
        self.random_state = random_state

    def _check_params(self):
        _check_kernel(self.kernel_low, "kernel_low")
        _check_kernel(self.kernel_delta, "kernel_delta")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real) or not self.alpha >= 0 \
                or not np.isfinite(self.alpha):
            raise ValueError(f"alpha = {self.alpha!r}; expected a finite number >= 0")
        if self.rho is not None and (isinstance(self.rho, bool) or not isinstance(self.rho, numbers.Real)
                                     or not np.isfinite(self.rho)):
            raise ValueError(f"rho = {self.rho!r}; expected None (estimate it) or a finite number")
        return _check_non_negative_int(self.n_restarts_optimizer, "n_restarts_optimizer")

    def fit(self, X, y, fidelity):
        """Fit the low-fidelity GP, then ``rho_`` and the discrepancy GP.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            The inputs of both fidelities, stacked.
        y : array_like, shape (n_samples,)
            The targets, each at its own fidelity.
        fidelity : array_like, shape (n_samples,)
            0 for a low-fidelity sample, 1 for a high-fidelity one (booleans accepted). At least two
            low-fidelity samples and, when ``rho`` is estimated, two high-fidelity ones.

        Returns
        -------
        self
        """
        n_restarts = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        high = _check_fidelity(fidelity, len(X))
        n_high, n_low = int(high.sum()), int((~high).sum())
        need_high = 2 if self.rho is None else 1
        if n_low < 2 or n_high < need_high:
            raise ValueError(f"fidelity has {n_low} low- and {n_high} high-fidelity samples; expected at least 2 "
                             f"low-fidelity and {need_high} high-fidelity samples")
        rng = np.random.RandomState(torch_seed(integer_seed(self.random_state)))   # numpy takes 32 bits
        X_low, y_low, X_high, y_high = X[~high], y[~high], X[high], y[high]

        kernel_low = clone(self.kernel_low) if self.kernel_low is not None else _default_kernel(X_low, bias=False)
        # normalize_y: scikit-learn adds alpha to the kernel of the standardized targets, so alpha in the targets'
        # units squared (as documented, and as the discrepancy takes it) is alpha / var(y_low) there
        variance_low = float(np.var(y_low)) if np.var(y_low) > 0 else 1.0
        self.low_ = GaussianProcessRegressor(kernel=kernel_low, alpha=self.alpha / variance_low, normalize_y=True,
                                             n_restarts_optimizer=n_restarts,
                                             random_state=rng.randint(2**31 - 1)).fit(X_low, y_low)
        mean_low = self.low_.predict(X_high)

        scale = float(np.std(y_high)) if n_high > 1 and np.std(y_high) > 0 else max(float(np.abs(y_high).max()), 1.0)
        kernel = clone(self.kernel_delta) if self.kernel_delta is not None else _default_kernel(X_high, bias=True)
        theta, rho, lml = self._optimize(kernel, X_high, y_high / scale, mean_low / scale,
                                         self.alpha / scale**2, n_restarts, rng)
        self.rho_ = float(rho)
        self.log_marginal_likelihood_value_ = float(lml)
        kernel_delta = ConstantKernel(scale**2, "fixed") * kernel.clone_with_theta(theta)
        self.delta_ = GaussianProcessRegressor(kernel=kernel_delta, alpha=self.alpha, optimizer=None,
                                               normalize_y=False).fit(X_high, y_high - self.rho_ * mean_low)
        self.n_low_, self.n_high_ = n_low, n_high
        return self

    def _optimize(self, kernel, X, y, m, alpha, n_restarts, rng):
        """Maximize the profile log likelihood of ``y - rho m`` over the kernel's log hyper-parameters."""
        n = len(y)
        fixed_rho = self.rho

        def profile(theta):
            K, dK = kernel.clone_with_theta(theta)(X, eval_gradient=True)
            K[np.diag_indices_from(K)] += alpha
            try:
                L = cholesky(K, lower=True)
            except np.linalg.LinAlgError:
                return np.inf, np.zeros_like(theta), np.nan
            if fixed_rho is None:
                Km = cho_solve((L, True), m)
                denominator = m @ Km
                rho = (y @ Km) / denominator if denominator > 0 else 0.0
            else:
                rho = fixed_rho
            d = y - rho * m
            a = cho_solve((L, True), d)
            lml = -0.5 * d @ a - np.log(np.diag(L)).sum() - 0.5 * n * np.log(2 * np.pi)
            inner = np.outer(a, a) - cho_solve((L, True), np.eye(n))
            grad = 0.5 * np.einsum("ij,jik->k", inner, dK)   # at the optimal rho (envelope theorem)
            return -lml, -grad, rho

        if kernel.n_dims == 0:
            value, _, rho = profile(kernel.theta)
            return kernel.theta, rho, -value
        bounds = kernel.bounds
        starts = [kernel.theta] + [rng.uniform(bounds[:, 0], bounds[:, 1]) for _ in range(n_restarts)]
        best = None
        for start in starts:
            result = minimize(lambda t: profile(t)[:2], start, jac=True, method="L-BFGS-B", bounds=bounds)
            if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
                best = result
        if best is None:
            raise ValueError("the discrepancy's covariance matrix is singular at every start; add noise with "
                             "alpha or a WhiteKernel, or remove duplicated high-fidelity inputs")
        value, _, rho = profile(best.x)
        if self.rho is None and not np.isfinite(rho):
            raise ValueError("rho cannot be estimated: the low-fidelity GP predicts zero at every high-fidelity "
                             "input; fix rho instead")
        return best.x, rho, -value

    def posterior(self, X):
        """The high fidelity's posterior mean and standard deviation at ``X``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Inputs, converted to float64.

        Returns
        -------
        (mean, std) : two numpy arrays of shape ``(n_samples,)``
            ``rho_ * mu_low + mu_delta`` and ``sqrt(rho_**2 * sd_low**2 + sd_delta**2)``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "delta_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        mean_low, sd_low = self.low_.predict(X, return_std=True)
        mean_delta, sd_delta = self.delta_.predict(X, return_std=True)
        return self.rho_ * mean_low + mean_delta, np.sqrt(self.rho_**2 * sd_low**2 + sd_delta**2)

    def predict(self, X):
        """The high fidelity's posterior mean at ``X`` (the mean of :meth:`posterior`).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Inputs, converted to float64.

        Returns
        -------
        ndarray of float64, shape (n_samples,)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        return self.posterior(X)[0]

    def score(self, X, y, fidelity=None, sample_weight=None):
        """R² of :meth:`predict` (the high fidelity) against ``y``, on its high-fidelity samples.

        Parameters
        ----------
        X, y : array_like, shapes (n_samples, n_features), (n_samples,)
            Inputs and targets, as in :meth:`fit`.
        fidelity : array_like, shape (n_samples,), optional
            As in :meth:`fit`: only the samples marked 1 are scored (a low-fidelity target is not what
            :meth:`predict` estimates). Default ``None``: every sample, taken as high fidelity.
            Cross-validation splits stacked data of both fidelities and passes ``fidelity`` to ``fit``
            alone unless it is routed to ``score`` too: ``sklearn.set_config(enable_metadata_routing=True)``
            and ``model.set_fit_request(fidelity=True).set_score_request(fidelity=True)``.
        sample_weight : array_like, shape (n_samples,), optional

        Returns
        -------
        float
        """
        X, y = np.asarray(X), np.asarray(y)
        weight = None if sample_weight is None else np.asarray(sample_weight)
        if fidelity is not None:
            high = _check_fidelity(fidelity, len(X))
            if not high.any():
                raise ValueError("fidelity marks no sample as high fidelity (1); there is nothing to score")
            X, y, weight = X[high], y[high], None if weight is None else weight[high]
        return float(r2_score(y, self.predict(X), sample_weight=weight))


# ----------------------------------------------------------------------------- Δ-learning
class DeltaRegressor(RegressorMixin, BaseEstimator):
    r"""Δ-learning: a known cheap model plus a learned correction, :math:`f_h(x) = f_l(x) + g(x)`.

    Parameters
    ----------
    low_fidelity : callable or fitted estimator
        The cheap model: ``low_fidelity(X) -> (n_samples,)`` (an analytic bound, an effective-medium
        estimate), or a *fitted* regressor whose ``predict`` is used (it is not refitted). Note that
        scikit-learn's ``clone`` (cross-validation, grid search) returns estimators unfitted: pass
        ``fitted.predict`` (a bound method, copied with its fitted model) when cross-validating. A
        model is pickled (saved, or sent to worker processes) with its callable, which must then be a
        module-level function or a bound method: a ``lambda`` cannot be pickled.
    regressor : estimator, optional
        Learns the discrepancy ``y - low_fidelity(X)``; default a GP (constant times an anisotropic
        RBF scaled to the data, ``normalize_y=True``).
    append_low_fidelity : bool
        Give the regressor ``low_fidelity(X)`` as an extra input column, so that the correction may
        depend on the cheap prediction (a nonlinear multi-fidelity model).
    n_restarts_optimizer : int
        Restarts of the default GP's optimizer (ignored for another ``regressor``).
    random_state : int
        Seeds the default GP and every random state of a given regressor left at None (nested ones
        included); an int >= 0 (None is not accepted, so that the same call gives the same fit). A seed
        of :math:`2^{32}` or more is hashed into 32 bits, as for the torch surrogates.

    Attributes
    ----------
    regressor_ : estimator
        The fitted discrepancy model.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates.multifidelity import DeltaRegressor, forrester
    >>> x = np.array([[0.0], [0.4], [0.6], [1.0]])
    >>> model = DeltaRegressor(lambda X: 2 * forrester(X, "low"), random_state=0).fit(x, forrester(x, "high"))
    >>> bool(abs(model.predict([[0.75]])[0] - forrester([0.75])[0]) < 0.1)
    True
    """

    def __init__(self, low_fidelity=None, regressor=None, *, append_low_fidelity=False, n_restarts_optimizer=2,
                 random_state=0):
        self.low_fidelity = low_fidelity
        self.regressor = regressor
        self.append_low_fidelity = append_low_fidelity
        self.n_restarts_optimizer = n_restarts_optimizer
        self.random_state = random_state

    def _low(self, X):
        model = self.low_fidelity
        if model is None:
            raise ValueError("low_fidelity is None; expected a callable f(X) or a fitted regressor")
        if hasattr(model, "predict") and (isinstance(model, BaseEstimator) or not callable(model)):
            try:
                check_is_fitted(model)
            except NotFittedError as error:
                raise ValueError(f"low_fidelity {type(model).__name__} is not fitted; fit it first (after "
                                 "scikit-learn's clone, pass fitted.predict instead of the estimator)") from error
            values = model.predict(X)
        elif callable(model):
            values = model(X)
        else:
            raise ValueError(f"low_fidelity = {model!r}; expected a callable f(X) or a fitted regressor")
        values = np.asarray(values, dtype=float)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.shape != (len(X),):
            raise ValueError(f"low_fidelity returned shape {values.shape} for {len(X)} samples; expected "
                             f"({len(X)},)")
        if not np.all(np.isfinite(values)):
            raise ValueError("low_fidelity returned NaN or infinite values; expected finite numbers")
        return values

    def _inputs(self, X, low):
        return np.column_stack([X, low]) if self.append_low_fidelity else X

    def fit(self, X, y):
        """Fit the regressor to the discrepancy ``y - low_fidelity(X)``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Inputs, converted to float64.
        y : array_like, shape (n_samples,)
            High-fidelity targets.

        Returns
        -------
        self : DeltaRegressor
            The fitted estimator (``regressor_``).

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If ``low_fidelity`` is None, an unfitted estimator, or returns values of another shape or
            not finite; or if ``regressor`` has no ``fit``, or a setting is invalid.
        """
        n_restarts = _check_non_negative_int(self.n_restarts_optimizer, "n_restarts_optimizer")
        check_flag(self.append_low_fidelity, name="append_low_fidelity")
        if self.regressor is not None and not hasattr(self.regressor, "fit"):
            raise ValueError(f"regressor = {self.regressor!r}; expected None or a scikit-learn regressor")
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        seed = torch_seed(integer_seed(self.random_state))     # scikit-learn takes 32 bits
        low = self._low(X)
        Z = self._inputs(X, low)
        if self.regressor is None:
            regressor = GaussianProcessRegressor(kernel=_default_kernel(Z, bias=False), normalize_y=True,
                                                 n_restarts_optimizer=n_restarts, random_state=seed)
        else:
            regressor = seeded_clone(self.regressor, seed)
        self.regressor_ = regressor.fit(Z, y - low)
        return self

    def predict(self, X):
        """``low_fidelity(X) + regressor_.predict(...)`` at ``X``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Inputs, converted to float64.

        Returns
        -------
        ndarray of float64, shape (n_samples,)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``low_fidelity`` returns values of another shape or not finite.
        """
        check_is_fitted(self, "regressor_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        low = self._low(X)
        return low + np.asarray(self.regressor_.predict(self._inputs(X, low))).reshape(len(X))

    def posterior(self, X):
        """Mean and standard deviation at ``X`` when the regressor is a GP (the cheap model is exact).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Inputs, converted to float64.

        Returns
        -------
        (mean, std) : two numpy arrays of shape ``(n_samples,)``
            ``low_fidelity(X)`` plus the GP's mean, and the GP's standard deviation.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``regressor_`` is not a ``GaussianProcessRegressor``, or ``low_fidelity`` returns values of
            another shape or not finite.
        """
        check_is_fitted(self, "regressor_")
        if not isinstance(self.regressor_, GaussianProcessRegressor):
            raise ValueError(f"posterior needs a GaussianProcessRegressor; the regressor is "
                             f"{type(self.regressor_).__name__} (use predict)")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        low = self._low(X)
        mean, std = self.regressor_.predict(self._inputs(X, low), return_std=True)
        return low + mean, std
