"""FFT homogenization of periodic microstructures and analytic references (``bounds``).

``conductivity`` / ``elasticity`` take phase-label images; ``conductivity_field`` /
``elasticity_field`` take per-voxel property fields and are differentiable (adjoint gradient).
``plasticity`` is the nonlinear (J2 elasto-plastic) cell problem along a macroscopic strain history.
``tensors`` holds Mandel notation helpers, ``bounds`` the closed-form references.
"""
from . import bounds, tensors
from .plasticity import PlasticityResult, plasticity
from .solver import (
    ConvergenceWarning,
    HomogenizationResult,
    add_interphase,
    conductivity,
    conductivity_field,
    elasticity,
    elasticity_field,
)

__all__ = [
    "bounds",
    "tensors",
    "ConvergenceWarning",
    "HomogenizationResult",
    "add_interphase",
    "conductivity",
    "conductivity_field",
    "elasticity",
    "elasticity_field",
    "PlasticityResult",
    "plasticity",
]
