"""Sphinx extension for the HTML book: readers do not see the notebooks' test scaffolding, and the
pages load without JavaScript errors.

The notebooks carry lines for the tests and for the prose, not for the reader (see
``tests/notebook_tools.py``): the nbval marker ``# NBVAL_CHECK_OUTPUT`` and the ``# tolerance:`` lines
of checked cells, ``glue(...)`` calls that hand numbers to the text (and ``from myst_nb import glue``),
and cells that hold nothing else but such calls or asserted claims. After myst-nb has parsed a notebook
(``doctree-read``), this extension takes those lines out of the displayed code and drops the code cells
that would be left empty and print nothing. The notebooks are not changed: the checks still run, glued
values are still pasted (myst-nb reads them from the executed notebook, not from the page), and the
asserts in cells that also compute or print stay visible, as the claims the chapter makes.

Registered in ``_config.yml`` under ``sphinx: local_extensions:``; the rules are those of
``notebook_tools.strip_code``, the same that tag the notebooks and write the student handouts.

Two fixes of the theme's pages that tests/test_browser.py found in headless Chromium:

- sphinx-thebe adds its configuration script (``const THEBE_JS_URL = ...``) twice to every page, and the
  second copy raises "Identifier 'THEBE_JS_URL' has already been declared": identical scripts are
  kept once (:func:`drop_duplicate_scripts`);
- pydata-sphinx-theme starts a first visit in mode ``""`` and logs "Got invalid theme mode" as an
  error: the page's ``default_mode`` is ``auto`` (the theme's own fallback) unless ``html_context``
  sets one.
"""
from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes

_TESTS = Path(__file__).resolve().parents[2] / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

import notebook_tools  # noqa: E402  (the shared rules, in tests/)


def displayed_source(source: str) -> str:
    """What a reader sees of a code cell: no nbval marker, tolerance lines, glue calls or glue import."""
    shown = notebook_tools.strip_code(source, glue=True, claims=False, markers=True)
    return notebook_tools._without_glue_import(shown)


def _is_code_cell(node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code"


def hide_scaffolding(app, doctree) -> None:
    for cell in list(doctree.findall(_is_code_cell)):
        inputs = [c for c in cell.children if c.get("nb_element") == "cell_code_source"]
        outputs = [c for c in cell.children if c.get("nb_element") == "cell_code_output"]
        blocks = list(inputs[0].findall(nodes.literal_block)) if inputs else []
        if not blocks:
            continue
        block = blocks[0]
        source = block.astext()
        found = notebook_tools.code_scaffolding(source)
        shown = displayed_source(source)
        if notebook_tools.is_solution_code(source):
            # collapsed by its hide-cell tag; the toggle says what it holds
            cell["prompt_show"], cell["prompt_hide"] = "Show the solution's code and output", "Hide the solution"
        if found.only or not notebook_tools._has_statements(shown):
            if outputs:                    # the code is scaffolding, what it displays is not
                cell.remove(inputs[0])
            else:
                cell.parent.remove(cell)
            continue
        if shown != source:
            block.children = [nodes.Text(shown)]
            block.rawsource = shown


def _script_key(script):
    attributes = getattr(script, "attributes", {}) or {}
    # sphinx-thebe's second copy has filename '' where the first has None
    filename = getattr(script, "filename", script) or ""
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def page_fixes(app, pagename, templatename, context, doctree) -> None:
    """The theme's default mode and :func:`drop_duplicate_scripts`."""
    context.setdefault("default_mode", "auto")
    drop_duplicate_scripts(context)


def drop_duplicate_scripts(context) -> None:
    """Keep one of each identical script in a page (same file or body, same attributes)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    if len(kept) != len(scripts):
        context["script_files"] = kept


def setup(app):
    app.connect("doctree-read", hide_scaffolding)
    # after the extensions that add scripts at this event (priority 500)
    app.connect("html-page-context", page_fixes, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
