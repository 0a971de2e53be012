"""Throughput of solver-dataset generation (mslearn.datasets.generate) against an unbatched baseline.

Run:  python benchmarks/bench_datasets.py [--n 10000] [--size 32] [--quick]

Case: the particle-composite pipeline of :func:`mslearn.datasets.particle_composites` (hard-core
ellipses, 1-pixel interphase, conductivity solve, descriptors, HDF5 store) at 32² for ``--n``
samples (default 10 000), batched (64 per solve on the CPU, 256 on a GPU). Baseline measured in the
same run: the same pipeline unbatched, one sampler call and one solve per sample, on the first
``n_baseline`` samples. Prints samples/second of both and their ratio [target: batched >= 2x the
unbatched baseline on the CPU; on a GPU the batched run is reported too].
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch

from mslearn.datasets import generate, sample_particle_composites
from mslearn._backend import cpu_threads
from mslearn.datasets.ready import PARTICLE_SPACE


def run(n, size, device, batch_size, folder, name):
    sampler = lambda p, s: sample_particle_composites(p, s, size=size, device=device)  # noqa: E731
    sampler.name = "bench.particles"
    start = time.perf_counter()
    with cpu_threads(1, device):
        generate(Path(folder) / f"{name}.h5", sampler, PARTICLE_SPACE, n, seed=0, batch_size=batch_size,
                 progress=False, metadata={"size": size})
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, n_baseline = (64, 16) if args.quick else (args.n, min(args.n, 200))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    met = True
    with tempfile.TemporaryDirectory() as folder:
        baseline = run(n_baseline, args.size, "cpu", 1, folder, "baseline")
        print(f"baseline (unbatched, one solve per sample, CPU): {baseline:8.1f} samples/s on {n_baseline} samples")
        for device in devices:
            batch = 64 if device == "cpu" else 256
            rate = run(n, args.size, device, batch, folder, f"batched-{device}")
            ratio = rate / baseline
            print(f"batched generate ({device}, batch {batch}): {rate:8.1f} samples/s on {n} samples "
                  f"({n / rate:.0f} s); ratio to baseline {ratio:.1f}x")
            if device == "cpu":
                met = ratio >= 2.0
    print("target met" if met else "target NOT met (batched < 2x unbatched on the CPU)")
    if args.quick:
        print("(--quick: tiny sizes, speed not judged)")


if __name__ == "__main__":
    main()
