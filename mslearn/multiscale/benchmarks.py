r"""Benchmark problems of the macroscopic solver with known answers.

* Cook's membrane (Cook 1974): a tapered panel, corners :math:`(0,0), (48,44), (48,60), (0,44)`,
  clamped on the left edge, a total shear force 1 spread uniformly over the right edge. Plane
  stress, :math:`E = 1`, :math:`\nu = 1/3`: the vertical displacement at the middle of the loaded edge
  :math:`(48, 52)` converges to 23.96 (Simo & Rifai 1990 and many since; ``mid_edge_displacement``).
  ``corner_displacement`` is that of the upper right corner :math:`(48, 60)`, which converges slowly
  (about 25.2; 24.95, 25.08, 25.14 with Q2 elements at ``n`` = 8, 16, 32).
* Plate with a circular hole under uniaxial tension :math:`\sigma_\infty` (Kirsch 1898): the hoop
  stress at the hole's edge on the axis normal to the load is :math:`3\sigma_\infty` in an infinite
  plate. A quarter of a square plate (symmetry conditions), a structured mesh graded towards the hole.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import skfem

from .._validation import check_integer, real_number
from .fe import FEResult, LinearElastic, _check_element, elastic_stiffness, solve

__all__ = ["CooksMembraneResult", "PlateWithHoleResult", "cooks_membrane", "plate_with_hole"]


def _mesh(X, Y, quads):
    """A structured mesh on the nodes ``X, Y`` ``(n+1, m+1)``: quadrilaterals, or each split in two triangles."""
    nx, ny = X.shape[0] - 1, X.shape[1] - 1
    index = np.arange((nx + 1) * (ny + 1)).reshape(nx + 1, ny + 1)
    a, b, c, d = index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]     # counter-clockwise
    p = np.stack([X.ravel(), Y.ravel()])
    if quads:
        return skfem.MeshQuad(p, np.stack([a.ravel(), b.ravel(), c.ravel(), d.ravel()]))
    t = np.concatenate([np.stack([a, b, c]).reshape(3, -1), np.stack([a, c, d]).reshape(3, -1)], axis=1)
    return skfem.MeshTri(p, t)


@dataclass
class CooksMembraneResult:
    """Result of :func:`cooks_membrane`.

    Attributes
    ----------
    mid_edge_displacement : float
        Vertical displacement at the middle of the loaded edge, :math:`(48, 52)`.
    corner_displacement : float
        Vertical displacement at the upper right corner :math:`(48, 60)`, where the loaded edge meets the
        free top edge: it converges slowly (about 25.2 at the finest meshes); the mid-edge value is the check.
    fe : FEResult
        The solution: ``fe.mesh``, ``fe.displacement``, ``fe.stress`` at ``fe.points``.
    """

    mid_edge_displacement: float
    corner_displacement: float
    fe: FEResult

    @property
    def mesh(self):
        """The scikit-fem mesh, ``fe.mesh``."""
        return self.fe.mesh

    @property
    def displacement(self):
        """Nodal displacements ``(n_dofs,)``, ``fe.displacement`` (scikit-fem's interleaved order)."""
        return self.fe.displacement

    @property
    def stress(self):
        """Mandel stress ``(n_points, 3)`` at the quadrature points ``fe.points``, ``fe.stress``."""
        return self.fe.stress


def cooks_membrane(n=16, *, E=1.0, nu=1 / 3, plane="stress", material=None, element="P2", load=1.0, load_steps=1,
                   tol=1e-10, max_iter=25, progress=False, initial=None):
    r"""Cook's membrane on an ``n`` x ``n`` mesh (module docstring).

    Parameters
    ----------
    n : int
        Elements along each edge (quadrilaterals, or twice as many triangles).
    E, nu, plane
        Linear elastic material (``plane="stress"`` or ``"strain"``) when ``material`` is None.
    material : callable, optional
        Any law for :func:`~mslearn.multiscale.solve` (plane strain for the RVE laws), instead.
    element : {"P2", "P1", "Q2", "Q1"}
    load : float
        Total vertical force on the right edge.
    load_steps, tol, max_iter, progress
        As in :func:`~mslearn.multiscale.solve` (its bar counts load steps: with an FE² ``material``, use
        several to follow the work).
    initial : CooksMembraneResult, optional
        Go on along the load path of a previous result, with the same ``material`` object (see
        :func:`~mslearn.multiscale.solve`); ``load_steps`` are then the steps that follow.

    Returns
    -------
    CooksMembraneResult

    Examples
    --------
    The mid-edge deflection approaches the reference 23.96 as the mesh is refined:

    >>> [round(cooks_membrane(n).mid_edge_displacement, 2) for n in (4, 8, 16)]
    [23.48, 23.86, 23.93]
    """
    n = check_integer(n, 1, name="n")          # elements per edge
    _check_element(element)
    xi, eta = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1), indexing="ij")
    X, Y = 48 * xi, 44 * xi + eta * (44 - 28 * xi)
    mesh = _mesh(X, Y, element.startswith("Q")).with_boundaries(
        {"left": lambda x: x[0] < 1e-9, "right": lambda x: x[0] > 48 - 1e-9})
    law = material if material is not None else LinearElastic(elastic_stiffness(E, nu, plane))
    if initial is not None and not isinstance(initial, CooksMembraneResult):
        raise TypeError(f"initial is {type(initial).__name__}; expected the CooksMembraneResult of a previous run")
    fe = solve(mesh, law, element=element, dirichlet={"left": (0.0, 0.0)}, traction={"right": (0.0, load / 16)},
               load_steps=load_steps, tol=tol, max_iter=max_iter, progress=progress,
               initial=None if initial is None else initial.fe)
    uy = fe.displacement_at([[48.0, 52.0], [48.0, 60.0]])[:, 1]
    return CooksMembraneResult(mid_edge_displacement=float(uy[0]), corner_displacement=float(uy[1]), fe=fe)


@dataclass
class PlateWithHoleResult:
    """Result of :func:`plate_with_hole`.

    Attributes
    ----------
    stress_concentration : float
        :math:`K_t = \\sigma_{11}(0, a) / \\sigma_\\infty` at the edge of the hole on the axis normal to the load
        (Kirsch: 3 for an infinite plate), from the displacement gradient there.
    fe : FEResult
    """

    stress_concentration: float
    fe: FEResult


def plate_with_hole(n=24, *, radius=1.0, width=80.0, E=1.0, nu=0.3, plane="stress", element="P2", grading=1.15):
    r"""A square plate of side ``width`` with a central hole of ``radius`` under uniaxial tension 1 along
    :math:`x_1`, one quarter modelled with symmetry conditions (:math:`u_1 = 0` on :math:`x_1 = 0`,
    :math:`u_2 = 0` on :math:`x_2 = 0`).

    The mesh maps ``n`` radial x ``2n`` circumferential elements from the hole (a polygon through its
    nodes) to the outer edges, element sizes growing by ``grading`` per ring away from the hole (a finite
    factor >= 1; 1: rings of equal width).

    Returns
    -------
    PlateWithHoleResult

    Raises
    ------
    ValueError
        For ``n < 1``, a ``width`` that is not a finite number > 0, a ``radius`` that is not a number in
        ``(0, width / 4)``, a ``grading`` that is not a finite number >= 1, or an unknown ``element``. A number
        is a real one, numpy's and a 0-d array included; a bool is not.

    Examples
    --------
    Kirsch's stress concentration factor 3 (an infinite plate; here 80 hole radii wide):

    >>> round(plate_with_hole().stress_concentration, 2)
    3.03
    """
    n = check_integer(n, 1, name="n")
    _check_element(element)
    a, w, g = real_number(radius), real_number(width), real_number(grading)
    if w is None or not 0 < w < math.inf:
        raise ValueError(f"width={width!r}; expected a finite plate width > 0")
    if g is None or not 1 <= g < math.inf:
        raise ValueError(f"grading={grading!r}; expected a finite growth factor >= 1 of the element size per ring "
                         "away from the hole (1: rings of equal width)")
    if a is None:                               # float() read True as 1 and "1" as 1
        raise ValueError(f"radius={radius!r}; expected a real number, the hole radius 0 < radius < width / 4")
    L = w / 2
    if not (0 < a < L / 2):
        raise ValueError(f"radius={radius!r}, width={width!r}; expected 0 < radius < width / 4")
    s = np.linspace(0, 1, 2 * n + 1)                                     # along the hole and the outer edges
    theta = s * math.pi / 2
    inner = a * np.stack([np.cos(theta), np.sin(theta)])
    right, top = np.stack([np.full_like(s, L), 2 * s * L]), np.stack([(2 - 2 * s) * L, np.full_like(s, L)])
    outer = np.where(s <= 0.5, right, top)
    ring = np.cumsum(np.concatenate([[0.0], g ** np.arange(n)]))
    r = ring / ring[-1]                                                   # 0 at the hole, 1 outside
    X = (1 - r)[None, :] * inner[0][:, None] + r[None, :] * outer[0][:, None]
    Y = (1 - r)[None, :] * inner[1][:, None] + r[None, :] * outer[1][:, None]
    mesh = _mesh(X, Y, element.startswith("Q")).with_boundaries({
        "symmetry_x": lambda x: x[0] < 1e-9, "symmetry_y": lambda x: x[1] < 1e-9,
        "loaded": lambda x: x[0] > L - 1e-9})
    fe = solve(mesh, LinearElastic(elastic_stiffness(E, nu, plane)), element=element,
               dirichlet={"symmetry_x": (0.0, None), "symmetry_y": (None, 0.0)}, traction={"loaded": (1.0, 0.0)})
    corner = [[1e-9 * a, (1 + 1e-9) * a]]                                # just inside the corner (0, a)
    stress = elastic_stiffness(E, nu, plane) @ fe.strain_at(corner)[0]
    return PlateWithHoleResult(stress_concentration=float(stress[0]), fe=fe)
