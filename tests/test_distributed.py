"""``mslearn.datasets.generate(..., client=...)`` on a local Dask cluster.

One module-scoped ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` serves every
test (starting one costs seconds). The samplers below are cheap numpy functions: what is tested is
the distribution, the ordering writer and the resume logic, not the solver. They are shipped to the
worker processes by value (``cloudpickle.register_pickle_by_value``), since the workers cannot
import this test module by name.
"""
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mslearn.datasets import generate, load

distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed "
                                  "(pip install 'dask[distributed]'); the distributed generation is optional")
import cloudpickle  # noqa: E402  (a dependency of distributed)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = {"a": (0.0, 1.0), "b": (1.0, 10.0, "log")}
ROOT = Path(__file__).resolve().parents[1]


def noisy(parameters, seeds):
    """Per-sample random images (seeded by the sample's own seed), a target and a ragged entry."""
    images, ragged = [], []
    for (_, row), seed in zip(parameters.iterrows(), seeds):
        rng = np.random.default_rng(seed)
        images.append(row.a * rng.random((6, 5)) + row.b)
        ragged.append(rng.random((1 + int(seed % 4), 2)))
    images = np.stack(images)
    return {"images": images, "mean": images.mean(axis=(1, 2)), "ragged": {"points": ragged},
            "descriptors": {"spread": images.std(axis=(1, 2))}}


noisy.name = "tests.noisy"


def dying(parameters, seeds, *, flag, marks):
    """``noisy``, but the worker process exits (``os._exit``) on the batch holding sample 9 while ``flag``
    exists (the flag is removed first, so the recomputed batch succeeds); each call leaves a mark."""
    first = int(parameters.index[0])
    Path(marks, f"{first}-{os.getpid()}-{time.monotonic_ns()}").touch()
    if 9 in parameters.index and os.path.exists(flag):
        os.remove(flag)
        os._exit(1)
    return noisy(parameters, seeds)


def failing(parameters, seeds, *, bad):
    if bad in parameters.index:
        raise ArithmeticError(f"cannot make sample {bad}")
    time.sleep(0.05 * (len(parameters) - 1 - (int(parameters.index[0]) % 3)))   # finish out of order
    return noisy(parameters, seeds)


def _named(function, **keywords):
    sampler = functools.partial(function, **keywords)
    sampler.name = "tests.noisy"       # the same configuration as ``noisy``: the stores can be compared
    return sampler


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "serial.h5"
    return generate(path, noisy, SPACE, 40, seed=3, batch_size=4, progress=False)


def assert_same(ds, reference, n=None):
    n = len(reference) if n is None else n
    assert len(ds) == n
    np.testing.assert_array_equal(ds.metadata["seeds"], reference.metadata["seeds"][:n])
    assert ds.parameters.equals(reference.parameters.iloc[:n])
    assert ds.targets.equals(reference.targets.iloc[:n])
    assert ds.arrays["images"].tobytes() == reference.arrays["images"][:n].tobytes()
    for i in range(n):
        np.testing.assert_array_equal(ds.ragged("points", i), reference.ragged("points", i))


def test_distributed_is_bit_identical_to_serial(client, serial, tmp_path):
    ds = generate(tmp_path / "d.h5", noisy, SPACE, 40, seed=3, batch_size=4, progress=False, client=client)
    assert_same(ds, serial)
    assert ds.metadata["config"] == serial.metadata["config"]


def test_distributed_resumes_and_extends_a_serial_store(client, serial, tmp_path):
    path = tmp_path / "grow.h5"
    generate(path, noisy, SPACE, 10, seed=3, batch_size=4, progress=False)        # serial, 10
    generate(path, noisy, SPACE, 26, seed=3, batch_size=4, progress=False, client=client)
    ds = generate(path, noisy, SPACE, 40, seed=3, batch_size=4, progress=False)   # serial again
    assert_same(ds, serial)


def test_a_killed_worker_recomputes_its_batch_without_duplicates(client, serial, tmp_path):
    flag, marks = tmp_path / "flag", tmp_path / "marks"
    flag.touch()
    marks.mkdir()
    sampler = _named(dying, flag=str(flag), marks=str(marks))
    ds = generate(tmp_path / "k.h5", sampler, SPACE, 40, seed=3, batch_size=4, progress=False, client=client)
    assert not flag.exists(), "the worker was not killed"
    calls = [name.split("-")[0] for name in os.listdir(marks)]
    assert calls.count("8") >= 2                  # the batch with sample 9 ran on the dead worker and again
    assert_same(ds, serial)                        # nothing lost, duplicated or reordered


def test_a_failing_sampler_names_the_samples_and_keeps_the_store(client, serial, tmp_path):
    path = tmp_path / "f.h5"
    with pytest.raises(RuntimeError, match=r"samples 20\.\.23 .*ArithmeticError: cannot make sample 21"):
        generate(path, _named(failing, bad=21), SPACE, 40, seed=3, batch_size=4, progress=False, client=client)
    kept = load(path)
    assert_same(kept, serial, n=20)               # every batch before the failing one was written
    ds = generate(path, noisy, SPACE, 40, seed=3, batch_size=4, progress=False, client=client)   # resume
    assert_same(ds, serial)


def test_bad_sampler_output_is_a_value_error_with_the_samples(client, tmp_path):
    def short(parameters, seeds):
        return {"y": np.zeros(len(seeds) - 1)}
    with pytest.raises(ValueError, match=r"samples 0\.\.3 .*leading axis of length 4"):
        generate(tmp_path / "s.h5", short, SPACE, 8, seed=0, batch_size=4, progress=False, client=client)


def test_a_store_of_another_configuration_is_refused(client, tmp_path):
    path = tmp_path / "c.h5"
    generate(path, noisy, SPACE, 8, seed=3, batch_size=4, progress=False, client=client)
    with pytest.raises(ValueError, match="differs in: seed"):
        generate(path, noisy, SPACE, 16, seed=4, batch_size=4, progress=False, client=client)
    with pytest.raises(ValueError, match="differs in: parameter_space"):
        generate(path, noisy, {"a": (0.0, 2.0), "b": (1.0, 10.0, "log")}, 16, seed=3, progress=False,
                 client=client)
    assert len(load(path)) == 8


def test_a_bad_client_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="expected a dask.distributed.Client"):
        generate(tmp_path / "x.h5", noisy, SPACE, 4, seed=0, progress=False, client="tcp://nowhere:8786")


def test_a_killed_client_leaves_a_store_that_resumes(client, serial, tmp_path):
    """The writer (the client process) is killed with SIGKILL mid-run; generate resumes the store."""
    path, started = tmp_path / "w.h5", tmp_path / "started"
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import cloudpickle, test_distributed as t
        cloudpickle.register_pickle_by_value(t)
        from dask.distributed import Client
        from mslearn.datasets import generate
        def slow(parameters, seeds):
            if parameters.index[0] >= 12:
                open({str(started)!r}, "a").close()
                time.sleep(0.3)
            return t.noisy(parameters, seeds)
        slow.name = "tests.noisy"
        with Client({client.scheduler.address!r}) as client:
            generate({str(path)!r}, slow, t.SPACE, 40, seed=3, batch_size=4, progress=False, client=client)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert started.exists(), "the subprocess never reached the slow batches"
    partial = load(path)
    assert len(partial) < 40, "the client finished before it was killed"
    if len(partial):                # on a loaded machine the writer may not have written a batch yet
        assert_same(partial, serial, n=len(partial))
    ds = generate(path, noisy, SPACE, 40, seed=3, batch_size=4, progress=False, client=client)
    assert_same(ds, serial)
