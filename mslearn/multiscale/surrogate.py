r"""Learned material laws in place of the RVE, with a training-range check and adaptive enrichment.

* Linear: :class:`LearnedElasticity` takes a regressor mapping microstructure features (volume
  fraction, descriptors, ...) of each point to its effective stiffness, learned from FFT
  homogenizations; the macroscopic problem is then FE with the predicted tensors.
* Nonlinear: :class:`SurrogateLaw` wraps any callable ``strain -> (stress, tangent)`` (a trained
  network with its autograd tangent, a fitted potential). Points whose strain lies outside the
  training box :math:`[\varepsilon^{lo}, \varepsilon^{hi}]` are sent to the ``fallback`` law (the
  RVE solve) instead, and the converged fallback samples are recorded (:attr:`SurrogateLaw.new_strain`,
  ...) to retrain on; :meth:`SurrogateLaw.update` installs the retrained surrogate and widens the box
  (adaptive enrichment: Fritzen, Fernández & Larsson 2019; Kochmann et al. 2018).
"""
from __future__ import annotations

import numpy as np

from .fe import LinearElastic

__all__ = ["LearnedElasticity", "SurrogateLaw"]

_UPPER = np.triu_indices(3)


class LearnedElasticity(LinearElastic):
    r"""Linear law with per-point stiffnesses predicted by a regressor: :math:`\sigma = \hat C(f_p)\,\varepsilon`.

    Parameters
    ----------
    model : object with ``predict(features) -> (n_points, 6)``
        Trained on :meth:`targets` of FFT effective stiffnesses (the upper triangle of the Mandel matrix).
    features : array, ``(n_points, n_features)``
        Microstructure features of the quadrature points (order of :func:`~mslearn.multiscale.integration_points`).
    """

    def __init__(self, model, features):
        upper = np.asarray(model.predict(np.asarray(features, dtype=float)), dtype=float)
        if upper.ndim != 2 or upper.shape[1] != 6:
            raise ValueError(f"model.predict returned shape {upper.shape}; expected (n_points, 6) (see targets)")
        C = np.zeros((len(upper), 3, 3))
        C[:, _UPPER[0], _UPPER[1]] = upper
        C[:, _UPPER[1], _UPPER[0]] = upper
        super().__init__(C)

    @staticmethod
    def targets(stiffness):
        """Training targets ``(n, 6)``: the upper triangle of Mandel stiffnesses ``(n, 3, 3)``."""
        return np.asarray(stiffness, dtype=float)[:, _UPPER[0], _UPPER[1]]


class SurrogateLaw:
    r"""A learned law used inside its training range, the ``fallback`` (RVE) law outside.

    Parameters
    ----------
    surrogate : callable
        ``surrogate(strain) -> (stress, tangent)`` on Mandel ``(n, 3)``; stateless.
    fallback : callable
        The reference law, e.g. :class:`~mslearn.multiscale.FFTElasticity`; called on the points
        outside the range only, so it must accept any number of points (stateless).
    lower, upper : array, ``(3,)``
        The training box of the strain (for example the min and max of the training strains).

    Attributes
    ----------
    outside : ndarray of bool
        Which points of the last evaluation were outside the range.
    new_strain, new_stress, new_tangent : ndarray
        The fallback samples of the converged load steps (recorded by :meth:`commit`), to retrain on.
    """

    def __init__(self, surrogate, fallback, lower, upper):
        if not (callable(surrogate) and callable(fallback)):
            raise ValueError("surrogate and fallback must be callables strain -> (stress, tangent)")
        self.surrogate, self.fallback = surrogate, fallback
        self.lower, self.upper = (np.asarray(b, dtype=float).reshape(3) for b in (lower, upper))
        if not (self.lower <= self.upper).all():
            raise ValueError(f"lower={self.lower} and upper={self.upper}; expected lower <= upper")
        self.new_strain, self.new_stress, self.new_tangent = np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3, 3))
        self.outside = None
        self._pending = None

    def __call__(self, strain):
        strain = np.asarray(strain, dtype=float)
        self.outside = ((strain < self.lower) | (strain > self.upper)).any(1)
        stress, tangent = np.zeros((len(strain), 3)), np.zeros((len(strain), 3, 3))
        inside = ~self.outside
        if inside.any():
            stress[inside], tangent[inside] = self.surrogate(strain[inside])
        if self.outside.any():
            stress[self.outside], tangent[self.outside] = self.fallback(strain[self.outside])
        self._pending = (strain[self.outside], stress[self.outside], tangent[self.outside])
        return stress, tangent

    def commit(self):
        """Record the fallback samples of the converged state."""
        if self._pending is not None:
            self.new_strain, self.new_stress, self.new_tangent = (
                np.concatenate([a, b]) for a, b in zip((self.new_strain, self.new_stress, self.new_tangent),
                                                       self._pending))
            self._pending = None

    def update(self, surrogate):
        """Install a surrogate retrained with the recorded samples: the range grows to cover them and the
        record is cleared."""
        self.surrogate = surrogate
        if len(self.new_strain):
            self.lower = np.minimum(self.lower, self.new_strain.min(0))
            self.upper = np.maximum(self.upper, self.new_strain.max(0))
        self.new_strain, self.new_stress, self.new_tangent = np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3, 3))
