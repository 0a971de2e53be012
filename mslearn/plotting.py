"""Figures every chapter uses: parity and residual plots, training histories, microstructures.

Thin wrappers over matplotlib that return the Axes they drew on, so a notebook can restyle them.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch

from ._validation import check_flag, check_integer, check_labels

__all__ = ["parity", "residuals", "training_history", "show_structure"]


def _axes(ax):
    return plt.subplots(figsize=(4, 4))[1] if ax is None else ax


def _paired(y_true, y_pred):
    """``y_true`` and ``y_pred`` flattened, checked to be one finite prediction per true value: the same
    shape (``(n,)`` and ``(n, 1)`` pair too; a transposed table would pair the wrong values)."""
    shapes = np.shape(y_true), np.shape(y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        dtype = np.asarray(values).dtype
        if dtype.kind == "c":                         # a float cast would drop the imaginary part
            raise TypeError(f"{name} has the complex dtype {dtype}; expected real numbers")
        if dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {dtype}; expected real numbers")
    y_true, y_pred = np.ravel(y_true).astype(float), np.ravel(y_pred).astype(float)
    same = shapes[0] == shapes[1] or {shapes[0], shapes[1]} == {(y_true.size,), (y_true.size, 1)}
    if y_true.size != y_pred.size or not same:
        raise ValueError(f"y_true has shape {shapes[0]} and y_pred {shapes[1]}; expected one prediction per true "
                         "value, in the same shape")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty; expected at least one prediction to plot")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} contains NaN or an infinite value; expected finite values to plot")
    return y_true, y_pred


def parity(y_true, y_pred, *, ax=None, label=None, units="", **scatter):
    """Predicted against true values with the identity line; R² (of two values or more) and MAE in the legend.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted values, one prediction per true value (same shape; flattened, finite, real,
        at least one).
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new 4×4 inch figure).
    label : str, optional
        Prefix of the legend entry (e.g. the model's name), for several models on one axes.
    units : str
        Appended to the axis labels.
    **scatter
        Passed to ``ax.scatter`` (``s`` 12 and ``alpha`` 0.6 unless given).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    The legend reports R² = 1 - 0.1 / 5 and the mean absolute error of the four predictions:

    >>> import matplotlib.pyplot as plt
    >>> ax = parity([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8], label="MLP", units="W/mK")
    >>> ax.get_legend().get_texts()[0].get_text(), ax.get_xlabel()
    ('MLP: R² = 0.980, MAE = 0.15', 'true W/mK')
    >>> plt.close(ax.figure)
    """
    from sklearn.metrics import mean_absolute_error, r2_score

    y_true, y_pred = _paired(y_true, y_pred)
    ax = _axes(ax)
    text = f"MAE = {mean_absolute_error(y_true, y_pred):.3g}"
    if len(y_true) > 1:                               # of one value R² is undefined (scikit-learn: NaN and a warning)
        text = f"R² = {r2_score(y_true, y_pred):.3f}, {text}"
    ax.scatter(y_true, y_pred, s=scatter.pop("s", 12), alpha=scatter.pop("alpha", 0.6),
               label=f"{label}: {text}" if label else text, **scatter)
    low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set_xlabel(f"true {units}".strip())
    ax.set_ylabel(f"predicted {units}".strip())
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def residuals(y_true, y_pred, *, ax=None, units=""):
    """Residuals (predicted − true) against the true value, with ±2 standard deviations.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted values, one prediction per true value (same shape; flattened, finite, real,
        at least one).
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new 4×4 inch figure).
    units : str
        Appended to the x-axis label.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    The dotted lines lie at twice the standard deviation of the residuals (0.1, -0.1, 0.2, -0.2):

    >>> import matplotlib.pyplot as plt
    >>> ax = residuals([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8])
    >>> [round(float(line.get_ydata()[0]), 4) for line in ax.get_lines()]
    [0.0, -0.3162, 0.3162]
    >>> plt.close(ax.figure)
    """
    y_true, y_pred = _paired(y_true, y_pred)
    error = y_pred - y_true
    ax = _axes(ax)
    ax.scatter(y_true, error, s=12, alpha=0.6)
    ax.axhline(0, color="k", lw=1)
    for sign in (-2, 2):
        ax.axhline(sign * error.std(), color="k", lw=1, ls=":")
    ax.set_xlabel(f"true {units}".strip())
    ax.set_ylabel("predicted − true")
    return ax


def training_history(history, *, ax=None, best_epoch=None, log=True):
    """Training and validation loss per epoch (a dict of lists, as ``TorchRegressor.history_``).

    Parameters
    ----------
    history : dict of lists
        One curve per key (empty lists are skipped), e.g. ``{"train": [...], "validation": [...]}``.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new 4×4 inch figure).
    best_epoch : int, optional
        The 0-based epoch whose weights were kept (``TorchRegressor.best_epoch_``), marked by a line; one
        of the epochs of the longest curve.
    log : bool, default True
        Logarithmic loss axis (the losses must then be > 0; ``log=False`` draws any).

    Raises
    ------
    TypeError
        If ``history`` is not a dict of sequences of numbers, or ``best_epoch`` not an integer.
    ValueError
        If ``best_epoch`` is not an epoch of the history, or, with ``log``, a loss is <= 0.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> ax = training_history({"train": [1.0, 0.1, 0.01], "validation": [1.2, 0.2, 0.05]}, best_epoch=2)
    >>> [text.get_text() for text in ax.get_legend().get_texts()], ax.get_yscale()
    (['train', 'validation', 'kept weights'], 'log')
    >>> plt.close(ax.figure)
    """
    log = check_flag(log, name="log")
    if not isinstance(history, Mapping):
        raise TypeError(f"history is a {type(history).__name__}; expected a dict of per-epoch losses, e.g. "
                        "{'train': [...], 'validation': [...]} (TorchRegressor.history_)")
    curves = {}
    for name, values in history.items():
        try:
            curve = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            curve = np.empty((0, 0))
        if curve.ndim != 1:
            raise TypeError(f"history[{name!r}] is {values!r}; expected a sequence of losses, one per epoch")
        if log and (curve <= 0).any():
            raise ValueError(f"history[{name!r}] holds the loss {curve[curve <= 0][0]:g}, which a logarithmic axis "
                             "cannot show; expected losses > 0, or pass log=False")
        curves[name] = curve
    if best_epoch is not None:
        epochs = max(map(len, curves.values()), default=0)
        if check_integer(best_epoch, 0, name="best_epoch") >= epochs:
            raise ValueError(f"best_epoch = {best_epoch} is not an epoch of the history ({epochs} epochs); "
                             + (f"expected a 0-based epoch 0 .. {epochs - 1}" if epochs else "expected None"))
    ax = _axes(ax)
    for name, values in curves.items():
        if len(values):
            ax.plot(np.arange(1, len(values) + 1), values, label=name)
    if best_epoch is not None:
        ax.axvline(best_epoch + 1, color="k", ls=":", lw=1, label="kept weights")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (scaled MSE)")
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax


def show_structure(labels, *, ax=None, title=None, cmap="viridis"):
    """A 2D phase-label image (or the middle slice of a 3D one) with a discrete colormap.

    ``labels`` holds phase labels 0, 1, ...: integers, booleans (the mask is phase 1), or floats whose
    values are all integers (an image read as float). A continuous field (a density, a probability, a
    grey-scale image) is refused with ``ValueError``, as are NaN and negative labels: draw it with
    matplotlib's ``imshow`` instead, e.g. ``ax.imshow(field, cmap="gray_r", vmin=0, vmax=1)``.

    Parameters
    ----------
    labels : array_like or torch.Tensor, ``(H, W)`` or ``(D, H, W)``
        Phase labels.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    title : str, optional
        The axes' title.
    cmap : str
        A matplotlib colormap, one colour per label (up to 256 labels; beyond, labels share colours).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.plotting import show_structure
    >>> show_structure(np.full((4, 4), 0.5))
    Traceback (most recent call last):
    ...
    ValueError: labels has non-integer values (dtype float64); expected integer phase labels 0, 1, ... ...
    """
    labels = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if labels.ndim not in (2, 3):
        raise ValueError(f"labels has shape {labels.shape}; expected a 2D image or a 3D volume of phase labels")
    try:
        check_labels(labels, name="labels")
    except ValueError as error:
        if not np.issubdtype(labels.dtype, np.floating):
            raise
        raise ValueError(f"{error}; show_structure draws phase labels: for a continuous field (a density, a "
                         "probability, a grey-scale image) use matplotlib's imshow, e.g. "
                         "ax.imshow(field, cmap='gray_r')") from None
    if np.issubdtype(labels.dtype, np.floating):
        labels = labels.astype(np.int64)                    # integer-valued: the labels they stand for
    if labels.ndim == 3:
        labels = labels[labels.shape[0] // 2]
    ax = _axes(ax)
    n = max(int(labels.max()) + 1, 2)
    # one colour per label up to 256 (a colormap's usual table); beyond, such as the ids of many grains, the
    # labels share colours (a table per label of an id 10**9 would take gigabytes)
    ax.imshow(labels, cmap=plt.get_cmap(cmap, min(n, 256)), vmin=-0.5, vmax=n - 0.5, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
