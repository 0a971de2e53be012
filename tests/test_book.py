"""The book builds strictly, and every notebook's checked cells print what is stored.

One strict build (``jupyter-book build -W``) executes every notebook at its defaults against the
current package: a broken reference, citation, toc entry, glue key or a cell that raises fails it.
The same execution is then held to the regression values stored in the notebooks' checked cells
(``# NBVAL_CHECK_OUTPUT``), so each notebook runs once per test session, not once for the build and
once more for nbval.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache

from notebook_tools import ROOT, compare_checked, notebook_paths

BUILD = ROOT / "_build"
NOTEBOOKS = notebook_paths()
IDS = [str(p.relative_to(ROOT / "book")) for p in NOTEBOOKS]


def jupyter_book(*arguments, cwd=ROOT, timeout=3000):
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable) if executable.exists() else shutil.which("jupyter-book")]
    return subprocess.run([*command, *arguments], cwd=cwd, capture_output=True, text=True, timeout=timeout)


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


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_checked_cells_print_the_stored_values(build, path):
    # the build's execution cache holds each notebook as executed (the copies under jupyter_execute
    # are written after rendering, and merging streams for display alters them)
    stored = nbformat.read(path, as_version=4)
    try:
        cache = get_cache(str(BUILD / ".jupyter_cache"))
        executed = cache.get_cache_bundle(cache.match_cache_notebook(stored).pk).nb
    except KeyError:
        pytest.fail(f"the book build did not execute {path.name}:\n{(build.stdout + build.stderr)[-3000:]}")
    problems = compare_checked(stored, executed)
    assert not problems, "\n\n".join(problems) + "\n(if the change is intended: make refresh-notebooks)"
