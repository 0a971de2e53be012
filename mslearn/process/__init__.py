"""Processing models: how processing makes microstructure, and the process maps learned from them.

==============  =======================================================================================
phase_field     :func:`cahn_hilliard` (stabilized semi-implicit spectral, 2D/3D, batched) and
                :func:`structure_factor`
grain_growth    :func:`grain_growth`, Potts Monte Carlo grain growth (2D/3D, batched) from
                :func:`initial_grains`; :func:`growth_law` and :func:`von_neumann_mullins` analysis
structure_map   :class:`ProcessStructureMap`: process parameters → two-point statistics (PCA scores),
                volume fraction and length (Gaussian processes), and structures reconstructed from
                the predicted statistics (the learned process → structure map)
melt_pool       :func:`rosenthal_temperature` and :func:`rosenthal_melt_pool`, the exact moving point
                source on a half-space (half-width, depth, length, cooling rate)
process_map     :func:`lpbf_track` (a laser powder-bed fusion track: melt pool and process region,
                lack of fusion / conduction / keyhole) and :func:`learn_process_map` (Gaussian-process
                active learning of a process map)
==============  =======================================================================================
"""
from .grain_growth import (GrainGrowthResult, GrainTopology, GrowthLaw, VonNeumannMullins, grain_growth,
                           grain_topology, growth_law, initial_grains, von_neumann_mullins)
from .melt_pool import MeltPool, rosenthal_melt_pool, rosenthal_temperature
from .phase_field import CahnHilliardResult, StructureFactor, cahn_hilliard, structure_factor
from .structure_map import ProcessStructureMap
from .process_map import (LPBF_BOUNDS, PROCESS_REGIONS, SS316L, ActiveLearningResult, Alloy, LPBFTrack,
                          learn_process_map, lpbf_track)

__all__ = [
    "cahn_hilliard",
    "CahnHilliardResult",
    "structure_factor",
    "StructureFactor",
    "grain_growth",
    "GrainGrowthResult",
    "initial_grains",
    "grain_topology",
    "GrainTopology",
    "growth_law",
    "GrowthLaw",
    "von_neumann_mullins",
    "VonNeumannMullins",
    "ProcessStructureMap",
    "rosenthal_temperature",
    "rosenthal_melt_pool",
    "MeltPool",
    "Alloy",
    "SS316L",
    "LPBF_BOUNDS",
    "PROCESS_REGIONS",
    "LPBFTrack",
    "lpbf_track",
    "ActiveLearningResult",
    "learn_process_map",
]

# The constants are documented here, where the API reference (automodule of this package) looks for
# ``#:`` comments; their definitions and sources are in process_map.py.
#: 316L stainless steel (:class:`Alloy`), temperature-averaged round values from Mills (2002).
SS316L = SS316L
#: The (power [W], speed [m/s]) box of the book's LPBF process map, typical of LPBF machines.
LPBF_BOUNDS = LPBF_BOUNDS
#: The region names, indexed by the integer ``LPBFTrack.region`` (0, the printable conduction-mode window).
PROCESS_REGIONS = PROCESS_REGIONS
