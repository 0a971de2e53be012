"""Fully connected network regressor (multilayer perceptron) on torch."""
from __future__ import annotations

import numbers

import numpy as np
import torch

from ..nn import activation as activation_class
from ._torch_estimator import TorchRegressor

__all__ = ["MLPRegressor"]


class MLPRegressor(TorchRegressor):
    """Multilayer perceptron regressor with scikit-learn's ``fit``/``predict``/``score``.

    The parameter names are those of :class:`sklearn.neural_network.MLPRegressor` where the meaning
    is the same (``hidden_layer_sizes``, ``activation``, ``learning_rate_init``, ``max_iter``,
    ``batch_size``, ``validation_fraction``, ``random_state``); training is Adam in torch, on a GPU
    when there is one.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, or int
        Width of each hidden layer (an int: one hidden layer, as in scikit-learn).
    activation : {"silu", "relu", "tanh", "gelu"}
        A smooth activation (``silu``, ``tanh``) suits regression of smooth physical responses.
    learning_rate_init, max_iter, batch_size, weight_decay
        Adam's learning rate, the number of epochs, the mini-batch size (``None``: full batch) and
        the L2 regularization (``weight_decay``).
    validation_fraction, patience
        Fraction of the training data held out for early stopping, and the number of epochs without
        improvement after which training stops (``None``: never stop early).
    random_state : int
        Seeds the weight initialization, the validation split and the batch order (torch's global
        random state is left unchanged).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    cpu_threads : int, optional
        Torch CPU threads during ``fit``/``predict`` (restored afterwards); ``None`` keeps torch's
        setting. ``1`` is often faster for small networks on shared or busy cores.
    progress : bool
        Show a tqdm progress bar over epochs.
    warm_start : bool
        scikit-learn's meaning: when ``True`` and the model is fitted, ``fit`` continues training the
        fitted network instead of a new one: more epochs after an interrupted or too short fit, or
        fine-tuning on new data (transfer learning). The input encoding and the scaling of the first fit
        are kept (the weights are tuned to them); the new data must have the shapes the network was built
        for, and the settings must still describe it, else ``fit`` raises. A continuation that fails
        (an error, a non-finite loss in its first epoch) leaves the model as it was; an interrupted fit
        (``KeyboardInterrupt``) keeps its best epoch so far, from which a warm start goes on.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates import MLPRegressor
    >>> X = np.linspace(0, 1, 200).reshape(-1, 1)
    >>> model = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0, device="cpu").fit(X, X[:, 0] ** 2)
    >>> bool(model.score(X, X[:, 0] ** 2) > 0.99)
    True
    """

    def __init__(self, hidden_layer_sizes=(64, 64), activation="silu", *, learning_rate_init=1e-2, max_iter=1000,
                 batch_size=None, weight_decay=0.0, validation_fraction=0.15, patience=50, random_state=0,
                 device="auto", cpu_threads=None, progress=False, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.cpu_threads = cpu_threads
        self.warm_start = warm_start
        self._init_training(learning_rate_init, max_iter, batch_size, weight_decay, validation_fraction,
                            patience, random_state, device, progress)

    def _build_network(self, n_features, n_targets):
        act = activation_class(self.activation)
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)                                    # one hidden layer, as scikit-learn reads an int
        if not isinstance(sizes, (tuple, list, np.ndarray)) or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes = {self.hidden_layer_sizes!r}; expected a tuple of integers >= 1")
        layers, width = [], n_features
        for hidden in sizes:
            layers += [torch.nn.Linear(width, hidden), act()]
            width = hidden
        layers.append(torch.nn.Linear(width, n_targets))
        return torch.nn.Sequential(*layers)
