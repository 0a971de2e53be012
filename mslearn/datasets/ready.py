r"""Ready-made solver datasets, generated on first use and cached.

Each function builds its structures with :mod:`mslearn.structures`, homogenizes them with
:mod:`mslearn.homogenization` (batched, on ``device``) and stores the result with
:func:`mslearn.datasets.generate`. The store is cached under ``$MSLEARN_CACHE`` (default
``~/.cache/mslearn``) in a file whose name encodes *everything* that changes the data: the
arguments, the solver tolerance, the package version, the store's format version and a digest of
the source code that generates the data (:func:`code_fingerprint`). A call with other arguments, or
from a changed sampler or solver, never reads a stale file; an interrupted generation resumes. The
number of samples is not part of the name: sample ``i`` depends only on the seed and ``i`` (an
extensible Sobol design, a seed per sample), so a larger ``n_samples`` extends the cached store,
computing only the new samples, and a smaller one reads the store's first ``n_samples``: the data a
fresh run of that size gives (to the round-off of batched FFTs where a sampler's batch can change it,
:mod:`mslearn.datasets.process`).

==========================  ==================================================================
:func:`particle_composites`  overlapping elliptical particles with a resistive interphase → conductivity
:func:`triangular_lattices`  composite triangular strut lattices → plane-strain elastic moduli
:func:`voxel_composites`     mixed 2D/3D images → full effective conductivity or stiffness tensors (CNNs)
:func:`polycrystals`         anisotropic Voronoi polycrystals with grain boundaries → conductivity + graphs
==========================  ==================================================================

The samplers (``sample_*``) are public: calling one on a DataFrame of parameters outside the
training ranges gives solver reference values for extrapolation tests.

All properties are relative to the matrix (conductivity :math:`k_m = 1`, Young's modulus
:math:`E_m = 1`). References: peng2024review (Fig. 3a particle composites with interface
conductance; polycrystal ionic conductivity), Torquato (2002) for the structures.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import numbers
import os
import re
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .. import __version__
from .._backend import device as resolve_device
from .._backend import cpu_threads, rng
from .._validation import check_finite, check_flag, check_integer, check_positive
from ..descriptors import label_clusters, specific_surface
from ..homogenization import add_interphase, conductivity, conductivity_field, elasticity
from ..homogenization.bounds import coated_maxwell_garnett
from ..homogenization.tensors import isotropic_moduli
from ..structures import (gaussian_random_field, grain_graph, level_cut, random_inclusions, strut_lattice,
                          voronoi_grains)
from .store import FORMAT_VERSION, generate, load

__all__ = [
    "cache_dir",
    "clear_cache",
    "code_fingerprint",
    "particle_composites",
    "triangular_lattices",
    "voxel_composites",
    "polycrystals",
    "sample_particle_composites",
    "sample_triangular_lattices",
    "sample_voxel_composites",
    "voxel_composite_images",
    "sample_polycrystals",
    "lattice_labels",
    "moduli_from_stiffness",
    "as_frame",
    "PARTICLE_SPACE",
    "LATTICE_SPACE",
    "POLYCRYSTAL_SPACE",
]

NU = 0.3                    # Poisson's ratio of both phases in the elastic voxel composites
TOL = 1e-4                  # relative residual of the FFT solver (effective properties to ~1e-5)

PARTICLE_SPACE = {
    "volume_fraction": (0.05, 0.35),     # hard-core ellipses jam near 0.4 at aspect ratio 4
    "aspect_ratio": (1.0, 4.0),
    "log10_contrast": (0.0, 2.0),       # log10(k_particle / k_matrix)
    "log10_interphase": (-2.0, 0.0),    # log10(k_interphase / k_matrix), 1-pixel layer
}
LATTICE_SPACE = {
    "thickness": (0.05, 0.2),           # strut thickness / cell width
    "angle": (45.0, 75.0),              # strut inclination in degrees
    "log10_modulus_ratio": (1.0, 3.0),  # log10(E_strut / E_matrix)
}
POLYCRYSTAL_SPACE = {
    "n_grains": (8.0, 30.0),                      # rounded to an integer
    "anisotropy": (1.0, 10.0, "log"),             # k2 / k1 of the grain tensor diag(k1, k2), k1 = 1
    "gb_conductivity": (0.01, 1.0, "log"),        # grain-boundary conductivity / k1
}


def _voxel_space(ndim):
    space = {
        "kind": (0.0, 1.0),                        # < 0.5: oriented ellipses/spheroids; else level-cut GRF
        "volume_fraction": (0.1, 0.5),
        "aspect_ratio": (1.0, 5.0),                # inclusions: major/minor semi-axis
        "orientation": (0.0, 180.0),               # inclusions: major-axis angle in the x-y plane (degrees)
        "correlation_length": (0.03, 0.1),         # GRF: correlation length / image size
        "anisotropy": (1.0, 3.0, "log"),           # GRF: correlation length ratio x / y
    }
    if ndim == 3:
        space["tilt"] = (0.0, 90.0)                # inclusions: elevation of the major axis (degrees)
    return space


# ----------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """The cache folder: ``$MSLEARN_CACHE`` if set, else ``~/.cache/mslearn``.

    Examples
    --------
    >>> import os
    >>> from pathlib import Path
    >>> cache_dir() == Path(os.environ.get("MSLEARN_CACHE") or Path.home() / ".cache" / "mslearn")
    True
    """
    return Path(os.environ.get("MSLEARN_CACHE") or Path.home() / ".cache" / "mslearn")


#: The file names of the cached stores (:func:`_ready_store`): only these are ever removed by :func:`clear_cache`.
_STORE_NAME = re.compile(r"[a-z0-9_]+-s[^-/]+-seed[0-9]+-[0-9a-f]{10}\.h5")


def clear_cache(*, stale_only=True, dry_run=False):
    """Remove the cached ready-made datasets of :func:`cache_dir`, by default only those that the current code
    would never read again.

    Every cached store's name encodes the code that made it (:func:`code_fingerprint`), so an edit to the
    package, or a new version, starts new stores and leaves the old ones on disk, a few MB to GB each.

    Parameters
    ----------
    stale_only : bool
        True (default): remove the stores made by other code (a fingerprint other than
        ``code_fingerprint()``). False: remove every cached store (they are regenerated on demand).
    dry_run : bool
        List what would be removed, remove nothing.

    Returns
    -------
    list of pathlib.Path
        The stores removed (or that would be), each with its dataset card ``<name>.README.md`` beside it.
        Only files named as the cache names its stores are touched, never other files in the folder; a
        store that cannot be opened (another process writing it) is left alone when ``stale_only``.

    Examples
    --------
    >>> import os, tempfile
    >>> from unittest import mock
    >>> from mslearn.datasets import clear_cache, voxel_composites
    >>> with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {"MSLEARN_CACHE": folder}):
    ...     _ = voxel_composites(2, size=16, device="cpu")           # cached under the current code
    ...     current = clear_cache()                                  # nothing stale
    ...     every = clear_cache(stale_only=False, dry_run=True)
    >>> current, [path.name.split("-")[0] for path in every]
    ([], ['voxel_composites'])
    """
    stale_only, dry_run = check_flag(stale_only, name="stale_only"), check_flag(dry_run, name="dry_run")
    folder = cache_dir()
    stores = sorted(p for p in folder.glob("*.h5") if _STORE_NAME.fullmatch(p.name)) if folder.is_dir() else []
    removed = []
    for path in stores:
        if stale_only:
            try:
                with h5py.File(path, "r") as file:
                    code = json.loads(file.attrs["metadata"])["arguments"]["code"]
            except (OSError, KeyError, ValueError):     # being written (locked), or not one of ours: keep it
                continue
            if code == code_fingerprint():
                continue
        removed.append(path)
        if not dry_run:
            path.unlink(missing_ok=True)
            path.with_name(path.stem + ".README.md").unlink(missing_ok=True)
    return removed


# The source that makes the data: the samplers and every mslearn module they call (a test checks
# that these cover every mslearn module a dataset generation imports).
DATA_SOURCES = ("_backend.py", "_numba.py", "_validation.py", "_versions.py", "nn.py", "structures.py", "descriptors",
                "homogenization", "datasets", "process/phase_field.py")


def source_digest(root, sources=DATA_SOURCES) -> str:
    """SHA-1 over the paths and contents of the ``.py`` files in ``sources`` under ``root``."""
    root = Path(root)
    digest = hashlib.sha1()
    for source in sources:
        path = root / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of the code that generates the ready datasets (part of every cache key).

    Any edit to a sampler, a structure generator, a descriptor or the solver changes it, so a cached
    file written by other code is never read back as if this code had made it.
    """
    return source_digest(Path(__file__).resolve().parent.parent)[:12]


def _check_n(n, name="n_samples", low=1):
    return check_integer(n, low, name=name)


def _ready(name, key, sampler, space, n_samples, seed, cache, progress, metadata, batch_size, dev, tol=TOL):
    with cpu_threads(1, dev):   # small batched FFTs: one thread is fastest (mslearn._backend.cpu_threads)
        return _ready_store(name, key, sampler, space, n_samples, seed, cache, progress, metadata, batch_size, tol)


def _check_store_seed(seed):
    """The seed of a cached ready-made dataset: a non-negative int, which names its store."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r}; expected a non-negative integer (it names the cached store, so a "
                         "numpy Generator, which would draw a new one at every call, is not taken here)")
    return int(seed)


def _ready_store(name, key, sampler, space, n_samples, seed, cache, progress, metadata, batch_size, tol=TOL):
    """Generate (or reuse) the cached store whose file name encodes every argument in ``key``."""
    n_samples = _check_n(n_samples)
    cache, progress = check_flag(cache, name="cache"), check_flag(progress, name="progress")   # a hit reads no progress
    seed = _check_store_seed(seed)
    # n_samples is not part of the key: sample i depends only on (seed, i) and the design is an extensible
    # Sobol sequence, so one store per key grows to the largest n_samples asked for and a smaller call
    # reads its prefix
    key = dict(key, seed=int(seed), tol=tol, format=FORMAT_VERSION, version=__version__, code=code_fingerprint())
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    size = key.get("size")
    filename = f"{name}-s{size}-seed{seed}-{digest}.h5"
    metadata = dict(metadata, dataset=name, arguments=key, mslearn_version=__version__,
                    solver={"method": "FFT, rotated scheme, conjugate gradients (mslearn.homogenization)",
                            "tol": tol, "dtype": "float64"})
    run = functools.partial(generate, sampler=sampler, parameter_space=space, n_samples=n_samples, seed=int(seed),
                            method="sobol", batch_size=batch_size, progress=progress, metadata=metadata)
    if not cache:
        folder = Path(tempfile.mkdtemp(prefix="mslearn-"))
        try:
            return run(folder / filename)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    path = cache_dir() / filename
    if path.exists():
        try:
            return load(path, n_samples)
        except (OSError, ValueError):    # fewer samples (generate extends the store), or another process writes it
            pass
    try:
        return run(path)
    except OSError:  # another process holds the file (HDF5 lock): generate privately
        folder = Path(tempfile.mkdtemp(prefix="mslearn-"))
        try:
            return run(folder / filename)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _check_size(size, low=8):
    return _check_n(size, "size", low)


# ----------------------------------------------------------------------------- 1. particle composites
def _design_rows(parameters, seeds, columns):
    """The rows of the design ``parameters`` with their seeds, as ``(row, int seed)`` pairs, checked: a
    DataFrame with ``columns`` (as :func:`~mslearn.datasets.sample_parameters` returns them) and one
    non-negative integer seed per row (fewer seeds would silently drop rows, a float seed be truncated)."""
    _check_columns(parameters, columns)
    return list(zip(parameters.itertuples(), _check_seeds(seeds, len(parameters)).tolist()))


def _check_columns(parameters, columns):
    """A sampler's design: the pandas DataFrame that sample_parameters returns, with ``columns``."""
    if not isinstance(parameters, pd.DataFrame):
        raise TypeError(f"parameters is a {type(parameters).__name__}; expected the pandas DataFrame of design "
                        f"points that sample_parameters returns, with the columns {list(columns)}")
    missing = [c for c in columns if c not in parameters.columns]
    if missing:
        raise ValueError(f"parameters lacks the columns {missing}; expected the columns {list(columns)}")


def _check_seeds(seeds, n_rows):
    """A sampler's seeds as an int64 array: one non-negative integer per parameter row."""
    array = np.asarray(seeds)
    if array.ndim != 1 or len(array) != n_rows:
        raise ValueError(f"got seeds of shape {array.shape} for {n_rows} parameter rows; expected one seed per "
                         "row (sample_seeds gives them)")
    if n_rows and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"seeds are {array.dtype} values {array[:4].tolist()}...; expected integers (sample_seeds "
                        "gives them)")
    if (array < 0).any():
        raise ValueError(f"seeds hold the negative value {int(array.min())}; expected non-negative integers")
    return array.astype(np.int64)


def _largest_cluster(image):
    """Share of the particle phase in its largest (periodically) connected cluster."""
    mask = image == 1
    if not mask.any():                   # no particles (e.g. volume_fraction 0): label_clusters refuses it
        return 0.0
    clusters, n = label_clusters(mask, periodic=True)
    sizes = np.bincount(clusters.ravel(), minlength=n + 1)[1:]
    return float(sizes.max() / sizes.sum())


def _particle_radius(size):
    return max(size / 16.0, 1.5)


def sample_particle_composites(parameters, seeds, *, size=64, radius=None, device="auto"):
    """Sampler of :func:`particle_composites` (usable on any parameters, e.g. outside the ranges).

    Parameters
    ----------
    parameters : DataFrame with the columns of ``PARTICLE_SPACE``
    seeds : array of int, one per row
    size : int
        Image side in pixels.
    radius : float, optional
        The particles' equivalent radius in pixels (default ``max(size / 16, 1.5)``).
    device : str or torch.device
        Device of the conductivity solver (``"auto"``: CUDA when available).

    Returns
    -------
    dict: targets ``k_xx``, ``k_yy``, ``k_xy``, ``k_mean``; array ``images`` (uint8, 0 matrix,
    1 particle, 2 interphase); descriptors ``measured_volume_fraction``, ``interphase_fraction``,
    ``specific_surface`` (perimeter per area, by counting), ``largest_cluster_fraction`` (share of
    the particle phase in its largest periodically connected cluster: a percolation descriptor) and
    ``maxwell_garnett`` (the coated-particle mean-field estimate).

    Examples
    --------
    >>> from mslearn.datasets import sample_parameters, sample_seeds
    >>> from mslearn.datasets.ready import PARTICLE_SPACE
    >>> parameters = sample_parameters(PARTICLE_SPACE, 2, seed=0)
    >>> out = sample_particle_composites(parameters, sample_seeds(0, 0, 2), size=32, device="cpu")
    >>> out["images"].shape, sorted(out["descriptors"])[:2]
    ((2, 32, 32), ['interphase_fraction', 'largest_cluster_fraction'])
    """
    shape = (size, size)
    radius = _particle_radius(size) if radius is None else float(radius)
    labels = np.stack([
        random_inclusions(shape, float(row.volume_fraction), radius=radius, aspect_ratio=float(row.aspect_ratio),
                          overlap=False, seed=s)
        for row, s in _design_rows(parameters, seeds, PARTICLE_SPACE)]).astype(np.uint8)
    with_interphase = add_interphase(labels, 1, inclusion=1, matrix=0, new_label=2, batch=True).astype(np.uint8)
    k_particle = 10.0 ** parameters["log10_contrast"].to_numpy()
    k_interphase = 10.0 ** parameters["log10_interphase"].to_numpy()
    table = np.stack([np.ones_like(k_particle), k_particle, k_interphase], axis=1)       # (B, 3)
    k_field = np.take_along_axis(table, with_interphase.reshape(len(labels), -1).astype(np.int64), axis=1)
    result = conductivity_field(k_field.reshape(labels.shape), ndim=2, batch=True, tol=TOL, device=device)
    K = np.asarray(result.effective)
    surface = specific_surface(labels, 1, method="count", batch=True).count
    particle_fraction = labels.reshape(len(labels), -1).mean(1)
    interphase_fraction = (with_interphase == 2).reshape(len(labels), -1).mean(1)
    return {
        "k_xx": K[:, 0, 0], "k_yy": K[:, 1, 1], "k_xy": K[:, 0, 1], "k_mean": (K[:, 0, 0] + K[:, 1, 1]) / 2,
        "images": with_interphase,
        "descriptors": {
            "measured_volume_fraction": particle_fraction,
            "interphase_fraction": interphase_fraction,
            "specific_surface": np.asarray(surface, dtype=float),
            "largest_cluster_fraction": np.array([_largest_cluster(image) for image in labels]),
            "maxwell_garnett": coated_maxwell_garnett(particle_fraction, interphase_fraction, k_particle,
                                                      k_interphase),
        },
    }


def particle_composites(n_samples=400, *, size=64, seed=0, device="auto", cache=True, progress=False):
    r"""2D particulate composites with a resistive interphase → effective conductivity.

    Hard-core (non-overlapping) ellipses (random sequential addition,
    :func:`mslearn.structures.random_inclusions` with ``overlap=False``, equivalent radius
    ``size/16``, random orientations) in a matrix of conductivity 1, each coated by a 1-pixel
    interphase (:func:`mslearn.homogenization.add_interphase`): the interface conductance of the
    review's Fig. 3a. Parameters (Sobol design): ``volume_fraction`` 0.05–0.35,
    ``aspect_ratio`` 1–4, ``log10_contrast`` = :math:`\log_{10}(k_p/k_m)` 0–2,
    ``log10_interphase`` = :math:`\log_{10}(k_i/k_m)` −2–0; measured descriptors as extra columns
    (``measured_volume_fraction``, ``interphase_fraction``, ``specific_surface``,
    ``largest_cluster_fraction``, ``maxwell_garnett``: the coated-particle mean-field estimate of
    :func:`mslearn.homogenization.bounds.coated_maxwell_garnett`).
    Targets: ``k_xx``, ``k_yy``, ``k_xy`` and ``k_mean`` = :math:`\operatorname{tr}K^*/2`.
    Arrays: ``images`` (n, size, size) uint8 with 0 matrix, 1 particle, 2 interphase.

    Parameters
    ----------
    n_samples : int
    size : int
        Image side in pixels (default 64).
    seed : int
    device : str
        Solver device (``"auto"``: CUDA when present).
    cache : bool
        Reuse/keep the store in :func:`cache_dir` (``False``: generate in a temporary folder).
    progress : bool

    Returns
    -------
    Dataset

    Examples
    --------
    A tiny set (4 images of 32 px; the book uses 400 of 64 px), generated in a temporary folder:

    >>> import numpy as np
    >>> ds = particle_composites(4, size=32, device="cpu", cache=False)
    >>> ds.arrays["images"].shape, np.unique(ds.arrays["images"]).tolist()   # matrix, particle, interphase
    ((4, 32, 32), [0, 1, 2])
    >>> list(ds.targets.columns)
    ['k_xx', 'k_yy', 'k_xy', 'k_mean']
    """
    size = _check_size(size, 16)
    dev = resolve_device(device)
    sampler = functools.partial(sample_particle_composites, size=size, device=dev)
    sampler.name = "mslearn.datasets.ready.sample_particle_composites"
    metadata = {
        "title": "particle_composites",
        "description": (f"2D periodic composites of hard-core ellipses ({size}x{size} pixels, equivalent "
                        f"radius {max(size / 16, 1.5):g} px) in a matrix (k_m = 1) with a 1-pixel interphase; "
                        "targets: effective conductivity tensor entries relative to k_m, from the FFT solver."),
        "phases": {"0": "matrix, k = 1", "1": "particles, k = 10**log10_contrast",
                   "2": "interphase (1 px), k = 10**log10_interphase"},
        "structure": {"generator": "mslearn.structures.random_inclusions", "overlap": False,
                      "radius": max(size / 16, 1.5), "interphase_width": 1},
    }
    return _ready("particle_composites", {"size": size}, sampler, PARTICLE_SPACE, n_samples, seed, cache,
                  progress, metadata, 64 if dev.type == "cpu" else 256, dev)


# ----------------------------------------------------------------------------- 2. triangular lattices
def lattice_labels(thickness, angle, *, size=48):
    """The structure of one :func:`triangular_lattices` sample: one cell ``(size, round(size tan angle))``.

    ``thickness`` is the struts' thickness as a fraction of the cell width (0.05–0.2 in the data set),
    ``angle`` their inclination in degrees (0 < angle < 90), ``size`` the cell's width in pixels.

    Examples
    --------
    At 45 degrees the cell is square; steeper struts make it taller (size tan angle):

    >>> import numpy as np
    >>> lattice_labels(0.1, 45.0, size=20).shape, lattice_labels(0.1, 60.0, size=20).shape
    ((20, 20), (20, 35))
    >>> np.unique(lattice_labels(0.1, 60.0, size=20)).tolist()                 # matrix, strut
    [0, 1]
    """
    if not (isinstance(angle, numbers.Real) and 0 < angle < 90):
        raise ValueError(f"angle = {angle!r}; expected the struts' inclination in degrees, 0 < angle < 90")
    if not (isinstance(thickness, numbers.Real) and math.isfinite(thickness)):
        raise ValueError(f"thickness = {thickness!r}; expected a finite strut thickness")
    size = _check_size(size, 4)
    ny = int(round(size * math.tan(math.radians(angle))))
    return strut_lattice((size, ny), "triangular", thickness=float(thickness), angle=float(angle))


def moduli_from_stiffness(C):
    r"""Plane-strain engineering moduli from effective Mandel stiffnesses ``(..., 3, 3)``.

    With the compliance :math:`S = (C^*)^{-1}` (Mandel, order 11, 22, 12):
    :math:`E_1 = 1/S_{11}`, :math:`E_2 = 1/S_{22}`, :math:`\nu_{12} = -S_{12}/S_{11}`,
    :math:`G_{12} = 1/(2 S_{33})` (the Mandel shear entry is :math:`1/(2G)`).

    Examples
    --------
    An isotropic solid in plane strain: E_1 = E / (1 - nu^2), nu_12 = nu / (1 - nu), G_12 = E / (2 (1 + nu)):

    >>> from mslearn.homogenization.tensors import isotropic_stiffness
    >>> moduli = moduli_from_stiffness(isotropic_stiffness(E=1.0, nu=0.3, ndim=2))
    >>> {name: round(float(value), 4) for name, value in moduli.items()}
    {'E_1': 1.0989, 'E_2': 1.0989, 'G_12': 0.3846, 'nu_12': 0.4286}
    """
    C = np.asarray(C, dtype=float)
    if C.shape[-2:] != (3, 3) or not np.isfinite(C).all():
        raise ValueError(f"C has shape {C.shape}{'' if np.isfinite(C).all() else ' and NaN or inf'}; expected finite "
                         "plane-strain Mandel stiffnesses (..., 3, 3)")
    if (np.linalg.eigvalsh(0.5 * (C + np.swapaxes(C, -1, -2))) <= 0).any():
        raise ValueError("C has a stiffness that is not positive definite; expected effective stiffnesses of a solid")
    S = np.linalg.inv(C)
    return {"E_1": 1 / S[..., 0, 0], "E_2": 1 / S[..., 1, 1], "G_12": 1 / (2 * S[..., 2, 2]),
            "nu_12": -S[..., 0, 1] / S[..., 0, 0]}


def sample_triangular_lattices(parameters, seeds, *, size=48, device="auto", nu=0.3):
    """Sampler of :func:`triangular_lattices`: one elasticity solve per sample (cell shapes differ).

    Parameters
    ----------
    parameters : DataFrame with the columns of ``LATTICE_SPACE``
    seeds : array of int, one per row
        Unused (the lattices are not random); kept for the sampler interface.
    size : int
        Cell width in pixels.
    device : str or torch.device
        Device of the solver (``"auto"``: CUDA when available).
    nu : float, default 0.3
        Poisson's ratio of struts and matrix.

    Returns
    -------
    dict: targets ``E_1``, ``E_2``, ``G_12``, ``nu_12`` (:func:`moduli_from_stiffness`); array
    ``stiffness`` ``(n, 3, 3)`` Mandel; descriptors ``solid_fraction``, ``angle_realized`` (degrees).

    Examples
    --------
    >>> from mslearn.datasets import sample_parameters, sample_seeds
    >>> from mslearn.datasets.ready import LATTICE_SPACE
    >>> parameters = sample_parameters(LATTICE_SPACE, 2, seed=0)
    >>> out = sample_triangular_lattices(parameters, sample_seeds(0, 0, 2), size=20, device="cpu")
    >>> out["stiffness"].shape, sorted(out["descriptors"])
    ((2, 3, 3), ['angle_realized', 'solid_fraction'])
    """
    stiffness, solid, realized = [], [], []
    for row, _ in _design_rows(parameters, seeds, LATTICE_SPACE):   # the lattices are not random: seeds unused
        labels = lattice_labels(row.thickness, row.angle, size=size)
        phases = [{"E": 1.0, "nu": nu}, {"E": 10.0 ** float(row.log10_modulus_ratio), "nu": nu}]
        stiffness.append(np.asarray(elasticity(labels, phases, tol=TOL, device=device).effective))
        solid.append(labels.mean())
        realized.append(math.degrees(math.atan(labels.shape[1] / labels.shape[0])))
    C = np.stack(stiffness)
    return {**moduli_from_stiffness(C), "stiffness": C,
            "descriptors": {"solid_fraction": np.array(solid), "angle_realized": np.array(realized)}}


def triangular_lattices(n_samples=300, *, size=48, seed=0, device="auto", cache=True, progress=False):
    r"""Composite triangular strut lattices → plane-strain elastic moduli.

    One periodic cell of :func:`mslearn.structures.strut_lattice` (``"triangular"``): ``size``
    pixels wide and ``round(size·tan(angle))`` high, so the struts are inclined at ``angle`` (the
    realized angle, within 0.5°, is the descriptor ``angle_realized``); 48 px give 48×48 to 48×179
    images, about 64² pixels on average. Struts (:math:`E_s`) in a compliant matrix (:math:`E_m = 1`),
    both :math:`\nu = 0.3`. Parameters: ``thickness`` 0.05–0.2 (of the cell width), ``angle``
    45–75°, ``log10_modulus_ratio`` = :math:`\log_{10}(E_s/E_m)` 1–3; descriptor ``solid_fraction``.
    Targets (plane strain, relative to :math:`E_m`, from the compliance :math:`(C^*)^{-1}`, see
    :func:`moduli_from_stiffness`): ``E_1``, ``E_2``, ``G_12``, ``nu_12``; array ``stiffness``
    (n, 3, 3) Mandel. ``size`` >= 20, so that the thinnest struts are a pixel thick (thinner ones would
    not be drawn). Other arguments as in :func:`particle_composites`.

    Examples
    --------
    Struts stiffen the matrix (plane-strain E_1 = 1.0989 alone) but stay below the struts' modulus:

    >>> ds = triangular_lattices(4, size=20, device="cpu", cache=False)
    >>> list(ds.targets.columns), ds.arrays["stiffness"].shape
    (['E_1', 'E_2', 'G_12', 'nu_12'], (4, 3, 3))
    >>> bool(((ds.targets.E_1 > 1.0989) & (ds.targets.E_1 < 10 ** ds.parameters.log10_modulus_ratio)).all())
    True
    """
    size = _check_size(size, 20)    # the thinnest struts (thickness 0.05 of the cell width) at least a pixel
    dev = resolve_device(device)
    sampler = functools.partial(sample_triangular_lattices, size=size, device=dev)
    sampler.name = "mslearn.datasets.ready.sample_triangular_lattices"
    metadata = {
        "title": "triangular_lattices",
        "description": (f"Composite triangular strut lattices: one periodic cell {size} px wide, struts at the "
                        "given angle, stiff struts in a compliant matrix; plane-strain effective moduli from "
                        "the FFT solver, relative to E_matrix."),
        "phases": {"0": "matrix, E = 1, nu = 0.3", "1": "struts, E = 10**log10_modulus_ratio, nu = 0.3"},
        "structure": {"generator": "mslearn.structures.strut_lattice", "kind": "triangular",
                      "cell": "(size, round(size * tan(angle)))"},
    }
    return _ready("triangular_lattices", {"size": size}, sampler, LATTICE_SPACE, n_samples, seed, cache,
                  progress, metadata, 32, dev)


# ----------------------------------------------------------------------------- 3. voxel composites
def voxel_composite_images(parameters, seeds, *, size=32, ndim=2, reference_size=None):
    """The phase-label images of :func:`voxel_composites` (no solve): ``(labels, kinds)``.

    ``reference_size`` (default ``size``) is the image side that sets the length scales (inclusion
    radius ``reference_size / 12``, correlation lengths as fractions of it): with ``size`` larger
    than ``reference_size`` the images are larger windows (RVEs) of the same material.

    Parameters
    ----------
    parameters : DataFrame with the columns of the voxel design space (``kind``, ``volume_fraction``, ...)
    seeds : array of int, one per row
    size : int
        Image side in pixels.
    ndim : {2, 3}
    reference_size : int, optional

    Returns
    -------
    labels : uint8 array ``(n, *(size,) * ndim)``
        Phase labels, 0 matrix and 1 inclusion (or the level cut's phase 1).
    kinds : float array ``(n,)``
        0 for ellipses (spheroids), 1 for level-cut Gaussian random fields.

    Examples
    --------
    One image of ellipses (``kind`` < 0.5) and one level-cut random field:

    >>> import pandas as pd
    >>> parameters = pd.DataFrame({"kind": [0.2, 0.8], "volume_fraction": [0.3, 0.3], "aspect_ratio": [2.0, 2.0],
    ...                            "orientation": [30.0, 30.0], "correlation_length": [0.05, 0.05],
    ...                            "anisotropy": [2.0, 2.0]})
    >>> labels, kinds = voxel_composite_images(parameters, [0, 1], size=16)
    >>> labels.shape, labels.dtype, kinds.tolist()
    ((2, 16, 16), dtype('uint8'), [0.0, 1.0])
    """
    rows = _design_rows(parameters, seeds, _voxel_space(ndim))
    shape = (size,) * ndim
    reference_size = size if reference_size is None else reference_size
    images, kinds = [], []
    for row, s in rows:
        gen = rng(s)
        if row.kind < 0.5:
            theta = math.radians(row.orientation)
            if ndim == 2:
                orientation = theta
            else:
                tilt = math.radians(row.tilt)
                orientation = np.array([math.cos(theta) * math.cos(tilt), math.sin(theta) * math.cos(tilt),
                                        math.sin(tilt)])
            radius = max(reference_size / 12.0, 1.5)
            images.append(random_inclusions(shape, float(row.volume_fraction), radius=radius,
                                            aspect_ratio=float(row.aspect_ratio), orientation=orientation,
                                            seed=gen))
            kinds.append(0.0)
        else:
            a = float(row.anisotropy)
            scale = (math.sqrt(a), 1 / math.sqrt(a)) + ((1.0,) if ndim == 3 else ())
            field = gaussian_random_field(shape, correlation_length=float(row.correlation_length) * reference_size,
                                          anisotropy=scale, seed=gen)
            images.append(level_cut(field, float(row.volume_fraction)))
            kinds.append(1.0)
    return np.stack(images).astype(np.uint8), np.array(kinds)


def _check_property(property):
    if property not in ("conductivity", "elasticity"):
        raise ValueError(f"property = {property!r}; expected 'conductivity' or 'elasticity'")


def sample_voxel_composites(parameters, seeds, *, size=32, ndim=2, contrast=10.0, property="conductivity",
                            reference_size=None, device="auto"):
    """Sampler of :func:`voxel_composites` (images from :func:`voxel_composite_images`, then one batched
    solve).

    Parameters
    ----------
    parameters, seeds, size, ndim, reference_size
        As in :func:`voxel_composite_images`.
    contrast : float, default 10.0
        Phase 1's conductivity, or Young's modulus (``nu = 0.3`` in both phases), relative to phase 0's.
    property : {"conductivity", "elasticity"}
    device : str or torch.device
        Device of the solver (``"auto"``: CUDA when available).

    Returns
    -------
    dict: array ``images`` (uint8 labels); conductivity: ``conductivity`` ``(n, ndim, ndim)``, ``k_xx``,
    ``k_yy`` (3D ``k_zz``), ``k_xy``, ``k_mean``; elasticity: Mandel ``stiffness``, ``bulk_modulus``,
    ``shear_modulus``, ``c_11`` ... ; descriptors ``measured_volume_fraction``, ``structure_kind``.

    Examples
    --------
    The effective conductivities lie between the Reuss and Voigt bounds of the measured fractions:

    >>> import numpy as np, pandas as pd
    >>> from mslearn.datasets import sample_seeds
    >>> from mslearn.homogenization.bounds import reuss, voigt
    >>> designs = pd.DataFrame({"kind": [0.2, 0.8], "volume_fraction": [0.3, 0.4],   # inclusions, then a GRF
    ...                         "aspect_ratio": [3.0, 1.0], "orientation": [30.0, 0.0],
    ...                         "correlation_length": [0.05, 0.05], "anisotropy": [1.0, 2.0]})
    >>> out = sample_voxel_composites(designs, sample_seeds(0, 0, 2), size=16, device="cpu")
    >>> phi = out["descriptors"]["measured_volume_fraction"]; f = np.stack([1 - phi, phi], -1)
    >>> bool(np.all((reuss(f, [1.0, 10.0]) <= out["k_xx"]) & (out["k_xx"] <= voigt(f, [1.0, 10.0]))))
    True
    """
    _check_property(property)       # any other name would silently compute the conductivity
    labels, kinds = voxel_composite_images(parameters, seeds, size=size, ndim=ndim, reference_size=reference_size)
    descriptors = {"measured_volume_fraction": labels.reshape(len(labels), -1).mean(1), "structure_kind": kinds}
    if property == "elasticity":
        C = np.asarray(elasticity(labels, [(1.0, NU), (contrast, NU)], batch=True, tol=TOL, device=device).effective)
        bulk, shear = isotropic_moduli(C, ndim=ndim)
        out = {"images": labels, "stiffness": C, "bulk_modulus": bulk, "shear_modulus": shear,
               "descriptors": descriptors}
        for i in range(ndim):
            out[f"c_{i + 1}{i + 1}"] = C[:, i, i]
        return out
    K = np.asarray(conductivity(labels, [1.0, contrast], batch=True, tol=TOL, device=device).effective)
    out = {"images": labels, "conductivity": K, "k_xx": K[:, 0, 0], "k_yy": K[:, 1, 1], "k_xy": K[:, 0, 1],
           "k_mean": np.trace(K, axis1=1, axis2=2) / ndim, "descriptors": descriptors}
    if ndim == 3:
        out["k_zz"] = K[:, 2, 2]
    return out


def voxel_composites(n_samples=600, *, size=None, ndim=2, contrast=10.0, property="conductivity", seed=0,
                     device="auto", cache=True, progress=False):
    r"""Images and full effective conductivity (or stiffness) tensors, for convolutional networks.

    Two structure kinds, mixed (parameter ``kind`` < 0.5 or not; descriptor ``structure_kind`` 0/1):
    aligned overlapping ellipses (3D: prolate spheroids) with a random aspect ratio 1–5 and
    orientation, and level-cut anisotropic Gaussian random fields (axis-aligned correlation lengths);
    volume fraction 0.1–0.5. Conductivities ``[1, contrast]`` (default 10). ``ds.arrays["images"]``
    (n, size, size[, size]) uint8; ``ds.arrays["conductivity"]`` (n, d, d) effective tensors;
    ``ds.targets``: ``k_xx``, ``k_yy``, ``k_xy`` (3D also ``k_zz``), ``k_mean`` = tr/d.

    With ``property="elasticity"`` both phases are isotropic with Poisson's ratio 0.3 and Young's
    moduli ``[1, contrast]`` (2D: plane strain); ``ds.arrays["stiffness"]`` holds the full effective
    Mandel stiffness ``(n, m, m)`` (m = 3 in 2D, 6 in 3D; order of
    :mod:`mslearn.homogenization.tensors`) and ``ds.targets`` the diagonal ``c_11``, ``c_22``
    (``c_33``) and the bulk and shear moduli of its isotropic projection (``bulk_modulus``,
    ``shear_modulus``).

    Arguments not listed below are as in :func:`particle_composites`.

    Parameters
    ----------
    size : int, optional
        Image side: default 32 (2D) or 24 (3D).
    ndim : {2, 3}
    contrast : float > 0
        Conductivity or Young's modulus ratio of phase 1 to phase 0.
    property : {"conductivity", "elasticity"}

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.homogenization.bounds import reuss, voigt
    >>> ds = voxel_composites(4, size=16, device="cpu", cache=False)
    >>> ds.arrays["images"].shape, ds.arrays["conductivity"].shape
    ((4, 16, 16), (4, 2, 2))
    >>> phi = ds.parameters.measured_volume_fraction.to_numpy(); f = np.stack([1 - phi, phi], -1)
    >>> bool(np.all((reuss(f, [1.0, 10.0]) <= ds.targets.k_yy) & (ds.targets.k_yy <= voigt(f, [1.0, 10.0]))))
    True
    """
    if ndim not in (2, 3):
        raise ValueError(f"ndim = {ndim!r}; expected 2 or 3")
    size = _check_size(32 if size is None and ndim == 2 else 24 if size is None else size, 12)
    contrast = float(contrast)
    if not (math.isfinite(contrast) and contrast > 0):
        raise ValueError(f"contrast = {contrast!r}; expected a finite positive conductivity or modulus ratio")
    _check_property(property)
    dev = resolve_device(device)
    sampler = functools.partial(sample_voxel_composites, size=size, ndim=ndim, contrast=contrast, property=property,
                                device=dev)
    sampler.name = "mslearn.datasets.ready.sample_voxel_composites"
    key = {"size": size, "ndim": ndim, "contrast": contrast, "property": property}
    if property == "conductivity":
        what, phases = f"conductivity tensors (k = [1, {contrast:g}])", {"0": "k = 1", "1": f"k = {contrast:g}"}
    else:
        what = f"Mandel stiffness matrices (E = [1, {contrast:g}], nu = {NU:g}{', plane strain' if ndim == 2 else ''})"
        phases = {"0": f"E = 1, nu = {NU:g}", "1": f"E = {contrast:g}, nu = {NU:g}"}
    metadata = {
        "title": "voxel_composites",
        "description": (f"{ndim}D periodic two-phase images ({size}^{ndim} voxels) of oriented inclusions and "
                        f"level-cut anisotropic Gaussian random fields with their full effective {what} "
                        "from the FFT solver."),
        "phases": phases,
    }
    batch = (128 if ndim == 2 else 16) if dev.type == "cpu" else 512
    if property == "elasticity" and dev.type != "cpu":   # 6 load cases x 6 components per voxel: bound memory
        batch = max(4, min(batch, 2 ** 21 // size ** ndim))
    return _ready("voxel_composites", key, sampler, _voxel_space(ndim), n_samples, seed, cache, progress, metadata,
                  batch, dev)


# ----------------------------------------------------------------------------- 4. polycrystals
def _grain_tensor(anisotropy, theta):
    """:math:`R(\\theta)\\,\\mathrm{diag}(1, a)\\,R(\\theta)^T`, shape ``(len(theta), 2, 2)``."""
    c, s = np.cos(2 * theta), np.sin(2 * theta)
    mean, half = (1 + anisotropy) / 2, (1 - anisotropy) / 2
    return np.stack([np.stack([mean + half * c, half * s], -1), np.stack([half * s, mean - half * c], -1)], -2)


def sample_polycrystals(parameters, seeds, *, size=64, device="auto"):
    """Sampler of :func:`polycrystals`: per-voxel tensors, one batched solve, grain graphs.

    Parameters
    ----------
    parameters : DataFrame with the columns of ``POLYCRYSTAL_SPACE``
    seeds : array of int, one per row
    size : int
        Image side in pixels.
    device : str or torch.device
        Device of the solver (``"auto"``: CUDA when available).

    Returns
    -------
    dict: targets ``k_xx``, ``k_yy``, ``k_xy``, ``k_mean``; arrays ``conductivity`` ``(n, 2, 2)``,
    ``grain_ids`` (int16), ``boundaries`` (uint8); descriptors ``grains``, ``gb_fraction``; ragged
    graph ``node_features``, ``edge_index``, ``edge_features``.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.datasets import sample_parameters, sample_seeds
    >>> from mslearn.datasets.ready import POLYCRYSTAL_SPACE
    >>> parameters = sample_parameters(POLYCRYSTAL_SPACE, 2, seed=0)
    >>> out = sample_polycrystals(parameters, sample_seeds(0, 0, 2), size=32, device="cpu")
    >>> out["conductivity"].shape, out["grain_ids"].shape
    ((2, 2, 2), (2, 32, 32))
    >>> K = out["conductivity"]                        # symmetric to the solver's tolerance
    >>> bool(np.allclose(K, K.transpose(0, 2, 1), atol=1e-4))
    True
    """
    shape = (size, size)
    fields, ids_all, gbs, nodes, edges, edge_feats, n_real = [], [], [], [], [], [], []
    rows = _design_rows(parameters, seeds, POLYCRYSTAL_SPACE)
    # a ratio <= 0 would reach log10 and sqrt as "math domain error", NaN grains int() as a bare error
    check_finite(parameters["n_grains"].to_numpy(), name="parameters['n_grains']")
    for column in ("anisotropy", "gb_conductivity"):
        check_positive(parameters[column].to_numpy(), name=f"parameters[{column!r}]")
    for row, s in rows:
        gen = rng(s)
        n_grains = int(round(row.n_grains))
        grains = voronoi_grains(shape, n_grains, seed=gen, boundary_width=1)
        ids, gb = grains.labels, grains.boundaries
        theta = gen.uniform(0, np.pi, n_grains)
        tensors = _grain_tensor(float(row.anisotropy), theta)                       # (n_grains, 2, 2)
        field = tensors[ids]                                                        # (*shape, 2, 2)
        field[gb] = float(row.gb_conductivity) * np.eye(2)
        fields.append(np.moveaxis(field, (-2, -1), (0, 1)))
        graph = grain_graph(ids)
        nodes.append(np.stack([graph.volumes / ids.size, np.cos(2 * theta), np.sin(2 * theta),
                               np.full(n_grains, math.log10(row.anisotropy))], 1))
        pairs = graph.edges
        edges.append(np.concatenate([pairs, pairs[:, ::-1]]))
        share = graph.areas / graph.areas.sum()
        feats = np.stack([share, np.full(len(share), math.log10(row.gb_conductivity))], 1)
        edge_feats.append(np.concatenate([feats, feats]))
        ids_all.append(ids.astype(np.int16))
        gbs.append(gb.astype(np.uint8))
        n_real.append(n_grains)
    K = np.asarray(conductivity_field(np.stack(fields), ndim=2, batch=True, tol=TOL, device=device).effective)
    gb_all = np.stack(gbs)
    return {"k_xx": K[:, 0, 0], "k_yy": K[:, 1, 1], "k_xy": K[:, 0, 1], "k_mean": (K[:, 0, 0] + K[:, 1, 1]) / 2,
            "conductivity": K, "grain_ids": np.stack(ids_all), "boundaries": gb_all,
            "descriptors": {"grains": np.array(n_real, dtype=float),
                            "gb_fraction": gb_all.reshape(len(gb_all), -1).mean(1)},
            "ragged": {"node_features": [n.astype(np.float32) for n in nodes],
                       "edge_index": [e.astype(np.int64) for e in edges],
                       "edge_features": [f.astype(np.float32) for f in edge_feats]}}


def polycrystals(n_samples=400, *, size=64, seed=0, device="auto", cache=True, progress=False):
    r"""Periodic 2D polycrystals of anisotropic grains with resistive grain boundaries → conductivity + graphs.

    :func:`mslearn.structures.voronoi_polycrystal` with 8–30 grains; grain *g* has the conductivity
    :math:`R(\theta_g)\,\mathrm{diag}(1, a)\,R(\theta_g)^T` with a random in-plane orientation
    :math:`\theta_g` and the anisotropy :math:`a = k_2/k_1` (1–10, log-uniform); grain-boundary
    voxels (``boundary_width=1``) have the isotropic conductivity ``gb_conductivity`` (0.01–1,
    log-uniform) — the review's polycrystal ionic-conductivity example. Targets ``k_xx``, ``k_yy``,
    ``k_xy``, ``k_mean``; arrays ``conductivity`` (n, 2, 2), ``grain_ids`` (int16), ``boundaries``
    (uint8); descriptors ``grains``, ``gb_fraction``.

    Graphs (``ds.graphs()``): nodes = grains with features (area fraction, cos 2θ, sin 2θ,
    log10 a); edges = neighbouring grains (both directions) with features (share of the total
    boundary length, log10 gb_conductivity). Other arguments as in :func:`particle_composites`.

    Examples
    --------
    No polycrystal conducts better than its grains' best direction (k2 = ``anisotropy``, k1 = 1):

    >>> ds = polycrystals(4, size=32, device="cpu", cache=False)
    >>> list(ds.targets.columns), ds.arrays["grain_ids"].shape
    (['k_xx', 'k_yy', 'k_xy', 'k_mean'], (4, 32, 32))
    >>> bool((ds.targets.k_mean <= ds.parameters.anisotropy).all())
    True
    """
    size = _check_size(size, 16)
    dev = resolve_device(device)
    sampler = functools.partial(sample_polycrystals, size=size, device=dev)
    sampler.name = "mslearn.datasets.ready.sample_polycrystals"
    metadata = {
        "title": "polycrystals",
        "description": (f"2D periodic Voronoi polycrystals ({size}x{size}) with anisotropic grain conductivity "
                        "tensors and 1-voxel grain boundaries; effective conductivity from the FFT solver and "
                        "grain-adjacency graphs for graph neural networks."),
        "node_features": ["area_fraction", "cos_2theta", "sin_2theta", "log10_anisotropy"],
        "edge_features": ["boundary_share", "log10_gb_conductivity"],
        "structure": {"generator": "mslearn.structures.voronoi_polycrystal", "boundary_width": 1},
    }
    return _ready("polycrystals", {"size": size}, sampler, POLYCRYSTAL_SPACE, n_samples, seed, cache, progress,
                  metadata, 64 if dev.type == "cpu" else 256, dev)


def as_frame(dataset):
    """One DataFrame with the parameters and the targets of a dataset, side by side.

    Examples
    --------
    >>> ds = triangular_lattices(4, size=20, device="cpu", cache=False)
    >>> frame = as_frame(ds)
    >>> frame.shape, list(frame.columns[-4:])
    ((4, 9), ['E_1', 'E_2', 'G_12', 'nu_12'])
    """
    return pd.concat([dataset.parameters, dataset.targets], axis=1)
