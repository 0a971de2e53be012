"""Surrogate models with scikit-learn's ``fit``/``predict``/``score`` over torch networks, and the
metrics and tensor helpers that go with them."""
from ._torch_estimator import TorchRegressor
from .cnn import CNNRegressor, tensor_action, tensor_r2, transform_tensor
from .gnn import GNNRegressor, collate_graphs
from .hyperelastic import (HyperelasticNetwork, MooneyRivlin, NeoHookean, NominalStressMLP, StrainEnergyNetwork,
                           deformation_gradient, load_treloar)
from .mlp import MLPRegressor
from .multifidelity import CoKrigingRegressor, DeltaRegressor, forrester
from .recurrent import RecurrentRegressor, StepwiseRegressor, history_features, relative_history_error
from .unet import (UNetFieldPredictor, effective_conductivity_from_flux, effective_stiffness_from_energy,
                   relative_field_error)

__all__ = ["TorchRegressor", "MLPRegressor", "CNNRegressor", "GNNRegressor", "UNetFieldPredictor",
           "tensor_r2", "relative_field_error", "transform_tensor", "tensor_action",
           "effective_conductivity_from_flux", "effective_stiffness_from_energy", "collate_graphs",
           "HyperelasticNetwork", "NeoHookean", "MooneyRivlin", "NominalStressMLP", "deformation_gradient",
           "load_treloar", "RecurrentRegressor", "StepwiseRegressor", "relative_history_error", "history_features",
           "StrainEnergyNetwork", "CoKrigingRegressor", "DeltaRegressor", "forrester"]
