r"""Network building blocks shared by every torch model of ``mslearn``: one copy of each.

* :data:`ACTIVATIONS` and :func:`activation` — the activation functions an estimator may name.
* :func:`periodic_pad` and :class:`PeriodicConv` — circular padding and the periodic convolution of
  the CNN and U-Net surrogates and of the fixed feature network of :mod:`mslearn.descriptors`: a
  representative volume element tiles space, so a particle cut by the boundary continues on the
  other side.
* :func:`symmetry_group` and :func:`apply_symmetry` — the point-symmetry group of the square or cube
  (rotations by 90° and reflections) acting on images by index operations, for exact data
  augmentation and test-time averaging.
* :func:`seeded` — a block in which torch's global random generator is seeded, and restored on exit,
  so that an estimator's ``random_state`` fixes its weights without changing the caller's random state.

Why hand-written: each block is a few lines of torch; the libraries that ship them (MONAI, e2cnn,
skorch) would add heavy dependencies for what is written here once.
"""
from __future__ import annotations

import contextlib
import itertools

import numpy as np
import torch

from ._backend import torch_seed
from ._validation import check_flag, check_integer

__all__ = ["ACTIVATIONS", "activation", "periodic_pad", "PeriodicConv", "symmetry_group", "apply_symmetry",
           "seeded", "integer_seed"]

#: The activation functions an estimator may name, by name (``torch.nn`` classes).
ACTIVATIONS = {"gelu": torch.nn.GELU, "silu": torch.nn.SiLU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


def activation(name):
    """The ``torch.nn`` activation class called ``name`` (one of :data:`ACTIVATIONS`).

    Examples
    --------
    >>> import torch
    >>> layer = activation("relu")()                 # the class, then an instance
    >>> layer(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation = {name!r} is not one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------- periodic convolution
def periodic_pad(field, pad, ndim):
    """Pad the last ``ndim`` (2 or 3) axes of the tensor ``field`` ``([batch,] channels, *spatial)``
    circularly by ``pad`` on each side.

    Built from ``torch.cat`` of the wrapped edges: on the CPU this is faster than
    ``torch.nn.functional.pad(mode="circular")`` (whose backward pass copies slice by slice). A pad
    wider than an axis wraps around it several times (``index_select``; the same values and
    gradients, only slower), which dilated convolutions on small images need.

    Examples
    --------
    Each side gets the opposite edge (a 2 x 4 image, one channel):

    >>> import torch
    >>> periodic_pad(torch.arange(8.0).reshape(1, 2, 4), 1, ndim=2)
    tensor([[[7., 4., 5., 6., 7., 4.],
             [3., 0., 1., 2., 3., 0.],
             [7., 4., 5., 6., 7., 4.],
             [3., 0., 1., 2., 3., 0.]]])
    """
    if not isinstance(field, torch.Tensor):
        raise TypeError(f"field is a {type(field).__name__}; expected a torch tensor")
    if check_integer(ndim, 2, name="ndim") > 3 or field.ndim < ndim + 1:
        # otherwise the channel (or batch) axis would be padded, or nothing; torch convolutions take
        # an unbatched (channels, *spatial) too
        raise ValueError(f"ndim = {ndim} with field of shape {tuple(field.shape)}; expected 2 or 3 spatial axes "
                         "of a field ([batch,] channels, *spatial)")
    if check_integer(pad, 0, name="pad") == 0:
        return field
    for axis in range(field.ndim - ndim, field.ndim):
        n = field.shape[axis]
        if pad <= n:
            field = torch.cat([field.narrow(axis, n - pad, pad), field, field.narrow(axis, 0, pad)], dim=axis)
        else:
            field = field.index_select(axis, torch.arange(-pad, n + pad, device=field.device) % n)
    return field


class PeriodicConv(torch.nn.Module):
    """A 2D or 3D convolution with circular (periodic) padding that keeps the spatial size.

    Parameters
    ----------
    ndim : {2, 3}
    n_in, n_out : int
        Input and output channels.
    kernel : int
        Odd kernel side (padding ``kernel // 2`` on every side).

    Examples
    --------
    The spatial size is kept and a periodic shift of the input shifts the output (translation equivariance):

    >>> import torch
    >>> with seeded(0, device="cpu"):
    ...     layer = PeriodicConv(2, n_in=1, n_out=4)
    >>> image = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> layer(image).shape
    torch.Size([1, 4, 8, 8])
    >>> bool(torch.allclose(layer(torch.roll(image, 3, -1)), torch.roll(layer(image), 3, -1), atol=1e-6))
    True
    """

    def __init__(self, ndim, n_in, n_out, kernel=3):
        super().__init__()
        if ndim not in (2, 3):
            raise ValueError(f"ndim = {ndim!r}; expected 2 or 3 spatial dimensions")
        check_integer(ndim, 2, name="ndim")
        n_in, n_out = check_integer(n_in, 1, name="n_in"), check_integer(n_out, 1, name="n_out")
        if check_integer(kernel, 1, name="kernel") % 2 != 1:
            raise ValueError(f"kernel = {kernel!r}; expected an odd size, so that the output keeps the input's size")
        self.conv = (torch.nn.Conv2d if ndim == 2 else torch.nn.Conv3d)(n_in, n_out, kernel)
        self.ndim, self.pad = ndim, kernel // 2

    def forward(self, x):
        """Convolve ``x`` with periodic padding; the output keeps the spatial size.

        Called as ``layer(x)`` (torch's ``Module.__call__``).

        Parameters
        ----------
        x : torch.Tensor, shape ``([batch,] n_in, *spatial)``
            Input channels, ``ndim`` spatial axes, in the dtype and on the device of the layer's weights.

        Returns
        -------
        torch.Tensor, shape ``([batch,] n_out, *spatial)``
        """
        return self.conv(periodic_pad(x, self.pad, self.ndim))


# ----------------------------------------------------------------------------- symmetry group
def symmetry_group(ndim, *, rotations=True):
    r"""The symmetry group of the square (``ndim=2``, 8 elements) or cube (``ndim=3``, 48 elements).

    Returns the signed permutation matrices :math:`R` (``(|G|, d, d)`` float64, identity first):
    all axis permutations times all sign flips, the hyperoctahedral group of order :math:`2^d d!`.
    ``rotations=False`` keeps only the mirrors along any set of axes (the subgroup
    :math:`(\mathbb Z_2)^d` of diagonal matrices, :math:`2^d` elements).

    Examples
    --------
    >>> G = symmetry_group(2)
    >>> G.shape, len(symmetry_group(3)), len(symmetry_group(3, rotations=False))   # 2^d d!, and 2^d mirrors
    ((8, 2, 2), 48, 8)
    >>> G[0]
    array([[1., 0.],
           [0., 1.]])
    """
    if ndim not in (2, 3):
        raise ValueError(f"ndim = {ndim!r}; expected 2 or 3 spatial dimensions")
    check_integer(ndim, 2, name="ndim")     # 2.0 == 2, but fails in range()
    rotations = check_flag(rotations, name="rotations")
    permutations = itertools.permutations(range(ndim)) if rotations else [tuple(range(ndim))]
    matrices = []
    for permutation in permutations:
        for signs in itertools.product((1.0, -1.0), repeat=ndim):
            R = np.zeros((ndim, ndim))
            for j, (k, s) in enumerate(zip(permutation, signs)):
                R[k, j] = s  # R e_j = s_j e_{pi(j)}
            matrices.append(R)
    return np.stack(matrices)


def _index_action(R):
    """Axis order and flipped axes that realize ``x'(y) = x(R^T y)`` on an array (spatial axes)."""
    R = np.asarray(R)
    d = R.shape[0]
    source = [int(np.flatnonzero(R[k])[0]) for k in range(d)]      # new axis k <- old axis pi^-1(k)
    flips = [k for k in range(d) if R[k, source[k]] < 0]
    return source, flips


def apply_symmetry(field, R, *, channels=False):
    r"""Transform a batch of images (phase labels or real fields) by the point symmetry ``R``.

    ``R`` is a signed permutation matrix, an element of :func:`symmetry_group`.

    The transformed image is :math:`x'(y) = x(R^T y)` (the microstructure moved by :math:`R`), whose
    effective tensor is :math:`R K R^T`. Reflections act about the array centre
    (``i -> n - 1 - i``), which differs from :math:`y \mapsto -y` by a periodic translation.

    Parameters
    ----------
    field : array or tensor ``(n, *spatial)``, or ``(n, c, *spatial)`` with ``channels=True``
    R : array ``(d, d)``, an element of :func:`symmetry_group`
    channels : bool, default False
        ``field`` has a channel axis after the batch axis. Only the pixels move: the channel values
        are kept (the components of a vector or tensor field are not rotated).

    Returns
    -------
    The transformed images, numpy or torch as ``field``, with its spatial axes permuted by ``R``
    (the same shape for square or cubic images).

    Examples
    --------
    A quarter turn of a laminate turns its conductivity tensor by R K R^T: the diagonal swaps.

    >>> import numpy as np
    >>> from mslearn.homogenization.solver import conductivity
    >>> labels = np.zeros((1, 8, 8), dtype=int); labels[0, :4] = 1          # K* = diag(1.5, 2)
    >>> R = np.array([[0.0, -1.0], [1.0, 0.0]])                            # in symmetry_group(2)
    >>> K = conductivity(apply_symmetry(labels, R)[0], [1.0, 3.0], device="cpu").effective
    >>> np.diag(K).round(6)
    array([2. , 1.5])
    """
    R = np.asarray(R)
    if not isinstance(field, torch.Tensor):
        field = np.asarray(field)       # a nested list, like transform_tensor takes
    d = R.shape[0]
    lead = 2 if check_flag(channels, name="channels") else 1
    if field.ndim != lead + d:
        layout = "(n, c, *spatial)" if channels else "(n, *spatial)"
        raise ValueError(f"field has shape {tuple(field.shape)}; expected {layout} with {d} spatial axes")
    if not np.allclose(np.abs(R).sum(0), 1) or not np.allclose(np.abs(R).sum(1), 1) \
            or not np.allclose(np.abs(R), np.abs(R).round()):
        raise ValueError("R must be a signed permutation matrix (an element of symmetry_group(ndim))")
    source, flips = _index_action(R)
    order = list(range(lead)) + [lead + s for s in source]
    if isinstance(field, torch.Tensor):
        out = field.permute(order)
        return out.flip([lead + k for k in flips]) if flips else out.contiguous()
    out = np.transpose(field, order)
    return np.ascontiguousarray(np.flip(out, [lead + k for k in flips]) if flips else out)


# ----------------------------------------------------------------------------- seeding
def integer_seed(random_state, *, name="random_state"):
    """The integer seed of an estimator, checked (an int >= 0, so that every fit is reproducible).

    Raises ``TypeError`` for a value that is not an integer (a float such as 1.5 or 2.0, a string, a
    bool, a Generator) and ``ValueError`` for a negative integer or ``None`` (refused as a value, as by
    ``mslearn._backend.rng``: it would draw a fresh seed on every fit).

    Examples
    --------
    >>> from mslearn.nn import integer_seed
    >>> integer_seed(3)
    3
    >>> integer_seed(1.5)
    Traceback (most recent call last):
    ...
    TypeError: random_state must be an integer >= 0, got float 1.5 (the same seed gives the same model; ...
    """
    why = "the same seed gives the same model; None is not accepted so that results are reproducible"
    if random_state is None:
        raise ValueError(f"{name} = None; expected an integer >= 0 ({why})")
    try:
        return check_integer(random_state, 0, name=name)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error} ({why})") from None


@contextlib.contextmanager
def seeded(seed, device="auto"):
    """A block in which torch's global generators start from ``seed``; the caller's random state is
    restored on exit (``torch.random.fork_rng``).

    The CPU generator is always seeded, and the GPU's when ``device`` is a CUDA device (``"auto"``:
    the current CUDA device when CUDA is present), so that dropout or sampling on the GPU repeats too.
    The layers of ``torch.nn`` draw their initial weights from the global generator, with no
    ``generator=`` argument; seeding it inside a fork gives reproducible weights without changing
    ``torch.initial_seed()`` or ``torch.get_rng_state()`` for the caller.

    Examples
    --------
    The same seed gives the same initial weights, and the caller's random state is untouched:

    >>> import torch
    >>> state = torch.get_rng_state()
    >>> with seeded(0, device="cpu"):
    ...     a = torch.nn.Linear(3, 2)
    >>> with seeded(0, device="cpu"):
    ...     b = torch.nn.Linear(3, 2)
    >>> bool(torch.equal(a.weight, b.weight)), bool(torch.equal(state, torch.get_rng_state()))
    (True, True)
    """
    seed = torch_seed(integer_seed(seed, name="seed"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    gpus = []
    if device.type == "cuda":
        gpus = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=gpus):
        torch.default_generator.manual_seed(seed)
        for gpu in gpus:
            with torch.cuda.device(gpu):
                torch.cuda.manual_seed(seed)
        yield
