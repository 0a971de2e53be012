"""Tests of mslearn.descriptors against exact identities, hand-computed values, independent direct
summations and the analytic S2 of the overlapping-disk (Boolean) model. Tolerances are stated in
each test. Microstructures are drawn inline (no dependency on mslearn.structures)."""
import itertools
import math
import re

import numpy as np
import pytest
import torch

from mslearn import descriptors as D



@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The tensors here are tiny: one torch thread avoids thread-pool overhead on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# tiny inline generators and plain references


def disk_image(shape, centres, radius, periodic=True):
    """1 inside disks/spheres (pixel centres within ``radius`` of a centre), minimum image if periodic."""
    grid = np.indices(shape).reshape(len(shape), -1).T.astype(float)
    image = np.zeros(len(grid), dtype=np.int64)
    for c in np.atleast_2d(centres):
        d = grid - c
        if periodic:
            d -= np.array(shape) * np.round(d / np.array(shape))
        image[(d**2).sum(1) <= radius**2] = 1
    return image.reshape(shape)


def ellipse_image(shape, centre, a, b, theta):
    """Ellipse with semi-axes a (along (cos theta, sin theta) in (axis 0, axis 1)) and b."""
    i, j = np.indices(shape).astype(float)
    di, dj = i - centre[0], j - centre[1]
    u = di * np.cos(theta) + dj * np.sin(theta)
    v = -di * np.sin(theta) + dj * np.cos(theta)
    return ((u / a) ** 2 + (v / b) ** 2 <= 1).astype(np.int64)


def direct_correlation(a, b, periodic):
    """S2_ab(r) = mean over x of a(x) b(x + r), by explicit loops over displacements."""
    shape = a.shape
    if periodic:
        out = np.zeros(shape)
        for r in np.ndindex(*shape):
            total = 0.0
            for x in np.ndindex(*shape):
                total += a[x] * b[tuple((xi + ri) % n for xi, ri, n in zip(x, r, shape))]
            out[r] = total / a.size
        return out
    out = np.zeros([2 * n - 1 for n in shape])
    for r in itertools.product(*[range(-(n - 1), n) for n in shape]):
        total, count = 0.0, 0
        for x in np.ndindex(*shape):
            y = tuple(xi + ri for xi, ri in zip(x, r))
            if all(0 <= yi < n for yi, n in zip(y, shape)):
                total += a[x] * b[y]
                count += 1
        out[tuple(ri % (2 * n - 1) for ri, n in zip(r, shape))] = total / count
    return out


def direct_lineal_path(image, vec, max_length, periodic):
    """L(r) by checking every segment of r + 1 pixels explicitly."""
    shape = image.shape
    out = []
    for r in range(max_length + 1):
        hits = valid = 0
        for x in np.ndindex(*shape):
            points = [tuple(xi + j * vi for xi, vi in zip(x, vec)) for j in range(r + 1)]
            if periodic:
                points = [tuple(p % n for p, n in zip(point, shape)) for point in points]
            elif not all(0 <= p < n for point in points for p, n in zip(point, shape)):
                continue
            valid += 1
            hits += all(image[p] == 1 for p in points)
        out.append(hits / valid)
    return np.array(out)


def random_labels(shape, p=0.5, seed=0, n_phases=2):
    rng = np.random.default_rng(seed)
    if n_phases == 2:
        return (rng.random(shape) < p).astype(np.int64)
    return rng.integers(0, n_phases, shape)


# ---------------------------------------------------------------------------------------------
# S2 and cross-correlation


@pytest.mark.parametrize("shape", [(128, 128), (24, 20, 28)])
def test_s2_identities(shape):
    image = random_labels(shape, p=0.3, seed=1)
    n = image.size
    phi = image.mean()
    s2 = D.two_point_correlation(image)
    assert s2.shape == shape and s2.dtype == np.float64
    assert abs(s2.flat[0] - phi) < 1e-12                                   # S2(0) = phi
    mirrored = np.roll(np.flip(s2), 1, axis=tuple(range(len(shape))))     # S2(-r)
    np.testing.assert_allclose(s2, mirrored, atol=1e-12)                   # S2(r) = S2(-r)
    assert abs(s2.sum() - image.sum() ** 2 / n) < 1e-10 * image.sum() ** 2 / n  # sum_r S2 = (sum I)^2/N
    # i.i.d. pixels: S2(r != 0) = phi^2, within 3/sqrt(N)
    assert np.abs(s2.flat[1:] - phi**2).max() < 3 / math.sqrt(n)


@pytest.mark.parametrize("shape", [(7, 9), (5, 6, 4)])
@pytest.mark.parametrize("periodic", [True, False])
def test_s2_matches_direct_summation(shape, periodic):
    image = random_labels(shape, seed=2, n_phases=3)
    for a, b in [(1, 1), (0, 2)]:
        ia, ib = (image == a).astype(float), (image == b).astype(float)
        expected = direct_correlation(ia, ib, periodic)
        if a == b:
            got = D.two_point_correlation(image, a, periodic=periodic)
        else:
            got = D.cross_correlation(image, a, b, periodic=periodic)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), ("float32", np.float32),
                                             (torch.float32, np.float32), (np.dtype("float64"), np.float64)])
def test_correlation_takes_numpy_and_torch_dtypes(dtype, expected):
    # a numpy dtype raised a raw torch error
    labels = np.zeros((8, 8), dtype=int)
    labels[2:5, 2:6] = 1
    s2 = D.two_point_correlation(labels, dtype=dtype)
    assert s2.dtype == expected
    np.testing.assert_allclose(s2, D.two_point_correlation(labels), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, torch.int64, np.complex64, "bogus"])
def test_correlation_refuses_a_dtype_that_is_not_floating_point(dtype):
    labels = np.zeros((8, 8), dtype=int)
    labels[2:5, 2:6] = 1
    with pytest.raises(TypeError, match=rf"dtype = {re.escape(repr(dtype))}; expected a floating-point dtype"):
        D.two_point_correlation(labels, dtype=dtype)


def test_s2_non_periodic_uniform_image_is_one():
    s2 = D.two_point_correlation(np.ones((6, 5), dtype=int), periodic=False)
    np.testing.assert_allclose(s2, 1.0, atol=1e-12)   # normalized by overlapping pairs


@pytest.mark.parametrize("periodic", [True, False])
def test_s2_batched_equals_looped_and_torch_kind(periodic):
    images = random_labels((4, 12, 10), seed=3)
    batched = D.two_point_correlation(images, periodic=periodic, batch=True)
    looped = np.stack([D.two_point_correlation(im, periodic=periodic) for im in images])
    np.testing.assert_allclose(batched, looped, atol=1e-14)
    as_torch = D.two_point_correlation(torch.from_numpy(images), periodic=periodic, batch=True,
                                       dtype=torch.float64)
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_torch.numpy(), batched, atol=1e-14)
    # a float field with 0/1 values is the indicator itself: same S2 as the labels
    soft = D.two_point_correlation(images.astype(float), periodic=periodic, batch=True)
    np.testing.assert_allclose(soft, batched, atol=1e-14)


@pytest.mark.parametrize("periodic", [True, False])
def test_soft_s2_gradcheck(periodic):
    field = torch.rand(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    field = (0.1 + 0.8 * field).requires_grad_()
    assert torch.autograd.gradcheck(lambda f: D.two_point_correlation(f, periodic=periodic), (field,))
    assert torch.autograd.gradcheck(lambda f: D.two_point_correlation(f, 0, periodic=periodic), (field,))


def test_radial_average():
    # a map equal to |r| (minimum image) averages to the mean shell radius itself
    shape = (10, 7)
    disp = np.meshgrid(*[(np.arange(n) + n // 2) % n - n // 2 for n in shape], indexing="ij")
    radius = np.sqrt(sum(d**2 for d in disp))
    r, values = D.radial_average(radius)
    np.testing.assert_allclose(values, r, atol=1e-12)
    assert r[0] == 0 and len(r) == 4                     # shells 0..3 (min(10//2, 6//2) = 3)
    r_b, values_b = D.radial_average(np.stack([radius, 2 * radius]), batch=True)
    np.testing.assert_allclose(values_b, np.stack([r, 2 * r]), atol=1e-12)
    r5, v5 = D.radial_average(torch.from_numpy(radius), bins=3)
    assert isinstance(v5, torch.Tensor) and v5.shape == (3,)


# ---------------------------------------------------------------------------------------------
# specific surface: S2 slope at the origin and surface count


def test_specific_surface_disk_and_sphere():
    radius = 40
    disk = disk_image((256, 256), (128.3, 127.6), radius)
    s = D.specific_surface(disk)
    exact = 2 * np.pi * radius / disk.size
    assert abs(s.s2 / exact - 1) < 0.03      # tolerance 3 %
    assert abs(s.count / exact - 1) < 0.03

    radius = 20
    sphere = disk_image((96, 96, 96), (48.2, 47.7, 48.4), radius)
    s = D.specific_surface(sphere)
    exact = 4 * np.pi * radius**2 / sphere.size
    assert abs(s.s2 / exact - 1) < 0.03
    assert abs(s.count / exact - 1) < 0.03


# ---------------------------------------------------------------------------------------------
# Boolean model of overlapping disks: analytic S2 of the matrix (void) phase


@pytest.fixture(scope="module")
def boolean_disks():
    """Overlapping disks of radius 8 at void fraction 1/2 in a periodic 512^2 image (Poisson centres,
    seed 7): ``(image, number density realized, radius)``."""
    size, radius = 512, 8.0
    phi_target = 0.5
    density = -np.log(phi_target) / (np.pi * radius**2)
    rng = np.random.default_rng(7)
    centres = rng.random((rng.poisson(density * size**2), 2)) * size
    density = len(centres) / size**2          # the realized number density (removes the Poisson count noise)
    offsets = np.stack(np.meshgrid(np.arange(-9, 10), np.arange(-9, 10), indexing="ij"), -1).reshape(-1, 2)
    pixels = np.floor(centres)[:, None, :] + offsets[None]          # (centres, offsets, 2)
    inside = ((pixels - centres[:, None, :]) ** 2).sum(-1) <= radius**2
    image = np.zeros((size, size), dtype=np.int64)
    hit = pixels[inside].astype(np.int64) % size
    image[hit[:, 0], hit[:, 1]] = 1
    return image, density, radius


def test_boolean_model_void_s2_matches_analytic(boolean_disks):
    image, density, radius = boolean_disks

    def lens(r):  # intersection area of two disks of radius R at distance r
        r = np.minimum(r, 2 * radius)
        return 2 * radius**2 * np.arccos(r / (2 * radius)) - r / 2 * np.sqrt(4 * radius**2 - r**2)

    r, s2_void = D.radial_average(D.two_point_correlation(image, phase=0))
    analytic = np.exp(-density * (2 * np.pi * radius**2 - lens(r)))
    for k in [0, 1, 2, 4, 8, 12, 16, 24, 40]:
        assert abs(s2_void[k] - analytic[k]) < 0.01, (k, s2_void[k], analytic[k])   # 0.01 absolute
    assert abs(D.volume_fraction(image, 0) - np.exp(-density * np.pi * radius**2)) < 0.01


# ---------------------------------------------------------------------------------------------
# lineal path, soft lineal path, chords


def test_boolean_model_void_lineal_path_and_chords_match_analytic(boolean_disks):
    """Overlapping disks (Boolean model), void phase: a segment of length r lies in the void when no
    centre falls in its dilation by R, of area pi R^2 + 2 R r, so L(r) = exp(-rho (pi R^2 + 2 R r)) and the
    chords are exponential with mean 1 / (2 R rho) (Lu & Torquato 1992, Phys. Rev. A 45, 922; Torquato &
    Lu 1993, Phys. Rev. E 47, 2950). Tolerances: 0.006 absolute on L(r), r = 0..30 along both axes (sampling and the
    pixel disks, measured 0.0044); 4 % on the mean chord (the pixel chords, measured +2.2 %)."""
    image, density, radius = boolean_disks
    r = np.arange(31)
    analytic = np.exp(-density * (np.pi * radius**2 + 2 * radius * r))
    lineal = D.lineal_path(image, phase=0, max_length=30)              # along axis 0 and axis 1
    assert lineal.shape == (2, 31)
    assert np.abs(lineal - analytic).max() < 0.006
    chords = D.chord_length_distribution(image, phase=0)
    assert chords.mean == pytest.approx(1 / (2 * radius * density), rel=0.04)


HAND = np.array([[1, 1, 0, 1],
                 [0, 1, 1, 1],
                 [1, 0, 0, 0]])


def test_lineal_path_hand_computed():
    # periodic along axis 1: forward runs row 0: 2,1,0,3 (wraps 3->0->1); row 1: 0,3,2,1; row 2: 1,0,0,0
    # along axis 0: columns [1,0,1] -> runs 1,0,2; [1,1,0] -> 2,1,0; [0,1,0] -> 0,1,0; [1,1,0] -> 2,1,0
    got = D.lineal_path(HAND, directions="axes", max_length=2)
    np.testing.assert_allclose(got, np.array([[7, 3, 0], [7, 4, 2]]) / 12, atol=1e-15)
    # non-periodic along axis 1: runs row 0: 2,1,0,1; row 1: 0,3,2,1; row 2: 1,0,0,0;
    # segments of r+1 pixels fit in 3 * (4 - r) positions
    got = D.lineal_path(HAND, directions=[[0, 1]], max_length=3, periodic=False)
    np.testing.assert_allclose(got[0], [7 / 12, 3 / 9, 1 / 6, 0 / 3], atol=1e-15)
    # diagonal (1, 1), periodic on 3 x 4: one cycle through all 12 pixels,
    # values along it 1,1,0,1,0,0,0,1,1,1,1,0 -> runs 2,1,0,1,0,0,0,4,3,2,1,0
    got = D.lineal_path(HAND, directions=[[1, 1]], max_length=4)
    np.testing.assert_allclose(got[0], np.array([7, 4, 2, 1, 0]) / 12, atol=1e-15)


@pytest.mark.parametrize("shape", [(6, 7), (4, 5, 3)])
@pytest.mark.parametrize("periodic", [True, False])
def test_lineal_path_matches_direct_and_soft(shape, periodic):
    image = random_labels(shape, p=0.65, seed=4)
    max_length = min(shape) - 1
    got = D.lineal_path(image, directions="all", max_length=max_length, periodic=periodic)
    vectors = D.lattice_directions(len(shape), "all")
    assert got.shape == (len(vectors), max_length + 1)
    for row, vec in zip(got, vectors):
        np.testing.assert_allclose(row, direct_lineal_path(image, vec, max_length, periodic), atol=1e-14)
    np.testing.assert_allclose(got[:, 0], image.mean(), atol=1e-14)            # L(0) = phi
    soft = D.soft_lineal_path(image.astype(float), directions="all", max_length=max_length, periodic=periodic)
    np.testing.assert_allclose(soft, got, atol=1e-14)                           # soft = exact on binary


def test_lineal_path_solid_line_and_batch():
    image = np.zeros((8, 10), dtype=int)
    image[3] = 1                         # one full row: infinite periodic run along axis 1
    got = D.lineal_path(image, max_length=30)
    np.testing.assert_allclose(got[1], 1 / 8, atol=1e-15)                  # phi = 10 / 80 for all r
    np.testing.assert_allclose(got[0], [1 / 8] + [0.0] * 30, atol=1e-15)
    images = random_labels((3, 9, 8), seed=5)
    batched = D.lineal_path(torch.from_numpy(images), directions="all", batch=True)
    assert isinstance(batched, torch.Tensor)
    looped = np.stack([D.lineal_path(im, directions="all") for im in images])
    np.testing.assert_allclose(batched.numpy(), looped, atol=1e-6)   # float32 for integer tensors


def test_lineal_path_default_length_reaches_every_direction():
    """Without periodicity the default max_length was min(shape) - 1 whatever the direction: along (2, 1) on
    16 x 16 no segment beyond r = 7 fits, and half of L(r) came out 0 / 0 = NaN (while max_length=15 given
    explicitly was refused). The default stops at the largest r every direction reaches; an empty list of
    directions raised torch's "stack expects a non-empty TensorList"."""
    image = random_labels((16, 16), seed=0)
    for function in (D.lineal_path, D.soft_lineal_path):
        got = function(image, directions=[[2, 1]], periodic=False)
        assert got.shape == (1, 8) and np.isfinite(got).all()
        np.testing.assert_allclose(got[0], direct_lineal_path(image, (2, 1), 7, False), atol=1e-14)
        with pytest.raises(ValueError, match="at most 7"):
            function(image, directions=[[2, 1]], max_length=8, periodic=False)
    odd = image[:15]                                # (15 - 1) // 2 = 7: r = 7 still has one start per column
    assert np.isfinite(D.lineal_path(odd, directions=[[2, 0]], max_length=7, periodic=False)).all()
    assert D.lineal_path(image, directions=[[2, 1]]).shape == (1, 16)     # periodic: unchanged
    with pytest.raises(ValueError, match="one or more non-zero integer vectors"):
        D.lineal_path(image, directions=np.zeros((0, 2), int))


@pytest.mark.parametrize("periodic", [True, False])
def test_soft_lineal_path_gradcheck(periodic):
    field = 0.2 + 0.7 * torch.rand(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    field.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda f: D.soft_lineal_path(f, directions="all", max_length=3, periodic=periodic), (field,))


def test_chords_of_bars():
    columns = np.arange(40) % 8 < 3                    # bars of width 3, gaps of 5, period 8
    image = np.tile(columns, (64, 1)).astype(int)      # bars run along axis 0
    across = D.chord_length_distribution(image, axis=1)
    assert across.lengths[across.counts > 0].tolist() == [3.0] and across.n_chords == 64 * 5
    assert across.mean == 3.0 and abs(across.density.sum() - 1) < 1e-12
    along = D.chord_length_distribution(image, axis=0)  # full lines: one chord of the line length
    assert along.n_chords == 15 and along.mean == 64.0
    wrapped = np.roll(image, -1, axis=1)               # one bar now crosses the periodic boundary
    assert D.chord_length_distribution(wrapped, axis=1).mean == 3.0
    cut = D.chord_length_distribution(wrapped, axis=1, periodic=False)
    assert sorted(set(cut.lengths[cut.counts > 0].tolist())) == [1.0, 2.0, 3.0]
    assert D.chord_length_distribution(wrapped, axis=0, periodic=False).mean == 64.0
    binned = D.chord_length_distribution(image, bins=[0, 10, 100])
    assert binned.counts.tolist() == [320, 15]          # both axes pooled: 320 chords of 3, 15 of 64


def test_chords_count_each_axis_once():
    """A repeated axis was counted twice: axis=(0, 0) and axis=(0, -2) on a 2D image doubled the chords of axis 0.
    A negative axis names the same chords as its positive form; naming one twice (or none) is refused."""
    image = random_labels((16, 16), seed=0)
    both = D.chord_length_distribution(image)
    assert D.chord_length_distribution(image, axis=(1, -2)).n_chords == both.n_chords
    assert D.chord_length_distribution(image, axis=-2).n_chords == D.chord_length_distribution(image, axis=0).n_chords
    for axis in ((0, 0), (0, -2)):
        with pytest.raises(ValueError, match=r"names axis 0 more than once; expected distinct axes"):
            D.chord_length_distribution(image, axis=axis)
    with pytest.raises(ValueError, match="names no axis"):
        D.chord_length_distribution(image, axis=[])


def test_chords_consistent_with_lineal_path():
    # non-periodic: N_r L(r) = sum over chords of max(l - r, 0) along the same axis
    image = random_labels((20, 30), p=0.6, seed=6)
    chords = D.chord_length_distribution(image, axis=1, periodic=False)
    lp = D.lineal_path(image, directions=[[0, 1]], max_length=10, periodic=False)[0]
    for r in range(11):
        expected = (chords.counts * np.maximum(chords.lengths - r, 0)).sum() / (20 * (30 - r))
        assert abs(lp[r] - expected) < 1e-12


# ---------------------------------------------------------------------------------------------
# cluster function


def test_two_point_cluster_function():
    image = random_labels((32, 32), p=0.5, seed=8)
    c2, s2 = D.two_point_cluster_function(image), D.two_point_correlation(image)
    assert np.all(c2 <= s2 + 1e-12)                              # C2 <= S2
    assert abs(c2[0, 0] - image.mean()) < 1e-12
    disk = disk_image((48, 48), (0.0, 20.0), 9)                  # one disk cut by the periodic boundary
    np.testing.assert_allclose(D.two_point_cluster_function(disk), D.two_point_correlation(disk), atol=1e-12)
    cut = D.two_point_cluster_function(disk, periodic=False)    # without merging: two clusters
    assert np.all(cut <= D.two_point_correlation(disk, periodic=False) + 1e-12)
    assert np.max(D.two_point_correlation(disk, periodic=False) - cut) > 0.01
    particles = np.zeros((64, 64), dtype=int)
    for i, j in itertools.product(range(0, 64, 8), repeat=2):
        particles[i:i + 3, j:j + 3] = 1                          # 3x3 squares, far apart
    r, c2_r = D.radial_average(D.two_point_cluster_function(particles))
    _, s2_r = D.radial_average(D.two_point_correlation(particles))
    assert np.all(np.abs(c2_r[r > 4.5]) < 1e-12) and s2_r[r > 4.5].mean() > 0.01   # C2 -> 0, S2 -> phi^2 = 0.02
    c2 = D.two_point_cluster_function(particles)
    assert abs(c2[8, 0]) < 1e-12 and abs(D.two_point_correlation(particles)[8, 0] - 9 / 64) < 1e-12


# ---------------------------------------------------------------------------------------------
# particle statistics


def test_particle_statistics_2d():
    shape = (128, 128)
    theta, a, b = np.deg2rad(30), 15.0, 5.0
    image = disk_image(shape, [(30, 30), (30, 70), (0, 110)], 6)   # the last one cut by the boundary
    image |= ellipse_image(shape, (90, 50), a, b, theta)
    table = D.particle_statistics(image)
    assert len(table) == 4                                          # the cut disk counts once
    disks = table[table["area"] < 200]
    ellipse = table[table["area"] >= 200].iloc[0]
    np.testing.assert_allclose(disks["area"], np.pi * 36, rtol=0.05)             # pixelization: 5 %
    assert abs(ellipse["area"] / (np.pi * a * b) - 1) < 0.03
    assert abs(ellipse["aspect_ratio"] / (a / b) - 1) < 0.05                      # 5 %
    assert abs(ellipse["orientation"] - theta) < np.deg2rad(2)                    # 2 degrees
    cut = table.loc[(table["centroid_1"] - 110).abs() < 0.5].iloc[0]
    assert min(cut["centroid_0"], 128 - cut["centroid_0"]) < 0.5                  # wrapped centroid ~ 0
    # nearest neighbours: (30, 30)-(30, 70) are 40 apart; (0, 110)-(30, 70) are sqrt(30^2 + 40^2) apart
    nn = dict(zip(table["centroid_1"].round(), table["nn_distance"]))
    assert abs(nn[30.0] - 40) < 0.5 and abs(nn[110.0] - math.hypot(30, 40)) < 0.5
    not_periodic = D.particle_statistics(image, periodic=False)
    assert len(not_periodic) == 5


def test_particle_statistics_3d():
    i, j, k = np.indices((40, 40, 40)).astype(float)
    ellipsoid = (((i - 20) / 5) ** 2 + ((j - 20) / 5) ** 2 + ((k - 20) / 10) ** 2 <= 1).astype(int)
    table = D.particle_statistics(ellipsoid)
    row = table.iloc[0]
    assert len(table) == 1 and abs(row["aspect_ratio"] - 2) < 0.1
    assert abs(abs(row["major_axis_2"]) - 1) < 1e-6 and np.isnan(row["nn_distance"])
    assert abs(row["volume"] / (4 / 3 * np.pi * 250) - 1) < 0.05      # pixelization of a small body: 5 %


# ---------------------------------------------------------------------------------------------
# CNN features and Gram matrices


def test_gram_translation_invariance_and_shapes():
    field = np.random.default_rng(9).random((24, 20))
    grams = D.gram_matrices(field)
    rolled = D.gram_matrices(np.roll(field, (5, 11), axis=(0, 1)))
    assert [g.shape for g in grams] == [(12, 12), (32, 32), (32, 32), (32, 32)]
    for g, h in zip(grams, rolled):
        np.testing.assert_allclose(g, h, atol=1e-10)          # periodic padding: exact invariance
        np.testing.assert_allclose(g, g.T, atol=1e-14)
    field3 = np.random.default_rng(9).random((10, 9, 8))
    for g, h in zip(D.gram_matrices(field3, layers=[0, 2]), D.gram_matrices(np.roll(field3, 3, axis=1),
                                                                           layers=[0, 2])):
        np.testing.assert_allclose(g, h, atol=1e-10)
    batch = D.cnn_features(np.stack([field, field[::-1]]), batch=True, layers=1)[0]
    np.testing.assert_allclose(batch[1], D.cnn_features(field[::-1].copy(), layers=[1])[0], atol=1e-12)
    assert D.filters(2).shape == (6, 1, 7, 7) and D.filters(3, layer=1).shape == (32, 20, 3, 3, 3)
    np.testing.assert_allclose(D.filters(2)[1:].sum(axis=(1, 2, 3)), 0, atol=1e-12)  # derivatives: zero mean


def test_filters_returns_a_copy():
    """filters() returned a view of the cached default network's buffer: zeroing it in place zeroed every
    later gram_matrices / cnn_features result. It returns a copy now."""
    field = np.random.default_rng(0).integers(0, 2, (16, 16))
    before = D.gram_matrices(field, layers=[0])[0]
    D.filters(2)[...] = 0
    np.testing.assert_array_equal(D.gram_matrices(field, layers=[0])[0], before)
    assert np.abs(D.filters(2)).max() > 0


def test_gram_gradcheck():
    generator = torch.Generator().manual_seed(2)
    field = torch.rand(6, 6, dtype=torch.float64, generator=generator).requires_grad_()
    weights = [torch.randn(c, c, dtype=torch.float64, generator=generator) for c in (12, 32, 32, 32)]

    def projected(f):  # a random linear functional of every Gram matrix: checks the full vector-Jacobian product
        return sum((g * w).sum() for g, w in zip(D.gram_matrices(f), weights))

    assert torch.autograd.gradcheck(projected, (field,))


# ---------------------------------------------------------------------------------------------
# PCA and search


def test_pca_of_correlations_separates_volume_fractions():
    images = np.concatenate([random_labels((10, 16, 16), p=0.2, seed=10),
                             random_labels((10, 16, 16), p=0.6, seed=11)])
    pca, scores = D.pca_of_correlations(list(images), 2, window=3)
    assert scores.shape == (20, 2) and pca.components_.shape == (2, 49)
    first = scores[:, 0]
    assert (first[:10].max() < first[10:].min()) or (first[:10].min() > first[10:].max())


def test_pca_of_correlations_is_the_same_every_call_and_leaves_numpy_alone():
    """Above 500 x 500 data scikit-learn's PCA takes its randomized solver, which drew from numpy's global
    generator: two calls gave scores differing by 0.1 and moved the caller's random state. It is seeded now."""
    images = random_labels((520, 24, 24), p=0.3, seed=13)
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    first = D.pca_of_correlations(images, 3)[1]
    assert np.array_equal(np.random.get_state()[1], state)
    np.random.seed(6)
    np.testing.assert_array_equal(D.pca_of_correlations(images, 3)[1], first)
    with pytest.raises(ValueError, match="seed is None; pass an integer seed"):
        D.pca_of_correlations(images[:4], 2, seed=None)


@pytest.mark.parametrize("descriptor", ["s2", "gram"])
def test_nearest_microstructures(descriptor):
    database = random_labels((12, 16, 16), p=0.5, seed=12)
    query = np.roll(database[7], (3, -5), axis=(0, 1))
    index, distance = D.nearest_microstructures(query, database, descriptor=descriptor, k=2)
    assert index[0] == 7 and distance[0] < 1e-8 and distance[1] > distance[0]
    index, _ = D.nearest_microstructures(database[[2, 5]], database, descriptor=descriptor, batch=True)
    assert index[:, 0].tolist() == [2, 5]
    index, _ = D.nearest_microstructures(database[4], database, descriptor=lambda x: x.float().mean((1, 2)))
    assert index[0] == 4


@pytest.mark.parametrize("descriptor", ["s2", "gram"])
def test_nearest_microstructures_database_image_without_the_phase(descriptor):
    """The "phase must occur" check ran per chunk: a database image without phase 1 was accepted with the
    default chunk (S2 = 0) but refused with chunk=1. Such an image is described by its empty indicator for
    every chunk; a phase absent from the whole database, or from the query, is still refused."""
    database = random_labels((5, 8, 8), seed=3)
    database[2] = 0
    results = [D.nearest_microstructures(database[0], database, descriptor=descriptor, k=5, chunk=chunk)
               for chunk in (1, 2, 256)]
    for index, distance in results[:2]:
        np.testing.assert_array_equal(index, results[2][0])
        np.testing.assert_allclose(distance, results[2][1], rtol=1e-12)
    if descriptor == "s2":
        empty = np.linalg.norm(D.two_point_correlation(database[0]).ravel())
        np.testing.assert_allclose(results[2][1][results[2][0].tolist().index(2)], empty, rtol=1e-12)
    with pytest.raises(ValueError, match="phase 1 does not occur in database"):
        D.nearest_microstructures(database[0], np.zeros_like(database), descriptor=descriptor)
    with pytest.raises(ValueError, match="phase 1 does not occur in labels"):
        D.nearest_microstructures(database[2], database, descriptor=descriptor)


def test_nearest_microstructures_window_is_the_central_s2_window():
    """window=w compares exactly the S2 entries with |r_d| <= w (the map of pca_of_correlations), and the
    distances are those of the windowed maps; bad windows are refused with the size they need."""
    database = random_labels((6, 16, 16), p=0.4, seed=13)
    query = random_labels((16, 16), p=0.4, seed=14)
    index, distance = D.nearest_microstructures(query, database, window=3, k=6)
    maps = np.asarray(D.two_point_correlation(np.concatenate([query[None], database]), batch=True))
    windows = np.fft.fftshift(maps, axes=(1, 2))[:, 8 - 3:8 + 4, 8 - 3:8 + 4].reshape(7, -1)
    expected = np.linalg.norm(windows[1:] - windows[0], axis=1)
    np.testing.assert_allclose(distance, np.sort(expected), rtol=1e-12)
    assert index.tolist() == np.argsort(expected).tolist()
    with pytest.raises(ValueError, match=r"window=8 needs images of at least 17 pixels per axis"):
        D.nearest_microstructures(query, database, window=8)
    with pytest.raises(ValueError, match="descriptor='s2' only"):
        D.nearest_microstructures(query, database, descriptor="gram", window=2)
    with pytest.raises(ValueError, match="non-negative integer"):
        D.nearest_microstructures(query, database, window=-1)


# ---------------------------------------------------------------------------------------------
# bad input


def test_bad_input():
    good = random_labels((8, 8))
    with pytest.raises(ValueError, match="non-integer"):
        D.lineal_path(np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="relaxed indicator"):
        D.two_point_correlation(np.full((4, 4), 1.5))
    with pytest.raises(ValueError, match="NaN"):
        D.two_point_correlation(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        D.chord_length_distribution(np.array([[0.0, np.nan], [1.0, 0.0]]))
    for bad in (np.ones(5, int), np.ones((2, 2, 2, 2), int)):
        for function in (D.two_point_correlation, D.lineal_path, D.specific_surface, D.gram_matrices):
            with pytest.raises(ValueError, match="dimensions"):
                function(bad)
    with pytest.raises(ValueError, match="dimensions"):
        D.two_point_correlation(good, batch=True)        # (batch, 8) has one spatial axis
    for function in (D.two_point_correlation, D.lineal_path, D.two_point_cluster_function,
                     D.particle_statistics, D.volume_fraction, D.label_clusters):
        with pytest.raises(ValueError, match="phase 3 does not occur"):
            function(good, 3)
    with pytest.raises(ValueError, match="empty"):
        D.two_point_correlation(np.zeros((0, 5), int))
    with pytest.raises(ValueError, match="max_length"):
        D.lineal_path(good, max_length=20, periodic=False)
    with pytest.raises(ValueError, match="negative"):
        D.volume_fraction(-good)
    with pytest.raises(ValueError, match="phase=2"):
        D.two_point_correlation(np.full((4, 4), 0.5), 2)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    image = random_labels((2, 32, 32), seed=13)
    cpu = D.two_point_correlation(torch.from_numpy(image), batch=True, dtype=torch.float64)
    gpu = D.two_point_correlation(torch.from_numpy(image).cuda(), batch=True, dtype=torch.float64)
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), atol=1e-12)
    lp = D.lineal_path(torch.from_numpy(image).cuda(), directions="all", batch=True)
    np.testing.assert_allclose(lp.cpu().numpy(), D.lineal_path(image, directions="all", batch=True), atol=1e-6)


def test_feature_network_refuses_a_negative_seed():
    with pytest.raises(ValueError, match="seed = -1; expected an integer >= 0"):
        D.FeatureNetwork(2, seed=-1)


def test_feature_network_refuses_seed_none_as_rng_does():
    """seed=None raised a TypeError ('seed must be an integer >= 0, got NoneType None') where rng and the rest
    of the package raise a ValueError saying an integer seed keeps results reproducible."""
    with pytest.raises(ValueError, match="seed is None; pass an integer seed so that results are reproducible"):
        D.FeatureNetwork(2, seed=None)


@pytest.mark.parametrize("up_to, error, message", [
    (-1, ValueError, "up_to = -1; expected an integer >= 0"),          # was layer 0 alone, silently
    (4, ValueError, r"up_to = 4; the network has layers 0..3"),
    (1.0, TypeError, "up_to must be an integer"),
])
def test_feature_network_forward_refuses_a_layer_it_does_not_have(up_to, error, message):
    network = D.FeatureNetwork(2)
    x = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    assert len(network(x, up_to=1)) == 2
    with pytest.raises(error, match=message):
        network(x, up_to=up_to)


def test_nearest_microstructures_needs_one_image_shape():
    small, large = np.zeros((2, 8, 8), int), np.zeros((16, 16), int)
    small[:, :4], large[:8] = 1, 1
    with pytest.raises(ValueError, match=r"image shape \(16, 16\) and database \(8, 8\)"):
        D.nearest_microstructures(large, small)


def test_descriptor_settings_out_of_range_are_refused():
    labels = np.zeros((8, 8), int)
    labels[2:5, 2:6] = 1
    with pytest.raises(ValueError, match="max_chunk = 0; expected an integer >= 1"):
        D.two_point_cluster_function(labels, max_chunk=0)
    with pytest.raises(TypeError, match="max_chunk must be an integer >= 1, got float 1000.0"):
        D.two_point_cluster_function(labels, max_chunk=1e3)
    with pytest.raises(ValueError, match="fit_range=100 reaches past the largest radius"):
        D.specific_surface(labels, fit_range=100)       # fitted over fewer radii than asked, silently
    with pytest.raises(TypeError, match="fit_range must be an integer >= 1, got bool True"):
        D.specific_surface(labels, fit_range=True)      # was read as 1
    strip = np.array([[0, 1, 1, 0, 1, 0, 0, 1]])          # said "expected 1 <= fit_range <= 0"
    with pytest.raises(ValueError, match="too small for the S2 slope.*method='count'"):
        D.specific_surface(strip)
    assert D.specific_surface(strip, method="count").count == pytest.approx(math.pi / 4 * 6 / 8)
    with pytest.raises(TypeError, match="k must be an integer >= 1, got float 2.0"):
        D.nearest_microstructures(labels, labels[None], k=2.0)
    with pytest.raises(ValueError, match="ndim=4; expected 2 or 3"):
        D.lattice_directions(4)


def test_label_clusters_of_an_absent_phase_is_refused_not_zero_clusters():
    # label_clusters(labels, phase=5) on a two-phase image returned (zeros, 0) silently, where every
    # other descriptor refuses a phase that is not in the image
    labels = np.zeros((6, 6), int)
    labels[1:3, 1:3] = 1
    with pytest.raises(ValueError, match="phase 5 does not occur in labels; the labels present are 0, 1"):
        D.label_clusters(labels, phase=5)
    with pytest.raises(ValueError, match="phase 1 does not occur in labels; the labels present are False"):
        D.label_clusters(np.zeros((6, 6), bool))
    assert D.label_clusters(labels, phase=1)[1] == 1 and D.label_clusters(labels, phase=0)[1] == 1


@pytest.mark.parametrize("periodic", [True, False])
def test_cluster_function_of_a_batch_image_without_the_phase_is_zero(periodic):
    # the phase is checked over the whole batch; an image of it without the phase crashed with a
    # TypeError (torch.stack of None) where S2 and the lineal path give 0
    labels = np.zeros((2, 6, 6), int)
    labels[0, 1:3, 1:4] = 1
    c2 = D.two_point_cluster_function(labels, batch=True, periodic=periodic)
    np.testing.assert_array_equal(c2[1], 0.0)
    np.testing.assert_allclose(c2[0], D.two_point_cluster_function(labels[0], periodic=periodic))
    assert c2.shape == D.two_point_correlation(labels, batch=True, periodic=periodic).shape


def test_complex_fields_are_refused_not_read_as_their_real_part():
    with pytest.raises(TypeError, match="complex dtype complex128; expected real numbers"):
        D.radial_average(np.ones((8, 8)) * (1 + 1j))


@pytest.mark.parametrize("call", [
    lambda L: D.two_point_correlation(L, periodic="no"),
    lambda L: D.two_point_cluster_function(L, periodic="no"),
    lambda L: D.specific_surface(L, periodic="no"),
    lambda L: D.lineal_path(L, periodic="no"),
    lambda L: D.chord_length_distribution(L, periodic="no"),
    lambda L: D.label_clusters(L, periodic="no"),
    lambda L: D.particle_statistics(L, periodic="no"),
    lambda L: D.volume_fraction(L, batch="no"),
    lambda L: D.two_point_correlation(L, batch=1),
])
def test_flags_are_true_or_false_not_truthy(call):
    # a string such as "no" was read by its truth value: the periodic map, or the image as a batch
    labels = np.zeros((8, 8), int)
    labels[2:5, 2:6] = 1
    with pytest.raises(TypeError, match="(periodic|batch) = .*; expected True or False"):
        call(labels)


def test_correlation_maps_takes_numpy_as_its_docstring_says():
    x = (np.random.default_rng(0).random((1, 8, 8)) > 0.5).astype(float)
    np.testing.assert_allclose(D.correlation_maps(x, x, 2, True)[0].numpy(), D.two_point_correlation(x[0].astype(int)))


@pytest.mark.parametrize("layers, error, match", [
    ([], ValueError, r"layers=\[\] is empty; expected layer numbers 0..3 \(or None for all\)"),
    ([1.5], TypeError, "each of layers must be an integer >= 0"),
    ([-1], ValueError, "each of layers = -1; expected an integer >= 0"),
    ([4], ValueError, r"layers=\[4\]; the network has layers 0..3"),
])
def test_cnn_features_check_the_layers(layers, error, match):
    # [] gave "max() arg is an empty sequence", 1.5 a list-index TypeError
    for features in (D.cnn_features, D.gram_matrices):
        with pytest.raises(error, match=match):
            features(np.zeros((8, 8)), layers=layers)
