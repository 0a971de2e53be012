"""Input checks shared by every module, so that bad input always gets the same clear message.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong type) naming the argument, what was
found and what is expected.
"""
from __future__ import annotations

import hashlib
import numbers

import numpy as np
import torch

__all__ = [
    "check_labels",
    "check_spatial_ndim",
    "check_finite",
    "check_real",
    "check_positive",
    "check_probability",
    "check_in_range",
    "check_in_box",
    "check_phase_present",
    "check_properties",
]


def _describe(x) -> str:
    return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"


def _to_numpy_view(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_spatial_ndim(x, *, name="labels", spatial=(2, 3), batch=False):
    """Check that ``x`` has 2 or 3 spatial axes (plus one leading batch axis when ``batch``).

    Returns the number of spatial dimensions.
    """
    if not hasattr(x, "shape") or not hasattr(x, "ndim"):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    extra = 1 if check_flag(batch, name="batch") else 0
    allowed = tuple(d + extra for d in spatial)
    if x.ndim not in allowed:
        layout = "(batch, *spatial)" if batch else "(*spatial)"
        raise ValueError(
            f"{name} has {x.ndim} dimensions (shape {tuple(x.shape)}); expected {layout} "
            f"with {' or '.join(map(str, spatial))} spatial dimensions"
        )
    if any(s == 0 for s in x.shape):
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); expected a non-empty image")
    return x.ndim - extra


def check_labels(labels, *, name="labels", spatial=(2, 3), batch=False, n_phases=None):
    """Check an integer phase-label image and return its number of spatial dimensions.

    Accepts integer or boolean arrays, and float arrays whose values are all integers (for example
    images read from disk as float). Rejects NaN, negative labels, and labels ``>= n_phases`` when
    ``n_phases`` is given.
    """
    ndim = check_spatial_ndim(labels, name=name, spatial=spatial, batch=batch)
    values = _to_numpy_view(labels)
    if values.dtype == bool:
        return ndim
    if np.issubdtype(values.dtype, np.floating):
        if np.isnan(values).any():
            raise ValueError(f"{name} contains NaN; expected integer phase labels 0, 1, ...")
        if not np.all(values == np.round(values)):
            raise ValueError(
                f"{name} has non-integer values (dtype {values.dtype}); expected integer phase labels "
                "0, 1, ... (threshold or round a grey-scale image first)"
            )
    elif not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{name} must hold integer phase labels, got {_describe(values)}")
    low = values.min()
    if low < 0:
        raise ValueError(f"{name} contains the negative label {low}; expected phase labels 0, 1, ...")
    if n_phases is not None:
        high = values.max()
        if high >= n_phases:
            raise ValueError(
                f"{name} contains label {int(high)} but only {n_phases} phase properties were given "
                f"(labels 0..{n_phases - 1}); give a property for every phase label"
            )
    return ndim


def check_phase_present(labels, phase, *, name="labels"):
    """Check that ``phase`` occurs in ``labels`` (descriptors of an absent phase are meaningless)."""
    values = _to_numpy_view(labels)
    if not np.any(values == phase):
        present = np.unique(values)
        shown = ", ".join(map(str, present[:10])) + (" ..." if present.size > 10 else "")
        raise ValueError(f"phase {phase} does not occur in {name}; the labels present are {shown}")


def check_real(x, *, name):
    """Refuse complex numbers (an array, a tensor or a nested list): a conversion to float would drop the
    imaginary part with no more than a warning. Anything not array-like is left to the caller's conversion."""
    if isinstance(x, torch.Tensor):                         # its dtype: no copy of a GPU tensor to the host
        if x.is_complex():
            raise TypeError(f"{name} has the complex dtype {str(x.dtype).removeprefix('torch.')}; expected real "
                            "numbers")
        return x
    try:
        values = _to_numpy_view(x)
    except ValueError:                                      # ragged: the caller's conversion says so
        return x
    if np.issubdtype(values.dtype, np.complexfloating):
        raise TypeError(f"{name} has the complex dtype {values.dtype}; expected real numbers")
    return x


def real_number(value):
    """A real number (a Python or numpy number, or a 0-d array or tensor of one) as a float; None for anything
    else: a bool or a string (which float() reads as numbers), a complex number, an array of several values."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    elif isinstance(value, torch.Tensor) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def real_array(value, *, name):
    """``value`` as a float64 array. Refused by name (TypeError): complex numbers (a conversion would drop the
    imaginary part), bools and strings (which float() reads as numbers), None and other objects that are not
    numbers; an object array (e.g. of Fractions) is left to the conversion."""
    check_real(value, name=name)
    try:
        kind = np.asarray(value).dtype
    except (TypeError, ValueError):                         # ragged: the conversion below says so
        kind = np.dtype(object)
    if kind == bool or not (np.issubdtype(kind, np.number) or kind == object):
        raise TypeError(f"{name} = {value!r} (dtype {kind}); expected real numbers")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} = {value!r}; expected real numbers") from None


def check_finite(x, *, name):
    values = _to_numpy_view(x)
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {values.dtype}")
    check_real(values, name=name)
    if not np.all(np.isfinite(values)):
        bad = "NaN" if np.isnan(values).any() else "an infinite value"
        raise ValueError(f"{name} contains {bad}; expected finite numbers")
    return x


def check_positive(x, *, name, strict=True):
    check_finite(x, name=name)
    values = _to_numpy_view(x)
    bad = values <= 0 if strict else values < 0
    if np.any(bad):
        expected = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} has the value {values[bad].flat[0]}; expected {expected}")
    return x


def check_sample_weight(sample_weight, n, *, unit="sample", least=1, reason=""):
    """The weights of ``n`` samples for a score: None, or float64 ``(n,)``, finite, >= 0, and positive for at least
    ``least`` of them (``reason`` says why, e.g. "(an R² needs two pairs)"); ``unit`` names a sample."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight.to_numpy() if hasattr(sample_weight, "to_numpy") else sample_weight)
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight has dtype {weights.dtype}; expected numbers, one weight >= 0 per {unit}")
    weights = weights.astype(np.float64)
    if weights.shape != (n,):
        raise ValueError(f"sample_weight has shape {weights.shape}; expected ({n},), one weight per {unit}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinite values; expected finite weights >= 0")
    if np.any(weights < 0):
        raise ValueError(f"sample_weight contains a negative weight ({weights.min():g}); expected weights >= 0")
    positive = int(np.count_nonzero(weights))
    if positive < least:
        raise ValueError(f"sample_weight is positive for {positive} of {n} {unit}s{' (all zero)' if positive == 0 else ''}"
                         f"; expected at least {least} positive weight{'s' if least > 1 else ''}"
                         f"{' ' + reason if reason else ''}")
    return weights


def check_in_range(x, low, high, *, name, inclusive=(True, True)):
    check_finite(x, name=name)
    values = _to_numpy_view(x)
    too_low = values < low if inclusive[0] else values <= low
    too_high = values > high if inclusive[1] else values >= high
    if np.any(too_low | too_high):
        left = "[" if inclusive[0] else "("
        right = "]" if inclusive[1] else ")"
        offender = values[too_low | too_high].flat[0]
        raise ValueError(f"{name} = {offender} is outside {left}{low}, {high}{right}")
    return x


def check_in_box(x, bounds, *, name, domain, tol=1e-12):
    """Points ``x`` ``(..., d)`` inside the box ``bounds`` (one ``(low, high)`` per column), numpy or torch.

    NaN or an infinite value is refused (:func:`check_finite`), and so is a coordinate outside its range
    (:func:`check_in_range`), with ``domain`` (what the box is, e.g. "the Branin function's domain
    [-5, 10] x [0, 15]") added to the message. A coordinate at most ``tol * (high - low)`` beyond a bound
    (the rounding of a map from the unit cube) is taken as on it. Returned as a float64 numpy array,
    clipped into the box.
    """
    check_finite(x, name=name)
    values = np.array(_to_numpy_view(x), dtype=np.float64)
    for j, (low, high) in enumerate(bounds):
        column = values[..., j]
        slack = tol * (high - low)
        near = ((column < low) & (column >= low - slack)) | ((column > high) & (column <= high + slack))
        column[near] = np.clip(column[near], low, high)
        try:
            check_in_range(column, low, high, name=name if len(bounds) == 1 else f"{name}_{j + 1}")
        except ValueError as error:
            raise ValueError(f"{error}; expected points of {domain}") from None
    return values


def check_bounds(bounds):
    """A box: a ``(d, 2)`` float array of finite ``(low, high)`` pairs with ``low < high``."""
    try:
        array = np.asarray(list(bounds), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"bounds = {bounds!r}; expected a sequence of numeric (low, high) pairs, one per input, "
                         "e.g. [(0, 1), (-1, 1)]") from None
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"bounds has shape {array.shape}; expected (low, high) pairs, one per input, "
                         "e.g. [(0, 1), (-1, 1)]")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        i = bad[0]
        raise ValueError(f"bounds of input {i} are {tuple(array[i])}; expected finite (low, high)")
    bad = np.flatnonzero(array[:, 0] >= array[:, 1])
    if bad.size:
        i = bad[0]
        raise ValueError(f"bounds of input {i} are ({array[i, 0]:g}, {array[i, 1]:g}); expected low < high")
    return array


def check_evaluations(X, y, bounds, *, n_objectives=1, name="initial"):
    """Evaluated points ``X`` ``(n, d)`` with ``n >= 1``, inside the box ``bounds`` (from :func:`check_bounds`),
    and their finite values ``y``: ``(n,)`` or ``(n, 1)`` for one objective, ``(n, n_objectives)`` for several.
    Returned as float arrays ``(n, d)`` and ``(n, n_objectives)``."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    F = y[:, None] if n_objectives == 1 and y.ndim == 1 else y
    if X.ndim != 2 or X.shape[1] != len(bounds) or len(X) == 0 or F.shape != (len(X), n_objectives):
        expected = "(n,) or (n, 1)" if n_objectives == 1 else f"(n, {n_objectives})"
        raise ValueError(f"{name} has X of shape {X.shape} and y of shape {y.shape}; expected (n, {len(bounds)}) "
                         f"with n >= 1 and {expected}")
    if not (np.isfinite(X).all() and np.isfinite(F).all()):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite evaluations")
    outside = np.flatnonzero(((X < bounds[:, 0]) | (X > bounds[:, 1])).any(axis=1))
    if outside.size:
        raise ValueError(f"{name} has {outside.size} point(s) outside bounds (the first: row {outside[0]}, "
                         f"{X[outside[0]].tolist()}); expected evaluations inside the box searched")
    return X, F


def check_flag(value, *, name):
    """True or False (a numpy bool too), returned as a Python bool: a string such as "no" or a number would
    otherwise be read by its truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} = {value!r}; expected True or False")
    return bool(value)


def check_orthogonal(R, *, name="R"):
    r"""A rotation or reflection: ``(..., n, n)`` with :math:`R R^T = I` (to 1e-6 in float64, 1e-4 in
    lower precision), numpy or torch. A general matrix would scale the tensor it transforms, silently."""
    if R.ndim < 2 or R.shape[-1] != R.shape[-2]:
        raise ValueError(f"{name} has shape {tuple(R.shape)}; expected square matrices (..., n, n)")
    if isinstance(R, torch.Tensor):
        with torch.no_grad():
            gram = (R @ R.transpose(-1, -2)).detach().cpu().double().numpy()
        tol = 1e-6 if R.dtype == torch.float64 else 1e-4
    else:
        gram = np.asarray(R @ np.swapaxes(R, -1, -2), dtype=np.float64)
        tol = 1e-6 if np.asarray(R).dtype == np.float64 else 1e-4
    off = np.abs(gram - np.eye(R.shape[-1])).max() if gram.size else 0.0
    if not off <= tol:
        raise ValueError(f"{name} is not orthogonal: R Rᵀ differs from the identity by {off:.3g}; expected a "
                         "rotation or reflection (a general matrix would scale the tensor)")
    return R


def check_integer(value, least, *, name):
    """An integer (not a bool) of at least ``least``, returned as a Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {least}, got {type(value).__name__} {value!r}")
    if value < least:
        raise ValueError(f"{name} = {value}; expected an integer >= {least}")
    return int(value)


def check_relative_tolerance(tol, *, name="tol"):
    """A relative residual tolerance ``0 < tol < 1``, returned as a float. The residuals of the iterative
    solvers are relative to a scale they cannot exceed at the start, so ``tol >= 1`` would stop before the
    first iteration and report the untouched start as converged (NaN fails the check too)."""
    if not isinstance(tol, numbers.Real):
        raise TypeError(f"{name} = {tol!r}; expected a relative residual 0 < {name} < 1")
    if not 0 < tol < 1:                                 # True and False are read as 1 and 0: refused too
        raise ValueError(f"{name} = {tol!r}; expected a relative residual 0 < {name} < 1")
    return float(tol)


def check_solver_dtype(dtype):
    """The floating dtype of a solver's fields: ``torch.float64`` or ``torch.float32``."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype={dtype!r}; expected torch.float64 or torch.float32")
    return dtype


def check_probability(x, *, name):
    """Check a relaxed phase field / volume fraction lies in [0, 1]."""
    return check_in_range(x, 0.0, 1.0, name=name)


def check_properties(properties, *, name, n_labels=None):
    """Check a sequence of per-phase properties (one entry per label) is non-empty and finite."""
    if isinstance(properties, (numbers.Number, np.ndarray, torch.Tensor)) and np.ndim(
        _to_numpy_view(properties)
    ) == 0:
        raise TypeError(f"{name} must be a sequence with one entry per phase label, got a scalar")
    if isinstance(properties, (dict, set, frozenset, str, bytes)):
        # a dict {label: value} would be read by its keys, a set in no defined order
        raise TypeError(f"{name} is a {type(properties).__name__}; expected a sequence with one entry per phase "
                        f"label, in label order ({name}[i] for label i), e.g. a list")
    if len(properties) == 0:
        raise ValueError(f"{name} is empty; expected one entry per phase label")
    if n_labels is not None and len(properties) < n_labels:
        raise ValueError(
            f"{name} has {len(properties)} entries but the labels go up to {n_labels - 1}; "
            "give one entry per phase label"
        )
    return properties


def differing_settings(stored, requested):
    """The names whose values differ between two settings mappings: ``requested``'s order, then the
    names only ``stored`` has."""
    missing = object()
    names = list(requested) + [name for name in stored if name not in requested]
    return [name for name in names if stored.get(name, missing) != requested.get(name, missing)]


def array_digest(array):
    """A short fingerprint of an array (shape, dtype and bytes), to compare settings without keeping the data."""
    array = np.ascontiguousarray(array)
    return f"{array.shape} {array.dtype} sha256 {hashlib.sha256(array.tobytes()).hexdigest()[:16]}"


def check_same_settings(stored, requested, *, problem, remedy):
    """Refuse to continue or extend work made with other settings: raises ``ValueError`` saying
    ``problem``, the names that differ, and ``remedy``."""
    differ = differing_settings(stored, requested)
    if differ:
        raise ValueError(f"{problem}; differs in: {', '.join(differ)}; {remedy}")


def check_density_design(design, shape, *, name="initial", alternative=None, shape_text=None):
    """A design of densities in [0, 1] with the given shape, as a float ndarray (a copy).

    ``alternative`` names what else the argument may be, for the message of a wrong type;
    ``shape_text`` says whose shape it must have (default: the shape itself)."""
    shape = tuple(shape)
    shape_text = shape_text or f"shape {shape}"
    try:
        x = np.array(design, dtype=float)
    except (TypeError, ValueError):
        expected = f"{alternative} or a design" if alternative else "a design"
        raise TypeError(f"{name} is {type(design).__name__}; expected {expected} of densities, shape {shape}") from None
    if x.shape != shape:
        raise ValueError(f"{name} has shape {x.shape}; expected {shape_text}")
    check_in_range(x, 0.0, 1.0, name=f"{name} (densities)")
    return x
