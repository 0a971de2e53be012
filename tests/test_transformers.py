"""Descriptor transformers: exact agreement with the descriptor functions, scikit-learn API, Pipeline
and GridSearchCV, and clear errors for bad input."""
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mslearn.descriptors import (DescriptorTransformer, TwoPointCorrelation, central_window, cross_correlation,
                                 two_point_correlation)


def _images(n=24, size=16, seed=0, phases=2):
    """Thresholded smooth noise: label images whose S2 varies from image to image (volume fractions
    and correlation lengths differ), labels 0 .. phases - 1."""
    rng = np.random.default_rng(seed)
    k2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None] ** 2
    widths = rng.uniform(20, 120, (n, 1, 1))
    smooth = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, size, size))) * np.exp(-widths * k2)).real
    labels = np.zeros((n, size, size), dtype=np.int64)
    for image, field in zip(labels, smooth):
        cuts = np.quantile(field, np.sort(rng.uniform(0.25, 0.75, phases - 1)))
        image[...] = np.searchsorted(cuts, field)
    return labels


@pytest.fixture(scope="module")
def images():
    return _images()


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("window", [None, 0, 3])
def test_output_equals_two_point_correlation_exactly(images, periodic, window):
    step = TwoPointCorrelation(1, periodic=periodic, window=window, device="cpu")
    features = step.fit_transform(images)
    maps = two_point_correlation(images, 1, periodic=periodic, batch=True, device="cpu")
    expected = (maps if window is None else central_window(maps, window, 2)).reshape(len(images), -1)
    assert features.dtype == np.float64 and features.shape == (len(images), step.n_features_out_)
    np.testing.assert_array_equal(features, expected)
    np.testing.assert_array_equal(step.transform(images), expected)
    np.testing.assert_array_equal(TwoPointCorrelation(1, periodic=periodic, window=window, device="cpu")
                                  .fit(images).transform(images), expected)
    assert step.image_shape_ == (16, 16)
    names = step.get_feature_names_out()
    assert len(names) == step.n_features_out_
    if window == 3:
        # row-major (r_1, r_2); the middle column is S2(0) = the volume fraction
        assert names[0] == "s2(-3,-3)" and names[len(names) // 2] == "s2(0,0)"
        np.testing.assert_allclose(features[:, len(names) // 2], (images == 1).mean(axis=(1, 2)), rtol=1e-12)
    if window is None:
        assert names[0] == "s2(0,0)"


def test_phase_0_3d_and_torch_input(images):
    # the other phase, a 3D batch, a torch tensor and integral floats: still the descriptor's numbers
    np.testing.assert_array_equal(
        TwoPointCorrelation(0, window=2, device="cpu").fit_transform(images),
        central_window(two_point_correlation(images, 0, batch=True, device="cpu"), 2, 2).reshape(len(images), -1))
    volumes = np.random.default_rng(1).integers(0, 2, (3, 8, 8, 8))
    out = TwoPointCorrelation(window=1, device="cpu").fit_transform(volumes)
    assert out.shape == (3, 27)
    np.testing.assert_array_equal(out, TwoPointCorrelation(window=1, device="cpu")
                                  .fit_transform(torch.as_tensor(volumes)))
    np.testing.assert_array_equal(out, TwoPointCorrelation(window=1, device="cpu")
                                  .fit_transform(volumes.astype(np.float32)))


def test_window_makes_features_independent_of_image_size(images):
    step = TwoPointCorrelation(window=2, device="cpu").fit(images)
    larger = _images(n=3, size=24, seed=5)
    assert step.transform(larger).shape == (3, 25)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(16, 16\).*window=None"):
        TwoPointCorrelation(device="cpu").fit(images).transform(larger)
    with pytest.raises(ValueError, match="spatial axes"):
        step.transform(np.ones((2, 8, 8, 8), dtype=int))


def test_generic_transformer_wraps_any_descriptor(images):
    three = _images(n=6, seed=2, phases=3)
    assert set(np.unique(three)) == {0, 1, 2}
    step = DescriptorTransformer(cross_correlation, kw_args={"phase_a": 1, "phase_b": 2}, window=2, device="cpu")
    expected = central_window(cross_correlation(three, 1, 2, batch=True, device="cpu"), 2, 2).reshape(6, -1)
    np.testing.assert_array_equal(step.fit_transform(three), expected)
    assert step.get_feature_names_out()[0] == "cross_correlation0"
    # the default descriptor is S2: the same numbers as TwoPointCorrelation
    np.testing.assert_array_equal(DescriptorTransformer(window=3, device="cpu").fit_transform(images),
                                  TwoPointCorrelation(window=3, device="cpu").fit_transform(images))

    # a function written like a descriptor, without a device argument, returning (n, 2): no window
    def phase_fractions(labels, batch):
        return np.stack([(labels == k).mean(axis=(1, 2)) for k in (0, 1)], axis=1)

    fractions = DescriptorTransformer(phase_fractions).fit_transform(images)
    np.testing.assert_array_equal(fractions, phase_fractions(images, True))
    with pytest.raises(ValueError, match="has no device argument"):
        DescriptorTransformer(phase_fractions, device="cpu").fit(images)
    with pytest.raises(ValueError, match="needs displacement maps with 2 spatial axes"):
        DescriptorTransformer(phase_fractions, window=1).fit(images)

    # a descriptor that returns one array per layer: each flattened, side by side (it raised TypeError)
    from mslearn.descriptors import gram_matrices
    layers = gram_matrices(images[:3], batch=True, device="cpu")
    features = DescriptorTransformer(gram_matrices, device="cpu").fit_transform(images[:3])
    np.testing.assert_array_equal(features, np.concatenate([np.asarray(m).reshape(3, -1) for m in layers], axis=1))
    with pytest.raises(TypeError, match="with window=None, a list"):
        DescriptorTransformer(gram_matrices, window=1, device="cpu").fit_transform(images[:3])


def test_get_params_clone_and_repr():
    step = TwoPointCorrelation(2, periodic=False, window=4, device="cpu")
    assert step.get_params() == {"phase": 2, "periodic": False, "window": 4, "device": "cpu"}
    copy = clone(step)
    assert copy is not step and copy.get_params() == step.get_params()
    assert not hasattr(copy, "image_shape_")
    assert "window=4" in repr(step)
    generic = DescriptorTransformer(cross_correlation, kw_args={"phase_a": 1, "phase_b": 2})
    assert clone(generic).get_params()["kw_args"] == {"phase_a": 1, "phase_b": 2}
    assert clone(generic).descriptor is cross_correlation
    assert make_pipeline(TwoPointCorrelation(window=2), PCA(3)).set_params(
        twopointcorrelation__window=5).steps[0][1].window == 5


def test_pipeline_and_grid_search_tune_the_window(images):
    # a target that depends on the two-point statistics at displacement 2: S2(2, 0) + S2(0, 2)
    maps = two_point_correlation(images, 1, batch=True, device="cpu")
    y = maps[:, 2, 0] + maps[:, 0, 2]
    pipeline = make_pipeline(TwoPointCorrelation(window=1, device="cpu"), PCA(4), StandardScaler(), Ridge(1e-3))
    search = GridSearchCV(pipeline, {"twopointcorrelation__window": [1, 2], "pca__n_components": [4, 8]},
                          cv=KFold(3, shuffle=True, random_state=0))
    search.fit(images, y)
    # the target is a linear function of the window-2 features (8 components are enough for them to
    # dominate); window 1 does not contain S2(2, 0) at all
    assert search.best_params_["twopointcorrelation__window"] == 2
    scores = search.cv_results_["mean_test_score"]
    assert search.best_score_ > 0.9 and search.best_score_ == scores.max()
    assert search.predict(images[:3]).shape == (3,)
    assert cross_val_score(clone(search.best_estimator_), images, y, cv=3).shape == (3,)
    # the fitted pipeline is the by-hand chain S2 -> window -> PCA -> scaler -> ridge
    best = search.best_estimator_
    X = central_window(maps, best[0].window, 2).reshape(len(images), -1)
    by_hand = make_pipeline(PCA(best[1].n_components), StandardScaler(), Ridge(1e-3)).fit(X, y)
    np.testing.assert_allclose(best.predict(images), by_hand.predict(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("X, error, message", [
    (np.zeros((4, 16), dtype=int), ValueError, r"X has 2 dimensions.*\(batch, \*spatial\)"),
    (np.zeros((16, 16, 16, 16, 2), dtype=int), ValueError, "X has 5 dimensions"),
    (np.full((2, 8, 8), np.nan), ValueError, "X contains NaN"),
    (np.full((2, 8, 8), 0.5), ValueError, "non-integer values"),
    (np.full((2, 8, 8), -1), ValueError, "negative label"),
    (np.zeros((2, 8, 8), dtype=int), ValueError, "phase 1 does not occur in X"),
    (np.array([[[1, 0]], [[0, 1], [1, 1]]], dtype=object), (ValueError, TypeError), "X"),
    ("images", (ValueError, TypeError), "X"),
])
def test_bad_images_raise_clear_errors(X, error, message):
    with pytest.raises(error, match=message):
        TwoPointCorrelation(device="cpu").fit(X)


def test_bad_parameters_and_unfitted_use(images):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TwoPointCorrelation().transform(images)
    with pytest.raises(ValueError, match="window = -1; expected an integer >= 0"):
        TwoPointCorrelation(window=-1).fit(images)
    with pytest.raises(TypeError, match="window must be an integer >= 0, got float 2.0"):
        TwoPointCorrelation(window=2.0).fit(images)
    with pytest.raises(ValueError, match=r"window=9 needs maps of at least 19"):
        TwoPointCorrelation(window=9, device="cpu").fit(images)
    with pytest.raises(ValueError, match="phase=-1"):
        TwoPointCorrelation(-1).fit(images)
    with pytest.raises(TypeError, match="periodic"):
        TwoPointCorrelation(periodic="yes").fit(images)
    with pytest.raises(ValueError, match="device"):
        TwoPointCorrelation(device="gpu0").fit(images)
    with pytest.raises(TypeError, match="has no batch argument"):
        DescriptorTransformer(lambda labels: labels).fit(images)
    with pytest.raises(TypeError, match="callable"):
        DescriptorTransformer("s2").fit(images)
    with pytest.raises(ValueError, match="kw_args sets 'batch'"):
        DescriptorTransformer(kw_args={"batch": False}).fit(images)
    with pytest.raises(TypeError, match="one row per image"):
        DescriptorTransformer(lambda labels, batch: 1.0).fit(images)
    with pytest.raises(ValueError, match="X contains NaN"):
        DescriptorTransformer(device="cpu").fit(np.full((2, 8, 8), np.nan))
