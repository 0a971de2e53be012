"""Save a trained model with the software versions that made it, and load it back.

A model file alone does not say which package versions can read it or reproduce it; step VI of the
ML workflow (deployment) needs both. ``save`` writes two files side by side: ``<name>.pkl`` (the
model, pickled) and ``<name>.json`` (versions, creation time, and any metadata you pass: feature
names, units, training-set description, scores). ``load`` warns when the running versions differ.

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
           "read_model_card", "outside_training_range"]



class VersionMismatchWarning(UserWarning):
    """A model is loaded with package versions that differ from the ones it was saved with."""


def _paths(path):
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in {".pkl", ".json"} else path
    return stem.with_name(stem.name + ".pkl"), stem.with_name(stem.name + ".json")


def save(model, path, *, metadata=None, card=None) -> Path:
    """Save ``model`` to ``path.pkl`` with a ``path.json`` record of versions and ``metadata``.

    Parameters
    ----------
    model : object
        A fitted estimator (anything picklable; torch surrogates store their weights on the CPU).
    path : str or Path
        Target without suffix (a ``.pkl`` or ``.json`` suffix is accepted and replaced).
    metadata : dict, optional
        JSON-serializable description: feature names, units, scores, data provenance.
    card : dict, optional
        A model card from :func:`model_card`, written beside the model as ``path.card.json`` and
        ``path.card.md``.

    Returns
    -------
    Path of the model file.
    """
    model_path, record_path = _paths(path)
    record = {
        "model": type(model).__module__ + "." + type(model).__qualname__,
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": environment_versions(),
        "metadata": metadata or {},
    }
    try:
        record_text = json.dumps(record, indent=2, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"metadata must be JSON-serializable: {error}") from error
    if card is not None:
        _check_card(card)
        card_text = _card_json(card)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # Write to temporary names first so an interrupted save never leaves a half-written model.
    temporary = model_path.with_suffix(".pkl.mslearn-tmp")
    with open(temporary, "wb") as file:
        pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
    record_path.write_text(record_text + "\n")
    if card is not None:
        json_path, markdown_path = _card_paths(model_path)
        json_path.write_text(card_text + "\n")
        markdown_path.write_text(_card_markdown(card))
    temporary.replace(model_path)
    return model_path


def read_record(path) -> dict:
    """The record :func:`save` wrote beside a model: ``model`` (class), ``saved`` (UTC time),
    ``versions`` and ``metadata``; ``{"versions": {}}`` when the model has no record."""
    model_path, record_path = _paths(path)
    if not model_path.exists():
        raise FileNotFoundError(f"no saved model at {model_path}")
    return json.loads(record_path.read_text()) if record_path.exists() else {"versions": {}}


def load(path):
    """Load a model saved by :func:`save`; warn if package versions differ from the saved ones.

    Returns the model; :func:`read_record` gives the record saved with it.
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
        model = pickle.load(file)
    return model


# ----------------------------------------------------------------------------- model cards
_CARD_FIELDS = ("model", "intended_use", "limitations", "training_data", "metrics", "versions", "created")


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
        The fitted model (its class and, for a scikit-learn estimator, its hyper-parameters are recorded).
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
        ``datapackage.json`` (:mod:`mslearn.datasets.sharing`).
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
    training = _training_range(training_data, feature_names)
    if data_source is not None:
        training["source"] = _jsonable(data_source)
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
    lines = [f"# Model card: `{card['model']['class']}`", "", "## Intended use", "", card["intended_use"], "",
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
    """The model card :func:`save` wrote beside a model (``path.card.json``)."""
    model_path, _ = _paths(path)
    json_path, _ = _card_paths(model_path)
    if not json_path.exists():
        raise FileNotFoundError(f"no model card at {json_path}; save the model with card=model_card(...)")
    card = json.loads(json_path.read_text())
    _check_card(card)
    return card


def outside_training_range(card, X) -> np.ndarray:
    """Which rows of ``X`` (n_samples, n_features) lie outside the card's per-input training range.

    Returns
    -------
    numpy.ndarray of bool, shape ``(n_samples,)``
        True where any input is below its training minimum or above its maximum (extrapolation).
    """
    _check_card(card)
    features = card["training_data"].get("features")
    if features is None:
        raise ValueError("the card records no per-input range (the model reads images); nothing to compare with")
    low = np.array([r["min"] for r in features.values()])
    high = np.array([r["max"] for r in features.values()])
    values = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=float)
    if values.ndim == 1 and len(low) == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != len(low):
        raise ValueError(f"X has shape {values.shape}; expected (n_samples, {len(low)}), the card's inputs "
                         f"{list(features)}")
    return np.any((values < low) | (values > high), axis=1)
