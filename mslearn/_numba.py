"""Loops compiled by numba, on first call (private).

numba is a dependency (the FFT solver's element-wise maps, the reconstruction's exact swap search). It is
imported on the first call of a compiled function, so that importing mslearn does not wait for it (0.2 s).
"""
from __future__ import annotations

import functools
import importlib.util

#: Whether numba is installed.
NUMBA = importlib.util.find_spec("numba") is not None


def jit(function=None, *, inline=False):
    """``function`` compiled by numba on its first call (and cached on disk). A compiled function may call
    others made by ``jit`` (row kernels shared by several loops): they are compiled first, and the module's
    name for each then refers to its compiled form, which numba can call; ``jit(inline=True)`` marks such a
    kernel to be inlined into its callers (a call per row would cost more than a short row's work)."""
    if function is None:
        return functools.partial(jit, inline=inline)
    options = {"boundscheck": False, "inline": "always" if inline else "never"}
    compiled = None

    def compile_():
        nonlocal compiled
        if compiled is None:
            import numba
            for name in function.__code__.co_names:            # the jit functions this one calls
                helper = function.__globals__.get(name)
                if hasattr(helper, "compile_"):
                    function.__globals__[name] = helper.compile_()
            try:
                compiled = numba.njit(cache=True, **options)(function)
            except RuntimeError:         # numba finds no writable cache directory: compile in memory only
                compiled = numba.njit(**options)(function)
        return compiled

    @functools.wraps(function)
    def call(*args):
        return (compiled or compile_())(*args)
    call.compile_ = compile_
    return call
