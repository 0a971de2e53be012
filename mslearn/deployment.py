"""Save a trained model with the software versions that made it, and load it back.

A model file alone does not say which package versions can read it or reproduce it; step VI of the
ML workflow (deployment) needs both. ``save`` writes two files side by side: ``<name>.pkl`` (the
model, pickled) and ``<name>.json`` (versions, creation time, and any metadata you pass: feature
names, units, training-set description, scores). ``load`` warns when the running versions differ.

Pickle runs code when it loads: only load model files you made or trust.
"""
from __future__ import annotations

import datetime
import json
import pickle
import warnings
from pathlib import Path

from ._versions import environment_versions

__all__ = ["save", "load", "read_record", "environment_versions", "VersionMismatchWarning"]



class VersionMismatchWarning(UserWarning):
    """A model is loaded with package versions that differ from the ones it was saved with."""


def _paths(path):
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in {".pkl", ".json"} else path
    return stem.with_name(stem.name + ".pkl"), stem.with_name(stem.name + ".json")


def save(model, path, *, metadata=None) -> Path:
    """Save ``model`` to ``path.pkl`` with a ``path.json`` record of versions and ``metadata``.

    Parameters
    ----------
    model : object
        A fitted estimator (anything picklable; torch surrogates store their weights on the CPU).
    path : str or Path
        Target without suffix (a ``.pkl`` or ``.json`` suffix is accepted and replaced).
    metadata : dict, optional
        JSON-serializable description: feature names, units, scores, data provenance.

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
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # Write to temporary names first so an interrupted save never leaves a half-written model.
    temporary = model_path.with_suffix(".pkl.mslearn-tmp")
    with open(temporary, "wb") as file:
        pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
    record_path.write_text(record_text + "\n")
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
