r"""A laser powder-bed fusion process map from the Rosenthal melt pool, learned by active learning.

Every laser powder-bed fusion (LPBF) machine and alloy needs a *process map*: the window of laser
power :math:`P` and scan speed :math:`v` in which a single track melts deep enough to fuse the
layers but not so violently that a vapour keyhole forms. Mapping it costs one simulation (or one
printed coupon) per point; this module provides a cheap, clearly labelled *teaching simulation* of
such a map and a Gaussian-process active-learning loop that finds the window's boundary with far
fewer simulations than a grid or random sampling.

The teaching simulation
-----------------------
For absorbed power :math:`q = AP` (absorptivity :math:`A`) the melt pool is that of the exact
Rosenthal (1946) moving point source, :func:`mslearn.process.rosenthal_melt_pool`: depth
:math:`D`, width :math:`W = 2D` (the point source's pool cross-section is a half-disk), length
:math:`L_{\rm pool}`, for conductivity :math:`k`, diffusivity :math:`\alpha`, volumetric heat
capacity :math:`\rho c`, preheat :math:`T_0` and melting point :math:`T_m`. Two criteria place a
track on the map:

* **Lack of fusion** (Tang, Pistorius & Beuth 2017). Neighbouring tracks at hatch spacing
  :math:`h` and a powder layer of thickness :math:`t` leave unmelted pockets unless

  .. math:: \Big(\frac{h}{W}\Big)^2 + \Big(\frac{t}{D}\Big)^2 \le 1,

  which with :math:`W = 2D` is :math:`W \ge \sqrt{h^2 + 4t^2}`.
* **Keyhole** (King et al. 2014). With the normalized enthalpy (Hann, Iammi & Folkes 2011) of a beam
  of radius :math:`\sigma`,

  .. math:: \frac{\Delta H}{h_s} = \frac{A P}{\pi h_s \sqrt{\alpha v \sigma^3}}, \qquad
            h_s = \rho c\, T_m,

  melting turns from conduction to keyhole mode (the surface reaches the boiling point
  :math:`T_b`) when :math:`\Delta H/h_s > \pi T_b / T_m`.

Each criterion is turned into a signed, dimensionless *margin*, positive on the good side:

.. math::

    m_{\rm fusion} = -\tfrac12 \ln\Big[\Big(\frac{h}{W}\Big)^2 + \Big(\frac{t}{D}\Big)^2\Big],
    \qquad m_{\rm keyhole} = \ln\frac{\pi T_b/T_m}{\Delta H/h_s},
    \qquad m = \min(m_{\rm fusion}, m_{\rm keyhole}).

The printable (conduction-mode) window is :math:`m > 0`; outside it, the region is the criterion
with the most negative margin (:data:`PROCESS_REGIONS`). The map's two boundaries are
:math:`P \propto v` for lack of fusion (at large Rosenthal number :math:`n`, :math:`W^2 \approx
8AP/(\pi e\,\rho c\,v\,\Delta T)`) and :math:`P \propto \sqrt v` for the keyhole, so the window
narrows towards high speeds.

**This is a teaching model, not a process model.** Rosenthal's point source ignores the latent heat
of melting, temperature-dependent properties, Marangoni convection in the pool, the powder layer,
the beam's size (the pool length of a point source is so much larger than its width that the
Plateau–Rayleigh balling criterion :math:`L_{\rm pool}/W > \pi`, Yadroitsev et al. 2010, would flag
most of the map, so balling is left out), and all keyhole physics: the keyhole criterion is a
closed-form threshold, and beyond it the Rosenthal depth is far too shallow. The map's shape —
lack of fusion at low power and high speed, keyholes at high power and low speed, a window between
them — is right; its numbers are indicative only. In practice each point would be a
high-fidelity (CFD) simulation or a printed and sectioned track, which is what makes an
economical sampling strategy worth having.

Active learning of the map
--------------------------
:func:`learn_process_map` learns where a black-box ``simulate`` (here the margin :math:`m`) crosses
a ``threshold`` (here 0). Starting from ``n_initial`` points of a scrambled Sobol sequence, it
fits a Gaussian process (scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`,
constant times Matérn-5/2 with one length scale per input, plus a small white noise, inputs scaled to
the unit cube, hyper-parameters refitted by maximum likelihood at each step) with posterior mean
:math:`\mu(\mathbf x)` and standard deviation :math:`\sigma(\mathbf x)`, and simulates next at the
candidate that maximizes the acquisition, ``max_iter`` times:

* ``"straddle"`` (Bryan et al. 2005): :math:`1.96\,\sigma(\mathbf x) - |\mu(\mathbf x) - \tau|`,
  large where the boundary :math:`f = \tau` may plausibly pass (the 95 % interval straddles
  :math:`\tau`): it spends simulations on the boundary, not on the interior of the regions;
* ``"uncertainty"``: :math:`\sigma(\mathbf x)`, the most uncertain point (uncertainty sampling for a
  globally accurate surrogate, MacKay 1992);
* ``"random"``: a uniform random point, the baseline (the same Gaussian process is fitted to it, so
  only the choice of points differs).

The candidates are a fresh scrambled Sobol set of 1024 points in the box at each step. After each
fit, the map :math:`\mu > \tau` is compared with the exact map on ``n_test`` held-out points (a
Sobol set that does not depend on ``seed``, so that every seed and strategy is scored on the same
points): the misclassified fraction and the RMSE of :math:`\mu` are recorded, the curves of "error
vs number of simulations".

Why the loop is written by hand
-------------------------------
scikit-learn fits the Gaussian process but has no active-learning loop; modAL (Danka & Horvath 2018)
provides one, but as a thin wrapper whose value is exactly the few lines below, which the book
wants visible (fit, score the candidates, simulate the best, repeat) — and which would add a
dependency for them.

References
----------
- D. Rosenthal, "The theory of moving sources of heat and its application to metal treatments",
  Trans. ASME 68, 849 (1946).
- M. Tang, P. C. Pistorius, J. L. Beuth, "Prediction of lack-of-fusion porosity for powder bed
  fusion", Addit. Manuf. 14, 39 (2017).
- W. E. King et al., "Observation of keyhole-mode laser melting in laser powder-bed fusion additive
  manufacturing", J. Mater. Process. Technol. 214, 2915 (2014).
- D. B. Hann, J. Iammi, J. Folkes, "A simple methodology for predicting laser-weld properties from
  material and laser parameters", J. Phys. D 44, 445401 (2011).
- I. Yadroitsev, A. Gusarov, I. Yadroitsava, I. Smurov, "Single track formation in selective laser
  melting of metal powders", J. Mater. Process. Technol. 210, 1624 (2010).
- K. C. Mills, *Recommended Values of Thermophysical Properties for Selected Commercial Alloys*,
  Woodhead (2002) (the 316L properties of :data:`SS316L`).
- C. D. Boley, S. A. Khairallah, A. M. Rubenchik, "Calculation of laser absorption by metal powders
  in additive manufacturing", Appl. Opt. 54, 2477 (2015); J. Trapp, A. M. Rubenchik, G. Guss,
  M. J. Matthews, "In situ absorptivity measurements of metallic powders during laser powder-bed
  fusion additive manufacturing", Appl. Mater. Today 9, 341 (2017) (the absorptivity).
- B. Bryan, J. Schneider, R. C. Nichol, C. J. Miller, C. R. Genovese, L. Wasserman, "Active learning
  for identifying function threshold boundaries", NeurIPS 18 (2005).
- D. J. C. MacKay, "Information-based objective functions for active data selection", Neural
  Comput. 4, 590 (1992).
- C. E. Rasmussen, C. K. I. Williams, *Gaussian Processes for Machine Learning*, MIT Press (2006).
- T. Danka, P. Horvath, "modAL: a modular active learning framework for Python", arXiv:1805.00979
  (2018).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

from .._backend import progress_bar, rng
from .._validation import check_bounds, check_evaluations, check_flag, check_integer, real_array
from ..datasets.store import sobol_sequence
from .melt_pool import rosenthal_melt_pool

__all__ = [
    "Alloy",
    "SS316L",
    "LPBF_BOUNDS",
    "PROCESS_REGIONS",
    "LPBFTrack",
    "lpbf_track",
    "ActiveLearningResult",
    "learn_process_map",
]

#: Region names, indexed by the integer ``LPBFTrack.region``: 0 the printable conduction-mode window.
PROCESS_REGIONS = ("conduction", "lack of fusion", "keyhole")
#: The (power [W], speed [m/s]) box of the book's map, typical of LPBF machines.
LPBF_BOUNDS = ((50.0, 400.0), (0.2, 2.0))

_STRATEGIES = ("straddle", "uncertainty", "random")
_N_CANDIDATES = 1024  # Sobol candidates scored per step (a power of two: a balanced design)
_Z = 1.96  # the straddle's multiple of sigma: a 95 % interval (Bryan et al. 2005)
_TEST_SEED = 20050101  # the held-out points do not depend on the learner's seed
_DUPLICATE_TOL = 1e-9  # unit cube, max-norm: a candidate this close to a sample is not proposed


# ----------------------------------------------------------------------------------------------
# the teaching simulation


@dataclass(frozen=True)
class Alloy:
    r"""Thermal properties of an alloy for the Rosenthal process map (SI units, constants).

    Attributes
    ----------
    name : str
    k : float
        Thermal conductivity (W/m/K).
    rho_c : float
        Volumetric heat capacity :math:`\rho c` (J/m³/K).
    T_melt : float
        Melting point (K): the melt-pool boundary.
    T_boil : float
        Boiling point (K), for the keyhole threshold :math:`\pi T_b/T_m`.
    absorptivity : float
        Fraction :math:`A` of the laser power absorbed, in (0, 1].
    """

    name: str
    k: float
    rho_c: float
    T_melt: float
    T_boil: float
    absorptivity: float

    @property
    def alpha(self):
        r"""Thermal diffusivity :math:`k/\rho c` (m²/s)."""
        return self.k / self.rho_c


#: 316L stainless steel, temperature-averaged (room temperature to melting) round values from Mills
#: (2002): k rises from about 14 to 30 W/m/K (22 taken), rho from 7950 to about 7300 kg/m³ and c from
#: about 470 to 700 J/kg/K (rho c = 4.5e6 J/m³/K taken); solidus/liquidus about 1660/1720 K (1700 K
#: taken); boiling point about 3090 K (iron's is 3134 K); absorptivity 0.35, the conduction-mode
#: value of steel powder beds at 1 µm wavelength (Boley et al. 2015; Trapp et al. 2017 measure roughly
#: 0.3-0.5 below the keyhole threshold, rising beyond it).
SS316L = Alloy(name="316L stainless steel", k=22.0, rho_c=4.5e6, T_melt=1700.0, T_boil=3090.0,
               absorptivity=0.35)


@dataclass(frozen=True, eq=False)
class LPBFTrack:
    r"""One laser track (or a grid of them) of the teaching LPBF simulation, from :func:`lpbf_track`.

    Arrays broadcast over ``power`` and ``speed`` (floats for scalar inputs); lengths in m.

    Attributes
    ----------
    power, speed : float or numpy.ndarray
        Laser power :math:`P` (W) and scan speed :math:`v` (m/s).
    depth, width, length : float or numpy.ndarray
        The Rosenthal melt pool: :math:`D`, :math:`W = 2D`, and :math:`L_{\rm pool}`.
    cooling_rate : float or numpy.ndarray
        At the trailing edge (K/s), :math:`2\pi k v\Delta T^2/(AP)`.
    enthalpy : float or numpy.ndarray
        The normalized enthalpy :math:`\Delta H/h_s` of King et al. (2014).
    margin_fusion, margin_keyhole : float or numpy.ndarray
        The signed margins (positive: fused, resp. no keyhole) of the module docstring.
    margin : float or numpy.ndarray
        Their minimum: positive inside the printable window.
    region : int or numpy.ndarray
        Index into :data:`PROCESS_REGIONS`: 0 where ``margin > 0``, else the criterion with the most
        negative margin (1 lack of fusion, 2 keyhole).
    """

    power: object
    speed: object
    depth: object
    width: object
    length: object
    cooling_rate: object
    enthalpy: object
    margin_fusion: object
    margin_keyhole: object
    margin: object
    region: object


def _positive_array(name, value):
    """``value`` as a float array whose entries are finite and > 0. Complex numbers (whose conversion would drop
    the imaginary part), bools and strings (which float() reads as numbers) are refused by name."""
    array = real_array(value, name=name)
    if not np.all(np.isfinite(array)) or not np.all(array > 0):
        bad = array[~(np.isfinite(array) & (array > 0))].flat[0]
        raise ValueError(f"{name} has the value {bad}; expected finite values > 0")
    return array


def _out(value):
    return value.item() if np.ndim(value) == 0 else value


def lpbf_track(power, speed, *, alloy=SS316L, beam_radius=50e-6, layer_thickness=30e-6,
               hatch_spacing=80e-6, T0=293.15, keyhole_threshold=None):
    r"""The teaching simulation of a laser powder-bed fusion track: melt pool, margins and region.

    The Rosenthal melt pool for the absorbed power ``alloy.absorptivity * power``, the
    lack-of-fusion criterion of Tang et al. (2017) and the keyhole criterion of King et al. (2014)
    (see the module docstring; a teaching model that ignores latent heat, convection and keyhole
    physics).

    Parameters
    ----------
    power : float or array_like
        Laser power :math:`P` (W), > 0.
    speed : float or array_like
        Scan speed :math:`v` (m/s), > 0; broadcast with ``power``.
    alloy : Alloy
        The material; default :data:`SS316L`.
    beam_radius : float
        The beam radius :math:`\sigma` of the normalized enthalpy (m), > 0.
    layer_thickness : float
        Powder layer thickness :math:`t` (m), > 0.
    hatch_spacing : float
        Distance :math:`h` between neighbouring tracks (m), > 0.
    T0 : float
        Preheat (build plate) temperature (K, absolute: > 0), below ``alloy.T_melt``.
    keyhole_threshold : float, optional
        The keyhole onset :math:`\Delta H/h_s`; default King et al.'s :math:`\pi T_b/T_m`.

    Returns
    -------
    LPBFTrack
        Melt-pool dimensions, the normalized enthalpy, the margins and the region label.

    Raises
    ------
    ValueError
        For a power, speed or length that is not finite and > 0, ``T0`` not in (0 K, melting point),
        or a non-positive ``keyhole_threshold``.

    Examples
    --------
    >>> from mslearn.process import PROCESS_REGIONS, lpbf_track
    >>> [PROCESS_REGIONS[lpbf_track(p, v).region] for p, v in [(200, 0.8), (100, 1.5), (350, 0.3)]]
    ['conduction', 'lack of fusion', 'keyhole']
    >>> round(lpbf_track(200, 0.8).depth * 1e6, 1)   # µm
    55.7
    """
    if not isinstance(alloy, Alloy):
        raise TypeError(f"alloy must be an Alloy, got {type(alloy).__name__}")
    power, speed = _positive_array("power", power), _positive_array("speed", speed)
    for name in ("k", "rho_c", "T_melt"):       # named as the alloy's, before rosenthal_melt_pool sees them
        _positive_array(f"alloy.{name}", getattr(alloy, name))
    # an absolute temperature: the enthalpy divides by T_melt, the keyhole onset is pi T_boil / T_melt
    _positive_array("T0 (kelvin)", T0)
    for name, value in (("beam_radius", beam_radius), ("layer_thickness", layer_thickness),
                        ("hatch_spacing", hatch_spacing)):
        _positive_array(name, value)
    for name in ("T_boil", "absorptivity"):     # compared below, where True passed as 1 and a complex or a string
        real_array(getattr(alloy, name), name=f"alloy.{name}")  # raised a bare "'<' not supported"
    if not 0 < alloy.absorptivity <= 1:
        raise ValueError(f"alloy.absorptivity = {alloy.absorptivity}; expected a fraction in (0, 1]")
    if not alloy.T_boil > alloy.T_melt:
        raise ValueError(f"alloy.T_boil = {alloy.T_boil} K; expected above T_melt = {alloy.T_melt} K")
    if keyhole_threshold is None:
        keyhole_threshold = math.pi * alloy.T_boil / alloy.T_melt
    _positive_array("keyhole_threshold", keyhole_threshold)
    q = alloy.absorptivity * power
    # rosenthal_melt_pool checks k, rho_c and T_melt > T0
    pool = rosenthal_melt_pool(q, speed, k=alloy.k, rho_c=alloy.rho_c, T0=T0, T_melt=alloy.T_melt)
    depth = np.asarray(pool.depth)
    width = 2 * depth
    enthalpy = q / (math.pi * alloy.rho_c * alloy.T_melt * np.sqrt(alloy.alpha * speed * beam_radius**3))
    margin_fusion = -0.5 * np.log((hatch_spacing / width) ** 2 + (layer_thickness / depth) ** 2)
    margin_keyhole = np.log(keyhole_threshold / enthalpy)
    margin = np.minimum(margin_fusion, margin_keyhole)
    region = np.where(margin > 0, 0, np.where(margin_fusion <= margin_keyhole, 1, 2))
    return LPBFTrack(power=_out(np.broadcast_to(power, depth.shape).copy()),
                     speed=_out(np.broadcast_to(speed, depth.shape).copy()), depth=_out(depth),
                     width=_out(width), length=_out(np.asarray(pool.length)),
                     cooling_rate=_out(np.asarray(pool.cooling_rate)), enthalpy=_out(enthalpy),
                     margin_fusion=_out(margin_fusion), margin_keyhole=_out(margin_keyhole),
                     margin=_out(margin), region=_out(region))


# ----------------------------------------------------------------------------------------------
# active learning


@dataclass(frozen=True, eq=False)
class ActiveLearningResult:
    r"""The simulations of an active-learning run and its learning curve, from :func:`learn_process_map`.

    Attributes
    ----------
    X : numpy.ndarray
        Shape ``(n_initial + max_iter, d)``: the simulated points, in order (the initial design first;
        after a continuation, every simulation of the runs before).
    y : numpy.ndarray
        Shape ``(n_initial + max_iter,)``: ``simulate`` at each row of ``X``.
    n_initial : int
        How many of them came before the first active-learning step: the initial Sobol design, with
        the simulations given as ``initial``.
    threshold : float
        The level :math:`\tau` whose boundary is learned; the map is ``f > threshold``.
    strategy : str
        ``"straddle"``, ``"uncertainty"`` or ``"random"``.
    bounds : numpy.ndarray
        Shape ``(d, 2)``: the ``(low, high)`` of each input.
    model : sklearn.gaussian_process.GaussianProcessRegressor
        The Gaussian process fitted to all simulations. It takes inputs scaled to the unit cube,
        ``(X - low) / (high - low)``; :meth:`posterior`, :meth:`predict` and :meth:`classify` scale.
    n_simulations : numpy.ndarray
        Shape ``(max_iter + 1,)``: ``n_initial, n_initial + 1, ...``, the x-axis of the history (a
        continued run's history goes on from the one it continued).
    history_misclassification : numpy.ndarray
        Shape ``(max_iter + 1,)``: the fraction of held-out points where ``mu > threshold`` disagrees
        with ``simulate > threshold``, after each number of simulations (NaN when ``n_test = 0``).
    history_rmse : numpy.ndarray
        Shape ``(max_iter + 1,)``: the root-mean-square error of ``mu`` on the held-out points.
    X_test, y_test : numpy.ndarray
        The held-out points ``(n_test, d)`` and the exact values there ``(n_test,)``.
    """

    X: np.ndarray
    y: np.ndarray
    n_initial: int
    threshold: float
    strategy: str
    bounds: np.ndarray
    model: GaussianProcessRegressor
    n_simulations: np.ndarray
    history_misclassification: np.ndarray
    history_rmse: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def posterior(self, X):
        """The Gaussian process's posterior mean and standard deviation at points of the box.

        Parameters
        ----------
        X : array_like, shape (m, d)
            Points in the original units (not scaled).

        Returns
        -------
        (mean, std) : two numpy arrays of shape ``(m,)``
        """
        X = np.asarray(X, dtype=float)
        d = len(self.bounds)
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"X has shape {X.shape}; expected (m, {d}), one column per input")
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        with threadpool_limits(1):
            return self.model.predict((X - low) / (high - low), return_std=True)

    def predict(self, X):
        """The posterior mean at ``X`` (the mean of :meth:`posterior`).

        Parameters
        ----------
        X : array_like, shape (m, d)
            Points in the original units (not scaled), one column per input of ``bounds``.

        Returns
        -------
        ndarray of float64, shape (m,)

        Raises
        ------
        ValueError
            If ``X`` is not ``(m, d)``.
        """
        return self.posterior(X)[0]

    def classify(self, X):
        """The learned map at ``X``: True where the posterior mean exceeds ``threshold``.

        Parameters
        ----------
        X : array_like, shape (m, d)
            Points in the original units (not scaled), one column per input of ``bounds``.

        Returns
        -------
        ndarray of bool, shape (m,)

        Raises
        ------
        ValueError
            If ``X`` is not ``(m, d)``.
        """
        return self.predict(X) > self.threshold


def _simulate(simulate, points):
    """``simulate`` at the rows of ``points`` (m, d), checked to be ``m`` finite floats."""
    values = simulate(points.copy())  # simulate may change its argument in place
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"simulate returned {type(values).__name__}; expected an array of floats") from None
    if values.shape != (len(points),):
        raise ValueError(f"simulate returned shape {values.shape} for {len(points)} points; expected "
                         f"({len(points)},), one value per row")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"simulate returned {values[bad[0]]} at {points[bad[0]].tolist()}; "
                         "expected finite values")
    return values


def _fit(U, y, kernel, generator):
    """A Gaussian process on unit-cube inputs; the likelihood search starts from ``kernel``."""
    model = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=1,
                                     random_state=int(generator.integers(2**31 - 1)))
    with warnings.catch_warnings():
        # hyper-parameters at a bound (a near-zero noise for a deterministic simulation) are expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(U, y)
    return model


def _known_simulations(initial, bounds, threshold):
    """``initial`` (a result or ``(X, y)``) as points and values, checked, and the result itself (None for a
    pair)."""
    if isinstance(initial, ActiveLearningResult):
        if not np.array_equal(initial.bounds, bounds) or initial.threshold != threshold:
            raise ValueError(f"initial is a run over other bounds or another threshold ({initial.bounds.tolist()}, "
                             f"{initial.threshold}) than this one ({bounds.tolist()}, {threshold}); continue it with "
                             "the same bounds and threshold")
        return initial.X, initial.y, initial
    if isinstance(initial, (tuple, list)) and len(initial) == 2:
        X, y = check_evaluations(*initial, bounds)
        return X, y[:, 0], None
    raise TypeError(f"initial is {type(initial).__name__}; expected an ActiveLearningResult or a pair (X, y) of "
                    "simulations")


def learn_process_map(simulate, bounds, threshold=0.0, *, n_initial=8, max_iter=30, strategy="straddle",
                      n_test=1024, seed=0, progress=False, initial=None):
    r"""Learn where ``simulate`` crosses ``threshold`` with Gaussian-process active learning.

    ``n_initial`` simulations on a scrambled Sobol design, then ``max_iter`` more, each where the
    acquisition of ``strategy`` is largest among 1024 fresh Sobol candidates, with the Gaussian
    process refitted after each (see the module docstring). After every fit the learned map
    ``mu > threshold`` is scored against the exact one on ``n_test`` held-out points.

    Parameters
    ----------
    simulate : callable
        ``simulate(X) -> values``: ``X`` a float array ``(m, d)`` of points in the box (columns in
        the order of ``bounds``), ``values`` ``m`` finite floats, each row an independent
        simulation. For the LPBF map: ``lambda X: lpbf_track(X[:, 0], X[:, 1]).margin``.
    bounds : sequence of (low, high)
        The box, one finite ``(low, high)`` pair with ``low < high`` per input.
    threshold : float
        The level :math:`\tau` of the boundary learned (0 for the LPBF margin).
    n_initial : int
        Size of the initial Sobol design, >= 2.
    max_iter : int
        Simulations chosen by the strategy after the initial design, >= 0.
    strategy : {"straddle", "uncertainty", "random"}
        The acquisition: the straddle :math:`1.96\sigma - |\mu - \tau|` of Bryan et al. (2005)
        (learns the boundary), the largest :math:`\sigma` (learns the function everywhere), or
        uniform random points (the baseline).
    n_test : int
        Held-out points for the learning curve, >= 0 (a Sobol set independent of ``seed``; 0 skips
        the scoring and fills the histories with NaN). They cost ``n_test`` extra calls of
        ``simulate`` — affordable for the teaching simulation, not for a real one.
    seed : int or numpy.random.Generator
        Seeds the initial design, the candidates, the random points and the likelihood restarts:
        the same seed gives the same simulations. With the same seed, every strategy starts from
        the same initial design.
    progress : bool
        Show a tqdm progress bar over the ``max_iter`` steps.
    initial : ActiveLearningResult or (X, y), optional
        Simulations already made, to go on from (a run that was cut short, or a finished one to extend):
        they are the first rows of ``.X``, the initial design simulates only its points beyond the first
        ``len(y)`` (with the same ``seed``, the points it already has), and ``max_iter`` more follow. A
        result continues its learning curve (with the same bounds, threshold, ``n_initial`` and ``n_test``;
        its held-out values are reused); a pair ``X`` ``(n, d)``, ``y`` ``(n,)`` starts a new one. The
        later steps are not those an uninterrupted run would take (the random draws are not replayed),
        but no simulation is repeated.

    Returns
    -------
    ActiveLearningResult
        The simulations ``.X``, ``.y``, the final Gaussian process ``.model`` (``.predict``,
        ``.classify``) and the learning curves ``.history_misclassification``, ``.history_rmse``
        against ``.n_simulations``.

    Raises
    ------
    ValueError
        For bounds that are not finite ``(low, high)`` pairs with ``low < high``, a non-finite
        ``threshold``, ``n_initial < 2``, ``max_iter < 0``, ``n_test < 0``, an unknown ``strategy``,
        ``simulate`` returning the wrong shape or a non-finite value, or an ``initial`` result of other
        bounds, threshold, ``n_initial`` or ``n_test``.
    TypeError
        For a ``simulate`` that is not callable, or a non-integer count.

    Examples
    --------
    >>> from mslearn.process import learn_process_map
    >>> result = learn_process_map(lambda X: X[:, 0] + X[:, 1], [(0, 1), (0, 1)], 1.0, n_initial=4,
    ...                            max_iter=4, n_test=256, seed=0)
    >>> result.X.shape, result.n_simulations.tolist()
    ((8, 2), [4, 5, 6, 7, 8])
    >>> bool(result.history_misclassification[-1] < 0.05)
    True
    """
    if not callable(simulate):
        raise TypeError(f"simulate must be callable, got {type(simulate).__name__}")
    bounds = check_bounds(bounds)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold):
        raise ValueError(f"threshold = {threshold!r}; expected a finite float")
    threshold = float(threshold)
    n_initial = check_integer(n_initial, 2, name="n_initial")
    max_iter = check_integer(max_iter, 0, name="max_iter")
    n_test = check_integer(n_test, 0, name="n_test")
    progress = check_flag(progress, name="progress")   # here, not at the bar: the first simulations come before it
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy = {strategy!r}; expected one of {', '.join(map(repr, _STRATEGIES))}")
    generator = rng(seed)
    d = len(bounds)
    low, high = bounds[:, 0], bounds[:, 1]

    def to_box(U):
        return low + U * (high - low)

    X_known, y_known, previous = (np.empty((0, d)), np.empty(0), None) if initial is None else (
        _known_simulations(initial, bounds, threshold))
    if previous is not None:             # checked before anything is simulated
        if len(previous.y_test) != n_test:
            raise ValueError(f"n_test = {n_test}, but the run continued was scored on {len(previous.y_test)} held-out "
                             "points; continue it with the same n_test, so that its learning curve goes on")
        if n_initial > len(y_known):
            # design points beyond those simulated would enter a learning curve that never scores them (and the
            # wrong ones); a smaller or equal n_initial simulates no design point (a run begun from a pair (X, y)
            # has an initial design of len(X), whatever n_initial made it)
            raise ValueError(f"n_initial = {n_initial} exceeds the {len(y_known)} simulations of the run continued "
                             f"(its initial design: {previous.n_initial} points); continue it with the same "
                             "n_initial (max_iter adds the simulations)")
    design = sobol_sequence(d, n_initial, seed=generator)[len(y_known):]
    U = np.vstack([(X_known - low) / (high - low), design])
    y = np.concatenate([y_known, _simulate(simulate, to_box(design))]) if len(design) else y_known
    U_test = sobol_sequence(d, n_test, seed=_TEST_SEED)
    X_test = to_box(U_test)
    if previous is not None:
        y_test = previous.y_test         # the same held-out points (their Sobol set does not depend on seed)
    else:
        y_test = _simulate(simulate, X_test) if n_test else np.empty(0)
    kernel = (ConstantKernel(1.0, (1e-3, 1e3))
              * Matern(length_scale=np.full(d, 0.3), length_scale_bounds=(1e-2, 1e1), nu=2.5)
              + WhiteKernel(1e-6, (1e-10, 1e-2))) if previous is None else previous.model.kernel_
    misclassification, rmse = [], []
    bar = progress_bar(progress, max_iter, f"active learning ({strategy})", unit="simulation")
    with threadpool_limits(1):  # tiny matrices: BLAS threads only contend (and results stay exact)
        for step in range(max_iter + 1):
            model = _fit(U, y, kernel, generator)
            kernel = model.kernel_  # the next fit starts from this one
            if step == 0 and previous is not None:
                pass                      # the continued run's last entry scores these simulations
            elif n_test:
                mean = model.predict(U_test)
                misclassification.append(float(np.mean((mean > threshold) != (y_test > threshold))))
                rmse.append(float(np.sqrt(np.mean((mean - y_test) ** 2))))
            else:
                misclassification.append(math.nan)
                rmse.append(math.nan)
            if step == max_iter:
                break
            # --- the active-learning step: score candidates, simulate the best one ---
            if strategy == "random":
                new = generator.random((1, d))
            else:
                candidates = sobol_sequence(d, _N_CANDIDATES, seed=generator)
                mean, std = model.predict(candidates, return_std=True)
                score = std if strategy == "uncertainty" else _Z * std - np.abs(mean - threshold)
                distance = np.abs(candidates[:, None, :] - U[None, :, :]).max(axis=2).min(axis=1)
                score = np.where(distance < _DUPLICATE_TOL, -np.inf, score)  # never simulate twice
                new = candidates[[int(np.argmax(score))]]
            U = np.vstack([U, new])
            y = np.concatenate([y, _simulate(simulate, to_box(new))])
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    n_simulations = np.arange(len(U) - max_iter, len(U) + 1)
    if previous is not None:
        n_simulations = np.concatenate([previous.n_simulations, n_simulations[1:]])
        misclassification = [*previous.history_misclassification, *misclassification]
        rmse = [*previous.history_rmse, *rmse]
    X = to_box(U)
    X[:len(X_known)] = X_known           # the known points exactly as given (not through the unit cube)
    return ActiveLearningResult(
        X=X, y=y, n_initial=len(U) - max_iter if previous is None else previous.n_initial, threshold=threshold,
        strategy=strategy, bounds=bounds, model=model, n_simulations=n_simulations,
        history_misclassification=np.array(misclassification), history_rmse=np.array(rmse),
        X_test=X_test, y_test=y_test,
    )
