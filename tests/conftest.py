import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# with --doctest-modules, a conftest.py would also be collected as a module, and two of them
# (tests/, book/) clash under the one module name "conftest"
collect_ignore = ["conftest.py"]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` when no CUDA device is present."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def torch_thread_calls(monkeypatch):
    """The thread counts ``torch.set_num_threads`` is called with during the test (the calls go through):
    an estimator's ``cpu_threads`` sets its count and then restores the caller's."""
    import torch

    calls = []
    set_num_threads = torch.set_num_threads

    def spy(n):
        calls.append(n)
        set_num_threads(n)

    monkeypatch.setattr(torch, "set_num_threads", spy)
    return calls
