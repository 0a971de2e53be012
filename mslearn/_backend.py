"""Device selection, seeding and numpy/torch conversion shared by every module.

Public functions accept numpy arrays or torch tensors and return the same kind; the helpers here
do that conversion at the boundary so that the numerical code in each module works on torch
tensors only.
"""
from __future__ import annotations

import contextlib
import numbers

import numpy as np
import torch

from ._validation import check_flag, check_integer

__all__ = ["device", "rng", "torch_generator", "to_torch", "like", "is_torch", "cpu_threads", "compute_device"]


def device(spec="auto") -> torch.device:
    """Resolve a device specification to a :class:`torch.device`.

    Parameters
    ----------
    spec : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"`` picks CUDA when a GPU is available and the CPU otherwise.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> import mslearn
    >>> mslearn.device("cpu")
    device(type='cpu')
    """
    if isinstance(spec, torch.device):
        resolved = spec
    elif spec is None or (isinstance(spec, str) and spec.lower() == "auto"):
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(spec, str):
        try:
            resolved = torch.device(spec)
        except RuntimeError as error:
            raise ValueError(
                f"device={spec!r} is not a device; expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
            ) from error
    else:
        raise TypeError(
            f"device must be a string or torch.device, got {type(spec).__name__}; "
            "expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={spec!r} asks for CUDA but no CUDA device is available; "
            "use device='auto' to fall back to the CPU"
        )
    return resolved


_resolve_device = device   # for functions whose ``device`` argument shadows the function


def rng(seed) -> np.random.Generator:
    """A numpy Generator from an int seed, a SeedSequence or an existing Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError("seed is None; pass an integer seed so that results are reproducible")
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, numbers.Integral):
        return np.random.default_rng(check_integer(seed, 0, name="seed"))
    raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}")


def seeded_clone(estimator, seed: int):
    """A scikit-learn ``clone`` of ``estimator`` whose unset random states, nested ones included (a pipeline's
    steps, a wrapped estimator's), are ``seed`` (as :func:`torch_seed` gives it: scikit-learn takes seeds below
    2**32, and those are unchanged): the same fit gives the same numbers. A random state the caller set is
    kept."""
    from sklearn.base import clone

    estimator = clone(estimator)
    seed = torch_seed(seed)
    unset = {name: seed for name, value in estimator.get_params(deep=True).items()
             if (name == "random_state" or name.endswith("__random_state")) and value is None}
    return estimator.set_params(**unset) if unset else estimator


def torch_seed(seed: int) -> int:
    """The seed torch's generators get for an integer ``seed >= 0``: ``seed`` itself below
    :math:`2^{32}`, else a hash of all its bits (numpy's ``SeedSequence``) into 32 bits. Torch's CPU
    generator, a Mersenne twister, keeps only a seed's low 32 bits, so ``seed`` and ``seed + 2**32``
    would give the same numbers (and a seed of :math:`2^{64}` or more overflows)."""
    seed = check_integer(seed, 0, name="seed")
    return seed if seed < 2**32 else int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def torch_generator(seed, device_=None) -> torch.Generator:
    """A torch Generator on ``device_`` seeded from an int (:func:`torch_seed`) or drawn from a numpy
    Generator. ``None`` is refused as by :func:`rng` (ValueError)."""
    if seed is None:
        raise ValueError("seed is None; pass an integer seed so that results are reproducible")
    seed = int(seed.integers(2**62)) if isinstance(seed, np.random.Generator) else torch_seed(seed)
    generator = torch.Generator(device=device(device_) if device_ is not None else "cpu")
    generator.manual_seed(seed)
    return generator


def is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _is_auto(spec) -> bool:
    return isinstance(spec, str) and spec.lower() == "auto"


def compute_device(x, spec="auto") -> torch.device:
    """The device a computation on ``x`` runs on: under ``"auto"`` a tensor's own device (data already on
    a device is computed there, as :func:`to_torch` keeps it), otherwise :func:`device` of ``spec``."""
    if isinstance(x, torch.Tensor) and (spec is None or _is_auto(spec)):
        return x.device
    return device(spec)


def to_torch(x, device_=None, dtype=None) -> torch.Tensor:
    """Convert an array-like to a tensor on ``device_``.

    ``None`` keeps a tensor's device and puts numpy on the CPU; ``"auto"`` keeps a tensor's device
    too (data already on a device is computed there) and puts numpy on CUDA when available. A writable,
    contiguous numpy array of native byte order is not copied (a CPU tensor of its dtype shares its memory);
    any other array is copied first (torch takes neither read-only nor byte-swapped arrays). The shape is
    kept: a scalar (a Python or numpy number, a 0-d array) gives a 0-d tensor.

    Examples
    --------
    >>> import numpy as np
    >>> to_torch(3.0).shape, to_torch(np.arange(3)).shape
    (torch.Size([]), torch.Size([3]))
    """
    if isinstance(x, torch.Tensor):
        target = x.device if device_ is None or _is_auto(device_) else device(device_)
        return x.to(device=target, dtype=dtype or x.dtype)
    array = np.asarray(x)
    if not array.flags.c_contiguous:      # (np.ascontiguousarray would also make a 0-d array 1-d)
        array = np.ascontiguousarray(array)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    elif not array.flags.writeable:
        array = array.copy()
    tensor = torch.from_numpy(array)
    target = torch.device("cpu") if device_ is None else device(device_)
    return tensor.to(device=target, dtype=dtype or tensor.dtype)


def like(result, reference):
    """Return ``result`` (a tensor) as the same kind as ``reference``: numpy in, numpy out."""
    if isinstance(reference, torch.Tensor):
        return result
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().numpy()
    return result


@contextlib.contextmanager
def cpu_threads(n, device="cpu"):
    """Run torch's CPU kernels with ``n`` intra-op threads (``None``: unchanged), restored afterwards.

    The project's thread policy, in one place: small FFTs, convolutions and graph batches are faster
    on one thread than on several, whose synchronization costs more than the work, and much faster
    when the cores are shared (a second OpenMP thread waiting on a busy core can make a small solve
    5-10x slower). The ready datasets' solves, the reconstruction and, on request (``cpu_threads=``),
    the torch estimators (surrogates, inverse-design models, ``CropVAE``) run inside this context. A no-op
    when ``device`` is not the CPU.

    Examples
    --------
    >>> import torch
    >>> from mslearn._backend import cpu_threads
    >>> before = torch.get_num_threads()
    >>> with cpu_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n is None or _resolve_device(device).type != "cpu":
        yield
        return
    n = check_integer(n, 1, name="cpu_threads")   # None (above): torch's own setting
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def progress_bar(progress, total, desc, **options):
    """A tqdm bar over ``total`` steps when ``progress`` is True, else None (tqdm imported only then)."""
    if not check_flag(progress, name="progress"):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, **options)
