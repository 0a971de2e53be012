"""Speed of mslearn.descriptors against plain numpy references measured in the same run.

Run: ``python benchmarks/bench_descriptors.py``. Prints, for each case, our time, the reference's
time, their ratio and whether the target is met. Times are the best of ``REPEATS`` runs on the CPU
with two torch threads (the shared development machine has 2 cores).
"""
import time

import numpy as np
import torch

from mslearn import descriptors as D

REPEATS = 3
torch.set_num_threads(2)


def best_time(function, repeats=REPEATS):
    function()  # warm-up (allocations, FFT plans)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


# --- plain numpy references ---------------------------------------------------------------------

def numpy_s2(image):
    f = np.fft.rfftn(image.astype(np.float64))
    return np.fft.irfftn(f.real**2 + f.imag**2, s=image.shape, axes=range(image.ndim)) / image.size


def numpy_lineal_path_axes(image, max_length):
    """The obvious O(N r) approach: AND of shifted copies, one direction at a time (periodic)."""
    out = []
    for axis in range(image.ndim):
        segment = image.astype(bool)
        row = [segment.mean()]
        for r in range(1, max_length + 1):
            segment = segment & np.roll(image, -r, axis=axis).astype(bool)
            row.append(segment.mean())
        out.append(row)
    return np.array(out)


def numpy_chords_axes(image):
    """Run-length encoding of every line by np.diff (non-periodic chords), all axes."""
    lengths = []
    for axis in range(image.ndim):
        lines = np.moveaxis(image.astype(np.int8), axis, -1).reshape(-1, image.shape[axis])
        padded = np.pad(lines, ((0, 0), (1, 1)))
        change = np.diff(padded, axis=1)
        starts, ends = np.nonzero(change == 1)[1], np.nonzero(change == -1)[1]
        lengths.append(ends - starts)
    return np.bincount(np.concatenate(lengths))


def main(n=128, n_batch=1000):
    rng = np.random.default_rng(0)
    cube = (rng.random((n, n, n)) < 0.4).astype(np.int64)
    # a smoother structure for chords / lineal path (longer runs than i.i.d. pixels)
    smooth = np.fft.irfftn(np.fft.rfftn(rng.standard_normal((n, n, n)))
                           * np.exp(-0.5 * (np.fft.fftfreq(n)[:, None, None] ** 2
                                            + np.fft.fftfreq(n)[None, :, None] ** 2
                                            + np.fft.rfftfreq(n)[None, None, :] ** 2) * (2 * np.pi * 3) ** 2),
                           s=(n, n, n), axes=(0, 1, 2))
    grains = (smooth > 0).astype(np.int64)
    batch = (rng.random((n_batch, 64, 64)) < 0.4).astype(np.int64)
    cube_t = torch.from_numpy(cube).to(torch.float32)

    assert np.allclose(D.two_point_correlation(cube), numpy_s2(cube), atol=1e-12)
    assert np.allclose(D.lineal_path(grains, max_length=31), numpy_lineal_path_axes(grains, 31), atol=1e-12)
    assert np.array_equal(D.chord_length_distribution(grains, periodic=False).counts, numpy_chords_axes(grains)[1:])

    cases = [
        ("S2 128^3 (numpy int -> float64)", 0.05,
         lambda: D.two_point_correlation(cube), lambda: numpy_s2(cube), "numpy rfftn"),
        ("S2 128^3 (torch float32 field)", 0.05,
         lambda: D.two_point_correlation(cube_t), lambda: numpy_s2(cube), "numpy rfftn"),
        ("S2 batch 1000 x 64^2", 1.0,
         lambda: D.two_point_correlation(batch, batch=True),
         lambda: np.stack([numpy_s2(image) for image in batch]), "loop of numpy rfftn"),
        ("lineal path 3 axes 128^3, r <= 127", 1.0,
         lambda: D.lineal_path(grains), lambda: numpy_lineal_path_axes(grains, n - 1), "shifted AND, O(N r)"),
        ("chord lengths 3 axes 128^3", 1.0,
         lambda: D.chord_length_distribution(grains), lambda: numpy_chords_axes(grains), "np.diff RLE (non-periodic)"),
    ]
    header = f"{'case':38s} {'ours [s]':>9s} {'reference [s]':>13s} {'ref/ours':>9s} {'target [s]':>10s}  target met  reference"
    print(header)
    print("-" * len(header))
    for name, target, ours, reference, ref_name in cases:
        t_ours = best_time(ours)
        t_ref = best_time(reference, repeats=1 if "lineal" in name else REPEATS)
        met = "yes" if t_ours < target else "no"
        print(f"{name:38s} {t_ours:9.4f} {t_ref:13.4f} {t_ref / t_ours:9.2f} {target:10.3f}  {met:10s}  {ref_name}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs, not speed")
    arguments = parser.parse_args()
    main(*((32, 50) if arguments.quick else ()))
