r"""Hyperelastic strain-energy models: a polyconvex energy network, the classic Neo-Hooke and
Mooney–Rivlin fits and an unconstrained stress MLP, on Treloar's rubber data.

A hyperelastic material is described by a strain-energy density :math:`W(\mathbf F)`; every stress
follows from it, the first Piola–Kirchhoff (nominal) stress being :math:`\mathbf P = \partial W /
\partial \mathbf F`. A network that predicts *W* instead of the stress inherits, by construction, the
physics a black-box stress regressor has to learn from data (and does not, outside of it):

* **Objectivity.** *W* depends on :math:`\mathbf F` only through the right Cauchy–Green tensor
  :math:`\mathbf C = \mathbf F^\mathsf T \mathbf F`, here through the invariants of an isotropic
  material, :math:`I_1 = \operatorname{tr}\mathbf C = |\mathbf F|^2`, :math:`I_2 = \tfrac12(I_1^2 -
  \operatorname{tr}\mathbf C^2) = |\operatorname{cof}\mathbf F|^2` and :math:`J = \det\mathbf F`, so
  :math:`W(\mathbf Q\mathbf F) = W(\mathbf F)` for every rotation :math:`\mathbf Q`.
* **A stress-free, energy-free reference state.** With :math:`\psi(I_1, I_2, J)` the network, the
  energy is normalized as in Linka et al.'s CANN and Klein et al.'s polyconvex networks,

  .. math:: W = \psi(I_1, I_2, J) - \psi(3, 3, 1) - n\,(J - 1), \qquad
            n = \big(2\psi_{,1} + 4\psi_{,2} + \psi_{,J}\big)\big|_{\mathbf F = \mathbf I},

  because :math:`\partial W/\partial\mathbf F = 2\psi_{,1}\mathbf F + 2\psi_{,2}(I_1\mathbf F -
  \mathbf F\mathbf C) + \psi_{,J} J\mathbf F^{-\mathsf T} - nJ\mathbf F^{-\mathsf T}` equals
  :math:`(2\psi_{,1} + 4\psi_{,2} + \psi_{,J} - n)\,\mathbf I = \mathbf 0` at :math:`\mathbf F =
  \mathbf I`. The correction is affine in :math:`\det\mathbf F` and keeps polyconvexity.
* **Polyconvexity** (Ball 1977): *W* is a convex function of :math:`(\mathbf F, \operatorname{cof}
  \mathbf F, \det\mathbf F)`, the condition under which the boundary-value problems of finite
  elasticity have solutions, and which implies rank-one convexity (material stability,
  :math:`t \mapsto W(\mathbf F + t\,\mathbf a\otimes\mathbf b)` is convex). :math:`I_1 = |\mathbf
  F|^2` is convex in :math:`\mathbf F`, :math:`I_2 = |\operatorname{cof}\mathbf F|^2` convex in
  :math:`\operatorname{cof}\mathbf F`, :math:`J` affine in :math:`\det\mathbf F` and :math:`J +
  1/J - 2` convex in it for :math:`J > 0`. A function that is **convex and non-decreasing** in the
  convex arguments :math:`(I_1, I_2, J + 1/J - 2)` and **convex** in the affine one :math:`J` is
  therefore polyconvex. :math:`\psi` is an input-convex neural network (Amos, Xu & Kolter 2017):

  .. math:: z_1 = \sigma(\mathbf A_1 c + \mathbf B_1 a + b_1), \quad
            z_{k+1} = \sigma(\mathbf W_k z_k + \mathbf A_{k+1} c + \mathbf B_{k+1} a + b_{k+1}), \quad
            \psi = w^\mathsf T z_L + \mathbf A_{L+1} c

  on the convex features :math:`c = ((I_1 - 3)/s_1, (I_2 - 3)/s_2[, (J + 1/J - 2)/s_3])` and the
  affine one :math:`a = (J - 1)/s_4` (compressible only), with :math:`\sigma` the softplus (convex,
  non-decreasing) and all of :math:`\mathbf W_k, \mathbf A_k, w` non-negative (stored as
  softplus of free parameters, so that L-BFGS optimizes without constraints). Non-negative
  combinations and non-decreasing convex functions of convex functions are convex, and
  :math:`\mathbf B_k` may have any sign because :math:`a` enters affinely — the same as Klein et
  al.'s non-negative weights on the pair :math:`(J, -J)`. The scales :math:`s_i > 0` (the largest
  feature of the training data) leave convexity unchanged. ``hidden_layer_sizes=()`` reduces
  :math:`\psi` to :math:`A_1 c`: a Mooney–Rivlin energy with non-negative constants.

Stresses are derivatives of *W* by automatic differentiation (double precision throughout).

Incompressible test modes
-------------------------
Treloar's rubber is incompressible, :math:`J = 1`, and the stress is :math:`\mathbf P = \partial W/
\partial\mathbf F - p\,\mathbf F^{-\mathsf T}` with a pressure *p* set by the boundary conditions.
With :math:`W_1 = \partial W/\partial I_1`, :math:`W_2 = \partial W/\partial I_2`, eliminating *p*
with the stress-free thickness :math:`P_{33} = 0` gives the nominal stress in the loading direction
(Rivlin's relations):

===============  =================================  =====================
mode             principal stretches                nominal stress :math:`P_{11}`
===============  =================================  =====================
``uniaxial``     λ, λ\ :sup:`-1/2`, λ\ :sup:`-1/2`  :math:`2(\lambda - \lambda^{-2})(W_1 + W_2/\lambda)`
``equibiaxial``  λ, λ, λ\ :sup:`-2`                 :math:`2(\lambda - \lambda^{-5})(W_1 + \lambda^2 W_2)`
``pure_shear``   λ, 1, λ\ :sup:`-1`                 :math:`2(\lambda - \lambda^{-3})(W_1 + W_2)`
===============  =================================  =====================

``predict(stretch, mode)`` uses these relations; the general route, ``stress(F,
pressure="traction_free")``, computes :math:`\partial W/\partial\mathbf F` of the 3×3 deformation
gradient (:func:`deformation_gradient`) by autograd and subtracts :math:`p\mathbf F^{-\mathsf T}` with
*p* from :math:`P_{33} = 0`; the two agree to rounding (the tests check 1e-8).

What uniaxial data can and cannot identify
------------------------------------------
In uniaxial tension :math:`W_2` enters divided by :math:`\lambda`, and :math:`I_2 \le 15` over
Treloar's uniaxial range, whereas equibiaxial tension reaches :math:`I_2 = \lambda^4 + 2\lambda^{-2}
\approx 390`. Convexity makes :math:`W_2` non-decreasing, so any :math:`W_2 > 0` the network uses to
fit the uniaxial curve is extrapolated to at least the same value there, multiplied by
:math:`2\lambda^3 \approx 180`: trained on uniaxial tension alone with both invariants free, the
network fits it to R² 0.9998 and predicts equibiaxial stresses tens of times too large (R² -6600 to
-9800 over 8 seeds; pure shear -9 to -19). ``second_invariant_penalty`` (default 1e-3) adds to the
loss an L1 penalty on the non-negative weights through which :math:`I_2` enters — Occam's razor on
the direction uniaxial data cannot see, as in Linka & Kuhl's sparse model discovery: the energy
depends on :math:`I_2` only as far as the data demand. On all three modes the data do (R² 0.998 /
0.993 / 0.998 with or without the penalty); on uniaxial tension alone they do not, and the network
predicts equibiaxial tension and pure shear with R² 0.88–0.90 and 0.988 (8 seeds).

Compressible energies
---------------------
``compressible=True`` adds :math:`J` (through the convex :math:`J + 1/J - 2`, which grows without
bound as :math:`J \to 0`, and the affine :math:`J - 1`) and fits deformation gradients and stresses:
``fit(F, P, mode="general")`` with ``F`` and ``P`` of shape ``(n, 3, 3)``. This is how an effective
(homogenized) energy of a composite RVE is learned from the RVE's average stresses under average
deformations: the effective energy of an RVE made of polyconvex phases need not be polyconvex in
general, but a polyconvex surrogate is a stable, well-posed material model by construction.

Small strain: the effective energy of an elasto-plastic RVE
-----------------------------------------------------------
:class:`StrainEnergyNetwork` is the small-strain counterpart on Mandel vectors: an energy convex in
the strain itself (an input-convex network of the strain components and of convex norm features,
made energy- and stress-free at zero strain), fitted to the average stresses of an RVE under
monotonic radial loading (:func:`mslearn.datasets.radial_paths`), where J2 plasticity with
hardening is nearly a nonlinear elastic law (the class docstring: the construction, why not the
invariants above, and what the data must be).

Classic models and baseline
---------------------------
:class:`NeoHookean` (:math:`W = C_{10}(I_1 - 3)`) and :class:`MooneyRivlin` (:math:`+ C_{01}(I_2 -
3)`) are linear in their constants and fitted by non-negative least squares; :class:`NominalStressMLP`
maps (stretch, one-hot mode) to the stress with no physics at all. All share ``fit(X, y, mode)``,
``predict(X, mode)`` and ``score(X, y, mode)`` (R²). Measured on Treloar's data
(:func:`load_treloar`), R² uniaxial / equibiaxial / pure shear:

=================================  ========================  =================================
model                              trained on all modes      trained on uniaxial tension only
=================================  ========================  =================================
HyperelasticNetwork                0.9982 / 0.9931 / 0.9975  0.9992 / 0.898 / 0.9885
NeoHookean                         0.848 / 0.935 / 0.824     0.852 / 0.952 / 0.738
MooneyRivlin                       0.839 / 0.987 / 0.862     0.852 / 0.952 / 0.738
HyperelasticNetwork, no convexity  0.9984 / 0.9922 / 0.9972  0.9993 / -46 / 0.83
NominalStressMLP                   0.9999 / 0.9995 / 0.9999  0.9993 / 0.529 / 0.850
=================================  ========================  =================================

with the defaults and ``random_state=0``; the fitted constants are :math:`C_{10}` = 0.2141 MPa
(Neo-Hooke, all modes; the dataset card's reference fit), 0.2066 and :math:`C_{01}` = 0.0025 MPa
(Mooney–Rivlin; on uniaxial tension alone NNLS sets :math:`C_{01} = 0`). Over 8 seeds, trained on
uniaxial tension: the network 0.878–0.898 / 0.988, the network without convexity (``polyconvex=False``)
-46 to 0.89 / 0.83 to 0.99, the MLP -2.4 to 0.77 / 0.13 to 0.95 (equibiaxial / pure shear). On all
modes every seed of the network scores at least 0.998 / 0.991 / 0.997. Fits take 1–2 s on one CPU core.

References
----------
L. R. G. Treloar, "Stress-strain data for vulcanised rubber under various types of deformation",
Trans. Faraday Soc. 40, 59–70 (1944).
J. M. Ball, "Convexity conditions and existence theorems in nonlinear elasticity", Arch. Ration.
Mech. Anal. 63, 337–403 (1977).
B. Amos, L. Xu, J. Z. Kolter, "Input convex neural networks", ICML 2017.
K. Linka, M. Hillgärtner, K. P. Abdolazizi, R. C. Aydin, M. Itskov, C. J. Cyron, "Constitutive
artificial neural networks: a fast and general approach to predictive data-driven constitutive
modeling by deep learning", J. Comput. Phys. 429, 110010 (2021).
D. K. Klein, M. Fernández, R. J. Martin, P. Neff, O. Weeger, "Polyconvex anisotropic hyperelasticity
with neural networks", J. Mech. Phys. Solids 159, 104703 (2022).
K. Linka, E. Kuhl, "A new family of Constitutive Artificial Neural Networks towards automated model
discovery", Comput. Methods Appl. Mech. Eng. 403, 115731 (2023).
"""
from __future__ import annotations

import math
import numbers
import types
from importlib import resources

import numpy as np
import torch
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted

from .._backend import cpu_threads, like, progress_bar
from .._backend import device as resolve_device
from .._validation import check_flag, check_integer, check_real
from ..nn import integer_seed, seeded
from ._torch_estimator import NetworkPickling, check_training_settings, fit_network, keeps_state_on_failure
from .mlp import MLPRegressor

__all__ = ["HyperelasticNetwork", "NeoHookean", "MooneyRivlin", "NominalStressMLP", "deformation_gradient",
           "load_treloar", "StrainEnergyNetwork"]

MODES = ("uniaxial", "equibiaxial", "pure_shear")
"""The incompressible test modes, in the order of their integer codes."""
GENERAL = "general"
_DTYPE = torch.float64


# ----------------------------------------------------------------------------- data
def load_treloar():
    """Treloar's (1944) stress–stretch data of vulcanized natural rubber, as a table.

    Returns
    -------
    pandas.DataFrame
        42 rows, 14 per mode, with the columns ``mode`` (``"uniaxial"``, ``"equibiaxial"`` or
        ``"pure_shear"``), ``stretch`` (the principal stretch λ in the loading direction) and
        ``nominal_stress_MPa`` (the first Piola–Kirchhoff stress :math:`P_{11}` in MPa). Each mode
        starts at the reference state (λ = 1, zero stress).

    Notes
    -----
    L. R. G. Treloar, "Stress-strain data for vulcanised rubber under various types of deformation",
    Transactions of the Faraday Society 40 (1944) 59–70; values as tabulated for the constitutive
    artificial neural network benchmarks of Linka & Kuhl (LivingMatterLab/CANN). Other digitizations
    of the same figures differ slightly. Cite Treloar (1944) where the data are used; the dataset
    card is ``mslearn/data/treloar/README.md``.

    Examples
    --------
    >>> from mslearn.surrogates import load_treloar
    >>> table = load_treloar()
    >>> table.groupby("mode").size().to_dict()
    {'equibiaxial': 14, 'pure_shear': 14, 'uniaxial': 14}
    """
    import pandas as pd

    with resources.files("mslearn").joinpath("data", "treloar", "treloar.csv").open() as handle:
        return pd.read_csv(handle)


# ----------------------------------------------------------------------------- input checks
def _as_numpy(values, name):
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    check_real(values, name=name)
    return np.array(values, dtype=np.float64)   # a copy: never a view of the caller's (read-only) array


def _check_stretch(X, name="X"):
    """Stretches as float64 (n,): positive and finite; ``(n, 1)`` (one feature column) is accepted."""
    values = _as_numpy(X, name)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} has shape {values.shape}; expected stretches of shape (n,) or (n, 1) for the "
                         f"modes {list(MODES)} (deformation gradients (n, 3, 3) go with mode='general')")
    if values.size == 0:
        raise ValueError(f"{name} is empty; expected at least one stretch")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite stretches")
    if np.any(values <= 0):
        raise ValueError(f"{name} contains a stretch <= 0 (smallest {values.min():g}); a stretch is a ratio of "
                         "lengths and must be positive")
    return values


def _check_target(y, shape, name="y"):
    values = _as_numpy(y, name)
    if values.ndim == 2 and values.shape[1] == 1 and len(shape) == 1:
        values = values[:, 0]
    if values.shape != tuple(shape):
        raise ValueError(f"{name} has shape {values.shape}; expected {tuple(shape)}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite stresses")
    return values


def _mode_codes(mode, n):
    """Integer codes (0, 1, 2 for :data:`MODES`) of one mode name, or of one name per sample."""
    if isinstance(mode, str):
        names = [mode] * n
    else:
        names = list(np.asarray(mode, dtype=object).ravel())
        if len(names) != n:
            raise ValueError(f"mode has {len(names)} entries for {n} stretches; expected one mode name or one "
                             "per stretch")
    unknown = sorted({str(name) for name in names} - set(MODES))
    if unknown:
        raise ValueError(f"unknown mode {unknown}; expected one of {list(MODES)} (or 'general' with deformation "
                         "gradients, for compressible networks)")
    return np.array([MODES.index(name) for name in names], dtype=np.int64)


def _is_general(mode):
    return isinstance(mode, str) and mode == GENERAL


def _mode_names(mode, n):
    """The distinct mode names of ``mode`` (one name, or one per sample; checked), in :data:`MODES` order."""
    if _is_general(mode):
        return [GENERAL]
    return [MODES[code] for code in sorted(set(_mode_codes(mode, n).tolist()))]


def _prediction_mode(model, mode):
    """``mode`` as given, or, where it is ``None``, the one mode the model was fitted on.

    A model fitted on several modes has no default: a silent one would predict, and score, every stretch
    as that mode, as happened in cross-validation, which passes ``mode`` to ``fit`` alone unless routed."""
    if mode is not None:
        return mode
    fitted = list(getattr(model, "modes_", [MODES[0]]))    # a model pickled before modes_ predicted uniaxial
    if len(fitted) == 1:
        return fitted[0]
    raise ValueError(f"mode is None, but the model was fitted on the modes {fitted}; pass mode= (one name, or one "
                     "per stretch). In cross-validation or a grid search, route it to score as well as to fit: "
                     "sklearn.set_config(enable_metadata_routing=True) and "
                     "model.set_fit_request(mode=True).set_score_request(mode=True)")


def _check_deformation(F, name="F"):
    """F as a float64 tensor (..., 3, 3) with det F > 0 (numpy or torch in; a tensor keeps its graph)."""
    tensor = check_real(F, name=name) if isinstance(F, torch.Tensor) else torch.as_tensor(_as_numpy(F, name))
    if tensor.ndim < 2 or tuple(tensor.shape[-2:]) != (3, 3):
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}; expected deformation gradients (..., 3, 3)")
    tensor = tensor.to(_DTYPE)
    values = tensor.detach()
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} contains NaN or infinite entries")
    det = torch.linalg.det(values)
    if bool((det <= 0).any()):
        raise ValueError(f"{name} has det F <= 0 (smallest {det.min().item():.3g}); a deformation gradient keeps "
                         "volumes positive")
    return tensor


# ----------------------------------------------------------------------------- kinematics
def _principal_stretches(stretch, code):
    """The principal stretches (λ1, λ2, λ3) of the incompressible test modes (tensors)."""
    one = torch.ones_like(stretch)
    second = torch.where(code == 0, stretch ** -0.5, torch.where(code == 1, stretch, one))
    third = torch.where(code == 0, stretch ** -0.5, torch.where(code == 1, stretch ** -2, 1 / stretch))
    return stretch, second, third


def deformation_gradient(stretch, mode):
    """Deformation gradients :math:`\\mathbf F = \\operatorname{diag}(\\lambda_1, \\lambda_2, \\lambda_3)` of
    the incompressible test modes (:math:`\\det\\mathbf F = 1`).

    Parameters
    ----------
    stretch : array_like, shape (n,)
        The stretch λ > 0 in the loading direction (axis 0).
    mode : str or array_like of str
        ``"uniaxial"`` (λ, λ^-1/2, λ^-1/2), ``"equibiaxial"`` (λ, λ, λ^-2) or ``"pure_shear"``
        (λ, 1, 1/λ); one name for all stretches or one per stretch.

    Returns
    -------
    F : ndarray or tensor, shape (n, 3, 3)
        float64; a tensor when ``stretch`` is one.

    Examples
    --------
    >>> from mslearn.surrogates import deformation_gradient
    >>> deformation_gradient([4.0], "equibiaxial")[0].diagonal().tolist()
    [4.0, 4.0, 0.0625]
    """
    lam = _check_stretch(stretch, name="stretch")
    code = torch.as_tensor(_mode_codes(mode, len(lam)))
    stretches = _principal_stretches(torch.as_tensor(lam), code)
    F = torch.diag_embed(torch.stack(stretches, dim=-1))
    if isinstance(stretch, torch.Tensor):
        return F.to(stretch.device)
    return F.numpy()


def _mode_invariants(stretch, code):
    l1, l2, l3 = _principal_stretches(stretch, code)
    I1 = l1 ** 2 + l2 ** 2 + l3 ** 2
    I2 = (l1 * l2) ** 2 + (l2 * l3) ** 2 + (l1 * l3) ** 2
    return I1, I2


def _mode_stress(stretch, code, W1, W2):
    """Nominal stress :math:`P_{11}` of the incompressible test modes from :math:`W_1 = \\partial W/\\partial
    I_1` and :math:`W_2 = \\partial W/\\partial I_2`, the pressure eliminated with :math:`P_{33} = 0`."""
    lam = stretch
    uniaxial = 2 * (lam - lam ** -2) * (W1 + W2 / lam)
    equibiaxial = 2 * (lam - lam ** -5) * (W1 + lam ** 2 * W2)
    pure_shear = 2 * (lam - lam ** -3) * (W1 + W2)
    return torch.where(code == 0, uniaxial, torch.where(code == 1, equibiaxial, pure_shear))


def _invariants(F):
    """:math:`I_1 = \\operatorname{tr}\\mathbf C`, :math:`I_2 = \\tfrac12(I_1^2 - \\operatorname{tr}\\mathbf C^2)`,
    :math:`J = \\det\\mathbf F` of :math:`\\mathbf C = \\mathbf F^\\mathsf T\\mathbf F`."""
    C = F.mT @ F
    I1 = torch.diagonal(C, dim1=-2, dim2=-1).sum(-1)
    I2 = 0.5 * (I1 ** 2 - (C * C).sum((-2, -1)))
    return I1, I2, torch.linalg.det(F)


# ----------------------------------------------------------------------------- shared base
class _HyperelasticModel(RegressorMixin, BaseEstimator):
    """An isotropic energy :math:`\\psi(I_1, I_2, J)` and everything that follows from it; subclasses
    implement ``_psi`` (torch, float64) and ``fit``."""

    _fitted_attribute = None

    def _is_compressible(self):
        return False

    def _torch_device(self):
        return torch.device("cpu")

    def _psi(self, I1, I2, J):  # pragma: no cover - abstract
        raise NotImplementedError

    def _energy_from_invariants(self, I1, I2, J, create_graph=False):
        """:math:`W = \\psi(I_1, I_2, J) - \\psi(3, 3, 1) - n (J - 1)`: zero energy and stress at F = I."""
        reference = [torch.tensor(value, dtype=_DTYPE, device=I1.device, requires_grad=True)
                     for value in (3.0, 3.0, 1.0)]
        with torch.enable_grad():
            psi0 = self._psi(*reference)
            grads = torch.autograd.grad(psi0, reference, create_graph=create_graph, allow_unused=True)
        d1, d2, dJ = (g if g is not None else torch.zeros((), dtype=_DTYPE, device=I1.device) for g in grads)
        n = 2 * d1 + 4 * d2 + dJ
        return self._psi(I1, I2, J) - psi0 - n * (J - 1)

    def _nominal(self, stretch, code, create_graph=False):
        """P11 of the test modes by Rivlin's relations, W1 and W2 by autograd at J = 1."""
        I1, I2 = _mode_invariants(stretch, code)
        I1 = I1.detach().requires_grad_(True)
        I2 = I2.detach().requires_grad_(True)
        with torch.enable_grad():
            psi = self._psi(I1, I2, torch.ones_like(I1))
            W1, W2 = torch.autograd.grad(psi.sum(), (I1, I2), create_graph=create_graph, allow_unused=True)
        W1 = torch.zeros_like(I1) if W1 is None else W1
        W2 = torch.zeros_like(I1) if W2 is None else W2
        return _mode_stress(stretch, code, W1, W2)

    def _energy_of_F(self, F, create_graph=False):
        return self._energy_from_invariants(*_invariants(F), create_graph=create_graph)

    def _stress_of_F(self, F, create_graph=False):
        F = F if F.requires_grad else F.detach().requires_grad_(True)
        with torch.enable_grad():
            W = self._energy_of_F(F, create_graph=create_graph)
            (P,) = torch.autograd.grad(W.sum(), F, create_graph=create_graph)
        return P

    # -- the public interface shared by every model --------------------------------------------------
    def predict(self, X, mode=None):
        """Predicted stresses.

        Parameters
        ----------
        X : array_like
            Stretches λ, shape (n,), for the test modes; deformation gradients (n, 3, 3) with
            ``mode="general"`` (compressible networks).
        mode : str or array_like of str, optional
            ``"uniaxial"``, ``"equibiaxial"``, ``"pure_shear"`` (one for all stretches or one per
            stretch), or ``"general"``. Default: the mode the model was fitted on (``modes_``), which
            must then be one; a model fitted on several needs it (a ``ValueError`` otherwise).

        Returns
        -------
        ndarray
            The nominal stress :math:`P_{11}`, shape (n,), for the test modes; the first
            Piola–Kirchhoff stress (n, 3, 3) for ``"general"``.
        """
        check_is_fitted(self, self._fitted_attribute)
        mode = _prediction_mode(self, mode)
        if _is_general(mode):
            if not self._is_compressible():
                raise ValueError("an incompressible model has no stress for a general F without a pressure; "
                                 "use stress(F, pressure=...) or a compressible network")
            return _as_numpy(self.stress(X), "the stress")
        if self._is_compressible():
            raise ValueError("a compressible network predicts deformation gradients with mode='general'")
        lam = _check_stretch(X)
        device = self._torch_device()
        code = torch.as_tensor(_mode_codes(mode, len(lam)), device=device)
        stretch = torch.as_tensor(lam, dtype=_DTYPE, device=device)
        return self._nominal(stretch, code).detach().cpu().numpy()

    def score(self, X, y, mode=None, sample_weight=None):
        """R² of ``predict(X, mode)`` against the stresses ``y`` (variance-weighted over the nine
        components for ``mode="general"``).

        Parameters
        ----------
        X, mode
            As in :meth:`predict`.
        y : array_like
            True stresses, of the shape :meth:`predict` returns: (n,), or (n, 3, 3) for ``"general"``.
        sample_weight : array_like, shape (n,), optional
            Weights of the samples; default ``None``: equal weights.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If ``y`` has another shape or is not finite, or as :meth:`predict`.
        """
        prediction = self.predict(X, mode=mode)
        truth = _check_target(y, prediction.shape)
        if prediction.ndim > 1:
            return float(r2_score(truth.reshape(len(truth), -1), prediction.reshape(len(prediction), -1),
                                  sample_weight=sample_weight, multioutput="variance_weighted"))
        return float(r2_score(truth, prediction, sample_weight=sample_weight))

    def energy(self, F):
        """The strain energy density :math:`W(\\mathbf F)` (zero at :math:`\\mathbf F = \\mathbf I`).

        Parameters
        ----------
        F : array_like or tensor, shape (..., 3, 3)
            Deformation gradients with :math:`\\det\\mathbf F > 0`; any leading axes. For an
            incompressible model only :math:`\\det\\mathbf F = 1` is physical (elsewhere the
            value is that of the same formula).

        Returns
        -------
        ndarray or tensor, shape (...)
            float64, in the units of the training stresses; a tensor when ``F`` is one (kept on the
            autograd graph when ``F`` requires grad).
        """
        check_is_fitted(self, self._fitted_attribute)
        tensor = _check_deformation(F).to(self._torch_device())
        keep = isinstance(F, torch.Tensor) and F.requires_grad
        with torch.set_grad_enabled(keep):
            W = self._energy_of_F(tensor, create_graph=keep)
        return like(W if keep else W.detach(), F)

    def stress(self, F, pressure=None):
        """The first Piola–Kirchhoff stress :math:`\\mathbf P = \\partial W/\\partial\\mathbf F - p\\,
        \\mathbf F^{-\\mathsf T}`, by autograd.

        Parameters
        ----------
        F : array_like or tensor, shape (..., 3, 3)
            Deformation gradients with :math:`\\det\\mathbf F > 0`.
        pressure : None, float, array_like of shape (...), or "traction_free"
            The pressure *p* of an incompressible material. ``None``: no pressure term (the stress of
            a compressible energy). ``"traction_free"``: *p* such that :math:`P_{33} = 0`, the
            stress-free thickness of Treloar's three tests (which also gives :math:`P_{22} = 0` in
            uniaxial tension).

        Returns
        -------
        ndarray or tensor, shape (..., 3, 3)
            Zero at :math:`\\mathbf F = \\mathbf I` (with ``pressure=None``).
        """
        check_is_fitted(self, self._fitted_attribute)
        tensor = _check_deformation(F).to(self._torch_device())
        keep = isinstance(F, torch.Tensor) and F.requires_grad
        P = self._stress_of_F(tensor, create_graph=keep)
        if pressure is not None:
            inverse_transpose = torch.linalg.inv(tensor).mT
            if isinstance(pressure, str):
                if pressure != "traction_free":
                    raise ValueError(f"pressure = {pressure!r}; expected None, a number, an array or "
                                     "'traction_free'")
                p = P[..., 2, 2] / inverse_transpose[..., 2, 2]
            else:
                given = (check_real(pressure, name="pressure") if isinstance(pressure, torch.Tensor)
                         else _as_numpy(pressure, "pressure"))
                p = torch.as_tensor(given, dtype=_DTYPE, device=P.device).expand(P.shape[:-2])
            P = P - p[..., None, None] * inverse_transpose
        return like(P if keep else P.detach(), F)


# ----------------------------------------------------------------------------- classic models
def _linear_mode_basis(stretch, code):
    """Columns of P11 per unit C10 and per unit C01 (W1 = C10, W2 = C01) for the test modes."""
    lam = stretch
    factor = np.where(code == 0, lam - lam ** -2.0, np.where(code == 1, lam - lam ** -5.0, lam - lam ** -3.0))
    second = np.where(code == 0, 1 / lam, np.where(code == 1, lam ** 2, 1.0))
    return np.column_stack([2 * factor, 2 * factor * second])


class MooneyRivlin(_HyperelasticModel):
    """Mooney–Rivlin energy :math:`W = C_{10}(I_1 - 3) + C_{01}(I_2 - 3)` (incompressible).

    The nominal stress is linear in the constants, which are fitted jointly over the given modes by
    non-negative least squares (:func:`scipy.optimize.nnls`): with :math:`C_{10}, C_{01} \\ge 0` the
    energy is polyconvex. Same interface as :class:`HyperelasticNetwork` (``fit``, ``predict``,
    ``score``, ``energy``, ``stress``).

    Attributes
    ----------
    c10_, c01_ : float
        The constants, in the units of the training stresses (MPa for :func:`load_treloar`).
    n_features_in_ : int
        1: the stretch, the one column of ``X`` (scikit-learn's count, which
        :func:`mslearn.deployment.save` checks ``training_data`` against).
    modes_ : list of str
        The modes of the training data; the default of :meth:`predict` when there is one.

    Examples
    --------
    >>> from mslearn.surrogates import MooneyRivlin, load_treloar
    >>> table = load_treloar()
    >>> model = MooneyRivlin().fit(table.stretch, table.nominal_stress_MPa, mode=table["mode"])
    >>> round(model.c10_, 4), round(model.c01_, 4)
    (0.2066, 0.0025)
    """

    _fitted_attribute = "c10_"
    _n_constants = 2

    def __init__(self):
        pass

    def fit(self, X, y, mode="uniaxial"):
        """Fit the constants to the nominal stresses ``y`` at the stretches ``X`` of ``mode``.

        Parameters
        ----------
        X : array_like, shape (n,) or (n, 1)
            Stretches λ > 0.
        y : array_like, shape (n,) or (n, 1)
            Nominal stresses :math:`P_{11}`, finite.
        mode : str or array_like of str, default "uniaxial"
            ``"uniaxial"``, ``"equibiaxial"`` or ``"pure_shear"``: one for all stretches or one per
            stretch (e.g. the ``mode`` column of :func:`load_treloar`).

        Returns
        -------
        self
            The fitted model (``c10_``, ``c01_``; ``modes_``, the modes of the data, the default of
            :meth:`predict` when there is one).

        Raises
        ------
        ValueError
            If a stretch is not positive and finite, ``y`` has another length or is not finite, or a
            mode is unknown or ``mode`` has another length.
        """
        lam = _check_stretch(X)
        code = _mode_codes(mode, len(lam))
        stress = _check_target(y, lam.shape)
        constants, _ = nnls(_linear_mode_basis(lam, code)[:, :self._n_constants], stress)
        self.c10_ = float(constants[0])
        self.c01_ = float(constants[1]) if self._n_constants > 1 else 0.0
        self.n_features_in_ = 1
        self.modes_ = _mode_names(mode, len(lam))
        return self

    def _psi(self, I1, I2, J):
        return self.c10_ * (I1 - 3) + self.c01_ * (I2 - 3)


class NeoHookean(MooneyRivlin):
    """Neo-Hookean energy :math:`W = C_{10}(I_1 - 3)` (incompressible; shear modulus :math:`2C_{10}`),
    fitted by non-negative least squares like :class:`MooneyRivlin` (``c01_`` is 0).

    Examples
    --------
    >>> from mslearn.surrogates import NeoHookean, load_treloar
    >>> table = load_treloar()
    >>> model = NeoHookean().fit(table.stretch, table.nominal_stress_MPa, mode=table["mode"])
    >>> round(model.c10_, 3)
    0.214
    """

    _n_constants = 1


# ----------------------------------------------------------------------------- the network
def _softplus(x):
    """:math:`\\log(1 + e^x)`, smooth and finite with its first two derivatives for every x (torch's
    ``softplus`` switches to x above 20, a jump of 2e-9 that finite differences of the energy and the
    line search would see; ``logaddexp`` has a NaN second derivative far below zero)."""
    return torch.where(x > 0, x + torch.log1p(torch.exp(-x.clamp_min(0))), torch.log1p(torch.exp(x.clamp_max(0))))


class _InvariantICNN(torch.nn.Module):
    """Input-convex network ψ(c, a): convex and non-decreasing in ``c`` (n, n_convex), convex in ``a``
    (n, n_affine). With ``polyconvex=False`` the same architecture with free weights (an ablation)."""

    def __init__(self, n_convex, n_affine, hidden, polyconvex, feature_scale, energy_scale):
        super().__init__()
        self.polyconvex = bool(polyconvex)
        self.n_affine = n_affine
        sizes = tuple(int(h) for h in hidden)
        parameter = lambda *shape: torch.nn.Parameter(torch.empty(*shape, dtype=_DTYPE))  # noqa: E731
        self.z_raw = torch.nn.ParameterList([parameter(out, inp) for inp, out in zip(sizes[:-1], sizes[1:])])
        self.c_raw = torch.nn.ParameterList([parameter(h, n_convex) for h in sizes + (1,)])
        self.a_weight = torch.nn.ParameterList([parameter(h, n_affine) for h in sizes] if n_affine else [])
        self.bias = torch.nn.ParameterList([parameter(h) for h in sizes])
        self.out_raw = torch.nn.ParameterList([parameter(1, sizes[-1])] if sizes else [])
        self.register_buffer("feature_scale", torch.as_tensor(feature_scale, dtype=_DTYPE))
        self.register_buffer("energy_scale", torch.as_tensor(energy_scale, dtype=_DTYPE))
        self._initialize()

    def _initialize(self):
        with torch.no_grad():
            for raw in list(self.z_raw) + list(self.c_raw) + list(self.out_raw):
                fan_in = raw.shape[1]
                if self.polyconvex:   # non-negative weights uniform in (0, 2/fan_in): O(1) pre-activations
                    weight = (torch.rand(raw.shape, dtype=_DTYPE) * 2.0 / fan_in).clamp_min(1e-6)
                    raw.copy_(torch.log(torch.expm1(weight)))
                else:
                    raw.uniform_(-fan_in ** -0.5, fan_in ** -0.5)
            for weight in self.a_weight:
                weight.uniform_(-1.0, 1.0)
            for bias in self.bias:
                bias.uniform_(-1.0, 1.0)

    def _positive(self, raw):
        return _softplus(raw) if self.polyconvex else raw

    def nonnegative_weights(self):
        """The weights that must be non-negative for convexity (W_k, A_k, w), as used in ``forward``."""
        return [self._positive(raw) for raw in list(self.z_raw) + list(self.c_raw) + list(self.out_raw)]

    def second_invariant_weights(self):
        """L1 norm of the weights through which the second invariant (convex input 1) enters."""
        return sum(self._positive(raw[:, 1]).abs().sum() for raw in self.c_raw)

    def squared_weights(self):
        """Sum of the squared weights (biases excluded), for the L2 penalty ``alpha``."""
        return sum((weight ** 2).sum() for weight in self.nonnegative_weights() + list(self.a_weight))

    def forward(self, convex, affine=None):
        z = None
        for layer in range(len(self.bias)):
            pre = convex @ self._positive(self.c_raw[layer]).mT + self.bias[layer]
            if self.n_affine:
                pre = pre + affine @ self.a_weight[layer].mT
            if z is not None:
                pre = pre + z @ self._positive(self.z_raw[layer - 1]).mT
            z = _softplus(pre)
        out = convex @ self._positive(self.c_raw[-1]).mT
        if z is not None:
            out = out + z @ self._positive(self.out_raw[0]).mT
        return out[..., 0]

    def features(self, I1, I2, J):
        """The scaled convex features c and affine features a (None when incompressible) of the invariants."""
        scale = self.feature_scale
        convex = [(I1 - 3) / scale[0], (I2 - 3) / scale[1]]
        if not self.n_affine:
            return torch.stack(convex, dim=-1), None
        convex.append((J + 1 / J - 2) / scale[2])
        return torch.stack(convex, dim=-1), ((J - 1) / scale[3])[..., None]

    def energy(self, I1, I2, J):
        """ψ(I1, I2, J) in the units of the training stresses (before the normalization of W)."""
        return self.energy_scale * self(*self.features(I1, I2, J))


class HyperelasticNetwork(NetworkPickling, _HyperelasticModel):
    """Polyconvex strain-energy network :math:`W(I_1, I_2[, J])` fitted to stresses (module docstring:
    the construction, the normalization and why it is polyconvex).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Widths of the input-convex network's hidden layers (``()``: a Mooney–Rivlin energy).
    compressible : bool
        ``False``: an incompressible energy of :math:`(I_1, I_2)`, fitted and predicted on the test
        modes by stretch. ``True``: :math:`J` enters too (convex feature :math:`J + 1/J - 2`, affine
        feature :math:`J - 1`), fitted on deformation gradients and stresses with ``mode="general"``.
    polyconvex : bool
        ``False`` frees the signs of the weights: the same energy architecture, neither convex nor
        monotone (an ablation showing what the constraint buys).
    second_invariant_penalty : float
        Strength of the L1 penalty on the weights through which :math:`I_2` enters, added to the
        scaled mean squared error: :math:`I_2` is used only as far as the data demand, since
        uniaxial data cannot identify it (module docstring). ``0`` switches it off.
    alpha : float
        Strength of the L2 penalty :math:`\\tfrac{\\alpha}{2}\\sum w^2` on all weights (scikit-learn's name).
        Without it L-BFGS sharpens the softplus units into near-kinks (weights and biases of
        several thousands, an energy offset :math:`\\psi(3, 3)` of 1e6 cancelled by the
        normalization) for a last 1e-4 of R²; 1e-4 keeps the energy smooth, and the results are
        the same for 3e-5 to 3e-4 (8 seeds). At 1e-3 it competes with the I2 penalty (an L2 norm
        prefers spreading the energy over both invariants) and uniaxial-only fits fail again.
    solver : {"lbfgs", "adam"}
        ``"lbfgs"``: full-batch L-BFGS with a strong-Wolfe line search (1–2 s on Treloar's 42
        points). ``"adam"``: the package's shared Adam loop
        (``fit_network``, full batch, best epoch kept);
        measured: 2000 epochs take 6 s for R² 0.998 / 0.988 / 0.997 on all modes, and do not reach
        the sparse solution that L-BFGS finds with the I2 penalty on uniaxial data alone
        (equibiaxial R² -104). L-BFGS suits a small, smooth, full-batch problem.
    max_iter : int
        L-BFGS iterations or Adam epochs.
    tol : float
        L-BFGS stops when the loss changes by less than ``tol`` between iterations.
    learning_rate_init : float
        Adam's learning rate (unused by L-BFGS, as in scikit-learn's ``MLPRegressor``).
    random_state : int
        Seeds the initial weights (torch's global random state is left unchanged).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``. Training is in float64.
    cpu_threads : int, optional
        Torch CPU threads during ``fit`` (restored afterwards; ``None``: torch's setting). Default 1: a
        network of a few hundred weights, for which one thread beats several. The stresses, energies and
        tangents are evaluated at torch's setting (they may lie on the caller's autograd graph).
    progress : bool
        Show a tqdm bar while fitting: L-BFGS's objective evaluations (out of at most ``2 * max_iter``;
        it stops earlier at ``tol``) or Adam's epochs, with the objective as the postfix.

    Attributes
    ----------
    network_ : torch.nn.Module
        The input-convex network ψ, its feature and energy scales stored as buffers;
        ``network_.nonnegative_weights()`` lists the constrained weights.
    loss_ : float
        The final scaled mean squared error (without the penalties).
    loss_curve_ : list of float
        The objective per L-BFGS function evaluation or per Adam epoch.
    n_iter_ : int
        L-BFGS iterations or Adam epochs run.
    n_features_in_ : int
        1, the stretch, after a fit on the test modes (scikit-learn's count of the columns of ``X``,
        which :func:`mslearn.deployment.save` checks ``training_data`` against); not set after a fit
        with ``mode="general"``, whose ``X`` are (n, 3, 3) tensors, not columns (as the package's
        image transformers set none).
    modes_ : list of str
        The modes of the training data (``["general"]`` for deformation gradients); the default of
        :meth:`predict` when there is one.

    Examples
    --------
    >>> from mslearn.surrogates import HyperelasticNetwork, load_treloar
    >>> table = load_treloar()
    >>> model = HyperelasticNetwork(random_state=0, device="cpu")
    >>> model = model.fit(table.stretch, table.nominal_stress_MPa, mode=table["mode"])
    >>> bool(model.score(table.stretch, table.nominal_stress_MPa, mode=table["mode"]) > 0.99)
    True
    """

    _fitted_attribute = "network_"

    def __init__(self, hidden_layer_sizes=(16, 16), *, compressible=False, polyconvex=True,
                 second_invariant_penalty=1e-3, alpha=1e-4, solver="lbfgs", max_iter=500, tol=1e-12,
                 learning_rate_init=1e-2, random_state=0, device="auto", cpu_threads=1, progress=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.compressible = compressible
        self.polyconvex = polyconvex
        self.second_invariant_penalty = second_invariant_penalty
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate_init = learning_rate_init
        self.random_state = random_state
        self.device = device
        self.cpu_threads = cpu_threads
        self.progress = progress

    def _is_compressible(self):
        return bool(self.compressible)

    def _torch_device(self):
        return self.network_.energy_scale.device

    def _psi(self, I1, I2, J):
        return self.network_.energy(I1, I2, J)

    def _check_settings(self):
        sizes = self.hidden_layer_sizes
        if not isinstance(sizes, (tuple, list)) or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes = {sizes!r}; expected a tuple of integers >= 1 (() gives a "
                             "Mooney-Rivlin energy)")
        for name in ("compressible", "polyconvex", "progress"):
            check_flag(getattr(self, name), name=name)
        if self.solver not in ("lbfgs", "adam"):
            raise ValueError(f"solver = {self.solver!r}; expected 'lbfgs' or 'adam'")
        check_integer(self.max_iter, 1, name="max_iter")
        for name in ("second_invariant_penalty", "alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} = {value!r}; expected a number >= 0")
        for name in ("tol", "learning_rate_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} = {value!r}; expected a positive number")
        integer_seed(self.random_state)

    @keeps_state_on_failure
    def fit(self, X, y, mode="uniaxial"):
        """Fit the energy to stresses; always starts from new weights drawn with ``random_state``.

        Parameters
        ----------
        X : array_like
            Stretches (n,) of the test modes, or deformation gradients (n, 3, 3) with
            ``mode="general"`` (``compressible=True``).
        y : array_like
            Nominal stresses :math:`P_{11}` (n,), or first Piola–Kirchhoff stresses (n, 3, 3).
        mode : str or array_like of str
            ``"uniaxial"``, ``"equibiaxial"``, ``"pure_shear"`` — one for all or one per stretch (e.g.
            the ``mode`` column of :func:`load_treloar`) — or ``"general"``. The modes of the data are
            kept as ``modes_``, the default of :meth:`predict` when there is one.
        """
        self._check_settings()
        device = resolve_device(self.device)
        general = _is_general(mode)
        if general and not self.compressible:
            raise ValueError("mode='general' (deformation gradients and stresses) needs compressible=True")
        if self.compressible and not general:
            raise ValueError("a compressible network fits deformation gradients (n, 3, 3) with mode='general'; "
                             f"the modes {list(MODES)} are incompressible")
        if general:
            F = _check_deformation(X).detach().to(device)
            if F.ndim != 3:
                raise ValueError(f"X has shape {tuple(F.shape)}; expected (n, 3, 3) deformation gradients")
            target = torch.as_tensor(_check_target(y, tuple(F.shape)), dtype=_DTYPE, device=device)
            I1, I2, J = _invariants(F)
            features = [I1 - 3, I2 - 3, J + 1 / J - 2, J - 1]
        else:
            lam = _check_stretch(X)
            code = torch.as_tensor(_mode_codes(mode, len(lam)), device=device)
            stretch = torch.as_tensor(lam, dtype=_DTYPE, device=device)
            target = torch.as_tensor(_check_target(y, lam.shape), dtype=_DTYPE, device=device)
            features = [f - 3 for f in _mode_invariants(stretch, code)]
        feature_scale = [float(f.abs().max()) for f in features]
        feature_scale = [s if s > 1e-12 else 1.0 for s in feature_scale]
        rms = float(torch.sqrt((target ** 2).mean()))
        energy_scale = rms if rms > 0 else 1.0
        with seeded(self.random_state, device=device):
            self.network_ = _InvariantICNN(3 if self.compressible else 2, 1 if self.compressible else 0,
                                           self.hidden_layer_sizes, self.polyconvex, feature_scale,
                                           energy_scale).to(device)

        def loss_of(rows):
            if general:
                prediction = self._stress_of_F(F[rows], create_graph=True)
            else:
                prediction = self._nominal(stretch[rows], code[rows], create_graph=True)
            return (((prediction - target[rows]) / energy_scale) ** 2).mean()

        def objective(rows):
            network = self.network_
            return (loss_of(rows) + self.second_invariant_penalty * network.second_invariant_weights()
                    + self.alpha / 2 * network.squared_weights())

        everything = torch.arange(len(target), device=device)
        with cpu_threads(self.cpu_threads, device):
            if self.solver == "lbfgs":
                self._fit_lbfgs(lambda: objective(everything))
            else:
                self._fit_adam(objective, len(target), device)
            self.loss_ = float(loss_of(everything).detach())
        self.network_.eval()
        self.modes_ = [GENERAL] if general else _mode_names(mode, len(target))
        if general:
            self.__dict__.pop("n_features_in_", None)     # a refit on F must not keep a former fit's count
        else:
            self.n_features_in_ = 1
        return self

    def _fit_lbfgs(self, objective):
        self.loss_curve_, self.n_iter_ = _lbfgs(self.network_, objective, self.max_iter, self.tol, "HyperelasticNetwork",
                                                self.progress)

    def _fit_adam(self, objective, n, device):
        """The package's shared Adam loop, full batch (training settings the loop reads, fixed here)."""
        settings = types.SimpleNamespace(learning_rate_init=self.learning_rate_init, weight_decay=0.0,
                                         max_iter=self.max_iter, batch_size=None, progress=bool(self.progress),
                                         patience=None)
        generator = np.random.default_rng(integer_seed(self.random_state))
        fit_network(settings, self.network_, n, lambda index: objective(torch.as_tensor(index, device=device)),
                    lambda: None, generator, desc=type(self).__name__)
        self.loss_curve_ = list(settings.history_["train"])
        self.n_iter_ = settings.n_iter_


# ----------------------------------------------------------------------------- black-box baseline
class NominalStressMLP(MLPRegressor):
    """Unconstrained baseline: a multilayer perceptron from (stretch, one-hot mode) to the nominal
    stress, with no energy, no kinematics and no constraint.

    A :class:`~mslearn.surrogates.MLPRegressor` (same parameters; here two layers of 32 units, and
    full-batch Adam without a validation split by default, the data sets being tiny) whose ``fit``, ``predict`` and ``score``
    take stretches and a mode like :class:`HyperelasticNetwork`. Trained on one mode, the one-hot
    columns of the others were never seen: what it predicts there is whatever the network
    happens to do (on Treloar's data, R² from -2.4 to 0.77 in equibiaxial tension over seeds).

    Attributes
    ----------
    n_features_in_ : int
        1: the stretch, the one column of the ``X`` given to ``fit`` (scikit-learn's count, which
        :func:`mslearn.deployment.save` checks ``training_data`` against); the network itself reads four
        inputs, the stretch and the one-hot mode.
    modes_ : list of str
        The modes trained on (with ``warm_start``, in every fit so far), in the order ``"uniaxial"``,
        ``"equibiaxial"``, ``"pure_shear"``; the default of :meth:`predict` when there is one.
    network_, history_, best_epoch_, n_iter_, output_shape_
        As in :class:`~mslearn.surrogates.TorchRegressor`.

    Examples
    --------
    >>> from mslearn.surrogates import NominalStressMLP, load_treloar
    >>> table = load_treloar()
    >>> model = NominalStressMLP(max_iter=300, device="cpu")
    >>> model = model.fit(table.stretch, table.nominal_stress_MPa, mode=table["mode"])
    >>> bool(model.score(table.stretch, table.nominal_stress_MPa, mode=table["mode"]) > 0.95)
    True
    """

    def __init__(self, hidden_layer_sizes=(32, 32), activation="silu", *, learning_rate_init=1e-2, max_iter=1000,
                 batch_size=None, weight_decay=0.0, validation_fraction=0.0, patience=None, random_state=0,
                 device="auto", cpu_threads=None, progress=False, warm_start=False):
        super().__init__(hidden_layer_sizes, activation, learning_rate_init=learning_rate_init, max_iter=max_iter,
                         batch_size=batch_size, weight_decay=weight_decay, validation_fraction=validation_fraction,
                         patience=patience, random_state=random_state, device=device, cpu_threads=cpu_threads,
                         progress=progress, warm_start=warm_start)

    @staticmethod
    def _table(X, mode):
        lam = _check_stretch(X)
        return np.column_stack([lam, NominalStressMLP._one_hot(mode, len(lam))])

    @staticmethod
    def _one_hot(mode, n):
        """The network's mode inputs beside the stretch: one column per mode of :data:`MODES`, ``(n, 3)``."""
        return np.eye(len(MODES))[_mode_codes(mode, n)]

    @keeps_state_on_failure
    def fit(self, X, y, mode="uniaxial"):
        """Train on stretches ``X`` of ``mode`` and nominal stresses ``y``.

        The inputs of the network are the stretch and the one-hot mode; the rest, a failed fit leaving the
        model as it was included, is :meth:`TorchRegressor.fit <mslearn.surrogates.TorchRegressor.fit>`.

        Parameters
        ----------
        X : array_like, shape (n,) or (n, 1)
            Stretches λ > 0.
        y : array_like, shape (n,) or (n, 1)
            Nominal stresses :math:`P_{11}`, finite.
        mode : str or array_like of str, default "uniaxial"
            ``"uniaxial"``, ``"equibiaxial"`` or ``"pure_shear"``: one for all stretches or one per
            stretch (e.g. the ``mode`` column of :func:`load_treloar`).

        Returns
        -------
        self : NominalStressMLP
            The fitted estimator.

        Raises
        ------
        TypeError
            If a flag or an integer setting is not a bool or an integer.
        ValueError
            If a stretch is not positive and finite, ``y`` has another length or is not finite, a mode
            is unknown, or a training setting is invalid.
        """
        check_training_settings(self)
        table = self._table(X, mode)
        warm = self._warm()
        seen = set(getattr(self, "modes_", ())) if warm else set()    # a continued fit has seen both
        # not MLPRegressor.fit: its input check would count the network's four inputs as n_features_in_,
        # where scikit-learn counts the columns of X (the stretch), and a warm start would then refuse X
        self._fit_features(table, _check_target(y, (len(table),)), warm)
        self.n_features_in_ = 1
        self.modes_ = [name for name in MODES if name in seen.union(_mode_names(mode, len(table)))]
        return self

    def predict(self, X, mode=None):
        """Predicted nominal stresses at the stretches ``X`` of ``mode``.

        Parameters
        ----------
        X : array_like, shape (n,) or (n, 1)
            Stretches λ > 0.
        mode : str or array_like of str, optional
            ``"uniaxial"``, ``"equibiaxial"`` or ``"pure_shear"``: one for all stretches or one per
            stretch (e.g. the ``mode`` column of :func:`load_treloar`). Default: the mode the model was
            fitted on (``modes_``), which must then be one.

        Returns
        -------
        ndarray of float64, shape (n,)
            Nominal stresses :math:`P_{11}`.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If a stretch is not positive and finite, or a mode is unknown.
        """
        check_is_fitted(self, "network_")
        return self._predict_features(self._table(X, _prediction_mode(self, mode)))

    def predict_tensor(self, X, mode=None):
        """:meth:`predict` as a differentiable torch function of the stretches: gradients flow back to ``X``.

        Parameters
        ----------
        X : torch.Tensor, shape (n,) or (n, 1)
            Stretches λ > 0 (not the network's four inputs: the one-hot mode is added here).
        mode : str or array_like of str, optional
            As in :meth:`predict`.

        Returns
        -------
        torch.Tensor, shape (n,)
            Nominal stresses :math:`P_{11}`, on ``X``'s device and in its dtype.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` is not a tensor of shape (n,) or (n, 1), a stretch is not positive and finite, or a
            mode is unknown.
        """
        check_is_fitted(self, "network_")
        if not isinstance(X, torch.Tensor) or not (X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1)):
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"X is {shape}; expected a torch tensor of stretches, shape (n,) or (n, 1)")
        _check_stretch(X)
        one_hot = torch.as_tensor(self._one_hot(_prediction_mode(self, mode), len(X)), dtype=X.dtype, device=X.device)
        return self._predict_features_tensor(torch.cat([X.reshape(-1, 1), one_hot], dim=1))

    def score(self, X, y, mode=None, sample_weight=None):
        """R² of ``predict(X, mode)`` against the nominal stresses ``y``.

        Parameters
        ----------
        X, mode
            As in :meth:`predict`.
        y : array_like, shape (n,) or (n, 1)
            True nominal stresses, finite.
        sample_weight : array_like, shape (n,), optional
            Weights of the samples; default ``None``: equal weights.

        Returns
        -------
        float
        """
        prediction = self.predict(X, mode=mode)
        return float(r2_score(_check_target(y, prediction.shape), prediction, sample_weight=sample_weight))


# ----------------------------------------------------------------------------- small strain: an RVE's effective energy
def _check_mandel(X, name, m=None):
    """Mandel vectors as float64 (..., m), finite, at least one row."""
    values = _as_numpy(X, name)
    if values.ndim < 1 or values.shape[-1] < 1 or values.size == 0:
        raise ValueError(f"{name} has shape {values.shape}; expected Mandel vectors (..., m), m = 3 in 2D "
                         "(e11, e22, sqrt2 e12), 6 in 3D")
    if values.ndim == 1:
        raise ValueError(f"{name} has shape {values.shape}; expected Mandel vectors (n, m) or (..., m): one row "
                         "per sample (reshape a single vector to (1, m))")
    if m is not None and values.shape[-1] != m:
        raise ValueError(f"{name} has {values.shape[-1]} Mandel components; the model was fitted with {m}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return values


class _StrainICNN(torch.nn.Module):
    r"""Input-convex network :math:`g(x)` of the scaled Mandel strain *x* (n, m) and the normalized energy
    :math:`w(x) = g(x) - g(0) - \nabla g(0)\cdot x + \tfrac12 |L^\mathsf T x|^2` (``quadratic``): *x*
    enters every layer affinely (free weights), the layer-to-layer and output weights are non-negative
    (softplus of free parameters) with ``convex=True``, free otherwise (an ablation)."""

    def __init__(self, m, hidden, convex, quadratic, n_norms, strain_scale, stress_scale):
        super().__init__()
        self.convex = bool(convex)
        sizes = tuple(int(h) for h in hidden)
        parameter = lambda *shape: torch.nn.Parameter(torch.empty(*shape, dtype=_DTYPE))  # noqa: E731
        self.x_weight = torch.nn.ParameterList([parameter(h, m) for h in sizes])
        self.norm_map = parameter(n_norms, m, m) if n_norms else None     # B_k, free
        self.norm_delta_raw = parameter(n_norms) if n_norms else None     # delta_k = softplus(raw) > 0
        self.r_raw = torch.nn.ParameterList([parameter(h, n_norms) for h in sizes + (1,)] if n_norms else [])
        self.bias = torch.nn.ParameterList([parameter(h) for h in sizes])
        self.z_raw = torch.nn.ParameterList([parameter(out, inp) for inp, out in zip(sizes[:-1], sizes[1:])])
        self.out_raw = torch.nn.ParameterList([parameter(1, sizes[-1])] if sizes else [])
        self.factor = parameter(m, m) if quadratic else None
        self.register_buffer("strain_scale", torch.as_tensor(strain_scale, dtype=_DTYPE))
        self.register_buffer("stress_scale", torch.as_tensor(stress_scale, dtype=_DTYPE))
        with torch.no_grad():
            for raw in list(self.z_raw) + list(self.out_raw) + list(self.r_raw):
                fan_in = raw.shape[1]
                if self.convex:   # non-negative weights uniform in (0, 2/fan_in), as in _InvariantICNN
                    raw.copy_(torch.log(torch.expm1((torch.rand(raw.shape, dtype=_DTYPE) * 2.0 / fan_in)
                                                    .clamp_min(1e-6))))
                else:
                    raw.uniform_(-fan_in ** -0.5, fan_in ** -0.5)
            for weight in self.x_weight:
                weight.uniform_(-1.0, 1.0)
            for bias in self.bias:
                bias.uniform_(-1.0, 1.0)
            if n_norms:
                self.norm_map.copy_(torch.eye(m, dtype=_DTYPE) + (2 * torch.rand(n_norms, m, m, dtype=_DTYPE) - 1))
                self.norm_delta_raw.fill_(math.log(math.expm1(0.2)))    # delta = 0.2 of the largest strain
            if self.factor is not None:
                self.factor.copy_(torch.eye(m, dtype=_DTYPE) + 0.1 * (2 * torch.rand(m, m, dtype=_DTYPE) - 1))

    def _positive(self, raw):
        return _softplus(raw) if self.convex else raw

    def nonnegative_weights(self):
        """The weights that must be non-negative for convexity (layer to layer, output, on the norms)."""
        return [self._positive(raw) for raw in list(self.z_raw) + list(self.out_raw) + list(self.r_raw)]

    def squared_weights(self):
        """Sum of the squared weights (biases, norm maps and the quadratic factor excluded), for ``alpha``."""
        return sum((weight ** 2).sum() for weight in self.nonnegative_weights() + list(self.x_weight))

    def norms(self, x):
        r"""The convex features :math:`r_k = \sqrt{\delta_k^2 + |\mathbf B_k x|^2} - \delta_k` (n, K)."""
        delta = _softplus(self.norm_delta_raw)
        mapped = torch.einsum("kij,...j->...ki", self.norm_map, x)
        return torch.sqrt(delta ** 2 + mapped.square().sum(-1)) - delta

    def g(self, x):
        r = self.norms(x) if self.norm_map is not None else None
        z = None
        for layer in range(len(self.bias)):
            pre = x @ self.x_weight[layer].mT + self.bias[layer]
            if r is not None:
                pre = pre + r @ self._positive(self.r_raw[layer]).mT
            if z is not None:
                pre = pre + z @ self._positive(self.z_raw[layer - 1]).mT
            z = _softplus(pre)
        out = (z @ self._positive(self.out_raw[0]).mT)[..., 0] if z is not None else x.new_zeros(x.shape[:-1])
        if r is not None:
            out = out + (r @ self._positive(self.r_raw[-1]).mT)[..., 0]
        return out

    def forward(self, x, create_graph=False):
        """The normalized energy w(x): zero with zero gradient at x = 0."""
        w = x.new_zeros(x.shape[:-1])
        if len(self.bias) or self.norm_map is not None:
            zero = x.new_zeros(1, x.shape[-1]).requires_grad_(True)
            with torch.enable_grad():
                g0 = self.g(zero)
                (d0,) = torch.autograd.grad(g0.sum(), zero, create_graph=create_graph)
            w = self.g(x) - g0[0] - x @ d0[0]
        if self.factor is not None:
            w = w + 0.5 * (x @ self.factor).square().sum(-1)
        return w


def _lbfgs(network, objective, max_iter, tol, name, progress=False):
    """Full-batch L-BFGS with a strong-Wolfe line search; (loss curve, iterations). With ``progress`` a bar
    over the objective evaluations (at most ``2 * max_iter``)."""
    optimizer = torch.optim.LBFGS(network.parameters(), lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                                  tolerance_grad=1e-14, tolerance_change=tol, history_size=50,
                                  line_search_fn="strong_wolfe")
    curve = []
    bar = progress_bar(progress, 2 * max_iter, name, unit="eval")

    def closure():
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        curve.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{curve[-1]:.3e}")
        return loss

    try:
        optimizer.step(closure)
    finally:
        if bar is not None:
            bar.close()
    if not np.isfinite(curve[-1]):
        raise RuntimeError(f"{name}: the L-BFGS objective became non-finite")
    return curve, int(optimizer.state[next(iter(network.parameters()))].get("n_iter", len(curve)))


class StrainEnergyNetwork(NetworkPickling, RegressorMixin, BaseEstimator):
    r"""Convex small-strain energy network :math:`W(\boldsymbol\varepsilon)`, stresses
    :math:`\boldsymbol\sigma = \partial W/\partial\boldsymbol\varepsilon`: the effective energy of an RVE.

    The small-strain counterpart of :class:`HyperelasticNetwork`, on Mandel vectors (2D plane strain
    ``(e11, e22, sqrt2 e12)``, 3D ``(11, 22, 33, sqrt2 23, sqrt2 13, sqrt2 12)``, the order of
    :func:`mslearn.homogenization.plasticity`). The Mandel basis is orthonormal, so the stress
    vector is the gradient of *W* with respect to the strain vector and the tangent
    :math:`\partial\boldsymbol\sigma/\partial\boldsymbol\varepsilon` its Hessian.

    **Construction.** An input-convex network (Amos et al. 2017) directly in the Mandel components,

    .. math:: z_1 = \sigma(\mathbf A_1 x + \mathbf N_1 r + b_1), \quad z_{k+1} = \sigma(\mathbf W_k z_k
              + \mathbf A_{k+1} x + \mathbf N_{k+1} r + b_{k+1}), \quad g(x) = w^\mathsf T z_L + n^\mathsf T r,
              \qquad x = \boldsymbol\varepsilon / s_\varepsilon,

    with the softplus :math:`\sigma` (convex, non-decreasing), :math:`\mathbf W_k, \mathbf N_k, w, n
    \ge 0` (:math:`\mathbf A_k` free: *x* enters affinely) and the convex **norm features**
    :math:`r_k = \sqrt{\delta_k^2 + |\mathbf B_k x|^2} - \delta_k` (``norm_features`` of them,
    :math:`\mathbf B_k` free *m*×*m*, :math:`\delta_k > 0` learned), is convex in
    :math:`\boldsymbol\varepsilon`. Softplus units of affine inputs are ridge functions, poor at the
    round, norm-like yield surfaces of J2 phases (quadratic below a strain of about
    :math:`\delta_k`, linear beyond); with four norm features the training error on the RVE of the
    tests falls from 0.018 to 0.012 and the held-out error from 0.028 to 0.013. The energy

    .. math:: W(\boldsymbol\varepsilon) = s_\sigma s_\varepsilon\Big[g(x) - g(0) - \nabla g(0)\cdot x
              + \tfrac12\,|\mathbf L^\mathsf T x|^2\Big]

    subtracts an affine function (convexity kept) so that :math:`W(0) = 0` and
    :math:`\boldsymbol\sigma(0) = 0` exactly, and adds a positive semi-definite quadratic form
    (``quadratic=True``, :math:`\mathbf L` free), which a softplus network lacks: its stress saturates
    far from the data, whereas a hardening RVE keeps a positive tangent. Hence, by construction:
    :math:`W` convex (a positive semi-definite, **symmetric** tangent — the major symmetry of a
    hyperelastic law; a monotone, stable material), zero energy and stress at zero strain. Anisotropy
    costs nothing: the network sees all components, no invariants (an isotropic energy of
    :math:`\operatorname{tr}\boldsymbol\varepsilon` and :math:`\|\operatorname{dev}\boldsymbol
    \varepsilon\|` can only represent an isotropic law, and a random RVE is isotropic only
    approximately). ``hidden_layer_sizes=(), norm_features=0`` leaves :math:`\tfrac12\boldsymbol\varepsilon\cdot
    \mathbb C\boldsymbol\varepsilon` with :math:`\mathbb C = s_\sigma \mathbf L\mathbf L^\mathsf T /
    s_\varepsilon`: a fitted linear elastic law. The scales are the largest Mandel norm of the
    training strains and the root-mean-square training stress (scalars: a per-component scaling would
    break :math:`\boldsymbol\sigma = \nabla W`).

    **Why not HyperelasticNetwork at small strain?** With :math:`\mathbf F = \mathbf I +
    \boldsymbol\varepsilon`, :math:`I_1 - 3 \approx 2\operatorname{tr}\boldsymbol\varepsilon +
    \|\boldsymbol\varepsilon\|^2`: an energy convex and non-decreasing in :math:`I_1, I_2` has a
    shear secant modulus :math:`\approx 2(\psi_{,1} + 2\psi_{,2})` that can only *grow* with the
    strain — stiffening, like rubber — and cannot bend over at yield as a plastic RVE does (measured
    on the RVE of the tests, :math:`\mathbf P \approx \boldsymbol\sigma` in plane strain: mean relative
    stress error 0.41 on held-out radial paths, no better than linear elasticity's 0.46, against 0.013
    here). Polyconvexity in these invariants is the right constraint for rubber, not for the effective
    law of a plastic composite.

    **What the data must be.** An energy exists only for a path-independent response. An
    elasto-plastic RVE loaded *proportionally* (:func:`mslearn.datasets.radial_paths`, no unloading)
    is close to one — J2 with hardening under proportional loading is deformation (Hencky)
    plasticity, a nonlinear elastic law — and its radial response is then learned as the gradient of
    an effective energy. Unloading and non-proportional paths are outside this model (they need
    internal variables: :class:`~mslearn.surrogates.RecurrentRegressor`).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Widths of the input-convex network's hidden layers (``()`` with ``norm_features=0``: linear
        elasticity; needs ``quadratic=True``).
    norm_features : int
        Number *K* of convex norm features :math:`r_k` (``0``: a plain input-convex network).
    convex : bool
        ``False`` frees the signs of the layer-to-layer and output weights: the same energy
        architecture, not convex (an ablation; the stress is still a gradient, so the tangent stays
        symmetric).
    quadratic : bool
        Add the positive semi-definite quadratic form :math:`\tfrac12|\mathbf L^\mathsf T x|^2`.
    alpha : float
        L2 penalty on the network's weights (not on :math:`\mathbf L`, :math:`\mathbf B_k`). Smaller
        than :class:`HyperelasticNetwork`'s: at 1e-4 the unpenalized quadratic form wins and the
        network is switched off (a linear fit, held-out error 0.12 instead of 0.013).
    solver, max_iter, tol, learning_rate_init, random_state, device, cpu_threads, progress
        As in :class:`HyperelasticNetwork` (L-BFGS or Adam; one CPU thread by default).

    Attributes
    ----------
    network_ : torch.nn.Module
        The network, with ``strain_scale`` and ``stress_scale`` buffers.
    n_components_ : int
        Mandel components *m* (3 or 6 for the solver's layouts; any *m* >= 1 is accepted); also
        ``n_features_in_``, as scikit-learn names it.
    loss_, loss_curve_, n_iter_
        As in :class:`HyperelasticNetwork`.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates.hyperelastic import StrainEnergyNetwork
    >>> eps = np.random.default_rng(0).uniform(-0.02, 0.02, (200, 3))
    >>> sigma = eps * (1.0 + 30 * np.abs(eps))          # a stiffening law, the gradient of an energy
    >>> model = StrainEnergyNetwork(random_state=0, device="cpu").fit(eps, sigma)
    >>> bool(model.score(eps, sigma) > 0.999), float(model.energy(np.zeros((1, 3)))[0])
    (True, 0.0)
    """

    _fitted_attribute = "network_"

    def __init__(self, hidden_layer_sizes=(16,), *, norm_features=4, convex=True, quadratic=True, alpha=1e-6,
                 solver="lbfgs", max_iter=500, tol=1e-12, learning_rate_init=1e-2, random_state=0, device="auto",
                 cpu_threads=1, progress=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.norm_features = norm_features
        self.convex = convex
        self.quadratic = quadratic
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate_init = learning_rate_init
        self.random_state = random_state
        self.device = device
        self.cpu_threads = cpu_threads
        self.progress = progress

    def _check_settings(self):
        sizes = self.hidden_layer_sizes
        if not isinstance(sizes, (tuple, list)) or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes = {sizes!r}; expected a tuple of integers >= 1 (() with "
                             "quadratic=True gives a linear elastic law)")
        norms = self.norm_features
        check_integer(norms, 0, name="norm_features")
        for name in ("convex", "quadratic", "progress"):
            check_flag(getattr(self, name), name=name)
        if not sizes and not norms and not self.quadratic:
            raise ValueError("hidden_layer_sizes=(), norm_features=0 and quadratic=False is the zero energy")
        if self.solver not in ("lbfgs", "adam"):
            raise ValueError(f"solver = {self.solver!r}; expected 'lbfgs' or 'adam'")
        check_integer(self.max_iter, 1, name="max_iter")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real) or not self.alpha >= 0:
            raise ValueError(f"alpha = {self.alpha!r}; expected a number >= 0")
        for name in ("tol", "learning_rate_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} = {value!r}; expected a positive number")
        integer_seed(self.random_state)

    def _energy_scaled(self, x, create_graph=False):
        """Energy (in the units of stress x strain) of the scaled strains x (a tensor)."""
        net = self.network_
        return net.stress_scale * net.strain_scale * net(x, create_graph=create_graph)

    def _stress_scaled(self, x, create_graph=False):
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.network_(x, create_graph=True).sum(), x, create_graph=create_graph)
        return self.network_.stress_scale * grad

    @keeps_state_on_failure
    def fit(self, X, y):
        """Fit the energy to stresses; always starts from new weights drawn with ``random_state``.

        Parameters
        ----------
        X : array_like, shape (..., m)
            Mandel strains, any leading axes (e.g. ``(n_paths, n_steps, m)`` of
            :func:`mslearn.datasets.radial_paths`): every row is a sample.
        y : array_like, same shape
            Mandel stresses (e.g. from :func:`mslearn.datasets.rve_stress_histories`).
        """
        self._check_settings()
        strain = _check_mandel(X, "X")
        stress = _check_mandel(y, "y")
        if stress.shape != strain.shape:
            raise ValueError(f"y has shape {stress.shape}; expected the shape of X, {strain.shape}")
        m = strain.shape[-1]
        strain, stress = strain.reshape(-1, m), stress.reshape(-1, m)
        device = resolve_device(self.device)
        norms = np.linalg.norm(strain, axis=1)
        strain_scale = float(norms.max()) if norms.max() > 0 else 1.0
        rms = float(np.sqrt(np.mean(stress ** 2)))
        stress_scale = rms if rms > 0 else 1.0
        x = torch.as_tensor(strain / strain_scale, dtype=_DTYPE, device=device)
        target = torch.as_tensor(stress / stress_scale, dtype=_DTYPE, device=device)
        with seeded(self.random_state, device=device):
            self.network_ = _StrainICNN(m, self.hidden_layer_sizes, self.convex, self.quadratic, self.norm_features,
                                        strain_scale, stress_scale).to(device)
        self.n_components_ = self.n_features_in_ = m      # n_features_in_: scikit-learn's name (pipelines read it)

        def loss_of(rows):
            prediction = self._stress_scaled(x[rows], create_graph=True) / self.network_.stress_scale
            return ((prediction - target[rows]) ** 2).mean()

        def objective(rows):
            return loss_of(rows) + self.alpha / 2 * self.network_.squared_weights()

        everything = torch.arange(len(x), device=device)
        with cpu_threads(self.cpu_threads, device):
            if self.solver == "lbfgs":
                self.loss_curve_, self.n_iter_ = _lbfgs(self.network_, lambda: objective(everything), self.max_iter,
                                                        self.tol, type(self).__name__, self.progress)
            else:
                HyperelasticNetwork._fit_adam(self, objective, len(x), device)   # the shared Adam loop
            self.loss_ = float(loss_of(everything).detach())
        self.network_.eval()
        return self

    # -- evaluation -----------------------------------------------------------------------------------
    def _inputs(self, X):
        """(scaled strains as a tensor (n, m), leading shape, the original input or None for numpy)."""
        check_is_fitted(self, self._fitted_attribute)
        net = self.network_
        device = net.stress_scale.device
        if isinstance(X, torch.Tensor):
            if X.ndim < 2 or X.shape[-1] != self.n_components_:
                raise ValueError(f"X has shape {tuple(X.shape)}; expected (..., {self.n_components_})")
            tensor = check_real(X, name="X").to(device=device, dtype=_DTYPE)
        else:
            tensor = torch.as_tensor(_check_mandel(X, "X", self.n_components_), device=device)
        return tensor / net.strain_scale, tensor.shape[:-1]

    def energy(self, X):
        """The energy density :math:`W(\\boldsymbol\\varepsilon)` at the Mandel strains ``X``; zero at zero strain.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., m)
            Mandel strains, at least one leading axis (one strain: ``(1, m)``), ``m`` as in the fit.

        Returns
        -------
        ndarray or torch.Tensor of float64, shape (...)
            A tensor on the network's device when ``X`` is one (on the autograd graph when ``X``
            requires grad).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` is not ``(..., m)`` with at least one leading axis, or (numpy) not finite.
        """
        x, _ = self._inputs(X)
        keep = isinstance(X, torch.Tensor) and X.requires_grad
        with torch.set_grad_enabled(keep):
            W = self._energy_scaled(x, create_graph=keep)
        return like(W if keep else W.detach(), X)

    def predict(self, X):
        """The stress :math:`\\partial W/\\partial\\boldsymbol\\varepsilon` at the Mandel strains ``X``, by
        autograd; zero at zero strain.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., m)
            Mandel strains, at least one leading axis (one strain: ``(1, m)``), ``m`` as in the fit.

        Returns
        -------
        ndarray or torch.Tensor of float64, shape (..., m)
            Mandel stresses; a tensor on the network's device when ``X`` is one (on the autograd graph
            when ``X`` requires grad).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            As in :meth:`energy`.
        """
        x, _ = self._inputs(X)
        keep = isinstance(X, torch.Tensor) and X.requires_grad
        sigma = self._stress_scaled(x, create_graph=keep)
        return like(sigma if keep else sigma.detach(), X)

    def tangent(self, X):
        """The tangent :math:`\\partial^2 W/\\partial\\boldsymbol\\varepsilon^2` at the Mandel strains ``X``:
        symmetric by construction, positive semi-definite with ``convex=True``.

        Parameters
        ----------
        X : array_like or torch.Tensor, shape (..., m)
            Mandel strains, at least one leading axis (one strain: ``(1, m)``), ``m`` as in the fit.

        Returns
        -------
        ndarray or torch.Tensor of float64, shape (..., m, m)
            A tensor (detached, on the network's device) when ``X`` is one.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            As in :meth:`energy`.
        """
        x, shape = self._inputs(X)
        x = x.detach().reshape(-1, x.shape[-1]).requires_grad_(True)
        with torch.enable_grad():
            sigma = self._stress_scaled(x, create_graph=True)
            rows = [torch.autograd.grad(sigma[:, i].sum(), x, retain_graph=True)[0] for i in range(sigma.shape[1])]
        tangent = torch.stack(rows, dim=1) / self.network_.strain_scale
        return like(tangent.detach().reshape(*shape, *tangent.shape[1:]), X)

    def score(self, X, y, sample_weight=None):
        """R² of ``predict(X)`` against the stresses ``y``, variance-weighted over the components.

        Parameters
        ----------
        X : array_like, shape (..., m)
            Mandel strains, as in :meth:`predict`.
        y : array_like, shape (..., m)
            True Mandel stresses, of the shape of ``X``.
        sample_weight : array_like, shape (n_rows,), optional
            Weights of the rows of ``X.reshape(-1, m)``; default ``None``: equal weights.

        Returns
        -------
        float

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` or ``y`` is not finite Mandel vectors of ``m`` components, or ``y`` has another shape.
        """
        prediction = np.asarray(self.predict(_check_mandel(X, "X", getattr(self, "n_components_", None))))
        truth = _check_mandel(y, "y")
        if truth.shape != prediction.shape:
            raise ValueError(f"y has shape {truth.shape}; expected {prediction.shape}")
        m = prediction.shape[-1]
        return float(r2_score(truth.reshape(-1, m), prediction.reshape(-1, m), sample_weight=sample_weight,
                              multioutput="variance_weighted"))
