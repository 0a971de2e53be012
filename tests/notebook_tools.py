"""Notebook housekeeping shared by the test suite and ``make refresh-notebooks``.

Stored notebooks are kept clean: a code cell keeps its outputs and execution count only when its
first line is ``# NBVAL_CHECK_OUTPUT`` (the marker nbval uses; those outputs are the regression
values); every other cell is stored without outputs, and execution metadata (timings, widget state,
papermill records) is dropped, so a re-run leaves no noise in diffs.

A checked cell declares, right under the marker, how far each of its numbers may move, and why::

    # NBVAL_CHECK_OUTPUT
    # tolerance: atol=0.01 — learned models: R² and errors within 0.01
    # tolerance k_*: rtol=1e-6 — glued effective tensors from a solve to tol = 1e-8
    # tolerance chosen*: exact — printed lines starting with "chosen" are compared as text

Its printed output and glued values are compared number by number (:func:`compare_cell_outputs`):
text exactly, integers exactly (or within ``integers=``), floats within ``atol + rtol |stored|``
plus one unit in the last printed digit. ``pytest --nbval-lax book/...`` applies these rules
(``nbval_tolerance.py``, loaded by ``book/conftest.py``).

Usage::

    python tests/notebook_tools.py refresh book           # execute at defaults, store checked outputs
    python tests/notebook_tools.py clean book             # strip outputs without executing
    python tests/notebook_tools.py check book             # fail if a stored notebook is not clean
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import fnmatch
import math
import re
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


_TOLERANCE_LINE = re.compile(r"^#\s*tolerance(?P<keys>[^:]*):(?P<spec>.*)$")
_SETTING = re.compile(r"(rtol|atol|integers)=(\S+)$")
# a number standing on its own: not part of a name (S2, log10, k11), a version (0.1.0) or a word (3R, 2D)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w]|\.\d)"
                     r"|(?<![\w.])[-+]?(?:nan|inf)(?!\w)")


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How far a checked number may move from its stored value, and why.

    A float passes when ``|new - stored| <= atol + rtol |stored| + q``, where ``q`` is one unit in
    the last printed digit of the more precise of the two (two values within the tolerance can
    round to neighbouring printed values; a full ``repr`` makes ``q`` negligible). Integers
    (counts, iterations) may differ by ``integers``; text is compared exactly, with runs of spaces
    treated as one (a table's column widths follow its numbers). ``exact`` compares the output as
    text, character by character.
    """

    rtol: float = 0.0
    atol: float = 0.0
    integers: int = 0
    exact: bool = False
    reason: str = ""

    def __str__(self):
        if self.exact:
            return "exact"
        settings = ", ".join(f"{name}={getattr(self, name):g}" for name in ("rtol", "atol", "integers")
                             if getattr(self, name))
        return settings or "exact numbers"


def parse_tolerance(spec: str) -> Tolerance:
    """``"rtol=1e-8 atol=0 integers=1 — reason"`` or ``"exact — reason"`` → :class:`Tolerance`."""
    words = spec.split()
    settings, exact, used = {}, False, 0
    for word in words:
        match = _SETTING.match(word.rstrip(",;"))
        if word == "exact":
            exact = True
        elif match:
            settings[match[1]] = int(match[2]) if match[1] == "integers" else float(match[2])
        else:
            break
        used += 1
    if not settings and not exact:
        raise ValueError(f"tolerance {spec.strip()!r}: expected 'exact' or settings rtol=, atol=, integers= "
                         "followed by the reason")
    reason = " ".join(words[used:]).lstrip("—-–: ").strip()
    return Tolerance(exact=exact, reason=reason, **settings)


def declared_tolerances(source: str) -> dict:
    """The tolerances a checked cell declares, by pattern ('' is the cell's default).

    ``# tolerance: rtol=1e-8 — reason`` holds every number the cell prints or glues;
    ``# tolerance r2_*, chosen*: atol=0.01 — reason`` holds the glued values whose names match a
    pattern (``fnmatch``) and the printed lines that do.
    """
    found = {}
    for line in source.splitlines():
        match = _TOLERANCE_LINE.match(line.strip())
        if match:
            tolerance = parse_tolerance(match["spec"])
            for key in [k.strip() for k in match["keys"].split(",") if k.strip()] or [""]:
                found[key] = tolerance
    return found


def tolerance_for(tolerances: dict, subject: str) -> Tolerance:
    """The tolerance for ``subject`` (a glued value's name or a printed line): the first declared
    pattern that matches it, else the cell's default; exact when the cell declares none."""
    for pattern, tolerance in tolerances.items():
        if pattern and fnmatch.fnmatchcase(subject.strip(), pattern):
            return tolerance
    return tolerances.get("", Tolerance(exact=True, reason="no tolerance declared"))


def _quantum(token: str) -> float:
    """One unit in the last printed digit of a float token (0 for nan/inf)."""
    mantissa, _, exponent = token.lower().partition("e")
    if not any(c.isdigit() for c in mantissa):
        return 0.0
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _is_integer(token: str) -> bool:
    return token.lstrip("+-").isdigit()


def _number_differs(stored: str, new: str, tolerance: Tolerance):
    """None when ``new`` is within ``tolerance`` of ``stored``, else the reason."""
    if stored == new:
        return None
    if _is_integer(stored) and _is_integer(new):
        gap = abs(int(new) - int(stored))
        return None if gap <= tolerance.integers else f"{new} vs stored {stored}: integers differ by {gap}"
    if _is_integer(stored) != _is_integer(new):
        return f"{new} vs stored {stored}: one is an integer, the other not"
    a, b = float(stored), float(new)
    if not (math.isfinite(a) and math.isfinite(b)):
        return None if a == b or (math.isnan(a) and math.isnan(b)) else f"{new} vs stored {stored}"
    # the finer of the two: round() drops trailing zeros (0.1 for 0.100), repr() prints all digits
    allowed = tolerance.atol + tolerance.rtol * abs(a) + min(_quantum(stored), _quantum(new))
    gap = abs(b - a)
    return None if gap <= allowed else f"{new} vs stored {stored}: differs by {gap:.3g} > allowed {allowed:.3g}"


def _split_numbers(line: str):
    """(text between the numbers with runs of spaces as one space, the number tokens)."""
    numbers = _NUMBER.findall(line)
    text = [" ".join(part.split()) for part in _NUMBER.split(line)]
    return text, numbers


def compare_text(stored: str, new: str, tolerances: dict, name=None) -> list:
    """Differences between two outputs, number by number and line by line, each line (or the glued
    value ``name``) under its tolerance from ``tolerances`` (see :func:`declared_tolerances`)."""
    if stored == new:
        return []
    stored_lines, new_lines = stored.rstrip("\n").split("\n"), new.rstrip("\n").split("\n")
    if len(stored_lines) != len(new_lines):
        return [f"{len(new_lines)} lines, {len(stored_lines)} stored:\n{new}\nstored:\n{stored}"]
    problems = []
    for old_line, new_line in zip(stored_lines, new_lines):
        tolerance = tolerance_for(tolerances, name if name is not None else old_line)
        if old_line == new_line:
            continue
        if tolerance.exact:
            problems.append(f"{new_line!r} differs from the stored {old_line!r} (compared exactly: {tolerance.reason})")
            continue
        (old_text, old_numbers), (new_text, new_numbers) = _split_numbers(old_line), _split_numbers(new_line)
        if old_text != new_text or len(old_numbers) != len(new_numbers):
            problems.append(f"{new_line!r} differs in its text from the stored {old_line!r}")
            continue
        for old_number, new_number in zip(old_numbers, new_numbers):
            reason = _number_differs(old_number, new_number, tolerance)
            if reason:
                problems.append(f"{new_line!r}: {reason} ({tolerance}: {tolerance.reason})")
    return problems


def _comparable(outputs):
    """What a checked cell is held to, as ``(what, text, glue name)`` items: its stdout (chunks
    joined), the ``text/plain`` forms of its displayed values (including ``glue`` records) and any
    error; images, HTML and stderr are not compared (as with ``nbval --nbval-lax``)."""
    stdout, items = "", []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            stdout += output.get("text", "")
        elif kind in ("display_data", "execute_result"):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            for key, value in sorted(output.get("data", {}).items()):
                if key.endswith("text/plain"):
                    items.append((f"glued value {name!r}" if name else f"displayed {key}", value, name))
        elif kind == "error":
            items.append(("error", f"{output.get('ename')}: {output.get('evalue')}", None))
    return ([("printed output", stdout, None)] if stdout else []) + items


def compare_cell_outputs(source: str, stored_outputs, new_outputs) -> list:
    """Differences between a checked cell's stored outputs and fresh ones, under the tolerances its
    source declares (:func:`declared_tolerances`). Returns messages; empty when they agree."""
    tolerances = declared_tolerances(source)
    stored, new = _comparable(stored_outputs), _comparable(new_outputs)
    if [(what, name) for what, _, name in stored] != [(what, name) for what, _, name in new]:
        return [f"the outputs are {[what for what, _, _ in new]}, the stored ones {[what for what, _, _ in stored]}"]
    problems = []
    for (what, old_text, name), (_, new_text, _) in zip(stored, new):
        problems += [f"{what}: {p}" for p in compare_text(old_text, new_text, tolerances, name)]
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
