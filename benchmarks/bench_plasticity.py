"""J2 elasto-plastic FFT homogenization (mslearn.homogenization.plasticity): cost per load step.

Run:  python benchmarks/bench_plasticity.py [--size2d 64] [--size3d 16] [--quick]

Cases: a two-phase RVE, a centred disk (2D plane strain, 64²) or sphere (3D, 16³) of volume fraction
0.3: an elastic SiC-like inclusion (E 400 GPa, nu 0.2) in an elasto-plastic aluminium-like matrix
(E 70 GPa, nu 0.33, yield stress 100 MPa, hardening 1 GPa), along a 20-step path: uniaxial strain e11
with a little shear, loaded to 3x the matrix yield strain (8 steps), then unloaded and reversed to
-1.5x (12 steps); tol 1e-6, float64, one torch thread. Per load step: Newton corrections and CG
iterations (summed over the corrections); per case the mean wall time per step.

Baseline measured in the same run: the linear elastic solve of the same RVE (``elasticity``, same tol,
its m load cases in one batched call), time per load case; times are the best of 5 (elastic) and 3
(plastic) runs. Ratio: mean time per plastic load step / time per elastic load case [target <= 10: a
plastic step costs a few Newton corrections, each an inexact CG solve. Measured 8 (64²) and 4-5 (16³),
for 4.6x and 2.9x the elastic CG iterations. The baseline's batch of m load cases amortizes the fixed
cost of a CG iteration; at 32² that cost dominates and the ratio is 10-12 for 4.3x the iterations].
GPU (CUDA only, not --quick): 64³ on the GPU, time per load step.
"""
import argparse
import math
import time

import numpy as np
import torch

from mslearn.homogenization import elasticity, plasticity

torch.set_num_threads(1)
TOL = 1e-6
MATRIX = {"E": 70e3, "nu": 0.33, "yield_stress": 100.0, "hardening": 1e3}
INCLUSION = {"E": 400e3, "nu": 0.2, "yield_stress": math.inf, "hardening": 0.0}
TARGET = 10.0


def inclusion(n, d, fraction=0.3):
    x = np.arange(n) + 0.5 - n / 2
    r = (fraction * 3 / (4 * np.pi)) ** (1 / 3) * n if d == 3 else math.sqrt(fraction / np.pi) * n
    return (sum(np.meshgrid(*[x**2] * d, indexing="ij")) <= r * r).astype(np.int64)


def strain_path(d, steps_up=8, steps_down=12):
    """e11 to 3x the matrix yield strain and back to -1.5x, with a shear of a fifth of it."""
    ey = MATRIX["yield_stress"] / MATRIX["E"]
    s = np.concatenate([np.linspace(0, 3, steps_up + 1)[1:], np.linspace(3, -1.5, steps_down + 1)[1:]]) * ey
    m = 3 if d == 2 else 6
    history = np.zeros((len(s), m))
    history[:, 0], history[:, m - 1] = s, 0.2 * math.sqrt(2) * s
    return history


def timed(fn, repeat=1):
    """Best of ``repeat`` wall times (the machine may be shared) and the result."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_case(name, labels, device="cpu"):
    d = labels.ndim
    phases = [MATRIX, INCLUSION]
    history = strain_path(d)
    elasticity(labels, [{"E": p["E"], "nu": p["nu"]} for p in phases], tol=TOL, device=device)       # warm up
    t_el, el = timed(lambda: elasticity(labels, [{"E": p["E"], "nu": p["nu"]} for p in phases], tol=TOL,
                                        device=device), repeat=5)
    per_load = t_el / el.effective.shape[-1]
    t_pl, res = timed(lambda: plasticity(labels, phases, history, tol=TOL, device=device), repeat=3)
    per_step = t_pl / len(history)
    print(f"\n{name}: {len(history)} load steps, tol {TOL:g}")
    print(f"  {'step':>4s} {'e11/e_y':>8s} {'sigma11':>9s} {'Newton':>7s} {'CG':>6s}")
    ey = MATRIX["yield_stress"] / MATRIX["E"]
    for k in range(len(history)):
        print(f"  {k:4d} {history[k, 0] / ey:8.2f} {float(res.stress[k, 0]):9.2f} {res.newton_iterations[k]:7d} "
              f"{res.cg_iterations[k]:6d}")
    ratio = per_step / per_load
    print(f"  Newton corrections per step {res.newton_iterations.mean():.1f} (max {res.newton_iterations.max()}), "
          f"CG iterations per step {res.cg_iterations.mean():.0f}; the elastic solve: {el.iterations} CG iterations "
          f"(ratio {res.cg_iterations.mean() / el.iterations:.1f})")
    print(f"  time per plastic step {per_step * 1e3:.1f} ms, elastic solve per load case {per_load * 1e3:.1f} ms, "
          f"ratio {ratio:.2f}; converged: {res.converged}")
    return ratio


def gpu_section(quick):
    if quick or not torch.cuda.is_available():
        print("\nGPU 64^3 skipped: " + ("--quick" if quick else "no CUDA device"))
        return
    labels = torch.as_tensor(inclusion(64, 3), device="cuda")
    history = strain_path(3)
    plasticity(labels[:16, :16, :16], [MATRIX, INCLUSION], history[:2], device="cuda")          # warm up
    torch.cuda.synchronize()
    t, res = timed(lambda: (plasticity(labels, [MATRIX, INCLUSION], history, tol=TOL, device="cuda"),
                            torch.cuda.synchronize())[0])
    print(f"\nGPU 64^3: {t / len(history) * 1e3:.1f} ms per load step, Newton {res.newton_iterations.tolist()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size2d", type=int, default=64)
    parser.add_argument("--size3d", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="16^2 / 8^3: checks that the script runs")
    args = parser.parse_args()
    n2, n3 = (16, 8) if args.quick else (args.size2d, args.size3d)
    targets = []
    for name, labels in ((f"2D {n2}^2 disk 0.3, plane strain", inclusion(n2, 2)),
                         (f"3D {n3}^3 sphere 0.3", inclusion(n3, 3))):
        ratio = run_case(name, labels)
        targets.append((f"{name}: time per plastic step / elastic solve per load case", ratio))
    gpu_section(args.quick)
    print()
    width = max(len(label) for label, _ in targets)
    for label, ratio in targets:
        print(f"{label:{width}s} {ratio:6.2f}  target <= {TARGET:g} met: {'yes' if ratio <= TARGET else 'no'}")
    if args.quick:
        print("(--quick: tiny sizes, speed not judged)")


if __name__ == "__main__":
    main()
