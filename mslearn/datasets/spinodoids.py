r"""The spinodoid metamaterial data of Kumar et al. (2020), and the same designs through our solver.

* :func:`spinodoid_metamaterials` — the packaged table of 21,300 designs (volume fraction, three cone angles) and
  their homogenized stiffness (nine components), simulated by finite elements by Kumar, Tan, Zheng &
  Kochmann, "Inverse-designed spinodoid metamaterials", npj Comput. Mater. 6, 73 (2020),
  doi:10.1038/s41524-020-0341-6 (MIT-style licence, ``mslearn/data/spinodoids/LICENSE.txt``). The
  data behind the tandem inverse design of book part 5 (:class:`mslearn.optimization.TandemInverseDesign`).
* :func:`spinodoid_stiffness` — the same nine components computed *here*: the structure generated
  with :func:`mslearn.structures.spinodoid` and homogenized with
  :func:`mslearn.homogenization.elasticity`, to verify proposed designs with the package's own physics.
  In 2D (volume fraction and two cone angles) the four plane-strain entries ``c_11, c_12, c_22, c_66``.
* :func:`spinodoid_solver_data` — training data made by that solver (2D by default, about 0.02 s a
  design at 32² on one core): space-filling designs over the same design space, so that an inverse
  model trained on them proposes designs that the same solver can verify (book part 5, closing the loop).

The dataset card (``mslearn/data/spinodoids/README.md``, also ``metadata["card"]``) documents the
columns, units and the design space.
"""
from __future__ import annotations

import functools
import numbers
from importlib import resources

import numpy as np
import pandas as pd

from .._backend import cpu_threads
from .._backend import device as resolve_device
from .._backend import progress_bar, rng
from .._validation import check_integer
from ..homogenization import elasticity
from ..structures import spinodoid
from .store import Dataset

__all__ = ["spinodoid_metamaterials", "spinodoid_stiffness", "spinodoid_solver_data", "SPINODOID_DESIGNS",
           "SPINODOID_PROPERTIES", "SPINODOID_SPACE", "SPINODOID_MIN_ANGLE", "SPINODOID_DESIGNS_2D",
           "SPINODOID_PROPERTIES_2D"]

#: The design columns of :func:`spinodoid_metamaterials`: volume fraction, cone angles (degrees) around x, y, z.
SPINODOID_DESIGNS = ("volume_fraction", "theta_x", "theta_y", "theta_z")
#: The property columns: Voigt stiffness entries C11, C12, C13, C22, C23, C33, C44, C55, C66 (relative to E).
SPINODOID_PROPERTIES = ("c_11", "c_12", "c_13", "c_22", "c_23", "c_33", "c_44", "c_55", "c_66")
#: The bounds of the designs in the data (a cone angle is 0 or in [``SPINODOID_MIN_ANGLE``, 90]).
SPINODOID_SPACE = {"volume_fraction": (0.3, 0.9), "theta_x": (0.0, 90.0), "theta_y": (0.0, 90.0),
                   "theta_z": (0.0, 90.0)}
#: The smallest non-zero cone angle in the data (degrees): an angle is either 0 (off) or >= 15.
SPINODOID_MIN_ANGLE = 15.0
#: The 2D designs (:func:`spinodoid_stiffness`, :func:`spinodoid_solver_data` with ``ndim=2``): volume
#: fraction and the cone angles (degrees) around x and y.
SPINODOID_DESIGNS_2D = ("volume_fraction", "theta_x", "theta_y")
#: The 2D properties: plane-strain Voigt stiffness entries C11, C12, C22, C66 (order 11, 22, 12; relative to E).
SPINODOID_PROPERTIES_2D = ("c_11", "c_12", "c_22", "c_66")

_CSV_COLUMNS = {"volFrac": "volume_fraction", "thetaX": "theta_x", "thetaY": "theta_y", "thetaZ": "theta_z",
                "stiffness0": "c_11", "stiffness1": "c_12", "stiffness2": "c_13", "stiffness7": "c_22",
                "stiffness8": "c_23", "stiffness14": "c_33", "stiffness21": "c_44", "stiffness28": "c_55",
                "stiffness35": "c_66"}
# (row, column) of each property in the 6x6 Voigt/Mandel matrix, order (11, 22, 33, 23, 13, 12)
_ENTRIES = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))
# ... and in the 3x3 plane-strain matrix, order (11, 22, 12)
_ENTRIES_2D = ((0, 0), (0, 1), (1, 1), (2, 2))
CITATION = ('S. Kumar, S. Tan, L. Zheng, D. M. Kochmann, "Inverse-designed spinodoid metamaterials", '
            "npj Computational Materials 6, 73 (2020), doi:10.1038/s41524-020-0341-6")
SOURCE = "https://github.com/mmc-group/inverse-designed-spinodoids (data.csv)"


def _folder():
    return resources.files("mslearn").joinpath("data").joinpath("spinodoids")


def spinodoid_metamaterials(n_samples=None, *, seed=0):
    r"""The spinodoid designs and stiffnesses of Kumar et al. (2020): 21,300 finite-element results.

    A spinodoid is the level cut of a random field of plane waves of one wavelength whose directions
    lie in cones of half-angle :math:`\theta_1, \theta_2, \theta_3` around the axes
    (:func:`mslearn.structures.spinodoid`). Each row is one design and its homogenized elastic
    stiffness relative to the solid's Young's modulus.

    ``ds.parameters`` — the designs (:data:`SPINODOID_DESIGNS`): ``volume_fraction`` (0.3–0.9) and
    the cone angles ``theta_x``, ``theta_y``, ``theta_z`` in degrees, each **either 0 (no waves
    around that axis) or between 15° and 90°**, at least one of them non-zero.
    ``ds.targets`` — the properties (:data:`SPINODOID_PROPERTIES`): the Voigt stiffness entries
    ``c_11, c_12, c_13, c_22, c_23, c_33, c_44, c_55, c_66`` (order 11, 22, 33, 23, 13, 12; the shear
    entries are Voigt's, half of the Mandel entries :mod:`mslearn.homogenization` returns), relative
    to the solid's Young's modulus. ``ds.metadata`` holds the dataset card (``"card"``), the
    ``"citation"``, the ``"licence"`` text, the ``"source"``, the original ``"csv_columns"``, the
    design bounds (``"design_space"``) and ``"semicontinuous"``: the smallest non-zero value of each
    angle (an argument of :class:`mslearn.optimization.TandemInverseDesign`).

    Source: S. Kumar, S. Tan, L. Zheng, D. M. Kochmann, "Inverse-designed spinodoid metamaterials",
    npj Comput. Mater. 6, 73 (2020), doi:10.1038/s41524-020-0341-6; the authors' ``data.csv``
    (MIT-style licence, Copyright (c) 2020 ETH Zurich, ``mslearn/data/spinodoids/LICENSE.txt``).
    Cite the paper wherever the data are used.

    Parameters
    ----------
    n_samples : int, optional
        A random subset of this many rows (drawn without replacement with ``seed``, kept in file
        order), e.g. for a quick run; default all 21,300.
    seed : int or numpy.random.Generator
        Draws the subset (unused without ``n_samples``).

    Returns
    -------
    Dataset
        As :func:`mslearn.datasets.load` returns, without arrays; ``ds.split()`` gives
        reproducible train/validation/test indices.

    Examples
    --------
    >>> from mslearn.datasets import spinodoids
    >>> ds = spinodoid_metamaterials()
    >>> len(ds), list(ds.parameters.columns)
    (21300, ['volume_fraction', 'theta_x', 'theta_y', 'theta_z'])
    """
    folder = _folder()
    with folder.joinpath("data.csv").open("r") as handle:
        table = pd.read_csv(handle)
    if list(table.columns) != list(_CSV_COLUMNS):
        raise RuntimeError(f"the packaged spinodoid data have columns {list(table.columns)}; expected "
                           f"{list(_CSV_COLUMNS)} (a damaged installation)")
    table = table.rename(columns=_CSV_COLUMNS)
    if n_samples is not None:
        if check_integer(n_samples, 1, name="n_samples") > len(table):
            raise ValueError(f"n_samples = {n_samples!r}; expected None or an integer in [1, {len(table)}]")
        rows = np.sort(rng(seed).choice(len(table), size=int(n_samples), replace=False))
        table = table.iloc[rows].reset_index(drop=True)
    parameters = table[list(SPINODOID_DESIGNS)].copy()
    targets = table[list(SPINODOID_PROPERTIES)].copy()
    metadata = {
        "title": "spinodoid_metamaterials",
        "description": ("Spinodoid metamaterials (Kumar et al. 2020): volume fraction and three cone angles "
                        "(degrees, 0 or 15-90) -> nine homogenized Voigt stiffness entries relative to the "
                        "solid's Young's modulus, from finite-element simulations."),
        "card": folder.joinpath("README.md").read_text(encoding="utf-8"),
        "citation": CITATION,
        "doi": "10.1038/s41524-020-0341-6",
        "source": SOURCE,
        "licence": folder.joinpath("LICENSE.txt").read_text(encoding="utf-8"),
        "csv_columns": dict(_CSV_COLUMNS),
        "units": {"volume_fraction": "1", "theta_x": "degree", "theta_y": "degree", "theta_z": "degree",
                  **{name: "1 (relative to the solid's Young's modulus; Voigt)" for name in SPINODOID_PROPERTIES}},
        "design_space": dict(SPINODOID_SPACE),
        "semicontinuous": {name: SPINODOID_MIN_ANGLE for name in SPINODOID_DESIGNS[1:]},
        "n_complete": len(table),
    }
    return Dataset(parameters, targets, {}, {}, metadata)


def _check_designs(designs):
    if isinstance(designs, pd.DataFrame):       # by name: reordered columns would swap the angles silently
        columns = list(designs.columns)
        names = list(SPINODOID_DESIGNS if "theta_z" in columns else SPINODOID_DESIGNS_2D)
        if sorted(map(str, columns)) != sorted(names):
            unknown = [c for c in columns if c not in names]
            missing = [n for n in names if n not in columns]
            raise ValueError(f"designs has the columns {columns}; expected {names} ({len(names) - 1}D, in any order)"
                             + (f"; unknown: {unknown}" if unknown else "")
                             + (f"; missing: {missing}" if missing else ""))
        designs = designs[names]
    values = np.asarray(designs.to_numpy() if isinstance(designs, pd.DataFrame) else designs, dtype=float)
    if values.ndim != 2 or values.shape[1] not in (3, 4):
        raise ValueError(f"designs has shape {values.shape}; expected (n_designs, 4): volume fraction and the "
                         "cone angles theta_x, theta_y, theta_z in degrees (3D), or (n_designs, 3): volume "
                         "fraction, theta_x, theta_y (2D)")
    if not np.all(np.isfinite(values)):
        raise ValueError("designs contains NaN or infinite values; expected finite designs")
    if np.any((values[:, 0] <= 0) | (values[:, 0] >= 1)):
        raise ValueError("designs has volume fractions outside (0, 1)")
    angles = values[:, 1:]
    if np.any((angles < 0) | (angles > 90)):
        raise ValueError("designs has cone angles outside [0, 90] degrees")
    if np.any(np.all(angles == 0, axis=1)):
        raise ValueError("designs has a row whose cone angles are all 0; at least one must be > 0")
    return values


def _check_size(size):
    return check_integer(size, 8, name="size")


def _check_void(void):
    if not (isinstance(void, numbers.Real) and 0 <= void < 1):
        raise ValueError(f"void = {void!r}; expected a Young's modulus in [0, 1) relative to the solid")


def _solve(values, seeds, size, wavelength, n_waves, void, nu, tol, device, keep_labels, progress=False, desc=None):
    """Generate and homogenize each design (``values`` (n, 1 + ndim)); Voigt entries and, if asked, labels;
    a tqdm bar over the designs with ``progress``."""
    ndim = values.shape[1] - 1
    _check_void(void)
    wavelength = size / 5.0 if wavelength is None else float(wavelength)
    entries = _ENTRIES if ndim == 3 else _ENTRIES_2D
    shear = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0] if ndim == 3 else [1.0, 1.0, 2.0])  # Mandel shear = 2x Voigt
    dev = resolve_device(device)
    phases = [{"E": float(void), "nu": nu}, {"E": 1.0, "nu": nu}]
    out = np.empty((len(values), len(entries)))
    labels_out = np.empty((len(values),) + (size,) * ndim, dtype=np.uint8) if keep_labels else None
    bar = progress_bar(progress, len(values), desc, unit="design")
    try:
        with cpu_threads(1, dev):     # small FFTs: one thread is fastest (mslearn._backend.cpu_threads)
            for i, (design, s) in enumerate(zip(values, seeds)):
                labels = spinodoid((size,) * ndim, float(design[0]), wavelength=wavelength,
                                   cone_angles=tuple(float(a) for a in design[1:]), n_waves=n_waves, seed=int(s))
                C = np.asarray(elasticity(labels, phases, tol=tol, device=dev).effective, dtype=float)
                C = 0.5 * (C + C.T) / np.sqrt(np.outer(shear, shear))
                out[i] = [C[r, c] for r, c in entries]
                if keep_labels:
                    labels_out[i] = labels
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out, labels_out


def spinodoid_stiffness(designs, *, size=32, wavelength=None, n_waves=1000, void=1e-3, nu=0.3, tol=1e-4,
                        seed=0, device="auto", progress=False):
    r"""The stiffness entries of spinodoid designs computed with the package's FFT solver (3D or 2D).

    Each design ``(volume_fraction, theta_x, theta_y, theta_z)`` (angles in degrees) is generated
    with :func:`mslearn.structures.spinodoid` on a periodic ``size``³ grid and homogenized with
    :func:`mslearn.homogenization.elasticity`: solid :math:`E = 1`, :math:`\nu` = ``nu`` and a void
    of Young's modulus ``void`` (a soft phase keeps the conjugate-gradient solve fast: with true
    pores, ``void=0``, a design at volume fraction 0.48 ran past 1,000 iterations, 30 s, where
    ``void=1e-3`` converged in 150, 5 s; the soft void adds about ``void`` times its volume fraction
    to the normal entries, which matters only in the most compliant directions of sparse designs). The
    result is in the order and notation of :func:`spinodoid_metamaterials` (Voigt, relative to the
    solid's modulus), so that a design proposed by an inverse model can be checked against its target.

    This is a *different model* of the same family, not a reproduction of Kumar et al.'s
    finite-element data: voxels instead of a smooth mesh, and exact periodicity — the wave vectors
    are the grid's Fourier vectors near the wave number, so that a narrow cone holds only a few
    distinct directions and one realization scatters more than the data do. Measured at 32³ (about
    1.2 s per design on one core; 48³ takes about 3.3 s and brings the same designs closer to the
    data by only 0.1–9 points of per cent, so the grid is not what differs) for the ten held-out
    designs of :class:`~mslearn.optimization.TandemInverseDesign`'s check (the data's
    ``split((0.9, 0, 0.1), seed=0)`` test rows, ten drawn by ``default_rng(0)``): the solver's
    stiffness differs from the data's by 16 % (median; 8–66 %, the largest at volume fractions 0.37–0.38,
    where the solid barely percolates), and two realizations (``seed`` 0 and 1) of one design differ
    by 5 % (median). Compare a proposed design with the
    solver's value for a known design of the data, not only with the data.

    **2D designs** ``(volume_fraction, theta_x, theta_y)`` (three columns, :data:`SPINODOID_DESIGNS_2D`)
    are generated on a ``size``² grid and give the four plane-strain entries ``c_11, c_12, c_22,
    c_66`` (:data:`SPINODOID_PROPERTIES_2D`; Voigt, order 11, 22, 12; the shear-normal couplings
    ``c_16, c_26`` of one realization are left out: they vanish on average for these designs). A
    cone around x alone gives bands normal to x, the smallest ``c_11``. About 0.02 s per design at
    32² on one core (3D: 0.17 s at 16³, 0.6 s at 24³, 1.2 s at 32³). The number of design dimensions
    is read from the number of columns (3: 2D, 4: 3D): a design is a point of its own space, not a
    batch.

    In both, the wave vectors are the grid's Fourier vectors within half a step of the wave number,
    about ``2 pi size / wavelength`` of them (28 in 2D at the default five wavelengths per cell: 14
    pairs :math:`\pm k`, 14 orientations): the stiffness changes with a cone angle in steps of roughly
    ``180 / 14`` degrees (2D), and one realization scatters; measure the scatter with two ``seed``
    values.

    Parameters
    ----------
    designs : array-like or DataFrame, shape ``(n_designs, 4)`` (3D) or ``(n_designs, 3)`` (2D)
        Volume fraction in (0, 1) and the cone angles (degrees, in [0, 90], at least one > 0): an array's
        columns in the order of :data:`SPINODOID_DESIGNS` (3D) or :data:`SPINODOID_DESIGNS_2D` (2D), a
        DataFrame's taken by name, in any order (another column, or one missing, raises ``ValueError``).
    size : int
        Grid points per side (default 32: about 1.2 s per design on one CPU core in 3D, 0.02 s in 2D).
    wavelength : float, optional
        Wavelength in voxels; default ``size / 5`` (five wavelengths per cell).
    n_waves : int
        Waves per structure (:func:`mslearn.structures.spinodoid`).
    void : float
        Young's modulus of the void phase relative to the solid (>= 0).
    nu : float
        Poisson's ratio of both phases.
    tol : float
        Relative residual of the solver.
    seed : int or numpy.random.Generator
        Seeds the random structures (design ``i`` gets its own stream).
    device : str
        Solver device (``"auto"``: CUDA when available).
    progress : bool
        Show a tqdm progress bar over the designs.

    Returns
    -------
    numpy.ndarray, shape ``(n_designs, 9)`` (3D) or ``(n_designs, 4)`` (2D)
        ``c_11, c_12, c_13, c_22, c_23, c_33, c_44, c_55, c_66`` (:data:`SPINODOID_PROPERTIES`), or in 2D
        ``c_11, c_12, c_22, c_66`` (:data:`SPINODOID_PROPERTIES_2D`).

    Examples
    --------
    >>> import numpy as np
    >>> C = spinodoid_stiffness(np.array([[0.6, 30.0, 0.0]]), size=32, seed=0, device="cpu")
    >>> C.shape, bool(C[0, 0] < C[0, 2])          # bands normal to x: c_11 < c_22
    ((1, 4), True)
    """
    values = _check_designs(designs)
    size = _check_size(size)
    seeds = rng(seed).integers(2**62, size=len(values))
    return _solve(values, seeds, size, wavelength, n_waves, void, nu, tol, device, False, progress,
                  "spinodoid_stiffness")[0]


def _on_off_patterns(ndim):
    """The ``2**ndim - 1`` on/off patterns of the cone angles with at least one on, ``(n, ndim)`` bool."""
    codes = np.arange(1, 2**ndim)
    return (codes[:, None] >> np.arange(ndim)) & 1 == 1


def _unit_space(ndim):
    """The coordinates of the design's Sobol points, as :func:`mslearn.datasets.generate` samples them: volume
    fraction, ``ndim`` angles, the on/off pattern of the angles (each uniform on [0, 1))."""
    return {f"u{i}": (0.0, 1.0) for i in range(ndim + 2)}


def _designs(unit, ndim):
    """Designs ``(n, 1 + ndim)`` from the unit Sobol coordinates ``(n, ndim + 2)`` (see :func:`spinodoid_solver_data`)."""
    low, high = SPINODOID_SPACE["volume_fraction"]
    patterns = _on_off_patterns(ndim)
    on = patterns[np.minimum((unit[:, -1] * len(patterns)).astype(int), len(patterns) - 1)]
    angles = np.where(on, SPINODOID_MIN_ANGLE + unit[:, 1:ndim + 1] * (90.0 - SPINODOID_MIN_ANGLE), 0.0)
    return np.column_stack([low + unit[:, 0] * (high - low), angles])


def _sample_solver_data(parameters, seeds, *, ndim, size, wavelength, n_waves, void, nu, tol, device):
    """The sampler of :func:`spinodoid_solver_data` for :func:`mslearn.datasets.generate`: the unit Sobol
    coordinates to designs (stored as descriptor columns), their stiffness entries and labels."""
    values = _designs(parameters[list(_unit_space(ndim))].to_numpy(np.float64), ndim)
    stiffness, labels = _solve(values, seeds, size, wavelength, n_waves, void, nu, tol, device, True)
    names = SPINODOID_DESIGNS if ndim == 3 else SPINODOID_DESIGNS_2D
    properties = SPINODOID_PROPERTIES if ndim == 3 else SPINODOID_PROPERTIES_2D
    return {**{name: stiffness[:, j] for j, name in enumerate(properties)}, "labels": labels,
            "descriptors": {name: values[:, j] for j, name in enumerate(names)}}


def spinodoid_solver_data(n_samples, *, ndim=2, size=32, wavelength=None, n_waves=1000, void=1e-3, nu=0.3,
                          tol=1e-4, seed=0, device="auto", cache=True, progress=False):
    r"""Spinodoid designs and their stiffness computed by the package's FFT solver: training data.

    The solver's counterpart of :func:`spinodoid_metamaterials`, with the same structure (designs in
    ``ds.parameters``, Voigt stiffness entries in ``ds.targets``, ``metadata["design_space"]`` and
    ``metadata["semicontinuous"]``), so that :class:`mslearn.optimization.TandemInverseDesign` is
    fitted the same way — and its proposals are verified by the same physics that made its data,
    :func:`spinodoid_stiffness` (closing the loop).

    **The designs** fill the design space of Kumar et al.'s data: volume fraction in [0.3, 0.9] and
    ``ndim`` cone angles, each either 0 (off) or in [15°, 90°], at least one on. They are the points
    of one scrambled Sobol sequence (:func:`mslearn.datasets.sobol_sequence`) in ``ndim + 2``
    dimensions: the first gives the volume fraction, the next ``ndim`` the angles (uniform in
    [15, 90]) and the last picks the on/off pattern of the angles among the ``2**ndim - 1`` patterns
    with at least one cone on, each equally likely (in 2D a third x only, a third y only, a third
    both; in 3D a seventh each, close to Kumar et al.'s 14 % / 11 % / 25 % for one, two, three cones),
    the angles of the cones that are off set to 0. Picking the pattern by a coordinate of the same
    sequence keeps the designs space-filling within each pattern; the sequence is extensible, so
    design ``i`` does not depend on ``n_samples`` and neither does its structure (seeded by
    ``SeedSequence(seed, spawn_key=(i,))``, as in :func:`mslearn.datasets.generate`).

    **Cost**, one core: 2D at 32², about 0.02 s a design (500 designs, 11 s); 3D at 16³ 0.17 s,
    at 24³ 0.6 s, at 32³ about 1.2 s. Like the ready datasets (:func:`mslearn.datasets.particle_composites`)
    the data are generated by :func:`mslearn.datasets.generate` into a store cached in
    :func:`mslearn.datasets.cache_dir`, whose name encodes the arguments and the code that makes the data:
    an interrupted run resumes at the designs it had finished (written every design in 3D, every 32 in
    2D), a larger ``n_samples`` computes only the new designs, and a repeated call reads the store.

    **Realization scatter, and the grid to choose** (2D, measured): the cell must hold enough
    wavelengths for one realization to stand for its design. On the first 150 designs of
    ``spinodoid_solver_data(500)``, with the default five wavelengths per cell (``size=32``) two
    seeds of one design differ by 23 % (median of the relative norm of the four entries; 90th
    percentile 85 %), with eight (``size=32, wavelength=4``, 0.02 s a design) by 16 % (90th
    percentile 46 %), and with ten on a finer grid (``size=64, wavelength=6.4``, 0.05 s) by no less,
    16 % (50 %). That scatter caps what any model of the data can do: no network predicts which of
    two realizations it is given. Below a volume fraction of about 0.5 a 2D level cut barely percolates and the
    stiffness is set by the soft void; the entries span three decades, so fit the logarithms of
    ``c_11, c_22, c_66`` (``c_12`` can be slightly negative) when relative errors matter.

    Parameters
    ----------
    n_samples : int
        Number of designs (>= 1).
    ndim : {2, 3}
        2D (volume fraction, ``theta_x``, ``theta_y`` → ``c_11, c_12, c_22, c_66``, plane strain) or 3D
        (four design columns → the nine entries of :data:`SPINODOID_PROPERTIES`).
    size, wavelength, n_waves, void, nu, tol, device
        As in :func:`spinodoid_stiffness` (grid side, wavelength in voxels (default ``size / 5``),
        waves per structure, the void's Young's modulus, Poisson's ratio, solver tolerance, device).
    seed : int
        Seeds the Sobol scrambling and the structures: the same call gives the same data. An int, as for
        every cached ready-made dataset: it names the store (a Generator would draw a new seed, and make a
        new store, at every call).
    cache : bool
        Reuse/keep the store in :func:`mslearn.datasets.cache_dir` (``False``: generate in a temporary
        folder, which an interruption loses).
    progress : bool
        Show a tqdm progress bar over the designs.

    Returns
    -------
    Dataset
        ``ds.parameters``: :data:`SPINODOID_DESIGNS_2D` (2D) or :data:`SPINODOID_DESIGNS` (3D);
        ``ds.targets``: :data:`SPINODOID_PROPERTIES_2D` or :data:`SPINODOID_PROPERTIES` (Voigt,
        relative to the solid's Young's modulus); ``ds.metadata``: ``"design_space"``,
        ``"semicontinuous"``, ``"settings"`` (the arguments), ``"seeds"`` (per design), ``"card"``;
        ``ds.arrays["labels"]``: the generated structures (uint8, ``(n_samples, *(size,) * ndim)``),
        e.g. to train a generative model on them.

    Examples
    --------
    >>> ds = spinodoid_solver_data(8, ndim=2, size=16, seed=0, device="cpu")
    >>> list(ds.parameters.columns), list(ds.targets.columns)
    (['volume_fraction', 'theta_x', 'theta_y'], ['c_11', 'c_12', 'c_22', 'c_66'])
    """
    from .ready import _check_store_seed, _ready

    n = check_integer(n_samples, 1, name="n_samples")
    if isinstance(ndim, bool) or ndim not in (2, 3):
        raise ValueError(f"ndim = {ndim!r}; expected 2 or 3")
    size = _check_size(size)
    seed = _check_store_seed(seed)
    _check_void(void)          # here too: before a store is made for the settings
    names = SPINODOID_DESIGNS if ndim == 3 else SPINODOID_DESIGNS_2D
    properties = SPINODOID_PROPERTIES if ndim == 3 else SPINODOID_PROPERTIES_2D
    dev = resolve_device(device)
    solver = {"ndim": ndim, "size": size, "wavelength": size / 5.0 if wavelength is None else float(wavelength),
              "n_waves": int(n_waves), "void": float(void), "nu": float(nu), "tol": float(tol)}
    sampler = functools.partial(_sample_solver_data, device=dev, **solver)
    sampler.name = "mslearn.datasets.spinodoids.spinodoid_solver_data"
    key = {k: v for k, v in solver.items() if k != "tol"}
    stored = _ready("spinodoid_solver_data", key, sampler, _unit_space(ndim), n, seed, cache, progress,
                    {"title": "spinodoid_solver_data"}, 1 if ndim == 3 else 32, dev, tol=float(tol))
    values = stored.parameters[list(names)].to_numpy(np.float64)
    stiffness = stored.targets[list(properties)].to_numpy(np.float64)
    labels = stored.arrays["labels"]
    seeds = stored.metadata["seeds"]
    settings = dict(solver, seed=seed)
    space = {name: SPINODOID_SPACE[name] for name in names}
    card = "\n".join([
        "# Dataset card: spinodoid_solver_data", "",
        f"{n} {ndim}D spinodoid designs homogenized by mslearn's FFT solver "
        "(mslearn.datasets.spinodoid_stiffness): volume fraction in [0.3, 0.9], cone angles 0 or in [15, 90] "
        "degrees (at least one on), a scrambled Sobol design with the on/off pattern of the angles drawn by its "
        "last coordinate (each pattern equally likely).", "",
        f"- properties: {', '.join(properties)} (Voigt, relative to the solid's Young's modulus"
        + (", plane strain)" if ndim == 2 else ")"),
        f"- settings: {settings}",
        "- synthetic data generated by mslearn (MIT licence); the design space follows Kumar, Tan, Zheng & "
        "Kochmann, npj Comput. Mater. 6, 73 (2020).", ""])
    metadata = {
        "title": "spinodoid_solver_data",
        "description": (f"{ndim}D spinodoids (volume fraction, cone angles 0 or 15-90 degrees) -> homogenized "
                        "Voigt stiffness entries relative to the solid's Young's modulus, by mslearn's FFT solver."),
        "card": card,
        "units": {**{name: ("1" if name == "volume_fraction" else "degree") for name in names},
                  **{name: "1 (relative to the solid's Young's modulus; Voigt)" for name in properties}},
        "design_space": space,
        "semicontinuous": {name: SPINODOID_MIN_ANGLE for name in names[1:]},
        "settings": settings,
        "seeds": seeds,
        "n_complete": n,
        "path": stored.metadata["path"],
    }
    arrays = {"labels": labels}
    return Dataset(pd.DataFrame(values, columns=list(names)), pd.DataFrame(stiffness,
                                                                         columns=list(properties)),
                   arrays, {}, metadata)
