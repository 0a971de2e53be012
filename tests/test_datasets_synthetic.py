import numpy as np
import pytest

from mslearn.datasets import composite_conductivity
from mslearn.homogenization.bounds import hamilton_crosser


def test_hamilton_crosser_limits_and_maxwell_garnett():
    # phi = 0 gives the matrix, phi = 1 the particle conductivity, exactly.
    assert hamilton_crosser(0.0, 2.0, 7.0, 5.0) == pytest.approx(2.0, rel=1e-15)
    assert hamilton_crosser(1.0, 2.0, 7.0, 5.0) == pytest.approx(7.0, rel=1e-15)
    # n = 3 is the Maxwell-Garnett formula k* = k_m (1 + 2 phi beta) / (1 - phi beta),
    # beta = (k_p - k_m) / (k_p + 2 k_m); to rounding (1e-14).
    phi, km, kp = 0.3, 1.0, 10.0
    beta = (kp - km) / (kp + 2 * km)
    assert hamilton_crosser(phi, km, kp, 3.0) == pytest.approx(km * (1 + 2 * phi * beta) / (1 - phi * beta), rel=1e-14)
    with pytest.raises(ValueError, match="phi"):
        hamilton_crosser(1.2, 1.0, 2.0)


def test_dataset_is_deterministic_and_noise_is_as_stated():
    a, b = composite_conductivity(2000, seed=4), composite_conductivity(2000, seed=4)
    assert a.equals(b)
    assert not a.equals(composite_conductivity(2000, seed=5))
    relative = a.relative_conductivity / a.relative_conductivity_exact - 1
    assert relative.std() == pytest.approx(0.03, rel=0.1)  # 2000 samples: std of the std ~ 1.6 %
    clean = composite_conductivity(50, noise=0.0, seed=1)
    np.testing.assert_array_equal(clean.relative_conductivity, clean.relative_conductivity_exact)


def test_dataset_bad_input():
    with pytest.raises(ValueError, match="n_samples"):
        composite_conductivity(0)
    with pytest.raises(ValueError, match="noise"):
        composite_conductivity(10, noise=-0.1)


def test_composite_conductivity_rejects_reversed_ranges():
    with pytest.raises(ValueError, match=r"volume_fraction = \(0.5, 0.1\); expected a sampling range"):
        composite_conductivity(5, volume_fraction=(0.5, 0.1))
