"""Optimization and inverse design (mslearn.optimization): the published anchors and the baselines.

Run:  python benchmarks/bench_optimization.py [--quick]

Anchors (issue #16), each printed with its target and whether it is met:

* topology optimization, MBB half-beam 60 x 20, volfrac 0.5, penal 3, rmin 1.5 (Andreassen et al.
  2011): compliance 203.19 (sensitivity filter, about 94 iterations) and 218.80 (density filter, about
  127), within 1 %;
* inverse homogenization (Sigmund 1994): the thresholded bulk-modulus design at f = 0.5 re-homogenized
  reaches >= 0.85 of the 2D Hashin-Shtrikman upper bound; the auxetic design a Poisson's ratio <= -0.3;
* Bayesian optimization: Branin's minimum 0.397887 within 0.01 in <= 40 evaluations for >= 4 of 5
  seeds, Hartmann-3's -3.86278 within 0.02 in <= 60; **baseline in the same run: random search**, the
  evaluations each needs to get as close (median over the seeds, capped at 2000);
* NSGA-II (pymoo) on ZDT1, 30 variables: hypervolume w.r.t. (1.1, 1.1) >= 0.86 (exact 0.876667);
* tandem inverse design on the spinodoid data of Kumar et al. (2020), 10 % held out: forward R² >= 0.99
  and round-trip R² >= 0.99 on every stiffness component; **baseline: the direct (naive) inverse**,
  judged by the same forward network.

``--quick`` runs every part at tiny sizes (the anchors are then not expected to hold; the test suite
only checks that the script runs).
"""
import argparse
import time
import warnings

import numpy as np

from mslearn.homogenization import ConvergenceWarning
from mslearn.homogenization.bounds import hashin_shtrikman_bulk
from mslearn.homogenization.tensors import isotropic_moduli, isotropic_stiffness
from mslearn.optimization import (BRANIN_BOUNDS, BRANIN_MINIMUM, HARTMANN3_BOUNDS, HARTMANN3_MINIMUM, ZDT1_BOUNDS,
                                  ZDT1_HYPERVOLUME, bayesian_optimization, branin, evolutionary_optimization,
                                  hartmann3, inverse_homogenization, random_search, topology_optimization, zdt1)


QUICK = False


def verdict(ok):
    if QUICK:
        return "(quick run: sizes too small for the target to be judged; it is met at full size)"
    return "target met" if ok else "target NOT met"


def topology(quick):
    nelx, nely = (20, 8) if quick else (60, 20)
    for filter, reference, iterations in [("sensitivity", 203.19, 94), ("density", 218.80, 127)]:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = topology_optimization(nelx, nely, 0.5, filter=filter, max_iter=10 if quick else 200)
        error = abs(result.compliance - reference) / reference
        print(f"  MBB {nelx}x{nely}, {filter} filter: compliance {result.compliance:.2f} in {result.iterations} it "
              f"(published {reference} in about {iterations}), error {100 * error:.2f} % "
              f"[{time.perf_counter() - start:.1f} s]  {verdict(error <= 0.01)}")


def inverse(quick):
    K, G = isotropic_moduli(isotropic_stiffness(E=1.0, nu=0.3, ndim=2))
    upper = hashin_shtrikman_bulk(0.5, 0.0, 0.0, K, G, ndim=2)[1]
    cases = [("bulk", (16, 16) if quick else (32, 32), 0), ("poisson", (16, 16) if quick else (48, 48), 2)]
    for objective, shape, seed in cases:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = inverse_homogenization(shape, 0.5, objective, seed=seed, max_iter=20 if quick else 300,
                                            device="cpu")
        elapsed = time.perf_counter() - start
        if objective == "bulk":
            ratio = result.bulk_modulus / upper
            print(f"  bulk modulus, {shape[0]}², f = 0.5: {ratio:.3f} of the Hashin-Shtrikman bound "
                  f"(target >= 0.85), {result.iterations} solves [{elapsed:.1f} s]  {verdict(ratio >= 0.85)}")
        else:
            nu = result.poisson_ratio
            print(f"  auxetic, {shape[0]}², f = 0.5: Poisson's ratio {nu:.3f} (target <= -0.3), "
                  f"{result.iterations} solves [{elapsed:.1f} s]  {verdict(nu <= -0.3)}")


def bayesian(quick):
    seeds = range(2 if quick else 5)
    problems = [("Branin", branin, BRANIN_BOUNDS, BRANIN_MINIMUM, 0.01, 12 if quick else 40, 4),
                ("Hartmann-3", hartmann3, HARTMANN3_BOUNDS, HARTMANN3_MINIMUM, 0.02, 14 if quick else 60, 4)]
    for name, f, bounds, minimum, gap, budget, needed in problems:
        start = time.perf_counter()
        bo = [bayesian_optimization(f, bounds, budget, seed=s) for s in seeds]
        reached = [r.evaluations_to_reach(minimum + gap) for r in bo]
        cap = 50 if quick else 2000
        random = [random_search(f, bounds, cap, seed=s).evaluations_to_reach(minimum + gap) for s in seeds]
        ok = sum(r is not None for r in reached) >= needed
        shown = lambda values: [v if v is not None else f">{cap if values is random else budget}" for v in values]  # noqa: E731
        finite = [v if v is not None else cap for v in random]
        print(f"  {name}: within {gap} of {minimum:.6g} after {shown(reached)} evaluations of BO (budget {budget}); "
              f"random search needs {shown(random)} (median {int(np.median(finite))}) "
              f"[{time.perf_counter() - start:.1f} s]  {verdict(ok)}")


def evolutionary(quick):
    start = time.perf_counter()
    result = evolutionary_optimization(zdt1, ZDT1_BOUNDS, n_objectives=2, population_size=100,
                                       max_iter=10 if quick else 200, vectorized=True, seed=0)
    volume = result.hypervolume((1.1, 1.1))
    print(f"  NSGA-II on ZDT1, {result.n_evaluations} evaluations: hypervolume {volume:.4f} of the exact "
          f"{ZDT1_HYPERVOLUME:.6f} (target >= 0.86) [{time.perf_counter() - start:.1f} s]  "
          f"{verdict(volume >= 0.86)}")


def tandem(quick):
    from mslearn.datasets import spinodoid_metamaterials
    from mslearn.optimization import DirectInverseDesign, TandemInverseDesign, inverse_design_scores

    ds = spinodoid_metamaterials(2000 if quick else None)
    split = ds.split((0.9, 0.0, 0.1), seed=0)
    Z, Y = ds.parameters, ds.targets
    train, test = split["train"], split["test"]
    settings = dict(semicontinuous=ds.metadata["semicontinuous"], random_state=0, device="cpu")
    if quick:
        settings.update(max_iter=5)
    start = time.perf_counter()
    model = TandemInverseDesign(**settings, **({"forward_max_iter": 5} if quick else {})).fit(Z.iloc[train], Y.iloc[train])
    naive = DirectInverseDesign(**settings).fit(Z.iloc[train], Y.iloc[train])
    scores = {name: inverse_design_scores(m, Z.iloc[test], Y.iloc[test], forward=model)
              for name, m in [("tandem", model), ("direct", naive)]}
    ok = scores["tandem"].forward_r2.min() >= 0.99 and scores["tandem"].round_trip_r2.min() >= 0.99
    print(f"  {len(train)} designs to train, {len(test)} held out [{time.perf_counter() - start:.1f} s]")
    print(f"  forward R² per component: {scores['tandem'].forward_r2.min():.4f}-{scores['tandem'].forward_r2.max():.4f}")
    for name, score in scores.items():
        print(f"  {name:7s} round-trip R² {score.round_trip_r2.min():.4f}-{score.round_trip_r2.max():.4f}, "
              f"median relative miss {100 * np.median(score.relative_error):.1f} %")
    print(f"  targets >= 0.99 (forward, round trip)  {verdict(ok)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that the script runs")
    global QUICK
    quick = QUICK = parser.parse_args().quick
    print("Topology optimization (88-line code)")
    topology(quick)
    print("Inverse homogenization through the FFT solver")
    inverse(quick)
    print("Bayesian optimization against random search")
    bayesian(quick)
    print("Evolutionary multi-objective search")
    evolutionary(quick)
    print("Tandem inverse design (spinodoids)")
    tandem(quick)


if __name__ == "__main__":
    main()
