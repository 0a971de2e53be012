r"""Tandem inverse design: an inverse network trained through a frozen forward network.

The inverse problem — a target property :math:`\mathbf y^\star` in, a design :math:`\mathbf z` out —
is not a function when several designs give the same property. A network regressed directly on the
pairs :math:`(\mathbf y_i, \mathbf z_i)` of a dataset (the *direct* or naive inverse,
:class:`DirectInverseDesign`) is trained to return the mean of the designs that share a property,
and that mean need not give the property at all. The tandem network (Liu, Tan, Khoram & Yu 2018;
Kumar, Tan, Zheng & Kochmann 2020) avoids the question: it judges a proposed design by what it
*does*, not by which training design it resembles.

1. A forward network :math:`f_\phi:\mathbf z\mapsto\mathbf y` is fitted to the data (an
   :class:`mslearn.surrogates.MLPRegressor`, attribute ``forward_``).
2. It is frozen, and an inverse network :math:`g_\psi:\mathbf y\mapsto\mathbf z` is trained on the
   targets alone to minimize the *round-trip* error
   :math:`\lVert f_\phi(g_\psi(\mathbf y)) - \mathbf y\rVert^2` (standardized properties). Any design
   that gives the target is a perfect answer; the network picks one branch and stays on it.

Feasible designs, by construction
---------------------------------
* **Bounds**: the inverse network's outputs pass through a sigmoid mapped onto the box of each
  design variable (``design_bounds``; default the range of the training designs): no design leaves
  the box, so none lands where the forward network would extrapolate.
* **Semicontinuous variables** (``semicontinuous={column: minimum}``): a variable that is either 0
  (off) or at least ``minimum`` — the spinodoid's cone angles, 0 or 15°–90°, of which the data hold
  nothing in between (:func:`mslearn.datasets.spinodoid_metamaterials`). The network's continuous output
  :math:`u\in[0, \text{high}]` is snapped to 0 below ``minimum / 2``, to ``minimum`` between
  ``minimum / 2`` and ``minimum``, and kept above (the rule of Kumar et al.'s code). Unlike their
  code, which snapped only after training, the snap is applied in training too, with a
  straight-through gradient (the forward network sees the snapped design; the gradient passes as
  if the snap were the identity), so that the network learns designs that still work once snapped.
  When no training design has all its semicontinuous variables off (a spinodoid needs at least one
  cone), a proposal whose variables all snap to 0 gets the largest one switched on at ``minimum``.
  The forward network itself is trained on the data as they are (0 or ≥ 15°), and is only ever
  asked about such designs by :meth:`TandemInverseDesign.predict`.

Honest reporting
----------------
* A target outside the range of the training properties (any component below its minimum or above
  its maximum) raises an :class:`ExtrapolationWarning`: the proposed design is then an
  extrapolation of both networks. A target inside that box can still be unachievable (the
  components are strongly correlated); :func:`inverse_design_scores` and
  :meth:`TandemInverseDesign.forward_predict` show by how much the proposal misses it.
* The round trip is judged by the forward network, the surrogate's promise. The solver's verdict
  needs the structure: :func:`mslearn.datasets.spinodoid_stiffness` generates and homogenizes
  spinodoids with the package's own FFT solver.

Numbers on the spinodoid data
-----------------------------
:func:`mslearn.datasets.spinodoid_metamaterials`, ``ds.split((0.9, 0, 0.1), seed=0)``: 19,170
designs for training, 2,130 held out; the defaults, ``random_state=0``, one CPU thread:

==========================  ==========================  ==========================
held-out                    tandem                      direct inverse
==========================  ==========================  ==========================
forward R² (per component)  0.9958–0.9968               (the tandem's forward net)
round-trip R²               0.9992–0.9997               0.9972–0.9981
design R²: volume fraction  0.998                       0.997
design R²: cone angles      0.66–0.67                   0.785–0.807
relative error, median      1.4 %                       2.8 %
relative error, 95th pct.   6.5 %                       9.3 %
training time               19 s (forward + inverse)    9.5 s
==========================  ==========================  ==========================

The forward R² is capped by the scatter of the random realizations (its training R² is the same);
the forward network stopped early after 48 epochs, the inverse ran its 100. The tandem's proposals
are closer to the target than the direct inverse's for 84 % of the held-out targets although — or
because — they resemble the data's designs less (lower design R²). A reduced run (3,000 designs,
``max_iter=60``, about 3 s) reaches a forward R² of 0.997 and a round-trip R² of 0.9965–0.9986.

Checked by the package's solver (:func:`mslearn.datasets.spinodoid_stiffness`, 32³ voxels, about
1.2 s per design on one core) for ten held-out targets (the ``split((0.9, 0, 0.1), seed=0)`` test
rows, ten drawn by ``default_rng(0)``): the stiffness of the proposed design differs from that of
the data's own design for the same target by 3.4 % (median), within the solver's scatter between
two random realizations of one design (5 %). Against the finite-element data themselves the data's
designs are 16 % off (median; most at low volume fractions): voxels and exact
periodicity model the spinodoid differently, so a forward network for solver-verified design should
be trained on solver data.

References
----------
- D. Liu, Y. Tan, E. Khoram, Z. Yu, "Training deep neural networks for the inverse design of
  nanophotonic structures", ACS Photonics 5, 1365 (2018).
- S. Kumar, S. Tan, L. Zheng, D. M. Kochmann, "Inverse-designed spinodoid metamaterials", npj
  Comput. Mater. 6, 73 (2020), doi:10.1038/s41524-020-0341-6.
"""
from __future__ import annotations

import copy
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted, check_X_y

from .._backend import cpu_threads
from .._backend import device as resolve_device
from .._validation import check_finite, check_flag, check_integer, check_same_settings, check_sample_weight
from ..nn import integer_seed, seeded
from ..surrogates import MLPRegressor
from ..surrogates._torch_estimator import (NetworkPickling, check_training_settings, fit_network,
                                          keeps_state_on_failure, split_train_validation)

__all__ = ["TandemInverseDesign", "DirectInverseDesign", "InverseDesignScores", "inverse_design_scores",
           "ExtrapolationWarning"]


def _mapping(value, name, entry):
    """A per-column setting: None or a dict {column name or index: entry} (a list would be read as pairs)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} is a {type(value).__name__}; expected None or a dict {{column name or index: "
                        f"{entry}}}, e.g. {{0: ...}}")
    return value


class ExtrapolationWarning(UserWarning):
    """A target (or a design) lies outside the range of the training data: the answer is an extrapolation."""


# ----------------------------------------------------------------------------- the design space
def _as_table(values, name, one_column=False):
    """Column names (or None) and a float64 2D array, with clear errors for NaN and wrong shapes. With
    ``one_column``, a 1D array is one column (a single property, given as scikit-learn's ``y`` may be)."""
    names = [str(c) for c in values.columns] if hasattr(values, "columns") else None
    raw = values.to_numpy() if hasattr(values, "to_numpy") else values
    if np.iscomplexobj(raw):            # a float cast would drop the imaginary part with only a warning
        raise TypeError(f"{name} has the complex dtype {np.asarray(raw).dtype}; expected real numbers")
    array = np.asarray(raw, dtype=np.float64)
    if one_column and array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} has shape {array.shape}; expected a 2D array (n_samples, n_columns) — "
                         "reshape one sample with .reshape(1, -1)")
    if len(array) == 0:
        raise ValueError(f"{name} has shape {array.shape}: no rows; expected at least one sample")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers")
    return names, array


def _pairs(designs, properties, model=None):
    """Held-out (designs, properties) as float64 tables of matching rows, at least 2 (an R² needs two); with a
    fitted ``model``, designs of its columns."""
    designs = _as_table(designs, "designs")[1] if model is None else model._check_designs(designs)
    _, properties = _as_table(properties, "properties", one_column=True)
    if len(designs) != len(properties) or len(designs) < 2:
        raise ValueError(f"designs ({len(designs)} rows) and properties ({len(properties)} rows) must be "
                         "matching pairs, at least 2")
    return designs, properties


def _pair_weights(sample_weight, n):
    """The weights of ``n`` held-out pairs for an R² (two of them positive at least)."""
    return check_sample_weight(sample_weight, n, unit="pair", least=2, reason="(an R² needs two pairs)")


class _DesignSpace:
    """Bounds and semicontinuous variables of the designs, shared by the tandem and direct inverses."""

    def _column(self, key, names, n, what):
        if isinstance(key, str):
            if names is None or key not in names:
                raise ValueError(f"{what} names the column {key!r}, but the designs have "
                                 f"{'no column names' if names is None else 'the columns ' + str(names)}")
            return names.index(key)
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or not -n <= key < n:
            raise ValueError(f"{what} has the key {key!r}; expected a column name or an index in [0, {n})")
        return int(key) % n

    def _fit_design_space(self, designs, names):
        n = designs.shape[1]
        bounds = np.stack([designs.min(0), designs.max(0)], axis=1)
        for key, value in _mapping(self.design_bounds, "design_bounds", "(low, high)").items():
            column = self._column(key, names, n, "design_bounds")
            try:
                low, high = (float(v) for v in value)
                valid = np.isfinite(low) and np.isfinite(high) and low < high
            except (TypeError, ValueError):         # not a pair of numbers: (0, 1, 2), 0.5, ("a", "b")
                valid = False
            if not valid:
                raise ValueError(f"design_bounds[{key!r}] = {value!r}; expected (low, high) with low < high")
            bounds[column] = low, high
        flat = bounds[:, 1] <= bounds[:, 0]
        if flat.any():
            raise ValueError(f"design columns {np.flatnonzero(flat).tolist()} are constant in the training data; "
                             "give them a range with design_bounds or drop them")
        semi = {}
        for key, value in _mapping(self.semicontinuous, "semicontinuous", "its smallest non-zero value").items():
            column = self._column(key, names, n, "semicontinuous")
            minimum = float(value)
            low, high = bounds[column]
            if not (np.isfinite(minimum) and 0 < minimum < high):
                raise ValueError(f"semicontinuous[{key!r}] = {value!r}; expected a smallest non-zero value in "
                                 f"(0, {high:g}) (the column's upper bound)")
            if low > 0:
                raise ValueError(f"semicontinuous column {key!r} has the lower bound {low:g}; a semicontinuous "
                                 "variable is 0 (off) or >= its minimum, so its lower bound must be 0")
            gap = (designs[:, column] > 0) & (designs[:, column] < minimum)
            if gap.any():
                raise ValueError(f"{int(gap.sum())} training designs have column {key!r} strictly between 0 and "
                                 f"its minimum {minimum:g}; they contradict semicontinuous={{{key!r}: {minimum:g}}}")
            bounds[column, 0] = 0.0
            semi[column] = minimum
        self.design_bounds_ = bounds
        self.semicontinuous_ = dict(sorted(semi.items()))
        columns = list(self.semicontinuous_)
        self.at_least_one_on_ = bool(columns) and not np.any(np.all(designs[:, columns] == 0, axis=1))

    def _snap(self, z):
        """Feasible designs from box-valued ones (torch ``(n, p)``): semicontinuous snap, one kept on."""
        if not self.semicontinuous_:
            return z
        columns = list(self.semicontinuous_)
        minimum = torch.as_tensor([self.semicontinuous_[c] for c in columns], dtype=z.dtype, device=z.device)
        raw = z[:, columns]
        snapped = torch.where(raw < minimum / 2, torch.zeros_like(raw), torch.maximum(raw, minimum))
        if self.at_least_one_on_:
            all_off = (snapped == 0).all(dim=1, keepdim=True)
            largest = torch.nn.functional.one_hot((raw / minimum).argmax(dim=1), len(columns)).bool()
            snapped = torch.where(all_off & largest, minimum.expand_as(raw), snapped)
        out = z.clone()
        out[:, columns] = snapped
        return out

    def _feasible(self, z):
        """Clip a numpy design array to the box, then snap."""
        z = np.clip(z, self.design_bounds_[:, 0], self.design_bounds_[:, 1])
        return self._snap(torch.as_tensor(z)).numpy()

    def _check_designs(self, designs):
        check_is_fitted(self, "design_bounds_")
        _, values = _as_table(designs, "designs")
        if values.shape[1] != self.n_features_in_:
            raise ValueError(f"designs has {values.shape[1]} columns; expected {self.n_features_in_} (the design "
                             "variables the model was fitted on)")
        return values

    def _check_properties(self, properties, name="properties"):
        check_is_fitted(self, "design_bounds_")
        _, values = _as_table(properties, name, one_column=self.n_properties_ == 1)
        if values.shape[1] != self.n_properties_:
            raise ValueError(f"{name} has {values.shape[1]} columns; expected {self.n_properties_} (the properties "
                             "the model was fitted on)")
        return values

    def _warn_targets(self, values):
        low, high = self.property_range_[:, 0], self.property_range_[:, 1]
        outside = (values < low) | (values > high)
        if outside.any():
            rows = np.flatnonzero(outside.any(axis=1))
            columns = np.flatnonzero(outside.any(axis=0)).tolist()
            warnings.warn(f"{len(rows)} of {len(values)} targets lie outside the range of the training properties "
                          f"(columns {columns}; first: row {rows[0]}): their designs are extrapolations, check them "
                          "with the forward model and the solver", ExtrapolationWarning, stacklevel=3)

    def _space_settings(self, designs, properties, names):
        """What a warm start must find as the first fit left it: the columns, and the settings that place the
        designs in their box (the inverse's outputs are mapped onto the first fit's bounds)."""
        def text(value):
            try:
                return repr({key: np.asarray(entry, dtype=float).tolist() for key, entry in value.items()})
            except (AttributeError, TypeError, ValueError):
                return repr(value)
        return {"design columns": designs.shape[1], "property columns": properties.shape[1],
                "design column names": names, "semicontinuous": text(self.semicontinuous),
                "design_bounds": text(self.design_bounds)}

    def _start_space(self, designs, properties, names, warm):
        """A cold fit fits the design space and the ranges; a warm one checks that the data and the design
        settings are those of the first fit (the design space is kept)."""
        settings = self._space_settings(designs, properties, names)
        if warm:
            check_same_settings(self._fit_settings, settings,
                                problem="warm_start: the data or the design space differ from those of the first fit",
                                remedy="continue with designs and properties of the same columns, and the same "
                                       "semicontinuous and design_bounds, or set warm_start=False")
        else:
            self._fit_design_space(designs, names)
            self._record_training_ranges(designs, properties, names)
            self._fit_settings = settings

    def _widen_ranges(self, properties):
        """After a successful warm start: the property range covers the new targets too (trained on)."""
        self.property_range_ = np.stack([np.minimum(self.property_range_[:, 0], properties.min(0)),
                                         np.maximum(self.property_range_[:, 1], properties.max(0))], axis=1)

    def _record_training_ranges(self, designs, properties, names):
        self.n_features_in_ = designs.shape[1]
        self.n_properties_ = properties.shape[1]
        self.property_range_ = np.stack([properties.min(0), properties.max(0)], axis=1)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):     # refitted on an array: forget the old names
            del self.feature_names_in_


def _check_fit_data(designs, properties):
    design_names, designs = _as_table(designs, "designs")
    _, properties = _as_table(properties, "properties", one_column=True)
    check_X_y(designs, properties, multi_output=True, y_numeric=True)
    if len(designs) < 10:
        raise ValueError(f"{len(designs)} designs are too few to train and validate on; expected at least 10")
    return design_names, designs, properties


def _mlp(estimator, hidden_layer_sizes, max_iter, fitted=None):
    """An MLPRegressor with the estimator's training settings; with ``fitted`` (a fitted MLPRegressor), that one,
    set to these settings and to continue its network (warm start)."""
    if fitted is not None:
        params = _mlp(estimator, hidden_layer_sizes, max_iter).get_params()
        return fitted.set_params(**{**params, "warm_start": True})
    return MLPRegressor(hidden_layer_sizes, estimator.activation, learning_rate_init=estimator.learning_rate_init,
                        max_iter=max_iter, batch_size=estimator.batch_size, weight_decay=estimator.weight_decay,
                        validation_fraction=estimator.validation_fraction, patience=estimator.patience,
                        random_state=estimator.random_state, device=estimator.device,
                        cpu_threads=estimator.cpu_threads, progress=estimator.progress)


def _trainable(network, flag):
    for parameter in network.parameters():
        parameter.requires_grad_(flag)


# ----------------------------------------------------------------------------- the tandem
class TandemInverseDesign(NetworkPickling, _DesignSpace, BaseEstimator):
    r"""Tandem inverse design: a forward network, then an inverse network trained through it, frozen.

    ``fit(designs, properties)`` trains the forward network :math:`f` (designs → properties, an
    :class:`mslearn.surrogates.MLPRegressor` in ``forward_``) on the pairs, freezes it, and trains the
    inverse network :math:`g` (properties → designs, ``network_``) on the properties alone to minimize
    :math:`\lVert f(g(\mathbf y)) - \mathbf y\rVert^2`; ``predict(properties)`` proposes designs,
    always inside the feasible set (see the module's notes: bounds by a sigmoid, semicontinuous
    variables snapped with a straight-through gradient). Both networks share the training settings
    and the validation split (early stopping keeps the best epoch: for the inverse, the one with the
    smallest round-trip error on the validation targets).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Hidden layers of the inverse network.
    forward_hidden_layer_sizes : tuple of int
        Hidden layers of the forward network.
    activation : {"silu", "relu", "tanh", "gelu"}
        Of both networks.
    semicontinuous : dict, optional
        ``{column: minimum}``: design variables that are either 0 or at least ``minimum`` (columns by
        index, or by name when the designs are a DataFrame). Spinodoids:
        ``{"theta_x": 15, "theta_y": 15, "theta_z": 15}`` (``ds.metadata["semicontinuous"]`` of
        :func:`mslearn.datasets.spinodoid_metamaterials`).
    design_bounds : dict, optional
        ``{column: (low, high)}`` overriding the default bounds, the range of the training designs.
    learning_rate_init, batch_size, weight_decay, validation_fraction, patience
        Adam's learning rate, the mini-batch size, the L2 penalty, the fraction of the data held out
        for early stopping and the epochs without improvement before stopping (``None``: never), as
        in :class:`mslearn.surrogates.MLPRegressor`; for both networks.
    max_iter : int
        Epochs of the inverse network.
    forward_max_iter : int
        Epochs of the forward network.
    random_state : int
        Seeds both networks' weights, the validation split and the batch order.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    cpu_threads : int, optional
        Torch CPU threads while training and predicting (restored afterwards; ``None`` keeps torch's
        setting). Default 1: these networks are small, and a second thread only waits — on two shared
        cores the default fit took 20 s with one thread and 175 s with two.
    progress : bool
        Progress bars over the epochs.
    warm_start : bool
        scikit-learn's meaning: when ``True`` and the model is fitted, ``fit`` continues both networks,
        stage by stage as a first fit trains them: the fitted forward network trains ``forward_max_iter``
        more epochs (``forward_max_iter=0``: it is kept as it is), is frozen again, and the fitted inverse
        network trains ``max_iter`` more epochs through it. More epochs after a too short fit, or
        fine-tuning on new data: the design space (bounds, semicontinuous variables) and the scalings
        of the first fit are kept, the property range widens to the new targets; data of other
        columns, other ``semicontinuous`` or ``design_bounds``, or settings that describe other layers
        raise. The continued fit is not the longer fit run at once (Adam's moments and the early
        stopping start anew, as in :class:`mslearn.surrogates.MLPRegressor`). A continuation that fails
        (an error, a non-finite loss) leaves the model as it was.

    Attributes
    ----------
    forward_ : MLPRegressor
        The fitted forward network (its ``history_``, ``n_iter_``, ``score``...).
    network_ : torch.nn.Module
        The inverse network (standardized properties → unbounded outputs; see :meth:`predict`).
    history_, best_epoch_, n_iter_
        The inverse network's training: ``history_["train"]`` and ``["validation"]`` are the
        round-trip MSE of standardized properties per epoch.
    design_bounds_ : ndarray ``(n_features_in_, 2)``
    semicontinuous_ : dict of int to float
    at_least_one_on_ : bool
        Whether a proposal keeps one semicontinuous variable on (no training design had them all off).
    property_range_ : ndarray ``(n_properties_, 2)``
        The training properties' range; targets outside it raise an :class:`ExtrapolationWarning`.
    n_features_in_, n_properties_ : int
        Design and property columns.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.optimization import TandemInverseDesign
    >>> z = np.random.default_rng(0).uniform(0, 1, (500, 2))
    >>> y = np.column_stack([z.sum(1), z[:, 0] - z[:, 1]])        # a unique inverse
    >>> model = TandemInverseDesign((32, 32), (32, 32), max_iter=100, forward_max_iter=200,
    ...                             batch_size=100, random_state=0, device="cpu").fit(z, y)
    >>> y_target = np.array([[1.0, 0.2]])
    >>> bool(np.abs(model.forward_predict(model.predict(y_target)) - y_target).max() < 0.05)
    True
    """

    def __init__(self, hidden_layer_sizes=(128, 128, 128), forward_hidden_layer_sizes=(128, 128, 64),
                 activation="silu", *, semicontinuous=None, design_bounds=None, learning_rate_init=3e-3,
                 max_iter=100, forward_max_iter=100, batch_size=256, weight_decay=0.0, validation_fraction=0.1,
                 patience=20, random_state=0, device="auto", cpu_threads=1, progress=False, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.forward_hidden_layer_sizes = forward_hidden_layer_sizes
        self.warm_start = warm_start
        self.activation = activation
        self.semicontinuous = semicontinuous
        self.design_bounds = design_bounds
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.forward_max_iter = forward_max_iter
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.cpu_threads = cpu_threads
        self.progress = progress

    @keeps_state_on_failure
    def fit(self, designs, properties):
        """Train the forward network on ``(designs, properties)``, then the inverse network through it.

        Parameters
        ----------
        designs : array-like ``(n_samples, n_features)``
        properties : array-like ``(n_samples, n_properties)``, or ``(n_samples,)`` for one property

        Returns
        -------
        self
        """
        with cpu_threads(self.cpu_threads, self.device):
            return self._fit(designs, properties)

    def _fit(self, designs, properties):
        check_training_settings(self)
        warm = bool(self.warm_start) and hasattr(self, "network_")
        check_integer(self.forward_max_iter, 0 if warm else 1, name="forward_max_iter")   # epochs
        names, designs, properties = _check_fit_data(designs, properties)
        self._start_space(designs, properties, names, warm)
        device = resolve_device(self.device)
        inverse = _mlp(self, self.hidden_layer_sizes, 1)
        if warm:                    # the inverse's layers are checked before the forward network trains on
            inverse.set_params(warm_start=True).network_ = self.network_
        with seeded(integer_seed(self.random_state), device):
            network = inverse._continued(inverse._build_network(self.n_properties_, self.n_features_in_), device)

        saved = copy.deepcopy(self.forward_) if warm else None

        def restore_forward():          # in place: in the object that fit's guard puts back
            if saved is not None:
                vars(self.forward_).clear()
                vars(self.forward_).update(vars(saved))

        try:
            if not warm:
                self.forward_ = _mlp(self, self.forward_hidden_layer_sizes, self.forward_max_iter).fit(designs,
                                                                                                        properties)
            elif self.forward_max_iter:
                _mlp(self, self.forward_hidden_layer_sizes, self.forward_max_iter, fitted=self.forward_)
                _trainable(self.forward_.network_, True)
                try:
                    self.forward_.fit(designs, properties)
                finally:
                    _trainable(self.forward_.network_, False)
        except BaseException as error:
            # a forward network without its inverse is no tandem: an interrupt keeps nothing of this fit either
            error.kept_best_epoch = False
            restore_forward()
            raise
        forward = self.forward_.network_
        _trainable(forward, False)
        device = next(forward.parameters()).device

        def tensor(a):
            return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)

        targets = tensor(self.forward_.y_scaler_.transform(properties))
        x_mean, x_scale = tensor(self.forward_.x_scaler_.mean_), tensor(self.forward_.x_scaler_.scale_)
        train, validation, generator = split_train_validation(self, len(properties))   # the forward's split
        train_t, validation_t = (torch.as_tensor(a, device=device) for a in (train, validation))
        self.network_ = network

        def round_trip_loss(rows, straight_through):
            y = targets[rows]
            box = self._box(self.network_(y))
            snapped = self._snap(box)
            design = box + (snapped - box).detach() if straight_through else snapped
            return torch.mean((forward((design - x_mean) / x_scale) - y) ** 2)

        def train_loss(index):
            return round_trip_loss(train_t[torch.as_tensor(index, device=device)], True)

        def validation_loss():
            return round_trip_loss(validation_t, False).item() if len(validation) else None

        try:
            fit_network(self, self.network_, len(train), train_loss, validation_loss, generator, resumed=warm)
        except BaseException as error:  # the inverse failed: the forward network as it was, too, unless the
            if not getattr(error, "kept_best_epoch", False):        # interrupt kept the inverse's epochs so far
                restore_forward()
            raise
        if warm:
            self._widen_ranges(properties)
        return self

    def _box(self, output):
        bounds = torch.as_tensor(self.design_bounds_, dtype=output.dtype, device=output.device)
        return bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * torch.sigmoid(output)

    def predict(self, properties):
        """Designs proposed for target ``properties``: the inverse network's, feasible.

        An :class:`ExtrapolationWarning` is raised when a target lies outside the range of the training
        properties.

        Parameters
        ----------
        properties : array-like or DataFrame ``(n, n_properties)``
            Target properties, finite, with the columns of the training properties (one target:
            ``.reshape(1, -1)``; a model of one property also takes ``(n,)``).

        Returns
        -------
        ndarray of float64 ``(n, n_features_in_)``
            Designs within ``design_bounds_``, semicontinuous variables snapped.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        TypeError
            If ``properties`` is complex.
        ValueError
            If ``properties`` is not 2D, not finite, or has another number of columns.

        Warns
        -----
        ExtrapolationWarning
            When a target lies outside the range of the training properties.
        """
        check_is_fitted(self, "network_")
        values = self._check_properties(properties)
        self._warn_targets(values)
        parameter = next(self.network_.parameters())
        with torch.no_grad(), cpu_threads(self.cpu_threads, parameter.device):
            y = torch.as_tensor(self.forward_.y_scaler_.transform(values), dtype=parameter.dtype,
                                device=parameter.device)
            design = self._snap(self._box(self.network_(y)))
        return design.cpu().numpy().astype(np.float64)

    def forward_predict(self, designs):
        """The forward network's properties for ``designs``.

        An :class:`ExtrapolationWarning` is raised for designs outside the design bounds or with a
        semicontinuous variable strictly between 0 and its minimum (nothing like them was trained on).

        Parameters
        ----------
        designs : array-like or DataFrame ``(n, n_features_in_)``
            Designs, finite, with the columns of the training designs.

        Returns
        -------
        ndarray of float64 ``(n, n_properties)``

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        TypeError
            If ``designs`` is complex.
        ValueError
            If ``designs`` is not 2D, not finite, or has another number of columns.

        Warns
        -----
        ExtrapolationWarning
            For designs outside the design space trained on.
        """
        check_is_fitted(self, "forward_")
        values = self._check_designs(designs)
        low, high = self.design_bounds_[:, 0], self.design_bounds_[:, 1]
        outside = ((values < low) | (values > high)).any(axis=1)
        for column, minimum in self.semicontinuous_.items():
            outside |= (values[:, column] > 0) & (values[:, column] < minimum)
        if outside.any():
            warnings.warn(f"{int(outside.sum())} of {len(values)} designs lie outside the design space the forward "
                          "network was trained on (bounds, or a semicontinuous variable between 0 and its minimum): "
                          "their properties are extrapolations", ExtrapolationWarning, stacklevel=2)
        with cpu_threads(self.cpu_threads, next(self.forward_.network_.parameters()).device):
            return self.forward_.predict(values)

    def score(self, designs, properties, sample_weight=None):
        """The scikit-learn score on held-out pairs: the smaller of the forward network's R² and the round trip's.

        Both are averaged over the properties (:func:`inverse_design_scores`' ``forward_r2`` and
        ``round_trip_r2``): the forward network's R² on the pairs, :math:`f(\\mathbf z)` against
        ``properties``, and the R² of the targets ``properties`` against the forward network's properties of
        the designs proposed for them, :math:`f(g(\\mathbf y))`. The round trip alone would not do: an
        inverse reaches the targets of any forward network that is easy to invert, however wrong that network
        is, and a proposal is only as good as the network that judges it. The proposed designs are not
        compared with ``designs`` (any design that gives the target is right). So ``cross_val_score`` and
        ``GridSearchCV`` work as for a regressor, called like :meth:`fit` with designs and properties; each
        fold is judged by its own forward network, checked on its held-out pairs. Whether a proposal really
        has its target only the solver can say (the module's notes).

        Both R² are taken over the same pairs, so a pair's weight counts in both: in the forward R² for its
        design, in the round trip for its properties as a target. A pair of weight 0 counts in neither (it is
        still predicted, and may still warn).

        Parameters
        ----------
        designs : array-like or DataFrame ``(n, n_features_in_)``
        properties : array-like or DataFrame ``(n, n_properties)``, or ``(n,)`` for one property
            Held-out pairs, at least 2.
        sample_weight : array-like ``(n,)``, optional
            Weights of the pairs, finite and >= 0, at least two of them positive; default ``None``: equal
            weights.

        Returns
        -------
        float

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If the pairs are not finite 2D tables of matching rows (at least 2), or have other columns than
            the training data, or ``sample_weight`` is not ``(n,)``, not finite, negative somewhere, or
            positive for fewer than two pairs.

        Warns
        -----
        ExtrapolationWarning
            For held-out designs outside the design space trained on, or targets outside the training range.
        """
        designs, properties = _pairs(designs, properties, self)
        weights = _pair_weights(sample_weight, len(designs))
        forward = r2_score(properties, self.forward_predict(designs), sample_weight=weights)
        round_trip = r2_score(properties, self.forward_predict(self.predict(properties)),   # (feasible: no warning)
                              sample_weight=weights)
        return float(min(forward, round_trip))


# ----------------------------------------------------------------------------- the naive inverse
class DirectInverseDesign(_DesignSpace, BaseEstimator):
    r"""The naive inverse: an MLP regressed from properties to designs, the tandem's baseline.

    ``fit(designs, properties)`` fits an :class:`mslearn.surrogates.MLPRegressor` (``regressor_``)
    from the properties to the designs, minimizing the squared error of the *designs*. Where several
    designs give the same property, that loss is smallest for their average, which need not give the
    property (non-uniqueness: Liu et al. 2018). ``predict`` clips the output to the design bounds and
    snaps semicontinuous variables like :class:`TandemInverseDesign`, so both propose feasible
    designs and :func:`inverse_design_scores` compares them on equal terms.

    On the spinodoid data (defaults, 90/10 split) the direct inverse reaches a design R² of 0.997
    for the volume fraction but 0.79–0.81 for the cone angles — a cone of 90° covers every direction,
    so a nearly isotropic stiffness says little about the other two angles — and a round-trip R² of
    0.997–0.998 per component (judged by the tandem's forward network), against the tandem's
    0.9992–0.9997: most spinodoid designs are nearly unique, so the averaging costs little on average,
    but its median miss is twice the tandem's (2.8 % against 1.4 %). Where two designs share a
    property exactly (``y = z²``, :math:`z = \pm\sqrt y`) it returns their mean and misses every
    target (round-trip R² below 0).

    Parameters are those of :class:`TandemInverseDesign` for its inverse network (no forward network);
    ``warm_start=True`` continues the fitted regression (``regressor_``, an
    :class:`mslearn.surrogates.MLPRegressor` with ``warm_start``) for ``max_iter`` more epochs, on the
    design space and scalings of the first fit; data of other columns, other ``semicontinuous`` or
    ``design_bounds``, or settings that describe other layers raise.

    Examples
    --------
    Where two designs give the same property (``y = z**2``, z = +-0.5 for y = 0.25), the regression returns
    about their mean, a design near 0 that misses the target:

    >>> import numpy as np
    >>> z = np.random.default_rng(0).uniform(-1, 1, (200, 1))
    >>> model = DirectInverseDesign((16,), max_iter=200, random_state=0, device="cpu").fit(z, z**2)
    >>> proposal = model.predict([[0.25]])
    >>> bool(abs(proposal[0, 0]) < 0.3), bool(proposal[0, 0] ** 2 < 0.1)      # far from +-0.5; misses 0.25
    (True, True)
    """

    def __init__(self, hidden_layer_sizes=(128, 128, 128), activation="silu", *, semicontinuous=None,
                 design_bounds=None, learning_rate_init=3e-3, max_iter=100, batch_size=256, weight_decay=0.0,
                 validation_fraction=0.1, patience=20, random_state=0, device="auto", cpu_threads=1, progress=False,
                 warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.warm_start = warm_start
        self.activation = activation
        self.semicontinuous = semicontinuous
        self.design_bounds = design_bounds
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

    @keeps_state_on_failure
    def fit(self, designs, properties):
        """Regress ``designs`` on ``properties`` (an :class:`mslearn.surrogates.MLPRegressor`, ``regressor_``).

        Parameters
        ----------
        designs : array-like or DataFrame ``(n_samples, n_features)``
            Training designs, finite, at least 10 (a DataFrame's column names can key
            ``semicontinuous`` and ``design_bounds``).
        properties : array-like or DataFrame ``(n_samples, n_properties)``, or ``(n_samples,)`` for one
            Their properties, finite.

        Returns
        -------
        self : DirectInverseDesign
            The fitted estimator.

        Raises
        ------
        TypeError
            If ``warm_start`` or another flag or integer setting has another type, or the data are complex.
        ValueError
            If the data are not finite 2D arrays of the same number of rows (at least 10), a design column
            is constant without ``design_bounds``, ``semicontinuous`` or ``design_bounds`` is inconsistent
            with the data, a training setting is invalid, or a warm start meets other columns, design
            settings or layers.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        warm = check_flag(self.warm_start, name="warm_start") and hasattr(self, "regressor_")
        names, designs, properties = _check_fit_data(designs, properties)
        self._start_space(designs, properties, names, warm)
        with cpu_threads(self.cpu_threads, self.device):
            self.regressor_ = _mlp(self, self.hidden_layer_sizes, self.max_iter,
                                   fitted=self.regressor_ if warm else None).fit(properties, designs)
        if warm:
            self._widen_ranges(properties)
        return self

    def predict(self, properties):
        """Designs for target ``properties``: the regression, clipped to the bounds and snapped (feasible).

        Parameters
        ----------
        properties : array-like or DataFrame ``(n, n_properties)``
            Target properties, finite, with the columns of the training properties (one target:
            ``.reshape(1, -1)``; a model of one property also takes ``(n,)``).

        Returns
        -------
        ndarray of float64 ``(n, n_features_in_)``
            Designs within ``design_bounds_``, semicontinuous variables snapped.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        TypeError
            If ``properties`` is complex.
        ValueError
            If ``properties`` is not 2D, not finite, or has another number of columns.

        Warns
        -----
        ExtrapolationWarning
            When a target lies outside the range of the training properties.
        """
        check_is_fitted(self, "regressor_")
        values = self._check_properties(properties)
        self._warn_targets(values)
        with cpu_threads(self.cpu_threads, next(self.regressor_.network_.parameters()).device):
            return self._feasible(self.regressor_.predict(values))

    def score(self, designs, properties, sample_weight=None):
        """Mean design R² on held-out pairs: the scikit-learn score of the regression it is trained as.

        The R² of ``designs`` against the designs proposed for ``properties``, averaged over the design
        variables (:func:`inverse_design_scores`' ``design_r2``), called like :meth:`fit`. It is not
        :meth:`TandemInverseDesign.score`, which judges the round trip by a forward model this model does not
        have: compare the two with :func:`inverse_design_scores` and one judge (``forward=``).

        Parameters
        ----------
        designs : array-like or DataFrame ``(n, n_features_in_)``
        properties : array-like or DataFrame ``(n, n_properties)``, or ``(n,)`` for one property
            Held-out pairs, at least 2.
        sample_weight : array-like ``(n,)``, optional
            Weights of the pairs, finite and >= 0, at least two of them positive; default ``None``: equal
            weights.

        Returns
        -------
        float

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If the pairs are not finite 2D tables of matching rows (at least 2), or have other columns than
            the training data, or ``sample_weight`` is not ``(n,)``, not finite, negative somewhere, or
            positive for fewer than two pairs.
        """
        designs, properties = _pairs(designs, properties, self)
        weights = _pair_weights(sample_weight, len(designs))
        return float(r2_score(designs, self.predict(properties), sample_weight=weights))


# ----------------------------------------------------------------------------- scores
@dataclass
class InverseDesignScores:
    """How well an inverse model's designs reach their targets, judged by a forward model.

    Attributes
    ----------
    forward_r2 : ndarray ``(n_properties,)``
        R² of the forward model (the judge) on the true pairs ``(designs, properties)``, per property.
    round_trip_r2 : ndarray ``(n_properties,)``
        R² of the targets against the forward model's properties of the proposed designs,
        :math:`f(g(\\mathbf y))`, per property: how well the proposals reach their targets.
    design_r2 : ndarray ``(n_features,)``
        R² of the true designs against the proposed ones, per design variable: low when the inverse
        is not unique, which is no fault of a tandem proposal that reaches its target.
    relative_error : ndarray ``(n,)``
        Per target, :math:`\\lVert f(g(\\mathbf y)) - \\mathbf y\\rVert / \\lVert\\mathbf y\\rVert`.
    designs : ndarray ``(n, n_features)``
        The proposed designs :math:`g(\\mathbf y)`.
    round_trip : ndarray ``(n, n_properties)``
        The forward model's properties of the proposed designs.
    """

    forward_r2: np.ndarray
    round_trip_r2: np.ndarray
    design_r2: np.ndarray
    relative_error: np.ndarray
    designs: np.ndarray
    round_trip: np.ndarray


def inverse_design_scores(model, designs, properties, *, forward=None, sample_weight=None):
    """Score an inverse model on held-out pairs: forward, round-trip and design R², relative errors.

    Parameters
    ----------
    model : TandemInverseDesign or DirectInverseDesign (fitted)
        Proposes designs for the target ``properties`` (its ``predict``).
    designs, properties : array-like ``(n, n_features)``, ``(n, n_properties)``
        Held-out true pairs: the properties are the targets, the designs the data's answer.
    forward : fitted model, optional
        The judge of the round trip: a :class:`TandemInverseDesign` (its forward network) or any
        fitted regressor of designs → properties (its ``predict``). Default ``model`` itself, which
        must then be a :class:`TandemInverseDesign`; a :class:`DirectInverseDesign` has no forward
        model — pass the tandem's, so that both are judged alike.
    sample_weight : array-like ``(n,)``, optional
        Weights of the pairs in the three R², as in the models' ``score``: finite and >= 0, at least two
        positive; default ``None``: equal weights. ``relative_error``, ``designs`` and ``round_trip`` are
        per pair, unweighted (a pair of weight 0 is still predicted).

    Returns
    -------
    InverseDesignScores

    Raises
    ------
    TypeError
        If the forward model's properties are complex (not cast to their real part).
    ValueError
        If no forward model judges the round trip, the pairs are not finite 2D tables of matching rows
        (at least 2), ``sample_weight`` is not ``(n,)``, not finite, negative somewhere, or positive
        for fewer than two pairs, or the forward model's properties are not finite or not one per pair and
        property.

    Examples
    --------
    With a unique inverse (``y = z**2`` on 0 <= z <= 1) the direct inverse reaches its targets; a quadratic
    fit judges the round trip:

    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import PolynomialFeatures
    >>> z = np.random.default_rng(0).uniform(0, 1, (200, 1)); y = z**2
    >>> model = DirectInverseDesign((16,), max_iter=200, random_state=0, device="cpu").fit(z, y)
    >>> judge = make_pipeline(PolynomialFeatures(2), LinearRegression()).fit(z, y)
    >>> scores = inverse_design_scores(model, z[:50], y[:50], forward=judge)
    >>> bool(scores.forward_r2[0] > 0.999), bool(scores.round_trip_r2[0] > 0.95), bool(scores.design_r2[0] > 0.95)
    (True, True, True)
    """
    judge = model if forward is None else forward
    if hasattr(judge, "forward_predict"):
        predict = judge.forward_predict
    elif forward is not None and hasattr(forward, "predict"):
        predict = forward.predict
    else:
        raise ValueError("the round trip needs a forward model: pass forward=<a fitted TandemInverseDesign or a "
                         "fitted regressor of designs -> properties> (a DirectInverseDesign has none)")
    designs, properties = _pairs(designs, properties)
    weights = _pair_weights(sample_weight, len(designs))
    proposed = model.predict(properties)

    def judged(inputs, what):
        values = np.asarray(predict(inputs))
        check_finite(values, name=f"the forward model's properties of {what}")    # not cast from complex
        if values.size != properties.size:
            raise ValueError(f"the forward model's properties of {what} have shape {values.shape}; expected "
                             f"{properties.shape}, those of properties")
        return values.astype(float).reshape(properties.shape)

    round_trip, forward_values = judged(proposed, "the proposed designs"), judged(designs, "designs")
    return InverseDesignScores(
        forward_r2=r2_score(properties, forward_values, sample_weight=weights, multioutput="raw_values"),
        round_trip_r2=r2_score(properties, round_trip, sample_weight=weights, multioutput="raw_values"),
        design_r2=r2_score(designs, proposed, sample_weight=weights, multioutput="raw_values"),
        relative_error=np.linalg.norm(round_trip - properties, axis=1) / np.linalg.norm(properties, axis=1),
        designs=proposed, round_trip=round_trip)
