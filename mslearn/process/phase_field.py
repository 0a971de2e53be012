r"""Cahn–Hilliard spinodal decomposition on a periodic grid (2D and 3D, batched, on torch FFTs).

The model
---------
A conserved order parameter :math:`\phi` (a composition, :math:`\pm 1` in the two equilibrium
phases) with the Ginzburg–Landau free energy

.. math:: F[\phi] = \int \Big[\tfrac14(\phi^2-1)^2 + \tfrac{\gamma}{2}|\nabla\phi|^2\Big]\,dV

evolves by :math:`\partial_t\phi = M\nabla^2\mu`, :math:`\mu = \delta F/\delta\phi = f'(\phi) -
\gamma\nabla^2\phi`, :math:`f'(\phi) = \phi^3-\phi`:

.. math:: \frac{\partial\phi}{\partial t} = M\,\nabla^2\big(\phi^3 - \phi - \gamma\nabla^2\phi\big).

Linearized about a uniform :math:`\phi_0`, a mode :math:`e^{ik\cdot r}` grows at the rate
:math:`\omega(k) = Mk^2(1 - 3\phi_0^2 - \gamma k^2)`: inside the spinodal (:math:`|\phi_0| <
1/\sqrt3`) the fastest mode has :math:`k_{\max}^2 = (1-3\phi_0^2)/(2\gamma)`, wavelength
:math:`\lambda = 2\pi/k_{\max}` (:math:`8.886` for :math:`\gamma = 1`, :math:`\phi_0 = 0`); outside
it every mode decays. A flat interface relaxes to :math:`\phi = \tanh(x/\sqrt{2\gamma})`, and the
late-time domain size coarsens as :math:`L \propto t^{1/3}` (Lifshitz–Slyozov).

The scheme: stabilized semi-implicit Fourier spectral (Zhu, Chen, Shen & Tikare 1999; Shen & Yang 2010)
-------------------------------------------------------------------------------------------------------
Space is discretized spectrally (:math:`k` the continuous wave vector of the periodic box,
:math:`k_a = 2\pi n_a/(N_a\,\Delta x)`); in time the stiff fourth-order term is implicit, the
nonlinear :math:`f'(\phi)` explicit, and a stabilizing term :math:`S\nabla^2(\phi^{n+1}-\phi^n)`
(a first-order-small :math:`O(\Delta t)` perturbation) is added:

.. math:: \hat\phi^{n+1} = \frac{(1 + \Delta t\,M S k^2)\,\hat\phi^n - \Delta t\,M k^2\,
          \widehat{f'(\phi^n)}}{1 + \Delta t\,M\,(S k^2 + \gamma k^4)} .

Mass (the :math:`k = 0` mode) is conserved exactly by construction, i.e. to round-off. With
:math:`S \ge L/2`, :math:`L = \max|f''| = \max|3\phi^2-1|` (:math:`L = 2` while :math:`|\phi| \le 1`,
so the default ``stabilization=1``), the scheme is *unconditionally energy stable*: the discrete
:math:`F` does not increase for any :math:`\Delta t` (Shen & Yang 2010, Thm. 1; Xu & Tang 2006). The
price is accuracy, not stability: the stabilization slows the dynamics by a relative
:math:`O(\Delta t\, M S k^2)`, so ``dt`` still sets the error (``dt = 0.1`` in the reduced units
:math:`\gamma = M = \Delta x = 1`, against the fastest growth time :math:`4\gamma/M`). ``stabilization=0``
gives the plain semi-implicit scheme, stable only for small ``dt``: about the equilibrium phases
(:math:`f'' = 2`) a mode is amplified by :math:`|1 - \Delta t M k^2 (2 - S)| / (1 + \Delta t M (S k^2 + \gamma
k^4))`, at most 1 for every :math:`k` when :math:`\Delta t \le 2\gamma / (M (1-S)^2)` (:math:`S < 1`);
a larger ``dt`` is refused with that range named.

Why hand-written: the scheme is a few lines on torch's FFTs, runs batched on any device, and the
phase-field codes that implement it (MOOSE, PRISMS-PF, FiPy) are C++ or CPU-only frameworks.

References: J. W. Cahn & J. E. Hilliard, J. Chem. Phys. 28, 258 (1958); J. Zhu, L.-Q. Chen, J. Shen &
V. Tikare, Phys. Rev. E 60, 3564 (1999); C. Xu & T. Tang, SIAM J. Numer. Anal. 44, 1759 (2006);
J. Shen & X. Yang, Discrete Contin. Dyn. Syst. 28, 1669 (2010).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._backend import compute_device
from .._backend import is_torch, like, progress_bar, rng, to_torch
from .._validation import check_flag, check_integer

__all__ = ["cahn_hilliard", "CahnHilliardResult", "structure_factor", "StructureFactor"]


@dataclass
class CahnHilliardResult:
    """The fields of a Cahn–Hilliard run, from :func:`cahn_hilliard`.

    Arrays are numpy unless ``phi0`` was a torch tensor; with ``batch=True`` every array but
    ``times`` has a leading run axis.

    Attributes
    ----------
    phi : ndarray, shape ``shape``
        The field after ``n_steps`` steps.
    frames : ndarray, shape ``(n_saved, *spatial)`` or ``(n_runs, n_saved, *spatial)``
        The saved fields: the initial one and one every ``save_every`` steps (with
        ``save_every=None``, the initial and the final field).
    times : ndarray, shape (n_saved,)
        The times of ``frames``, ``step * dt``.
    energy : ndarray, shape (n_saved,) or (n_runs, n_saved)
        The Ginzburg–Landau free energy :math:`F = \\sum[(\\phi^2-1)^2/4 + \\gamma/2|\\nabla\\phi|^2]
        \\Delta x^d` of each saved field (gradient computed spectrally, as in the scheme).
    dt : float
        The time step used.
    """

    phi: object
    frames: object
    times: np.ndarray
    energy: object
    dt: float


@dataclass
class StructureFactor:
    """A radially averaged structure factor, from :func:`structure_factor`.

    Attributes
    ----------
    k : ndarray, shape (n_bins,)
        Mean wave number of each shell (shells of width :math:`2\\pi/(N_{\\max}\\Delta x)`, the
        :math:`k = 0` mode left out): ``n_bins`` :math:`= \\lfloor N_{\\max}/2\\rfloor` shells, up to the
        Nyquist wave number :math:`\\pi/\\Delta x`, on a non-square grid too.
    s : ndarray, shape (n_bins,) or (n_runs, n_bins)
        :math:`S(k) = \\langle|\\hat\\phi_k|^2\\rangle/N` over the shell, :math:`\\phi` minus its mean.
    length : float or ndarray, shape (n_runs,)
        Characteristic length :math:`2\\pi/\\langle k\\rangle`, :math:`\\langle k\\rangle = \\sum kS/\\sum S`
        summed over the shells, each shell's mean :math:`S` weighted once, not by the number of wave
        vectors it holds (the full-lattice :math:`\\sum_{\\mathbf k}|\\mathbf k|S/\\sum_{\\mathbf k}S`
        of many coarsening studies weights the outer shells more: it gave a 1.2 times shorter length
        on a coarsened 128² Cahn–Hilliard field). Either grows as :math:`t^{1/3}` in coarsening;
        compare lengths of one convention only. A single mode's wave number is found to within half a
        shell width. NaN for a field without fluctuations in the shells (a uniform one): it has no
        characteristic length (:func:`structure_factor` warns).
    """

    k: np.ndarray
    s: np.ndarray
    length: object


def _wave_numbers(spatial, dx, device, dtype):
    """Squared wave number |k|^2 on the rfft half spectrum and the per-axis k (continuous symbols)."""
    axes = []
    for i, n in enumerate(spatial):
        if i == len(spatial) - 1:
            k = torch.fft.rfftfreq(n, d=dx, device=device, dtype=dtype)
        else:
            k = torch.fft.fftfreq(n, d=dx, device=device, dtype=dtype)
        axes.append(2 * math.pi * k)
    grids = torch.meshgrid(*axes, indexing="ij")
    return sum(g * g for g in grids), grids


def _per_run(value, name, n_runs, batch, device, dtype):
    """A scalar or (with batch) a length-n_runs parameter, as a tensor broadcastable over the field."""
    tensor = to_torch(value, device, dtype=dtype) if not isinstance(value, numbers.Real) else \
        torch.tensor(float(value), device=device, dtype=dtype)
    if tensor.ndim == 0:
        return tensor
    if not batch or tensor.shape != (n_runs,):
        want = f"a scalar or, with batch=True, an array of shape ({n_runs},)" if batch else "a scalar"
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}; expected {want}")
    return tensor


def _energy(phi, k2_grids, gamma, dx, ndim):
    """Ginzburg–Landau free energy per run (spectral gradient), shape (n_runs,)."""
    spatial_dims = tuple(range(-ndim, 0))
    bulk = ((phi * phi - 1) ** 2 / 4).sum(dim=spatial_dims)
    phi_hat = torch.fft.rfftn(phi, dim=spatial_dims)
    grad2 = 0
    for k in k2_grids:
        g = torch.fft.irfftn(1j * k * phi_hat, s=phi.shape[-ndim:], dim=spatial_dims)
        grad2 = grad2 + (g * g).sum(dim=spatial_dims)
    gam = gamma.reshape(-1) if gamma.ndim else gamma
    return (bulk + gam / 2 * grad2) * dx**ndim


def cahn_hilliard(shape, phi0=0.0, *, gamma=1.0, mobility=1.0, dx=1.0, dt=0.1, n_steps=1000, noise=None,
                  stabilization=1.0, seed=0, save_every=None, batch=False, device="auto", progress=False,
                  start_step=0):
    r"""Spinodal decomposition: integrate the Cahn–Hilliard equation from a noisy uniform state.

    Solves :math:`\partial_t\phi = M\nabla^2(\phi^3-\phi-\gamma\nabla^2\phi)` on a periodic grid with
    the stabilized semi-implicit Fourier scheme of the module docstring (mass conserved to
    round-off; free energy non-increasing for every ``dt`` while ``stabilization >= 1`` and
    :math:`|\phi| \lesssim 1`). Computed in float64.

    Parameters
    ----------
    shape : tuple of int
        The grid, 2 or 3 spatial axes of integer sizes (each at least 2; a float or a string is refused
        with a ``TypeError``); with ``batch=True`` a leading axis of runs,
        ``(n_runs, *spatial)``.
    phi0 : float, array or tensor
        The mean composition, in ``(-1, 1)`` (with ``batch=True`` also one per run, shape
        ``(n_runs,)``), or a whole initial field of shape ``shape`` (e.g. a previous result's
        ``phi``, to continue a run: see ``start_step``).
    gamma, mobility : float or array
        Gradient-energy coefficient :math:`\gamma > 0` and mobility :math:`M > 0`; with ``batch=True``
        also one per run, shape ``(n_runs,)``.
    dx : float
        Grid spacing (the interface width is :math:`\sqrt{2\gamma}`; resolve it with ``dx`` below it).
    dt : float
        Time step (> 0).
    n_steps : int
        Number of time steps (the final time is ``(start_step + n_steps) * dt``).
    noise : float, optional
        Standard deviation of the Gaussian noise added to the initial state, its mean removed so that
        the mean composition is exactly ``phi0``. Default: 0.01 from a mean composition (the noise
        starts the decomposition), none from a whole field, so that continuing a run from its ``phi``
        gives, to round-off, the run that took all the steps at once (pass ``noise`` to perturb a field).
    stabilization : float
        The stabilizing constant :math:`S \ge 0` (1 gives unconditional energy stability).
    seed : int or numpy.random.Generator
        Seeds the initial noise (drawn with numpy, so the same on every device).
    save_every : int, optional
        Save the field and its energy every this many steps (and at step 0); None saves the initial
        and the final field only.
    batch : bool
        Whether ``shape`` has a leading axis of independent runs (never guessed).
    device : {"auto", "cpu", "cuda", ...}
    progress : bool
        Show a progress bar over the steps.
    start_step : int
        The steps the field ``phi0`` has already run (the previous call's ``start_step + n_steps``), as
        ``start_sweep`` in :func:`grain_growth`: the steps run here are ``start_step + 1 .. start_step +
        n_steps``, the times start at ``start_step * dt``, and ``save_every`` counts from the first run's
        step 0. A run continued from its ``phi`` with the same settings and this (and the default
        ``noise``, none from a field) has the times and saved steps of the run that took all the steps at
        once, and its fields and energies to round-off, not bit for bit: the continued run starts from
        the real field where the uninterrupted one carried its Fourier transform (on a 32² grid from
        ``phi0=0``, 3 + 3 steps differ from 6 by 3.9e-18 at most, 300 + 300 from 600 by 2.4e-15). Its
        first frame is the field it starts from, at ``start_step``, saved or not by the first run. Only
        with a field ``phi0``: a mean composition starts a run.

    Returns
    -------
    CahnHilliardResult
        ``phi``, ``frames``, ``times``, ``energy`` and ``dt``.

    Raises
    ------
    FloatingPointError
        When the run diverged: a field not finite, or a saved ``|phi|`` beyond
        :math:`\sqrt{1 + 2\sqrt{F_0/\Delta x^d}}`, which no run whose free energy does not increase
        reaches from its initial energy :math:`F_0` (e.g. ``noise`` about 1 or more at a large ``dt``);
        :math:`F_0/\Delta x^d` is taken as at least 2.25, so ``|phi|`` up to 2 is always accepted
        (round-off about ±1 in a nearly uniform field is not divergence).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.process import cahn_hilliard
    >>> result = cahn_hilliard((32, 32), 0.0, dt=0.1, n_steps=200, save_every=100, device="cpu")
    >>> result.frames.shape, result.times.tolist()
    ((3, 32, 32), [0.0, 10.0, 20.0])
    >>> bool(abs(result.phi.mean()) < 1e-12), bool(np.all(np.diff(result.energy) <= 0))
    (True, True)
    """
    # int() would run shape=(16.9, 16) or ("16", 16) as (16, 16)
    shape = tuple(check_integer(n, 1, name=f"shape[{i}]")
                  for i, n in enumerate(np.atleast_1d(np.asarray(shape, dtype=object)).tolist()))
    batch = check_flag(batch, name="batch")
    spatial = shape[1:] if batch else shape
    if len(spatial) not in (2, 3) or any(n < 2 for n in spatial) or (batch and shape[0] < 1):
        raise ValueError(f"shape = {shape}; expected 2 or 3 spatial axes of at least 2 points"
                         + (" after the leading run axis (batch=True)" if batch else ""))
    ndim = len(spatial)
    n_runs = shape[0] if batch else 1
    for name, value in (("dx", dx), ("dt", dt)):
        if not isinstance(value, numbers.Real) or not value > 0 or not math.isfinite(value):
            raise ValueError(f"{name} = {value!r}; expected a finite number > 0")
    check_integer(n_steps, 0, name="n_steps")
    check_integer(start_step, 0, name="start_step")
    if save_every is not None:   # None: only the last step
        check_integer(save_every, 1, name="save_every")
    if noise is not None and (isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0):
        raise ValueError(f"noise = {noise!r}; expected None or a number >= 0")
    if not isinstance(stabilization, numbers.Real) or not stabilization >= 0:
        raise ValueError(f"stabilization = {stabilization!r}; expected a number >= 0")

    dev = compute_device(phi0, device)
    dtype = torch.float64
    gam = _per_run(gamma, "gamma", n_runs, batch, dev, dtype)
    mob = _per_run(mobility, "mobility", n_runs, batch, dev, dtype)
    for name, value in (("gamma", gam), ("mobility", mob)):
        if not bool(torch.all(value > 0)) or not bool(torch.all(torch.isfinite(value))):
            raise ValueError(f"{name} = {value.tolist()}; expected finite values > 0")
    if stabilization < 1:   # linear stability about the equilibrium phases (f'' = 2), module docstring
        limit = float(torch.min(2 * gam / (mob * (1 - float(stabilization)) ** 2)))
        if dt > limit:
            raise ValueError(f"dt = {dt!r} is outside the stable range of the scheme with stabilization = "
                             f"{stabilization!r} < 1: dt < 2 gamma / (M (1 - S)^2) = {limit:.4g}; lower dt "
                             "or use stabilization >= 1 (stable for every dt)")

    start = to_torch(phi0, dev, dtype=dtype) if not isinstance(phi0, numbers.Real) else \
        torch.tensor(float(phi0), device=dev, dtype=dtype)
    if start.ndim == len(shape):                                     # a whole initial field
        if tuple(start.shape) != shape:
            raise ValueError(f"phi0 has shape {tuple(start.shape)}; a field must have shape {shape}")
        if not bool(torch.all(torch.isfinite(start))):
            raise ValueError("phi0 has non-finite values")
        phi = start.reshape((n_runs,) + spatial).clone()
        noise = 0.0 if noise is None else noise          # a field continues as it is unless asked
    else:
        if start.ndim != 0 and not (batch and tuple(start.shape) == (n_runs,)):
            want = f"a scalar, an array of shape ({n_runs},) or a field of shape {shape}" if batch else \
                f"a scalar or a field of shape {shape}"
            raise ValueError(f"phi0 has shape {tuple(start.shape)}; expected {want}")
        if start_step:
            raise ValueError(f"start_step = {start_step!r} continues a run from its field, but phi0 is a mean "
                             f"composition; pass the previous result's phi (shape {shape}), or start_step=0")
        if not bool(torch.all(start.abs() < 1)):
            raise ValueError(f"phi0 = {start.tolist()}; a mean composition must lie in (-1, 1) "
                             "(|phi0| >= 1 is outside the two-phase region)")
        phi = start.reshape(-1, *([1] * ndim)).expand((n_runs,) + spatial).clone()
        noise = 0.01 if noise is None else noise
    if noise > 0:
        draws = rng(seed).standard_normal((n_runs,) + spatial)
        draws -= draws.reshape(n_runs, -1).mean(axis=1).reshape((n_runs,) + (1,) * ndim)
        phi = phi + noise * torch.from_numpy(draws).to(dev)

    spatial_dims = tuple(range(-ndim, 0))
    k2, k_axes = _wave_numbers(spatial, float(dx), dev, dtype)
    gam_b = gam.reshape(-1, *([1] * ndim)) if gam.ndim else gam      # per run, broadcast over k
    mob_b = mob.reshape(-1, *([1] * ndim)) if mob.ndim else mob
    tm = float(dt) * mob_b * k2
    numerator_factor = 1 + float(stabilization) * tm
    denominator = 1 + tm * (float(stabilization) + gam_b * k2)

    frames, times, energies = [phi.clone()], [start_step * float(dt)], [_energy(phi, k_axes, gam, dx, ndim)]
    bar = progress_bar(progress, n_steps, "Cahn-Hilliard", unit="step")
    phi_hat = torch.fft.rfftn(phi, dim=spatial_dims)
    for step in range(start_step + 1, start_step + n_steps + 1):
        nonlinear = torch.fft.rfftn(phi * phi * phi - phi, dim=spatial_dims)
        phi_hat = (numerator_factor * phi_hat - tm * nonlinear) / denominator
        phi = torch.fft.irfftn(phi_hat, s=spatial, dim=spatial_dims)
        if (save_every is not None and step % save_every == 0) or (save_every is None and
                                                                   step == start_step + n_steps):
            frames.append(phi.clone())
            times.append(step * float(dt))
            energies.append(_energy(phi, k_axes, gam, dx, ndim))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    remedy = "lower dt or use stabilization >= 1, and keep the initial |phi| <= 1 (a smaller noise)"
    if not bool(torch.all(torch.isfinite(phi))):
        raise FloatingPointError(f"the Cahn-Hilliard run diverged (dt = {dt!r}, stabilization = {stabilization!r}); "
                                 f"{remedy}")
    frames = torch.stack(frames, dim=1)                              # (n_runs, n_saved, *spatial)
    # A run that blows up can stay finite for a while (|phi| 1e67 after 5 steps). While the free energy does
    # not increase, one point's bulk energy (phi^2 - 1)^2 / 4 dx^d is at most the initial F, so
    # phi^2 <= 1 + 2 sqrt(F_0 / dx^d); an F_0 below 2.25 dx^d counts as 2.25 dx^d (|phi| up to 2), so that
    # round-off about phi = +-1 in a nearly uniform field is not taken for divergence.
    bound = torch.sqrt(1 + 2 * torch.sqrt(torch.clamp(energies[0] / float(dx) ** ndim, min=2.25)))
    peak = frames.abs().amax(dim=tuple(range(1, frames.ndim)))      # per run, over the saved fields
    if bool(torch.any(peak > bound)):
        run = int(torch.argmax(peak / bound))
        raise FloatingPointError(
            f"the Cahn-Hilliard run diverged: |phi| reached {float(peak[run]):.3g}, beyond {float(bound[run]):.3g}, "
            f"the most a run whose free energy does not increase can reach from its initial energy (dt = {dt!r}, "
            f"stabilization = {stabilization!r}, initial max |phi| {float(frames[run, 0].abs().max()):.3g}); {remedy}")
    energy = torch.stack(energies, dim=1)                            # (n_runs, n_saved)
    if not batch:
        phi, frames, energy = phi[0], frames[0], energy[0]
    reference = phi0 if is_torch(phi0) else None
    return CahnHilliardResult(phi=like(phi, reference), frames=like(frames, reference),
                              times=np.asarray(times), energy=like(energy, reference), dt=float(dt))


def structure_factor(field, *, dx=1.0, batch=False):
    r"""Radially averaged structure factor :math:`S(|k|)` of a periodic 2D or 3D field.

    Parameters
    ----------
    field : array or tensor
        A real field (e.g. a Cahn–Hilliard ``phi``); its mean is removed.
    dx : float
        Grid spacing.
    batch : bool
        Whether ``field`` has a leading axis of runs (averaged separately).

    Returns
    -------
    StructureFactor
        ``k``, ``s`` and the characteristic length :math:`2\pi/\langle k\rangle`.

    Examples
    --------
    Stripes of wavelength 8 give a peak at k = 2 pi / 8 and a characteristic length near 8:

    >>> import numpy as np
    >>> field = np.cos(2 * np.pi * np.arange(32) / 8)[:, None] * np.ones((1, 32))
    >>> sf = structure_factor(field)
    >>> round(float(sf.k[np.argmax(sf.s)]), 2), bool(abs(sf.length - 8) < 0.5)
    (0.8, True)
    """
    values = np.asarray(field.detach().cpu().numpy() if is_torch(field) else field, dtype=float)
    values = values if check_flag(batch, name="batch") else values[None]
    ndim = values.ndim - 1
    if ndim not in (2, 3):
        raise ValueError(f"field has {ndim} spatial axes (shape {np.shape(field)}, batch={batch}); expected 2 or 3")
    if not np.isfinite(values).all():
        raise ValueError("field contains NaN or inf; expected a finite field")
    if isinstance(dx, bool) or not isinstance(dx, numbers.Real) or not 0 < dx < math.inf:
        raise ValueError(f"dx={dx!r}; expected a positive, finite grid spacing")
    spatial = values.shape[1:]
    values = values - values.reshape(len(values), -1).mean(axis=1).reshape((-1,) + (1,) * ndim)
    power = np.abs(np.fft.fftn(values, axes=tuple(range(1, ndim + 1)))) ** 2 / np.prod(spatial)
    axes = [2 * np.pi * np.fft.fftfreq(n, d=dx) for n in spatial]
    kmag = np.sqrt(sum(g**2 for g in np.meshgrid(*axes, indexing="ij"))).ravel()
    dk = 2 * np.pi / (max(spatial) * dx)
    shell = np.rint(kmag / dk).astype(int)
    # The shells are counted in the finest wave-number step dk, the longest axis's: its N_max // 2 shells reach
    # that axis's Nyquist pi/dx, the edge of the Brillouin zone (min // 2 cut a 64x16 grid off at k = pi/4).
    n_bins = int(max(spatial) // 2)
    keep = (shell >= 1) & (shell <= n_bins)
    counts = np.bincount(shell[keep], minlength=n_bins + 1)[1:]
    k = np.bincount(shell[keep], weights=kmag[keep], minlength=n_bins + 1)[1:] / counts
    s = np.stack([np.bincount(shell[keep], weights=p.ravel()[keep], minlength=n_bins + 1)[1:] / counts
                  for p in power])
    weight = (s * k).sum(axis=1)
    flat = weight <= 0                                     # no fluctuation in the shells: no length to measure
    if flat.any():
        warnings.warn(f"structure_factor: {int(flat.sum())} of {len(flat)} fields have no fluctuation within the "
                      f"shells (runs {np.flatnonzero(flat).tolist()[:5]}); their length is NaN", RuntimeWarning,
                      stacklevel=2)
    length = np.where(flat, np.nan, 2 * np.pi * s.sum(axis=1) / np.where(flat, 1.0, weight))
    if not batch:
        s, length = s[0], float(length[0])
    return StructureFactor(k=k, s=s, length=length)
