"""The packaged spinodoid data of Kumar et al. (2020) and the solver's view of the same designs."""
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

from mslearn.datasets import spinodoid_metamaterials, spinodoid_stiffness
from mslearn.datasets.spinodoids import (SPINODOID_DESIGNS, SPINODOID_MIN_ANGLE, SPINODOID_PROPERTIES,
                                         SPINODOID_SPACE)

FOLDER = resources.files("mslearn").joinpath("data").joinpath("spinodoids")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """spinodoid_solver_data caches its stores: each test in a folder of its own, never the user's cache."""
    monkeypatch.setenv("MSLEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def ds():
    return spinodoid_metamaterials()


def test_the_data_licence_and_card_ship_with_the_package():
    names = {entry.name for entry in FOLDER.iterdir()}
    assert {"data.csv", "LICENSE.txt", "README.md"} <= names
    assert "Copyright (c) 2020, ETH Zurich" in FOLDER.joinpath("LICENSE.txt").read_text()
    card = FOLDER.joinpath("README.md").read_text()
    assert "10.1038/s41524-020-0341-6" in card and "Kumar" in card and "LICENSE.txt" in card
    # the package data globs of pyproject.toml cover the three files (so a wheel carries them)
    root = Path(__file__).resolve().parent.parent
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mslearn"]
    assert {"data/*/*.csv", "data/*/*.txt", "data/*/*.md"} <= set(globs)


def test_shape_columns_and_metadata(ds):
    assert len(ds) == 21300
    assert list(ds.parameters.columns) == list(SPINODOID_DESIGNS)
    assert list(ds.targets.columns) == list(SPINODOID_PROPERTIES)
    assert ds.arrays == {}
    assert "Copyright (c) 2020, ETH Zurich" in ds.metadata["licence"]
    assert "npj Computational Materials 6, 73 (2020)" in ds.metadata["citation"]
    assert ds.metadata["card"].startswith("# Dataset card")
    assert ds.metadata["semicontinuous"] == {"theta_x": 15.0, "theta_y": 15.0, "theta_z": 15.0}
    assert not ds.parameters.isna().any().any() and not ds.targets.isna().any().any()


def test_columns_are_the_csv_columns_renamed(ds):
    with FOLDER.joinpath("data.csv").open() as handle:
        raw = pd.read_csv(handle)
    for original, name in ds.metadata["csv_columns"].items():
        table = ds.parameters if name in ds.parameters else ds.targets
        np.testing.assert_array_equal(table[name].to_numpy(), raw[original].to_numpy())
    assert ds.metadata["csv_columns"]["stiffness21"] == "c_44" and ds.metadata["csv_columns"]["stiffness7"] == "c_22"


def test_the_design_space_is_as_documented(ds):
    vf = ds.parameters["volume_fraction"].to_numpy()
    angles = ds.parameters[["theta_x", "theta_y", "theta_z"]].to_numpy()
    low, high = SPINODOID_SPACE["volume_fraction"]
    assert low <= vf.min() < low + 1e-3 and high - 1e-3 < vf.max() <= high
    # every angle is 0 (off) or in [15, 90]; at least one on per design
    assert np.all((angles == 0) | ((angles >= SPINODOID_MIN_ANGLE) & (angles <= 90)))
    assert np.all((angles > 0).any(axis=1))
    assert ds.targets.to_numpy().min() > 0


def test_the_voigt_order_can_be_read_from_the_data(ds):
    """A cone around x alone (layers normal to x): C11 is the smallest normal and C44 (shear 23) the
    largest shear stiffness, as the card says; in most rows, not all (random realizations)."""
    p, t = ds.parameters, ds.targets
    only_x = (p.theta_x > 0) & (p.theta_y == 0) & (p.theta_z == 0) & (p.theta_x < 40)
    assert only_x.sum() > 500
    assert ((t.c_11 < t.c_22) & (t.c_11 < t.c_33))[only_x].mean() > 0.95
    assert ((t.c_44 > t.c_55) & (t.c_44 > t.c_66))[only_x].mean() > 0.95


def test_a_subset_is_reproducible():
    a, b = spinodoid_metamaterials(200, seed=3), spinodoid_metamaterials(200, seed=3)
    assert len(a) == 200
    pd.testing.assert_frame_equal(a.parameters, b.parameters)
    assert not spinodoid_metamaterials(200, seed=4).parameters.equals(a.parameters)
    for bad in (0, 21301):
        with pytest.raises(ValueError, match="n_samples"):
            spinodoid_metamaterials(bad)
    for bad in (2.5, True):
        with pytest.raises(TypeError, match="n_samples must be an integer >= 1"):
            spinodoid_metamaterials(bad)


def test_the_solver_gives_the_same_components_in_the_same_order():
    """Small grid (16^3, well under a second per design): the solver's stiffness of a layered design
    (cone around x) has the same anisotropy as the data's, and the call is seeded."""
    designs = np.array([[0.6, 25.0, 0.0, 0.0], [0.85, 90.0, 90.0, 90.0]])
    C = spinodoid_stiffness(designs, size=16, seed=0, device="cpu")
    assert C.shape == (2, 9)
    c11, c12, c13, c22, c23, c33, c44, c55, c66 = C[0]
    assert c11 < c22 and c11 < c33 and c44 > c55 and c44 > c66
    # isotropic design, dense: close to the solid's (E = 1, nu = 0.3: C11 = 1.35, C12 = 0.58, C44 = 0.38)
    # times a factor < 1; the ratio C44 / C11 of an isotropic solid with nu = 0.3 is 0.29 (within 20 %)
    c = C[1]
    assert 0.5 < c[0] < 1.35 and abs(c[6] / c[0] - 0.286) < 0.06
    np.testing.assert_array_equal(C, spinodoid_stiffness(designs, size=16, seed=0, device="cpu"))


@pytest.mark.parametrize("designs, match", [
    (np.zeros((2, 5)), "shape"),         # 3 columns are a 2D design, 4 a 3D one
    (np.array([[0.5, np.nan, 0.0, 0.0]]), "NaN"),
    (np.array([[0.5, 0.0, 0.0, 0.0]]), "all 0"),
    (np.array([[1.5, 30.0, 0.0, 0.0]]), "volume fractions"),
    (np.array([[0.5, 120.0, 0.0, 0.0]]), "angles"),
])
def test_the_solver_rejects_bad_designs(designs, match):
    with pytest.raises(ValueError, match=match):
        spinodoid_stiffness(designs, size=16)


def test_a_dataframe_of_designs_is_read_by_its_column_names():
    """A DataFrame's columns were taken by position: reordered columns swapped theta_x and theta_y silently,
    and an extra column was read as theta_z (a 3D design). Now selected by name, another column refused."""
    designs = np.array([[0.6, 30.0, 0.0]])
    reordered = pd.DataFrame({"volume_fraction": [0.6], "theta_y": [0.0], "theta_x": [30.0]})
    np.testing.assert_array_equal(spinodoid_stiffness(reordered, size=16, seed=0, device="cpu"),
                                  spinodoid_stiffness(designs, size=16, seed=0, device="cpu"))
    for bad, message in ((reordered.assign(extra=1.0), r"unknown: \['extra'\]"),
                         (reordered.drop(columns="theta_y").assign(theta_z=30.0),
                          r"expected \['volume_fraction', 'theta_x', 'theta_y', 'theta_z'\] \(3D, in any order\); "
                          r"missing: \['theta_y'\]"),
                         (pd.DataFrame(designs), r"designs has the columns \[0, 1, 2\]; expected \['volume_fraction', "
                                                 r"'theta_x', 'theta_y'\] \(2D, in any order\)")):
        with pytest.raises(ValueError, match=message):
            spinodoid_stiffness(bad, size=16, device="cpu")


# ----------------------------------------------------------------------------- 2D, and the solver's own data
def test_2d_designs_give_the_four_plane_strain_entries_in_the_documented_order():
    """Bands normal to x (a narrow cone around x only) are softest along x: the lowest c_11; the
    same cone around y swaps c_11 and c_22. Every stiffness is positive definite, the call seeded."""
    from mslearn.datasets.spinodoids import SPINODOID_PROPERTIES_2D
    designs = np.array([[0.6, 25.0, 0.0], [0.6, 0.0, 25.0], [0.8, 90.0, 90.0]])
    C = spinodoid_stiffness(designs, size=32, seed=0, device="cpu")
    assert C.shape == (3, len(SPINODOID_PROPERTIES_2D)) == (3, 4)
    (c11, c12, c22, c66), (d11, d12, d22, d66) = C[0], C[1]
    assert c11 < 0.5 * c22 and c11 < c12 + c66 + c22      # c_11 is the softest normal entry
    assert d22 < 0.5 * d11
    for c11, c12, c22, c66 in C:                            # positive definite (orthotropic part)
        assert c11 > 0 and c22 > 0 and c66 > 0 and 0 < c12 < np.sqrt(c11 * c22)
    # isotropic, dense: c_11 close to c_22, both below the plane-strain solid's 1.35
    assert abs(C[2, 0] - C[2, 2]) < 0.2 * C[2, 0] and C[2, 0] < 1.35
    np.testing.assert_array_equal(C, spinodoid_stiffness(designs, size=32, seed=0, device="cpu"))
    # the 2D matrix is symmetrized: c_12 is the mean of the solver's (1, 2) and (2, 1) entries
    assert not np.array_equal(C, spinodoid_stiffness(designs, size=32, seed=1, device="cpu"))


def test_the_solver_data_fill_the_design_space_and_are_reproducible():
    from mslearn.datasets.spinodoids import SPINODOID_DESIGNS_2D, SPINODOID_PROPERTIES_2D, spinodoid_solver_data
    ds = spinodoid_solver_data(24, size=16, seed=0, device="cpu")
    assert len(ds) == 24 and list(ds.parameters.columns) == list(SPINODOID_DESIGNS_2D)
    assert list(ds.targets.columns) == list(SPINODOID_PROPERTIES_2D)
    assert ds.metadata["semicontinuous"] == {"theta_x": 15.0, "theta_y": 15.0}
    assert ds.metadata["design_space"]["volume_fraction"] == (0.3, 0.9)
    vf, angles = ds.parameters["volume_fraction"].to_numpy(), ds.parameters[["theta_x", "theta_y"]].to_numpy()
    assert np.all((vf >= 0.3) & (vf <= 0.9))
    assert np.all((angles == 0) | ((angles >= SPINODOID_MIN_ANGLE) & (angles <= 90)))
    on = angles > 0
    assert on.any(axis=1).all()
    # the three on/off patterns (x only, y only, both) each hold about a third of a Sobol design
    counts = [np.sum(on[:, 0] & ~on[:, 1]), np.sum(~on[:, 0] & on[:, 1]), np.sum(on.all(axis=1))]
    assert min(counts) >= 5
    assert ds.arrays["labels"].shape == (24, 16, 16) and ds.arrays["labels"].dtype == np.uint8
    np.testing.assert_allclose(ds.arrays["labels"].mean(axis=(1, 2)), vf, atol=1 / 256)
    assert (ds.targets.to_numpy() > 0).all()
    # the same call gives the same data; design i does not depend on n_samples (an extensible design)
    again = spinodoid_solver_data(8, size=16, seed=0, device="cpu")
    pd.testing.assert_frame_equal(again.parameters, ds.parameters.iloc[:8])
    pd.testing.assert_frame_equal(again.targets, ds.targets.iloc[:8])
    assert not spinodoid_solver_data(8, size=16, seed=1, device="cpu").parameters.equals(again.parameters)
    # a design's row, through spinodoid_stiffness's own seeding, is a different realization of the same design
    three = spinodoid_solver_data(2, ndim=3, size=12, seed=0, device="cpu")
    assert list(three.parameters.columns) == list(SPINODOID_DESIGNS) and three.targets.shape == (2, 9)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 0}, "n_samples = 0; expected an integer >= 1"),
    ({"n_samples": 4, "ndim": 4}, "ndim"), ({"n_samples": 4, "size": 4}, "size"),
    ({"n_samples": 4, "seed": -1}, "seed"), ({"n_samples": 4, "void": 1.5}, "void"),
    # a Generator drew a new int seed, so a new cached store, at every call (as the other ready-made datasets, refused)
    ({"n_samples": 4, "seed": np.random.default_rng(0)}, "seed = Generator.*it names the cached store"),
])
def test_the_solver_data_reject_bad_input(kwargs, match):
    from mslearn.datasets.spinodoids import spinodoid_solver_data
    with pytest.raises(ValueError, match=match):
        spinodoid_solver_data(**{"size": 16, "device": "cpu", **kwargs})


@pytest.mark.parametrize("n_samples", [2.5, True])
def test_the_solver_data_refuse_a_non_integer_number_of_samples(n_samples):
    from mslearn.datasets.spinodoids import spinodoid_solver_data
    with pytest.raises(TypeError, match=f"n_samples must be an integer >= 1, got {type(n_samples).__name__}"):
        spinodoid_solver_data(n_samples, size=16, device="cpu")


def test_the_solver_data_show_progress_per_design(capsys):
    """The bars count designs (spinodoid_solver_data's, the store's samples: one design each; it counted
    chunks of 50: a 3D run of a thousand showed its first tick after about 200 s); the same numbers with
    and without them."""
    from mslearn.datasets.spinodoids import spinodoid_solver_data
    designs = np.array([[0.6, 25.0, 0.0], [0.8, 90.0, 90.0]])
    quiet = spinodoid_stiffness(designs, size=16, seed=0, device="cpu")
    np.testing.assert_array_equal(spinodoid_stiffness(designs, size=16, seed=0, device="cpu", progress=True), quiet)
    assert "spinodoid_stiffness" in capsys.readouterr().err
    spinodoid_solver_data(3, size=16, seed=0, device="cpu", progress=True)
    err = capsys.readouterr().err
    assert "spinodoid_solver_data" in err and "3/3" in err and "sample" in err


def test_the_solver_data_resume_grow_and_match_a_fresh_run(monkeypatch):
    """An interrupted 3D run keeps the designs it finished (written one at a time) and the next call computes
    only the rest; a larger n_samples computes only the new designs; all equal a fresh uncached run."""
    from mslearn.datasets import spinodoids
    solved, original = [], spinodoids._solve

    def counted(values, seeds, *args, **kwargs):
        if len(solved) == stop_after:
            raise KeyboardInterrupt
        solved.extend(seeds)
        return original(values, seeds, *args, **kwargs)

    monkeypatch.setattr(spinodoids, "_solve", counted)
    stop_after = 2
    with pytest.raises(KeyboardInterrupt):
        spinodoids.spinodoid_solver_data(4, ndim=3, size=10, seed=5, device="cpu")
    stop_after = None
    four = spinodoids.spinodoid_solver_data(4, ndim=3, size=10, seed=5, device="cpu")
    assert len(solved) == 4 and len(set(solved)) == 4             # designs 0, 1, then only 2 and 3
    six = spinodoids.spinodoid_solver_data(6, ndim=3, size=10, seed=5, device="cpu")
    assert len(solved) == 6                                       # designs 4 and 5
    monkeypatch.undo()
    fresh = spinodoids.spinodoid_solver_data(6, ndim=3, size=10, seed=5, device="cpu", cache=False)
    for data in (four, six):
        n = len(data)
        pd.testing.assert_frame_equal(data.parameters, fresh.parameters.iloc[:n])
        pd.testing.assert_frame_equal(data.targets, fresh.targets.iloc[:n])
        np.testing.assert_array_equal(data.arrays["labels"], fresh.arrays["labels"][:n])
        np.testing.assert_array_equal(data.metadata["seeds"], fresh.metadata["seeds"][:n])
