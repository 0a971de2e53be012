r"""Recurrent surrogates of path-dependent effective response: strain history in, stress history out.

An elasto-plastic RVE has a memory: its stress at a given macroscopic strain depends on how that
strain was reached (plastic strain, hardening, load reversals). A surrogate that maps the current
strain to the stress cannot represent it; a recurrent network carries a hidden state along the
path that plays the role of the internal variables (Mozaffar et al. 2019; Wu et al. 2020;
Bonatti & Mohr 2022).

* :class:`RecurrentRegressor` — a unidirectional GRU (or LSTM) over the load steps, then one linear
  head per step. It reads, at step :math:`t`, the strain :math:`\varepsilon_t` and its increment
  :math:`\Delta\varepsilon_t = \varepsilon_t - \varepsilon_{t-1}` (:math:`\varepsilon_{-1} = 0`, the
  virgin state) and predicts :math:`\sigma_t`. Causal by construction: the stress at step
  :math:`t` depends on the steps :math:`0..t` only.
* :class:`StepwiseRegressor` — the stateless baseline: the package's :class:`~.mlp.MLPRegressor`
  on the same per-step features :math:`(\varepsilon_t, \Delta\varepsilon_t) \mapsto \sigma_t`,
  taking the same ``(n_paths, n_steps, m)`` arrays, so that the comparison is one line each. The
  increment tells it the loading direction, not the history, so it cannot know where the yield
  surface has moved.
* :func:`relative_history_error` — the per-path relative error :math:`\|\hat\sigma - \sigma\| /
  \|\sigma\|` over all steps and components (:func:`relative_field_error` on histories).

Both estimators follow scikit-learn (``fit``/``predict``/``score``, ``get_params``, ``clone``,
pickling) with ``X`` the strain histories ``(n_paths, n_steps, m)`` and ``y`` the stress histories
``(n_paths, n_steps, m')``; inputs and targets are standardized per component over all steps. The
recurrent network trains with the shared loop :func:`~._torch_estimator.fit_network` (Adam,
mini-batches of whole paths, early stopping on held-out paths).

A known limitation, measured in ``tests/test_surrogates_recurrent.py``: a recurrent network
trained at one step size learns a discrete-time update, not a rate-independent law, so the same
path sampled more finely is not predicted exactly the same (Bonatti & Mohr 2022 build step-size
independence into the cell). Train on paths with varied increments (as :func:`mslearn.datasets.random_walk_paths`
draws them) and predict at steps of similar size.

References: Mozaffar et al., PNAS 116, 26414 (2019); Wu, Nguyen, Kilingar & Noels, CMAME 369,
113234 (2020); Bonatti & Mohr, JMPS 158, 104697 (2022); Cho et al., EMNLP (2014) (GRU).
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._validation import check_flag, check_real
from ._torch_estimator import LoadsOlderPickles, TorchRegressor, check_training_settings, keeps_state_on_failure
from .mlp import MLPRegressor
from .unet import relative_field_error

__all__ = ["RecurrentRegressor", "StepwiseRegressor", "relative_history_error", "history_features"]

CELLS = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


# ----------------------------------------------------------------------------- data
def _check_histories(X, name="X", m=None):
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    check_real(X, name=name)
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} could not be read as a float array ({error})") from None
    if X.ndim != 3:
        raise ValueError(f"{name} has shape {X.shape}; expected histories (n_paths, n_steps, m)")
    if min(X.shape) < 1:
        raise ValueError(f"{name} has shape {X.shape}; expected at least one path, one step and one component")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if m is not None and X.shape[2] != m:
        raise ValueError(f"{name} has {X.shape[2]} components per step; the model was fitted with {m}")
    return X


def _check_pair(X, y):
    X, y = _check_histories(X, "X"), _check_histories(y, "y")
    if y.shape[:2] != X.shape[:2]:
        raise ValueError(f"X has shape {X.shape} but y {y.shape}; expected the same paths and steps "
                         "(n_paths, n_steps) in both")
    return X, y


def history_features(X):
    r"""Per-step features of strain histories: :math:`(\varepsilon_t, \Delta\varepsilon_t)`.

    Parameters
    ----------
    X : array, ``(n_paths, n_steps, m)``
        Strain histories; the step before the first is the zero strain (the virgin state).

    Returns
    -------
    ndarray, ``(n_paths, n_steps, 2m)``
        The strain, then its increment from the previous step.

    Examples
    --------
    >>> history_features(np.array([[[1.0], [3.0]]]))[0]
    array([[1., 1.],
           [3., 2.]])
    """
    X = _check_histories(X)
    return np.concatenate([X, np.diff(X, axis=1, prepend=0.0)], axis=2)


def relative_history_error(y_true, y_pred):
    r"""Per-path relative error :math:`\|\hat\sigma - \sigma\| / \|\sigma\|` of stress histories.

    The norms run over all steps and components of a path (:func:`relative_field_error` on
    ``(n_paths, n_steps, m)`` arrays).

    Parameters
    ----------
    y_true, y_pred : arrays ``(n_paths, n_steps, m)``
        The true and the predicted histories (the truth first, as in ``sklearn.metrics``).

    Returns
    -------
    ndarray, ``(n_paths,)``

    Examples
    --------
    >>> relative_history_error(np.ones((1, 2, 3)), np.full((1, 2, 3), 1.5))
    array([0.5])
    """
    t, p = _check_histories(y_true, "y_true"), _check_histories(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred {p.shape}; expected equal shapes")
    return np.asarray(relative_field_error(t, p))


class _HistoryScoreMixin:
    def score(self, X, y, sample_weight=None):
        """:math:`R^2` of the predicted histories over all steps (``sklearn.metrics.r2_score`` on
        ``(n_paths * n_steps, m')``, uniform average over components).

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (n_paths, n_steps, m)
            Strain histories, finite, converted to float64.
        y : array_like or torch.Tensor, shape (n_paths, n_steps, m')
            Stress histories of the same paths and steps, finite, converted to float64.
        sample_weight : array_like, shape (n_paths,), optional
            Weight of each path (repeated over its steps); default ``None``: equal weights.

        Returns
        -------
        float
        """
        X, y = _check_pair(X, y)
        prediction = self.predict(X)
        weight = None if sample_weight is None else np.repeat(np.asarray(sample_weight, float), X.shape[1])
        return r2_score(y.reshape(-1, y.shape[2]), prediction.reshape(-1, y.shape[2]), sample_weight=weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.non_deterministic = False
        return tags


# ----------------------------------------------------------------------------- recurrent model
class _RecurrentNetwork(torch.nn.Module):
    """Stacked unidirectional recurrent layers ``(n, T, features) -> (n, T, hidden)``, then a linear head per step."""

    def __init__(self, n_features, hidden_layer_sizes, n_targets, cell):
        super().__init__()
        layers, width = [], n_features
        for hidden in hidden_layer_sizes:
            layers.append(CELLS[cell](width, hidden, batch_first=True))
            width = hidden
        self.layers = torch.nn.ModuleList(layers)
        self.head = torch.nn.Linear(width, n_targets)

    def forward(self, x):
        for layer in self.layers:
            x, _ = layer(x)
        return self.head(x)


class RecurrentRegressor(_HistoryScoreMixin, TorchRegressor):
    r"""Recurrent (GRU or LSTM) surrogate of a path-dependent response: strain histories to stress histories.

    At each step the network reads the strain :math:`\varepsilon_t` and its increment
    :math:`\Delta\varepsilon_t` (:func:`history_features`, standardized per component), updates its
    hidden state, and a linear head maps the state to :math:`\sigma_t` (standardized per component,
    mapped back). The recurrent layers are unidirectional, so predictions are causal: the stress at
    step :math:`t` does not depend on later steps. Paths of any length can be predicted.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Hidden-state size of each stacked recurrent layer.
    cell : {"gru", "lstm"}
        The recurrent cell (GRU: Mozaffar et al. 2019, Wu et al. 2020; LSTM).
    learning_rate_init, lr_schedule, max_iter, batch_size, weight_decay
        Adam's learning rate, its schedule (``"cosine"`` decays it to zero over ``max_iter`` epochs,
        ``"constant"``), the number of epochs, the mini-batch size in *paths* (``None``: all) and
        the L2 regularization.
    validation_fraction, patience
        Fraction of the training *paths* held out for early stopping, and the epochs without
        improvement that end training (``None``: never early).
    random_state : int
        Seeds the weights, the validation split and the batch order (torch's global random state is
        left unchanged).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    cpu_threads : int, optional
        Torch CPU threads during ``fit``/``predict`` (restored afterwards); ``None`` keeps torch's
        setting. ``1`` is often faster for small networks on shared or busy cores.
    progress : bool
        A tqdm progress bar over epochs.
    warm_start : bool
        Continue training the fitted network (more epochs, fine-tuning), as in
        :class:`~mslearn.surrogates.MLPRegressor`.

    Attributes
    ----------
    network_ : torch.nn.Module
    x_scaler_, y_scaler_ : sklearn.preprocessing.StandardScaler
        Per-component scaling of the features ``(2m,)`` and of the targets ``(m',)``.
    history_, best_epoch_, n_iter_
        As in :class:`~._torch_estimator.TorchRegressor` (scaled MSE per epoch).
    n_features_in_ : int
        Strain components ``m`` per step.
    n_outputs_ : int
        Stress components ``m'`` per step.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.datasets.paths import random_walk_paths
    >>> X = random_walk_paths(32, 20, 1, max_increment=0.1, seed=0)
    >>> y = np.maximum.accumulate(np.abs(X), axis=1)            # a response with memory
    >>> model = RecurrentRegressor((16,), max_iter=100, random_state=0, device="cpu").fit(X, y)
    >>> model.predict(X).shape
    (32, 20, 1)
    """

    def __init__(self, hidden_layer_sizes=(64,), cell="gru", *, learning_rate_init=5e-3, lr_schedule="cosine",
                 max_iter=300, batch_size=16, weight_decay=0.0, validation_fraction=0.15, patience=60,
                 random_state=0, device="auto", cpu_threads=None, progress=False, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.cell = cell
        self.cpu_threads = cpu_threads
        self.warm_start = warm_start
        self.lr_schedule = lr_schedule
        self._init_training(learning_rate_init, max_iter, batch_size, weight_decay, validation_fraction,
                            patience, random_state, device, progress)

    def _build_network(self, n_features, n_targets):
        if not isinstance(self.cell, str) or self.cell not in CELLS:
            raise ValueError(f"cell = {self.cell!r}; expected one of {sorted(CELLS)}")
        sizes = tuple(self.hidden_layer_sizes) if isinstance(self.hidden_layer_sizes, (tuple, list)) else None
        if not sizes or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                                for h in sizes):
            raise ValueError(f"hidden_layer_sizes = {self.hidden_layer_sizes!r}; expected a non-empty tuple of "
                             "integers >= 1")
        return _RecurrentNetwork(n_features, sizes, n_targets, self.cell)

    @keeps_state_on_failure
    def fit(self, X, y):
        """Train on strain histories ``X`` and stress histories ``y``.

        Starts afresh (new weights, new scaling), or, with ``warm_start`` on a fitted model, continues
        the fitted network with the first fit's scaling. If it raises, the model is left as it was.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (n_paths, n_steps, m)
            Strain histories, finite, converted to float64.
        y : array_like or torch.Tensor, shape (n_paths, n_steps, m')
            Stress histories of the same paths and steps, finite, converted to float64.

        Returns
        -------
        self : RecurrentRegressor
            The fitted estimator.

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If ``X`` or ``y`` is not finite ``(n_paths, n_steps, ·)`` histories of the same paths and
            steps, a setting is invalid, too few paths remain beside the validation split, or a warm
            start meets other components or layers.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        check_training_settings(self)
        X, y = _check_pair(X, y)
        features = history_features(X)
        n, T = X.shape[:2]
        warm = self._warm()
        if warm:
            self._check_warm_shape("(strain, stress) components", (X.shape[2], y.shape[2]),
                                   (self.n_features_in_, self.n_outputs_))
        else:
            self.n_features_in_, self.n_outputs_ = X.shape[2], y.shape[2]
            self.x_scaler_ = StandardScaler().fit(features.reshape(n * T, -1))
            self.y_scaler_ = StandardScaler().fit(y.reshape(n * T, -1))

        return self._fit_scaled(self.x_scaler_.transform(features.reshape(n * T, -1)).reshape(n, T, -1),
                                self.y_scaler_.transform(y.reshape(n * T, -1)).reshape(n, T, -1),
                                features.shape[2], y.shape[2], warm)

    def predict(self, X):
        """Predicted stress histories of strain histories (any number of steps).

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (n_paths, n_steps, m)
            Strain histories, finite, converted to float64, with the ``m`` of the
            training histories.

        Returns
        -------
        ndarray of float64, shape (n_paths, n_steps, m')

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` is not finite histories of ``m`` components.
        """
        check_is_fitted(self, "network_")
        X = _check_histories(X, m=self.n_features_in_)
        features = history_features(X)
        n, T = X.shape[:2]
        parameter = next(self.network_.parameters())
        with torch.no_grad(), self._threads(parameter.device):
            x = torch.as_tensor(self.x_scaler_.transform(features.reshape(n * T, -1)).reshape(n, T, -1),
                                dtype=parameter.dtype, device=parameter.device)
            out = self.network_(x).cpu().numpy().astype(np.float64)
        return self.y_scaler_.inverse_transform(out.reshape(n * T, -1)).reshape(n, T, -1)

    def predict_tensor(self, X):
        """:meth:`predict` as a differentiable torch function: gradients flow back to ``X``.

        Parameters
        ----------
        X : torch.Tensor, shape (n_paths, n_steps, m)
            Strain histories, with the ``m`` of the training histories.

        Returns
        -------
        torch.Tensor, shape (n_paths, n_steps, m')
            Stress histories on ``X``'s device and in its dtype.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` is not a torch tensor of that shape.
        """
        check_is_fitted(self, "network_")
        if not isinstance(X, torch.Tensor) or X.ndim != 3 or X.shape[2] != self.n_features_in_:
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"X is {shape}; expected a torch tensor of shape "
                             f"(n_paths, n_steps, {self.n_features_in_})")
        parameter = next(self.network_.parameters())
        as_tensor = lambda a: torch.as_tensor(a, dtype=X.dtype, device=X.device)  # noqa: E731
        features = torch.cat([X, torch.diff(X, dim=1, prepend=torch.zeros_like(X[:, :1]))], dim=2)
        x = (features - as_tensor(self.x_scaler_.mean_)) / as_tensor(self.x_scaler_.scale_)
        y = self.network_(x.to(device=parameter.device, dtype=parameter.dtype)).to(device=X.device, dtype=X.dtype)
        return y * as_tensor(self.y_scaler_.scale_) + as_tensor(self.y_scaler_.mean_)


# ----------------------------------------------------------------------------- stateless baseline
class StepwiseRegressor(_HistoryScoreMixin, LoadsOlderPickles, RegressorMixin, BaseEstimator):
    r"""Stateless baseline on histories: an :class:`~.mlp.MLPRegressor` from
    :math:`(\varepsilon_t, \Delta\varepsilon_t)` to :math:`\sigma_t`, step by step.

    Takes and returns the same ``(n_paths, n_steps, m)`` arrays as :class:`RecurrentRegressor`; every
    step of every path is one training sample. Without a state it can represent nonlinear
    elasticity and, through the increment's sign, the loading direction, but not the plastic
    history: two paths that reach the same strain with the same last increment get the same stress.

    Parameters
    ----------
    hidden_layer_sizes, activation, learning_rate_init, max_iter, batch_size, weight_decay
        As in :class:`~.mlp.MLPRegressor` (``batch_size`` counts steps).
    validation_fraction, patience, random_state, device, cpu_threads, progress
        As in :class:`~.mlp.MLPRegressor` (the validation split is over steps); the per-step network
        (``regressor_``) gets them when ``fit`` makes or continues it.
    warm_start : bool
        Continue training the fitted per-step network (``regressor_``, with
        :class:`~.mlp.MLPRegressor`'s ``warm_start``: more epochs, fine-tuning on new paths, the scaling
        of the first fit kept); histories of other strain or stress components, or settings that
        describe other layers, raise.

    Attributes
    ----------
    regressor_ : MLPRegressor
        The fitted per-step network.
    n_features_in_, n_outputs_ : int
        Strain and stress components per step.
    history_, best_epoch_, n_iter_
        The training record of ``regressor_`` (losses per epoch, the epoch kept, epochs run), as
        :class:`~.mlp.MLPRegressor` has them.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(0, 1, 20).reshape(1, 20, 1).repeat(4, axis=0)
    >>> model = StepwiseRegressor((16,), max_iter=50, device="cpu").fit(X, 2 * X)
    >>> model.predict(X).shape
    (4, 20, 1)
    """

    def __init__(self, hidden_layer_sizes=(64, 64), activation="silu", *, learning_rate_init=1e-2, max_iter=1000,
                 batch_size=256, weight_decay=0.0, validation_fraction=0.15, patience=50, random_state=0,
                 device="auto", cpu_threads=None, progress=False, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.warm_start = warm_start
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.cpu_threads = cpu_threads
        self.progress = progress

    def fit(self, X, y):
        """Train the per-step network on every step of the strain histories ``X`` and stress histories ``y``.

        A new :class:`~.mlp.MLPRegressor` with this estimator's settings, or, with ``warm_start`` on a
        fitted model, the fitted one trained further.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (n_paths, n_steps, m)
            Strain histories, finite, converted to float64.
        y : array_like or torch.Tensor, shape (n_paths, n_steps, m')
            Stress histories of the same paths and steps, finite, converted to float64.

        Returns
        -------
        self : StepwiseRegressor
            The fitted estimator.

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If ``X`` or ``y`` is not finite histories of the same paths and steps, a setting is invalid,
            or a warm start meets other components or layers.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        warm = check_flag(self.warm_start, name="warm_start") and hasattr(self, "regressor_")
        X, y = _check_pair(X, y)
        if warm:
            self.regressor_._check_warm_shape("(strain, stress) components", (X.shape[2], y.shape[2]),
                                              (self.n_features_in_, self.n_outputs_))
            regressor = self.regressor_.set_params(**self.get_params())
        else:
            regressor = MLPRegressor(**self.get_params())
        try:
            regressor.fit(history_features(X).reshape(-1, 2 * X.shape[2]), y.reshape(-1, y.shape[2]))
        except KeyboardInterrupt as interrupt:
            if getattr(interrupt, "kept_best_epoch", False):  # the best epoch so far, as the other networks keep it
                self._adopt(regressor, X, y)
            raise
        return self._adopt(regressor, X, y)

    def _adopt(self, regressor, X, y):
        self.regressor_ = regressor
        self.n_features_in_, self.n_outputs_ = X.shape[2], y.shape[2]
        for name in ("history_", "best_epoch_", "n_iter_"):       # the training record, as the other networks
            setattr(self, name, getattr(self.regressor_, name))
        return self

    def predict(self, X):
        """Predicted stress histories, step by step.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (n_paths, n_steps, m)
            Strain histories, finite, converted to float64, with the ``m`` of the
            training histories.

        Returns
        -------
        ndarray of float64, shape (n_paths, n_steps, m')

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` is not finite histories of ``m`` components.
        """
        check_is_fitted(self, "regressor_")
        X = _check_histories(X, m=self.n_features_in_)
        n, T = X.shape[:2]
        return self.regressor_.predict(history_features(X).reshape(n * T, -1)).reshape(n, T, self.n_outputs_)
