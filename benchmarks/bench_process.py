"""Throughput of the batched process models (mslearn.process): Cahn–Hilliard steps and Potts sweeps.

Run:  python benchmarks/bench_process.py [--runs 16] [--size 64] [--potts-size 128] [--quick]

Cases: ``--runs`` independent runs in one batched call (``batch=True``) of

* ``cahn_hilliard`` on ``--size``² (float64 spectral steps, 200 steps), and
* ``grain_growth`` (Potts Monte Carlo, zero temperature, Moore neighbourhood) on ``--potts-size``²
  from 1 grain per 16 sites, 100 sweeps,

on the CPU (one torch thread) and, when present, on CUDA. Baseline measured in the same run: the same
runs as ``--runs`` sequential unbatched calls on the same device. Prints run-steps (run-sweeps) per
second of both and the ratio batched / unbatched [target on the CPU: batched >= 0.8x the unbatched
calls — on one thread the element-wise work is the same and batching only saves the per-call and
per-operation overhead, so the ratio is near 1 at these sizes and larger for small grids (measured on
2 shared cores: Cahn-Hilliard 64² 1.4x, Potts 128² 1.3x, about 650 unbatched Potts sweeps/s of 128²;
--quick sizes 3-3.5x); on CUDA the batch fills the device and the ratio is reported].
The batched Potts runs are checked to be the unbatched ones (run r = seed + r) bit for bit.
"""
import argparse
import math
import time

import numpy as np
import torch

from mslearn._backend import cpu_threads
from mslearn.process import cahn_hilliard, grain_growth, initial_grains

TARGET_CPU = 0.8


def timed(fn, device, repeat):
    """Best of ``repeat`` wall times (the machine may be shared), synchronizing CUDA."""
    best, out = math.inf, None
    for _ in range(repeat):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def cahn_hilliard_case(runs, size, n_steps, device, repeat):
    batched = lambda: cahn_hilliard((runs, size, size), 0.0, n_steps=n_steps, seed=0, batch=True,  # noqa: E731
                                    device=device)
    single = lambda: [cahn_hilliard((size, size), 0.0, n_steps=n_steps, seed=r, device=device)  # noqa: E731
                      for r in range(runs)]
    cahn_hilliard((2, size, size), 0.0, n_steps=2, batch=True, device=device)            # warm up
    t_batch, _ = timed(batched, device, repeat)
    t_single, _ = timed(single, device, repeat)
    return runs * n_steps / t_batch, runs * n_steps / t_single


def potts_case(runs, size, n_sweeps, device, repeat):
    start = initial_grains((runs, size, size), size * size // 16, seed=0, batch=True)
    batched = lambda: grain_growth(start, n_sweeps=n_sweeps, seed=0, batch=True, device=device)  # noqa: E731
    single = lambda: [grain_growth(start[r], n_sweeps=n_sweeps, seed=r, device=device)  # noqa: E731
                      for r in range(runs)]
    grain_growth(start[:2], n_sweeps=2, batch=True, device=device)                       # warm up
    t_batch, batch_result = timed(batched, device, repeat)
    t_single, single_results = timed(single, device, repeat)
    same = all(np.array_equal(batch_result.labels[r], single_results[r].labels) for r in range(runs))
    return runs * n_sweeps / t_batch, runs * n_sweeps / t_single, same


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--size", type=int, default=64, help="Cahn-Hilliard grid (size^2)")
    parser.add_argument("--potts-size", type=int, default=128, help="Potts grid (size^2)")
    parser.add_argument("--quick", action="store_true", help="4 runs of 16^2 / 32^2: checks that the script runs")
    args = parser.parse_args()
    if args.quick:
        runs, size, potts_size, n_steps, n_sweeps, repeat = 4, 16, 32, 10, 5, 1
    else:
        runs, size, potts_size, n_steps, n_sweeps, repeat = args.runs, args.size, args.potts_size, 200, 100, 3
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    met = True
    print(f"{runs} runs per case; rates in run-steps (Cahn-Hilliard) and run-sweeps (Potts) per second")
    for device in devices:
        with cpu_threads(1, device):
            ch_batch, ch_single = cahn_hilliard_case(runs, size, n_steps, device, repeat)
            po_batch, po_single, same = potts_case(runs, potts_size, n_sweeps, device, repeat)
        for name, batched, single, grid in (("Cahn-Hilliard", ch_batch, ch_single, f"{size}^2"),
                                            ("Potts", po_batch, po_single, f"{potts_size}^2")):
            ratio = batched / single
            print(f"{name:13s} {grid:>6s} {device:4s}: batched {batched:9.0f}/s, unbatched (baseline) "
                  f"{single:9.0f}/s; ratio {ratio:5.2f}x")
            if device == "cpu":
                met &= ratio >= TARGET_CPU
        print(f"Potts batched runs equal the unbatched runs bit for bit ({device}): {same}")
        met &= same
    print("target met" if met else f"target NOT met (batched < {TARGET_CPU}x unbatched on the CPU, "
                                   "or batched Potts runs differ from unbatched ones)")
    if args.quick:
        print("(--quick: tiny sizes, speed not judged)")


if __name__ == "__main__":
    main()
