r"""Macroscopic small-strain finite elements in 2D with Newton iterations for a material law.

The boundary value problem
--------------------------
Find the displacement :math:`u` on :math:`\Omega\subset\mathbb R^2` with :math:`u = \lambda\,\bar u`
on :math:`\Gamma_D` and, for every admissible variation :math:`v` (:math:`v = 0` on :math:`\Gamma_D`),

.. math:: R(u; v) = \int_\Omega \sigma(\varepsilon(u)) : \varepsilon(v)\,dA
          - \lambda\int_{\Gamma_N} \bar t\cdot v\,ds = 0,
          \qquad \varepsilon(u) = \operatorname{sym}\nabla u ,

with the load factor :math:`\lambda` raised in load steps :math:`\lambda_1 < \lambda_2 < \dots`.
The material law acts at the quadrature points: ``law(strain) -> (stress, tangent)`` on Mandel
vectors ``(n_points, 3)`` = :math:`(\varepsilon_{11}, \varepsilon_{22}, \sqrt2\varepsilon_{12})`,
with the tangent :math:`\mathbb C = \partial\sigma/\partial\varepsilon` ``(n_points, 3, 3)``; in
Mandel notation :math:`\sigma:\varepsilon(v) = \sigma\cdot\varepsilon(v)`. A law with history
(plasticity, an RVE) keeps its state per point and has a ``commit()`` method, called once a load step
has converged: every evaluation within a step starts from the committed state (backward Euler), so
the Newton iterates never pollute the history.

Newton's method on the discrete residual :math:`R(u) = f_{int}(u) - \lambda f_{ext}`,

.. math:: K(u_k)\,\delta u = -R(u_k),\qquad
          K = \int_\Omega B^T\,\mathbb C\,B\,dA,\qquad f_{int} = \int_\Omega B^T\sigma\,dA ,

on the free degrees of freedom (the prescribed ones take their new values before the first
iteration), stops when :math:`\|R_{free}\| \le \mathrm{tol}\,\max(\|\lambda f_{ext}\|, \|f_{int}\|)`
(:math:`f_{int}` over all degrees of freedom, so reactions set the scale of a displacement-driven
problem). With the consistent tangent the convergence is quadratic.

Checks before solving: every element has a Jacobian of one sign at its quadrature points (a twisted
quadrilateral has not), and the two elements sharing an interior edge lie on opposite sides of it (a
folded, i.e. inverted, element does not), because scikit-fem sorts triangle vertices and the sign of
the Jacobian alone says nothing; the prescribed degrees of freedom must remove the three rigid-body
modes (translations, rotation), else :math:`K` is singular; the law's outputs must have the right
shapes and be finite.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import skfem
import torch
from skfem.helpers import dot, sym_grad

from .._backend import progress_bar
from .._validation import check_finite, check_integer, check_real, check_relative_tolerance, real_number
from ..homogenization.plasticity import radial_return
from ..homogenization.solver import ConvergenceWarning
from ..homogenization.tensors import isotropic_stiffness

__all__ = ["FEResult", "LinearElastic", "J2Plasticity", "elastic_stiffness", "solve", "integration_points"]

SQRT2 = math.sqrt(2.0)
# (mesh, element, quadrature order): exact stiffness on affine triangles (1 and 3 points), Gauss 2x2 and 3x3
ELEMENTS = {"P1": (skfem.MeshTri, skfem.ElementTriP1, 1), "P2": (skfem.MeshTri, skfem.ElementTriP2, 2),
            "Q1": (skfem.MeshQuad, skfem.ElementQuad1, 3), "Q2": (skfem.MeshQuad, skfem.ElementQuad2, 5)}


# ----------------------------------------------------------------------------- material laws
def elastic_stiffness(E, nu, plane="strain"):
    r"""Isotropic Mandel stiffness ``(3, 3)`` of plane strain or plane stress.

    Plane strain is the in-plane block of the 3D tensor (:func:`~mslearn.homogenization.tensors.isotropic_stiffness`);
    plane stress (:math:`\sigma_{33} = 0`) is :math:`\frac{E}{1-\nu^2}\begin{pmatrix}1&\nu&0\\ \nu&1&0\\
    0&0&1-\nu\end{pmatrix}` (the Mandel shear entry is :math:`2\mu = E/(1+\nu)`).

    Examples
    --------
    Plane stress is softer than plane strain (here nu = 1/4):

    >>> elastic_stiffness(1.0, 0.25, plane="stress").round(4)
    array([[1.0667, 0.2667, 0.    ],
           [0.2667, 1.0667, 0.    ],
           [0.    , 0.    , 0.8   ]])
    >>> elastic_stiffness(1.0, 0.25).round(4)
    array([[1.2, 0.4, 0. ],
           [0.4, 1.2, 0. ],
           [0. , 0. , 0.8]])
    """
    modulus, ratio = real_number(E), real_number(nu)           # (a bool or a string is no modulus)
    if not (modulus is not None and modulus > 0 and math.isfinite(modulus)):
        raise ValueError(f"E={E!r}; expected a finite Young's modulus > 0")
    if not (ratio is not None and -1 < ratio < 0.5):
        raise ValueError(f"nu={nu!r}; expected a Poisson's ratio -1 < nu < 0.5")
    E, nu = modulus, ratio
    if plane == "strain":
        return isotropic_stiffness(E, nu, ndim=2)
    if plane == "stress":
        return E / (1 - nu**2) * np.array([[1.0, nu, 0.0], [nu, 1.0, 0.0], [0.0, 0.0, 1.0 - nu]])
    raise ValueError(f"plane={plane!r}; expected 'strain' or 'stress'")


def mandel_strains(strain, name="strain"):
    """The strains a material law is called with: finite real plane Mandel vectors ``(n, 3)``, as float64
    (complex ones raise TypeError). (The solver always passes such; a direct call with another shape would be
    regrouped or broadcast.)"""
    values = np.asarray(check_real(strain, name=name), dtype=float)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ValueError(f"{name} has shape {values.shape}; expected (n_points, 3) Mandel strains "
                         "(e11, e22, sqrt2 e12)")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or an infinite value; expected finite strains")
    return values


class LinearElastic:
    r"""Linear elasticity :math:`\sigma = \mathbb C\,\varepsilon` at every point.

    Parameters
    ----------
    stiffness : array, ``(3, 3)`` or ``(n_points, 3, 3)``
        Real, symmetric positive definite Mandel stiffness, shared or one per quadrature point (for
        example homogenized or learned effective tensors; points in the order of
        :func:`integration_points`).

    Examples
    --------
    >>> import numpy as np
    >>> law = LinearElastic(elastic_stiffness(200.0, 0.3))
    >>> stress, tangent = law(np.array([[1e-3, 0.0, 0.0]]))       # uniaxial strain at one point
    >>> stress.round(4), tangent.shape                          # (lambda + 2 mu, lambda, 0) * 1e-3
    (array([[0.2692, 0.1154, 0.    ]]), (1, 3, 3))
    """

    def __init__(self, stiffness):
        C = np.array(check_real(stiffness, name="stiffness"), dtype=float)     # a copy, not the caller's array
        if C.shape[-2:] != (3, 3) or C.ndim not in (2, 3):
            raise ValueError(f"stiffness has shape {C.shape}; expected (3, 3) or (n_points, 3, 3) Mandel matrices")
        if C.size == 0:                   # the symmetry check's max() of nothing raised numpy's zero-size error
            raise ValueError(f"stiffness has shape {C.shape}, no matrix; expected (3, 3) or (n_points, 3, 3) Mandel "
                             "matrices with n_points >= 1")
        if not np.isfinite(C).all():
            raise ValueError("stiffness contains NaN or inf; expected finite Mandel matrices")
        if not np.allclose(C, np.swapaxes(C, -1, -2), rtol=1e-8, atol=1e-12 * np.abs(C).max()):
            raise ValueError("stiffness is not symmetric; expected symmetric Mandel matrices")
        if np.linalg.eigvalsh(C).min() <= 0:
            raise ValueError("stiffness is not positive definite")
        self.stiffness = C

    def __call__(self, strain):
        strain = mandel_strains(strain)
        if self.stiffness.ndim == 3 and len(self.stiffness) != len(strain):
            raise ValueError(f"{len(strain)} strains for {len(self.stiffness)} points' stiffnesses; expected one strain "
                             "per point")
        C = np.broadcast_to(self.stiffness, (len(strain), 3, 3))
        return np.einsum("nij,nj->ni", C, strain), C


class J2Plasticity:
    r"""Plane-strain J2 elasto-plasticity with linear isotropic hardening at every point.

    The radial return of ``mslearn.homogenization.plasticity.radial_return`` (same equations as
    the FFT RVE solver, so that an FE² computation with a homogeneous RVE must reproduce it) with
    its consistent tangent, the in-plane block of :math:`\tilde\lambda\,\mathbf 1\otimes\mathbf 1 +
    2\tilde\mu\,\mathbb I + c\,n\otimes n`. State per point: plastic strain (3D Mandel) and
    equivalent plastic strain, committed by :meth:`commit` (None until the first commit: the virgin state, of
    any number of points) and back to the virgin state by :meth:`reset`, which a fresh :func:`solve` calls.

    Parameters
    ----------
    E, nu, yield_stress, hardening : float
        Young's modulus, Poisson's ratio, initial yield stress, linear hardening modulus :math:`H \ge 0`.

    Examples
    --------
    Under uniaxial strain sigma_22 = sigma_33, so a perfectly plastic point keeps sigma_11 - sigma_22 at the
    yield stress:

    >>> import numpy as np
    >>> law = J2Plasticity(E=200e3, nu=0.3, yield_stress=250.0)
    >>> stress, tangent = law(np.array([[0.004, 0.0, 0.0]]))
    >>> round(float(stress[0, 0] - stress[0, 1]), 4)
    250.0
    """

    def __init__(self, E, nu, yield_stress, hardening=0.0):
        C = elastic_stiffness(E, nu)                                    # checks E and nu
        lam, mu = C[0, 1], C[2, 2] / 2
        for name, value in (("yield_stress", yield_stress), ("hardening", hardening)):
            if real_number(value) is None:
                raise TypeError(f"{name} = {value!r}; expected a real number")
        yield_stress, hardening = real_number(yield_stress), real_number(hardening)
        if not yield_stress > 0:                                        # NaN fails too
            raise ValueError(f"yield_stress = {yield_stress!r}; expected a yield stress > 0 (inf for an elastic law)")
        if not (math.isfinite(hardening) and hardening >= 0):
            raise ValueError(f"hardening = {hardening!r}; expected a finite hardening modulus >= 0")
        self.material = tuple(np.float64(v) for v in (lam + 2 * mu / 3, mu, yield_stress, hardening))
        self.reset()

    def reset(self):
        """Forget the history: back to the virgin state (nothing committed, any number of points)."""
        self.plastic_strain = self.equivalent_plastic_strain = self._trial = None

    def __call__(self, strain):
        """Stress and consistent tangent at ``strain`` ``(n_points, 3)`` from the committed state.

        Raises ``ValueError`` when a committed state holds another number of points (call :meth:`reset`
        first to start afresh).
        """
        strain = mandel_strains(strain)
        n = len(strain)
        if self.plastic_strain is None:
            plastic_strain, alpha = np.zeros((n, 6)), np.zeros((n, 1))
        elif len(self.plastic_strain) != n:
            raise ValueError(f"strain has {n} points but the committed state holds {len(self.plastic_strain)}; "
                             "expected one strain per point of the state (reset() starts afresh)")
        else:
            plastic_strain, alpha = self.plastic_strain, self.equivalent_plastic_strain
        eps = np.zeros((n, 6))
        eps[:, [0, 1, 5]] = strain
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        sigma, eps_p, alpha, (lam, two_mu, c, nrm) = radial_return(
            t(eps), t(plastic_strain), t(alpha), tuple(map(t, self.material)))
        self._trial = (eps_p.numpy(), alpha.numpy())
        lam, two_mu, c, nrm = (a.numpy() for a in (lam, two_mu, c, nrm))
        one = np.array([1.0, 1.0, 0.0])
        nrm = nrm[:, [0, 1, 5]]
        tangent = (lam[:, :, None] * one[None, :, None] * one[None, None, :] + two_mu[:, :, None] * np.eye(3)
                   + c[:, :, None] * nrm[:, :, None] * nrm[:, None, :])
        return sigma.numpy()[:, [0, 1, 5]], tangent

    def commit(self):
        """The state of the last evaluation becomes the committed state (RuntimeError before any evaluation)."""
        if self._trial is None:
            raise RuntimeError("commit() before any evaluation since the law was made or reset; expected a call "
                               "law(strain) at the converged state first")
        self.plastic_strain, self.equivalent_plastic_strain = self._trial


# ----------------------------------------------------------------------------- assembly
def _mandel(eps):
    """Symmetric 2x2 tensors ``(2, 2, ...)`` to Mandel ``(3, ...)``."""
    return np.stack([eps[0, 0], eps[1, 1], SQRT2 * eps[0, 1]])


@skfem.BilinearForm
def _stiffness_form(u, v, w):
    return np.einsum("ij...,i...,j...->...", w["C"], _mandel(sym_grad(v)), _mandel(sym_grad(u)))


@skfem.LinearForm
def _internal_force_form(v, w):
    return np.einsum("i...,i...->...", w["S"], _mandel(sym_grad(v)))


@skfem.LinearForm
def _traction_form(v, w):
    return dot(w["t"], v)


def _points_last(a, shape):
    """Per-point arrays ``(n_points, ...)`` to scikit-fem's ``(..., n_elements, n_quadrature)``."""
    return np.moveaxis(a.reshape(shape + a.shape[1:]), (0, 1), (-2, -1))


def integration_points(mesh, element="P2"):
    """Coordinates ``(n_points, 2)`` of the quadrature points, in the order the law sees them
    (element by element); useful to give each point its own microstructure or stiffness.

    Examples
    --------
    P2 triangles have 3 quadrature points each, P1 one:

    >>> import skfem
    >>> mesh = skfem.MeshTri().refined(2)                     # 32 triangles
    >>> integration_points(mesh).shape, integration_points(mesh, "P1").shape
    ((96, 2), (32, 2))
    """
    basis = _basis(mesh, element)
    return basis.mapping.F(basis.X).reshape(2, -1).T


def _check_element(element):
    if not (isinstance(element, str) and element in ELEMENTS):
        raise ValueError(f"element={element!r}; expected one of {sorted(ELEMENTS)}")
    return element


def _basis(mesh, element):
    mesh_type, element_type, order = ELEMENTS[_check_element(element)]
    if not isinstance(mesh, mesh_type):
        raise ValueError(f"element={element!r} needs a {mesh_type.__name__}, got a {type(mesh).__name__}")
    if element == "P1":                   # constant strain: the centroid rule (scikit-fem's lowest has 3 points)
        centroid = (np.full((2, 1), 1 / 3), np.array([0.5]))
        return skfem.Basis(mesh, skfem.ElementVector(element_type()), quadrature=centroid)
    return skfem.Basis(mesh, skfem.ElementVector(element_type()), intorder=order)


# ----------------------------------------------------------------------------- checks
def _check_mesh(mesh, basis):
    """Degenerate, twisted or inverted (folded) elements raise ValueError (module docstring)."""
    J = basis.mapping.detDF(basis.X)                                       # (n_elements, n_quadrature)
    scale = np.abs(J).max()
    bad = (np.abs(J).min(1) <= 1e-12 * scale) | (np.sign(J).min(1) != np.sign(J).max(1))
    if bad.any():
        raise ValueError(f"elements {np.flatnonzero(bad)[:10].tolist()} are degenerate or inverted (their Jacobian "
                         "vanishes or changes sign); expected a valid mesh")
    interior = np.flatnonzero(mesh.f2t[1] >= 0)
    p0, p1 = (mesh.p[:, mesh.facets[k, interior]] for k in (0, 1))
    centroid = mesh.p[:, mesh.t].mean(1)
    cross = lambda a, b: a[0] * b[1] - a[1] * b[0]                          # noqa: E731
    sides = [cross(p1 - p0, centroid[:, mesh.f2t[k, interior]] - p0) for k in (0, 1)]
    folded = interior[sides[0] * sides[1] >= 0]
    if len(folded):
        elements = np.unique(mesh.f2t[:, folded]).tolist()[:10]
        raise ValueError(f"elements {elements} are inverted (they overlap a neighbour across a shared edge); "
                         "expected a valid mesh")


def _check_rigid_body_modes(basis, fixed):
    """The prescribed degrees of freedom must remove both translations and the rotation."""
    x, y = basis.doflocs
    modes = np.zeros((basis.N, 3))
    modes[0::2, 0] = 1.0                                # u^1 and u^2 interleave in scikit-fem's ElementVector
    modes[1::2, 1] = 1.0
    modes[0::2, 2], modes[1::2, 2] = -y[0::2], x[1::2]
    if len(fixed) == 0 or np.linalg.matrix_rank(modes[fixed], tol=1e-10 * np.abs(modes).max()) < 3:
        raise ValueError("the Dirichlet conditions leave rigid-body modes (a translation or the rotation) free, "
                         "so the stiffness is singular; fix more displacement components")


def _check_law_output(out, n, where=None, law="material law"):
    """A law's ``(stress, tangent)`` for ``n`` points as float arrays of shapes ``(n, 3)`` and ``(n, 3, 3)``
    exactly, finite and real; ``law`` names the law and ``where`` (optional) the call in the messages.

    A pair is a tuple or a list. Another shape would be broadcast where the output is assigned into the
    points' rows (one stress row for all points, silently), and a complex one cast to real with a warning.
    """
    at = f" ({where})" if where else ""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError(f"the {law} returned {type(out).__name__}{at}; expected a pair (stress, tangent)")
    for name, value in zip(("stress", "tangent"), out):
        check_real(value, name=f"the {law}'s {name}{at}")
        kind = np.asarray(value).dtype                      # float() would read strings and bools as numbers
        if kind == bool or not np.issubdtype(kind, np.number):
            raise TypeError(f"the {law}'s {name}{at} has the dtype {kind}; expected real numbers")
    stress, tangent = (np.asarray(a, dtype=float) for a in out)
    if stress.shape != (n, 3) or tangent.shape != (n, 3, 3):
        raise ValueError(f"the {law} returned stress {stress.shape} and tangent {tangent.shape} for {n} points{at}; "
                         f"expected ({n}, 3) and ({n}, 3, 3) (Mandel, plane strain)")
    if not (np.isfinite(stress).all() and np.isfinite(tangent).all()):
        raise ValueError(f"the {law} returned NaN or inf{at}; expected finite stress and tangent")
    return stress, tangent


# ----------------------------------------------------------------------------- boundary conditions
def _conditions(conditions, name, free):
    """``{boundary: value}`` checked: a boundary is a name or a callable, a value a callable or a pair of
    numbers (``None`` for a free component where ``free``); a pair of another length would be broadcast
    or cut silently."""
    if conditions is None:
        return {}
    if not isinstance(conditions, dict):
        raise TypeError(f"{name} is a {type(conditions).__name__}; expected a dict {{boundary: (x, y)}}")
    for where, value in conditions.items():
        if not (isinstance(where, str) or callable(where)):
            raise TypeError(f"{name} has the key {where!r}; expected a boundary name or a callable x -> bool")
        if callable(value):
            continue
        pair = value if isinstance(value, (tuple, list, np.ndarray)) else None
        if pair is None or len(pair) != 2 or not all(
                (v is None and free) or (isinstance(v, numbers.Real) and not isinstance(v, bool)) for v in pair):
            allowed = "numbers or None" if free else "numbers"
            raise ValueError(f"{name}[{where!r}] = {value!r}; expected a pair (x, y) of {allowed}, or a callable")
    return conditions


def _facets(mesh, where, name):
    if isinstance(where, str):
        if where not in (mesh.boundaries or {}):
            raise ValueError(f"boundary {where!r} is not a named boundary of the mesh "
                             f"(named: {sorted(mesh.boundaries or {})})")
        facets = mesh.boundaries[where]
    else:
        facets = mesh.facets_satisfying(where, boundaries_only=True)
    if len(facets) == 0:                # the condition would be dropped silently (zero load, nothing held)
        raise ValueError(f"{name} boundary {where!r} holds no boundary facet of the mesh (a marker is tested at "
                         "the facets' midpoints); expected a boundary with at least one facet")
    return facets


def _dirichlet(basis, dirichlet):
    """Prescribed dofs and their values at load factor 1, from ``{boundary: (ux, uy) or callable}``.

    A dof on several boundaries (a corner) may be given several times with one value (to round-off);
    different values raise ``ValueError``: which boundary wins would depend on the dict's order."""
    dofs, values, sources = [], [], []
    for where, value in _conditions(dirichlet, "dirichlet", free=True).items():
        view = basis.get_dofs(_facets(basis.mesh, where, "dirichlet"))
        for component in range(2):
            d = view.all([f"u^{component + 1}"])
            if callable(value):
                x = basis.doflocs[:, d]
                v = np.asarray(value(x), dtype=float)
                if v.shape != x.shape:          # else indexed or concatenated into a numpy error, or broadcast
                    raise ValueError(f"dirichlet[{where!r}] returned shape {v.shape} for coordinates of shape "
                                     f"{x.shape}; expected displacements (2, n), one column per point")
                v = v[component]
            elif value[component] is None:
                continue
            else:
                v = np.full(len(d), float(value[component]))
            dofs.append(d)
            values.append(v)
            sources += [(where, component)] * len(d)
    if not dofs:
        return np.zeros(0, int), np.zeros(0)
    dofs, values = np.concatenate(dofs), np.concatenate(values)
    if not np.isfinite(values).all():
        raise ValueError("dirichlet prescribes NaN or infinite displacements; expected finite values (None leaves a "
                         "component free)")
    dofs, first, inverse = np.unique(dofs, return_index=True, return_inverse=True)
    high, low = np.full(len(dofs), -np.inf), np.full(len(dofs), np.inf)
    np.maximum.at(high, inverse, values)
    np.minimum.at(low, inverse, values)
    conflict = np.flatnonzero(high - low > 1e-12 * np.abs(values).max())
    if conflict.size:
        given = np.flatnonzero(inverse == conflict[0])
        x, y = basis.doflocs[:, dofs[conflict[0]]]
        component = "xy"[sources[given[0]][1]]
        given = ", ".join(f"{sources[i][0]!r} gives {values[i]:g}" for i in given)
        raise ValueError(f"dirichlet prescribes different u_{component} at the point ({x:g}, {y:g}): {given} "
                         f"({conflict.size} displacement(s) in conflict in all); expected one value per point: leave "
                         "the component free (None) on all but one boundary, or give equal values")
    return dofs, values[first]


def _external_force(basis, traction):
    """Nodal forces at load factor 1 of ``{boundary: (tx, ty) or callable(x) -> (2, ...)}``."""
    f = np.zeros(basis.N)
    for where, value in _conditions(traction, "traction", free=False).items():
        facet_basis = skfem.FacetBasis(basis.mesh, basis.elem, facets=_facets(basis.mesh, where, "traction"))
        x = np.array(facet_basis.global_coordinates())
        if callable(value):
            t = np.asarray(value(x), dtype=float)
            if t.shape != x.shape:              # else an einsum broadcast error, or a silent broadcast
                raise ValueError(f"traction[{where!r}] returned shape {t.shape} for coordinates of shape {x.shape}; "
                                 "expected tractions of the coordinates' shape (2, ...), (tx, ty) at every point")
        else:
            t = np.asarray(value, dtype=float)[:, None, None] + np.zeros_like(x)
        f += _traction_form.assemble(facet_basis, t=t)
    if not np.isfinite(f).all():
        raise ValueError("traction gives NaN or infinite nodal forces; expected finite tractions on every boundary")
    return f


def _load_factors(load_steps, start=0.0):
    """The load factors: ``load_steps`` equal steps from ``start`` to 1, or the factors given."""
    if isinstance(load_steps, numbers.Integral) and not isinstance(load_steps, bool):
        if load_steps < 1:
            raise ValueError(f"load_steps={load_steps!r}; expected a positive integer or increasing load factors")
        if start >= 1:
            raise ValueError(f"load_steps={load_steps!r} after load factor {start:g}: equal steps go to 1; give the "
                             "load factors that follow instead")
        return start + (1 - start) * np.arange(1, load_steps + 1) / load_steps
    factors = np.asarray(load_steps, dtype=float)
    if factors.ndim != 1 or len(factors) == 0 or not np.isfinite(factors).all():
        raise ValueError(f"load_steps={load_steps!r}; expected a positive integer or a sequence of load factors")
    return factors


def _check_initial(initial, basis, element):
    if not isinstance(initial, FEResult):
        raise TypeError(f"initial is {type(initial).__name__}; expected the FEResult of a previous solve")
    if initial.displacement.shape != (basis.N,) or initial.strain.shape[0] != basis.dx.size:
        raise ValueError(f"initial has {initial.displacement.size} degrees of freedom and {len(initial.strain)} "
                         f"points; this mesh with element={element!r} has {basis.N} and {basis.dx.size}: expected "
                         "a result of the same problem")


# ----------------------------------------------------------------------------- the solver
@dataclass
class FEResult:
    """Result of :func:`solve` (the values of the last converged load step unless said otherwise).

    Attributes
    ----------
    mesh, basis : scikit-fem Mesh and vector Basis
        ``basis.probes(points)`` interpolates ``displacement`` (see :meth:`displacement_at`).
    displacement : ndarray, ``(n_dofs,)``
        Nodal displacements, scikit-fem's interleaved order ``(u1, u2)`` per node.
    points : ndarray, ``(n_points, 2)``
        Quadrature point coordinates, in the order of ``strain`` and ``stress``.
    weights : ndarray, ``(n_points,)``
        Quadrature weights times the Jacobian: :math:`\\int f\\,dA = \\sum f(x_p) w_p`.
    strain, stress : ndarray, ``(n_points, 3)``
        Mandel strain and stress :math:`(\\cdot_{11}, \\cdot_{22}, \\sqrt2\\,\\cdot_{12})` at the points.
    load_factors : ndarray, ``(n_steps,)``
        Load factors of the converged load steps.
    displacements, reactions : ndarray, ``(n_steps, n_dofs)``
        Displacements and nodal reactions :math:`f_{int} - \\lambda f_{ext}` (non-zero on prescribed
        degrees of freedom) after every converged load step.
    newton_iterations : ndarray of int, ``(n_steps,)``
    residuals : list of lists of float
        Per load step, the relative residual before each Newton correction and at the end.
    converged : bool
        False if a load step did not converge (the result then stops at the last converged one).
    """

    mesh: object
    basis: object = field(repr=False)
    displacement: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    strain: np.ndarray = field(repr=False)
    stress: np.ndarray = field(repr=False)
    load_factors: np.ndarray
    displacements: np.ndarray = field(repr=False)
    reactions: np.ndarray = field(repr=False)
    newton_iterations: np.ndarray
    residuals: list
    converged: bool

    def displacement_at(self, points):
        """Displacements at the coordinates ``points``, interpolated by the basis (``basis.probes``).

        Parameters
        ----------
        points : array_like, shape (n, 2)
            Coordinates inside the mesh; one point may be ``(2,)``. Other shapes, points that are not
            finite and points outside the mesh raise ValueError.

        Returns
        -------
        ndarray of float64, shape (n, 2)
            :math:`(u_1, u_2)` of ``displacement`` (the last converged load step).
        """
        x, _ = self._inside(points)
        return (self.basis.probes(x) @ self.displacement).reshape(2, -1).T

    def strain_at(self, points):
        """Mandel strains at the coordinates ``points``, from the displacement gradient of the element
        found at each point (strains jump across elements).

        Parameters
        ----------
        points : array_like, shape (n, 2)
            Coordinates inside the mesh; one point may be ``(2,)``. Other shapes, points that are not
            finite and points outside the mesh raise ValueError.

        Returns
        -------
        ndarray of float64, shape (n, 3)
            :math:`(\\varepsilon_{11}, \\varepsilon_{22}, \\sqrt2\\,\\varepsilon_{12})` of ``displacement`` (the last
            converged load step).
        """
        (x, cells), b = self._inside(points), self.basis
        X = b.mapping.invF(x[:, :, None], tind=cells)
        grad = sum(b.elem.gbasis(b.mapping, X, k, tind=cells)[0].grad
                   * self.displacement[b.element_dofs[k, cells]][:, None] for k in range(b.Nbfun))
        return _mandel(0.5 * (grad + np.swapaxes(grad, 0, 1)))[..., 0].T

    def _inside(self, points):
        """``points`` ``(2,)`` or ``(n, 2)`` as coordinates ``(2, n)``, checked: finite and inside the mesh; and
        the element of each point (skfem's element finder, run once)."""
        x = np.asarray(points, dtype=float)
        if x.ndim not in (1, 2) or x.shape[-1] != 2:
            raise ValueError(f"points has shape {x.shape}; expected (2,) or (n, 2) coordinates")
        x = check_finite(x, name="points").reshape(-1, 2).T
        find = self.basis.mesh.element_finder(mapping=self.basis.mapping)
        try:
            cells = find(*x)
        except ValueError:
            first = next(i for i in range(x.shape[1]) if not _found(find, x[:, i:i + 1]))
            lo, hi = self.mesh.p.min(axis=1), self.mesh.p.max(axis=1)
            raise ValueError(f"points[{first}] = {tuple(x[:, first].tolist())} is outside the mesh (its nodes span "
                             f"x in [{lo[0]:g}, {hi[0]:g}], y in [{lo[1]:g}, {hi[1]:g}]); expected coordinates "
                             "inside the mesh") from None
        return x, cells


def _found(find, x):
    """Whether skfem's element finder ``find`` locates every point of ``x`` ``(2, n)``."""
    try:
        find(*x)
        return True
    except ValueError:
        return False


def solve(mesh, material, *, element="P2", dirichlet=None, traction=None, load_steps=1, tol=1e-10, max_iter=25,
          progress=False, initial=None):
    r"""Small-strain 2D finite elements with Newton iterations (see the module docstring).

    Parameters
    ----------
    mesh : skfem.MeshTri or skfem.MeshQuad
        With named boundaries (``mesh.with_boundaries({...})``) when boundaries are given by name.
    material : callable
        ``material(strain) -> (stress, tangent)``: Mandel ``(n_points, 3) -> (n_points, 3), (n_points, 3, 3)``
        for all quadrature points at once (:class:`LinearElastic`, :class:`J2Plasticity`, the RVE laws of
        :mod:`mslearn.multiscale`); with history, a ``commit()`` method called after each converged step,
        and a ``reset()`` method (back to the virgin state) that a fresh solve (``initial=None``) calls first,
        so that the same call gives the same result whatever the law computed before.
    element : {"P2", "P1", "Q2", "Q1"}
        Lagrange triangles (P) or quadrilaterals (Q) of degree 1 or 2, one per displacement component;
        quadrature points per element (the law's points): P1 1, P2 3, Q1 2x2, Q2 3x3.
    dirichlet : dict
        ``{boundary: (ux, uy)}`` with ``None`` for a free component, or ``{boundary: f}`` with
        ``f(x) -> (2, n)`` for coordinates ``x`` ``(2, n)``; ``boundary`` a name of ``mesh.boundaries``
        or a marker ``f(x) -> bool``. Values are scaled by the load factor. A point on several
        boundaries (a corner) takes a component from every boundary that prescribes it: different values
        raise ``ValueError`` (equal ones, to round-off, are fine).
    traction : dict, optional
        ``{boundary: (tx, ty)}`` (force per length) or ``{boundary: f}``, ``f(x) -> (2, ...)``; scaled
        by the load factor.
    load_steps : int or sequence of float
        Number of equal load steps to load factor 1, or the load factors themselves.
    tol : float
        Relative residual ending a Newton iteration (module docstring), ``0 < tol < 1``.
    max_iter : int
        Newton corrections per load step; reaching it warns (:class:`~mslearn.homogenization.ConvergenceWarning`)
        and stops the load stepping.
    progress : bool
        Show a progress bar over the load steps.
    initial : FEResult, optional
        Go on along the load path from a previous result of the same problem (mesh, element, boundary
        conditions; a stopped or non-converged one ends at its last converged step): its displacement
        is the start, ``load_steps`` are the load factors that follow (an int: equal steps from its
        last factor to 1), and its steps come first in the result. Pass the same ``material`` object:
        a law with history holds the state its last ``commit()`` left, that of the last converged step
        (a step that failed commits nothing). Two solves so chained give the one solve over all the
        factors, bit for bit for the laws of this module.

    Returns
    -------
    FEResult

    Examples
    --------
    A patch test: a bar stretched by 1 % in plane stress carries the uniform stress ``E * 0.01`` everywhere:

    >>> import numpy as np, skfem
    >>> mesh = skfem.MeshTri().refined(2).with_boundaries(
    ...     {"left": lambda x: x[0] == 0, "right": lambda x: x[0] == 1, "bottom": lambda x: x[1] == 0})
    >>> result = solve(mesh, LinearElastic(elastic_stiffness(1.0, 0.25, plane="stress")),
    ...                dirichlet={"left": (0.0, None), "bottom": (None, 0.0), "right": (0.01, None)})
    >>> result.converged, bool(np.allclose(result.stress, [0.01, 0.0, 0.0], atol=1e-10))
    (True, True)
    """
    if not callable(material):
        raise ValueError(f"material is {type(material).__name__}; expected a callable strain -> (stress, tangent)")
    check_relative_tolerance(tol)         # the residual starts at most about 1: tol >= 1 would not iterate
    check_integer(max_iter, 1, name="max_iter")
    basis = _basis(mesh, element)
    _check_mesh(mesh, basis)
    fixed, prescribed = _dirichlet(basis, dirichlet)
    _check_rigid_body_modes(basis, fixed)
    free = np.setdiff1d(np.arange(basis.N), fixed)
    f_ext = _external_force(basis, traction)
    shape = basis.dx.shape                                            # (n_elements, n_quadrature)
    n = math.prod(shape)

    def strain_of(u):
        return _mandel(sym_grad(basis.interpolate(u))).reshape(3, -1).T

    if initial is None:
        factors = _load_factors(load_steps)
        u = np.zeros(basis.N)
        done, displacements, reactions, newton, residuals = [], [], [], [], []
        final = None
        if hasattr(material, "reset"):    # a former solve's history would be the start of an unloaded body
            material.reset()
    else:
        _check_initial(initial, basis, element)
        start = float(initial.load_factors[-1]) if len(initial.load_factors) else 0.0
        factors = _load_factors(load_steps, start)
        u = initial.displacement.copy()
        done, displacements, reactions = list(initial.load_factors), list(initial.displacements), list(initial.reactions)
        newton = list(initial.newton_iterations)
        residuals = [list(h) for h in initial.residuals[:len(done)]]      # not those of a step that failed
        final = (initial.strain, initial.stress) if len(done) else None
    converged = True
    bar = progress_bar(progress, len(factors), "FE (Newton)")
    for step, lam in enumerate(factors):
        u_step = u.copy()
        u_step[fixed] = lam * prescribed
        history = []
        for k in range(max_iter + 1):
            strain = strain_of(u_step)
            stress, tangent = _check_law_output(material(strain), n, where=f"load step {step}, Newton iteration {k}")
            f_int = _internal_force_form.assemble(basis, S=_points_last(stress, shape))
            R = f_int - lam * f_ext
            scale = max(np.linalg.norm(lam * f_ext), np.linalg.norm(f_int))
            history.append(float(np.linalg.norm(R[free]) / scale) if scale > 0 else 0.0)
            if history[-1] <= tol or k == max_iter:
                break
            K = _stiffness_form.assemble(basis, C=_points_last(tangent, shape))
            u_step += skfem.solve(*skfem.condense(K, -R, D=fixed))
        residuals.append(history)
        if history[-1] > tol:
            converged = False
            warnings.warn(f"FE: Newton did not converge in load step {step} (load factor {lam:g}): relative residual "
                          f"{history[-1]:.3e} > tol={tol:g} after max_iter={max_iter} corrections; stopping at the "
                          "last converged step (use more load steps)", ConvergenceWarning, stacklevel=2)
            break
        if hasattr(material, "commit"):
            material.commit()
        u = u_step
        done.append(lam)
        newton.append(k)
        displacements.append(u.copy())
        reactions.append(R)
        final = (strain, stress)
        if bar is not None:
            bar.set_postfix(newton=k, residual=f"{history[-1]:.1e}")
            bar.update(1)
    if bar is not None:
        bar.close()
    if final is None:
        final = (np.full((n, 3), np.nan), np.full((n, 3), np.nan))
    return FEResult(mesh=mesh, basis=basis, displacement=u, points=basis.mapping.F(basis.X).reshape(2, -1).T,
                    weights=basis.dx.reshape(-1), strain=final[0], stress=final[1], load_factors=np.array(done),
                    displacements=np.array(displacements).reshape(-1, basis.N),
                    reactions=np.array(reactions).reshape(-1, basis.N), newton_iterations=np.array(newton, int),
                    residuals=residuals, converged=converged)
