import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from mslearn.sensitivity import (
    ishigami, ishigami_indices, permutation_importance_frame, saltelli_sample, sobol_indices,
)

ISHIGAMI_BOUNDS = [(-np.pi, np.pi)] * 3


def test_exact_ishigami_indices_match_the_literature():
    first, total = ishigami_indices(7.0, 0.1)
    np.testing.assert_allclose(first, [0.314, 0.442, 0.000], atol=1e-3)
    np.testing.assert_allclose(total, [0.558, 0.442, 0.244], atol=1e-3)


def test_estimator_reproduces_ishigami_within_0_02():
    result = sobol_indices(ishigami, ISHIGAMI_BOUNDS, n=2**13, seed=0, n_bootstrap=100)
    first, total = ishigami_indices()
    np.testing.assert_allclose(result.first, first, atol=0.02)
    np.testing.assert_allclose(result.total, total, atol=0.02)
    assert np.all(result.first_conf < 0.05) and np.all(result.total_conf < 0.05)
    # the intervals cover the exact values (within their own half-width, plus 0.01 for the interval's noise)
    assert np.all(np.abs(result.first - first) <= result.first_conf + 0.01)


def test_linear_model_indices_are_weighted_variances():
    c = np.array([1.0, 2.0, 0.5])
    widths = np.array([1.0, 1.0, 4.0])
    bounds = [(0.0, w) for w in widths]
    result = sobol_indices(lambda X: X @ c, bounds, n=2**12, seed=1, n_bootstrap=0)
    expected = c**2 * widths**2 / np.sum(c**2 * widths**2)
    np.testing.assert_allclose(result.first, expected, atol=0.01)
    np.testing.assert_allclose(result.total, expected, atol=0.01)
    assert result.first.sum() == pytest.approx(1.0, abs=0.02)


def test_product_is_pure_interaction():
    result = sobol_indices(lambda X: X[:, 0] * X[:, 1], [(-1, 1), (-1, 1)], n=2**12, seed=2, n_bootstrap=0)
    np.testing.assert_allclose(result.first, [0.0, 0.0], atol=0.02)
    np.testing.assert_allclose(result.total, [1.0, 1.0], atol=0.03)


def test_deterministic_and_multi_output():
    a = sobol_indices(ishigami, ISHIGAMI_BOUNDS, n=2**10, seed=3, n_bootstrap=20)
    b = sobol_indices(ishigami, ISHIGAMI_BOUNDS, n=2**10, seed=3, n_bootstrap=20)
    np.testing.assert_array_equal(a.first, b.first)
    np.testing.assert_array_equal(a.first_conf, b.first_conf)
    both = sobol_indices(lambda X: np.column_stack([ishigami(X), X[:, 2]]), ISHIGAMI_BOUNDS, n=2**10,
                         seed=3, n_bootstrap=0)
    np.testing.assert_allclose(both.first[0], a.first, atol=1e-12)
    np.testing.assert_allclose(both.total[1], [0, 0, 1], atol=1e-12)
    frame = both.to_frame()
    assert frame.shape == (3, 8)
    assert list(a.to_frame().columns) == ["S1", "S1_conf", "ST", "ST_conf"]


def test_named_bounds_and_design_shape():
    A, B = saltelli_sample({"phi": (0.1, 0.4), "r": (2, 8)}, 64, seed=0)
    assert A.shape == B.shape == (64, 2)
    assert A[:, 0].min() >= 0.1 and A[:, 0].max() <= 0.4
    result = sobol_indices(lambda X: X[:, 0], {"phi": (0.1, 0.4), "r": (2, 8)}, n=64, seed=0, n_bootstrap=0)
    assert result.names == ["phi", "r"]


def test_permutation_importance_ranks_irrelevant_feature_last():
    generator = np.random.default_rng(0)
    X = generator.random((200, 3))
    y = 3 * X[:, 0] + X[:, 1]
    frame = permutation_importance_frame(LinearRegression().fit(X, y), X, y, names=["a", "b", "noise"], seed=0)
    assert list(frame.index) == ["a", "b", "noise"]


@pytest.mark.parametrize("bounds, n, message", [
    ([(1.0, 0.0)], 64, "low < high"),
    ([(0.0, np.nan)], 64, "NaN"),
    ([(0.0, 1.0)], 100, "power of two"),
    ([(0.0, 1.0)], 1, "power of two"),
])
def test_bad_design_input(bounds, n, message):
    with pytest.raises(ValueError, match=message):
        sobol_indices(lambda X: X[:, 0], bounds, n=n, seed=0)


def test_bad_model_output():
    with pytest.raises(ValueError, match="model returned shape"):
        sobol_indices(lambda X: X[:5, 0], [(0, 1)], n=64, seed=0)
    with pytest.raises(ValueError, match="NaN or inf for"):
        sobol_indices(lambda X: np.where(X[:, 0] > 0.5, np.nan, 1.0), [(0, 1)], n=64, seed=0)
    with pytest.raises(ValueError, match="constant"):
        sobol_indices(lambda X: np.ones(len(X)), [(0, 1)], n=64, seed=0)
    with pytest.raises(ValueError, match="confidence"):
        sobol_indices(ishigami, ISHIGAMI_BOUNDS, n=64, seed=0, confidence=1.5)
