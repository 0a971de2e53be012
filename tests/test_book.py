"""The book builds strictly: every notebook executes at its defaults and every reference resolves.

One strict build (``jupyter-book build -W``) executes every notebook against the current package: a
broken reference, citation, toc entry, glue key or a cell that raises fails it. The checked numbers
are compared by nbval (``pytest --nbval-lax book``, part of ``make test``), under the tolerances
each checked cell declares.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_tools import ROOT

BUILD = ROOT / "_build"


def jupyter_book(*arguments, cwd=ROOT, timeout=3000):
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable) if executable.exists() else shutil.which("jupyter-book")]
    # without MPLBACKEND (make test sets Agg for the package tests): with it, the notebook kernels of the
    # book would not use the inline backend and the built pages would have no figures
    environment = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    return subprocess.run([*command, *arguments], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=environment)


@pytest.fixture(scope="module")
def build():
    # the execution cache is keyed on the notebooks' code only: drop it so that every notebook runs
    # against the package as it is now
    shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
    return jupyter_book("build", str(ROOT), "--all", "-W", "--keep-going")


@pytest.mark.slow
def test_book_builds_without_warnings(build):
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-6000:]
    assert (BUILD / "html" / "index.html").exists()
    # equations render without internet: MathJax is served from the book, not from a CDN
    page = (BUILD / "html" / "book" / "part3" / "fft_homogenization.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in page and "cdn.jsdelivr.net/npm/mathjax" not in page
    assert (BUILD / "html" / "_static" / "mathjax" / "tex-chtml.js").exists()
