"""Flags are True or False, everywhere in the package (the companion of test_counts.py).

Read by its truth value, ``overlap="no"`` meant overlap and ``return_fields=0`` no fields: each option below
was found by an audit of the public signatures; the message names the flag (``_validation.check_flag``).
Numpy bools are taken as bools.
"""
import matplotlib
import numpy as np
import pytest
import torch

from mslearn import nn, plotting, sensitivity
from mslearn import descriptors as D
from mslearn import homogenization as H
from mslearn import structures as S
from mslearn import surrogates as SU
from mslearn.datasets import particle_composites
from mslearn.optimization import (DirectInverseDesign, TandemInverseDesign, bayesian_optimization,
                                  evolutionary_optimization)
from mslearn.process import ProcessStructureMap, cahn_hilliard, learn_process_map, structure_factor
from mslearn.reconstruction import CropVAE, lineal_path_error, reconstruct, s2_error
from mslearn.surrogates.recurrent import StepwiseRegressor

matplotlib.use("Agg")

LABELS = np.zeros((8, 8), int)
LABELS[2:5, 2:6] = 1
FIELD = torch.ones(8, 8, dtype=torch.float64)
PHASES = [(1.0, 0.3), (2.0, 0.3)]
PLASTIC = [dict(E=1.0, nu=0.3, sigma_y=1.0), dict(E=2.0, nu=0.3, sigma_y=1.0)]
rng = np.random.default_rng(0)
X, Y = rng.random((6, 3)), rng.random(6)
PROCESS = np.column_stack([np.zeros(6), np.ones(6), np.ones(6)])        # phi0, gamma, time
STRUCTURES = np.stack([LABELS] * 6)


def _sum(x):
    return float(np.sum(x))


def _never_called(x):
    raise AssertionError("the flag is checked before the first simulation")


@pytest.mark.parametrize("call, name", [
    (lambda v: S.random_inclusions((16, 16), 0.2, radius=2, overlap=v, seed=0), "overlap"),
    (lambda v: S.random_particles((16, 16), 0.2, radius=2, overlap=v, seed=0), "overlap"),
    (lambda v: reconstruct(LABELS, isotropic=v, max_iter=1), "isotropic"),
    (lambda v: reconstruct(LABELS, cleanup=v, max_iter=1), "cleanup"),
    (lambda v: reconstruct(LABELS, progress=v, max_iter=1), "progress"),
    (lambda v: s2_error(LABELS, LABELS, per_view=v), "per_view"),
    (lambda v: s2_error(LABELS, LABELS, per_phase=v), "per_phase"),
    (lambda v: lineal_path_error(LABELS, LABELS, per_view=v), "per_view"),
    (lambda v: H.conductivity(LABELS, [1.0, 2.0], return_fields=v), "return_fields"),
    (lambda v: H.elasticity(LABELS, PHASES, return_fields=v), "return_fields"),
    (lambda v: H.conductivity_field(FIELD, ndim=2, return_fields=v), "return_fields"),
    (lambda v: H.conductivity_field(FIELD, ndim=2, batch=v), "batch"),
    (lambda v: H.elasticity_field(FIELD, ndim=2, batch=v), "batch"),
    (lambda v: H.plasticity(LABELS, PLASTIC, np.zeros((1, 3)), return_fields=v), "return_fields"),
    (lambda v: nn.symmetry_group(2, rotations=v), "rotations"),
    (lambda v: nn.apply_symmetry(np.zeros((1, 4, 4)), np.eye(2), channels=v), "channels"),
    (lambda v: D.FeatureNetwork(periodic=v), "periodic"),
    (lambda v: D.TwoPointCorrelation(periodic=v).fit(np.stack([LABELS, LABELS.T])), "periodic"),
    (lambda v: sensitivity.sobol_indices(lambda x: x.sum(1), [(0, 1)] * 2, 8, seed=0, second_order=v),
     "second_order"),
    (lambda v: plotting.training_history({"train": [1.0, 0.5]}, log=v), "log"),
    (lambda v: cahn_hilliard((8, 8), 0.0, n_steps=1, batch=v), "batch"),
    (lambda v: structure_factor(np.random.rand(8, 8), batch=v), "batch"),
    (lambda v: bayesian_optimization(_sum, [(0, 1)] * 2, 3, n_initial=2, progress=v), "progress"),
    (lambda v: evolutionary_optimization(_sum, [(0, 1)] * 2, max_iter=1, vectorized=v), "vectorized"),
    (lambda v: particle_composites(2, size=16, cache=v), "cache"),
    (lambda v: particle_composites(2, size=16, cache=False, progress=v), "progress"),
    (lambda v: learn_process_map(_never_called, [(0, 1)] * 2, progress=v), "progress"),
    # estimators: checked in fit, where scikit-learn validates parameters
    (lambda v: SU.MLPRegressor(max_iter=1, warm_start=v).fit(X, Y), "warm_start"),
    (lambda v: SU.RecurrentRegressor(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: SU.GNNRegressor(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: SU.UNetFieldPredictor(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: SU.CNNRegressor(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: StepwiseRegressor(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: TandemInverseDesign(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: DirectInverseDesign(max_iter=1, warm_start=v).fit(None, None), "warm_start"),
    (lambda v: SU.CNNRegressor(max_iter=1, augment=v).fit(None, None), "augment"),
    (lambda v: SU.HyperelasticNetwork(compressible=v).fit(None, None), "compressible"),
    (lambda v: SU.HyperelasticNetwork(polyconvex=v).fit(None, None), "polyconvex"),
    (lambda v: SU.HyperelasticNetwork(solver="adam", progress=v).fit(None, None), "progress"),
    (lambda v: SU.StrainEnergyNetwork(convex=v).fit(None, None), "convex"),
    (lambda v: SU.StrainEnergyNetwork(quadratic=v).fit(None, None), "quadratic"),
    (lambda v: SU.StrainEnergyNetwork(progress=v).fit(None, None), "progress"),
    (lambda v: SU.DeltaRegressor(_sum, append_low_fidelity=v).fit(X, Y), "append_low_fidelity"),
    (lambda v: ProcessStructureMap(2, symmetrize=v).fit(PROCESS, STRUCTURES), "symmetrize"),
    (lambda v: CropVAE(progress=v).fit(LABELS), "progress"),
    (lambda v: CropVAE(warm_start=v).fit(LABELS), "warm_start"),
])
@pytest.mark.parametrize("value", ["no", 0])
def test_flags_are_checked(call, name, value):
    with pytest.raises(TypeError, match=f"{name} = {value!r}; expected True or False"):
        call(value)


def test_numpy_bools_are_flags():
    assert len(nn.symmetry_group(2, rotations=np.False_)) == 4
    assert s2_error(LABELS, LABELS, per_phase=np.True_) == [0.0]     # two phases: phase 1 only
    assert D.FeatureNetwork(periodic=np.False_).periodic is False
    assert S.random_particles((16, 16), 0.2, radius=2, overlap=np.False_, seed=0).labels.shape == (16, 16)
