"""Tests of mslearn.reconstruction: accuracy at small sizes, 3D from 2D, multiphase, seeds, clean-up,
annealing, the generative model and input validation."""
import numpy as np
import pytest

from mslearn.reconstruction import (CropVAE, count_isolated, reconstruct, remove_isolated, s2_error,
                                    target_descriptors, volume_fraction_error, isotropic_target)
from mslearn.structures import gaussian_random_field, level_cut


def grf_labels(shape, ell=3.0, phi=0.4, seed=1):
    return level_cut(gaussian_random_field(shape, correlation_length=ell, seed=seed), phi).astype(np.int64)


@pytest.fixture(scope="module")
def target48():
    return grf_labels((48, 48), ell=3.0)


def test_2d_reconstruction_reaches_s2_error(target48):
    result = reconstruct(target48, seed=0)
    err = s2_error(result.structure, target48)
    # two independent samples of the same process differ by ~0.5; the reconstruction must be 10x closer
    independent = s2_error(grf_labels((48, 48), seed=2), target48)
    assert err <= 0.05, err
    assert independent > 10 * err
    assert volume_fraction_error(result.structure, target48) <= 0.5 / target48.size
    assert count_isolated(result.structure) == 0
    assert set(result.history) >= {"loss", "s2_error"} and len(result.history["loss"]) > 10


def test_seed_reproduces(target48):
    a = reconstruct(target48, iterations=20, seed=3).structure
    b = reconstruct(target48, iterations=20, seed=3).structure
    c = reconstruct(target48, iterations=20, seed=4).structure
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_3d_from_2d_matches_all_three_directions():
    target = grf_labels((24, 24), ell=3.0)
    result = reconstruct(target, (24, 24, 24), iterations=60, seed=0)
    iso = isotropic_target(target_descriptors(target))
    errors = s2_error(result.structure, iso, per_view=True)
    assert len(errors) == 3 and max(errors) <= 0.06, errors
    assert volume_fraction_error(result.structure, target) <= 0.005
    assert count_isolated(result.structure) == 0


def test_three_phases_keep_fractions():
    rng = np.random.default_rng(0)
    field = gaussian_random_field((32, 32), correlation_length=2.5, seed=5)
    target = np.digitize(field, np.quantile(field, [0.5, 0.8]))
    result = reconstruct(target, iterations=40, seed=0)
    fractions = np.bincount(target.ravel()) / target.size
    got = np.bincount(result.structure.ravel(), minlength=3) / target.size
    assert np.abs(got - fractions).max() <= 0.01, (got, fractions)
    assert s2_error(result.structure, target) <= 0.3
    del rng


def test_cleanup_removes_isolated_and_keeps_fraction():
    rng = np.random.default_rng(1)
    noisy = grf_labels((32, 32))
    flip = rng.random(noisy.shape) < 0.05
    noisy = np.where(flip, 1 - noisy, noisy)
    assert count_isolated(noisy) > 0
    clean = remove_isolated(noisy)
    assert count_isolated(clean) == 0
    assert clean.sum() == noisy.sum()
    volume = (rng.random((12, 12, 12)) < 0.5).astype(int)
    clean3 = remove_isolated(volume)
    assert count_isolated(clean3) == 0 and clean3.sum() == volume.sum()


def test_annealing_lowers_s2_error():
    target = grf_labels((24, 24), ell=2.0)
    result = reconstruct(target, method="annealing", iterations=15, seed=0, cleanup=False)
    history = result.history["s2_error"]
    assert history[-1] < 0.6 * history[0], history
    assert volume_fraction_error(result.structure, target) <= 1 / target.size


def test_generative_model_samples_binary_images_with_right_fraction():
    image = grf_labels((64, 64), ell=2.0, phi=0.35)
    vae = CropVAE(crop=16, seed=0).fit(image, steps=150, batch_size=16)
    samples = vae.sample(4, size=32, seed=0)
    assert samples.shape == (4, 32, 32) and set(np.unique(samples)) <= {0, 1}
    assert abs(samples.mean() - 0.35) <= 0.12


@pytest.mark.parametrize("bad, shape, match", [
    (np.ones((16, 16), int), None, "single phase"),
    (np.full((16, 16), np.nan), None, "NaN"),
    (np.arange(16) % 2, None, "dimensions"),
    (grf_labels((16, 16, 16)), (16, 16), "at least as many dimensions"),
])
def test_bad_targets_raise(bad, shape, match):
    with pytest.raises(ValueError, match=match):
        reconstruct(bad, shape)


def test_bad_arguments_raise(target48):
    with pytest.raises(ValueError, match="method"):
        reconstruct(target48, method="magic")
    with pytest.raises(ValueError, match="descriptors"):
        reconstruct(target48, descriptors=("s3",))
    with pytest.raises(ValueError, match="too small"):
        reconstruct(target48, (16, 16))
