r"""Evolutionary (genetic) search over a box: one objective, or a Pareto front of several.

A genetic algorithm keeps a *population* of candidate designs and improves it generation by
generation: parents are chosen by tournament, recombined (simulated binary crossover, SBX; Deb &
Agrawal 1995) and mutated (polynomial mutation), and the fittest of parents and offspring survive.
It needs no gradients and no surrogate model, tolerates noisy and multi-modal objectives and —
its real strength in materials design (the review's §5) — with several objectives it returns a
whole **Pareto front**: the designs that no other design beats in every objective at once (e.g.
stiff *and* light), from which an engineer picks a compromise afterwards.

For several objectives :math:`f_1, \dots, f_m` (all minimized), NSGA-II (Deb et al. 2002) ranks
the population by non-dominated sorting (front 1: no one dominates them; front 2: only front 1
does, ...) and, within a front, prefers points with a large *crowding distance* (far from their
neighbours in objective space), which spreads the front. The quality of a front :math:`P` is
measured by its **hypervolume** with respect to a reference point :math:`\mathbf r` that every
point of interest dominates,

.. math::

    \mathrm{HV}(P; \mathbf r) = \lambda\Bigl(\bigcup_{\mathbf p \in P}\,[\mathbf p, \mathbf r]\Bigr),

the Lebesgue measure of the region dominated by the front and bounded by :math:`\mathbf r`
(Zitzler & Thiele 1998): larger is better, and it is maximal only on the true front.

Evaluations are expensive when ``f`` is the solver and cheap when it is a trained surrogate: a
genetic algorithm spends thousands of them, so the usual pattern (and the book's) is to search on a
surrogate and verify the final designs, or the final front, with the solver.

Why pymoo
---------
The algorithms here are `pymoo <https://pymoo.org>`_'s (Blank & Deb 2020), the field's library for
evolutionary multi-objective optimization, with operators implemented and tested as their authors
published them. This module only gives them the package's conventions (bounds as ``(low, high)``
pairs, ``seed``, ``max_iter``, results as a dataclass with every evaluation in order, a clear error
for bad input) and records what the book plots: the best value or the front, generation by
generation.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .._backend import is_torch, progress_bar, rng
from .._validation import check_bounds, check_evaluations, check_flag, check_in_box, check_integer

__all__ = ["evolutionary_optimization", "EvolutionaryResult", "hypervolume", "pareto_front", "zdt1",
           "ZDT1_BOUNDS", "ZDT1_HYPERVOLUME"]

#: The box of the 30-variable ZDT1 problem: every input in ``[0, 1]``.
ZDT1_BOUNDS = np.array([(0.0, 1.0)] * 30)
#: Hypervolume of ZDT1's exact Pareto front :math:`f_2 = 1 - \sqrt{f_1}`, :math:`f_1 \in [0, 1]`,
#: with respect to the reference point ``(1.1, 1.1)``:
#: :math:`\int_0^1 (0.1 + \sqrt{f_1})\,df_1 + 0.1 \cdot 1.1 = 0.1 + 2/3 + 0.11`.
ZDT1_HYPERVOLUME = 0.1 + 2.0 / 3.0 + 0.11


def zdt1(x):
    r"""The ZDT1 test problem (Zitzler, Deb & Thiele 2000), two objectives to minimize.

    .. math::

        f_1 = x_1, \qquad g = 1 + \frac{9}{n - 1}\sum_{i=2}^{n} x_i, \qquad
        f_2 = g\,\Bigl(1 - \sqrt{f_1 / g}\Bigr),

    on :math:`[0, 1]^n` (usually :math:`n = 30`, :data:`ZDT1_BOUNDS`). The Pareto front is convex,
    :math:`f_2 = 1 - \sqrt{f_1}`, reached where :math:`x_2 = \dots = x_n = 0`; its hypervolume with
    respect to ``(1.1, 1.1)`` is :data:`ZDT1_HYPERVOLUME`.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,) or (m, n)
        One point or ``m`` points of :math:`[0, 1]^n`, ``n >= 2``.

    Returns
    -------
    numpy.ndarray
        Shape ``(2,)`` or ``(m, 2)``: :math:`(f_1, f_2)`.

    Raises
    ------
    ValueError
        For a point outside :math:`[0, 1]^n` (by more than ``1e-12``: rounding is taken as on the bound;
        :math:`x_1 < 0` would give NaN), NaN, or a shape other than ``(n,)`` or ``(m, n)`` with ``n >= 2``.

    Examples
    --------
    >>> zdt1([0.25] + [0.0] * 29)
    array([0.25, 0.5 ])
    """
    if is_torch(x):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=float)
    if x.ndim not in (1, 2) or x.shape[-1] < 2:
        raise ValueError(f"x has shape {x.shape}; expected (n,) or (m, n) with n >= 2 inputs")
    x = check_in_box(x, [(0.0, 1.0)] * x.shape[-1], name="x", domain="ZDT1's domain [0, 1]^n")
    f1 = x[..., 0]
    g = 1.0 + 9.0 * x[..., 1:].sum(axis=-1) / (x.shape[-1] - 1)
    return np.stack([f1, g * (1.0 - np.sqrt(f1 / g))], axis=-1)


def pareto_front(y):
    """The indices of the non-dominated rows of ``y`` (all objectives minimized), sorted by the first.

    A row is dominated when another is no worse in every objective and better in at least one.
    Duplicated rows are kept once (the first).

    Parameters
    ----------
    y : array_like, shape (n, m)
        Objective values, one row per point.

    Returns
    -------
    numpy.ndarray of int
        Row indices of the Pareto front.

    Examples
    --------
    >>> pareto_front([[1, 3], [2, 2], [3, 1], [2, 3], [1, 3]])
    array([0, 1, 2])
    """
    y = _objective_table(y, "y")
    # In lexicographic order a dominating row always comes before the rows it dominates, so each row
    # needs comparing only with the front kept so far (domination is transitive).
    order = np.lexsort(y.T[::-1])
    front = []
    for i in order:
        if front and (np.all(y[front] <= y[i], axis=1) & (np.any(y[front] < y[i], axis=1)
                                                          | np.all(y[front] == y[i], axis=1))).any():
            continue
        front.append(i)
    return np.asarray(front, dtype=int)


def hypervolume(y, reference):
    r"""The hypervolume of the points ``y`` (minimized objectives) with respect to ``reference``.

    The measure of the region that the points dominate and ``reference`` bounds (see the module
    docstring); points that do not dominate ``reference`` contribute nothing. Computed exactly by
    pymoo's indicator.

    Parameters
    ----------
    y : array_like, shape (n, m)
        Objective values (any set of points; only its Pareto front matters).
    reference : array_like, shape (m,)
        The reference point, worse than every point of interest in every objective.

    Returns
    -------
    float

    Examples
    --------
    >>> round(hypervolume([[0.0, 1.0], [1.0, 0.0]], (2.0, 2.0)), 6)
    3.0
    """
    from pymoo.indicators.hv import HV

    y = _objective_table(y, "y")
    reference = np.asarray(reference, dtype=float)
    if reference.shape != (y.shape[1],):
        raise ValueError(f"reference has shape {reference.shape}; expected ({y.shape[1]},), one value per objective")
    if not np.all(np.isfinite(reference)):
        raise ValueError(f"reference = {reference.tolist()} contains NaN or an infinite value; expected a finite "
                         "point, worse than every point of interest in every objective")
    inside = np.all(y < reference, axis=1)
    return float(HV(ref_point=reference)(y[inside])) if inside.any() else 0.0


def _objective_table(y, name):
    y = np.asarray(y, dtype=float)
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise ValueError(f"{name} has shape {y.shape}; expected (n, m) with n, m >= 1: one row per point, one "
                         "column per objective")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite objective values")
    return y


@dataclass
class EvolutionaryResult:
    """The evaluations of an evolutionary search, in the order they were made.

    Attributes
    ----------
    X : numpy.ndarray
        Shape ``(n_evaluations, d)``: every evaluated point (the initial population first).
    y : numpy.ndarray
        Shape ``(n_evaluations,)`` for one objective, ``(n_evaluations, m)`` for ``m``.
    x_best, y_best : numpy.ndarray, float or numpy.ndarray
        One objective: the evaluated point with the lowest value and that value. Several: the
        Pareto front of all evaluations, ``pareto_X`` and ``pareto_y`` (the same arrays).
    pareto_X, pareto_y : numpy.ndarray
        The non-dominated evaluated points and their objective values, sorted by the first
        objective (for one objective: the best point alone).
    n_evaluations : int
        Number of points evaluated.
    n_generations : int
        Generations run (the initial population counts as the first).
    population_history : list of numpy.ndarray
        The objective values of the surviving population after each generation, each of shape
        ``(population_size, m)`` (``m = 1`` for one objective), but the first after
        ``initial=(X, y)``: all ``len(X)`` given points, more or fewer (pymoo keeps them all in the
        first generation; the fittest ``population_size`` of them and their offspring survive into
        the second). :meth:`hypervolume_history` and ``history_best`` are read from it.
    history_best : numpy.ndarray
        One objective: the best value found after each generation (running minimum). Several:
        empty; use :meth:`hypervolume_history`.
    bounds : numpy.ndarray
        Shape ``(d, 2)``: the box searched.
    algorithm : str
        ``"ga"`` (one objective) or ``"nsga2"``.
    population_X, population_y : numpy.ndarray
        The final population: its points ``(population_size, d)`` (after ``initial=(X, y)`` and
        ``max_iter=1``, the ``len(X)`` given ones) and their values (shaped as ``y``).
        ``evolutionary_optimization(..., initial=result)`` goes on from it.
    """

    X: np.ndarray
    y: np.ndarray
    x_best: np.ndarray
    y_best: object
    pareto_X: np.ndarray
    pareto_y: np.ndarray
    n_evaluations: int
    n_generations: int
    population_history: list = field(repr=False)
    history_best: np.ndarray
    bounds: np.ndarray
    algorithm: str
    population_X: np.ndarray = field(default=None, repr=False)
    population_y: np.ndarray = field(default=None, repr=False)

    @property
    def n_objectives(self):
        """Number of objectives ``m``."""
        return 1 if self.y.ndim == 1 else self.y.shape[1]

    def hypervolume(self, reference):
        """Hypervolume of the Pareto front of all evaluations w.r.t. ``reference`` (:func:`hypervolume`).

        Parameters
        ----------
        reference : array_like, shape (m,)
            The reference point, finite, worse than every point of interest in every objective (see
            :func:`hypervolume`).

        Returns
        -------
        float
            0 when no Pareto point dominates ``reference``.

        Raises
        ------
        ValueError
            If ``reference`` is not ``m`` finite values.
        """
        return hypervolume(self.pareto_y.reshape(len(self.pareto_y), -1), reference)

    def hypervolume_history(self, reference):
        """Hypervolume of the population after each generation (:attr:`population_history`).

        Parameters
        ----------
        reference : array_like, shape (m,)
            The reference point, finite, worse than every point of interest in every objective (see
            :func:`hypervolume`).

        Returns
        -------
        ndarray of float64, shape (n_generations,)

        Raises
        ------
        ValueError
            If ``reference`` is not ``m`` finite values.
        """
        return np.array([hypervolume(F, reference) for F in self.population_history])


def _evaluate_population(f, X, n_objectives, vectorized, executor):
    """``f`` on every row of ``X`` as an ``(n, n_objectives)`` float table, checked."""
    if vectorized:
        values = f(X.copy())
        if is_torch(values):
            values = values.detach().cpu().numpy()
        F = np.asarray(values, dtype=float)
        if n_objectives == 1 and F.shape == (len(X),):
            F = F[:, None]
        if F.shape != (len(X), n_objectives):
            raise ValueError(f"f returned shape {F.shape} for {len(X)} points; expected ({len(X)}, "
                             f"{n_objectives})" + (f" or ({len(X)},)" if n_objectives == 1 else ""))
    else:
        copies = [row.copy() for row in X]
        values = list(executor.map(f, copies)) if executor is not None else [f(row) for row in copies]
        rows = []
        for point, value in zip(X, values):
            if is_torch(value):
                value = value.detach().cpu().numpy()
            array = np.asarray(value, dtype=float).reshape(-1)
            if array.size != n_objectives:
                raise ValueError(f"f returned {array.size} value(s) at x = {point.tolist()}; expected "
                                 f"n_objectives = {n_objectives}")
            rows.append(array)
        F = np.array(rows)
    F = F.reshape(len(X), n_objectives)
    bad = np.flatnonzero(~np.all(np.isfinite(F), axis=1))
    if bad.size:
        raise ValueError(f"f returned {F[bad[0]].tolist()} at x = {X[bad[0]].tolist()}; expected finite values")
    return F


def _known_population(initial, bounds, n_objectives):
    """``initial`` (a result or ``(X, y)``) as points ``(n, d)`` and values ``(n, m)``, checked, and the
    result itself (None for a pair)."""
    if isinstance(initial, EvolutionaryResult):
        if initial.population_X is None:
            raise ValueError("initial is an EvolutionaryResult without its final population (population_X); "
                             "pass the result of evolutionary_optimization itself")
        if initial.n_objectives != n_objectives or not np.array_equal(initial.bounds, bounds):
            raise ValueError(f"initial is a search of {initial.n_objectives} objective(s) over other bounds or "
                             f"objectives than this one ({n_objectives} over {bounds.tolist()}); continue it with "
                             "the same bounds and n_objectives")
        X, y, previous = initial.population_X, initial.population_y, initial
    elif isinstance(initial, (tuple, list)) and len(initial) == 2:
        (X, y), previous = initial, None
    else:
        raise TypeError(f"initial is {type(initial).__name__}; expected an EvolutionaryResult or a pair (X, y) of "
                        "evaluated points")
    X, F = check_evaluations(X, y, bounds, n_objectives=n_objectives)
    return X, F, previous


def evolutionary_optimization(f, bounds, *, n_objectives=1, population_size=None, max_iter=100, seed=0,
                              vectorized=False, executor=None, progress=False, initial=None):
    r"""Minimize one or several objectives over a box with a genetic algorithm (pymoo's GA or NSGA-II).

    With one objective, a real-coded genetic algorithm (tournament selection, SBX crossover,
    polynomial mutation, elitist survival); with ``n_objectives >= 2``, NSGA-II, which returns the
    Pareto front. See the module docstring.

    Parameters
    ----------
    f : callable
        The objective(s), all minimized. ``f(x)`` for one point ``x`` of shape ``(d,)`` returns a
        float (one objective) or ``n_objectives`` values; with ``vectorized=True``, ``f(X)`` takes a
        whole population ``(n, d)`` and returns ``(n,)`` or ``(n, n_objectives)`` — much faster for a
        surrogate. NaN or infinite values raise.
    bounds : sequence of (low, high)
        The box searched, one pair per input.
    n_objectives : int
        Number of objectives ``m >= 1``.
    population_size : int, optional
        Individuals per generation; default ``max(20, 10 d)`` capped at 100.
    max_iter : int
        Generations, the initial population included (``population_size * max_iter`` evaluations).
    seed : int or numpy.random.Generator
        Seeds the initial population and every genetic operator: the same seed gives the same run.
    vectorized : bool
        Whether ``f`` takes a whole population at once.
    executor : concurrent.futures.Executor, optional
        Evaluate the points of a generation with ``executor.map(f, points)`` (``vectorized=False``).
    progress : bool
        Show a tqdm progress bar over the generations.
    initial : EvolutionaryResult or (X, y), optional
        Go on from evaluations already made, without calling ``f`` on them again. An earlier result
        (same ``bounds`` and ``n_objectives``): its final population is the first generation, and its
        evaluations and generations come first in the returned result, so ``max_iter`` counts the whole
        run's generations, the earlier ones included (an interrupted or too short search continues with
        ``max_iter`` raised; a ``max_iter`` it has already reached returns it unchanged). A pair of
        points ``X`` ``(n, d)`` and their values ``y`` ``(n,)`` or ``(n, n_objectives)``: all of them
        are the first generation (``n`` may differ from ``population_size``); the fittest
        ``population_size`` of them and their offspring survive into the second. The generations after them
        are not those an uninterrupted run would make: the random draws are not replayed.

    Returns
    -------
    EvolutionaryResult
        Every evaluation, the best point (one objective) or the Pareto front (``.pareto_X``,
        ``.pareto_y``), and the population of each generation.

    Raises
    ------
    ValueError
        For bounds that are not finite ``(low, high)`` pairs with ``low < high``, ``n_objectives``,
        ``population_size``, ``max_iter`` or an integer ``seed`` below their minimum, or ``f`` returning the wrong number
        of values or non-finite ones (the message gives the point).

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.optimization import evolutionary_optimization
    >>> result = evolutionary_optimization(lambda X: np.sum((X - 0.3) ** 2, axis=1), [(0, 1)] * 2,
    ...                                    max_iter=30, vectorized=True)
    >>> bool(np.allclose(result.x_best, 0.3, atol=0.02)), result.n_evaluations
    (True, 600)
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize
    from pymoo.termination import get_termination

    bounds = check_bounds(bounds)
    d = len(bounds)
    n_objectives = check_integer(n_objectives, 1, name="n_objectives")
    population_size = (min(max(20, 10 * d), 100) if population_size is None
                       else check_integer(population_size, 4, name="population_size"))
    max_iter = check_integer(max_iter, 1, name="max_iter")
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if check_flag(vectorized, name="vectorized") and executor is not None:
        raise ValueError("executor is for f evaluated point by point; with vectorized=True, f takes the "
                         "whole population itself")
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed_int = check_integer(seed, 0, name="seed")         # pymoo's own error would not name seed
    else:
        seed_int = int(rng(seed).integers(2**31 - 1))
    known_X, known_F, previous = (None, None, None) if initial is None else _known_population(initial, bounds,
                                                                                             n_objectives)
    done = previous.n_generations if previous is not None else 0
    if done >= max_iter:
        return previous

    evaluated_X, evaluated_F = [], []
    population_history = []
    if previous is not None:
        evaluated_X.append(previous.X)
        evaluated_F.append(previous.y.reshape(len(previous.X), n_objectives))
        population_history.extend(previous.population_history)
    elif known_X is not None:
        evaluated_X.append(known_X)
        evaluated_F.append(known_F)

    class _Problem(Problem):
        def __init__(self):
            super().__init__(n_var=d, n_obj=n_objectives, xl=bounds[:, 0], xu=bounds[:, 1])

        def _evaluate(self, X, out, *args, **kwargs):
            F = _evaluate_population(f, np.asarray(X, dtype=float), n_objectives, vectorized, executor)
            evaluated_X.append(np.array(X, dtype=float))
            evaluated_F.append(F)
            out["F"] = F

    bar = progress_bar(progress, total=max_iter, desc="evolutionary search", unit="generation")
    if bar is not None:
        bar.update(done)

    def record(algorithm):
        if previous is not None and algorithm.n_gen == 1:
            return                                   # the earlier result's final population, recorded there
        population_history.append(np.array(algorithm.pop.get("F"), dtype=float))
        if bar is not None:
            bar.update(1)

    sampling = {}
    if known_X is not None:
        from pymoo.core.population import Population

        start = Population.new("X", known_X, "F", known_F)
        for individual in start:
            individual.evaluated.update(("F", "G", "H"))   # pymoo skips what is evaluated: f is not called again
        sampling = {"sampling": start}
    if n_objectives == 1:
        algorithm, name = GA(pop_size=population_size, eliminate_duplicates=True, **sampling), "ga"
    else:
        algorithm, name = NSGA2(pop_size=population_size, **sampling), "nsga2"
    # a continued result's final population is this run's first generation again
    generations = max_iter - done + (1 if previous is not None else 0)
    try:
        final = minimize(_Problem(), algorithm, get_termination("n_gen", generations), seed=seed_int,
                         callback=record, verbose=False).pop
    finally:
        if bar is not None:
            bar.close()

    X = np.concatenate(evaluated_X)
    F = np.concatenate(evaluated_F)
    if n_objectives == 1:
        y = F[:, 0]
        best = int(np.argmin(y))
        x_best, y_best = X[best].copy(), float(y[best])
        pareto_X, pareto_y = X[best:best + 1].copy(), y[best:best + 1].copy()
        history_best = np.minimum.accumulate([float(P.min()) for P in population_history])
    else:
        y = F
        front = pareto_front(F)
        pareto_X, pareto_y = X[front], F[front]
        x_best, y_best = pareto_X, pareto_y
        history_best = np.empty(0)
    return EvolutionaryResult(X=X, y=y, x_best=x_best, y_best=y_best, pareto_X=pareto_X, pareto_y=pareto_y,
                              n_evaluations=len(X), n_generations=len(population_history),
                              population_history=population_history, history_best=history_best,
                              bounds=bounds, algorithm=name,
                              population_X=np.array(final.get("X"), dtype=float),
                              population_y=np.array(final.get("F"), dtype=float)[:, 0] if n_objectives == 1
                              else np.array(final.get("F"), dtype=float))
