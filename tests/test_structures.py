"""Tests of mslearn.structures: periodic, seeded microstructure generators and packaged micrographs."""
import math

import numpy as np
import pytest
import torch
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

from mslearn import structures as S
from mslearn.descriptors import radial_average, two_point_correlation


def _rasterize(parts, shape):
    """Independent brute-force rasterization: one full-grid mask per particle (minimum image)."""
    box = np.asarray(shape, float)
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"), -1)
    masks = []
    for c, (a, b, *_), u in zip(parts.centers, parts.semi_axes, parts.directions):
        d = grid - c
        d -= box * np.round(d / box)
        along = d @ u
        masks.append(along**2 / a**2 + ((d * d).sum(-1) - along**2) / b**2 <= 1.0)
    return np.asarray(masks)


def _wrap_jump(labels, axis):
    """Fraction of voxel pairs with different labels across the periodic boundary and inside."""
    first, last = np.take(labels, 0, axis), np.take(labels, -1, axis)
    inner = np.diff(labels.astype(float), axis=axis) != 0
    return np.mean(first != last), np.mean(inner)


# ----------------------------------------------------------------------------- inclusions
INCLUSION_CASES = [
    ((64, 64), 0.1, dict(radius=4)),
    ((64, 64), 0.5, dict(radius=3, radius_std=1.0)),
    ((64, 64), 0.8, dict(radius=5, radius_std=2.0, radius_distribution="normal")),
    ((64, 64), 0.3, dict(radius=4, overlap=False)),
    ((64, 64), 0.45, dict(radius=3, overlap=False)),
    ((64, 64), 0.3, dict(radius=4, aspect_ratio=3.0)),
    ((64, 64), 0.35, dict(radius=4, aspect_ratio=2.5, overlap=False)),
    ((64, 64), 0.2, dict(radius=5, aspect_ratio=2.0, orientation=0.3, overlap=False)),
    ((32, 32, 32), 0.2, dict(radius=3)),
    ((32, 32, 32), 0.6, dict(radius=2.5, radius_std=0.8)),
    ((32, 32, 32), 0.25, dict(radius=3, overlap=False)),
    ((32, 32, 32), 0.15, dict(radius=3, aspect_ratio=2.0, overlap=False)),
    ((32, 32, 32), 0.2, dict(radius=3, aspect_ratio=2.0, orientation=(0, 0, 1))),
]


HARD_CASES = [case for case in INCLUSION_CASES if case[2].get("overlap") is False]


@pytest.mark.parametrize("shape, fraction, kwargs", INCLUSION_CASES)
def test_random_inclusions_volume_fraction(shape, fraction, kwargs):
    labels = S.random_inclusions(shape, fraction, seed=3, **kwargs)
    assert labels.shape == shape and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1}
    assert abs(labels.mean() - fraction) <= 0.01


@pytest.mark.parametrize("shape, fraction, kwargs", HARD_CASES)
def test_hard_core_particles_never_overlap(shape, fraction, kwargs):
    parts = S.random_particles(shape, fraction, seed=5, **kwargs)
    labels = parts.labels
    masks = _rasterize(parts, shape)
    assert masks.sum(0).max() <= 1  # no voxel in two particles (periodic images included)
    np.testing.assert_array_equal(masks.any(0), labels.astype(bool))  # labels = union of the record
    if kwargs.get("aspect_ratio", 1.0) == 1.0:  # exact geometric check for disks/spheres
        box = np.asarray(shape, float)
        d = parts.centers[:, None] - parts.centers[None]
        d -= box * np.round(d / box)
        dist = np.linalg.norm(d, axis=-1)
        i, j = np.triu_indices(len(parts), 1)
        assert np.all(dist[i, j] >= parts.radii[i] + parts.radii[j] - 1e-9)


def test_inclusions_particle_record_and_periodic_wrap():
    shape = (64, 64)
    parts = S.random_particles(shape, 0.25, radius=6, aspect_ratio=2.0, seed=11)
    labels = parts.labels
    assert parts.centers.shape == (len(parts), 2) and parts.semi_axes.shape == (len(parts), 2)
    np.testing.assert_allclose(parts.semi_axes[:, 0] / parts.semi_axes[:, 1], 2.0)
    np.testing.assert_allclose(np.prod(parts.semi_axes, 1), parts.radii**2)  # equal-area ellipses
    # the structure is the union of its (wrapped) particles: shifting all centres = rolling the image
    np.testing.assert_array_equal(_rasterize(parts, shape).any(0), labels.astype(bool))
    shift = (17, -9)
    moved = S.Particles(None, np.mod(parts.centers + shift, shape), parts.radii, parts.semi_axes,
                        parts.orientations)
    rolled = np.roll(labels, shift, axis=(0, 1)).astype(bool)
    np.testing.assert_array_equal(_rasterize(moved, shape).any(0), rolled)
    # particles cut by the boundary show up on both sides of it
    small = S.random_particles(shape, 0.3, radius=3, seed=2)
    for axis in range(2):
        masks = _rasterize(small, shape)
        cut = [m for m in masks if np.take(m, 0, axis).any() and np.take(m, -1, axis).any()]
        assert len(cut) > 0 and not np.take(cut[0], shape[axis] // 2, axis).any()
    first, inner = _wrap_jump(labels, 0)
    assert first < 3 * inner


def test_inclusions_fixed_orientation_3d():
    parts = S.random_particles((32, 32, 32), 0.1, radius=3, aspect_ratio=3.0, orientation=(1, 1, 0), seed=0)
    np.testing.assert_allclose(parts.orientations, np.tile([1, 1, 0], (len(parts), 1)) / math.sqrt(2))
    parts = S.random_particles((64, 64), 0.1, radius=3, aspect_ratio=3.0, orientation=0.5, seed=0)
    np.testing.assert_allclose(parts.orientations, 0.5)


def test_hard_core_jamming_raises_with_reached_fraction():
    with pytest.raises(ValueError, match="reached"):
        S.random_inclusions((48, 48), 0.7, radius=4, overlap=False, max_attempts=1500, seed=0)


# ----------------------------------------------------------------------------- determinism
GENERATORS = [
    lambda seed: S.random_inclusions((48, 48), 0.3, radius=4, seed=seed),
    lambda seed: S.random_inclusions((24, 24, 24), 0.2, radius=3, aspect_ratio=2, overlap=False, seed=seed),
    lambda seed: S.voronoi_polycrystal((48, 48), 12, seed=seed),
    lambda seed: S.gaussian_random_field((48, 48), correlation_length=3, seed=seed),
    lambda seed: S.spinodoid((24, 24, 24), 0.5, wavelength=8, cone_angles=(40, 40, 40), seed=seed),
]


@pytest.mark.parametrize("generate", GENERATORS)
def test_same_seed_same_structure(generate):
    np.testing.assert_array_equal(generate(7), generate(7))
    np.testing.assert_array_equal(generate(np.random.default_rng(7)), generate(np.random.default_rng(7)))
    assert not np.array_equal(generate(7), generate(8))


# ----------------------------------------------------------------------------- polycrystals
@pytest.mark.parametrize("shape, n_grains", [((64, 64), 25), ((64, 64), 1), ((32, 32, 32), 30),
                                             ((20, 30), 60)])
def test_voronoi_grains_distinct_and_periodically_connected(shape, n_grains):
    ids = S.voronoi_polycrystal(shape, n_grains, seed=2)
    assert ids.shape == shape and ids.dtype == np.int64
    np.testing.assert_array_equal(np.unique(ids), np.arange(n_grains))
    for g in range(n_grains):
        # components without wrap (face connectivity), then merged across the periodic faces
        comp, n = ndimage.label(ids == g)
        pairs = [(np.take(comp, 0, a).ravel(), np.take(comp, -1, a).ravel()) for a in range(len(shape))]
        i = np.concatenate([p[0] for p in pairs])
        j = np.concatenate([p[1] for p in pairs])
        keep = (i > 0) & (j > 0)
        graph = sparse.coo_matrix((np.ones(keep.sum()), (i[keep] - 1, j[keep] - 1)), shape=(n, n))
        assert connected_components(graph, directed=False)[0] == 1, f"grain {g} is split"


def test_voronoi_boundaries_and_periodicity():
    grains = S.voronoi_grains((96, 96), 15, seed=4, boundary_width=2.0)
    ids, gb = grains.labels, grains.boundaries
    assert gb.dtype == bool
    changes = np.zeros(ids.shape, bool)
    for axis in range(2):
        changes |= ids != np.roll(ids, 1, axis)
    covered = gb | np.roll(gb, 1, 0) | np.roll(gb, 1, 1)
    assert np.all(covered[changes])  # the boundary mask covers the faces between grains
    # thickness about boundary_width: boundary area / total boundary length (face count / 1.27
    # for random line orientations in 2D, i.e. 4/pi)
    length = S.grain_graph(ids).areas.sum() / (4 / math.pi)
    assert 1.5 < gb.sum() / length < 2.5
    for axis in range(2):
        first, inner = _wrap_jump(ids, axis)
        assert first < 3 * inner  # no seam at the box boundary


def test_grain_graph():
    ids = S.voronoi_polycrystal((40, 40, 40), 20, seed=1)
    graph = S.grain_graph(ids)
    assert graph.n_grains == 20 and graph.volumes.sum() == ids.size
    np.testing.assert_array_equal(graph.volumes, np.bincount(ids.ravel()))
    assert np.all(graph.edges[:, 0] < graph.edges[:, 1])
    assert len({tuple(e) for e in graph.edges}) == len(graph.edges)
    adjacency = graph.adjacency()
    assert (adjacency != adjacency.T).nnz == 0
    # every face between different grains is counted once: total area = number of differing faces
    faces = sum(np.count_nonzero(ids != np.roll(ids, -1, a)) for a in range(3))
    assert graph.areas.sum() == faces
    # edges across the periodic boundary are included
    wrap = {tuple(sorted(p)) for p in zip(ids[0].ravel(), ids[-1].ravel()) if p[0] != p[1]}
    assert wrap <= {tuple(e) for e in graph.edges}
    assert np.all((graph.centroids >= 0) & (graph.centroids < 40))
    # centroid of a grain cut by the boundary: periodic mean, not the naive one
    toy = np.zeros((10, 10), int)
    toy[[0, 1, 9], :] = 1
    np.testing.assert_allclose(S.grain_graph(toy).centroids[1, 0], 0.0, atol=1e-9)
    assert S.grain_graph(torch.as_tensor(toy)).volumes.tolist() == [70, 30]
    # node i is grain id i (documented): absent ids (here the odd ones) are empty nodes, not relabelled
    sparse = S.grain_graph(S.voronoi_polycrystal((8, 8), 3, seed=0) * 2)
    assert sparse.n_grains == 5 and sparse.volumes[1::2].tolist() == [0, 0]
    assert np.isnan(sparse.centroids[1::2]).all() and not np.isin(sparse.edges, [1, 3]).any()
    # ids of 2**31 and more: node arrays of that length and edge keys lo * n + hi past int64 (a MemoryError, or
    # wrong edges with the memory to hold them) are refused with the relabelling to use
    with pytest.raises(ValueError, match=r"grain ids up to 8589934592; expected ids below 2\*\*31 .* np.unique"):
        S.grain_graph(np.where(toy == 1, 2**33, 0))


# ----------------------------------------------------------------------------- random fields
def test_gaussian_random_field_statistics_and_anisotropy():
    field = S.gaussian_random_field((128, 128), correlation_length=4, seed=0)
    assert abs(field.mean()) < 1e-12 and abs(field.std() - 1) < 1e-12
    corr = np.mean(field * np.roll(field, 4, 0))
    assert abs(corr - math.exp(-0.5)) < 0.1  # C(l) = exp(-1/2) at one correlation length
    # periodic: the jump across the boundary is as small as between interior neighbours
    for axis in range(2):
        across = np.mean((np.take(field, 0, axis) - np.take(field, -1, axis)) ** 2)
        inside = np.mean(np.diff(field, axis=axis) ** 2)
        assert across < 2 * inside
    stretched = S.gaussian_random_field((96, 96), correlation_length=3, anisotropy=(3, 1), seed=1)
    cx, cy = (np.mean(stretched * np.roll(stretched, 4, a)) for a in (0, 1))
    assert cx > 0.8 and cy < 0.6
    labels = S.level_cut(stretched, 0.5)
    chords = [np.mean(np.diff(labels.astype(int), axis=a) != 0) for a in (0, 1)]
    assert chords[0] < 0.5 * chords[1]  # fewer interfaces, i.e. longer chords, along the stretched axis


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.77])
def test_level_cut_exact(fraction):
    field = S.gaussian_random_field((30, 40, 20), correlation_length=2, seed=3)
    labels = S.level_cut(field, fraction)
    assert labels.dtype == np.uint8 and abs(labels.sum() - fraction * field.size) <= 0.5
    assert field[labels == 1].min() >= field[labels == 0].max()
    tensor = S.level_cut(torch.as_tensor(field), fraction)
    assert isinstance(tensor, torch.Tensor)
    np.testing.assert_array_equal(tensor.numpy(), labels)
    ties = S.level_cut(np.zeros((10, 10)), 0.37)  # ties still give the exact count
    assert ties.sum() == 37


def test_level_cut_two_point_function_follows_berk():
    """Berk (1987), Phys. Rev. Lett. 58, 2718; Torquato (2002), Random Heterogeneous Materials: a Gaussian
    field with correlation g(r) cut at its median (phi = 1/2) has S2(r) = 1/4 + arcsin(g(r)) / (2 pi).
    gaussian_random_field has g = exp(-r^2 / (2 l^2)) (l = 4; four 128^2 fields); the isotropic
    spinodoid (cone angles 90°) is Cahn's sum of waves of one wavelength lambda, g = sin(beta r) / (beta r),
    beta = 2 pi / lambda (lambda = 8; two 32^3 fields). S2 averaged over the fields, radially averaged
    for r <= 12. Tolerance 0.006 absolute: the sampling error of the finite fields, measured 0.0016
    (Gaussian field) and 0.0039 (spinodoid)."""
    ell = 4.0
    labels = [S.level_cut(S.gaussian_random_field((128, 128), correlation_length=ell, seed=seed), 0.5)
              for seed in range(4)]
    r, s2 = radial_average(np.mean([two_point_correlation(lab) for lab in labels], axis=0))
    berk = 0.25 + np.arcsin(np.exp(-r**2 / (2 * ell**2))) / (2 * np.pi)
    assert np.abs(s2 - berk)[r <= 12].max() < 0.006
    wavelength = 8.0
    beta = 2 * np.pi / wavelength
    labels = [S.spinodoid((32, 32, 32), 0.5, wavelength=wavelength, cone_angles=(90, 90, 90), seed=seed)
              for seed in range(2)]
    r, s2 = radial_average(np.mean([two_point_correlation(lab) for lab in labels], axis=0))
    berk = 0.25 + np.arcsin(np.sinc(beta * r / np.pi)) / (2 * np.pi)     # np.sinc(x) = sin(pi x) / (pi x)
    assert np.abs(s2 - berk)[r <= 12].max() < 0.006


@pytest.mark.parametrize("shape, angles", [((64, 64), (60, 60)), ((32, 32, 32), (90, 90, 90)),
                                           ((32, 32, 32), (20, 0, 45))])
@pytest.mark.parametrize("fraction", [0.3, 0.5])
def test_spinodoid_volume_fraction_and_periodicity(shape, angles, fraction):
    labels = S.spinodoid(shape, fraction, wavelength=8, cone_angles=angles, seed=0)
    assert labels.dtype == np.uint8 and abs(labels.mean() - fraction) <= 0.5 / labels.size + 1e-12
    for axis in range(len(shape)):
        first, inner = _wrap_jump(labels, axis)
        assert first < 2 * inner + 0.02


def test_spinodoid_layered_along_x():
    labels = S.spinodoid((32, 32, 32), 0.4, wavelength=8, cone_angles=(15, 0, 0), seed=1)
    assert abs(labels.mean() - 0.4) <= 0.01
    jumps = [np.mean(labels != np.roll(labels, 1, a)) for a in range(3)]
    # wave vectors within 15 degrees of x: lateral interface density about tan(15°) = 0.27 of that along x
    assert jumps[1] < 0.3 * jumps[0] and jumps[2] < 0.3 * jumps[0]
    iso = S.spinodoid((32, 32, 32), 0.4, wavelength=8, cone_angles=(90, 90, 90), seed=1)
    jumps = [np.mean(iso != np.roll(iso, 1, a)) for a in range(3)]
    assert min(jumps) > 0.7 * max(jumps)
    # 2D: two angles
    layers = S.spinodoid((64, 64), 0.5, wavelength=10, cone_angles=(0, 10), seed=1)
    assert np.mean(layers != np.roll(layers, 1, 0)) < 0.2 * np.mean(layers != np.roll(layers, 1, 1))


# ----------------------------------------------------------------------------- lattices
@pytest.mark.parametrize("t", [0.125, 0.2, 0.31])
def test_square_lattice_fraction(t):
    # each strut is quantized to an integer number of voxels: |width/c - t| <= 1/c, so the
    # fraction 2f - f^2 differs from 2t - t^2 by at most 2/c (c = cell edge in voxels)
    c = 48
    labels = S.strut_lattice((2 * c, 2 * c), "square", thickness=t, n_cells=2)
    assert abs(labels.mean() - (2 * t - t**2)) <= 2 / c
    np.testing.assert_array_equal(labels, np.tile(S.strut_lattice((c, c), "square", thickness=t), (2, 2)))
    exact = S.strut_lattice((64, 64), "square", thickness=0.125)  # 8-voxel struts, no quantization
    assert exact.mean() == 2 * 0.125 - 0.125**2


def test_lattice_cells_smaller_than_three_voxels_are_refused():
    """Cells smaller than a voxel were accepted and aliased: 64 square cells in 16 voxels came out all solid
    (mean 1.0), 17 cells gave 0.234 for 2t - t^2 = 0.19. A cell needs 3 voxels along every axis (a strut is
    drawn at least 2 voxels wide, 2-voxel cells were all solid at every thickness); the error names the
    largest n_cells."""
    for n_cells in (64, 17, 6):
        with pytest.raises(ValueError, match=r"expected at least 3 voxels per cell .*n_cells <= 5$"):
            S.strut_lattice((16, 16), "square", thickness=0.1 if n_cells > 6 else 0.4, n_cells=n_cells)
    with pytest.raises(ValueError, match=r"n_cells <= \(5, 5\)"):
        S.strut_lattice((16, 16), "square", thickness=0.4, n_cells=(5, 6))
    with pytest.raises(ValueError, match=r"n_cells <= 5$"):
        S.strut_lattice((16, 16, 16), "cubic", thickness=0.1, n_cells=40)
    labels = S.strut_lattice((15, 15), "square", thickness=0.4, n_cells=5)   # 2 solid voxels, 1 void per cell
    assert labels.mean() == 1 - (1 / 3) ** 2


@pytest.mark.parametrize("kind, kwargs, fraction", [
    ("hexagonal", {}, lambda t: 2 * t - t**2),
    ("triangular", dict(angle=60), lambda t: 2 * math.sqrt(3) * t - 3 * t**2),
], ids=["hexagonal", "triangular"])
def test_honeycomb_and_triangular_fractions_match_gibson_ashby(kind, kwargs, fraction):
    """Gibson & Ashby (1997), Cellular Solids, 2nd ed., ch. 4: relative density of a regular honeycomb
    (edge l, wall w) (2/sqrt3)(w/l)(1 - w/(2 sqrt3 l)) and of the triangular lattice 2 sqrt3 (w/l)(1 - (sqrt3/2)(w/l)),
    the second terms removing the overlap at the nodes (exact for struts with round ends, which
    strut_lattice draws). In strut_lattice's units (w = t c; honeycomb c = sqrt3 l, triangular c = l)
    these are 2t - t^2 and 2 sqrt3 t - 3 t^2: 0.0975 and 0.1657 at t = 0.05. One 400-voxel-wide cell
    (20-voxel struts). Tolerance 1 % relative: the rasterization of the strut edges, measured -0.026 %
    (honeycomb) and +0.79 % (triangular: in the 693-voxel-high cell the middle strut lies on a row of
    voxel centres, and with its whole radius of 10 voxels it is drawn 21 rows thick, +0.87 %)."""
    c, t = 400, 0.05
    labels = S.strut_lattice((c, round(math.sqrt(3) * c)), kind, thickness=t, **kwargs)
    assert fraction(t) == pytest.approx({"hexagonal": 0.0975, "triangular": 0.16571}[kind], abs=1e-5)
    assert labels.mean() == pytest.approx(fraction(t), rel=0.01)


@pytest.mark.parametrize(
    "shape, kind, kwargs",
    [
        ((64, 111), "triangular", {}),
        ((64, 64), "triangular", dict(angle=45, n_cells=2)),
        ((60, 104), "triangular", dict(angle=60)),
        ((40, 120), "triangular", dict(angle=71.6)),
        ((56, 97), "hexagonal", {}),
        ((45, 45), "square", dict(n_cells=2)),
        ((32, 32, 32), "cubic", {}),
        ((40, 40, 40), "octet", {}),
    ],
)
def test_lattices_mirror_symmetric_and_periodic(shape, kind, kwargs):
    labels = S.strut_lattice(shape, kind, thickness=0.13, **kwargs)
    assert labels.shape == shape and labels.dtype == np.uint8 and 0 < labels.mean() < 1
    for axis in range(len(shape)):
        # mirror about the cell edge (nodes sit at voxel corners): x -> -x maps voxel i to n-1-i
        np.testing.assert_array_equal(labels, np.flip(labels, axis))
        np.testing.assert_array_equal(np.take(labels, 0, axis), np.take(labels, -1, axis))  # continuous wrap


@pytest.mark.parametrize("shape, kind, kwargs", [
    ((48, 57), "triangular", dict(thickness=0.125, angle=50)),
    ((48, 179), "triangular", dict(thickness=0.125, angle=75)),
    ((400, 693), "triangular", dict(thickness=0.05)),
])
def test_voxel_centres_at_exactly_the_radius_keep_the_mirror_symmetry(shape, kind, kwargs):
    """A strut on a row of voxel centres with a whole radius in voxels (3 and 10 here) has centres at
    exactly the radius; all of them are solid. Rounding used to take some and not their mirror images."""
    labels = S.strut_lattice(shape, kind, **kwargs)
    for axis in range(2):
        np.testing.assert_array_equal(labels, np.flip(labels, axis))


def test_lattice_details():
    octet = S.strut_lattice((32, 32, 32), "octet", thickness=0.1)
    # cubic symmetry of the octet cell: invariant under permutations of the axes
    np.testing.assert_array_equal(octet, octet.transpose(1, 2, 0))
    assert octet.mean() > S.strut_lattice((32, 32, 32), "cubic", thickness=0.1).mean()
    thin = S.strut_lattice((64, 64, 64), "cubic", thickness=0.1)
    assert abs(thin.mean() - 3 * math.pi * 0.05**2) < 0.01  # three cylinders of radius t/2
    with pytest.raises(ValueError, match="angle"):
        S.strut_lattice((64, 64), "triangular", thickness=0.1)  # 60° does not fit a square cell


@pytest.mark.parametrize("shape, kind, thickness, needed", [
    ((32, 32), "square", 0.03, 0.0313),        # 0.96-voxel struts on voxel corners: nothing was drawn
    ((8, 8), "square", 0.1, 0.125),
    ((16, 16, 16), "cubic", 0.05, 0.0884),     # cubic edges: nearest centres sqrt(2)/2 voxels off
    ((16, 16, 16), "cubic", 0.08, 0.0884),     # 1.28 voxels thick and still empty
    ((10, 10, 5), "octet", 0.21, 0.2191),      # the x = 0 face diagonals of a flat cell
])
def test_lattice_struts_thinner_than_a_voxel_are_refused(shape, kind, thickness, needed):
    with pytest.raises(ValueError, match=rf"thickness = {thickness} is too thin .* miss every voxel centre.*"
                                         rf"expected thickness >= {needed} for this shape"):
        S.strut_lattice(shape, kind, thickness=thickness)
    labels = S.strut_lattice(shape, kind, thickness=needed)   # the least thickness named draws every strut
    assert labels.mean() > 0
    # the datasets' thinnest triangular lattices (thickness 0.05 of a 32 or 48 px cell) are still drawn
    from mslearn.datasets import lattice_labels
    assert lattice_labels(0.05, 45.0, size=32).mean() > 0 and lattice_labels(0.05, 75.0, size=48).mean() > 0


def test_gaussian_random_field_bad_anisotropy():
    with pytest.raises(ValueError, match="anisotropy"):
        S.gaussian_random_field((16, 16), correlation_length=2, anisotropy=(1, 2, 3), seed=0)


# ----------------------------------------------------------------------------- micrographs
def test_micrographs():
    names = S.available_micrographs()
    assert names == ["alloy", "ceramics", "composite", "copolymer", "pmma"]
    for name in names:
        labels = S.micrograph(name)
        assert labels.shape == (256, 256) and labels.dtype == np.uint8
        expected = [0, 1, 2] if name == "composite" else [0, 1]
        np.testing.assert_array_equal(np.unique(labels), expected)
    with pytest.raises(ValueError, match="pmma"):
        S.micrograph("steel")


# ----------------------------------------------------------------------------- bad input
def _incl(**kw):
    return S.random_inclusions, {"shape": (64, 64), "volume_fraction": 0.3, "radius": 3, "seed": 0, **kw}


def _spin(**kw):
    return S.spinodoid, {"shape": (32, 32), "volume_fraction": 0.5, "wavelength": 8, "cone_angles": (30, 30),
                         "seed": 0, **kw}


def _lattice(**kw):
    return S.strut_lattice, {"shape": (32, 32), "kind": "square", "thickness": 0.1, **kw}


BAD = [
    (*_incl(shape=(64,)), "shape"),
    (*_incl(shape=(64, -2)), "shape"),
    (*_incl(shape=(8, 8, 8, 8)), "shape"),
    (*_incl(volume_fraction=1.2), "volume_fraction"),
    (*_incl(volume_fraction=0.0), "volume_fraction"),
    (*_incl(radius=0), "radius"),
    (*_incl(radius=33), "radius"),
    (*_incl(radius=20, aspect_ratio=4), "radius"),
    (*_incl(radius_std=-1), "radius_std"),
    (*_incl(aspect_ratio=0.5), "aspect_ratio"),
    (*_incl(shape=(8, 8, 8), radius=2, orientation=(1, 0)), "orientation"),
    (*_incl(radius_distribution="gamma"), "radius_distribution"),
    (*_incl(tol=0), "tol"),
    (*_incl(seed=None), "seed"),
    (S.voronoi_polycrystal, dict(shape=(16, 16), n_grains=0, seed=0), "n_grains"),
    (S.voronoi_polycrystal, dict(shape=(4, 4), n_grains=17, seed=0), "n_grains"),
    (S.voronoi_grains, dict(shape=(16, 16), n_grains=3, seed=0, boundary_width=0), "boundary_width"),
    (S.voronoi_grains, dict(shape=(16, 16), n_grains=3, seed=0, boundary_width=-1), "boundary_width"),
    (S.grain_graph, dict(labels=-np.ones((4, 4), int)), "labels"),
    (S.gaussian_random_field, dict(shape=(16, 16), correlation_length=-1, seed=0), "correlation_length"),
    (S.level_cut, dict(field=np.zeros((4, 4)), volume_fraction=1.5), "volume_fraction"),
    (S.level_cut, dict(field=np.zeros(4), volume_fraction=0.5), "field"),
    (*_spin(cone_angles=(0, 0)), "cone_angles"),
    (*_spin(cone_angles=(30, 30, 30)), "cone_angles"),
    (*_spin(cone_angles=(100, 30)), "cone_angles"),
    (*_spin(wavelength=1), "wavelength"),
    (*_spin(n_waves=0), "n_waves"),
    (*_lattice(kind="kagome"), "kind"),
    (*_lattice(kind="octet"), "kind"),
    (*_lattice(thickness=1.0), "thickness"),
    (*_lattice(angle=60), "angle"),
    (*_lattice(kind="triangular", angle=95), "angle"),
    (*_lattice(n_cells=0), "n_cells"),
    (S.micrograph, dict(name="steel"), "name"),
]


@pytest.mark.parametrize("function, kwargs, name", BAD, ids=[f"{f.__name__}-{n}" for f, _, n in BAD])
def test_bad_input_raises_value_error_naming_argument(function, kwargs, name):
    with pytest.raises(ValueError, match=name):
        function(**kwargs)


def test_perforated_cell_refuses_a_fraction_the_grid_cannot_hold():
    from mslearn.structures import perforated_cell
    with pytest.raises(ValueError, match=r"volume_fraction = 0.97 of 16 pixels leaves no hole pixels"):
        perforated_cell((4, 4), 0.97)                   # was a cell of solid only (mean 1.0)
    with pytest.raises(ValueError, match=r"leaves only hole pixels \(no solid\)"):
        perforated_cell((4, 4), 0.02)
    assert perforated_cell((4, 4), 0.96).mean() == 15 / 16


def test_perforated_cell_hits_the_fraction_and_keeps_its_symmetries():
    from mslearn.structures import perforated_cell

    for kwargs in [dict(), dict(exponent=4.0), dict(exponent=1.0), dict(aspect_ratio=2.0, angle=30.0)]:
        labels = perforated_cell((40, 40), 0.37, **kwargs)
        assert labels.dtype == np.uint8 and labels.shape == (40, 40)
        assert labels.sum() == round(0.37 * 1600)                   # exact pixel count
    square = perforated_cell((32, 32), 0.5, exponent=4.0)
    np.testing.assert_array_equal(square, square.T)                 # the square hole keeps the square's mirrors
    np.testing.assert_array_equal(square, square[::-1])
    # a circle of area 1 - phi: the hole pixels lie within its radius (plus half a pixel diagonal)
    circle = perforated_cell((64, 64), 0.6)
    x, y = np.meshgrid((np.arange(64) + 0.5) / 64 - 0.5, (np.arange(64) + 0.5) / 64 - 0.5, indexing="ij")
    radius = np.sqrt(0.4 / np.pi)
    assert np.all(np.hypot(x, y)[circle == 0] <= radius + 0.71 / 64)
    np.testing.assert_array_equal(perforated_cell((32, 32), 0.5, angle=90.0, aspect_ratio=2.0),
                                  perforated_cell((32, 32), 0.5, aspect_ratio=0.5))
    for kwargs, match in [(dict(shape=(8, 8, 8)), "2D cell"), (dict(volume_fraction=1.0), "volume_fraction"),
                          (dict(exponent=0.1), "exponent"), (dict(aspect_ratio=0.0), "aspect_ratio")]:
        arguments = dict(shape=(16, 16), volume_fraction=0.5)
        arguments.update(kwargs)
        with pytest.raises(ValueError, match=match):
            perforated_cell(**arguments)
