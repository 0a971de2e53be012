"""The software versions recorded with saved models (:mod:`mslearn.deployment`) and dataset stores
(:mod:`mslearn.datasets.store`), in one place (private; public as ``deployment.environment_versions``)."""
from __future__ import annotations

import platform
from importlib import metadata

# What a saved model or a dataset store depends on.
PACKAGES = ("mslearn", "numpy", "scipy", "torch", "scikit-learn", "pandas", "h5py")


def environment_versions() -> dict:
    """Versions of Python and of the packages a saved model or dataset depends on (None: not installed).

    Examples
    --------
    >>> from mslearn.deployment import environment_versions
    >>> sorted(environment_versions())[:3]
    ['h5py', 'mslearn', 'numpy']
    """
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
