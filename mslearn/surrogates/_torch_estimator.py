"""A scikit-learn estimator over a torch network: scaling, seeding, early stopping, pickling.

scikit-learn's own ``MLPRegressor`` runs on the CPU in numpy and cannot host convolutional or graph
networks; skorch would add a dependency for the few dozen lines below. Every torch surrogate in
``mslearn.surrogates`` derives from :class:`TorchRegressor` and trains with ``fit_network``, so
every surrogate shares one loop (Adam, mini-batches, early stopping on a validation split, best weights
kept) and only says how to build its network and compute its loss.

The estimators follow scikit-learn's conventions and parameter names (``max_iter``,
``learning_rate_init``, ``batch_size``, ``random_state``): hyper-parameters are set in ``__init__``
only, ``fit`` takes the data only and starts afresh (new weights, new scaling) unless ``warm_start``
continues the fitted network (:meth:`TorchRegressor._continued`), fitted state
lives in attributes ending in ``_``, and ``random_state`` fixes the weights through
:func:`mslearn.nn.seeded` without changing torch's global random state.
"""
from __future__ import annotations

import copy
import functools
import inspect
import io
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from .._backend import cpu_threads
from .._backend import device as resolve_device
from .._validation import check_flag, check_integer
from ..nn import integer_seed, seeded

__all__ = ["TorchRegressor", "fit_network", "keeps_state_on_failure", "minibatches", "split_train_validation",
           "check_training_settings", "cpu_threads"]


# -- the shared training loop ----------------------------------------------------------------------
def minibatches(n, batch, smallest=1):
    """Consecutive slices of ``range(n)``, ``batch`` items each; a last one of fewer than ``smallest``
    items joins the one before it (batch normalization cannot normalize a single value per channel)."""
    starts = list(range(0, n, batch))
    if len(starts) > 1 and n - starts[-1] < smallest:
        starts.pop()
    return [slice(start, end) for start, end in zip(starts, starts[1:] + [n])]


def fit_network(estimator, network, n_train, train_loss, validation_loss, generator, parameters=None,
                schedule=None, desc=None, resumed=False, smallest_batch=1):
    """The one training loop of every torch surrogate: Adam with mini-batches over ``n_train``
    training items, an optional cosine learning-rate decay, and early stopping.

    ``train_loss(index)`` returns the loss (tensor) of the training items at positions ``index``
    (numpy int array, a fresh permutation of ``range(n_train)`` each epoch drawn from ``generator``);
    ``validation_loss()`` returns a float, or ``None`` when there is no validation split (the
    training loss then decides). ``schedule``: ``"cosine"`` or ``"constant"`` (default: the
    estimator's ``lr_schedule``, else constant). The weights of the best epoch are kept;
    ``history_``, ``best_epoch_`` and ``n_iter_`` (epochs run) are set on ``estimator``. With the
    estimator's ``progress``, a bar over the epochs named ``desc`` (default: the estimator's class).
    ``smallest_batch``: a last mini-batch of fewer items joins the one before (:func:`minibatches`).

    Interrupted (``KeyboardInterrupt``) after a finite epoch, the network keeps the best epoch so far
    and the attributes say how far it got; the interrupt propagates (marked ``kept_best_epoch``, so that
    :func:`keeps_state_on_failure` keeps this state), and a fit with ``warm_start`` continues from there.
    ``resumed``: the network is a fitted one trained further (warm start); if training fails otherwise
    (an error, or a non-finite loss in the first epoch), its weights and the three attributes are put
    back, so that a failed continuation leaves the model as it was.
    """
    saved = None
    if resumed:
        saved = (copy.deepcopy(network.state_dict()),
                 {name: copy.deepcopy(getattr(estimator, name)) for name in ("history_", "best_epoch_", "n_iter_")
                  if hasattr(estimator, name)})
    optimizer = torch.optim.Adam(parameters if parameters is not None else network.parameters(),
                                 lr=estimator.learning_rate_init, weight_decay=estimator.weight_decay)
    schedule = schedule or getattr(estimator, "lr_schedule", "constant")
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, estimator.max_iter)
                 if schedule == "cosine" else None)
    batch = n_train if estimator.batch_size is None else max(1, min(estimator.batch_size, n_train))
    estimator.history_ = {"train": [], "validation": []}
    best, best_state, estimator.best_epoch_, waited = np.inf, None, 0, 0
    epochs = tqdm(range(estimator.max_iter), disable=not estimator.progress, desc=desc or type(estimator).__name__)
    try:
        for epoch in epochs:
            network.train()
            permutation = generator.permutation(n_train)
            total = 0.0
            for part in minibatches(n_train, batch, smallest_batch):
                index = permutation[part]
                optimizer.zero_grad()
                loss = train_loss(index)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
            estimator.history_["train"].append(total / n_train)
            if scheduler is not None:
                scheduler.step()
            network.eval()
            with torch.no_grad():
                score = validation_loss()
            if score is None:
                score = estimator.history_["train"][-1]
            else:
                estimator.history_["validation"].append(float(score))
            if estimator.progress:
                epochs.set_postfix(loss=f"{score:.3e}")
            if not np.isfinite(score):
                break
            if score < best - 1e-12:
                best, best_state, estimator.best_epoch_, waited = score, copy.deepcopy(network.state_dict()), epoch, 0
            else:
                waited += 1
                if estimator.patience is not None and waited >= estimator.patience:
                    break
        if best_state is None:
            raise RuntimeError(f"{type(estimator).__name__} diverged in the first epoch (non-finite loss); "
                               "lower learning_rate_init")
    except KeyboardInterrupt as interrupt:
        if best_state is not None:
            _keep_best(estimator, network, best_state)
            interrupt.kept_best_epoch = True
        elif saved is not None:
            _put_back(estimator, network, saved)
        raise
    except Exception:
        if saved is not None:
            _put_back(estimator, network, saved)
        raise
    finally:
        epochs.close()
    _keep_best(estimator, network, best_state)


def _keep_best(estimator, network, best_state):
    estimator.n_iter_ = len(estimator.history_["train"])
    network.load_state_dict(best_state)
    network.eval()


def _put_back(estimator, network, saved):
    """A resumed network's weights and the estimator's training record as they were (see ``fit_network``)."""
    state, attributes = saved
    network.load_state_dict(state)
    network.eval()
    for name in ("history_", "best_epoch_", "n_iter_"):
        if name in attributes:
            setattr(estimator, name, attributes[name])
        else:
            estimator.__dict__.pop(name, None)


def keeps_state_on_failure(fit):
    """Decorates an estimator's ``fit``: if it fails, the estimator's attributes are put back as they were,
    so that a fitted model keeps its former fit and an unfitted one stays unfitted.

    A fresh fit sets its scalers and a new network before training; a failure (a diverged first epoch, an
    error, an interrupt before any finite epoch) would otherwise leave a network that predicts NaN or was
    never trained, beside scalers of other data. The one exception is the documented interrupt of
    :func:`fit_network`: after a finite epoch the fit so far is kept, and ``warm_start`` continues it. The
    attributes are put back as references: a warm start's network trained in place gets its weights back
    from :func:`fit_network`.
    """
    @functools.wraps(fit)
    def guarded_fit(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException as error:
            if not getattr(error, "kept_best_epoch", False):
                self.__dict__.clear()
                self.__dict__.update(saved)
            raise
    return guarded_fit


def split_train_validation(estimator, n):
    """Random positions for training and validation (``validation_fraction`` of ``n``)."""
    generator = np.random.default_rng(integer_seed(estimator.random_state))
    order = generator.permutation(n)
    fraction = estimator.validation_fraction
    n_validation = int(round(fraction * n)) if fraction else 0
    if n_validation and n - n_validation < 2:
        raise ValueError(f"{n} samples are too few to hold out a validation fraction of {fraction}")
    return order[n_validation:], order[:n_validation], generator


def check_training_settings(estimator):
    """Check the training hyper-parameters every torch surrogate shares (``fit`` calls it, so that
    ``__init__`` and ``set_params`` only store values, as scikit-learn requires)."""
    value = estimator.learning_rate_init
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"learning_rate_init = {value!r}; expected a positive number")
    value = estimator.weight_decay
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"weight_decay = {value!r}; expected a number >= 0 (Adam's L2 penalty)")
    check_integer(estimator.max_iter, 1, name="max_iter")   # training epochs
    if estimator.batch_size is not None:   # None: the whole training set at once
        check_integer(estimator.batch_size, 1, name="batch_size")
    if getattr(estimator, "lr_schedule", "constant") not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule = {estimator.lr_schedule!r}; expected 'constant' or 'cosine'")
    if not isinstance(estimator.validation_fraction, numbers.Real) or not 0 <= estimator.validation_fraction < 1:
        raise ValueError(f"validation_fraction = {estimator.validation_fraction!r}; expected a number in [0, 1)")
    if estimator.patience is not None:   # None: no early stopping
        check_integer(estimator.patience, 1, name="patience")
    integer_seed(estimator.random_state)
    check_flag(estimator.progress, name="progress")
    if hasattr(estimator, "warm_start"):   # not every estimator has one
        check_flag(estimator.warm_start, name="warm_start")


# ----------------------------------------------------------------------------- network

class LoadsOlderPickles:
    """Unpickling of an estimator pickled before one of its constructor parameters existed: the parameter
    takes its default. A parameter is added only with a default that keeps the former behaviour (as
    ``cpu_threads=None``: torch's setting), so the old model predicts as it did, and ``get_params``,
    ``clone`` and ``set_params`` work on it."""

    def __setstate__(self, state):
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty and name not in state:
                state[name] = parameter.default
        super().__setstate__(state)


class NetworkPickling(LoadsOlderPickles):
    """Pickling of an estimator's torch module ``network_`` as bytes that load onto the CPU.

    A GPU-trained model then loads anywhere (``torch.load(map_location="cpu")``); shared by every
    estimator that keeps its network in ``network_``. A model pickled before a parameter existed loads
    with its default (:class:`LoadsOlderPickles`).
    """

    def __getstate__(self):
        state = dict(super().__getstate__())   # a copy: the estimator keeps its network
        if "network_" in state:
            buffer = io.BytesIO()
            torch.save(state["network_"], buffer)    # not .to("cpu"): that would move the live model
            state["network_"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("network_"), bytes):
            network = torch.load(io.BytesIO(state["network_"]), weights_only=False, map_location="cpu")
            state["network_"] = network.eval()
        super().__setstate__(state)


class TorchRegressor(NetworkPickling, RegressorMixin, BaseEstimator):
    """Base class: subclasses implement ``_build_network(n_features, n_targets)``.

    Inputs and targets are standardized (zero mean, unit variance per column) before training, so
    the same learning rate works across problems; predictions are mapped back. Training
    (``fit_network``) is full-batch or mini-batch Adam on the mean squared error, with a validation
    split taken from the training data for early stopping: the weights of the epoch with the lowest
    validation loss are kept. ``fit`` starts from new weights drawn with ``random_state``, or, where a
    subclass has ``warm_start`` set and the model is fitted, continues the fitted network. A fit that
    fails leaves the model as it was (:func:`keeps_state_on_failure`).

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network (set by ``fit``, like every attribute below).
    history_ : dict
        Lists ``"train"`` and ``"validation"``: the scaled MSE per epoch.
    best_epoch_ : int
    n_iter_ : int
        Epochs run (fewer than ``max_iter`` when early stopping ended training).
    n_features_in_ : int
    output_shape_ : tuple
        Shape of one target: ``()`` for ``y`` of shape ``(n,)``, ``(k,)`` for ``(n, k)``.

    A subclass with a ``cpu_threads`` parameter trains and predicts (:meth:`fit`, :meth:`predict`) under
    :func:`mslearn._backend.cpu_threads` of it; one without keeps torch's setting.

    Examples
    --------
    A subclass only builds its network; scaling, Adam, early stopping and ``predict`` come from here.
    A linear network learns a linear law exactly:

    >>> import numpy as np, torch
    >>> class LinearRegressor(TorchRegressor):
    ...     def __init__(self, *, max_iter=500, random_state=0):
    ...         self._init_training(0.05, max_iter, None, 0.0, 0.15, 50, random_state, "cpu", False)
    ...     def _build_network(self, n_features, n_targets):
    ...         return torch.nn.Linear(n_features, n_targets)
    >>> X = np.linspace(0, 1, 40).reshape(-1, 1)
    >>> model = LinearRegressor().fit(X, 2 * X[:, 0] + 1)
    >>> model.predict([[0.5], [3.0]]).round(2)                  # 2 x + 1, also outside the data
    array([2., 7.])
    """

    def _build_network(self, n_features, n_targets):  # pragma: no cover - abstract
        raise NotImplementedError

    def _warm(self):
        """Whether ``fit`` continues the fitted network (``warm_start`` on a fitted model)."""
        return bool(getattr(self, "warm_start", False)) and hasattr(self, "network_")

    def _continued(self, fresh, device):
        """With :meth:`_warm`, the fitted network on ``device``, after checking that ``fresh`` (the network the
        current settings build) has its layers: a network of other shapes cannot continue. Else ``fresh``."""
        if not self._warm():
            return fresh.to(device)
        shapes = [tuple(p.shape) for p in fresh.parameters()]
        fitted = [tuple(p.shape) for p in self.network_.parameters()]
        if type(fresh) is not type(self.network_) or shapes != fitted:
            raise ValueError(f"warm_start: the settings describe a network of other layers than the fitted one "
                             f"({len(shapes)} weight arrays {shapes[:3]}... against {len(fitted)} "
                             f"{fitted[:3]}...); continue with the settings of the first fit, or set warm_start=False")
        return self.network_.to(device)

    def _check_warm_shape(self, name, value, fitted):
        """With warm start, the data's ``name`` (e.g. the target shape) must equal the first fit's."""
        if value != fitted:
            raise ValueError(f"warm_start: {name} is {value}, but the network was fitted with {fitted}; continue "
                             "with data of the same shape, or set warm_start=False")

    def _init_training(self, learning_rate_init, max_iter, batch_size, weight_decay,
                       validation_fraction, patience, random_state, device, progress):
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True     # y may be (n, k)
        tags.non_deterministic = False           # random_state fixes every draw
        return tags

    # -- training --------------------------------------------------------------------------------
    @keeps_state_on_failure
    def fit(self, X, y):
        """Train the network on features ``X`` and targets ``y``.

        Starts from new weights and new scalers, or, with ``warm_start`` on a fitted model, continues
        the fitted network with the first fit's scalers (see :func:`fit_network`). If it raises, the model
        is left as it was (fitted as before, or unfitted).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Features, converted to float64.
        y : array-like, shape (n_samples,) or (n_samples, k)
            Targets, converted to float64.

        Returns
        -------
        self : TorchRegressor
            The fitted estimator.

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If a training setting is invalid, if the samples are too few to hold out
            ``validation_fraction``, or if a warm start meets other target shapes or network layers.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        check_training_settings(self)
        warm = self._warm()
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True, reset=not warm)
        return self._fit_features(X, y, warm)

    def _fit_features(self, X, y, warm):
        """:meth:`fit` after its checks, on the network's inputs ``X`` (float64, ``(n, n_inputs)``) and the
        targets ``y`` (float64); ``warm`` as :meth:`_warm`. A subclass whose ``X`` is not the network's input
        table (:class:`mslearn.surrogates.NominalStressMLP`) checks its own data, calls this with its table,
        and sets ``n_features_in_`` to the columns of its ``X``."""
        y2 = y.reshape(len(y), -1)
        if warm:
            self._check_warm_shape("the shape of one target", y.shape[1:], tuple(self.output_shape_))
        else:
            self.output_shape_ = y.shape[1:]
            self.x_scaler_ = StandardScaler().fit(X)
            self.y_scaler_ = StandardScaler().fit(y2)

        return self._fit_scaled(self.x_scaler_.transform(X), self.y_scaler_.transform(y2), X.shape[1], y2.shape[1],
                                warm)

    def _fit_scaled(self, Xs, ys, n_features, n_targets, warm):
        """Fit ``network_`` (:meth:`_build_network` of ``n_features`` and ``n_targets``, continued when
        ``warm``) to the scaled targets ``ys`` of the scaled inputs ``Xs`` (arrays, the samples along the
        first axis) by mean squared error, with the validation split and the training loop of
        :func:`fit_network`, on ``cpu_threads``; returns ``self``. :meth:`fit` and the recurrent surrogate's share
        it."""
        device = resolve_device(self.device)
        with self._threads(device):
            return self._train_scaled(Xs, ys, n_features, n_targets, warm, device)

    def _threads(self, device):
        """:func:`mslearn._backend.cpu_threads` of the estimator's ``cpu_threads`` on ``device`` (``None``, torch's
        setting, for a subclass without the parameter)."""
        return cpu_threads(getattr(self, "cpu_threads", None), device)

    def _train_scaled(self, Xs, ys, n_features, n_targets, warm, device):
        train, validation, generator = split_train_validation(self, len(Xs))
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        Xs, ys = as_tensor(Xs), as_tensor(ys)
        train_t, validation_t = (torch.as_tensor(a, device=device) for a in (train, validation))
        with seeded(self.random_state, device):
            self.network_ = self._continued(self._build_network(n_features, n_targets), device)
        loss_fn = torch.nn.MSELoss()

        def train_loss(index):
            rows = train_t[torch.as_tensor(index, device=device)]
            return loss_fn(self.network_(Xs[rows]), ys[rows])

        def validation_loss():
            return loss_fn(self.network_(Xs[validation_t]), ys[validation_t]).item() if len(validation) else None

        fit_network(self, self.network_, len(train), train_loss, validation_loss, generator, resumed=warm)
        return self

    def predict(self, X):
        """Predicted targets, shaped as the training ``y``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Features, converted to float64.

        Returns
        -------
        ndarray of float64, shape (n_samples,) or (n_samples, k)
            As the training ``y``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "network_")
        return self._predict_features(validate_data(self, X, dtype=np.float64, reset=False))

    def _predict_features(self, X):
        """:meth:`predict` after its checks, on the network's inputs ``X`` (float64, ``(n, n_inputs)``)."""
        parameter = next(self.network_.parameters())
        with torch.no_grad(), self._threads(parameter.device):
            x = torch.as_tensor(self.x_scaler_.transform(X), dtype=parameter.dtype, device=parameter.device)
            y = self.network_(x).cpu().numpy().astype(np.float64)
        return self.y_scaler_.inverse_transform(y).reshape((len(y),) + tuple(self.output_shape_))

    def predict_tensor(self, X):
        """:meth:`predict` as a differentiable torch function: gradients flow back to ``X``.

        For design loops that differentiate through a trained surrogate (a material law in
        :func:`mslearn.optimization.topology_optimization`, a tandem network): the scalers are
        applied with torch operations and the network runs on its own device and dtype.

        Parameters
        ----------
        X : torch.Tensor, shape (n, n_features)

        Returns
        -------
        torch.Tensor
            Shape ``(n,)`` or ``(n, k)`` as the training ``y``, on ``X``'s device and in its dtype.
        """
        check_is_fitted(self, "network_")
        if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != self.n_features_in_:
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"X is {shape}; expected a torch tensor of shape (n, {self.n_features_in_})")
        return self._predict_features_tensor(X)

    def _predict_features_tensor(self, X):
        """:meth:`predict_tensor` after its checks, on the network's inputs ``X`` (a tensor ``(n, n_inputs)``)."""
        if not X.is_floating_point():       # the result takes X's dtype: integers would truncate it silently
            raise TypeError(f"X is a tensor of {X.dtype}; expected a floating-point tensor (float32 or float64)")
        parameter = next(self.network_.parameters())
        as_tensor = lambda a: torch.as_tensor(a, dtype=X.dtype, device=X.device)  # noqa: E731
        x = (X - as_tensor(self.x_scaler_.mean_)) / as_tensor(self.x_scaler_.scale_)
        y = self.network_(x.to(device=parameter.device, dtype=parameter.dtype)).to(device=X.device, dtype=X.dtype)
        y = y * as_tensor(self.y_scaler_.scale_) + as_tensor(self.y_scaler_.mean_)
        return y.reshape((len(y),) + tuple(self.output_shape_))
