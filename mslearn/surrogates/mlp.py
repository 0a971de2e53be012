"""Fully connected network regressor (multilayer perceptron) on torch."""
from __future__ import annotations

import torch

from ._torch_estimator import TorchRegressor

__all__ = ["MLPRegressor"]

_ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "silu": torch.nn.SiLU, "gelu": torch.nn.GELU}


class MLPRegressor(TorchRegressor):
    """Multilayer perceptron regressor with scikit-learn's ``fit``/``predict``/``score``.

    Parameters
    ----------
    hidden_layers : tuple of int
        Width of each hidden layer.
    activation : {"silu", "relu", "tanh", "gelu"}
        A smooth activation (``silu``, ``tanh``) suits regression of smooth physical responses.
    learning_rate, max_epochs, batch_size, weight_decay
        Adam settings; ``batch_size=None`` trains full-batch; ``weight_decay`` is L2 regularization.
    validation_fraction, patience
        Fraction of the training data held out for early stopping, and the number of epochs without
        improvement after which training stops (``None``: never stop early).
    seed : int
        Seeds the weight initialization, the validation split and the batch order.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    progress : bool
        Show a tqdm progress bar over epochs.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates import MLPRegressor
    >>> X = np.linspace(0, 1, 200).reshape(-1, 1)
    >>> model = MLPRegressor(hidden_layers=(32,), max_epochs=300, seed=0, device="cpu").fit(X, X[:, 0] ** 2)
    >>> bool(model.score(X, X[:, 0] ** 2) > 0.99)
    True
    """

    def __init__(self, hidden_layers=(64, 64), activation="silu", *, learning_rate=1e-2, max_epochs=1000,
                 batch_size=None, weight_decay=0.0, validation_fraction=0.15, patience=50, seed=0,
                 device="auto", progress=False):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self._init_training(learning_rate, max_epochs, batch_size, weight_decay, validation_fraction,
                            patience, seed, device, progress)

    def _build_network(self, n_features, n_targets):
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not one of {sorted(_ACTIVATIONS)}")
        layers, width = [], n_features
        for hidden in self.hidden_layers:
            layers += [torch.nn.Linear(width, hidden), _ACTIVATIONS[self.activation]()]
            width = hidden
        layers.append(torch.nn.Linear(width, n_targets))
        return torch.nn.Sequential(*layers)
