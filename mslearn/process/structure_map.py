r"""A learned process → structure map in 2-point-statistics space, and structures generated from it.

The process parameters of a Cahn–Hilliard anneal (:mod:`mslearn.datasets.process`:
:math:`p = (\phi_0, \gamma, t)`, mean composition, gradient coefficient, annealing time) decide the
final microstructure only statistically: two runs with other initial noise give different images with
the same statistics. So the map is learned between *statistics*, the reduced-order representation of
Fullwood et al. (2010) and Niezgoda, Yabansu & Kalidindi (2011):

1. the two-point correlation :math:`S_2(\mathbf r)` of phase 1 of every training structure over the
   central window :math:`|r_i| \le w` (:func:`mslearn.descriptors.two_point_correlation`), averaged
   over the 8 symmetries of the square (the process is isotropic, so the anisotropy of one finite
   sample is noise);
2. a principal component analysis of the maps (scikit-learn's ``PCA``): :math:`S_2 \approx
   \bar S_2 + \sum_{j \le k} \alpha_j \boldsymbol\varphi_j`, the scores :math:`\alpha_j` the structure's
   coordinates;
3. with the phase-1 volume fraction :math:`v` and the structure-factor length
   :math:`\ell = 2\pi/\langle q\rangle` of the phase indicator (:func:`mslearn.process.structure_factor`;
   the dataset's ``length`` is that of the field :math:`\phi`, a little different) as two physical
   descriptors, a regressor from :math:`(\phi_0, \ln\gamma, \ln t)` to :math:`(\alpha_1 \dots \alpha_k,
   v, \ell)`: by default one Gaussian process per descriptor (scikit-learn's
   ``GaussianProcessRegressor``, Matérn 5/2 with a length scale per input plus a white-noise term for
   the realization scatter), as in the process–structure linkages of Yabansu, Kalidindi et al. (2017)
   and the phase-field surrogates of Montes de Oca Zapiain et al. (2021);
4. for new process parameters, the predicted scores give a predicted :math:`S_2` map
   (:meth:`ProcessStructureMap.predict_s2`), which :func:`mslearn.reconstruction.reconstruct` turns
   into a structure (:meth:`ProcessStructureMap.generate`) — to homogenize, and compare with what the
   phase-field model would have made.

The annealing time is an input like the others, so the *evolution* of a structure in PCA space is
the prediction along a line of times at fixed :math:`(\phi_0, \gamma)` (``predict`` on a grid of
``time``), the reduced-order trajectory of Yabansu et al. (2017).

Only the leading scores are predictable: the later ones carry the realization noise of a finite box
and their held-out :math:`R^2` is near 0 (their prediction is then their mean, which is the right
answer). :meth:`ProcessStructureMap.score` therefore reports the :math:`R^2` of the whole
:math:`S_2` map (variance-weighted over its entries), and :meth:`ProcessStructureMap.score_descriptors`
one :math:`R^2` per descriptor.

Why hand-written: the estimator is glue — PCA, the Gaussian processes, the descriptors and the
reconstruction come from scikit-learn and :mod:`mslearn`; no library links them (PyMKS has the
2-point statistics and PCA, but neither the regression from process parameters nor the
reconstruction).

References
----------
D. T. Fullwood, S. R. Niezgoda & S. R. Kalidindi, Microstructure reconstructions from 2-point
statistics using phase-recovery algorithms, Acta Mater. 56 (2008) 942; D. T. Fullwood, S. R. Niezgoda,
B. L. Adams & S. R. Kalidindi, Microstructure sensitive design for performance optimization, Prog.
Mater. Sci. 55 (2010) 477–562.
S. R. Niezgoda, Y. C. Yabansu & S. R. Kalidindi, Understanding and visualizing microstructure and
microstructure variance as a stochastic process, Acta Mater. 59 (2011) 6387–6400.
Y. C. Yabansu, P. Steinmetz, J. Hötzer, S. R. Kalidindi & B. Nestler, Extraction of reduced-order
process-structure linkages from phase-field simulations, Acta Mater. 124 (2017) 182–194.
D. Montes de Oca Zapiain, J. A. Stewart & R. Dingreville, Accelerating phase-field-based
microstructure evolution predictions via surrogate models trained by machine learning methods,
npj Comput. Mater. 7 (2021) 3.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.metrics import r2_score
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._backend import seeded_clone, torch_seed
from .._validation import check_flag, check_integer, check_labels
from ..nn import integer_seed
from ..descriptors import central_window, two_point_correlation
from .phase_field import structure_factor

__all__ = ["ProcessStructureMap", "PROCESS_COLUMNS"]

#: The process parameters, the columns of ``X``: mean composition, gradient coefficient, annealing time.
PROCESS_COLUMNS = ("phi0", "gamma", "time")


def _check_process(X):
    """``X`` as a float array ``(n, 3)`` of (phi0, gamma, time), validated; a DataFrame by column names."""
    if isinstance(X, pd.DataFrame):
        missing = [c for c in PROCESS_COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the columns {missing}; expected the process parameters "
                             f"{list(PROCESS_COLUMNS)}")
        X = X[list(PROCESS_COLUMNS)]
    try:
        values = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"X must be numeric, an array (n_samples, 3) of {list(PROCESS_COLUMNS)}") from error
    if values.ndim != 2 or values.shape[1] != len(PROCESS_COLUMNS) or values.shape[0] < 1:
        raise ValueError(f"X has shape {values.shape}; expected (n_samples, {len(PROCESS_COLUMNS)}) with the "
                         f"columns {list(PROCESS_COLUMNS)} (mean composition, gradient coefficient, time)")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"X contains NaN or inf; expected finite {list(PROCESS_COLUMNS)}")
    if np.any(np.abs(values[:, 0]) >= 1):
        raise ValueError("X[:, 0] (phi0) has values outside (-1, 1); a mean composition lies between the "
                         "equilibrium phases -1 and 1")
    if np.any(values[:, 1] <= 0) or np.any(values[:, 2] <= 0):
        raise ValueError("X[:, 1] (gamma) and X[:, 2] (time) must be > 0")
    return values


def _features(values):
    """The regression inputs: (phi0, ln gamma, ln t) — coarsening is a power law in gamma and t."""
    return np.column_stack([values[:, 0], np.log(values[:, 1]), np.log(values[:, 2])])


def _check_structures(y):
    """Two-phase label images ``(n, H, W)`` (0/1), each holding both phases, as uint8."""
    if not hasattr(y, "ndim"):
        y = np.asarray(y)
    check_labels(y, name="y", spatial=(2,), batch=True)
    labels = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if labels.size and labels.max() > 1:
        raise ValueError(f"y holds the label {int(labels.max())}; expected two-phase images (labels 0 and 1)")
    labels = np.rint(labels).astype(np.uint8)
    fractions = labels.reshape(len(labels), -1).mean(1)
    single = np.flatnonzero((fractions == 0) | (fractions == 1))
    if single.size:
        raise ValueError(f"y[{int(single[0])}] holds one phase only; expected two-phase structures (labels 0 "
                         "and 1 both present)")
    return labels


def _check_generated(initial, n_rows, shape):
    """The structures ``initial`` of :meth:`ProcessStructureMap.generate` ``(k, *shape)``, ``k <= n_rows``,
    labels 0/1, as int64 (the dtype generate returns)."""
    if not hasattr(initial, "shape"):
        initial = np.asarray(initial)
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        shape = None                                   # reconstruct refuses it with its own message
    if shape is None or initial.ndim != 1 + len(shape) or tuple(initial.shape[1:]) != shape:
        raise ValueError(f"initial has shape {tuple(initial.shape)}; expected the structures (k, *shape) of the "
                         f"first k rows made earlier, shape {shape}")
    if len(initial) > n_rows:
        raise ValueError(f"initial holds {len(initial)} structures but X has {n_rows} rows; expected those of the "
                         "first k <= n rows of X")
    if not len(initial):
        return np.zeros((0, *shape), np.int64)
    check_labels(initial, name="initial", spatial=(len(shape),), batch=True)
    labels = np.asarray(initial.detach().cpu().numpy() if hasattr(initial, "detach") else initial)
    if labels.max() > 1:
        raise ValueError(f"initial holds the label {int(labels.max())}; expected generated structures (labels 0 "
                         "and 1)")
    return labels.astype(np.int64)


def _symmetrized(maps):
    """Average centred 2D maps ``(n, m, m)`` over the 8 symmetries of the square."""
    group = [maps, maps[:, ::-1], maps[:, :, ::-1], maps[:, ::-1, ::-1]]
    group += [np.swapaxes(g, 1, 2) for g in group]
    return np.mean(group, axis=0)


class ProcessStructureMap(BaseEstimator):
    r"""Process parameters → 2-point statistics, volume fraction and length of the structure.

    The estimator of the module docstring: PCA of the symmetrized phase-1 :math:`S_2` maps of the
    training structures, and a regressor from :math:`(\phi_0, \ln\gamma, \ln t)` to the PCA scores,
    the volume fraction and the structure-factor length; new structures are reconstructed from the
    predicted :math:`S_2`.

    Parameters
    ----------
    n_components : int
        PCA scores kept (the first two carry almost all the predictable variance).
    window : int, optional
        Largest displacement :math:`|r_i|` of the maps; default a quarter of the image side (the
        reconstruction's default window).
    symmetrize : bool
        Average each map over the symmetries of the square (the process is isotropic).
    regressor : scikit-learn regressor, optional
        Cloned and fitted from the inputs :math:`(\phi_0, \ln\gamma, \ln t)` to the descriptors
        (multi-output; scale the inputs in it if it needs that). Default: one Gaussian process per
        descriptor, a ``MultiOutputRegressor`` of ``StandardScaler`` + ``GaussianProcessRegressor``
        (Matérn 5/2 with a length scale per input, plus white noise; ``normalize_y``). A
        ``DummyRegressor`` gives the mean predictor to compare with.
    random_state : int
        Seeds the Gaussian processes' optimizer restarts, and every random state of ``regressor`` left
        unset (``None``, nested ones included); one it sets is kept.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
        Fitted on the flattened maps.
    regressor_ : estimator
        The fitted regressor.
    window_ : int
    shape_ : tuple of int
        The training structures' shape, the default shape of :meth:`generate`.
    descriptor_names_ : list of str
        ``pc_1 .. pc_k``, ``volume_fraction``, ``length``: the columns of :meth:`predict`.
    n_features_in_ : int
        3.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.datasets import spinodal_structures
    >>> from mslearn.process import ProcessStructureMap
    >>> ds = spinodal_structures(24, size=24, device="cpu", cache=False)
    >>> X, y = ds.parameters[["phi0", "gamma", "time"]], ds.arrays["labels"]
    >>> model = ProcessStructureMap(n_components=2).fit(X, y)
    >>> model.predict(X[:2]).shape, model.predict_s2(X[:2]).shape
    ((2, 4), (2, 13, 13))
    >>> model.descriptor_names_
    ['pc_1', 'pc_2', 'volume_fraction', 'length']
    """

    def __init__(self, n_components=4, *, window=None, symmetrize=True, regressor=None, random_state=0):
        self.n_components = n_components
        self.window = window
        self.symmetrize = symmetrize
        self.regressor = regressor
        self.random_state = random_state

    # ------------------------------------------------------------------ descriptors
    def _maps(self, labels, window):
        maps = two_point_correlation(labels, 1, batch=True, device="cpu")
        maps = central_window(np.asarray(maps), window, 2)
        return _symmetrized(maps) if self.symmetrize else maps

    def _describe(self, labels, window):
        maps = self._maps(labels, window)
        fractions = labels.reshape(len(labels), -1).mean(1)
        length = np.asarray(structure_factor(labels.astype(float), batch=True).length, dtype=float)
        return maps.reshape(len(maps), -1), fractions, length

    def describe(self, labels):
        """The descriptors of structures, in the columns of :meth:`predict` (the fitted PCA basis).

        Parameters
        ----------
        labels : array ``(n, H, W)``
            Two-phase label images (0 and 1), e.g. simulated structures to compare with
            :meth:`predict`.

        Returns
        -------
        ndarray ``(n, n_components + 2)``
        """
        check_is_fitted(self, "pca_")
        labels = _check_structures(labels)
        flat, fractions, length = self._describe(labels, self.window_)
        return np.column_stack([self.pca_.transform(flat), fractions, length])

    # ------------------------------------------------------------------ fit / predict
    def _default_regressor(self, seed):
        kernel = (ConstantKernel(1.0, (1e-3, 1e3))
                  * Matern(length_scale=np.ones(len(PROCESS_COLUMNS)), length_scale_bounds=(1e-2, 1e3), nu=2.5)
                  + WhiteKernel(1e-2, (1e-8, 1e1)))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=1, random_state=seed)
        return MultiOutputRegressor(make_pipeline(StandardScaler(), gp))

    def fit(self, X, y):
        """Learn the map from process parameters ``X`` to the statistics of the structures ``y``.

        Parameters
        ----------
        X : array ``(n_samples, 3)`` or DataFrame
            Process parameters ``phi0`` (in (−1, 1)), ``gamma`` (> 0), ``time`` (> 0), in this order
            (a DataFrame is read by these column names).
        y : array ``(n_samples, H, W)``
            The structures the process made: two-phase label images (0 and 1).

        Returns
        -------
        self
        """
        values = _check_process(X)
        labels = _check_structures(y)
        # None would draw from numpy's global generator; scikit-learn takes seeds below 2**32 (torch_seed keeps those)
        seed = torch_seed(integer_seed(self.random_state))
        check_flag(self.symmetrize, name="symmetrize")
        if len(labels) != len(values):
            raise ValueError(f"X has {len(values)} rows but y has {len(labels)} structures; expected one "
                             "structure per row")
        n_components = self.n_components
        n_components = check_integer(n_components, 1, name="n_components")
        if n_components > len(values):
            raise ValueError(f"n_components = {n_components} exceeds the {len(values)} training structures")
        side = min(labels.shape[1:])
        window = max(1, side // 4) if self.window is None else self.window
        window = check_integer(window, 1, name="window")
        if window > (side - 1) // 2:
            raise ValueError(f"window = {window!r}; expected an integer in [1, {(side - 1) // 2}] for "
                             f"{labels.shape[1]}x{labels.shape[2]} structures")
        flat, fractions, length = self._describe(labels, int(window))
        self.window_ = int(window)
        self.shape_ = tuple(int(n) for n in labels.shape[1:])
        self.pca_ = PCA(n_components=int(n_components), random_state=seed).fit(flat)
        targets = np.column_stack([self.pca_.transform(flat), fractions, length])
        self.descriptor_names_ = [f"pc_{j + 1}" for j in range(int(n_components))] + ["volume_fraction", "length"]
        features = _features(values)
        if self.regressor is None:
            with warnings.catch_warnings():
                # A length scale at its upper bound says that an input does not matter for that
                # descriptor (automatic relevance determination: the volume fraction depends on phi0
                # alone), which is expected here, not a failed fit.
                warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn.gaussian_process")
                self.regressor_ = self._default_regressor(seed).fit(features, targets)
        else:
            self.regressor_ = seeded_clone(self.regressor, seed).fit(features, targets)
        self.n_features_in_ = len(PROCESS_COLUMNS)
        return self

    def predict(self, X):
        """Predicted descriptors: PCA scores, volume fraction, length (``descriptor_names_``).

        Parameters
        ----------
        X : array ``(n, 3)`` or DataFrame
            Process parameters ``phi0`` (in (−1, 1)), ``gamma`` (> 0), ``time`` (> 0), as in :meth:`fit`.

        Returns
        -------
        ndarray ``(n, n_components + 2)`` of float64

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` lacks a column, is not finite or has a value out of range.
        """
        check_is_fitted(self, "regressor_")
        return np.asarray(self.regressor_.predict(_features(_check_process(X))), dtype=float).reshape(
            -1, len(self.descriptor_names_))

    def predict_s2(self, X):
        """Predicted phase-1 :math:`S_2` maps ``(n, 2 w + 1, 2 w + 1)``, centred (origin at index ``w``).

        The PCA reconstruction of the predicted scores; its origin value is the predicted volume
        fraction carried by the statistics.

        Parameters
        ----------
        X : array ``(n, 3)`` or DataFrame
            Process parameters ``phi0`` (in (−1, 1)), ``gamma`` (> 0), ``time`` (> 0), as in :meth:`fit`.

        Returns
        -------
        ndarray ``(n, 2 window_ + 1, 2 window_ + 1)`` of float64

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` lacks a column, is not finite or has a value out of range.
        """
        scores = self.predict(X)[:, :self.pca_.n_components_]
        m = 2 * self.window_ + 1
        return self.pca_.inverse_transform(scores).reshape(-1, m, m)

    def predict_targets(self, X):
        """Reconstruction targets of :func:`mslearn.reconstruction.reconstruct`, one dict per row of ``X``.

        In the format of :func:`mslearn.reconstruction.target_descriptors` for two phases: the
        predicted phase-1 map (:meth:`predict_s2`), the phase-0 map :math:`1 - 2v + S_2^{(11)}` and the
        volume fractions :math:`(1 - v, v)`, :math:`v` the map's origin value (clipped to [0.01, 0.99]).

        Parameters
        ----------
        X : array ``(n, 3)`` or DataFrame
            Process parameters ``phi0`` (in (−1, 1)), ``gamma`` (> 0), ``time`` (> 0), as in :meth:`fit`.

        Returns
        -------
        list of dict
            ``n`` targets, each with ``shape`` the training shape ``shape_``, ``window`` ``window_`` and
            ``s2`` of shape ``(2, 2 window_ + 1, 2 window_ + 1)``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` lacks a column, is not finite or has a value out of range.
        """
        targets = []
        s2_maps = self.predict_s2(X)          # first: it checks the fit (window_ is read after)
        w = self.window_
        for s2 in s2_maps:
            v = float(np.clip(s2[w, w], 0.01, 0.99))
            s2 = s2.copy()
            s2[w, w] = v
            targets.append({"ndim": 2, "shape": self.shape_, "periodic": True, "window": w, "n_phases": 2,
                            "volume_fraction": np.array([1 - v, v]), "isolated_fraction": 0.0,
                            "s2": np.stack([1 - 2 * v + s2, s2]), "pairs": []})
        return targets

    def generate(self, X, *, shape=None, max_iter=200, random_state=0, device="auto", progress=False,
                 initial=None):
        """Structures for process parameters ``X``: reconstructions from the predicted statistics.

        Each row's :meth:`predict_targets` dict is handed to
        :func:`mslearn.reconstruction.reconstruct` (gradient method, S2 only).

        Parameters
        ----------
        X : array ``(n, 3)`` or DataFrame
        shape : tuple of int, optional
            Shape of the structures (default the training shape; larger gives larger windows of the
            same material, a 3D shape a volume whose sections match the statistics).
        max_iter : int
            Objective evaluations of each reconstruction.
        random_state : int
            Seeds the reconstructions (row ``i`` gets the ``i``-th draw of this seed).
        device : str
        progress : bool
            A progress bar over the rows.
        initial : array ``(k, *shape)``, optional
            The structures of the first ``k <= n`` rows, made earlier by ``generate`` with the same
            rows, ``shape``, ``max_iter``, ``random_state`` and ``device`` (e.g. ``generate(X[:k], ...)``):
            they are taken as they are and only rows ``k ..`` are reconstructed. Row ``i`` depends on
            its own parameters and the ``i``-th seed only, so the result equals, bit for bit, the call
            without ``initial``: a long generation made in chunks (each one saved) loses at most the
            chunk running when it is interrupted. An array carries no settings, so only its shape and
            labels are checked (at most ``n`` rows, the structures' shape, labels 0/1); made with other
            settings, its rows would be kept silently.

        Returns
        -------
        ndarray ``(n, *shape)`` of int64 labels 0/1

        Examples
        --------
        Generate in chunks, e.g. saving each to disk, then go on from what was done:

        >>> done = model.generate(X[:10], random_state=0)                  # doctest: +SKIP
        >>> structures = model.generate(X, random_state=0, initial=done)   # doctest: +SKIP
        """
        from ..reconstruction import reconstruct       # here: importing mslearn.process stays light
        from .._backend import progress_bar

        # Each row's target on its own: BLAS rounds a row of a batch differently from the row alone
        # (1e-14), and a reconstruction (phase retrieval's hard projections) turns such a difference
        # into another structure; row i's structure must not depend on the other rows.
        base_seed = integer_seed(random_state)
        rows = _check_process(X)
        check_is_fitted(self, "regressor_")
        size = self.shape_ if shape is None else shape
        done = [] if initial is None else list(_check_generated(initial, len(rows), size))
        targets = [self.predict_targets(rows[i:i + 1])[0] for i in range(len(done), len(rows))]
        seeds = np.random.default_rng(base_seed).integers(2**31, size=len(rows))    # row i: the i-th draw
        bar = progress_bar(progress, len(rows), "reconstruct", unit="structure", initial=len(done))
        out = done
        for target, seed in zip(targets, seeds[len(done):]):
            out.append(reconstruct(target, size, max_iter=max_iter, seed=int(seed), device=device).labels)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return np.stack(out)

    # ------------------------------------------------------------------ scores
    def score(self, X, y):
        """:math:`R^2` of the predicted :math:`S_2` maps against those of the structures ``y``.

        Variance-weighted over the map entries: 1 − (squared error of the maps) / (their squared
        deviation from the mean map of ``y``). A constant prediction of the mean map scores about 0.

        Parameters
        ----------
        X : array ``(n, 3)`` or DataFrame
            Process parameters ``phi0`` (in (−1, 1)), ``gamma`` (> 0), ``time`` (> 0), as in :meth:`fit`.
        y : array ``(n, H, W)``
            Two-phase label images (labels 0 and 1, both present in each), one per row of ``X``.

        Returns
        -------
        float

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` lacks a column, is not finite or has a value out of range.
            If ``y`` is not two-phase label images, one per row of ``X``.
        """
        labels = _check_structures(y)
        check_is_fitted(self, "pca_")
        true = self._maps(labels, self.window_).reshape(len(labels), -1)
        pred = self.predict_s2(X)
        if len(true) != len(pred):
            raise ValueError(f"X has {len(pred)} rows but y has {len(true)} structures; expected one per row")
        pred = pred.reshape(len(true), -1)
        return float(r2_score(true, pred, multioutput="variance_weighted"))

    def score_descriptors(self, X, y):
        """:math:`R^2` of each predicted descriptor (``descriptor_names_``) against the structures ``y``.

        Parameters
        ----------
        X : array ``(n, 3)`` or DataFrame
            Process parameters ``phi0`` (in (−1, 1)), ``gamma`` (> 0), ``time`` (> 0), as in :meth:`fit`.
        y : array ``(n, H, W)``
            Two-phase label images (labels 0 and 1, both present in each), one per row of ``X``.

        Returns
        -------
        dict
            ``{name: R²}`` for every column of :meth:`predict`, plus ``"s2"`` (:meth:`score`).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If ``X`` lacks a column, is not finite or has a value out of range.
            If ``y`` is not two-phase label images, one per row of ``X``.
        """
        true = self.describe(y)
        pred = self.predict(X)
        if len(true) != len(pred):
            raise ValueError(f"X has {len(pred)} rows but y has {len(true)} structures; expected one per row")
        out = {name: float(r2_score(true[:, j], pred[:, j])) for j, name in enumerate(self.descriptor_names_)}
        out["s2"] = self.score(X, y)
        return out
