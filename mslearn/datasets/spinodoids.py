r"""The spinodoid metamaterial data of Kumar et al. (2020), and the same designs through our solver.

* :func:`spinodoid_metamaterials` — the packaged table of 21,300 designs (volume fraction, three cone angles) and
  their homogenized stiffness (nine components), simulated by finite elements by Kumar, Tan, Zheng &
  Kochmann, "Inverse-designed spinodoid metamaterials", npj Comput. Mater. 6, 73 (2020),
  doi:10.1038/s41524-020-0341-6 (MIT-style licence, ``mslearn/data/spinodoids/LICENSE.txt``). The
  data behind the tandem inverse design of book part 5 (:class:`mslearn.optimization.TandemInverseDesign`).
* :func:`spinodoid_stiffness` — the same nine components computed *here*: the structure generated
  with :func:`mslearn.structures.spinodoid` and homogenized with
  :func:`mslearn.homogenization.elasticity`, to verify proposed designs with the package's own physics.

The dataset card (``mslearn/data/spinodoids/README.md``, also ``metadata["card"]``) documents the
columns, units and the design space.
"""
from __future__ import annotations

import numbers
from importlib import resources

import numpy as np
import pandas as pd

from .._backend import cpu_threads
from .._backend import device as resolve_device
from .._backend import rng
from ..homogenization import elasticity
from ..structures import spinodoid
from .store import Dataset

__all__ = ["spinodoid_metamaterials", "spinodoid_stiffness", "SPINODOID_DESIGNS", "SPINODOID_PROPERTIES",
           "SPINODOID_SPACE", "SPINODOID_MIN_ANGLE"]

#: The design columns of :func:`spinodoid_metamaterials`: volume fraction, cone angles (degrees) around x, y, z.
SPINODOID_DESIGNS = ("volume_fraction", "theta_x", "theta_y", "theta_z")
#: The property columns: Voigt stiffness entries C11, C12, C13, C22, C23, C33, C44, C55, C66 (relative to E).
SPINODOID_PROPERTIES = ("c_11", "c_12", "c_13", "c_22", "c_23", "c_33", "c_44", "c_55", "c_66")
#: The bounds of the designs in the data (a cone angle is 0 or in [``SPINODOID_MIN_ANGLE``, 90]).
SPINODOID_SPACE = {"volume_fraction": (0.3, 0.9), "theta_x": (0.0, 90.0), "theta_y": (0.0, 90.0),
                   "theta_z": (0.0, 90.0)}
#: The smallest non-zero cone angle in the data (degrees): an angle is either 0 (off) or >= 15.
SPINODOID_MIN_ANGLE = 15.0

_CSV_COLUMNS = {"volFrac": "volume_fraction", "thetaX": "theta_x", "thetaY": "theta_y", "thetaZ": "theta_z",
                "stiffness0": "c_11", "stiffness1": "c_12", "stiffness2": "c_13", "stiffness7": "c_22",
                "stiffness8": "c_23", "stiffness14": "c_33", "stiffness21": "c_44", "stiffness28": "c_55",
                "stiffness35": "c_66"}
# (row, column) of each property in the 6x6 Voigt/Mandel matrix, order (11, 22, 33, 23, 13, 12)
_ENTRIES = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))
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
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
                or not 1 <= n_samples <= len(table):
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
    values = np.asarray(designs.to_numpy() if isinstance(designs, pd.DataFrame) else designs, dtype=float)
    if values.ndim != 2 or values.shape[1] != 4:
        raise ValueError(f"designs has shape {values.shape}; expected (n_designs, 4): volume fraction and the "
                         "cone angles theta_x, theta_y, theta_z in degrees")
    if not np.all(np.isfinite(values)):
        raise ValueError("designs contains NaN or infinite values; expected finite designs")
    if np.any((values[:, 0] <= 0) | (values[:, 0] >= 1)):
        raise ValueError("designs has volume fractions outside (0, 1)")
    angles = values[:, 1:]
    if np.any((angles < 0) | (angles > 90)):
        raise ValueError("designs has cone angles outside [0, 90] degrees")
    if np.any(np.all(angles == 0, axis=1)):
        raise ValueError("designs has a row whose three cone angles are all 0; at least one must be > 0")
    return values


def spinodoid_stiffness(designs, *, size=32, wavelength=None, n_waves=1000, void=1e-3, nu=0.3, tol=1e-4,
                        seed=0, device="auto"):
    r"""The nine stiffness entries of spinodoid designs computed with the package's FFT solver.

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
    4 s per design on one core; 48³ takes 10–35 s and brings four designs closer to the data by
    only 0.7–6 points of per cent, so the grid is not what differs): for ten
    designs of the data, the solver's stiffness differs from the data's by 33 % (median; 9–82 %,
    the largest at volume fraction 0.3, where the solid barely percolates), and two realizations
    (``seed`` 0 and 1) of one design differ by 10 % (median). Compare a proposed design with the
    solver's value for a known design of the data, not only with the data.

    Parameters
    ----------
    designs : array-like or DataFrame, shape ``(n_designs, 4)``
        Volume fraction in (0, 1) and the cone angles (degrees, in [0, 90], at least one > 0).
    size : int
        Grid points per side (default 32: a few seconds per design on one CPU core).
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

    Returns
    -------
    numpy.ndarray, shape ``(n_designs, 9)``
        ``c_11, c_12, c_13, c_22, c_23, c_33, c_44, c_55, c_66`` (:data:`SPINODOID_PROPERTIES`).
    """
    values = _check_designs(designs)
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 8:
        raise ValueError(f"size = {size!r}; expected an integer >= 8")
    wavelength = size / 5.0 if wavelength is None else float(wavelength)
    if not (isinstance(void, numbers.Real) and 0 <= void < 1):
        raise ValueError(f"void = {void!r}; expected a Young's modulus in [0, 1) relative to the solid")
    generator = rng(seed)
    seeds = generator.integers(2**62, size=len(values))
    dev = resolve_device(device)
    shear = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])      # Mandel shear entries are 2x Voigt's
    phases = [{"E": float(void), "nu": nu}, {"E": 1.0, "nu": nu}]
    out = np.empty((len(values), len(_ENTRIES)))
    with cpu_threads(1, dev):     # small 3D FFTs: one thread is fastest (mslearn._backend.cpu_threads)
        for i, (design, s) in enumerate(zip(values, seeds)):
            labels = spinodoid((size,) * 3, float(design[0]), wavelength=wavelength,
                               cone_angles=tuple(float(a) for a in design[1:]), n_waves=n_waves, seed=int(s))
            C = np.asarray(elasticity(labels, phases, tol=tol, device=dev).effective, dtype=float)
            C = C / np.sqrt(np.outer(shear, shear))
            out[i] = [C[r, c] for r, c in _ENTRIES]
    return out
