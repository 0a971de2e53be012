"""Shared input handling and lattice helpers for :mod:`mslearn.descriptors` (private)."""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import _backend
from .._validation import (check_finite, check_labels, check_phase_present, check_probability,
                           check_spatial_ndim)


def is_float_input(x) -> bool:
    if isinstance(x, torch.Tensor):
        return x.dtype.is_floating_point
    return np.issubdtype(np.asarray(x).dtype, np.floating)


def result_dtype(x, dtype=None) -> torch.dtype:
    """float64 for numpy input, the input's float dtype for float tensors, else torch's default; a given
    ``dtype`` (a torch or numpy floating dtype) as the torch dtype."""
    if dtype is not None:
        return _float_dtype(dtype)
    if not isinstance(x, torch.Tensor):
        return torch.float64
    return x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()


def _float_dtype(dtype) -> torch.dtype:
    """A torch floating dtype from a torch or numpy one (np.float32, "float32"), else a TypeError."""
    converted = dtype
    if not isinstance(dtype, torch.dtype):
        try:
            converted = torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
        except (TypeError, ValueError):
            converted = None
    if converted is None or not converted.is_floating_point:
        raise TypeError(f"dtype = {dtype!r}; expected a floating-point dtype, torch.float32 or torch.float64 "
                        "(or the numpy equivalent)")
    return converted


def check_phase_arg(phase, name="phase"):
    if isinstance(phase, bool) or not isinstance(phase, (int, np.integer)):
        raise TypeError(f"{name} must be an integer phase label, got {type(phase).__name__}")
    if phase < 0:
        raise ValueError(f"{name}={phase} is negative; expected a phase label 0, 1, ...")


def indicator(x, phase=1, *, batch=False, name="labels", soft=True, dtype=None, device=None, present=True):
    """Validate ``x`` and return ``(field, ndim)`` with ``field`` of shape ``(batch, *spatial)``.

    Integer (or boolean) ``x`` holds phase labels and the field is the indicator of ``phase``, which must
    occur in ``x`` unless ``present=False``. With ``soft=True`` a floating-point ``x`` is a relaxed
    indicator of phase 1 with values in [0, 1] (``phase=0`` gives its complement ``1 - x``); with
    ``soft=False`` it must hold integer labels.
    """
    check_phase_arg(phase)
    ndim = check_spatial_ndim(x, name=name, batch=batch)
    out_dtype = result_dtype(x, dtype)
    if soft and is_float_input(x):
        try:
            check_finite(x, name=name)
            check_probability(x, name=name)
        except ValueError as error:
            raise ValueError(
                f"{error}; a floating-point {name} is read as a relaxed indicator of phase 1 with "
                "values in [0, 1] (pass integer phase labels as an integer array)") from error
        if phase not in (0, 1):
            raise ValueError(
                f"phase={phase} with a floating-point {name}: a float field is the relaxed indicator "
                "of phase 1 (phase=1) or of its complement (phase=0); pass integer labels for other phases")
        field = _backend.to_torch(x, device, dtype=out_dtype)
        if phase == 0:
            field = 1 - field
    else:
        check_labels(x, name=name, batch=batch)
        if present:
            check_phase_present(x, phase, name=name)
        tensor = _backend.to_torch(x, device)
        field = (tensor == phase).to(out_dtype)
    if not batch:
        field = field.unsqueeze(0)
    return field, ndim


def labels_tensor(labels, *, batch=False, name="labels", phase=None, device=None):
    """Validate integer labels and return ``(tensor (batch, *spatial), ndim)``."""
    ndim = check_spatial_ndim(labels, name=name, batch=batch)
    check_labels(labels, name=name, batch=batch)
    if phase is not None:
        check_phase_arg(phase)
        check_phase_present(labels, phase, name=name)
    tensor = _backend.to_torch(labels, device)
    if tensor.dtype.is_floating_point:
        tensor = tensor.round().long()
    return (tensor if batch else tensor.unsqueeze(0)), ndim


def finish(result, reference, batch):
    """Drop the batch axis added for unbatched input and return the kind of ``reference``."""
    if not batch:
        result = result[0]
    out = _backend.like(result, reference)
    if isinstance(out, np.ndarray) and out.ndim == 0:
        return float(out)
    return out


def shift(x, offsets, *, periodic, ndim):
    """``y[p] = x[p + offsets]`` over the last ``ndim`` axes; zero outside the image if not periodic."""
    dims = tuple(range(x.ndim - ndim, x.ndim))
    if periodic:
        return torch.roll(x, shifts=tuple(-int(o) for o in offsets), dims=dims)
    out = torch.zeros_like(x)
    src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    for dim, o in zip(dims, offsets):
        n = x.shape[dim]
        if abs(o) >= n:
            return out
        src[dim] = slice(o, n) if o >= 0 else slice(0, n + o)
        dst[dim] = slice(0, n - o) if o >= 0 else slice(-o, n)
    out[tuple(dst)] = x[tuple(src)]
    return out


def lattice_displacements(shape, device=None, dtype=torch.float64):
    """Signed displacement of each index of a map with origin at 0 (negative ones wrapped at the end).

    Index ``i`` of an axis of length ``n`` stands for ``i`` if ``i <= n // 2`` else ``i - n``: the
    minimum-image displacement of a periodic map, and exactly the layout of the non-periodic maps
    of length ``2 m - 1``.
    """
    out = []
    for n in shape:
        i = torch.arange(n, device=device)
        out.append(((i + n // 2) % n - n // 2).to(dtype))
    return out


def fft_good_size(n):
    """Smallest 2-3-5-smooth integer >= n (fast FFT length)."""
    best = 2 ** math.ceil(math.log2(max(n, 1)))
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best
