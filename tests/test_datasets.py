"""mslearn.datasets: the resumable HDF5 store (generate/load) and the ready solver datasets.

Physics of the ready datasets is checked against rigorous bounds: every eigenvalue of an effective
conductivity or stiffness lies between the Reuss (harmonic) and Voigt (arithmetic) averages of the
local tensors (Hill 1952; Torquato 2002, ch. 21), with a relative tolerance of 1e-6 for solver
round-off (solver tolerance 1e-4 on the residual gives effective values to ~1e-5 *inside* the bounds).
"""
import functools
import json
import math
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from mslearn import datasets
from mslearn.datasets import ready
from mslearn.datasets import Dataset, generate, load, sample_parameters, sample_seeds, voxel_composite_images
from mslearn.descriptors import specific_surface
from mslearn.homogenization.tensors import isotropic_stiffness

SPACE = {"a": (0.0, 1.0), "b": (1.0, 100.0, "log"), "c": (-2.0, 2.0)}


def toy_sampler(parameters, seeds):
    """Cheap deterministic sampler: content depends only on (parameters, per-sample seed)."""
    out_y, images, nodes, edges = [], [], [], []
    for (_, row), seed in zip(parameters.iterrows(), seeds):
        gen = np.random.default_rng(seed)
        out_y.append(row["a"] + np.log10(row["b"]) + gen.random())
        images.append(gen.integers(0, 3, (4, 5)).astype(np.uint8))
        n = 2 + int(gen.integers(0, 4))
        nodes.append(gen.random((n, 3)).astype(np.float32))
        pairs = np.array([[i, (i + 1) % n] for i in range(n)])
        edges.append(np.concatenate([pairs, pairs[:, ::-1]]))
    n_edges = [len(e) for e in edges]
    return {"y": np.array(out_y), "y2": 2 * np.array(out_y), "images": np.stack(images),
            "descriptors": {"measured_a": parameters["a"].to_numpy() * 1.01},
            "ragged": {"node_features": nodes, "edge_index": edges,
                       "edge_features": [np.ones((m, 2), np.float32) for m in n_edges]}}


toy_sampler.name = "tests.toy_sampler"


class Boom(RuntimeError):
    pass


def failing_sampler(fail_at_call):
    calls = {"n": 0}

    def sampler(parameters, seeds):
        calls["n"] += 1
        if calls["n"] == fail_at_call:
            raise Boom("simulated crash")
        return toy_sampler(parameters, seeds)

    sampler.name = toy_sampler.name   # same configuration: resuming is allowed
    return sampler


def assert_same(a: Dataset, b: Dataset):
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a.parameters, b.parameters)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
    np.testing.assert_array_equal(a.metadata["seeds"], b.metadata["seeds"])
    if "node_features" not in a._ragged:
        return
    for ga, gb in zip(a.graphs(), b.graphs()):
        for key in ga:
            np.testing.assert_array_equal(ga[key], gb[key])


def make(path, n, **kw):
    kw = {"seed": 3, "batch_size": 6, "progress": False, "metadata": {"phases": [1.0, 2.0]}, **kw}
    sampler = kw.pop("sampler", toy_sampler)
    return generate(path, sampler, kw.pop("space", SPACE), n, **kw)


# ----------------------------------------------------------------------------- the store
def test_interrupted_generation_resumes_to_the_same_samples(tmp_path):
    full = make(tmp_path / "full.h5", 20)
    path = tmp_path / "crash.h5"
    with pytest.raises(Boom) as crash:
        make(path, 20, sampler=failing_sampler(3))          # two batches of 6 written, then a crash
    if hasattr(crash.value, "add_note"):                    # Python >= 3.11: where it stopped
        assert "failed on samples 12..17" in crash.value.__notes__[0] and "keeps the 12" in crash.value.__notes__[0]
    partial = load(path)
    assert len(partial) == 12
    with h5py.File(path, "r") as file:
        assert file.attrs["n_complete"] == 12
    resumed = make(path, 20, batch_size=4)                   # other batch boundaries: same content
    assert_same(resumed, full)
    assert_same(load(path), full)


def test_appending_equals_generating_at_once(tmp_path):
    once = make(tmp_path / "once.h5", 25)
    path = tmp_path / "grow.h5"
    small = make(path, 10, batch_size=7)
    assert len(small) == 10
    grown = make(path, 25, batch_size=5)
    assert_same(grown, once)
    # a smaller request keeps what is there and returns what was asked for (returned all 25)
    assert_same(make(path, 5), load(path, 5))
    assert len(load(path)) == 25


def test_a_call_that_computes_nothing_keeps_the_provenance(tmp_path):
    """Every call rewrote versions, n_requested and the card, even one that computed nothing (a smaller
    n_samples lowered n_requested to it), and an extension under other package versions lost the versions
    of the earlier samples. Now only a call that computes samples writes them, and keeps the former versions."""
    path = tmp_path / "p.h5"
    make(path, 8)
    old = dict(load(path).metadata["versions"], numpy="0.0")         # as if made under another numpy
    with h5py.File(path, "a") as file:
        file.attrs["versions"] = json.dumps(old, sort_keys=True)
        before = {name: file.attrs[name] for name in ("versions", "n_requested", "card")}
    make(path, 4)
    with h5py.File(path, "r") as file:
        assert {name: file.attrs[name] for name in before} == before and "former_versions" not in file.attrs
    meta = make(path, 12).metadata
    assert meta["former_versions"] == [old] and meta["versions"]["numpy"] == np.__version__
    assert meta["n_requested"] == 12 and "12 complete of 12 requested" in meta["card"]
    assert "numpy 0.0" in meta["card"] and "- extended with " in meta["card"]
    assert (tmp_path / "p.README.md").read_text() == meta["card"]
    assert make(path, 16).metadata["former_versions"] == [old]           # the same versions again: nothing added


def test_content_does_not_depend_on_batch_size(tmp_path):
    assert_same(make(tmp_path / "a.h5", 9, batch_size=1), make(tmp_path / "b.h5", 9, batch_size=100))


@pytest.mark.parametrize("change", [
    {"space": {"a": (0.0, 2.0), "b": (1.0, 100.0, "log"), "c": (-2.0, 2.0)}},
    {"seed": 4},
    {"method": "lhs"},
    {"metadata": {"phases": [1.0, 3.0]}},
])
def test_configuration_mismatch_raises(tmp_path, change):
    path = tmp_path / "store.h5"
    make(path, 6)
    with pytest.raises(ValueError, match="different configuration"):
        make(path, 12, **change)
    assert len(load(path)) == 6


def test_other_sampler_raises(tmp_path):
    path = tmp_path / "store.h5"
    make(path, 6)

    def other(parameters, seeds):
        return toy_sampler(parameters, seeds)

    with pytest.raises(ValueError, match="sampler"):
        make(path, 6, sampler=other)


def test_lhs_store_cannot_be_resized(tmp_path):
    path = tmp_path / "lhs.h5"
    data = make(path, 8, method="lhs")
    a = data.parameters["a"].to_numpy()
    assert np.array_equal(np.sort(np.floor(a * 8)), np.arange(8))   # one point per stratum
    with pytest.raises(ValueError, match="Latin hypercube"):
        make(path, 16, method="lhs")


def test_two_stores_with_one_stem_are_refused_not_one_card_for_both(tmp_path):
    # a.h5 and a.hdf5 (or a) in one folder both wrote a.README.md: the second store's card replaced the first's
    first = make(tmp_path / "a.h5", 4, metadata={"description": "the first store"})
    card = (tmp_path / "a.README.md").read_text()
    for other in ("a.hdf5", "a"):
        with pytest.raises(ValueError, match=f"the store {other} and the store a.h5 in .* have the same stem 'a', so "
                                             "they would share the card a.README.md and each would overwrite the "
                                             "other's; expected stores whose names differ before the extension"):
            make(tmp_path / other, 4, metadata={"description": "the second store"})
        assert not (tmp_path / other).exists()                      # refused before anything was written
    assert (tmp_path / "a.README.md").read_text() == card == first.metadata["card"]
    make(tmp_path / "a.h5", 6, metadata={"description": "the first store"})      # the store itself may grow
    make(tmp_path / "a-2.hdf5", 4)
    (tmp_path / "b.hdf5").write_bytes(b"")                          # not a store: no card of its own
    make(tmp_path / "b.h5", 4)
    assert "the first store" in (tmp_path / "a.README.md").read_text()


def test_schema_metadata_and_card(tmp_path):
    path = tmp_path / "store.h5"
    data = make(path, 10, metadata={"phases": [1.0, 2.0], "description": "toy data"})
    assert list(data.parameters.columns) == ["a", "b", "c", "measured_a"]
    assert list(data.targets.columns) == ["y", "y2"]
    assert data.arrays["images"].shape == (10, 4, 5) and data.arrays["images"].dtype == np.uint8
    meta = data.metadata
    assert meta["seed"] == 3 and meta["method"] == "sobol" and meta["phases"] == [1.0, 2.0]
    assert meta["parameter_space"] == {"a": (0.0, 1.0, "linear"), "b": (1.0, 100.0, "log"),
                                       "c": (-2.0, 2.0, "linear")}
    assert meta["versions"]["mslearn"] and meta["versions"]["h5py"] and meta["versions"]["torch"]
    assert meta["n_complete"] == 10 and meta["sampler"] == "tests.toy_sampler"
    np.testing.assert_array_equal(meta["seeds"], sample_seeds(3, 0, 10))
    card = (tmp_path / "store.README.md").read_text()
    assert card == meta["card"]
    for text in ("toy data", "| b | 1 | 100 | log-uniform |", "seed 3", "10 complete", "h5py", "Licence"):
        assert text in card
    with h5py.File(path, "r") as file:
        assert json.loads(file.attrs["config"])["seed"] == 3
        assert file["arrays/images"].compression == "gzip"
    for name, (low, high, *_) in SPACE.items():
        assert data.parameters[name].between(low, high).all()


def test_design_is_extensible_and_log_uniform():
    first = sample_parameters(SPACE, 10, seed=1)
    more = sample_parameters(SPACE, 37, seed=1)
    pd.testing.assert_frame_equal(first, more.iloc[:10])
    tail = sample_parameters(SPACE, 37, seed=1, start=10)
    pd.testing.assert_frame_equal(tail, more.iloc[10:])
    logb = np.log10(sample_parameters(SPACE, 1024, seed=0)["b"])
    assert abs(np.mean(logb < 1.0) - 0.5) < 0.02            # half the points below the log-midpoint


def test_split_is_disjoint_complete_and_seeded(tmp_path):
    data = make(tmp_path / "s.h5", 41)
    parts = data.split((0.7, 0.15, 0.15), seed=0)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(41))
    assert len(parts["validation"]) == 6 and len(parts["test"]) == 6 and len(parts["train"]) == 29
    again = data.split((0.7, 0.15, 0.15), seed=0)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["test"], data.split(seed=1)["test"])
    with pytest.raises(TypeError, match="positional"):       # seed is keyword-only, as everywhere in the package
        data.split((0.7, 0.15, 0.15), 1)
    for bad in [(0.5, 0.5), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1), (np.nan, 0.5, 0.5)]:
        with pytest.raises(ValueError, match="fractions"):
            data.split(bad)


def test_torch_dataset_shapes(tmp_path):
    data = make(tmp_path / "t.h5", 12)
    train = data.split(seed=0)["train"]
    images = data.torch_dataset("images", "y", indices=train)
    assert len(images) == len(train)
    x, y = images[0]
    assert x.shape == (4, 5) and x.dtype == torch.float32 and y.shape == ()
    table = data.torch_dataset(["a", "b", "measured_a"], ["y", "y2"])
    x, y = table[3]
    assert x.shape == (3,) and y.shape == (2,)
    assert torch.isclose(x[0], torch.tensor(data.parameters["a"][3], dtype=torch.float32))
    batch = next(iter(torch.utils.data.DataLoader(table, batch_size=5)))
    assert batch[0].shape == (5, 3) and batch[1].shape == (5, 2)
    with pytest.raises(ValueError, match="not in the dataset"):
        data.torch_dataset("nope", "y")
    with pytest.raises(ValueError, match="indices"):
        data.torch_dataset("images", "y", indices=[0, 99])


def test_graphs(tmp_path):
    data = make(tmp_path / "g.h5", 7)
    graphs = data.graphs()
    assert len(graphs) == 7 and len(data.graphs([1, 2])) == 2
    for g in graphs:
        assert g["node_features"].dtype == np.float32 and g["node_features"].shape[1] == 3
        assert g["edge_index"].dtype == np.int64 and g["edge_index"].shape[0] == 2
        assert g["edge_features"].shape == (g["edge_index"].shape[1], 2)
        assert g["edge_index"].max() < len(g["node_features"])


@pytest.mark.parametrize("space, message", [
    ({"a": (0.0, float("nan"))}, "NaN"),
    ({"a": (1.0, 1.0)}, "low = 1.0 >= high"),
    ({"a": (2.0, 1.0)}, "low = 2.0 >= high"),
    ({"a": (0.0, 1.0, "log")}, "log-uniform"),
    ({"a": (0.0, 1.0, "cubic")}, "scale"),
    ({"a": (0.0,)}, "expected"),
    ({}, "non-empty"),
])
def test_bad_parameter_space(tmp_path, space, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "x.h5", toy_sampler, space, 4, seed=0, progress=False)


def _scaled(parameters, seeds, scale=1.0):
    return {"y": scale * parameters["a"].to_numpy()}


def test_a_store_is_not_extended_by_another_partial_or_lambda(tmp_path):
    # the configuration named a partial by its function and a lambda by '<lambda>': a store made with
    # scale=1 was extended with scale=1000, one made by y = a with y = -a, and the samples mixed silently
    space = {"a": (0.0, 1.0)}
    generate(tmp_path / "p.h5", functools.partial(_scaled, scale=1.0), space, 3, seed=0, progress=False)
    with pytest.raises(ValueError, match="differs in: sampler"):
        generate(tmp_path / "p.h5", functools.partial(_scaled, scale=1000.0), space, 6, seed=0, progress=False)
    assert len(generate(tmp_path / "p.h5", functools.partial(_scaled, scale=1.0), space, 6, seed=0,
                        progress=False)) == 6
    generate(tmp_path / "l.h5", lambda p, s: {"y": p["a"].to_numpy()}, space, 3, seed=0, progress=False)
    with pytest.raises(ValueError, match="differs in: sampler"):
        generate(tmp_path / "l.h5", lambda p, s: {"y": -p["a"].to_numpy()}, space, 6, seed=0, progress=False)
    assert len(generate(tmp_path / "l.h5", lambda p, s: {"y": p["a"].to_numpy()}, space, 6, seed=0,
                        progress=False)) == 6          # the same code resumes, in this process or another


class _Scaled:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, parameters, seeds):
        return _scaled(parameters, seeds, self.scale)

    def run(self, parameters, seeds):
        return _scaled(parameters, seeds, self.scale)


def test_a_store_is_not_extended_by_another_instance_or_lambda_defaults(tmp_path):
    """A callable instance was named by its class alone and a lambda's digest left out its default arguments:
    a store of _Scaled(1.0) (or of lambda ..., k=1.0) was extended by _Scaled(1000.0) (k=1000.0), its y mixing
    both silently; so was one of a bound method's instance by another's. The instance's settings (its public
    attributes of plain values) name it."""
    space = {"a": (0.0, 1.0)}
    for i, (first, other, same) in enumerate([
            (_Scaled(1.0), _Scaled(1000.0), _Scaled(1.0)),
            (_Scaled(1.0).run, _Scaled(1000.0).run, _Scaled(1.0).run),          # a bound method: its instance's
            (lambda p, s, k=1.0: _scaled(p, s, k), lambda p, s, k=1000.0: _scaled(p, s, k),
             lambda p, s, k=1.0: _scaled(p, s, k)),
            (lambda p, s, *, k=1.0: _scaled(p, s, k), lambda p, s, *, k=1000.0: _scaled(p, s, k),
             lambda p, s, *, k=1.0: _scaled(p, s, k))]):
        generate(tmp_path / f"{i}.h5", first, space, 3, seed=0)
        with pytest.raises(ValueError, match="differs in: sampler"):
            generate(tmp_path / f"{i}.h5", other, space, 6, seed=0)
        data = generate(tmp_path / f"{i}.h5", same, space, 6, seed=0)
        np.testing.assert_array_equal(data.targets["y"], data.parameters["a"])
    # only the public attributes of plain values count: state that changes as the sampler runs (a counter, a
    # generator), a set (ordered otherwise in another process) or an object left a store unresumable
    first, later = _Scaled(1.0), _Scaled(1.0)
    first._calls, first.lock, first.rng, first.tags = 3, threading.Lock(), np.random.default_rng(0), {"a", "b"}
    later._calls, later.lock, later.rng, later.tags = 9, threading.Lock(), np.random.default_rng(1), {"b", "a"}
    generate(tmp_path / "stateful.h5", first, space, 3, seed=0)
    assert len(generate(tmp_path / "stateful.h5", later, space, 6, seed=0)) == 6


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="method"):
        make(tmp_path / "x.h5", 4, method="random")
    with pytest.raises(ValueError, match="n_samples"):
        make(tmp_path / "x.h5", 0)
    with pytest.raises(ValueError, match="seed"):
        make(tmp_path / "x.h5", 4, seed=-1)
    with pytest.raises(ValueError, match="no dataset store"):
        load(tmp_path / "missing.h5")
    (tmp_path / "notes.txt").write_text("not a store")
    with pytest.raises(ValueError, match="notes.txt is not an HDF5 file; expected an mslearn dataset store"):
        load(tmp_path / "notes.txt")                                    # was h5py's 'file signature not found'
    with pytest.raises(ValueError, match="is a folder; expected an mslearn dataset store"):
        load(tmp_path)
    with pytest.raises(TypeError, match="metadata is a str; expected a dict"):
        make(tmp_path / "m.h5", 4, metadata="x")                        # was 'dictionary update sequence ...'
    with pytest.raises(ValueError, match="it names the cached store, so a numpy Generator"):
        datasets.particle_composites(4, seed=np.random.default_rng(0))   # a new store at every call


def test_wrong_sampler_output(tmp_path):
    def short(parameters, seeds):
        return {"y": np.zeros(len(seeds) - 1)}

    def nan(parameters, seeds):
        return {"y": np.full(len(seeds), np.nan)}

    def not_a_dict(parameters, seeds):
        return np.zeros(len(seeds))

    def changing(parameters, seeds):
        return {("y" if parameters.index[0] == 0 else "z"): np.zeros(len(seeds))}

    def ragged_nan(parameters, seeds):       # a graph with a NaN feature was stored as it came
        nodes = [np.ones((2, 3)) for _ in seeds]
        nodes[-1][1, 2] = np.nan
        return {"y": np.zeros(len(seeds)), "ragged": {"nodes": nodes}}

    def ragged_text(parameters, seeds):
        return {"y": np.zeros(len(seeds)), "ragged": {"names": [np.array(["a", "b"]) for _ in seeds]}}

    with pytest.raises(ValueError, match="rows for a batch of"):
        generate(tmp_path / "a.h5", short, SPACE, 4, seed=0, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        generate(tmp_path / "b.h5", nan, SPACE, 4, seed=0, progress=False)
    with pytest.raises(ValueError, match="dict"):
        generate(tmp_path / "c.h5", not_a_dict, SPACE, 4, seed=0, progress=False)
    with pytest.raises(ValueError, match="same names"):
        generate(tmp_path / "d.h5", changing, SPACE, 4, seed=0, batch_size=2, progress=False)
    with pytest.raises(ValueError, match=r"ragged\['nodes'\]\[3\] with NaN or infinite values"):
        generate(tmp_path / "e.h5", ragged_nan, SPACE, 4, seed=0, progress=False)
    with pytest.raises(ValueError, match=r"ragged\['names'\]\[0\] of dtype <U1; expected numbers"):
        generate(tmp_path / "f.h5", ragged_text, SPACE, 4, seed=0, progress=False)


# ----------------------------------------------------------------------------- ready datasets
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("MSLEARN_CACHE", str(folder))
    yield folder
    patch.undo()


def between_bounds(K, K_reuss, K_voigt, rtol=1e-6):
    """Loewner order K_reuss <= K <= K_voigt, checked by eigenvalues of the differences."""
    scale = np.abs(K_voigt).max(axis=(-2, -1), keepdims=True)[..., 0]
    low = np.linalg.eigvalsh(K - K_reuss).min(-1)
    high = np.linalg.eigvalsh(K_voigt - K).min(-1)
    return np.all(low >= -rtol * scale[..., 0]) and np.all(high >= -rtol * scale[..., 0])


def tensor(ds):
    t = ds.targets
    return np.stack([np.stack([t.k_xx, t.k_xy], -1), np.stack([t.k_xy, t.k_yy], -1)], -2)


def test_particle_composites_physics_and_cache(cache):
    ds = datasets.particle_composites(8, size=32, device="cpu")
    assert len(ds) == 8 and ds.arrays["images"].shape == (8, 32, 32)
    images = ds.arrays["images"].reshape(8, -1)
    fractions = np.stack([(images == i).mean(1) for i in range(3)], 1)
    np.testing.assert_allclose(fractions[:, 1], ds.parameters.measured_volume_fraction)
    np.testing.assert_allclose(fractions[:, 2], ds.parameters.interphase_fraction)
    assert np.all(np.abs(ds.parameters.measured_volume_fraction - ds.parameters.volume_fraction) <= 0.011)
    k = np.stack([np.ones(8), 10 ** ds.parameters.log10_contrast, 10 ** ds.parameters.log10_interphase], 1)
    voigt, reuss = (fractions * k).sum(1), 1 / (fractions / k).sum(1)
    eye = np.eye(2)
    assert between_bounds(tensor(ds), reuss[:, None, None] * eye, voigt[:, None, None] * eye)
    np.testing.assert_allclose(ds.targets.k_mean, (ds.targets.k_xx + ds.targets.k_yy) / 2)
    files = sorted(p.name for p in cache.glob("particle_composites*.h5"))
    assert len(files) == 1
    again = datasets.particle_composites(8, size=32, device="cpu")       # from the cache
    assert_same(again, ds)
    smaller = datasets.particle_composites(5, size=32, device="cpu")     # the store's prefix, no new file
    assert len(smaller) == 5 and len(list(cache.glob("particle_composites*.h5"))) == 1
    pd.testing.assert_frame_equal(smaller.targets, ds.targets.iloc[:5])   # Sobol prefix, per-sample seeds
    with pytest.raises(ValueError, match="n_samples"):
        datasets.particle_composites(0)


def test_triangular_lattices_within_voigt_reuss(cache):
    ds = datasets.triangular_lattices(6, size=32, device="cpu")
    assert list(ds.targets.columns) == ["E_1", "E_2", "G_12", "nu_12"]
    assert np.all(np.abs(ds.parameters.angle_realized - ds.parameters.angle) < 1.0)
    phi = ds.parameters.solid_fraction.to_numpy()
    E_s = 10 ** ds.parameters.log10_modulus_ratio.to_numpy()
    C_m, C_s = isotropic_stiffness(1.0, 0.3, ndim=2), np.stack([isotropic_stiffness(e, 0.3, ndim=2) for e in E_s])
    voigt = (1 - phi)[:, None, None] * C_m + phi[:, None, None] * C_s
    reuss = np.linalg.inv((1 - phi)[:, None, None] * np.linalg.inv(C_m) + phi[:, None, None] * np.linalg.inv(C_s))
    C = ds.arrays["stiffness"]
    # symmetric up to the solver tolerance (residual 1e-4: load cases agree to ~1e-5 relative)
    np.testing.assert_allclose(C, np.swapaxes(C, 1, 2), atol=1e-4 * np.abs(C).max())
    assert between_bounds((C + np.swapaxes(C, 1, 2)) / 2, reuss, voigt)
    # Engineering moduli inherit the bounds: S_V <= S <= S_R, so 1/S_R,11 <= E_1 <= 1/S_V,11.
    E_voigt, E_reuss = 1 / np.linalg.inv(voigt)[:, 0, 0], 1 / np.linalg.inv(reuss)[:, 0, 0]
    assert np.all(ds.targets.E_1 <= E_voigt * (1 + 1e-6)) and np.all(ds.targets.E_1 >= E_reuss * (1 - 1e-6))
    moduli = datasets.moduli_from_stiffness(isotropic_stiffness(2.0, 0.25, ndim=2))
    # plane strain: E' = E / (1 - nu^2), nu' = nu / (1 - nu), G unchanged
    assert math.isclose(moduli["E_1"], 2.0 / (1 - 0.25**2)) and math.isclose(moduli["nu_12"], 0.25 / 0.75)
    assert math.isclose(moduli["G_12"], 2.0 / (2 * 1.25))


@pytest.mark.parametrize("ndim, size", [(2, 16), (3, 12)])
def test_voxel_composites_tensors(cache, ndim, size):
    n = 8 if ndim == 2 else 4
    ds = datasets.voxel_composites(n, size=size, ndim=ndim, device="cpu")
    assert ds.arrays["images"].shape == (n,) + (size,) * ndim and ds.arrays["images"].dtype == np.uint8
    K = ds.arrays["conductivity"]
    assert K.shape == (n, ndim, ndim)
    np.testing.assert_allclose(K, np.swapaxes(K, 1, 2), atol=1e-4)
    np.testing.assert_allclose(K[:, 0, 1], ds.targets.k_xy)
    phi = ds.parameters.measured_volume_fraction.to_numpy()[:, None, None]
    eye = np.eye(ndim)
    assert between_bounds((K + np.swapaxes(K, 1, 2)) / 2, eye / (1 - phi + phi / 10), eye * (1 - phi + 10 * phi))
    assert set(ds.parameters.structure_kind) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="ndim"):
        datasets.voxel_composites(4, ndim=4)


@pytest.mark.parametrize("ndim, size", [(2, 16), (3, 12)])
def test_voxel_composites_stiffness(cache, ndim, size):
    """property="elasticity": symmetric Mandel stiffnesses between the Voigt and Reuss bounds of the two
    isotropic phases (E = 1 and 10, nu = 0.3), isotropic-projection moduli as targets."""
    n, m = 4, (3 if ndim == 2 else 6)
    ds = datasets.voxel_composites(n, size=size, ndim=ndim, property="elasticity", device="cpu")
    C = ds.arrays["stiffness"]
    assert C.shape == (n, m, m) and "conductivity" not in ds.arrays
    np.testing.assert_allclose(C, np.swapaxes(C, 1, 2), atol=1e-4 * np.abs(C).max())
    np.testing.assert_allclose(C[:, 0, 0], ds.targets.c_11)
    assert {"bulk_modulus", "shear_modulus"} <= set(ds.targets.columns)
    phi = ds.parameters.measured_volume_fraction.to_numpy()[:, None, None]
    C0, C1 = (isotropic_stiffness(E=E, nu=0.3, ndim=ndim) for E in (1.0, 10.0))
    voigt = (1 - phi) * C0 + phi * C1
    reuss = np.linalg.inv((1 - phi) * np.linalg.inv(C0) + phi * np.linalg.inv(C1))
    for c, upper, lower in zip(C, voigt, reuss):      # Loewner order: upper - C and C - lower are PSD
        assert np.linalg.eigvalsh(upper - c).min() > -1e-6 and np.linalg.eigvalsh(c - lower).min() > -1e-6
    # the conductivity dataset with the same arguments is a different file
    assert "conductivity" in datasets.voxel_composites(n, size=size, ndim=ndim, device="cpu").arrays
    with pytest.raises(ValueError, match="property"):
        datasets.voxel_composites(4, property="plasticity")


def test_voxel_composites_larger_windows_of_the_same_material():
    """reference_size fixes the length scales: a 2x larger image is a larger window, not a zoom."""
    parameters = pd.DataFrame({"kind": [0.2], "volume_fraction": [0.3], "aspect_ratio": [1.0],
                               "orientation": [0.0], "correlation_length": [0.05], "anisotropy": [1.0]})
    small = voxel_composite_images(parameters, [1], size=16)[0]
    large = voxel_composite_images(parameters, [1], size=32, reference_size=16)[0]
    zoom = voxel_composite_images(parameters, [1], size=32)[0]
    s_small, s_large, s_zoom = (float(specific_surface(a[0], method="count").count)
                               for a in (small, large, zoom))
    assert abs(s_large - s_small) < 0.25 * s_small         # same inclusion size per voxel
    assert s_zoom < 0.75 * s_small                         # zoomed: larger inclusions, less surface per area


def test_polycrystals_graphs_and_bounds(cache):
    ds = datasets.polycrystals(6, size=32, device="cpu")
    graphs = ds.graphs()
    ids, gb = ds.arrays["grain_ids"], ds.arrays["boundaries"].astype(bool)
    for i, g in enumerate(graphs):
        n = int(ds.parameters.grains[i])
        assert g["node_features"].shape == (n, 4) and ids[i].max() == n - 1
        np.testing.assert_allclose(g["node_features"][:, 0].sum(), 1.0, rtol=1e-6)
        edges = set(map(tuple, g["edge_index"].T.tolist()))
        assert all((b, a) in edges for a, b in edges)                     # both directions
        np.testing.assert_allclose(g["edge_features"][:, 0].sum(), 2.0, rtol=1e-5)
        # Voigt/Reuss of the local tensors, rebuilt from the node features
        a = ds.parameters.anisotropy[i]
        c2, s2 = g["node_features"][ids[i], 1], g["node_features"][ids[i], 2]
        mean, half = (1 + a) / 2, (1 - a) / 2
        local = np.stack([np.stack([mean + half * c2, half * s2], -1), np.stack([half * s2, mean - half * c2], -1)], -2)
        local[gb[i]] = ds.parameters.gb_conductivity[i] * np.eye(2)
        voigt = local.reshape(-1, 2, 2).mean(0)
        reuss = np.linalg.inv(np.linalg.inv(local.reshape(-1, 2, 2)).mean(0))
        K = ds.arrays["conductivity"][i]
        assert between_bounds((K + K.T) / 2, reuss, voigt, rtol=1e-5)
    assert ds.parameters.gb_conductivity.between(0.01, 1.0).all()


def test_cache_false_leaves_no_file(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("MSLEARN_CACHE", str(tmp_path))
    ds = datasets.particle_composites(3, size=16, device="cpu", cache=False)
    assert len(ds) == 3 and not list(tmp_path.iterdir())
    assert datasets.cache_dir() == tmp_path


def test_a_changed_sampler_invalidates_the_cache(cache, tmp_path, monkeypatch):
    # an edit to a sampler changes the code fingerprint ...
    package = Path(ready.__file__).resolve().parent.parent
    edited = tmp_path / "mslearn"
    shutil.copytree(package, edited, ignore=shutil.ignore_patterns("__pycache__", "data"))
    assert ready.source_digest(edited)[:12] == ready.code_fingerprint()
    source = edited / "datasets" / "ready.py"
    text = source.read_text()
    assert "k_particle = 10.0 **" in text
    source.write_text(text.replace("k_particle = 10.0 **", "k_particle = 2 * 10.0 **"))
    fingerprint = ready.source_digest(edited)[:12]
    assert fingerprint != ready.code_fingerprint()

    # ... and data cached by the old code is then never read back: the changed sampler runs
    old = datasets.particle_composites(4, size=16, device="cpu")
    original = ready.sample_particle_composites

    def changed(parameters, seeds, **kwargs):
        return original(parameters.assign(log10_contrast=parameters.log10_contrast + math.log10(2)), seeds, **kwargs)

    monkeypatch.setattr(ready, "sample_particle_composites", changed)
    monkeypatch.setattr(ready, "code_fingerprint", lambda: fingerprint)
    new = datasets.particle_composites(4, size=16, device="cpu")
    assert len(list(cache.glob("particle_composites-s16-*.h5"))) == 2      # the old file is kept
    assert np.all(new.targets.k_mean.to_numpy() > old.targets.k_mean.to_numpy())
    monkeypatch.undo()
    assert_same(datasets.particle_composites(4, size=16, device="cpu"), old)   # the old code finds its file


def test_a_cached_dataset_grows_and_a_smaller_call_reads_its_prefix(cache, monkeypatch):
    # one store per configuration: a larger n_samples computes only the new samples, a smaller one
    # computes nothing, and both equal a fresh run of their size (Sobol prefix, a seed per sample)
    solved = []
    original = ready.sample_particle_composites

    def counted(parameters, seeds, **kwargs):
        solved.extend(parameters.index)
        return original(parameters, seeds, **kwargs)

    monkeypatch.setattr(ready, "sample_particle_composites", counted)
    four = datasets.particle_composites(4, size=16, seed=7, device="cpu")
    assert solved == [0, 1, 2, 3]
    six = datasets.particle_composites(6, size=16, seed=7, device="cpu")
    assert solved == [0, 1, 2, 3, 4, 5]                          # only samples 4 and 5 were computed
    three = datasets.particle_composites(3, size=16, seed=7, device="cpu")
    assert solved == [0, 1, 2, 3, 4, 5] and len(three) == 3
    assert three.metadata["n_stored"] == 6 and three.metadata["n_complete"] == 3
    assert len(list(cache.glob("particle_composites-s16-seed7-*.h5"))) == 1
    monkeypatch.undo()
    for data, n in ((four, 4), (six, 6), (three, 3)):
        assert_same(data, datasets.particle_composites(n, size=16, seed=7, device="cpu", cache=False))


def test_load_reads_a_prefix_and_refuses_more_than_stored(tmp_path):
    full = make(tmp_path / "p.h5", 9)
    part = load(tmp_path / "p.h5", 4)
    assert len(part) == 4 and part.metadata["n_stored"] == 9
    pd.testing.assert_frame_equal(part.parameters, full.parameters.iloc[:4])
    pd.testing.assert_frame_equal(part.targets, full.targets.iloc[:4])
    with pytest.raises(ValueError, match="n_samples = 10, but the store .* holds 9 complete samples"):
        load(tmp_path / "p.h5", 10)
    with pytest.raises(ValueError, match="n_samples"):
        load(tmp_path / "p.h5", 0)


def test_the_fingerprint_covers_every_module_that_makes_the_data():
    script = ("import sys\nfrom mslearn import datasets\n"
              "datasets.particle_composites(2, size=16, device='cpu', cache=False)\n"
              "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.startswith('mslearn.')))")
    files = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    package = Path(ready.__file__).resolve().parent.parent
    covered = [package / source for source in ready.DATA_SOURCES]
    missing = [f for f in map(Path, files) if not any(f == c or c in f.parents for c in covered)]
    assert files and not missing, f"add these modules to DATA_SOURCES: {missing}"


def test_design_and_sample_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="start = -3; expected an integer >= 0"):
        sample_parameters({"a": (0, 1)}, 4, seed=0, start=-3)
    with pytest.raises(ValueError, match="0 <= start < n_samples = 4"):
        sample_parameters({"a": (0, 1)}, 4, seed=0, start=4)
    with pytest.raises(TypeError, match="start must be an integer >= 0, got float 1.0"):
        sample_parameters({"a": (0, 1)}, 4, seed=0, start=1.0)
    with pytest.raises(ValueError, match="start = -2; expected an integer >= 0"):
        sample_seeds(0, -2, 2)
    with pytest.raises(TypeError, match="stop must be an integer >= 0, got bool True"):
        sample_seeds(0, 0, True)
    with pytest.raises(ValueError, match="start = 5 > stop = 2"):
        sample_seeds(0, 5, 2)                                        # returned an empty array
    assert sample_seeds(0, 2, 2).size == 0
    with pytest.raises(TypeError, match="expected the pandas DataFrame"):
        voxel_composite_images(np.array([[0.3, 1.0]]), [0])
    with pytest.raises(ValueError, match="0 < angle < 90"):
        datasets.lattice_labels(0.1, np.nan)
    with pytest.raises(ValueError, match="size = 16; expected an integer >= 20"):   # 0.05 x 16 px: struts not drawn
        datasets.triangular_lattices(2, size=16, cache=False)
    with pytest.raises(ValueError, match=r"thickness = 0.05 is too thin .* expected thickness >= 0.0625"):
        datasets.lattice_labels(0.05, 60.0, size=16)
    with pytest.raises(ValueError, match=r"expected finite plane-strain Mandel stiffnesses \(\.\.\., 3, 3\)"):
        datasets.moduli_from_stiffness(np.ones((2, 2)))
    with pytest.raises(ValueError, match="not positive definite"):
        datasets.moduli_from_stiffness(np.ones((3, 3)))


def test_path_generators_refuse_seed_none():
    from mslearn.datasets.paths import gaussian_process_paths, radial_paths, random_walk_paths
    calls = [lambda: random_walk_paths(3, 5, 2, max_increment=0.1, seed=None),
             lambda: gaussian_process_paths(3, 5, 2, length_scale=2.0, amplitude=0.01, seed=None),
             lambda: radial_paths(3, 5, 2, max_strain=0.01, seed=None)]
    for call in calls:        # None drew fresh entropy from the operating system on every call
        with pytest.raises(ValueError, match="seed is None"):
            call()


@pytest.mark.parametrize("sampler, space", [
    (ready.sample_particle_composites, ready.PARTICLE_SPACE),
    (ready.sample_triangular_lattices, ready.LATTICE_SPACE),
    (ready.sample_voxel_composites, ready._voxel_space(2)),
    (ready.voxel_composite_images, ready._voxel_space(2)),
    (ready.sample_polycrystals, ready.POLYCRYSTAL_SPACE),
])
def test_samplers_refuse_seeds_that_do_not_match_the_rows(sampler, space):
    # zip() over rows and seeds dropped the rows beyond the last seed, and int() truncated float seeds
    parameters = sample_parameters(space, 3, seed=0)
    with pytest.raises(ValueError, match="got seeds of shape \\(1,\\) for 3 parameter rows; expected one seed per row"):
        sampler(parameters, [0])
    with pytest.raises(TypeError, match="seeds are float64 values"):
        sampler(parameters, [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="negative value -1"):
        sampler(parameters, [0, -1, 2])
    with pytest.raises(ValueError, match=f"lacks the columns \\['{next(iter(space))}'\\]"):
        sampler(parameters.drop(columns=next(iter(space))), [0, 1, 2])


@pytest.mark.parametrize("call", [
    lambda: ready.sample_voxel_composites(sample_parameters(ready._voxel_space(2), 1, seed=0), [0], size=16,
                                          property="stiffness"),
    lambda: datasets.voxel_composites(4, size=16, property="stiffness"),
])
def test_voxel_composites_refuse_an_unknown_property(call):
    # the sampler computed the conductivity for any name but "elasticity"
    with pytest.raises(ValueError, match="property = 'stiffness'; expected 'conductivity' or 'elasticity'"):
        call()


@pytest.mark.parametrize("column, value, match", [
    ("anisotropy", 0.0, r"parameters\['anisotropy'\] has the value 0.0; expected > 0"),
    ("gb_conductivity", -1.0, r"parameters\['gb_conductivity'\] has the value -1.0; expected > 0"),
    ("n_grains", np.nan, r"parameters\['n_grains'\] contains NaN; expected finite numbers"),
])
def test_sample_polycrystals_checks_the_design_values(column, value, match):
    # "math domain error" from log10/sqrt, "cannot convert float NaN to integer" from int()
    parameters = sample_parameters(ready.POLYCRYSTAL_SPACE, 2, seed=0)
    parameters.loc[1, column] = value
    with pytest.raises(ValueError, match=match):
        ready.sample_polycrystals(parameters, [0, 1], size=16)


def test_sobol_scramble_is_true_or_false():
    with pytest.raises(TypeError, match="scramble = 'no'; expected True or False"):
        datasets.sobol_sequence(2, 4, seed=0, scramble="no")                          # scrambled


@pytest.mark.parametrize("seed, error, match", [
    (None, ValueError, "seed is None; pass an integer seed so that results are reproducible"),
    (-1, ValueError, "seed = -1; expected an integer >= 0"),
    (1.5, TypeError, "seed must be an int or numpy.random.Generator, got float 1.5"),
])
def test_sobol_sequence_refuses_a_seed_as_rng_does(seed, error, match):
    """seed=None raised a TypeError ('got NoneType None') where rng and the rest of the package raise a
    ValueError saying an integer seed keeps results reproducible; -1 numpy's bare 'expected non-negative
    integer', naming no argument."""
    with pytest.raises(error, match=match):
        datasets.sobol_sequence(2, 4, seed=seed)


def test_generate_refuses_a_folder_and_files_it_did_not_make(tmp_path):
    # a foreign HDF5 file was adopted as a new store, its own data beside (or under) the store's
    other = tmp_path / "user.h5"
    with h5py.File(other, "w") as file:
        file["data"] = np.arange(3)
    with pytest.raises(ValueError, match="an HDF5 file that generate did not make"):
        make(other, 4)
    with h5py.File(other) as file:
        assert list(file) == ["data"]                                   # untouched
    (tmp_path / "notes.h5").write_text("not HDF5")
    with pytest.raises(ValueError, match="a file that is not HDF5"):
        make(tmp_path / "notes.h5", 4)
    (tmp_path / "folder.h5").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        make(tmp_path / "folder.h5", 4)


def test_a_later_batch_that_does_not_fit_the_stored_dtype_is_refused(tmp_path):
    # an int8 first batch and a later int64 300: stored as 127 (same_kind casting), silently
    def drifting(parameters, seeds):
        wide = int(seeds[0]) % 2 == 1 or parameters.index[0] > 0
        values = np.full(len(seeds), 300 if wide else 1, dtype=np.int64 if wide else np.int8)
        return {"y": values.astype(float), "count": values}

    drifting.name = "tests.drifting"
    with pytest.raises(ValueError, match="'count' of dtype int64, but the store holds int8"):
        make(tmp_path / "d.h5", 4, sampler=drifting, batch_size=2)


def test_clear_cache_removes_the_stores_of_other_code_and_nothing_else(monkeypatch, tmp_path):
    """After an update the old code's stores are never read again: clear_cache removes them (with their cards),
    keeps the current code's stores, files of other names, and a store it cannot open (being written)."""
    monkeypatch.setenv("MSLEARN_CACHE", str(tmp_path))
    datasets.voxel_composites(2, size=16, device="cpu")
    (current,) = tmp_path.glob("*.h5")
    stale = tmp_path / current.name.replace(current.stem[-10:], "0123456789")
    shutil.copy(current, stale)
    shutil.copy(current.with_name(current.stem + ".README.md"), stale.with_name(stale.stem + ".README.md"))
    with h5py.File(stale, "r+") as file:                     # as an older version of the package wrote it
        metadata = json.loads(file.attrs["metadata"])
        metadata["arguments"]["code"] = "000000000000"
        file.attrs["metadata"] = json.dumps(metadata)
    unreadable = tmp_path / current.name.replace(current.stem[-10:], "abcdefabcd")
    unreadable.write_bytes(b"not yet an HDF5 file")           # e.g. a store another process is writing
    foreign = tmp_path / "my-notes.h5"
    foreign.write_bytes(b"the user's own file")
    assert datasets.clear_cache(dry_run=True) == [stale] and stale.exists()
    assert datasets.clear_cache() == [stale]
    assert not stale.exists() and not stale.with_name(stale.stem + ".README.md").exists()
    assert current.exists() and unreadable.exists() and foreign.exists()
    assert datasets.clear_cache() == []
    assert set(datasets.clear_cache(stale_only=False)) == {unreadable, current}
    assert foreign.exists() and not current.exists() and not current.with_name(current.stem + ".README.md").exists()
    assert len(datasets.voxel_composites(2, size=16, device="cpu")) == 2        # regenerated on demand
    with pytest.raises(TypeError, match="stale_only"):
        datasets.clear_cache(stale_only="yes")
