"""The notebook regression harness catches broken notebooks (checked on tiny fixtures)."""
import nbformat
import pytest

from notebook_tools import (clean, compare_checked, execute, glued_values, is_clean, read_parameters, refresh,
                            unknown_parameters)


def _fixture(path, body="value = 0.5 * scale\nprint(round(value, 3))"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("scale = 1.0\nseed = 0\ndevice = 'auto'")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture"),
        parameters,
        nbformat.v4.new_code_cell("from myst_nb import glue\nglue('doubled', 2 * scale, display=False)"),
        nbformat.v4.new_code_cell(f"# NBVAL_CHECK_OUTPUT\n{body}"),
        nbformat.v4.new_code_cell("print('not checked', scale)"),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    path = _fixture(tmp_path_factory.mktemp("nb") / "fixture.ipynb")
    refresh(path)
    return path


def _fresh_run(path):
    return execute(nbformat.read(path, as_version=4), cwd=path.parent)


def test_refresh_stores_only_checked_outputs(refreshed):
    nb = nbformat.read(refreshed, as_version=4)
    assert is_clean(nb)
    checked, unchecked = nb.cells[3], nb.cells[4]
    assert checked.outputs[0]["text"] == "0.5\n" and checked.execution_count is not None
    assert unchecked.outputs == [] and unchecked.execution_count is None


def test_unchanged_notebook_passes(refreshed):
    assert compare_checked(nbformat.read(refreshed, as_version=4), _fresh_run(refreshed)) == []


def test_changed_checked_number_fails(refreshed):
    stored = nbformat.read(refreshed, as_version=4)
    stored.cells[3].outputs[0]["text"] = "0.6\n"  # the stored regression value no longer matches
    problems = compare_checked(stored, _fresh_run(refreshed))
    assert len(problems) == 1 and "printed\n0.5" in problems[0] and "0.6" in problems[0]


def test_unchecked_cells_and_split_streams_are_not_differences(refreshed):
    executed = _fresh_run(refreshed)
    executed.cells[4].outputs = []                                   # unchecked: not compared
    text = executed.cells[3].outputs[0]["text"]
    executed.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text[:1]),
                                 nbformat.v4.new_output("stream", name="stdout", text=text[1:]),
                                 nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    assert compare_checked(nbformat.read(refreshed, as_version=4), executed) == []


def test_other_notebook_or_source_is_a_difference(refreshed):
    stored = nbformat.read(refreshed, as_version=4)
    executed = _fresh_run(refreshed)
    executed.cells[3].source += "\n# edited"
    assert "source differs" in compare_checked(stored, executed)[0]
    executed.cells.pop()
    assert "cells" in compare_checked(stored, executed)[0]


@pytest.mark.slow
def test_an_exception_fails_the_strict_book_build(tmp_path):
    """A notebook whose cell raises fails ``jupyter-book build -W`` (how the test suite executes them)."""
    from test_book import jupyter_book

    nb = nbformat.read(_fixture(tmp_path / "broken.ipynb", body="raise RuntimeError('deliberately broken')"),
                       as_version=4)
    nbformat.write(clean(nb), tmp_path / "broken.ipynb")
    (tmp_path / "_config.yml").write_text("title: fixture\nexecute:\n  execute_notebooks: force\n"
                                          "  allow_errors: false\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: broken\n")
    result = jupyter_book("build", str(tmp_path), "-W", cwd=tmp_path, timeout=600)
    assert result.returncode != 0 and "Executing notebook failed" in result.stdout + result.stderr
    assert "deliberately broken" in (tmp_path / "_build" / "html" / "reports" / "broken.err.log").read_text()


def test_parameters_are_read_and_misspellings_caught(tmp_path):
    nb = nbformat.read(_fixture(tmp_path / "p.ipynb"), as_version=4)
    assert read_parameters(nb) == {"scale": 1.0, "seed": 0, "device": "auto"}
    assert unknown_parameters(nb, {"scale": 2.0, "scael": 3.0}) == ["scael"]


def test_glued_values_are_read_back(refreshed, tmp_path):
    nb = execute(nbformat.read(refreshed, as_version=4), cwd=tmp_path)
    assert float(glued_values(nb)["doubled"]) == 2.0
