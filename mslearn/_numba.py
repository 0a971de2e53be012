"""Loops compiled by numba, on first call (private).

numba is a dependency (the FFT solver's element-wise maps, the reconstruction's exact swap search). It is
imported on the first call of a compiled function, so that importing mslearn does not wait for it (0.2 s).
"""
from __future__ import annotations

import functools
import importlib.util

#: Whether numba is installed.
NUMBA = importlib.util.find_spec("numba") is not None


def jit(function):
    """``function`` compiled by numba on its first call (and cached on disk)."""
    compiled = None

    @functools.wraps(function)
    def call(*args):
        nonlocal compiled
        if compiled is None:
            import numba
            try:
                compiled = numba.njit(cache=True, boundscheck=False)(function)
            except RuntimeError:         # numba finds no writable cache directory: compile in memory only
                compiled = numba.njit(boundscheck=False)(function)
        return compiled(*args)
    return call
