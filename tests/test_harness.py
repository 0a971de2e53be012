"""The notebook regression harness catches broken notebooks (checked on tiny fixtures)."""
import subprocess
import sys

import nbformat
import pytest

from notebook_tools import clean, glued_values, is_clean, read_parameters, refresh, unknown_parameters


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


def _nbval(path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    path = _fixture(tmp_path_factory.mktemp("nb") / "fixture.ipynb")
    refresh(path)
    return path


def test_refresh_stores_only_checked_outputs(refreshed):
    nb = nbformat.read(refreshed, as_version=4)
    assert is_clean(nb)
    checked, unchecked = nb.cells[3], nb.cells[4]
    assert checked.outputs[0]["text"] == "0.5\n" and checked.execution_count is not None
    assert unchecked.outputs == [] and unchecked.execution_count is None


def test_unchanged_notebook_passes(refreshed):
    code, log = _nbval(refreshed)
    assert code == 0, log


def test_changed_checked_number_fails(refreshed, tmp_path):
    nb = nbformat.read(refreshed, as_version=4)
    nb.cells[3].outputs[0]["text"] = "0.6\n"  # the stored regression value no longer matches
    path = tmp_path / "changed.ipynb"
    nbformat.write(nb, path)
    code, log = _nbval(path)
    assert code != 0 and "0.6" in log


def test_exception_fails(tmp_path):
    path = _fixture(tmp_path / "broken.ipynb", body="raise RuntimeError('deliberately broken')")
    nb = nbformat.read(path, as_version=4)
    nbformat.write(clean(nb), path)
    code, log = _nbval(path)
    assert code != 0 and "deliberately broken" in log


def test_parameters_are_read_and_misspellings_caught(tmp_path):
    nb = nbformat.read(_fixture(tmp_path / "p.ipynb"), as_version=4)
    assert read_parameters(nb) == {"scale": 1.0, "seed": 0, "device": "auto"}
    assert unknown_parameters(nb, {"scale": 2.0, "scael": 3.0}) == ["scael"]


def test_glued_values_are_read_back(refreshed, tmp_path):
    from notebook_tools import execute

    nb = execute(nbformat.read(refreshed, as_version=4), cwd=tmp_path)
    assert float(glued_values(nb)["doubled"]) == 2.0
