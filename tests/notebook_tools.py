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
    python tests/notebook_tools.py tag book               # tag solutions and test scaffolding (idempotent)
    python tests/notebook_tools.py check-tags book        # fail if a notebook's tags are not up to date
    python tests/notebook_tools.py handouts [--instructor [--keep-checks]] [--out DIR] [book]

Student copies (``handouts``) are the notebooks without solutions and without test scaffolding
(:func:`student_copy`); ``--instructor`` keeps the solutions, ``--keep-checks`` also the scaffolding.
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
    if argv and argv[0] in {"tag", "check-tags", "handouts"}:
        return scaffolding_main(argv)
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


# --- Solutions and test scaffolding: tags, student and instructor copies -------------------------
#
# The book's notebooks carry what a reader or a student does not need: the nbval marker and the
# tolerance lines of checked cells, ``glue(...)`` calls that hand numbers to the prose, the claims the
# tests assert (``assert`` statements, ``if check_claims:`` blocks) and the exercises' solutions
# (``:::{admonition} Solution`` blocks, ``:class: dropdown``, in Markdown cells, and the code cells that
# compute them, whose first line is a ``# Solution ...`` comment: executed with the chapter, so the
# numbers a solution quotes are the ones its code gives, and collapsed in the HTML). The functions below
# find them from the content alone, so the same rules tag the notebooks (``tag``), hide the
# scaffolding in the HTML (book/_ext/mslearn_html.py) and write the handouts (``handouts``).

SOLUTION_TAG, CHECK_TAG, CLAIMS_TAG = "has-solution", "check-output", "claims"
GLUE_ONLY_TAG, CLAIMS_ONLY_TAG, REMOVE_TAG = "glue-only", "claims-only", "remove-cell"
SOLUTION_CODE_TAG, HIDE_TAG = "solution", "hide-cell"
# the tags `tag` manages: it adds and removes exactly these; every other tag (parameters,
# remove-output, ...) is left as it is
MANAGED_TAGS = (CHECK_TAG, CLAIMS_TAG, GLUE_ONLY_TAG, CLAIMS_ONLY_TAG, REMOVE_TAG, SOLUTION_TAG,
                SOLUTION_CODE_TAG, HIDE_TAG)

# an opening fence of a MyST directive (``` or :::, three or more) and its argument
_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,}|~{3,})\s*(?P<info>.*)$")
# a solution: {admonition} Solution..., {dropdown} Solution..., or sphinx-exercise's {solution}
_SOLUTION_INFO = re.compile(r"^\{(?:admonition|dropdown)\}\s*solution\b|^\{solution(?:-start)?\}", re.I)
_SOLUTION_CODE = re.compile(r"^#\s*solution\b", re.I)
_GLUE_ROLE = re.compile(r"\{glue(?::\w*)?\}`(?P<key>[^`:]+)(?::[^`]*)?`")
_GLUE_IMPORT = re.compile(r"^from\s+myst_nb\s+import\s+glue\s*(#.*)?$")


def is_scaffolding_comment(line: str) -> bool:
    """The nbval marker or a ``# tolerance`` line (see :func:`declared_tolerances`)."""
    stripped = line.strip()
    return stripped.startswith(CHECK_MARK) or bool(_TOLERANCE_LINE.match(stripped))


def split_solutions(markdown: str):
    """``(markdown without its solution blocks, number removed)``.

    A solution block is a fenced MyST directive (``:::`` or ```` ``` ````, any length) whose argument is
    ``{admonition} Solution...`` (any class: ``:class: dropdown`` is the book's form), ``{dropdown}
    Solution...`` or ``{solution}``; it ends at the first bare fence of the same character and at least
    the same length (a ```` ```python ```` block inside a ``:::`` fence stays inside it, as in MyST).
    """
    text, blocks = _split_solutions(markdown)
    return text, len(blocks)


def solution_blocks(markdown: str) -> list:
    """The solution blocks of ``markdown`` (:func:`split_solutions`), each as its text with its fences."""
    return _split_solutions(markdown)[1]


def _split_solutions(markdown: str):
    lines, kept, blocks = markdown.split("\n"), [], []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if match and _SOLUTION_INFO.match(match["info"].strip()):
            fence = match["fence"]
            close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
            j = i + 1
            while j < len(lines) and not close.match(lines[j]):
                j += 1
            blocks.append("\n".join(lines[i:j + 1]))
            i = j + 1
            # the blank line before the block goes with it
            while kept and not kept[-1].strip() and i < len(lines) and not lines[i].strip():
                kept.pop()
            continue
        kept.append(lines[i])
        i += 1
    text = "\n".join(kept)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n") if blocks else text
    return text, blocks


def has_solution(markdown: str) -> bool:
    return split_solutions(markdown)[1] > 0


def is_solution_code(source: str) -> bool:
    """A code cell that computes an exercise's solution: its first line after the nbval marker and the
    tolerance lines is a comment ``# Solution ...`` (``# Solution to Exercise 2``)."""
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped and not is_scaffolding_comment(stripped):
            return bool(_SOLUTION_CODE.match(stripped))
    return False


def _is_glue_call(node) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    return (isinstance(func, ast.Name) and func.id == "glue") or (
        isinstance(func, ast.Attribute) and func.attr == "glue")


def _is_claims_block(node) -> bool:
    """``if check_claims:`` (or ``if check_claims and ...:`` of plain names), without an ``else``."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    parts = list(ast.walk(node.test))
    plain = all(isinstance(n, (ast.Name, ast.BoolOp, ast.And, ast.Load)) for n in parts)
    return plain and "check_claims" in {n.id for n in parts if isinstance(n, ast.Name)}


def _scaffolding_kind(node):
    """'glue', 'claims', both (a set) for a statement that is only scaffolding, else None.

    Scaffolding is a ``glue(...)`` call, an ``assert``, an ``if check_claims:`` block, or an ``if``
    or ``for`` statement whose every branch holds only scaffolding.
    """
    if _is_glue_call(node):
        return {"glue"}
    if isinstance(node, ast.Assert) or _is_claims_block(node):
        return {"claims"}
    if isinstance(node, (ast.If, ast.For)) and not (isinstance(node, ast.For) and node.orelse):
        kinds = [_scaffolding_kind(child) for child in node.body + node.orelse]
        if kinds and all(kinds):
            return set().union(*kinds)
    return None


@dataclasses.dataclass(frozen=True)
class Scaffolding:
    """What a code cell holds of the book's scaffolding (:func:`code_scaffolding`)."""

    checked: bool          # first line is the nbval marker
    kinds: frozenset       # 'glue' and/or 'claims' statements found anywhere in the cell
    only: bool             # every statement is scaffolding: nothing is left without it
    removable: tuple       # (first line, last line) of each statement to drop, 1-based, sorted
    parsed: bool = True    # False when the source is not plain Python (magics): nothing found


def code_scaffolding(source: str) -> Scaffolding:
    """Find the scaffolding statements of a code cell (glue calls, claims)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return Scaffolding(source.lstrip().startswith(CHECK_MARK), frozenset(), False, (), parsed=False)
    kinds, removable = set(), []

    def visit(body):
        """Collect removable statements of ``body``; True when all of them are."""
        every = True
        for node in body:
            kind = _scaffolding_kind(node)
            if kind:
                kinds.update(kind)
                removable.append(node)
                continue
            every = False
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt) \
                        and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    # inside a loop or a branch that does more: drop its scaffolding, keep the rest
                    start = len(removable)
                    if visit(inner):      # a branch that would be left empty keeps its statements
                        del removable[start:]
            for handler in getattr(node, "handlers", []):
                start = len(removable)
                if visit(handler.body):
                    del removable[start:]
        return every

    only = visit(tree.body) and bool(tree.body)
    # a statement that shares a line with one that stays (``a = 1; glue(...)``) stays too
    inside = {id(n) for node in removable for n in ast.walk(node)}
    kept_lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and id(node) not in inside:
            # a compound statement that stays owns its header line, a simple one all its lines
            kept_lines.update([node.lineno] if hasattr(node, "body") else range(node.lineno, node.end_lineno + 1))
    removable = sorted({(n.lineno, n.end_lineno) for n in removable
                        if not kept_lines & set(range(n.lineno, n.end_lineno + 1))})
    return Scaffolding(source.lstrip().startswith(CHECK_MARK), frozenset(kinds), only, tuple(removable))


def _drop_lines(lines, drop) -> str:
    """``lines`` without the 1-based line numbers in ``drop``; a blank line that would follow
    another one where lines were taken out goes too, and so do blank lines at the start and end
    (blank lines elsewhere, e.g. in a string, are left alone)."""
    kept, previous_dropped = [], False
    for number, line in enumerate(lines, 1):
        if number in drop:
            previous_dropped = True
            continue
        if previous_dropped and not line.strip() and (not kept or not kept[-1].strip()):
            continue
        previous_dropped = False
        kept.append(line)
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def strip_code(source: str, glue=True, claims=True, markers=True) -> str:
    """A code cell's source without the nbval marker and tolerance lines (``markers``), its ``glue``
    calls (``glue``) and its asserted claims (``claims``); statements that would be left empty go too."""
    found = code_scaffolding(source)
    lines = source.split("\n")
    drop = set()
    if markers:
        drop |= {i for i, line in enumerate(lines, 1) if is_scaffolding_comment(line)}
    wanted = ({"glue"} if glue else set()) | ({"claims"} if claims else set())
    if found.parsed and wanted:
        tree = ast.parse(source)
        spans = set(found.removable)
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt) and (node.lineno, node.end_lineno) in spans:
                kind = _scaffolding_kind(node)
                if kind and kind <= wanted:
                    drop |= set(range(node.lineno, node.end_lineno + 1))
    if not drop:
        return source
    return _drop_lines(lines, drop)


def _has_statements(source: str) -> bool:
    try:
        return bool(ast.parse(source).body)
    except SyntaxError:
        return bool(source.strip())


def expected_tags(cell) -> list:
    """The managed tags (:data:`MANAGED_TAGS`) that ``cell``'s content calls for, in their order.

    ``check-output``: a checked cell; ``claims``: it asserts a claim; ``glue-only``/``claims-only``:
    nothing is left without its glue calls / claims (``remove-cell`` then hides it in the HTML: myst-nb
    still reads glued values from a removed cell); ``has-solution``: a Markdown cell with a solution;
    ``solution`` and ``hide-cell``: a code cell that computes a solution (:func:`is_solution_code`),
    collapsed in the HTML.
    """
    tags = set()
    if cell.cell_type == "markdown":
        if has_solution(cell.source):
            tags.add(SOLUTION_TAG)
    elif cell.cell_type == "code":
        found = code_scaffolding(cell.source)
        if found.checked:
            tags.add(CHECK_TAG)
        if "claims" in found.kinds:
            tags.add(CLAIMS_TAG)
        if found.only and not found.checked:
            tags.add(GLUE_ONLY_TAG if "glue" in found.kinds else CLAIMS_ONLY_TAG)
            tags.add(REMOVE_TAG)
        if is_solution_code(cell.source):
            tags.update((SOLUTION_CODE_TAG, HIDE_TAG))
    return [t for t in MANAGED_TAGS if t in tags]


def tag_notebook(nb):
    """A copy of ``nb`` whose cells carry exactly the managed tags their content calls for, after the
    tags they had that ``tag`` does not manage (deterministic and idempotent)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        old = list(cell.get("metadata", {}).get("tags", []))
        new = [t for t in old if t not in MANAGED_TAGS] + expected_tags(cell)
        if new == old:
            continue
        if new:
            cell.metadata["tags"] = new
        else:
            cell.metadata.pop("tags", None)
    return nb


def tag_problems(nb) -> list:
    """Cells whose managed tags differ from what their content calls for, as messages."""
    problems = []
    for index, (cell, tagged) in enumerate(zip(nb.cells, tag_notebook(nb).cells)):
        have = [t for t in cell.get("metadata", {}).get("tags", []) if t in MANAGED_TAGS]
        want = [t for t in tagged.get("metadata", {}).get("tags", []) if t in MANAGED_TAGS]
        if have != want:
            first = cell.source.strip().split("\n", 1)[0][:60]
            problems.append(f"cell {index} ({cell.cell_type}, {first!r}): tags {have}, expected {want}")
    return problems


def student_copy(nb, solutions=False, checks=False):
    """A handout of ``nb``: outputs cleared; without solutions (their Markdown blocks and the code cells
    that compute them) unless ``solutions``; without the test
    scaffolding unless ``checks`` (nbval markers and tolerance lines, glue calls and the cells that only
    glue, asserted claims, the managed tags and the test parameters; ``{glue:text}`name``` in the prose
    becomes ```name```). The parameters cell stays, so the copy still runs with papermill."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if not solutions:
                cell.source = split_solutions(cell.source)[0]
            if not checks:
                cell.source = _GLUE_ROLE.sub(lambda m: f"`{m['key'].strip()}`", cell.source)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            if not solutions and is_solution_code(cell.source):
                continue
            cell.outputs, cell.execution_count = [], None
            if not checks:
                cell.source = strip_code(cell.source)
                if not _has_statements(cell.source):
                    continue
        tags = [t for t in cell.get("metadata", {}).get("tags", []) if checks or t not in MANAGED_TAGS]
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        cells.append(cell)
    nb.cells = cells
    if not checks and not any(re.search(r"\bglue\b", _without_glue_import(c.source))
                              for c in cells if c.cell_type == "code"):
        for cell in cells:
            if cell.cell_type == "code":
                cell.source = _without_glue_import(cell.source)
    nb.metadata = nbformat.NotebookNode({k: v for k, v in nb.metadata.items() if k in NOTEBOOK_METADATA_KEPT})
    if not checks:
        nb.metadata.pop("mslearn", None)
    if "language_info" in nb.metadata:
        nb.metadata.language_info = nbformat.NotebookNode({"name": "python"})
    return nb


def _without_glue_import(source: str) -> str:
    lines = source.split("\n")
    drop = {i for i, line in enumerate(lines, 1) if _GLUE_IMPORT.match(line.strip())}
    return _drop_lines(lines, drop) if drop else source


def handouts_folder(out=None, solutions=False):
    """Where :func:`write_handouts` writes: ``out``, or ``_build/handouts/students`` (``.../instructors``)."""
    return Path(out) if out else ROOT / "_build" / "handouts" / ("instructors" if solutions else "students")


def write_handouts(root=ROOT / "book", out=None, solutions=False, checks=False):
    """Write :func:`student_copy` of every notebook under ``root`` into ``out`` (default
    ``_build/handouts/students`` or ``.../instructors``), keeping the folders below ``root``; the
    package's data and the chapters' relative paths are unchanged, so run a copy from its folder with
    the package installed. Returns the written paths."""
    root = Path(root)
    out = handouts_folder(out, solutions)
    written = []
    for path in notebook_paths(root):
        target = out / (path.relative_to(root) if root.is_dir() else path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_copy(nbformat.read(path, as_version=4), solutions, checks), target)
        written.append(target)
    return written


def scaffolding_main(argv):
    command, args = argv[0], list(argv[1:])
    if command == "handouts":
        solutions = "--instructor" in args
        checks = "--keep-checks" in args
        out = None
        if "--out" in args:
            out = args[args.index("--out") + 1]
            del args[args.index("--out"):args.index("--out") + 2]
        targets = [a for a in args if not a.startswith("--")] or [str(ROOT / "book")]
        unknown = [a for a in args if a.startswith("--") and a not in {"--instructor", "--keep-checks"}]
        if unknown or (checks and not solutions):
            print(__doc__)
            return 2
        for target in targets:
            written = write_handouts(target, out, solutions, checks)
            kind = "instructor copies" + (" with the checks" if checks else "") if solutions else "student copies"
            where = handouts_folder(out, solutions)
            print(f"{len(written)} {kind} of {target} written under {where}")
        return 0
    if not args:
        print(__doc__)
        return 2
    paths = [p for target in args for p in notebook_paths(target)]
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if command == "tag":
            tagged = tag_notebook(nb)
            if nbformat.writes(tagged) != nbformat.writes(nb):
                nbformat.write(tagged, path)
                print(f"{path}: tags updated")
        else:
            problems = tag_problems(nb)
            if problems:
                stale.append(path)
                print(f"{path}:\n  " + "\n  ".join(problems))
    if stale:
        print(f"{len(stale)} notebook(s) not tagged as their content calls for: run `make tag-notebooks`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
