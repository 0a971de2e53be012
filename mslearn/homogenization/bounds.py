"""Analytic bounds and effective-medium estimates of effective properties.

These closed-form results are the references against which the FFT solver is validated and the
baselines the surrogates are compared with. Notation: phase volume fractions ``phi``, phase
conductivities ``k``, bulk and shear moduli ``K``, ``G``; in the two-phase functions phase 1 is the
matrix (or first phase) and ``phi`` is the volume fraction of phase 2 (the inclusions), as in
:func:`hamilton_crosser`. All functions are vectorized: arguments broadcast against each other.

References: Hashin & Shtrikman, J. Appl. Phys. 33, 3125 (1962) and J. Mech. Phys. Solids 11, 127
(1963); Walpole, J. Mech. Phys. Solids 14, 151 (1966); Torquato, *Random Heterogeneous Materials*
(2002), ch. 16 and 21; Milton, *The Theory of Composites* (2002), ch. 9 (laminates) and 23.
"""
from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from .._validation import check_finite, check_in_range, check_integer, check_positive

__all__ = [
    "voigt",
    "reuss",
    "hashin_shtrikman_conductivity",
    "hashin_shtrikman_bulk",
    "hashin_shtrikman_shear",
    "maxwell_garnett",
    "coated_maxwell_garnett",
    "hamilton_crosser",
    "dilute_eshelby_spheres",
    "keller_dykhne",
    "laminate_conductivity",
    "laminate_stiffness",
]


def _renamed(**renamed):
    """Keep the former keyword spellings of renamed arguments working (``old="new"`` pairs): ``old=`` warns
    (a ``FutureWarning`` naming the new name) and is passed on as ``new=``; both given, a ``ValueError``. The
    signature shown (``inspect.signature``, the API reference) is the function's own, with the new names."""
    def decorate(function):
        positions = list(inspect.signature(function).parameters)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in renamed.items():
                if old not in kwargs:
                    continue
                warnings.warn(f"{function.__name__}({old}=...) is deprecated and will be removed; pass {new}=",
                              FutureWarning, stacklevel=2)
                value = kwargs.pop(old)
                if new in kwargs or positions.index(new) < len(args):
                    given = kwargs[new] if new in kwargs else args[positions.index(new)]
                    raise ValueError(f"{old}={value!r} and {new}={given!r} both give {new}; pass {new} alone ({old} "
                                     "is its deprecated name)")
                kwargs[new] = value
            return function(*args, **kwargs)
        return wrapper
    return decorate


def _fractions(fractions, n=None):
    fractions = np.asarray(fractions, dtype=float)
    check_in_range(fractions, 0.0, 1.0, name="fractions")
    if not np.allclose(fractions.sum(-1), 1.0, atol=1e-8):
        raise ValueError(f"fractions sum to {fractions.sum(-1)}; expected volume fractions summing to 1")
    if n is not None and fractions.shape[-1] != n:
        raise ValueError(f"fractions has {fractions.shape[-1]} entries but {n} phase values were given")
    return fractions


def _values(values, name="values"):
    """Phase properties: ``(n,)`` scalars >= 0 or ``(n, m, m)`` symmetric positive semi-definite matrices."""
    values = np.asarray(values, dtype=float)
    check_finite(values, name=name)
    if values.ndim == 1:
        check_positive(values, name=name, strict=False)
    elif values.ndim == 3 and values.shape[1] == values.shape[2]:
        if not np.allclose(values, np.swapaxes(values, 1, 2), rtol=1e-10, atol=1e-12 * np.abs(values).max()):
            raise ValueError(f"{name} are not symmetric matrices; expected symmetric (n, m, m) property tensors")
        if (np.linalg.eigvalsh(values).min(-1) < -1e-12 * np.abs(values).max()).any():
            raise ValueError(f"{name} has a matrix with a negative eigenvalue; expected positive semi-definite tensors")
    else:
        raise ValueError(f"{name} has shape {values.shape}; expected (n,) scalars or (n, m, m) matrices")
    return values


def _check_ndim(ndim):
    """The dimension d of a formula: 2 or 3 (another value would give a number of no material)."""
    if ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r}; expected 2 or 3")
    check_integer(ndim, 2, name="ndim")     # 2.0 == 2, but would fail later as a shape


def _check_axis(axis, ndim):
    _check_ndim(ndim)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not 0 <= axis < ndim:
        raise ValueError(f"axis={axis!r}; expected the layer normal's axis 0 .. {ndim - 1}")


def voigt(fractions, values):
    r"""Voigt (arithmetic, upper) bound :math:`\langle M\rangle = \sum_i \phi_i M_i`.

    ``fractions`` has shape ``(..., n)``; ``values`` is ``(n,)`` scalars (conductivities, moduli) or
    ``(n, m, m)`` matrices (conductivity tensors, Mandel stiffness). Voigt (1889); Hill (1952).

    Examples
    --------
    >>> float(voigt([0.3, 0.7], [1.0, 10.0]))   # 0.3 * 1 + 0.7 * 10
    7.3
    >>> bool(voigt([0.3, 0.7], [1.0, 10.0]) >= reuss([0.3, 0.7], [1.0, 10.0]))
    True
    """
    values = _values(values)
    fractions = _fractions(fractions, values.shape[0])
    return np.tensordot(fractions, values, axes=([-1], [0]))


def reuss(fractions, values):
    r"""Reuss (harmonic, lower) bound :math:`\langle M^{-1}\rangle^{-1}` (see :func:`voigt`).

    Zero scalar values (pores) give 0 when their fraction is positive; matrices must be positive definite
    where their fraction is. Reuss (1929); Hill (1952).

    Examples
    --------
    >>> float(reuss([0.5, 0.5], [1.0, 3.0]))    # 1 / (0.5 / 1 + 0.5 / 3)
    1.5
    >>> float(reuss([0.2, 0.8], [0.0, 1.0]))    # a pore phase in series blocks everything
    0.0
    """
    values = _values(values)
    fractions = _fractions(fractions, values.shape[0])
    if values.ndim == 1:
        with np.errstate(divide="ignore"):
            inverse = np.where(values > 0, 1.0 / np.where(values > 0, values, 1.0), np.inf)
        total = np.sum(np.where(fractions > 0, fractions * inverse, 0.0), axis=-1)
        with np.errstate(divide="ignore"):
            return 1.0 / total
    present = (fractions.reshape(-1, values.shape[0]) > 0).any(0)     # a phase of fraction 0 adds nothing
    if (np.linalg.eigvalsh(values[present]).min(-1) <= 0).any():
        raise ValueError("values has a singular matrix of a phase present; the Reuss bound of matrices needs "
                         "positive definite ones")
    inverses = np.zeros_like(values)
    inverses[present] = np.linalg.inv(values[present])
    return np.linalg.inv(np.tensordot(fractions, inverses, axes=([-1], [0])))


def _hs(phi, a1, a2, shift):
    """``[ (1-phi)/(a1+shift) + phi/(a2+shift) ]^{-1} - shift`` with 0/0 terms of zero fraction dropped."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(phi < 1, (1 - phi) / (a1 + shift), 0.0)
        t2 = np.where(phi > 0, phi / (a2 + shift), 0.0)
        return 1.0 / (t1 + t2) - shift


def hashin_shtrikman_conductivity(phi, k1, k2, *, ndim=3):
    r"""Hashin–Shtrikman bounds on the conductivity of an isotropic two-phase composite.

    .. math::

        k_{HS}(k_0) = \Big[\frac{1-\phi}{k_1 + (d-1)k_0} + \frac{\phi}{k_2 + (d-1)k_0}\Big]^{-1} - (d-1)k_0,

    lower bound with :math:`k_0 = \min(k_1,k_2)`, upper with :math:`k_0 = \max(k_1,k_2)`;
    ``phi`` is the volume fraction of phase 2 and ``ndim`` the dimension d (2 or 3). Hashin & Shtrikman
    (1962); Torquato (2002) eq. (21.22). Returns ``(lower, upper)``.

    Examples
    --------
    >>> import numpy as np
    >>> lower, upper = hashin_shtrikman_conductivity(np.array([0.0, 0.3, 1.0]), 1.0, 10.0)
    >>> lower.round(4), upper.round(4)          # they meet at the pure phases
    (array([ 1.   ,  1.871, 10.   ]), array([ 1.    ,  3.0769, 10.    ]))
    >>> bool(reuss([0.7, 0.3], [1.0, 10.0]) <= lower[1] <= upper[1] <= voigt([0.7, 0.3], [1.0, 10.0]))
    True
    """
    phi = np.asarray(phi, dtype=float)
    check_in_range(phi, 0.0, 1.0, name="phi")
    k1, k2 = np.asarray(k1, dtype=float), np.asarray(k2, dtype=float)
    check_positive(k1, name="k1", strict=False)
    check_positive(k2, name="k2", strict=False)
    _check_ndim(ndim)
    low, high = np.minimum(k1, k2), np.maximum(k1, k2)
    return _hs(phi, k1, k2, (ndim - 1) * low), _hs(phi, k1, k2, (ndim - 1) * high)


def _moduli(phi, K1, G1, K2, G2, ndim, names=("K1", "G1", "K2", "G2")):
    phi = np.asarray(phi, dtype=float)
    check_in_range(phi, 0.0, 1.0, name="phi")
    out = [np.asarray(x, dtype=float) for x in (K1, G1, K2, G2)]
    for value, name in zip(out, names):
        check_positive(value, name=name, strict=False)
    _check_ndim(ndim)
    return (phi, *out)


def hashin_shtrikman_bulk(phi, K1, G1, K2, G2, *, ndim=3):
    r"""Hashin–Shtrikman(–Walpole) bounds on the bulk modulus of an isotropic two-phase composite.

    .. math::

        K_{HS}(G_0) = \Big[\frac{1-\phi}{K_1 + \tfrac{2(d-1)}{d}G_0}
        + \frac{\phi}{K_2 + \tfrac{2(d-1)}{d}G_0}\Big]^{-1} - \tfrac{2(d-1)}{d}G_0,

    lower with :math:`G_0 = \min G_i`, upper with :math:`G_0 = \max G_i` (for 3D the shift is
    :math:`4G_0/3`). In 2D the moduli are the plane-strain (area) bulk modulus
    :math:`\kappa = \lambda+\mu` and the shear modulus (Hashin 1965). Hashin & Shtrikman (1963);
    Walpole (1966); Torquato (2002) eqs. (21.37)–(21.38).

    Parameters
    ----------
    phi : float or array_like
        Volume fraction of phase 2, in [0, 1].
    K1, G1, K2, G2 : float or array_like
        Bulk and shear moduli of phases 1 and 2 (>= 0; broadcast with ``phi``).
    ndim : {2, 3}, default 3

    Returns
    -------
    lower, upper : float or ndarray
        The bounds, of the broadcast shape of the arguments.

    Examples
    --------
    >>> import numpy as np
    >>> lower, upper = hashin_shtrikman_bulk(np.array([0.0, 0.3, 1.0]), 10.0, 5.0, 50.0, 30.0)
    >>> lower.round(4), upper.round(4)
    (array([10.    , 14.4776, 50.    ]), array([10.    , 17.6923, 50.    ]))
    >>> [round(float(b), 4) for b in hashin_shtrikman_bulk(0.3, 10.0, 5.0, 50.0, 5.0)]  # equal G: exact (Hill)
    [14.4776, 14.4776]
    """
    phi, K1, G1, K2, G2 = _moduli(phi, K1, G1, K2, G2, ndim)
    c = 2.0 * (ndim - 1) / ndim
    return _hs(phi, K1, K2, c * np.minimum(G1, G2)), _hs(phi, K1, K2, c * np.maximum(G1, G2))


def hashin_shtrikman_shear(phi, K1, G1, K2, G2, *, ndim=3):
    r"""Hashin–Shtrikman(–Walpole) bounds on the shear modulus of an isotropic two-phase composite.

    .. math::

        G_{HS}(K_0, G_0) = \Big[\frac{1-\phi}{G_1 + H_0} + \frac{\phi}{G_2 + H_0}\Big]^{-1} - H_0,\qquad
        H_0 = G_0\,\frac{d K_0/2 + (d+1)(d-2)G_0/d}{K_0 + 2G_0},

    lower with :math:`(K_0, G_0) = (\min K_i, \min G_i)`, upper with the maxima. In 3D
    :math:`H_0 = G_0(9K_0+8G_0)/(6(K_0+2G_0))`. Hashin & Shtrikman (1963); Walpole (1966);
    Torquato (2002) eqs. (21.39)–(21.41).

    Parameters
    ----------
    phi, K1, G1, K2, G2, ndim
        As in :func:`hashin_shtrikman_bulk`.

    Returns
    -------
    lower, upper : float or ndarray
        The bounds, of the broadcast shape of the arguments.

    Examples
    --------
    >>> lower, upper = hashin_shtrikman_shear(0.3, 10.0, 5.0, 50.0, 30.0)
    >>> round(float(lower), 4), round(float(upper), 4)
    (7.7985, 10.0633)
    >>> bool(reuss([0.7, 0.3], [5.0, 30.0]) <= lower <= upper <= voigt([0.7, 0.3], [5.0, 30.0]))
    True
    """
    phi, K1, G1, K2, G2 = _moduli(phi, K1, G1, K2, G2, ndim)

    def H(K0, G0):
        with np.errstate(divide="ignore", invalid="ignore"):
            h = G0 * (ndim * K0 / 2 + (ndim + 1) * (ndim - 2) * G0 / ndim) / (K0 + 2 * G0)
        return np.where(G0 > 0, h, 0.0)

    lower = _hs(phi, G1, G2, H(np.minimum(K1, K2), np.minimum(G1, G2)))
    upper = _hs(phi, G1, G2, H(np.maximum(K1, K2), np.maximum(G1, G2)))
    return lower, upper


@_renamed(k_m="k_matrix", k_p="k_particle")
def maxwell_garnett(phi, k_matrix, k_particle, *, ndim=3):
    r"""Maxwell Garnett (Clausius–Mossotti) conductivity of inclusions in a matrix.

    .. math::

        k^* = k_m\,\frac{k_p + (d-1)k_m + (d-1)\phi(k_p - k_m)}{k_p + (d-1)k_m - \phi(k_p - k_m)},

    i.e. the Hashin–Shtrikman expression with the matrix as reference (the lower bound when
    :math:`k_p > k_m`, the upper when :math:`k_p < k_m`); exact to first order in ``phi`` for
    dilute spheres (d=3) or disks (d=2). Maxwell (1873); Torquato (2002) eq. (18.9).

    Parameters
    ----------
    phi : float or array_like
        Volume fraction of the inclusions, in [0, 1].
    k_matrix, k_particle : float or array_like
        Conductivities :math:`k_m > 0` of the matrix and :math:`k_p \ge 0` of the inclusions (the names of
        :func:`hamilton_crosser` and :func:`coated_maxwell_garnett`). The former names ``k_m=`` and
        ``k_p=`` still work, with a ``FutureWarning``.
    ndim : {2, 3}, default 3
        Disks (2) or spheres (3).

    Returns
    -------
    float or ndarray
        The effective conductivity :math:`k^*`, of the broadcast shape of the arguments.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(maxwell_garnett(0.2, 1.0, 10.0)), 4)
    1.5294
    >>> bool(np.isclose(maxwell_garnett(0.2, 1.0, 10.0), hashin_shtrikman_conductivity(0.2, 1.0, 10.0)[0]))
    True
    """
    phi = np.asarray(phi, dtype=float)
    check_in_range(phi, 0.0, 1.0, name="phi")
    k_matrix, k_particle = np.asarray(k_matrix, dtype=float), np.asarray(k_particle, dtype=float)
    check_positive(k_matrix, name="k_matrix")
    check_positive(k_particle, name="k_particle", strict=False)
    _check_ndim(ndim)
    return _hs(phi, k_matrix, k_particle, (ndim - 1) * k_matrix)


def coated_maxwell_garnett(particle_fraction, interphase_fraction, k_particle, k_interphase, k_matrix=1.0, *,
                           ndim=2):
    r"""Mean-field conductivity of coated particles in a matrix (Maxwell Garnett of composite particles).

    Each coated particle is replaced by the homogeneous particle that is exactly equivalent for a
    coated disk (d=2) or sphere (d=3): Maxwell Garnett with the coating as matrix and the core
    fraction :math:`c = \phi_p/(\phi_p + \phi_i)` (Hashin's composite cylinder/sphere); these
    particles, of fraction :math:`\phi_p + \phi_i`, then enter Maxwell Garnett in the matrix:

    .. math::

        k_c = k^{\mathrm{MG}}(c;\, k_i, k_p), \qquad k^* \approx k^{\mathrm{MG}}(\phi_p + \phi_i;\, k_m, k_c).

    It ignores particle shape and interactions: the physical baseline whose error a surrogate learns
    in the chapter on :func:`mslearn.datasets.particle_composites`. Hashin, J. Appl. Mech. 29, 143 (1962).

    Parameters
    ----------
    particle_fraction, interphase_fraction : float or array_like
        Area (volume) fractions :math:`\phi_p` of the particle cores and :math:`\phi_i` of their
        coating; :math:`\phi_p + \phi_i \le 1`.
    k_particle, k_interphase : float or array_like
        Conductivities of the cores and of the coating.
    k_matrix : float or array_like, default 1.0
    ndim : {2, 3}, default 2
        Coated disks (2) or spheres (3).

    Returns
    -------
    float or ndarray
        The effective conductivity :math:`k^*`, of the broadcast shape of the arguments.

    Examples
    --------
    A coating as conductive as the matrix is just more matrix: plain Maxwell Garnett of the cores.

    >>> k = coated_maxwell_garnett(0.2, 0.1, k_particle=10.0, k_interphase=1.0, k_matrix=1.0)
    >>> round(float(k), 4), round(float(maxwell_garnett(0.2, 1.0, 10.0, ndim=2)), 4)
    (1.3913, 1.3913)
    """
    _check_ndim(ndim)
    particle_fraction = np.asarray(particle_fraction, dtype=float)
    interphase_fraction = np.asarray(interphase_fraction, dtype=float)
    check_in_range(particle_fraction, 0.0, 1.0, name="particle_fraction")
    check_in_range(interphase_fraction, 0.0, 1.0, name="interphase_fraction")   # a negative one gave "phi = 2"
    coated = particle_fraction + interphase_fraction
    check_in_range(coated, 0.0, 1.0, name="particle_fraction + interphase_fraction")
    for value, name in ((k_matrix, "k_matrix"), (k_interphase, "k_interphase"), (k_particle, "k_particle")):
        check_positive(value, name=name, strict=False)
    core = np.divide(particle_fraction, coated, out=np.ones_like(coated), where=coated > 0)
    k_coated = maxwell_garnett(core, k_interphase, k_particle, ndim=ndim)
    return maxwell_garnett(coated, k_matrix, k_coated, ndim=ndim)


def hamilton_crosser(phi, k_matrix, k_particle, n=3.0):
    r"""Hamilton–Crosser effective conductivity of particles of shape factor ``n`` in a matrix.

    .. math::

        k^* = k_m \, \frac{k_p + (n-1) k_m - (n-1)\,\phi\,(k_m - k_p)}{k_p + (n-1) k_m + \phi\,(k_m - k_p)}

    with particle volume fraction :math:`\phi` and empirical shape factor :math:`n = 3/\psi`
    (sphericity :math:`\psi`; ``n = 3`` for spheres, where the formula is Maxwell–Garnett and equals
    the Hashin–Shtrikman bound on the matrix side). Hamilton & Crosser, Ind. Eng. Chem. Fundam. 1,
    187 (1962).

    All arguments broadcast against each other (numpy arrays or scalars).

    Examples
    --------
    >>> round(float(hamilton_crosser(0.2, 1.0, 10.0)), 4)   # n = 3: Maxwell Garnett
    1.5294
    >>> round(float(hamilton_crosser(0.2, 1.0, 10.0, n=6.0)), 4)   # less spherical, conducts better
    1.8182
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


@_renamed(K_m="K_matrix", G_m="G_matrix", K_p="K_particle", G_p="G_particle")
def dilute_eshelby_spheres(phi, K_matrix, G_matrix, K_particle, G_particle):
    r"""Dilute (first order in ``phi``) bulk and shear moduli of spheres in a matrix (Eshelby 1957).

    .. math::

        K^* = K_m + \phi\,(K_p-K_m)\frac{3K_m+4G_m}{3K_p+4G_m},\qquad
        G^* = G_m + \phi\,(G_p-G_m)\frac{G_m+\zeta_m}{G_p+\zeta_m},\quad
        \zeta_m = \frac{G_m(9K_m+8G_m)}{6(K_m+2G_m)}.

    Eshelby, Proc. R. Soc. A 241, 376 (1957); Torquato (2002) eqs. (17.37)–(17.38).

    Parameters
    ----------
    phi : float or array_like
        Volume fraction of the spheres, in [0, 1] (the result is first order in it).
    K_matrix, G_matrix, K_particle, G_particle : float or array_like
        Bulk and shear moduli :math:`K_m, G_m` of the matrix and :math:`K_p, G_p` of the spheres, >= 0.
        The former names ``K_m=``, ``G_m=``, ``K_p=`` and ``G_p=`` still work, with a ``FutureWarning``.

    Returns
    -------
    tuple of (float or ndarray)
        ``(K, G)``: the effective bulk and shear moduli, of the broadcast shape of the arguments.

    Examples
    --------
    At 1 % of stiff spheres the dilute result agrees with the lower Hashin–Shtrikman bounds to O(phi^2):

    >>> K, G = dilute_eshelby_spheres(0.01, 10.0, 5.0, 50.0, 30.0)
    >>> round(float(K), 3), round(float(G), 3)
    (10.118, 5.074)
    >>> round(float(hashin_shtrikman_bulk(0.01, 10.0, 5.0, 50.0, 30.0)[0]), 3)
    10.118
    """
    phi, K_m, G_m, K_p, G_p = _moduli(phi, K_matrix, G_matrix, K_particle, G_particle, 3,
                                      names=("K_matrix", "G_matrix", "K_particle", "G_particle"))
    zeta = G_m * (9 * K_m + 8 * G_m) / (6 * (K_m + 2 * G_m))
    K = K_m + phi * (K_p - K_m) * (3 * K_m + 4 * G_m) / (3 * K_p + 4 * G_m)
    G = G_m + phi * (G_p - G_m) * (G_m + zeta) / (G_p + zeta)
    return K, G


def keller_dykhne(k1, k2):
    r"""Exact conductivity of the 2D checkerboard (and any 2D phase-interchange-symmetric medium).

    :math:`k^* = \sqrt{k_1 k_2}` (Keller 1964; Dykhne 1971; Milton 2002 §3.3).

    Examples
    --------
    >>> float(keller_dykhne(2.0, 8.0))
    4.0
    >>> lower, upper = hashin_shtrikman_conductivity(0.5, 2.0, 8.0, ndim=2)
    >>> bool(lower <= keller_dykhne(2.0, 8.0) <= upper)
    True
    """
    k1, k2 = np.asarray(k1, dtype=float), np.asarray(k2, dtype=float)
    check_positive(k1, name="k1", strict=False)
    check_positive(k2, name="k2", strict=False)
    return np.sqrt(k1 * k2)


def _laminate(fractions, mats, normal, name):
    r"""Exact effective matrix of a laminate of layers with symmetric matrices ``mats`` (n, m, m).

    ``normal`` lists the components whose *flux* is continuous across the layers (the others have
    continuous *gradient*). With N the normal and T the tangential index sets (Milton 2002 §9.2):
    :math:`M^*_{NN} = \langle M_{NN}^{-1}\rangle^{-1}`,
    :math:`M^*_{NT} = M^*_{NN}\langle M_{NN}^{-1}M_{NT}\rangle`,
    :math:`M^*_{TT} = \langle M_{TT} - M_{TN}M_{NN}^{-1}M_{NT}\rangle
    + \langle M_{TN}M_{NN}^{-1}\rangle M^*_{NN}\langle M_{NN}^{-1}M_{NT}\rangle`.

    A layer whose :math:`M_{NN}` is singular (a void; a fluid, which has no shear stiffness; a layer that
    conducts only in its plane) is the limit of the formula: no flux crosses it along the kernel
    :math:`K_i` of its :math:`M_{NN}` (semi-definiteness puts :math:`K_i` in the kernel of
    :math:`M_{TN}` too), so the common normal flux lies in :math:`S`, the orthogonal complement of the
    kernels of the layers present, while the normal gradient is free along them. The formula then holds
    with the pseudo-inverses :math:`M_{NN}^{+}` and :math:`M^*_{NN} = (P_S\langle M_{NN}^{+}\rangle
    P_S)^{+}`, zero off :math:`S` (a void layer: :math:`S = \{0\}`, the layers carry the tangential load
    side by side). Derived by minimizing the layers' energy at a given mean gradient; tested against layers
    of vanishing stiffness. Eigenvalues of :math:`M_{NN}` within 1e-12 of the largest entry count as zero
    (the rounding :func:`_values` allows a semi-definite matrix), which moves a definite layer's result by
    at most about 1e-6 of the largest entry; and a blocking layer blocks at any positive fraction, however
    small (the exact limit: a fraction of 1e-17 left over from ``1 - x - y`` is one).
    """
    m = mats.shape[-1]
    N = list(normal)
    T = [i for i in range(m) if i not in N]
    MNN, MNT, MTN, MTT = (mats[:, a][:, :, b] for a, b in ((N, N), (N, T), (T, N), (T, T)))
    # M_NN^+ by eigenvalues: those within the rounding _values allows a semi-definite matrix are its kernel
    values, vectors = np.linalg.eigh(MNN)
    kernel = values <= 1e-12 * np.abs(mats).max()
    invNN = (vectors * np.where(kernel, 0.0, 1.0 / np.where(kernel, 1.0, values))[:, None, :]) \
        @ np.swapaxes(vectors, -1, -2)
    # S: where the sum of the present layers' kernel projectors vanishes. Two kernels at an angle t add
    # 1 - cos t ~ t^2 / 2 there: kernels within about 1e-6 rad (1e-12, the sum's rounding being 1e-16) are
    # one direction, as far as rounding tells them apart
    kernels = np.einsum("...i,iab->...ab", (fractions > 0).astype(float),
                        (vectors * kernel[:, None, :]) @ np.swapaxes(vectors, -1, -2))
    values, vectors = np.linalg.eigh(kernels)
    PS = (vectors * (values <= 1e-12)[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    f = fractions[..., :, None, None]
    meanNN = PS @ np.sum(f * invNN, axis=-3) @ PS
    # (P_S <M_NN^+> P_S)^+: inverted with a stand-in of the mean's scale off S, which P_S then takes away
    scale = np.trace(meanNN, axis1=-2, axis2=-1)[..., None, None]
    starNN = PS @ np.linalg.inv(meanNN + (np.eye(len(N)) - PS) * np.where(scale > 0, scale, 1.0)) @ PS
    A = np.sum(f * invNN @ MNT, axis=-3)
    B = np.sum(f * MTN @ invNN, axis=-3)
    starNT = starNN @ A
    starTT = np.sum(f * (MTT - MTN @ invNN @ MNT), axis=-3) + B @ starNN @ A
    out = np.zeros(fractions.shape[:-1] + (m, m))
    ix = np.ix_(N, N), np.ix_(N, T), np.ix_(T, N), np.ix_(T, T)
    for (rows, cols), block in zip(ix, (starNN, starNT, np.swapaxes(starNT, -1, -2), starTT)):
        out[..., rows, cols] = block
    return out


def laminate_conductivity(fractions, conductivities, *, axis=0, ndim=3):
    r"""Exact conductivity tensor of a laminate with layer normal along ``axis``.

    For isotropic layers: series (harmonic) mean :math:`\langle k^{-1}\rangle^{-1}` along the normal,
    parallel (arithmetic) mean :math:`\langle k\rangle` in the layer plane; anisotropic layers
    (``conductivities`` of shape ``(n, d, d)``) use the general laminate formula (Milton 2002 §9.2).
    A layer of conductivity 0 (pores) is the formula's limit: nothing crosses it (:math:`k^*_{nn} = 0`) and
    the in-plane mean is :math:`\langle k\rangle`. ``fractions`` has shape ``(..., n)``. Returns ``(..., d, d)``.

    Examples
    --------
    Series mean across the layers (axis 0), parallel mean along them:

    >>> laminate_conductivity([0.5, 0.5], [1.0, 3.0]).round(4)
    array([[1.5, 0. , 0. ],
           [0. , 2. , 0. ],
           [0. , 0. , 2. ]])
    """
    _check_axis(axis, ndim)
    k = _values(conductivities, "conductivities")
    fractions = _fractions(fractions, k.shape[0])
    if k.ndim == 1:                  # (a zero is a void layer)
        k = k[:, None, None] * np.eye(ndim)
    if k.shape[1:] != (ndim, ndim):
        raise ValueError(f"conductivities have shape {k.shape}; expected (n,) or (n, {ndim}, {ndim})")
    return _laminate(fractions, k, [axis], "conductivities")


def laminate_stiffness(fractions, stiffnesses, *, axis=0, ndim=3):
    r"""Exact Mandel stiffness of a laminate with layer normal along ``axis`` (Backus 1962).

    Traction :math:`\sigma\,n` and the in-plane strain are continuous across the layers; the
    normal-strain components :math:`\varepsilon_{nn}, \varepsilon_{nt}` jump. ``stiffnesses`` is a
    list of phases given as ``{"E", "nu"}`` / ``{"K", "G"}`` dicts, ``(E, nu)`` tuples or Mandel
    matrices (3×3 plane strain for ``ndim=2``, 6×6 for ``ndim=3``); see ``_laminate``. A void layer
    (``E = 0``, a zero matrix) is the formula's limit: the normal and normal-shear stiffness vanish, the
    solid layers carry the in-plane strain side by side. So is a fluid layer (``{"K": K, "G": 0}``): it
    carries no shear across the layers (the normal-shear stiffness vanishes), and the normal stiffness is
    the series mean of the layers' :math:`\lambda + 2\mu` (:math:`K` for the fluid). Any layer whose normal
    block is singular is the limit of layers stiffening there from zero.
    Backus, J. Geophys. Res. 67, 4427 (1962); Milton (2002) §9.2. Returns ``(..., m, m)``.

    Examples
    --------
    The normal stiffness ``C*[0, 0]`` is the series (Reuss) mean of the layers' P-wave moduli lambda + 2 mu:

    >>> from mslearn.homogenization.tensors import isotropic_stiffness
    >>> C = laminate_stiffness([0.5, 0.5], [(1.0, 0.25), (3.0, 0.25)], ndim=2)
    >>> C.round(4)
    array([[1.8   , 0.6   , 0.    ],
           [0.6   , 2.3333, 0.    ],
           [0.    , 0.    , 1.2   ]])
    >>> M = [isotropic_stiffness(E, 0.25, ndim=2)[0, 0] for E in (1.0, 3.0)]
    >>> round(float(reuss([0.5, 0.5], M)), 4)
    1.8
    """
    from .tensors import isotropic_stiffness, mandel_pairs

    _check_axis(axis, ndim)
    mats = []
    for phase in stiffnesses:
        if isinstance(phase, dict):
            mats.append(isotropic_stiffness(ndim=ndim, **phase))
        elif isinstance(phase, tuple) and len(phase) == 2:
            mats.append(isotropic_stiffness(*phase, ndim=ndim))
        else:
            mats.append(np.asarray(phase, dtype=float))
    m = 3 if ndim == 2 else 6
    shapes = sorted({tuple(a.shape[-2:]) for a in mats})
    if shapes != [(m, m)]:
        raise ValueError(f"stiffnesses are {' and '.join(map(str, shapes))} matrices; expected ({m}, {m}) Mandel "
                         f"stiffnesses for ndim={ndim} (or (E, nu) tuples / dicts)")
    mats = _values(np.stack(mats), "stiffnesses")
    fractions = _fractions(fractions, mats.shape[0])
    normal = [I for I, (i, j) in enumerate(mandel_pairs(ndim)) if axis in (i, j)]
    return _laminate(fractions, mats, normal, "stiffnesses")
