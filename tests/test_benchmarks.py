"""Every benchmark script still runs (``--quick``: tiny sizes; speed is not judged here)."""
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_tools import ROOT

SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_benchmark_runs_quick(script):
    result = subprocess.run([sys.executable, str(script), "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "target met" in result.stdout or "met" in result.stdout
