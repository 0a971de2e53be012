r"""A process–structure–property dataset: Cahn–Hilliard anneals → microstructures → conductivity.

Each sample is one spinodal-decomposition run of :func:`mslearn.process.cahn_hilliard` (periodic 2D
grid, reduced units :math:`\Delta x = M = 1`), from a uniform composition with a small seeded noise,
annealed for a given time; its final field :math:`\phi` is thresholded into two phases (phase 1 where
:math:`\phi > 0`) and homogenized by the FFT solver of :mod:`mslearn.homogenization`. The chain
*process parameters → structure → property* is therefore in the data, for learning the two maps
separately (:class:`mslearn.process.structure_map.ProcessStructureMap`) or at once.

Process parameters (``SPINODAL_SPACE``, Sobol design as every ready dataset):

==========  ===============  ========================================================================
``phi0``    −0.35 … 0.35     mean composition, inside the spinodal :math:`|\phi_0| < 1/\sqrt3`; sets the
                             phase-1 volume fraction (0.26 … 0.73 in the 300 default samples) and droplet vs. bicontinuous
                             morphology
``gamma``   0.5 … 2, log     gradient-energy coefficient :math:`\gamma` (a temperature-like knob: the
                             interface width is :math:`\sqrt{2\gamma}`, the first wavelength
                             :math:`2\pi\sqrt{2\gamma/(1-3\phi_0^2)}`)
``time``    100 … 400, log   annealing time :math:`t` (rounded to a multiple of ``dt``); the domains
                             coarsen as :math:`L \propto t^{1/3}`
==========  ===============  ========================================================================

The mobility is not a parameter: the equation depends on :math:`M` and :math:`t` only through
:math:`Mt`. From :math:`t = 100` on every run in the box has phase-separated (noise 0.05), and at
:math:`t = 400` the domains are still several times smaller than a 64² box.

Stored: targets ``k_xx``, ``k_yy``, ``k_xy``, ``k_mean`` (conductivities ``[1, contrast]`` of phases
0 and 1, relative to phase 0); descriptors ``volume_fraction`` (of phase 1), ``length`` (the
structure-factor length :math:`2\pi/\langle k\rangle` of :math:`\phi`, :func:`mslearn.process.structure_factor`)
and ``free_energy`` (Ginzburg–Landau energy per unit area); arrays ``phi`` (float32) and ``labels``
(uint8).

Determinism: every run starts from its own noise, drawn from its per-sample seed, and advances in
chunks of ``CHUNK`` steps that are the same whatever else is in the batch (then the steps that remain
of its own time), so a sample does not depend on the batch it was computed in — up to the round-off
of batched FFTs (about 1e-14 in :math:`\phi`, below the float32 it is stored in) — and a resumed
generation gives the same data as an uninterrupted one.

References: J. W. Cahn & J. E. Hilliard, J. Chem. Phys. 28, 258 (1958); Y. C. Yabansu, P. Steinmetz,
J. Hötzer, S. R. Kalidindi & B. Nestler, Acta Mater. 124, 182 (2017) (process–structure linkages of
phase-field simulations in 2-point-statistics space); D. Montes de Oca Zapiain, J. A. Stewart &
R. Dingreville, npj Comput. Mater. 7, 3 (2021) (phase-field surrogates in a reduced space).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .._backend import device as resolve_device
from .._backend import rng
from ..homogenization import conductivity
from .ready import TOL, _check_columns, _check_seeds, _check_size, _ready

__all__ = ["spinodal_structures", "sample_spinodal_structures", "SPINODAL_SPACE"]

SPINODAL_SPACE = {
    "phi0": (-0.35, 0.35),              # mean composition (|phi0| < 1/sqrt(3): spinodal)
    "gamma": (0.5, 2.0, "log"),         # gradient-energy coefficient
    "time": (100.0, 400.0, "log"),      # annealing time (reduced units, M = 1)
}
_COLUMNS = tuple(SPINODAL_SPACE)      # the order ProcessStructureMap reads them in

DT = 0.25          # time step: the coarsening lengths agree with dt = 0.1 to a few per cent
NOISE = 0.05       # initial noise: every run in the ranges phase-separates before t = 100
CHUNK = 100        # steps per batched chunk (fixed: a run's sequence of steps does not depend on its batch)


def _check_parameters(parameters):
    """A DataFrame with the columns of ``SPINODAL_SPACE``, finite, in the physically valid ranges."""
    _check_columns(parameters, _COLUMNS)
    values = parameters[list(_COLUMNS)].to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"parameters holds NaN or inf; expected finite {list(_COLUMNS)}")
    if np.any(np.abs(values[:, 0]) >= 1):
        raise ValueError("phi0 must lie in (-1, 1) (a mean composition between the two equilibrium phases)")
    if np.any(values[:, 1] <= 0) or np.any(values[:, 2] < 0):
        raise ValueError("gamma must be > 0 and time >= 0")
    # the step count time / DT is an int64: beyond it the cast wrapped round to a few steps, silently
    longest = float(values[:, 2].max(initial=0.0))
    if longest / DT >= 2.0**63:
        raise ValueError(f"time = {longest:g} is {longest / DT:.3g} steps of dt = {DT}, more than an int64 counts; "
                         f"expected time < {2.0**63 * DT:.3g}")
    return values


def _anneal(phi0, gamma, n_steps, seeds, size, device):
    """Final fields ``(B, size, size)`` and free energies of runs with per-run composition, gamma and steps.

    Every run advances in chunks of ``CHUNK`` steps, then by the steps that remain, batched with the
    runs at the same stage; its result depends on its own parameters and seed only (to round-off).
    """
    from ..process.phase_field import cahn_hilliard     # here: importing mslearn.datasets stays light

    fields = []
    for s, mean in zip(seeds, phi0):
        draws = rng(int(s)).standard_normal((size, size))
        fields.append(mean + NOISE * (draws - draws.mean()))
    phi = np.stack(fields)

    def advance(index, steps):
        phi[index] = cahn_hilliard((len(index), size, size), phi[index], gamma=gamma[index], dt=DT,
                                   n_steps=int(steps), noise=0.0, batch=True, device=device).phi

    full = n_steps // CHUNK
    for chunk in range(int(full.max(initial=0))):
        advance(np.flatnonzero(full > chunk), CHUNK)
    rest = n_steps - full * CHUNK
    for steps in np.unique(rest[rest > 0]):
        advance(np.flatnonzero(rest == steps), steps)
    # one run at a time (a batched sum's rounding depends on the batch)
    energy = np.array([float(cahn_hilliard((size, size), field, gamma=float(g), n_steps=0, noise=0.0,
                                           device=device).energy[0]) for field, g in zip(phi, gamma)])
    return phi, energy


def sample_spinodal_structures(parameters, seeds, *, size=64, contrast=10.0, device="auto"):
    r"""Sampler of :func:`spinodal_structures` (usable on any parameters, e.g. outside the ranges).

    Parameters
    ----------
    parameters : DataFrame with the columns ``phi0``, ``gamma``, ``time``
        Mean composition in (−1, 1), gradient coefficient > 0, annealing time >= 0 (rounded to a
        multiple of the time step 0.25).
    seeds : array of int, one per row
        Seeds of the initial noise.
    size : int
        Grid side (a periodic ``size`` × ``size`` grid, spacing 1).
    contrast : float
        Conductivity of phase 1 (:math:`\phi > 0`) relative to phase 0.
    device : str

    Returns
    -------
    dict
        Targets ``k_xx``, ``k_yy``, ``k_xy``, ``k_mean``; arrays ``phi`` (float32) and ``labels``
        (uint8, ``phi > 0``); descriptors ``volume_fraction``, ``length``, ``free_energy``.

    Examples
    --------
    >>> import pandas as pd
    >>> from mslearn.datasets import sample_spinodal_structures
    >>> out = sample_spinodal_structures(pd.DataFrame({"phi0": [0.0], "gamma": [1.0], "time": [50.0]}), [0],
    ...                                  size=32, device="cpu")
    >>> out["labels"].shape, bool(1 < out["k_mean"][0] < 10)
    ((1, 32, 32), True)
    """
    from ..process.phase_field import structure_factor

    values = _check_parameters(parameters)
    seeds = _check_seeds(seeds, len(values))
    size = _check_size(size, 8)
    n_steps = np.rint(values[:, 2] / DT).astype(np.int64)
    phi, energy = _anneal(values[:, 0], values[:, 1], n_steps, seeds, size, device)
    labels = (phi > 0).astype(np.uint8)
    K = np.asarray(conductivity(labels, [1.0, float(contrast)], batch=True, tol=TOL, device=device).effective)
    with np.errstate(invalid="ignore", divide="ignore"):     # a uniform field has no length: NaN
        length = np.array([structure_factor(field).length for field in phi])    # per run, as the energy
    return {
        "k_xx": K[:, 0, 0], "k_yy": K[:, 1, 1], "k_xy": K[:, 0, 1], "k_mean": (K[:, 0, 0] + K[:, 1, 1]) / 2,
        "phi": phi.astype(np.float32), "labels": labels,
        "descriptors": {"volume_fraction": labels.reshape(len(labels), -1).mean(1), "length": length,
                        "free_energy": energy / size**2},
    }


def spinodal_structures(n_samples=300, *, size=64, contrast=10.0, seed=0, device="auto", cache=True,
                        progress=False):
    r"""Cahn–Hilliard anneals → two-phase microstructures → effective conductivity.

    The process–structure–property dataset of the module docstring: Sobol samples of the process
    parameters ``phi0`` (−0.35 … 0.35), ``gamma`` (0.5 … 2, log) and ``time`` (100 … 400, log); the
    final field of each run (``arrays["phi"]``) and its phases ``arrays["labels"] = phi > 0``; the
    conductivity of the structure with phases ``[1, contrast]`` (targets ``k_xx``, ``k_yy``, ``k_xy``,
    ``k_mean``); measured descriptors ``volume_fraction``, ``length``, ``free_energy`` as extra
    columns of ``ds.parameters``. Generated batched, resumably, and cached like every ready dataset
    (:func:`mslearn.datasets.particle_composites`); 300 samples at 64² take about 20 s on one CPU core.

    Parameters
    ----------
    n_samples : int
    size : int
        Grid side (default 64; the domains reach a third of a 64² box at the longest time).
    contrast : float > 0
        Conductivity of phase 1 relative to phase 0.
    seed : int
    device : str
        Device of the phase-field runs and the solver (``"auto"``: CUDA when present).
    cache : bool
        Reuse/keep the store in :func:`mslearn.datasets.cache_dir` (``False``: a temporary folder).
    progress : bool

    Returns
    -------
    Dataset

    Examples
    --------
    >>> from mslearn.datasets import spinodal_structures
    >>> ds = spinodal_structures(4, size=16, device="cpu", cache=False)
    >>> ds.arrays["labels"].shape, list(ds.parameters.columns[:3])
    ((4, 16, 16), ['phi0', 'gamma', 'time'])
    """
    size = _check_size(size, 8)
    contrast = float(contrast)
    if not (math.isfinite(contrast) and contrast > 0):
        raise ValueError(f"contrast = {contrast!r}; expected a finite positive conductivity ratio")
    dev = resolve_device(device)
    sampler = functools.partial(sample_spinodal_structures, size=size, contrast=contrast, device=dev)
    sampler.name = "mslearn.datasets.process.sample_spinodal_structures"
    key = {"size": size, "contrast": contrast, "dt": DT, "noise": NOISE, "chunk": CHUNK}
    metadata = {
        "title": "spinodal_structures",
        "description": (f"2D periodic Cahn-Hilliard runs ({size}x{size}, dx = M = 1, dt = {DT}, initial noise "
                        f"{NOISE}) for the sampled mean composition, gradient coefficient and annealing time; "
                        "phases phi > 0 and their effective conductivity from the FFT solver."),
        "phases": {"0": "phi <= 0, k = 1", "1": f"phi > 0, k = {contrast:g}"},
        "process": {"model": "mslearn.process.cahn_hilliard", "dt": DT, "noise": NOISE, "chunk": CHUNK},
    }
    return _ready("spinodal_structures", key, sampler, SPINODAL_SPACE, n_samples, seed, cache, progress, metadata,
                  64 if dev.type == "cpu" else 256, dev)
