"""Surrogate models with scikit-learn's ``fit``/``predict``/``score`` over torch networks."""
from ._torch_estimator import TorchRegressor
from .cnn import CNNRegressor
from .gnn import GNNRegressor
from .mlp import MLPRegressor
from .unet import UNetFieldPredictor

__all__ = ["TorchRegressor", "MLPRegressor", "CNNRegressor", "GNNRegressor", "UNetFieldPredictor"]
