"""Surrogate models with scikit-learn's ``fit``/``predict``/``score`` over torch networks."""
from ._torch_estimator import TorchRegressor
from .mlp import MLPRegressor

__all__ = ["TorchRegressor", "MLPRegressor"]
