"""Analytic bounds and effective-medium estimates of effective properties.

These closed-form results are the references against which the FFT solver is validated and the
baselines the surrogates are compared with. Notation: phase volume fractions ``phi``, phase
conductivities ``k``; the matrix is phase 0 and the inclusions phase 1 unless stated.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_in_range, check_positive

__all__ = ["hamilton_crosser"]


def hamilton_crosser(phi, k_matrix, k_particle, n=3.0):
    r"""Hamilton–Crosser effective conductivity of particles of shape factor ``n`` in a matrix.

    .. math::

        k^* = k_m \, \frac{k_p + (n-1) k_m - (n-1)\,\phi\,(k_m - k_p)}{k_p + (n-1) k_m + \phi\,(k_m - k_p)}

    with particle volume fraction :math:`\phi` and empirical shape factor :math:`n = 3/\psi`
    (sphericity :math:`\psi`; ``n = 3`` for spheres, where the formula is Maxwell–Garnett and equals
    the Hashin–Shtrikman bound on the matrix side). Hamilton & Crosser, Ind. Eng. Chem. Fundam. 1,
    187 (1962).

    All arguments broadcast against each other (numpy arrays or scalars).
    """
    phi = np.asarray(phi, dtype=float)
    k_matrix = np.asarray(k_matrix, dtype=float)
    k_particle = np.asarray(k_particle, dtype=float)
    n = np.asarray(n, dtype=float)
    check_in_range(phi, 0.0, 1.0, name="phi")
    check_positive(k_matrix, name="k_matrix")
    check_positive(k_particle, name="k_particle", strict=False)
    check_in_range(n, 1.0, np.inf, name="n")
    numerator = k_particle + (n - 1.0) * k_matrix - (n - 1.0) * phi * (k_matrix - k_particle)
    denominator = k_particle + (n - 1.0) * k_matrix + phi * (k_matrix - k_particle)
    return k_matrix * numerator / denominator
