"""Every notebook under book/: structure rules and a papermill run with small parameters.

The run at the default parameters, with its checked numbers, is the strict book build's
(``tests/test_book.py``). Notebooks are discovered, never listed, so a new chapter is
tested without editing this file.
"""
import json

import nbformat
import papermill
import pytest
import yaml

from notebook_tools import (
    CHECK_MARK,
    KERNEL_NAME,
    ROOT,
    is_checked,
    is_clean,
    notebook_paths,
    parameters_cell,
    read_parameters,
    declared_test_parameters,
    declared_tolerances,
    unknown_parameters,
)

NOTEBOOKS = notebook_paths()
#: Seconds a cell may take in the small-parameter runs: a cell that hangs (once seen in a widgets cell, not
#: reproduced) fails its test instead of holding CI for ever; the slowest cell takes seconds here.
CELL_TIMEOUT = 600
IDS = [str(p.relative_to(ROOT / "book")) for p in NOTEBOOKS]


def _toc_files(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        for key in ("chapters", "sections", "parts"):
            yield from _toc_files(entry.get(key, []))


def test_book_has_notebooks():
    assert NOTEBOOKS, "no notebook found under book/"


def test_every_notebook_is_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = set(_toc_files(toc.get("parts", [])))
    missing = [str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS]
    missing = [m for m in missing if m not in listed]
    assert not missing, f"notebooks missing from _toc.yml (they would not be built): {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_template(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL_NAME
    cell = parameters_cell(nb)
    assert cell is not None, "the first code cell must be tagged 'parameters'"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is cell, "the parameters cell must be the first code cell"
    parameters = read_parameters(nb)
    assert parameters.get("device") == "auto", "notebooks default to device = 'auto'"
    assert "seed" in parameters, "notebooks take a seed parameter"
    assert any(is_checked(c) for c in nb.cells), f"no cell is marked {CHECK_MARK}"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Learning objectives", "Summary", "Exercises", "Running this notebook"):
        assert heading in text, f"the template's section {heading!r} is missing"
    assert is_clean(nb), "stored notebook has execution noise: run `make clean-notebooks`"
    for checked in filter(is_checked, nb.cells):
        assert checked.outputs, "a checked cell has no stored output: run `make refresh-notebooks`"
        tolerances = declared_tolerances(checked.source)
        assert "" in tolerances, "a checked cell declares its tolerance: '# tolerance: rtol=... — what it checks'"
        assert all(t.reason for t in tolerances.values()), "every tolerance says what it checks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_with_small_parameters(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    parameters = declared_test_parameters(nb)
    assert parameters, "declare small parameters in the notebook metadata: mslearn.test_parameters"
    assert not unknown_parameters(nb, parameters), "test parameters not in the parameters cell"
    defaults = read_parameters(nb)
    assert any(defaults[name] != value for name, value in parameters.items())

    # A last cell reports the parameters' values at the end of the run: they must be the injected
    # ones (papermill injected them after the parameters cell and nothing overwrote them). Values are
    # compared as strings where a notebook resolves them, e.g. device = mslearn.device(device).
    report = nbformat.v4.new_code_cell(
        "import json as _json\n"
        f"print('MSLEARN-PARAMETERS ' + _json.dumps({{k: globals()[k] for k in {sorted(parameters)!r}}}, default=str))"
    )
    nb.cells.append(report)
    source = tmp_path / path.name
    nbformat.write(nb, source)
    output = tmp_path / f"out-{path.name}"
    papermill.execute_notebook(
        str(source), str(output), parameters=parameters, kernel_name=KERNEL_NAME,
        cwd=str(path.parent), progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
    )
    executed = nbformat.read(output, as_version=4)
    line = next(
        line for o in executed.cells[-1].outputs for line in o.get("text", "").splitlines()
        if line.startswith("MSLEARN-PARAMETERS ")
    )
    assert json.loads(line.split(" ", 1)[1]) == json.loads(json.dumps(parameters))
