"""Time of every notebook at its defaults against the house budget: 120 s on a 2-core CPU.

Run: ``python benchmarks/bench_notebooks.py`` after ``make book`` or ``make test`` (minutes otherwise);
``--quick``: only the cheapest notebook (part 3's FFT homogenization), a smoke test; ``--execute``:
run every notebook here even where a build already timed it.

Where the times come from: the book build (``jupyter-book build``, which ``make book`` and the strict
build of ``make test`` run) executes each notebook once and jupyter-cache stores the wall time of that
execution with the executed notebook (``_build/.jupyter_cache``, keyed on the notebook's code). A
notebook whose current code has a record there is read from it; any other is executed here, as the
build would (nbclient, in its own folder, the build's timeout), and timed. Kernel start-up is
included, as a reader who runs the notebook pays it.

The baseline is the budget itself: every notebook runs top to bottom at its defaults on a 2-core CPU
in <= 120 s. The ratio is time / budget; a row meets the budget when it is <= 1. The times are those of
this machine (its CPU and the cores this process may use are printed); a cache written elsewhere
holds that machine's times, and a build on more cores than two understates the budget's case.
"""
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
QUICK = "--quick" in sys.argv
EXECUTE = "--execute" in sys.argv
BUDGET = 120.0
CHEAPEST = "book/part3/fft_homogenization.ipynb"


def notebooks():
    """The notebooks of the table of contents, in its order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = []

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []) + entry.get("chapters", []))

    files.append(toc["root"])
    walk(toc.get("parts", []))
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def cached_seconds(cache, path):
    """The build's execution time of this code of the notebook, or None."""
    if cache is None or EXECUTE:
        return None
    try:
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
    except KeyError:
        return None
    return (record.data or {}).get("execution_seconds")


def executed_seconds(path, timeout):
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    cache_dir = ROOT / config["execute"]["cache"]
    cache = get_cache(str(cache_dir)) if cache_dir.exists() else None
    paths = [ROOT / CHEAPEST] if QUICK else notebooks()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cpu_name()}, {cores} cores usable here; "
          f"budget {BUDGET:.0f} s per notebook at its defaults on 2 cores")
    if cores != 2:
        print(f"note: {cores} cores, not 2: times executed here are not the budget's case")
    print(f"{'notebook':45s} {'seconds':>8s} {'source':>10s} {'ratio':>6s} | verdict")
    rows = []
    for path in paths:
        seconds, source = cached_seconds(cache, path), "build"
        if seconds is None:
            seconds, source = executed_seconds(path, config["execute"]["timeout"]), "executed"
        ratio = seconds / BUDGET
        rows.append(ratio)
        print(f"{str(path.relative_to(ROOT / 'book')):45s} {seconds:8.1f} {source:>10s} {ratio:6.2f} | "
              f"target met: {'yes' if ratio <= 1 else 'no'}", flush=True)
    print(f"\nsummary: {sum(r <= 1 for r in rows)} of {len(rows)} notebooks within the budget; "
          f"largest ratio {max(rows):.2f}")


if __name__ == "__main__":
    main()
