"""The notebooks' checked numbers hold on other CPUs, not only on the machine that stored them.

Floating-point results differ between machines: SIMD paths of FFTs and BLAS, oneDNN convolution
kernels, the order of reductions with another thread count. A checked number whose tolerance is too
tight, or a result that is not robust, passes only where it was stored. Here every notebook runs
through nbval (``pytest --nbval-lax``, with the tolerances its checked cells declare) under
perturbed numerics, all at once:

- torch restricted to its non-vectorized CPU kernels (``ATEN_CPU_CAPABILITY=default``);
- numpy with the SIMD extensions it dispatches to at run time disabled (``NPY_DISABLE_CPU_FEATURES``);
- one thread instead of several (``OMP_NUM_THREADS=1``, also for BLAS);
- an empty dataset cache, so the solver data is regenerated under the same perturbation.

As each run takes one thread, the runs go in parallel, one per core (at most ``MSLEARN_TEST_WORKERS``,
default 4), each with a dataset cache of its own: on the 2-core CI machines the pass takes about the
time of one run of the book on both cores.
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from notebook_tools import ROOT, notebook_paths

NOTEBOOKS = notebook_paths()
IDS = [str(p.relative_to(ROOT / "book")) for p in NOTEBOOKS]
WORKERS = int(os.environ.get("MSLEARN_TEST_WORKERS", 0)) or max(1, min(4, len(os.sched_getaffinity(0))))


def _numpy_cpu_features():
    """(features numpy dispatches to at run time, features enabled in this process)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return list(__cpu_dispatch__), [feature for feature, enabled in __cpu_features__.items() if enabled]


def _newest_numpy_features():
    dispatched, enabled = _numpy_cpu_features()
    return [feature for feature in dispatched if feature in enabled]


@pytest.fixture(scope="module")
def perturbed(tmp_path_factory):
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return dict(os.environ, ATEN_CPU_CAPABILITY="default", NPY_DISABLE_CPU_FEATURES=" ".join(_newest_numpy_features()),
                MSLEARN_CACHE=str(tmp_path_factory.mktemp("perturbed-cache")), MPLBACKEND="Agg", **threads)


# What jupyter_client raises when a kernel dies before it answers: with kernels started side by side,
# two can be handed the same free port between its choice and its bind ("Address already in use",
# papermill#511). No cell has run then, so the run is started again.
KERNEL_START_FAILURES = ("RuntimeError: Kernel died before replying to kernel_info",
                         "RuntimeError: Kernel didn't respond in")


def _nbval(path, environment, attempts=3):
    for _ in range(attempts):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval-lax", str(path), "-p", "no:cacheprovider", "-q"],
            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=1800)
        if result.returncode == 0 or not any(m in result.stdout + result.stderr for m in KERNEL_START_FAILURES):
            return result
    return result


@pytest.fixture(scope="module")
def perturbed_runs(perturbed, tmp_path_factory, request):
    """The selected notebooks' nbval runs under the perturbation, started at once on ``WORKERS``
    processes: {path: future of the finished process}. Each notebook has a dataset cache of its own,
    so that no two runs write one file and no run depends on another's order."""
    selected = [item.callspec.params["path"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_checked_numbers_hold_under_perturbed_numerics"]
    environments = {path: dict(perturbed, MSLEARN_CACHE=str(tmp_path_factory.mktemp(f"perturbed-cache-{path.stem}")))
                    for path in selected}
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {path: pool.submit(_nbval, path, environments[path]) for path in selected}
        yield futures
        for future in futures.values():
            future.cancel()


def test_the_perturbation_takes_effect(perturbed):
    probe = ("import json, sys, torch\n"
             f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
             "from test_portability import _numpy_cpu_features\n"
             "print(json.dumps({'torch': torch.backends.cpu.get_cpu_capability(), 'threads': torch.get_num_threads(),"
             " 'numpy': _numpy_cpu_features()[1]}))")
    seen = json.loads(subprocess.run([sys.executable, "-c", probe], env=perturbed, capture_output=True, text=True,
                                     check=True).stdout)
    assert seen["torch"] == "DEFAULT" and seen["threads"] == 1
    assert not set(perturbed["NPY_DISABLE_CPU_FEATURES"].split()) & set(seen["numpy"])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_checked_numbers_hold_under_perturbed_numerics(path, perturbed_runs):
    result = perturbed_runs[path].result()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
