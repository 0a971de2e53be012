"""Handouts and tags (``tests/notebook_tools.py``: ``handouts``, ``tag``, ``check-tags``).

- The rules: solution blocks in every form MyST writes them, the scaffolding lines of code cells
  (nbval marker, tolerance lines, ``glue`` calls, asserted claims), on small examples.
- Every notebook is tagged as its content calls for (``make tag-notebooks`` updates the tags).
- Solutions that compute are executed with their chapter: a code cell whose first line is
  ``# Solution ...`` computes them, and no solution block pastes code it does not run.
- Every notebook's student copy has no solution, no scaffolding and no output, and keeps everything
  else; the instructor copy keeps the solutions; ``--keep-checks`` keeps the code as it is.
- Every student copy still runs top to bottom, with papermill at the notebook's small test parameters.
"""
import ast
import os
import re

import nbformat
import papermill
import pytest

import notebook_tools as T
from notebook_tools import KERNEL_NAME, ROOT

NOTEBOOKS = T.notebook_paths()
IDS = [str(p.relative_to(ROOT / "book")) for p in NOTEBOOKS]
SOLUTION_OPEN = re.compile(r"^ {0,3}(:{3,}|`{3,})\s*\{(admonition|dropdown)\}\s*Solution|\{solution\}", re.M | re.I)


# --- the rules ---------------------------------------------------------------------------------------

EXERCISE = """**Exercise 1.** Compute it.

:::{admonition} Solution
:class: dropdown
```python
print(1)
```
It prints 1.
:::

**Exercise 2.** And this?

````{admonition} Solution to exercise 2
:class: dropdown
```python
x = 2
```
````

::::{dropdown} Solution
:::{note}
nested
:::
::::

```{solution} ex3
text
```

:::{admonition} Hint
:class: dropdown
Not a solution: it stays.
:::

## Running this notebook"""


def test_solutions_are_found_in_every_form():
    text, removed = T.split_solutions(EXERCISE)
    assert removed == 4 and len(T.solution_blocks(EXERCISE)) == 4
    assert T.solution_blocks(EXERCISE)[1].startswith("````{admonition} Solution to exercise 2")
    assert T.solution_blocks(EXERCISE)[1].endswith("x = 2\n```\n````")
    assert "Solution" not in text and "print(1)" not in text and "x = 2" not in text and "nested" not in text
    assert "**Exercise 1.** Compute it.\n\n**Exercise 2.** And this?\n\n:::{admonition} Hint" in text
    assert "Not a solution: it stays." in text and text.endswith("## Running this notebook")
    assert T.split_solutions(text) == (text, 0)
    assert T.split_solutions("no fences here\n\n\n") == ("no fences here\n\n\n", 0)


CHECKED = '''# NBVAL_CHECK_OUTPUT
# tolerance: atol=0.01 — learned models
# tolerance r2_*: rtol=1e-6 — glued values
error = compute(x)   # kept
print(f"error {error:.3f}")
assert error < 0.1, "the claim"
if check_claims:   # the prose below
    # a comment inside the block
    assert other < 1
for name, value in [("a", 1), ("b", 2)]:
    glue(name, float(value), display=False)
for k in range(3):
    print(k)
    glue(f"k_{k}", k, display=False)
    assert k < 3
glue("error", float(error),
     display=False)

table'''


def test_scaffolding_lines_are_found():
    found = T.code_scaffolding(CHECKED)
    assert found.checked and found.kinds == {"glue", "claims"} and not found.only
    stripped = T.strip_code(CHECKED)
    assert stripped == ('error = compute(x)   # kept\nprint(f"error {error:.3f}")\n'
                        'for k in range(3):\n    print(k)\n\ntable')
    # the HTML keeps the claims the chapter makes, drops the markers and the glue calls
    shown = T.strip_code(CHECKED, glue=True, claims=False)
    assert "assert error < 0.1" in shown and "if check_claims:" in shown and "glue(" not in shown
    assert "NBVAL" not in shown and "tolerance" not in shown
    assert T.strip_code(CHECKED, glue=False, claims=False, markers=False) == CHECKED


@pytest.mark.parametrize("source, only", [
    ('glue("a", 1, display=False)\nglue("b", 2, display=False)', True),
    ('for k in range(3):\n    glue(f"k{k}", k, display=False)', True),
    ('if check_claims:\n    assert a < 1', True),
    ('assert a < 1\nassert b', True),
    ('glue("a", 1); x = 2', False),                   # a statement on the same line stays
    ('x = f()\nglue("x", x, display=False)', False),
    ('%time glue("a", 1)', False),                    # not plain Python: left alone
])
def test_cells_that_are_only_scaffolding(source, only):
    assert T.code_scaffolding(source).only is only
    assert (T.strip_code(source) == "") is only
    if not only:
        assert T.strip_code(source) == source or T.strip_code(source).startswith("x = f()")


def test_tags_follow_the_content_and_are_idempotent():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(CHECKED),
        nbformat.v4.new_code_cell('glue("x", x, display=False)', metadata={"tags": ["remove-cell", "keep-me"]}),
        nbformat.v4.new_code_cell("assert x == 1"),
        nbformat.v4.new_code_cell("y = 2", metadata={"tags": ["remove-cell", "claims"]}),   # stale tags
        nbformat.v4.new_markdown_cell(EXERCISE),
        nbformat.v4.new_markdown_cell("no solution"),
        nbformat.v4.new_code_cell(SOLUTION_CELL),
        nbformat.v4.new_code_cell("z = 3", metadata={"tags": ["hide-cell"]}),   # stale: not a solution
    ])
    tagged = T.tag_notebook(nb)
    assert [c.metadata.get("tags", []) for c in tagged.cells] == [
        ["parameters"], ["check-output", "claims"], ["keep-me", "glue-only", "remove-cell"],
        ["claims", "claims-only", "remove-cell"], [], ["has-solution"], [], ["claims", "solution", "hide-cell"], []]
    assert nbformat.writes(T.tag_notebook(tagged)) == nbformat.writes(tagged)
    assert len(T.tag_problems(nb)) == 7 and T.tag_problems(tagged) == []
    assert nb.cells[1].metadata == {}, "tag_notebook works on a copy"


SOLUTION_CELL = '''# Solution to Exercise 2
hot = error(where=top)
print(f"hot-spot error {hot:.2f}")
glue("hot", float(hot), display=False)
if check_claims:
    assert hot < 0.1'''


@pytest.mark.parametrize("source, is_solution", [
    (SOLUTION_CELL, True),
    ("# NBVAL_CHECK_OUTPUT\n# tolerance: atol=0.01 — why\n\n# solution: the hot spots\nx = 1", True),
    ("x = 1  # Solution", False),
    ("# the solution of the linear system\nx = solve(a, b)", False),
    ("# Solutions are below\nx = 1", False),
])
def test_solution_cells_are_found(source, is_solution):
    assert T.is_solution_code(source) is is_solution


def test_solution_cells_are_left_out_of_student_copies():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell(EXERCISE),
        nbformat.v4.new_code_cell(SOLUTION_CELL),
    ])
    student, instructor = T.student_copy(nb), T.student_copy(nb, solutions=True)
    assert [c.source for c in student.cells if c.cell_type == "code"] == ["x = 1"]
    solution = [c.source for c in instructor.cells if c.cell_type == "code"][1]
    assert solution == '# Solution to Exercise 2\nhot = error(where=top)\nprint(f"hot-spot error {hot:.2f}")'


# a fenced code block in a solution is code the chapter does not run
PASTED_CODE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(\{code(-cell)?\}\s*)?(python|ipython3?|py)\b", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_solutions_compute_in_executed_cells(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        pasted = [b for b in T.solution_blocks(cell.source) if PASTED_CODE.search(b)]
        assert not pasted, ("a solution pastes code that the chapter does not execute: move it into a code "
                            "cell that starts with `# Solution to Exercise N` and glue the numbers it "
                            "quotes\n" + pasted[0][:400])


# --- the book's notebooks ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_tagged(path):
    problems = T.tag_problems(nbformat.read(path, as_version=4))
    assert not problems, "tags do not match the content: run `make tag-notebooks`\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_handouts_of_the_notebook(path):
    nb = nbformat.read(path, as_version=4)
    solutions = sum(len(SOLUTION_OPEN.findall(c.source)) for c in nb.cells if c.cell_type == "markdown")
    assert solutions, "the chapter's exercises have solutions"
    student = T.student_copy(nb)
    instructor = T.student_copy(nb, solutions=True)
    complete = T.student_copy(nb, solutions=True, checks=True)

    markdown = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert not SOLUTION_OPEN.search(markdown) and "{glue" not in markdown
    assert "Exercises" in markdown and "Running this notebook" in markdown
    for scaffolding in (T.CHECK_MARK, "# tolerance", "glue(", "myst_nb", "if check_claims"):
        assert scaffolding not in code, f"{scaffolding!r} left in the student copy"
    for cell in (c for c in student.cells if c.cell_type == "code"):
        assert not any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(cell.source))), cell.source
    for copy in (student, instructor, complete):
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in copy.cells if c.cell_type == "code")
        assert T.parameters_cell(copy).source == T.parameters_cell(nb).source
        assert T.student_copy(copy, solutions=True, checks=True).cells == copy.cells
    # the student copy drops only what it must: every kept code cell is its original, shortened
    originals = iter(c.source for c in nb.cells if c.cell_type == "code")
    for cell in (c for c in student.cells if c.cell_type == "code"):
        assert any(cell.source == T._without_glue_import(T.strip_code(original)) for original in originals)
    assert all(T.MANAGED_TAGS[0] not in c.metadata.get("tags", []) for c in student.cells)
    assert "mslearn" not in student.metadata

    assert sum(len(SOLUTION_OPEN.findall(c.source)) for c in instructor.cells if c.cell_type == "markdown") == solutions
    assert not any(T.is_solution_code(c.source) for c in student.cells if c.cell_type == "code")
    assert sum(T.is_solution_code(c.source) for c in instructor.cells if c.cell_type == "code") == \
        sum(T.is_solution_code(c.source) for c in nb.cells if c.cell_type == "code")
    assert [c.source for c in complete.cells] == [c.source for c in nb.cells if c.source.strip()]
    assert complete.metadata.get("mslearn") == nb.metadata.get("mslearn")


def test_handouts_command_writes_every_notebook(tmp_path):
    assert T.main(["handouts", "--out", str(tmp_path / "students")]) == 0
    assert T.main(["handouts", "--instructor", "--out", str(tmp_path / "instructors")]) == 0
    for folder in ("students", "instructors"):
        written = sorted(p.relative_to(tmp_path / folder) for p in (tmp_path / folder).rglob("*.ipynb"))
        assert written == sorted(p.relative_to(ROOT / "book") for p in NOTEBOOKS)
    assert T.main(["handouts", "--keep-checks"]) == 2, "--keep-checks only with --instructor"


# every student copy runs in about 6 minutes together; make test runs a sample of chapters that use every
# kind of scaffolding (glue-only cells, check_claims blocks, solutions), MSLEARN_ALL_HANDOUTS=1 all of them
RUN_SAMPLE = {"ml_workflow", "data", "optimization", "transfer_learning"}
RUN = NOTEBOOKS if os.environ.get("MSLEARN_ALL_HANDOUTS") == "1" else [p for p in NOTEBOOKS if p.stem in RUN_SAMPLE]


@pytest.mark.slow
@pytest.mark.parametrize("path", RUN, ids=[p.stem for p in RUN])
def test_student_copy_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    source = tmp_path / path.name
    nbformat.write(T.student_copy(nb), source)
    papermill.execute_notebook(
        str(source), str(tmp_path / f"out-{path.name}"), parameters=T.declared_test_parameters(nb),
        kernel_name=KERNEL_NAME, cwd=str(path.parent), progress_bar=False, log_output=False,
        execution_timeout=600,             # a cell that hangs fails the test instead of holding CI for ever
    )
