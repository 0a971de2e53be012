r"""Generate, store and load solver datasets: resumable HDF5 stores with a dataset card.

:func:`generate` samples generator parameters with a quasi-random design, calls a *sampler* (which
builds the structures, homogenizes them in batches and computes descriptors) and writes everything,
batch by batch, to one HDF5 file; :func:`load` reads it back as a :class:`Dataset` with pandas
tables, numpy arrays, reproducible splits and a ``torch.utils.data.Dataset`` view.

Design of experiments
---------------------
Parameters are drawn from the box of ranges ``{"name": (low, high)}`` (or ``(low, high, "log")`` for
a log-uniform range) with ``scipy.stats.qmc``: a scrambled, seeded Sobol sequence (``"sobol"``,
default; Sobol 1967, Owen scrambling; :func:`sobol_sequence`, the package's one Sobol engine, also
behind :mod:`mslearn.sensitivity`) or a Latin hypercube (``"lhs"``, McKay et al. 1979). Both fill
the box far more evenly than independent uniform draws, so fewer solver calls cover it. The Sobol
sequence is *extensible*: the first ``n`` points do not depend on how many are drawn, which is what
lets a store grow. A Latin hypercube design depends on its size, so an LHS store cannot be extended.

Reproducibility and resuming
----------------------------
Sample ``i`` gets its own seed from ``numpy.random.SeedSequence(seed, spawn_key=(i,))``, so its
content depends only on ``(seed, i)`` and the configuration, never on batch boundaries. After each
batch the rows are written, the file is flushed and only then the attribute ``n_complete`` is raised:
an interruption leaves a consistent store (rows beyond ``n_complete`` are ignored and overwritten).
Calling :func:`generate` again with the same configuration continues at ``n_complete``; a larger
``n_samples`` appends; a different configuration (parameter space, sampler, seed, method, metadata)
raises ``ValueError`` instead of mixing data.

Distributed generation
----------------------
``generate(..., client=client)`` computes the batches on the workers of a
``dask.distributed.Client`` (a laptop's :class:`~dask.distributed.LocalCluster`, one worker per GPU,
an HPC cluster through dask-jobqueue) and writes them here, in the client process. Why so little
code: dask already does the hard parts (scheduling, shipping the sampler, and recomputing a batch
whose worker died, because a task is only done when its result reached the scheduler); what is
written here is the glue that a store needs on top: a bounded window of batches in flight, a writer
that writes them strictly in sample order (a batch that finishes early waits in memory for the ones
before it), and the same ``n_complete`` bookkeeping as the serial loop. Hence

* the data are bit-identical to a serial run with the same ``batch_size`` (each sample is seeded by
  its own ``SeedSequence``; the batch boundaries are the same),
* no sample is lost, duplicated or reordered when a worker dies (dask reruns its batch; rows are
  written at their sample numbers) or when the client dies (the store holds a complete prefix, and
  :func:`generate` called again with any client, or none, continues at ``n_complete``),
* a sampler that raises stops the run with the failing batch's sample numbers, after the batches
  before it were written.

A sampler that takes ``device="auto"`` resolves it on each worker, so on a GPU machine with one
worker per device (``CUDA_VISIBLE_DEVICES``) every worker uses its own GPU.

Why HDF5 (h5py)
---------------
One self-describing file per dataset, chunked and gzip-compressed, with resizable datasets (the
store grows batch by batch) and attributes for the metadata; readers exist for every language and
tool (h5py, HDFView, MATLAB, Julia), and h5py is already a dependency of mslearn. Zarr offers the
same model but would add a dependency and write a directory of many small files, which is awkward
to cache, copy and cite. The layout is::

    /                 attrs: n_complete, n_requested, config (JSON), metadata (JSON), card (markdown),
                      versions (JSON), former_versions (JSON list, where other versions computed samples)
    /seeds            (n,) int64 per-sample seeds
    /parameters/<p>   (n,) float64 sampled generator parameters
    /descriptors/<p>  (n,) measured descriptors (shown as extra columns of ``Dataset.parameters``)
    /targets/<t>      (n,) scalar targets
    /arrays/<a>       (n, ...) images, tensors
    /ragged/<r>/values, /ragged/<r>/offsets   variable-length per-sample data (graphs)

A human-readable card ``<name>.README.md`` is written next to the ``.h5`` file (several stores can
share a folder, if their names differ before the extension: ``a.h5`` and ``a.hdf5`` would share one card,
and are refused) and the same text is stored in the ``card`` attribute.

References: I. M. Sobol', USSR Comput. Math. Math. Phys. 7, 86 (1967); M. D. McKay, R. J. Beckman,
W. J. Conover, Technometrics 21, 239 (1979); A. B. Owen, scrambled nets (1995, 1998).
"""
from __future__ import annotations

import datetime
import functools
import glob
import hashlib
import inspect
import json
import math
import numbers
import re
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from scipy.stats import qmc
from tqdm.auto import tqdm

from .._validation import check_flag, check_integer, check_same_settings
from .._versions import environment_versions

__all__ = ["generate", "load", "Dataset", "sample_parameters", "sample_seeds", "sobol_sequence", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_GROUPS = ("descriptors", "targets", "arrays")


# ----------------------------------------------------------------------------- parameter space
def _check_space(parameter_space):
    """Validate ``{"name": (low, high[, "log"|"linear"])}``; return ``{name: (low, high, scale)}``."""
    if not isinstance(parameter_space, dict) or not parameter_space:
        raise ValueError("parameter_space must be a non-empty dict {name: (low, high)} or "
                         "{name: (low, high, 'log')}")
    space = {}
    for name, spec in parameter_space.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"parameter_space key {name!r} is not a valid name; expected a non-empty "
                             "string without '/'")
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(f"parameter_space[{name!r}] = {spec!r}; expected (low, high) or (low, high, 'log')")
        scale = spec[2] if len(spec) == 3 else "linear"
        if scale not in ("linear", "log"):
            raise ValueError(f"parameter_space[{name!r}] has scale {scale!r}; expected 'linear' or 'log'")
        try:
            low, high = float(spec[0]), float(spec[1])
        except (TypeError, ValueError) as error:
            raise ValueError(f"parameter_space[{name!r}] = {spec!r}; low and high must be numbers") from error
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"parameter_space[{name!r}] = {spec!r} contains NaN or inf; expected finite bounds")
        if not low < high:
            raise ValueError(f"parameter_space[{name!r}] has low = {low} >= high = {high}; expected low < high")
        if scale == "log" and low <= 0:
            raise ValueError(f"parameter_space[{name!r}] is log-uniform but low = {low} <= 0; expected low > 0")
        space[name] = (low, high, scale)
    return space


class _SeedStream(np.random.bit_generator.ISpawnableSeedSequence):
    """``numpy.random.SeedSequence(seed)`` whose spawned children are the sequence itself.

    scipy's ``qmc.Sobol(rng=...)`` scrambles with a child spawned from the Generator it is given,
    so ``rng=default_rng(seed)`` scrambles with a different stream than the deprecated
    ``seed=seed`` (which used ``default_rng(seed)`` itself). Handing scipy a Generator on this
    sequence makes the child draw the same words as ``default_rng(seed)``: the designs of stores
    written before (and the points a store appends when it grows) stay the same.
    """

    def __init__(self, seed):
        self._sequence = np.random.SeedSequence(seed)

    def generate_state(self, n_words, dtype=np.uint32):
        return self._sequence.generate_state(n_words, dtype)

    def spawn(self, n_children):
        return [self._sequence] * n_children


def sobol_sequence(dimension, n_samples, *, seed, scramble=True):
    """The first ``n_samples`` points of a (scrambled) Sobol sequence in ``[0, 1)^dimension``.

    The one Sobol engine of the package (:func:`sample_parameters` and
    :func:`mslearn.sensitivity.saltelli_sample` draw from it), over :class:`scipy.stats.qmc.Sobol`.
    The sequence is *extensible*: point ``i`` does not depend on ``n_samples``. It is balanced (each
    dyadic box holds its share of points) when ``n_samples`` is a power of two; other counts take the
    first ``n_samples`` points of the next power of two, without scipy's balance warning.

    Parameters
    ----------
    dimension : int
        Number of coordinates, >= 1.
    n_samples : int
        Number of points, >= 0 (named as in :func:`sample_parameters`).
    seed : int or numpy.random.Generator
        Seeds the Owen scrambling with digital shift (``None`` is refused: ValueError). An int >= 0
        scrambles with the stream of ``numpy.random.default_rng(seed)``; a Generator with an independent
        child of it (spawned by scipy), which leaves the Generator's own stream to the caller.
    scramble : bool
        Scrambled (default) or the plain sequence, whose first point is the origin and on which
        ``seed`` has no effect.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, dimension)``.

    Examples
    --------
    >>> from mslearn.datasets import sobol_sequence
    >>> sobol_sequence(2, 4, seed=0, scramble=False).tolist()
    [[0.0, 0.0], [0.5, 0.5], [0.75, 0.25], [0.25, 0.75]]
    """
    dimension = check_integer(dimension, 1, name="dimension")
    n = check_integer(n_samples, 0, name="n_samples")
    engine = _qmc_engine(qmc.Sobol, int(dimension), seed, scramble=check_flag(scramble, name="scramble"))
    return engine.random_base2(max(0, math.ceil(math.log2(max(n, 1)))))[:n]


def _qmc_engine(engine, dimension, seed, **options):
    """``engine(dimension, rng=..., **options)`` seeded from an int (as scipy's deprecated ``seed=int``
    did, see :class:`_SeedStream`) or from a ``numpy.random.Generator``. ``None`` and a negative int are
    refused (ValueError) as by :func:`mslearn._backend.rng`."""
    if isinstance(seed, np.random.Generator):
        generator = seed
    elif seed is None:
        raise ValueError("seed is None; pass an integer seed so that results are reproducible")
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed = check_integer(seed, 0, name="seed")     # numpy's own message for -1 named no argument
        generator = np.random.Generator(np.random.PCG64(_SeedStream(seed)))
    else:
        raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__} {seed!r}")
    try:
        return engine(dimension, rng=generator, **options)
    except TypeError:  # scipy < 1.15 names the argument ``seed`` (pyproject allows scipy >= 1.10)
        return engine(dimension, seed=generator, **options)


def sample_parameters(parameter_space, n_samples, *, seed, method="sobol", start=0):
    """Design points ``start`` to ``n_samples - 1`` over ``parameter_space`` as a DataFrame.

    Parameters
    ----------
    parameter_space : dict
        ``{"name": (low, high)}`` (uniform) or ``{"name": (low, high, "log")}`` (log-uniform).
    n_samples : int
        Total number of design points (points ``start:`` are returned).
    seed : int
        Seeds the scrambling (Sobol) or the permutations (LHS).
    method : {"sobol", "lhs"}
        Scrambled Sobol sequence (extensible: point ``i`` does not depend on ``n_samples``) or
        Latin hypercube (depends on ``n_samples``).
    start : int, default 0
        Index of the first point returned, ``0 <= start < n_samples``: the points of a design
        extended from ``start`` to ``n_samples`` samples, the earlier ones unchanged.

    Returns
    -------
    pandas.DataFrame with one column per parameter, index ``start .. n_samples - 1``.

    Examples
    --------
    The Sobol design is extensible: the points 4..7 of an 8-point design extend the 4-point one.

    >>> space = {"phi": (0.1, 0.5), "k": (1.0, 100.0, "log")}
    >>> design = sample_parameters(space, 8, seed=0)
    >>> design.shape, bool(design.phi.between(0.1, 0.5).all() and design.k.between(1.0, 100.0).all())
    ((8, 2), True)
    >>> sample_parameters(space, 4, seed=0).equals(design.iloc[:4])
    True
    >>> sample_parameters(space, 8, seed=0, start=4).equals(design.iloc[4:])
    True
    """
    space = _check_space(parameter_space)
    n_samples = _check_count(n_samples, "n_samples")
    seed = _check_seed(seed)
    start = check_integer(start, 0, name="start")
    if start >= n_samples:
        raise ValueError(f"start = {start!r}; expected the index of the first point, 0 <= start < n_samples = {n_samples}")
    if method not in ("sobol", "lhs"):
        raise ValueError(f"method={method!r} is unknown; expected 'sobol' or 'lhs'")
    d = len(space)
    if method == "sobol":
        unit = sobol_sequence(d, n_samples, seed=seed)
    else:
        unit = _qmc_engine(qmc.LatinHypercube, d, seed).random(n_samples)
    columns = {}
    for j, (name, (low, high, scale)) in enumerate(space.items()):
        u = unit[start:, j]
        if scale == "log":
            columns[name] = np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
        else:
            columns[name] = low + u * (high - low)
    return pd.DataFrame(columns, index=pd.RangeIndex(start, n_samples))


def sample_seeds(seed, start, stop):
    """Per-sample int64 seeds from ``SeedSequence(seed, spawn_key=(i,))`` for ``i`` in ``start:stop``.

    Examples
    --------
    Sample i's seed does not depend on the range asked for, so a resumed or extended store repeats it:

    >>> seeds = sample_seeds(0, 0, 3)
    >>> seeds.dtype, bool((sample_seeds(0, 2, 3) == seeds[2:]).all())
    (dtype('int64'), True)
    """
    seed = _check_seed(seed)
    start = check_integer(start, 0, name="start")
    stop = check_integer(stop, 0, name="stop")
    if start > stop:
        raise ValueError(f"start = {start} > stop = {stop}; expected the samples start:stop, start <= stop")
    return np.array([int(np.random.SeedSequence(seed, spawn_key=(i,)).generate_state(1, np.uint64)[0] >> 1)
                     for i in range(start, stop)], dtype=np.int64)


def _check_count(n, name):
    return check_integer(n, 1, name=name)


def _check_seed(seed):
    """A non-negative int seed; a ``numpy.random.Generator`` is drawn from once for one (stores record
    the int, so that a store can be extended and its design reproduced)."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed = {seed!r}; expected a non-negative integer or a numpy.random.Generator "
                         "(stores record the int)")
    return int(seed)


def _sampler_name(sampler):
    """How the configuration names the sampler, so that extending a store with another sampler is refused:
    its ``name`` attribute where it has one (the caller vouches for it), else module and qualified name,
    with a ``functools.partial``'s arguments; for a lambda or a local function (whose qualified name
    does not tell one from another), a digest of its code, its default arguments and the values it closes
    over; for a callable instance or a bound method (named by its class), a digest of the instance's
    settings (:func:`_settings_digest`)."""
    name = getattr(sampler, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(sampler, functools.partial):
        bound = [_stable_repr(a) for a in sampler.args] + [f"{k}={_stable_repr(v)}" for k, v in
                                                          sorted(sampler.keywords.items())]
        return f"{_sampler_name(sampler.func)}({_short(', '.join(bound))})"
    if not hasattr(sampler, "__qualname__"):           # an instance: Scaled(1.0) and Scaled(1000.0) share a class
        kind = type(sampler)
        return f"{kind.__module__}.{kind.__qualname__}{_settings_digest(sampler)}"
    owner = getattr(sampler, "__self__", None)
    if inspect.ismethod(sampler) and not isinstance(owner, type):    # a bound method: its instance's settings too
        return f"{sampler.__module__}.{sampler.__qualname__}{_settings_digest(owner)}"
    qualname = sampler.__qualname__
    text = f"{getattr(sampler, '__module__', '?')}.{qualname}"
    code = getattr(sampler, "__code__", None)
    if code is not None and ("<lambda>" in qualname or "<locals>" in qualname):
        cells = [_stable_repr(cell.cell_contents) for cell in (sampler.__closure__ or ())]
        body = _stable_repr((code.co_code, code.co_consts, code.co_names, cells))
        defaults = (getattr(sampler, "__defaults__", None), getattr(sampler, "__kwdefaults__", None))
        if defaults != (None, None):                   # only then: the digests of stores without defaults stay
            body += _stable_repr(defaults)
        text += f"[code {hashlib.sha256(body.encode()).hexdigest()[:12]}]"
    return text


def _settings_digest(instance):
    """``[settings <digest>]`` of an instance's public attributes that hold plain values (numbers, strings,
    None, arrays, and tuples, lists and dicts of them), in the order of their names; ``""`` where it has
    none. Only these: a counter, a cache, a random generator or a set (whose order changes from one
    process to the next) would change the name of the same sampler between runs, and a resumed store would
    be refused. A sampler whose settings are held otherwise names itself with a ``name`` attribute."""
    def plain(value):
        if value is None or isinstance(value, (numbers.Number, str, bytes, np.ndarray, np.generic)):
            return True
        if isinstance(value, (tuple, list)):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return False
    settings = sorted((key, value) for key, value in getattr(instance, "__dict__", {}).items()
                      if not key.startswith("_") and plain(value))
    if not settings:
        return ""
    text = _stable_repr([(key, value) for key, value in settings])
    return f"[settings {hashlib.sha256(text.encode()).hexdigest()[:12]}]"


def _stable_repr(value):
    """``repr`` with whole arrays (numpy's default elides the middle of large ones) and without memory
    addresses (``<function f at 0x...>``), which change from one process to the next."""
    with np.printoptions(threshold=sys.maxsize):
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _short(text, limit=200):
    return text if len(text) <= limit else f"sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _json(value, what):
    try:
        return json.dumps(value, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serializable: {error}") from error


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


# ----------------------------------------------------------------------------- sampler output
def _split_output(output, n, names):
    """Check a sampler's output for a batch of ``n``; return {group: {name: array}} and ragged lists."""
    if not isinstance(output, dict):
        raise ValueError(f"the sampler returned {type(output).__name__}; expected a dict of arrays")
    groups = {"descriptors": {}, "targets": {}, "arrays": {}}
    ragged = {}
    for key, value in output.items():
        if key == "descriptors":
            if not isinstance(value, dict):
                raise ValueError("the sampler's 'descriptors' entry must be a dict of 1D arrays")
            for name, column in value.items():
                groups["descriptors"][name] = _rows(column, n, f"descriptors[{name!r}]", scalar=True)
        elif key == "ragged":
            if not isinstance(value, dict):
                raise ValueError("the sampler's 'ragged' entry must be a dict of lists of arrays")
            for name, items in value.items():
                if not isinstance(items, (list, tuple)) or len(items) != n:
                    got = len(items) if isinstance(items, (list, tuple)) else type(items).__name__
                    raise ValueError(f"the sampler returned ragged[{name!r}] with {got} entries for a batch of "
                                     f"{n} samples; expected a list of {n} arrays")
                arrays = [np.asarray(a) for a in items]
                if any(a.ndim == 0 for a in arrays) or len({a.shape[1:] for a in arrays}) != 1:
                    raise ValueError(f"ragged[{name!r}] arrays must share their trailing shape and have ndim >= 1")
                ragged[name] = [_check_values(a, f"ragged[{name!r}][{i}]") for i, a in enumerate(arrays)]
        else:
            array = _rows(value, n, repr(key), scalar=False)
            groups["targets" if array.ndim == 1 else "arrays"][key] = array
    for group in groups.values():
        for name in group:
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(f"sampler output name {name!r} is invalid; expected a string without '/'")
            if name in names:
                raise ValueError(f"sampler output {name!r} clashes with a parameter of the same name")
    return groups, ragged


def _rows(value, n, what, scalar):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim == 0 or array.shape[0] != n:
        rows = "a scalar" if array.ndim == 0 else f"{array.shape[0]} rows"
        raise ValueError(f"the sampler returned {what} with {rows} for a batch of {n} samples; "
                         f"expected a leading axis of length {n}")
    if scalar and array.ndim != 1:
        raise ValueError(f"the sampler returned {what} with shape {array.shape}; expected ({n},)")
    return _check_values(array, what)


def _check_values(array, what):
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"the sampler returned {what} with NaN or infinite values; expected finite numbers")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"the sampler returned {what} of dtype {array.dtype}; expected numbers")
    return array


# ----------------------------------------------------------------------------- writing
def _config(space, sampler_name, seed, method, metadata):
    return {"format_version": FORMAT_VERSION, "parameter_space": [[k, *v] for k, v in space.items()],
            "sampler": sampler_name, "seed": seed, "method": method, "metadata": metadata}


def _create_or_extend(dataset_parent, name, array, capacity):
    if name not in dataset_parent:
        chunk_rows = max(1, min(256, (1 << 20) // max(1, array[0].nbytes)))
        kwargs = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if array[0].size > 1 else {}
        return dataset_parent.create_dataset(name, shape=(capacity,) + array.shape[1:],
                                             maxshape=(None,) + array.shape[1:], dtype=array.dtype,
                                             chunks=(chunk_rows,) + array.shape[1:], **kwargs)
    ds = dataset_parent[name]
    if ds.shape[1:] != array.shape[1:]:
        raise ValueError(f"the sampler returned {name!r} with per-sample shape {array.shape[1:]}, but the "
                         f"store holds {ds.shape[1:]}; expected the same shape for every batch")
    _check_cast(array, ds.dtype, repr(name))
    if ds.shape[0] < capacity:
        ds.resize(capacity, axis=0)
    return ds


def _check_cast(values, dtype, name):
    """A later batch fits the dtype the first one set: of the same kind, and into an integer dtype only
    when every value survives the cast (an int8 column would wrap 300 to 44, 0.7 would become 0)."""
    if not np.can_cast(values.dtype, dtype, casting="same_kind") or (
            dtype.kind in "biu" and not np.array_equal(values.astype(dtype), values)):
        raise ValueError(f"the sampler returned {name} of dtype {values.dtype}, but the store holds {dtype} (set by "
                         "the first batch) and the values do not fit it; return the same dtype in every batch")


def _write_batch(file, start, params, seeds, groups, ragged):
    stop = start + len(seeds)
    if start > 0:
        for group in _GROUPS + ("ragged",):
            new = set(ragged) if group == "ragged" else set(groups[group])
            old = set(file[group]) if group in file else set()
            if new != old:
                raise ValueError(f"the sampler returned {group} {sorted(new)}, but earlier batches returned "
                                 f"{sorted(old)}; expected the same names in every batch")
    if start == 0 or "order" not in file.attrs:
        file.attrs["order"] = json.dumps({group: list(entries) for group, entries in groups.items()})
    for name, column in params.items():
        _create_or_extend(file.require_group("parameters"), name, column, stop)[start:stop] = column
    _create_or_extend(file, "seeds", seeds, stop)[start:stop] = seeds
    for group, entries in groups.items():
        for name, array in entries.items():
            _create_or_extend(file.require_group(group), name, array, stop)[start:stop] = array
    for name, arrays in ragged.items():
        group = file.require_group("ragged").require_group(name)
        if "offsets" not in group:
            group.create_dataset("offsets", shape=(1,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
            group["offsets"][0] = 0
        offsets = group["offsets"]
        if offsets.shape[0] < stop + 1:
            offsets.resize(stop + 1, axis=0)
        first = int(offsets[start])
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        offsets[start + 1:stop + 1] = first + np.cumsum(lengths)
        values = np.concatenate(arrays, axis=0)
        if "values" not in group:
            group.create_dataset("values", shape=(first + len(values),) + values.shape[1:],
                                 maxshape=(None,) + values.shape[1:], dtype=values.dtype,
                                 chunks=(max(1, min(4096, len(values))),) + values.shape[1:],
                                 compression="gzip", shuffle=True)
        stored = group["values"]
        if stored.shape[1:] != values.shape[1:]:
            raise ValueError(f"ragged[{name!r}] has trailing shape {values.shape[1:]}, the store holds {stored.shape[1:]}")
        _check_cast(values, stored.dtype, f"ragged[{name!r}]")
        if stored.shape[0] < first + len(values):
            stored.resize(first + len(values), axis=0)
        stored[first:first + len(values)] = values


def _sample_batch(sampler, parameters, seeds, names):
    """One batch on a worker: the sampler's output, checked and moved to numpy (torch tensors on a
    GPU become host arrays before they travel)."""
    output = sampler(parameters, seeds)
    return _split_output(output, len(seeds), names)


def _generate_on_client(client, file, sampler, design, space, seed, n_complete, n_samples, batch_size, bar,
                        path):
    """Compute batches ``n_complete .. n_samples`` on ``client``'s workers; write them in order to ``file``.

    At most ``2 * threads + 2`` batches are submitted and not yet written, which bounds the memory of
    the writer (finished batches wait for the earlier ones) and keeps every worker busy.
    """
    from dask.distributed import as_completed   # imported here: dask is needed only with a client
    import uuid

    threads = sum(client.nthreads().values())
    if threads < 1:
        raise ValueError(f"the dask client {client!r} has no workers; start some (or pass client=None)")
    window = 2 * threads + 2
    token = uuid.uuid4().hex[:8]
    starts = list(range(n_complete, n_samples, batch_size))
    futures, results = {}, {}
    queue = as_completed(with_results=True, raise_errors=False)
    submitted = written = 0            # counts of batches, in the order of ``starts``

    def submit():
        nonlocal submitted
        while submitted < len(starts) and submitted - written < window:
            start = starts[submitted]
            stop = min(start + batch_size, n_samples)
            future = client.submit(_sample_batch, sampler, design.loc[start:stop - 1].copy(),
                                   sample_seeds(seed, start, stop), set(space),
                                   key=f"mslearn-generate-{path.stem}-{token}-{start}", pure=False)
            futures[future.key] = (start, future)
            queue.add(future)
            submitted += 1

    def pending_before(start):
        return any(s < start for s, _ in futures.values())

    failure = None                     # (start, error) of the first failing batch
    try:
        submit()
        for future, result in queue:   # results arrive with the futures: no second round trip
            entry = futures.pop(future.key, None)
            if entry is None:          # cancelled after a failure
                continue
            start = entry[0]
            if future.status != "finished":
                error = result[1] if future.status == "error" and isinstance(result, tuple) else result
                result = None
                if failure is None or start < failure[0]:
                    failure = (start, error if isinstance(error, BaseException) else RuntimeError(repr(error)))
                    later = [key for key, (s, _) in futures.items() if s > start]
                    client.cancel([futures.pop(key)[1] for key in later])
            future.release()
            if result is not None and (failure is None or start < failure[0]):
                results[start] = result
                bar.update(min(start + batch_size, n_samples) - start)
                while written < submitted and starts[written] in results:
                    first = starts[written]
                    last = min(first + batch_size, n_samples)
                    groups, ragged = results.pop(first)
                    params = design.loc[first:last - 1]
                    columns = {name: params[name].to_numpy(np.float64) for name in space}
                    _write_batch(file, first, columns, sample_seeds(seed, first, last), groups, ragged)
                    file.flush()
                    file.attrs["n_complete"] = last      # raised last: the batch is complete
                    file.flush()
                    written += 1
            if failure is None:
                submit()
            elif not pending_before(failure[0]):   # every batch before the failing one is written
                break
    finally:
        if futures:                    # an error or an interrupt: drop the batches still in flight
            client.cancel([future for _, future in futures.values()])
        queue.clear()
    if failure is not None:
        start, error = failure
        stop = min(start + batch_size, n_samples)
        what = f"samples {start}..{stop - 1} (batch of {stop - start})"
        kept = f"the store keeps its first {int(file.attrs['n_complete'])} samples; call generate again to resume"
        if type(error).__name__ == "KilledWorker":
            raise RuntimeError(f"workers kept dying while computing {what}: {error}; {kept}") from error
        if isinstance(error, ValueError):     # bad sampler output (or input): a ValueError, as serially
            raise ValueError(f"{what}: {error}; {kept}") from error
        raise RuntimeError(f"the sampler failed on {what}: {type(error).__name__}: {error}; {kept}") from error


def generate(path, sampler, parameter_space, n_samples, *, seed, method="sobol", batch_size=64,
             progress=False, metadata=None, client=None):
    r"""Generate (or resume, or extend) a dataset store at ``path`` and return it as a :class:`Dataset`.

    Parameters
    ----------
    path : str or Path
        The HDF5 file (conventionally ``.h5``). A card ``<stem>.README.md`` is written next to it, so
        another store with the same stem in the folder (``a.hdf5`` beside ``a.h5``) is refused.
    sampler : callable
        ``sampler(parameters, seeds) -> dict``: ``parameters`` is a DataFrame with the batch's rows
        (index = sample numbers), ``seeds`` an int64 array with one seed per row. It returns
        arrays whose leading axis has one entry per row: 1D numeric arrays are scalar **targets**,
        arrays with more axes are stored as **arrays** (images, tensors); the optional entries
        ``"descriptors"`` (dict of 1D arrays: measured descriptors, shown as extra parameter columns)
        and ``"ragged"`` (dict of lists of arrays with varying first axis, e.g. graphs). Its
        ``name`` attribute (else module and qualified name, with a ``functools.partial``'s arguments,
        a digest of a lambda's or local function's code, defaults and closure, and of a callable
        instance's or a bound method's settings: its public attributes of plain values) identifies it in
        the configuration. A sampler whose settings are held otherwise (objects, private attributes)
        should have a ``name`` that states them.
    parameter_space : dict
        ``{"name": (low, high)}`` or ``{"name": (low, high, "log")}`` (log-uniform).
    n_samples : int
        Total number of samples the store should hold, and the number returned: a store that holds
        more keeps them (:func:`load` reads them all) and returns its first ``n_samples``.
    seed : int or numpy.random.Generator
        Seeds the design and, through ``SeedSequence(seed, spawn_key=(i,))``, sample ``i`` (a
        Generator gives one int draw, which the store records).
    method : {"sobol", "lhs"}
        Design (see the module docstring). LHS stores cannot be extended.
    batch_size : int
        Samples per sampler call (and per flush); does not change the data.
    progress : bool
        Show a tqdm progress bar.
    metadata : dict, optional
        JSON-serializable description: phase properties, solver settings, ``description``,
        ``license``, ``attribution``. Part of the configuration (a different one raises).
    client : dask.distributed.Client, optional
        Compute the batches on the client's workers (see *Distributed generation* in the module
        docstring): the data are bit-identical to a serial run with the same ``batch_size``, written
        in order by this process, and resumable like a serial run. ``sampler`` must be picklable
        (cloudpickle); a sampler that takes ``device="auto"`` picks each worker's own device. Dask
        is imported only when a client is given.

    Returns
    -------
    Dataset
        The store's first ``n_samples`` samples.

    Raises
    ------
    ValueError
        Bad input, bad sampler output, an existing store with a different configuration, or another
        store with the same stem in the folder (whose card this one would overwrite).
    RuntimeError
        With ``client``: the sampler raised on a worker, or workers kept dying on a batch; the
        message names the batch's sample numbers and the store keeps every sample written before it.

    Examples
    --------
    On a local cluster of two single-threaded worker processes:

    >>> from dask.distributed import Client, LocalCluster               # doctest: +SKIP
    >>> from mslearn.datasets import generate, sample_voxel_composites  # doctest: +SKIP
    >>> space = {"kind": (0.0, 1.0), "volume_fraction": (0.1, 0.5), "aspect_ratio": (1.0, 5.0),
    ...          "orientation": (0.0, 180.0), "correlation_length": (0.03, 0.1),
    ...          "anisotropy": (1.0, 3.0, "log")}
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
    ...     ds = generate("voxels.h5", sample_voxel_composites, space, 1000, seed=0,
    ...                   batch_size=32, client=client)                 # doctest: +SKIP
    """
    path = Path(path)
    space = _check_space(parameter_space)
    n_samples = _check_count(n_samples, "n_samples")
    batch_size = _check_count(batch_size, "batch_size")
    seed = _check_seed(seed)
    if method not in ("sobol", "lhs"):
        raise ValueError(f"method={method!r} is unknown; expected 'sobol' or 'lhs'")
    if not callable(sampler):
        raise TypeError(f"sampler must be callable, got {type(sampler).__name__}")
    if client is not None and not all(callable(getattr(client, m, None)) for m in ("submit", "nthreads", "cancel")):
        raise ValueError(f"client = {client!r}; expected a dask.distributed.Client (or None for a serial run)")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata is a {type(metadata).__name__}; expected a dict (stored as JSON) or None")
    metadata = dict(metadata or {})
    config = _config(space, _sampler_name(sampler), seed, method, metadata)
    config_text = _json(config, "metadata")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() or (path.exists() and not h5py.is_hdf5(path)):
        raise ValueError(f"{path} is {'a folder' if path.is_dir() else 'a file that is not HDF5'}; expected the path "
                         "of an mslearn store (.h5), new or made by generate")
    _check_card_is_its_own(path)

    with h5py.File(path, "a") as file:
        if "config" not in file.attrs and (len(file) or len(file.attrs)):
            raise ValueError(f"{path} is an HDF5 file that generate did not make (no store configuration); refusing "
                             "to write into it: use another path")
        if "config" in file.attrs:
            stored = json.loads(file.attrs["config"])
            check_same_settings(stored, json.loads(config_text),
                                problem=f"the store {path} was generated with a different configuration",
                                remedy="use another path or the same settings instead of mixing data")
            if method == "lhs" and n_samples != int(file.attrs["n_requested"]):
                raise ValueError(f"the store {path} is a Latin hypercube design of {int(file.attrs['n_requested'])} "
                                 f"samples; an LHS design cannot be resized to {n_samples} (use method='sobol')")
        else:
            file.attrs["config"] = config_text
            file.attrs["metadata"] = _json(metadata, "metadata")
            file.attrs["n_complete"] = 0
            file.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        n_complete = int(file.attrs["n_complete"])
        if n_complete < n_samples:          # the provenance of what is computed now; a call computing nothing keeps it
            file.attrs["n_requested"] = max(n_samples, int(file.attrs.get("n_requested", 0)))
            versions = environment_versions()
            if "versions" in file.attrs and json.loads(file.attrs["versions"]) != versions:
                former = json.loads(file.attrs.get("former_versions", "[]")) + [json.loads(file.attrs["versions"])]
                file.attrs["former_versions"] = json.dumps(former, sort_keys=True)
            file.attrs["versions"] = json.dumps(versions, sort_keys=True)
            file.attrs["card"] = _card(path, file, config)
            file.flush()
            design = sample_parameters(parameter_space, n_samples, seed=seed, method=method, start=n_complete)
            bar = tqdm(total=n_samples, initial=n_complete, disable=not check_flag(progress, name="progress"),
                       desc=path.stem, unit="sample")
            try:
                if client is not None:
                    _generate_on_client(client, file, sampler, design, space, seed, n_complete, n_samples,
                                        batch_size, bar, path)
                for start in range(int(file.attrs["n_complete"]), n_samples, batch_size):
                    stop = min(start + batch_size, n_samples)
                    params = design.loc[start:stop - 1]
                    seeds = sample_seeds(seed, start, stop)
                    try:
                        output = sampler(params.copy(), seeds.copy())
                    except Exception as error:      # the sampler's own error, with where it stopped
                        if hasattr(error, "add_note"):
                            error.add_note(f"generate: the sampler failed on samples {start}..{stop - 1}; {path} "
                                           f"keeps the {start} complete samples, and a new call resumes there")
                        raise
                    groups, ragged = _split_output(output, stop - start, set(space))
                    columns = {name: params[name].to_numpy(np.float64) for name in space}
                    _write_batch(file, start, columns, seeds, groups, ragged)
                    file.flush()
                    file.attrs["n_complete"] = stop      # raised last: the batch is complete
                    file.flush()
                    bar.update(stop - start)
            finally:
                bar.close()
            file.attrs["card"] = _card(path, file, config)
        card = str(file.attrs["card"])
    _card_path(path).write_text(card)
    return load(path, n_samples)


# ----------------------------------------------------------------------------- the card
def _card_path(path):
    path = Path(path)
    return path.with_name(path.stem + ".README.md")


def _is_store(path):
    """An HDF5 file that generate made (one that cannot be opened, e.g. locked by a writer, counts as one)."""
    if not (path.is_file() and h5py.is_hdf5(path)):
        return False
    try:
        with h5py.File(path, "r") as file:
            return "config" in file.attrs
    except OSError:
        return True


def _check_card_is_its_own(path):
    """Refuse a store whose card ``<stem>.README.md`` is another store's: ``a.h5`` and ``a.hdf5`` (or ``a``)
    in one folder would write one card, each store's over the other's."""
    card = _card_path(path)
    others = sorted(other.name for other in path.parent.glob(glob.escape(path.stem) + "*")
                    if other.stem == path.stem and other != path and other != card and _is_store(other))
    if others:
        raise ValueError(f"the store {path.name} and the store {others[0]} in {path.parent} have the same stem "
                         f"{path.stem!r}, so they would share the card {card.name} and each would overwrite the "
                         f"other's; expected stores whose names differ before the extension (rename one, e.g. "
                         f"{path.stem}-2{path.suffix})")


def _card(path, file, config):
    metadata = config["metadata"]
    n_complete = int(file.attrs["n_complete"])
    versions = [", ".join(f"{k} {v}" for k, v in entry.items())
                for entry in json.loads(file.attrs.get("former_versions", "[]")) + [json.loads(file.attrs["versions"])]]
    lines = [f"# Dataset card: {metadata.get('title', Path(path).stem)}", ""]
    if "description" in metadata:
        lines += [metadata["description"], ""]
    lines += ["## How it was generated", "",
              f"- sampler: `{config['sampler']}`",
              f"- design: {'scrambled Sobol sequence' if config['method'] == 'sobol' else 'Latin hypercube'} "
              f"(`scipy.stats.qmc`), seed {config['seed']}; sample *i* uses the seed "
              f"`SeedSequence({config['seed']}, spawn_key=(i,))`",
              f"- samples: {n_complete} complete of {int(file.attrs['n_requested'])} requested",
              f"- created {file.attrs.get('created', '?')} with {versions[0]}",
              *(f"- extended with {later}" for later in versions[1:]),
              "", "## Parameter ranges", "", "| parameter | low | high | scale |", "|---|---|---|---|"]
    for name, low, high, scale in config["parameter_space"]:
        lines.append(f"| {name} | {low:g} | {high:g} | {'log-uniform' if scale == 'log' else 'uniform'} |")
    lines += ["", "## Contents", ""]
    for group in _GROUPS:
        if group in file:
            entries = ", ".join(f"`{k}` {file[group][k].dtype} {file[group][k].shape[1:]}" for k in file[group])
            lines.append(f"- {group}: {entries}")
    if "ragged" in file:
        lines.append("- ragged (per-sample variable length): " + ", ".join(f"`{k}`" for k in file["ragged"]))
    settings = {k: v for k, v in metadata.items() if k not in ("title", "description", "license", "attribution")}
    if settings:
        lines += ["", "## Settings (phase properties, solver)", "", "```json",
                  json.dumps(settings, indent=2, sort_keys=True, default=_json_default), "```"]
    lines += ["", "## Licence and attribution", "",
              metadata.get("license", "Synthetic data generated by mslearn (MIT licence); no real data involved."),
              ""]
    if "attribution" in metadata:
        lines += [metadata["attribution"], ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- reading
class Dataset:
    """A dataset read from a store: tables, arrays, graphs, splits and a torch view.

    Attributes
    ----------
    parameters : pandas.DataFrame
        One row per sample: the sampled generator parameters, then measured descriptors.
    targets : pandas.DataFrame
        Scalar targets.
    arrays : dict of str to numpy.ndarray
        Non-scalar data, leading axis = sample.
    metadata : dict
        ``config`` (parameter space, sampler, seed, method), the user metadata, ``versions`` (of the
        packages that computed the latest samples), ``former_versions`` (a list, oldest first, of the
        other versions that computed earlier samples of a resumed or extended store; empty for most),
        ``card``, ``seeds``, ``path``, ``n_complete``.

    The variable-length entries (graphs' node and edge arrays, ...) are read per sample with
    :meth:`ragged`.
    """

    def __init__(self, parameters, targets, arrays, ragged, metadata):
        self.parameters = parameters
        self.targets = targets
        self.arrays = arrays
        self._ragged = ragged
        self.metadata = metadata

    def __len__(self):
        return len(self.parameters)

    def __repr__(self):
        arrays = ", ".join(f"{k}{tuple(v.shape[1:])}" for k, v in self.arrays.items())
        return (f"Dataset({len(self)} samples; parameters {list(self.parameters.columns)}; "
                f"targets {list(self.targets.columns)}; arrays [{arrays}])")

    # -- splits -------------------------------------------------------------------------------
    def split(self, fractions=(0.7, 0.15, 0.15), *, seed=0):
        """Random train/validation/test index arrays, fixed by ``seed`` (disjoint, covering all).

        Sizes are ``floor(f * n)`` for validation and test; training gets the rest.

        Parameters
        ----------
        fractions : sequence of 3 floats, default (0.7, 0.15, 0.15)
            Shares of (train, validation, test), non-negative, summing to 1.
        seed : int or numpy.random.Generator, default 0
            Fixes the permutation: an int >= 0, or a Generator drawn from once.

        Returns
        -------
        dict
            ``"train"``, ``"validation"``, ``"test"``: sorted int64 sample numbers ``(n_k,)``.

        Raises
        ------
        ValueError
            If ``fractions`` is not three non-negative numbers summing to 1, or ``seed`` is invalid.
        """
        fractions = np.asarray(fractions, dtype=float)
        if fractions.shape != (3,) or not np.all(np.isfinite(fractions)) or np.any(fractions < 0) \
                or abs(fractions.sum() - 1) > 1e-9:
            raise ValueError(f"fractions = {tuple(fractions.tolist())}; expected three non-negative numbers "
                             "(train, validation, test) summing to 1")
        order = np.random.default_rng(_check_seed(seed)).permutation(len(self))
        n_val, n_test = (int(math.floor(f * len(self) + 1e-9)) for f in fractions[1:])
        n_train = len(self) - n_val - n_test
        return {"train": np.sort(order[:n_train]), "validation": np.sort(order[n_train:n_train + n_val]),
                "test": np.sort(order[n_train + n_val:])}

    # -- columns and arrays ------------------------------------------------------------------------
    def _get(self, name):
        if name in self.arrays:
            return self.arrays[name]
        if name in self.targets:
            return self.targets[name].to_numpy()
        if name in self.parameters:
            return self.parameters[name].to_numpy()
        known = list(self.parameters.columns) + list(self.targets.columns) + list(self.arrays)
        raise ValueError(f"{name!r} is not in the dataset; expected one of {known}")

    def _stack(self, names, what):
        if isinstance(names, str):
            return self._get(names)
        if not isinstance(names, (list, tuple)) or not names:
            raise ValueError(f"{what} must be a name or a non-empty list of column names")
        columns = [self._get(n) for n in names]
        if any(c.ndim != 1 for c in columns):
            raise ValueError(f"{what} lists {names}; a list may only hold scalar columns (pass an array by name)")
        return np.stack(columns, axis=1)

    def torch_dataset(self, inputs, targets, indices=None, *, dtype=torch.float32):
        """A ``torch.utils.data.Dataset`` yielding ``(input, target)`` tensors.

        Parameters
        ----------
        inputs, targets : str or list of str
            A name (an array such as ``"images"`` gives the per-sample array, e.g. ``(H, W)``; a
            column gives a 0-d tensor) or a list of scalar column names (a ``(k,)`` vector), taken
            from ``parameters``, ``targets`` or ``arrays``.
        indices : array of int, optional
            The samples to include (e.g. ``ds.split()["train"]``); default all.
        dtype : torch.dtype
            Of both tensors (default float32).
        """
        x = torch.tensor(np.asarray(self._stack(inputs, "inputs")), dtype=dtype)
        y = torch.tensor(np.asarray(self._stack(targets, "targets")), dtype=dtype)
        index = self._indices(indices)
        return torch.utils.data.TensorDataset(x[index], y[index])

    def _indices(self, indices):
        if indices is None:
            return torch.arange(len(self))
        index = np.asarray(indices)
        if index.ndim != 1 or (index.size and (index.dtype.kind not in "iu" or index.min() < -len(self)
                                                or index.max() >= len(self))):
            raise ValueError(f"indices must be a 1D array of sample numbers in [0, {len(self)})")
        return torch.as_tensor(index.astype(np.int64))

    # -- ragged data and graphs -----------------------------------------------------------------
    def ragged(self, name, index):
        """The variable-length array ``name`` of sample ``index`` (negative counts from the end).

        Parameters
        ----------
        name : str
            A ragged entry of the dataset (e.g. ``"node_features"``).
        index : int
            Sample number in ``[-n, n)``.

        Returns
        -------
        ndarray
            The sample's rows of the entry, ``(length, *row_shape)``.

        Raises
        ------
        ValueError
            If ``name`` is not a ragged entry or ``index`` is not an integer in ``[-n, n)``.
        """
        if name not in self._ragged:
            raise ValueError(f"{name!r} is not a ragged entry; expected one of {sorted(self._ragged)}")
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not -n <= index < n:
            raise ValueError(f"index = {index!r}; expected a sample number in [-{n}, {n})")
        index = int(index) % n         # offsets[-1:0] would be an empty slice, not the last sample
        values, offsets = self._ragged[name]
        return values[offsets[index]:offsets[index + 1]]

    def graphs(self, indices=None):
        """Per-sample graphs: list of dicts ``node_features`` float32 ``(n_nodes, f)``, ``edge_index``
        int64 ``(2, n_edges)`` (both directions), ``edge_features`` float32 ``(n_edges, g)``.

        The input of :class:`~mslearn.surrogates.GNNRegressor`.

        Parameters
        ----------
        indices : array of int, optional
            The samples, 1D, in ``[-n, n)`` (e.g. ``ds.split()["train"]``); default ``None``: all, in order.

        Returns
        -------
        list of dict
            One graph per index, in the order of ``indices``.

        Raises
        ------
        ValueError
            If the dataset holds no graphs, or ``indices`` is not a 1D integer array of sample numbers.
        """
        needed = ("node_features", "edge_index", "edge_features")
        if not all(n in self._ragged for n in needed):
            raise ValueError("this dataset holds no graphs (ragged node_features, edge_index, edge_features)")
        index = self._indices(indices).numpy()
        return [_graph_dict(*(self.ragged(name, i) for name in needed)) for i in index]


def _graph_dict(node_features, edge_index, edge_features):
    """One sample's graph as :class:`~mslearn.surrogates.GNNRegressor` reads it, from its ragged arrays as
    the samplers write and the store keeps them (``edge_index`` one row ``(source, target)`` per edge):
    ``node_features`` float32 ``(n_nodes, f)``, ``edge_index`` int64 ``(2, n_edges)``, ``edge_features``
    float32 ``(n_edges, g)``."""
    return {"node_features": np.asarray(node_features).astype(np.float32),
            "edge_index": np.asarray(edge_index).T.astype(np.int64).copy(),
            "edge_features": np.asarray(edge_features).astype(np.float32)}


def load(path, n_samples=None) -> Dataset:
    """Read a store written by :func:`generate` into memory: its first ``n_samples`` samples (default: all
    ``n_complete`` of them; a store grown by a larger ``n_samples`` begins with the samples of a smaller
    one, so its prefix is that smaller store's data). ``metadata["n_stored"]`` is the store's
    ``n_complete``.

    Examples
    --------
    >>> import os, tempfile
    >>> def sampler(parameters, seeds):                      # parallel (Voigt) conductivity of two phases
    ...     return {"k_parallel": (1 - parameters.phi.to_numpy()) + parameters.phi.to_numpy() * parameters.k.to_numpy()}
    >>> space = {"phi": (0.1, 0.5), "k": (1.0, 100.0, "log")}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     ds = generate(os.path.join(folder, "toy.h5"), sampler, space, 4, seed=0)
    ...     first = load(os.path.join(folder, "toy.h5"), n_samples=2)
    >>> len(first), first.metadata["n_stored"], first.targets.equals(ds.targets.iloc[:2])
    (2, 4, True)
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no dataset store at {path}")
    if path.is_dir() or not h5py.is_hdf5(path):
        raise ValueError(f"{path} is {'a folder' if path.is_dir() else 'not an HDF5 file'}; expected an mslearn "
                         "dataset store (.h5) made by generate")
    with h5py.File(path, "r") as file:
        if "config" not in file.attrs:
            raise ValueError(f"{path} is not an mslearn dataset store (no 'config' attribute)")
        stored = n = int(file.attrs["n_complete"])
        if n_samples is not None:
            n = _check_count(n_samples, "n_samples")
            if n > stored:
                raise ValueError(f"n_samples = {n}, but the store {path} holds {stored} complete samples; "
                                 "call generate with n_samples to extend it, or load at most "
                                 f"{stored}")
        config = json.loads(file.attrs["config"])
        names = [entry[0] for entry in config["parameter_space"]]
        order = json.loads(file.attrs.get("order", "{}"))
        params = {k: file["parameters"][k][:n] if n else np.zeros(0) for k in names}
        parameters = pd.DataFrame(params, index=pd.RangeIndex(n))
        for name in order.get("descriptors", []):
            parameters[name] = file["descriptors"][name][:n]
        targets = pd.DataFrame({k: file["targets"][k][:n] for k in order.get("targets", [])},
                               index=pd.RangeIndex(n))
        arrays = {k: file["arrays"][k][:n] for k in order.get("arrays", [])}
        ragged = {}
        for name in file.get("ragged", {}):
            offsets = file["ragged"][name]["offsets"][:n + 1]
            ragged[name] = (file["ragged"][name]["values"][:int(offsets[-1]) if n else 0], offsets)
        metadata = {
            **json.loads(file.attrs["metadata"]),
            "path": str(path), "n_complete": n, "n_stored": stored, "n_requested": int(file.attrs["n_requested"]),
            "config": config, "seed": config["seed"], "method": config["method"],
            "parameter_space": {entry[0]: tuple(entry[1:]) for entry in config["parameter_space"]},
            "sampler": config["sampler"],
            "versions": json.loads(file.attrs["versions"]),
            "former_versions": json.loads(file.attrs.get("former_versions", "[]")), "card": str(file.attrs["card"]),
            "seeds": file["seeds"][:n] if "seeds" in file else np.zeros(0, np.int64),
            "created": str(file.attrs.get("created", "")),
        }
    return Dataset(parameters, targets, arrays, ragged, metadata)


