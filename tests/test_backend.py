import warnings

import numpy as np
import pytest
import torch

import mslearn
from mslearn._backend import compute_device, cpu_threads, like, rng, to_torch, torch_generator, torch_seed
from mslearn._validation import (
    check_finite, check_in_range, check_labels, check_phase_present, check_positive, check_properties,
)


def test_device_resolution_and_errors():
    assert mslearn.device(torch.device("cpu")).type == "cpu"
    with pytest.raises(ValueError, match="not a device"):
        mslearn.device("gpu0")
    with pytest.raises(TypeError, match="device must be"):
        mslearn.device(3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            mslearn.device("cuda")


def test_auto_computes_a_tensor_where_it_lives():
    """Under device="auto" a tensor stays on its own device, even where CUDA exists (the "meta" device
    stands in for a device other than the one "auto" would pick); numpy and explicit specs resolve."""
    on_meta = torch.empty(2, device="meta")
    assert compute_device(on_meta).type == "meta"
    assert compute_device(on_meta, "cpu").type == "cpu"
    assert compute_device(np.zeros(2)) == mslearn.device("auto")
    assert compute_device(torch.zeros(2), "auto").type == "cpu"


def test_seeding_is_deterministic():
    assert rng(3).random() == rng(3).random()
    generator = np.random.default_rng(1)
    assert rng(generator) is generator
    with pytest.raises(ValueError, match="seed is None"):
        rng(None)
    a = torch.rand(3, generator=torch_generator(5))
    b = torch.rand(3, generator=torch_generator(5))
    assert torch.equal(a, b)
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got float 5.0"):
        torch_generator(5.0)
    with pytest.raises(ValueError, match="seed = -1; expected an integer >= 0"):
        torch_generator(-1)
    with pytest.raises(ValueError, match="seed is None"):      # was a TypeError, unlike rng(None)
        torch_generator(None)
    # numpy's seeds are checked the same way: True was seed 1, a negative seed numpy's bare message
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got bool True"):
        rng(True)
    with pytest.raises(ValueError, match="seed = -1; expected an integer >= 0"):
        rng(-1)


def test_large_seeds_keep_all_their_bits():
    """Torch's CPU generator keeps a seed's low 32 bits: 1 and 2**32 + 1 gave the same numbers, and a seed
    of 2**64 overflowed. Seeds below 2**32 are passed as they are (the book's numbers stay)."""
    assert torch_seed(0) == 0 and torch_seed(2**32 - 1) == 2**32 - 1
    draws = {seed: torch.rand(4, generator=torch_generator(seed)) for seed in (1, 2**32 + 1, 2**64, 2**100)}
    assert len({tuple(v.tolist()) for v in draws.values()}) == 4
    assert torch.equal(draws[2**100], torch.rand(4, generator=torch_generator(2**100)))
    from mslearn.nn import seeded
    with seeded(1, device="cpu"):
        small = torch.rand(4)
    with seeded(2**32 + 1, device="cpu"):
        large = torch.rand(4)
    assert torch.equal(small, draws[1]) and not torch.equal(small, large)


def test_integer_seed_raises_type_error_for_a_wrong_type_value_error_for_a_wrong_value():
    # a float or a string seed raised ValueError where check_integer (and torch_generator, rng) raise TypeError
    from mslearn.nn import integer_seed, seeded
    assert integer_seed(3) == 3 and integer_seed(np.int64(4)) == 4 and type(integer_seed(np.int64(4))) is int
    why = r"\(the same seed gives the same model; None is not accepted so that results are reproducible\)"
    for bad, shown in [(1.5, "float 1.5"), ("3", "str '3'"), (2.0, "float 2.0"), (True, "bool True")]:
        with pytest.raises(TypeError, match=f"random_state must be an integer >= 0, got {shown} {why}"):
            integer_seed(bad)
    with pytest.raises(ValueError, match=f"random_state = -1; expected an integer >= 0 {why}"):
        integer_seed(-1)
    with pytest.raises(ValueError, match=f"random_state = None; expected an integer >= 0 {why}"):
        integer_seed(None)        # refused as a value, as rng(None) is
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got float 1.5"):
        with seeded(1.5, device="cpu"):
            pass


def test_numpy_in_numpy_out():
    array = np.arange(6.0).reshape(2, 3)
    tensor = to_torch(array, dtype=torch.float64)
    assert isinstance(like(tensor * 2, array), np.ndarray)
    assert isinstance(like(tensor * 2, tensor), torch.Tensor)
    np.testing.assert_array_equal(like(tensor, array), array)


def test_to_torch_takes_read_only_and_byte_swapped_arrays():
    """A read-only array gave torch's "not writable ... undefined behavior" warning, a big-endian one torch's
    byte-order ValueError: both are copied, silently; a writable native array is still shared, not copied."""
    read_only = np.arange(4.0)
    read_only.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensor = to_torch(read_only)
        swapped = to_torch(np.arange(4.0).astype(">f8"))
    tensor[0] = 9.0
    assert read_only[0] == 0.0 and swapped.dtype == torch.float64 and swapped.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert to_torch(np.arange(3).astype(">i4"), dtype=torch.int64).tolist() == [0, 1, 2]
    shared = np.arange(4.0)
    to_torch(shared)[0] = 9.0
    assert shared[0] == 9.0


def test_to_torch_keeps_a_scalar_0d():
    """to_torch(3.0) gave shape (1,) (np.ascontiguousarray makes a 0-d array 1-d), so cahn_hilliard refused
    gamma=np.array(1.0) ("gamma has shape (1,); expected a scalar"); a scalar gives a 0-d tensor now, the rest
    as before."""
    for scalar in (3.0, 3, np.float32(3.0), np.array(3.0), np.array(3.0)[()]):
        tensor = to_torch(scalar)
        assert tensor.shape == () and tensor.item() == 3.0
    assert to_torch(np.array(3.0), dtype=torch.float64).dtype == torch.float64
    strided = np.arange(6.0)[::2]                          # not contiguous: copied, values kept
    assert to_torch(strided).tolist() == [0.0, 2.0, 4.0] and to_torch(np.ones((2, 3)).T).shape == (3, 2)
    from mslearn.process import cahn_hilliard
    assert cahn_hilliard((8, 8), gamma=np.array(1.0), phi0=np.array(0.0), n_steps=2, device="cpu").phi.shape == (8, 8)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros(5, dtype=int), "1 dimensions"),
        (np.zeros((2, 2, 2, 2), dtype=int), "4 dimensions"),
        (np.zeros((0, 4), dtype=int), "empty"),
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.array([[0.5, 1.0]]), "non-integer"),
        (np.array([[-1, 0]]), "negative label"),
        (np.array([["a", "b"]]), "integer phase labels"),
    ],
)
def test_bad_labels_are_named(labels, message):
    with pytest.raises((ValueError, TypeError), match=message):
        check_labels(labels, spatial=(2, 3) if labels.ndim != 1 else (2,))


def test_label_checks_accept_good_input_and_count_phases():
    assert check_labels(np.zeros((4, 4), dtype=np.uint8)) == 2
    assert check_labels(torch.zeros(3, 4, 4, 4, dtype=torch.int64), batch=True) == 3
    with pytest.raises(ValueError, match="only 2 phase properties"):
        check_labels(np.array([[0, 2]]), n_phases=2)
    with pytest.raises(ValueError, match="phase 3 does not occur"):
        check_phase_present(np.array([[0, 1]]), 3)


def test_number_checks():
    with pytest.raises(ValueError, match="k contains NaN"):
        check_finite(np.array([1.0, np.nan]), name="k")
    with pytest.raises(ValueError, match="expected > 0"):
        check_positive(np.array([1.0, 0.0]), name="k")
    check_positive(np.array([1.0, 0.0]), name="k", strict=False)
    with pytest.raises(ValueError, match=r"phi = 1.5 is outside \[0, 1\]"):
        check_in_range(1.5, 0, 1, name="phi")
    with pytest.raises(TypeError, match="one entry per phase"):
        check_properties(1.0, name="k")
    with pytest.raises(ValueError, match="labels go up to 2"):
        check_properties([1.0, 2.0], name="k", n_labels=3)


def test_cpu_threads_sets_and_restores_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with cpu_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with cpu_threads(None):
        assert torch.get_num_threads() == before
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"cpu_threads = {bad}; expected an integer >= 1"):
            with cpu_threads(bad):
                pass
    for bad in (1.5, True):
        with pytest.raises(TypeError, match=f"cpu_threads must be an integer >= 1, got {type(bad).__name__} {bad}"):
            with cpu_threads(bad):
                pass
