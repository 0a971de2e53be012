r"""SIMP topology optimization of the MBB half-beam: the 88-line code, with a pluggable material law.

The problem (Andreassen et al. 2011, eqs. 1–2)
----------------------------------------------
On a ``nely`` × ``nelx`` grid of unit square bilinear (Q4) plane-stress elements with densities
:math:`x_e`, minimize the compliance

.. math:: c(\mathbf x) = \mathbf U^T\mathbf K\mathbf U = \sum_e E_e(\tilde x_e)\,\mathbf u_e^T\mathbf k_0\mathbf u_e,
   \qquad \mathbf K\mathbf U = \mathbf F,\quad \sum_e \tilde x_e = f\,N,\quad 0\le x_e\le 1,

with the modified SIMP law :math:`E_e = E_{\min} + \tilde x_e^{\,p}(E_0 - E_{\min})` (:math:`E_0 = 1`,
:math:`E_{\min} = 10^{-9}`, :math:`\nu = 0.3`, penalty :math:`p`), :math:`\mathbf k_0` the unit-modulus
element stiffness, :math:`f` the volume fraction ``volfrac`` and :math:`N` the number of elements.
The MBB half-beam: a unit downward load at the top-left node, symmetry (:math:`u_x = 0`) on the left
edge, a roller (:math:`u_y = 0`) at the bottom-right node. The sensitivities are
:math:`\partial c/\partial\tilde x_e = -p\,\tilde x_e^{\,p-1}(E_0-E_{\min})\,\mathbf u_e^T\mathbf k_0\mathbf u_e`
and :math:`\partial V/\partial\tilde x_e = 1`.

Filters (weights :math:`H_{ei} = \max(0, r_{\min} - \Delta(e, i))`, :math:`\Delta` the distance of
the element centres, :math:`H_s = \sum_i H_{ei}`):

* ``"sensitivity"`` (Sigmund 1997): :math:`\tilde x = x` and
  :math:`\widehat{\partial c/\partial x_e} = \sum_i H_{ei} x_i\,\partial c/\partial x_i
  \,/\,(H_s\max(10^{-3}, x_e))`;
* ``"density"`` (Bruns & Tortorelli 2001, Bourdin 2001): :math:`\tilde x_e = \sum_i H_{ei}x_i / H_s`,
  and both sensitivities by the chain rule, :math:`\partial(\cdot)/\partial x_j = \sum_e H_{ej}\,
  \partial(\cdot)/\partial\tilde x_e\,/\,H_s`.

Optimality criteria update, with move limit :math:`m` (``move``) and the Lagrange multiplier
:math:`\Lambda` found by bisection such that the volume constraint holds:

.. math:: x_e^{new} = \max\!\big(0,\ x_e - m,\ \min(1,\ x_e + m,\ x_e B_e^{1/2})\big),\qquad
   B_e = -\frac{\partial c/\partial x_e}{\Lambda\,\partial V/\partial x_e}.

The loop stops when :math:`\max_e |x_e^{new} - x_e| <` ``tol`` (0.01 in the paper).

A material law instead of SIMP
------------------------------
With ``material``, a differentiable map :math:`\tilde x_e \mapsto C(\tilde x_e)` to the in-plane
3×3 Mandel stiffness replaces :math:`E_e\mathbf k_0`:
:math:`\mathbf k_e = \sum_{IJ} C_{IJ}(\tilde x_e)\,\mathbf k^{IJ}`, with the basis matrices
:math:`\mathbf k^{IJ} = \int_{\Omega_e}\mathbf B^T\mathbf e_I\mathbf e_J^T\mathbf B\,d\Omega`
(:math:`\mathbf B` the Mandel strain–displacement matrix, 2×2 Gauss, exact on the square element)
computed once, and

.. math:: \partial c/\partial\tilde x_e = -\sum_{IJ}\partial C_{IJ}/\partial\tilde x_e\;
   \mathbf u_e^T\mathbf k^{IJ}\mathbf u_e

from one torch backward pass over all elements. The filters and the OC update are unchanged (OC
needs :math:`\partial c/\partial x_e \le 0`; a positive sensitivity, from a law that softens with
density, is read as zero: :math:`B_e = \max(0, \cdot)`).

Why hand-written
----------------
The 88-line algorithm is the teaching object: the book reads this code next to the paper's. No
trusted Python library implements it with a pluggable differentiable material law (the MATLAB
original, and Python ports of it, hard-wire SIMP), which is what a trained surrogate of a
microstructure family needs. The FE solve is scipy's sparse direct solver (``spsolve``, SuperLU;
scipy has no sparse Cholesky), as fast as needed for the book's meshes.

References: Andreassen, Clausen, Schevenels, Lazarov & Sigmund, Struct. Multidisc. Optim. 43, 1
(2011); Sigmund, Struct. Multidisc. Optim. 21, 120 (2001); Bendsøe & Sigmund, *Topology
Optimization* (Springer, 2003).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import spsolve

from .._backend import progress_bar
from .._validation import check_density_design, check_integer, check_same_settings
from ..homogenization import ConvergenceWarning

__all__ = ["TopologyResult", "topology_optimization", "beam_compliance"]

E0, EMIN, NU = 1.0, 1e-9, 0.3
FILTERS = ("sensitivity", "density")


@dataclass
class TopologyResult:
    """Result of :func:`topology_optimization`.

    Attributes
    ----------
    density : numpy.ndarray
        The physical densities :math:`\\tilde x`, shape ``(nely, nelx)``, row 0 at the top of the
        beam, column 0 at the symmetry line (as MATLAB's ``xPhys``).
    compliance : float
        The compliance of the last finite element analysis (the value the 88-line code prints last:
        of the design before the final update, whose change was below ``tol``).
    iterations : int
        Iterations done (finite element analyses).
    history : list of float
        Compliance per iteration.
    converged : bool
        Whether the largest density change fell below ``tol`` before ``max_iter``.
    change : float
        The largest density change of the last update (what ``converged`` compared with ``tol``; a
        continuation compares it with its own ``tol``).
    variables : numpy.ndarray
        The design variables :math:`x` ``(nely, nelx)`` that ``density`` filters (equal to it with
        the sensitivity filter): what ``topology_optimization(..., initial=result)`` goes on from.
    settings : dict
        The problem the run solved (sizes, ``volfrac``, ``penal``, ``rmin``, ``filter``, ``move``,
        SIMP or a material map), which a continuation must share.
    """

    density: np.ndarray
    compliance: float
    iterations: int
    history: list = field(repr=False)
    converged: bool
    variables: np.ndarray = field(default=None, repr=False)
    settings: dict = field(default=None, repr=False)
    change: float = field(default=None, repr=False)


# ----------------------------------------------------------------------------- the finite elements
def _element_stiffness(nu=NU):
    """The 88-line code's unit-modulus plane-stress Q4 stiffness ``KE`` (8×8)."""
    A11 = np.array([[12, 3, -6, -3], [3, 12, 3, 0], [-6, 3, 12, -3], [-3, 0, -3, 12]])
    A12 = np.array([[-6, -3, 0, 3], [-3, -6, -3, -6], [0, -3, -6, 3], [3, -6, 3, -6]])
    B11 = np.array([[-4, 3, -2, 9], [3, -4, -9, 4], [-2, -9, -4, -3], [9, 4, -3, -4]])
    B12 = np.array([[2, -3, 4, -9], [-3, 2, 9, -2], [4, 9, 2, 3], [-9, -2, 3, 2]])
    return (np.block([[A11, A12], [A12.T, A11]]) + nu * np.block([[B11, B12], [B12.T, B11]])) / (24 * (1 - nu**2))


def _mandel_basis_stiffness():
    r""":math:`\mathbf k^{IJ} = \int \mathbf B^T\mathbf e_I\mathbf e_J^T\mathbf B`, shape ``(3, 3, 8, 8)``.

    Unit square, nodes counter-clockwise from the bottom-left, ``(x, y)`` dofs per node (the order of
    the 88-line ``edofMat``), y upwards. Rows of :math:`\mathbf B`: the Mandel strain
    :math:`(\varepsilon_{11}, \varepsilon_{22}, \sqrt2\,\varepsilon_{12}) = (u_{x,x}, u_{y,y},
    (u_{x,y} + u_{y,x})/\sqrt2)`, i.e. the engineering shear :math:`\gamma_{12}` divided by
    :math:`\sqrt2`.
    """
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    g = 0.5 / math.sqrt(3.0)
    k = np.zeros((3, 3, 8, 8))
    for px in (0.5 - g, 0.5 + g):
        for py in (0.5 - g, 0.5 + g):          # weights 1/4 on the unit square
            dNdx = np.where(corners[:, 0] == 1, 1.0, -1.0) * np.where(corners[:, 1] == 1, py, 1 - py)
            dNdy = np.where(corners[:, 1] == 1, 1.0, -1.0) * np.where(corners[:, 0] == 1, px, 1 - px)
            B = np.zeros((3, 8))
            B[0, 0::2], B[1, 1::2] = dNdx, dNdy
            B[2, 0::2], B[2, 1::2] = dNdy / math.sqrt(2.0), dNdx / math.sqrt(2.0)
            k += 0.25 * np.einsum("Ia,Jb->IJab", B, B)
    return k


def _plane_stress_mandel(E=E0, nu=NU):
    """Isotropic plane-stress Mandel stiffness (shear entry :math:`2G = E/(1+\\nu)`)."""
    return E / (1 - nu**2) * np.array([[1, nu, 0], [nu, 1, 0], [0, 0, 1 - nu]])


class _MBBBeam:
    """Mesh, boundary conditions, filter and analysis of the half MBB-beam (0-based, column-major
    element and node numbering as the MATLAB code: node ``n = ix*(nely+1) + iy``, ``iy`` from the
    top; element ``e = ex*nely + ey``; dofs ``2n`` (x) and ``2n+1`` (y))."""

    def __init__(self, nelx, nely, penal, rmin, material=None):
        self.nelx, self.nely, self.penal, self.material = nelx, nely, penal, material
        self.KE = _element_stiffness()
        self.kIJ = _mandel_basis_stiffness() if material is not None else None
        nodes = np.arange((nelx + 1) * (nely + 1)).reshape(nelx + 1, nely + 1).T
        top_left, top_right = nodes[:-1, :-1].ravel("F"), nodes[:-1, 1:].ravel("F")
        self.edof = np.stack([2 * top_left + 2, 2 * top_left + 3, 2 * top_right + 2, 2 * top_right + 3,
                              2 * top_right, 2 * top_right + 1, 2 * top_left, 2 * top_left + 1], axis=1)
        self.iK = np.repeat(self.edof, 8, axis=1).ravel()
        self.jK = np.tile(self.edof, (1, 8)).ravel()
        ndof = 2 * (nelx + 1) * (nely + 1)
        self.F = np.zeros(ndof)
        self.F[1] = -1.0                                           # top-left node, downwards
        fixed = np.union1d(np.arange(0, 2 * (nely + 1), 2), [ndof - 1])
        self.free = np.setdiff1d(np.arange(ndof), fixed)
        self.H, self.Hs = _filter_matrix(nelx, nely, rmin)

    def solve(self, Ke):
        """The nodal displacements ``U`` of ``K U = F`` for element matrices ``Ke`` ``(n, 8, 8)``."""
        K = sp.csc_matrix((Ke.ravel(), (self.iK, self.jK)), shape=(self.F.size,) * 2)
        K = ((K + K.T) / 2)[self.free][:, self.free]
        U = np.zeros(self.F.size)
        U[self.free] = spsolve(K.tocsc(), self.F[self.free])
        return U

    def analyse(self, xPhys):
        """Compliance and its gradient with respect to the physical densities (column-major vector)."""
        if self.material is None:
            E = EMIN + xPhys**self.penal * (E0 - EMIN)
            Ke = E[:, None, None] * self.KE
        else:
            rho = torch.tensor(xPhys, dtype=torch.float64, requires_grad=True)
            C = _checked_stiffness(self.material(rho), len(xPhys))
            Ke = np.einsum("nIJ,IJab->nab", C.detach().numpy(), self.kIJ)
        ue = self.solve(Ke)[self.edof]
        if self.material is None:
            ce = np.einsum("na,ab,nb->n", ue, self.KE, ue)
            return float(np.sum(E * ce)), -self.penal * (E0 - EMIN) * xPhys ** (self.penal - 1) * ce
        ceIJ = torch.from_numpy(np.einsum("na,IJab,nb->nIJ", ue, self.kIJ, ue))
        compliance = float(np.einsum("nab,na,nb->", Ke, ue, ue))
        if not C.requires_grad:
            raise ValueError("material returned a stiffness that does not depend on its input through torch "
                             "autograd; expected a differentiable map of the densities (torch operations)")
        (grad,) = torch.autograd.grad((C * ceIJ).sum(), rho)    # row e of C depends on rho_e only
        return compliance, -grad.numpy()


def _filter_matrix(nelx, nely, rmin):
    """Sparse filter weights :math:`H_{ei} = \\max(0, r_{\\min} - \\Delta(e,i))` and row sums."""
    r = math.ceil(rmin) - 1
    ex, ey = np.meshgrid(np.arange(nelx), np.arange(nely), indexing="ij")
    ex, ey = ex.ravel(), ey.ravel()                                  # e = ex*nely + ey
    rows, cols, vals = [], [], []
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            ok = (ex + dx >= 0) & (ex + dx < nelx) & (ey + dy >= 0) & (ey + dy < nely)
            rows.append((ex * nely + ey)[ok])
            cols.append(((ex + dx) * nely + ey + dy)[ok])
            vals.append(np.full(ok.sum(), max(0.0, rmin - math.hypot(dx, dy))))
    H = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(nelx * nely,) * 2)
    return H, np.asarray(H.sum(axis=1)).ravel()


def _checked_stiffness(C, n, source="material returned"):
    """``C`` checked as ``n`` symmetric positive definite Mandel stiffnesses; ``source`` says where it came
    from in the messages ("material returned", or the argument of :func:`beam_compliance`)."""
    if not isinstance(C, torch.Tensor):
        raise ValueError(f"{source} a {type(C).__name__}; expected a torch tensor of shape ({n}, 3, 3) "
                         "(the in-plane Mandel stiffness of every element)")
    if tuple(C.shape) != (n, 3, 3):
        raise ValueError(f"{source} a tensor of shape {tuple(C.shape)}; expected ({n}, 3, 3), "
                         "the in-plane Mandel stiffness of every element")
    C = C.to(torch.float64)
    if not torch.isfinite(C).all():
        raise ValueError(f"{source} a stiffness with NaN or infinite entries; expected finite numbers")
    C = (C + C.transpose(1, 2)) / 2
    lowest = torch.linalg.eigvalsh(C.detach()).min(dim=1).values
    if (lowest <= 0).any():
        e = int(torch.argmin(lowest))
        raise ValueError(f"{source} a stiffness that is not positive definite (element {e}, smallest "
                         f"eigenvalue {float(lowest[e]):.3g}); expected a symmetric positive definite 3x3 "
                         "Mandel stiffness")
    return C


# ----------------------------------------------------------------------------- the optimization
def _start(initial, settings):
    """The design variables ``(nelx*nely,)`` (column-major), the compliance history and the last update's
    largest density change to start from: a :class:`TopologyResult` of the same problem, or a design
    ``(nely, nelx)`` with values in [0, 1]."""
    nelx, nely = settings["nelx"], settings["nely"]
    if isinstance(initial, TopologyResult):
        if initial.variables is None or initial.settings is None:
            raise ValueError("initial is a TopologyResult without its design variables (variables, settings); "
                             "expected a result returned by topology_optimization")
        check_same_settings(initial.settings, settings,
                            problem=f"initial solved another problem (its settings {initial.settings})",
                            remedy="a continuation needs the same arguments but tol, max_iter and progress")
        # a result saved before results kept their change: settled if it had converged, as it was then read
        change = initial.change if initial.change is not None else 0.0 if initial.converged else math.inf
        return initial.variables.ravel(order="F").astype(float), list(initial.history), change
    x = check_density_design(initial, (nely, nelx), alternative="a TopologyResult",
                             shape_text=f"the design's (nely, nelx) = ({nely}, {nelx})")
    # the optimality-criteria update scales each density, so a zero density stays zero: too few
    # non-zero ones can never hold volfrac (an all-void start divided by zero in the bisection)
    solid, needed = int(np.count_nonzero(x)), settings["volfrac"] * x.size
    if solid < needed:
        raise ValueError(f"initial has {solid} non-zero densities of {x.size}, fewer than the volfrac * nelx * nely "
                         f"= {needed:g} needed (a zero density stays zero under the optimality-criteria update); "
                         "expected a design with material, e.g. the uniform volfrac start (initial=None)")
    return x.ravel(order="F"), [], math.inf


def topology_optimization(nelx, nely, volfrac, *, penal=3.0, rmin=1.5, filter="sensitivity", material=None,
                          move=0.2, tol=0.01, max_iter=200, progress=False, initial=None):
    r"""Minimum-compliance SIMP design of the MBB half-beam by optimality criteria (the 88-line code).

    Parameters
    ----------
    nelx, nely : int
        Number of elements along the beam (x) and through its height (y).
    volfrac : float
        Volume fraction :math:`f \in (0, 1)`; also the uniform starting design.
    penal : float
        SIMP penalty :math:`p \ge 1` (unused with ``material``).
    rmin : float
        Filter radius in elements, > 0.
    filter : {"sensitivity", "density"}
        The paper's ``ft = 1`` and ``ft = 2``.
    material : callable or None
        ``None`` for SIMP. Otherwise a differentiable map ``C = material(rho)`` from a torch float64
        tensor of the physical densities ``(nelx*nely,)`` (column-major element order; each row of
        ``C`` must depend only on its own density) to the element stiffnesses ``(nelx*nely, 3, 3)``:
        the **in-plane Mandel stiffness** relating :math:`(\sigma_{11}, \sigma_{22},
        \sqrt2\sigma_{12})` to :math:`(\varepsilon_{11}, \varepsilon_{22}, \sqrt2\varepsilon_{12})`
        (shear entry :math:`2C_{66}`, as in :mod:`mslearn.homogenization.tensors`). The element is 2D;
        the plane is whatever ``C`` is: the plane-stress reduced stiffness reproduces the paper's
        plane-stress beam, while the 2D stiffnesses of :mod:`mslearn.homogenization` are plane
        strain (a thick body). Only the symmetric part of ``C`` is used; it must be positive definite.
    move : float
        OC move limit (0.2 in the paper), in (0, 1].
    tol : float
        Stop when the largest density change is below ``tol`` (0.01 in the paper).
    max_iter : int
        Iteration cap.
    progress : bool
        Show a tqdm progress bar.
    initial : TopologyResult or array_like, optional
        Go on from an earlier run of the same problem (the same arguments but ``tol``, ``max_iter``
        and ``progress``): its design variables are the start and its iterations come first in the
        result, so ``max_iter`` counts the whole run. A run stopped at ``max_iter`` and continued with
        a larger one is, bit for bit, the run made with the larger ``max_iter``; a result whose last
        change is already below ``tol`` is returned as it was (a stricter ``tol`` goes on). Or a
        design ``(nely, nelx)`` of densities in [0, 1] to start from instead of the uniform
        ``volfrac`` (its volume need not be ``volfrac``: the first update enforces it; a zero
        density stays zero, so at least ``volfrac * nelx * nely`` must be > 0).

    Returns
    -------
    TopologyResult

    Examples
    --------
    >>> result = topology_optimization(60, 20, 0.5)            # doctest: +SKIP
    >>> round(result.compliance, 2), result.iterations          # doctest: +SKIP
    (203.19, 94)
    """
    for name, value in (("nelx", nelx), ("nely", nely), ("max_iter", max_iter)):
        check_integer(value, 1, name=name)
    for name, value, low, high, closed in (("volfrac", volfrac, 0, 1, False), ("move", move, 0, 1, True)):
        if not isinstance(value, numbers.Real) or not (low < value < high or (closed and value == high)):
            raise ValueError(f"{name}={value!r}; expected a number in (0, 1{']' if closed else ')'}")
    for name, value, low in (("rmin", rmin, 0.0), ("tol", tol, 0.0)):
        if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= low:
            raise ValueError(f"{name}={value!r}; expected a finite number > 0")
    if not isinstance(penal, numbers.Real) or not math.isfinite(penal) or penal < 1:
        raise ValueError(f"penal={penal!r}; expected a finite number >= 1 (3 in the paper)")
    if filter not in FILTERS:
        raise ValueError(f"filter={filter!r}; expected one of {FILTERS}")
    if material is not None and not callable(material):
        raise ValueError(f"material is a {type(material).__name__}; expected None (SIMP) or a callable "
                         "mapping densities to Mandel stiffnesses")

    settings = dict(nelx=nelx, nely=nely, volfrac=float(volfrac), penal=float(penal), rmin=float(rmin),
                    filter=filter, move=float(move), material="SIMP" if material is None else "map")
    if initial is None:
        x, history, change = np.full(nelx * nely, float(volfrac)), [], math.inf
    else:
        x, history, change = _start(initial, settings)
    beam = _MBBBeam(nelx, nely, float(penal), float(rmin), material)
    H, Hs = beam.H, beam.Hs
    xPhys = x.copy() if filter == "sensitivity" else H @ x / Hs        # the last update's filtered design
    bar = progress_bar(progress, max_iter, "topology optimization", unit="it", initial=len(history))
    while change > tol and len(history) < max_iter:
        c, dc = beam.analyse(xPhys)                                   # FE analysis, sensitivities
        dv = np.ones_like(x)
        if filter == "sensitivity":
            dc = H @ (x * dc) / Hs / np.maximum(1e-3, x)
        else:
            dc, dv = H @ (dc / Hs), H @ (dv / Hs)
        l1, l2 = 0.0, 1e9                                             # OC: bisection on the multiplier
        # the update as the multiplier goes to 0: where it can grow, a density takes its largest step
        xnew = np.maximum(0, np.maximum(x - move, np.where(x * np.maximum(0, -dc / dv) > 0,
                                                           np.minimum(1, x + move), 0.0)))
        xPhys = xnew if filter == "sensitivity" else H @ xnew / Hs
        if xPhys.sum() <= volfrac * nelx * nely:
            l2 = l1     # even that keeps the volume below volfrac (a sparse start; bisecting would reach 0 / 0)
        while l2 > l1 and (l2 - l1) / (l1 + l2) > 1e-3:
            lmid = 0.5 * (l1 + l2)
            xB = x * np.sqrt(np.maximum(0, -dc / dv / lmid))          # x_e B_e^(1/2) (B_e >= 0)
            xnew = np.maximum(0, np.maximum(x - move, np.minimum(1, np.minimum(x + move, xB))))
            xPhys = xnew if filter == "sensitivity" else H @ xnew / Hs
            if xPhys.sum() > volfrac * nelx * nely:
                l1 = lmid
            else:
                l2 = lmid
        change = float(np.abs(xnew - x).max())
        x = xnew
        history.append(c)
        if bar is not None:
            bar.update()
            bar.set_postfix(compliance=f"{c:.4g}", change=f"{change:.3f}")
    if bar is not None:
        bar.close()
    if change > tol:
        warnings.warn(f"topology optimization stopped at max_iter={max_iter} with a largest density change "
                      f"{change:.3g} > tol={tol:g} (the result has converged=False); continue it with "
                      "initial=result and a larger max_iter", ConvergenceWarning, stacklevel=2)
    return TopologyResult(density=xPhys.reshape(nely, nelx, order="F"), compliance=history[-1],
                          iterations=len(history), history=history, converged=change <= tol,
                          variables=x.reshape(nely, nelx, order="F"), settings=settings, change=change)


def beam_compliance(stiffness):
    r"""The compliance :math:`\mathbf F^T\mathbf U` of the MBB half-beam for given element stiffnesses.

    The verification step of multiscale design: after :func:`topology_optimization` with a
    surrogate ``material``, regenerate every element's microstructure, homogenize it with the
    solver, and evaluate the beam again with the solver's stiffnesses; the difference to
    :attr:`TopologyResult.compliance` is the surrogate's error on this design. Same beam, load,
    supports and elements as :func:`topology_optimization`.

    Parameters
    ----------
    stiffness : array_like, shape (nely, nelx, 3, 3)
        The in-plane Mandel stiffness of each element, rows and columns laid out as
        :attr:`TopologyResult.density` (row 0 at the top, column 0 at the symmetry line); symmetric
        positive definite (only the symmetric part is used).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.homogenization.tensors import isotropic_stiffness
    >>> C = isotropic_stiffness(E=1.0, nu=0.3, ndim=2)          # plane strain
    >>> round(beam_compliance(np.broadcast_to(C, (20, 60, 3, 3))), 2)
    114.51
    """
    C = np.asarray(stiffness, dtype=float)
    if C.ndim != 4 or C.shape[2:] != (3, 3) or min(C.shape[:2]) < 1:
        raise ValueError(f"stiffness has shape {C.shape}; expected (nely, nelx, 3, 3), the in-plane Mandel "
                         "stiffness of every element")
    nely, nelx = C.shape[:2]
    flat = _checked_stiffness(torch.from_numpy(C.transpose(1, 0, 2, 3).reshape(-1, 3, 3).copy()),
                              nelx * nely, source="beam_compliance was given").numpy()
    beam = _MBBBeam(nelx, nely, 3.0, 1.5, material=True)
    U = beam.solve(np.einsum("nIJ,IJab->nab", flat, beam.kIJ))
    return float(beam.F @ U)
