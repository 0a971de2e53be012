"""Optimization and inverse design (book part 5): design *with* the physics and the surrogates.

* :func:`topology_optimization` — SIMP compliance minimization of the MBB beam (the 88-line code of
  Andreassen et al. 2011), with an optional differentiable material law, e.g. a trained surrogate of
  a microstructure family (multiscale topology optimization).
* :func:`bayesian_optimization` — a Gaussian process and expected improvement over a few parameters,
  the solver (or any expensive function) in the loop; :func:`random_search` is its baseline, and
  :func:`branin`, :func:`hartmann3` the standard test functions with known minima.
* :func:`inverse_homogenization` — inverse homogenization (Sigmund 1994): a periodic solid–void unit
  cell with maximal bulk or shear modulus or a negative Poisson's ratio, designed through the
  differentiable FFT solver (filter, Heaviside projection, SIMP, MMA) and verified by re-homogenizing
  the thresholded 0/1 design.
* :func:`evolutionary_optimization` — a genetic algorithm (pymoo's GA) or, for several objectives,
  NSGA-II and its Pareto front; :func:`pareto_front`, :func:`hypervolume` and the ZDT1 test problem
  (:func:`zdt1`) to measure it.
* :class:`TandemInverseDesign` — inverse design by a tandem network (an inverse network trained
  through a frozen forward one), with :class:`DirectInverseDesign` (naive inverse regression) as its
  baseline and :func:`inverse_design_scores` to compare them; validated on the spinodoid data of
  Kumar et al. (2020), :func:`mslearn.datasets.spinodoid_metamaterials`.

Every design is meant to end in the solver: regenerate the microstructure, homogenize it with
:mod:`mslearn.homogenization`, and compare the surrogate's promise with the solver's verdict.
"""
from .bayesian import (BRANIN_BOUNDS, BRANIN_MINIMUM, HARTMANN3_BOUNDS, HARTMANN3_MINIMUM,
                       BayesianOptimizationResult, bayesian_optimization, branin, expected_improvement,
                       hartmann3, probability_of_improvement, random_search)
from .evolutionary import (ZDT1_BOUNDS, ZDT1_HYPERVOLUME, EvolutionaryResult, evolutionary_optimization,
                           hypervolume, pareto_front, zdt1)
from .inverse import InverseHomogenizationResult, inverse_homogenization
from .tandem import (DirectInverseDesign, ExtrapolationWarning, InverseDesignScores, TandemInverseDesign,
                     inverse_design_scores)
from .topology import TopologyResult, beam_compliance, topology_optimization

__all__ = ["topology_optimization", "TopologyResult", "beam_compliance", "bayesian_optimization", "BayesianOptimizationResult",
           "random_search", "expected_improvement", "probability_of_improvement", "branin", "hartmann3",
           "BRANIN_BOUNDS", "BRANIN_MINIMUM", "HARTMANN3_BOUNDS", "HARTMANN3_MINIMUM",
           "inverse_homogenization", "InverseHomogenizationResult",
           "evolutionary_optimization", "EvolutionaryResult", "pareto_front", "hypervolume", "zdt1",
           "ZDT1_BOUNDS", "ZDT1_HYPERVOLUME",
           "TandemInverseDesign", "DirectInverseDesign", "InverseDesignScores", "inverse_design_scores",
           "ExtrapolationWarning"]

# The test problems' constants are documented here, where the API reference (automodule of this
# package) looks for ``#:`` comments; their definitions and fuller notes are in the submodules.
#: The standard domain of :func:`branin`, :math:`x_1 \in [-5, 10]` and :math:`x_2 \in [0, 15]`.
BRANIN_BOUNDS = BRANIN_BOUNDS
#: The global minimum of :func:`branin` on :data:`BRANIN_BOUNDS`, :math:`0.397887`.
BRANIN_MINIMUM = BRANIN_MINIMUM
#: The standard domain of :func:`hartmann3`, the unit cube :math:`[0, 1]^3`.
HARTMANN3_BOUNDS = HARTMANN3_BOUNDS
#: The global minimum of :func:`hartmann3` on :data:`HARTMANN3_BOUNDS`, :math:`-3.86278`.
HARTMANN3_MINIMUM = HARTMANN3_MINIMUM
#: The box of the 30-variable ZDT1 problem of :func:`zdt1`, every input in ``[0, 1]`` (an array (30, 2)).
#:
#: :meta hide-value:
ZDT1_BOUNDS = ZDT1_BOUNDS
#: The hypervolume of ZDT1's exact Pareto front w.r.t. the reference point ``(1.1, 1.1)``, 0.8767.
ZDT1_HYPERVOLUME = ZDT1_HYPERVOLUME
