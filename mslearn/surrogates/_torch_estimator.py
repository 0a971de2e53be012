"""A scikit-learn estimator over a torch network: scaling, seeding, early stopping, pickling.

scikit-learn's own ``MLPRegressor`` runs on the CPU in numpy and cannot host convolutional or graph
networks; skorch would add a dependency for the few dozen lines below. Every torch surrogate in
``mslearn.surrogates`` derives from :class:`TorchRegressor` and only says how to build its network.
"""
from __future__ import annotations

import copy
import io

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._backend import device as resolve_device

__all__ = ["TorchRegressor"]


class TorchRegressor(RegressorMixin, BaseEstimator):
    """Base class: subclasses implement ``_build_network(n_features, n_targets)``.

    Inputs and targets are standardized (zero mean, unit variance per column) before training, so
    the same learning rate works across problems; predictions are mapped back. Training is full-batch
    or mini-batch Adam on the mean squared error, with a validation split taken from the training data
    for early stopping: the weights of the epoch with the lowest validation loss are kept.

    Attributes (after ``fit``)
    --------------------------
    network_ : torch.nn.Module
    history_ : dict with lists ``"train"`` and ``"validation"`` (scaled MSE per epoch)
    best_epoch_ : int
    n_features_in_ : int
    """

    def _build_network(self, n_features, n_targets):  # pragma: no cover - abstract
        raise NotImplementedError

    def _init_training(self, learning_rate, max_epochs, batch_size, weight_decay,
                       validation_fraction, patience, seed, device, progress):
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.device = device
        self.progress = progress

    # -- input checks ---------------------------------------------------------------------------
    def _check_X(self, X, *, fitting=False):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            raise ValueError(
                f"X has shape {X.shape}; expected a 2D array (n_samples, n_features) — "
                "reshape a single feature with X.reshape(-1, 1)"
            )
        if X.ndim != 2:
            raise ValueError(f"X has shape {X.shape}; expected (n_samples, n_features)")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values; expected finite features")
        if not fitting and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_} features"
            )
        return X

    def _check_y(self, y, n_samples):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim not in (1, 2) or y.shape[0] != n_samples:
            raise ValueError(f"y has shape {y.shape}; expected ({n_samples},) or ({n_samples}, n_targets)")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinite values; expected finite targets")
        return y

    # -- training --------------------------------------------------------------------------------
    def fit(self, X, y):
        X = self._check_X(X, fitting=True)
        y = self._check_y(y, X.shape[0])
        self.n_features_in_ = X.shape[1]
        self._y_is_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        self.x_scaler_ = StandardScaler().fit(X)
        self.y_scaler_ = StandardScaler().fit(y2)

        device = resolve_device(self.device)
        torch.manual_seed(self.seed)
        generator = np.random.default_rng(self.seed)
        order = generator.permutation(len(X))
        n_validation = int(round(self.validation_fraction * len(X))) if self.validation_fraction else 0
        if n_validation and len(X) - n_validation < 2:
            raise ValueError(f"{len(X)} samples are too few to hold out a validation fraction of "
                             f"{self.validation_fraction}")
        validation, train = order[:n_validation], order[n_validation:]
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        Xs, ys = as_tensor(self.x_scaler_.transform(X)), as_tensor(self.y_scaler_.transform(y2))

        self.network_ = self._build_network(X.shape[1], y2.shape[1]).to(device)
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate,
                                     weight_decay=self.weight_decay)
        loss_fn = torch.nn.MSELoss()
        batch = len(train) if self.batch_size is None else min(self.batch_size, len(train))
        self.history_ = {"train": [], "validation": []}
        best, best_state, self.best_epoch_, waited = np.inf, None, 0, 0
        epochs = tqdm(range(self.max_epochs), disable=not self.progress, desc=type(self).__name__)
        for epoch in epochs:
            self.network_.train()
            permutation = torch.as_tensor(generator.permutation(train), device=device)
            total = 0.0
            for start in range(0, len(train), batch):
                index = permutation[start:start + batch]
                optimizer.zero_grad()
                loss = loss_fn(self.network_(Xs[index]), ys[index])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
            self.history_["train"].append(total / len(train))
            if n_validation:
                self.network_.eval()
                with torch.no_grad():
                    score = loss_fn(self.network_(Xs[validation]), ys[validation]).item()
                self.history_["validation"].append(score)
            else:
                score = self.history_["train"][-1]
            if score < best - 1e-12:
                best, best_state, self.best_epoch_, waited = score, copy.deepcopy(self.network_.state_dict()), epoch, 0
            else:
                waited += 1
                if self.patience is not None and waited >= self.patience:
                    break
        self.network_.load_state_dict(best_state)
        self.network_.eval()
        return self

    def predict(self, X):
        check_is_fitted(self, "network_")
        X = self._check_X(X)
        parameter = next(self.network_.parameters())
        with torch.no_grad():
            x = torch.as_tensor(self.x_scaler_.transform(X), dtype=parameter.dtype, device=parameter.device)
            y = self.network_(x).cpu().numpy().astype(np.float64)
        y = self.y_scaler_.inverse_transform(y)
        return y[:, 0] if self._y_is_1d else y

    # -- pickling: store the network's weights on the CPU so a GPU-trained model loads anywhere ---
    def __getstate__(self):
        state = self.__dict__.copy()
        if "network_" in state:
            buffer = io.BytesIO()
            torch.save(state["network_"].to("cpu"), buffer)
            state["network_"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("network_"), bytes):
            network = torch.load(io.BytesIO(state["network_"]), weights_only=False, map_location="cpu")
            state["network_"] = network.eval()
        self.__dict__.update(state)
