r"""Learned material laws in place of the RVE, with a training-range check and adaptive enrichment.

* Linear: :class:`LearnedElasticity` takes a regressor mapping microstructure features (volume
  fraction, descriptors, ...) of each point to its effective stiffness, learned from FFT
  homogenizations; the macroscopic problem is then FE with the predicted tensors.
* Nonlinear: :class:`SurrogateLaw` wraps any callable ``strain -> (stress, tangent)`` (a trained
  network with its autograd tangent, a fitted potential). Points whose strain lies outside the
  training box :math:`[\varepsilon^{lo}, \varepsilon^{hi}]` are sent to the ``fallback`` law (the
  RVE solve) instead, and the converged fallback samples are recorded (:attr:`SurrogateLaw.new_strain`,
  ...) to retrain on; :meth:`SurrogateLaw.update` installs the retrained surrogate and widens the box
  (adaptive enrichment: Fritzen, Fernández & Larsson 2019; Kochmann et al. 2018).
* FE-ANN: :class:`EnergyLaw` uses a trained effective energy (a
  :class:`~mslearn.surrogates.hyperelastic.StrainEnergyNetwork` fitted to the RVE's response along radial
  paths) as the law: stress and exact symmetric tangent by autograd, quadratic macroscopic Newton, no
  history (monotonic, proportional loading only). :func:`enrichment_loop` re-solves with the network
  retrained on new RVE paths wherever the solution leaves the training range (per solve, not inside a
  Newton iteration: a law switching between network and RVE mid-iteration is discontinuous);
  :func:`field_errors` compares a solution with the FE² one.

Measured (``tests/test_multiscale.py``, ``benchmarks/bench_multiscale.py``; the book's two-phase J2 RVE,
Cook's membrane with 32 points loaded to strains of 0.058, 28 points yielding): FE-ANN trained on 48
radial paths to 0.06 is within 0.5 % of FE² at the loaded edge (L2 errors 0.8 % displacement, 1.6 %
stress; linear :math:`C^*`: 48 %, 43 %, 27 %) and 26x faster per solve, but generating its data and
fitting cost about one FE² solve of this size (speed-up 1.06x with them): it pays off for finer meshes,
repeated solves, or when the RVE is expensive.
"""
from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .._backend import progress_bar
from .._validation import (array_digest, check_finite, check_integer, check_real, check_relative_tolerance,
                           check_same_settings)
from .fe import LinearElastic, _check_law_output, mandel_strains

__all__ = ["LearnedElasticity", "SurrogateLaw", "EnergyLaw", "field_errors", "FieldErrors", "enrichment_loop",
           "EnrichmentResult", "step_strains"]

_UPPER = np.triu_indices(3)


class LearnedElasticity(LinearElastic):
    r"""Linear law with per-point stiffnesses predicted by a regressor: :math:`\sigma = \hat C(f_p)\,\varepsilon`.

    Parameters
    ----------
    model : object with ``predict(features) -> (n_points, 6)``
        Trained on :meth:`targets` of FFT effective stiffnesses (the upper triangle of the Mandel matrix).
    features : array, ``(n_points, n_features)``
        Microstructure features of the quadrature points (order of :func:`~mslearn.multiscale.integration_points`).

    Examples
    --------
    A regressor fitted on the stiffnesses of two samples (features: Young's modulus) interpolates a third:

    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from mslearn.multiscale.fe import elastic_stiffness
    >>> C = np.stack([elastic_stiffness(E, 0.3) for E in (1.0, 2.0)])
    >>> model = LinearRegression().fit([[1.0], [2.0]], LearnedElasticity.targets(C))      # targets (2, 6)
    >>> law = LearnedElasticity(model, [[1.5]])                                           # one point
    >>> bool(np.allclose(law.stiffness[0], elastic_stiffness(1.5, 0.3)))
    True
    """

    def __init__(self, model, features):
        upper = np.asarray(model.predict(np.asarray(features, dtype=float)), dtype=float)
        if upper.ndim != 2 or upper.shape[1] != 6:
            raise ValueError(f"model.predict returned shape {upper.shape}; expected (n_points, 6) (see targets)")
        C = np.zeros((len(upper), 3, 3))
        C[:, _UPPER[0], _UPPER[1]] = upper
        C[:, _UPPER[1], _UPPER[0]] = upper
        super().__init__(C)

    @staticmethod
    def targets(stiffness):
        """Training targets for ``model``: the upper triangle of Mandel stiffnesses, row by row.

        Parameters
        ----------
        stiffness : array_like, shape (n, 3, 3) or (3, 3)
            Real Mandel stiffness matrices (e.g. FFT effective stiffnesses), one per sample, or one matrix
            (as :class:`~mslearn.multiscale.LinearElastic` takes either).

        Returns
        -------
        ndarray of float64, shape (n, 6) or (6,)
            :math:`(C_{11}, C_{12}, C_{13}, C_{22}, C_{23}, C_{33})` of each matrix (of the one matrix).

        Raises
        ------
        ValueError
            For another shape. TypeError for complex matrices.

        Examples
        --------
        >>> from mslearn.multiscale.fe import elastic_stiffness
        >>> LearnedElasticity.targets(elastic_stiffness(1.0, 0.25)).round(4)
        array([1.2, 0.4, 0. , 1.2, 0. , 0.8])
        """
        C = np.asarray(check_real(stiffness, name="stiffness"), dtype=float)
        if C.ndim not in (2, 3) or C.shape[-2:] != (3, 3):       # indexing gave an IndexError or picked garbage
            raise ValueError(f"stiffness has shape {C.shape}; expected (n, 3, 3) or (3, 3) Mandel matrices")
        return C[..., _UPPER[0], _UPPER[1]]


class SurrogateLaw:
    r"""A learned law used inside its training range, the ``fallback`` (RVE) law outside.

    Parameters
    ----------
    surrogate : callable
        ``surrogate(strain) -> (stress, tangent)`` on Mandel ``(n, 3)``; stateless.
    fallback : callable
        The reference law, e.g. :class:`~mslearn.multiscale.FFTElasticity`; called on the points
        outside the range only, so it must accept any number of points (stateless).

        Each returns a pair (tuple or list) of finite real arrays of shapes ``(n, 3)`` and ``(n, 3, 3)`` for
        its ``n`` points, the check :func:`~mslearn.multiscale.solve` applies to every law; anything else
        raises ValueError (TypeError if complex) naming the law.
    lower, upper : array, ``(3,)``
        The training box of the strain (for example the min and max of the training strains).

    Attributes
    ----------
    outside : ndarray of bool
        Which points of the last evaluation were outside the range.
    new_strain, new_stress, new_tangent : ndarray
        The fallback samples of the converged load steps (recorded by :meth:`commit`), to retrain on.

    Examples
    --------
    The second strain leaves the box: the fallback answers there and its sample is recorded for retraining:

    >>> import numpy as np
    >>> from mslearn.multiscale.fe import LinearElastic, elastic_stiffness
    >>> learned = reference = LinearElastic(elastic_stiffness(1.0, 0.3))
    >>> law = SurrogateLaw(learned, reference, lower=[-0.01] * 3, upper=[0.01] * 3)
    >>> stress, tangent = law(np.array([[0.005, 0.0, 0.0], [0.02, 0.0, 0.0]]))
    >>> law.commit()                                    # the load step converged
    >>> law.outside, law.new_strain
    (array([False,  True]), array([[0.02, 0.  , 0.  ]]))
    >>> law.update(learned)                             # retrained: the range grows to cover the sample
    >>> law.upper
    array([0.02, 0.01, 0.01])
    """

    def __init__(self, surrogate, fallback, lower, upper):
        if not (callable(surrogate) and callable(fallback)):
            raise ValueError("surrogate and fallback must be callables strain -> (stress, tangent)")
        self.surrogate, self.fallback = surrogate, fallback
        self.lower, self.upper = (np.asarray(b, dtype=float) for b in (lower, upper))
        if self.lower.shape != (3,) or self.upper.shape != (3,):
            raise ValueError(f"lower has shape {self.lower.shape} and upper {self.upper.shape}; expected (3,) each: "
                             "bounds of the Mandel strains (e11, e22, sqrt2 e12)")
        if not (self.lower <= self.upper).all():
            raise ValueError(f"lower={self.lower} and upper={self.upper}; expected lower <= upper")
        self.new_strain, self.new_stress, self.new_tangent = np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3, 3))
        self.outside = None
        self._pending = None

    def __call__(self, strain):
        strain = mandel_strains(strain)
        self.outside = ((strain < self.lower) | (strain > self.upper)).any(1)
        stress, tangent = np.zeros((len(strain), 3)), np.zeros((len(strain), 3, 3))
        inside = ~self.outside
        # each output is assigned into its points' rows: checked first, as solve checks every law's
        if inside.any():
            stress[inside], tangent[inside] = _check_law_output(
                self.surrogate(strain[inside]), int(inside.sum()), where="inside the training range", law="surrogate")
        if self.outside.any():
            stress[self.outside], tangent[self.outside] = _check_law_output(
                self.fallback(strain[self.outside]), int(self.outside.sum()), where="outside the training range",
                law="fallback")
        self._pending = (strain[self.outside], stress[self.outside], tangent[self.outside])
        return stress, tangent

    def commit(self):
        """Record the fallback samples of the converged state."""
        if self._pending is not None:
            self.new_strain, self.new_stress, self.new_tangent = (
                np.concatenate([a, b]) for a, b in zip((self.new_strain, self.new_stress, self.new_tangent),
                                                       self._pending))
            self._pending = None

    def update(self, surrogate):
        """Install a surrogate retrained with the recorded samples: the range grows to cover them and the
        record is cleared.

        Parameters
        ----------
        surrogate : callable
            The new ``surrogate(strain) -> (stress, tangent)`` on Mandel ``(n, 3)``, stateless (as in the
            class); not checked here.

        Returns
        -------
        None
            ``lower`` and ``upper`` become the elementwise min and max of themselves and ``new_strain``;
            ``new_strain``, ``new_stress`` and ``new_tangent`` are emptied.
        """
        self.surrogate = surrogate
        if len(self.new_strain):
            self.lower = np.minimum(self.lower, self.new_strain.min(0))
            self.upper = np.maximum(self.upper, self.new_strain.max(0))
        self.new_strain, self.new_stress, self.new_tangent = np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3, 3))


# ----------------------------------------------------------------------------- a learned nonlinear law
def _directions(strain):
    norm = np.linalg.norm(strain, axis=-1)
    return strain / np.maximum(norm, np.finfo(float).tiny)[..., None], norm


class EnergyLaw:
    r"""A learned hyperelastic law: :math:`\sigma = \partial W/\partial\varepsilon`,
    :math:`\mathbb C = \partial^2 W/\partial\varepsilon^2` of a trained effective energy, at all points at once.

    The stress and its exact tangent (the Hessian, by autograd: symmetric, and positive semi-definite
    for a convex energy) make the macroscopic Newton iteration converge quadratically, like an
    analytic law. FE with this law (FE-ANN) replaces the RVE solves of FE² by one network evaluation
    per Newton iteration.

    **Scope.** An energy has no history: the law is the RVE's response to *monotonic, proportional*
    loading (deformation plasticity, what :func:`~mslearn.datasets.radial_paths` samples). Unloading
    follows the loading curve back (no permanent strain), and a strain path that turns by a large angle
    gets the stress of the straight path to the same end — use it for monotonic, proportional-ish
    macroscopic loading (check that the points' strain directions change little over the load steps),
    and a history-aware law (:class:`~mslearn.multiscale.FFTPlasticity`, a recurrent surrogate) otherwise.

    **Training range.** A strain counts as *inside* when a training strain at least as large lies within
    ``max_angle`` of its direction (the training data are radial paths: each covers the segment from 0 to
    its end); :meth:`outside` says which points are not — an extrapolation, to be checked or enriched
    (:func:`enrichment_loop`).

    Parameters
    ----------
    model : fitted estimator
        With ``predict(strain) -> stress`` and ``tangent(strain) -> (n, 3, 3)`` on Mandel ``(n, 3)``, e.g. a
        fitted :class:`~mslearn.surrogates.hyperelastic.StrainEnergyNetwork`.
    strain : array, ``(..., 3)``, optional
        The training strains (e.g. the ``(n_paths, n_steps, 3)`` radial paths); without them :meth:`outside`
        is all False.
    max_angle : float
        Half-angle in degrees of the cone around a training strain that it covers (30: a point is
        inside when a training path passes within 30 degrees of its direction, farther out).

    Attributes
    ----------
    n_evaluations : int
        Points evaluated so far (summed over the calls).

    Examples
    --------
    The law only needs ``predict`` and ``tangent``; here the exact quadratic energy of a linear material.
    Trained along e11 up to 0.01, it extrapolates beyond that length or 30 degrees off that direction:

    >>> import numpy as np
    >>> from mslearn.multiscale.fe import elastic_stiffness
    >>> C = elastic_stiffness(1.0, 0.3)
    >>> class Quadratic:                                            # W = e.C.e / 2
    ...     def predict(self, strain): return strain @ C
    ...     def tangent(self, strain): return np.broadcast_to(C, (len(strain), 3, 3))
    >>> law = EnergyLaw(Quadratic(), np.linspace(0, 1, 5)[:, None] * [[0.01, 0.0, 0.0]])
    >>> law.outside(np.array([[0.005, 0.0, 0.0], [0.02, 0.0, 0.0], [0.0, 0.005, 0.0], [0.005, 0.001, 0.0]]))
    array([False,  True,  True, False])
    """

    def __init__(self, model, strain=None, *, max_angle=30.0):
        if not (hasattr(model, "predict") and hasattr(model, "tangent")):
            raise ValueError(f"model is a {type(model).__name__}; expected a fitted estimator with predict(strain) "
                             "and tangent(strain), e.g. StrainEnergyNetwork")
        if isinstance(max_angle, bool) or not isinstance(max_angle, numbers.Real) or not 0 < max_angle < 180:
            raise ValueError(f"max_angle={max_angle!r}; expected degrees in (0, 180)")
        self.model, self.max_angle = model, float(max_angle)
        if strain is not None:
            strain = np.asarray(strain, dtype=float)
            if strain.ndim == 0 or strain.shape[-1] != 3:    # reshape(-1, 3) would regroup (n, 2) silently
                raise ValueError(f"strain has shape {strain.shape}; expected training Mandel strains (..., 3), "
                                 "e.g. (n_paths, n_steps, 3)")
            check_finite(strain, name="strain")
            strain = strain.reshape(-1, 3)
        self.strain = strain
        self.n_evaluations = 0

    def __call__(self, strain):
        strain = mandel_strains(strain)
        self.n_evaluations += len(strain)
        stress = np.asarray(self.model.predict(strain), dtype=float)
        tangent = np.asarray(self.model.tangent(strain), dtype=float)
        return stress, 0.5 * (tangent + np.swapaxes(tangent, 1, 2))   # symmetric already; round-off only

    def outside(self, strain):
        """Which of the Mandel strains are outside the training range (class docstring).

        Parameters
        ----------
        strain : array_like, shape (n, 3)
            Mandel strains :math:`(\\varepsilon_{11}, \\varepsilon_{22}, \\sqrt2\\,\\varepsilon_{12})`, finite.

        Returns
        -------
        ndarray of bool, shape (n,)
            True where no training strain at least as large lies within ``max_angle`` of the direction
            (the zero strain is inside); all False without training strains.

        Raises
        ------
        ValueError
            If ``strain`` is not ``(n, 3)`` or not finite.
        """
        strain = mandel_strains(strain)
        if self.strain is None:
            return np.zeros(len(strain), bool)
        return _uncovered(strain, self.strain, self.max_angle)


def _uncovered(strain, covering, max_angle):
    """Strains ``(n, 3)`` not covered by any of ``covering`` ``(k, 3)`` (within max_angle, at least as long)."""
    u, norm = _directions(strain)
    v, reach = _directions(covering)
    keep = reach > 0
    if not keep.any():
        return norm > 0
    cosine = u @ v[keep].T
    covered = (cosine >= math.cos(math.radians(max_angle))) & (reach[keep][None] >= norm[:, None] * (1 - 1e-9))
    return (norm > 0) & ~covered.any(1)


# ----------------------------------------------------------------------------- comparing two solutions
@dataclass
class FieldErrors:
    """Relative L2 errors of one FE solution against a reference on the same mesh (:func:`field_errors`).

    Attributes
    ----------
    displacement : float
        :math:`\\|u - u_{ref}\\|_{L^2} / \\|u_{ref}\\|_{L^2}` over the domain.
    stress : float
        :math:`\\|\\sigma - \\sigma_{ref}\\|_{L^2} / \\|\\sigma_{ref}\\|_{L^2}` (quadrature-point stresses).
    """

    displacement: float
    stress: float


def field_errors(reference, result):
    """Relative L2 displacement and stress errors of the :class:`~mslearn.multiscale.FEResult` ``result``
    against ``reference`` (same mesh and element, e.g. FE² as the reference of FE-ANN).

    Raises
    ------
    ValueError
        If the two have different discretizations, or the reference's displacement or stress is zero
        everywhere (an unloaded reference: no relative error).

    Examples
    --------
    Doubling Young's modulus halves the displacements of a traction-loaded elastic body and keeps its stresses:

    >>> from mslearn.multiscale import cooks_membrane
    >>> errors = field_errors(cooks_membrane(4).fe, cooks_membrane(4, E=2.0).fe)
    >>> round(errors.displacement, 4), round(errors.stress, 4)
    (0.5, 0.0)
    """
    if reference.displacement.shape != result.displacement.shape or reference.stress.shape != result.stress.shape:
        raise ValueError("reference and result have different meshes or elements; expected the same discretization")
    basis, w = reference.basis, reference.weights
    du = np.asarray(basis.interpolate(result.displacement - reference.displacement)).reshape(2, -1)
    u = np.asarray(basis.interpolate(reference.displacement)).reshape(2, -1)
    norms = {"displacement": (w * (u ** 2).sum(0)).sum(), "stress": (w * (reference.stress ** 2).sum(1)).sum()}
    for name, norm in norms.items():
        if norm == 0:
            raise ValueError(f"reference has a zero {name} field; the relative error is undefined for a zero "
                             "reference: expected a loaded reference")
    displacement = math.sqrt((w * (du ** 2).sum(0)).sum() / norms["displacement"])
    ds = ((result.stress - reference.stress) ** 2).sum(1)
    stress = math.sqrt((w * ds).sum() / norms["stress"])
    return FieldErrors(displacement=displacement, stress=stress)


# ----------------------------------------------------------------------------- adaptive enrichment
@dataclass
class EnrichmentResult:
    """Result of :func:`enrichment_loop`, one entry per round (round 0: the initial data).

    Attributes
    ----------
    laws : list of EnergyLaw
        The law of each round (its ``model`` fitted on that round's data).
    results : list of FEResult
        The macroscopic solution of each round.
    n_outside : list of int
        Quadrature points outside the training range in each round's solution (at any load step).
    n_paths : list of int
        Training paths of each round (initial plus added).
    rve_evaluations : list of int
        Cumulative RVE solves (path increments: paths x (steps - 1), the initial data included) behind
        each round's law.
    data_seconds, fit_seconds, solve_seconds : list of float
        Wall time of each round's new RVE data (0 in round 0: the initial data are given), fit and
        macroscopic solve.
    strain, stress : ndarray, ``(n_paths, n_steps, 3)``
        The final training data.
    settings : dict
        The problem the run solved (digests of ``labels`` and of the initial data, ``phases``,
        ``max_angle``, ``margin``, ``max_new``, ``tol`` and the model's parameters), which a
        continuation (``enrichment_loop(..., initial=result)``) must share.
    """

    laws: list
    results: list
    n_outside: list
    n_paths: list
    rve_evaluations: list
    data_seconds: list
    fit_seconds: list
    solve_seconds: list
    strain: np.ndarray
    stress: np.ndarray
    settings: dict = field(default=None, repr=False)

    @property
    def law(self):
        """The last round's law."""
        return self.laws[-1]

    @property
    def fe(self):
        """The last round's solution."""
        return self.results[-1]


def step_strains(fe):
    """Mandel strains ``(n_steps, n_points, 3)`` of an :class:`~mslearn.multiscale.FEResult` at every converged
    load step (``fe.strain`` is the last).

    Examples
    --------
    With two load steps of a linear problem, the strains at the first are half those at the second:

    >>> import numpy as np
    >>> from mslearn.multiscale import cooks_membrane
    >>> strains = step_strains(cooks_membrane(4, load_steps=2).fe)
    >>> strains.shape, bool(np.allclose(2 * strains[0], strains[1]))
    ((2, 96, 3), True)
    """
    from skfem.helpers import sym_grad

    from .fe import _mandel

    steps = [_mandel(sym_grad(fe.basis.interpolate(u))).reshape(3, -1).T for u in fe.displacements]
    return np.stack(steps) if steps else np.zeros((0, len(fe.points), 3))


def enrichment_loop(problem, labels, phases, strain, stress, *, model=None, max_rounds=3, max_angle=30.0,
                    margin=1.25, max_new=None, tol=1e-6, device="auto", progress=False, initial=None):
    r"""FE with a learned energy law, enriched with RVE data where the macroscopic solution leaves its range.

    Round 0 fits ``model`` to the radial-path data ``(strain, stress)`` and solves ``problem`` with the
    :class:`EnergyLaw`. Then, while some quadrature points' strains (at any converged load step) lie
    outside the training range (:meth:`EnergyLaw.outside`) and rounds are left: the RVE is solved along
    radial paths from 0 to ``margin`` times those strains (all in one batch of
    :func:`~mslearn.datasets.rve_stress_histories`; points sorted by strain norm and a new path covering
    its neighbours within ``max_angle``, so the fewest paths), the samples join the data, the model is
    refitted from scratch and the problem re-solved.

    Why whole solves and not a fallback inside Newton: switching a point between the network and the RVE
    within one Newton iteration makes the law discontinuous (Newton can cycle), and the RVE there would
    need the point's history. The energy law has no history, so re-solving with the retrained law is
    exact bookkeeping; each round costs one FE-ANN solve (cheap) and one batched RVE call on the new
    paths only. The recipe in ten lines, for another surrogate::

        law = EnergyLaw(model.fit(X, y), X)
        for _ in range(3):
            fe = problem(law)
            eps = step_strains(fe).reshape(-1, 3)
            new = eps[law.outside(eps)]                       # extrapolated points
            if not len(new): break
            paths = 1.1 * np.linspace(0, 1, 11)[None, :, None] * new[:, None]
            X = np.concatenate([X, paths])
            y = np.concatenate([y, rve_stress_histories(labels, phases, paths)])
            law = EnergyLaw(clone(model).fit(X, y), X)

    Parameters
    ----------
    problem : callable
        ``problem(law) -> FEResult``, e.g. ``lambda law: cooks_membrane(4, material=law, ...).fe``.
    labels, phases
        The RVE and its J2 phases (:func:`~mslearn.datasets.rve_stress_histories`).
    strain, stress : array, ``(n_paths, n_steps, 3)``
        Initial radial-path training data (:func:`~mslearn.datasets.radial_paths` and its RVE stresses);
        new paths get the same number of steps.
    model : estimator, optional
        Unfitted; cloned and fitted each round (default
        ``StrainEnergyNetwork(random_state=0, device=device)``).
    max_rounds : int
        Enrichment rounds after round 0 (at most ``max_rounds + 1`` solves).
    max_angle : float
        Of :class:`EnergyLaw`'s training range.
    margin : float
        New paths end at ``margin`` times the out-of-range strain (>= 1: beyond it). The refitted law moves
        the solution, so a point just covered can leave the range again: with 1.1 the loop on the book's
        Cook membrane chased two points for three rounds when run with two threads (27, 3, 1, 2 points
        outside), with 1.25 it ends with none in two rounds for one and two threads alike.
    max_new : int, optional
        Cap on new paths per round (the largest strains first).
    tol, device
        Of the RVE solves.
    progress : bool
        Show a tqdm bar over the rounds (the points still outside the range as its postfix) and the RVE
        solves' own bars.
    initial : EnrichmentResult, optional
        Go on from an earlier run of the same problem (the same ``problem``, ``labels``, ``phases``,
        initial ``strain`` and ``stress``, ``model``, ``max_angle``, ``margin``, ``max_new`` and ``tol``;
        ``max_rounds``, ``device``, ``progress`` and the model's ``device``, ``cpu_threads`` and ``progress``
        may change; a mismatch that can be checked, all but ``problem``, is refused naming what differs): the RVE paths for the points its last solution left
        outside the range are added to its final data (``strain``, ``stress``) and the rounds go on, its
        rounds first in the result, so ``max_rounds`` counts the whole run. The model is refitted from
        scratch every round with its fixed ``random_state``, so a run stopped at ``max_rounds`` and
        continued with a larger one equals the run made with the larger ``max_rounds`` (the same data,
        laws and solutions, to the same numbers on one machine and device; the timings differ). A result
        whose last round left no point outside, or that has ``max_rounds`` rounds already, is returned as
        it is.

    Returns
    -------
    EnrichmentResult
    """
    import time

    from sklearn.base import clone

    from ..datasets.paths import rve_stress_histories
    from ..surrogates.hyperelastic import StrainEnergyNetwork

    if not callable(problem):
        raise ValueError(f"problem is {type(problem).__name__}; expected a callable law -> FEResult")
    strain, stress = np.asarray(strain, dtype=float), np.asarray(stress, dtype=float)
    if strain.ndim != 3 or strain.shape[-1] != 3 or stress.shape != strain.shape:
        raise ValueError(f"strain {strain.shape} and stress {stress.shape}; expected equal (n_paths, n_steps, 3)")
    check_integer(max_rounds, 0, name="max_rounds")
    if max_new is not None:
        check_integer(max_new, 1, name="max_new")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not margin >= 1:
        raise ValueError(f"margin={margin!r}; expected >= 1")
    tol = check_relative_tolerance(tol)              # before the first fit and FE solve, not after them
    template = model if model is not None else StrainEnergyNetwork(random_state=0, device=device)
    settings = dict(labels=array_digest(np.asarray(labels, dtype=float)),
                    phases=copy.deepcopy(list(phases) if isinstance(phases, (list, tuple)) else phases),
                    strain=array_digest(strain), stress=array_digest(stress), model=_model_text(template),
                    max_angle=max_angle, margin=margin, max_new=max_new, tol=tol)
    if initial is not None:
        if not isinstance(initial, EnrichmentResult):
            raise TypeError(f"initial is {type(initial).__name__}; expected the EnrichmentResult of a previous "
                            "enrichment_loop")
        if initial.settings is None or not initial.laws:
            raise ValueError("initial is an EnrichmentResult without its settings or rounds; expected a result "
                             "returned by enrichment_loop")
        check_same_settings(initial.settings, settings,
                            problem=f"initial solved another problem (its settings {initial.settings})",
                            remedy="a continuation needs the same labels, phases, initial strain and stress, model, "
                                   "max_angle, margin, max_new and tol (max_rounds, device and progress may change)")
        if initial.n_outside[-1] == 0 or len(initial.laws) > max_rounds:
            return initial
    n_steps = strain.shape[1]

    def enriched(strain, stress, eps, outside):
        """The data with the RVE paths through the points ``eps[outside]``, the paths added, the seconds."""
        ends = _cover(margin * eps[outside], max_angle, max_new)
        paths = np.linspace(0.0, 1.0, n_steps)[None, :, None] * ends[:, None, :]
        start = time.perf_counter()
        new = rve_stress_histories(labels, phases, paths, tol=tol, device=device, progress=progress)
        seconds = time.perf_counter() - start
        return np.concatenate([strain, paths]), np.concatenate([stress, new]), len(paths), seconds

    out = EnrichmentResult([], [], [], [], [], [], [], [], strain, stress, settings)
    evaluations, data_seconds, first = len(strain) * (n_steps - 1), 0.0, 0
    if initial is not None:
        for key in _ROUND_LISTS:
            getattr(out, key).extend(getattr(initial, key))
        first, evaluations = len(initial.laws), initial.rve_evaluations[-1]
        eps = step_strains(initial.results[-1]).reshape(-1, 3)        # the uninterrupted run's next data
        strain, stress, added, data_seconds = enriched(initial.strain, initial.stress, eps,
                                                       initial.laws[-1].outside(eps))
        evaluations += added * (n_steps - 1)
    bar = progress_bar(progress, max_rounds + 1, "enrichment rounds", initial=first)
    for round_ in range(first, max_rounds + 1):
        start = time.perf_counter()
        law = EnergyLaw(clone(template).fit(strain, stress), strain, max_angle=max_angle)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        fe = problem(law)
        solve_seconds = time.perf_counter() - start
        eps = step_strains(fe).reshape(-1, 3)
        outside = law.outside(eps)
        points = np.unique(np.nonzero(outside.reshape(-1, len(fe.points)))[1])
        for key, value in zip(_ROUND_LISTS, (law, fe, len(points), len(strain), evaluations, data_seconds,
                                             fit_seconds, solve_seconds)):
            getattr(out, key).append(value)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(outside=len(points))
        if not len(points) or round_ == max_rounds:
            break
        strain, stress, added, data_seconds = enriched(strain, stress, eps, outside)
        evaluations += added * (n_steps - 1)
    if bar is not None:
        bar.close()
    out.strain, out.stress = strain, stress
    return out


_ROUND_LISTS = ("laws", "results", "n_outside", "n_paths", "rve_evaluations", "data_seconds", "fit_seconds",
                "solve_seconds")


#: Estimator parameters that say how a fit runs, not what it computes.
_RUN_TIME_SETTINGS = ("device", "cpu_threads", "progress")


def _model_text(model):
    """The estimator's class and parameters but ``device``, ``cpu_threads`` and ``progress`` (which may change on a
    continuation, and are left out of the text so that runs made before an estimator had one continue)."""
    params = getattr(model, "get_params", lambda deep=False: {})(deep=False)
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()) if k not in _RUN_TIME_SETTINGS)
    return f"{type(model).__name__}({shown})"


def _cover(ends, max_angle, max_new):
    """A few of the strains ``ends`` ``(n, 3)`` whose cones cover all of them: largest first, greedy."""
    remaining, chosen = ends[np.argsort(-np.linalg.norm(ends, axis=1))], []
    while len(remaining) and (max_new is None or len(chosen) < max_new):
        chosen.append(remaining[0])
        remaining = remaining[_uncovered(remaining, remaining[:1], max_angle)]
    return np.array(chosen).reshape(-1, 3)
