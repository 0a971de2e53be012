# Two commands do all set-up on a fresh machine (see README.md):
#   make book   create .venv, install, execute the notebooks, build the HTML book into _build/html
#   make test   create/use .venv, run every test: package tests, strict book build (its execution held
#               to the checked outputs), nbval under perturbed numerics, papermill
#
# torch is installed first and on its own, from TORCH_SPEC. The default (torch==2.13.0) is a
# CPU build where a local wheel is configured (as on our CI machines); on a CUDA machine pick the
# build that matches your driver, e.g.
#   make test TORCH_SPEC="torch==2.5.1" TORCH_INDEX="--index-url <PyTorch's CUDA 12.4 wheel index>"
# or create the environment from environment.yml with conda, install its CUDA pytorch, and run
#   make test VENV_PYTHON=python TORCH_SPEC=torch
# (TORCH_SPEC=torch keeps the torch installed; the default pin would replace it with the CPU build).

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
VENV_PYTHON ?= $(VENV)/bin/python
STAMP       := $(VENV)/.mslearn-installed
PYTEST_ARGS ?=

.PHONY: help install test book book-only test-package test-notebooks refresh-notebooks clean-notebooks benchmarks clean handouts handouts-instructor tag-notebooks test-browser

help:
	@echo "make book               build the executable book into _build/html (sets up .venv)"
	@echo "make test               run all tests: package, notebooks (checked outputs, papermill), book build"
	@echo "make refresh-notebooks  re-execute the notebooks and store their checked outputs"
	@echo "make benchmarks         run the speed benchmarks in benchmarks/"
	@echo "make handouts           student copies of the notebooks (no solutions, no test scaffolding) in _build/handouts/students"
	@echo "make handouts-instructor  the same with the solutions, in _build/handouts/instructors"
	@echo "make tag-notebooks      tag solutions and test scaffolding in the notebooks (after editing one)"
	@echo "make test-browser       open every page of the built book in headless Chromium (after make book)"

$(STAMP): pyproject.toml
	command -v $(VENV_PYTHON) >/dev/null || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet "$(TORCH_SPEC)" $(TORCH_INDEX)
	$(VENV_PYTHON) -m pip install --quiet -e ".[book,test]"
	@mkdir -p $(VENV) && touch $@

install: $(STAMP)

# One pytest run covers the package tests and doctests, the strict book build, which executes every
# notebook at its defaults and holds its checked cells to the stored ones under the tolerances they
# declare (tests/test_book.py), nbval over every notebook under perturbed numerics, one run per core
# (tests/test_portability.py), and papermill runs with small parameters.
test: $(STAMP)
	MPLBACKEND=Agg $(VENV_PYTHON) -m pytest tests mslearn --doctest-modules $(PYTEST_ARGS)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "Book built: open _build/html/index.html"

refresh-notebooks: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py refresh book

clean-notebooks: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py clean book

# Student copies: outputs cleared, solution dropdowns, nbval markers, tolerance lines, glue calls and
# asserted claims removed; they still run top to bottom (tests/test_handouts.py). HANDOUT_ARGS takes
# --out DIR, or --keep-checks for instructors who want the checks too.
HANDOUT_ARGS ?=
handouts: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py handouts $(HANDOUT_ARGS) book

handouts-instructor: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py handouts --instructor $(HANDOUT_ARGS) book

# Tags follow the content (check-output, claims, glue-only, claims-only + remove-cell, has-solution);
# tests/test_handouts.py fails when a notebook's tags are out of date.
tag-notebooks: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py tag book

# The built book in headless Chromium (tests/test_browser.py; part of `make test`, after the build).
test-browser: $(STAMP)
	$(VENV_PYTHON) -m pytest tests/test_browser.py $(PYTEST_ARGS)

benchmarks: $(STAMP)
	for script in benchmarks/bench_*.py; do $(VENV_PYTHON) $$script || exit 1; done

clean:
	rm -rf _build .pytest_cache
