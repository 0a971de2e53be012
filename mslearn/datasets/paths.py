r"""Macroscopic strain paths for path-dependent (elasto-plastic) surrogates, and their stress histories.

A recurrent surrogate of an elasto-plastic RVE learns the map from a strain *history* to a stress
history, so its training data are load paths rather than single strains. The generators below follow
the recurrent-surrogate literature:

* :func:`random_walk_paths` — random increments in random directions of the Mandel strain space
  with a bounded magnitude (Mozaffar et al. 2019; Wu, Nguyen, Kilingar & Noels 2020): rough paths
  with frequent load reversals, so that the training set visits unloading and reloading often.
* :func:`gaussian_process_paths` — smooth random paths, each component a Gaussian-process sample
  conditioned to start at zero (Wu et al. 2020 and Bonatti & Mohr 2022 mix smooth and rough
  paths): long monotonic stretches deep into the plastic range.
* :func:`cyclic_path` — a symmetric triangle-wave cycle along a fixed direction, the classic
  held-out test of hysteresis (never seen in training when the training paths are random).
* :func:`radial_paths` — monotonic proportional (radial) loading from zero along random directions,
  no unloading: the loading under which J2 plasticity with hardening is close to deformation
  (Hencky) plasticity, a nonlinear elastic law with an energy — the data of an effective
  strain-energy surrogate (:class:`mslearn.surrogates.StrainEnergyNetwork`).

Every generator returns ``(n_paths, n_steps, m)`` Mandel strains (``m = 3`` in 2D ``(e11, e22,
sqrt2 e12)``, ``m = 6`` in 3D) whose first step is the zero strain, ready for the ``batch=True``
history of :func:`mslearn.homogenization.plasticity`. :func:`rve_stress_histories` runs that solver
on one RVE for all paths in one batched call.

References: Mozaffar, Bostanabad, Chen, Ehmann, Cao & Bessa, PNAS 116, 26414 (2019); Wu, Nguyen,
Kilingar & Noels, CMAME 369, 113234 (2020); Bonatti & Mohr, JMPS 158, 104697 (2022); Rasmussen &
Williams, *Gaussian Processes for Machine Learning* (2006), ch. 2.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _backend
from .._validation import check_integer

__all__ = ["random_walk_paths", "gaussian_process_paths", "cyclic_path", "radial_paths", "rve_stress_histories"]


def _count(value, name, minimum):
    return check_integer(value, minimum, name=name)


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or not value > 0:
        raise ValueError(f"{name} = {value!r}; expected a positive finite number")
    return float(value)


def random_walk_paths(n_paths, n_steps, m, *, max_increment, seed):
    r"""Random-walk strain paths: each increment a random direction times a random magnitude.

    Step :math:`t \ge 1` adds :math:`\Delta\varepsilon_t = a_t\,u_t` to the strain, with :math:`u_t`
    uniform on the unit sphere of the ``m``-dimensional Mandel strain space and :math:`a_t` uniform
    in :math:`[0, a_{max}]`, independently (Mozaffar et al. 2019). The step sizes vary, and about
    every other step turns by more than 90°, so the paths load, unload and reload all the time. After
    :math:`T` steps the strain's root-mean-square norm is about :math:`a_{max}\sqrt{T/3}`.

    Parameters
    ----------
    n_paths, n_steps : int
        Number of paths (>= 1) and steps per path (>= 2; the first is the zero strain).
    m : int
        Strain components: 3 in 2D ``(e11, e22, sqrt2 e12)``, 6 in 3D (any integer >= 1).
    max_increment : float
        Largest Mandel norm :math:`a_{max}` of one increment.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, shape ``(n_paths, n_steps, m)``

    Examples
    --------
    >>> paths = random_walk_paths(4, 10, 3, max_increment=1e-3, seed=0)
    >>> paths.shape, bool((paths[:, 0] == 0).all())
    ((4, 10, 3), True)
    >>> bool(np.linalg.norm(np.diff(paths, axis=1), axis=-1).max() <= 1e-3)
    True
    """
    n_paths, n_steps, m = _count(n_paths, "n_paths", 1), _count(n_steps, "n_steps", 2), _count(m, "m", 1)
    max_increment = _positive(max_increment, "max_increment")
    rng = _backend.rng(seed)
    direction = rng.standard_normal((n_paths, n_steps - 1, m))
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), np.finfo(float).tiny)
    size = max_increment * rng.uniform(size=(n_paths, n_steps - 1, 1))
    paths = np.zeros((n_paths, n_steps, m))
    paths[:, 1:] = np.cumsum(direction * size, axis=1)
    return paths


def gaussian_process_paths(n_paths, n_steps, m, *, length_scale, amplitude, seed):
    r"""Smooth random strain paths: Gaussian-process samples that start at zero strain.

    Each component of each path is an independent sample of a zero-mean Gaussian process on the
    pseudo-time :math:`t \in [0, 1]` (``n_steps`` equally spaced points) with the squared-exponential
    covariance :math:`k(t, t') = s^2 \exp(-(t - t')^2 / 2\ell^2)`, conditioned on
    :math:`\varepsilon(0) = 0`: the covariance :math:`k(t, t') - k(t, 0)k(0, t')/s^2`. Far from the
    start a component's standard deviation is the ``amplitude`` :math:`s`; the path makes about
    :math:`1/(\pi\ell)` excursions between reversals, fewer for a longer ``length_scale``.

    Parameters
    ----------
    n_paths, n_steps, m : int
        As in :func:`random_walk_paths`.
    length_scale : float
        Correlation length :math:`\ell` as a fraction of the path's duration (e.g. 0.2–0.5).
    amplitude : float
        Standard deviation :math:`s` of each strain component (away from the start).
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, shape ``(n_paths, n_steps, m)``

    Examples
    --------
    >>> paths = gaussian_process_paths(2, 50, 3, length_scale=0.3, amplitude=0.02, seed=0)
    >>> paths.shape, bool((paths[:, 0] == 0).all())
    ((2, 50, 3), True)
    """
    n_paths, n_steps, m = _count(n_paths, "n_paths", 1), _count(n_steps, "n_steps", 2), _count(m, "m", 1)
    length_scale, amplitude = _positive(length_scale, "length_scale"), _positive(amplitude, "amplitude")
    t = np.linspace(0.0, 1.0, n_steps)[1:]
    k = lambda a, b: np.exp(-0.5 * (a[:, None] - b[None, :]) ** 2 / length_scale**2)  # noqa: E731
    covariance = k(t, t) - k(t, np.zeros(1)) @ k(np.zeros(1), t)
    # eigen-decomposition rather than Cholesky: the conditioned covariance of a smooth kernel is
    # numerically rank-deficient; clipping its round-off negative eigenvalues keeps it exact otherwise
    values, vectors = np.linalg.eigh(covariance)
    factor = vectors * np.sqrt(np.clip(values, 0.0, None))
    rng = _backend.rng(seed)
    paths = np.zeros((n_paths, n_steps, m))
    paths[:, 1:] = amplitude * np.einsum("ij,pjc->pic", factor, rng.standard_normal((n_paths, n_steps - 1, m)))
    return paths


def cyclic_path(n_steps, amplitude, n_cycles, direction):
    r"""Symmetric strain cycles along fixed directions: :math:`0 \to +A \to -A \to 0`, ``n_cycles`` times.

    The strain is :math:`\varepsilon(t) = A\,w(t)\,u` with :math:`u` the unit (Mandel-norm) direction
    and :math:`w` a triangle wave of ``n_cycles`` periods over the ``n_steps`` equally spaced
    pseudo-times of :math:`[0, 1]`, starting at 0 and rising first.

    Parameters
    ----------
    n_steps : int
        Steps (>= 2), the first the zero strain.
    amplitude : float
        Peak Mandel strain norm :math:`A` (> 0).
    n_cycles : float
        Number of full cycles (> 0; a fraction ends mid-cycle, 0.25 is monotonic loading to :math:`A`).
    direction : array-like, ``(m,)`` or ``(n_paths, m)``
        Loading direction(s) in Mandel components (normalized here; any nonzero vector), e.g.
        ``[1, -1, 0]`` for in-plane pure shear in 2D. One path per row.

    Returns
    -------
    ndarray, shape ``(n_paths, n_steps, m)``
        ``n_paths = 1`` for a single direction, so that cyclic paths concatenate with random ones.

    Examples
    --------
    >>> path = cyclic_path(9, 0.02, 1, [1.0, 0.0, 0.0])
    >>> path[0, :, 0].round(3)
    array([ 0.  ,  0.01,  0.02,  0.01,  0.  , -0.01, -0.02, -0.01,  0.  ])
    """
    n_steps = _count(n_steps, "n_steps", 2)
    amplitude, n_cycles = _positive(amplitude, "amplitude"), _positive(n_cycles, "n_cycles")
    direction = np.asarray(direction, dtype=float)
    if direction.ndim == 1:
        direction = direction[None]
    if direction.ndim != 2 or direction.shape[1] < 1 or direction.shape[0] < 1:
        raise ValueError(f"direction has shape {direction.shape}; expected (m,) or (n_paths, m)")
    norm = np.linalg.norm(direction, axis=1, keepdims=True)
    if not np.all(np.isfinite(direction)) or not np.all(norm > 0):
        raise ValueError("direction has a zero, NaN or infinite row; expected nonzero finite directions")
    phase = np.linspace(0.0, n_cycles, n_steps) % 1.0
    wave = np.where(phase < 0.25, 4 * phase, np.where(phase < 0.75, 2 - 4 * phase, 4 * phase - 4))
    return amplitude * wave[None, :, None] * (direction / norm)[:, None, :]


def radial_paths(n_paths, n_steps, m, *, max_strain, seed):
    r"""Monotonic radial (proportional) strain paths: :math:`\varepsilon(t) = t\,\varepsilon_{max}\,u`.

    Each path loads from zero strain along a fixed unit direction :math:`u` (Mandel norm), uniform on
    the unit sphere of the ``m``-dimensional Mandel strain space (normalized Gaussian vectors), to the
    Mandel norm :math:`\varepsilon_{max}` in ``n_steps - 1`` equal increments, without unloading.
    Under such loading an elasto-plastic RVE with hardening responds almost as a nonlinear elastic
    material (deformation plasticity), so every point :math:`(\varepsilon, \sigma)` of every path is
    a sample of one stress–strain function — how nearly it derives from an energy is measured in
    ``tests/test_surrogates_hyperelastic.py``.

    Parameters
    ----------
    n_paths, n_steps, m : int
        As in :func:`random_walk_paths` (``n_steps >= 2``, the first step the zero strain).
    max_strain : float
        Mandel norm of the last strain of every path (> 0).
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, shape ``(n_paths, n_steps, m)``
        ``paths[:, -1] / max_strain`` are the unit directions.

    Examples
    --------
    >>> paths = radial_paths(3, 5, 3, max_strain=0.02, seed=0)
    >>> paths.shape, bool((paths[:, 0] == 0).all())
    ((3, 5, 3), True)
    >>> np.linalg.norm(paths[0], axis=-1).round(3)
    array([0.   , 0.005, 0.01 , 0.015, 0.02 ])
    """
    n_paths, n_steps, m = _count(n_paths, "n_paths", 1), _count(n_steps, "n_steps", 2), _count(m, "m", 1)
    max_strain = _positive(max_strain, "max_strain")
    direction = _backend.rng(seed).standard_normal((n_paths, m))
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), np.finfo(float).tiny)
    return max_strain * np.linspace(0.0, 1.0, n_steps)[None, :, None] * direction[:, None, :] + 0.0   # no -0.0


def rve_stress_histories(labels, phases, strain_history, *, tol=1e-6, device="auto", progress=False, **kwargs):
    r"""Macroscopic stress histories of one RVE along many strain paths, in one batched solver call.

    Runs :func:`mslearn.homogenization.plasticity` with ``batch=True`` on ``labels`` repeated once
    per path (the solver is batched over RVEs *and* paths, so all paths advance together: one load
    step of all paths costs about as much FFT work as the slowest path's).

    Parameters
    ----------
    labels : array of int, ``(*spatial)``
        One RVE (2 or 3 spatial axes).
    phases : sequence of dict
        J2 phases as in :func:`~mslearn.homogenization.plasticity`.
    strain_history : array, ``(n_paths, n_steps, m)``
        Mandel strain paths (e.g. from :func:`random_walk_paths`), ``m = 3`` in 2D, 6 in 3D.
    tol, device, progress
        As in :func:`~mslearn.homogenization.plasticity`; other keyword arguments (``max_iter``,
        ``cg_max_iter``, ``stress_free``, ``dtype``) are passed on.

    Returns
    -------
    ndarray, shape ``(n_paths, n_steps, m)``
        The macroscopic Mandel stress at the end of every step (float64 numpy). Stresses only, so not
        resumable: to continue paths later, call :func:`~mslearn.homogenization.plasticity` on the
        repeated labels with ``batch=True, return_fields=True`` and continue with its ``initial=``.

    Examples
    --------
    >>> import numpy as np
    >>> phases = [{"E": 1.0, "nu": 0.3, "yield_stress": 0.01, "hardening": 0.1}]
    >>> paths = cyclic_path(5, 0.02, 0.5, [1.0, -1.0, 0.0])
    >>> rve_stress_histories(np.zeros((4, 4), dtype=int), phases, paths, device="cpu").shape
    (1, 5, 3)
    """
    from ..homogenization import plasticity

    if "batch" in kwargs or "return_fields" in kwargs:
        raise ValueError("rve_stress_histories sets batch=True and returns stresses only; call plasticity directly")
    labels = np.asarray(labels)
    history = np.asarray(strain_history, dtype=float)
    if history.ndim != 3:
        raise ValueError(f"strain_history has shape {history.shape}; expected (n_paths, n_steps, m)")
    if labels.ndim not in (2, 3):
        raise ValueError(f"labels has shape {labels.shape}; expected one RVE with 2 or 3 spatial axes")
    stacked = np.repeat(labels[None], history.shape[0], axis=0)
    result = plasticity(stacked, phases, history, batch=True, tol=tol, device=device, progress=progress, **kwargs)
    return np.asarray(result.stress, dtype=np.float64)
