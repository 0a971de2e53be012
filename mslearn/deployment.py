"""Save a trained model with the software versions that made it, and load it back.

A model file alone does not say which package versions can read it or reproduce it; step VI of the
ML workflow (deployment) needs both. ``save`` writes two files side by side: ``<name>.pkl`` (the
model, pickled) and ``<name>.json`` (versions, creation time, and any metadata you pass: feature
names, units, training-set description, scores). ``load`` warns when the running versions differ.

A model is trusted only inside the data it has seen. ``save(..., training_data=X)`` records the range
of every input (min, max, mean, std) in the record, and :func:`load` then returns the model wrapped in
a :class:`GuardedModel`: it predicts exactly as the saved model does, and warns
(:class:`ExtrapolationWarning`) when asked to predict for inputs outside that range. A model saved with
a model card (below) is guarded by the card's range in the same way.

A *model card* (Mitchell et al. 2019) says what a trained surrogate is for and where it can be trusted:
:func:`model_card` collects the training range of every input, the validation numbers, the
versions, the intended use and the limits into a JSON-serializable dict; ``save(..., card=card)``
writes it beside the model as ``<name>.card.json`` (for machines) and ``<name>.card.md`` (for
people), :func:`read_model_card` reads it back, and :func:`outside_training_range` flags inputs a
model would extrapolate to.

Pickle runs code when it loads: only load model files you made or trust.

References: M. Mitchell et al., "Model cards for model reporting", FAT* 2019, 220 (2019).
"""
from __future__ import annotations

import datetime
import json
import math
import numbers
import pickle
import warnings
from pathlib import Path

import numpy as np

from ._versions import environment_versions

__all__ = ["save", "load", "read_record", "environment_versions", "VersionMismatchWarning", "model_card",
           "read_model_card", "outside_training_range", "GuardedModel", "ExtrapolationWarning"]


class VersionMismatchWarning(UserWarning):
    """A model is loaded with package versions that differ from the ones it was saved with."""


class ExtrapolationWarning(UserWarning):
    """A model is asked to predict for inputs outside the range it was trained on."""


def _paths(path):
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in {".pkl", ".json"} else path
    return stem.with_name(stem.name + ".pkl"), stem.with_name(stem.name + ".json")


def save(model, path, *, metadata=None, card=None, training_data=None, feature_names=None) -> Path:
    """Save ``model`` to ``path.pkl`` with a ``path.json`` record of versions and ``metadata``.

    Parameters
    ----------
    model : object
        A fitted estimator (anything picklable; torch surrogates store their weights on the CPU).
    path : str or Path
        Target without suffix (a ``.pkl`` or ``.json`` suffix is accepted and replaced). Saving again at the
        path of a model saved there replaces that model, its record and its card files; a file there that
        ``save`` did not write is never overwritten or removed (see Raises).
    metadata : dict, optional
        JSON-serializable description: feature names, units, scores, data provenance.
    card : dict, optional
        A model card from :func:`model_card`, written beside the model as ``path.card.json`` and
        ``path.card.md``; its training range guards the loaded model when ``training_data`` is not given.
        Without it, the card files of a model saved at ``path`` before are removed (they describe that one).
    training_data : array_like or pandas.DataFrame, optional
        The inputs the model was trained on, ``(n_samples, n_features)``: their per-input range (min,
        max, mean, std) is stored in the record as ``training_range``, and :func:`load` returns a
        :class:`GuardedModel` that warns outside it. Images (more than two axes) have no per-input
        range and are rejected here; use a model card for them.
    feature_names : list of str, optional
        Names of the inputs (default: the DataFrame's columns, else ``x0, x1, ...``).

    Returns
    -------
    Path of the model file.

    Raises
    ------
    ValueError
        If ``path.json`` exists and is not a record ``save`` wrote (JSON with the keys ``model`` and
        ``versions``), ``path.pkl`` exists without such a record, or ``path.card.json`` or ``path.card.md``
        exists and is not a model card ``save`` wrote; nothing is written then. Also for an unfitted
        estimator, a folder as ``path``, or invalid ``metadata``, ``card`` or ``training_data``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.1], [0.3], [0.5]]); model = LinearRegression().fit(X, 2 * X[:, 0])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save(model, os.path.join(folder, "model"), metadata={"target": "k_eff"}, training_data=X)
    ...     print(path.name, sorted(os.listdir(folder)))
    model.pkl ['model.json', 'model.pkl']
    """
    if isinstance(model, GuardedModel):
        model = model.model   # the guard is rebuilt from the record on load
    if Path(path).is_dir():
        raise ValueError(f"path {str(path)!r} is a folder; expected the model's file name without suffix, e.g. "
                         f"{str(Path(path) / 'model')!r} (written as model.pkl and model.json in that folder)")
    if hasattr(model, "fit") and hasattr(model, "get_params"):        # a scikit-learn style estimator
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
        try:
            check_is_fitted(model)
        except NotFittedError:
            raise ValueError(f"model is an unfitted {type(model).__name__}; expected a fitted estimator (call "
                             "fit first)") from None
    model_path, record_path = _paths(path)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata is a {type(metadata).__name__}; expected a dict (written as JSON) or None")
    record = {
        "model": type(model).__module__ + "." + type(model).__qualname__,
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": environment_versions(),
        "metadata": metadata or {},
    }
    if training_data is not None:
        training_range = _training_range(training_data, feature_names)
        if "features" not in training_range:
            raise ValueError("training_data has more than two axes (images); a per-input range needs "
                             "(n_samples, n_features) inputs")
        expected = getattr(model, "n_features_in_", None)
        if isinstance(expected, (int, np.integer)) and len(training_range["features"]) != expected:
            raise ValueError(f"training_data has {len(training_range['features'])} columns but the model was fitted "
                             f"on {int(expected)} inputs; expected the model's training inputs")
        # the record is written with sorted keys: keep the column order explicitly
        record["training_range"] = {**training_range, "feature_names": list(training_range["features"])}
    elif feature_names is not None:
        raise ValueError("feature_names names the columns of training_data; pass training_data too")
    try:
        record_text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:      # NaN would be written as invalid JSON
        raise ValueError(f"metadata must be JSON-serializable with finite numbers: {error}") from error
    if card is not None:
        _check_card(card)
        card_text = _card_json(card)
    json_path, markdown_path = _card_paths(model_path)
    _check_only_saved_files_replaced(model_path, record_path, json_path, markdown_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # Write to temporary names first so an interrupted save never leaves a half-written model.
    temporary = model_path.with_suffix(".pkl.mslearn-tmp")
    try:
        with open(temporary, "wb") as file:
            pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:            # e.g. a lambda that cannot be pickled: leave nothing behind
        temporary.unlink(missing_ok=True)
        raise
    record_path.write_text(record_text + "\n")
    if card is not None:
        json_path.write_text(card_text + "\n")
        markdown_path.write_text(_card_markdown(card))
    else:           # a card left from a model saved here before would describe (and guard) the wrong model
        json_path.unlink(missing_ok=True)
        markdown_path.unlink(missing_ok=True)
    temporary.replace(model_path)
    return model_path


def _check_only_saved_files_replaced(model_path, record_path, card_json_path, card_markdown_path):
    """Refuse to save where a file exists that :func:`save` did not write (it would be overwritten or
    removed); the files of a model saved there before may be replaced."""
    def refuse(file, why):
        raise ValueError(f"{file} exists and {why}; save does not overwrite or remove a file it did not write: "
                         "choose another path, or move the file away")

    if record_path.exists():
        if not _json_with_keys(record_path, ("model", "versions")):
            refuse(record_path, "is not a model's record (JSON with the keys 'model' and 'versions')")
    elif model_path.exists():
        refuse(model_path, f"has no record {record_path.name} beside it")
    if card_json_path.exists() and not _json_with_keys(card_json_path, _CARD_FIELDS):
        refuse(card_json_path, f"is not a model card (JSON with the fields {', '.join(_CARD_FIELDS)})")
    if card_markdown_path.exists():
        try:
            with open(card_markdown_path, "rb") as file:
                ours = file.read(len(_CARD_TITLE)) == _CARD_TITLE.encode()
        except OSError:
            ours = False
        if not ours:
            refuse(card_markdown_path, f"is not a model card (which begins {_CARD_TITLE!r})")


def _json_with_keys(path, keys):
    """Whether ``path`` holds a JSON object with all of ``keys``."""
    try:
        content = json.loads(Path(path).read_text())
    except (OSError, ValueError):               # unreadable, not UTF-8 or not JSON
        return False
    return isinstance(content, dict) and all(key in content for key in keys)


def read_record(path) -> dict:
    """The record :func:`save` wrote beside a model: ``model`` (class), ``saved`` (UTC time),
    ``versions`` and ``metadata``; ``{"versions": {}}`` when the model has no record.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.1], [0.3], [0.5]]); model = LinearRegression().fit(X, 2 * X[:, 0])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     record = read_record(save(model, os.path.join(folder, "model"), metadata={"target": "k_eff"}, training_data=X))
    >>> record["model"], record["metadata"], record["training_range"]["features"]["x0"]["max"]
    ('sklearn.linear_model._base.LinearRegression', {'target': 'k_eff'}, 0.5)
    """
    model_path, record_path = _paths(path)
    if not model_path.exists():
        raise FileNotFoundError(f"no saved model at {model_path}")
    if not record_path.exists():
        return {"versions": {}}
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{record_path} is not valid JSON ({error}); expected the record mslearn.deployment.save "
                         "wrote") from None
    record.setdefault("versions", {})
    return record


def load(path):
    """Load a model saved by :func:`save`; warn if package versions differ from the saved ones.

    Returns
    -------
    object
        The model, or, when it was saved with its training range (``save(..., training_data=X)``, or a
        model card with per-input ranges), a :class:`GuardedModel` around it that predicts identically
        and warns (:class:`ExtrapolationWarning`) for inputs outside that range. :func:`read_record`
        gives the record saved with it.

    Examples
    --------
    A model saved with its training data comes back guarded: the same predictions, and a warning outside
    the range it was trained on:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.1], [0.3], [0.5]]); model = LinearRegression().fit(X, 2 * X[:, 0])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     loaded = load(save(model, os.path.join(folder, "model"), training_data=X, feature_names=["phi"]))
    >>> type(loaded).__name__, loaded.predict([[0.2]]).round(4), loaded.outside([[0.2], [0.7]]).tolist()
    ('GuardedModel', array([0.4]), [False, True])
    """
    model_path, _ = _paths(path)
    record = read_record(path)
    current = environment_versions()
    changed = {name: (saved, current.get(name)) for name, saved in record["versions"].items()
               if current.get(name) != saved}
    if changed:
        listed = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in changed.items())
        warnings.warn(f"model {model_path.name} was saved with other versions: {listed}",
                      VersionMismatchWarning, stacklevel=2)
    with open(model_path, "rb") as file:
        try:
            model = pickle.load(file)
        except (pickle.UnpicklingError, EOFError) as error:
            raise ValueError(f"{model_path} cannot be read ({error}): corrupt, or not saved by "
                             "mslearn.deployment.save") from None
    training_range = record.get("training_range")
    if training_range is None:
        card_path, _ = _card_paths(model_path)
        if card_path.exists():
            training_range = json.loads(card_path.read_text()).get("training_data")
    if training_range is not None and "features" in training_range:
        return GuardedModel(model, training_range)
    return model


# refitted through the guard, the model would leave the guard's training range behind; scikit-learn's
# clone and model selection find an estimator by get_params (fit is a method that refuses: read-only tools such
# as permutation_importance check for it)
_NOT_GUARDED = ("partial_fit", "fit_predict", "fit_transform", "get_params", "set_params")
_GUARD_IS_NOT_AN_ESTIMATOR = ("it guards the fitted model it was loaded with by that model's training range; "
                              "clone, refit or cross-validate guarded.model (and save a refitted model with its "
                              "own training_data)")


class GuardedModel:
    """A trained model that warns when asked to extrapolate: what :func:`load` returns for a model saved
    with its training range.

    ``predict(X, ...)`` returns exactly the wrapped model's prediction and issues an
    :class:`ExtrapolationWarning` naming the inputs and rows outside the per-input training range
    (a row is inside when every input lies within [min, max] of the training data; inside that box
    the model may still be far from its data where inputs are correlated). Further arguments go to
    the wrapped model's ``predict`` unchanged and unchecked, e.g. the ``mode`` of a hyperelastic
    surrogate (:class:`mslearn.surrogates.MooneyRivlin`): ``guarded.predict(stretch, mode="equibiaxial")``.
    The range is that of ``X`` alone, for such a model the union over its modes: a stretch within the
    uniaxial data's range but beyond the equibiaxial data's passes without a warning.
    Every other attribute (``score``, ``history_``, ...) is the wrapped model's, unguarded: ``score``
    measures the model on labelled data, where how it does outside its range is what one may want to
    measure (:meth:`outside` says which rows that concerns).

    A guard is not an estimator: it describes the range of the model it was saved with, which a refit
    would make wrong. ``fit`` (and ``partial_fit``, ``get_params``, ``set_params``) raise ``AttributeError``
    and :func:`sklearn.base.clone` raises ``TypeError``, both pointing to the bare model: clone, refit or
    cross-validate ``guarded.model``, and save a refitted model with its own ``training_data``.

    Parameters
    ----------
    model : object
        A fitted model with ``predict``.
    training_range : dict
        ``{"n_samples": n, "features": {name: {"min": ..., "max": ..., ...}}}``, as recorded by
        :func:`save` (``training_range``) or a model card (``training_data``).

    Attributes
    ----------
    model : object
        The bare model.
    training_range : dict

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from mslearn.deployment import GuardedModel
    >>> X = np.array([[0.1], [0.3], [0.5]])
    >>> guarded = GuardedModel(LinearRegression().fit(X, 2 * X[:, 0]),
    ...                        {"n_samples": 3, "features": {"phi": {"min": 0.1, "max": 0.5}}})
    >>> guarded.outside([[0.2], [0.7]]).tolist()
    [False, True]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = guarded.predict([[0.7]])
    >>> print(caught[0].message)
    1 of 1 inputs lie outside the training range (extrapolation): phi 0.7 > max 0.5
    """

    def __init__(self, model, training_range):
        if not hasattr(model, "predict"):
            raise ValueError(f"model is a {type(model).__name__} without predict; expected a fitted model")
        features = training_range.get("features") if isinstance(training_range, dict) else None
        if not features or not all(isinstance(r, dict) and {"min", "max"} <= set(r) for r in features.values()):
            raise ValueError("training_range lacks per-input 'features' with 'min' and 'max'; expected the "
                             "record of save(..., training_data=X) or a model card's training_data")
        self.model = model
        self.training_range = {**training_range, "features": _ordered_features(training_range)}
        self._features = self.training_range["features"]

    def __getattr__(self, name):
        # Only called for attributes not found on the guard; "model" itself is excluded so that a
        # half-built object (during unpickling) does not recurse.
        if name == "model" or name.startswith("__"):
            raise AttributeError(name)
        if name in _NOT_GUARDED:
            raise AttributeError(f"GuardedModel has no {name}: {_GUARD_IS_NOT_AN_ESTIMATOR}")
        return getattr(self.model, name)

    def __sklearn_clone__(self):
        raise TypeError(f"a GuardedModel is not cloned: {_GUARD_IS_NOT_AN_ESTIMATOR}")

    def fit(self, *args, **kwargs):
        """Refused (``TypeError``): a guard is not refitted. A method all the same, so that scikit-learn's
        tools that only read a fitted estimator (``permutation_importance``, scorers) take the guard."""
        raise TypeError(f"a GuardedModel is not refitted: {_GUARD_IS_NOT_AN_ESTIMATOR}")

    def __sklearn_tags__(self):
        return self.model.__sklearn_tags__()      # the model's kind (a regressor, ...), as scikit-learn asks it

    def __repr__(self):
        return f"GuardedModel({self.model!r})"

    def outside(self, X) -> np.ndarray:
        """Which rows of ``X`` lie outside the training range (see :func:`outside_training_range`).

        Parameters
        ----------
        X : array_like or pandas.DataFrame, shape (n_samples, n_features)
            The model's inputs, finite, in the order of the training range's features (a DataFrame with
            named features is read by column name; one input may be ``(n_samples,)``).

        Returns
        -------
        numpy.ndarray of bool, shape ``(n_samples,)``
            True where any input is below its training minimum or above its maximum.

        Raises
        ------
        ValueError
            If ``X`` is not ``(n_samples, n_features)``, lacks a named column, or is not finite.
        """
        return _outside(self._features, X)

    def predict(self, X, *args, **kwargs):
        """The wrapped model's prediction; warns (:class:`ExtrapolationWarning`) for rows outside the
        training range.

        Parameters
        ----------
        X : array_like or pandas.DataFrame, shape (n_samples, n_features)
            The model's inputs, finite, in the order of the training range's features (a DataFrame with
            named features is read by column name; one input may be ``(n_samples,)``).
            ``X`` is passed to the model as given.
        *args, **kwargs
            Further arguments of the wrapped model's ``predict``, passed on unchanged, e.g. ``mode`` of
            the hyperelastic surrogates (:class:`mslearn.surrogates.HyperelasticNetwork`). They are not
            compared with the training data: only ``X`` is.

        Returns
        -------
        object
            ``model.predict(X, *args, **kwargs)``, unchanged.

        Raises
        ------
        ValueError
            If ``X`` is not ``(n_samples, n_features)``, lacks a named column, or is not finite.

        Warns
        -----
        ExtrapolationWarning
            When a row lies outside the training range, naming the farthest value beyond each limit.
        """
        _warn_outside(self._features, X)
        return self.model.predict(X, *args, **kwargs)


# ----------------------------------------------------------------------------- model cards
_CARD_FIELDS = ("model", "intended_use", "limitations", "training_data", "metrics", "versions", "created")
_CARD_TITLE = "# Model card: "      # how save recognizes a markdown card it wrote


def _card_paths(model_path):
    stem = Path(model_path).with_suffix("")
    return stem.with_name(stem.name + ".card.json"), stem.with_name(stem.name + ".card.md")


def _card_json(card):
    try:
        return json.dumps(card, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the model card must be JSON-serializable with finite numbers: {error}") from error


def _check_card(card):
    if not isinstance(card, dict):
        raise ValueError(f"card is a {type(card).__name__}; expected the dict model_card returns")
    missing = [key for key in _CARD_FIELDS if key not in card]
    if missing:
        raise ValueError(f"the model card lacks the field(s) {missing}; expected the dict model_card returns")


def _jsonable(value):
    """Hyper-parameters as JSON: numbers, strings, lists and dicts as they are, anything else as repr."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _training_range(training_data, feature_names):
    """Per-input min, max, mean and std of the training inputs (a table or an (n, d) array), or, for
    images and other arrays with more axes, their shape and value range."""
    columns = list(getattr(training_data, "columns", []))
    values = np.asarray(training_data.to_numpy() if hasattr(training_data, "to_numpy") else training_data)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"training_data has dtype {values.dtype}; expected numbers (the model's inputs)")
    values = values.astype(float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim == 0 or len(values) == 0:
        raise ValueError(f"training_data has shape {values.shape}; expected (n_samples, n_features) with n >= 1")
    if not np.all(np.isfinite(values)):
        raise ValueError("training_data contains NaN or infinite values; expected the finite training inputs")
    if values.ndim > 2:
        return {"n_samples": int(len(values)), "sample_shape": list(values.shape[1:]),
                "min": float(values.min()), "max": float(values.max())}
    names = list(feature_names) if feature_names is not None else columns or [f"x{j}" for j in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ValueError(f"feature_names has {len(names)} names; training_data has {values.shape[1]} columns")
    features = {str(name): {"min": float(column.min()), "max": float(column.max()), "mean": float(column.mean()),
                            "std": float(column.std())} for name, column in zip(names, values.T)}
    return {"n_samples": int(len(values)), "features": features}


def model_card(model, *, training_data, metrics, intended_use, limitations=None, feature_names=None,
               target_names=None, units=None, data_source=None, authors=None, licence=None) -> dict:
    """A model card for a trained surrogate: what it is for, on what it was trained, how good it is.

    Parameters
    ----------
    model : object
        The fitted model (its class and, for a scikit-learn estimator, its hyper-parameters are recorded;
        of a :class:`GuardedModel`, those of the model it guards).
    training_data : array_like or pandas.DataFrame
        The inputs the model was trained on, ``(n_samples, n_features)`` (a DataFrame's columns name the
        features); the card records each input's min, max, mean and std, which is the range where
        the model interpolates. For images ``(n_samples, *spatial)`` only the shape and value range.
    metrics : dict
        Validation numbers, ``{name: number}`` (e.g. ``{"test_r2": 0.98, "test_rmse": 0.05}``), or
        ``{name: {"value": number, "split": ..., "n_samples": ...}}``.
    intended_use : str
        What the model is meant for (the property, the microstructure family, the task).
    limitations : str or list of str, optional
        Known limits; the card always adds that inputs outside the training range are extrapolation.
    feature_names, target_names : list of str, optional
        Names of the inputs (default: the DataFrame's columns, else ``x0, x1, ...``) and outputs.
    units : dict, optional
        ``{input or output name: unit}``.
    data_source : str or dict, optional
        Where the training data come from, e.g. the ``name`` and hash of a shared dataset's
        ``datapackage.json`` (written by :func:`mslearn.datasets.export_dataset`).
    authors : list of str, optional
    licence : str, optional
        The model's licence (an SPDX identifier).

    Returns
    -------
    dict
        JSON-serializable: ``model`` (class, hyper-parameters), ``intended_use``, ``limitations``,
        ``training_data`` (``n_samples``, per-feature ``features`` ranges, ``source``), ``targets``,
        ``metrics``, ``versions``, ``created``, and ``authors``, ``licence``, ``units`` when given.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from mslearn.deployment import model_card
    >>> X = np.array([[0.1], [0.3], [0.5]])
    >>> card = model_card(LinearRegression().fit(X, 2 * X[:, 0]), training_data=X, metrics={"test_r2": 1.0},
    ...                   intended_use="toy", feature_names=["volume_fraction"])
    >>> card["training_data"]["features"]["volume_fraction"]["max"]
    0.5
    """
    if not isinstance(intended_use, str) or not intended_use.strip():
        raise ValueError(f"intended_use = {intended_use!r}; expected a sentence saying what the model is for")
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f"metrics = {metrics!r}; expected a non-empty dict {{name: number}} of validation numbers")
    checked = {}
    for name, value in metrics.items():
        number = value.get("value") if isinstance(value, dict) else value
        if isinstance(number, bool) or not isinstance(number, numbers.Real) or not math.isfinite(number):
            raise ValueError(f"metrics[{name!r}] = {value!r}; expected a finite number (or a dict with 'value')")
        checked[str(name)] = _jsonable(value)
    if limitations is None:
        limitations = []
    elif isinstance(limitations, str):
        limitations = [limitations]
    if not isinstance(limitations, (list, tuple)) or not all(isinstance(item, str) for item in limitations):
        raise ValueError(f"limitations = {limitations!r}; expected a string or a list of strings")
    if units is not None and not isinstance(units, dict):
        raise TypeError(f"units is a {type(units).__name__}; expected a dict {{feature or target name: unit}}")
    if target_names is not None and (isinstance(target_names, str) or not hasattr(target_names, "__iter__")):
        raise TypeError(f"target_names = {target_names!r}; expected a list of names")
    training = _training_range(training_data, feature_names)
    if data_source is not None:
        training["source"] = _jsonable(data_source)
    if isinstance(model, GuardedModel):
        model = model.model       # as save does: the guard is rebuilt from the card on load
    kind = type(model)
    entry = {"class": f"{kind.__module__}.{kind.__qualname__}"}
    if hasattr(model, "get_params"):
        try:
            entry["hyper_parameters"] = _jsonable(model.get_params(deep=False))
        except TypeError:
            entry["hyper_parameters"] = _jsonable(model.get_params())
    card = {
        "model": entry,
        "intended_use": intended_use.strip(),
        "limitations": list(limitations) + [
            "Inputs outside the training range (training_data) are extrapolation: the errors in metrics do "
            "not apply there (mslearn.deployment.outside_training_range flags such inputs)."],
        "training_data": training,
        "targets": [str(t) for t in target_names] if target_names is not None else None,
        "metrics": checked,
        "versions": environment_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if units:
        card["units"] = {str(k): str(v) for k, v in units.items()}
    if authors:
        card["authors"] = [str(a) for a in ([authors] if isinstance(authors, str) else authors)]
    if licence:
        card["licence"] = str(licence)
    _card_json(card)
    return card


def _card_markdown(card):
    lines = [f"{_CARD_TITLE}`{card['model']['class']}`", "", "## Intended use", "", card["intended_use"], "",
             "## Limitations", ""] + [f"- {item}" for item in card["limitations"]]
    training = card["training_data"]
    lines += ["", "## Training data", "", f"{training['n_samples']} samples."]
    if "source" in training:
        lines.append(f"Source: {json.dumps(training['source'])}")
    units = card.get("units", {})
    if "features" in training:
        lines += ["", "| input | unit | min | max | mean | std |", "|---|---|---|---|---|---|"]
        for name, r in training["features"].items():
            lines.append(f"| {name} | {units.get(name, '')} | {r['min']:.6g} | {r['max']:.6g} | {r['mean']:.6g} "
                         f"| {r['std']:.6g} |")
    else:
        lines.append(f"Inputs of shape {training['sample_shape']} with values in [{training['min']:.6g}, "
                     f"{training['max']:.6g}].")
    lines += ["", "## Validation", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {json.dumps(value)} |" for name, value in card["metrics"].items()]
    lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
              "", f"Created {card['created']}."]
    if "authors" in card:
        lines.append(f"Authors: {', '.join(card['authors'])}.")
    if "licence" in card:
        lines.append(f"Licence: {card['licence']}.")
    return "\n".join(lines) + "\n"


def read_model_card(path) -> dict:
    """The model card :func:`save` wrote beside a model (``path.card.json``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.1], [0.3], [0.5]]); model = LinearRegression().fit(X, 2 * X[:, 0])
    >>> card = model_card(model, training_data=X, metrics={"test_r2": 1.0}, intended_use="toy")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     card = read_model_card(save(model, os.path.join(folder, "model"), card=card))
    >>> card["intended_use"], card["metrics"], card["training_data"]["features"]["x0"]["min"]
    ('toy', {'test_r2': 1.0}, 0.1)
    """
    model_path, _ = _paths(path)
    json_path, _ = _card_paths(model_path)
    if not json_path.exists():
        raise FileNotFoundError(f"no model card at {json_path}; save the model with card=model_card(...)")
    card = json.loads(json_path.read_text())
    _check_card(card)
    return card


def outside_training_range(card, X) -> np.ndarray:
    """Which rows of ``X`` (n_samples, n_features) lie outside the per-input training range.

    Parameters
    ----------
    card : dict
        A model card (:func:`model_card`, :func:`read_model_card`), or the record of a model saved with
        ``save(..., training_data=...)`` (:func:`read_record`).
    X : array_like or pandas.DataFrame, shape (n_samples, n_features)

    Returns
    -------
    numpy.ndarray of bool, shape ``(n_samples,)``
        True where any input is below its training minimum or above its maximum (extrapolation).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.1], [0.3], [0.5]]); model = LinearRegression().fit(X, 2 * X[:, 0])
    >>> card = model_card(model, training_data=X, metrics={"test_r2": 1.0}, intended_use="toy")
    >>> outside_training_range(card, [[0.2], [0.7], [0.0]])    # trained on 0.1 .. 0.5
    array([False,  True,  True])
    """
    if isinstance(card, dict) and "training_range" in card and "intended_use" not in card:
        features = _ordered_features(card["training_range"])
    else:
        _check_card(card)
        features = card["training_data"].get("features")
    if features is None:
        raise ValueError("the card records no per-input range (the model reads images); nothing to compare with")
    return _outside(features, X)


def _ordered_features(training_range):
    """The per-input ranges in the column order of the training data (a record, whose JSON keys are
    sorted, lists that order in ``feature_names``)."""
    features = training_range.get("features")
    if features is None:
        return None
    order = training_range.get("feature_names")
    return {name: features[name] for name in order} if order else features


def _bounds(features, X):
    low = np.array([r["min"] for r in features.values()])
    high = np.array([r["max"] for r in features.values()])
    names = list(features)
    if hasattr(X, "columns") and names != [f"x{j}" for j in range(len(names))]:
        # a table is read by its column names (by position it could compare a with b)
        missing = [name for name in names if name not in X.columns]
        if missing:
            raise ValueError(f"X has the columns {list(X.columns)}; expected the card's inputs {names} "
                             f"(missing {missing})")
        X = X[names]
    values = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=float)
    if values.ndim == 1 and len(low) == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != len(low):
        raise ValueError(f"X has shape {values.shape}; expected (n_samples, {len(low)}), the card's inputs "
                         f"{list(features)}")
    if not np.isfinite(values).all():
        raise ValueError("X contains NaN or an infinite value; expected finite inputs (a NaN is neither inside nor "
                         "outside the training range)")
    return values, low, high


def _outside(features, X):
    values, low, high = _bounds(features, X)
    return np.any((values < low) | (values > high), axis=1)


def _warn_outside(features, X):
    values, low, high = _bounds(features, X)
    below, above = values < low, values > high
    rows = np.any(below | above, axis=1)
    if not rows.any():
        return
    names = list(features)
    worst = []
    for j, name in enumerate(names):   # the farthest value beyond each violated limit
        if below[:, j].any():
            worst.append(f"{name} {values[below[:, j], j].min():.4g} < min {low[j]:.4g}")
        if above[:, j].any():
            worst.append(f"{name} {values[above[:, j], j].max():.4g} > max {high[j]:.4g}")
    warnings.warn(f"{int(rows.sum())} of {len(values)} inputs lie outside the training range (extrapolation): "
                  + "; ".join(worst), ExtrapolationWarning, stacklevel=3)
