"""Mandel notation, isotropic stiffness tensors and rotations (numpy or torch, differentiable).

Mandel notation stores a symmetric second-order tensor :math:`\\varepsilon` as a vector with
:math:`\\sqrt2` on the off-diagonal entries and a fourth-order stiffness with minor symmetries as a
matrix, so that :math:`\\sigma = C\\varepsilon` and :math:`\\sigma:\\varepsilon = \\sigma\\cdot\\varepsilon`
(an orthonormal basis of symmetric tensors; Mandel 1965, Nye 1985). Order used throughout mslearn:

* 2D (plane strain): ``(11, 22, 12)`` with the shear entry :math:`\\sqrt2\\,\\varepsilon_{12}`;
* 3D: ``(11, 22, 33, 23, 13, 12)`` with :math:`\\sqrt2` on the last three.

Functions accept numpy arrays or torch tensors and return the same kind, so that stiffness built
from torch moduli with ``requires_grad`` keeps its gradient.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_integer, check_orthogonal

__all__ = [
    "mandel_pairs",
    "mandel_basis",
    "to_mandel",
    "from_mandel",
    "stiffness_to_mandel",
    "mandel_to_stiffness",
    "mandel_rotation",
    "lame_from",
    "isotropic_stiffness",
    "isotropic_moduli",
    "rotate_conductivity",
    "rotate_stiffness",
]

_PAIRS = {2: [(0, 0), (1, 1), (0, 1)], 3: [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]}


def _xp(*args):
    return torch if any(isinstance(a, torch.Tensor) for a in args) else np


def _arrays(*xs):
    """Lists and tuples as numpy arrays, or as tensors like the first tensor among ``xs``: every function
    here takes what :func:`mslearn.surrogates.transform_tensor` takes (a list has no ``.shape``). Integer
    and boolean values become float64, as numpy's products with the float bases make them: a torch
    integer tensor kept its dtype, which truncated the Mandel weight 1/sqrt(2) to 0 (a shear dropped)."""
    like = next((x for x in xs if isinstance(x, torch.Tensor)), None)
    if like is None:
        return tuple(_floating(np.asarray(x)) for x in xs)
    dtype = like.dtype if like.is_floating_point() or like.is_complex() else torch.float64
    return tuple(_floating(x) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=dtype,
                                                                                  device=like.device) for x in xs)


def _floating(x):
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() or x.is_complex() else x.to(torch.float64)
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


def _check_ndim(ndim):
    if ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r}; expected 2 (plane strain) or 3")
    check_integer(ndim, 2, name="ndim")     # 2.0 == 2, but would fail later as a shape or range()


def _check_square(A, size, name, what):
    """``A`` of shape ``(..., size, size)``, else an error that names both shapes."""
    if A.ndim < 2 or tuple(A.shape[-2:]) != (size, size):
        raise ValueError(f"{name} has shape {tuple(A.shape)}; expected (..., {size}, {size}), {what}")


def mandel_pairs(ndim):
    """Index pairs ``(i, j)`` of the Mandel components for ``ndim`` = 2 or 3.

    Examples
    --------
    >>> mandel_pairs(2)                         # (11, 22, 12)
    [(0, 0), (1, 1), (0, 1)]
    >>> len(mandel_pairs(3))
    6
    """
    _check_ndim(ndim)
    return list(_PAIRS[ndim])


def _index_and_weight(ndim, like):
    """For every entry (i, j) of a ``ndim``-tensor its Mandel component I(i, j) and the weight of the entry in
    it (1 on the diagonal, 1/sqrt(2) off it), both ``(ndim, ndim)``: ``t_ij = w_ij v_I(ij)``. The conversions
    gather entries with them, so that each component reads only its own entries (a product with the
    basis multiplied the other entries by 0, and a NaN anywhere made every component NaN)."""
    index = np.zeros((ndim, ndim), dtype=np.int64)
    weight = np.full((ndim, ndim), 1.0 / math.sqrt(2.0))
    for component, (i, j) in enumerate(_PAIRS[ndim]):
        index[i, j] = index[j, i] = component
    np.fill_diagonal(weight, 1.0)
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(index, device=like.device), torch.as_tensor(weight, dtype=like.dtype, device=like.device)
    return index, weight


def _symmetric_entries(tensor, ndim, axes):
    """The Mandel components along two axes of ``tensor`` (``axes`` = 2: the last two; 4: the last four, whose
    first pair makes the row): the mean of the entries (i, j) and (j, i) times sqrt(2) off the diagonal."""
    rows, cols = (list(side) for side in zip(*_PAIRS[ndim]))
    weight = np.array([1.0 if i == j else math.sqrt(2.0) for i, j in _PAIRS[ndim]]) / 2
    if isinstance(tensor, torch.Tensor):
        weight = torch.as_tensor(weight, dtype=tensor.dtype, device=tensor.device)
    if axes == 2:
        return (tensor[..., rows, cols] + tensor[..., cols, rows]) * weight
    # the rows' pairs first: (..., m, d, d), then the columns' pairs of each row: (..., m, m)
    halves = (tensor[..., rows, cols, :, :] + tensor[..., cols, rows, :, :]) * weight[:, None, None]
    return (halves[..., rows, cols] + halves[..., cols, rows]) * weight


def _check_tensors(tensor, order, name):
    """``tensor`` of shape ``(..., d, ..., d)``, ``order`` equal trailing axes with d = 2 or 3; returns d."""
    shape = tuple(tensor.shape)
    d = shape[-1] if len(shape) >= order else 0
    if d not in (2, 3) or shape[-order:] != (d,) * order:
        axes = ", ".join(["d"] * order)
        raise ValueError(f"{name} has shape {shape}; expected {'tensors' if order == 2 else 'stiffness tensors'} "
                         f"(..., {axes}) with d = 2 or 3")
    return d


def mandel_basis(ndim, like=None):
    r"""Orthonormal basis :math:`B_I` of symmetric tensors, shape ``(m, ndim, ndim)``.

    :math:`\varepsilon = \sum_I \varepsilon_I B_I` and :math:`\varepsilon_I = B_I : \varepsilon`. A numpy
    array, or with ``like`` a torch tensor a tensor on its device, of its dtype where that is a floating
    one (else float64).

    Examples
    --------
    >>> import numpy as np
    >>> B = mandel_basis(2)
    >>> B.shape
    (3, 2, 2)
    >>> np.einsum("Iij,Jij->IJ", B, B).round(4)   # orthonormal: B_I : B_J = delta_IJ
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    pairs = mandel_pairs(ndim)
    basis = np.zeros((len(pairs), ndim, ndim))
    for index, (i, j) in enumerate(pairs):
        if i == j:
            basis[index, i, i] = 1.0
        else:
            basis[index, i, j] = basis[index, j, i] = 1.0 / math.sqrt(2.0)
    if isinstance(like, torch.Tensor):
        dtype = like.dtype if like.is_floating_point() else torch.float64
        return torch.as_tensor(basis, dtype=dtype, device=like.device)
    return basis


def to_mandel(tensor):
    """Symmetric tensors ``(..., d, d)`` to Mandel vectors ``(..., m)``.

    :math:`v_I = B_I : t`: of a tensor that is not symmetric, the Mandel vector of its symmetric part.
    Each component reads only its own entries (a NaN stays in its components). Integer values give
    float64, numpy or torch as ``tensor``.

    Raises
    ------
    ValueError
        If ``tensor`` is not ``(..., d, d)`` with d = 2 or 3.

    Examples
    --------
    The shear entry carries sqrt(2), so the dot product of Mandel vectors is the double contraction:

    >>> import numpy as np
    >>> eps = np.array([[1.0, 0.5], [0.5, 2.0]]); sig = np.array([[3.0, 1.0], [1.0, -1.0]])
    >>> to_mandel(eps).round(4)
    array([1.    , 2.    , 0.7071])
    >>> round(float(to_mandel(sig) @ to_mandel(eps)), 4), round(float(np.sum(sig * eps)), 4)
    (2.0, 2.0)
    """
    tensor, = _arrays(tensor)
    return _symmetric_entries(tensor, _check_tensors(tensor, 2, "tensor"), axes=2)


def from_mandel(vector, ndim):
    """Mandel vectors ``(..., m)`` to symmetric tensors ``(..., d, d)``.

    Parameters
    ----------
    vector : array or tensor ``(..., m)``
        Mandel components (order of :func:`mandel_pairs`), ``m`` = 3 in 2D, 6 in 3D.
    ndim : {2, 3}
        Spatial dimension ``d`` of the tensors.

    Returns
    -------
    Symmetric tensors ``(..., d, d)``, numpy or torch as ``vector``.

    Examples
    --------
    >>> import numpy as np
    >>> eps = np.array([[1.0, 0.5], [0.5, 2.0]])
    >>> from_mandel(to_mandel(eps), ndim=2).round(4)      # round trip
    array([[1. , 0.5],
           [0.5, 2. ]])
    """
    _check_ndim(ndim)
    vector, = _arrays(vector)
    m = 3 if ndim == 2 else 6
    if vector.ndim == 0 or vector.shape[-1] != m:
        raise ValueError(f"vector has shape {tuple(vector.shape)}; expected Mandel vectors (..., {m}) for ndim={ndim}")
    index, weight = _index_and_weight(ndim, like=vector)
    return vector[..., index] * weight


def stiffness_to_mandel(C):
    """Fourth-order stiffness ``(..., d, d, d, d)`` (minor symmetries) to Mandel ``(..., m, m)``.

    :math:`C_{IJ} = B_I : C : B_J`: without the minor symmetries, the Mandel matrix of their
    symmetrization. As :func:`to_mandel`, each entry reads only its own entries, and integer values give
    float64.

    Raises
    ------
    ValueError
        If ``C`` is not ``(..., d, d, d, d)`` with d = 2 or 3.

    Examples
    --------
    >>> import numpy as np
    >>> C = isotropic_stiffness(E=1.0, nu=0.3)
    >>> C4 = mandel_to_stiffness(C, ndim=3)
    >>> bool(np.allclose(stiffness_to_mandel(C4), C))     # round trip
    True
    """
    C, = _arrays(C)
    return _symmetric_entries(C, _check_tensors(C, 4, "C"), axes=4)


def mandel_to_stiffness(C, ndim):
    """Mandel stiffness ``(..., m, m)`` to the fourth-order tensor ``(..., d, d, d, d)``.

    Parameters
    ----------
    C : array or tensor ``(..., m, m)``
        Mandel stiffness matrices, ``m`` = 3 in 2D, 6 in 3D.
    ndim : {2, 3}
        Spatial dimension ``d``.

    Returns
    -------
    Fourth-order stiffness tensors ``(..., d, d, d, d)`` (minor symmetries), numpy or torch as ``C``.

    Examples
    --------
    The shear modulus is C_1212 = mu in index notation and 2 mu in Mandel notation:

    >>> C = isotropic_stiffness(E=1.0, nu=0.3)
    >>> C4 = mandel_to_stiffness(C, ndim=3)
    >>> C4.shape, round(float(C4[0, 1, 0, 1]), 4), round(float(C[5, 5]), 4)
    ((3, 3, 3, 3), 0.3846, 0.7692)
    """
    _check_ndim(ndim)
    C, = _arrays(C)
    _check_square(C, 3 if ndim == 2 else 6, "C", f"Mandel stiffness matrices of a {ndim}D material")
    index, weight = _index_and_weight(ndim, like=C)
    return C[..., index[:, :, None, None], index[None, None, :, :]] * weight[:, :, None, None] * weight


def lame_from(*, E=None, nu=None, K=None, G=None):
    r"""Lamé constants :math:`(\lambda, \mu)` from ``(E, nu)`` or ``(K, G)`` (3D moduli).

    :math:`\lambda = E\nu/((1+\nu)(1-2\nu))`, :math:`\mu = E/(2(1+\nu))`;
    :math:`\lambda = K - 2G/3`, :math:`\mu = G`.

    Examples
    --------
    >>> lam, mu = lame_from(E=1.0, nu=0.25)               # nu = 1/4: lambda = mu
    >>> round(lam, 4), round(mu, 4)
    (0.4, 0.4)
    >>> lam, mu = lame_from(K=1.0, G=0.6)                 # lambda = K - 2G/3
    >>> round(lam, 4), round(mu, 4)
    (0.6, 0.6)
    """
    if E is not None and nu is not None and K is None and G is None:
        _check_moduli(E=E)
        ratio = _values(nu, "nu")
        if not ((ratio > -1) & (ratio < 0.5)).all():
            raise ValueError(f"nu={_shown(nu)}; expected a Poisson's ratio -1 < nu < 0.5")
        return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    if K is not None and G is not None and E is None and nu is None:
        _check_moduli(K=K, G=G)
        return K - 2.0 * G / 3.0, G
    raise ValueError("give either E and nu, or K and G (3D bulk and shear moduli)")


def _values(x, name):
    """The numbers of a modulus (number, array or tensor) as a float array, checked finite and real."""
    array = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} has dtype {array.dtype}; expected real numbers")
    array = array.astype(float)
    if not np.isfinite(array).all():
        raise ValueError(f"{name}={_shown(x)} contains NaN or inf; expected finite moduli")
    return array


def _shown(x):
    array = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
    return array.item() if array.size == 1 else f"an array with values in [{array.min()}, {array.max()}]"


def _check_moduli(**moduli):
    """Young's, bulk and shear moduli finite and >= 0 (0: a pore)."""
    for name, value in moduli.items():
        if (_values(value, name) < 0).any():
            raise ValueError(f"{name}={_shown(value)} is negative; expected a modulus >= 0 (0 for a pore)")


def isotropic_stiffness(E=None, nu=None, *, K=None, G=None, ndim=3):
    r"""Isotropic stiffness in Mandel notation, :math:`C = 3K\,\mathbb J + 2G\,\mathbb K`.

    Moduli given as arrays (numpy or torch, broadcasting together) give one stiffness per entry,
    ``(..., m, m)``.

    In 3D :math:`C = \lambda\,\mathbf 1\otimes\mathbf 1 + 2\mu\,\mathbb I` (6×6). In 2D the
    plane-strain in-plane block (3×3) of the same 3D tensor, i.e. ``(E, nu)`` / ``(K, G)`` are always
    the 3D moduli.

    Examples
    --------
    >>> isotropic_stiffness(K=1.0, G=1.0, ndim=2)
    array([[2.33333333, 0.33333333, 0.        ],
           [0.33333333, 2.33333333, 0.        ],
           [0.        , 0.        , 2.        ]])
    """
    _check_ndim(ndim)
    lam, mu = lame_from(E=E, nu=nu, K=K, G=G)
    m = 3 if ndim == 2 else 6
    ones = np.zeros(m)
    ones[:ndim] = 1.0
    # moduli of shape (...) give stiffnesses (..., m, m): a trailing axis each (an array of moduli broadcast
    # along the matrix's columns: a wrong, unsymmetric matrix)
    if _xp(lam, mu) is torch:
        ref = lam if isinstance(lam, torch.Tensor) else mu
        dtype = ref.dtype if ref.is_floating_point() else torch.float64
        lam, mu = (torch.as_tensor(a, dtype=dtype, device=ref.device)[..., None, None] for a in (lam, mu))
        ones = torch.as_tensor(ones, dtype=dtype, device=ref.device)
        return lam * torch.outer(ones, ones) + 2 * mu * torch.eye(m, dtype=dtype, device=ref.device)
    lam, mu = (np.asarray(a, dtype=float)[..., None, None] for a in (lam, mu))
    return lam * np.outer(ones, ones) + 2 * mu * np.eye(m)


def isotropic_moduli(C, *, ndim=None):
    r"""Bulk and shear moduli of the isotropic projection of Mandel stiffness ``C``.

    With the projectors :math:`\mathbb J = \tfrac1d \mathbf 1\otimes\mathbf 1` and
    :math:`\mathbb K = \mathbb I - \mathbb J`: :math:`d\,\kappa = \mathbb J :: C` and
    :math:`2\mu = (\mathbb K :: C)/\operatorname{tr}\mathbb K` (Walpole 1984). In 3D
    :math:`\kappa = K` is the bulk modulus; in 2D (plane strain) it is the in-plane (area) bulk
    modulus :math:`\kappa = \lambda + \mu` used by the 2D Hashin–Shtrikman bounds.

    Examples
    --------
    The 3D moduli come back; in 2D the area bulk modulus lambda + mu = K + G/3:

    >>> K, G = isotropic_moduli(isotropic_stiffness(K=2.0, G=1.0))
    >>> round(float(K), 4), round(float(G), 4)
    (2.0, 1.0)
    >>> kappa, G = isotropic_moduli(isotropic_stiffness(K=2.0, G=1.0, ndim=2))
    >>> round(float(kappa), 4), round(float(G), 4)
    (2.3333, 1.0)
    """
    C, = _arrays(C)
    m = C.shape[-1]
    ndim = (2 if m == 3 else 3) if ndim is None else ndim       # ndim=0 is an error, not "infer it"
    _check_ndim(ndim)
    _check_square(C, 3 if ndim == 2 else 6, "C", f"Mandel stiffness matrices of a {ndim}D material")
    ones = np.zeros(m)
    ones[:ndim] = 1.0
    J = np.outer(ones, ones) / ndim
    Kd = np.eye(m) - J
    if isinstance(C, torch.Tensor):
        J, Kd = (torch.as_tensor(a, dtype=C.dtype, device=C.device) for a in (J, Kd))
    xp = _xp(C)
    bulk = xp.einsum("ij,...ji->...", J, C) / ndim
    shear = xp.einsum("ij,...ji->...", Kd, C) / (2 * (m - 1))
    return bulk, shear


def rotate_conductivity(K, R):
    r"""Rotate a second-order tensor: :math:`K' = R K R^T`.

    Examples
    --------
    A quarter turn swaps the principal conductivities:

    >>> import numpy as np
    >>> R = np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> rotate_conductivity(np.diag([1.0, 3.0]), R).round(4) + 0.0
    array([[3., 0.],
           [0., 1.]])
    """
    K, R = _arrays(K, R)
    check_orthogonal(R)
    _check_square(K, R.shape[-1], "K", "second-order tensors of the dimension of R")
    return R @ K @ R.swapaxes(-1, -2)


def mandel_rotation(R):
    r"""The Mandel matrix :math:`Q(R)` of a rotation or reflection: :math:`Q_{IJ} = B_I : (R B_J R^T)`.

    A Mandel stiffness transforms as :math:`C' = Q C Q^T` (the same as :func:`rotate_stiffness`), and
    :math:`Q` is orthogonal because the Mandel basis :math:`B_I` is orthonormal. ``R``: ``(d, d)`` or
    ``(..., d, d)``, numpy or torch; returns ``(..., m, m)``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.pi / 6; R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    >>> Q = mandel_rotation(R)
    >>> bool(np.allclose(Q @ Q.T, np.eye(3)))             # orthogonal
    True
    >>> C = np.array([[4.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    >>> bool(np.allclose(Q @ C @ Q.T, rotate_stiffness(C, R)))
    True
    """
    R, = _arrays(R)
    ndim = check_orthogonal(R).shape[-1]
    _check_ndim(ndim)
    basis = mandel_basis(ndim, like=R)
    return _xp(R).einsum("Iij,...ia,...jb,Jab->...IJ", basis, R, R, basis)


def rotate_stiffness(C, R):
    r"""Rotate a Mandel stiffness: :math:`C'_{ijkl} = R_{ia}R_{jb}R_{kc}R_{ld}C_{abcd}`.

    Examples
    --------
    A quarter turn swaps C_1111 and C_2222; an isotropic stiffness does not change under any rotation:

    >>> import numpy as np
    >>> C = np.array([[4.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    >>> rotate_stiffness(C, np.array([[0.0, -1.0], [1.0, 0.0]])).round(4) + 0.0
    array([[2., 1., 0.],
           [1., 4., 0.],
           [0., 0., 1.]])
    >>> t = np.pi / 6; R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    >>> C_iso = isotropic_stiffness(E=1.0, nu=0.3, ndim=2)
    >>> bool(np.allclose(rotate_stiffness(C_iso, R), C_iso))
    True
    """
    C, R = _arrays(C, R)
    ndim = check_orthogonal(R).shape[-1]
    C4 = mandel_to_stiffness(C, ndim)
    rotated = _xp(C, R).einsum("...ia,...jb,...kc,...ld,...abcd->...ijkl", R, R, R, R, C4)   # R (..., d, d) too
    return stiffness_to_mandel(rotated)
