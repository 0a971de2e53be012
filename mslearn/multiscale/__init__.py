r"""Concurrent two-scale simulation (FE²) and the macroscopic finite elements it runs on.

A macroscopic 2D small-strain finite element problem (:func:`solve`) whose material law at every
quadrature point is a callable ``strain -> (stress, tangent)`` on Mandel vectors ``(n_points, 3)``
(order :math:`(\varepsilon_{11}, \varepsilon_{22}, \sqrt2\varepsilon_{12})`, as in
:mod:`mslearn.homogenization`): a closed-form law (:class:`LinearElastic`, :class:`J2Plasticity`),
an FFT RVE per point (:class:`FFTElasticity`, :class:`FFTPlasticity`: FE², all points' RVEs one
batch) or a learned law (:class:`LearnedElasticity`, :class:`SurrogateLaw`, with fallback to the RVE
outside the training range; :class:`EnergyLaw`, a trained effective energy: FE-ANN, with
:func:`enrichment_loop` adding RVE data where the solution leaves the training range and
:func:`field_errors` to compare with FE²). Benchmarks with known answers: :func:`cooks_membrane`,
:func:`plate_with_hole`.

Why scikit-fem, and what is hand-written
----------------------------------------
scikit-fem (Gustafsson & McBain 2020) is pure Python on numpy/scipy (no compiled extension, no
mesh generator to install), and gives the meshes, Lagrange elements P1/P2/Q1/Q2, quadrature,
isoparametric mappings, sparse assembly of weak forms, boundary facets and point probes. Written here,
in a few lines each: the weak forms :math:`\int B^T\mathbb C B`, :math:`\int B^T\sigma` fed with
per-point tangents and stresses from any law, the Newton iteration with load stepping and the
residual test, the material laws and their state, the checks (inverted elements, rigid-body modes,
the law's outputs), the FE² coupling (the batched RVE call and the consistent macroscopic tangent)
and the benchmark meshes. Full-featured FE codes (FEniCS/dolfinx, MOOSE) need compiled installs and
would hide the FE² coupling this module exists to show.

Modules: ``fe`` (solver, laws), ``fe2`` (RVE laws), ``surrogate`` (learned laws),
``benchmarks``.
"""
from .benchmarks import CooksMembraneResult, PlateWithHoleResult, cooks_membrane, plate_with_hole
from .fe import FEResult, J2Plasticity, LinearElastic, elastic_stiffness, integration_points, solve
from .fe2 import FFTElasticity, FFTPlasticity
from .surrogate import (EnergyLaw, EnrichmentResult, FieldErrors, LearnedElasticity, SurrogateLaw, enrichment_loop,
                        field_errors, step_strains)

__all__ = [
    "solve",
    "FEResult",
    "integration_points",
    "elastic_stiffness",
    "LinearElastic",
    "J2Plasticity",
    "FFTElasticity",
    "FFTPlasticity",
    "LearnedElasticity",
    "SurrogateLaw",
    "EnergyLaw",
    "enrichment_loop",
    "EnrichmentResult",
    "field_errors",
    "FieldErrors",
    "step_strains",
    "cooks_membrane",
    "CooksMembraneResult",
    "plate_with_hole",
    "PlateWithHoleResult",
]
