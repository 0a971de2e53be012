"""Processing models: Cahn–Hilliard spinodal decomposition and the Rosenthal melt pool.

==============  =======================================================================================
phase_field     :func:`cahn_hilliard` (stabilized semi-implicit spectral, 2D/3D, batched) and
                :func:`structure_factor`
melt_pool       :func:`rosenthal_temperature` and :func:`rosenthal_melt_pool`, the exact moving point
                source on a half-space (half-width, depth, length, cooling rate)
==============  =======================================================================================
"""
from .melt_pool import MeltPool, rosenthal_melt_pool, rosenthal_temperature
from .phase_field import CahnHilliardResult, StructureFactor, cahn_hilliard, structure_factor

__all__ = [
    "cahn_hilliard",
    "CahnHilliardResult",
    "structure_factor",
    "StructureFactor",
    "rosenthal_temperature",
    "rosenthal_melt_pool",
    "MeltPool",
]
