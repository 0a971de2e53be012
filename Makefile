# Two commands do all set-up on a fresh machine (see README.md):
#   make book   create .venv, install, execute the notebooks, build the HTML book into _build/html
#   make test   create/use .venv, run every test: package tests, notebooks (nbval with tolerances, also under
#               perturbed numerics; papermill), book build
#
# torch is installed first and on its own, from TORCH_SPEC. The default (torch==2.13.0) is a
# CPU build where a local wheel is configured (as on our CI machines); on a CUDA machine pick the
# build that matches your driver, e.g.
#   make test TORCH_SPEC="torch==2.5.1" TORCH_INDEX="--index-url <PyTorch's CUDA 12.4 wheel index>"
# or create the environment from environment.yml with conda and run `make test VENV_PYTHON=python`.

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
VENV_PYTHON ?= $(VENV)/bin/python
STAMP       := $(VENV)/.mslearn-installed
PYTEST_ARGS ?=

.PHONY: help install test book book-only test-package test-notebooks refresh-notebooks clean-notebooks benchmarks clean

help:
	@echo "make book               build the executable book into _build/html (sets up .venv)"
	@echo "make test               run all tests: package, notebooks (checked outputs, papermill), book build"
	@echo "make refresh-notebooks  re-execute the notebooks and store their checked outputs"
	@echo "make benchmarks         run the speed benchmarks in benchmarks/"

$(STAMP): pyproject.toml
	test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet "$(TORCH_SPEC)" $(TORCH_INDEX)
	$(VENV_PYTHON) -m pip install --quiet -e ".[book,test]"
	@touch $@

install: $(STAMP)

# One pytest run covers the package tests and doctests, the strict book build, nbval over every
# notebook at its defaults (checked cells compared under the tolerances they declare), the same
# nbval run under perturbed numerics (tests/test_portability.py) and papermill runs with small
# parameters.
test: $(STAMP)
	MPLBACKEND=Agg $(VENV_PYTHON) -m pytest tests mslearn book --doctest-modules --nbval-lax $(PYTEST_ARGS)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "Book built: open _build/html/index.html"

refresh-notebooks: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py refresh book

clean-notebooks: $(STAMP)
	$(VENV_PYTHON) tests/notebook_tools.py clean book

benchmarks: $(STAMP)
	for script in benchmarks/bench_*.py; do $(VENV_PYTHON) $$script || exit 1; done

clean:
	rm -rf _build .pytest_cache
