"""The notebook regression harness catches broken notebooks (checked on tiny fixtures)."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from notebook_tools import (Tolerance, clean, compare_cell_outputs, compare_text,
                            declared_tolerances, execute, glued_values, is_clean, parse_tolerance, read_parameters,
                            refresh, unknown_parameters)


def _fixture(path, body="value = 0.5 * scale\nprint(round(value, 3))", tolerance=""):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("scale = 1.0\nseed = 0\ndevice = 'auto'")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture"),
        parameters,
        nbformat.v4.new_code_cell("from myst_nb import glue\nglue('doubled', 2 * scale, display=False)"),
        nbformat.v4.new_code_cell(f"# NBVAL_CHECK_OUTPUT\n{tolerance}{body}"),
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


def _compare_checked_cell(stored, executed):
    """What nbval (with ``nbval_tolerance``) holds the checked cell of the fixture to."""
    return compare_cell_outputs(stored.cells[3].source, stored.cells[3].outputs, executed.cells[3].outputs)


def test_unchanged_notebook_passes(refreshed):
    assert _compare_checked_cell(nbformat.read(refreshed, as_version=4), _fresh_run(refreshed)) == []


def test_changed_checked_number_fails(refreshed):
    stored = nbformat.read(refreshed, as_version=4)
    stored.cells[3].outputs[0]["text"] = "0.6\n"  # the stored regression value no longer matches
    problems = _compare_checked_cell(stored, _fresh_run(refreshed))
    assert len(problems) == 1 and "'0.5' differs from the stored '0.6'" in problems[0]


def test_split_streams_and_stderr_are_not_differences(refreshed):
    executed = _fresh_run(refreshed)
    text = executed.cells[3].outputs[0]["text"]
    executed.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text[:1]),
                                 nbformat.v4.new_output("stream", name="stdout", text=text[1:]),
                                 nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    assert _compare_checked_cell(nbformat.read(refreshed, as_version=4), executed) == []


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


# ----------------------------------------------------------------------------- tolerances
def test_tolerances_are_declared_per_cell_and_per_glue_key():
    source = ("# NBVAL_CHECK_OUTPUT\n# tolerance: rtol=1e-8 — effective tensor of an exact solve\n"
              "# tolerance r2_*, chosen*: atol=0.01 integers=1 — learned models\nprint(1)")
    found = declared_tolerances(source)
    assert found[""] == Tolerance(rtol=1e-8, reason="effective tensor of an exact solve")
    assert found["r2_*"] == found["chosen*"] == Tolerance(atol=0.01, integers=1, reason="learned models")
    assert parse_tolerance("exact — counts").exact
    with pytest.raises(ValueError, match="expected 'exact' or settings"):
        parse_tolerance("loose")


def test_numbers_are_compared_one_by_one_with_their_tolerance():
    learned = {"": Tolerance(atol=0.01, reason="learned")}
    table = "                 R2    MAE\nrandom forest  0.974  0.106\nlinear        -0.003  0.921\n"
    moved = "                 R2    MAE\nrandom forest  0.974  0.105\nlinear         0.004  0.921\n"
    assert compare_text(table, moved, learned) == []                      # columns realigned, numbers close
    assert compare_text(table, moved.replace("0.105", "0.125"), learned)  # 0.019 > 0.01 + one printed unit
    assert compare_text(table, moved.replace("random forest", "random trees"), learned)   # text is exact
    assert compare_text("iterations: 45\n", "iterations: 46\n", learned)   # integers exact by default
    assert not compare_text("iterations: 45\n", "iterations: 46\n", {"": Tolerance(integers=1)})
    # a rounded number may flip its last digit even under a tight tolerance
    physics = {"": Tolerance(rtol=1e-8)}
    assert not compare_text("k* = 2.156\n", "k* = 2.155\n", physics)
    assert compare_text("k* = 2.15562\n", "k* = 2.15549\n", physics)
    assert not compare_text("0.05725413687140968", "0.05725413687143188", physics)
    # names, versions and words that contain digits are text
    assert compare_text("S2 -> PCA(10) + GP 0.97\n", "S2 -> PCA(11) + GP 0.97\n", learned)
    assert compare_text("log10 E_1 0.99\n", "log10 E_2 0.99\n", learned)
    assert compare_text("mslearn 0.1.0\n", "mslearn 0.1.1\n", learned)
    # a line pattern can hold part of the output exactly
    mixed = {"": Tolerance(atol=0.01), "chosen*": Tolerance(exact=True)}
    assert compare_text("chosen alpha: 0.01\n", "chosen alpha: 0.0001\n", mixed)
    assert not compare_text("test R2: 0.996\n", "test R2: 0.991\n", mixed)


def test_glued_values_use_their_own_tolerance():
    source = "# NBVAL_CHECK_OUTPUT\n# tolerance: exact — counts\n# tolerance k_*: rtol=1e-6 — a solve\n"

    def glued(name, value):
        return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": value},
                                      metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})

    stored = [nbformat.v4.new_output("stream", name="stdout", text="3 of 3 inside\n"), glued("k_eff", "2.1556256385187993")]
    assert compare_cell_outputs(source, stored, [stored[0], glued("k_eff", "2.1556256385182")]) == []
    assert compare_cell_outputs(source, stored, [stored[0], glued("k_eff", "2.1557")])
    assert "the outputs are" in compare_cell_outputs(source, stored, [stored[0]])[0]


@pytest.mark.slow
def test_nbval_checks_a_notebook_under_its_tolerances(tmp_path):
    """``pytest --nbval-lax`` with the project's plugin passes within the tolerance and fails beyond it."""
    path = _fixture(tmp_path / "fixture.ipynb", body="print(round(0.5 * scale, 3))",
                    tolerance="# tolerance: atol=0.01 — a fixture\n")
    refresh(path)

    def nbval(stored_text):
        nb = nbformat.read(path, as_version=4)
        nb.cells[3].outputs[0]["text"] = stored_text
        nbformat.write(nb, path)
        return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "nbval_tolerance", str(path),
                               "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)})

    within = nbval("0.508\n")
    assert within.returncode == 0, within.stdout[-3000:]
    beyond = nbval("0.52\n")
    assert beyond.returncode == 1 and "differs by 0.02" in beyond.stdout, beyond.stdout[-3000:]
