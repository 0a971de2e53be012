"""The book builds strictly, and the numbers it executes are the checked ones.

One strict build (``jupyter-book build -W``) executes every notebook at its defaults against the
current package: a broken reference, citation, toc entry, glue key or a cell that raises fails it.
The same execution is then held to the stored checked cells (``# NBVAL_CHECK_OUTPUT``) under the
tolerances each declares, exactly as nbval does (``tests/nbval_tolerance.py`` applies the same
comparison, :func:`notebook_tools.compare_cell_outputs`, to ``pytest --nbval-lax``): the build
writes every executed notebook to ``_build/jupyter_execute``. One execution serves both checks, so
that ``make test`` runs each chapter at its defaults twice (here, and under perturbed numerics in
``tests/test_portability.py``), not three times.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from notebook_tools import ROOT, compare_cell_outputs, is_checked, notebook_paths

BUILD = ROOT / "_build"
EXECUTED = BUILD / "jupyter_execute"
NOTEBOOKS = notebook_paths()
IDS = [str(p.relative_to(ROOT / "book")) for p in NOTEBOOKS]


def jupyter_book(*arguments, cwd=ROOT, timeout=5000):
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
    # against the package as it is now; drop the executed copies so that none is left from an old build
    shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
    shutil.rmtree(EXECUTED, ignore_errors=True)
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


def _is_stdout(output):
    return output.get("output_type") == "stream" and output.get("name") == "stdout"


def _without_glue(stored_outputs):
    """A stored cell's outputs less its ``glue`` records: MyST-NB renders those into the pages and
    leaves them out of ``jupyter_execute`` (the stdout chunks are joined by the comparison)."""
    return [output for output in stored_outputs if not output.get("metadata", {}).get("scrapbook")]


def _without_merged_chunks(executed_outputs):
    """An executed cell's outputs as they were printed: with ``nb_merge_streams`` MyST-NB merges every
    stdout chunk into the first and leaves the later chunks in its copy as well; those are dropped."""
    first = next((output for output in executed_outputs if _is_stdout(output)), None)
    return [output for output in executed_outputs if not _is_stdout(output) or output is first]


def checked_cell_problems(stored, executed) -> list:
    """Messages for each checked cell of ``stored`` whose outputs in ``executed`` (the same notebook,
    as the book build executed and wrote it) differ beyond the cell's declared tolerances; empty when
    all agree. The build's copy holds no glued values: those are compared under perturbed numerics
    (``tests/test_portability.py``) and in the handouts' tests."""
    if [c.source for c in stored.cells] != [c.source for c in executed.cells]:
        return ["the executed notebook's cells are not the stored ones: was the notebook edited during the build?"]
    problems = []
    for index, (old, new) in enumerate(zip(stored.cells, executed.cells)):
        if old.cell_type == "code" and is_checked(old):
            first = next((line for line in old.source.splitlines()[1:] if line.strip()), "")
            problems += [f"cell {index} ({first[:60]!r}): {p}"
                         for p in compare_cell_outputs(old.source, _without_glue(old.outputs),
                                                       _without_merged_chunks(new.get("outputs", [])))]
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_checked_numbers_match_the_stored_ones(build, path):
    executed = EXECUTED / path.relative_to(ROOT)
    assert executed.exists(), f"the build wrote no executed copy of {path.name} (see the build test's log)"
    problems = checked_cell_problems(nbformat.read(path, as_version=4), nbformat.read(executed, as_version=4))
    assert not problems, "\n".join(problems) + "\nIf the change is intended: make refresh-notebooks"


# what a cell ending in fig.colorbar(...), fig.suptitle(...) or ax.plot(...) leaves as its only result
OBJECT_REPR = re.compile(r"^[\[(]?(<matplotlib\.|<mpl_toolkits\.|Text\(|Line2D\()")


def object_reprs(notebook) -> list:
    """Cells whose result on the page is a matplotlib object's repr alone (text with no richer format)."""
    return [f"cell {index} ({cell.source.strip().splitlines()[-1][:60]!r}): {output.data['text/plain'][:60]}"
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "execute_result"
            and set(output.get("data", {})) == {"text/plain"} and OBJECT_REPR.match(output.data["text/plain"])]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pages_show_no_matplotlib_object_reprs(build, path):
    """'<matplotlib.colorbar.Colorbar at 0x...>' under a figure says nothing to a reader: end the cell with
    ';' or another statement (two chapters and fe2's 'Text(0.5, 0.98, ...)' showed one)."""
    executed = EXECUTED / path.relative_to(ROOT)
    assert executed.exists(), f"the build wrote no executed copy of {path.name} (see the build test's log)"
    found = object_reprs(nbformat.read(executed, as_version=4))
    assert not found, "\n".join(found)


def test_object_reprs_are_found():
    cells = [nbformat.v4.new_code_cell("fig.colorbar(image)"), nbformat.v4.new_code_cell("fig"),
             nbformat.v4.new_code_cell("len(x)")]
    cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "<matplotlib.colorbar.Colorbar "
                                                                                     "at 0x7f6a>"})]
    cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "<Figure size 640x480>",
                                                                       "image/png": "iVBOR"})]     # the image shows
    cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "3"})]
    found = object_reprs(nbformat.v4.new_notebook(cells=cells))
    assert len(found) == 1 and "Colorbar" in found[0]


def test_the_comparison_catches_a_changed_number():
    source = "# NBVAL_CHECK_OUTPUT\n# tolerance: rtol=1e-3 — a test\nprint(1.0)"
    stored = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    stored.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.0000\n")]
    close, far = nbformat.from_dict(stored), nbformat.from_dict(stored)
    close.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.0004\n")]
    far.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.0100\n")]
    assert checked_cell_problems(stored, close) == []
    assert "1.0100" in checked_cell_problems(stored, far)[0]
    as_built = nbformat.from_dict(stored)       # glue dropped, stdout merged into the first chunk and repeated
    stored.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.0000\n"),
                               nbformat.v4.new_output("display_data", data={"text/plain": "2"},
                                                      metadata={"scrapbook": {"name": "x"}}),
                               nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    as_built.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.0000\ndone\n"),
                                 nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    assert checked_cell_problems(stored, as_built) == []
    moved = nbformat.from_dict(stored)
    moved.cells.insert(0, nbformat.v4.new_markdown_cell("new"))
    assert "not the stored ones" in checked_cell_problems(stored, moved)[0]
