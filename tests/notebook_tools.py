"""Notebook housekeeping shared by the test suite and ``make refresh-notebooks``.

Stored notebooks are kept clean: a code cell keeps its outputs and execution count only when its
first line is ``# NBVAL_CHECK_OUTPUT`` (the marker nbval uses; those outputs are the regression
values that :func:`compare_checked` holds a fresh execution to); every other cell is stored without
outputs, and execution metadata (timings, widget state, papermill records) is dropped, so a re-run
leaves no noise in diffs.

Each notebook is executed once per test run, by the strict book build (``tests/test_book.py``), and
its checked cells are compared with the stored ones there — the comparison ``pytest --nbval-lax``
would make, without executing every notebook a second time.

Usage::

    python tests/notebook_tools.py refresh book           # execute at defaults, store checked outputs
    python tests/notebook_tools.py clean book             # strip outputs without executing
    python tests/notebook_tools.py check book             # fail if a stored notebook is not clean
"""
from __future__ import annotations

import ast
import copy
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KERNEL_NAME = "python3"
CELL_METADATA_KEPT = ("tags",)
NOTEBOOK_METADATA_KEPT = ("kernelspec", "language_info", "mslearn")


def notebook_paths(root=ROOT / "book"):
    """Every notebook under ``root`` (build outputs and checkpoints excluded), sorted."""
    root = Path(root)
    paths = [root] if root.suffix == ".ipynb" else root.rglob("*.ipynb")
    return sorted(
        p for p in paths if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARK)


def parameters_cell(nb):
    """The code cell tagged ``parameters`` (papermill's convention), or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def read_parameters(nb) -> dict:
    """Names assigned in the parameters cell, with their literal default values.

    A default that is not a Python literal is returned as the string of its source.
    """
    cell = parameters_cell(nb)
    if cell is None:
        return {}
    values = {}
    for node in ast.parse(cell.source).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Name)]
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets, value = [node.target], node.value
        for target in targets:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                values[target.id] = ast.get_source_segment(cell.source, value)
    return values


def declared_test_parameters(nb) -> dict:
    """The small, non-default parameters a notebook declares for the papermill test."""
    return dict(nb.metadata.get("mslearn", {}).get("test_parameters", {}))


def unknown_parameters(nb, parameters) -> list:
    """Names in ``parameters`` that the notebook's parameters cell does not define.

    papermill only warns about these, so a misspelled name would silently run the defaults.
    """
    known = read_parameters(nb)
    return sorted(name for name in parameters if name not in known)


def clean(nb):
    """Return a copy of ``nb`` with outputs kept only in checked cells and no execution noise."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        kept = {k: v for k, v in cell.get("metadata", {}).items() if k in CELL_METADATA_KEPT}
        cell.metadata = nbformat.NotebookNode(kept)
        if cell.cell_type == "code" and not is_checked(cell):
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = nbformat.NotebookNode(
        {k: v for k, v in nb.metadata.items() if k in NOTEBOOK_METADATA_KEPT}
    )
    if "language_info" in nb.metadata:
        nb.metadata.language_info = nbformat.NotebookNode({"name": "python"})
    return nb


def is_clean(nb) -> bool:
    return nbformat.writes(clean(nb)) == nbformat.writes(nb)


def execute(nb, cwd, timeout=600):
    """Execute ``nb`` (a copy) in ``cwd`` with the current environment's kernel."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def glued_values(nb) -> dict:
    """``myst_nb.glue`` values of an executed notebook, as their ``text/plain`` representation."""
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook", {})
            key = record.get("mime_prefix", "") + "text/plain"
            if "name" in record and key in output.get("data", {}):
                values[record["name"]] = output["data"][key]
    return values


def _comparable(cell):
    """What a checked cell is held to: its stdout (chunks joined), the ``text/plain`` forms of its
    displayed values (including ``glue`` records) and any error; images, HTML and stderr are not
    compared (as with ``nbval --nbval-lax``, whose semantics this follows)."""
    stdout, values = "", []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            stdout += output.get("text", "")
        elif kind in ("display_data", "execute_result"):
            values.append({k: v for k, v in output.get("data", {}).items() if k.endswith("text/plain")})
        elif kind == "error":
            values.append({"error": f"{output.get('ename')}: {output.get('evalue')}"})
    return stdout, values


def compare_checked(stored, executed) -> list:
    """Differences between the checked cells of a stored notebook and of a fresh execution of it.

    Returns a list of messages, empty when every checked cell printed and displayed exactly what is
    stored. Code cells are paired in order (an execution cache may keep only the code cells); a fresh
    execution of a different notebook (other code cells or sources) is a difference too.
    """
    stored_code = [c for c in stored.cells if c.cell_type == "code"]
    executed_code = [c for c in executed.cells if c.cell_type == "code"]
    if len(stored_code) != len(executed_code):
        return [f"the executed notebook has {len(executed_code)} code cells, the stored one {len(stored_code)}"]
    problems = []
    for index, (old, new) in enumerate(zip(stored_code, executed_code)):
        if not is_checked(old):
            continue
        if old.source != new.source:
            problems.append(f"code cell {index}: the executed source differs from the stored one")
            continue
        (old_out, old_values), (new_out, new_values) = _comparable(old), _comparable(new)
        if old_out != new_out:
            problems.append(f"code cell {index} printed\n{new_out}\nbut the stored output is\n{old_out}")
        if old_values != new_values:
            problems.append(f"code cell {index} displayed {new_values}\nbut the stored values are {old_values}")
    return problems


def refresh(path):
    """Execute a notebook at its defaults and store it cleaned; returns the wall time in s."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    executed = execute(nb, cwd=path.parent)
    elapsed = time.perf_counter() - start
    nbformat.write(clean(executed), path)
    return elapsed


def main(argv):
    if len(argv) < 2 or argv[0] not in {"refresh", "clean", "check"}:
        print(__doc__)
        return 2
    command, targets = argv[0], argv[1:]
    paths = [p for target in targets for p in notebook_paths(target)]
    dirty = []
    for path in paths:
        if command == "refresh":
            print(f"{path}: executed in {refresh(path):.1f} s", flush=True)
        elif command == "clean":
            nbformat.write(clean(nbformat.read(path, as_version=4)), path)
        elif not is_clean(nbformat.read(path, as_version=4)):
            dirty.append(path)
    for path in dirty:
        print(f"{path} is not clean: run `make clean-notebooks`")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
