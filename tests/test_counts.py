"""Counts are integers, everywhere in the package (flags, True or False: the descriptor and reconstruction tests).

A bool is an int to Python and a float truncates: without a check, ``max_length=True`` was a length of 1.
Each case below was found by an audit of the public functions; the message names the argument and what
is expected (``_validation.check_integer``).
"""
import numpy as np
import pytest
import torch

from mslearn import descriptors as D
from mslearn import nn
from mslearn import structures as S
from mslearn.datasets import composite_conductivity, lattice_labels
from mslearn.homogenization.bounds import maxwell_garnett
from mslearn.homogenization.tensors import isotropic_stiffness
from mslearn.multiscale import cooks_membrane
from mslearn.multiscale.benchmarks import plate_with_hole
from mslearn.reconstruction import project, reconstruct, remove_isolated, target_descriptors

LABELS = np.zeros((8, 8), int)
LABELS[2:5, 2:6] = 1


@pytest.mark.parametrize("call, error, message", [
    (lambda: D.lineal_path(LABELS, max_length=True), TypeError, "max_length must be an integer >= 0, got bool"),
    (lambda: D.lineal_path(LABELS, max_length=2.5), TypeError, "max_length must be an integer >= 0, got float"),
    (lambda: D.chord_length_distribution(LABELS, bins=True), TypeError, "bins must be an integer >= 1"),
    (lambda: D.chord_length_distribution(LABELS, bins=0), ValueError, "bins = 0; expected an integer >= 1"),
    (lambda: D.chord_length_distribution(LABELS, bins=np.array([0.0, np.nan])), ValueError,
     "expected None, a number of bins >= 1, or at least two finite, increasing bin edges"),   # gave NaN lengths
    (lambda: D.chord_length_distribution(LABELS, bins=[5.0, 1.0]), ValueError, "increasing bin edges"),
    (lambda: D.chord_length_distribution(LABELS, axis=True), ValueError, "axis=True is not an axis"),
    (lambda: D.FeatureNetwork(n_layers=True), TypeError, "n_layers must be an integer >= 1"),
    (lambda: D.FeatureNetwork(channels=2.5), TypeError, "channels must be an integer >= 1"),
    (lambda: D.pca_of_correlations(np.stack([LABELS, LABELS.T]), n_components=0), ValueError,
     "n_components = 0; expected an integer >= 1"),
    (lambda: D.nearest_microstructures(LABELS, LABELS[None], chunk=0), ValueError, "chunk = 0"),
    (lambda: remove_isolated(LABELS, max_rounds=1.5), TypeError, "max_rounds must be an integer >= 0"),
    (lambda: project(np.full((2, 4, 4), 0.5), [0.5, 0.5], max_iter=True), TypeError, "max_iter must be an integer"),
    (lambda: reconstruct(LABELS, levels=True, max_iter=1), TypeError, "levels must be an integer >= 1"),
    (lambda: target_descriptors(LABELS, window=True), TypeError, "window must be an integer >= 1"),
    (lambda: cooks_membrane(1.5), TypeError, "n must be an integer >= 1, got float"),
    (lambda: plate_with_hole(0), ValueError, "n = 0; expected an integer >= 1"),
    (lambda: composite_conductivity(True), TypeError, "n_samples must be an integer >= 1, got bool"),
    (lambda: S.strut_lattice((16, 16), "square", thickness=0.2, n_cells=1.5), TypeError, "n_cells must be an integer"),
    (lambda: lattice_labels(0.1, 60.0, size=True), TypeError, "size must be an integer >= 4, got bool"),
    (lambda: nn.PeriodicConv(2, True, 1), TypeError, "n_in must be an integer >= 1, got bool"),
    (lambda: nn.periodic_pad(torch.zeros(1, 1, 4, 4), -1, 2), ValueError, "pad = -1; expected an integer >= 0"),
    (lambda: nn.periodic_pad(np.zeros((1, 1, 4, 4)), 1, 2), TypeError, "field is a ndarray; expected a torch tensor"),
    (lambda: nn.periodic_pad(torch.zeros(1, 1, 4, 4), 1, 0), ValueError, "ndim = 0; expected an integer >= 2"),
    (lambda: nn.periodic_pad(torch.zeros(1, 1, 4, 4), 1, 5), ValueError,
     r"ndim = 5 with field of shape \(1, 1, 4, 4\); expected 2 or 3 spatial axes of a field \(\[batch,\] channels"),
    (lambda: nn.periodic_pad(torch.zeros(4, 4), 1, 2), ValueError, r"ndim = 2 with field of shape \(4, 4\)"),
    (lambda: nn.periodic_pad(torch.zeros(1, 1, 4, 4), 1, 2.0), TypeError, "ndim must be an integer >= 2, got float"),
    (lambda: nn.symmetry_group(2.0), TypeError, "ndim must be an integer >= 2, got float 2.0"),
    (lambda: nn.PeriodicConv(2.0, 1, 1), TypeError, "ndim must be an integer >= 2, got float 2.0"),
    (lambda: D.lattice_directions(2.0), TypeError, "ndim must be an integer >= 2, got float 2.0"),
    (lambda: isotropic_stiffness(1.0, 0.3, ndim=2.0), TypeError, "ndim must be an integer >= 2, got float 2.0"),
    (lambda: maxwell_garnett(0.3, 1.0, 10.0, ndim=2.0), TypeError, "ndim must be an integer >= 2, got float 2.0"),
])
def test_counts_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_counts_still_take_what_they_took():
    assert D.chord_length_distribution(LABELS, bins=3).counts.shape == (3,)
    assert D.pca_of_correlations(np.stack([LABELS, LABELS.T, LABELS]), n_components=0.9)[1].shape[0] == 3
    assert S.strut_lattice((16, 16), "square", thickness=0.2, n_cells=(2, 1)).shape == (16, 16)
