"""mslearn.homogenization against independent numpy FFT solvers, side by side, single-threaded.

Run:  python benchmarks/bench_homogenization.py [--size 64] [--size2d 256] [--quick]

Measured in one process, one thread (torch.set_num_threads(1); numpy's pocketfft
is single-threaded and BLAS is limited to one thread), conduction and elasticity, relative residual
||G K e|| / ||G K E|| <= 1e-6, time per load case. Peers (``benchmarks/fft_peers.py``, numpy.fft,
float64, one load case at a time as the reference codes do; every time is the shortest of up to three
runs, fewer once 10 s are spent, against the noise of a shared machine):

* moulinec_suquet — basic scheme (Moulinec & Suquet 1998), continuous Green operator, reference
  medium the mean of the extreme moduli;
* eyre_milton — accelerated scheme (Eyre & Milton 1999, strain form of Michel, Moulinec & Suquet
  2001), reference the geometric mean; both set Gamma0 = C0^-1 on the Nyquist modes of even grids
  (Moulinec & Suquet 1998: zero stress there) and cannot do pores ("—");
* cg_continuous — CG on the Galerkin equation, continuous projection (Zeman et al. 2010), Nyquist
  modes zeroed;
* cg_rotated_numpy — the rotated-scheme CG of mslearn (Willot 2015 projection), plain numpy.

mslearn solves all load cases in one batched call (``conductivity``/``elasticity``, scheme="cg").

Columns: iters (largest over the load cases; * = not converged at max_iter, its time is then a lower
bound), ms/iter (the cost of one more iteration: (time - time at max_iter=1) / (iterations - 1), so
that the set-up -- Green operator, local law, right-hand side, effective tensor -- is not spread over
the iterations; peers: summed over their load cases), setup (time at max_iter=1 minus one iteration,
in FFT pairs), FFT pairs (ms/iter divided by the measured time of one forward + inverse real FFT of
the field the method transforms, the inverse transforming the forward's output as in an iteration:
mslearn the fastest such pair to be had here (torch's transforms; on the CPU also numpy's, the inverse
plain or as mslearn's runs it, by either library, in every combination) of the fields it transforms (conduction: the potential, one
component per load case; elasticity: the strain) for the groups of load cases it solves together,
one pair per group, summed (on the CPU groups sized to the cache, one load case per
group at 64^3; on a GPU all load cases in one (1, loads, components, *N) field); a peer one numpy
rfftn + irfftn of its (components, *N) field), s/load (mslearn: its batched time / number of loads;
peers: time per load case), error
(max |K - K_ref| over the computed columns / max |K_ref|, K_ref the exact value where one exists —
the checkerboard's sqrt(k1 k2), Dykhne 1970 — otherwise a tol 1e-10 solve of the same
discretization: mslearn for the rotated scheme, cg_continuous for the continuous one, and
cg_continuous with G = I on the Nyquist modes for the two fixed-point schemes; "—" where the peer
did not converge or that tight CG needs more than TIGHT_MAX_ITER iterations). Eyre-Milton's error is
larger at the same tol: its effective value <C eps> comes from a not yet compatible iterate, so the
error is linear in its residual, not quadratic as for the compatible iterates of the other methods.
Cells with cubic (square) symmetry give the peers only their distinct load cases (conduction: one;
elasticity: one normal and one shear strain), weighted by multiplicity in the time per load.
Targets: "mslearn ahead of <peer> (time per load)" >= 1 for every case and peer, and
"CG iteration / FFT pair" <= 2 for every case, on the CPU and on a CUDA device. CUDA (when present): every
case again, then 128^3 and 256^3 random spheres and 128^3 elasticity; ``--gpu-only`` skips the peers.
"""
import argparse
import math
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fft_peers as fp  # noqa: E402

from mslearn.homogenization import ConvergenceWarning, conductivity, elasticity  # noqa: E402
from mslearn.homogenization import _fused  # noqa: E402
from mslearn.homogenization import solver  # noqa: E402
from mslearn.homogenization.solver import _groups, _inverse_real_fft  # noqa: E402

torch.set_num_threads(1)
TOL, TIGHT, MAX_ITER, NU = 1e-6, 1e-10, 5000, 0.3
TIGHT_MAX_ITER = 1000       # a tight reference CG that needs more is skipped (error "—")


# ----------------------------------------------------------------------------- microstructures
def lattice(n, d, fraction=0.2):
    """One centred sphere (disk) per periodic cell: a simple cubic (square) lattice."""
    x = np.arange(n) + 0.5 - n / 2
    r = (fraction * 3 / (4 * np.pi)) ** (1 / 3) * n if d == 3 else math.sqrt(fraction / np.pi) * n
    return (sum(np.meshgrid(*[x**2] * d, indexing="ij")) <= r * r).astype(np.int64)


def random_spheres(n, fraction, radius, seed=0):
    """Random overlapping spheres in a periodic n^3 cell until ``fraction`` is reached."""
    rng = np.random.default_rng(seed)
    grid = np.indices((n, n, n)).reshape(3, -1).T
    labels = np.zeros(n**3, dtype=np.int64)
    while labels.mean() < fraction:
        delta = np.abs(grid - rng.random(3) * n)
        delta = np.minimum(delta, n - delta)
        labels[(delta**2).sum(1) <= radius**2] = 1
    return labels.reshape(n, n, n)


def checkerboard(n):
    i = np.arange(n) < n // 2
    return (i[:, None] ^ i[None, :]).astype(np.int64)


def cases(n3, n2, quick):
    """(name, kind, labels, properties, distinct loads [(index, multiplicity)] or None = all, exact or None)."""
    cubic_c, square_c = [(0, 3)], [(0, 2)]
    cubic_e, square_e = [(0, 3), (3, 3)], [(0, 2), (2, 1)]
    sph, disk = lattice(n3, 3), lattice(n2, 2)
    out = [(f"3D {n3}^3 sphere lattice 0.2, k 1:10", "conduction", sph, [1.0, 10.0], cubic_c, None)]
    if not quick:
        out += [(f"3D {n3}^3 sphere lattice 0.2, k 1:{k:g}", "conduction", sph, [1.0, k], cubic_c, None)
                for k in (100.0, 1000.0, 1e-3)]
    out.append((f"3D {n3}^3 sphere lattice 0.2, pores (k 1:0)", "conduction", sph, [1.0, 0.0], cubic_c, None))
    if not quick:
        out.append((f"3D {n3}^3 random spheres 0.12, k 1:100", "conduction",
                    random_spheres(n3, 0.12, 6.0 * n3 / 64), [1.0, 100.0], None, None))
    out.append((f"2D {n2}^2 checkerboard, k 1:10", "conduction", checkerboard(n2), [1.0, 10.0], square_c,
                math.sqrt(10.0) * np.eye(2)))
    for E in (10.0,) if quick else (10.0, 100.0):
        out.append((f"3D {n3}^3 sphere lattice 0.2, E 1:{E:g}", "elasticity", sph, [(1.0, NU), (E, NU)], cubic_e, None))
    if not quick:
        for E in (10.0, 100.0):
            out.append((f"2D {n2}^2 disk lattice 0.2, E 1:{E:g}", "elasticity", disk, [(1.0, NU), (E, NU)],
                        square_e, None))
    return out


# ----------------------------------------------------------------------------- timing
def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best_of(fn, runs=3, budget=10.0):
    """The shortest of up to ``runs`` timed calls (fewer once ``budget`` seconds are spent), and the output."""
    t, out = timed(fn)
    spent = t
    for _ in range(runs - 1):
        if spent > budget:
            break
        t_next, out = timed(fn)
        t, spent = min(t, t_next), spent + t_next
    return t, out


def fft_pair(array):
    """Best of 5: one numpy forward + inverse real FFT over the trailing spatial axes of ``array`` (a peer's
    ``(components, *N)`` field)."""
    axes = tuple(range(1, array.ndim))
    f = lambda: np.fft.irfftn(np.fft.rfftn(array, axes=axes), s=array.shape[1:], axes=axes)  # noqa: E731
    return min(timed(f)[0] for _ in range(5))


def fastest_fft_pair(field):
    """Best of 5 of the fastest forward + inverse real FFT of ``field`` (torch, over its trailing spatial
    axes) that can be had here, run as an iteration runs them: the inverse transforms the forward's
    output. Every combination is timed: torch's transforms, and on the CPU numpy's pocketfft too (the
    inverse plain, and as mslearn's runs it: :func:`_inverse_real_fft`). Timed apart, each on a hot cache, the two
    halves sum to less than the pair costs in any solver (11.6 against 13-14 ms at 64^3 x 6 on an Intel
    Xeon); the peers' pair (:func:`fft_pair`) is timed as a sequence too."""
    d = field.ndim - 3
    axes, shape = tuple(range(-d, 0)), field.shape[-d:]
    if field.is_cuda:
        sync = torch.cuda.synchronize
        forward = [lambda: torch.fft.rfftn(field, dim=axes)]
        inverse = [lambda f: (torch.fft.irfftn(f, s=shape, dim=axes), sync())]
    else:
        array, out = field.numpy(), torch.empty_like(field)
        forward = [lambda: torch.fft.rfftn(field, dim=axes), lambda: torch.from_numpy(np.fft.rfftn(array, axes=axes))]
        inverse = [lambda f: torch.fft.irfftn(f, s=shape, dim=axes),
                   lambda f: np.fft.irfftn(f.numpy(), s=shape, axes=axes),
                   *(mslearn_inverse(library, shape, out, batched)    # mslearn's own, either library and way
                     for library, batched in (("torch", 0), ("torch", math.inf), ("numpy", 0)))]
    best = lambda fn: (fn(), min(timed(fn)[0] for _ in range(5)))[1]  # noqa: E731
    return min(best(lambda: inv(fwd())) for fwd in forward for inv in inverse)


def mslearn_inverse(library, shape, out, batched_bytes):
    """mslearn's inverse (:func:`_inverse_real_fft`) by ``library``, whichever this machine chose, with
    ``solver.CPU_BATCHED_INVERSE_BYTES = batched_bytes`` (0: torch's one field at a time in place; inf: all
    at once), whichever size decides."""
    def inverse(f):
        chosen = solver.CPU_INVERSE_FFT, solver.CPU_BATCHED_INVERSE_BYTES
        solver.CPU_INVERSE_FFT, solver.CPU_BATCHED_INVERSE_BYTES = library, batched_bytes
        try:
            return _inverse_real_fft(f, shape, out)
        finally:
            solver.CPU_INVERSE_FFT, solver.CPU_BATCHED_INVERSE_BYTES = chosen
    return inverse


def group_fft_pairs(loads, c, N, device, transformed):
    """The FFT pairs of mslearn's iteration: the fastest pair (:func:`fastest_fft_pair`) of the field it
    transforms, ``transformed`` components per load case (conduction: the potential, 1; elasticity: the
    strain, c), for each group of systems it solves together (on the CPU, groups sized to the cache by the
    c-component field: ``solver.CPU_GROUP_BYTES``; on a GPU, all loads at once), summed."""
    total = 0.0
    for _, group in _groups(torch.zeros((), dtype=torch.float64, device=device).expand(1, loads, c, *N)):
        total += fastest_fft_pair(torch.randn(1, len(range(loads)[group]), transformed, *N, dtype=torch.float64,
                                              device=device))
    return total


def transformed_components(kind, c):
    """The components per load case that mslearn's CG transforms: the potential (conduction), the strain."""
    return 1 if kind == "conduction" else c


def mslearn_solve(kind, labels, props, tol, max_iter=MAX_ITER, device="cpu"):
    if kind == "conduction":
        return conductivity(labels, props, tol=tol, max_iter=max_iter, device=device)
    return elasticity(labels, [{"E": E, "nu": nu} for E, nu in props], tol=tol, max_iter=max_iter, device=device)


def peer_solve(solver, medium, loads, **options):
    """Distinct load cases one after another: columns, per-load times and iterations, converged."""
    cols, times, its, ok = {}, [], [], True
    for j, _ in loads:
        t, sol = best_of(lambda: solver(medium, j, **options))
        cols[j], ok = sol.effective, ok and sol.converged
        times.append(t)
        its.append(sol.iterations)
    return cols, times, its, ok


def error(cols, ref):
    scale = np.abs(ref).max()
    return max(np.abs(col - ref[:, j]).max() for j, col in cols.items()) / scale


# ----------------------------------------------------------------------------- one case
def run_case(name, kind, labels, props, loads, exact):
    medium = fp.conduction_medium(labels, props) if kind == "conduction" else fp.elastic_medium(labels, props)
    c, L, N = medium.c, medium.c, labels.shape
    loads = loads or [(j, 1) for j in range(L)]
    weight = np.array([m for _, m in loads], dtype=float)
    pores = min(np.asarray(props, dtype=float).reshape(len(props), -1)[:, 0]) == 0
    rows = []

    with warnings.catch_warnings():                                # warm-up, then set-up + one iteration
        warnings.simplefilter("ignore", ConvergenceWarning)
        mslearn_solve(kind, labels, props, TOL, max_iter=1)
        t1 = min(timed(lambda: mslearn_solve(kind, labels, props, TOL, max_iter=1))[0] for _ in range(2))
    t, res = best_of(lambda: mslearn_solve(kind, labels, props, TOL))
    ref_rot = exact if exact is not None else mslearn_solve(kind, labels, props, TIGHT).effective
    pair = group_fft_pairs(L, c, N, "cpu", transformed_components(kind, c))
    pair_field = pair if transformed_components(kind, c) == c else group_fft_pairs(L, c, N, "cpu", c)
    cols = {j: res.effective[:, j] for j in range(L)}
    per_iter = (t - t1) / max(res.iterations - 1, 1)
    rows.append(("mslearn (torch CG)", res.iterations, res.converged, per_iter, pair, t / L,
                 error(cols, ref_rot), t1 - per_iter))
    mslearn_K, mslearn_it = res.effective, res.iterations

    pair_np = fft_pair(np.random.default_rng(0).random((c, *N)))
    refs = {}
    compare = None
    for peer, solver in fp.PEERS.items():
        if pores and peer in ("moulinec_suquet", "eyre_milton"):
            rows.append((peer, None, None, None, None, None, None, None))
            continue
        cols, times, its, ok = peer_solve(solver, medium, loads, tol=TOL, max_iter=MAX_ITER)
        _, times1, _, _ = peer_solve(solver, medium, loads, tol=TOL, max_iter=1)
        if exact is not None:
            ref = exact
        elif peer == "cg_rotated_numpy":
            ref = ref_rot
        elif not ok:                    # no tight solve of a discretization the peer could not solve
            ref = None
        else:
            nyq = "zero" if peer == "cg_continuous" else "identity"
            if nyq not in refs:
                tight, _, _, tight_ok = peer_solve(fp.cg_continuous, medium, loads, tol=TIGHT,
                                                   max_iter=TIGHT_MAX_ITER, nyquist=nyq)
                refs[nyq] = np.stack([tight.get(j, np.zeros(c)) for j in range(c)], 1) if tight_ok else None
            ref = refs[nyq]
        per_iter = (sum(times) - sum(times1)) / max(sum(its) - len(its), 1)
        rows.append((peer, max(its), ok, per_iter, pair_np, float(np.dot(weight, times) / weight.sum()),
                     None if ref is None else error(cols, ref), sum(times1) - len(its) * per_iter))
        if peer == "cg_rotated_numpy":
            dev = max(np.abs(col - mslearn_K[:, j]).max() for j, col in cols.items()) / np.abs(mslearn_K).max()
            compare = (max(its), mslearn_it, dev, rows[0][3] / pair_field if pair_field is not pair else None)
    return rows, compare, mslearn_K


def print_case(name, rows, compare):
    print(f"\n{name}")
    print(f"  {'method':28s} {'iters':>6s} {'ms/iter':>9s} {'FFT pairs':>9s} {'setup':>7s} {'s/load':>9s} {'error':>9s}")
    for method, it, ok, per_iter, pair, per_load, err, setup in rows:
        if it is None:
            print(f"  {method:28s} {'—':>6s} {'—':>9s} {'—':>9s} {'—':>7s} {'—':>9s} {'—':>9s}"
                  "   (no finite reference medium for pores)")
            continue
        its = f"{it}{'' if ok else '*'}"
        err = "—" if err is None else f"{err:9.1e}"
        print(f"  {method:28s} {its:>6s} {per_iter * 1e3:9.2f} {per_iter / pair:9.2f} {setup / pair:7.1f} "
              f"{per_load:9.3f} {err:>9s}")
    it_np, it_ms, dev, field_pairs = compare
    print(f"  numpy rotated CG vs mslearn: iterations {it_np} vs {it_ms}, max |dK| / max |K| = {dev:.1e}")
    if field_pairs is not None:
        print(f"  mslearn transforms the potential, one component per load case (its FFT pairs above); in FFT pairs "
              f"of the gradient field, as the peers transform: {field_pairs:.2f}")


def gpu_section(case_list, cpu_per_load):
    """Every case again on the CUDA device (same sizes, same tol), then larger cells that fill the GPU:
    iterations, ms/iter, the iteration in FFT pairs of the same field on the same device, time per load,
    the speed-up over this run's single-threaded CPU time per load, and the largest deviation of the
    effective tensor from the CPU's (max |dK| / max |K|). Returns the targets' rows."""
    print(f"\nCUDA: {torch.cuda.get_device_name()}, torch {torch.__version__}, float64, same tol")
    print(f"  {'case':44s} {'iters':>5s} {'ms/iter':>8s} {'FFT pairs':>9s} {'s/load':>8s} {'vs CPU':>7s} "
          f"{'|dK| CPU':>9s}")
    big3 = [(f"3D {n}^3 random spheres 0.12, k 1:100", "conduction", random_spheres(n, 0.12, 6.0 * n / 64),
             [1.0, 100.0], None, None) for n in (128, 256)]
    big3.append(("3D 128^3 sphere lattice 0.2, E 1:10", "elasticity", lattice(128, 3), [(1.0, NU), (10.0, NU)],
                 None, None))
    targets = []
    for name, kind, labels, props, _, _ in list(case_list) + big3:
        c = labels.ndim if kind == "conduction" else (3 if labels.ndim == 2 else 6)

        def run(tol=TOL, max_iter=MAX_ITER):
            res = mslearn_solve(kind, labels, props, tol, max_iter=max_iter, device="cuda")
            torch.cuda.synchronize()
            return res

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            run(max_iter=1)
            t1 = min(timed(lambda: run(max_iter=1))[0] for _ in range(3))
        t, res = best_of(run)
        pair = group_fft_pairs(c, c, labels.shape, "cuda", transformed_components(kind, c))
        per_iter = (t - t1) / max(res.iterations - 1, 1)
        if name in cpu_per_load:
            cpu_K, cpu_t = cpu_per_load[name]
            deviation = f"{np.abs(res.effective - cpu_K).max() / np.abs(cpu_K).max():9.1e}"
            speedup = f"{cpu_t / (t / c):7.1f}"
        else:
            deviation, speedup = f"{'—':>9s}", f"{'—':>7s}"
        print(f"  {name:44s} {res.iterations:5d} {per_iter * 1e3:8.2f} {per_iter / pair:9.2f} {t / c:8.4f} "
              f"{speedup} {deviation}")
        torch.cuda.empty_cache()
        targets.append((f"CUDA {name}: CG iteration / FFT pair", f"{per_iter / pair:.2f}", per_iter / pair <= 2))
    return targets


def cpu_only(kind, labels, props):
    """mslearn on the CPU alone (``--gpu-only``): the effective tensor and the time per load."""
    mslearn_solve(kind, labels, props, TOL)                                     # warm up
    t, res = best_of(lambda: mslearn_solve(kind, labels, props, TOL))
    return res.effective, t / res.effective.shape[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="3D cell side (default 64)")
    parser.add_argument("--size2d", type=int, default=256, help="2D cell side (default 256)")
    parser.add_argument("--quick", action="store_true", help="16^3 / 32^2, few cases: checks that the script runs")
    parser.add_argument("--gpu-only", action="store_true",
                        help="no numpy peers: mslearn on one CPU thread, then the CUDA section (needs CUDA)")
    args = parser.parse_args()
    if args.gpu_only and not torch.cuda.is_available():
        parser.error("--gpu-only needs a CUDA device; none is available")
    n3, n2 = (16, 32) if args.quick else (args.size, args.size2d)
    print(f"tol {TOL:g} (||G K e|| / ||G K E||), max_iter {MAX_ITER}, float64, torch threads "
          f"{torch.get_num_threads()}, numpy pocketfft + BLAS 1 thread")
    print("mslearn's element-wise maps on the CPU: "
          + (f"one compiled loop each (numba {version('numba')}, homogenization/_fused.py)" if _fused.NUMBA
             else "torch passes (numba is not installed)")
          + f"; its inverse FFT on the CPU: {solver.CPU_INVERSE_FFT}'s, in two steps (fields of at most "
          f"{solver.CPU_BATCHED_INVERSE_BYTES} bytes all at once, larger ones one at a time in place)")
    targets, cpu_per_load = [], {}
    case_list = cases(n3, n2, args.quick)
    with threadpool_limits(1):
        for name, kind, labels, props, loads, exact in case_list:
            if args.gpu_only:
                cpu_per_load[name] = cpu_only(kind, labels, props)
                continue
            rows, compare, K = run_case(name, kind, labels, props, loads, exact)
            cpu_per_load[name] = (K, rows[0][5])
            print_case(name, rows, compare)
            ours = rows[0]
            targets.append((f"{name}: CG iteration / FFT pair", f"{ours[3] / ours[4]:.2f}", ours[3] / ours[4] <= 2))
            for method, it, ok, _, _, per_load, _, _ in rows[1:]:
                label = f"{name}: mslearn ahead of {method} (time per load)"
                if it is None:
                    targets.append((label, "—", None))
                else:
                    ratio = per_load / ours[5]
                    targets.append((label, f"{'>' if not ok else ''}{ratio:.2f}", ratio >= 1))
    if not args.gpu_only:
        print("\nerror: against the exact value (checkerboard: sqrt(k1 k2), Dykhne) where one exists, otherwise "
              "against")
        print("a tol 1e-10 solve of the same discretization (see the module docstring); * = not converged at "
              "max_iter")
        print("(its time per load is then a lower bound, its error not evaluated: —; nor is it where the tight")
        print(f" reference CG needs more than {TIGHT_MAX_ITER} iterations)")
    if torch.cuda.is_available() and not args.quick:
        targets += gpu_section(case_list, cpu_per_load)
    else:
        print("\nCUDA section skipped: " + ("--quick" if args.quick else "no CUDA device"))
    print()
    width = max(len(t[0]) for t in targets)
    for label, value, met in targets:
        verdict = "n/a (peer needs a finite reference medium)" if met is None else ("yes" if met else "no")
        print(f"{label:{width}s} {value:>7s}  target met: {verdict}")
    if args.quick:
        print("(--quick: tiny sizes, speed not judged)")

if __name__ == "__main__":
    main()
