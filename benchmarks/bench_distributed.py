"""Throughput of distributed dataset generation (``generate(..., client=...)``) against the serial run.

Run:  python benchmarks/bench_distributed.py [--n 1024] [--size 32] [--batch-size 32] [--quick]

Case: a 2D elasticity dataset, :func:`mslearn.datasets.sample_voxel_composites` with
``property="elasticity"`` (ellipse and level-cut Gaussian-field images at 32², the full 3×3 Mandel
stiffness from the FFT solver, descriptors, HDF5 store), ``--n`` samples (default 1024) in batches of
``--batch-size`` (default 32). Baseline measured in the same run: the same ``generate`` call without a
client (serial, one torch thread). Then on a ``LocalCluster`` of 1 and 2 worker processes (1 thread
each; the writer is this process): one cluster, scaled from 1 to 2 workers, started and with mslearn
imported on the workers before the clock starts (start-up is not throughput). The stores of the
serial and the 2-worker run are compared: they must be bit-identical.

Prints samples/second of each and the ratio to serial, and the overhead per batch: the time a batch
of a no-op sampler takes on 1 worker (submit, ship parameters and results, write) minus the same
serially, per batch. [target on a 2-core machine: 2 workers >= 1.6x serial at batch size 32]

The workers run without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: setting it fixes glibc's
mmap threshold at 128 KiB, so every large temporary array of the solver is a fresh ``mmap`` with its
page faults, which made a batch ~1.5x slower in CPU time on a worker than in this process (measured
here). ``--dask-malloc-trim`` keeps Dask's default to show the difference; book/appendix/scale.md
explains the setting.
"""
import argparse
import functools
import tempfile
import time
from pathlib import Path

import numpy as np

from mslearn._backend import cpu_threads
from mslearn.datasets import generate, load, sample_voxel_composites
from mslearn.datasets.ready import _voxel_space


def noop(parameters, seeds):
    """A sampler that costs nothing: what is left of a batch's time is the distribution's overhead."""
    return {"y": np.zeros(len(seeds)), "images": np.zeros((len(seeds), 32, 32), np.uint8)}


noop.name = "bench.noop"


def timed(path, sampler, n, batch_size, client):
    start = time.perf_counter()
    with cpu_threads(1):
        generate(path, sampler, _voxel_space(2), n, seed=0, batch_size=batch_size, progress=False,
                 metadata={"bench": True}, client=client)
    return time.perf_counter() - start


def warm(client):
    """Import the package on every worker (as the first batch would) before the clock starts."""
    client.run(lambda: __import__("mslearn.datasets.ready") and None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dask-malloc-trim", action="store_true",
                        help="keep Dask's MALLOC_TRIM_THRESHOLD_=65536 on the workers (slower solver)")
    args = parser.parse_args()
    import dask
    from dask.distributed import Client, LocalCluster

    if not args.dask_malloc_trim:
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})

    n, size, batch = (32, 16, 8) if args.quick else (args.n, args.size, args.batch_size)
    sampler = functools.partial(sample_voxel_composites, size=size, ndim=2, property="elasticity", device="cpu")
    sampler.name = "bench.voxel_elasticity"
    n_noop = 16 * batch if args.quick else 64 * batch
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        timed(folder / "warm.h5", sampler, batch, batch, None)             # torch's first-call costs
        serial = timed(folder / "serial.h5", sampler, n, batch, None)
        print(f"serial (baseline, 1 torch thread): {n / serial:8.1f} samples/s on {n} samples of {size}² "
              f"(batch {batch}, {serial:.1f} s)")
        noop_serial = timed(folder / "noop-serial.h5", noop, n_noop, batch, None)
        rates = {}
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as cluster, Client(cluster) as client:
            for workers in (1, 2):
                cluster.scale(workers)
                client.wait_for_workers(workers)
                warm(client)
                timed(folder / f"warm-{workers}.h5", sampler, 2 * workers * batch, batch, client)
                seconds = timed(folder / f"workers-{workers}.h5", sampler, n, batch, client)
                rates[workers] = n / seconds
                print(f"{workers} worker{'s' if workers > 1 else ' '} (processes, 1 thread each): "
                      f"{rates[workers]:8.1f} samples/s ({seconds:.1f} s); ratio to serial {serial / seconds:.2f}x")
                if workers == 1:
                    noop_client = timed(folder / "noop-client.h5", noop, n_noop, batch, client)
                    overhead = (noop_client - noop_serial) / (n_noop // batch)
                    print(f"overhead per batch (no-op sampler, 1 worker minus serial, {n_noop // batch} batches): "
                          f"{1e3 * overhead:.1f} ms = {100 * overhead / (serial * batch / n):.1f} % of a "
                          f"serial batch of {batch}")
        a, b = load(folder / "serial.h5"), load(folder / "workers-2.h5")
        identical = (a.parameters.equals(b.parameters) and a.targets.equals(b.targets)
                     and all(a.arrays[k].tobytes() == b.arrays[k].tobytes() for k in a.arrays))
        print(f"2-worker store bit-identical to the serial one: {identical}")
    ratio = rates[2] * serial / n
    met = identical and ratio >= 1.6
    print(f"target met (2 workers {ratio:.2f}x serial >= 1.6x at batch {batch})" if met else
          f"target NOT met (2 workers {ratio:.2f}x serial, expected >= 1.6x at batch {batch}; identical: {identical})")
    if args.quick:
        print("(--quick: tiny sizes, speed not judged)")
    if not identical:
        raise SystemExit("the distributed store differs from the serial one")


if __name__ == "__main__":
    main()
