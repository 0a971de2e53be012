r"""The Rosenthal moving point source: temperature field and melt-pool dimensions, exact.

A point source of absorbed power :math:`q` moves at speed :math:`v` along :math:`+x` over the
adiabatic surface of a semi-infinite body (conductivity :math:`k`, diffusivity :math:`\alpha =
k/\rho c`, far-field temperature :math:`T_0`). In the frame moving with the source, :math:`\xi = x -
vt`, :math:`R = \sqrt{\xi^2+y^2+z^2}`, the quasi-steady field is (Rosenthal 1946)

.. math:: T(\xi, y, z) = T_0 + \frac{q}{2\pi k R}\exp\Big(-\frac{v(\xi + R)}{2\alpha}\Big).

With lengths in units of :math:`2\alpha/v` (:math:`s = v\xi/2\alpha`, :math:`\rho = vR/2\alpha`) and the
dimensionless power :math:`n = qv/(4\pi k\alpha\,\Delta T)`, :math:`\Delta T = T_m - T_0`, the melt
boundary :math:`T = T_m` is :math:`e^{-(s+\rho)}/\rho = 1/n`, i.e. :math:`s = \ln(n/\rho) - \rho`.
Everything below follows in closed form or from one monotone scalar equation:

* rear (trailing) edge, on the axis behind the source: :math:`s + \rho = 0`, :math:`\rho = n`, i.e.
  :math:`R_{\rm rear} = q/(2\pi k\Delta T)` whatever the speed;
* front edge: :math:`s\,e^{2s} = n`, :math:`s = W(2n)/2` (Lambert :math:`W`); length = rear + front;
* half-width (= depth: the field depends on :math:`\sqrt{y^2+z^2}` only, so the pool cross-section is a
  half-disk): maximizing :math:`r^2 = \rho^2 - s^2` along the boundary gives :math:`\ln(n/\rho) =
  \rho/(1+\rho)` (one root in :math:`(n/e, n)`, found by bisection) and :math:`r = \rho\sqrt{1+2\rho}/(1+\rho)`;
  its limits are the hemisphere :math:`q/(2\pi k\Delta T)` (:math:`n \to 0`) and
  :math:`\sqrt{2q/(\pi e\,\rho c\, v\,\Delta T)}` (:math:`n \to \infty`);
* cooling rate where the trailing edge passes (a fixed material point, :math:`\dot T = -v\,\partial
  T/\partial\xi` on the axis): :math:`2\pi k v\,\Delta T^2/q`.

Reference: D. Rosenthal, Trans. ASME 68, 849 (1946); T. W. Eagar & N.-S. Tsai, Welding J. 62, 346s
(1983).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import lambertw

from .._validation import real_array

__all__ = ["rosenthal_temperature", "rosenthal_melt_pool", "MeltPool"]


@dataclass
class MeltPool:
    """Melt-pool dimensions of the Rosenthal point source, from :func:`rosenthal_melt_pool`.

    Arrays broadcast over the inputs (floats for scalar inputs); lengths in the units of ``k``'s
    length (SI: m), rates in K/s.

    Attributes
    ----------
    half_width : float or ndarray
        Largest distance of the melt boundary from the track axis on the surface (half the width).
    depth : float or ndarray
        Largest depth below the surface, equal to ``half_width`` for the point source.
    length : float or ndarray
        ``front + rear``, the extent along the track.
    front, rear : float or ndarray
        Distances of the leading and trailing edges from the source.
    cooling_rate : float or ndarray
        :math:`-dT/dt > 0` of a material point as the trailing edge passes it, :math:`2\\pi k v\\Delta T^2/q`.
    n : float or ndarray
        The dimensionless power :math:`qv/(4\\pi k\\alpha\\Delta T)` (small: hemisphere, large: elongated).
    """

    half_width: object
    depth: object
    length: object
    front: object
    rear: object
    cooling_rate: object
    n: object


def _material(k, alpha, rho_c):
    if (alpha is None) == (rho_c is None):
        raise ValueError("give exactly one of alpha (thermal diffusivity) and rho_c (volumetric heat capacity)")
    k = real_array(k, name="k")
    # the value given is checked, not alpha = k / rho_c (rho_c = 0 was reported as "rho_c = inf")
    given = ("alpha", real_array(alpha, name="alpha")) if rho_c is None else ("rho_c", real_array(rho_c, name="rho_c"))
    for name, value in (("k", k), given):
        if not np.all(np.isfinite(value)) or not np.all(value > 0):
            raise ValueError(f"{name} = {value}; expected finite values > 0")
    return k, (given[1] if rho_c is None else k / given[1])


def _positive(name, value):
    value = real_array(value, name=name)
    if not np.all(np.isfinite(value)) or not np.all(value > 0):
        raise ValueError(f"{name} = {value}; expected finite values > 0")
    return value


def _out(value):
    return float(value) if np.ndim(value) == 0 else value


def rosenthal_temperature(xi, y, z, q, v, *, k, alpha=None, rho_c=None, T0=293.15):
    r"""Temperature of the Rosenthal moving point source at points of the moving frame.

    :math:`T = T_0 + q/(2\pi kR)\,\exp(-v(\xi+R)/2\alpha)`, the source at the origin moving along
    :math:`+\xi`, :math:`z \ge 0` the depth below the surface.

    Parameters
    ----------
    xi, y, z : float or array
        Coordinates relative to the source (broadcast together); the source point itself is infinite.
    q : float or array
        Absorbed power (W), > 0.
    v : float or array
        Travel speed, > 0.
    k : float or array
        Thermal conductivity, > 0.
    alpha, rho_c : float or array
        Thermal diffusivity, or the volumetric heat capacity :math:`\rho c` (exactly one).
    T0 : float
        Far-field (preheat) temperature (default 293.15 K; any scale, K or °C: only differences enter).

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> from mslearn.process import rosenthal_temperature
    >>> round(rosenthal_temperature(-1e-3, 0.0, 0.0, 100.0, 1.0, k=20.0, alpha=5e-6, T0=300.0), 2)
    1095.77
    """
    k, alpha = _material(k, alpha, rho_c)
    q, v = _positive("q", q), _positive("v", v)
    xi, y, z = (real_array(c, name=name) for name, c in (("xi", xi), ("y", y), ("z", z)))
    for name, c in (("xi", xi), ("y", y), ("z", z), ("T0", real_array(T0, name="T0"))):
        if not np.all(np.isfinite(c)):
            raise ValueError(f"{name} contains NaN or an infinite value; expected finite coordinates and T0")
    try:
        radius = np.sqrt(xi**2 + y**2 + z**2)
    except ValueError:
        raise ValueError(f"xi, y, z have the shapes {xi.shape}, {y.shape}, {z.shape}; expected shapes that "
                         "broadcast together (one point per entry)") from None
    with np.errstate(divide="ignore"):
        return _out(T0 + q / (2 * math.pi * k * radius) * np.exp(-v * (xi + radius) / (2 * alpha)))


def rosenthal_melt_pool(q, v, *, k, alpha=None, rho_c=None, T0=293.15, T_melt):
    r"""Half-width, depth, length and trailing-edge cooling rate of the Rosenthal melt pool (exact).

    Parameters
    ----------
    q : float or array
        Absorbed power (W), > 0.
    v : float or array
        Travel speed, > 0.
    k : float or array
        Thermal conductivity, > 0.
    alpha, rho_c : float or array
        Thermal diffusivity, or the volumetric heat capacity :math:`\rho c` (exactly one).
    T0 : float or array
        Far-field (preheat) temperature (default 293.15 K; any scale, K or °C, the same as ``T_melt``'s:
        only the difference ``T_melt - T0`` enters).
    T_melt : float or array
        The isotherm bounding the pool (the melting point; the solidus for the solidification
        cooling rate), above ``T0``.

    Returns
    -------
    MeltPool
        Dimensions (broadcast over the inputs) and the dimensionless power ``n``.

    Raises
    ------
    TypeError
        For an input that is not real numbers (complex, bool, a string, None).
    ValueError
        For ``q``, ``v``, ``k``, ``alpha`` or ``rho_c`` not finite and > 0, both or neither of ``alpha`` and
        ``rho_c``, or ``T_melt`` not above ``T0``.

    Examples
    --------
    >>> from mslearn.process import rosenthal_melt_pool
    >>> pool = rosenthal_melt_pool(200.0, 1.0, k=25.0, alpha=5e-6, T0=300.0, T_melt=1700.0)
    >>> round(pool.half_width * 1e6, 1), round(pool.length * 1e6, 1), pool.depth == pool.half_width
    (81.2, 928.7, True)
    """
    k, alpha = _material(k, alpha, rho_c)
    q, v = _positive("q", q), _positive("v", v)
    delta = real_array(T_melt, name="T_melt") - real_array(T0, name="T0")
    if not np.all(np.isfinite(delta)) or not np.all(delta > 0):
        raise ValueError(f"T_melt - T0 = {delta}; expected T_melt above T0")
    n = q * v / (4 * math.pi * k * alpha * delta)
    unit = 2 * alpha / v                                              # the length 2 alpha / v
    # ln(n / rho) = rho / (1 + rho): one root in (n/e, n); bisection on log(rho), to round-off
    lo, hi = np.log(n) - 1.0, np.log(n)
    for _ in range(80):
        mid = (lo + hi) / 2
        rho = np.exp(mid)
        above = np.log(n) - mid > rho / (1 + rho)                      # root lies above mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    rho = np.exp((lo + hi) / 2)
    half_width = unit * rho * np.sqrt(1 + 2 * rho) / (1 + rho)
    front = unit * np.real(lambertw(2 * n)) / 2
    rear = unit * n
    cooling = 2 * math.pi * k * v * delta**2 / q
    return MeltPool(half_width=_out(half_width), depth=_out(half_width), length=_out(front + rear),
                    front=_out(front), rear=_out(rear), cooling_rate=_out(cooling), n=_out(n))
